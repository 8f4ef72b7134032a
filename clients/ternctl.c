/*
 * ternctl.c - administration of a tern node's files.
 *
 *	ternctl passwd [-i iterations] FILE USER	add or change a user
 *	ternctl passwd --scram [-i iterations] FILE USER
 *					the same, as SCRAM-SHA-256 credentials
 *	ternctl passwd -D FILE USER			delete a user
 *
 * Design note. The password file is ternd's password_file: "user:hash"
 * lines in the format of broker/pwhash.h. ternctl rewrites it whole into
 * a temporary file next to it (mode 0600), syncs it and renames it over
 * the old one, so ternd, which reads it at start-up and on SIGHUP, sees
 * either the old file or the new one, never half of one. Other lines
 * (comments, other users) are kept as they are, in their order; a
 * changed user keeps its place, a new one goes at the end.
 *
 * The password comes from the terminal (asked twice, not echoed) when
 * standard input is one, else from the first line of standard input, so
 * that scripts can pipe it in.
 *
 * Exit status: 0 done, 1 failure (the file is left as it was), 2 usage.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "pwhash.h"

#define PASSWORD_MAX 65535

static void
usage(FILE *fp)
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
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
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

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "passwd") == 0)
		return cmd_passwd(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("ternctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	usage(stderr);
	return 2;
}
