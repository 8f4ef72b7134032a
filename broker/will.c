/*
 * will.c - will messages (MQTT 5.0 section 3.1.2.5).
 *
 * The will is kept on the session from CONNECT and published when the
 * network connection closes for any reason other than a DISCONNECT with
 * reason 0x00: keep-alive timeout, protocol error, a socket error, a
 * takeover, DISCONNECT 0x04 (MQTT-3.1.2-8). A will with the retain flag is
 * also stored as retained, unless that would go past the retained bounds
 * (retain_room): then it is only published.
 *
 * Will Delay Interval (3.1.3.2.2): with a delay, the will waits on a
 * timer; a new connection resuming the session within the delay drops it
 * (MQTT-3.1.3-9), and a session that ends first publishes it then
 * (session_free calls will_publish). Wills are not published while the
 * node shuts down (a node going down is not the client going away), and
 * are cleared from the store then.
 *
 * With acl_file set, the will is checked as a write at CONNECT
 * (handle_connect.c) and again when it is published, so that a right
 * revoked meanwhile by a reload is not used.
 *
 * Persistent sessions keep their will in the store (persist.c) from
 * CONNECT until it is published or cleared: a node that stops without a
 * shutdown (a crash, kill -9) publishes, once restarted, the wills of the
 * clients that were connected, after their delay, and the delayed wills
 * that were waiting, after what was left of theirs.
 */
#include "config.h"

#include "broker.h"

static void
will_cancel_timer(struct session *s)
{
	if (s->will_timer != NULL) {
		event_free(s->will_timer);
		s->will_timer = NULL;
	}
}

void
will_publish(struct session *s)
{
	struct msg *m = s->will;

	will_cancel_timer(s);
	if (m == NULL)
		return;
	s->will = NULL;
	/* The ACL may have changed since the CONNECT checked the will (a
	 * SIGHUP reload): a right revoked since is not used now. A session
	 * loaded at start-up whose user is not known yet is not checked
	 * (the user is not stored). */
	if (acl_active() && s->user_known && !acl_check(s->username,
	    s->client_id, m->topic, m->topic_len, ACL_WRITE)) {
		log_notice("will of %s on %s not published: the client may no "
		    "longer write there", s->client_id, m->topic);
		events_dropped(s, m, EVENTS_DROP_NOT_AUTHORIZED);
		msg_unref(m);
		if (s->stored)
			persist_session(s);
		return;
	}
	log_info("publishing will of %s on %s", s->client_id, m->topic);
	/* Past the retained bounds, published without being retained. */
	if (m->retain && retain_room(m->topic, m->topic_len, msg_size(m),
	    m->payload_len == 0))
		retain_store(m);
	deliver_route(m, s);
	msg_unref(m);
	if (s->stored)
		persist_session(s); /* without it: published once */
}

static void
will_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	will_publish(arg);
}

void
will_schedule(struct session *s)
{
	struct timeval tv;

	if (s->will == NULL)
		return;
	if (s->will_delay == 0) {
		will_publish(s);
		return;
	}
	will_cancel_timer(s);
	s->will_timer = evtimer_new(srv.base, will_timer_cb, s);
	tv.tv_sec = s->will_delay;
	tv.tv_usec = 0;
	evtimer_add(s->will_timer, &tv);
}

void
will_clear(struct session *s)
{
	int had = s->will != NULL;

	will_cancel_timer(s);
	msg_unref(s->will);
	s->will = NULL;
	if (had && s->stored)
		persist_session(s);
}

int
will_is_pending(const struct session *s)
{
	return s->will_timer != NULL;
}
