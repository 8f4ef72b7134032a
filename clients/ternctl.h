/*
 * ternctl.h - the parts of ternctl: the commands (ternctl.c), the HTTP
 * client of the admin API (ternctl_http.c) and the JSON reader of its
 * answers (ternctl_json.c).
 */
#ifndef TERNCTL_H
#define TERNCTL_H

#include <stddef.h>

/* ternctl_json.c */
enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

/*
 * One JSON value. A string is its decoded UTF-8 bytes (s, len; NUL
 * terminated, but it may hold a NUL of its own from \u0000); a number
 * is its text as written (s), so that a 64-bit counter is printed as
 * the server wrote it; an array or object holds n values in v, an
 * object also their names in keys (in the order written).
 */
struct json {
	enum json_type type;
	int b; /* JSON_BOOL */
	char *s;
	size_t len;
	size_t n;
	struct json *v;
	char **keys;
};

/* Parse text (len bytes: one JSON value, white space around it). Returns
 * a new value (json_free) or NULL with err set. */
struct json *json_parse(const char *text, size_t len, char *err,
    size_t errlen);
void json_free(struct json *);
/* Member key of object o, or NULL (also when o is no object). */
const struct json *json_get(const struct json *o, const char *key);
/* Member key as a number (0 when absent or not a number). */
double json_num(const struct json *o, const char *key);

/* ternctl_http.c */
struct ctl_target {
	char *url; /* http://host[:port][/prefix] */
	char *token; /* NULL: none */
	double timeout; /* seconds */
};

struct ctl_answer {
	int status; /* HTTP status */
	char *body; /* NUL terminated */
	size_t len;
};

/*
 * Send method (EVHTTP_REQ_*) to t's URL with path (from "/api/v1/...",
 * its query included, already percent-encoded) and wait for the answer,
 * at most t->timeout seconds. Returns 0 with *a filled (free a->body),
 * or -1 with err set to why no answer came ("connection refused", "timed
 * out after 5 s", ...). The token is sent, never put in err.
 */
int ctl_request(const struct ctl_target *t, int method, const char *path,
    struct ctl_answer *a, char *err, size_t errlen);
/* 0 when url is one ctl_request takes, else -1 with err set. */
int ctl_url_check(const char *url, char *err, size_t errlen);

#endif /* TERNCTL_H */
