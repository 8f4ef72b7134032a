/*
 * pwhash_test.c - the password hash format (broker/pwhash.h): made hashes
 * parse and verify, a wrong password does not, a known vector derived
 * elsewhere verifies, and every malformed field is refused.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

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

	bad("", "hash does not start with $pbkdf2-sha512$");
	bad("$7$101$abc$def", "hash does not start with $pbkdf2-sha512$");
	bad("$pbkdf2-sha256$1000$a$b",
	    "hash does not start with $pbkdf2-sha512$");
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
	return tap_done();
}
