/*
 * push.c - the offline push webhook (the instant-messaging part of tern;
 * tern.conf(5), "Push"; docs/ARCHITECTURE.md, "Offline push").
 *
 * A phone whose app is not connected cannot be reached by MQTT: the app's
 * server must wake it through APNs or FCM. With push_webhook set, the node
 * that queues a QoS 1/2 message for a persistent session without a
 * connection (deliver_enqueue, once the message is in its queue: that
 * node, in a cluster, is the one that holds the session) notes an event
 * here, and POSTs the events that wait to the URL as a JSON array
 *   [{"client_id":..,"user":..|null,"topic":..,"message_id":"<tern-mid>",
 *     "from":..|null,"qos":1|2,"size":<payload bytes>,
 *     "queued":<messages waiting for that session>}, ...]
 * with Content-Type application/json, X-Tern-Node (node_name, when set)
 * and, with push_webhook_secret, X-Tern-Signature: sha256=<hex HMAC-SHA256
 * of the body>. "from" is the client id of the publisher when it
 * published on this node (deliver_route's publisher); a message from
 * another node does not carry it (struct msg has no publisher, and adding
 * one would grow every stored and forwarded message), so it is null then,
 * as for the broker's own messages.
 *
 * Nothing here may delay a delivery: push_queued() only copies a few
 * fields into an event and arms a zero timer (kick); the request is built
 * and sent from that timer, and its answer comes back on the loop through
 * libevent's evhttp client (non-blocking connect, send and read; names
 * through evdns, never getaddrinfo). A slow or dead server therefore
 * costs memory, bounded by push_queue_max events (those in the queue,
 * those in the request in flight and those held by push_min_interval),
 * past which new events are dropped and counted. Events are in memory
 * only: a restart loses those that wait.
 *
 * One request in flight at a time (there is one destination): events that
 * come meanwhile wait and go in the next one, PUSH_BATCH_MAX events or
 * about PUSH_BATCH_BYTES of body at most. A 2xx answer ends the batch; no
 * answer (refused, reset, push_timeout without a byte), a 5xx or a 429
 * send the same body again after a backoff (PUSH_BACKOFF_MIN_MS doubling
 * up to PUSH_BACKOFF_MAX_MS, each drawn between half and all of it); any
 * other answer is the server's refusal of the batch, which is dropped
 * with a warning.
 *
 * push_min_interval: at most one event per recipient (client id) per
 * interval. The first goes at once and opens the interval (struct
 * push_limit, per client id, with its timer); later ones within it are
 * held, the last one replacing the one before; when the interval ends
 * the held event goes, with "queued" counted then, and opens the next
 * interval. Held events of a client that connected meanwhile are
 * dropped: it has its messages.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/util.h>
#include <mbedtls/md.h>

#include "broker.h"
#include "hash.h"

#define PUSH_BATCH_MAX 500
#define PUSH_BATCH_BYTES (256 * 1024)
#define PUSH_BACKOFF_MIN_MS 500
#define PUSH_BACKOFF_MAX_MS 60000
#define PUSH_WARN_SECS 60 /* between two warnings of one kind */
#define PUSH_REPLY_MAX 65536 /* the server's answer body, at most */
#define PUSH_NULL UINT32_MAX /* an absent user or publisher */

/* One event: fixed fields, then the client id, user, topic and publisher
 * in data. */
struct push_event {
	TAILQ_ENTRY(push_event) entry;
	uint64_t queued;
	uint32_t size;
	uint32_t id_len, user_len, topic_len, from_len; /* PUSH_NULL: null */
	uint8_t qos;
	uint8_t has_mid;
	char mid[RECEIPT_MID_LEN];
	char data[];
};
TAILQ_HEAD(push_queue, push_event);

/* A recipient within its push_min_interval. */
struct push_limit {
	struct event *timer; /* the end of the interval */
	struct push_event *held; /* the last event since it began */
	size_t id_len;
	char id[];
};

/* The state of the webhook client: one per node. */
static struct {
	struct evhttp_connection *http;
	struct event *kick; /* send what waits (zero timer) */
	struct event *retry; /* the backoff before sending body again */
	struct push_queue queue;
	struct evbuffer *body; /* the batch in flight or to send again */
	uint32_t body_events;
	char signature[7 + 64 + 1];
	int in_flight;
	unsigned attempt; /* failed attempts of this body */
	struct hash *limits; /* client id -> struct push_limit */
	uint64_t n_limits;
	uint64_t waiting; /* queue + body + held */
	uint64_t sent, failed, dropped, errors;
	time_t drop_warned, error_warned;
	uint64_t dropped_warned; /* dropped at the last warning */
} push;

static int
push_on(void)
{
	return srv.cfg.push_webhook != NULL;
}

static uint64_t
push_count_of(const struct session *s)
{
	return (uint64_t)s->n_queued + s->n_inflight +
	    session_du(s)->disk_count;
}

static void
push_kick(void)
{
	struct timeval zero = { 0, 0 };

	if (push.kick != NULL && !push.in_flight &&
	    !evtimer_pending(push.retry, NULL) &&
	    !evtimer_pending(push.kick, NULL))
		evtimer_add(push.kick, &zero);
}

/* Count a dropped event; warn at once, then every PUSH_WARN_SECS. */
static void
push_drop(struct push_event *e, const char *why)
{
	time_t now = time(NULL);

	push.dropped++;
	if (push.drop_warned == 0 || now - push.drop_warned >=
	    PUSH_WARN_SECS) {
		log_warn("push: %s, dropping events (%llu dropped since "
		    "the last warning, %llu in all)", why,
		    (unsigned long long)(push.dropped - push.dropped_warned),
		    (unsigned long long)push.dropped);
		push.drop_warned = now;
		push.dropped_warned = push.dropped;
	}
	free(e);
}

/* Queue e for the next request (or drop it past push_queue_max). held:
 * e was counted as waiting already (push_min_interval). */
static void
push_add(struct push_event *e, int held)
{
	if (!held) {
		if (push.waiting >= srv.cfg.push_queue_max) {
			push_drop(e, "push_queue_max reached");
			return;
		}
		push.waiting++;
	}
	TAILQ_INSERT_TAIL(&push.queue, e, entry);
	push_kick();
}

static struct push_event *
push_event_new(const struct session *s, const struct msg *m, uint8_t qos,
    const struct session *publisher)
{
	struct push_event *e;
	size_t ul = s->username != NULL ? strlen(s->username) : 0;
	size_t fl = publisher != NULL ? publisher->id_len : 0;
	char *p;

	e = xmalloc(sizeof *e + s->id_len + ul + m->topic_len + fl);
	e->queued = push_count_of(s);
	e->size = m->payload_len;
	e->qos = qos;
	e->has_mid = m->id_origin != 0;
	if (e->has_mid)
		receipt_mid(m, e->mid);
	p = e->data;
	memcpy(p, s->client_id, s->id_len);
	p += e->id_len = (uint32_t)s->id_len;
	e->user_len = PUSH_NULL;
	if (s->username != NULL) {
		memcpy(p, s->username, ul);
		p += e->user_len = (uint32_t)ul;
	}
	memcpy(p, m->topic, m->topic_len);
	p += e->topic_len = m->topic_len;
	e->from_len = PUSH_NULL;
	if (publisher != NULL) {
		memcpy(p, publisher->client_id, fl);
		e->from_len = (uint32_t)fl;
	}
	return e;
}

static void
push_limit_free(struct push_limit *l)
{
	if (l->held != NULL) {
		free(l->held);
		push.waiting--;
	}
	event_free(l->timer);
	free(l);
	push.n_limits--;
}

/* The end of a recipient's interval: its held event goes (if the client
 * is still away), and opens the next one; without one, it is forgotten. */
static void
push_limit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct push_limit *l = arg;
	struct push_event *e = l->held;
	const struct session *s;
	struct timeval tv = { (time_t)srv.cfg.push_min_interval, 0 };

	if (e != NULL) {
		l->held = NULL;
		s = session_find(l->id, l->id_len);
		if (s != NULL && s->conn == NULL && push_count_of(s) > 0) {
			e->queued = push_count_of(s);
			push_add(e, 1);
			evtimer_add(l->timer, &tv);
			return;
		}
		free(e);
		push.waiting--;
	}
	hash_del(push.limits, l->id, l->id_len);
	push_limit_free(l);
}

/* push_min_interval: e goes now, or is held until the recipient's
 * interval ends. */
static void
push_limited(const struct session *s, struct push_event *e)
{
	struct push_limit *l = hash_get(push.limits, s->client_id, s->id_len);
	struct timeval tv = { (time_t)srv.cfg.push_min_interval, 0 };

	if (l != NULL) {
		if (l->held != NULL)
			free(l->held);
		else if (push.waiting >= srv.cfg.push_queue_max) {
			push_drop(e, "push_queue_max reached");
			return;
		} else
			push.waiting++;
		l->held = e;
		return;
	}
	/* The table of recipients is bounded as the events are. */
	if (push.n_limits >= srv.cfg.push_queue_max) {
		push_drop(e, "push_queue_max recipients within "
		    "push_min_interval");
		return;
	}
	l = xmalloc(sizeof *l + s->id_len);
	memcpy(l->id, s->client_id, s->id_len);
	l->id_len = s->id_len;
	l->held = NULL;
	l->timer = evtimer_new(srv.base, push_limit_cb, l);
	evtimer_add(l->timer, &tv);
	hash_put(push.limits, l->id, l->id_len, l);
	push.n_limits++;
	push_add(e, 0);
}

void
push_queued(const struct session *s, const struct msg *m, uint8_t qos,
    const struct session *publisher)
{
	struct push_event *e;

	if (!push_on() || qos == 0 || s->conn != NULL || !s->persistent ||
	    session_cl(s)->peer != NULL || session_cl(s)->cluster_in ||
	    session_cl(s)->moving != NULL ||
	    s->client_id[0] == '$')
		return;
	/* A node's own sessions, or a link, published nothing a phone
	 * would call a sender. */
	if (publisher != NULL && (session_cl(publisher)->peer != NULL ||
	    session_cl(publisher)->cluster_in))
		publisher = NULL;
	e = push_event_new(s, m, qos, publisher);
	if (srv.cfg.push_min_interval > 0)
		push_limited(s, e);
	else
		push_add(e, 0);
}

/* A JSON string, or null, at the end of b. */
static void
push_json_str(struct evbuffer *b, const char *s, uint32_t len)
{
	char *tmp;
	size_t n;

	if (len == PUSH_NULL) {
		evbuffer_add(b, "null", 4);
		return;
	}
	tmp = xmalloc(6 * (size_t)len + 2);
	n = (size_t)(receipt_json_str(tmp, s, len) - tmp);
	evbuffer_add(b, tmp, n);
	free(tmp);
}

static void
push_event_json(struct evbuffer *b, const struct push_event *e)
{
	const char *p = e->data;

	evbuffer_add_printf(b, "{\"client_id\":");
	push_json_str(b, p, e->id_len);
	p += e->id_len;
	evbuffer_add_printf(b, ",\"user\":");
	push_json_str(b, p, e->user_len);
	if (e->user_len != PUSH_NULL)
		p += e->user_len;
	evbuffer_add_printf(b, ",\"topic\":");
	push_json_str(b, p, e->topic_len);
	p += e->topic_len;
	evbuffer_add_printf(b, ",\"message_id\":");
	push_json_str(b, e->mid, e->has_mid ? RECEIPT_MID_LEN : PUSH_NULL);
	evbuffer_add_printf(b, ",\"from\":");
	push_json_str(b, p, e->from_len);
	evbuffer_add_printf(b, ",\"qos\":%u,\"size\":%lu,\"queued\":%llu}",
	    (unsigned)e->qos, (unsigned long)e->size,
	    (unsigned long long)e->queued);
}

/* The signature of push.body under push_webhook_secret, or none. */
static void
push_sign(void)
{
	static const char hex[] = "0123456789abcdef";
	const mbedtls_md_info_t *md;
	unsigned char mac[32];
	const unsigned char *data;
	size_t len;
	int i;

	push.signature[0] = '\0';
	if (srv.cfg.push_secret == NULL)
		return;
	len = evbuffer_get_length(push.body);
	data = evbuffer_pullup(push.body, -1);
	md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (md == NULL || mbedtls_md_hmac(md,
	    (const unsigned char *)srv.cfg.push_secret,
	    strlen(srv.cfg.push_secret), data, len, mac) != 0) {
		log_error("push: cannot compute the HMAC-SHA256 signature");
		return;
	}
	memcpy(push.signature, "sha256=", 7);
	for (i = 0; i < 32; i++) {
		push.signature[7 + 2 * i] = hex[mac[i] >> 4];
		push.signature[8 + 2 * i] = hex[mac[i] & 15];
	}
	push.signature[7 + 64] = '\0';
}

/* The next batch from the queue into push.body, with its signature. */
static void
push_batch(void)
{
	struct push_event *e;

	push.body = evbuffer_new();
	push.body_events = 0;
	evbuffer_add(push.body, "[", 1);
	while ((e = TAILQ_FIRST(&push.queue)) != NULL &&
	    push.body_events < PUSH_BATCH_MAX && (push.body_events == 0 ||
	    evbuffer_get_length(push.body) < PUSH_BATCH_BYTES)) {
		TAILQ_REMOVE(&push.queue, e, entry);
		if (push.body_events++ > 0)
			evbuffer_add(push.body, ",", 1);
		push_event_json(push.body, e);
		free(e);
	}
	evbuffer_add(push.body, "]", 1);
	push_sign();
}

/* The batch is over: delivered (ok) or refused by the server. */
static void
push_batch_done(int ok)
{
	if (ok)
		push.sent += push.body_events;
	else
		push.failed += push.body_events;
	push.waiting -= push.body_events;
	evbuffer_free(push.body);
	push.body = NULL;
	push.body_events = 0;
	push.attempt = 0;
	push_kick();
}

/* Send push.body again after the backoff of this attempt. */
static void
push_backoff(const char *why)
{
	struct timeval tv;
	time_t now = time(NULL);
	uint32_t ms = PUSH_BACKOFF_MIN_MS, r;
	unsigned i;

	push.errors++;
	for (i = 0; i < push.attempt && ms < PUSH_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > PUSH_BACKOFF_MAX_MS)
		ms = PUSH_BACKOFF_MAX_MS;
	push.attempt++;
	/* Jitter: nodes that lost the same server do not come back to it
	 * all at once. */
	evutil_secure_rng_get_bytes(&r, sizeof r);
	ms = ms / 2 + r % (ms / 2 + 1);
	if (push.error_warned == 0 || now - push.error_warned >=
	    PUSH_WARN_SECS) {
		log_warn("push: POST to %s failed: %s; sending its %u "
		    "events again in %u ms", srv.cfg.push_webhook, why,
		    (unsigned)push.body_events, ms);
		push.error_warned = now;
	} else
		log_debug("push: %s, sending again in %u ms", why, ms);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(push.retry, &tv);
}

static void
push_done_cb(struct evhttp_request *req, void *arg)
{
	char why[64];
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	push.in_flight = 0;
	if (push.body == NULL)
		return;
	if (code >= 200 && code < 300) {
		log_debug("push: %u events sent (%d)", push.body_events, code);
		if (push.error_warned != 0)
			log_notice("push: %s answers again",
			    srv.cfg.push_webhook);
		push.error_warned = 0;
		push_batch_done(1);
		return;
	}
	if (code == 0 || code == 429 || code >= 500) {
		if (code == 0)
			snprintf(why, sizeof why, "no answer (refused, "
			    "reset or push_timeout)");
		else
			snprintf(why, sizeof why, "answer %d", code);
		push_backoff(why);
		return;
	}
	log_warn("push: %s refused %u events with %d: dropped",
	    srv.cfg.push_webhook, push.body_events, code);
	push_batch_done(0);
}

/* Send push.body (a new batch when there is none). */
static void
push_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evhttp_request *req;
	struct evdns_base *dns;
	struct evkeyvalq *h;
	char host[300], len[24];
	size_t n;

	if (push.in_flight || evtimer_pending(push.retry, NULL))
		return;
	if (push.body == NULL) {
		if (TAILQ_EMPTY(&push.queue))
			return;
		push_batch();
	}
	if (push.http == NULL) {
		/* A name is resolved by evdns, on the loop; an address needs
		 * no resolver (and libevent's would block for a name without
		 * one). */
		dns = NULL;
		if (!resolve_numeric(srv.cfg.push_host) &&
		    (dns = server_resolver()) == NULL) {
			push_backoff("no resolver for its host name");
			return;
		}
		push.http = evhttp_connection_base_new(srv.base, dns,
		    srv.cfg.push_host, srv.cfg.push_port);
		if (push.http == NULL) {
			push_backoff("cannot make a connection");
			return;
		}
		evhttp_connection_set_timeout(push.http,
		    (int)srv.cfg.push_timeout);
		evhttp_connection_set_max_body_size(push.http,
		    PUSH_REPLY_MAX);
		evhttp_connection_set_max_headers_size(push.http,
		    PUSH_REPLY_MAX);
	}
	req = evhttp_request_new(push_done_cb, NULL);
	h = evhttp_request_get_output_headers(req);
	if (strchr(srv.cfg.push_host, ':') != NULL)
		snprintf(host, sizeof host, "[%s]:%u", srv.cfg.push_host,
		    (unsigned)srv.cfg.push_port);
	else
		snprintf(host, sizeof host, "%s:%u", srv.cfg.push_host,
		    (unsigned)srv.cfg.push_port);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "User-Agent", "tern/" TERN_VERSION);
	evhttp_add_header(h, "Content-Type", "application/json");
	n = evbuffer_get_length(push.body);
	snprintf(len, sizeof len, "%zu", n);
	evhttp_add_header(h, "Content-Length", len);
	if (srv.cfg.node_name != NULL)
		evhttp_add_header(h, "X-Tern-Node", srv.cfg.node_name);
	if (push.signature[0] != '\0')
		evhttp_add_header(h, "X-Tern-Signature", push.signature);
	evbuffer_add(evhttp_request_get_output_buffer(req),
	    evbuffer_pullup(push.body, -1), n);
	push.in_flight = 1;
	if (evhttp_make_request(push.http, req, EVHTTP_REQ_POST,
	    srv.cfg.push_path) != 0) {
		/* (libevent freed req.) */
		push.in_flight = 0;
		push_backoff("cannot send the request");
	}
}

static void
push_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	push_send_cb(-1, 0, NULL);
}

int
push_init(void)
{
	if (!push_on())
		return 0;
	TAILQ_INIT(&push.queue);
	push.limits = hash_new();
	push.kick = evtimer_new(srv.base, push_send_cb, NULL);
	push.retry = evtimer_new(srv.base, push_retry_cb, NULL);
	if (!resolve_numeric(srv.cfg.push_host) && server_resolver() == NULL)
		return -1;
	log_notice("push: events of offline sessions go to %s%s",
	    srv.cfg.push_webhook, srv.cfg.push_secret != NULL ?
	    ", signed" : "");
	return 0;
}

/*
 * A new URL: the connection to the old one goes, with the request in
 * flight (freed without its callback): its batch is sent again, to the
 * new URL, at once (the events are delivered at least once, as after a
 * lost answer), and what waits follows it there.
 */
static void
push_retarget(void)
{
	if (push.http != NULL)
		evhttp_connection_free(push.http);
	push.http = NULL;
	push.in_flight = 0;
	push.attempt = 0;
	push.error_warned = 0;
	evtimer_del(push.retry);
	if (!resolve_numeric(srv.cfg.push_host) && server_resolver() == NULL)
		log_error("push: no resolver for %s: events wait",
		    srv.cfg.push_host);
	log_notice("push: events of offline sessions go to %s now%s",
	    srv.cfg.push_webhook, srv.cfg.push_secret != NULL ?
	    ", signed" : "");
	push_kick();
}

void
push_reload(const struct config *old)
{
	const char *os = old->push_secret, *ns = srv.cfg.push_secret;

	if (!push_on()) {
		if (push.kick == NULL)
			return;
		if (push.waiting > 0)
			log_notice("push: push_webhook none: %llu events "
			    "dropped", (unsigned long long)push.waiting);
		push.dropped += push.waiting;
		push_free_all();
		push.waiting = 0;
		return;
	}
	if (push.kick == NULL) {
		if (push_init() != 0)
			log_error("push: no resolver for %s: events wait",
			    srv.cfg.push_host);
		return;
	}
	/* A batch waiting to go again is signed again with a new secret. */
	if (push.body != NULL && (os == NULL || ns == NULL ?
	    os != ns : strcmp(os, ns) != 0))
		push_sign();
	if (old->push_webhook == NULL ||
	    strcmp(old->push_webhook, srv.cfg.push_webhook) != 0)
		push_retarget();
	else if (push.http != NULL && old->push_timeout !=
	    srv.cfg.push_timeout)
		evhttp_connection_set_timeout(push.http,
		    (int)srv.cfg.push_timeout);
}

void
push_stats(uint64_t *sent, uint64_t *failed, uint64_t *dropped,
    uint64_t *waiting, uint64_t *errors)
{
	*sent = push.sent;
	*failed = push.failed;
	*dropped = push.dropped;
	*waiting = push.waiting;
	*errors = push.errors;
}

static void
push_limit_free_cb(const void *key, size_t len, void *value, void *arg)
{
	push_limit_free(value);
}

void
push_free_all(void)
{
	struct push_event *e;

	if (push.kick == NULL)
		return;
	if (push.waiting > 0 && srv.shutting_down)
		log_notice("push: %llu events not sent (they are not kept "
		    "across a restart)", (unsigned long long)push.waiting);
	/* The connection first: its pending request is freed without its
	 * callback. */
	if (push.http != NULL)
		evhttp_connection_free(push.http);
	push.http = NULL;
	push.in_flight = 0;
	push.attempt = 0;
	while ((e = TAILQ_FIRST(&push.queue)) != NULL) {
		TAILQ_REMOVE(&push.queue, e, entry);
		free(e);
	}
	if (push.body != NULL)
		evbuffer_free(push.body);
	push.body = NULL;
	hash_foreach(push.limits, push_limit_free_cb, NULL);
	hash_free(push.limits);
	push.limits = NULL;
	event_free(push.kick);
	event_free(push.retry);
	push.kick = push.retry = NULL;
}
