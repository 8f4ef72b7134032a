/*
 * bench_stat.c - tern-bench's counters: latency histogram, sequence
 * trackers, clock.
 *
 * Design note. The histogram follows HdrHistogram's layout with a fixed
 * precision of 7 bits: values 0..255 have one bucket each; a larger value
 * v with highest set bit e (8..63) goes to sub-bucket v >> (e - 7), one of
 * 128 per power of two, so a bucket is at most 1/128 of its value wide.
 * 7,424 64-bit counters cover every uint64_t; adding a value is a
 * count-leading-zeros, a shift and an increment, with no allocation.
 * Quantiles report the bucket's highest value (as HdrHistogram's
 * "highest equivalent value"), capped at the true maximum.
 *
 * A tracker is a bitmap of the sequence numbers one receiver has seen
 * from one publisher. Sequence numbers start at 0 and grow by one per
 * message, so the bitmap is dense; it grows by doubling up to the highest
 * number seen, which the caller bounds (a sequence number is only marked
 * when it is below the publisher's sent count). Lost = sent - unique,
 * counted once the drain is over.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static unsigned
hist_index(uint64_t v)
{
	unsigned e;

	if (v < 256)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return 256 + (e - 8) * BENCH_HIST_SUB +
	    (unsigned)((v >> (e - 7)) - BENCH_HIST_SUB);
}

static uint64_t
hist_highest(unsigned idx)
{
	unsigned e;
	uint64_t m;

	if (idx < 256)
		return idx;
	e = 8 + (idx - 256) / BENCH_HIST_SUB;
	m = BENCH_HIST_SUB + (idx - 256) % BENCH_HIST_SUB;
	if (e == 63 && m == 2 * BENCH_HIST_SUB - 1)
		return UINT64_MAX;
	return ((m + 1) << (e - 7)) - 1;
}

/* Empty the histogram; see bench.h. */
void
bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* Record one value; see bench.h. */
void
bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

/* The value at quantile q; see bench.h. */
uint64_t
bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (h->n == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	want = (uint64_t)(q * (double)h->n);
	if (want < 1)
		want = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			v = hist_highest(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* Write the CDF for gnuplot; see bench.h. */
int
bench_hist_write_cdf(const struct bench_hist *h, FILE *f)
{
	uint64_t seen = 0, v;
	unsigned i;

	for (i = 0; i < BENCH_HIST_BUCKETS && h->n > 0; i++) {
		if (h->counts[i] == 0)
			continue;
		seen += h->counts[i];
		v = hist_highest(i);
		if (v > h->max)
			v = h->max;
		if (fprintf(f, "%.3f %.6f\n", (double)v / 1000.0,
		    (double)seen / (double)h->n) < 0)
			return -1;
	}
	return 0;
}

/* Mark seq as received; see bench.h. */
int
bench_track_mark(struct bench_track *t, uint64_t seq)
{
	uint64_t w = seq >> 6, bit = (uint64_t)1 << (seq & 63), n;
	uint64_t *nb;

	if (w >= t->nwords) {
		n = t->nwords ? t->nwords : 64;
		while (n <= w)
			n *= 2;
		nb = realloc(t->bits, n * sizeof *nb);
		if (nb == NULL)
			return -1;
		memset(nb + t->nwords, 0, (n - t->nwords) * sizeof *nb);
		t->bits = nb;
		t->nwords = n;
	}
	if (t->bits[w] & bit) {
		t->dup++;
		return 0;
	}
	t->bits[w] |= bit;
	t->unique++;
	return 1;
}

/* Free the bitmap; see bench.h. */
void
bench_track_free(struct bench_track *t)
{
	free(t->bits);
	t->bits = NULL;
	t->nwords = 0;
}

/* Monotonic clock in ns; see bench.h. */
uint64_t
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
