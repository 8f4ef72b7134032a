/*
 * handle_publish.c - PUBLISH from a client (MQTT 5.0 section 3.3, 4.3).
 *
 * QoS 0: routed. QoS 1: routed, then PUBACK. QoS 2 (method B of section
 * 4.3.3): routed on the first PUBLISH of a packet id, the id remembered
 * until PUBREL; a PUBLISH again with that id (DUP) is acknowledged with
 * PUBREC but not routed again, so it is delivered exactly once.
 * v5 acknowledgements carry 0x10 (no matching subscribers) when nobody
 * got the message. Topic aliases are resolved by conn_alias_in() (0x94 for
 * an alias out of range, 0x82 for an unknown one).
 *
 * Incoming QoS 2 ids are bounded by receive_maximum (advertised to v5
 * clients as Receive Maximum in CONNACK): a client with more unreleased
 * QoS 2 messages gets 0x93 (MQTT-3.3.4-8) or, in 3.x, a close. So are
 * QoS 1/2 messages whose acks the node still owes (gate.c: held for a
 * commit, or for room in a slow subscriber's queue): a 3.1.1 client,
 * which is told no window, is held to the same one.
 *
 * Over max_publish_rate or max_publish_bytes_rate, a v5 QoS 1/2 message
 * is answered 0x96 and not routed; other messages over the rate are held
 * in the socket instead (read.c).
 *
 * A payload declared UTF-8 (Payload Format Indicator 1) that is not is
 * refused with 0x99 and not routed.
 *
 * Durability (persist.c): when routing wrote to the store (a persistent
 * subscriber's queue, a retained message, the QoS 2 id of a persistent
 * publisher), the PUBACK/PUBREC waits for the commit of this loop pass.
 *
 * Switched-off features (retain_available false, max_qos below 2) are
 * refused with 0x9A / 0x9B (MQTT-3.3.1-8, MQTT-3.2.2-11); 3.x clients
 * are disconnected.
 *
 * A client may not publish on $SYS/ or $events/ (the node's own
 * topics), and with acl_file set, the client needs write on the topic
 * (acl.c); a refusal counts for $events/message/dropped. A v5
 * client is answered 0x87 (not authorized) in its PUBACK / PUBREC; a
 * 3.1.1 client, whose acks carry no reason, gets its normal flow and the
 * message is dropped, as mosquitto does (closing would only make it
 * reconnect and publish again). A refused QoS 0 message is dropped. A
 * refused message is neither routed nor retained.
 *
 * A retained message that would take a new topic past
 * max_retained_messages or max_retained_bytes (retain.c) is not kept. A
 * v5 QoS 1/2 publisher is told with 0x97 (quota exceeded) and the message
 * is not routed either: a failure code says the message was not taken,
 * and a publisher that retries must not make the subscribers get it
 * twice. Anyone else cannot be told, and their message is routed without
 * being retained: its subscribers lose less than if it were dropped.
 */
#include "config.h"

#include <string.h>

#include "broker.h"

/* Acknowledge through the ack gate (gate.c): after the store commit
 * when this PUBLISH wrote to the store, after room in a full queue. */
static void
publish_ack_msg(struct conn *c, uint8_t type, uint16_t id, uint8_t reason,
    struct msg *m)
{
	struct mqtt_packet ack;

	memset(&ack, 0, sizeof ack);
	ack.type = type;
	ack.u.ack.packet_id = id;
	ack.u.ack.reason = reason;
	handle_ack_reason_string(c, &ack);
	/* A subscriber's queue over its limit holds the ack until it has
	 * room again: the publisher's own window slows it down, instead of
	 * the message being dropped after it was acknowledged. */
	gate_ack_msg(c, &ack, deliver_take_blocker(), m);
}

static void
publish_ack(struct conn *c, uint8_t type, uint16_t id, uint8_t reason)
{
	publish_ack_msg(c, type, id, reason, NULL);
}

int
handle_publish(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_publish *p = &pkt->u.publish;
	struct session *s = c->session;
	struct mqtt_str topic = p->topic;
	struct msg *m = NULL, *acked = NULL;
	unsigned n;
	uint8_t reason;
	int rc, denied, target, keep, stale, over_rate = c->rl_refuse;

	c->rl_refuse = 0;
	deliver_take_blocker(); /* left by a routing that acked nobody */
	if (c->version == MQTT_V5) {
		if (p->props.n_sub_ids > 0)
			return MQTT_RC_PROTOCOL_ERROR;
		if ((rc = conn_alias_in(c, p, &topic)) != 0)
			return rc;
	}
	if (!topic_depth_ok(topic.p, topic.len))
		return MQTT_RC_TOPIC_NAME_INVALID;
	/* The cluster's own topics: a client's message there would be
	 * taken for the links' control messages. */
	if (CONN_FROM_OUTSIDE(c) && bridge_reserved_topic(topic.p, topic.len))
		return MQTT_RC_TOPIC_NAME_INVALID;
	if (p->qos > srv.cfg.max_qos)
		return MQTT_RC_QOS_NOT_SUPPORTED;
	if (CONN_FROM_OUTSIDE(c))
		srv.published[p->qos]++;
	/* Over max_publish_rate (read.c): refused, not routed, unless it is
	 * the resend of a QoS 2 message already taken. */
	if (over_rate && !(p->qos == 2 && session_qos2_has(s, p->packet_id))) {
		ratelimit_publish_log(c, "refused with 0x96");
		events_dropped(s, NULL, EVENTS_DROP_RATE_LIMITED);
		publish_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC,
		    p->packet_id, MQTT_RC_MESSAGE_RATE_TOO_HIGH);
		return 0;
	}
	if (p->retain && !srv.cfg.retain_available)
		return MQTT_RC_RETAIN_NOT_SUPPORTED;
	/* A message from a node link was checked on the node its publisher
	 * is connected to. $SYS/ is the node's own (sys.c): a client's
	 * value would stand, retained, until the node next changed it.
	 * $events/ is the node's too (events.c): a back-end must be able
	 * to believe what it reads there. A bridge's message (mqttbridge.c)
	 * came in by a topic line of the operator's, not by a user's rights:
	 * the ACL does not apply to it. */
	denied = CONN_FROM_OUTSIDE(c) && (sys_topic((const char *)topic.p,
	    topic.len) || events_topic((const char *)topic.p, topic.len) ||
	    (acl_active() && c->link == LINK_NONE &&
	    !acl_check(s->username, s->client_id,
	    (const char *)topic.p, topic.len, ACL_WRITE)));
	if (denied)
		events_dropped(s, NULL, EVENTS_DROP_NOT_AUTHORIZED);
	if (denied && (p->qos == 0 || c->version == MQTT_V5)) {
		if (p->qos > 0)
			publish_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC,
			    p->packet_id, MQTT_RC_NOT_AUTHORIZED);
		return 0;
	}
	if (c->version == MQTT_V5 &&
	    MQTT_PROP_HAS(&p->props, MQTT_PROP_PAYLOAD_FORMAT) &&
	    p->props.payload_format == 1 &&
	    !mqtt_utf8_valid(p->payload.p, p->payload.len)) {
		/* Declared UTF-8 but is not (MQTT-3.3.2-4 lets the receiver
		 * check): refused, not routed. */
		if (p->qos == 0)
			return MQTT_RC_PAYLOAD_FORMAT_INVALID;
		publish_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC,
		    p->packet_id, MQTT_RC_PAYLOAD_FORMAT_INVALID);
		return 0;
	}
	if (p->qos == 2) {
		if (session_qos2_has(s, p->packet_id)) {
			publish_ack(c, MQTT_PUBREC, p->packet_id,
			    MQTT_RC_SUCCESS);
			return 0;
		}
		if (s->n_qos2_in >= srv.cfg.receive_maximum)
			return MQTT_RC_RECEIVE_MAX_EXCEEDED;
	}
	/* Acks held for a slow subscriber's room (gate.c): a client past
	 * its window while they wait is closed, not read on, so that what
	 * a full queue takes is bounded (deliver_enqueue). */
	if (p->qos > 0 && CONN_FROM_OUTSIDE(c) &&
	    c->n_window_owed >= srv.cfg.receive_maximum)
		return MQTT_RC_RECEIVE_MAX_EXCEEDED;
	/* Past the retained bounds (see above). A node link's message was
	 * let in where its publisher is connected; it is checked below, on
	 * the message, against this node's own bounds. */
	keep = p->retain && !denied;
	if (keep && CONN_FROM_OUTSIDE(c) && !retain_room((const char *)topic.p,
	    topic.len, msg_publish_size(p, topic.len), p->payload.len == 0)) {
		if (c->version == MQTT_V5 && p->qos > 0) {
			events_dropped(s, NULL, EVENTS_DROP_QUOTA_EXCEEDED);
			publish_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC,
			    p->packet_id, MQTT_RC_QUOTA_EXCEEDED);
			return 0;
		}
		keep = 0;
	}
	/* Before routing: its write is part of what the PUBREC waits
	 * for, and of what decides whether the deliveries wait. */
	if (p->qos == 2)
		session_qos2_add(s, p->packet_id);
	if (denied) {
		n = 1; /* 3.1.1: acknowledged as usual, not routed */
	} else {
		m = c->link == LINK_IN ? bridge_msg_in(c, p, topic.p,
		    topic.len) : receipt_clean(bridge_msg_clean(msg_from_publish(p,
		    topic.p, topic.len)));
		target = c->link == LINK_IN && bridge_in_target();
		/* A client's QoS 1/2 message notes whom it reaches until
		 * its commit (resend.c); the resend of a refused one is
		 * known. */
		if (CONN_FROM_OUTSIDE(c) && p->qos > 0 && srv.store != NULL) {
			resend_track(m);
			resend_adopt(s, m);
		}
		/* QoS 2 deliveries wait until it is known whether the
		 * PUBREC waits for a commit (deliver_settle). */
		m->settling = p->qos == 2 && !target;
		/* A presence message read after a later one of its client
		 * (from another node) is dropped: it would undo it. */
		stale = c->link == LINK_IN && !target && presence_stale(m);
		if (keep && !stale && (CONN_FROM_OUTSIDE(c) ||
		    retain_room(m->topic, m->topic_len, msg_size(m),
		    m->payload_len == 0)))
			retain_store(m);
		n = stale ? 1 : target ?
		    bridge_deliver_target(conn_ax(c)->link_ctx, m) :
		    deliver_route(m, s);
		if (m->settling)
			deliver_settle(m, srv.writes != c->gate_writes);
		if (m->tracking && srv.writes == c->gate_writes) {
			resend_done(m); /* no commit to wait for */
		} else if (m->tracking) {
			resend_keep(m);
			acked = m;
		}
	}
	reason = n == 0 ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : MQTT_RC_SUCCESS;
	if (p->qos == 1)
		publish_ack_msg(c, MQTT_PUBACK, p->packet_id, reason, acked);
	else if (p->qos == 2)
		publish_ack_msg(c, MQTT_PUBREC, p->packet_id, reason, acked);
	msg_unref(m);
	return 0;
}
