/*
 * deliver.c - routing a message to sessions, and the outgoing QoS flows.
 *
 * Routing (MQTT 5.0 section 4.7): the subscription trie reports every
 * matching subscription; a client with overlapping subscriptions gets the
 * message once, at the highest granted QoS, with every matching
 * subscription identifier (section 3.3.4); shared-subscription matches are
 * separate deliveries, one member per group. No Local subscriptions skip
 * the publisher; Retain As Published keeps the retain flag.
 *
 * Outgoing QoS 1/2 (section 4.3, 4.4): each session has a queue (waiting)
 * and an in-flight list (sent, unacknowledged), both in order. At most
 * min(max_inflight_messages, the client's Receive Maximum) messages are in
 * flight (a 3.1.1 client: max_inflight_messages_v311), and none is sent
 * while the connection's output holds over OUTPUT_PUMP_MAX bytes
 * (conn_output_full); the rest wait in the queue, so order is kept per
 * session. The
 * queue holds max_queued_messages; past that, an offline session drops new
 * messages (counted), and an online one takes them while the publishers'
 * acks wait for room (deliver_enqueue, gate.c). On resume,
 * in-flight messages are sent again with DUP set, or their PUBREL
 * (section 4.4), before anything new.
 * A queued message whose Message Expiry Interval passes before it could be
 * sent is dropped (MQTT-3.3.2-5); one already in flight is still resent.
 * QoS 0 messages are not queued (unless queue_qos0_messages is on and the
 * session is persistent and offline): sent to an online client, or dropped
 * when its output buffer is over OUTPUT_LIMIT (a slow reader must not make
 * the broker hold unbounded memory).
 *
 * ACL (acl.c, only when acl_file is set): a message reaches a session only
 * when its client may read the topic. The check is made when the message
 * is routed to the session (so a denied message takes no queue room and
 * no disk), and the delivery records the ACL generation it passed under.
 * A delivery is checked again just before it is sent when that record is
 * stale: read back from the store, queued while the client was not known
 * (a session loaded at start-up), queued before a reload of the ACL file
 * or before another user resumed the session. Denied there, it is dropped.
 * A node's forward queue is not checked: the node at the other end checks
 * its own subscribers. Without acl_file, $events/ messages reach no
 * client (events.c), neither when routed nor when sent.
 *
 * Every drop of a message for a session (queue full, expired, too large,
 * QoS 0 over the output limit, read refused at send) is counted for
 * $events/message/dropped (events_dropped).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

#define OUTPUT_LIMIT (8u * 1024 * 1024)

struct match {
	struct session *s;
	const char *share; /* the whole $share filter; NULL: not shared */
	const char *filter; /* the subscription's filter */
	uint8_t qos;
	uint8_t options;
	uint8_t shared;
	uint32_t sub_id;
};

/* What a trie walk is for: exclude a session, keep one group only. */
struct route_ctx {
	const struct session *exclude;
	const char *share; /* only this shared filter; NULL: every match */
	const struct session *publisher; /* for No Local */
	int from_link; /* forwarded by another node: deliver here only */
};

static uint32_t route_pass; /* bumped by each deliver_route */
static int route_twice; /* a session matched twice in this pass */

static struct match *matches;
static size_t n_matches, cap_matches;

/*
 * The cluster messages a session has had, by identity (bridge/forward.c):
 * the last SEEN_MAX, as 64-bit mixes of origin and sequence. A message
 * can reach a session twice in a cluster (two nodes' routes during a
 * move, two copies of one session merged after a partition); the second
 * is recognised here and not delivered. Allocated at a session's first
 * identified message, so a single node never has one.
 *
 * A session's window moves with it (bridge/takeover.c, "$cluster/seen").
 * When two copies of a session merge, what one copy had but no longer
 * holds was delivered by it (or dropped there). Its mixes are "away",
 * noted with the node the copy comes from, until that copy's move ends
 * (each of its moved messages takes its own mix off, as that copy still
 * held it); then they are settled, and go into the window: a message
 * queued here with a settled away mix, never sent, is dropped when its
 * turn comes (the client had it from the other copy), and one that
 * arrives later is recognised.
 *
 * A split session (bridge/takeover.c) sees far more twice, and later:
 * what the copies got while apart comes again when they merge, and the
 * queues of links that were down come after. Its window widens
 * (deliver_seen_widen), up to SEEN_WIDE_MAX, for SEEN_WIDE_SECS after it
 * was last split or merged, and narrows again on the next message after.
 */
#define SEEN_MAX 256
#define SEEN_WIDE_MAX 4096
#define SEEN_WIDE_SECS 120

struct away {
	uint64_t h;
	const void *from; /* the node the copy came from */
	uint8_t settled;
	uint8_t taken; /* its sent copy moved in: this one goes instead */
};

struct seen {
	uint16_t n, next, cap;
	uint32_t n_away, cap_away;
	struct away *away;
	time_t wide_until;
	uint64_t *h; /* a ring of cap, the oldest at next once full */
};

uint64_t
deliver_id_mix(const struct msg *m)
{
	if (m->id_origin == 0)
		return 0;
	return (m->id_origin ^ (m->id_seq * 0x9e3779b97f4a7c15ULL)) | 1;
}

static struct seen *
seen_of(struct session *s)
{
	struct session_cluster *cl = session_cluster(s);

	if (cl->seen == NULL) {
		cl->seen = xcalloc(1, sizeof *cl->seen);
		cl->seen->cap = SEEN_MAX;
		cl->seen->h = xreallocarray(NULL, SEEN_MAX,
		    sizeof *cl->seen->h);
	}
	return cl->seen;
}

/* w's ring holds the last `cap` mixes (fewer when it has fewer). */
static void
seen_resize(struct seen *w, uint16_t cap)
{
	uint64_t *h = xreallocarray(NULL, cap, sizeof *h);
	uint16_t n = w->n < cap ? w->n : cap, i;

	/* The newest n, oldest first. */
	for (i = 0; i < n; i++)
		h[i] = w->h[(w->next + w->cap - n + i) % w->cap];
	free(w->h);
	w->h = h;
	w->n = n;
	w->cap = cap;
	w->next = n % cap;
}

void
deliver_seen_widen(struct session *s)
{
	seen_of(s)->wide_until = time(NULL) + SEEN_WIDE_SECS;
}

static int
seen_has(const struct seen *w, uint64_t h)
{
	unsigned i;

	for (i = 0; i < w->n; i++) {
		if (w->h[i] == h)
			return 1;
	}
	return 0;
}

static void
seen_put(struct seen *w, uint64_t h)
{
	if (w->n == w->cap && w->cap < SEEN_WIDE_MAX &&
	    time(NULL) < w->wide_until)
		seen_resize(w, (uint16_t)(w->cap * 2));
	else if (w->cap > SEEN_MAX && time(NULL) >= w->wide_until)
		seen_resize(w, SEEN_MAX);
	w->h[w->next] = h;
	w->next = (uint16_t)((w->next + 1) % w->cap);
	if (w->n < w->cap)
		w->n++;
}

int
deliver_seen(struct session *s, const struct msg *m)
{
	struct seen *w;
	uint64_t h = deliver_id_mix(m);

	/* A node alone gives a message an identity only for its clients
	 * (receipt.c), and nothing reaches a session there twice. */
	if (h == 0 || session_cl(s)->peer != NULL || !bridge_on())
		return 0;
	w = seen_of(s);
	if (seen_has(w, h))
		return 1;
	seen_put(w, h);
	return 0;
}

size_t
deliver_seen_list(struct session *s, const uint64_t **mixes)
{
	struct seen *w = session_cl(s)->seen;

	/* Oldest first, as the receiver puts them in its ring. */
	if (w != NULL && w->n == w->cap && w->next != 0)
		seen_resize(w, w->cap);
	*mixes = w != NULL ? w->h : NULL;
	return w != NULL ? w->n : 0;
}

static void
away_add(struct seen *w, uint64_t h, const void *from, uint8_t taken)
{
	struct away *a;

	if (w->n_away == w->cap_away) {
		w->cap_away = w->cap_away ? w->cap_away * 2 : 64;
		w->away = xreallocarray(w->away, w->cap_away,
		    sizeof *w->away);
	}
	a = &w->away[w->n_away++];
	a->h = h;
	a->from = from;
	a->settled = 0;
	a->taken = taken;
}

void
deliver_seen_away(struct session *s, uint64_t h, const void *from)
{
	if (h != 0)
		away_add(seen_of(s), h, from, 0);
}

int
deliver_seen_taken(struct session *s, const struct msg *m, const void *from)
{
	struct seen *w;
	uint64_t h = deliver_id_mix(m);
	uint32_t i;

	if (h == 0)
		return 0;
	w = seen_of(s);
	for (i = 0; i < w->n_away; i++) {
		if (w->away[i].h == h && w->away[i].from == from &&
		    w->away[i].taken)
			return 1;
	}
	away_add(w, h, from, 1);
	if (!seen_has(w, h))
		seen_put(w, h);
	return 0;
}

void
deliver_seen_here(struct session *s, const struct msg *m, const void *from)
{
	struct seen *w = session_cl(s)->seen;
	uint64_t h = deliver_id_mix(m);
	uint32_t i;

	if (w == NULL || h == 0)
		return;
	for (i = 0; i < w->n_away; i++) {
		if (w->away[i].h == h && w->away[i].from == from &&
		    !w->away[i].settled && !w->away[i].taken) {
			/* In order: the history goes in oldest first. */
			memmove(&w->away[i], &w->away[i + 1],
			    (w->n_away - i - 1) * sizeof *w->away);
			w->n_away--;
			return;
		}
	}
}

void
deliver_seen_settle(struct session *s, const void *from)
{
	struct seen *w = session_cl(s)->seen;
	uint64_t *h;
	uint32_t i, j, n, add = 0, cap, skip;

	if (w == NULL)
		return;
	for (i = 0; i < w->n_away; i++) {
		if (w->away[i].from == from && !w->away[i].settled &&
		    !seen_has(w, w->away[i].h))
			add++;
	}
	/*
	 * The other copy's history is older than what this copy noted
	 * during the move (the messages that reached it meanwhile, which
	 * the old node may still pass on a round trip later). So it goes
	 * in first, oldest in the ring, and the ring gets room for as
	 * much again: what comes next pushes history out, not the notes
	 * of the move.
	 */
	cap = w->cap;
	while (cap < 2 * (w->n + add) && cap < SEEN_WIDE_MAX)
		cap *= 2;
	if (cap > SEEN_WIDE_MAX)
		cap = SEEN_WIDE_MAX;
	if (add == 0) {
		for (i = 0; i < w->n_away; i++) {
			if (w->away[i].from == from)
				w->away[i].settled = 1;
		}
		return;
	}
	/* Past SEEN_WIDE_MAX the oldest of the history are left out. */
	skip = w->n + add > cap ? w->n + add - cap : 0;
	h = xreallocarray(NULL, cap, sizeof *h);
	n = 0;
	for (i = 0; i < w->n_away; i++) {
		if (w->away[i].from != from || w->away[i].settled)
			continue;
		w->away[i].settled = 1;
		if (seen_has(w, w->away[i].h))
			continue;
		for (j = 0; j < n && h[j] != w->away[i].h; j++)
			;
		if (j < n)
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		h[n++] = w->away[i].h;
	}
	/* Then the ring, oldest first. */
	for (i = 0; i < w->n && n < cap; i++)
		h[n++] = w->h[(w->next + w->cap - w->n + i) % w->cap];
	free(w->h);
	w->h = h;
	w->n = (uint16_t)n;
	w->cap = (uint16_t)cap;
	w->next = (uint16_t)(n % cap);
	if (cap > SEEN_MAX)
		w->wide_until = time(NULL) + SEEN_WIDE_SECS;
}

int
deliver_had_elsewhere(struct session *s, const struct delivery *d)
{
	struct seen *w = session_cl(s)->seen;
	uint64_t h;
	uint32_t i;

	if (w == NULL || w->n_away == 0 || d->dup)
		return 0;
	h = deliver_id_mix(d->msg);
	for (i = 0; h != 0 && i < w->n_away; i++) {
		if (w->away[i].h == h && w->away[i].settled)
			return 1;
	}
	return 0;
}

/* s's queue is empty: settled away mixes have nothing left to drop. */
static void
deliver_away_forget(struct session *s)
{
	struct seen *w = session_cl(s)->seen;
	uint32_t i, j;

	if (w == NULL || w->n_away == 0)
		return;
	for (i = j = 0; i < w->n_away; i++) {
		if (!w->away[i].settled)
			w->away[j++] = w->away[i];
	}
	w->n_away = j;
	if (j == 0) {
		free(w->away);
		w->away = NULL;
		w->cap_away = 0;
	}
}

void
deliver_seen_free(struct session *s)
{
	if (s->cl->seen == NULL)
		return;
	free(s->cl->seen->away);
	free(s->cl->seen->h);
	free(s->cl->seen);
	s->cl->seen = NULL;
}

/*
 * Deliveries are the most allocated object: one per message per
 * subscriber, freed at its ack. They come from a free list of recycled
 * ones (LIFO, so the next is the one just freed, still in cache) and go
 * back to it, up to DELIVERY_POOL_MAX kept: with malloc, a fan-out of
 * QoS 1 spent about a quarter of the node's time in the allocator, much
 * of it consolidating the freed deliveries whenever a read buffer was
 * allocated. The pool holds at most DELIVERY_POOL_MAX * sizeof(struct
 * delivery) (about 1 MB) beyond what is in use.
 */
#define DELIVERY_POOL_MAX 12288

static struct delivery *delivery_pool; /* linked through msg */
static size_t delivery_pool_n;

struct delivery *
delivery_new(void)
{
	struct delivery *d = delivery_pool;

	if (d == NULL)
		return xcalloc(1, sizeof *d);
	delivery_pool = (struct delivery *)(void *)d->msg;
	delivery_pool_n--;
	memset(d, 0, sizeof *d);
	return d;
}

void
delivery_free(struct delivery *d)
{
	msg_unref(d->msg);
	free(d->sub_ids);
	free(d->share);
	if (delivery_pool_n >= DELIVERY_POOL_MAX) {
		free(d);
		return;
	}
	d->msg = (struct msg *)(void *)delivery_pool;
	delivery_pool = d;
	delivery_pool_n++;
}

/* At exit (deliver_free_all), so that leak checkers see every block
 * freed. */
static void
delivery_pool_clear(void)
{
	struct delivery *d;

	while ((d = delivery_pool) != NULL) {
		delivery_pool = (struct delivery *)(void *)d->msg;
		free(d);
	}
	delivery_pool_n = 0;
}

static int
deliver_online(const struct session *s)
{
	return s->conn != NULL && s->conn->state == CONN_ACTIVE;
}

/* Shared groups prefer a connected member other than ctx->exclude. A
 * message from another node goes to a local member only, and a message
 * handed over from a leaving member stays on this node. */
static int
deliver_accept(const struct trie_sub *sub, void *arg)
{
	const struct route_ctx *ctx = arg;
	const struct session *s = sub->owner;

	if (ctx != NULL && session_cl(s)->peer != NULL && (ctx->from_link ||
	    ctx->exclude != NULL))
		return -1;
	/* A group this message is not for keeps its turn. */
	if (ctx != NULL && ((ctx->from_link &&
	    !bridge_in_share(sub->filter)) || (ctx->share != NULL &&
	    strcmp(sub->filter, ctx->share) != 0)))
		return -1;
	return deliver_online(s) && (ctx == NULL || s != ctx->exclude);
}

void
deliver_init(void)
{
	trie_set_accept(srv.subs, deliver_accept);
}

static uint16_t
deliver_window(const struct session *s)
{
	uint32_t w = session_cl(s)->peer != NULL ? BRIDGE_WINDOW :
	    srv.cfg.max_inflight_messages;

	/* A 3.1.1 client cannot say what it takes. */
	if (session_cl(s)->peer == NULL && s->conn != NULL &&
	    s->conn->version != MQTT_V5 &&
	    srv.cfg.max_inflight_messages_v311 < w)
		w = srv.cfg.max_inflight_messages_v311;
	if (s->conn != NULL && s->conn->receive_max < w)
		w = s->conn->receive_max;
	return (uint16_t)w;
}

int
deliver_id_in_use(const struct session *s, uint16_t id)
{
	const struct delivery *d;

	TAILQ_FOREACH(d, &s->inflight, entry) {
		if (d->packet_id == id)
			return 1;
	}
	return 0;
}

/* A delivery's packet id derives from its queue position, so it is the
 * same after a restart (persist.c). */
static uint16_t
deliver_id_of(uint64_t seq)
{
	return (uint16_t)((seq - 1) % 65535 + 1);
}

/* 1 when the packet id of seq is held by a delivery in flight. Ids come
 * from seq modulo 65535, so only a delivery 65535 or more behind can
 * hold it: inflight_lo, at or below every seq in flight, answers at
 * once with a window of thousands; a scan (which tightens it) only when
 * something that old may still be in flight. */
static int
deliver_seq_id_in_use(struct session *s, uint64_t seq)
{
	const struct delivery *d;
	uint64_t lo = UINT64_MAX;
	uint16_t id = deliver_id_of(seq);
	int used = 0;

	if (seq <= 65535 || s->inflight_lo > seq - 65535)
		return 0;
	TAILQ_FOREACH(d, &s->inflight, entry) {
		if (d->packet_id == id)
			used = 1;
		if (d->seq < lo)
			lo = d->seq;
	}
	s->inflight_lo = lo;
	return used;
}

/* d goes in flight: inflight_lo stays at or below its seq. */
static void
deliver_inflight_add(struct session *s, struct delivery *d)
{
	if (TAILQ_EMPTY(&s->inflight) || d->seq < s->inflight_lo)
		s->inflight_lo = d->seq;
	TAILQ_INSERT_TAIL(&s->inflight, d, entry);
	s->n_inflight++;
}

uint16_t
deliver_packet_id(uint64_t seq)
{
	return deliver_id_of(seq);
}

uint64_t
deliver_seq_for(struct session *s, uint16_t id)
{
	uint64_t seq = s->next_seq != 0 ? s->next_seq : 1;

	glog_span_end(s);
	seq += (uint64_t)((id + 65535 - deliver_id_of(seq)) % 65535);
	s->next_seq = seq + 1;
	return seq;
}

/* d leaves s for good (acknowledged, expired, refused): forget its row. */
void
deliver_drop(struct session *s, struct delivery *d)
{
	persist_done(s, d);
	s->queued_bytes -= d->msg->payload_len;
	delivery_free(d);
}

/* pkt (a PUBLISH of m) for another node: with m's identity before its
 * user properties (bridge/forward.c). Returns conn_send's result. */
static int
deliver_send_id(struct session *s, const struct msg *m,
    struct mqtt_packet *pkt)
{
	uint8_t stack[512], *buf;
	size_t n, len = (size_t)m->user_len + BRIDGE_ID_PROP_MAX;
	int rc;

	buf = len <= sizeof stack ? stack : xmalloc(len);
	n = bridge_id_prop(s->conn, m, &pkt->u.publish, buf);
	if (m->user_len > 0)
		memcpy(buf + n, m->user, m->user_len);
	pkt->u.publish.props.user.p = buf;
	pkt->u.publish.props.user.len = (uint32_t)(n + m->user_len);
	rc = conn_send(s->conn, pkt);
	if (rc == 0)
		bridge_id_sent(s->conn, m, &pkt->u.publish);
	if (buf != stack)
		free(buf);
	return rc;
}

/* pkt (a PUBLISH of m) for a v5 client, with m's "tern-mid" last among
 * its user properties (receipt.c). Returns conn_send's result. */
static int
deliver_send_mid(struct session *s, const struct msg *m,
    struct mqtt_packet *pkt)
{
	uint8_t stack[512], *buf;
	size_t len = (size_t)m->user_len + RECEIPT_MID_PROP_LEN;
	int rc;

	buf = len <= sizeof stack ? stack : xmalloc(len);
	if (m->user_len > 0)
		memcpy(buf, m->user, m->user_len);
	len = m->user_len + receipt_mid_prop(m, buf + m->user_len);
	pkt->u.publish.props.user.p = buf;
	pkt->u.publish.props.user.len = (uint32_t)len;
	rc = conn_send(s->conn, pkt);
	if (buf != stack)
		free(buf);
	return rc;
}

/* Encode and queue one PUBLISH for s's connection. Returns 0, or -1 when
 * the client's maximum packet size forbids it. */
static int
deliver_send(struct session *s, struct msg *m, uint8_t qos, uint8_t retain,
    uint8_t dup, uint16_t id, const uint32_t *sub_ids, uint8_t n_sub_ids)
{
	struct mqtt_packet pkt;
	struct mqtt_publish *p = &pkt.u.publish;
	uint16_t alias = 0;
	int send_topic = 1;

	/* Most messages carry no property and go to a client that uses no
	 * topic alias and gave no subscription identifier: the packet is
	 * then written as it is, without the general encoder (measured: a
	 * third of the instructions of a QoS 1 fan-out delivery went to
	 * filling and encoding a struct mqtt_packet). Not to another node
	 * or a bridge: those add properties or map the topic. */
	if (session_cl(s)->peer == NULL && session_cl(s)->xb == NULL &&
	    (s->conn->version != MQTT_V5 ||
	    (n_sub_ids == 0 && !msg_has_props(m) &&
	    s->conn->alias_out == NULL && (!srv.cfg.message_id_property ||
	    m->id_origin == 0 || session_cl(s)->cluster_in)))) {
		if (conn_send_publish_plain(s->conn, (uint8_t)((dup ? 0x08 : 0) |
		    (qos & 3) << 1 | (retain ? 1 : 0)), m->topic, m->topic_len, id,
		    m->payload, m->payload_len) != 0)
			return -1;
		goto sent;
	}
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PUBLISH;
	p->qos = qos;
	p->retain = retain;
	p->dup = dup;
	p->packet_id = id;
	p->topic.p = (const uint8_t *)m->topic;
	p->topic.len = m->topic_len;
	p->payload.p = m->payload;
	p->payload.len = m->payload_len;
	if (s->conn->version == MQTT_V5) {
		msg_props(m, &p->props);
		p->props.sub_ids = sub_ids;
		p->props.n_sub_ids = n_sub_ids;
		conn_alias_out(s->conn, m->topic, m->topic_len, &alias,
		    &send_topic);
		if (alias != 0) {
			MQTT_PROP_SET(&p->props, MQTT_PROP_TOPIC_ALIAS);
			p->props.topic_alias = alias;
			if (!send_topic)
				p->topic.len = 0;
		}
	}
	if (session_cl(s)->xb != NULL) {
		if (mqttbridge_send(s, m, &pkt) != 0)
			return -1;
	} else if (session_cl(s)->peer != NULL && s->conn->version == MQTT_V5) {
		if (deliver_send_id(s, m, &pkt) != 0)
			return -1;
	} else if (srv.cfg.message_id_property && m->id_origin != 0 &&
	    s->conn->version == MQTT_V5 && !session_cl(s)->cluster_in) {
		if (deliver_send_mid(s, m, &pkt) != 0)
			return -1;
	} else if (conn_send(s->conn, &pkt) != 0) {
		return -1;
	}
	if (alias != 0 && send_topic)
		conn_alias_commit(s->conn, m->topic, m->topic_len, alias);
sent:
	if (session_cl(s)->peer == NULL && !dup)
		srv.delivered[qos]++;
	if (m->tracking)
		resend_sent(m, s);
	return 0;
}

static const uint32_t *
delivery_sub_ids(const struct delivery *d)
{
	return d->n_sub_ids > 1 ? d->sub_ids : &d->sub_id;
}

/* Put d back at the head of the queue, before the messages that were
 * never sent (they all come after it). */
static void
deliver_requeue_head(struct session *s, struct delivery *d)
{
	struct delivery *q;

	TAILQ_FOREACH(q, &s->queue, entry) {
		if (!q->dup)
			break;
	}
	if (q != NULL)
		TAILQ_INSERT_BEFORE(q, d, entry);
	else
		TAILQ_INSERT_TAIL(&s->queue, d, entry);
	s->n_queued++;
}

/* 1 when the ACL applies to s: a client's session, not the forward
 * queue of another node ("$peer/<node>") or a node's link to us, whose
 * messages are checked by the node that delivers them to its own
 * clients, nor a bridge's (mqttbridge.c), which its topic lines bound. */
static int
deliver_acl_applies(const struct session *s)
{
	return acl_active() && session_cl(s)->peer == NULL &&
	    !session_cl(s)->cluster_in &&
	    session_cl(s)->xb == NULL;
}

/* 1 when m is one of the node's events and s a client's session while
 * there is no acl_file: nobody reads them then (events.c), not even a
 * session that subscribed, or had them queued, under an ACL that
 * granted it before the node restarted without one. */
static int
deliver_events_hidden(const struct session *s, const struct msg *m)
{
	return m->topic[0] == '$' && !acl_active() &&
	    session_cl(s)->peer == NULL &&
	    !session_cl(s)->cluster_in && events_topic(m->topic, m->topic_len);
}

/* 1 when s's client may read d's topic (see the design note). */
static int
deliver_acl_ok(struct session *s, struct delivery *d)
{
	if (deliver_events_hidden(s, d->msg))
		return 0;
	if (!deliver_acl_applies(s) || d->acl_gen == acl_generation())
		return 1;
	if (!acl_check(s->username, s->client_id, d->msg->topic,
	    d->msg->topic_len, ACL_READ))
		return 0;
	d->acl_gen = acl_generation();
	return 1;
}

/* Send d now and put it in flight. */
static void
deliver_start(struct session *s, struct delivery *d)
{
	if (!deliver_acl_ok(s, d)) {
		events_dropped(s, d->msg, EVENTS_DROP_NOT_AUTHORIZED);
		deliver_drop(s, d);
		return;
	}
	if (d->qos == 0) {
		/* A queued QoS 0 message: sent, and done with. */
		deliver_send(s, d->msg, 0, d->retain, 0, 0,
		    delivery_sub_ids(d), d->n_sub_ids);
		deliver_drop(s, d);
		return;
	}
	d->packet_id = deliver_id_of(d->seq);
	if (deliver_send(s, d->msg, d->qos, d->retain, d->dup, d->packet_id,
	    delivery_sub_ids(d), d->n_sub_ids) != 0) {
		/* Too large for this client: dropped for it alone
		 * (MQTT-3.1.2-25). */
		log_info("message on %s too large for %s, dropped",
		    d->msg->topic, s->client_id);
		events_dropped(s, d->msg, EVENTS_DROP_TOO_LARGE);
		deliver_drop(s, d);
		return;
	}
	d->state = DELIVERY_SENT;
	if (d->seq > s->sent_max_seq)
		s->sent_max_seq = d->seq;
	deliver_inflight_add(s, d);
}

/* The first online session routing found over its queue limit. */
static struct session *deliver_blocker;
/* Routing a message from another node: its link's window (not twice the
 * limit) bounds what a full queue takes. */
static int deliver_from_link;
/* The match being delivered may go into its topic's group log
 * (glog.c): one plain subscription to exactly the topic. */
static struct {
	int ok;
	uint8_t qos, rap;
	uint32_t sub_id;
} deliver_glog;

struct session *
deliver_take_blocker(void)
{
	struct session *s = deliver_blocker;

	deliver_blocker = NULL;
	return s;
}

/*
 * 1 when s holds times its queue limit or more (with len more bytes).
 * A node's forward queue: BRIDGE_QUEUE_SOFT, then BRIDGE_QUEUE_MAX.
 */
static int
deliver_full(const struct session *s, uint32_t len, unsigned times)
{
	uint64_t n = (uint64_t)s->n_queued + session_du(s)->disk_count;

	if (session_cl(s)->peer != NULL)
		return n >= (times == 1 ? BRIDGE_QUEUE_SOFT : BRIDGE_QUEUE_MAX);
	return n >= (uint64_t)srv.cfg.max_queued_messages * times ||
	    (srv.cfg.max_queued_bytes != 0 && s->queued_bytes +
	    session_du(s)->disk_bytes + len > srv.cfg.max_queued_bytes * times);
}

/* How many acks of links one session may hold: a quarter of the window
 * the links use (BRIDGE_WINDOW, or our receive_maximum if smaller). */
static uint32_t
deliver_link_hold_max(void)
{
	uint32_t w = srv.cfg.receive_maximum < BRIDGE_WINDOW ?
	    srv.cfg.receive_maximum : BRIDGE_WINDOW;

	return w / 4 > 0 ? w / 4 : 1;
}

/* s may have room again: release the acks it held. */
static void
deliver_unblock(struct session *s)
{
	if (s->blocking && !deliver_full(s, 0, 1)) {
		s->blocking = 0;
		gate_unblock(s);
	}
}

void
deliver_release(struct session *s)
{
	if (s->blocking) {
		s->blocking = 0;
		gate_unblock(s);
	}
}

void
deliver_pump(struct session *s)
{
	struct delivery *d;
	uint16_t window;
	time_t now = time(NULL);

	if (session_cl(s)->moving != NULL) {
		bridge_move_pump(s);
		return;
	}
	if (s->conn == NULL || s->conn->state != CONN_ACTIVE)
		return;
	/* Another copy of it is merging in: pumped again when the merge
	 * claims are over (bridge/takeover.c). */
	if (session_cl(s)->split != 0 && bridge_split_merging(s))
		return;
	window = deliver_window(s);
	while (s->n_inflight < window &&
	    (d = TAILQ_FIRST(&s->queue)) != NULL) {
		/* A window of thousands must not turn the output buffer
		 * into a second, unbounded queue for a slow reader. */
		if (conn_output_full(s->conn))
			break;
		/* Older messages still on disk go first. */
		if (session_du(s)->disk_count > 0 &&
		    d->seq > session_du(s)->disk_max_seq) {
			persist_load_queue(s);
			break;
		}
		/* Its packet id is still in flight (65535 messages behind
		 * an unacknowledged one): wait for that ack. */
		if (d->qos > 0 && deliver_seq_id_in_use(s, d->seq))
			break;
		/* QoS 2 goes out only once its row is on disk: sent and then
		 * lost in a crash, its packet id would be used again for
		 * another message, which the receiver would take for the
		 * first one again (exactly once, MQTT-4.3.3). Nor before the
		 * commit that its publisher's PUBREC waits for: refused, the
		 * message would come again in the publisher's resend. */
		if (d->qos == 2 && !d->msg->refused && (d->msg->settling ||
		    d->row_gen > srv.committed_gen ||
		    d->msg->hold_gen > srv.committed_gen)) {
			if (!d->msg->settling)
				persist_pump_after_commit(s);
			break;
		}
		TAILQ_REMOVE(&s->queue, d, entry);
		s->n_queued--;
		if (d == session_du(s)->disk_tail)
			session_durable(s)->disk_tail = NULL;
		if (d->msg->refused) {
			/* Its publisher was refused (a failed commit). */
			deliver_drop(s, d);
			continue;
		}
		if (deliver_had_elsewhere(s, d)) {
			log_debug("message %016llx:%llx for %s: delivered by "
			    "another copy of the session",
			    (unsigned long long)d->msg->id_origin,
			    (unsigned long long)d->msg->id_seq, s->client_id);
			deliver_drop(s, d);
			continue;
		}
		if (msg_expired(d->msg, now)) {
			events_dropped(s, d->msg, EVENTS_DROP_EXPIRED);
			deliver_drop(s, d);
			continue;
		}
		deliver_start(s, d);
	}
	if (session_du(s)->disk_count > 0)
		persist_load_more(s);
	else if (TAILQ_EMPTY(&s->queue))
		deliver_away_forget(s);
	deliver_unblock(s);
}

/* Deliver m to s (see deliver_to_session). Returns 0 when the ACL kept
 * it from s, else 1 (sent, queued or dropped by a limit). publisher: the
 * local session that published m (for push.c), NULL when unknown. */
static int
deliver_enqueue(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids,
    const char *share, struct peer *from, const struct session *publisher)
{
	struct delivery *d;
	int online = deliver_online(s);
	uint32_t acl_gen = 0;

	if (deliver_acl_applies(s) && s->user_known) {
		if (!acl_check(s->username, s->client_id, m->topic,
		    m->topic_len, ACL_READ))
			return 0;
		acl_gen = acl_generation();
	} else if (deliver_events_hidden(s, m)) {
		return 0;
	}
	if (qos == 0 && (online || !s->persistent ||
	    !srv.cfg.queue_qos0_messages)) {
		/* QoS 0 waits for nobody, unless queue_qos0_messages keeps
		 * it for an offline persistent session (then queued below,
		 * sent at QoS 0 when the client is back). */
		if (!online)
			return 1;
		if (conn_output_len(s->conn) > OUTPUT_LIMIT) {
			s->conn->dropped_qos0++;
			events_dropped(s, m, EVENTS_DROP_OUTPUT_FULL);
			return 1;
		}
		/* Online means known: checked above when there is an ACL. */
		deliver_send(s, m, 0, retain, 0, 0, sub_ids, n_sub_ids);
		return 1;
	}
	/*
	 * The limits count what waits (in memory and on disk), not what is
	 * in flight, as mosquitto's max_queued_messages does. Past the limit
	 * an online session still takes the message and the publisher's ack
	 * waits until it has room (backpressure): the publisher's window
	 * slows it, and a client never has more than receive_maximum acks
	 * owed (handle_publish.c), so what an online session holds over its
	 * limit is bounded by its publishers, and nothing acknowledged is
	 * dropped. (Before, past twice the limit it was dropped after its
	 * PUBACK: a publisher whose window was over the limit lost
	 * messages it was told were taken.)
	 * From another node: up to twice the limit and what the link's
	 * window lets come. An offline session drops it (its client may not
	 * be back for days). A node's forward queue applies backpressure
	 * past BRIDGE_QUEUE_SOFT while its link is up, and queues up to
	 * BRIDGE_QUEUE_MAX.
	 */
	if (deliver_full(s, m->payload_len, 1) &&
	    ((deliver_from_link && deliver_full(s, m->payload_len, 2) &&
	    s->n_queued + session_du(s)->disk_count >= 2ull *
	    srv.cfg.max_queued_messages + BRIDGE_WINDOW) ||
	    (!online && session_cl(s)->peer == NULL))) {
		events_dropped(s, m, EVENTS_DROP_QUEUE_FULL);
		if (s->dropped++ == 0)
			log_notice("queue of %s full, dropping messages (the "
			    "first on %s)", s->client_id, m->topic);
		else
			log_debug("queue of %s full, dropping message on %s",
			    s->client_id, m->topic);
		return 1;
	}
	/* A link's acks held for one session are capped, so that one slow
	 * reader cannot take the whole window of the link (which carries
	 * everyone else's messages from that node too). */
	if (online && deliver_full(s, m->payload_len, 1) &&
	    (!deliver_from_link || s->n_held_acks < deliver_link_hold_max())) {
		if (deliver_blocker == NULL)
			deliver_blocker = s;
		s->blocking = 1;
	}
	/* A group message for a parked session: its queue goes to disk,
	 * so that the message takes the group log, not a row per member. */
	if (deliver_glog.ok && session_du(s)->parked && glog_wanted(n_matches))
		persist_unpark_evict(s);
	if (deliver_glog.ok && glog_eligible(s, n_matches)) {
		/* One entry of the topic's log for all such sessions. */
		session_durable(s)->disk_max_seq = glog_take(s, m,
		    deliver_glog.qos, deliver_glog.rap, deliver_glog.sub_id);
		session_durable(s)->disk_count++;
		session_durable(s)->disk_bytes += m->payload_len;
		push_queued(s, m, qos, publisher);
		return 1;
	}
	d = delivery_new();
	d->msg = msg_ref(m);
	d->qos = qos;
	d->retain = retain;
	d->acl_gen = acl_gen;
	/* From a node that may hold another copy of s: that copy may have
	 * delivered it; s sends nothing before the two merge. */
	if (from != NULL && session_cl(s)->split != 0)
		bridge_split_hold(s, from, m);
	glog_span_end(s);
	if (s->next_seq == 0)
		s->next_seq = 1;
	d->seq = s->next_seq++;
	s->queued_bytes += m->payload_len;
	d->share = share != NULL ? xstrdup(share) : NULL;
	d->n_sub_ids = n_sub_ids;
	if (n_sub_ids == 1)
		d->sub_id = sub_ids[0];
	else if (n_sub_ids > 1)
		d->sub_ids = xmemdup(sub_ids, n_sub_ids * sizeof *sub_ids);
	persist_queue(s, d);
	if (persist_offline(s)) {
		/* Offline with the store on: the row is the queue. */
		session_durable(s)->disk_count++;
		session_durable(s)->disk_bytes += m->payload_len;
		s->queued_bytes -= m->payload_len;
		session_durable(s)->disk_max_seq = d->seq;
		delivery_free(d);
		/* Queued for a client that is away: its app server may
		 * wake it (push.c; nothing there waits). */
		push_queued(s, m, qos, publisher);
		return 1;
	}
	TAILQ_INSERT_TAIL(&s->queue, d, entry);
	s->n_queued++;
	if (online || session_cl(s)->moving != NULL) {
		deliver_pump(s);
	} else {
		push_queued(s, m, qos, publisher);
		persist_park_check(s);
	}
	return 1;
}

void
deliver_insert(struct session *s, struct delivery *d, uint8_t state)
{
	struct delivery *q;

	if (state == DELIVERY_RELEASED) {
		deliver_restore(s, d, state, 0);
		return;
	}
	s->queued_bytes += d->msg->payload_len;
	TAILQ_FOREACH_REVERSE(q, &s->queue, delivery_list, entry) {
		if (q->seq < d->seq)
			break;
	}
	if (q != NULL)
		TAILQ_INSERT_AFTER(&s->queue, q, d, entry);
	else
		TAILQ_INSERT_HEAD(&s->queue, d, entry);
	s->n_queued++;
}

void
deliver_restore(struct session *s, struct delivery *d, uint8_t state,
    uint16_t packet_id)
{
	struct mqtt_packet pkt;

	s->queued_bytes += d->msg->payload_len;
	if (state == DELIVERY_RELEASED) {
		d->state = DELIVERY_RELEASED;
		d->packet_id = deliver_id_of(d->seq);
		deliver_inflight_add(s, d);
		if (deliver_online(s)) {
			memset(&pkt, 0, sizeof pkt);
			pkt.type = MQTT_PUBREL;
			pkt.flags = 0x02;
			pkt.u.ack.packet_id = d->packet_id;
			conn_send(s->conn, &pkt);
		}
		return;
	}
	if (session_du(s)->disk_tail != NULL)
		TAILQ_INSERT_AFTER(&s->queue, session_du(s)->disk_tail, d,
		    entry);
	else
		TAILQ_INSERT_HEAD(&s->queue, d, entry);
	session_durable(s)->disk_tail = d;
	s->n_queued++;
}

void
deliver_to_session(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids)
{
	deliver_enqueue(s, m, qos, retain, sub_ids, n_sub_ids, NULL, NULL,
	    NULL);
}

void
deliver_to_session_from(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids,
    struct peer *from)
{
	deliver_enqueue(s, m, qos, retain, sub_ids, n_sub_ids, NULL, from,
	    NULL);
}

static void
deliver_match_cb(const struct trie_sub *sub, const char *share_group,
    void *arg)
{
	const struct route_ctx *ctx = arg;
	struct session *owner = sub->owner;
	struct match *mt;

	/* A message from another node: local subscribers only, and only
	 * those it was sent here for (bridge/forward.c). */
	if (ctx != NULL && ctx->from_link && (session_cl(owner)->peer != NULL ||
	    (share_group == NULL ? !bridge_in_plain() :
	    !bridge_in_share(sub->filter))))
		return;
	if (ctx != NULL && ctx->share != NULL && (share_group == NULL ||
	    strcmp(sub->filter, ctx->share) != 0))
		return;
	/* No Local drops this subscription, not the publisher's others
	 * (MQTT-3.8.3-3): filtered before overlapping ones are merged. */
	if (ctx != NULL && share_group == NULL && sub->owner ==
	    ctx->publisher && (sub->options & MQTT_SUBOPT_NO_LOCAL))
		return;
	if (n_matches == cap_matches) {
		cap_matches = cap_matches ? cap_matches * 2 : 64;
		matches = xreallocarray(matches, cap_matches,
		    sizeof *matches);
	}
	/* A session matched twice (overlapping filters, or a plain and a
	 * shared one) makes the routing sort the matches to merge them. */
	if (owner->route_mark == route_pass)
		route_twice = 1;
	owner->route_mark = route_pass;
	mt = &matches[n_matches++];
	mt->s = sub->owner;
	mt->options = sub->options;
	mt->qos = MQTT_SUBOPT_QOS(sub->options);
	mt->sub_id = sub->sub_id;
	mt->shared = share_group != NULL;
	mt->share = share_group != NULL ? sub->filter : NULL;
	mt->filter = sub->filter;
}

static int
deliver_match_cmp(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->shared != y->shared)
		return x->shared - y->shared;
	if (x->s != y->s)
		return (uintptr_t)x->s < (uintptr_t)y->s ? -1 : 1;
	return 0;
}

unsigned
deliver_route(struct msg *m, struct session *publisher)
{
	struct route_ctx ctx = { NULL, NULL, publisher, 0 };
	uint32_t ids[32];
	uint8_t n_ids, qos, retain;
	unsigned delivered = 0;
	size_t i, j;
	struct match *mt;

	ctx.from_link = publisher != NULL && session_cl(publisher)->cluster_in;
	deliver_from_link = ctx.from_link;
	/* Its identity where it enters the cluster; on a node alone, only
	 * when message ids or a receipt need it (receipt.c). */
	if (!ctx.from_link && (bridge_on() || receipt_wants_id(m)))
		bridge_msg_identify(m);
	n_matches = 0;
	route_twice = 0;
	if (++route_pass == 0)
		route_pass = 1; /* 0 is a new session's mark */
	glog_route_begin();
	trie_match(srv.subs, m->topic, m->topic_len, deliver_match_cb, &ctx);
	/* Sorted (sessions together, plain before shared) only when a
	 * session has two matches to merge: otherwise the order does not
	 * matter, and a sort per message was a few percent of a fan-out. */
	if (route_twice)
		qsort(matches, n_matches, sizeof *matches, deliver_match_cmp);
	for (i = 0; i < n_matches; i = j) {
		mt = &matches[i];
		if (session_cl(mt->s)->peer != NULL) {
			/* A route of another node: forwarded once, below. */
			bridge_collect(session_cl(mt->s)->peer, mt->share);
			for (j = i + 1; !mt->shared && j < n_matches &&
			    !matches[j].shared && matches[j].s == mt->s; j++)
				;
			if (mt->shared)
				j = i + 1;
			continue;
		}
		qos = mt->qos;
		retain = (mt->options & MQTT_SUBOPT_RAP) ? m->retain : 0;
		n_ids = 0;
		if (mt->sub_id != 0)
			ids[n_ids++] = mt->sub_id;
		/* Merge the overlapping subscriptions of one session. */
		for (j = i + 1; !mt->shared && j < n_matches &&
		    !matches[j].shared && matches[j].s == mt->s; j++) {
			if (matches[j].qos > qos)
				qos = matches[j].qos;
			if (matches[j].options & MQTT_SUBOPT_RAP)
				retain = m->retain;
			if (matches[j].sub_id != 0 &&
			    n_ids < sizeof ids / sizeof ids[0])
				ids[n_ids++] = matches[j].sub_id;
		}
		if (mt->shared)
			j = i + 1;
		if (qos > m->qos)
			qos = m->qos;
		if (ctx.from_link && bridge_in_had(mt->s)) {
			/* A copy of this session on the sending node (two
			 * were made while the nodes did not hear each other)
			 * had it: it reaches the client from there, or with
			 * that copy when the two merge. */
			delivered++;
		} else if (mt->s->tombstone) {
			/* It moved to another node: passed on there. */
			delivered += bridge_tombstone_route(mt->s, m, qos,
			    retain, ids, n_ids, ctx.from_link ?
			    ctx.publisher : NULL);
		} else if (m->track != NULL && resend_had(m, mt->s)) {
			/* Sent before as the refused message m resends. */
			resend_restore(m, mt->s);
			delivered++;
		} else if (deliver_seen(mt->s, m) && !m->resent) {
			log_debug("message %016llx:%llx reached %s again: "
			    "not delivered twice",
			    (unsigned long long)m->id_origin,
			    (unsigned long long)m->id_seq, mt->s->client_id);
			delivered++;
		} else {
			/* One plain subscription to exactly this topic: it
			 * may take the topic's group log (glog.c). */
			deliver_glog.ok = j == i + 1 && !mt->shared &&
			    !(mt->options & MQTT_SUBOPT_NO_LOCAL) &&
			    strncmp(mt->filter, m->topic, m->topic_len) == 0 &&
			    mt->filter[m->topic_len] == '\0';
			deliver_glog.qos = mt->qos;
			deliver_glog.rap = (mt->options & MQTT_SUBOPT_RAP) != 0;
			deliver_glog.sub_id = mt->sub_id;
			if (deliver_enqueue(mt->s, m, qos, retain, ids, n_ids,
			    mt->share, ctx.from_link ?
			    bridge_link_peer(publisher) : NULL,
			    ctx.from_link ? NULL : publisher)) {
				delivered++;
				if (session_cl(mt->s)->split &&
				    mt->s->persistent &&
				    !ctx.from_link)
					bridge_had(mt->s);
			}
			deliver_glog.ok = 0;
		}
	}
	glog_route_end();
	deliver_from_link = 0;
	if (bridge_on() && !ctx.from_link)
		delivered += bridge_forward(m, delivered == 0);
	return delivered;
}

void
deliver_settle(struct msg *m, int stored)
{
	size_t i;

	m->settling = 0;
	if (stored && srv.store != NULL) {
		m->hold_gen = srv.batch_gen + 1;
		persist_hold(m);
	}
	/* The sessions the routing just went to, other nodes' forward
	 * queues included (matches is intact until the next routing). */
	for (i = 0; i < n_matches; i++) {
		if (i == 0 || matches[i].s != matches[i - 1].s)
			deliver_pump(matches[i].s);
	}
}

static struct delivery *
deliver_find(struct session *s, uint16_t id)
{
	struct delivery *d;

	TAILQ_FOREACH(d, &s->inflight, entry) {
		if (d->packet_id == id)
			return d;
	}
	return NULL;
}

static void
deliver_done(struct session *s, struct delivery *d)
{
	TAILQ_REMOVE(&s->inflight, d, entry);
	s->n_inflight--;
	deliver_drop(s, d);
	deliver_pump(s);
}

int
deliver_puback(struct session *s, uint16_t id)
{
	struct delivery *d = deliver_find(s, id);

	if (d == NULL || d->qos != 1)
		return MQTT_RC_PACKET_ID_NOT_FOUND;
	receipt_acked(s, d->msg);
	deliver_done(s, d);
	return 0;
}

int
deliver_pubrec(struct session *s, uint16_t id, uint8_t reason)
{
	struct delivery *d = deliver_find(s, id);
	struct mqtt_packet pkt;

	if (d == NULL || d->qos != 2)
		return MQTT_RC_PACKET_ID_NOT_FOUND;
	if (reason >= 0x80) {
		/* The receiver refused it: the flow ends here (4.3.3). */
		deliver_done(s, d);
		return 0;
	}
	/* The client has it: a receipt once, at the move to released (a
	 * PUBREC again finds it released: the state moves with the session
	 * and is stored in the commit that stores the receipt). */
	if (d->state == DELIVERY_SENT)
		receipt_acked(s, d->msg);
	d->state = DELIVERY_RELEASED;
	persist_state(s, d, DELIVERY_RELEASED);
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PUBREL;
	pkt.flags = 0x02;
	pkt.u.ack.packet_id = id;
	/* PUBREL only once "PUBREC received" is on disk: the receiver
	 * forgets the message at PUBREL, so after a crash this node must
	 * resend PUBREL, never the PUBLISH (exactly once). */
	gate_ack(s->conn, &pkt, NULL);
	return 0;
}

int
deliver_pubcomp(struct session *s, uint16_t id)
{
	struct delivery *d = deliver_find(s, id);

	if (d == NULL || d->state != DELIVERY_RELEASED)
		return MQTT_RC_PACKET_ID_NOT_FOUND;
	deliver_done(s, d);
	return 0;
}

void
deliver_resume(struct session *s)
{
	struct delivery_list old;
	struct delivery *d;
	struct mqtt_packet pkt;
	uint16_t window = deliver_window(s), sent = 0;

	/* Take the in-flight list apart and rebuild it in order. */
	TAILQ_INIT(&old);
	TAILQ_CONCAT(&old, &s->inflight, entry);
	s->n_inflight = 0;
	while ((d = TAILQ_FIRST(&old)) != NULL) {
		TAILQ_REMOVE(&old, d, entry);
		if (d->state == DELIVERY_RELEASED) {
			memset(&pkt, 0, sizeof pkt);
			pkt.type = MQTT_PUBREL;
			pkt.flags = 0x02;
			pkt.u.ack.packet_id = d->packet_id;
			conn_send(s->conn, &pkt);
		} else if (sent >= window) {
			/* The new connection allows fewer in flight
			 * (MQTT-3.3.4-9): the rest wait at the head of the
			 * queue, in order, and go out again with DUP. */
			d->dup = 1;
			deliver_requeue_head(s, d);
			continue;
		} else if (!deliver_acl_ok(s, d)) {
			events_dropped(s, d->msg, EVENTS_DROP_NOT_AUTHORIZED);
			deliver_drop(s, d);
			continue;
		} else if (deliver_send(s, d->msg, d->qos, d->retain, 1,
		    d->packet_id, delivery_sub_ids(d), d->n_sub_ids) != 0) {
			events_dropped(s, d->msg, EVENTS_DROP_TOO_LARGE);
			deliver_drop(s, d);
			continue;
		}
		deliver_inflight_add(s, d);
		sent++;
	}
	persist_load_queue(s);
	deliver_pump(s);
}

void
deliver_free_all(void)
{
	free(matches);
	matches = NULL;
	n_matches = cap_matches = 0;
	delivery_pool_clear();
}

/*
 * Shared subscriptions (MQTT 5.0 section 4.8.2): when a member's
 * connection goes, the messages the group gave it and that it has not
 * started to receive (queued), or got at QoS 1 without acknowledging,
 * go to another connected member of the group. A QoS 2 message already
 * sent stays: its delivery must be completed to the same client
 * (MQTT-4.8.2-4, -5). With no other member connected, they stay.
 */
static struct session *
deliver_other_member(struct session *s, const struct delivery *d,
    uint8_t *qos, uint32_t *sub_id)
{
	struct route_ctx ctx = { s, d->share, NULL, 0 };
	struct session *to = NULL;

	n_matches = 0;
	trie_match(srv.subs, d->msg->topic, d->msg->topic_len,
	    deliver_match_cb, &ctx);
	if (n_matches > 0 && matches[0].s != s &&
	    session_cl(matches[0].s)->peer == NULL &&
	    deliver_online(matches[0].s)) {
		to = matches[0].s;
		*qos = matches[0].qos < d->msg->qos ? matches[0].qos :
		    d->msg->qos;
		*sub_id = matches[0].sub_id;
	}
	return to;
}

static void
deliver_move_list(struct session *s, struct delivery_list *list, int queued)
{
	struct delivery *d, *next;
	struct session *to;
	uint32_t sub_id;
	uint8_t qos;

	for (d = TAILQ_FIRST(list); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->share == NULL ||
		    (!queued && (d->qos != 1 || d->state != DELIVERY_SENT)))
			continue;
		to = deliver_other_member(s, d, &qos, &sub_id);
		if (to == NULL)
			continue;
		TAILQ_REMOVE(list, d, entry);
		if (queued)
			s->n_queued--;
		else
			s->n_inflight--;
		if (d == session_du(s)->disk_tail)
			session_durable(s)->disk_tail = NULL;
		deliver_enqueue(to, d->msg, qos, d->retain, &sub_id,
		    sub_id != 0, d->share, NULL, NULL);
		deliver_drop(s, d);
	}
}

void
deliver_requeue_shared(struct session *s)
{
	deliver_move_list(s, &s->inflight, 0);
	deliver_move_list(s, &s->queue, 1);
}

int
topic_depth_ok(const uint8_t *topic, uint32_t len)
{
	uint32_t levels = 1;
	const uint8_t *p = topic, *end = topic + len;

	if (len > srv.cfg.max_topic_length)
		return 0;
	while ((p = memchr(p, '/', (size_t)(end - p))) != NULL) {
		if (++levels > srv.cfg.max_topic_levels)
			return 0;
		p++;
	}
	return levels <= srv.cfg.max_topic_levels;
}
