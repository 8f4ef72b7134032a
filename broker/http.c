/*
 * http.c - the HTTP listener (http_listener): the node's state for
 * operators, /metrics in the Prometheus text format, more to come (the
 * JSON API, the dashboard).
 *
 * libevent's evhttp, on the node's loop like everything else: a scrape
 * reads the node's state where it lives, with no copy and no lock. What
 * a scrape costs is one walk over the connections and one over the
 * sessions (the gauges of queued messages and of sessions online), a
 * walk over the peers, and a few reads of /proc/self; no counter is
 * kept for HTTP's sake on the MQTT hot path but the publish/deliver
 * counts (one increment each) and the commit clock (persist.c).
 *
 * Every request needs "Authorization: Bearer <token>", one of the lines
 * of http_token_file (reloaded on SIGHUP, a bad file keeping the old
 * tokens); otherwise 401 with WWW-Authenticate: Bearer. Tokens are kept
 * as SHA-256 digests and the presented one's digest is compared with
 * every one of them in constant time (mbedtls_ct_memcmp, no early exit),
 * so neither the time taken nor the memory tells a token. An HTTP
 * listener without a token file does not start: an open admin port is a
 * trap. Only with http_allow_anonymous true on a loopback address
 * (127.0.0.1, ::1) may it go without one.
 *
 * With http_certfile the listener speaks https: TLS ends in httptls.c,
 * which relays the plaintext to this evhttp over a private socket (why
 * evhttp cannot run over tls.c's filter is said there); the handlers
 * below do not know the difference.
 *
 * Requests are bounded: HTTP_MAX_HEADERS bytes of headers and
 * HTTP_MAX_BODY of body (evhttp refuses more before reading it), and an
 * idle connection is closed after HTTP_TIMEOUT seconds.
 *
 * What answers is http_routes: a path, the methods it takes, a handler
 * that fills the body and returns the status. A row may take an argument
 * after its path (HTTP_ARG_SEGMENT: one segment, no '/', as a client id
 * percent-encoded; HTTP_ARG_REST: the rest of the path, as a topic),
 * followed by a fixed suffix ("/kick"); the argument is percent-decoded
 * here, strictly (a bad escape or a NUL is 400), and the handler gets
 * the bytes. An unknown path is 404, a method the path does not take 405
 * with Allow; under /api/ every answer, errors included, is JSON
 * ({"error":"..."}, api.c). The rows of the dashboard's files
 * (HTTP_OPEN) are the only ones served without a token: they hold no
 * data, and the page asks for the token itself.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netdb.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <mbedtls/constant_time.h>

#include "broker.h"
#include "pwhash.h"

#define HTTP_MAX_HEADERS 8192 /* and HTTPTLS_IN_MAX in httptls.c */
#define HTTP_MAX_BODY 4096
#define HTTP_TIMEOUT 10 /* and HTTPTLS_CLOSE_SECS */
#define HTTP_TOKEN_MAX 1024 /* bytes of one token line */

#define HTTP_ARG_SEGMENT 0x01 /* one path segment follows path */
#define HTTP_ARG_REST 0x02 /* the rest of the path follows path */
#define HTTP_OPEN 0x04 /* served without a token */

struct http_route {
	const char *path;
	const char *suffix; /* after the argument; "" for none */
	int flags; /* HTTP_ARG_*, HTTP_OPEN */
	int methods; /* EVHTTP_REQ_* */
	const char *allow; /* its part of the Allow header of a 405 */
	http_handler fn;
};

#define GET EVHTTP_REQ_GET
#define GET_HEAD (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define SEG HTTP_ARG_SEGMENT

static int http_metrics(struct evhttp_request *, struct evbuffer *,
    const char *, size_t);
static int http_static(struct evhttp_request *, struct evbuffer *,
    const char *, size_t);

static const struct http_route http_routes[] = {
	{ "/metrics", "", 0, GET_HEAD, "GET, HEAD", http_metrics },
	{ "/", "", HTTP_OPEN, GET_HEAD, "GET, HEAD", http_static },
	{ "/ui/", "", HTTP_ARG_REST | HTTP_OPEN, GET_HEAD, "GET, HEAD",
	    http_static },
	{ "/api/v1/status", "", 0, GET, "GET", api_status },
	{ "/api/v1/clients", "", 0, GET, "GET", api_clients },
	{ "/api/v1/clients/", "", SEG, GET, "GET", api_client },
	{ "/api/v1/clients/", "/kick", SEG, EVHTTP_REQ_POST, "POST",
	    api_kick },
	{ "/api/v1/sessions", "", 0, GET, "GET", api_sessions },
	{ "/api/v1/sessions/", "", SEG, GET, "GET", api_client },
	{ "/api/v1/sessions/", "", SEG, EVHTTP_REQ_DELETE, "DELETE",
	    api_session_delete },
	{ "/api/v1/subscriptions", "", 0, GET, "GET", api_subscriptions },
	{ "/api/v1/retained", "", 0, GET, "GET", api_retained },
	{ "/api/v1/retained/", "", HTTP_ARG_REST, EVHTTP_REQ_DELETE, "DELETE",
	    api_retained_delete },
	{ "/api/v1/cluster", "", 0, GET, "GET", api_cluster },
	{ "/api/v1/drain", "", 0, EVHTTP_REQ_POST, "POST", api_drain },
};

#undef GET
#undef GET_HEAD
#undef SEG

#define HTTP_NROUTES (sizeof http_routes / sizeof http_routes[0])

static struct evhttp *http;
static char http_addr[64];
static uint16_t http_bound_port;
static struct timespec http_t0; /* the node's start (http_init) */
static time_t http_t0_wall;
static uint8_t (*tokens)[32]; /* SHA-256 of each token */
static size_t n_tokens;

/* --- tokens --- */

/* Read path: one token per line, blank lines and # comments skipped.
 * Returns the number read (*out, a malloc'd array) or -1 (err set). */
static int
http_tokens_load(const char *path, uint8_t (**out)[32], size_t *n,
    char *err, size_t errlen)
{
	char line[HTTP_TOKEN_MAX + 2], *s, *e;
	uint8_t (*t)[32] = NULL;
	size_t cnt = 0, len;
	unsigned lineno = 0;
	FILE *fp;

	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%u: line too long", path,
			    lineno);
			goto fail;
		}
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' ||
		    e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		t = xreallocarray(t, cnt + 1, sizeof *t);
		if (pwhash_sha256((const uint8_t *)s, (size_t)(e - s),
		    t[cnt]) != 0) {
			snprintf(err, errlen, "%s: cannot hash", path);
			goto fail;
		}
		cnt++;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(fp);
	if (cnt == 0) {
		snprintf(err, errlen, "%s has no token", path);
		free(t);
		return -1;
	}
	explicit_bzero(line, sizeof line);
	*out = t;
	*n = cnt;
	return (int)cnt;
fail:
	explicit_bzero(line, sizeof line);
	fclose(fp);
	free(t);
	return -1;
}

/* 1 when req carries one of the tokens (or none is needed). */
static int
http_authorized(struct evhttp_request *req)
{
	const char *h;
	uint8_t d[32];
	size_t i;
	int match = 0;

	if (srv.cfg.http_token_file == NULL)
		return 1; /* http_allow_anonymous, on loopback (http_init) */
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	if (*h == '\0' || pwhash_sha256((const uint8_t *)h, strlen(h),
	    d) != 0)
		return 0;
	for (i = 0; i < n_tokens; i++)
		match |= mbedtls_ct_memcmp(d, tokens[i], sizeof d) == 0;
	return match;
}

/* --- what /metrics and the JSON API both read --- */

int
http_client_conn(const struct conn *c)
{
	return c->state == CONN_ACTIVE && c->link == LINK_NONE &&
	    c->session != NULL && c->listener != NULL && !c->listener->cluster;
}

int
http_client_session(const struct session *s)
{
	/* Not a forward queue ("$peer/"), nor a node's link to us
	 * ("$cluster/"): those are the cluster's; nor a bridge's session
	 * ("$bridge/"), which has its own metrics. */
	return session_cl(s)->peer == NULL && !session_cl(s)->cluster_in &&
	    session_cl(s)->xb == NULL;
}

static void
http_count_cb(const void *key, size_t len, void *value, void *arg)
{
	const struct session *s = value;
	struct http_counts *hc = arg;

	if (!http_client_session(s))
		return;
	if (s->conn != NULL)
		hc->online++;
	else
		hc->offline++;
	hc->queued += s->n_queued + s->n_inflight + session_du(s)->disk_count;
	hc->queued_bytes += s->queued_bytes + session_du(s)->disk_bytes;
	hc->subscriptions += s->n_subs;
}

void
http_counts(struct http_counts *hc)
{
	const struct conn *c;

	memset(hc, 0, sizeof *hc);
	hash_foreach(srv.sessions, http_count_cb, hc);
	TAILQ_FOREACH(c, &srv.conns, entry)
		hc->connections += http_client_conn(c);
}

void
http_peer_stats(const struct peer *p, struct http_peer_stats *st)
{
	const struct session *q = p->out;

	st->up = bridge_peer_up(p);
	st->link_in = p->link_in != NULL;
	st->sent_bytes = p->tx_bytes + (st->up ? q->conn->tx_bytes : 0) +
	    (p->link_in != NULL ? p->link_in->tx_bytes : 0);
	st->received_bytes = p->rx_bytes + (st->up ? q->conn->rx_bytes : 0) +
	    (p->link_in != NULL ? p->link_in->rx_bytes : 0);
	st->forwarded = p->forwarded;
	st->received = p->received;
	st->queued = q->n_queued + q->n_inflight + session_du(q)->disk_count;
}

/* --- /metrics: Prometheus text exposition format 0.0.4 --- */

static void
m_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A label value, escaped as the format asks (\\, \", \n). */
static void
m_label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
m_u64(struct evbuffer *b, const char *name, uint64_t v)
{
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* name{label="value"} v */
static void
m_u64_l(struct evbuffer *b, const char *name, const char *label,
    const char *value, uint64_t v)
{
	evbuffer_add_printf(b, "%s{%s=\"", name, label);
	m_label(b, value);
	evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)v);
}

static void
m_one(struct evbuffer *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	m_family(b, name, type, help);
	m_u64(b, name, v);
}

static void
m_auth_checks(struct evbuffer *b)
{
	uint64_t computed, abandoned;

	pwcheck_counts(&computed, &abandoned);
	m_family(b, "tern_auth_checks_total", "counter", "Password and JWT "
	    "signature checks given to the worker: computed, or abandoned "
	    "before it started them (the connection went).");
	m_u64_l(b, "tern_auth_checks_total", "outcome", "computed", computed);
	m_u64_l(b, "tern_auth_checks_total", "outcome", "abandoned",
	    abandoned);
}

static const char *
m_version_name(uint8_t v)
{
	return v == MQTT_V5 ? "5" : v == MQTT_V311 ? "3.1.1" : "3.1";
}

/* Connections that sent CONNECT, by listener and protocol version. */
static void
m_connections(struct evbuffer *b)
{
	static const uint8_t versions[] = { MQTT_V31, MQTT_V311, MQTT_V5 };
	const struct conn *c;
	char label[96];
	size_t i, v, n, nl = srv.cfg.n_listeners;
	uint64_t *count = xcalloc(nl * 3 + 1, sizeof *count);

	TAILQ_FOREACH(c, &srv.conns, entry) {
		if (!http_client_conn(c))
			continue;
		i = (size_t)(c->listener - srv.cfg.listeners);
		v = c->version == MQTT_V5 ? 2 : c->version == MQTT_V311 ? 1 :
		    0;
		if (i < nl)
			count[i * 3 + v]++;
	}
	m_family(b, "tern_connections", "gauge",
	    "Client connections that sent CONNECT, by listener and "
	    "protocol version.");
	for (i = 0; i < nl; i++) {
		listener_label(&srv.cfg.listeners[i], label, sizeof label);
		for (n = 0; n < 3; n++) {
			evbuffer_add(b, "tern_connections{listener=\"", 27);
			m_label(b, label);
			evbuffer_add_printf(b, "\",protocol=\"%s\","
			    "version=\"%s\"} %llu\n",
			    srv.cfg.listeners[i].websockets ?
			    "websockets" : "mqtt", m_version_name(versions[n]),
			    (unsigned long long)count[i * 3 + n]);
		}
	}
	free(count);
}

static void
m_sessions(struct evbuffer *b)
{
	struct http_counts hc;

	http_counts(&hc);
	m_family(b, "tern_sessions", "gauge",
	    "Client sessions, with a connection (online) or without.");
	m_u64_l(b, "tern_sessions", "state", "online", hc.online);
	m_u64_l(b, "tern_sessions", "state", "offline", hc.offline);
	m_one(b, "tern_queued_messages", "gauge",
	    "Messages queued or in flight to client sessions, in memory "
	    "and on disk.", hc.queued);
	m_one(b, "tern_queued_bytes", "gauge",
	    "Payload bytes of tern_queued_messages.", hc.queued_bytes);
}

static void
m_messages(struct evbuffer *b)
{
	static const char *const qos[3] = { "0", "1", "2" };
	size_t i;

	m_family(b, "tern_messages_published_total", "counter",
	    "PUBLISH packets received from clients, by QoS.");
	for (i = 0; i < 3; i++)
		m_u64_l(b, "tern_messages_published_total", "qos", qos[i],
		    srv.published[i]);
	m_family(b, "tern_messages_delivered_total", "counter",
	    "PUBLISH packets sent to clients, by QoS (resends not "
	    "counted).");
	for (i = 0; i < 3; i++)
		m_u64_l(b, "tern_messages_delivered_total", "qos", qos[i],
		    srv.delivered[i]);
	m_family(b, "tern_messages_dropped_total", "counter",
	    "Messages lost or refused, by reason (as $events/message/"
	    "dropped names it).");
	for (i = 0; i < EVENTS_DROP_N; i++)
		m_u64_l(b, "tern_messages_dropped_total", "reason",
		    events_drop_name((enum events_drop)i), srv.dropped[i]);
	m_one(b, "tern_offline_sessions_parked", "gauge",
	    "Offline sessions whose short queue is kept in memory "
	    "(offline_queue_cache).", persist_parked());
	m_one(b, "tern_group_log_entries_total", "counter",
	    "Messages written once to a group log for offline sessions "
	    "(group_log_threshold).", srv.glog_entries);
	m_one(b, "tern_group_log_deliveries_total", "counter",
	    "Queued messages of offline sessions that group log entries "
	    "stand for.", srv.glog_deliveries);
	m_one(b, "tern_group_log_spans_total", "counter",
	    "Span rows written for sessions over group logs.",
	    srv.glog_spans);
}

/* One of persist.c's latency histograms as family name. */
static void
m_histogram(struct evbuffer *b, const char *name, const char *help,
    const struct persist_commit_stats *st)
{
	uint64_t cum = 0;
	size_t i;

	m_family(b, name, "histogram", help);
	for (i = 0; i < PERSIST_COMMIT_BUCKETS; i++) {
		cum += st->bucket[i];
		evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
		    persist_commit_le[i], (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)st->count);
	evbuffer_add_printf(b, "%s_sum %.9f\n", name, st->sum);
	evbuffer_add_printf(b, "%s_count %llu\n", name,
	    (unsigned long long)st->count);
}

static void
m_store(struct evbuffer *b)
{
	m_histogram(b, "tern_store_commit_seconds", "Store commit latency, "
	    "from the batch's close to its completion.",
	    persist_commit_stats());
	m_one(b, "tern_store_commit_failures_total", "counter",
	    "Store commits that failed.", persist_commit_stats()->failures);
	m_histogram(b, "tern_store_read_seconds", "Queue reads of resuming "
	    "sessions, from the read's issue to its rows (newer messages "
	    "for the session wait for it).", persist_read_stats());
}

static void
m_cluster(struct evbuffer *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "tern_cluster_link_up", "gauge",
		    "1 when the outbound link to the peer node is up." },
		{ "tern_cluster_link_sent_bytes_total", "counter",
		    "Bytes sent to the peer node, on both links." },
		{ "tern_cluster_link_received_bytes_total", "counter",
		    "Bytes read from the peer node, on both links." },
		{ "tern_cluster_forwarded_messages_total", "counter",
		    "Messages forwarded to the peer node." },
		{ "tern_cluster_received_messages_total", "counter",
		    "Messages the peer node forwarded to this one." },
		{ "tern_cluster_queued_messages", "gauge",
		    "Messages waiting in the peer node's forward queue." },
	};
	struct http_peer_stats st;
	const struct peer *p;
	uint64_t v;
	size_t f, i;

	for (f = 0; f < sizeof fam / sizeof fam[0]; f++) {
		m_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
			http_peer_stats(p, &st);
			v = f == 0 ? (uint64_t)st.up : f == 1 ? st.sent_bytes :
			    f == 2 ? st.received_bytes : f == 3 ? st.forwarded :
			    f == 4 ? st.received : st.queued;
			m_u64_l(b, fam[f].name, "peer", p->name, v);
		}
	}
}

/* Bridges to other brokers (mqttbridge.c), by connection name. */
static void
m_bridges(struct evbuffer *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "tern_bridge_up", "gauge",
		    "1 when the bridge is connected to its remote broker." },
		{ "tern_bridge_sent_messages_total", "counter",
		    "Messages sent to the remote broker, resends included." },
		{ "tern_bridge_received_messages_total", "counter",
		    "Messages from the remote broker published here." },
		{ "tern_bridge_queued_messages", "gauge",
		    "Messages for the remote broker, queued or in flight." },
	};
	const struct mqttbridge_conf *c;
	struct mqttbridge_stats st;
	size_t f, i;

	for (f = 0; f < sizeof fam / sizeof fam[0]; f++) {
		m_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (i = 0; (c = mqttbridge_at(i, &st)) != NULL; i++)
			m_u64_l(b, fam[f].name, "name", c->name, f == 0 ?
			    (uint64_t)st.up : f == 1 ? st.sent : f == 2 ?
			    st.received : st.queued);
	}
}

static void
m_push(struct evbuffer *b)
{
	uint64_t sent, failed, dropped, waiting, errors;

	push_stats(&sent, &failed, &dropped, &waiting, &errors);
	m_one(b, "tern_push_sent_total", "counter",
	    "Push webhook events the server took.", sent);
	m_one(b, "tern_push_failed_total", "counter",
	    "Push webhook events in batches the server refused (4xx).",
	    failed);
	m_one(b, "tern_push_dropped_total", "counter",
	    "Push webhook events dropped past push_queue_max.", dropped);
	m_one(b, "tern_push_waiting", "gauge",
	    "Push webhook events not yet sent.", waiting);
	m_one(b, "tern_push_errors_total", "counter",
	    "Push webhook requests that failed and are sent again.", errors);
}

/* Resident set size from /proc/self/statm (pages), 0 when unknown. */
static uint64_t
m_rss(void)
{
	unsigned long long size, resident = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(fp);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t
m_open_fds(void)
{
	struct dirent *de;
	uint64_t n = 0;
	DIR *d = opendir("/proc/self/fd");

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not opendir's own */
}

static void
m_process(struct evbuffer *b)
{
	struct rusage ru;
	struct rlimit rl;
	double cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	m_family(b, "process_cpu_seconds_total", "counter",
	    "User and system CPU time spent, in seconds.");
	evbuffer_add_printf(b, "process_cpu_seconds_total %.6f\n", cpu);
	m_one(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", m_rss());
	m_one(b, "process_open_fds", "gauge",
	    "Number of open file descriptors.", m_open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		m_one(b, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.",
		    (uint64_t)rl.rlim_cur);
}

static int
http_metrics(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	m_connections(b);
	m_sessions(b);
	m_one(b, "tern_subscriptions", "gauge",
	    "Subscriptions, with the other nodes' routes.",
	    trie_count(srv.subs));
	m_one(b, "tern_retained_messages", "gauge", "Retained messages.",
	    retain_count());
	m_one(b, "tern_retained_bytes", "gauge",
	    "Memory held by retained messages, in bytes.", retain_bytes());
	m_messages(b);
	m_store(b);
	m_one(b, "tern_auth_checks_waiting", "gauge",
	    "Password and JWT checks started and not yet answered.",
	    pwcheck_waiting());
	m_auth_checks(b);
	if (bridge_on())
		m_cluster(b);
	if (srv.cfg.push_webhook != NULL)
		m_push(b);
	if (srv.cfg.n_bridges > 0)
		m_bridges(b);
	m_process(b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	return HTTP_OK;
}

/* --- the dashboard's files (broker/www, compiled in by embed.sh) --- */

static int
http_static(struct evhttp_request *req, struct evbuffer *b,
    const char *arg, size_t len)
{
	const char *path = evhttp_uri_get_path(
	    evhttp_request_get_evhttp_uri(req));
	size_t i;

	for (i = 0; i < www_nfiles; i++) {
		if (strcmp(path, www_files[i].path) != 0)
			continue;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", www_files[i].type);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Cache-Control", "no-cache");
		evbuffer_add_reference(b, www_files[i].data, www_files[i].len,
		    NULL, NULL);
		return HTTP_OK;
	}
	return HTTP_NOTFOUND;
}

/* --- requests --- */

static int
http_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
http_decode(const char *s, size_t len, int plus, char **out, size_t *outlen)
{
	char *d = xmalloc(len + 1);
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+' && plus) {
			d[n++] = ' ';
		} else if (s[i] != '%') {
			d[n++] = s[i];
		} else {
			if (len - i < 3 || (hi = http_hex(s[i + 1])) < 0 ||
			    (lo = http_hex(s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0)) {
				free(d);
				return -1;
			}
			d[n++] = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	d[n] = '\0';
	*out = d;
	*outlen = n;
	return 0;
}

/* 1 when path is r's, with *arg and *len the encoded argument. */
static int
http_route_match(const struct http_route *r, const char *path,
    const char **arg, size_t *len)
{
	size_t plen = strlen(r->path), slen = strlen(r->suffix), rest;

	*arg = NULL;
	*len = 0;
	if ((r->flags & (HTTP_ARG_SEGMENT | HTTP_ARG_REST)) == 0)
		return strcmp(path, r->path) == 0;
	if (strncmp(path, r->path, plen) != 0)
		return 0;
	path += plen;
	rest = strlen(path);
	if (rest <= slen || strcmp(path + rest - slen, r->suffix) != 0)
		return 0;
	rest -= slen;
	if ((r->flags & HTTP_ARG_SEGMENT) && memchr(path, '/', rest) != NULL)
		return 0;
	*arg = path;
	*len = rest;
	return 1;
}

static void
http_reply(struct evhttp_request *req, int code, const char *text,
    struct evbuffer *body, int api)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	if (evbuffer_get_length(body) == 0 && api) {
		api_error(body, text);
	} else if (evbuffer_get_length(body) == 0) {
		evhttp_add_header(out, "Content-Type",
		    "text/plain; charset=utf-8");
		evbuffer_add_printf(body, "%d %s\n", code, text);
	}
	if (api && evhttp_find_header(out, "Content-Type") == NULL)
		evhttp_add_header(out, "Content-Type", "application/json");
	/* The page may load nothing from elsewhere and may not be framed
	 * (a kick button under another site's page). */
	evhttp_add_header(out, "Content-Security-Policy",
	    "default-src 'self'; frame-ancestors 'none'");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Referrer-Policy", "no-referrer");
	evhttp_send_reply(req, code, text, body);
}

static const char *
http_status_text(int code)
{
	switch (code) {
	case HTTP_OK:
		return "OK";
	case HTTP_BADREQUEST:
		return "Bad Request";
	case HTTP_NOTFOUND:
		return "Not Found";
	case 409:
		return "Conflict";
	default:
		return "Error";
	}
}

static void
http_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct http_route *r = NULL;
	const char *rarg = NULL, *a;
	char allow[64] = "", *darg = NULL;
	size_t i, rlen = 0, alen, dlen = 0;
	int code, api, open_route = 0, matched = 0;

	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	api = path != NULL && strncmp(path, "/api/", 5) == 0;
	for (i = 0; path != NULL && i < HTTP_NROUTES; i++) {
		if (!http_route_match(&http_routes[i], path, &a, &alen))
			continue;
		matched = 1;
		open_route |= (http_routes[i].flags & HTTP_OPEN) != 0;
		if ((cmd & http_routes[i].methods) != 0 && r == NULL) {
			r = &http_routes[i];
			rarg = a;
			rlen = alen;
		} else if ((cmd & http_routes[i].methods) == 0) {
			alen = strlen(allow);
			snprintf(allow + alen, sizeof allow - alen, "%s%s",
			    alen > 0 ? ", " : "", http_routes[i].allow);
		}
	}
	/* The token before anything of the table is told, but for the
	 * dashboard's files. */
	if (!open_route && !http_authorized(req)) {
		evhttp_add_header(out, "WWW-Authenticate",
		    "Bearer realm=\"tern\"");
		http_reply(req, 401, "Unauthorized", body, api);
		goto done;
	}
	if (r == NULL && matched) {
		evhttp_add_header(out, "Allow", allow);
		http_reply(req, HTTP_BADMETHOD, "Method Not Allowed", body,
		    api);
		goto done;
	}
	if (r == NULL) {
		http_reply(req, HTTP_NOTFOUND, "Not Found", body, api);
		goto done;
	}
	if (rarg != NULL && http_decode(rarg, rlen, 0, &darg, &dlen) != 0) {
		http_reply(req, HTTP_BADREQUEST, "bad percent-encoding in the "
		    "path", body, api);
		goto done;
	}
	code = r->fn(req, body, darg, dlen);
	http_reply(req, code, http_status_text(code), body, api);
done:
	free(darg);
	evbuffer_free(body);
}

/* --- life --- */

static int
http_loopback(const char *a)
{
	/* Addresses only: a name could resolve to more than loopback. */
	return strcmp(a, "127.0.0.1") == 0 || strcmp(a, "::1") == 0;
}

int
http_init(void)
{
	char err[512];

	clock_gettime(CLOCK_MONOTONIC, &http_t0);
	http_t0_wall = time(NULL);
	/* Before the test below: http_certfile without http_listener is
	 * refused, not ignored. */
	if (httptls_init() != 0)
		return -1;
	if (!srv.cfg.http_listener)
		return 0;
	if (srv.cfg.http_token_file == NULL) {
		if (!srv.cfg.http_allow_anonymous) {
			log_error("http_listener needs http_token_file (every "
			    "request must carry one of its tokens); without "
			    "one, only on 127.0.0.1 or ::1 and with "
			    "http_allow_anonymous true");
			return -1;
		}
		if (!http_loopback(srv.cfg.http_address)) {
			log_error("http_listener on %s: http_allow_anonymous "
			    "is for 127.0.0.1 or ::1 only; set "
			    "http_token_file", srv.cfg.http_address);
			return -1;
		}
		log_warn("http_listener without tokens: anyone on this host "
		    "may read it (http_allow_anonymous)");
		return 0;
	}
	if (http_tokens_load(srv.cfg.http_token_file, &tokens, &n_tokens,
	    err, sizeof err) < 0) {
		log_error("http_token_file %s", err);
		return -1;
	}
	return 0;
}

int
http_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	evutil_socket_t fd;

	if (!srv.cfg.http_listener)
		return 0;
	http = evhttp_new(srv.base);
	if (http == NULL) {
		log_error("cannot create the HTTP listener");
		return -1;
	}
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http, HTTP_MAX_BODY);
	evhttp_set_timeout(http, HTTP_TIMEOUT);
	/* Every method reaches http_cb, which answers 405 itself. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, http_cb, NULL);
	if (httptls_on()) {
		/* https: evhttp gets a private socket, httptls.c the port. */
		if ((fd = httptls_start(http, srv.cfg.http_address,
		    srv.cfg.http_port)) < 0)
			return -1;
	} else {
		bs = evhttp_bind_socket_with_handle(http, srv.cfg.http_address,
		    srv.cfg.http_port);
		if (bs == NULL) {
			log_error("cannot listen on %s port %u (http_listener): "
			    "%s", srv.cfg.http_address, srv.cfg.http_port,
			    strerror(errno));
			return -1;
		}
		fd = evhttp_bound_socket_get_fd(bs);
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, http_addr,
	    sizeof http_addr, NULL, 0, NI_NUMERICHOST) != 0) {
		log_error("http_listener: %s", strerror(errno));
		return -1;
	}
	http_bound_port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	log_notice("listening on %s port %u (%s: /metrics, /api/v1/, the "
	    "dashboard)", http_addr, http_bound_port, httptls_on() ? "HTTPS" :
	    "HTTP");
	return 0;
}

void
http_uptime(time_t *started, uint64_t *seconds, char *addr, size_t len)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	*started = http_t0_wall;
	*seconds = (uint64_t)(now.tv_sec - http_t0.tv_sec);
	snprintf(addr, len, "%s%s%s:%u", strchr(http_addr, ':') ? "[" : "",
	    http_addr, strchr(http_addr, ':') ? "]" : "", http_bound_port);
}

void
http_ready(FILE *fp)
{
	if (http != NULL)
		fprintf(fp, "http %s %u\n", http_addr, http_bound_port);
}

void
http_reload(void)
{
	uint8_t (*t)[32];
	char err[512];
	size_t n;

	if (http == NULL)
		return;
	httptls_reload();
	if (srv.cfg.http_token_file == NULL)
		return;
	if (http_tokens_load(srv.cfg.http_token_file, &t, &n, err,
	    sizeof err) < 0) {
		log_error("http_token_file not reloaded, keeping the previous "
		    "tokens: %s", err);
		return;
	}
	free(tokens);
	tokens = t;
	n_tokens = n;
	log_notice("http token file %s reloaded: %zu tokens",
	    srv.cfg.http_token_file, n);
}

void
http_free(void)
{
	/* The relays before evhttp, whose connections are their ends. */
	httptls_free();
	if (http != NULL)
		evhttp_free(http);
	http = NULL;
	free(tokens);
	tokens = NULL;
	n_tokens = 0;
}
