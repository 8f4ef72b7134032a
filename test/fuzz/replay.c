/*
 * replay.c - run a fuzz target's seed corpus without libFuzzer.
 *
 * Linked with a fuzz target when the build is not --enable-fuzzing, after
 * NanoMQ's fuzz/driver.c and SQLite's fuzzcheck: `make check` replays every
 * stored seed (and every crasher once fixed) through the target under the
 * normal or sanitizer build. Output is TAP, one line per file, the plan
 * last; a crash leaves no plan, which the TAP driver reports as an error.
 *
 * With no arguments the corpus is $TERN_SRCDIR/test/fuzz/corpus/<target>/
 * (TERN_SRCDIR defaults to "."); with arguments, those files are replayed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target, e.g. -DFUZZ_TARGET=\"decode\""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int replay_n;
static int replay_failed;

/* Replay one file; prints its TAP line. */
static void
replay_file(const char *path, const char *name)
{
	FILE *f;
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, got;

	replay_n++;
	if ((f = fopen(path, "rb")) == NULL) {
		printf("not ok %d - %s # %s\n", replay_n, name,
		    strerror(errno));
		replay_failed++;
		return;
	}
	for (;;) {
		if (len == cap) {
			cap = cap != 0 ? cap * 2 : 4096;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				fclose(f);
				free(buf);
				printf("not ok %d - %s # out of memory\n",
				    replay_n, name);
				replay_failed++;
				return;
			}
			buf = nbuf;
		}
		got = fread(buf + len, 1, cap - len, f);
		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	/* Exact-size copy so that ASan sees reads past the input. */
	nbuf = malloc(len != 0 ? len : 1);
	if (nbuf != NULL && len != 0)
		memcpy(nbuf, buf, len);
	free(buf);
	if (nbuf == NULL) {
		printf("not ok %d - %s # out of memory\n", replay_n, name);
		replay_failed++;
		return;
	}
	LLVMFuzzerTestOneInput(nbuf, len);
	free(nbuf);
	printf("ok %d - %s\n", replay_n, name);
	fflush(stdout);
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of dir, in name order. */
static void
replay_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **nn, path[4096];
	size_t n = 0, cap = 0, i;

	if ((d = opendir(dir)) == NULL) {
		printf("not ok 1 - corpus %s: %s\n", dir, strerror(errno));
		replay_n = 1;
		replay_failed++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			if ((nn = realloc(names, cap * sizeof *names)) == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n == 0) {
		printf("not ok 1 - corpus %s is empty\n", dir);
		replay_n = 1;
		replay_failed++;
		free(names);
		return;
	}
	qsort(names, n, sizeof *names, replay_cmp);
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir,
		    names[i]) >= sizeof path) {
			printf("not ok %d - path too long: %s\n", ++replay_n,
			    names[i]);
			replay_failed++;
		} else {
			replay_file(path, names[i]);
		}
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	const char *src;
	char dir[4096];
	int i;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			replay_file(argv[i], argv[i]);
	} else {
		if ((src = getenv("TERN_SRCDIR")) == NULL || *src == '\0')
			src = ".";
		snprintf(dir, sizeof dir, "%s/test/fuzz/corpus/%s", src,
		    FUZZ_TARGET);
		replay_dir(dir);
	}
	printf("1..%d\n", replay_n);
	return replay_failed != 0 ? 1 : 0;
}
