/*
 * hash.c - a string-keyed hash table; see hash.h.
 *
 * DESIGN
 *
 * Open addressing with linear probing over a power-of-two array of slots.
 * A slot is 16 bytes: the full 64-bit FNV-1a hash of the key and a pointer
 * to an item holding the value, the key length and the key bytes in one
 * allocation. Probing compares hashes inside the slot array and only
 * touches an item when the hashes are equal, so a lookup usually costs one
 * or two cache lines of slots plus the item it returns.
 *
 * The table grows (doubles) before the load passes 3/4 and shrinks
 * (halves) when it falls below 1/8, so the session table gives memory back
 * after a wave of disconnects. Deletion uses backward shifting (Knuth
 * 6.4, algorithm R) instead of tombstones: probe sequences stay short
 * whatever the history of puts and deletes.
 *
 * The slot index is taken from the hash folded to 32 bits (high ^ low):
 * the low bits of FNV-1a alone depend only on the low bits of its state.
 *
 * Memory per entry is about 16 / load bytes of slots (21 to 43, 28 on
 * average) plus one allocation of len + 13 bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xmalloc.h"

#define HASH_MIN_CAP 8

struct hash_item {
	void		*value;
	uint32_t	 len;
	char		 key[];
};

struct hash_slot {
	uint64_t		 h;
	struct hash_item	*item; /* NULL when the slot is free */
};

struct hash {
	struct hash_slot	*slots;
	size_t			 cap; /* 0 or a power of two */
	size_t			 n;
};

uint64_t
hash_bytes(const void *key, size_t len)
{
	const unsigned char	*p = key;
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline size_t
hash_home(uint64_t h, size_t cap)
{
	return (size_t)((uint32_t)(h ^ (h >> 32))) & (cap - 1);
}

/* The slot holding key, or NULL. */
static struct hash_slot *
hash_find(const struct hash *h, const void *key, size_t len, uint64_t hv)
{
	struct hash_slot	*s;
	size_t			 i, mask;

	if (h->n == 0)
		return NULL;
	mask = h->cap - 1;
	for (i = hash_home(hv, h->cap);; i = (i + 1) & mask) {
		s = &h->slots[i];
		if (s->item == NULL)
			return NULL;
		if (s->h == hv && s->item->len == len &&
		    memcmp(s->item->key, key, len) == 0)
			return s;
	}
}

/* Move every entry into a new slot array of cap slots. */
static void
hash_resize(struct hash *h, size_t cap)
{
	struct hash_slot	*old = h->slots, *s;
	size_t			 oldcap = h->cap, i, j;

	if (cap > ((size_t)1 << 32))
		abort(); /* the index is taken from 32 bits */
	h->slots = xcalloc(cap, sizeof *h->slots);
	h->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].item == NULL)
			continue;
		for (j = hash_home(old[i].h, cap);; j = (j + 1) & (cap - 1)) {
			s = &h->slots[j];
			if (s->item == NULL) {
				*s = old[i];
				break;
			}
		}
	}
	free(old);
}

/* A new empty table; no slots are allocated until the first put. */
struct hash *
hash_new(void)
{
	return xcalloc(1, sizeof(struct hash));
}

/* Free the table, its slots and key copies; values are not touched. */
void
hash_free(struct hash *h)
{
	size_t	i;

	if (h == NULL)
		return;
	for (i = 0; i < h->cap; i++)
		free(h->slots[i].item);
	free(h->slots);
	free(h);
}

/* The value stored under key, or NULL. The value stays owned by the
 * caller that stored it. */
void *
hash_get(const struct hash *h, const void *key, size_t len)
{
	struct hash_slot	*s;

	s = hash_find(h, key, len, hash_bytes(key, len));
	return s != NULL ? s->item->value : NULL;
}

/* Store value (borrowed, not NULL) under a copy of key. Returns the value
 * it replaces, or NULL when the key is new. */
void *
hash_put(struct hash *h, const void *key, size_t len, void *value)
{
	struct hash_slot	*s;
	struct hash_item	*it;
	uint64_t		 hv = hash_bytes(key, len);
	size_t			 i;
	void			*old;

	if (value == NULL || len > UINT32_MAX)
		abort();
	if ((s = hash_find(h, key, len, hv)) != NULL) {
		old = s->item->value;
		s->item->value = value;
		return old;
	}
	if (h->cap == 0)
		hash_resize(h, HASH_MIN_CAP);
	else if ((h->n + 1) * 4 > h->cap * 3)
		hash_resize(h, h->cap * 2);

	it = xmalloc(offsetof(struct hash_item, key) + len + 1);
	it->value = value;
	it->len = (uint32_t)len;
	memcpy(it->key, key, len);
	it->key[len] = '\0';

	for (i = hash_home(hv, h->cap);; i = (i + 1) & (h->cap - 1)) {
		s = &h->slots[i];
		if (s->item == NULL)
			break;
	}
	s->h = hv;
	s->item = it;
	h->n++;
	return NULL;
}

/* Remove key and free its copy. Returns the value it had, or NULL. */
void *
hash_del(struct hash *h, const void *key, size_t len)
{
	struct hash_slot	*s;
	size_t			 i, j, k, mask;
	void			*value;

	if ((s = hash_find(h, key, len, hash_bytes(key, len))) == NULL)
		return NULL;
	value = s->item->value;
	free(s->item);
	h->n--;

	/*
	 * Backward shift: walk the cluster after the hole and move back any
	 * entry whose home slot is not cyclically in (hole, its position].
	 */
	mask = h->cap - 1;
	i = (size_t)(s - h->slots);
	for (j = (i + 1) & mask;; j = (j + 1) & mask) {
		if (h->slots[j].item == NULL)
			break;
		k = hash_home(h->slots[j].h, h->cap);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		h->slots[i] = h->slots[j];
		i = j;
	}
	h->slots[i].item = NULL;
	h->slots[i].h = 0;

	if (h->n == 0) {
		free(h->slots);
		h->slots = NULL;
		h->cap = 0;
	} else if (h->cap > HASH_MIN_CAP && h->n * 8 < h->cap)
		hash_resize(h, h->cap / 2);
	return value;
}

/* Number of entries. */
size_t
hash_count(const struct hash *h)
{
	return h->n;
}

/* Call cb for each entry; key is borrowed for the call, NUL-terminated. */
void
hash_foreach(const struct hash *h,
    void (*cb)(const void *key, size_t len, void *value, void *arg),
    void *arg)
{
	struct hash_item	*it;
	size_t			 i;

	for (i = 0; i < h->cap; i++) {
		if ((it = h->slots[i].item) != NULL)
			cb(it->key, it->len, it->value, arg);
	}
}
