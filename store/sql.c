/*
 * sql.c - prepared statements and the small helpers every sql_*.c uses.
 *
 * DESIGN
 *
 * Every statement the store thread runs is prepared once, at open, with
 * SQLITE_PREPARE_PERSISTENT, and kept in st->stmt[] under an enum id; each
 * sql_*.c file lists its own statements next to the code that runs them
 * (a table of struct sql_def). A statement is always reset right after
 * use, so none holds a read cursor open between jobs.
 *
 * Keys and bodies are bound as BLOBs, never TEXT: client ids, filters and
 * topics are byte strings and compare with memcmp. An empty string is a
 * zero-length BLOB, never NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

int
sql_prepare(struct store *st, const struct sql_def *defs, size_t n,
    char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (sqlite3_prepare_v3(st->db, defs[i].text, -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[defs[i].id],
		    NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare \"%s\": %s",
			    defs[i].text, sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

int
sql_prepare_all(struct store *st, char *err, size_t errlen)
{
	static const struct sql_def defs[] = {
		{ ST_BEGIN, "BEGIN IMMEDIATE" },
		{ ST_COMMIT, "COMMIT" },
		{ ST_ROLLBACK, "ROLLBACK" },
	};

	if (sql_prepare(st, defs, sizeof defs / sizeof defs[0], err,
	    errlen) != 0 ||
	    sql_prepare(st, sql_session_defs, sql_session_ndefs, err,
	    errlen) != 0 ||
	    sql_prepare(st, sql_queue_defs, sql_queue_ndefs, err,
	    errlen) != 0 ||
	    sql_prepare(st, sql_retain_defs, sql_retain_ndefs, err,
	    errlen) != 0 ||
	    sql_prepare(st, sql_group_defs, sql_group_ndefs, err,
	    errlen) != 0)
		return -1;
	return 0;
}

void
sql_finalize_all(struct store *st)
{
	size_t i;

	for (i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
}

void
sql_bind_bytes(sqlite3_stmt *s, int col, const void *p, size_t len)
{
	sqlite3_bind_blob64(s, col, len != 0 ? p : "", len, SQLITE_STATIC);
}

const void *
sql_column_bytes(sqlite3_stmt *s, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(s, col);

	*len = (size_t)sqlite3_column_bytes(s, col);
	return p != NULL ? p : "";
}

int
sql_run(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		rc = SQLITE_OK;
	else
		sql_error(st, sqlite3_sql(s));
	sqlite3_reset(s);
	return rc;
}

int
sql_one(struct store *st, sqlite3_stmt *s, const char *what, int *found)
{
	int rc = sqlite3_step(s);

	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return SQLITE_OK;
	sql_error(st, what);
	return rc;
}

void
sql_error(struct store *st, const char *what)
{
	store_set_error(st, "%s: %s", what, sqlite3_errmsg(st->db));
}
