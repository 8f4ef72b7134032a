/*
 * proto.h - the cluster's message formats: the payloads of the
 * "$cluster/" PUBLISHes that links carry (docs/ARCHITECTURE.md, "The
 * cluster"), one struct, one decoder and one encoder per message.
 *
 * Like broker/mqtt/mqtt.h: no I/O, no allocation, no broker state, and no
 * broker header (proto.c is built without -I broker, bridge/include.am).
 * route.c and takeover.c build and parse every payload with it; the unit
 * test (test/unit/proto_test.c) and the fuzz target
 * (test/fuzz/fuzz_cluster.c) link only this.
 *
 * Protocol version 2 (PROTO_VERSION). A link's CONNECT announces the
 * highest version its node speaks in the user property tern-proto
 * (BRIDGE_PROTO in bridge.h, "2"); the CONNACK of a node of version 2
 * says in tern-proto the version that link then speaks: the lower of the
 * two (a node of version 1 sends none: 1). A change to any layout below
 * is a new version. Version 2 changed no payload: it adds the compact
 * identity of forwarded messages (below, after the payloads) and
 * $cluster/routed, which a link carries only when both its ends said 2
 * (a node of version 1 closes a link that brings a "$cluster/" topic it
 * does not know).
 *
 * All integers are big endian. Offsets are in bytes from the start of the
 * PUBLISH payload; "n" sizes run to the end of the payload.
 *
 * $cluster/routes (QoS 0, on the sender's outbound link): its routes,
 * whole (a resync, in one or more parts) or one change (an increment).
 *   offset  size  field
 *   0       1     flags: 0x01 first part of a full table, 0x02 last part
 *                 (0x03 both, 0 an increment); other bits are ignored
 *   1       8     version: the sender's route version
 *   9       n     records, none or more, to the end; each:
 *     +0    1       op: 1 add, 2 remove (anything else is malformed)
 *     +1    2       m: filter length
 *     +3    m       filter
 *
 * $cluster/ack (QoS 0, back on the same link): routes applied.
 *   offset  size  field
 *   0       8     version: of the routes message (increment, or the last
 *                 part of a full table) applied
 *   Exactly 8 bytes.
 *
 * $cluster/claim (QoS 0, on the claimer's outbound links): give up this
 * client id.
 *   offset  size  field
 *   0       8     claim id (ms since the epoch << 16 | a counter)
 *   8       1     flags: 0x01 clean start; 0x02 merge (a split copy
 *                 asks for the others, no CONNECT waiting: takeover.c);
 *                 0x04 the CONNECT's user name follows; 0x08 the
 *                 CONNECT had none (anonymous); other bits are ignored
 *   9       2+u   with 0x04 only: u (2 bytes), then the user name
 *   ...     n     client id (may be empty), to the end
 *   Without 0x04 or 0x08 the user is not known (a merge claim, or a
 *   node of version 1), and session ownership is not checked.
 *
 * $cluster/owner (QoS 1, in the forward queue, right after
 * $cluster/session when the session's user is known): the layout of
 * $cluster/claim, with the claim id of the move, flags 0x04 and the
 * session's user name, or 0x08 for an anonymous client's session, and
 * the client id. The receiving node records it on the session moving in
 * (session_owner_only), unless its own copy's user is known.
 *
 * $cluster/claimed (QoS 0, on the answering node's outbound link).
 *   offset  size  field
 *   0       8     claim id
 *   8       1     answer: 0 given up, 1 refused (the answering node's own
 *                 connect wins), 2 wait (a session is moving in there),
 *                 3 not the owner (the session there belongs to another
 *                 user: session_owner_only); other values are taken as 0
 *   9       1     flags: the claim's 0x02 (merge) echoed, so that the
 *                 claimer tells the answer to a merge claim from the
 *                 answer to a CONNECT's claim with the same id
 *   Senders write 10 bytes. A receiver takes 8 bytes as answer 0, 9 as
 *   flags 0, and ignores bytes after the flags (version 1 ignored all
 *   after the answer): this one decoder is lenient, and its round trip
 *   keeps the first 10 bytes.
 *
 * $cluster/session (QoS 1, in the forward queue): a session moving to
 * the claimer. S is 32 plus the sizes of the subscriptions.
 *   offset  size  field
 *   0       8     claim id
 *   8       4     session expiry interval (s)
 *   12      8     next queue position (the old node's, plus 2^20
 *                 reserved for what reaches the session there meanwhile)
 *   20      8     highest queue position sent
 *   28      4     s: subscription count
 *   32      ...   s subscriptions, each:
 *     +0    1       options (MQTT 5 subscription options byte)
 *     +1    4       subscription identifier (0: none)
 *     +5    2       m: filter length
 *     +7    m       filter
 *   S       4     q: QoS 2 packet id count (ids received, PUBREL due)
 *   S+4     2q    the ids, 2 bytes each
 *   S+4+2q  n     client id (at least 1 byte)
 *
 * $cluster/seen (QoS 1, in the forward queue, after $cluster/session):
 * the messages the moving session had, by identity (its id window,
 * deliver.c), when it has any.
 *   offset  size  field
 *   0       8     claim id
 *   8       2     w: count
 *   10      8w    identity mixes, 8 bytes each
 *   10+8w   n     client id (at least 1 byte)
 *
 * $cluster/session-end (QoS 1, in the forward queue): the move is over.
 *   offset  size  field
 *   0       8     claim id
 *   8       n     client id (may be empty)
 *
 * $cluster/routed (QoS 0, version 2 links only, from the node a session
 * moved to, to the node it came from): every node the sender hears has
 * applied the sender's routes for the session, so the old node's
 * forwarding address lets its routes go (make before break). The
 * layout of $cluster/session-end (claim id of the move, client id).
 *
 * Decoders check the layout only: lengths, counts against the bytes
 * there, the routes op, the required bytes. They return 0, or -1 with
 * *out zeroed, and read nothing past len. A decoded struct holds views
 * into the caller's buffer (which must outlive it). What the fields mean
 * (is a filter valid MQTT, a claim id known) is the caller's to check;
 * route.c and takeover.c check every filter with mqtt_topic_filter_valid
 * before they apply anything. A payload whose last field runs to the end
 * (routes, claim, session, seen, session-end) cannot have trailing bytes:
 * they are records or client id. ack has a fixed size; claimed, see
 * above.
 *
 * A malformed message (decoder -1, or an invalid filter) is refused with
 * reason code 0x81 and nothing of it is applied: the receiver closes the
 * link it came on (DISCONNECT 0x81); the sender, which dialled that link,
 * dials again and resends its full route table. A claim or claimed (QoS
 * 0) is lost with the link; a session or session-end (QoS 1, not
 * acknowledged) is sent again on the new link, so one that stays
 * malformed closes the link each time. An ack that is not 8 bytes closes
 * the outbound link it came on with 0x82 (link.c).
 *
 * The identity of a forwarded message (version 2; link.c, forward.c). It
 * is not a payload but the value of a user property: on a link of
 * version 2, every PUBLISH whose topic does not begin with "$cluster/"
 * has as its first user property one with an empty key, whose value is
 * the message's identity; an empty value says that the message has
 * none. (On a link of version 1 the identity is the user properties
 * "$tern/i" and "$tern/o", forward.c.) The value is a string of base64url
 * digits ('A'-'Z' 0 to 25, 'a'-'z' 26 to 51, '0'-'9' 52 to 61, '-' 62,
 * '_' 63):
 *   varint      d: the zigzag form of (seq >> 20) - (prev >> 20), taken
 *               as a 44-bit signed number (the difference modulo 2^44);
 *               at most 9 digits, d < 2^44
 *   varint      low: seq & 0xfffff; at most 4 digits, low < 2^20
 *   11 digits   optional: the origin, most significant first (the first
 *               digit below 16, the origin not 0); absent: the origin is
 *               the sending node (proto_id.origin 0)
 * A varint is one digit or more, each with 5 bits of the number, the
 * least significant first, and the digit's bit 32 set when another digit
 * follows; the last digit of a varint of two digits or more is not 0
 * (each number has one form). prev is the sequence of the identity the
 * previous such PUBLISH of that link carried (0 for the first one after
 * the link's CONNECT, or when none carried one yet): the link is one
 * TCP stream, so both ends see the same PUBLISHes in the same order. A
 * sequence (ms since the epoch << 20 | a counter, forward.c) a few ms
 * after the previous one takes 2 digits. Zigzag: 0, -1, 1, -2 ... are 0,
 * 1, 2, 3 ... A PUBLISH of such a link without the property first, or
 * whose value does not decode, closes the link (0x82, 0x81): no id is
 * guessed.
 *
 * Encoding: proto_X_len() gives the exact size (0 when the struct cannot
 * be encoded: a filter over 65535 bytes, a routes op other than 1 or 2,
 * an empty client id in a session, a missing array); proto_X_encode()
 * then writes into a buffer of that many bytes without checks, asserting
 * what _len has checked, and returns the length written.
 */
#ifndef TERN_PROTO_H
#define TERN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 2

#define PROTO_FILTER_MAX 65535 /* a filter length is 2 bytes */

/* A borrowed byte range (p may be NULL when len is 0). */
struct proto_str {
	const uint8_t *p;
	size_t len;
};

/*
 * Repeated parts (routes records, session subscriptions, QoS 2 ids) are
 * walked with an iterator over the decoded view. Each _next() checks the
 * bounds of the item it reads and returns 1 (item set), 0 (end) or -1
 * (malformed, and again on every later call). After a successful decode
 * of the message, walking its view cannot return -1.
 */
struct proto_iter {
	const uint8_t *p;
	const uint8_t *end;
};

/* --- $cluster/routes --- */

#define PROTO_ROUTES_FIRST 0x01
#define PROTO_ROUTES_LAST 0x02
#define PROTO_ROUTE_ADD 1
#define PROTO_ROUTE_DEL 2
#define PROTO_ROUTES_HEAD_LEN 9
#define PROTO_ROUTE_HEAD_LEN 3 /* a record without its filter */

struct proto_routes {
	uint8_t flags;
	uint64_t version;
	struct proto_str records; /* decode: the records, wire form */
};

struct proto_route {
	uint8_t op; /* PROTO_ROUTE_ADD or _DEL */
	struct proto_str filter;
};

/* Decode a routes payload, records included. 0 or -1. */
int proto_routes_decode(const uint8_t *p, size_t len,
    struct proto_routes *out);
void proto_routes_iter(const struct proto_routes *m, struct proto_iter *it);
int proto_routes_next(struct proto_iter *it, struct proto_route *out);
/*
 * A routes message is written in pieces, as a full table is cut into
 * parts while it is written: the head (PROTO_ROUTES_HEAD_LEN bytes: flags
 * and version of m, its records ignored), then each record.
 */
size_t proto_routes_head_encode(const struct proto_routes *m, uint8_t *buf);
size_t proto_route_len(const struct proto_route *r);
size_t proto_route_encode(const struct proto_route *r, uint8_t *buf);

/* --- $cluster/ack --- */

#define PROTO_ACK_LEN 8

struct proto_ack {
	uint64_t version;
};

int proto_ack_decode(const uint8_t *p, size_t len, struct proto_ack *out);
size_t proto_ack_len(const struct proto_ack *m);
size_t proto_ack_encode(const struct proto_ack *m, uint8_t *buf);

/* --- $cluster/claim --- */

#define PROTO_CLAIM_CLEAN 0x01
/* A merge claim (takeover.c, "Split sessions"): no CONNECT waits on it.
 * A node that does not know the flag answers it as any claim. */
#define PROTO_CLAIM_MERGE 0x02
#define PROTO_CLAIM_USER 0x04
#define PROTO_CLAIM_ANON 0x08
#define PROTO_CLAIM_HEAD_LEN 9

struct proto_claim {
	uint64_t claim_id;
	uint8_t flags; /* PROTO_CLAIM_* */
	struct proto_str client_id;
	struct proto_str user; /* with PROTO_CLAIM_USER (at most 65535) */
};

int proto_claim_decode(const uint8_t *p, size_t len,
    struct proto_claim *out);
size_t proto_claim_len(const struct proto_claim *m);
size_t proto_claim_encode(const struct proto_claim *m, uint8_t *buf);

/* --- $cluster/claimed --- */

#define PROTO_CLAIMED_GIVEN_UP 0
#define PROTO_CLAIMED_REFUSED 1
#define PROTO_CLAIMED_WAIT 2
#define PROTO_CLAIMED_NOT_OWNER 3
#define PROTO_CLAIMED_LEN 10
#define PROTO_CLAIMED_MIN_LEN 8 /* answer 0 when absent */

struct proto_claimed {
	uint64_t claim_id;
	uint8_t answer; /* PROTO_CLAIMED_* (others: given up) */
	uint8_t flags; /* the claim's PROTO_CLAIM_MERGE, echoed (0 absent) */
};

int proto_claimed_decode(const uint8_t *p, size_t len,
    struct proto_claimed *out);
size_t proto_claimed_len(const struct proto_claimed *m);
size_t proto_claimed_encode(const struct proto_claimed *m, uint8_t *buf);

/* --- $cluster/session --- */

#define PROTO_SESSION_HEAD_LEN 32
#define PROTO_SUB_HEAD_LEN 7 /* a subscription without its filter */

struct proto_sub {
	uint8_t options;
	uint32_t sub_id;
	struct proto_str filter;
};

/*
 * The counts are the message's. On decode, sub_list and qos2_list are the
 * subscriptions' and the ids' bytes (walk them with the iterators) and
 * subs/qos2 are NULL. On encode, subs and qos2 hold n_subs and n_qos2
 * entries (NULL only for a count of 0); sub_list and qos2_list are not
 * read.
 */
struct proto_session {
	uint64_t claim_id;
	uint32_t expiry;
	uint64_t next_seq;
	uint64_t sent_max;
	uint32_t n_subs;
	uint32_t n_qos2;
	struct proto_str client_id;
	const struct proto_sub *subs; /* encode */
	const uint16_t *qos2; /* encode */
	struct proto_str sub_list; /* decode */
	struct proto_str qos2_list; /* decode */
};

int proto_session_decode(const uint8_t *p, size_t len,
    struct proto_session *out);
void proto_session_subs(const struct proto_session *m,
    struct proto_iter *it);
int proto_session_sub_next(struct proto_iter *it, struct proto_sub *out);
void proto_session_qos2(const struct proto_session *m,
    struct proto_iter *it);
int proto_session_qos2_next(struct proto_iter *it, uint16_t *out);
size_t proto_session_len(const struct proto_session *m);
size_t proto_session_encode(const struct proto_session *m, uint8_t *buf);

/* --- $cluster/seen --- */

#define PROTO_SEEN_HEAD_LEN 10
#define PROTO_SEEN_MAX 65535

/* On decode, mixes is NULL and mix_list holds the count's 8-byte mixes
 * (read them with proto_seen_mix); on encode, mixes holds n entries. */
struct proto_seen {
	uint64_t claim_id;
	uint32_t n;
	const uint64_t *mixes; /* encode */
	struct proto_str mix_list; /* decode */
	struct proto_str client_id;
};

int proto_seen_decode(const uint8_t *p, size_t len, struct proto_seen *out);
/* The i-th mix of a decoded message (i < n). */
uint64_t proto_seen_mix(const struct proto_seen *m, uint32_t i);
/* 0 when n is over PROTO_SEEN_MAX or the client id empty. */
size_t proto_seen_len(const struct proto_seen *m);
size_t proto_seen_encode(const struct proto_seen *m, uint8_t *buf);

/* --- $cluster/session-end --- */

#define PROTO_SESSION_END_HEAD_LEN 8

struct proto_session_end {
	uint64_t claim_id;
	struct proto_str client_id;
};

int proto_session_end_decode(const uint8_t *p, size_t len,
    struct proto_session_end *out);
size_t proto_session_end_len(const struct proto_session_end *m);
size_t proto_session_end_encode(const struct proto_session_end *m,
    uint8_t *buf);

/* --- the identity of a forwarded message (version 2) --- */

#define PROTO_ID_LEN_MAX 24 /* 9 + 4 + 11 digits */

struct proto_id {
	uint64_t origin; /* 0: the sending node (no origin digits) */
	uint64_t seq;
};

/* Decode the n digits at p (a property value), with prev the sequence
 * of the link's previous identity. 0, or -1 with *out zeroed (an empty
 * value too: it says "no identity", which is the caller's). */
int proto_id_decode(const uint8_t *p, size_t len, uint64_t prev,
    struct proto_id *out);
/* Any seq and origin can be encoded: never 0. */
size_t proto_id_len(uint64_t prev, const struct proto_id *m);
size_t proto_id_encode(uint64_t prev, const struct proto_id *m,
    uint8_t *buf);

#endif /* TERN_PROTO_H */
