/*
 * handle_disconnect.c - DISCONNECT, PINGREQ and AUTH from a client
 * (MQTT 5.0 sections 3.12, 3.14, 3.15).
 *
 * A DISCONNECT with reason 0x00 discards the will (MQTT-3.14.4-3); any
 * other reason (0x04 disconnect with will message, or an error) keeps it.
 * A v5 DISCONNECT may change the Session Expiry Interval, but not from 0
 * to non-zero (MQTT-3.14.2-2).
 * AUTH belongs to an enhanced authentication exchange before CONNACK
 * (auth.c); outside one (and as re-authentication after CONNACK, which is
 * not offered) it is a protocol error.
 */
#include "config.h"

#include <string.h>

#include "broker.h"

int
handle_disconnect(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_reason *r = &pkt->u.reason;
	struct session *s = c->session;

	if (c->version == MQTT_V5) {
		if (MQTT_PROP_HAS(&r->props, MQTT_PROP_SESSION_EXPIRY)) {
			if (s->expiry == 0 && r->props.session_expiry != 0)
				return MQTT_RC_PROTOCOL_ERROR;
			s->expiry = r->props.session_expiry;
			s->persistent = s->expiry != 0;
		}
		/* Only 0x00 discards the will (MQTT-3.14.4-3): 0x04 asks for
		 * it, and so does any error a client reports. */
		c->will_pending = r->reason != MQTT_RC_SUCCESS;
	} else {
		c->will_pending = 0;
	}
	c->said_bye = 1;
	conn_close(c, MQTT_RC_SUCCESS, "client disconnected");
	return 0;
}

int
handle_pingreq(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_packet resp;

	memset(&resp, 0, sizeof resp);
	resp.type = MQTT_PINGRESP;
	conn_send(c, &resp);
	return 0;
}

int
handle_auth(struct conn *c, struct mqtt_packet *pkt)
{
	if (c->state == CONN_NEW && conn_ax(c)->auth_ex != NULL &&
	    !auth_exchange_done(c))
		return auth_continue(c, pkt);
	return MQTT_RC_PROTOCOL_ERROR;
}
