/*
 * api.c - the JSON admin API under /api/v1/ (http.c routes here; the
 * table, the token and the bounds are http.c's).
 *
 * Every answer is one JSON object, errors too ({"error":"..."} with
 * 400, 401, 404, 405 or 409). Strings are escaped here (json_str): '"',
 * '\' and the control characters, and a byte that does not start a
 * well-formed UTF-8 sequence becomes U+FFFD, so that an answer is valid
 * JSON whatever a client id, a user name or a topic holds (they are
 * UTF-8 on the wire, checked by the codec, but a stored row or a cluster
 * link is not trusted to be).
 *
 * Like /metrics, a request reads the node's structures on the loop, with
 * no copy kept between requests. Lists are paged (offset, limit: 100 by
 * default, at most 1000) over the whole set, which each request walks:
 * clients walk srv.conns, in connection order (O(connections)); sessions
 * and subscriptions collect the client sessions and sort them by client
 * id (O(sessions log sessions), plus the subscriptions of the sessions
 * before the page); retained messages walk the retained tree and sort by
 * topic (O(retained log retained)). A page is thus stable while nothing
 * changes, and an operator's poll of a node with a million sessions
 * costs a few hundred milliseconds of the loop: the dashboard polls
 * /status (O(sessions), as a scrape) and the first page of clients.
 *
 * What changes the node goes the way the node does it otherwise:
 * - kick: conn_close() with 0x98 (Administrative action), as a takeover
 *   closes with 0x8E; the session stays, per its expiry, and the will
 *   goes as at any close the client did not ask for. Presence and
 *   $events name the reason "kicked".
 * - deleting a session: a kick if connected, then session_free(), what
 *   its expiry timer does (store rows deleted, a delayed will published,
 *   routes withdrawn from the other nodes). Only the node that holds the
 *   session has it: another node answers 404, as it would not expire
 *   it either. A session being moved between nodes, or whose queue is
 *   being read back from the store, is 409 (for a moment).
 * - deleting a retained message: an empty retained QoS 1 message from
 *   the node (as a will is published), so that it clears the store and
 *   goes to every node like a client's clear.
 * - drain: server_drain(), what SIGUSR1 does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "broker.h"

#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 1000
#define HTTP_CONFLICT 409

/* --- JSON --- */

/* The length of the well-formed UTF-8 sequence (2 to 4 bytes) at p, or
 * 0 (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF). */
static size_t
json_utf8(const uint8_t *p, const uint8_t *end)
{
	size_t n, i;
	uint8_t lo = 0x80, hi = 0xbf;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	if (*p == 0xe0)
		lo = 0xa0;
	else if (*p == 0xed)
		hi = 0x9f;
	else if (*p == 0xf0)
		lo = 0x90;
	else if (*p == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

void
api_json_str(struct evbuffer *b, const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + len, *run;
	size_t n;

	evbuffer_add(b, "\"", 1);
	while (p < end) {
		/* A run of bytes that go as they are, in one add. */
		for (run = p; p < end && *p >= 0x20 && *p < 0x7f &&
		    *p != '"' && *p != '\\'; p++)
			;
		if (p > run)
			evbuffer_add(b, run, (size_t)(p - run));
		if (p == end)
			break;
		n = 1;
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p < 0x80)
			evbuffer_add_printf(b, "\\u%04x", *p);
		else if ((n = json_utf8(p, end)) > 0)
			evbuffer_add(b, p, n);
		else
			evbuffer_add(b, "\\ufffd", 6);
		p += n > 0 ? n : 1;
	}
	evbuffer_add(b, "\"", 1);
}

/* "key": as the start of a member (first: no comma before). */
static void
json_key(struct evbuffer *b, const char *key, int first)
{
	evbuffer_add_printf(b, "%s\"%s\":", first ? "" : ",", key);
}

/* The answer of a DELETE: {"deleted":"<what>"}. */
static int
api_deleted(struct evbuffer *b, const char *what, size_t len)
{
	evbuffer_add(b, "{", 1);
	json_key(b, "deleted", 1);
	api_json_str(b, what, len);
	evbuffer_add(b, "}\n", 2);
	return HTTP_OK;
}

static void
json_kstr(struct evbuffer *b, const char *key, const char *v, size_t len)
{
	json_key(b, key, 0);
	if (v == NULL)
		evbuffer_add(b, "null", 4);
	else
		api_json_str(b, v, len);
}

static void
json_kcstr(struct evbuffer *b, const char *key, const char *v)
{
	json_kstr(b, key, v, v != NULL ? strlen(v) : 0);
}

static void
json_ku64(struct evbuffer *b, const char *key, uint64_t v)
{
	json_key(b, key, 0);
	evbuffer_add_printf(b, "%llu", (unsigned long long)v);
}

static void
json_kbool(struct evbuffer *b, const char *key, int v)
{
	json_key(b, key, 0);
	evbuffer_add_printf(b, "%s", v ? "true" : "false");
}

void
api_error(struct evbuffer *body, const char *what)
{
	evbuffer_drain(body, evbuffer_get_length(body));
	evbuffer_add(body, "{", 1);
	json_key(body, "error", 1);
	api_json_str(body, what, strlen(what));
	evbuffer_add(body, "}\n", 2);
}

static int
api_fail(struct evbuffer *body, int code, const char *what)
{
	api_error(body, what);
	return code;
}

/* --- query parameters --- */

#define API_P_PAGE 0x01 /* offset, limit */
#define API_P_CLIENT 0x02 /* client_id */
#define API_P_USER 0x04 /* user */
#define API_P_ONLINE 0x08 /* online */
#define API_P_PREFIX 0x10 /* prefix */

struct api_params {
	uint64_t offset, limit;
	char *client_id, *user, *prefix; /* NULL: not given */
	size_t client_id_len, user_len, prefix_len;
	int online; /* -1: not given */
	const char *bad; /* why the query was refused */
};

static int
api_bad(struct api_params *ap, const char *why)
{
	ap->bad = why;
	return -1;
}

static int
api_number(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*out = n;
	return 0;
}

/* One key=value of the query (both decoded) into ap; 0, or -1 with
 * ap->bad set. */
static int
api_param(struct api_params *ap, int allowed, const char *k, char *v,
    size_t vlen)
{
	if ((allowed & API_P_PAGE) && strcmp(k, "offset") == 0) {
		if (api_number(v, &ap->offset) != 0)
			return api_bad(ap, "offset: a number");
	} else if ((allowed & API_P_PAGE) && strcmp(k, "limit") == 0) {
		if (api_number(v, &ap->limit) != 0)
			return api_bad(ap, "limit: a number");
		if (ap->limit > API_LIMIT_MAX)
			ap->limit = API_LIMIT_MAX;
	} else if ((allowed & API_P_ONLINE) && strcmp(k, "online") == 0) {
		if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			ap->online = 1;
		else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
			ap->online = 0;
		else
			return api_bad(ap, "online: true or false");
	} else if ((allowed & API_P_CLIENT) && strcmp(k, "client_id") == 0 &&
	    ap->client_id == NULL) {
		ap->client_id = v;
		ap->client_id_len = vlen;
		return 1;
	} else if ((allowed & API_P_USER) && strcmp(k, "user") == 0 &&
	    ap->user == NULL) {
		ap->user = v;
		ap->user_len = vlen;
		return 1;
	} else if ((allowed & API_P_PREFIX) && strcmp(k, "prefix") == 0 &&
	    ap->prefix == NULL) {
		ap->prefix = v;
		ap->prefix_len = vlen;
		return 1;
	} else {
		return api_bad(ap, "unknown or repeated query parameter");
	}
	return 0;
}

/* Parse req's query into ap, taking only the parameters of allowed: an
 * unknown one (a typo would silently list everything), a bad number or
 * a bad escape is refused. 0, or -1 with ap->bad. */
static int
api_params(struct evhttp_request *req, int allowed, struct api_params *ap)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(
	    req)), *amp, *eq;
	char *k, *v;
	size_t klen, vlen, plen;
	int rc;

	memset(ap, 0, sizeof *ap);
	ap->limit = API_LIMIT_DEFAULT;
	ap->online = -1;
	while (q != NULL && *q != '\0') {
		amp = strchr(q, '&');
		plen = amp != NULL ? (size_t)(amp - q) : strlen(q);
		eq = memchr(q, '=', plen);
		if (plen == 0) {
			q = amp != NULL ? amp + 1 : NULL;
			continue;
		}
		if (eq == NULL)
			return api_bad(ap, "query parameter without a value");
		if (http_decode(q, (size_t)(eq - q), 1, &k, &klen) != 0)
			return api_bad(ap, "bad percent-encoding in the query");
		if (http_decode(eq + 1, plen - (size_t)(eq + 1 - q), 1, &v,
		    &vlen) != 0) {
			free(k);
			return api_bad(ap, "bad percent-encoding in the query");
		}
		rc = api_param(ap, allowed, k, v, vlen);
		free(k);
		if (rc <= 0)
			free(v);
		if (rc < 0)
			return -1;
		q = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

static void
api_params_free(struct api_params *ap)
{
	free(ap->client_id);
	free(ap->user);
	free(ap->prefix);
}

/* 1 when s (len bytes, NULL: none) contains the filter f (NULL: none
 * asked). */
static int
api_match(const char *f, size_t flen, const char *s, size_t len)
{
	if (f == NULL)
		return 1;
	return s != NULL && memmem(s, len, f, flen) != NULL;
}

static void
api_page_open(struct evbuffer *b, const struct api_params *ap)
{
	evbuffer_add_printf(b, "{\"offset\":%llu,\"limit\":%llu,\"items\":[",
	    (unsigned long long)ap->offset, (unsigned long long)ap->limit);
}

static void
api_page_close(struct evbuffer *b, uint64_t total)
{
	evbuffer_add_printf(b, "],\"total\":%llu}\n",
	    (unsigned long long)total);
}

/* 1 when the index-th item of the whole list is on the page (a comma
 * goes first but for the page's first). */
static int
api_on_page(struct evbuffer *b, const struct api_params *ap, uint64_t index)
{
	if (index < ap->offset || index - ap->offset >= ap->limit)
		return 0;
	if (index > ap->offset)
		evbuffer_add(b, ",", 1);
	return 1;
}

/* --- one client, one session --- */

static const char *
api_version_name(uint8_t v)
{
	return v == MQTT_V5 ? "5" : v == MQTT_V311 ? "3.1.1" : "3.1";
}

static uint64_t
api_queued(const struct session *s)
{
	return s->n_queued + session_du(s)->disk_count;
}

/* The members of c, a client's connection (http_client_conn). */
static void
api_conn_members(struct evbuffer *b, const struct conn *c, int first)
{
	char label[96];

	listener_label(c->listener, label, sizeof label);
	json_key(b, "protocol", first);
	api_json_str(b, api_version_name(c->version),
	    strlen(api_version_name(c->version)));
	json_kcstr(b, "peer", conn_peer(c));
	json_kcstr(b, "listener", label);
	json_kbool(b, "websockets", conn_ws(c) != NULL);
	json_kbool(b, "tls", conn_tls(c) != NULL);
	json_ku64(b, "connected_at", (uint64_t)c->connected_at);
	json_ku64(b, "keepalive", c->keep_alive);
}

/* The members every view of a session has. */
static void
api_session_members(struct evbuffer *b, const struct session *s)
{
	json_kstr(b, "user", s->username, s->username != NULL ?
	    strlen(s->username) : 0);
	json_kbool(b, "online", s->conn != NULL);
	json_kbool(b, "persistent", s->persistent);
	json_key(b, "session_expiry", 0);
	if (s->expiry == UINT32_MAX)
		evbuffer_add(b, "null", 4); /* never */
	else
		evbuffer_add_printf(b, "%lu", (unsigned long)s->expiry);
	json_ku64(b, "queued", api_queued(s));
	json_ku64(b, "inflight", s->n_inflight);
	json_ku64(b, "subscriptions", s->n_subs);
}

static void
api_sub_members(struct evbuffer *b, const struct session_sub *ss)
{
	json_kstr(b, "filter", ss->filter, ss->filter_len);
	json_ku64(b, "qos", MQTT_SUBOPT_QOS(ss->options));
	json_kbool(b, "no_local", (ss->options & MQTT_SUBOPT_NO_LOCAL) != 0);
	json_kbool(b, "retain_as_published",
	    (ss->options & MQTT_SUBOPT_RAP) != 0);
	json_ku64(b, "retain_handling", MQTT_SUBOPT_RH(ss->options));
	json_key(b, "subscription_identifier", 0);
	if (ss->sub_id == 0)
		evbuffer_add(b, "null", 4);
	else
		evbuffer_add_printf(b, "%lu", (unsigned long)ss->sub_id);
}

/* The session of a client id from the path, or NULL (404). */
static struct session *
api_session(const char *id, size_t len)
{
	struct session *s = session_find(id, len);

	return s != NULL && http_client_session(s) ? s : NULL;
}

/* --- the endpoints --- */

int
api_status(struct evhttp_request *req, struct evbuffer *b, const char *arg,
    size_t len)
{
	struct http_counts hc;
	struct listener_conf *lc;
	char label[96], addr[80];
	uint64_t up;
	time_t t0;
	size_t i;

	http_counts(&hc);
	http_uptime(&t0, &up, addr, sizeof addr);
	evbuffer_add(b, "{", 1);
	json_key(b, "node", 1);
	if (srv.cfg.node_name != NULL)
		api_json_str(b, srv.cfg.node_name, strlen(srv.cfg.node_name));
	else
		evbuffer_add(b, "null", 4);
	json_kcstr(b, "version", TERN_VERSION);
	json_ku64(b, "started_at", (uint64_t)t0);
	json_ku64(b, "uptime", up);
	json_kbool(b, "draining", srv.draining);
	json_kbool(b, "shutting_down", srv.shutting_down);
	json_kbool(b, "store", srv.store != NULL);
	json_key(b, "listeners", 0);
	evbuffer_add(b, "[", 1);
	for (i = 0; i < srv.cfg.n_listeners; i++) {
		lc = &srv.cfg.listeners[i];
		listener_label(lc, label, sizeof label);
		evbuffer_add(b, i > 0 ? ",{" : "{", i > 0 ? 2 : 1);
		json_key(b, "address", 1);
		api_json_str(b, label, strlen(label));
		json_kcstr(b, "protocol", lc->websockets ? "websockets" :
		    "mqtt");
		json_kbool(b, "tls", lc->certfile != NULL);
		json_ku64(b, "connections", lc->n_conns);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]", 1);
	if (srv.cfg.cluster_listener != NULL) {
		listener_label(srv.cfg.cluster_listener, label, sizeof label);
		json_kcstr(b, "cluster_listener", label);
	}
	json_kcstr(b, "http_listener", addr);
	json_key(b, "counts", 0);
	evbuffer_add(b, "{", 1);
	json_key(b, "connections", 1);
	evbuffer_add_printf(b, "%llu", (unsigned long long)hc.connections);
	json_ku64(b, "sessions_online", hc.online);
	json_ku64(b, "sessions_offline", hc.offline);
	json_ku64(b, "subscriptions", hc.subscriptions);
	json_ku64(b, "routes", trie_count(srv.subs));
	json_ku64(b, "retained", retain_count());
	json_ku64(b, "queued", hc.queued);
	json_ku64(b, "queued_bytes", hc.queued_bytes);
	evbuffer_add(b, "}}\n", 3);
	return HTTP_OK;
}

int
api_clients(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct api_params ap;
	const struct conn *c;
	const struct session *s;
	uint64_t n = 0;

	if (api_params(req, API_P_PAGE | API_P_CLIENT | API_P_USER, &ap) != 0) {
		api_params_free(&ap);
		return api_fail(b, HTTP_BADREQUEST, ap.bad);
	}
	api_page_open(b, &ap);
	TAILQ_FOREACH(c, &srv.conns, entry) {
		if (!http_client_conn(c))
			continue;
		s = c->session;
		if (!api_match(ap.client_id, ap.client_id_len, s->client_id,
		    s->id_len) || !api_match(ap.user, ap.user_len, s->username,
		    s->username != NULL ? strlen(s->username) : 0))
			continue;
		if (api_on_page(b, &ap, n)) {
			evbuffer_add(b, "{", 1);
			json_key(b, "client_id", 1);
			api_json_str(b, s->client_id, s->id_len);
			api_conn_members(b, c, 0);
			api_session_members(b, s);
			evbuffer_add(b, "}", 1);
		}
		n++;
	}
	api_page_close(b, n);
	api_params_free(&ap);
	return HTTP_OK;
}

int
api_client(struct evhttp_request *req, struct evbuffer *b, const char *arg,
    size_t len)
{
	const struct session *s = api_session(arg, len);
	const struct delivery *d;
	size_t i;

	if (s == NULL)
		return api_fail(b, HTTP_NOTFOUND, "no such session");
	evbuffer_add(b, "{", 1);
	json_key(b, "client_id", 1);
	api_json_str(b, s->client_id, s->id_len);
	api_session_members(b, s);
	json_kbool(b, "will", s->will != NULL);
	json_kbool(b, "moving", session_cl(s)->moving != NULL);
	json_key(b, "connection", 0);
	if (s->conn != NULL && http_client_conn(s->conn)) {
		evbuffer_add(b, "{", 1);
		api_conn_members(b, s->conn, 1);
		evbuffer_add(b, "}", 1);
	} else {
		evbuffer_add(b, "null", 4);
	}
	json_key(b, "subscription_list", 0);
	evbuffer_add(b, "[", 1);
	for (i = 0; i < s->n_subs; i++) {
		evbuffer_add(b, i > 0 ? ",{" : "{", i > 0 ? 2 : 1);
		json_key(b, "client_id", 1);
		api_json_str(b, s->client_id, s->id_len);
		api_sub_members(b, &s->subs[i]);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]", 1);
	/* Which packet ids are out, for a client that seems stuck. */
	json_key(b, "inflight_ids", 0);
	evbuffer_add(b, "[", 1);
	TAILQ_FOREACH(d, &s->inflight, entry) {
		evbuffer_add_printf(b, "%s%u", d == TAILQ_FIRST(&s->inflight) ?
		    "" : ",", d->packet_id);
	}
	evbuffer_add(b, "]}\n", 3);
	return HTTP_OK;
}

int
api_kick(struct evhttp_request *req, struct evbuffer *b, const char *arg,
    size_t len)
{
	struct session *s = api_session(arg, len);

	if (s == NULL || s->conn == NULL || !http_client_conn(s->conn))
		return api_fail(b, HTTP_NOTFOUND, "no such client connected");
	log_notice("admin API: kicking %s", conn_label(s->conn));
	conn_close(s->conn, MQTT_RC_ADMINISTRATIVE_ACTION,
	    "kicked by an administrator");
	evbuffer_add(b, "{", 1);
	json_key(b, "kicked", 1);
	api_json_str(b, arg, len);
	/* The conn detached it: still there unless it ended with it. */
	json_kbool(b, "session_kept", session_find(arg, len) != NULL);
	evbuffer_add(b, "}\n", 2);
	return HTTP_OK;
}

/* Sessions collected for a sorted list. */
struct api_sessions {
	const struct api_params *ap;
	struct session **v;
	size_t n, cap;
};

static void
api_sessions_cb(const void *key, size_t len, void *value, void *arg)
{
	struct api_sessions *as = arg;
	struct session *s = value;

	if (!http_client_session(s) || (as->ap->online >= 0 &&
	    (s->conn != NULL) != as->ap->online) ||
	    !api_match(as->ap->client_id, as->ap->client_id_len, s->client_id,
	    s->id_len))
		return;
	if (as->n == as->cap) {
		as->cap = as->cap ? as->cap * 2 : 64;
		as->v = xreallocarray(as->v, as->cap, sizeof *as->v);
	}
	as->v[as->n++] = s;
}

static int
api_session_cmp(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;
	int c = memcmp(x->client_id, y->client_id, x->id_len < y->id_len ?
	    x->id_len : y->id_len);

	return c != 0 ? c : x->id_len < y->id_len ? -1 : x->id_len > y->id_len;
}

static void
api_sessions_collect(struct api_sessions *as, const struct api_params *ap)
{
	memset(as, 0, sizeof *as);
	as->ap = ap;
	hash_foreach(srv.sessions, api_sessions_cb, as);
	if (as->n > 1)
		qsort(as->v, as->n, sizeof *as->v, api_session_cmp);
}

int
api_sessions(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct api_params ap;
	struct api_sessions as;
	const struct session *s;
	size_t i;

	if (api_params(req, API_P_PAGE | API_P_CLIENT | API_P_ONLINE,
	    &ap) != 0) {
		api_params_free(&ap);
		return api_fail(b, HTTP_BADREQUEST, ap.bad);
	}
	api_sessions_collect(&as, &ap);
	api_page_open(b, &ap);
	for (i = 0; i < as.n; i++) {
		if (!api_on_page(b, &ap, i))
			continue;
		s = as.v[i];
		evbuffer_add(b, "{", 1);
		json_key(b, "client_id", 1);
		api_json_str(b, s->client_id, s->id_len);
		api_session_members(b, s);
		json_kbool(b, "will", s->will != NULL);
		evbuffer_add(b, "}", 1);
	}
	api_page_close(b, as.n);
	free(as.v);
	api_params_free(&ap);
	return HTTP_OK;
}

int
api_session_delete(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct session *s = api_session(arg, len);

	if (s == NULL)
		return api_fail(b, HTTP_NOTFOUND, "no such session");
	if (session_cl(s)->moving != NULL || session_cl(s)->moving_in != 0 ||
	    session_cl(s)->claim_from != NULL)
		return api_fail(b, HTTP_CONFLICT, "the session is moving "
		    "between nodes");
	/* A read of its queue from the store is on its way: its answer
	 * would find a new session of the same id (its client back at
	 * once) with the old rows. A moment later it can go. */
	if (session_du(s)->disk_loading)
		return api_fail(b, HTTP_CONFLICT, "the session's queue is being "
		    "read from the store; try again");
	log_notice("admin API: deleting the session of %.*s", (int)len, arg);
	if (s->conn != NULL) {
		conn_close(s->conn, MQTT_RC_ADMINISTRATIVE_ACTION,
		    "session deleted by an administrator");
		/* Detached: gone already when it was not to outlive its
		 * connection. */
		s = session_find(arg, len);
	}
	if (s != NULL)
		session_free(s);
	return api_deleted(b, arg, len);
}

int
api_subscriptions(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct api_params ap;
	struct api_sessions as;
	const struct session *s;
	uint64_t n = 0;
	size_t i, j;

	if (api_params(req, API_P_PAGE | API_P_CLIENT, &ap) != 0) {
		api_params_free(&ap);
		return api_fail(b, HTTP_BADREQUEST, ap.bad);
	}
	api_sessions_collect(&as, &ap);
	api_page_open(b, &ap);
	for (i = 0; i < as.n; i++) {
		s = as.v[i];
		/* A session wholly before the page is skipped at once. */
		if (n + s->n_subs <= ap.offset ||
		    (n >= ap.offset && n - ap.offset >= ap.limit)) {
			n += s->n_subs;
			continue;
		}
		for (j = 0; j < s->n_subs; j++, n++) {
			if (!api_on_page(b, &ap, n))
				continue;
			evbuffer_add(b, "{", 1);
			json_key(b, "client_id", 1);
			api_json_str(b, s->client_id, s->id_len);
			api_sub_members(b, &s->subs[j]);
			evbuffer_add(b, "}", 1);
		}
	}
	api_page_close(b, n);
	free(as.v);
	api_params_free(&ap);
	return HTTP_OK;
}

struct api_retained {
	const struct api_params *ap;
	const struct msg **v;
	size_t n, cap;
};

static void
api_retained_cb(void *value, void *arg)
{
	struct api_retained *ar = arg;
	const struct msg *m = value;

	if (ar->ap->prefix != NULL && (m->topic_len < ar->ap->prefix_len ||
	    memcmp(m->topic, ar->ap->prefix, ar->ap->prefix_len) != 0))
		return;
	if (ar->n == ar->cap) {
		ar->cap = ar->cap ? ar->cap * 2 : 64;
		ar->v = xreallocarray(ar->v, ar->cap, sizeof *ar->v);
	}
	ar->v[ar->n++] = m;
}

static int
api_topic_cmp(const void *a, const void *b)
{
	/* Topics hold no NUL. */
	return strcmp((*(const struct msg *const *)a)->topic,
	    (*(const struct msg *const *)b)->topic);
}

int
api_retained(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct api_params ap;
	struct api_retained ar;
	const struct msg *m;
	time_t now = time(NULL);
	int64_t left;
	size_t i;

	if (api_params(req, API_P_PAGE | API_P_PREFIX, &ap) != 0) {
		api_params_free(&ap);
		return api_fail(b, HTTP_BADREQUEST, ap.bad);
	}
	memset(&ar, 0, sizeof ar);
	ar.ap = &ap;
	retain_foreach(api_retained_cb, &ar);
	if (ar.n > 1)
		qsort(ar.v, ar.n, sizeof *ar.v, api_topic_cmp);
	api_page_open(b, &ap);
	for (i = 0; i < ar.n; i++) {
		if (!api_on_page(b, &ap, i))
			continue;
		m = ar.v[i];
		evbuffer_add(b, "{", 1);
		json_key(b, "topic", 1);
		api_json_str(b, m->topic, m->topic_len);
		json_ku64(b, "size", m->payload_len);
		json_ku64(b, "qos", m->qos);
		json_ku64(b, "received_at", (uint64_t)m->received);
		json_key(b, "expiry", 0);
		if (m->has_expiry) {
			left = (int64_t)m->expiry - (int64_t)(now - m->received);
			evbuffer_add_printf(b, "%lld",
			    (long long)(left > 0 ? left : 0));
		} else {
			evbuffer_add(b, "null", 4);
		}
		evbuffer_add(b, "}", 1);
	}
	api_page_close(b, ar.n);
	free(ar.v);
	api_params_free(&ap);
	return HTTP_OK;
}

int
api_retained_delete(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct mqtt_props props;
	struct mqtt_str payload = { NULL, 0 };
	struct msg *m;

	if (len > UINT16_MAX || !mqtt_topic_name_valid((const uint8_t *)arg,
	    len) || !mqtt_utf8_valid((const uint8_t *)arg, len))
		return api_fail(b, HTTP_BADREQUEST, "not a topic name");
	if (retain_find(arg, (uint32_t)len) == NULL)
		return api_fail(b, HTTP_NOTFOUND, "no retained message on "
		    "that topic");
	log_notice("admin API: clearing the retained message of %.*s",
	    (int)len, arg);
	/* Published as a client's clear would be: retain_store() writes
	 * the store, deliver_route() takes it to the other nodes (each
	 * gets every retained message) and to the subscribers. QoS 1, so
	 * that the forward to a node whose link is down waits for it. */
	memset(&props, 0, sizeof props);
	m = msg_from_parts(&props, NULL, (const uint8_t *)arg, (uint32_t)len,
	    payload, 1, 1);
	retain_store(m);
	deliver_route(m, NULL);
	/* Nobody's ack waits for this message's room. */
	deliver_take_blocker();
	msg_unref(m);
	return api_deleted(b, arg, len);
}

int
api_cluster(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	struct http_peer_stats st;
	const struct peer *p;
	size_t i;

	evbuffer_add(b, "{", 1);
	json_key(b, "node", 1);
	if (srv.cfg.node_name != NULL)
		api_json_str(b, srv.cfg.node_name, strlen(srv.cfg.node_name));
	else
		evbuffer_add(b, "null", 4);
	json_kbool(b, "enabled", bridge_on());
	json_key(b, "peers", 0);
	evbuffer_add(b, "[", 1);
	for (i = 0; bridge_on() && (p = bridge_peer_at(i)) != NULL; i++) {
		http_peer_stats(p, &st);
		evbuffer_add(b, i > 0 ? ",{" : "{", i > 0 ? 2 : 1);
		json_key(b, "name", 1);
		api_json_str(b, p->name, strlen(p->name));
		json_kbool(b, "up", st.up);
		json_kbool(b, "link_in", st.link_in);
		json_kbool(b, "synced", p->synced);
		json_ku64(b, "routes", p->routes != NULL ?
		    hash_count(p->routes) : 0);
		json_ku64(b, "sent_bytes", st.sent_bytes);
		json_ku64(b, "received_bytes", st.received_bytes);
		json_ku64(b, "forwarded", st.forwarded);
		json_ku64(b, "received", st.received);
		json_ku64(b, "queued", st.queued);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]}\n", 3);
	return HTTP_OK;
}

int
api_drain(struct evhttp_request *req, struct evbuffer *b, const char *arg,
    size_t len)
{
	int n;

	if ((n = server_drain()) < 0)
		return api_fail(b, HTTP_CONFLICT, srv.shutting_down ?
		    "shutting down" : "draining already");
	log_notice("admin API: drained");
	evbuffer_add(b, "{", 1);
	json_key(b, "draining", 1);
	evbuffer_add(b, "true", 4);
	json_ku64(b, "connections_closed", (uint64_t)n);
	evbuffer_add(b, "}\n", 2);
	return HTTP_OK;
}
