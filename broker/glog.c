/*
 * glog.c - group messages at one write: the broker's half of the group
 * logs and spans (store/sql_group.c has the store's half and the
 * design).
 *
 * A QoS 1/2 message that matches many subscriptions (group_log_threshold)
 * and goes to offline persistent sessions through their subscription to
 * its exact topic is written once, as the next entry of that topic's
 * log; each such session gets the next seq of its queue as usual, counts
 * it as a message on disk, and covers it with its span. A session has at
 * most one open span (struct glog_span): while it takes every entry of
 * that log and nothing else, the span grows without a write. It is
 * closed, in the same batch, when:
 *   - the session takes a seq any other way (glog_span_end, called where
 *     seqs are taken: deliver.c, bridge/takeover.c);
 *   - the log gets an entry the session does not take (the walk after
 *     each routing, glog_route_end: a full queue, the ACL, a message
 *     the cluster says it had, an overlapping subscription);
 *   - its queue is read back (the session is online or moving: the rows
 *     after the span are the in-memory queue's).
 * That is the rule that lets an open span stand for "every entry since"
 * after a crash (store.h, store_span_open).
 *
 * Only what the store can apply at read time goes through a span: one
 * subscription matched (no merging of overlapping ones), not shared, not
 * No Local, at most one subscription id, to a plain client session (not
 * a node's route, a bridge, or a session split across nodes).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* The log of the message being routed, once its entry was written. */
static struct glog *route_log;

static struct glog *
glog_get(const char *topic, size_t len)
{
	struct glog *g;

	if (srv.glogs == NULL)
		srv.glogs = hash_new();
	if ((g = hash_get(srv.glogs, topic, len)) != NULL)
		return g;
	g = xcalloc(1, sizeof *g);
	g->filter = xstrndup(topic, len);
	g->flen = len;
	TAILQ_INIT(&g->open);
	hash_put(srv.glogs, topic, len, g);
	return g;
}

void
glog_loaded(const char *filter, size_t flen, uint64_t head, uint64_t cum)
{
	struct glog *g = glog_get(filter, flen);

	g->head = head;
	g->cum = cum;
}

void
glog_route_begin(void)
{
	route_log = NULL;
}

int
glog_wanted(size_t n_matches)
{
	return srv.cfg.group_log_threshold != 0 &&
	    n_matches >= srv.cfg.group_log_threshold;
}

int
glog_eligible(const struct session *s, size_t n_matches)
{
	return glog_wanted(n_matches) && session_cl(s)->peer == NULL &&
	    session_cl(s)->xb == NULL && session_cl(s)->split == 0 &&
	    !s->tombstone && persist_offline(s);
}

void
glog_span_forget(struct session *s)
{
	struct glog_span *sp = session_du(s)->span;

	if (sp == NULL)
		return;
	TAILQ_REMOVE(&sp->g->open, sp, entry);
	session_durable(s)->span = NULL;
	free(sp);
}

void
glog_span_end(struct session *s)
{
	struct glog_span *sp = session_du(s)->span;

	if (sp == NULL)
		return;
	persist_span_close(s, sp->first_seq, sp->last_log);
	glog_span_forget(s);
}

uint64_t
glog_take(struct session *s, struct msg *m, uint8_t sub_qos, uint8_t rap,
    uint32_t sub_id)
{
	struct glog_span *sp = session_du(s)->span;
	struct glog *g;
	uint64_t seq;

	g = route_log != NULL ? route_log : glog_get(m->topic, m->topic_len);
	if (route_log == NULL) {
		route_log = g;
		g->head++;
		g->cum += m->payload_len;
		persist_glog(g, m);
		srv.glog_entries++;
	}
	if (s->next_seq == 0)
		s->next_seq = 1;
	seq = s->next_seq++;
	if (sp != NULL && sp->g == g && sp->last_log + 1 == g->head &&
	    sp->last_seq + 1 == seq && sp->qos == sub_qos &&
	    sp->rap == rap && sp->sub_id == sub_id) {
		/* Its span goes on: no write. */
		sp->last_log = g->head;
		sp->last_seq = seq;
		srv.glog_deliveries++;
		return seq;
	}
	glog_span_end(s);
	sp = xcalloc(1, sizeof *sp);
	sp->g = g;
	sp->s = s;
	sp->first_seq = sp->last_seq = seq;
	sp->first_log = sp->last_log = g->head;
	sp->qos = sub_qos;
	sp->rap = rap;
	sp->sub_id = sub_id;
	TAILQ_INSERT_TAIL(&g->open, sp, entry);
	session_durable(s)->span = sp;
	persist_span_open(s, g, seq, g->head, sub_qos, rap, sub_id);
	srv.glog_deliveries++;
	srv.glog_spans++;
	return seq;
}

void
glog_route_end(void)
{
	struct glog *g = route_log;
	struct glog_span *sp, *next;

	route_log = NULL;
	if (g == NULL)
		return;
	/* Open spans of this log that did not take its new entry end
	 * before it, in this batch. */
	for (sp = TAILQ_FIRST(&g->open); sp != NULL; sp = next) {
		next = TAILQ_NEXT(sp, entry);
		if (sp->last_log != g->head)
			glog_span_end(sp->s);
	}
}

static void
glog_free_one(const void *key, size_t len, void *value, void *arg)
{
	struct glog *g = value;
	struct glog_span *sp;

	while ((sp = TAILQ_FIRST(&g->open)) != NULL)
		glog_span_forget(sp->s);
	free(g->filter);
	free(g);
}

void
glog_free_all(void)
{
	if (srv.glogs == NULL)
		return;
	hash_foreach(srv.glogs, glog_free_one, NULL);
	hash_free(srv.glogs);
	srv.glogs = NULL;
}
