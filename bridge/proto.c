/*
 * proto.c - decoding and encoding of the cluster's messages; the layouts
 * and the contract are in proto.h.
 *
 * Design note. As in broker/mqtt/encode.c, each message has one put
 * function that serves both passes: with a counting writer (no buffer) it
 * adds up the length for proto_X_len(), with a buffer it writes for
 * proto_X_encode(), so the two cannot drift apart and the writer asserts
 * instead of checking. Decoders read only what they have checked is
 * there: every read of a field is preceded by a comparison of the bytes
 * left with its size, and counts are compared with the bytes left before
 * anything is walked (a session claiming 2^32 subscriptions in 40 bytes
 * is refused at once). Repeated parts are read by one function per item
 * (route_read, sub_read), which the decoders and the iterators share.
 *
 * The big-endian helpers are this file's own: bridge/wire.c has the same
 * ones but includes broker.h, which this file must not.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

/* --- integers --- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* --- the writer: counts without a buffer, writes with one --- */

struct wr {
	uint8_t *buf; /* NULL: count only */
	size_t n;
};

static void
wr_bytes(struct wr *w, const uint8_t *src, size_t len)
{
	if (w->buf != NULL && len != 0)
		memcpy(w->buf + w->n, src, len);
	w->n += len;
}

static void
wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void
wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	wr_bytes(w, b, sizeof b);
}

static void
wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	wr_bytes(w, b, sizeof b);
}

static void
wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)(v >> 32));
	wr_u32(w, (uint32_t)v);
}

static void
wr_str(struct wr *w, struct proto_str s)
{
	wr_bytes(w, s.p, s.len);
}

/* Set it to walk the view v. */
static void
iter_set(struct proto_iter *it, struct proto_str v)
{
	it->p = v.p;
	it->end = v.p != NULL ? v.p + v.len : NULL;
}

/* --- $cluster/routes --- */

/* One record at p (before end): its size, 0 when malformed. */
static size_t
route_read(const uint8_t *p, const uint8_t *end, struct proto_route *out)
{
	size_t left = (size_t)(end - p), m;

	if (left < PROTO_ROUTE_HEAD_LEN)
		return 0;
	m = get16(p + 1);
	if (left - PROTO_ROUTE_HEAD_LEN < m ||
	    (p[0] != PROTO_ROUTE_ADD && p[0] != PROTO_ROUTE_DEL))
		return 0;
	out->op = p[0];
	out->filter.p = p + PROTO_ROUTE_HEAD_LEN;
	out->filter.len = m;
	return PROTO_ROUTE_HEAD_LEN + m;
}

int
proto_routes_decode(const uint8_t *p, size_t len, struct proto_routes *out)
{
	const uint8_t *q, *end;
	struct proto_route r;
	size_t n;

	memset(out, 0, sizeof *out);
	if (len < PROTO_ROUTES_HEAD_LEN)
		return -1;
	end = p + len;
	for (q = p + PROTO_ROUTES_HEAD_LEN; q < end; q += n) {
		if ((n = route_read(q, end, &r)) == 0)
			return -1;
	}
	out->flags = p[0];
	out->version = get64(p + 1);
	out->records.p = p + PROTO_ROUTES_HEAD_LEN;
	out->records.len = len - PROTO_ROUTES_HEAD_LEN;
	return 0;
}

void
proto_routes_iter(const struct proto_routes *m, struct proto_iter *it)
{
	iter_set(it, m->records);
}

int
proto_routes_next(struct proto_iter *it, struct proto_route *out)
{
	size_t n;

	if (it->p == it->end)
		return 0;
	if ((n = route_read(it->p, it->end, out)) == 0)
		return -1;
	it->p += n;
	return 1;
}

size_t
proto_routes_head_encode(const struct proto_routes *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	wr_u8(&w, m->flags);
	wr_u64(&w, m->version);
	assert(w.n == PROTO_ROUTES_HEAD_LEN);
	return w.n;
}

static int
route_put(struct wr *w, const struct proto_route *r)
{
	if ((r->op != PROTO_ROUTE_ADD && r->op != PROTO_ROUTE_DEL) ||
	    r->filter.len > PROTO_FILTER_MAX)
		return -1;
	wr_u8(w, r->op);
	wr_u16(w, (uint16_t)r->filter.len);
	wr_str(w, r->filter);
	return 0;
}

size_t
proto_route_len(const struct proto_route *r)
{
	struct wr w = { NULL, 0 };

	return route_put(&w, r) == 0 ? w.n : 0;
}

size_t
proto_route_encode(const struct proto_route *r, uint8_t *buf)
{
	struct wr w = { buf, 0 };
	int rc;

	rc = route_put(&w, r);
	assert(rc == 0);
	(void)rc;
	return w.n;
}

/* --- $cluster/ack --- */

int
proto_ack_decode(const uint8_t *p, size_t len, struct proto_ack *out)
{
	memset(out, 0, sizeof *out);
	if (len != PROTO_ACK_LEN)
		return -1;
	out->version = get64(p);
	return 0;
}

size_t
proto_ack_len(const struct proto_ack *m)
{
	return PROTO_ACK_LEN;
}

size_t
proto_ack_encode(const struct proto_ack *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	wr_u64(&w, m->version);
	assert(w.n == PROTO_ACK_LEN);
	return w.n;
}

/* --- $cluster/claim --- */

int
proto_claim_decode(const uint8_t *p, size_t len, struct proto_claim *out)
{
	size_t off = PROTO_CLAIM_HEAD_LEN, ulen = 0;

	memset(out, 0, sizeof *out);
	if (len < PROTO_CLAIM_HEAD_LEN)
		return -1;
	if (p[8] & PROTO_CLAIM_USER) {
		if (len - off < 2 || len - off - 2 < (ulen = get16(p + off)))
			return -1;
		out->user.p = p + off + 2;
		out->user.len = ulen;
		off += 2 + ulen;
	}
	out->claim_id = get64(p);
	out->flags = p[8];
	out->client_id.p = p + off;
	out->client_id.len = len - off;
	return 0;
}

static void
claim_put(struct wr *w, const struct proto_claim *m)
{
	wr_u64(w, m->claim_id);
	wr_u8(w, m->flags);
	if (m->flags & PROTO_CLAIM_USER) {
		wr_u16(w, (uint16_t)m->user.len);
		wr_str(w, m->user);
	}
	wr_str(w, m->client_id);
}

size_t
proto_claim_len(const struct proto_claim *m)
{
	struct wr w = { NULL, 0 };

	claim_put(&w, m);
	return w.n;
}

size_t
proto_claim_encode(const struct proto_claim *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	claim_put(&w, m);
	assert(w.n == PROTO_CLAIM_HEAD_LEN + m->client_id.len +
	    ((m->flags & PROTO_CLAIM_USER) ? 2 + m->user.len : 0));
	return w.n;
}

/* --- $cluster/claimed --- */

int
proto_claimed_decode(const uint8_t *p, size_t len, struct proto_claimed *out)
{
	memset(out, 0, sizeof *out);
	if (len < PROTO_CLAIMED_MIN_LEN)
		return -1;
	out->claim_id = get64(p);
	out->answer = len > PROTO_CLAIMED_MIN_LEN ? p[8] :
	    PROTO_CLAIMED_GIVEN_UP;
	out->flags = len > PROTO_CLAIMED_MIN_LEN + 1 ? p[9] : 0;
	return 0;
}

size_t
proto_claimed_len(const struct proto_claimed *m)
{
	return PROTO_CLAIMED_LEN;
}

size_t
proto_claimed_encode(const struct proto_claimed *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	wr_u64(&w, m->claim_id);
	wr_u8(&w, m->answer);
	wr_u8(&w, m->flags);
	assert(w.n == PROTO_CLAIMED_LEN);
	return w.n;
}

/* --- $cluster/session --- */

/* One subscription at p (before end): its size, 0 when malformed. */
static size_t
sub_read(const uint8_t *p, const uint8_t *end, struct proto_sub *out)
{
	size_t left = (size_t)(end - p), m;

	if (left < PROTO_SUB_HEAD_LEN)
		return 0;
	m = get16(p + 5);
	if (left - PROTO_SUB_HEAD_LEN < m)
		return 0;
	out->options = p[0];
	out->sub_id = get32(p + 1);
	out->filter.p = p + PROTO_SUB_HEAD_LEN;
	out->filter.len = m;
	return PROTO_SUB_HEAD_LEN + m;
}

int
proto_session_decode(const uint8_t *p, size_t len,
    struct proto_session *out)
{
	const uint8_t *q, *subs, *qos2, *end;
	struct proto_sub sub;
	uint32_t n_subs, n_qos2, i;
	size_t n, left;

	memset(out, 0, sizeof *out);
	if (len < PROTO_SESSION_HEAD_LEN)
		return -1;
	end = p + len;
	subs = q = p + PROTO_SESSION_HEAD_LEN;
	n_subs = get32(p + 28);
	if (n_subs > (size_t)(end - q) / PROTO_SUB_HEAD_LEN)
		return -1;
	for (i = 0; i < n_subs; i++, q += n) {
		if ((n = sub_read(q, end, &sub)) == 0)
			return -1;
	}
	if ((size_t)(end - q) < 4)
		return -1;
	n_qos2 = get32(q);
	qos2 = q + 4;
	/* The ids, then a client id of one byte at least. */
	left = (size_t)(end - qos2);
	if (left == 0 || n_qos2 > (left - 1) / 2)
		return -1;
	out->claim_id = get64(p);
	out->expiry = get32(p + 8);
	out->next_seq = get64(p + 12);
	out->sent_max = get64(p + 20);
	out->n_subs = n_subs;
	out->n_qos2 = n_qos2;
	out->sub_list.p = subs;
	out->sub_list.len = (size_t)(q - subs);
	out->qos2_list.p = qos2;
	out->qos2_list.len = 2 * (size_t)n_qos2;
	out->client_id.p = qos2 + out->qos2_list.len;
	out->client_id.len = left - out->qos2_list.len;
	return 0;
}

void
proto_session_subs(const struct proto_session *m, struct proto_iter *it)
{
	iter_set(it, m->sub_list);
}

int
proto_session_sub_next(struct proto_iter *it, struct proto_sub *out)
{
	size_t n;

	if (it->p == it->end)
		return 0;
	if ((n = sub_read(it->p, it->end, out)) == 0)
		return -1;
	it->p += n;
	return 1;
}

void
proto_session_qos2(const struct proto_session *m, struct proto_iter *it)
{
	iter_set(it, m->qos2_list);
}

int
proto_session_qos2_next(struct proto_iter *it, uint16_t *out)
{
	if (it->p == it->end)
		return 0;
	if (it->end - it->p < 2)
		return -1;
	*out = get16(it->p);
	it->p += 2;
	return 1;
}

static int
session_put(struct wr *w, const struct proto_session *m)
{
	uint32_t i;

	if (m->client_id.len == 0 || (m->n_subs != 0 && m->subs == NULL) ||
	    (m->n_qos2 != 0 && m->qos2 == NULL))
		return -1;
	for (i = 0; i < m->n_subs; i++) {
		if (m->subs[i].filter.len > PROTO_FILTER_MAX)
			return -1;
	}
	wr_u64(w, m->claim_id);
	wr_u32(w, m->expiry);
	wr_u64(w, m->next_seq);
	wr_u64(w, m->sent_max);
	wr_u32(w, m->n_subs);
	for (i = 0; i < m->n_subs; i++) {
		wr_u8(w, m->subs[i].options);
		wr_u32(w, m->subs[i].sub_id);
		wr_u16(w, (uint16_t)m->subs[i].filter.len);
		wr_str(w, m->subs[i].filter);
	}
	wr_u32(w, m->n_qos2);
	for (i = 0; i < m->n_qos2; i++)
		wr_u16(w, m->qos2[i]);
	wr_str(w, m->client_id);
	return 0;
}

size_t
proto_session_len(const struct proto_session *m)
{
	struct wr w = { NULL, 0 };

	return session_put(&w, m) == 0 ? w.n : 0;
}

size_t
proto_session_encode(const struct proto_session *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };
	int rc;

	rc = session_put(&w, m);
	assert(rc == 0);
	(void)rc;
	return w.n;
}

/* --- $cluster/seen --- */

int
proto_seen_decode(const uint8_t *p, size_t len, struct proto_seen *out)
{
	size_t n;

	memset(out, 0, sizeof *out);
	if (len < PROTO_SEEN_HEAD_LEN)
		return -1;
	n = get16(p + 8);
	if (len - PROTO_SEEN_HEAD_LEN <= n * 8) /* a client id follows */
		return -1;
	out->claim_id = get64(p);
	out->n = (uint32_t)n;
	out->mix_list.p = p + PROTO_SEEN_HEAD_LEN;
	out->mix_list.len = n * 8;
	out->client_id.p = p + PROTO_SEEN_HEAD_LEN + n * 8;
	out->client_id.len = len - PROTO_SEEN_HEAD_LEN - n * 8;
	return 0;
}

uint64_t
proto_seen_mix(const struct proto_seen *m, uint32_t i)
{
	assert(i < m->n);
	return get64(m->mix_list.p + (size_t)i * 8);
}

static void
seen_put(struct wr *w, const struct proto_seen *m)
{
	uint32_t i;

	wr_u64(w, m->claim_id);
	wr_u16(w, (uint16_t)m->n);
	for (i = 0; i < m->n; i++)
		wr_u64(w, m->mixes[i]);
	wr_str(w, m->client_id);
}

size_t
proto_seen_len(const struct proto_seen *m)
{
	struct wr w = { NULL, 0 };

	if (m->n > PROTO_SEEN_MAX || m->client_id.len == 0 ||
	    (m->n > 0 && m->mixes == NULL))
		return 0;
	seen_put(&w, m);
	return w.n;
}

size_t
proto_seen_encode(const struct proto_seen *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	assert(m->n <= PROTO_SEEN_MAX && m->client_id.len > 0);
	seen_put(&w, m);
	assert(w.n == PROTO_SEEN_HEAD_LEN + (size_t)m->n * 8 +
	    m->client_id.len);
	return w.n;
}

/* --- $cluster/session-end --- */

int
proto_session_end_decode(const uint8_t *p, size_t len,
    struct proto_session_end *out)
{
	memset(out, 0, sizeof *out);
	if (len < PROTO_SESSION_END_HEAD_LEN)
		return -1;
	out->claim_id = get64(p);
	out->client_id.p = p + PROTO_SESSION_END_HEAD_LEN;
	out->client_id.len = len - PROTO_SESSION_END_HEAD_LEN;
	return 0;
}

static void
session_end_put(struct wr *w, const struct proto_session_end *m)
{
	wr_u64(w, m->claim_id);
	wr_str(w, m->client_id);
}

size_t
proto_session_end_len(const struct proto_session_end *m)
{
	struct wr w = { NULL, 0 };

	session_end_put(&w, m);
	return w.n;
}

size_t
proto_session_end_encode(const struct proto_session_end *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	session_end_put(&w, m);
	assert(w.n == PROTO_SESSION_END_HEAD_LEN + m->client_id.len);
	return w.n;
}

/* --- the identity of a forwarded message (version 2) --- */

#define ID_HIGH_MASK ((UINT64_C(1) << 44) - 1) /* seq >> 20 */
#define ID_HIGH_SIGN (UINT64_C(1) << 43)
#define ID_LOW_MASK ((UINT64_C(1) << 20) - 1)
#define ID_ORIGIN_DIGITS 11

static const char id_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A base64url digit's value, -1 for another byte. */
static int
id_digit(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

static void
wr_digit(struct wr *w, uint64_t v)
{
	wr_u8(w, (uint8_t)id_digits[v & 63]);
}

static void
wr_varint(struct wr *w, uint64_t v)
{
	while (v >= 32) {
		wr_digit(w, 32 | (v & 31));
		v >>= 5;
	}
	wr_digit(w, v);
}

/* A varint of at most max digits at *p (before end), below limit; *p
 * moves past it. 0, or -1. */
static int
varint_read(const uint8_t **p, const uint8_t *end, int max, uint64_t limit,
    uint64_t *out)
{
	uint64_t v = 0;
	int i, d;

	for (i = 0; i < max && *p < end; i++) {
		if ((d = id_digit(*(*p)++)) < 0)
			return -1;
		v |= (uint64_t)(d & 31) << (5 * i);
		if ((d & 32) == 0) {
			if ((i > 0 && d == 0) || v >= limit)
				return -1;
			*out = v;
			return 0;
		}
	}
	return -1;
}

int
proto_id_decode(const uint8_t *p, size_t len, uint64_t prev,
    struct proto_id *out)
{
	const uint8_t *end = p + len;
	uint64_t z, d, low, origin = 0;
	int i, v;

	memset(out, 0, sizeof *out);
	if (len == 0 ||
	    varint_read(&p, end, 9, ID_HIGH_MASK + 1, &z) != 0 ||
	    varint_read(&p, end, 4, ID_LOW_MASK + 1, &low) != 0)
		return -1;
	if (p != end) {
		if (end - p != ID_ORIGIN_DIGITS)
			return -1;
		for (i = 0; i < ID_ORIGIN_DIGITS; i++) {
			if ((v = id_digit(p[i])) < 0 || (i == 0 && v >= 16))
				return -1;
			origin = origin << 6 | (uint64_t)v;
		}
		if (origin == 0)
			return -1;
	}
	/* Zigzag back to the 44-bit difference. */
	d = (z & 1) != 0 ? (ID_HIGH_MASK + 1 - (z + 1) / 2) & ID_HIGH_MASK :
	    z / 2;
	out->seq = (((prev >> 20) + d) & ID_HIGH_MASK) << 20 | low;
	out->origin = origin;
	return 0;
}

static void
id_put(struct wr *w, uint64_t prev, const struct proto_id *m)
{
	uint64_t d = ((m->seq >> 20) - (prev >> 20)) & ID_HIGH_MASK;
	int i;

	/* Zigzag: a difference of -n (d = 2^44 - n) is 2n - 1, of n 2n. */
	wr_varint(w, (d & ID_HIGH_SIGN) != 0 ?
	    ((ID_HIGH_MASK + 1 - d) << 1) - 1 : d << 1);
	wr_varint(w, m->seq & ID_LOW_MASK);
	if (m->origin != 0) {
		for (i = ID_ORIGIN_DIGITS - 1; i >= 0; i--)
			wr_digit(w, m->origin >> (6 * i));
	}
}

size_t
proto_id_len(uint64_t prev, const struct proto_id *m)
{
	struct wr w = { NULL, 0 };

	id_put(&w, prev, m);
	return w.n;
}

size_t
proto_id_encode(uint64_t prev, const struct proto_id *m, uint8_t *buf)
{
	struct wr w = { buf, 0 };

	id_put(&w, prev, m);
	assert(w.n >= 2 && w.n <= PROTO_ID_LEN_MAX);
	return w.n;
}
