/*
 * wheel.c - the connections' timers: one timer wheel for all of them.
 *
 * Every connection has one deadline at a time: its CONNECT timeout, then
 * its keep alive (conn.c, 1.5 x keep alive, MQTT-3.1.2-24), or a link's
 * ping and silence check (bridge/link.c, mqttbridge.c). A libevent timer
 * per connection cost 128 bytes and a heap operation each; here a
 * connection holds a list link and a due time (24 bytes), and one timer
 * event ticks every WHEEL_TICK_MS while any deadline is armed.
 *
 * A deadline goes into the slot of the first tick at or after it
 * (WHEEL_SLOTS slots, one per tick, round and round: a deadline more than
 * one turn away stays in its slot and is passed over until its turn). A
 * tick moves the slots of every tick since the last one aside and fires
 * what is due, in the order of the slots; what is not yet due goes back.
 * So a timer fires at most one tick (plus the loop's delay) late, never
 * early: the keep-alive check compares the time of the last packet with
 * 1.5 x keep alive anyway and re-arms for the rest (conn_timer_fire).
 * Adding and removing are O(1); a tick costs the deadlines in its slots.
 *
 * Times are CLOCK_MONOTONIC milliseconds: a change of the wall clock
 * moves no deadline.
 */
#include "config.h"

#include <time.h>

#include "broker.h"

#define WHEEL_TICK_MS 100
#define WHEEL_SLOTS 512 /* 51.2 s a turn */

static LIST_HEAD(wheel_slot, conn) wheel[WHEEL_SLOTS];
static int64_t wheel_tick_done; /* the last tick processed */
static size_t wheel_n; /* deadlines armed */
static struct event *wheel_ev;

static int64_t
wheel_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wheel_insert(struct conn *c)
{
	int64_t tick = (c->due_ms + WHEEL_TICK_MS - 1) / WHEEL_TICK_MS;

	if (tick <= wheel_tick_done)
		tick = wheel_tick_done + 1;
	LIST_INSERT_HEAD(&wheel[tick % WHEEL_SLOTS], c, due_entry);
}

static void
wheel_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wheel_slot due = LIST_HEAD_INITIALIZER(due);
	struct conn *c;
	int64_t now = wheel_now_ms(), tick = now / WHEEL_TICK_MS, t;

	/* Every tick since the last, one turn at most. */
	t = tick - wheel_tick_done > WHEEL_SLOTS ? tick - WHEEL_SLOTS + 1 :
	    wheel_tick_done + 1;
	for (; t <= tick; t++) {
		while ((c = LIST_FIRST(&wheel[t % WHEEL_SLOTS])) != NULL) {
			LIST_REMOVE(c, due_entry);
			LIST_INSERT_HEAD(&due, c, due_entry);
		}
	}
	wheel_tick_done = tick;
	/* Fired in any order within the ticks: each timer is its own
	 * connection's. A fired one may arm itself again (wheel_add) or
	 * close its connection. */
	while ((c = LIST_FIRST(&due)) != NULL) {
		LIST_REMOVE(c, due_entry);
		if (c->due_ms > now) {
			wheel_insert(c);
			continue;
		}
		c->due_ms = 0;
		wheel_n--;
		conn_timer_fire(c);
	}
	if (wheel_n == 0)
		event_del(wheel_ev);
}

void
wheel_add(struct conn *c, const struct timeval *tv)
{
	struct timeval tick = { 0, WHEEL_TICK_MS * 1000 };
	int64_t now = wheel_now_ms();

	wheel_del(c);
	c->due_ms = now + (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
	if (c->due_ms == 0)
		c->due_ms = 1;
	if (wheel_n++ == 0) {
		if (wheel_ev == NULL)
			wheel_ev = event_new(srv.base, -1, EV_PERSIST,
			    wheel_tick_cb, NULL);
		/* Idle since: no slot holds a deadline, so the ticks
		 * missed meanwhile need no visit. */
		wheel_tick_done = now / WHEEL_TICK_MS;
		event_add(wheel_ev, &tick);
	}
	wheel_insert(c);
}

void
wheel_del(struct conn *c)
{
	if (c->due_ms == 0)
		return;
	LIST_REMOVE(c, due_entry);
	c->due_ms = 0;
	if (--wheel_n == 0 && wheel_ev != NULL)
		event_del(wheel_ev);
}

void
wheel_free(void)
{
	if (wheel_ev != NULL)
		event_free(wheel_ev);
	wheel_ev = NULL;
	wheel_n = 0;
}
