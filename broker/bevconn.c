/*
 * bevconn.c - the transport of TLS and WebSocket connections: a libevent
 * bufferevent filter (tls.c, ws.c) carrying MQTT bytes.
 *
 * The same operations as sock.c's (struct transport in broker.h) over a
 * bufferevent: the output is the filter's output buffer, which the filter
 * frames or encrypts at the end of the loop pass; the input is the
 * filter's input buffer, handed to read_packets() one contiguous chunk at
 * a time and pulled up only when a packet straddles two chunks. The
 * filters keep their own lifecycle (handshakes, lingering close):
 * bevconn_free() leaves the last bytes to them.
 */
#include "config.h"

#include <sys/socket.h>

#include <string.h>

#include "broker.h"

static void bevconn_read_cb(struct bufferevent *, void *);
static void bevconn_event_cb(struct bufferevent *, short, void *);

/* The space of the one reservation at a time (reserve, then commit). */
static struct evbuffer_iovec bevconn_space;

static uint8_t *
bevconn_reserve(struct conn *c, size_t len)
{
	if (evbuffer_reserve_space(bufferevent_get_output(c->bev),
	    (ev_ssize_t)len, &bevconn_space, 1) < 1)
		return NULL;
	return bevconn_space.iov_base;
}

static void
bevconn_commit(struct conn *c, size_t len)
{
	bevconn_space.iov_len = len;
	evbuffer_commit_space(bufferevent_get_output(c->bev),
	    &bevconn_space, 1);
}

static size_t
bevconn_output_len(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static size_t
bevconn_input_len(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}

/* bufferevent_disable stops the socket's reads under TLS and WebSocket
 * too: their filters suspend the socket under them. */
static void
bevconn_read_on(struct conn *c, int on)
{
	if (on)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

static void
bevconn_parse(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	size_t used, need;

	if (c->parsing)
		return;
	while (c->state != CONN_CLOSING && c->blocked == 0 &&
	    evbuffer_get_length(in) > 0) {
		/* The first chunk, where the next packet usually is whole:
		 * read in place. */
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		c->parsing = 1;
		used = read_packets(c, v.iov_base, v.iov_len, &need);
		c->parsing = 0;
		evbuffer_drain(in, used);
		if (need == 0 || need > evbuffer_get_length(in))
			break;
		/* A packet (or its fixed header) across chunks. */
		if (evbuffer_pullup(in, (ev_ssize_t)need) == NULL)
			break;
	}
}

static void
bevconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->blocked != 0) {
		conn_block_input(c);
		return;
	}
	bevconn_parse(c);
}

static void
bevconn_drop_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
bevconn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->drain_watch)
		return;
	c->drain_watch = 0;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	conn_io_drained(c);
}

static void
bevconn_watch_output(struct conn *c)
{
	if (!c->drain_watch) {
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return;
	}
	if (bevconn_output_len(c) <= c->drain_low) {
		bevconn_write_cb(c->bev, c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, c->drain_low, 0);
	/* Writing may have been off (conn_free_later never ran here, but a
	 * close re-enables it in case). */
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
bevconn_discard_input(struct conn *c)
{
	bevconn_drop_cb(c->bev, c);
	bufferevent_setcb(c->bev, bevconn_drop_cb, bevconn_write_cb,
	    bevconn_event_cb, c);
}

static evutil_socket_t
bevconn_fd(const struct conn *c)
{
	struct bufferevent *sock = bufferevent_get_underlying(c->bev);

	return bufferevent_getfd(sock != NULL ? sock : c->bev);
}

static void
bevconn_shutdown(struct conn *c)
{
	bufferevent_disable(c->bev, EV_WRITE);
	shutdown(bevconn_fd(c), SHUT_WR);
}

static void
bevconn_stop(struct conn *c)
{
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
}

static const char *
bevconn_error(const struct conn *c, int eof)
{
	if (eof)
		return c->bv_tls != NULL && tls_conn_handshaking(c->bv_tls) ?
		    "connection closed by peer during the TLS handshake" :
		    NULL;
	if (c->bv_ws != NULL && ws_conn_error(c->bv_ws) != NULL)
		return ws_conn_error(c->bv_ws);
	if (c->bv_tls != NULL)
		return tls_conn_error(c->bv_tls);
	return NULL;
}

static void
bevconn_free(struct conn *c)
{
	/* Under a WebSocket, the TLS filter is closed when the WebSocket
	 * layer has flushed into it and frees it. */
	if (c->bv_ws != NULL)
		ws_conn_close(c->bv_ws);
	else if (c->bv_tls != NULL)
		tls_conn_close(c->bv_tls);
	bufferevent_free(c->bev);
	c->bev = NULL;
}

const struct transport bevconn_transport = {
	"bufferevent",
	bevconn_reserve,
	bevconn_commit,
	bevconn_output_len,
	bevconn_input_len,
	bevconn_read_on,
	bevconn_parse,
	bevconn_watch_output,
	bevconn_discard_input,
	bevconn_shutdown,
	bevconn_stop,
	bevconn_fd,
	bevconn_error,
	bevconn_free,
};

static void
bevconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		conn_io_connected(c);
		return;
	}
	conn_io_failed(c, (what & BEV_EVENT_EOF) != 0,
	    EVUTIL_SOCKET_ERROR());
}

void
bevconn_attach(struct conn *c, struct bufferevent *bev)
{
	c->io = &bevconn_transport;
	c->bev = bev;
	bufferevent_setcb(bev, bevconn_read_cb, bevconn_write_cb,
	    bevconn_event_cb, c);
}
