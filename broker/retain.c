/*
 * retain.c - retained messages (MQTT 5.0 section 3.3.1.3).
 *
 * One retained message per topic name, held by reference in the retained
 * tree (struct rtree, retain_tree.c). A retained PUBLISH with an empty
 * payload clears the topic (MQTT-3.3.1-6, -7). On subscribe the messages
 * whose topics match the new filter are sent with the retain flag set, at
 * the lower of their QoS and the granted QoS. Expired messages (message
 * expiry) are not sent and are dropped when found.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static struct rtree *retained;

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
}

void
retain_store(struct msg *m)
{
	persist_retain(m);
	if (m->payload_len == 0)
		rtree_set(retained, m->topic, m->topic_len, NULL);
	else
		rtree_set(retained, m->topic, m->topic_len, msg_ref(m));
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
				rtree_set(retained, m->topic, m->topic_len,
				    NULL);
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
