/*
 * store_wait.h - waiting for the store's completions in its unit tests
 * (store_test.c, store_model_test.c): the store runs callbacks from
 * store_poll() on the caller's thread once its eventfd is readable.
 */
#ifndef TERN_TEST_STORE_WAIT_H
#define TERN_TEST_STORE_WAIT_H

#include <poll.h>
#include <time.h>

#include "store.h"

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait (bounded: 60 s) until *counter reaches want, running completions.
 * Returns 0, or -1 on timeout. */
static inline int
wait_for(struct store *st, const unsigned *counter, unsigned want)
{
	struct pollfd pfd;
	double end = now_s() + 60;

	while (*counter < want) {
		if (now_s() > end)
			return -1;
		pfd.fd = store_fd(st);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) > 0)
			store_poll(st);
	}
	return 0;
}

#endif /* TERN_TEST_STORE_WAIT_H */
