/*
 * lines.c - reading a file of lines with "FILE:LINE: message" errors, for
 * the files ternd reads besides its config (password_file, acl_file).
 *
 * Each line goes to the caller without its line end (\n or \r\n); the
 * caller skips blanks and comments by its own rules and reports a bad
 * line through msg. With wipe, the read buffer is zeroed before it is
 * freed (the file may hold secrets).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "broker.h"

int
file_lines(const char *path, int wipe, file_line_fn cb, void *arg,
    char *err, size_t errlen)
{
	char *line = NULL, msg[512];
	size_t cap = 0, len;
	ssize_t n;
	unsigned lineno = 0;
	FILE *fp;
	int rc = 0;

	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if ((rc = cb(arg, line, len, msg, sizeof msg)) != 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	if (line != NULL) {
		if (wipe)
			mbedtls_platform_zeroize(line, cap);
		free(line);
	}
	fclose(fp);
	return rc;
}
