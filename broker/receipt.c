/*
 * receipt.c - message ids for clients and delivery receipts (the
 * instant-messaging part of tern; docs/ARCHITECTURE.md, "Message ids and
 * delivery receipts").
 *
 * Message ids. Every message has the cluster-wide identity of
 * bridge/forward.c (origin node hash, sequence of that node), given where
 * it enters the cluster and carried on links, in moves and in the store.
 * A node without node_name gives one only when something needs it
 * (receipt_wants_id, from deliver_route): message_id_property is on,
 * push_webhook is set (push.c), or the message asks for a receipt; its
 * origin is the hash of the empty name. With message_id_property, every
 * PUBLISH to a v5 client carries it as the user property "tern-mid"
 * (deliver.c, last among the user properties), in the text form of
 * receipt_mid(): the origin, then the sequence, 11 base64url digits each
 * (A-Z a-z 0-9 - _, most significant first), 22 characters, the same on
 * every node and across moves. A
 * client's own "tern-mid" properties are dropped on arrival then
 * (receipt_clean): ids are predictable, and one forged ahead of a real
 * message would make the recipient's app drop that as a duplicate.
 *
 * Delivery receipts. A message with the user property "receipt-to" (the
 * first one counts) asks for one: when the recipient's client
 * acknowledges its delivery (PUBACK; at QoS 2 the PUBREC that moves it
 * from sent to released, deliver.c, so a PUBREC again, after a
 * reconnect, a move or a restart, finds it released and sends nothing),
 * the node where the ack arrives publishes at QoS 1 on that topic
 *   {"status":"delivered","message_id":"<tern-mid>","to":"<client id>",
 *    "topic":"<topic>","at":<unix ms>}
 * with the message's Correlation Data, Payload Format Indicator 1 and
 * Content Type application/json, as if the recipient had published it:
 * the ACL must let the recipient write there (checked quietly: the topic
 * is the sender's choice), No Local holds for the recipient, and it is
 * routed and forwarded as any message. The receipt has no user
 * properties, so it never asks for a receipt itself. "receipt-to" is a
 * user property like any other: it is stored, forwarded and moved with
 * the message (so the node where the ack comes has it, whichever that
 * is), and the recipient sees it too (its app may send its read receipt
 * there). A value that is not a topic name a client could publish to
 * (empty, wildcards, "$" topics, over max_topic_length or
 * max_topic_levels, not UTF-8) is ignored with a debug line.
 *
 * The receipt is routed within the PUBACK's or PUBREC's loop pass, so
 * its store writes (a persistent subscriber's queue, a forward queue) go
 * in the same commit as the delivery's end or its released state: after
 * a crash either both happened or neither did.
 */
#include "config.h"

#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define RECEIPT_TO "receipt-to"
#define RECEIPT_MID "tern-mid"

int
receipt_wants_id(const struct msg *m)
{
	struct mqtt_str v;

	/* push.c's events name the message by its id too. */
	return srv.cfg.message_id_property || srv.cfg.push_webhook != NULL ||
	    msg_user_get(m, RECEIPT_TO, &v);
}

void
receipt_mid(const struct msg *m, char *out)
{
	bridge_b64(m->id_origin, out);
	bridge_b64(m->id_seq, out + 11);
}

size_t
receipt_mid_prop(const struct msg *m, uint8_t *buf)
{
	size_t kl = sizeof RECEIPT_MID - 1;
	uint8_t *p = buf;

	*p++ = MQTT_PROP_USER;
	*p++ = 0;
	*p++ = (uint8_t)kl;
	memcpy(p, RECEIPT_MID, kl);
	p += kl;
	*p++ = 0;
	*p++ = RECEIPT_MID_LEN;
	receipt_mid(m, (char *)p);
	p += RECEIPT_MID_LEN;
	return (size_t)(p - buf);
}

struct msg *
receipt_clean(struct msg *m)
{
	struct mqtt_props props, keep;
	struct mqtt_str k, v, wire, payload;
	uint32_t pos, start;
	uint8_t *buf, *u;
	struct msg *clean;

	if (!srv.cfg.message_id_property || !msg_user_get(m, RECEIPT_MID, &v))
		return m;
	memset(&props, 0, sizeof props);
	props.raw = m->user;
	props.raw_len = m->user_len;
	u = buf = xmalloc(m->user_len);
	for (pos = 0, start = 0; mqtt_props_user_next(&props, &pos, &k, &v);
	    start = pos) {
		if (k.len == sizeof RECEIPT_MID - 1 &&
		    memcmp(k.p, RECEIPT_MID, k.len) == 0)
			continue;
		memcpy(u, m->user + start, pos - start);
		u += pos - start;
	}
	wire.p = buf;
	wire.len = (uint32_t)(u - buf);
	payload.p = m->payload;
	payload.len = m->payload_len;
	msg_props(m, &keep);
	clean = msg_from_parts(&keep, &wire, (const uint8_t *)m->topic,
	    m->topic_len, payload, m->qos, m->retain);
	free(buf);
	msg_unref(m);
	return clean;
}

/* 1 when t may take a receipt: a topic name a client could publish to,
 * not a "$" topic. */
static int
receipt_topic_ok(struct mqtt_str t)
{
	return t.len > 0 && t.p[0] != '$' &&
	    mqtt_utf8_valid(t.p, t.len) && mqtt_topic_name_valid(t.p, t.len) &&
	    topic_depth_ok(t.p, t.len);
}

/* Topics and client ids are UTF-8, passed as they are but for the
 * characters JSON must escape (broker.h). */
char *
receipt_json_str(char *p, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char ch;
	size_t i;

	*p++ = '"';
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			*p++ = '\\';
			*p++ = (char)ch;
		} else if (ch < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[ch >> 4];
			p[5] = hex[ch & 15];
			p += 6;
		} else {
			*p++ = (char)ch;
		}
	}
	*p++ = '"';
	return p;
}

void
receipt_acked(struct session *s, const struct msg *m)
{
	struct mqtt_str to, payload;
	struct mqtt_props props;
	struct timeval tv;
	struct msg *r;
	char *buf, *p, mid[RECEIPT_MID_LEN];
	size_t cap;
	unsigned long long ms;

	/* A node's forward queue or link, or a bridge's session: the other
	 * node or broker acknowledged a forward, not the recipient's
	 * device. */
	if (m->user_len == 0 || session_cl(s)->peer != NULL ||
	    session_cl(s)->cluster_in ||
	    session_cl(s)->xb != NULL ||
	    !srv.cfg.delivery_receipts || !msg_user_get(m, RECEIPT_TO, &to))
		return;
	if (!receipt_topic_ok(to)) {
		log_debug("receipt for %s from %s not sent: receipt-to is not "
		    "a topic it may take", m->topic, s->client_id);
		return;
	}
	if (acl_active() && !acl_may(s->username, s->client_id,
	    (const char *)to.p, to.len, ACL_WRITE)) {
		log_debug("receipt for %s from %s not sent: it may not write "
		    "on %.*s", m->topic, s->client_id, (int)to.len,
		    (const char *)to.p);
		return;
	}
	gettimeofday(&tv, NULL);
	ms = (unsigned long long)tv.tv_sec * 1000 +
	    (unsigned long long)tv.tv_usec / 1000;
	cap = 128 + 6 * (s->id_len + m->topic_len);
	p = buf = xmalloc(cap);
	p += sprintf(p, "{\"status\":\"delivered\",\"message_id\":");
	if (m->id_origin != 0) {
		receipt_mid(m, mid);
		p = receipt_json_str(p, mid, sizeof mid);
	} else {
		/* Stored or forwarded by a version that gave it none. */
		p += sprintf(p, "null");
	}
	p += sprintf(p, ",\"to\":");
	p = receipt_json_str(p, s->client_id, s->id_len);
	p += sprintf(p, ",\"topic\":");
	p = receipt_json_str(p, m->topic, m->topic_len);
	p += sprintf(p, ",\"at\":%llu}", ms);

	msg_json_props(&props);
	if (m->correlation_data.p != NULL) {
		MQTT_PROP_SET(&props, MQTT_PROP_CORRELATION_DATA);
		props.correlation_data = m->correlation_data;
	}
	payload.p = (const uint8_t *)buf;
	payload.len = (uint32_t)(p - buf);
	r = msg_from_parts(&props, NULL, to.p, to.len, payload, 1, 0);
	free(buf);
	log_debug("receipt for %s from %s on %s", m->topic, s->client_id,
	    r->topic);
	deliver_route(r, s);
	/* Nobody's ack waits for the receipt's room: a subscriber over its
	 * limit takes it as any message (deliver.c). */
	deliver_take_blocker();
	msg_unref(r);
}
