/*
 * session.c - MQTT session state (MQTT 5.0 section 4.1), kept by client id.
 *
 * A session holds the client's subscriptions, the messages waiting for it
 * (queue) and those sent but not yet acknowledged (inflight), and the ids
 * of incoming QoS 2 messages awaiting PUBREL. It lives as long as its
 * connection (clean start / clean session 1, or a v5 session expiry of 0)
 * or outlives it: a 3.1.1 clean-session-0 session is kept until replaced;
 * a v5 session is kept for its Session Expiry Interval, then freed by a
 * timer.
 *
 * The session is the unit the durable store will persist: everything a
 * resume needs is here and nothing here points at a connection except
 * `conn`, which is NULL while offline.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"

struct session *
session_find(const char *id, size_t len)
{
	return hash_get(srv.sessions, id, len);
}

struct session *
session_new(const char *id, size_t len)
{
	struct session *s;

	/* The id has a session here again: no forwarding address. */
	bridge_tombstone_drop(id, len);
	s = xcalloc(1, sizeof *s);
	s->cl = AUX_NONE(struct session_cluster, session_cluster_none);
	s->dur = AUX_NONE(struct session_durable, session_durable_none);

	s->client_id = xstrndup(id, len);
	s->id_len = len;
	s->id_hash = hash_bytes(id, len);
	TAILQ_INIT(&s->queue);
	TAILQ_INIT(&s->inflight);
	hash_put(srv.sessions, s->client_id, len, s);
	return s;
}

const struct session_cluster session_cluster_none;
const struct session_durable session_durable_none;

struct session_durable *
session_durable(struct session *s)
{
	if (s->dur == &session_durable_none)
		s->dur = xcalloc(1, sizeof *s->dur);
	return s->dur;
}

struct session_cluster *
session_cluster(struct session *s)
{
	if (s->cl == &session_cluster_none)
		s->cl = xcalloc(1, sizeof *s->cl);
	return s->cl;
}

static void
session_drop_all(struct delivery_list *list)
{
	struct delivery *d;

	while ((d = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, d, entry);
		delivery_free(d);
	}
}

void
session_free(struct session *s)
{
	size_t i;

	if (!s->tombstone)
		hash_del(srv.sessions, s->client_id, s->id_len);
	for (i = 0; i < s->n_subs; i++) {
		trie_remove(srv.subs, s->subs[i].filter, s->subs[i].filter_len,
		    s);
		if (!srv.shutting_down &&
		    s->tombstone != SESSION_TOMBSTONE_UNROUTED)
			bridge_route_ref(s->subs[i].filter,
			    s->subs[i].filter_len, -1);
		free(s->subs[i].filter);
	}
	free(s->subs);
	s->subs = NULL;
	s->n_subs = 0;
	if (s->sub_index != NULL)
		hash_free(s->sub_index);
	s->sub_index = NULL;
	if (!srv.shutting_down && !s->tombstone)
		persist_session_del(s);
	/* A delayed will goes out when the session ends first
	 * (MQTT-3.1.3-9), routed now that s is out of the trie. */
	if (will_is_pending(s) && !srv.shutting_down)
		will_publish(s);
	else
		will_clear(s);
	deliver_release(s);
	session_drop_all(&s->queue);
	session_drop_all(&s->inflight);
	if (session_du(s)->expiry_timer != NULL)
		event_free(session_du(s)->expiry_timer);
	free(s->qos2_in);
	deliver_seen_free(s);
	glog_span_forget(s);
	persist_unpark(s);
	if (s->dur != &session_durable_none)
		free(s->dur);
	if (s->cl != &session_cluster_none)
		free(s->cl);
	free(s->username);
	free(s->client_id);
	free(s);
}

void
session_retire(struct session *s)
{
	size_t i, j;

	hash_del(srv.sessions, s->client_id, s->id_len);
	glog_span_forget(s);
	persist_unpark(s);
	persist_session_del(s);
	will_clear(s);
	deliver_release(s);
	session_drop_all(&s->queue);
	session_drop_all(&s->inflight);
	s->n_queued = s->n_inflight = 0;
	s->queued_bytes = 0;
	if (s->dur != &session_durable_none) {
		s->dur->disk_count = s->dur->disk_bytes = 0;
		s->dur->disk_tail = NULL;
	}
	free(s->qos2_in);
	s->qos2_in = NULL;
	s->n_qos2_in = s->cap_qos2_in = 0;
	if (session_du(s)->expiry_timer != NULL)
		evtimer_del(session_du(s)->expiry_timer);
	/* A shared group is served by its other members, here or on the
	 * nodes with members (the session's new node among them). */
	for (i = j = 0; i < s->n_subs; i++) {
		if (s->subs[i].filter_len >= 7 &&
		    memcmp(s->subs[i].filter, "$share/", 7) == 0) {
			trie_remove(srv.subs, s->subs[i].filter,
			    s->subs[i].filter_len, s);
			bridge_route_ref(s->subs[i].filter,
			    s->subs[i].filter_len, -1);
			free(s->subs[i].filter);
		} else {
			s->subs[j++] = s->subs[i];
		}
	}
	s->n_subs = j;
	if (s->sub_index != NULL)
		hash_free(s->sub_index);
	s->sub_index = NULL;
	s->tombstone = SESSION_TOMBSTONE_ROUTED;
}

void
session_routes_drop(struct session *s)
{
	size_t i;

	if (s->tombstone != SESSION_TOMBSTONE_ROUTED)
		return;
	for (i = 0; i < s->n_subs; i++)
		bridge_route_ref(s->subs[i].filter, s->subs[i].filter_len, -1);
	s->tombstone = SESSION_TOMBSTONE_UNROUTED;
}

int
session_owner_ok(const struct session *s, const char *user, size_t len)
{
	if (!srv.cfg.session_owner_only || !s->user_known)
		return 1;
	if (user == NULL || s->username == NULL)
		return user == NULL && s->username == NULL;
	return strlen(s->username) == len &&
	    memcmp(s->username, user, len) == 0;
}

void
session_set_user(struct session *s, const char *user, size_t len)
{
	struct delivery *d;
	int same;

	same = s->user_known && (user == NULL ? s->username == NULL :
	    s->username != NULL && strlen(s->username) == len &&
	    memcmp(s->username, user, len) == 0);
	if (same)
		return;
	free(s->username);
	s->username = user != NULL ? xstrndup(user, len) : NULL;
	s->user_known = 1;
	/* What was queued under another user (or none known) is checked
	 * again, against this one, before it goes out. */
	TAILQ_FOREACH(d, &s->queue, entry)
		d->acl_gen = 0;
	TAILQ_FOREACH(d, &s->inflight, entry)
		d->acl_gen = 0;
}

static void
session_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	log_info("session %s expired", s->client_id);
	session_free(s);
}

void
session_restore_expiry(struct session *s, int64_t left)
{
	struct timeval tv;

	if (s->expiry == UINT32_MAX)
		return;
	if (session_du(s)->expiry_timer == NULL)
		session_durable(s)->expiry_timer = evtimer_new(srv.base,
		    session_expire_cb, s);
	tv.tv_sec = left > 0 ? (time_t)left : 0;
	tv.tv_usec = 0;
	evtimer_add(session_du(s)->expiry_timer, &tv);
}

void
session_detach(struct session *s)
{
	struct timeval tv;

	s->conn = NULL;
	deliver_release(s);
	if (!s->persistent || srv.shutting_down) {
		if (!s->persistent)
			session_free(s);
		return;
	}
	if (s->expiry == 0) {
		session_free(s);
		return;
	}
	persist_session(s);
	persist_park(s);
	if (s->expiry != UINT32_MAX) {
		if (session_du(s)->expiry_timer == NULL)
			session_durable(s)->expiry_timer = evtimer_new(srv.base,
			    session_expire_cb, s);
		tv.tv_sec = s->expiry;
		tv.tv_usec = 0;
		evtimer_add(session_du(s)->expiry_timer, &tv);
	}
}

int
session_subscribe(struct session *s, const char *filter, uint32_t len,
    uint8_t options, uint32_t sub_id)
{
	struct trie_sub ts = { s, sub_id, options, NULL };
	struct session_sub *ss;
	uintptr_t at;
	int added = 0;

	if (s->sub_index == NULL)
		s->sub_index = hash_new();
	at = (uintptr_t)hash_get(s->sub_index, filter, len);
	if (at != 0) {
		ss = &s->subs[at - 1];
	} else {
		if (s->n_subs == s->cap_subs) {
			s->cap_subs = s->cap_subs ? s->cap_subs * 2 : 4;
			s->subs = xreallocarray(s->subs, s->cap_subs,
			    sizeof *s->subs);
		}
		ss = &s->subs[s->n_subs++];
		ss->filter = xstrndup(filter, len);
		ss->filter_len = len;
		hash_put(s->sub_index, filter, len,
		    (void *)(uintptr_t)s->n_subs);
		added = 1;
	}
	ss->options = options;
	ss->sub_id = sub_id;
	ts.filter = ss->filter;
	trie_add(srv.subs, filter, len, &ts);
	if (added)
		bridge_route_ref(filter, len, 1);
	persist_sub(s, filter, len, options, sub_id);
	return added;
}

int
session_unsubscribe(struct session *s, const char *filter, uint32_t len)
{
	struct session_sub *last;
	uintptr_t at;

	if (s->sub_index == NULL ||
	    (at = (uintptr_t)hash_del(s->sub_index, filter, len)) == 0)
		return 0;
	trie_remove(srv.subs, filter, len, s);
	bridge_route_ref(filter, len, -1);
	persist_unsub(s, filter, len);
	free(s->subs[at - 1].filter);
	last = &s->subs[--s->n_subs];
	if (at - 1 != s->n_subs) {
		s->subs[at - 1] = *last;
		hash_put(s->sub_index, last->filter, last->filter_len,
		    (void *)at);
	}
	return 1;
}

int
session_qos2_has(const struct session *s, uint16_t id)
{
	uint32_t i;

	for (i = 0; i < s->n_qos2_in; i++) {
		if (s->qos2_in[i] == id)
			return 1;
	}
	return 0;
}

void
session_qos2_add(struct session *s, uint16_t id)
{
	session_qos2_restore(s, id);
	persist_qos2(s, id, 1);
}

void
session_qos2_restore(struct session *s, uint16_t id)
{
	if (s->n_qos2_in == s->cap_qos2_in) {
		s->cap_qos2_in = s->cap_qos2_in ? s->cap_qos2_in * 2 : 8;
		s->qos2_in = xreallocarray(s->qos2_in, s->cap_qos2_in,
		    sizeof *s->qos2_in);
	}
	s->qos2_in[s->n_qos2_in++] = id;
}

/* Take id out of s's incoming QoS 2 ids, in memory; 1 when it was
 * there. */
static int
session_qos2_take(struct session *s, uint16_t id)
{
	uint32_t i;

	for (i = 0; i < s->n_qos2_in; i++) {
		if (s->qos2_in[i] == id) {
			s->qos2_in[i] = s->qos2_in[--s->n_qos2_in];
			return 1;
		}
	}
	return 0;
}

void
session_qos2_forget(struct session *s, uint16_t id)
{
	session_qos2_take(s, id);
}

int
session_qos2_remove(struct session *s, uint16_t id)
{
	if (!session_qos2_take(s, id))
		return 0;
	persist_qos2(s, id, 0);
	return 1;
}

static void
session_collect(const void *key, size_t len, void *value, void *arg)
{
	struct session ***pp = arg;

	*(*pp)++ = value;
}

void
session_free_all(void)
{
	size_t i, n = hash_count(srv.sessions);
	struct session **all, **p;

	if (n == 0)
		return;
	all = xreallocarray(NULL, n, sizeof *all);
	p = all;
	hash_foreach(srv.sessions, session_collect, &p);
	for (i = 0; i < n; i++) {
		all[i]->conn = NULL;
		session_free(all[i]);
	}
	free(all);
}

size_t
session_count(void)
{
	return hash_count(srv.sessions);
}
