/*
 * fuzz_cluster.c - libFuzzer target for the cluster's message formats
 * (bridge/proto.c; layouts in bridge/proto.h).
 *
 * Input: a payload, decoded as each of the seven messages in turn
 * ($cluster/ routes, ack, claim, claimed, session, session-end, seen);
 * and, when it has 8 bytes or more, as the identity of a forwarded
 * message (version 2): the first 8 bytes (big endian) the previous
 * sequence of the link, the rest the property value. The input is an
 * exact-size buffer (libFuzzer's, or replay.c's copy; the identity is
 * decoded in place at its end), so ASan catches a read past it.
 *
 * Invariants, checked for every message the input decodes as (any
 * violation aborts):
 * - a failed decode leaves the struct zeroed;
 * - walking the repeated parts (routes records, session subscriptions
 *   and QoS 2 ids) never fails after a successful decode, and finds as
 *   many items as the counts say;
 * - re-encoding what was decoded (the repeated parts collected from the
 *   iterators into arrays, as route.c and takeover.c build them) gives
 *   the input byte for byte, with the length _len() announced; the one
 *   exception is $cluster/claimed, which version 1 reads leniently: its
 *   re-encoding is the first 9 bytes of the input, or the 8 bytes of an
 *   8-byte input and a 0 (given up);
 * - the re-encoding decodes again (to the same fields);
 * - an identity that decodes is 2 to PROTO_ID_LEN_MAX digits, and is
 *   re-encoded byte for byte (each identity has one form).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

static void *
fuzz_alloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	FUZZ_CHECK(p != NULL);
	return p;
}

/* 1 when the n bytes at p are all 0. */
static int
fuzz_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0)
			return 0;
	}
	return 1;
}

static void
fuzz_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	FUZZ_CHECK(alen == blen);
	FUZZ_CHECK(alen == 0 || memcmp(a, b, alen) == 0);
}

static void
fuzz_routes(const uint8_t *data, size_t size)
{
	struct proto_routes m, m2;
	struct proto_route r, *list;
	struct proto_iter it;
	uint8_t *buf;
	size_t n = 0, i, len;
	int rc;

	if (proto_routes_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	FUZZ_CHECK(m.records.p == data + PROTO_ROUTES_HEAD_LEN);
	FUZZ_CHECK(m.records.len == size - PROTO_ROUTES_HEAD_LEN);
	/* At most one record per 3 bytes. */
	list = fuzz_alloc((m.records.len / PROTO_ROUTE_HEAD_LEN) *
	    sizeof *list);
	len = PROTO_ROUTES_HEAD_LEN;
	proto_routes_iter(&m, &it);
	while ((rc = proto_routes_next(&it, &r)) == 1) {
		FUZZ_CHECK(n < m.records.len / PROTO_ROUTE_HEAD_LEN);
		FUZZ_CHECK(r.op == PROTO_ROUTE_ADD || r.op == PROTO_ROUTE_DEL);
		FUZZ_CHECK(proto_route_len(&r) ==
		    PROTO_ROUTE_HEAD_LEN + r.filter.len);
		len += proto_route_len(&r);
		list[n++] = r;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(proto_routes_next(&it, &r) == 0);
	FUZZ_CHECK(len == size);
	buf = fuzz_alloc(len);
	i = proto_routes_head_encode(&m, buf);
	FUZZ_CHECK(i == PROTO_ROUTES_HEAD_LEN);
	for (n = 0; i < len; n++)
		i += proto_route_encode(&list[n], buf + i);
	fuzz_same(buf, i, data, size);
	FUZZ_CHECK(proto_routes_decode(buf, len, &m2) == 0);
	FUZZ_CHECK(m2.flags == m.flags && m2.version == m.version &&
	    m2.records.len == m.records.len);
	free(buf);
	free(list);
}

static void
fuzz_ack(const uint8_t *data, size_t size)
{
	struct proto_ack m, m2;
	uint8_t buf[PROTO_ACK_LEN];

	if (proto_ack_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	FUZZ_CHECK(proto_ack_len(&m) == sizeof buf);
	fuzz_same(buf, proto_ack_encode(&m, buf), data, size);
	FUZZ_CHECK(proto_ack_decode(buf, sizeof buf, &m2) == 0 &&
	    m2.version == m.version);
}

static void
fuzz_claim(const uint8_t *data, size_t size)
{
	struct proto_claim m, m2;
	uint8_t *buf;
	size_t len;

	if (proto_claim_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	len = proto_claim_len(&m);
	buf = fuzz_alloc(len);
	fuzz_same(buf, proto_claim_encode(&m, buf), data, size);
	FUZZ_CHECK(proto_claim_decode(buf, len, &m2) == 0);
	FUZZ_CHECK(m2.claim_id == m.claim_id && m2.flags == m.flags);
	fuzz_same(m2.client_id.p, m2.client_id.len, m.client_id.p,
	    m.client_id.len);
	fuzz_same(m2.user.p, m2.user.len, m.user.p, m.user.len);
	free(buf);
}

static void
fuzz_claimed(const uint8_t *data, size_t size)
{
	struct proto_claimed m, m2;
	uint8_t buf[PROTO_CLAIMED_LEN], want[PROTO_CLAIMED_LEN];

	if (proto_claimed_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		FUZZ_CHECK(size < PROTO_CLAIMED_MIN_LEN);
		return;
	}
	/* Lenient: the first 10 bytes, a missing answer or flags read as
	 * 0. */
	memset(want, 0, sizeof want);
	memcpy(want, data, size < sizeof want ? size : sizeof want);
	FUZZ_CHECK(proto_claimed_len(&m) == sizeof buf);
	fuzz_same(buf, proto_claimed_encode(&m, buf), want, sizeof want);
	FUZZ_CHECK(proto_claimed_decode(buf, sizeof buf, &m2) == 0 &&
	    m2.claim_id == m.claim_id && m2.answer == m.answer &&
	    m2.flags == m.flags);
}

static void
fuzz_session(const uint8_t *data, size_t size)
{
	struct proto_session m, m2, e;
	struct proto_sub sub, *subs;
	struct proto_iter it;
	uint16_t id, *ids;
	uint8_t *buf;
	size_t len;
	uint32_t n;
	int rc;

	if (proto_session_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	FUZZ_CHECK(m.subs == NULL && m.qos2 == NULL);
	FUZZ_CHECK(m.client_id.len >= 1);
	FUZZ_CHECK(m.client_id.p + m.client_id.len == data + size);
	FUZZ_CHECK(m.qos2_list.len == 2 * (size_t)m.n_qos2);
	/* The counts fit the bytes, so these allocations are bounded. */
	FUZZ_CHECK((size_t)m.n_subs * PROTO_SUB_HEAD_LEN <= m.sub_list.len);
	subs = fuzz_alloc((size_t)m.n_subs * sizeof *subs);
	ids = fuzz_alloc((size_t)m.n_qos2 * sizeof *ids);
	proto_session_subs(&m, &it);
	for (n = 0; (rc = proto_session_sub_next(&it, &sub)) == 1; n++) {
		FUZZ_CHECK(n < m.n_subs);
		subs[n] = sub;
	}
	FUZZ_CHECK(rc == 0 && n == m.n_subs);
	proto_session_qos2(&m, &it);
	for (n = 0; (rc = proto_session_qos2_next(&it, &id)) == 1; n++) {
		FUZZ_CHECK(n < m.n_qos2);
		ids[n] = id;
	}
	FUZZ_CHECK(rc == 0 && n == m.n_qos2);

	e = m;
	e.subs = subs;
	e.qos2 = ids;
	memset(&e.sub_list, 0, sizeof e.sub_list);
	memset(&e.qos2_list, 0, sizeof e.qos2_list);
	len = proto_session_len(&e);
	FUZZ_CHECK(len == size);
	buf = fuzz_alloc(len);
	fuzz_same(buf, proto_session_encode(&e, buf), data, size);
	FUZZ_CHECK(proto_session_decode(buf, len, &m2) == 0);
	FUZZ_CHECK(m2.claim_id == m.claim_id && m2.expiry == m.expiry &&
	    m2.next_seq == m.next_seq && m2.sent_max == m.sent_max &&
	    m2.n_subs == m.n_subs && m2.n_qos2 == m.n_qos2 &&
	    m2.sub_list.len == m.sub_list.len &&
	    m2.client_id.len == m.client_id.len);
	free(buf);
	free(ids);
	free(subs);
}

static void
fuzz_session_end(const uint8_t *data, size_t size)
{
	struct proto_session_end m, m2;
	uint8_t *buf;
	size_t len;

	if (proto_session_end_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	len = proto_session_end_len(&m);
	buf = fuzz_alloc(len);
	fuzz_same(buf, proto_session_end_encode(&m, buf), data, size);
	FUZZ_CHECK(proto_session_end_decode(buf, len, &m2) == 0 &&
	    m2.claim_id == m.claim_id);
	fuzz_same(m2.client_id.p, m2.client_id.len, m.client_id.p,
	    m.client_id.len);
	free(buf);
}

static void
fuzz_seen(const uint8_t *data, size_t size)
{
	struct proto_seen m, m2;
	uint64_t *mixes;
	uint8_t *buf;
	size_t len;
	uint32_t i;

	if (proto_seen_decode(data, size, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	FUZZ_CHECK(m.client_id.len > 0);
	mixes = fuzz_alloc((m.n + 1) * sizeof *mixes);
	for (i = 0; i < m.n; i++)
		mixes[i] = proto_seen_mix(&m, i);
	m.mixes = mixes;
	len = proto_seen_len(&m);
	FUZZ_CHECK(len == size);
	buf = fuzz_alloc(len);
	fuzz_same(buf, proto_seen_encode(&m, buf), data, size);
	FUZZ_CHECK(proto_seen_decode(buf, len, &m2) == 0 &&
	    m2.claim_id == m.claim_id && m2.n == m.n);
	free(buf);
	free(mixes);
}

static void
fuzz_id(const uint8_t *data, size_t size)
{
	struct proto_id m, m2;
	uint8_t buf[PROTO_ID_LEN_MAX];
	uint64_t prev = 0;
	size_t i, len;

	if (size < 8)
		return;
	for (i = 0; i < 8; i++)
		prev = prev << 8 | data[i];
	if (proto_id_decode(data + 8, size - 8, prev, &m) != 0) {
		FUZZ_CHECK(fuzz_zero(&m, sizeof m));
		return;
	}
	FUZZ_CHECK(size - 8 >= 2 && size - 8 <= PROTO_ID_LEN_MAX);
	len = proto_id_len(prev, &m);
	FUZZ_CHECK(len == size - 8);
	fuzz_same(buf, proto_id_encode(prev, &m, buf), data + 8, size - 8);
	FUZZ_CHECK(proto_id_decode(buf, len, prev, &m2) == 0 &&
	    m2.seq == m.seq && m2.origin == m.origin);
}

/* Fuzz entry point: the input as each message. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_routes(data, size);
	fuzz_ack(data, size);
	fuzz_claim(data, size);
	fuzz_claimed(data, size);
	fuzz_session(data, size);
	fuzz_session_end(data, size);
	fuzz_seen(data, size);
	fuzz_id(data, size);
	return 0;
}
