/*
 * secret.c - the cluster_secret check of the links that dial this node,
 * and the slowdown of wrong guesses.
 *
 * Design note. A node link proves itself with cluster_secret alone (its
 * MQTT password on the cluster listener), and a link that passes is
 * trusted with everything: no password or ACL file applies to it, and it
 * may claim any client id and move any session. Before, any secret was
 * taken, one byte long included, and a wrong one was answered at once,
 * thousands of times a second. Three rules keep the secret from being
 * found by asking:
 *
 * - Length. At least BRIDGE_SECRET_MIN bytes, or ternd does not start
 *   (config.c).
 * - Comparison. The SHA-256 of the password a link presents is compared
 *   with the SHA-256 of the secret, taken once at start, by
 *   mbedtls_ct_memcmp: the time taken depends neither on where they
 *   differ nor on the secret's length, only on the length of what was
 *   presented, which its sender knows.
 * - Slowdown, per source address (IPv6: its /64, as pwcheck.c counts).
 *   After a wrong secret from an address, its next link login is checked
 *   SECRET_DELAY_MIN_MS later at the earliest, each further wrong one
 *   doubles that, up to SECRET_DELAY_MAX_MS, and a right one forgets the
 *   address. The logins of one address are checked one at a time, in
 *   order of arrival: a CONNECT that comes while its address waits is
 *   kept encoded (connect_keep), its connection blocked (BLOCK_LINK,
 *   block.c), and it runs again at its turn from the address's timer, so
 *   the loop never waits. Right and wrong ones wait alike: answering a
 *   right one at once would tell an address that opens many connections
 *   which of its guesses was right before their turns came. So an
 *   address gets one guess per delay however many connections it opens;
 *   at most SECRET_WAIT_MAX of them wait, more are refused at once with
 *   0x89 (server busy), unchecked. connect_timeout still runs while a
 *   login waits; one that goes leaves the queue (secret_conn_gone).
 * - Repeats. A password the address presented before and had refused
 *   (the last SECRET_REPEATS of them) is refused at once and does not
 *   count: it can teach nothing. So a node with a stale secret, which
 *   retries every few seconds, neither makes its own delay grow nor
 *   keeps the nodes that share its address (one host, a NAT) waiting.
 *
 * The table has SECRET_ADDRS entries, scanned (link logins are rare). An
 * address is forgotten SECRET_FORGET_MS after its delay ran out with no
 * login waiting. When the table is full, the least recently seen address
 * with no login waiting goes, which can only loosen the limit for it;
 * when every entry has logins waiting, a login from a new address is
 * refused 0x89, unchecked. Refusals are logged with the peer's address,
 * at most SECRET_LOG_PER_SEC lines a second in all, the rest counted in
 * the next line, so that a flood cannot fill the disk.
 *
 * Limits: a per-address slowdown cannot hold back guesses spread over
 * many addresses, and a node that shares its address with a guesser
 * waits with it. A long random secret is what makes guessing hopeless;
 * this makes asking slow. Cluster listeners belong on a private network.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>

#include "broker.h"
#include "pwhash.h"

#define SECRET_ADDRS 256
#define SECRET_WAIT_MAX 8 /* logins of one address waiting their turn */
#define SECRET_REPEATS 4 /* refused passwords remembered per address */
#define SECRET_DELAY_MIN_MS 1000
#define SECRET_DELAY_MAX_MS 30000
#define SECRET_FORGET_MS (10 * 60 * 1000)
#define SECRET_LOG_PER_SEC 5
#define SECRET_DIGEST 32

struct secret_addr;

/* A link CONNECT waiting for its address's turn. */
struct secret_wait {
	TAILQ_ENTRY(secret_wait) entry;
	struct conn *c;
	struct secret_addr *addr;
	uint8_t *connect; /* the CONNECT, encoded (connect_keep) */
};
TAILQ_HEAD(secret_wait_list, secret_wait);

struct secret_addr {
	uint8_t src[16]; /* IPv4 in the first 4 bytes; IPv6 its /64 */
	uint8_t family; /* AF_INET, AF_INET6; 0: entry free */
	uint8_t n_repeats, repeat_next;
	uint8_t repeats[SECRET_REPEATS][SECRET_DIGEST]; /* refused passwords */
	int64_t next_ms; /* no login is checked before */
	int64_t seen_ms; /* its last login */
	uint32_t delay_ms; /* the last delay; 0: no wrong secret */
	uint32_t wrong; /* wrong secrets since the last right one */
	unsigned n_waiting;
	struct secret_wait_list waiting;
	struct event *timer; /* the turn of the first login waiting */
};

static struct secret_addr *table;
static uint8_t digest[SECRET_DIGEST]; /* SHA-256 of cluster_secret */
static int64_t log_sec;
static unsigned log_lines;
static unsigned long log_skipped;

static int64_t
secret_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line about a refusal of c, unless SECRET_LOG_PER_SEC went out in
 * this second already (then it is counted for the next line). */
static void
secret_log(const struct conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int64_t sec = secret_now_ms() / 1000;

	if (sec != log_sec) {
		log_sec = sec;
		log_lines = 0;
	}
	if (log_lines >= SECRET_LOG_PER_SEC) {
		log_skipped++;
		return;
	}
	log_lines++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (log_skipped > 0)
		log_warn("cluster link from %s refused: %s (and %lu refusals "
		    "not logged before this one)", conn_peer(c), msg,
		    log_skipped);
	else
		log_warn("cluster link from %s refused: %s", conn_peer(c), msg);
	log_skipped = 0;
}

/* c's source address as counted: IPv4 whole, IPv6 its /64. */
static void
secret_source(const struct conn *c, uint8_t src[16], uint8_t *family)
{
	memset(src, 0, 16);
	*family = c->peer_family != 0 ? c->peer_family : 0xff;
	if (c->peer_family == AF_INET)
		memcpy(src, c->peer_addr, 4);
	else if (c->peer_family == AF_INET6)
		memcpy(src, c->peer_addr, 8);
}

/* Forget what a was told: no delay, no refused passwords. */
static void
secret_clear(struct secret_addr *a)
{
	a->delay_ms = 0;
	a->wrong = 0;
	a->next_ms = 0;
	a->n_repeats = 0;
	a->repeat_next = 0;
	mbedtls_platform_zeroize(a->repeats, sizeof a->repeats);
}

/* Arm a's timer for the turn of its first waiting login. */
static void
secret_arm(struct secret_addr *a, int64_t now)
{
	struct timeval tv;
	int64_t ms;

	if (a->n_waiting == 0) {
		if (a->timer != NULL)
			evtimer_del(a->timer);
		return;
	}
	ms = a->next_ms > now ? a->next_ms - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(a->timer, &tv);
}

/* Take w off its address's queue; c forgets it. The caller frees it. */
static void
secret_unwait(struct secret_wait *w)
{
	struct secret_addr *a = w->addr;

	TAILQ_REMOVE(&a->waiting, w, entry);
	a->n_waiting--;
	conn_aux(w->c)->secret_wait = NULL;
}

/* An address's turn: the first login waiting runs again, past the
 * wait, and is checked there (secret_check). */
static void
secret_turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct secret_addr *a = arg;
	struct secret_wait *w = TAILQ_FIRST(&a->waiting);
	struct conn *c;
	uint8_t *buf;
	int rc;

	(void)fd;
	(void)what;
	if (w == NULL)
		return;
	secret_unwait(w);
	c = w->c;
	buf = w->connect;
	free(w);
	conn_aux(c)->secret_turn = 1;
	rc = connect_rerun(c, buf);
	free(buf);
	if (rc != 0)
		conn_close(c, (uint8_t)rc, "CONNECT refused");
	else
		conn_unblock(c, BLOCK_LINK);
	secret_arm(a, secret_now_ms());
}

/* The entry of c's address, or NULL. */
static struct secret_addr *
secret_find(const struct conn *c, int64_t now)
{
	struct secret_addr *a;
	uint8_t src[16], family;
	size_t i;

	secret_source(c, src, &family);
	for (i = 0; i < SECRET_ADDRS; i++) {
		a = &table[i];
		if (a->family != family || memcmp(a->src, src, 16) != 0)
			continue;
		if (a->n_waiting == 0 && now >= a->next_ms + SECRET_FORGET_MS)
			secret_clear(a);
		return a;
	}
	return NULL;
}

/* A new entry for c's address: a free one, else the least recently
 * seen with no login waiting; NULL when every entry has some. */
static struct secret_addr *
secret_take(const struct conn *c)
{
	struct secret_addr *a, *best = NULL;
	size_t i;

	for (i = 0; i < SECRET_ADDRS; i++) {
		a = &table[i];
		if (a->family == 0) {
			best = a;
			break;
		}
		if (a->n_waiting == 0 &&
		    (best == NULL || a->seen_ms < best->seen_ms))
			best = a;
	}
	if (best == NULL)
		return NULL;
	secret_clear(best);
	secret_source(c, best->src, &best->family);
	return best;
}

/* 1 when a had the password of digest d refused before. */
static int
secret_repeat(const struct secret_addr *a, const uint8_t *d)
{
	unsigned i;

	for (i = 0; i < a->n_repeats; i++) {
		if (memcmp(a->repeats[i], d, SECRET_DIGEST) == 0)
			return 1;
	}
	return 0;
}

/* Keep c's CONNECT until a's turn; c is blocked meanwhile. */
static void
secret_hold(struct secret_addr *a, struct conn *c,
    const struct mqtt_packet *pkt, int64_t now)
{
	struct secret_wait *w = xcalloc(1, sizeof *w);

	w->c = c;
	w->addr = a;
	w->connect = connect_keep(pkt);
	TAILQ_INSERT_TAIL(&a->waiting, w, entry);
	a->n_waiting++;
	conn_aux(c)->secret_wait = w;
	conn_block(c, BLOCK_LINK);
	secret_arm(a, now);
}

/* A wrong secret from a (its digest d): the next login waits longer. */
static void
secret_wrong(struct secret_addr *a, const struct conn *c, const uint8_t *d,
    int64_t now)
{
	a->wrong++;
	if (a->delay_ms == 0)
		a->delay_ms = SECRET_DELAY_MIN_MS;
	else if (a->delay_ms < SECRET_DELAY_MAX_MS / 2)
		a->delay_ms *= 2;
	else
		a->delay_ms = SECRET_DELAY_MAX_MS;
	a->next_ms = now + a->delay_ms;
	memcpy(a->repeats[a->repeat_next], d, SECRET_DIGEST);
	a->repeat_next = (uint8_t)((a->repeat_next + 1) % SECRET_REPEATS);
	if (a->n_repeats < SECRET_REPEATS)
		a->n_repeats++;
	secret_log(c, "wrong cluster_secret (%u from this address since "
	    "the last right one; its next link login is checked in %u ms)",
	    a->wrong, a->delay_ms);
	secret_arm(a, now);
}

int
secret_init(void)
{
	const char *s = srv.cfg.cluster_secret;
	size_t i;

	if (pwhash_sha256((const uint8_t *)s, strlen(s), digest) != 0) {
		log_error("cluster_secret: cannot hash it");
		return -1;
	}
	table = xcalloc(SECRET_ADDRS, sizeof *table);
	for (i = 0; i < SECRET_ADDRS; i++) {
		TAILQ_INIT(&table[i].waiting);
		table[i].timer = evtimer_new(srv.base, secret_turn_cb,
		    &table[i]);
	}
	return 0;
}

int
secret_check(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	struct secret_addr *a;
	uint8_t d[SECRET_DIGEST];
	int64_t now = secret_now_ms();
	int turn = conn_ax(c)->secret_turn;

	conn_aux(c)->secret_turn = 0;
	/* No password is checked as an empty one: wrong, and counted. */
	if (pwhash_sha256(cp->has_password ? cp->password.p :
	    (const uint8_t *)"", cp->has_password ? cp->password.len : 0,
	    d) != 0)
		return MQTT_RC_UNSPECIFIED;
	if ((a = secret_find(c, now)) == NULL &&
	    (a = secret_take(c)) == NULL) {
		secret_log(c, "link logins from %u addresses are waiting "
		    "already", SECRET_ADDRS);
		return MQTT_RC_SERVER_BUSY;
	}
	a->seen_ms = now;
	if (secret_repeat(a, d)) {
		secret_log(c, "wrong cluster_secret (the same as before)");
		return MQTT_RC_BAD_USER_OR_PASSWORD;
	}
	if (!turn && (a->n_waiting > 0 || now < a->next_ms)) {
		if (a->n_waiting >= SECRET_WAIT_MAX) {
			secret_log(c, "%u link logins of its address are "
			    "waiting already", SECRET_WAIT_MAX);
			return MQTT_RC_SERVER_BUSY;
		}
		secret_hold(a, c, pkt, now);
		return -1;
	}
	if (mbedtls_ct_memcmp(d, digest, SECRET_DIGEST) != 0) {
		secret_wrong(a, c, d, now);
		return MQTT_RC_BAD_USER_OR_PASSWORD;
	}
	mbedtls_platform_zeroize(d, sizeof d);
	/* Right: the address starts afresh, and the logins waiting behind
	 * this one are checked now, one by one. */
	secret_clear(a);
	if (a->n_waiting == 0)
		a->family = 0;
	secret_arm(a, now);
	return 0;
}

void
secret_conn_gone(struct conn *c)
{
	struct secret_wait *w = conn_ax(c)->secret_wait;
	struct secret_addr *a;

	if (w == NULL)
		return;
	a = w->addr;
	secret_unwait(w);
	free(w->connect);
	free(w);
	secret_arm(a, secret_now_ms());
}

void
secret_free(void)
{
	struct secret_wait *w;
	size_t i;

	if (table == NULL)
		return;
	for (i = 0; i < SECRET_ADDRS; i++) {
		while ((w = TAILQ_FIRST(&table[i].waiting)) != NULL) {
			secret_unwait(w);
			free(w->connect);
			free(w);
		}
		event_free(table[i].timer);
	}
	free(table);
	table = NULL;
	mbedtls_platform_zeroize(digest, sizeof digest);
}
