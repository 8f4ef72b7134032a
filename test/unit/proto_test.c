/*
 * proto_test.c - unit tests for the cluster's message formats
 * (bridge/proto.c; layouts in bridge/proto.h).
 *
 * What is covered, and how:
 * - the bytes: each message encoded from known values is compared with
 *   bytes written here by hand, field by field from the proto.h tables,
 *   so a change to the wire is a failing test, not a silent
 *   incompatibility between node versions;
 * - round trips (encode, decode, compare every field, walk every
 *   repeated part) for every message, with empty and maximal counts (no
 *   subscription; 65535 QoS 2 ids), filters of 65535 bytes, client ids
 *   of 100000 bytes, and a full-table part as route.c cuts them;
 * - truncation: each valid message is decoded at every length below its
 *   own (at a chosen set of lengths, boundaries included, above 16 KiB).
 *   Where the last field runs to the end (routes records, client ids) a
 *   cut inside it is a valid, shorter message, and the test says exactly
 *   which cuts decode and to what; every other cut must be refused;
 * - trailing bytes (refused by ack; part of the records or the client id
 *   elsewhere; ignored past the flags of claimed);
 *   counts larger than the bytes; unknown routes ops; encoder refusals;
 * - the identity of a forwarded message (version 2): values worked out
 *   by hand, round trips of random and of realistic sequences (and that
 *   the realistic ones take 2 or 3 digits), one form per identity, and
 *   every rule of the decoder broken once;
 * - every decode, and every walk of what it decoded, runs on bytes that
 *   end right before a PROT_NONE page (as codec_test.c), so a read past
 *   len crashes the test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bridge.h"
#include "proto.h"
#include "tap.h"

#define ARRLEN(a) (sizeof (a) / sizeof (a)[0])
#define STR(lit) ((struct proto_str){ (const uint8_t *)(lit), sizeof (lit) - 1 })

/* --- the guard page --- */

#define GUARD_SPAN (1024 * 1024)

static uint8_t *guard_base;
static size_t guard_page;

static void
guard_init(void)
{
	uint8_t *m;

	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	m = mmap(NULL, GUARD_SPAN + guard_page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	if (mprotect(m + GUARD_SPAN, guard_page, PROT_NONE) != 0) {
		perror("mprotect");
		exit(99);
	}
	guard_base = m;
}

/* Copy data so that its last byte sits just before the PROT_NONE page.
 * The copy is valid until the next call. */
static const uint8_t *
guard_place(const uint8_t *data, size_t len)
{
	uint8_t *p;

	if (len > GUARD_SPAN) {
		diag("guard_place: %zu bytes is too large", len);
		exit(99);
	}
	p = guard_base + GUARD_SPAN - len;
	if (len != 0)
		memmove(p, data, len);
	return p;
}

/* --- a byte builder, written apart from proto.c --- */

struct bb {
	uint8_t *b;
	size_t n, cap;
};

static void
bb_bytes(struct bb *bb, const void *src, size_t len)
{
	if (bb->n + len > bb->cap) {
		bb->cap = (bb->n + len) * 2 + 64;
		if ((bb->b = realloc(bb->b, bb->cap)) == NULL) {
			perror("realloc");
			exit(99);
		}
	}
	if (len != 0)
		memcpy(bb->b + bb->n, src, len);
	bb->n += len;
}

static void
bb_u8(struct bb *bb, unsigned v)
{
	uint8_t b = (uint8_t)v;

	bb_bytes(bb, &b, 1);
}

static void
bb_be(struct bb *bb, uint64_t v, int size)
{
	int i;

	for (i = size - 1; i >= 0; i--)
		bb_u8(bb, (unsigned)(v >> (8 * i)) & 0xff);
}

static void
bb_free(struct bb *bb)
{
	free(bb->b);
	memset(bb, 0, sizeof *bb);
}

/* Deterministic filler: printable filter bytes, any client id bytes. */
static uint8_t *
fill(size_t len, unsigned seed, int printable)
{
	uint8_t *p = malloc(len != 0 ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	if (p == NULL) {
		perror("malloc");
		exit(99);
	}
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = printable ? (uint8_t)('a' + x % 26) : (uint8_t)x;
	}
	return p;
}

static int
str_eq(struct proto_str a, const uint8_t *p, size_t len)
{
	return a.len == len && (len == 0 || memcmp(a.p, p, len) == 0);
}

/* Encode with a canary after the _len bytes: returns the buffer. */
#define CANARY 0x5a
static uint8_t *
canary_buf(size_t len)
{
	uint8_t *b = malloc(len + 16);

	if (b == NULL) {
		perror("malloc");
		exit(99);
	}
	memset(b, CANARY, len + 16);
	return b;
}

static int
canary_ok(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = len; i < len + 16; i++) {
		if (b[i] != CANARY)
			return 0;
	}
	return 1;
}

/* Cut points to try for a message of len bytes: all below 16 KiB, else
 * the first and last 300, the given boundaries +-3, every 251st. */
static int
cut_wanted(size_t k, size_t len, const size_t *bounds, size_t n_bounds)
{
	size_t i;

	if (len <= 16384 || k < 300 || len - k <= 300 || k % 251 == 0)
		return 1;
	for (i = 0; i < n_bounds; i++) {
		if (k + 3 >= bounds[i] && k <= bounds[i] + 3)
			return 1;
	}
	return 0;
}

/* --- the version --- */

static void
test_version(void)
{
	char v[8];

	snprintf(v, sizeof v, "%d", PROTO_VERSION);
	ok(strcmp(v, BRIDGE_PROTO) == 0,
	    "PROTO_VERSION %d is what links announce (BRIDGE_PROTO \"%s\")",
	    PROTO_VERSION, BRIDGE_PROTO);
}

/* --- the bytes --- */

static void
check_bytes(const char *what, const uint8_t *got, size_t got_len,
    const uint8_t *want, size_t want_len)
{
	size_t i;

	if (!ok(got_len == want_len && memcmp(got, want, want_len) == 0,
	    "%s: bytes on the wire", what)) {
		diag("got %zu bytes, want %zu", got_len, want_len);
		for (i = 0; i < got_len && i < want_len; i++) {
			if (got[i] != want[i]) {
				diag("first difference at offset %zu: "
				    "%02x, want %02x", i, got[i], want[i]);
				break;
			}
		}
	}
}

static void
test_golden(void)
{
	static const uint8_t routes[] = {
		0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x00, 0x03, 'a', '/', '#',
		0x02, 0x00, 0x01, '+',
	};
	static const uint8_t ack[] = {
		0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
	};
	static const uint8_t claim[] = {
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01, 0x01, 'c', '1',
	};
	static const uint8_t claimed[] = {
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01, 0x02, 0x02,
	};
	static const uint8_t session[] = {
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01,	/* claim */
		0x00, 0x00, 0x0e, 0x10,				/* expiry */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05,	/* next */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,	/* sent */
		0x00, 0x00, 0x00, 0x02,				/* subs */
		0x2a, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x03, 'a', '/', 'b',
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, '#',
		0x00, 0x00, 0x00, 0x02,				/* ids */
		0x00, 0x07, 0xff, 0xff,
		'c', 'l', 'i',
	};
	static const uint8_t session_end[] = {
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01, 'c', 'l', 'i',
	};
	struct proto_routes rh = { 0x03, 0x0102030405060708ull, { NULL, 0 } };
	struct proto_route r1 = { PROTO_ROUTE_ADD, STR("a/#") };
	struct proto_route r2 = { PROTO_ROUTE_DEL, STR("+") };
	struct proto_ack a = { 0xffeeddccbbaa9988ull };
	struct proto_claim c = { 0x0000018bcfe56801ull, PROTO_CLAIM_CLEAN,
	    STR("c1"), { NULL, 0 } };
	struct proto_claimed cd = { 0x0000018bcfe56801ull,
	    PROTO_CLAIMED_WAIT, PROTO_CLAIM_MERGE };
	struct proto_sub subs[2] = {
		{ 0x2a, 300, STR("a/b") }, { 0x01, 0, STR("#") },
	};
	uint16_t ids[2] = { 7, 65535 };
	struct proto_session s;
	struct proto_session_end se = { 0x0000018bcfe56801ull, STR("cli") };
	uint8_t buf[128];
	size_t n;

	n = proto_routes_head_encode(&rh, buf);
	n += proto_route_encode(&r1, buf + n);
	n += proto_route_encode(&r2, buf + n);
	check_bytes("$cluster/routes", buf, n, routes, sizeof routes);
	is_int(proto_route_len(&r1) + proto_route_len(&r2) +
	    PROTO_ROUTES_HEAD_LEN, sizeof routes, "routes: lengths add up");
	n = proto_ack_encode(&a, buf);
	check_bytes("$cluster/ack", buf, n, ack, sizeof ack);
	n = proto_claim_encode(&c, buf);
	check_bytes("$cluster/claim", buf, n, claim, sizeof claim);
	n = proto_claimed_encode(&cd, buf);
	check_bytes("$cluster/claimed", buf, n, claimed, sizeof claimed);
	memset(&s, 0, sizeof s);
	s.claim_id = 0x0000018bcfe56801ull;
	s.expiry = 3600;
	s.next_seq = 0x100005;
	s.sent_max = 3;
	s.n_subs = 2;
	s.subs = subs;
	s.n_qos2 = 2;
	s.qos2 = ids;
	s.client_id = STR("cli");
	is_int(proto_session_len(&s), sizeof session, "session: length");
	n = proto_session_encode(&s, buf);
	check_bytes("$cluster/session", buf, n, session, sizeof session);
	n = proto_session_end_encode(&se, buf);
	check_bytes("$cluster/session-end", buf, n, session_end,
	    sizeof session_end);
}

/* --- $cluster/routes --- */

struct routes_case {
	const char *name;
	uint8_t flags;
	uint64_t version;
	size_t n;
	struct proto_route *r;
};

/* The records of m, walked; 1 when they are want[0..n). */
static int
routes_match(const struct proto_routes *m, const struct proto_route *want,
    size_t n)
{
	struct proto_iter it;
	struct proto_route r;
	size_t i = 0;
	int rc;

	proto_routes_iter(m, &it);
	while ((rc = proto_routes_next(&it, &r)) == 1) {
		if (i >= n || r.op != want[i].op ||
		    !str_eq(r.filter, want[i].filter.p, want[i].filter.len))
			return 0;
		i++;
	}
	return rc == 0 && i == n && proto_routes_next(&it, &r) == 0;
}

static void
routes_case(const struct routes_case *tc)
{
	struct proto_routes h = { tc->flags, tc->version, { NULL, 0 } };
	struct proto_routes m;
	struct bb want = { NULL, 0, 0 };
	size_t *bounds, len, i, k, n_ok, n_bad, records;
	uint8_t *buf;
	const uint8_t *p;
	int rc, good = 1;

	bounds = malloc((tc->n + 1) * sizeof *bounds);
	bb_u8(&want, tc->flags);
	bb_be(&want, tc->version, 8);
	bounds[0] = want.n;
	for (i = 0; i < tc->n; i++) {
		bb_u8(&want, tc->r[i].op);
		bb_be(&want, tc->r[i].filter.len, 2);
		bb_bytes(&want, tc->r[i].filter.p, tc->r[i].filter.len);
		bounds[i + 1] = want.n;
	}
	len = PROTO_ROUTES_HEAD_LEN;
	for (i = 0; i < tc->n; i++)
		len += proto_route_len(&tc->r[i]);
	buf = canary_buf(len);
	k = proto_routes_head_encode(&h, buf);
	for (i = 0; i < tc->n; i++)
		k += proto_route_encode(&tc->r[i], buf + k);
	ok(k == len && canary_ok(buf, len) && len == want.n &&
	    memcmp(buf, want.b, len) == 0,
	    "routes %s: encodes to the layout (%zu bytes)", tc->name, len);

	p = guard_place(buf, len);
	rc = proto_routes_decode(p, len, &m);
	ok(rc == 0 && m.flags == tc->flags && m.version == tc->version &&
	    routes_match(&m, tc->r, tc->n),
	    "routes %s: decodes to what was encoded", tc->name);

	/* A cut at a record boundary is the same message with fewer
	 * records; any other cut is refused. */
	n_ok = n_bad = 0;
	for (k = 0, records = 0; k < len; k++) {
		while (records < tc->n && bounds[records + 1] <= k)
			records++;
		if (!cut_wanted(k, len, bounds, tc->n + 1))
			continue;
		p = guard_place(buf, k);
		memset(&m, 0xa5, sizeof m);
		rc = proto_routes_decode(p, k, &m);
		if (k >= PROTO_ROUTES_HEAD_LEN && k == bounds[records]) {
			n_ok++;
			if (rc != 0 || !routes_match(&m, tc->r, records)) {
				diag("cut at %zu: rc %d", k, rc);
				good = 0;
			}
		} else {
			n_bad++;
			if (rc != -1 || m.records.p != NULL || m.version != 0) {
				diag("cut at %zu decodes (rc %d)", k, rc);
				good = 0;
			}
		}
	}
	ok(good, "routes %s: of the cuts, %zu at record boundaries decode to "
	    "the records before, %zu others are refused", tc->name, n_ok,
	    n_bad);

	/* Trailing bytes: a partial record. */
	good = 1;
	for (k = 1; k <= 3; k++) {
		bb_u8(&want, PROTO_ROUTE_ADD);
		p = guard_place(want.b, want.n);
		if (proto_routes_decode(p, want.n, &m) != -1)
			good = 0;
	}
	ok(good, "routes %s: 1 to 3 trailing bytes are refused (a record cut "
	    "short)", tc->name);
	free(buf);
	free(bounds);
	bb_free(&want);
}

static void
test_routes(void)
{
	struct proto_route small[] = {
		{ PROTO_ROUTE_ADD, STR("a/b") },
		{ PROTO_ROUTE_DEL, STR("$share/g/x/+") },
		{ PROTO_ROUTE_ADD, STR("#") },
		{ PROTO_ROUTE_ADD, { NULL, 0 } }, /* layout only: empty */
	};
	struct proto_route big[2], *chunk;
	struct routes_case tc;
	uint8_t *f1, *f2;
	size_t i, n, total;

	tc.name = "empty increment";
	tc.flags = 0;
	tc.version = 0;
	tc.n = 0;
	tc.r = NULL;
	routes_case(&tc);
	tc.name = "empty full table";
	tc.flags = PROTO_ROUTES_FIRST | PROTO_ROUTES_LAST;
	tc.version = UINT64_MAX;
	routes_case(&tc);
	tc.name = "add, remove, empty filter";
	tc.flags = 0xfc; /* unknown bits are kept as they are */
	tc.version = 42;
	tc.n = ARRLEN(small);
	tc.r = small;
	routes_case(&tc);

	f1 = fill(PROTO_FILTER_MAX, 1, 1);
	f2 = fill(PROTO_FILTER_MAX, 2, 1);
	big[0].op = PROTO_ROUTE_ADD;
	big[0].filter.p = f1;
	big[0].filter.len = PROTO_FILTER_MAX;
	big[1].op = PROTO_ROUTE_DEL;
	big[1].filter.p = f2;
	big[1].filter.len = PROTO_FILTER_MAX;
	tc.name = "two filters of 65535 bytes";
	tc.flags = PROTO_ROUTES_LAST;
	tc.version = 7;
	tc.n = 2;
	tc.r = big;
	routes_case(&tc);

	/* A full-table part as route.c cuts them: records up to 60 KiB
	 * and then one more. */
	chunk = malloc(20000 * sizeof *chunk);
	for (i = 0, n = 0, total = 0; total <= 60 * 1024; i++, n++) {
		chunk[n].op = PROTO_ROUTE_ADD;
		chunk[n].filter.p = f1 + (i * 7) % 1000;
		chunk[n].filter.len = 1 + i % 40;
		total += PROTO_ROUTE_HEAD_LEN + chunk[n].filter.len;
	}
	tc.name = "a 60 KiB part";
	tc.flags = PROTO_ROUTES_FIRST;
	tc.version = 1000;
	tc.n = n;
	tc.r = chunk;
	routes_case(&tc);
	free(chunk);
	free(f1);
	free(f2);
}

static void
test_routes_bad(void)
{
	static const struct {
		const char *name;
		uint8_t b[24];
		size_t len;
	} cases[] = {
		{ "op 0", { 0, 0,0,0,0,0,0,0,1, 0, 0,1, 'a' }, 13 },
		{ "op 3", { 0, 0,0,0,0,0,0,0,1, 3, 0,1, 'a' }, 13 },
		{ "op 0xff", { 0, 0,0,0,0,0,0,0,1, 0xff, 0,0 }, 12 },
		{ "a bad op after a good record",
		    { 0, 0,0,0,0,0,0,0,1, 1, 0,1, 'a', 2, 0,1, 'b', 4, 0,0 },
		    20 },
		{ "filter length one past the end",
		    { 0, 0,0,0,0,0,0,0,1, 1, 0,3, 'a', 'b' }, 14 },
		{ "filter length 65535 with 2 bytes",
		    { 0, 0,0,0,0,0,0,0,1, 1, 0xff,0xff, 'a', 'b' }, 14 },
		{ "record head cut", { 0, 0,0,0,0,0,0,0,1, 1, 0 }, 11 },
		{ "header cut", { 0, 0,0,0,0,0,0,0 }, 8 },
		{ "nothing", { 0 }, 0 },
	};
	struct proto_routes m;
	struct proto_route r;
	struct proto_iter it;
	const uint8_t *p;
	size_t i;

	for (i = 0; i < ARRLEN(cases); i++) {
		p = guard_place(cases[i].b, cases[i].len);
		memset(&m, 0xa5, sizeof m);
		is_int(proto_routes_decode(p, cases[i].len, &m), -1,
		    "routes: %s is refused", cases[i].name);
		ok(m.flags == 0 && m.version == 0 && m.records.p == NULL &&
		    m.records.len == 0, "routes: %s: *out is zeroed",
		    cases[i].name);
	}

	/* The iterator checks as it goes, on a view nobody checked. */
	p = guard_place(cases[3].b + 9, 11);
	it.p = p;
	it.end = p + 11;
	is_int(proto_routes_next(&it, &r), 1, "routes iterator: first record");
	is_int(proto_routes_next(&it, &r), 1, "routes iterator: second");
	is_int(proto_routes_next(&it, &r), -1,
	    "routes iterator: a bad op is -1");
	is_int(proto_routes_next(&it, &r), -1, "routes iterator: and again");
	p = guard_place(cases[4].b + 9, 5);
	it.p = p;
	it.end = p + 5;
	is_int(proto_routes_next(&it, &r), -1,
	    "routes iterator: a filter past the end is -1");
	it.p = it.end = NULL;
	is_int(proto_routes_next(&it, &r), 0, "routes iterator: empty view");

	r.op = 3;
	r.filter = STR("a");
	is_int(proto_route_len(&r), 0, "routes: op 3 cannot be encoded");
	r.op = 0;
	is_int(proto_route_len(&r), 0, "routes: op 0 cannot be encoded");
	r.op = PROTO_ROUTE_ADD;
	r.filter.p = (const uint8_t *)"";
	r.filter.len = PROTO_FILTER_MAX + 1;
	is_int(proto_route_len(&r), 0,
	    "routes: a filter of 65536 bytes cannot be encoded");
	r.filter.len = PROTO_FILTER_MAX;
	is_int(proto_route_len(&r), 3 + PROTO_FILTER_MAX,
	    "routes: a filter of 65535 bytes can");
}

/* --- $cluster/ack --- */

static void
test_ack(void)
{
	static const uint64_t versions[] = { 0, 1, 0x0102030405060708ull,
	    UINT64_MAX };
	struct proto_ack a, m;
	uint8_t buf[PROTO_ACK_LEN + 16], more[PROTO_ACK_LEN + 2];
	const uint8_t *p;
	size_t i, k, n;
	int good;

	for (i = 0; i < ARRLEN(versions); i++) {
		a.version = versions[i];
		memset(buf, CANARY, sizeof buf);
		is_int(proto_ack_len(&a), PROTO_ACK_LEN, "ack: length");
		n = proto_ack_encode(&a, buf);
		p = guard_place(buf, n);
		ok(n == PROTO_ACK_LEN && canary_ok(buf, n) &&
		    proto_ack_decode(p, n, &m) == 0 &&
		    m.version == versions[i],
		    "ack %llu: round trip", (unsigned long long)versions[i]);
		good = 1;
		for (k = 0; k < n; k++) {
			memset(&m, 0xa5, sizeof m);
			if (proto_ack_decode(guard_place(buf, k), k, &m) !=
			    -1 || m.version != 0)
				good = 0;
		}
		ok(good, "ack %llu: every cut is refused",
		    (unsigned long long)versions[i]);
		memcpy(more, buf, n);
		more[n] = 0;
		more[n + 1] = 0;
		ok(proto_ack_decode(guard_place(more, n + 1), n + 1, &m) ==
		    -1 && proto_ack_decode(guard_place(more, n + 2), n + 2,
		    &m) == -1, "ack %llu: trailing bytes are refused",
		    (unsigned long long)versions[i]);
	}
}

/* --- $cluster/claim and $cluster/session-end: an id, then a client id
 * to the end --- */

static void
test_claim_one(uint64_t id, uint8_t flags, const uint8_t *cid, size_t cl)
{
	struct proto_claim c = { id, flags, { cid, cl }, { NULL, 0 } }, m;
	struct bb want = { NULL, 0, 0 };
	size_t len, n, k, n_ok = 0, n_bad = 0;
	size_t bounds[1] = { PROTO_CLAIM_HEAD_LEN };
	uint8_t *buf;
	const uint8_t *p;
	int good = 1;

	bb_be(&want, id, 8);
	bb_u8(&want, flags);
	bb_bytes(&want, cid, cl);
	len = proto_claim_len(&c);
	buf = canary_buf(len);
	n = proto_claim_encode(&c, buf);
	ok(n == len && len == want.n && canary_ok(buf, len) &&
	    memcmp(buf, want.b, len) == 0,
	    "claim (flags %#x, id of %zu bytes): encodes to the layout",
	    flags, cl);
	p = guard_place(buf, len);
	ok(proto_claim_decode(p, len, &m) == 0 && m.claim_id == id &&
	    m.flags == flags && str_eq(m.client_id, cid, cl),
	    "claim (flags %#x, id of %zu bytes): round trip", flags, cl);
	for (k = 0; k < len; k++) {
		if (!cut_wanted(k, len, bounds, 1))
			continue;
		p = guard_place(buf, k);
		memset(&m, 0xa5, sizeof m);
		if (k < PROTO_CLAIM_HEAD_LEN) {
			n_bad++;
			if (proto_claim_decode(p, k, &m) != -1 ||
			    m.claim_id != 0 || m.client_id.p != NULL)
				good = 0;
		} else {
			n_ok++;
			if (proto_claim_decode(p, k, &m) != 0 ||
			    m.claim_id != id || m.flags != flags ||
			    !str_eq(m.client_id, cid, k - PROTO_CLAIM_HEAD_LEN))
				good = 0;
		}
	}
	ok(good, "claim (id of %zu bytes): %zu cuts in the head are refused, "
	    "%zu in the client id decode to a shorter id", cl, n_bad, n_ok);
	free(buf);
	bb_free(&want);
}

/* The same with PROTO_CLAIM_USER: the user's length and name come
 * between the flags and the client id, and a cut in them is refused. */
static void
test_claim_user(uint64_t id, uint8_t flags, const uint8_t *user, size_t ul,
    const uint8_t *cid, size_t cl)
{
	struct proto_claim c = { id, flags, { cid, cl }, { user, ul } }, m;
	struct bb want = { NULL, 0, 0 };
	size_t len, n, k, head = PROTO_CLAIM_HEAD_LEN + 2 + ul;
	size_t n_ok = 0, n_bad = 0, bounds[2] = { PROTO_CLAIM_HEAD_LEN, 0 };
	uint8_t *buf;
	const uint8_t *p;
	int good = 1;

	bounds[1] = head;
	bb_be(&want, id, 8);
	bb_u8(&want, flags);
	bb_be(&want, ul, 2);
	bb_bytes(&want, user, ul);
	bb_bytes(&want, cid, cl);
	len = proto_claim_len(&c);
	buf = canary_buf(len);
	n = proto_claim_encode(&c, buf);
	ok(n == len && len == want.n && canary_ok(buf, len) &&
	    memcmp(buf, want.b, len) == 0,
	    "claim with a user of %zu bytes: encodes to the layout", ul);
	p = guard_place(buf, len);
	ok(proto_claim_decode(p, len, &m) == 0 && m.claim_id == id &&
	    m.flags == flags && str_eq(m.user, user, ul) &&
	    str_eq(m.client_id, cid, cl),
	    "claim with a user of %zu bytes: round trip", ul);
	for (k = 0; k < len; k++) {
		if (!cut_wanted(k, len, bounds, 2))
			continue;
		p = guard_place(buf, k);
		memset(&m, 0xa5, sizeof m);
		if (k < head) {
			n_bad++;
			if (proto_claim_decode(p, k, &m) != -1 ||
			    m.claim_id != 0 || m.user.p != NULL ||
			    m.client_id.p != NULL)
				good = 0;
		} else {
			n_ok++;
			if (proto_claim_decode(p, k, &m) != 0 ||
			    m.claim_id != id || !str_eq(m.user, user, ul) ||
			    !str_eq(m.client_id, cid, k - head))
				good = 0;
		}
	}
	ok(good, "claim with a user of %zu bytes: %zu cuts before the client "
	    "id are refused, %zu in it decode to a shorter id", ul, n_bad,
	    n_ok);
	free(buf);
	bb_free(&want);
}

static void
test_session_end_one(uint64_t id, const uint8_t *cid, size_t cl)
{
	struct proto_session_end e = { id, { cid, cl } }, m;
	struct bb want = { NULL, 0, 0 };
	size_t len, n, k, n_ok = 0, n_bad = 0;
	size_t bounds[1] = { PROTO_SESSION_END_HEAD_LEN };
	uint8_t *buf;
	const uint8_t *p;
	int good = 1;

	bb_be(&want, id, 8);
	bb_bytes(&want, cid, cl);
	len = proto_session_end_len(&e);
	buf = canary_buf(len);
	n = proto_session_end_encode(&e, buf);
	ok(n == len && len == want.n && canary_ok(buf, len) &&
	    memcmp(buf, want.b, len) == 0,
	    "session-end (id of %zu bytes): encodes to the layout", cl);
	p = guard_place(buf, len);
	ok(proto_session_end_decode(p, len, &m) == 0 && m.claim_id == id &&
	    str_eq(m.client_id, cid, cl),
	    "session-end (id of %zu bytes): round trip", cl);
	for (k = 0; k < len; k++) {
		if (!cut_wanted(k, len, bounds, 1))
			continue;
		p = guard_place(buf, k);
		memset(&m, 0xa5, sizeof m);
		if (k < PROTO_SESSION_END_HEAD_LEN) {
			n_bad++;
			if (proto_session_end_decode(p, k, &m) != -1 ||
			    m.claim_id != 0 || m.client_id.p != NULL)
				good = 0;
		} else {
			n_ok++;
			if (proto_session_end_decode(p, k, &m) != 0 ||
			    m.claim_id != id || !str_eq(m.client_id, cid,
			    k - PROTO_SESSION_END_HEAD_LEN))
				good = 0;
		}
	}
	ok(good, "session-end (id of %zu bytes): %zu cuts in the head are "
	    "refused, %zu in the client id decode to a shorter id", cl,
	    n_bad, n_ok);
	free(buf);
	bb_free(&want);
}

static void
test_claims(void)
{
	uint8_t *longid = fill(100000, 3, 0);

	test_claim_one(0, 0, NULL, 0);
	test_claim_one(1, PROTO_CLAIM_CLEAN, (const uint8_t *)"c1", 2);
	test_claim_one(UINT64_MAX, 0xff & ~PROTO_CLAIM_USER,
	    (const uint8_t *)"a\0b", 3);
	test_claim_user(7, PROTO_CLAIM_USER, (const uint8_t *)"alice", 5,
	    (const uint8_t *)"alice-phone", 11);
	test_claim_user(8, 0xff, NULL, 0, (const uint8_t *)"c", 1);
	test_claim_user(9, PROTO_CLAIM_USER | PROTO_CLAIM_CLEAN, longid,
	    65535, NULL, 0);
	test_claim_one(0x0000018bcfe56801ull, 0, longid, 100000);
	test_session_end_one(0, NULL, 0);
	test_session_end_one(5, (const uint8_t *)"client", 6);
	test_session_end_one(UINT64_MAX, longid, 100000);
	free(longid);
}

/* --- $cluster/claimed --- */

static void
test_claimed(void)
{
	static const uint8_t answers[] = { PROTO_CLAIMED_GIVEN_UP,
	    PROTO_CLAIMED_REFUSED, PROTO_CLAIMED_WAIT, 0xff };
	struct proto_claimed c, m;
	uint8_t buf[PROTO_CLAIMED_LEN + 16], more[PROTO_CLAIMED_LEN + 4];
	const uint8_t *p;
	size_t i, k, n;
	int good;

	for (i = 0; i < ARRLEN(answers); i++) {
		c.claim_id = 0x1122334455667788ull + i;
		c.answer = answers[i];
		c.flags = i % 2 ? PROTO_CLAIM_MERGE : 0;
		memset(buf, CANARY, sizeof buf);
		is_int(proto_claimed_len(&c), PROTO_CLAIMED_LEN,
		    "claimed: length");
		n = proto_claimed_encode(&c, buf);
		p = guard_place(buf, n);
		ok(n == PROTO_CLAIMED_LEN && canary_ok(buf, n) &&
		    buf[8] == answers[i] && buf[9] == c.flags &&
		    proto_claimed_decode(p, n, &m) == 0 &&
		    m.claim_id == c.claim_id && m.answer == answers[i] &&
		    m.flags == c.flags,
		    "claimed answer %u: round trip", answers[i]);
		good = 1;
		for (k = 0; k < PROTO_CLAIMED_MIN_LEN; k++) {
			memset(&m, 0xa5, sizeof m);
			if (proto_claimed_decode(guard_place(buf, k), k, &m) !=
			    -1 || m.claim_id != 0 || m.answer != 0)
				good = 0;
		}
		ok(good, "claimed answer %u: every cut of the claim id is "
		    "refused", answers[i]);
		ok(proto_claimed_decode(guard_place(buf, 8), 8, &m) == 0 &&
		    m.claim_id == c.claim_id &&
		    m.answer == PROTO_CLAIMED_GIVEN_UP && m.flags == 0,
		    "claimed: without the answer byte, given up (as version "
		    "1 reads it)");
		ok(proto_claimed_decode(guard_place(buf, 9), 9, &m) == 0 &&
		    m.claim_id == c.claim_id && m.answer == answers[i] &&
		    m.flags == 0,
		    "claimed answer %u: without the flags byte (version 1 "
		    "sent 9 bytes), flags 0", answers[i]);
		memcpy(more, buf, n);
		memset(more + n, PROTO_CLAIMED_WAIT, sizeof more - n);
		good = 1;
		for (k = n + 1; k <= sizeof more; k++) {
			if (proto_claimed_decode(guard_place(more, k), k,
			    &m) != 0 || m.claim_id != c.claim_id ||
			    m.answer != answers[i] || m.flags != c.flags)
				good = 0;
		}
		ok(good, "claimed answer %u: bytes after the flags are "
		    "ignored", answers[i]);
	}
}

/* --- $cluster/session --- */

struct session_case {
	const char *name;
	struct proto_session s;
};

/* The layout of s, built here; bounds gets the offsets of the parts. */
static void
session_bytes(const struct proto_session *s, struct bb *bb, size_t *bounds,
    size_t *n_bounds)
{
	uint32_t i;

	*n_bounds = 0;
	bb_be(bb, s->claim_id, 8);
	bb_be(bb, s->expiry, 4);
	bb_be(bb, s->next_seq, 8);
	bb_be(bb, s->sent_max, 8);
	bb_be(bb, s->n_subs, 4);
	for (i = 0; i < s->n_subs; i++) {
		bounds[(*n_bounds)++] = bb->n;
		bb_u8(bb, s->subs[i].options);
		bb_be(bb, s->subs[i].sub_id, 4);
		bb_be(bb, s->subs[i].filter.len, 2);
		bb_bytes(bb, s->subs[i].filter.p, s->subs[i].filter.len);
	}
	bounds[(*n_bounds)++] = bb->n;
	bb_be(bb, s->n_qos2, 4);
	for (i = 0; i < s->n_qos2; i++)
		bb_be(bb, s->qos2[i], 2);
	bounds[(*n_bounds)++] = bb->n;
	bb_bytes(bb, s->client_id.p, s->client_id.len);
}

/* m, decoded, holds what s was encoded from (client id cut to idl). */
static int
session_match(const struct proto_session *m, const struct proto_session *s,
    size_t idl)
{
	struct proto_iter it;
	struct proto_sub sub;
	uint16_t id;
	uint32_t i;
	int rc;

	if (m->claim_id != s->claim_id || m->expiry != s->expiry ||
	    m->next_seq != s->next_seq || m->sent_max != s->sent_max ||
	    m->n_subs != s->n_subs || m->n_qos2 != s->n_qos2 ||
	    m->subs != NULL || m->qos2 != NULL ||
	    !str_eq(m->client_id, s->client_id.p, idl))
		return 0;
	proto_session_subs(m, &it);
	for (i = 0; (rc = proto_session_sub_next(&it, &sub)) == 1; i++) {
		if (i >= s->n_subs || sub.options != s->subs[i].options ||
		    sub.sub_id != s->subs[i].sub_id ||
		    !str_eq(sub.filter, s->subs[i].filter.p,
		    s->subs[i].filter.len))
			return 0;
	}
	if (rc != 0 || i != s->n_subs)
		return 0;
	proto_session_qos2(m, &it);
	for (i = 0; (rc = proto_session_qos2_next(&it, &id)) == 1; i++) {
		if (i >= s->n_qos2 || id != s->qos2[i])
			return 0;
	}
	return rc == 0 && i == s->n_qos2;
}

static void
session_case(const struct session_case *tc)
{
	const struct proto_session *s = &tc->s;
	struct proto_session m;
	struct bb want = { NULL, 0, 0 };
	size_t *bounds, n_bounds, len, n, k, id_at, n_ok = 0, n_bad = 0;
	uint8_t *buf;
	const uint8_t *p;
	int good = 1;

	bounds = malloc((s->n_subs + 2) * sizeof *bounds);
	session_bytes(s, &want, bounds, &n_bounds);
	id_at = bounds[n_bounds - 1];
	len = proto_session_len(s);
	buf = canary_buf(len);
	n = proto_session_encode(s, buf);
	ok(n == len && len == want.n && canary_ok(buf, len) &&
	    memcmp(buf, want.b, len) == 0,
	    "session %s: encodes to the layout (%zu bytes)", tc->name, len);
	p = guard_place(buf, len);
	ok(proto_session_decode(p, len, &m) == 0 &&
	    session_match(&m, s, s->client_id.len),
	    "session %s: decodes to what was encoded", tc->name);
	for (k = 0; k < len; k++) {
		if (!cut_wanted(k, len, bounds, n_bounds))
			continue;
		p = guard_place(buf, k);
		memset(&m, 0xa5, sizeof m);
		if (k <= id_at) {
			n_bad++;
			if (proto_session_decode(p, k, &m) != -1 ||
			    m.claim_id != 0 || m.client_id.p != NULL ||
			    m.sub_list.p != NULL || m.n_subs != 0) {
				diag("cut at %zu decodes", k);
				good = 0;
			}
		} else {
			n_ok++;
			if (proto_session_decode(p, k, &m) != 0 ||
			    !session_match(&m, s, k - id_at)) {
				diag("cut at %zu is refused", k);
				good = 0;
			}
		}
	}
	ok(good, "session %s: %zu cuts up to the client id are refused, %zu "
	    "in it decode to a shorter id", tc->name, n_bad, n_ok);
	free(buf);
	free(bounds);
	bb_free(&want);
}

static void
test_session(void)
{
	struct session_case tc;
	struct proto_sub few[3] = {
		{ 0x00, 0, { (const uint8_t *)"a/b", 3 } },
		{ 0x2e, 268435455, { (const uint8_t *)"$share/g/#", 10 } },
		{ 0xff, UINT32_MAX, { (const uint8_t *)"+/+", 3 } },
	};
	uint16_t few_ids[3] = { 1, 0, 65535 };
	struct proto_sub *many, big[2];
	uint16_t *all_ids;
	uint8_t *f1, *f2, *longid;
	uint32_t i;

	memset(&tc, 0, sizeof tc);
	tc.name = "with nothing, one-byte client id";
	tc.s.client_id.p = (const uint8_t *)"x";
	tc.s.client_id.len = 1;
	session_case(&tc);

	tc.name = "with extremes";
	tc.s.claim_id = UINT64_MAX;
	tc.s.expiry = UINT32_MAX;
	tc.s.next_seq = UINT64_MAX;
	tc.s.sent_max = UINT64_MAX - 1;
	tc.s.n_subs = 3;
	tc.s.subs = few;
	tc.s.n_qos2 = 3;
	tc.s.qos2 = few_ids;
	tc.s.client_id.p = (const uint8_t *)"client-\xc3\xa9";
	tc.s.client_id.len = 9;
	session_case(&tc);

	f1 = fill(PROTO_FILTER_MAX, 4, 1);
	f2 = fill(PROTO_FILTER_MAX, 5, 1);
	big[0].options = 1;
	big[0].sub_id = 1;
	big[0].filter.p = f1;
	big[0].filter.len = PROTO_FILTER_MAX;
	big[1].options = 2;
	big[1].sub_id = 2;
	big[1].filter.p = f2;
	big[1].filter.len = PROTO_FILTER_MAX;
	tc.name = "with two filters of 65535 bytes";
	tc.s.n_subs = 2;
	tc.s.subs = big;
	tc.s.n_qos2 = 0;
	tc.s.qos2 = NULL;
	session_case(&tc);

	all_ids = malloc(65535 * sizeof *all_ids);
	for (i = 0; i < 65535; i++)
		all_ids[i] = (uint16_t)(i + 1);
	many = malloc(3000 * sizeof *many);
	for (i = 0; i < 3000; i++) {
		many[i].options = (uint8_t)i;
		many[i].sub_id = i;
		many[i].filter.p = f1 + i;
		many[i].filter.len = 1 + i % 50;
	}
	longid = fill(100000, 6, 0);
	tc.name = "with 3000 subscriptions, every QoS 2 id, a long client id";
	tc.s.n_subs = 3000;
	tc.s.subs = many;
	tc.s.n_qos2 = 65535;
	tc.s.qos2 = all_ids;
	tc.s.client_id.p = longid;
	tc.s.client_id.len = 100000;
	session_case(&tc);
	free(longid);
	free(many);
	free(all_ids);
	free(f1);
	free(f2);
}

static void
test_session_bad(void)
{
	struct proto_sub sub = { 1, 2, { (const uint8_t *)"a", 1 } };
	uint16_t ids[2] = { 1, 2 };
	struct proto_session s, m;
	struct proto_iter it;
	struct proto_sub got;
	struct bb bb = { NULL, 0, 0 };
	size_t bounds[4], nb;
	uint16_t id;
	const uint8_t *p;

	memset(&s, 0, sizeof s);
	s.n_subs = 1;
	s.subs = &sub;
	s.n_qos2 = 2;
	s.qos2 = ids;
	s.client_id.p = (const uint8_t *)"c";
	s.client_id.len = 1;
	session_bytes(&s, &bb, bounds, &nb);
	p = guard_place(bb.b, bb.n);
	ok(proto_session_decode(p, bb.n, &m) == 0,
	    "session: the base case decodes");

	/* Counts against the bytes. */
#define SET32(off, v) do {						\
	bb.b[(off)] = (uint8_t)((v) >> 24);				\
	bb.b[(off) + 1] = (uint8_t)((v) >> 16);				\
	bb.b[(off) + 2] = (uint8_t)((v) >> 8);				\
	bb.b[(off) + 3] = (uint8_t)(v);					\
} while (0)
	SET32(28, UINT32_MAX);
	memset(&m, 0xa5, sizeof m);
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == -1 &&
	    m.n_subs == 0 && m.client_id.p == NULL,
	    "session: 2^32-1 subscriptions in %zu bytes are refused", bb.n);
	SET32(28, 2);
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == -1,
	    "session: one subscription more than there is is refused");
	SET32(28, 0);
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == -1,
	    "session: one subscription fewer than there is: its first bytes "
	    "read as a QoS 2 count of 2^24, refused");
	SET32(28, 1);
	SET32(bounds[1], 3);
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == -1,
	    "session: QoS 2 ids that leave no byte for the client id are "
	    "refused");
	SET32(bounds[1], UINT32_MAX);
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == -1,
	    "session: 2^32-1 QoS 2 ids are refused");
	SET32(bounds[1], 2);
	bb.b[bounds[0] + 6] = 200;
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == -1,
	    "session: a filter length past the end is refused");
	bb.b[bounds[0] + 6] = 1;
	ok(proto_session_decode(guard_place(bb.b, bb.n - 1), bb.n - 1, &m) ==
	    -1, "session: an empty client id is refused");
	bb_u8(&bb, 'x');
	ok(proto_session_decode(guard_place(bb.b, bb.n), bb.n, &m) == 0 &&
	    m.client_id.len == 2,
	    "session: trailing bytes are part of the client id");
#undef SET32

	/* Iterators on views nobody checked. */
	p = guard_place(bb.b + 32, 5);
	it.p = p;
	it.end = p + 5;
	is_int(proto_session_sub_next(&it, &got), -1,
	    "session sub iterator: a head cut short is -1");
	is_int(proto_session_sub_next(&it, &got), -1,
	    "session sub iterator: and again");
	p = guard_place(bb.b + 32, 7);
	it.p = p;
	it.end = p + 7;
	is_int(proto_session_sub_next(&it, &got), -1,
	    "session sub iterator: a filter past the end is -1");
	p = guard_place(bb.b + bounds[1] + 4, 3);
	it.p = p;
	it.end = p + 3;
	is_int(proto_session_qos2_next(&it, &id), 1,
	    "session QoS 2 iterator: one id");
	is_int(proto_session_qos2_next(&it, &id), -1,
	    "session QoS 2 iterator: half an id is -1");
	it.p = it.end = NULL;
	is_int(proto_session_qos2_next(&it, &id), 0,
	    "session QoS 2 iterator: empty view");
	is_int(proto_session_sub_next(&it, &got), 0,
	    "session sub iterator: empty view");

	/* What cannot be encoded. */
	s.client_id.len = 0;
	is_int(proto_session_len(&s), 0,
	    "session: an empty client id cannot be encoded");
	s.client_id.len = 1;
	s.subs = NULL;
	is_int(proto_session_len(&s), 0,
	    "session: subscriptions counted but not given cannot be");
	s.subs = &sub;
	s.qos2 = NULL;
	is_int(proto_session_len(&s), 0,
	    "session: QoS 2 ids counted but not given cannot be");
	s.qos2 = ids;
	sub.filter.len = PROTO_FILTER_MAX + 1;
	is_int(proto_session_len(&s), 0,
	    "session: a filter of 65536 bytes cannot be");
	bb_free(&bb);
}

/* --- $cluster/seen --- */

static uint8_t golden_copy[64];

static void
test_seen(void)
{
	static const uint8_t golden[] = {
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01,	/* claim id */
		0x00, 0x02,					/* count */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x89,
		'c', 'l', 'i',
	};
	const uint64_t mixes[2] = { 0x0102030405060708ull,
	    0xffeeddccbbaa9989ull };
	struct proto_seen m, d;
	uint8_t *buf;
	const uint8_t *p;
	size_t len, n, k, n_bad = 0;
	int good = 1;

	memset(&m, 0, sizeof m);
	m.claim_id = 0x0000018bcfe56801ull;
	m.n = 2;
	m.mixes = mixes;
	m.client_id = STR("cli");
	len = proto_seen_len(&m);
	is_int(len, sizeof golden, "seen: length");
	buf = canary_buf(len);
	n = proto_seen_encode(&m, buf);
	check_bytes("$cluster/seen", buf, n, golden, sizeof golden);
	ok(canary_ok(buf, len), "seen: encode writes its length only");
	p = guard_place(buf, len);
	ok(proto_seen_decode(p, len, &d) == 0 && d.claim_id == m.claim_id &&
	    d.n == 2 && d.mixes == NULL && proto_seen_mix(&d, 0) == mixes[0] &&
	    proto_seen_mix(&d, 1) == mixes[1] &&
	    str_eq(d.client_id, (const uint8_t *)"cli", 3),
	    "seen: round trip");
	/* Every cut that leaves no client id byte is refused. */
	for (k = 0; k < PROTO_SEEN_HEAD_LEN + 16 + 1; k++) {
		p = guard_place(buf, k);
		memset(&d, 0xa5, sizeof d);
		n_bad++;
		if (proto_seen_decode(p, k, &d) != -1 || d.n != 0 ||
		    d.client_id.p != NULL)
			good = 0;
	}
	ok(good, "seen: %zu cuts before the client id are refused", n_bad);
	p = guard_place(buf, len - 1);
	ok(proto_seen_decode(p, len - 1, &d) == 0 && d.n == 2 &&
	    d.client_id.len == 2, "seen: a cut in the client id decodes to a "
	    "shorter id");
	free(buf);
	/* A count larger than the bytes there. */
	memcpy(golden_copy, golden, sizeof golden);
	golden_copy[9] = 3;
	p = guard_place(golden_copy, sizeof golden);
	ok(proto_seen_decode(p, sizeof golden, &d) == -1,
	    "seen: a count past the end is refused");
	m.client_id = STR("");
	is_int(proto_seen_len(&m), 0, "seen: an empty client id cannot be");
	m.client_id = STR("c");
	m.n = PROTO_SEEN_MAX + 1;
	is_int(proto_seen_len(&m), 0, "seen: more than 65535 mixes cannot be");
}

/* --- the identity of a forwarded message --- */

struct id_golden {
	uint64_t prev, seq, origin;
	const char *wire;
};

static void
test_id_golden(void)
{
	/* Worked out by hand from the table in proto.h. */
	static const struct id_golden g[] = {
		/* 3 ms later, counter 0: d 3 (zigzag 6), low 0 */
		{ (1000ull << 20) | 7, 1003ull << 20, 0, "GA" },
		/* same ms, next counter */
		{ 1003ull << 20, (1003ull << 20) | 1, 0, "AB" },
		/* 2 ms back (zigzag 3), low 40 = 8 + 32: 'o' (40), 'B' (1) */
		{ 1003ull << 20, (1001ull << 20) | 40, 0, "DoB" },
		/* with an origin, 1 */
		{ 0, 1ull << 20, 1, "CAAAAAAAAAAAB" },
		/* the largest origin: 4 bits, then 10 times 6 */
		{ 5ull << 20, 5ull << 20, UINT64_MAX, "AAP__________" },
		/* all ones from 0: the difference is -1 modulo 2^44 */
		{ 0, UINT64_MAX, 0, "B___f" },
		/* 2^43 ms on: the one difference with no positive twin */
		{ 0, 1ull << 63, 0, "________PA" },
	};
	struct proto_id m, d;
	uint8_t buf[PROTO_ID_LEN_MAX + 16];
	const uint8_t *p;
	size_t i, n, wl;
	char what[64];

	for (i = 0; i < ARRLEN(g); i++) {
		m.seq = g[i].seq;
		m.origin = g[i].origin;
		wl = strlen(g[i].wire);
		snprintf(what, sizeof what, "identity \"%s\"", g[i].wire);
		is_int(proto_id_len(g[i].prev, &m), wl, "%s: length", what);
		memset(buf, CANARY, sizeof buf);
		n = proto_id_encode(g[i].prev, &m, buf);
		check_bytes(what, buf, n, (const uint8_t *)g[i].wire, wl);
		ok(buf[wl] == CANARY, "%s: encode writes its length only",
		    what);
		p = guard_place((const uint8_t *)g[i].wire, wl);
		ok(proto_id_decode(p, wl, g[i].prev, &d) == 0 &&
		    d.seq == m.seq && d.origin == m.origin, "%s: decodes", what);
	}
}

/* xorshift64* */
static uint64_t
id_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

static void
test_id_round_trip(void)
{
	uint64_t x = 88172645463325252ull, prev, now = 1765000000000ull << 20;
	struct proto_id m, d;
	uint8_t buf[PROTO_ID_LEN_MAX], again[PROTO_ID_LEN_MAX];
	const uint8_t *p;
	size_t n, n2, max_len = 0, short_len = 0, near = 0;
	int i, good = 1, canon = 1;

	for (i = 0; i < 200000; i++) {
		switch (i % 4) {
		case 0: /* anything */
			prev = id_rand(&x);
			m.seq = id_rand(&x);
			break;
		case 1: /* a link's first identity */
			prev = 0;
			m.seq = now + (id_rand(&x) >> 24);
			break;
		default: /* a few ms after (or before) the previous one */
			prev = now + (id_rand(&x) >> 30);
			m.seq = prev + (id_rand(&x) % 16 << 20) -
			    (id_rand(&x) % 4 << 20) + id_rand(&x) % 8;
			m.seq &= ~(uint64_t)0xfffff | (id_rand(&x) % 40);
			break;
		}
		m.origin = i % 3 == 0 ? id_rand(&x) | 1 : 0;
		n = proto_id_len(prev, &m);
		if (n > max_len)
			max_len = n;
		if (proto_id_encode(prev, &m, buf) != n) {
			good = 0;
			continue;
		}
		if (i % 4 >= 2 && m.origin == 0) {
			near++;
			short_len += n <= 3;
		}
		p = guard_place(buf, n);
		if (proto_id_decode(p, n, prev, &d) != 0 || d.seq != m.seq ||
		    d.origin != m.origin) {
			if (good)
				diag("prev %llx seq %llx origin %llx",
				    (unsigned long long)prev,
				    (unsigned long long)m.seq,
				    (unsigned long long)m.origin);
			good = 0;
			continue;
		}
		n2 = proto_id_encode(prev, &d, again);
		if (n2 != n || memcmp(again, buf, n) != 0)
			canon = 0;
	}
	ok(good, "identity: 200000 round trips");
	ok(canon, "identity: re-encoding what was decoded gives its bytes");
	ok(max_len <= PROTO_ID_LEN_MAX, "identity: at most %d digits (%zu)",
	    PROTO_ID_LEN_MAX, max_len);
	ok(short_len == near, "identity: up to 15 ms after the previous one "
	    "(or 3 before), counter below 40: 2 or 3 digits (%zu of %zu)",
	    short_len, near);
}

static void
test_id_bad(void)
{
	static const char *bad[] = {
		"",			/* empty: no identity */
		"A",			/* one varint */
		"g",			/* a varint cut after a continuation */
		"Ag",
		"gA",			/* not minimal: 'g' (32) then 0 */
		"AgA",
		"AAA",			/* 1 digit after the varints */
		"AAAAAAAAAAAA",		/* 10 digits after them */
		"AAAAAAAAAAAAAA",	/* 12 */
		"AAAAAAAAAAAAA",	/* origin 0 */
		"AAQAAAAAAAAAA",	/* origin digit 1 >= 16: over 64 bits */
		"________f" "A",	/* d of 9 digits, 2^45 - 1 */
		"ggggggggQ" "A",	/* d = 2^44 */
		"_________B" "A",	/* d of 10 digits */
		"A" "____B",		/* low of 5 digits */
		"A=", "A.", "A+", "A/", "A ", " AA", "AA~",
	};
	static const uint8_t nul[] = { 'A', 0 }, high[] = { 'A', 0xc3 };
	struct proto_id d;
	const uint8_t *p;
	size_t i, len;

	for (i = 0; i < ARRLEN(bad); i++) {
		len = strlen(bad[i]);
		p = guard_place((const uint8_t *)bad[i], len);
		memset(&d, 0xa5, sizeof d);
		ok(proto_id_decode(p, len, 1234ull << 20, &d) == -1 &&
		    d.seq == 0 && d.origin == 0,
		    "identity \"%s\" is refused", bad[i]);
	}
	p = guard_place(nul, sizeof nul);
	ok(proto_id_decode(p, sizeof nul, 0, &d) == -1,
	    "identity with a NUL is refused");
	p = guard_place(high, sizeof high);
	ok(proto_id_decode(p, sizeof high, 0, &d) == -1,
	    "identity with a byte over 127 is refused");
	/* The largest values that are allowed. */
	p = guard_place((const uint8_t *)"________P___f", 13);
	ok(proto_id_decode(p, 13, 0, &d) == 0 &&
	    d.seq == ((((1ull << 44) - (1ull << 43)) & ((1ull << 44) - 1)) <<
	    20 | 0xfffff), "identity: d 2^44 - 1 and low 2^20 - 1 decode");
}

int
main(void)
{
	guard_init();
	test_version();
	test_golden();
	test_routes();
	test_routes_bad();
	test_ack();
	test_claims();
	test_claimed();
	test_session();
	test_session_bad();
	test_seen();
	test_id_golden();
	test_id_round_trip();
	test_id_bad();
	return tap_done();
}
