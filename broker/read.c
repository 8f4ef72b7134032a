/*
 * read.c - from bytes to handlers: framing, limits, decoding, dispatch,
 * and the one place where an error becomes a reason code and a close.
 *
 * The transport (sock.c, bevconn.c) hands over what it has read as one
 * contiguous run of bytes, and every complete packet in it is handled in
 * place: neither copied out nor pulled up. The fixed header is framed
 * first (mqtt_frame reads at most 5 bytes) and the packet's size is
 * checked against max_packet_size before the transport is asked for more
 * of its body (*need), so a hostile length costs nothing (MQTT-3.1.2-24 is
 * the v5 reason, 0x95). Before CONNECT only a CONNECT is accepted
 * (MQTT-3.1.0-1), and then, while an enhanced authentication exchange
 * runs, only AUTH (MQTT 5.0 section 4.12); a second CONNECT is a protocol
 * error (MQTT-3.1.0-2).
 *
 * Handlers return 0 or a v5 reason code; a reason code closes the
 * connection here: v5 clients get a DISCONNECT with it (when they have had
 * their CONNACK), 3.1.1 clients just see the socket close (section 4.8 of
 * 3.1.1 has no DISCONNECT from the server).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "broker.h"

static int
read_dispatch(struct conn *c, struct mqtt_packet *pkt)
{
	int rc = -1;

	if (c->link == LINK_EXT)
		rc = mqttbridge_dispatch(c, pkt);
	else if (c->link != LINK_NONE)
		rc = bridge_dispatch(c, pkt);
	if (rc >= 0)
		return rc;
	if (c->state == CONN_NEW) {
		/* In an enhanced authentication exchange (auth.c), only AUTH
		 * until CONNACK. */
		if (conn_ax(c)->auth_ex != NULL)
			return pkt->type == MQTT_AUTH ? handle_auth(c, pkt) :
			    MQTT_RC_PROTOCOL_ERROR;
		if (pkt->type != MQTT_CONNECT)
			return MQTT_RC_PROTOCOL_ERROR;
		return handle_connect(c, pkt);
	}
	switch (pkt->type) {
	case MQTT_PUBLISH:
		return handle_publish(c, pkt);
	case MQTT_PUBACK:
		return handle_puback(c, pkt);
	case MQTT_PUBREC:
		return handle_pubrec(c, pkt);
	case MQTT_PUBREL:
		return handle_pubrel(c, pkt);
	case MQTT_PUBCOMP:
		return handle_pubcomp(c, pkt);
	case MQTT_SUBSCRIBE:
		return handle_subscribe(c, pkt);
	case MQTT_UNSUBSCRIBE:
		return handle_unsubscribe(c, pkt);
	case MQTT_PINGREQ:
		return handle_pingreq(c, pkt);
	case MQTT_DISCONNECT:
		return handle_disconnect(c, pkt);
	case MQTT_AUTH:
		return handle_auth(c, pkt);
	default:
		/* CONNECT again, or a packet only a server sends. */
		return MQTT_RC_PROTOCOL_ERROR;
	}
}

/* "topic alias invalid in PUBLISH": the log line and the v5 Reason
 * String of the DISCONNECT. */
static void
read_why(char *buf, size_t len, int rc, uint8_t type)
{
	snprintf(buf, len, "%s in %s", mqtt_rc_name((uint8_t)rc),
	    mqtt_type_name(type));
}

/*
 * max_publish_rate / max_publish_bytes_rate, checked on the fixed header
 * before the body is decoded. A v5 QoS 1/2 PUBLISH over the rate is
 * handled and answered 0x96 (handle_publish.c): the client learns it and
 * keeps its flow. Anything else over the rate (QoS 0, which has no
 * answer; 3.x, whose acks carry no reason) is not dropped: reading stops
 * for the time the bucket needs (conn_pause_for). Returns 1 when paused.
 * Node links are not limited: they carry many clients' messages.
 */
static int
read_over_rate(struct conn *c, const struct mqtt_frame *f, size_t total)
{
	int64_t wait;

	if (c->state != CONN_ACTIVE || c->link != LINK_NONE ||
	    (srv.cfg.max_publish_rate == 0 &&
	    srv.cfg.max_publish_bytes_rate == 0))
		return 0;
	if ((wait = ratelimit_publish(c, total)) == 0)
		return 0;
	if (c->version == MQTT_V5 && ((f->flags >> 1) & 3) != 0) {
		c->rl_refuse = 1;
		return 0;
	}
	ratelimit_publish_log(c, "delayed");
	conn_pause_for(c, wait);
	return 1;
}

/* A TLS handshake on a listener without TLS: the peer has keys we lack
 * (for the cluster listener, a node with cluster_certfile). */
static void
read_tls_on_plain(struct conn *c)
{
	const char *why = c->listener != NULL && c->listener->cluster ?
	    "TLS handshake on the cluster listener, which has no "
	    "cluster_certfile" : "TLS handshake on a listener without TLS";

	if (c->listener != NULL && c->listener->cluster) {
		bridge_link_failed(c, why);
		why = NULL; /* logged */
	}
	conn_close(c, MQTT_RC_MALFORMED, why);
}

size_t
read_packets(struct conn *c, uint8_t *p, size_t len, size_t *need)
{
	struct mqtt_frame f;
	struct mqtt_packet pkt;
	size_t used = 0, avail, total;
	uint8_t *data;
	char why[96];
	int rc;

	*need = 0;
	while (c->state != CONN_CLOSING && c->blocked == 0) {
		avail = len - used;
		if (avail == 0) {
			*need = 1;
			break;
		}
		if (conn_paused(c))
			break;
		data = p + used;
		if (c->state == CONN_NEW && conn_tls(c) == NULL && avail >= 2 &&
		    data[0] == 0x16 && data[1] == 0x03) {
			/* A TLS ClientHello record; as MQTT, a CONNECT with
			 * bad flags. Say what it is. */
			read_tls_on_plain(c);
			break;
		}
		rc = mqtt_frame(data, avail < MQTT_MAX_FIXED_HEADER ? avail :
		    MQTT_MAX_FIXED_HEADER, c->max_packet_in, &f);
		if (rc == MQTT_FRAME_PARTIAL) {
			*need = avail + 1;
			break;
		}
		if (rc != MQTT_FRAME_OK) {
			conn_close(c, (uint8_t)rc,
			    rc == MQTT_RC_PACKET_TOO_LARGE ?
			    "packet too large" : "malformed fixed header");
			break;
		}
		if (c->state == CONN_NEW && f.type != MQTT_CONNECT &&
		    c->link != LINK_OUT && c->link != LINK_EXT &&
		    !(f.type == MQTT_AUTH && conn_ax(c)->auth_ex != NULL)) {
			conn_close(c, MQTT_RC_PROTOCOL_ERROR,
			    conn_ax(c)->auth_ex != NULL ?
			    "packet other than AUTH in an authentication "
			    "exchange" :
			    "first packet is not CONNECT");
			break;
		}
		total = (size_t)f.header_len + f.remaining;
		if (avail < total) {
			*need = total;
			break;
		}
		if (f.type == MQTT_PUBLISH && read_over_rate(c, &f, total))
			break;
		rc = mqtt_decode(f.type, f.flags, data + f.header_len,
		    f.remaining, c->version, &pkt);
		if (rc != 0) {
			read_why(why, sizeof why, rc, f.type);
			/* MQTT-3.1.2-2 (3.1.1): an unknown protocol level is
			 * answered with CONNACK 0x01 in the 3.1.1 form, which
			 * every client version can read. */
			if (f.type == MQTT_CONNECT &&
			    rc == MQTT_RC_UNSUPPORTED_VERSION)
				handle_connect_refuse(c, MQTT_V311, (uint8_t)rc);
			/* A v5 CONNECT that breaks a rule is told which, in
			 * its CONNACK (4.13.1 allows it); 3.x only closes
			 * (MQTT-3.1.4-1). */
			else if (f.type == MQTT_CONNECT &&
			    c->state == CONN_NEW &&
			    pkt.u.connect.version == MQTT_V5)
				handle_connect_refuse(c, MQTT_V5, (uint8_t)rc);
			conn_close(c, (uint8_t)rc, why);
			break;
		}
		event_base_gettimeofday_cached(srv.base, &c->last_rx);
		gate_begin(c);
		rc = read_dispatch(c, &pkt);
		used += total;
		c->rx_bytes += total;
		if (rc != 0) {
			read_why(why, sizeof why, rc, f.type);
			conn_close(c, (uint8_t)rc, why);
			break;
		}
	}
	return used;
}
