/*
 * retain.c - retained messages (MQTT 5.0 section 3.3.1.3).
 *
 * One retained message per topic name, held by reference in the retained
 * tree (struct rtree, retain_tree.c). A retained PUBLISH with an empty
 * payload clears the topic (MQTT-3.3.1-6, -7). On subscribe the messages
 * whose topics match the new filter are sent with the retain flag set, at
 * the lower of their QoS and the granted QoS. Expired messages (message
 * expiry) are not sent and are dropped when found.
 *
 * Bounds (max_retained_messages, max_retained_bytes): without them one
 * client could fill the node's memory, and every node's in a cluster (each
 * keeps the cluster's retained messages), by retaining on new topics. The
 * bytes counted are what the messages hold (msg_size) plus the tree's
 * nodes (rtree_bytes), so deep distinct topics count too. retain_room()
 * is asked before a client's, a will's or a node link's message is kept:
 * a new topic past either bound, or a replacement that would take the
 * bytes past theirs, is not kept; clearing a topic or replacing its
 * message with one no larger always is. The node's own $SYS/ topics and
 * what the store holds at start-up are counted but never refused (a bound
 * lowered since is then only felt by new topics).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static struct rtree *retained;
/* msg_size() of the messages in the tree. */
static uint64_t retained_msg_bytes;
/* Refusals not logged yet, and when the last log line was. */
static uint64_t refused_unlogged;
static time_t refused_logged;

static void
retain_release(void *value)
{
	msg_unref(value);
}

void
retain_init(void)
{
	retained = rtree_new(retain_release);
}

void
retain_free_all(void)
{
	if (retained != NULL)
		rtree_free(retained);
	retained = NULL;
	retained_msg_bytes = 0;
}

/* Set topic's message to m (taken; NULL clears), keeping the count. */
static void
retain_set(const char *topic, uint32_t len, struct msg *m)
{
	struct msg *old = rtree_get(retained, topic, len);

	if (old != NULL)
		retained_msg_bytes -= msg_size(old);
	if (m != NULL)
		retained_msg_bytes += msg_size(m);
	rtree_set(retained, topic, len, m);
}

void
retain_store(struct msg *m)
{
	persist_retain(m);
	retain_set(m->topic, m->topic_len, m->payload_len == 0 ? NULL :
	    msg_ref(m));
}

const struct msg *
retain_find(const char *topic, uint32_t len)
{
	return retained != NULL ? rtree_get(retained, topic, len) : NULL;
}

uint64_t
retain_bytes(void)
{
	return retained != NULL ? retained_msg_bytes + rtree_bytes(retained) :
	    0;
}

/* A refusal, logged at most once a second with the number since. */
static void
retain_refused(const char *topic, uint32_t len)
{
	time_t now = time(NULL);

	refused_unlogged++;
	if (refused_logged == now)
		return;
	log_notice("retained messages at their bound (%zu of "
	    "max_retained_messages %u, %llu of max_retained_bytes %llu "
	    "bytes): %llu not kept, the last on %.*s", retain_count(),
	    srv.cfg.max_retained_messages,
	    (unsigned long long)retain_bytes(),
	    (unsigned long long)srv.cfg.max_retained_bytes,
	    (unsigned long long)refused_unlogged, (int)len, topic);
	refused_logged = now;
	refused_unlogged = 0;
}

int
retain_room(const char *topic, uint32_t len, size_t size, int clear)
{
	const struct msg *old;
	uint64_t grow;

	if (clear)
		return 1;
	old = rtree_get(retained, topic, len);
	if (old != NULL) {
		if (size <= msg_size(old))
			return 1;
		grow = size - msg_size(old);
	} else {
		if (srv.cfg.max_retained_messages != 0 &&
		    rtree_count(retained) >= srv.cfg.max_retained_messages)
			goto refused;
		grow = size + rtree_cost(retained, topic, len);
	}
	if (srv.cfg.max_retained_bytes == 0 ||
	    retain_bytes() + grow <= srv.cfg.max_retained_bytes)
		return 1;
refused:
	retain_refused(topic, len);
	return 0;
}

struct retain_ctx {
	struct session *s;
	uint8_t qos;
	uint32_t sub_id;
	struct msg **found;
	size_t n, cap, limit;
};

static void
retain_collect(void *value, void *arg)
{
	struct retain_ctx *ctx = arg;

	/* More than the session could queue would only be dropped: stop
	 * collecting (the walk goes on, but allocates nothing). */
	if (ctx->n >= ctx->limit)
		return;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 16;
		ctx->found = xreallocarray(ctx->found, ctx->cap,
		    sizeof *ctx->found);
	}
	ctx->found[ctx->n++] = msg_ref(value);
}

void
retain_deliver(struct session *s, const char *filter, uint32_t len,
    uint8_t qos, uint32_t sub_id)
{
	struct retain_ctx ctx = { s, qos, sub_id, NULL, 0, 0, 0 };
	time_t now = time(NULL);
	struct msg *m;
	size_t i;

	ctx.limit = (size_t)srv.cfg.max_queued_messages +
	    srv.cfg.max_inflight_messages;
	/* Collect first: delivering must not run inside the tree walk. */
	rtree_match(retained, filter, len, retain_collect, &ctx);
	for (i = 0; i < ctx.n; i++) {
		m = ctx.found[i];
		if (msg_expired(m, now)) {
			if (rtree_get(retained, m->topic, m->topic_len) == m)
				retain_set(m->topic, m->topic_len, NULL);
		} else {
			deliver_to_session(s, m, m->qos < qos ? m->qos : qos,
			    1, &sub_id, sub_id != 0);
		}
		msg_unref(m);
	}
	free(ctx.found);
}

size_t
retain_count(void)
{
	return retained != NULL ? rtree_count(retained) : 0;
}

void
retain_foreach(void (*cb)(void *m, void *arg), void *arg)
{
	if (retained != NULL)
		rtree_foreach(retained, cb, arg);
}
