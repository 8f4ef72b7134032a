/*
 * pwhash.c - salted PBKDF2-HMAC-SHA512 password hashes (RFC 8018 section
 * 5.2) in the "$pbkdf2-sha512$" format described in pwhash.h, and the
 * SCRAM-SHA-256 credentials of the "$scram-sha-256$" format (RFC 5802
 * section 3, RFC 7677).
 *
 * Design note. The derivation is mbedTLS's mbedtls_pkcs5_pbkdf2_hmac()
 * over an HMAC-SHA512 md context; the 64-byte output is compared with
 * mbedtls_ct_memcmp() so that the time taken does not depend on how many
 * leading bytes of a guess are right. Salts come from getrandom(2), which
 * blocks only until the kernel pool is first initialised at boot.
 *
 * Cost: one iteration is four SHA-512 compressions, about 1.2 us on the
 * reference machine, so the default 100000 iterations take about 120 ms.
 * That is the price of an offline attack on a stolen file per guess and
 * per user; ternd pays it once per user and password (passwd.c keeps a
 * cheap proof of the last good password).
 */
#include "config.h"

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include "pwhash.h"

#define PWHASH_PREFIX_LEN (sizeof PWHASH_PREFIX - 1)
#define PWHASH_SCRAM_PREFIX_LEN (sizeof PWHASH_SCRAM_PREFIX - 1)

static int
pwhash_derive(const uint8_t *pw, size_t pwlen, const uint8_t *salt,
    size_t salt_len, unsigned iterations, uint8_t out[PWHASH_LEN])
{
	mbedtls_md_context_t md;
	int rc;

	mbedtls_md_init(&md);
	rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA512),
	    1);
	if (rc == 0)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pwlen, salt, salt_len,
		    iterations, PWHASH_LEN, out);
	mbedtls_md_free(&md);
	return rc == 0 ? 0 : -1;
}

int
pwhash_random(uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pwhash_hmac256(const uint8_t *key, size_t keylen, const uint8_t *data,
    size_t len, uint8_t out[32])
{
	return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    key, keylen, data, len, out) == 0 ? 0 : -1;
}

int
pwhash_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	return mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data,
	    len, out) == 0 ? 0 : -1;
}

int
pwhash_scram_keys(const uint8_t *pw, size_t pwlen, const uint8_t *salt,
    size_t salt_len, unsigned iterations,
    uint8_t stored_key[PWHASH_SCRAM_KEY_LEN],
    uint8_t server_key[PWHASH_SCRAM_KEY_LEN])
{
	mbedtls_md_context_t md;
	uint8_t salted[32], client_key[32];
	int rc;

	mbedtls_md_init(&md);
	rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    1);
	if (rc == 0)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pwlen, salt, salt_len,
		    iterations, sizeof salted, salted);
	mbedtls_md_free(&md);
	if (rc == 0)
		rc = pwhash_hmac256(salted, sizeof salted,
		    (const uint8_t *)"Client Key", 10, client_key);
	if (rc == 0)
		rc = pwhash_sha256(client_key, sizeof client_key, stored_key);
	if (rc == 0)
		rc = pwhash_hmac256(salted, sizeof salted,
		    (const uint8_t *)"Server Key", 10, server_key);
	mbedtls_platform_zeroize(salted, sizeof salted);
	mbedtls_platform_zeroize(client_key, sizeof client_key);
	return rc == 0 ? 0 : -1;
}

int
pwhash_make_scram(const uint8_t *pw, size_t pwlen, unsigned iterations,
    char *out, size_t outlen)
{
	uint8_t salt[PWHASH_SALT_LEN], stored[PWHASH_SCRAM_KEY_LEN];
	uint8_t server[PWHASH_SCRAM_KEY_LEN];
	char salt64[PWHASH_SALT_LEN * 2], stored64[PWHASH_SCRAM_KEY_LEN * 2];
	char server64[PWHASH_SCRAM_KEY_LEN * 2];
	size_t n;
	int rc = -1;

	if (iterations < PWHASH_ITER_MIN || iterations > PWHASH_ITER_MAX ||
	    outlen < PWHASH_STR_MAX)
		return -1;
	if (pwhash_random(salt, sizeof salt) != 0)
		goto out;
	if (pwhash_scram_keys(pw, pwlen, salt, sizeof salt, iterations,
	    stored, server) != 0)
		goto out;
	if (mbedtls_base64_encode((unsigned char *)salt64, sizeof salt64, &n,
	    salt, sizeof salt) != 0 ||
	    mbedtls_base64_encode((unsigned char *)stored64, sizeof stored64,
	    &n, stored, sizeof stored) != 0 ||
	    mbedtls_base64_encode((unsigned char *)server64, sizeof server64,
	    &n, server, sizeof server) != 0)
		goto out;
	snprintf(out, outlen, "%s%u$%s$%s$%s", PWHASH_SCRAM_PREFIX,
	    iterations, salt64, stored64, server64);
	rc = 0;
out:
	mbedtls_platform_zeroize(stored, sizeof stored);
	mbedtls_platform_zeroize(server, sizeof server);
	return rc;
}

int
pwhash_make(const uint8_t *pw, size_t pwlen, unsigned iterations,
    char *out, size_t outlen)
{
	uint8_t salt[PWHASH_SALT_LEN], hash[PWHASH_LEN];
	char salt64[PWHASH_SALT_LEN * 2], hash64[PWHASH_LEN * 2];
	size_t n;
	int rc = -1;

	if (iterations < PWHASH_ITER_MIN || iterations > PWHASH_ITER_MAX ||
	    outlen < PWHASH_STR_MAX)
		return -1;
	if (pwhash_random(salt, sizeof salt) != 0)
		goto out;
	if (pwhash_derive(pw, pwlen, salt, sizeof salt, iterations, hash) != 0)
		goto out;
	if (mbedtls_base64_encode((unsigned char *)salt64, sizeof salt64, &n,
	    salt, sizeof salt) != 0)
		goto out;
	if (mbedtls_base64_encode((unsigned char *)hash64, sizeof hash64, &n,
	    hash, sizeof hash) != 0)
		goto out;
	snprintf(out, outlen, "%s%u$%s$%s", PWHASH_PREFIX, iterations, salt64,
	    hash64);
	rc = 0;
out:
	mbedtls_platform_zeroize(hash, sizeof hash);
	return rc;
}

/* Decode one base64 field of s[0..len) into out (at most max bytes). */
static int
pwhash_b64(const char *s, size_t len, uint8_t *out, size_t max, size_t *n)
{
	size_t i;

	/* mbedTLS skips line breaks and spaces; a hash has none. */
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '+' || s[i] == '/' || s[i] == '='))
			return -1;
	}
	if (len == 0 || mbedtls_base64_decode(out, max, n,
	    (const unsigned char *)s, len) != 0)
		return -1;
	return 0;
}

int
pwhash_parse(const char *s, size_t len, struct pwhash *h, const char **why)
{
	const char *p, *end = s + len, *d1, *d2, *d3;
	unsigned long iter = 0;
	size_t n;

	memset(h, 0, sizeof *h);
	if (len >= PWHASH_PREFIX_LEN &&
	    memcmp(s, PWHASH_PREFIX, PWHASH_PREFIX_LEN) == 0) {
		h->kind = PWHASH_PBKDF2_SHA512;
		p = s + PWHASH_PREFIX_LEN;
	} else if (len >= PWHASH_SCRAM_PREFIX_LEN &&
	    memcmp(s, PWHASH_SCRAM_PREFIX, PWHASH_SCRAM_PREFIX_LEN) == 0) {
		h->kind = PWHASH_SCRAM_SHA256;
		p = s + PWHASH_SCRAM_PREFIX_LEN;
	} else {
		*why = "hash does not start with " PWHASH_PREFIX " or "
		    PWHASH_SCRAM_PREFIX;
		return -1;
	}
	d1 = memchr(p, '$', (size_t)(end - p));
	if (d1 == NULL || d1 == p) {
		*why = "no iteration count";
		return -1;
	}
	for (; p < d1; p++) {
		if (*p < '0' || *p > '9' || iter > PWHASH_ITER_MAX) {
			*why = "bad iteration count";
			return -1;
		}
		iter = iter * 10 + (unsigned long)(*p - '0');
	}
	if (iter < PWHASH_ITER_MIN || iter > PWHASH_ITER_MAX) {
		*why = "iteration count out of range";
		return -1;
	}
	h->iterations = (unsigned)iter;
	p = d1 + 1;
	d2 = memchr(p, '$', (size_t)(end - p));
	if (d2 == NULL) {
		*why = "no hash after the salt";
		return -1;
	}
	if (pwhash_b64(p, (size_t)(d2 - p), h->salt, sizeof h->salt,
	    &h->salt_len) != 0 || h->salt_len < PWHASH_SALT_MIN) {
		*why = "bad salt";
		return -1;
	}
	p = d2 + 1;
	if (h->kind == PWHASH_SCRAM_SHA256) {
		d3 = memchr(p, '$', (size_t)(end - p));
		if (d3 == NULL || pwhash_b64(p, (size_t)(d3 - p),
		    h->stored_key, sizeof h->stored_key, &n) != 0 ||
		    n != PWHASH_SCRAM_KEY_LEN) {
			*why = "bad StoredKey";
			return -1;
		}
		p = d3 + 1;
		if (memchr(p, '$', (size_t)(end - p)) != NULL ||
		    pwhash_b64(p, (size_t)(end - p), h->server_key,
		    sizeof h->server_key, &n) != 0 ||
		    n != PWHASH_SCRAM_KEY_LEN) {
			*why = "bad ServerKey";
			return -1;
		}
		return 0;
	}
	if (memchr(p, '$', (size_t)(end - p)) != NULL ||
	    pwhash_b64(p, (size_t)(end - p), h->hash, sizeof h->hash,
	    &n) != 0 || n != PWHASH_LEN) {
		*why = "bad hash";
		return -1;
	}
	return 0;
}

int
pwhash_verify(const struct pwhash *h, const uint8_t *pw, size_t pwlen)
{
	uint8_t out[PWHASH_LEN], server[PWHASH_SCRAM_KEY_LEN];
	int same;

	if (h->kind == PWHASH_SCRAM_SHA256) {
		if (pwhash_scram_keys(pw, pwlen, h->salt, h->salt_len,
		    h->iterations, out, server) != 0)
			return 0;
		same = mbedtls_ct_memcmp(out, h->stored_key,
		    PWHASH_SCRAM_KEY_LEN) == 0;
		mbedtls_platform_zeroize(out, sizeof out);
		mbedtls_platform_zeroize(server, sizeof server);
		return same;
	}
	if (pwhash_derive(pw, pwlen, h->salt, h->salt_len, h->iterations,
	    out) != 0)
		return 0;
	same = mbedtls_ct_memcmp(out, h->hash, PWHASH_LEN) == 0;
	mbedtls_platform_zeroize(out, sizeof out);
	return same;
}
