/*
 * forward.c - a message goes to each other node once.
 *
 * deliver_route() walks srv.subs once; each route of another node it
 * meets is collected here (bridge_collect) instead of being delivered,
 * and bridge_forward() then hands the message to each collected node's
 * forward session, once, at the QoS it was published with (the receiving
 * node downgrades per subscriber) and with its retain flag. A retained
 * message goes to every node, matched or not, so that every node holds
 * the cluster's retained messages.
 *
 * Identity: a message gets a cluster-wide id where it enters the cluster
 * (bridge_msg_identify, from deliver_route): the origin node, as a 64-bit
 * hash of its name, and a sequence of that node, milliseconds since the
 * epoch shifted left 20 bits plus a counter, so that it grows across
 * restarts without a write (as long as the clock does not go back, and
 * at most 2^20 messages a millisecond). Every forwarded or moved copy
 * carries it in user properties put first when the PUBLISH is encoded
 * for a link (deliver.c: bridge_id_prop), in the form of the link's
 * protocol (link.c negotiates it):
 * - 2: the first user property, with an empty key, on every PUBLISH of
 *   the link but the "$cluster/" ones (an empty value: no identity); the
 *   value is the sequence as a difference from the previous identity on
 *   that link and the origin only when the sending node is not the
 *   origin (a moved message that came from a third node), in base64url
 *   digits (bridge/proto.h has the layout, proto.c the codec): 7 or 8
 *   bytes on a forward a few ms after the previous one. Both ends keep
 *   the previous sequence on the conn (link_seq): the sender moves it
 *   once the PUBLISH is out (bridge_id_sent), the receiver as it reads
 *   each PUBLISH, before anything may drop it (bridge_id_in, from
 *   bridge_dispatch), so that they stay in step; a PUBLISH without it,
 *   or with one that does not decode, closes the link rather than an id
 *   be taken wrong.
 * - 1: "$tern/i", the sequence in 11 base64url digits, and "$tern/o",
 *   the origin the same way, only when the sending node is not the
 *   origin: 23 bytes on a forward.
 * The receiving node strips and keeps it (bridge_msg_in), and it is
 * stored with the message (msg.c). A session recognises by it a message
 * that reaches it twice (deliver_seen).
 *
 * Shared subscriptions: a group is served by one member cluster-wide.
 * The publishing node's trie picks among its local members and the nodes
 * with members; when it picks a node, the forwarded message says so with
 * the user property "$tern/share" (value: the $share filter), and
 * "$tern/noplain" when it goes to that node for the group only (no plain
 * subscription of that node matched). The receiving node strips these,
 * delivers to plain subscriptions only without "$tern/noplain", and to a
 * shared group only when named (then to a local member).
 */
#include "config.h"

#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "proto.h"

static uint64_t self_origin; /* hash of node_name */
static uint64_t last_seq;

/* The identity of the PUBLISH being read on a link of version 2
 * (bridge_id_in), for bridge_msg_in: valid while in_id_conn is its
 * link. */
static const struct conn *in_id_conn;
static int in_id_has;
static uint64_t in_id_origin, in_id_seq;

static struct peer **collected;
static size_t n_collected, cap_collected;

/* What the message last made by bridge_msg_in is for. */
static int in_plain = 1;
static char **in_shares;
static size_t n_in_shares, cap_in_shares;

/* Split sessions here that the message being routed reached (bridge_had),
 * named in its forwarded copies; and those named in the message last made
 * by bridge_msg_in. */
static const struct session **had;
static size_t n_had, cap_had;
static char **in_had;
static size_t n_in_had, cap_in_had;

void
bridge_collect(struct peer *p, const char *share)
{
	if (!p->fwd_listed) {
		if (n_collected == cap_collected) {
			cap_collected = cap_collected ? cap_collected * 2 : 8;
			collected = xreallocarray(collected, cap_collected,
			    sizeof *collected);
		}
		collected[n_collected++] = p;
		p->fwd_listed = 1;
		p->fwd_plain = 0;
		p->n_fwd_shares = 0;
	}
	if (share == NULL) {
		p->fwd_plain = 1;
		return;
	}
	if (p->n_fwd_shares == p->cap_fwd_shares) {
		p->cap_fwd_shares = p->cap_fwd_shares ?
		    p->cap_fwd_shares * 2 : 4;
		p->fwd_shares = xreallocarray(p->fwd_shares,
		    p->cap_fwd_shares, sizeof *p->fwd_shares);
	}
	p->fwd_shares[p->n_fwd_shares++] = (char *)share;
}

static size_t
user_size(const char *key, size_t vlen)
{
	return 1 + 2 + strlen(key) + 2 + vlen;
}

void
bridge_had(const struct session *s)
{
	/* A few at most: each costs a user property on every forwarded
	 * copy (a copy over a link's packet size would be dropped). */
	if (n_had >= BRIDGE_HAD_MAX)
		return;
	if (n_had == cap_had) {
		cap_had = cap_had ? cap_had * 2 : 4;
		had = xreallocarray(had, cap_had, sizeof *had);
	}
	had[n_had++] = s;
}

int
bridge_in_had(const struct session *s)
{
	size_t i;

	for (i = 0; i < n_in_had; i++) {
		if (strlen(in_had[i]) == s->id_len &&
		    memcmp(in_had[i], s->client_id, s->id_len) == 0)
			return 1;
	}
	return 0;
}

/* m with the markers saying which of p's shared groups it is for, and
 * which split sessions here had it. */
static struct msg *
forward_marked(struct msg *m, const struct peer *p)
{
	uint8_t *buf, *u;
	size_t size = 0, i;
	struct msg *mm;

	for (i = 0; i < p->n_fwd_shares; i++)
		size += user_size(BRIDGE_PROP_SHARE,
		    strlen(p->fwd_shares[i]));
	if (!p->fwd_plain)
		size += user_size(BRIDGE_PROP_NOPLAIN, 0);
	for (i = 0; i < n_had; i++)
		size += user_size(BRIDGE_PROP_HAD, had[i]->id_len);
	u = buf = xmalloc(size);
	for (i = 0; i < p->n_fwd_shares; i++)
		u = bridge_put_user(u, BRIDGE_PROP_SHARE, p->fwd_shares[i],
		    strlen(p->fwd_shares[i]));
	if (!p->fwd_plain)
		u = bridge_put_user(u, BRIDGE_PROP_NOPLAIN, "", 0);
	for (i = 0; i < n_had; i++)
		u = bridge_put_user(u, BRIDGE_PROP_HAD, had[i]->client_id,
		    had[i]->id_len);
	mm = msg_with_user(m, buf, (uint32_t)(u - buf));
	free(buf);
	return mm;
}

unsigned
bridge_forward(struct msg *m, int unmatched)
{
	struct peer *p;
	struct msg *mm;
	unsigned n = 0;
	size_t i;

	if (sys_topic(m->topic, m->topic_len) ||
	    bridge_reserved_topic((const uint8_t *)m->topic, m->topic_len)) {
		/* Each node has its own $SYS; "$cluster/" is the links'. */
		bridge_tombstone_flush(m, 0);
		for (i = 0; i < n_collected; i++)
			collected[i]->fwd_listed = 0;
		n_collected = 0;
		n_had = 0;
		return 0;
	}
	if (m->retain) {
		for (i = 0; (p = bridge_peer_at(i)) != NULL; i++)
			bridge_collect(p, NULL);
	} else if (unmatched && n_collected == 0 && m->qos > 0) {
		/* Matched nowhere we know of. A node we have not heard from
		 * since it came back, or that is away with its routes in
		 * grace, may have a subscriber that came meanwhile (one that
		 * moved there from a node that withdrew its route): it gets
		 * the message and delivers it if so, rather than the
		 * publisher hear "no matching subscribers" and it be lost. */
		for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
			if (bridge_routes_uncertain(p))
				bridge_collect(p, NULL);
		}
	}
	bridge_tombstone_flush(m, 1);
	for (i = 0; i < n_collected; i++) {
		p = collected[i];
		p->fwd_listed = 0;
		mm = p->fwd_plain && p->n_fwd_shares == 0 && n_had == 0 ? m :
		    forward_marked(m, p);
		deliver_to_session(p->out, mm, m->qos, m->retain, NULL, 0);
		p->forwarded++;
		if (mm != m)
			msg_unref(mm);
		n++;
	}
	n_collected = 0;
	n_had = 0;
	return n;
}

/* A node name's origin hash: FNV-1a (hash.c), never 0 (0 is "none"). */
uint64_t
bridge_origin_of(const char *s, size_t len)
{
	uint64_t h = hash_bytes(s, len);

	return h != 0 ? h : 1;
}

static uint64_t
forward_self(void)
{
	/* A node without node_name (receipt.c): the empty name's hash. */
	if (self_origin == 0)
		self_origin = srv.cfg.node_name != NULL ?
		    bridge_origin_of(srv.cfg.node_name,
		    strlen(srv.cfg.node_name)) : bridge_origin_of("", 0);
	return self_origin;
}

void
bridge_msg_identify(struct msg *m)
{
	struct timeval tv;
	uint64_t seq;

	if (m->id_origin != 0)
		return;
	forward_self();
	gettimeofday(&tv, NULL);
	seq = ((uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000) << 20;
	if (seq <= last_seq)
		seq = last_seq + 1;
	last_seq = seq;
	m->id_origin = self_origin;
	m->id_seq = seq;
}

/* base64url digits, 6 bits each, most significant first. */
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
bridge_b64(uint64_t v, char out[11])
{
	int i;

	for (i = 10; i >= 0; i--) {
		out[i] = b64[v & 63];
		v >>= 6;
	}
}

static int
forward_unb64(struct mqtt_str v, uint64_t *out)
{
	const char *at;
	uint64_t x = 0;
	uint32_t i;

	if (v.len != 11)
		return 0;
	for (i = 0; i < 11; i++) {
		if (v.p[i] == 0 || (at = strchr(b64, v.p[i])) == NULL)
			return 0;
		x = x << 6 | (uint64_t)(at - b64);
	}
	*out = x;
	return 1;
}

/* A "$cluster/" topic, as the PUBLISH on the link names it: a control
 * message, which carries no identity on a link of version 2. */
static int
forward_control(struct mqtt_str topic)
{
	return topic.len >= 9 && memcmp(topic.p, "$cluster/", 9) == 0;
}

size_t
bridge_id_prop(const struct conn *c, const struct msg *m,
    const struct mqtt_publish *pub, uint8_t *buf)
{
	char v[PROTO_ID_LEN_MAX];
	struct proto_id id;
	uint8_t *u = buf;

	if (conn_ax(c)->link_proto >= 2) {
		/* First among the user properties, with an empty key; an
		 * empty value when m has no identity (proto.h). */
		if (forward_control(pub->topic))
			return 0;
		if (m->id_origin == 0)
			return (size_t)(bridge_put_user(u, "", "", 0) - buf);
		id.seq = m->id_seq;
		id.origin = m->id_origin != forward_self() ? m->id_origin : 0;
		u = bridge_put_user(u, "", v,
		    proto_id_encode(conn_ax(c)->link_seq, &id, (uint8_t *)v));
		return (size_t)(u - buf);
	}
	if (m->id_origin == 0)
		return 0;
	bridge_b64(m->id_seq, v);
	u = bridge_put_user(u, BRIDGE_PROP_ID, v, 11);
	/* The origin goes only when it is not the sending node (a moved
	 * message that came from a third node). */
	if (m->id_origin != forward_self()) {
		bridge_b64(m->id_origin, v);
		u = bridge_put_user(u, BRIDGE_PROP_ORIGIN, v, 11);
	}
	return (size_t)(u - buf);
}

void
bridge_id_sent(struct conn *c, const struct msg *m,
    const struct mqtt_publish *pub)
{
	if (conn_ax(c)->link_proto >= 2 && m->id_origin != 0 &&
	    !forward_control(pub->topic))
		conn_aux(c)->link_seq = m->id_seq;
}

int
bridge_id_in(struct conn *c, const struct mqtt_publish *pub)
{
	struct mqtt_str k, v;
	struct proto_id id;
	struct peer *from = conn_ax(c)->link_ctx;
	uint32_t pos = 0;

	in_id_conn = NULL;
	if (conn_ax(c)->link_proto < 2 || forward_control(pub->topic))
		return 0;
	/* Every other PUBLISH starts with its identity: without it, the
	 * sequences of the ones after could be taken wrong. */
	if (!mqtt_props_user_next(&pub->props, &pos, &k, &v) || k.len != 0) {
		log_error("cluster link from %s: a PUBLISH without its "
		    "identity", from->name);
		return MQTT_RC_PROTOCOL_ERROR;
	}
	in_id_conn = c;
	in_id_has = 0;
	if (v.len == 0)
		return 0;
	if (proto_id_decode(v.p, v.len, conn_ax(c)->link_seq, &id) != 0) {
		log_error("cluster link from %s: a malformed identity",
		    from->name);
		in_id_conn = NULL;
		return MQTT_RC_MALFORMED;
	}
	conn_aux(c)->link_seq = id.seq;
	in_id_has = 1;
	in_id_origin = id.origin;
	in_id_seq = id.seq;
	return 0;
}

static int
key_is(struct mqtt_str k, const char *key)
{
	size_t kl = strlen(key);

	return k.len == kl && memcmp(k.p, key, kl) == 0;
}

struct msg *
bridge_msg_in(struct conn *c, const struct mqtt_publish *pub,
    const uint8_t *topic, uint32_t topic_len)
{
	struct mqtt_str k, v, wire;
	uint32_t pos = 0, size = 0, n = 0;
	uint8_t *buf, *u;
	struct msg *m;
	size_t i;
	int marked = 0, has_id = 0;
	uint64_t origin = 0, seq = 0;
	struct peer *from = conn_ax(c)->link_ctx;
	/* Version 2: the first user property is the identity, read by
	 * bridge_id_in; "$tern/i" and "$tern/o" are not read. */
	int v2 = in_id_conn == c;

	from->received++;
	for (i = 0; i < n_in_shares; i++)
		free(in_shares[i]);
	n_in_shares = 0;
	for (i = 0; i < n_in_had; i++)
		free(in_had[i]);
	n_in_had = 0;
	in_plain = 1;
	bridge_target_reset();
	while (mqtt_props_user_next(&pub->props, &pos, &k, &v)) {
		if (v2 && n++ == 0) {
			marked = 1;
		} else if (key_is(k, BRIDGE_PROP_SHARE)) {
			if (n_in_shares == cap_in_shares) {
				cap_in_shares = cap_in_shares ?
				    cap_in_shares * 2 : 4;
				in_shares = xreallocarray(in_shares,
				    cap_in_shares, sizeof *in_shares);
			}
			in_shares[n_in_shares++] =
			    xstrndup((const char *)v.p, v.len);
			marked = 1;
		} else if (key_is(k, BRIDGE_PROP_HAD)) {
			if (n_in_had == cap_in_had) {
				cap_in_had = cap_in_had ? cap_in_had * 2 : 4;
				in_had = xreallocarray(in_had, cap_in_had,
				    sizeof *in_had);
			}
			in_had[n_in_had++] = xstrndup((const char *)v.p,
			    v.len);
			marked = 1;
		} else if (key_is(k, BRIDGE_PROP_NOPLAIN)) {
			in_plain = 0;
			marked = 1;
		} else if (key_is(k, BRIDGE_PROP_ID)) {
			if (!v2)
				has_id = forward_unb64(v, &seq);
			marked = 1;
		} else if (key_is(k, BRIDGE_PROP_ORIGIN)) {
			if (!v2)
				forward_unb64(v, &origin);
			marked = 1;
		} else if (!key_is(k, PRESENCE_PROP) &&
		    bridge_target_prop(k, v)) {
			marked = 1;
		} else {
			size += 1 + 2 + k.len + 2 + v.len;
		}
	}
	if (!marked)
		return msg_from_publish(pub, topic, topic_len);
	if (v2) {
		has_id = in_id_has;
		origin = in_id_origin;
		seq = in_id_seq;
		in_id_conn = NULL;
	}
	u = buf = xmalloc(size + 1);
	pos = 0;
	n = 0;
	while (mqtt_props_user_next(&pub->props, &pos, &k, &v)) {
		/* The link's own marks go; the order of a presence
		 * message stays with it (presence.c). */
		if ((v2 && n++ == 0) ||
		    (k.len >= 6 && memcmp(k.p, "$tern/", 6) == 0 &&
		    !key_is(k, PRESENCE_PROP)))
			continue;
		*u++ = MQTT_PROP_USER;
		*u++ = (uint8_t)(k.len >> 8);
		*u++ = (uint8_t)k.len;
		memcpy(u, k.p, k.len);
		u += k.len;
		*u++ = (uint8_t)(v.len >> 8);
		*u++ = (uint8_t)v.len;
		memcpy(u, v.p, v.len);
		u += v.len;
	}
	wire.p = buf;
	wire.len = (uint32_t)(u - buf);
	m = msg_from_publish_user(pub, topic, topic_len, &wire);
	free(buf);
	if (has_id) {
		/* No origin given: the sending node is the origin. */
		m->id_origin = origin != 0 ? origin :
		    bridge_origin_of(from->name, strlen(from->name));
		m->id_seq = seq;
	}
	return m;
}

int
bridge_reserved_topic(const uint8_t *topic, uint32_t len)
{
	return bridge_on() && len >= 9 && memcmp(topic, "$cluster/", 9) == 0;
}

/* Walk wire-form user properties: 1 and the next key/value, 0 at the
 * end (or on a malformed entry, which cannot come from the codec). */
static int
user_next(const uint8_t *p, uint32_t len, uint32_t *pos, struct mqtt_str *k,
    struct mqtt_str *v)
{
	uint32_t at = *pos;

	if (at + 3 > len || p[at] != MQTT_PROP_USER)
		return 0;
	k->len = (uint32_t)p[at + 1] << 8 | p[at + 2];
	k->p = p + at + 3;
	at += 3 + k->len;
	if (at + 2 > len)
		return 0;
	v->len = (uint32_t)p[at] << 8 | p[at + 1];
	v->p = p + at + 2;
	at += 2 + v->len;
	if (at > len)
		return 0;
	*pos = at;
	return 1;
}

static int
key_reserved(struct mqtt_str k)
{
	return k.len >= 6 && memcmp(k.p, "$tern/", 6) == 0;
}

struct msg *
bridge_msg_clean(struct msg *m)
{
	struct mqtt_str k, v;
	struct mqtt_props props;
	struct mqtt_str payload = { m->payload, m->payload_len }, wire;
	uint32_t pos = 0, start;
	uint8_t *buf, *u;
	struct msg *clean;
	int reserved = 0;

	while (user_next(m->user, m->user_len, &pos, &k, &v))
		reserved |= key_reserved(k);
	if (!reserved)
		return m;
	u = buf = xmalloc(m->user_len);
	for (pos = 0, start = 0; user_next(m->user, m->user_len, &pos, &k,
	    &v); start = pos) {
		if (key_reserved(k))
			continue;
		memcpy(u, m->user + start, pos - start);
		u += pos - start;
	}
	wire.p = buf;
	wire.len = (uint32_t)(u - buf);
	msg_props(m, &props);
	clean = msg_from_parts(&props, &wire, (const uint8_t *)m->topic,
	    m->topic_len, payload, m->qos, m->retain);
	free(buf);
	msg_unref(m);
	return clean;
}

int
bridge_in_plain(void)
{
	return in_plain;
}

int
bridge_in_share(const char *filter)
{
	size_t i;

	for (i = 0; i < n_in_shares; i++) {
		if (strcmp(in_shares[i], filter) == 0)
			return 1;
	}
	return 0;
}

void
bridge_forward_free(void)
{
	size_t i;

	free(collected);
	collected = NULL;
	n_collected = cap_collected = 0;
	for (i = 0; i < n_in_shares; i++)
		free(in_shares[i]);
	free(in_shares);
	in_shares = NULL;
	n_in_shares = cap_in_shares = 0;
	in_plain = 1;
	for (i = 0; i < n_in_had; i++)
		free(in_had[i]);
	free(in_had);
	in_had = NULL;
	n_in_had = cap_in_had = 0;
	free(had);
	had = NULL;
	n_had = cap_had = 0;
}
