/*
 * sql_queue.c - message bodies, the offline queue of each session (with
 * the in-flight state of its rows) and the per-session queue counters.
 *
 * DESIGN
 *
 * Bodies (table msgs) are stored once per message id, however many queue
 * rows and retained rows point at them. Each body keeps a reference count
 * (msgs.refs). A transaction does not update it per row: every queue or
 * retained row added or removed adds +1/-1 to st->refs (delta.c), and
 * sql_queue_flush, just before COMMIT, writes each touched body once and
 * deletes those left at zero. So a body is deleted in the very
 * transaction that drops its last reference, and a fan-out of one message
 * to N queues costs N row inserts plus one body write. A body put in a
 * batch without any reference is dropped by the same flush.
 *
 * A queue row is keyed (client_id, seq) in a WITHOUT ROWID table, so one
 * session's rows are contiguous and in order: a resume reads them with a
 * range scan joined to the bodies. The row carries copies of its body's
 * payload length and expiry time (from a small direct-mapped cache of
 * recent bodies, else one lookup) so that:
 *   - queue_stats (rows, payload bytes, largest seq per session) is kept
 *     from the same deltas and start-up reads one row per session instead
 *     of the queue (a million queued rows load in the time of 10k rows);
 *   - message expiry (MQTT v5 3.3.2.3.3) finds expired rows through the
 *     partial index queue_expiry, which holds only rows that can expire.
 *     Only rows still STORE_STATE_QUEUED are dropped: a message already
 *     sent must finish its QoS exchange.
 *
 * Reusing a (client_id, seq) replaces the old row (its reference and
 * counts go first). After a rollback the deltas and the cache are
 * forgotten, since they may describe rows that no longer exist.
 */
#include <stdint.h>
#include <string.h>

#include "store_int.h"

const struct sql_def sql_queue_defs[] = {
	{ ST_MSG_PUT,
	  "INSERT OR IGNORE INTO msgs(id, refs, topic, payload, qos, retain,"
	  " props, received_at, expiry_at)"
	  " VALUES(?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
	{ ST_MSG_INFO,
	  "SELECT length(payload), expiry_at FROM msgs WHERE id = ?1" },
	{ ST_MSG_REF,
	  "UPDATE msgs SET refs = refs + ?2 WHERE id = ?1 RETURNING refs" },
	{ ST_MSG_DEL, "DELETE FROM msgs WHERE id = ?1" },
	{ ST_QUEUE_PUT,
	  "INSERT INTO queue(client_id, seq, msg_id, qos, retain, state,"
	  " packet_id, sub_ids, bytes, expiry_at)"
	  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)" },
	{ ST_QUEUE_UPDATE,
	  "UPDATE queue SET state = ?3, packet_id = ?4"
	  " WHERE client_id = ?1 AND seq = ?2" },
	{ ST_QUEUE_DEL,
	  "DELETE FROM queue WHERE client_id = ?1 AND seq = ?2"
	  " RETURNING msg_id, bytes" },
	{ ST_QUEUE_READ,
	  "SELECT q.seq, q.qos, q.retain, q.state, q.packet_id, q.sub_ids,"
	  " m.id, m.topic, m.payload, m.qos, m.retain, m.props,"
	  " m.received_at, m.expiry_at"
	  " FROM queue AS q JOIN msgs AS m ON m.id = q.msg_id"
	  " WHERE q.client_id = ?1 AND q.seq > ?2 ORDER BY q.seq LIMIT ?3" },
	{ ST_QUEUE_EXPIRED,
	  "DELETE FROM queue WHERE expiry_at != 0 AND expiry_at <= ?1"
	  " AND state = 0 RETURNING client_id, msg_id, bytes" },
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

/* The payload length and expiry of body id: 0/0 when it is not stored. */
static int
sql_queue_info(struct store *st, uint64_t id, uint32_t *bytes,
    int64_t *expiry_at)
{
	struct msg_cache *c = sql_queue_cache(st, id);
	sqlite3_stmt *s = st->stmt[ST_MSG_INFO];
	int rc;

	if (c->id == id) {
		*bytes = c->bytes;
		*expiry_at = c->expiry_at;
		return SQLITE_OK;
	}
	*bytes = 0;
	*expiry_at = 0;
	sqlite3_bind_int64(s, 1, (int64_t)id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*bytes = (uint32_t)sqlite3_column_int64(s, 0);
		*expiry_at = sqlite3_column_int64(s, 1);
		c->id = id;
		c->bytes = *bytes;
		c->expiry_at = *expiry_at;
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	else
		sql_error(st, "look up message");
	sqlite3_reset(s);
	return rc;
}

/* Delete one queue row, dropping its reference and counts. */
static int
sql_queue_delete(struct store *st, const void *id, size_t len, uint64_t seq)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_DEL];
	struct delta_entry *e;
	int64_t msg_id = 0, bytes = 0;
	int rc, found = 0;

	sql_bind_bytes(s, 1, id, len);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		msg_id = sqlite3_column_int64(s, 0);
		bytes = sqlite3_column_int64(s, 1);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	else
		sql_error(st, "delete queue row");
	sqlite3_reset(s);
	if (found) {
		delta_get(&st->refs, (uint64_t)msg_id, NULL, 0)->v[0]--;
		e = delta_get(&st->stats, 0, id, len);
		e->v[0]--;
		e->v[1] -= bytes;
	}
	return rc;
}

static int
sql_queue_insert(struct store *st, const struct op *o)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_PUT];
	const void *id = batch_str(o, 0);
	uint8_t ids[4 * STORE_MAX_SUB_IDS];
	struct delta_entry *e;
	uint32_t bytes;
	int64_t expiry_at;
	int rc, retried = 0;
	size_t i;

	if ((rc = sql_queue_info(st, o->msg_id, &bytes, &expiry_at)) !=
	    SQLITE_OK)
		return rc;
	for (i = 0; i < o->n_sub_ids; i++) {
		ids[4 * i] = (uint8_t)o->sub_ids[i];
		ids[4 * i + 1] = (uint8_t)(o->sub_ids[i] >> 8);
		ids[4 * i + 2] = (uint8_t)(o->sub_ids[i] >> 16);
		ids[4 * i + 3] = (uint8_t)(o->sub_ids[i] >> 24);
	}
again:
	sql_bind_bytes(s, 1, id, o->len[0]);
	sqlite3_bind_int64(s, 2, (int64_t)o->seq);
	sqlite3_bind_int64(s, 3, (int64_t)o->msg_id);
	sqlite3_bind_int(s, 4, o->qos);
	sqlite3_bind_int(s, 5, o->retain);
	sqlite3_bind_int(s, 6, o->state);
	sqlite3_bind_int(s, 7, o->packet_id);
	if (o->n_sub_ids != 0)
		sql_bind_bytes(s, 8, ids, 4 * (size_t)o->n_sub_ids);
	else
		sqlite3_bind_null(s, 8);
	sqlite3_bind_int64(s, 9, bytes);
	sqlite3_bind_int64(s, 10, expiry_at);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT && !retried) {
		/* The seq is reused: replace the row. */
		retried = 1;
		if ((rc = sql_queue_delete(st, id, o->len[0], o->seq)) !=
		    SQLITE_OK)
			return rc;
		goto again;
	}
	if (rc != SQLITE_DONE) {
		sql_error(st, "insert queue row");
		return rc;
	}
	delta_get(&st->refs, o->msg_id, NULL, 0)->v[0]++;
	e = delta_get(&st->stats, 0, id, o->len[0]);
	e->v[0]++;
	e->v[1] += bytes;
	if ((int64_t)o->seq > e->v[2])
		e->v[2] = (int64_t)o->seq;
	return SQLITE_OK;
}

static int
sql_queue_msg_put(struct store *st, const struct op *o)
{
	sqlite3_stmt *s = st->stmt[ST_MSG_PUT];
	struct msg_cache *c;
	int rc;

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
	if ((rc = sql_run(st, s)) != SQLITE_OK)
		return rc;
	if (sqlite3_changes(st->db) != 0) {
		c = sql_queue_cache(st, o->msg_id);
		c->id = o->msg_id;
		c->bytes = o->len[1];
		c->expiry_at = o->t1;
	}
	/* Registered with no change: the flush drops it if unreferenced. */
	delta_get(&st->refs, o->msg_id, NULL, 0);
	return SQLITE_OK;
}

int
sql_queue_apply(struct store *st, const struct op *o)
{
	sqlite3_stmt *s;

	switch (o->kind) {
	case OP_MSG_PUT:
		return sql_queue_msg_put(st, o);
	case OP_QUEUE_PUT:
		return sql_queue_insert(st, o);
	case OP_QUEUE_UPDATE:
		s = st->stmt[ST_QUEUE_UPDATE];
		sql_bind_bytes(s, 1, batch_str(o, 0), o->len[0]);
		sqlite3_bind_int64(s, 2, (int64_t)o->seq);
		sqlite3_bind_int(s, 3, o->state);
		sqlite3_bind_int(s, 4, o->packet_id);
		return sql_run(st, s);
	case OP_QUEUE_DEL:
		return sql_queue_delete(st, batch_str(o, 0), o->len[0], o->seq);
	}
	return SQLITE_MISUSE;
}

int
sql_queue_flush(struct store *st)
{
	sqlite3_stmt *s;
	struct delta_entry *e;
	struct msg_cache *c;
	size_t i;
	int rc = SQLITE_OK, found;
	int64_t refs;

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
	for (i = 0; i < st->refs.n && rc == SQLITE_OK; i++) {
		e = &st->refs.e[i];
		s = st->stmt[ST_MSG_REF];
		sqlite3_bind_int64(s, 1, (int64_t)e->ikey);
		sqlite3_bind_int64(s, 2, e->v[0]);
		found = 0;
		refs = 0;
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			found = 1;
			refs = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
		else
			sql_error(st, "update message references");
		sqlite3_reset(s);
		if (rc != SQLITE_OK || !found || refs > 0)
			continue;
		s = st->stmt[ST_MSG_DEL];
		sqlite3_bind_int64(s, 1, (int64_t)e->ikey);
		rc = sql_run(st, s);
		c = sql_queue_cache(st, e->ikey);
		if (c->id == e->ikey)
			c->id = 0;
	}
	delta_clear(&st->stats);
	delta_clear(&st->refs);
	return rc;
}

void
sql_queue_forget(struct store *st)
{
	delta_clear(&st->stats);
	delta_clear(&st->refs);
	memset(st->cache, 0, sizeof st->cache);
}

int
sql_queue_expire(struct store *st, int64_t now)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_EXPIRED], *u;
	const void *id;
	size_t len;
	int rc, rc2;

	/* DELETE ... RETURNING makes every change at the first step and
	 * buffers the rows, so other statements may run in between. */
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sql_column_bytes(s, 0, &len);
		delta_get(&st->refs, (uint64_t)sqlite3_column_int64(s, 1),
		    NULL, 0)->v[0]--;
		u = st->stmt[ST_STATS_SUB];
		sql_bind_bytes(u, 1, id, len);
		sqlite3_bind_int64(u, 2, sqlite3_column_int64(s, 2));
		if ((rc2 = sql_run(st, u)) != SQLITE_OK) {
			sqlite3_reset(s);
			return rc2;
		}
	}
	if (rc != SQLITE_DONE) {
		sql_error(st, "delete expired queue rows");
		sqlite3_reset(s);
		return rc;
	}
	sqlite3_reset(s);
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
sql_queue_arena(uint8_t **arena, size_t *used, size_t *cap, const void *p,
    size_t len)
{
	size_t off = *used;

	if (*cap - *used < len) {
		while (*cap - *used < len)
			*cap = *cap ? *cap * 2 : 4096;
		*arena = store_xrealloc(*arena, *cap);
	}
	if (len != 0)
		memcpy(*arena + off, p, len);
	*used += len;
	return off;
}

int
sql_queue_read(struct store *st, struct job *j)
{
	sqlite3_stmt *s = st->stmt[ST_QUEUE_READ];
	struct store_queued *q;
	size_t cap = 0, used = 0, rows_cap = 0, len, i;
	size_t *off = NULL; /* topic, payload, props offsets per row */
	const uint8_t *base;
	const void *p;
	int rc;

	sql_bind_bytes(s, 1, j->id, j->id_len);
	sqlite3_bind_int64(s, 2, (int64_t)j->after_seq);
	sqlite3_bind_int64(s, 3, j->limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (j->n_rows == rows_cap) {
			rows_cap = rows_cap ? rows_cap * 2 : 16;
			if (rows_cap > j->limit)
				rows_cap = j->limit;
			j->rows = store_xrealloc(j->rows,
			    rows_cap * sizeof *j->rows);
			off = store_xrealloc(off, rows_cap * 3 * sizeof *off);
		}
		q = &j->rows[j->n_rows];
		memset(q, 0, sizeof *q);
		q->seq = (uint64_t)sqlite3_column_int64(s, 0);
		q->qos = (uint8_t)sqlite3_column_int(s, 1);
		q->retain = (uint8_t)sqlite3_column_int(s, 2);
		q->state = (uint8_t)sqlite3_column_int(s, 3);
		q->packet_id = (uint16_t)sqlite3_column_int(s, 4);
		p = sql_column_bytes(s, 5, &len);
		sql_queue_sub_ids(q, p, len);
		q->msg.id = (uint64_t)sqlite3_column_int64(s, 6);
		p = sql_column_bytes(s, 7, &len);
		off[3 * j->n_rows] = sql_queue_arena(&j->arena, &used, &cap,
		    p, len);
		q->msg.topic_len = (uint32_t)len;
		p = sql_column_bytes(s, 8, &len);
		off[3 * j->n_rows + 1] = sql_queue_arena(&j->arena, &used,
		    &cap, p, len);
		q->msg.payload_len = (uint32_t)len;
		q->msg.qos = (uint8_t)sqlite3_column_int(s, 9);
		q->msg.retain = (uint8_t)sqlite3_column_int(s, 10);
		p = sql_column_bytes(s, 11, &len);
		off[3 * j->n_rows + 2] = sql_queue_arena(&j->arena, &used,
		    &cap, p, len);
		q->msg.props_len = (uint32_t)len;
		q->msg.received_at = sqlite3_column_int64(s, 12);
		q->msg.expiry_at = sqlite3_column_int64(s, 13);
		j->n_rows++;
	}
	if (rc != SQLITE_DONE)
		sql_error(st, "read queue");
	sqlite3_reset(s);

	/* The arena has stopped moving: turn offsets into pointers. */
	base = j->arena != NULL ? j->arena : (const uint8_t *)"";
	for (i = 0; i < j->n_rows; i++) {
		q = &j->rows[i];
		q->msg.topic = (const char *)base + off[3 * i];
		q->msg.payload = base + off[3 * i + 1];
		q->msg.props = q->msg.props_len != 0 ?
		    base + off[3 * i + 2] : NULL;
	}
	free(off);
	if (rc != SQLITE_DONE) {
		j->n_rows = 0;
		return rc;
	}
	return SQLITE_OK;
}
