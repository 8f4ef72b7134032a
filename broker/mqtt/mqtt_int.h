/*
 * mqtt_int.h - codec internals shared by decode.c, encode.c and property.c.
 *
 * Design note. All wire reads go through struct mqtt_rd, a bounded reader
 * over [p, end): every mqtt_rd_* function checks the bytes it needs are
 * there and returns MQTT_RC_MALFORMED (without moving) when they are not,
 * so a decoder is a straight sequence of "rc = mqtt_rd_x(); if (rc) return
 * rc;" and can never read past the packet body. Data types follow MQTT 5.0
 * section 1.5 (identical in 3.1.1 section 1.5): big-endian two and four
 * byte integers, variable byte integers of at most four bytes (1.5.5),
 * UTF-8 strings and binary data with a two byte length (1.5.4, 1.5.6).
 *
 * Writes go through struct mqtt_wr. The encoder computes the exact length
 * first (mqtt_encode_len), so running out of room is a bug, not an input
 * error: the writers assert (STYLE.md 4.3, after Mosquitto's
 * packet_datatypes.c).
 *
 * Nothing here allocates. Not part of the API: only codec sources include
 * this header.
 */
#ifndef TERN_MQTT_INT_H
#define TERN_MQTT_INT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt.h"

/* A bounded reader. p == end when exhausted; both may be NULL when the
 * range is empty. */
struct mqtt_rd {
	const uint8_t *p;
	const uint8_t *end;
};

/* A writer over a buffer whose exact size was computed beforehand. */
struct mqtt_wr {
	uint8_t *p;
	uint8_t *end;
};

/* Property value types (MQTT 5.0 section 2.2.2.2). */
enum mqtt_prop_type {
	MQTT_PT_NONE = 0, /* not a property */
	MQTT_PT_BYTE,
	MQTT_PT_U16,
	MQTT_PT_U32,
	MQTT_PT_VARINT,
	MQTT_PT_UTF8,
	MQTT_PT_BIN,
	MQTT_PT_PAIR
};

#define MQTT_STR_MAX 65535u

static inline void
mqtt_rd_init(struct mqtt_rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	/* NULL + 0 is undefined in C; keep an empty range as p == end. */
	r->end = len != 0 ? p + len : p;
}

static inline size_t
mqtt_rd_left(const struct mqtt_rd *r)
{
	return (size_t)(r->end - r->p);
}

static inline int
mqtt_rd_u8(struct mqtt_rd *r, uint8_t *v)
{
	if (mqtt_rd_left(r) < 1)
		return MQTT_RC_MALFORMED;
	*v = r->p[0];
	r->p++;
	return 0;
}

static inline int
mqtt_rd_u16(struct mqtt_rd *r, uint16_t *v)
{
	if (mqtt_rd_left(r) < 2)
		return MQTT_RC_MALFORMED;
	*v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	return 0;
}

static inline int
mqtt_rd_u32(struct mqtt_rd *r, uint32_t *v)
{
	if (mqtt_rd_left(r) < 4)
		return MQTT_RC_MALFORMED;
	*v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) |
	    ((uint32_t)r->p[2] << 8) | (uint32_t)r->p[3];
	r->p += 4;
	return 0;
}

/* A variable byte integer: at most four bytes (MQTT 5.0 1.5.5). A fifth
 * continuation byte, or running out of input, is malformed. */
static inline int
mqtt_rd_varint(struct mqtt_rd *r, uint32_t *v)
{
	uint32_t value = 0;
	size_t i, left = mqtt_rd_left(r);

	for (i = 0; i < 4; i++) {
		if (i >= left)
			return MQTT_RC_MALFORMED;
		value |= (uint32_t)(r->p[i] & 0x7f) << (7 * i);
		if ((r->p[i] & 0x80) == 0) {
			r->p += i + 1;
			*v = value;
			return 0;
		}
	}
	return MQTT_RC_MALFORMED;
}

/* Binary data: two byte length, then that many bytes (1.5.6). */
static inline int
mqtt_rd_bin(struct mqtt_rd *r, struct mqtt_str *s)
{
	uint16_t n;
	struct mqtt_rd save = *r;

	if (mqtt_rd_u16(r, &n) != 0)
		return MQTT_RC_MALFORMED;
	if (mqtt_rd_left(r) < n) {
		*r = save;
		return MQTT_RC_MALFORMED;
	}
	s->p = n != 0 ? r->p : NULL;
	s->len = n;
	r->p += n;
	return 0;
}

/* A UTF-8 encoded string (1.5.4): binary data that must also be well-formed
 * UTF-8 without U+0000 [MQTT-1.5.4-1], [MQTT-1.5.4-2]. */
static inline int
mqtt_rd_utf8(struct mqtt_rd *r, struct mqtt_str *s)
{
	struct mqtt_rd save = *r;

	if (mqtt_rd_bin(r, s) != 0)
		return MQTT_RC_MALFORMED;
	if (!mqtt_utf8_valid(s->p, s->len)) {
		*r = save;
		return MQTT_RC_MALFORMED;
	}
	return 0;
}

static inline void
mqtt_wr_u8(struct mqtt_wr *w, uint8_t v)
{
	assert(w->end - w->p >= 1);
	*w->p++ = v;
}

static inline void
mqtt_wr_u16(struct mqtt_wr *w, uint16_t v)
{
	assert(w->end - w->p >= 2);
	*w->p++ = (uint8_t)(v >> 8);
	*w->p++ = (uint8_t)v;
}

static inline void
mqtt_wr_u32(struct mqtt_wr *w, uint32_t v)
{
	assert(w->end - w->p >= 4);
	*w->p++ = (uint8_t)(v >> 24);
	*w->p++ = (uint8_t)(v >> 16);
	*w->p++ = (uint8_t)(v >> 8);
	*w->p++ = (uint8_t)v;
}

static inline void
mqtt_wr_varint(struct mqtt_wr *w, uint32_t v)
{
	assert((size_t)(w->end - w->p) >= mqtt_varint_len(v));
	w->p += mqtt_varint_put(w->p, v);
}

static inline void
mqtt_wr_raw(struct mqtt_wr *w, const uint8_t *p, size_t n)
{
	assert((size_t)(w->end - w->p) >= n);
	if (n != 0) {
		memcpy(w->p, p, n);
		w->p += n;
	}
}

/* A string or binary field with its two byte length. */
static inline void
mqtt_wr_str(struct mqtt_wr *w, const struct mqtt_str *s)
{
	assert(s->len <= MQTT_STR_MAX);
	mqtt_wr_u16(w, (uint16_t)s->len);
	mqtt_wr_raw(w, s->p, s->len);
}

/* property.c */

/* Decode the property block (length prefix included) at r for a packet of
 * context ctx into *props (cleared first); views point into r's buffer.
 * Returns 0, MQTT_RC_MALFORMED or MQTT_RC_PROTOCOL_ERROR; see mqtt_decode. */
int mqtt_props_decode(struct mqtt_rd *r, enum mqtt_prop_ctx ctx,
    struct mqtt_props *props);
/* Encoded size of the property block without its length prefix, or
 * UINT64_MAX when a field cannot be encoded (a string over 65535 bytes, a
 * subscription identifier over MQTT_MAX_REMAINING). */
uint64_t mqtt_props_size(const struct mqtt_props *props);
/* Write the property block, length prefix included. */
void mqtt_props_encode(struct mqtt_wr *w, const struct mqtt_props *props);

#endif /* TERN_MQTT_INT_H */
