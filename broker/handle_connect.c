/*
 * handle_connect.c - CONNECT / CONNACK (MQTT 5.0 section 3.1, 3.2; 3.1.1
 * section 3.1, 3.2; 3.1 "MQIsdp" accepted as level 3).
 *
 * Client identifier rules: an empty id gets an id assigned by the server
 * ("tern-" and 128 random bits in hex, so that nobody can guess the
 * next one and resume its session): in v5 it is returned as Assigned Client
 * Identifier (MQTT-3.2.2-16); in 3.1.1 it is only allowed with clean
 * session 1 (MQTT-3.1.3-8, return code 0x02 otherwise); 3.1 requires an
 * id. A CONNECT for a client id that is already connected takes the
 * session over: the old connection gets DISCONNECT 0x8E (v5) and is closed
 * (MQTT-3.1.4-3). Clean start 1 discards any previous session
 * (MQTT-3.1.2-4); clean start 0 resumes it and sets Session Present.
 *
 * Session lifetime: v5 from the Session Expiry Interval (0 = ends with the
 * connection); 3.x clean session 0 = kept until replaced, or for
 * persistent_client_expiration once offline.
 *
 * CONNACK advertises what the config switched off (retain, maximum QoS,
 * wildcard / shared subscriptions, subscription identifiers), the inbound
 * Topic Alias Maximum and Receive Maximum, and Response Information when
 * asked (section 3.2.2.3). A will that uses a switched-off feature is
 * refused with 0x9A / 0x9B. While the node drains, CONNECTs are refused
 * with 0x9C and the listener's Server Reference (or 0x89 without one).
 *
 * A source address over max_connection_rate is refused with 0x9F
 * (3.1.1: 3, server unavailable) before anything else costs work
 * (ratelimit.c).
 *
 * Authentication (auth.c) comes before any session is looked at, so a
 * refused client cannot take a session over: 0x86 for a bad user name or
 * password, 0x87 when anonymous clients are not allowed (3.1.1: return
 * codes 4 and 5). With acl_file set, the will topic must be writable by
 * the client: otherwise the CONNECT is refused with 0x87 (3.1.1: 5), as
 * mosquitto does, rather than accepted with a will that would silently
 * never be published. Node links (bridge/) are authenticated by
 * cluster_secret instead, and the ACL does not apply to them; after
 * wrong secrets from its address, a link CONNECT is held for its turn
 * (bridge/secret.c) and run here again then.
 * A v5 CONNECT with an Authentication Method goes through the method's
 * AUTH exchange first (auth.c) and is then run here again; its CONNACK
 * carries the method's final Authentication Data.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

int
handle_connect_refuse(struct conn *c, uint8_t version, uint8_t rc)
{
	struct mqtt_packet pkt;
	struct mqtt_props *props = &pkt.u.connack.props;
	const char *why = mqtt_rc_name(rc);

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNACK;
	c->version = version;
	if (version == MQTT_V5) {
		pkt.u.connack.reason = rc;
		MQTT_PROP_SET(props, MQTT_PROP_REASON_STRING);
		props->reason_string.p = (const uint8_t *)why;
		props->reason_string.len = (uint32_t)strlen(why);
		conn_server_reference(c, rc, props);
	} else {
		pkt.u.connack.reason = mqtt_rc_to_v3_connack(rc);
	}
	conn_send(c, &pkt);
	return rc;
}

uint8_t *
connect_keep(const struct mqtt_packet *pkt)
{
	size_t len = mqtt_encode_len(pkt, pkt->u.connect.version);
	uint8_t *buf = xmalloc(len);

	mqtt_encode(pkt, pkt->u.connect.version, buf);
	return buf;
}

int
connect_rerun(struct conn *c, const uint8_t *buf)
{
	struct mqtt_packet pkt;
	struct mqtt_frame f;
	int rc;

	rc = mqtt_frame(buf, MQTT_MAX_FIXED_HEADER, UINT32_MAX, &f);
	if (rc == MQTT_FRAME_OK)
		rc = mqtt_decode(f.type, f.flags, buf + f.header_len,
		    f.remaining, 0, &pkt);
	if (rc != 0)
		return MQTT_RC_UNSPECIFIED;
	return handle_connect(c, &pkt);
}

/* The user this CONNECT authenticated as (NULL: anonymous); borrowed. */
static const char *
connect_user(const struct conn *c, const struct mqtt_connect *cp,
    size_t *len)
{
	if (conn_ax(c)->auth_user != NULL) {
		*len = strlen(conn_ax(c)->auth_user);
		return conn_ax(c)->auth_user;
	}
	*len = cp->has_username ? cp->username.len : 0;
	return cp->has_username ? (const char *)cp->username.p : NULL;
}

/*
 * client_id_user_prefix: a client with a user name must use a client id
 * that is the user name, or the user name and then one of "-_.:@/" and
 * anything (so that user "al" cannot take "alice-phone"). Anonymous
 * clients are not concerned (allow_anonymous decides about them).
 */
static int
connect_id_prefix_ok(const char *user, size_t ulen, const char *id,
    size_t id_len)
{
	if (!srv.cfg.client_id_user_prefix || user == NULL)
		return 1;
	if (id_len < ulen || memcmp(id, user, ulen) != 0)
		return 0;
	return id_len == ulen || strchr("-_.:@/", id[ulen]) != NULL;
}

/* session_owner_only: 1 when s (of this client id) may go to this
 * CONNECT's user: its own, or one whose user is not known (a row from
 * before the user was stored, or a session on another node: see
 * docs/ARCHITECTURE.md). Logs a refusal. */
static int
connect_owner_ok(const struct conn *c, const struct session *s,
    const char *user, size_t ulen)
{
	int same = session_owner_ok(s, user, ulen);

	if (!same)
		log_notice("client '%s' (%s) refused: its session belongs to "
		    "%s%s%s (session_owner_only)", s->client_id, conn_peer(c),
		    s->username != NULL ? "user '" : "",
		    s->username != NULL ? s->username : "an anonymous client",
		    s->username != NULL ? "'" : "");
	return same;
}

/* 1 when the ACL lets the client publish its will (logged otherwise). */
static int
connect_will_allowed(struct conn *c, const struct mqtt_connect *cp,
    const char *id, size_t id_len)
{
	char *user, *cid;
	int ok;

	user = conn_ax(c)->auth_user != NULL ? xstrdup(conn_ax(c)->auth_user) :
	    cp->has_username ? xstrndup((const char *)cp->username.p,
	    cp->username.len) : NULL;
	cid = xstrndup(id, id_len);
	ok = acl_check(user, cid, (const char *)cp->will_topic.p,
	    cp->will_topic.len, ACL_WRITE);
	if (!ok)
		log_notice("client '%s' (%s) refused: will topic not allowed",
		    cid, conn_peer(c));
	free(cid);
	free(user);
	return ok;
}

/* Fill the CONNACK properties that advertise this node's features. */
static void
connect_features(const struct conn *c, struct mqtt_props *ap)
{
	MQTT_PROP_SET(ap, MQTT_PROP_RECEIVE_MAX);
	ap->receive_max = (uint16_t)srv.cfg.receive_maximum;
	if (c->max_packet_in < MQTT_MAX_REMAINING + 5) {
		MQTT_PROP_SET(ap, MQTT_PROP_MAX_PACKET_SIZE);
		ap->max_packet_size = c->max_packet_in;
	}
	if (srv.cfg.topic_alias_maximum > 0) {
		MQTT_PROP_SET(ap, MQTT_PROP_TOPIC_ALIAS_MAX);
		ap->topic_alias_max = (uint16_t)srv.cfg.topic_alias_maximum;
	}
	if (srv.cfg.max_qos < 2) {
		MQTT_PROP_SET(ap, MQTT_PROP_MAX_QOS);
		ap->max_qos = (uint8_t)srv.cfg.max_qos;
	}
	if (!srv.cfg.retain_available) {
		MQTT_PROP_SET(ap, MQTT_PROP_RETAIN_AVAILABLE);
		ap->retain_available = 0;
	}
	if (!srv.cfg.wildcard_subscription_available) {
		MQTT_PROP_SET(ap, MQTT_PROP_WILDCARD_AVAILABLE);
		ap->wildcard_available = 0;
	}
	if (!srv.cfg.subscription_identifier_available) {
		MQTT_PROP_SET(ap, MQTT_PROP_SUB_ID_AVAILABLE);
		ap->sub_id_available = 0;
	}
	if (!srv.cfg.shared_subscription_available) {
		MQTT_PROP_SET(ap, MQTT_PROP_SHARED_AVAILABLE);
		ap->shared_available = 0;
	}
}

int
handle_connect(struct conn *c, struct mqtt_packet *pkt)
{
	struct mqtt_connect *cp = &pkt->u.connect;
	struct mqtt_packet ack;
	struct mqtt_props *ap = &ack.u.connack.props;
	struct session *s;
	char assigned[40];
	const char *id = (const char *)cp->client_id.p;
	size_t id_len = cp->client_id.len;
	const char *user = NULL;
	size_t ulen = 0;
	int present = 0, was_assigned = 0, rc;
	uint16_t keep_alive = cp->keep_alive;

	c->version = cp->version;
	if (srv.draining)
		return handle_connect_refuse(c, cp->version,
		    server_drain_reason(c));
	/* Before authentication, which may cost a PBKDF2 run; node links
	 * come in on the cluster listener and are not limited; a CONNECT
	 * handled again after the cluster's claim was counted once. */
	if (c->listener != NULL && !c->listener->cluster &&
	    !conn_ax(c)->claimed &&
	    !ratelimit_connect(c))
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_CONNECTION_RATE_EXCEEDED);
	if (conn_tls(c) != NULL && c->listener->use_identity_as_username) {
		/* The CN of the certificate checked in the handshake is the
		 * user name, whatever the CONNECT says (mosquitto's
		 * use_identity_as_username); from here on, auth, ACLs and
		 * the session see only it. */
		const char *cn = tls_conn_identity(conn_tls(c));

		if (cn == NULL) {
			log_notice("client (%s) refused: its certificate has "
			    "no CN usable as a user name", conn_peer(c));
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_NOT_AUTHORIZED);
		}
		cp->has_username = 1;
		cp->username.p = (const uint8_t *)cn;
		cp->username.len = (uint32_t)strlen(cn);
		cp->has_password = 0;
		cp->password.p = NULL;
		cp->password.len = 0;
		conn_aux(c)->cert_user = 1;
	}
	if ((rc = bridge_connect(c, pkt)) > 0)
		return rc;
	if (rc == BRIDGE_HELD || rc == BRIDGE_CLOSED)
		return 0;
	/* A bridge's session (mqttbridge.c) is the node's own. */
	if (c->link == LINK_NONE && id_len >= sizeof MQTTBRIDGE_ID - 1 &&
	    memcmp(id, MQTTBRIDGE_ID, sizeof MQTTBRIDGE_ID - 1) == 0)
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_CLIENT_ID_INVALID);
	if (cp->version == MQTT_V5 &&
	    MQTT_PROP_HAS(&cp->props, MQTT_PROP_AUTH_METHOD)) {
		/* Enhanced authentication (auth.c): the exchange runs first,
		 * then this CONNECT again with auth_exchange_done(). */
		if (c->link != LINK_NONE || conn_ax(c)->cert_user ||
		    !auth_method_known(cp->props.auth_method)) {
			log_notice("client (%s) refused: authentication "
			    "method '%.*s' not offered", conn_peer(c),
			    (int)cp->props.auth_method.len,
			    (const char *)cp->props.auth_method.p);
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_BAD_AUTH_METHOD);
		}
		if (!auth_exchange_done(c)) {
			rc = auth_begin(c, pkt);
			if (rc > 0)
				return handle_connect_refuse(c, cp->version,
				    (uint8_t)rc);
			if (rc == 0)
				return 0;
		}
	} else if (c->link == LINK_NONE && (rc = auth_connect(c, pkt)) != 0) {
		/* A node link proved itself with cluster_secret
		 * (bridge_connect); it is not a client of the password
		 * file. -1: the password is being checked (pwcheck.c). */
		if (rc < 0)
			return 0;
		return handle_connect_refuse(c, cp->version, (uint8_t)rc);
	}
	if (id_len == 0) {
		if (cp->version == MQTT_V31 ||
		    (cp->version == MQTT_V311 && !cp->clean_start) ||
		    !srv.cfg.allow_zero_length_clientid)
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_CLIENT_ID_INVALID);
		/* 128 random bits: an id that counted up could be guessed,
		 * and its session, with what is queued for it, resumed by
		 * someone else. The loop skips any id in use. */
		do {
			uint64_t r[2];

			evutil_secure_rng_get_bytes(r, sizeof r);
			snprintf(assigned, sizeof assigned,
			    "tern-%016llx%016llx", (unsigned long long)r[0],
			    (unsigned long long)r[1]);
		} while (session_find(assigned, strlen(assigned)) != NULL);
		id = assigned;
		id_len = strlen(assigned);
		was_assigned = 1;
	}
	if (cp->has_will && (!mqtt_topic_name_valid(cp->will_topic.p,
	    cp->will_topic.len) || !topic_depth_ok(cp->will_topic.p,
	    cp->will_topic.len) || bridge_reserved_topic(cp->will_topic.p,
	    cp->will_topic.len)))
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_TOPIC_NAME_INVALID);
	/* The node's events (events.c) and its $SYS/ (sys.c): nobody else
	 * speaks there, as handle_publish.c refuses a client's PUBLISH. */
	if (cp->has_will && c->link == LINK_NONE && (events_topic((const char *)
	    cp->will_topic.p, cp->will_topic.len) || sys_topic((const char *)
	    cp->will_topic.p, cp->will_topic.len)))
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_NOT_AUTHORIZED);
	if (cp->has_will && cp->will_qos > srv.cfg.max_qos)
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_QOS_NOT_SUPPORTED);
	if (cp->has_will && cp->will_retain && !srv.cfg.retain_available)
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_RETAIN_NOT_SUPPORTED);
	if (cp->has_will && acl_active() &&
	    !connect_will_allowed(c, cp, id, id_len))
		return handle_connect_refuse(c, cp->version,
		    MQTT_RC_NOT_AUTHORIZED);

	if (c->link == LINK_NONE) {
		user = connect_user(c, cp, &ulen);
		if (!was_assigned &&
		    !connect_id_prefix_ok(user, ulen, id, id_len)) {
			log_notice("client '%.*s' (%s) refused: the client id "
			    "does not begin with its user name '%.*s' "
			    "(client_id_user_prefix)", (int)id_len, id,
			    conn_peer(c), (int)ulen, user);
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_NOT_AUTHORIZED);
		}
		/* Before the claim: another user's session here is not
		 * taken from its client, nor another node's asked for. */
		s = session_find(id, id_len);
		if (s != NULL && !connect_owner_ok(c, s, user, ulen))
			return handle_connect_refuse(c, cp->version,
			    MQTT_RC_NOT_AUTHORIZED);
	}
	/* In a cluster, the other nodes first give up the client id: they
	 * close its connection and hand its session over (bridge/). */
	if (!was_assigned && c->link == LINK_NONE && !conn_ax(c)->claimed &&
	    bridge_claim(c, pkt, user, ulen))
		return 0;
	s = session_find(id, id_len);
	if (s != NULL && s->conn != NULL) {
		log_info("client %s taken over by %s", conn_label(s->conn),
		    conn_peer(c));
		events_taken_over(s, conn_peer(c), srv.cfg.node_name);
		conn_take_over(s->conn, cp->clean_start,
		    "session taken over");
		s = session_find(id, id_len); /* the close may free it */
	}
	if (s != NULL && cp->clean_start) {
		session_free(s);
		s = NULL;
	}
	if (s == NULL) {
		s = session_new(id, id_len);
	} else {
		present = 1;
		if (session_du(s)->expiry_timer != NULL)
			evtimer_del(session_du(s)->expiry_timer);
		/* Resumed within the Will Delay Interval: the will of the
		 * previous connection is not sent (MQTT-3.1.3-9). */
		will_clear(s);
	}
	if (conn_ax(c)->auth_user != NULL)
		session_set_user(s, conn_ax(c)->auth_user,
		    strlen(conn_ax(c)->auth_user));
	else
		session_set_user(s, cp->has_username ?
		    (const char *)cp->username.p : NULL, cp->username.len);
	if (cp->version == MQTT_V5) {
		s->expiry = MQTT_PROP_HAS(&cp->props,
		    MQTT_PROP_SESSION_EXPIRY) ? cp->props.session_expiry : 0;
		/* A resumed session whose expiry drops to 0 still holds
		 * what was queued for it, maybe on disk: it stays stored
		 * while this connection lives, delivers all of it, and ends
		 * with the connection (session_detach). */
		s->persistent = s->expiry != 0 || (present && s->persistent);
		if (MQTT_PROP_HAS(&cp->props, MQTT_PROP_RECEIVE_MAX))
			c->receive_max = cp->props.receive_max;
		if (MQTT_PROP_HAS(&cp->props, MQTT_PROP_MAX_PACKET_SIZE))
			c->max_packet = cp->props.max_packet_size;
		if (MQTT_PROP_HAS(&cp->props, MQTT_PROP_TOPIC_ALIAS_MAX))
			conn_alias_out_init(c, cp->props.topic_alias_max);
		c->problem_info = MQTT_PROP_HAS(&cp->props,
		    MQTT_PROP_REQUEST_PROBLEM_INFO) ?
		    cp->props.request_problem_info : 1;
		if (keep_alive == 0 || keep_alive > srv.cfg.max_keepalive)
			keep_alive = (uint16_t)srv.cfg.max_keepalive;
	} else {
		s->persistent = !cp->clean_start;
		s->expiry = srv.cfg.persistent_client_expiration != 0 ?
		    srv.cfg.persistent_client_expiration : UINT32_MAX;
	}
	if (cp->has_will) {
		s->will = receipt_clean(bridge_msg_clean(msg_from_will(cp)));
		s->will_delay = cp->version == MQTT_V5 &&
		    MQTT_PROP_HAS(&cp->will_props, MQTT_PROP_WILL_DELAY) ?
		    cp->will_props.will_delay : 0;
		c->will_pending = 1;
	}

	memset(&ack, 0, sizeof ack);
	ack.type = MQTT_CONNACK;
	ack.u.connack.session_present = (uint8_t)present;
	if (cp->version == MQTT_V5) {
		if (was_assigned) {
			MQTT_PROP_SET(ap, MQTT_PROP_ASSIGNED_CLIENT_ID);
			ap->assigned_client_id.p = (const uint8_t *)id;
			ap->assigned_client_id.len = (uint32_t)id_len;
		}
		if (keep_alive != cp->keep_alive) {
			MQTT_PROP_SET(ap, MQTT_PROP_SERVER_KEEP_ALIVE);
			ap->server_keep_alive = keep_alive;
		}
		connect_features(c, ap);
		bridge_connack_props(c, ap);
		auth_connack_props(c, ap);
		if (srv.cfg.response_information != NULL &&
		    MQTT_PROP_HAS(&cp->props, MQTT_PROP_REQUEST_RESPONSE_INFO) &&
		    cp->props.request_response_info) {
			MQTT_PROP_SET(ap, MQTT_PROP_RESPONSE_INFO);
			ap->response_info.p =
			    (const uint8_t *)srv.cfg.response_information;
			ap->response_info.len =
			    (uint32_t)strlen(srv.cfg.response_information);
		}
	}
	if (conn_send(c, &ack) != 0) {
		/* Over the client's Maximum Packet Size: the properties that
		 * can go, go; the assigned id and the limits it must obey
		 * stay (MQTT-3.1.2-25). */
		ap->present &= MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID) |
		    MQTT_PROP_BIT(MQTT_PROP_SERVER_KEEP_ALIVE) |
		    MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAX) |
		    MQTT_PROP_BIT(MQTT_PROP_MAX_PACKET_SIZE) |
		    MQTT_PROP_BIT(MQTT_PROP_MAX_QOS) |
		    MQTT_PROP_BIT(MQTT_PROP_RETAIN_AVAILABLE) |
		    MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAX) |
		    MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) |
		    MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
		if (conn_send(c, &ack) != 0) {
			will_clear(s);
			session_detach(s);
			return MQTT_RC_PACKET_TOO_LARGE;
		}
	}

	c->session = s;
	persist_unpark(s);
	s->conn = c;
	/* Made only for a connection the cluster claimed. */
	if (conn_ax(c)->claim_won != 0 || conn_ax(c)->claim_split != 0 ||
	    s->cl != &session_cluster_none) {
		session_cluster(s)->claim_won = conn_ax(c)->claim_won;
		s->cl->split = conn_ax(c)->claim_split;
	}
	if (session_cl(s)->split != 0)
		deliver_seen_widen(s);
	c->state = CONN_ACTIVE;
	c->connected_at = (int64_t)time(NULL);
	if (s->persistent)
		persist_session(s);
	else if (s->stored)
		persist_session_del(s);
	c->keep_alive = keep_alive;
	conn_start_keepalive(c);
	log_notice("client %s connected (v%s, clean %u, keep alive %u%s)",
	    conn_label(c), cp->version == MQTT_V5 ? "5" :
	    cp->version == MQTT_V311 ? "3.1.1" : "3.1", cp->clean_start,
	    keep_alive, present ? ", session resumed" : "");
	if (c->link == LINK_IN)
		bridge_link_in_up(c);
	if (present)
		deliver_resume(s);
	presence_online(c, s);
	events_connected(c, s, cp->clean_start, present);
	/* Last: cp may point into the CONNECT the exchange kept. */
	auth_exchange_end(c);
	conn_aux_trim(c);
	return 0;
}
