/*
 * qindex.c - the store thread's memory of the queue log: per session, the
 * rows it has in table qlog (all their columns) and the runs of table
 * queue that hold its older rows.
 *
 * DESIGN
 *
 * See sql_queue.c for why the queue is a log plus sorted runs. This file
 * is the bookkeeping only, no SQL: a hash table of sessions (open
 * addressing, linear probing, backward-shift deletion, at most half
 * full) keyed by client id, each with
 *   - rows[head..n): its log rows in seq order. Acknowledgements delete
 *     from the front, so the front is an offset that moves (the array is
 *     compacted once the dead front is the larger half);
 *   - runs: the runs holding its rows, in seq order, each with the
 *     smallest seq it had there when learnt, read lazily (runs_known);
 *   - run_max: the largest seq ever put into a run for it (queue_stats
 *     max_seq), read lazily (max_known).
 * The log is bounded (store_set_run_rows, STORE_RUN_ROWS by default), so
 * is this memory: about 80 bytes per log row (a session's array is freed
 * when it empties) plus a small header per session that touched the
 * queue.
 *
 * Everything here may describe a transaction that is then rolled back:
 * the store then drops it all and rebuilds it from the database
 * (sql_queue_rebuild).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static int
qindex_same(const struct qsess *q, uint64_t h, const void *key, size_t klen)
{
	return q->hash == h && q->klen == klen &&
	    (klen == 0 || memcmp(q->key, key, klen) == 0);
}

static void
qindex_place(struct qindex *x, struct qsess *q)
{
	size_t j = q->hash & (x->nslot - 1);

	while (x->slot[j] != NULL)
		j = (j + 1) & (x->nslot - 1);
	x->slot[j] = q;
}

static void
qindex_grow(struct qindex *x)
{
	struct qsess **old = x->slot;
	size_t n = x->nslot, i;

	x->nslot = n ? n * 2 : 256;
	x->slot = store_xcalloc(x->nslot, sizeof *x->slot);
	for (i = 0; i < n; i++) {
		if (old[i] != NULL)
			qindex_place(x, old[i]);
	}
	free(old);
}

struct qsess *
qindex_find(struct qindex *x, const void *key, size_t klen)
{
	uint64_t h;
	size_t j;

	if (x->n == 0)
		return NULL;
	h = store_hash(0, key, klen);
	for (j = h & (x->nslot - 1); x->slot[j] != NULL;
	    j = (j + 1) & (x->nslot - 1)) {
		if (qindex_same(x->slot[j], h, key, klen))
			return x->slot[j];
	}
	return NULL;
}

struct qsess *
qindex_get(struct qindex *x, const void *key, size_t klen)
{
	struct qsess *q;

	if ((q = qindex_find(x, key, klen)) != NULL)
		return q;
	if ((x->n + 1) * 2 > x->nslot)
		qindex_grow(x);
	q = store_xcalloc(1, sizeof *q);
	q->key = store_xmalloc(klen);
	if (klen != 0)
		memcpy(q->key, key, klen);
	q->klen = klen;
	q->hash = store_hash(0, key, klen);
	qindex_place(x, q);
	x->n++;
	return q;
}

static void
qsess_free(struct qsess *q)
{
	free(q->key);
	free(q->rows);
	free(q->runs);
	free(q);
}

void
qindex_remove(struct qindex *x, struct qsess *q)
{
	size_t i, j, k;

	for (i = q->hash & (x->nslot - 1); x->slot[i] != q;
	    i = (i + 1) & (x->nslot - 1))
		;
	x->log_rows -= q->n - q->head;
	/* Backward shift: pull later members of the probe run into the
	 * hole when their home slot does not lie after it. */
	for (j = (i + 1) & (x->nslot - 1); x->slot[j] != NULL;
	    j = (j + 1) & (x->nslot - 1)) {
		k = x->slot[j]->hash & (x->nslot - 1);
		if (((j - k) & (x->nslot - 1)) >= ((j - i) & (x->nslot - 1))) {
			x->slot[i] = x->slot[j];
			i = j;
		}
	}
	x->slot[i] = NULL;
	x->n--;
	qsess_free(q);
}

void
qindex_clear(struct qindex *x)
{
	size_t i;

	for (i = 0; i < x->nslot; i++) {
		if (x->slot[i] != NULL)
			qsess_free(x->slot[i]);
	}
	free(x->slot);
	free(x->live);
	memset(x, 0, sizeof *x);
}

/* The first row index at or after head whose seq is >= seq. */
static size_t
qsess_lower(const struct qsess *q, uint64_t seq)
{
	size_t lo = q->head, hi = q->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (q->rows[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct logrow *
qsess_row(struct qsess *q, uint64_t seq)
{
	size_t i = qsess_lower(q, seq);

	return i < q->n && q->rows[i].seq == seq ? &q->rows[i] : NULL;
}

const struct logrow *
qsess_after(const struct qsess *q, uint64_t seq)
{
	size_t i = qsess_lower(q, seq + 1);

	return i < q->n ? &q->rows[i] : NULL;
}

void
qsess_add(struct qindex *x, struct qsess *q, const struct logrow *r)
{
	size_t i;

	if (q->head != 0 && q->n == q->cap) {
		memmove(q->rows, q->rows + q->head,
		    (q->n - q->head) * sizeof *q->rows);
		q->n -= q->head;
		q->head = 0;
	}
	q->rows = store_grow(q->rows, q->n, &q->cap, 8, sizeof *q->rows);
	i = q->n != q->head && q->rows[q->n - 1].seq > r->seq ?
	    qsess_lower(q, r->seq) : q->n;
	memmove(q->rows + i + 1, q->rows + i, (q->n - i) * sizeof *q->rows);
	q->rows[i] = *r;
	q->n++;
	x->log_rows++;
}

void
qsess_empty(struct qsess *q)
{
	/* Memory follows the log, not every session that ever had a row. */
	free(q->rows);
	q->rows = NULL;
	q->head = q->n = q->cap = 0;
}

void
qsess_drop(struct qindex *x, struct qsess *q, struct logrow *r)
{
	size_t i = (size_t)(r - q->rows);

	if (i == q->head) {
		q->head++;
	} else {
		memmove(q->rows + i, q->rows + i + 1,
		    (q->n - i - 1) * sizeof *q->rows);
		q->n--;
	}
	if (q->head == q->n) {
		qsess_empty(q);
	} else if (q->head > (q->n - q->head)) {
		memmove(q->rows, q->rows + q->head,
		    (q->n - q->head) * sizeof *q->rows);
		q->n -= q->head;
		q->head = 0;
	}
	x->log_rows--;
}

/* The position in q->runs of the run that holds (or would hold) seq: the
 * last whose first seq is <= seq, else the first. q->n_runs != 0. */
size_t
qsess_run_for(const struct qsess *q, uint64_t seq)
{
	size_t lo = 0, hi = q->n_runs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (q->runs[mid].first_seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? 0 : lo - 1;
}

void
qsess_add_run(struct qsess *q, int64_t run, uint64_t first_seq)
{
	q->runs = store_grow(q->runs, q->n_runs, &q->runs_cap, 4,
	    sizeof *q->runs);
	q->runs[q->n_runs].run = run;
	q->runs[q->n_runs].first_seq = first_seq;
	q->n_runs++;
}

void
qindex_drop_run(struct qindex *x, int64_t run)
{
	struct qsess *q;
	size_t i, j, k;

	for (i = 0; i < x->n_live; i++) {
		if (x->live[i].run == run) {
			memmove(x->live + i, x->live + i + 1,
			    (x->n_live - i - 1) * sizeof *x->live);
			x->n_live--;
			break;
		}
	}
	for (i = 0; i < x->nslot; i++) {
		if ((q = x->slot[i]) == NULL)
			continue;
		for (j = k = 0; j < q->n_runs; j++) {
			if (q->runs[j].run != run)
				q->runs[k++] = q->runs[j];
		}
		q->n_runs = k;
	}
}

void
qindex_join_runs(struct qindex *x, size_t i, int64_t into)
{
	int64_t a = x->live[i].run, b = x->live[i + 1].run;
	struct qsess *q;
	size_t j, k;

	x->live[i].run = into;
	x->live[i].n += x->live[i + 1].n;
	memmove(x->live + i + 1, x->live + i + 2,
	    (x->n_live - i - 2) * sizeof *x->live);
	x->n_live--;
	for (j = 0; j < x->nslot; j++) {
		if ((q = x->slot[j]) == NULL)
			continue;
		/* A session's list follows the live order: a then b. */
		for (k = 0; k < q->n_runs; k++) {
			if (q->runs[k].run != a && q->runs[k].run != b)
				continue;
			q->runs[k].run = into;
			if (k + 1 < q->n_runs && q->runs[k + 1].run == b) {
				memmove(q->runs + k + 1, q->runs + k + 2,
				    (q->n_runs - k - 2) * sizeof *q->runs);
				q->n_runs--;
			}
			break;
		}
	}
}

void
qindex_add_live(struct qindex *x, int64_t run, int64_t n)
{
	x->live = store_grow(x->live, x->n_live, &x->live_cap, 16,
	    sizeof *x->live);
	x->live[x->n_live].run = run;
	x->live[x->n_live].n = n;
	x->n_live++;
}
