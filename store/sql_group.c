/*
 * sql_group.c - group logs: one row per message for a filter that many
 * offline sessions hold, and the spans by which each session's queue
 * refers to that log instead of holding a row per message.
 *
 * DESIGN (issue 16 item 4: "large groups at one write per message")
 *
 * A message to a group of N offline persistent members used to write N
 * queue rows (write diffusion). Now the broker may write it once, as an
 * entry of the filter's log (table glog, key (filter, seq), seqs dense
 * per filter), and give each member a span (table spans, key (client_id,
 * first_seq)): "my queue seqs first_seq, first_seq + 1, ... are the
 * entries first_log, first_log + 1, ... of this filter's log, up to
 * last_log" (0: still open, up to the log's newest entry). While a member
 * takes every entry of the log and nothing else, its span grows without
 * a write: a group message costs one log row however many members it
 * has. Each span row carries what the subscription says about delivery
 * (QoS, Retain As Published, subscription id), applied at read time.
 *
 * The broker (deliver.c) keeps the rule that makes an open span exact: it
 * closes a span (store_span_close) in the batch where its session first
 * gets a queue seq that is not the span's next, and in the batch where
 * the filter's log gets an entry the session does not take. So an open
 * span covers exactly the log entries after first_log, and a crash
 * leaves nothing ambiguous; start-up closes open spans at the newest
 * entry of their log (load.c).
 *
 * Spans are rows of the session's queue for everyone else in the store:
 *   - a read (sql_queue_read) merges them with the real rows by seq;
 *   - deleting a seq that is in a span takes it out of the span (the span
 *     starts one later, ends one earlier, or is split in two);
 *   - a state change (PUBREC received) makes that seq a real queue row
 *     first, since spans hold no per-row state;
 *   - deleting the session deletes its spans.
 * A log entry holds one reference to its body (msgs); entries below the
 * first entry of every span of their filter are deleted at the end of
 * every transaction that changed a span of that filter (sql_group_flush).
 *
 * Failure: a transaction that fails takes back its span rows, but later
 * batches may already have been built on them (an open span grows with
 * no write). So the span ops of a failed transaction are kept
 * (sql_group_carry) and written in a transaction of their own before the
 * next job (store.c): what a batch closed stays closed. Their log entries
 * are gone with the failed transaction; a span over a missing entry only
 * reads nothing there, so that seq is never taken. A closed span, or
 * what a take leaves of one, therefore starts at its first entry that
 * is there, or goes (sql_group_first): else it would keep its log for as
 * long as the session lives. When no later entry was committed, such a
 * span reaches past the newest entry of its log, from which the broker
 * numbers new entries after a restart: start-up cuts spans back to it,
 * and does the same trimming for spans still open at the stop (load.c).
 */
#include <stdint.h>
#include <string.h>

#include "store_int.h"

const struct sql_def sql_group_defs[] = {
	{ ST_GLOG_PUT,
	  "INSERT INTO glog(filter, seq, msg_id, bytes, cum)"
	  " VALUES(?1, ?2, ?3, ?4, ?5)" },
	{ ST_GLOG_READ,
	  "SELECT g.seq, g.msg_id, m.topic, m.payload, m.qos, m.retain,"
	  " m.props, m.received_at, m.expiry_at FROM glog AS g"
	  " JOIN msgs AS m ON m.id = g.msg_id WHERE g.filter = ?1"
	  " AND g.seq >= ?2 AND g.seq <= ?3 ORDER BY g.seq LIMIT ?4" },
	{ ST_GLOG_ENTRY,
	  "SELECT g.msg_id, m.qos, m.retain FROM glog AS g"
	  " JOIN msgs AS m ON m.id = g.msg_id"
	  " WHERE g.filter = ?1 AND g.seq = ?2" },
	{ ST_GLOG_MAX, "SELECT max(seq) FROM glog WHERE filter = ?1" },
	{ ST_GLOG_FIRST,
	  "SELECT min(seq) FROM glog WHERE filter = ?1 AND seq >= ?2"
	  " AND seq <= ?3" },
	{ ST_GLOG_GC,
	  "DELETE FROM glog WHERE filter = ?1 AND seq < ?2 RETURNING msg_id" },
	{ ST_SPAN_PUT,
	  "INSERT OR REPLACE INTO spans(client_id, first_seq, filter,"
	  " first_log, last_log, qos, rap, sub_id)"
	  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
	{ ST_SPAN_CLOSE,
	  "UPDATE spans SET last_log = ?3 WHERE client_id = ?1"
	  " AND first_seq = ?2 RETURNING first_seq, filter, first_log,"
	  " last_log, qos, rap, sub_id" },
	{ ST_SPAN_FIND,
	  "SELECT first_seq, filter, first_log, last_log, qos, rap, sub_id"
	  " FROM spans WHERE client_id = ?1 AND first_seq <= ?2"
	  " ORDER BY first_seq DESC LIMIT 1" },
	{ ST_SPAN_AFTER,
	  "SELECT first_seq, filter, first_log, last_log, qos, rap, sub_id"
	  " FROM spans WHERE client_id = ?1 AND (last_log = 0 OR"
	  " first_seq + last_log - first_log > ?2) ORDER BY first_seq" },
	{ ST_SPAN_ANY, "SELECT 1 FROM spans WHERE client_id = ?1 LIMIT 1" },
	{ ST_SPAN_DEL,
	  "DELETE FROM spans WHERE client_id = ?1 AND first_seq = ?2" },
	{ ST_SPAN_DEL_SESSION,
	  "DELETE FROM spans WHERE client_id = ?1 RETURNING filter" },
	{ ST_SPAN_MIN, "SELECT min(first_log) FROM spans WHERE filter = ?1" },
};
const size_t sql_group_ndefs = sizeof sql_group_defs / sizeof sql_group_defs[0];

/* One span row, its filter copied. */
struct span {
	uint64_t first_seq, first_log, last_log; /* last_log 0: open */
	uint64_t hi; /* its last entry: last_log, or the log's newest */
	uint8_t qos, rap;
	uint32_t sub_id;
	uint8_t *filter;
	size_t flen;
};

/* Note that the filter's spans changed: its log is trimmed at the end of
 * the transaction. */
static void
sql_group_touch(struct store *st, const void *filter, size_t flen)
{
	uint8_t *copy;

	if (delta_find(&st->gc, 0, filter, flen) != NULL)
		return;
	copy = store_xmalloc(flen);
	memcpy(copy, filter, flen);
	st->gc_keys = store_grow(st->gc_keys, st->n_gc_keys,
	    &st->gc_keys_cap, 16, sizeof *st->gc_keys);
	st->gc_keys[st->n_gc_keys++] = copy;
	delta_get(&st->gc, 0, copy, flen);
}

/* The newest entry of a filter's log (0: none). */
static int
sql_group_log_max(struct store *st, const void *filter, size_t flen,
    uint64_t *max)
{
	sqlite3_stmt *s = st->stmt[ST_GLOG_MAX];
	int rc, row;

	sql_bind_bytes(s, 1, filter, flen);
	rc = sql_one(st, s, "read a group log", &row);
	*max = row ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return rc;
}

/* Columns first_seq .. sub_id of s into sp (the filter copied). */
static int
sql_group_span_row(struct store *st, sqlite3_stmt *s, struct span *sp)
{
	const void *f;

	memset(sp, 0, sizeof *sp);
	sp->first_seq = (uint64_t)sqlite3_column_int64(s, 0);
	f = sql_column_bytes(s, 1, &sp->flen);
	sp->filter = store_xmalloc(sp->flen);
	memcpy(sp->filter, f, sp->flen);
	sp->first_log = (uint64_t)sqlite3_column_int64(s, 2);
	sp->last_log = (uint64_t)sqlite3_column_int64(s, 3);
	sp->qos = (uint8_t)sqlite3_column_int(s, 4);
	sp->rap = (uint8_t)sqlite3_column_int(s, 5);
	sp->sub_id = (uint32_t)sqlite3_column_int64(s, 6);
	sp->hi = sp->last_log;
	if (sp->last_log == 0)
		return sql_group_log_max(st, sp->filter, sp->flen, &sp->hi);
	return SQLITE_OK;
}

/* Step s (bound by the caller), which returns at most one span row:
 * into sp (its filter allocated) when *found. s is reset. */
static int
sql_group_one_span(struct store *st, sqlite3_stmt *s, const char *what,
    struct span *sp, int *found)
{
	int rc = sql_one(st, s, what, found);

	if (*found && rc == SQLITE_OK)
		rc = sql_group_span_row(st, s, sp);
	sqlite3_reset(s);
	if (rc != SQLITE_OK && *found) {
		free(sp->filter);
		*found = 0;
	}
	return rc;
}

static int
sql_group_span_put(struct store *st, const void *id, size_t len,
    const struct span *sp)
{
	sqlite3_stmt *s = st->stmt[ST_SPAN_PUT];

	sql_bind_bytes(s, 1, id, len);
	sqlite3_bind_int64(s, 2, (int64_t)sp->first_seq);
	sql_bind_bytes(s, 3, sp->filter, sp->flen);
	sqlite3_bind_int64(s, 4, (int64_t)sp->first_log);
	sqlite3_bind_int64(s, 5, (int64_t)sp->last_log);
	sqlite3_bind_int(s, 6, sp->qos);
	sqlite3_bind_int(s, 7, sp->rap);
	sqlite3_bind_int64(s, 8, sp->sub_id);
	return sql_run(st, s);
}

/*
 * The first entry of closed span sp that is there (0: none). A failed
 * transaction's entries are lost (store.c carries its spans), and their
 * seqs read nothing, so are never taken: a span left with nothing else
 * would keep its log (trimmed below the first entry of every span) for
 * as long as the session lives.
 */
static int
sql_group_first(struct store *st, const struct span *sp, uint64_t *first)
{
	sqlite3_stmt *s = st->stmt[ST_GLOG_FIRST];
	int rc, row;

	*first = 0;
	sql_bind_bytes(s, 1, sp->filter, sp->flen);
	sqlite3_bind_int64(s, 2, (int64_t)sp->first_log);
	sqlite3_bind_int64(s, 3, (int64_t)sp->last_log);
	rc = sql_one(st, s, "find a group log entry", &row);
	if (row && sqlite3_column_type(s, 0) != SQLITE_NULL)
		*first = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc;
}

/* Write sp, a span left by a take: a closed one from its first entry
 * that is there (its seqs stay those of their entries), or not at all
 * when none is. */
static int
sql_group_span_rest(struct store *st, const void *id, size_t len,
    struct span *sp)
{
	uint64_t first;
	int rc;

	if (sp->last_log == 0)
		return sql_group_span_put(st, id, len, sp);
	if ((rc = sql_group_first(st, sp, &first)) != SQLITE_OK || first == 0)
		return rc;
	sp->first_seq += first - sp->first_log;
	sp->first_log = first;
	return sql_group_span_put(st, id, len, sp);
}

/* Delete the span of the session that starts at first_seq. */
static int
sql_group_span_del(struct store *st, const void *id, size_t len,
    uint64_t first_seq)
{
	sqlite3_stmt *s = st->stmt[ST_SPAN_DEL];

	sql_bind_bytes(s, 1, id, len);
	sqlite3_bind_int64(s, 2, (int64_t)first_seq);
	return sql_run(st, s);
}

/* Learn whether the session has spans (one probe, then kept). */
static int
sql_group_know(struct store *st, struct qsess *q)
{
	sqlite3_stmt *s = st->stmt[ST_SPAN_ANY];
	int rc, row;

	if (q->spans != 0)
		return SQLITE_OK;
	sql_bind_bytes(s, 1, q->key, q->klen);
	rc = sql_one(st, s, "find spans", &row);
	sqlite3_reset(s);
	if (rc == SQLITE_OK)
		q->spans = row ? 2 : 1;
	return rc;
}

static int
sql_group_log_put(struct store *st, const struct op *o)
{
	sqlite3_stmt *s = st->stmt[ST_GLOG_PUT];
	int rc;

	sql_bind_bytes(s, 1, batch_str(o, 0), o->len[0]);
	sqlite3_bind_int64(s, 2, (int64_t)o->seq);
	sqlite3_bind_int64(s, 3, (int64_t)o->msg_id);
	sqlite3_bind_int64(s, 4, o->sub_id);
	sqlite3_bind_int64(s, 5, o->t0);
	if ((rc = sql_run(st, s)) == SQLITE_OK)
		delta_get(&st->refs, o->msg_id, NULL, 0)->v[0]++;
	return rc;
}

static int
sql_group_span_open(struct store *st, const struct op *o)
{
	struct span sp;
	struct qsess *q;

	memset(&sp, 0, sizeof sp);
	sp.first_seq = o->seq;
	sp.filter = (uint8_t *)batch_str(o, 1);
	sp.flen = o->len[1];
	sp.first_log = o->msg_id;
	sp.qos = o->qos;
	sp.rap = o->retain;
	sp.sub_id = o->sub_id;
	q = qindex_get(&st->qx, batch_str(o, 0), o->len[0]);
	q->spans = 2;
	sql_group_touch(st, sp.filter, sp.flen);
	return sql_group_span_put(st, batch_str(o, 0), o->len[0], &sp);
}

static int
sql_group_span_close(struct store *st, const struct op *o)
{
	sqlite3_stmt *s = st->stmt[ST_SPAN_CLOSE];
	const void *id = batch_str(o, 0);
	size_t len = o->len[0];
	struct span sp;
	uint64_t first;
	int rc, row;

	sql_bind_bytes(s, 1, id, len);
	sqlite3_bind_int64(s, 2, (int64_t)o->seq);
	sqlite3_bind_int64(s, 3, (int64_t)o->msg_id);
	if ((rc = sql_group_one_span(st, s, "close a span", &sp, &row)) !=
	    SQLITE_OK || !row)
		return rc;
	sql_group_touch(st, sp.filter, sp.flen);
	/* Closed, it starts at its first entry that is there, or goes
	 * (sql_group_first); the broker names it no more. */
	if ((rc = sql_group_first(st, &sp, &first)) == SQLITE_OK &&
	    first != sp.first_log &&
	    (rc = sql_group_span_del(st, id, len, sp.first_seq)) ==
	    SQLITE_OK)
		rc = sql_group_span_rest(st, id, len, &sp);
	free(sp.filter);
	return rc;
}

int
sql_group_apply(struct store *st, const struct op *o)
{
	switch (o->kind) {
	case OP_GLOG_PUT:
		return sql_group_log_put(st, o);
	case OP_SPAN_OPEN:
		return sql_group_span_open(st, o);
	case OP_SPAN_CLOSE:
		return sql_group_span_close(st, o);
	}
	return SQLITE_MISUSE;
}

/* Make seq (entry e of sp's log) a queue row in upd's state. */
static int
sql_group_materialize(struct store *st, const void *id, size_t len,
    const struct span *sp, uint64_t seq, uint64_t e, const struct op *upd)
{
	sqlite3_stmt *s = st->stmt[ST_GLOG_ENTRY];
	struct logrow r;
	uint8_t mqos = 0, mretain = 0;
	int rc, row;

	memset(&r, 0, sizeof r);
	sql_bind_bytes(s, 1, sp->filter, sp->flen);
	sqlite3_bind_int64(s, 2, (int64_t)e);
	rc = sql_one(st, s, "read a group log entry", &row);
	if (row) {
		r.msg_id = (uint64_t)sqlite3_column_int64(s, 0);
		mqos = (uint8_t)sqlite3_column_int(s, 1);
		mretain = (uint8_t)sqlite3_column_int(s, 2);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_OK || !row)
		return rc;
	r.seq = seq;
	r.qos = sp->qos < mqos ? sp->qos : mqos;
	r.retain = sp->rap ? mretain : 0;
	r.state = upd->state;
	r.packet_id = upd->packet_id;
	if (sp->sub_id != 0) {
		r.sub_ids[0] = sp->sub_id;
		r.n_sub_ids = 1;
	}
	return sql_queue_insert_row(st, id, len, &r);
}

int
sql_group_take(struct store *st, struct qsess *q, const void *id,
    size_t len, uint64_t seq, const struct op *upd, int *found)
{
	sqlite3_stmt *s = st->stmt[ST_SPAN_FIND];
	struct span sp, rest;
	uint64_t e;
	int rc, row;

	*found = 0;
	if ((rc = sql_group_know(st, q)) != SQLITE_OK || q->spans != 2)
		return rc;
	sql_bind_bytes(s, 1, id, len);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	if ((rc = sql_group_one_span(st, s, "find a span", &sp, &row)) !=
	    SQLITE_OK || !row)
		return rc;
	e = sp.first_log + (seq - sp.first_seq);
	if (e > sp.hi)
		goto out; /* past its end: not a span row */
	*found = 1;
	if (upd != NULL && (rc = sql_group_materialize(st, id, len, &sp, seq,
	    e, upd)) != SQLITE_OK)
		goto out;
	sql_group_touch(st, sp.filter, sp.flen);
	rest = sp;
	/* The span goes; what is before seq and what follows it (if any)
	 * are spans of their own. */
	if ((rc = sql_group_span_del(st, id, len, sp.first_seq)) !=
	    SQLITE_OK)
		goto out;
	if (e > sp.first_log) {
		sp.last_log = e - 1;
		if ((rc = sql_group_span_rest(st, id, len, &sp)) != SQLITE_OK)
			goto out;
	}
	if (e == sp.hi)
		goto out;
	rest.first_seq = seq + 1;
	rest.first_log = e + 1;
	rc = sql_group_span_rest(st, id, len, &rest);
out:
	free(sp.filter);
	return rc;
}

int
sql_group_session_delete(struct store *st, const void *id, size_t len)
{
	sqlite3_stmt *s = st->stmt[ST_SPAN_DEL_SESSION];
	const void *f;
	size_t flen;
	int rc;

	sql_bind_bytes(s, 1, id, len);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		f = sql_column_bytes(s, 0, &flen);
		sql_group_touch(st, f, flen);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sql_error(st, "delete spans");
		return rc;
	}
	return SQLITE_OK;
}

int
sql_group_read(struct store *st, struct qread *rd, uint64_t after)
{
	struct job *j = rd->j;
	struct qsess *q = qindex_get(&st->qx, j->id, j->id_len);
	sqlite3_stmt *s = st->stmt[ST_SPAN_AFTER], *g;
	struct store_queued *r;
	struct span sp;
	uint64_t lo;
	unsigned want = j->limit, got = 0;
	int rc, rc2 = SQLITE_OK;

	if ((rc = sql_group_know(st, q)) != SQLITE_OK || q->spans != 2)
		return rc;
	sql_bind_bytes(s, 1, j->id, j->id_len);
	sqlite3_bind_int64(s, 2, (int64_t)after);
	while (got < want && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc2 = sql_group_span_row(st, s, &sp)) != SQLITE_OK)
			break;
		lo = sp.first_log;
		if (after >= sp.first_seq)
			lo += after - sp.first_seq + 1;
		g = st->stmt[ST_GLOG_READ];
		sql_bind_bytes(g, 1, sp.filter, sp.flen);
		sqlite3_bind_int64(g, 2, (int64_t)lo);
		sqlite3_bind_int64(g, 3, (int64_t)sp.hi);
		sqlite3_bind_int64(g, 4, (int64_t)(want - got));
		while ((rc2 = sqlite3_step(g)) == SQLITE_ROW) {
			r = sql_queue_new_row(rd);
			r->seq = sp.first_seq +
			    ((uint64_t)sqlite3_column_int64(g, 0) -
			    sp.first_log);
			r->msg.id = (uint64_t)sqlite3_column_int64(g, 1);
			sql_queue_take_body(rd, r, g, 2);
			r->qos = sp.qos < r->msg.qos ? sp.qos : r->msg.qos;
			r->retain = sp.rap ? r->msg.retain : 0;
			if (sp.sub_id != 0) {
				r->sub_ids[0] = sp.sub_id;
				r->n_sub_ids = 1;
			}
			got++;
		}
		sqlite3_reset(g);
		free(sp.filter);
		if (rc2 != SQLITE_DONE) {
			sql_error(st, "read a group log");
			break;
		}
		rc2 = SQLITE_OK;
	}
	sqlite3_reset(s);
	if (rc2 != SQLITE_OK)
		return rc2;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sql_error(st, "read spans");
		return rc;
	}
	return SQLITE_OK;
}

int
sql_group_flush(struct store *st)
{
	sqlite3_stmt *s;
	struct delta_entry *e;
	int64_t min;
	size_t i;
	int rc = SQLITE_OK, row;

	for (i = 0; i < st->gc.n && rc == SQLITE_OK; i++) {
		e = &st->gc.e[i];
		s = st->stmt[ST_SPAN_MIN];
		sql_bind_bytes(s, 1, e->key, e->klen);
		rc = sql_one(st, s, "find a group log's first span", &row);
		min = row && sqlite3_column_type(s, 0) != SQLITE_NULL ?
		    sqlite3_column_int64(s, 0) : INT64_MAX;
		sqlite3_reset(s);
		if (rc != SQLITE_OK)
			break;
		s = st->stmt[ST_GLOG_GC];
		sql_bind_bytes(s, 1, e->key, e->klen);
		sqlite3_bind_int64(s, 2, min);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			delta_get(&st->refs,
			    (uint64_t)sqlite3_column_int64(s, 0), NULL,
			    0)->v[0]--;
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			sql_error(st, "trim a group log");
			break;
		}
		rc = SQLITE_OK;
	}
	sql_group_clear(st);
	return rc;
}

void
sql_group_clear(struct store *st)
{
	delta_clear(&st->gc);
	while (st->n_gc_keys > 0)
		free(st->gc_keys[--st->n_gc_keys]);
}

void
sql_group_carry(struct store *st, const struct batch *b)
{
	const struct op *o;
	size_t off;

	for (off = 0; off < b->len; off += o->size) {
		o = (const struct op *)(b->buf + off);
		if (o->kind != OP_SPAN_OPEN && o->kind != OP_SPAN_CLOSE)
			continue;
		while (st->carry.cap - st->carry.len < o->size) {
			st->carry.cap = st->carry.cap ? st->carry.cap * 2 :
			    4096;
			st->carry.buf = store_xrealloc(st->carry.buf,
			    st->carry.cap);
		}
		memcpy(st->carry.buf + st->carry.len, o, o->size);
		st->carry.len += o->size;
		st->carry.n_ops++;
	}
}
