/*
 * events.c - $events/: what happens to clients, told to back-ends (the
 * instant-messaging part of tern; tern.conf(5), "Events").
 *
 * Four topics, published by the node where it happens, at QoS 1, not
 * retained, each a JSON object with Payload Format Indicator 1 and
 * Content Type application/json that begins
 *   {"event":..,"node":..,"client_id":..,"user":..,"peer":..,"at":<unix ms>
 *   $events/client/connected     a CONNECT accepted (handle_connect.c)
 *   $events/client/disconnected  its connection ended (conn_close), the
 *                                reason named as presence.c names it
 *                                (conn_end_reason)
 *   $events/session/taken_over   a new connection of its client id took
 *                                its session: here, or a claim from
 *                                another node (bridge/takeover.c)
 *   $events/message/dropped      messages lost or refused, per client and
 *                                reason, with the count (deliver.c,
 *                                handle_publish.c)
 *
 * QoS 1: a back-end with a persistent session gets what happened while
 * it was away (within its queue's bounds), and the copies forwarded to
 * other nodes are acknowledged on the links. Not retained: an event is a
 * moment, not a state (presence_topic keeps the state).
 *
 * Who reads them. As $SYS/: a wildcard first level does not match
 * $events/ (MQTT-4.7.2-1, trie.c and acl.c), no client may publish there
 * (handle_publish.c) nor leave a will there (handle_connect.c), and a
 * subscription to a filter under $events needs acl_file and a rule that
 * grants it (handle_subscribe.c): without acl_file nobody gets one, and
 * deliver.c keeps events from a session that holds such a subscription
 * from an older version. Unlike $SYS/ they are stored and forwarded like
 * any message: a back-end on one node hears about every node.
 *
 * Cost. Nothing is built unless some filter in the subscription trie
 * begins with $events (a local subscription, or another node's route:
 * both live in srv.subs), one lookup at the root (trie_has_first). A
 * node nobody asks events of pays that lookup per connect, close and
 * drop, and nothing else.
 *
 * Never routed where it happens: conn_close may run inside a fan-out
 * (deliver_route's match list is static), and drops happen inside one.
 * So connected, disconnected and taken_over are written at once (what
 * they say is true then) and routed from a zero-delay timer on the next
 * loop pass, in order. Drops are counted per (client id, reason) and
 * published when EVENTS_WINDOW_MS have passed since the first of the
 * window: one event per pair with its count, so a flood of drops is a
 * handful of messages a second. The pairs of one window are bounded
 * (EVENTS_DROP_KEYS, and EVENTS_DROP_BYTES of ids); past that a drop is
 * counted for its reason alone, and told with client_id null. A drop of
 * an $events/ message is not counted: a back-end whose queue is full
 * would be told so, in its full queue, for ever.
 */
#include "config.h"

#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "hash.h"

#define EVENTS_FIRST "$events"
#define EVENTS_CONNECTED "$events/client/connected"
#define EVENTS_DISCONNECTED "$events/client/disconnected"
#define EVENTS_TAKEN_OVER "$events/session/taken_over"
#define EVENTS_DROPPED "$events/message/dropped"

#define EVENTS_WINDOW_MS 1000
#define EVENTS_DROP_KEYS 1024
#define EVENTS_DROP_BYTES (1024 * 1024)

static const char *const drop_names[EVENTS_DROP_N] = {
	"queue_full", "expired", "too_large", "output_full",
	"not_authorized", "rate_limited", "quota_exceeded"
};

const char *
events_drop_name(enum events_drop reason)
{
	return drop_names[reason];
}

/* An event written, waiting for the next pass to be routed. */
struct event_out {
	TAILQ_ENTRY(event_out) entry;
	const char *topic;
	size_t len;
	char json[];
};
TAILQ_HEAD(event_out_list, event_out);

/* Drops of one (client id, reason) in the current window. */
struct drop_count {
	char *client_id;
	size_t id_len;
	char *user; /* NULL: none */
	char *peer; /* NULL: offline */
	uint64_t count;
	uint8_t reason; /* enum events_drop */
};

static struct event_out_list queued = TAILQ_HEAD_INITIALIZER(queued);
static struct event *send_ev; /* zero delay: route what is queued */
static struct event *drop_ev; /* the end of the drops' window */
static struct hash *drops; /* reason byte + client id -> drop_count */
static size_t drop_bytes;
static uint64_t drop_over[EVENTS_DROP_N]; /* past the bounds */

int
events_topic(const char *topic, size_t len)
{
	return len >= sizeof EVENTS_FIRST &&
	    memcmp(topic, EVENTS_FIRST "/", sizeof EVENTS_FIRST) == 0;
}

int
events_filter(const uint8_t *filter, uint32_t len)
{
	struct mqtt_str inner;

	if (mqtt_topic_shared(filter, len, NULL, &inner)) {
		if (inner.p == NULL)
			return 0;
		filter = inner.p;
		len = inner.len;
	}
	return len >= sizeof EVENTS_FIRST - 1 &&
	    memcmp(filter, EVENTS_FIRST, sizeof EVENTS_FIRST - 1) == 0 &&
	    (len == sizeof EVENTS_FIRST - 1 ||
	    filter[sizeof EVENTS_FIRST - 1] == '/');
}

/* 1 when someone may get an event: a filter under $events, here or on
 * another node (its routes are in srv.subs too). */
static int
events_wanted(void)
{
	return srv.cfg.events && !srv.shutting_down && srv.subs != NULL &&
	    trie_has_first(srv.subs, EVENTS_FIRST, sizeof EVENTS_FIRST - 1);
}

/* Room for the common fields and extra more bytes. */
static size_t
events_cap(size_t id_len, const char *user, const char *peer, size_t extra)
{
	const char *node = srv.cfg.node_name;

	return 128 + extra + 6 * (id_len +
	    (user != NULL ? strlen(user) : 0) +
	    (peer != NULL ? strlen(peer) : 0) +
	    (node != NULL ? strlen(node) : 0));
}

/* s as a JSON string at p, or null. */
static char *
events_str(char *p, const char *s, size_t len)
{
	if (s == NULL)
		return p + sprintf(p, "null");
	return receipt_json_str(p, s, len);
}

/* The fields every event begins with, at p; returns the end. */
static char *
events_head(char *p, const char *event, const char *id, size_t id_len,
    const char *user, const char *peer)
{
	const char *node = srv.cfg.node_name;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	p += sprintf(p, "{\"event\":\"%s\",\"node\":", event);
	p = events_str(p, node, node != NULL ? strlen(node) : 0);
	p += sprintf(p, ",\"client_id\":");
	p = events_str(p, id, id_len);
	p += sprintf(p, ",\"user\":");
	p = events_str(p, user, user != NULL ? strlen(user) : 0);
	p += sprintf(p, ",\"peer\":");
	p = events_str(p, peer, peer != NULL ? strlen(peer) : 0);
	p += sprintf(p, ",\"at\":%llu", (unsigned long long)tv.tv_sec * 1000 +
	    (unsigned long long)tv.tv_usec / 1000);
	return p;
}

/* Route one event now (from a timer: never inside a fan-out). */
static void
events_publish(const char *topic, const char *json, size_t len)
{
	struct mqtt_props props;
	struct mqtt_str payload;
	struct msg *m;

	msg_json_props(&props);
	payload.p = (const uint8_t *)json;
	payload.len = (uint32_t)len;
	m = msg_from_parts(&props, NULL, (const uint8_t *)topic,
	    (uint32_t)strlen(topic), payload, 1, 0);
	deliver_route(m, NULL);
	/* Nobody's ack waits for an event's room (as for presence). */
	deliver_take_blocker();
	msg_unref(m);
}

static void
events_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_out *e;

	/* Routing may close connections, which queue more: they go too. */
	while ((e = TAILQ_FIRST(&queued)) != NULL) {
		TAILQ_REMOVE(&queued, e, entry);
		events_publish(e->topic, e->json, e->len);
		free(e);
	}
}

static struct event_out *
events_new(const char *topic, size_t cap)
{
	struct event_out *e = xmalloc(sizeof *e + cap);

	e->topic = topic;
	e->len = 0;
	return e;
}

/* e, written up to end (the closing brace included), goes out on the
 * next pass. */
static void
events_queue(struct event_out *e, char *end)
{
	struct timeval zero = { 0, 0 };

	e->len = (size_t)(end - e->json);
	TAILQ_INSERT_TAIL(&queued, e, entry);
	if (send_ev == NULL)
		send_ev = evtimer_new(srv.base, events_send_cb, NULL);
	if (!evtimer_pending(send_ev, NULL))
		evtimer_add(send_ev, &zero);
}

/* 1 when s is a client's session (not a node's forward queue or link). */
static int
events_client(const struct session *s)
{
	return session_cl(s)->peer == NULL && !session_cl(s)->cluster_in;
}

void
events_connected(const struct conn *c, const struct session *s,
    int clean_start, int present)
{
	struct event_out *e;
	char *p;

	if (c->link != LINK_NONE || !events_client(s) || !events_wanted())
		return;
	e = events_new(EVENTS_CONNECTED, events_cap(s->id_len, s->username,
	    conn_peer(c), 160));
	p = events_head(e->json, "connected", s->client_id, s->id_len,
	    s->username, conn_peer(c));
	p += sprintf(p, ",\"protocol\":\"%s\",\"clean_start\":%s,"
	    "\"keep_alive\":%u,\"session_present\":%s,"
	    "\"session_expiry\":%lu}", c->version == MQTT_V5 ? "5" :
	    c->version == MQTT_V311 ? "3.1.1" : "3.1",
	    clean_start ? "true" : "false", (unsigned)c->keep_alive,
	    present ? "true" : "false",
	    (unsigned long)(s->persistent ? s->expiry : 0));
	events_queue(e, p);
}

void
events_disconnected(const struct conn *c, const struct session *s,
    uint8_t rc)
{
	struct event_out *e;
	char *p;

	if (c->link != LINK_NONE || !events_client(s) || !events_wanted())
		return;
	e = events_new(EVENTS_DISCONNECTED, events_cap(s->id_len,
	    s->username, conn_peer(c), 96));
	p = events_head(e->json, "disconnected", s->client_id, s->id_len,
	    s->username, conn_peer(c));
	p += sprintf(p, ",\"reason\":\"%s\",\"session_expiry\":%lu}",
	    conn_end_name(conn_end_reason(c, rc)),
	    (unsigned long)(s->persistent ? s->expiry : 0));
	events_queue(e, p);
}

void
events_taken_over(const struct session *s, const char *new_peer,
    const char *new_node)
{
	struct event_out *e;
	const char *old = s->conn != NULL ? conn_peer(s->conn) : NULL;
	char *p;

	if (!events_client(s) || !events_wanted())
		return;
	e = events_new(EVENTS_TAKEN_OVER, events_cap(s->id_len, s->username,
	    old, 64 + 6 * ((new_peer != NULL ? strlen(new_peer) : 0) +
	    (new_node != NULL ? strlen(new_node) : 0))));
	p = events_head(e->json, "taken_over", s->client_id, s->id_len,
	    s->username, old);
	p += sprintf(p, ",\"new_peer\":");
	p = events_str(p, new_peer, new_peer != NULL ? strlen(new_peer) : 0);
	p += sprintf(p, ",\"new_node\":");
	p = events_str(p, new_node, new_node != NULL ? strlen(new_node) : 0);
	*p++ = '}';
	events_queue(e, p);
}

/* One dropped event: id NULL for the drops counted past the bounds. */
static void
events_drop_send(const char *id, size_t id_len, const char *user,
    const char *peer, uint8_t reason, uint64_t count)
{
	char *buf, *p;

	p = buf = xmalloc(events_cap(id_len, user, peer, 96));
	p = events_head(p, "dropped", id, id_len, user, peer);
	p += sprintf(p, ",\"reason\":\"%s\",\"count\":%llu}",
	    drop_names[reason], (unsigned long long)count);
	events_publish(EVENTS_DROPPED, buf, (size_t)(p - buf));
	free(buf);
}

static void
drop_count_free(struct drop_count *d)
{
	free(d->client_id);
	free(d->user);
	free(d->peer);
	free(d);
}

static void
events_drop_one(const void *key, size_t len, void *value, void *arg)
{
	struct drop_count *d = value;

	events_drop_send(d->client_id, d->id_len, d->user, d->peer,
	    d->reason, d->count);
	drop_count_free(d);
}

static void
events_drops_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hash *h = drops;
	uint64_t over[EVENTS_DROP_N];
	int r;

	/* Publishing may drop more (a queue full): a new window counts
	 * them, not the table being walked. */
	drops = NULL;
	drop_bytes = 0;
	memcpy(over, drop_over, sizeof over);
	memset(drop_over, 0, sizeof drop_over);
	if (h != NULL) {
		hash_foreach(h, events_drop_one, NULL);
		hash_free(h);
	}
	for (r = 0; r < EVENTS_DROP_N; r++) {
		if (over[r] > 0)
			events_drop_send(NULL, 0, NULL, NULL, (uint8_t)r,
			    over[r]);
	}
}

void
events_dropped(const struct session *s, const struct msg *m,
    enum events_drop reason)
{
	struct timeval window = { EVENTS_WINDOW_MS / 1000,
	    (EVENTS_WINDOW_MS % 1000) * 1000 };
	struct drop_count *d;
	char stack[256], *key;
	size_t klen, cost;

	srv.dropped[reason]++; /* every drop, told or not: $SYS, metrics */
	if ((m != NULL && events_topic(m->topic, m->topic_len)) ||
	    !events_wanted())
		return;
	klen = 1 + s->id_len;
	key = klen <= sizeof stack ? stack : xmalloc(klen);
	key[0] = (char)reason;
	memcpy(key + 1, s->client_id, s->id_len);
	if (drops == NULL)
		drops = hash_new();
	cost = 2 * klen + (s->username != NULL ? strlen(s->username) : 0);
	if ((d = hash_get(drops, key, klen)) != NULL)
		d->count++;
	else if (hash_count(drops) >= EVENTS_DROP_KEYS ||
	    drop_bytes + cost > EVENTS_DROP_BYTES)
		drop_over[reason]++;
	else {
		d = xcalloc(1, sizeof *d);
		d->client_id = xmalloc(s->id_len + 1);
		memcpy(d->client_id, s->client_id, s->id_len + 1);
		d->id_len = s->id_len;
		d->user = s->username != NULL ? xstrdup(s->username) : NULL;
		d->peer = s->conn != NULL ? xstrdup(conn_peer(s->conn)) : NULL;
		d->reason = (uint8_t)reason;
		d->count = 1;
		hash_put(drops, key, klen, d);
		drop_bytes += cost;
	}
	if (key != stack)
		free(key);
	if (drop_ev == NULL)
		drop_ev = evtimer_new(srv.base, events_drops_cb, NULL);
	if (!evtimer_pending(drop_ev, NULL))
		evtimer_add(drop_ev, &window);
}

static void
events_free_drop(const void *key, size_t len, void *value, void *arg)
{
	drop_count_free(value);
}

void
events_free_all(void)
{
	struct event_out *e;

	while ((e = TAILQ_FIRST(&queued)) != NULL) {
		TAILQ_REMOVE(&queued, e, entry);
		free(e);
	}
	if (drops != NULL) {
		hash_foreach(drops, events_free_drop, NULL);
		hash_free(drops);
		drops = NULL;
	}
	drop_bytes = 0;
	memset(drop_over, 0, sizeof drop_over);
	if (send_ev != NULL)
		event_free(send_ev);
	if (drop_ev != NULL)
		event_free(drop_ev);
	send_ev = drop_ev = NULL;
}
