/*
 * httptls.c - https on the HTTP listener: TLS ends here, the plaintext
 * is relayed to evhttp over a private socket.
 *
 * Why a relay: evhttp in libevent 2.1 cannot run over tls.c's filter.
 * With evhttp_set_bevcb() it frees a "Connection: close" connection from
 * its write callback, which a filter runs as soon as its output has moved
 * into the socket bufferevent, and then shuts the fd down and closes it:
 * the last TLS records of an answer (and the close_notify) are cut off.
 * And 2.1 has no server-side call that takes a connection already
 * accepted. So (docs/ARCHITECTURE.md, "HTTP listener"):
 *
 *   client --TLS--> our evconnlistener, tls_wrap() (as an MQTT listener)
 *                     | plaintext, two bounded pipes
 *                   AF_UNIX socket --> evhttp (the handlers of http.c)
 *
 * The private socket is bound in a fresh 0700 directory made by mkdtemp
 * under data_dir (so only ternd's user may connect to it; a loopback
 * port would be open to every local user), named through
 * /proc/self/fd/N/ when the directory's path is too long for sun_path,
 * and given to evhttp with evhttp_accept_socket_with_handle().
 *
 * Each accepted TLS connection gets one connection to that socket at
 * once (evhttp's idle timeout, HTTP_TIMEOUT, then also bounds a
 * handshake that never ends: the relay closes when evhttp does), and two
 * pipes:
 * - in: plaintext from the client is moved to the inner socket; over
 *   HTTPTLS_IN_MAX bytes waiting there (evhttp not reading: a request
 *   is never larger than its header and body bounds), reading from the
 *   client stops until it has drained;
 * - out: evhttp's answer is moved to the TLS filter; over HTTPTLS_OUT_HIGH
 *   bytes of plaintext waiting to be encrypted (tls.c encrypts only
 *   while the socket holds under 256 KiB of records), reading from evhttp
 *   stops until it is below HTTPTLS_OUT_LOW. So a client that does not
 *   read costs at most about 768 KiB, and evhttp's own write timeout ends
 *   it.
 *
 * Lifetime: when evhttp closes its end (answer sent with Connection:
 * close, idle timeout, a refused request), what it sent is encrypted to
 * the last byte (bounded by HTTP_TIMEOUT), then tls_conn_close() queues
 * the close_notify and the socket lingers on its own until written, as
 * for MQTT. When the client closes, or TLS fails (a plain http request on
 * the https port), both ends close at once. A relay is freed from its own
 * event (never from inside a bufferevent's callback).
 *
 * Certificates: http_certfile, http_keyfile (and http_cafile with
 * http_require_certificate) make the context, reloaded on SIGHUP like a
 * TLS listener's: new connections get the new one, open ones keep
 * theirs (refcounted in tls.c).
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/listener.h>

#include "broker.h"

#define HTTPTLS_IN_MAX (8192 + 4096) /* http.c's header and body bounds */
#define HTTPTLS_OUT_HIGH (256u * 1024)
#define HTTPTLS_OUT_LOW (64u * 1024)
#define HTTPTLS_CLOSE_SECS 10 /* http.c's HTTP_TIMEOUT */

struct httptls_conn {
	struct bufferevent *outer; /* tls.c's filter: the client's plaintext */
	struct tls_conn *tls;
	struct bufferevent *inner; /* to evhttp; NULL once it closed */
	struct event *ev; /* the closing bound, and the deferred free */
	uint8_t dead; /* freed from ev */
	char peer[64];
	LIST_ENTRY(httptls_conn) entry;
};

static struct tls_ctx *httptls_ctx;
static struct evconnlistener *httptls_evl;
static struct event *httptls_resume;
static struct sockaddr_un httptls_sun; /* evhttp's private socket */
static char *httptls_dir; /* its directory */
static char *httptls_sock; /* its path */
static int httptls_dirfd = -1;
static LIST_HEAD(, httptls_conn) httptls_conns =
    LIST_HEAD_INITIALIZER(httptls_conns);

int
httptls_init(void)
{
	const struct config *c = &srv.cfg;
	char err[512];

	if (c->http_certfile == NULL) {
		if (c->http_keyfile != NULL || c->http_cafile != NULL ||
		    c->http_require_certificate) {
			log_error("http_keyfile, http_cafile and "
			    "http_require_certificate need http_certfile");
			return -1;
		}
		return 0;
	}
	if (!c->http_listener) {
		log_error("http_certfile needs http_listener");
		return -1;
	}
	if (c->http_require_certificate && c->http_cafile == NULL) {
		log_error("http_require_certificate needs http_cafile to check "
		    "client certificates against");
		return -1;
	}
	httptls_ctx = tls_server_ctx(c->http_certfile, c->http_keyfile,
	    c->http_cafile, c->http_require_certificate, "http_", err,
	    sizeof err);
	if (httptls_ctx == NULL) {
		log_error("http_listener: %s", err);
		return -1;
	}
	return 0;
}

int
httptls_on(void)
{
	return httptls_ctx != NULL;
}

/* --- one relay --- */

static void
httptls_free_conn(struct httptls_conn *r)
{
	LIST_REMOVE(r, entry);
	if (r->inner != NULL)
		bufferevent_free(r->inner);
	/* The close_notify after what was encrypted; the socket lingers
	 * until it is written (tls.c). */
	tls_conn_close(r->tls);
	bufferevent_free(r->outer);
	event_free(r->ev);
	free(r);
}

static void
httptls_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	httptls_free_conn(arg);
}

/* Stop both ends and free r from its event, after this callback. */
static void
httptls_end(struct httptls_conn *r)
{
	if (r->dead)
		return;
	r->dead = 1;
	bufferevent_disable(r->outer, EV_READ);
	bufferevent_setcb(r->outer, NULL, NULL, NULL, NULL);
	if (r->inner != NULL) {
		bufferevent_disable(r->inner, EV_READ | EV_WRITE);
		bufferevent_setcb(r->inner, NULL, NULL, NULL, NULL);
	}
	event_del(r->ev);
	event_active(r->ev, EV_TIMEOUT, 0);
}

/* Client to evhttp. */
static void
httptls_outer_read_cb(struct bufferevent *bev, void *arg)
{
	struct httptls_conn *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (r->inner == NULL) {
		/* evhttp has closed: nobody to read it. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	evbuffer_add_buffer(bufferevent_get_output(r->inner), in);
	if (evbuffer_get_length(bufferevent_get_output(r->inner)) >
	    HTTPTLS_IN_MAX)
		bufferevent_disable(bev, EV_READ);
}

/* The inner output is empty: read from the client again. */
static void
httptls_inner_write_cb(struct bufferevent *bev, void *arg)
{
	struct httptls_conn *r = arg;

	bufferevent_enable(r->outer, EV_READ);
}

/* evhttp to the client. */
static void
httptls_inner_read_cb(struct bufferevent *bev, void *arg)
{
	struct httptls_conn *r = arg;
	struct evbuffer *out = bufferevent_get_output(r->outer);

	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= HTTPTLS_OUT_HIGH) {
		log_debug("%s: https answer waits for the client (%zu bytes)",
		    r->peer, evbuffer_get_length(out));
		bufferevent_disable(bev, EV_READ);
	}
}

/* The plaintext waiting for encryption is at the low watermark (0 once
 * evhttp has closed). */
static void
httptls_outer_write_cb(struct bufferevent *bev, void *arg)
{
	struct httptls_conn *r = arg;

	if (r->inner != NULL)
		bufferevent_enable(r->inner, EV_READ);
	else if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		httptls_end(r);
}

/* The client closed, or TLS failed (tls.c logged why). */
static void
httptls_outer_event_cb(struct bufferevent *bev, short what, void *arg)
{
	httptls_end(arg);
}

/* evhttp closed its end: flush what it sent, then close. */
static void
httptls_inner_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct httptls_conn *r = arg;
	struct timeval tv = { HTTPTLS_CLOSE_SECS, 0 };
	struct evbuffer *out = bufferevent_get_output(r->outer);

	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	bufferevent_free(r->inner);
	r->inner = NULL;
	if (evbuffer_get_length(out) == 0) {
		httptls_end(r);
		return;
	}
	bufferevent_disable(r->outer, EV_READ);
	bufferevent_setwatermark(r->outer, EV_WRITE, 0, 0);
	evtimer_add(r->ev, &tv);
}

/* A connection to evhttp's private socket, or -1. An AF_UNIX connect
 * completes at once (or fails: EAGAIN when the backlog is full). */
static int
httptls_connect(void)
{
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&httptls_sun,
	    sizeof httptls_sun) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
httptls_format_peer(const struct sockaddr *sa, int salen, char *buf,
    size_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof host, port,
	    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%s%s%s:%s", strchr(host, ':') ? "[" : "",
		    host, strchr(host, ':') ? "]" : "", port);
}

static void
httptls_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct httptls_conn *r;
	struct bufferevent *sock;
	int in;

	r = xcalloc(1, sizeof *r);
	httptls_format_peer(sa, salen, r->peer, sizeof r->peer);
	if ((in = httptls_connect()) < 0) {
		log_warn("https from %s: cannot reach the HTTP server: %s",
		    r->peer, strerror(errno));
		evutil_closesocket(fd);
		free(r);
		return;
	}
	sock = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
	r->inner = bufferevent_socket_new(srv.base, in, BEV_OPT_CLOSE_ON_FREE);
	if (sock == NULL || r->inner == NULL) {
		log_error("https from %s: cannot set up the connection",
		    r->peer);
		if (sock != NULL)
			bufferevent_free(sock);
		else
			evutil_closesocket(fd);
		if (r->inner != NULL)
			bufferevent_free(r->inner);
		else
			close(in);
		free(r);
		return;
	}
	/* The listener's context now: a reload changes only later ones. */
	r->outer = tls_wrap(sock, httptls_ctx, r->peer, NULL, &r->tls);
	if (r->outer == NULL) {
		bufferevent_free(r->inner);
		free(r);
		return;
	}
	r->ev = evtimer_new(srv.base, httptls_ev_cb, r);
	LIST_INSERT_HEAD(&httptls_conns, r, entry);
	bufferevent_setwatermark(r->outer, EV_WRITE, HTTPTLS_OUT_LOW, 0);
	bufferevent_setcb(r->outer, httptls_outer_read_cb,
	    httptls_outer_write_cb, httptls_outer_event_cb, r);
	bufferevent_setcb(r->inner, httptls_inner_read_cb,
	    httptls_inner_write_cb, httptls_inner_event_cb, r);
	bufferevent_enable(r->outer, EV_READ | EV_WRITE);
	bufferevent_enable(r->inner, EV_READ | EV_WRITE);
}

static void
httptls_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(httptls_evl);
}

/* accept() failed, most likely out of descriptors: pause a second, as
 * listener.c does for MQTT. */
static void
httptls_error_cb(struct evconnlistener *evl, void *arg)
{
	struct timeval tv = { 1, 0 };

	log_error("https accept failed: %s; not accepting for 1 s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(evl);
	if (httptls_resume == NULL)
		httptls_resume = evtimer_new(srv.base, httptls_resume_cb, NULL);
	evtimer_add(httptls_resume, &tv);
}

/* --- the sockets --- */

/* evhttp's private socket, in a fresh 0700 directory under data_dir.
 * Returns the listening socket or -1 (logged). */
static int
httptls_private(void)
{
	int fd, n;

	httptls_dir = xmalloc(strlen(srv.cfg.data_dir) + 16);
	sprintf(httptls_dir, "%s/http-XXXXXX", srv.cfg.data_dir);
	if (mkdtemp(httptls_dir) == NULL) {
		log_error("http_listener: cannot make %s: %s", httptls_dir,
		    strerror(errno));
		free(httptls_dir);
		httptls_dir = NULL;
		return -1;
	}
	httptls_sock = xmalloc(strlen(httptls_dir) + 3);
	sprintf(httptls_sock, "%s/s", httptls_dir);
	memset(&httptls_sun, 0, sizeof httptls_sun);
	httptls_sun.sun_family = AF_UNIX;
	if (strlen(httptls_sock) < sizeof httptls_sun.sun_path) {
		memcpy(httptls_sun.sun_path, httptls_sock,
		    strlen(httptls_sock) + 1);
	} else {
		/* A deep data_dir: the directory by its descriptor. */
		httptls_dirfd = open(httptls_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (httptls_dirfd < 0) {
			log_error("http_listener: %s: %s", httptls_dir,
			    strerror(errno));
			return -1;
		}
		n = snprintf(httptls_sun.sun_path, sizeof httptls_sun.sun_path,
		    "/proc/self/fd/%d/s", httptls_dirfd);
		if (n < 0 || (size_t)n >= sizeof httptls_sun.sun_path)
			return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&httptls_sun,
	    sizeof httptls_sun) != 0 || listen(fd, SOMAXCONN) != 0) {
		log_error("http_listener: cannot listen on %s: %s",
		    httptls_sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The public TLS socket on address:port, or -1 (logged). */
static int
httptls_public(const char *address, uint16_t port)
{
	struct addrinfo hints, *res;
	char sport[8];
	int fd, rc, one = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(sport, sizeof sport, "%u", port);
	if ((rc = getaddrinfo(address, sport, &hints, &res)) != 0) {
		log_error("cannot listen on %s port %u (http_listener): %s",
		    address, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, res->ai_protocol);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		log_error("cannot listen on %s port %u (http_listener): %s",
		    address, port, strerror(errno));
	return fd;
}

int
httptls_start(struct evhttp *http, const char *address, uint16_t port)
{
	int priv, pub;

	if ((priv = httptls_private()) < 0)
		return -1;
	if (evhttp_accept_socket_with_handle(http, priv) == NULL) {
		log_error("http_listener: evhttp does not take %s",
		    httptls_sock);
		close(priv);
		return -1;
	}
	if ((pub = httptls_public(address, port)) < 0)
		return -1;
	httptls_evl = evconnlistener_new(srv.base, httptls_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128, pub);
	if (httptls_evl == NULL) {
		log_error("cannot listen on %s port %u (http_listener)",
		    address, port);
		close(pub);
		return -1;
	}
	evconnlistener_set_error_cb(httptls_evl, httptls_error_cb);
	return pub;
}

void
httptls_reload(void)
{
	const struct config *c = &srv.cfg;
	struct tls_ctx *x;
	char err[512];

	if (httptls_ctx == NULL)
		return;
	x = tls_server_ctx(c->http_certfile, c->http_keyfile, c->http_cafile,
	    c->http_require_certificate, "http_", err, sizeof err);
	if (x == NULL) {
		log_error("http_listener: reload failed, keeping the previous "
		    "certificate: %s", err);
		return;
	}
	tls_ctx_release(httptls_ctx);
	httptls_ctx = x;
	log_notice("http_listener: certificate reloaded from %s",
	    c->http_certfile);
}

void
httptls_free(void)
{
	struct httptls_conn *r;

	if (httptls_evl != NULL)
		evconnlistener_free(httptls_evl);
	httptls_evl = NULL;
	if (httptls_resume != NULL)
		event_free(httptls_resume);
	httptls_resume = NULL;
	while ((r = LIST_FIRST(&httptls_conns)) != NULL)
		httptls_free_conn(r);
	if (httptls_dir != NULL) {
		if (httptls_sock != NULL)
			unlink(httptls_sock);
		rmdir(httptls_dir);
		free(httptls_dir);
		httptls_dir = NULL;
	}
	free(httptls_sock);
	httptls_sock = NULL;
	if (httptls_dirfd >= 0)
		close(httptls_dirfd);
	httptls_dirfd = -1;
	tls_ctx_release(httptls_ctx);
	httptls_ctx = NULL;
}
