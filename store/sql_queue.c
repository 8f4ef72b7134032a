/*
 * sql_queue.c - message bodies, the offline queue of each session (with
 * the in-flight state of its rows) and the per-session queue counters.
 *
 * DESIGN
 *
 * A message body is stored once per message id, however many queue rows
 * and retained rows point at it, and written once per transaction:
 *   - a body that one new queue row alone wants in its transaction (the
 *     one-to-one message of IM) goes into that row (columns topic to
 *     received_at; msgs does not count it), so queueing it is one write
 *     and acknowledging it later is one delete, next to the session's
 *     other rows. Deleting bodies kept apart in msgs, in arrival order,
 *     dirtied a page per acknowledged message;
 *   - any other (fan-out, retained, a row replaced into a run) lives in
 *     table msgs with a reference count (msgs.refs). A transaction does
 *     not update it per row: every row added or removed adds +1/-1 to
 *     st->refs (delta.c), and sql_queue_flush writes each touched body
 *     once, inserting a body put in this transaction with its net count
 *     (or not at all when nothing refers to it any more), and deletes
 *     those left at zero.
 * That is why the broker puts a body in every batch that refers to it
 * (store.h): a later reference cannot share a copy kept in a row.
 * Log rows themselves are written by the flush too, so a row queued and
 * acknowledged within one group commit costs no write at all.
 *
 * The queue is a log plus sorted runs, because its reads and its writes
 * want opposite orders. A resume reads one session's rows in seq order;
 * fan-in into offline sessions writes a few rows for each of many
 * sessions per commit. A table keyed (client_id, seq) serves the read
 * but makes every commit dirty about one page per row (each row lands
 * near its session's other rows), and SQLite writes every dirty page
 * whole to the WAL and again at the checkpoint: about 2 KB of writes per
 * 64-byte message, measured. So:
 *   - table qlog takes new rows in arrival order (INTEGER PRIMARY KEY):
 *     a commit appends to the last pages only. It has no index by
 *     session: the store thread keeps every log row in memory
 *     (qindex.c), which is what finds, updates and deletes them;
 *   - once the log holds st->run_rows rows (STORE_RUN_ROWS), all of it
 *     becomes a new run in table queue, keyed (run, client_id, seq): the
 *     rows are written sorted, so they too fill new pages in order, and
 *     the log is emptied. Each run is one session-ordered batch of the
 *     past; a session's rows in older runs have smaller seqs (a put
 *     whose seq is not above the session's largest seq in runs goes into
 *     the run covering that seq, never into the log), so reading a
 *     session is reading its runs in order, then its log rows;
 *   - table runs counts the rows of each run; a run left empty is
 *     dropped, and past QUEUE_RUNS_MAX live runs two neighbours are
 *     joined (sql_queue_join_runs). Which runs hold a session's rows is
 *     learnt on first need (one probe per live run) and kept in its
 *     index entry.
 * The log is bounded, so the memory and the start-up scan of it are too.
 *
 * Each row carries copies of its body's payload length and expiry time
 * (from a small direct-mapped cache of recent bodies, the bodies put in
 * this transaction, else one lookup) so that:
 *   - queue_stats (rows, payload bytes, largest seq per session, for the
 *     rows in runs) is kept from deltas and start-up reads one row per
 *     session plus the log instead of the queue (a million queued rows
 *     load in the time of 10k rows);
 *   - message expiry (MQTT v5 3.3.2.3.3) finds expired rows through the
 *     partial indexes queue_expiry and qlog_expiry, which hold only rows
 *     that can expire. Only rows still STORE_STATE_QUEUED are dropped: a
 *     message already sent must finish its QoS exchange.
 *
 * Reusing a (client_id, seq) replaces the old row (its reference and
 * counts go first). After a rollback the deltas, the cache and the queue
 * index are dropped and the index is read back from the database, since
 * they may describe rows that no longer exist.
 */
#include <stdint.h>
#include <string.h>

#include "store_int.h"

/*
 * A row holds its body when its topic is not NULL. In RETURNING clauses
 * that is asked as typeof(topic) != 'null': SQLite 3.40.1 (Debian 12)
 * answers "topic IS [NOT] NULL" there wrongly for a NULL topic.
 */
const struct sql_def sql_queue_defs[] = {
	{ ST_MSG_PUT,
	  "INSERT INTO msgs(id, refs, topic, payload, qos, retain, props,"
	  " received_at, expiry_at) VALUES(?1, ?9, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
	{ ST_MSG_INFO,
	  "SELECT length(payload), expiry_at FROM msgs WHERE id = ?1" },
	{ ST_MSG_REF,
	  "UPDATE msgs SET refs = refs + ?2 WHERE id = ?1 RETURNING refs" },
	{ ST_MSG_DEL, "DELETE FROM msgs WHERE id = ?1" },
	{ ST_MSG_BODY,
	  "SELECT topic, payload, qos, retain, props, received_at, expiry_at"
	  " FROM msgs WHERE id = ?1" },
	{ ST_LOG_PUT,
	  "INSERT INTO qlog(client_id, seq, msg_id, qos, retain, state,"
	  " packet_id, sub_ids, bytes, expiry_at, topic, payload, mqos,"
	  " mretain, props, received_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
	  " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)" },
	{ ST_LOG_BODY,
	  "SELECT topic, payload, mqos, mretain, props, received_at,"
	  " expiry_at FROM qlog WHERE id = ?1" },
	{ ST_LOG_UPDATE,
	  "UPDATE qlog SET state = ?2, packet_id = ?3 WHERE id = ?1" },
	{ ST_LOG_DEL, "DELETE FROM qlog WHERE id = ?1" },
	{ ST_LOG_CLEAR, "DELETE FROM qlog" },
	{ ST_LOG_EXPIRED,
	  "DELETE FROM qlog WHERE expiry_at != 0 AND expiry_at <= ?1"
	  " AND state = 0 RETURNING client_id, seq, msg_id,"
	  " typeof(topic) != 'null'" },
	{ ST_RUN_MAKE,
	  "INSERT INTO queue(run, client_id, seq, msg_id, qos, retain, state,"
	  " packet_id, sub_ids, bytes, expiry_at, topic, payload, mqos,"
	  " mretain, props, received_at) SELECT ?1, client_id, seq, msg_id,"
	  " qos, retain, state, packet_id, sub_ids, bytes, expiry_at, topic,"
	  " payload, mqos, mretain, props, received_at FROM qlog"
	  " ORDER BY client_id, seq" },
	{ ST_QUEUE_PUT,
	  "INSERT INTO queue(run, client_id, seq, msg_id, qos, retain, state,"
	  " packet_id, sub_ids, bytes, expiry_at)"
	  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)" },
	{ ST_QUEUE_UPDATE,
	  "UPDATE queue SET state = ?4, packet_id = ?5"
	  " WHERE run = ?1 AND client_id = ?2 AND seq = ?3" },
	{ ST_QUEUE_DEL,
	  "DELETE FROM queue WHERE run = ?1 AND client_id = ?2 AND seq = ?3"
	  " RETURNING msg_id, bytes, typeof(topic) != 'null'" },
	{ ST_QUEUE_DEL_SESSION,
	  "DELETE FROM queue WHERE run = ?1 AND client_id = ?2"
	  " RETURNING msg_id, typeof(topic) != 'null'" },
	{ ST_QUEUE_FIRST,
	  "SELECT seq FROM queue WHERE run = ?1 AND client_id = ?2"
	  " ORDER BY seq LIMIT 1" },
	{ ST_QUEUE_READ,
	  "SELECT q.seq, q.qos, q.retain, q.state, q.packet_id, q.sub_ids,"
	  " q.msg_id, coalesce(q.topic, m.topic),"
	  " coalesce(q.payload, m.payload), coalesce(q.mqos, m.qos),"
	  " coalesce(q.mretain, m.retain), iif(q.topic IS NULL, m.props,"
	  " q.props), coalesce(q.received_at, m.received_at), q.expiry_at"
	  " FROM queue AS q LEFT JOIN msgs AS m"
	  " ON q.topic IS NULL AND m.id = q.msg_id"
	  " WHERE q.run = ?1 AND q.client_id = ?2 AND q.seq > ?3"
	  " AND (q.topic IS NOT NULL OR m.id IS NOT NULL)"
	  " ORDER BY q.seq LIMIT ?4" },
	{ ST_QUEUE_EXPIRED,
	  "DELETE FROM queue WHERE expiry_at != 0 AND expiry_at <= ?1"
	  " AND state = 0 RETURNING run, client_id, msg_id, bytes,"
	  " typeof(topic) != 'null'" },
	{ ST_RUN_PUT, "INSERT INTO runs(run, n, max_msg) VALUES(?1, 0, ?2)" },
	{ ST_RUN_ADD,
	  "UPDATE runs SET n = n + ?2 WHERE run = ?1 RETURNING n" },
	{ ST_RUN_DEL, "DELETE FROM runs WHERE run = ?1" },
	{ ST_RUN_MOVE, "UPDATE queue SET run = ?1 WHERE run = ?2" },
	{ ST_RUN_JOIN,
	  "UPDATE runs SET n = n + (SELECT n FROM runs WHERE run = ?2),"
	  " max_msg = max(max_msg, (SELECT max_msg FROM runs WHERE run = ?2))"
	  " WHERE run = ?1" },
	{ ST_STATS_MAX, "SELECT max_seq FROM queue_stats WHERE client_id = ?1" },
	{ ST_STATS_ADD,
	  "INSERT INTO queue_stats(client_id, n, bytes, max_seq)"
	  " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(client_id) DO UPDATE SET"
	  " n = n + excluded.n, bytes = bytes + excluded.bytes,"
	  " max_seq = max(max_seq, excluded.max_seq)" },
	{ ST_STATS_SUB,
	  "UPDATE queue_stats SET n = n - 1, bytes = bytes - ?2"
	  " WHERE client_id = ?1" },
};
const size_t sql_queue_ndefs = sizeof sql_queue_defs / sizeof sql_queue_defs[0];

static struct msg_cache *
sql_queue_cache(struct store *st, uint64_t id)
{
	return &st->cache[id & (MSG_CACHE_SIZE - 1)];
}

/* The body op put in this transaction for id, or NULL. */
static const struct op *
sql_queue_pending(struct store *st, uint64_t id)
{
	struct delta_entry *e = delta_find(&st->refs, id, NULL, 0);

	return e != NULL && e->v[1] != 0 ? st->bodies[e->v[1] - 1] : NULL;
}

/* The payload length and expiry of body id: 0/0 when it is not stored. */
static int
sql_queue_info(struct store *st, uint64_t id, uint32_t *bytes,
    int64_t *expiry_at)
{
	struct msg_cache *c = sql_queue_cache(st, id);
	sqlite3_stmt *s = st->stmt[ST_MSG_INFO];
	const struct op *o;
	int rc, row;

	if (c->id == id) {
		*bytes = c->bytes;
		*expiry_at = c->expiry_at;
		return SQLITE_OK;
	}
	if ((o = sql_queue_pending(st, id)) != NULL) {
		*bytes = o->len[1];
		*expiry_at = o->t1;
		return SQLITE_OK;
	}
	*bytes = 0;
	*expiry_at = 0;
	sqlite3_bind_int64(s, 1, (int64_t)id);
	rc = sql_one(st, s, "look up message", &row);
	if (row) {
		*bytes = (uint32_t)sqlite3_column_int64(s, 0);
		*expiry_at = sqlite3_column_int64(s, 1);
		c->id = id;
		c->bytes = *bytes;
		c->expiry_at = *expiry_at;
	}
	sqlite3_reset(s);
	return rc;
}

/* Learn the largest seq the session has put in runs. */
static int
sql_queue_know_max(struct store *st, struct qsess *q)
{
	sqlite3_stmt *s = st->stmt[ST_STATS_MAX];
	int rc, row;

	if (q->max_known)
		return SQLITE_OK;
	sql_bind_bytes(s, 1, q->key, q->klen);
	rc = sql_one(st, s, "read queue counters", &row);
	q->run_max = row ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	q->max_known = rc == SQLITE_OK;
	return rc;
}

/* Learn which live runs hold rows of the session: one probe each. */
static int
sql_queue_know_runs(struct store *st, struct qsess *q)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_FIRST];
	size_t i;
	int rc = SQLITE_OK, row;

	if (q->runs_known)
		return SQLITE_OK;
	q->n_runs = 0;
	for (i = 0; i < st->qx.n_live && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(s, 1, st->qx.live[i].run);
		sql_bind_bytes(s, 2, q->key, q->klen);
		rc = sql_one(st, s, "find queue runs", &row);
		if (row)
			qsess_add_run(q, st->qx.live[i].run,
			    (uint64_t)sqlite3_column_int64(s, 0));
		sqlite3_reset(s);
	}
	q->runs_known = rc == SQLITE_OK;
	return rc;
}

/* Count n rows more (n > 0, the largest with seq max_seq) or fewer (n <
 * 0) holding bytes in all, in a session's stats and a run. */
static void
sql_queue_count(struct store *st, const void *id, size_t len, int64_t run,
    int64_t n, int64_t bytes, uint64_t max_seq)
{
	struct delta_entry *e = delta_get(&st->stats, 0, id, len);

	e->v[0] += n;
	e->v[1] += n > 0 ? bytes : -bytes;
	if (n > 0 && (int64_t)max_seq > e->v[2])
		e->v[2] = (int64_t)max_seq;
	delta_get(&st->runs, (uint64_t)run, NULL, 0)->v[0] += n;
}

/* Delete a row of a run; nothing when it does not exist. */
static int
sql_queue_run_delete(struct store *st, const void *id, size_t len,
    int64_t run, uint64_t seq, int *found)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_DEL];
	int64_t msg_id = 0, bytes = 0;
	int rc, row, inl = 0;

	sqlite3_bind_int64(s, 1, run);
	sql_bind_bytes(s, 2, id, len);
	sqlite3_bind_int64(s, 3, (int64_t)seq);
	rc = sql_one(st, s, "delete queue row", &row);
	if (row) {
		msg_id = sqlite3_column_int64(s, 0);
		bytes = sqlite3_column_int64(s, 1);
		inl = sqlite3_column_int(s, 2);
	}
	sqlite3_reset(s);
	if (found != NULL)
		*found = row;
	if (row) {
		if (!inl)
			delta_get(&st->refs, (uint64_t)msg_id, NULL, 0)->v[0]--;
		sql_queue_count(st, id, len, run, -1, bytes, 0);
	}
	return rc;
}

/* Delete a log row (one put in this transaction was never written). */
static int
sql_queue_log_delete(struct store *st, struct qsess *q, struct logrow *r)
{
	sqlite3_stmt *s = st->stmt[ST_LOG_DEL];
	struct delta_entry *e;
	int rc;

	if (r->stored) {
		sqlite3_bind_int64(s, 1, r->rowid);
		if ((rc = sql_run(st, s)) != SQLITE_OK)
			return rc;
	}
	e = delta_get(&st->refs, r->msg_id, NULL, 0);
	if (!r->stored)
		e->v[2]--;
	if (!r->inl)
		e->v[0]--;
	qsess_drop(&st->qx, q, r);
	return SQLITE_OK;
}

/* Bind a row's columns from client_id on, starting at column col; ids
 * holds the encoded sub ids until the statement has run (the binding
 * borrows them). */
static void
sql_queue_bind_row(sqlite3_stmt *s, int col, const void *id, size_t len,
    const struct logrow *r, uint8_t ids[4 * STORE_MAX_SUB_IDS])
{
	size_t i;

	for (i = 0; i < r->n_sub_ids; i++) {
		ids[4 * i] = (uint8_t)r->sub_ids[i];
		ids[4 * i + 1] = (uint8_t)(r->sub_ids[i] >> 8);
		ids[4 * i + 2] = (uint8_t)(r->sub_ids[i] >> 16);
		ids[4 * i + 3] = (uint8_t)(r->sub_ids[i] >> 24);
	}
	sql_bind_bytes(s, col, id, len);
	sqlite3_bind_int64(s, col + 1, (int64_t)r->seq);
	sqlite3_bind_int64(s, col + 2, (int64_t)r->msg_id);
	sqlite3_bind_int(s, col + 3, r->qos);
	sqlite3_bind_int(s, col + 4, r->retain);
	sqlite3_bind_int(s, col + 5, r->state);
	sqlite3_bind_int(s, col + 6, r->packet_id);
	if (r->n_sub_ids != 0)
		sql_bind_bytes(s, col + 7, ids, 4 * (size_t)r->n_sub_ids);
	else
		sqlite3_bind_null(s, col + 7);
	sqlite3_bind_int64(s, col + 8, r->bytes);
	sqlite3_bind_int64(s, col + 9, r->expiry_at);
}

/* Bind the body columns of a log row (topic to received_at) from column
 * col on: those of body op o, or NULL (o NULL: the body is in msgs). */
static void
sql_queue_bind_body(sqlite3_stmt *s, int col, const struct op *o)
{
	int i;

	if (o == NULL) {
		for (i = 0; i < 6; i++)
			sqlite3_bind_null(s, col + i);
		return;
	}
	sql_bind_bytes(s, col, batch_str(o, 0), o->len[0]);
	sql_bind_bytes(s, col + 1, batch_str(o, 1), o->len[1]);
	sqlite3_bind_int(s, col + 2, o->qos);
	sqlite3_bind_int(s, col + 3, o->retain);
	if (o->len[2] != 0)
		sql_bind_bytes(s, col + 4, batch_str(o, 2), o->len[2]);
	else
		sqlite3_bind_null(s, col + 4);
	sqlite3_bind_int64(s, col + 5, o->t0);
}

/* Insert a row into a run (counted in stats and the run). */
static int
sql_queue_run_insert(struct store *st, const void *id, size_t len,
    int64_t run, const struct logrow *r)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_PUT];
	uint8_t ids[4 * STORE_MAX_SUB_IDS];
	int rc;

	sqlite3_bind_int64(s, 1, run);
	sql_queue_bind_row(s, 2, id, len, r, ids);
	if ((rc = sql_run(st, s)) != SQLITE_OK)
		return rc;
	sql_queue_count(st, id, len, run, 1, r->bytes, r->seq);
	return SQLITE_OK;
}

static int
sql_queue_insert(struct store *st, const struct op *o)
{
	struct logrow r;

	memset(&r, 0, sizeof r);
	r.seq = o->seq;
	r.msg_id = o->msg_id;
	r.qos = o->qos;
	r.retain = o->retain;
	r.state = o->state;
	r.packet_id = o->packet_id;
	r.n_sub_ids = o->n_sub_ids;
	memcpy(r.sub_ids, o->sub_ids, sizeof r.sub_ids);
	return sql_queue_insert_row(st, batch_str(o, 0), o->len[0], &r);
}

/* id must live as long as the transaction (a batch's string). */
int
sql_queue_insert_row(struct store *st, const void *id, size_t len,
    struct logrow *rp)
{
	struct qsess *q = qindex_get(&st->qx, id, len);
	struct delta_entry *e;
	struct logrow r = *rp, *old;
	const struct logrow *o = &r;
	size_t i;
	int rc;

	if ((rc = sql_queue_info(st, o->msg_id, &r.bytes, &r.expiry_at)) !=
	    SQLITE_OK || (rc = sql_queue_know_max(st, q)) != SQLITE_OK)
		return rc;
	if (o->seq <= q->run_max) {
		/* Not above the runs: it belongs to the run covering it. */
		if ((rc = sql_queue_know_runs(st, q)) != SQLITE_OK)
			return rc;
		if (q->n_runs != 0) {
			i = qsess_run_for(q, o->seq);
			if (o->seq < q->runs[i].first_seq)
				q->runs[i].first_seq = o->seq;
			if ((rc = sql_queue_run_delete(st, id, len,
			    q->runs[i].run, o->seq, NULL)) != SQLITE_OK ||
			    (rc = sql_queue_run_insert(st, id, len,
			    q->runs[i].run, &r)) != SQLITE_OK)
				return rc;
			delta_get(&st->refs, o->msg_id, NULL, 0)->v[0]++;
			return SQLITE_OK;
		}
	}
	if ((old = qsess_row(q, o->seq)) != NULL &&
	    (rc = sql_queue_log_delete(st, q, old)) != SQLITE_OK)
		return rc;
	/* Written by sql_queue_flush, maybe with its body. */
	qsess_add(&st->qx, q, &r);
	e = delta_get(&st->refs, o->msg_id, NULL, 0);
	e->v[0]++;
	e->v[2]++;
	st->pend = store_grow(st->pend, st->n_pend, &st->pend_cap, 64,
	    sizeof *st->pend);
	st->pend[st->n_pend].id = id;
	st->pend[st->n_pend].len = len;
	st->pend[st->n_pend].seq = o->seq;
	st->n_pend++;
	return SQLITE_OK;
}

static int
sql_queue_update(struct store *st, const struct op *o)
{
	const void *id = batch_str(o, 0);
	size_t len = o->len[0], i;
	struct qsess *q = qindex_get(&st->qx, id, len);
	struct logrow *r;
	sqlite3_stmt *s;
	int rc, found;

	if ((r = qsess_row(q, o->seq)) != NULL && !r->stored) {
		r->state = o->state;
		r->packet_id = o->packet_id;
		return SQLITE_OK;
	}
	if (r != NULL) {
		s = st->stmt[ST_LOG_UPDATE];
		sqlite3_bind_int64(s, 1, r->rowid);
		sqlite3_bind_int(s, 2, o->state);
		sqlite3_bind_int(s, 3, o->packet_id);
		if ((rc = sql_run(st, s)) == SQLITE_OK) {
			r->state = o->state;
			r->packet_id = o->packet_id;
		}
		return rc;
	}
	if ((rc = sql_queue_know_runs(st, q)) != SQLITE_OK)
		return rc;
	if (q->n_runs != 0) {
		i = qsess_run_for(q, o->seq);
		s = st->stmt[ST_QUEUE_UPDATE];
		sqlite3_bind_int64(s, 1, q->runs[i].run);
		sql_bind_bytes(s, 2, id, len);
		sqlite3_bind_int64(s, 3, (int64_t)o->seq);
		sqlite3_bind_int(s, 4, o->state);
		sqlite3_bind_int(s, 5, o->packet_id);
		if ((rc = sql_run(st, s)) != SQLITE_OK ||
		    sqlite3_changes(st->db) > 0)
			return rc;
	}
	/* Not a row: maybe a span's (sql_group.c), which becomes one. */
	return sql_group_take(st, q, id, len, o->seq, o, &found);
}

static int
sql_queue_delete(struct store *st, const struct op *o)
{
	const void *id = batch_str(o, 0);
	size_t len = o->len[0];
	struct qsess *q = qindex_get(&st->qx, id, len);
	struct logrow *r;
	int rc, found = 0;

	if ((r = qsess_row(q, o->seq)) != NULL)
		return sql_queue_log_delete(st, q, r);
	if ((rc = sql_queue_know_runs(st, q)) != SQLITE_OK)
		return rc;
	if (q->n_runs != 0 && ((rc = sql_queue_run_delete(st, id, len,
	    q->runs[qsess_run_for(q, o->seq)].run, o->seq, &found)) !=
	    SQLITE_OK || found))
		return rc;
	/* Not a row: maybe a span's (sql_group.c). */
	return sql_group_take(st, q, id, len, o->seq, NULL, &found);
}

static int
sql_queue_msg_put(struct store *st, const struct op *o)
{
	struct delta_entry *e = delta_get(&st->refs, o->msg_id, NULL, 0);
	struct msg_cache *c;

	/* Written by sql_queue_flush with its net reference count. */
	if (e->v[1] != 0)
		return SQLITE_OK;
	st->bodies = store_grow(st->bodies, st->n_bodies, &st->bodies_cap,
	    64, sizeof *st->bodies);
	st->bodies[st->n_bodies++] = o;
	e->v[1] = (int64_t)st->n_bodies;
	c = sql_queue_cache(st, o->msg_id);
	c->id = o->msg_id;
	c->bytes = o->len[1];
	c->expiry_at = o->t1;
	return SQLITE_OK;
}

int
sql_queue_apply(struct store *st, const struct op *o)
{
	switch (o->kind) {
	case OP_MSG_PUT:
		return sql_queue_msg_put(st, o);
	case OP_QUEUE_PUT:
		return sql_queue_insert(st, o);
	case OP_QUEUE_UPDATE:
		return sql_queue_update(st, o);
	case OP_QUEUE_DEL:
		return sql_queue_delete(st, o);
	}
	return SQLITE_MISUSE;
}

int
sql_queue_session_delete(struct store *st, const void *id, size_t len)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_DEL_SESSION];
	struct qsess *q = qindex_get(&st->qx, id, len);
	size_t i;
	int rc;

	if ((rc = sql_queue_know_runs(st, q)) != SQLITE_OK)
		return rc;
	for (i = 0; i < q->n_runs; i++) {
		sqlite3_bind_int64(s, 1, q->runs[i].run);
		sql_bind_bytes(s, 2, id, len);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (sqlite3_column_int(s, 1) == 0)
				delta_get(&st->refs,
				    (uint64_t)sqlite3_column_int64(s, 0), NULL,
				    0)->v[0]--;
			delta_get(&st->runs, (uint64_t)q->runs[i].run, NULL,
			    0)->v[0]--;
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			sql_error(st, "delete session queue");
			return rc;
		}
	}
	while (q->n > q->head) {
		if ((rc = sql_queue_log_delete(st, q, &q->rows[q->head])) !=
		    SQLITE_OK)
			return rc;
	}
	qindex_remove(&st->qx, q);
	return sql_group_session_delete(st, id, len);
}

/* Write the log rows put in this transaction. A row whose body was put
 * in it too and is not wanted by another new log row takes the body
 * along: one write, and its delete later frees the body with the row. */
static int
sql_queue_write_log(struct store *st)
{
	sqlite3_stmt *s = st->stmt[ST_LOG_PUT];
	uint8_t ids[4 * STORE_MAX_SUB_IDS];
	const struct pend *p;
	struct delta_entry *e;
	const struct op *o;
	struct logrow *r;
	struct qsess *q;
	size_t i;
	int rc;

	for (i = 0; i < st->n_pend; i++) {
		p = &st->pend[i];
		/* Gone again (or written: the seq was put twice). */
		if ((q = qindex_find(&st->qx, p->id, p->len)) == NULL ||
		    (r = qsess_row(q, p->seq)) == NULL || r->stored)
			continue;
		e = delta_find(&st->refs, r->msg_id, NULL, 0);
		o = e != NULL && e->v[1] != 0 && e->v[2] == 1 ?
		    st->bodies[e->v[1] - 1] : NULL;
		sql_queue_bind_row(s, 1, q->key, q->klen, r, ids);
		sql_queue_bind_body(s, 11, o);
		if ((rc = sql_run(st, s)) != SQLITE_OK)
			return rc;
		r->rowid = sqlite3_last_insert_rowid(st->db);
		r->stored = 1;
		if (o != NULL) {
			r->inl = 1;
			e->v[0]--;
			e->v[2] = 0;
		}
	}
	st->n_pend = 0;
	return SQLITE_OK;
}

/* Once the log holds st->run_rows rows, copy it sorted into a new run
 * (so the run fills new pages one after another) and empty it. */
static int
sql_queue_make_run(struct store *st)
{
	struct qindex *x = &st->qx;
	struct qsess *q;
	sqlite3_stmt *s;
	int64_t run, bytes, total = 0;
	uint64_t max_msg = 0;
	size_t i, k;
	int rc;

	if (x->log_rows < st->run_rows)
		return SQLITE_OK;
	run = x->n_live != 0 ? x->live[x->n_live - 1].run + 1 : 1;
	s = st->stmt[ST_RUN_MAKE];
	sqlite3_bind_int64(s, 1, run);
	if ((rc = sql_run(st, s)) != SQLITE_OK ||
	    (rc = sql_run(st, st->stmt[ST_LOG_CLEAR])) != SQLITE_OK)
		return rc;
	qindex_add_live(x, run, 0);
	for (i = 0; i < x->nslot; i++) {
		if ((q = x->slot[i]) == NULL || q->n == q->head)
			continue;
		for (k = q->head, bytes = 0; k < q->n; k++) {
			bytes += q->rows[k].bytes;
			if (q->rows[k].msg_id > max_msg)
				max_msg = q->rows[k].msg_id;
		}
		/* The run's count starts at zero: the flush adds these. */
		sql_queue_count(st, q->key, q->klen, run,
		    (int64_t)(q->n - q->head), bytes, q->rows[q->n - 1].seq);
		if (q->runs_known)
			qsess_add_run(q, run, q->rows[q->head].seq);
		if (q->max_known && q->rows[q->n - 1].seq > q->run_max)
			q->run_max = q->rows[q->n - 1].seq;
		total += (int64_t)(q->n - q->head);
		qsess_empty(q);
	}
	x->log_rows -= (size_t)total;
	/* Its rows' message ids, some of whose bodies it alone holds: the
	 * largest is kept for store_load (ids continue from it). */
	s = st->stmt[ST_RUN_PUT];
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_int64(s, 2, (int64_t)max_msg);
	return sql_run(st, s);
}

/*
 * Make two neighbouring runs one: the pair with the fewest rows, the
 * smaller moved into the larger. Neighbours hold neighbouring seq ranges
 * of each session, so the result still reads in seq order. This bounds
 * the live runs a session's first read probes when a few rows that are
 * never fetched keep old runs alive. Only sparse runs are joined (the
 * pair holds at most a run's worth of rows): a large backlog keeps its
 * full runs, written once. SQLITE_DONE when no pair is that sparse.
 */
static int
sql_queue_join_runs(struct store *st)
{
	struct qindex *x = &st->qx;
	sqlite3_stmt *s;
	size_t i, best = 0;
	int64_t into, from;
	int rc;

	for (i = 1; i + 1 < x->n_live; i++) {
		if (x->live[i].n + x->live[i + 1].n <
		    x->live[best].n + x->live[best + 1].n)
			best = i;
	}
	if (x->live[best].n + x->live[best + 1].n > (int64_t)st->run_rows)
		return SQLITE_DONE;
	into = x->live[best].run;
	from = x->live[best + 1].run;
	if (x->live[best].n < x->live[best + 1].n) {
		into = from;
		from = x->live[best].run;
	}
	s = st->stmt[ST_RUN_MOVE];
	sqlite3_bind_int64(s, 1, into);
	sqlite3_bind_int64(s, 2, from);
	if ((rc = sql_run(st, s)) != SQLITE_OK)
		return rc;
	s = st->stmt[ST_RUN_JOIN];
	sqlite3_bind_int64(s, 1, into);
	sqlite3_bind_int64(s, 2, from);
	if ((rc = sql_run(st, s)) != SQLITE_OK)
		return rc;
	s = st->stmt[ST_RUN_DEL];
	sqlite3_bind_int64(s, 1, from);
	if ((rc = sql_run(st, s)) != SQLITE_OK)
		return rc;
	qindex_join_runs(x, best, into);
	return SQLITE_OK;
}

/* Write the net reference change of body e->ikey. */
static int
sql_queue_flush_body(struct store *st, const struct delta_entry *e)
{
	const struct op *o = e->v[1] != 0 ? st->bodies[e->v[1] - 1] : NULL;
	sqlite3_stmt *s;
	struct msg_cache *c;
	int64_t refs = 0;
	int rc, row;

	if (o != NULL && e->v[0] <= 0) {
		/* Maybe never stored: forget what the put cached. */
		c = sql_queue_cache(st, e->ikey);
		if (c->id == e->ikey)
			c->id = 0;
	}
	if (e->v[0] == 0)
		return SQLITE_OK;
	if (o != NULL && e->v[0] > 0) {
		s = st->stmt[ST_MSG_PUT];
		sqlite3_bind_int64(s, 1, (int64_t)o->msg_id);
		sql_bind_bytes(s, 2, batch_str(o, 0), o->len[0]);
		sql_bind_bytes(s, 3, batch_str(o, 1), o->len[1]);
		sqlite3_bind_int(s, 4, o->qos);
		sqlite3_bind_int(s, 5, o->retain);
		if (o->len[2] != 0)
			sql_bind_bytes(s, 6, batch_str(o, 2), o->len[2]);
		else
			sqlite3_bind_null(s, 6);
		sqlite3_bind_int64(s, 7, o->t0);
		sqlite3_bind_int64(s, 8, o->t1);
		sqlite3_bind_int64(s, 9, e->v[0]);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc == SQLITE_DONE)
			return SQLITE_OK;
		if ((rc & 0xff) != SQLITE_CONSTRAINT) {
			sql_error(st, "insert message");
			return rc;
		}
		/* Stored already (put again by a later batch): count. */
	}
	s = st->stmt[ST_MSG_REF];
	sqlite3_bind_int64(s, 1, (int64_t)e->ikey);
	sqlite3_bind_int64(s, 2, e->v[0]);
	rc = sql_one(st, s, "update message references", &row);
	if (row)
		refs = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_OK || !row || refs > 0)
		return rc;
	s = st->stmt[ST_MSG_DEL];
	sqlite3_bind_int64(s, 1, (int64_t)e->ikey);
	rc = sql_run(st, s);
	c = sql_queue_cache(st, e->ikey);
	if (c->id == e->ikey)
		c->id = 0;
	return rc;
}

/* Write a run's net row count change; drop the run once empty. */
static int
sql_queue_flush_run(struct store *st, const struct delta_entry *e)
{
	sqlite3_stmt *s = st->stmt[ST_RUN_ADD];
	int64_t n = 0;
	size_t i;
	int rc, row;

	if (e->v[0] == 0)
		return SQLITE_OK;
	sqlite3_bind_int64(s, 1, (int64_t)e->ikey);
	sqlite3_bind_int64(s, 2, e->v[0]);
	rc = sql_one(st, s, "count run rows", &row);
	if (row)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_OK || !row)
		return rc;
	if (n > 0) {
		for (i = 0; i < st->qx.n_live; i++) {
			if (st->qx.live[i].run == (int64_t)e->ikey)
				st->qx.live[i].n = n;
		}
		return SQLITE_OK;
	}
	s = st->stmt[ST_RUN_DEL];
	sqlite3_bind_int64(s, 1, (int64_t)e->ikey);
	if ((rc = sql_run(st, s)) == SQLITE_OK)
		qindex_drop_run(&st->qx, (int64_t)e->ikey);
	return rc;
}

int
sql_queue_flush(struct store *st)
{
	sqlite3_stmt *s;
	struct delta_entry *e;
	size_t i;
	int rc;

	if ((rc = sql_group_flush(st)) == SQLITE_OK &&
	    (rc = sql_queue_write_log(st)) == SQLITE_OK)
		rc = sql_queue_make_run(st);
	for (i = 0; i < st->stats.n && rc == SQLITE_OK; i++) {
		e = &st->stats.e[i];
		if (e->v[0] == 0 && e->v[1] == 0 && e->v[2] == 0)
			continue;
		s = st->stmt[ST_STATS_ADD];
		sql_bind_bytes(s, 1, e->key, e->klen);
		sqlite3_bind_int64(s, 2, e->v[0]);
		sqlite3_bind_int64(s, 3, e->v[1]);
		sqlite3_bind_int64(s, 4, e->v[2]);
		rc = sql_run(st, s);
	}
	for (i = 0; i < st->runs.n && rc == SQLITE_OK; i++)
		rc = sql_queue_flush_run(st, &st->runs.e[i]);
	while (rc == SQLITE_OK && st->qx.n_live > QUEUE_RUNS_MAX)
		rc = sql_queue_join_runs(st);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	for (i = 0; i < st->refs.n && rc == SQLITE_OK; i++)
		rc = sql_queue_flush_body(st, &st->refs.e[i]);
	delta_clear(&st->stats);
	delta_clear(&st->runs);
	delta_clear(&st->refs);
	st->n_bodies = 0;
	st->n_pend = 0;
	return rc;
}

int
sql_queue_rebuild(struct store *st)
{
	static const char runs_sql[] = "SELECT run, n FROM runs ORDER BY run";
	static const char log_sql[] =
	    "SELECT id, client_id, seq, msg_id, qos, retain, state,"
	    " packet_id, sub_ids, bytes, expiry_at, topic IS NOT NULL"
	    " FROM qlog ORDER BY id";
	sqlite3_stmt *s = NULL;
	struct logrow r;
	struct qsess *q;
	const void *id;
	const uint8_t *p;
	size_t len, i;
	int rc;

	delta_clear(&st->stats);
	delta_clear(&st->runs);
	delta_clear(&st->refs);
	sql_group_clear(st);
	st->n_bodies = 0;
	st->n_pend = 0;
	memset(st->cache, 0, sizeof st->cache);
	qindex_clear(&st->qx);

	if ((rc = sqlite3_prepare_v2(st->db, runs_sql, -1, &s, NULL)) !=
	    SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		qindex_add_live(&st->qx, sqlite3_column_int64(s, 0),
		    sqlite3_column_int64(s, 1));
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	if ((rc = sqlite3_prepare_v2(st->db, log_sql, -1, &s, NULL)) !=
	    SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&r, 0, sizeof r);
		r.rowid = sqlite3_column_int64(s, 0);
		id = sql_column_bytes(s, 1, &len);
		r.seq = (uint64_t)sqlite3_column_int64(s, 2);
		r.msg_id = (uint64_t)sqlite3_column_int64(s, 3);
		r.qos = (uint8_t)sqlite3_column_int(s, 4);
		r.retain = (uint8_t)sqlite3_column_int(s, 5);
		r.state = (uint8_t)sqlite3_column_int(s, 6);
		r.packet_id = (uint16_t)sqlite3_column_int(s, 7);
		q = qindex_get(&st->qx, id, len);
		p = sql_column_bytes(s, 8, &len);
		for (i = 0; i < len / 4 && i < STORE_MAX_SUB_IDS; i++)
			r.sub_ids[i] = (uint32_t)p[4 * i] |
			    (uint32_t)p[4 * i + 1] << 8 |
			    (uint32_t)p[4 * i + 2] << 16 |
			    (uint32_t)p[4 * i + 3] << 24;
		r.n_sub_ids = (uint8_t)i;
		r.bytes = (uint32_t)sqlite3_column_int64(s, 9);
		r.expiry_at = sqlite3_column_int64(s, 10);
		r.inl = (uint8_t)sqlite3_column_int(s, 11);
		r.stored = 1;
		if (qsess_row(q, r.seq) == NULL)
			qsess_add(&st->qx, q, &r);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	return SQLITE_OK;

fail:
	sql_error(st, "read the queue log");
	sqlite3_finalize(s);
	qindex_clear(&st->qx);
	return rc == SQLITE_OK || rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

int
sql_queue_expire(struct store *st, int64_t now)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_EXPIRED], *u;
	struct qsess *q;
	struct logrow *r;
	const void *id;
	size_t len;
	int rc, rc2;

	/* DELETE ... RETURNING makes every change at the first step and
	 * buffers the rows, so other statements may run in between. */
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sql_column_bytes(s, 1, &len);
		if (sqlite3_column_int(s, 4) == 0)
			delta_get(&st->refs,
			    (uint64_t)sqlite3_column_int64(s, 2), NULL,
			    0)->v[0]--;
		delta_get(&st->runs, (uint64_t)sqlite3_column_int64(s, 0),
		    NULL, 0)->v[0]--;
		u = st->stmt[ST_STATS_SUB];
		sql_bind_bytes(u, 1, id, len);
		sqlite3_bind_int64(u, 2, sqlite3_column_int64(s, 3));
		if ((rc2 = sql_run(st, u)) != SQLITE_OK) {
			sqlite3_reset(s);
			return rc2;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sql_error(st, "delete expired queue rows");
		return rc;
	}

	s = st->stmt[ST_LOG_EXPIRED];
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sql_column_bytes(s, 0, &len);
		if (sqlite3_column_int(s, 3) == 0)
			delta_get(&st->refs,
			    (uint64_t)sqlite3_column_int64(s, 2), NULL,
			    0)->v[0]--;
		if ((q = qindex_find(&st->qx, id, len)) != NULL &&
		    (r = qsess_row(q,
		    (uint64_t)sqlite3_column_int64(s, 1))) != NULL)
			qsess_drop(&st->qx, q, r);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sql_error(st, "delete expired queue rows");
		return rc;
	}
	return SQLITE_OK;
}

/* Little-endian subscription ids of a queue row. */
static void
sql_queue_sub_ids(struct store_queued *q, const uint8_t *p, size_t len)
{
	size_t i, n = len / 4;

	if (n > STORE_MAX_SUB_IDS)
		n = STORE_MAX_SUB_IDS;
	for (i = 0; i < n; i++) {
		q->sub_ids[i] = (uint32_t)p[4 * i] |
		    (uint32_t)p[4 * i + 1] << 8 |
		    (uint32_t)p[4 * i + 2] << 16 |
		    (uint32_t)p[4 * i + 3] << 24;
	}
	q->n_sub_ids = (uint8_t)n;
}

/* Copy len bytes into the job's arena; returns their offset. */
static size_t
sql_queue_arena(struct qread *rd, const void *p, size_t len)
{
	size_t off = rd->used;

	if (rd->cap - rd->used < len) {
		while (rd->cap - rd->used < len)
			rd->cap = rd->cap ? rd->cap * 2 : 4096;
		rd->j->arena = store_xrealloc(rd->j->arena, rd->cap);
	}
	if (len != 0)
		memcpy(rd->j->arena + off, p, len);
	rd->used += len;
	return off;
}

struct store_queued *
sql_queue_new_row(struct qread *rd)
{
	struct job *j = rd->j;
	struct store_queued *q;

	if (j->n_rows == rd->rows_cap) {
		rd->rows_cap = rd->rows_cap ? rd->rows_cap * 2 : 16;
		if (rd->rows_cap > 2 * (size_t)j->limit)
			rd->rows_cap = 2 * (size_t)j->limit;
		j->rows = store_xrealloc(j->rows, rd->rows_cap * sizeof *j->rows);
		rd->off = store_xrealloc(rd->off,
		    rd->rows_cap * 3 * sizeof *rd->off);
	}
	q = &j->rows[j->n_rows];
	memset(q, 0, sizeof *q);
	return q;
}

/* The body columns of s from col on (topic, payload, qos, retain, props,
 * received_at, expiry_at) into row q, the job's last new row. */
void
sql_queue_take_body(struct qread *rd, struct store_queued *q,
    sqlite3_stmt *s, int col)
{
	size_t len, k = 3 * rd->j->n_rows;
	const void *p;

	p = sql_column_bytes(s, col, &len);
	rd->off[k] = sql_queue_arena(rd, p, len);
	q->msg.topic_len = (uint32_t)len;
	p = sql_column_bytes(s, col + 1, &len);
	rd->off[k + 1] = sql_queue_arena(rd, p, len);
	q->msg.payload_len = (uint32_t)len;
	q->msg.qos = (uint8_t)sqlite3_column_int(s, col + 2);
	q->msg.retain = (uint8_t)sqlite3_column_int(s, col + 3);
	p = sql_column_bytes(s, col + 4, &len);
	rd->off[k + 2] = sql_queue_arena(rd, p, len);
	q->msg.props_len = (uint32_t)len;
	q->msg.received_at = sqlite3_column_int64(s, col + 5);
	q->msg.expiry_at = sqlite3_column_int64(s, col + 6);
	rd->j->n_rows++;
}

/* Rows of one run with seq > *after, up to the job's limit. */
static int
sql_queue_read_run(struct store *st, struct qread *rd, int64_t run,
    uint64_t *after)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_READ];
	struct job *j = rd->j;
	struct store_queued *q;
	const void *p;
	size_t len;
	int rc;

	sqlite3_bind_int64(s, 1, run);
	sql_bind_bytes(s, 2, j->id, j->id_len);
	sqlite3_bind_int64(s, 3, (int64_t)*after);
	sqlite3_bind_int64(s, 4, (int64_t)(j->limit - j->n_rows));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		q = sql_queue_new_row(rd);
		q->seq = (uint64_t)sqlite3_column_int64(s, 0);
		q->qos = (uint8_t)sqlite3_column_int(s, 1);
		q->retain = (uint8_t)sqlite3_column_int(s, 2);
		q->state = (uint8_t)sqlite3_column_int(s, 3);
		q->packet_id = (uint16_t)sqlite3_column_int(s, 4);
		p = sql_column_bytes(s, 5, &len);
		sql_queue_sub_ids(q, p, len);
		q->msg.id = (uint64_t)sqlite3_column_int64(s, 6);
		sql_queue_take_body(rd, q, s, 7);
		*after = q->seq;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sql_error(st, "read queue");
		return rc;
	}
	return SQLITE_OK;
}

/* A log row with its body (none when the body is gone). */
static int
sql_queue_read_log(struct store *st, struct qread *rd, const struct logrow *r)
{
	sqlite3_stmt *s = st->stmt[r->inl ? ST_LOG_BODY : ST_MSG_BODY];
	struct store_queued *q;
	int rc, row;

	sqlite3_bind_int64(s, 1, r->inl ? r->rowid : (int64_t)r->msg_id);
	rc = sql_one(st, s, "read queued message", &row);
	if (row) {
		q = sql_queue_new_row(rd);
		q->seq = r->seq;
		q->qos = r->qos;
		q->retain = r->retain;
		q->state = r->state;
		q->packet_id = r->packet_id;
		q->n_sub_ids = r->n_sub_ids;
		memcpy(q->sub_ids, r->sub_ids, sizeof q->sub_ids);
		q->msg.id = r->msg_id;
		sql_queue_take_body(rd, q, s, 0);
	}
	sqlite3_reset(s);
	return rc;
}

/* A row's place in a merge. */
struct qmerge {
	uint64_t seq;
	size_t i;
};

static int
sql_queue_merge_cmp(const void *a, const void *b)
{
	const struct qmerge *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The job's rows are the session's rows then its spans' rows, each part
 * in seq order and at most the job's limit long: the first `limit` of
 * both in seq order are the answer. The rows move with their arena
 * offsets.
 */
static void
sql_queue_merge(struct qread *rd)
{
	struct job *j = rd->j;
	size_t n = j->n_rows, i;
	struct store_queued *rows;
	struct qmerge *ix;
	size_t *off;

	ix = store_xmalloc(n * sizeof *ix);
	for (i = 0; i < n; i++) {
		ix[i].seq = j->rows[i].seq;
		ix[i].i = i;
	}
	qsort(ix, n, sizeof *ix, sql_queue_merge_cmp);
	rows = store_xmalloc(n * sizeof *rows);
	off = store_xmalloc(3 * n * sizeof *off);
	for (i = 0; i < n; i++) {
		rows[i] = j->rows[ix[i].i];
		memcpy(off + 3 * i, rd->off + 3 * ix[i].i, 3 * sizeof *off);
	}
	free(j->rows);
	free(rd->off);
	free(ix);
	j->rows = rows;
	rd->off = off;
	rd->rows_cap = n;
	if (j->n_rows > j->limit)
		j->n_rows = j->limit;
}

int
sql_queue_read(struct store *st, struct job *j)
{
	struct qread rd;
	struct qsess *qs = qindex_get(&st->qx, j->id, j->id_len);
	const struct logrow *r;
	struct store_queued *q;
	const uint8_t *base;
	uint64_t after = j->after_seq;
	size_t i, n_real;
	int rc;

	memset(&rd, 0, sizeof rd);
	rd.j = j;
	rc = sql_queue_know_runs(st, qs);
	if (rc == SQLITE_OK && qs->n_runs != 0) {
		for (i = qsess_run_for(qs, after + 1); i < qs->n_runs &&
		    j->n_rows < j->limit && rc == SQLITE_OK; i++)
			rc = sql_queue_read_run(st, &rd, qs->runs[i].run,
			    &after);
	}
	while (rc == SQLITE_OK && j->n_rows < j->limit &&
	    (r = qsess_after(qs, after)) != NULL) {
		after = r->seq;
		rc = sql_queue_read_log(st, &rd, r);
	}
	/* Rows of the session's spans (sql_group.c), merged by seq. */
	n_real = j->n_rows;
	if (rc == SQLITE_OK)
		rc = sql_group_read(st, &rd, j->after_seq);
	if (rc == SQLITE_OK && j->n_rows > n_real && n_real > 0)
		sql_queue_merge(&rd);

	/* The arena has stopped moving: turn offsets into pointers. */
	base = j->arena != NULL ? j->arena : (const uint8_t *)"";
	for (i = 0; i < j->n_rows; i++) {
		q = &j->rows[i];
		q->msg.topic = (const char *)base + rd.off[3 * i];
		q->msg.payload = base + rd.off[3 * i + 1];
		q->msg.props = q->msg.props_len != 0 ?
		    base + rd.off[3 * i + 2] : NULL;
	}
	free(rd.off);
	if (rc != SQLITE_OK) {
		j->n_rows = 0;
		return rc;
	}
	return SQLITE_OK;
}
