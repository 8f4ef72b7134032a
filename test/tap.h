/*
 * tap.h - minimal TAP producer for the C unit tests.
 *
 * Each check prints one "ok N - name" or "not ok N - name" line; the plan
 * "1..N" is printed at the end by tap_done(), so a test that dies half-way
 * leaves no plan and the tap-driver counts it as an error.
 */
#ifndef TERN_TAP_H
#define TERN_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n;
static int tap_failed;

/* Report one check. Returns cond so callers can chain diagnostics. */
static inline int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>

static inline int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("# failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) do {					\
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);	\
	if (!tap_ok(tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__))	\
		printf("#   got %lld, want %lld\n", tap_g_, tap_w_);	\
} while (0)
#define diag(...) do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)

/* Print the plan; returns the process exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* TERN_TAP_H */
