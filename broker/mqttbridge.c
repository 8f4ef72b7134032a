/*
 * mqttbridge.c - bridges to other brokers (mosquitto, EMQX, another tern):
 * this node connects to a remote broker as an MQTT client, as mosquitto's
 * bridges do, and passes messages both ways along the topic lines of a
 * "connection" section of tern.conf (tern.conf(5), "Bridges to other
 * brokers"). Not the cluster: bridge/ links tern nodes among themselves
 * with their own protocol; this speaks plain MQTT 3.1.1 or 5.0 to anyone.
 *
 * The internal session. Each bridge owns a persistent session of the
 * node, "$bridge/<name>" (no client may take that id), subscribed to the
 * local side of its out topic lines (local-prefix + pattern), with No
 * Local and Retain As Published. What is published here and matches
 * goes into that session's queue like into any client's: the store, the
 * ack gate, the in-flight window and the resend after a drop are the
 * broker's own (deliver.c, persist.c, gate.c). So a QoS 1/2 message is
 * on disk before its publisher's PUBACK while the remote is away, and
 * leaves the store only when the remote has acknowledged it; the queue is
 * bounded by max_queued_messages and max_queued_bytes as a client's is
 * (an offline session past them drops, as mosquitto's bridges do).
 *
 * The dialled connection. The session's connection is a struct conn that
 * this node dialled (link LINK_EXT): conn.c sends TCP's success here
 * (CONNECT, with protocol byte 0x84 or 0x83 for a 3.x bridge with
 * try_private), read.c hands every packet from the remote to
 * mqttbridge_dispatch(): the CONNACK attaches the session to the
 * connection (deliver_resume: DUP resend, then the queue), subscribes to
 * the remote side of the in topic lines, and from then on
 *   - the remote's PUBACK, PUBREC and PUBCOMP go to the client handlers
 *     (handle_ack.c): for the outgoing flows we are the sender;
 *   - a PUBLISH from the remote gets its topic mapped (remote-prefix to
 *     local-prefix) and goes to handle_publish() as the session's own
 *     publish: routed, retained, stored, and acknowledged to the remote
 *     through the ack gate once it is durable, as a client's is;
 *   - deliver_send() gives the session's outgoing PUBLISHes to
 *     mqttbridge_send(), which maps the topic (local to remote prefix).
 * With bridge_cafile the connection speaks TLS (tls.c's client side, as
 * cluster links do): the remote's certificate is checked against that CA
 * and must be for the host or address of the address line, unless
 * bridge_insecure; bridge_certfile and bridge_keyfile are presented to a
 * remote that asks. The CONNECT (with remote_password) waits in the TLS
 * filter until the handshake has succeeded.
 * A connection that fails, or is refused, is dialled again after a
 * doubling delay (restart_timeout base to cap, jittered between half and
 * all of it), on the next address of the section (failover, in order;
 * after a connection that was up, the first address again). Keep alive:
 * PINGREQ when nothing was sent or heard for half the keep alive, and a
 * remote silent for 1.5 times the keep alive is given up.
 *
 * Loop safety:
 *   - the session's subscriptions are No Local: what came in from the
 *     remote (published by the session) never goes back out;
 *   - on MQTT 5 the remote subscriptions are No Local too, so the remote
 *     does not send back what we publish there; on 3.1.1 try_private
 *     (protocol byte | 0x80) tells a mosquitto remote that we are a
 *     bridge, and it does the same;
 *   - on MQTT 5 what we send carries the user property tern-origin (the
 *     node's name, or a random id drawn at start without node_name),
 *     kept if it has one already; a PUBLISH from a remote whose
 *     tern-origin is ours left here before and came back round a cycle
 *     of bridges (this node -> A -> B -> this node): it is acknowledged
 *     and dropped. Two nodes bridged to one broker (a star) need no mark:
 *     No Local at both ends keeps each message to one pass.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

#define ORIGIN_PROP "tern-origin"

struct mqttbridge {
	struct mqttbridge_conf *conf;
	struct session *s; /* "$bridge/<name>" */
	struct conn *c; /* dialling or up; NULL while waiting */
	struct resolve *resolving; /* its address's name being resolved */
	struct event *retry;
	struct tls_ctx *tls; /* bridge_cafile given: TLS (tls.c) */
	char *client_id; /* sent in CONNECT */
	size_t addr; /* index of the address dialled (next) */
	uint32_t backoff_ms;
	uint64_t sent, received; /* messages, both ways */
	uint64_t tx_mark; /* c->tx_bytes at the last keep-alive tick */
	char label[300]; /* "host:port" of the address dialled */
	uint8_t up; /* its CONNACK came */
	uint8_t warned; /* the remote being unreachable was logged */
};

static struct mqttbridge *bridges;
static size_t n_bridges;
static char origin[72]; /* our tern-origin (see the design note) */

/* --- topics --- */

/* The first topic line of direction dir whose filter on that side
 * (local or remote, by dir) matches topic; NULL when none. */
static const struct mqttbridge_topic *
xb_match(const struct mqttbridge *b, uint8_t dir, const char *topic,
    size_t len)
{
	const struct mqttbridge_topic *t;
	const char *prefix, *filter;
	size_t i, pl;

	for (i = 0; i < b->conf->n_topics; i++) {
		t = &b->conf->topics[i];
		if (!(t->dir & dir))
			continue;
		prefix = dir == MQTTBRIDGE_OUT ? t->local_prefix :
		    t->remote_prefix;
		filter = dir == MQTTBRIDGE_OUT ? t->local_filter :
		    t->remote_filter;
		pl = strlen(prefix);
		if (len >= pl && memcmp(topic, prefix, pl) == 0 &&
		    acl_topic_match(filter, strlen(filter), topic, len))
			return t;
	}
	return NULL;
}

/* topic with t's prefix of one side replaced by that of the other, into
 * buf (size bytes; a larger one is allocated, freed by the caller when it
 * is not buf). Returns the new topic; *out_len its length. */
static char *
xb_map(const struct mqttbridge_topic *t, uint8_t dir, const char *topic,
    size_t len, char *buf, size_t size, size_t *out_len)
{
	const char *from = dir == MQTTBRIDGE_OUT ? t->local_prefix :
	    t->remote_prefix;
	const char *to = dir == MQTTBRIDGE_OUT ? t->remote_prefix :
	    t->local_prefix;
	size_t fl = strlen(from), tl = strlen(to), n = tl + len - fl;
	char *p = n <= size ? buf : xmalloc(n);

	memcpy(p, to, tl);
	memcpy(p + tl, topic + fl, len - fl);
	*out_len = n;
	return p;
}

/* --- dialling --- */

static void xb_dial(struct mqttbridge *);

static void
xb_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	xb_dial(arg);
}

/* Dial again after the backoff: restart_base doubled at each failure up
 * to restart_cap, each wait drawn between half and all of it, so that
 * bridges of nodes restarted together do not redial in step. */
static void
xb_later(struct mqttbridge *b)
{
	struct timeval tv;
	uint32_t ms, jitter, cap = b->conf->restart_cap * 1000;

	if (srv.shutting_down)
		return;
	if (b->backoff_ms == 0)
		b->backoff_ms = b->conf->restart_base * 1000;
	evutil_secure_rng_get_bytes(&jitter, sizeof jitter);
	ms = b->backoff_ms / 2 + jitter % (b->backoff_ms / 2 + 1);
	b->backoff_ms = b->backoff_ms > cap / 2 ? cap : b->backoff_ms * 2;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(b->retry, &tv);
}

/* The address of b's next dial is known (err NULL), or not. */
static void
xb_resolved(const char *err, const struct sockaddr *sa, int salen,
    void *arg)
{
	struct mqttbridge *b = arg;
	const struct mqttbridge_addr *a = &b->conf->addrs[b->addr];

	b->resolving = NULL;
	if (srv.shutting_down)
		return;
	if (err != NULL) {
		log_warn("bridge %s: %s: %s", b->conf->name, b->label, err);
		b->addr = (b->addr + 1) % b->conf->n_addrs;
		xb_later(b);
		return;
	}
	/* With TLS, the certificate must be for the host as written in
	 * the address line, unless bridge_insecure. */
	b->c = conn_connect(sa, salen, b->label,
	    b->tls, b->conf->insecure ? NULL : a->host);
	if (b->c == NULL) {
		b->addr = (b->addr + 1) % b->conf->n_addrs;
		xb_later(b);
		return;
	}
	b->c->link = LINK_EXT;
	conn_aux(b->c)->link_ctx = b;
	b->c->version = b->conf->version;
	log_info("bridge %s: dialling %s", b->conf->name, b->label);
}

static void
xb_dial(struct mqttbridge *b)
{
	const struct mqttbridge_addr *a = &b->conf->addrs[b->addr];

	if (b->c != NULL || b->resolving != NULL || srv.shutting_down)
		return;
	snprintf(b->label, sizeof b->label, strchr(a->host, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", a->host, a->port);
	/* A host name is resolved without blocking the loop (resolve.c). */
	b->resolving = resolve_start(a->host, a->port, xb_resolved, b);
}

void
mqttbridge_connected(struct conn *c)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;
	const struct mqttbridge_conf *cf;
	struct mqtt_packet pkt;
	struct mqtt_connect *cp = &pkt.u.connect;
	evutil_socket_t fd = conn_fd(c);
	size_t len, hl;
	uint8_t *buf;
	int one = 1;

	if (b == NULL)
		return; /* reconfigured (mqttbridge_reload) */
	cf = b->conf;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNECT;
	cp->version = cf->version;
	cp->clean_start = cf->cleansession;
	cp->keep_alive = (uint16_t)cf->keepalive;
	cp->client_id.p = (const uint8_t *)b->client_id;
	cp->client_id.len = (uint32_t)strlen(b->client_id);
	if (cf->remote_username != NULL) {
		cp->has_username = 1;
		cp->username.p = (const uint8_t *)cf->remote_username;
		cp->username.len = (uint32_t)strlen(cf->remote_username);
	}
	if (cf->remote_password != NULL) {
		cp->has_password = 1;
		cp->password.p = (const uint8_t *)cf->remote_password;
		cp->password.len = (uint32_t)strlen(cf->remote_password);
	}
	if (cf->version == MQTT_V5) {
		/* The remote keeps our session (its subscriptions, and what
		 * it queues for us) as long as it will, unless cleansession;
		 * it sends us no more than we take unacknowledged, which is
		 * what handle_publish holds a client to. */
		MQTT_PROP_SET(&cp->props, MQTT_PROP_SESSION_EXPIRY);
		cp->props.session_expiry = cf->cleansession ? 0 : UINT32_MAX;
		MQTT_PROP_SET(&cp->props, MQTT_PROP_RECEIVE_MAX);
		cp->props.receive_max = (uint16_t)srv.cfg.receive_maximum;
		MQTT_PROP_SET(&cp->props, MQTT_PROP_MAX_PACKET_SIZE);
		cp->props.max_packet_size = srv.cfg.max_packet_size;
	}
	/* Encoded here rather than by conn_send: try_private sets the high
	 * bit of the protocol level (0x84), after the fixed header and the
	 * protocol name "MQTT" (2 + 4 bytes). */
	len = mqtt_encode_len(&pkt, cf->version);
	buf = xmalloc(len);
	mqtt_encode(&pkt, cf->version, buf);
	if (cf->try_private && cf->version != MQTT_V5) {
		for (hl = 1; buf[hl] & 0x80; hl++)
			;
		buf[hl + 1 + 6] |= 0x80;
	}
	conn_write(c, buf, len);
	c->tx_bytes += len;
	free(buf);
}

void
mqttbridge_failed(struct conn *c, const char *why)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;

	if (b == NULL)
		return; /* reconfigured (mqttbridge_reload) */

	/* Said once as a warning until it connects, then at info: a remote
	 * that is down for an hour should not fill the log. */
	if (!b->warned)
		log_warn("bridge %s: cannot connect to %s: %s (retrying)",
		    b->conf->name, b->label, why);
	else
		log_info("bridge %s: cannot connect to %s: %s",
		    b->conf->name, b->label, why);
	b->warned = 1;
}

void
mqttbridge_closed(struct conn *c)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;

	if (b == NULL)
		return; /* reconfigured (mqttbridge_reload) */

	if (b->c != c)
		return;
	b->c = NULL;
	if (b->up) {
		b->up = 0;
		if (!srv.shutting_down)
			log_notice("bridge %s: connection to %s lost",
			    b->conf->name, b->label);
		sys_bridge_state(b->conf->name, 0);
		b->addr = 0;
	} else
		b->addr = (b->addr + 1) % b->conf->n_addrs;
	xb_later(b);
}

/* --- the connection --- */

/* Subscribe to the remote side of the in topic lines: on MQTT 5 at each
 * CONNACK, with No Local (the remote does not send back what we publish
 * there), Retain As Published and Retain Handling 1 (retained messages
 * for a subscription that is new only); on 3.1.1 when the remote has no
 * session of ours, whose subscriptions it would keep. */
static void
xb_subscribe(struct mqttbridge *b, int session_present)
{
	const struct mqttbridge_topic *t;
	struct mqtt_packet pkt;
	uint8_t *list, *p;
	size_t i, len = 0, n = 0, fl;
	uint16_t id = 65535;
	uint8_t qos;

	if (b->conf->version != MQTT_V5 && session_present)
		return;
	for (i = 0; i < b->conf->n_topics; i++) {
		t = &b->conf->topics[i];
		if (t->dir & MQTTBRIDGE_IN)
			len += 3 + strlen(t->remote_filter);
	}
	if (len == 0)
		return;
	p = list = xmalloc(len);
	for (i = 0; i < b->conf->n_topics; i++) {
		t = &b->conf->topics[i];
		if (!(t->dir & MQTTBRIDGE_IN))
			continue;
		fl = strlen(t->remote_filter);
		*p++ = (uint8_t)(fl >> 8);
		*p++ = (uint8_t)fl;
		memcpy(p, t->remote_filter, fl);
		p += fl;
		/* Not above max_qos: the remote sends at most this. */
		qos = t->qos < srv.cfg.max_qos ? t->qos :
		    (uint8_t)srv.cfg.max_qos;
		*p++ = b->conf->version == MQTT_V5 ? (uint8_t)(qos |
		    MQTT_SUBOPT_NO_LOCAL | MQTT_SUBOPT_RAP | 0x10) : qos;
		n++;
	}
	/* An id no PUBLISH of ours holds (they count up from the queue's
	 * positions). */
	while (deliver_id_in_use(b->s, id))
		id--;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_SUBSCRIBE;
	pkt.u.subscribe.packet_id = id;
	pkt.u.subscribe.count = (uint32_t)n;
	pkt.u.subscribe.list.p = list;
	pkt.u.subscribe.list.len = (uint32_t)len;
	conn_send(b->c, &pkt);
	free(list);
}

static int
xb_suback(struct mqttbridge *b, const struct mqtt_packet *pkt)
{
	const struct mqtt_suback *sa = &pkt->u.suback;
	const struct mqttbridge_topic *t;
	size_t i, k = 0;

	for (i = 0; i < b->conf->n_topics; i++) {
		t = &b->conf->topics[i];
		if (!(t->dir & MQTTBRIDGE_IN))
			continue;
		if (k < sa->count && sa->codes[k] >= 0x80)
			log_warn("bridge %s: %s refused the subscription to "
			    "%s (0x%02x)", b->conf->name, b->label,
			    t->remote_filter, sa->codes[k]);
		k++;
	}
	return 0;
}

static int
xb_connack(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;
	struct mqtt_connack *ca = &pkt->u.connack;
	struct session *s = b->s;
	struct timeval tv;
	int v5 = c->version == MQTT_V5;

	if (ca->reason != 0) {
		if (v5)
			log_error("bridge %s: %s refused the connection: %s",
			    b->conf->name, b->label, mqtt_rc_name(ca->reason));
		else
			log_error("bridge %s: %s refused the connection "
			    "(return code %u)", b->conf->name, b->label,
			    ca->reason);
		b->warned = 1;
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return 0;
	}
	b->up = 1;
	b->warned = 0;
	b->backoff_ms = 0;
	c->state = CONN_ACTIVE;
	c->session = s;
	s->conn = c;
	c->receive_max = v5 && MQTT_PROP_HAS(&ca->props,
	    MQTT_PROP_RECEIVE_MAX) ? ca->props.receive_max : 65535;
	if (v5 && MQTT_PROP_HAS(&ca->props, MQTT_PROP_MAX_PACKET_SIZE))
		c->max_packet = ca->props.max_packet_size;
	c->keep_alive = v5 && MQTT_PROP_HAS(&ca->props,
	    MQTT_PROP_SERVER_KEEP_ALIVE) && ca->props.server_keep_alive > 0 ?
	    ca->props.server_keep_alive : (uint16_t)b->conf->keepalive;
	b->tx_mark = c->tx_bytes;
	tv.tv_sec = c->keep_alive > 1 ? c->keep_alive / 2 : 1;
	tv.tv_usec = 0;
	wheel_add(c, &tv);
	log_notice("bridge %s: connected to %s (MQTT %s, session %s)",
	    b->conf->name, b->label, v5 ? "5.0" : "3.1.1",
	    ca->session_present ? "resumed" : "new");
	sys_bridge_state(b->conf->name, 1);
	xb_subscribe(b, ca->session_present);
	deliver_resume(s);
	return 0;
}

/* 1 when pub carries our tern-origin: it went out from here and came
 * back round a cycle of bridges. */
static int
xb_looped(const struct mqtt_publish *pub)
{
	struct mqtt_str k, v;
	uint32_t pos = 0;
	size_t kl = sizeof ORIGIN_PROP - 1, ol = strlen(origin);

	while (mqtt_props_user_next(&pub->props, &pos, &k, &v)) {
		if (k.len == kl && memcmp(k.p, ORIGIN_PROP, kl) == 0)
			return v.len == ol && memcmp(v.p, origin, ol) == 0;
	}
	return 0;
}

/* Acknowledge pub without publishing it. */
static int
xb_drop(struct conn *c, const struct mqtt_publish *pub)
{
	struct mqtt_packet ack;

	if (pub->qos == 0)
		return 0;
	if (pub->qos == 2 && !session_qos2_has(c->session, pub->packet_id))
		session_qos2_add(c->session, pub->packet_id);
	memset(&ack, 0, sizeof ack);
	ack.type = pub->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC;
	ack.u.ack.packet_id = pub->packet_id;
	gate_ack(c, &ack, NULL);
	return 0;
}

/* A PUBLISH from the remote: published here, under its local topic, as
 * the session's own (handle_publish: stored, then acknowledged). */
static int
xb_publish_in(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;
	struct mqtt_publish *p = &pkt->u.publish;
	const struct mqttbridge_topic *t;
	char stack[512], *topic;
	size_t len;
	int rc;

	t = xb_match(b, MQTTBRIDGE_IN, (const char *)p->topic.p, p->topic.len);
	if (t == NULL) {
		/* Not asked for: a subscription of an earlier configuration
		 * that the remote session still holds. */
		log_info("bridge %s: message on %.*s matches no in topic "
		    "line, dropped", b->conf->name, (int)p->topic.len,
		    (const char *)p->topic.p);
		return xb_drop(c, p);
	}
	if (c->version == MQTT_V5 && xb_looped(p)) {
		log_info("bridge %s: message on %.*s left this node before "
		    "(a loop of bridges), dropped", b->conf->name,
		    (int)p->topic.len, (const char *)p->topic.p);
		return xb_drop(c, p);
	}
	topic = xb_map(t, MQTTBRIDGE_IN, (const char *)p->topic.p,
	    p->topic.len, stack, sizeof stack, &len);
	/* What would close a client's connection is one message's fault
	 * here: closing would only bring it again from a persistent
	 * remote session, for ever. It is taken and dropped instead. */
	if (len > 65535 || !topic_depth_ok((const uint8_t *)topic,
	    (uint32_t)len)) {
		log_notice("bridge %s: message on %.*s: its local topic is "
		    "too long or too deep (max_topic_length, "
		    "max_topic_levels), dropped", b->conf->name,
		    (int)p->topic.len, (const char *)p->topic.p);
		if (topic != stack)
			free(topic);
		return xb_drop(c, p);
	}
	if (!srv.cfg.retain_available)
		p->retain = 0;
	p->topic.p = (const uint8_t *)topic;
	p->topic.len = (uint32_t)len;
	b->received++;
	rc = handle_publish(c, pkt);
	if (topic != stack)
		free(topic);
	return rc;
}

int
mqttbridge_dispatch(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;

	if (b == NULL)
		return MQTT_RC_UNSPECIFIED; /* reconfigured (mqttbridge_reload) */

	if (c->state == CONN_NEW)
		return pkt->type == MQTT_CONNACK ? xb_connack(c, pkt) :
		    MQTT_RC_PROTOCOL_ERROR;
	switch (pkt->type) {
	case MQTT_PUBLISH:
		return xb_publish_in(c, pkt);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		return -1; /* the client handlers (handle_ack.c) */
	case MQTT_SUBACK:
		return xb_suback(b, pkt);
	case MQTT_UNSUBACK:
	case MQTT_PINGRESP:
		return 0;
	case MQTT_DISCONNECT:
		log_notice("bridge %s: %s closed the connection: %s",
		    b->conf->name, b->label,
		    mqtt_rc_name(pkt->u.reason.reason));
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return 0;
	default:
		return MQTT_RC_PROTOCOL_ERROR;
	}
}

void
mqttbridge_timer(struct conn *c)
{
	struct mqttbridge *b = conn_ax(c)->link_ctx;
	struct timeval now, idle, tv;
	struct mqtt_packet ping;
	long half = c->keep_alive > 1 ? c->keep_alive / 2 : 1;

	if (b == NULL)
		return; /* reconfigured (mqttbridge_reload) */

	if (c->state == CONN_NEW) {
		log_warn("bridge %s: no CONNACK from %s within %u s",
		    b->conf->name, b->label, srv.cfg.connect_timeout);
		b->warned = 1;
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return;
	}
	if (c->state != CONN_ACTIVE)
		return;
	event_base_gettimeofday_cached(srv.base, &now);
	timersub(&now, &c->last_rx, &idle);
	if (idle.tv_sec * 2 >= (long)c->keep_alive * 3) {
		log_warn("bridge %s: %s silent for %ld s", b->conf->name,
		    b->label, (long)idle.tv_sec);
		conn_close(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "remote silent");
		return;
	}
	/* We owe the remote a packet within the keep alive, and want to
	 * hear from it: a PINGREQ when we sent nothing, or heard nothing,
	 * for half of it. */
	if (c->tx_bytes == b->tx_mark || idle.tv_sec >= half) {
		memset(&ping, 0, sizeof ping);
		ping.type = MQTT_PINGREQ;
		conn_send(c, &ping);
	}
	b->tx_mark = c->tx_bytes;
	tv.tv_sec = half;
	tv.tv_usec = 0;
	wheel_add(c, &tv);
}

int
mqttbridge_send(struct session *s, const struct msg *m,
    struct mqtt_packet *pkt)
{
	struct mqttbridge *b = session_cl(s)->xb;
	struct mqtt_publish *p = &pkt->u.publish;
	const struct mqttbridge_topic *t;
	char tstack[512], *topic = NULL;
	uint8_t ustack[512], *user = NULL, *u;
	struct mqtt_str v;
	size_t len, ol = strlen(origin);
	int rc;

	/* A message queued under an earlier configuration may match no
	 * out line any more: it goes under its own topic. */
	t = xb_match(b, MQTTBRIDGE_OUT, m->topic, m->topic_len);
	if (t != NULL) {
		topic = xb_map(t, MQTTBRIDGE_OUT, m->topic, m->topic_len,
		    tstack, sizeof tstack, &len);
		if (len > 65535) {
			rc = -1;
			goto done;
		}
		p->topic.p = (const uint8_t *)topic;
		p->topic.len = (uint32_t)len;
	}
	if (s->conn->version == MQTT_V5) {
		/* A server takes no Subscription Identifier from a client
		 * (MQTT-3.3.4-6). */
		p->props.sub_ids = NULL;
		p->props.n_sub_ids = 0;
		if (!msg_user_get(m, ORIGIN_PROP, &v)) {
			len = m->user_len + 5 + sizeof ORIGIN_PROP - 1 + ol;
			user = len <= sizeof ustack ? ustack : xmalloc(len);
			if (m->user_len > 0)
				memcpy(user, m->user, m->user_len);
			u = bridge_put_user(user + m->user_len, ORIGIN_PROP,
			    origin, ol);
			p->props.user.p = user;
			p->props.user.len = (uint32_t)(u - user);
		}
	}
	rc = conn_send(s->conn, pkt);
	if (rc == 0)
		b->sent++;
done:
	if (topic != NULL && topic != tstack)
		free(topic);
	if (user != NULL && user != ustack)
		free(user);
	return rc;
}

/* --- start and stop --- */

/* The session's subscriptions: the out topic lines', and nothing else
 * (a line removed since the session was stored goes). */
static void
xb_subscriptions(struct mqttbridge *b)
{
	const struct mqttbridge_topic *t;
	struct session *s = b->s;
	size_t i, j;
	int want;

	for (i = s->n_subs; i-- > 0;) {
		want = 0;
		for (j = 0; j < b->conf->n_topics && !want; j++) {
			t = &b->conf->topics[j];
			want = (t->dir & MQTTBRIDGE_OUT) &&
			    strcmp(t->local_filter, s->subs[i].filter) == 0;
		}
		if (!want)
			session_unsubscribe(s, s->subs[i].filter,
			    s->subs[i].filter_len);
	}
	for (j = 0; j < b->conf->n_topics; j++) {
		t = &b->conf->topics[j];
		if (t->dir & MQTTBRIDGE_OUT)
			session_subscribe(s, t->local_filter,
			    (uint32_t)strlen(t->local_filter),
			    (uint8_t)(t->qos | MQTT_SUBOPT_NO_LOCAL |
			    MQTT_SUBOPT_RAP), 0);
	}
}

static void
xb_collect_gone(const void *key, size_t len, void *value, void *arg)
{
	struct session *s = value, ***list = arg;
	size_t pl = sizeof MQTTBRIDGE_ID - 1, i;

	if (len < pl || memcmp(key, MQTTBRIDGE_ID, pl) != 0)
		return;
	for (i = 0; i < srv.cfg.n_bridges; i++) {
		if (strlen(srv.cfg.bridges[i].name) == len - pl &&
		    memcmp(srv.cfg.bridges[i].name, (const char *)key + pl,
		    len - pl) == 0)
			return;
	}
	for (i = 0; (*list)[i] != NULL; i++)
		;
	*list = xreallocarray(*list, i + 2, sizeof **list);
	(*list)[i] = s;
	(*list)[i + 1] = NULL;
}

/* The sessions of bridges no longer configured, loaded from the store:
 * nothing would ever send what they hold. */
static void
xb_drop_unconfigured(void)
{
	struct session **gone = xcalloc(1, sizeof *gone);
	size_t i;

	hash_foreach(srv.sessions, xb_collect_gone, &gone);
	for (i = 0; gone[i] != NULL; i++) {
		log_notice("%s: no such connection configured any more: its "
		    "session and %llu queued messages dropped",
		    gone[i]->client_id, (unsigned long long)
		    (gone[i]->n_queued + session_du(gone[i])->disk_count));
		persist_session_del(gone[i]);
		session_free(gone[i]);
	}
	free(gone);
}

int
mqttbridge_init(void)
{
	struct mqttbridge_conf *cf;
	struct mqttbridge *b;
	struct session *s;
	struct timeval zero = { 0, 0 };
	char host[256], err[512], *id;
	uint64_t r;
	size_t i;

	xb_drop_unconfigured();
	if (srv.cfg.n_bridges == 0)
		return 0;
	if (origin[0] != '\0') {
		/* Kept through a reload: marks in flight stay ours. */
	} else if (srv.cfg.node_name != NULL) {
		snprintf(origin, sizeof origin, "%s", srv.cfg.node_name);
	} else {
		evutil_secure_rng_get_bytes(&r, sizeof r);
		bridge_b64(r, origin);
		origin[11] = '\0';
	}
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "tern");
	host[sizeof host - 1] = '\0';
	bridges = xcalloc(srv.cfg.n_bridges, sizeof *bridges);
	n_bridges = srv.cfg.n_bridges;
	for (i = 0; i < n_bridges; i++) {
		cf = &srv.cfg.bridges[i];
		b = &bridges[i];
		b->conf = cf;
		if (cf->tls_given && cf->cafile == NULL) {
			log_error("connection %s: TLS needs bridge_cafile, to "
			    "check the remote's certificate against",
			    cf->name);
			return -1;
		}
		if (cf->cafile != NULL && (b->tls = tls_client_ctx(cf->cafile,
		    cf->certfile, cf->keyfile, "bridge_", err,
		    sizeof err)) == NULL) {
			log_error("connection %s: %s", cf->name, err);
			return -1;
		}
		if (cf->remote_clientid != NULL)
			b->client_id = xstrdup(cf->remote_clientid);
		else {
			b->client_id = xmalloc(strlen(srv.cfg.node_name !=
			    NULL ? srv.cfg.node_name : host) +
			    strlen(cf->name) + 2);
			sprintf(b->client_id, "%s.%s", srv.cfg.node_name !=
			    NULL ? srv.cfg.node_name : host, cf->name);
		}
		id = xmalloc(sizeof MQTTBRIDGE_ID + strlen(cf->name));
		sprintf(id, "%s%s", MQTTBRIDGE_ID, cf->name);
		if ((s = session_find(id, strlen(id))) == NULL)
			s = session_new(id, strlen(id));
		free(id);
		s->persistent = 1;
		s->expiry = UINT32_MAX;
		session_cluster(s)->xb = b;
		b->s = s;
		xb_subscriptions(b);
		persist_session(s);
		b->retry = evtimer_new(srv.base, xb_retry_cb, b);
		evtimer_add(b->retry, &zero);
		sys_bridge_state(cf->name, 0);
	}
	log_notice("bridges to other brokers: %zu configured", n_bridges);
	return 0;
}

void
mqttbridge_free(void)
{
	size_t i;

	for (i = 0; i < n_bridges; i++) {
		resolve_cancel(bridges[i].resolving);
		if (bridges[i].retry != NULL)
			event_free(bridges[i].retry);
		tls_ctx_release(bridges[i].tls);
		if (bridges[i].s != NULL)
			session_cluster(bridges[i].s)->xb = NULL;
		free(bridges[i].client_id);
	}
	free(bridges);
	bridges = NULL;
	n_bridges = 0;
}

/*
 * SIGHUP (server_reloads): when the connection sections changed,
 * config_reload has swapped them into srv.cfg and old holds the ones the
 * bridges run on. Every bridge is stopped (its connection closed, its
 * session kept, with what it holds) and started again from the new
 * sections, as at start: a section gone drops its session, a new one
 * makes its own, a changed one takes its new topics and addresses. What
 * was in flight to a remote is sent again, with DUP, on the next
 * connection.
 */
void
mqttbridge_reload(const struct config *old)
{
	struct conn *c;
	size_t i;

	if (srv.cfg.bridges == old->bridges &&
	    srv.cfg.n_bridges == old->n_bridges)
		return; /* unchanged: config_reload left them in place */
	for (i = 0; i < n_bridges; i++) {
		if ((c = bridges[i].c) == NULL)
			continue;
		conn_close(c, MQTT_RC_SUCCESS, "bridge reconfigured");
		/* Its later callbacks find no bridge. */
		conn_aux(c)->link_ctx = NULL;
	}
	mqttbridge_free();
	if (mqttbridge_init() != 0) {
		/* Their sessions stay, and go on taking what goes out. */
		mqttbridge_free();
		log_error("bridges stopped after the reload (see above); a "
		    "SIGHUP with the sections mended starts them again");
	} else
		log_notice("bridges reconfigured: %zu", n_bridges);
}

const struct mqttbridge_conf *
mqttbridge_at(size_t i, struct mqttbridge_stats *st)
{
	const struct session *s;

	if (i >= n_bridges)
		return NULL;
	s = bridges[i].s;
	st->up = bridges[i].up;
	st->sent = bridges[i].sent;
	st->received = bridges[i].received;
	st->queued = s->n_queued + s->n_inflight + session_du(s)->disk_count;
	return bridges[i].conf;
}
