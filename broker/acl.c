/*
 * acl.c - the ACL file: who may publish to, subscribe to and receive
 * which topics.
 *
 * Design note. The file follows mosquitto's acl_file:
 *
 *	topic [read|write|readwrite|subscribe|deny] <filter>
 *	user <name>
 *	pattern [read|write|readwrite|subscribe|deny] <filter>
 *
 * "topic" lines before any "user" line are the rules of anonymous clients
 * (no user name); after "user <name>" they belong to that user (sections
 * of one user merge). "pattern" lines apply to every client wherever they
 * stand, with %u replaced by the user name and %c by the client id. The
 * right defaults to readwrite when left out; the filter is the rest of
 * the line.
 *
 * Rights, and where they are checked:
 *   write      PUBLISH (and a will, at CONNECT) to a topic the filter
 *              matches (handle_publish.c, handle_connect.c).
 *   read       receiving a message whose topic the filter matches,
 *              checked per message and subscriber when it is routed and
 *              again when a queued message is sent (deliver.c). read
 *              also grants subscribe on the same filter.
 *   subscribe  SUBSCRIBE to a filter that the rule's filter covers, that
 *              is every topic the subscription matches is matched by the
 *              rule (im/# covers im/u/+/inbox; im/u/+ does not cover
 *              im/#). It grants no reading: with "subscribe im/#" and
 *              "read im/u/%u/#" a client may hold one subscription to
 *              im/# and still receives only its own inbox.
 *   readwrite  read and write.
 *   deny       none of the three on what the filter matches (topics) or
 *              covers (subscription filters). A subscription that only
 *              overlaps a denied area is granted; read checks keep the
 *              denied messages from it.
 * Deny wins over any grant; what no rule grants is refused. A shared
 * subscription ($share/<group>/<filter>) is checked on its <filter>.
 *
 * Substitution. A user name or client id that is empty or holds '/', '+'
 * or '#' would widen a pattern (im/u/%u/# for the user "+"); such a
 * value makes a granting pattern that names it grant nothing and a deny
 * pattern that names it deny everything. Patterns with %u do not apply
 * to anonymous clients.
 *
 * Cost. A check scans the client's rules and the patterns, matching one
 * filter each (a pattern with %u/%c is expanded first, on the stack). It
 * runs only when acl_file is set: per PUBLISH, per SUBSCRIBE filter and
 * per message and subscriber. The rule lists are meant to be short (a
 * few lines per user, a few patterns for everyone).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define SUBST_USER 0x01
#define SUBST_CLIENT 0x02

struct acl_rule {
	char *filter;
	size_t len;
	uint8_t rights; /* ACL_READ | ACL_WRITE | ACL_SUBSCRIBE; 0: deny */
	uint8_t subst; /* SUBST_*: pattern names %u / %c */
};

struct acl_list {
	struct acl_rule *v;
	size_t n, cap;
};

struct acl {
	struct acl_list anon; /* topic lines before any user line */
	struct acl_list patterns;
	struct hash *users; /* user name -> struct acl_list */
};

static struct acl *acl_cur; /* NULL: no acl_file, all allowed */
static uint32_t acl_gen = 1;

static void
acl_list_free(struct acl_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].filter);
	free(l->v);
}

static void
acl_free_user(const void *key, size_t len, void *value, void *arg)
{
	acl_list_free(value);
	free(value);
}

void
acl_free(struct acl *a)
{
	if (a == NULL)
		return;
	acl_list_free(&a->anon);
	acl_list_free(&a->patterns);
	hash_foreach(a->users, acl_free_user, NULL);
	hash_free(a->users);
	free(a);
}

static int
acl_right_word(const char *w, size_t len, uint8_t *rights)
{
	static const struct {
		const char *name;
		uint8_t rights;
	} words[] = {
		{ "read", ACL_READ | ACL_SUBSCRIBE },
		{ "write", ACL_WRITE },
		{ "readwrite", ACL_READ | ACL_WRITE | ACL_SUBSCRIBE },
		{ "subscribe", ACL_SUBSCRIBE },
		{ "deny", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strlen(words[i].name) == len &&
		    memcmp(words[i].name, w, len) == 0) {
			*rights = words[i].rights;
			return 0;
		}
	}
	return -1;
}

/* Parse "[right] <filter>" after topic / pattern into list. */
static int
acl_rule_line(struct acl_list *list, char *rest, int pattern, char *msg,
    size_t msglen)
{
	struct acl_rule *r;
	uint8_t rights = ACL_READ | ACL_WRITE | ACL_SUBSCRIBE;
	size_t wlen;
	char *f;

	wlen = strcspn(rest, " \t");
	if (acl_right_word(rest, wlen, &rights) == 0) {
		rest += wlen;
		rest += strspn(rest, " \t");
	}
	f = rest;
	if (*f == '\0') {
		snprintf(msg, msglen, "%s needs a topic filter",
		    pattern ? "pattern" : "topic");
		return -1;
	}
	if (!mqtt_topic_filter_valid((const uint8_t *)f, strlen(f))) {
		snprintf(msg, msglen, "invalid topic filter '%s'", f);
		return -1;
	}
	if (mqtt_topic_shared((const uint8_t *)f, strlen(f), NULL, NULL)) {
		snprintf(msg, msglen, "'%s': rules name topics; a shared "
		    "subscription is checked on the filter after "
		    "$share/<group>/", f);
		return -1;
	}
	if (list->n == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 4;
		list->v = xreallocarray(list->v, list->cap, sizeof *list->v);
	}
	r = &list->v[list->n++];
	r->filter = xstrdup(f);
	r->len = strlen(f);
	r->rights = rights;
	r->subst = 0;
	if (pattern) {
		if (strstr(f, "%u") != NULL)
			r->subst |= SUBST_USER;
		if (strstr(f, "%c") != NULL)
			r->subst |= SUBST_CLIENT;
	}
	return 0;
}

struct acl_reading {
	struct acl *a;
	struct acl_list *cur; /* where "topic" lines go */
};

static int
acl_file_line(void *arg, char *line, size_t len, char *msg, size_t msglen)
{
	struct acl_reading *r = arg;
	char *s, *rest;
	size_t wlen;

	while (len > 0 && isspace((unsigned char)line[len - 1]))
		line[--len] = '\0';
	s = line + strspn(line, " \t");
	if (*s == '\0' || *s == '#')
		return 0;
	if (strlen(s) != len - (size_t)(s - line)) {
		snprintf(msg, msglen, "NUL byte in line");
		return -1;
	}
	wlen = strcspn(s, " \t");
	rest = s + wlen;
	rest += strspn(rest, " \t");
	if (wlen == 4 && memcmp(s, "user", 4) == 0) {
		if (*rest == '\0') {
			snprintf(msg, msglen, "user needs a name");
			return -1;
		}
		r->cur = hash_get(r->a->users, rest, strlen(rest));
		if (r->cur == NULL) {
			r->cur = xcalloc(1, sizeof *r->cur);
			hash_put(r->a->users, rest, strlen(rest), r->cur);
		}
		return 0;
	}
	if (wlen == 5 && memcmp(s, "topic", 5) == 0)
		return acl_rule_line(r->cur, rest, 0, msg, msglen);
	if (wlen == 7 && memcmp(s, "pattern", 7) == 0)
		return acl_rule_line(&r->a->patterns, rest, 1, msg, msglen);
	snprintf(msg, msglen, "unknown keyword '%.*s' (expected user, topic "
	    "or pattern)", (int)wlen, s);
	return -1;
}

struct acl *
acl_load(const char *path, char *err, size_t errlen)
{
	struct acl_reading r;

	r.a = xcalloc(1, sizeof *r.a);
	r.a->users = hash_new();
	r.cur = &r.a->anon;
	if (file_lines(path, 0, acl_file_line, &r, err, errlen) != 0) {
		acl_free(r.a);
		return NULL;
	}
	return r.a;
}

/* Length of the level of s[0..len) that starts at s. */
static size_t
acl_level(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);

	return slash != NULL ? (size_t)(slash - s) : len;
}

/*
 * 1 when filter f matches topic name t (MQTT 5.0 section 4.7): '+' one
 * level, '#' the rest including the parent level; a topic starting with
 * '$' is not matched by a wildcard first level (MQTT-4.7.2-1).
 */
int
acl_topic_match(const char *f, size_t flen, const char *t, size_t tlen)
{
	size_t fl, tl;

	if (tlen > 0 && t[0] == '$' && flen > 0 && (f[0] == '+' ||
	    f[0] == '#'))
		return 0;
	for (;;) {
		fl = acl_level(f, flen);
		if (fl == 1 && f[0] == '#')
			return 1;
		tl = acl_level(t, tlen);
		if (!(fl == 1 && f[0] == '+') &&
		    (fl != tl || memcmp(f, t, fl) != 0))
			return 0;
		if (fl == flen || tl == tlen) {
			/* One ran out: a match when both did, or when the
			 * filter has just "/#" left (a/# matches a). */
			if (fl == flen && tl == tlen)
				return 1;
			return tl == tlen && flen - fl == 2 &&
			    f[fl + 1] == '#';
		}
		f += fl + 1;
		flen -= fl + 1;
		t += tl + 1;
		tlen -= tl + 1;
	}
}

/*
 * 1 when filter r covers subscription filter s: every topic s matches, r
 * matches too. Level by level: r's '#' covers what is left of s; s's '#'
 * needs r's '#'; r's '+' covers one level of s ('+' or literal); s's '+'
 * needs r's '+'; literals must be equal. A wildcard first level of r does
 * not cover a '$' first level of s.
 */
int
acl_filter_covers(const char *r, size_t rlen, const char *s, size_t slen)
{
	size_t rl, sl;
	int r_plus, s_wild;

	if (slen > 0 && s[0] == '$' && rlen > 0 && (r[0] == '+' ||
	    r[0] == '#'))
		return 0;
	for (;;) {
		rl = acl_level(r, rlen);
		if (rl == 1 && r[0] == '#')
			return 1;
		sl = acl_level(s, slen);
		r_plus = rl == 1 && r[0] == '+';
		s_wild = sl == 1 && (s[0] == '+' || s[0] == '#');
		if (s_wild && !r_plus)
			return 0;
		if (sl == 1 && s[0] == '#')
			return 0; /* r_plus: '+' does not cover '#' */
		if (!r_plus && (rl != sl || memcmp(r, s, rl) != 0))
			return 0;
		if (rl == rlen || sl == slen) {
			if (rl == rlen && sl == slen)
				return 1;
			return sl == slen && rlen - rl == 2 &&
			    r[rl + 1] == '#';
		}
		r += rl + 1;
		rlen -= rl + 1;
		s += sl + 1;
		slen -= sl + 1;
	}
}

/* 1 when v may stand in for %u / %c: not empty, no '/', '+' or '#'. */
static int
acl_value_safe(const char *v)
{
	return *v != '\0' && strpbrk(v, "/+#") == NULL;
}

/* 1 when rule r's filter applies to what (a topic or, for subscribe, a
 * filter). */
static int
acl_rule_matches(const char *f, size_t flen, const char *what, size_t len,
    int right)
{
	if (right == ACL_SUBSCRIBE)
		return acl_filter_covers(f, flen, what, len);
	return acl_topic_match(f, flen, what, len);
}

/*
 * Apply one rule. Returns 1 when it denies, sets *granted when it grants
 * right; a pattern is expanded with user / client id first.
 */
static int
acl_rule_apply(const struct acl_rule *r, const char *user,
    const char *client_id, const char *what, size_t len, int right,
    int *granted)
{
	char stack[512], *buf = stack, *o;
	const char *p, *v;
	size_t need, vl;
	int hit, denies = 0;

	if (r->subst == 0) {
		if (!acl_rule_matches(r->filter, r->len, what, len, right))
			return 0;
		if (r->rights == 0)
			return 1;
		if (r->rights & right)
			*granted = 1;
		return 0;
	}
	if ((r->subst & SUBST_USER) && user == NULL)
		return 0;
	if (((r->subst & SUBST_USER) && !acl_value_safe(user)) ||
	    ((r->subst & SUBST_CLIENT) && !acl_value_safe(client_id)))
		return r->rights == 0;
	need = r->len + 1;
	if (r->subst & SUBST_USER)
		need += strlen(user) * (r->len / 2);
	if (r->subst & SUBST_CLIENT)
		need += strlen(client_id) * (r->len / 2);
	if (need > sizeof stack)
		buf = xmalloc(need);
	for (p = r->filter, o = buf; *p != '\0'; p++) {
		if (p[0] == '%' && (p[1] == 'u' || p[1] == 'c')) {
			v = p[1] == 'u' ? user : client_id;
			vl = strlen(v);
			memcpy(o, v, vl);
			o += vl;
			p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	hit = acl_rule_matches(buf, (size_t)(o - buf), what, len, right);
	if (hit && r->rights == 0)
		denies = 1;
	else if (hit && (r->rights & right))
		*granted = 1;
	if (buf != stack)
		free(buf);
	return denies;
}

static int
acl_list_apply(const struct acl_list *l, const char *user,
    const char *client_id, const char *what, size_t len, int right,
    int *granted)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (acl_rule_apply(&l->v[i], user, client_id, what, len, right,
		    granted))
			return 1;
	}
	return 0;
}

int
acl_allowed(const struct acl *a, const char *user, const char *client_id,
    const char *what, size_t len, int right)
{
	const struct acl_list *own;
	struct mqtt_str inner;
	int granted = 0;

	if (a == NULL)
		return 1;
	if (right == ACL_SUBSCRIBE && mqtt_topic_shared((const uint8_t *)what,
	    len, NULL, &inner)) {
		if (inner.p == NULL)
			return 0;
		what = (const char *)inner.p;
		len = inner.len;
	}
	own = user == NULL ? &a->anon : hash_get(a->users, user, strlen(user));
	if (own != NULL && acl_list_apply(own, user, client_id, what, len,
	    right, &granted))
		return 0;
	if (acl_list_apply(&a->patterns, user, client_id, what, len, right,
	    &granted))
		return 0;
	return granted;
}

size_t
acl_user_count(const struct acl *a)
{
	return a != NULL ? hash_count(a->users) : 0;
}

/* --- the node's ACL --- */

int
acl_open(void)
{
	char err[1024];

	if (srv.cfg.acl_file == NULL)
		return 0;
	acl_cur = acl_load(srv.cfg.acl_file, err, sizeof err);
	if (acl_cur == NULL) {
		log_error("acl_file: %s", err);
		return -1;
	}
	log_notice("ACL from %s: %zu users", srv.cfg.acl_file,
	    acl_user_count(acl_cur));
	return 0;
}

void
acl_reload(void)
{
	struct acl *a;
	char err[1024];

	if (srv.cfg.acl_file == NULL)
		return;
	a = acl_load(srv.cfg.acl_file, err, sizeof err);
	if (a == NULL) {
		log_error("acl_file not reloaded, keeping the previous rules: "
		    "%s", err);
		return;
	}
	acl_free(acl_cur);
	acl_cur = a;
	/* Deliveries checked under the old rules are checked again before
	 * they are sent (deliver.c). */
	if (++acl_gen == 0)
		acl_gen = 1;
	log_notice("ACL reloaded from %s: %zu users", srv.cfg.acl_file,
	    acl_user_count(acl_cur));
}

void
acl_close(void)
{
	acl_free(acl_cur);
	acl_cur = NULL;
}

int
acl_active(void)
{
	return acl_cur != NULL;
}

uint32_t
acl_generation(void)
{
	return acl_gen;
}

static const char *
acl_right_name(int right)
{
	switch (right) {
	case ACL_READ:
		return "read";
	case ACL_WRITE:
		return "write";
	default:
		return "subscribe";
	}
}

int
acl_may(const char *user, const char *client_id, const char *what,
    size_t len, int right)
{
	return acl_cur == NULL ||
	    acl_allowed(acl_cur, user, client_id, what, len, right);
}

int
acl_check(const char *user, const char *client_id, const char *what,
    size_t len, int right)
{
	if (acl_cur == NULL ||
	    acl_allowed(acl_cur, user, client_id, what, len, right))
		return 1;
	/* Read denials are per message and subscriber: info, so that a
	 * broad subscription does not flood the log at the default level. */
	log_msg(right == ACL_READ ? LOG_INFO : LOG_NOTICE,
	    "ACL: %s denied to client %s (user %s) on %.*s",
	    acl_right_name(right), client_id, user != NULL ? user :
	    "<anonymous>", (int)len, what);
	return 0;
}
