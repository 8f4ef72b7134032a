/*
 * fuzz_ws.c - libFuzzer target for the WebSocket layer (broker/ws.c):
 * the Upgrade request parser and the client frame decoder, the two parts
 * that read bytes from anyone before MQTT starts.
 *
 * Input: the first byte picks the part. Even: the rest is an Upgrade
 * request for ws_handshake(), which must answer 101, 400 or 404 with a
 * complete HTTP response head. Odd: the rest is a stream of client
 * frames, decoded with a 1000-byte frame limit twice: all at once, and
 * fed in pieces of the size the second byte gives (1 to 64), as a socket
 * may deliver it. Both runs must give the same MQTT bytes, the same
 * control frames in the same places, and the same error; an error must
 * be one of the close codes the decoder uses.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

static void
fuzz_handshake(const uint8_t *data, size_t size)
{
	char resp[512];
	int status;

	if (size > WS_REQUEST_MAX)
		size = WS_REQUEST_MAX;
	status = ws_handshake((const char *)data, size, "/mqtt", resp,
	    sizeof resp);
	FUZZ_CHECK(status == 101 || status == 400 || status == 404);
	FUZZ_CHECK(strncmp(resp, "HTTP/1.1 ", 9) == 0);
	FUZZ_CHECK(atoi(resp + 9) == status);
	FUZZ_CHECK(strstr(resp, "\r\n\r\n") != NULL);
	if (status == 101)
		FUZZ_CHECK(strstr(resp, "Sec-WebSocket-Accept: ") != NULL);
}

/* Decode data fed in pieces of chunk bytes into out (data, and each
 * control frame as 0xff, its opcode, its length and payload). Returns the
 * close code of an error, or 0. */
static uint16_t
fuzz_decode(const uint8_t *data, size_t size, size_t chunk,
    struct evbuffer *out)
{
	struct ws_decoder d;
	struct ws_control ctl;
	struct evbuffer *src = evbuffer_new();
	size_t off = 0, n;
	int rc = 0;
	uint8_t mark[3];

	FUZZ_CHECK(src != NULL);
	memset(&d, 0, sizeof d);
	d.max_frame = 1000;
	while (off < size && rc >= 0) {
		n = size - off < chunk ? size - off : chunk;
		evbuffer_add(src, data + off, n);
		off += n;
		while ((rc = ws_decode(&d, src, out, &ctl)) == 1) {
			FUZZ_CHECK(ctl.opcode == WS_OP_CLOSE ||
			    ctl.opcode == WS_OP_PING ||
			    ctl.opcode == WS_OP_PONG);
			FUZZ_CHECK(ctl.len <= 125);
			mark[0] = 0xff;
			mark[1] = ctl.opcode;
			mark[2] = ctl.len;
			evbuffer_add(out, mark, 3);
			evbuffer_add(out, ctl.data, ctl.len);
		}
	}
	evbuffer_free(src);
	if (rc < 0) {
		FUZZ_CHECK(d.error == 1002 || d.error == 1003 ||
		    d.error == 1009);
		FUZZ_CHECK(d.why != NULL);
		/* A failed decoder stays failed. */
		FUZZ_CHECK(ws_decode(&d, NULL, NULL, NULL) == -1);
		return d.error;
	}
	return 0;
}

static void
fuzz_frames(const uint8_t *data, size_t size)
{
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	size_t chunk, len;
	uint16_t ea, eb;

	FUZZ_CHECK(a != NULL && b != NULL);
	if (size == 0)
		goto out;
	chunk = (size_t)(data[0] % 64) + 1;
	data++;
	size--;
	ea = fuzz_decode(data, size, size > 0 ? size : 1, a);
	eb = fuzz_decode(data, size, chunk, b);
	len = evbuffer_get_length(a);
	/* Errors are found in frame headers, which both runs reach with
	 * the same bytes passed on before them. */
	FUZZ_CHECK(ea == eb);
	FUZZ_CHECK(len == evbuffer_get_length(b));
	FUZZ_CHECK(len == 0 || memcmp(evbuffer_pullup(a, -1),
	    evbuffer_pullup(b, -1), len) == 0);
out:
	evbuffer_free(a);
	evbuffer_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_handshake(data + 1, size - 1);
	else
		fuzz_frames(data + 1, size - 1);
	return 0;
}
