/*
 * jwt.c - a JSON Web Token as the MQTT password (RFC 7519, signed as in
 * RFC 7515/7518): the app's back-end signs a token, the app connects with
 * it, the node checks it without a call to anyone.
 *
 * Design note. One algorithm per node (jwt_alg), one key (jwt_key_file):
 * HS256 with a shared secret (the file's bytes, without a final newline),
 * RS256 or ES256 with a PEM public key. The token's own "alg" header must
 * name that algorithm, so a token cannot choose a weaker check ("none",
 * or HS256 keyed with the public key). Claims: "exp" is required and must
 * be in the future, "nbf" when present must be past, both with jwt_leeway
 * seconds of tolerance for clocks; the user name is the string claim
 * jwt_username_claim (default "sub"). The JSON reader below looks only at
 * the top-level members of the header and the claims, skips any nested
 * value, and takes strings with their escapes; it fails closed on
 * anything it does not follow.
 *
 * Cost, and where it is paid. HS256 is one HMAC (a few microseconds):
 * jwt_check() runs whole on the event loop. An RS256 or ES256 signature
 * check costs 0.1 to 1 ms, and anyone can send tokens before being
 * known: on the loop, a flood of bogus tokens stopped every client of the
 * node. So the check is split. jwt_claims_check(), on the loop, does all
 * that needs no key (the three parts, base64url, the header's alg, the
 * signature's length, the claims, exp, nbf, the user name) and refuses a
 * malformed or expired token at once; jwt_signature_ok() then runs on
 * the password worker (pwcheck.c), in the same bounded queue, with the
 * same share per source address. The job holds a reference to the key
 * it was queued with (jwt_key_hold): a reload meanwhile swaps the node's
 * key, and the old one is freed when its last job is. Only the worker
 * verifies RS256 and ES256 signatures, so the mbedTLS contexts, which
 * cache values on first use, are never used by two threads at once.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "broker.h"

#define JWT_MAX_LEN 8192
#define JWT_MAX_USER 256
/* Decoded signature: RSA keys up to 8192 bits. */
#define JWT_MAX_SIG 1024

enum jwt_alg { JWT_HS256, JWT_RS256, JWT_ES256 };

/*
 * One loaded key. The node's key in use holds one reference; a signature
 * check waiting on the worker (pwcheck.c) holds another, so that a reload
 * (SIGHUP) that replaces the key meanwhile does not free it under the
 * worker. refs is touched by the loop thread only (the worker only reads
 * the key, and its jobs are freed on the loop).
 */
struct jwt_key {
	unsigned refs;
	enum jwt_alg alg;
	uint8_t *secret;
	size_t secret_len;
	mbedtls_pk_context pk;
	int pk_loaded;
};

static struct jwt_key *jwt; /* the key in use; NULL: none */

static const char *
jwt_alg_name(enum jwt_alg a)
{
	return a == JWT_HS256 ? "HS256" : a == JWT_RS256 ? "RS256" : "ES256";
}

int
jwt_alg_parse(const char *name)
{
	if (strcmp(name, "HS256") == 0)
		return JWT_HS256;
	if (strcmp(name, "RS256") == 0)
		return JWT_RS256;
	if (strcmp(name, "ES256") == 0)
		return JWT_ES256;
	return -1;
}

/* base64url without padding (RFC 7515 section 2) into out (outcap bytes).
 * Returns the length, or -1. */
static long
jwt_b64url(const uint8_t *in, size_t len, uint8_t *out, size_t outcap)
{
	char buf[JWT_MAX_LEN + 4];
	size_t i, n = 0;

	if (len > JWT_MAX_LEN)
		return -1;
	for (i = 0; i < len; i++) {
		char ch = (char)in[i];

		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' &&
		    ch <= 'z') || (ch >= '0' && ch <= '9')))
			return -1;
		buf[i] = ch;
	}
	if (len % 4 == 1)
		return -1;
	while (len % 4 != 0)
		buf[len++] = '=';
	if (mbedtls_base64_decode(out, outcap, &n, (const uint8_t *)buf,
	    len) != 0)
		return -1;
	return (long)n;
}

/* --- a small JSON reader: top-level members only --- */

struct json {
	const char *p, *end;
};

static void
json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* A string at j->p into out (cap bytes, NUL-terminated; NULL: skip).
 * \u escapes other than ASCII are refused (names and user ids here are
 * plain). Returns 0 or -1. */
static int
json_string(struct json *j, char *out, size_t cap)
{
	size_t n = 0;
	char ch;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		ch = *j->p++;
		if ((unsigned char)ch < 0x20)
			return -1;
		if (ch == '\\') {
			if (j->p >= j->end)
				return -1;
			ch = *j->p++;
			switch (ch) {
			case '"': case '\\': case '/': break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u': {
				unsigned v = 0, k;

				if (j->end - j->p < 4)
					return -1;
				for (k = 0; k < 4; k++) {
					char h = *j->p++;

					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned)(h - 'A' + 10);
					else
						return -1;
				}
				if (v == 0 || v > 0x7f)
					return -1;
				ch = (char)v;
				break;
			}
			default:
				return -1;
			}
		}
		if (out != NULL) {
			if (n + 1 >= cap)
				return -1;
			out[n++] = ch;
		}
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	if (out != NULL)
		out[n] = '\0';
	return 0;
}

/* Skip any value (nested objects and arrays to a bounded depth). */
static int
json_skip(struct json *j, int depth)
{
	json_ws(j);
	if (j->p >= j->end || depth > 16)
		return -1;
	if (*j->p == '"')
		return json_string(j, NULL, 0);
	if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';

		j->p++;
		json_ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				json_ws(j);
				if (json_string(j, NULL, 0) != 0)
					return -1;
				json_ws(j);
				if (j->p >= j->end || *j->p++ != ':')
					return -1;
			}
			if (json_skip(j, depth + 1) != 0)
				return -1;
			json_ws(j);
			if (j->p >= j->end)
				return -1;
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (*j->p++ == close)
				return 0;
			return -1;
		}
	}
	/* number, true, false, null */
	while (j->p < j->end && (strchr("+-.eE0123456789", *j->p) != NULL ||
	    (*j->p >= 'a' && *j->p <= 'z')))
		j->p++;
	return 0;
}

struct json_want {
	const char *name;
	char *str; /* string value wanted here (cap bytes) */
	size_t cap;
	double *num; /* or a number */
	int found;
};

/* Walk the top-level object; fill the wanted members. Returns 0 or -1. */
static int
json_object(const char *text, size_t len, struct json_want *w, size_t nw)
{
	struct json j = { text, text + len };
	char key[64];
	size_t i;
	char *endp;

	json_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return -1;
	json_ws(&j);
	if (j.p < j.end && *j.p == '}')
		return 0;
	for (;;) {
		json_ws(&j);
		if (json_string(&j, key, sizeof key) != 0)
			return -1;
		json_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return -1;
		json_ws(&j);
		for (i = 0; i < nw; i++) {
			if (strcmp(w[i].name, key) == 0)
				break;
		}
		if (i < nw && w[i].str != NULL && j.p < j.end &&
		    *j.p == '"') {
			if (json_string(&j, w[i].str, w[i].cap) != 0)
				return -1;
			w[i].found = 1;
		} else if (i < nw && w[i].num != NULL && j.p < j.end &&
		    (*j.p == '-' || (*j.p >= '0' && *j.p <= '9'))) {
			char num[64];
			size_t n = 0;

			while (j.p < j.end && n + 1 < sizeof num &&
			    strchr("+-.eE0123456789", *j.p) != NULL)
				num[n++] = *j.p++;
			num[n] = '\0';
			errno = 0;
			*w[i].num = strtod(num, &endp);
			if (errno != 0 || *endp != '\0')
				return -1;
			w[i].found = 1;
		} else if (json_skip(&j, 0) != 0) {
			return -1;
		}
		json_ws(&j);
		if (j.p >= j.end)
			return -1;
		if (*j.p == ',') {
			j.p++;
			continue;
		}
		if (*j.p == '}')
			return 0;
		return -1;
	}
}

/* --- keys and signatures --- */

static void
jwt_key_free(struct jwt_key *k)
{
	if (k->secret != NULL) {
		mbedtls_platform_zeroize(k->secret, k->secret_len);
		free(k->secret);
	}
	if (k->pk_loaded)
		mbedtls_pk_free(&k->pk);
	free(k);
}

struct jwt_key *
jwt_key_hold(void)
{
	assert(jwt != NULL && jwt->refs > 0);
	jwt->refs++;
	return jwt;
}

void
jwt_key_release(struct jwt_key *k)
{
	if (k == NULL)
		return;
	assert(k->refs > 0);
	if (--k->refs == 0)
		jwt_key_free(k);
}

void
jwt_close(void)
{
	jwt_key_release(jwt);
	jwt = NULL;
}

/* Load the key of the config. Returns it (one reference), or NULL with
 * err set. */
static struct jwt_key *
jwt_key_load(char *err, size_t errlen)
{
	const char *path = srv.cfg.jwt_key_file;
	struct jwt_key *k;
	char msg[160];
	FILE *fp;
	long n;
	int rc;

	k = xcalloc(1, sizeof *k);
	k->refs = 1;
	k->alg = (enum jwt_alg)srv.cfg.jwt_alg;
	if (k->alg == JWT_HS256) {
		fp = fopen(path, "rb");
		if (fp == NULL) {
			snprintf(err, errlen, "jwt_key_file %s: %s", path,
			    strerror(errno));
			jwt_key_free(k);
			return NULL;
		}
		k->secret = xmalloc(4097);
		k->secret_len = 4097;
		n = (long)fread(k->secret, 1, 4097, fp);
		fclose(fp);
		while (n > 0 && (k->secret[n - 1] == '\n' ||
		    k->secret[n - 1] == '\r'))
			n--;
		if (n < 32 || n > 4096) {
			snprintf(err, errlen, "jwt_key_file %s: an HS256 secret "
			    "takes 32 to 4096 bytes", path);
			jwt_key_free(k);
			return NULL;
		}
		k->secret_len = (size_t)n;
	} else {
		mbedtls_pk_init(&k->pk);
		k->pk_loaded = 1;
		rc = mbedtls_pk_parse_public_keyfile(&k->pk, path);
		if (rc != 0) {
			mbedtls_strerror(rc, msg, sizeof msg);
			snprintf(err, errlen, "jwt_key_file %s: %s", path, msg);
			jwt_key_free(k);
			return NULL;
		}
		if ((k->alg == JWT_RS256 && !mbedtls_pk_can_do(&k->pk,
		    MBEDTLS_PK_RSA)) || (k->alg == JWT_ES256 &&
		    (!mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECKEY) ||
		    mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1))) {
			snprintf(err, errlen, "jwt_key_file %s: not a%s public "
			    "key", path, k->alg == JWT_RS256 ? "n RSA" :
			    " P-256");
			jwt_key_free(k);
			return NULL;
		}
	}
	return k;
}

int
jwt_open(char *err, size_t errlen)
{
	struct jwt_key *k;

	if (srv.cfg.jwt_key_file == NULL) {
		jwt_close();
		return 0;
	}
	if ((k = jwt_key_load(err, errlen)) == NULL)
		return -1; /* the key in use, if any, stays */
	/* Checks waiting on the worker keep the old key alive. */
	jwt_close();
	jwt = k;
	return 0;
}

int
jwt_enabled(void)
{
	return jwt != NULL;
}

int
jwt_slow(void)
{
	return jwt != NULL && jwt->alg != JWT_HS256;
}

/* The signature sig of signed_part (len bytes) under k. Any thread. */
static int
jwt_verify(const struct jwt_key *k, const uint8_t *signed_part, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	uint8_t mac[32], hash[32];
	mbedtls_mpi r, s;
	int rc;

	if (k->alg == JWT_HS256) {
		if (sig_len != sizeof mac || mbedtls_md_hmac(
		    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), k->secret,
		    k->secret_len, signed_part, len, mac) != 0)
			return -1;
		return mbedtls_ct_memcmp(mac, sig, sizeof mac) == 0 ? 0 : -1;
	}
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    signed_part, len, hash) != 0)
		return -1;
	if (k->alg == JWT_RS256)
		return mbedtls_pk_verify((mbedtls_pk_context *)&k->pk,
		    MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sig_len) == 0 ?
		    0 : -1;
	/* ES256: the signature is R || S, 32 bytes each (RFC 7518 3.4). */
	if (sig_len != 64)
		return -1;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	rc = mbedtls_mpi_read_binary(&r, sig, 32);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
	if (rc == 0)
		rc = mbedtls_ecdsa_verify(&mbedtls_pk_ec(k->pk)->grp, hash,
		    sizeof hash, &mbedtls_pk_ec(k->pk)->Q, &r, &s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return rc == 0 ? 0 : -1;
}

int
jwt_looks_like(const uint8_t *p, size_t len)
{
	size_t i, dots = 0;

	if (len < 5 || len > JWT_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '.')
			dots++;
		else if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' &&
		    p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '-' || p[i] == '_'))
			return 0;
	}
	return dots == 2;
}

int
jwt_claims_check(const uint8_t *tok, size_t len, time_t now, char *user,
    size_t user_cap, const char **why)
{
	static uint8_t part[JWT_MAX_LEN];
	const uint8_t *d1, *d2;
	char alg[16];
	double exp = 0, nbf = 0;
	long n;
	struct json_want hw[] = { { "alg", alg, sizeof alg, NULL, 0 } };
	struct json_want cw[] = {
		{ srv.cfg.jwt_username_claim, user, user_cap, NULL, 0 },
		{ "exp", NULL, 0, &exp, 0 },
		{ "nbf", NULL, 0, &nbf, 0 },
	};

	*why = "not a JWT";
	if (jwt == NULL || !jwt_looks_like(tok, len))
		return -1;
	d1 = memchr(tok, '.', len);
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	n = jwt_b64url(tok, (size_t)(d1 - tok), part, sizeof part);
	if (n < 0 || json_object((const char *)part, (size_t)n, hw, 1) != 0 ||
	    !hw[0].found) {
		*why = "unreadable JWT header";
		return -1;
	}
	if (strcmp(alg, jwt_alg_name(jwt->alg)) != 0) {
		*why = "JWT signed with another algorithm";
		return -1;
	}
	/* The signature must at least decode, to a length the algorithm
	 * can have: what cannot pass is refused here, not queued. */
	n = jwt_b64url(d2 + 1, len - (size_t)(d2 + 1 - tok), part,
	    JWT_MAX_SIG);
	if (n <= 0 || (jwt->alg == JWT_HS256 && n != 32) ||
	    (jwt->alg == JWT_ES256 && n != 64)) {
		*why = "bad JWT signature";
		return -1;
	}
	n = jwt_b64url(d1 + 1, (size_t)(d2 - d1 - 1), part, sizeof part);
	if (n < 0 || json_object((const char *)part, (size_t)n, cw, 3) != 0) {
		*why = "unreadable JWT claims";
		return -1;
	}
	if (!cw[1].found) {
		*why = "JWT without exp";
		return -1;
	}
	if ((double)now >= exp + srv.cfg.jwt_leeway) {
		*why = "expired JWT";
		return -1;
	}
	if (cw[2].found && (double)now + srv.cfg.jwt_leeway < nbf) {
		*why = "JWT not valid yet (nbf)";
		return -1;
	}
	if (!cw[0].found || user[0] == '\0') {
		*why = "JWT without the user name claim";
		return -1;
	}
	return 0;
}

int
jwt_signature_ok(const struct jwt_key *k, const uint8_t *tok, size_t len)
{
	uint8_t sig[JWT_MAX_SIG];
	const uint8_t *d2;
	long n;

	if (k == NULL || !jwt_looks_like(tok, len))
		return 0;
	d2 = tok + len;
	while (d2[-1] != '.')
		d2--;
	d2--;
	n = jwt_b64url(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, sizeof sig);
	return n > 0 && jwt_verify(k, tok, (size_t)(d2 - tok), sig,
	    (size_t)n) == 0;
}

int
jwt_check(const uint8_t *tok, size_t len, time_t now, char *user,
    size_t user_cap, const char **why)
{
	if (jwt_claims_check(tok, len, now, user, user_cap, why) != 0)
		return -1;
	if (!jwt_signature_ok(jwt, tok, len)) {
		*why = "bad JWT signature";
		return -1;
	}
	return 0;
}
