/*
 * sql_retain.c - retained messages (MQTT v5 3.3.1.3): one row per topic
 * pointing at a stored body.
 *
 * DESIGN
 *
 * A retained row is one more reference to its body (sql_queue.c): setting
 * a topic drops the reference of the message it replaces and takes one on
 * the new one; clearing it drops it. Bodies are deleted by the flush of
 * the same transaction when nothing else holds them. A retained message
 * whose Message Expiry Interval has passed is deleted by store_expire,
 * through the msgs_expiry and retained_msg indexes.
 */
#include "store_int.h"

const struct sql_def sql_retain_defs[] = {
	{ ST_RETAIN_GET, "SELECT msg_id FROM retained WHERE topic = ?1" },
	{ ST_RETAIN_PUT,
	  "INSERT OR REPLACE INTO retained(topic, msg_id) VALUES(?1, ?2)" },
	{ ST_RETAIN_DEL,
	  "DELETE FROM retained WHERE topic = ?1 RETURNING msg_id" },
	{ ST_RETAIN_EXPIRED,
	  "DELETE FROM retained WHERE msg_id IN (SELECT id FROM msgs"
	  " WHERE expiry_at != 0 AND expiry_at <= ?1) RETURNING msg_id" },
};
const size_t sql_retain_ndefs =
    sizeof sql_retain_defs / sizeof sql_retain_defs[0];

/* Run a statement returning message ids and drop one reference each. */
static int
sql_retain_unref(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		delta_get(&st->refs, (uint64_t)sqlite3_column_int64(s, 0),
		    NULL, 0)->v[0]--;
	}
	if (rc != SQLITE_DONE)
		sql_error(st, what);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
sql_retain_apply(struct store *st, const struct op *o)
{
	const void *topic = batch_str(o, 0);
	sqlite3_stmt *s;
	int rc;

	switch (o->kind) {
	case OP_RETAIN_PUT:
		s = st->stmt[ST_RETAIN_GET];
		sql_bind_bytes(s, 1, topic, o->len[0]);
		if ((rc = sql_retain_unref(st, s, "read retained")) !=
		    SQLITE_OK)
			return rc;
		s = st->stmt[ST_RETAIN_PUT];
		sql_bind_bytes(s, 1, topic, o->len[0]);
		sqlite3_bind_int64(s, 2, (int64_t)o->msg_id);
		if ((rc = sql_run(st, s)) != SQLITE_OK)
			return rc;
		delta_get(&st->refs, o->msg_id, NULL, 0)->v[0]++;
		return SQLITE_OK;
	case OP_RETAIN_DEL:
		s = st->stmt[ST_RETAIN_DEL];
		sql_bind_bytes(s, 1, topic, o->len[0]);
		return sql_retain_unref(st, s, "delete retained");
	}
	return SQLITE_MISUSE;
}

int
sql_retain_expire(struct store *st, int64_t now)
{
	sqlite3_stmt *s = st->stmt[ST_RETAIN_EXPIRED];

	sqlite3_bind_int64(s, 1, now);
	return sql_retain_unref(st, s, "delete expired retained");
}
