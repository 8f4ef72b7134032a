/*
 * store.h - tern's durable store: sessions, subscriptions, offline queues,
 * in-flight state, incoming QoS 2 ids and retained messages in SQLite
 * (WAL), behind a narrow asynchronous interface.
 *
 * The store depends on sqlite3, pthreads and libc only: it has its own
 * record types and never sees a broker structure.
 *
 * THREADS. The store runs one thread of its own that does every disk
 * access. Every function here is called from one thread, the caller's
 * (the broker's event loop); none of them waits on the disk, except
 * store_open, store_load and store_close, which run before or after the
 * loop.
 *
 * BATCHES. Writes (store_*_put/update/del) are appended to the open batch
 * in memory, with their bytes copied. store_commit() closes the batch and
 * hands it to the store thread: all of its writes become ONE transaction,
 * committed in the order the batches were committed (FIFO). Its done
 * callback then runs from store_poll(), on the caller's thread, in that
 * same order. The broker commits once per loop pass and sends the
 * PUBACK/PUBREC of that pass from the done callback (group commit).
 *
 * Reads and expiry (store_queue_read, store_expire) are jobs in the same
 * FIFO: they see every batch committed before they were called and none
 * after.
 *
 * Writes inside a batch apply in call order. Keys are byte strings
 * compared as bytes: client ids, topic filters and topic names.
 */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* The largest number of subscription ids a queue row keeps. */
#define STORE_MAX_SUB_IDS 8

/* The schema version this build writes (see schema.c). */
#define STORE_SCHEMA_VERSION 4

/*
 * Open or create the database at path (WAL). sync_full: synchronous=FULL
 * (survives power loss) else NORMAL (survives a process crash). A corrupt,
 * unreadable, foreign or newer-schema database is refused (NULL, message
 * in err) and never modified. A database already opened by another
 * process (another ternd) is refused too: the store holds an exclusive
 * flock(2) on "<path>-lock" for as long as it is open. Starts the store
 * thread. Returns a new store the caller frees with store_close.
 */
struct store *store_open(const char *path, int sync_full, char *err,
    size_t errlen);
/*
 * Commit what is pending (the open batch, done NULL), wait for every job
 * to finish, stop the thread and close. Completion callbacks still waiting
 * run here, on the caller's thread, before it returns. Frees st.
 */
void store_close(struct store *st);
/* A file descriptor (eventfd) that becomes readable when completions are
 * waiting; the event loop watches it and then calls store_poll(). Owned
 * by the store. */
int store_fd(const struct store *st);
/* Run pending completion callbacks on the caller's thread, in FIFO
 * order. Never blocks. */
void store_poll(struct store *st);

/* Records (all strings are byte strings with lengths; copied on call). */
struct store_session {
	const char *client_id;
	size_t id_len;
	uint32_t expiry; /* interval, s; 0xFFFFFFFF never */
	int64_t disconnected_at; /* unix s, 0 while connected */
	uint8_t version; /* protocol level */
	const uint8_t *will; /* opaque blob, broker-serialised; NULL none */
	uint32_t will_len;
	/* Its client's user (the ACL's subject): STORE_USER_*, and the
	 * name when STORE_USER_NAMED. */
	uint8_t user_kind;
	const char *user;
	size_t user_len;
};

#define STORE_USER_UNKNOWN 0 /* not recorded (a row of schema 2) */
#define STORE_USER_ANONYMOUS 1
#define STORE_USER_NAMED 2

struct store_msg {
	uint64_t id; /* the broker's message id, > 0 */
	const char *topic;
	uint32_t topic_len;
	const uint8_t *payload;
	uint32_t payload_len;
	uint8_t qos, retain; /* as published */
	const uint8_t *props; /* opaque, broker-serialised */
	uint32_t props_len;
	int64_t received_at; /* unix s */
	int64_t expiry_at; /* unix s, 0 none */
};

/* Queue row state: only rows in STORE_STATE_QUEUED (not yet sent) are
 * dropped when their message expires; any other value is the broker's. */
#define STORE_STATE_QUEUED 0

struct store_queued {
	uint64_t seq;
	uint8_t qos, retain, state;
	uint16_t packet_id;
	uint32_t sub_ids[STORE_MAX_SUB_IDS];
	uint8_t n_sub_ids;
	struct store_msg msg; /* views valid during the callback */
};

/*
 * Writes: appended to the open batch on the caller's thread, no I/O there.
 * Every pointer is borrowed for the call only (the bytes are copied).
 */

/* Insert or replace the session (its subscriptions, queue and QoS 2 ids
 * are kept). */
void store_session_put(struct store *st, const struct store_session *s);
/* Delete the session and also its subs, queue rows, qos2 ids and the
 * bodies no longer referenced. */
void store_session_del(struct store *st, const char *id, size_t len);
/* Insert or replace the subscription (id, filter). */
void store_sub_put(struct store *st, const char *id, size_t len,
    const char *filter, size_t flen, uint8_t options, uint32_t sub_id);
void store_sub_del(struct store *st, const char *id, size_t len,
    const char *filter, size_t flen);
/*
 * The body of a message, stored once however many queues hold it; a put
 * of an id already stored is ignored. Put the body in every batch that
 * adds a reference to it (store_queue_put, store_retain_put): a body
 * put in a batch and referenced by one queue row alone may be kept in
 * that row rather than shared, so a later reference without a put of
 * its own would find nothing. A body no reference holds is not kept.
 */
void store_msg_put(struct store *st, const struct store_msg *m);
/* Add a row to the session's queue (msg_id's body must be put in this
 * batch). seq orders the queue; reusing a seq replaces that row. At most
 * STORE_MAX_SUB_IDS sub ids are kept. */
void store_queue_put(struct store *st, const char *id, size_t len,
    uint64_t seq, uint64_t msg_id, uint8_t qos, uint8_t retain,
    uint8_t state, uint16_t packet_id, const uint32_t *sub_ids,
    uint8_t n_sub_ids);
/* Change a row's in-flight state (sent, PUBREC received) and packet id;
 * no-op when the row does not exist. */
void store_queue_update(struct store *st, const char *id, size_t len,
    uint64_t seq, uint8_t state, uint16_t packet_id);
/* Remove a row (delivered, dropped); its body goes with its last
 * reference. */
void store_queue_del(struct store *st, const char *id, size_t len,
    uint64_t seq);
/* Incoming QoS 2 packet ids awaiting PUBREL. */
void store_qos2_put(struct store *st, const char *id, size_t len,
    uint16_t packet_id);
void store_qos2_del(struct store *st, const char *id, size_t len,
    uint16_t packet_id);
/* Set (or replace) the retained message of a topic: msg_id's body must be
 * stored (as for store_queue_put). */
void store_retain_put(struct store *st, const char *topic, size_t len,
    uint64_t msg_id);
void store_retain_del(struct store *st, const char *topic, size_t len);

/*
 * Group logs (read diffusion, sql_group.c): a message that many offline
 * sessions subscribed to one filter want is written once, as entry seq
 * (dense per filter, from 1) of that filter's log, and each of those
 * sessions holds a span of its queue over the log instead of a row per
 * message. msg_id's body must be put in this batch; bytes: its payload
 * length; cum: the sum of bytes over the filter's entries up to this
 * one (the load counts queued bytes by it).
 */
void store_glog_put(struct store *st, const char *filter, size_t flen,
    uint64_t seq, uint64_t msg_id, uint32_t bytes, uint64_t cum);
/*
 * The session's queue seqs first_seq, first_seq + 1, ... are the entries
 * first_log, first_log + 1, ... of the filter's log, from now on until
 * closed: delivered at min(qos, the message's QoS), retained only with
 * rap (Retain As Published), with sub_id (0: none). The caller closes an
 * open span (store_span_close, last_log its last entry) in the batch in
 * which the session gets a seq that is not the span's next, or the log
 * an entry the session does not take: an open span is exact, a crash
 * leaves nothing to guess. A span's seqs are the session's queue rows
 * for store_queue_read/update/del.
 */
void store_span_open(struct store *st, const char *id, size_t len,
    const char *filter, size_t flen, uint64_t first_seq, uint64_t first_log,
    uint8_t qos, uint8_t rap, uint32_t sub_id);
void store_span_close(struct store *st, const char *id, size_t len,
    uint64_t first_seq, uint64_t last_log);

/*
 * Close the open batch: all writes since the previous commit become ONE
 * transaction, run on the store thread in FIFO order. done(arg, ok) runs
 * from store_poll() once it has committed (ok=1) or failed and rolled back
 * (ok=0: disk full, I/O error, injected failure). done may be NULL. An
 * empty batch completes (ok=1) without touching the disk.
 *
 * Batches waiting in the FIFO when the thread gets to them may be
 * committed together in one transaction (they then succeed or fail
 * together); each still gets its own done, in order.
 */
void store_commit(struct store *st, void (*done)(void *arg, int ok),
    void *arg);

/*
 * Message bodies no queue row and no retained row refer to are deleted in
 * the same transaction that drops the last reference: each body keeps a
 * reference count, updated once per batch from the batch's net changes.
 */

/* Start-up load, synchronous (called before the loop runs): */
struct store_load_cb {
	/* queued/queued_bytes: rows in the session's queue and the sum of
	 * their payload lengths; max_seq: at least the largest seq of its
	 * rows (seqs continue from it). It may be less than a seq the
	 * session once had: a row deleted while still in the queue log
	 * leaves no trace (sql_queue.c), so that seq may be used again;
	 * only rows that exist hold a seq. */
	void (*session)(void *arg, const struct store_session *s,
	    uint64_t queued, uint64_t queued_bytes, uint64_t max_seq);
	void (*sub)(void *arg, const char *id, size_t len, const char *filter,
	    size_t flen, uint8_t options, uint32_t sub_id);
	void (*qos2)(void *arg, const char *id, size_t len,
	    uint16_t packet_id);
	void (*retained)(void *arg, const struct store_msg *m);
	/* A filter's group log: its newest entry and its cum (new entries
	 * continue from them). Spans are counted in their sessions' queue
	 * counters. */
	void (*glog)(void *arg, const char *filter, size_t flen,
	    uint64_t head, uint64_t cum);
};
/*
 * Call cb for every session, then every subscription, QoS 2 id and
 * retained message (any member may be NULL); the views are valid during
 * each call. Queue rows are not read: only their per-session counts.
 * Waits for the store thread to finish the jobs already committed and
 * then runs on the caller's thread. Returns 0, or -1 with a message in
 * err. *max_msg_id: the largest message id in use (ids continue from it).
 */
int store_load(struct store *st, const struct store_load_cb *cb, void *arg,
    uint64_t *max_msg_id, char *err, size_t errlen);
/*
 * Read one session's queue rows with seq > after_seq, in seq order, at
 * most limit (0 means 1), with their bodies: asynchronous (on the store
 * thread, after every batch committed before the call); cb runs from
 * store_poll() with rows valid during the call only; ok=0 on a read error
 * (n is then 0).
 */
void store_queue_read(struct store *st, const char *id, size_t len,
    uint64_t after_seq, unsigned limit,
    void (*cb)(void *arg, const struct store_queued *rows, size_t n, int ok),
    void *arg);
/*
 * In one transaction: delete queue rows still STORE_STATE_QUEUED whose
 * message expired at now (expiry_at != 0 && expiry_at <= now), retained
 * rows whose message expired, and sessions whose expiry passed
 * (disconnected_at != 0 && expiry != 0xFFFFFFFF && disconnected_at +
 * expiry <= now) with all they hold; bodies left unreferenced go too.
 * Asynchronous; cb(arg, n_deleted_sessions) from store_poll (n is
 * UINT64_MAX when the transaction failed). cb may be NULL.
 */
void store_expire(struct store *st, int64_t now,
    void (*cb)(void *arg, uint64_t n), void *arg);
/* Test hook: the next n non-empty commits fail as a full disk would (their
 * writes run, then roll back; done(arg, 0)). */
void store_fail_next(struct store *st, unsigned n);

/* Test hook: the queue log becomes a new run once it holds n rows (n >=
 * 1; STORE_RUN_ROWS by default). Call before the first commit. */
#define STORE_RUN_ROWS 16384
void store_set_run_rows(struct store *st, unsigned n);

/* Test hook: while the file path exists, each queue read waits before it
 * runs (at most STORE_HOLD_MAX_MS), and the jobs behind it with it, so
 * that a test can act while a read is certainly on its way. Call before
 * the first read. */
#define STORE_HOLD_MAX_MS 60000
void store_hold_reads(struct store *st, const char *path);

/* Bytes of committed batches and jobs the store thread has not finished
 * yet: the broker's back-pressure signal (stop reading clients when it
 * grows past a limit). */
size_t store_backlog(const struct store *st);
/* Copy the message of the last failure on the store thread (a failed
 * commit, read or expiry) into buf; "" when none. */
void store_last_error(struct store *st, char *buf, size_t len);

#endif /* TERN_STORE_H */
