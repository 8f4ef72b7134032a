/*
 * passwd.c - the password file: "user:hash" lines, hash as in pwhash.h
 * (either form; passwd_scram() hands the SCRAM credentials to scram.c).
 *
 * Design note. The file is read whole into a table (user name -> entry)
 * at start-up and on SIGHUP; a bad file is refused whole, so a reload
 * that fails keeps the previous table (auth.c). Blank lines and lines
 * starting with '#' are skipped; a user name holds no ':' and appears
 * once.
 *
 * Cost. A PBKDF2 check costs what its iteration count says (about 120 ms
 * at the default 100000); it runs on a worker thread (pwcheck.c), never
 * on the loop. To keep a reconnect storm from paying that per CONNECT,
 * an entry remembers a
 * proof of the last password that passed: HMAC-SHA256 of salt and
 * password under a key drawn at random when the process starts, which
 * never leaves memory. A later CONNECT of that user is answered from the
 * proof in about a microsecond, right or wrong (a password whose HMAC
 * differs from the proof of the right one is wrong). Only the first
 * CONNECT of each user after start-up or a reload pays the full price.
 * The proof is as strong as the process memory it lives in, which also
 * sees every password in clear as CONNECT packets arrive.
 *
 * An unknown user is answered at once, without dummy work: user names
 * are not secret here (they appear in topic names such as im/u/<user>),
 * and spending 120 ms of hashing on every guess at a name would hand out
 * a cheap way to keep the worker busy.
 */
#include "config.h"

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "broker.h"
#include "pwhash.h"

#define PROOF_LEN 32

struct passwd_entry {
	struct pwhash h;
	uint8_t has_proof;
	uint8_t proof[PROOF_LEN];
};

struct passwd_file {
	struct hash *users; /* user name -> struct passwd_entry */
};

static uint8_t proof_key[32];
static int proof_key_state; /* 0 not drawn, 1 ready, -1 unavailable */

static int
passwd_proof(const struct passwd_entry *e, const uint8_t *pw, size_t pwlen,
    uint8_t out[PROOF_LEN])
{
	mbedtls_md_context_t md;
	int rc;

	if (proof_key_state == 0) {
		proof_key_state = getrandom(proof_key, sizeof proof_key, 0) ==
		    (ssize_t)sizeof proof_key ? 1 : -1;
	}
	if (proof_key_state != 1)
		return -1;
	mbedtls_md_init(&md);
	rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    1);
	if (rc == 0)
		rc = mbedtls_md_hmac_starts(&md, proof_key, sizeof proof_key);
	if (rc == 0)
		rc = mbedtls_md_hmac_update(&md, e->h.salt, e->h.salt_len);
	if (rc == 0)
		rc = mbedtls_md_hmac_update(&md, pw, pwlen);
	if (rc == 0)
		rc = mbedtls_md_hmac_finish(&md, out);
	mbedtls_md_free(&md);
	return rc == 0 ? 0 : -1;
}

static void
passwd_free_entry(const void *key, size_t len, void *value, void *arg)
{
	struct passwd_entry *e = value;

	mbedtls_platform_zeroize(e, sizeof *e);
	free(e);
}

void
passwd_free(struct passwd_file *pf)
{
	if (pf == NULL)
		return;
	hash_foreach(pf->users, passwd_free_entry, NULL);
	hash_free(pf->users);
	free(pf);
}

size_t
passwd_count(const struct passwd_file *pf)
{
	return pf != NULL ? hash_count(pf->users) : 0;
}

/* Parse one line (no newline) into pf. Returns 0 or -1 with msg set. */
static int
passwd_line(struct passwd_file *pf, char *line, char *msg, size_t msglen)
{
	struct passwd_entry *e;
	const char *why;
	char *colon;
	size_t ulen;

	colon = strchr(line, ':');
	if (colon == NULL) {
		snprintf(msg, msglen, "expected user:hash");
		return -1;
	}
	ulen = (size_t)(colon - line);
	if (ulen == 0) {
		snprintf(msg, msglen, "empty user name");
		return -1;
	}
	if (hash_get(pf->users, line, ulen) != NULL) {
		snprintf(msg, msglen, "user '%.*s' given twice", (int)ulen,
		    line);
		return -1;
	}
	e = xcalloc(1, sizeof *e);
	if (pwhash_parse(colon + 1, strlen(colon + 1), &e->h, &why) != 0) {
		snprintf(msg, msglen, "user '%.*s': %s", (int)ulen, line, why);
		free(e);
		return -1;
	}
	hash_put(pf->users, line, ulen, e);
	return 0;
}

static int
passwd_file_line(void *arg, char *line, size_t len, char *msg,
    size_t msglen)
{
	if (len == 0 || line[0] == '#')
		return 0;
	if (strlen(line) != len) {
		snprintf(msg, msglen, "NUL byte in line");
		return -1;
	}
	return passwd_line(arg, line, msg, msglen);
}

struct passwd_file *
passwd_load(const char *path, char *err, size_t errlen)
{
	struct passwd_file *pf;

	pf = xcalloc(1, sizeof *pf);
	pf->users = hash_new();
	if (file_lines(path, 1, passwd_file_line, pf, err, errlen) != 0) {
		passwd_free(pf);
		return NULL;
	}
	return pf;
}

int
passwd_check(struct passwd_file *pf, const char *user, size_t ulen,
    const uint8_t *pw, size_t pwlen, struct pwhash *slow)
{
	struct passwd_entry *e;
	uint8_t proof[PROOF_LEN];
	int ok;

	e = pf != NULL ? hash_get(pf->users, user, ulen) : NULL;
	if (e == NULL)
		return PASSWD_NO_USER;
	if (!e->has_proof || passwd_proof(e, pw, pwlen, proof) != 0) {
		*slow = e->h;
		return PASSWD_SLOW;
	}
	ok = mbedtls_ct_memcmp(proof, e->proof, PROOF_LEN) == 0;
	mbedtls_platform_zeroize(proof, sizeof proof);
	return ok ? PASSWD_OK : PASSWD_BAD;
}

/* 1 when a and b are the same hash (field by field: a struct copy need
 * not copy padding). */
static int
passwd_same_hash(const struct pwhash *a, const struct pwhash *b)
{
	return a->kind == b->kind && a->iterations == b->iterations &&
	    a->salt_len == b->salt_len &&
	    memcmp(a->salt, b->salt, sizeof a->salt) == 0 &&
	    memcmp(a->hash, b->hash, sizeof a->hash) == 0 &&
	    memcmp(a->stored_key, b->stored_key, sizeof a->stored_key) == 0 &&
	    memcmp(a->server_key, b->server_key, sizeof a->server_key) == 0;
}

void
passwd_remember(struct passwd_file *pf, const char *user, size_t ulen,
    const struct pwhash *h, const uint8_t *pw, size_t pwlen)
{
	struct passwd_entry *e;
	uint8_t proof[PROOF_LEN];

	e = pf != NULL ? hash_get(pf->users, user, ulen) : NULL;
	if (e == NULL || !passwd_same_hash(&e->h, h) ||
	    passwd_proof(e, pw, pwlen, proof) != 0)
		return;
	memcpy(e->proof, proof, PROOF_LEN);
	e->has_proof = 1;
	mbedtls_platform_zeroize(proof, sizeof proof);
}

int
passwd_scram(struct passwd_file *pf, const char *user, size_t ulen,
    struct pwhash *out)
{
	struct passwd_entry *e;

	e = pf != NULL ? hash_get(pf->users, user, ulen) : NULL;
	if (e == NULL)
		return PASSWD_NO_USER;
	if (e->h.kind != PWHASH_SCRAM_SHA256)
		return PASSWD_BAD;
	*out = e->h;
	return PASSWD_OK;
}
