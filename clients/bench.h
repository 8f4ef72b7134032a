/*
 * bench.h - tern-bench, the load generator: shared types, grouped by file.
 *
 * tern-bench is one single-threaded process on one libevent loop (the
 * load is pinned to one core by bench/compare.sh, so threads would only
 * compete for it). Its MQTT client is not Paho: it is a raw client on
 * non-blocking sockets that frames, decodes and encodes with the broker's
 * own codec (broker/mqtt/mqtt.h). Measured on the 2-core machine, one
 * Paho MQTTAsync connection published 43,600 msg/s at QoS 0 (each message
 * goes through Paho's send thread), while one publisher and one subscriber
 * of this client moved 666,000 msg/s at 28% of a core: it reads up to
 * 256 KiB per read() and writes every packet queued for a connection
 * during a loop pass in one write() (docs/BENCHMARKS.md, tern-bench(1)).
 *
 *   bench.c        options, scenarios (fanin, fanout, p2p and its
 *                  IM variant with users going offline, conn,
 *                  reconnect and its group variant), phases, progress
 *                  line, report
 *   bench_conn.c   one MQTT connection: connect, CONNECT/SUBSCRIBE
 *                  handshakes, read and write buffers, publish with an
 *                  in-flight window, acknowledgements
 *   bench_stat.c   the log-bucketed latency histogram and the sequence
 *                  trackers that count lost and duplicated messages
 *
 * Every payload starts with a 24-byte header (BENCH_HDR_LEN, in host
 * byte order: one machine writes and reads it): run id, publisher index,
 * sequence number (per publisher, from 0) and the send time
 * (CLOCK_MONOTONIC, ns). The rest is filler up to --size, except that
 * with --size 28 or more the 4 bytes after the header hold a tag
 * (BENCH_TAG_LEN): p2p --offline puts there the number of the
 * recipient's connection when the message was sent (0: it was offline),
 * so that a receiver tells a message it got live from one it got queued.
 */
#ifndef TERN_BENCH_H
#define TERN_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mqtt.h"

struct event_base;
struct event;

/* Payload header; see the note above. */
#define BENCH_HDR_LEN 24
/* The tag after the header; see the note above. */
#define BENCH_TAG_LEN 4

/* Bounds (STYLE: sizes and loops bounded). */
#define BENCH_MAX_CONNS 200000
#define BENCH_MAX_HOSTS 32
#define BENCH_MAX_PAYLOAD (1024 * 1024)
#define BENCH_MAX_WINDOW 32768
#define BENCH_READ_CHUNK (256 * 1024)
#define BENCH_WRITE_BATCH (64 * 1024)
#define BENCH_CLIENT_ID_MAX 64
#define BENCH_TOPIC_MAX 128

/* --- bench_stat.c --- */

/* Log-bucketed histogram (HDR style): values below 256 exact, above that
 * 128 sub-buckets per power of two, so any value is reported within
 * 0.8 %. Values are nanoseconds. */
#define BENCH_HIST_SUB 128
#define BENCH_HIST_BUCKETS (256 + 56 * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t n;
	uint64_t min;
	uint64_t max;
	uint64_t counts[BENCH_HIST_BUCKETS];
};

/* Empty the histogram. */
void bench_hist_init(struct bench_hist *h);
/* Record one value (ns). */
void bench_hist_add(struct bench_hist *h, uint64_t v);
/* The value at quantile q (0..1): the highest value of the bucket holding
 * it, never above the maximum recorded. 0 when the histogram is empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);
/* Write the CDF as "microseconds fraction" lines, one per non-empty
 * bucket, for gnuplot. Returns 0, or -1 on a write error. */
int bench_hist_write_cdf(const struct bench_hist *h, FILE *f);

/* Which sequence numbers of one publisher one subscriber (or, in p2p, the
 * one recipient) has seen: a bitmap that grows with the highest sequence
 * number seen, which the caller bounds by the publisher's sent count. */
struct bench_track {
	uint64_t *bits;
	uint64_t nwords;
	uint64_t unique;
	uint64_t dup;
};

/* Mark seq as received. Returns 1 the first time, 0 for a duplicate (and
 * counts it), -1 when the bitmap cannot grow (out of memory). */
int bench_track_mark(struct bench_track *t, uint64_t seq);
/* Free the bitmap (the struct itself is the caller's). */
void bench_track_free(struct bench_track *t);

/* Monotonic clock in ns. */
uint64_t bench_now(void);

/* --- bench_conn.c --- */

enum bench_cstate {
	BC_IDLE,	/* not started, or closed and reusable */
	BC_CONNECTING,	/* TCP connect in progress */
	BC_CONNACK,	/* CONNECT sent, awaiting CONNACK */
	BC_SUBACK,	/* SUBSCRIBE sent, awaiting SUBACK */
	BC_READY,	/* connected (and subscribed if it subscribes) */
	BC_CLOSED	/* closed by us or by the broker */
};

/* One in-flight slot of a publisher (QoS 1/2). */
#define BENCH_SLOT_FREE 0
#define BENCH_SLOT_PUBACK 1
#define BENCH_SLOT_PUBREC 2
#define BENCH_SLOT_PUBCOMP 3

struct bench_host {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[288];
};

struct bench_conn {
	uint32_t idx;		/* index in the bench's connection array */
	uint32_t pub_idx;	/* publisher index, UINT32_MAX if none */
	uint32_t sub_idx;	/* subscriber index, UINT32_MAX if none */
	int fd;
	enum bench_cstate state;
	const struct bench_host *host;
	char client_id[BENCH_CLIENT_ID_MAX];
	char sub_topic[BENCH_TOPIC_MAX];	/* empty: no subscription */
	uint8_t clean;		/* clean start / clean session */
	uint8_t skip_sub;	/* resuming a session: do not SUBSCRIBE */
	uint8_t want_online;	/* p2p --offline: what the schedule says */
	uint8_t leaving;	/* ... going offline once its acks are in */
	uint32_t epoch;		/* p2p: connections that became ready */
	uint8_t session_present;
	uint16_t server_recv_max;	/* v5 CONNACK Receive Maximum */
	uint16_t keep_alive;
	struct event *rev;
	struct event *wev;
	uint8_t *rkeep;		/* bytes of a partial packet kept */
	uint32_t rkeep_len;
	uint32_t rkeep_cap;
	uint8_t *wbuf;		/* bytes queued for the socket */
	size_t wlen;
	size_t woff;
	size_t wcap;
	uint64_t last_write;	/* ns, for keep alive */
	uint64_t t_connect;	/* ns, when connect() was called */
	uint64_t t_ready;	/* ns, when BC_READY was reached */
	/* publisher state */
	uint64_t sent;		/* PUBLISH packets queued (= next seq) */
	uint64_t acked;		/* PUBACK/PUBCOMP received */
	uint64_t owed;		/* rate mode: due but not yet sent */
	uint64_t delivered;	/* unique arrivals of its messages */
	uint64_t forgiven;	/* arrivals given up on (QoS 0 stall) */
	uint8_t blocked;	/* waiting for arrivals (end-to-end window) */
	uint8_t kicked;		/* on the list of publishers to refill */
	uint32_t inflight;
	uint32_t window;
	uint16_t next_pid;
	uint8_t *slots;		/* window rounded up to a power of two */
	uint32_t nslots;
	/* subscriber state */
	uint64_t received;
	uint64_t expect_queued;	/* reconnect: messages queued for it */
	uint8_t want_write;	/* QoS 0 as fast as possible: refill */
	uint8_t *qos2_in;	/* 65536 bits: QoS 2 ids received, not
				 * yet released (kept across reconnects) */
};

/* Start a connection: non-blocking socket, TCP_NODELAY, connect(); the
 * handshake (CONNECT, then SUBSCRIBE to c->sub_topic if set) runs from the
 * loop and ends in bench_on_ready() or bench_on_closed(). c's identity
 * fields (host, client_id, sub_topic, clean, pub_idx, sub_idx) are set
 * by the caller. Returns 0, or -1 with errno (the connection is left
 * BC_CLOSED). */
int bench_conn_start(struct bench_conn *c);
/* Queue one PUBLISH of the run to topic (a NUL-terminated string, at most
 * BENCH_TOPIC_MAX bytes) with the payload header stamped `now` (the
 * caller reads the clock once per batch: the batch leaves in one write)
 * and `tag` after it when --size leaves room; the payload is --size
 * bytes. Takes an in-flight slot at QoS 1/2: the
 * caller checks bench_conn_can_publish() first. Does not write: call
 * bench_conn_flush(). */
void bench_conn_publish(struct bench_conn *c, const char *topic,
    uint64_t now, uint32_t tag);
/* 1 when the in-flight window (QoS 1/2) has room for one more PUBLISH. */
int bench_conn_can_publish(const struct bench_conn *c);
/* Write what is queued; on a short write, wait for the socket to be
 * writable and go on from there. Returns 0, or -1 when the connection
 * was closed by an error. */
int bench_conn_flush(struct bench_conn *c);
/* Bytes queued and not yet written. */
size_t bench_conn_pending(const struct bench_conn *c);
/* Send DISCONNECT (best effort, non-blocking) and close. */
void bench_conn_disconnect(struct bench_conn *c);
/* Close the socket and free the buffers; the struct is reusable (its
 * counters are kept). Does not call bench_on_closed(). */
void bench_conn_close(struct bench_conn *c);
/* Send PINGREQ when nothing was written for half the keep alive. */
void bench_conn_keepalive(struct bench_conn *c, uint64_t now);

/* --- bench.c: callbacks from bench_conn.c --- */

/* The handshake of c is over (CONNACK accepted, SUBACK granted). */
void bench_on_ready(struct bench_conn *c);
/* c was closed by the broker or by an error; why is a short text. */
void bench_on_closed(struct bench_conn *c, const char *why);
/* A PUBLISH arrived on c (acknowledgements are already queued). */
void bench_on_message(struct bench_conn *c, const struct mqtt_publish *p);
/* A PUBACK (QoS 1) or PUBCOMP (QoS 2) freed a slot of publisher c;
 * reason is the v5 reason code (>= 0x80: the broker refused it; a PUBREC
 * refusal ends the exchange too). */
void bench_on_acked(struct bench_conn *c, uint8_t reason);
/* c's socket can take more: refill a QoS 0 publisher. */
void bench_on_writable(struct bench_conn *c);
/* A read callback is over (its acknowledgements are written): refill the
 * publishers whose messages it delivered. */
void bench_on_read_done(void);

/* The settings bench_conn.c reads; owned by bench.c. */
struct bench_cfg {
	uint8_t version;	/* MQTT_V311 or MQTT_V5 */
	uint8_t qos;
	uint32_t size;		/* payload bytes, >= BENCH_HDR_LEN */
	uint32_t window;
	uint16_t keep_alive;
	uint32_t session_expiry;	/* v5, for persistent sessions */
	uint32_t run_id;
};

extern struct bench_cfg bench_cfg;
/* The clock (ns) when the bytes now being handled were read: one read
 * per batch of packets, one clock reading per batch. */
extern uint64_t bench_conn_rx_now;
extern struct event_base *bench_base;

#endif /* TERN_BENCH_H */
