/*
 * mqtt.h - the MQTT 3.1 / 3.1.1 / 5.0 packet and property codec.
 *
 * This is the codec's whole API. The codec does no I/O, allocates nothing
 * and includes no broker header: ternd, the bridge, the unit tests and the
 * fuzz targets all link the same archive (broker/mqtt/libmqttcodec.a).
 *
 * Decoding is zero-copy. Every string, binary field and list in a decoded
 * packet is a view (struct mqtt_str) into the caller's packet buffer, which
 * must outlive the decoded struct. A caller that keeps a field copies it.
 *
 * Framing is separate from decoding so that a packet split across reads at
 * any byte is handled without state: mqtt_frame() looks at the first bytes
 * the caller has and says "need more", "bad", or "the packet is N bytes";
 * the caller checks N against its limit before it allocates or pulls up
 * anything, then hands the complete body to mqtt_decode().
 *
 * Errors are returned as MQTT 5 reason codes (0x81 malformed packet, 0x82
 * protocol error, 0x95 packet too large, ...), so the caller has one value
 * to put in a DISCONNECT (v5) or to log before closing (3.1.1).
 *
 * Encoding writes into a caller buffer. mqtt_encode_len() computes the exact
 * size first; mqtt_encode() then asserts rather than checks, as the length
 * has been computed from the same struct.
 */
#ifndef TERN_MQTT_H
#define TERN_MQTT_H

#include <stddef.h>
#include <stdint.h>

/* Protocol levels as sent in CONNECT. */
#define MQTT_V31 3  /* "MQIsdp" */
#define MQTT_V311 4
#define MQTT_V5 5

/* Control packet types (fixed header, high nibble). */
enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
	MQTT_AUTH = 15
};

/* MQTT 5 reason codes (section 2.4). */
enum mqtt_rc {
	MQTT_RC_SUCCESS = 0x00, /* also normal disconnection, granted QoS 0 */
	MQTT_RC_GRANTED_QOS1 = 0x01,
	MQTT_RC_GRANTED_QOS2 = 0x02,
	MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
	MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
	MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
	MQTT_RC_CONTINUE_AUTH = 0x18,
	MQTT_RC_REAUTHENTICATE = 0x19,
	MQTT_RC_UNSPECIFIED = 0x80,
	MQTT_RC_MALFORMED = 0x81,
	MQTT_RC_PROTOCOL_ERROR = 0x82,
	MQTT_RC_IMPL_SPECIFIC = 0x83,
	MQTT_RC_UNSUPPORTED_VERSION = 0x84,
	MQTT_RC_CLIENT_ID_INVALID = 0x85,
	MQTT_RC_BAD_USER_OR_PASSWORD = 0x86,
	MQTT_RC_NOT_AUTHORIZED = 0x87,
	MQTT_RC_SERVER_UNAVAILABLE = 0x88,
	MQTT_RC_SERVER_BUSY = 0x89,
	MQTT_RC_BANNED = 0x8A,
	MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
	MQTT_RC_BAD_AUTH_METHOD = 0x8C,
	MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
	MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
	MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
	MQTT_RC_TOPIC_NAME_INVALID = 0x90,
	MQTT_RC_PACKET_ID_IN_USE = 0x91,
	MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
	MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
	MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
	MQTT_RC_PACKET_TOO_LARGE = 0x95,
	MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
	MQTT_RC_QUOTA_EXCEEDED = 0x97,
	MQTT_RC_ADMINISTRATIVE_ACTION = 0x98,
	MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
	MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
	MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
	MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
	MQTT_RC_SERVER_MOVED = 0x9D,
	MQTT_RC_SHARED_SUB_NOT_SUPPORTED = 0x9E,
	MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
	MQTT_RC_MAX_CONNECT_TIME = 0xA0,
	MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
	MQTT_RC_WILDCARD_SUB_NOT_SUPPORTED = 0xA2
};

/* MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
enum mqtt_v3_rc {
	MQTT_V3_ACCEPTED = 0,
	MQTT_V3_BAD_VERSION = 1,
	MQTT_V3_ID_REJECTED = 2,
	MQTT_V3_SERVER_UNAVAILABLE = 3,
	MQTT_V3_BAD_USER_OR_PASSWORD = 4,
	MQTT_V3_NOT_AUTHORIZED = 5
};

/* MQTT 5 property identifiers (section 2.2.2.2). */
enum mqtt_prop_id {
	MQTT_PROP_PAYLOAD_FORMAT = 0x01,
	MQTT_PROP_MESSAGE_EXPIRY = 0x02,
	MQTT_PROP_CONTENT_TYPE = 0x03,
	MQTT_PROP_RESPONSE_TOPIC = 0x08,
	MQTT_PROP_CORRELATION_DATA = 0x09,
	MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
	MQTT_PROP_SESSION_EXPIRY = 0x11,
	MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
	MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
	MQTT_PROP_AUTH_METHOD = 0x15,
	MQTT_PROP_AUTH_DATA = 0x16,
	MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
	MQTT_PROP_WILL_DELAY = 0x18,
	MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
	MQTT_PROP_RESPONSE_INFO = 0x1A,
	MQTT_PROP_SERVER_REFERENCE = 0x1C,
	MQTT_PROP_REASON_STRING = 0x1F,
	MQTT_PROP_RECEIVE_MAX = 0x21,
	MQTT_PROP_TOPIC_ALIAS_MAX = 0x22,
	MQTT_PROP_TOPIC_ALIAS = 0x23,
	MQTT_PROP_MAX_QOS = 0x24,
	MQTT_PROP_RETAIN_AVAILABLE = 0x25,
	MQTT_PROP_USER = 0x26,
	MQTT_PROP_MAX_PACKET_SIZE = 0x27,
	MQTT_PROP_WILDCARD_AVAILABLE = 0x28,
	MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
	MQTT_PROP_SHARED_AVAILABLE = 0x2A
};

/* Where a property block sits; used by the per-packet allow-lists. */
enum mqtt_prop_ctx {
	MQTT_CTX_CONNECT, MQTT_CTX_CONNACK, MQTT_CTX_PUBLISH, MQTT_CTX_WILL,
	MQTT_CTX_PUBACK, MQTT_CTX_PUBREC, MQTT_CTX_PUBREL, MQTT_CTX_PUBCOMP,
	MQTT_CTX_SUBSCRIBE, MQTT_CTX_SUBACK, MQTT_CTX_UNSUBSCRIBE,
	MQTT_CTX_UNSUBACK, MQTT_CTX_DISCONNECT, MQTT_CTX_AUTH
};

/* Limits fixed by the protocol. */
#define MQTT_MAX_REMAINING 268435455u /* largest variable byte integer */
#define MQTT_MAX_FIXED_HEADER 5

/* A borrowed byte range: a UTF-8 string or binary data. p may be NULL when
 * len is 0. Never NUL-terminated. */
struct mqtt_str {
	const uint8_t *p;
	uint32_t len;
};

/*
 * A decoded or to-be-encoded v5 property block.
 *
 * `present` has bit (1 << id) set for each property present, id being an
 * enum mqtt_prop_id; MQTT_PROP_HAS(props, id) tests it. Scalar and string
 * fields are valid only when their bit is set.
 *
 * User properties: on decode, n_user counts them and `raw` is the whole
 * property block; mqtt_props_user_copy() extracts them in order. On encode,
 * `user` holds the user properties already in wire form (each entry: 0x26,
 * key string, value string), written verbatim, so a broker can forward them
 * unchanged and in order. The decoder leaves `user` empty.
 *
 * Subscription identifiers: on decode, sub_id holds the first and
 * n_sub_ids the count (see mqtt_decode). On encode, sub_ids/n_sub_ids are all
 * written (a PUBLISH to a client carries one per matching subscription);
 * MQTT_PROP_SUBSCRIPTION_ID need not be set in `present` for them. When
 * sub_ids is NULL (e.g. SUBSCRIBE, or a decoded block re-encoded), sub_id
 * is written once if its bit is set in `present`.
 */
struct mqtt_props {
	uint64_t present;
	uint8_t payload_format;
	uint8_t request_problem_info;
	uint8_t request_response_info;
	uint8_t max_qos;
	uint8_t retain_available;
	uint8_t wildcard_available;
	uint8_t sub_id_available;
	uint8_t shared_available;
	uint16_t receive_max;
	uint16_t topic_alias_max;
	uint16_t topic_alias;
	uint16_t server_keep_alive;
	uint32_t message_expiry;
	uint32_t session_expiry;
	uint32_t will_delay;
	uint32_t max_packet_size;
	uint32_t sub_id;
	const uint32_t *sub_ids;
	uint32_t n_sub_ids;
	struct mqtt_str content_type;
	struct mqtt_str response_topic;
	struct mqtt_str correlation_data;
	struct mqtt_str assigned_client_id;
	struct mqtt_str auth_method;
	struct mqtt_str auth_data;
	struct mqtt_str response_info;
	struct mqtt_str server_reference;
	struct mqtt_str reason_string;
	struct mqtt_str user; /* encode only: wire-form user properties */
	uint32_t n_user;
	const uint8_t *raw; /* decode only: the property block */
	uint32_t raw_len;
};

#define MQTT_PROP_BIT(id) ((uint64_t)1 << (id))
#define MQTT_PROP_HAS(props, id) (((props)->present & MQTT_PROP_BIT(id)) != 0)
#define MQTT_PROP_SET(props, id) ((props)->present |= MQTT_PROP_BIT(id))

struct mqtt_connect {
	uint8_t version; /* MQTT_V31, MQTT_V311 or MQTT_V5 */
	uint8_t clean_start;
	uint16_t keep_alive;
	struct mqtt_str client_id;
	uint8_t has_will;
	uint8_t will_qos;
	uint8_t will_retain;
	uint8_t has_username;
	uint8_t has_password;
	struct mqtt_str will_topic;
	struct mqtt_str will_payload;
	struct mqtt_str username;
	struct mqtt_str password;
	struct mqtt_props props;
	struct mqtt_props will_props;
};

struct mqtt_connack {
	uint8_t session_present;
	uint8_t reason; /* v5 reason code, or enum mqtt_v3_rc for 3.x */
	struct mqtt_props props;
};

struct mqtt_publish {
	uint8_t dup;
	uint8_t qos;
	uint8_t retain;
	uint16_t packet_id; /* 0 at QoS 0 */
	struct mqtt_str topic; /* may be empty in v5 when a topic alias is set */
	struct mqtt_props props;
	struct mqtt_str payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. A v5 ack without a reason code decodes
 * as MQTT_RC_SUCCESS; the encoder omits the reason code and properties when
 * the reason is success and there are no properties (section 3.4.2.1). */
struct mqtt_ack {
	uint16_t packet_id;
	uint8_t reason;
	struct mqtt_props props;
};

/*
 * SUBSCRIBE and UNSUBSCRIBE. The decoder validates every entry, then keeps
 * the list as a view; mqtt_sub_next() walks it and cannot fail. For
 * UNSUBSCRIBE, options are reported as 0.
 * Options byte (v5 3.8.3.1): bits 0-1 maximum QoS, bit 2 no local, bit 3
 * retain as published, bits 4-5 retain handling. For 3.x only the QoS bits.
 */
struct mqtt_subscribe {
	uint16_t packet_id;
	struct mqtt_props props;
	uint32_t count;
	struct mqtt_str list; /* the validated entries, wire form */
};

#define MQTT_SUBOPT_QOS(o) ((o) & 0x03)
#define MQTT_SUBOPT_NO_LOCAL 0x04
#define MQTT_SUBOPT_RAP 0x08
#define MQTT_SUBOPT_RH(o) (((o) >> 4) & 0x03)

struct mqtt_sub_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint8_t with_options; /* 1 for SUBSCRIBE, 0 for UNSUBSCRIBE */
};

/* SUBACK and UNSUBACK: one reason code per topic filter. 3.1.1 UNSUBACK
 * carries none (count 0). */
struct mqtt_suback {
	uint16_t packet_id;
	struct mqtt_props props;
	uint32_t count;
	const uint8_t *codes;
};

/* DISCONNECT and AUTH. 3.x DISCONNECT has neither field. */
struct mqtt_reason {
	uint8_t reason;
	struct mqtt_props props;
};

struct mqtt_packet {
	uint8_t type; /* enum mqtt_type */
	uint8_t flags; /* low nibble of the fixed header */
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_ack ack;
		struct mqtt_subscribe subscribe; /* and unsubscribe */
		struct mqtt_suback suback; /* and unsuback */
		struct mqtt_reason reason; /* disconnect, auth */
	} u;
};

/* The result of framing the start of a byte stream. */
struct mqtt_frame {
	uint8_t type;
	uint8_t flags;
	uint8_t header_len; /* fixed header length, 2..5 */
	uint32_t remaining; /* body length */
};

/* Result of mqtt_frame() other than a reason code. */
#define MQTT_FRAME_OK 0
#define MQTT_FRAME_PARTIAL (-1)

/* --- decode.c --- */

/*
 * Frame the packet at the start of buf[0..len).
 * Returns MQTT_FRAME_OK and fills *out when the fixed header is complete
 * (the body may not have arrived yet: the packet is complete once
 * len >= header_len + remaining); MQTT_FRAME_PARTIAL when more bytes are
 * needed to read the fixed header; MQTT_RC_MALFORMED for a variable byte
 * integer longer than 4 bytes or a packet type of 0;
 * MQTT_RC_PACKET_TOO_LARGE when header_len + remaining > max_packet
 * (max_packet 0 means the protocol maximum). Reads at most 5 bytes.
 */
int mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet,
    struct mqtt_frame *out);

/*
 * Decode one complete packet. `type` and `flags` come from mqtt_frame();
 * body/len is the packet body (remaining length bytes). `version` is the
 * protocol level negotiated on the connection; it is ignored for CONNECT,
 * whose version is read from the packet (check out->u.connect.version).
 * On success returns 0 and fills *out with views into body. Otherwise
 * returns a reason code:
 *   MQTT_RC_MALFORMED: bad lengths, bytes left over, bad UTF-8, bad
 *     fixed-header flags, QoS 3, a reserved bit set, a property not
 *     allowed in this packet or with a value of the wrong type, a reason
 *     code not allowed in this packet;
 *   MQTT_RC_PROTOCOL_ERROR: a property given twice where that is not
 *     allowed, a property value out of its range (receive maximum 0,
 *     subscription identifier 0, ...; a Topic Alias of 0 decodes, its
 *     validity is the receiver's to judge), packet id 0 where one is
 *     required,
 *     an empty SUBSCRIBE/UNSUBSCRIBE, no local on a shared subscription,
 *     retain handling 3, an empty topic without a topic alias (v5);
 *   MQTT_RC_UNSUPPORTED_VERSION: CONNECT with an unknown protocol name or
 *     level;
 *   MQTT_RC_TOPIC_NAME_INVALID: '+' or '#' in a PUBLISH topic.
 * Topic filters in SUBSCRIBE/UNSUBSCRIBE are checked for UTF-8 only: their
 * syntax is the caller's to check per entry (a v5 SUBACK answers a bad
 * filter with 0x8F for that entry). A PUBLISH may carry several
 * subscription identifiers (server to client): sub_id is the first and
 * n_sub_ids the count (sub_ids stays NULL); a broker rejects any in a
 * client's PUBLISH. Packets that only a server sends (CONNACK, SUBACK,
 * ...) are decoded too, for clients and tests.
 */
int mqtt_decode(uint8_t type, uint8_t flags, const uint8_t *body,
    uint32_t len, uint8_t version, struct mqtt_packet *out);

/* Walk the entries of a decoded SUBSCRIBE/UNSUBSCRIBE. Returns 1 and sets
 * *filter (and *options for SUBSCRIBE) for each entry, 0 at the end. */
void mqtt_sub_iter_init(struct mqtt_sub_iter *it,
    const struct mqtt_packet *pkt);
int mqtt_sub_next(struct mqtt_sub_iter *it, struct mqtt_str *filter,
    uint8_t *options);

/* --- property.c --- */

/* Walk the user properties of a decoded block, in order. *pos starts at 0.
 * Returns 1 and sets key/value per property, 0 at the end. */
int mqtt_props_user_next(const struct mqtt_props *props, uint32_t *pos,
    struct mqtt_str *key, struct mqtt_str *value);

/* Size in wire form of the user properties of a decoded block; then copy
 * them to dst (which has that many bytes) ready for props.user on encode.
 * Returns the number of bytes written. */
uint32_t mqtt_props_user_size(const struct mqtt_props *props);
uint32_t mqtt_props_user_copy(const struct mqtt_props *props, uint8_t *dst);

/* Walk the subscription identifiers of a decoded block, in order (a
 * PUBLISH from a server may carry several). *pos starts at 0. Returns 1
 * and sets *sub_id per identifier, 0 at the end. */
int mqtt_props_sub_id_next(const struct mqtt_props *props, uint32_t *pos,
    uint32_t *sub_id);

/* Length of the encoded property block, without its own length prefix. */
uint32_t mqtt_props_len(const struct mqtt_props *props);

/* --- encode.c --- */

/*
 * Exact encoded size of pkt (fixed header included) for `version`, or 0
 * if the packet cannot be encoded (its remaining length would exceed the
 * protocol maximum, a string or binary field is over 65535 bytes, AUTH
 * for 3.x, an unknown type). For CONNECT the version is
 * pkt->u.connect.version. Fixed-header flags are derived from the packet
 * (PUBLISH dup/qos/retain; 0b0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE),
 * not taken from pkt->flags; SUBSCRIBE/UNSUBSCRIBE `list` is written
 * verbatim.
 * v5-only fields (properties, reason codes) are ignored for 3.x.
 */
size_t mqtt_encode_len(const struct mqtt_packet *pkt, uint8_t version);

/* Encode pkt into buf, which has at least mqtt_encode_len() bytes.
 * Returns the number of bytes written (equal to mqtt_encode_len()). */
size_t mqtt_encode(const struct mqtt_packet *pkt, uint8_t version,
    uint8_t *buf);

/* Variable byte integer helpers (section 1.5.5). varint_len: bytes needed
 * for v (v <= MQTT_MAX_REMAINING). varint_put: writes, returns bytes. */
unsigned mqtt_varint_len(uint32_t v);
unsigned mqtt_varint_put(uint8_t *dst, uint32_t v);

/* --- utf8.c --- */

/* 1 when s is a well-formed UTF-8 string as MQTT requires: shortest form,
 * no surrogates (U+D800..U+DFFF), no U+0000, no code point above
 * U+10FFFF. (Control characters and non-characters are allowed, as the
 * spec lets the receiver choose; see MQTT-1.5.4-1..3.) */
int mqtt_utf8_valid(const uint8_t *s, size_t len);

/* --- topic.c --- */

/* 1 when t is a valid topic name: not empty, no '+' or '#' (MQTT-4.7.3). */
int mqtt_topic_name_valid(const uint8_t *t, size_t len);
/* 1 when f is a valid topic filter: not empty, '#' only as the last whole
 * level, '+' only as a whole level; $share/<group>/<filter> checked too
 * (group non-empty, no wildcards in it, filter present). */
int mqtt_topic_filter_valid(const uint8_t *f, size_t len);
/* 1 when f starts with "$share/". If so and share_group/filter are not
 * NULL, they are set to the group name and the inner filter. */
int mqtt_topic_shared(const uint8_t *f, size_t len,
    struct mqtt_str *share_group, struct mqtt_str *filter);

/* --- reason.c --- */

/* Name of a v5 reason code ("malformed packet"), for logs and clients.
 * There is no packet type argument, so 0x00 is named "success" whatever
 * the packet (it also means normal disconnection and granted QoS 0). */
const char *mqtt_rc_name(uint8_t rc);
/* Name of a packet type ("PUBLISH"), "?" when unknown. */
const char *mqtt_type_name(uint8_t type);
/* 3.1.1 CONNACK return code for a v5 CONNACK reason code. */
uint8_t mqtt_rc_to_v3_connack(uint8_t rc);

#endif /* TERN_MQTT_H */
