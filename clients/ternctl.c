/*
 * ternctl.c - administration of a tern node: its admin API (the node's
 * clients, sessions, retained messages, cluster links; kick, delete,
 * drain) and its password file.
 *
 *	ternctl [-H URL] [-t TOKEN | --token-file FILE] [-c tern.conf]
 *	    [--json] [--timeout S] COMMAND [ARGS]
 *	    status | clients | client ID | kick ID | sessions |
 *	    session-delete ID | subscriptions | retained |
 *	    retained-delete TOPIC | cluster | drain
 *	ternctl passwd [--scram] [-i iterations] FILE USER
 *	ternctl passwd -D FILE USER
 *
 * Design note, the API commands. Each is one request (a list with --all
 * one per page) to the HTTP listener of one node (docs/API.md), over
 * ternctl_http.c; the answer is printed as the server wrote it with
 * --json, else read (ternctl_json.c) into a table. Where to send it and
 * the token come, in this order, from the flags (-H, -t or
 * --token-file), from the node's own config file given with -c (its
 * http_listener and the first token of its http_token_file: a reader of
 * these two keys only, as ternd reads them, because config.c needs the
 * rest of the node to link), from the environment (TERN_URL,
 * TERN_TOKEN), and the URL defaults to http://127.0.0.1:8080. The token
 * is sent and never printed. Everything a table shows of a string the
 * server sent (a client id, a user name, a topic: chosen by MQTT
 * clients) is escaped first, so that no control character reaches the
 * operator's terminal.
 *
 * Design note, passwd. The password file is ternd's password_file:
 * "user:hash" lines in the format of broker/pwhash.h. ternctl rewrites it
 * whole into a temporary file next to it (mode 0600), syncs it and
 * renames it over the old one, so ternd, which reads it at start-up and
 * on SIGHUP, sees either the old file or the new one, never half of one.
 * Other lines (comments, other users) are kept as they are, in their
 * order; a changed user keeps its place, a new one goes at the end.
 *
 * The password comes from the terminal (asked twice, not echoed) when
 * standard input is one, else from the first line of standard input, so
 * that scripts can pipe it in.
 *
 * Exit status: 0 done, 1 failure (for passwd: the file is left as it
 * was; for the API: no answer, or an error answer), 2 usage.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>

#include "pwhash.h"
#include "ternctl.h"

#define PASSWORD_MAX 65535

static void
passwd_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ternctl passwd [--scram] [-i ITERATIONS] FILE USER\n"
	    "       ternctl passwd -D FILE USER\n"
	    "  --scram  store SCRAM-SHA-256 credentials (the password then\n"
	    "           also works for the SCRAM-SHA-256 MQTT 5 login)\n"
	    "  -i N     PBKDF2 iterations (default %d, with --scram %d;\n"
	    "           from %d to %d)\n"
	    "  -D       delete USER from FILE\n",
	    PWHASH_ITER_DEFAULT, PWHASH_SCRAM_ITER_DEFAULT, PWHASH_ITER_MIN,
	    PWHASH_ITER_MAX);
}

/* Read one line from fp into a new string without its line end; NULL at
 * end of file or on error. */
static char *
read_line(FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	n = getline(&line, &cap, fp);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* Prompt on the terminal with echo off; returns a new string or NULL. */
static char *
tty_prompt(const char *prompt)
{
	struct termios old, quiet;
	char *line;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return NULL;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		return NULL;
	line = read_line(stdin);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return line;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static char *
get_password(void)
{
	char *pw, *again;

	if (!isatty(STDIN_FILENO)) {
		pw = read_line(stdin);
		if (pw == NULL)
			fprintf(stderr, "ternctl: no password on standard "
			    "input\n");
		return pw;
	}
	pw = tty_prompt("Password: ");
	if (pw == NULL) {
		fprintf(stderr, "ternctl: cannot read the password\n");
		return NULL;
	}
	again = tty_prompt("Reenter password: ");
	if (again == NULL || strcmp(pw, again) != 0) {
		fprintf(stderr, "ternctl: the passwords do not match\n");
		wipe_free(pw);
		wipe_free(again);
		return NULL;
	}
	wipe_free(again);
	return pw;
}

static int
user_valid(const char *user)
{
	const unsigned char *p;

	if (*user == '\0' || strlen(user) > 65535)
		return 0;
	for (p = (const unsigned char *)user; *p != '\0'; p++) {
		if (*p == ':' || *p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* 1 when line is user's entry ("user:..."). */
static int
line_is_user(const char *line, const char *user)
{
	size_t n = strlen(user);

	return strncmp(line, user, n) == 0 && line[n] == ':';
}

/*
 * Write FILE anew: its lines with user's replaced by entry (or removed
 * when entry is NULL; appended when user had none). Returns 0, 1 when
 * deleting a user the file does not have, -1 on error (reported).
 */
static int
rewrite(const char *path, const char *user, const char *entry)
{
	char *tmp = NULL, *dirc = NULL, *line;
	FILE *in, *out = NULL;
	int fd = -1, found = 0, rc = -1, dfd;
	size_t n;

	in = fopen(path, "r");
	if (in == NULL && errno != ENOENT) {
		fprintf(stderr, "ternctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = strlen(path) + sizeof ".XXXXXX";
	tmp = malloc(n);
	if (tmp == NULL)
		goto out;
	snprintf(tmp, n, "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0600) != 0 ||
	    (out = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "ternctl: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	while (in != NULL && (line = read_line(in)) != NULL) {
		if (line_is_user(line, user)) {
			if (entry != NULL && !found)
				fprintf(out, "%s:%s\n", user, entry);
			found = 1;
		} else
			fprintf(out, "%s\n", line);
		free(line);
	}
	if (in != NULL && ferror(in)) {
		fprintf(stderr, "ternctl: %s: read error\n", path);
		goto out;
	}
	if (entry == NULL && !found) {
		fprintf(stderr, "ternctl: %s: no user '%s'\n", path, user);
		rc = 1;
		goto out;
	}
	if (entry != NULL && !found)
		fprintf(out, "%s:%s\n", user, entry);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		fprintf(stderr, "ternctl: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (fclose(out) != 0) {
		out = NULL;
		fprintf(stderr, "ternctl: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	out = NULL;
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "ternctl: rename %s to %s: %s\n", tmp, path,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* Make the rename itself durable. */
	dirc = strdup(path);
	if (dirc != NULL &&
	    (dfd = open(dirname(dirc), O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free(dirc);
	return rc;
}

static int
cmd_passwd(int argc, char **argv)
{
	char hash[PWHASH_STR_MAX], *pw, *end;
	const char *path, *user;
	static const struct option longopts[] = {
		{ "scram", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long iterations = 0;
	int ch, del = 0, scram = 0, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "Di:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			scram = 1;
			break;
		case 'D':
			del = 1;
			break;
		case 'i':
			errno = 0;
			iterations = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    errno != 0 || iterations < PWHASH_ITER_MIN ||
			    iterations > PWHASH_ITER_MAX) {
				fprintf(stderr, "ternctl: iterations must be "
				    "from %d to %d\n", PWHASH_ITER_MIN,
				    PWHASH_ITER_MAX);
				return 2;
			}
			break;
		case 'h':
			passwd_usage(stdout);
			return 0;
		default:
			passwd_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		passwd_usage(stderr);
		return 2;
	}
	path = argv[optind];
	user = argv[optind + 1];
	if (!user_valid(user)) {
		fprintf(stderr, "ternctl: bad user name '%s' (empty, or holds "
		    "':' or a control character)\n", user);
		return 1;
	}
	if (del)
		return rewrite(path, user, NULL) == 0 ? 0 : 1;
	if (iterations == 0)
		iterations = scram ? PWHASH_SCRAM_ITER_DEFAULT :
		    PWHASH_ITER_DEFAULT;
	pw = get_password();
	if (pw == NULL)
		return 1;
	if (*pw == '\0' || strlen(pw) > PASSWORD_MAX) {
		fprintf(stderr, "ternctl: the password must be 1 to %d "
		    "bytes\n", PASSWORD_MAX);
		wipe_free(pw);
		return 1;
	}
	rc = (scram ? pwhash_make_scram : pwhash_make)((const uint8_t *)pw,
	    strlen(pw), (unsigned)iterations, hash, sizeof hash);
	wipe_free(pw);
	if (rc != 0) {
		fprintf(stderr, "ternctl: cannot hash the password (no "
		    "random bytes?)\n");
		return 1;
	}
	return rewrite(path, user, hash) == 0 ? 0 : 1;
}


/* --- the admin API: where, and the token --- */

#define TOKEN_LINE_MAX 1024 /* as http.c's HTTP_TOKEN_MAX */
#define DEFAULT_URL "http://127.0.0.1:8080"
#define PAGE_MAX 1000 /* the API's largest limit */

/* Which filters a list takes (the API refuses the others: 400). */
#define F_CLIENT_ID 0x01
#define F_USER 0x02
#define F_PREFIX 0x04
#define F_ONLINE 0x08
#define F_PAGED 0x10

struct opts {
	struct ctl_target t;
	const char *url, *token, *token_file, *conf;
	const char *client_id, *user, *prefix;
	long limit, offset; /* -1: not given */
	int online; /* -1 not given */
	int json, all;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ternctl [options] status\n"
	    "       ternctl [options] clients [--all] [--limit N] [--offset N]\n"
	    "               [--client-id S] [--user S]\n"
	    "       ternctl [options] client ID\n"
	    "       ternctl [options] kick ID\n"
	    "       ternctl [options] sessions [--all] [--limit N] [--offset N]\n"
	    "               [--client-id S] [--online | --offline]\n"
	    "       ternctl [options] session-delete ID   (or: sessions delete ID)\n"
	    "       ternctl [options] subscriptions [--all] [--limit N]\n"
	    "               [--offset N] [--client-id S]\n"
	    "       ternctl [options] retained [--all] [--limit N] [--offset N]\n"
	    "               [--prefix TOPIC]\n"
	    "       ternctl [options] retained-delete TOPIC\n"
	    "       ternctl [options] cluster\n"
	    "       ternctl [options] drain\n"
	    "       ternctl passwd [--scram] [-i ITERATIONS] FILE USER\n"
	    "       ternctl passwd -D FILE USER\n"
	    "options:\n"
	    "  -H, --url URL         the node's HTTP listener (default %s)\n"
	    "  -t, --token TOKEN     a token of its http_token_file\n"
	    "      --token-file FILE read the token from FILE's first token\n"
	    "  -c, --config FILE     the node's tern.conf: its http_listener\n"
	    "                        and the first token of its http_token_file\n"
	    "      --json            print the server's JSON as it is\n"
	    "      --timeout S       give up after S seconds (default 5)\n"
	    "environment: TERN_URL, TERN_TOKEN (the flags and -c come first)\n",
	    DEFAULT_URL);
}

/* Trim s in place: leading and trailing blanks and line ends. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
	    e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* The first token of a token file, read as ternd reads it (http.c: one
 * per line, blanks around it and blank or '#' lines skipped). */
static char *
token_from_file(const char *path)
{
	char line[TOKEN_LINE_MAX + 2], *s, *tok = NULL;
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		fprintf(stderr, "ternctl: token file %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		tok = strdup(s);
		break;
	}
	explicit_bzero(line, sizeof line);
	fclose(fp);
	if (tok == NULL)
		fprintf(stderr, "ternctl: token file %s has no token\n", path);
	return tok;
}

/*
 * Read the keys of a node's config file that say where its admin API is:
 * http_listener <port> [<address>] and http_token_file <path> (the last
 * of each wins, as in ternd; other keys are not looked at), and whether
 * http_certfile makes it https (*https), which ternctl does not speak.
 * A wildcard bind address is reached on loopback. Returns 0, or -1
 * (reported).
 */
static int
conf_read(const char *path, char **url, char **token_file, int *https)
{
	char line[4096], *s, *key, *port, *addr, *end;
	unsigned long n = 0;
	unsigned lineno = 0;
	int have = 0;
	FILE *fp = fopen(path, "r");

	*url = *token_file = NULL;
	*https = 0;
	if (fp == NULL) {
		fprintf(stderr, "ternctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		lineno++;
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		key = strsep(&s, " \t");
		if (s != NULL)
			s = trim(s);
		if (strcmp(key, "http_token_file") == 0 && s != NULL &&
		    *s != '\0') {
			free(*token_file);
			*token_file = strdup(s);
		} else if (strcmp(key, "http_certfile") == 0) {
			*https = s != NULL && *s != '\0';
		} else if (strcmp(key, "http_listener") == 0) {
			port = s != NULL ? strsep(&s, " \t") : NULL;
			addr = s != NULL ? trim(s) : NULL;
			errno = 0;
			if (port != NULL)
				n = strtoul(port, &end, 10);
			if (port == NULL || *port < '0' || *port > '9' ||
			    *end != '\0' || errno != 0 || n > 65535 ||
			    (addr != NULL && strpbrk(addr, " \t") != NULL)) {
				fprintf(stderr, "ternctl: %s:%u: bad "
				    "http_listener line\n", path, lineno);
				goto bad;
			}
			if (addr == NULL || *addr == '\0' ||
			    strcmp(addr, "0.0.0.0") == 0)
				addr = "127.0.0.1";
			else if (strcmp(addr, "::") == 0)
				addr = "::1";
			free(*url);
			if (asprintf(url, strchr(addr, ':') != NULL ?
			    "http://[%s]:%lu" : "http://%s:%lu", addr, n) < 0)
				abort();
			have = 1;
		}
	}
	fclose(fp);
	if (!have) {
		fprintf(stderr, "ternctl: %s has no http_listener\n", path);
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "ternctl: %s: http_listener port 0 is chosen "
		    "at start-up: give the URL with -H\n", path);
		goto out;
	}
	return 0;
bad:
	fclose(fp);
out:
	free(*url);
	free(*token_file);
	*url = *token_file = NULL;
	return -1;
}

/* Fill o->t from the flags, -c, the environment (in that order). */
static int
target(struct opts *o)
{
	char *curl = NULL, *ctoken_file = NULL;
	const char *e, *url;
	char err[256];
	int https = 0;

	if (o->conf != NULL && conf_read(o->conf, &curl, &ctoken_file,
	    &https) != 0)
		return -1;
	if (https && o->url == NULL) {
		/* Its token file may still be used, with -H. */
		fprintf(stderr, "ternctl: %s: http_listener speaks https "
		    "(http_certfile) and ternctl http only: give -H the URL "
		    "of a TLS tunnel to it (ternctl(1))\n", o->conf);
		goto bad;
	}
	url = o->url != NULL ? o->url : curl != NULL ? curl :
	    (e = getenv("TERN_URL")) != NULL && *e != '\0' ? e : DEFAULT_URL;
	if (ctl_url_check(url, err, sizeof err) != 0) {
		fprintf(stderr, "ternctl: %s\n", err);
		goto bad;
	}
	o->t.url = strdup(url);
	if (o->token != NULL)
		o->t.token = strdup(o->token);
	else if (o->token_file != NULL || ctoken_file != NULL) {
		o->t.token = token_from_file(o->token_file != NULL ?
		    o->token_file : ctoken_file);
		if (o->t.token == NULL)
			goto bad;
	} else if ((e = getenv("TERN_TOKEN")) != NULL && *e != '\0')
		o->t.token = strdup(e);
	free(curl);
	free(ctoken_file);
	return 0;
bad:
	free(curl);
	free(ctoken_file);
	return -1;
}

/* --- the admin API: requests --- */

/* s percent-encoded (RFC 3986: all but the unreserved bytes; '/' too
 * unless keep_slash) onto the end of *out. */
static void
enc_append(char **out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(*out), m = strlen(s);
	const unsigned char *p;
	char *d;

	*out = realloc(*out, n + 3 * m + 1);
	if (*out == NULL)
		abort();
	d = *out + n;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' || (*p == '/' && keep_slash)) {
			*d++ = (char)*p;
		} else {
			*d++ = '%';
			*d++ = hex[*p >> 4];
			*d++ = hex[*p & 15];
		}
	}
	*d = '\0';
}

static char *
path_of(const char *base, const char *arg, int keep_slash, const char *tail)
{
	char *p = strdup(base);

	if (p == NULL)
		abort();
	if (arg != NULL)
		enc_append(&p, arg, keep_slash);
	if (tail != NULL) {
		p = realloc(p, strlen(p) + strlen(tail) + 1);
		if (p == NULL)
			abort();
		strcat(p, tail);
	}
	return p;
}

static void
query_add(char **q, const char *name, const char *value)
{
	size_t n = strlen(*q);

	*q = realloc(*q, n + strlen(name) + 3);
	if (*q == NULL)
		abort();
	sprintf(*q + n, "%c%s=", strchr(*q, '?') != NULL ? '&' : '?', name);
	enc_append(q, value, 0);
}

/* Print s as it is, with one line end. */
static void
print_raw(const struct ctl_answer *a)
{
	fwrite(a->body, 1, a->len, stdout);
	if (a->len == 0 || a->body[a->len - 1] != '\n')
		putchar('\n');
}

/*
 * One request. what names it in messages ("kick 'x'"). Returns the
 * answer's JSON (json_free) when it is 200, else NULL after saying why
 * on stderr. With --json the body of any answer goes to stdout as it is,
 * and *printed is set.
 */
static struct json *
call(struct opts *o, int method, const char *path, const char *what,
    int *printed)
{
	struct ctl_answer a;
	struct json *doc;
	const struct json *e;
	char err[512];

	if (printed != NULL)
		*printed = 0;
	if (ctl_request(&o->t, method, path, &a, err, sizeof err) != 0) {
		fprintf(stderr, "ternctl: %s\n", err);
		return NULL;
	}
	doc = json_parse(a.body, a.len, err, sizeof err);
	if (o->json && doc != NULL) {
		print_raw(&a);
		if (printed != NULL)
			*printed = 1;
	}
	if (a.status == 401) {
		fprintf(stderr, "ternctl: %s: bad or missing token (401): give "
		    "one of the node's http_token_file with --token-file, -t, "
		    "-c or TERN_TOKEN\n", o->t.url);
		goto bad;
	}
	if (a.status != 200) {
		e = json_get(doc, "error");
		fprintf(stderr, "ternctl: %s: %s (%d)\n", what,
		    e != NULL && e->type == JSON_STRING ? e->s :
		    "not the admin API's answer", a.status);
		goto bad;
	}
	if (doc == NULL || doc->type != JSON_OBJECT) {
		fprintf(stderr, "ternctl: %s: %s from %s\n", what, doc == NULL ?
		    err : "not a JSON object", o->t.url);
		goto bad;
	}
	free(a.body);
	return doc;
bad:
	json_free(doc);
	free(a.body);
	return NULL;
}

/* --- the admin API: output --- */

/*
 * The strings of a command's output (cells, fields) are kept here and
 * freed together when the command ends (pool_free), so that building a
 * row from several of them needs no bookkeeping.
 */
static char **pool;
static size_t npool;

static char *
keep(char *s)
{
	if (s == NULL)
		abort();
	pool = realloc(pool, (npool + 1) * sizeof *pool);
	if (pool == NULL)
		abort();
	return pool[npool++] = s;
}

static char *
sdup(const char *s)
{
	return keep(strdup(s));
}

static void
pool_free(void)
{
	size_t i;

	for (i = 0; i < npool; i++)
		free(pool[i]);
	free(pool);
	pool = NULL;
	npool = 0;
}

/*
 * A value as text for a table: a string with its control characters
 * escaped (C0, DEL and the C1 range, which terminals act on), a number
 * as written, null as "-", a boolean as yes/no. Returns a new string.
 */
static char *
text(const struct json *v)
{
	const unsigned char *p, *end;
	char *out, *d;

	if (v == NULL || v->type == JSON_NULL)
		return sdup("-");
	if (v->type == JSON_BOOL)
		return sdup(v->b ? "yes" : "no");
	if (v->type == JSON_NUMBER)
		return sdup(v->s);
	if (v->type != JSON_STRING)
		return sdup("?");
	out = d = malloc(v->len * 6 + 1);
	if (out == NULL)
		abort();
	p = (const unsigned char *)v->s;
	for (end = p + v->len; p < end; p++) {
		if (*p < 0x20 || *p == 0x7f)
			d += sprintf(d, "\\x%02x", *p);
		else if (*p == 0xc2 && p + 1 < end && p[1] >= 0x80 &&
		    p[1] <= 0x9f)
			d += sprintf(d, "\\u00%02x", *++p);
		else
			*d++ = (char)*p;
	}
	*d = '\0';
	return keep(out);
}

static char *
ktext(const struct json *o, const char *key)
{
	return text(json_get(o, key));
}

/* Unix time as local "YYYY-MM-DD HH:MM:SS"; "-" when absent. */
static char *
ktime(const struct json *o, const char *key)
{
	const struct json *v = json_get(o, key);
	char buf[32];
	struct tm tm;
	time_t t;

	if (v == NULL || v->type != JSON_NUMBER)
		return sdup("-");
	t = (time_t)strtoll(v->s, NULL, 10);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return sdup(v->s);
	return sdup(buf);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return keep(s);
}

/* Seconds as "3d04h", "2h05m", "4m10s", "12s". */
static char *
duration(double secs)
{
	unsigned long long s = secs > 0 ? (unsigned long long)secs : 0;

	if (s >= 86400)
		return fmt("%llud%02lluh", s / 86400, s % 86400 / 3600);
	if (s >= 3600)
		return fmt("%lluh%02llum", s / 3600, s % 3600 / 60);
	if (s >= 60)
		return fmt("%llum%02llus", s / 60, s % 60);
	return fmt("%llus", s);
}

struct table {
	size_t ncols, nrows;
	const char *const *head;
	const char *right; /* per column: 'r' right-aligned */
	char **cells; /* nrows * ncols, from the pool */
};

static void
table_row(struct table *t, ...)
{
	va_list ap;
	size_t i;

	t->cells = realloc(t->cells, (t->nrows + 1) * t->ncols *
	    sizeof *t->cells);
	if (t->cells == NULL)
		abort();
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = va_arg(ap, char *);
	va_end(ap);
	t->nrows++;
}

/* Display columns of a UTF-8 string (code points; good enough for ids). */
static size_t
width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void
table_print(struct table *t)
{
	size_t *w = calloc(t->ncols, sizeof *w), r, i, cw;
	const char *cell;

	if (w == NULL)
		abort();
	for (i = 0; i < t->ncols; i++)
		w[i] = width(t->head[i]);
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++)
			if ((cw = width(t->cells[r * t->ncols + i])) > w[i])
				w[i] = cw;
	for (r = 0; r <= t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			cell = r == 0 ? t->head[i] :
			    t->cells[(r - 1) * t->ncols + i];
			cw = width(cell);
			if (t->right[i] == 'r')
				printf("%*s%s", (int)(w[i] - cw), "", cell);
			else if (i + 1 < t->ncols)
				printf("%s%*s", cell, (int)(w[i] - cw), "");
			else
				fputs(cell, stdout);
			fputs(i + 1 < t->ncols ? "  " : "\n", stdout);
		}
	}
	free(t->cells);
	free(w);
}

/* "name  value" lines of a record, names padded to one width. */
static void
field(const char *name, const char *value)
{
	printf("%-16s%s\n", name, value);
}

/* --- the commands --- */

typedef void (*row_fn)(struct table *, const struct json *);

/*
 * A list: one page, or with --all every page from --offset on. Rows go
 * to a table through row; with --json each page is printed as the
 * server wrote it, one per line.
 */
static int
list(struct opts *o, const char *base, int filters, const char *what,
    struct table *t, row_fn row)
{
	struct json *doc;
	const struct json *items;
	char *q;
	long offset = o->offset >= 0 ? o->offset : 0, limit;
	double total = 0;
	size_t i, n, shown = 0;
	int printed;

	limit = o->limit >= 0 ? o->limit : o->all ? PAGE_MAX : -1;
	for (;;) {
		q = strdup(base);
		if (q == NULL)
			abort();
		if (o->offset >= 0 || o->all)
			query_add(&q, "offset", fmt("%ld", offset));
		if (limit >= 0)
			query_add(&q, "limit", fmt("%ld", limit));
		if ((filters & F_CLIENT_ID) && o->client_id != NULL)
			query_add(&q, "client_id", o->client_id);
		if ((filters & F_USER) && o->user != NULL)
			query_add(&q, "user", o->user);
		if ((filters & F_PREFIX) && o->prefix != NULL)
			query_add(&q, "prefix", o->prefix);
		if ((filters & F_ONLINE) && o->online >= 0)
			query_add(&q, "online", o->online ? "true" : "false");
		doc = call(o, EVHTTP_REQ_GET, q, what, &printed);
		free(q);
		if (doc == NULL)
			return 1;
		items = json_get(doc, "items");
		total = json_num(doc, "total");
		if (items == NULL || items->type != JSON_ARRAY) {
			fprintf(stderr, "ternctl: %s: no items in the answer\n",
			    what);
			json_free(doc);
			return 1;
		}
		for (i = 0; i < items->n && !o->json; i++)
			row(t, &items->v[i]);
		n = items->n;
		json_free(doc);
		shown += n;
		offset += (long)n;
		/* Each page moves on by at least one item: bounded. */
		if (!o->all || n == 0 || limit == 0 ||
		    (double)offset >= total)
			break;
	}
	if (o->json)
		return 0;
	table_print(t);
	if (!o->all && (double)shown < total && isatty(STDOUT_FILENO))
		fprintf(stderr, "(%zu of %.0f: --all for every one, or "
		    "--offset)\n", shown, total);
	return 0;
}

static int
kbool(const struct json *o, const char *key)
{
	const struct json *v = json_get(o, key);

	return v != NULL && v->type == JSON_BOOL && v->b;
}

/* "127.0.0.1:40000 tls ws" */
static char *
peer_text(const struct json *c)
{
	return fmt("%s%s%s", ktext(c, "peer"), kbool(c, "tls") ? " tls" : "",
	    kbool(c, "websockets") ? " ws" : "");
}

/* A session's expiry: "never", "300 s". */
static char *
expiry_text(const struct json *o)
{
	const struct json *v = json_get(o, "session_expiry");

	if (v != NULL && v->type == JSON_NULL)
		return sdup("never");
	return fmt("%s s", v != NULL && v->type == JSON_NUMBER ? v->s : "?");
}

static const char *const client_head[] = { "CLIENT ID", "USER", "PROTO",
    "ADDRESS", "CONNECTED", "QUEUED", "INFLIGHT", "SUBS" };

static void
client_row(struct table *t, const struct json *c)
{
	table_row(t, ktext(c, "client_id"), ktext(c, "user"),
	    ktext(c, "protocol"), peer_text(c), ktime(c, "connected_at"),
	    ktext(c, "queued"), ktext(c, "inflight"),
	    ktext(c, "subscriptions"));
}

static int
cmd_clients(struct opts *o, char **args)
{
	struct table t = { 8, 0, client_head, "llllrrrr", NULL };

	return list(o, "/api/v1/clients", F_CLIENT_ID | F_USER, "clients", &t,
	    client_row);
}

static const char *const session_head[] = { "CLIENT ID", "USER", "ONLINE",
    "PERSISTENT", "EXPIRY", "QUEUED", "INFLIGHT", "SUBS", "WILL" };

static void
session_row(struct table *t, const struct json *s)
{
	table_row(t, ktext(s, "client_id"), ktext(s, "user"),
	    ktext(s, "online"), ktext(s, "persistent"), expiry_text(s),
	    ktext(s, "queued"), ktext(s, "inflight"),
	    ktext(s, "subscriptions"), ktext(s, "will"));
}

static int
cmd_sessions(struct opts *o, char **args)
{
	struct table t = { 9, 0, session_head, "lllllrrrl", NULL };

	return list(o, "/api/v1/sessions", F_CLIENT_ID | F_ONLINE,
	    "sessions", &t, session_row);
}

static const char *const sub_head[] = { "CLIENT ID", "FILTER", "QOS",
    "NO LOCAL", "RAP", "RH", "SUB ID" };

static void
sub_row(struct table *t, const struct json *s)
{
	table_row(t, ktext(s, "client_id"), ktext(s, "filter"),
	    ktext(s, "qos"), ktext(s, "no_local"),
	    ktext(s, "retain_as_published"), ktext(s, "retain_handling"),
	    ktext(s, "subscription_identifier"));
}

static int
cmd_subscriptions(struct opts *o, char **args)
{
	struct table t = { 7, 0, sub_head, "llrllrr", NULL };

	return list(o, "/api/v1/subscriptions", F_CLIENT_ID, "subscriptions",
	    &t, sub_row);
}

static const char *const retained_head[] = { "TOPIC", "SIZE", "QOS",
    "RECEIVED", "EXPIRY" };

static void
retained_row(struct table *t, const struct json *r)
{
	const struct json *e = json_get(r, "expiry");

	table_row(t, ktext(r, "topic"), ktext(r, "size"), ktext(r, "qos"),
	    ktime(r, "received_at"), e != NULL && e->type == JSON_NUMBER ?
	    fmt("%s s", e->s) : sdup("-"));
}

static int
cmd_retained(struct opts *o, char **args)
{
	struct table t = { 5, 0, retained_head, "lrrlr", NULL };

	return list(o, "/api/v1/retained", F_PREFIX, "retained", &t,
	    retained_row);
}

static int
cmd_status(struct opts *o, char **args)
{
	struct json *d;
	const struct json *ls, *l, *n;
	const char *state;
	int printed;
	size_t i;

	d = call(o, EVHTTP_REQ_GET, "/api/v1/status", "status", &printed);
	if (d == NULL || printed) {
		json_free(d);
		return d == NULL;
	}
	n = json_get(d, "counts");
	state = kbool(d, "shutting_down") ? "shutting down" :
	    kbool(d, "draining") ? "draining" : "running";
	field("node", ktext(d, "node"));
	field("version", ktext(d, "version"));
	field("started", fmt("%s (up %s)", ktime(d, "started_at"),
	    duration(json_num(d, "uptime"))));
	field("state", state);
	field("store", kbool(d, "store") ? "on" : "off");
	ls = json_get(d, "listeners");
	for (i = 0; ls != NULL && ls->type == JSON_ARRAY && i < ls->n; i++) {
		l = &ls->v[i];
		field(i == 0 ? "listeners" : "", fmt("%s %s%s, %s connections",
		    ktext(l, "address"), ktext(l, "protocol"),
		    kbool(l, "tls") ? " tls" : "", ktext(l, "connections")));
	}
	if (json_get(d, "cluster_listener") != NULL)
		field("cluster", ktext(d, "cluster_listener"));
	field("http", ktext(d, "http_listener"));
	field("connections", ktext(n, "connections"));
	field("sessions", fmt("%s online, %s offline",
	    ktext(n, "sessions_online"), ktext(n, "sessions_offline")));
	field("subscriptions", fmt("%s (with the cluster's routes: %s)",
	    ktext(n, "subscriptions"), ktext(n, "routes")));
	field("retained", ktext(n, "retained"));
	field("queued", fmt("%s messages, %s bytes", ktext(n, "queued"),
	    ktext(n, "queued_bytes")));
	json_free(d);
	return 0;
}

static int
cmd_client(struct opts *o, char **args)
{
	struct json *d;
	const struct json *c, *subs, *ids;
	struct table t = { 6, 0, sub_head + 1, "lrllrr", NULL };
	char *what, *path, *idl = sdup("");
	size_t i;
	int printed;

	path = path_of("/api/v1/clients/", args[0], 0, NULL);
	what = fmt("client '%s'", args[0]);
	d = call(o, EVHTTP_REQ_GET, path, what, &printed);
	free(path);
	if (d == NULL || printed) {
		json_free(d);
		return d == NULL;
	}
	c = json_get(d, "connection");
	field("client id", ktext(d, "client_id"));
	field("user", ktext(d, "user"));
	field("online", ktext(d, "online"));
	if (c != NULL && c->type == JSON_OBJECT) {
		field("protocol", ktext(c, "protocol"));
		field("address", peer_text(c));
		field("listener", ktext(c, "listener"));
		field("connected", ktime(c, "connected_at"));
		field("keepalive", fmt("%s s", ktext(c, "keepalive")));
	}
	field("persistent", ktext(d, "persistent"));
	field("session expiry", expiry_text(d));
	field("will", ktext(d, "will"));
	if (kbool(d, "moving"))
		field("moving", "yes (to another node)");
	field("queued", ktext(d, "queued"));
	ids = json_get(d, "inflight_ids");
	for (i = 0; ids != NULL && ids->type == JSON_ARRAY && i < ids->n; i++)
		idl = fmt("%s%s%s", idl, i > 0 ? " " : "",
		    text(&ids->v[i]));
	field("inflight", *idl != '\0' ? fmt("%s (packet ids %s)",
	    ktext(d, "inflight"), idl) : ktext(d, "inflight"));
	field("subscriptions", ktext(d, "subscriptions"));
	subs = json_get(d, "subscription_list");
	if (subs != NULL && subs->type == JSON_ARRAY && subs->n > 0) {
		putchar('\n');
		for (i = 0; i < subs->n; i++) {
			c = &subs->v[i];
			table_row(&t, ktext(c, "filter"), ktext(c, "qos"),
			    ktext(c, "no_local"),
			    ktext(c, "retain_as_published"),
			    ktext(c, "retain_handling"),
			    ktext(c, "subscription_identifier"));
		}
		table_print(&t);
	}
	json_free(d);
	return 0;
}

/* A POST or DELETE whose answer is one line of text (msg) unless --json. */
static int
action(struct opts *o, int method, char *path, const char *what,
    const char *msg)
{
	struct json *d;
	int printed;

	d = call(o, method, path, what, &printed);
	free(path);
	if (d == NULL)
		return 1;
	if (!printed)
		puts(msg);
	json_free(d);
	return 0;
}

static int
cmd_kick(struct opts *o, char **args)
{
	struct json *d;
	char *path;
	int printed;

	path = path_of("/api/v1/clients/", args[0], 0, "/kick");
	d = call(o, EVHTTP_REQ_POST, path, fmt("kick '%s'", args[0]),
	    &printed);
	free(path);
	if (d == NULL)
		return 1;
	if (!printed)
		printf("kicked '%s'%s\n", text(json_get(d, "kicked")),
		    kbool(d, "session_kept") ? " (its session stays)" :
		    " (its session ended)");
	json_free(d);
	return 0;
}

static int
cmd_session_delete(struct opts *o, char **args)
{
	return action(o, EVHTTP_REQ_DELETE,
	    path_of("/api/v1/sessions/", args[0], 0, NULL),
	    fmt("delete session '%s'", args[0]),
	    fmt("deleted session '%s'", args[0]));
}

static int
cmd_retained_delete(struct opts *o, char **args)
{
	return action(o, EVHTTP_REQ_DELETE,
	    path_of("/api/v1/retained/", args[0], 1, NULL),
	    fmt("delete retained '%s'", args[0]),
	    fmt("cleared the retained message of '%s'", args[0]));
}

static int
cmd_drain(struct opts *o, char **args)
{
	struct json *d;
	int printed;

	d = call(o, EVHTTP_REQ_POST, "/api/v1/drain", "drain", &printed);
	if (d == NULL)
		return 1;
	if (!printed)
		printf("draining: %s connections closed\n",
		    ktext(d, "connections_closed"));
	json_free(d);
	return 0;
}

static const char *const peer_head[] = { "PEER", "UP", "LINK IN", "SYNCED",
    "ROUTES", "SENT", "RECEIVED", "FORWARDED", "FROM PEER", "QUEUED" };

static int
cmd_cluster(struct opts *o, char **args)
{
	struct table t = { 10, 0, peer_head, "llllrrrrrr", NULL };
	struct json *d;
	const struct json *ps, *p;
	size_t i;
	int printed;

	d = call(o, EVHTTP_REQ_GET, "/api/v1/cluster", "cluster", &printed);
	if (d == NULL || printed) {
		json_free(d);
		return d == NULL;
	}
	if (!kbool(d, "enabled")) {
		puts("no cluster (this node has no cluster_listener)");
		json_free(d);
		return 0;
	}
	printf("node %s\n\n", ktext(d, "node"));
	ps = json_get(d, "peers");
	for (i = 0; ps != NULL && ps->type == JSON_ARRAY && i < ps->n; i++) {
		p = &ps->v[i];
		table_row(&t, ktext(p, "name"), ktext(p, "up"),
		    ktext(p, "link_in"), ktext(p, "synced"),
		    ktext(p, "routes"), fmt("%s B", ktext(p, "sent_bytes")),
		    fmt("%s B", ktext(p, "received_bytes")),
		    ktext(p, "forwarded"), ktext(p, "received"),
		    ktext(p, "queued"));
	}
	table_print(&t);
	json_free(d);
	return 0;
}

struct command {
	const char *name;
	int nargs; /* after the name */
	int filters; /* F_*: the list flags it takes */
	int (*fn)(struct opts *, char **);
};

static const struct command commands[] = {
	{ "status", 0, 0, cmd_status },
	{ "clients", 0, F_PAGED | F_CLIENT_ID | F_USER, cmd_clients },
	{ "client", 1, 0, cmd_client },
	{ "kick", 1, 0, cmd_kick },
	{ "sessions", 0, F_PAGED | F_CLIENT_ID | F_ONLINE, cmd_sessions },
	{ "session-delete", 1, 0, cmd_session_delete },
	{ "subscriptions", 0, F_PAGED | F_CLIENT_ID, cmd_subscriptions },
	{ "retained", 0, F_PAGED | F_PREFIX, cmd_retained },
	{ "retained-delete", 1, 0, cmd_retained_delete },
	{ "cluster", 0, 0, cmd_cluster },
	{ "drain", 0, 0, cmd_drain },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int
number(const char *s, const char *flag, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || n > max) {
		fprintf(stderr, "ternctl: %s takes a number from 0 to %ld\n",
		    flag, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Which list flag of F_* is given and not taken by c; NULL if none. */
static const char *
flag_refused(const struct opts *o, const struct command *c)
{
	if ((c->filters & F_PAGED) == 0 && (o->all || o->limit >= 0 ||
	    o->offset >= 0))
		return o->all ? "--all" : o->limit >= 0 ? "--limit" :
		    "--offset";
	if ((c->filters & F_CLIENT_ID) == 0 && o->client_id != NULL)
		return "--client-id";
	if ((c->filters & F_USER) == 0 && o->user != NULL)
		return "--user";
	if ((c->filters & F_PREFIX) == 0 && o->prefix != NULL)
		return "--prefix";
	if ((c->filters & F_ONLINE) == 0 && o->online >= 0)
		return o->online ? "--online" : "--offline";
	return NULL;
}

static int
cmd_api(int argc, char **argv)
{
	enum { O_TOKEN_FILE = 256, O_JSON, O_TIMEOUT, O_LIMIT, O_OFFSET,
	    O_CLIENT_ID, O_USER, O_PREFIX, O_ALL, O_ONLINE, O_OFFLINE,
	    O_VERSION };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'H' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, O_TOKEN_FILE },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "offset", required_argument, NULL, O_OFFSET },
		{ "client-id", required_argument, NULL, O_CLIENT_ID },
		{ "user", required_argument, NULL, O_USER },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "all", no_argument, NULL, O_ALL },
		{ "online", no_argument, NULL, O_ONLINE },
		{ "offline", no_argument, NULL, O_OFFLINE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	const struct command *c = NULL;
	const char *name, *bad;
	char **args, *end;
	int ch, nargs, rc;
	size_t i;

	memset(&o, 0, sizeof o);
	o.limit = o.offset = -1;
	o.online = -1;
	o.t.timeout = 5;
	while ((ch = getopt_long(argc, argv, "H:t:c:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'H':
			o.url = optarg;
			break;
		case 't':
			o.token = optarg;
			break;
		case O_TOKEN_FILE:
			o.token_file = optarg;
			break;
		case 'c':
			o.conf = optarg;
			break;
		case O_JSON:
			o.json = 1;
			break;
		case O_TIMEOUT:
			errno = 0;
			o.t.timeout = strtod(optarg, &end);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    errno != 0 || o.t.timeout <= 0 ||
			    o.t.timeout > 3600) {
				fprintf(stderr, "ternctl: --timeout takes "
				    "seconds, more than 0 and at most 3600\n");
				return 2;
			}
			break;
		case O_LIMIT:
			if (number(optarg, "--limit", PAGE_MAX, &o.limit) != 0)
				return 2;
			break;
		case O_OFFSET:
			if (number(optarg, "--offset", 0x7fffffffL,
			    &o.offset) != 0)
				return 2;
			break;
		case O_CLIENT_ID:
			o.client_id = optarg;
			break;
		case O_USER:
			o.user = optarg;
			break;
		case O_PREFIX:
			o.prefix = optarg;
			break;
		case O_ALL:
			o.all = 1;
			break;
		case O_ONLINE:
		case O_OFFLINE:
			o.online = ch == O_ONLINE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("ternctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	name = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	/* "sessions delete ID", "retained delete TOPIC" */
	if (nargs >= 1 && strcmp(args[0], "delete") == 0 &&
	    (strcmp(name, "sessions") == 0 || strcmp(name, "retained") == 0)) {
		name = strcmp(name, "sessions") == 0 ? "session-delete" :
		    "retained-delete";
		args++;
		nargs--;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			c = &commands[i];
	}
	if (c == NULL && strcmp(name, "passwd") == 0) {
		fprintf(stderr, "ternctl: passwd comes first: ternctl passwd "
		    "[options] FILE USER\n");
		return 2;
	}
	if (c == NULL) {
		fprintf(stderr, "ternctl: unknown command '%s'\n", name);
		usage(stderr);
		return 2;
	}
	if (nargs != c->nargs) {
		fprintf(stderr, "ternctl: %s takes %s\n", c->name,
		    c->nargs == 0 ? "no argument" : "one argument");
		return 2;
	}
	if (c->nargs == 1 && *args[0] == '\0') {
		fprintf(stderr, "ternctl: %s: empty argument\n", c->name);
		return 2;
	}
	if ((bad = flag_refused(&o, c)) != NULL) {
		fprintf(stderr, "ternctl: %s does not take %s\n", c->name, bad);
		return 2;
	}
	if (o.token != NULL && o.token_file != NULL) {
		fprintf(stderr, "ternctl: -t and --token-file: one or the "
		    "other\n");
		return 2;
	}
	if (target(&o) != 0)
		return 1;
	rc = c->fn(&o, args);
	pool_free();
	free(o.t.url);
	if (o.t.token != NULL) {
		explicit_bzero(o.t.token, strlen(o.t.token));
		free(o.t.token);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "passwd") == 0)
		return cmd_passwd(argc - 1, argv + 1);
	return cmd_api(argc, argv);
}
