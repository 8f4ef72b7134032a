/*
 * bridge.h - the cluster: links between nodes, shared subscription routes,
 * forwarding. Included by broker.h; grouped by file like it.
 *
 * Objects:
 *   struct peer  another node, known by its node_name: its routes (held in
 *                srv.subs, owned by its forward session), its links, the
 *                route version it has acknowledged.
 *   struct dial  an address this node keeps a link to (from cluster_peers,
 *                or learned from a node that dialled us), with its backoff.
 *
 * Each node dials every other node once; that outbound link (LINK_OUT)
 * carries this node's routes and the messages it forwards, and brings
 * back their acknowledgements. The forward queue of a peer is an ordinary
 * persistent session, "$peer/<node>", whose connection is the outbound
 * link: queueing, in-flight windows, QoS 1/2 flows, the store and resend
 * after a drop are the broker's own. The link the other node dialled
 * (LINK_IN) brings its routes and its forwarded messages, handled as
 * publishes of the persistent session "$cluster/<node>" that are
 * delivered here and never forwarded again.
 */
#ifndef TERN_BRIDGE_H
#define TERN_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct session;
struct msg;
struct mqtt_packet;
struct mqtt_connect;
struct mqtt_props;
struct mqtt_publish;
struct mqtt_str;
struct hash;
struct event;
struct dial;

/* The link protocol (docs/ARCHITECTURE.md, "The cluster"). */
#define BRIDGE_PROTO "2" /* the highest version this node speaks */
#define BRIDGE_LINK_ID "$cluster/" /* client id prefix of a link */
#define BRIDGE_PEER_ID "$peer/" /* session id prefix of a forward queue */
#define BRIDGE_TOPIC_ROUTES "$cluster/routes"
#define BRIDGE_TOPIC_ACK "$cluster/ack"
#define BRIDGE_PROP_SHARE "$tern/share"
#define BRIDGE_PROP_NOPLAIN "$tern/noplain"
/* A split session (made while a node was not heard) of that client id on
 * the sending node had the message: not delivered to another copy. */
#define BRIDGE_PROP_HAD "$tern/had"
#define BRIDGE_HAD_MAX 16 /* named on one message at most */
/* A message's cluster-wide identity on a link of protocol 1 (forward.c):
 * its sequence, and its origin node's name hash when the sender is not
 * the origin, each in 11 base64url digits. Protocol 2 has its own form
 * (proto.h). */
#define BRIDGE_PROP_ID "$tern/i"
#define BRIDGE_PROP_ORIGIN "$tern/o"
/* The wire-form user properties of an identity take at most this. */
#define BRIDGE_ID_PROP_MAX 64
#define BRIDGE_KEEPALIVE 10 /* s, on outbound links */
#define BRIDGE_PING_MS 500 /* the dialler's PINGREQ interval */
#define BRIDGE_LIVE_MS 1500 /* silent longer: not waited for (claims) */
/* A CONNECT waits this long for a node whose link is down to be dialled
 * (bridge_dial_now): a partition that has healed, with the links still
 * in their backoff, must not leave the client with a stale copy. */
#define BRIDGE_CLAIM_DIAL_MS 1000
#define BRIDGE_WINDOW 1024 /* forwarded messages in flight per link */
#define BRIDGE_QUEUE_MAX 10000000 /* forwarded messages waiting per node */
#define BRIDGE_QUEUE_SOFT (4 * BRIDGE_WINDOW) /* then publishers wait */

struct peer {
	char *name;
	uint64_t origin; /* its messages' origin (bridge_origin_of) */
	uint32_t index; /* in the peer list, from 0 (bridge_peer_bit) */
	struct session *out; /* "$peer/<name>" */
	struct conn *link_in; /* its link to us, when up */
	struct dial *dial; /* our link to it */
	struct hash *routes; /* filter -> its copy (char *), in srv.subs */
	struct hash *staging; /* a full resync being received */
	uint64_t version; /* of the last route message applied */
	uint64_t acked; /* our route version it has applied */
	struct event *grace_timer;
	uint64_t forwarded; /* messages forwarded to it */
	uint64_t received; /* messages it forwarded to us */
	uint64_t tx_bytes; /* sent to it on links gone (both ways) */
	uint64_t rx_bytes; /* read from it on links gone (both ways) */
	uint8_t synced; /* its whole route table came since our start */
	uint8_t routes_current; /* ... and since its link last came up */
	uint8_t fwd_plain; /* forward collection (bridge_collect) */
	uint8_t fwd_listed;
	char **fwd_shares;
	uint32_t n_fwd_shares, cap_fwd_shares;
};

/* --- bridge/wire.c --- */

/* Big-endian integers at p. */
void bridge_put64(uint8_t *p, uint64_t v);
uint64_t bridge_get64(const uint8_t *p);
void bridge_put32(uint8_t *p, uint32_t v);
uint32_t bridge_get32(const uint8_t *p);
/* One user property (key, value of vlen bytes) in wire form at p;
 * returns the end. */
uint8_t *bridge_put_user(uint8_t *p, const char *key, const char *value,
    size_t vlen);

/* --- bridge/link.c --- */

/* p's link is down: dial it now rather than when its backoff says (at
 * most once per BACKOFF_MIN_MS: within that of the last dial, the next
 * is set for when it is up; a peer given by address only, never
 * resolved on this path). Returns 1 when a dial is under way or set,
 * begun within BRIDGE_CLAIM_DIAL_MS (an older one hangs: not waited
 * for). */
int bridge_dial_now(struct peer *p);

/* The addresses (numeric, n of them) that cluster_peers_dns resolves to
 * now, each with port: a new one is dialled; a dial of an earlier answer
 * not in this one is dropped, at once when it has no connection, else
 * when its connection closes. Borrows hosts. */
void bridge_dns_answer(char *const *hosts, size_t n, uint16_t port);

/* --- bridge/dns.c --- */

/* Resolve cluster_peers_dns now and every cluster_dns_interval. 0, or -1
 * (logged) without a resolver. */
int bridge_dns_init(void);
/* Stop resolving: a query under way is cancelled, which the loop
 * finishes (server.c calls this as the node begins to shut down). */
void bridge_dns_free(void);

/* --- bridge/link.c --- */

/* Check the cluster keys and start dialling the configured peers (after
 * the store is loaded). Returns 0, or -1 (logged). */
int bridge_init(void);
void bridge_free(void);
/* 1 when this node is part of a cluster (node_name set). */
int bridge_on(void);
/* The peer named name (created on first use, with its forward session). */
struct peer *bridge_peer(const char *name, size_t len);
/* The peers known, by index (NULL past the end). */
size_t bridge_peer_count(void);
struct peer *bridge_peer_at(size_t i);
/* 1 when our outbound link to p is up. */
int bridge_peer_up(const struct peer *p);
/*
 * At start-up, after the listeners are bound: 1 when the client
 * listeners must wait (server.c holds them) until every node known from
 * an earlier run (its forward queue is in the store) has sent its whole
 * route table, or cluster_sync_timeout; the bridge lets them go
 * (listener_hold_clients(0)). 0: nothing to wait for.
 */
int bridge_startup_hold(void);
/* p's whole route table is in (route.c). */
void bridge_routes_synced(struct peer *p);
/* 1 when it is up and p answered within BRIDGE_LIVE_MS (it answers our
 * PINGREQs every BRIDGE_PING_MS): a node that is stalled, or behind a
 * link that carries nothing, is not waited for. */
int bridge_peer_live(const struct peer *p);
/* p's bit in a set of nodes (session.split): bit index, the last bit
 * shared by every node from the 32nd on. */
uint32_t bridge_peer_bit(const struct peer *p);
/* A node name's origin hash, as message identities carry it. */
uint64_t bridge_origin_of(const char *name, size_t len);
/* The node whose link a session reads ("$cluster/<node>"), or NULL. */
struct peer *bridge_link_peer(const struct session *link);
/*
 * A CONNECT arrived (handle_connect). Returns -1 when it is not for a
 * link; 0 when it is a valid link CONNECT (c becomes LINK_IN);
 * BRIDGE_HELD when it waits for its turn to be checked (secret.c: c is
 * blocked and the CONNECT runs again later); BRIDGE_CLOSED when it was
 * refused and c closed; else the reason code it was refused with (its
 * CONNACK has been sent).
 */
int bridge_connect(struct conn *c, const struct mqtt_packet *pkt);
#define BRIDGE_HELD (-2)
/* Refused and closed without a log line above info (this node). */
#define BRIDGE_CLOSED (-3)
/* Properties for the CONNACK of a link (this node's name). */
void bridge_connack_props(const struct conn *c, struct mqtt_props *ap);
/* The CONNACK of LINK_IN c is out and its session attached. */
void bridge_link_in_up(struct conn *c);
/* A packet on a link, before the client handlers (read.c). Returns -1
 * to let them handle it, else 0 or a reason code. */
int bridge_dispatch(struct conn *c, struct mqtt_packet *pkt);
/* TCP of LINK_OUT c is up: send its CONNECT. */
void bridge_connected(struct conn *c);
/* c, a link, is closing (conn_close): forget it, redial, start grace. */
void bridge_closed(struct conn *c);
/* c, a link we dialled or a connection to the cluster listener, failed
 * (socket error, end of file, TLS) before its CONNACK / CONNECT: log
 * why, at warning when the socket had connected. */
void bridge_link_failed(struct conn *c, const char *why);
/* The timer of a LINK_OUT conn fired: ping or give up. */
void bridge_timer(struct conn *c);

/* --- bridge/secret.c --- */

#define BRIDGE_SECRET_MIN 16 /* bytes of cluster_secret, at least */

/* Hash cluster_secret and make the table of source addresses. Returns 0,
 * or -1 (logged). */
int secret_init(void);
void secret_free(void);
/*
 * The password of c's link CONNECT pkt against cluster_secret, at the
 * pace its source address has earned. Returns 0 when right; -1 when the
 * CONNECT is held for its address's turn (c blocked with BLOCK_LINK; it
 * runs again through connect_rerun, and comes back here); else the
 * reason code to refuse it with (0x86 wrong, 0x89 too many waiting;
 * logged).
 */
int secret_check(struct conn *c, const struct mqtt_packet *pkt);
/* c is closing: its held CONNECT, if any, leaves its address's queue. */
void secret_conn_gone(struct conn *c);

/* --- bridge/route.c --- */

/* A local subscription to filter appeared (delta 1) or went (-1). The
 * first and last of a filter change this node's routes. */
void bridge_route_ref(const char *filter, uint32_t len, int delta);
/* The number of this node's routes. */
size_t bridge_route_count(void);
/* This node's route version: bumps with every route change. */
uint64_t bridge_route_version(void);
/* Send the whole route table to the peer of LINK_OUT c (link up). */
void bridge_routes_sync(struct conn *c);
/* A "$cluster/routes" message from peer p (on its LINK_IN). Returns 0 or
 * a reason code. */
int bridge_routes_apply(struct peer *p, struct conn *c,
    const uint8_t *data, uint32_t len);
/* Peer p acknowledged our routes up to version. */
void bridge_routes_acked(struct peer *p, uint64_t version);
/* Drop every route of p (grace over, shutdown). */
void bridge_routes_drop(struct peer *p);
/* 1 when every node linked now has applied route version (a SUBACK
 * waiting for it may go: gate.c). */
int bridge_routes_ready(uint64_t version);
/* Every node we know, linked or not, has applied version. */
int bridge_routes_all_acked(uint64_t version);
/* 1 while p may have routes we have not heard: its link is down with
 * its routes in grace, or back up with its table not all in yet. */
int bridge_routes_uncertain(const struct peer *p);
void bridge_routes_free(void);

/* --- bridge/forward.c --- */

/* deliver_route found a route of p (share: the $share filter it was
 * chosen for, NULL for a plain route). */
void bridge_collect(struct peer *p, const char *share);
/* Forward m once to every peer collected (and to every peer when m is
 * retained). unmatched: nothing here or elsewhere matched m; a QoS 1/2
 * m then goes to every node whose routes we may not know yet
 * (bridge_routes_uncertain), rather than be answered "no matching
 * subscribers". Returns the number of peers it went to. */
unsigned bridge_forward(struct msg *m, int unmatched);
/* The message of a PUBLISH from a link, without the link's own user
 * properties, which say what it is for (bridge_in_plain, _share). */
struct msg *bridge_msg_in(struct conn *c, const struct mqtt_publish *p,
    const uint8_t *topic, uint32_t topic_len);
/* For the message last made by bridge_msg_in: deliver to plain
 * subscriptions? to this $share filter's group? */
int bridge_in_plain(void);
/* deliver_route reached s, a split session here: forwarded copies of
 * the message name it. */
void bridge_had(const struct session *s);
/* 1 when the message last made by bridge_msg_in names s's client id: a
 * copy of s on the sending node had it. */
int bridge_in_had(const struct session *s);
/* 1 when a client may not publish on topic: the links' "$cluster/"
 * topics, in a cluster. */
int bridge_reserved_topic(const uint8_t *topic, uint32_t len);
/* m without "$tern/" user properties, which only links may carry (a
 * client's would be taken for the cluster's markers): m itself when it
 * has none, else a copy (m's reference is dropped). */
struct msg *bridge_msg_clean(struct msg *m);
int bridge_in_share(const char *filter);
void bridge_forward_free(void);
/* Give m its cluster-wide identity (origin: this node; a sequence that
 * grows across restarts) unless it has one. deliver_route() calls it in
 * a cluster, and on a node alone when receipt_wants_id(m) (origin: the
 * hash of the empty name). */
void bridge_msg_identify(struct msg *m);
/* v in 11 base64url digits (A-Z a-z 0-9 - _), most significant first:
 * the text form of an origin or a sequence. */
void bridge_b64(uint64_t v, char out[11]);
/*
 * The PUBLISH pub of m goes on c, the link to another node: write m's
 * identity as wire-form user properties into buf (at least
 * BRIDGE_ID_PROP_MAX bytes), to go first among pub's user properties;
 * returns their length (0: none). On a link of version 2 the form
 * depends on the identity that went before on c: call bridge_id_sent
 * once pub is out.
 */
size_t bridge_id_prop(const struct conn *c, const struct msg *m,
    const struct mqtt_publish *pub, uint8_t *buf);
void bridge_id_sent(struct conn *c, const struct msg *m,
    const struct mqtt_publish *pub);
/* A PUBLISH pub on LINK_IN c, before any handler may drop it (read in
 * the order they came, each once): on a link of version 2, read its
 * identity for bridge_msg_in. Returns 0 or a reason code (the link
 * closes). */
int bridge_id_in(struct conn *c, const struct mqtt_publish *pub);

/* --- bridge/takeover.c --- */

/* A client CONNECT (handle_connect): when other nodes are linked, ask
 * them to give up the client id (and hand its session over) and hold the
 * CONNECT; handle_connect runs again once they have answered. Returns 1
 * when held. */
int bridge_claim(struct conn *c, const struct mqtt_packet *pkt,
    const char *user, size_t ulen);
/* The held client of c left. */
void bridge_claim_gone(struct conn *c);
/* A link to p went: claims waiting for p's answer stop waiting. */
void bridge_claims_peer_gone(struct peer *p);
/* m from node `from` for the split session s: when it comes from, or
 * was published on, a node s is split from (where another copy may have
 * had it), s merges with the copies that may live on the nodes it is
 * split from (a merge claim to each not asked yet, when our link to it
 * is up), and sends nothing meanwhile (bridge_split_merging);
 * then its queue goes on (deliver_pump). */
void bridge_split_hold(struct session *s, struct peer *from,
    const struct msg *m);
/* 1 while a merge claim of s is open. */
int bridge_split_merging(const struct session *s);
/* Our link to p is up: the merge claims that waited for it go. */
void bridge_merge_link_up(struct peer *p);
/* Our link to p came up, or its dial failed: claims that were waiting
 * for it to be dialled (bridge_claim) are sent to it, or stop waiting. */
void bridge_claims_link_up(struct peer *p);
void bridge_claims_dial_failed(struct peer *p);
/* A "$cluster/" control message of the takeover from LINK_IN c. Returns
 * -1 when pub is none of them, else 0 or a reason code. */
int bridge_takeover_in(struct conn *c, const struct mqtt_publish *pub);
/* s is moving to another node: hand it what s holds, then free s. */
void bridge_move_pump(struct session *s);
/* Moved messages (bridge_msg_in): reset, parse one "$tern/" property
 * (returns 1 when the key is one of ours), and ask. */
void bridge_target_reset(void);
int bridge_target_prop(struct mqtt_str k, struct mqtt_str v);
int bridge_in_target(void);
/* Put the moved message m (from node `from`) in its session; returns 1,
 * or 0 when there is no such session. */
unsigned bridge_deliver_target(struct peer *from, struct msg *m);
void bridge_takeover_free(void);
/* Our route version moved on, or a node's acknowledgement of it came:
 * tell the nodes that sessions came from whose routes are applied
 * everywhere now ("$cluster/routed"). */
void bridge_handover_check(void);
/* m for session s (which left us) goes to node `to`'s forward queue,
 * with what deliver_route found for s: qos, retain, subscription ids. */
void bridge_redirect(struct session *s, struct peer *to, struct msg *m,
    uint8_t qos, uint8_t retain, const uint32_t *sub_ids,
    uint8_t n_sub_ids);

/* --- bridge/tombstone.c --- */

/* s has moved to node `to`: it becomes a forwarding address. */
void bridge_tombstone_make(struct session *s, struct peer *to);
/* Node `from`, where client id `id` went from here, says that every
 * node it hears has applied its routes for the session
 * ("$cluster/routed", for the move of that claim): the tombstone's
 * routes go. */
void bridge_tombstone_routed(const struct peer *from, uint64_t claim,
    const char *id, size_t len);
/* A session of that id is made here: its forwarding address goes. */
void bridge_tombstone_drop(const char *id, size_t len);
/* deliver_route matched the tombstone s: pass m on (from: the
 * publisher's session, a node's link for a forwarded message; m
 * published here goes in bridge_tombstone_flush). Returns 1. */
unsigned bridge_tombstone_route(struct session *s, struct msg *m,
    uint8_t qos, uint8_t retain, const uint32_t *sub_ids,
    uint8_t n_sub_ids, const struct session *from);
/* From bridge_forward, with the routes collected: pass m on to the
 * tombstones it matched whose node gets no plain copy (send 0: drop
 * them). */
void bridge_tombstone_flush(struct msg *m, int send);
/* m passed on to us for client id `id`, which has no session here: pass
 * it on again when id moved on from here. Returns 1 when passed on. */
unsigned bridge_tombstone_pass(const char *id, size_t len, struct msg *m,
    uint8_t qos, uint8_t retain, const uint32_t *sub_ids,
    uint8_t n_sub_ids);
/* The node client id `id` moved to from here, or NULL (no tombstone). */
struct peer *bridge_tombstone_to(const char *id, size_t len);
size_t bridge_tombstone_count(void);
void bridge_tombstone_free_all(void);

#endif /* TERN_BRIDGE_H */
