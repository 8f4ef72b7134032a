/*
 * retain_tree.c - the retained-message tree; see trie.h.
 *
 * DESIGN
 *
 * A trie of topic names keyed by level, the mirror image of trie.c: the
 * stored keys are plain names and the query is a filter (MQTT v5 3.3.1.3,
 * 3.8.4: retained messages sent on SUBSCRIBE). A node holds its literal
 * children in the same struct trie_kids as trie.c (trie_int.h) and at most
 * one value. The root stands for "no level yet" and never has a value;
 * empty levels are real levels ("a//b", "/a").
 *
 * Matching walks the filter's levels: a literal level looks up one child,
 * '+' enters every child of the node, '#' reports the node itself (the
 * parent level: "a/#" matches "a", MQTT-4.7.1-2) and its whole subtree.
 * At the root, '+' and '#' skip children whose name starts with '$'
 * (MQTT-4.7.2-1). The cost is the number of nodes under the matched
 * prefixes, which for a filter without '#' is bounded by the matches
 * times the depth.
 *
 * Clearing a value frees the nodes left without value or children.
 *
 * The tree counts the memory of its nodes (each one's struct, name and
 * slot in its parent's children; RTREE_NODE_COST), so that retain.c can
 * bound what the retained messages cost with the index they need: a flood
 * of deep, distinct topics costs mostly nodes, not messages.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trie.h"
#include "trie_int.h"
#include "xmalloc.h"

struct rtree_node {
	struct trie_key		 key; /* first: trie_kids holds &key */
	struct rtree_node	*parent;
	struct trie_kids	 kids;
	void			*value;
	char			 name[];
};

struct rtree {
	struct rtree_node	*root;
	size_t			 count;
	size_t			 bytes; /* of the nodes but the root */
	void			(*release)(void *);
};

struct rtree_match_ctx {
	struct rtree	*r;
	const char	*end;
	void		(*cb)(void *, void *);
	void		*arg;
};

/* What a node with a name of len bytes costs. */
#define RTREE_NODE_COST(len) \
	(sizeof(struct rtree_node) + (len) + sizeof(struct trie_key *))

static struct rtree_node *
rtree_node_new(struct rtree_node *parent, const char *name, size_t len)
{
	struct rtree_node	*n;

	if (len > UINT32_MAX)
		abort();
	n = xcalloc(1, sizeof *n + len);
	memcpy(n->name, name, len);
	trie_key_init(&n->key, n->name, len);
	n->parent = parent;
	return n;
}

/* The node for topic, created if create is set, else NULL if absent. */
static struct rtree_node *
rtree_path(struct rtree *r, const char *topic, size_t len, int create)
{
	struct rtree_node	*n = r->root, *c;
	struct trie_level	 lv;
	const char		*s = topic, *end = topic + len;

	while (trie_level_next(&s, end, &lv)) {
		c = (struct rtree_node *)trie_kids_find(&n->kids, lv.p, lv.len);
		if (c == NULL) {
			if (!create)
				return NULL;
			c = rtree_node_new(n, lv.p, lv.len);
			trie_kids_add(&n->kids, &c->key);
			r->bytes += RTREE_NODE_COST(lv.len);
		}
		n = c;
	}
	return n;
}

/* A new empty tree; release(value) is called for each value dropped. */
struct rtree *
rtree_new(void (*release)(void *value))
{
	struct rtree	*r;

	r = xcalloc(1, sizeof *r);
	r->root = rtree_node_new(NULL, "", 0);
	r->release = release;
	return r;
}

/* Free the tree, releasing every value. Iterative (deep topics). */
void
rtree_free(struct rtree *r)
{
	struct rtree_node	*n;
	void			**stack;
	size_t			  sp = 0, cap = 64;

	if (r == NULL)
		return;
	stack = xreallocarray(NULL, cap, sizeof *stack);
	stack[sp++] = r->root;
	while (sp > 0) {
		n = stack[--sp];
		trie_kids_push(&n->kids, &stack, &sp, &cap, 0);
		if (n->value != NULL && r->release != NULL)
			r->release(n->value);
		trie_kids_clear(&n->kids);
		free(n);
	}
	free(stack);
	free(r);
}

/*
 * Set the value at topic, taking it; the previous value, if any, is
 * released. value NULL clears the topic and frees the nodes left empty.
 */
void
rtree_set(struct rtree *r, const char *topic, size_t len, void *value)
{
	struct rtree_node	*n, *parent;

	n = rtree_path(r, topic, len, value != NULL);
	if (n == NULL)
		return;
	if (n->value != NULL) {
		if (r->release != NULL)
			r->release(n->value);
		r->count--;
	}
	n->value = value;
	if (value != NULL) {
		r->count++;
		return;
	}
	while (n != r->root && n->value == NULL && n->kids.n == 0) {
		parent = n->parent;
		trie_kids_del(&parent->kids, &n->key);
		r->bytes -= RTREE_NODE_COST(n->key.len);
		trie_kids_clear(&n->kids);
		free(n);
		n = parent;
	}
}

/* The value at exactly topic, or NULL; borrowed. */
void *
rtree_get(struct rtree *r, const char *topic, size_t len)
{
	struct rtree_node	*n;

	n = rtree_path(r, topic, len, 0);
	return n != NULL ? n->value : NULL;
}

static int
rtree_dollar(const struct rtree_match_ctx *m, const struct rtree_node *n,
    const struct rtree_node *c)
{
	return n == m->r->root && c->key.len > 0 && c->key.name[0] == '$';
}

/* Report n's value and every value below it ('#'). */
static void
rtree_all(struct rtree_match_ctx *m, struct rtree_node *n)
{
	struct rtree_node	*c;
	uint32_t		 it = 0;

	if (n->value != NULL)
		m->cb(n->value, m->arg);
	while ((c = (struct rtree_node *)trie_kids_next(&n->kids, &it)) != NULL) {
		if (!rtree_dollar(m, n, c))
			rtree_all(m, c);
	}
}

/* Match the filter levels from s (NULL: none left) below n. */
static void
rtree_walk(struct rtree_match_ctx *m, struct rtree_node *n, const char *s)
{
	struct rtree_node	*c;
	struct trie_level	 lv;
	uint32_t		 it = 0;

	if (!trie_level_next(&s, m->end, &lv)) {
		if (n->value != NULL)
			m->cb(n->value, m->arg);
		return;
	}
	if (lv.len == 1 && lv.p[0] == '#') {
		rtree_all(m, n);
		return;
	}
	if (lv.len == 1 && lv.p[0] == '+') {
		while ((c = (struct rtree_node *)trie_kids_next(&n->kids,
		    &it)) != NULL) {
			if (!rtree_dollar(m, n, c))
				rtree_walk(m, c, s);
		}
		return;
	}
	c = (struct rtree_node *)trie_kids_find(&n->kids, lv.p, lv.len);
	if (c != NULL)
		rtree_walk(m, c, s);
}

/* Call cb for every value whose topic matches filter ('+', '#'; no
 * $share). Values are borrowed; cb must not modify the tree. */
void
rtree_match(struct rtree *r, const char *filter, size_t len,
    void (*cb)(void *value, void *arg), void *arg)
{
	struct rtree_match_ctx	m = { r, filter + len, cb, arg };

	rtree_walk(&m, r->root, filter);
}

/* Call cb for every value, '$' topics too, in no set order. Values are
 * borrowed; cb must not modify the tree. Iterative (deep topics). */
void
rtree_foreach(struct rtree *r, void (*cb)(void *value, void *arg),
    void *arg)
{
	struct rtree_node	*n;
	void			**stack;
	size_t			  sp = 0, cap = 64;

	stack = xreallocarray(NULL, cap, sizeof *stack);
	stack[sp++] = r->root;
	while (sp > 0) {
		n = stack[--sp];
		if (n->value != NULL)
			cb(n->value, arg);
		trie_kids_push(&n->kids, &stack, &sp, &cap, 0);
	}
	free(stack);
}

/* Number of values held. */
size_t
rtree_count(const struct rtree *r)
{
	return r->count;
}

/* Memory of the nodes (see the design note). */
size_t
rtree_bytes(const struct rtree *r)
{
	return r->bytes;
}

/* What setting a value at topic would add to rtree_bytes(): the nodes of
 * the levels not in the tree yet. */
size_t
rtree_cost(struct rtree *r, const char *topic, size_t len)
{
	struct rtree_node	*n = r->root;
	struct trie_level	 lv;
	const char		*s = topic, *end = topic + len;
	size_t			 cost = 0;

	while (trie_level_next(&s, end, &lv)) {
		if (n != NULL)
			n = (struct rtree_node *)trie_kids_find(&n->kids, lv.p,
			    lv.len);
		if (n == NULL)
			cost += RTREE_NODE_COST(lv.len);
	}
	return cost;
}
