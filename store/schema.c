/*
 * schema.c - opening the database: refuse what is not ours, migrate what
 * is older, and set the connection up (WAL, synchronous, locking).
 *
 * DESIGN
 *
 * A database outlives the binary that wrote it (STYLE.md 4.13), so it
 * carries two marks: PRAGMA application_id 0x7465726e ("tern") in its
 * header, and a one-row table schema_version holding the schema version.
 * schema_steps[v] takes a database from version v to v + 1; a new
 * database runs them all, an older one the missing ones, each run in the
 * one transaction that also records the new version. A newer database is
 * refused, naming both versions: its format is unknown to us.
 *
 * A database that is refused is never modified, not one byte:
 *   1. the file's header is read with plain read(2) before SQLite sees it:
 *      garbage (no "SQLite format 3" magic, impossible page size or
 *      format), a file cut short (smaller than the page count the header
 *      vouches for) and a foreign application id are refused here;
 *   2. then a READ-ONLY connection checks the schema: a corrupt schema
 *      page fails to parse, a database with tables but no schema_version
 *      is not ours, a newer version is refused. A read-only connection
 *      never writes the database file and never checkpoints a WAL left by
 *      a crash;
 *   3. only then is the read-write connection opened and migrated.
 * Damage deeper in a b-tree that the header and schema do not reveal
 * surfaces as SQLITE_CORRUPT on the page's first use: the batch fails
 * (done ok=0) and nothing is written over it. A full PRAGMA quick_check
 * would find it at start-up but reads the whole file, which the start-up
 * budget (a million queued rows ready in under 3 s) cannot afford.
 *
 * Connection settings: journal_mode=WAL (readers never block the writer,
 * a commit appends to the log); synchronous=NORMAL survives a process
 * crash (a commit is in the OS once write(2) returns; the WAL is synced at
 * checkpoints), FULL also syncs the WAL at every commit and survives power
 * loss; locking_mode=EXCLUSIVE: one connection, held for the store's life,
 * and the WAL index lives in heap memory instead of a shared -shm mapping.
 * wal_autocheckpoint = 8192 pages (32 MB of log between checkpoints,
 * against SQLite's 1000) makes the checkpoints, which write and sync the
 * database file on the store thread, rarer: about 30% more commits per
 * second in store_test's benchmark; journal_size_limit trims the log back
 * to 64 MB after a large transaction. A restart replays at most that much
 * log.
 * busy_timeout covers the one case where the file could be locked
 * (another process reading it, e.g. an operator's sqlite3 shell); a second
 * ternd is kept out earlier by the lock file (store.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

#define SCHEMA_APP_ID 0x7465726e /* "tern" */
#define SCHEMA_HEADER 100
#define SCHEMA_BUSY_MS 5000

/*
 * Forward migrations: schema_steps[v] takes version v to v + 1. Never edit
 * a step that has shipped; add one.
 */
static const char *const schema_steps[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES(0);"
	"CREATE TABLE sessions("
	" client_id BLOB NOT NULL PRIMARY KEY,"
	" expiry INTEGER NOT NULL,"
	" disconnected_at INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" will BLOB) WITHOUT ROWID;"
	"CREATE INDEX sessions_deadline ON sessions(disconnected_at + expiry)"
	" WHERE disconnected_at != 0 AND expiry != 4294967295;"
	"CREATE TABLE subs("
	" client_id BLOB NOT NULL,"
	" filter BLOB NOT NULL,"
	" options INTEGER NOT NULL,"
	" sub_id INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, filter)) WITHOUT ROWID;"
	"CREATE TABLE qos2("
	" client_id BLOB NOT NULL,"
	" packet_id INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, packet_id)) WITHOUT ROWID;"
	"CREATE TABLE msgs("
	" id INTEGER PRIMARY KEY,"
	" refs INTEGER NOT NULL,"
	" topic BLOB NOT NULL,"
	" payload BLOB NOT NULL,"
	" qos INTEGER NOT NULL,"
	" retain INTEGER NOT NULL,"
	" props BLOB,"
	" received_at INTEGER NOT NULL,"
	" expiry_at INTEGER NOT NULL);"
	"CREATE INDEX msgs_expiry ON msgs(expiry_at) WHERE expiry_at != 0;"
	"CREATE TABLE queue("
	" client_id BLOB NOT NULL,"
	" seq INTEGER NOT NULL,"
	" msg_id INTEGER NOT NULL,"
	" qos INTEGER NOT NULL,"
	" retain INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" packet_id INTEGER NOT NULL,"
	" sub_ids BLOB,"
	" bytes INTEGER NOT NULL,"
	" expiry_at INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX queue_expiry ON queue(expiry_at) WHERE expiry_at != 0;"
	"CREATE TABLE queue_stats("
	" client_id BLOB NOT NULL PRIMARY KEY,"
	" n INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL,"
	" max_seq INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE retained("
	" topic BLOB NOT NULL PRIMARY KEY,"
	" msg_id INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX retained_msg ON retained(msg_id);",

	/* 1 -> 2: the queue as a log plus sorted runs (sql_queue.c), rows
	 * that may hold their message body (topic to received_at, NULL
	 * when the body is in msgs); the rows of version 1 become run 1. */
	"CREATE TABLE runs("
	" run INTEGER PRIMARY KEY,"
	" n INTEGER NOT NULL,"
	" max_msg INTEGER NOT NULL);"
	"CREATE TABLE queue2("
	" run INTEGER NOT NULL,"
	" client_id BLOB NOT NULL,"
	" seq INTEGER NOT NULL,"
	" msg_id INTEGER NOT NULL,"
	" qos INTEGER NOT NULL,"
	" retain INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" packet_id INTEGER NOT NULL,"
	" sub_ids BLOB,"
	" bytes INTEGER NOT NULL,"
	" expiry_at INTEGER NOT NULL,"
	" topic BLOB,"
	" payload BLOB,"
	" mqos INTEGER,"
	" mretain INTEGER,"
	" props BLOB,"
	" received_at INTEGER,"
	" PRIMARY KEY(run, client_id, seq)) WITHOUT ROWID;"
	"INSERT INTO queue2(run, client_id, seq, msg_id, qos, retain, state,"
	" packet_id, sub_ids, bytes, expiry_at) SELECT 1, client_id, seq,"
	" msg_id, qos, retain, state, packet_id, sub_ids, bytes, expiry_at"
	" FROM queue;"
	"INSERT INTO runs SELECT 1, n, m FROM (SELECT count(*) AS n,"
	" max(msg_id) AS m FROM queue) WHERE n > 0;"
	"DROP TABLE queue;"
	"ALTER TABLE queue2 RENAME TO queue;"
	"CREATE INDEX queue_expiry ON queue(expiry_at) WHERE expiry_at != 0;"
	"CREATE TABLE qlog("
	" id INTEGER PRIMARY KEY,"
	" client_id BLOB NOT NULL,"
	" seq INTEGER NOT NULL,"
	" msg_id INTEGER NOT NULL,"
	" qos INTEGER NOT NULL,"
	" retain INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" packet_id INTEGER NOT NULL,"
	" sub_ids BLOB,"
	" bytes INTEGER NOT NULL,"
	" expiry_at INTEGER NOT NULL,"
	" topic BLOB,"
	" payload BLOB,"
	" mqos INTEGER,"
	" mretain INTEGER,"
	" props BLOB,"
	" received_at INTEGER);"
	"CREATE INDEX qlog_expiry ON qlog(expiry_at) WHERE expiry_at != 0;",

	/* 2 -> 3: the user of each session's client (the ACL's subject
	 * while it is offline): user_kind 0 unknown (rows from before), 1
	 * anonymous, 2 the user named in user. */
	"ALTER TABLE sessions ADD COLUMN user_kind INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN user BLOB;",

	/* 3 -> 4: group logs and spans (sql_group.c). glog: one row per
	 * message of a filter, seqs dense per filter, cum the sum of the
	 * payload bytes up to and including it; spans: a session's queue
	 * seqs first_seq... are entries first_log... of filter's log, up to
	 * last_log (0: open). */
	"CREATE TABLE glog("
	" filter BLOB NOT NULL,"
	" seq INTEGER NOT NULL,"
	" msg_id INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL,"
	" cum INTEGER NOT NULL,"
	" PRIMARY KEY(filter, seq)) WITHOUT ROWID;"
	"CREATE TABLE spans("
	" client_id BLOB NOT NULL,"
	" first_seq INTEGER NOT NULL,"
	" filter BLOB NOT NULL,"
	" first_log INTEGER NOT NULL,"
	" last_log INTEGER NOT NULL,"
	" qos INTEGER NOT NULL,"
	" rap INTEGER NOT NULL,"
	" sub_id INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, first_seq)) WITHOUT ROWID;"
	"CREATE INDEX spans_filter ON spans(filter, first_log);",
};

_Static_assert(sizeof schema_steps / sizeof schema_steps[0] ==
    STORE_SCHEMA_VERSION, "one migration step per schema version");

static uint32_t
schema_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* 1 when path has a non-empty -wal file beside it. */
static int
schema_has_wal(const char *path)
{
	struct stat sb;
	char *wal;
	size_t len = strlen(path);
	int has;

	wal = store_xmalloc(len + 5);
	memcpy(wal, path, len);
	memcpy(wal + len, "-wal", 5);
	has = stat(wal, &sb) == 0 && sb.st_size > 0;
	free(wal);
	return has;
}

/*
 * Step 1: the file header, read without SQLite. Sets *is_new when there
 * is no database yet (missing or empty file). Returns 0 or -1 with err.
 */
static int
schema_check_file(const char *path, int *is_new, char *err, size_t errlen)
{
	uint8_t h[SCHEMA_HEADER];
	struct stat sb;
	uint32_t page_size, pages, app_id;
	ssize_t n;
	int fd, rc = -1;

	*is_new = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			*is_new = 1;
			return 0;
		}
		snprintf(err, errlen, "cannot read database %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "database %s is not a regular file",
		    path);
		goto out;
	}
	if (sb.st_size == 0) {
		*is_new = 1;
		rc = 0;
		goto out;
	}
	n = pread(fd, h, sizeof h, 0);
	if (n == -1) {
		snprintf(err, errlen, "cannot read database %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (n < SCHEMA_HEADER || memcmp(h, "SQLite format 3", 16) != 0) {
		snprintf(err, errlen, "database %s is corrupt: not an SQLite "
		    "database (bad header); refusing to touch it", path);
		goto out;
	}
	page_size = (uint32_t)h[16] << 8 | h[17];
	if (page_size == 1)
		page_size = 65536;
	if (page_size < 512 || (page_size & (page_size - 1)) != 0 ||
	    (h[18] != 1 && h[18] != 2) || (h[19] != 1 && h[19] != 2)) {
		snprintf(err, errlen, "database %s is corrupt: bad page size or "
		    "format in its header; refusing to touch it", path);
		goto out;
	}
	/*
	 * The page count is trusted only when valid-for matches the change
	 * counter, and only without a WAL to replay: a crash during a
	 * checkpoint that grows the file leaves the header written before
	 * the last pages, which the WAL still holds.
	 */
	pages = schema_be32(h + 28);
	if (sb.st_size % page_size != 0 || (pages != 0 &&
	    schema_be32(h + 24) == schema_be32(h + 92) &&
	    (uint64_t)sb.st_size < (uint64_t)pages * page_size &&
	    !schema_has_wal(path))) {
		snprintf(err, errlen, "database %s is corrupt: truncated "
		    "(%lld bytes, its header says %u pages of %u bytes); "
		    "refusing to touch it", path, (long long)sb.st_size, pages,
		    page_size);
		goto out;
	}
	app_id = schema_be32(h + 68);
	if (app_id != SCHEMA_APP_ID && app_id != 0) {
		snprintf(err, errlen, "%s is not a tern database "
		    "(application_id 0x%08x); refusing to touch it", path,
		    app_id);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* One integer from a query on db; -1 with err on failure. */
static int
schema_int(sqlite3 *db, const char *sql, int64_t *v, const char *path,
    char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*v = 0;
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "database %s is corrupt or unreadable: "
		    "%s; refusing to touch it", path, sqlite3_errmsg(db));
	}
	sqlite3_finalize(s);
	return rc == SQLITE_OK ? 0 : -1;
}

/*
 * Step 2: the schema, through a read-only connection. *version: 0 for a
 * database with no table yet.
 */
static int
schema_check_db(const char *path, int64_t *version, char *err,
    size_t errlen)
{
	sqlite3 *db = NULL;
	int64_t tables, ours;
	int rc = -1;

	*version = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, SCHEMA_BUSY_MS);
	if (schema_int(db, "SELECT count(*) FROM sqlite_schema", &tables,
	    path, err, errlen) != 0)
		goto out;
	if (schema_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name = 'schema_version'", &ours, path, err,
	    errlen) != 0)
		goto out;
	if (ours == 0) {
		if (tables != 0) {
			snprintf(err, errlen, "%s is not a tern database (no "
			    "schema_version table); refusing to touch it", path);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (schema_int(db, "SELECT max(version) FROM schema_version", version,
	    path, err, errlen) != 0)
		goto out;
	if (*version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "database %s has schema version %lld, "
		    "newer than version %d that this ternd knows; refusing to "
		    "open it (run a newer ternd)", path, (long long)*version,
		    STORE_SCHEMA_VERSION);
		goto out;
	}
	if (*version < 0) {
		snprintf(err, errlen, "database %s is corrupt: schema version "
		    "%lld; refusing to touch it", path, (long long)*version);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

/* Run sql (no result wanted) on db; -1 with err on failure. */
static int
schema_exec(sqlite3 *db, const char *sql, const char *path, char *err,
    size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s: %s", path, sql,
		    msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Step 3: bring the schema to STORE_SCHEMA_VERSION in one transaction. */
static int
schema_migrate(sqlite3 *db, int64_t from, const char *path, char *err,
    size_t errlen)
{
	char sql[128];
	int64_t v;

	if (from == STORE_SCHEMA_VERSION)
		return 0;
	if (schema_exec(db, "BEGIN IMMEDIATE", path, err, errlen) != 0)
		return -1;
	for (v = from; v < STORE_SCHEMA_VERSION; v++) {
		if (schema_exec(db, schema_steps[v], path, err, errlen) != 0)
			goto fail;
	}
	snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d;"
	    "PRAGMA application_id = %d", STORE_SCHEMA_VERSION,
	    SCHEMA_APP_ID);
	if (schema_exec(db, sql, path, err, errlen) != 0 ||
	    schema_exec(db, "COMMIT", path, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

sqlite3 *
schema_open(const char *path, int sync_full, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t version = 0;
	int is_new;
	const char *mode;
	char pragma[64];

	if (schema_check_file(path, &is_new, err, errlen) != 0)
		return NULL;
	if (!is_new && schema_check_db(path, &version, err, errlen) != 0)
		return NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, SCHEMA_BUSY_MS);
	if (schema_exec(db, "PRAGMA locking_mode = EXCLUSIVE", path, err,
	    errlen) != 0)
		goto fail;
	/* A new database gets 4 KiB pages. Queue writes append to the
	 * log and to new runs (sql_queue.c), so a commit dirties few pages
	 * and larger pages mean less per-page overhead: 4 KiB queued about
	 * 1.3x as fast as 1 KiB in docs/BENCHMARKS.md, "Durable store". (1
	 * KiB served an earlier layout that dirtied a page per message.)
	 * Must come before WAL mode; an existing database keeps its size. */
	if (is_new && schema_exec(db, "PRAGMA page_size = 4096", path, err,
	    errlen) != 0)
		goto fail;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "database %s: cannot enter WAL mode: %s",
		    path, sqlite3_errmsg(db));
		goto fail;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "database %s: cannot enter WAL mode "
		    "(journal mode is %s)", path, mode != NULL ? mode : "?");
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (schema_exec(db, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", path, err, errlen) != 0 ||
	    schema_exec(db, "PRAGMA cache_size = -32768;"
	    "PRAGMA temp_store = MEMORY;"
	    "PRAGMA journal_size_limit = 67108864", path, err, errlen) != 0)
		goto fail;
	/* Checkpoint every 32 MiB of WAL, whatever the page size. */
	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "database %s: %s", path,
		    sqlite3_errmsg(db));
		goto fail;
	}
	snprintf(pragma, sizeof pragma, "PRAGMA wal_autocheckpoint = %lld",
	    (long long)(33554432 / (sqlite3_column_int64(s, 0) > 0 ?
	    sqlite3_column_int64(s, 0) : 4096)));
	sqlite3_finalize(s);
	s = NULL;
	if (schema_exec(db, pragma, path, err, errlen) != 0)
		goto fail;
	if (schema_migrate(db, version, path, err, errlen) != 0)
		goto fail;
	return db;
fail:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return NULL;
}
