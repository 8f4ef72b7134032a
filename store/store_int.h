/*
 * store_int.h - the store's internal header, grouped by file (tmux habit):
 * the group named after a .c file declares what that file exports.
 *
 * Who touches what:
 *   caller's thread  the open batch (struct store.open), fail_next,
 *                    pushing jobs, running completions (store_poll);
 *   store thread     the SQLite connection, the prepared statements, the
 *                    per-transaction deltas and the message cache;
 *   both, under mtx  the job FIFO, the completion FIFO, backlog, busy,
 *                    last_error.
 * store_load and store_open/close use the connection on the caller's
 * thread while the store thread is idle with an empty FIFO (the mutex
 * hand-over orders the memory accesses).
 */
#ifndef TERN_STORE_INT_H
#define TERN_STORE_INT_H

#include <sys/queue.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

/* --- allocation (abort on failure; the store's OOM policy) --- */

static inline void
store_oom(size_t n)
{
	fprintf(stderr, "ternd: store: out of memory allocating %zu bytes\n",
	    n);
	abort();
}

static inline void *
store_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		store_oom(n);
	return p;
}

static inline void *
store_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		store_oom(nmemb * size);
	return p;
}

static inline void *
store_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		store_oom(n);
	return q;
}

/* Room for element n of a growing array p of *cap elements of size
 * bytes (the capacity doubles, from min). Returns the array. */
static inline void *
store_grow(void *p, size_t n, size_t *cap, size_t min, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : min;
	return store_xrealloc(p, *cap * size);
}

/* --- batch.c: the open batch, a byte buffer of op records --- */

enum op_kind {
	OP_SESSION_PUT,	/* str: id, will */
	OP_SESSION_DEL,	/* str: id */
	OP_SUB_PUT,	/* str: id, filter */
	OP_SUB_DEL,	/* str: id, filter */
	OP_MSG_PUT,	/* str: topic, payload, props */
	OP_QUEUE_PUT,	/* str: id */
	OP_QUEUE_UPDATE,	/* str: id */
	OP_QUEUE_DEL,	/* str: id */
	OP_QOS2_PUT,	/* str: id */
	OP_QOS2_DEL,	/* str: id */
	OP_RETAIN_PUT,	/* str: topic */
	OP_RETAIN_DEL,	/* str: topic */
	OP_GLOG_PUT,	/* str: filter */
	OP_SPAN_OPEN,	/* str: id, filter */
	OP_SPAN_CLOSE	/* str: id */
};

#define OP_MAX_STR 3

/*
 * One write, as a fixed header followed by its byte strings back to back
 * (len[0] bytes, then len[1], ...), padded to 8 bytes. Fields a kind does
 * not use are zero.
 */
struct op {
	uint32_t size; /* header + strings + padding */
	uint8_t kind;
	uint8_t qos, retain, state, options, version, n_sub_ids, has_will;
	uint16_t packet_id;
	uint8_t user_kind; /* session put: STORE_USER_* */
	uint32_t expiry; /* session expiry interval */
	uint32_t sub_id;
	uint32_t len[OP_MAX_STR];
	uint64_t seq;
	uint64_t msg_id;
	int64_t t0; /* disconnected_at, received_at */
	int64_t t1; /* expiry_at */
	uint32_t sub_ids[STORE_MAX_SUB_IDS];
};

struct batch {
	uint8_t *buf;
	size_t len, cap;
	uint32_t n_ops;
};

/* Append an op with its strings (n of them, from str/len) and return the
 * header to fill; the strings are copied. */
struct op *batch_add(struct batch *b, enum op_kind kind, size_t n,
    const void *const *str, const size_t *len);
/* The i-th byte string of op (never NULL; "" for an empty one). */
const void *batch_str(const struct op *o, size_t i);

/* --- delta.c: per-transaction net changes, keyed by bytes or id --- */

struct delta_entry {
	uint64_t ikey; /* integer key (klen 0) */
	const uint8_t *key; /* borrowed: must outlive the transaction */
	size_t klen;
	uint64_t hash;
	int64_t v[3];
};

struct delta {
	struct delta_entry *e; /* in insertion order */
	size_t n, cap;
	uint32_t *slot; /* index + 1 into e, 0 empty */
	size_t nslot; /* power of two */
};

/* A 64-bit hash of ikey and the klen bytes at key (FNV-1a, then
 * splitmix64's finaliser so that sequential keys spread out); delta.c's
 * and qindex.c's tables use it. */
uint64_t store_hash(uint64_t ikey, const void *key, size_t klen);
/* The entry for key (klen bytes, or ikey when klen is 0), created with
 * zero values when missing. The returned pointer is valid until the next
 * delta_get or delta_clear. */
struct delta_entry *delta_get(struct delta *d, uint64_t ikey,
    const void *key, size_t klen);
/* The entry for key, or NULL. */
struct delta_entry *delta_find(struct delta *d, uint64_t ikey,
    const void *key, size_t klen);
/* Forget every entry (keeps the memory for the next transaction unless
 * it grew large). */
void delta_clear(struct delta *d);
void delta_free(struct delta *d);

/* --- qindex.c: the store thread's memory of the queue log --- */

/* One row of table qlog, all its columns (sql_queue.c). */
struct logrow {
	int64_t rowid;
	uint64_t seq;
	uint64_t msg_id;
	int64_t expiry_at;
	uint32_t bytes;
	uint16_t packet_id;
	uint8_t qos, retain, state, n_sub_ids;
	uint8_t stored; /* written to qlog (rowid valid), else pending */
	uint8_t inl; /* the row holds its body (msgs does not count it) */
	uint32_t sub_ids[STORE_MAX_SUB_IDS];
};

/* A log row put in the open transaction, written at its flush. */
struct pend {
	const void *id; /* borrowed from the batch */
	size_t len;
	uint64_t seq;
};

/* A run of table queue holding rows of a session, from first_seq on. */
struct qrun {
	int64_t run;
	uint64_t first_seq;
};

struct qsess {
	uint8_t *key;
	size_t klen;
	uint64_t hash;
	struct logrow *rows; /* rows[head..n) in seq order */
	size_t head, n, cap;
	struct qrun *runs; /* in seq order; valid when runs_known */
	size_t n_runs, runs_cap;
	int runs_known;
	int max_known;
	uint64_t run_max; /* largest seq put in a run; valid when max_known */
	uint8_t spans; /* has rows in spans (sql_group.c): 0 unknown, 1 no,
			* 2 yes */
};

/* A run of table queue and its row count (table runs). */
struct qlive {
	int64_t run;
	int64_t n;
};

struct qindex {
	struct qsess **slot;
	size_t nslot, n;
	size_t log_rows; /* rows in table qlog */
	struct qlive *live; /* runs with rows, oldest first */
	size_t n_live, live_cap;
};

/* The session's entry, or NULL / created empty. The pointers stay valid
 * until qindex_remove or qindex_clear. */
struct qsess *qindex_find(struct qindex *x, const void *key, size_t klen);
struct qsess *qindex_get(struct qindex *x, const void *key, size_t klen);
/* Forget a session (and count its log rows out). */
void qindex_remove(struct qindex *x, struct qsess *q);
/* Forget everything. */
void qindex_clear(struct qindex *x);
/* The session's log row with this seq, or NULL. */
struct logrow *qsess_row(struct qsess *q, uint64_t seq);
/* Its first log row with a seq above seq, or NULL. */
const struct logrow *qsess_after(const struct qsess *q, uint64_t seq);
/* Add a log row in seq order (a seq not held yet); remove one. */
void qsess_add(struct qindex *x, struct qsess *q, const struct logrow *r);
void qsess_drop(struct qindex *x, struct qsess *q, struct logrow *r);
/* Forget all its log rows (the caller counts them out of x). */
void qsess_empty(struct qsess *q);
/* The index in q->runs of the run for seq (q->n_runs must be > 0). */
size_t qsess_run_for(const struct qsess *q, uint64_t seq);
/* Append a run to the session's list. */
void qsess_add_run(struct qsess *q, int64_t run, uint64_t first_seq);
/* Add a live run (the newest); forget one, also in every session. */
void qindex_add_live(struct qindex *x, int64_t run, int64_t n);
void qindex_drop_run(struct qindex *x, int64_t run);
/* Live runs i and i + 1 became one, run into (one of the two): in
 * x->live and in every session's list. */
void qindex_join_runs(struct qindex *x, size_t i, int64_t into);

/* --- sql.c: prepared statements and small helpers --- */

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	/* sql_session.c */
	ST_SESSION_PUT,
	ST_SESSION_DEL,
	ST_SESSION_SUBS_DEL,
	ST_SESSION_QOS2_DEL,
	ST_SESSION_STATS_DEL,
	ST_SESSION_EXPIRED,
	ST_SUB_PUT,
	ST_SUB_DEL,
	ST_QOS2_PUT,
	ST_QOS2_DEL,
	/* sql_queue.c */
	ST_MSG_PUT,
	ST_MSG_INFO,
	ST_MSG_REF,
	ST_MSG_DEL,
	ST_MSG_BODY,
	ST_LOG_PUT,
	ST_LOG_BODY,
	ST_LOG_UPDATE,
	ST_LOG_DEL,
	ST_LOG_CLEAR,
	ST_LOG_EXPIRED,
	ST_RUN_MAKE,
	ST_QUEUE_PUT,
	ST_QUEUE_UPDATE,
	ST_QUEUE_DEL,
	ST_QUEUE_DEL_SESSION,
	ST_QUEUE_FIRST,
	ST_QUEUE_READ,
	ST_QUEUE_EXPIRED,
	ST_RUN_PUT,
	ST_RUN_ADD,
	ST_RUN_DEL,
	ST_RUN_MOVE,
	ST_RUN_JOIN,
	ST_STATS_MAX,
	ST_STATS_ADD,
	ST_STATS_SUB,
	/* sql_retain.c */
	ST_RETAIN_GET,
	ST_RETAIN_PUT,
	ST_RETAIN_DEL,
	ST_RETAIN_EXPIRED,
	/* sql_group.c */
	ST_GLOG_PUT,
	ST_GLOG_READ,
	ST_GLOG_ENTRY,
	ST_GLOG_MAX,
	ST_GLOG_FIRST,
	ST_GLOG_GC,
	ST_SPAN_PUT,
	ST_SPAN_CLOSE,
	ST_SPAN_FIND,
	ST_SPAN_AFTER,
	ST_SPAN_ANY,
	ST_SPAN_DEL,
	ST_SPAN_DEL_SESSION,
	ST_SPAN_MIN,
	ST_COUNT
};

struct sql_def {
	enum stmt_id id;
	const char *text;
};

/* Prepare the n statements of defs into st->stmt (persistent). Returns 0,
 * or -1 with a message in err. */
int sql_prepare(struct store *st, const struct sql_def *defs, size_t n,
    char *err, size_t errlen);
/* Prepare every statement of every sql_*.c file. */
int sql_prepare_all(struct store *st, char *err, size_t errlen);
/* Finalize every prepared statement (store_close, failed open). */
void sql_finalize_all(struct store *st);
/* Bind a byte string as a BLOB (never NULL: an empty one is a zero-length
 * blob). */
void sql_bind_bytes(sqlite3_stmt *s, int col, const void *p, size_t len);
/* A BLOB column as (pointer, length); "" for NULL or empty. */
const void *sql_column_bytes(sqlite3_stmt *s, int col, size_t *len);
/* Step a statement that returns no row and reset it. Returns SQLITE_OK or
 * the error code (message recorded in st). */
int sql_run(struct store *st, sqlite3_stmt *s);
/* Step a statement that returns at most one row: SQLITE_OK with *found
 * set when it returned one (its columns are readable until the caller
 * resets s), or the error code (recorded with what). The caller resets
 * s in every case. */
int sql_one(struct store *st, sqlite3_stmt *s, const char *what,
    int *found);
/* Record the connection's current error as the store's last error, with
 * a prefix naming what failed. */
void sql_error(struct store *st, const char *what);

/* --- sql_session.c --- */

/* The statements of sql_session.c, prepared by sql_prepare_all. */
extern const struct sql_def sql_session_defs[];
extern const size_t sql_session_ndefs;
/* Apply one session/sub/qos2 op inside the open transaction. Returns
 * SQLITE_OK or an error code. */
int sql_session_apply(struct store *st, const struct op *o);
/* Delete a session and everything it holds (queue rows drop their body
 * references through st->refs). */
int sql_session_delete(struct store *st, const void *id, size_t len);
/* Delete the sessions expired at now; *n counts them. */
int sql_session_expire(struct store *st, int64_t now, uint64_t *n);

/* --- sql_queue.c --- */

/* The statements of sql_queue.c, prepared by sql_prepare_all. */
extern const struct sql_def sql_queue_defs[];
extern const size_t sql_queue_ndefs;
/* Apply one msg/queue op inside the open transaction. */
int sql_queue_apply(struct store *st, const struct op *o);
/* End the transaction's queue work: write the log rows put in it, move
 * the log into a new run once it holds st->run_rows rows, and write the
 * net reference and queue-count changes (bodies left with no reference
 * are deleted). Clears the deltas. */
int sql_queue_flush(struct store *st);
/* Forget the deltas, the message cache and the queue index and read the
 * index back from the database (at open, and after a rollback). Returns
 * SQLITE_OK or an error code. */
int sql_queue_rebuild(struct store *st);
/* Delete every queue row of a session (log and runs), dropping their
 * body references, and forget its index entry. */
int sql_queue_session_delete(struct store *st, const void *id, size_t len);

/* Delete STORE_STATE_QUEUED rows whose message expired at now (log and
 * runs). */
int sql_queue_expire(struct store *st, int64_t now);

struct job;
/* Run a queue read job (outside any transaction): fills j->rows (at most
 * j->limit, their bytes in j->arena, both owned by j). Returns SQLITE_OK
 * or an error code, with no rows. */
int sql_queue_read(struct store *st, struct job *j);

/* --- sql_group.c: group logs and the spans of sessions over them --- */

/* The statements of sql_group.c, prepared by sql_prepare_all. */
extern const struct sql_def sql_group_defs[];
extern const size_t sql_group_ndefs;
/* Apply one glog/span op inside the open transaction. */
int sql_group_apply(struct store *st, const struct op *o);
/* The span row of session q (id, len) with this seq, if any (*found):
 * taken out of its span, and when upd is not NULL (a state change, op
 * OP_QUEUE_UPDATE) made a queue row with upd's state and packet id. */
int sql_group_take(struct store *st, struct qsess *q, const void *id,
    size_t len, uint64_t seq, const struct op *upd, int *found);
/* Delete every span of the session. */
int sql_group_session_delete(struct store *st, const void *id, size_t len);
/* The session's span rows with seq > after, at most limit, as read rows
 * of the job (sql_queue.c's reader, through the callbacks below). */
struct qread;
int sql_group_read(struct store *st, struct qread *rd, uint64_t after);
/* End of transaction: drop log entries below every span of the filters
 * whose spans changed. */
int sql_group_flush(struct store *st);
/* Forget the transaction's state (after a rollback). */
void sql_group_clear(struct store *st);
/* After a failed transaction: keep its span ops, which later batches
 * build on (store.c); apply what is kept in a transaction of its own. */
void sql_group_carry(struct store *st, const struct batch *b);
int sql_group_carry_apply(struct store *st);

/* A read job's rows under construction (sql_queue.c): their bytes go
 * to j->arena as offsets (topic, payload, props per row) until the
 * arena stops moving. Rows of spans may take it to twice the job's
 * limit before the merge cuts it back. */
struct qread {
	struct job *j;
	size_t cap, used, rows_cap;
	size_t *off;
};
/* A new row of the job (zeroed); its body columns from col on. */
struct store_queued *sql_queue_new_row(struct qread *rd);
void sql_queue_take_body(struct qread *rd, struct store_queued *q,
    sqlite3_stmt *s, int col);
/* Insert a queue row (r's bytes and expiry filled in here). */
int sql_queue_insert_row(struct store *st, const void *id, size_t len,
    struct logrow *r);

/* --- sql_retain.c --- */

/* The statements of sql_retain.c, prepared by sql_prepare_all. */
extern const struct sql_def sql_retain_defs[];
extern const size_t sql_retain_ndefs;
/* Apply one retained op inside the open transaction. Returns SQLITE_OK
 * or an error code. */
int sql_retain_apply(struct store *st, const struct op *o);
/* Delete retained rows whose message expired at now. */
int sql_retain_expire(struct store *st, int64_t now);

/* --- schema.c --- */

/* Check, open (WAL, synchronous, exclusive locking) and migrate the
 * database at path. Returns the connection, or NULL with a message in
 * err: a database that is refused is left unmodified. */
sqlite3 *schema_open(const char *path, int sync_full, char *err,
    size_t errlen);

/* --- load.c --- */

/* The body of store_load, run on the caller's thread while the store
 * thread is idle. */
int load_run(struct store *st, const struct store_load_cb *cb, void *arg,
    uint64_t *max_msg_id, char *err, size_t errlen);

/* --- store.c --- */

enum job_kind {
	JOB_BATCH,
	JOB_READ,
	JOB_EXPIRE,
	JOB_STOP
};

struct job {
	TAILQ_ENTRY(job) entry;
	enum job_kind kind;
	int ok;
	size_t cost; /* counted in the backlog */

	/* JOB_BATCH */
	struct batch batch;
	int inject_fail;
	void (*done)(void *, int);

	/* JOB_READ */
	uint8_t *id;
	size_t id_len;
	uint64_t after_seq;
	unsigned limit;
	void (*read_cb)(void *, const struct store_queued *, size_t, int);
	struct store_queued *rows;
	size_t n_rows;
	uint8_t *arena; /* the rows' bytes */

	/* JOB_EXPIRE */
	int64_t now;
	void (*expire_cb)(void *, uint64_t);
	uint64_t n_expired;

	void *arg;
};
TAILQ_HEAD(job_list, job);

/* Live runs beyond which neighbours are joined (sql_queue.c). */
#define QUEUE_RUNS_MAX 32

/* Cached size and expiry of recently used message bodies. */
#define MSG_CACHE_SIZE 1024

struct msg_cache {
	uint64_t id; /* 0 empty */
	uint32_t bytes;
	int64_t expiry_at;
};

struct store {
	sqlite3 *db;
	int lock_fd;
	int efd;
	pthread_t thread;
	int thread_started;

	pthread_mutex_t mtx;
	pthread_cond_t work; /* the thread waits for jobs */
	pthread_cond_t idle; /* store_load waits for the thread */
	struct job_list jobs; /* requests, FIFO */
	struct job_list done; /* completions, FIFO */
	int busy;
	size_t backlog;
	char last_error[256];

	/* caller's thread */
	struct batch open;
	unsigned fail_next;

	/* store thread */
	sqlite3_stmt *stmt[ST_COUNT];
	struct delta refs; /* msg id -> v[0] reference change, v[1] its
			    * body op in bodies + 1, v[2] log rows put
			    * for it in this transaction */
	struct delta stats; /* client id -> v[0] rows, v[1] bytes, v[2] seq */
	struct delta runs; /* run -> v[0] row count change */
	const struct op **bodies; /* bodies put in this transaction */
	size_t n_bodies, bodies_cap;
	struct pend *pend; /* log rows put in this transaction */
	size_t n_pend, pend_cap;
	struct qindex qx; /* the queue log and runs (qindex.c) */
	unsigned run_rows; /* log rows that make a run (store_set_run_rows) */
	char *hold_reads; /* reads wait while it exists (store_hold_reads) */
	int qx_stale; /* qx must be read again (a rebuild failed) */
	struct msg_cache cache[MSG_CACHE_SIZE];
	struct delta gc; /* filters whose spans changed (sql_group.c) */
	uint8_t **gc_keys; /* their copies */
	size_t n_gc_keys, gc_keys_cap;
	struct batch carry; /* span ops of a failed transaction */
};

/* Record a failure message as the store's last error (any thread). */
void store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* TERN_STORE_INT_H */
