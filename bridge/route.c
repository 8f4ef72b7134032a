/*
 * route.c - the routes: which topic filters this node's sessions hold,
 * told to every other node, and which filters the other nodes hold.
 *
 * Local routes: a filter is a route while at least one local session
 * subscribes to it (counted per filter; a $share filter is a route of its
 * own, so a node with members of a group is a candidate for it). Each
 * change (the first subscription to a filter, the last one gone) bumps
 * this node's route version and goes to every node whose link is up as
 * an increment; a link that comes up gets the whole table first (resync).
 *
 * Message "$cluster/routes" (QoS 0, on our outbound link): flags (first
 * and last part of a full table), the sender's route version, then
 * records (add or remove, filter); layout in proto.h. A full table may
 * span several messages; the receiver builds it apart and swaps it in at
 * the last part, so a resync never shows a node with half of its routes.
 * The receiver answers each increment and each whole table with
 * "$cluster/ack" (QoS 0, on the same link), payload the version. A
 * malformed message changes nothing: every record and filter is checked
 * before the first is applied.
 *
 * Remote routes live in srv.subs like subscriptions, owned by the peer's
 * forward session with QoS 2 and Retain As Published, so one trie walk
 * finds local subscribers and the nodes to forward to, and a shared group
 * picks among local members and nodes with members alike.
 *
 * Read your subscription: a SUBACK that added routes waits in the ack
 * gate (gate.c, GATE_ROUTES) until every node whose link is up has
 * acknowledged the version that added them (bridge_routes_ready), or for
 * cluster_sync_timeout at most (then sent, with a warning: a message
 * published on a slow node right after may miss the subscriber). A node
 * whose link is down is not waited for; it gets the routes in the resync
 * when its link is back.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "proto.h"

#define ROUTE_CHUNK (60 * 1024) /* records per full-table message */

static struct hash *local_routes; /* filter -> count (uintptr_t) */
static uint64_t route_version;

size_t
bridge_route_count(void)
{
	return local_routes != NULL ? hash_count(local_routes) : 0;
}

uint64_t
bridge_route_version(void)
{
	return route_version;
}

static void
route_publish(struct conn *c, const char *topic, const uint8_t *payload,
    size_t len)
{
	struct mqtt_packet pkt;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PUBLISH;
	pkt.u.publish.topic.p = (const uint8_t *)topic;
	pkt.u.publish.topic.len = (uint32_t)strlen(topic);
	pkt.u.publish.payload.p = payload;
	pkt.u.publish.payload.len = (uint32_t)len;
	conn_send(c, &pkt);
}

/* A route of this node appeared or went: tell every linked node. */
static void
route_change(uint8_t op, const char *filter, uint32_t len)
{
	struct proto_routes head = { 0, 0, { NULL, 0 } };
	struct proto_route r = { op, { (const uint8_t *)filter, len } };
	uint8_t *buf;
	struct peer *peer;
	size_t i, rl;

	route_version++;
	if ((rl = proto_route_len(&r)) == 0)
		return; /* cannot be: filters come from packets */
	head.version = route_version;
	buf = xmalloc(PROTO_ROUTES_HEAD_LEN + rl);
	proto_routes_head_encode(&head, buf);
	proto_route_encode(&r, buf + PROTO_ROUTES_HEAD_LEN);
	for (i = 0; (peer = bridge_peer_at(i)) != NULL; i++) {
		if (bridge_peer_up(peer))
			route_publish(peer->out->conn, BRIDGE_TOPIC_ROUTES, buf,
			    PROTO_ROUTES_HEAD_LEN + rl);
	}
	free(buf);
}

void
bridge_route_ref(const char *filter, uint32_t len, int delta)
{
	uintptr_t n;

	if (!bridge_on())
		return;
	if (local_routes == NULL)
		local_routes = hash_new();
	n = (uintptr_t)hash_get(local_routes, filter, len);
	if (delta > 0) {
		hash_put(local_routes, filter, len, (void *)(n + 1));
		if (n == 0)
			route_change(PROTO_ROUTE_ADD, filter, len);
	} else if (n == 1) {
		hash_del(local_routes, filter, len);
		route_change(PROTO_ROUTE_DEL, filter, len);
	} else if (n > 1) {
		hash_put(local_routes, filter, len, (void *)(n - 1));
	}
}

/* --- the full table --- */

struct sync {
	struct conn *c;
	uint8_t *buf;
	size_t len, cap;
	int first;
};

static void
sync_flush(struct sync *sy, int last)
{
	struct proto_routes head = { 0, 0, { NULL, 0 } };

	head.flags = (uint8_t)((sy->first ? PROTO_ROUTES_FIRST : 0) |
	    (last ? PROTO_ROUTES_LAST : 0));
	head.version = route_version;
	proto_routes_head_encode(&head, sy->buf);
	route_publish(sy->c, BRIDGE_TOPIC_ROUTES, sy->buf, sy->len);
	sy->first = 0;
	sy->len = PROTO_ROUTES_HEAD_LEN;
}

static void
sync_one(const void *key, size_t len, void *value, void *arg)
{
	struct sync *sy = arg;
	struct proto_route r = { PROTO_ROUTE_ADD, { key, len } };
	size_t rl;

	if ((rl = proto_route_len(&r)) == 0)
		return; /* cannot be: filters come from packets */
	if (sy->len + rl > sy->cap)
		sync_flush(sy, 0);
	sy->len += proto_route_encode(&r, sy->buf + sy->len);
}

void
bridge_routes_sync(struct conn *c)
{
	struct sync sy;

	sy.c = c;
	sy.cap = PROTO_ROUTES_HEAD_LEN + ROUTE_CHUNK + PROTO_ROUTE_HEAD_LEN +
	    PROTO_FILTER_MAX;
	sy.buf = xmalloc(sy.cap);
	sy.len = PROTO_ROUTES_HEAD_LEN;
	sy.first = 1;
	if (local_routes != NULL)
		hash_foreach(local_routes, sync_one, &sy);
	sync_flush(&sy, 1);
	free(sy.buf);
}

/* --- routes of other nodes --- */

static void
route_add(struct peer *p, const char *filter, size_t len)
{
	struct trie_sub ts;
	char *copy;

	if (hash_get(p->routes, filter, len) != NULL)
		return;
	copy = xstrndup(filter, len);
	hash_put(p->routes, filter, len, copy);
	memset(&ts, 0, sizeof ts);
	ts.owner = p->out;
	ts.options = 2 | MQTT_SUBOPT_RAP;
	ts.filter = copy;
	trie_add(srv.subs, filter, len, &ts);
}

static void
route_del(struct peer *p, const char *filter, size_t len)
{
	char *copy = hash_del(p->routes, filter, len);

	if (copy == NULL)
		return;
	trie_remove(srv.subs, filter, len, p->out);
	free(copy);
}

struct filter_list {
	char **v;
	size_t n;
	const struct hash *other; /* keep only filters not in other */
};

static void
list_missing(const void *key, size_t len, void *value, void *arg)
{
	struct filter_list *l = arg;

	if (l->other != NULL && hash_get(l->other, key, len) != NULL)
		return;
	l->v[l->n++] = xstrndup(key, len);
}

/* Make p's routes those of its staging table. */
static void
route_swap(struct peer *p)
{
	struct filter_list gone, added;
	size_t i;

	gone.v = xreallocarray(NULL, hash_count(p->routes) + 1,
	    sizeof *gone.v);
	gone.n = 0;
	gone.other = p->staging;
	hash_foreach(p->routes, list_missing, &gone);
	added.v = xreallocarray(NULL, hash_count(p->staging) + 1,
	    sizeof *added.v);
	added.n = 0;
	added.other = p->routes;
	hash_foreach(p->staging, list_missing, &added);
	for (i = 0; i < gone.n; i++) {
		route_del(p, gone.v[i], strlen(gone.v[i]));
		free(gone.v[i]);
	}
	for (i = 0; i < added.n; i++) {
		route_add(p, added.v[i], strlen(added.v[i]));
		free(added.v[i]);
	}
	free(gone.v);
	free(added.v);
	hash_free(p->staging);
	p->staging = NULL;
	log_info("cluster: %zu routes of %s (%zu new, %zu gone)",
	    hash_count(p->routes), p->name, added.n, gone.n);
	bridge_routes_synced(p);
}

int
bridge_routes_apply(struct peer *p, struct conn *c, const uint8_t *data,
    uint32_t len)
{
	struct proto_routes m;
	struct proto_route r;
	struct proto_iter it;
	struct proto_ack ack;
	uint8_t wire[PROTO_ACK_LEN];
	int rc;

	if (proto_routes_decode(data, len, &m) != 0)
		return MQTT_RC_MALFORMED;
	proto_routes_iter(&m, &it);
	while ((rc = proto_routes_next(&it, &r)) == 1) {
		if (!mqtt_topic_filter_valid(r.filter.p, r.filter.len))
			return MQTT_RC_MALFORMED;
	}
	if (rc != 0)
		return MQTT_RC_MALFORMED;
	if (m.flags & PROTO_ROUTES_FIRST) {
		if (p->staging != NULL)
			hash_free(p->staging);
		p->staging = hash_new();
	}
	proto_routes_iter(&m, &it);
	while (proto_routes_next(&it, &r) == 1) {
		if (p->staging != NULL) {
			if (r.op == PROTO_ROUTE_ADD)
				hash_put(p->staging, r.filter.p, r.filter.len,
				    p);
			else
				hash_del(p->staging, r.filter.p, r.filter.len);
		} else if (r.op == PROTO_ROUTE_ADD) {
			route_add(p, (const char *)r.filter.p, r.filter.len);
		} else {
			route_del(p, (const char *)r.filter.p, r.filter.len);
		}
	}
	p->version = m.version;
	if (p->staging != NULL && !(m.flags & PROTO_ROUTES_LAST))
		return 0; /* acknowledged once whole */
	if (p->staging != NULL)
		route_swap(p);
	ack.version = m.version;
	proto_ack_encode(&ack, wire);
	route_publish(c, BRIDGE_TOPIC_ACK, wire, sizeof wire);
	return 0;
}

void
bridge_routes_drop(struct peer *p)
{
	struct filter_list all;
	size_t i;

	all.v = xreallocarray(NULL, hash_count(p->routes) + 1,
	    sizeof *all.v);
	all.n = 0;
	all.other = NULL;
	hash_foreach(p->routes, list_missing, &all);
	for (i = 0; i < all.n; i++) {
		route_del(p, all.v[i], strlen(all.v[i]));
		free(all.v[i]);
	}
	free(all.v);
}

/* --- SUBACKs waiting for the routes (in the ack gate, gate.c) --- */

int
bridge_routes_ready(uint64_t version)
{
	struct peer *p;
	size_t i;

	/* A node that stopped answering its link is not waited for, as
	 * one whose link is down: it gets the routes when it wakes. */
	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		if (bridge_peer_live(p) && p->acked < version)
			return 0;
	}
	return 1;
}

int
bridge_routes_all_acked(uint64_t version)
{
	struct peer *p;
	size_t i;

	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		if (p->acked < version)
			return 0;
	}
	return 1;
}

void
bridge_routes_acked(struct peer *p, uint64_t version)
{
	if (version > p->acked)
		p->acked = version;
	gate_routes_acked();
	bridge_handover_check();
}

void
bridge_routes_free(void)
{
	if (local_routes != NULL)
		hash_free(local_routes);
	local_routes = NULL;
	route_version = 0;
}
