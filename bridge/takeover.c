/*
 * takeover.c - one client id, one node: the claim, and the session moving
 * to the node the client connected to.
 *
 * Claim: a client CONNECTs to node B. Before answering, B sends
 * "$cluster/claim" to every node whose link is up, and holds the CONNECT
 * (reads paused) until each has answered, or cluster_sync_timeout (30 s
 * once a session is on its way). A node P that gets the claim:
 *   - closes the client's connection there, if any (DISCONNECT 0x8E);
 *   - with no session for the id, or when the CONNECT asks for a clean
 *     start (the session is then deleted), answers "$cluster/claimed";
 *   - else moves the session to B: "$cluster/session" (its subscriptions,
 *     expiry, QoS 2 ids and queue numbering), then each queued and
 *     in-flight message in order, then "$cluster/session-end", and the
 *     session is gone from P.
 * The session travels in P's forward queue to B (QoS 1, in the store), so
 * it is ordered, and a message leaves P's session in the same store commit
 * that puts it in the forward queue: a crash of either node loses none of
 * it. Plain answers ("$cluster/claimed") go at once on the link, QoS 0:
 * a connect costs the other nodes no store write. B answers the CONNECT once every node has
 * answered, with Session Present when a session came.
 *
 * Moved messages are PUBLISHes of the original message with user
 * properties that B strips: "$tern/to" (client id), "$tern/seq" (its
 * position in the session's queue, kept: packet ids derive from it, so a
 * QoS 2 message in flight keeps its packet id), "$tern/qos", "$tern/flags"
 * ('r' retain, 'd' sent before: DUP, 'R' PUBREC received: PUBREL next) and
 * "$tern/subids". B puts them in the session by seq, ahead of anything
 * that arrived there meanwhile.
 *
 * Concurrent connects with one id on two nodes: each node gets the other's
 * claim while its own is open; the claim with the higher id (then node
 * name) wins, the other node refuses its client (CONNACK 0x8E), so one
 * session remains.
 *
 * The payloads of the "$cluster/" messages are built and parsed by
 * proto.c (layouts in proto.h); a malformed one is refused (0x81) before
 * anything of it is applied.
 */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "proto.h"

#define TOPIC_CLAIM "$cluster/claim"
#define TOPIC_CLAIMED "$cluster/claimed"
#define TOPIC_SESSION "$cluster/session"
#define TOPIC_SESSION_END "$cluster/session-end"
#define TOPIC_SEEN "$cluster/seen"
#define TOPIC_OWNER "$cluster/owner"
#define TOPIC_ROUTED "$cluster/routed"
#define MOVE_TIMEOUT_SECS 30
#define MOVE_SEQ_RESERVE (1u << 20)
#define MERGE_GONE 0 /* the link went first: the copy may still be there */
#define MERGE_HEARD 1 /* the node answered: given up, or its copy came */
#define MERGE_TIMEOUT 2 /* no answer in time */
/* How long a merge waits for a node it is split from to link again (a
 * healed partition brings its links back within the dial backoff). */
#define MERGE_WAIT_DOWN_MS 10000
#define MERGE_ANSWER_MS 10000
#define TERN_PROP_PREFIX "$tern/"

struct claim {
	TAILQ_ENTRY(claim) entry;
	uint64_t id;
	struct conn *c;
	char *client_id;
	size_t id_len;
	uint8_t *connect; /* the CONNECT, encoded again */
	struct peer **waiting;
	size_t n_waiting;
	struct event *timer; /* every BRIDGE_PING_MS until the deadline */
	struct timeval deadline;
	uint32_t split; /* nodes not heard: a copy may live there */
	uint32_t dialing; /* nodes whose link is being dialled for it */
	struct timeval dial_deadline;
	uint8_t *msg; /* the claim's payload, for those */
	size_t msg_len;
	uint8_t moving_in; /* a session is on its way */
	/* A merge claim (c NULL): asks merge_peer, for the split session
	 * client_id, to hand over its copy (see "Split sessions"). */
	uint8_t merge;
	uint8_t unsent; /* our link to merge_peer is not up yet */
	uint8_t waited; /* its copy is on its way, maybe through another */
	uint8_t other_copy; /* a copy came from another node meanwhile */
	uint8_t heard; /* MERGE_*: how it ended */
	struct peer *merge_peer;
};
TAILQ_HEAD(claim_list, claim);

static struct claim_list claims = TAILQ_HEAD_INITIALIZER(claims);
static uint64_t claim_counter;

/* What a moved message is for (bridge_msg_in parses it). */
static struct {
	int set;
	char *to;
	uint64_t seq;
	uint8_t qos;
	uint8_t retain, dup, released;
	uint32_t sub_ids[32];
	uint8_t n_sub_ids;
} target;

/* An answer to a claim, sent now on our link to p (QoS 0): it carries
 * nothing that must survive a crash, so it costs no store write; lost
 * with the link, the claimer stops waiting for p when the link goes. */
static void
send_now(struct peer *p, const char *topic, const uint8_t *payload,
    size_t len)
{
	struct mqtt_packet pkt;

	if (!bridge_peer_up(p))
		return;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PUBLISH;
	pkt.u.publish.topic.p = (const uint8_t *)topic;
	pkt.u.publish.topic.len = (uint32_t)strlen(topic);
	pkt.u.publish.payload.p = payload;
	pkt.u.publish.payload.len = (uint32_t)len;
	conn_send(p->out->conn, &pkt);
}

/* A control message for the forward queue of p (QoS 1): in order with
 * the moved messages, and kept in the store. */
static void
send_queued(struct peer *p, const char *topic, const uint8_t *payload,
    size_t len)
{
	struct mqtt_publish pub;
	struct msg *m;

	memset(&pub, 0, sizeof pub);
	pub.qos = 1;
	pub.payload.p = payload;
	pub.payload.len = (uint32_t)len;
	m = msg_from_publish(&pub, (const uint8_t *)topic,
	    (uint32_t)strlen(topic));
	deliver_to_session(p->out, m, 1, 0, NULL, 0);
	msg_unref(m);
}

/* A message of the session-end layout (claim id, client id) to p: now,
 * or queued. */
static void
send_end_form(struct peer *p, const char *topic, uint64_t claim_id,
    const char *id, size_t len, int queued)
{
	struct proto_session_end m;
	uint8_t *buf;
	size_t n;

	memset(&m, 0, sizeof m);
	m.claim_id = claim_id;
	m.client_id.p = (const uint8_t *)id;
	m.client_id.len = len;
	n = proto_session_end_len(&m);
	buf = xmalloc(n);
	proto_session_end_encode(&m, buf);
	if (queued)
		send_queued(p, topic, buf, n);
	else
		send_now(p, topic, buf, n);
	free(buf);
}

/* --- B: the node the client connected to --- */

/* The open claim id that waits for p's answer. (The merge claims of
 * one session share its id, one per node asked.) */
static struct claim *
claim_find(uint64_t id, const struct peer *p)
{
	struct claim *cl;
	size_t i;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->id != id)
			continue;
		for (i = 0; i < cl->n_waiting; i++) {
			if (cl->waiting[i] == p)
				return cl;
		}
	}
	return NULL;
}

/* The open claim of a CONNECT with this client id. */
static struct claim *
claim_find_id(const char *client_id, size_t len)
{
	struct claim *cl;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (!cl->merge && cl->id_len == len &&
		    memcmp(cl->client_id, client_id, len) == 0)
			return cl;
	}
	return NULL;
}

static struct claim *merge_find(const char *id, size_t len,
    const struct peer *p);

/* An open claim (a CONNECT's or a merge) of client id (id, len) that
 * waits for p. */
static struct claim *
claim_find_waiting(const char *id, size_t len, const struct peer *p)
{
	struct claim *cl;
	size_t i;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->id_len != len || memcmp(cl->client_id, id, len) != 0)
			continue;
		for (i = 0; i < cl->n_waiting; i++) {
			if (cl->waiting[i] == p)
				return cl;
		}
	}
	return NULL;
}
static void merge_end(struct claim *cl);

static void
merge_mark_copy(const char *id, size_t len, const struct peer *from)
{
	struct claim *cl;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->merge && cl->merge_peer != from && cl->id_len == len &&
		    memcmp(cl->client_id, id, len) == 0)
			cl->other_copy = 1;
	}
}

static struct claim *
merge_find_waited(const char *id, size_t len)
{
	struct claim *cl;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->merge && cl->waited && cl->id_len == len &&
		    memcmp(cl->client_id, id, len) == 0)
			return cl;
	}
	return NULL;
}
static void merge_refused(struct claim *cl, struct peer *p);

static void
claim_free(struct claim *cl)
{
	TAILQ_REMOVE(&claims, cl, entry);
	if (cl->c != NULL)
		conn_aux(cl->c)->claim = NULL;
	event_free(cl->timer);
	free(cl->waiting);
	free(cl->connect);
	free(cl->client_id);
	free(cl->msg);
	free(cl);
}

/* Every node has answered (or the time is up): answer the CONNECT. */
static void
claim_done(struct claim *cl)
{
	struct conn *c = cl->c;
	uint8_t *buf = cl->connect;
	uint64_t id = cl->id;
	uint32_t split = cl->split;
	int rc;

	if (cl->merge) {
		merge_end(cl);
		return;
	}
	cl->connect = NULL;
	claim_free(cl);
	if (c == NULL || c->state != CONN_NEW) {
		free(buf);
		return;
	}
	conn_aux(c)->claimed = 1;
	conn_aux(c)->claim_won = id;
	conn_aux(c)->claim_split = split;
	rc = connect_rerun(c, buf);
	free(buf);
	if (rc != 0) {
		conn_close(c, (uint8_t)rc, "CONNECT refused");
		return;
	}
	conn_unblock(c, BLOCK_CLAIM);
}

static void
claim_answered(struct claim *cl, struct peer *p)
{
	size_t i;

	for (i = 0; i < cl->n_waiting; i++) {
		if (cl->waiting[i] == p) {
			cl->waiting[i] = cl->waiting[--cl->n_waiting];
			break;
		}
	}
	if (cl->n_waiting == 0 && cl->dialing == 0)
		claim_done(cl);
}

/* Another node's concurrent connect with this id won: refuse ours. */
static void
claim_lost(struct claim *cl, struct peer *winner)
{
	struct conn *c = cl->c;

	if (cl->merge) {
		merge_refused(cl, winner);
		return;
	}
	log_notice("client %s connected to %s at the same time: refused here",
	    cl->client_id, winner->name);
	claim_free(cl);
	if (c != NULL && c->state == CONN_NEW) {
		handle_connect_refuse(c, c->version,
		    MQTT_RC_SESSION_TAKEN_OVER);
		conn_close(c, MQTT_RC_SESSION_TAKEN_OVER,
		    "taken over by another node");
	}
}

/* The session of the claimed client id on node p belongs to another
 * user (session_owner_only): the CONNECT is refused, as it would be on
 * p. */
static void
claim_not_owner(struct claim *cl, struct peer *p)
{
	struct conn *c = cl->c;

	log_notice("client %s refused: its session on %s belongs to another "
	    "user (session_owner_only)", cl->client_id, p->name);
	claim_free(cl);
	if (c != NULL && c->state == CONN_NEW) {
		handle_connect_refuse(c, c->version, MQTT_RC_NOT_AUTHORIZED);
		conn_close(c, MQTT_RC_NOT_AUTHORIZED, "not the session's "
		    "owner");
	}
}

void
bridge_claims_peer_gone(struct peer *p)
{
	struct claim *cl, *next;
	size_t i;

	for (cl = TAILQ_FIRST(&claims); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		for (i = 0; i < cl->n_waiting; i++) {
			if (cl->waiting[i] == p) {
				if (!cl->merge)
					log_warn("takeover of %s: the link to "
					    "%s went; not waiting for it",
					    cl->client_id, p->name);
				cl->split |= bridge_peer_bit(p);
				claim_answered(cl, p);
				break;
			}
		}
	}
}

/* cl waits for p's answer too. */
static void
claim_wait(struct claim *cl, struct peer *p)
{
	cl->waiting = xreallocarray(cl->waiting, cl->n_waiting + 1,
	    sizeof *cl->waiting);
	cl->waiting[cl->n_waiting++] = p;
}

/* Wait for answers until ms from now; the timer also looks at the
 * nodes waited for every BRIDGE_PING_MS (claim_timeout_cb). */
static void
claim_arm(struct claim *cl, uint32_t ms)
{
	struct timeval now, tv;

	event_base_gettimeofday_cached(srv.base, &now);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	timeradd(&now, &tv, &cl->deadline);
	if (ms > BRIDGE_PING_MS) {
		tv.tv_sec = 0;
		tv.tv_usec = BRIDGE_PING_MS * 1000;
	}
	evtimer_add(cl->timer, &tv);
}

static void
claim_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct claim *cl = arg;
	struct timeval now, left;
	char names[256];
	size_t i, off = 0;

	event_base_gettimeofday_cached(srv.base, &now);
	if (cl->dialing != 0 && !timercmp(&now, &cl->dial_deadline, <)) {
		/* Not linked in time: they stay in split. */
		cl->dialing = 0;
		if (cl->n_waiting == 0) {
			claim_done(cl);
			return;
		}
	}
	if (timercmp(&now, &cl->deadline, <)) {
		/* A node that stopped answering its link is not waited
		 * for: it gets the claim when it wakes, and gives up or
		 * sends the session then (it merges here). */
		for (i = cl->n_waiting; !cl->merge && i-- > 0;) {
			if (!bridge_peer_live(cl->waiting[i])) {
				log_warn("takeover of %s: %s is silent; not "
				    "waiting for it", cl->client_id,
				    cl->waiting[i]->name);
				cl->split |= bridge_peer_bit(cl->waiting[i]);
				/* The last one: the claim is over, unless a
				 * dial is still awaited. */
				if (cl->n_waiting == 1 && cl->dialing == 0) {
					claim_answered(cl, cl->waiting[i]);
					return;
				}
				claim_answered(cl, cl->waiting[i]);
			}
		}
		timersub(&cl->deadline, &now, &left);
		if (left.tv_sec > 0 || left.tv_usec > BRIDGE_PING_MS * 1000) {
			left.tv_sec = 0;
			left.tv_usec = BRIDGE_PING_MS * 1000;
		}
		evtimer_add(cl->timer, &left);
		return;
	}
	names[0] = '\0';
	for (i = 0; i < cl->n_waiting && off < sizeof names - 70; i++) {
		off += (size_t)snprintf(names + off, sizeof names - off,
		    "%s%s", i ? ", " : "", cl->waiting[i]->name);
		cl->split |= bridge_peer_bit(cl->waiting[i]);
	}
	log_warn("%s of %s: no answer from %s in time; going on",
	    cl->merge ? "merge" : "takeover", cl->client_id, names);
	cl->heard = cl->unsent ? MERGE_GONE : MERGE_TIMEOUT;
	claim_done(cl);
}

/* Claim ids grow with time, so that the later of two connects wins a
 * race; the counter tells apart claims of one millisecond. */
static uint64_t
claim_new_id(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000) <<
	    16 | (++claim_counter & 0xffff);
}

int
bridge_claim(struct conn *c, const struct mqtt_packet *pkt,
    const char *user, size_t ulen)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	struct mqtt_packet out;
	struct claim *cl;
	struct peer *p;
	struct proto_claim m;
	uint8_t *buf;
	size_t i, len, n_up = 0;
	uint64_t id;
	uint32_t dialing = 0;
	struct timeval now, dial_wait = { BRIDGE_CLAIM_DIAL_MS / 1000,
	    BRIDGE_CLAIM_DIAL_MS % 1000 * 1000 };

	if (!bridge_on())
		return 0;
	/* A node not heard may hold a copy of the session. One whose link
	 * is down is dialled now rather than when its backoff says, and
	 * waited for BRIDGE_CLAIM_DIAL_MS: if it is back, it is claimed from. */
	conn_aux(c)->claim_split = 0;
	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		if (bridge_peer_up(p))
			n_up++;
		else {
			conn_aux(c)->claim_split |= bridge_peer_bit(p);
			/* (Nodes from index 31 on share a bit: not
			 * waited for.) */
			if (p->index < 31 && bridge_dial_now(p))
				dialing |= bridge_peer_bit(p);
		}
	}
	/* Alone, the connect still gets its claim id: it orders this copy
	 * of the session against one made elsewhere meanwhile. */
	id = claim_new_id();
	conn_aux(c)->claim_won = id;
	if (n_up == 0 && dialing == 0)
		return 0;
	/* Every node linked is told; only those that answer their link
	 * are waited for: a node up but silent (stalled, or behind a link
	 * that carries nothing) gets the claim when it wakes, and gives up
	 * the id then (its copy of the session moves here and merges), so
	 * a CONNECT never waits on a node that is not there. */
	m.claim_id = id;
	m.flags = cp->clean_start ? PROTO_CLAIM_CLEAN : 0;
	m.client_id.p = cp->client_id.p;
	m.client_id.len = cp->client_id.len;
	/* Who connects: a session of another user stays where it is
	 * (session_owner_only). User names come from packets (65535 bytes
	 * at most). */
	m.flags |= user != NULL ? PROTO_CLAIM_USER : PROTO_CLAIM_ANON;
	m.user.p = (const uint8_t *)user;
	m.user.len = user != NULL ? ulen : 0;
	len = proto_claim_len(&m);
	buf = xmalloc(len);
	proto_claim_encode(&m, buf);
	memset(&out, 0, sizeof out);
	out.type = MQTT_PUBLISH;
	out.u.publish.topic.p = (const uint8_t *)TOPIC_CLAIM;
	out.u.publish.topic.len = sizeof TOPIC_CLAIM - 1;
	out.u.publish.payload.p = buf;
	out.u.publish.payload.len = (uint32_t)len;
	cl = xcalloc(1, sizeof *cl);
	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		if (!bridge_peer_up(p))
			continue;
		conn_send(p->out->conn, &out);
		if (!bridge_peer_live(p)) {
			log_warn("takeover of %.*s: %s is silent; not waiting "
			    "for it", (int)cp->client_id.len,
			    (const char *)cp->client_id.p, p->name);
			conn_aux(c)->claim_split |= bridge_peer_bit(p);
			continue;
		}
		claim_wait(cl, p);
	}
	if (cl->n_waiting == 0 && dialing == 0) {
		free(buf);
		free(cl);
		return 0;
	}
	if (dialing != 0) {
		cl->dialing = dialing;
		cl->msg = buf;
		cl->msg_len = len;
		event_base_gettimeofday_cached(srv.base, &now);
		timeradd(&now, &dial_wait, &cl->dial_deadline);
	} else
		free(buf);
	cl->id = id;
	cl->c = c;
	cl->split = conn_ax(c)->claim_split;
	cl->client_id = xstrndup((const char *)cp->client_id.p,
	    cp->client_id.len);
	cl->id_len = cp->client_id.len;
	cl->connect = connect_keep(pkt);
	cl->timer = evtimer_new(srv.base, claim_timeout_cb, cl);
	claim_arm(cl, srv.cfg.cluster_sync_timeout);
	TAILQ_INSERT_TAIL(&claims, cl, entry);
	conn_aux(c)->claim = cl;
	/* Nothing else is parsed until the CONNECT is answered (block.c),
	 * and the CONNECT timeout no longer applies: the claim's does. */
	conn_block(c, BLOCK_CLAIM);
	wheel_del(c);
	log_debug("claiming %s from %zu nodes%s", cl->client_id,
	    cl->n_waiting, dialing != 0 ? ", dialling the others" : "");
	return 1;
}

void
bridge_claims_link_up(struct peer *p)
{
	struct claim *cl;
	uint32_t bit = bridge_peer_bit(p);

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->merge || !(cl->dialing & bit))
			continue;
		cl->dialing &= ~bit;
		send_now(p, TOPIC_CLAIM, cl->msg, cl->msg_len);
		cl->split &= ~bit;
		claim_wait(cl, p);
		log_debug("claiming %s from %s too, linked again",
		    cl->client_id, p->name);
	}
}

void
bridge_claims_dial_failed(struct peer *p)
{
	struct claim *cl, *next;
	uint32_t bit = bridge_peer_bit(p);

	for (cl = TAILQ_FIRST(&claims); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		if (cl->merge || !(cl->dialing & bit))
			continue;
		cl->dialing &= ~bit;
		if (cl->n_waiting == 0 && cl->dialing == 0)
			claim_done(cl);
	}
}

void
bridge_claim_gone(struct conn *c)
{
	struct claim *cl = conn_ax(c)->claim;

	/* The client left before its answer: what is moving still comes
	 * (the session lives here now), nobody is answered. */
	cl->c = NULL;
	conn_aux(c)->claim = NULL;
}

/* "$cluster/session": a session is coming from p. */
static int
session_in(struct peer *p, const uint8_t *d, size_t len)
{
	struct proto_session m;
	struct proto_sub sub;
	struct proto_iter it;
	struct claim *cl;
	struct session *s;
	struct peer *relay;
	const char *client_id;
	uint16_t pid;
	int rc;

	if (proto_session_decode(d, len, &m) != 0)
		return MQTT_RC_MALFORMED;
	proto_session_subs(&m, &it);
	while ((rc = proto_session_sub_next(&it, &sub)) == 1) {
		if (!mqtt_topic_filter_valid(sub.filter.p, sub.filter.len))
			return MQTT_RC_MALFORMED;
	}
	if (rc != 0)
		return MQTT_RC_MALFORMED;
	client_id = (const char *)m.client_id.p;
	s = session_find(client_id, m.client_id.len);
	relay = NULL;
	if (s == NULL && claim_find(m.claim_id, p) == NULL &&
	    (relay = bridge_tombstone_to(client_id, m.client_id.len)) == p)
		relay = NULL;
	if (s == NULL) {
		s = session_new(client_id, m.client_id.len);
		if (relay != NULL) {
			/* A copy sent for a claim of ours that is over, to a
			 * session that has left for `relay` since (a node
			 * that was silent answered late): it goes on there
			 * when it is all here (move_in_done), and merges. */
			session_cluster(s)->claim_from = relay;
			session_cluster(s)->claim_id = m.claim_id;
			session_cluster(s)->claim_flags = 0;
			log_notice("session %s: a late copy from %s goes on to "
			    "%s", s->client_id, p->name, relay->name);
		}
	} else if (s->next_seq > 1 || s->conn != NULL) {
		/* It lives here already (its claim timed out, or a
		 * partition healed): what comes is added after what it
		 * has, numbered anew, so that no queue position is used
		 * twice. */
		session_cluster(s)->move_renumber = 1;
		deliver_seen_widen(s);
	}
	session_cluster(s)->moving_in |= bridge_peer_bit(p);
	/* Positions of this move, not of an earlier one. */
	session_cluster(s)->moved_seq = 0;
	s->persistent = 1;
	s->expiry = m.expiry;
	if (session_du(s)->expiry_timer != NULL && s->conn == NULL)
		evtimer_del(session_du(s)->expiry_timer);
	if (m.next_seq > s->next_seq)
		s->next_seq = m.next_seq;
	/* The other copy's positions are not ours in a merge: its sent
	 * mark would make what this copy never sent look sent (DUP), and
	 * a message the client had from the other copy would then be sent
	 * again rather than dropped. Its sent messages say so one by one
	 * ('d', bridge_deliver_target). */
	if (!session_cl(s)->move_renumber && m.sent_max > s->sent_max_seq)
		s->sent_max_seq = m.sent_max;
	persist_session(s);
	proto_session_subs(&m, &it);
	while (proto_session_sub_next(&it, &sub) == 1)
		session_subscribe(s, (const char *)sub.filter.p,
		    (uint32_t)sub.filter.len, sub.options, sub.sub_id);
	proto_session_qos2(&m, &it);
	while (proto_session_qos2_next(&it, &pid) == 1) {
		if (!session_qos2_has(s, pid))
			session_qos2_add(s, pid);
	}
	log_notice("session %s moving here from %s", s->client_id, p->name);
	cl = claim_find(m.claim_id, p);
	if (cl != NULL) {
		cl->moving_in = 1;
		claim_arm(cl, MOVE_TIMEOUT_SECS * 1000);
	}
	return 0;
}

/* "$cluster/owner": whose the session moving in from p is. A copy here
 * whose user is known keeps it (a merge of two copies of one owner). */
static int
owner_in(struct peer *p, const uint8_t *d, size_t len)
{
	struct proto_claim m;
	struct session *s;

	if (proto_claim_decode(d, len, &m) != 0 || m.client_id.len == 0 ||
	    !(m.flags & (PROTO_CLAIM_USER | PROTO_CLAIM_ANON)))
		return MQTT_RC_MALFORMED;
	s = session_find((const char *)m.client_id.p, m.client_id.len);
	if (s == NULL || (session_cl(s)->moving_in & bridge_peer_bit(p)) == 0 ||
	    (s->user_known && session_cl(s)->move_renumber))
		return 0;
	if (m.flags & PROTO_CLAIM_USER)
		session_set_user(s, (const char *)m.user.p, m.user.len);
	else
		session_set_user(s, NULL, 0);
	persist_session(s);
	return 0;
}

/* "$cluster/seen": what the session moving in from p had. What a copy
 * already here holds of it is the other copy's to deliver no more. */
static int
seen_in(struct peer *p, const uint8_t *d, size_t len)
{
	struct proto_seen m;
	struct session *s;
	uint32_t i;

	if (proto_seen_decode(d, len, &m) != 0 || m.client_id.len == 0)
		return MQTT_RC_MALFORMED;
	s = session_find((const char *)m.client_id.p, m.client_id.len);
	/* Its move is open (the notes are kept per node: two copies may
	 * be moving in at once). */
	if (s == NULL || (session_cl(s)->moving_in & bridge_peer_bit(p)) == 0)
		return 0;
	for (i = 0; i < m.n; i++)
		deliver_seen_away(s, proto_seen_mix(&m, i), p);
	return 0;
}

/*
 * The route hand-over (make before break): a session that came here from
 * p left p a forwarding address that holds p's routes for it
 * (tombstone.c). Once every node we know has applied our route version
 * of the session's arrival (bridge_routes_all_acked: a node whose link
 * is down or silent too, since it may still route by p's routes), or
 * after HANDOVER_MAX_MS, "$cluster/routed" (claim id, client id: the
 * session-end layout) tells p to let them go. Only on a link of
 * protocol 2.
 */
#define HANDOVER_MAX_MS 30000

struct handover {
	struct peer *to;
	uint64_t claim_id, version;
	struct timeval since;
	char *client_id;
	size_t len;
};

static struct handover *handovers;
static size_t n_handovers, cap_handovers;
static struct event *handover_timer;

static void
handover_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	bridge_handover_check();
}

void
bridge_handover_check(void)
{
	struct timeval now, age;
	struct timeval tv = { 0, BRIDGE_PING_MS * 1000 };
	struct handover *h;
	size_t i;
	int ready;

	event_base_gettimeofday_cached(srv.base, &now);
	for (i = 0; i < n_handovers;) {
		h = &handovers[i];
		timersub(&now, &h->since, &age);
		ready = bridge_routes_all_acked(h->version);
		if (!ready && age.tv_sec * 1000 + age.tv_usec / 1000 <
		    HANDOVER_MAX_MS) {
			i++;
			continue;
		}
		if (bridge_peer_up(h->to) &&
		    conn_ax(h->to->out->conn)->link_proto >= 2) {
			send_end_form(h->to, TOPIC_ROUTED, h->claim_id,
			    h->client_id, h->len, 0);
		}
		free(h->client_id);
		*h = handovers[--n_handovers];
	}
	if (n_handovers == 0 || srv.base == NULL)
		return;
	if (handover_timer == NULL)
		handover_timer = evtimer_new(srv.base, handover_timer_cb, NULL);
	/* Liveness changes with time: a node that fell silent is not
	 * waited for any more. */
	if (!evtimer_pending(handover_timer, NULL))
		evtimer_add(handover_timer, &tv);
}

/* The session id came here whole from p (claim id): hand p's routes
 * over when ours are applied. */
static void
handover_add(struct peer *p, uint64_t claim_id, const char *id, size_t len)
{
	struct handover *h;

	/* A node of protocol 1 holds its routes a fixed time. */
	if (p->link_in == NULL || conn_ax(p->link_in)->link_proto < 2)
		return;
	if (n_handovers == cap_handovers) {
		cap_handovers = cap_handovers ? cap_handovers * 2 : 8;
		handovers = xreallocarray(handovers, cap_handovers,
		    sizeof *handovers);
	}
	h = &handovers[n_handovers++];
	h->to = p;
	h->claim_id = claim_id;
	h->version = bridge_route_version();
	event_base_gettimeofday_cached(srv.base, &h->since);
	h->client_id = xmalloc(len + 1);
	memcpy(h->client_id, id, len);
	h->client_id[len] = '\0';
	h->len = len;
	bridge_handover_check();
}

static int claim_in(struct peer *from, const uint8_t *d, size_t len);
static void claim_take(struct peer *from, const struct proto_claim *m);

/* A move into s (client id id) from p has ended: a claim that waited for
 * it is answered now. */
static void
move_in_done(struct peer *p, const char *id, size_t len)
{
	struct session *s = session_find(id, len);
	struct proto_claim m;
	struct peer *from;

	if (s == NULL)
		return;
	deliver_seen_settle(s, p);
	if ((session_cl(s)->moving_in & bridge_peer_bit(p)) == 0)
		return;
	/* Another copy still moving in: the merge is not over (its moved
	 * messages are still numbered anew, and the queue waits). */
	session_cluster(s)->moving_in &= ~bridge_peer_bit(p);
	if (session_cl(s)->moving_in != 0)
		return;
	session_cluster(s)->move_renumber = 0;
	deliver_pump(s);
	if ((from = session_cl(s)->claim_from) == NULL)
		return;
	session_cluster(s)->claim_from = NULL;
	memset(&m, 0, sizeof m);
	m.claim_id = session_cl(s)->claim_id;
	m.flags = session_cl(s)->claim_flags;
	m.client_id.p = (const uint8_t *)id;
	m.client_id.len = len;
	claim_take(from, &m);
}

int
bridge_takeover_in(struct conn *c, const struct mqtt_publish *pub)
{
	struct peer *p = conn_ax(c)->link_ctx;
	const uint8_t *d = pub->payload.p;
	size_t len = pub->payload.len, tl = pub->topic.len;
	struct proto_claimed claimed;
	struct proto_session_end end;
	struct session *s;
	struct claim *cl;
	int rc = 0;

	if (tl == sizeof TOPIC_CLAIM - 1 &&
	    memcmp(pub->topic.p, TOPIC_CLAIM, tl) == 0)
		return claim_in(p, d, len);
	if (tl == sizeof TOPIC_CLAIMED - 1 &&
	    memcmp(pub->topic.p, TOPIC_CLAIMED, tl) == 0) {
		if (proto_claimed_decode(d, len, &claimed) != 0)
			return MQTT_RC_MALFORMED;
		/* A CONNECT's claim and a merge claim may share an id (the
		 * merge asks with the id its client connected with): the
		 * echoed flag tells which one is answered. */
		if ((cl = claim_find(claimed.claim_id, p)) == NULL ||
		    cl->merge != !!(claimed.flags & PROTO_CLAIM_MERGE))
			return 0;
		if (claimed.answer == PROTO_CLAIMED_WAIT) {
			if (cl->merge && cl->other_copy) {
				/* Its copy went on through another node,
				 * and came (session_in relays it). */
				cl->heard = MERGE_HEARD;
				claim_answered(cl, p);
				return 0;
			}
			cl->waited = cl->merge;
			claim_arm(cl, MOVE_TIMEOUT_SECS * 1000);
			return 0;
		}
		if (claimed.answer == PROTO_CLAIMED_REFUSED) {
			claim_lost(cl, p);
			return 0;
		}
		if (claimed.answer == PROTO_CLAIMED_NOT_OWNER && !cl->merge) {
			claim_not_owner(cl, p);
			return 0;
		}
		cl->heard = MERGE_HEARD;
		claim_answered(cl, p);
		return 0;
	}
	if (tl == sizeof TOPIC_SESSION - 1 &&
	    memcmp(pub->topic.p, TOPIC_SESSION, tl) == 0)
		return session_in(p, d, len);
	if (tl == sizeof TOPIC_SEEN - 1 &&
	    memcmp(pub->topic.p, TOPIC_SEEN, tl) == 0)
		return seen_in(p, d, len);
	if (tl == sizeof TOPIC_OWNER - 1 &&
	    memcmp(pub->topic.p, TOPIC_OWNER, tl) == 0)
		return owner_in(p, d, len);
	if (tl == sizeof TOPIC_SESSION_END - 1 &&
	    memcmp(pub->topic.p, TOPIC_SESSION_END, tl) == 0) {
		if (proto_session_end_decode(d, len, &end) != 0)
			return MQTT_RC_MALFORMED;
		log_notice("session %.*s moved here from %s",
		    (int)end.client_id.len, (const char *)end.client_id.p,
		    p->name);
		/* What the copy from p had is settled before the claim is
		 * answered: the client's resume pumps the queue at once. */
		if ((s = session_find((const char *)end.client_id.p,
		    end.client_id.len)) != NULL)
			deliver_seen_settle(s, p);
		if ((cl = claim_find(end.claim_id, p)) != NULL) {
			cl->heard = MERGE_HEARD;
			claim_answered(cl, p);
		}
		/* p's copy is here: whatever else asked p for it is answered
		 * too (p moved it for another claim, and told those to
		 * wait). */
		while ((cl = claim_find_waiting((const char *)end.client_id.p,
		    end.client_id.len, p)) != NULL) {
			cl->heard = MERGE_HEARD;
			claim_answered(cl, p);
		}
		/* A merge told to wait may get its copy through another node
		 * (session_in): a copy that arrives answers it, and one that
		 * comes before the "wait" does when that comes. */
		while ((cl = merge_find_waited((const char *)end.client_id.p,
		    end.client_id.len)) != NULL) {
			cl->heard = MERGE_HEARD;
			claim_answered(cl, cl->merge_peer);
		}
		merge_mark_copy((const char *)end.client_id.p,
		    end.client_id.len, p);
		move_in_done(p, (const char *)end.client_id.p,
		    end.client_id.len);
		if (s != NULL)
			handover_add(p, end.claim_id,
			    (const char *)end.client_id.p, end.client_id.len);
		return 0;
	}
	if (tl == sizeof TOPIC_ROUTED - 1 &&
	    memcmp(pub->topic.p, TOPIC_ROUTED, tl) == 0) {
		if (proto_session_end_decode(d, len, &end) != 0)
			return MQTT_RC_MALFORMED;
		bridge_tombstone_routed(p, end.claim_id,
		    (const char *)end.client_id.p, end.client_id.len);
		return 0;
	}
	return rc - 1;
}

/* --- P: the node that had the session --- */

/* m for one session on another node: m with the "$tern/" properties
 * that say so (seq 0: a new message for it, not a moved one), for the
 * forward queue of that node. */
static struct msg *
target_msg(const struct session *s, struct msg *m, uint64_t seq,
    uint8_t qos, const char *flags, const uint32_t *sid, uint8_t n_sid)
{
	uint8_t *buf, *u;
	char num[32], ids[32 * 11];
	size_t i, off = 0;
	struct msg *mm;

	ids[0] = '\0';
	for (i = 0; i < n_sid && i < 32; i++)
		off += (size_t)snprintf(ids + off, sizeof ids - off, "%s%u",
		    i ? "," : "", sid[i]);
	buf = u = xmalloc(5 * 40 + s->id_len + off + 64);
	u = bridge_put_user(u, TERN_PROP_PREFIX "to", s->client_id, s->id_len);
	snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
	u = bridge_put_user(u, TERN_PROP_PREFIX "seq", num, strlen(num));
	snprintf(num, sizeof num, "%u", qos);
	u = bridge_put_user(u, TERN_PROP_PREFIX "qos", num, strlen(num));
	u = bridge_put_user(u, TERN_PROP_PREFIX "flags", flags, strlen(flags));
	if (off > 0)
		u = bridge_put_user(u, TERN_PROP_PREFIX "subids", ids, off);
	mm = msg_with_user(m, buf, (uint32_t)(u - buf));
	mm->retain = 0;
	free(buf);
	return mm;
}

/* Hand d of s to the node s is moving to. */
static void
move_one(struct session *s, struct delivery *d)
{
	char flags[4];
	size_t fl = 0;
	struct msg *m;

	if (d->retain)
		flags[fl++] = 'r';
	if (d->dup || d->state == DELIVERY_SENT)
		flags[fl++] = 'd';
	if (d->state == DELIVERY_RELEASED)
		flags[fl++] = 'R';
	flags[fl] = '\0';
	m = target_msg(s, d->msg, d->seq, d->qos, flags,
	    d->n_sub_ids > 1 ? d->sub_ids : &d->sub_id, d->n_sub_ids);
	deliver_to_session(session_cl(s)->moving->out, m, 1, 0, NULL, 0);
	msg_unref(m);
	deliver_drop(s, d);
}

/* d of s, unsent, was delivered by another copy of s (a merge whose
 * queue had not gone on yet): not moved, dropped. */
static int
move_had(struct session *s, struct delivery *d)
{
	if (!deliver_had_elsewhere(s, d))
		return 0;
	deliver_drop(s, d);
	return 1;
}

void
bridge_redirect(struct session *s, struct peer *to, struct msg *m,
    uint8_t qos, uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids)
{
	struct msg *mm;

	mm = target_msg(s, m, 0, qos, retain ? "r" : "", sub_ids, n_sub_ids);
	deliver_to_session(to->out, mm, 1, 0, NULL, 0);
	msg_unref(mm);
}

void
bridge_move_pump(struct session *s)
{
	struct delivery *d;
	struct peer *to = session_cl(s)->moving;

	/* In seq order across both lists (a message past PUBREC read back
	 * from the store is in flight, between queued ones), so that the
	 * new node sees seqs grow. */
	for (;;) {
		struct delivery *fl = TAILQ_FIRST(&s->inflight);
		struct delivery *q = TAILQ_FIRST(&s->queue);

		if (q != NULL && session_du(s)->disk_count > 0 &&
		    q->seq > session_du(s)->disk_max_seq)
			q = NULL; /* older ones are still on disk */
		if (fl != NULL && (q == NULL || fl->seq < q->seq)) {
			d = fl;
			TAILQ_REMOVE(&s->inflight, d, entry);
			s->n_inflight--;
		} else if (q != NULL) {
			d = q;
			TAILQ_REMOVE(&s->queue, d, entry);
			s->n_queued--;
			if (d == session_du(s)->disk_tail)
				session_durable(s)->disk_tail = NULL;
			if (move_had(s, d))
				continue;
		} else {
			break;
		}
		move_one(s, d);
	}
	if (session_du(s)->disk_count > 0 || session_du(s)->disk_loading) {
		persist_load_queue(s);
		return;
	}
	send_end_form(to, TOPIC_SESSION_END, session_cl(s)->move_claim,
	    s->client_id,
	    s->id_len, 1);
	log_notice("session %s moved to %s", s->client_id, to->name);
	session_cluster(s)->moving = NULL;
	/* The session goes on elsewhere: a delayed will is not due
	 * (MQTT-3.1.3-9). */
	will_clear(s);
	if (s->conn != NULL) {
		/* The client connected here again while its session was on
		 * its way out: that connection must not outlive the session
		 * it points to. It is told the session was taken over, and
		 * its reconnect claims the session where it went. */
		struct conn *c = s->conn;

		c->session = NULL;
		s->conn = NULL;
		c->will_pending = 0;
		conn_close(c, MQTT_RC_SESSION_TAKEN_OVER, "session moved to "
		    "another node");
	}
	/* What other nodes still send here for it goes on to where it is
	 * now (tombstone.c). */
	bridge_tombstone_make(s, to);
}

/* Whose s is (session_owner_only), when known, for the node it moves
 * to: "$cluster/owner", laid out as a claim that names its user. */
static void
move_owner(struct session *s, struct peer *to, uint64_t id)
{
	struct proto_claim m;
	uint8_t *buf;
	size_t len;

	if (!s->user_known)
		return;
	memset(&m, 0, sizeof m);
	m.claim_id = id;
	m.flags = s->username != NULL ? PROTO_CLAIM_USER : PROTO_CLAIM_ANON;
	if (s->username != NULL) {
		m.user.p = (const uint8_t *)s->username;
		m.user.len = strlen(s->username);
	}
	m.client_id.p = (const uint8_t *)s->client_id;
	m.client_id.len = s->id_len;
	len = proto_claim_len(&m);
	buf = xmalloc(len);
	proto_claim_encode(&m, buf);
	send_queued(to, TOPIC_OWNER, buf, len);
	free(buf);
}

/* The messages s has had, by identity, for the node it moves to: there
 * another copy of s may hold some of them (a merge). */
static void
move_seen(struct session *s, struct peer *to, uint64_t id)
{
	struct proto_seen m;
	uint8_t *buf;
	size_t len;

	memset(&m, 0, sizeof m);
	m.n = (uint32_t)deliver_seen_list(s, &m.mixes);
	if (m.n == 0)
		return;
	m.claim_id = id;
	m.client_id.p = (const uint8_t *)s->client_id;
	m.client_id.len = s->id_len;
	len = proto_seen_len(&m);
	assert(len != 0);
	buf = xmalloc(len);
	proto_seen_encode(&m, buf);
	send_queued(to, TOPIC_SEEN, buf, len);
	free(buf);
}

/* Start moving s to node to for claim id. */
static void
move_start(struct session *s, struct peer *to, uint64_t id)
{
	struct proto_session m;
	struct proto_sub *subs;
	uint8_t *buf;
	size_t len, i;

	subs = xreallocarray(NULL, s->n_subs + 1, sizeof *subs);
	for (i = 0; i < s->n_subs; i++) {
		subs[i].options = s->subs[i].options;
		subs[i].sub_id = s->subs[i].sub_id;
		subs[i].filter.p = (const uint8_t *)s->subs[i].filter;
		subs[i].filter.len = s->subs[i].filter_len;
	}
	memset(&m, 0, sizeof m);
	m.claim_id = id;
	m.expiry = s->expiry;
	/* Messages that reach s here while it moves take the seqs from
	 * next_seq on; the new node starts past them. */
	m.next_seq = s->next_seq + MOVE_SEQ_RESERVE;
	m.sent_max = s->sent_max_seq > s->next_seq ? s->next_seq :
	    s->sent_max_seq;
	m.n_subs = (uint32_t)s->n_subs;
	m.subs = subs;
	m.n_qos2 = s->n_qos2_in;
	m.qos2 = s->qos2_in;
	m.client_id.p = (const uint8_t *)s->client_id;
	m.client_id.len = s->id_len;
	/* Client ids are never empty (an empty one is assigned one) and
	 * filters come from packets (65535 bytes at most). */
	len = proto_session_len(&m);
	assert(len != 0);
	buf = xmalloc(len);
	proto_session_encode(&m, buf);
	free(subs);
	send_queued(to, TOPIC_SESSION, buf, len);
	free(buf);
	move_owner(s, to, id);
	move_seen(s, to, id);
	log_notice("session %s moving to %s", s->client_id, to->name);
	if (session_du(s)->expiry_timer != NULL)
		evtimer_del(session_du(s)->expiry_timer);
	/* Its queue in memory (parked) goes with it as an online one's. */
	persist_unpark(s);
	session_cluster(s)->moving = to;
	session_cluster(s)->move_claim = id;
	bridge_move_pump(s);
}

/* Answer the claim id of node to (PROTO_CLAIMED_*, echoing the claim's
 * merge flag): at once, or (queued) behind what the forward queue to
 * `to` holds. */
static void
claimed_send(struct peer *to, uint64_t id, uint8_t answer, uint8_t flags,
    int queued)
{
	struct proto_claimed m;
	uint8_t wire[PROTO_CLAIMED_LEN];

	m.claim_id = id;
	m.answer = answer;
	m.flags = flags & PROTO_CLAIM_MERGE;
	proto_claimed_encode(&m, wire);
	/* Our link to the claimer not up yet (it dialled us first, and we
	 * dial back now): the answer waits in its forward queue. */
	if (queued || !bridge_peer_up(to))
		send_queued(to, TOPIC_CLAIMED, wire, sizeof wire);
	else
		send_now(to, TOPIC_CLAIMED, wire, sizeof wire);
}

/* "$cluster/claim" from node `from`. */
static int
claim_in(struct peer *from, const uint8_t *d, size_t len)
{
	struct proto_claim m;

	if (proto_claim_decode(d, len, &m) != 0)
		return MQTT_RC_MALFORMED;
	claim_take(from, &m);
	return 0;
}

/* The claim m from node `from` (from the wire, or one that waited for a
 * move in to end). */
static void
claim_take(struct peer *from, const struct proto_claim *m)
{
	struct claim *own;
	struct session *s;
	uint64_t id = m->claim_id;
	uint8_t clean = m->flags & PROTO_CLAIM_CLEAN;
	const char *client_id = (const char *)m->client_id.p;
	size_t id_len = m->client_id.len;
	struct peer *to = NULL;
	char why[128];
	int cmp;

	own = claim_find_id(client_id, id_len);
	if (own != NULL) {
		cmp = own->id > id ? 1 : own->id < id ? -1 :
		    strcmp(srv.cfg.node_name, from->name);
		if (cmp > 0) {
			/* Ours is the later connect: it keeps the id, and
			 * the other node refuses its client. */
			claimed_send(from, id, PROTO_CLAIMED_REFUSED, m->flags, 0);
			return;
		}
		claim_lost(own, from);
	}
	s = session_find(client_id, id_len);
	if (s != NULL && (m->flags & (PROTO_CLAIM_USER | PROTO_CLAIM_ANON)) &&
	    !session_owner_ok(s, (m->flags & PROTO_CLAIM_USER) ?
	    (const char *)m->user.p : NULL, m->user.len)) {
		log_notice("claim of %s by %s refused: its session belongs to "
		    "%s%s%s (session_owner_only)", s->client_id, from->name,
		    s->username != NULL ? "user '" : "",
		    s->username != NULL ? s->username : "an anonymous client",
		    s->username != NULL ? "'" : "");
		claimed_send(from, id, PROTO_CLAIMED_NOT_OWNER, m->flags, 0);
		return;
	}
	if (s != NULL && session_cl(s)->claim_won > id) {
		/* The session's client connected here after that claim was
		 * made: a claim read late (this node or its link was
		 * silent, and the claimer went on without it). The later
		 * connect keeps the session, as in a race; the claimer's
		 * copy, if any, comes here with our own claim. */
		log_notice("claim of %s by %s is older than its connection "
		    "here: refused", s->client_id, from->name);
		claimed_send(from, id, PROTO_CLAIMED_REFUSED, m->flags, 0);
		return;
	}
	if (s != NULL && s->conn != NULL) {
		snprintf(why, sizeof why, "session taken over by node %s",
		    from->name);
		events_taken_over(s, NULL, from->name);
		conn_take_over(s->conn, clean, why);
		s = session_find(client_id, id_len);
	}
	/* The client is back, there: no offline from here (presence.c). */
	presence_claimed(client_id, id_len, (m->flags & PROTO_CLAIM_USER) ?
	    (const char *)m->user.p : NULL, m->user.len,
	    (m->flags & (PROTO_CLAIM_USER | PROTO_CLAIM_ANON)) != 0);
	if (s != NULL && session_cl(s)->moving_in != 0) {
		/* Half of it is here, the rest still coming from another
		 * node: answer once it is all here (move_in_done), and tell
		 * the claimer to wait. */
		session_cluster(s)->claim_from = from;
		session_cluster(s)->claim_id = id;
		session_cluster(s)->claim_flags = m->flags &
		    (PROTO_CLAIM_CLEAN | PROTO_CLAIM_MERGE);
		claimed_send(from, id, PROTO_CLAIMED_WAIT, m->flags, 0);
		return;
	}
	if (s != NULL && session_cl(s)->moving == from) {
		/* On its way to the claimer already (for another claim):
		 * the claimer waits, and the end of the move answers. */
		claimed_send(from, id, PROTO_CLAIMED_WAIT, m->flags, 0);
		return;
	}
	if (s == NULL && (to = bridge_tombstone_to(client_id, id_len)) ==
	    from) {
		/* Moved there (for another claim): answered behind the
		 * move, so that the claimer has our copy when it reads the
		 * answer. */
		claimed_send(from, id, PROTO_CLAIMED_GIVEN_UP, m->flags, 1);
		return;
	}
	if ((m->flags & PROTO_CLAIM_MERGE) &&
	    ((s != NULL && session_cl(s)->moving != NULL) || (s == NULL &&
	    to != NULL))) {
		/* A merge claim, and our copy is on its way, or gone, to a
		 * third node (for a claim of that node read late): the
		 * client is not there, the copy goes on from there to where
		 * it is (session_in), and the claimer waits for it. */
		claimed_send(from, id, PROTO_CLAIMED_WAIT, m->flags, 0);
		return;
	}
	if (s != NULL && session_cl(s)->moving != NULL)
		s = NULL; /* already on its way elsewhere */
	if (s != NULL && (clean || !s->persistent)) {
		session_free(s);
		s = NULL;
	}
	if (s == NULL) {
		claimed_send(from, id, PROTO_CLAIMED_GIVEN_UP, m->flags, 0);
		return;
	}
	move_start(s, from, id);
}

/*
 * --- Split sessions ---
 *
 * A client that connects while some nodes do not answer its claim (down,
 * cut off, stalled) gets a session here while another copy may live on
 * those nodes: session.split names them. Each copy may deliver what
 * reaches it, and what a node routed to the other copy's old place while
 * the two did not hear each other comes here once they do: a message the
 * other copy delivered already.
 *
 * So when a message for the split session comes from such a node, or
 * was published on one, the session stops sending (bridge_split_merging:
 * the pump waits; what comes is queued) and asks each node it is split
 * from for its copy with a merge claim: a claim as a CONNECT makes, with
 * the id of the claim its client last connected with here
 * (session.claim_won), no CONNECT waiting, sent when our link to that
 * node is up (within MERGE_WAIT_DOWN_MS). The node answers as any claim:
 *   - no copy there: "claimed" (given up); the node is off the split;
 *   - its copy is older than the connect here (its claim_won lower): it
 *     moves here and merges (the "seen" window drops what that copy
 *     delivered); the node is off the split when the move ends; a copy
 *     already on its way here for another claim answers the same way
 *     (a "wait", then the end of that move);
 *   - its copy is newer (the client connected there after it did here):
 *     "refused"; our copy moves there instead (our client, if still
 *     here, is taken over: the later connect wins, as in a race);
 *   - no answer in time (cluster_sync_timeout, at least
 *     MERGE_ANSWER_MS): the node is off the
 *     split; its link going: it stays in it (asked again when it is
 *     back and sends more).
 * When no merge claim of the session is open any more, its queue goes
 * on (deliver_pump), less what the other copies had. Claims of two
 * copies that ask each other at once are ordered by their ids, as
 * concurrent connects are: the older copy moves to the newer. Nodes
 * from the 32nd on share one bit of the split set: one answer clears
 * it for all of them.
 */

/* The open merge claim of client id (id, len) to p (NULL: any node). */
static struct claim *
merge_find(const char *id, size_t len, const struct peer *p)
{
	struct claim *cl;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->merge && (p == NULL || cl->merge_peer == p) &&
		    cl->id_len == len && memcmp(cl->client_id, id, len) == 0)
			return cl;
	}
	return NULL;
}

/* Send the merge claim cl (our link to its node is up). */
static void
merge_ask(struct claim *cl)
{
	struct session *s;
	struct proto_claim m;
	uint8_t *buf;
	size_t len;

	memset(&m, 0, sizeof m);
	/* The claim its client connected with last (it may have
	 * connected again while the claim waited for our link). */
	if ((s = session_find(cl->client_id, cl->id_len)) != NULL)
		cl->id = session_cl(s)->claim_won;
	m.claim_id = cl->id;
	m.flags = PROTO_CLAIM_MERGE;
	m.client_id.p = (const uint8_t *)cl->client_id;
	m.client_id.len = cl->id_len;
	len = proto_claim_len(&m);
	buf = xmalloc(len);
	proto_claim_encode(&m, buf);
	send_now(cl->merge_peer, TOPIC_CLAIM, buf, len);
	free(buf);
	cl->unsent = 0;
	/* Not less than MERGE_ANSWER_MS: right after a partition heals the
	 * other node has its whole backlog to read first, and what waits
	 * is only this session's queue. */
	claim_arm(cl, srv.cfg.cluster_sync_timeout > MERGE_ANSWER_MS ?
	    srv.cfg.cluster_sync_timeout : MERGE_ANSWER_MS);
	log_info("session %s: asking %s for its copy (merge)", cl->client_id,
	    cl->merge_peer->name);
}

/* Ask p for its copy of the split session s: now, or when our link to p
 * is up (bridge_merge_link_up), if it is within MERGE_WAIT_DOWN_MS. */
static void
merge_send(struct session *s, struct peer *p)
{
	struct claim *cl;

	cl = xcalloc(1, sizeof *cl);
	cl->id = session_cl(s)->claim_won;
	cl->merge = 1;
	cl->merge_peer = p;
	cl->waiting = xmalloc(sizeof *cl->waiting);
	cl->waiting[cl->n_waiting++] = p;
	cl->client_id = xstrndup(s->client_id, s->id_len);
	cl->id_len = s->id_len;
	cl->timer = evtimer_new(srv.base, claim_timeout_cb, cl);
	TAILQ_INSERT_TAIL(&claims, cl, entry);
	if (bridge_peer_up(p)) {
		merge_ask(cl);
		return;
	}
	cl->unsent = 1;
	claim_arm(cl, MERGE_WAIT_DOWN_MS);
}

void
bridge_merge_link_up(struct peer *p)
{
	struct claim *cl;

	TAILQ_FOREACH(cl, &claims, entry) {
		if (cl->merge && cl->unsent && cl->merge_peer == p)
			merge_ask(cl);
	}
}

void
bridge_split_hold(struct session *s, struct peer *from, const struct msg *m)
{
	struct peer *p;
	uint32_t bits = bridge_peer_bit(from);
	size_t i;

	for (i = 0; m->id_origin != 0 && (p = bridge_peer_at(i)) != NULL;
	    i++) {
		if (p->origin == m->id_origin) {
			bits |= bridge_peer_bit(p);
			break;
		}
	}
	if (!(session_cl(s)->split & bits) || session_cl(s)->moving != NULL)
		return;
	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		if ((session_cl(s)->split & bridge_peer_bit(p)) &&
		    merge_find(s->client_id, s->id_len, p) == NULL)
			merge_send(s, p);
	}
}

int
bridge_split_merging(const struct session *s)
{
	return merge_find(s->client_id, s->id_len, NULL) != NULL;
}

/* A merge claim ended (claim_done). */
static void
merge_end(struct claim *cl)
{
	struct session *s = session_find(cl->client_id, cl->id_len);
	struct peer *p = cl->merge_peer;
	uint8_t heard = cl->heard;

	log_debug("merge of %s with %s: %s", cl->client_id, p->name,
	    heard == MERGE_HEARD ? "answered" : heard == MERGE_GONE ?
	    "link gone" : "no answer in time");
	claim_free(cl);
	if (s == NULL)
		return;
	if (heard != MERGE_GONE)
		session_cluster(s)->split &= ~bridge_peer_bit(p);
	if (merge_find(s->client_id, s->id_len, NULL) == NULL)
		deliver_pump(s);
}

/* p has a newer copy of the session of merge claim cl: ours goes there. */
static void
merge_refused(struct claim *cl, struct peer *p)
{
	struct session *s = session_find(cl->client_id, cl->id_len);
	uint64_t id = cl->id;
	char why[128];

	claim_free(cl);
	if (s == NULL)
		return;
	session_cluster(s)->split &= ~bridge_peer_bit(p);
	if (session_cl(s)->claim_won != id) {
		/* Its client connected here again since: asked again with
		 * that connect's claim. */
		session_cluster(s)->split |= bridge_peer_bit(p);
		merge_send(s, p);
		return;
	}
	if (session_cl(s)->moving != NULL || session_cl(s)->moving_in != 0 ||
	    !s->persistent ||
	    s->tombstone) {
		if (merge_find(s->client_id, s->id_len, NULL) == NULL)
			deliver_pump(s);
		return;
	}
	log_notice("session %s: the copy on %s is newer; moving there",
	    s->client_id, p->name);
	if (s->conn != NULL) {
		char *cid = xstrndup(s->client_id, s->id_len);
		size_t len = s->id_len;

		snprintf(why, sizeof why, "session taken over by node %s",
		    p->name);
		events_taken_over(s, NULL, p->name);
		conn_take_over(s->conn, 0, why);
		s = session_find(cid, len);
		free(cid);
		if (s == NULL || session_cl(s)->moving != NULL)
			return;
	}
	move_start(s, p, id);
}

/* --- B: moved messages --- */

void
bridge_target_reset(void)
{
	free(target.to);
	memset(&target, 0, sizeof target);
}

/* A "$tern/" user property of a moved message. Returns 1 when key is
 * one of ours. */
int
bridge_target_prop(struct mqtt_str k, struct mqtt_str v)
{
	char num[32];
	const char *key;
	size_t i, pl = sizeof TERN_PROP_PREFIX - 1;
	const uint8_t *p, *e;
	uint32_t id;

	if (k.len < pl || memcmp(k.p, TERN_PROP_PREFIX, pl) != 0)
		return 0;
	key = (const char *)k.p + pl;
	snprintf(num, sizeof num, "%.*s", (int)(v.len < 31 ? v.len : 31),
	    (const char *)v.p);
	if (k.len - pl == 2 && memcmp(key, "to", 2) == 0) {
		free(target.to);
		target.to = xstrndup((const char *)v.p, v.len);
		target.set = 1;
	} else if (k.len - pl == 3 && memcmp(key, "seq", 3) == 0) {
		target.seq = strtoull(num, NULL, 10);
	} else if (k.len - pl == 3 && memcmp(key, "qos", 3) == 0) {
		target.qos = (uint8_t)(num[0] == '2' ? 2 : num[0] == '1');
	} else if (k.len - pl == 5 && memcmp(key, "flags", 5) == 0) {
		for (i = 0; i < v.len; i++) {
			if (v.p[i] == 'r')
				target.retain = 1;
			else if (v.p[i] == 'd')
				target.dup = 1;
			else if (v.p[i] == 'R')
				target.released = 1;
		}
	} else if (k.len - pl == 6 && memcmp(key, "subids", 6) == 0) {
		for (p = v.p, e = v.p + v.len; p < e &&
		    target.n_sub_ids < 32;) {
			id = 0;
			while (p < e && *p >= '0' && *p <= '9')
				id = id * 10 + (uint32_t)(*p++ - '0');
			target.sub_ids[target.n_sub_ids++] = id;
			if (p < e)
				p++;
		}
	}
	return 1;
}

int
bridge_in_target(void)
{
	return target.set;
}

/* A message another node passed on to a session that had left it
 * (seq 0, tombstone.c): a new message for the session, unless it had it
 * by identity (a route of ours brought it too). Where the session left
 * this node as well, it goes on. */
static unsigned
target_passed_on(struct peer *from, struct msg *m)
{
	struct session *s = session_find(target.to, strlen(target.to));

	if (s == NULL)
		return bridge_tombstone_pass(target.to, strlen(target.to), m,
		    target.qos, target.retain, target.sub_ids,
		    target.n_sub_ids);
	if (deliver_seen(s, m)) {
		log_debug("message on %s passed on to %s: had it already",
		    m->topic, target.to);
		return 1;
	}
	deliver_to_session_from(s, m, target.qos, target.retain,
	    target.sub_ids, target.n_sub_ids, from);
	return 1;
}

unsigned
bridge_deliver_target(struct peer *from, struct msg *m)
{
	struct session *s = session_find(target.to, strlen(target.to));
	struct delivery *d;
	int keep;

	if (target.seq == 0)
		return target_passed_on(from, m);
	/* A moved message: the copy of the session it comes with still
	 * held it. */
	if (s != NULL)
		deliver_seen_here(s, m, from);
	/* A merge, and the other copy sent this QoS 2 message (or has its
	 * PUBREC): the client may hold its packet id open until PUBREL,
	 * across reconnects (MQTT-4.3.3), and knows a resend only by that
	 * id. So this copy of the message is the one that counts, even
	 * where the session here has it queued too: it keeps its packet id
	 * at a new position that maps to it, and its DUP; the one queued
	 * here goes (deliver_seen_taken). Where the session here has that
	 * id in flight, two flows cannot share it: the message is treated
	 * as unsent, and a PUBREL is not sent. */
	keep = s != NULL && session_cl(s)->move_renumber && target.qos == 2 &&
	    (target.dup || target.released) &&
	    !deliver_id_in_use(s, deliver_packet_id(target.seq));
	if (s != NULL && session_cl(s)->move_renumber && target.released &&
	    !keep) {
		/* The client had the message (its PUBREC says so): a copy
		 * queued here goes all the same. */
		(void)deliver_seen_taken(s, m, from);
		log_notice("moved QoS 2 flow %u of %s: its packet id is in "
		    "flight here; PUBREL not sent",
		    deliver_packet_id(target.seq), s->client_id);
		return 1;
	}

	/* Had it already: by identity (a copy of this session had it, or
	 * the link resent it), else by position within this move (a resend
	 * of a message without identity). A merge numbers anew, so there
	 * positions say nothing. */
	if (s == NULL || (keep ? deliver_seen_taken(s, m, from) :
	    deliver_seen(s, m)) ||
	    (!session_cl(s)->move_renumber && m->id_origin == 0 &&
	    target.seq <= session_cl(s)->moved_seq)) {
		log_debug("moved message %llu for %s: %s",
		    (unsigned long long)target.seq, target.to,
		    s == NULL ? "no such session" : "had it already");
		return s == NULL ? 0 : 1;
	}
	if (!session_cl(s)->move_renumber)
		session_cluster(s)->moved_seq = target.seq;
	/* It takes a seq: a span of it ends (glog.c). */
	glog_span_end(s);
	d = delivery_new();
	d->msg = msg_ref(m);
	d->seq = target.seq;
	if (keep) {
		d->seq = deliver_seq_for(s, deliver_packet_id(target.seq));
		target.seq = d->seq;
	} else if (session_cl(s)->move_renumber) {
		if (s->next_seq == 0)
			s->next_seq = 1;
		d->seq = s->next_seq;
		target.seq = s->next_seq;
		target.dup = 0;
	}
	d->qos = target.qos;
	d->retain = target.retain;
	d->dup = target.dup;
	d->n_sub_ids = target.n_sub_ids;
	if (d->n_sub_ids == 1)
		d->sub_id = target.sub_ids[0];
	else if (d->n_sub_ids > 1)
		d->sub_ids = xmemdup(target.sub_ids,
		    d->n_sub_ids * sizeof *d->sub_ids);
	if (target.seq >= s->next_seq)
		s->next_seq = target.seq + 1;
	persist_queue(s, d);
	if (target.released) {
		d->state = DELIVERY_RELEASED;
		persist_state(s, d, DELIVERY_RELEASED);
	} else if (d->dup && d->seq > s->sent_max_seq) {
		/* Past this copy's sent mark: the row says it was sent, so
		 * that it carries DUP when read back (persist_load_queue). */
		persist_state(s, d, DELIVERY_SENT);
	}
	if (persist_offline(s)) {
		/* The row is the queue (as deliver_enqueue does). */
		session_durable(s)->disk_count++;
		session_durable(s)->disk_bytes += m->payload_len;
		if (d->seq > session_du(s)->disk_max_seq)
			session_durable(s)->disk_max_seq = d->seq;
		delivery_free(d);
		return 1;
	}
	deliver_insert(s, d, target.released ? DELIVERY_RELEASED :
	    DELIVERY_QUEUED);
	deliver_pump(s);
	return 1;
}

void
bridge_takeover_free(void)
{
	struct claim *cl;

	while ((cl = TAILQ_FIRST(&claims)) != NULL) {
		cl->c = NULL;
		claim_free(cl);
	}
	bridge_target_reset();
	while (n_handovers > 0)
		free(handovers[--n_handovers].client_id);
	free(handovers);
	handovers = NULL;
	cap_handovers = 0;
	if (handover_timer != NULL)
		event_free(handover_timer);
	handover_timer = NULL;
}
