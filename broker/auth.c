/*
 * auth.c - who may connect: the password file, allow_anonymous, and the
 * enhanced authentication methods (MQTT 5.0 section 4.12).
 *
 * Design note. auth_connect() decides on a CONNECT before anything else
 * happens to the session, so a client that fails cannot take a session
 * over. Its rules, in order:
 *   - a user name with password_file set: the password must be that
 *     user's (passwd.c); no password, an unknown user or a wrong password
 *     is 0x86 bad user name or password (3.1.1: return code 4);
 *   - otherwise the client has not proved who it is, and is let in only
 *     when allow_anonymous is true (default: true unless password_file is
 *     set); else 0x87 not authorized (3.1.1: 5). Without a password file
 *     a user name is taken as given: it only names the client for the
 *     ACL's %u and user sections. A password without a user name (v5)
 *     is ignored.
 * The password file and the ACL (acl.c) are read at start-up (a missing
 * or bad file stops ternd) and again on SIGHUP, where a bad file is
 * logged and the previous table kept. Clients already connected stay
 * connected through a reload; the ACL applies to them at once.
 *
 * A method is a row of auth_methods[]: its name (the Authentication Method
 * property), whether it is offered, and the step function that consumes
 * the client's Authentication Data and says "continue with this data",
 * "success" (with data for the CONNACK) or "fail". One method is offered:
 * SCRAM-SHA-256 (scram.c), when password_file is set. A CONNECT naming
 * any other method is refused with 0x8C (bad authentication method), and
 * so is any method on a node link or a use_identity_as_username listener,
 * where the certificate or cluster_secret already says who the peer is.
 *
 * The exchange (MQTT 5.0 section 4.12). auth_begin() keeps the CONNECT,
 * encoded as bridge_claim() keeps one, runs the first step on its
 * Authentication Data and answers AUTH 0x18. Until CONNACK only AUTH
 * packets are read (read.c); each one must be reason 0x18 and name the
 * same method (else 0x82 protocol error), and runs the next step. When
 * the method succeeds, the kept CONNECT is decoded and handle_connect()
 * runs again, this time past authentication: its CONNACK carries the
 * method's final data (for SCRAM the server signature). A failure is a
 * CONNACK with the method's reason code, then the close. The exchange
 * stays bounded by connect_timeout: the CONNECT timer runs until CONNACK.
 * The state is one small struct per connection in an exchange, freed at
 * CONNACK or with the conn. Re-authentication (AUTH 0x19 after CONNACK)
 * is not offered: any AUTH after CONNACK is a protocol error, answered
 * with DISCONNECT 0x82.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "broker.h"
#include "pwhash.h"

static struct passwd_file *pwfile; /* NULL: no password_file */

struct auth_method {
	const char *name;
	/* 1 when the node can offer it now. */
	int (*available)(void);
	/* Consume data; return MQTT_RC_SUCCESS (*out: data for the CONNACK,
	 * may be empty), MQTT_RC_CONTINUE_AUTH (*out: data for the AUTH) or
	 * a failure reason code. *state is the method's, NULL at first;
	 * *out points into it. */
	int (*step)(struct conn *c, void **state, struct mqtt_str data,
	    struct mqtt_str *out);
	void (*free)(void *state);
};

struct auth_exchange {
	const struct auth_method *m;
	void *state; /* the method's */
	uint8_t *connect; /* the CONNECT, encoded, until the exchange ends */
	uint8_t done; /* succeeded: the CONNECT is being run */
	struct mqtt_str final; /* into state: the CONNACK's data */
};

static int
auth_have_passwd(void)
{
	return pwfile != NULL;
}

static const struct auth_method auth_methods[] = {
	{ "SCRAM-SHA-256", auth_have_passwd, scram_step, scram_free },
	{ NULL, NULL, NULL, NULL }
};

static const struct auth_method *
auth_find(struct mqtt_str name)
{
	const struct auth_method *m;

	for (m = auth_methods; m->name != NULL; m++) {
		if (strlen(m->name) == name.len &&
		    memcmp(m->name, name.p, name.len) == 0)
			return m;
	}
	return NULL;
}

int
auth_method_known(struct mqtt_str name)
{
	const struct auth_method *m = auth_find(name);

	return m != NULL && m->available();
}

int
auth_scram_lookup(const char *user, size_t ulen, struct pwhash *out)
{
	return passwd_scram(pwfile, user, ulen, out);
}

void
auth_exchange_end(struct conn *c)
{
	struct auth_exchange *ax = conn_ax(c)->auth_ex;

	if (ax == NULL)
		return;
	conn_aux(c)->auth_ex = NULL;
	if (ax->state != NULL)
		ax->m->free(ax->state);
	free(ax->connect);
	free(ax);
}

int
auth_exchange_done(const struct conn *c)
{
	return conn_ax(c)->auth_ex != NULL && conn_ax(c)->auth_ex->done;
}

/* Send AUTH 0x18 with the method's data. */
static void
auth_send(struct conn *c, struct mqtt_str data)
{
	struct mqtt_packet pkt;
	struct mqtt_props *props = &pkt.u.reason.props;
	const char *name = conn_ax(c)->auth_ex->m->name;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_AUTH;
	pkt.u.reason.reason = MQTT_RC_CONTINUE_AUTH;
	MQTT_PROP_SET(props, MQTT_PROP_AUTH_METHOD);
	props->auth_method.p = (const uint8_t *)name;
	props->auth_method.len = (uint32_t)strlen(name);
	MQTT_PROP_SET(props, MQTT_PROP_AUTH_DATA);
	props->auth_data = data;
	conn_send(c, &pkt);
}

/* Run one step on data: 0 (AUTH sent), -1 (success) or a reason code. */
static int
auth_step(struct conn *c, struct mqtt_str data)
{
	struct auth_exchange *ax = conn_ax(c)->auth_ex;
	struct mqtt_str out = { NULL, 0 };
	int rc;

	rc = ax->m->step(c, &ax->state, data, &out);
	if (rc == MQTT_RC_CONTINUE_AUTH) {
		auth_send(c, out);
		return 0;
	}
	if (rc != MQTT_RC_SUCCESS)
		return rc;
	ax->done = 1;
	ax->final = out;
	return -1;
}

int
auth_begin(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	struct auth_exchange *ax;
	struct mqtt_str data = { NULL, 0 };

	auth_exchange_end(c);
	ax = xcalloc(1, sizeof *ax);
	ax->m = auth_find(cp->props.auth_method);
	ax->connect = connect_keep(pkt);
	conn_aux(c)->auth_ex = ax;
	if (MQTT_PROP_HAS(&cp->props, MQTT_PROP_AUTH_DATA))
		data = cp->props.auth_data;
	return auth_step(c, data);
}

int
auth_continue(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_reason *r = &pkt->u.reason;
	struct auth_exchange *ax = conn_ax(c)->auth_ex;
	struct mqtt_str data = { NULL, 0 };
	const char *name = ax->m->name;
	int rc;

	/* MQTT-4.12.0-1, MQTT-3.15.2-1: only "continue" from the client,
	 * with the method of the CONNECT. */
	if (r->reason != MQTT_RC_CONTINUE_AUTH ||
	    !MQTT_PROP_HAS(&r->props, MQTT_PROP_AUTH_METHOD) ||
	    r->props.auth_method.len != strlen(name) ||
	    memcmp(r->props.auth_method.p, name, strlen(name)) != 0) {
		log_notice("client (%s) refused: AUTH out of step in its %s "
		    "exchange", conn_peer(c), name);
		return handle_connect_refuse(c, MQTT_V5,
		    MQTT_RC_PROTOCOL_ERROR);
	}
	if (MQTT_PROP_HAS(&r->props, MQTT_PROP_AUTH_DATA))
		data = r->props.auth_data;
	rc = auth_step(c, data);
	if (rc >= 0)
		return rc > 0 ? handle_connect_refuse(c, MQTT_V5,
		    (uint8_t)rc) : 0;
	/* Success: the CONNECT again, past authentication. */
	return connect_rerun(c, ax->connect);
}

void
auth_connack_props(const struct conn *c, struct mqtt_props *ap)
{
	const struct auth_exchange *ax = conn_ax(c)->auth_ex;

	if (ax == NULL || !ax->done)
		return;
	MQTT_PROP_SET(ap, MQTT_PROP_AUTH_METHOD);
	ap->auth_method.p = (const uint8_t *)ax->m->name;
	ap->auth_method.len = (uint32_t)strlen(ax->m->name);
	if (ax->final.len > 0) {
		MQTT_PROP_SET(ap, MQTT_PROP_AUTH_DATA);
		ap->auth_data = ax->final;
	}
}

int
auth_open(void)
{
	char err[1024];

	if (srv.cfg.password_file != NULL) {
		pwfile = passwd_load(srv.cfg.password_file, err, sizeof err);
		if (pwfile == NULL) {
			log_error("password_file: %s", err);
			return -1;
		}
		log_notice("password file %s: %zu users",
		    srv.cfg.password_file, passwd_count(pwfile));
	}
	if (jwt_open(err, sizeof err) != 0) {
		log_error("%s", err);
		return -1;
	}
	if (jwt_enabled())
		log_notice("JWT logins (%s, user name from claim \"%s\")",
		    srv.cfg.jwt_key_file, srv.cfg.jwt_username_claim);
	if (!srv.cfg.allow_anonymous)
		log_info("anonymous clients are refused");
	return acl_open();
}

void
auth_reload(void)
{
	struct passwd_file *pf;
	char err[1024];

	if (srv.cfg.password_file != NULL) {
		pf = passwd_load(srv.cfg.password_file, err, sizeof err);
		if (pf == NULL) {
			log_error("password_file not reloaded, keeping the "
			    "previous users: %s", err);
		} else {
			passwd_free(pwfile);
			pwfile = pf;
			log_notice("password file %s reloaded: %zu users",
			    srv.cfg.password_file, passwd_count(pwfile));
		}
	}
	if (jwt_open(err, sizeof err) != 0)
		log_error("JWT key not reloaded, keeping the previous one: %s",
		    err);
	else if (jwt_enabled())
		log_notice("JWT key %s reloaded", srv.cfg.jwt_key_file);
	acl_reload();
}

void
auth_password_checked(struct conn *c, int ok, const char *user,
    size_t ulen, const struct pwhash *h, const uint8_t *pw, size_t pwlen,
    const uint8_t *connect, uint8_t version)
{
	int rc;

	if (c->state != CONN_NEW)
		return;
	if (!ok) {
		log_notice("client (%s) refused: wrong password for user "
		    "'%.*s'", conn_peer(c), (int)ulen, user);
		rc = handle_connect_refuse(c, version,
		    MQTT_RC_BAD_USER_OR_PASSWORD);
		conn_close(c, (uint8_t)rc, "wrong password");
		return;
	}
	passwd_remember(pwfile, user, ulen, h, pw, pwlen);
	conn_aux(c)->pw_verified = 1;
	if ((rc = connect_rerun(c, connect)) != 0) {
		conn_close(c, (uint8_t)rc, "CONNECT refused");
		return;
	}
	/* What the client sent meanwhile is read now (unless a claim of
	 * the cluster holds it further). */
	conn_unblock(c, BLOCK_AUTH);
}

void
auth_jwt_checked(struct conn *c, int ok, const char *user,
    const uint8_t *connect, uint8_t version)
{
	int rc;

	if (c->state != CONN_NEW)
		return;
	if (!ok) {
		log_notice("client (%s) refused: bad JWT signature",
		    conn_peer(c));
		rc = handle_connect_refuse(c, version,
		    MQTT_RC_BAD_USER_OR_PASSWORD);
		conn_close(c, (uint8_t)rc, "bad JWT signature");
		return;
	}
	free(conn_ax(c)->auth_user);
	conn_aux(c)->auth_user = xstrdup(user);
	conn_aux(c)->pw_verified = 1;
	if ((rc = connect_rerun(c, connect)) != 0) {
		conn_close(c, (uint8_t)rc, "CONNECT refused");
		return;
	}
	conn_unblock(c, BLOCK_AUTH);
}

void
auth_close(void)
{
	passwd_free(pwfile);
	pwfile = NULL;
	jwt_close();
	acl_close();
}

int
auth_connect(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	struct pwhash slow;
	const char *why;
	int id_len = (int)cp->client_id.len, u_len = (int)cp->username.len;
	const char *id = (const char *)cp->client_id.p;
	const char *user = (const char *)cp->username.p;
	char claimed[256];
	int rc;

	/* use_identity_as_username: the client certificate, verified in
	 * the TLS handshake, stands for the password. pw_verified: the
	 * worker passed this CONNECT's password (pwcheck.c). */
	if (conn_ax(c)->cert_user || conn_ax(c)->pw_verified)
		return 0;
	/* A token as the password: it names the user itself. All but an
	 * RS256 or ES256 signature is checked here; such a signature, on
	 * the worker, like a slow password (jwt.c). */
	if (cp->has_password && jwt_enabled() &&
	    jwt_looks_like(cp->password.p, cp->password.len)) {
		if (jwt_claims_check(cp->password.p, cp->password.len,
		    time(NULL), claimed, sizeof claimed, &why) == 0) {
			if (cp->has_username && (cp->username.len !=
			    strlen(claimed) || memcmp(user, claimed,
			    cp->username.len) != 0))
				why = "user name is not the token's";
			else if (jwt_slow()) {
				rc = pwcheck_start_jwt(c, pkt, claimed);
				return rc == 0 ? -1 : rc;
			} else if (jwt_check(cp->password.p,
			    cp->password.len, time(NULL), claimed,
			    sizeof claimed, &why) == 0) {
				free(conn_ax(c)->auth_user);
				conn_aux(c)->auth_user = xstrdup(claimed);
				return 0;
			}
		}
		log_notice("client '%.*s' (%s) refused: %s", id_len, id,
		    conn_peer(c), why);
		return MQTT_RC_BAD_USER_OR_PASSWORD;
	}
	if (cp->has_username && pwfile != NULL) {
		if (!cp->has_password)
			why = "no password";
		else {
			switch (passwd_check(pwfile, user, cp->username.len,
			    cp->password.p, cp->password.len, &slow)) {
			case PASSWD_OK:
				return 0;
			case PASSWD_SLOW:
				rc = pwcheck_start(c, pkt, &slow);
				mbedtls_platform_zeroize(&slow, sizeof slow);
				return rc == 0 ? -1 : rc;
			case PASSWD_NO_USER:
				why = "unknown user";
				break;
			default:
				why = "wrong password";
				break;
			}
		}
		log_notice("client '%.*s' (%s) refused: %s for user '%.*s'",
		    id_len, id, conn_peer(c), why, u_len, user);
		return MQTT_RC_BAD_USER_OR_PASSWORD;
	}
	if (srv.cfg.allow_anonymous)
		return 0;
	if (cp->has_username)
		log_notice("client '%.*s' (%s) refused: user '%.*s' cannot "
		    "be checked without a password_file, and "
		    "allow_anonymous is false", id_len, id, conn_peer(c), u_len,
		    user);
	else
		log_notice("client '%.*s' (%s) refused: anonymous, and "
		    "allow_anonymous is false", id_len, id, conn_peer(c));
	return MQTT_RC_NOT_AUTHORIZED;
}
