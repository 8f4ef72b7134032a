/*
 * handle_publish.c - PUBLISH from a client (MQTT 5.0 section 3.3, 4.3).
 *
 * QoS 0: routed. QoS 1: routed, then PUBACK. QoS 2 (method B of section
 * 4.3.3): routed on the first PUBLISH of a packet id, the id remembered
 * until PUBREL; a PUBLISH again with that id (DUP) is acknowledged with
 * PUBREC but not routed again, so it is delivered exactly once.
 * v5 acknowledgements carry 0x10 (no matching subscribers) when nobody
 * got the message. This release advertises Topic Alias Maximum 0, so an
 * alias is answered with 0x94 (MQTT-3.3.2-9).
 *
 * Incoming QoS 2 ids are bounded by RECEIVE_MAX (advertised to v5 clients
 * as Receive Maximum in CONNACK): a client with more unreleased QoS 2
 * messages gets 0x93 (MQTT-3.3.4-8) or, in 3.x, a close. QoS 1 needs no
 * bound: it is acknowledged at once.
 */
#include "config.h"

#include <string.h>

#include "broker.h"

static void
publish_ack(struct conn *c, uint8_t type, uint16_t id, uint8_t reason)
{
	struct mqtt_packet ack;

	memset(&ack, 0, sizeof ack);
	ack.type = type;
	ack.u.ack.packet_id = id;
	ack.u.ack.reason = reason;
	conn_send(c, &ack);
}

int
handle_publish(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_publish *p = &pkt->u.publish;
	struct session *s = c->session;
	struct msg *m;
	unsigned n;
	uint8_t reason;

	if (c->version == MQTT_V5) {
		if (MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS))
			return MQTT_RC_TOPIC_ALIAS_INVALID;
		if (p->props.n_sub_ids > 0)
			return MQTT_RC_PROTOCOL_ERROR;
	}
	if (p->qos == 2) {
		if (session_qos2_has(s, p->packet_id)) {
			publish_ack(c, MQTT_PUBREC, p->packet_id,
			    MQTT_RC_SUCCESS);
			return 0;
		}
		if (s->n_qos2_in >= RECEIVE_MAX)
			return MQTT_RC_RECEIVE_MAX_EXCEEDED;
	}
	m = msg_from_publish(p, p->topic.p, p->topic.len, s);
	if (p->retain)
		retain_store(m);
	n = deliver_route(m, s);
	msg_unref(m);
	reason = n == 0 ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : MQTT_RC_SUCCESS;
	if (p->qos == 1) {
		publish_ack(c, MQTT_PUBACK, p->packet_id, reason);
	} else if (p->qos == 2) {
		session_qos2_add(s, p->packet_id);
		publish_ack(c, MQTT_PUBREC, p->packet_id, reason);
	}
	return 0;
}
