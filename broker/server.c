/*
 * server.c - the node: one event loop, its global state and its lifetime.
 *
 * Start-up: data directory, listeners, ready file, signals. Shutdown on
 * SIGTERM/SIGINT: stop accepting and reading, let the store commit what
 * is pending so that the acks waiting for it go out (a clean stop then
 * leaves no acknowledged message to be sent again), send every v5 client
 * DISCONNECT 0x8B, wait (at most SHUTDOWN_SECS) for the connections to
 * flush and go, then
 * leave the loop; server_free() releases everything so that a leak
 * checker sees a clean exit. SIGHUP reads the configuration file again
 * (server_reload), reopens the log file, reads the password file and the
 * ACL file again (auth.c) and the HTTP tokens (http.c), and reloads the
 * TLS certificates and keys (tls.c). SIGUSR1 drains the node (see
 * server_drain). The service manager hears of each step (notify.c):
 * READY=1 with the ready file, RELOADING=1 and READY=1 around a SIGHUP,
 * STOPPING=1 at the start of a shutdown.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>

#include "broker.h"

#define SHUTDOWN_SECS 3

struct server srv;

/* The node's resolver (server_resolver); made when first needed. */
static struct evdns_base *server_dns;

/*
 * One asynchronous resolver for the node (push.c's webhook host,
 * bridge/dns.c's cluster_peers_dns), configured by dns_resolv_conf. Its
 * sockets do not keep the loop alive between queries.
 */
struct evdns_base *
server_resolver(void)
{
	int rc;

	if (server_dns != NULL)
		return server_dns;
	server_dns = evdns_base_new(srv.base,
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (server_dns == NULL) {
		log_error("cannot set up a resolver");
		return NULL;
	}
	/* 6: no nameserver in the file, libevent then asks 127.0.0.1. */
	rc = evdns_base_resolv_conf_parse(server_dns, DNS_OPTIONS_ALL,
	    srv.cfg.dns_resolv_conf);
	if (rc != 0 && rc != 6) {
		log_error("cannot read the resolver's configuration %s "
		    "(dns_resolv_conf)", srv.cfg.dns_resolv_conf);
		evdns_base_free(server_dns, 0);
		server_dns = NULL;
	}
	return server_dns;
}

static int
server_mkdirs(const char *path)
{
	char *p, *dir = xstrdup(path);
	int rc = 0;

	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(dir);
	return rc;
}

/*
 * The data directory holds every offline message. ternd creates it 0700
 * (server_mkdirs) and its own files in it 0600 (store.c, listener.c).
 * One that exists already is left as it is, with a warning when other
 * users may enter it: it may be shared (a home directory, /var/lib by
 * mistake), and chmod there could break more than it fixes, while the
 * files that matter are private anyway. What group or other access to
 * the directory still gives is the names of those files, and, if it is
 * writable, a way to replace them.
 */
static void
server_check_data_dir(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1 || (sb.st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return;
	log_warn("data directory %s has mode %03o: other users may list%s "
	    "the store's files (which are 0600); chmod 700 %s", path,
	    (unsigned)(sb.st_mode & 0777),
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 ? " and replace" : "",
	    path);
}

static void
server_shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warn("shutdown: %zu connections did not flush in time",
	    conn_count());
	event_base_loopexit(srv.base, NULL);
}

static void
server_shutdown_close(void)
{
	struct timeval tv = { SHUTDOWN_SECS, 0 };

	conn_close_all(MQTT_RC_SERVER_SHUTTING_DOWN);
	if (conn_count() == 0 && tls_linger_count() == 0 &&
	    ws_linger_count() == 0) {
		event_base_loopexit(srv.base, NULL);
		return;
	}
	if (srv.shutdown_timer == NULL)
		srv.shutdown_timer = evtimer_new(srv.base,
		    server_shutdown_timeout_cb, NULL);
	evtimer_add(srv.shutdown_timer, &tv);
}

static void
server_shutdown(void)
{
	struct conn *c;

	if (srv.shutting_down)
		return;
	srv.shutting_down = 1;
	log_notice("shutting down");
	notify_send("STOPPING=1");
	listener_stop_all();
	/* A DNS query cancelled now is finished by the loop before it
	 * ends; one left for server_free would leak. */
	bridge_dns_free();
	TAILQ_FOREACH(c, &srv.conns, entry)
		conn_block(c, BLOCK_SHUTDOWN);
	if (persist_flush_then(server_shutdown_close))
		return;
	server_shutdown_close();
}

void
server_conn_gone(void)
{
	/* TLS sockets still writing their close_notify, and WebSocket
	 * layers their last frames, count too, so that the shutdown
	 * DISCONNECT reaches TLS and WebSocket clients. */
	if (srv.shutting_down && conn_count() == 0 &&
	    tls_linger_count() == 0 && ws_linger_count() == 0)
		event_base_loopexit(srv.base, NULL);
}

uint8_t
server_drain_reason(const struct conn *c)
{
	return c->listener != NULL && c->listener->server_reference != NULL ?
	    MQTT_RC_USE_ANOTHER_SERVER : MQTT_RC_SERVER_BUSY;
}

/*
 * Draining (SIGUSR1), for taking a node out of service: every connected
 * client is sent away (v5: DISCONNECT 0x9C with the listener's Server
 * Reference, or 0x89 server busy without one) and new CONNECTs are
 * refused the same way (3.1.1: return code 3). Sessions stay, so clients
 * resume wherever they land.
 */
int
server_drain(void)
{
	struct conn *c, *next;
	size_t n = conn_count();

	if (srv.draining || srv.shutting_down)
		return -1;
	srv.draining = 1;
	log_notice("draining: sending %zu clients away", n);
	for (c = TAILQ_FIRST(&srv.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_close(c, server_drain_reason(c), "server draining");
	}
	return (int)n;
}

int
server_config_read(struct config *c, char *err, size_t errlen)
{
	config_init(c);
	if (srv.conf_file != NULL &&
	    config_load(c, srv.conf_file, err, errlen) != 0) {
		config_free(c);
		return -1;
	}
	if (srv.port_flag >= 0)
		config_set_port(c, (uint16_t)srv.port_flag);
	if (srv.dir_flag != NULL) {
		free(c->data_dir);
		c->data_dir = xstrdup(srv.dir_flag);
	}
	config_finish(c);
	return 0;
}

void
server_log_level(void)
{
	int level = srv.cfg.log_level, v = LOG_NOTICE + srv.verbose;

	/* -v raises notice and above to info, debug: never lowers one. */
	log_set_level(level + srv.verbose > LOG_NOTICE && level < v ? v :
	    level);
}

/* The log level and file of srv.cfg (log_level, log_dest). */
static void
server_log_reload(const struct config *old)
{
	const char *f = srv.cfg.log_file, *o = old->log_file;

	server_log_level();
	if (f == o || (f != NULL && o != NULL && strcmp(f, o) == 0))
		return;
	if (log_open(f) != 0)
		log_error("cannot open log file %s: %s; logging on where it "
		    "went", f, strerror(errno));
	else
		log_notice("logging to %s now", f != NULL ? f : "stderr");
}

/*
 * What SIGHUP applies once srv.cfg holds the new values (config_reload):
 * each function gets the file as read again, in which the keys of the
 * table that were applied hold the values they replaced (the others are
 * srv.cfg's), and does what the new values need beyond being read from
 * srv.cfg (a timer, a connection). All run on every reload: a module
 * with sections outside the table (not swapped by config_reload) adds
 * its function here, which finds the file's new ones in the argument,
 * compares them with srv.cfg's and takes what it applies.
 */
static void (*const server_reloads[])(const struct config *) = {
	server_log_reload,
	presence_reload,
	push_reload,
	sys_reload,
	mqttbridge_reload,
};

/*
 * SIGHUP: read the configuration file again, with the command line's
 * -p and -d applied as at start. A file that does not parse any more (or
 * cannot be read) changes nothing: logged, and the node goes on as it
 * was.
 */
static void
server_reload(void)
{
	struct config fresh;
	char err[512];
	size_t i;
	int n;

	if (srv.conf_file == NULL || srv.shutting_down)
		return;
	if (server_config_read(&fresh, err, sizeof err) != 0) {
		log_error("%s; configuration not reloaded, nothing changed",
		    err);
		return;
	}
	n = config_reload(&srv.cfg, &fresh, srv.conf_file);
	for (i = 0; i < sizeof server_reloads / sizeof server_reloads[0];
	    i++)
		server_reloads[i](&fresh);
	config_free(&fresh);
	log_notice("configuration reloaded from %s: %d key%s changed",
	    srv.conf_file, n, n == 1 ? "" : "s");
}

static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		notify_reloading();
		server_reload();
		log_reopen();
		auth_reload();
		tls_reload();
		http_reload();
		notify_send("READY=1");
		return;
	}
	if (sig == SIGUSR1) {
		server_drain();
		return;
	}
	server_shutdown();
}

int
server_init(void)
{
	struct event_config *ec;

	signal(SIGPIPE, SIG_IGN);
	/* epoll's changes are batched until the next wait: a connection's
	 * write event, added when a packet is queued and removed when the
	 * output has gone, costs no epoll_ctl when both happen in one pass
	 * (measured: a QoS 1 fan-in made 0.043 epoll_ctl calls per message,
	 * 0.023 with it; docs/BENCHMARKS.md). Unsafe only with dup()ed
	 * descriptors, which ternd does not make. */
	if ((ec = event_config_new()) == NULL) {
		log_error("cannot create the event loop");
		return -1;
	}
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	srv.base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (srv.base == NULL) {
		log_error("cannot create the event loop");
		return -1;
	}
	srv.sessions = hash_new();
	srv.subs = trie_new();
	TAILQ_INIT(&srv.conns);
	retain_init();
	deliver_init();
	if (sock_init() != 0)
		return -1;
	if (auth_open() != 0)
		return -1;
	if (http_init() != 0)
		return -1;
	/* Certificates before the store and the ports: a bad one stops
	 * start-up with nothing opened or bound. */
	if (tls_init() != 0)
		return -1;
	if (server_mkdirs(srv.cfg.data_dir) != 0) {
		log_error("cannot create data directory %s: %s",
		    srv.cfg.data_dir, strerror(errno));
		return -1;
	}
	server_check_data_dir(srv.cfg.data_dir);
	if (persist_open() != 0)
		return -1;
	if (bridge_init() != 0)
		return -1;
	if (mqttbridge_init() != 0)
		return -1;
	presence_init();
	if (push_init() != 0)
		return -1;
	sys_init();
	if (listener_start_all() != 0 || http_start() != 0)
		return -1;
	/* A node that restarts takes no client until it has the other
	 * nodes' routes (or cluster_sync_timeout): before, it would answer
	 * "no matching subscribers" and drop what they subscribed to. */
	if (bridge_startup_hold())
		listener_hold_clients(1);
	/* The handlers first: whoever reads the ready file may signal at
	 * once, and SIGTERM's default action would skip the last commit. */
	srv.sig_term = evsignal_new(srv.base, SIGTERM, server_signal_cb, NULL);
	srv.sig_int = evsignal_new(srv.base, SIGINT, server_signal_cb, NULL);
	srv.sig_hup = evsignal_new(srv.base, SIGHUP, server_signal_cb, NULL);
	srv.sig_usr1 = evsignal_new(srv.base, SIGUSR1, server_signal_cb,
	    NULL);
	evsignal_add(srv.sig_term, NULL);
	evsignal_add(srv.sig_int, NULL);
	evsignal_add(srv.sig_hup, NULL);
	evsignal_add(srv.sig_usr1, NULL);
	if (listener_write_ready() != 0)
		return -1;
	log_notice("tern %s ready, data in %s", TERN_VERSION,
	    srv.cfg.data_dir);
	notify_send("READY=1");
	return 0;
}

int
server_run(void)
{
	if (event_base_dispatch(srv.base) < 0) {
		log_error("event loop failed");
		return 1;
	}
	return 0;
}

void
server_free(void)
{
	listener_stop_all();
	http_free();
	srv.shutting_down = 1;
	resolve_shutdown();
	persist_close();
	ws_shutdown();
	tls_shutdown();
	conn_free_all();
	sock_free_all();
	wheel_free();
	pwcheck_stop(); /* before the base goes: it owns an event */
	sys_free();
	push_free_all();
	bridge_free();
	mqttbridge_free();
	session_free_all();
	glog_free_all();
	presence_free_all();
	events_free_all();
	gate_free_all();
	resend_free_all();
	retain_free_all();
	if (srv.subs != NULL)
		trie_free(srv.subs);
	if (srv.sessions != NULL)
		hash_free(srv.sessions);
	if (srv.sig_term != NULL)
		event_free(srv.sig_term);
	if (srv.sig_int != NULL)
		event_free(srv.sig_int);
	if (srv.sig_hup != NULL)
		event_free(srv.sig_hup);
	if (srv.sig_usr1 != NULL)
		event_free(srv.sig_usr1);
	if (srv.shutdown_timer != NULL)
		event_free(srv.shutdown_timer);
	if (server_dns != NULL)
		evdns_base_free(server_dns, 0);
	server_dns = NULL;
	if (srv.base != NULL)
		event_base_free(srv.base);
	tls_free_all();
	deliver_free_all();
	ratelimit_free();
	auth_close();
	config_free(&srv.cfg);
	memset(&srv, 0, sizeof srv);
}
