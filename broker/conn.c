/*
 * conn.c - one client connection: the socket, its state machine and its
 * timers.
 *
 * States (DESIGN.md "The node"): NEW until a valid CONNECT has been
 * answered, ACTIVE until the session ends, CLOSING once a DISCONNECT has
 * been queued or the socket has failed. In CLOSING no input is handled;
 * the output is flushed (bounded by CLOSE_FLUSH_SECS) and then the conn
 * is freed from a deferred event, never from inside one of its own
 * callbacks (STYLE.md 8), so conn_close() is safe from anywhere: a
 * handler, a takeover of another connection, a fan-out, a timer.
 *
 * Lingering close: when tern closes a plain TCP connection for an error
 * (a reason code of 0x80 or more), the client may still be sending; a
 * close with unread input would make the kernel answer with a reset, and
 * the client would often lose the DISCONNECT that says why. So the input
 * is read and discarded while the output flushes, the socket is then
 * half-closed (the client reads the DISCONNECT, then end of file), and
 * the conn is freed at the client's end of file or after LINGER_SECS, as
 * web servers do. TLS and WebSocket layers close their own way.
 *
 * Output: packets are encoded straight into the transport's output
 * (conn_send), which writes it at the end of the loop pass: every packet
 * of one pass in one write per connection.
 *
 * Timers: one event per connection: first the CONNECT timeout, then keep
 * alive. The keep-alive timer is not re-armed per packet: when it fires it
 * compares the time of the last packet with 1.5 x keep alive
 * (MQTT-3.1.2-24) and re-arms for the remainder, so a busy client costs
 * one timer operation per keep-alive period.
 *
 * Transport seam: a conn only sees MQTT bytes, through c->io (struct
 * transport, broker.h). Plain TCP is sock.c: a bare event on the socket
 * and buffers only while bytes wait. On a TLS listener the transport is
 * bevconn.c over a bufferevent filter over the socket's bufferevent
 * (tls.c); on a WebSocket listener a filter (ws.c) over that one or over
 * the socket's. conn.c asks the transport for its error message and lets
 * it flush the last bytes before the free.
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
#include <unistd.h>

#include "broker.h"

#define CLOSE_FLUSH_SECS 5
#define LINGER_SECS 2

static size_t n_conns;

const struct conn_aux conn_aux_none;

struct conn_aux *
conn_aux(struct conn *c)
{
	if (c->aux == &conn_aux_none)
		c->aux = xcalloc(1, sizeof *c->aux);
	return c->aux;
}

void
conn_aux_trim(struct conn *c)
{
	const struct conn_aux *a = c->aux;

	if (a == &conn_aux_none || a->label != NULL || a->auth_user != NULL ||
	    a->auth_ex != NULL || a->claim != NULL || a->link_ctx != NULL ||
	    a->pw_job != NULL || a->secret_wait != NULL ||
	    a->claim_won != 0 || a->link_seq != 0 || a->link_proto != 0)
		return;
	free(c->aux);
	c->aux = AUX_NONE(struct conn_aux, conn_aux_none);
}

/* Made when a log line or the admin API asks, not kept: 64 bytes per
 * connection that only a few log lines would read. */
const char *
conn_peer(const struct conn *c)
{
	static char bufs[4][64];
	static unsigned turn;
	char host[INET6_ADDRSTRLEN] = "?", *buf;

	if (c->peer_family == 0)
		return c->aux->label != NULL ? c->aux->label : "unknown";
	buf = bufs[turn++ % 4];
	inet_ntop(c->peer_family, c->peer_addr, host, sizeof host);
	snprintf(buf, sizeof bufs[0], c->peer_family == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", host, c->peer_port);
	return buf;
}

/* Read, arm the CONNECT timeout and count c (accepted or dialled). */
static void
conn_start(struct conn *c)
{
	struct timeval tv;

	c->io->read_on(c, 1);
	event_base_gettimeofday_cached(srv.base, &c->last_rx);
	c->max_packet_in = srv.cfg.max_packet_size;
	tv.tv_sec = srv.cfg.connect_timeout;
	tv.tv_usec = 0;
	wheel_add(c, &tv);
	TAILQ_INSERT_TAIL(&srv.conns, c, entry);
	n_conns++;
}

void
conn_accept(evutil_socket_t fd, const struct sockaddr *sa, int salen,
    struct listener_conf *lc)
{
	struct conn *c;
	struct bufferevent *bev;
	int one = 1;

	if (srv.cfg.tcp_nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = xcalloc(1, sizeof *c);
	c->aux = AUX_NONE(struct conn_aux, conn_aux_none);
	TAILQ_INIT(&c->acks);
	c->state = CONN_NEW;
	c->listener = lc;
	c->receive_max = 65535;
	if (sa->sa_family == AF_INET) {
		memcpy(c->peer_addr, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, 4);
		c->peer_port = ntohs(((const struct sockaddr_in *)
		    (const void *)sa)->sin_port);
		c->peer_family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(c->peer_addr, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, 16);
		c->peer_port = ntohs(((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_port);
		c->peer_family = AF_INET6;
	}
	if (lc->tls == NULL && !lc->websockets) {
		sock_attach(c, fd, 0);
		conn_start(c);
		lc->n_conns++;
		log_debug("new connection from %s", conn_peer(c));
		return;
	}
	bev = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("cannot set up connection from %s", conn_peer(c));
		evutil_closesocket(fd);
		free(c);
		return;
	}
	if (lc->tls != NULL) {
		/* The listener's context now: a SIGHUP reload only changes
		 * what later connections get. */
		bev = tls_wrap(bev, lc->tls, conn_peer(c), NULL, &c->bv_tls);
		if (bev == NULL) {
			free(c);
			return;
		}
	}
	if (lc->websockets) {
		/* Over the TLS filter for wss://. */
		bev = ws_wrap(bev, c->bv_tls, lc->websockets_path,
		    conn_peer(c), &c->bv_ws);
		if (bev == NULL) {
			free(c);
			return;
		}
	}
	bevconn_attach(c, bev);
	conn_start(c);
	lc->n_conns++;
	log_debug("new connection from %s", conn_peer(c));
}

/*
 * A non-blocking socket connecting to sa, or -1 (logged). A refusal
 * known at once is left in *err, to be reported from the loop as a later
 * one is (as libevent's bufferevent_socket_connect does).
 */
static evutil_socket_t
conn_dial(const struct sockaddr *sa, int salen, const char *label, int *err)
{
	evutil_socket_t fd;

	fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (fd < 0 || evutil_make_socket_nonblocking(fd) != 0 ||
	    evutil_make_socket_closeonexec(fd) != 0) {
		log_warn("cannot connect to %s: %s", label, strerror(errno));
		if (fd >= 0)
			evutil_closesocket(fd);
		return -1;
	}
	if (connect(fd, sa, (socklen_t)salen) == 0 || errno == EINPROGRESS ||
	    errno == EINTR)
		return fd;
	if (errno == ECONNREFUSED) {
		*err = errno;
		return fd;
	}
	log_warn("cannot connect to %s: %s", label, strerror(errno));
	evutil_closesocket(fd);
	return -1;
}

/* A dialled c that could not be set up. */
static void
conn_unmade(struct conn *c)
{
	free(c->aux->label);
	free(c->aux);
	free(c);
}

struct conn *
conn_connect(const struct sockaddr *sa, int salen, const char *label,
    struct tls_ctx *tls, const char *host)
{
	struct conn *c;
	struct bufferevent *bev;
	evutil_socket_t fd;

	c = xcalloc(1, sizeof *c);
	c->aux = AUX_NONE(struct conn_aux, conn_aux_none);
	TAILQ_INIT(&c->acks);
	c->state = CONN_NEW;
	c->receive_max = 65535;
	conn_aux(c)->label = xstrdup(label);
	if (tls == NULL) {
		if ((fd = conn_dial(sa, salen, label, &c->io_err)) < 0) {
			conn_unmade(c);
			return NULL;
		}
		sock_attach(c, fd, 1);
		conn_start(c);
		return c;
	}
	bev = bufferevent_socket_new(srv.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		conn_unmade(c);
		return NULL;
	}
	if (bufferevent_socket_connect(bev, (struct sockaddr *)sa,
	    salen) != 0) {
		log_warn("cannot connect to %s: %s", label,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		bufferevent_free(bev);
		conn_unmade(c);
		return NULL;
	}
	/* As on a TLS listener: the filter passes BEV_EVENT_CONNECTED on,
	 * and what is written stays plaintext in it until the handshake has
	 * succeeded. */
	bev = tls_wrap(bev, tls, label, host, &c->bv_tls);
	if (bev == NULL) {
		conn_unmade(c);
		return NULL;
	}
	bevconn_attach(c, bev);
	conn_start(c);
	return c;
}

/* Client ids are UTF-8 that may hold control characters: shown with
 * those replaced, so that no client can forge a log line. */
const char *
conn_label(const struct conn *c)
{
	static char buf[256];
	const char *id = c->session != NULL ? c->session->client_id : "-";
	size_t i, n;

	snprintf(buf, sizeof buf, "%s (%s)", id, conn_peer(c));
	n = strlen(id) < sizeof buf ? strlen(id) : sizeof buf - 1;
	for (i = 0; i < n; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	}
	return buf;
}

size_t
conn_output_len(const struct conn *c)
{
	return c->io->output_len(c);
}

evutil_socket_t
conn_fd(const struct conn *c)
{
	return c->io->fd(c);
}

void
conn_write(struct conn *c, const void *p, size_t len)
{
	uint8_t *dst;

	if (len == 0 || (dst = c->io->reserve(c, len)) == NULL)
		return;
	memcpy(dst, p, len);
	c->io->commit(c, len);
}

size_t
conn_count(void)
{
	return n_conns;
}

int
conn_send(struct conn *c, const struct mqtt_packet *pkt)
{
	uint8_t *dst;
	size_t len;

	if (c->state == CONN_CLOSING && pkt->type != MQTT_DISCONNECT)
		return 0;
	/* An acknowledgement without properties (one per QoS 1 message
	 * each way) is four or five bytes: written as they are, without
	 * the general encoder's two passes. The same bytes as the encoder's
	 * (the reason code only in v5, and only when not success). */
	if (pkt->type >= MQTT_PUBACK && pkt->type <= MQTT_PUBCOMP &&
	    pkt->u.ack.props.present == 0 && pkt->u.ack.props.user.len == 0 &&
	    pkt->u.ack.props.sub_ids == NULL) {
		uint8_t b[5];

		b[0] = (uint8_t)(pkt->type << 4 |
		    (pkt->type == MQTT_PUBREL ? 0x02 : 0));
		b[1] = 2;
		b[2] = (uint8_t)(pkt->u.ack.packet_id >> 8);
		b[3] = (uint8_t)pkt->u.ack.packet_id;
		len = 4;
		if (c->version == MQTT_V5 &&
		    pkt->u.ack.reason != MQTT_RC_SUCCESS) {
			b[1] = 3;
			b[4] = pkt->u.ack.reason;
			len = 5;
		}
		if (c->max_packet != 0 && len > c->max_packet)
			return -1;
		if ((dst = c->io->reserve(c, len)) == NULL)
			return -1;
		memcpy(dst, b, len);
		c->io->commit(c, len);
		c->tx_bytes += len;
		return 0;
	}
	len = mqtt_encode_len(pkt, c->version);
	if (len == 0 || (c->max_packet != 0 && len > c->max_packet))
		return -1;
	if ((dst = c->io->reserve(c, len)) == NULL)
		return -1;
	mqtt_encode(pkt, c->version, dst);
	c->io->commit(c, len);
	c->tx_bytes += len;
	return 0;
}

int
conn_send_publish_plain(struct conn *c, uint8_t flags, const char *topic,
    uint32_t topic_len, uint16_t id, const uint8_t *payload,
    uint32_t payload_len)
{
	size_t rem, len;
	uint8_t *p;

	if (c->state == CONN_CLOSING)
		return 0;
	rem = 2 + (size_t)topic_len + ((flags & 0x06) != 0 ? 2 : 0) +
	    (c->version == MQTT_V5 ? 1 : 0) + payload_len;
	if (rem > MQTT_MAX_REMAINING)
		return -1;
	len = 1 + mqtt_varint_len((uint32_t)rem) + rem;
	if (c->max_packet != 0 && len > c->max_packet)
		return -1;
	if ((p = c->io->reserve(c, len)) == NULL)
		return -1;
	*p++ = (uint8_t)(MQTT_PUBLISH << 4 | flags);
	p += mqtt_varint_put(p, (uint32_t)rem);
	*p++ = (uint8_t)(topic_len >> 8);
	*p++ = (uint8_t)topic_len;
	memcpy(p, topic, topic_len);
	p += topic_len;
	if ((flags & 0x06) != 0) {
		*p++ = (uint8_t)(id >> 8);
		*p++ = (uint8_t)id;
	}
	if (c->version == MQTT_V5)
		*p++ = 0; /* no property */
	if (payload_len > 0)
		memcpy(p, payload, payload_len);
	c->io->commit(c, len);
	c->tx_bytes += len;
	return 0;
}

static void
conn_alias_free(struct conn *c)
{
	uint32_t i;

	if (c->alias_in != NULL) {
		for (i = 0; i <= srv.cfg.topic_alias_maximum; i++)
			free(c->alias_in[i]);
		free(c->alias_in);
	}
	if (c->alias_out != NULL) {
		for (i = 0; i <= c->alias_out->max; i++)
			free(c->alias_out->topic[i]);
		free(c->alias_out->topic);
		hash_free(c->alias_out->index);
		free(c->alias_out);
	}
}

static void
conn_free(struct conn *c)
{
	TAILQ_REMOVE(&srv.conns, c, entry);
	n_conns--;
	if (c->listener != NULL)
		c->listener->n_conns--;
	gate_conn_free(c);
	auth_exchange_end(c);
	pwcheck_conn_gone(c);
	secret_conn_gone(c);
	conn_alias_free(c);
	wheel_del(c);
	if (c->close_timer != NULL)
		event_free(c->close_timer);
	if (c->rate != NULL) {
		if (c->rate->timer != NULL)
			event_free(c->rate->timer);
		free(c->rate);
	}
	if (c->aux != &conn_aux_none) {
		free(c->aux->auth_user);
		free(c->aux->label);
		free(c->aux);
	}
	c->io->free(c);
	free(c);
	server_conn_gone();
}

/* Free c unless acks waiting for a store commit still point at it; the
 * last of those calls conn_free_later() again (gate.c). */
static void
conn_free_checked(struct conn *c)
{
	if (gate_pending(c)) {
		c->free_pending = 1;
		return;
	}
	conn_free(c);
}

static void
conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free_checked(arg);
}

void
conn_free_later(struct conn *c)
{
	struct timeval zero = { 0, 0 };

	c->io->stop(c);
	if (c->close_timer == NULL) {
		c->close_timer = evtimer_new(srv.base, conn_free_cb, c);
	} else {
		event_del(c->close_timer);
		event_assign(c->close_timer, srv.base, -1, 0, conn_free_cb, c);
	}
	evtimer_add(c->close_timer, &zero);
}

/* Lingering, output flushed: half-close, and wait for the client's end
 * of file (conn_io_failed) for LINGER_SECS at most. */
static void
conn_linger_shut(struct conn *c)
{
	struct timeval tv = { LINGER_SECS, 0 };

	c->io->shutdown(c);
	evtimer_add(c->close_timer, &tv);
}

/* conn_io_drained() once the output is down to low bytes. */
static void
conn_watch_output(struct conn *c, size_t low)
{
	c->drain_low = (uint32_t)low;
	c->drain_watch = 1;
	c->io->watch_output(c);
}

static void
conn_flush_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free_checked(arg);
}

void
conn_close(struct conn *c, uint8_t reason, const char *why)
{
	struct mqtt_packet pkt;
	struct session *s = c->session;
	struct timeval tv;

	if (c->state == CONN_CLOSING)
		return;
	if (c->link == LINK_EXT)
		mqttbridge_closed(c);
	else if (c->link != LINK_NONE)
		bridge_closed(c);
	if (conn_ax(c)->claim != NULL)
		bridge_claim_gone(c);
	/* A password check not started yet is dropped now (pwcheck.c), and
	 * a link login waiting for its turn leaves the queue (secret.c). */
	pwcheck_conn_gone(c);
	secret_conn_gone(c);
	gate_conn_closing(c);
	if (c->state == CONN_ACTIVE && c->version == MQTT_V5 &&
	    reason != MQTT_RC_SUCCESS) {
		memset(&pkt, 0, sizeof pkt);
		pkt.type = MQTT_DISCONNECT;
		pkt.u.reason.reason = reason;
		conn_server_reference(c, reason, &pkt.u.reason.props);
		if (why != NULL) {
			/* Allowed on DISCONNECT whatever the client asked
			 * about problem information (MQTT-3.1.2-29). */
			MQTT_PROP_SET(&pkt.u.reason.props,
			    MQTT_PROP_REASON_STRING);
			pkt.u.reason.props.reason_string.p =
			    (const uint8_t *)why;
			pkt.u.reason.props.reason_string.len =
			    (uint32_t)strlen(why);
		}
		if (conn_send(c, &pkt) != 0) {
			/* Over the client's maximum packet size: the bare
			 * reason code then (MQTT-3.1.2-25). */
			memset(&pkt.u.reason.props, 0,
			    sizeof pkt.u.reason.props);
			conn_send(c, &pkt);
		}
	}
	if (why != NULL) {
		if (reason >= 0x80 && reason != MQTT_RC_SERVER_SHUTTING_DOWN &&
		    reason != MQTT_RC_SESSION_TAKEN_OVER)
			log_notice("closing %s: %s (0x%02x)", conn_label(c),
			    why, reason);
		else
			log_info("closing %s: %s", conn_label(c), why);
	}
	c->state = CONN_CLOSING;
	wheel_del(c);
	if (c->rate != NULL && c->rate->timer != NULL)
		evtimer_del(c->rate->timer);
	if (s != NULL) {
		c->session = NULL;
		s->conn = NULL;
		if (!srv.shutting_down)
			deliver_requeue_shared(s);
		presence_gone(c, s, reason);
		events_disconnected(c, s, reason);
		if (c->will_pending && !srv.shutting_down)
			will_schedule(s);
		else
			will_clear(s);
		session_detach(s);
	}
	c->lingering = reason >= 0x80 && conn_tls(c) == NULL &&
	    conn_ws(c) == NULL &&
	    c->link == LINK_NONE && !srv.shutting_down;
	if (!c->lingering) {
		c->io->read_on(c, 0);
		if (conn_output_len(c) == 0) {
			conn_free_later(c);
			return;
		}
	}
	/* Flush what is queued (the DISCONNECT), bounded in time; all of
	 * it, also when reads were paused at a high output mark. */
	c->close_timer = evtimer_new(srv.base, conn_flush_timeout_cb, c);
	tv.tv_sec = CLOSE_FLUSH_SECS;
	tv.tv_usec = 0;
	evtimer_add(c->close_timer, &tv);
	if (c->lingering) {
		c->io->discard_input(c);
		c->io->read_on(c, 1);
		if (conn_output_len(c) == 0) {
			conn_linger_shut(c);
			return;
		}
	}
	/* conn_io_drained() then frees, or lingers. */
	conn_watch_output(c, 0);
}

enum conn_end
conn_end_reason(const struct conn *c, uint8_t rc)
{
	if (c->said_bye)
		return CONN_END_DISCONNECT;
	if (rc == MQTT_RC_KEEP_ALIVE_TIMEOUT)
		return CONN_END_TIMEOUT;
	if (rc == MQTT_RC_SESSION_TAKEN_OVER)
		return CONN_END_TAKEN_OVER;
	if (rc == MQTT_RC_ADMINISTRATIVE_ACTION)
		return CONN_END_KICKED;
	return CONN_END_CLOSED;
}

const char *
conn_end_name(enum conn_end reason)
{
	static const char *const names[] = {
		"disconnect", "timeout", "taken_over", "closed", "restart",
		"kicked"
	};

	return names[reason];
}

void
conn_take_over(struct conn *c, int clean_start, const char *why)
{
	struct session *s = c->session;

	if (s != NULL && !clean_start && s->persistent && s->expiry != 0 &&
	    c->will_pending) {
		c->will_pending = 0;
		log_info("will of %s dropped: its session goes on",
		    conn_label(c));
	}
	conn_close(c, MQTT_RC_SESSION_TAKEN_OVER, why);
}

void
conn_io_connected(struct conn *c)
{
	if (c->link == LINK_EXT)
		mqttbridge_connected(c);
	else
		bridge_connected(c);
}

void
conn_io_failed(struct conn *c, int eof, int err)
{
	const char *msg;
	char why[600];

	if (c->state == CONN_CLOSING) {
		/* The peer went away while we flushed. */
		conn_free_later(c);
		return;
	}
	if ((msg = c->io->error(c, eof)) != NULL)
		snprintf(why, sizeof why, "%s", msg);
	else if (eof)
		snprintf(why, sizeof why, "connection closed by peer");
	else
		snprintf(why, sizeof why, "socket error: %s",
		    evutil_socket_error_to_string(err));
	if (c->state == CONN_NEW && c->link == LINK_EXT)
		mqttbridge_failed(c, why);
	else if (c->state == CONN_NEW && (c->link == LINK_OUT ||
	    (c->listener != NULL && c->listener->cluster)))
		bridge_link_failed(c, why);
	conn_close(c, MQTT_RC_SUCCESS, why);
}

void
conn_start_keepalive(struct conn *c)
{
	struct timeval tv;

	wheel_del(c);
	if (c->keep_alive == 0)
		return;
	/* 1.5 x keep alive, in milliseconds. */
	tv.tv_sec = (c->keep_alive * 3) / 2;
	tv.tv_usec = (c->keep_alive * 3 % 2) * 500000;
	wheel_add(c, &tv);
}

void
conn_timer_fire(struct conn *c)
{
	struct timeval now, limit, idle, left;

	if (c->link == LINK_OUT || c->link == LINK_EXT) {
		if (c->link == LINK_OUT)
			bridge_timer(c);
		else
			mqttbridge_timer(c);
		return;
	}
	if (c->state == CONN_NEW) {
		conn_close(c, MQTT_RC_MAX_CONNECT_TIME,
		    conn_ax(c)->auth_ex != NULL ?
		    "authentication exchange not done in time" :
		    "no CONNECT in time");
		return;
	}
	if (c->state != CONN_ACTIVE)
		return;
	event_base_gettimeofday_cached(srv.base, &now);
	/* Not read because it publishes too fast: it is not idle. */
	if (c->rate != NULL && c->rate->timer != NULL &&
	    evtimer_pending(c->rate->timer, NULL))
		c->last_rx = now;
	limit.tv_sec = (c->keep_alive * 3) / 2;
	limit.tv_usec = (c->keep_alive * 3 % 2) * 500000;
	timersub(&now, &c->last_rx, &idle);
	if (!timercmp(&idle, &limit, <)) {
		conn_close(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout");
		return;
	}
	timersub(&limit, &idle, &left);
	wheel_add(c, &left);
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

void
conn_server_reference(const struct conn *c, uint8_t rc,
    struct mqtt_props *props)
{
	const char *ref = c->listener != NULL ?
	    c->listener->server_reference : NULL;

	if (ref == NULL || (rc != MQTT_RC_USE_ANOTHER_SERVER &&
	    rc != MQTT_RC_SERVER_MOVED))
		return;
	MQTT_PROP_SET(props, MQTT_PROP_SERVER_REFERENCE);
	props->server_reference.p = (const uint8_t *)ref;
	props->server_reference.len = (uint32_t)strlen(ref);
}

/*
 * Topic aliases (MQTT 5.0 section 3.3.2.3.4). Inbound: up to
 * topic_alias_maximum per connection, a table of topic copies indexed by
 * alias. Outbound: up to the client's Topic Alias Maximum, capped at
 * TOPIC_ALIAS_OUT_MAX; a topic gets the next alias in turn, and when all
 * are in use the next one in turn is re-assigned (round robin: bounded,
 * O(1), and a topic that recurs keeps its alias until its slot comes up
 * again). Aliases live and die with the network connection
 * (MQTT-3.3.2-7).
 */
void
conn_alias_out_init(struct conn *c, uint16_t client_max)
{
	struct conn_alias_out *ao;

	if (client_max == 0 || c->alias_out != NULL)
		return;
	ao = c->alias_out = xcalloc(1, sizeof *c->alias_out);
	ao->max = client_max < TOPIC_ALIAS_OUT_MAX ? client_max :
	    TOPIC_ALIAS_OUT_MAX;
	ao->index = hash_new();
	ao->topic = xcalloc((size_t)ao->max + 1, sizeof *ao->topic);
	ao->next = 0;
}

void
conn_alias_out(struct conn *c, const char *topic, uint32_t len,
    uint16_t *alias, int *send_topic)
{
	struct conn_alias_out *ao = c->alias_out;
	uintptr_t a;

	*alias = 0;
	*send_topic = 1;
	if (ao == NULL)
		return;
	a = (uintptr_t)hash_get(ao->index, topic, len);
	if (a != 0) {
		*alias = (uint16_t)a;
		*send_topic = 0;
		return;
	}
	*alias = (uint16_t)(ao->next % ao->max + 1);
}

void
conn_alias_commit(struct conn *c, const char *topic, uint32_t len,
    uint16_t alias)
{
	struct conn_alias_out *ao = c->alias_out;
	char *old;

	if (ao == NULL || alias == 0 || hash_get(ao->index, topic, len) != NULL)
		return;
	old = ao->topic[alias];
	if (old != NULL) {
		hash_del(ao->index, old, strlen(old));
		free(old);
	}
	ao->topic[alias] = xstrndup(topic, len);
	hash_put(ao->index, topic, len, (void *)(uintptr_t)alias);
	ao->next = alias % ao->max;
}

int
conn_alias_in(struct conn *c, struct mqtt_publish *p, struct mqtt_str *topic)
{
	uint16_t a;
	char *t;

	*topic = p->topic;
	if (!MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS))
		return 0;
	a = p->props.topic_alias;
	if (a == 0 || a > srv.cfg.topic_alias_maximum)
		return MQTT_RC_TOPIC_ALIAS_INVALID;
	if (c->alias_in == NULL)
		c->alias_in = xcalloc((size_t)srv.cfg.topic_alias_maximum + 1,
		    sizeof *c->alias_in);
	if (p->topic.len > 0) {
		free(c->alias_in[a]);
		c->alias_in[a] = xstrndup((const char *)p->topic.p,
		    p->topic.len);
		return 0;
	}
	t = c->alias_in[a];
	if (t == NULL)
		return MQTT_RC_PROTOCOL_ERROR;
	topic->p = (const uint8_t *)t;
	topic->len = (uint32_t)strlen(t);
	return 0;
}

/*
 * Backpressure: a client that does not read its socket would make its
 * output buffer (acks, PINGRESPs, messages) grow without end while it
 * keeps sending. Past OUTPUT_PAUSE bytes waiting, its input is no longer
 * read; once the output drains below OUTPUT_RESUME, reading resumes and
 * what was already buffered is handled.
 */
#define OUTPUT_PAUSE (4u * 1024 * 1024)
#define OUTPUT_RESUME (1u * 1024 * 1024)
/* Past this, the session's messages wait in its queue rather than in the
 * output buffer, whatever its in-flight window (conn_output_full). */
#define OUTPUT_PUMP_MAX (2u * 1024 * 1024)

/* The output is down to the mark conn_watch_output() set: after a close
 * (mark 0) free, or linger; else down to OUTPUT_RESUME: read again, and
 * let the session's queue go on. */
void
conn_io_drained(struct conn *c)
{
	int pump = c->pump_waiting;

	if (c->state == CONN_CLOSING) {
		if (c->lingering)
			conn_linger_shut(c);
		else
			conn_free_later(c);
		return;
	}
	c->pump_waiting = 0;
	conn_unblock(c, BLOCK_OUTPUT);
	if (pump && c->state == CONN_ACTIVE && c->session != NULL)
		deliver_pump(c->session);
}

/* conn_io_drained() once the output is down to OUTPUT_RESUME. */
static void
conn_wait_drain(struct conn *c)
{
	conn_watch_output(c, OUTPUT_RESUME);
}

int
conn_paused(struct conn *c)
{
	if (conn_output_len(c) <= OUTPUT_PAUSE)
		return 0;
	log_debug("%s reads too slowly: input paused", conn_label(c));
	conn_block(c, BLOCK_OUTPUT);
	conn_wait_drain(c);
	return 1;
}

int
conn_output_full(struct conn *c)
{
	if (conn_output_len(c) <= OUTPUT_PUMP_MAX)
		return 0;
	if (!c->pump_waiting && c->state != CONN_CLOSING) {
		c->pump_waiting = 1;
		conn_wait_drain(c);
	}
	return 1;
}

/*
 * Over max_publish_rate or max_publish_bytes_rate (ratelimit.c): the
 * PUBLISH stays in the input buffer and the connection is not read until
 * the bucket has refilled for it. Only this connection waits, on the
 * clock alone: no other client is involved, so no two can wait for each
 * other, and TCP flow control slows the publisher down without a byte
 * lost.
 */
static void
conn_rl_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING)
		return;
	conn_unblock(c, BLOCK_RATE);
}

void
conn_pause_for(struct conn *c, int64_t ms)
{
	struct conn_rate *r = ratelimit_conn(c);
	struct timeval tv;

	if (r->timer == NULL)
		r->timer = evtimer_new(srv.base, conn_rl_resume_cb, c);
	conn_block(c, BLOCK_RATE);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}
