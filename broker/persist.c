/*
 * persist.c - the durability contract: what the broker writes to the
 * store, and when acknowledgements may go out.
 *
 * DESIGN (DESIGN.md "Durability contract", STYLE.md 9)
 *
 * What is written: rows for persistent sessions only (3.1.1 clean session
 * 0, v5 with a session expiry): the session, its subscriptions, each
 * QoS 1/2 delivery queued to it (the message body once per store batch
 * that references it, the store counts references), PUBREC received,
 * delivery done, incoming QoS 2 ids; and retained messages. A message
 * whose subscribers all hold clean sessions never reaches the store.
 *
 * When: writes go into the store's open batch as they happen, on the loop
 * thread, with no I/O. The first write of a loop pass activates flush_ev,
 * which libevent runs after the pass's other callbacks (same priority,
 * appended to the active queue); it closes the batch with store_commit().
 * The store thread writes the batch as one transaction.
 *
 * Acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK)
 * that depend on a write wait in the ack gate (gate.c) for the commit of
 * the batch their packet wrote to; each completion here tells the gate
 * (gate_committed), which sends them in order or, when the commit
 * failed, decides their fate. srv.writes counts the writes, so the gate
 * knows which packets wrote.
 *
 * Packet ids of deliveries derive from their queue position (deliver.c),
 * so a message resent after a restart keeps its packet id and a QoS 2
 * receiver recognises it; the SENT state needs no write.
 *
 * Start-up: sessions, subscriptions, QoS 2 ids and retained messages are
 * loaded; queue rows are not. A session resumed with rows on disk reads
 * them back in chunks (persist_load_queue) and they are queued ahead of
 * anything newer; deliver_pump() holds newer messages back until then.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "store.h"

#define PERSIST_READ_CHUNK 256
#define PERSIST_EXPIRE_SECS 60

static int flush_armed; /* flush_ev activated for this pass */
static void persist_reads_after_commit(void);

/*
 * Commit latency, for the metrics: the time of each batch's close, by
 * generation in a ring (commits complete in order), read back at its
 * completion. Two clock reads per commit, on the loop thread, no lock; a
 * commit whose slot was reused (more than COMMIT_RING outstanding) is
 * not measured.
 */
#define COMMIT_RING 64
const double persist_commit_le[PERSIST_COMMIT_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2
};
static struct timespec commit_started[COMMIT_RING];
static struct persist_commit_stats commit_stats;

static struct persist_commit_stats read_stats;

/* Count the time since t in st. */
static void
persist_measure(struct persist_commit_stats *st, const struct timespec *t)
{
	struct timespec now;
	double secs;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - t->tv_sec) +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e9;
	for (i = 0; i < PERSIST_COMMIT_BUCKETS; i++) {
		if (secs <= persist_commit_le[i]) {
			st->bucket[i]++;
			break;
		}
	}
	st->count++;
	st->sum += secs;
}

static void
persist_commit_measure(uint64_t gen, int ok)
{
	if (!ok)
		commit_stats.failures++;
	if (srv.batch_gen - gen >= COMMIT_RING)
		return;
	persist_measure(&commit_stats, &commit_started[gen % COMMIT_RING]);
}

const struct persist_commit_stats *
persist_read_stats(void)
{
	return &read_stats;
}

const struct persist_commit_stats *
persist_commit_stats(void)
{
	return &commit_stats;
}

static void
persist_flush_cb(evutil_socket_t fd, short what, void *arg);
static void persist_park_failed(uint64_t gen);

/* A write went into the open batch. */
static void
persist_arm(void)
{
	if (!flush_armed) {
		flush_armed = 1;
		event_active(srv.flush_ev, EV_TIMEOUT, 1);
	}
}

static void
persist_wrote(void)
{
	srv.writes++;
	persist_arm();
}

/* A write of s's queue or QoS 2 ids: persist_park goes by the batch of
 * its last one. */
static void
persist_wrote_for(struct session *s)
{
	session_durable(s)->write_gen = srv.batch_gen + 1;
	persist_wrote();
}

static int
persist_on(const struct session *s)
{
	return srv.store != NULL && !srv.loading &&
	    (s == NULL || s->persistent);
}

/* Write m's body into the open batch unless it is there already. */
static void
persist_body(struct msg *m)
{
	struct store_msg sm;
	uint8_t stack[256], *blob;
	uint32_t len;

	if (m->store_id == 0)
		m->store_id = ++srv.next_msg_id;
	if (m->put_gen == srv.batch_gen + 1)
		return;
	m->put_gen = srv.batch_gen + 1;
	len = msg_pack_size(m);
	blob = len <= sizeof stack ? stack : xmalloc(len);
	memset(&sm, 0, sizeof sm);
	sm.id = m->store_id;
	sm.topic = m->topic;
	sm.topic_len = m->topic_len;
	sm.payload = m->payload;
	sm.payload_len = m->payload_len;
	sm.qos = m->qos;
	sm.retain = m->retain;
	sm.props = blob;
	sm.props_len = msg_pack(m, blob);
	sm.received_at = (int64_t)m->received;
	sm.expiry_at = m->has_expiry ? (int64_t)m->received + m->expiry : 0;
	store_msg_put(srv.store, &sm);
	if (blob != stack)
		free(blob);
}

/*
 * A will in the session row, so that a crash does not lose it: version
 * byte (1), QoS, retain, Will Delay Interval (4 bytes), then topic (2-byte
 * length), payload and the travelling properties (msg_pack; 4-byte
 * lengths), all big endian. Returns the length (0: no will); *out is
 * allocated.
 */
static uint32_t
persist_will_pack(const struct session *s, uint8_t **out)
{
	const struct msg *m = s->will;
	uint32_t plen, len;
	uint8_t *p;

	if (m == NULL || m->topic_len > 65535)
		return 0;
	plen = msg_pack_size(m);
	len = 7 + 2 + m->topic_len + 4 + m->payload_len + 4 + plen;
	p = *out = xmalloc(len);
	p[0] = 1;
	p[1] = m->qos;
	p[2] = m->retain;
	bridge_put32(p + 3, s->will_delay);
	p[7] = (uint8_t)(m->topic_len >> 8);
	p[8] = (uint8_t)m->topic_len;
	memcpy(p + 9, m->topic, m->topic_len);
	p += 9 + m->topic_len;
	bridge_put32(p, m->payload_len);
	if (m->payload_len > 0)
		memcpy(p + 4, m->payload, m->payload_len);
	p += 4 + m->payload_len;
	bridge_put32(p, plen);
	msg_pack(m, p + 4);
	return len;
}

/* The will of a session row (persist_will_pack), or NULL. */
static struct msg *
persist_will_unpack(const uint8_t *p, uint32_t len, uint32_t *delay)
{
	struct store_msg sm;
	const uint8_t *end = p + len;
	uint32_t n;

	if (len < 9 || p[0] != 1)
		return NULL;
	memset(&sm, 0, sizeof sm);
	sm.qos = p[1];
	sm.retain = p[2];
	*delay = bridge_get32(p + 3);
	n = (uint32_t)p[7] << 8 | p[8];
	p += 9;
	if ((size_t)(end - p) < (size_t)n + 4)
		return NULL;
	sm.topic = (const char *)p;
	sm.topic_len = n;
	p += n;
	n = bridge_get32(p);
	p += 4;
	if ((size_t)(end - p) < (size_t)n + 4)
		return NULL;
	sm.payload = p;
	sm.payload_len = n;
	p += n;
	n = bridge_get32(p);
	p += 4;
	if ((size_t)(end - p) != n)
		return NULL;
	sm.props = p;
	sm.props_len = n;
	sm.received_at = (int64_t)time(NULL);
	return msg_from_store(&sm);
}

void
persist_session(struct session *s)
{
	struct store_session ss;
	uint8_t *will = NULL;

	if (!persist_on(s))
		return;
	memset(&ss, 0, sizeof ss);
	ss.client_id = s->client_id;
	ss.id_len = s->id_len;
	ss.expiry = s->expiry;
	ss.disconnected_at = s->conn != NULL ? 0 : (int64_t)time(NULL);
	ss.version = s->conn != NULL ? s->conn->version : 0;
	ss.will_len = persist_will_pack(s, &will);
	ss.will = will;
	/* The user goes with the session, so that the ACL holds for its
	 * queue while it is offline after a restart as well. */
	if (s->user_known && s->username != NULL) {
		ss.user_kind = STORE_USER_NAMED;
		ss.user = s->username;
		ss.user_len = strlen(s->username);
	} else if (s->user_known) {
		ss.user_kind = STORE_USER_ANONYMOUS;
	}
	store_session_put(srv.store, &ss);
	free(will);
	s->stored = 1;
	persist_wrote();
}

void
persist_session_del(struct session *s)
{
	if (srv.store == NULL || srv.loading || !s->stored)
		return;
	store_session_del(srv.store, s->client_id, s->id_len);
	s->stored = 0;
	persist_wrote();
}

void
persist_sub(struct session *s, const char *filter, uint32_t len,
    uint8_t options, uint32_t sub_id)
{
	if (!persist_on(s))
		return;
	store_sub_put(srv.store, s->client_id, s->id_len, filter, len, options,
	    sub_id);
	persist_wrote();
}

void
persist_unsub(struct session *s, const char *filter, uint32_t len)
{
	if (!persist_on(s))
		return;
	store_sub_del(srv.store, s->client_id, s->id_len, filter, len);
	persist_wrote();
}

void
persist_queue(struct session *s, struct delivery *d)
{
	const uint32_t *ids = d->n_sub_ids > 1 ? d->sub_ids : &d->sub_id;

	if (!persist_on(s))
		return;
	d->row_gen = srv.batch_gen + 1;
	persist_body(d->msg);
	store_queue_put(srv.store, s->client_id, s->id_len, d->seq,
	    d->msg->store_id, d->qos, d->retain, STORE_STATE_QUEUED, 0, ids,
	    d->n_sub_ids > STORE_MAX_SUB_IDS ? STORE_MAX_SUB_IDS :
	    d->n_sub_ids);
	persist_wrote_for(s);
}

void
persist_state(struct session *s, const struct delivery *d, uint8_t state)
{
	if (!persist_on(s))
		return;
	store_queue_update(srv.store, s->client_id, s->id_len, d->seq,
	    state, deliver_packet_id(d->seq));
	persist_wrote_for(s);
}

void
persist_done(struct session *s, const struct delivery *d)
{
	if (!persist_on(s) || d->seq == 0)
		return;
	store_queue_del(srv.store, s->client_id, s->id_len, d->seq);
	persist_wrote_for(s);
}

void
persist_qos2(struct session *s, uint16_t id, int add)
{
	if (!persist_on(s))
		return;
	if (add)
		store_qos2_put(srv.store, s->client_id, s->id_len, id);
	else
		store_qos2_del(srv.store, s->client_id, s->id_len, id);
	persist_wrote_for(s);
}

void
persist_retain(struct msg *m)
{
	if (!persist_on(NULL) || sys_topic(m->topic, m->topic_len))
		return;
	if (m->payload_len == 0) {
		store_retain_del(srv.store, m->topic, m->topic_len);
	} else {
		persist_body(m);
		store_retain_put(srv.store, m->topic, m->topic_len,
		    m->store_id);
	}
	persist_wrote();
}

void
persist_glog(struct glog *g, struct msg *m)
{
	if (!persist_on(NULL))
		return;
	persist_body(m);
	store_glog_put(srv.store, g->filter, g->flen, g->head, m->store_id,
	    m->payload_len, g->cum);
	persist_wrote();
}

void
persist_span_open(struct session *s, const struct glog *g,
    uint64_t first_seq, uint64_t first_log, uint8_t qos, uint8_t rap,
    uint32_t sub_id)
{
	if (!persist_on(s))
		return;
	store_span_open(srv.store, s->client_id, s->id_len, g->filter,
	    g->flen, first_seq, first_log, qos, rap, sub_id);
	persist_wrote();
}

void
persist_span_close(struct session *s, uint64_t first_seq, uint64_t last_log)
{
	if (!persist_on(s))
		return;
	store_span_close(srv.store, s->client_id, s->id_len, first_seq,
	    last_log);
	persist_wrote();
}

/* persist_flush_then(): what to call once commits reach flushed_gen. */
static void (*flushed_cb)(void);
static uint64_t flushed_gen;
static struct event *flushed_timer;

static void
persist_flushed_fire(void)
{
	void (*cb)(void) = flushed_cb;

	flushed_cb = NULL;
	if (flushed_timer != NULL) {
		event_free(flushed_timer);
		flushed_timer = NULL;
	}
	if (cb != NULL)
		cb();
}

static void
persist_flushed_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warn("store commit still pending after 1 s; going on");
	persist_flushed_fire();
}

int
persist_flush_then(void (*done)(void))
{
	struct timeval tv = { 1, 0 };

	if (srv.store == NULL)
		return 0;
	if (flush_armed)
		persist_flush_cb(-1, 0, NULL);
	if (srv.committed_gen >= srv.batch_gen)
		return 0;
	flushed_cb = done;
	flushed_gen = srv.batch_gen;
	flushed_timer = evtimer_new(srv.base, persist_flushed_timeout_cb,
	    NULL);
	evtimer_add(flushed_timer, &tv);
	return 1;
}

/*
 * Sessions that wait for a commit, by client id (a session may go
 * meanwhile): to pump once the open batch is committed (pump_ids), to
 * read back right after the end-of-pass commit (read_ids).
 */
struct id_list {
	char **v;
	size_t n;
};

static void
id_list_push(struct id_list *l, const struct session *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrndup(s->client_id, s->id_len);
}

/* Call fn for every session of l still there (l is emptied first:
 * fn may push to it again). */
static void
id_list_run(struct id_list *l, void (*fn)(struct session *))
{
	struct id_list old = *l;
	struct session *s;
	size_t i;

	l->v = NULL;
	l->n = 0;
	for (i = 0; i < old.n; i++) {
		if ((s = session_find(old.v[i], strlen(old.v[i]))) != NULL)
			fn(s);
		free(old.v[i]);
	}
	free(old.v);
}

static void
id_list_free(struct id_list *l)
{
	while (l->n > 0)
		free(l->v[--l->n]);
	free(l->v);
	l->v = NULL;
}

static struct id_list pump_ids;
static struct id_list read_ids;

void
persist_pump_after_commit(struct session *s)
{
	if (s->pump_waiting)
		return;
	s->pump_waiting = 1;
	id_list_push(&pump_ids, s);
	persist_arm();
}

static void
persist_pump_one(struct session *s)
{
	if (s->pump_waiting) {
		s->pump_waiting = 0;
		deliver_pump(s);
	}
}

/* Messages whose QoS 2 deliveries wait for a batch (deliver_settle),
 * in batch order: head..n. */
struct persist_held_msg {
	uint64_t gen;
	struct msg *m;
};
static struct persist_held_msg *held_msgs;
static size_t held_head, n_held_msgs, cap_held_msgs;

void
persist_hold(struct msg *m)
{
	if (n_held_msgs == cap_held_msgs) {
		if (held_head > 0) {
			memmove(held_msgs, held_msgs + held_head,
			    (n_held_msgs - held_head) * sizeof *held_msgs);
			n_held_msgs -= held_head;
			held_head = 0;
		}
		if (n_held_msgs == cap_held_msgs) {
			cap_held_msgs = cap_held_msgs ? cap_held_msgs * 2 : 64;
			held_msgs = xreallocarray(held_msgs, cap_held_msgs,
			    sizeof *held_msgs);
		}
	}
	held_msgs[n_held_msgs].gen = m->hold_gen;
	held_msgs[n_held_msgs].m = msg_ref(m);
	n_held_msgs++;
	persist_arm();
}

/* Batch gen is done: its held messages are free to go, or refused. */
static void
persist_release_msgs(uint64_t gen, int ok)
{
	struct persist_held_msg *h;

	while (held_head < n_held_msgs && held_msgs[held_head].gen <= gen) {
		h = &held_msgs[held_head++];
		if (!ok && h->gen == gen)
			h->m->refused = 1;
		msg_unref(h->m);
	}
	if (held_head == n_held_msgs)
		held_head = n_held_msgs = 0;
}

/* Completion of one commit (they complete in order): the acks that
 * waited for it go, or meet their fate (gate.c). */
static void
persist_committed(void *arg, int ok)
{
	char err[256];

	if (!ok) {
		store_last_error(srv.store, err, sizeof err);
		log_error("store commit failed: %s", err[0] ? err :
		    "unknown error");
	}
	persist_commit_measure(srv.committed_gen + 1, ok);
	srv.committed_gen++;
	if (!ok)
		persist_park_failed(srv.committed_gen);
	persist_release_msgs(srv.committed_gen, ok);
	gate_committed(srv.committed_gen, ok);
	if (pump_ids.n > 0)
		id_list_run(&pump_ids, persist_pump_one);
	if (flushed_cb != NULL && srv.committed_gen >= flushed_gen)
		persist_flushed_fire();
}

static void
persist_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	flush_armed = 0;
	srv.batch_gen++;
	clock_gettime(CLOCK_MONOTONIC,
	    &commit_started[srv.batch_gen % COMMIT_RING]);
	store_commit(srv.store, persist_committed, NULL);
	if (read_ids.n > 0)
		persist_reads_after_commit();
}

static void
persist_store_cb(evutil_socket_t fd, short what, void *arg)
{
	store_poll(srv.store);
}

/* --- reading queues back --- */

struct persist_read {
	char *client_id;
	size_t id_len;
	uint32_t gen; /* the session's disk_gen when the read was issued */
	struct timespec issued;
};

static void persist_read_next(struct session *s);

/*
 * A queue generation no session had before. A read answers for the
 * session it was issued for only while that session's disk_gen is the
 * read's; counted per session, a session that replaced a discarded one
 * of the same client id (Clean Start) started again at 0, and after its
 * first eviction took the old read's rows for its own.
 */
static uint32_t
persist_new_gen(void)
{
	static uint32_t last;

	if (++last == 0)
		last = 1;
	return last;
}

static void
persist_read_cb(void *arg, const struct store_queued *rows, size_t n, int ok)
{
	struct persist_read *r = arg;
	struct session *s = session_find(r->client_id, r->id_len);
	struct delivery *d;
	struct msg *m;
	size_t i;

	uint32_t gen = r->gen;

	persist_measure(&read_stats, &r->issued);
	if (!ok)
		read_stats.failures++;
	free(r->client_id);
	free(r);
	if (s == NULL)
		return; /* the session went meanwhile */
	if (gen != session_du(s)->disk_gen || (s->conn == NULL &&
	    session_cl(s)->moving == NULL)) {
		/* The queue went back to disk since (the client left, maybe
		 * came back): these rows are stale; read afresh if online,
		 * unless the new connection's read is on its way already
		 * (disk_loading is that read's: two reads would queue every
		 * row twice). */
		if (gen == session_du(s)->disk_gen)
			session_durable(s)->disk_loading = 0;
		if ((s->conn != NULL || session_cl(s)->moving != NULL) &&
		    !session_du(s)->disk_loading)
			persist_load_queue(s);
		return;
	}
	session_durable(s)->disk_loading = 0;
	if (!ok) {
		log_error("cannot read the queue of %s back; %llu messages "
		    "stay on disk", s->client_id,
		    (unsigned long long)session_du(s)->disk_count);
		return;
	}
	for (i = 0; i < n; i++) {
		session_durable(s)->disk_cursor = rows[i].seq;
		if (rows[i].seq > session_du(s)->disk_max_seq)
			break;
		m = msg_from_store(&rows[i].msg);
		if (m == NULL) {
			log_error("queued message %llu of %s does not parse, "
			    "dropped", (unsigned long long)rows[i].seq,
			    s->client_id);
			continue;
		}
		d = delivery_new();
		d->msg = m;
		d->seq = rows[i].seq;
		d->qos = rows[i].qos;
		d->retain = rows[i].retain;
		d->n_sub_ids = rows[i].n_sub_ids;
		/* Sent before (or, after a restart, maybe): a resend
		 * carries DUP (MQTT-3.3.1-1). */
		d->dup = rows[i].seq <= s->sent_max_seq ||
		    rows[i].state == DELIVERY_SENT;
		if (d->n_sub_ids == 1)
			d->sub_id = rows[i].sub_ids[0];
		else if (d->n_sub_ids > 1)
			d->sub_ids = xmemdup(rows[i].sub_ids,
			    d->n_sub_ids * sizeof *d->sub_ids);
		deliver_restore(s, d, rows[i].state, rows[i].packet_id);
		/* Counted in memory now (deliver_restore), no longer on
		 * disk: the limits see each message once, also when the
		 * session goes before the read is over (persist_evict
		 * counts what is in memory back onto disk). At least 1
		 * stays until the last chunk, as deliver_pump holds newer
		 * messages back while anything is on disk. */
		if (session_du(s)->disk_count > 1)
			session_durable(s)->disk_count--;
		session_durable(s)->disk_bytes -=
		    session_du(s)->disk_bytes < m->payload_len ?
		    session_du(s)->disk_bytes : m->payload_len;
	}
	if (n < PERSIST_READ_CHUNK ||
	    session_du(s)->disk_cursor >= session_du(s)->disk_max_seq) {
		session_durable(s)->disk_count = 0;
		session_durable(s)->disk_bytes = 0;
	}
	/* The pump reads the next chunk when this one has mostly gone
	 * out (persist_load_more). */
	deliver_pump(s);
}

/*
 * Reads that wait for the open batch (persist_read_next): a read sees
 * only what was committed before it, so rows still in the open batch
 * must be committed first; but a read is often asked for in the middle
 * of a packet's handling (the pump of a session the routing reached),
 * and a commit there would split that packet's writes over two batches
 * while its ack waits for the commit of one (gate.c): with the first
 * batch failed and the second not, the ack went out for writes that
 * were not stored (the fault soak lost acknowledged messages so, once
 * reads failed often enough to be asked for again and again). So the
 * read goes out right after the end-of-pass commit (persist_flush_cb),
 * by client id, as the session may go meanwhile.
 */
static void persist_read_issue(struct session *s);

static void
persist_read_one(struct session *s)
{
	if (!session_du(s)->read_deferred)
		return;
	session_durable(s)->read_deferred = 0;
	if (session_du(s)->disk_loading && !srv.shutting_down &&
	    (s->conn != NULL || session_cl(s)->moving != NULL))
		persist_read_issue(s);
	else
		session_durable(s)->disk_loading = 0;
}

static void
persist_reads_after_commit(void)
{
	id_list_run(&read_ids, persist_read_one);
}

static void
persist_read_next(struct session *s)
{
	/* What follows its span is the in-memory queue's now (glog.c). */
	glog_span_end(s);
	if (flush_armed) {
		session_durable(s)->disk_loading = 1;
		if (!session_du(s)->read_deferred) {
			session_durable(s)->read_deferred = 1;
			id_list_push(&read_ids, s);
		}
		return;
	}
	persist_read_issue(s);
}

static void
persist_read_issue(struct session *s)
{
	struct persist_read *r = xmalloc(sizeof *r);

	r->client_id = xstrndup(s->client_id, s->id_len);
	r->id_len = s->id_len;
	if (session_du(s)->disk_gen == 0)
		session_durable(s)->disk_gen = persist_new_gen();
	r->gen = session_du(s)->disk_gen;
	clock_gettime(CLOCK_MONOTONIC, &r->issued);
	session_durable(s)->disk_loading = 1;
	store_queue_read(srv.store, s->client_id, s->id_len,
	    session_du(s)->disk_cursor,
	    PERSIST_READ_CHUNK, persist_read_cb, r);
}

/*
 * A resume reads its backlog a chunk at a time, as the client takes it:
 * the next chunk once fewer than half a chunk wait in the queue (the
 * rest of what was read is in flight, bounded by the client's window).
 * Reading chunk after chunk at once put a week's backlog in memory
 * however slowly the client took it, and a mass reconnect after a
 * restart put every queue on disk there.
 */
void
persist_load_more(struct session *s)
{
	if (s->n_queued < PERSIST_READ_CHUNK / 2)
		persist_load_queue(s);
}

void
persist_load_queue(struct session *s)
{
	if (srv.store == NULL || session_du(s)->disk_count == 0 ||
	    session_du(s)->disk_loading)
		return;
	persist_read_next(s);
}

int
persist_offline(const struct session *s)
{
	return srv.store != NULL && !srv.loading && s->persistent &&
	    s->conn == NULL && session_cl(s)->moving == NULL &&
	    !srv.shutting_down &&
	    !session_du(s)->parked;
}

/*
 * Parked sessions: a client that goes away for a few seconds (a phone
 * switching networks, an app sent to the background) used to have its
 * queue dropped from memory and read back from the store when it
 * resumed, and messages newer than what is on disk wait for that read
 * (deliver_pump): the read waits behind the store's other jobs, which
 * set the latency of the messages sent to a user just back. A session
 * that goes offline holding at most offline_queue_cache messages keeps
 * them in memory instead,
 * as an online one does, with each new one written to the store as
 * before: durability is the store's either way, the memory is a copy.
 * A session whose writes are in a batch whose commit then fails (a
 * full disk) may hold in memory what the store does not, so it is not
 * parked, or is evicted when the failure is known (persist_park_failed;
 * the fates of gate.c count on the read back from disk).
 * Past the cache (or when offline_queue_cache_sessions sessions are
 * parked already, the one parked longest) it is evicted as before.
 */
static TAILQ_HEAD(, session) parked = TAILQ_HEAD_INITIALIZER(parked);
static size_t n_parked;
static uint64_t failed_gen; /* the last batch whose commit failed */

void
persist_unpark(struct session *s)
{
	if (!session_du(s)->parked)
		return;
	TAILQ_REMOVE(&parked, s, dur->park_entry);
	n_parked--;
	session_durable(s)->parked = 0;
}

size_t
persist_parked(void)
{
	return n_parked;
}

void
persist_unpark_evict(struct session *s)
{
	persist_unpark(s);
	persist_evict(s);
}

void
persist_park(struct session *s)
{
	if (!persist_offline(s))
		return;
	if (srv.cfg.offline_queue_cache == 0 ||
	    srv.cfg.offline_queue_cache_sessions == 0 ||
	    session_cl(s)->peer != NULL ||
	    session_cl(s)->xb != NULL || session_cl(s)->cluster_in ||
	    session_du(s)->disk_count > 0 ||
	    session_du(s)->disk_loading || s->n_queued + s->n_inflight >
	    srv.cfg.offline_queue_cache ||
	    (failed_gen != 0 && session_du(s)->write_gen <= failed_gen)) {
		persist_evict(s);
		return;
	}
	session_durable(s)->parked = 1;
	TAILQ_INSERT_TAIL(&parked, s, dur->park_entry);
	if (++n_parked > srv.cfg.offline_queue_cache_sessions)
		persist_unpark_evict(TAILQ_FIRST(&parked));
}

/* Batch gen failed: a parked session that wrote to it, or later, may
 * hold in memory what the store does not (a PUBREC state, a delivery
 * gone): it reads its queue back instead. */
static void
persist_park_failed(uint64_t gen)
{
	struct session *s, *next;

	failed_gen = gen;
	for (s = TAILQ_FIRST(&parked); s != NULL; s = next) {
		next = TAILQ_NEXT(s, dur->park_entry);
		if (session_du(s)->write_gen >= gen)
			persist_unpark_evict(s);
	}
}

void
persist_park_check(struct session *s)
{
	if (session_du(s)->parked && s->n_queued + s->n_inflight >
	    srv.cfg.offline_queue_cache)
		persist_unpark_evict(s);
}

/*
 * An offline persistent session keeps nothing queued in memory: every
 * delivery it holds is in the store already (persist_queue at enqueue,
 * PUBREC state before PUBREL), so the memory is released and the rows
 * are read back on resume exactly as after a restart (DUP set, PUBREL
 * for those past PUBREC). A million messages for offline users cost
 * disk, not RAM.
 */
void
persist_evict(struct session *s)
{
	struct delivery *d;

	if (!persist_offline(s))
		return;
	while ((d = TAILQ_FIRST(&s->inflight)) != NULL) {
		TAILQ_REMOVE(&s->inflight, d, entry);
		session_durable(s)->disk_count++;
		/* Its row may be in a batch still to fail (resend.c). */
		if (d->msg->tracking || d->msg->refused)
			resend_unnote(d->msg, s);
		delivery_free(d);
	}
	while ((d = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, d, entry);
		session_durable(s)->disk_count++;
		if (d->msg->tracking || d->msg->refused)
			resend_unnote(d->msg, s);
		delivery_free(d);
	}
	session_durable(s)->disk_bytes += s->queued_bytes;
	s->queued_bytes = 0;
	s->n_inflight = 0;
	s->n_queued = 0;
	session_durable(s)->disk_tail = NULL;
	session_durable(s)->disk_max_seq = s->next_seq > 0 ?
	    s->next_seq - 1 : 0;
	session_durable(s)->disk_cursor = 0;
	session_durable(s)->disk_loading = 0;
	session_durable(s)->disk_gen = persist_new_gen();
}

/* --- start-up --- */

static void
persist_load_session(void *arg, const struct store_session *ss,
    uint64_t queued, uint64_t queued_bytes, uint64_t max_seq)
{
	struct session *s = session_new(ss->client_id, ss->id_len);
	time_t now = time(NULL);
	int64_t gone = ss->disconnected_at != 0 ? ss->disconnected_at : now;

	s->persistent = 1;
	s->stored = 1;
	s->expiry = ss->expiry;
	if (ss->user_kind == STORE_USER_NAMED)
		session_set_user(s, ss->user, ss->user_len);
	else if (ss->user_kind == STORE_USER_ANONYMOUS)
		session_set_user(s, NULL, 0);
	session_durable(s)->disk_count = queued;
	session_durable(s)->disk_bytes = queued_bytes;
	session_durable(s)->disk_max_seq = max_seq;
	s->next_seq = max_seq + 1;
	s->sent_max_seq = max_seq; /* unknown: any of them may have gone */
	session_restore_expiry(s, gone + ss->expiry - (int64_t)now);
	if (ss->will != NULL && ss->will_len > 0) {
		s->will = persist_will_unpack(ss->will, ss->will_len,
		    &s->will_delay);
		if (s->will == NULL)
			log_error("the will of %s does not parse, dropped",
			    s->client_id);
		/* Its client was connected when the node stopped without
		 * a shutdown (a clean one clears wills), or its delayed
		 * will was waiting: it is due, after what is left of its
		 * delay (persist_wills_due). */
		s->will_left = ss->disconnected_at == 0 ? s->will_delay :
		    (gone + s->will_delay > now ?
		    (uint32_t)(gone + s->will_delay - now) : 0);
	}
}

static void
persist_will_one(const void *key, size_t len, void *value, void *arg)
{
	struct session ***pp = arg;
	struct session *s = value;

	if (s->will != NULL && s->conn == NULL)
		*(*pp)++ = s;
}

/* After the load: schedule the wills the stop left due. */
static void
persist_wills_due(void)
{
	size_t n = session_count(), i;
	struct session **v, **p;

	if (n == 0)
		return;
	p = v = xreallocarray(NULL, n, sizeof *v);
	hash_foreach(srv.sessions, persist_will_one, &p);
	for (i = 0; i < (size_t)(p - v); i++) {
		log_notice("will of %s due: its connection ended with the "
		    "node's stop", v[i]->client_id);
		v[i]->will_delay = v[i]->will_left;
		will_schedule(v[i]);
	}
	free(v);
}

static void
persist_load_sub(void *arg, const char *id, size_t len, const char *filter,
    size_t flen, uint8_t options, uint32_t sub_id)
{
	struct session *s = session_find(id, len);

	if (s != NULL)
		session_subscribe(s, filter, (uint32_t)flen, options, sub_id);
}

static void
persist_load_qos2(void *arg, const char *id, size_t len, uint16_t packet_id)
{
	struct session *s = session_find(id, len);

	if (s != NULL)
		session_qos2_add(s, packet_id);
}

static void
persist_load_retained(void *arg, const struct store_msg *sm)
{
	struct msg *m = msg_from_store(sm);

	if (m == NULL) {
		log_error("retained message on %.*s does not parse, dropped",
		    (int)sm->topic_len, sm->topic);
		return;
	}
	retain_store(m);
	msg_unref(m);
}

static void
persist_load_glog(void *arg, const char *filter, size_t flen, uint64_t head,
    uint64_t cum)
{
	glog_loaded(filter, flen, head, cum);
}

static void
persist_expire_done(void *arg, uint64_t n)
{
	if (n == UINT64_MAX)
		log_warn("store expiry sweep failed");
}

static void
persist_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { PERSIST_EXPIRE_SECS, 0 };

	store_expire(srv.store, (int64_t)time(NULL), persist_expire_done,
	    NULL);
	evtimer_add(srv.expire_timer, &tv);
}

/*
 * After the store failed to open or load: is it that the disk is full?
 * SQLite reports no room as "disk I/O error" when it cannot create the
 * WAL index or checkpoint the WAL left by a crash, which reads like a
 * corrupt database. Opening needs room for the WAL index (32 KiB per
 * 4096 WAL frames) and for a checkpoint, which may grow the database by
 * up to the WAL's size; with less free than that (plus 1 MiB of
 * margin), the error is the disk, said so (logged) and returns 1.
 */
static int
persist_disk_full(const char *path, const char *why)
{
	char wal[4200];
	struct statvfs vfs;
	struct stat st;
	uint64_t avail, wal_len = 0, need;

	if (statvfs(srv.cfg.data_dir, &vfs) != 0)
		return 0;
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (stat(wal, &st) == 0)
		wal_len = (uint64_t)st.st_size;
	need = wal_len + (wal_len / 4096 / 4096 + 1) * 32768 + 1048576;
	if (avail >= need)
		return 0;
	log_error("disk full: %s has %llu bytes free; opening the store %s "
	    "needs about %llu (its write-ahead log %s is %llu bytes and is "
	    "checkpointed into it); free space there and start ternd again",
	    srv.cfg.data_dir, (unsigned long long)avail, path,
	    (unsigned long long)need, wal, (unsigned long long)wal_len);
	log_info("the store's own error, caused by the full disk: %s", why);
	srv.init_status = TERN_EXIT_DISK_FULL;
	return 1;
}

int
persist_open(void)
{
	static const struct store_load_cb cb = {
		persist_load_session, persist_load_sub, persist_load_qos2,
		persist_load_retained, persist_load_glog
	};
	struct timeval tv = { PERSIST_EXPIRE_SECS, 0 };
	char path[4096], err[512];
	const char *fail, *env;
	int rc;

	srv.flush_ev = event_new(srv.base, -1, 0, persist_flush_cb, NULL);
	if (!srv.cfg.store)
		return 0;
	snprintf(path, sizeof path, "%s/tern.db", srv.cfg.data_dir);
	srv.store = store_open(path, srv.cfg.store_sync_full, err, sizeof err);
	if (srv.store == NULL) {
		if (!persist_disk_full(path, err))
			log_error("cannot open the store: %s", err);
		return -1;
	}
	/* For the tests: queue logs this short become runs (store.h), so
	 * that small tests cross that boundary too. */
	if ((env = getenv("TERN_TEST_STORE_RUN_ROWS")) != NULL)
		store_set_run_rows(srv.store, (unsigned)strtoul(env, NULL, 10));
	/* For the tests: queue reads wait while this file exists. */
	store_hold_reads(srv.store, getenv("TERN_TEST_STORE_HOLD_READS"));
	srv.loading = 1;
	rc = store_load(srv.store, &cb, NULL, &srv.next_msg_id, err,
	    sizeof err);
	srv.loading = 0;
	if (rc != 0) {
		if (!persist_disk_full(path, err))
			log_error("cannot load the store %s: %s", path, err);
		return -1;
	}
	srv.store_ev = event_new(srv.base, store_fd(srv.store),
	    EV_READ | EV_PERSIST, persist_store_cb, NULL);
	event_add(srv.store_ev, NULL);
	persist_wills_due();
	srv.expire_timer = evtimer_new(srv.base, persist_expire_cb, NULL);
	evtimer_add(srv.expire_timer, &tv);
	/* Fault injection for the tests: the first N non-empty commits
	 * fail as a full disk would. */
	fail = getenv("TERN_TEST_FAIL_COMMITS");
	if (fail != NULL)
		store_fail_next(srv.store, (unsigned)strtoul(fail, NULL, 10));
	log_notice("store %s: %zu sessions, %zu retained messages", path,
	    session_count(), retain_count());
	return 0;
}

void
persist_close(void)
{
	if (srv.store != NULL) {
		if (flush_armed)
			persist_flush_cb(-1, 0, NULL);
		store_close(srv.store);
		srv.store = NULL;
	}
	if (flushed_timer != NULL)
		event_free(flushed_timer);
	flushed_timer = NULL;
	flushed_cb = NULL;
	persist_release_msgs(UINT64_MAX, 1);
	free(held_msgs);
	held_msgs = NULL;
	cap_held_msgs = 0;
	id_list_free(&pump_ids);
	id_list_free(&read_ids);
	if (srv.store_ev != NULL)
		event_free(srv.store_ev);
	if (srv.expire_timer != NULL)
		event_free(srv.expire_timer);
	if (srv.flush_ev != NULL)
		event_free(srv.flush_ev);
	srv.store_ev = srv.expire_timer = srv.flush_ev = NULL;
}
