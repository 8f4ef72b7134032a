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
 * property) and the step function that consumes the client's
 * Authentication Data and says "continue with this data", "success" or
 * "fail". The table is empty in this release (SCRAM-SHA-256 arrives with
 * the security work), so a CONNECT naming any method is refused with
 * 0x8C (bad authentication method) and an AUTH packet, which can only
 * belong to an exchange that was never started, is a protocol error.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static struct passwd_file *pwfile; /* NULL: no password_file */

struct auth_method {
	const char *name;
	/* Consume data; return MQTT_RC_SUCCESS, MQTT_RC_CONTINUE_AUTH (with
	 * *out set) or a failure reason code. */
	int (*step)(struct conn *c, struct mqtt_str data, struct mqtt_str *out);
};

static const struct auth_method auth_methods[] = {
	{ NULL, NULL }
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
	return auth_find(name) != NULL;
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
auth_close(void)
{
	passwd_free(pwfile);
	pwfile = NULL;
	jwt_close();
	acl_close();
}

int
auth_connect(struct conn *c, const struct mqtt_connect *cp)
{
	const char *why;
	int id_len = (int)cp->client_id.len, u_len = (int)cp->username.len;
	const char *id = (const char *)cp->client_id.p;
	const char *user = (const char *)cp->username.p;
	char claimed[256];

	/* use_identity_as_username: the client certificate, verified in
	 * the TLS handshake, stands for the password. */
	if (c->cert_user)
		return 0;
	/* A token as the password: it names the user itself. */
	if (cp->has_password && jwt_enabled() &&
	    jwt_looks_like(cp->password.p, cp->password.len)) {
		if (jwt_check(cp->password.p, cp->password.len, time(NULL),
		    claimed, sizeof claimed, &why) == 0) {
			if (!cp->has_username || (cp->username.len ==
			    strlen(claimed) && memcmp(user, claimed,
			    cp->username.len) == 0)) {
				free(c->auth_user);
				c->auth_user = xstrdup(claimed);
				return 0;
			}
			why = "user name is not the token's";
		}
		log_notice("client '%.*s' (%s) refused: %s", id_len, id,
		    c->peer, why);
		return MQTT_RC_BAD_USER_OR_PASSWORD;
	}
	if (cp->has_username && pwfile != NULL) {
		if (!cp->has_password)
			why = "no password";
		else {
			switch (passwd_check(pwfile, user, cp->username.len,
			    cp->password.p, cp->password.len)) {
			case PASSWD_OK:
				return 0;
			case PASSWD_NO_USER:
				why = "unknown user";
				break;
			default:
				why = "wrong password";
				break;
			}
		}
		log_notice("client '%.*s' (%s) refused: %s for user '%.*s'",
		    id_len, id, c->peer, why, u_len, user);
		return MQTT_RC_BAD_USER_OR_PASSWORD;
	}
	if (srv.cfg.allow_anonymous)
		return 0;
	if (cp->has_username)
		log_notice("client '%.*s' (%s) refused: user '%.*s' cannot "
		    "be checked without a password_file, and "
		    "allow_anonymous is false", id_len, id, c->peer, u_len,
		    user);
	else
		log_notice("client '%.*s' (%s) refused: anonymous, and "
		    "allow_anonymous is false", id_len, id, c->peer);
	return MQTT_RC_NOT_AUTHORIZED;
}
