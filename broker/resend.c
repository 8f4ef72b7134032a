/*
 * resend.c - a refused message and its resend are one message.
 *
 * A client's QoS 1 message goes to online subscribers as it is routed,
 * before the store commit its PUBACK waits for (holding every delivery
 * for the commit was measured to cost p2p latency 5-10x:
 * docs/BENCHMARKS.md); so do the QoS 0 and QoS 1 deliveries of a QoS 2
 * message (only QoS 2 deliveries are held, deliver_settle). When that
 * commit fails (a full disk, an I/O error) the publisher is refused (v5:
 * 0x80; 3.1.1: disconnected, gate.c) and sends the message again, while
 * some subscribers already have it. So:
 *
 * - While its commit is pending, a client's QoS 1/2 message notes every
 *   client session it is sent to (resend_track, resend_sent: a 64-bit
 *   hash of the client id each), and only those: a copy still queued is
 *   dropped when the message is refused (deliver_pump, msg.refused).
 * - Committed: the notes go (resend_done). Refused: the message and its
 *   notes are kept under its publisher's client id (resend_refused), at
 *   most RESEND_PER_CLIENT per publisher, RESEND_MAX in all, for
 *   RESEND_SECS.
 * - A QoS 1/2 PUBLISH from that client with the same topic and payload
 *   is the resend (resend_adopt): it shares the refused message's notes
 *   and takes its cluster identity, so routing passes over the sessions
 *   that had it (resend_had) and other nodes recognise it by its
 *   identity (deliver_seen). A message refused again and again is one
 *   chain of attempts with one set of notes (struct msg_track, held by
 *   every attempt): a session may hold the copy of any attempt, and
 *   what it does with that copy (resend_unnote) changes the notes the
 *   next attempt reads.
 *
 * A persistent session passed over whose copy is still in flight gets its
 * row written again (resend_restore): the refused batch had it, so
 * without the resend's commit it would be gone after a disconnect.
 *
 * Bounds: RESEND_PER_CLIENT refused messages per publisher, RESEND_MAX
 * and RESEND_BYTES_MAX in all, RESEND_SECS each (expired when the next
 * one is refused or adopted).
 *
 * The cost outside failures: a flag test per send, and an array of
 * hashes per message that wrote, freed at its commit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

#define RESEND_PER_CLIENT 16
#define RESEND_MAX 4096
#define RESEND_BYTES_MAX (64u << 20) /* payloads kept, in all */
#define RESEND_SECS 300

struct msg_track {
	uint32_t refs; /* the attempts that hold it */
	uint32_t n, cap;
	uint32_t n_sorted; /* h[0..n_sorted) sorted: the refused copies' */
	uint64_t *h;
};

struct refused {
	TAILQ_ENTRY(refused) entry; /* all, oldest first */
	char *client_id;
	size_t id_len;
	struct msg *m;
	time_t at;
};

TAILQ_HEAD(refused_list, refused);

static struct refused_list all = TAILQ_HEAD_INITIALIZER(all);
static unsigned n_all;
static uint64_t all_bytes;

static uint64_t
resend_key(const struct session *s)
{
	/* Kept by the session: resend_sent asks it once per delivery. */
	return s->id_hash != 0 ? s->id_hash :
	    hash_bytes(s->client_id, s->id_len);
}

/*
 * While the message being routed is noted, its notes go to a scratch
 * array first: most routings write nothing to the store, and then the
 * notes are dropped at once (resend_done), so that allocating, growing
 * and freeing an array per message was for nothing. Only when the
 * publisher's ack does wait for a commit are they copied to the message
 * (resend_keep); what is sent later goes to the message's own array.
 */
#define SCRATCH_MAX 256

static const struct msg *scratch_of; /* whose notes scratch holds */
static uint64_t scratch[SCRATCH_MAX];
static uint32_t scratch_n;

static void resend_note(struct msg *m, uint64_t key);

void
resend_track(struct msg *m)
{
	m->tracking = 1;
	scratch_of = m;
	scratch_n = 0;
}

void
resend_keep(struct msg *m)
{
	uint32_t i, n = scratch_n;

	if (scratch_of != m)
		return;
	scratch_of = NULL;
	for (i = 0; i < n; i++)
		resend_note(m, scratch[i]);
}

void
resend_sent(struct msg *m, const struct session *s)
{
	uint64_t key;

	if (session_cl(s)->peer != NULL || session_cl(s)->cluster_in)
		return; /* other nodes know it by its identity */
	key = resend_key(s);
	if (scratch_of == m && m->track == NULL &&
	    scratch_n < SCRATCH_MAX) {
		scratch[scratch_n++] = key;
		return;
	}
	/* A large fan-out: the notes so far go to the message's own array
	 * (nothing when the scratch is not m's), then this one. */
	resend_keep(m);
	resend_note(m, key);
}

static void
resend_note(struct msg *m, uint64_t key)
{
	struct msg_track *t = m->track;

	if (t == NULL) {
		t = xcalloc(1, sizeof *t);
		t->refs = 1;
		m->track = t;
	}
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 4 : t->cap * 2;
		t->h = xrealloc(t->h, t->cap * sizeof t->h[0]);
	}
	t->h[t->n++] = key;
}

/*
 * s drops its copy of m from memory (it went offline: persist_evict)
 * while m's commit is pending or m was refused: the copy's row may be in
 * a batch that fails, so s no longer counts as having m, and a resend
 * reaches it again (at worst a second QoS 1 copy, which QoS 1 allows;
 * QoS 2 copies are not sent before the commit). Without this, a
 * session evicted with the refused copy in flight was passed over by
 * the resend and never got the message (found by the fault soak). m may
 * be any attempt of a chain: the notes are the chain's, so a copy of the
 * first attempt unnotes the session for the one being resent now.
 */
void
resend_unnote(struct msg *m, const struct session *s)
{
	struct msg_track *t = m->track;
	uint64_t key = resend_key(s);
	uint32_t i;

	if (scratch_of == m) {
		for (i = 0; i < scratch_n; i++) {
			if (scratch[i] == key) {
				scratch[i] = scratch[--scratch_n];
				i--;
			}
		}
	}
	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		if (t->h[i] != key)
			continue;
		/* Keeps h[0..n_sorted) sorted. */
		memmove(&t->h[i], &t->h[i + 1], (t->n - i - 1) *
		    sizeof t->h[0]);
		t->n--;
		if (i < t->n_sorted)
			t->n_sorted--;
		i--;
	}
}

void
resend_track_free(struct msg_track *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	free(t->h);
	free(t);
}

void
resend_done(struct msg *m)
{
	if (scratch_of == m)
		scratch_of = NULL;
	m->tracking = 0;
	resend_track_free(m->track);
	m->track = NULL;
}

static int
resend_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
resend_forget(struct refused *r)
{
	TAILQ_REMOVE(&all, r, entry);
	n_all--;
	all_bytes -= r->m->payload_len;
	msg_unref(r->m);
	free(r->client_id);
	free(r);
}

static void
resend_expire(time_t now)
{
	struct refused *r;

	while ((r = TAILQ_FIRST(&all)) != NULL &&
	    (now - r->at > RESEND_SECS || n_all > RESEND_MAX ||
	    all_bytes > RESEND_BYTES_MAX))
		resend_forget(r);
}

void
resend_refused(const char *client_id, struct msg *m)
{
	struct refused *r, *oldest = NULL;
	size_t len = strlen(client_id);
	unsigned n = 0;

	m->tracking = 0;
	m->refused = 1; /* queued copies are dropped (deliver_pump) */
	if (m->track != NULL)
		qsort(m->track->h, m->track->n, sizeof m->track->h[0],
		    resend_cmp);
	if (m->track != NULL)
		m->track->n_sorted = m->track->n;
	TAILQ_FOREACH(r, &all, entry) {
		if (r->id_len == len && memcmp(r->client_id, client_id,
		    len) == 0 && n++ == 0)
			oldest = r;
	}
	if (n >= RESEND_PER_CLIENT)
		resend_forget(oldest);
	r = xcalloc(1, sizeof *r);
	r->client_id = xstrndup(client_id, len);
	r->id_len = len;
	r->m = msg_ref(m);
	r->at = time(NULL);
	TAILQ_INSERT_TAIL(&all, r, entry);
	n_all++;
	all_bytes += m->payload_len;
	resend_expire(r->at);
}

/* 1 when a and b have the same topic and payload. */
static int
resend_same(const struct msg *a, const struct msg *b)
{
	return a->topic_len == b->topic_len &&
	    a->payload_len == b->payload_len &&
	    memcmp(a->topic, b->topic, a->topic_len) == 0 &&
	    memcmp(a->payload, b->payload, a->payload_len) == 0;
}

void
resend_adopt(const struct session *publisher, struct msg *m)
{
	struct refused *r;
	struct msg *old;

	if (TAILQ_EMPTY(&all))
		return;
	resend_expire(time(NULL));
	TAILQ_FOREACH_REVERSE(r, &all, refused_list, entry) {
		old = r->m;
		if (r->id_len == publisher->id_len &&
		    memcmp(r->client_id, publisher->client_id,
		    r->id_len) == 0 && resend_same(old, m))
			break;
	}
	if (r == NULL)
		return;
	log_debug("message from %s on %s: the resend of a refused one",
	    publisher->client_id, m->topic);
	resend_track_free(m->track);
	m->track = old->track;
	if (m->track != NULL)
		m->track->refs++;
	m->id_origin = old->id_origin;
	m->id_seq = old->id_seq;
	/* Local sessions are decided by the notes (resend_had), not by
	 * identity: one whose copy was held or queued, and dropped with
	 * the refusal, has the identity in its window all the same. */
	m->resent = 1;
	resend_forget(r);
}

void
resend_restore(const struct msg *m, struct session *s)
{
	struct delivery *d;

	if (!m->resent || !s->persistent || srv.store == NULL)
		return;
	/* Its copy of a refused attempt is in flight, but its row was in
	 * that attempt's failed batch: written again, with this commit. Any
	 * attempt's: one whose copy waited in the queue at the first went
	 * with that refusal, and a later one was sent to it (found by the
	 * fault soak). */
	TAILQ_FOREACH(d, &s->inflight, entry) {
		if (d->msg->refused && resend_same(d->msg, m)) {
			persist_queue(s, d);
			return;
		}
	}
}

int
resend_had(const struct msg *m, const struct session *s)
{
	const struct msg_track *t = m->track;
	uint64_t key;
	size_t lo, hi, mid;

	if (t == NULL || t->n_sorted == 0 || session_cl(s)->peer != NULL)
		return 0;
	key = resend_key(s);
	lo = 0;
	hi = t->n_sorted;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->h[mid] == key)
			return 1;
		if (t->h[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void
resend_free_all(void)
{
	struct refused *r;

	while ((r = TAILQ_FIRST(&all)) != NULL)
		resend_forget(r);
}
