/*
 * delta.c - net changes accumulated during one transaction.
 *
 * DESIGN
 *
 * A write transaction changes two kinds of counters many times: the
 * reference count of a message body (every queue row and retained row
 * that points at it) and the per-session queue counters (rows, bytes,
 * largest seq) that let start-up avoid reading queue rows. Writing each
 * change as it happens would double the row writes of a fan-out, so the
 * store thread adds them up here, keyed by message id or client id, and
 * sql_queue_flush writes each key once before COMMIT.
 *
 * The table is an array of entries in insertion order (so the flush order
 * is deterministic) plus an open-addressed index of entry numbers with
 * linear probing, kept at most half full. Byte keys are borrowed: they
 * point into the batch buffers of the transaction, which outlive it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Above this many slots a cleared table gives its memory back. */
#define DELTA_KEEP_SLOTS 65536

uint64_t
store_hash(uint64_t ikey, const void *key, size_t klen)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ULL ^ ikey;
	size_t i;

	for (i = 0; i < klen; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	/* Finalise (splitmix64) so that sequential ids spread out. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static int
delta_same(const struct delta_entry *e, uint64_t h, uint64_t ikey,
    const void *key, size_t klen)
{
	return e->hash == h && e->ikey == ikey && e->klen == klen &&
	    (klen == 0 || memcmp(e->key, key, klen) == 0);
}

static void
delta_grow(struct delta *d)
{
	size_t nslot = d->nslot ? d->nslot * 2 : 64, i, j;

	free(d->slot);
	d->slot = store_xcalloc(nslot, sizeof *d->slot);
	d->nslot = nslot;
	for (i = 0; i < d->n; i++) {
		j = d->e[i].hash & (nslot - 1);
		while (d->slot[j] != 0)
			j = (j + 1) & (nslot - 1);
		d->slot[j] = (uint32_t)(i + 1);
	}
}

struct delta_entry *
delta_find(struct delta *d, uint64_t ikey, const void *key, size_t klen)
{
	uint64_t h;
	size_t j;

	if (d->n == 0)
		return NULL;
	h = store_hash(ikey, key, klen);
	for (j = h & (d->nslot - 1); d->slot[j] != 0;
	    j = (j + 1) & (d->nslot - 1)) {
		if (delta_same(&d->e[d->slot[j] - 1], h, ikey, key, klen))
			return &d->e[d->slot[j] - 1];
	}
	return NULL;
}

struct delta_entry *
delta_get(struct delta *d, uint64_t ikey, const void *key, size_t klen)
{
	struct delta_entry *e;
	uint64_t h = store_hash(ikey, key, klen);
	size_t j;

	if (d->nslot != 0) {
		for (j = h & (d->nslot - 1); d->slot[j] != 0;
		    j = (j + 1) & (d->nslot - 1)) {
			e = &d->e[d->slot[j] - 1];
			if (delta_same(e, h, ikey, key, klen))
				return e;
		}
	}
	if ((d->n + 1) * 2 > d->nslot)
		delta_grow(d);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->e = store_xrealloc(d->e, d->cap * sizeof *d->e);
	}
	e = &d->e[d->n++];
	memset(e, 0, sizeof *e);
	e->ikey = ikey;
	e->key = key;
	e->klen = klen;
	e->hash = h;
	for (j = h & (d->nslot - 1); d->slot[j] != 0;
	    j = (j + 1) & (d->nslot - 1))
		;
	d->slot[j] = (uint32_t)d->n;
	return e;
}

void
delta_clear(struct delta *d)
{
	if (d->nslot > DELTA_KEEP_SLOTS) {
		delta_free(d);
		return;
	}
	if (d->n != 0)
		memset(d->slot, 0, d->nslot * sizeof *d->slot);
	d->n = 0;
}

void
delta_free(struct delta *d)
{
	free(d->e);
	free(d->slot);
	memset(d, 0, sizeof *d);
}
