/*
 * property.c - MQTT 5 properties: decode, encode, user property access.
 *
 * Design note. MQTT 5.0 section 2.2.2 defines a property block as a
 * variable byte integer length followed by (identifier, value) pairs. The
 * whole of section 2.2.2.2 (which identifier, which data type, which
 * packets may carry it) is the table props_table[] below, indexed by
 * identifier: one row per property, with the struct mqtt_props field it
 * lands in (by offsetof), the packets it is allowed in (a bit per enum
 * mqtt_prop_ctx) and the range of values the spec allows. Decoding,
 * encoding and sizing are generic walks over that table.
 *
 * Rules applied on decode, per the mqtt.h contract:
 * - a block longer than what remains of the packet, a value running past
 *   the block, an unknown identifier or one not allowed in this packet:
 *   malformed (2.2.2.2, 4.13). Identifiers are variable byte integers, but
 *   all defined ones fit in one byte, so a byte with bit 7 set is simply
 *   unknown;
 * - a property given twice: protocol error, except User Property (any
 *   number, order kept, 3.1.2.11.8) and Subscription Identifier in PUBLISH
 *   (one per matching subscription, 3.3.2.3.8);
 * - values out of range: protocol error (Payload Format Indicator and the
 *   Request/Available booleans 0 or 1, Receive Maximum, Maximum Packet
 *   Size, Topic Alias and Subscription Identifier non-zero, Maximum QoS 0
 *   or 1: 3.1.2.11.*, 3.2.2.3.*, 3.3.2.3.*);
 * - UTF-8 strings (including both halves of a User Property) must be valid
 *   UTF-8 (1.5.4); binary data is not checked.
 * User properties are not copied: the decoder counts them and keeps the
 * block (raw/raw_len) so they can be walked or forwarded in order later.
 *
 * Encoding writes present properties in identifier order, then the
 * subscription identifiers, then the caller's wire-form user properties
 * verbatim. Receivers must not depend on order except among User
 * Properties, which are kept in order.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt_int.h"

#define CTX(c) (1u << MQTT_CTX_##c)
#define CTX_ACKS (CTX(PUBACK) | CTX(PUBREC) | CTX(PUBREL) | CTX(PUBCOMP))
#define CTX_ALL 0x3fffu

struct prop_def {
	uint8_t type; /* enum mqtt_prop_type */
	uint16_t ctx; /* allowed contexts, bits of enum mqtt_prop_ctx */
	uint16_t off; /* offset of the value in struct mqtt_props */
	uint32_t min; /* integer range, inclusive */
	uint32_t max;
};

#define PROP(id, t, c, field, lo, hi) \
	[id] = { t, c, offsetof(struct mqtt_props, field), lo, hi }

static const struct prop_def props_table[] = {
	PROP(MQTT_PROP_PAYLOAD_FORMAT, MQTT_PT_BYTE, CTX(PUBLISH) | CTX(WILL),
	    payload_format, 0, 1),
	PROP(MQTT_PROP_MESSAGE_EXPIRY, MQTT_PT_U32, CTX(PUBLISH) | CTX(WILL),
	    message_expiry, 0, UINT32_MAX),
	PROP(MQTT_PROP_CONTENT_TYPE, MQTT_PT_UTF8, CTX(PUBLISH) | CTX(WILL),
	    content_type, 0, 0),
	PROP(MQTT_PROP_RESPONSE_TOPIC, MQTT_PT_UTF8, CTX(PUBLISH) | CTX(WILL),
	    response_topic, 0, 0),
	PROP(MQTT_PROP_CORRELATION_DATA, MQTT_PT_BIN, CTX(PUBLISH) | CTX(WILL),
	    correlation_data, 0, 0),
	PROP(MQTT_PROP_SUBSCRIPTION_ID, MQTT_PT_VARINT,
	    CTX(PUBLISH) | CTX(SUBSCRIBE), sub_id, 1, MQTT_MAX_REMAINING),
	PROP(MQTT_PROP_SESSION_EXPIRY, MQTT_PT_U32,
	    CTX(CONNECT) | CTX(CONNACK) | CTX(DISCONNECT), session_expiry, 0,
	    UINT32_MAX),
	PROP(MQTT_PROP_ASSIGNED_CLIENT_ID, MQTT_PT_UTF8, CTX(CONNACK),
	    assigned_client_id, 0, 0),
	PROP(MQTT_PROP_SERVER_KEEP_ALIVE, MQTT_PT_U16, CTX(CONNACK),
	    server_keep_alive, 0, UINT16_MAX),
	PROP(MQTT_PROP_AUTH_METHOD, MQTT_PT_UTF8,
	    CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH), auth_method, 0, 0),
	PROP(MQTT_PROP_AUTH_DATA, MQTT_PT_BIN,
	    CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH), auth_data, 0, 0),
	PROP(MQTT_PROP_REQUEST_PROBLEM_INFO, MQTT_PT_BYTE, CTX(CONNECT),
	    request_problem_info, 0, 1),
	PROP(MQTT_PROP_WILL_DELAY, MQTT_PT_U32, CTX(WILL), will_delay, 0,
	    UINT32_MAX),
	PROP(MQTT_PROP_REQUEST_RESPONSE_INFO, MQTT_PT_BYTE, CTX(CONNECT),
	    request_response_info, 0, 1),
	PROP(MQTT_PROP_RESPONSE_INFO, MQTT_PT_UTF8, CTX(CONNACK),
	    response_info, 0, 0),
	PROP(MQTT_PROP_SERVER_REFERENCE, MQTT_PT_UTF8,
	    CTX(CONNACK) | CTX(DISCONNECT), server_reference, 0, 0),
	PROP(MQTT_PROP_REASON_STRING, MQTT_PT_UTF8,
	    CTX(CONNACK) | CTX_ACKS | CTX(SUBACK) | CTX(UNSUBACK) |
	    CTX(DISCONNECT) | CTX(AUTH), reason_string, 0, 0),
	PROP(MQTT_PROP_RECEIVE_MAX, MQTT_PT_U16, CTX(CONNECT) | CTX(CONNACK),
	    receive_max, 1, UINT16_MAX),
	PROP(MQTT_PROP_TOPIC_ALIAS_MAX, MQTT_PT_U16,
	    CTX(CONNECT) | CTX(CONNACK), topic_alias_max, 0, UINT16_MAX),
	/* Alias 0 decodes: whether an alias is valid depends on the
	 * receiver's Topic Alias Maximum, and 0x94 is the receiver's answer
	 * for 0 too (MQTT-3.3.2-8, -9). */
	PROP(MQTT_PROP_TOPIC_ALIAS, MQTT_PT_U16, CTX(PUBLISH), topic_alias, 0,
	    UINT16_MAX),
	PROP(MQTT_PROP_MAX_QOS, MQTT_PT_BYTE, CTX(CONNACK), max_qos, 0, 1),
	PROP(MQTT_PROP_RETAIN_AVAILABLE, MQTT_PT_BYTE, CTX(CONNACK),
	    retain_available, 0, 1),
	PROP(MQTT_PROP_USER, MQTT_PT_PAIR, CTX_ALL, user, 0, 0),
	PROP(MQTT_PROP_MAX_PACKET_SIZE, MQTT_PT_U32,
	    CTX(CONNECT) | CTX(CONNACK), max_packet_size, 1, UINT32_MAX),
	PROP(MQTT_PROP_WILDCARD_AVAILABLE, MQTT_PT_BYTE, CTX(CONNACK),
	    wildcard_available, 0, 1),
	PROP(MQTT_PROP_SUB_ID_AVAILABLE, MQTT_PT_BYTE, CTX(CONNACK),
	    sub_id_available, 0, 1),
	PROP(MQTT_PROP_SHARED_AVAILABLE, MQTT_PT_BYTE, CTX(CONNACK),
	    shared_available, 0, 1),
};

#define PROPS_N (sizeof props_table / sizeof props_table[0])

static const struct prop_def *
props_lookup(uint8_t id)
{
	if (id >= PROPS_N || props_table[id].type == MQTT_PT_NONE)
		return NULL;
	return &props_table[id];
}

static void *
props_field(struct mqtt_props *props, const struct prop_def *d)
{
	return (uint8_t *)props + d->off;
}

static const void *
props_cfield(const struct mqtt_props *props, const struct prop_def *d)
{
	return (const uint8_t *)props + d->off;
}

/* Read one value of type d->type; stores integers to *v and strings to
 * *s. Returns 0 or MQTT_RC_MALFORMED. */
static int
props_read_value(struct mqtt_rd *r, const struct prop_def *d, uint32_t *v,
    struct mqtt_str *s, struct mqtt_str *s2)
{
	uint8_t b;
	uint16_t h;

	switch (d->type) {
	case MQTT_PT_BYTE:
		if (mqtt_rd_u8(r, &b) != 0)
			return MQTT_RC_MALFORMED;
		*v = b;
		return 0;
	case MQTT_PT_U16:
		if (mqtt_rd_u16(r, &h) != 0)
			return MQTT_RC_MALFORMED;
		*v = h;
		return 0;
	case MQTT_PT_U32:
		return mqtt_rd_u32(r, v);
	case MQTT_PT_VARINT:
		return mqtt_rd_varint(r, v);
	case MQTT_PT_UTF8:
		return mqtt_rd_utf8(r, s);
	case MQTT_PT_BIN:
		return mqtt_rd_bin(r, s);
	case MQTT_PT_PAIR:
		if (mqtt_rd_utf8(r, s) != 0)
			return MQTT_RC_MALFORMED;
		return mqtt_rd_utf8(r, s2);
	}
	return MQTT_RC_MALFORMED;
}

static void
props_store(struct mqtt_props *props, const struct prop_def *d, uint32_t v,
    const struct mqtt_str *s)
{
	void *f = props_field(props, d);

	switch (d->type) {
	case MQTT_PT_BYTE:
		*(uint8_t *)f = (uint8_t)v;
		break;
	case MQTT_PT_U16:
		*(uint16_t *)f = (uint16_t)v;
		break;
	case MQTT_PT_U32:
	case MQTT_PT_VARINT:
		*(uint32_t *)f = v;
		break;
	case MQTT_PT_UTF8:
	case MQTT_PT_BIN:
		*(struct mqtt_str *)f = *s;
		break;
	}
}

/* Decode a property block; see mqtt_int.h. */
int
mqtt_props_decode(struct mqtt_rd *r, enum mqtt_prop_ctx ctx,
    struct mqtt_props *props)
{
	struct mqtt_rd blk;
	const struct prop_def *d;
	struct mqtt_str s, s2;
	uint32_t len, v;
	uint8_t id;
	int rc;

	memset(props, 0, sizeof *props);
	if ((rc = mqtt_rd_varint(r, &len)) != 0)
		return rc;
	if (len > mqtt_rd_left(r))
		return MQTT_RC_MALFORMED;
	mqtt_rd_init(&blk, r->p, len);
	props->raw = len != 0 ? r->p : NULL;
	props->raw_len = len;
	r->p = blk.end;

	while (mqtt_rd_left(&blk) != 0) {
		(void)mqtt_rd_u8(&blk, &id);
		d = props_lookup(id);
		if (d == NULL || (d->ctx & (1u << ctx)) == 0)
			return MQTT_RC_MALFORMED;
		v = 0;
		s.p = s2.p = NULL;
		s.len = s2.len = 0;
		if ((rc = props_read_value(&blk, d, &v, &s, &s2)) != 0)
			return rc;

		if (id == MQTT_PROP_USER) {
			props->n_user++;
			continue;
		}
		if (d->type != MQTT_PT_UTF8 && d->type != MQTT_PT_BIN &&
		    (v < d->min || v > d->max))
			return MQTT_RC_PROTOCOL_ERROR;
		if (id == MQTT_PROP_SUBSCRIPTION_ID &&
		    ctx == MQTT_CTX_PUBLISH) {
			if (props->n_sub_ids++ == 0) {
				props->sub_id = v;
				MQTT_PROP_SET(props, id);
			}
			continue;
		}
		if (MQTT_PROP_HAS(props, id))
			return MQTT_RC_PROTOCOL_ERROR;
		MQTT_PROP_SET(props, id);
		props_store(props, d, v, &s);
		if (id == MQTT_PROP_SUBSCRIPTION_ID)
			props->n_sub_ids = 1;
	}
	return 0;
}

/* Size of one property of the given definition and value, or UINT64_MAX
 * when it cannot be encoded. */
static uint64_t
props_value_size(const struct prop_def *d, uint32_t v,
    const struct mqtt_str *s)
{
	switch (d->type) {
	case MQTT_PT_BYTE:
		return 1 + 1;
	case MQTT_PT_U16:
		return 1 + 2;
	case MQTT_PT_U32:
		return 1 + 4;
	case MQTT_PT_VARINT:
		if (v > MQTT_MAX_REMAINING)
			return UINT64_MAX;
		return 1 + mqtt_varint_len(v);
	case MQTT_PT_UTF8:
	case MQTT_PT_BIN:
		if (s->len > MQTT_STR_MAX)
			return UINT64_MAX;
		return 1 + 2 + (uint64_t)s->len;
	}
	return UINT64_MAX;
}

static uint32_t
props_get_int(const struct mqtt_props *props, const struct prop_def *d)
{
	const void *f = props_cfield(props, d);

	switch (d->type) {
	case MQTT_PT_BYTE:
		return *(const uint8_t *)f;
	case MQTT_PT_U16:
		return *(const uint16_t *)f;
	case MQTT_PT_U32:
	case MQTT_PT_VARINT:
		return *(const uint32_t *)f;
	}
	return 0;
}

/*
 * Which properties the encoder writes: every table row whose bit is set in
 * `present`, except User Property (written from props->user) and
 * Subscription Identifier, which is written from sub_ids[0..n_sub_ids)
 * when sub_ids is set and otherwise from sub_id when its bit is set (so a
 * decoded block, which has sub_ids NULL, re-encodes).
 */
static int
props_encodes(const struct mqtt_props *props, uint8_t id)
{
	if (id == MQTT_PROP_USER)
		return 0;
	if (id == MQTT_PROP_SUBSCRIPTION_ID && props->sub_ids != NULL)
		return 0;
	return MQTT_PROP_HAS(props, id);
}

/* Encoded size of a property block without its length prefix; see
 * mqtt_int.h. */
uint64_t
mqtt_props_size(const struct mqtt_props *props)
{
	const struct prop_def *d;
	uint64_t n = 0, one, bits = props->present;
	uint32_t i;
	uint8_t id;

	/* Only the ids that are set: most blocks are empty or nearly (this
	 * runs for every PUBLISH a broker sends). */
	for (; bits != 0; bits &= bits - 1) {
		id = (uint8_t)__builtin_ctzll(bits);
		if (id >= PROPS_N || (d = props_lookup(id)) == NULL ||
		    !props_encodes(props, id))
			continue;
		one = props_value_size(d, props_get_int(props, d),
		    props_cfield(props, d));
		if (one == UINT64_MAX)
			return UINT64_MAX;
		n += one;
	}
	if (props->sub_ids != NULL) {
		d = props_lookup(MQTT_PROP_SUBSCRIPTION_ID);
		for (i = 0; i < props->n_sub_ids; i++) {
			one = props_value_size(d, props->sub_ids[i], NULL);
			if (one == UINT64_MAX)
				return UINT64_MAX;
			n += one;
		}
	}
	n += props->user.len;
	return n;
}

/* Length of the encoded property block, without its own length prefix;
 * saturates at UINT32_MAX for a block that cannot be encoded. */
uint32_t
mqtt_props_len(const struct mqtt_props *props)
{
	uint64_t n = mqtt_props_size(props);

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Write a property block, length prefix included; see mqtt_int.h. */
void
mqtt_props_encode(struct mqtt_wr *w, const struct mqtt_props *props)
{
	const struct prop_def *d;
	uint64_t len = mqtt_props_size(props), bits = props->present;
	uint32_t i, v;
	uint8_t id;

	assert(len <= MQTT_MAX_REMAINING);
	mqtt_wr_varint(w, (uint32_t)len);
	for (; bits != 0; bits &= bits - 1) {
		id = (uint8_t)__builtin_ctzll(bits);
		if (id >= PROPS_N || (d = props_lookup(id)) == NULL ||
		    !props_encodes(props, id))
			continue;
		mqtt_wr_u8(w, id);
		v = props_get_int(props, d);
		switch (d->type) {
		case MQTT_PT_BYTE:
			mqtt_wr_u8(w, (uint8_t)v);
			break;
		case MQTT_PT_U16:
			mqtt_wr_u16(w, (uint16_t)v);
			break;
		case MQTT_PT_U32:
			mqtt_wr_u32(w, v);
			break;
		case MQTT_PT_VARINT:
			mqtt_wr_varint(w, v);
			break;
		case MQTT_PT_UTF8:
		case MQTT_PT_BIN:
			mqtt_wr_str(w, props_cfield(props, d));
			break;
		}
	}
	if (props->sub_ids != NULL) {
		for (i = 0; i < props->n_sub_ids; i++) {
			mqtt_wr_u8(w, MQTT_PROP_SUBSCRIPTION_ID);
			mqtt_wr_varint(w, props->sub_ids[i]);
		}
	}
	mqtt_wr_raw(w, props->user.p, props->user.len);
}

/*
 * Step over the next property of a validated block. Returns 1 with its
 * identifier, integer value (v) or string values (s, s2), *start at the
 * property and *pos after it; 0 at the end of the block.
 */
static int
props_next(const struct mqtt_props *props, uint32_t *pos, uint8_t *id,
    uint32_t *v, struct mqtt_str *s, struct mqtt_str *s2,
    const uint8_t **start)
{
	const struct prop_def *d;
	struct mqtt_rd r;

	if (props->raw == NULL || *pos >= props->raw_len)
		return 0;
	mqtt_rd_init(&r, props->raw + *pos, props->raw_len - *pos);
	*start = r.p;
	if (mqtt_rd_u8(&r, id) != 0 || (d = props_lookup(*id)) == NULL)
		return 0;
	*v = 0;
	if (props_read_value(&r, d, v, s, s2) != 0)
		return 0; /* not a decoded block: stop rather than guess */
	*pos = (uint32_t)(r.p - props->raw);
	return 1;
}

/* Walk the user properties of a decoded block; see mqtt.h. */
int
mqtt_props_user_next(const struct mqtt_props *props, uint32_t *pos,
    struct mqtt_str *key, struct mqtt_str *value)
{
	const uint8_t *start;
	struct mqtt_str s, s2;
	uint32_t v;
	uint8_t id;

	while (props_next(props, pos, &id, &v, &s, &s2, &start)) {
		if (id == MQTT_PROP_USER) {
			*key = s;
			*value = s2;
			return 1;
		}
	}
	return 0;
}

/* Walk the subscription identifiers of a decoded block; see mqtt.h. */
int
mqtt_props_sub_id_next(const struct mqtt_props *props, uint32_t *pos,
    uint32_t *sub_id)
{
	const uint8_t *start;
	struct mqtt_str s, s2;
	uint32_t v;
	uint8_t id;

	while (props_next(props, pos, &id, &v, &s, &s2, &start)) {
		if (id == MQTT_PROP_SUBSCRIPTION_ID) {
			*sub_id = v;
			return 1;
		}
	}
	return 0;
}

/* Wire size of the user properties of a decoded block; see mqtt.h. */
uint32_t
mqtt_props_user_size(const struct mqtt_props *props)
{
	const uint8_t *start;
	struct mqtt_str s, s2;
	uint32_t pos = 0, n = 0, v;
	uint8_t id;

	while (props_next(props, &pos, &id, &v, &s, &s2, &start)) {
		if (id == MQTT_PROP_USER)
			n += (uint32_t)(props->raw + pos - start);
	}
	return n;
}

/* Copy the user properties of a decoded block to dst in wire form; see
 * mqtt.h. */
uint32_t
mqtt_props_user_copy(const struct mqtt_props *props, uint8_t *dst)
{
	const uint8_t *start;
	struct mqtt_str s, s2;
	uint32_t pos = 0, n = 0, one, v;
	uint8_t id;

	while (props_next(props, &pos, &id, &v, &s, &s2, &start)) {
		if (id != MQTT_PROP_USER)
			continue;
		one = (uint32_t)(props->raw + pos - start);
		memcpy(dst + n, start, one);
		n += one;
	}
	return n;
}
