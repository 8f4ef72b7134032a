/*
 * conn.c - one client connection: the socket, its state machine and its
 * timers.
 *
 * States (DESIGN.md "The node"): NEW until a valid CONNECT has been
 * answered, ACTIVE until the session ends, CLOSING once a DISCONNECT has
 * been queued or the socket has failed. In CLOSING no input is read; the
 * output is flushed (bounded by CLOSE_FLUSH_SECS) and then the conn is
 * freed from a deferred event, never from inside one of its own callbacks
 * (STYLE.md 8), so conn_close() is safe from anywhere: a handler, a
 * takeover of another connection, a fan-out, a timer.
 *
 * Output: packets are encoded straight into the bufferevent's output
 * buffer; libevent writes it when the socket is writable, which batches
 * every packet of one loop pass into one write per connection.
 *
 * Timers: one event per connection: first the CONNECT timeout, then keep
 * alive. The keep-alive timer is not re-armed per packet: when it fires it
 * compares the time of the last packet with 1.5 x keep alive
 * (MQTT-3.1.2-24) and re-arms for the remainder, so a busy client costs
 * one timer operation per keep-alive period.
 *
 * Transport seam: a conn only sees its bufferevent. TLS and WebSocket will
 * be bufferevent filters (or pairs) stacked under the same interface.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define CLOSE_FLUSH_SECS 5

static size_t n_conns;

static void conn_event_cb(struct bufferevent *, short, void *);
static void conn_timer_cb(evutil_socket_t, short, void *);

static void
conn_format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "unknown");
	}
}

void
conn_accept(evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
	struct conn *c;
	struct timeval tv;
	int one = 1;

	if (srv.cfg.tcp_nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = xcalloc(1, sizeof *c);
	c->state = CONN_NEW;
	c->receive_max = 65535;
	conn_format_peer(sa, c->peer, sizeof c->peer);
	c->bev = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_error("cannot set up connection from %s", c->peer);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ);
	event_base_gettimeofday_cached(srv.base, &c->last_rx);
	c->timer = evtimer_new(srv.base, conn_timer_cb, c);
	tv.tv_sec = srv.cfg.connect_timeout;
	tv.tv_usec = 0;
	evtimer_add(c->timer, &tv);
	TAILQ_INSERT_TAIL(&srv.conns, c, entry);
	n_conns++;
	log_debug("new connection from %s", c->peer);
}

const char *
conn_label(const struct conn *c)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%s (%s)",
	    c->session != NULL ? c->session->client_id : "-", c->peer);
	return buf;
}

size_t
conn_output_len(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

size_t
conn_count(void)
{
	return n_conns;
}

int
conn_send(struct conn *c, const struct mqtt_packet *pkt)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v;
	size_t len;

	if (c->state == CONN_CLOSING && pkt->type != MQTT_DISCONNECT)
		return 0;
	len = mqtt_encode_len(pkt, c->version);
	if (len == 0 || (c->max_packet != 0 && len > c->max_packet))
		return -1;
	if (evbuffer_reserve_space(out, len, &v, 1) < 1)
		return -1;
	mqtt_encode(pkt, c->version, v.iov_base);
	v.iov_len = len;
	evbuffer_commit_space(out, &v, 1);
	return 0;
}

static void
conn_free(struct conn *c)
{
	TAILQ_REMOVE(&srv.conns, c, entry);
	n_conns--;
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->close_timer != NULL)
		event_free(c->close_timer);
	bufferevent_free(c->bev);
	free(c);
	server_conn_gone();
}

static void
conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

/* Free c on the next loop pass. */
static void
conn_free_later(struct conn *c)
{
	struct timeval zero = { 0, 0 };

	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->close_timer == NULL) {
		c->close_timer = evtimer_new(srv.base, conn_free_cb, c);
	} else {
		event_del(c->close_timer);
		event_assign(c->close_timer, srv.base, -1, 0, conn_free_cb, c);
	}
	evtimer_add(c->close_timer, &zero);
}

/* Output flushed after a close: free. */
static void
conn_flushed_cb(struct bufferevent *bev, void *arg)
{
	conn_free_later(arg);
}

static void
conn_flush_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

void
conn_close(struct conn *c, uint8_t reason, const char *why)
{
	struct mqtt_packet pkt;
	struct session *s = c->session;
	struct timeval tv;

	if (c->state == CONN_CLOSING)
		return;
	if (c->state == CONN_ACTIVE && c->version == MQTT_V5 &&
	    reason != MQTT_RC_SUCCESS) {
		memset(&pkt, 0, sizeof pkt);
		pkt.type = MQTT_DISCONNECT;
		pkt.u.reason.reason = reason;
		conn_send(c, &pkt);
	}
	if (why != NULL) {
		if (reason >= 0x80 && reason != MQTT_RC_SERVER_SHUTTING_DOWN &&
		    reason != MQTT_RC_SESSION_TAKEN_OVER)
			log_notice("closing %s: %s (%s)", conn_label(c), why,
			    mqtt_rc_name(reason));
		else
			log_info("closing %s: %s", conn_label(c), why);
	}
	c->state = CONN_CLOSING;
	evtimer_del(c->timer);
	if (s != NULL) {
		c->session = NULL;
		if (c->will_pending && !srv.shutting_down)
			will_publish(s);
		else
			will_clear(s);
		session_detach(s);
	}
	bufferevent_disable(c->bev, EV_READ);
	if (conn_output_len(c) == 0) {
		conn_free_later(c);
		return;
	}
	/* Flush what is queued (the DISCONNECT), bounded in time. */
	bufferevent_setcb(c->bev, NULL, conn_flushed_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_WRITE);
	c->close_timer = evtimer_new(srv.base, conn_flush_timeout_cb, c);
	tv.tv_sec = CLOSE_FLUSH_SECS;
	tv.tv_usec = 0;
	evtimer_add(c->close_timer, &tv);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char why[128];

	if (c->state == CONN_CLOSING) {
		/* The peer went away while we flushed. */
		conn_free_later(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_close(c, MQTT_RC_SUCCESS, "connection closed by peer");
		return;
	}
	snprintf(why, sizeof why, "socket error: %s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_close(c, MQTT_RC_SUCCESS, why);
}

void
conn_start_keepalive(struct conn *c)
{
	struct timeval tv;

	evtimer_del(c->timer);
	if (c->keep_alive == 0)
		return;
	/* 1.5 x keep alive, in milliseconds. */
	tv.tv_sec = (c->keep_alive * 3) / 2;
	tv.tv_usec = (c->keep_alive * 3 % 2) * 500000;
	evtimer_add(c->timer, &tv);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval now, limit, idle, left;

	if (c->state == CONN_NEW) {
		conn_close(c, MQTT_RC_MAX_CONNECT_TIME, "no CONNECT in time");
		return;
	}
	if (c->state != CONN_ACTIVE)
		return;
	event_base_gettimeofday_cached(srv.base, &now);
	limit.tv_sec = (c->keep_alive * 3) / 2;
	limit.tv_usec = (c->keep_alive * 3 % 2) * 500000;
	timersub(&now, &c->last_rx, &idle);
	if (!timercmp(&idle, &limit, <)) {
		conn_close(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout");
		return;
	}
	timersub(&limit, &idle, &left);
	evtimer_add(c->timer, &left);
}

void
conn_close_all(uint8_t reason)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&srv.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_close(c, reason, NULL);
	}
}

void
conn_free_all(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv.conns)) != NULL) {
		if (c->session != NULL) {
			c->session->conn = NULL;
			c->session = NULL;
		}
		conn_free(c);
	}
}
