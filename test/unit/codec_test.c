/*
 * codec_test.c - unit tests for the MQTT codec (broker/mqtt/).
 *
 * What is covered, and how:
 * - round trips (encode, frame, decode, compare every field) for every
 *   packet type in every protocol level it exists in, v5 packets carrying
 *   every property their packet allows;
 * - framing at every truncation point of each round-tripped packet;
 *   variable byte integer edges; the packet size limit;
 * - one named vector per decoder rule, written in a small byte notation
 *   (see vec_parse) and named after the normative statement where the spec
 *   has one, as the JSON tables in Mosquitto's test/broker/data do;
 * - UTF-8 and topic syntax;
 * - every decode runs on a body that ends right before a PROT_NONE page
 *   (after picohttpparser's test.c), and every vector is also decoded at
 *   every truncation, so any read past the body crashes the test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mqtt.h"
#include "tap.h"

#define S(lit) ((struct mqtt_str){ (const uint8_t *)(lit), sizeof (lit) - 1 })
#define ARRLEN(a) (sizeof (a) / sizeof (a)[0])

/* --- the guard page --- */

#define GUARD_SPAN (1024 * 1024)

static uint8_t *guard_base;
static size_t guard_page;

static void
guard_init(void)
{
	uint8_t *m;

	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	m = mmap(NULL, GUARD_SPAN + guard_page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	if (mprotect(m + GUARD_SPAN, guard_page, PROT_NONE) != 0) {
		perror("mprotect");
		exit(99);
	}
	guard_base = m;
}

/* Copy data so that its last byte sits just before the PROT_NONE page.
 * The copy is valid until the next call. */
static const uint8_t *
guard_place(const uint8_t *data, size_t len)
{
	uint8_t *p;

	if (len > GUARD_SPAN) {
		diag("guard_place: %zu bytes is too large", len);
		exit(99);
	}
	p = guard_base + GUARD_SPAN - len;
	if (len != 0)
		memmove(p, data, len);
	return p;
}

/* Frame a buffer holding exactly one packet and decode its body placed
 * against the guard page. Returns the frame or decode result; -100 when
 * the buffer does not hold exactly one complete packet. */
static int
decode_buf(const uint8_t *buf, size_t len, uint8_t version,
    struct mqtt_packet *out)
{
	struct mqtt_frame f;
	const uint8_t *body;
	int rc;

	memset(out, 0xa5, sizeof *out);	/* the decoder must clear it */
	rc = mqtt_frame(buf, len, 0, &f);
	if (rc != MQTT_FRAME_OK)
		return rc;
	if ((size_t)f.header_len + f.remaining != len)
		return -100;
	body = guard_place(buf + f.header_len, f.remaining);
	return mqtt_decode(f.type, f.flags, body, f.remaining, version, out);
}

/* --- a byte notation for test vectors ---
 * hex pairs; 'text' for raw ASCII; [ ... ] for the contents prefixed with
 * their length as a variable byte integer (remaining length, property
 * length); { ... } for the contents prefixed with a two byte length
 * (strings, binary data). Whitespace is ignored. */

static size_t
vec_parse_into(const char **sp, uint8_t *out, size_t cap, char close)
{
	const char *s = *sp;
	uint8_t inner[8192];
	size_t n = 0, m;
	unsigned v;
	char c;

	while ((c = *s) != '\0' && c != close) {
		if (c == ' ' || c == '\t' || c == '\n') {
			s++;
		} else if (c == '\'') {
			for (s++; *s != '\0' && *s != '\''; s++)
				out[n++] = (uint8_t)*s;
			s++;
		} else if (c == '[' || c == '{') {
			s++;
			m = vec_parse_into(&s, inner, sizeof inner,
			    c == '[' ? ']' : '}');
			s++;
			if (c == '[')
				n += mqtt_varint_put(out + n, (uint32_t)m);
			else {
				out[n++] = (uint8_t)(m >> 8);
				out[n++] = (uint8_t)m;
			}
			memcpy(out + n, inner, m);
			n += m;
		} else if (sscanf(s, "%2x", &v) == 1) {
			out[n++] = (uint8_t)v;
			s += 2;
		} else {
			diag("bad vector text at \"%s\"", s);
			exit(99);
		}
		if (n + 16 > cap) {
			diag("vector too long");
			exit(99);
		}
	}
	*sp = s;
	return n;
}

static size_t
vec_parse(const char *s, uint8_t *out, size_t cap)
{
	return vec_parse_into(&s, out, cap, '\0');
}

/* --- fixtures --- */

/* Two user properties in wire form, the second with a non-ASCII value. */
static const uint8_t user_wire[] = {
	0x26, 0x00, 0x02, 'k', '1', 0x00, 0x02, 'v', '1',
	0x26, 0x00, 0x02, 'k', '2', 0x00, 0x03, 'v', 0xc3, 0xa9
};
static const uint32_t sub_ids[] = { 1, 127, 128, 268435455 };

#define SET(p, id) MQTT_PROP_SET(p, MQTT_PROP_##id)

/* Every property allowed in ctx (MQTT 5.0 2.2.2.2), with distinct values. */
static void
props_fill(struct mqtt_props *p, enum mqtt_prop_ctx ctx)
{
	memset(p, 0, sizeof *p);
	p->user.p = user_wire;
	p->user.len = sizeof user_wire;
	switch (ctx) {
	case MQTT_CTX_CONNECT:
		SET(p, SESSION_EXPIRY); p->session_expiry = 0x01020304;
		SET(p, RECEIVE_MAX); p->receive_max = 0x1234;
		SET(p, MAX_PACKET_SIZE); p->max_packet_size = 1 << 20;
		SET(p, TOPIC_ALIAS_MAX); p->topic_alias_max = 77;
		SET(p, REQUEST_RESPONSE_INFO); p->request_response_info = 1;
		SET(p, REQUEST_PROBLEM_INFO); p->request_problem_info = 0;
		SET(p, AUTH_METHOD); p->auth_method = S("SCRAM-SHA-256");
		SET(p, AUTH_DATA); p->auth_data = S("\x00\x01\xff");
		break;
	case MQTT_CTX_WILL:
		SET(p, WILL_DELAY); p->will_delay = 30;
		/* FALLTHROUGH */
	case MQTT_CTX_PUBLISH:
		SET(p, PAYLOAD_FORMAT); p->payload_format = 1;
		SET(p, MESSAGE_EXPIRY); p->message_expiry = 0xfffffffe;
		SET(p, CONTENT_TYPE); p->content_type = S("text/plain");
		SET(p, RESPONSE_TOPIC); p->response_topic = S("resp/t");
		SET(p, CORRELATION_DATA);
		p->correlation_data = S("\x00" "corr");
		if (ctx == MQTT_CTX_PUBLISH) {
			SET(p, TOPIC_ALIAS); p->topic_alias = 9;
			p->sub_ids = sub_ids;
			p->n_sub_ids = ARRLEN(sub_ids);
		}
		break;
	case MQTT_CTX_CONNACK:
		SET(p, SESSION_EXPIRY); p->session_expiry = 0;
		SET(p, RECEIVE_MAX); p->receive_max = 65535;
		SET(p, MAX_QOS); p->max_qos = 1;
		SET(p, RETAIN_AVAILABLE); p->retain_available = 0;
		SET(p, MAX_PACKET_SIZE); p->max_packet_size = 0xffffffff;
		SET(p, ASSIGNED_CLIENT_ID); p->assigned_client_id = S("auto-1");
		SET(p, TOPIC_ALIAS_MAX); p->topic_alias_max = 0;
		SET(p, REASON_STRING); p->reason_string = S("r\xc3\xa9" "ason");
		SET(p, WILDCARD_AVAILABLE); p->wildcard_available = 1;
		SET(p, SUB_ID_AVAILABLE); p->sub_id_available = 0;
		SET(p, SHARED_AVAILABLE); p->shared_available = 1;
		SET(p, SERVER_KEEP_ALIVE); p->server_keep_alive = 120;
		SET(p, RESPONSE_INFO); p->response_info = S("ri/");
		SET(p, SERVER_REFERENCE); p->server_reference = S("h:1883");
		SET(p, AUTH_METHOD); p->auth_method = S("SCRAM-SHA-256");
		SET(p, AUTH_DATA); p->auth_data = S("");
		break;
	case MQTT_CTX_PUBACK:
	case MQTT_CTX_PUBREC:
	case MQTT_CTX_PUBREL:
	case MQTT_CTX_PUBCOMP:
	case MQTT_CTX_SUBACK:
	case MQTT_CTX_UNSUBACK:
		SET(p, REASON_STRING); p->reason_string = S("why");
		break;
	case MQTT_CTX_SUBSCRIBE:
		SET(p, SUBSCRIPTION_ID); p->sub_id = 16384;
		break;
	case MQTT_CTX_UNSUBSCRIBE:
		break;
	case MQTT_CTX_DISCONNECT:
		SET(p, SESSION_EXPIRY); p->session_expiry = 7;
		SET(p, REASON_STRING); p->reason_string = S("bye");
		SET(p, SERVER_REFERENCE); p->server_reference = S("other");
		break;
	case MQTT_CTX_AUTH:
		SET(p, AUTH_METHOD); p->auth_method = S("SCRAM-SHA-256");
		SET(p, AUTH_DATA); p->auth_data = S("\x01\x02");
		SET(p, REASON_STRING); p->reason_string = S("more");
		break;
	}
}

static int
str_eq(struct mqtt_str a, struct mqtt_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Does decoded block d carry what was encoded from a? Prints the first
 * difference. */
static int
props_eq(const struct mqtt_props *a, const struct mqtt_props *d)
{
	uint64_t want = a->present & ~MQTT_PROP_BIT(MQTT_PROP_USER);
	uint8_t copy[256];
	uint32_t n;

#define F(field, id) do {						\
	if (MQTT_PROP_HAS(a, MQTT_PROP_##id) && a->field != d->field) {	\
		diag("property " #field " differs");			\
		return 0;						\
	}								\
} while (0)
#define FS(field, id) do {						\
	if (MQTT_PROP_HAS(a, MQTT_PROP_##id) &&				\
	    !str_eq(a->field, d->field)) {				\
		diag("property " #field " differs");			\
		return 0;						\
	}								\
} while (0)
	if (a->sub_ids != NULL && a->n_sub_ids != 0)
		want |= MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID);
	if (d->present != want) {
		diag("present %#llx, want %#llx",
		    (unsigned long long)d->present, (unsigned long long)want);
		return 0;
	}
	F(payload_format, PAYLOAD_FORMAT);
	F(request_problem_info, REQUEST_PROBLEM_INFO);
	F(request_response_info, REQUEST_RESPONSE_INFO);
	F(max_qos, MAX_QOS);
	F(retain_available, RETAIN_AVAILABLE);
	F(wildcard_available, WILDCARD_AVAILABLE);
	F(sub_id_available, SUB_ID_AVAILABLE);
	F(shared_available, SHARED_AVAILABLE);
	F(receive_max, RECEIVE_MAX);
	F(topic_alias_max, TOPIC_ALIAS_MAX);
	F(topic_alias, TOPIC_ALIAS);
	F(server_keep_alive, SERVER_KEEP_ALIVE);
	F(message_expiry, MESSAGE_EXPIRY);
	F(session_expiry, SESSION_EXPIRY);
	F(will_delay, WILL_DELAY);
	F(max_packet_size, MAX_PACKET_SIZE);
	FS(content_type, CONTENT_TYPE);
	FS(response_topic, RESPONSE_TOPIC);
	FS(correlation_data, CORRELATION_DATA);
	FS(assigned_client_id, ASSIGNED_CLIENT_ID);
	FS(auth_method, AUTH_METHOD);
	FS(auth_data, AUTH_DATA);
	FS(response_info, RESPONSE_INFO);
	FS(server_reference, SERVER_REFERENCE);
	FS(reason_string, REASON_STRING);
#undef F
#undef FS
	if (a->sub_ids != NULL && a->n_sub_ids != 0) {
		if (d->sub_id != a->sub_ids[0] ||
		    d->n_sub_ids != a->n_sub_ids || d->sub_ids != NULL) {
			diag("subscription identifiers differ");
			return 0;
		}
	} else if (MQTT_PROP_HAS(a, MQTT_PROP_SUBSCRIPTION_ID) &&
	    (d->sub_id != a->sub_id || d->n_sub_ids != 1)) {
		diag("subscription identifier differs");
		return 0;
	}
	if (d->n_user != (a->user.len != 0 ? 2u : 0u) || d->user.len != 0) {
		diag("n_user %u", d->n_user);
		return 0;
	}
	n = mqtt_props_user_size(d);
	if (n != a->user.len || n > sizeof copy ||
	    mqtt_props_user_copy(d, copy) != n ||
	    (n != 0 && memcmp(copy, a->user.p, n) != 0)) {
		diag("user properties differ");
		return 0;
	}
	return 1;
}

/* A decoded 3.x packet must carry no properties at all. */
static int
props_empty(const struct mqtt_props *d)
{
	return d->present == 0 && d->n_user == 0 && d->raw_len == 0;
}

/* --- round trips --- */

static uint8_t rt_buf[GUARD_SPAN];
static size_t rt_len;

/* Encode in, check every framing truncation, decode into out. Returns the
 * decode result (or -1 when encoding itself failed). */
static int
roundtrip(const char *name, const struct mqtt_packet *in, uint8_t version,
    struct mqtt_packet *out)
{
	struct mqtt_frame f;
	size_t k, hl;
	int rc, ok_trunc = 1;

	rt_len = mqtt_encode_len(in, version);
	if (rt_len == 0 || rt_len > sizeof rt_buf) {
		diag("%s: mqtt_encode_len %zu", name, rt_len);
		return -1;
	}
	if (mqtt_encode(in, version, rt_buf) != rt_len) {
		diag("%s: mqtt_encode length differs", name);
		return -1;
	}
	if (mqtt_frame(rt_buf, rt_len, 0, &f) != MQTT_FRAME_OK)
		return -1;
	hl = f.header_len;
	for (k = 0; k < rt_len; k++) {
		rc = mqtt_frame(guard_place(rt_buf, k), k, 0, &f);
		if (k < hl)
			ok_trunc &= rc == MQTT_FRAME_PARTIAL;
		else
			ok_trunc &= rc == MQTT_FRAME_OK &&
			    (size_t)f.header_len + f.remaining > k;
	}
	ok(ok_trunc, "%s: frame is partial at every truncation point", name);
	return decode_buf(rt_buf, rt_len, version, out);
}

static const char *
vname(uint8_t version)
{
	return version == MQTT_V5 ? "v5" :
	    version == MQTT_V311 ? "v3.1.1" : "v3.1";
}

static void
test_rt_connect(uint8_t version, int full)
{
	struct mqtt_packet in, out;
	struct mqtt_connect *c = &in.u.connect, *d = &out.u.connect;
	char name[64];
	int v5 = version == MQTT_V5, rc;

	memset(&in, 0, sizeof in);
	in.type = MQTT_CONNECT;
	c->version = version;
	c->clean_start = !full;
	c->keep_alive = full ? 65535 : 0;
	c->client_id = full ? S("client-\xc3\xa9") : S("");
	if (full) {
		c->has_will = 1;
		c->will_qos = 2;
		c->will_retain = 1;
		c->will_topic = S("im/p/1");
		c->will_payload = S("\x00offline");
		c->has_username = 1;
		c->username = S("user");
		c->has_password = 1;
		c->password = S("\xff\x00pw");
		props_fill(&c->props, MQTT_CTX_CONNECT);
		props_fill(&c->will_props, MQTT_CTX_WILL);
	}
	snprintf(name, sizeof name, "CONNECT %s %s", vname(version),
	    full ? "with will, credentials, all properties" : "minimal");
	rc = roundtrip(name, &in, 0, &out);	/* version from the packet */
	is_int(rc, 0, "%s: decodes", name);
	ok(rc == 0 && d->version == version &&
	    d->clean_start == c->clean_start &&
	    d->keep_alive == c->keep_alive &&
	    str_eq(d->client_id, c->client_id) &&
	    d->has_will == c->has_will && d->will_qos == c->will_qos &&
	    d->will_retain == c->will_retain &&
	    str_eq(d->will_topic, c->will_topic) &&
	    str_eq(d->will_payload, c->will_payload) &&
	    d->has_username == c->has_username &&
	    d->has_password == c->has_password &&
	    str_eq(d->username, c->username) &&
	    str_eq(d->password, c->password),
	    "%s: fields match", name);
	if (v5)
		ok(rc == 0 && props_eq(&c->props, &d->props) &&
		    props_eq(&c->will_props, &d->will_props),
		    "%s: properties match", name);
	else
		ok(rc == 0 && props_empty(&d->props) &&
		    props_empty(&d->will_props),
		    "%s: no properties on the wire", name);
}

static void
test_rt_connack(uint8_t version)
{
	struct mqtt_packet in, out;
	char name[64];
	int rc;

	memset(&in, 0, sizeof in);
	in.type = MQTT_CONNACK;
	in.u.connack.session_present = 1;
	in.u.connack.reason = version == MQTT_V5 ? MQTT_RC_SUCCESS :
	    MQTT_V3_ACCEPTED;
	props_fill(&in.u.connack.props, MQTT_CTX_CONNACK);
	snprintf(name, sizeof name, "CONNACK %s", vname(version));
	rc = roundtrip(name, &in, version, &out);
	is_int(rc, 0, "%s: decodes", name);
	/* 3.1 has no Session Present flag (encoded as 0). */
	ok(rc == 0 && out.u.connack.session_present ==
	    (version == MQTT_V31 ? 0 : 1) &&
	    out.u.connack.reason == in.u.connack.reason &&
	    (version == MQTT_V5 ?
	    props_eq(&in.u.connack.props, &out.u.connack.props) :
	    props_empty(&out.u.connack.props)),
	    "%s: fields and properties match", name);
}

static void
test_rt_publish(uint8_t version, uint8_t qos, int with_props)
{
	struct mqtt_packet in, out;
	struct mqtt_publish *p = &in.u.publish, *d = &out.u.publish;
	char name[80];
	int rc;

	memset(&in, 0, sizeof in);
	in.type = MQTT_PUBLISH;
	p->qos = qos;
	p->dup = qos == 2;
	p->retain = qos == 1;
	p->packet_id = qos ? (uint16_t)(qos * 1000) : 0;
	p->topic = S("im/u/\xe2\x82\xac");
	p->payload = qos == 2 ? S("") : S("payload\x00" "bytes");
	if (with_props)
		props_fill(&p->props, MQTT_CTX_PUBLISH);
	snprintf(name, sizeof name, "PUBLISH %s QoS %d%s", vname(version),
	    qos, with_props ? " with all properties" : "");
	rc = roundtrip(name, &in, version, &out);
	is_int(rc, 0, "%s: decodes", name);
	ok(rc == 0 && out.flags == ((p->dup << 3) | (qos << 1) | p->retain) &&
	    d->dup == p->dup && d->qos == qos && d->retain == p->retain &&
	    d->packet_id == p->packet_id && str_eq(d->topic, p->topic) &&
	    str_eq(d->payload, p->payload) &&
	    (version == MQTT_V5 ? props_eq(&p->props, &d->props) :
	    props_empty(&d->props)),
	    "%s: fields match", name);
}

static void
test_rt_ack(uint8_t version, uint8_t type, uint8_t reason, int with_props,
    size_t want_len)
{
	struct mqtt_packet in, out;
	char name[80];
	int rc;
	static const enum mqtt_prop_ctx ctx[] = { MQTT_CTX_PUBACK,
	    MQTT_CTX_PUBREC, MQTT_CTX_PUBREL, MQTT_CTX_PUBCOMP };

	memset(&in, 0, sizeof in);
	in.type = type;
	in.u.ack.packet_id = 0xbeef;
	in.u.ack.reason = reason;
	if (with_props)
		props_fill(&in.u.ack.props, ctx[type - MQTT_PUBACK]);
	snprintf(name, sizeof name, "%s %s reason 0x%02x%s",
	    mqtt_type_name(type), vname(version), reason,
	    with_props ? " with properties" : "");
	rc = roundtrip(name, &in, version, &out);
	is_int(rc, 0, "%s: decodes", name);
	is_int(rt_len, want_len, "%s: encoded length", name);
	ok(rc == 0 && out.u.ack.packet_id == 0xbeef &&
	    (version == MQTT_V5 ? out.u.ack.reason == reason &&
	    props_eq(&in.u.ack.props, &out.u.ack.props) :
	    out.u.ack.reason == 0 && props_empty(&out.u.ack.props)),
	    "%s: fields match", name);
}

static void
test_rt_subscribe(uint8_t version, uint8_t type)
{
	struct mqtt_packet in, out;
	struct mqtt_sub_iter it;
	struct mqtt_str filter;
	uint8_t opt;
	char name[64];
	int rc, n = 0, good = 1;
	/* Three entries; v5 options use every defined bit. */
	static const uint8_t sub_v3[] = "\x00\x05" "a/+/c" "\x01"
	    "\x00\x01" "#" "\x02" "\x00\x04" "x/\xc3\xa9" "\x00";
	static const uint8_t sub_v5[] = "\x00\x05" "a/+/c" "\x2d"
	    "\x00\x0c" "$share/g/a/#" "\x1a" "\x00\x04" "x/\xc3\xa9" "\x00";
	static const uint8_t unsub[] = "\x00\x05" "a/+/c" "\x00\x01" "#"
	    "\x00\x04" "x/\xc3\xa9";
	static const char *filters[] = { "a/+/c", NULL, "x/\xc3\xa9" };
	static const uint8_t opts_v3[] = { 1, 2, 0 };
	static const uint8_t opts_v5[] = { 0x2d, 0x1a, 0 };

	memset(&in, 0, sizeof in);
	in.type = type;
	in.u.subscribe.packet_id = 42;
	in.u.subscribe.count = 3;
	if (type == MQTT_UNSUBSCRIBE) {
		in.u.subscribe.list.p = unsub;
		in.u.subscribe.list.len = sizeof unsub - 1;
	} else if (version == MQTT_V5) {
		in.u.subscribe.list.p = sub_v5;
		in.u.subscribe.list.len = sizeof sub_v5 - 1;
	} else {
		in.u.subscribe.list.p = sub_v3;
		in.u.subscribe.list.len = sizeof sub_v3 - 1;
	}
	props_fill(&in.u.subscribe.props, type == MQTT_SUBSCRIBE ?
	    MQTT_CTX_SUBSCRIBE : MQTT_CTX_UNSUBSCRIBE);
	snprintf(name, sizeof name, "%s %s", mqtt_type_name(type),
	    vname(version));
	rc = roundtrip(name, &in, version, &out);
	is_int(rc, 0, "%s: decodes", name);
	ok(rc == 0 && out.flags == 2 && out.u.subscribe.packet_id == 42 &&
	    out.u.subscribe.count == 3 &&
	    str_eq(out.u.subscribe.list, in.u.subscribe.list) &&
	    (version == MQTT_V5 ?
	    props_eq(&in.u.subscribe.props, &out.u.subscribe.props) :
	    props_empty(&out.u.subscribe.props)),
	    "%s: fields match", name);
	if (rc != 0)
		return;
	mqtt_sub_iter_init(&it, &out);
	while (mqtt_sub_next(&it, &filter, &opt)) {
		if (n >= 3) {
			good = 0;
			break;
		}
		if (filters[n] != NULL && (filter.len != strlen(filters[n]) ||
		    memcmp(filter.p, filters[n], filter.len) != 0))
			good = 0;
		if (type == MQTT_UNSUBSCRIBE)
			good &= opt == 0;
		else
			good &= opt == (version == MQTT_V5 ? opts_v5[n] :
			    opts_v3[n]);
		n++;
	}
	ok(good && n == 3, "%s: mqtt_sub_next walks every entry", name);
}

static void
test_rt_suback(uint8_t version, uint8_t type)
{
	struct mqtt_packet in, out;
	char name[64];
	int rc, v3_unsuback = type == MQTT_UNSUBACK && version != MQTT_V5;
	static const uint8_t suback_v3[] = { 0x00, 0x01, 0x02, 0x80 };
	static const uint8_t suback_v5[] = { 0x00, 0x01, 0x02, 0x80, 0x83,
	    0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2 };
	static const uint8_t unsuback[] = { 0x00, 0x11, 0x80, 0x83, 0x87,
	    0x8F, 0x91 };

	memset(&in, 0, sizeof in);
	in.type = type;
	in.u.suback.packet_id = 42;
	if (type == MQTT_UNSUBACK) {
		in.u.suback.codes = unsuback;
		in.u.suback.count = sizeof unsuback;
	} else if (version == MQTT_V5) {
		in.u.suback.codes = suback_v5;
		in.u.suback.count = sizeof suback_v5;
	} else {
		in.u.suback.codes = suback_v3;
		in.u.suback.count = sizeof suback_v3;
	}
	props_fill(&in.u.suback.props, type == MQTT_SUBACK ?
	    MQTT_CTX_SUBACK : MQTT_CTX_UNSUBACK);
	snprintf(name, sizeof name, "%s %s (every reason code)",
	    mqtt_type_name(type), vname(version));
	rc = roundtrip(name, &in, version, &out);
	is_int(rc, 0, "%s: decodes", name);
	if (v3_unsuback)
		ok(rc == 0 && rt_len == 4 && out.u.suback.count == 0 &&
		    out.u.suback.packet_id == 42,
		    "%s: no payload, packet id only", name);
	else
		ok(rc == 0 && out.u.suback.packet_id == 42 &&
		    out.u.suback.count == in.u.suback.count &&
		    memcmp(out.u.suback.codes, in.u.suback.codes,
		    in.u.suback.count) == 0 &&
		    (version == MQTT_V5 ?
		    props_eq(&in.u.suback.props, &out.u.suback.props) :
		    props_empty(&out.u.suback.props)),
		    "%s: fields match", name);
}

static void
test_rt_simple(uint8_t version, uint8_t type, uint8_t reason, int with_props,
    size_t want_len)
{
	struct mqtt_packet in, out;
	char name[80];
	int rc;

	memset(&in, 0, sizeof in);
	in.type = type;
	in.u.reason.reason = reason;
	if (with_props)
		props_fill(&in.u.reason.props, type == MQTT_AUTH ?
		    MQTT_CTX_AUTH : MQTT_CTX_DISCONNECT);
	snprintf(name, sizeof name, "%s %s reason 0x%02x%s",
	    mqtt_type_name(type), vname(version), reason,
	    with_props ? " with properties" : "");
	rc = roundtrip(name, &in, version, &out);
	is_int(rc, 0, "%s: decodes", name);
	is_int(rt_len, want_len, "%s: encoded length", name);
	if (type == MQTT_PINGREQ || type == MQTT_PINGRESP)
		return;
	ok(rc == 0 && (version == MQTT_V5 ? out.u.reason.reason == reason &&
	    props_eq(&in.u.reason.props, &out.u.reason.props) :
	    out.u.reason.reason == 0 && props_empty(&out.u.reason.props)),
	    "%s: fields match", name);
}

static void
test_roundtrips(void)
{
	static const uint8_t versions[] = { MQTT_V31, MQTT_V311, MQTT_V5 };
	size_t i;
	uint8_t v, t;
	int v5;

	for (i = 0; i < ARRLEN(versions); i++) {
		v = versions[i];
		v5 = v == MQTT_V5;
		test_rt_connect(v, 0);
		test_rt_connect(v, 1);
		test_rt_connack(v);
		test_rt_publish(v, 0, 0);
		test_rt_publish(v, 1, 1);
		test_rt_publish(v, 2, 1);
		for (t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
			/* v5 short forms: 3.4.2.1 */
			test_rt_ack(v, t, 0, 0, 4);
			test_rt_ack(v, t, t <= MQTT_PUBREC ? 0x10 : 0x92, 0,
			    v5 ? 5 : 4);
			if (v5)
				test_rt_ack(v, t, 0, 1, 4 + 1 + 1 + 6 +
				    sizeof user_wire);
		}
		test_rt_subscribe(v, MQTT_SUBSCRIBE);
		test_rt_subscribe(v, MQTT_UNSUBSCRIBE);
		test_rt_suback(v, MQTT_SUBACK);
		test_rt_suback(v, MQTT_UNSUBACK);
		test_rt_simple(v, MQTT_PINGREQ, 0, 0, 2);
		test_rt_simple(v, MQTT_PINGRESP, 0, 0, 2);
		test_rt_simple(v, MQTT_DISCONNECT, 0, 0, 2);
		test_rt_simple(v, MQTT_DISCONNECT, 0x8e, 0, v5 ? 3 : 2);
		if (v5) {
			test_rt_simple(v, MQTT_DISCONNECT, 0x04, 1, 2 + 1 + 1 +
			    5 + 6 + 8 + sizeof user_wire);
			test_rt_simple(v, MQTT_AUTH, 0, 0, 2);
			test_rt_simple(v, MQTT_AUTH, 0x18, 0, 3);
			test_rt_simple(v, MQTT_AUTH, 0x19, 1, 2 + 1 + 1 +
			    16 + 5 + 7 + sizeof user_wire);
		}
	}
}

/* --- exact encodings --- */

static void
is_bytes(const uint8_t *got, size_t got_len, const char *want_vec,
    const char *name)
{
	uint8_t want[1024];
	size_t n = vec_parse(want_vec, want, sizeof want), i;

	if (!ok(got_len == n && memcmp(got, want, n) == 0, "%s", name)) {
		printf("#   got ");
		for (i = 0; i < got_len; i++)
			printf("%02x ", got[i]);
		printf("\n#  want ");
		for (i = 0; i < n; i++)
			printf("%02x ", want[i]);
		printf("\n");
	}
}

static size_t
encode(const struct mqtt_packet *pkt, uint8_t version, uint8_t *buf)
{
	size_t n = mqtt_encode_len(pkt, version);

	if (n == 0 || n > 4096)
		return 0;
	return mqtt_encode(pkt, version, buf);
}

static void
test_encode_exact(void)
{
	struct mqtt_packet p;
	uint8_t buf[4096];
	size_t n;
	static const uint32_t ids[] = { 1, 300 };
	static const uint8_t codes[] = { 0x00, 0x11 };
	uint8_t big[65536];

	memset(&p, 0, sizeof p);
	p.type = MQTT_CONNECT;
	p.u.connect.version = MQTT_V311;
	p.u.connect.clean_start = 1;
	p.u.connect.keep_alive = 60;
	p.u.connect.client_id = S("c");
	p.u.connect.will_qos = 2;	/* ignored without a will */
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "10 [{'MQTT'} 04 02 00 3c {'c'}]",
	    "encode: 3.1.1 CONNECT, will bits only with a will");
	p.u.connect.version = MQTT_V31;
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "10 [{'MQIsdp'} 03 02 00 3c {'c'}]",
	    "encode: 3.1 CONNECT uses \"MQIsdp\" level 3");
	p.u.connect.version = MQTT_V5;
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "10 [{'MQTT'} 05 02 00 3c 00 {'c'}]",
	    "encode: v5 CONNECT takes its version from the packet");

	memset(&p, 0, sizeof p);
	p.type = MQTT_CONNACK;
	p.u.connack.reason = MQTT_V3_NOT_AUTHORIZED;
	SET(&p.u.connack.props, RECEIVE_MAX);
	p.u.connack.props.receive_max = 1;
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "20 02 00 05",
	    "encode: 3.1.1 CONNACK writes the v3 code, no properties");
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "20 [00 05 [21 00 01]]", "encode: v5 CONNACK");
	p.u.connack.session_present = 1;
	p.u.connack.reason = MQTT_V3_ACCEPTED;
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "20 02 01 00",
	    "encode: 3.1.1 CONNACK with Session Present");
	n = encode(&p, MQTT_V31, buf);
	is_bytes(buf, n, "20 02 00 00",
	    "encode: 3.1 CONNACK has no Session Present flag");

	memset(&p, 0, sizeof p);
	p.type = MQTT_PUBLISH;
	p.u.publish.qos = 1;
	p.u.publish.packet_id = 7;
	p.u.publish.topic = S("t");
	p.u.publish.payload = S("x");
	p.u.publish.props.sub_ids = ids;
	p.u.publish.props.n_sub_ids = 2;
	p.u.publish.props.user = S("\x26\x00\x01k\x00\x01v");
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "32 [{'t'} 00 07 [0b 01 0b ac 02 26 {'k'} {'v'}] 'x']",
	    "encode: PUBLISH writes every subscription identifier, then "
	    "user properties verbatim");
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "32 [{'t'} 00 07 'x']",
	    "encode: 3.1.1 PUBLISH has no properties");
	p.u.publish.props.sub_ids = NULL;
	p.u.publish.props.user = S("");
	SET(&p.u.publish.props, SUBSCRIPTION_ID);
	p.u.publish.props.sub_id = 5;
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "32 [{'t'} 00 07 [0b 05] 'x']",
	    "encode: sub_id is written when sub_ids is NULL");

	memset(&p, 0, sizeof p);
	p.type = MQTT_PUBREL;
	p.u.ack.packet_id = 1;
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "62 02 00 01",
	    "encode: v5 PUBREL success without properties is short, "
	    "flags 0010");
	p.u.ack.reason = 0x92;
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "62 03 00 01 92", "encode: v5 PUBREL reason only");
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "62 02 00 01", "encode: 3.1.1 PUBREL has no reason");

	memset(&p, 0, sizeof p);
	p.type = MQTT_UNSUBACK;
	p.u.suback.packet_id = 9;
	p.u.suback.codes = codes;
	p.u.suback.count = 2;
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "b0 02 00 09",
	    "encode: 3.1.1 UNSUBACK has no payload");
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "b0 05 00 09 00 00 11", "encode: v5 UNSUBACK");
	p.type = MQTT_SUBACK;
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "90 04 00 09 00 11",
	    "encode: SUBACK codes are written as given");

	memset(&p, 0, sizeof p);
	p.type = MQTT_DISCONNECT;
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "e0 00", "encode: v5 DISCONNECT success is empty");
	p.u.reason.reason = 0x04;
	n = encode(&p, MQTT_V5, buf);
	is_bytes(buf, n, "e0 01 04", "encode: v5 DISCONNECT reason only");
	n = encode(&p, MQTT_V311, buf);
	is_bytes(buf, n, "e0 00", "encode: 3.1.1 DISCONNECT is empty");
	p.type = MQTT_AUTH;
	is_int(mqtt_encode_len(&p, MQTT_V311), 0,
	    "encode: AUTH cannot be encoded for 3.1.1");
	p.type = 0;
	is_int(mqtt_encode_len(&p, MQTT_V5), 0,
	    "encode: type 0 cannot be encoded");

	memset(&p, 0, sizeof p);
	memset(big, 'a', sizeof big);
	p.type = MQTT_PUBLISH;
	p.u.publish.topic.p = big;
	p.u.publish.topic.len = 65536;
	is_int(mqtt_encode_len(&p, MQTT_V311), 0,
	    "encode: a 65536-byte topic cannot be encoded");
	p.u.publish.topic.len = 65535;
	is_int(mqtt_encode_len(&p, MQTT_V311), 1 + 3 + 2 + 65535,
	    "encode: a 65535-byte topic can");
	p.u.publish.topic.len = 1;
	p.u.publish.payload.p = big;
	p.u.publish.payload.len = MQTT_MAX_REMAINING - 3 + 1;
	is_int(mqtt_encode_len(&p, MQTT_V311), 0,
	    "encode: remaining length over the maximum cannot be encoded");
	p.u.publish.payload.len = MQTT_MAX_REMAINING - 3;
	is_int(mqtt_encode_len(&p, MQTT_V311), 5 + MQTT_MAX_REMAINING,
	    "encode: remaining length at the maximum can");
	p.u.publish.payload.len = 0;
	p.u.publish.props.content_type.p = big;
	p.u.publish.props.content_type.len = 65536;
	SET(&p.u.publish.props, CONTENT_TYPE);
	is_int(mqtt_encode_len(&p, MQTT_V5), 0,
	    "encode: a 65536-byte property string cannot be encoded");
	is_int(mqtt_props_len(&p.u.publish.props), UINT32_MAX,
	    "mqtt_props_len saturates for a block that cannot be encoded");
	p.u.publish.props.content_type.len = 3;
	is_int(mqtt_props_len(&p.u.publish.props), 6,
	    "mqtt_props_len of one 3-byte string property is 6");
}

/* --- variable byte integers and framing --- */

static void
test_varint(void)
{
	static const struct {
		uint32_t v;
		unsigned len;
	} edges[] = {
		{ 0, 1 }, { 127, 1 }, { 128, 2 }, { 16383, 2 }, { 16384, 3 },
		{ 2097151, 3 }, { 2097152, 4 }, { 268435455, 4 }
	};
	struct mqtt_frame f;
	uint8_t buf[8];
	size_t i;
	unsigned n;
	int rc;

	for (i = 0; i < ARRLEN(edges); i++) {
		n = mqtt_varint_len(edges[i].v);
		is_int(n, edges[i].len, "varint %u takes %u bytes [1.5.5]",
		    edges[i].v, edges[i].len);
		buf[0] = 0x30;
		is_int(mqtt_varint_put(buf + 1, edges[i].v), n,
		    "varint %u: put writes %u bytes", edges[i].v, n);
		rc = mqtt_frame(guard_place(buf, 1 + n), 1 + n, 0, &f);
		ok(rc == MQTT_FRAME_OK && f.remaining == edges[i].v &&
		    f.header_len == 1 + n && f.type == 3 && f.flags == 0,
		    "varint %u: frame reads it back", edges[i].v);
		if (n > 1)
			is_int(mqtt_frame(guard_place(buf, n), n, 0, &f),
			    MQTT_FRAME_PARTIAL, "varint %u: partial without "
			    "its last byte", edges[i].v);
	}
	memcpy(buf, "\x30\xff\xff\xff\xff\x01", 6);
	is_int(mqtt_frame(guard_place(buf, 6), 6, 0, &f), MQTT_RC_MALFORMED,
	    "frame: a 5-byte variable byte integer is malformed [1.5.5]");
	is_int(mqtt_frame(guard_place(buf, 5), 5, 0, &f), MQTT_RC_MALFORMED,
	    "frame: malformed as soon as the 4th byte has a continuation bit");
	is_int(mqtt_frame(guard_place(buf, 4), 4, 0, &f), MQTT_FRAME_PARTIAL,
	    "frame: 3 continuation bytes are still partial");
	is_int(mqtt_frame(guard_place(buf, 0), 0, 0, &f), MQTT_FRAME_PARTIAL,
	    "frame: empty input is partial");
	memcpy(buf, "\x00\x00", 2);
	is_int(mqtt_frame(guard_place(buf, 1), 1, 0, &f), MQTT_RC_MALFORMED,
	    "frame: packet type 0 is malformed from the first byte [2.1.2]");
	memcpy(buf, "\xc0\x80\x00", 3);
	rc = mqtt_frame(guard_place(buf, 3), 3, 0, &f);
	ok(rc == MQTT_FRAME_OK && f.remaining == 0 && f.header_len == 3,
	    "frame: a non-minimal length (80 00) is accepted (deviation)");
}

static void
test_frame_limits(void)
{
	struct mqtt_frame f;
	uint8_t buf[8];

	/* PUBLISH, remaining 200: 3-byte fixed header + 200 = 203. */
	buf[0] = 0x30;
	mqtt_varint_put(buf + 1, 200);
	is_int(mqtt_frame(buf, 3, 202, &f), MQTT_RC_PACKET_TOO_LARGE,
	    "frame: header + remaining over max_packet is too large");
	is_int(mqtt_frame(buf, 3, 203, &f), MQTT_FRAME_OK,
	    "frame: exactly max_packet is fine");
	is_int(mqtt_frame(buf, 3, 0, &f), MQTT_FRAME_OK,
	    "frame: max_packet 0 means the protocol maximum");
	mqtt_varint_put(buf + 1, MQTT_MAX_REMAINING);
	is_int(mqtt_frame(buf, 5, 0, &f), MQTT_FRAME_OK,
	    "frame: the largest remaining length frames");
	is_int(mqtt_frame(buf, 5, UINT32_MAX, &f), MQTT_FRAME_OK,
	    "frame: ... and fits a max_packet of UINT32_MAX");
	is_int(mqtt_frame(buf, 5, MQTT_MAX_REMAINING, &f),
	    MQTT_RC_PACKET_TOO_LARGE,
	    "frame: max_packet counts the fixed header too");
}

/* --- decoder rules, one vector each --- */

struct vec {
	const char *name;
	uint8_t version;
	const char *bytes;
	int rc;
};

#define MAL MQTT_RC_MALFORMED
#define PROTO MQTT_RC_PROTOCOL_ERROR
#define CONNECT_V4 "10 [{'MQTT'} 04 02 00 3c {'c'}]"

static const struct vec vecs[] = {
	/* Fixed header. */
	{ "PUBREL flags must be 0010 [MQTT-3.6.1-1]", 4, "60 02 00 01", MAL },
	{ "PUBREL flags 0010 are fine", 4, "62 02 00 01", 0 },
	{ "SUBSCRIBE flags must be 0010 [MQTT-3.8.1-1]", 4,
	    "80 [00 01 {'a'} 00]", MAL },
	{ "UNSUBSCRIBE flags must be 0010 [MQTT-3.10.1-1]", 4,
	    "a3 [00 01 {'a'}]", MAL },
	{ "CONNECT flags must be 0 [MQTT-2.1.3-1]", 4,
	    "11 [{'MQTT'} 04 02 00 3c {'c'}]", MAL },
	{ "PUBACK flags must be 0 [MQTT-2.1.3-1]", 4, "48 02 00 01", MAL },
	{ "PINGREQ flags must be 0 [MQTT-2.1.3-1]", 4, "c1 00", MAL },
	{ "DISCONNECT flags must be 0 [MQTT-2.1.3-1]", 5, "e2 00", MAL },
	{ "AUTH flags must be 0 [MQTT-2.1.3-1]", 5, "f4 00", MAL },

	/* CONNECT. */
	{ "CONNECT 3.1.1 minimal", 4, CONNECT_V4, 0 },
	{ "CONNECT 3.1 \"MQIsdp\" level 3", 4,
	    "10 [{'MQIsdp'} 03 02 00 3c {'c'}]", 0 },
	{ "CONNECT protocol name other than MQTT is refused [MQTT-3.1.2-1]",
	    4, "10 [{'MQTX'} 04 02 00 3c {'c'}]", MQTT_RC_UNSUPPORTED_VERSION },
	{ "CONNECT unknown level is refused [MQTT-3.1.2-2]", 4,
	    "10 [{'MQTT'} 06 02 00 3c {'c'}]", MQTT_RC_UNSUPPORTED_VERSION },
	{ "CONNECT \"MQTT\" with level 3 is refused [MQTT-3.1.2-2]", 4,
	    "10 [{'MQTT'} 03 02 00 3c {'c'}]", MQTT_RC_UNSUPPORTED_VERSION },
	{ "CONNECT \"MQIsdp\" with level 4 is refused", 4,
	    "10 [{'MQIsdp'} 04 02 00 3c {'c'}]", MQTT_RC_UNSUPPORTED_VERSION },
	{ "CONNECT reserved flag set is malformed [MQTT-3.1.2-3]", 4,
	    "10 [{'MQTT'} 04 03 00 3c {'c'}]", MAL },
	{ "CONNECT will QoS without will flag is malformed [MQTT-3.1.2-11]",
	    4, "10 [{'MQTT'} 04 0a 00 3c {'c'}]", MAL },
	{ "CONNECT will retain without will flag is malformed "
	    "[MQTT-3.1.2-13]", 5, "10 [{'MQTT'} 05 22 00 3c 00 {'c'}]", MAL },
	{ "CONNECT will QoS 3 is malformed [MQTT-3.1.2-12]", 4,
	    "10 [{'MQTT'} 04 1e 00 3c {'c'} {'w'} {}]", MAL },
	{ "CONNECT will QoS 2 with will is fine", 4,
	    "10 [{'MQTT'} 04 36 00 3c {'c'} {'w'} {'p'}]", 0 },
	{ "CONNECT 3.1.1 password without user name is malformed "
	    "[MQTT-3.1.2-22]", 4,
	    "10 [{'MQTT'} 04 42 00 3c {'c'} {'p'}]", MAL },
	{ "CONNECT 3.1 password without user name is malformed", 3,
	    "10 [{'MQIsdp'} 03 42 00 3c {'c'} {'p'}]", MAL },
	{ "CONNECT v5 password without user name is allowed (3.1.2.9)", 4,
	    "10 [{'MQTT'} 05 42 00 3c 00 {'c'} {'p'}]", 0 },
	{ "CONNECT user name and password", 4,
	    "10 [{'MQTT'} 04 c2 00 3c {'c'} {'u'} {'p'}]", 0 },
	{ "CONNECT user name flag without user name is malformed", 4,
	    "10 [{'MQTT'} 04 82 00 3c {'c'}]", MAL },
	{ "CONNECT bytes after the payload are malformed", 4,
	    "10 [{'MQTT'} 04 02 00 3c {'c'} 00]", MAL },
	{ "CONNECT without client identifier is malformed", 4,
	    "10 [{'MQTT'} 04 02 00 3c]", MAL },
	{ "CONNECT without keep alive is malformed", 4,
	    "10 [{'MQTT'} 04 02 00]", MAL },
	{ "CONNECT protocol name longer than the packet is malformed", 4,
	    "10 [00 09 'MQTT']", MAL },
	{ "CONNECT empty body is malformed", 4, "10 00", MAL },
	{ "CONNECT client identifier must be UTF-8 [MQTT-3.1.3-4]", 4,
	    "10 [{'MQTT'} 04 02 00 3c {c0 80}]", MAL },
	{ "CONNECT zero-length will topic is a protocol error [MQTT-4.7.3-1]",
	    4, "10 [{'MQTT'} 04 06 00 3c {'c'} {} {'p'}]",
	    MQTT_RC_PROTOCOL_ERROR },
	{ "CONNECT v5 zero-length will topic is a protocol error "
	    "[MQTT-4.7.3-1]", 5, "10 [{'MQTT'} 05 06 00 3c 00 {'c'} 00 {} {}]",
	    MQTT_RC_PROTOCOL_ERROR },
	{ "CONNECT will topic must be UTF-8 [MQTT-3.1.3-10]", 4,
	    "10 [{'MQTT'} 04 06 00 3c {'c'} {ed a0 80} {}]", MAL },
	{ "CONNECT user name must be UTF-8 [MQTT-3.1.3-11]", 4,
	    "10 [{'MQTT'} 04 82 00 3c {'c'} {'a' 00}]", MAL },
	{ "CONNECT password is binary, not checked", 4,
	    "10 [{'MQTT'} 04 c2 00 3c {'c'} {'u'} {ff 00 c0}]", 0 },
	{ "CONNECT will payload is binary, not checked", 4,
	    "10 [{'MQTT'} 04 06 00 3c {'c'} {'w'} {ff 00}]", 0 },
	{ "CONNECT v5 Receive Maximum 0 is a protocol error", 4,
	    "10 [{'MQTT'} 05 02 00 3c [21 00 00] {}]", PROTO },
	{ "CONNECT v5 Maximum Packet Size 0 is a protocol error", 4,
	    "10 [{'MQTT'} 05 02 00 3c [27 00 00 00 00] {}]", PROTO },
	{ "CONNECT v5 Request Problem Information 2 is a protocol error", 4,
	    "10 [{'MQTT'} 05 02 00 3c [17 02] {}]", PROTO },
	{ "CONNECT v5 Request Response Information 2 is a protocol error", 4,
	    "10 [{'MQTT'} 05 02 00 3c [19 02] {}]", PROTO },
	{ "CONNECT v5 Session Expiry twice is a protocol error", 4,
	    "10 [{'MQTT'} 05 02 00 3c [11 00 00 00 01 11 00 00 00 01] {}]",
	    PROTO },
	{ "CONNECT v5 User Property may repeat", 4,
	    "10 [{'MQTT'} 05 02 00 3c [26 {'k'} {'v'} 26 {'k'} {'v'}] {}]", 0 },
	{ "CONNECT v5 Authentication Data without Method is a protocol "
	    "error", 4, "10 [{'MQTT'} 05 02 00 3c [16 {'x'}] {}]", PROTO },
	{ "CONNECT v5 Topic Alias is not a CONNECT property", 4,
	    "10 [{'MQTT'} 05 02 00 3c [23 00 01] {}]", MAL },
	{ "CONNECT v5 Session Expiry is not a will property", 4,
	    "10 [{'MQTT'} 05 06 00 3c [] {} [11 00 00 00 01] {'w'} {}]", MAL },
	{ "CONNECT v5 will Payload Format 2 is a protocol error", 4,
	    "10 [{'MQTT'} 05 06 00 3c [] {} [01 02] {'w'} {}]", PROTO },
	{ "CONNECT v5 will Content Type must be UTF-8", 4,
	    "10 [{'MQTT'} 05 06 00 3c [] {} [03 {ff}] {'w'} {}]", MAL },
	{ "CONNECT v5 will Correlation Data is binary", 4,
	    "10 [{'MQTT'} 05 06 00 3c [] {} [09 {ff}] {'w'} {}]", 0 },
	{ "CONNECT v5 property length past the packet is malformed", 4,
	    "10 [{'MQTT'} 05 02 00 3c 05 11 00]", MAL },
	{ "CONNECT v5 property value past its block is malformed", 4,
	    "10 [{'MQTT'} 05 02 00 3c 02 11 00 00 00 00 00 {}]", MAL },
	{ "CONNECT v5 property length of 5 bytes is malformed [1.5.5]", 4,
	    "10 [{'MQTT'} 05 02 00 3c 80 80 80 80 00 {}]", MAL },
	{ "CONNECT v5 unknown property 0x7f is malformed", 4,
	    "10 [{'MQTT'} 05 02 00 3c [7f 00] {}]", MAL },
	{ "CONNECT v5 property id with bit 7 set is malformed", 4,
	    "10 [{'MQTT'} 05 02 00 3c [91 00 00 00 00 00] {}]", MAL },
	{ "CONNECT v5 User Property key must be UTF-8", 4,
	    "10 [{'MQTT'} 05 02 00 3c [26 {ed bf bf} {'v'}] {}]", MAL },
	{ "CONNECT v5 User Property value must be UTF-8", 4,
	    "10 [{'MQTT'} 05 02 00 3c [26 {'k'} {f4 90 80 80}] {}]", MAL },
	{ "CONNECT v5 Authentication Method must be UTF-8", 4,
	    "10 [{'MQTT'} 05 02 00 3c [15 {00}] {}]", MAL },

	/* CONNACK. */
	{ "CONNACK 3.1.1", 4, "20 02 01 00", 0 },
	{ "CONNACK reserved flags are malformed [MQTT-3.2.2-1]", 4,
	    "20 02 02 00", MAL },
	{ "CONNACK 3.1.1 return code 6 is malformed", 4, "20 02 00 06", MAL },
	{ "CONNACK 3.1.1 extra byte is malformed", 4, "20 03 00 00 00", MAL },
	{ "CONNACK v5 without property length is malformed", 5,
	    "20 02 00 00", MAL },
	{ "CONNACK v5 reason 0x01 is not a CONNACK code", 5,
	    "20 03 00 01 00", MAL },
	{ "CONNACK v5 reason 0x9F", 5, "20 03 00 9f 00", 0 },
	{ "CONNACK v5 Maximum QoS 2 is a protocol error", 5,
	    "20 [00 00 [24 02]]", PROTO },
	{ "CONNACK v5 Retain Available 2 is a protocol error", 5,
	    "20 [00 00 [25 02]]", PROTO },
	{ "CONNACK v5 Wildcard Subscription Available 2 is a protocol error",
	    5, "20 [00 00 [28 02]]", PROTO },
	{ "CONNACK v5 Subscription Identifiers Available 2 is a protocol "
	    "error", 5, "20 [00 00 [29 02]]", PROTO },
	{ "CONNACK v5 Shared Subscription Available 2 is a protocol error",
	    5, "20 [00 00 [2a 02]]", PROTO },
	{ "CONNACK v5 Receive Maximum 0 is a protocol error", 5,
	    "20 [00 00 [21 00 00]]", PROTO },
	{ "CONNACK v5 Assigned Client Identifier must be UTF-8", 5,
	    "20 [00 00 [12 {c3}]]", MAL },
	{ "CONNACK v5 Response Information must be UTF-8", 5,
	    "20 [00 00 [1a {c3}]]", MAL },
	{ "CONNACK v5 Server Reference must be UTF-8", 5,
	    "20 [00 00 [1c {c3}]]", MAL },
	{ "CONNACK v5 Will Delay is not a CONNACK property", 5,
	    "20 [00 00 [18 00 00 00 01]]", MAL },

	/* PUBLISH. */
	{ "PUBLISH QoS 3 is malformed [MQTT-3.3.1-4]", 4,
	    "36 [{'a'} 00 01]", MAL },
	{ "PUBLISH DUP with QoS 0 is malformed [MQTT-3.3.1-2]", 4,
	    "38 [{'a'}]", MAL },
	{ "PUBLISH QoS 1 packet identifier 0 is a protocol error "
	    "[MQTT-2.2.1-3]", 4, "32 [{'a'} 00 00]", PROTO },
	{ "PUBLISH QoS 1 without packet identifier is malformed", 4,
	    "32 [{'a'} 00]", MAL },
	{ "PUBLISH topic with '+' is invalid [MQTT-3.3.2-2]", 4,
	    "30 [{'a/+'}]", MQTT_RC_TOPIC_NAME_INVALID },
	{ "PUBLISH topic with '#' is invalid [MQTT-3.3.2-2]", 5,
	    "30 [{'#'} 00]", MQTT_RC_TOPIC_NAME_INVALID },
	{ "PUBLISH topic must be UTF-8 [MQTT-3.3.2-1]", 4,
	    "30 [{'a' ff}]", MAL },
	{ "PUBLISH topic length past the packet is malformed", 4,
	    "30 [00 05 'ab']", MAL },
	{ "PUBLISH empty body is malformed", 4, "30 00", MAL },
	{ "PUBLISH 3.1.1 empty topic is a protocol error [MQTT-4.7.3-1]", 4,
	    "30 [{}]", PROTO },
	{ "PUBLISH v5 empty topic without Topic Alias is a protocol error "
	    "(3.3.2.1)", 5, "30 [{} 00]", PROTO },
	{ "PUBLISH v5 empty topic with Topic Alias is fine", 5,
	    "30 [{} [23 00 01]]", 0 },
	{ "PUBLISH v5 Topic Alias 0 decodes: the receiver answers it with "
	    "0x94 (MQTT-3.3.2-8)", 5, "30 [{'a'} [23 00 00]]", 0 },
	{ "PUBLISH v5 Subscription Identifier 0 is a protocol error", 5,
	    "30 [{'a'} [0b 00]]", PROTO },
	{ "PUBLISH v5 several Subscription Identifiers are fine", 5,
	    "30 [{'a'} [0b 01 0b ff ff ff 7f]]", 0 },
	{ "PUBLISH v5 Subscription Identifier of 5 bytes is malformed", 5,
	    "30 [{'a'} [0b ff ff ff ff 01]]", MAL },
	{ "PUBLISH v5 Payload Format Indicator 2 is a protocol error", 5,
	    "30 [{'a'} [01 02]]", PROTO },
	{ "PUBLISH v5 Message Expiry twice is a protocol error", 5,
	    "30 [{'a'} [02 00 00 00 01 02 00 00 00 02]]", PROTO },
	{ "PUBLISH v5 Topic Alias twice is a protocol error", 5,
	    "30 [{'a'} [23 00 01 23 00 01]]", PROTO },
	{ "PUBLISH v5 Content Type twice is a protocol error", 5,
	    "30 [{'a'} [03 {'x'} 03 {'x'}]]", PROTO },
	{ "PUBLISH v5 Session Expiry is not a PUBLISH property", 5,
	    "30 [{'a'} [11 00 00 00 01]]", MAL },
	{ "PUBLISH v5 Will Delay is not a PUBLISH property", 5,
	    "30 [{'a'} [18 00 00 00 01]]", MAL },
	{ "PUBLISH v5 property length past the packet is malformed", 5,
	    "30 [{'a'} 10 01]", MAL },
	{ "PUBLISH v5 Response Topic must be UTF-8", 5,
	    "30 [{'a'} [08 {e0 80 80}]]", MAL },
	{ "PUBLISH v5 payload is not checked as UTF-8", 5,
	    "30 [{'a'} [01 01] ff fe 00]", 0 },

	/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
	{ "PUBACK packet identifier 0 is a protocol error [MQTT-2.2.1-3]", 4,
	    "40 02 00 00", PROTO },
	{ "PUBACK 3.1.1 with a reason byte is malformed", 4,
	    "40 03 00 01 00", MAL },
	{ "PUBACK short body is malformed", 4, "40 01 00", MAL },
	{ "PUBACK v5 reason only (3.4.2.1)", 5, "40 03 00 01 10", 0 },
	{ "PUBACK v5 reason 0x92 is not a PUBACK code", 5,
	    "40 03 00 01 92", MAL },
	{ "PUBACK v5 empty property block", 5, "40 04 00 01 00 00", 0 },
	{ "PUBACK v5 property length past the packet is malformed", 5,
	    "40 04 00 01 00 05", MAL },
	{ "PUBACK v5 Reason String twice is a protocol error", 5,
	    "40 [00 01 00 [1f {} 1f {}]]", PROTO },
	{ "PUBACK v5 Reason String must be UTF-8", 5,
	    "40 [00 01 00 [1f {ff}]]", MAL },
	{ "PUBACK v5 Topic Alias is not a PUBACK property", 5,
	    "40 [00 01 00 [23 00 01]]", MAL },
	{ "PUBREC v5 reason 0x10", 5, "50 03 00 01 10", 0 },
	{ "PUBREC v5 reason 0x92 is not a PUBREC code", 5,
	    "50 03 00 01 92", MAL },
	{ "PUBREL v5 reason 0x92", 5, "62 03 00 01 92", 0 },
	{ "PUBREL v5 reason 0x10 is not a PUBREL code", 5,
	    "62 03 00 01 10", MAL },
	{ "PUBCOMP v5 reason 0x80 is not a PUBCOMP code", 5,
	    "70 03 00 01 80", MAL },

	/* SUBSCRIBE. */
	{ "SUBSCRIBE 3.1.1", 4, "82 [00 01 {'a/+'} 01 {'#'} 02]", 0 },
	{ "SUBSCRIBE 3.1.1 option bits 2-7 are malformed [MQTT-3.8.3-4]", 4,
	    "82 [00 01 {'a'} 04]", MAL },
	{ "SUBSCRIBE 3.1.1 option bit 7 is malformed [MQTT-3.8.3-4]", 4,
	    "82 [00 01 {'a'} 80]", MAL },
	{ "SUBSCRIBE QoS 3 is malformed [MQTT-3.8.3-4]", 4,
	    "82 [00 01 {'a'} 03]", MAL },
	{ "SUBSCRIBE without entries is a protocol error [MQTT-3.8.3-3]", 4,
	    "82 02 00 01", PROTO },
	{ "SUBSCRIBE packet identifier 0 is a protocol error "
	    "[MQTT-2.2.1-3]", 4, "82 [00 00 {'a'} 00]", PROTO },
	{ "SUBSCRIBE entry without options is malformed", 4,
	    "82 [00 01 {'a'}]", MAL },
	{ "SUBSCRIBE filter must be UTF-8 [MQTT-3.8.3-1]", 4,
	    "82 [00 01 {'a' 00} 00]", MAL },
	{ "SUBSCRIBE filter syntax is left to the caller", 4,
	    "82 [00 01 {'a/b+'} 00 {} 00]", 0 },
	{ "SUBSCRIBE v5 all option bits", 5,
	    "82 [00 01 [] {'a'} 2d]", 0 },
	{ "SUBSCRIBE v5 option bit 6 is malformed [MQTT-3.8.3-5]", 5,
	    "82 [00 01 [] {'a'} 40]", MAL },
	{ "SUBSCRIBE v5 option bit 7 is malformed [MQTT-3.8.3-5]", 5,
	    "82 [00 01 [] {'a'} 80]", MAL },
	{ "SUBSCRIBE v5 QoS 3 is malformed", 5, "82 [00 01 [] {'a'} 03]", MAL },
	{ "SUBSCRIBE v5 Retain Handling 3 is a protocol error (3.8.3.1)", 5,
	    "82 [00 01 [] {'a'} 30]", PROTO },
	{ "SUBSCRIBE v5 No Local on a shared subscription is a protocol "
	    "error [MQTT-3.8.3-4]", 5,
	    "82 [00 01 [] {'$share/g/a'} 04]", PROTO },
	{ "SUBSCRIBE v5 No Local on a plain filter is fine", 5,
	    "82 [00 01 [] {'a'} 04]", 0 },
	{ "SUBSCRIBE v5 without entries is a protocol error [MQTT-3.8.3-2]",
	    5, "82 [00 01 []]", PROTO },
	{ "SUBSCRIBE v5 Subscription Identifier twice is a protocol error",
	    5, "82 [00 01 [0b 01 0b 02] {'a'} 00]", PROTO },
	{ "SUBSCRIBE v5 Subscription Identifier 0 is a protocol error", 5,
	    "82 [00 01 [0b 00] {'a'} 00]", PROTO },
	{ "SUBSCRIBE v5 Topic Alias is not a SUBSCRIBE property", 5,
	    "82 [00 01 [23 00 01] {'a'} 00]", MAL },

	/* UNSUBSCRIBE. */
	{ "UNSUBSCRIBE 3.1.1", 4, "a2 [00 01 {'a'} {'b/#'}]", 0 },
	{ "UNSUBSCRIBE without entries is a protocol error [MQTT-3.10.3-2]",
	    4, "a2 02 00 01", PROTO },
	{ "UNSUBSCRIBE v5 without entries is a protocol error "
	    "[MQTT-3.10.3-2]", 5, "a2 [00 01 []]", PROTO },
	{ "UNSUBSCRIBE filter must be UTF-8 [MQTT-3.10.3-1]", 4,
	    "a2 [00 01 {ed a0 80}]", MAL },
	{ "UNSUBSCRIBE packet identifier 0 is a protocol error", 4,
	    "a2 [00 00 {'a'}]", PROTO },
	{ "UNSUBSCRIBE v5 Subscription Identifier is not allowed", 5,
	    "a2 [00 01 [0b 01] {'a'}]", MAL },
	{ "UNSUBSCRIBE truncated filter is malformed", 4,
	    "a2 [00 01 00 05 'ab']", MAL },

	/* SUBACK, UNSUBACK. */
	{ "SUBACK 3.1.1", 4, "90 [00 01 00 01 02 80]", 0 },
	{ "SUBACK 3.1.1 code 0x03 is malformed", 4, "90 [00 01 03]", MAL },
	{ "SUBACK 3.1.1 code 0x8F is v5 only", 4, "90 [00 01 8f]", MAL },
	{ "SUBACK v5 code 0x8F", 5, "90 [00 01 [] 8f]", 0 },
	{ "SUBACK v5 code 0x11 is not a SUBACK code", 5,
	    "90 [00 01 [] 11]", MAL },
	{ "SUBACK without codes is a protocol error", 5, "90 [00 01 []]",
	    PROTO },
	{ "UNSUBACK 3.1.1 has no payload", 4, "b0 02 00 01", 0 },
	{ "UNSUBACK 3.1.1 with a payload is malformed", 4,
	    "b0 03 00 01 00", MAL },
	{ "UNSUBACK v5 code 0x11", 5, "b0 [00 01 [] 11]", 0 },
	{ "UNSUBACK v5 code 0x01 is not an UNSUBACK code", 5,
	    "b0 [00 01 [] 01]", MAL },

	/* PINGREQ, PINGRESP, DISCONNECT, AUTH. */
	{ "PINGREQ", 4, "c0 00", 0 },
	{ "PINGREQ with a body is malformed", 4, "c0 01 00", MAL },
	{ "PINGRESP with a body is malformed", 5, "d0 01 00", MAL },
	{ "DISCONNECT 3.1.1 with a body is malformed", 4, "e0 01 00", MAL },
	{ "DISCONNECT v5 empty is success (3.14.2.1)", 5, "e0 00", 0 },
	{ "DISCONNECT v5 reason only", 5, "e0 01 04", 0 },
	{ "DISCONNECT v5 reason 0x05 is not a DISCONNECT code", 5,
	    "e0 01 05", MAL },
	{ "DISCONNECT v5 reason 0x19 is not a DISCONNECT code", 5,
	    "e0 01 19", MAL },
	{ "DISCONNECT v5 Session Expiry twice is a protocol error", 5,
	    "e0 [00 [11 00 00 00 01 11 00 00 00 01]]", PROTO },
	{ "DISCONNECT v5 Receive Maximum is not a DISCONNECT property", 5,
	    "e0 [00 [21 00 01]]", MAL },
	{ "DISCONNECT v5 bytes after the properties are malformed", 5,
	    "e0 [00 [] 00]", MAL },
	{ "AUTH in 3.1.1 is malformed", 4, "f0 00", MAL },
	{ "AUTH in 3.1 is malformed", 3, "f0 00", MAL },
	{ "AUTH v5 empty is success", 5, "f0 00", 0 },
	{ "AUTH v5 reason 0x18", 5, "f0 01 18", 0 },
	{ "AUTH v5 reason 0x87 is not an AUTH code", 5, "f0 01 87", MAL },
	{ "AUTH v5 Session Expiry is not an AUTH property", 5,
	    "f0 [18 [11 00 00 00 01]]", MAL },
	{ "AUTH v5 Authentication Method twice is a protocol error", 5,
	    "f0 [18 [15 {'a'} 15 {'a'}]]", PROTO },
};

static void
test_vectors(void)
{
	struct mqtt_packet out;
	struct mqtt_frame f;
	uint8_t buf[8192];
	const uint8_t *body;
	size_t i, n, k;
	int rc, good;

	for (i = 0; i < ARRLEN(vecs); i++) {
		n = vec_parse(vecs[i].bytes, buf, sizeof buf);
		rc = decode_buf(buf, n, vecs[i].version, &out);
		is_int(rc, vecs[i].rc, "%s", vecs[i].name);

		/* Every truncated body, against the guard page. */
		if (mqtt_frame(buf, n, 0, &f) != MQTT_FRAME_OK)
			continue;
		good = 1;
		for (k = 0; k < f.remaining; k++) {
			body = guard_place(buf + f.header_len, k);
			rc = mqtt_decode(f.type, f.flags, body, (uint32_t)k,
			    vecs[i].version, &out);
			/* Some prefixes are valid packets (a shorter payload,
			 * fewer entries); the point is that none over-reads. */
			good &= rc == 0 || rc == MQTT_RC_MALFORMED ||
			    rc == MQTT_RC_PROTOCOL_ERROR ||
			    rc == MQTT_RC_UNSUPPORTED_VERSION ||
			    rc == MQTT_RC_TOPIC_NAME_INVALID;
		}
		ok(good, "guard page: every truncation of \"%s\" decodes "
		    "without over-read", vecs[i].name);
	}
}

/* Details of decoded vectors that the rc alone does not show. */
static void
test_decode_details(void)
{
	struct mqtt_packet out;
	struct mqtt_str k, v;
	uint8_t buf[512];
	uint32_t pos = 0, id;
	size_t n;
	int rc;

	n = vec_parse("30 [{'a'} [0b 01 26 {'k1'} {'v1'} 0b 80 01 "
	    "26 {'k2'} {''}]]", buf, sizeof buf);
	rc = decode_buf(buf, n, MQTT_V5, &out);
	ok(rc == 0 && out.u.publish.props.n_sub_ids == 2 &&
	    out.u.publish.props.sub_id == 1 &&
	    out.u.publish.props.sub_ids == NULL &&
	    MQTT_PROP_HAS(&out.u.publish.props, MQTT_PROP_SUBSCRIPTION_ID),
	    "PUBLISH v5: first subscription identifier and count kept");
	ok(rc == 0 && out.u.publish.props.n_user == 2 &&
	    mqtt_props_user_next(&out.u.publish.props, &pos, &k, &v) &&
	    str_eq(k, S("k1")) && str_eq(v, S("v1")) &&
	    mqtt_props_user_next(&out.u.publish.props, &pos, &k, &v) &&
	    str_eq(k, S("k2")) && v.len == 0 &&
	    !mqtt_props_user_next(&out.u.publish.props, &pos, &k, &v),
	    "mqtt_props_user_next walks user properties in order");
	pos = 0;
	ok(rc == 0 && mqtt_props_sub_id_next(&out.u.publish.props, &pos, &id) &&
	    id == 1 &&
	    mqtt_props_sub_id_next(&out.u.publish.props, &pos, &id) &&
	    id == 128 &&
	    !mqtt_props_sub_id_next(&out.u.publish.props, &pos, &id),
	    "mqtt_props_sub_id_next walks subscription identifiers in order");
	ok(rc == 0 && mqtt_props_user_size(&out.u.publish.props) ==
	    (1 + 4 + 4) + (1 + 4 + 2), "mqtt_props_user_size");

	n = vec_parse("30 [{'a/b'} 00 'hello']", buf, sizeof buf);
	rc = decode_buf(buf, n, MQTT_V5, &out);
	ok(rc == 0 && str_eq(out.u.publish.payload, S("hello")) &&
	    str_eq(out.u.publish.topic, S("a/b")) &&
	    out.u.publish.props.raw_len == 0,
	    "PUBLISH v5: topic and payload are views into the body");

	n = vec_parse("40 03 00 07 10", buf, sizeof buf);
	rc = decode_buf(buf, n, MQTT_V5, &out);
	ok(rc == 0 && out.u.ack.packet_id == 7 && out.u.ack.reason == 0x10 &&
	    out.u.ack.props.present == 0,
	    "PUBACK v5 reason only: no properties");
	n = vec_parse("40 02 00 07", buf, sizeof buf);
	rc = decode_buf(buf, n, MQTT_V5, &out);
	ok(rc == 0 && out.u.ack.reason == 0 && out.u.ack.props.present == 0 &&
	    out.u.ack.props.n_user == 0,
	    "PUBACK v5 without reason decodes as success [3.4.2.1]");
	n = vec_parse("e0 01 8e", buf, sizeof buf);
	rc = decode_buf(buf, n, MQTT_V5, &out);
	ok(rc == 0 && out.u.reason.reason == 0x8e,
	    "DISCONNECT v5 reason only: reason kept");

	n = vec_parse("82 [00 01 [] {'a'} 01]", buf, sizeof buf);
	is_int(decode_buf(buf, n, MQTT_V5, &out), 0, "SUBSCRIBE decodes");
	ok(out.type == MQTT_SUBSCRIBE && out.flags == 2 &&
	    out.u.subscribe.count == 1, "decode: type and flags reported");

	n = vec_parse("10 [{'MQTT'} 05 c2 00 0a [] {'id'} {'u'} {'p'}]", buf,
	    sizeof buf);
	rc = decode_buf(buf, n, MQTT_V311, &out);
	ok(rc == 0 && out.u.connect.version == MQTT_V5 &&
	    out.u.connect.clean_start && out.u.connect.keep_alive == 10 &&
	    str_eq(out.u.connect.client_id, S("id")) &&
	    str_eq(out.u.connect.username, S("u")) &&
	    str_eq(out.u.connect.password, S("p")),
	    "CONNECT: version is read from the packet, not the argument");

	is_int(mqtt_decode(0, 0, NULL, 0, MQTT_V5, &out), MQTT_RC_MALFORMED,
	    "decode: packet type 0 is malformed [2.1.2]");
	is_int(mqtt_decode(16, 0, NULL, 0, MQTT_V5, &out), MQTT_RC_MALFORMED,
	    "decode: packet type 16 is malformed");
	is_int(mqtt_decode(MQTT_PINGREQ, 0, NULL, 0, MQTT_V311, &out), 0,
	    "decode: an empty body may be NULL");
}

/* --- UTF-8 --- */

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		int valid;
		const char *name;
	} cases[] = {
#define U(lit, valid, name) { lit, sizeof (lit) - 1, valid, name }
		U("", 1, "empty string"),
		U("hello/world", 1, "ASCII"),
		U("\x01\x1f\x7f", 1, "control characters are allowed "
		    "[MQTT-1.5.4-3 leaves them to the receiver]"),
		U("a\x00" "b", 0, "U+0000 is invalid [MQTT-1.5.4-2]"),
		U("\xc2\x80", 1, "U+0080 (2 bytes)"),
		U("\xdf\xbf", 1, "U+07FF"),
		U("\xe0\xa0\x80", 1, "U+0800 (3 bytes)"),
		U("\xed\x9f\xbf", 1, "U+D7FF, last before the surrogates"),
		U("\xed\xa0\x80", 0, "U+D800 surrogate is invalid "
		    "[MQTT-1.5.4-1]"),
		U("\xed\xbf\xbf", 0, "U+DFFF surrogate is invalid "
		    "[MQTT-1.5.4-1]"),
		U("\xee\x80\x80", 1, "U+E000, first after the surrogates"),
		U("\xef\xbb\xbf", 1, "U+FEFF BOM is kept, not skipped "
		    "[MQTT-1.5.4-3]"),
		U("\xef\xbf\xbf", 1, "U+FFFF non-character is allowed"),
		U("\xf0\x90\x80\x80", 1, "U+10000 (4 bytes)"),
		U("\xf0\x9f\x98\x80", 1, "U+1F600 (4 bytes)"),
		U("\xf4\x8f\xbf\xbf", 1, "U+10FFFF"),
		U("\xf4\x90\x80\x80", 0, "U+110000 is above U+10FFFF"),
		U("\xf5\x80\x80\x80", 0, "lead byte F5 is invalid"),
		U("\xff", 0, "byte FF is invalid"),
		U("\xc0\x80", 0, "overlong C0 80 (U+0000) is invalid"),
		U("\xc1\xbf", 0, "overlong C1 BF is invalid"),
		U("\xe0\x80\x80", 0, "overlong E0 80 80 is invalid"),
		U("\xe0\x9f\xbf", 0, "overlong E0 9F BF is invalid"),
		U("\xf0\x80\x80\x80", 0, "overlong F0 80 80 80 is invalid"),
		U("\xf0\x8f\xbf\xbf", 0, "overlong F0 8F BF BF is invalid"),
		U("\x80", 0, "lone continuation byte is invalid"),
		U("\xc3", 0, "truncated 2-byte sequence"),
		U("\xe2\x82", 0, "truncated 3-byte sequence"),
		U("\xf0\x9f\x98", 0, "truncated 4-byte sequence"),
		U("a\xe2\x82" "a", 0, "3-byte sequence cut by ASCII"),
		U("\xc3\x28", 0, "bad continuation byte"),
		U("\xe2\x28\xa1", 0, "bad second byte of 3"),
		U("\xf0\x9f\x28\x80", 0, "bad third byte of 4"),
		U("\xc3\xa9t\xc3\xa9", 1, "mixed ASCII and 2-byte"),
#undef U
	};
	size_t i;
	const uint8_t *p;

	for (i = 0; i < ARRLEN(cases); i++) {
		p = guard_place((const uint8_t *)cases[i].s, cases[i].len);
		is_int(mqtt_utf8_valid(p, cases[i].len), cases[i].valid,
		    "UTF-8: %s", cases[i].name);
	}
}

/* --- topics --- */

static void
test_topics(void)
{
	static const struct {
		const char *t;
		int name, filter;
	} cases[] = {
		{ "a/b", 1, 1 }, { "/", 1, 1 }, { "a//b", 1, 1 },
		{ "", 0, 0 },		/* [MQTT-4.7.3-1] */
		{ "a/+/b", 0, 1 }, { "+", 0, 1 }, { "+/+", 0, 1 },
		{ "/+", 0, 1 }, { "a/+", 0, 1 },
		{ "a/b+", 0, 0 }, { "a/+b", 0, 0 }, { "++", 0, 0 },
		{ "#", 0, 1 }, { "a/#", 0, 1 }, { "/#", 0, 1 },
		{ "a/#/b", 0, 0 }, { "a#", 0, 0 }, { "a/b#", 0, 0 },
		{ "#/", 0, 0 }, { "##", 0, 0 }, { "+#", 0, 0 },
		{ "$SYS/x", 1, 1 },
		{ "$share/g/a/#", 0, 1 }, { "$share/g/+", 0, 1 },
		{ "$share/g/a", 1, 1 },
		{ "$share//a", 1, 0 }, { "$share/g", 1, 0 },
		{ "$share/g/", 1, 0 },
		{ "$share/g+/a", 0, 0 }, { "$share/g#/a", 0, 0 },
		{ "$share/+/a", 0, 0 }, { "$share/g/a/b#", 0, 0 },
		{ "$share/", 1, 0 }, { "$sharex/a", 1, 1 }, { "$share", 1, 1 },
	};
	struct mqtt_str g, f;
	const uint8_t *p;
	size_t i, n;

	for (i = 0; i < ARRLEN(cases); i++) {
		n = strlen(cases[i].t);
		p = guard_place((const uint8_t *)cases[i].t, n);
		is_int(mqtt_topic_name_valid(p, n), cases[i].name,
		    "topic name \"%s\" %s [MQTT-4.7.1-1]", cases[i].t,
		    cases[i].name ? "is valid" : "is invalid");
		is_int(mqtt_topic_filter_valid(p, n), cases[i].filter,
		    "topic filter \"%s\" %s [MQTT-4.7.1-2] [MQTT-4.8.2-1]",
		    cases[i].t, cases[i].filter ? "is valid" : "is invalid");
	}
	p = (const uint8_t *)"$share/grp/a/b";
	ok(mqtt_topic_shared(p, 14, &g, &f) && str_eq(g, S("grp")) &&
	    str_eq(f, S("a/b")), "mqtt_topic_shared splits group and filter");
	ok(mqtt_topic_shared(p, 14, NULL, NULL),
	    "mqtt_topic_shared accepts NULL outputs");
	ok(!mqtt_topic_shared((const uint8_t *)"a/b", 3, &g, &f),
	    "mqtt_topic_shared: a plain filter is not shared");
	ok(!mqtt_topic_shared((const uint8_t *)"$share", 6, &g, &f),
	    "mqtt_topic_shared: \"$share\" alone is not shared");
}

/* --- names --- */

static void
test_names(void)
{
	ok(strcmp(mqtt_rc_name(0x81), "malformed packet") == 0,
	    "mqtt_rc_name(0x81)");
	ok(strcmp(mqtt_rc_name(0x03), "unknown reason code") == 0,
	    "mqtt_rc_name of an undefined code");
	ok(strcmp(mqtt_type_name(MQTT_PUBLISH), "PUBLISH") == 0 &&
	    strcmp(mqtt_type_name(MQTT_AUTH), "AUTH") == 0,
	    "mqtt_type_name");
	ok(strcmp(mqtt_type_name(0), "?") == 0 &&
	    strcmp(mqtt_type_name(16), "?") == 0,
	    "mqtt_type_name of unknown types is \"?\"");
	is_int(mqtt_rc_to_v3_connack(0x00), MQTT_V3_ACCEPTED,
	    "v3 CONNACK: 0x00");
	is_int(mqtt_rc_to_v3_connack(0x84), MQTT_V3_BAD_VERSION,
	    "v3 CONNACK: 0x84 unsupported version");
	is_int(mqtt_rc_to_v3_connack(0x85), MQTT_V3_ID_REJECTED,
	    "v3 CONNACK: 0x85 client id");
	is_int(mqtt_rc_to_v3_connack(0x86), MQTT_V3_BAD_USER_OR_PASSWORD,
	    "v3 CONNACK: 0x86 bad user name or password");
	is_int(mqtt_rc_to_v3_connack(0x87), MQTT_V3_NOT_AUTHORIZED,
	    "v3 CONNACK: 0x87 not authorized");
	is_int(mqtt_rc_to_v3_connack(0x88), MQTT_V3_SERVER_UNAVAILABLE,
	    "v3 CONNACK: 0x88 server unavailable");
	is_int(mqtt_rc_to_v3_connack(0x89), MQTT_V3_SERVER_UNAVAILABLE,
	    "v3 CONNACK: 0x89 server busy");
}

int
main(void)
{
	guard_init();
	test_varint();
	test_frame_limits();
	test_roundtrips();
	test_encode_exact();
	test_vectors();
	test_decode_details();
	test_utf8();
	test_topics();
	test_names();
	return tap_done();
}
