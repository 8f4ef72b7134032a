/*
 * sock.c - the plain TCP transport: a bare event on the socket, and
 * buffers only while bytes wait.
 *
 * An idle connection owns no buffer and no event: its memory is struct
 * conn and its session. libevent's bufferevent, which this replaces, cost
 * 632 bytes and its two evbuffers 272 per connection whatever they held,
 * and an ioctl(FIONREAD) per read and an epoll_ctl pair per loop pass with
 * output; a bare struct event per connection 128 bytes more, and
 * libevent's entry for its descriptor about 40 (docs/BENCHMARKS.md).
 *
 * Readiness: the sockets are in an epoll set of sock.c's own
 * (level-triggered, EPOLLIN, the conn in the event's data), and that set's
 * descriptor is one libevent event (EV_READ|EV_PERSIST): when it is
 * readable, sock_ready_cb takes up to SOCK_READY_MAX ready sockets and
 * reads each as its own event did. A socket is added when it is first to
 * be read and taken out lazily: reading off (a block, a close) only
 * clears SOCK_READING, and the socket leaves the set the first time it is
 * reported while off, or when it is freed; so a block and an unblock in
 * one pass cost no epoll_ctl, as libevent's change list made sure. Only a
 * connection with SOCK_READING is read: one closed by an earlier socket of
 * the same batch is skipped, and none is freed during a batch (conn.c
 * frees from a deferred event).
 *
 * Reading: reading is on from the start; it stops only while the
 * connection is blocked (block.c), or once it is closed. A
 * readable socket is read once, into one scratch buffer shared by every
 * connection (SOCK_SCRATCH bytes), and read_packets() handles the packets
 * there in place. Only what is left, an incomplete packet, is copied into
 * a buffer of the connection's own (c->in), allocated for the time it
 * waits; the next read puts that tail back in front of the new bytes. A
 * packet larger than the scratch is read straight into c->in, grown to
 * its size (bounded by max_packet_size, checked on its fixed header). A
 * blocked connection that is still watched (BLOCK_AUTH, BLOCK_CLAIM,
 * BLOCK_LINK) is read into c->in, which conn_block_input() bounds; the
 * parse resumes from there (sock_parse, through conn_unblock). Handlers
 * never run for one connection while it is being parsed (c->parsing), so
 * c->in stays put under read_packets; the scratch is only used from a
 * read event, and events do not nest.
 *
 * Writing: packets are encoded into c->out, taken from a small pool of
 * buffers when the first byte waits, and given back once everything has
 * been written. The pool keeps grown buffers too (up to SOCK_POOL_CAP
 * each, SOCK_POOL_BYTES in all): a fan-out fills every subscriber's
 * buffer to tens of KiB in each loop pass, and growing each from 1 KiB
 * again (doubling, copying) into memory malloc had just given back to
 * the kernel cost a fan-out at QoS 0 a quarter of its time in page
 * faults. The first
 * byte of a loop pass puts the connection on a list, and the list is
 * written from one event activated then (flush_ev), which libevent runs
 * after the callbacks already active in that pass: one write() per
 * connection per pass, whatever number of packets it got. A short write
 * adds the write event (EV_WRITE, not persistent), which writes the rest
 * when the socket is writable; no other epoll change is made for output.
 *
 * Output thresholds (OUTPUT_PAUSE, OUTPUT_PUMP_MAX in conn.c) read
 * sock_output_len(); conn.c asks to hear when the output is down to a mark
 * (c->drain_watch, c->drain_low) and sock_wrote() calls conn_io_drained()
 * then, as a bufferevent's write watermark did.
 *
 * Dialling (cluster links, bridges): the socket connects without
 * blocking; the write event says when it is up (or failed, SO_ERROR), and
 * nothing is written before.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

#define SOCK_SCRATCH (64u * 1024) /* one read */
#define SOCK_OUT_MIN 1024u /* the smallest output buffer */
#define SOCK_POOL_MAX 256 /* output buffers kept for reuse */
#define SOCK_POOL_CAP (64u * 1024) /* the largest one kept */
#define SOCK_POOL_BYTES (4u << 20) /* kept in all */

#define SOCK_READY_MAX 256 /* sockets read per readiness callback */

/* c->io_flags */
#define SOCK_READING 0x01 /* read when ready */
#define SOCK_CONNECTING 0x02 /* dialled, not up yet */
#define SOCK_QUEUED 0x04 /* on sock_flush_list */
#define SOCK_STOPPED 0x08 /* no more I/O */
#define SOCK_WAITING 0x10 /* wev added: a short write, a dial */
#define SOCK_IN_SET 0x20 /* in sock_ep's set */

struct sock_buf {
	size_t cap; /* bytes of data[] */
	size_t off; /* first byte not consumed */
	size_t len; /* end of the bytes held */
	struct sock_buf *next; /* in the pool */
	uint8_t data[];
};

static uint8_t sock_scratch[SOCK_SCRATCH];
static TAILQ_HEAD(, conn) sock_flush_list =
    TAILQ_HEAD_INITIALIZER(sock_flush_list);
static struct event *sock_flush_ev;
static struct sock_buf *sock_pool;
static unsigned sock_pool_n;
static size_t sock_pool_bytes;
static int sock_ep = -1; /* the epoll set of the sockets read */
static struct event *sock_ep_ev; /* sock_ep is readable */

static void sock_read_cb(evutil_socket_t, short, void *);
static void sock_write_cb(evutil_socket_t, short, void *);

static struct sock_buf *
sock_buf_new(size_t want)
{
	struct sock_buf *b;

	if (sock_pool != NULL && sock_pool->cap >= want) {
		b = sock_pool;
		sock_pool = b->next;
		sock_pool_n--;
		sock_pool_bytes -= b->cap;
	} else {
		if (want < SOCK_OUT_MIN)
			want = SOCK_OUT_MIN;
		b = xmalloc(sizeof *b + want);
		b->cap = want;
	}
	b->off = b->len = 0;
	b->next = NULL;
	return b;
}

static void
sock_buf_free(struct sock_buf *b)
{
	if (b == NULL)
		return;
	if (b->cap <= SOCK_POOL_CAP && sock_pool_n < SOCK_POOL_MAX &&
	    sock_pool_bytes + b->cap <= SOCK_POOL_BYTES) {
		b->next = sock_pool;
		sock_pool = b;
		sock_pool_n++;
		sock_pool_bytes += b->cap;
		return;
	}
	free(b);
}

/* *bp with room for n more bytes after its end (made, compacted or
 * grown). */
static struct sock_buf *
sock_buf_room(struct sock_buf **bp, size_t n)
{
	struct sock_buf *b = *bp;
	size_t held, cap;

	if (b == NULL)
		return *bp = sock_buf_new(n);
	if (b->cap - b->len >= n)
		return b;
	held = b->len - b->off;
	if (b->off > 0 && b->cap - held >= n && b->off >= held) {
		memmove(b->data, b->data + b->off, held);
		b->off = 0;
		b->len = held;
		return b;
	}
	for (cap = b->cap * 2; cap - held < n; cap *= 2)
		;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, held);
		b->off = 0;
		b->len = held;
	}
	b = xrealloc(b, sizeof *b + cap);
	b->cap = cap;
	return *bp = b;
}

static evutil_socket_t
sock_fd(const struct conn *c)
{
	return c->fd;
}

/* --- reading --- */

/* Parse c->in; keep what is left, or give the buffer back. */
static void
sock_parse(struct conn *c)
{
	struct sock_buf *b = c->in;
	size_t used, need;

	if (b == NULL || c->parsing || c->state == CONN_CLOSING)
		return;
	c->parsing = 1;
	used = read_packets(c, b->data + b->off, b->len - b->off, &need);
	c->parsing = 0;
	b->off += used;
	c->in_need = (uint32_t)need;
	if (b->off == b->len || c->state == CONN_CLOSING) {
		c->in = NULL;
		c->in_need = 0;
		sock_buf_free(b);
	}
}

/* Keep the n bytes left at p in c->in (they need need bytes in all). */
static void
sock_keep(struct conn *c, const uint8_t *p, size_t n, size_t need)
{
	struct sock_buf *b;

	c->in_need = (uint32_t)need;
	if (n == 0 || c->state == CONN_CLOSING)
		return;
	b = sock_buf_room(&c->in, need > n && need <= SOCK_SCRATCH ?
	    need : n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* The read came short of anything: end of file, an error, or nothing
 * yet. Returns 1 when c failed. */
static int
sock_read_failed(struct conn *c, ssize_t n)
{
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	if (n < 0)
		c->io_err = errno;
	conn_io_failed(c, n == 0, n < 0 ? errno : 0);
	return 1;
}

/* Into c->in: while blocked (bounded by conn_block_input), or for a
 * packet larger than the scratch. */
static void
sock_read_own(struct conn *c, evutil_socket_t fd)
{
	struct sock_buf *b;
	size_t held = c->in != NULL ? c->in->len - c->in->off : 0;
	size_t want = SOCK_SCRATCH;
	ssize_t n;

	if (c->blocked == 0 && c->in_need > held + want)
		want = c->in_need - held;
	b = sock_buf_room(&c->in, want);
	n = read(fd, b->data + b->len, b->cap - b->len);
	if (n <= 0) {
		if (b->len == b->off) {
			c->in = NULL;
			sock_buf_free(b);
		}
		sock_read_failed(c, n);
		return;
	}
	b->len += (size_t)n;
	if (c->blocked != 0)
		conn_block_input(c);
	else if (b->len - b->off >= c->in_need)
		sock_parse(c);
}

static void
sock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct sock_buf *b = c->in;
	size_t held = b != NULL ? b->len - b->off : 0, used, need;
	ssize_t n;

	if (c->state == CONN_CLOSING) {
		/* Lingering (or the peer's end of file after a close). */
		n = read(fd, sock_scratch, sizeof sock_scratch);
		if (n <= 0)
			sock_read_failed(c, n);
		return;
	}
	if (c->blocked != 0 || c->in_need > SOCK_SCRATCH ||
	    held >= SOCK_SCRATCH / 2) {
		sock_read_own(c, fd);
		return;
	}
	n = read(fd, sock_scratch + held, sizeof sock_scratch - held);
	if (n <= 0) {
		sock_read_failed(c, n);
		return;
	}
	if (b != NULL) {
		/* The tail of the last read goes in front. */
		memcpy(sock_scratch, b->data + b->off, held);
		c->in = NULL;
		sock_buf_free(b);
	}
	n += (ssize_t)held;
	c->parsing = 1;
	used = read_packets(c, sock_scratch, (size_t)n, &need);
	c->parsing = 0;
	sock_keep(c, sock_scratch + used, (size_t)n - used, need);
}

/* Take c's socket out of the set. */
static void
sock_set_del(struct conn *c)
{
	if (!(c->io_flags & SOCK_IN_SET))
		return;
	if (sock_ep >= 0 && epoll_ctl(sock_ep, EPOLL_CTL_DEL, c->fd,
	    NULL) != 0)
		log_warn("epoll_ctl(DEL) of %s: %s", conn_peer(c),
		    strerror(errno));
	c->io_flags &= (uint8_t)~SOCK_IN_SET;
}

/* Some sockets of the set are ready: read those that are read. */
static void
sock_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct epoll_event ev[SOCK_READY_MAX];
	struct conn *c;
	int i, n;

	n = epoll_wait(sock_ep, ev, SOCK_READY_MAX, 0);
	for (i = 0; i < n; i++) {
		c = ev[i].data.ptr;
		if (c->io_flags & SOCK_READING)
			sock_read_cb(c->fd, EV_READ, c);
		else
			sock_set_del(c);
	}
}

static void
sock_read_on(struct conn *c, int on)
{
	struct epoll_event ev;

	/* A dialled socket is read once it is up (sock_write_cb). */
	if (c->io_flags & (SOCK_STOPPED | SOCK_CONNECTING))
		return;
	if (!on) {
		c->io_flags &= (uint8_t)~SOCK_READING;
		return;
	}
	c->io_flags |= SOCK_READING;
	if (c->io_flags & SOCK_IN_SET)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(sock_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		/* Not read (ENOMEM, or fs.epoll.max_user_watches reached):
		 * its CONNECT or keep-alive timer closes it. Not closed from
		 * here, which runs before c is counted (conn_start). */
		log_warn("cannot read %s: epoll_ctl: %s", conn_peer(c),
		    strerror(errno));
		c->io_flags &= (uint8_t)~SOCK_READING;
		return;
	}
	c->io_flags |= SOCK_IN_SET;
}

static size_t
sock_input_len(const struct conn *c)
{
	return c->in != NULL ? c->in->len - c->in->off : 0;
}

static void
sock_discard_input(struct conn *c)
{
	/* Under sock_parse, which lets the buffer go itself. */
	if (c->parsing)
		return;
	sock_buf_free(c->in);
	c->in = NULL;
}

/* --- writing --- */

static size_t
sock_output_len(const struct conn *c)
{
	return c->out != NULL ? c->out->len - c->out->off : 0;
}

/* Output went: give the buffer back when empty, and tell conn.c when it
 * is down to its mark. */
static void
sock_wrote(struct conn *c)
{
	if (c->out != NULL && c->out->off == c->out->len) {
		sock_buf_free(c->out);
		c->out = NULL;
	}
	if (c->drain_watch && sock_output_len(c) <= c->drain_low) {
		c->drain_watch = 0;
		conn_io_drained(c);
	}
}

/* Write the rest when the socket is writable (the event is made the first
 * time: most connections never need it). */
static void
sock_wait_writable(struct conn *c)
{
	if (c->wev == NULL)
		c->wev = event_new(srv.base, sock_fd(c), EV_WRITE,
		    sock_write_cb, c);
	c->io_flags |= SOCK_WAITING;
	event_add(c->wev, NULL);
}

/* One write() of what c->out holds; a short one waits for EV_WRITE. */
static void
sock_write(struct conn *c)
{
	struct sock_buf *b = c->out;
	ssize_t n;

	if (b == NULL || (c->io_flags & (SOCK_CONNECTING | SOCK_STOPPED |
	    SOCK_WAITING)))
		return;
	n = write(sock_fd(c), b->data + b->off, b->len - b->off);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			sock_wait_writable(c);
			return;
		}
		/* The output is lost with the socket: the close that
		 * follows has nothing to flush. */
		c->io_err = errno;
		sock_buf_free(c->out);
		c->out = NULL;
		conn_io_failed(c, 0, c->io_err);
		return;
	}
	b->off += (size_t)n;
	if (b->off < b->len)
		sock_wait_writable(c);
	sock_wrote(c);
}

/* End of the loop pass: write every connection that got output. */
static void
sock_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&sock_flush_list)) != NULL) {
		TAILQ_REMOVE(&sock_flush_list, c, flush_entry);
		c->io_flags &= (uint8_t)~SOCK_QUEUED;
		sock_write(c);
	}
}

static void
sock_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int err = 0;
	socklen_t len = sizeof err;

	c->io_flags &= (uint8_t)~SOCK_WAITING;
	if (c->io_flags & SOCK_CONNECTING) {
		c->io_flags &= (uint8_t)~SOCK_CONNECTING;
		if (c->io_err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR,
		    &err, &len) != 0)
			err = errno;
		if (c->io_err != 0 || err != 0) {
			if (c->io_err == 0)
				c->io_err = err;
			conn_io_failed(c, 0, c->io_err);
			return;
		}
		sock_read_on(c, 1);
		conn_io_connected(c);
	}
	sock_write(c);
}

static uint8_t *
sock_reserve(struct conn *c, size_t len)
{
	struct sock_buf *b = sock_buf_room(&c->out, len);

	return b->data + b->len;
}

static void
sock_commit(struct conn *c, size_t len)
{
	c->out->len += len;
	if (c->io_flags & (SOCK_QUEUED | SOCK_STOPPED))
		return;
	c->io_flags |= SOCK_QUEUED;
	TAILQ_INSERT_TAIL(&sock_flush_list, c, flush_entry);
	if (sock_flush_ev == NULL)
		sock_flush_ev = event_new(srv.base, -1, 0, sock_flush_cb,
		    NULL);
	if (!event_pending(sock_flush_ev, EV_TIMEOUT, NULL))
		event_active(sock_flush_ev, EV_TIMEOUT, 1);
}

static void
sock_watch_output(struct conn *c)
{
	if (c->drain_watch && sock_output_len(c) <= c->drain_low) {
		c->drain_watch = 0;
		conn_io_drained(c);
	}
}

/* --- the rest of the lifecycle --- */

static void
sock_shutdown(struct conn *c)
{
	shutdown(sock_fd(c), SHUT_WR);
}

static void
sock_stop(struct conn *c)
{
	if (c->io_flags & SOCK_STOPPED)
		return;
	sock_read_on(c, 0);
	c->io_flags |= SOCK_STOPPED;
	if (c->io_flags & SOCK_QUEUED) {
		TAILQ_REMOVE(&sock_flush_list, c, flush_entry);
		c->io_flags &= (uint8_t)~SOCK_QUEUED;
	}
	if (c->wev != NULL)
		event_del(c->wev);
}

static const char *
sock_error(const struct conn *c, int eof)
{
	return NULL;
}

static void
sock_free(struct conn *c)
{
	evutil_socket_t fd = sock_fd(c);

	sock_stop(c);
	sock_set_del(c);
	if (c->wev != NULL)
		event_free(c->wev);
	c->wev = NULL;
	sock_buf_free(c->in);
	c->in = NULL;
	sock_buf_free(c->out);
	c->out = NULL;
	evutil_closesocket(fd);
}

const struct transport sock_transport = {
	"tcp",
	sock_reserve,
	sock_commit,
	sock_output_len,
	sock_input_len,
	sock_read_on,
	sock_parse,
	sock_watch_output,
	sock_discard_input,
	sock_shutdown,
	sock_stop,
	sock_fd,
	sock_error,
	sock_free,
};

void
sock_attach(struct conn *c, evutil_socket_t fd, int connecting)
{
	c->io = &sock_transport;
	c->fd = fd;
	if (connecting) {
		c->io_flags |= SOCK_CONNECTING;
		sock_wait_writable(c);
		/* A dial that failed at once (c->io_err) says so from the
		 * loop, as one that fails later does. */
		if (c->io_err != 0)
			event_active(c->wev, EV_WRITE, 1);
	}
}

int
sock_init(void)
{
	if ((sock_ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_error("cannot create the sockets' epoll set: %s",
		    strerror(errno));
		return -1;
	}
	sock_ep_ev = event_new(srv.base, sock_ep, EV_READ | EV_PERSIST,
	    sock_ready_cb, NULL);
	if (sock_ep_ev == NULL || event_add(sock_ep_ev, NULL) != 0) {
		log_error("cannot watch the sockets' epoll set");
		return -1;
	}
	return 0;
}

void
sock_free_all(void)
{
	struct sock_buf *b;

	if (sock_flush_ev != NULL)
		event_free(sock_flush_ev);
	sock_flush_ev = NULL;
	if (sock_ep_ev != NULL)
		event_free(sock_ep_ev);
	sock_ep_ev = NULL;
	if (sock_ep >= 0)
		close(sock_ep);
	sock_ep = -1;
	while ((b = sock_pool) != NULL) {
		sock_pool = b->next;
		free(b);
	}
	sock_pool_n = 0;
	sock_pool_bytes = 0;
}
