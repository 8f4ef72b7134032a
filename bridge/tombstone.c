/*
 * tombstone.c - a forwarding address for a session that moved away.
 *
 * When a session has moved from this node to node B (takeover.c), other
 * nodes still send messages here for it for a while: those already in
 * their forward queues to us (a link that is slow, stalled or cut keeps
 * them for as long as it lasts), and those routed by a route table that
 * has not yet heard of the move. Dropped, each would be a message
 * acknowledged to its publisher and never delivered.
 *
 * So the session leaves the session table and the store, and stays in
 * the trie with its plain subscriptions as a tombstone
 * (session_retire): a message from anywhere that matches it is passed on
 * to B for that session (bridge_redirect: the moved-message properties
 * with seq 0), in B's forward queue, which is durable. B delivers it to
 * the session unless the session had it already by identity (B's own
 * route brought it too); where the session moved on from B, B's
 * tombstone passes it on again.
 *
 * Make before break: the tombstone keeps this node's routes for its
 * filters, so that a third node that has not yet heard B's routes
 * (announced when the session arrives there, after it left here) still
 * has one, until B says that every node it hears has applied them:
 * "$cluster/routed" (takeover.c, bridge_handover_check), on a link of
 * protocol 2. Then the routes go (session_routes_drop). When that word
 * does not come (B down, or its link to us) they go after
 * TOMBSTONE_ROUTE_MAX_MS; a node of protocol 1 never sends it, and its
 * tombstones hold their routes TOMBSTONE_ROUTE_MS. The tombstone stays
 * TOMBSTONE_SECS after the last message it passed on. It goes at once when a session of that id is made here
 * again (session_new), and at shutdown: it is not stored, so messages
 * that come after a restart of this node find no tombstone.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

#define TOMBSTONE_ROUTE_MS 5000
#define TOMBSTONE_ROUTE_MAX_MS 30000
#define TOMBSTONE_SECS 120

struct tombstone {
	struct session *s;
	struct peer *to;
	uint64_t claim; /* of the move that made it */
	struct event *timer;
	time_t used; /* last message passed on */
};

static struct hash *tombstones; /* client id -> struct tombstone */

static void
tombstone_free(struct tombstone *t)
{
	hash_del(tombstones, t->s->client_id, t->s->id_len);
	event_free(t->timer);
	session_free(t->s);
	free(t);
}

static void
tombstone_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tombstone *t = arg;
	struct timeval tv = { 0, 0 };
	time_t now = time(NULL);

	if (t->s->tombstone == SESSION_TOMBSTONE_ROUTED) {
		session_routes_drop(t->s);
		tv.tv_sec = TOMBSTONE_SECS;
	} else if (now - t->used < TOMBSTONE_SECS) {
		tv.tv_sec = TOMBSTONE_SECS - (now - t->used);
	} else {
		log_debug("forwarding address of %s to %s dropped",
		    t->s->client_id, t->to->name);
		tombstone_free(t);
		return;
	}
	evtimer_add(t->timer, &tv);
}

void
bridge_tombstone_make(struct session *s, struct peer *to)
{
	struct tombstone *t;
	struct timeval tv;
	uint32_t ms;

	if (tombstones == NULL)
		tombstones = hash_new();
	if ((t = hash_get(tombstones, s->client_id, s->id_len)) != NULL)
		tombstone_free(t); /* cannot be: the id had a session */
	session_retire(s);
	t = xcalloc(1, sizeof *t);
	t->s = s;
	t->to = to;
	t->claim = session_cl(s)->move_claim;
	t->used = time(NULL);
	t->timer = evtimer_new(srv.base, tombstone_timer_cb, t);
	hash_put(tombstones, s->client_id, s->id_len, t);
	/* B's link to us says whether B will hand the routes over. */
	ms = to->link_in != NULL && conn_ax(to->link_in)->link_proto >= 2 ?
	    TOMBSTONE_ROUTE_MAX_MS : TOMBSTONE_ROUTE_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(t->timer, &tv);
}

void
bridge_tombstone_routed(const struct peer *from, uint64_t claim,
    const char *id, size_t len)
{
	struct tombstone *t;
	struct timeval tv = { TOMBSTONE_SECS, 0 };

	if (tombstones == NULL ||
	    (t = hash_get(tombstones, id, len)) == NULL || t->to != from ||
	    t->claim != claim || t->s->tombstone != SESSION_TOMBSTONE_ROUTED)
		return;
	log_debug("routes of %s handed over to %s", t->s->client_id,
	    from->name);
	session_routes_drop(t->s);
	evtimer_del(t->timer);
	evtimer_add(t->timer, &tv);
}

void
bridge_tombstone_drop(const char *id, size_t len)
{
	struct tombstone *t;

	if (tombstones != NULL && (t = hash_get(tombstones, id, len)) != NULL)
		tombstone_free(t);
}

/* Tombstones matched by a message published here: passed on in
 * bridge_forward, unless the message goes to their node anyway (a plain
 * route of it matched: its trie then finds the session there). */
struct pending {
	struct session *s;
	uint8_t qos, retain, n_sub_ids;
	uint32_t sub_ids[32];
};

static struct pending *pending;
static size_t n_pending, cap_pending;

static void
tombstone_pass_now(struct tombstone *t, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids)
{
	log_debug("message on %s for %s passed on to %s", m->topic,
	    t->s->client_id, t->to->name);
	t->used = time(NULL);
	bridge_redirect(t->s, t->to, m, qos, retain, sub_ids, n_sub_ids);
}

unsigned
bridge_tombstone_route(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids,
    const struct session *from)
{
	struct tombstone *t = hash_get(tombstones, s->client_id, s->id_len);
	int local = from == NULL || !session_cl(from)->cluster_in;
	struct pending *pd;

	if (t == NULL)
		return 0;
	/* Also back to the node it came from: that node may have routed it
	 * before the session reached it. (So a No Local subscriber of the
	 * session can get its own message back this way: a known gap.) */
	if (!local) {
		tombstone_pass_now(t, m, qos, retain, sub_ids, n_sub_ids);
		return 1;
	}
	if (n_pending == cap_pending) {
		cap_pending = cap_pending ? cap_pending * 2 : 4;
		pending = xreallocarray(pending, cap_pending, sizeof *pending);
	}
	pd = &pending[n_pending++];
	pd->s = s;
	pd->qos = qos;
	pd->retain = retain;
	pd->n_sub_ids = n_sub_ids < 32 ? n_sub_ids : 32;
	memcpy(pd->sub_ids, sub_ids, pd->n_sub_ids * sizeof *sub_ids);
	return 1;
}

void
bridge_tombstone_flush(struct msg *m, int send)
{
	struct tombstone *t;
	size_t i;

	for (i = 0; send && i < n_pending; i++) {
		t = hash_get(tombstones, pending[i].s->client_id,
		    pending[i].s->id_len);
		if (t == NULL || (t->to->fwd_listed && t->to->fwd_plain))
			continue;
		tombstone_pass_now(t, m, pending[i].qos, pending[i].retain,
		    pending[i].sub_ids, pending[i].n_sub_ids);
	}
	n_pending = 0;
}

unsigned
bridge_tombstone_pass(const char *id, size_t len, struct msg *m,
    uint8_t qos, uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids)
{
	struct tombstone *t;

	if (tombstones == NULL ||
	    (t = hash_get(tombstones, id, len)) == NULL) {
		log_info("message on %s for %.*s, which is not here: dropped",
		    m->topic, (int)len, id);
		return 0;
	}
	tombstone_pass_now(t, m, qos, retain, sub_ids, n_sub_ids);
	return 1;
}

struct peer *
bridge_tombstone_to(const char *id, size_t len)
{
	struct tombstone *t;

	if (tombstones == NULL || (t = hash_get(tombstones, id, len)) == NULL)
		return NULL;
	return t->to;
}

size_t
bridge_tombstone_count(void)
{
	return tombstones != NULL ? hash_count(tombstones) : 0;
}

static void
tombstone_collect(const void *key, size_t len, void *value, void *arg)
{
	struct tombstone ***pp = arg;

	*(*pp)++ = value;
}

void
bridge_tombstone_free_all(void)
{
	struct tombstone **all, **p;
	size_t i, n;

	if (tombstones == NULL)
		return;
	n = hash_count(tombstones);
	all = p = xreallocarray(NULL, n + 1, sizeof *all);
	hash_foreach(tombstones, tombstone_collect, &p);
	for (i = 0; i < n; i++)
		tombstone_free(all[i]);
	free(all);
	hash_free(tombstones);
	tombstones = NULL;
	free(pending);
	pending = NULL;
	n_pending = cap_pending = 0;
}
