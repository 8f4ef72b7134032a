/*
 * msg.c - the application message: one allocation, immutable, refcounted.
 *
 * A PUBLISH that reaches a thousand subscribers is copied once, here: the
 * struct, the topic, the payload and the properties that travel with the
 * message (payload format, message expiry, content type, response topic,
 * correlation data, user properties in wire form) share one block. Every
 * queue entry, in-flight slot and the retained tree hold a reference;
 * routing takes no reference of its own beyond the caller's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "store.h"

/* Copy a view into the block at *p; returns the new view. */
static struct mqtt_str
msg_put(uint8_t **p, struct mqtt_str s)
{
	struct mqtt_str out = { NULL, s.len };

	if (s.len > 0) {
		memcpy(*p, s.p, s.len);
		out.p = *p;
		*p += s.len;
	}
	return out;
}

/* user_wire, when not NULL, gives the user properties already in wire
 * form (from the store) instead of props' decoded ones. */
static struct msg *
msg_make(const struct mqtt_props *props, const struct mqtt_str *user_wire,
    const uint8_t *topic, uint32_t topic_len, struct mqtt_str payload,
    uint8_t qos, uint8_t retain)
{
	struct mqtt_str ct = { NULL, 0 }, rt = { NULL, 0 }, cd = { NULL, 0 };
	uint32_t user_len = 0;
	size_t size;
	struct msg *m;
	uint8_t *p;

	if (props != NULL) {
		if (MQTT_PROP_HAS(props, MQTT_PROP_CONTENT_TYPE))
			ct = props->content_type;
		if (MQTT_PROP_HAS(props, MQTT_PROP_RESPONSE_TOPIC))
			rt = props->response_topic;
		if (MQTT_PROP_HAS(props, MQTT_PROP_CORRELATION_DATA))
			cd = props->correlation_data;
		if (user_wire != NULL)
			user_len = user_wire->len;
		else if (props->n_user > 0)
			user_len = mqtt_props_user_size(props);
	}
	size = sizeof *m + (size_t)topic_len + 1 + payload.len + ct.len +
	    rt.len + cd.len + user_len;
	m = xmalloc(size);
	memset(m, 0, sizeof *m);
	m->refs = 1;
	m->qos = qos;
	m->retain = retain;
	m->received = time(NULL);
	p = (uint8_t *)(m + 1);

	m->topic = (char *)p;
	memcpy(p, topic, topic_len);
	p[topic_len] = '\0';
	m->topic_len = topic_len;
	p += topic_len + 1;

	m->payload = p;
	m->payload_len = payload.len;
	if (payload.len > 0)
		memcpy(p, payload.p, payload.len);
	p += payload.len;

	if (props != NULL) {
		if (MQTT_PROP_HAS(props, MQTT_PROP_PAYLOAD_FORMAT)) {
			m->has_payload_format = 1;
			m->payload_format = props->payload_format;
		}
		if (MQTT_PROP_HAS(props, MQTT_PROP_MESSAGE_EXPIRY)) {
			m->has_expiry = 1;
			m->expiry = props->message_expiry;
		}
		m->content_type = msg_put(&p, ct);
		m->response_topic = msg_put(&p, rt);
		m->correlation_data = msg_put(&p, cd);
		if (user_len > 0) {
			m->user = p;
			if (user_wire != NULL) {
				memcpy(p, user_wire->p, user_len);
				m->user_len = user_len;
			} else {
				m->user_len = mqtt_props_user_copy(props, p);
			}
		}
		/* Keep the presence of empty strings, which are legal. */
		if (MQTT_PROP_HAS(props, MQTT_PROP_CONTENT_TYPE) &&
		    m->content_type.p == NULL)
			m->content_type.p = p;
		if (MQTT_PROP_HAS(props, MQTT_PROP_RESPONSE_TOPIC) &&
		    m->response_topic.p == NULL)
			m->response_topic.p = p;
		if (MQTT_PROP_HAS(props, MQTT_PROP_CORRELATION_DATA) &&
		    m->correlation_data.p == NULL)
			m->correlation_data.p = p;
	}
	return m;
}

struct msg *
msg_from_publish(const struct mqtt_publish *pub, const uint8_t *topic,
    uint32_t topic_len)
{
	return msg_make(&pub->props, NULL, topic, topic_len, pub->payload,
	    pub->qos, pub->retain);
}

struct msg *
msg_from_publish_user(const struct mqtt_publish *pub, const uint8_t *topic,
    uint32_t topic_len, const struct mqtt_str *user)
{
	return msg_make(&pub->props, user, topic, topic_len, pub->payload,
	    pub->qos, pub->retain);
}

struct msg *
msg_from_parts(const struct mqtt_props *props, const struct mqtt_str *user,
    const uint8_t *topic, uint32_t topic_len, struct mqtt_str payload,
    uint8_t qos, uint8_t retain)
{
	return msg_make(props, user, topic, topic_len, payload, qos, retain);
}

void
msg_json_props(struct mqtt_props *props)
{
	memset(props, 0, sizeof *props);
	MQTT_PROP_SET(props, MQTT_PROP_PAYLOAD_FORMAT);
	props->payload_format = 1;
	MQTT_PROP_SET(props, MQTT_PROP_CONTENT_TYPE);
	props->content_type.p = (const uint8_t *)"application/json";
	props->content_type.len = sizeof "application/json" - 1;
}

int
msg_user_get(const struct msg *m, const char *key, struct mqtt_str *v)
{
	struct mqtt_props props;
	struct mqtt_str k;
	uint32_t pos = 0;
	size_t kl = strlen(key);

	if (m->user_len == 0)
		return 0;
	memset(&props, 0, sizeof props);
	props.raw = m->user;
	props.raw_len = m->user_len;
	while (mqtt_props_user_next(&props, &pos, &k, v)) {
		if (k.len == kl && memcmp(k.p, key, kl) == 0)
			return 1;
	}
	return 0;
}

struct msg *
msg_with_user(const struct msg *m, const uint8_t *extra, uint32_t extra_len)
{
	struct mqtt_props props;
	struct mqtt_str wire, payload = { m->payload, m->payload_len };
	uint8_t *buf;
	struct msg *copy;

	msg_props(m, &props);
	buf = xmalloc((size_t)m->user_len + extra_len);
	if (m->user_len > 0)
		memcpy(buf, m->user, m->user_len);
	memcpy(buf + m->user_len, extra, extra_len);
	wire.p = buf;
	wire.len = m->user_len + extra_len;
	copy = msg_make(&props, &wire, (const uint8_t *)m->topic,
	    m->topic_len, payload, m->qos, m->retain);
	copy->id_origin = m->id_origin;
	copy->id_seq = m->id_seq;
	free(buf);
	return copy;
}

struct msg *
msg_from_will(const struct mqtt_connect *c)
{
	return msg_make(c->version == MQTT_V5 ? &c->will_props : NULL, NULL,
	    c->will_topic.p, c->will_topic.len, c->will_payload, c->will_qos,
	    c->will_retain);
}

size_t
msg_size(const struct msg *m)
{
	return sizeof *m + (size_t)m->topic_len + 1 + m->payload_len +
	    m->content_type.len + m->response_topic.len +
	    m->correlation_data.len + m->user_len;
}

/* As msg_make() counts it. */
size_t
msg_publish_size(const struct mqtt_publish *p, uint32_t topic_len)
{
	const struct mqtt_props *props = &p->props;
	size_t size = sizeof(struct msg) + (size_t)topic_len + 1 +
	    p->payload.len;

	if (MQTT_PROP_HAS(props, MQTT_PROP_CONTENT_TYPE))
		size += props->content_type.len;
	if (MQTT_PROP_HAS(props, MQTT_PROP_RESPONSE_TOPIC))
		size += props->response_topic.len;
	if (MQTT_PROP_HAS(props, MQTT_PROP_CORRELATION_DATA))
		size += props->correlation_data.len;
	if (props->n_user > 0)
		size += mqtt_props_user_size(props);
	return size;
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m == NULL)
		return;
	if (--m->refs == 0) {
		resend_track_free(m->track);
		free(m);
	}
}

int
msg_has_props(const struct msg *m)
{
	return m->has_payload_format || m->has_expiry ||
	    m->content_type.p != NULL || m->response_topic.p != NULL ||
	    m->correlation_data.p != NULL || m->user_len > 0;
}

void
msg_props(const struct msg *m, struct mqtt_props *props)
{
	time_t now, age;

	memset(props, 0, sizeof *props);
	if (m->has_payload_format) {
		MQTT_PROP_SET(props, MQTT_PROP_PAYLOAD_FORMAT);
		props->payload_format = m->payload_format;
	}
	if (m->has_expiry) {
		/* The remaining interval (MQTT-3.3.2-6). */
		now = time(NULL);
		age = now > m->received ? now - m->received : 0;
		MQTT_PROP_SET(props, MQTT_PROP_MESSAGE_EXPIRY);
		props->message_expiry = (uint32_t)age < m->expiry ?
		    m->expiry - (uint32_t)age : 1;
	}
	if (m->content_type.p != NULL) {
		MQTT_PROP_SET(props, MQTT_PROP_CONTENT_TYPE);
		props->content_type = m->content_type;
	}
	if (m->response_topic.p != NULL) {
		MQTT_PROP_SET(props, MQTT_PROP_RESPONSE_TOPIC);
		props->response_topic = m->response_topic;
	}
	if (m->correlation_data.p != NULL) {
		MQTT_PROP_SET(props, MQTT_PROP_CORRELATION_DATA);
		props->correlation_data = m->correlation_data;
	}
	if (m->user_len > 0) {
		props->user.p = m->user;
		props->user.len = m->user_len;
	}
}

/*
 * The store's property blob: the version byte, one flags byte (bit 0
 * payload format present, bits 1-3 content type, response topic,
 * correlation data present, bit 4 a cluster identity), the payload format
 * byte, in version 2 with bit 4 the identity (origin and sequence, 8
 * bytes each, big endian), then four byte strings each with a 4-byte
 * big-endian length: content type, response topic, correlation data,
 * user properties in wire form. Expiry travels in the store record itself
 * (received_at, expiry_at). Version 1 (no identity) is still read;
 * version 2 is written only for messages with an identity, so a single
 * node's blobs are as before unless message ids or receipts gave its
 * messages one (receipt.c).
 */
#define MSG_PACK_VERSION 1
#define MSG_PACK_VERSION_ID 2

uint32_t
msg_pack_size(const struct msg *m)
{
	return 3 + (m->id_origin != 0 ? 16 : 0) + 16 + m->content_type.len +
	    m->response_topic.len + m->correlation_data.len + m->user_len;
}

static uint8_t *
msg_pack_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		*p++ = (uint8_t)(v >> (i * 8));
	}
	return p;
}

static uint64_t
msg_unpack_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint8_t *
msg_pack_str(uint8_t *p, const uint8_t *s, uint32_t len)
{
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	if (len > 0)
		memcpy(p + 4, s, len);
	return p + 4 + len;
}

uint32_t
msg_pack(const struct msg *m, uint8_t *buf)
{
	uint8_t *p = buf;

	*p++ = m->id_origin != 0 ? MSG_PACK_VERSION_ID : MSG_PACK_VERSION;
	*p++ = (uint8_t)((m->has_payload_format ? 1 : 0) |
	    (m->content_type.p != NULL ? 2 : 0) |
	    (m->response_topic.p != NULL ? 4 : 0) |
	    (m->correlation_data.p != NULL ? 8 : 0) |
	    (m->id_origin != 0 ? 16 : 0));
	*p++ = m->payload_format;
	if (m->id_origin != 0) {
		p = msg_pack_u64(p, m->id_origin);
		p = msg_pack_u64(p, m->id_seq);
	}
	p = msg_pack_str(p, m->content_type.p, m->content_type.len);
	p = msg_pack_str(p, m->response_topic.p, m->response_topic.len);
	p = msg_pack_str(p, m->correlation_data.p, m->correlation_data.len);
	p = msg_pack_str(p, m->user, m->user_len);
	return (uint32_t)(p - buf);
}

static int
msg_unpack_str(const uint8_t **p, const uint8_t *end, struct mqtt_str *out)
{
	uint32_t len;

	if (end - *p < 4)
		return -1;
	len = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	if ((size_t)(end - *p) < len)
		return -1;
	out->p = *p;
	out->len = len;
	*p += len;
	return 0;
}

struct msg *
msg_from_store(const struct store_msg *sm)
{
	const uint8_t *p = sm->props, *end = sm->props + sm->props_len;
	struct mqtt_str ct, rt, cd, user, payload;
	struct mqtt_props props;
	struct msg *m;
	uint8_t flags, pf;
	uint64_t origin = 0, seq = 0;

	if (sm->props_len < 3 || (p[0] != MSG_PACK_VERSION &&
	    p[0] != MSG_PACK_VERSION_ID))
		return NULL;
	flags = p[1];
	pf = p[2];
	p += 3;
	if (p[-3] == MSG_PACK_VERSION_ID && (flags & 16)) {
		if (end - p < 16)
			return NULL;
		origin = msg_unpack_u64(p);
		seq = msg_unpack_u64(p + 8);
		p += 16;
	}
	if (msg_unpack_str(&p, end, &ct) != 0 ||
	    msg_unpack_str(&p, end, &rt) != 0 ||
	    msg_unpack_str(&p, end, &cd) != 0 ||
	    msg_unpack_str(&p, end, &user) != 0 || p != end)
		return NULL;
	memset(&props, 0, sizeof props);
	if (flags & 1) {
		MQTT_PROP_SET(&props, MQTT_PROP_PAYLOAD_FORMAT);
		props.payload_format = pf;
	}
	if (flags & 2) {
		MQTT_PROP_SET(&props, MQTT_PROP_CONTENT_TYPE);
		props.content_type = ct;
	}
	if (flags & 4) {
		MQTT_PROP_SET(&props, MQTT_PROP_RESPONSE_TOPIC);
		props.response_topic = rt;
	}
	if (flags & 8) {
		MQTT_PROP_SET(&props, MQTT_PROP_CORRELATION_DATA);
		props.correlation_data = cd;
	}
	payload.p = sm->payload;
	payload.len = sm->payload_len;
	m = msg_make(&props, &user, (const uint8_t *)sm->topic, sm->topic_len,
	    payload, sm->qos, sm->retain);
	m->received = (time_t)sm->received_at;
	if (sm->expiry_at != 0) {
		m->has_expiry = 1;
		m->expiry = sm->expiry_at > sm->received_at ?
		    (uint32_t)(sm->expiry_at - sm->received_at) : 0;
	}
	m->store_id = sm->id;
	m->id_origin = origin;
	m->id_seq = seq;
	return m;
}

int
msg_expired(const struct msg *m, time_t now)
{
	return m->has_expiry && now - m->received >= (time_t)m->expiry;
}

