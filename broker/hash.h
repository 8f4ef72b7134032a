/*
 * hash.h - a string-keyed hash table (keys are byte strings with a length,
 * copied into the table; values are borrowed pointers). Used for the
 * session table (client id -> session) and for wide topic-tree nodes.
 * Not thread-safe; everything runs on the event loop thread.
 */
#ifndef TERN_HASH_H
#define TERN_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash;

/* A new empty table. */
struct hash *hash_new(void);
/* Free the table and its key copies; values are not touched. */
void hash_free(struct hash *h);
/* The value stored under key, or NULL. */
void *hash_get(const struct hash *h, const void *key, size_t len);
/* Store value under key (copied), replacing any previous value, which is
 * returned (NULL if none). value must not be NULL. */
void *hash_put(struct hash *h, const void *key, size_t len, void *value);
/* Remove key; returns the value it had, or NULL. */
void *hash_del(struct hash *h, const void *key, size_t len);
/* Number of entries. */
size_t hash_count(const struct hash *h);
/* Call cb for each entry, in no particular order. cb must not add or
 * remove entries. */
void hash_foreach(const struct hash *h,
    void (*cb)(const void *key, size_t len, void *value, void *arg),
    void *arg);
/* The hash function (FNV-1a 64), exported for callers that shard. */
uint64_t hash_bytes(const void *key, size_t len);

#endif /* TERN_HASH_H */
