/*
 * api_test.c - the admin API's encodings: JSON strings from bytes that
 * may be anything (api_json_str: escapes, UTF-8 kept when well-formed,
 * U+FFFD for each byte that is not) and the strict percent-decoding of
 * paths and queries (http_decode).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "tap.h"

/* api_json_str of in (len bytes) is exactly want. */
static void
json_is(const char *in, size_t len, const char *want, const char *what)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *got;

	api_json_str(b, in, len);
	n = evbuffer_get_length(b);
	got = xmalloc(n + 1);
	evbuffer_remove(b, got, n);
	got[n] = '\0';
	if (!ok(strcmp(got, want) == 0, "json: %s", what))
		printf("# got %s\n# want %s\n", got, want);
	free(got);
	evbuffer_free(b);
}

#define JSON_IS(lit, want, what) json_is(lit, sizeof lit - 1, want, what)

static void
decode_is(const char *in, int plus, const char *want, size_t wlen,
    const char *what)
{
	char *out = NULL;
	size_t n = 0;
	int rc = http_decode(in, strlen(in), plus, &out, &n);

	if (want == NULL) {
		ok(rc == -1 && out == NULL, "decode refuses %s", what);
		return;
	}
	ok(rc == 0 && n == wlen && memcmp(out, want, n) == 0 &&
	    out[n] == '\0', "decode: %s", what);
	free(out);
}

int
main(void)
{
	JSON_IS("plain id-1", "\"plain id-1\"", "ASCII as it is");
	JSON_IS("", "\"\"", "empty");
	JSON_IS("a\"b\\c/d", "\"a\\\"b\\\\c/d\"", "quote and backslash");
	JSON_IS("\t\n\x01\x1f\x7f", "\"\\u0009\\u000a\\u0001\\u001f\\u007f\"",
	    "control characters and DEL");
	JSON_IS("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x90\xa6",
	    "\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x90\xa6\"", "UTF-8 kept");
	JSON_IS("a\x80z", "\"a\\ufffdz\"", "a lone continuation byte");
	JSON_IS("\xc0\x80", "\"\\ufffd\\ufffd\"", "overlong NUL");
	JSON_IS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"", "overlong '/'");
	JSON_IS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "a surrogate");
	JSON_IS("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
	    "past U+10FFFF");
	JSON_IS("\xf5\xff", "\"\\ufffd\\ufffd\"", "bytes never in UTF-8");
	JSON_IS("x\xe2\x9c", "\"x\\ufffd\\ufffd\"", "a sequence cut short");
	JSON_IS("\xe2\x9c\"", "\"\\ufffd\\ufffd\\\"\"",
	    "a cut sequence before a quote");
	json_is("a\0b", 3, "\"a\\u0000b\"", "a NUL byte");

	decode_is("a%20b%2F%25%C3%A9", 0, "a b/%\xc3\xa9", 7, "escapes");
	decode_is("a+b", 0, "a+b", 3, "'+' in a path");
	decode_is("a+b%2B", 1, "a b+", 4, "'+' in a query");
	decode_is("%7e%7E", 0, "~~", 2, "either case");
	decode_is("", 0, "", 0, "empty");
	decode_is("a%00b", 0, NULL, 0, "an escaped NUL");
	decode_is("%zz", 0, NULL, 0, "not hex");
	decode_is("ab%2", 0, NULL, 0, "a cut escape");
	decode_is("ab%", 0, NULL, 0, "a lone '%'");
	return tap_done();
}
