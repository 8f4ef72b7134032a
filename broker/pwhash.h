/*
 * pwhash.h - the password hash format of password_file, shared by ternd
 * and ternctl (no broker headers, links mbedTLS only).
 *
 * A hash is one string:
 *
 *	$pbkdf2-sha512$<iterations>$<salt>$<hash>
 *
 * <iterations> is a decimal PBKDF2 iteration count from PWHASH_ITER_MIN
 * to PWHASH_ITER_MAX; <salt> (8 to 64 bytes, 16 when made here) and
 * <hash> (the 64-byte PBKDF2-HMAC-SHA512 output) are standard base64 with
 * padding (RFC 4648 section 4). The count travels with each hash so that
 * it can be raised later without invalidating older lines.
 */
#ifndef TERN_PWHASH_H
#define TERN_PWHASH_H

#include <stddef.h>
#include <stdint.h>

#define PWHASH_PREFIX "$pbkdf2-sha512$"
#define PWHASH_ITER_DEFAULT 100000
#define PWHASH_ITER_MIN 1000
#define PWHASH_ITER_MAX 10000000
#define PWHASH_SALT_LEN 16
#define PWHASH_SALT_MIN 8
#define PWHASH_SALT_MAX 64
#define PWHASH_LEN 64
/* Longest string pwhash_make() writes, with its NUL. */
#define PWHASH_STR_MAX 256

struct pwhash {
	unsigned iterations;
	size_t salt_len;
	uint8_t salt[PWHASH_SALT_MAX];
	uint8_t hash[PWHASH_LEN];
};

/*
 * Hash pw (pwlen bytes) with a fresh random salt and the given iteration
 * count, writing the string form into out (outlen bytes, at least
 * PWHASH_STR_MAX). Returns 0, or -1 when no random bytes or no hash could
 * be had.
 */
int pwhash_make(const uint8_t *pw, size_t pwlen, unsigned iterations,
    char *out, size_t outlen);
/*
 * Parse the string form s (len bytes, not NUL-terminated) into h. Returns
 * 0, or -1 with *why set to a static message naming what is wrong.
 */
int pwhash_parse(const char *s, size_t len, struct pwhash *h,
    const char **why);
/* 1 when pw derives h's hash (compared in constant time), else 0. Costs
 * h->iterations rounds of HMAC-SHA512. */
int pwhash_verify(const struct pwhash *h, const uint8_t *pw, size_t pwlen);

#endif /* TERN_PWHASH_H */
