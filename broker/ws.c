/*
 * ws.c - MQTT over WebSocket (RFC 6455): browser and React Native clients.
 *
 * A WebSocket listener stacks one more bufferevent_filter on the
 * connection, the same way tls.c does:
 *
 *   conn.c / read.c  <->  WS filter (MQTT bytes)
 *                             |  ws_filter_in / ws_filter_out
 *                         TLS filter (wss://), or the socket (ws://)
 *
 * so conn.c still sees one bufferevent of MQTT bytes.
 *
 * Handshake: the first bytes must be an HTTP/1.1 GET Upgrade request of
 * at most WS_REQUEST_MAX bytes for the listener's path. It is answered
 * with 101 (and Sec-WebSocket-Protocol: mqtt when the client offered it),
 * or with a plain 400 / 404, after which the connection is closed. No
 * timer of its own: conn.c's CONNECT timer runs from accept, so
 * connect_timeout bounds the request, the handshake and the CONNECT
 * together.
 *
 * Framing: MQTT is a byte stream across binary frames: a frame may carry
 * several packets or part of one, so the payload of each frame is
 * unmasked and handed on as it arrives, without reassembling messages
 * (read.c reassembles packets and enforces max_packet_size). One frame
 * may not exceed max_packet_size plus WS_FRAME_MARGIN (close 1009).
 * Client frames must be masked (else close 1002), text frames are refused
 * (close 1003), pings are answered with pongs (not while the layer below
 * is full: a client that pings without reading cannot grow it), a close
 * is echoed and ends the connection as an EOF. Server frames are
 * unmasked binary frames, one per write of conn.c (a packet, usually).
 *
 * Output backpressure: the layer below gets the TLS module's watermarks
 * (frames are made only while it holds less than WS_UNDER_HIGH bytes), so
 * the MQTT bytes waiting stay in the WS filter's output, where
 * conn_output_len() counts them.
 *
 * Closing: freeing the filter would drop what the layer below has not
 * written yet (the last frames, the v5 DISCONNECT, an HTTP error). As in
 * tls.c, the filter does not own that layer: ws_conn_close() queues a
 * close frame and lets the layer below linger alone until its output is
 * written, or WS_LINGER_SECS pass. Freeing it then closes the socket, or
 * hands over to the TLS filter's own lingering close.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "broker.h"

#define WS_UNDER_HIGH (256u * 1024) /* frames waiting below */
#define WS_UNDER_LOW (64u * 1024) /* frame more below this */
#define WS_FRAME_MARGIN 65536u /* over max_packet_size, per frame */
#define WS_FRAME_OUT_MAX 65536u /* payload per server frame */
#define WS_LINGER_SECS 5

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum ws_state {
	WS_HANDSHAKE,
	WS_OPEN,
	WS_FAILED, /* closed, refused or failed: no more reading or writing */
};

struct ws_conn {
	struct bufferevent *bev; /* the MQTT filter */
	struct bufferevent *under; /* own reference until lingering ends */
	struct tls_conn *tls; /* under is its filter (wss://); else NULL */
	enum ws_state state;
	struct ws_decoder dec;
	const char *path;
	uint8_t closed; /* ws_conn_close() ran */
	uint8_t lingering;
	uint8_t filter_gone;
	struct event *linger_ev; /* bounds the lingering */
	char peer[64];
	char error[128];
	LIST_ENTRY(ws_conn) entry; /* in ws_lingering while lingering */
};

static int ws_dying;
static LIST_HEAD(, ws_conn) ws_lingering = LIST_HEAD_INITIALIZER(ws_lingering);
static size_t ws_n_lingering;

static void ws_conn_maybe_free(struct ws_conn *);

/* --- the handshake --- */

/* Does the comma-separated list v (n bytes) hold token tok? */
static int
ws_has_token(const char *v, size_t n, const char *tok)
{
	size_t i = 0, s, e, tl = strlen(tok);

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

static int
ws_respond_error(int status, const char *why, char *resp, size_t resplen)
{
	const char *text = status == 404 ? "Not Found" : "Bad Request";

	snprintf(resp, resplen, "HTTP/1.1 %d %s\r\n"
	    "Connection: close\r\n"
	    "Content-Type: text/plain\r\n"
	    "%s"
	    "Content-Length: %zu\r\n"
	    "\r\n"
	    "%s\n", status, text,
	    strstr(why, "Version") != NULL ?
	    "Sec-WebSocket-Version: 13\r\n" : "", strlen(why) + 1, why);
	return status;
}

int
ws_handshake(const char *req, size_t len, const char *path, char *resp,
    size_t resplen)
{
	const char *p = req, *end = req + len, *eol, *colon, *v, *q;
	const char *protocol = NULL;
	unsigned char sha[20], key[32], acc[32];
	char buf[128];
	size_t n, vl, keylen = 0, pl;
	int upgrade = 0, connection = 0, version = 0, first = 1;

	if (resplen > 0)
		resp[0] = '\0';
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (first) {
			/* GET <path>[?query] HTTP/1.1 */
			first = 0;
			if (n < 4 || memcmp(p, "GET ", 4) != 0)
				return ws_respond_error(400, "Not a GET "
				    "request", resp, resplen);
			v = p + 4;
			q = memchr(v, ' ', n - 4);
			if (q == NULL || (size_t)(p + n - q) != 9 ||
			    memcmp(q, " HTTP/1.1", 9) != 0)
				return ws_respond_error(400, "Not an HTTP/1.1 "
				    "request", resp, resplen);
			pl = (size_t)(q - v);
			colon = memchr(v, '?', pl);
			if (colon != NULL)
				pl = (size_t)(colon - v);
			if (pl != strlen(path) || memcmp(v, path, pl) != 0)
				return ws_respond_error(404, "No WebSocket "
				    "at this path", resp, resplen);
		} else if (n == 0) {
			break;
		} else {
			colon = memchr(p, ':', n);
			if (colon == NULL)
				return ws_respond_error(400, "Bad header line",
				    resp, resplen);
			vl = n - (size_t)(colon + 1 - p);
			v = colon + 1;
			while (vl > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl > 0 && (v[vl - 1] == ' ' ||
			    v[vl - 1] == '\t'))
				vl--;
#define WS_IS(name) ((size_t)(colon - p) == sizeof name - 1 && \
	strncasecmp(p, name, sizeof name - 1) == 0)
			if (WS_IS("Upgrade"))
				upgrade |= ws_has_token(v, vl, "websocket");
			else if (WS_IS("Connection"))
				connection |= ws_has_token(v, vl, "upgrade");
			else if (WS_IS("Sec-WebSocket-Version"))
				version = vl == 2 && memcmp(v, "13", 2) == 0 ?
				    1 : -1;
			else if (WS_IS("Sec-WebSocket-Key")) {
				if (vl != 24 || mbedtls_base64_decode(key, sizeof key,
				    &keylen, (const unsigned char *)v, vl) !=
				    0 || keylen != 16)
					return ws_respond_error(400, "Bad "
					    "Sec-WebSocket-Key", resp,
					    resplen);
				/* The accept value hashes the key as sent. */
				memcpy(buf, v, vl); /* 24 bytes */
				buf[vl] = '\0';
			} else if (WS_IS("Sec-WebSocket-Protocol")) {
				if (ws_has_token(v, vl, "mqtt"))
					protocol = "mqtt";
				else if (protocol == NULL &&
				    ws_has_token(v, vl, "mqttv3.1"))
					protocol = "mqttv3.1";
			}
#undef WS_IS
		}
		p = eol + 1;
	}
	if (first)
		return ws_respond_error(400, "Empty request", resp, resplen);
	if (!upgrade)
		return ws_respond_error(400, "Not a WebSocket Upgrade request "
		    "(Upgrade: websocket)", resp, resplen);
	if (!connection)
		return ws_respond_error(400, "Not a WebSocket Upgrade request "
		    "(Connection: Upgrade)", resp, resplen);
	if (version != 1)
		return ws_respond_error(400, "Unsupported "
		    "Sec-WebSocket-Version", resp, resplen);
	if (keylen != 16)
		return ws_respond_error(400, "No Sec-WebSocket-Key", resp,
		    resplen);
	/* Sec-WebSocket-Accept: base64(SHA-1(key GUID)). */
	strcat(buf, ws_guid);
	if (mbedtls_sha1_ret((const unsigned char *)buf, strlen(buf), sha) !=
	    0 || mbedtls_base64_encode(acc, sizeof acc, &n, sha,
	    sizeof sha) != 0)
		return ws_respond_error(400, "Cannot compute the accept key",
		    resp, resplen);
	snprintf(resp, resplen, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %.*s\r\n"
	    "%s%s%s"
	    "\r\n", (int)n, acc,
	    protocol != NULL ? "Sec-WebSocket-Protocol: " : "",
	    protocol != NULL ? protocol : "",
	    protocol != NULL ? "\r\n" : "");
	return 101;
}

/* --- frames --- */

size_t
ws_frame_header(uint8_t *hdr, uint8_t opcode, uint64_t len)
{
	int i;

	hdr[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

static int
ws_decode_fail(struct ws_decoder *d, uint16_t code, const char *why)
{
	d->error = code;
	d->why = why;
	return -1;
}

int
ws_decode(struct ws_decoder *d, struct evbuffer *src, struct evbuffer *dst,
    struct ws_control *ctl)
{
	struct evbuffer_iovec v;
	unsigned char *h;
	uint64_t plen;
	size_t have, hlen, n, i;
	uint8_t op, fin;

	if (d->error != 0)
		return -1;
	for (;;) {
		have = evbuffer_get_length(src);
		if (d->left > 0) {
			/* Payload of a data frame: unmask and pass on. */
			if (have == 0)
				return 0;
			n = d->left < have ? (size_t)d->left : have;
			if (n > WS_FRAME_OUT_MAX)
				n = WS_FRAME_OUT_MAX;
			if (evbuffer_reserve_space(dst, (ev_ssize_t)n, &v, 1) <
			    1)
				return ws_decode_fail(d, 1011, "out of memory");
			evbuffer_remove(src, v.iov_base, n);
			h = v.iov_base;
			for (i = 0; i < n; i++)
				h[i] ^= d->mask[(d->moff + i) & 3];
			d->moff = (uint8_t)((d->moff + n) & 3);
			v.iov_len = n;
			evbuffer_commit_space(dst, &v, 1);
			d->left -= n;
			continue;
		}
		if (have < 2)
			return 0;
		h = evbuffer_pullup(src, have < 14 ? (ev_ssize_t)have : 14);
		if (h == NULL)
			return ws_decode_fail(d, 1011, "out of memory");
		fin = h[0] & 0x80;
		op = h[0] & 0x0f;
		if (h[0] & 0x70)
			return ws_decode_fail(d, 1002, "reserved bits set in "
			    "a frame");
		if (!(h[1] & 0x80))
			return ws_decode_fail(d, 1002, "unmasked client "
			    "frame");
		switch (op) {
		case WS_OP_TEXT:
			return ws_decode_fail(d, 1003, "text frame (MQTT "
			    "needs binary frames)");
		case WS_OP_CONT:
			if (!d->in_message)
				return ws_decode_fail(d, 1002, "continuation "
				    "frame outside a message");
			break;
		case WS_OP_BINARY:
			if (d->in_message)
				return ws_decode_fail(d, 1002, "new message "
				    "inside a fragmented one");
			break;
		case WS_OP_CLOSE:
		case WS_OP_PING:
		case WS_OP_PONG:
			if (!fin || (h[1] & 0x7f) > 125)
				return ws_decode_fail(d, 1002, "fragmented "
				    "or long control frame");
			break;
		default:
			return ws_decode_fail(d, 1002, "unknown opcode");
		}
		plen = h[1] & 0x7f;
		hlen = 2;
		if (plen == 126) {
			if (have < 4)
				return 0;
			plen = (uint64_t)h[2] << 8 | h[3];
			hlen = 4;
		} else if (plen == 127) {
			if (have < 10)
				return 0;
			if (h[2] & 0x80)
				return ws_decode_fail(d, 1002, "frame length "
				    "out of range");
			plen = 0;
			for (i = 0; i < 8; i++)
				plen = plen << 8 | h[2 + i];
			hlen = 10;
		}
		if (have < hlen + 4)
			return 0;
		if (op & 0x8) {
			if (have < hlen + 4 + plen)
				return 0;
			ctl->opcode = op;
			ctl->len = (uint8_t)plen;
			memcpy(d->mask, h + hlen, 4);
			evbuffer_drain(src, hlen + 4);
			evbuffer_remove(src, ctl->data, (size_t)plen);
			for (i = 0; i < plen; i++)
				ctl->data[i] ^= d->mask[i & 3];
			return 1;
		}
		if (plen > d->max_frame)
			return ws_decode_fail(d, 1009, "frame larger than "
			    "max_packet_size allows");
		memcpy(d->mask, h + hlen, 4);
		d->moff = 0;
		d->left = plen;
		d->in_message = !fin;
		evbuffer_drain(src, hlen + 4);
	}
}

/* --- connections --- */

/* A frame straight into the layer below (control frames, and the close). */
static void
ws_send_frame(struct ws_conn *w, uint8_t op, const void *data, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(w->under);
	uint8_t hdr[10];

	evbuffer_add(out, hdr, ws_frame_header(hdr, op, len));
	if (len > 0)
		evbuffer_add(out, data, len);
}

static void
ws_send_close(struct ws_conn *w, uint16_t code)
{
	uint8_t b[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	ws_send_frame(w, WS_OP_CLOSE, b, 2);
}

/* Stop the connection and tell conn.c, later, through its event
 * callback. The close frame or the HTTP error is already queued. */
static void
ws_fail(struct ws_conn *w, short what, const char *why)
{
	if (w->state == WS_FAILED)
		return;
	/* conn.c logs it as the reason of its close. */
	if (why != NULL)
		snprintf(w->error, sizeof w->error, "WebSocket: %s", why);
	w->state = WS_FAILED;
	evbuffer_drain(bufferevent_get_output(w->bev),
	    evbuffer_get_length(bufferevent_get_output(w->bev)));
	bufferevent_trigger_event(w->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

/* Answer the Upgrade request once it is complete. 0: open (or need
 * more); -1: refused. */
static int
ws_filter_handshake(struct ws_conn *w, struct evbuffer *src)
{
	struct evbuffer_ptr end;
	char req[WS_REQUEST_MAX + 1], resp[512];
	size_t len, take;
	int status;

	end = evbuffer_search(src, "\r\n\r\n", 4, NULL);
	len = evbuffer_get_length(src);
	if (end.pos < 0 && len < WS_REQUEST_MAX) {
		/* Not an HTTP GET (a plain MQTT client on this port, say):
		 * no need to wait for the end of the request. */
		take = len < 4 ? len : 4;
		if (memcmp(evbuffer_pullup(src, (ev_ssize_t)take), "GET ",
		    take) == 0)
			return 0;
		/* ws_handshake() refuses what is there. */
	} else if (end.pos < 0 || (size_t)end.pos + 4 > WS_REQUEST_MAX) {
		ws_respond_error(400, "Request too long", resp, sizeof resp);
		evbuffer_add(bufferevent_get_output(w->under), resp,
		    strlen(resp));
		ws_fail(w, BEV_EVENT_READING | BEV_EVENT_ERROR,
		    "handshake refused with 400: request over 8 KiB");
		return -1;
	} else
		take = (size_t)end.pos + 4;
	evbuffer_remove(src, req, take);
	req[take] = '\0';
	status = ws_handshake(req, take, w->path, resp, sizeof resp);
	evbuffer_add(bufferevent_get_output(w->under), resp, strlen(resp));
	if (status != 101) {
		char why[96];
		const char *body = strstr(resp, "\r\n\r\n");

		snprintf(why, sizeof why, "handshake refused with %d: %s",
		    status, body != NULL ? body + 4 : "");
		why[strcspn(why, "\n")] = '\0';
		ws_fail(w, BEV_EVENT_READING | BEV_EVENT_ERROR, why);
		return -1;
	}
	w->state = WS_OPEN;
	log_debug("%s: WebSocket handshake done", w->peer);
	return 0;
}

static enum bufferevent_filter_result
ws_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct ws_conn *w = arg;
	struct ws_control ctl;
	size_t before = evbuffer_get_length(dst);
	uint16_t code;
	int rc;

	if (w->state == WS_FAILED) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_ERROR;
	}
	if (w->state == WS_HANDSHAKE) {
		if (ws_filter_handshake(w, src) != 0)
			return BEV_ERROR;
		if (w->state != WS_OPEN)
			return BEV_NEED_MORE;
	}
	while ((rc = ws_decode(&w->dec, src, dst, &ctl)) == 1) {
		if (ctl.opcode == WS_OP_PING) {
			/* Pongs are not counted by conn.c's backpressure: a
			 * client that pings without reading gets none while
			 * the layer below is full (RFC 6455 5.5.3 lets a
			 * pong answer only the latest ping). */
			if (evbuffer_get_length(bufferevent_get_output(
			    w->under)) < WS_UNDER_HIGH)
				ws_send_frame(w, WS_OP_PONG, ctl.data,
				    ctl.len);
		} else if (ctl.opcode == WS_OP_CLOSE) {
			/* Echo the status (RFC 6455 5.5.1), unless it is one
			 * an endpoint may not send (7.4): then 1002. What
			 * came before the close is still delivered (the
			 * event is deferred). */
			code = ctl.len >= 2 ?
			    (uint16_t)(ctl.data[0] << 8 | ctl.data[1]) :
			    ctl.len == 0 ? 1000 : 1002;
			if (code < 1000 || (code > 1003 && code < 1007) ||
			    (code > 1011 && code < 3000) || code > 4999)
				code = 1002;
			ws_send_close(w, code);
			ws_fail(w, BEV_EVENT_READING | BEV_EVENT_EOF, NULL);
			evbuffer_drain(src, evbuffer_get_length(src));
			break;
		}
	}
	if (rc < 0) {
		ws_send_close(w, w->dec.error);
		ws_fail(w, BEV_EVENT_READING | BEV_EVENT_ERROR, w->dec.why);
		evbuffer_drain(src, evbuffer_get_length(src));
	}
	return evbuffer_get_length(dst) > before ? BEV_OK :
	    w->state == WS_FAILED ? BEV_ERROR : BEV_NEED_MORE;
}

static enum bufferevent_filter_result
ws_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct ws_conn *w = arg;
	uint8_t hdr[10];
	size_t len, n, done = 0;

	if (w->state == WS_FAILED) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_OK;
	}
	if (w->state == WS_HANDSHAKE)
		return BEV_NEED_MORE;
	while ((len = evbuffer_get_length(src)) > 0) {
		if (limit >= 0 && done >= (size_t)limit)
			break;
		n = len < WS_FRAME_OUT_MAX ? len : WS_FRAME_OUT_MAX;
		if (evbuffer_add(dst, hdr, ws_frame_header(hdr, WS_OP_BINARY,
		    n)) != 0 || evbuffer_remove_buffer(src, dst, n) !=
		    (int)n)
			return BEV_ERROR;
		done += n;
	}
	return done > 0 ? BEV_OK : BEV_NEED_MORE;
}

/* The filter is being destroyed (from libevent's finalizer). */
static void
ws_filter_free_cb(void *arg)
{
	struct ws_conn *w = arg;

	w->filter_gone = 1;
	if (!w->closed)
		ws_conn_close(w);
	ws_conn_maybe_free(w);
}

struct bufferevent *
ws_wrap(struct bufferevent *under, struct tls_conn *tls, const char *path,
    const char *peer, struct ws_conn **out)
{
	struct ws_conn *w;

	*out = NULL;
	w = xcalloc(1, sizeof *w);
	snprintf(w->peer, sizeof w->peer, "%s", peer);
	w->path = path != NULL ? path : WS_DEFAULT_PATH;
	w->under = under;
	w->tls = tls;
	w->state = WS_HANDSHAKE;
	w->dec.max_frame = (uint64_t)srv.cfg.max_packet_size +
	    WS_FRAME_MARGIN;
	bufferevent_setwatermark(under, EV_WRITE, WS_UNDER_LOW,
	    WS_UNDER_HIGH);
	/* Not BEV_OPT_CLOSE_ON_FREE: the layer below is ours, so that it
	 * can outlive the filter while its last bytes go out. */
	w->bev = bufferevent_filter_new(under, ws_filter_in, ws_filter_out, 0,
	    ws_filter_free_cb, w);
	if (w->bev == NULL) {
		log_error("%s: cannot set up the WebSocket filter", peer);
		w->filter_gone = 1;
		w->closed = 1;
		ws_conn_maybe_free(w);
		return NULL;
	}
	*out = w;
	return w->bev;
}

const char *
ws_conn_error(const struct ws_conn *w)
{
	return w->error[0] != '\0' ? w->error : NULL;
}

/* Let the layer below go. A TLS filter is closed first, as conn.c does
 * without a WebSocket, so that its socket lingers (and is counted) from
 * now on, not from the filter's finalizer. */
static void
ws_under_free(struct ws_conn *w)
{
	if (w->tls != NULL)
		tls_conn_close(w->tls);
	w->tls = NULL;
	bufferevent_free(w->under);
	w->under = NULL;
}

static void
ws_conn_maybe_free(struct ws_conn *w)
{
	if (!w->filter_gone || !w->closed || w->lingering)
		return;
	if (w->under != NULL)
		ws_under_free(w);
	if (w->linger_ev != NULL)
		event_free(w->linger_ev);
	free(w);
}

static void
ws_linger_done(struct ws_conn *w)
{
	LIST_REMOVE(w, entry);
	ws_n_lingering--;
	w->lingering = 0;
	ws_under_free(w);
	ws_conn_maybe_free(w);
	server_conn_gone();
}

static void
ws_linger_write_cb(struct bufferevent *under, void *arg)
{
	ws_linger_done(arg);
}

static void
ws_linger_event_cb(struct bufferevent *under, short what, void *arg)
{
	ws_linger_done(arg);
}

static void
ws_linger_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	ws_linger_done(arg);
}

void
ws_conn_close(struct ws_conn *w)
{
	struct timeval tv = { WS_LINGER_SECS, 0 };
	struct evbuffer *out;

	if (w->closed)
		return;
	w->closed = 1;
	if (!ws_dying && w->state == WS_OPEN)
		ws_send_close(w, 1000);
	w->state = WS_FAILED;
	out = bufferevent_get_output(w->under);
	if (ws_dying || evbuffer_get_length(out) == 0) {
		/* The filter's own reference keeps the layer below until
		 * the filter goes. */
		ws_under_free(w);
		return;
	}
	w->lingering = 1;
	LIST_INSERT_HEAD(&ws_lingering, w, entry);
	ws_n_lingering++;
	w->linger_ev = evtimer_new(srv.base, ws_linger_timeout_cb, w);
	evtimer_add(w->linger_ev, &tv);
	bufferevent_setwatermark(w->under, EV_WRITE, 0, 0);
	bufferevent_setcb(w->under, NULL, ws_linger_write_cb,
	    ws_linger_event_cb, w);
	bufferevent_disable(w->under, EV_READ);
	bufferevent_enable(w->under, EV_WRITE);
}

size_t
ws_linger_count(void)
{
	return ws_n_lingering;
}

void
ws_shutdown(void)
{
	struct ws_conn *w;

	ws_dying = 1;
	while ((w = LIST_FIRST(&ws_lingering)) != NULL) {
		LIST_REMOVE(w, entry);
		ws_n_lingering--;
		w->lingering = 0;
		ws_under_free(w);
		ws_conn_maybe_free(w);
	}
}
