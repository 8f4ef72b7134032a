/*
 * trie_test.c - unit tests for trie.c (subscriptions), retain_tree.c
 * (retained messages) and hash.c.
 *
 * Matching rules are checked against MQTT v5 section 4.7 (topic names and
 * filters) and 4.8.2 (shared subscriptions); the scale checks assert on
 * the work done (nodes visited), not on time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "tap.h"
#include "trie.h"

#define NOWNERS 8
static char owners[NOWNERS];
#define A (&owners[0])
#define B (&owners[1])
#define C (&owners[2])
#define D (&owners[3])

/* ------------------------------------------------------------------ */
/* Match recording.                                                    */

struct hit {
	void		*owner;
	uint32_t	 sub_id;
	uint8_t		 options;
	char		 group[16];
};

static struct hit	 hits[64];
static size_t		 nhits;
static size_t		 nhits_total; /* also counted past the array */

static void
record(const struct trie_sub *sub, const char *group, void *arg)
{
	struct hit	*h;

	(void)arg;
	nhits_total++;
	if (nhits == sizeof hits / sizeof hits[0])
		return;
	h = &hits[nhits++];
	h->owner = sub->owner;
	h->sub_id = sub->sub_id;
	h->options = sub->options;
	if (group != NULL)
		snprintf(h->group, sizeof h->group, "%s", group);
	else
		h->group[0] = '\0';
}

/* Match topic; returns the number of callbacks. */
static size_t
match(struct trie *t, const char *topic)
{
	nhits = nhits_total = 0;
	trie_match(t, topic, strlen(topic), record, NULL);
	return nhits_total;
}

/* Hits (from the last match) for owner with sub_id. */
static int
hits_for(void *owner, uint32_t sub_id)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < nhits; i++) {
		if (hits[i].owner == owner && hits[i].sub_id == sub_id)
			n++;
	}
	return n;
}

static int
add(struct trie *t, const char *filter, void *owner, uint32_t sub_id,
    uint8_t options)
{
	struct trie_sub	sub = { owner, sub_id, options, NULL };

	return trie_add(t, filter, strlen(filter), &sub);
}

static int
del(struct trie *t, const char *filter, void *owner)
{
	return trie_remove(t, filter, strlen(filter), owner);
}

/* Check that filter matches exactly the topics in yes and none in no. */
static void
check_filter(const char *filter, const char **yes, const char **no)
{
	struct trie	*t = trie_new();

	add(t, filter, A, 1, 0);
	for (; *yes != NULL; yes++)
		is_int(match(t, *yes), 1, "'%s' matches '%s'", filter, *yes);
	for (; *no != NULL; no++)
		is_int(match(t, *no), 0, "'%s' does not match '%s'", filter,
		    *no);
	trie_free(t);
}

/* ------------------------------------------------------------------ */
/* Subscription tree.                                                  */

static void
test_wildcards(void)
{
	check_filter("a/b",
	    (const char *[]){ "a/b", NULL },
	    (const char *[]){ "a", "a/bc", "a/b/c", "a/", "b", "A/b", NULL });
	check_filter("a/+",
	    (const char *[]){ "a/b", "a/", "a/$x", NULL },
	    (const char *[]){ "a", "a/b/c", "b/a", NULL });
	check_filter("+",
	    (const char *[]){ "a", "x y", NULL },
	    (const char *[]){ "a/b", "/a", "/", "$SYS", NULL });
	check_filter("+/+",
	    (const char *[]){ "/a", "a/", "/", "a/b", NULL },
	    (const char *[]){ "a", "a/b/c", "$SYS/x", NULL });
	check_filter("a/#",
	    (const char *[]){ "a", "a/b", "a/b/c", "a/", "a//", NULL },
	    (const char *[]){ "ab", "b/a", "/a", NULL });
	check_filter("#",
	    (const char *[]){ "a", "a/b", "/", "/a", "a//b", NULL },
	    (const char *[]){ "$SYS", "$SYS/uptime", "$", NULL });
	check_filter("a/+/c/#",
	    (const char *[]){ "a/b/c", "a/b/c/d/e", "a//c", NULL },
	    (const char *[]){ "a/b/d", "a/b", "a/b/cc/d", NULL });
	check_filter("+/b/+",
	    (const char *[]){ "a/b/c", "/b/", NULL },
	    (const char *[]){ "a/b", "a/c/c", NULL });
	check_filter("a//b",
	    (const char *[]){ "a//b", NULL },
	    (const char *[]){ "a/b", "a///b", "a/x/b", NULL });
	check_filter("/a",
	    (const char *[]){ "/a", NULL },
	    (const char *[]){ "a", "a/", "//a", NULL });
	check_filter("a/",
	    (const char *[]){ "a/", NULL },
	    (const char *[]){ "a", "a/b", NULL });
	check_filter("a/+/b",
	    (const char *[]){ "a//b", "a/x/b", NULL },
	    (const char *[]){ "a/b", NULL });
	check_filter("+/a",
	    (const char *[]){ "/a", "x/a", NULL },
	    (const char *[]){ "a", "$x/a", NULL });
	/* MQTT-4.7.2-1: '$' topics and leading wildcards. */
	check_filter("+/uptime",
	    (const char *[]){ "x/uptime", NULL },
	    (const char *[]){ "$SYS/uptime", NULL });
	check_filter("+/#",
	    (const char *[]){ "x", "x/y", NULL },
	    (const char *[]){ "$SYS", "$SYS/a", NULL });
	check_filter("$SYS/#",
	    (const char *[]){ "$SYS", "$SYS/uptime", "$SYS/a/b", NULL },
	    (const char *[]){ "SYS/a", "$SYSX", NULL });
	check_filter("$SYS/+",
	    (const char *[]){ "$SYS/uptime", NULL },
	    (const char *[]){ "$SYS", "$SYS/a/b", NULL });
}

static void
test_overlap_replace(void)
{
	struct trie	*t = trie_new();

	is_int(add(t, "a/b", A, 1, 0), 1, "add a/b");
	is_int(add(t, "a/+", A, 2, 0), 1, "add a/+");
	is_int(add(t, "#", A, 3, 0), 1, "add #");
	is_int(add(t, "a/#", A, 4, 0), 1, "add a/#");
	is_int(add(t, "a/b", B, 5, 1), 1, "add a/b for another owner");
	is_int(trie_count(t), 5, "count 5");
	is_int(match(t, "a/b"), 5, "a/b: one report per filter and owner");
	ok(hits_for(A, 1) == 1 && hits_for(A, 2) == 1 && hits_for(A, 3) == 1 &&
	    hits_for(A, 4) == 1 && hits_for(B, 5) == 1,
	    "each overlapping filter reported once");
	is_int(match(t, "a"), 2, "a: # and a/#");

	/* MQTT-3.8.4-3: a second SUBSCRIBE replaces. */
	is_int(add(t, "a/b", A, 9, 2), 0, "re-add a/b replaces");
	is_int(trie_count(t), 5, "count still 5");
	match(t, "a/b");
	ok(hits_for(A, 9) == 1 && hits_for(A, 1) == 0, "sub_id replaced");
	ok(nhits > 0 && hits[0].owner != NULL, "hits recorded");
	{
		size_t	i;
		int	opt = -1;

		for (i = 0; i < nhits; i++) {
			if (hits[i].owner == A && hits[i].sub_id == 9)
				opt = hits[i].options;
		}
		is_int(opt, 2, "options replaced");
	}
	trie_free(t);
}

static void
test_remove(void)
{
	struct trie	*t = trie_new();
	size_t		 v;

	add(t, "x/y/z", A, 1, 0);
	add(t, "x/y", B, 2, 0);
	add(t, "x/+/z", C, 3, 0);
	add(t, "x/#", D, 4, 0);
	add(t, "x/y/z", B, 5, 0);
	is_int(trie_count(t), 5, "count 5");

	is_int(del(t, "x/y/z", A), 1, "remove existing returns 1");
	is_int(del(t, "x/y/z", A), 0, "remove again returns 0");
	is_int(del(t, "x/y/q", A), 0, "remove unknown filter returns 0");
	is_int(del(t, "x/y", C), 0, "remove unknown owner returns 0");
	is_int(del(t, "$share/g/x/y", B), 0,
	    "remove shared when only plain exists returns 0");
	is_int(trie_count(t), 4, "count 4");
	is_int(match(t, "x/y/z"), 3, "siblings still match x/y/z");
	ok(hits_for(B, 5) && hits_for(C, 3) && hits_for(D, 4),
	    "x/y/z: B, C, D");
	is_int(match(t, "x/y"), 2, "x/y: B and x/#");

	is_int(del(t, "x/y/z", B), 1, "remove B x/y/z");
	is_int(del(t, "x/+/z", C), 1, "remove C x/+/z");
	is_int(match(t, "x/y/z"), 1, "x/y/z: only x/#");
	is_int(del(t, "x/y", B), 1, "remove x/y");
	is_int(del(t, "x/#", D), 1, "remove x/#");
	is_int(trie_count(t), 0, "count 0");

	/* Every node was freed: a match visits the root only. */
	v = trie_stats_visits(t);
	is_int(match(t, "x/y/z"), 0, "nothing matches");
	is_int(trie_stats_visits(t) - v, 1, "empty tree: match visits root only");

	/* Prune keeps a node that still has children. */
	add(t, "p/q/r", A, 1, 0);
	add(t, "p", A, 2, 0);
	del(t, "p/q/r", A);
	v = trie_stats_visits(t);
	is_int(match(t, "p/q/r"), 0, "p/q/r gone");
	is_int(trie_stats_visits(t) - v, 2, "p kept, p/q pruned");
	is_int(match(t, "p"), 1, "p still matches");
	del(t, "p", A);

	/* Re-adding after removal works. */
	is_int(add(t, "x/y/z", A, 7, 0), 1, "re-add after removal");
	is_int(match(t, "x/y/z"), 1, "matches again");
	trie_free(t);
}

/* trie_has_first: is there a filter under this first level (events.c
 * asks it for $events before building an event)? */
static void
test_has_first(void)
{
	struct trie	*t = trie_new();

	ok(!trie_has_first(t, "$events", 7), "empty tree: no $events");
	add(t, "#", A, 1, 0);
	add(t, "+/client/connected", A, 2, 0);
	ok(!trie_has_first(t, "$events", 7),
	    "# and +/...: not filters under $events");
	add(t, "$events/client/+", B, 3, 0);
	ok(trie_has_first(t, "$events", 7), "$events/client/+");
	ok(!trie_has_first(t, "$event", 6), "a prefix of the level is not it");
	del(t, "$events/client/+", B);
	ok(!trie_has_first(t, "$events", 7), "gone with its last filter");
	add(t, "$share/g/$events/#", C, 4, 0);
	ok(trie_has_first(t, "$events", 7), "a $share filter's inner filter");
	del(t, "$share/g/$events/#", C);
	ok(!trie_has_first(t, "$events", 7), "gone again");
	trie_free(t);
}

static void
test_shared(void)
{
	struct trie	*t = trie_new();
	int		 seen[NOWNERS], i, groups_g, groups_h, plain;
	size_t		 j;

	is_int(add(t, "$share/g/a/+", A, 1, 0), 1, "add A to g");
	is_int(add(t, "$share/g/a/+", B, 2, 0), 1, "add B to g");
	is_int(add(t, "$share/g/a/+", C, 3, 0), 1, "add C to g");
	is_int(add(t, "$share/g/a/+", C, 4, 1), 0, "re-add C replaces");
	is_int(add(t, "a/+", A, 5, 0), 1, "plain a/+ for A");
	is_int(trie_count(t), 4, "count includes members");

	memset(seen, 0, sizeof seen);
	for (i = 0; i < 6; i++) {
		is_int(match(t, "a/b"), 2, "match %d: one group member and "
		    "the plain sub", i);
		for (j = 0; j < nhits; j++) {
			if (hits[j].group[0] != '\0') {
				ok(strcmp(hits[j].group, "g") == 0,
				    "group name is g");
				seen[(char *)hits[j].owner - owners]++;
			}
		}
	}
	ok(seen[0] == 2 && seen[1] == 2 && seen[2] == 2,
	    "round-robin: each member twice in six matches (%d %d %d)",
	    seen[0], seen[1], seen[2]);
	match(t, "a/b");
	ok(hits_for(C, 4) + hits_for(A, 1) + hits_for(B, 2) == 1,
	    "members carry their own sub (C's replaced sub_id)");
	is_int(match(t, "a"), 0, "a/+ group does not match a");

	/* A second group on the same filter, and one on another filter. */
	add(t, "$share/h/a/+", D, 6, 0);
	add(t, "$share/h/a/#", D, 7, 0);
	match(t, "a/b");
	groups_g = groups_h = plain = 0;
	for (j = 0; j < nhits; j++) {
		if (strcmp(hits[j].group, "g") == 0)
			groups_g++;
		else if (strcmp(hits[j].group, "h") == 0)
			groups_h++;
		else
			plain++;
	}
	ok(groups_g == 1 && groups_h == 2 && plain == 1,
	    "groups g and h (two filters) each deliver once (%d %d %d)",
	    groups_g, groups_h, plain);

	/* Removing members. */
	is_int(del(t, "$share/g/a/+", B), 1, "remove B from g");
	is_int(del(t, "$share/g/a/+", B), 0, "remove B again returns 0");
	is_int(del(t, "$share/x/a/+", A), 0, "remove from unknown group 0");
	is_int(del(t, "a/+", C), 0, "plain remove of a shared member 0");
	memset(seen, 0, sizeof seen);
	for (i = 0; i < 4; i++) {
		match(t, "a/b");
		for (j = 0; j < nhits; j++) {
			if (strcmp(hits[j].group, "g") == 0)
				seen[(char *)hits[j].owner - owners]++;
		}
	}
	ok(seen[0] == 2 && seen[1] == 0 && seen[2] == 2,
	    "after removal: A and C alternate (%d %d %d)", seen[0], seen[1],
	    seen[2]);
	is_int(del(t, "$share/g/a/+", A), 1, "remove A");
	is_int(del(t, "$share/g/a/+", C), 1, "remove C: group g empty");
	match(t, "a/b");
	for (j = 0, groups_g = 0; j < nhits; j++)
		groups_g += strcmp(hits[j].group, "g") == 0;
	is_int(groups_g, 0, "empty group g is gone");
	is_int(del(t, "$share/h/a/+", D), 1, "remove D from h a/+");
	is_int(del(t, "$share/h/a/#", D), 1, "remove D from h a/#");
	is_int(del(t, "a/+", A), 1, "remove plain a/+");
	is_int(trie_count(t), 0, "count 0");
	{
		size_t	v = trie_stats_visits(t);

		match(t, "a/b");
		is_int(trie_stats_visits(t) - v, 1, "all shared nodes freed");
	}

	/* $share on a '$' filter and a malformed one treated as literal. */
	add(t, "$share/g/$SYS/#", A, 1, 0);
	is_int(match(t, "$SYS/x"), 1, "$share/g/$SYS/# matches $SYS/x");
	is_int(match(t, "x"), 0, "... and not x");
	trie_free(t);
}

/* Many subscribers on one filter: the owner index. */
static void
test_many_owners(void)
{
	struct trie	*t = trie_new();
	char		*own;
	int		 i, bad = 0, n = 50000;

	own = malloc(n);
	for (i = 0; i < n; i++)
		bad += add(t, "big/topic", &own[i], (uint32_t)i, 0) != 1;
	is_int(bad, 0, "50000 owners added on one filter");
	for (i = 0, bad = 0; i < n; i += 7)
		bad += add(t, "big/topic", &own[i], (uint32_t)i + 1, 1) != 0;
	is_int(bad, 0, "re-adding finds the existing owners");
	is_int(match(t, "big/topic"), n, "match reports all 50000");
	for (i = 0, bad = 0; i < n; i += 2)
		bad += del(t, "big/topic", &own[i]) != 1;
	is_int(bad, 0, "every other owner removed");
	for (i = 0, bad = 0; i < n; i += 2)
		bad += del(t, "big/topic", &own[i]) != 0;
	is_int(bad, 0, "removed owners are gone");
	is_int(match(t, "big/topic"), n / 2, "match reports the 25000 left");
	for (i = 1, bad = 0; i < n - 10; i += 2)
		bad += del(t, "big/topic", &own[i]) != 1;
	is_int(bad, 0, "all but five removed (index shrinks)");
	is_int(trie_count(t), 5, "count 5");
	is_int(match(t, "big/topic"), 5, "five left match");
	for (i = 1, bad = 0; i < n; i += 2)
		bad += add(t, "big/topic", &own[i], 0, 0) !=
		    (i < n - 10 ? 1 : 0);
	is_int(bad, 0, "re-adding after shrink: new vs replaced is right");
	trie_free(t);
	free(own);
}

/* Randomised add/remove on a wide node against a reference bitmap. */
static void
test_random_wide(void)
{
	struct trie	*t = trie_new();
	char		 f[32];
	unsigned char	 ref[3000];
	uint32_t	 x = 12345;
	int		 i, k, bad = 0, expect;

	memset(ref, 0, sizeof ref);
	for (i = 0; i < 60000; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		k = (int)(x % 3000);
		snprintf(f, sizeof f, "w/%d", k);
		if ((x >> 16) & 1) {
			bad += add(t, f, A, 0, 0) != !ref[k];
			ref[k] = 1;
		} else {
			bad += del(t, f, A) != ref[k];
			ref[k] = 0;
		}
		if (i == 30000) {
			/* Drain to few children, exercising table shrink. */
			for (k = 0; k < 2997; k++) {
				snprintf(f, sizeof f, "w/%d", k);
				bad += del(t, f, A) != ref[k];
				ref[k] = 0;
			}
		}
	}
	is_int(bad, 0, "random add/remove results agree with reference");
	for (k = 0, expect = 0; k < 3000; k++) {
		snprintf(f, sizeof f, "w/%d", k);
		bad += (int)match(t, f) != ref[k];
		expect += ref[k];
	}
	is_int(bad, 0, "matches agree with reference");
	is_int(trie_count(t), expect, "count agrees with reference");
	trie_free(t);
}

static void
test_scale(void)
{
	struct trie	*t = trie_new();
	char		 f[32];
	size_t		 v, visits;
	int		 i, bad = 0, n = 100000;

	for (i = 0; i < n; i++) {
		snprintf(f, sizeof f, "im/u/%d", i);
		bad += add(t, f, A, (uint32_t)i, 0) != 1;
	}
	add(t, "im/#", B, 1, 0);
	add(t, "im/u/+", B, 2, 0);
	add(t, "+/u/#", B, 3, 0);
	add(t, "im/+/4242", B, 4, 0);
	add(t, "#", C, 5, 0);
	add(t, "$share/g/im/u/+", D, 6, 0);
	is_int(bad, 0, "100000 filters im/u/<n> added");
	is_int(trie_count(t), n + 6, "count");

	v = trie_stats_visits(t);
	is_int(match(t, "im/u/4242"), 7, "im/u/4242: own + 6 wildcards");
	visits = trie_stats_visits(t) - v;
	diag("scale: one match among %d filters visited %zu nodes", n + 6,
	    visits);
	ok(visits <= 4 * 3 + 8, "visits bounded by depth (%zu <= 20)", visits);

	v = trie_stats_visits(t);
	is_int(match(t, "im/u/none"), 5, "im/u/none: wildcards but im/+/4242");
	ok(trie_stats_visits(t) - v <= 20, "miss visits %zu nodes",
	    trie_stats_visits(t) - v);

	v = trie_stats_visits(t);
	is_int(match(t, "other/topic"), 1, "other/topic: # only");
	ok(trie_stats_visits(t) - v <= 3, "unrelated topic visits %zu nodes",
	    trie_stats_visits(t) - v);

	for (i = 0; i < n - 3; i++) {
		snprintf(f, sizeof f, "im/u/%d", i);
		bad += del(t, f, A) != 1;
	}
	is_int(bad, 0, "99997 removed");
	is_int(match(t, "im/u/99998"), 6, "the three left still match");
	is_int(match(t, "im/u/5"), 5, "removed ones do not");
	trie_free(t);
}

/* ------------------------------------------------------------------ */
/* Hash table.                                                         */

static void
count_cb(const void *key, size_t len, void *value, void *arg)
{
	size_t	*c = arg;

	(void)key;
	(void)len;
	c[0]++;
	c[1] += (size_t)(uintptr_t)value;
}

static void
test_hash(void)
{
	struct hash	*h = hash_new();
	char		 k[32], *vals;
	size_t		 c[2];
	int		 i, bad = 0, n = 100000;

	ok(hash_bytes("", 0) == 0xcbf29ce484222325ULL, "fnv1a64('')");
	ok(hash_bytes("a", 1) == 0xaf63dc4c8601ec8cULL, "fnv1a64('a')");
	ok(hash_bytes("foobar", 6) == 0x85944171f73967e8ULL,
	    "fnv1a64('foobar')");

	ok(hash_get(h, "x", 1) == NULL, "get on empty");
	ok(hash_del(h, "x", 1) == NULL, "del on empty");
	ok(hash_put(h, "x", 1, A) == NULL, "put new returns NULL");
	ok(hash_get(h, "x", 1) == A, "get");
	ok(hash_put(h, "x", 1, B) == A, "replace returns old");
	ok(hash_get(h, "x", 1) == B, "get replaced");
	is_int(hash_count(h), 1, "count 1");
	ok(hash_put(h, "", 0, C) == NULL && hash_get(h, "", 0) == C,
	    "empty key");
	ok(hash_put(h, "a\0b", 3, D) == NULL && hash_get(h, "a\0c", 3) == NULL
	    && hash_get(h, "a\0b", 3) == D && hash_get(h, "a", 1) == NULL,
	    "binary keys");
	ok(hash_del(h, "x", 1) == B && hash_get(h, "x", 1) == NULL,
	    "del returns value");
	ok(hash_del(h, "x", 1) == NULL, "del again returns NULL");
	is_int(hash_count(h), 2, "count 2");
	hash_del(h, "", 0);
	hash_del(h, "a\0b", 3);
	is_int(hash_count(h), 0, "count 0");

	vals = malloc(n);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof k, "client-%d", i);
		bad += hash_put(h, k, strlen(k), &vals[i]) != NULL;
	}
	is_int(bad, 0, "100000 puts");
	is_int(hash_count(h), n, "count 100000");
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof k, "client-%d", i);
		bad += hash_get(h, k, strlen(k)) != &vals[i];
	}
	is_int(bad, 0, "100000 gets");
	c[0] = c[1] = 0;
	hash_foreach(h, count_cb, c);
	is_int(c[0], n, "foreach visits 100000");
	for (i = 0; i < n; i += 2) {
		snprintf(k, sizeof k, "client-%d", i);
		bad += hash_del(h, k, strlen(k)) != &vals[i];
	}
	is_int(bad, 0, "50000 deletes");
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof k, "client-%d", i);
		bad += hash_get(h, k, strlen(k)) != (i % 2 ? &vals[i] : NULL);
	}
	is_int(bad, 0, "gets after deletes");
	for (i = 1; i < n - 20; i += 2) {
		snprintf(k, sizeof k, "client-%d", i);
		bad += hash_del(h, k, strlen(k)) != &vals[i];
	}
	is_int(bad, 0, "deletes down to 10 (table shrinks)");
	c[0] = c[1] = 0;
	hash_foreach(h, count_cb, c);
	is_int(c[0], 10, "foreach visits 10");
	is_int(hash_count(h), 10, "count 10");
	for (i = n - 20; i < n; i++) {
		snprintf(k, sizeof k, "client-%d", i);
		bad += hash_get(h, k, strlen(k)) != (i % 2 ? &vals[i] : NULL);
	}
	is_int(bad, 0, "the 10 left are found");
	hash_free(h);

	/* Random operations against a reference array. */
	{
		void		*ref[2000];
		uint32_t	 x = 777;
		int		 kk, cnt = 0;

		h = hash_new();
		memset(ref, 0, sizeof ref);
		for (i = 0; i < 200000; i++) {
			x ^= x << 13; x ^= x >> 17; x ^= x << 5;
			kk = (int)(x % 2000);
			snprintf(k, sizeof k, "%d", kk);
			if ((x >> 20) % 3 != 0) {
				bad += hash_put(h, k, strlen(k), &vals[i % n])
				    != ref[kk];
				cnt += ref[kk] == NULL;
				ref[kk] = &vals[i % n];
			} else {
				bad += hash_del(h, k, strlen(k)) != ref[kk];
				cnt -= ref[kk] != NULL;
				ref[kk] = NULL;
			}
		}
		for (kk = 0; kk < 2000; kk++) {
			snprintf(k, sizeof k, "%d", kk);
			bad += hash_get(h, k, strlen(k)) != ref[kk];
		}
		is_int(bad, 0, "random put/del agree with reference");
		is_int(hash_count(h), cnt, "random: count agrees");
		hash_free(h);
	}
	free(vals);
}

/* ------------------------------------------------------------------ */
/* Retained-message tree.                                              */

struct rval {
	const char	*topic;
	int		 released;
	int		 seen;
};

static int	released_total;

static void
rrelease(void *value)
{
	((struct rval *)value)->released++;
	released_total++;
}

static size_t	rseen;

static void
rcb(void *value, void *arg)
{
	(void)arg;
	((struct rval *)value)->seen++;
	rseen++;
}

static struct rval rvals[] = {
	{ "a", 0, 0 },		/* 0 */
	{ "a/b", 0, 0 },	/* 1 */
	{ "a/c", 0, 0 },	/* 2 */
	{ "a/b/c", 0, 0 },	/* 3 */
	{ "a//b", 0, 0 },	/* 4 */
	{ "/a", 0, 0 },		/* 5 */
	{ "$SYS/uptime", 0, 0 },/* 6 */
	{ "$SYS", 0, 0 },	/* 7 */
	{ "b", 0, 0 },		/* 8 */
	{ "a/", 0, 0 },		/* 9 */
	{ "x/$y", 0, 0 },	/* 10 */
};
#define NRVALS (sizeof rvals / sizeof rvals[0])

/* Match filter; returns the bitmask of rvals seen, each at most once. */
static unsigned
rmatch(struct rtree *r, const char *filter)
{
	unsigned	mask = 0;
	size_t		i;

	for (i = 0; i < NRVALS; i++)
		rvals[i].seen = 0;
	rseen = 0;
	rtree_match(r, filter, strlen(filter), rcb, NULL);
	for (i = 0; i < NRVALS; i++) {
		if (rvals[i].seen == 1)
			mask |= 1U << i;
		else if (rvals[i].seen > 1)
			mask |= 1U << 31;
	}
	return mask;
}

#define BIT(i) (1U << (i))

static void
test_rtree(void)
{
	struct rtree	*r = rtree_new(rrelease);
	struct rval	 other = { "a/b", 0, 0 }, again = { "a/b", 0, 0 };
	size_t		 i;

	for (i = 0; i < NRVALS; i++)
		rtree_set(r, rvals[i].topic, strlen(rvals[i].topic), &rvals[i]);
	is_int(rtree_count(r), NRVALS, "count after set");
	ok(rtree_get(r, "a/b", 3) == &rvals[1], "get a/b");
	ok(rtree_get(r, "a/b/c/d", 7) == NULL, "get missing deeper");
	ok(rtree_get(r, "x", 1) == NULL, "get inner node without value");

	is_int(rmatch(r, "a/b"), BIT(1), "a/b exact");
	is_int(rmatch(r, "a/+"), BIT(1) | BIT(2) | BIT(9), "a/+");
	is_int(rmatch(r, "+"), BIT(0) | BIT(8), "+ (not $SYS)");
	is_int(rmatch(r, "+/+"), BIT(1) | BIT(2) | BIT(5) | BIT(9) | BIT(10),
	    "+/+");
	is_int(rmatch(r, "a/#"),
	    BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(9),
	    "a/# includes a");
	is_int(rmatch(r, "#"), ((1U << NRVALS) - 1) & ~(BIT(6) | BIT(7)),
	    "# everything but $SYS");
	is_int(rmatch(r, "+/#"), ((1U << NRVALS) - 1) & ~(BIT(6) | BIT(7)),
	    "+/# everything but $SYS");
	is_int(rmatch(r, "$SYS/#"), BIT(6) | BIT(7), "$SYS/#");
	is_int(rmatch(r, "$SYS/+"), BIT(6), "$SYS/+");
	is_int(rmatch(r, "+/uptime"), 0, "+/uptime does not match $SYS");
	is_int(rmatch(r, "x/+"), BIT(10), "x/+ matches x/$y");
	is_int(rmatch(r, "a/+/c"), BIT(3), "a/+/c");
	is_int(rmatch(r, "a/+/b"), BIT(4), "a/+/b matches a//b");
	is_int(rmatch(r, "+/a"), BIT(5), "+/a matches /a");
	is_int(rmatch(r, "a/b/#"), BIT(1) | BIT(3), "a/b/# includes a/b");
	is_int(rmatch(r, "nope/#"), 0, "nope/#");
	is_int(rmatch(r, "a/b/c/+"), 0, "a/b/c/+ nothing deeper");

	/* Replace: the old value is released once. */
	rtree_set(r, "a/b", 3, &other);
	is_int(rvals[1].released, 1, "replaced value released once");
	is_int(rtree_count(r), NRVALS, "count unchanged by replace");
	ok(rtree_get(r, "a/b", 3) == &other, "get the new value");
	rtree_set(r, "a/b", 3, &again);
	is_int(other.released, 1, "second replace releases the first");

	/* Clear. */
	rtree_set(r, "a/b", 3, NULL);
	is_int(again.released, 1, "cleared value released once");
	is_int(rtree_count(r), NRVALS - 1, "count after clear");
	ok(rtree_get(r, "a/b", 3) == NULL, "cleared");
	is_int(rmatch(r, "a/b/#"), BIT(3), "a/b/c survives clearing a/b");
	rtree_set(r, "a/b", 3, NULL);
	rtree_set(r, "q/r/s", 5, NULL);
	is_int(released_total, 3, "clearing a missing topic releases nothing");
	rtree_set(r, "a/b/c", 5, NULL);
	is_int(rmatch(r, "a/+"), BIT(2) | BIT(9), "a/b pruned after a/b/c");
	is_int(rtree_count(r), NRVALS - 2, "count");

	rtree_free(r);
	for (i = 0, released_total = 0; i < NRVALS; i++)
		released_total += rvals[i].released;
	is_int(released_total, NRVALS, "each value released exactly once");
	for (i = 0; i < NRVALS; i++) {
		if (rvals[i].released != 1)
			diag("%s released %d times", rvals[i].topic,
			    rvals[i].released);
	}

	/* Scale: a wide level. */
	{
		char		 t[32];
		struct rval	*big;
		int		 n = 100000, bad = 0, k;

		r = rtree_new(rrelease);
		big = calloc(n, sizeof *big);
		for (k = 0; k < n; k++) {
			snprintf(t, sizeof t, "im/u/%d", k);
			rtree_set(r, t, strlen(t), &big[k]);
		}
		is_int(rtree_count(r), n, "100000 retained");
		rseen = 0;
		rtree_match(r, "im/u/4242", 9, rcb, NULL);
		ok(rseen == 1 && big[4242].seen == 1, "exact among 100000");
		rseen = 0;
		rtree_match(r, "im/+/4242", 9, rcb, NULL);
		ok(rseen == 1 && big[4242].seen == 2, "im/+/4242");
		rseen = 0;
		rtree_match(r, "im/u/#", 6, rcb, NULL);
		is_int(rseen, n, "im/u/# reports all");
		for (k = 0; k < n - 1000; k++) {
			snprintf(t, sizeof t, "im/u/%d", k);
			rtree_set(r, t, strlen(t), NULL);
		}
		rseen = 0;
		rtree_match(r, "#", 1, rcb, NULL);
		is_int(rseen, 1000, "1000 left after clearing");
		is_int(rtree_count(r), 1000, "count 1000");
		rtree_free(r);
		for (k = 0; k < n; k++)
			bad += big[k].released != 1;
		is_int(bad, 0, "all 100000 released exactly once");
		free(big);
	}
}

int
main(void)
{
	test_wildcards();
	test_overlap_replace();
	test_remove();
	test_has_first();
	test_shared();
	test_many_owners();
	test_random_wide();
	test_scale();
	test_hash();
	test_rtree();
	return tap_done();
}
