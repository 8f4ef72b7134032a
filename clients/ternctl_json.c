/*
 * ternctl_json.c - a JSON reader for the admin API's answers (RFC 8259),
 * into a tree that ternctl's tables walk.
 *
 * Design note. The answers come from a node we were told to trust, but
 * ternctl may be pointed at anything, so the reader is strict and
 * bounded: nesting at most JSON_DEPTH levels (the API uses three), the
 * whole text parsed or refused, strings decoded with their \u escapes
 * (surrogate pairs joined, a lone one refused). What the tables print of
 * a string is escaped again by ternctl.c (a client id may hold a
 * terminal's control characters). Numbers keep their text: the API's
 * counters are 64-bit and a double would round them.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ternctl.h"

#define JSON_DEPTH 32

struct reader {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int parse_value(struct reader *, struct json *, int);

static int
fail(struct reader *r, const char *what)
{
	snprintf(r->err, r->errlen, "bad JSON: %s", what);
	return -1;
}

static void *
xrealloc_n(void *p, size_t n, size_t size)
{
	void *q;

	if (n != 0 && size > SIZE_MAX / n)
		abort();
	q = realloc(p, n * size);
	if (q == NULL && n * size != 0)
		abort();
	return q;
}

static void
ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int
lit(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return fail(r, "unknown word");
	r->p += n;
	return 0;
}

static int
hex4(struct reader *r, unsigned *out)
{
	unsigned v = 0;
	int i, c;

	if (r->end - r->p < 4)
		return fail(r, "short \\u escape");
	for (i = 0; i < 4; i++) {
		c = *r->p++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(r, "bad \\u escape");
	}
	*out = v;
	return 0;
}

/* Append code point u as UTF-8 to out (room for 4 more bytes). */
static size_t
put_utf8(char *out, unsigned u)
{
	if (u < 0x80) {
		out[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		out[0] = (char)(0xc0 | u >> 6);
		out[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		out[0] = (char)(0xe0 | u >> 12);
		out[1] = (char)(0x80 | (u >> 6 & 0x3f));
		out[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | u >> 18);
	out[1] = (char)(0x80 | (u >> 12 & 0x3f));
	out[2] = (char)(0x80 | (u >> 6 & 0x3f));
	out[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

/* A string at r->p (after its opening quote): decoded into *s, *len. An
 * escape never grows (6 bytes to at most 4), so the text's length is
 * room enough. */
static int
parse_string(struct reader *r, char **s, size_t *len)
{
	char *out = malloc((size_t)(r->end - r->p) + 1);
	size_t n = 0;
	unsigned u, lo;
	int c;

	if (out == NULL)
		abort();
	for (;;) {
		if (r->p >= r->end) {
			free(out);
			return fail(r, "unterminated string");
		}
		c = (unsigned char)*r->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(out);
			return fail(r, "control character in a string");
		}
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (r->p >= r->end) {
			free(out);
			return fail(r, "unterminated string");
		}
		c = *r->p++;
		switch (c) {
		case '"': case '\\': case '/':
			out[n++] = (char)c;
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u':
			if (hex4(r, &u) != 0)
				goto bad;
			if (u >= 0xdc00 && u <= 0xdfff)
				goto surrogate;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (r->end - r->p < 2 || r->p[0] != '\\' ||
				    r->p[1] != 'u')
					goto surrogate;
				r->p += 2;
				if (hex4(r, &lo) != 0)
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff)
					goto surrogate;
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			n += put_utf8(out + n, u);
			break;
		default:
			free(out);
			return fail(r, "bad escape");
		}
	}
	out[n] = '\0';
	*s = out;
	*len = n;
	return 0;
surrogate:
	fail(r, "lone surrogate");
bad:
	free(out);
	return -1;
}

static int
parse_number(struct reader *r, struct json *v)
{
	const char *s = r->p;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return fail(r, "bad number");
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	v->type = JSON_NUMBER;
	v->len = (size_t)(r->p - s);
	v->s = malloc(v->len + 1);
	if (v->s == NULL)
		abort();
	memcpy(v->s, s, v->len);
	v->s[v->len] = '\0';
	return 0;
}

/* An array or an object (obj) after its opening bracket. */
static int
parse_list(struct reader *r, struct json *v, int obj, int depth)
{
	char close = obj ? '}' : ']', *key;
	size_t klen;

	v->type = obj ? JSON_OBJECT : JSON_ARRAY;
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		ws(r);
		if (obj) {
			if (r->p >= r->end || *r->p != '"')
				return fail(r, "expected a member name");
			r->p++;
			if (parse_string(r, &key, &klen) != 0)
				return -1;
			v->keys = xrealloc_n(v->keys, v->n + 1,
			    sizeof *v->keys);
			v->keys[v->n] = key;
			ws(r);
			if (r->p >= r->end || *r->p != ':') {
				v->v = xrealloc_n(v->v, v->n + 1,
				    sizeof *v->v);
				memset(&v->v[v->n++], 0, sizeof *v->v);
				return fail(r, "expected ':'");
			}
			r->p++;
		}
		v->v = xrealloc_n(v->v, v->n + 1, sizeof *v->v);
		memset(&v->v[v->n], 0, sizeof *v->v);
		v->n++;
		if (parse_value(r, &v->v[v->n - 1], depth + 1) != 0)
			return -1;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return fail(r, obj ? "expected ',' or '}'" :
		    "expected ',' or ']'");
	}
}

static int
parse_value(struct reader *r, struct json *v, int depth)
{
	if (depth > JSON_DEPTH)
		return fail(r, "nested too deep");
	ws(r);
	if (r->p >= r->end)
		return fail(r, "unexpected end");
	switch (*r->p) {
	case '{':
	case '[':
		r->p++;
		return parse_list(r, v, r->p[-1] == '{', depth);
	case '"':
		r->p++;
		v->type = JSON_STRING;
		return parse_string(r, &v->s, &v->len);
	case 't':
		v->type = JSON_BOOL;
		v->b = 1;
		return lit(r, "true");
	case 'f':
		v->type = JSON_BOOL;
		return lit(r, "false");
	case 'n':
		v->type = JSON_NULL;
		return lit(r, "null");
	default:
		return parse_number(r, v);
	}
}

static void
json_clear(struct json *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		json_clear(&v->v[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->v);
	free(v->keys);
	free(v->s);
}

struct json *
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct reader r = { text, text + len, err, errlen };
	struct json *v = calloc(1, sizeof *v);

	if (v == NULL)
		abort();
	if (parse_value(&r, v, 0) != 0)
		goto bad;
	ws(&r);
	if (r.p != r.end) {
		fail(&r, "text after the value");
		goto bad;
	}
	return v;
bad:
	json_free(v);
	return NULL;
}

void
json_free(struct json *v)
{
	if (v == NULL)
		return;
	json_clear(v);
	free(v);
}

const struct json *
json_get(const struct json *o, const char *key)
{
	size_t i;

	if (o == NULL || o->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < o->n; i++) {
		if (strcmp(o->keys[i], key) == 0)
			return &o->v[i];
	}
	return NULL;
}

double
json_num(const struct json *o, const char *key)
{
	const struct json *v = json_get(o, key);

	return v != NULL && v->type == JSON_NUMBER ? strtod(v->s, NULL) : 0;
}
