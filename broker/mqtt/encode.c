/*
 * encode.c - encoding of MQTT 3.1, 3.1.1 and 5.0 packets.
 *
 * Design note. Encoding is two passes over the same struct: encode_body()
 * with a NULL writer only adds up the body length (mqtt_encode_len), and
 * with a writer it writes the bytes (mqtt_encode). Sharing one function
 * keeps the two from drifting apart, which is what lets the writers assert
 * instead of check (STYLE.md 4.3). Layouts follow the packet sections of
 * MQTT 5.0 and 3.1.1 (3.1 to 3.15), the fixed header 2.1 and the variable
 * byte integer 1.5.5.
 *
 * Choices made here, per the mqtt.h contract:
 * - fixed-header flags come from the packet, not pkt->flags: DUP/QoS/RETAIN
 *   from a PUBLISH, 0b0010 for PUBREL/SUBSCRIBE/UNSUBSCRIBE, else 0;
 * - for 3.x, properties and v5 reason codes are left out; CONNACK carries
 *   the v3 return code in `reason` as given, SUBACK codes are written as
 *   given and UNSUBACK has no payload;
 * - v5 PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT and AUTH use the short
 *   forms of 3.4.2.1/3.14.2.1/3.15.2.1: nothing after the packet id (or an
 *   empty body) when the reason is success and there are no properties,
 *   the reason code alone when there are no properties;
 * - SUBSCRIBE/UNSUBSCRIBE entries are written from `list`, which is
 *   already in wire form;
 * - the will QoS and retain bits are written only with a will.
 * A packet that cannot be encoded (a string over 65535 bytes, a remaining
 * length over MQTT_MAX_REMAINING, AUTH in 3.x, an unknown type) has
 * length 0.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt_int.h"

#define ENC_BAD UINT64_MAX

/* Bytes needed for a variable byte integer; see mqtt.h. */
unsigned
mqtt_varint_len(uint32_t v)
{
	if (v < 128)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 2097152)
		return 3;
	return 4;
}

/* Write a variable byte integer (1.5.5); see mqtt.h. */
unsigned
mqtt_varint_put(uint8_t *dst, uint32_t v)
{
	unsigned n = 0;
	uint8_t b;

	assert(v <= MQTT_MAX_REMAINING);
	do {
		b = v & 0x7f;
		v >>= 7;
		if (v != 0)
			b |= 0x80;
		dst[n++] = b;
	} while (v != 0);
	return n;
}

/*
 * The encoding pass. When w is NULL nothing is written and only the
 * length is counted; a field that cannot be encoded makes the total
 * ENC_BAD, which sticks.
 */
struct enc {
	struct mqtt_wr *w;
	uint64_t n;
};

static void
enc_count(struct enc *e, uint64_t n)
{
	if (e->n == ENC_BAD || n == ENC_BAD)
		e->n = ENC_BAD;
	else
		e->n += n;
}

static void
enc_u8(struct enc *e, uint8_t v)
{
	enc_count(e, 1);
	if (e->w != NULL)
		mqtt_wr_u8(e->w, v);
}

static void
enc_u16(struct enc *e, uint16_t v)
{
	enc_count(e, 2);
	if (e->w != NULL)
		mqtt_wr_u16(e->w, v);
}

static void
enc_raw(struct enc *e, const uint8_t *p, uint32_t len)
{
	enc_count(e, len);
	if (e->w != NULL)
		mqtt_wr_raw(e->w, p, len);
}

static void
enc_str(struct enc *e, const struct mqtt_str *s)
{
	if (s->len > MQTT_STR_MAX) {
		enc_count(e, ENC_BAD);
		return;
	}
	enc_count(e, 2 + (uint64_t)s->len);
	if (e->w != NULL)
		mqtt_wr_str(e->w, s);
}

static void
enc_cstr(struct enc *e, const char *s)
{
	struct mqtt_str str;

	str.p = (const uint8_t *)s;
	str.len = (uint32_t)strlen(s);
	enc_str(e, &str);
}

/* Size of a property block without its length prefix, or ENC_BAD. */
static uint64_t
enc_props_size(const struct mqtt_props *props)
{
	uint64_t n = mqtt_props_size(props);

	return n > MQTT_MAX_REMAINING ? ENC_BAD : n;
}

/* A property block with its length prefix. */
static void
enc_props(struct enc *e, const struct mqtt_props *props)
{
	uint64_t n = enc_props_size(props);

	if (n == ENC_BAD) {
		enc_count(e, ENC_BAD);
		return;
	}
	enc_count(e, mqtt_varint_len((uint32_t)n) + n);
	if (e->w != NULL)
		mqtt_props_encode(e->w, props);
}

/* Reason code and properties of a v5 ack, DISCONNECT or AUTH, in the
 * shortest form allowed. */
static void
enc_reason_props(struct enc *e, uint8_t reason,
    const struct mqtt_props *props)
{
	uint64_t n = enc_props_size(props);

	if (n == 0 && reason == MQTT_RC_SUCCESS)
		return;
	enc_u8(e, reason);
	if (n != 0)
		enc_props(e, props);
}

static void
enc_connect(struct enc *e, const struct mqtt_connect *c)
{
	uint8_t cf = 0;
	int v5 = c->version == MQTT_V5;

	enc_cstr(e, c->version == MQTT_V31 ? "MQIsdp" : "MQTT");
	enc_u8(e, c->version);
	if (c->clean_start)
		cf |= 0x02;
	if (c->has_will)
		cf |= 0x04 | (uint8_t)((c->will_qos & 3) << 3) |
		    (c->will_retain ? 0x20 : 0);
	if (c->has_password)
		cf |= 0x40;
	if (c->has_username)
		cf |= 0x80;
	enc_u8(e, cf);
	enc_u16(e, c->keep_alive);
	if (v5)
		enc_props(e, &c->props);
	enc_str(e, &c->client_id);
	if (c->has_will) {
		if (v5)
			enc_props(e, &c->will_props);
		enc_str(e, &c->will_topic);
		enc_str(e, &c->will_payload);
	}
	if (c->has_username)
		enc_str(e, &c->username);
	if (c->has_password)
		enc_str(e, &c->password);
}

/* The body of pkt for `version`. */
static void
enc_body(struct enc *e, const struct mqtt_packet *pkt, uint8_t version)
{
	const struct mqtt_publish *p;
	const struct mqtt_suback *sa;
	int v5 = version == MQTT_V5;

	switch (pkt->type) {
	case MQTT_CONNECT:
		enc_connect(e, &pkt->u.connect);
		break;
	case MQTT_CONNACK:
		/* 3.1 has no Session Present flag: the byte is 0. */
		enc_u8(e, version != MQTT_V31 &&
		    pkt->u.connack.session_present ? 1 : 0);
		enc_u8(e, pkt->u.connack.reason);
		if (v5)
			enc_props(e, &pkt->u.connack.props);
		break;
	case MQTT_PUBLISH:
		p = &pkt->u.publish;
		enc_str(e, &p->topic);
		if (p->qos > 0)
			enc_u16(e, p->packet_id);
		if (v5)
			enc_props(e, &p->props);
		enc_raw(e, p->payload.p, p->payload.len);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		enc_u16(e, pkt->u.ack.packet_id);
		if (v5)
			enc_reason_props(e, pkt->u.ack.reason,
			    &pkt->u.ack.props);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		enc_u16(e, pkt->u.subscribe.packet_id);
		if (v5)
			enc_props(e, &pkt->u.subscribe.props);
		enc_raw(e, pkt->u.subscribe.list.p, pkt->u.subscribe.list.len);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		sa = &pkt->u.suback;
		enc_u16(e, sa->packet_id);
		if (pkt->type == MQTT_UNSUBACK && !v5)
			break;
		if (v5)
			enc_props(e, &sa->props);
		enc_raw(e, sa->codes, sa->count);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		break;
	case MQTT_DISCONNECT:
		if (v5)
			enc_reason_props(e, pkt->u.reason.reason,
			    &pkt->u.reason.props);
		break;
	case MQTT_AUTH:
		if (!v5) {
			enc_count(e, ENC_BAD);
			break;
		}
		enc_reason_props(e, pkt->u.reason.reason, &pkt->u.reason.props);
		break;
	default:
		enc_count(e, ENC_BAD);
		break;
	}
}

/* Fixed-header flags for pkt (MQTT 5.0 2.1.3). */
static uint8_t
enc_flags(const struct mqtt_packet *pkt)
{
	const struct mqtt_publish *p = &pkt->u.publish;

	switch (pkt->type) {
	case MQTT_PUBLISH:
		return (uint8_t)((p->dup ? 0x08 : 0) | ((p->qos & 3) << 1) |
		    (p->retain ? 0x01 : 0));
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return 0x02;
	default:
		return 0;
	}
}

static uint8_t
enc_version(const struct mqtt_packet *pkt, uint8_t version)
{
	return pkt->type == MQTT_CONNECT ? pkt->u.connect.version : version;
}

/* Body length of pkt, or ENC_BAD. */
static uint64_t
enc_body_len(const struct mqtt_packet *pkt, uint8_t version)
{
	struct enc e = { NULL, 0 };

	enc_body(&e, pkt, version);
	return e.n > MQTT_MAX_REMAINING ? ENC_BAD : e.n;
}

/* Exact encoded size of pkt, or 0 when it cannot be encoded; see mqtt.h. */
size_t
mqtt_encode_len(const struct mqtt_packet *pkt, uint8_t version)
{
	uint64_t n = enc_body_len(pkt, enc_version(pkt, version));

	if (n == ENC_BAD)
		return 0;
	return 1 + mqtt_varint_len((uint32_t)n) + (size_t)n;
}

/* Encode pkt into buf (mqtt_encode_len() bytes); see mqtt.h. */
size_t
mqtt_encode(const struct mqtt_packet *pkt, uint8_t version, uint8_t *buf)
{
	struct mqtt_wr w;
	struct enc e = { NULL, 0 };
	uint64_t n;
	size_t total;

	version = enc_version(pkt, version);
	n = enc_body_len(pkt, version);
	assert(n != ENC_BAD);
	total = 1 + mqtt_varint_len((uint32_t)n) + (size_t)n;
	w.p = buf;
	w.end = buf + total;
	mqtt_wr_u8(&w, (uint8_t)((pkt->type << 4) | enc_flags(pkt)));
	mqtt_wr_varint(&w, (uint32_t)n);
	e.w = &w;
	enc_body(&e, pkt, version);
	assert(w.p == w.end);
	return total;
}
