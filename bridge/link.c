/*
 * link.c - the links between cluster nodes: dialling, the handshake, keep
 * alive, and what happens when a link goes.
 *
 * Outbound (LINK_OUT): for every address in cluster_peers, and every node
 * that dialled us and gave its address, this node keeps one MQTT 5 client
 * connection. CONNECT: client id "$cluster/<our name>", password the
 * cluster_secret, clean start 0 and a session that never expires (the
 * receiver keeps the QoS 2 ids of what we forwarded across drops), user
 * properties tern-node (our name), tern-addr (our cluster listener) and
 * tern-proto. The CONNACK names the node (tern-node): the link is then
 * attached to that node's forward session "$peer/<name>", our routes are
 * sent in full and the forward queue resumes. A refused or lost link is
 * dialled again after a jittered, doubling delay (BACKOFF_MIN_MS to
 * BACKOFF_MAX_MS). A node that turns out to be this one (its own address
 * in cluster_peers) or one already linked is not dialled again.
 * Addresses also come from cluster_peers_dns (dns.c, bridge_dns_answer):
 * one gone from the name's answer is dropped once it has no connection,
 * so that a working link outlives a DNS answer that lacks it for a while.
 *
 * The link protocol: the CONNECT's tern-proto is the highest version the
 * dialler speaks (BRIDGE_PROTO), the CONNACK's the version the link
 * speaks, the lower of the two (proto.h); a node of version 1 sends none
 * in its CONNACK, and the dialler then speaks 1. It is the conn's
 * link_proto at both ends. TERN_TEST_LINK_PROTO (tests only) makes this
 * node speak at most that version, as an older node would.
 *
 * Inbound (LINK_IN): only on the cluster listener, which takes nothing
 * else; a "$cluster/" client id anywhere else is refused (0x85). Its
 * password must be cluster_secret (secret.c, which checks the logins of
 * an address that gave wrong ones at a slower pace, holding the CONNECT
 * until its turn). The CONNECT is an ordinary one from there on
 * (handle_connect): its session "$cluster/<name>" is resumed, and its
 * PUBLISHes are delivered here and never forwarded. When it goes, the
 * node's routes stay for cluster_route_grace seconds (a link that comes
 * back resyncs them), then they are dropped.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define NAME_MAX_LEN 64

struct dial {
	TAILQ_ENTRY(dial) entry;
	char *host;
	uint16_t port;
	char label[96]; /* "host:port" */
	struct peer *peer; /* known once a CONNACK named it */
	struct conn *c; /* connecting or up */
	struct resolve *resolving; /* its host name being resolved */
	struct event *retry;
	struct timeval started; /* the last dial */
	uint32_t backoff_ms;
	uint8_t dead; /* this node, or a node linked already */
	uint8_t tcp_up; /* the socket of c has connected */
	uint8_t fixed; /* from cluster_peers: never dropped */
	uint8_t dns; /* in an answer of cluster_peers_dns */
	uint8_t gone; /* not in its last answer: dropped when unlinked */
};
TAILQ_HEAD(dial_list, dial);

static struct dial_list dials = TAILQ_HEAD_INITIALIZER(dials);
static struct hash *peers; /* name -> struct peer */
static struct peer **peer_list;
static size_t n_peers;
static unsigned proto_max; /* the highest link protocol spoken */

static void dial_start(struct dial *);

int
bridge_on(void)
{
	return srv.cfg.node_name != NULL;
}

size_t
bridge_peer_count(void)
{
	return n_peers;
}

struct peer *
bridge_peer_at(size_t i)
{
	return i < n_peers ? peer_list[i] : NULL;
}

/* Node names: letters, digits, '.', '-', '_'; they become part of client
 * ids and topic levels. */
static int
bridge_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_'))
			return 0;
	}
	return 1;
}

static int
bridge_is_self(const char *name, size_t len)
{
	return strlen(srv.cfg.node_name) == len &&
	    memcmp(srv.cfg.node_name, name, len) == 0;
}

struct peer *
bridge_peer(const char *name, size_t len)
{
	struct peer *p = hash_get(peers, name, len);
	struct session *s;
	char *id;

	if (p != NULL)
		return p;
	p = xcalloc(1, sizeof *p);
	p->name = xstrndup(name, len);
	p->routes = hash_new();
	id = xmalloc(sizeof BRIDGE_PEER_ID + len);
	memcpy(id, BRIDGE_PEER_ID, sizeof BRIDGE_PEER_ID - 1);
	memcpy(id + sizeof BRIDGE_PEER_ID - 1, name, len);
	id[sizeof BRIDGE_PEER_ID - 1 + len] = '\0';
	s = session_find(id, strlen(id));
	if (s == NULL)
		s = session_new(id, strlen(id));
	free(id);
	s->persistent = 1;
	s->expiry = UINT32_MAX;
	session_cluster(s)->peer = p;
	p->out = s;
	persist_session(s);
	hash_put(peers, p->name, len, p);
	peer_list = xreallocarray(peer_list, n_peers + 1, sizeof *peer_list);
	p->index = (uint32_t)n_peers;
	p->origin = bridge_origin_of(p->name, len);
	peer_list[n_peers++] = p;
	return p;
}

uint32_t
bridge_peer_bit(const struct peer *p)
{
	return p->index < 31 ? 1u << p->index : 1u << 31;
}

struct peer *
bridge_link_peer(const struct session *link)
{
	if (link == NULL || !session_cl(link)->cluster_in ||
	    link->conn == NULL ||
	    link->conn->link != LINK_IN)
		return NULL;
	return conn_ax(link->conn)->link_ctx;
}

/* 1 when our outbound link to p is up. */
int
bridge_peer_up(const struct peer *p)
{
	/* The dial's conn goes first when the link closes (bridge_closed
	 * runs before the session lets go of it). */
	return p->dial != NULL && p->dial->c != NULL &&
	    p->dial->c == p->out->conn && p->out->conn->state == CONN_ACTIVE;
}

/* c (a link, either way) has carried something within BRIDGE_LIVE_MS:
 * the dialler pings every BRIDGE_PING_MS, so a longer silence is a peer
 * stalled, or a link that holds what it sent. */
static int
link_heard(const struct conn *c)
{
	struct timeval now, idle;

	event_base_gettimeofday_cached(srv.base, &now);
	timersub(&now, &c->last_rx, &idle);
	return idle.tv_sec * 1000 + idle.tv_usec / 1000 < BRIDGE_LIVE_MS;
}

int
bridge_peer_live(const struct peer *p)
{
	return bridge_peer_up(p) && link_heard(p->out->conn);
}

/* --- dialling --- */

static void
dial_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	dial_start(arg);
}

static void
dial_later(struct dial *d)
{
	struct timeval tv;
	uint32_t ms, jitter;

	if (d->dead || srv.shutting_down)
		return;
	if (d->backoff_ms == 0)
		d->backoff_ms = BACKOFF_MIN_MS;
	/* Between half and all of the backoff, so that the nodes of a
	 * cluster restarted together do not redial in step. */
	evutil_secure_rng_get_bytes(&jitter, sizeof jitter);
	ms = d->backoff_ms / 2 + jitter % (d->backoff_ms / 2 + 1);
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    d->backoff_ms * 2;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->retry, &tv);
}

static struct dial *
dial_find(const char *host, uint16_t port)
{
	struct dial *d;

	TAILQ_FOREACH(d, &dials, entry) {
		if (d->port == port && strcmp(d->host, host) == 0)
			return d;
	}
	return NULL;
}

static struct dial *
dial_add(const char *host, uint16_t port)
{
	struct dial *d;

	if ((d = dial_find(host, port)) != NULL)
		return d;
	d = xcalloc(1, sizeof *d);
	d->host = xstrdup(host);
	d->port = port;
	snprintf(d->label, sizeof d->label, strchr(host, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", host, port);
	d->retry = evtimer_new(srv.base, dial_retry_cb, d);
	TAILQ_INSERT_TAIL(&dials, d, entry);
	return d;
}

/* The address to dial for d is known (err NULL), or not. */
static void
dial_resolved(const char *err, const struct sockaddr *sa, int salen,
    void *arg)
{
	struct dial *d = arg;

	d->resolving = NULL;
	if (d->c != NULL || d->dead || srv.shutting_down)
		return;
	if (err != NULL) {
		log_warn("cluster peer %s: %s", d->label, err);
		dial_later(d);
		return;
	}
	d->tcp_up = 0;
	d->c = conn_connect(sa, salen, d->label, srv.cfg.cluster_tls, NULL);
	if (d->c == NULL) {
		dial_later(d);
		return;
	}
	d->c->link = LINK_OUT;
	conn_aux(d->c)->link_ctx = d;
}

static void
dial_start(struct dial *d)
{
	if (d->c != NULL || d->resolving != NULL || d->dead ||
	    srv.shutting_down)
		return;
	event_base_gettimeofday_cached(srv.base, &d->started);
	/* Peers are usually addresses; a host name is resolved without
	 * blocking the loop (resolve.c). */
	d->resolving = resolve_start(d->host, d->port, dial_resolved, d);
}

int
bridge_dial_now(struct peer *p)
{
	struct dial *d = p->dial;
	struct timeval now, since, left;
	long ms;

	if (d == NULL || d->dead || srv.shutting_down)
		return 0;
	event_base_gettimeofday_cached(srv.base, &now);
	timersub(&now, &d->started, &since);
	ms = since.tv_sec * 1000 + since.tv_usec / 1000;
	if (d->c != NULL)
		return ms < BRIDGE_CLAIM_DIAL_MS;
	/* A host name would be resolved, blocking the loop: not here. */
	if (!resolve_numeric(d->host))
		return 0;
	/* At most one dial per BACKOFF_MIN_MS, however many CONNECTs ask:
	 * a node that is not there costs a refused connection each time.
	 * A dial that failed a moment ago says nothing of now (the
	 * partition may just have healed): the next one comes when the
	 * BACKOFF_MIN_MS are up, and is waited for. */
	if (ms >= 0 && ms < BACKOFF_MIN_MS) {
		left.tv_sec = 0;
		left.tv_usec = (BACKOFF_MIN_MS - ms) * 1000;
		evtimer_add(d->retry, &left);
		return 1;
	}
	evtimer_del(d->retry);
	dial_start(d);
	return d->c != NULL;
}

/* Forget d, which has no connection: an address gone from the answer of
 * cluster_peers_dns. */
static void
dial_drop(struct dial *d)
{
	log_info("cluster peer %s: not in the answer of cluster_peers_dns "
	    "any more, not dialled", d->label);
	if (d->peer != NULL && d->peer->dial == d)
		d->peer->dial = NULL;
	TAILQ_REMOVE(&dials, d, entry);
	resolve_cancel(d->resolving);
	event_free(d->retry);
	free(d->host);
	free(d);
}

void
bridge_dns_answer(char *const *hosts, size_t n, uint16_t port)
{
	struct timeval zero = { 0, 0 };
	struct dial *d, *next;
	size_t i;

	TAILQ_FOREACH(d, &dials, entry) {
		if (d->dns)
			d->gone = 1;
	}
	for (i = 0; i < n; i++) {
		if ((d = dial_find(hosts[i], port)) == NULL) {
			d = dial_add(hosts[i], port);
			log_info("cluster peer %s: from cluster_peers_dns",
			    d->label);
			evtimer_add(d->retry, &zero);
		}
		/* One from cluster_peers stays whatever the answer. */
		d->dns = !d->fixed;
		d->gone = 0;
	}
	for (d = TAILQ_FIRST(&dials); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->gone && d->c == NULL)
			dial_drop(d);
	}
}

/* --- the handshake --- */

/* The value of user property key in props, or an empty view. */
static struct mqtt_str
get_user(const struct mqtt_props *props, const char *key)
{
	struct mqtt_str k, v, none = { NULL, 0 };
	uint32_t pos = 0;
	size_t kl = strlen(key);

	while (mqtt_props_user_next(props, &pos, &k, &v)) {
		if (k.len == kl && memcmp(k.p, key, kl) == 0)
			return v;
	}
	return none;
}

/* A tern-proto value: its version, 1 when absent or not a number. */
static unsigned
link_proto_of(struct mqtt_str v)
{
	unsigned n = 0;
	uint32_t i;

	if (v.len == 0 || v.len > 5)
		return 1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return 1;
		n = n * 10 + (unsigned)(v.p[i] - '0');
	}
	return n >= 1 ? n : 1;
}

/* The highest version this node speaks: BRIDGE_PROTO, or lower for a
 * test of a mixed cluster. */
static unsigned
link_proto_max(void)
{
	const char *env;
	unsigned n;

	if (proto_max != 0)
		return proto_max;
	proto_max = (unsigned)strtoul(BRIDGE_PROTO, NULL, 10);
	if ((env = getenv("TERN_TEST_LINK_PROTO")) != NULL &&
	    (n = (unsigned)strtoul(env, NULL, 10)) >= 1 && n < proto_max)
		proto_max = n;
	return proto_max;
}

static char *
bridge_advertised(void)
{
	static char buf[300];
	const struct listener_conf *lc = srv.cfg.cluster_listener;

	if (srv.cfg.cluster_advertise != NULL)
		return srv.cfg.cluster_advertise;
	snprintf(buf, sizeof buf, strchr(lc->address, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", lc->address, lc->port);
	return buf;
}

void
bridge_connected(struct conn *c)
{
	struct mqtt_packet pkt;
	struct mqtt_connect *cp = &pkt.u.connect;
	uint8_t user[512], *u = user;
	char id[sizeof BRIDGE_LINK_ID + NAME_MAX_LEN];
	evutil_socket_t fd = conn_fd(c);
	int one = 1;
	char proto[12];

	((struct dial *)conn_ax(c)->link_ctx)->tcp_up = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	snprintf(id, sizeof id, "%s%s", BRIDGE_LINK_ID, srv.cfg.node_name);
	u = bridge_put_user(u, "tern-node", srv.cfg.node_name,
	    strlen(srv.cfg.node_name));
	u = bridge_put_user(u, "tern-addr", bridge_advertised(),
	    strlen(bridge_advertised()));
	snprintf(proto, sizeof proto, "%u", link_proto_max());
	u = bridge_put_user(u, "tern-proto", proto, strlen(proto));
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNECT;
	cp->version = MQTT_V5;
	cp->clean_start = 0;
	cp->keep_alive = BRIDGE_KEEPALIVE;
	cp->client_id.p = (const uint8_t *)id;
	cp->client_id.len = (uint32_t)strlen(id);
	cp->has_username = 1;
	cp->username.p = (const uint8_t *)"tern-cluster";
	cp->username.len = 12;
	cp->has_password = 1;
	cp->password.p = (const uint8_t *)srv.cfg.cluster_secret;
	cp->password.len = (uint32_t)strlen(srv.cfg.cluster_secret);
	MQTT_PROP_SET(&cp->props, MQTT_PROP_SESSION_EXPIRY);
	cp->props.session_expiry = UINT32_MAX;
	cp->props.user.p = user;
	cp->props.user.len = (uint32_t)(u - user);
	c->version = MQTT_V5;
	conn_send(c, &pkt);
}

/*
 * A link that failed before its CONNACK (dialled) or CONNECT (accepted):
 * a TLS handshake refused either way, a TLS end facing a plaintext one,
 * a peer that closed at once. Logged as a warning, on both ends, as a
 * wrong cluster_secret is: the cluster is split until someone acts. A
 * dial whose socket never connected (the peer is down) is routine and
 * redialled: info.
 */
void
bridge_link_failed(struct conn *c, const char *why)
{
	struct dial *d;

	if (c->link != LINK_OUT) {
		log_warn("cluster link from %s failed: %s", conn_peer(c), why);
		return;
	}
	d = conn_ax(c)->link_ctx;
	if (!d->tcp_up) {
		log_info("cluster peer %s: %s", d->label, why);
		return;
	}
	log_warn("cluster link to %s failed: %s%s", d->label, why,
	    conn_tls(c) == NULL && strstr(why, "closed by peer") != NULL ?
	    " (before its CONNACK: does its cluster listener want TLS, "
	    "cluster_certfile?)" : "");
}

/* The CONNACK of our link c. */
static int
link_connack(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_connack *ca = &pkt->u.connack;
	struct dial *d = conn_ax(c)->link_ctx;
	struct mqtt_str name = get_user(&ca->props, "tern-node");
	struct peer *p;
	struct timeval tv = { 0, BRIDGE_PING_MS * 1000 };
	char why[160];

	if (name.len > 0 && bridge_is_self((const char *)name.p, name.len)) {
		log_info("cluster peer %s is this node: not dialled",
		    d->label);
		d->dead = 1;
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return 0;
	}
	if (ca->reason != MQTT_RC_SUCCESS) {
		snprintf(why, sizeof why, "link refused by %s: %s", d->label,
		    mqtt_rc_name(ca->reason));
		log_error("cluster %s", why);
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return 0;
	}
	if (!bridge_name_ok((const char *)name.p, name.len)) {
		log_error("cluster peer %s sent no valid node name", d->label);
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return 0;
	}
	p = bridge_peer((const char *)name.p, name.len);
	/* Another address of that node whose link is up wins; one that
	 * is only being dialled (an address it had before a restart, which
	 * may hang rather than refuse) does not. */
	if (p->dial != NULL && p->dial != d && bridge_peer_up(p)) {
		log_info("cluster peer %s is %s, linked already via %s",
		    d->label, p->name, p->dial->label);
		d->dead = 1;
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return 0;
	}
	p->dial = d;
	d->peer = p;
	d->backoff_ms = 0;
	if (p->out->conn != NULL)
		conn_close(p->out->conn, MQTT_RC_SUCCESS, NULL);
	c->state = CONN_ACTIVE;
	c->session = p->out;
	p->out->conn = c;
	if (session_du(p->out)->expiry_timer != NULL)
		evtimer_del(session_du(p->out)->expiry_timer);
	c->receive_max = MQTT_PROP_HAS(&ca->props, MQTT_PROP_RECEIVE_MAX) ?
	    ca->props.receive_max : 65535;
	if (c->receive_max > BRIDGE_WINDOW)
		c->receive_max = BRIDGE_WINDOW;
	if (MQTT_PROP_HAS(&ca->props, MQTT_PROP_MAX_PACKET_SIZE))
		c->max_packet = ca->props.max_packet_size;
	/* The version the receiver says the link speaks; one we did not
	 * offer is taken as 1. */
	conn_aux(c)->link_proto = (uint8_t)link_proto_of(get_user(&ca->props,
	    "tern-proto"));
	if (conn_ax(c)->link_proto > link_proto_max())
		conn_aux(c)->link_proto = 1;
	log_info("cluster link to %s speaks protocol %u", p->name,
	    conn_ax(c)->link_proto);
	c->keep_alive = BRIDGE_KEEPALIVE;
	wheel_add(c, &tv);
	p->acked = 0;
	persist_session(p->out);
	log_notice("cluster link to %s (%s) up", p->name, d->label);
	bridge_routes_sync(c);
	bridge_merge_link_up(p);
	bridge_claims_link_up(p);
	deliver_resume(p->out);
	return 0;
}

/* Refuse a link CONNECT, naming this node so that a node that dialled
 * itself knows it. */
static int
link_refuse(struct conn *c, uint8_t rc, const char *why)
{
	struct mqtt_packet pkt;
	struct mqtt_props *props = &pkt.u.connack.props;
	uint8_t user[128], *u = user;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNACK;
	pkt.u.connack.reason = rc;
	MQTT_PROP_SET(props, MQTT_PROP_REASON_STRING);
	props->reason_string.p = (const uint8_t *)why;
	props->reason_string.len = (uint32_t)strlen(why);
	u = bridge_put_user(u, "tern-node", srv.cfg.node_name,
	    strlen(srv.cfg.node_name));
	props->user.p = user;
	props->user.len = (uint32_t)(u - user);
	c->version = MQTT_V5;
	conn_send(c, &pkt);
	return rc;
}

int
bridge_connect(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	const char *id = (const char *)cp->client_id.p;
	size_t len = cp->client_id.len;
	size_t pl = sizeof BRIDGE_LINK_ID - 1, ql = sizeof BRIDGE_PEER_ID - 1;
	int is_link = len > pl && memcmp(id, BRIDGE_LINK_ID, pl) == 0;
	int is_peer = len >= ql && memcmp(id, BRIDGE_PEER_ID, ql) == 0;
	struct mqtt_str addr;
	struct peer *p;
	char *host;
	uint16_t port;
	struct dial *d;
	int rc;

	if (!bridge_on())
		return -1;
	if (c->listener != NULL && c->listener->cluster) {
		if (!is_link)
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_NOT_AUTHORIZED);
	} else {
		if (is_link || is_peer)
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_CLIENT_ID_INVALID);
		return -1;
	}
	if (cp->version != MQTT_V5)
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_UNSUPPORTED_VERSION);
	if ((rc = secret_check(c, pkt)) < 0)
		return BRIDGE_HELD;
	if (rc > 0)
		return link_refuse(c, (uint8_t)rc,
		    rc == MQTT_RC_BAD_USER_OR_PASSWORD ? "wrong cluster secret" :
		    rc == MQTT_RC_SERVER_BUSY ? "too many link logins waiting" :
		    mqtt_rc_name((uint8_t)rc));
	id += pl;
	len -= pl;
	if (!bridge_name_ok(id, len))
		return link_refuse(c, MQTT_RC_CLIENT_ID_INVALID,
		    "bad node name");
	if (bridge_is_self(id, len)) {
		/* Our own address among the peers (a shared cluster_peers,
		 * cluster_peers_dns): routine, the dialler drops it on this
		 * CONNACK. */
		log_info("cluster link from %s is this node: refused",
		    conn_peer(c));
		link_refuse(c, MQTT_RC_CLIENT_ID_INVALID,
		    "this is the node itself");
		conn_close(c, MQTT_RC_CLIENT_ID_INVALID, NULL);
		return BRIDGE_CLOSED;
	}
	p = bridge_peer(id, len);
	c->link = LINK_IN;
	conn_aux(c)->link_ctx = p;
	conn_aux(c)->link_proto = (uint8_t)link_proto_of(get_user(&cp->props,
	    "tern-proto"));
	if (conn_ax(c)->link_proto > link_proto_max())
		conn_aux(c)->link_proto = (uint8_t)link_proto_max();
	log_info("cluster link from %s speaks protocol %u", p->name,
	    conn_ax(c)->link_proto);
	/* A node we do not dial yet (not in our cluster_peers): dial the
	 * address it gave, so that every pair of nodes is linked both
	 * ways. */
	addr = get_user(&cp->props, "tern-addr");
	if (p->dial == NULL && addr.len > 0 && addr.len < 300) {
		char *a = xstrndup((const char *)addr.p, addr.len);
		char *colon = strrchr(a, ':');

		if (colon != NULL && colon > a) {
			*colon = '\0';
			host = a;
			if (*host == '[' && colon[-1] == ']') {
				host++;
				colon[-1] = '\0';
			}
			port = (uint16_t)strtoul(colon + 1, NULL, 10);
			if (port != 0) {
				d = dial_add(host, port);
				if (d->peer == NULL && d->c == NULL &&
				    !d->dead) {
					d->peer = p;
					p->dial = d;
					dial_start(d);
				}
			}
		}
		free(a);
	}
	return 0;
}

void
bridge_connack_props(const struct conn *c, struct mqtt_props *ap)
{
	static uint8_t user[128];
	uint8_t *u = user;
	char proto[12];

	if (c->link != LINK_IN)
		return;
	u = bridge_put_user(u, "tern-node", srv.cfg.node_name,
	    strlen(srv.cfg.node_name));
	snprintf(proto, sizeof proto, "%u", conn_ax(c)->link_proto);
	u = bridge_put_user(u, "tern-proto", proto, strlen(proto));
	ap->user.p = user;
	ap->user.len = (uint32_t)(u - user);
}

void
bridge_link_in_up(struct conn *c)
{
	struct peer *p = conn_ax(c)->link_ctx;

	session_cluster(c->session)->cluster_in = 1;
	p->link_in = c;
	if (p->grace_timer != NULL)
		evtimer_del(p->grace_timer);
	log_notice("cluster link from %s (%s) up", p->name, conn_peer(c));
	/* It is back (a restart): dial it now rather than when the
	 * backoff says, so that it gets our routes at once. */
	if (p->dial != NULL && p->dial->c == NULL && !p->dial->dead &&
	    !srv.shutting_down) {
		evtimer_del(p->dial->retry);
		p->dial->backoff_ms = 0;
		dial_start(p->dial);
	}
}

/* --- start-up: routes before clients --- */

static struct event *startup_timer;

static int
startup_synced(void)
{
	struct peer *p;
	size_t i;

	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		if (!p->synced)
			return 0;
	}
	return 1;
}

static void
startup_release(int late)
{
	if (startup_timer == NULL)
		return;
	event_free(startup_timer);
	startup_timer = NULL;
	if (late)
		log_warn("cluster: not every node sent its routes within "
		    "cluster_sync_timeout; accepting clients");
	else
		log_notice("cluster: the routes of every node known are in; "
		    "accepting clients");
	listener_hold_clients(0);
}

static void
startup_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	startup_release(1);
}

int
bridge_startup_hold(void)
{
	struct timeval tv;

	if (!bridge_on() || srv.cfg.cluster_sync_timeout == 0 ||
	    bridge_peer_count() == 0 || startup_synced())
		return 0;
	startup_timer = evtimer_new(srv.base, startup_timer_cb, NULL);
	tv.tv_sec = srv.cfg.cluster_sync_timeout / 1000;
	tv.tv_usec = (srv.cfg.cluster_sync_timeout % 1000) * 1000;
	evtimer_add(startup_timer, &tv);
	log_notice("cluster: clients wait until the %zu nodes known have "
	    "sent their routes (at most %u ms)", bridge_peer_count(),
	    srv.cfg.cluster_sync_timeout);
	return 1;
}

void
bridge_routes_synced(struct peer *p)
{
	p->synced = 1;
	p->routes_current = 1;
	if (startup_timer != NULL && startup_synced())
		startup_release(0);
}

/* --- packets on links --- */

static int
link_out_publish(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_publish *pub = &pkt->u.publish;
	struct dial *d = conn_ax(c)->link_ctx;
	size_t tl = sizeof BRIDGE_TOPIC_ACK - 1;
	uint64_t v;

	if (pub->qos != 0 || pub->topic.len != tl ||
	    memcmp(pub->topic.p, BRIDGE_TOPIC_ACK, tl) != 0 ||
	    pub->payload.len != 8)
		return MQTT_RC_PROTOCOL_ERROR;
	v = bridge_get64(pub->payload.p);
	bridge_routes_acked(d->peer, v);
	return 0;
}

/* A "$cluster/" message from the node of LINK_IN c: routes (QoS 0), or
 * the takeover's (QoS 1: acknowledged once what it wrote is stored). */
static int
link_in_control(struct conn *c, const struct mqtt_publish *pub)
{
	size_t tl = sizeof BRIDGE_TOPIC_ROUTES - 1;
	struct mqtt_packet ack;
	int rc;

	if (pub->topic.len == tl &&
	    memcmp(pub->topic.p, BRIDGE_TOPIC_ROUTES, tl) == 0)
		rc = bridge_routes_apply(conn_ax(c)->link_ctx, c,
		    pub->payload.p,
		    pub->payload.len);
	else
		rc = bridge_takeover_in(c, pub);
	if (rc < 0 || pub->qos > 1)
		return MQTT_RC_PROTOCOL_ERROR;
	if (rc == 0 && pub->qos == 1) {
		memset(&ack, 0, sizeof ack);
		ack.type = MQTT_PUBACK;
		ack.u.ack.packet_id = pub->packet_id;
		gate_ack(c, &ack, NULL);
	}
	return rc;
}

int
bridge_dispatch(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_publish *pub = &pkt->u.publish;
	int rc;

	if (c->link == LINK_OUT) {
		if (c->state == CONN_NEW)
			return pkt->type == MQTT_CONNACK ?
			    link_connack(c, pkt) : MQTT_RC_PROTOCOL_ERROR;
		switch (pkt->type) {
		case MQTT_PUBLISH:
			return link_out_publish(c, pkt);
		case MQTT_PUBACK:
		case MQTT_PUBREC:
		case MQTT_PUBCOMP:
			return -1;
		case MQTT_PINGRESP:
			return 0;
		case MQTT_DISCONNECT:
			log_notice("cluster link to %s closed by the peer: %s",
			    ((struct dial *)conn_ax(c)->link_ctx)->label,
			    mqtt_rc_name(pkt->u.reason.reason));
			conn_close(c, MQTT_RC_SUCCESS, NULL);
			return 0;
		default:
			return MQTT_RC_PROTOCOL_ERROR;
		}
	}
	if (c->link == LINK_IN && c->state == CONN_ACTIVE &&
	    pkt->type == MQTT_PUBLISH && pub->topic.len > 9 &&
	    memcmp(pub->topic.p, "$cluster/", 9) == 0)
		return link_in_control(c, pub);
	/* Every PUBLISH, before anything may drop it: the next identity
	 * is read relative to its. */
	if (c->link == LINK_IN && c->state == CONN_ACTIVE &&
	    pkt->type == MQTT_PUBLISH && (rc = bridge_id_in(c, pub)) != 0)
		return rc;
	return -1;
}

void
bridge_timer(struct conn *c)
{
	struct dial *d = conn_ax(c)->link_ctx;
	struct timeval now, idle, tv = { 0, BRIDGE_PING_MS * 1000 };
	struct mqtt_packet ping;

	if (c->state == CONN_NEW) {
		log_warn("cluster link to %s: no CONNACK in time", d->label);
		conn_close(c, MQTT_RC_SUCCESS, NULL);
		return;
	}
	if (c->state != CONN_ACTIVE)
		return;
	event_base_gettimeofday_cached(srv.base, &now);
	timersub(&now, &c->last_rx, &idle);
	if (idle.tv_sec >= BRIDGE_KEEPALIVE * 3 / 2) {
		log_warn("cluster link to %s: peer silent for %ld s",
		    d->label, (long)idle.tv_sec);
		conn_close(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "peer silent");
		return;
	}
	memset(&ping, 0, sizeof ping);
	ping.type = MQTT_PINGREQ;
	conn_send(c, &ping);
	wheel_add(c, &tv);
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	log_notice("cluster: routes of %s dropped, its link has been down "
	    "for %u s", p->name, srv.cfg.cluster_route_grace);
	bridge_routes_drop(p);
}

/* p's routes are kept cluster_route_grace s from now, and uncertain
 * meanwhile (bridge_routes_uncertain). */
static void
grace_start(struct peer *p)
{
	struct timeval tv = { srv.cfg.cluster_route_grace, 0 };

	if (p->grace_timer == NULL)
		p->grace_timer = evtimer_new(srv.base, grace_cb, p);
	evtimer_add(p->grace_timer, &tv);
}

void
bridge_closed(struct conn *c)
{
	struct dial *d;
	struct peer *p;

	if (c->link == LINK_OUT) {
		d = conn_ax(c)->link_ctx;
		d->c = NULL;
		p = d->peer;
		if (p != NULL && p->out->conn == c) {
			log_notice("cluster link to %s (%s) down", p->name,
			    d->label);
			p->tx_bytes += c->tx_bytes;
			p->rx_bytes += c->rx_bytes;
			p->acked = 0;
			bridge_routes_acked(p, 0);
			bridge_claims_peer_gone(p);
		}
		if (!d->gone)
			dial_later(d);
		/* A dial that did not get as far as the link. */
		if (p != NULL && !bridge_peer_up(p))
			bridge_claims_dial_failed(p);
		if (d->gone)
			dial_drop(d);
		return;
	}
	p = conn_ax(c)->link_ctx;
	if (p->link_in != c)
		return;
	p->tx_bytes += c->tx_bytes;
	p->rx_bytes += c->rx_bytes;
	p->link_in = NULL;
	p->routes_current = 0;
	bridge_claims_peer_gone(p);
	if (p->staging != NULL) {
		hash_free(p->staging);
		p->staging = NULL;
	}
	if (srv.shutting_down)
		return;
	log_notice("cluster link from %s (%s) down; its routes are kept "
	    "for %u s", p->name, conn_peer(c), srv.cfg.cluster_route_grace);
	grace_start(p);
}

int
bridge_routes_uncertain(const struct peer *p)
{
	/* Its link to us is up but silent: a route it announced may be
	 * held in it. */
	if (p->routes_current)
		return p->link_in != NULL && !link_heard(p->link_in);
	/* Its link is back and its table on its way, or it is down and
	 * its routes are in grace: it may have subscribers we do not know
	 * of (made while we did not hear it). */
	return p->link_in != NULL || (p->grace_timer != NULL &&
	    evtimer_pending(p->grace_timer, NULL));
}

/* --- start and stop --- */

static void
collect_peer_session(const void *key, size_t len, void *value, void *arg)
{
	size_t pl = sizeof BRIDGE_PEER_ID - 1;
	struct hash *names = arg;

	if (len > pl && memcmp(key, BRIDGE_PEER_ID, pl) == 0)
		hash_put(names, (const char *)key + pl, len - pl, value);
}

static void
attach_peer_session(const void *key, size_t len, void *value, void *arg)
{
	/* A node of an earlier run: its routes are not known until it
	 * links, and may hold subscribers; as a node whose link went, they
	 * count as uncertain for cluster_route_grace s (a message that
	 * matches nothing we know waits in its forward queue rather than
	 * being answered 0x10). */
	if (bridge_name_ok(key, len) && !bridge_is_self(key, len))
		grace_start(bridge_peer(key, len));
}

int
bridge_init(void)
{
	struct config *cfg = &srv.cfg;
	struct hash *names;
	struct dial *d;
	struct timeval zero = { 0, 0 };
	size_t i;

	if (cfg->node_name == NULL) {
		if (cfg->cluster_listener != NULL ||
		    cfg->n_cluster_peers > 0 || cfg->cluster_secret != NULL ||
		    cfg->cluster_dns_host != NULL) {
			log_error("cluster keys need node_name");
			return -1;
		}
		return 0;
	}
	if (!bridge_name_ok(cfg->node_name, strlen(cfg->node_name))) {
		log_error("node_name '%s': use 1 to %d letters, digits, '.', "
		    "'-' or '_'", cfg->node_name, NAME_MAX_LEN);
		return -1;
	}
	if (cfg->cluster_secret == NULL || cfg->cluster_secret[0] == '\0') {
		log_error("node_name is set: cluster_secret is required");
		return -1;
	}
	if (cfg->cluster_listener == NULL) {
		log_error("node_name is set: cluster_listener is required");
		return -1;
	}
	if (secret_init() != 0)
		return -1;
	peers = hash_new();
	/* Forward queues kept in the store from an earlier run. */
	names = hash_new();
	hash_foreach(srv.sessions, collect_peer_session, names);
	hash_foreach(names, attach_peer_session, NULL);
	hash_free(names);
	for (i = 0; i < cfg->n_cluster_peers; i++) {
		d = dial_add(cfg->cluster_peers[i].host,
		    cfg->cluster_peers[i].port);
		d->fixed = 1;
		evtimer_add(d->retry, &zero);
	}
	if (cfg->cluster_dns_host != NULL && bridge_dns_init() != 0)
		return -1;
	log_notice("cluster node %s, %zu peers configured", cfg->node_name,
	    cfg->n_cluster_peers);
	return 0;
}

void
bridge_free(void)
{
	struct dial *d;
	struct peer *p;
	size_t i;

	if (startup_timer != NULL)
		event_free(startup_timer);
	startup_timer = NULL;
	bridge_dns_free();
	while ((d = TAILQ_FIRST(&dials)) != NULL) {
		TAILQ_REMOVE(&dials, d, entry);
		resolve_cancel(d->resolving);
		event_free(d->retry);
		free(d->host);
		free(d);
	}
	for (i = 0; i < n_peers; i++) {
		p = peer_list[i];
		bridge_routes_drop(p);
		hash_free(p->routes);
		if (p->staging != NULL)
			hash_free(p->staging);
		if (p->grace_timer != NULL)
			event_free(p->grace_timer);
		free(p->fwd_shares);
		free(p->name);
		free(p);
	}
	free(peer_list);
	peer_list = NULL;
	n_peers = 0;
	if (peers != NULL)
		hash_free(peers);
	peers = NULL;
	bridge_routes_free();
	bridge_forward_free();
	bridge_takeover_free();
	bridge_tombstone_free_all();
	secret_free();
}
