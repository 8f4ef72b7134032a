/*
 * sys.c - the $SYS topics: the node's state, every sys_interval seconds,
 * as retained QoS 0 messages, as mosquitto publishes them.
 *
 * A value is published when it changed since the last time, so that a
 * subscriber sees changes, not a stream of repeats. $SYS messages are this
 * node's own: they are neither stored (persist.c) nor forwarded to the
 * other nodes of a cluster (bridge/forward.c); each node has its own.
 *
 *   $SYS/broker/version                  "tern <version>"
 *   $SYS/broker/uptime                   "<n> seconds"
 *   $SYS/broker/clients/connected        connections that sent CONNECT
 *   $SYS/broker/sessions/count           sessions, online and offline
 *   $SYS/broker/subscriptions/count      subscriptions, with remote routes
 *   $SYS/broker/retained messages/count
 *   $SYS/broker/publish/messages/dropped messages dropped on full queues
 *   $SYS/broker/push/sent                webhook events the server took
 *   $SYS/broker/push/failed              events in batches it refused (4xx)
 *   $SYS/broker/push/dropped             events dropped past push_queue_max
 *   $SYS/broker/push/waiting             events not yet sent (push.c)
 *   $SYS/broker/push/errors              failed requests, sent again
 *   $SYS/broker/cluster/node             node_name (in a cluster)
 *   $SYS/broker/cluster/routes           this node's routes
 *   $SYS/broker/cluster/nodes/<n>/link   "up" or "down" (our link to <n>)
 *   $SYS/broker/cluster/nodes/<n>/routes the routes <n> holds
 *   $SYS/broker/cluster/nodes/<n>/forwarded  messages forwarded to <n>
 *   $SYS/broker/cluster/nodes/<n>/received   messages received from <n>
 *   $SYS/broker/cluster/nodes/<n>/queued     waiting in <n>'s forward queue
 *   $SYS/broker/cluster/nodes/<n>/bytes      sent to <n>, on both links
 *   $SYS/broker/bridge/<name>/state      1 connected, 0 not (mqttbridge.c;
 *                                        also published when it changes)
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static struct event *sys_timer;
static struct hash *sys_last; /* topic -> last payload (char *) */
static time_t sys_started;

static void
sys_pub(const char *topic, const char *fmt, ...)
{
	struct mqtt_publish p;
	char payload[256], *last;
	struct msg *m;
	va_list ap;
	size_t tl = strlen(topic);

	va_start(ap, fmt);
	vsnprintf(payload, sizeof payload, fmt, ap);
	va_end(ap);
	last = hash_get(sys_last, topic, tl);
	if (last != NULL && strcmp(last, payload) == 0)
		return;
	free(hash_put(sys_last, topic, tl, xstrdup(payload)));
	memset(&p, 0, sizeof p);
	p.retain = 1;
	p.payload.p = (const uint8_t *)payload;
	p.payload.len = (uint32_t)strlen(payload);
	m = msg_from_publish(&p, (const uint8_t *)topic, (uint32_t)tl);
	retain_store(m);
	deliver_route(m, NULL);
	msg_unref(m);
}

static size_t
sys_connected(void)
{
	const struct conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &srv.conns, entry) {
		if (c->state == CONN_ACTIVE && c->link == LINK_NONE)
			n++;
	}
	return n;
}

static void
sys_cluster(void)
{
	const struct peer *p;
	const struct session *q;
	char t[200];
	size_t i;

	sys_pub("$SYS/broker/cluster/node", "%s", srv.cfg.node_name);
	sys_pub("$SYS/broker/cluster/routes", "%zu", bridge_route_count());
	for (i = 0; (p = bridge_peer_at(i)) != NULL; i++) {
		q = p->out;
		snprintf(t, sizeof t, "$SYS/broker/cluster/nodes/%s/link",
		    p->name);
		sys_pub(t, "%s", bridge_peer_up(p) ? "up" : "down");
		snprintf(t, sizeof t, "$SYS/broker/cluster/nodes/%s/routes",
		    p->name);
		sys_pub(t, "%zu", hash_count(p->routes));
		snprintf(t, sizeof t, "$SYS/broker/cluster/nodes/%s/forwarded",
		    p->name);
		sys_pub(t, "%llu", (unsigned long long)p->forwarded);
		snprintf(t, sizeof t, "$SYS/broker/cluster/nodes/%s/received",
		    p->name);
		sys_pub(t, "%llu", (unsigned long long)p->received);
		snprintf(t, sizeof t, "$SYS/broker/cluster/nodes/%s/queued",
		    p->name);
		sys_pub(t, "%llu", (unsigned long long)(q->n_queued +
		    q->n_inflight + session_du(q)->disk_count));
		snprintf(t, sizeof t, "$SYS/broker/cluster/nodes/%s/bytes",
		    p->name);
		sys_pub(t, "%llu", (unsigned long long)(p->tx_bytes +
		    (bridge_peer_up(p) ? q->conn->tx_bytes : 0) +
		    (p->link_in != NULL ? p->link_in->tx_bytes : 0)));
	}
}

static void
sys_push(void)
{
	uint64_t sent, failed, dropped, waiting, errors;

	push_stats(&sent, &failed, &dropped, &waiting, &errors);
	sys_pub("$SYS/broker/push/sent", "%llu", (unsigned long long)sent);
	sys_pub("$SYS/broker/push/failed", "%llu",
	    (unsigned long long)failed);
	sys_pub("$SYS/broker/push/dropped", "%llu",
	    (unsigned long long)dropped);
	sys_pub("$SYS/broker/push/waiting", "%llu",
	    (unsigned long long)waiting);
	sys_pub("$SYS/broker/push/errors", "%llu",
	    (unsigned long long)errors);
}

void
sys_bridge_state(const char *name, int up)
{
	char t[128];

	if (sys_last == NULL)
		return;
	snprintf(t, sizeof t, "$SYS/broker/bridge/%s/state", name);
	sys_pub(t, "%d", up);
}

static void
sys_bridges(void)
{
	const struct mqttbridge_conf *b;
	struct mqttbridge_stats st;
	size_t i;

	for (i = 0; (b = mqttbridge_at(i, &st)) != NULL; i++)
		sys_bridge_state(b->name, st.up);
}

static void
sys_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { (time_t)srv.cfg.sys_interval, 0 };

	sys_pub("$SYS/broker/version", "tern %s", TERN_VERSION);
	sys_pub("$SYS/broker/uptime", "%lld seconds",
	    (long long)(time(NULL) - sys_started));
	sys_pub("$SYS/broker/clients/connected", "%zu", sys_connected());
	sys_pub("$SYS/broker/sessions/count", "%zu", session_count());
	sys_pub("$SYS/broker/subscriptions/count", "%zu",
	    trie_count(srv.subs));
	sys_pub("$SYS/broker/retained messages/count", "%zu",
	    retain_count());
	sys_pub("$SYS/broker/publish/messages/dropped", "%llu",
	    (unsigned long long)srv.dropped[EVENTS_DROP_QUEUE_FULL]);
	if (srv.cfg.push_webhook != NULL)
		sys_push();
	if (bridge_on())
		sys_cluster();
	sys_bridges();
	evtimer_add(sys_timer, &tv);
}

void
sys_init(void)
{
	struct timeval zero = { 0, 0 };

	sys_started = time(NULL);
	if (srv.cfg.sys_interval == 0)
		return;
	sys_last = hash_new();
	sys_timer = evtimer_new(srv.base, sys_cb, NULL);
	evtimer_add(sys_timer, &zero);
}

void
sys_reload(const struct config *old)
{
	struct timeval tv = { (time_t)srv.cfg.sys_interval, 0 };

	if (srv.cfg.sys_interval == old->sys_interval)
		return;
	if (srv.cfg.sys_interval == 0) {
		if (sys_timer != NULL)
			evtimer_del(sys_timer);
		return;
	}
	if (sys_timer == NULL) {
		sys_last = hash_new();
		sys_timer = evtimer_new(srv.base, sys_cb, NULL);
		tv.tv_sec = 0;
	}
	evtimer_add(sys_timer, &tv);
}

static void
sys_free_one(const void *key, size_t len, void *value, void *arg)
{
	free(value);
}

void
sys_free(void)
{
	if (sys_timer != NULL)
		event_free(sys_timer);
	sys_timer = NULL;
	if (sys_last != NULL) {
		hash_foreach(sys_last, sys_free_one, NULL);
		hash_free(sys_last);
	}
	sys_last = NULL;
}

int
sys_topic(const char *topic, size_t len)
{
	return len >= 5 && memcmp(topic, "$SYS/", 5) == 0;
}
