/*
 * ternctl_http.c - one request to a node's admin API, with libevent's
 * evhttp client (the library ternd serves it with).
 *
 * Design note. A command makes one request (clients --all one per page),
 * each on a new connection with "Connection: close": there is nothing to
 * gain from keeping one open between the few requests of a command, and
 * a new connection per request lets the connect step below be watched.
 *
 * evhttp tells a request's callback that no answer came (status 0) but
 * not why: when the connection itself fails, it only retries or gives
 * up, and its own cleanup overwrites errno. Operators need to tell "no
 * node there" (connection refused) from "a node that does not answer"
 * (a time-out) from "no such host", so:
 * - the host is resolved here first (getaddrinfo: "unknown host" is its
 *   error), and evhttp connects to the numeric address;
 * - the connection's event callback is wrapped for the connect step:
 *   evhttp_make_request() only starts connecting, and the wrapper, put
 *   in right after it, records EVUTIL_SOCKET_ERROR() and whether it was
 *   a time-out when the connect fails, then hands over to evhttp's own
 *   callback. Once connected evhttp installs its callbacks again, so the
 *   wrapper sees nothing else.
 * A timer bounds the whole request (connect, send, answer) by the
 * time-out, whatever evhttp's own timeouts do; the answer's body is
 * bounded by CTL_MAX_BODY (a page of 1000 items is well under 1 MiB).
 */
#include "config.h"

#include <sys/socket.h>

#include <netdb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "ternctl.h"

#define CTL_MAX_BODY (64u << 20)
#define CTL_MAX_HEADERS (64u << 10)

struct ctl_call {
	struct event_base *base;
	struct evhttp_connection *evcon;
	struct ctl_answer *a;
	int done; /* 1 answered, -1 failed */
	char *err;
	size_t errlen;
	double timeout;
	const char *where; /* host:port, for messages */
	/* the connect step (see the design note) */
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *ev_arg;
	int conn_failed, conn_errno, conn_timeout;
	int req_error; /* an evhttp_request_error, -1 none */
};

struct ctl_url {
	char *host; /* without IPv6 brackets */
	char *hostport; /* for Host: and messages */
	char *prefix; /* the URL's path, without its last '/'; may be "" */
	int port;
};

static void
url_free(struct ctl_url *u)
{
	free(u->host);
	free(u->hostport);
	free(u->prefix);
}

static int
url_parse(const char *url, struct ctl_url *u, char *err, size_t errlen)
{
	struct evhttp_uri *uri;
	const char *scheme, *host, *path;
	size_t hlen, plen;

	memset(u, 0, sizeof *u);
	uri = evhttp_uri_parse(url);
	if (uri == NULL) {
		snprintf(err, errlen, "bad URL '%s'", url);
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0) {
		snprintf(err, errlen, "bad URL '%s': http://HOST[:PORT] only",
		    url);
		goto bad;
	}
	if (host == NULL || *host == '\0' ||
	    evhttp_uri_get_userinfo(uri) != NULL ||
	    evhttp_uri_get_query(uri) != NULL ||
	    evhttp_uri_get_fragment(uri) != NULL) {
		snprintf(err, errlen, "bad URL '%s': http://HOST[:PORT] with "
		    "an optional path only", url);
		goto bad;
	}
	hlen = strlen(host);
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']')
		u->host = strndup(host + 1, hlen - 2);
	else
		u->host = strdup(host);
	u->port = evhttp_uri_get_port(uri);
	if (u->port < 0)
		u->port = 80;
	if (u->port == 0 || u->port > 65535) {
		snprintf(err, errlen, "bad URL '%s': port %d", url, u->port);
		goto bad;
	}
	if (asprintf(&u->hostport, "%s:%d", host, u->port) < 0)
		abort();
	path = evhttp_uri_get_path(uri);
	plen = path != NULL ? strlen(path) : 0;
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	u->prefix = strndup(path != NULL ? path : "", plen);
	if (u->host == NULL || u->prefix == NULL)
		abort();
	evhttp_uri_free(uri);
	return 0;
bad:
	evhttp_uri_free(uri);
	url_free(u);
	return -1;
}

int
ctl_url_check(const char *url, char *err, size_t errlen)
{
	struct ctl_url u;

	if (url_parse(url, &u, err, errlen) != 0)
		return -1;
	url_free(&u);
	return 0;
}

static void
finish(struct ctl_call *c, int done)
{
	if (c->done == 0)
		c->done = done;
	event_base_loopbreak(c->base);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_call *c = arg;

	snprintf(c->err, c->errlen, "%s: no answer within %g s", c->where,
	    c->timeout);
	finish(c, -1);
}

static void
connect_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_call *c = arg;

	if ((what & BEV_EVENT_CONNECTED) == 0) {
		c->conn_failed = 1;
		c->conn_errno = EVUTIL_SOCKET_ERROR();
		c->conn_timeout = (what & BEV_EVENT_TIMEOUT) != 0;
	}
	c->ev(bev, what, c->ev_arg);
}

static void
error_cb(enum evhttp_request_error e, void *arg)
{
	struct ctl_call *c = arg;

	c->req_error = (int)e;
}

static const char *
req_error_text(int e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed before an answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "not an HTTP answer";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "answer too long";
	default:
		return "no answer";
	}
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct ctl_call *c = arg;
	struct evbuffer *in;
	size_t n;

	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		if (c->conn_failed && c->conn_timeout)
			snprintf(c->err, c->errlen, "%s: timed out connecting "
			    "(%g s)", c->where, c->timeout);
		else if (c->conn_failed && c->conn_errno == ECONNREFUSED)
			snprintf(c->err, c->errlen, "%s: connection refused "
			    "(no ternd there, or no http_listener)", c->where);
		else if (c->conn_failed && c->conn_errno != 0)
			snprintf(c->err, c->errlen, "%s: cannot connect: %s",
			    c->where, strerror(c->conn_errno));
		else
			snprintf(c->err, c->errlen, "%s: %s", c->where,
			    req_error_text(c->req_error));
		finish(c, -1);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	n = evbuffer_get_length(in);
	c->a->status = evhttp_request_get_response_code(req);
	c->a->body = malloc(n + 1);
	if (c->a->body == NULL)
		abort();
	evbuffer_remove(in, c->a->body, n);
	c->a->body[n] = '\0';
	c->a->len = n;
	finish(c, 1);
}

/* The numeric address of u->host, for evhttp (see the design note). */
static int
resolve(const struct ctl_url *u, char *num, size_t len, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(u->host, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, num, (socklen_t)len,
	    NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	return 0;
}

int
ctl_request(const struct ctl_target *t, int method, const char *path,
    struct ctl_answer *a, char *err, size_t errlen)
{
	struct ctl_call c;
	struct ctl_url u;
	struct evhttp_request *req = NULL;
	struct evkeyvalq *h;
	struct bufferevent *bev;
	struct event *deadline = NULL;
	struct timeval tv;
	char num[NI_MAXHOST], *uri = NULL, *auth = NULL;
	int rc = -1;

	memset(a, 0, sizeof *a);
	memset(&c, 0, sizeof c);
	if (url_parse(t->url, &u, err, errlen) != 0)
		return -1;
	if (resolve(&u, num, sizeof num, err, errlen) != 0)
		goto out;
	c.a = a;
	c.err = err;
	c.errlen = errlen;
	c.timeout = t->timeout;
	c.where = t->url;
	c.req_error = -1;
	c.base = event_base_new();
	if (c.base == NULL) {
		snprintf(err, errlen, "cannot create an event base");
		goto out;
	}
	c.evcon = evhttp_connection_base_new(c.base, NULL, num,
	    (ev_uint16_t)u.port);
	if (c.evcon == NULL) {
		snprintf(err, errlen, "cannot create an HTTP connection");
		goto out;
	}
	tv.tv_sec = (time_t)t->timeout;
	tv.tv_usec = (suseconds_t)((t->timeout - (double)tv.tv_sec) * 1e6);
	evhttp_connection_set_timeout_tv(c.evcon, &tv);
	evhttp_connection_set_retries(c.evcon, 0);
	evhttp_connection_set_max_body_size(c.evcon, CTL_MAX_BODY);
	evhttp_connection_set_max_headers_size(c.evcon, CTL_MAX_HEADERS);
	req = evhttp_request_new(request_cb, &c);
	if (req == NULL) {
		snprintf(err, errlen, "cannot create an HTTP request");
		goto out;
	}
	evhttp_request_set_error_cb(req, error_cb);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", u.hostport);
	evhttp_add_header(h, "Connection", "close");
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "User-Agent", "ternctl/" PACKAGE_VERSION);
	if (t->token != NULL) {
		if (asprintf(&auth, "Bearer %s", t->token) < 0)
			abort();
		evhttp_add_header(h, "Authorization", auth);
	}
	if (asprintf(&uri, "%s%s", u.prefix, path) < 0)
		abort();
	deadline = evtimer_new(c.base, deadline_cb, &c);
	if (deadline == NULL || evtimer_add(deadline, &tv) != 0) {
		snprintf(err, errlen, "cannot set a timer");
		goto out;
	}
	if (evhttp_make_request(c.evcon, req, (enum evhttp_cmd_type)method,
	    uri) != 0) {
		req = NULL; /* freed by evhttp */
		snprintf(err, errlen, "%s: cannot send the request", t->url);
		goto out;
	}
	req = NULL; /* evhttp's now */
	if (c.done == 0) {
		bev = evhttp_connection_get_bufferevent(c.evcon);
		bufferevent_getcb(bev, &c.rd, &c.wr, &c.ev, &c.ev_arg);
		if (c.ev != NULL)
			bufferevent_setcb(bev, c.rd, c.wr, connect_event_cb,
			    &c);
		event_base_dispatch(c.base);
	}
	if (c.done == 1)
		rc = 0;
	else if (c.done == 0)
		snprintf(err, errlen, "%s: no answer", t->url);
out:
	if (rc != 0) {
		free(a->body);
		a->body = NULL;
	}
	if (req != NULL)
		evhttp_request_free(req);
	if (c.evcon != NULL)
		evhttp_connection_free(c.evcon);
	if (deadline != NULL)
		event_free(deadline);
	if (c.base != NULL)
		event_base_free(c.base);
	if (auth != NULL) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(uri);
	url_free(&u);
	return rc;
}
