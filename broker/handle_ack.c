/*
 * handle_ack.c - PUBACK, PUBREC, PUBREL, PUBCOMP from a client (MQTT 5.0
 * sections 3.4-3.7, 4.3.2, 4.3.3).
 *
 * The outgoing side lives in deliver.c: an acknowledgement ends or
 * advances the in-flight entry and lets the next queued message go. An ack
 * for an unknown packet id is ignored (it can follow a resend after a
 * reconnect). PUBREL ends an incoming QoS 2 flow: the id is forgotten and
 * PUBCOMP sent, with 0x92 in v5 when the id was not known.
 *
 * A failure reason code goes with a Reason String unless the client asked
 * for no problem information (MQTT-3.1.2-29).
 */
#include "config.h"

#include <string.h>

#include "broker.h"

void
handle_ack_reason_string(const struct conn *c, struct mqtt_packet *ack)
{
	const char *why;

	if (c->version != MQTT_V5 || !c->problem_info ||
	    ack->u.ack.reason < 0x80)
		return;
	why = mqtt_rc_name(ack->u.ack.reason);
	MQTT_PROP_SET(&ack->u.ack.props, MQTT_PROP_REASON_STRING);
	ack->u.ack.props.reason_string.p = (const uint8_t *)why;
	ack->u.ack.props.reason_string.len = (uint32_t)strlen(why);
}

int
handle_puback(struct conn *c, struct mqtt_packet *pkt)
{
	deliver_puback(c->session, pkt->u.ack.packet_id);
	return 0;
}

int
handle_pubrec(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_packet rel;

	if (deliver_pubrec(c->session, pkt->u.ack.packet_id,
	    pkt->u.ack.reason) != 0 && pkt->u.ack.reason < 0x80) {
		/* Unknown id: release it anyway so the client can finish. */
		memset(&rel, 0, sizeof rel);
		rel.type = MQTT_PUBREL;
		rel.flags = 0x02;
		rel.u.ack.packet_id = pkt->u.ack.packet_id;
		rel.u.ack.reason = MQTT_RC_PACKET_ID_NOT_FOUND;
		handle_ack_reason_string(c, &rel);
		conn_send(c, &rel);
	}
	return 0;
}

int
handle_pubrel(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_packet comp;
	int known = session_qos2_remove(c->session, pkt->u.ack.packet_id);

	memset(&comp, 0, sizeof comp);
	comp.type = MQTT_PUBCOMP;
	comp.u.ack.packet_id = pkt->u.ack.packet_id;
	comp.u.ack.reason = known ? MQTT_RC_SUCCESS :
	    MQTT_RC_PACKET_ID_NOT_FOUND;
	handle_ack_reason_string(c, &comp);
	/* After the id's removal is on disk: a restart must not take a new
	 * message reusing the id for a duplicate. */
	gate_ack(c, &comp, NULL);
	return 0;
}

int
handle_pubcomp(struct conn *c, struct mqtt_packet *pkt)
{
	deliver_pubcomp(c->session, pkt->u.ack.packet_id);
	return 0;
}
