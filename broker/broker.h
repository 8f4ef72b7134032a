/*
 * broker.h - the node's internal header, grouped by file (tmux habit): the
 * group named after a .c file declares what that file exports.
 *
 * Threads: everything here runs on the one libevent loop thread. There are
 * no locks; a connection, a session and a message are touched by the loop
 * only.
 *
 * Object model:
 *   struct conn     one network connection (over a transport: sock.c for
 *                   plain TCP, bevconn.c for TLS and WebSocket), state machine
 *                   NEW (awaiting CONNECT) -> ACTIVE -> CLOSING -> freed
 *                   from a deferred event, never inside its own callback.
 *   struct session  what MQTT calls the session state: subscriptions,
 *                   queue, in-flight messages, QoS 2 ids. Outlives its
 *                   connection when persistent; keyed by client id.
 *   struct msg      one application message, immutable and refcounted;
 *                   shared by every queue, in-flight slot and the retained
 *                   tree that holds it.
 *   struct delivery a message on its way to one session (queued or in
 *                   flight), with the QoS, packet id and subscription ids
 *                   of that delivery.
 */
#ifndef TERN_BROKER_H
#define TERN_BROKER_H

#include <sys/queue.h>
#include <sys/time.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>

#include "mqtt.h"
#include "hash.h"
#include "trie.h"
#include "xmalloc.h"

#define TERN_VERSION PACKAGE_VERSION

struct conn;
struct session;
struct claim;
struct peer;

/* --- log.c --- */

enum log_level {
	LOG_ERROR,
	LOG_WARNING,
	LOG_NOTICE,
	LOG_INFO,
	LOG_DEBUG
};

/* Open the log: path NULL means stderr. Returns 0, or -1 with errno. */
int log_open(const char *path);
/* Reopen the log file (SIGHUP, after rotation). */
void log_reopen(void);
void log_close(void);
void log_set_level(int level);
int log_get_level(void);
/* One line with a timestamp and the level. */
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Parse a level name; -1 when unknown. */
int log_level_parse(const char *name);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) do {						\
	if (log_get_level() >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__);	\
} while (0)
#define log_debug(...) do {						\
	if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__);	\
} while (0)

/* --- config.c --- */

struct tls_ctx;

/*
 * One listener line and the keys that follow it. The TLS keys (certfile,
 * keyfile, cafile, capath, ciphers, require_certificate, tls_version)
 * only name files and choices; tls.c loads them into a struct tls_ctx at
 * start-up and again on SIGHUP.
 */
struct listener_conf {
	char *address; /* NULL: all addresses */
	uint16_t port;
	char *server_reference; /* sent when draining; NULL: none */
	uint8_t cluster; /* the cluster listener: node links only */
	char *certfile; /* NULL: plain TCP */
	char *keyfile;
	char *cafile; /* CA certificates for client certificates */
	char *capath;
	char *ciphers; /* NULL: the built-in modern list */
	int require_certificate;
	int use_identity_as_username; /* the certificate's CN is the user */
	int max_connections; /* 0: no limit */
	uint8_t max_connections_set; /* given after the listener line */
	uint8_t websockets; /* protocol websockets: MQTT over RFC 6455 */
	char *websockets_path; /* the Upgrade request's path; NULL: /mqtt */
	size_t n_conns; /* open connections, not parsed (conn.c) */
	struct tls_ctx *tls; /* tls.c's current context, not parsed: NULL
			      * for plain TCP */
};

struct cluster_peer_conf {
	char *host;
	uint16_t port;
};

struct mqttbridge_conf;

struct config {
	struct listener_conf *listeners;
	size_t n_listeners;
	char *data_dir;
	char *log_file; /* NULL: stderr */
	int log_level;
	uint32_t max_packet_size;
	uint32_t max_inflight_messages; /* a v5 client's Receive Maximum, capped */
	uint32_t max_inflight_messages_v311; /* for 3.1.1 clients (and capped) */
	uint32_t max_queued_messages;
	uint32_t group_log_threshold; /* glog.c; 0: off */
	uint32_t offline_queue_cache; /* persist_park; 0: off */
	uint32_t offline_queue_cache_sessions;
	uint32_t max_keepalive;
	uint64_t max_queued_bytes; /* 0: no byte limit */
	uint32_t max_topic_levels;
	uint32_t max_topic_length; /* bytes */
	int max_connections; /* listeners without their own; 0: none */
	uint32_t max_connection_rate; /* CONNECTs / s per address; 0: off */
	uint32_t max_publish_rate; /* PUBLISHes / s per client; 0: off */
	uint32_t max_publish_bytes_rate; /* bytes / s per client; 0: off */
	uint32_t max_subscriptions_per_client; /* 0: no limit */
	uint32_t max_retained_messages; /* topics; 0: no limit */
	uint64_t max_retained_bytes; /* retain.c's count; 0: no limit */
	int store; /* durable store on */
	int queue_qos0_messages;
	int message_id_property; /* tern-mid on deliveries (receipt.c) */
	int delivery_receipts; /* receipt-to is honoured (receipt.c) */
	char *presence_topic; /* pattern with %c, %u; NULL: no presence */
	uint32_t presence_debounce; /* s before an offline is published */
	int presence_all; /* every client, not only persistent sessions */
	int events; /* $events/ published (events.c) */
	/* The offline push webhook (push.c); push_webhook NULL: off. */
	char *push_webhook; /* the URL as given */
	char *push_host; /* its parts: host (no brackets), port, path */
	char *push_path; /* with the query, "/" when none */
	uint16_t push_port;
	char *push_secret; /* HMAC-SHA256 key; NULL: requests unsigned */
	uint32_t push_min_interval; /* s per recipient; 0: every message */
	uint32_t push_timeout; /* s */
	uint32_t push_queue_max; /* events waiting, at most */
	char *http_address; /* http_listener's; NULL: no HTTP listener */
	char *http_token_file; /* bearer tokens; NULL: none */
	char *http_certfile; /* https (httptls.c); NULL: plain http */
	char *http_keyfile;
	char *http_cafile; /* for client certificates */
	int http_require_certificate;
	int http_listener; /* http_listener given */
	int http_allow_anonymous; /* no token needed (loopback only) */
	uint16_t http_port;
	int store_sync_full;
	int allow_zero_length_clientid;
	int session_owner_only; /* a session is taken by its user only */
	int client_id_user_prefix; /* client id = user [sep ...] */
	uint32_t connect_timeout;
	int tcp_nodelay;
	uint32_t persistent_client_expiration; /* s; 0 never */
	uint32_t topic_alias_maximum; /* inbound aliases per v5 client */
	uint32_t receive_maximum; /* inbound unreleased QoS 2 per client */
	int retain_available;
	uint32_t max_qos;
	int wildcard_subscription_available;
	int subscription_identifier_available;
	int shared_subscription_available;
	char *response_information; /* NULL: none */
	char *server_reference; /* default for listeners without one */
	/* The cluster (bridge/): off unless node_name is set. */
	char *node_name;
	struct listener_conf *cluster_listener;
	struct cluster_peer_conf *cluster_peers;
	size_t n_cluster_peers;
	char *cluster_secret;
	char *cluster_advertise; /* host:port the others dial; NULL: listener */
	char *cluster_certfile; /* all three or none: links over mutual TLS */
	char *cluster_keyfile;
	char *cluster_cafile;
	struct tls_ctx *cluster_tls; /* tls.c's context for dialling, not
				      * parsed: NULL for plain links */
	uint32_t cluster_route_grace; /* s */
	uint32_t cluster_sync_timeout; /* ms */
	char *cluster_dns_host; /* cluster_peers_dns; NULL: none */
	uint16_t cluster_dns_port;
	uint32_t cluster_dns_interval; /* s */
	char *dns_resolv_conf; /* the resolver's configuration (evdns) */
	uint32_t sys_interval; /* s; 0: no $SYS topics */
	char *password_file; /* NULL: none */
	char *acl_file; /* NULL: none, everything allowed */
	int allow_anonymous; /* -1 until config_finish() */
	char *jwt_key_file; /* NULL: no JWT logins */
	uint32_t jwt_alg; /* JWT_HS256, ... (jwt.c) */
	char *jwt_username_claim;
	uint32_t jwt_leeway; /* s */
	/* Bridges to other brokers (mqttbridge.c): one per connection
	 * line, with the keys that follow it. */
	struct mqttbridge_conf *bridges;
	size_t n_bridges;
	unsigned line; /* the line config_line is reading */
	/* Per key of config.c's table: its lines' values as given, for
	 * config_reload. */
	char **key_text;
};

/* Set every key to its default (no listeners: see config_finish). */
void config_init(struct config *c);
/*
 * Read a config file into c. On error writes "FILE:LINE: message" into
 * err (size errlen) and returns -1; returns 0 on success.
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Parse one "key value" line (no comment, no newline) as if read from
 * file:line; same error contract as config_load. */
int config_line(struct config *c, const char *file, unsigned line,
    char *text, char *err, size_t errlen);
/* Apply defaults that depend on other keys (127.0.0.1:1883 when no
 * listener is configured; allow_anonymous false when password_file is
 * set and allow_anonymous is not). */
void config_finish(struct config *c);
/* Replace the listeners with one on 127.0.0.1:port (the -p flag). */
void config_set_port(struct config *c, uint16_t port);
void config_free(struct config *c);
/* The i-th key of the config table, NULL past the end; and its default
 * as documented in tern.conf(5). For tests and documentation checks. */
const char *config_key_name(size_t i);
void config_key_default(size_t i, char *buf, size_t len);
/* 1 when SIGHUP applies a new value of the i-th key (tern.conf(5)). */
int config_reloadable(size_t i);
/*
 * SIGHUP: fresh is the file read again (config_finish done). Each key
 * whose value differs is taken into live when SIGHUP may apply it, else
 * logged as needing a restart ("<key> changed in <file>") and left as it
 * was. Values are swapped: afterwards fresh holds the replaced ones (what
 * the reload hooks compare srv.cfg with; config_free frees them). Returns
 * how many keys changed in live.
 */
int config_reload(struct config *live, struct config *fresh,
    const char *file);

/* --- msg.c --- */

/*
 * An application message. Immutable once made; the topic, payload and the
 * properties that travel with it live in the same allocation.
 */
struct msg {
	unsigned refs;
	uint8_t qos; /* as published */
	uint8_t retain; /* as published */
	uint8_t payload_format;
	uint8_t has_payload_format;
	uint8_t has_expiry;
	uint32_t expiry; /* message expiry interval, seconds */
	time_t received; /* for the remaining expiry interval */
	uint32_t topic_len;
	uint32_t payload_len;
	uint32_t user_len; /* wire-form user properties */
	char *topic; /* NUL-terminated (topics hold no U+0000) */
	uint8_t *payload;
	uint8_t *user;
	struct mqtt_str content_type;
	struct mqtt_str response_topic;
	struct mqtt_str correlation_data;
	uint64_t store_id; /* id in the store, 0 until first written */
	uint64_t put_gen; /* store batch that last wrote the body */
	uint64_t hold_gen; /* QoS 2 deliveries wait for this batch */
	/* Cluster-wide identity, given where the message entered the
	 * cluster (bridge/forward.c): the origin node (a hash of its name)
	 * and that node's sequence. 0: none (a single node, unless
	 * receipt.c needs one). */
	uint64_t id_origin;
	uint64_t id_seq;
	uint8_t settling; /* QoS 2 deliveries wait for deliver_settle() */
	uint8_t refused; /* the commit of its batch failed: reaches nobody */
	uint8_t tracking; /* its sends are noted (resend.c) */
	uint8_t resent; /* the resend of a refused message (resend.c) */
	struct msg_track *track; /* who has it (resend.c) */
};

/* A new message (one reference) copied from a decoded PUBLISH; topic is
 * given separately as it may come from a topic alias. */
struct msg *msg_from_publish(const struct mqtt_publish *p,
    const uint8_t *topic, uint32_t topic_len);
/* The same, with user properties given in wire form instead of those of
 * the PUBLISH (a cluster link strips its own). */
struct msg *msg_from_publish_user(const struct mqtt_publish *p,
    const uint8_t *topic, uint32_t topic_len, const struct mqtt_str *user);
/* A new message (one reference) from its parts; user: wire-form user
 * properties instead of props' own. */
struct msg *msg_from_parts(const struct mqtt_props *props,
    const struct mqtt_str *user, const uint8_t *topic, uint32_t topic_len,
    struct mqtt_str payload, uint8_t qos, uint8_t retain);
/* props emptied, then Payload Format Indicator 1 and Content Type
 * application/json: the node's own JSON messages (receipts, presence,
 * events). */
void msg_json_props(struct mqtt_props *props);
/* The value of m's first user property named key, in v; 0 when none. */
int msg_user_get(const struct msg *m, const char *key, struct mqtt_str *v);
/* A copy of m (one reference) with extra wire-form user properties
 * appended. */
struct msg *msg_with_user(const struct msg *m, const uint8_t *extra,
    uint32_t extra_len);
/* A new message (one reference) from a CONNECT's will. */
struct msg *msg_from_will(const struct mqtt_connect *c);
/* The bytes m's block holds (struct, topic, payload, properties), and
 * what msg_from_publish(p, topic of topic_len) would hold. */
size_t msg_size(const struct msg *m);
size_t msg_publish_size(const struct mqtt_publish *p, uint32_t topic_len);
/* Take / drop a reference; the last drop frees. */
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);
/* Serialise the travelling properties for the store into buf (which has
 * msg_pack_size(m) bytes); returns the length. */
uint32_t msg_pack_size(const struct msg *m);
uint32_t msg_pack(const struct msg *m, uint8_t *buf);
/* A new message (one reference) from a stored record; NULL when its
 * property blob does not parse. */
struct store_msg;
struct msg *msg_from_store(const struct store_msg *sm);
/* 1 when m has a property a v5 PUBLISH of it carries. */
int msg_has_props(const struct msg *m);
/* Fill the message's properties into props for a PUBLISH to a client
 * (v5 only; borrowed from m). */
void msg_props(const struct msg *m, struct mqtt_props *props);
/* 1 when m's Message Expiry Interval has passed at now. */
int msg_expired(const struct msg *m, time_t now);

/* --- receipt.c --- */

/* The text form of a message's identity (origin, then sequence, 11
 * base64url digits each), as clients see it in "tern-mid" and in
 * receipts. */
#define RECEIPT_MID_LEN 22
/* The bytes of the "tern-mid" user property in wire form. */
#define RECEIPT_MID_PROP_LEN (1 + 2 + 8 + 2 + RECEIPT_MID_LEN)

/* 1 when m, on a node without node_name, needs an identity all the same:
 * message_id_property is on, push_webhook is set (push.c's events name
 * it), or its publisher asks for a receipt. */
int receipt_wants_id(const struct msg *m);
/* m's identity as text into out (RECEIPT_MID_LEN bytes, no NUL); m must
 * have one. */
void receipt_mid(const struct msg *m, char *out);
/* The "tern-mid" user property of m in wire form into buf
 * (RECEIPT_MID_PROP_LEN bytes); returns its length. */
size_t receipt_mid_prop(const struct msg *m, uint8_t *buf);
/* A client's message without the "tern-mid" user properties it gave,
 * when message_id_property is on (the broker's own is the only one a
 * recipient sees). Takes m; returns m or a new message in its place. */
struct msg *receipt_clean(struct msg *m);
/* s's client acknowledged m (PUBACK, or the first PUBREC): when m asks
 * for a receipt, publish it. Borrows both. */
void receipt_acked(struct session *s, const struct msg *m);
/* s (len bytes) as a JSON string, quotes included, at p, which has
 * 6 * len + 2 bytes; returns the end. */
char *receipt_json_str(char *p, const char *s, size_t len);

/* --- push.c --- */

/* Start the webhook's client when push_webhook is set. 0, or -1 (logged). */
int push_init(void);
/* m was queued at qos for s: when s is a persistent session without a
 * connection (not a node's), note an event for the webhook. publisher:
 * the local session that published m, NULL when unknown (from another
 * node, the broker's own). Borrows all; never blocks. */
void push_queued(const struct session *s, const struct msg *m, uint8_t qos,
    const struct session *publisher);
/* The counters of $SYS/broker/push/ (sys.c). */
void push_stats(uint64_t *sent, uint64_t *failed, uint64_t *dropped,
    uint64_t *waiting, uint64_t *errors);
/* Drop what waits and close the connection (shutdown). */
void push_free_all(void);
/* SIGHUP changed push settings (old: those before): a new URL takes the
 * batch in flight and what waits; none drops them; on starts the client. */
void push_reload(const struct config *old);

/* --- presence.c --- */

/* The user property that orders presence messages across nodes (the
 * claim of the connection, twice, plus one for an offline). A "$tern/"
 * key: a client's own is stripped (bridge_msg_clean); a link keeps this
 * one (bridge_msg_in). */
#define PRESENCE_PROP "$tern/presence"

/* c's CONNECT attached s: publish its online, or take up the offline
 * that waits for its debounce. */
void presence_online(struct conn *c, struct session *s);
/* c, s's connection, closes with reason rc: arm its offline. */
void presence_gone(struct conn *c, struct session *s, uint8_t rc);
/* A claim from another node for client id (id_len bytes) took or will
 * take its session there: an offline that waits for it here is not
 * published (the client is back, on that node). user: the claimer's
 * user name (ulen bytes), NULL for an anonymous client; user_known 0
 * when the claim does not say. */
void presence_claimed(const char *id, size_t id_len, const char *user,
    size_t ulen, int user_known);
/* 1 when m is a presence message older than the retained one of its
 * topic (both carry their order, "$tern/presence"): a late offline of
 * a client that came back since on another node. Not delivered. */
int presence_stale(const struct msg *m);
/* Start-up, the store loaded: the offline of each session this node
 * showed online when it stopped, after the debounce (presence.c). */
void presence_init(void);
/* Drop the offlines that wait (shutdown). */
void presence_free_all(void);
/* SIGHUP changed presence_topic, presence_debounce or presence_clients:
 * they apply to the next change of each client; presence_topic none drops
 * the offlines waiting. */
void presence_reload(const struct config *old);

/* --- events.c --- */

/* Why a message was lost or refused ($events/message/dropped). */
enum events_drop {
	EVENTS_DROP_QUEUE_FULL, /* a session's queue at its limit */
	EVENTS_DROP_EXPIRED, /* its Message Expiry Interval passed, queued */
	EVENTS_DROP_TOO_LARGE, /* over the client's Maximum Packet Size */
	EVENTS_DROP_OUTPUT_FULL, /* QoS 0 to a client that does not read */
	EVENTS_DROP_NOT_AUTHORIZED, /* publish refused, or read revoked */
	EVENTS_DROP_RATE_LIMITED, /* publish refused: max_publish_rate */
	EVENTS_DROP_QUOTA_EXCEEDED, /* publish refused: retained bounds */
	EVENTS_DROP_N
};

/* reason as $events/message/dropped and the metrics name it. */
const char *events_drop_name(enum events_drop reason);
/* 1 when topic is under $events/ (the node's events: no client
 * publishes there). */
int events_topic(const char *topic, size_t len);
/* 1 when filter (a $share one: its inner filter) begins with the level
 * $events: a subscription that needs acl_file and a rule. */
int events_filter(const uint8_t *filter, uint32_t len);
/* c's CONNECT attached s (clean_start as asked; present: the session
 * went on): $events/client/connected, on the next pass. */
void events_connected(const struct conn *c, const struct session *s,
    int clean_start, int present);
/* c, s's connection, closes with reason rc: $events/client/disconnected. */
void events_disconnected(const struct conn *c, const struct session *s,
    uint8_t rc);
/* s's connection is taken over by a new one from new_peer (NULL: not
 * known here) on new_node (NULL: none named): $events/session/taken_over.
 * Before the old connection closes. */
void events_taken_over(const struct session *s, const char *new_peer,
    const char *new_node);
/* A message m (NULL: not known) lost for s, or refused to s's client,
 * for reason: counted, published with the count within a second. */
void events_dropped(const struct session *s, const struct msg *m,
    enum events_drop reason);
/* Drop what waits (shutdown). */
void events_free_all(void);

/* --- session.c --- */

struct delivery {
	TAILQ_ENTRY(delivery) entry;
	struct msg *msg; /* one reference */
	uint64_t seq; /* position in the session's queue, from 1 */
	uint16_t packet_id; /* 0 while queued */
	uint8_t qos;
	uint8_t retain;
	uint8_t state; /* DELIVERY_* */
	uint8_t dup; /* sent before: DUP on the next send */
	uint8_t n_sub_ids;
	uint32_t *sub_ids; /* NULL when n_sub_ids <= 1: uses sub_id */
	uint32_t sub_id;
	char *share; /* the $share filter that chose us, if one did */
	uint32_t acl_gen; /* ACL generation read was checked at; 0: not */
	uint64_t row_gen; /* store batch that wrote its row (0: none) */
};
TAILQ_HEAD(delivery_list, delivery);

#define DELIVERY_QUEUED 0
#define DELIVERY_SENT 1 /* PUBLISH sent, awaiting PUBACK / PUBREC */
#define DELIVERY_RELEASED 2 /* PUBREC received, PUBREL sent */

struct session_sub {
	char *filter;
	uint32_t filter_len;
	uint8_t options;
	uint32_t sub_id;
};

/*
 * The part of a session that only the cluster and bridges use: made on
 * first use, so that a client's session, on one node or in a cluster
 * that never moved it, does not carry it (memory per connection is a
 * benchmark figure, docs/BENCHMARKS.md). Fields as they were in struct
 * session; all zero means none of it.
 */
struct session_cluster {
	struct peer *peer; /* "$peer/<node>": what we forward to that node */
	struct peer *moving; /* being handed to that node (takeover) */
	uint64_t moved_seq; /* highest seq handed to us by another node */
	struct seen *seen; /* cluster message ids seen (deliver.c) */
	uint64_t move_claim; /* the claim it is moving for */
	uint32_t moving_in; /* the nodes whose move into it is open (bits:
			     * bridge_peer_bit): two copies may come at once */
	/* The nodes (bridge_peer_bit) that may hold another copy of it:
	 * its client connected here while they did not answer the claim
	 * (bridge/takeover.c, "Split sessions"). */
	uint32_t split;
	struct peer *claim_from; /* a claim that waits for the move in */
	struct mqttbridge *xb; /* "$bridge/<name>": its connection is a
				* bridge to another broker (mqttbridge.c) */
	uint64_t claim_id;
	uint64_t claim_won; /* the claim of its last connection here */
	uint8_t cluster_in; /* "$cluster/<node>": that node's link to us */
	uint8_t move_renumber; /* moved messages take new seqs (merge) */
	uint8_t claim_flags; /* of the claim that waits (PROTO_CLAIM_*) */
};

/*
 * The part of a session that only a session kept beyond its connection
 * uses: its queue on disk and in a group log, its place among the
 * parked sessions, its expiry timer. Made on first use, so that a clean
 * session does not carry it (as struct session_cluster).
 */
struct session_durable {
	uint64_t disk_count; /* queue rows on disk not yet in memory */
	uint64_t disk_bytes;
	uint64_t disk_max_seq; /* rows up to this seq may be disk-only */
	uint64_t disk_cursor; /* last seq read back from the store */
	struct delivery *disk_tail; /* last queued delivery read back */
	struct glog_span *span; /* its open span over a group log (glog.c) */
	uint64_t write_gen; /* the batch of its last queue write (persist.c) */
	struct event *expiry_timer;
	/* In persist.c's list of parked sessions: the list's macros name
	 * the field dur->park_entry. */
	TAILQ_ENTRY(session) park_entry;
	uint32_t disk_gen; /* new, unique, when the queue goes to disk */
	uint8_t disk_loading; /* a queue read is in progress */
	uint8_t parked; /* offline, its queue kept in memory (persist.c) */
	uint8_t read_deferred; /* its queue read waits for the commit */
};

struct session {
	char *client_id;
	size_t id_len;
	uint64_t id_hash; /* hash_bytes of the id (resend.c), 0: unknown */
	struct conn *conn; /* NULL while offline */
	int persistent; /* survives the connection */
	uint32_t expiry; /* v5 session expiry interval; 0xFFFFFFFF never */

	struct session_sub *subs;
	size_t n_subs, cap_subs;
	struct hash *sub_index; /* filter -> index in subs + 1 */

	struct delivery_list queue; /* waiting to be sent, in order */
	struct delivery_list inflight; /* sent, not yet acknowledged */
	uint32_t n_queued;
	uint32_t n_inflight;
	uint64_t inflight_lo; /* at or below every seq in flight (deliver.c) */
	uint64_t queued_bytes; /* payload bytes in queue + inflight */
	uint64_t next_seq; /* seq of the next delivery (packet ids too) */

	uint64_t sent_max_seq; /* highest seq ever sent (loaded: all may
				* have been) */
	/* Its queue on disk, its expiry (persist.c, glog.c): the shared
	 * all-zero session_durable_none until one of them is needed; read
	 * with session_du(), written through session_durable(). */
	struct session_durable *dur;

	uint16_t *qos2_in; /* incoming QoS 2 ids awaiting PUBREL */
	uint32_t n_qos2_in, cap_qos2_in;

	struct msg *will;
	uint32_t will_delay; /* v5 Will Delay Interval, seconds */
	uint32_t will_left; /* loaded from the store: delay still due */
	struct event *will_timer; /* pending delayed will */

	/* The cluster and bridges (bridge/, mqttbridge.c): the shared
	 * all-zero session_cluster_none until one of them needs it; read
	 * with session_cl(), written through session_cluster(). */
	struct session_cluster *cl;
	/* Who the client is, for the ACL: set at each CONNECT, and
	 * stored with the session (unknown for a row written before schema
	 * 3, until its client is back). */
	char *username; /* NULL: anonymous */

	/* The small fields of the groups above, together so that none
	 * needs padding (memory per session is a benchmark figure). */
	uint32_t dropped; /* messages dropped on a full queue */
	uint32_t n_held_acks; /* acks waiting for room here */
	uint32_t route_mark; /* the last routing that matched it (deliver.c) */
	uint8_t stored; /* a session row exists in the store */
	uint8_t blocking; /* over its limit: publishers' acks wait */
	uint8_t pump_waiting; /* pumped again after the next commit */
	uint8_t user_known;
	uint8_t tombstone; /* SESSION_TOMBSTONE_*: moved away (tombstone.c) */
	uint8_t presence_on; /* its online was published (presence.c) */
};

#define SESSION_TOMBSTONE_ROUTED 1 /* still holds its routes */
#define SESSION_TOMBSTONE_UNROUTED 2

/* The value of s->cl, s->dur and a conn's c->aux before the part is made:
 * the shared read-only instance none, never written through. */
#define AUX_NONE(type, none) ((type *)&(none))
/*
 * s's cluster part to write: made (all zero) on first use. Until then
 * s->cl points at session_cluster_none, all zero and read-only (a write
 * through it faults), so that a reader (session_cl) costs one load and no
 * test: deliveries read these fields several times each.
 */
struct session_cluster *session_cluster(struct session *s);
extern const struct session_cluster session_cluster_none;
/* s's cluster part to read (session_cluster_none: it has none). */
static inline const struct session_cluster *
session_cl(const struct session *s)
{
	return s->cl;
}
/* s's durable part to write: made (all zero) on first use; until then
 * s->dur points at session_durable_none (as s->cl). */
struct session_durable *session_durable(struct session *s);
extern const struct session_durable session_durable_none;
/* s's durable part to read (session_durable_none: it has none). */
static inline const struct session_durable *
session_du(const struct session *s)
{
	return s->dur;
}
/* Find the session with this client id, or NULL. */
struct session *session_find(const char *id, size_t len);
/* A new empty session registered under id (which must be free). */
struct session *session_new(const char *id, size_t len);
/* Unregister and free: subscriptions leave the trie, queued and in-flight
 * deliveries drop their message references. The session must have no
 * connection. */
void session_free(struct session *s);
/* s moved to another node and becomes its forwarding address
 * (bridge/tombstone.c): out of the session table and the store, its queue
 * and shared subscriptions gone, its plain subscriptions and their
 * routes kept. session_free frees it. */
void session_retire(struct session *s);
/* The tombstone s gives up its routes (keeping its subscriptions). */
void session_routes_drop(struct session *s);
/* A session loaded from the store: expire it in `left` seconds (now when
 * left <= 0; never for expiry 0xFFFFFFFF). */
void session_restore_expiry(struct session *s, int64_t left);
/* Called when the session's connection goes away: frees the session or
 * keeps it for later according to its expiry. */
void session_detach(struct session *s);
/* Record the user name of the client now on s (user NULL: anonymous),
 * for the ACL; queued messages are checked again when it changed. */
void session_set_user(struct session *s, const char *user, size_t len);
/* 1 unless session_owner_only keeps the user (NULL: anonymous) from s:
 * s belongs to another user, or to an anonymous client. */
int session_owner_ok(const struct session *s, const char *user,
    size_t len);
/* Add or replace a subscription. Returns 1 when new, 0 when replaced. */
int session_subscribe(struct session *s, const char *filter, uint32_t len,
    uint8_t options, uint32_t sub_id);
/* Remove a subscription. Returns 1 when it existed. */
int session_unsubscribe(struct session *s, const char *filter,
    uint32_t len);
/* Incoming QoS 2 packet ids awaiting PUBREL. */
int session_qos2_has(const struct session *s, uint16_t id);
void session_qos2_add(struct session *s, uint16_t id);
int session_qos2_remove(struct session *s, uint16_t id);
/* The same in memory only, after a failed commit (persist.c): the id
 * is put back (its removal was not stored) or forgotten (its addition
 * was not stored). */
void session_qos2_restore(struct session *s, uint16_t id);
void session_qos2_forget(struct session *s, uint16_t id);
/* Free every session (shutdown). */
void session_free_all(void);
size_t session_count(void);

/* --- deliver.c --- */

/* Route a message to every matching subscription (the publisher's
 * session may be NULL, e.g. for a will). Returns the number of sessions
 * it was delivered or queued to. Borrows m. */
unsigned deliver_route(struct msg *m, struct session *publisher);
/* 1 when s has had m (by its cluster identity) already; else notes it.
 * Never for a message without identity, nor for a forward queue. */
int deliver_seen(struct session *s, const struct msg *m);
/* The packet id of queue position seq; a new position of s (past all
 * it has) with packet id id; 1 when id is in flight to s's client. */
uint16_t deliver_packet_id(uint64_t seq);
uint64_t deliver_seq_for(struct session *s, uint16_t id);
int deliver_id_in_use(const struct session *s, uint16_t id);
/* m's identity as the 64-bit mix the window keeps (0: none). */
uint64_t deliver_id_mix(const struct msg *m);
/* The mixes of s's window (its count; *mixes NULL when none). */
size_t deliver_seen_list(struct session *s, const uint64_t **mixes);
/* A merge: the copy of s moving in from node `from` had the message of
 * mix h ("away" until that move ends); deliver_seen_here: that copy
 * still held m (a moved message of it); deliver_seen_settle: its move
 * ended, its mixes still away are settled and go into the window. A
 * queued message with a settled away mix, never sent, is dropped
 * (deliver_pump). */
void deliver_seen_away(struct session *s, uint64_t h, const void *from);
void deliver_seen_here(struct session *s, const struct msg *m,
    const void *from);
void deliver_seen_settle(struct session *s, const void *from);
/* A merge: m moved in from `from`, sent by that copy (its client may
 * hold the packet id). Returns 1 when this move brought m already (the
 * link resent it); else notes it, and at the end of the move a copy of
 * m here that was never sent goes (as with a settled away mix). */
int deliver_seen_taken(struct session *s, const struct msg *m,
    const void *from);
void deliver_seen_free(struct session *s);
/* 1 when d, queued and never sent, is a message the client had from
 * another copy of s (a merge): it goes, unsent. */
int deliver_had_elsewhere(struct session *s, const struct delivery *d);
/* s is split or merging: its window may widen for a while (deliver.c). */
void deliver_seen_widen(struct session *s);
/*
 * After routing a QoS 2 message that had m->settling set (a client's
 * PUBLISH): its QoS 2 deliveries, held meanwhile, may go. When the
 * PUBLISH wrote to the store (stored), they wait for that commit, and a
 * failed commit (the publisher is refused, it may resend) drops them,
 * so that the resend is not a second copy (exactly once).
 */
void deliver_settle(struct msg *m, int stored);
/* Deliver m to one session at qos (already downgraded), with the retain
 * flag to send and the subscription ids. Borrows m. */
void deliver_to_session(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids);
/* The same for m forwarded or passed on by node `from`: when s may
 * have another copy there, s merges before it sends anything
 * (bridge_split_hold). */
void deliver_to_session_from(struct session *s, struct msg *m, uint8_t qos,
    uint8_t retain, const uint32_t *sub_ids, uint8_t n_sub_ids,
    struct peer *from);
/* Send what the session may send now: queued messages while the in-flight
 * window has room. */
void deliver_pump(struct session *s);
/* After a resume: resend in-flight messages (DUP) and PUBRELs, in order,
 * then pump. */
void deliver_resume(struct session *s);
/* Acknowledgements from the client. Each returns 0, or
 * MQTT_RC_PACKET_ID_NOT_FOUND when no such in-flight message exists. */
int deliver_puback(struct session *s, uint16_t id);
int deliver_pubrec(struct session *s, uint16_t id, uint8_t reason);
int deliver_pubcomp(struct session *s, uint16_t id);
struct delivery *delivery_new(void);
void delivery_free(struct delivery *d);
/* The first online session the last routing found over its queue limit
 * (it took the message; the publisher's ack should wait), and reset. */
struct session *deliver_take_blocker(void);
/* s goes offline or away: release the acks it holds. */
void deliver_release(struct session *s);
/* d leaves s for good: its store row goes and it is freed. */
void deliver_drop(struct session *s, struct delivery *d);
/* Put d (seq set, from another node) in s's queue in seq order, or in
 * flight when released. */
void deliver_insert(struct session *s, struct delivery *d, uint8_t state);
/* Put a delivery read back from the store into s: queued in seq order
 * ahead of newer ones, or in flight when its PUBREC had come (state). */
void deliver_restore(struct session *s, struct delivery *d, uint8_t state,
    uint16_t packet_id);
/* Release the routing scratch space (shutdown). */
void deliver_free_all(void);
/* Make shared groups prefer connected members (after srv.subs exists). */
void deliver_init(void);
/* s lost its connection: hand its pending shared-subscription messages
 * to other connected members of their groups. */
void deliver_requeue_shared(struct session *s);

/* 1 when topic (name or filter) has at most max_topic_levels levels and
 * max_topic_length bytes: matching recurses once per level, so depth is
 * bounded here. */
int topic_depth_ok(const uint8_t *topic, uint32_t len);

/* --- retain.c --- */

void retain_init(void);
void retain_free_all(void);
/* Store (or clear, for an empty payload) the retained message of m's
 * topic. Borrows m (takes its own reference). */
void retain_store(struct msg *m);
/* The retained message of topic, borrowed; NULL when none. */
const struct msg *retain_find(const char *topic, uint32_t len);
/* 1 when a retained message of size bytes (msg_size) on topic may be
 * stored now under max_retained_messages and max_retained_bytes (clear:
 * it clears the topic, which always may); 0 when not, logged (design
 * note in retain.c). */
int retain_room(const char *topic, uint32_t len, size_t size, int clear);
/* Send the retained messages matching filter to s (subscribe time). */
void retain_deliver(struct session *s, const char *filter, uint32_t len,
    uint8_t qos, uint32_t sub_id);
/* The topics retained, and the bytes counted against max_retained_bytes. */
size_t retain_count(void);
uint64_t retain_bytes(void);
/* cb for every retained message (a struct msg, borrowed), '$' topics
 * too, in no set order; cb must not change what is retained. */
void retain_foreach(void (*cb)(void *m, void *arg), void *arg);

/* --- will.c --- */

/* Publish and drop the session's will message, if any. */
void will_publish(struct session *s);
/* The connection went without a normal DISCONNECT: publish the will now,
 * or after its Will Delay Interval unless the session resumes first. */
void will_schedule(struct session *s);
/* Drop the will without publishing (normal DISCONNECT, resume within the
 * delay); cancels a pending delayed will. */
void will_clear(struct session *s);
/* 1 when a delayed will is waiting. */
int will_is_pending(const struct session *s);

/* --- persist.c --- */

/* Open the store in the data directory and load sessions, subscriptions,
 * QoS 2 ids and retained messages. Returns 0, or -1 (logged). */
int persist_open(void);
/* Commit what is pending and close the store. */
void persist_close(void);
/* Session rows: put (connected when s->conn, else disconnected now) and
 * delete. Only persistent sessions are written. */
void persist_session(struct session *s);
void persist_session_del(struct session *s);
void persist_sub(struct session *s, const char *filter, uint32_t len,
    uint8_t options, uint32_t sub_id);
void persist_unsub(struct session *s, const char *filter, uint32_t len);
/* Queue rows of a persistent session: added, PUBREC received, done. */
void persist_queue(struct session *s, struct delivery *d);
/* Commit what is pending and call done once every commit so far has
 * completed (at most a second later: then anyway). Returns 1 when it
 * will call done, 0 when nothing was pending (done not called). */
int persist_flush_then(void (*done)(void));
/* Pump s again once the open batch is committed. */
void persist_pump_after_commit(struct session *s);
/* m's QoS 2 deliveries wait for the open batch (m->hold_gen): keep a
 * reference to mark m refused if that commit fails. */
void persist_hold(struct msg *m);
/* d's row is in state (DELIVERY_SENT: sent by another copy of s, read
 * back with DUP; DELIVERY_RELEASED: PUBREC received). */
void persist_state(struct session *s, const struct delivery *d,
    uint8_t state);
void persist_done(struct session *s, const struct delivery *d);
void persist_qos2(struct session *s, uint16_t id, int add);
/* A group log's new entry for m, and a session's span over it open or
 * closed (glog.c; store.h says what they mean). */
struct glog;
void persist_glog(struct glog *g, struct msg *m);
void persist_span_open(struct session *s, const struct glog *g,
    uint64_t first_seq, uint64_t first_log, uint8_t qos, uint8_t rap,
    uint32_t sub_id);
void persist_span_close(struct session *s, uint64_t first_seq,
    uint64_t last_log);
/* The retained message of m's topic (cleared when m is empty). */
void persist_retain(struct msg *m);
/* s resumed with queue rows still on disk: read them back, in order,
 * ahead of what arrived since (asynchronous). */
void persist_load_queue(struct session *s);
/* The same once few of the rows read back are left in its queue: the
 * backlog comes into memory as the client takes it. */
void persist_load_more(struct session *s);
/* 1 when s's queue lives on disk only: persistent, offline, store on. */
int persist_offline(const struct session *s);
/* s went offline: drop its queue and in-flight messages from memory (they
 * are all in the store) and read them back when it resumes. */
void persist_evict(struct session *s);
/* s went offline: park it (its short queue stays in memory, a copy of its
 * rows, so that its resume reads nothing: offline_queue_cache) or evict
 * it. persist_unpark: it is back, moving or going. persist_park_check:
 * its queue grew, maybe past the cache. */
void persist_park(struct session *s);
void persist_unpark(struct session *s);
void persist_park_check(struct session *s);
/* Its queue to disk now (a group message takes the group log). */
void persist_unpark_evict(struct session *s);
size_t persist_parked(void);

/* Store commits: a histogram of their latency, from the batch's close on
 * the loop to its completion on the loop (the metrics, http.c). */
#define PERSIST_COMMIT_BUCKETS 12
extern const double persist_commit_le[PERSIST_COMMIT_BUCKETS];
struct persist_commit_stats {
	uint64_t bucket[PERSIST_COMMIT_BUCKETS]; /* not cumulative */
	uint64_t count; /* commits measured, the +Inf bucket */
	double sum; /* seconds */
	uint64_t failures; /* commits that failed */
};
const struct persist_commit_stats *persist_commit_stats(void);
/* Queue reads of resuming sessions, the same way: from the read's issue
 * to its rows on the loop (failures: reads that failed). Newer messages
 * for the session wait for it (deliver_pump). */
const struct persist_commit_stats *persist_read_stats(void);

/* --- gate.c: acknowledgements wait here for what they depend on --- */

#define GATE_COMMIT 0x01 /* the store batch its packet wrote to */
#define GATE_ROOM 0x02 /* a subscriber's queue over its limit */
#define GATE_ROUTES 0x04 /* the other nodes' confirmation of routes */

/* Before c's packet is handled (read.c): note what it will change. */
void gate_begin(struct conn *c);
/*
 * Owe ack (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK) on c for
 * the packet being handled: sent now, or queued in order until the
 * commit of what the packet wrote, room in blocker's queue (when not
 * NULL) and, for a SUBACK, the routes it added (see gate.c). The packet
 * is copied; ack's memory stays the caller's.
 */
void gate_ack(struct conn *c, const struct mqtt_packet *ack,
    struct session *blocker);
/* The same for the PUBACK / PUBREC of m, a client's message that notes
 * whom it reached (resend.c): kept with the ack until its commit. */
void gate_ack_msg(struct conn *c, const struct mqtt_packet *ack,
    struct session *blocker, struct msg *m);
/* 1 when c still owes acks (it is freed only after). */
int gate_pending(const struct conn *c);
/* The commit of batch gen is done (ok 0: it failed). */
void gate_committed(uint64_t gen, int ok);
/* s has room again, or went offline or away: release what it held. */
void gate_unblock(struct session *s);
/* Nodes confirmed routes (bridge/route.c): release the SUBACKs ready. */
void gate_routes_acked(void);
/* c is closing: drop its acks, but those whose commit is pending. */
void gate_conn_closing(struct conn *c);
/* c is freed: drop everything it was owed. */
void gate_conn_free(struct conn *c);
void gate_free_all(void);

/* --- resend.c: a refused message and its resend are one --- */

/* m (a client's QoS 1/2 message) notes the sessions it is sent to, until
 * resend_done or resend_refused. */
void resend_track(struct msg *m);
/* m was sent to s (deliver.c). */
void resend_sent(struct msg *m, const struct session *s);
/* m's routing is over and its publisher's ack waits for a commit: its
 * notes move from the scratch array to m (see resend.c). */
void resend_keep(struct msg *m);
/* m's commit is done: forget whom it went to. */
void resend_done(struct msg *m);
/* m's commit failed and its publisher was refused: kept for its resend. */
void resend_refused(const char *client_id, struct msg *m);
/* m, just published by publisher, is the resend of a refused message:
 * it takes that one's notes and identity. */
void resend_adopt(const struct session *publisher, struct msg *m);
/* 1 when s had m already (as the refused message m resends). */
int resend_had(const struct msg *m, const struct session *s);
/* s, passed over by m's routing, holds the refused message in flight:
 * its row is written again (the refused batch had it). */
void resend_restore(const struct msg *m, struct session *s);
/* s drops its copy of m from memory (persist_evict): the resend of m,
 * if m is refused, reaches s again. */
void resend_unnote(struct msg *m, const struct session *s);
void resend_track_free(struct msg_track *t);
void resend_free_all(void);

/* --- sys.c --- */

/* Start publishing the $SYS topics (every sys_interval s; 0: never). */
void sys_init(void);
void sys_free(void);
/* SIGHUP changed sys_interval: the next publication is one interval from
 * now, or none for 0. */
void sys_reload(const struct config *old);
/* 1 when topic is under $SYS/ (this node's own: not stored, not
 * forwarded). */
int sys_topic(const char *topic, size_t len);
/* $SYS/broker/bridge/<name>/state: 1 connected, 0 not (at once, and
 * with the other topics; nothing while $SYS is off). */
void sys_bridge_state(const char *name, int up);

/* --- passwd.c --- */

enum {
	PASSWD_OK,
	PASSWD_NO_USER,
	PASSWD_BAD,
	PASSWD_SLOW
};

struct passwd_file;

/* Read a password file ("user:hash" lines, see pwhash.h). Returns a new
 * table, or NULL with "FILE:LINE: message" (or "FILE: ...") in err. */
struct passwd_file *passwd_load(const char *path, char *err, size_t errlen);
void passwd_free(struct passwd_file *pf);
size_t passwd_count(const struct passwd_file *pf);
struct pwhash;
/* Check user's password from the cached proof: PASSWD_OK, PASSWD_NO_USER
 * or PASSWD_BAD; or PASSWD_SLOW with the user's hash in *slow when it
 * takes the full PBKDF2 (design note in passwd.c; pwhash_verify, off the
 * loop: pwcheck.c). */
int passwd_check(struct passwd_file *pf, const char *user, size_t ulen,
    const uint8_t *pw, size_t pwlen, struct pwhash *slow);
/* pw passed the full check against h: remember its proof, if user still
 * has hash h (the file may have been reloaded meanwhile). */
void passwd_remember(struct passwd_file *pf, const char *user, size_t ulen,
    const struct pwhash *h, const uint8_t *pw, size_t pwlen);
/* Copy user's SCRAM-SHA-256 credentials into *out: PASSWD_OK,
 * PASSWD_NO_USER, or PASSWD_BAD when the user's hash is not of the
 * "$scram-sha-256$" form. */
int passwd_scram(struct passwd_file *pf, const char *user, size_t ulen,
    struct pwhash *out);

/* --- acl.c --- */

#define ACL_READ 0x01
#define ACL_WRITE 0x02
#define ACL_SUBSCRIBE 0x04

struct acl;

/* Read an ACL file. Returns a new ACL, or NULL with "FILE:LINE: message"
 * in err. */
struct acl *acl_load(const char *path, char *err, size_t errlen);
void acl_free(struct acl *a);
size_t acl_user_count(const struct acl *a);
/* 1 when a lets the client (user NULL: anonymous) have right (one
 * ACL_*) on what: a topic name for read and write, a topic filter for
 * subscribe. a NULL allows everything. */
int acl_allowed(const struct acl *a, const char *user, const char *client_id,
    const char *what, size_t len, int right);
/* Filter f matches topic t / covers filter s (see the design note). */
int acl_topic_match(const char *f, size_t flen, const char *t, size_t tlen);
int acl_filter_covers(const char *r, size_t rlen, const char *s,
    size_t slen);
/* The node's ACL from acl_file: load at start-up (0, or -1 logged),
 * reload on SIGHUP (a bad file keeps the previous rules), free. */
int acl_open(void);
void acl_reload(void);
void acl_close(void);
/* 1 when acl_file is set. */
int acl_active(void);
/* Bumps at each reload; never 0. */
uint32_t acl_generation(void);
/* acl_allowed() with the node's ACL; logs a denial (notice, info for
 * read). */
int acl_check(const char *user, const char *client_id, const char *what,
    size_t len, int right);
/* The same without a log line, for checks the client did not ask for
 * (a delivery receipt sent in its name). */
int acl_may(const char *user, const char *client_id, const char *what,
    size_t len, int right);

/* --- jwt.c --- */

/* Load jwt_key_file for jwt_alg (nothing when unset). Returns 0, or -1
 * with err set; on -1 the key in use, if any, stays. */
int jwt_open(char *err, size_t errlen);
void jwt_close(void);
int jwt_enabled(void);
/* The algorithm named (HS256, RS256, ES256), or -1. */
int jwt_alg_parse(const char *name);
/* 1 when a password has the shape of a JWT (three base64url parts). */
int jwt_looks_like(const uint8_t *p, size_t len);
/* Check all of a token but its signature: the header's algorithm, the
 * signature's encoding, the claims, exp and nbf at now; the user name
 * claim goes into user (cap bytes). Loop thread. Returns 0, or -1 with
 * *why set. */
int jwt_claims_check(const uint8_t *tok, size_t len, time_t now,
    char *user, size_t cap, const char **why);
/* jwt_claims_check() and the signature with the key in use, on the
 * calling thread (HS256 logins, tests). */
int jwt_check(const uint8_t *tok, size_t len, time_t now, char *user,
    size_t cap, const char **why);
/* 1 when the key in use takes a costly signature check (RS256, ES256),
 * which goes to the worker (pwcheck.c). */
int jwt_slow(void);
struct jwt_key;
/* One more reference to the key in use (jwt_enabled() must be 1), and
 * its release; loop thread only. */
struct jwt_key *jwt_key_hold(void);
void jwt_key_release(struct jwt_key *k);
/* 1 when tok's signature is good under k. Any thread. */
int jwt_signature_ok(const struct jwt_key *k, const uint8_t *tok,
    size_t len);

/* --- lines.c --- */

/* Called with each line of a file, its line end removed; returns 0, or
 * -1 with msg (msglen bytes) saying what is wrong with the line. */
typedef int (*file_line_fn)(void *arg, char *line, size_t len, char *msg,
    size_t msglen);
/* Read path line by line into cb. Returns 0, or -1 with err set to
 * "path:line: msg", "path: cannot open: ..." or "path: read error". With
 * wipe, the read buffer is zeroed before it is freed. */
int file_lines(const char *path, int wipe, file_line_fn cb, void *arg,
    char *err, size_t errlen);

/* --- auth.c --- */

/* 1 when name is an enhanced authentication method this node offers. */
int auth_method_known(struct mqtt_str name);
/* A v5 CONNECT with an Authentication Method (known, see above) whose
 * exchange has not succeeded yet: start the exchange. Returns 0 when an
 * AUTH 0x18 went out (the CONNECT is kept and run again by handle_auth
 * once the exchange succeeds), -1 when the method succeeded at once (go
 * on with the CONNECT), or the reason code to refuse it with. */
int auth_begin(struct conn *c, const struct mqtt_packet *pkt);
/* 1 when c's exchange has succeeded and its CONNECT is being run. */
int auth_exchange_done(const struct conn *c);
/* An AUTH packet before CONNACK, in an exchange: 0 or a reason code
 * (the CONNACK that refuses is sent here). */
int auth_continue(struct conn *c, const struct mqtt_packet *pkt);
/* Authentication Method and Data of the CONNACK ending a successful
 * exchange (nothing without one). */
void auth_connack_props(const struct conn *c, struct mqtt_props *ap);
/* Free c's exchange state (CONNACK sent, or the conn goes). */
void auth_exchange_end(struct conn *c);
/* SCRAM-SHA-256 credentials of user from the password file (see
 * passwd_scram). */
int auth_scram_lookup(const char *user, size_t ulen, struct pwhash *out);

/* --- scram.c --- */

/* The SCRAM-SHA-256 method of auth.c's table (RFC 5802, RFC 7677). */
int scram_step(struct conn *c, void **state, struct mqtt_str data,
    struct mqtt_str *out);
void scram_free(void *state);
/* Read password_file and acl_file. Returns 0, or -1 after logging. */
int auth_open(void);
/* SIGHUP: read both files again; a bad one is logged and the previous
 * table kept. */
void auth_reload(void);
void auth_close(void);
/* Decide on a CONNECT's user name and password: 0 to go on, the v5
 * reason code to refuse with (0x86, 0x87, 0x89), or -1 when the password
 * (or a token's signature) is being checked off the loop (pwcheck.c): the
 * CONNECT is kept and runs again once it is. Logs refusals. */
int auth_connect(struct conn *c, const struct mqtt_packet *pkt);
struct pwhash;
/* The worker's answer for c (pwcheck.c): ok, for user's password pw
 * against hash h; connect is the kept CONNECT, of protocol version
 * version. Caches the proof and runs
 * the CONNECT again, or refuses it and closes c. */
void auth_password_checked(struct conn *c, int ok, const char *user,
    size_t ulen, const struct pwhash *h, const uint8_t *pw, size_t pwlen,
    const uint8_t *connect, uint8_t version);

/* The worker's answer for c's token (pwcheck.c): ok when its signature
 * is good; user is the token's user name claim. As above. */
void auth_jwt_checked(struct conn *c, int ok, const char *user,
    const uint8_t *connect, uint8_t version);

/* --- pwcheck.c --- */

struct pwjob;
/* Check the password of CONNECT pkt against h on the worker thread; c
 * reads nothing until auth_password_checked(). Returns 0, or a reason
 * code to refuse with at once (0x89: too many checks waiting). */
int pwcheck_start(struct conn *c, const struct mqtt_packet *pkt,
    const struct pwhash *h);
/* Check the signature of CONNECT pkt's token (its password; the claims
 * passed, user is its user name) on the worker, with the key in use, in
 * the same queue and bounds; then auth_jwt_checked(). Returns as above. */
int pwcheck_start_jwt(struct conn *c, const struct mqtt_packet *pkt,
    const char *user);
/* c is being freed: its answer, if one is due, is dropped. */
void pwcheck_conn_gone(struct conn *c);
/* Stop the worker and drop what waits (shutdown). */
void pwcheck_stop(void);
/* Checks started and not yet answered (the metrics' queue length). */
unsigned pwcheck_waiting(void);
/* Checks the worker computed, and checks dropped before it started them
 * (their connection went), since start (metrics). */
void pwcheck_counts(uint64_t *computed, uint64_t *abandoned);

/* --- tls.c --- */

struct tls_conn;

/* Load the certificate, key and CA of every listener that has a certfile
 * into lc->tls, and the cluster_* keys into the cluster listener's
 * context and cfg.cluster_tls. Returns 0, or -1 after logging "listener
 * N (port P): certfile X: <mbedTLS error>" or "cluster links: ..." (ternd
 * then refuses to start). */
int tls_init(void);
/* SIGHUP: build new contexts from the files; a listener whose files fail
 * keeps its old context (logged). Open connections keep theirs. */
void tls_reload(void);
/* Put TLS between sock (ciphertext, taken over) and the bufferevent
 * returned (plaintext), using context x. A client context checks that
 * the server's certificate is for host (a name or an IP address; NULL:
 * any). Returns NULL (sock freed, logged) on failure; *out is the
 * connection's TLS state. */
struct bufferevent *tls_wrap(struct bufferevent *sock, struct tls_ctx *x,
    const char *peer, const char *host, struct tls_conn **out);
/* A client context (one reference) for a bridge: servers are checked
 * against cafile; certfile and keyfile (both or neither) are ours. kp
 * prefixes the key names in err. NULL with err set on failure. */
struct tls_ctx *tls_client_ctx(const char *cafile, const char *certfile,
    const char *keyfile, const char *kp, char *err, size_t errlen);
/* A server context (one reference) from the files, as a TLS listener's
 * (the HTTP listener's, httptls.c): certfile and keyfile required, cafile
 * to check client certificates against when require_certificate. kp
 * prefixes the key names in err. NULL with err set on failure. */
struct tls_ctx *tls_server_ctx(const char *certfile, const char *keyfile,
    const char *cafile, int require_certificate, const char *kp, char *err,
    size_t errlen);
void tls_ctx_release(struct tls_ctx *x);
/* The mbedTLS error that ended the connection, or NULL. */
const char *tls_conn_error(const struct tls_conn *t);
/* 1 while the handshake of t has not completed. */
int tls_conn_handshaking(const struct tls_conn *t);
/* The CN of the client certificate checked in the handshake, or NULL
 * (none, or not a usable user name). Borrowed: lives with t. */
const char *tls_conn_identity(const struct tls_conn *t);
/* Before the plaintext bufferevent is freed: queue a close_notify and
 * let the socket flush its last records on its own (bounded). */
void tls_conn_close(struct tls_conn *t);
/* Sockets still flushing after their connection was freed. */
size_t tls_linger_count(void);
/* Shutdown, loop stopped: drop lingering sockets, free at once from now
 * on. Then, after the event base is gone, tls_free_all(). */
void tls_shutdown(void);
void tls_free_all(void);

/* --- ws.c --- */

struct ws_conn;

#define WS_DEFAULT_PATH "/mqtt"
#define WS_REQUEST_MAX 8192 /* bytes of an Upgrade request */

/* Put WebSocket framing between under (the socket's bufferevent, or the
 * TLS filter of tls; taken over) and the bufferevent returned (MQTT
 * bytes). path: the request path to accept. Returns NULL (under freed, logged) on
 * failure; *out is the connection's WebSocket state. */
struct bufferevent *ws_wrap(struct bufferevent *under, struct tls_conn *tls,
    const char *path, const char *peer, struct ws_conn **out);
/* Why the WebSocket ended the connection (a bad request, a bad frame, a
 * close from the peer), or NULL. */
const char *ws_conn_error(const struct ws_conn *w);
/* Before the MQTT bufferevent is freed: send a close frame and let the
 * layer below flush its last bytes on its own (bounded). */
void ws_conn_close(struct ws_conn *w);
/* Layers below still flushing after their connection was freed. */
size_t ws_linger_count(void);
/* Shutdown, loop stopped: drop lingering layers, free at once from now
 * on. Call before tls_shutdown(). */
void ws_shutdown(void);

/*
 * The protocol parts, without a connection (for the fuzz target).
 *
 * ws_handshake: req holds the whole request head (up to and including
 * the empty line). Writes the complete HTTP response to resp and returns
 * its status: 101 (accepted), 400 or 404.
 */
int ws_handshake(const char *req, size_t len, const char *path, char *resp,
    size_t resplen);

struct ws_decoder {
	uint64_t left; /* payload still to come of the current data frame */
	uint64_t max_frame; /* largest data frame payload accepted */
	uint8_t mask[4];
	uint8_t moff; /* position in mask of the next payload byte */
	uint8_t in_message; /* a fragmented message goes on */
	uint16_t error; /* close status once failed */
	const char *why; /* and the reason, for the log */
};

struct ws_control {
	uint8_t opcode; /* WS_OP_CLOSE, WS_OP_PING or WS_OP_PONG */
	uint8_t len;
	uint8_t data[125];
};

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

/* Decode client frames from src: data frame payloads (unmasked) are
 * appended to dst as they come. Returns 0 when src holds no complete
 * unit any more, 1 with a control frame in *ctl (call again for the
 * rest), -1 on a protocol error (d->error, d->why). */
int ws_decode(struct ws_decoder *d, struct evbuffer *src,
    struct evbuffer *dst, struct ws_control *ctl);
/* A server frame header (FIN set, unmasked) for a payload of len bytes
 * into hdr (10 bytes); returns its length. */
size_t ws_frame_header(uint8_t *hdr, uint8_t opcode, uint64_t len);

/* --- listener.c --- */

/* Bind every configured listener. Returns 0, or -1 after logging. */
int listener_start_all(void);
/* Write <data_dir>/ternd.ready with the bound addresses. */
int listener_write_ready(void);
/* Stop (hold 1) or start again accepting on the client listeners (not
 * the cluster listener); connections wait in the kernel's backlog. */
void listener_hold_clients(int hold);
/* Stop accepting and free the listeners; removes the ready file. */
void listener_stop_all(void);
/* "address:port" of the first socket bound for lc, into buf. */
void listener_label(const struct listener_conf *lc, char *buf, size_t len);

/* --- http.c --- */

/* Check the HTTP keys and read the token file. Returns 0, or -1 after
 * logging (ternd does not start). Before anything is bound. */
int http_init(void);
/* Bind http_listener when set. Returns 0, or -1 after logging. */
int http_start(void);
/* The ready file's line for the HTTP listener, if any. */
void http_ready(FILE *fp);
/* SIGHUP: read http_token_file again (a bad one keeps the old tokens). */
void http_reload(void);
void http_free(void);
/* When the node started (wall clock), seconds since (monotonic), and the
 * HTTP listener's "address:port" into addr. */
void http_uptime(time_t *started, uint64_t *seconds, char *addr,
    size_t len);
/* Percent-decode s (len bytes; plus: '+' is a space, as in a query) into
 * *out (malloc'd, NUL-terminated, *outlen bytes). -1 on a bad escape or
 * an escaped NUL (nothing allocated). */
int http_decode(const char *s, size_t len, int plus, char **out,
    size_t *outlen);
struct evhttp_request;
/* A row of http.c's route table: fills body, returns the HTTP status.
 * arg: the argument the path carries (decoded, len bytes), or NULL. */
typedef int (*http_handler)(struct evhttp_request *req,
    struct evbuffer *body, const char *arg, size_t len);
/* What /metrics and the JSON API both report, read where it lives. */
/* 1 for a client's connection that sent CONNECT (not a node link). */
int http_client_conn(const struct conn *c);
/* 1 for a client's session (not a forward queue or a node's link). */
int http_client_session(const struct session *s);
struct http_counts {
	uint64_t connections; /* http_client_conn */
	uint64_t online, offline; /* http_client_session, with a conn */
	uint64_t queued, queued_bytes; /* in memory and on disk */
	uint64_t subscriptions; /* of client sessions */
};
/* One walk of the sessions and one of the connections. */
void http_counts(struct http_counts *hc);
struct http_peer_stats {
	int up; /* our link to it */
	int link_in; /* its link to us */
	uint64_t sent_bytes, received_bytes; /* both links, gone ones too */
	uint64_t forwarded, received; /* messages */
	uint64_t queued; /* its forward queue */
};
void http_peer_stats(const struct peer *p, struct http_peer_stats *st);

/* --- httptls.c: https on the HTTP listener, relayed to evhttp --- */

struct evhttp;
/* Load the http_certfile context when set. Returns 0 (nothing to do, or
 * loaded), or -1 after logging "http_certfile FILE: reason". */
int httptls_init(void);
/* 1 when the HTTP listener speaks https. */
int httptls_on(void);
/* Give http a private listening socket and listen for TLS on address
 * and port, relaying to it. Returns the public listening socket (kept
 * by httptls.c), or -1 after logging. */
int httptls_start(struct evhttp *http, const char *address, uint16_t port);
/* SIGHUP: the certificate and key again (a bad pair keeps the old). */
void httptls_reload(void);
/* Close every relay, the listener and the private socket; remove its
 * directory. Before tls_shutdown(). */
void httptls_free(void);

/* --- www.c (generated from broker/www by broker/embed.sh) --- */

struct www_file {
	const char *path; /* as requested: "/", "/ui/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct www_file www_files[];
extern const size_t www_nfiles;

/* --- api.c: the JSON admin API under /api/v1/ (http.c's routes) --- */

int api_status(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_clients(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_client(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_kick(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_sessions(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_session_delete(struct evhttp_request *, struct evbuffer *,
    const char *, size_t);
int api_subscriptions(struct evhttp_request *, struct evbuffer *,
    const char *, size_t);
int api_retained(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_retained_delete(struct evhttp_request *, struct evbuffer *,
    const char *, size_t);
int api_cluster(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
int api_drain(struct evhttp_request *, struct evbuffer *, const char *,
    size_t);
/* {"error":"<what>"} into body. */
void api_error(struct evbuffer *body, const char *what);
/* s (len bytes) as a JSON string into b: '"', '\\' and control
 * characters escaped, a byte that does not start a well-formed UTF-8
 * sequence as \ufffd. */
void api_json_str(struct evbuffer *b, const char *s, size_t len);

/* --- ratelimit.c --- */

/* A token bucket (design note in ratelimit.c); zeroed = full. */
struct rl_bucket {
	int64_t tokens; /* thousandths; below 0: in debt */
	int64_t last_ms; /* last refill; 0: never used */
};

/* Take cost tokens from b, which refills at rate per second with a burst
 * of rate. Returns 0 when taken, else the milliseconds to wait before
 * they would be there (nothing taken). */
int64_t ratelimit_take(struct rl_bucket *b, uint32_t rate, uint64_t cost);
/* max_connection_rate: 1 when c's source address may connect now, 0
 * when over its rate (logged at most once per second per address). */
int ratelimit_connect(const struct conn *c);
/* A connection's publish rate state, made at its first PUBLISH checked
 * against max_publish_rate or max_publish_bytes_rate (most connections
 * never are): kept out of struct conn, whose size is a benchmark
 * figure. */
struct conn_rate {
	struct rl_bucket msgs; /* max_publish_rate */
	struct rl_bucket bytes; /* max_publish_bytes_rate */
	int64_t logged_ms;
	struct event *timer; /* resumes reading after a rate pause */
	uint32_t limited; /* publishes held back since the last log */
};

/* c's rate state, made when it has none. */
struct conn_rate *ratelimit_conn(struct conn *c);
/* max_publish_rate / max_publish_bytes_rate: 0 when c may publish a
 * message of this size now (counted), else the milliseconds to wait. */
int64_t ratelimit_publish(struct conn *c, size_t bytes);
/* Count a publish held back or refused ("refused", "delayed"); logs the
 * count at most once per second per connection. */
void ratelimit_publish_log(struct conn *c, const char *what);
void ratelimit_free(void);

/* --- conn.c --- */

enum conn_state {
	CONN_NEW, /* awaiting CONNECT */
	CONN_ACTIVE, /* CONNACK sent */
	CONN_CLOSING /* DISCONNECT queued or socket lost; no more input */
};

/* Fields grouped by size, so that none needs padding: an idle connection's
 * memory is a benchmark figure (docs/BENCHMARKS.md). */
TAILQ_HEAD(gate_list, gate_ack);

/* Outbound topic aliases of a connection whose client takes them (conn.c),
 * made at its CONNECT. */
struct conn_alias_out {
	struct hash *index; /* topic -> alias (uintptr_t) */
	char **topic; /* [1..max] */
	uint16_t max;
	uint16_t next;
};

struct sock_buf;

/*
 * The part of a connection that only some connections need: the checks
 * its CONNECT waits for (the cluster's claim, a password on the worker, a
 * link's secret), enhanced authentication and the user it proved, the
 * state of a link between nodes or to another broker, a dialled
 * connection's name. Made on first use, and freed when the CONNECT is
 * accepted with none of what lasts (conn_aux_trim): an idle client
 * connection does not carry it (memory per connection is a benchmark
 * figure, docs/BENCHMARKS.md).
 */
struct conn_aux {
	char *label; /* a dialled connection's name (conn_connect) */
	char *auth_user; /* the user a JWT or SCRAM proved; NULL: CONNECT's */
	struct auth_exchange *auth_ex; /* enhanced authentication (auth.c) */
	struct claim *claim; /* CONNECT waiting for the other nodes */
	void *link_ctx; /* LINK_OUT: its struct dial; LINK_IN: struct peer */
	struct pwjob *pw_job; /* CONNECT waiting for its password check */
	struct secret_wait *secret_wait; /* link CONNECT waiting its turn */
	uint64_t claim_won; /* the cluster claim its CONNECT made (0: none) */
	uint64_t link_seq; /* the last identity's sequence (bridge/forward.c) */
	uint8_t link_proto; /* its link protocol (0 before the handshake) */
	/* During the CONNECT only (conn_aux_trim forgets them): */
	uint32_t claim_split; /* nodes that did not answer its claim */
	uint8_t cert_user; /* user name from the client certificate */
	uint8_t claimed; /* the cluster has answered its CONNECT */
	uint8_t pw_verified; /* the worker passed this CONNECT's password */
	uint8_t secret_turn; /* its link CONNECT runs again at its turn */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	const struct transport *io; /* sock.c (plain TCP) or bevconn.c */
	/* The transport's own pointers: io tells which hold. TLS and
	 * WebSocket are read through conn_tls() and conn_ws(). */
	union {
		struct {
			/* sock.c: read, not parsed yet; NULL: none */
			struct sock_buf *in;
			/* sock.c: not written yet; NULL: none */
			struct sock_buf *out;
			/* sock.c: writable (a short write, a dial) */
			struct event *wev;
		};
		struct {
			struct bufferevent *bev; /* bevconn.c: the filter of
						  * MQTT bytes */
			struct tls_conn *bv_tls; /* NULL: no TLS */
			struct ws_conn *bv_ws; /* NULL: no WebSocket */
		};
	};
	TAILQ_ENTRY(conn) flush_entry; /* sock.c: output to write this pass */
	struct listener_conf *listener; /* NULL: dialled */
	struct session *session;
	struct timeval last_rx;
	LIST_ENTRY(conn) due_entry; /* in its slot of the wheel (wheel.c) */
	int64_t due_ms; /* its timer: connect timeout, then keep alive;
			 * 0: not armed (wheel.c) */
	struct event *close_timer; /* bounds the final flush */
	/* What only some connections need: the shared all-zero
	 * conn_aux_none until one of them does; read with conn_ax(),
	 * written through conn_aux(). */
	struct conn_aux *aux;
	char **alias_in; /* inbound topic aliases, [1..topic_alias_maximum] */
	struct conn_alias_out *alias_out; /* NULL: no outbound aliases */
	uint64_t tx_bytes; /* bytes queued for the socket */
	uint64_t rx_bytes; /* bytes of the packets read */
	int64_t connected_at; /* wall clock of its CONNACK (the admin API) */
	struct conn_rate *rate; /* publish rate state; NULL: none yet */
	enum conn_state state;
	uint32_t max_packet; /* the client's Maximum Packet Size (v5) */
	uint32_t max_packet_in; /* max_packet_size when it came (SIGHUP
				 * changes it for later connections) */
	uint32_t dropped_qos0;
	struct gate_list acks; /* acks owed, in order (gate.c) */
	uint32_t n_acks;
	uint32_t n_window_owed; /* PUBACK/PUBREC/PUBCOMP in acks (gate.c) */
	uint64_t gate_writes; /* store writes before this packet */
	uint64_t gate_routes; /* route version before this packet */
	int io_err; /* sock.c: errno of the failed read or write */
	evutil_socket_t fd; /* sock.c: the socket */
	uint32_t in_need; /* sock.c: bytes the next packet needs (0: unknown) */
	uint32_t drain_low; /* conn_io_drained() at this much output */
	uint16_t keep_alive; /* seconds, as granted */
	uint16_t receive_max; /* the client's Receive Maximum (v5) */
	uint8_t peer_family; /* AF_INET, AF_INET6; 0: none (dialled) */
	uint8_t version; /* protocol level, 0 before CONNECT */
	uint8_t problem_info; /* v5 Request Problem Information */
	uint8_t will_pending; /* publish the will when the socket goes */
	uint8_t said_bye; /* the client sent DISCONNECT (presence.c) */
	uint8_t pump_waiting; /* deliver_pump once the output drains */
	uint8_t free_pending; /* freed once its acks have left */
	uint8_t lingering; /* closed for an error: input dropped (conn.c) */
	uint8_t blocked; /* BLOCK_*: why it is not read (block.c) */
	uint8_t block_stopped; /* its reads are off for that */
	uint8_t link; /* LINK_*: a connection between cluster nodes */
	uint8_t rl_refuse; /* the PUBLISH being handled is over the rate */
	uint8_t io_flags; /* sock.c: SOCK_* */
	uint8_t drain_watch; /* drain_low is set */
	uint8_t parsing; /* read_packets runs for it (no re-entry) */
	uint16_t peer_port; /* source port (conn_peer) */
	uint8_t peer_addr[16]; /* source address (IPv4: first 4 bytes) */
};

#define LINK_NONE 0
#define LINK_OUT 1 /* we dialled a node; we are its MQTT client */
#define LINK_IN 2 /* a node dialled our cluster listener */
#define LINK_EXT 3 /* we dialled another broker: a bridge (mqttbridge.c) */
/* 1 when c's messages come from outside the cluster's links: a client,
 * or another broker we bridge to. */
#define CONN_FROM_OUTSIDE(c) ((c)->link == LINK_NONE || (c)->link == LINK_EXT)

#define TOPIC_ALIAS_OUT_MAX 256
TAILQ_HEAD(conn_list, conn);

/* Dial address (a cluster link, a bridge): a conn in state NEW whose
 * CONNECT is sent by bridge_connected() or mqttbridge_connected() once
 * TCP is up; NULL when the socket cannot be made. label names it in log
 * lines. With tls (a client context), the conn speaks TLS: the CONNECT
 * waits in the TLS filter until the handshake has succeeded; host: the
 * name or address the server's certificate must be for (NULL: any). */
struct conn *conn_connect(const struct sockaddr *sa, int salen,
    const char *label, struct tls_ctx *tls, const char *host);
/* Adopt an accepted socket from the listener configured by lc. */
void conn_accept(evutil_socket_t fd, const struct sockaddr *sa, int salen,
    struct listener_conf *lc);
/* Encode and queue a packet for the socket (written once per loop pass).
 * Returns 0, or -1 when the packet exceeds the client's maximum size (v5)
 * and was not sent. */
int conn_send(struct conn *c, const struct mqtt_packet *pkt);
/* The same for a PUBLISH without properties (v5: property length 0),
 * written straight into the output: flags are the fixed header's low
 * nibble (DUP, QoS, RETAIN), id is sent when QoS > 0. */
int conn_send_publish_plain(struct conn *c, uint8_t flags, const char *topic,
    uint32_t topic_len, uint16_t id, const uint8_t *payload,
    uint32_t payload_len);
/*
 * Close a connection. When reason is not MQTT_RC_SUCCESS and the client
 * speaks v5 and got its CONNACK, a DISCONNECT with that reason goes first.
 * The will is published unless will_clear() ran. The session is detached
 * at once; the conn itself is freed later from a deferred event, so this
 * is safe from any callback, including the conn's own.
 */
void conn_close(struct conn *c, uint8_t reason, const char *why);
/* Why a client's connection ended, as presence.c's offline and events.c's
 * disconnected name it (conn_end_name). */
enum conn_end {
	CONN_END_DISCONNECT, /* the client sent DISCONNECT */
	CONN_END_TIMEOUT, /* its keep alive ran out */
	CONN_END_TAKEN_OVER, /* a new connection of its client id */
	CONN_END_CLOSED, /* anything else: the socket went, an error */
	CONN_END_RESTART, /* presence.c: the node stopped with it online */
	CONN_END_KICKED /* the admin API closed it (0x98) */
};
/* Why c, closing with reason code rc (conn_close's), ended. */
enum conn_end conn_end_reason(const struct conn *c, uint8_t rc);
/* The name of a reason: "disconnect", "timeout", "taken_over", "closed",
 * "restart", "kicked". */
const char *conn_end_name(enum conn_end reason);
/*
 * Close c because another connection took its client id (DISCONNECT 0x8E).
 * When the session goes on (the new CONNECT does not start clean and the
 * session outlives its connection), the takeover is a reconnect: c's will
 * is dropped, not published (MQTT-3.1.3-9 with no delay left; mosquitto
 * does the same for 3.1.1), so a client that switches networks is not
 * shown offline. Otherwise the will goes as at any close.
 */
void conn_take_over(struct conn *c, int clean_start, const char *why);
/* A short "id (peer)" label for log lines. */
const char *conn_label(const struct conn *c);
/* c's peer as "address:port" ("[address]:port" for IPv6), or the name a
 * dialled connection was given; in one of a few static buffers used in
 * turn, so that a log line may show four at once. */
const char *conn_peer(const struct conn *c);
/* c's aux part to write: made (all zero) on first use; until then c->aux
 * points at conn_aux_none, all zero and read-only (as a session's
 * s->cl). */
struct conn_aux *conn_aux(struct conn *c);
extern const struct conn_aux conn_aux_none;
/* c's aux part to read (conn_aux_none: it has none). */
static inline const struct conn_aux *
conn_ax(const struct conn *c)
{
	return c->aux;
}
/* c's CONNECT was accepted: its aux part goes when nothing in it lasts
 * (a password check, a claim without a split, done). */
void conn_aux_trim(struct conn *c);
/* Add the listener's Server Reference to props when rc redirects
 * (0x9C, 0x9D) and one is configured. */
void conn_server_reference(const struct conn *c, uint8_t rc,
    struct mqtt_props *props);
/* Enable outbound topic aliases up to the client's maximum (capped at
 * TOPIC_ALIAS_OUT_MAX). */
void conn_alias_out_init(struct conn *c, uint16_t client_max);
/* Topic aliases for a PUBLISH to c: sets *alias (0: none) and *send_topic
 * (0: the topic may be left out). conn_alias_commit() records the choice
 * once the packet was actually queued. */
void conn_alias_out(struct conn *c, const char *topic, uint32_t len,
    uint16_t *alias, int *send_topic);
void conn_alias_commit(struct conn *c, const char *topic, uint32_t len,
    uint16_t alias);
/* Resolve an inbound topic alias (section 3.3.2.3.4): sets *topic. Returns
 * 0, MQTT_RC_TOPIC_ALIAS_INVALID or MQTT_RC_PROTOCOL_ERROR. */
int conn_alias_in(struct conn *c, struct mqtt_publish *p,
    struct mqtt_str *topic);
/* Arm the keep-alive timer after CONNECT. */
void conn_start_keepalive(struct conn *c);
/* c's timer is due (wheel.c): the CONNECT timeout, keep alive, or a
 * link's own (bridge_timer, mqttbridge_timer). */
void conn_timer_fire(struct conn *c);

/* --- wheel.c: the connections' timers, one wheel --- */

/* Arm c's one timer to fire after tv (at most one tick late), replacing
 * the one armed; conn_timer_fire(c) then. */
void wheel_add(struct conn *c, const struct timeval *tv);
/* Disarm c's timer (no effect when none is armed). */
void wheel_del(struct conn *c);
/* Shutdown: release the wheel's event. */
void wheel_free(void);
/* Close every connection with reason (shutdown). */
void conn_close_all(uint8_t reason);
/* Stop reading c while its output is over the pause mark (it resumes by
 * itself once drained). Returns 1 when paused. */
int conn_paused(struct conn *c);
/* Stop reading c for ms milliseconds (over its publish rate). */
void conn_pause_for(struct conn *c, int64_t ms);
/* Bytes waiting in the output buffer. */
size_t conn_output_len(const struct conn *c);
/* 1 when c's output holds so much that its session's messages should
 * wait in the queue; deliver_pump runs again once it has drained. */
int conn_output_full(struct conn *c);

/* --- block.c: why a connection is not read --- */

#define BLOCK_AUTH 0x01 /* password check on the worker */
#define BLOCK_CLAIM 0x02 /* the cluster's answer to its CONNECT */
#define BLOCK_RATE 0x04 /* over its publish rate */
#define BLOCK_OUTPUT 0x08 /* its output is over the pause mark */
#define BLOCK_SHUTDOWN 0x10 /* the node is shutting down */
#define BLOCK_LINK 0x20 /* a link login waits for its address's turn */

/* c waits for why: reading stops with the first reason. */
void conn_block(struct conn *c, uint8_t why);
/* why is over: with no reason left, c is read again and what it has
 * buffered is parsed (read_cb). */
void conn_unblock(struct conn *c, uint8_t why);
/* Bytes came for c while it is blocked (read_cb): reading stops once
 * its input holds BLOCK_INPUT_MAX. */
void conn_block_input(struct conn *c);
size_t conn_count(void);
/* Free c later unless store commits still hold it (conn.c / persist.c). */
void conn_free_later(struct conn *c);
/* Free every connection at once (end of shutdown). */
void conn_free_all(void);

/* --- read.c --- */

/*
 * Frame, decode and dispatch the packets in p (len contiguous bytes, read
 * from c and not parsed yet); returns the bytes consumed. It stops at an
 * incomplete packet, with *need the bytes that packet needs contiguous
 * (more than what is left), or when c blocks or closes, with *need 0. The
 * handlers' views point into p.
 */
size_t read_packets(struct conn *c, uint8_t *p, size_t len, size_t *need);

/*
 * --- the transport seam (sock.c, bevconn.c) ---
 *
 * A connection reaches its peer through a transport: sock.c for plain
 * TCP (a bare event on the socket, buffers only while bytes wait),
 * bevconn.c for TLS and WebSocket (libevent bufferevent filters, tls.c
 * and ws.c). conn.c and read.c see MQTT bytes only, through these
 * operations; the transport reports back with conn_io_connected(),
 * conn_io_failed() and conn_io_drained() and hands what it read to
 * read_packets().
 */
struct transport {
	const char *name;
	/* Room for len more bytes at the end of c's output, or NULL. */
	uint8_t *(*reserve)(struct conn *c, size_t len);
	/* The first len bytes of that room are output: written by the end
	 * of the loop pass. */
	void (*commit)(struct conn *c, size_t len);
	/* Output bytes not written yet (TLS, WebSocket: not yet framed). */
	size_t (*output_len)(const struct conn *c);
	/* Input bytes read and not parsed yet. */
	size_t (*input_len)(const struct conn *c);
	/* Read the socket (on 1) or leave what comes in the kernel (0). */
	void (*read_on)(struct conn *c, int on);
	/* Parse what has been read and not parsed (conn_unblock). */
	void (*parse)(struct conn *c);
	/* conn_io_drained(c) once the output is down to c->drain_low bytes,
	 * while c->drain_watch is set (conn_watch_output). */
	void (*watch_output)(struct conn *c);
	/* Closing: drop what is read from now on (lingering, conn.c). */
	void (*discard_input)(struct conn *c);
	/* Output flushed: half-close (the peer reads end of file). */
	void (*shutdown)(struct conn *c);
	/* No more reading or writing; c is about to be freed. */
	void (*stop)(struct conn *c);
	evutil_socket_t (*fd)(const struct conn *c);
	/* The transport's own account of a failure (TLS alert, WebSocket
	 * close, handshake cut short), or NULL. */
	const char *(*error)(const struct conn *c, int eof);
	/* Release the transport; TLS and WebSocket flush their last bytes on
	 * their own. Closes the socket. */
	void (*free)(struct conn *c);
};

/* sock.c */
extern const struct transport sock_transport;
/* c speaks plain TCP over fd (accepted, connected or connecting: then
 * conn_io_connected() or conn_io_failed() comes). */
void sock_attach(struct conn *c, evutil_socket_t fd, int connecting);
/* The epoll set of the plain sockets, watched from srv.base. Returns 0,
 * or -1 (logged). */
int sock_init(void);
/* Shutdown, loop stopped: release the end-of-pass event, the pool and
 * the epoll set. */
void sock_free_all(void);

/* bevconn.c */
extern const struct transport bevconn_transport;
/* c speaks over bev (a TLS or WebSocket filter, taken over). */
void bevconn_attach(struct conn *c, struct bufferevent *bev);
/* c's TLS and WebSocket state; NULL: none (plain TCP: sock.c). */
static inline struct tls_conn *
conn_tls(const struct conn *c)
{
	return c->io == &bevconn_transport ? c->bv_tls : NULL;
}
static inline struct ws_conn *
conn_ws(const struct conn *c)
{
	return c->io == &bevconn_transport ? c->bv_ws : NULL;
}

/* conn.c, called by the transports: */
/* A dialled connection is up. */
void conn_io_connected(struct conn *c);
/* End of file (eof 1) or an error (err: errno, 0 when unknown). */
void conn_io_failed(struct conn *c, int eof, int err);
/* The output is down to c->drain_low bytes (c->drain_watch was set and
 * is now clear). */
void conn_io_drained(struct conn *c);
/* Queue len bytes for the socket as they are. */
void conn_write(struct conn *c, const void *p, size_t len);
/* The connection's socket (setsockopt). */
evutil_socket_t conn_fd(const struct conn *c);

/* --- handle_*.c ---
 * Each handler gets a decoded packet whose views point into the input
 * buffer (valid for the call only) and returns 0 or a v5 reason code; a
 * non-zero return closes the connection with that reason (read.c). */
int handle_connect(struct conn *c, struct mqtt_packet *pkt);
/* Answer a CONNECT with a refusing CONNACK (rc is a v5 reason code,
 * mapped to the 3.x return code for 3.x). Returns rc. */
int handle_connect_refuse(struct conn *c, uint8_t version, uint8_t rc);
/* A CONNECT kept to run again later (an authentication exchange, a
 * cluster claim, a password check): pkt encoded, in a new buffer. */
uint8_t *connect_keep(const struct mqtt_packet *pkt);
/* Decode a kept CONNECT and run handle_connect() on it: its result, or
 * 0x80 when the buffer does not decode. */
int connect_rerun(struct conn *c, const uint8_t *buf);
int handle_publish(struct conn *c, struct mqtt_packet *pkt);

int handle_puback(struct conn *c, struct mqtt_packet *pkt);
/* Add a Reason String to a failing ack when the client allows it. */
void handle_ack_reason_string(const struct conn *c, struct mqtt_packet *ack);
int handle_pubrec(struct conn *c, struct mqtt_packet *pkt);
int handle_pubrel(struct conn *c, struct mqtt_packet *pkt);
int handle_pubcomp(struct conn *c, struct mqtt_packet *pkt);
int handle_subscribe(struct conn *c, struct mqtt_packet *pkt);
int handle_unsubscribe(struct conn *c, struct mqtt_packet *pkt);
int handle_pingreq(struct conn *c, struct mqtt_packet *pkt);
int handle_disconnect(struct conn *c, struct mqtt_packet *pkt);
int handle_auth(struct conn *c, struct mqtt_packet *pkt);

/* --- notify.c: sd_notify(3) without libsystemd --- */

/* Send state ("READY=1", "STOPPING=1": newline-separated assignments) to
 * the service manager's NOTIFY_SOCKET; nothing without one. Failures are
 * logged, never fatal. */
void notify_send(const char *state);
/* RELOADING=1 with the MONOTONIC_USEC of now (send READY=1 after). */
void notify_reloading(void);

/* --- mqttbridge.c: bridges to other brokers --- */

#define MQTTBRIDGE_ID "$bridge/" /* client id prefix of a bridge's session */
#define MQTTBRIDGE_IN 0x01 /* topic line directions, a mask */
#define MQTTBRIDGE_OUT 0x02

/* One topic line: pattern [in|out|both] [qos] [local-prefix
 * remote-prefix], mosquitto's semantics. */
struct mqttbridge_topic {
	char *pattern; /* "" when a prefix is the whole topic */
	char *local_prefix; /* "" for none */
	char *remote_prefix;
	char *local_filter; /* local_prefix + pattern */
	char *remote_filter; /* remote_prefix + pattern */
	uint8_t dir; /* MQTTBRIDGE_IN | MQTTBRIDGE_OUT */
	uint8_t qos;
};

struct mqttbridge_addr {
	char *host;
	uint16_t port;
};

/* A connection line and the keys after it (tern.conf(5)). */
struct mqttbridge_conf {
	char *name;
	unsigned line; /* of the connection line */
	struct mqttbridge_addr *addrs; /* tried in order */
	size_t n_addrs;
	struct mqttbridge_topic *topics;
	size_t n_topics;
	char *remote_clientid; /* NULL: <node_name or host>.<name> */
	char *remote_username; /* NULL: none */
	char *remote_password;
	char *cafile; /* TLS: the remote's CA (NULL: plain TCP) */
	char *certfile; /* ours, for a remote that asks (NULL: none) */
	char *keyfile;
	uint32_t keepalive; /* s */
	uint32_t restart_base; /* s: first redial delay, doubled ... */
	uint32_t restart_cap; /* ... up to this */
	uint8_t version; /* MQTT_V311 or MQTT_V5 */
	uint8_t cleansession;
	uint8_t try_private;
	uint8_t insecure; /* TLS: the remote's name is not checked */
	uint8_t tls_given; /* a bridge_* TLS key was given */
};

struct mqttbridge;

/* config.c's rows: "connection <name>" opens a section; every key after
 * it goes to mqttbridge_conf_key until the next connection line. Both
 * return 0, or -1 with a message in err (config.c adds FILE:LINE). */
int mqttbridge_conf_connection(struct config *c, char *rest, char *err,
    size_t errlen);
int mqttbridge_conf_key(struct config *c, const char *key, char *rest,
    char *err, size_t errlen);
/* At the end of file: what a section lacks ("FILE:LINE: connection x
 * has no address"). Returns 0 or -1 with err set. */
int mqttbridge_conf_check(const struct config *c, const char *file,
    char *err, size_t errlen);
void mqttbridge_conf_free(struct config *c);
/* Make each bridge's session and start dialling (after the store is
 * loaded). Returns 0, or -1 (logged). */
int mqttbridge_init(void);
void mqttbridge_free(void);
/* SIGHUP: start the bridges again when their sections changed (old: the
 * sections they ran on, swapped out of srv.cfg by config_reload). */
void mqttbridge_reload(const struct config *old);
/* The LINK_EXT conn c: TCP is up (send CONNECT); a packet from the
 * remote (read.c: 0 or a reason code, -1 for the client handlers);
 * it failed before its CONNACK (why, logged); it is closing; its timer
 * fired (keep alive). */
void mqttbridge_connected(struct conn *c);
int mqttbridge_dispatch(struct conn *c, struct mqtt_packet *pkt);
void mqttbridge_failed(struct conn *c, const char *why);
void mqttbridge_closed(struct conn *c);
void mqttbridge_timer(struct conn *c);
/* deliver_send for a bridge's session s: pkt, the PUBLISH of m, goes to
 * the remote with its topic mapped. Returns conn_send's result. */
int mqttbridge_send(struct session *s, const struct msg *m,
    struct mqtt_packet *pkt);
/* The bridges, by index (NULL past the end), with their state into st,
 * for $SYS and metrics. */
struct mqttbridge_stats {
	int up; /* connected (CONNACK received) */
	uint64_t sent; /* PUBLISHes to the remote, resends included */
	uint64_t received; /* PUBLISHes from the remote, published here */
	uint64_t queued; /* for the remote, queued or in flight */
};
const struct mqttbridge_conf *mqttbridge_at(size_t i,
    struct mqttbridge_stats *st);

/* --- server.c --- */

struct server {
	struct event_base *base;
	struct config cfg;
	struct hash *sessions; /* client id -> struct session */
	struct trie *subs;
	struct conn_list conns;
	int shutting_down;
	int draining; /* SIGUSR1: refuse and redirect clients */
	struct event *sig_term, *sig_int, *sig_hup, *sig_usr1;
	struct event *shutdown_timer;
	struct store *store; /* NULL: store off */
	struct event *store_ev; /* the store's completion eventfd */
	struct event *flush_ev; /* end of loop pass: commit the batch */
	struct event *expire_timer;
	uint64_t next_msg_id;
	uint64_t batch_gen; /* bumps at each commit */
	uint64_t committed_gen; /* commits completed (they complete in
				 * order, so batches up to it are on disk) */
	uint64_t writes; /* store writes so far (acks compare it) */
	/* Counters of the node's life, read by sys.c and http.c: */
	uint64_t dropped[EVENTS_DROP_N]; /* by reason (events_dropped) */
	uint64_t published[3]; /* PUBLISH from clients, by QoS */
	uint64_t delivered[3]; /* PUBLISH to clients, by QoS, resends not */
	uint64_t glog_entries; /* group log entries written (glog.c) */
	uint64_t glog_deliveries; /* queue positions they stood for */
	uint64_t glog_spans; /* spans opened (a write each) */
	struct hash *glogs; /* topic -> struct glog */
	int loading; /* start-up load: no writes */
	int init_status; /* exit status of a failed start-up (0: 1) */
	/* The command line, for reading the configuration again: */
	const char *conf_file; /* -c; NULL: none */
	const char *dir_flag; /* -d; NULL: none */
	long port_flag; /* -p; -1: none */
	int verbose; /* -v given this many times */
};

/* Exit status of a start-up that found no room on the store's disk:
 * EX_TEMPFAIL (sysexits.h), as it goes away once space is freed. */
#define TERN_EXIT_DISK_FULL 75

extern struct server srv;

/* Read the configuration as the command line says (srv.conf_file,
 * port_flag, dir_flag) into c, finished. 0, or -1 with err (c freed). */
int server_config_read(struct config *c, char *err, size_t errlen);
/* Set the log level from srv.cfg and -v. */
void server_log_level(void);
/* The node's asynchronous resolver (dns_resolv_conf), made on first use;
 * NULL (logged) when it cannot be set up. Freed by server_free. */
struct evdns_base;
struct evdns_base *server_resolver(void);

/* --- resolve.c --- */
/* The answer to resolve_start: err NULL and the address to dial, or the
 * reason there is none (sa NULL). */
typedef void resolve_cb(const char *err, const struct sockaddr *sa,
    int salen, void *arg);
struct resolve;
/* The first address of host:port, by the node's resolver for a name (no
 * blocking). cb may run before this returns (an address, a name in the
 * hosts file): then NULL is returned. Else the query is pending until cb
 * runs, or until resolve_cancel(). */
struct resolve *resolve_start(const char *host, uint16_t port,
    resolve_cb *cb, void *arg);
/* 1 when host is an address (no resolver needed). */
int resolve_numeric(const char *host);
/* Drop a pending query (NULL: none): its cb never runs. */
void resolve_cancel(struct resolve *r);
/* At shutdown (srv.shutting_down set): every pending query's cb runs
 * with an error and the queries end. */
void resolve_shutdown(void);
/* Set up the loop, listeners and signals. Returns 0 or -1 (logged). */
int server_init(void);
/* Run until shut down; returns the exit status. */
int server_run(void);
/* Free everything. */
void server_free(void);
/* Called by conn.c when a connection has been freed (shutdown waits for
 * the last one). */
void server_conn_gone(void);
/* The reason code for sending a client away while draining: 0x9C (use
 * another server) when its listener has a server reference, else 0x89. */
uint8_t server_drain_reason(const struct conn *c);
/* SIGUSR1, or the admin API: send every client away and refuse new ones
 * (see server.c). Returns the clients sent away, or -1 when the node is
 * draining or shutting down already. */
int server_drain(void);

/* --- glog.c: group messages at one write (store/sql_group.c) --- */

/* The log of one topic that offline sessions subscribed to it exactly
 * share: its newest entry and byte sum, and the sessions whose span over
 * it is open. */
struct glog_span;
TAILQ_HEAD(glog_span_list, glog_span);
struct glog {
	char *filter;
	size_t flen;
	uint64_t head;
	uint64_t cum;
	struct glog_span_list open;
};
/* A session's open span: its seqs first_seq..last_seq are the entries
 * first_log..last_log of g, delivered with the subscription's qos, rap
 * and sub_id. */
struct glog_span {
	TAILQ_ENTRY(glog_span) entry;
	struct glog *g;
	struct session *s;
	uint64_t first_seq, last_seq;
	uint64_t first_log, last_log;
	uint32_t sub_id;
	uint8_t qos, rap;
};
/* The store's log of filter at start-up (its newest entry, byte sum). */
void glog_loaded(const char *filter, size_t flen, uint64_t head,
    uint64_t cum);
/* Around each deliver_route. */
void glog_route_begin(void);
void glog_route_end(void);
/* 1 when a message matching n_matches subscriptions is a group message
 * (group_log_threshold); glog_eligible: 1 when it may reach s through
 * its topic's group log (the caller checked the subscription). */
int glog_wanted(size_t n_matches);
int glog_eligible(const struct session *s, size_t n_matches);
/* m reaches s through its topic's log: returns the seq it takes. */
uint64_t glog_take(struct session *s, struct msg *m, uint8_t sub_qos,
    uint8_t rap, uint32_t sub_id);
/* s takes a seq another way, or its queue is read back: its open span
 * ends (a write). */
void glog_span_end(struct session *s);
/* s and its store rows go: forget its span (no write). */
void glog_span_forget(struct session *s);
void glog_free_all(void);

#include "bridge.h"

#endif /* TERN_BROKER_H */
