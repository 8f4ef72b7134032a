/*
 * trie.c - the subscription tree; see trie.h.
 *
 * DESIGN
 *
 * A trie keyed by topic level (MQTT v5 section 4.7). The root stands for
 * "no level yet"; every other node stands for one filter level. A node
 * keeps:
 *
 * - its literal children in a struct trie_kids (trie_int.h: a small array,
 *   or an open-addressed table of node pointers when wide);
 * - its '+' child and its '#' child in two pointers of their own, so a
 *   match never looks at literal siblings it does not need;
 * - the plain subscriptions whose filter ends here, in a struct trie_subs
 *   (an array of struct trie_sub, one per owner, with a pointer-hash index
 *   once it holds more than TRIE_SUBS_LINEAR entries so that a topic with
 *   100k subscribers still adds and removes in O(1));
 * - the shared-subscription groups (MQTT v5 4.8.2) whose inner filter ends
 *   here, in a list of struct trie_group, each with its own members and a
 *   round-robin cursor. "$share/g/a/+" lives in group "g" at node "a/+".
 *
 * Matching a topic name walks its levels once. At a node, for the next
 * level L: the '#' child matches (it matches the rest, whatever it is),
 * the '+' child is entered for the remaining levels, and the literal child
 * L, looked up in O(1), is entered too. When the levels run out, the
 * node's own subscriptions match, and so do those of its '#' child:
 * "sport/#" matches "sport" (MQTT-4.7.1-2). The recursion goes only as
 * deep as the topic, and the nodes visited are those on matching paths:
 * at most 1 + 3 per level per path, so the cost is bounded by depth times
 * the number of wildcard paths that match, never by the number of
 * subscriptions in the tree.
 *
 * '$'-topics (MQTT-4.7.2-1): at the root, a first level starting with '$'
 * skips the '+' and '#' children. Empty levels are real levels: "a//b" has
 * three, "/a" two, and "a/" two.
 *
 * Removing the last subscription or group of a node frees it, and then
 * each ancestor left with nothing, so the tree's size follows the live
 * subscriptions.
 *
 * The literal-children store (trie_kids_*) is also used by retain_tree.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "trie.h"
#include "trie_int.h"
#include "xmalloc.h"

/* Subscriptions of one node or group; indexed once larger than this. */
#define TRIE_SUBS_LINEAR 16

/* Children table size when an array outgrows TRIE_KIDS_SMALL. */
#define TRIE_KIDS_TABLE_MIN (TRIE_KIDS_SMALL * 2)

struct trie_subs {
	struct trie_sub	*v;
	uint32_t	*idx; /* when cap > TRIE_SUBS_LINEAR: 2 * cap slots of
			       * (index into v) + 1, 0 for free */
	uint32_t	 n;
	uint32_t	 cap;
};

struct trie_group {
	struct trie_group	*next;
	struct trie_subs	 members;
	uint32_t		 cursor; /* next member to deliver to */
	uint32_t		 len;
	char			 name[]; /* NUL-terminated */
};

struct trie_node {
	struct trie_key		 key; /* first: trie_kids holds &key */
	struct trie_node	*parent;
	struct trie_kids	 kids;
	struct trie_node	*plus;
	struct trie_node	*multi; /* '#' */
	struct trie_subs	 subs;
	struct trie_group	*groups;
	char			 name[];
};

struct trie {
	struct trie_node	*root;
	size_t			 count;
	size_t			 visits;
	trie_accept_fn		 accept;
};

/* ------------------------------------------------------------------ */
/* Literal children (shared with retain_tree.c).                       */

static void
trie_kids_insert(struct trie_key **v, uint32_t cap, struct trie_key *key)
{
	uint32_t	i, mask = cap - 1;

	for (i = key->hash & mask; v[i] != NULL; i = (i + 1) & mask)
		continue;
	v[i] = key;
}

/* Rebuild k as a table of cap (> TRIE_KIDS_SMALL) slots. */
static void
trie_kids_rehash(struct trie_kids *k, uint32_t cap)
{
	struct trie_key	**v;
	struct trie_key	 *key;
	uint32_t	  it = 0;

	v = xcalloc(cap, sizeof *v);
	while ((key = trie_kids_next(k, &it)) != NULL)
		trie_kids_insert(v, cap, key);
	free(k->v);
	k->v = v;
	k->cap = cap;
}

/* The child named name/len, or NULL. */
struct trie_key *
trie_kids_find(const struct trie_kids *k, const char *name, size_t len)
{
	struct trie_key	*key;
	uint32_t	 i, h, mask;

	if (k->cap <= TRIE_KIDS_SMALL) {
		for (i = 0; i < k->n; i++) {
			key = k->v[i];
			if (key->len == len && memcmp(key->name, name, len) == 0)
				return key;
		}
		return NULL;
	}
	h = trie_key_hash(name, len);
	mask = k->cap - 1;
	for (i = h & mask; (key = k->v[i]) != NULL; i = (i + 1) & mask) {
		if (key->hash == h && key->len == len &&
		    memcmp(key->name, name, len) == 0)
			return key;
	}
	return NULL;
}

/* Add key (borrowed; not present yet, hash set). */
void
trie_kids_add(struct trie_kids *k, struct trie_key *key)
{
	if (k->cap <= TRIE_KIDS_SMALL) {
		if (k->n == k->cap && k->cap < TRIE_KIDS_SMALL) {
			k->cap = k->cap == 0 ? 1 : k->cap * 2;
			k->v = xreallocarray(k->v, k->cap, sizeof *k->v);
		}
		if (k->n < k->cap) {
			k->v[k->n++] = key;
			return;
		}
		trie_kids_rehash(k, TRIE_KIDS_TABLE_MIN);
	} else if ((k->n + 1) * 4 > k->cap * 3)
		trie_kids_rehash(k, k->cap * 2);
	trie_kids_insert(k->v, k->cap, key);
	k->n++;
}

/* Remove key, which must be present; shrinks the store. */
void
trie_kids_del(struct trie_kids *k, struct trie_key *key)
{
	struct trie_key	**v;
	uint32_t	  i, j, home, mask, it;

	if (k->cap <= TRIE_KIDS_SMALL) {
		for (i = 0; i < k->n; i++) {
			if (k->v[i] == key)
				break;
		}
		if (i == k->n)
			abort();
		k->v[i] = k->v[--k->n];
		if (k->n == 0)
			trie_kids_clear(k);
		return;
	}

	mask = k->cap - 1;
	for (i = key->hash & mask; k->v[i] != key; i = (i + 1) & mask) {
		if (k->v[i] == NULL)
			abort();
	}
	/* Backward shift, as in hash.c. */
	for (j = (i + 1) & mask; k->v[j] != NULL; j = (j + 1) & mask) {
		home = k->v[j]->hash & mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		k->v[i] = k->v[j];
		i = j;
	}
	k->v[i] = NULL;
	k->n--;

	if (k->n <= TRIE_KIDS_SMALL / 2) {
		v = xcalloc(TRIE_KIDS_SMALL, sizeof *v);
		it = 0;
		for (i = 0; (key = trie_kids_next(k, &it)) != NULL; i++)
			v[i] = key;
		free(k->v);
		k->v = v;
		k->cap = TRIE_KIDS_SMALL;
	} else if (k->cap > TRIE_KIDS_TABLE_MIN && k->n * 8 < k->cap)
		trie_kids_rehash(k, k->cap / 2);
}

/* Next child from *iter (start at 0), or NULL at the end. */
struct trie_key *
trie_kids_next(const struct trie_kids *k, uint32_t *iter)
{
	struct trie_key	*key;

	if (k->cap <= TRIE_KIDS_SMALL)
		return *iter < k->n ? k->v[(*iter)++] : NULL;
	while (*iter < k->cap) {
		if ((key = k->v[(*iter)++]) != NULL)
			return key;
	}
	return NULL;
}

/* Free the store (not the children). */
void
trie_kids_clear(struct trie_kids *k)
{
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Subscription arrays keyed by owner.                                 */

static inline uint32_t
trie_subs_home(const void *owner, uint32_t icap)
{
	uint64_t	h = (uint64_t)(uintptr_t)owner * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 32) & (icap - 1);
}

/* Rebuild the owner index for the current capacity. */
static void
trie_subs_reindex(struct trie_subs *s)
{
	uint32_t	i, j, icap;

	free(s->idx);
	s->idx = NULL;
	if (s->cap <= TRIE_SUBS_LINEAR)
		return;
	icap = s->cap * 2;
	s->idx = xcalloc(icap, sizeof *s->idx);
	for (i = 0; i < s->n; i++) {
		j = trie_subs_home(s->v[i].owner, icap);
		while (s->idx[j] != 0)
			j = (j + 1) & (icap - 1);
		s->idx[j] = i + 1;
	}
}

/* The index slot holding owner, or UINT32_MAX. */
static uint32_t
trie_subs_slot(const struct trie_subs *s, const void *owner)
{
	uint32_t	j, icap = s->cap * 2;

	for (j = trie_subs_home(owner, icap); s->idx[j] != 0;
	    j = (j + 1) & (icap - 1)) {
		if (s->v[s->idx[j] - 1].owner == owner)
			return j;
	}
	return UINT32_MAX;
}

/* The position of owner's entry, or -1. */
static long
trie_subs_find(const struct trie_subs *s, const void *owner)
{
	uint32_t	i;

	if (s->idx != NULL) {
		i = trie_subs_slot(s, owner);
		return i == UINT32_MAX ? -1 : (long)s->idx[i] - 1;
	}
	for (i = 0; i < s->n; i++) {
		if (s->v[i].owner == owner)
			return i;
	}
	return -1;
}

/* Append sub (owner not present). */
static void
trie_subs_append(struct trie_subs *s, const struct trie_sub *sub)
{
	uint32_t	j, icap;

	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 1 : s->cap * 2;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
		s->v[s->n++] = *sub;
		if (s->cap > TRIE_SUBS_LINEAR)
			trie_subs_reindex(s);
		return;
	}
	s->v[s->n++] = *sub;
	if (s->idx != NULL) {
		icap = s->cap * 2;
		j = trie_subs_home(sub->owner, icap);
		while (s->idx[j] != 0)
			j = (j + 1) & (icap - 1);
		s->idx[j] = s->n;
	}
}

/* Remove the index slot j, shifting back the entries after it. */
static void
trie_subs_unslot(struct trie_subs *s, uint32_t j)
{
	uint32_t	k, home, mask = s->cap * 2 - 1;

	for (k = (j + 1) & mask; s->idx[k] != 0; k = (k + 1) & mask) {
		home = trie_subs_home(s->v[s->idx[k] - 1].owner, mask + 1);
		if (j <= k ? (j < home && home <= k) : (j < home || home <= k))
			continue;
		s->idx[j] = s->idx[k];
		j = k;
	}
	s->idx[j] = 0;
}

/* Remove entry i; the last entry takes its place. */
static void
trie_subs_remove(struct trie_subs *s, uint32_t i)
{
	uint32_t	last = s->n - 1;

	if (s->idx != NULL) {
		trie_subs_unslot(s, trie_subs_slot(s, s->v[i].owner));
		if (i != last)
			s->idx[trie_subs_slot(s, s->v[last].owner)] = i + 1;
	}
	s->v[i] = s->v[last];
	s->n--;

	if (s->n == 0) {
		free(s->v);
		free(s->idx);
		memset(s, 0, sizeof *s);
	} else if (s->cap > 4 && s->n * 4 <= s->cap) {
		s->cap /= 2;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
		trie_subs_reindex(s);
	}
}

static void
trie_subs_clear(struct trie_subs *s)
{
	free(s->v);
	free(s->idx);
	memset(s, 0, sizeof *s);
}

/* Add or replace; returns 1 when added. */
static int
trie_subs_put(struct trie_subs *s, const struct trie_sub *sub)
{
	long	i;

	if ((i = trie_subs_find(s, sub->owner)) >= 0) {
		s->v[i] = *sub;
		return 0;
	}
	trie_subs_append(s, sub);
	return 1;
}

/* Point key at a node's own copy of its level name and hash it; see
 * trie_int.h. */
void
trie_key_init(struct trie_key *key, const char *name, size_t len)
{
	key->name = name;
	key->len = (uint32_t)len;
	key->hash = trie_key_hash(name, len);
}

/* ------------------------------------------------------------------ */
/* Nodes.                                                              */

static struct trie_node *
trie_node_new(struct trie_node *parent, const char *name, size_t len)
{
	struct trie_node	*n;

	if (len > UINT32_MAX)
		abort();
	n = xcalloc(1, sizeof *n + len);
	memcpy(n->name, name, len);
	trie_key_init(&n->key, n->name, len);
	n->parent = parent;
	return n;
}

static int
trie_node_empty(const struct trie_node *n)
{
	return n->kids.n == 0 && n->plus == NULL && n->multi == NULL &&
	    n->subs.n == 0 && n->groups == NULL;
}

static void
trie_group_free(struct trie_group *g)
{
	trie_subs_clear(&g->members);
	free(g);
}

/* Free one node's own storage (children are freed by the caller). */
static void
trie_node_free(struct trie_node *n)
{
	struct trie_group	*g, *next;

	for (g = n->groups; g != NULL; g = next) {
		next = g->next;
		trie_group_free(g);
	}
	trie_subs_clear(&n->subs);
	trie_kids_clear(&n->kids);
	free(n);
}

/* The child of n for level lv, created if create is set, else NULL when
 * absent. */
static struct trie_node *
trie_node_child(struct trie_node *n, const struct trie_level *lv, int create)
{
	struct trie_node	**slot, *c;

	if (lv->len == 1 && lv->p[0] == '+')
		slot = &n->plus;
	else if (lv->len == 1 && lv->p[0] == '#')
		slot = &n->multi;
	else {
		c = (struct trie_node *)trie_kids_find(&n->kids, lv->p, lv->len);
		if (c == NULL && create) {
			c = trie_node_new(n, lv->p, lv->len);
			trie_kids_add(&n->kids, &c->key);
		}
		return c;
	}
	if (*slot == NULL && create)
		*slot = trie_node_new(n, lv->p, lv->len);
	return *slot;
}

/* Free n and each ancestor left empty, up to (not including) the root. */
static void
trie_prune(struct trie *t, struct trie_node *n)
{
	struct trie_node	*parent;

	while (n != t->root && trie_node_empty(n)) {
		parent = n->parent;
		if (parent->plus == n)
			parent->plus = NULL;
		else if (parent->multi == n)
			parent->multi = NULL;
		else
			trie_kids_del(&parent->kids, &n->key);
		trie_node_free(n);
		n = parent;
	}
}

/*
 * Split a "$share/<group>/<filter>" into group and inner filter. Returns 0
 * (and leaves the arguments) for a plain filter.
 */
static int
trie_split_share(const char **filter, size_t *len, const char **group,
    size_t *glen)
{
	const char	*g, *slash, *end = *filter + *len;

	if (*len < 7 || memcmp(*filter, "$share/", 7) != 0)
		return 0;
	g = *filter + 7;
	if ((slash = memchr(g, '/', (size_t)(end - g))) == NULL)
		return 0;
	*group = g;
	*glen = (size_t)(slash - g);
	*filter = slash + 1;
	*len = (size_t)(end - *filter);
	return 1;
}

/* The node for filter, created if create is set, else NULL if absent. */
static struct trie_node *
trie_node_path(struct trie *t, const char *filter, size_t len, int create)
{
	struct trie_node	*n = t->root;
	struct trie_level	 lv;
	const char		*s = filter, *end = filter + len;

	while (n != NULL && trie_level_next(&s, end, &lv))
		n = trie_node_child(n, &lv, create);
	return n;
}

/* ------------------------------------------------------------------ */
/* The tree.                                                           */

/* A new empty subscription tree; free with trie_free. */
struct trie *
trie_new(void)
{
	struct trie	*t;

	t = xcalloc(1, sizeof *t);
	t->root = trie_node_new(NULL, "", 0);
	return t;
}

/* Push the children of k onto a stack of node pointers; see trie_int.h. */
void
trie_kids_push(const struct trie_kids *k, void ***stack, size_t *sp,
    size_t *cap, size_t spare)
{
	struct trie_key	*key;
	uint32_t	 it = 0;

	if (*sp + k->n + spare > *cap) {
		while (*sp + k->n + spare > *cap)
			*cap *= 2;
		*stack = xreallocarray(*stack, *cap, sizeof **stack);
	}
	while ((key = trie_kids_next(k, &it)) != NULL)
		(*stack)[(*sp)++] = key;
}

/* Free the tree, its nodes and subscription copies; owners untouched.
 * Iterative, so a very deep filter cannot exhaust the stack. */
void
trie_free(struct trie *t)
{
	struct trie_node	*n;
	void			**stack;
	size_t			  sp = 0, cap = 64;

	if (t == NULL)
		return;
	stack = xreallocarray(NULL, cap, sizeof *stack);
	stack[sp++] = t->root;
	while (sp > 0) {
		n = stack[--sp];
		trie_kids_push(&n->kids, &stack, &sp, &cap, 2);
		if (n->plus != NULL)
			stack[sp++] = n->plus;
		if (n->multi != NULL)
			stack[sp++] = n->multi;
		trie_node_free(n);
	}
	free(stack);
	free(t);
}

/*
 * Add owner's subscription (copied from sub) to filter, or replace the
 * options and sub_id of the one it has (MQTT-3.8.4-3). A shared filter
 * "$share/g/f" adds owner to group g at f's node. Returns 1 when added,
 * 0 when replaced.
 */
int
trie_add(struct trie *t, const char *filter, size_t len,
    const struct trie_sub *sub)
{
	struct trie_node	*n;
	struct trie_group	*g;
	const char		*group = NULL;
	size_t			 glen = 0;
	int			 shared, added;

	shared = trie_split_share(&filter, &len, &group, &glen);
	n = trie_node_path(t, filter, len, 1);
	if (!shared)
		added = trie_subs_put(&n->subs, sub);
	else {
		for (g = n->groups; g != NULL; g = g->next) {
			if (g->len == glen && memcmp(g->name, group, glen) == 0)
				break;
		}
		if (g == NULL) {
			if (glen > UINT32_MAX)
				abort();
			g = xcalloc(1, sizeof *g + glen + 1);
			memcpy(g->name, group, glen);
			g->len = (uint32_t)glen;
			g->next = n->groups;
			n->groups = g;
		}
		added = trie_subs_put(&g->members, sub);
	}
	t->count += added;
	return added;
}

/* Remove owner's subscription to filter (plain or shared), freeing the
 * nodes and group left empty. Returns 1 when it existed, else 0. */
int
trie_remove(struct trie *t, const char *filter, size_t len, void *owner)
{
	struct trie_node	 *n;
	struct trie_group	**gp, *g;
	const char		 *group = NULL;
	size_t			  glen = 0;
	long			  i;

	if (!trie_split_share(&filter, &len, &group, &glen)) {
		if ((n = trie_node_path(t, filter, len, 0)) == NULL)
			return 0;
		if ((i = trie_subs_find(&n->subs, owner)) < 0)
			return 0;
		trie_subs_remove(&n->subs, (uint32_t)i);
	} else {
		if ((n = trie_node_path(t, filter, len, 0)) == NULL)
			return 0;
		for (gp = &n->groups; (g = *gp) != NULL; gp = &g->next) {
			if (g->len == glen && memcmp(g->name, group, glen) == 0)
				break;
		}
		if (g == NULL || (i = trie_subs_find(&g->members, owner)) < 0)
			return 0;
		trie_subs_remove(&g->members, (uint32_t)i);
		if (g->members.n == 0) {
			*gp = g->next;
			trie_group_free(g);
		}
	}
	t->count--;
	trie_prune(t, n);
	return 1;
}

struct trie_match_ctx {
	struct trie	*t;
	const char	*end;
	trie_match_fn	 cb;
	void		*arg;
};

/*
 * The member of g to deliver to: the next in turn that the tree's accept
 * function prefers (e.g. a connected session), else the next in turn it
 * does not refuse; UINT32_MAX when it refuses all. Without an accept
 * function, the next in turn.
 */
static uint32_t
trie_group_pick(struct trie_match_ctx *m, struct trie_group *g)
{
	uint32_t i, k, first = g->cursor % g->members.n, fallback = UINT32_MAX;
	int a;

	if (m->t->accept == NULL)
		return first;
	for (k = 0; k < g->members.n; k++) {
		i = (first + k) % g->members.n;
		a = m->t->accept(&g->members.v[i], m->arg);
		if (a > 0)
			return i;
		if (a == 0 && fallback == UINT32_MAX)
			fallback = i;
	}
	return fallback;
}

/* Report the subscriptions of a node whose filter matched. */
static void
trie_report(struct trie_match_ctx *m, struct trie_node *n)
{
	struct trie_group	*g;
	uint32_t		 i;

	m->t->visits++;
	for (i = 0; i < n->subs.n; i++)
		m->cb(&n->subs.v[i], NULL, m->arg);
	for (g = n->groups; g != NULL; g = g->next) {
		i = trie_group_pick(m, g);
		if (i == UINT32_MAX)
			continue;
		g->cursor = i + 1;
		m->cb(&g->members.v[i], g->name, m->arg);
	}
}

/* Match the levels from s (NULL: none left) below node n. */
static void
trie_walk(struct trie_match_ctx *m, struct trie_node *n, const char *s)
{
	struct trie_node	*c;
	struct trie_level	 lv;

	m->t->visits++;
	if (!trie_level_next(&s, m->end, &lv)) {
		trie_report(m, n);
		if (n->multi != NULL)
			trie_report(m, n->multi); /* "a/#" matches "a" */
		return;
	}
	if (n != m->t->root || lv.len == 0 || lv.p[0] != '$') {
		if (n->multi != NULL)
			trie_report(m, n->multi);
		if (n->plus != NULL)
			trie_walk(m, n->plus, s);
	}
	c = (struct trie_node *)trie_kids_find(&n->kids, lv.p, lv.len);
	if (c != NULL)
		trie_walk(m, c, s);
}

/*
 * Call cb for every subscription whose filter matches topic: once per
 * matching filter and owner, and once per matching shared group with the
 * group's next member in turn. Recursion depth is the topic's depth.
 */
void
trie_match(struct trie *t, const char *topic, size_t len, trie_match_fn cb,
    void *arg)
{
	struct trie_match_ctx	m = { t, topic + len, cb, arg };

	trie_walk(&m, t->root, topic);
}

void
trie_set_accept(struct trie *t, trie_accept_fn accept)
{
	t->accept = accept;
}

/* Number of subscriptions, shared members included. */
size_t
trie_count(const struct trie *t)
{
	return t->count;
}

/* Empty nodes are pruned (trie_prune), so a child of the root is there
 * only while a subscription lies under it. */
int
trie_has_first(const struct trie *t, const char *name, size_t len)
{
	return trie_kids_find(&t->root->kids, name, len) != NULL;
}

/* For tests: nodes visited by trie_match in t since trie_new. */
size_t
trie_stats_visits(const struct trie *t)
{
	return t->visits;
}
