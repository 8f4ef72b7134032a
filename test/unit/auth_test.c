/*
 * auth_test.c - the password file (passwd.c) and the ACL file (acl.c):
 * parsing with exact "FILE:LINE: message" errors, password checks
 * (including the proof kept after a first success), topic matching and
 * filter coverage, rights, %u / %c substitution, deny precedence and the
 * rules of anonymous clients.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "pwhash.h"
#include "tap.h"

struct server srv; /* broker.h declares it; these files do not use it */

static char path[] = "/tmp/tern-auth-test-XXXXXX";

static void
write_file(const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		perror(path);
		exit(99);
	}
	fputs(text, fp);
	fclose(fp);
}

/* --- password file --- */

static void
pw_bad(const char *text, const char *want)
{
	char err[1024] = "", full[1024];
	struct passwd_file *pf;

	write_file(text);
	pf = passwd_load(path, err, sizeof err);
	snprintf(full, sizeof full, "%s:%s", path, want);
	ok(pf == NULL && strcmp(err, full) == 0, "password file refused: %s",
	    want);
	if (strcmp(err, full) != 0)
		diag("got '%s', want '%s'", err, full);
	passwd_free(pf);
}

/* A password check the way auth.c and pwcheck.c run it: from the proof,
 * or the full hash (off the loop there), whose success is remembered. */
static int
check_pw(struct passwd_file *pf, const char *user, const char *pw)
{
	struct pwhash h;
	int rc;

	rc = passwd_check(pf, user, strlen(user), (const uint8_t *)pw,
	    strlen(pw), &h);
	if (rc != PASSWD_SLOW)
		return rc;
	if (!pwhash_verify(&h, (const uint8_t *)pw, strlen(pw)))
		return PASSWD_BAD;
	passwd_remember(pf, user, strlen(user), &h, (const uint8_t *)pw,
	    strlen(pw));
	return PASSWD_OK;
}

static void
test_passwd(void)
{
	char h1[PWHASH_STR_MAX], h2[PWHASH_STR_MAX], text[1024], err[1024];
	struct passwd_file *pf;
	struct pwhash slow, other;

	pwhash_make((const uint8_t *)"alice-pw", 8, 1000, h1, sizeof h1);
	pwhash_make((const uint8_t *)"b:b", 3, 1000, h2, sizeof h2);
	snprintf(text, sizeof text, "# users\n\nalice:%s\r\nbob:%s\n", h1, h2);
	write_file(text);
	pf = passwd_load(path, err, sizeof err);
	ok(pf != NULL, "good file loads");
	if (pf == NULL) {
		diag("%s", err);
		return;
	}
	is_int(passwd_count(pf), 2, "two users (comment, blank, CRLF)");
	is_int(passwd_check(pf, "alice", 5, (const uint8_t *)"alice-pw", 8,
	    &slow), PASSWD_SLOW, "alice's first login needs the full hash");
	is_int(passwd_check(pf, "alice", 5, (const uint8_t *)"alice-pX", 8,
	    &slow), PASSWD_SLOW, "so does a wrong password before a good one");
	ok(!pwhash_verify(&slow, (const uint8_t *)"alice-pX", 8),
	    "the hash handed out refuses the wrong password");
	other = slow;
	other.salt[0] ^= 1;
	passwd_remember(pf, "alice", 5, &other, (const uint8_t *)"alice-pw",
	    8);
	is_int(passwd_check(pf, "alice", 5, (const uint8_t *)"alice-pw", 8,
	    &slow), PASSWD_SLOW, "no proof kept for a hash alice no longer has");
	is_int(check_pw(pf, "alice", "alice-pw"), PASSWD_OK,
	    "alice, right password (full hash)");
	is_int(passwd_check(pf, "alice", 5, (const uint8_t *)"alice-pX", 8,
	    &slow), PASSWD_BAD, "alice, wrong password (answered from the "
	    "proof)");
	is_int(passwd_check(pf, "alice", 5, (const uint8_t *)"alice-pw", 8,
	    &slow), PASSWD_OK, "alice, right password again (from the proof)");
	is_int(check_pw(pf, "bob", "alice-pw"), PASSWD_BAD,
	    "bob with alice's password (no proof yet)");
	is_int(check_pw(pf, "bob", "b:b"), PASSWD_OK,
	    "bob, password with a colon");
	is_int(check_pw(pf, "carol", "x"), PASSWD_NO_USER, "unknown user");
	is_int(check_pw(pf, "alic", "alice-pw"), PASSWD_NO_USER,
	    "prefix of a user name");
	is_int(check_pw(pf, "", ""), PASSWD_NO_USER, "empty user name");
	passwd_free(pf);

	pw_bad("alice\n", "1: expected user:hash");
	snprintf(text, sizeof text, "# c\n:%s\n", h1);
	pw_bad(text, "2: empty user name");
	snprintf(text, sizeof text, "alice:%s\nalice:%s\n", h1, h2);
	pw_bad(text, "2: user 'alice' given twice");
	pw_bad("\n\nalice:$7$101$abc$def\n", "3: user 'alice': hash does not "
	    "start with $pbkdf2-sha512$ or $scram-sha-256$");
	pw_bad("alice:$pbkdf2-sha512$10$c2FsdHNhbHRzYWx0c2FsdA==$x\n",
	    "1: user 'alice': iteration count out of range");
	ok(passwd_load("/nonexistent/passwd", err, sizeof err) == NULL &&
	    strcmp(err, "/nonexistent/passwd: cannot open: No such file or "
	    "directory") == 0, "missing file: %s", err);
}

/* --- ACL --- */

static struct acl *
acl_text(const char *text)
{
	char err[1024] = "";
	struct acl *a;

	write_file(text);
	a = acl_load(path, err, sizeof err);
	if (a == NULL)
		diag("unexpected: %s", err);
	return a;
}

static void
acl_bad(const char *text, const char *want)
{
	char err[1024] = "", full[1024];
	struct acl *a;

	write_file(text);
	a = acl_load(path, err, sizeof err);
	snprintf(full, sizeof full, "%s:%s", path, want);
	ok(a == NULL && strcmp(err, full) == 0, "ACL refused: %s", want);
	if (strcmp(err, full) != 0)
		diag("got '%s', want '%s'", err, full);
	acl_free(a);
}

static void
test_match(void)
{
#define M(f, t) acl_topic_match(f, strlen(f), t, strlen(t))
#define C(r, s) acl_filter_covers(r, strlen(r), s, strlen(s))
	ok(M("a/b", "a/b") && !M("a/b", "a/c") && !M("a/b", "a/b/c") &&
	    !M("a/b/c", "a/b"), "literal levels");
	ok(M("a/+", "a/b") && M("a/+", "a/") && !M("a/+", "a") &&
	    !M("a/+", "a/b/c") && M("+/+", "/x"), "+ is one level");
	ok(M("#", "a") && M("#", "a/b/c") && M("a/#", "a") &&
	    M("a/#", "a/b/c") && !M("a/#", "ab"), "# is the rest, parent too");
	ok(!M("#", "$SYS/x") && !M("+/x", "$SYS/x") && M("$SYS/#", "$SYS/x"),
	    "wildcards do not match a leading $ level");
	ok(C("#", "a/b") && C("#", "+/#") && C("a/#", "a") &&
	    C("a/#", "a/+/c") && C("a/#", "a/#"), "# covers everything under");
	ok(C("a/+", "a/b") && C("a/+", "a/+") && !C("a/+", "a/#") &&
	    !C("a/+", "a/b/c") && !C("a/b", "a/+"), "+ covers one level only");
	ok(C("+/#", "a") && C("a/+/#", "a/+") && !C("a/+/#", "a/#") &&
	    !C("a/b", "a/#"), "+/# and parents");
	ok(!C("#", "$SYS/x") && !C("+/#", "$SYS/#") && C("$SYS/#", "$SYS/+"),
	    "$ topics are not covered by a wildcard first level");
#undef M
#undef C
}

static int
allowed(const struct acl *a, const char *user, const char *id,
    const char *what, int right)
{
	return acl_allowed(a, user, id, what, strlen(what), right);
}

static void
test_acl_rules(void)
{
	struct acl *a;

	a = acl_text(
	    "# anonymous clients\n"
	    "topic read public/#\n"
	    "topic write public/anon\n"
	    "\n"
	    "user alice\n"
	    "topic readwrite alice/#\n"
	    "topic deny alice/secret/#\n"
	    "topic subscribe feed/#\n"
	    "topic feed/alice\n"
	    "pattern read im/u/%u/#\n"
	    "pattern write im/out/%c\n"
	    "user bob\n"
	    "topic write alice/inbox\n"
	    "user alice\n"
	    "topic read extra/#\n"
	    "pattern deny im/u/%u/blocked\n"
	    "pattern subscribe im/#\n");
	if (a == NULL) {
		ok(0, "ACL parses");
		return;
	}
	is_int(acl_user_count(a), 2, "two users (alice's sections merged)");

	/* anonymous: only the rules before the first user line, and the
	 * patterns that do not name %u */
	ok(allowed(a, NULL, "c1", "public/x", ACL_READ), "anon reads public");
	ok(allowed(a, NULL, "c1", "public/#", ACL_SUBSCRIBE),
	    "anon subscribes public/# (read implies subscribe)");
	ok(!allowed(a, NULL, "c1", "public/x", ACL_WRITE),
	    "anon cannot write public/x");
	ok(allowed(a, NULL, "c1", "public/anon", ACL_WRITE),
	    "anon writes public/anon");
	ok(!allowed(a, NULL, "c1", "alice/x", ACL_READ),
	    "anon does not get alice's rules");
	ok(allowed(a, NULL, "c1", "im/out/c1", ACL_WRITE),
	    "anon gets %%c patterns");
	ok(!allowed(a, NULL, "c1", "im/u/c1/x", ACL_READ),
	    "no %%u pattern for anon");

	/* alice: her sections, both of them, plus patterns */
	ok(allowed(a, "alice", "c2", "alice/x", ACL_READ) &&
	    allowed(a, "alice", "c2", "alice/x", ACL_WRITE),
	    "alice readwrite alice/#");
	ok(allowed(a, "alice", "c2", "extra/1", ACL_READ),
	    "second alice section applies");
	ok(!allowed(a, "alice", "c2", "alice/secret/k", ACL_READ) &&
	    !allowed(a, "alice", "c2", "alice/secret/k", ACL_WRITE),
	    "deny wins over readwrite");
	ok(!allowed(a, "alice", "c2", "alice/secret/#", ACL_SUBSCRIBE),
	    "subscribing inside a denied area refused");
	ok(allowed(a, "alice", "c2", "alice/#", ACL_SUBSCRIBE),
	    "subscribing over a denied area granted (reads still checked)");
	ok(!allowed(a, "alice", "c2", "public/x", ACL_READ),
	    "named users do not get anonymous rules");
	ok(allowed(a, "alice", "c2", "im/u/alice/inbox", ACL_READ),
	    "%%u pattern: own inbox");
	ok(!allowed(a, "alice", "c2", "im/u/bob/inbox", ACL_READ),
	    "%%u pattern: not bob's inbox");
	ok(!allowed(a, "alice", "c2", "im/u/alice/blocked", ACL_READ),
	    "deny pattern wins over read pattern");
	ok(allowed(a, "alice", "c2", "im/out/c2", ACL_WRITE) &&
	    !allowed(a, "alice", "c2", "im/out/c3", ACL_WRITE),
	    "%%c pattern: own client id only");
	ok(!allowed(a, "alice", "c2", "im/u/alice/x", ACL_WRITE),
	    "read grants no write");

	/* subscribe is its own right */
	ok(allowed(a, "alice", "c2", "feed/#", ACL_SUBSCRIBE) &&
	    allowed(a, "alice", "c2", "feed/+/x", ACL_SUBSCRIBE),
	    "subscribe feed/# covers feed/# and feed/+/x");
	ok(!allowed(a, "alice", "c2", "feed/news", ACL_READ),
	    "subscribe grants no read");
	ok(allowed(a, "alice", "c2", "feed/alice", ACL_READ),
	    "right left out is readwrite");
	ok(!allowed(a, "alice", "c2", "#", ACL_SUBSCRIBE),
	    "# is not covered by feed/#");
	ok(allowed(a, "alice", "c2", "im/#", ACL_SUBSCRIBE),
	    "pattern subscribe im/#");
	ok(!allowed(a, "alice", "c2", "im/u/alice/blocked", ACL_SUBSCRIBE),
	    "deny pattern covers the subscription");
	ok(allowed(a, "alice", "c2", "$share/g/feed/x", ACL_SUBSCRIBE) &&
	    !allowed(a, "alice", "c2", "$share/g/other", ACL_SUBSCRIBE),
	    "shared subscriptions checked on the inner filter");

	/* bob, and users with no section */
	ok(allowed(a, "bob", "c3", "alice/inbox", ACL_WRITE) &&
	    !allowed(a, "bob", "c3", "alice/inbox", ACL_READ),
	    "bob writes alice/inbox only");
	ok(allowed(a, "carol", "c4", "im/u/carol/x", ACL_READ) &&
	    !allowed(a, "carol", "c4", "public/x", ACL_READ),
	    "a user without a section gets the patterns only");

	/* values that would widen a pattern */
	ok(!allowed(a, "+", "c5", "im/u/x/y", ACL_READ) &&
	    !allowed(a, "#", "c5", "im/u/x/y", ACL_READ) &&
	    !allowed(a, "a/b", "c5", "im/u/a/b/y", ACL_READ),
	    "user names with / + # do not stand in for %%u");
	ok(!allowed(a, "+", "c5", "im/out/c5", ACL_WRITE),
	    "a deny pattern naming an unsafe %%u denies everything");
	ok(!allowed(a, "dave", "+", "im/out/+", ACL_WRITE) &&
	    !allowed(a, "dave", "x/y", "im/out/x/y", ACL_WRITE),
	    "client ids with / + do not stand in for %%c");
	ok(!allowed(a, "", "c6", "im/u//x", ACL_READ),
	    "an empty user name does not stand in for %%u");
	acl_free(a);

	ok(allowed(NULL, NULL, "c", "any/thing", ACL_WRITE),
	    "no ACL: everything allowed");
	a = acl_text("# nothing granted\n");
	ok(a != NULL && !allowed(a, NULL, "c", "a", ACL_READ) &&
	    !allowed(a, "u", "c", "a", ACL_WRITE), "empty ACL: all refused");
	acl_free(a);
	a = acl_text("pattern readwrite %u/%c/%u\n");
	ok(a != NULL && allowed(a, "u1", "k", "u1/k/u1", ACL_WRITE) &&
	    !allowed(a, "u1", "k", "u1/k/u2", ACL_WRITE),
	    "several substitutions in one pattern");
	acl_free(a);
	a = acl_text("pattern read im/%u/#\n");
	{
		char user[700], topic[800];

		memset(user, 'x', sizeof user - 1);
		user[sizeof user - 1] = '\0';
		snprintf(topic, sizeof topic, "im/%s/t", user);
		ok(a != NULL && allowed(a, user, "c", topic, ACL_READ),
		    "a long user name (heap expansion)");
	}
	acl_free(a);
}

static void
test_acl_errors(void)
{
	char err[1024];

	acl_bad("topic\n", "1: topic needs a topic filter");
	acl_bad("topic read\n", "1: topic needs a topic filter");
	acl_bad("topic deny  \n", "1: topic needs a topic filter");
	acl_bad("# c\npattern deny\n", "2: pattern needs a topic filter");
	acl_bad("user\n", "1: user needs a name");
	acl_bad("topic read a/#/b\n", "1: invalid topic filter 'a/#/b'");
	acl_bad("topic read a+\n", "1: invalid topic filter 'a+'");
	acl_bad("topic read $share/g/a\n", "1: '$share/g/a': rules name "
	    "topics; a shared subscription is checked on the filter after "
	    "$share/<group>/");
	acl_bad("\n  \nallow a/b\n", "3: unknown keyword 'allow' (expected "
	    "user, topic or pattern)");
	ok(acl_load("/nonexistent/acl", err, sizeof err) == NULL &&
	    strcmp(err, "/nonexistent/acl: cannot open: No such file or "
	    "directory") == 0, "missing file: %s", err);
}

static void
test_acl_syntax(void)
{
	struct acl *a;

	/* Spaces inside belong to the filter (as in mosquitto). */
	a = acl_text("\ttopic   read   a b/c  \n  user  x y \ntopic a/deny\n");
	ok(a != NULL && allowed(a, NULL, "c", "a b/c", ACL_READ) &&
	    !allowed(a, NULL, "c", "a b/c", ACL_WRITE),
	    "filters keep inner spaces, lose outer ones");
	ok(a != NULL && allowed(a, "x y", "c", "a/deny", ACL_WRITE),
	    "user names keep spaces; no right word means readwrite");
	acl_free(a);
}

int
main(void)
{
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		return 99;
	}
	close(fd);
	test_passwd();
	test_match();
	test_acl_rules();
	test_acl_errors();
	test_acl_syntax();
	unlink(path);
	return tap_done();
}
