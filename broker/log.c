/*
 * log.c - leveled log lines to stderr or a file.
 *
 * One line per event: "2026-11-25T22:00:00.123Z notice: message". The file
 * is opened in append mode and reopened on SIGHUP so that logrotate can
 * move it away. Writes are unbuffered per line (fputs + fflush), which is
 * fine at notice level; debug logging costs what it costs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "broker.h"

static FILE *log_fp;
static char *log_path;
static int log_level = LOG_NOTICE;

static const char *log_names[] = {
	"error", "warning", "notice", "info", "debug"
};

int
log_open(const char *path)
{
	FILE *fp;

	if (path == NULL) {
		/* (Back) to stderr: a SIGHUP with log_dest stderr. */
		if (log_fp != NULL && log_fp != stderr)
			fclose(log_fp);
		log_fp = stderr;
		free(log_path);
		log_path = NULL;
		return 0;
	}
	fp = fopen(path, "a");
	if (fp == NULL)
		return -1;
	if (log_fp != NULL && log_fp != stderr)
		fclose(log_fp);
	log_fp = fp;
	if (log_path != path) {
		free(log_path);
		log_path = xstrdup(path);
	}
	return 0;
}

void
log_reopen(void)
{
	if (log_path == NULL)
		return;
	if (log_open(log_path) != 0)
		log_error("cannot reopen log file %s: %s", log_path,
		    strerror(errno));
	else
		log_notice("log file reopened");
}

void
log_close(void)
{
	if (log_fp != NULL && log_fp != stderr)
		fclose(log_fp);
	log_fp = NULL;
	free(log_path);
	log_path = NULL;
}

void
log_set_level(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcasecmp(name, log_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

void
log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;
	FILE *fp = log_fp != NULL ? log_fp : stderr;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof line,
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000, log_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	fputs(line, fp);
	fputc('\n', fp);
	fflush(fp);
}
