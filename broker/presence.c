/*
 * presence.c - online and offline as retained messages (the
 * instant-messaging part of tern; tern.conf(5), "Presence").
 *
 * With presence_topic set, the node that holds a client's session
 * publishes, retained at QoS 1, on the pattern with %c and %u replaced
 *   {"status":"online","client_id":..,"user":..,"node":..,"at":<unix ms>}
 * when the client connects (handle_connect.c, once its CONNACK is
 * queued), and the same with "status":"offline" and a "reason" when it
 * goes (conn_close): "disconnect" (its DISCONNECT), "timeout" (keep
 * alive), "taken_over" (a new connection of its id that does not take
 * up its presence: see below) or "closed" (anything else: the socket
 * went, a protocol error).
 *
 * Debounce. The offline waits presence_debounce seconds on a timer kept
 * per client id (pending, a hash on the id), not per session: a session
 * may end with its connection and a new one be made for the reconnect.
 * A CONNECT of that id within the window cancels the timer and publishes
 * nothing, so its contacts keep seeing the online they saw: a phone on
 * a weak network that reconnects every few seconds never flaps. That
 * also covers a takeover on this node: the old connection closes (the
 * timer starts) before the new one is attached (and cancels it).
 *
 * Whose presence: a session that outlives its connection
 * (s->persistent), or every client with presence_clients all. Whether
 * the online was published (or a pending offline taken up) is kept on
 * the session (presence_on), so an offline goes only after an online,
 * whatever the DISCONNECT then says about the session's expiry. A
 * connection that is not followed (presence_clients persistent, a clean
 * one with no expiry) leaves a pending offline of its id as it is: the
 * client that was shown online is gone, and that is "taken_over".
 *
 * The broker publishes as itself: no session is the publisher (so No
 * Local removes no subscriber), and the client's ACL write right is not
 * asked for (it did not choose the topic or the payload; it could not
 * make its contacts see it offline if a deployment forgot to give it
 * write). Readers pass the ACL as for any message: a subscriber gets a
 * presence message only if it may read the topic (deliver.c). The
 * message is retained (within the retained bounds, retain_room, as a
 * will), routed, stored and forwarded to other nodes as any other.
 *
 * In a cluster (docs/ARCHITECTURE.md, "Presence"): a claim from another
 * node drops the offline that waits here (presence_claimed), and every
 * message carries its order, PRESENCE_PROP: the claim id of the
 * connection, twice, plus one for an offline. A message older than the
 * retained one of its topic is dropped (presence_stale, and
 * presence_publish for our own), so a late offline from a node that was
 * cut off never undoes a later online from elsewhere.
 *
 * Restarts: a node that stops drops its pending offlines, and one that
 * is killed has none; at start-up presence_init arms the offline of each
 * stored session it had shown online (reason "restart").
 */
#include "config.h"

#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "hash.h"

#define PRESENCE_ONLINE "{\"status\":\"online\","

/* An offline that waits for its debounce. */
struct presence_wait {
	struct event *timer;
	char *client_id;
	size_t id_len;
	char *user; /* NULL: none */
	size_t user_len;
	uint8_t reason; /* enum conn_end */
	uint64_t claim; /* the claim of the connection that went */
};

static struct hash *pending; /* client id -> struct presence_wait */

static void
presence_wait_free(struct presence_wait *w)
{
	event_free(w->timer);
	free(w->client_id);
	free(w->user);
	free(w);
}

/* 1 when s's presence is published (presence_clients). */
static int
presence_followed(const struct session *s)
{
	return srv.cfg.presence_all || s->persistent;
}

/* The topic for this client: the pattern with %c and %u replaced. NULL
 * when that is no topic a client could publish to (a client id with '+'
 * or '#', or too deep or long). */
static char *
presence_topic(const char *id, size_t id_len, const char *user,
    size_t user_len, uint32_t *len)
{
	const char *p;
	char *t, *o;
	size_t cap = 1;

	for (p = srv.cfg.presence_topic; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'c')
			cap += id_len, p++;
		else if (p[0] == '%' && p[1] == 'u')
			cap += user_len, p++;
		else
			cap++;
	}
	o = t = xmalloc(cap);
	for (p = srv.cfg.presence_topic; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'c') {
			memcpy(o, id, id_len);
			o += id_len, p++;
		} else if (p[0] == '%' && p[1] == 'u') {
			if (user_len > 0)
				memcpy(o, user, user_len);
			o += user_len, p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	*len = (uint32_t)(o - t);
	if (*len > srv.cfg.max_topic_length ||
	    !mqtt_topic_name_valid((const uint8_t *)t, *len) ||
	    !mqtt_utf8_valid((const uint8_t *)t, *len) ||
	    !topic_depth_ok((const uint8_t *)t, *len)) {
		free(t);
		return NULL;
	}
	return t;
}

/* The order of presence message m (PRESENCE_PROP); 0 when it has none
 * (a lone node's, or a client's). */
static uint64_t
presence_order(const struct msg *m)
{
	struct mqtt_str v;
	uint64_t n = 0;
	uint32_t i;

	if (m == NULL || !msg_user_get(m, PRESENCE_PROP, &v) || v.len == 0 ||
	    v.len > 20)
		return 0;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9' ||
		    n > (UINT64_MAX - (uint64_t)(v.p[i] - '0')) / 10)
			return 0;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	return n;
}

int
presence_stale(const struct msg *m)
{
	uint64_t order;

	if (!m->retain || m->user_len == 0 ||
	    (order = presence_order(m)) == 0)
		return 0;
	return presence_order(retain_find(m->topic, m->topic_len)) > order;
}

/* Publish the retained presence of a client; reason < 0: online. claim:
 * that of the connection it is about (0: none, a lone node). */
static void
presence_publish(const char *id, size_t id_len, const char *user,
    size_t user_len, int reason, uint64_t claim)
{
	struct mqtt_props props;
	struct mqtt_str payload, wire, *wp = NULL;
	struct timeval tv;
	struct msg *m;
	const char *node = srv.cfg.node_name;
	char *topic, *buf, *p;
	uint8_t ubuf[64];
	uint32_t tlen;
	uint64_t order = 0;
	unsigned long long ms;
	int n;

	topic = presence_topic(id, id_len, user, user_len, &tlen);
	if (topic == NULL) {
		log_debug("presence of %.*s not published: the topic would not "
		    "be valid", (int)id_len, id);
		return;
	}
	/* Claim ids grow along the moves of a session (a claim older than
	 * the connection it would take is refused): the later connection's
	 * presence is the later one, whatever order the nodes read them
	 * in. Its online comes before its own offline. */
	if (claim != 0 && claim < UINT64_MAX / 2) {
		order = claim * 2 + (reason >= 0);
		if (presence_order(retain_find(topic, tlen)) > order) {
			log_info("presence of %.*s: %s not published, the "
			    "client is back on another node", (int)id_len, id,
			    reason < 0 ? "online" : "offline");
			free(topic);
			return;
		}
		n = snprintf((char *)ubuf + 5 + sizeof PRESENCE_PROP - 1,
		    sizeof ubuf - 5 - (sizeof PRESENCE_PROP - 1), "%llu",
		    (unsigned long long)order);
		ubuf[0] = MQTT_PROP_USER;
		ubuf[1] = 0;
		ubuf[2] = sizeof PRESENCE_PROP - 1;
		memcpy(ubuf + 3, PRESENCE_PROP, sizeof PRESENCE_PROP - 1);
		ubuf[3 + sizeof PRESENCE_PROP - 1] = 0;
		ubuf[4 + sizeof PRESENCE_PROP - 1] = (uint8_t)n;
		wire.p = ubuf;
		wire.len = (uint32_t)(5 + sizeof PRESENCE_PROP - 1 + n);
		wp = &wire;
	}
	gettimeofday(&tv, NULL);
	ms = (unsigned long long)tv.tv_sec * 1000 +
	    (unsigned long long)tv.tv_usec / 1000;
	p = buf = xmalloc(160 + 6 * (id_len + user_len +
	    (node != NULL ? strlen(node) : 0)));
	p += sprintf(p, "{\"status\":\"%s\",\"client_id\":",
	    reason < 0 ? "online" : "offline");
	/* (PRESENCE_ONLINE and presence_init know this layout.) */
	p = receipt_json_str(p, id, id_len);
	p += sprintf(p, ",\"user\":");
	if (user != NULL)
		p = receipt_json_str(p, user, user_len);
	else
		p += sprintf(p, "null");
	p += sprintf(p, ",\"node\":");
	if (node != NULL)
		p = receipt_json_str(p, node, strlen(node));
	else
		p += sprintf(p, "null");
	p += sprintf(p, ",\"at\":%llu", ms);
	if (reason >= 0)
		p += sprintf(p, ",\"reason\":\"%s\"", conn_end_name(reason));
	*p++ = '}';

	msg_json_props(&props);
	payload.p = (const uint8_t *)buf;
	payload.len = (uint32_t)(p - buf);
	m = msg_from_parts(&props, wp, (const uint8_t *)topic, tlen,
	    payload, 1, 1);
	free(buf);
	free(topic);
	log_info("presence of %.*s: %s%s%s", (int)id_len, id,
	    reason < 0 ? "online" : "offline", reason < 0 ? "" : ", ",
	    reason < 0 ? "" : conn_end_name(reason));
	if (retain_room(m->topic, m->topic_len, msg_size(m), 0))
		retain_store(m);
	deliver_route(m, NULL);
	/* Nobody's ack waits for presence's room (as a receipt). */
	deliver_take_blocker();
	msg_unref(m);
}

static void
presence_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct presence_wait *w = arg;

	hash_del(pending, w->client_id, w->id_len);
	presence_publish(w->client_id, w->id_len, w->user, w->user_len,
	    w->reason, w->claim);
	presence_wait_free(w);
}

/* s's offline, for reason, after the debounce (at once without one).
 * claim: that of the connection that went. */
static void
presence_arm(const struct session *s, int reason, uint64_t claim)
{
	struct presence_wait *w, *old;
	struct timeval tv;

	if (srv.cfg.presence_debounce == 0) {
		presence_publish(s->client_id, s->id_len, s->username,
		    s->username != NULL ? strlen(s->username) : 0, reason,
		    claim);
		return;
	}
	if (pending == NULL)
		pending = hash_new();
	w = xcalloc(1, sizeof *w);
	w->client_id = xmalloc(s->id_len + 1);
	memcpy(w->client_id, s->client_id, s->id_len + 1);
	w->id_len = s->id_len;
	if (s->username != NULL) {
		w->user = xstrdup(s->username);
		w->user_len = strlen(s->username);
	}
	w->reason = (uint8_t)reason;
	w->claim = claim;
	w->timer = evtimer_new(srv.base, presence_timer_cb, w);
	tv.tv_sec = srv.cfg.presence_debounce;
	tv.tv_usec = 0;
	evtimer_add(w->timer, &tv);
	old = hash_put(pending, w->client_id, w->id_len, w);
	if (old != NULL)
		presence_wait_free(old);
}

void
presence_online(struct conn *c, struct session *s)
{
	struct presence_wait *w;

	s->presence_on = 0;
	if (srv.cfg.presence_topic == NULL || c->link != LINK_NONE ||
	    session_cl(s)->peer != NULL || session_cl(s)->cluster_in ||
	    !presence_followed(s))
		return;
	s->presence_on = 1;
	if (pending != NULL &&
	    (w = hash_del(pending, s->client_id, s->id_len)) != NULL) {
		/* Back within the debounce: its contacts saw nothing. */
		log_debug("presence of %s: back within %u s, nothing "
		    "published", s->client_id, srv.cfg.presence_debounce);
		presence_wait_free(w);
		return;
	}
	presence_publish(s->client_id, s->id_len, s->username,
	    s->username != NULL ? strlen(s->username) : 0, -1,
	    conn_ax(c)->claim_won);
}

void
presence_gone(struct conn *c, struct session *s, uint8_t rc)
{
	if (!s->presence_on)
		return;
	s->presence_on = 0;
	/* (presence_topic none since a SIGHUP: nothing is published.) */
	if (srv.shutting_down || srv.cfg.presence_topic == NULL)
		return;
	presence_arm(s, conn_end_reason(c, rc), conn_ax(c)->claim_won);
}

void
presence_claimed(const char *id, size_t id_len, const char *user,
    size_t ulen, int user_known)
{
	struct presence_wait *w;

	if (pending == NULL || (w = hash_get(pending, id, id_len)) == NULL)
		return;
	/* Another user's client with that id: its presence is not this
	 * one's (session_owner_only decides whether it gets the session). */
	if (user_known && (user == NULL ? w->user != NULL : w->user == NULL ||
	    w->user_len != ulen || memcmp(w->user, user, ulen) != 0))
		return;
	hash_del(pending, id, id_len);
	log_debug("presence of %.*s: claimed by another node within %u s, "
	    "no offline", (int)id_len, id, srv.cfg.presence_debounce);
	presence_wait_free(w);
}

/* Start-up: a session whose retained presence is an online of this
 * node, and that is not connected here, was online when the node
 * stopped (or was killed) and nobody said it went: its offline, with
 * reason "restart", after the debounce, unless it connects again (here,
 * or on another node that claims it) before then. The offline follows
 * that online in order: it loses to a later online from elsewhere. */
static void
presence_sweep_cb(const void *key, size_t len, void *value, void *arg)
{
	const char *mark = arg;
	struct session *s = value;
	const struct msg *r;
	char *topic;
	uint32_t tlen;

	if (s->conn != NULL || session_cl(s)->peer != NULL ||
	    session_cl(s)->cluster_in ||
	    s->client_id[0] == '$' || !presence_followed(s))
		return;
	topic = presence_topic(s->client_id, s->id_len, s->username,
	    s->username != NULL ? strlen(s->username) : 0, &tlen);
	if (topic == NULL)
		return;
	r = retain_find(topic, tlen);
	free(topic);
	if (r == NULL || r->payload_len < sizeof PRESENCE_ONLINE - 1 ||
	    memcmp(r->payload, PRESENCE_ONLINE, sizeof PRESENCE_ONLINE - 1) !=
	    0 || memmem(r->payload, r->payload_len, mark, strlen(mark)) ==
	    NULL)
		return;
	log_debug("presence of %s: online when the node stopped",
	    s->client_id);
	presence_arm(s, CONN_END_RESTART, presence_order(r) / 2);
}

void
presence_init(void)
{
	const char *node = srv.cfg.node_name;
	char *mark, *p;

	if (srv.cfg.presence_topic == NULL)
		return;
	p = mark = xmalloc(32 + 6 * (node != NULL ? strlen(node) : 0));
	p += sprintf(p, ",\"node\":");
	if (node != NULL)
		p = receipt_json_str(p, node, strlen(node));
	else
		p += sprintf(p, "null");
	sprintf(p, ",\"at\":");
	hash_foreach(srv.sessions, presence_sweep_cb, mark);
	free(mark);
}

void
presence_reload(const struct config *old)
{
	size_t n = pending != NULL ? hash_count(pending) : 0;

	if (srv.cfg.presence_topic != NULL || old->presence_topic == NULL)
		return;
	if (n > 0)
		log_notice("presence_topic none: %zu offline%s waiting for "
		    "presence_debounce not published", n, n == 1 ? "" : "s");
	presence_free_all();
}

static void
presence_free_cb(const void *key, size_t len, void *value, void *arg)
{
	presence_wait_free(value);
}

void
presence_free_all(void)
{
	if (pending == NULL)
		return;
	hash_foreach(pending, presence_free_cb, NULL);
	hash_free(pending);
	pending = NULL;
}
