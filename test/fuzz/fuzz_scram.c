/*
 * fuzz_scram.c - libFuzzer target for the server side of SCRAM-SHA-256
 * (broker/scram.c): the enhanced authentication a client runs over AUTH
 * before anyone knows who it is.
 *
 * Input: the client-first-message, a NUL byte, the client-final-message
 * (without a NUL, the client-first alone). A message holding a NUL is
 * refused as a whole, so the separator hides no case: the final may still
 * hold one. Each runs through scram_step() as auth.c runs it, against a
 * fixed password file read by passwd.c: "user" and "a,b=c" (to reach the
 * =2C and =3D escapes) have SCRAM credentials for "pencil" with the salt
 * and iteration count of RFC 7677's example, "plain" has only a PBKDF2
 * hash.
 *
 * The server nonce is random, so the client-final may hold two markers
 * that this target fills in from the server-first it got: "$N" becomes
 * the exchange's nonce, and a final ",p=$P" the proof of "pencil" over
 * the exchange's AuthMessage (RFC 5802 section 3). A seed with both is a
 * valid login, and the fuzzer starts past the nonce and proof checks.
 *
 * Invariants (any violation aborts): the first step continues with a
 * server-first of the form "r=<client nonce><more>,s=<salt>,i=<count>",
 * or refuses with 0x80; the second succeeds or refuses with 0x80 or 0x86.
 * A success names a user with SCRAM credentials, and its proof is the one
 * computed here from the password (no one logs in without it), and its
 * server-final is "v=" and the ServerSignature of the same AuthMessage.
 * A step after a success is a protocol error. The other way round, the
 * plainest correct login ("n,,n=user,r=<nonce>", then
 * "c=biws,r=$N,p=$P") must succeed.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "broker.h"
#include "pwhash.h"

/* What the objects taken from libbroker.a refer to, without server.c. */
struct server srv;

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

#define KEY PWHASH_SCRAM_KEY_LEN
#define ITERATIONS 4096
#define WIRE_MAX 65535 /* Authentication Data is MQTT binary data */

static const char password[] = "pencil";
static const char salt64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";

static struct passwd_file *pwfile;
static uint8_t client_key[KEY], stored_key[KEY], server_key[KEY];

/* conn.c's (conn.c itself is not linked). */
const struct conn_aux conn_aux_none;

struct conn_aux *
conn_aux(struct conn *c)
{
	if (c->aux == &conn_aux_none)
		c->aux = xcalloc(1, sizeof *c->aux);
	return c->aux;
}

const char *
conn_peer(const struct conn *c)
{
	return "fuzz:1";
}

/* auth.c's, over this target's file (auth.c itself is not linked). */
int
auth_scram_lookup(const char *user, size_t ulen, struct pwhash *out)
{
	return passwd_scram(pwfile, user, ulen, out);
}

static void
fuzz_init(void)
{
	static int done;
	mbedtls_md_context_t md;
	uint8_t salt[32], salted[KEY], check[KEY];
	char stored64[64], server64[64], plain[PWHASH_STR_MAX], path[64];
	char err[256], *file;
	size_t salt_len, n;
	int fd, len;

	if (done)
		return;
	done = 1;
	/* Refusals are logged at notice: formatted, then thrown away. */
	FUZZ_CHECK(log_open("/dev/null") == 0);

	/* SaltedPassword, ClientKey (for the proofs), the keys. */
	FUZZ_CHECK(mbedtls_base64_decode(salt, sizeof salt, &salt_len,
	    (const unsigned char *)salt64, strlen(salt64)) == 0);
	mbedtls_md_init(&md);
	FUZZ_CHECK(mbedtls_md_setup(&md,
	    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) == 0);
	FUZZ_CHECK(mbedtls_pkcs5_pbkdf2_hmac(&md,
	    (const unsigned char *)password, strlen(password), salt, salt_len,
	    ITERATIONS, KEY, salted) == 0);
	mbedtls_md_free(&md);
	FUZZ_CHECK(pwhash_hmac256(salted, KEY, (const uint8_t *)"Client Key",
	    10, client_key) == 0);
	FUZZ_CHECK(pwhash_scram_keys((const uint8_t *)password,
	    strlen(password), salt, salt_len, ITERATIONS, stored_key,
	    server_key) == 0);
	FUZZ_CHECK(pwhash_sha256(client_key, KEY, check) == 0 &&
	    memcmp(check, stored_key, KEY) == 0);
	FUZZ_CHECK(mbedtls_base64_encode((unsigned char *)stored64,
	    sizeof stored64, &n, stored_key, KEY) == 0);
	FUZZ_CHECK(mbedtls_base64_encode((unsigned char *)server64,
	    sizeof server64, &n, server_key, KEY) == 0);
	FUZZ_CHECK(pwhash_make((const uint8_t *)password, strlen(password),
	    PWHASH_ITER_MIN, plain, sizeof plain) == 0);

	/* The password file, through a memfd as fuzz_config.c does. */
	len = asprintf(&file, "user:%s%u$%s$%s$%s\n"
	    "a,b=c:%s%u$%s$%s$%s\n"
	    "plain:%s\n", PWHASH_SCRAM_PREFIX, ITERATIONS, salt64, stored64,
	    server64, PWHASH_SCRAM_PREFIX, ITERATIONS, salt64, stored64,
	    server64, plain);
	FUZZ_CHECK(len > 0);
	fd = memfd_create("fuzz-passwd", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && write(fd, file, (size_t)len) == len);
	free(file);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	pwfile = passwd_load(path, err, sizeof err);
	if (pwfile == NULL)
		fprintf(stderr, "%s\n", err);
	FUZZ_CHECK(pwfile != NULL && passwd_count(pwfile) == 3);
	close(fd);
}

/* The value of attribute name in the comma-separated message m, or NULL
 * (at most the first max bytes are searched). */
static const char *
fuzz_attr(const char *m, size_t len, const char *name, size_t *vlen)
{
	const char *p = m, *end = m + len, *comma;
	size_t nl = strlen(name);

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if ((size_t)(comma - p) >= nl && memcmp(p, name, nl) == 0) {
			*vlen = (size_t)(comma - p) - nl;
			return p + nl;
		}
		p = comma + 1;
	}
	return NULL;
}

/* The server-first answers the client-first: its nonce extends the
 * client's, then a salt and an iteration count, nothing else. */
static void
fuzz_check_server_first(const char *bare, size_t bare_len,
    const struct mqtt_str *out)
{
	const char *sf = (const char *)out->p, *cn, *r, *s, *i;
	size_t cn_len, r_len, s_len, i_len, k;

	FUZZ_CHECK(out->len > 0 && memchr(sf, '\0', out->len) == NULL);
	cn = fuzz_attr(bare, bare_len, "r=", &cn_len);
	r = fuzz_attr(sf, out->len, "r=", &r_len);
	s = fuzz_attr(sf, out->len, "s=", &s_len);
	i = fuzz_attr(sf, out->len, "i=", &i_len);
	FUZZ_CHECK(cn != NULL && r == sf + 2 && s != NULL && i != NULL);
	FUZZ_CHECK(r_len > cn_len && memcmp(r, cn, cn_len) == 0);
	FUZZ_CHECK(s_len > 0 && i_len > 0 && i + i_len == sf + out->len);
	for (k = 0; k < i_len; k++)
		FUZZ_CHECK(i[k] >= '0' && i[k] <= '9');
}

/* AuthMessage: client-first-bare "," server-first ","
 * client-final-without-proof; a new buffer. */
static uint8_t *
fuzz_auth_message(const char *bare, size_t bare_len,
    const struct mqtt_str *sf, const char *nowp, size_t nowp_len,
    size_t *len)
{
	uint8_t *m;

	*len = bare_len + 1 + sf->len + 1 + nowp_len;
	m = malloc(*len);
	FUZZ_CHECK(m != NULL);
	memcpy(m, bare, bare_len);
	m[bare_len] = ',';
	memcpy(m + bare_len + 1, sf->p, sf->len);
	m[bare_len + 1 + sf->len] = ',';
	memcpy(m + bare_len + 2 + sf->len, nowp, nowp_len);
	return m;
}

/* ClientProof of "pencil" for the AuthMessage, in base64 into out. */
static void
fuzz_proof(const uint8_t *am, size_t am_len, char out[64])
{
	uint8_t sig[KEY], proof[KEY];
	size_t n;
	int i;

	FUZZ_CHECK(pwhash_hmac256(stored_key, KEY, am, am_len, sig) == 0);
	for (i = 0; i < KEY; i++)
		proof[i] = client_key[i] ^ sig[i];
	FUZZ_CHECK(mbedtls_base64_encode((unsigned char *)out, 64, &n, proof,
	    KEY) == 0);
}

/* The client-final with "$N" and a final ",p=$P" filled in; a new
 * buffer of *len bytes. */
static char *
fuzz_final(const uint8_t *in, size_t in_len, const char *bare,
    size_t bare_len, const struct mqtt_str *sf, size_t *len)
{
	const char *nonce, *p = (const char *)in, *end = p + in_len;
	size_t nonce_len, cap, n = 0, am_len;
	char *out, proof[64];
	uint8_t *am;

	nonce = fuzz_attr((const char *)sf->p, sf->len, "r=", &nonce_len);
	cap = in_len + 64 + (in_len / 2 + 1) * nonce_len;
	out = malloc(cap);
	FUZZ_CHECK(out != NULL && nonce != NULL);
	while (p < end) {
		if (end - p >= 2 && p[0] == '$' && p[1] == 'N') {
			memcpy(out + n, nonce, nonce_len);
			n += nonce_len;
			p += 2;
		} else {
			out[n++] = *p++;
		}
	}
	if (n >= 5 && memcmp(out + n - 5, ",p=$P", 5) == 0) {
		am = fuzz_auth_message(bare, bare_len, sf, out, n - 5, &am_len);
		fuzz_proof(am, am_len, proof);
		free(am);
		n -= 2;
		memcpy(out + n, proof, strlen(proof));
		n += strlen(proof);
	}
	FUZZ_CHECK(n <= cap);
	*len = n;
	return out;
}

/* A success: the user has SCRAM credentials, the proof is the one of the
 * password, the server-final is the ServerSignature. */
static void
fuzz_check_success(const struct conn *c, const char *bare, size_t bare_len,
    const struct mqtt_str *sf, const char *fin, size_t fin_len,
    const struct mqtt_str *out)
{
	const char *p, *user = conn_ax(c)->auth_user;
	char proof[64], want[64];
	uint8_t *am, sig[KEY];
	size_t am_len, n;

	FUZZ_CHECK(user != NULL && (strcmp(user, "user") == 0 ||
	    strcmp(user, "a,b=c") == 0));
	FUZZ_CHECK(fin_len > 3);
	for (p = fin + fin_len - 3; p > fin && memcmp(p, ",p=", 3) != 0; p--)
		;
	FUZZ_CHECK(p > fin);
	am = fuzz_auth_message(bare, bare_len, sf, fin, (size_t)(p - fin),
	    &am_len);
	fuzz_proof(am, am_len, proof);
	FUZZ_CHECK(strlen(proof) == (size_t)(fin + fin_len - p - 3) &&
	    memcmp(p + 3, proof, strlen(proof)) == 0);
	FUZZ_CHECK(pwhash_hmac256(server_key, KEY, am, am_len, sig) == 0);
	free(am);
	memcpy(want, "v=", 2);
	FUZZ_CHECK(mbedtls_base64_encode((unsigned char *)want + 2,
	    sizeof want - 2, &n, sig, KEY) == 0);
	FUZZ_CHECK(out->len == 2 + n && memcmp(out->p, want, out->len) == 0);
}

/* 1 for the plainest correct login (see the design note). */
static int
fuzz_canonical(const struct mqtt_str *first, const uint8_t *final,
    size_t len)
{
	static const char head[] = "n,,n=user,r=", tail[] = "c=biws,r=$N,p=$P";
	size_t hl = sizeof head - 1, i;

	if (first->len <= hl || first->len > hl + 256 ||
	    memcmp(first->p, head, hl) != 0 || len != sizeof tail - 1 ||
	    memcmp(final, tail, len) != 0)
		return 0;
	for (i = hl; i < first->len; i++) {
		if (first->p[i] < 0x21 || first->p[i] > 0x7e ||
		    first->p[i] == ',')
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char after[] = "c=biws";
	const uint8_t *sep;
	struct conn c;
	struct mqtt_str first, final, out, sf;
	const char *bare = NULL, *comma;
	char *fin = NULL;
	size_t bare_len = 0, fin_len;
	void *state = NULL;
	int rc;

	fuzz_init();
	sep = memchr(data, '\0', size);
	first.p = data;
	first.len = (uint32_t)(sep != NULL ? (size_t)(sep - data) : size);
	if (first.len > WIRE_MAX || (sep != NULL &&
	    size - first.len - 1 > WIRE_MAX))
		return 0;
	memset(&c, 0, sizeof c);
	c.aux = AUX_NONE(struct conn_aux, conn_aux_none);

	rc = scram_step(&c, &state, first, &out);
	if (rc != MQTT_RC_CONTINUE_AUTH) {
		FUZZ_CHECK(rc == MQTT_RC_UNSPECIFIED);
		FUZZ_CHECK(sep == NULL || !fuzz_canonical(&first, sep + 1,
		    size - first.len - 1));
		goto done;
	}
	/* Accepted: gs2 header "x,[a=],", then client-first-bare. */
	comma = memchr(first.p, ',', first.len);
	FUZZ_CHECK(comma != NULL);
	comma = memchr(comma + 1, ',',
	    first.len - (size_t)(comma + 1 - (const char *)first.p));
	FUZZ_CHECK(comma != NULL);
	bare = comma + 1;
	bare_len = first.len - (size_t)(bare - (const char *)first.p);
	fuzz_check_server_first(bare, bare_len, &out);
	if (sep == NULL)
		goto done;
	sf = out;

	fin = fuzz_final(sep + 1, size - first.len - 1, bare, bare_len, &sf,
	    &fin_len);
	if (fin_len > WIRE_MAX)
		goto done;
	final.p = (const uint8_t *)fin;
	final.len = (uint32_t)fin_len;
	rc = scram_step(&c, &state, final, &out);
	FUZZ_CHECK(rc == MQTT_RC_SUCCESS || rc == MQTT_RC_UNSPECIFIED ||
	    rc == MQTT_RC_BAD_USER_OR_PASSWORD);
	FUZZ_CHECK(rc == MQTT_RC_SUCCESS || !fuzz_canonical(&first, sep + 1,
	    size - first.len - 1));
	if (rc != MQTT_RC_SUCCESS)
		goto done;
	fuzz_check_success(&c, bare, bare_len, &sf, fin, fin_len, &out);
	final.p = (const uint8_t *)after;
	final.len = sizeof after - 1;
	FUZZ_CHECK(scram_step(&c, &state, final, &out) ==
	    MQTT_RC_PROTOCOL_ERROR);
done:
	scram_free(state);
	if (c.aux != &conn_aux_none) {
		free(c.aux->auth_user);
		free(c.aux);
	}
	free(fin);
	return 0;
}
