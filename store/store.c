/*
 * store.c - the store thread, its request FIFO and its completion FIFO.
 *
 * DESIGN (after Redis's bio.c; STYLE.md 4.9 and 4.10)
 *
 * One thread owns the SQLite connection. The caller (the broker's event
 * loop) never waits on it: it appends writes to the open batch (batch.c)
 * and store_commit() pushes the batch as a job on the request FIFO
 * (st->jobs, a TAILQ under st->mtx; the thread sleeps on st->work while
 * it is empty, no polling). Reads (store_queue_read) and expiry passes
 * (store_expire) are jobs in the same FIFO, so each sees exactly the
 * batches committed before it.
 *
 * The thread takes jobs strictly in order. A run of batch jobs waiting at
 * the head (at most STORE_GROUP_MAX of them) is written in ONE
 * transaction: while a commit is on the disk, the next loop passes'
 * batches queue up and then share one commit (group commit at the thread
 * as well as at the loop). The batches of a group succeed or fail
 * together; a batch under store_fail_next is always run alone. Empty
 * batches touch nothing and always succeed.
 *
 * A finished job goes on the completion FIFO (st->done) and, when that
 * list was empty, the thread writes the eventfd: the loop's read event on
 * store_fd() calls store_poll(), which reads the eventfd first and then
 * takes the whole list, so a completion is never left behind without a
 * pending wake-up. Callbacks run on the caller's thread, in job order.
 *
 * Bounds: the thread holds only the jobs the broker committed; the broker
 * bounds what it writes per session (queue limits) and can watch
 * store_backlog() to stop reading clients while the disk lags. A read job
 * holds at most `limit` rows.
 *
 * Fault injection (STYLE.md "Fault injection for the store"):
 * store_fail_next(n) marks the next n non-empty batches at store_commit
 * time; the thread runs their writes and then rolls back as a failed
 * COMMIT would (disk full), and their done gets ok=0.
 * store_hold_reads(path) makes each queue read wait while the file path
 * exists (bounded), and the jobs behind it with it: a test can then act
 * while a read is certainly on its way.
 *
 * Second process: store_open takes an exclusive, non-blocking flock(2) on
 * "<path>-lock" and holds it until store_close; a second ternd on the same
 * database gets a clear refusal instead of waiting on SQLite's locks. The
 * kernel drops the lock when the process dies, so kill -9 leaves nothing
 * to clean up. (The connection also runs with locking_mode=EXCLUSIVE,
 * schema.c, which keeps other processes out at the SQLite level.)
 *
 * File modes: the database holds every offline message, so it and every
 * file beside it are readable by this user only, whatever the umask
 * (store_private). SQLite would create a new database 0644 less the
 * umask, and gives its -wal and -journal the database's mode; so a new
 * database is created 0600 here before SQLite opens it, and an existing
 * one (from before this rule), with what an earlier run left beside it
 * (a crash leaves the WAL), loses its group and other bits once it has
 * opened: a database refused as corrupt or newer is not touched.
 */
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

/* Most batches written in one transaction by the thread. */
#define STORE_GROUP_MAX 64
/*
 * The store thread runs this much nicer than the loop. Where the two
 * share a core (a node pinned to one, or a busy machine), a commit then
 * yields to the loop's deliveries to online clients instead of taking
 * its full time slice from them; the commit itself is not on any
 * delivery's path (QoS 1/2 deliveries to online clients go before it),
 * only on the publishers' acks, which wait for it anyway.
 */
#define STORE_NICE 5

void
store_set_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&st->mtx);
	va_start(ap, fmt);
	vsnprintf(st->last_error, sizeof st->last_error, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&st->mtx);
}

static void
store_job_free(struct job *j)
{
	free(j->batch.buf);
	free(j->id);
	free(j->rows);
	free(j->arena);
	free(j);
}

static int
store_apply(struct store *st, const struct op *o)
{
	switch (o->kind) {
	case OP_SESSION_PUT:
	case OP_SESSION_DEL:
	case OP_SUB_PUT:
	case OP_SUB_DEL:
	case OP_QOS2_PUT:
	case OP_QOS2_DEL:
		return sql_session_apply(st, o);
	case OP_MSG_PUT:
	case OP_QUEUE_PUT:
	case OP_QUEUE_UPDATE:
	case OP_QUEUE_DEL:
		return sql_queue_apply(st, o);
	case OP_RETAIN_PUT:
	case OP_RETAIN_DEL:
		return sql_retain_apply(st, o);
	case OP_GLOG_PUT:
	case OP_SPAN_OPEN:
	case OP_SPAN_CLOSE:
		return sql_group_apply(st, o);
	}
	return SQLITE_MISUSE;
}

/* Roll back the open transaction, if any, and forget its deltas. */
static void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db)) {
		sqlite3_step(st->stmt[ST_ROLLBACK]);
		sqlite3_reset(st->stmt[ST_ROLLBACK]);
	}
	/* The queue index may describe rows the rollback took back. */
	st->qx_stale = sql_queue_rebuild(st) != SQLITE_OK;
}

/* Store thread: write the span ops kept from failed transactions
 * (sql_group.c) in a transaction of their own. */
static int
store_carry(struct store *st)
{
	const struct op *o;
	size_t off;
	int rc;

	rc = sql_run(st, st->stmt[ST_BEGIN]);
	for (off = 0; rc == SQLITE_OK && off < st->carry.len; off += o->size) {
		o = (const struct op *)(st->carry.buf + off);
		rc = store_apply(st, o);
	}
	if (rc == SQLITE_OK)
		rc = sql_queue_flush(st);
	if (rc == SQLITE_OK)
		rc = sql_run(st, st->stmt[ST_COMMIT]);
	if (rc != SQLITE_OK) {
		store_rollback(st);
		return rc;
	}
	st->carry.len = 0;
	st->carry.n_ops = 0;
	return SQLITE_OK;
}

/* Store thread, before a job: read the queue index back if a rebuild
 * after a rollback failed, and write what failed transactions left to
 * carry. Returns SQLITE_OK or the error. */
static int
store_index_ready(struct store *st)
{
	if (st->qx_stale && sql_queue_rebuild(st) != SQLITE_OK)
		return SQLITE_ERROR;
	st->qx_stale = 0;
	if (st->carry.n_ops != 0)
		return store_carry(st);
	return SQLITE_OK;
}

/* Store thread: write a group of batches in one transaction. */
static void
store_run_batches(struct store *st, struct job_list *run)
{
	const struct op *o;
	struct job *j;
	size_t off, n_ops = 0;
	int rc, inject = 0;

	TAILQ_FOREACH(j, run, entry) {
		n_ops += j->batch.n_ops;
		inject |= j->inject_fail;
	}
	if (n_ops == 0) {
		TAILQ_FOREACH(j, run, entry)
			j->ok = 1;
		return;
	}

	if ((rc = store_index_ready(st)) == SQLITE_OK)
		rc = sql_run(st, st->stmt[ST_BEGIN]);
	TAILQ_FOREACH(j, run, entry) {
		for (off = 0; rc == SQLITE_OK && off < j->batch.len;
		    off += o->size) {
			o = (const struct op *)(j->batch.buf + off);
			rc = store_apply(st, o);
		}
	}
	if (rc == SQLITE_OK)
		rc = sql_queue_flush(st);
	if (rc == SQLITE_OK && inject) {
		store_set_error(st, "injected failure (store_fail_next)");
		rc = SQLITE_FULL;
	}
	if (rc == SQLITE_OK)
		rc = sql_run(st, st->stmt[ST_COMMIT]);
	if (rc != SQLITE_OK) {
		store_rollback(st);
		/* Later batches build on its spans: they are kept. */
		TAILQ_FOREACH(j, run, entry)
			sql_group_carry(st, &j->batch);
	}
	TAILQ_FOREACH(j, run, entry)
		j->ok = rc == SQLITE_OK || j->batch.n_ops == 0;
}

/* Store thread: one expiry pass in one transaction. */
static void
store_run_expire(struct store *st, struct job *j)
{
	uint64_t n = 0;
	int rc;

	if ((rc = store_index_ready(st)) == SQLITE_OK)
		rc = sql_run(st, st->stmt[ST_BEGIN]);
	if (rc == SQLITE_OK)
		rc = sql_session_expire(st, j->now, &n);
	if (rc == SQLITE_OK)
		rc = sql_queue_expire(st, j->now);
	if (rc == SQLITE_OK)
		rc = sql_retain_expire(st, j->now);
	if (rc == SQLITE_OK)
		rc = sql_queue_flush(st);
	if (rc == SQLITE_OK)
		rc = sql_run(st, st->stmt[ST_COMMIT]);
	if (rc != SQLITE_OK) {
		store_rollback(st);
		n = UINT64_MAX;
	}
	j->n_expired = n;
	j->ok = rc == SQLITE_OK;
}

/* Store thread: the test hook of store_hold_reads. Bounded, so that a
 * file left behind slows the store down but does not stop it. */
static void
store_read_hold(const struct store *st)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	if (st->hold_reads == NULL)
		return;
	for (i = 0; i < STORE_HOLD_MAX_MS / 10 &&
	    access(st->hold_reads, F_OK) == 0; i++)
		nanosleep(&ts, NULL);
}

static void *
store_main(void *arg)
{
	struct store *st = arg;
	struct job_list run;
	struct job *j;
	uint64_t one = 1;
	int stop = 0, n, was_empty, prio;
	id_t tid = (id_t)syscall(SYS_gettid);

	/* Linux: a nice value is a thread's own (setpriority(2) NOTES);
	 * at worst (not Linux, no permission) nothing changes. */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, tid);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, tid, prio + STORE_NICE);

	pthread_mutex_lock(&st->mtx);
	while (!stop) {
		while (TAILQ_EMPTY(&st->jobs))
			pthread_cond_wait(&st->work, &st->mtx);

		/* Take the head job, or the run of batches at the head. */
		TAILQ_INIT(&run);
		j = TAILQ_FIRST(&st->jobs);
		TAILQ_REMOVE(&st->jobs, j, entry);
		TAILQ_INSERT_TAIL(&run, j, entry);
		if (j->kind == JOB_BATCH && !j->inject_fail) {
			for (n = 1; n < STORE_GROUP_MAX; n++) {
				j = TAILQ_FIRST(&st->jobs);
				if (j == NULL || j->kind != JOB_BATCH ||
				    j->inject_fail)
					break;
				TAILQ_REMOVE(&st->jobs, j, entry);
				TAILQ_INSERT_TAIL(&run, j, entry);
			}
		}
		st->busy = 1;
		pthread_mutex_unlock(&st->mtx);

		j = TAILQ_FIRST(&run);
		switch (j->kind) {
		case JOB_BATCH:
			store_run_batches(st, &run);
			break;
		case JOB_READ:
			store_read_hold(st);
			j->ok = store_index_ready(st) == SQLITE_OK &&
			    sql_queue_read(st, j) == SQLITE_OK;
			break;
		case JOB_EXPIRE:
			store_run_expire(st, j);
			break;
		case JOB_STOP:
			/* store_close owns the stop job. */
			TAILQ_REMOVE(&run, j, entry);
			stop = 1;
			break;
		}

		pthread_mutex_lock(&st->mtx);
		st->busy = 0;
		if (!TAILQ_EMPTY(&run)) {
			was_empty = TAILQ_EMPTY(&st->done);
			TAILQ_CONCAT(&st->done, &run, entry);
			if (was_empty &&
			    write(st->efd, &one, sizeof one) != sizeof one &&
			    errno != EAGAIN)
				abort();
		}
		if (TAILQ_EMPTY(&st->jobs))
			pthread_cond_broadcast(&st->idle);
	}
	pthread_mutex_unlock(&st->mtx);
	return NULL;
}

/* Caller's thread: hand a job to the store thread. */
static void
store_push(struct store *st, struct job *j)
{
	st->backlog += j->cost;
	pthread_mutex_lock(&st->mtx);
	TAILQ_INSERT_TAIL(&st->jobs, j, entry);
	pthread_cond_signal(&st->work);
	pthread_mutex_unlock(&st->mtx);
}

/* Caller's thread: wait until the store thread has nothing to do. */
static void
store_wait_idle(struct store *st)
{
	pthread_mutex_lock(&st->mtx);
	while (!TAILQ_EMPTY(&st->jobs) || st->busy)
		pthread_cond_wait(&st->idle, &st->mtx);
	pthread_mutex_unlock(&st->mtx);
}

/* The files of the database at path, as SQLite and store_open name
 * them: "" is the database itself. */
static const char *const store_files[] = {
	"", "-wal", "-shm", "-journal", "-lock"
};

/*
 * Create the database at path 0600 when there is none (SQLite takes an
 * empty file for a new database), so that SQLite, which copies the
 * database's mode to its -wal and -journal, creates those 0600 too.
 * Returns 0, or -1 with err.
 */
static int
store_create(const char *path, char *err, size_t errlen)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, "cannot create database %s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* 0600 exactly, whatever the umask took away. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) == -1) {
		snprintf(err, errlen, "cannot chmod database %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Take the group and other bits off every file of the database at path
 * that has some: a database made before this rule, or by another umask,
 * and its companions. Returns 0, or -1 with err.
 */
static int
store_private(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	char name[4096];
	size_t i;

	for (i = 0; i < sizeof store_files / sizeof store_files[0]; i++) {
		snprintf(name, sizeof name, "%s%s", path, store_files[i]);
		if (stat(name, &sb) == -1) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "cannot stat %s: %s", name,
			    strerror(errno));
			return -1;
		}
		if (!S_ISREG(sb.st_mode) ||
		    (sb.st_mode & (S_IRWXG | S_IRWXO)) == 0)
			continue;
		if (chmod(name, sb.st_mode & S_IRWXU) == -1) {
			snprintf(err, errlen, "%s is readable by other users "
			    "and cannot be made private: %s", name,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct store *
store_open(const char *path, int sync_full, char *err, size_t errlen)
{
	struct store *st = store_xcalloc(1, sizeof *st);
	size_t len = strlen(path);
	char *lock_path = store_xmalloc(len + 6);

	st->lock_fd = -1;
	st->efd = -1;
	TAILQ_INIT(&st->jobs);
	TAILQ_INIT(&st->done);
	pthread_mutex_init(&st->mtx, NULL);
	pthread_cond_init(&st->work, NULL);
	pthread_cond_init(&st->idle, NULL);

	memcpy(lock_path, path, len);
	memcpy(lock_path + len, "-lock", 6);
	st->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd == -1) {
		snprintf(err, errlen, "cannot open lock file %s: %s",
		    lock_path, strerror(errno));
		goto fail;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "database %s is in use by another "
			    "process (lock %s is held)", path, lock_path);
		else
			snprintf(err, errlen, "cannot lock %s: %s", lock_path,
			    strerror(errno));
		goto fail;
	}
	if (store_create(path, err, errlen) != 0)
		goto fail;
	if ((st->db = schema_open(path, sync_full, err, errlen)) == NULL)
		goto fail;
	if (store_private(path, err, errlen) != 0)
		goto fail;
	if (sql_prepare_all(st, err, errlen) != 0)
		goto fail;
	st->run_rows = STORE_RUN_ROWS;
	if (sql_queue_rebuild(st) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the queue log of %s: %s",
		    path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if ((st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((errno = pthread_create(&st->thread, NULL, store_main, st)) != 0) {
		snprintf(err, errlen, "cannot start the store thread: %s",
		    strerror(errno));
		goto fail;
	}
	st->thread_started = 1;
	free(lock_path);
	return st;

fail:
	qindex_clear(&st->qx);
	sql_finalize_all(st);
	sqlite3_close(st->db);
	if (st->efd != -1)
		close(st->efd);
	if (st->lock_fd != -1)
		close(st->lock_fd);
	pthread_cond_destroy(&st->idle);
	pthread_cond_destroy(&st->work);
	pthread_mutex_destroy(&st->mtx);
	free(lock_path);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	struct job *stop;

	if (st == NULL)
		return;
	if (st->open.n_ops != 0)
		store_commit(st, NULL, NULL);
	stop = store_xcalloc(1, sizeof *stop);
	stop->kind = JOB_STOP;
	store_push(st, stop);
	pthread_join(st->thread, NULL);
	store_job_free(stop);
	store_poll(st);

	sql_finalize_all(st);
	sqlite3_close(st->db);
	close(st->efd);
	close(st->lock_fd); /* releases the flock */
	pthread_cond_destroy(&st->idle);
	pthread_cond_destroy(&st->work);
	pthread_mutex_destroy(&st->mtx);
	free(st->open.buf);
	delta_free(&st->refs);
	delta_free(&st->runs);
	qindex_clear(&st->qx);
	free(st->bodies);
	free(st->pend);
	delta_free(&st->stats);
	sql_group_clear(st);
	delta_free(&st->gc);
	free(st->gc_keys);
	free(st->carry.buf);
	free(st->hold_reads);
	free(st);
}

int
store_fd(const struct store *st)
{
	return st->efd;
}

void
store_poll(struct store *st)
{
	struct job_list list;
	struct job *j;
	uint64_t v;

	/* Read the wake-up before taking the list (see DESIGN). */
	if (read(st->efd, &v, sizeof v) == -1 && errno != EAGAIN)
		abort();
	TAILQ_INIT(&list);
	pthread_mutex_lock(&st->mtx);
	TAILQ_CONCAT(&list, &st->done, entry);
	pthread_mutex_unlock(&st->mtx);

	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		st->backlog -= j->cost;
		switch (j->kind) {
		case JOB_BATCH:
			if (j->done != NULL)
				j->done(j->arg, j->ok);
			break;
		case JOB_READ:
			j->read_cb(j->arg, j->rows, j->n_rows, j->ok);
			break;
		case JOB_EXPIRE:
			if (j->expire_cb != NULL)
				j->expire_cb(j->arg, j->n_expired);
			break;
		case JOB_STOP:
			break;
		}
		store_job_free(j);
	}
}

void
store_commit(struct store *st, void (*done)(void *arg, int ok), void *arg)
{
	struct job *j = store_xcalloc(1, sizeof *j);

	j->kind = JOB_BATCH;
	j->batch = st->open;
	memset(&st->open, 0, sizeof st->open);
	j->done = done;
	j->arg = arg;
	if (j->batch.n_ops != 0 && st->fail_next > 0) {
		st->fail_next--;
		j->inject_fail = 1;
	}
	j->cost = sizeof *j + j->batch.cap;
	store_push(st, j);
}

void
store_queue_read(struct store *st, const char *id, size_t len,
    uint64_t after_seq, unsigned limit,
    void (*cb)(void *arg, const struct store_queued *rows, size_t n, int ok),
    void *arg)
{
	struct job *j = store_xcalloc(1, sizeof *j);

	j->kind = JOB_READ;
	j->id = store_xmalloc(len);
	if (len != 0)
		memcpy(j->id, id, len);
	j->id_len = len;
	j->after_seq = after_seq;
	j->limit = limit != 0 ? limit : 1;
	j->read_cb = cb;
	j->arg = arg;
	j->cost = sizeof *j + len;
	store_push(st, j);
}

void
store_expire(struct store *st, int64_t now,
    void (*cb)(void *arg, uint64_t n), void *arg)
{
	struct job *j = store_xcalloc(1, sizeof *j);

	j->kind = JOB_EXPIRE;
	j->now = now;
	j->expire_cb = cb;
	j->arg = arg;
	j->cost = sizeof *j;
	store_push(st, j);
}

void
store_fail_next(struct store *st, unsigned n)
{
	st->fail_next = n;
}

void
store_set_run_rows(struct store *st, unsigned n)
{
	/* Before the first commit: the thread reads it after the mutex
	 * hand-over of that commit's job. */
	st->run_rows = n != 0 ? n : 1;
}

void
store_hold_reads(struct store *st, const char *path)
{
	/* Before the first read: the thread reads it after the mutex
	 * hand-over of that read's job. */
	size_t len = path != NULL ? strlen(path) + 1 : 0;

	free(st->hold_reads);
	st->hold_reads = NULL;
	if (path != NULL) {
		st->hold_reads = store_xmalloc(len);
		memcpy(st->hold_reads, path, len);
	}
}

size_t
store_backlog(const struct store *st)
{
	return st->backlog;
}

void
store_last_error(struct store *st, char *buf, size_t len)
{
	pthread_mutex_lock(&st->mtx);
	snprintf(buf, len, "%s", st->last_error);
	pthread_mutex_unlock(&st->mtx);
}

int
store_load(struct store *st, const struct store_load_cb *cb, void *arg,
    uint64_t *max_msg_id, char *err, size_t errlen)
{
	store_wait_idle(st);
	return load_run(st, cb, arg, max_msg_id, err, errlen);
}
