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

static int
load_sessions(struct store *st, const struct store_load_cb *cb, void *arg,
    char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT s.client_id, s.expiry, s.disconnected_at, s.version,"
	    " s.will, coalesce(q.n, 0), coalesce(q.bytes, 0),"
	    " coalesce(q.max_seq, 0), s.user_kind, s.user"
	    " FROM sessions AS s LEFT JOIN queue_stats AS q"
	    " ON q.client_id = s.client_id";
	struct store_session ss;
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

	*max_msg_id = 0;
	if (cb->session != NULL && load_sessions(st, cb, arg, err,
	    errlen) != 0)
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
