/*
 * gate.c - the ack gate: every acknowledgement the broker owes a peer
 * (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK) passes here, and
 * waits here for what it depends on.
 *
 * DESIGN (the models are Redis's call(), one snapshot of what a command
 * changed, and blocked.c, every reason a client waits in one file)
 *
 * One snapshot per packet: read.c calls gate_begin() before a packet's
 * handler runs, noting the store writes so far and the cluster's route
 * version. A handler that answers calls gate_ack(); what its packet
 * changed is read off that snapshot here, not in each handler.
 *
 * An ack waits for up to three conditions (its wait mask):
 *   GATE_COMMIT  its packet wrote to the store's open batch: the commit
 *                of that batch (persist.c calls gate_committed());
 *   GATE_ROOM    a PUBACK / PUBREC whose message went into an online
 *                subscriber's queue over its limit: room there, or that
 *                session going offline or away (gate_unblock()); the
 *                publisher's own window then slows it down, instead of
 *                the broker dropping what it acknowledged;
 *   GATE_ROUTES  a SUBACK that added routes, in a cluster: every linked
 *                node's confirmation of that route version
 *                (gate_routes_acked()), or cluster_sync_timeout.
 *
 * Each connection has one queue of what it is owed, in the order owed.
 * An ack leaves when its mask is empty and every ack before it has left,
 * so acks keep their order (MQTT-4.6.0-2 to 4). A node link's acks are
 * matched by packet id by its sender: each leaves as soon as its own mask
 * is empty, so that one slow subscriber does not stop a link that carries
 * everyone's messages (bridge/).
 *
 * When the commit an ack waits on fails (a full disk, an I/O error),
 * gate_fail() decides its fate, in one place. The rule: nothing is
 * acknowledged, released or completed that is not stored, and the
 * session is left as if the packet had not arrived, or as if the write
 * were still owed.
 *
 * Closing: an ack that waits on a commit stays until the commit is done
 * (its fate may undo session state); the others go at once. A connection
 * is freed only once its queue is empty (conn.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"

struct gate_ack {
	TAILQ_ENTRY(gate_ack) entry; /* in c->acks, in order */
	TAILQ_ENTRY(gate_ack) commit_entry; /* GATE_COMMIT: commit_wait */
	TAILQ_ENTRY(gate_ack) room_entry; /* GATE_ROOM: room_wait */
	TAILQ_ENTRY(gate_ack) routes_entry; /* GATE_ROUTES: routes_wait */
	struct conn *c;
	struct session *blocker; /* GATE_ROOM: whose queue */
	char *client_id; /* PUBREC / PUBCOMP that changed a QoS 2 id */
	uint64_t gen; /* GATE_COMMIT: the batch */
	uint64_t version; /* GATE_ROUTES: the route version */
	struct timeval deadline; /* GATE_ROUTES: cluster_sync_timeout */
	uint8_t *wire; /* SUBACK / UNSUBACK, encoded */
	size_t wire_len;
	uint16_t packet_id;
	uint8_t type;
	uint8_t reason;
	uint8_t wait; /* GATE_* still to come */
	uint8_t wrote; /* its packet wrote to the store */
	uint8_t failed; /* the commit it waited on failed */
	struct msg *msg; /* PUBACK: the message, noting whom it reached */
};

TAILQ_HEAD(gate_wait_list, gate_ack);

/* Acks waiting on a commit, by batch (gens never decrease along it). */
static struct gate_wait_list commit_wait =
    TAILQ_HEAD_INITIALIZER(commit_wait);
/* Acks waiting for room in some session's queue. */
static struct gate_wait_list room_wait = TAILQ_HEAD_INITIALIZER(room_wait);
/* SUBACKs waiting for routes (versions and deadlines never decrease). */
static struct gate_wait_list routes_wait =
    TAILQ_HEAD_INITIALIZER(routes_wait);
static struct event *routes_timer;

void
gate_begin(struct conn *c)
{
	c->gate_writes = srv.writes;
	c->gate_routes = bridge_route_version();
}

int
gate_pending(const struct conn *c)
{
	return c->n_acks > 0;
}

static void
gate_send(struct conn *c, uint8_t type, uint16_t id, uint8_t reason)
{
	struct mqtt_packet ack;

	memset(&ack, 0, sizeof ack);
	ack.type = type;
	ack.flags = type == MQTT_PUBREL ? 0x02 : 0;
	ack.u.ack.packet_id = id;
	ack.u.ack.reason = reason;
	handle_ack_reason_string(c, &ack);
	conn_send(c, &ack);
}

/* --- the fate of an ack whose commit failed --- */

/*
 * - PUBACK / PUBREC of a message: v5 gets reason 0x80 (it may resend,
 *   with that packet id or another); 3.1.1, whose acks carry no reason,
 *   is disconnected and resends after reconnecting (with DUP). A new
 *   QoS 2 id is taken back, so that resend is routed, not taken for a
 *   duplicate.
 * - PUBREL to a receiver whose "PUBREC received" was not stored: not
 *   sent; the connection is closed, which drops the session's deliveries
 *   from memory (persist_evict), and the resume reads back what the store
 *   holds: the PUBLISH again, with DUP and the same packet id, which the
 *   receiver answers with PUBREC again (4.3.3).
 * - PUBCOMP to a publisher whose QoS 2 id removal was not stored: not
 *   sent (PUBCOMP has no failure code for this); the id is put back and
 *   the connection closed; the publisher resends PUBREL after
 *   reconnecting (4.4).
 * - SUBACK / UNSUBACK: the connection is closed; the client subscribes
 *   again when it reconnects.
 */
static void
gate_fail(struct gate_ack *a)
{
	struct conn *c = a->c;
	struct session *s = NULL;
	int open = c->state != CONN_CLOSING;

	if (a->client_id != NULL)
		s = session_find(a->client_id, strlen(a->client_id));
	switch (a->type) {
	case MQTT_PUBACK:
	case MQTT_PUBREC:
		if (a->msg != NULL)
			resend_refused(a->client_id, a->msg);
		if (a->type == MQTT_PUBREC && s != NULL)
			session_qos2_forget(s, a->packet_id);
		if (open && c->version == MQTT_V5)
			gate_send(c, a->type, a->packet_id,
			    MQTT_RC_UNSPECIFIED);
		else if (open)
			conn_close(c, MQTT_RC_UNSPECIFIED,
			    "message not stored");
		break;
	case MQTT_PUBCOMP:
		if (s != NULL && !session_qos2_has(s, a->packet_id))
			session_qos2_restore(s, a->packet_id);
		if (open)
			conn_close(c, MQTT_RC_UNSPECIFIED,
			    "QoS 2 completion not stored");
		break;
	case MQTT_PUBREL:
		if (open)
			conn_close(c, MQTT_RC_UNSPECIFIED,
			    "delivery state not stored");
		break;
	default:
		if (open)
			conn_close(c, MQTT_RC_UNSPECIFIED,
			    "subscription not stored");
		break;
	}
}

/* --- leaving the gate --- */

static void
gate_ack_free(struct gate_ack *a)
{
	if (a->msg != NULL) {
		/* Committed, or refused and kept by resend.c. */
		if (a->msg->tracking)
			resend_done(a->msg);
		msg_unref(a->msg);
	}
	free(a->client_id);
	free(a->wire);
	free(a);
}

/* 1 when a answers a PUBLISH of its peer's window (PUBACK, PUBREC, and
 * the PUBCOMP that ends a QoS 2 flow): counted in c->n_window_owed. */
static int
gate_of_window(const struct gate_ack *a)
{
	return a->type == MQTT_PUBACK || a->type == MQTT_PUBREC ||
	    a->type == MQTT_PUBCOMP;
}

/* a leaves c's queue. */
static void
gate_unlink(struct conn *c, struct gate_ack *a)
{
	TAILQ_REMOVE(&c->acks, a, entry);
	c->n_acks--;
	if (gate_of_window(a))
		c->n_window_owed--;
}

static void
gate_free(struct gate_ack *a)
{
	gate_unlink(a->c, a);
	gate_ack_free(a);
}

/* a's conditions are all met (or its commit failed): out it goes. */
static void
gate_emit(struct gate_ack *a)
{
	struct conn *c = a->c;

	if (a->failed)
		gate_fail(a);
	else if (c->state == CONN_CLOSING)
		; /* nobody to tell */
	else if (a->wire != NULL)
		conn_write(c, a->wire, a->wire_len);
	else
		gate_send(c, a->type, a->packet_id, a->reason);
}

/* Send what c's queue lets go: its head while ready (a link: any ready
 * ack). An ack leaves the queue before it is emitted, as its fate may
 * close c and drop the rest. Frees c once the queue is empty and c was
 * waiting for that. */
static void
gate_release(struct conn *c)
{
	struct gate_ack *a;

	for (;;) {
		TAILQ_FOREACH(a, &c->acks, entry) {
			if (a->wait == 0 || c->link != LINK_IN)
				break;
		}
		if (a == NULL || a->wait != 0)
			break;
		gate_unlink(c, a);
		gate_emit(a);
		gate_ack_free(a);
	}
	if (c->n_acks == 0 && c->free_pending) {
		c->free_pending = 0;
		conn_free_later(c);
	}
}

/* Clear wait bits of a, leaving the lists they stand for. */
static void
gate_clear(struct gate_ack *a, uint8_t bits)
{
	bits &= a->wait;
	if (bits & GATE_COMMIT)
		TAILQ_REMOVE(&commit_wait, a, commit_entry);
	if (bits & GATE_ROOM) {
		TAILQ_REMOVE(&room_wait, a, room_entry);
		if (a->blocker->n_held_acks > 0)
			a->blocker->n_held_acks--;
		a->blocker = NULL;
	}
	if (bits & GATE_ROUTES)
		TAILQ_REMOVE(&routes_wait, a, routes_entry);
	a->wait &= (uint8_t)~bits;
}

/* --- entering the gate --- */

/* 1 when a SUBACK of c must wait for the routes its SUBSCRIBE added. */
static int
gate_routes_needed(const struct conn *c)
{
	uint64_t v = bridge_route_version();

	return bridge_on() && v != c->gate_routes &&
	    srv.cfg.cluster_sync_timeout != 0 && !bridge_routes_ready(v);
}

static void
gate_routes_arm(void)
{
	struct gate_ack *a = TAILQ_FIRST(&routes_wait);
	struct timeval now, left;

	if (a == NULL) {
		if (routes_timer != NULL)
			evtimer_del(routes_timer);
		return;
	}
	event_base_gettimeofday_cached(srv.base, &now);
	if (timercmp(&a->deadline, &now, >))
		timersub(&a->deadline, &now, &left);
	else
		timerclear(&left);
	/* Look again at least every BRIDGE_PING_MS: a node that went
	 * silent is no longer waited for (bridge_routes_ready). */
	if (left.tv_sec > 0 || left.tv_usec > BRIDGE_PING_MS * 1000) {
		left.tv_sec = 0;
		left.tv_usec = BRIDGE_PING_MS * 1000;
	}
	evtimer_add(routes_timer, &left);
}

static void gate_routes_timer_cb(evutil_socket_t fd, short what, void *arg);

void
gate_ack(struct conn *c, const struct mqtt_packet *ack,
    struct session *blocker)
{
	gate_ack_msg(c, ack, blocker, NULL);
}

void
gate_ack_msg(struct conn *c, const struct mqtt_packet *ack,
    struct session *blocker, struct msg *m)
{
	struct gate_ack *a;
	struct timeval tv;
	uint8_t wait = 0;
	int wrote = srv.writes != c->gate_writes;

	/* The routing's pump may have made room already (deliver_settle):
	 * nothing to wait for then, and nobody would release the wait. */
	if (blocker != NULL && !blocker->blocking)
		blocker = NULL;
	if (wrote && srv.store != NULL)
		wait |= GATE_COMMIT;
	if (blocker != NULL)
		wait |= GATE_ROOM;
	if (ack->type == MQTT_SUBACK && gate_routes_needed(c))
		wait |= GATE_ROUTES;
	if (m != NULL && !(wait & GATE_COMMIT)) {
		resend_done(m);
		m = NULL;
	}
	if (wait == 0 && (TAILQ_EMPTY(&c->acks) || c->link == LINK_IN)) {
		conn_send(c, ack);
		return;
	}
	a = xcalloc(1, sizeof *a);
	a->c = c;
	a->type = ack->type;
	a->wait = wait;
	a->wrote = (uint8_t)wrote;
	if (ack->type == MQTT_SUBACK || ack->type == MQTT_UNSUBACK) {
		/* Their codes and properties point into the caller's
		 * memory: keep the packet encoded. */
		a->wire_len = mqtt_encode_len(ack, c->version);
		a->wire = xmalloc(a->wire_len);
		mqtt_encode(ack, c->version, a->wire);
	} else {
		a->reason = ack->u.ack.reason;
		a->packet_id = ack->u.ack.packet_id;
	}
	/* A PUBREC that wrote took a new QoS 2 id (a resend writes
	 * nothing); a PUBCOMP that wrote removed one; a refused PUBACK's
	 * message waits for its resend. A failed commit undoes that in the
	 * session, which the connection may have left by then: keep its
	 * client id. */
	if (m != NULL && c->session != NULL)
		a->msg = msg_ref(m);
	else if (m != NULL)
		resend_done(m);
	if ((wait & GATE_COMMIT) && c->session != NULL &&
	    (a->msg != NULL ||
	    (a->type == MQTT_PUBREC && a->reason < 0x80) ||
	    (a->type == MQTT_PUBCOMP && a->reason == MQTT_RC_SUCCESS)))
		a->client_id = xstrndup(c->session->client_id,
		    c->session->id_len);
	TAILQ_INSERT_TAIL(&c->acks, a, entry);
	c->n_acks++;
	if (gate_of_window(a))
		c->n_window_owed++;
	if (wait & GATE_COMMIT) {
		a->gen = srv.batch_gen + 1; /* the open batch */
		TAILQ_INSERT_TAIL(&commit_wait, a, commit_entry);
	}
	if (wait & GATE_ROOM) {
		a->blocker = blocker;
		blocker->n_held_acks++;
		TAILQ_INSERT_TAIL(&room_wait, a, room_entry);
		log_debug("ack of %s held: queue of %s full", conn_label(c),
		    blocker->client_id);
	}
	if (wait & GATE_ROUTES) {
		a->version = bridge_route_version();
		event_base_gettimeofday_cached(srv.base, &a->deadline);
		tv.tv_sec = srv.cfg.cluster_sync_timeout / 1000;
		tv.tv_usec = (srv.cfg.cluster_sync_timeout % 1000) * 1000;
		timeradd(&a->deadline, &tv, &a->deadline);
		TAILQ_INSERT_TAIL(&routes_wait, a, routes_entry);
		if (routes_timer == NULL)
			routes_timer = evtimer_new(srv.base,
			    gate_routes_timer_cb, NULL);
		if (TAILQ_FIRST(&routes_wait) == a)
			gate_routes_arm();
	}
}

/* --- conditions met --- */

void
gate_committed(uint64_t gen, int ok)
{
	struct gate_ack *a;
	struct conn *c;

	while ((a = TAILQ_FIRST(&commit_wait)) != NULL && a->gen <= gen) {
		gate_clear(a, GATE_COMMIT);
		if (!ok && a->gen == gen) {
			/* Not stored: no use waiting for room or routes. */
			a->failed = 1;
			gate_clear(a, GATE_ROOM | GATE_ROUTES);
		}
		c = a->c;
		if (a->wait == 0)
			gate_release(c);
	}
}

void
gate_unblock(struct session *s)
{
	struct gate_ack *a, *next;
	struct conn *c;

	for (a = TAILQ_FIRST(&room_wait); a != NULL; a = next) {
		next = TAILQ_NEXT(a, room_entry);
		if (a->blocker != s)
			continue;
		gate_clear(a, GATE_ROOM);
		c = a->c;
		if (a->wait == 0) {
			/* the release may free a and its neighbours of c */
			gate_release(c);
			next = TAILQ_FIRST(&room_wait);
		}
	}
	s->n_held_acks = 0;
}

static void
gate_routes_release(int late)
{
	struct gate_ack *a;
	struct timeval now;
	struct conn *c;

	event_base_gettimeofday_cached(srv.base, &now);
	while ((a = TAILQ_FIRST(&routes_wait)) != NULL) {
		if (!bridge_routes_ready(a->version)) {
			if (!late || timercmp(&a->deadline, &now, >))
				break;
			log_warn("SUBACK to %s sent before every node confirmed "
			    "its routes (cluster_sync_timeout)",
			    conn_label(a->c));
		}
		gate_clear(a, GATE_ROUTES);
		c = a->c;
		if (a->wait == 0)
			gate_release(c);
	}
	gate_routes_arm();
}

static void
gate_routes_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	gate_routes_release(1);
}

void
gate_routes_acked(void)
{
	gate_routes_release(0);
}

/* --- connections going --- */

void
gate_conn_closing(struct conn *c)
{
	struct gate_ack *a, *next;

	for (a = TAILQ_FIRST(&c->acks); a != NULL; a = next) {
		next = TAILQ_NEXT(a, entry);
		gate_clear(a, GATE_ROOM | GATE_ROUTES);
		if (!(a->wait & GATE_COMMIT))
			gate_free(a);
	}
}

void
gate_conn_free(struct conn *c)
{
	struct gate_ack *a;

	while ((a = TAILQ_FIRST(&c->acks)) != NULL) {
		gate_clear(a, a->wait);
		gate_free(a);
	}
}

void
gate_free_all(void)
{
	if (routes_timer != NULL)
		event_free(routes_timer);
	routes_timer = NULL;
}
