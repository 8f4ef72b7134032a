/*
 * fuzz_config.c - libFuzzer target for the config parser (config.c).
 *
 * Input: a config file. It is handed to config_load() through a memfd
 * (/proc/self/fd/N), so the whole path of a real file is exercised: line
 * splitting, the "line too long" check, trimming, comments, then every
 * key's parser. Then config_finish() and config_free(), so that ASan's
 * leak check sees anything a parser forgets to free, on success and on
 * error alike.
 *
 * Invariants: config_load() returns 0 or -1; on -1 the message is not
 * empty and starts with the file name (the "FILE:LINE: message" or
 * "FILE: message" contract of broker.h). Any violation aborts.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

/* config.c needs no server, but broker.h declares it (as config_test). */
struct server srv;

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char path[64], err[1024];
	int fd, rc;

	fd = memfd_create("fuzz.conf", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	config_init(&c);
	err[0] = '\0';
	rc = config_load(&c, path, err, sizeof err);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc != 0)
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 &&
		    strlen(err) > strlen(path) + 1);
	else
		config_finish(&c);
	config_free(&c);
	close(fd);
	return 0;
}
