/*
 * bench.c - tern-bench: options, scenarios, phases and the report.
 *
 * Design note. A run is a sequence of phases on one event loop:
 *
 *   SETUP    open every connection (at most --parallel handshakes at a
 *            time); subscribers subscribe. Any failure ends the run.
 *   RUN      publishers publish for --duration seconds or --count messages
 *            each: as fast as the window allows (--rate 0), or at --rate
 *            messages per second each, scheduled by a 1 ms tick that hands
 *            the messages due to the publishers in a fixed round-robin
 *            order (so U publishers at r/s each send exactly every 1/r s,
 *            spread evenly). The send time is stamped when the PUBLISH is
 *            encoded, just before the write() of the same loop pass.
 *   DRAIN    publishing stops; the run waits until every expected message
 *            has arrived and every QoS 1/2 PUBLISH has been acknowledged,
 *            or for --drain seconds at most (1 s without any arrival
 *            ends it early at QoS 0, 2 s without an arrival or an
 *            acknowledgement at QoS 1/2: what has not come is lost).
 *   DONE     report, DISCONNECT everyone, leave the loop.
 *
 * Scenarios shape SETUP and RUN: fanin/fanout are P publishers and S
 * subscribers on one topic (fanin: S = 1, fanout: P = 1), every message
 * expected once by every subscriber; p2p gives user i the inbox
 * im/u/<i> with a persistent session and sends each message to a random
 * other inbox (expected once, by that user only); conn only connects K
 * clients and holds them; reconnect queues --count messages for each of
 * K offline persistent sessions, then reconnects them all at once and
 * times the delivery of the backlog. Its queueing phase may use P
 * publishers (message g = k * P + p, the k-th of publisher p, goes to
 * session g mod K, so every session gets exactly --count) and is timed
 * too: the acknowledged rate of QoS 1/2 fan-in into offline sessions,
 * what a durable store commits. --queue-only ends the run there and
 * leaves the backlog in the broker.
 *
 * reconnect --group is the IM group: the K sessions are members of G
 * groups (--groups, default 1; member i of group i mod G), each
 * subscribed to its group's topic bench/g/<prefix>-g<j>, and message g
 * goes to group g mod G, so every group gets --count messages and every
 * member expects --count. queue_rate still counts messages (what the
 * publishers had acknowledged), rows_rate the copies the broker owes
 * (messages times members): write diffusion stores one per member, read
 * diffusion one per message.
 *
 * p2p --offline F --cycle S is durable IM: user i is connected while
 * (i + s) mod U < U - round(F U), where step s = floor(t U / S) counts
 * from the start of RUN. Each step (every S/U seconds) one user goes
 * offline and one comes back, so exactly round(F U) are offline at any
 * moment and each is offline F S seconds of every S, spread evenly. A
 * user going offline stops publishing, waits for its acknowledgements
 * (nothing it sent is left unacknowledged, so nothing needs a resend)
 * and sends DISCONNECT; it comes back with clean start 0 and no
 * SUBSCRIBE. Users publish only while connected, to any other user. A
 * message carries the recipient's connection number at send time (0
 * when it was offline; see BENCH_TAG_LEN), so the receiver puts into
 * the online latency only messages sent while it was connected and
 * received on that same connection. The end-to-end window is off (a
 * message to an offline user is not late), and at the end of RUN every
 * user reconnects so that the drain counts every queued message.
 * Step 0, the round(F U) users offline at first, leaves at the end of
 * SETUP, a second before RUN: else the first second of the run would
 * measure that many departures at once, not the schedule's steady one
 * per step.
 *
 * Counting: a receiver looks up the sequence tracker of (subscriber,
 * publisher) - in p2p and reconnect, of the publisher alone, since each
 * message has exactly one recipient - and marks the sequence number; a
 * second mark is a duplicate. lost = expected - unique, counted after the
 * drain. A message from another run (a persistent session left from
 * before) carries another run id and is counted as stale, not received.
 * Latency goes to the histogram only on the first arrival. A group
 * message has one recipient per member, so reconnect --group tracks
 * (member, publisher) pairs as fanout does.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"

enum bench_scenario { SC_FANIN, SC_FANOUT, SC_P2P, SC_CONN, SC_RECONNECT };
enum bench_phase { PH_SETUP, PH_QUEUE, PH_RUN, PH_DRAIN, PH_DONE };

static const char *const bench_scenario_names[] = {
	"fanin", "fanout", "p2p", "conn", "reconnect"
};

struct bench_opts {
	enum bench_scenario scenario;
	char *hostspec[BENCH_MAX_HOSTS];
	unsigned nhostspec;
	unsigned port;
	double rate;		/* per publisher, 0: as fast as possible */
	double duration;	/* seconds of RUN (conn: hold time) */
	uint64_t count;		/* per publisher; reconnect: per session */
	uint32_t pubs;
	uint32_t subs;
	uint32_t users;
	uint32_t conns;
	uint32_t parallel;
	long pid;
	double drain;
	int json;
	int quiet;
	int subscribe;		/* conn: each client subscribes */
	int open_loop;		/* no end-to-end window */
	int queue_only;		/* reconnect: stop once the backlog is acked */
	int cross;		/* p2p: send only to users of other hosts */
	int group;		/* reconnect: sessions are group members */
	uint32_t groups;	/* ... in this many groups */
	int im;			/* p2p: users go offline (--offline) */
	double offline;		/* ... this fraction of them at a time */
	double cycle;		/* ... over a cycle of this many seconds */
	const char *topic;
	const char *cdf;
	const char *label;
	const char *id_prefix;
};

static struct {
	struct bench_opts o;
	struct bench_host hosts[BENCH_MAX_HOSTS];
	unsigned nhosts;
	struct bench_conn *conns;
	uint32_t nconns;
	struct bench_conn **pubs;
	uint32_t npubs;
	uint32_t nsubs;
	struct bench_track *tracks;
	uint32_t ntracks;
	struct bench_hist hist;		/* latency (reconnect: per session) */
	struct bench_hist hist_sec;	/* latency, this second */
	struct bench_hist hist_online;	/* p2p --offline: live deliveries */
	enum bench_phase phase;
	uint32_t next_start;		/* next connection to start */
	uint32_t start_end;		/* ... up to this one */
	uint32_t connecting;
	uint32_t ready;
	uint32_t closed;
	uint64_t t_setup;
	uint64_t t_all_ready;
	uint64_t t_run;
	uint64_t t_stop;
	uint64_t t_last_progress;
	uint64_t t_last_recv;
	uint64_t t_last_ack;
	uint64_t t_reconnect;
	uint64_t t_queue;		/* reconnect: queueing started */
	uint64_t t_queued;		/* ... every message acknowledged */
	double broker_cpu_queue;	/* --pid: broker CPU s at t_queue */
	double broker_cpu_queued;
	uint64_t scheduled;		/* rate mode: messages handed out */
	uint32_t rr;			/* rate mode: next publisher */
	uint64_t behind;		/* rate mode: ticks that fell behind */
	uint64_t received;		/* unique, this run */
	uint64_t stale;
	uint64_t bogus;
	uint64_t misrouted;
	uint64_t refused;
	uint64_t sessions_present;
	uint64_t stalls;		/* end-to-end windows given up on */
	uint64_t stall_recv;		/* B.received at the last check */
	uint32_t fan;			/* receivers per message */
	struct bench_conn **kick;	/* publishers to refill */
	uint32_t nkick;
	uint32_t sessions_done;
	uint64_t prev_sent;		/* progress line */
	uint64_t prev_recv;
	uint64_t seconds;
	/* p2p --offline */
	uint32_t im_off;		/* users offline at a time */
	uint64_t im_step;		/* schedule steps done */
	uint64_t t_last_ready;
	uint64_t sent_offline;		/* sent to an offline recipient */
	uint64_t recv_offline;		/* ... and received after its return */
	uint64_t recv_moved;		/* sent live, received after a return */
	uint64_t resumes;		/* reconnects during the run */
	uint64_t resumes_present;	/* ... with Session Present */
	uint64_t departures;		/* disconnects by the schedule */
	long rss_before;
	long rss_after;
	char topic[BENCH_TOPIC_MAX];
	struct rusage ru_run;
	struct rusage ru_stop;
	double broker_cpu_run;		/* --pid: broker CPU s at RUN */
	double broker_cpu_stop;
	uint64_t rng;
	struct event *tick;
	struct event *second;
	struct event *pause;
	struct event *sigint;
	int failed;
	int lossy;		/* QoS 1/2 run lost or duplicated messages */
	char fail_why[256];
} B;

struct bench_cfg bench_cfg;
struct event_base *bench_base;

static void bench_usage(FILE *f);
static void bench_start_more(void);
static void bench_begin_run(void);
static void bench_stop(void);
static void bench_finish(void);
static void bench_pub_fill(struct bench_conn *c);
static uint64_t bench_sum(size_t off);

static void
bench_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tern-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
bench_fail(const char *fmt, ...)
{
	va_list ap;

	if (!B.failed) {
		va_start(ap, fmt);
		vsnprintf(B.fail_why, sizeof B.fail_why, fmt, ap);
		va_end(ap);
		fprintf(stderr, "tern-bench: %s\n", B.fail_why);
	}
	B.failed = 1;
}

static uint64_t
bench_rand(void)
{
	B.rng ^= B.rng << 13;
	B.rng ^= B.rng >> 7;
	B.rng ^= B.rng << 17;
	return B.rng;
}

static long
bench_rss_kb(long pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* CPU seconds (user + system) used so far by process pid, -1 if unknown. */
static double
bench_pid_cpu(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields count from the last ')' */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
bench_secs(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) / 1e9 : 0.0;
}

static double
bench_cpu_secs(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 +
	    (double)r->ru_stime.tv_sec + r->ru_stime.tv_usec / 1e6;
}

/* --- hosts --- */

static void
bench_add_host(const char *spec)
{
	struct addrinfo hints, *res;
	struct bench_host *h;
	char host[256], port[16];
	const char *colon, *end;
	int rc;

	if (B.nhosts >= BENCH_MAX_HOSTS)
		bench_fatal("too many hosts (at most %d)", BENCH_MAX_HOSTS);
	snprintf(port, sizeof port, "%u", B.o.port);
	if (spec[0] == '[' && (end = strchr(spec, ']')) != NULL) {
		snprintf(host, sizeof host, "%.*s", (int)(end - spec - 1),
		    spec + 1);
		if (end[1] == ':')
			snprintf(port, sizeof port, "%s", end + 2);
	} else if ((colon = strchr(spec, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
		snprintf(port, sizeof port, "%s", colon + 1);
	} else
		snprintf(host, sizeof host, "%s", spec);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		bench_fatal("%s: %s", spec, gai_strerror(rc));
	h = &B.hosts[B.nhosts++];
	memcpy(&h->addr, res->ai_addr, res->ai_addrlen);
	h->addrlen = res->ai_addrlen;
	snprintf(h->name, sizeof h->name, "%s:%s", host, port);
	freeaddrinfo(res);
}

/* --- setup --- */

static void
bench_conn_init(struct bench_conn *c, uint32_t idx, const char *role,
    uint32_t n)
{
	c->idx = idx;
	c->fd = -1;
	c->pub_idx = UINT32_MAX;
	c->sub_idx = UINT32_MAX;
	c->host = &B.hosts[idx % B.nhosts];
	c->clean = 1;
	c->window = bench_cfg.window;
	snprintf(c->client_id, sizeof c->client_id, "%s-%s%" PRIu32,
	    B.o.id_prefix, role, n);
}

static void
bench_make_pub(struct bench_conn *c)
{
	c->pub_idx = B.npubs;
	B.pubs[B.npubs++] = c;
}

static void
bench_setup(void)
{
	uint32_t i, n = 0;
	struct bench_conn *c;
	const struct bench_opts *o = &B.o;

	switch (o->scenario) {
	case SC_FANIN:
	case SC_FANOUT:
		n = o->pubs + o->subs;
		break;
	case SC_P2P:
		n = o->users;
		break;
	case SC_CONN:
		n = o->conns;
		break;
	case SC_RECONNECT:
		n = o->conns + o->pubs;
		break;
	}
	if (n == 0 || n > BENCH_MAX_CONNS)
		bench_fatal("between 1 and %d connections, not %" PRIu32,
		    BENCH_MAX_CONNS, n);
	B.conns = calloc(n, sizeof *B.conns);
	B.pubs = calloc(n, sizeof *B.pubs);
	B.kick = calloc(n, sizeof *B.kick);
	if (B.conns == NULL || B.pubs == NULL || B.kick == NULL)
		bench_fatal("out of memory");
	B.nconns = n;
	snprintf(B.topic, sizeof B.topic, "%s", o->topic);
	switch (o->scenario) {
	case SC_FANIN:
	case SC_FANOUT:
		for (i = 0; i < o->subs; i++) {
			c = &B.conns[i];
			bench_conn_init(c, i, "s", i);
			c->sub_idx = B.nsubs++;
			snprintf(c->sub_topic, sizeof c->sub_topic, "%s",
			    B.topic);
		}
		for (i = 0; i < o->pubs; i++) {
			c = &B.conns[o->subs + i];
			bench_conn_init(c, o->subs + i, "p", i);
			bench_make_pub(c);
		}
		B.ntracks = B.nsubs * B.npubs;
		B.fan = B.nsubs;
		break;
	case SC_P2P:
		for (i = 0; i < n; i++) {
			c = &B.conns[i];
			bench_conn_init(c, i, "u", i);
			c->sub_idx = B.nsubs++;
			bench_make_pub(c);
			snprintf(c->sub_topic, sizeof c->sub_topic,
			    "im/u/%s-u%" PRIu32, B.o.id_prefix, i);
			c->clean = bench_cfg.version == MQTT_V5;
		}
		B.ntracks = B.npubs;
		B.fan = 1;
		break;
	case SC_CONN:
		for (i = 0; i < n; i++) {
			c = &B.conns[i];
			bench_conn_init(c, i, "c", i);
			if (o->subscribe)
				snprintf(c->sub_topic, sizeof c->sub_topic,
				    "im/u/%s-c%" PRIu32, B.o.id_prefix, i);
		}
		break;
	case SC_RECONNECT:
		for (i = 0; i < o->conns; i++) {
			c = &B.conns[i];
			bench_conn_init(c, i, "r", i);
			c->sub_idx = B.nsubs++;
			c->clean = bench_cfg.version == MQTT_V5;
			c->expect_queued = o->count;
			if (o->group)
				snprintf(c->sub_topic, sizeof c->sub_topic,
				    "bench/g/%s-g%" PRIu32, B.o.id_prefix,
				    i % o->groups);
			else
				snprintf(c->sub_topic, sizeof c->sub_topic,
				    "im/u/%s-r%" PRIu32, B.o.id_prefix, i);
		}
		for (i = 0; i < o->pubs; i++) {
			c = &B.conns[o->conns + i];
			bench_conn_init(c, o->conns + i, "p", i);
			bench_make_pub(c);
		}
		B.ntracks = o->group ? B.nsubs * B.npubs : B.npubs;
		break;
	}
	if (B.ntracks > 0 &&
	    (B.tracks = calloc(B.ntracks, sizeof *B.tracks)) == NULL)
		bench_fatal("out of memory");
	B.phase = PH_SETUP;
	B.t_setup = bench_now();
	B.next_start = 0;
	B.start_end = n;
	bench_start_more();
}

/* Start connections up to the --parallel limit. */
static void
bench_start_more(void)
{
	struct bench_conn *c;

	while (B.next_start < B.start_end && B.connecting < B.o.parallel &&
	    !B.failed) {
		c = &B.conns[B.next_start++];
		if (bench_conn_start(c) != 0) {
			bench_fail("%s: connect: %s", c->host->name,
			    strerror(errno));
			bench_finish();
			return;
		}
		B.connecting++;
	}
}

/* --- publishing --- */

/* Sessions (reconnect) or groups (reconnect --group) that the queued
 * messages go to in turn. */
static uint32_t
bench_targets(void)
{
	return B.o.group ? B.o.groups : B.o.conns;
}

/* p2p --offline: the tag of a message to user `to` (BENCH_TAG_LEN). */
static uint32_t
bench_tag_for(uint64_t to)
{
	const struct bench_conn *r = &B.conns[to];

	if (!B.o.im)
		return 0;
	if (r->state != BC_READY) {
		B.sent_offline++;
		return 0;
	}
	return r->epoch;
}

static const char *
bench_pub_topic(struct bench_conn *c, char *buf, size_t len, uint32_t *tag)
{
	uint64_t to;

	*tag = 0;
	switch (B.o.scenario) {
	case SC_P2P:
		/* --cross: users are spread over the hosts round robin, so
		 * a random user on another host is another host's index
		 * plus a random multiple of nhosts. */
		if (B.o.cross) {
			uint64_t h = c->idx % B.nhosts, per;

			h = (h + 1 + bench_rand() % (B.nhosts - 1)) % B.nhosts;
			per = (B.nconns - h + B.nhosts - 1) / B.nhosts;
			to = h + (bench_rand() % per) * B.nhosts;
			*tag = bench_tag_for(to);
			return B.conns[to].sub_topic;
		}
		to = bench_rand() % (B.nconns - 1);
		if (to >= c->idx)
			to++;
		*tag = bench_tag_for(to);
		return B.conns[to].sub_topic;
	case SC_RECONNECT:
		/* member j < G is in group j: its topic is group j's */
		snprintf(buf, len, "%s", B.conns[(c->sent * B.npubs +
		    c->pub_idx) % bench_targets()].sub_topic);
		return buf;
	default:
		return B.topic;
	}
}

static int
bench_pub_more(const struct bench_conn *c)
{
	if (B.o.scenario == SC_RECONNECT)
		return c->sent * B.npubs + c->pub_idx < B.o.count *
		    bench_targets();
	return B.o.count == 0 || c->sent < B.o.count;
}

/* Messages of publisher c that some receiver has not had yet: sent
 * minus what the slowest subscriber received (fanin/fanout scan the
 * trackers of c's column; the slowest one must not be pushed past the
 * broker's queue limit). */
static uint64_t
bench_outstanding(const struct bench_conn *c)
{
	uint64_t done = UINT64_MAX;
	uint32_t s;

	if (B.o.scenario == SC_FANIN || B.o.scenario == SC_FANOUT) {
		for (s = 0; s < B.nsubs; s++)
			if (B.tracks[s * B.npubs + c->pub_idx].unique < done)
				done = B.tracks[s * B.npubs +
				    c->pub_idx].unique;
	} else
		done = c->delivered;
	done += c->forgiven;
	return c->sent > done ? c->sent - done : 0;
}

/* 1 when the end-to-end window of c has room for one more message. */
static int
bench_e2e_room(const struct bench_conn *c)
{
	if (B.o.open_loop || B.o.scenario == SC_RECONNECT)
		return 1;
	if (B.o.scenario == SC_P2P)
		return bench_outstanding(c) < bench_cfg.window;
	/* cheap test first: the average is a lower bound of the slowest */
	if (c->sent * B.fan - c->delivered >= (uint64_t)bench_cfg.window *
	    B.fan + c->forgiven * B.fan)
		return 0;
	return bench_outstanding(c) < bench_cfg.window;
}

/* Queue as much as the windows, the batch size and the schedule allow. */
static void
bench_pub_fill(struct bench_conn *c)
{
	char buf[BENCH_TOPIC_MAX];
	const char *topic;
	int guard, more;
	int publishing = (B.phase == PH_RUN || B.phase == PH_QUEUE) &&
	    !c->leaving;
	uint32_t tag;
	uint64_t now = 0;

	for (guard = 0; guard < BENCH_MAX_WINDOW + 65536 && publishing &&
	    bench_pub_more(c) && bench_conn_can_publish(c) &&
	    bench_e2e_room(c) && bench_conn_pending(c) < BENCH_WRITE_BATCH &&
	    (B.o.rate == 0 || c->owed > 0); guard++) {
		if (now == 0)
			now = bench_now();
		topic = bench_pub_topic(c, buf, sizeof buf, &tag);
		bench_conn_publish(c, topic, now, tag);
		if (c->owed > 0)
			c->owed--;
		if (c->state != BC_READY)
			return;
	}
	more = publishing && bench_pub_more(c) && bench_conn_can_publish(c);
	c->blocked = more && !bench_e2e_room(c);
	c->want_write = B.o.rate == 0 && more && !c->blocked;
}

static int
bench_all_sent(void)
{
	uint32_t i;

	for (i = 0; i < B.npubs; i++)
		if (bench_pub_more(B.pubs[i]))
			return 0;
	return 1;
}

/* --- p2p --offline: users going offline and coming back --- */

/* Bring user c to what its want_online says: connect (resuming its
 * session), or go offline once nothing it sent waits for an
 * acknowledgement. A user still in its handshake is looked at again when
 * it is ready. */
static void
bench_im_sync(struct bench_conn *c)
{
	if (B.phase == PH_DONE || B.failed)
		return;
	if (c->want_online) {
		c->leaving = 0;
		if (c->state != BC_CLOSED && c->state != BC_IDLE)
			return;
		c->clean = 0;
		c->skip_sub = 1;
		B.connecting++;
		if (bench_conn_start(c) != 0) {
			bench_fail("%s: connect: %s", c->host->name,
			    strerror(errno));
			bench_finish();
		}
		return;
	}
	if (c->state != BC_READY)
		return;
	c->owed = 0;
	if (c->inflight > 0) {
		c->leaving = 1;
		return;
	}
	c->leaving = 0;
	bench_conn_disconnect(c);
	B.ready--;
	B.departures++;
}

static void
bench_im_want(uint32_t i, int online)
{
	B.conns[i].want_online = (uint8_t)online;
	bench_im_sync(&B.conns[i]);
}

/* Run the schedule's steps due by now; see the design note. */
static void
bench_im_schedule(uint64_t now)
{
	uint64_t due, s;
	uint32_t u = B.nconns, guard;

	if (B.im_off == 0)
		return;
	due = (uint64_t)(bench_secs(B.t_run, now) * u / B.o.cycle);
	for (guard = 0; B.im_step < due && guard < 2 * u && !B.failed;
	    guard++) {
		s = ++B.im_step % u;
		bench_im_want((uint32_t)((2 * (uint64_t)u - B.im_off - s) % u),
		    0);
		bench_im_want((uint32_t)((u - s) % u), 1);
	}
}

/* End of RUN: every user comes back so that the drain counts what was
 * queued for it. */
static void
bench_im_all_back(void)
{
	uint32_t i;

	for (i = 0; i < B.nconns && !B.failed; i++)
		bench_im_want(i, 1);
}

static void
bench_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = bench_now(), due, n, i;
	struct bench_conn *c;
	double total_rate = B.o.rate * B.npubs;

	if (B.phase != PH_RUN)
		return;
	if (B.o.im)
		bench_im_schedule(now);
	due = (uint64_t)(bench_secs(B.t_run, now) * total_rate);
	if (due <= B.scheduled)
		return;
	n = due - B.scheduled;
	if (n > (uint64_t)(total_rate / 10) + B.npubs) {
		/* more than 100 ms behind: skip, do not burst */
		B.behind++;
		B.scheduled = due;
		return;
	}
	B.scheduled = due;
	for (i = 0; i < n; i++) {
		c = B.pubs[B.rr];
		B.rr = (B.rr + 1) % B.npubs;
		if (c->state != BC_READY || c->leaving || !bench_pub_more(c))
			continue;
		c->owed++;
		bench_pub_fill(c);
		bench_conn_flush(c);
	}
}

/* --- callbacks from bench_conn.c --- */

/* A connection finished its handshake; see bench.h. */
void
bench_on_ready(struct bench_conn *c)
{
	uint32_t i;

	B.connecting--;
	B.ready++;
	if (c->session_present)
		B.sessions_present++;
	B.t_last_ready = bench_now();
	if (B.o.scenario == SC_P2P)
		c->epoch++;
	if (B.phase == PH_SETUP) {
		bench_start_more();
		if (B.ready == B.nconns && !B.failed) {
			B.t_all_ready = bench_now();
			if (B.o.scenario == SC_RECONNECT) {
				/* take the sessions offline, then queue */
				for (i = 0; i < B.o.conns; i++)
					bench_conn_disconnect(&B.conns[i]);
				B.ready = B.npubs;
				B.sessions_present = 0;
				B.phase = PH_QUEUE;
				event_add(B.pause, &(struct timeval){ 0,
				    200000 });
			} else if (B.o.im && B.im_off > 0) {
				/* step 0 of the schedule before the clock
				 * starts: see the design note */
				for (i = B.nconns - B.im_off; i < B.nconns;
				    i++)
					bench_im_want(i, 0);
				event_add(B.pause, &(struct timeval){ 1, 0 });
			} else
				bench_begin_run();
		}
	} else if (B.phase == PH_RUN && B.o.scenario == SC_RECONNECT) {
		bench_start_more();
		if (c->expect_queued == 0)
			B.sessions_done++;
	} else if (B.o.im && (B.phase == PH_RUN || B.phase == PH_DRAIN)) {
		B.resumes++;
		if (c->session_present)
			B.resumes_present++;
		bench_im_sync(c);	/* due to leave already? */
	}
}

/* A connection was closed; see bench.h. */
void
bench_on_closed(struct bench_conn *c, const char *why)
{
	B.closed++;
	if (B.phase == PH_DONE)
		return;
	bench_fail("%s (%s): %s", c->client_id, c->host->name, why);
	bench_finish();
}

/* A PUBLISH arrived; see bench.h. */
void
bench_on_message(struct bench_conn *c, const struct mqtt_publish *p)
{
	uint32_t run_id, pub, tag = 0;
	uint64_t seq, ts, now;
	struct bench_track *t;
	struct bench_conn *pc;
	int r;

	if (p->payload.len < BENCH_HDR_LEN) {
		B.bogus++;
		return;
	}
	memcpy(&run_id, p->payload.p, 4);
	memcpy(&pub, p->payload.p + 4, 4);
	memcpy(&seq, p->payload.p + 8, 8);
	memcpy(&ts, p->payload.p + 16, 8);
	if (run_id != bench_cfg.run_id) {
		B.stale++;
		return;
	}
	if (pub >= B.npubs || seq >= B.pubs[pub]->sent ||
	    c->sub_idx == UINT32_MAX) {
		B.bogus++;
		return;
	}
	if (B.o.scenario == SC_FANIN || B.o.scenario == SC_FANOUT ||
	    B.o.group)
		t = &B.tracks[c->sub_idx * B.npubs + pub];
	else {
		t = &B.tracks[pub];
		if (p->topic.len != strlen(c->sub_topic) ||
		    memcmp(p->topic.p, c->sub_topic, p->topic.len) != 0) {
			B.misrouted++;
			return;
		}
	}
	r = bench_track_mark(t, seq);
	if (r < 0) {
		bench_fail("out of memory for the sequence trackers");
		bench_finish();
		return;
	}
	if (r == 0)
		return;
	now = bench_conn_rx_now;
	B.received++;
	B.t_last_recv = now;
	pc = B.pubs[pub];
	pc->delivered++;
	if (pc->blocked && !pc->kicked && bench_e2e_room(pc)) {
		pc->kicked = 1;
		B.kick[B.nkick++] = pc;
	}
	if (B.o.scenario == SC_RECONNECT) {
		if (c->expect_queued > 0 && --c->expect_queued == 0) {
			bench_hist_add(&B.hist, now - B.t_reconnect);
			B.sessions_done++;
		}
		return;
	}
	bench_hist_add(&B.hist, now - ts);
	if (!B.o.im) {
		bench_hist_add(&B.hist_sec, now - ts);
		return;
	}
	if (p->payload.len >= BENCH_HDR_LEN + BENCH_TAG_LEN)
		memcpy(&tag, p->payload.p + BENCH_HDR_LEN, BENCH_TAG_LEN);
	if (tag == 0)
		B.recv_offline++;
	else if (tag != c->epoch)
		B.recv_moved++;
	else {
		bench_hist_add(&B.hist_online, now - ts);
		bench_hist_add(&B.hist_sec, now - ts);
	}
}

/* A publisher's slot was freed; see bench.h. */
void
bench_on_acked(struct bench_conn *c, uint8_t reason)
{
	if (reason >= 0x80)
		B.refused++;
	B.t_last_ack = bench_conn_rx_now;
	if (c->leaving) {
		if (c->inflight == 0)
			bench_im_sync(c);
		return;
	}
	bench_pub_fill(c);
}

/* Refill the publishers whose window opened; see bench.h. */
void
bench_on_read_done(void)
{
	struct bench_conn *c;
	uint32_t i;

	for (i = 0; i < B.nkick && i < B.nconns; i++) {
		c = B.kick[i];
		c->kicked = 0;
		c->blocked = 0;
		bench_pub_fill(c);
		bench_conn_flush(c);
	}
	B.nkick = 0;
}

/* A QoS 0 publisher may refill; see bench.h. */
void
bench_on_writable(struct bench_conn *c)
{
	bench_pub_fill(c);
	bench_conn_flush(c);
}

/* --- phases --- */

static void
bench_begin_run(void)
{
	uint32_t i;

	B.phase = PH_RUN;
	B.t_run = B.t_last_progress = bench_now();
	getrusage(RUSAGE_SELF, &B.ru_run);
	B.broker_cpu_run = bench_pid_cpu(B.o.pid);
	if (B.o.scenario == SC_CONN) {
		if (B.o.pid > 0)
			B.rss_after = bench_rss_kb(B.o.pid);
		return;
	}
	if (B.o.scenario == SC_RECONNECT) {
		/* every session has its backlog: reconnect them all */
		B.t_reconnect = B.t_run;
		B.ready = B.npubs;
		for (i = 0; i < B.o.conns; i++) {
			B.conns[i].clean = 0;
			B.conns[i].skip_sub = 1;
		}
		B.next_start = 0;
		B.start_end = B.o.conns;
		bench_start_more();
		return;
	}
	if (B.o.im)	/* step 0 of the schedule */
		for (i = 0; i < B.nconns && !B.failed; i++)
			bench_im_want(i, i < B.nconns - B.im_off);
	if (B.o.rate > 0)
		event_add(B.tick, &(struct timeval){ 0, 1000 });
	else
		for (i = 0; i < B.npubs; i++) {
			bench_pub_fill(B.pubs[i]);
			bench_conn_flush(B.pubs[i]);
		}
}

static void
bench_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	uint32_t i;

	if (B.o.im) {	/* p2p --offline: the first departures are done */
		bench_begin_run();
		return;
	}
	/* reconnect: the sessions are offline; queue their backlog */
	B.t_queue = bench_now();
	B.broker_cpu_queue = bench_pid_cpu(B.o.pid);
	if (B.o.queue_only) {
		/* the queueing is the run */
		B.t_run = B.t_queue;
		getrusage(RUSAGE_SELF, &B.ru_run);
		B.broker_cpu_run = B.broker_cpu_queue;
	}
	for (i = 0; i < B.npubs; i++) {
		bench_pub_fill(B.pubs[i]);
		bench_conn_flush(B.pubs[i]);
	}
}

/* reconnect: every publisher has sent and had acknowledged its share */
static int
bench_queued(void)
{
	uint32_t i;

	if (bench_sum(offsetof(struct bench_conn, acked)) <
	    B.o.count * bench_targets())
		return 0;
	for (i = 0; i < B.npubs; i++)
		if (B.pubs[i]->inflight > 0 || bench_pub_more(B.pubs[i]))
			return 0;
	return 1;
}

/* Stop publishing: RUN -> DRAIN. */
static void
bench_stop(void)
{
	uint32_t i;

	if (B.phase != PH_RUN)
		return;
	B.phase = PH_DRAIN;
	B.t_stop = bench_now();
	getrusage(RUSAGE_SELF, &B.ru_stop);
	B.broker_cpu_stop = bench_pid_cpu(B.o.pid);
	event_del(B.tick);
	for (i = 0; i < B.npubs; i++)
		B.pubs[i]->want_write = 0;
}

/* Members of group j (reconnect --group): member i is in group i mod G. */
static uint64_t
bench_group_size(uint64_t j)
{
	return B.o.conns / B.o.groups + (j < B.o.conns % B.o.groups ? 1 : 0);
}

/* reconnect --group: the copies owed for what was sent, one per member
 * of each message's group (message k of publisher p is message
 * k * P + p of the run; at most --count x G of them). */
static uint64_t
bench_group_rows(void)
{
	uint64_t rows = 0, k;
	uint32_t i;

	for (i = 0; i < B.npubs; i++)
		for (k = 0; k < B.pubs[i]->sent; k++)
			rows += bench_group_size((k * B.npubs + i) %
			    B.o.groups);
	return rows;
}

static uint64_t
bench_expected(void)
{
	uint64_t e = 0;
	uint32_t i;

	for (i = 0; i < B.npubs; i++)
		e += B.pubs[i]->sent;
	if (B.o.scenario == SC_FANIN || B.o.scenario == SC_FANOUT)
		e *= B.nsubs;
	if (B.o.group)
		e = bench_group_rows();
	if (B.o.scenario == SC_RECONNECT && B.o.queue_only)
		e = 0;		/* left in the broker, not received here */
	return e;
}

static uint64_t
bench_sum(size_t off)
{
	uint64_t s = 0;
	uint32_t i;

	for (i = 0; i < B.npubs; i++)
		s += *(uint64_t *)(void *)((char *)B.pubs[i] + off);
	return s;
}

static int
bench_complete(void)
{
	uint32_t i;

	if (B.o.scenario == SC_RECONNECT)
		return B.sessions_done == B.o.conns;
	if (B.o.im && (B.connecting > 0 || B.ready < B.nconns))
		return 0;	/* every user comes back before the end */
	for (i = 0; i < B.npubs; i++)
		if (B.pubs[i]->inflight > 0)
			return 0;
	return B.received >= bench_expected();
}

static void
bench_progress(uint64_t now)
{
	uint64_t sent;
	double el;

	B.seconds++;
	el = bench_secs(B.t_last_progress, now);
	B.t_last_progress = now;
	sent = bench_sum(offsetof(struct bench_conn, sent));
	if (!B.o.quiet && el > 0) {
		if (B.o.scenario == SC_CONN)
			fprintf(stderr, "[%3" PRIu64 "s] %" PRIu32
			    " connections held\n", B.seconds, B.ready);
		else if (B.o.scenario == SC_RECONNECT)
			fprintf(stderr, "[%3" PRIu64 "s] %" PRIu32 "/%" PRIu32
			    " reconnected, %" PRIu32 " sessions complete, %"
			    PRIu64 " received\n", B.seconds, B.ready - B.npubs,
			    B.o.conns, B.sessions_done, B.received);
		else
			fprintf(stderr, "[%3" PRIu64 "s] %s sent %" PRIu64
			    " (%.0f/s) received %" PRIu64 " (%.0f/s) p99 %.3f ms"
			    "%s, %" PRIu32 " connected\n", B.seconds,
			    B.phase == PH_DRAIN ? "drain" : "run", sent,
			    (sent - B.prev_sent) / el, B.received,
			    (B.received - B.prev_recv) / el,
			    bench_hist_quantile(&B.hist_sec, 0.99) / 1e6,
			    B.o.im ? " (online)" : "", B.ready);
	}
	B.prev_sent = sent;
	B.prev_recv = B.received;
	bench_hist_init(&B.hist_sec);
}

/* Once a second: keep alive, progress line, end of conn and reconnect. */
static void
bench_second_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = bench_now();
	uint32_t i;

	for (i = 0; i < B.nconns; i++)
		bench_conn_keepalive(&B.conns[i], now);
	if (B.phase == PH_SETUP) {
		if (!B.o.quiet)
			fprintf(stderr, "tern-bench: setup %" PRIu32 "/%"
			    PRIu32 " connected\n", B.ready, B.nconns);
		if (bench_secs(B.t_setup, now) > 60 + B.nconns / 500.0) {
			bench_fail("setup: %" PRIu32 " of %" PRIu32
			    " connections ready in time", B.ready, B.nconns);
			bench_finish();
		}
		return;
	}
	if (B.phase == PH_QUEUE) {
		if (!B.o.quiet)
			fprintf(stderr, "tern-bench: queued %" PRIu64 "/%"
			    PRIu64 " for offline sessions\n",
			    bench_sum(offsetof(struct bench_conn, acked)),
			    B.o.count * bench_targets());
		if (bench_secs(B.t_all_ready, now) > 60 + B.o.drain) {
			bench_fail("the backlog was not acknowledged in time");
			bench_finish();
		}
		return;
	}
	if (B.phase != PH_RUN && B.phase != PH_DRAIN)
		return;
	if (B.phase == PH_RUN && B.received == B.stall_recv) {
		/* a second without an arrival: messages were lost, give up
		 * on them so that the windows open again */
		for (i = 0; i < B.npubs; i++) {
			if (!B.pubs[i]->blocked)
				continue;
			B.stalls++;
			B.pubs[i]->forgiven += bench_outstanding(B.pubs[i]);
			B.pubs[i]->blocked = 0;
			bench_pub_fill(B.pubs[i]);
			bench_conn_flush(B.pubs[i]);
		}
	}
	B.stall_recv = B.received;
	bench_progress(now);
	if (B.phase != PH_RUN)
		return;
	if (B.o.scenario == SC_CONN) {
		if (bench_secs(B.t_run, now) >= B.o.duration - 0.01) {
			if (B.o.pid > 0)
				B.rss_after = bench_rss_kb(B.o.pid);
			bench_finish();
		}
	} else if (B.o.scenario == SC_RECONNECT) {
		if (bench_secs(B.t_run, now) > B.o.drain + 60) {
			bench_fail("reconnect: backlog not delivered in time");
			bench_finish();
		}
	}
}

/* Checked often: end of count mode, end of drain. */
static void
bench_check_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = bench_now();
	uint64_t last;

	if (B.phase == PH_RUN && B.o.count == 0 &&
	    B.o.scenario != SC_CONN && B.o.scenario != SC_RECONNECT &&
	    bench_secs(B.t_run, now) >= B.o.duration) {
		bench_stop();
		if (B.o.im)
			bench_im_all_back();
	}
	if (B.phase == PH_RUN && B.o.count > 0 &&
	    B.o.scenario != SC_RECONNECT && bench_all_sent()) {
		bench_stop();
		if (B.o.im)
			bench_im_all_back();
	}
	if (B.phase == PH_RUN && B.o.scenario == SC_RECONNECT &&
	    bench_complete())
		bench_finish();
	/* every session is back and nothing came for 2 s: the rest of the
	 * backlog is lost (a queue limit dropped it) */
	if (B.phase == PH_RUN && B.o.scenario == SC_RECONNECT &&
	    B.next_start >= B.start_end && B.connecting == 0 &&
	    bench_secs(B.t_last_recv > B.t_last_ready ? B.t_last_recv :
	    B.t_last_ready, now) >= 2.0)
		bench_finish();
	if (B.phase == PH_QUEUE && bench_queued()) {
		B.t_all_ready = B.t_queued = now;
		B.broker_cpu_queued = bench_pid_cpu(B.o.pid);
		if (B.o.queue_only)
			bench_finish();
		else
			bench_begin_run();
	}
	if (B.phase != PH_DRAIN)
		return;
	last = B.t_last_recv > B.t_stop ? B.t_last_recv : B.t_stop;
	if (B.t_last_ack > last)
		last = B.t_last_ack;
	if (B.t_last_ready > last)
		last = B.t_last_ready;
	if (B.o.im && B.connecting > 0)
		last = now;	/* users still coming back */
	if (bench_complete() || bench_secs(B.t_stop, now) >= B.o.drain ||
	    bench_secs(last, now) >= (bench_cfg.qos == 0 ? 1.0 : 2.0))
		bench_finish();
}

static void
bench_sigint_cb(evutil_socket_t fd, short what, void *arg)
{
	if (B.phase == PH_RUN)
		bench_stop();
	else if (B.phase == PH_DRAIN || B.phase == PH_SETUP ||
	    B.phase == PH_QUEUE) {
		bench_fail("interrupted");
		bench_finish();
	}
}

/* --- report --- */

struct bench_kv {
	const char *key;
	int is_str;
	double num;
	const char *str;
};

#define KV_MAX 96
static struct bench_kv bench_kvs[KV_MAX];
static unsigned bench_nkv;

static void
kv_num(const char *key, double v)
{
	if (bench_nkv < KV_MAX)
		bench_kvs[bench_nkv++] = (struct bench_kv){ key, 0, v, NULL };
}

static void
kv_str(const char *key, const char *v)
{
	if (bench_nkv < KV_MAX)
		bench_kvs[bench_nkv++] = (struct bench_kv){ key, 1, 0, v };
}

static void
kv_print(int json)
{
	unsigned i;
	const char *s;
	double v;

	printf(json ? "{" : "RESULT");
	for (i = 0; i < bench_nkv; i++) {
		v = bench_kvs[i].num;
		if (json)
			printf("%s\"%s\": ", i ? ", " : "", bench_kvs[i].key);
		else
			printf(" %s=", bench_kvs[i].key);
		if (bench_kvs[i].is_str) {
			if (json) {
				putchar('"');
				for (s = bench_kvs[i].str; *s; s++) {
					if (*s == '"' || *s == '\\')
						putchar('\\');
					if ((unsigned char)*s >= 0x20)
						putchar(*s);
				}
				putchar('"');
			} else {
				for (s = bench_kvs[i].str; *s; s++)
					putchar(*s == ' ' ? '_' : *s);
			}
		} else if (v == floor(v) && fabs(v) < 1e15)
			printf("%.0f", v);
		else
			printf("%.3f", v);
	}
	printf(json ? "}\n" : "\n");
}

static void
bench_report(void)
{
	uint64_t sent, acked, expected, unique = 0, dup = 0, lost;
	uint64_t q50, q90, q99, q999, qmax, rows = 0;
	double el, thr, cpu = 0, wall;
	uint32_t i;
	const struct bench_opts *o = &B.o;
	const struct bench_hist *h = &B.hist;
	const struct bench_hist *ho = &B.hist_online;
	FILE *f;

	if (B.t_stop == 0) {
		B.t_stop = bench_now();
		getrusage(RUSAGE_SELF, &B.ru_stop);
		B.broker_cpu_stop = bench_pid_cpu(B.o.pid);
	}
	sent = bench_sum(offsetof(struct bench_conn, sent));
	acked = bench_sum(offsetof(struct bench_conn, acked));
	expected = bench_expected();
	for (i = 0; i < B.ntracks; i++) {
		unique += B.tracks[i].unique;
		dup += B.tracks[i].dup;
	}
	lost = expected > unique ? expected - unique : 0;
	B.lossy = bench_cfg.qos > 0 && o->scenario != SC_CONN &&
	    (lost > 0 || dup > 0 || (o->queue_only && acked < sent));
	el = bench_secs(B.t_run, B.t_last_recv);
	thr = el > 0 ? unique / el : 0;
	wall = bench_secs(B.t_run, B.t_stop);
	if (wall > 0)
		cpu = 100.0 * (bench_cpu_secs(&B.ru_stop) -
		    bench_cpu_secs(&B.ru_run)) / wall;
	q50 = bench_hist_quantile(h, 0.50);
	q90 = bench_hist_quantile(h, 0.90);
	q99 = bench_hist_quantile(h, 0.99);
	q999 = bench_hist_quantile(h, 0.999);
	qmax = h->max;

	kv_str("scenario", bench_scenario_names[o->scenario]);
	kv_str("label", o->label ? o->label : "");
	kv_str("mqtt", bench_cfg.version == MQTT_V5 ? "5" : "3.1.1");
	kv_num("qos", bench_cfg.qos);
	kv_num("size", bench_cfg.size);
	kv_num("status", B.failed ? 1 : 0);
	if (B.failed)
		kv_str("error", B.fail_why);
	kv_num("connections", B.nconns);
	kv_num("bench_cpu_pct", cpu);
	if (o->pid > 0 && wall > 0 && B.broker_cpu_run >= 0 &&
	    B.broker_cpu_stop >= 0)
		kv_num("broker_cpu_pct", 100.0 * (B.broker_cpu_stop -
		    B.broker_cpu_run) / wall);
	if (o->scenario == SC_CONN) {
		el = bench_secs(B.t_setup, B.t_all_ready);
		kv_num("connect_s", el);
		kv_num("connect_rate", el > 0 ? B.nconns / el : 0);
		kv_num("hold_s", wall);
		if (o->pid > 0) {
			kv_num("rss_before_kb", B.rss_before);
			kv_num("rss_after_kb", B.rss_after);
			kv_num("kb_per_conn", B.rss_after > 0 ?
			    (double)(B.rss_after - B.rss_before) / B.nconns :
			    -1);
		}
		goto print;
	}
	kv_num("publishers", B.npubs);
	kv_num("subscribers", B.nsubs);
	kv_num("window", bench_cfg.window);
	kv_num("rate", o->rate);
	kv_num("run_s", wall);
	kv_num("sent", sent);
	kv_num("acked", acked);
	kv_num("refused", B.refused);
	kv_num("expected", expected);
	kv_num("received", unique);
	kv_num("lost", lost);
	kv_num("duplicated", dup);
	kv_num("stale", B.stale);
	kv_num("bogus", B.bogus);
	kv_num("misrouted", B.misrouted);
	if (o->scenario == SC_RECONNECT) {
		kv_num("sessions", o->conns);
		kv_num("sessions_present", B.sessions_present);
		kv_num("sessions_complete", B.sessions_done);
		kv_num("queued_per_session", o->count);
		if (o->group) {
			rows = bench_group_rows();
			kv_num("groups", o->groups);
			kv_num("group_members", (double)o->conns / o->groups);
			kv_num("rows", rows);
		}
		if (B.t_queued > 0) {
			el = bench_secs(B.t_queue, B.t_queued);
			kv_num("queue_s", el);
			kv_num("queue_rate", el > 0 ? acked / el : 0);
			if (o->group)
				kv_num("rows_rate", el > 0 ? rows / el : 0);
			if (o->pid > 0 && el > 0 && B.broker_cpu_queue >= 0 &&
			    B.broker_cpu_queued >= 0)
				kv_num("queue_broker_cpu_pct", 100.0 *
				    (B.broker_cpu_queued -
				    B.broker_cpu_queue) / el);
		}
		kv_num("queue_only", o->queue_only);
		kv_num("reconnect_ms", bench_secs(B.t_reconnect,
		    B.t_last_recv) * 1e3);
		kv_num("session_p50_ms", q50 / 1e6);
		kv_num("session_p99_ms", q99 / 1e6);
		goto print;
	}
	kv_num("send_rate", wall > 0 ? sent / wall : 0);
	kv_num("throughput", thr);
	kv_num("behind", B.behind);
	kv_num("stalls", B.stalls);
	kv_num("open_loop", B.o.open_loop);
	kv_num("cross", B.o.cross);
	kv_num("lat_p50_us", q50 / 1e3);
	kv_num("lat_p90_us", q90 / 1e3);
	kv_num("lat_p99_us", q99 / 1e3);
	kv_num("lat_p999_us", q999 / 1e3);
	kv_num("lat_max_us", qmax / 1e3);
	if (o->im) {
		kv_num("offline", o->offline);
		kv_num("cycle_s", o->cycle);
		kv_num("users_offline", B.im_off);
		kv_num("departures", B.departures);
		kv_num("resumes", B.resumes);
		kv_num("resumes_present", B.resumes_present);
		kv_num("sent_offline", B.sent_offline);
		kv_num("recv_offline", B.recv_offline);
		kv_num("lost_offline", B.sent_offline > B.recv_offline ?
		    B.sent_offline - B.recv_offline : 0);
		kv_num("recv_moved", B.recv_moved);
		kv_num("online_samples", ho->n);
		kv_num("lat_online_p50_us", bench_hist_quantile(ho, 0.50) /
		    1e3);
		kv_num("lat_online_p90_us", bench_hist_quantile(ho, 0.90) /
		    1e3);
		kv_num("lat_online_p99_us", bench_hist_quantile(ho, 0.99) /
		    1e3);
		kv_num("lat_online_p999_us", bench_hist_quantile(ho, 0.999) /
		    1e3);
		kv_num("lat_online_max_us", ho->max / 1e3);
	}

print:
	/* the human summary */
	printf("tern-bench %s: %s, MQTT %s, QoS %u, %u-byte payload, %"
	    PRIu32 " connections to %s%s\n", bench_scenario_names[o->scenario],
	    o->label ? o->label : "", bench_cfg.version == MQTT_V5 ? "5" :
	    "3.1.1", bench_cfg.qos, bench_cfg.size, B.nconns, B.hosts[0].name,
	    B.nhosts > 1 ? " (and more)" : "");
	if (B.failed)
		printf("  FAILED: %s\n", B.fail_why);
	if (o->scenario == SC_CONN) {
		el = bench_secs(B.t_setup, B.t_all_ready);
		printf("  connected %" PRIu32 " in %.3f s (%.0f/s), held %.1f s"
		    "\n", B.ready, el, el > 0 ? B.nconns / el : 0, wall);
		if (o->pid > 0)
			printf("  broker RSS %ld kB -> %ld kB: %.2f kB per "
			    "connection\n", B.rss_before, B.rss_after,
			    B.rss_after > 0 ? (double)(B.rss_after -
			    B.rss_before) / B.nconns : -1.0);
	} else {
		printf("  sent %" PRIu64 " acked %" PRIu64 " (refused %" PRIu64
		    ") expected %" PRIu64 " received %" PRIu64 "\n", sent,
		    acked, B.refused, expected, unique);
		printf("  lost %" PRIu64 " duplicated %" PRIu64 " stale %"
		    PRIu64 " bogus %" PRIu64 " misrouted %" PRIu64 "\n", lost,
		    dup, B.stale, B.bogus, B.misrouted);
		if (o->scenario == SC_RECONNECT && B.t_queued > 0) {
			el = bench_secs(B.t_queue, B.t_queued);
			printf("  queued %" PRIu64 " messages for offline "
			    "sessions in %.3f s: %.0f acknowledged msg/s\n",
			    acked, el, el > 0 ? acked / el : 0);
			if (o->group)
				printf("  %" PRIu32 " group(s) of %.4g offline "
				    "members: %" PRIu64 " copies owed, %.0f "
				    "rows/s\n", o->groups, (double)o->conns /
				    o->groups, rows, el > 0 ? rows / el : 0);
		}
		if (o->scenario == SC_RECONNECT && o->queue_only)
			printf("  --queue-only: the backlog stays in the "
			    "broker\n");
		else if (o->scenario == SC_RECONNECT)
			printf("  %u sessions (%" PRIu64 " resumed with session"
			    " present), %" PRIu64 " queued each, %" PRIu32
			    " complete: last arrival %.1f ms after the "
			    "reconnect; per session p50 %.1f ms p99 %.1f ms\n",
			    o->conns, B.sessions_present, o->count,
			    B.sessions_done, bench_secs(B.t_reconnect,
			    B.t_last_recv) * 1e3, q50 / 1e6, q99 / 1e6);
		else {
			printf("  run %.2f s: sent %.0f msg/s, received %.0f "
			    "msg/s\n", wall, wall > 0 ? sent / wall : 0, thr);
			printf("  latency ms: p50 %.3f p90 %.3f p99 %.3f "
			    "p99.9 %.3f max %.3f (%" PRIu64 " samples)\n",
			    q50 / 1e6, q90 / 1e6, q99 / 1e6, q999 / 1e6,
			    qmax / 1e6, h->n);
		}
		if (o->im) {
			printf("  %" PRIu32 " of %" PRIu32 " users offline at "
			    "a time, cycle %.1f s: %" PRIu64 " departures, %"
			    PRIu64 " resumes (%" PRIu64 " with session "
			    "present)\n", B.im_off, B.nconns, o->cycle,
			    B.departures, B.resumes, B.resumes_present);
			printf("  online latency ms: p50 %.3f p90 %.3f p99 "
			    "%.3f p99.9 %.3f max %.3f (%" PRIu64 " samples)\n",
			    bench_hist_quantile(ho, 0.50) / 1e6,
			    bench_hist_quantile(ho, 0.90) / 1e6,
			    bench_hist_quantile(ho, 0.99) / 1e6,
			    bench_hist_quantile(ho, 0.999) / 1e6,
			    ho->max / 1e6, ho->n);
			printf("  sent to offline users %" PRIu64 ", received "
			    "after their return %" PRIu64 "; sent live, "
			    "received after a reconnect %" PRIu64 "\n",
			    B.sent_offline, B.recv_offline, B.recv_moved);
		}
	}
	printf("  tern-bench used %.0f%% of a core", cpu);
	if (o->pid > 0 && wall > 0 && B.broker_cpu_run >= 0 &&
	    B.broker_cpu_stop >= 0)
		printf(", the broker %.0f%%", 100.0 * (B.broker_cpu_stop -
		    B.broker_cpu_run) / wall);
	printf("\n");
	kv_print(o->json);
	fflush(stdout);
	if (o->cdf != NULL) {
		if ((f = fopen(o->cdf, "w")) == NULL ||
		    bench_hist_write_cdf(h, f) != 0 || fclose(f) != 0)
			fprintf(stderr, "tern-bench: %s: %s\n", o->cdf,
			    strerror(errno));
	}
}

/* Report and leave the loop (once). */
static void
bench_finish(void)
{
	uint32_t i;

	if (B.phase == PH_DONE)
		return;
	if (B.phase == PH_RUN)
		bench_stop();
	B.phase = PH_DONE;
	bench_report();
	for (i = 0; i < B.nconns; i++)
		if (B.conns[i].state != BC_CLOSED &&
		    B.conns[i].state != BC_IDLE)
			bench_conn_disconnect(&B.conns[i]);
	event_base_loopbreak(bench_base);
}

/* --- options --- */

static void
bench_usage(FILE *f)
{
	fprintf(f,
"usage: tern-bench fanin|fanout|p2p|conn|reconnect [options]\n"
"  -h, --host HOST[:PORT][,...]  broker(s), connections spread round-robin\n"
"  -p, --port PORT               default port (1883)\n"
"  -V, --mqtt-version 311|5      protocol (default 5)\n"
"  -q, --qos 0|1|2               QoS of publications and subscriptions (0)\n"
"  -s, --size BYTES              payload size, at least 24 (64)\n"
"  -r, --rate N                  messages/s per publisher (0: as fast as\n"
"                                the window allows; p2p default 10)\n"
"  -w, --window N                messages per publisher sent and not yet\n"
"                                acknowledged (QoS 1/2) nor received by\n"
"                                every subscriber (64)\n"
"      --open-loop               the window counts acknowledgements only\n"
"  -d, --duration SECONDS        length of the run (10; conn: hold time)\n"
"  -n, --count N                 messages per publisher instead of a\n"
"                                duration (reconnect: queued per session)\n"
"  -P, --publishers N            fanin publishers (4; reconnect: 1)\n"
"  -S, --subscribers N           fanout subscribers (10)\n"
"  -U, --users N                 p2p users (100)\n"
"  -K, --connections N           conn/reconnect clients (1000)\n"
"  -c, --parallel N              handshakes in progress at once (100;\n"
"                                reconnect: all)\n"
"      --pid PID                 broker process: its RSS (conn) and CPU\n"
"      --subscribe               conn: each client subscribes to an inbox\n"
"      --queue-only              reconnect: stop once the backlog is\n"
"                                acknowledged, leave it in the broker\n"
"      --group                   reconnect: the sessions are members of\n"
"                                one group (topic bench/g/...); -n\n"
"                                messages to the group\n"
"      --groups G                reconnect: G groups, member i in group\n"
"                                i mod G, -n messages to each (--group)\n"
"      --offline F               p2p: fraction of users offline at any\n"
"                                time (0 to 0.95; QoS 1/2, -r > 0)\n"
"      --cycle SECONDS           p2p --offline: each user is online\n"
"                                (1-F) and offline F of every cycle (10)\n"
"      --cross                   p2p: send only to users connected to\n"
"                                another host (a cluster's other nodes)\n"
"      --drain SECONDS           longest wait for the last messages (10)\n"
"      --topic TOPIC             fanin/fanout topic (bench/t)\n"
"      --id-prefix TEXT          client id prefix (tb<pid>)\n"
"  -k, --keepalive SECONDS       keep alive (60)\n"
"      --label TEXT              copied to the report\n"
"      --cdf FILE                write the latency CDF (us fraction)\n"
"      --json                    the machine-readable line as JSON\n"
"      --quiet                   no progress line\n"
"      --help\n");
}

static unsigned long
bench_num(const char *s, const char *what, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
		fprintf(stderr, "tern-bench: bad %s '%s' (%lu..%lu)\n", what,
		    s, lo, hi);
		exit(2);
	}
	return v;
}

static double
bench_dbl(const char *s, const char *what, double lo, double hi)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (*end != '\0' || end == s || !(v >= lo && v <= hi)) {
		fprintf(stderr, "tern-bench: bad %s '%s' (%g..%g)\n", what, s,
		    lo, hi);
		exit(2);
	}
	return v;
}

enum {
	OPT_PID = 256, OPT_DRAIN, OPT_JSON, OPT_TOPIC, OPT_CDF, OPT_LABEL,
	OPT_QUIET, OPT_HELP, OPT_SUBSCRIBE, OPT_IDPREFIX, OPT_OPENLOOP,
	OPT_QUEUEONLY,
	OPT_CROSS, OPT_GROUP, OPT_GROUPS, OPT_OFFLINE, OPT_CYCLE
};

static const struct option bench_longopts[] = {
	{ "host", required_argument, NULL, 'h' },
	{ "port", required_argument, NULL, 'p' },
	{ "mqtt-version", required_argument, NULL, 'V' },
	{ "qos", required_argument, NULL, 'q' },
	{ "size", required_argument, NULL, 's' },
	{ "rate", required_argument, NULL, 'r' },
	{ "window", required_argument, NULL, 'w' },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "publishers", required_argument, NULL, 'P' },
	{ "subscribers", required_argument, NULL, 'S' },
	{ "users", required_argument, NULL, 'U' },
	{ "connections", required_argument, NULL, 'K' },
	{ "parallel", required_argument, NULL, 'c' },
	{ "keepalive", required_argument, NULL, 'k' },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "topic", required_argument, NULL, OPT_TOPIC },
	{ "cdf", required_argument, NULL, OPT_CDF },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "subscribe", no_argument, NULL, OPT_SUBSCRIBE },
	{ "id-prefix", required_argument, NULL, OPT_IDPREFIX },
	{ "open-loop", no_argument, NULL, OPT_OPENLOOP },
	{ "queue-only", no_argument, NULL, OPT_QUEUEONLY },
	{ "cross", no_argument, NULL, OPT_CROSS },
	{ "group", no_argument, NULL, OPT_GROUP },
	{ "groups", required_argument, NULL, OPT_GROUPS },
	{ "offline", required_argument, NULL, OPT_OFFLINE },
	{ "cycle", required_argument, NULL, OPT_CYCLE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static void
bench_options(int argc, char **argv)
{
	struct bench_opts *o = &B.o;
	int ch, i, rate_set = 0, pubs_set = 0, subs_set = 0, par_set = 0;
	int cycle_set = 0;
	char *tok, *save;
	static char prefix[32];

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		bench_usage(stdout);
		exit(0);
	}
	if (argc < 2 || argv[1][0] == '-') {
		bench_usage(stderr);
		exit(2);
	}
	for (i = 0; i < 5; i++)
		if (strcmp(argv[1], bench_scenario_names[i]) == 0)
			break;
	if (i == 5) {
		fprintf(stderr, "tern-bench: unknown scenario '%s'\n",
		    argv[1]);
		bench_usage(stderr);
		exit(2);
	}
	o->scenario = (enum bench_scenario)i;
	o->port = 1883;
	o->duration = 10;
	o->pubs = 4;
	o->subs = 10;
	o->users = 100;
	o->conns = 1000;
	o->parallel = 100;
	o->drain = 10;
	o->topic = "bench/t";
	o->groups = 1;
	o->cycle = 10;
	bench_cfg.version = MQTT_V5;
	bench_cfg.size = 64;
	bench_cfg.window = 64;
	bench_cfg.keep_alive = 60;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h:p:V:q:s:r:w:d:n:P:S:U:K:c:k:",
	    bench_longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			for (tok = strtok_r(optarg, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save)) {
				if (o->nhostspec >= BENCH_MAX_HOSTS)
					bench_fatal("too many hosts");
				o->hostspec[o->nhostspec++] = tok;
			}
			break;
		case 'p':
			o->port = (unsigned)bench_num(optarg, "port", 1,
			    65535);
			break;
		case 'V':
			if (strcmp(optarg, "5") == 0 ||
			    strcmp(optarg, "mqttv5") == 0)
				bench_cfg.version = MQTT_V5;
			else if (strcmp(optarg, "311") == 0 ||
			    strcmp(optarg, "mqttv311") == 0 ||
			    strcmp(optarg, "3.1.1") == 0)
				bench_cfg.version = MQTT_V311;
			else {
				fprintf(stderr, "tern-bench: -V 311 or 5\n");
				exit(2);
			}
			break;
		case 'q':
			bench_cfg.qos = (uint8_t)bench_num(optarg, "QoS", 0,
			    2);
			break;
		case 's':
			bench_cfg.size = (uint32_t)bench_num(optarg, "size",
			    BENCH_HDR_LEN, BENCH_MAX_PAYLOAD);
			break;
		case 'r':
			o->rate = bench_dbl(optarg, "rate", 0, 1e8);
			rate_set = 1;
			break;
		case 'w':
			bench_cfg.window = (uint32_t)bench_num(optarg,
			    "window", 1, BENCH_MAX_WINDOW);
			break;
		case 'd':
			o->duration = bench_dbl(optarg, "duration", 0.1,
			    86400);
			break;
		case 'n':
			o->count = bench_num(optarg, "count", 1, 1000000000);
			break;
		case 'P':
			o->pubs = (uint32_t)bench_num(optarg, "publishers", 1,
			    BENCH_MAX_CONNS);
			pubs_set = 1;
			break;
		case 'S':
			o->subs = (uint32_t)bench_num(optarg, "subscribers", 1,
			    BENCH_MAX_CONNS);
			subs_set = 1;
			break;
		case 'U':
			o->users = (uint32_t)bench_num(optarg, "users", 2,
			    BENCH_MAX_CONNS);
			break;
		case 'K':
			o->conns = (uint32_t)bench_num(optarg, "connections",
			    1, BENCH_MAX_CONNS - 1);
			break;
		case 'c':
			o->parallel = (uint32_t)bench_num(optarg, "parallel",
			    1, BENCH_MAX_CONNS);
			par_set = 1;
			break;
		case 'k':
			bench_cfg.keep_alive = (uint16_t)bench_num(optarg,
			    "keepalive", 0, 65535);
			break;
		case OPT_PID:
			o->pid = (long)bench_num(optarg, "pid", 1, 1u << 30);
			break;
		case OPT_DRAIN:
			o->drain = bench_dbl(optarg, "drain", 0, 3600);
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_TOPIC:
			if (strlen(optarg) >= BENCH_TOPIC_MAX ||
			    !mqtt_topic_name_valid((const uint8_t *)optarg,
			    strlen(optarg)))
				bench_fatal("bad topic '%s'", optarg);
			o->topic = optarg;
			break;
		case OPT_CDF:
			o->cdf = optarg;
			break;
		case OPT_LABEL:
			o->label = optarg;
			break;
		case OPT_QUIET:
			o->quiet = 1;
			break;
		case OPT_SUBSCRIBE:
			o->subscribe = 1;
			break;
		case OPT_OPENLOOP:
			o->open_loop = 1;
			break;
		case OPT_QUEUEONLY:
			o->queue_only = 1;
			break;
		case OPT_CROSS:
			o->cross = 1;
			break;
		case OPT_GROUP:
			o->group = 1;
			break;
		case OPT_GROUPS:
			o->groups = (uint32_t)bench_num(optarg, "groups", 1,
			    BENCH_MAX_CONNS);
			o->group = 1;
			break;
		case OPT_OFFLINE:
			o->offline = bench_dbl(optarg, "offline", 0, 0.95);
			o->im = 1;
			break;
		case OPT_CYCLE:
			o->cycle = bench_dbl(optarg, "cycle", 0.01, 86400);
			cycle_set = 1;
			break;
		case OPT_IDPREFIX:
			if (strlen(optarg) > 24)
				bench_fatal("--id-prefix: at most 24 bytes");
			o->id_prefix = optarg;
			break;
		case OPT_HELP:
			bench_usage(stdout);
			exit(0);
		default:
			bench_usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tern-bench: unexpected argument '%s'\n",
		    argv[optind]);
		exit(2);
	}
	if (o->scenario == SC_FANIN && !subs_set)
		o->subs = 1;
	if (o->scenario == SC_FANOUT && !pubs_set)
		o->pubs = 1;
	if (o->scenario == SC_P2P && !rate_set)
		o->rate = 10;
	if (o->scenario == SC_RECONNECT) {
		if (bench_cfg.qos == 0)
			bench_fatal("reconnect needs QoS 1 or 2 (QoS 0 is not "
			    "queued for offline sessions)");
		if (o->count == 0)
			o->count = 10;
		if (!pubs_set)
			o->pubs = 1;
		if (o->pubs == 0)
			bench_fatal("reconnect needs at least one publisher");
		if (!par_set)
			o->parallel = o->conns;
		o->rate = 0;
	}
	if (o->queue_only && o->scenario != SC_RECONNECT)
		bench_fatal("--queue-only is for reconnect");
	if (o->cross && (o->scenario != SC_P2P || o->nhostspec < 2))
		bench_fatal("--cross is for p2p with two hosts or more");
	if (o->group && o->scenario != SC_RECONNECT)
		bench_fatal("--group and --groups are for reconnect");
	if (o->group && o->groups > o->conns)
		bench_fatal("--groups: at most one group per session (-K)");
	if (o->im && o->scenario != SC_P2P)
		bench_fatal("--offline is for p2p");
	if (cycle_set && !o->im)
		bench_fatal("--cycle goes with --offline");
	if (o->im) {
		if (bench_cfg.qos == 0)
			bench_fatal("--offline needs QoS 1 or 2 (QoS 0 is not "
			    "queued for offline sessions)");
		if (o->rate <= 0)
			bench_fatal("--offline needs a rate (-r)");
		if (bench_cfg.size < BENCH_HDR_LEN + BENCH_TAG_LEN)
			bench_fatal("--offline needs --size %d or more",
			    BENCH_HDR_LEN + BENCH_TAG_LEN);
		/* a message to an offline user is not late: the window
		 * counts acknowledgements only */
		o->open_loop = 1;
		B.im_off = (uint32_t)llround(o->offline * o->users);
		if (B.im_off >= o->users)
			B.im_off = o->users - 1;
	}
	if ((uint64_t)o->pubs * o->subs > 10000000)
		bench_fatal("publishers x subscribers: at most 10,000,000");
	if (o->id_prefix == NULL) {
		snprintf(prefix, sizeof prefix, "tb%ld", (long)getpid());
		o->id_prefix = prefix;
	}
	if (bench_cfg.version == MQTT_V5 &&
	    (o->scenario == SC_P2P || o->scenario == SC_RECONNECT))
		bench_cfg.session_expiry = 3600;
}

/* tern-bench: see tern-bench(1). */
int
main(int argc, char **argv)
{
	struct rlimit rl;
	struct event_config *ec;
	struct event *second, *check;
	unsigned i;

	bench_options(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	bench_cfg.run_id = (uint32_t)(bench_now() ^ ((uint64_t)getpid() << 16));
	if (bench_cfg.run_id == 0)
		bench_cfg.run_id = 1;
	B.rng = bench_cfg.run_id | ((uint64_t)bench_cfg.run_id << 32);
	if (B.o.nhostspec == 0)
		bench_add_host("127.0.0.1");
	for (i = 0; i < B.o.nhostspec; i++)
		bench_add_host(B.o.hostspec[i]);
	bench_hist_init(&B.hist);
	bench_hist_init(&B.hist_sec);
	bench_hist_init(&B.hist_online);

	if ((ec = event_config_new()) == NULL)
		bench_fatal("event_config_new failed");
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	bench_base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (bench_base == NULL)
		bench_fatal("event_base_new failed");
	B.tick = event_new(bench_base, -1, EV_PERSIST, bench_tick_cb, NULL);
	second = event_new(bench_base, -1, EV_PERSIST, bench_second_cb, NULL);
	check = event_new(bench_base, -1, EV_PERSIST, bench_check_cb, NULL);
	B.pause = event_new(bench_base, -1, 0, bench_pause_cb, NULL);
	B.sigint = evsignal_new(bench_base, SIGINT, bench_sigint_cb, NULL);
	if (B.tick == NULL || second == NULL || check == NULL ||
	    B.pause == NULL || B.sigint == NULL)
		bench_fatal("event_new failed");
	event_add(second, &(struct timeval){ 1, 0 });
	event_add(check, &(struct timeval){ 0, 2000 });
	event_add(B.sigint, NULL);
	if (B.o.pid > 0 && (B.rss_before = bench_rss_kb(B.o.pid)) < 0)
		bench_fatal("--pid %ld: cannot read /proc/%ld/status", B.o.pid,
		    B.o.pid);

	bench_setup();
	if (B.phase != PH_DONE)
		event_base_dispatch(bench_base);

	for (i = 0; i < B.nconns; i++) {
		bench_conn_close(&B.conns[i]);
		free(B.conns[i].qos2_in);
	}
	for (i = 0; i < B.ntracks; i++)
		bench_track_free(&B.tracks[i]);
	free(B.tracks);
	free(B.conns);
	free(B.pubs);
	free(B.kick);
	event_free(B.tick);
	event_free(second);
	event_free(check);
	event_free(B.pause);
	event_free(B.sigint);
	event_base_free(bench_base);
	if (B.failed)
		return 1;
	return B.lossy ? 3 : 0;
}
