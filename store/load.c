/*
 * load.c - the start-up load: sessions (with their queue counters),
 * subscriptions, incoming QoS 2 ids and retained messages.
 *
 * DESIGN
 *
 * The budget is a restart with a million queued messages ready to
 * serve in under 3 s, without holding them in memory. So the load never
 * reads a queue row: each session comes with one queue_stats row (rows,
 * payload bytes, largest seq, kept by sql_queue.c in the same transactions
 * as the rows), and a session's rows are read when it resumes
 * (store_queue_read). What is read here is what the broker must hold in
 * memory anyway: sessions, their subscriptions (the topic tree),
 * their QoS 2 ids, and the retained messages with their bodies.
 *
 * Each table is read in one pass in key order, with statements prepared
 * for the call only (this runs once). The store thread is idle meanwhile
 * (store.c hands the connection over), so this runs on the caller's
 * thread and the callbacks run there too.
 */
#include "store_int.h"

static int
load_fail(struct store *st, sqlite3_stmt *s, const char *what, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "store load: %s: %s", what,
	    sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return -1;
}

/*
 * Spans (sql_group.c): an open one is closed at the newest entry of its
 * log (the broker closes a span in the batch where the session misses an
 * entry, so an open span took every entry there is), and each span's
 * rows, bytes and last seq are added to its session's counters, in
 * spans: client id -> v[0] rows, v[1] bytes, v[2] largest seq. Bytes
 * come from the entries' running sums, two lookups per span; a span
 * whose end entries are missing (a failed commit took them back) is
 * counted entry by entry.
 *
 * A failed transaction's entries are lost, but spans carried from it
 * (sql_group.c) may cover them. Such seqs read nothing, so are never
 * acknowledged: a span reduced to them would keep its log (trimmed below
 * the first entry of every span) for as long as the session lives. And
 * entries past the newest one were never committed (a log is trimmed
 * from below only), while the broker numbers the next entries from the
 * newest one (glog_loaded) and the session's next seqs from its counted
 * rows: a span over them would take the next messages too, or share its
 * seqs with the session's next rows. So first a span with no entry left
 * goes, one whose first entries are lost starts at its first entry that
 * is there (its seqs stay those of their entries), and none ends past
 * its log's newest entry.
 */
static int
load_spans(struct store *st, struct delta *spans, uint8_t ***keys,
    size_t *n_keys, char *err, size_t errlen)
{
	static const char close_sql[] =
	    "DELETE FROM spans WHERE NOT EXISTS (SELECT 1 FROM glog AS g"
	    " WHERE g.filter = spans.filter AND g.seq >= spans.first_log"
	    " AND (spans.last_log = 0 OR g.seq <= spans.last_log));"
	    "UPDATE spans SET first_seq = first_seq - first_log +"
	    " (SELECT min(seq) FROM glog AS g WHERE g.filter = spans.filter"
	    " AND g.seq >= spans.first_log), first_log = (SELECT min(seq)"
	    " FROM glog AS g WHERE g.filter = spans.filter"
	    " AND g.seq >= spans.first_log) WHERE NOT EXISTS (SELECT 1"
	    " FROM glog AS g WHERE g.filter = spans.filter"
	    " AND g.seq = spans.first_log);"
	    "UPDATE spans SET last_log = (SELECT max(seq) FROM glog AS g"
	    " WHERE g.filter = spans.filter) WHERE last_log = 0 OR"
	    " last_log > (SELECT max(seq) FROM glog AS g"
	    " WHERE g.filter = spans.filter);";
	static const char sql[] =
	    "SELECT s.client_id, s.first_seq, s.first_log, s.last_log,"
	    " lo.bytes, lo.cum, hi.cum, s.filter FROM spans AS s"
	    " LEFT JOIN glog AS lo ON lo.filter = s.filter"
	    "  AND lo.seq = s.first_log"
	    " LEFT JOIN glog AS hi ON hi.filter = s.filter"
	    "  AND hi.seq = s.last_log";
	static const char each_sql[] =
	    "SELECT count(*), coalesce(sum(bytes), 0) FROM glog"
	    " WHERE filter = ?1 AND seq BETWEEN ?2 AND ?3";
	sqlite3_stmt *each = NULL;
	const void *f;
	size_t flen;
	struct delta_entry *e;
	sqlite3_stmt *s = NULL;
	const void *id;
	uint8_t *copy;
	size_t len, cap = 0;
	int64_t n, bytes;
	uint64_t last;
	int rc;

	if (sqlite3_exec(st->db, close_sql, NULL, NULL, NULL) != SQLITE_OK)
		return load_fail(st, s, "close spans", err, errlen);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return load_fail(st, s, "spans", err, errlen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sql_column_bytes(s, 0, &len);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL &&
		    sqlite3_column_type(s, 6) != SQLITE_NULL) {
			n = sqlite3_column_int64(s, 3) -
			    sqlite3_column_int64(s, 2) + 1;
			bytes = sqlite3_column_int64(s, 6) -
			    sqlite3_column_int64(s, 5) +
			    sqlite3_column_int64(s, 4);
		} else {
			if (each == NULL && sqlite3_prepare_v2(st->db,
			    each_sql, -1, &each, NULL) != SQLITE_OK)
				break;
			f = sql_column_bytes(s, 7, &flen);
			sql_bind_bytes(each, 1, f, flen);
			sqlite3_bind_int64(each, 2, sqlite3_column_int64(s, 2));
			sqlite3_bind_int64(each, 3, sqlite3_column_int64(s, 3));
			if (sqlite3_step(each) != SQLITE_ROW) {
				sqlite3_reset(each);
				break;
			}
			n = sqlite3_column_int64(each, 0);
			bytes = sqlite3_column_int64(each, 1);
			sqlite3_reset(each);
		}
		if (n <= 0)
			continue;
		last = (uint64_t)sqlite3_column_int64(s, 1) +
		    (uint64_t)(sqlite3_column_int64(s, 3) -
		    sqlite3_column_int64(s, 2));
		if ((e = delta_find(spans, 0, id, len)) == NULL) {
			copy = store_xmalloc(len ? len : 1);
			memcpy(copy, id, len);
			*keys = store_grow(*keys, *n_keys, &cap, 16,
			    sizeof **keys);
			(*keys)[(*n_keys)++] = copy;
			e = delta_get(spans, 0, copy, len);
		}
		e->v[0] += n;
		e->v[1] += bytes;
		if ((int64_t)last > e->v[2])
			e->v[2] = (int64_t)last;
	}
	sqlite3_finalize(each);
	if (rc != SQLITE_DONE)
		return load_fail(st, s, "spans", err, errlen);
	sqlite3_finalize(s);
	return 0;
}

static int
load_glogs(struct store *st, const struct store_load_cb *cb, void *arg,
    char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT filter, max(seq), cum FROM glog GROUP BY filter";
	sqlite3_stmt *s = NULL;
	const char *f;
	size_t flen;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return load_fail(st, s, "group logs", err, errlen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		f = sql_column_bytes(s, 0, &flen);
		cb->glog(arg, f, flen, (uint64_t)sqlite3_column_int64(s, 1),
		    (uint64_t)sqlite3_column_int64(s, 2));
	}
	if (rc != SQLITE_DONE)
		return load_fail(st, s, "group logs", err, errlen);
	sqlite3_finalize(s);
	return 0;
}

static int
load_sessions(struct store *st, const struct store_load_cb *cb, void *arg,
    const struct delta *spans, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT s.client_id, s.expiry, s.disconnected_at, s.version,"
	    " s.will, coalesce(q.n, 0), coalesce(q.bytes, 0),"
	    " coalesce(q.max_seq, 0), s.user_kind, s.user"
	    " FROM sessions AS s LEFT JOIN queue_stats AS q"
	    " ON q.client_id = s.client_id";
	struct store_session ss;
	struct delta_entry *e;
	sqlite3_stmt *s = NULL;
	const struct qsess *q;
	uint64_t n, bytes, max_seq;
	size_t len, i;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return load_fail(st, s, "sessions", err, errlen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ss, 0, sizeof ss);
		ss.client_id = sql_column_bytes(s, 0, &ss.id_len);
		ss.expiry = (uint32_t)sqlite3_column_int64(s, 1);
		ss.disconnected_at = sqlite3_column_int64(s, 2);
		ss.version = (uint8_t)sqlite3_column_int(s, 3);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			ss.will = sql_column_bytes(s, 4, &len);
			ss.will_len = (uint32_t)len;
		}
		ss.user_kind = (uint8_t)sqlite3_column_int(s, 8);
		if (ss.user_kind == STORE_USER_NAMED &&
		    sqlite3_column_type(s, 9) != SQLITE_NULL)
			ss.user = (const char *)sql_column_bytes(s, 9,
			    &ss.user_len);
		else if (ss.user_kind == STORE_USER_NAMED)
			ss.user_kind = STORE_USER_UNKNOWN;
		n = (uint64_t)sqlite3_column_int64(s, 5);
		bytes = (uint64_t)sqlite3_column_int64(s, 6);
		max_seq = (uint64_t)sqlite3_column_int64(s, 7);
		/* queue_stats counts the runs; the log is in memory. */
		q = qindex_find(&st->qx, ss.client_id, ss.id_len);
		if (q != NULL && q->n > q->head) {
			n += q->n - q->head;
			for (i = q->head; i < q->n; i++)
				bytes += q->rows[i].bytes;
			if (q->rows[q->n - 1].seq > max_seq)
				max_seq = q->rows[q->n - 1].seq;
		}
		if ((e = delta_find((struct delta *)spans, 0, ss.client_id,
		    ss.id_len)) != NULL) {
			n += (uint64_t)e->v[0];
			bytes += (uint64_t)e->v[1];
			if ((uint64_t)e->v[2] > max_seq)
				max_seq = (uint64_t)e->v[2];
		}
		cb->session(arg, &ss, n, bytes, max_seq);
	}
	if (rc != SQLITE_DONE)
		return load_fail(st, s, "sessions", err, errlen);
	sqlite3_finalize(s);
	return 0;
}

static int
load_subs(struct store *st, const struct store_load_cb *cb, void *arg,
    char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT client_id, filter, options, sub_id FROM subs";
	sqlite3_stmt *s = NULL;
	const char *id, *filter;
	size_t len, flen;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return load_fail(st, s, "subscriptions", err, errlen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sql_column_bytes(s, 0, &len);
		filter = sql_column_bytes(s, 1, &flen);
		cb->sub(arg, id, len, filter, flen,
		    (uint8_t)sqlite3_column_int(s, 2),
		    (uint32_t)sqlite3_column_int64(s, 3));
	}
	if (rc != SQLITE_DONE)
		return load_fail(st, s, "subscriptions", err, errlen);
	sqlite3_finalize(s);
	return 0;
}

static int
load_qos2(struct store *st, const struct store_load_cb *cb, void *arg,
    char *err, size_t errlen)
{
	static const char sql[] = "SELECT client_id, packet_id FROM qos2";
	sqlite3_stmt *s = NULL;
	const char *id;
	size_t len;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return load_fail(st, s, "qos2 ids", err, errlen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sql_column_bytes(s, 0, &len);
		cb->qos2(arg, id, len, (uint16_t)sqlite3_column_int(s, 1));
	}
	if (rc != SQLITE_DONE)
		return load_fail(st, s, "qos2 ids", err, errlen);
	sqlite3_finalize(s);
	return 0;
}

static int
load_retained(struct store *st, const struct store_load_cb *cb, void *arg,
    char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT m.id, m.topic, m.payload, m.qos, m.retain, m.props,"
	    " m.received_at, m.expiry_at"
	    " FROM retained AS r JOIN msgs AS m ON m.id = r.msg_id";
	struct store_msg m;
	sqlite3_stmt *s = NULL;
	size_t len;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return load_fail(st, s, "retained messages", err, errlen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&m, 0, sizeof m);
		m.id = (uint64_t)sqlite3_column_int64(s, 0);
		m.topic = sql_column_bytes(s, 1, &len);
		m.topic_len = (uint32_t)len;
		m.payload = sql_column_bytes(s, 2, &len);
		m.payload_len = (uint32_t)len;
		m.qos = (uint8_t)sqlite3_column_int(s, 3);
		m.retain = (uint8_t)sqlite3_column_int(s, 4);
		if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
			m.props = sql_column_bytes(s, 5, &len);
			m.props_len = (uint32_t)len;
		}
		m.received_at = sqlite3_column_int64(s, 6);
		m.expiry_at = sqlite3_column_int64(s, 7);
		cb->retained(arg, &m);
	}
	if (rc != SQLITE_DONE)
		return load_fail(st, s, "retained messages", err, errlen);
	sqlite3_finalize(s);
	return 0;
}

int
load_run(struct store *st, const struct store_load_cb *cb, void *arg,
    uint64_t *max_msg_id, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	struct delta spans;
	uint8_t **keys = NULL;
	size_t n_keys = 0;
	int rc;

	*max_msg_id = 0;
	memset(&spans, 0, sizeof spans);
	rc = load_spans(st, &spans, &keys, &n_keys, err, errlen);
	if (rc == 0 && cb->session != NULL)
		rc = load_sessions(st, cb, arg, &spans, err, errlen);
	delta_free(&spans);
	while (n_keys > 0)
		free(keys[--n_keys]);
	free(keys);
	if (rc != 0)
		return -1;
	if (cb->glog != NULL && load_glogs(st, cb, arg, err, errlen) != 0)
		return -1;
	if (cb->sub != NULL && load_subs(st, cb, arg, err, errlen) != 0)
		return -1;
	if (cb->qos2 != NULL && load_qos2(st, cb, arg, err, errlen) != 0)
		return -1;
	if (cb->retained != NULL && load_retained(st, cb, arg, err,
	    errlen) != 0)
		return -1;

	/* Bodies live in msgs or in their queue row: runs keep their
	 * largest message id, the log is short. */
	if (sqlite3_prepare_v2(st->db, "SELECT max((SELECT coalesce(max(id),"
	    " 0) FROM msgs), (SELECT coalesce(max(max_msg), 0) FROM runs),"
	    " (SELECT coalesce(max(msg_id), 0) FROM qlog))", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
		return load_fail(st, s, "message ids", err, errlen);
	*max_msg_id = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}
