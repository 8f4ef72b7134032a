/*
 * listener.c - TCP listeners from the config, and the ready file.
 *
 * A listener with a bind address binds that address; without one it binds
 * every address getaddrinfo(AI_PASSIVE) returns (0.0.0.0 and ::, the
 * latter IPv6-only so the two do not collide). Port 0 takes a free port.
 * Once every listener is bound, <data_dir>/ternd.ready is written by
 * rename, one line per bound socket: "listener <address> <port>" (or
 * "cluster <address> <port>" for the cluster listener), so that scripts
 * and tests learn the ports without racing for them; the HTTP listener
 * adds "http <address> <port>" (http.c), last. It is made 0600,
 * as every file in the data directory (store.c).
 *
 * max_connections is counted per listener line (an address that binds
 * both 0.0.0.0 and :: shares one count): connections from the accept
 * until their struct conn is freed, so one still flushing its last bytes
 * counts, as it still holds its descriptor.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

struct listener {
	struct evconnlistener *evl;
	const struct listener_conf *conf;
	char address[INET6_ADDRSTRLEN];
	uint16_t port;
};

static struct listener *listeners;
static size_t n_listeners;
static char *ready_path;

/* max_connections refusals since the last log line, and its time. */
static uint64_t refused_full;
static struct timeval refused_logged;

/*
 * A listener at its max_connections: the socket is closed at once,
 * before anything is read from it, so a flood of connections costs an
 * accept and a close each. Logged at most once per second, with the
 * number refused since the last line.
 */
static void
listener_refuse(struct evconnlistener *evl, evutil_socket_t fd,
    const struct listener_conf *lc)
{
	struct timeval now, since;
	uint16_t port = lc->port;
	size_t i;

	evutil_closesocket(fd);
	refused_full++;
	event_base_gettimeofday_cached(srv.base, &now);
	timersub(&now, &refused_logged, &since);
	if (refused_logged.tv_sec != 0 && since.tv_sec < 1)
		return;
	for (i = 0; i < n_listeners; i++) {
		if (listeners[i].evl == evl)
			port = listeners[i].port; /* the bound one: not 0 */
	}
	log_warn("listener port %u has max_connections (%d) open: %llu "
	    "connection%s refused", port, lc->max_connections,
	    (unsigned long long)refused_full, refused_full == 1 ? "" : "s");
	refused_logged = now;
	refused_full = 0;
}

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener_conf *lc = arg;

	if (srv.shutting_down) {
		evutil_closesocket(fd);
		return;
	}
	if (lc->max_connections > 0 &&
	    lc->n_conns >= (size_t)lc->max_connections) {
		listener_refuse(evl, fd, lc);
		return;
	}
	conn_accept(fd, sa, salen, lc);
}

static struct event *resume_timer;
static int clients_held; /* listener_hold_clients() */

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t i;

	for (i = 0; i < n_listeners; i++) {
		if (!clients_held || listeners[i].conf->cluster)
			evconnlistener_enable(listeners[i].evl);
	}
}

void
listener_hold_clients(int hold)
{
	size_t i;

	clients_held = hold;
	for (i = 0; i < n_listeners; i++) {
		if (listeners[i].conf->cluster)
			continue;
		if (hold)
			evconnlistener_disable(listeners[i].evl);
		else
			evconnlistener_enable(listeners[i].evl);
	}
}

/*
 * accept() failed, most likely out of file descriptors (EMFILE/ENFILE):
 * the listening socket stays readable, so retrying at once would spin
 * and flood the log. Stop accepting for a second, log once per pause.
 */
static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct timeval tv = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();
	size_t i;

	log_error("accept failed: %s; not accepting for 1 s (%zu "
	    "connections)", evutil_socket_error_to_string(err), conn_count());
	for (i = 0; i < n_listeners; i++)
		evconnlistener_disable(listeners[i].evl);
	if (resume_timer == NULL)
		resume_timer = evtimer_new(srv.base, listener_resume_cb, NULL);
	evtimer_add(resume_timer, &tv);
}

static int
listener_bind_one(const struct addrinfo *ai, struct listener_conf *lc)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	struct listener *l;
	evutil_socket_t fd;
	int one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		close(fd);
		return -1;
	}
	listeners = xreallocarray(listeners, n_listeners + 1,
	    sizeof *listeners);
	l = &listeners[n_listeners];
	memset(l, 0, sizeof *l);
	l->conf = lc;
	l->evl = evconnlistener_new(srv.base, listener_accept_cb, lc,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024, fd);
	if (l->evl == NULL) {
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, l->address,
		    sizeof l->address);
		l->port = ntohs(in6->sin6_port);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, l->address,
		    sizeof l->address);
		l->port = ntohs(in->sin_port);
	}
	n_listeners++;
	log_notice("listening on %s port %u%s", l->address, l->port,
	    !lc->cluster ? "" : lc->tls != NULL ?
	    " (cluster links, mutual TLS)" : " (cluster links)");
	return 0;
}

static int
listener_start(struct listener_conf *lc)
{
	struct addrinfo hints, *res, *ai;
	char port[8];
	int rc, bound;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof port, "%u", lc->port);
	rc = getaddrinfo(lc->address, port, &hints, &res);
	if (rc != 0) {
		log_error("listener %s port %u: %s", lc->address ?
		    lc->address : "*", lc->port, gai_strerror(rc));
		return -1;
	}
	bound = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (listener_bind_one(ai, lc) == 0)
			bound++;
		else if (lc->address != NULL || ai->ai_family == AF_INET)
			log_error("cannot listen on %s port %u: %s",
			    lc->address ? lc->address : "*", lc->port,
			    strerror(errno));
	}
	freeaddrinfo(res);
	return bound > 0 ? 0 : -1;
}

int
listener_start_all(void)
{
	size_t i;

	for (i = 0; i < srv.cfg.n_listeners; i++) {
		if (listener_start(&srv.cfg.listeners[i]) != 0)
			return -1;
	}
	if (srv.cfg.cluster_listener != NULL && srv.cfg.node_name != NULL &&
	    listener_start(srv.cfg.cluster_listener) != 0)
		return -1;
	return 0;
}

int
listener_write_ready(void)
{
	char tmp[4096];
	FILE *fp = NULL;
	size_t i;
	int fd;

	free(ready_path);
	ready_path = xmalloc(strlen(srv.cfg.data_dir) + 16);
	sprintf(ready_path, "%s/ternd.ready", srv.cfg.data_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", ready_path);
	/* fchmod: one left by a killed ternd keeps its mode through
	 * O_TRUNC. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, S_IRUSR | S_IWUSR) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (i = 0; i < n_listeners; i++)
		fprintf(fp, "%s %s %u\n", listeners[i].conf->cluster ?
		    "cluster" : "listener", listeners[i].address,
		    listeners[i].port);
	http_ready(fp);
	if (fclose(fp) != 0 || rename(tmp, ready_path) != 0) {
		log_error("cannot write %s: %s", ready_path, strerror(errno));
		return -1;
	}
	return 0;
}

void
listener_label(const struct listener_conf *lc, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < n_listeners; i++) {
		if (listeners[i].conf == lc) {
			snprintf(buf, len, "%s%s%s:%u",
			    strchr(listeners[i].address, ':') ? "[" : "",
			    listeners[i].address,
			    strchr(listeners[i].address, ':') ? "]" : "",
			    listeners[i].port);
			return;
		}
	}
	snprintf(buf, len, "%s:%u", lc->address != NULL ? lc->address : "*",
	    lc->port);
}

void
listener_stop_all(void)
{
	size_t i;

	for (i = 0; i < n_listeners; i++)
		evconnlistener_free(listeners[i].evl);
	if (resume_timer != NULL)
		event_free(resume_timer);
	resume_timer = NULL;
	free(listeners);
	listeners = NULL;
	n_listeners = 0;
	if (ready_path != NULL) {
		unlink(ready_path);
		free(ready_path);
		ready_path = NULL;
	}
}
