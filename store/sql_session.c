/*
 * sql_session.c - sessions, their subscriptions and their incoming QoS 2
 * packet ids.
 *
 * DESIGN
 *
 * The session is the unit of persistence (docs/ARCHITECTURE.md, "Seams"):
 * every row the store keeps for a client is keyed by its client id, so a
 * session delete is a keyed delete per table (sessions, subs, qos2,
 * queue_stats) plus its queue rows, which sql_queue.c finds in the log
 * and in each run; they return their message ids so the bodies'
 * references drop in the same transaction.
 *
 * A put replaces the session row only (expiry, disconnect time, protocol
 * level, will); subscriptions and queue rows are written by their own
 * calls. Session expiry (MQTT v5 3.1.2.11.2) is evaluated here from
 * disconnected_at + expiry through the partial expression index
 * sessions_deadline, so an expiry pass reads only the sessions due.
 */
#include <string.h>

#include "store_int.h"

const struct sql_def sql_session_defs[] = {
	{ ST_SESSION_PUT,
	  "INSERT OR REPLACE INTO sessions(client_id, expiry, disconnected_at,"
	  " version, will, user_kind, user) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
	  " ?7)" },
	{ ST_SESSION_DEL, "DELETE FROM sessions WHERE client_id = ?1" },
	{ ST_SESSION_SUBS_DEL, "DELETE FROM subs WHERE client_id = ?1" },
	{ ST_SESSION_QOS2_DEL, "DELETE FROM qos2 WHERE client_id = ?1" },
	{ ST_SESSION_STATS_DEL,
	  "DELETE FROM queue_stats WHERE client_id = ?1" },
	{ ST_SESSION_EXPIRED,
	  "SELECT client_id FROM sessions WHERE disconnected_at != 0 AND"
	  " expiry != 4294967295 AND disconnected_at + expiry <= ?1" },
	{ ST_SUB_PUT,
	  "INSERT OR REPLACE INTO subs(client_id, filter, options, sub_id)"
	  " VALUES(?1, ?2, ?3, ?4)" },
	{ ST_SUB_DEL, "DELETE FROM subs WHERE client_id = ?1 AND filter = ?2" },
	{ ST_QOS2_PUT,
	  "INSERT OR IGNORE INTO qos2(client_id, packet_id) VALUES(?1, ?2)" },
	{ ST_QOS2_DEL,
	  "DELETE FROM qos2 WHERE client_id = ?1 AND packet_id = ?2" },
};
const size_t sql_session_ndefs =
    sizeof sql_session_defs / sizeof sql_session_defs[0];

int
sql_session_delete(struct store *st, const void *id, size_t len)
{
	static const enum stmt_id plain[] = { ST_SESSION_DEL,
	    ST_SESSION_SUBS_DEL, ST_SESSION_QOS2_DEL, ST_SESSION_STATS_DEL };
	sqlite3_stmt *s;
	struct delta_entry *e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		s = st->stmt[plain[i]];
		sql_bind_bytes(s, 1, id, len);
		if ((rc = sql_run(st, s)) != SQLITE_OK)
			return rc;
	}

	/* Queue rows: each drops one reference to its body. */
	if ((rc = sql_queue_session_delete(st, id, len)) != SQLITE_OK)
		return rc;

	/* The stats row is gone: forget this transaction's count changes. */
	if ((e = delta_find(&st->stats, 0, id, len)) != NULL)
		memset(e->v, 0, sizeof e->v);
	return SQLITE_OK;
}

int
sql_session_apply(struct store *st, const struct op *o)
{
	const void *id = batch_str(o, 0);
	sqlite3_stmt *s;

	switch (o->kind) {
	case OP_SESSION_PUT:
		s = st->stmt[ST_SESSION_PUT];
		sql_bind_bytes(s, 1, id, o->len[0]);
		sqlite3_bind_int64(s, 2, o->expiry);
		sqlite3_bind_int64(s, 3, o->t0);
		sqlite3_bind_int(s, 4, o->version);
		if (o->has_will)
			sql_bind_bytes(s, 5, batch_str(o, 1), o->len[1]);
		else
			sqlite3_bind_null(s, 5);
		sqlite3_bind_int(s, 6, o->user_kind);
		if (o->user_kind == STORE_USER_NAMED)
			sql_bind_bytes(s, 7, batch_str(o, 2), o->len[2]);
		else
			sqlite3_bind_null(s, 7);
		return sql_run(st, s);
	case OP_SESSION_DEL:
		return sql_session_delete(st, id, o->len[0]);
	case OP_SUB_PUT:
		s = st->stmt[ST_SUB_PUT];
		sql_bind_bytes(s, 1, id, o->len[0]);
		sql_bind_bytes(s, 2, batch_str(o, 1), o->len[1]);
		sqlite3_bind_int(s, 3, o->options);
		sqlite3_bind_int64(s, 4, o->sub_id);
		return sql_run(st, s);
	case OP_SUB_DEL:
		s = st->stmt[ST_SUB_DEL];
		sql_bind_bytes(s, 1, id, o->len[0]);
		sql_bind_bytes(s, 2, batch_str(o, 1), o->len[1]);
		return sql_run(st, s);
	case OP_QOS2_PUT:
	case OP_QOS2_DEL:
		s = st->stmt[o->kind == OP_QOS2_PUT ? ST_QOS2_PUT : ST_QOS2_DEL];
		sql_bind_bytes(s, 1, id, o->len[0]);
		sqlite3_bind_int(s, 2, o->packet_id);
		return sql_run(st, s);
	}
	return SQLITE_MISUSE;
}

int
sql_session_expire(struct store *st, int64_t now, uint64_t *n)
{
	sqlite3_stmt *s = st->stmt[ST_SESSION_EXPIRED];
	uint8_t **ids = NULL;
	size_t *lens = NULL, count = 0, cap = 0, i, len;
	const void *p;
	int rc;

	/* Collect first: the deletes must not run under the SELECT. */
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			ids = store_xrealloc(ids, cap * sizeof *ids);
			lens = store_xrealloc(lens, cap * sizeof *lens);
		}
		p = sql_column_bytes(s, 0, &len);
		ids[count] = store_xmalloc(len);
		memcpy(ids[count], p, len);
		lens[count++] = len;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sql_error(st, "select expired sessions");
		goto out;
	}
	rc = SQLITE_OK;
	for (i = 0; i < count && rc == SQLITE_OK; i++)
		rc = sql_session_delete(st, ids[i], lens[i]);
	if (rc == SQLITE_OK)
		*n = count;

out:
	for (i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
	free(lens);
	return rc;
}
