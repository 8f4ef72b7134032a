/*
 * store_model_test.c - the offline queue of the durable store (store.h)
 * against an in-memory model, under random but seeded batches.
 *
 * The queue is a log plus sorted runs, and a message body is either
 * shared in msgs (counted) or kept inline in the one row that wants it
 * (sql_queue.c). Hand-written tests (store_test.c) pin down the cases
 * someone thought of; this one drives the mix of them that a broker
 * produces over time, with the log turned into a run every 1, 2, 3, 7
 * or 50 rows, and checks after every step that the store says what a
 * trivial model says:
 *   - batches of new rows (their body put in the same batch, some bodies
 *     shared by several rows or with a retained topic), seq reuse
 *     (replace, also below the runs), updates, deletes, session deletes
 *     with or without a re-put, session expiry, retained puts and
 *     deletes; a few batches pipelined, some failed on purpose
 *     (store_fail_next: that batch must leave no trace);
 *   - store_expire passes (queued rows, retained messages, sessions);
 *   - paged reads with small limits: seqs, row fields and bodies;
 *   - close and reopen: store_load's sessions, queued rows and bytes,
 *     max_seq (at least the largest seq present), retained messages and
 *     the largest message id; then the tables themselves: reference
 *     counts, bodies, runs.n, queue_stats, seq order across runs and log.
 * Every seed is fixed, so a failure replays: TERN_STORE_MODEL_TRACE=
 * "seed,run_rows" prints that round's operations. Each check kind is one
 * TAP line per round; its first failures are printed as diagnostics.
 * TERN_STORE_MODEL_ROUNDS (default 8) is the number of seeds.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "tap.h"
#include "unit/store_wait.h"

#define NSESS	5
#define MAXSEQ	400		/* seqs 1 .. MAXSEQ - 1 */
#define NTOPIC	6		/* retained topics */
#define NBATCH	220		/* batches per round */
#define MAXOPS	128		/* ops of the batches in flight */
#define MAXPIPE	4		/* batches in flight */
#define NSHOW	3		/* diagnostics per check kind and round */

static const char *const sess_id[NSESS] = { "a", "ab", "b", "client-3",
    "client-30" };
static const unsigned run_sizes[] = { 1, 2, 3, 7, 50 };

/* --- random numbers (splitmix64: the same on every platform) --- */

static uint64_t rng;

static uint64_t
rnd64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0 .. n - 1 */
static unsigned
rnd(unsigned n)
{
	return (unsigned)(rnd64() % n);
}

/* --- failures: counted per kind, the first few shown --- */

enum check {
	C_COMMIT, C_EXPIRE, C_READ, C_LOAD, C_RETAINED,
	C_REFS, C_REFPOS, C_BODY, C_RUNS, C_STATS, C_ORDER, C_ORPHAN,
	C_N
};

static const char *const check_name[C_N] = {
	"every batch done with the expected ok",
	"every expiry pass done",
	"paged reads match the model",
	"store_load sessions and counters match the model",
	"store_load retained messages and max message id",
	"db: msgs.refs counts the rows without a body and retained rows",
	"db: no msgs row with refs <= 0",
	"db: every reference finds its body, inline bodies whole",
	"db: runs.n counts each run, no empty or missing run",
	"db: queue_stats n and bytes match the rows in runs",
	"db: per session, older runs < newer runs < log, no duplicate",
	"db: no queue row or counter without a session",
};

static unsigned fails[C_N];
static unsigned round_seed, round_run;
static int iter;

static void fail(enum check, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(enum check c, const char *fmt, ...)
{
	va_list ap;

	if (fails[c]++ >= NSHOW)
		return;
	printf("# seed %u run_rows %u batch %d: ", round_seed, round_run,
	    iter);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int tracing;

static void trace(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
trace(const char *fmt, ...)
{
	va_list ap;

	if (!tracing)
		return;
	printf("# [%d] ", iter);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* What the tests exercised, over all rounds (asserted once). */
static struct {
	long long runs, inline_log, inline_run, shared, failed, expired_rows,
	    expired_sessions, pipelined, reads;
} cov;

/* --- message bodies: all derived from the id --- */

struct mbody {
	uint32_t len;
	int64_t exp;
};

static struct mbody *body;
static size_t body_cap;
static uint64_t next_msg;

static void
body_topic(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "t/%" PRIu64, id);
}

static uint8_t
body_byte(uint64_t id, size_t i)
{
	return (uint8_t)((id * 131 + i * 7) & 0xff);
}

static uint32_t
body_props_len(uint64_t id)
{
	return (uint32_t)(id % 4);
}

static void
put_body(struct store *st, uint64_t id)
{
	static uint8_t buf[256], props[4];
	struct store_msg m;
	char topic[32];
	uint32_t i;

	body_topic(id, topic, sizeof topic);
	for (i = 0; i < body[id].len; i++)
		buf[i] = body_byte(id, i);
	for (i = 0; i < body_props_len(id); i++)
		props[i] = (uint8_t)(id ^ i);
	memset(&m, 0, sizeof m);
	m.id = id;
	m.topic = topic;
	m.topic_len = (uint32_t)strlen(topic);
	m.payload = buf;
	m.payload_len = body[id].len;
	m.qos = (uint8_t)(1 + id % 2);
	m.retain = (uint8_t)(id % 3 == 0);
	m.props = body_props_len(id) != 0 ? props : NULL;
	m.props_len = body_props_len(id);
	m.received_at = 1000 + (int64_t)id;
	m.expiry_at = body[id].exp;
	store_msg_put(st, &m);
}

/* A message id never used, with a random body. */
static uint64_t
new_body(int64_t now)
{
	uint64_t id = next_msg++;

	if (id >= body_cap) {
		body_cap = body_cap ? body_cap * 2 : 1024;
		if ((body = realloc(body, body_cap * sizeof *body)) == NULL)
			abort();
	}
	body[id].len = rnd(8) == 0 ? 0 : 1 + rnd(200);
	body[id].exp = rnd(4) == 0 ? now + 1 + rnd(25) : 0;
	return id;
}

/* Does the body match message id? */
static int
body_same(const struct store_msg *m)
{
	char topic[32];
	uint32_t i;

	if (m->id == 0 || m->id >= next_msg)
		return 0;
	body_topic(m->id, topic, sizeof topic);
	if (m->topic_len != strlen(topic) ||
	    memcmp(m->topic, topic, m->topic_len) != 0 ||
	    m->payload_len != body[m->id].len ||
	    m->props_len != body_props_len(m->id) ||
	    m->qos != 1 + m->id % 2 || m->retain != (m->id % 3 == 0) ||
	    m->received_at != 1000 + (int64_t)m->id ||
	    m->expiry_at != body[m->id].exp)
		return 0;
	for (i = 0; i < m->payload_len; i++)
		if (m->payload[i] != body_byte(m->id, i))
			return 0;
	for (i = 0; i < m->props_len; i++)
		if (m->props[i] != (uint8_t)(m->id ^ i))
			return 0;
	return 1;
}

/* --- the model --- */

struct mrow {
	uint64_t msg;
	uint8_t used, qos, retain, state, nsub;
	uint16_t pid;
	uint32_t sub[3];
};

struct model {
	struct mrow row[NSESS][MAXSEQ];
	uint8_t present[NSESS];
	int64_t deadline[NSESS];	/* session expiry time, 0 none */
	uint64_t retained[NTOPIC];	/* message id, 0 none */
};

enum opkind { M_PUT, M_UPD, M_DEL, M_SDEL, M_SPUT, M_RPUT, M_RDEL };

struct mop {
	enum opkind kind;
	int s, t, batch;	/* session, retained topic, batch */
	uint64_t seq, msg;
	struct mrow r;
	int64_t disc;
	uint32_t expiry;
};

static struct model committed, spec;

static void
model_apply(struct model *m, const struct mop *o)
{
	struct mrow *r = &m->row[o->s][o->seq];	/* seq < MAXSEQ */

	switch (o->kind) {
	case M_PUT:
		*r = o->r;
		r->used = 1;
		break;
	case M_UPD:
		if (r->used) {
			r->state = o->r.state;
			r->pid = o->r.pid;
		}
		break;
	case M_DEL:
		r->used = 0;
		break;
	case M_SDEL:
		m->present[o->s] = 0;
		m->deadline[o->s] = 0;
		memset(m->row[o->s], 0, sizeof m->row[o->s]);
		break;
	case M_SPUT:
		m->present[o->s] = 1;
		m->deadline[o->s] = o->disc != 0 && o->expiry != 0xFFFFFFFFu ?
		    o->disc + o->expiry : 0;
		break;
	case M_RPUT:
		m->retained[o->t] = o->msg;
		break;
	case M_RDEL:
		m->retained[o->t] = 0;
		break;
	}
}

static int
expired(uint64_t msg, int64_t now)
{
	return body[msg].exp != 0 && body[msg].exp <= now;
}

static void
model_expire(struct model *m, int64_t now)
{
	int s, q;

	for (s = 0; s < NSESS; s++) {
		if (m->present[s] && m->deadline[s] != 0 &&
		    m->deadline[s] <= now) {
			m->present[s] = 0;
			m->deadline[s] = 0;
			memset(m->row[s], 0, sizeof m->row[s]);
			cov.expired_sessions++;
		}
		for (q = 1; q < MAXSEQ; q++) {
			if (m->row[s][q].used && m->row[s][q].state == 0 &&
			    expired(m->row[s][q].msg, now)) {
				m->row[s][q].used = 0;
				cov.expired_rows++;
			}
		}
	}
	for (s = 0; s < NTOPIC; s++)
		if (m->retained[s] != 0 && expired(m->retained[s], now))
			m->retained[s] = 0;
}

/* A random seq of session s that has a row, else 0. */
static uint64_t
some_row(const struct model *m, int s, int front)
{
	uint64_t seqs[MAXSEQ];
	size_t n = 0;
	int q;

	for (q = 1; q < MAXSEQ; q++)
		if (m->row[s][q].used)
			seqs[n++] = (uint64_t)q;
	if (n == 0)
		return 0;
	return front ? seqs[rnd(n < 3 ? (unsigned)n : 3)] : seqs[rnd(n)];
}

/* A message some row or retained topic holds now, else 0. */
static uint64_t
some_live_msg(const struct model *m)
{
	int s = (int)rnd(NSESS);
	uint64_t q;

	if (rnd(3) == 0 && m->retained[rnd(NTOPIC)] != 0)
		return m->retained[rnd(NTOPIC)];
	if ((q = some_row(m, s, 0)) != 0)
		return m->row[s][q].msg;
	return 0;
}

/* --- talking to the store --- */

static unsigned n_done;
static int done_ok[MAXPIPE];

static void
done_cb(void *arg, int ok)
{
	int i = (int)(intptr_t)arg;

	if (i >= 0 && i < MAXPIPE)
		done_ok[i] = ok;
	n_done++;
}

static uint64_t expire_n;

static void
expire_cb(void *arg, uint64_t n)
{
	expire_n = n;
	n_done++;
}

/* Where session s is sure to exist, whichever of the batches in flight
 * fail: SURE in all of them, else in batch sess_ok[s] after its put
 * there, else nowhere (-1): a row put must put the session first. */
#define SURE (-2)
static int sess_ok[NSESS];

static struct mop ops[MAXOPS];
static int n_ops;

/* Append o to the open batch and to the model of what is in flight. */
static void
issue(struct store *st, const struct mop *o)
{
	const char *id = sess_id[o->s];
	char topic[16];

	switch (o->kind) {
	case M_PUT:
		put_body(st, o->r.msg);
		store_queue_put(st, id, strlen(id), o->seq, o->r.msg, o->r.qos,
		    o->r.retain, o->r.state, o->r.pid, o->r.sub, o->r.nsub);
		trace("put %s seq %" PRIu64 " msg %" PRIu64 " (%" PRIu32
		    " bytes, exp %" PRId64 ") state %u", id, o->seq, o->r.msg,
		    body[o->r.msg].len, body[o->r.msg].exp, o->r.state);
		break;
	case M_UPD:
		store_queue_update(st, id, strlen(id), o->seq, o->r.state,
		    o->r.pid);
		trace("update %s seq %" PRIu64 " state %u", id, o->seq,
		    o->r.state);
		break;
	case M_DEL:
		store_queue_del(st, id, strlen(id), o->seq);
		trace("del %s seq %" PRIu64, id, o->seq);
		break;
	case M_SDEL:
		store_session_del(st, id, strlen(id));
		trace("session del %s", id);
		break;
	case M_SPUT: {
		struct store_session ss;

		memset(&ss, 0, sizeof ss);
		ss.client_id = id;
		ss.id_len = strlen(id);
		ss.expiry = o->expiry;
		ss.disconnected_at = o->disc;
		ss.version = 5;
		store_session_put(st, &ss);
		trace("session put %s disconnected %" PRId64 " expiry %" PRIu32,
		    id, o->disc, o->expiry);
		break;
	}
	case M_RPUT:
		snprintf(topic, sizeof topic, "r/%d", o->t);
		put_body(st, o->msg);
		store_retain_put(st, topic, strlen(topic), o->msg);
		trace("retain put %s msg %" PRIu64, topic, o->msg);
		break;
	case M_RDEL:
		snprintf(topic, sizeof topic, "r/%d", o->t);
		store_retain_del(st, topic, strlen(topic));
		trace("retain del %s", topic);
		break;
	}
	if (o->kind == M_SDEL)
		sess_ok[o->s] = -1;
	else if (o->kind == M_SPUT && sess_ok[o->s] != SURE)
		sess_ok[o->s] = o->batch;
	model_apply(&spec, o);
	if (n_ops < MAXOPS)
		ops[n_ops++] = *o;
}

static void
issue_session(struct store *st, int s, int batch, int64_t disc,
    uint32_t expiry)
{
	struct mop o;

	memset(&o, 0, sizeof o);
	o.kind = M_SPUT;
	o.s = s;
	o.batch = batch;
	o.disc = disc;
	o.expiry = expiry;
	issue(st, &o);
}

static uint64_t next_seq[NSESS];

/* The body of a new reference: one time in one_in a body in use already
 * (put again in this batch, as store.h wants), else a new one. */
static uint64_t
pick_body(unsigned one_in, int64_t now)
{
	uint64_t id;

	if (rnd(one_in) == 0 && (id = some_live_msg(&spec)) != 0)
		return id;
	return new_body(now);
}

/* One random operation of batch b (maybe a few store calls). */
static void
random_op(struct store *st, int b, int64_t now)
{
	struct mop o;
	unsigned k = rnd(100), i, fan;
	int s = (int)rnd(NSESS);

	memset(&o, 0, sizeof o);
	o.s = s;
	o.batch = b;
	if (k < 45) {
		/* New rows: one body for one row, or fanned out. */
		o.kind = M_PUT;
		o.r.msg = pick_body(6, now);
		fan = rnd(5) == 0 ? 2 + rnd(3) : 1;
		for (i = 0; i < fan; i++) {
			if (i != 0)
				o.s = s = (int)rnd(NSESS);
			if (next_seq[s] + 3 >= MAXSEQ)
				continue;
			if (sess_ok[s] != SURE && sess_ok[s] != b)
				issue_session(st, s, b, 0, 0xFFFFFFFFu);
			o.seq = next_seq[s];
			next_seq[s] += rnd(4) == 0 ? 2 : 1;
			o.r.qos = (uint8_t)(1 + rnd(2));
			o.r.retain = (uint8_t)rnd(2);
			o.r.state = rnd(5) == 0;
			o.r.pid = (uint16_t)rnd(65536);
			o.r.nsub = (uint8_t)rnd(4);
			o.r.sub[0] = (uint32_t)rnd(1000) + 1;
			o.r.sub[1] = 268435455;
			o.r.sub[2] = (uint32_t)rnd64();
			memset(o.r.sub + o.r.nsub, 0,
			    (3 - o.r.nsub) * sizeof o.r.sub[0]);
			issue(st, &o);
		}
		if (rnd(6) == 0) {
			/* The same body retained too. */
			o.kind = M_RPUT;
			o.t = (int)rnd(NTOPIC);
			o.msg = o.r.msg;
			issue(st, &o);
		}
	} else if (k < 53) {
		/* Seq reuse: a row replaced, or a seq once used (maybe below
		 * the runs, maybe gone) used again. */
		if (next_seq[s] < 2 || (sess_ok[s] != SURE && sess_ok[s] != b))
			return;
		o.kind = M_PUT;
		o.seq = rnd(2) ? some_row(&spec, s, 0) : 0;
		if (o.seq == 0)
			o.seq = 1 + rnd((unsigned)next_seq[s] - 1);
		o.r.msg = pick_body(3, now);
		o.r.qos = 1;
		o.r.state = (uint8_t)rnd(2);
		o.r.pid = (uint16_t)rnd(100);
		issue(st, &o);
	} else if (k < 66) {
		o.kind = M_UPD;
		o.seq = rnd(4) ? some_row(&spec, s, 0) : 0;
		if (o.seq == 0)
			o.seq = 1 + rnd((unsigned)next_seq[s] + 1);
		o.r.state = (uint8_t)rnd(3);
		o.r.pid = (uint16_t)rnd(65536);
		issue(st, &o);
	} else if (k < 88) {
		/* Mostly acknowledgements from the front of the queue. */
		o.kind = M_DEL;
		o.seq = rnd(5) ? some_row(&spec, s, rnd(3) != 0) : 0;
		if (o.seq == 0)
			o.seq = 1 + rnd((unsigned)next_seq[s] + 1);
		issue(st, &o);
	} else if (k < 91) {
		o.kind = M_SDEL;
		issue(st, &o);
		if (rnd(2))
			next_seq[s] = 1;
		if (rnd(4) != 0)
			issue_session(st, s, b, 0, 0xFFFFFFFFu);
	} else if (k < 93) {
		/* Disconnected with an expiry, or connected again. */
		if (rnd(2))
			issue_session(st, s, b, now, 1 + rnd(30));
		else
			issue_session(st, s, b, 0, 0xFFFFFFFFu);
	} else if (k < 97) {
		o.kind = M_RPUT;
		o.t = (int)rnd(NTOPIC);
		o.msg = pick_body(3, now);
		issue(st, &o);
	} else {
		o.kind = M_RDEL;
		o.t = (int)rnd(NTOPIC);
		issue(st, &o);
	}
}

/* --- checks through the API --- */

static struct store_queued rbuf[MAXSEQ];
static size_t rbuf_n;
static int rbuf_ok, rbuf_bodies_ok;
static unsigned n_read;

static void
read_cb(void *arg, const struct store_queued *rows, size_t n, int ok)
{
	size_t i;

	rbuf_ok = ok;
	rbuf_n = n < MAXSEQ ? n : MAXSEQ;
	rbuf_bodies_ok = 1;
	for (i = 0; i < rbuf_n; i++) {
		rbuf[i] = rows[i];
		if (!body_same(&rows[i].msg))
			rbuf_bodies_ok = 0;
		rbuf[i].msg.topic = NULL;
		rbuf[i].msg.payload = NULL;
		rbuf[i].msg.props = NULL;
	}
	n_read++;
}

static int
row_same(const struct store_queued *q, const struct mrow *r)
{
	uint8_t i;

	if (q->msg.id != r->msg || q->qos != r->qos ||
	    q->retain != r->retain || q->state != r->state ||
	    q->packet_id != r->pid || q->n_sub_ids != r->nsub)
		return 0;
	for (i = 0; i < r->nsub; i++)
		if (q->sub_ids[i] != r->sub[i])
			return 0;
	return 1;
}

/* Page through session s's rows after seq after, limit at a time. */
static void
check_read(struct store *st, const struct model *m, int s, uint64_t after,
    unsigned limit)
{
	const char *id = sess_id[s];
	uint64_t q = after;
	unsigned want, pages = 0;
	size_t i;

	cov.reads++;
	for (;;) {
		want = n_read + 1;
		store_queue_read(st, id, strlen(id), q, limit, read_cb, NULL);
		if (wait_for(st, &n_read, want) != 0 || !rbuf_ok) {
			fail(C_READ, "read %s after %" PRIu64 " failed", id, q);
			return;
		}
		if (!rbuf_bodies_ok)
			fail(C_READ, "read %s after %" PRIu64 ": a body "
			    "differs", id, q);
		for (i = 0; i < rbuf_n; i++) {
			/* The next row the model has after q. */
			for (q++; q < MAXSEQ && !m->row[s][q].used; q++)
				;
			if (q >= MAXSEQ || rbuf[i].seq != q) {
				fail(C_READ, "read %s limit %u: seq %" PRIu64
				    ", model %" PRIu64, id, limit,
				    rbuf[i].seq, q < MAXSEQ ? q : 0);
				return;
			}
			if (!row_same(&rbuf[i], &m->row[s][q]))
				fail(C_READ, "read %s seq %" PRIu64 ": msg %"
				    PRIu64 " state %u pid %u, model msg %"
				    PRIu64 " state %u pid %u", id, q,
				    rbuf[i].msg.id, rbuf[i].state,
				    rbuf[i].packet_id, m->row[s][q].msg,
				    m->row[s][q].state, m->row[s][q].pid);
		}
		if (rbuf_n < (limit ? limit : 1) || ++pages > MAXSEQ)
			break;
	}
	for (q++; q < MAXSEQ && !m->row[s][q].used; q++)
		;
	if (q < MAXSEQ)
		fail(C_READ, "read %s limit %u: ends before model seq %" PRIu64,
		    id, limit, q);
}

static struct {
	int seen;
	uint64_t n, bytes, max_seq;
} ld[NSESS];
static void
load_session(void *arg, const struct store_session *ss, uint64_t queued,
    uint64_t bytes, uint64_t max_seq)
{
	int s;

	for (s = 0; s < NSESS; s++) {
		if (ss->id_len == strlen(sess_id[s]) &&
		    memcmp(ss->client_id, sess_id[s], ss->id_len) == 0) {
			ld[s].seen++;
			ld[s].n = queued;
			ld[s].bytes = bytes;
			ld[s].max_seq = max_seq;
		}
	}
}

/* Retained messages as loaded: the view has the body's topic, not the
 * retained topic, so they are compared as a set of message ids. */
static uint64_t ld_retained[NTOPIC + 1];
static int ld_nretained, ld_retained_bad;

static void
load_retained(void *arg, const struct store_msg *m)
{
	if (!body_same(m))
		ld_retained_bad++;
	else if (ld_nretained <= NTOPIC)
		ld_retained[ld_nretained++] = m->id;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* store_load of a reopened store against the model. */
static void
check_load(struct store *st, const struct model *m)
{
	static const struct store_load_cb cb = { load_session, NULL, NULL,
	    load_retained, NULL };
	uint64_t max_id = 0, n, bytes, top, live_max = 0, want[NTOPIC];
	char err[256];
	int s, q, t, nret = 0;

	memset(ld, 0, sizeof ld);
	ld_nretained = ld_retained_bad = 0;
	if (store_load(st, &cb, NULL, &max_id, err, sizeof err) != 0) {
		fail(C_LOAD, "store_load: %s", err);
		return;
	}
	for (s = 0; s < NSESS; s++) {
		n = bytes = top = 0;
		for (q = 1; q < MAXSEQ; q++) {
			if (!m->row[s][q].used)
				continue;
			n++;
			bytes += body[m->row[s][q].msg].len;
			top = (uint64_t)q;
			if (m->row[s][q].msg > live_max)
				live_max = m->row[s][q].msg;
		}
		if (ld[s].seen != m->present[s])
			fail(C_LOAD, "session %s loaded %d times, model %d",
			    sess_id[s], ld[s].seen, m->present[s]);
		else if (ld[s].seen && (ld[s].n != n || ld[s].bytes != bytes ||
		    ld[s].max_seq < top))
			fail(C_LOAD, "session %s: queued %" PRIu64 ", %" PRIu64
			    " bytes, max seq %" PRIu64 "; model %" PRIu64
			    ", %" PRIu64 ", largest seq %" PRIu64, sess_id[s],
			    ld[s].n, ld[s].bytes, ld[s].max_seq, n, bytes,
			    top);
	}
	for (t = 0; t < NTOPIC; t++) {
		if (m->retained[t] != 0)
			want[nret++] = m->retained[t];
		if (m->retained[t] > live_max)
			live_max = m->retained[t];
	}
	qsort(want, (size_t)nret, sizeof want[0], cmp_u64);
	qsort(ld_retained, (size_t)ld_nretained, sizeof ld_retained[0],
	    cmp_u64);
	if (ld_retained_bad != 0 || ld_nretained != nret ||
	    memcmp(want, ld_retained, (size_t)nret * sizeof want[0]) != 0)
		fail(C_RETAINED, "%d retained messages loaded (%d with a wrong "
		    "body), model has %d", ld_nretained, ld_retained_bad, nret);
	if (max_id < live_max)
		fail(C_RETAINED, "max message id %" PRIu64 " < %" PRIu64
		    " in use", max_id, live_max);
}

/* --- checks of the tables of a closed store --- */

static const struct {
	enum check c;
	const char *sql;
} db_checks[] = {
	{ C_REFS, "SELECT count(*) FROM msgs AS m WHERE refs !="
	  " (SELECT count(*) FROM queue WHERE msg_id = m.id AND"
	  " typeof(topic) = 'null') + (SELECT count(*) FROM qlog WHERE"
	  " msg_id = m.id AND typeof(topic) = 'null') + (SELECT count(*)"
	  " FROM retained WHERE msg_id = m.id)" },
	{ C_REFPOS, "SELECT count(*) FROM msgs WHERE refs <= 0" },
	{ C_BODY, "SELECT (SELECT count(*) FROM queue WHERE"
	  " typeof(topic) = 'null' AND msg_id NOT IN (SELECT id FROM msgs))"
	  " + (SELECT count(*) FROM qlog WHERE typeof(topic) = 'null' AND"
	  " msg_id NOT IN (SELECT id FROM msgs)) + (SELECT count(*) FROM"
	  " retained WHERE msg_id NOT IN (SELECT id FROM msgs))" },
	{ C_BODY, "SELECT count(*) FROM (SELECT topic, payload, mqos,"
	  " mretain, received_at FROM queue UNION ALL SELECT topic,"
	  " payload, mqos, mretain, received_at FROM qlog) WHERE"
	  " (typeof(topic) = 'null') != (typeof(payload) = 'null') OR"
	  " (typeof(topic) = 'null') != (typeof(mqos) = 'null') OR"
	  " (typeof(topic) = 'null') != (typeof(mretain) = 'null') OR"
	  " (typeof(topic) = 'null') != (typeof(received_at) = 'null')" },
	{ C_RUNS, "SELECT (SELECT count(*) FROM runs AS r WHERE n <= 0 OR"
	  " n != (SELECT count(*) FROM queue WHERE run = r.run)) +"
	  " (SELECT count(*) FROM queue WHERE run NOT IN"
	  " (SELECT run FROM runs))" },
	{ C_STATS, "SELECT (SELECT count(*) FROM queue_stats AS s WHERE"
	  " n != (SELECT count(*) FROM queue WHERE client_id = s.client_id)"
	  " OR bytes != (SELECT coalesce(sum(bytes), 0) FROM queue WHERE"
	  " client_id = s.client_id) OR max_seq < (SELECT coalesce(max(seq),"
	  " 0) FROM queue WHERE client_id = s.client_id)) + (SELECT"
	  " count(DISTINCT client_id) FROM queue WHERE client_id NOT IN"
	  " (SELECT client_id FROM queue_stats))" },
	{ C_ORDER, "SELECT (SELECT count(*) FROM queue AS a JOIN queue AS b"
	  " ON a.client_id = b.client_id AND a.run < b.run AND"
	  " a.seq >= b.seq) + (SELECT count(*) FROM queue AS a JOIN qlog"
	  " AS b ON a.client_id = b.client_id AND a.seq >= b.seq) +"
	  " (SELECT count(*) FROM qlog AS a JOIN qlog AS b ON"
	  " a.client_id = b.client_id AND a.seq = b.seq AND a.id < b.id)" },
	{ C_ORPHAN, "SELECT count(*) FROM (SELECT client_id FROM queue"
	  " UNION ALL SELECT client_id FROM qlog UNION ALL SELECT client_id"
	  " FROM queue_stats) WHERE client_id NOT IN"
	  " (SELECT client_id FROM sessions)" },
};

/* Coverage: what the tables hold now. */
static const char *const cov_sql[] = {
	"SELECT count(*) FROM runs",
	"SELECT count(*) FROM qlog WHERE typeof(topic) != 'null'",
	"SELECT count(*) FROM queue WHERE typeof(topic) != 'null'",
	"SELECT count(*) FROM msgs WHERE refs > 1",
};

static long long
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		diag("q1 %s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return v;
}

static void
check_db(const char *path)
{
	long long *covp[] = { &cov.runs, &cov.inline_log, &cov.inline_run,
	    &cov.shared };
	sqlite3 *db = NULL;
	long long v;
	size_t i;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fail(C_REFS, "open %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return;
	}
	for (i = 0; i < sizeof db_checks / sizeof db_checks[0]; i++)
		if ((v = q1(db, db_checks[i].sql)) != 0)
			fail(db_checks[i].c, "%lld violations of: %s", v,
			    db_checks[i].sql);
	for (i = 0; i < sizeof cov_sql / sizeof cov_sql[0]; i++)
		if ((v = q1(db, cov_sql[i])) > 0)
			*covp[i] += v;
	sqlite3_close(db);
}

/* --- one round: a seed and a run size --- */

static char dir[64], path[128];

static void
remove_db(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-lock" };
	char p[160];
	size_t i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static struct store *
reopen(struct store *st, unsigned run_rows)
{
	char err[256];

	if (st != NULL) {
		store_close(st);
		check_db(path);
	}
	if ((st = store_open(path, 0, err, sizeof err)) == NULL) {
		fail(C_LOAD, "store_open: %s", err);
		return NULL;
	}
	store_set_run_rows(st, run_rows);
	return st;
}

/* Commit nb batches (all issued), wait for them and fold the ones that
 * succeeded into the committed model. */
static void
settle(struct store *st, int nb, const int *inject)
{
	int b, i;

	for (b = 0; b < nb; b++) {
		if (done_ok[b] != !inject[b])
			fail(C_COMMIT, "batch %d of %d: done ok=%d, injected "
			    "failure %d", b, nb, done_ok[b], inject[b]);
	}
	for (i = 0; i < n_ops; i++)
		if (done_ok[ops[i].batch])
			model_apply(&committed, &ops[i]);
	spec = committed;
	n_ops = 0;
}

static void
run_round(unsigned seed, unsigned run_rows)
{
	struct store *st = NULL;
	int inject[MAXPIPE], nb, b, s, k, first;
	int64_t now = 100000;
	unsigned want;
	enum check c;
	double t0 = now_s();

	round_seed = seed;
	round_run = run_rows;
	rng = (uint64_t)seed * 1000003 + run_rows;
	memset(fails, 0, sizeof fails);
	memset(&committed, 0, sizeof committed);
	spec = committed;
	n_ops = 0;
	next_msg = 1;
	for (s = 0; s < NSESS; s++)
		next_seq[s] = 1;
	remove_db();
	iter = 0;
	if ((st = reopen(NULL, run_rows)) == NULL)
		goto out;

	for (iter = 0; iter < NBATCH; iter++) {
		/* Usually one batch, waited for; sometimes a few in flight
		 * (the store may write them in one transaction). */
		nb = rnd(8) == 0 ? 2 + (int)rnd(MAXPIPE - 1) : 1;
		if (nb > 1)
			cov.pipelined++;
		want = n_done + (unsigned)nb;
		for (s = 0; s < NSESS; s++)
			sess_ok[s] = committed.present[s] ? SURE : -1;
		for (b = 0; b < nb; b++) {
			first = n_ops;
			for (k = 1 + (int)rnd(8); k > 0 &&
			    n_ops < MAXOPS - 16; k--)
				random_op(st, b, now);
			/* store_fail_next skips empty batches. */
			inject[b] = rnd(12) == 0 && n_ops > first;
			if (inject[b]) {
				store_fail_next(st, 1);
				cov.failed++;
				trace("commit %d (injected failure)", b);
			} else
				trace("commit %d", b);
			done_ok[b] = -1;
			store_commit(st, done_cb, (void *)(intptr_t)b);
		}
		if (wait_for(st, &n_done, want) != 0) {
			fail(C_COMMIT, "batches not done in 60 s");
			goto out;
		}
		settle(st, nb, inject);

		if (rnd(8) == 0) {
			now += rnd(8);
			trace("expire at %" PRId64, now);
			want = n_done + 1;
			store_expire(st, now, expire_cb, NULL);
			if (wait_for(st, &n_done, want) != 0 ||
			    expire_n == UINT64_MAX)
				fail(C_EXPIRE, "store_expire(%" PRId64
				    ") failed", now);
			else
				model_expire(&committed, now);
			spec = committed;
		}
		if (rnd(3) == 0) {
			s = (int)rnd(NSESS);
			check_read(st, &committed, s, rnd(3) == 0 ?
			    some_row(&committed, s, 0) : 0, rnd(7));
		}
		if (rnd(40) == 0 || iter == NBATCH - 1) {
			trace("close, reopen");
			if ((st = reopen(st, run_rows)) == NULL)
				goto out;
			check_load(st, &committed);
			for (s = 0; s < NSESS; s++)
				check_read(st, &committed, s, 0, 1 + rnd(5));
		}
	}
	store_close(st);
	st = NULL;
	check_db(path);

out:
	if (st != NULL)
		store_close(st);
	for (c = 0; c < C_N; c++)
		if (!ok(fails[c] == 0, "seed %u, run every %u rows: %s",
		    seed, run_rows, check_name[c]))
			diag("%u failures (replay: TERN_STORE_MODEL_TRACE="
			    "%u,%u)", fails[c], seed, run_rows);
	if (tracing)
		diag("round took %.2f s", now_s() - t0);
}

int
main(void)
{
	const char *env;
	unsigned rounds = 8, seed, i, tseed = 0, trun = 0;
	double t0 = now_s();

	if ((env = getenv("TERN_STORE_MODEL_ROUNDS")) != NULL &&
	    atoi(env) > 0)
		rounds = (unsigned)atoi(env);
	if ((env = getenv("TERN_STORE_MODEL_TRACE")) != NULL &&
	    sscanf(env, "%u,%u", &tseed, &trun) != 2)
		tseed = trun = 0;
	snprintf(dir, sizeof dir, "/tmp/store-model-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(path, sizeof path, "%s/model.db", dir);

	for (seed = 1; seed <= rounds; seed++) {
		for (i = 0; i < sizeof run_sizes / sizeof run_sizes[0]; i++) {
			if (trun != 0 && (seed != tseed ||
			    run_sizes[i] != trun))
				continue;
			tracing = trun != 0;
			run_round(seed, run_sizes[i]);
		}
	}
	if (trun == 0)
		ok(cov.runs > 0 && cov.inline_log > 0 && cov.inline_run > 0 &&
		    cov.shared > 0 && cov.failed > 0 && cov.expired_rows > 0 &&
		    cov.expired_sessions > 0 && cov.pipelined > 0,
		    "coverage: runs %lld, inline bodies in log %lld and runs "
		    "%lld, shared bodies %lld, failed batches %lld, expired "
		    "rows %lld and sessions %lld, pipelined %lld, reads %lld",
		    cov.runs, cov.inline_log, cov.inline_run, cov.shared,
		    cov.failed, cov.expired_rows, cov.expired_sessions,
		    cov.pipelined, cov.reads);
	diag("%u seeds x %zu run sizes in %.1f s", rounds,
	    sizeof run_sizes / sizeof run_sizes[0], now_s() - t0);

	remove_db();
	rmdir(dir);
	free(body);
	return tap_done();
}
