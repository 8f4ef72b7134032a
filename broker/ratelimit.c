/*
 * ratelimit.c - token buckets: new connections per source address, and
 * messages and bytes per client.
 *
 * A bucket holds up to `rate` tokens (a burst of one second's worth) and
 * refills at `rate` tokens per second; tokens are kept in thousandths so
 * that a rate of a few per second refills smoothly between loop passes.
 * Taking more than the bucket holds is allowed when the bucket is full
 * and leaves it in debt: a message larger than max_publish_bytes_rate
 * still goes through, and the ones after it wait until the average is
 * back under the rate.
 *
 * Source addresses live in a fixed table allocated only when
 * max_connection_rate is set: RL_SETS sets of RL_WAYS entries, the set
 * chosen by a keyed hash of the address (key from the secure RNG at start,
 * so that nobody can aim many addresses at one set). An address not in
 * its set takes the entry whose bucket has refilled (it has nothing left
 * to remember), else the least recently used one. Memory is therefore
 * fixed whatever the number of addresses; past RL_SETS * RL_WAYS busy
 * addresses some are forgotten early and get a fresh bucket: the limit
 * then holds per address only approximately, never more strictly. An
 * attacker with that many addresses is not held back by a per-address
 * limit anyway; max_connections bounds the total.
 *
 * Refusals are logged at most once per second per address (and per
 * connection for publishes) with the count since the last line, so that
 * a flood cannot flood the log.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define RL_SETS 1024
#define RL_WAYS 4
#define RL_MILLI 1000

struct rl_addr {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint8_t family; /* 0: entry free */
	struct rl_bucket bucket;
	int64_t used_ms; /* last CONNECT */
	int64_t logged_ms; /* last log line */
	uint32_t refused; /* since the last log line */
};

static struct rl_addr *rl_table;
static uint64_t rl_key[2];

static int64_t
rl_now_ms(void)
{
	struct timeval tv;

	event_base_gettimeofday_cached(srv.base, &tv);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Refill b for the time since its last use. */
static void
rl_refill(struct rl_bucket *b, uint32_t rate, int64_t now)
{
	int64_t full = (int64_t)rate * RL_MILLI, dt;

	if (b->last_ms == 0) {
		b->tokens = full;
		b->last_ms = now;
		return;
	}
	dt = now - b->last_ms;
	b->last_ms = now;
	/* Enough for any debt to clear; keeps dt * rate within 63 bits. */
	if (dt < 0)
		dt = 0;
	else if (dt > 1000000000)
		dt = 1000000000;
	b->tokens += dt * rate;
	if (b->tokens > full)
		b->tokens = full;
}

int64_t
ratelimit_take(struct rl_bucket *b, uint32_t rate, uint64_t cost)
{
	int64_t now = rl_now_ms(), need, full = (int64_t)rate * RL_MILLI;

	rl_refill(b, rate, now);
	if (cost > (uint64_t)rate)
		need = full; /* larger than a burst: needs a full bucket */
	else
		need = (int64_t)cost * RL_MILLI;
	if (b->tokens >= need) {
		b->tokens -= (int64_t)cost * RL_MILLI;
		return 0;
	}
	/* Milliseconds until the bucket holds what is needed, at least 1. */
	return (need - b->tokens + rate - 1) / rate + 1;
}

/* SipHash would do; this keyed mix is enough to spread addresses that an
 * outsider cannot predict, and the table only holds rate state. */
static uint32_t
rl_hash(const uint8_t *a, size_t len)
{
	uint64_t h = rl_key[0];
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= a[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	h ^= rl_key[1];
	h *= 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> 32);
}

/* The entry of this address, taking one over when it has none. */
static struct rl_addr *
rl_lookup(const uint8_t *addr, uint8_t family, int64_t now)
{
	size_t len = family == AF_INET ? 4 : 16;
	struct rl_addr *set, *e, *victim = NULL;
	int64_t full = (int64_t)srv.cfg.max_connection_rate * RL_MILLI;
	int i;

	if (rl_table == NULL) {
		rl_table = xcalloc((size_t)RL_SETS * RL_WAYS,
		    sizeof *rl_table);
		evutil_secure_rng_get_bytes(rl_key, sizeof rl_key);
	}
	set = &rl_table[(rl_hash(addr, len) % RL_SETS) * RL_WAYS];
	for (i = 0; i < RL_WAYS; i++) {
		e = &set[i];
		if (e->family == family && memcmp(e->addr, addr, len) == 0)
			return e;
	}
	for (i = 0; i < RL_WAYS && victim == NULL; i++) {
		e = &set[i];
		if (e->family == 0)
			victim = e;
		else {
			rl_refill(&e->bucket, srv.cfg.max_connection_rate,
			    now);
			if (e->bucket.tokens >= full && e->refused == 0)
				victim = e;
		}
	}
	if (victim == NULL) {
		/* All busy: the least recently used goes. */
		victim = &set[0];
		for (i = 1; i < RL_WAYS; i++) {
			if (set[i].used_ms < victim->used_ms)
				victim = &set[i];
		}
	}
	memset(victim, 0, sizeof *victim);
	memcpy(victim->addr, addr, len);
	victim->family = family;
	return victim;
}

int
ratelimit_connect(const struct conn *c)
{
	struct rl_addr *e;
	int64_t now;

	if (srv.cfg.max_connection_rate == 0 || c->peer_family == 0)
		return 1;
	now = rl_now_ms();
	e = rl_lookup(c->peer_addr, c->peer_family, now);
	e->used_ms = now;
	if (ratelimit_take(&e->bucket, srv.cfg.max_connection_rate, 1) == 0)
		return 1;
	e->refused++;
	if (e->logged_ms == 0 || now - e->logged_ms >= 1000) {
		log_notice("%s: over max_connection_rate (%u/s): %u CONNECT%s "
		    "refused", conn_peer(c), srv.cfg.max_connection_rate,
		    e->refused, e->refused == 1 ? "" : "s");
		e->logged_ms = now;
		e->refused = 0;
	}
	return 0;
}

struct conn_rate *
ratelimit_conn(struct conn *c)
{
	if (c->rate == NULL)
		c->rate = xcalloc(1, sizeof *c->rate);
	return c->rate;
}

int64_t
ratelimit_publish(struct conn *c, size_t bytes)
{
	struct conn_rate *r = ratelimit_conn(c);
	int64_t wait = 0, w;

	if (srv.cfg.max_publish_rate != 0)
		wait = ratelimit_take(&r->msgs, srv.cfg.max_publish_rate, 1);
	if (wait == 0 && srv.cfg.max_publish_bytes_rate != 0) {
		w = ratelimit_take(&r->bytes,
		    srv.cfg.max_publish_bytes_rate, bytes);
		if (w != 0) {
			/* Not sent after all: give the message back. */
			if (srv.cfg.max_publish_rate != 0)
				r->msgs.tokens += RL_MILLI;
			wait = w;
		}
	}
	return wait;
}

void
ratelimit_publish_log(struct conn *c, const char *what)
{
	struct conn_rate *r = ratelimit_conn(c);
	int64_t now = rl_now_ms();

	r->limited++;
	if (r->logged_ms != 0 && now - r->logged_ms < 1000)
		return;
	log_notice("%s over its publish rate (max_publish_rate %u, "
	    "max_publish_bytes_rate %u): %u PUBLISH%s %s",
	    conn_label(c), srv.cfg.max_publish_rate,
	    srv.cfg.max_publish_bytes_rate, r->limited,
	    r->limited == 1 ? "" : "es", what);
	r->logged_ms = now;
	r->limited = 0;
}

void
ratelimit_free(void)
{
	free(rl_table);
	rl_table = NULL;
}
