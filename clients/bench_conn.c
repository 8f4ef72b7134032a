/*
 * bench_conn.c - one MQTT client connection of tern-bench.
 *
 * Design note. A connection is a non-blocking socket with two libevent
 * events (read, persistent; write, added only while bytes wait or a QoS 0
 * publisher wants to refill) and two buffers:
 *
 * - Reading goes through one process-wide buffer (the loop is single
 *   threaded): the bytes of a partial packet kept from the last read are
 *   copied to its start, one read() of up to BENCH_READ_CHUNK follows, and
 *   every complete packet in it is framed (mqtt_frame), decoded in place
 *   (mqtt_decode, zero-copy) and handled. Only the tail of a partial
 *   packet is copied back to the connection, so 10,000 idle connections
 *   own no read buffer at all.
 * - Writing appends encoded packets (mqtt_encode) to the connection's
 *   buffer; bench_conn_flush() writes them in one write(). Every
 *   acknowledgement a read produces, and every PUBLISH a refill queues,
 *   leaves in that one write, as a broker's batching would have it.
 *
 * Flow control: at QoS 1/2 a publisher holds at most `window` messages
 * unacknowledged (and, in MQTT 5, no more than the broker's Receive
 * Maximum). Packet ids run 1..65535 in order; the in-flight state lives in
 * `nslots` slots (the window rounded up to a power of two) indexed by
 * id & (nslots - 1), so acknowledgement lookup is O(1) and an id still
 * unacknowledged after a wrap blocks its slot instead of being reused. At
 * QoS 0 the only flow control is TCP's: a publisher refills when its
 * socket is writable (bench_on_writable).
 *
 * The client is a correct QoS 2 receiver (MQTT 4.3.3, method B): the ids
 * of PUBLISHes acknowledged with PUBREC but not yet released are kept in
 * a bitmap, and a resent PUBLISH with such an id is acknowledged again but
 * not reported, so a duplicate counted by bench.c is the broker's.
 *
 * Departures: no TLS, no AUTH, no topic aliases; keep alive pings are sent
 * from bench.c's one-second timer, not per connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"

/* Largest write buffer a connection may build up: a publisher refills at
 * most BENCH_WRITE_BATCH at a time and a read produces at most one ack per
 * 2 bytes read, so this is never reached by a working broker. */
#define CONN_WBUF_MAX (64u * 1024 * 1024)
/* Largest packet accepted from the broker. */
#define CONN_MAX_PACKET (BENCH_MAX_PAYLOAD + 64 * 1024)

static uint8_t conn_rd[CONN_MAX_PACKET + BENCH_READ_CHUNK];

/* When the bytes being handled were read; see bench.h. */
uint64_t bench_conn_rx_now;
static uint8_t conn_payload[BENCH_MAX_PAYLOAD];
static int conn_payload_ready;

static void conn_read_cb(evutil_socket_t, short, void *);
static void conn_write_cb(evutil_socket_t, short, void *);

static void
conn_fail(struct bench_conn *c, const char *why)
{
	bench_conn_close(c);
	bench_on_closed(c, why);
}

/* Make room for n more bytes in the write buffer. */
static int
conn_reserve(struct bench_conn *c, size_t n)
{
	size_t cap;
	uint8_t *nb;

	if (c->woff > 0 && c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wlen + n <= c->wcap)
		return 0;
	if (c->woff > 0) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
		if (c->wlen + n <= c->wcap)
			return 0;
	}
	cap = c->wcap ? c->wcap : 512;
	while (cap < c->wlen + n && cap <= CONN_WBUF_MAX)
		cap *= 2;
	if (cap > CONN_WBUF_MAX)
		return -1;
	nb = realloc(c->wbuf, cap);
	if (nb == NULL)
		return -1;
	c->wbuf = nb;
	c->wcap = cap;
	return 0;
}

/* Encode pkt at the end of the write buffer. */
static int
conn_queue(struct bench_conn *c, const struct mqtt_packet *pkt)
{
	size_t n;

	n = mqtt_encode_len(pkt, bench_cfg.version);
	if (n == 0 || conn_reserve(c, n) != 0) {
		conn_fail(c, n == 0 ? "packet cannot be encoded" :
		    "write buffer full");
		return -1;
	}
	c->wlen += mqtt_encode(pkt, bench_cfg.version, c->wbuf + c->wlen);
	return 0;
}

/* Queue PUBACK, PUBREC, PUBREL or PUBCOMP with success: four bytes in
 * every version (MQTT 5 3.4.2.1 lets the reason code and properties go),
 * written here rather than by mqtt_encode() as it is one per message. */
static int
conn_queue_ack(struct bench_conn *c, uint8_t type, uint16_t id)
{
	uint8_t *w;

	if (conn_reserve(c, 4) != 0) {
		conn_fail(c, "write buffer full");
		return -1;
	}
	w = c->wbuf + c->wlen;
	w[0] = (uint8_t)(type << 4 | (type == MQTT_PUBREL ? 0x02 : 0));
	w[1] = 2;
	w[2] = (uint8_t)(id >> 8);
	w[3] = (uint8_t)id;
	c->wlen += 4;
	return 0;
}

static void
conn_send_connect(struct bench_conn *c)
{
	struct mqtt_packet pkt;
	struct mqtt_connect *cp = &pkt.u.connect;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNECT;
	cp->version = bench_cfg.version;
	cp->clean_start = c->clean;
	cp->keep_alive = bench_cfg.keep_alive;
	c->keep_alive = bench_cfg.keep_alive;
	cp->client_id.p = (const uint8_t *)c->client_id;
	cp->client_id.len = (uint32_t)strlen(c->client_id);
	if (bench_cfg.version == MQTT_V5 && bench_cfg.session_expiry > 0) {
		MQTT_PROP_SET(&cp->props, MQTT_PROP_SESSION_EXPIRY);
		cp->props.session_expiry = bench_cfg.session_expiry;
	}
	if (conn_queue(c, &pkt) != 0)
		return;
	c->state = BC_CONNACK;
	bench_conn_flush(c);
}

static void
conn_send_subscribe(struct bench_conn *c)
{
	struct mqtt_packet pkt;
	uint8_t list[2 + BENCH_TOPIC_MAX + 1];
	size_t n = strlen(c->sub_topic);

	list[0] = (uint8_t)(n >> 8);
	list[1] = (uint8_t)n;
	memcpy(list + 2, c->sub_topic, n);
	list[2 + n] = bench_cfg.qos;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_SUBSCRIBE;
	pkt.u.subscribe.packet_id = 1;
	pkt.u.subscribe.count = 1;
	pkt.u.subscribe.list.p = list;
	pkt.u.subscribe.list.len = (uint32_t)(n + 3);
	if (conn_queue(c, &pkt) != 0)
		return;
	c->state = BC_SUBACK;
	bench_conn_flush(c);
}

static void
conn_ready(struct bench_conn *c)
{
	c->state = BC_READY;
	c->t_ready = bench_now();
	bench_on_ready(c);
}

/* Free the slot of packet id `id` if it is in state `want`. */
static int
conn_slot_take(struct bench_conn *c, uint16_t id, uint8_t want)
{
	uint8_t *s;

	if (c->slots == NULL || id == 0)
		return 0;
	s = &c->slots[id & (c->nslots - 1)];
	if (*s != want)
		return 0;
	*s = BENCH_SLOT_FREE;
	c->inflight--;
	return 1;
}

static void
conn_on_publish(struct bench_conn *c, const struct mqtt_publish *p)
{
	uint8_t *bit;
	uint8_t mask;

	if (p->qos == 1) {
		if (conn_queue_ack(c, MQTT_PUBACK, p->packet_id) != 0)
			return;
	} else if (p->qos == 2) {
		if (c->qos2_in == NULL &&
		    (c->qos2_in = calloc(65536 / 8, 1)) == NULL) {
			conn_fail(c, "out of memory");
			return;
		}
		if (conn_queue_ack(c, MQTT_PUBREC, p->packet_id) != 0)
			return;
		bit = &c->qos2_in[p->packet_id >> 3];
		mask = (uint8_t)(1u << (p->packet_id & 7));
		if (*bit & mask)
			return;	/* resent before PUBREL: already reported */
		*bit |= mask;
	}
	c->received++;
	bench_on_message(c, p);
}

/* Handle one decoded packet. The connection may be closed on return. */
static void
conn_on_packet(struct bench_conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_ack *a = &pkt->u.ack;

	if (c->state == BC_CONNACK && pkt->type != MQTT_CONNACK) {
		conn_fail(c, "first packet is not CONNACK");
		return;
	}
	switch (pkt->type) {
	case MQTT_CONNACK:
		if (c->state != BC_CONNACK) {
			conn_fail(c, "unexpected CONNACK");
			return;
		}
		if (pkt->u.connack.reason != 0) {
			conn_fail(c, bench_cfg.version == MQTT_V5 ?
			    mqtt_rc_name(pkt->u.connack.reason) :
			    "CONNECT refused");
			return;
		}
		c->session_present = pkt->u.connack.session_present;
		c->server_recv_max = 0;
		if (MQTT_PROP_HAS(&pkt->u.connack.props, MQTT_PROP_RECEIVE_MAX))
			c->server_recv_max = pkt->u.connack.props.receive_max;
		if (MQTT_PROP_HAS(&pkt->u.connack.props,
		    MQTT_PROP_SERVER_KEEP_ALIVE))
			c->keep_alive = pkt->u.connack.props.server_keep_alive;
		if (c->sub_topic[0] != '\0' && !c->skip_sub)
			conn_send_subscribe(c);
		else
			conn_ready(c);
		break;
	case MQTT_SUBACK:
		if (c->state != BC_SUBACK || pkt->u.suback.count != 1) {
			conn_fail(c, "unexpected SUBACK");
			return;
		}
		if (pkt->u.suback.codes[0] >= 0x80) {
			conn_fail(c, "subscription refused");
			return;
		}
		conn_ready(c);
		break;
	case MQTT_PUBLISH:
		conn_on_publish(c, &pkt->u.publish);
		break;
	case MQTT_PUBACK:
		if (conn_slot_take(c, a->packet_id, BENCH_SLOT_PUBACK)) {
			c->acked++;
			bench_on_acked(c, a->reason);
		}
		break;
	case MQTT_PUBREC:
		if (a->reason >= 0x80) {
			if (conn_slot_take(c, a->packet_id, BENCH_SLOT_PUBREC))
				bench_on_acked(c, a->reason);
			break;
		}
		if (c->slots != NULL && a->packet_id != 0 &&
		    c->slots[a->packet_id & (c->nslots - 1)] ==
		    BENCH_SLOT_PUBREC)
			c->slots[a->packet_id & (c->nslots - 1)] =
			    BENCH_SLOT_PUBCOMP;
		conn_queue_ack(c, MQTT_PUBREL, a->packet_id);
		break;
	case MQTT_PUBREL:
		if (c->qos2_in != NULL)
			c->qos2_in[a->packet_id >> 3] &=
			    (uint8_t)~(1u << (a->packet_id & 7));
		conn_queue_ack(c, MQTT_PUBCOMP, a->packet_id);
		break;
	case MQTT_PUBCOMP:
		if (conn_slot_take(c, a->packet_id, BENCH_SLOT_PUBCOMP)) {
			c->acked++;
			bench_on_acked(c, a->reason);
		}
		break;
	case MQTT_PINGRESP:
	case MQTT_UNSUBACK:
		break;
	case MQTT_DISCONNECT:
		conn_fail(c, bench_cfg.version == MQTT_V5 ?
		    mqtt_rc_name(pkt->u.reason.reason) : "DISCONNECT");
		break;
	default:
		conn_fail(c, "unexpected packet from the broker");
		break;
	}
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;
	struct mqtt_frame f;
	struct mqtt_packet pkt;
	size_t len, off = 0, total, keep;
	ssize_t n;
	uint8_t *nb;
	int rc;

	if (c->rkeep_len > 0)
		memcpy(conn_rd, c->rkeep, c->rkeep_len);
	n = read(fd, conn_rd + c->rkeep_len, BENCH_READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_fail(c, n == 0 ? "connection closed by the broker" :
		    strerror(errno));
		return;
	}
	len = c->rkeep_len + (size_t)n;
	c->rkeep_len = 0;
	bench_conn_rx_now = bench_now();
	while (off < len) {
		rc = mqtt_frame(conn_rd + off, len - off, CONN_MAX_PACKET, &f);
		if (rc == MQTT_FRAME_PARTIAL)
			break;
		if (rc != MQTT_FRAME_OK) {
			conn_fail(c, "bad packet from the broker");
			return;
		}
		total = (size_t)f.header_len + f.remaining;
		if (total > len - off)
			break;
		rc = mqtt_decode(f.type, f.flags, conn_rd + off + f.header_len,
		    f.remaining, bench_cfg.version, &pkt);
		if (rc != 0) {
			conn_fail(c, mqtt_rc_name((uint8_t)rc));
			return;
		}
		pkt.type = f.type;
		conn_on_packet(c, &pkt);
		if (c->state == BC_CLOSED || c->state == BC_IDLE)
			return;
		off += total;
	}
	keep = len - off;
	if (keep > 0) {
		if (keep > c->rkeep_cap) {
			nb = realloc(c->rkeep, keep);
			if (nb == NULL) {
				conn_fail(c, "out of memory");
				return;
			}
			c->rkeep = nb;
			c->rkeep_cap = (uint32_t)keep;
		}
		memmove(c->rkeep, conn_rd + off, keep);
		c->rkeep_len = (uint32_t)keep;
	}
	bench_conn_flush(c);
	bench_on_read_done();
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;
	int err = 0;
	socklen_t elen = sizeof err;

	if (c->state == BC_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			err = errno;
		if (err != 0) {
			conn_fail(c, strerror(err));
			return;
		}
		event_del(c->wev);
		conn_send_connect(c);
		return;
	}
	if (bench_conn_flush(c) != 0)
		return;
	if (c->wlen == c->woff && c->want_write && c->state == BC_READY)
		bench_on_writable(c);
}

/* Start a connection; see bench.h. */
int
bench_conn_start(struct bench_conn *c)
{
	int fd, one = 1, e;

	c->state = BC_CLOSED;
	c->wlen = c->woff = 0;
	c->rkeep_len = 0;
	c->inflight = 0;
	c->session_present = 0;
	c->server_recv_max = 0;
	c->want_write = 0;
	fd = socket(c->host->addr.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->rev = event_new(bench_base, fd, EV_READ | EV_PERSIST, conn_read_cb,
	    c);
	c->wev = event_new(bench_base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c);
	if (c->rev == NULL || c->wev == NULL) {
		bench_conn_close(c);
		errno = ENOMEM;
		return -1;
	}
	if (bench_cfg.qos > 0 && c->pub_idx != UINT32_MAX) {
		c->nslots = 1;
		while (c->nslots < c->window)
			c->nslots *= 2;
		free(c->slots);
		c->slots = calloc(c->nslots, 1);
		if (c->slots == NULL) {
			bench_conn_close(c);
			errno = ENOMEM;
			return -1;
		}
		if (c->next_pid == 0)
			c->next_pid = 1;
	}
	c->t_connect = bench_now();
	c->last_write = c->t_connect;
	event_add(c->rev, NULL);
	if (connect(fd, (struct sockaddr *)&c->host->addr,
	    c->host->addrlen) == 0) {
		conn_send_connect(c);
		return 0;
	}
	if (errno != EINPROGRESS) {
		e = errno;
		bench_conn_close(c);
		errno = e;
		return -1;
	}
	c->state = BC_CONNECTING;
	event_add(c->wev, NULL);
	return 0;
}

/* 1 when the window has room; see bench.h. */
int
bench_conn_can_publish(const struct bench_conn *c)
{
	uint32_t w;

	if (c->state != BC_READY)
		return 0;
	if (bench_cfg.qos == 0)
		return 1;
	w = c->window;
	if (c->server_recv_max > 0 && c->server_recv_max < w)
		w = c->server_recv_max;
	return c->inflight < w &&
	    c->slots[c->next_pid & (c->nslots - 1)] == BENCH_SLOT_FREE;
}

/* Queue one PUBLISH of the run; see bench.h. The PUBLISH is encoded here
 * rather than by mqtt_encode(): the codec's generic property walk cost a
 * third of tern-bench's CPU at 1.5 M msg/s (its layout is section 3.3:
 * fixed header, topic, packet id at QoS > 0, an empty v5 property block,
 * payload). */
void
bench_conn_publish(struct bench_conn *c, const char *topic, uint64_t now,
    uint32_t tag)
{
	uint32_t tlen = (uint32_t)strlen(topic), rem, u32;
	uint64_t u64;
	uint8_t *w, qos = bench_cfg.qos;

	if (!conn_payload_ready) {
		memset(conn_payload, 'x', sizeof conn_payload);
		conn_payload_ready = 1;
	}
	rem = 2 + tlen + (qos > 0 ? 2 : 0) +
	    (bench_cfg.version == MQTT_V5 ? 1 : 0) + bench_cfg.size;
	if (conn_reserve(c, 1 + MQTT_MAX_FIXED_HEADER + rem) != 0) {
		conn_fail(c, "write buffer full");
		return;
	}
	w = c->wbuf + c->wlen;
	*w++ = (uint8_t)(MQTT_PUBLISH << 4 | qos << 1);
	w += mqtt_varint_put(w, rem);
	*w++ = (uint8_t)(tlen >> 8);
	*w++ = (uint8_t)tlen;
	memcpy(w, topic, tlen);
	w += tlen;
	if (qos > 0) {
		*w++ = (uint8_t)(c->next_pid >> 8);
		*w++ = (uint8_t)c->next_pid;
		c->slots[c->next_pid & (c->nslots - 1)] = qos == 1 ?
		    BENCH_SLOT_PUBACK : BENCH_SLOT_PUBREC;
		c->inflight++;
		c->next_pid = c->next_pid == 65535 ? 1 :
		    (uint16_t)(c->next_pid + 1);
	}
	if (bench_cfg.version == MQTT_V5)
		*w++ = 0;
	u32 = bench_cfg.run_id;
	memcpy(w, &u32, 4);
	u32 = c->pub_idx;
	memcpy(w + 4, &u32, 4);
	u64 = c->sent;
	memcpy(w + 8, &u64, 8);
	memcpy(w + 16, &now, 8);
	memcpy(w + BENCH_HDR_LEN, conn_payload, bench_cfg.size -
	    BENCH_HDR_LEN);
	if (bench_cfg.size >= BENCH_HDR_LEN + BENCH_TAG_LEN)
		memcpy(w + BENCH_HDR_LEN, &tag, BENCH_TAG_LEN);
	w += bench_cfg.size;
	c->wlen = (size_t)(w - c->wbuf);
	c->sent++;
}

/* Write what is queued; see bench.h. */
int
bench_conn_flush(struct bench_conn *c)
{
	ssize_t n;
	int guard;

	if (c->state == BC_CLOSED || c->state == BC_IDLE)
		return -1;
	if (c->state == BC_CONNECTING)
		return 0;
	for (guard = 0; c->woff < c->wlen && guard < 64; guard++) {
		n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (n > 0) {
			c->woff += (size_t)n;
			c->last_write = bench_now();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		conn_fail(c, n == 0 ? "write returned 0" : strerror(errno));
		return -1;
	}
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
		if (!c->want_write)
			event_del(c->wev);
		else
			event_add(c->wev, NULL);
	} else
		event_add(c->wev, NULL);
	return 0;
}

/* Bytes queued; see bench.h. */
size_t
bench_conn_pending(const struct bench_conn *c)
{
	return c->wlen - c->woff;
}

/* Send DISCONNECT and close; see bench.h. */
void
bench_conn_disconnect(struct bench_conn *c)
{
	struct mqtt_packet pkt;

	if (c->state == BC_READY || c->state == BC_SUBACK) {
		memset(&pkt, 0, sizeof pkt);
		pkt.type = MQTT_DISCONNECT;
		c->want_write = 0;
		if (conn_queue(c, &pkt) != 0)
			return;
		bench_conn_flush(c);
	}
	bench_conn_close(c);
}

/* Close and free the buffers; see bench.h. */
void
bench_conn_close(struct bench_conn *c)
{
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->woff = c->wcap = 0;
	free(c->rkeep);
	c->rkeep = NULL;
	c->rkeep_len = c->rkeep_cap = 0;
	free(c->slots);
	c->slots = NULL;
	c->inflight = 0;
	c->want_write = 0;
	c->state = BC_CLOSED;
}

/* PINGREQ when idle for half the keep alive; see bench.h. */
void
bench_conn_keepalive(struct bench_conn *c, uint64_t now)
{
	struct mqtt_packet pkt;

	if (c->state != BC_READY || c->keep_alive == 0 ||
	    now - c->last_write < (uint64_t)c->keep_alive * 500000000u)
		return;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PINGREQ;
	if (conn_queue(c, &pkt) == 0)
		bench_conn_flush(c);
}
