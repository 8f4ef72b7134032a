/*
 * scram.c - the SCRAM-SHA-256 enhanced authentication method (RFC 5802,
 * RFC 7677) over MQTT 5 AUTH packets (auth.c runs the exchange).
 *
 *	client-first	n,,n=<user>,r=<cnonce>		(CONNECT)
 *	server-first	r=<cnonce><snonce>,s=<salt>,i=<iter>	(AUTH 0x18)
 *	client-final	c=biws,r=<nonce>,p=<proof>	(AUTH 0x18)
 *	server-final	v=<ServerSignature>		(CONNACK 0x00)
 *
 * Design note. The credentials are the "$scram-sha-256$" lines of the
 * password file (pwhash.h): the node holds StoredKey and ServerKey, never
 * the password, and a login costs it two HMACs and a hash; the PBKDF2
 * iterations are the client's. Channel binding is not offered: a gs2
 * header of "p=..." is refused, "y" (the client could bind but thinks the
 * server cannot) is accepted, and so is "n". An authorization identity
 * other than empty is refused, and so is a mandatory extension ("m=").
 * User names are compared byte for byte with the file (no SASLprep), after
 * the "=2C" and "=3D" escapes are undone.
 *
 * An unknown user, or one whose line is not of the SCRAM form, gets a
 * server-first like any other: a salt and keys derived by HMAC from a
 * secret drawn at random when the process starts (so a name's salt is
 * stable for the life of the process), the default iteration count, a
 * fresh nonce. The client-final is checked just the same, and fails.
 * The answer is CONNACK 0x86 (bad user name or password) for a wrong
 * proof, an unknown user or a nonce that is not this exchange's; 0x80
 * (unspecified error) for a message that does not parse or asks for what
 * is not offered. The SCRAM user ("n=") is the client's user name for the
 * ACL and the session; a User Name in the CONNECT is not looked at.
 *
 * State: one struct scram per exchange, freed by auth.c with it. It keeps
 * the user, the gs2 header, client-first-bare and server-first (the first
 * part of the AuthMessage) and the credentials.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>

#include "broker.h"
#include "pwhash.h"

#define SCRAM_USER_MAX 256
#define SCRAM_NONCE_MAX 256
#define SCRAM_SNONCE_LEN 18 /* bytes; 24 in base64 */
#define SCRAM_KEY PWHASH_SCRAM_KEY_LEN

struct scram {
	uint8_t stage; /* 0: server-first sent; 1: done */
	uint8_t known; /* the user has SCRAM credentials */
	uint8_t other_form; /* the user is known, without them */
	char *user;
	char *gs2; /* "n,," and the like, as the client sent it */
	char *first; /* client-first-bare "," server-first */
	size_t bare_len, first_len;
	size_t nonce_off, nonce_len; /* the full nonce, in first */
	unsigned iterations;
	uint8_t stored_key[SCRAM_KEY];
	uint8_t server_key[SCRAM_KEY];
	char out[64]; /* server-final */
};

static uint8_t fake_key[32];
static int fake_key_state; /* 0 not drawn, 1 ready, -1 unavailable */

void
scram_free(void *state)
{
	struct scram *s = state;

	if (s == NULL)
		return;
	free(s->user);
	free(s->gs2);
	free(s->first);
	mbedtls_platform_zeroize(s, sizeof *s);
	free(s);
}

/* HMAC of label and user under the process secret, into out. */
static int
scram_fake(const char *label, const char *user, uint8_t out[32])
{
	uint8_t buf[16 + SCRAM_USER_MAX];
	size_t ll = strlen(label), ul = strlen(user);

	if (fake_key_state == 0)
		fake_key_state = pwhash_random(fake_key, sizeof fake_key) == 0 ?
		    1 : -1;
	if (fake_key_state != 1 || ll + ul > sizeof buf)
		return -1;
	memcpy(buf, label, ll);
	memcpy(buf + ll, user, ul);
	return pwhash_hmac256(fake_key, sizeof fake_key, buf, ll + ul, out);
}

/* The value of attribute "x=" at p (up to ',' or end); NULL when p does
 * not start with it. */
static const char *
scram_attr(const char *p, const char *end, char name, size_t *len)
{
	const char *comma;

	if (end - p < 2 || p[0] != name || p[1] != '=')
		return NULL;
	p += 2;
	comma = memchr(p, ',', (size_t)(end - p));
	*len = (size_t)((comma != NULL ? comma : end) - p);
	return p;
}

/* saslname (RFC 5802 section 5.1) into a new string, "=2C" and "=3D"
 * undone; NULL when malformed. */
static char *
scram_saslname(const char *p, size_t len)
{
	char *u, *w;
	size_t i;

	if (len == 0 || len > SCRAM_USER_MAX)
		return NULL;
	u = w = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (p[i] == '\0' || p[i] == ',') {
			free(u);
			return NULL;
		}
		if (p[i] != '=') {
			*w++ = p[i];
			continue;
		}
		if (len - i >= 3 && p[i + 1] == '2' && p[i + 2] == 'C')
			*w++ = ',';
		else if (len - i >= 3 && p[i + 1] == '3' && p[i + 2] == 'D')
			*w++ = '=';
		else {
			free(u);
			return NULL;
		}
		i += 2;
	}
	*w = '\0';
	return u;
}

static int
scram_printable(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	}
	return 1;
}

static int
scram_refuse(struct conn *c, const struct scram *s, int rc, const char *why)
{
	log_notice("client (%s) refused: SCRAM-SHA-256 %s%s%s%s", conn_peer(c),
	    why, s != NULL && s->user != NULL ? " for user '" : "",
	    s != NULL && s->user != NULL ? s->user : "",
	    s != NULL && s->user != NULL ? "'" : "");
	return rc;
}

/* client-first-message: answer server-first-message. */
static int
scram_first(struct conn *c, struct scram *s, const char *p, size_t len,
    struct mqtt_str *out)
{
	const char *end = p + len, *bare, *v, *cnonce;
	size_t vlen, cnonce_len, n, salt_len;
	uint8_t snonce[SCRAM_SNONCE_LEN], salt[32];
	char snonce64[SCRAM_SNONCE_LEN * 2], salt64[PWHASH_SALT_MAX * 2];
	char iter[16];
	struct pwhash h;
	int known;

	/* gs2-header: cbind flag, authzid, ',' */
	if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
		if (len > 0 && p[0] == 'p')
			return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
			    "channel binding asked for");
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "client-first-message malformed");
	}
	bare = p + 2;
	if (*bare == 'a') {
		v = scram_attr(bare, end, 'a', &vlen);
		if (v == NULL || vlen != 0)
			return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
			    "authorization identity given");
		bare = v;
	}
	if (bare >= end || *bare != ',')
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "client-first-message malformed");
	bare++;
	s->gs2 = xstrndup(p, (size_t)(bare - p));
	/* client-first-message-bare: n=user,r=cnonce[,extensions] */
	if (bare < end && *bare == 'm')
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "mandatory extension asked for");
	v = scram_attr(bare, end, 'n', &vlen);
	if (v == NULL || (s->user = scram_saslname(v, vlen)) == NULL)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "user name malformed");
	if (v + vlen >= end)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "no nonce");
	cnonce = scram_attr(v + vlen + 1, end, 'r', &cnonce_len);
	if (cnonce == NULL || cnonce_len == 0 ||
	    cnonce_len > SCRAM_NONCE_MAX ||
	    !scram_printable(cnonce, cnonce_len))
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "nonce malformed");

	known = auth_scram_lookup(s->user, strlen(s->user), &h);
	s->other_form = known == PASSWD_BAD;
	known = known == PASSWD_OK;
	if (known) {
		s->iterations = h.iterations;
		salt_len = h.salt_len;
		memcpy(s->stored_key, h.stored_key, SCRAM_KEY);
		memcpy(s->server_key, h.server_key, SCRAM_KEY);
		if (mbedtls_base64_encode((unsigned char *)salt64,
		    sizeof salt64, &n, h.salt, h.salt_len) != 0)
			known = -1;
		mbedtls_platform_zeroize(&h, sizeof h);
	} else {
		/* Looks like a user, cannot succeed (design note). */
		s->iterations = PWHASH_SCRAM_ITER_DEFAULT;
		salt_len = PWHASH_SALT_LEN;
		if (scram_fake("salt:", s->user, salt) != 0 ||
		    scram_fake("stored:", s->user, s->stored_key) != 0 ||
		    scram_fake("server:", s->user, s->server_key) != 0 ||
		    mbedtls_base64_encode((unsigned char *)salt64,
		    sizeof salt64, &n, salt, salt_len) != 0)
			known = -1;
	}
	if (known < 0 || pwhash_random(snonce, sizeof snonce) != 0 ||
	    mbedtls_base64_encode((unsigned char *)snonce64, sizeof snonce64,
	    &n, snonce, sizeof snonce) != 0)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "no random bytes or keys");
	s->known = (uint8_t)known;
	snprintf(iter, sizeof iter, "%u", s->iterations);

	/* first = client-first-bare "," "r=" cnonce snonce ",s=" salt ",i=" */
	s->bare_len = (size_t)(end - bare);
	s->first_len = s->bare_len + 3 + cnonce_len + strlen(snonce64) + 3 +
	    strlen(salt64) + 3 + strlen(iter);
	s->first = xmalloc(s->first_len + 1);
	n = (size_t)snprintf(s->first, s->first_len + 1, "%.*s,r=%.*s%s,s=%s,"
	    "i=%s", (int)s->bare_len, bare, (int)cnonce_len, cnonce, snonce64,
	    salt64, iter);
	if (n != s->first_len)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "client-first-message malformed"); /* a NUL in it */
	s->nonce_off = s->bare_len + 3;
	s->nonce_len = cnonce_len + strlen(snonce64);
	out->p = (const uint8_t *)s->first + s->bare_len + 1;
	out->len = (uint32_t)(s->first_len - s->bare_len - 1);
	return MQTT_RC_CONTINUE_AUTH;
}

/* client-final-message: check the proof, answer server-final-message. */
static int
scram_final(struct conn *c, struct scram *s, const char *p, size_t len,
    struct mqtt_str *out)
{
	const char *end = p + len, *v, *proof64;
	char gs2_64[128];
	size_t vlen, n, nowp, plen;
	uint8_t proof[SCRAM_KEY + 1], sig[SCRAM_KEY], key[SCRAM_KEY];
	uint8_t stored[SCRAM_KEY];
	uint8_t *msg;
	size_t msg_len;
	int ok, i;

	/* c=<base64 gs2 header> */
	v = scram_attr(p, end, 'c', &vlen);
	if (v == NULL || mbedtls_base64_encode((unsigned char *)gs2_64,
	    sizeof gs2_64, &n, (const unsigned char *)s->gs2,
	    strlen(s->gs2)) != 0)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "client-final-message malformed");
	if (vlen != n || memcmp(v, gs2_64, n) != 0)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "channel binding data not the gs2 header");
	p = v + vlen;
	if (p >= end)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "client-final-message malformed");
	v = scram_attr(p + 1, end, 'r', &vlen);
	if (v == NULL)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "client-final-message malformed");
	if (vlen != s->nonce_len ||
	    memcmp(v, s->first + s->nonce_off, vlen) != 0)
		return scram_refuse(c, s, MQTT_RC_BAD_USER_OR_PASSWORD,
		    "nonce not this exchange's");
	/* The proof is the last attribute. */
	for (proof64 = NULL, p = end; p - 3 >= v; p--) {
		if (memcmp(p - 3, ",p=", 3) == 0) {
			proof64 = p;
			break;
		}
	}
	if (proof64 == NULL || proof64 - 3 < v + vlen)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "no proof");
	nowp = (size_t)(proof64 - 3 - (end - len));
	plen = (size_t)(end - proof64);
	for (i = 0; (size_t)i < plen; i++) {
		char ch = proof64[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		    ch == '='))
			return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
			    "proof malformed");
	}
	if (mbedtls_base64_decode(proof, sizeof proof, &n,
	    (const unsigned char *)proof64, plen) != 0 || n != SCRAM_KEY)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "proof malformed");

	/* AuthMessage = client-first-bare "," server-first ","
	 * client-final-without-proof */
	msg_len = s->first_len + 1 + nowp;
	msg = xmalloc(msg_len);
	memcpy(msg, s->first, s->first_len);
	msg[s->first_len] = ',';
	memcpy(msg + s->first_len + 1, end - len, nowp);
	ok = pwhash_hmac256(s->stored_key, SCRAM_KEY, msg, msg_len, sig) == 0;
	for (i = 0; i < SCRAM_KEY; i++)
		key[i] = proof[i] ^ sig[i];
	ok = ok && pwhash_sha256(key, SCRAM_KEY, stored) == 0;
	ok = ok && mbedtls_ct_memcmp(stored, s->stored_key, SCRAM_KEY) == 0;
	ok = ok && s->known;
	if (ok)
		ok = pwhash_hmac256(s->server_key, SCRAM_KEY, msg, msg_len,
		    sig) == 0;
	free(msg);
	mbedtls_platform_zeroize(key, sizeof key);
	if (!ok)
		return scram_refuse(c, s, MQTT_RC_BAD_USER_OR_PASSWORD,
		    s->known ? "wrong proof" : s->other_form ?
		    "no SCRAM credentials" : "unknown user");
	memcpy(s->out, "v=", 2);
	if (mbedtls_base64_encode((unsigned char *)s->out + 2,
	    sizeof s->out - 2, &n, sig, sizeof sig) != 0)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED, "no signature");
	out->p = (const uint8_t *)s->out;
	out->len = (uint32_t)(2 + n);
	free(conn_ax(c)->auth_user);
	conn_aux(c)->auth_user = xstrdup(s->user);
	s->stage = 1;
	return MQTT_RC_SUCCESS;
}

int
scram_step(struct conn *c, void **state, struct mqtt_str data,
    struct mqtt_str *out)
{
	struct scram *s = *state;
	const char *p = (const char *)data.p;

	if (data.len == 0 || memchr(p, '\0', data.len) != NULL)
		return scram_refuse(c, s, MQTT_RC_UNSPECIFIED,
		    "message empty or holding a NUL");
	if (s == NULL) {
		*state = s = xcalloc(1, sizeof *s);
		return scram_first(c, s, p, data.len, out);
	}
	if (s->stage == 0)
		return scram_final(c, s, p, data.len, out);
	return scram_refuse(c, s, MQTT_RC_PROTOCOL_ERROR,
	    "message after the end");
}
