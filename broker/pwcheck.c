/*
 * pwcheck.c - password hashes (and token signatures) computed off the
 * event loop.
 *
 * Design note. A PBKDF2 check costs what its iteration count says (about
 * 120 ms at the default 100000) and passwd.c can answer most CONNECTs
 * from a cached proof, but not the first of each user after a start or
 * a reload, nor a wrong password for a user not cached yet. Computed on
 * the loop, each of those stopped every client of the node for that
 * long, and anyone who knows a user name could repeat it at will.
 *
 * So auth.c hands such a check to one worker thread (as the store does
 * its disk work, after Redis's bio.c): pwcheck_start() keeps the CONNECT
 * encoded, with copies of the user name, password and the user's hash,
 * and the connection is blocked until the answer (BLOCK_AUTH, block.c).
 * The worker runs the hashes one at a time in FIFO order and reports
 * through an eventfd the loop watches; the loop then calls
 * auth_password_checked(), which caches the proof and runs the kept
 * CONNECT again past the password, or refuses it.
 *
 * Bounds: at most PWCHECK_MAX checks wait, and at most
 * PWCHECK_PER_SOURCE of them for one source address (IPv6: its /64, what
 * one host is given), so that one address cannot take every place and
 * lock everyone's first login out: what it costs the others is at most
 * PWCHECK_PER_SOURCE checks ahead of theirs. Past either bound a CONNECT
 * that needs a check is refused at once with 0x89 Server busy (3.1.1: 3,
 * server unavailable), so a flood of logins costs a queue of fixed size
 * and one core, never the loop. The per-address share is a quarter of
 * the queue: a carrier NAT that puts many users behind one address
 * still gets 16 first logins at a time, and the rest retry (clients do,
 * after 0x89). A few addresses together can still fill the queue (four
 * at a quarter each): then a check from an address that holds fewer
 * takes the place of the newest waiting check of the address that
 * holds the most (pwcheck_evict; that CONNECT gets 0x89), so a flood
 * from a few addresses cannot lock another address out either.
 * connect_timeout still runs while a check waits;
 * a connection that goes (timeout, peer closed) takes its job out of
 * the queue if the worker has not started it, else leaves it behind with
 * c set to NULL, and the answer is dropped.
 *
 * The same worker checks the signatures of RS256 and ES256 tokens
 * (jwt.c): a job with a key holds the token as its password, the token's
 * user name as its user, and one reference to the key it was queued
 * with, released when the job is freed (on the loop). Tokens and
 * passwords share the queue and its bounds, so that a flood of either
 * costs the others the same, at most PWCHECK_PER_SOURCE checks each.
 *
 * Threads: only the worker touches a job's hash fields and ok between
 * the hand-over and its return on the done list (both under mtx); c and
 * connect belong to the loop thread.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "broker.h"
#include "pwhash.h"

/* Checks that may wait for the worker. */
#define PWCHECK_MAX 64
#define PWCHECK_PER_SOURCE (PWCHECK_MAX / 4)

struct pwjob {
	TAILQ_ENTRY(pwjob) entry;
	TAILQ_ENTRY(pwjob) live_entry; /* loop thread: every job not freed */
	uint8_t src[16]; /* the source address (IPv6: its /64) */
	uint8_t src_family;
	struct conn *c; /* loop thread; NULL once the connection is gone */
	uint8_t *connect; /* the CONNECT, encoded (connect_keep) */
	char *user;
	size_t ulen;
	uint8_t *pw;
	size_t pwlen;
	uint8_t version; /* the CONNECT's protocol version */
	struct pwhash h; /* the user's hash when the check was asked */
	struct jwt_key *key; /* or: a token's, to check pw against */
	int ok; /* the worker's answer */
};
TAILQ_HEAD(pwjob_list, pwjob);

TAILQ_HEAD(pwjob_live, pwjob);

static struct pwjob_live live = TAILQ_HEAD_INITIALIZER(live);
static struct pwjob_list todo = TAILQ_HEAD_INITIALIZER(todo);
static struct pwjob_list done = TAILQ_HEAD_INITIALIZER(done);
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static int started, stopping;
static int efd = -1;
static struct event *done_ev;
static unsigned n_jobs; /* loop thread: started, not yet answered */
static uint64_t n_computed; /* loop thread: answers come back */
static uint64_t n_abandoned; /* loop thread: dropped before computed */

static void
pwjob_free(struct pwjob *j)
{
	TAILQ_REMOVE(&live, j, live_entry);
	if (j->pw != NULL)
		mbedtls_platform_zeroize(j->pw, j->pwlen);
	free(j->pw);
	free(j->user);
	free(j->connect);
	mbedtls_platform_zeroize(&j->h, sizeof j->h);
	jwt_key_release(j->key);
	free(j);
}

static void *
pwcheck_main(void *arg)
{
	struct pwjob *j;
	uint64_t one = 1;
	int was_empty;

	(void)arg;
	pthread_mutex_lock(&mtx);
	for (;;) {
		while (TAILQ_EMPTY(&todo) && !stopping)
			pthread_cond_wait(&work, &mtx);
		if (stopping)
			break;
		j = TAILQ_FIRST(&todo);
		TAILQ_REMOVE(&todo, j, entry);
		pthread_mutex_unlock(&mtx);
		if (j->key != NULL)
			j->ok = jwt_signature_ok(j->key, j->pw, j->pwlen);
		else
			j->ok = pwhash_verify(&j->h, j->pw, j->pwlen);
		pthread_mutex_lock(&mtx);
		was_empty = TAILQ_EMPTY(&done);
		TAILQ_INSERT_TAIL(&done, j, entry);
		if (was_empty && write(efd, &one, sizeof one) != sizeof one &&
		    errno != EAGAIN)
			abort();
	}
	pthread_mutex_unlock(&mtx);
	return NULL;
}

/* Loop thread: answers are in. */
static void
pwcheck_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pwjob_list list = TAILQ_HEAD_INITIALIZER(list);
	struct pwjob *j;
	uint64_t n;

	(void)what;
	(void)arg;
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_error("password checks: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&mtx);
	TAILQ_CONCAT(&list, &done, entry);
	pthread_mutex_unlock(&mtx);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		n_jobs--;
		n_computed++;
		if (j->c != NULL && j->key != NULL) {
			conn_aux(j->c)->pw_job = NULL;
			auth_jwt_checked(j->c, j->ok, j->user, j->connect,
			    j->version);
		} else if (j->c != NULL) {
			conn_aux(j->c)->pw_job = NULL;
			auth_password_checked(j->c, j->ok, j->user, j->ulen,
			    &j->h, j->pw, j->pwlen, j->connect, j->version);
		}
		pwjob_free(j);
	}
}

static int
pwcheck_init(void)
{
	if (started)
		return 0;
	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_error("password checks: eventfd: %s", strerror(errno));
		return -1;
	}
	done_ev = event_new(srv.base, efd, EV_READ | EV_PERSIST,
	    pwcheck_done_cb, NULL);
	event_add(done_ev, NULL);
	if ((errno = pthread_create(&thread, NULL, pwcheck_main, NULL)) !=
	    0) {
		log_error("password checks: cannot start a thread: %s",
		    strerror(errno));
		event_free(done_ev);
		done_ev = NULL;
		close(efd);
		efd = -1;
		return -1;
	}
	started = 1;
	return 0;
}

/* c's source address as counted: IPv4 whole, IPv6 its /64. */
static void
pwcheck_source(const struct conn *c, uint8_t src[16], uint8_t *family)
{
	memset(src, 0, 16);
	*family = c->peer_family;
	if (c->peer_family == AF_INET)
		memcpy(src, c->peer_addr, 4);
	else if (c->peer_family == AF_INET6)
		memcpy(src, c->peer_addr, 8);
}

/* Checks of c's source address in the queue or being computed. */
static unsigned
pwcheck_source_count(const struct conn *c)
{
	uint8_t src[16], family;
	struct pwjob *j;
	unsigned n = 0;

	pwcheck_source(c, src, &family);
	if (family == 0)
		return 0;
	TAILQ_FOREACH(j, &live, live_entry) {
		if (j->c != NULL && j->src_family == family &&
		    memcmp(j->src, src, 16) == 0)
			n++;
	}
	return n;
}

/* The queue is full and c needs a check: the newest waiting check of
 * the address that holds the most (at least two more than c's) is
 * refused 0x89 to make room. Returns 1 when a place was freed. */
static int
pwcheck_evict(const struct conn *c)
{
	struct pwjob *j, *q, *victim = NULL;
	unsigned n, most = 0, mine = pwcheck_source_count(c);
	struct conn *vc;

	pthread_mutex_lock(&mtx);
	TAILQ_FOREACH_REVERSE(j, &todo, pwjob_list, entry) {
		if (j->c == NULL || j->src_family == 0)
			continue;
		n = 0;
		TAILQ_FOREACH(q, &live, live_entry) {
			if (q->c != NULL && q->src_family == j->src_family &&
			    memcmp(q->src, j->src, 16) == 0)
				n++;
		}
		if (n > most) {
			most = n;
			victim = j;
		}
	}
	pthread_mutex_unlock(&mtx);
	if (victim == NULL || most < mine + 2)
		return 0;
	vc = victim->c;
	log_notice("client (%s) refused: its place among the password or "
	    "token checks goes to %s (its address holds %u)", conn_peer(vc),
	    conn_peer(c), most);
	handle_connect_refuse(vc, victim->version, MQTT_RC_SERVER_BUSY);
	conn_close(vc, MQTT_RC_SERVER_BUSY, "password check queue full");
	return n_jobs < PWCHECK_MAX;
}

/* A job for c's CONNECT pkt, user and password pw, queued at once by
 * pwcheck_queue(); or NULL with *rc set to refuse with. */
static struct pwjob *
pwcheck_new(struct conn *c, const struct mqtt_packet *pkt, const char *user,
    size_t ulen, const uint8_t *pw, size_t pwlen, int *rc)
{
	struct pwjob *j;

	if (n_jobs >= PWCHECK_MAX && !pwcheck_evict(c)) {
		log_notice("client (%s) refused: %u password or token checks "
		    "are waiting already", conn_peer(c), n_jobs);
		*rc = MQTT_RC_SERVER_BUSY;
		return NULL;
	}
	if (pwcheck_source_count(c) >= PWCHECK_PER_SOURCE) {
		log_notice("client (%s) refused: %u password or token checks "
		    "of its address are waiting already", conn_peer(c),
		    PWCHECK_PER_SOURCE);
		*rc = MQTT_RC_SERVER_BUSY;
		return NULL;
	}
	if (pwcheck_init() != 0) {
		*rc = MQTT_RC_SERVER_UNAVAILABLE;
		return NULL;
	}
	j = xcalloc(1, sizeof *j);
	j->c = c;
	pwcheck_source(c, j->src, &j->src_family);
	TAILQ_INSERT_TAIL(&live, j, live_entry);
	j->connect = connect_keep(pkt);
	j->user = xmemdup(user, ulen);
	j->ulen = ulen;
	j->pw = xmemdup(pw, pwlen);
	j->pwlen = pwlen;
	j->version = pkt->u.connect.version;
	return j;
}

static void
pwcheck_queue(struct conn *c, struct pwjob *j)
{
	conn_aux(c)->pw_job = j;
	conn_block(c, BLOCK_AUTH);
	n_jobs++;
	pthread_mutex_lock(&mtx);
	TAILQ_INSERT_TAIL(&todo, j, entry);
	pthread_cond_signal(&work);
	pthread_mutex_unlock(&mtx);
}

int
pwcheck_start(struct conn *c, const struct mqtt_packet *pkt,
    const struct pwhash *h)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	struct pwjob *j;
	int rc;

	j = pwcheck_new(c, pkt, (const char *)cp->username.p,
	    cp->username.len, cp->password.p, cp->password.len, &rc);
	if (j == NULL)
		return rc;
	j->h = *h;
	pwcheck_queue(c, j);
	return 0;
}

int
pwcheck_start_jwt(struct conn *c, const struct mqtt_packet *pkt,
    const char *user)
{
	const struct mqtt_connect *cp = &pkt->u.connect;
	struct pwjob *j;
	int rc;

	/* user with its NUL: auth_jwt_checked() takes it as a string. */
	j = pwcheck_new(c, pkt, user, strlen(user) + 1, cp->password.p,
	    cp->password.len, &rc);
	if (j == NULL)
		return rc;
	j->key = jwt_key_hold();
	pwcheck_queue(c, j);
	return 0;
}

void
pwcheck_conn_gone(struct conn *c)
{
	struct pwjob *j = conn_ax(c)->pw_job, *q;

	if (j == NULL)
		return;
	conn_aux(c)->pw_job = NULL;
	j->c = NULL;
	/* Still waiting for the worker: dropped, so that connections that
	 * send a CONNECT and go do not hold the queue (a lockout for a
	 * few kilobytes). One being computed finishes; its answer is
	 * dropped. */
	pthread_mutex_lock(&mtx);
	TAILQ_FOREACH(q, &todo, entry) {
		if (q == j)
			break;
	}
	if (q != NULL)
		TAILQ_REMOVE(&todo, j, entry);
	pthread_mutex_unlock(&mtx);
	if (q != NULL) {
		n_jobs--;
		n_abandoned++;
		pwjob_free(j);
	}
}

void
pwcheck_stop(void)
{
	struct pwjob *j;

	if (!started)
		return;
	pthread_mutex_lock(&mtx);
	stopping = 1;
	pthread_cond_signal(&work);
	pthread_mutex_unlock(&mtx);
	pthread_join(thread, NULL);
	TAILQ_CONCAT(&todo, &done, entry);
	while ((j = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, j, entry);
		if (j->c != NULL)
			conn_aux(j->c)->pw_job = NULL;
		pwjob_free(j);
	}
	event_free(done_ev);
	done_ev = NULL;
	close(efd);
	efd = -1;
	n_jobs = 0;
	started = stopping = 0;
}

unsigned
pwcheck_waiting(void)
{
	return n_jobs;
}

void
pwcheck_counts(uint64_t *computed, uint64_t *abandoned)
{
	*computed = n_computed;
	*abandoned = n_abandoned;
}
