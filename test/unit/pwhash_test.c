/*
 * pwhash_test.c - the password hash format (broker/pwhash.h): made hashes
 * parse and verify, a wrong password does not, a known vector derived
 * elsewhere verifies, and every malformed field is refused; the same for
 * the SCRAM-SHA-256 form, checked against the exchange of RFC 7677
 * section 3.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "pwhash.h"
#include "tap.h"

/*
 * PBKDF2-HMAC-SHA512, password "password", salt "saltsaltsaltsalt", 1000
 * iterations, from Python's hashlib.pbkdf2_hmac: a check against an
 * implementation other than mbedTLS.
 */
#define VECTOR "$pbkdf2-sha512$1000$c2FsdHNhbHRzYWx0c2FsdA==$" \
    "715rqIr5dXOVPpBhqqsugl037zT5bWJTWYmZtIcK8hBnisKpwfY7kokvwjDrNHqHhF" \
    "50Pb7MD6HvkJwiDQw4ww=="

static void
test_make_verify(void)
{
	char s[PWHASH_STR_MAX], s2[PWHASH_STR_MAX];
	struct pwhash h;
	const char *why = NULL;

	ok(pwhash_make((const uint8_t *)"secret", 6, 1000, s, sizeof s) == 0,
	    "make a hash");
	ok(strncmp(s, "$pbkdf2-sha512$1000$", 20) == 0, "prefix and count: %s",
	    s);
	ok(pwhash_parse(s, strlen(s), &h, &why) == 0, "made hash parses");
	is_int(h.iterations, 1000, "iterations");
	is_int(h.salt_len, PWHASH_SALT_LEN, "16-byte salt");
	ok(pwhash_verify(&h, (const uint8_t *)"secret", 6), "right password");
	ok(!pwhash_verify(&h, (const uint8_t *)"secreT", 6), "wrong password");
	ok(!pwhash_verify(&h, (const uint8_t *)"secret", 5), "prefix of it");
	ok(!pwhash_verify(&h, (const uint8_t *)"", 0), "empty password");
	ok(pwhash_make((const uint8_t *)"secret", 6, 1000, s2, sizeof s2) ==
	    0 && strcmp(s, s2) != 0, "same password, new salt, new string");
	ok(pwhash_make((const uint8_t *)"x", 1, 999, s2, sizeof s2) == -1,
	    "iterations below the minimum refused");
	ok(pwhash_make((const uint8_t *)"x", 1, 1000, s2, 100) == -1,
	    "short output buffer refused");
}

/* RFC 7677 section 3: user "user", password "pencil". */
#define SCRAM_VECTOR "$scram-sha-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$" \
    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=$" \
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define SCRAM_NONCE "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SCRAM_AUTH_MESSAGE "n=user,r=rOprNGfwEbeRWgbNEkqO,r=" SCRAM_NONCE \
    ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=" SCRAM_NONCE
#define SCRAM_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SCRAM_SERVER_SIG "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void
test_scram(void)
{
	char s[PWHASH_STR_MAX];
	struct pwhash h;
	const char *why = NULL;
	uint8_t stored[32], server[32], sig[32], proof[32], key[32];
	char sig64[64];
	size_t n;
	int i;

	ok(pwhash_make_scram((const uint8_t *)"secret", 6, 4096, s,
	    sizeof s) == 0, "make SCRAM credentials");
	ok(strncmp(s, "$scram-sha-256$4096$", 20) == 0, "SCRAM prefix: %s", s);
	ok(pwhash_parse(s, strlen(s), &h, &why) == 0 &&
	    h.kind == PWHASH_SCRAM_SHA256, "made SCRAM credentials parse");
	ok(pwhash_verify(&h, (const uint8_t *)"secret", 6),
	    "SCRAM: right plain password");
	ok(!pwhash_verify(&h, (const uint8_t *)"secreT", 6),
	    "SCRAM: wrong plain password");

	ok(pwhash_parse(SCRAM_VECTOR, strlen(SCRAM_VECTOR), &h, &why) == 0,
	    "RFC 7677 credentials parse");
	is_int(h.iterations, 4096, "RFC 7677 iterations");
	ok(pwhash_verify(&h, (const uint8_t *)"pencil", 6),
	    "RFC 7677 password verifies");
	ok(pwhash_scram_keys((const uint8_t *)"pencil", 6, h.salt, h.salt_len,
	    4096, stored, server) == 0 &&
	    memcmp(stored, h.stored_key, 32) == 0 &&
	    memcmp(server, h.server_key, 32) == 0, "RFC 7677 keys derive");
	/* The client's proof of RFC 7677 checks out against StoredKey, and
	 * ServerKey signs as the RFC's server does. */
	ok(mbedtls_base64_decode(proof, sizeof proof, &n,
	    (const unsigned char *)SCRAM_PROOF, strlen(SCRAM_PROOF)) == 0 &&
	    n == 32, "RFC 7677 proof decodes");
	pwhash_hmac256(h.stored_key, 32, (const uint8_t *)SCRAM_AUTH_MESSAGE,
	    strlen(SCRAM_AUTH_MESSAGE), sig);
	for (i = 0; i < 32; i++)
		key[i] = proof[i] ^ sig[i];
	pwhash_sha256(key, 32, sig);
	ok(memcmp(sig, h.stored_key, 32) == 0, "RFC 7677 proof verifies");
	pwhash_hmac256(h.server_key, 32, (const uint8_t *)SCRAM_AUTH_MESSAGE,
	    strlen(SCRAM_AUTH_MESSAGE), sig);
	mbedtls_base64_encode((unsigned char *)sig64, sizeof sig64, &n, sig,
	    32);
	ok(strcmp(sig64, SCRAM_SERVER_SIG) == 0, "RFC 7677 server signature: %s",
	    sig64);

	why = NULL;
	ok(pwhash_parse("$scram-sha-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", 89, &h, &why) ==
	    -1 && why != NULL && strcmp(why, "bad StoredKey") == 0,
	    "SCRAM without ServerKey refused");
	why = NULL;
	ok(pwhash_parse(SCRAM_VECTOR "$", strlen(SCRAM_VECTOR) + 1, &h,
	    &why) == -1 && why != NULL && strcmp(why, "bad ServerKey") == 0,
	    "SCRAM with a trailing field refused");
}

static void
test_vector(void)
{
	struct pwhash h;
	const char *why = NULL;

	ok(pwhash_parse(VECTOR, strlen(VECTOR), &h, &why) == 0,
	    "known vector parses");
	ok(pwhash_verify(&h, (const uint8_t *)"password", 8),
	    "known vector verifies (hashlib agrees with mbedTLS)");
	ok(!pwhash_verify(&h, (const uint8_t *)"passwore", 8),
	    "known vector, wrong password");
}

#define PREFIX_WHY \
    "hash does not start with $pbkdf2-sha512$ or $scram-sha-256$"

static void
bad(const char *s, const char *want)
{
	struct pwhash h;
	const char *why = "";

	ok(pwhash_parse(s, strlen(s), &h, &why) == -1 &&
	    strcmp(why, want) == 0, "refused (%s): %s", want, s);
	if (strcmp(why, want) != 0)
		diag("got '%s'", why);
}

static void
test_bad(void)
{
	const char *salt = "c2FsdHNhbHRzYWx0c2FsdA==";
	const char *hash = "715rqIr5dXOVPpBhqqsugl037zT5bWJTWYmZtIcK8hBnis"
	    "KpwfY7kokvwjDrNHqHhF50Pb7MD6HvkJwiDQw4ww==";
	char s[512];

	bad("", PREFIX_WHY);
	bad("$7$101$abc$def", PREFIX_WHY);
	bad("$pbkdf2-sha256$1000$a$b",
	    PREFIX_WHY);
	bad("$pbkdf2-sha512$", "no iteration count");
	bad("$pbkdf2-sha512$$x$y", "no iteration count");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1e3$%s$%s", salt, hash);
	bad(s, "bad iteration count");
	snprintf(s, sizeof s, "$pbkdf2-sha512$999$%s$%s", salt, hash);
	bad(s, "iteration count out of range");
	snprintf(s, sizeof s, "$pbkdf2-sha512$10000001$%s$%s", salt, hash);
	bad(s, "iteration count out of range");
	snprintf(s, sizeof s, "$pbkdf2-sha512$99999999999999999999$%s$%s",
	    salt, hash);
	bad(s, "bad iteration count");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$%s", salt);
	bad(s, "no hash after the salt");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$$%s", hash);
	bad(s, "bad salt");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$c2FsdA==$%s", hash);
	bad(s, "bad salt"); /* 4 bytes: under the 8-byte minimum */
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$c2Fs dHNh$%s", hash);
	bad(s, "bad salt");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$%s$", salt);
	bad(s, "bad hash");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$%s$%s$", salt, hash);
	bad(s, "bad hash");
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$%s$%.40s", salt, hash);
	bad(s, "bad hash"); /* truncated: not 64 bytes */
	snprintf(s, sizeof s, "$pbkdf2-sha512$1000$%s$%s ", salt, hash);
	bad(s, "bad hash");
}

int
main(void)
{
	test_make_verify();
	test_vector();
	test_bad();
	test_scram();
	return tap_done();
}
