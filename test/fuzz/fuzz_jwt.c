/*
 * fuzz_jwt.c - libFuzzer target for the JWT login check (broker/jwt.c).
 *
 * The token arrives as the MQTT password, before anyone is known: its
 * header and claims are parsed before the signature is checked (on the
 * loop; the signature after them, on the worker for RS256 and ES256).
 * The input is taken twice: as a whole token (header and claims parsing,
 * base64url, refusals), and, when it holds exactly one '.', as
 * "header.claims" that this target signs with the node's HS256 secret,
 * so that a success is reached too. Either way jwt_check
 * must return, and a success must give a non-empty user name.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "broker.h"

struct server srv;

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char secret[] = "fuzzing-secret-of-thirty-two-bytes-at-least";

static void
fuzz_init(void)
{
	static int done;
	char path[] = "/tmp/tern-fuzz-jwt-XXXXXX", err[256];
	int fd;

	if (done)
		return;
	done = 1;
	fd = mkstemp(path);
	if (fd < 0 || write(fd, secret, sizeof secret - 1) !=
	    (ssize_t)(sizeof secret - 1))
		abort();
	close(fd);
	srv.cfg.jwt_key_file = path;
	srv.cfg.jwt_alg = (uint32_t)jwt_alg_parse("HS256");
	srv.cfg.jwt_username_claim = (char *)"sub";
	srv.cfg.jwt_leeway = 30;
	if (jwt_open(err, sizeof err) != 0)
		abort();
	unlink(path);
	srv.cfg.jwt_key_file = NULL;
}

static void
fuzz_check(const uint8_t *tok, size_t len)
{
	char user[256];
	const char *why;

	if (jwt_check(tok, len, 1700000000, user, sizeof user, &why) == 0 &&
	    user[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mac[32], b64[64], *tok;
	size_t n, i, dots = 0;

	fuzz_init();
	fuzz_check(data, size);
	for (i = 0; i < size; i++)
		dots += data[i] == '.';
	if (dots != 1 || size > 8192)
		return 0;
	if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    (const uint8_t *)secret, sizeof secret - 1, data, size, mac) != 0 ||
	    mbedtls_base64_encode(b64, sizeof b64, &n, mac, sizeof mac) != 0)
		abort();
	while (n > 0 && b64[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	tok = malloc(size + 1 + n);
	if (tok == NULL)
		abort();
	memcpy(tok, data, size);
	tok[size] = '.';
	memcpy(tok + size + 1, b64, n);
	fuzz_check(tok, size + 1 + n);
	free(tok);
	return 0;
}
