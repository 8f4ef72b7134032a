/*
 * decode.c - framing and decoding of MQTT 3.1, 3.1.1 and 5.0 packets.
 *
 * Design note. Framing (mqtt_frame) reads only the fixed header (MQTT 5.0
 * 2.1, 3.1.1 2.2): type, flags and the remaining length, a variable byte
 * integer of at most four bytes (1.5.5). It keeps no state, so a caller
 * whose packet arrives one byte at a time just calls it again with more
 * bytes (as picohttpparser does). The size limit is applied here, before
 * the caller buffers the body.
 *
 * mqtt_decode then parses a complete body with a bounded reader (see
 * mqtt_int.h): every field is length-checked before use, results are views
 * into the body, and bytes left over after the last field are malformed.
 * One function per packet type, each following its spec section:
 *   CONNECT 3.1, CONNACK 3.2, PUBLISH 3.3, PUBACK..PUBCOMP 3.4-3.7,
 *   SUBSCRIBE 3.8, SUBACK 3.9, UNSUBSCRIBE 3.10, UNSUBACK 3.11,
 *   PINGREQ/PINGRESP 3.12-3.13, DISCONNECT 3.14, AUTH 3.15 (5.0 numbering;
 *   3.1.1 uses the same numbers for its 14 packets).
 * MQTT 3.1 ("MQIsdp", level 3) differs from 3.1.1 only in the CONNECT
 * protocol name, so after CONNECT it is decoded as 3.1.1.
 *
 * Where the spec leaves the reaction open, the mqtt.h contract decides:
 * reserved bits and fixed-header flags are malformed (2.1.3, [MQTT-3.1.2-3],
 * [MQTT-3.3.1-4], [MQTT-3.8.3-5]); duplicates and out-of-range values are
 * protocol errors; reason codes outside the set listed for the packet
 * (2.4 and each packet's reason code table) are malformed.
 *
 * Deviations, knowingly: a non-minimal variable byte integer ("0x80 0x00")
 * is accepted, as most brokers do, although [MQTT-1.5.5-1] asks senders
 * for the shortest form. Semantic checks that depend on broker state or
 * policy (client identifier rules, topic filter syntax per SUBSCRIBE
 * entry, will topic wildcards, topic alias ranges) are the caller's.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt_int.h"

/* Frame the packet at the start of buf; see mqtt.h. */
int
mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet,
    struct mqtt_frame *out)
{
	uint32_t remaining = 0;
	size_t i;

	if (len < 1)
		return MQTT_FRAME_PARTIAL;
	if ((buf[0] >> 4) == 0)
		return MQTT_RC_MALFORMED;
	for (i = 1; i <= 4; i++) {
		if (i >= len)
			return MQTT_FRAME_PARTIAL;
		remaining |= (uint32_t)(buf[i] & 0x7f) << (7 * (i - 1));
		if ((buf[i] & 0x80) == 0)
			break;
	}
	if (i > 4)
		return MQTT_RC_MALFORMED;
	if (max_packet != 0 && (uint64_t)(i + 1) + remaining > max_packet)
		return MQTT_RC_PACKET_TOO_LARGE;
	out->type = buf[0] >> 4;
	out->flags = buf[0] & 0x0f;
	out->header_len = (uint8_t)(i + 1);
	out->remaining = remaining;
	return MQTT_FRAME_OK;
}

/* Fixed-header flags: 0b0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE, anything
 * for PUBLISH (checked there), 0 otherwise (MQTT 5.0 2.1.3). */
static int
decode_flags_ok(uint8_t type, uint8_t flags)
{
	switch (type) {
	case MQTT_PUBLISH:
		return 1;
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return flags == 0x2;
	default:
		return flags == 0;
	}
}

/* Is rc one of set[0..n)? */
static int
decode_rc_in(uint8_t rc, const uint8_t *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (set[i] == rc)
			return 1;
	}
	return 0;
}

#define RC_IN(rc, set) decode_rc_in(rc, set, sizeof (set))

/* Reason codes allowed per packet (MQTT 5.0 3.2.2.2, 3.4.2.1, 3.5.2.1,
 * 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1). */
static const uint8_t rc_connack[] = {
	0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
	0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F
};
static const uint8_t rc_puback[] = { /* and PUBREC */
	0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99
};
static const uint8_t rc_pubrel[] = { 0x00, 0x92 }; /* and PUBCOMP */
static const uint8_t rc_suback[] = {
	0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2
};
static const uint8_t rc_suback_v3[] = { 0x00, 0x01, 0x02, 0x80 };
static const uint8_t rc_unsuback[] = {
	0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91
};
static const uint8_t rc_disconnect[] = {
	0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E,
	0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B,
	0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2
};
static const uint8_t rc_auth[] = { 0x00, 0x18, 0x19 };

/* CONNECT, 3.1 in both specs. */
static int
decode_connect(struct mqtt_rd *r, struct mqtt_connect *c)
{
	struct mqtt_str name;
	uint8_t level, cf;
	int rc;

	if (mqtt_rd_bin(r, &name) != 0 || mqtt_rd_u8(r, &level) != 0)
		return MQTT_RC_MALFORMED;
	/* [MQTT-3.1.2-1], [MQTT-3.1.2-2]; 3.1 used "MQIsdp" and level 3. */
	if (name.len == 4 && memcmp(name.p, "MQTT", 4) == 0) {
		if (level != MQTT_V311 && level != MQTT_V5)
			return MQTT_RC_UNSUPPORTED_VERSION;
	} else if (name.len == 6 && memcmp(name.p, "MQIsdp", 6) == 0) {
		if (level != MQTT_V31)
			return MQTT_RC_UNSUPPORTED_VERSION;
	} else
		return MQTT_RC_UNSUPPORTED_VERSION;
	c->version = level;

	if (mqtt_rd_u8(r, &cf) != 0 || mqtt_rd_u16(r, &c->keep_alive) != 0)
		return MQTT_RC_MALFORMED;
	if (cf & 0x01)	/* reserved [MQTT-3.1.2-3] */
		return MQTT_RC_MALFORMED;
	c->clean_start = (cf >> 1) & 1;
	c->has_will = (cf >> 2) & 1;
	c->will_qos = (cf >> 3) & 3;
	c->will_retain = (cf >> 5) & 1;
	c->has_password = (cf >> 6) & 1;
	c->has_username = (cf >> 7) & 1;
	if (!c->has_will && (c->will_qos != 0 || c->will_retain))
		return MQTT_RC_MALFORMED; /* [MQTT-3.1.2-11], [MQTT-3.1.2-13] */
	if (c->will_qos == 3)
		return MQTT_RC_MALFORMED; /* [MQTT-3.1.2-12] */
	if (level != MQTT_V5 && c->has_password && !c->has_username)
		return MQTT_RC_MALFORMED; /* 3.1.1 [MQTT-3.1.2-22] */

	if (level == MQTT_V5) {
		rc = mqtt_props_decode(r, MQTT_CTX_CONNECT, &c->props);
		if (rc != 0)
			return rc;
		/* 3.1.2.11.10: data without a method is a protocol error. */
		if (MQTT_PROP_HAS(&c->props, MQTT_PROP_AUTH_DATA) &&
		    !MQTT_PROP_HAS(&c->props, MQTT_PROP_AUTH_METHOD))
			return MQTT_RC_PROTOCOL_ERROR;
	}
	if (mqtt_rd_utf8(r, &c->client_id) != 0)
		return MQTT_RC_MALFORMED;
	if (c->has_will) {
		if (level == MQTT_V5) {
			rc = mqtt_props_decode(r, MQTT_CTX_WILL,
			    &c->will_props);
			if (rc != 0)
				return rc;
		}
		if (mqtt_rd_utf8(r, &c->will_topic) != 0 ||
		    mqtt_rd_bin(r, &c->will_payload) != 0)
			return MQTT_RC_MALFORMED;
	}
	if (c->has_username && mqtt_rd_utf8(r, &c->username) != 0)
		return MQTT_RC_MALFORMED;
	if (c->has_password && mqtt_rd_bin(r, &c->password) != 0)
		return MQTT_RC_MALFORMED;
	/* A topic name has at least one character [MQTT-4.7.3-1]; a will
	 * has no topic alias to stand in for it. */
	if (c->has_will && c->will_topic.len == 0)
		return MQTT_RC_PROTOCOL_ERROR;
	return 0;
}

/* CONNACK, 3.2. */
static int
decode_connack(struct mqtt_rd *r, uint8_t version, struct mqtt_connack *c)
{
	uint8_t af;

	if (mqtt_rd_u8(r, &af) != 0 || mqtt_rd_u8(r, &c->reason) != 0)
		return MQTT_RC_MALFORMED;
	if (af & 0xfe)	/* [MQTT-3.2.2-1] */
		return MQTT_RC_MALFORMED;
	c->session_present = af & 1;
	if (version != MQTT_V5)
		return c->reason <= MQTT_V3_NOT_AUTHORIZED ? 0 :
		    MQTT_RC_MALFORMED;
	if (!RC_IN(c->reason, rc_connack))
		return MQTT_RC_MALFORMED;
	return mqtt_props_decode(r, MQTT_CTX_CONNACK, &c->props);
}

/* PUBLISH, 3.3. */
static int
decode_publish(struct mqtt_rd *r, uint8_t flags, uint8_t version,
    struct mqtt_publish *p)
{
	int rc;

	p->dup = (flags >> 3) & 1;
	p->qos = (flags >> 1) & 3;
	p->retain = flags & 1;
	if (p->qos == 3)
		return MQTT_RC_MALFORMED; /* [MQTT-3.3.1-4] */
	if (p->dup && p->qos == 0)
		return MQTT_RC_MALFORMED; /* [MQTT-3.3.1-2] */
	if (mqtt_rd_utf8(r, &p->topic) != 0)
		return MQTT_RC_MALFORMED;
	if (p->qos > 0) {
		if (mqtt_rd_u16(r, &p->packet_id) != 0)
			return MQTT_RC_MALFORMED;
		if (p->packet_id == 0)
			return MQTT_RC_PROTOCOL_ERROR; /* [MQTT-2.2.1-3] */
	}
	if (version == MQTT_V5) {
		rc = mqtt_props_decode(r, MQTT_CTX_PUBLISH, &p->props);
		if (rc != 0)
			return rc;
	}
	p->payload.p = mqtt_rd_left(r) != 0 ? r->p : NULL;
	p->payload.len = (uint32_t)mqtt_rd_left(r);
	r->p = r->end;

	if (p->topic.len == 0) {
		/* 5.0 3.3.2.3.4: empty topic only with a topic alias;
		 * 3.1.1 has no alias [MQTT-4.7.3-1]. */
		if (version != MQTT_V5 ||
		    !MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS))
			return MQTT_RC_PROTOCOL_ERROR;
	} else if (!mqtt_topic_name_valid(p->topic.p, p->topic.len))
		return MQTT_RC_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2] */
	return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP: 3.4-3.7. */
static int
decode_ack(struct mqtt_rd *r, uint8_t type, uint8_t version,
    struct mqtt_ack *a)
{
	enum mqtt_prop_ctx ctx;
	int rc;

	if (mqtt_rd_u16(r, &a->packet_id) != 0)
		return MQTT_RC_MALFORMED;
	if (a->packet_id == 0)
		return MQTT_RC_PROTOCOL_ERROR;
	a->reason = MQTT_RC_SUCCESS;
	if (version != MQTT_V5 || mqtt_rd_left(r) == 0)
		return 0;	/* 3.4.2.1: no reason code means success */
	(void)mqtt_rd_u8(r, &a->reason);
	if (type == MQTT_PUBACK || type == MQTT_PUBREC) {
		if (!RC_IN(a->reason, rc_puback))
			return MQTT_RC_MALFORMED;
	} else if (!RC_IN(a->reason, rc_pubrel))
		return MQTT_RC_MALFORMED;
	if (mqtt_rd_left(r) == 0)
		return 0;	/* 3.4.2.2.1: no property length means none */
	switch (type) {
	case MQTT_PUBACK:
		ctx = MQTT_CTX_PUBACK;
		break;
	case MQTT_PUBREC:
		ctx = MQTT_CTX_PUBREC;
		break;
	case MQTT_PUBREL:
		ctx = MQTT_CTX_PUBREL;
		break;
	default:
		ctx = MQTT_CTX_PUBCOMP;
		break;
	}
	if ((rc = mqtt_props_decode(r, ctx, &a->props)) != 0)
		return rc;
	return 0;
}

/* SUBSCRIBE 3.8 and UNSUBSCRIBE 3.10. */
static int
decode_subscribe(struct mqtt_rd *r, uint8_t type, uint8_t version,
    struct mqtt_subscribe *s)
{
	struct mqtt_str filter;
	uint8_t opt;
	int rc, sub = type == MQTT_SUBSCRIBE;

	if (mqtt_rd_u16(r, &s->packet_id) != 0)
		return MQTT_RC_MALFORMED;
	if (version == MQTT_V5) {
		rc = mqtt_props_decode(r, sub ? MQTT_CTX_SUBSCRIBE :
		    MQTT_CTX_UNSUBSCRIBE, &s->props);
		if (rc != 0)
			return rc;
	}
	s->list.p = mqtt_rd_left(r) != 0 ? r->p : NULL;
	s->list.len = (uint32_t)mqtt_rd_left(r);
	while (mqtt_rd_left(r) != 0) {
		/* [MQTT-3.8.3-1], [MQTT-3.10.3-1]: UTF-8 only; syntax is
		 * the caller's, per entry. */
		if (mqtt_rd_utf8(r, &filter) != 0)
			return MQTT_RC_MALFORMED;
		if (sub) {
			if (mqtt_rd_u8(r, &opt) != 0)
				return MQTT_RC_MALFORMED;
			/* 3.1.1 [MQTT-3.8.3-4] */
			if (version != MQTT_V5 && (opt & 0xfc) != 0)
				return MQTT_RC_MALFORMED;
			if (version == MQTT_V5 && (opt & 0xc0) != 0)
				return MQTT_RC_MALFORMED; /* [MQTT-3.8.3-5] */
			if (MQTT_SUBOPT_QOS(opt) == 3)
				return MQTT_RC_MALFORMED;
			if (MQTT_SUBOPT_RH(opt) == 3)
				return MQTT_RC_PROTOCOL_ERROR;
			/* v5 [MQTT-3.8.3-4] */
			if ((opt & MQTT_SUBOPT_NO_LOCAL) &&
			    mqtt_topic_shared(filter.p, filter.len, NULL, NULL))
				return MQTT_RC_PROTOCOL_ERROR;
		}
		s->count++;
	}
	if (s->packet_id == 0)
		return MQTT_RC_PROTOCOL_ERROR; /* [MQTT-2.2.1-3] */
	if (s->count == 0)	/* [MQTT-3.8.3-2], [MQTT-3.10.3-2] */
		return MQTT_RC_PROTOCOL_ERROR;
	return 0;
}

/* SUBACK 3.9 and UNSUBACK 3.11. */
static int
decode_suback(struct mqtt_rd *r, uint8_t type, uint8_t version,
    struct mqtt_suback *s)
{
	uint32_t i;
	int rc;

	if (mqtt_rd_u16(r, &s->packet_id) != 0)
		return MQTT_RC_MALFORMED;
	if (s->packet_id == 0)
		return MQTT_RC_PROTOCOL_ERROR;
	if (type == MQTT_UNSUBACK && version != MQTT_V5)
		return 0;	/* 3.1.1 3.11: no payload */
	if (version == MQTT_V5) {
		rc = mqtt_props_decode(r, type == MQTT_SUBACK ?
		    MQTT_CTX_SUBACK : MQTT_CTX_UNSUBACK, &s->props);
		if (rc != 0)
			return rc;
	}
	s->count = (uint32_t)mqtt_rd_left(r);
	s->codes = s->count != 0 ? r->p : NULL;
	for (i = 0; i < s->count; i++) {
		if (type == MQTT_UNSUBACK) {
			if (!RC_IN(s->codes[i], rc_unsuback))
				return MQTT_RC_MALFORMED;
		} else if (version == MQTT_V5) {
			if (!RC_IN(s->codes[i], rc_suback))
				return MQTT_RC_MALFORMED;
		} else if (!RC_IN(s->codes[i], rc_suback_v3))
			return MQTT_RC_MALFORMED;
	}
	r->p = r->end;
	if (s->count == 0)
		return MQTT_RC_PROTOCOL_ERROR; /* one code per filter */
	return 0;
}

/* DISCONNECT 3.14 and AUTH 3.15 (v5 only; 3.1.1 DISCONNECT is empty). */
static int
decode_reason(struct mqtt_rd *r, uint8_t type, uint8_t version,
    struct mqtt_reason *d)
{
	d->reason = MQTT_RC_SUCCESS;
	if (version != MQTT_V5 || mqtt_rd_left(r) == 0)
		return 0;	/* 3.14.2.1, 3.15.2.1: no reason = success */
	(void)mqtt_rd_u8(r, &d->reason);
	if (type == MQTT_DISCONNECT) {
		if (!RC_IN(d->reason, rc_disconnect))
			return MQTT_RC_MALFORMED;
	} else if (!RC_IN(d->reason, rc_auth))
		return MQTT_RC_MALFORMED;
	if (mqtt_rd_left(r) == 0)
		return 0;
	return mqtt_props_decode(r, type == MQTT_DISCONNECT ?
	    MQTT_CTX_DISCONNECT : MQTT_CTX_AUTH, &d->props);
}

/* Decode one complete packet body; see mqtt.h. */
int
mqtt_decode(uint8_t type, uint8_t flags, const uint8_t *body, uint32_t len,
    uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_rd r;
	size_t n;
	int rc;

	/* Only the union member this type fills is cleared: the whole
	 * packet is 600 bytes, an acknowledgement's part less than half,
	 * and a node decodes one acknowledgement per QoS 1 delivery. */
	switch (type) {
	case MQTT_PUBLISH:
		n = offsetof(struct mqtt_packet, u) + sizeof out->u.publish;
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		n = offsetof(struct mqtt_packet, u) + sizeof out->u.ack;
		break;
	default:
		n = sizeof *out;
		break;
	}
	memset(out, 0, n);
	out->type = type;
	out->flags = flags;
	mqtt_rd_init(&r, body, len);
	if (type < MQTT_CONNECT || type > MQTT_AUTH)
		return MQTT_RC_MALFORMED;
	if (!decode_flags_ok(type, flags))
		return MQTT_RC_MALFORMED;

	switch (type) {
	case MQTT_CONNECT:
		rc = decode_connect(&r, &out->u.connect);
		break;
	case MQTT_CONNACK:
		rc = decode_connack(&r, version, &out->u.connack);
		break;
	case MQTT_PUBLISH:
		rc = decode_publish(&r, flags, version, &out->u.publish);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		rc = decode_ack(&r, type, version, &out->u.ack);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		rc = decode_subscribe(&r, type, version, &out->u.subscribe);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		rc = decode_suback(&r, type, version, &out->u.suback);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		rc = 0;		/* 3.12, 3.13: no body */
		break;
	case MQTT_DISCONNECT:
		rc = decode_reason(&r, type, version, &out->u.reason);
		break;
	case MQTT_AUTH:
		if (version != MQTT_V5)
			return MQTT_RC_MALFORMED; /* no AUTH before 5.0 */
		rc = decode_reason(&r, type, version, &out->u.reason);
		break;
	default:
		return MQTT_RC_MALFORMED;
	}
	if (rc != 0)
		return rc;
	if (mqtt_rd_left(&r) != 0)
		return MQTT_RC_MALFORMED; /* bytes left over */
	return 0;
}

/* Start walking a decoded SUBSCRIBE/UNSUBSCRIBE; see mqtt.h. */
void
mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_packet *pkt)
{
	const struct mqtt_subscribe *s = &pkt->u.subscribe;

	it->p = s->list.p;
	it->end = s->list.len != 0 ? s->list.p + s->list.len : s->list.p;
	it->with_options = pkt->type == MQTT_SUBSCRIBE;
}

/* Next entry of a decoded SUBSCRIBE/UNSUBSCRIBE; see mqtt.h. The list was
 * validated by mqtt_decode, but the reader stays bounded regardless. */
int
mqtt_sub_next(struct mqtt_sub_iter *it, struct mqtt_str *filter,
    uint8_t *options)
{
	struct mqtt_rd r;
	uint8_t opt = 0;

	r.p = it->p;
	r.end = it->end;
	if (mqtt_rd_left(&r) == 0 || mqtt_rd_bin(&r, filter) != 0)
		return 0;
	if (it->with_options && mqtt_rd_u8(&r, &opt) != 0)
		return 0;
	if (options != NULL)
		*options = opt;
	it->p = r.p;
	return 1;
}
