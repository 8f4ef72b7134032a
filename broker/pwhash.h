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
 *
 * A second form holds SCRAM-SHA-256 credentials (RFC 5802, RFC 7677), so
 * that the user can log in with the SCRAM-SHA-256 Authentication Method
 * of MQTT 5 as well as with a plain password:
 *
 *	$scram-sha-256$<iterations>$<salt>$<StoredKey>$<ServerKey>
 *
 * with SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations),
 * ClientKey = HMAC-SHA256(SaltedPassword, "Client Key"), StoredKey =
 * SHA-256(ClientKey) and ServerKey = HMAC-SHA256(SaltedPassword, "Server
 * Key"), both 32 bytes in base64. The iteration count has the same bounds
 * as above; ternctl's default for this form is 4096, RFC 7677's minimum,
 * because the client pays it on every SCRAM login. The salt has the same
 * bounds as above (16 bytes when made here). A plain password is checked
 * against this form by deriving StoredKey and comparing it in constant
 * time.
 */
#ifndef TERN_PWHASH_H
#define TERN_PWHASH_H

#include <stddef.h>
#include <stdint.h>

#define PWHASH_PREFIX "$pbkdf2-sha512$"
#define PWHASH_SCRAM_PREFIX "$scram-sha-256$"
#define PWHASH_SCRAM_ITER_DEFAULT 4096
#define PWHASH_SCRAM_KEY_LEN 32 /* StoredKey, ServerKey, SHA-256 */
#define PWHASH_ITER_DEFAULT 100000
#define PWHASH_ITER_MIN 1000
#define PWHASH_ITER_MAX 10000000
#define PWHASH_SALT_LEN 16
#define PWHASH_SALT_MIN 8
#define PWHASH_SALT_MAX 64
#define PWHASH_LEN 64
/* Longest string pwhash_make() writes, with its NUL. */
#define PWHASH_STR_MAX 256

enum pwhash_kind {
	PWHASH_PBKDF2_SHA512,
	PWHASH_SCRAM_SHA256
};

struct pwhash {
	enum pwhash_kind kind;
	unsigned iterations;
	size_t salt_len;
	uint8_t salt[PWHASH_SALT_MAX];
	uint8_t hash[PWHASH_LEN]; /* PWHASH_PBKDF2_SHA512 */
	uint8_t stored_key[PWHASH_SCRAM_KEY_LEN]; /* PWHASH_SCRAM_SHA256 */
	uint8_t server_key[PWHASH_SCRAM_KEY_LEN];
};

/*
 * Hash pw (pwlen bytes) with a fresh random salt and the given iteration
 * count, writing the string form into out (outlen bytes, at least
 * PWHASH_STR_MAX). Returns 0, or -1 when no random bytes or no hash could
 * be had.
 */
int pwhash_make(const uint8_t *pw, size_t pwlen, unsigned iterations,
    char *out, size_t outlen);
/* The same in the "$scram-sha-256$" form. */
int pwhash_make_scram(const uint8_t *pw, size_t pwlen, unsigned iterations,
    char *out, size_t outlen);
/*
 * Parse the string form s (len bytes, not NUL-terminated) into h. Returns
 * 0, or -1 with *why set to a static message naming what is wrong.
 */
int pwhash_parse(const char *s, size_t len, struct pwhash *h,
    const char **why);
/* 1 when pw derives h's hash (compared in constant time), else 0. Costs
 * h->iterations rounds of HMAC-SHA512 (HMAC-SHA256 for the SCRAM form). */
int pwhash_verify(const struct pwhash *h, const uint8_t *pw, size_t pwlen);

/* Building blocks of SCRAM-SHA-256, shared with the broker's exchange.
 * Each returns 0, or -1 when mbedTLS fails. */
int pwhash_hmac256(const uint8_t *key, size_t keylen, const uint8_t *data,
    size_t len, uint8_t out[32]);
int pwhash_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
/* StoredKey and ServerKey of pw with salt and iterations. */
int pwhash_scram_keys(const uint8_t *pw, size_t pwlen, const uint8_t *salt,
    size_t salt_len, unsigned iterations,
    uint8_t stored_key[PWHASH_SCRAM_KEY_LEN],
    uint8_t server_key[PWHASH_SCRAM_KEY_LEN]);
/* len bytes from getrandom(2). Returns 0 or -1. */
int pwhash_random(uint8_t *buf, size_t len);

#endif /* TERN_PWHASH_H */
