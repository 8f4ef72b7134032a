/*
 * presence.c - online and offline as retained messages (the
 * instant-messaging part of tern; tern.conf(5), "Presence").
 *
 * With presence_topic set, the node that holds a client's session
 * publishes, retained at QoS 1, on the pattern with %c and %u replaced
 *   {"status":"online","client_id":..,"user":..,"node":..,"at":<unix ms>}
 * when the client connects (handle_connect.c, once its CONNACK is
 * queued), and the same with "status":"offline" and a "reason" when it
 * goes (conn_close): "disconnect" (its DISCONNECT), "timeout" (keep
 * alive), "taken_over" (a new connection of its id that does not take
 * up its presence: see below) or "closed" (anything else: the socket
 * went, a protocol error).
 *
 * Debounce. The offline waits presence_debounce seconds on a timer kept
 * per client id (pending, a hash on the id), not per session: a session
 * may end with its connection and a new one be made for the reconnect.
 * A CONNECT of that id within the window cancels the timer and publishes
 * nothing, so its contacts keep seeing the online they saw: a phone on
 * a weak network that reconnects every few seconds never flaps. That
 * also covers a takeover on this node: the old connection closes (the
 * timer starts) before the new one is attached (and cancels it).
 *
 * Whose presence: a session that outlives its connection
 * (s->persistent), or every client with presence_clients all. Whether
 * the online was published (or a pending offline taken up) is kept on
 * the session (presence_on), so an offline goes only after an online,
 * whatever the DISCONNECT then says about the session's expiry. A
 * connection that is not followed (presence_clients persistent, a clean
 * one with no expiry) leaves a pending offline of its id as it is: the
 * client that was shown online is gone, and that is "taken_over".
 *
 * The broker publishes as itself: no session is the publisher (so No
 * Local removes no subscriber), and the client's ACL write right is not
 * asked for (it did not choose the topic or the payload; it could not
 * make its contacts see it offline if a deployment forgot to give it
 * write). Readers pass the ACL as for any message: a subscriber gets a
 * presence message only if it may read the topic (deliver.c). The
 * message is retained (within the retained bounds, retain_room, as a
 * will), routed, stored and forwarded to other nodes as any other.
 *
 * Not done here: the offline of a client whose session moved to another
 * node within the window (the old node publishes it), and the order of
 * two presence messages from two nodes (arrival time decides). A node
 * that shuts down drops its pending offlines: the retained online stays
 * until the client is seen again.
 */
#include "config.h"

#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "hash.h"

#define PRESENCE_DISCONNECT 0
#define PRESENCE_TIMEOUT 1
#define PRESENCE_TAKEN_OVER 2
#define PRESENCE_CLOSED 3

static const char *const presence_reasons[] = {
	"disconnect", "timeout", "taken_over", "closed"
};

/* An offline that waits for its debounce. */
struct presence_wait {
	struct event *timer;
	char *client_id;
	size_t id_len;
	char *user; /* NULL: none */
	size_t user_len;
	uint8_t reason; /* PRESENCE_* */
};

static struct hash *pending; /* client id -> struct presence_wait */

static void
presence_wait_free(struct presence_wait *w)
{
	event_free(w->timer);
	free(w->client_id);
	free(w->user);
	free(w);
}

/* 1 when s's presence is published (presence_clients). */
static int
presence_followed(const struct session *s)
{
	return srv.cfg.presence_all || s->persistent;
}

/* The topic for this client: the pattern with %c and %u replaced. NULL
 * when that is no topic a client could publish to (a client id with '+'
 * or '#', or too deep or long). */
static char *
presence_topic(const char *id, size_t id_len, const char *user,
    size_t user_len, uint32_t *len)
{
	const char *p;
	char *t, *o;
	size_t cap = 1;

	for (p = srv.cfg.presence_topic; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'c')
			cap += id_len, p++;
		else if (p[0] == '%' && p[1] == 'u')
			cap += user_len, p++;
		else
			cap++;
	}
	o = t = xmalloc(cap);
	for (p = srv.cfg.presence_topic; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'c') {
			memcpy(o, id, id_len);
			o += id_len, p++;
		} else if (p[0] == '%' && p[1] == 'u') {
			if (user_len > 0)
				memcpy(o, user, user_len);
			o += user_len, p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	*len = (uint32_t)(o - t);
	if (*len > srv.cfg.max_topic_length ||
	    !mqtt_topic_name_valid((const uint8_t *)t, *len) ||
	    !mqtt_utf8_valid((const uint8_t *)t, *len) ||
	    !topic_depth_ok((const uint8_t *)t, *len)) {
		free(t);
		return NULL;
	}
	return t;
}

/* Publish the retained presence of a client; reason < 0: online. */
static void
presence_publish(const char *id, size_t id_len, const char *user,
    size_t user_len, int reason)
{
	struct mqtt_props props;
	struct mqtt_str payload;
	struct timeval tv;
	struct msg *m;
	const char *node = srv.cfg.node_name;
	char *topic, *buf, *p;
	uint32_t tlen;
	unsigned long long ms;

	topic = presence_topic(id, id_len, user, user_len, &tlen);
	if (topic == NULL) {
		log_debug("presence of %.*s not published: the topic would not "
		    "be valid", (int)id_len, id);
		return;
	}
	gettimeofday(&tv, NULL);
	ms = (unsigned long long)tv.tv_sec * 1000 +
	    (unsigned long long)tv.tv_usec / 1000;
	p = buf = xmalloc(160 + 6 * (id_len + user_len +
	    (node != NULL ? strlen(node) : 0)));
	p += sprintf(p, "{\"status\":\"%s\",\"client_id\":",
	    reason < 0 ? "online" : "offline");
	p = receipt_json_str(p, id, id_len);
	p += sprintf(p, ",\"user\":");
	if (user != NULL)
		p = receipt_json_str(p, user, user_len);
	else
		p += sprintf(p, "null");
	p += sprintf(p, ",\"node\":");
	if (node != NULL)
		p = receipt_json_str(p, node, strlen(node));
	else
		p += sprintf(p, "null");
	p += sprintf(p, ",\"at\":%llu", ms);
	if (reason >= 0)
		p += sprintf(p, ",\"reason\":\"%s\"", presence_reasons[reason]);
	*p++ = '}';

	memset(&props, 0, sizeof props);
	MQTT_PROP_SET(&props, MQTT_PROP_PAYLOAD_FORMAT);
	props.payload_format = 1;
	MQTT_PROP_SET(&props, MQTT_PROP_CONTENT_TYPE);
	props.content_type.p = (const uint8_t *)"application/json";
	props.content_type.len = sizeof "application/json" - 1;
	payload.p = (const uint8_t *)buf;
	payload.len = (uint32_t)(p - buf);
	m = msg_from_parts(&props, NULL, (const uint8_t *)topic, tlen,
	    payload, 1, 1);
	free(buf);
	free(topic);
	log_info("presence of %.*s: %s%s%s", (int)id_len, id,
	    reason < 0 ? "online" : "offline", reason < 0 ? "" : ", ",
	    reason < 0 ? "" : presence_reasons[reason]);
	if (retain_room(m->topic, m->topic_len, msg_size(m), 0))
		retain_store(m);
	deliver_route(m, NULL);
	/* Nobody's ack waits for presence's room (as a receipt). */
	deliver_take_blocker();
	msg_unref(m);
}

static void
presence_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct presence_wait *w = arg;

	hash_del(pending, w->client_id, w->id_len);
	presence_publish(w->client_id, w->id_len, w->user, w->user_len,
	    w->reason);
	presence_wait_free(w);
}

void
presence_online(struct conn *c, struct session *s)
{
	struct presence_wait *w;

	s->presence_on = 0;
	if (srv.cfg.presence_topic == NULL || c->link != LINK_NONE ||
	    s->peer != NULL || s->cluster_in || !presence_followed(s))
		return;
	s->presence_on = 1;
	if (pending != NULL &&
	    (w = hash_del(pending, s->client_id, s->id_len)) != NULL) {
		/* Back within the debounce: its contacts saw nothing. */
		log_debug("presence of %s: back within %u s, nothing "
		    "published", s->client_id, srv.cfg.presence_debounce);
		presence_wait_free(w);
		return;
	}
	presence_publish(s->client_id, s->id_len, s->username,
	    s->username != NULL ? strlen(s->username) : 0, -1);
}

void
presence_gone(struct conn *c, struct session *s, uint8_t rc)
{
	struct presence_wait *w, *old;
	struct timeval tv;
	int reason;

	if (!s->presence_on)
		return;
	s->presence_on = 0;
	if (srv.shutting_down)
		return;
	if (c->said_bye)
		reason = PRESENCE_DISCONNECT;
	else if (rc == MQTT_RC_KEEP_ALIVE_TIMEOUT)
		reason = PRESENCE_TIMEOUT;
	else if (rc == MQTT_RC_SESSION_TAKEN_OVER)
		reason = PRESENCE_TAKEN_OVER;
	else
		reason = PRESENCE_CLOSED;
	if (srv.cfg.presence_debounce == 0) {
		presence_publish(s->client_id, s->id_len, s->username,
		    s->username != NULL ? strlen(s->username) : 0, reason);
		return;
	}
	if (pending == NULL)
		pending = hash_new();
	w = xcalloc(1, sizeof *w);
	w->client_id = xmalloc(s->id_len + 1);
	memcpy(w->client_id, s->client_id, s->id_len + 1);
	w->id_len = s->id_len;
	if (s->username != NULL) {
		w->user = xstrdup(s->username);
		w->user_len = strlen(s->username);
	}
	w->reason = (uint8_t)reason;
	w->timer = evtimer_new(srv.base, presence_timer_cb, w);
	tv.tv_sec = srv.cfg.presence_debounce;
	tv.tv_usec = 0;
	evtimer_add(w->timer, &tv);
	old = hash_put(pending, w->client_id, w->id_len, w);
	if (old != NULL)
		presence_wait_free(old);
}

static void
presence_free_cb(const void *key, size_t len, void *value, void *arg)
{
	presence_wait_free(value);
}

void
presence_free_all(void)
{
	if (pending == NULL)
		return;
	hash_foreach(pending, presence_free_cb, NULL);
	hash_free(pending);
	pending = NULL;
}
