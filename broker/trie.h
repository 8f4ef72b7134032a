/*
 * trie.h - the topic trees.
 *
 * struct trie holds subscriptions (topic filters) and answers "who matches
 * this topic name". struct rtree holds retained messages (topic names) and
 * answers "what matches this topic filter". Both are tries keyed by topic
 * level. Matching cost grows with the depth of the topic and the number of
 * matches, not with the number of entries: each node keeps its literal
 * children in a hash table and its '+' and '#' children apart.
 *
 * Topics are byte strings with a length (not NUL-terminated); callers have
 * validated them with mqtt_topic_name_valid() / mqtt_topic_filter_valid().
 * '$'-topics (MQTT-4.7.2-1): a filter starting with '+' or '#' does not
 * match a topic name starting with '$'.
 */
#ifndef TERN_TRIE_H
#define TERN_TRIE_H

#include <stddef.h>
#include <stdint.h>

/* A subscription held in a struct trie. */
struct trie_sub {
	void *owner; /* the subscribing session, compared by pointer */
	uint32_t sub_id; /* v5 subscription identifier, 0 for none */
	uint8_t options; /* SUBSCRIBE options byte (QoS, NL, RAP, RH) */
	const char *filter; /* the owner's copy of the whole filter (not
			     * used by the tree; must live as long as the
			     * subscription) */
};

struct trie;

/* A new empty subscription tree. */
struct trie *trie_new(void);
/* Free the tree and every node; owners are not touched. */
void trie_free(struct trie *t);

/*
 * Add owner's subscription to filter, or replace the options and sub_id of
 * the one it already has (MQTT-3.8.4-3). `filter` may be a shared
 * subscription "$share/<group>/<filter>": the subscription is then kept in
 * that group at the inner filter's node. The sub is copied.
 * Returns 1 when added, 0 when replaced.
 */
int trie_add(struct trie *t, const char *filter, size_t len,
    const struct trie_sub *sub);

/* Remove owner's subscription to filter (shared or not). Empty nodes are
 * freed. Returns 1 when it existed, 0 otherwise. */
int trie_remove(struct trie *t, const char *filter, size_t len, void *owner);

/*
 * Called once per matching subscription. For a shared group, called once
 * per matching group with one member, chosen round-robin among the group's
 * members at that node; share_group is then the group name
 * (NUL-terminated), else NULL. `sub` is borrowed for the call only.
 * The callback must not modify the tree.
 */
typedef void (*trie_match_fn)(const struct trie_sub *sub,
    const char *share_group, void *arg);

/* Call cb for every subscription whose filter matches topic name. A
 * subscriber with several matching filters is reported once per filter. */
void trie_match(struct trie *t, const char *topic, size_t len,
    trie_match_fn cb, void *arg);

/*
 * Shared groups pick the next member in turn that accept(sub, arg)
 * prefers (returns > 0; arg: trie_match's), so a broker can prefer
 * connected members; when it prefers none, the next in turn it does not
 * refuse (returns 0); when it refuses all (< 0), the group is skipped
 * and its turn does not move.
 * NULL (the default): plain round robin.
 */
typedef int (*trie_accept_fn)(const struct trie_sub *sub, void *arg);
void trie_set_accept(struct trie *t, trie_accept_fn accept);

/* Number of subscriptions in the tree (shared members included). */
size_t trie_count(const struct trie *t);
/* 1 when some filter in t (or the inner filter of a $share one) has name
 * (len bytes, no '/') as its first level: one lookup at the root, so a
 * producer can ask whether anyone may want a topic before building it. */
int trie_has_first(const struct trie *t, const char *name, size_t len);

struct rtree;

/* A new empty retained-message tree. release(value) is called when a
 * value is replaced, cleared or freed with the tree. */
struct rtree *rtree_new(void (*release)(void *value));
void rtree_free(struct rtree *r);

/* Set the value at topic name (takes the value); NULL clears it and frees
 * the nodes left empty. */
void rtree_set(struct rtree *r, const char *topic, size_t len, void *value);
/* The value at exactly topic, or NULL. Borrowed. */
void *rtree_get(struct rtree *r, const char *topic, size_t len);

/* Call cb for every value whose topic name matches the filter (which may
 * hold '+' and '#', not $share). Values are borrowed for the call only;
 * cb must not modify the tree. */
void rtree_match(struct rtree *r, const char *filter, size_t len,
    void (*cb)(void *value, void *arg), void *arg);

/* Call cb for every value, '$' topics too, in no set order (the admin
 * API's list). Values are borrowed; cb must not modify the tree. */
void rtree_foreach(struct rtree *r, void (*cb)(void *value, void *arg),
    void *arg);
/* Number of values held. */
size_t rtree_count(const struct rtree *r);
/* Memory of the tree's nodes (retain_tree.c's design note), and what a
 * value set at topic would add to it (0 when its node exists). */
size_t rtree_bytes(const struct rtree *r);
size_t rtree_cost(struct rtree *r, const char *topic, size_t len);

/* For tests: the number of nodes trie_match has visited in t since
 * trie_new (a measure of work done, for the scale checks). */
size_t trie_stats_visits(const struct trie *t);

#endif /* TERN_TRIE_H */
