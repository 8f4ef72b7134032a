/*
 * trie_int.h - internals shared by trie.c and retain_tree.c: the store of
 * a node's literal children, keyed by topic level.
 *
 * A node embeds a struct trie_key as its first member; the children store
 * holds pointers to those keys and never owns the nodes. Up to
 * TRIE_KIDS_SMALL children are kept in a plain array searched linearly
 * (most nodes have zero or one child); beyond that the same pointer array
 * becomes an open-addressed table (linear probing, power-of-two size, load
 * at most 3/4), indexed by the level hash cached in each key. Compared to
 * a struct hash this costs 8 bytes per slot instead of 16 plus a copy of
 * the key, which matters for a node such as "im/u" with one child per user.
 */
#ifndef TERN_TRIE_INT_H
#define TERN_TRIE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"

/* Children kept in a linear array up to this many. */
#define TRIE_KIDS_SMALL 8

/* The first member of every node: its level name and cached hash. */
struct trie_key {
	const char	*name; /* not NUL-terminated; lives in the node */
	uint32_t	 len;
	uint32_t	 hash; /* trie_key_hash(name, len) */
};

/* A node's literal children. All zero is an empty store. */
struct trie_kids {
	struct trie_key	**v;
	uint32_t	  n;
	uint32_t	  cap; /* <= TRIE_KIDS_SMALL: array; else table size */
};

/* The hash of one topic level, folded to 32 bits. */
static inline uint32_t
trie_key_hash(const char *name, size_t len)
{
	uint64_t	h = hash_bytes(name, len);

	return (uint32_t)(h ^ (h >> 32));
}

/* trie.c */
/* The child named name/len, or NULL. */
struct trie_key	*trie_kids_find(const struct trie_kids *k, const char *name,
		    size_t len);
/* Add key (borrowed; must not be present and must have its hash set). */
void		 trie_kids_add(struct trie_kids *k, struct trie_key *key);
/* Remove key (which must be present). Shrinks the store as needed. */
void		 trie_kids_del(struct trie_kids *k, struct trie_key *key);
/* Iterate: start with *iter = 0; returns NULL at the end. The store must
 * not change during the iteration. */
struct trie_key	*trie_kids_next(const struct trie_kids *k, uint32_t *iter);
/* Set key to name/len (the node's own copy, len <= UINT32_MAX), with its
 * hash: shared by the nodes of both trees. */
void		 trie_key_init(struct trie_key *key, const char *name,
		    size_t len);
/* Free the store's memory (not the children). */
void		 trie_kids_clear(struct trie_kids *k);
/* For the iterative frees: push every child of k (as the node it heads:
 * the key is the first member of both node types) onto *stack, growing
 * it so that `spare` more slots stay free. */
void		 trie_kids_push(const struct trie_kids *k, void ***stack,
		    size_t *sp, size_t *cap, size_t spare);

/* A level of a topic or filter: [p, p + len). Set by trie_level_next. */
struct trie_level {
	const char	*p;
	size_t		 len;
};

/*
 * Split the next level off [*s, end). Returns 0 when no level is left.
 * *s is NULL after the last level: "a/" has two levels, "a" and "".
 * Start with *s pointing at the topic (a zero-length topic is one empty
 * level).
 */
static inline int
trie_level_next(const char **s, const char *end, struct trie_level *lv)
{
	const char	*slash;

	if (*s == NULL)
		return 0;
	lv->p = *s;
	slash = memchr(*s, '/', (size_t)(end - *s));
	if (slash == NULL) {
		lv->len = (size_t)(end - *s);
		*s = NULL;
	} else {
		lv->len = (size_t)(slash - *s);
		*s = slash + 1;
	}
	return 1;
}

#endif /* TERN_TRIE_INT_H */
