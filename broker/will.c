/*
 * will.c - will messages (MQTT 5.0 section 3.1.2.5).
 *
 * The will is kept on the session from CONNECT and published when the
 * network connection closes for any reason other than a DISCONNECT with
 * reason 0x00: keep-alive timeout, protocol error, a socket error, a
 * takeover, DISCONNECT 0x04. A will with the retain flag is also stored
 * as retained. (Will Delay Interval: published at once in this release.)
 */
#include "config.h"

#include "broker.h"

void
will_publish(struct session *s)
{
	struct msg *m = s->will;

	if (m == NULL)
		return;
	s->will = NULL;
	log_info("publishing will of %s on %s", s->client_id, m->topic);
	if (m->retain)
		retain_store(m);
	deliver_route(m, s);
	msg_unref(m);
}

void
will_clear(struct session *s)
{
	msg_unref(s->will);
	s->will = NULL;
}
