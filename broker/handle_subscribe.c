/*
 * handle_subscribe.c - SUBSCRIBE / SUBACK and UNSUBSCRIBE / UNSUBACK
 * (MQTT 5.0 sections 3.8-3.11; 3.1.1 sections 3.8-3.11).
 *
 * Each filter is checked on its own: a bad filter gets 0x8F in a v5 SUBACK
 * (0x80 in 3.1.1) and the others still succeed (MQTT-3.8.4-6). The granted
 * QoS is the requested one (this node supports QoS 2). A subscription to a
 * filter the session already holds replaces it (MQTT-3.8.4-3). Retained
 * messages are sent after the SUBACK, as Retain Handling says: 0 always,
 * 1 only for a new subscription, 2 never; never for a shared subscription
 * (section 4.8.2).
 *
 * Switched-off features: a wildcard filter gets 0xA2, a shared one 0x9E
 * (3.1.1: 0x80 for both); a Subscription Identifier is a protocol error
 * answered with DISCONNECT 0xA1 (section 3.2.2.3.12); the granted
 * QoS is capped at max_qos.
 *
 * A filter longer than max_topic_length or deeper than max_topic_levels
 * is invalid (0x8F). A new filter past max_subscriptions_per_client gets
 * 0x97 (quota exceeded; 3.1.1: 0x80).
 *
 * With acl_file set, a filter the client may not subscribe to (acl.c)
 * gets 0x87 in a v5 SUBACK, 0x80 in 3.1.1, and no subscription. What a
 * granted subscription brings is still checked per message (read).
 * Without acl_file, a filter under $events (events.c, $share ones too)
 * gets the same refusal: the node's events are for whom the ACL names.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"

struct sub_retained {
	const uint8_t *filter;
	uint32_t len;
	uint8_t qos;
	uint8_t deliver;
};

/* A SUBACK with a failure code says why, unless the client asked for no
 * problem information (MQTT-3.1.2-29). */
static void
subscribe_reason_string(const struct conn *c, struct mqtt_packet *ack)
{
	const char *why = NULL;
	uint32_t i;

	if (c->version != MQTT_V5 || !c->problem_info)
		return;
	for (i = 0; i < ack->u.suback.count && why == NULL; i++) {
		if (ack->u.suback.codes[i] >= 0x80)
			why = mqtt_rc_name(ack->u.suback.codes[i]);
	}
	if (why == NULL)
		return;
	MQTT_PROP_SET(&ack->u.suback.props, MQTT_PROP_REASON_STRING);
	ack->u.suback.props.reason_string.p = (const uint8_t *)why;
	ack->u.suback.props.reason_string.len = (uint32_t)strlen(why);
}

int
handle_subscribe(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_subscribe *sp = &pkt->u.subscribe;
	struct mqtt_packet ack;
	struct mqtt_sub_iter it;
	struct mqtt_str filter;
	struct sub_retained *ret;
	struct hash *seen = NULL;
	uint8_t *codes, options, qos, rh;
	uint32_t i = 0, n_ret = 0, sub_id = 0;
	int is_new, shared;

	if (c->version == MQTT_V5 &&
	    MQTT_PROP_HAS(&sp->props, MQTT_PROP_SUBSCRIPTION_ID)) {
		if (!srv.cfg.subscription_identifier_available)
			return MQTT_RC_SUB_IDS_NOT_SUPPORTED;
		sub_id = sp->props.sub_id;
	}
	codes = xmalloc(sp->count);
	ret = xreallocarray(NULL, sp->count, sizeof *ret);
	mqtt_sub_iter_init(&it, pkt);
	while (mqtt_sub_next(&it, &filter, &options)) {
		if (!mqtt_topic_filter_valid(filter.p, filter.len) ||
		    !topic_depth_ok(filter.p, filter.len)) {
			codes[i++] = c->version == MQTT_V5 ?
			    MQTT_RC_TOPIC_FILTER_INVALID : 0x80;
			continue;
		}
		shared = mqtt_topic_shared(filter.p, filter.len, NULL, NULL);
		if (shared && !srv.cfg.shared_subscription_available) {
			codes[i++] = c->version == MQTT_V5 ?
			    MQTT_RC_SHARED_SUB_NOT_SUPPORTED : 0x80;
			continue;
		}
		if (!srv.cfg.wildcard_subscription_available &&
		    (memchr(filter.p, '+', filter.len) != NULL ||
		    memchr(filter.p, '#', filter.len) != NULL)) {
			codes[i++] = c->version == MQTT_V5 ?
			    MQTT_RC_WILDCARD_SUB_NOT_SUPPORTED : 0x80;
			continue;
		}
		/* $events/ (events.c) is read by the ACL's grant alone:
		 * without acl_file nobody may. */
		if (c->link == LINK_NONE && !acl_active() &&
		    events_filter(filter.p, filter.len)) {
			log_notice("%s may not subscribe to %.*s: $events/ "
			    "needs acl_file", conn_label(c), (int)filter.len,
			    (const char *)filter.p);
			codes[i++] = c->version == MQTT_V5 ?
			    MQTT_RC_NOT_AUTHORIZED : 0x80;
			continue;
		}
		if (c->link == LINK_NONE && acl_active() &&
		    !acl_check(c->session->username,
		    c->session->client_id, (const char *)filter.p, filter.len,
		    ACL_SUBSCRIBE)) {
			codes[i++] = c->version == MQTT_V5 ?
			    MQTT_RC_NOT_AUTHORIZED : 0x80;
			continue;
		}
		/* max_subscriptions_per_client: a new filter past it is
		 * refused, one the session holds may still be replaced. */
		if (c->link == LINK_NONE &&
		    srv.cfg.max_subscriptions_per_client != 0 &&
		    c->session->n_subs >=
		    srv.cfg.max_subscriptions_per_client &&
		    (c->session->sub_index == NULL ||
		    hash_get(c->session->sub_index, filter.p,
		    filter.len) == NULL)) {
			codes[i++] = c->version == MQTT_V5 ?
			    MQTT_RC_QUOTA_EXCEEDED : 0x80;
			continue;
		}
		qos = MQTT_SUBOPT_QOS(options);
		if (qos > srv.cfg.max_qos) {
			qos = (uint8_t)srv.cfg.max_qos;
			options = (uint8_t)((options & ~0x03) | qos);
		}
		rh = MQTT_SUBOPT_RH(options);
		is_new = session_subscribe(c->session,
		    (const char *)filter.p, filter.len, options, sub_id);
		log_debug("%s subscribed to %.*s (QoS %u)", conn_label(c),
		    (int)filter.len, (const char *)filter.p, qos);
		codes[i++] = qos;
		if (!shared && (rh == 0 || (rh == 1 && is_new))) {
			ret[n_ret].filter = filter.p;
			ret[n_ret].len = filter.len;
			ret[n_ret].qos = qos;
			ret[n_ret].deliver = 0;
			n_ret++;
		}
	}
	memset(&ack, 0, sizeof ack);
	ack.type = MQTT_SUBACK;
	ack.u.suback.packet_id = sp->packet_id;
	ack.u.suback.count = i;
	ack.u.suback.codes = codes;
	subscribe_reason_string(c, &ack);
	/* After the commit when the subscriptions of a persistent session
	 * were written: a SUBACK promises them; and in a cluster after the
	 * other nodes have the routes (the ack gate, gate.c). */
	gate_ack(c, &ack, NULL);
	/* A filter given twice gets its retained messages once (the later
	 * entry's QoS wins, as its subscription replaced the earlier). */
	if (n_ret > 1)
		seen = hash_new();
	for (i = n_ret; i-- > 0;) {
		if (seen != NULL) {
			if (hash_get(seen, ret[i].filter, ret[i].len) != NULL)
				continue;
			hash_put(seen, ret[i].filter, ret[i].len, ret);
		}
		ret[i].deliver = 1;
	}
	for (i = 0; i < n_ret; i++) {
		if (ret[i].deliver)
			retain_deliver(c->session,
			    (const char *)ret[i].filter, ret[i].len,
			    ret[i].qos, sub_id);
	}
	if (seen != NULL)
		hash_free(seen);
	free(codes);
	free(ret);
	return 0;
}

int
handle_unsubscribe(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_subscribe *sp = &pkt->u.subscribe;
	struct mqtt_packet ack;
	struct mqtt_sub_iter it;
	struct mqtt_str filter;
	uint8_t *codes, options;
	uint32_t i = 0;

	codes = xmalloc(sp->count);
	mqtt_sub_iter_init(&it, pkt);
	while (mqtt_sub_next(&it, &filter, &options)) {
		codes[i++] = session_unsubscribe(c->session,
		    (const char *)filter.p, filter.len) ?
		    MQTT_RC_SUCCESS : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
	}
	memset(&ack, 0, sizeof ack);
	ack.type = MQTT_UNSUBACK;
	ack.u.suback.packet_id = sp->packet_id;
	ack.u.suback.count = c->version == MQTT_V5 ? i : 0;
	ack.u.suback.codes = codes;
	gate_ack(c, &ack, NULL);
	free(codes);
	return 0;
}
