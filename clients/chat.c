/*
 * chat.c - tern-chat: a line-oriented instant-messaging client on the
 * topic conventions of docs/IM.md (Paho MQTT C, MQTT 5, TCP, TLS and
 * WebSocket).
 *
 * Design note.
 *
 * Topics (docs/IM.md has the reasons and the ACL that goes with them):
 *
 *	im/u/<to>/<from>		a message from <from> to <to>
 *	im/u/<sender>/receipts/<to>	receipts for <sender>'s messages to <to>
 *	im/g/<gid>/<from>		a message from <from> to group <gid>
 *	im/p/<client id>		presence, published by the broker
 *
 * The sender is the last level of the topic rather than a user
 * property: the ACL (pattern write im/u/+/%u) can vouch for a topic
 * level, it cannot vouch for a property. At connect tern-chat subscribes
 * im/u/<me>/# at QoS 1, which brings both messages and receipts.
 *
 * Sessions. The connection is MQTT 5 with Clean Start 0 and a Session
 * Expiry Interval (7 days unless -x), client id <user> unless -i: so the
 * broker keeps the subscriptions and queues what arrives while the
 * program is not running, and sends it when it connects again. Lost
 * connections are taken up by Paho's automatic reconnect (1 s, doubling
 * to 60 s); after each reconnect the subscriptions are renewed (with
 * Retain Handling 1, so presence already shown is not shown again), in
 * case the session expired meanwhile. Messages typed while disconnected
 * are kept by Paho and sent on reconnect.
 *
 * Receipts. /msg publishes at QoS 1 with the user property receipt-to
 * (tern's receipt.c: the broker publishes a receipt there when the
 * recipient acknowledges) and Correlation Data "<run>-<n>", where <run>
 * is random per process: "#n [sent]" is printed at the PUBACK (the
 * broker has stored the message), "#n [delivered]" when the receipt with
 * our Correlation Data arrives (the recipient's client has acknowledged
 * it, which Paho does once the message is printed). A receipt for a
 * message of an earlier run is printed with the message id alone.
 * The receipt may come before the PUBACK: tern acknowledges a message
 * once it is committed to its store, and may deliver it to an online
 * recipient meanwhile. So the state of the last CHAT_TRACK messages is
 * kept, a receipt that comes first prints "[sent]" before it, and the
 * late PUBACK prints nothing: the lines of a message always go sent,
 * then delivered.
 *
 * Duplicates. A message may arrive twice (QoS 1 after a reconnect); with
 * tern's message_id_property each carries the user property tern-mid,
 * and the ids of the last CHAT_SEEN messages are kept to drop repeats.
 *
 * Threads. Paho calls back from its own threads; everything those
 * callbacks and the main thread share is under c->mu, and every line is
 * printed (and stdout flushed) under it, so lines never interleave. The
 * main thread reads stdin with poll() in slices of 100 ms and never
 * calls Paho with c->mu held (Paho's threads take it in callbacks).
 * Text from the network is printed with control characters replaced,
 * so that a message cannot drive the terminal.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#define CHAT_EXIT_OK	0
#define CHAT_EXIT_FAIL	1
#define CHAT_EXIT_USAGE	2

#define CHAT_NAME_MAX	128	/* user, group and client id lengths */
#define CHAT_SEEN	256	/* message ids remembered for duplicates */
#define CHAT_LIST_MAX	64	/* groups joined, users watched */
#define CHAT_LINE_MAX	4096
#define CHAT_TRACK	1024	/* messages whose state is remembered */

static const char *prog = "tern-chat";

struct chat_opts {
	const char	*host;
	int		 port;
	const char	*url;
	const char	*user;
	const char	*password;
	char		*jwt;		/* owned when read from a file */
	const char	*id;
	int		 tls;
	const char	*cafile;
	int		 ws;
	const char	*ws_path;
	int		 keepalive;
	long long	 expiry;
	int		 show_ids;
};

/* A list of group ids or user names to subscribe again on reconnect. */
struct chat_list {
	char	*v[CHAT_LIST_MAX];
	int	 n;
};

/*
 * What a callback needs to report on its request: the message number of
 * a PUBLISH; for a (UN)SUBSCRIBE the line to print once granted ("joined
 * team"; empty: nothing) and the command, named if it is refused.
 */
struct chat_req {
	struct chat	*c;
	unsigned	 n;
	char		 ok[CHAT_NAME_MAX + 32];
	char		 cmd[CHAT_NAME_MAX + 32];
};

struct chat {
	struct chat_opts *o;
	MQTTAsync	 h;
	char		 uri[1200];
	char		 run[17];	/* Correlation Data prefix */
	char		 inbox[CHAT_NAME_MAX + 16];

	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 state;		/* 0 connecting, 1 up, -1 refused */
	int		 down;		/* lost, reconnecting */
	int		 resubscribe;	/* set by a reconnect */
	int		 connect_rc;
	int		 paho_rc;
	int		 disc_done;
	unsigned	 next;		/* last message number used */
	char		 last[CHAT_NAME_MAX + 8]; /* "u:bob" or "g:team" */
	struct chat_list groups;
	struct chat_list watched;
	char		 seen[CHAT_SEEN][24];
	int		 seen_next;
	struct {
		unsigned n;
		int	 shown;		/* CHAT_SENT or CHAT_DELIVERED */
	}		 track[CHAT_TRACK];
};

#define CHAT_SENT	1
#define CHAT_DELIVERED	2

static volatile sig_atomic_t chat_stop;

/* ------------------------------------------------------------------ */
/* output */

static void __attribute__((format(printf, 1, 2)))
chat_err(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* One line on stdout, flushed; called with c->mu held. */
static void __attribute__((format(printf, 1, 2)))
chat_say(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void __attribute__((format(printf, 2, 3)))
chat_say_locked(struct chat *c, const char *fmt, ...)
{
	va_list	ap;

	pthread_mutex_lock(&c->mu);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&c->mu);
}

/*
 * Copy n bytes of network text into buf (size len) for printing:
 * control characters (C0, DEL; a newline too) become '?', so that a
 * message cannot move the cursor or change the terminal. UTF-8 passes.
 */
static const char *
chat_clean(const char *s, size_t n, char *buf, size_t len)
{
	size_t	i;

	if (n >= len)
		n = len - 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	buf[n] = '\0';
	return (buf);
}

/* ------------------------------------------------------------------ */
/* small parsers */

/*
 * A user name or group id that can stand as one topic level: 1 to
 * CHAT_NAME_MAX bytes, no '/', '+', '#', no control characters, and not
 * starting with '$'.
 */
static int
chat_name_ok(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > CHAT_NAME_MAX || s[0] == '$')
		return (0);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '/' || ch == '+' || ch == '#' || ch < 0x20 ||
		    ch == 0x7f)
			return (0);
	}
	return (1);
}

/*
 * The string value of "key" in a flat JSON object written by the broker
 * (receipt.c, presence.c) into buf; NULL when absent or not a string.
 * Escapes are kept as they are: the values read here (ids, client ids,
 * reasons) have none, and what is printed is cleaned anyway.
 */
static const char *
chat_json_str(const char *j, size_t n, const char *key, char *buf,
    size_t len)
{
	char		 pat[64];
	const char	*p, *end = j + n, *v;
	size_t		 k;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	k = strlen(pat);
	for (p = j; p + k <= end; p++) {
		if (memcmp(p, pat, k) != 0)
			continue;
		p += k;
		while (p < end && *p == ' ')
			p++;
		if (p >= end || *p != '"')
			return (NULL);
		for (v = ++p; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
		}
		if (p >= end)
			return (NULL);
		return (chat_clean(v, (size_t)(p - v), buf, len));
	}
	return (NULL);
}

/* The value of user property key in props, or NULL. */
static const MQTTLenString *
chat_user_prop(const MQTTProperties *props, const char *key)
{
	size_t	k = strlen(key);
	int	i;

	for (i = 0; i < props->count; i++) {
		const MQTTProperty *p = &props->array[i];

		if (p->identifier == MQTTPROPERTY_CODE_USER_PROPERTY &&
		    (size_t)p->value.data.len == k &&
		    memcmp(p->value.data.data, key, k) == 0)
			return (&p->value.value);
	}
	return (NULL);
}

/* Split topic t (len n) at '/' into at most max levels; the count. */
static int
chat_levels(const char *t, size_t n, char lv[][CHAT_NAME_MAX + 1], int max)
{
	size_t	i, start = 0;
	int	k = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && t[i] != '/')
			continue;
		if (k == max || i - start > CHAT_NAME_MAX)
			return (-1);
		memcpy(lv[k], t + start, i - start);
		lv[k++][i - start] = '\0';
		start = i + 1;
	}
	return (k);
}

/* ------------------------------------------------------------------ */
/* what arrives */

/* Whether the message id was seen; records it if not. c->mu held. */
static int
chat_seen(struct chat *c, const MQTTLenString *mid)
{
	char	id[24];
	int	i;

	if (mid == NULL || mid->len <= 0 || (size_t)mid->len >= sizeof id)
		return (0);
	memcpy(id, mid->data, (size_t)mid->len);
	id[mid->len] = '\0';
	for (i = 0; i < CHAT_SEEN; i++) {
		if (strcmp(c->seen[i], id) == 0)
			return (1);
	}
	memcpy(c->seen[c->seen_next], id, sizeof id);
	c->seen_next = (c->seen_next + 1) % CHAT_SEEN;
	return (0);
}

/*
 * Message n reached state (CHAT_SENT, CHAT_DELIVERED): print "#n [sent]"
 * unless shown already, and return whether the state is new, so that
 * each line shows once and sent comes before delivered. c->mu held.
 */
static int
chat_state(struct chat *c, unsigned n, int state)
{
	int	i = (int)(n % CHAT_TRACK);

	if (n == 0 || n > c->next)
		return (1);	/* not ours (or forgotten): show it */
	if (c->track[i].n != n) {
		c->track[i].n = n;
		c->track[i].shown = 0;
	}
	if (c->track[i].shown >= state)
		return (0);
	if (state == CHAT_DELIVERED && c->track[i].shown < CHAT_SENT)
		chat_say("#%u [sent]", n);
	c->track[i].shown = state;
	return (1);
}

/* A receipt on im/u/<me>/receipts/<to>. c->mu held. */
static void
chat_receipt(struct chat *c, const char *to, MQTTAsync_message *m)
{
	const MQTTProperty	*cd;
	char			 mid[64], st[32], n[32];
	const char		*pl = m->payload;
	size_t			 rl = strlen(c->run);

	if (chat_json_str(pl, (size_t)m->payloadlen, "status", st,
	    sizeof st) == NULL)
		return;
	if (chat_json_str(pl, (size_t)m->payloadlen, "message_id", mid,
	    sizeof mid) == NULL)
		snprintf(mid, sizeof mid, "?");
	cd = MQTTProperties_getProperty(&m->properties,
	    MQTTPROPERTY_CODE_CORRELATION_DATA);
	if (cd != NULL && (size_t)cd->value.data.len > rl + 1 &&
	    (size_t)cd->value.data.len < rl + sizeof n &&
	    memcmp(cd->value.data.data, c->run, rl) == 0 &&
	    cd->value.data.data[rl] == '-') {
		chat_clean(cd->value.data.data + rl + 1,
		    (size_t)cd->value.data.len - rl - 1, n, sizeof n);
		if (strcmp(st, "delivered") == 0 && chat_state(c,
		    (unsigned)strtoul(n, NULL, 10), CHAT_DELIVERED) == 0)
			return;
		chat_say("#%s [%s] %s", n, st, to);
	} else
		chat_say("[%s] %s %s", st, to, mid);
}

/* Presence JSON on im/p/<client id>. c->mu held. */
static void
chat_presence(const char *who, MQTTAsync_message *m)
{
	char	st[32], why[64];

	if (m->payloadlen == 0 || chat_json_str(m->payload,
	    (size_t)m->payloadlen, "status", st, sizeof st) == NULL)
		return;
	if (chat_json_str(m->payload, (size_t)m->payloadlen, "reason", why,
	    sizeof why) != NULL)
		chat_say("%s is %s (%s)", who, st, why);
	else
		chat_say("%s is %s", who, st);
}

static int
chat_arrived(void *ctx, char *topic, int topiclen, MQTTAsync_message *m)
{
	struct chat		*c = ctx;
	char			 lv[6][CHAT_NAME_MAX + 1], text[CHAT_LINE_MAX];
	char			 idbuf[48], tb[512];
	const MQTTLenString	*mid;
	size_t			 tlen;
	int			 k;

	tlen = topiclen > 0 ? (size_t)topiclen : strlen(topic);
	k = chat_levels(topic, tlen, lv, 6);
	mid = chat_user_prop(&m->properties, "tern-mid");
	chat_clean(m->payload, (size_t)m->payloadlen, text, sizeof text);
	idbuf[0] = '\0';
	if (c->o->show_ids && mid != NULL)
		snprintf(idbuf, sizeof idbuf, "  [%.*s]", mid->len > 30 ? 30 :
		    mid->len, mid->data);

	pthread_mutex_lock(&c->mu);
	if (chat_seen(c, mid))
		goto out;
	if (k == 4 && strcmp(lv[0], "im") == 0 && strcmp(lv[1], "u") == 0 &&
	    strcmp(lv[2], c->o->user) == 0) {
		chat_say("%s > %s%s", lv[3], text, idbuf);
		if (c->last[0] == '\0')
			snprintf(c->last, sizeof c->last, "u:%s", lv[3]);
	} else if (k == 5 && strcmp(lv[0], "im") == 0 &&
	    strcmp(lv[1], "u") == 0 && strcmp(lv[2], c->o->user) == 0 &&
	    strcmp(lv[3], "receipts") == 0)
		chat_receipt(c, lv[4], m);
	else if (k == 4 && strcmp(lv[0], "im") == 0 &&
	    strcmp(lv[1], "g") == 0)
		chat_say("[%s] %s > %s%s", lv[2], lv[3], text, idbuf);
	else if (k == 3 && strcmp(lv[0], "im") == 0 &&
	    strcmp(lv[1], "p") == 0)
		chat_presence(lv[2], m);
	else
		chat_say("(%s) %s%s", chat_clean(topic, tlen, tb, sizeof tb),
		    text, idbuf);
out:
	pthread_mutex_unlock(&c->mu);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return (1);
}

/* ------------------------------------------------------------------ */
/* connection events */

static void
chat_on_connect(void *ctx, MQTTAsync_successData5 *r)
{
	struct chat	*c = ctx;

	pthread_mutex_lock(&c->mu);
	if (c->state == 0)
		chat_say("* connected to %s as %s (session %s)", c->uri,
		    c->o->user, r->alt.connect.sessionPresent ? "resumed" :
		    "new");
	c->state = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
chat_on_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct chat	*c = ctx;

	pthread_mutex_lock(&c->mu);
	if (c->state == 0) {
		c->state = -1;
		c->connect_rc = (int)r->reasonCode;
		c->paho_rc = r->code;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Every connect, the first and each automatic reconnect. */
static void
chat_on_connected(void *ctx, char *cause)
{
	struct chat	*c = ctx;

	(void)cause;
	pthread_mutex_lock(&c->mu);
	if (c->down) {
		c->down = 0;
		c->resubscribe = 1;
		chat_say("* reconnected");
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
chat_on_lost(void *ctx, char *cause)
{
	struct chat	*c = ctx;

	pthread_mutex_lock(&c->mu);
	if (c->state == 1 && !c->down) {
		c->down = 1;
		chat_say("* connection lost%s%s, reconnecting",
		    cause != NULL ? ": " : "", cause != NULL ? cause : "");
	}
	pthread_mutex_unlock(&c->mu);
}

static void
chat_on_disconnected(void *ctx, MQTTProperties *props,
    enum MQTTReasonCodes rc)
{
	struct chat	*c = ctx;

	(void)props;
	pthread_mutex_lock(&c->mu);
	chat_say("* disconnected by the broker: 0x%02X %s, reconnecting",
	    (unsigned)rc, MQTTReasonCode_toString(rc) ?
	    MQTTReasonCode_toString(rc) : "");
	c->down = 1;
	pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------------ */
/* requests */

static void
chat_on_sent(void *ctx, MQTTAsync_successData5 *r)
{
	struct chat_req	*q = ctx;

	(void)r;
	pthread_mutex_lock(&q->c->mu);
	if (chat_state(q->c, q->n, CHAT_SENT))
		chat_say("#%u [sent]", q->n);
	pthread_mutex_unlock(&q->c->mu);
	free(q);
}

static void
chat_on_send_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct chat_req	*q = ctx;
	const char	*why = MQTTReasonCode_toString(r->reasonCode);

	if (r->reasonCode >= 0x80)
		chat_say_locked(q->c, "#%u [refused] 0x%02X %s", q->n,
		    (unsigned)r->reasonCode, why != NULL ? why : "");
	else
		chat_say_locked(q->c, "#%u [failed] %s", q->n,
		    MQTTAsync_strerror(r->code));
	free(q);
}

static void
chat_on_suback(void *ctx, MQTTAsync_successData5 *r)
{
	struct chat_req	*q = ctx;
	const char	*why = MQTTReasonCode_toString(r->reasonCode);

	if (r->reasonCode >= 0x80)
		chat_say_locked(q->c, "* %s refused: 0x%02X %s", q->cmd,
		    (unsigned)r->reasonCode, why != NULL ? why : "");
	else if (q->ok[0] != '\0')
		chat_say_locked(q->c, "* %s", q->ok);
	free(q);
}

static void
chat_on_subfail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct chat_req	*q = ctx;
	const char	*why = MQTTReasonCode_toString(r->reasonCode);

	if (r->reasonCode >= 0x80)
		chat_say_locked(q->c, "* %s refused: 0x%02X %s", q->cmd,
		    (unsigned)r->reasonCode, why != NULL ? why : "");
	else
		chat_say_locked(q->c, "* %s failed: %s", q->cmd,
		    MQTTAsync_strerror(r->code));
	free(q);
}

/*
 * SUBSCRIBE (or UNSUBSCRIBE with unsub) filter at QoS 1, with No Local
 * and Retain Handling rh. The callbacks print ok (may be NULL) once it
 * is granted, or that cmd was refused.
 */
static int
chat_subscribe(struct chat *c, const char *filter, int unsub, int nl,
    int rh, const char *cmd, const char *ok)
{
	MQTTAsync_responseOptions	 ro =
	    MQTTAsync_responseOptions_initializer;
	struct chat_req			*q;
	int				 rc;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return (-1);
	q->c = c;
	snprintf(q->cmd, sizeof q->cmd, "%s", cmd);
	snprintf(q->ok, sizeof q->ok, "%s", ok != NULL ? ok : "");
	ro.context = q;
	ro.onSuccess5 = chat_on_suback;
	ro.onFailure5 = chat_on_subfail;
	ro.subscribeOptions.noLocal = (unsigned char)nl;
	ro.subscribeOptions.retainHandling = (unsigned char)rh;
	if (unsub)
		rc = MQTTAsync_unsubscribe(c->h, filter, &ro);
	else
		rc = MQTTAsync_subscribe(c->h, filter, 1, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		free(q);
		chat_say_locked(c, "* cannot %s %s: %s", unsub ?
		    "unsubscribe" : "subscribe", filter,
		    MQTTAsync_strerror(rc));
		return (-1);
	}
	return (0);
}

/*
 * PUBLISH text at QoS 1 to topic; receipt_to (may be NULL) asks for a
 * delivery receipt there. Prints "#n > label: text".
 */
static void
chat_publish(struct chat *c, const char *topic, const char *label,
    const char *text, const char *receipt_to)
{
	MQTTAsync_responseOptions	 ro =
	    MQTTAsync_responseOptions_initializer;
	MQTTAsync_message		 m = MQTTAsync_message_initializer;
	MQTTProperties			 props = MQTTProperties_initializer;
	MQTTProperty			 p;
	struct chat_req			*q;
	char				 cd[48];
	int				 rc;

	if ((q = calloc(1, sizeof *q)) == NULL) {
		chat_err("out of memory");
		return;
	}
	pthread_mutex_lock(&c->mu);
	q->c = c;
	q->n = ++c->next;
	chat_say("#%u > %s: %s", q->n, label, text);
	pthread_mutex_unlock(&c->mu);

	if (receipt_to != NULL) {
		memset(&p, 0, sizeof p);
		p.identifier = MQTTPROPERTY_CODE_USER_PROPERTY;
		p.value.data.data = "receipt-to";
		p.value.data.len = (int)strlen(p.value.data.data);
		p.value.value.data = (char *)receipt_to;
		p.value.value.len = (int)strlen(receipt_to);
		MQTTProperties_add(&props, &p);
		snprintf(cd, sizeof cd, "%s-%u", c->run, q->n);
		memset(&p, 0, sizeof p);
		p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
		p.value.data.data = cd;
		p.value.data.len = (int)strlen(cd);
		MQTTProperties_add(&props, &p);
	}
	m.payload = (void *)text;
	m.payloadlen = (int)strlen(text);
	m.qos = 1;
	m.properties = props;
	ro.context = q;
	ro.onSuccess5 = chat_on_sent;
	ro.onFailure5 = chat_on_send_fail;
	rc = MQTTAsync_sendMessage(c->h, topic, &m, &ro);
	MQTTProperties_free(&props);
	if (rc != MQTTASYNC_SUCCESS) {
		chat_say_locked(c, "#%u [failed] %s", q->n,
		    MQTTAsync_strerror(rc));
		free(q);
	}
}

/* ------------------------------------------------------------------ */
/* commands */

static int
chat_list_has(const struct chat_list *l, const char *s)
{
	int	i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0)
			return (1);
	}
	return (0);
}

static int
chat_list_add(struct chat_list *l, const char *s)
{
	if (chat_list_has(l, s))
		return (0);
	if (l->n == CHAT_LIST_MAX || (l->v[l->n] = strdup(s)) == NULL)
		return (-1);
	l->n++;
	return (0);
}

static void
chat_list_del(struct chat_list *l, const char *s)
{
	int	i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) != 0)
			continue;
		free(l->v[i]);
		l->v[i] = l->v[--l->n];
		return;
	}
}

static void
chat_list_free(struct chat_list *l)
{
	while (l->n > 0)
		free(l->v[--l->n]);
}

static void
chat_send_user(struct chat *c, const char *to, const char *text)
{
	char	topic[2 * CHAT_NAME_MAX + 16], rt[2 * CHAT_NAME_MAX + 32];

	snprintf(topic, sizeof topic, "im/u/%s/%s", to, c->o->user);
	snprintf(rt, sizeof rt, "im/u/%s/receipts/%s", c->o->user, to);
	pthread_mutex_lock(&c->mu);
	snprintf(c->last, sizeof c->last, "u:%s", to);
	pthread_mutex_unlock(&c->mu);
	chat_publish(c, topic, to, text, rt);
}

static void
chat_send_group(struct chat *c, const char *gid, const char *text)
{
	char	topic[2 * CHAT_NAME_MAX + 16], label[CHAT_NAME_MAX + 4];

	snprintf(topic, sizeof topic, "im/g/%s/%s", gid, c->o->user);
	snprintf(label, sizeof label, "[%s]", gid);
	pthread_mutex_lock(&c->mu);
	snprintf(c->last, sizeof c->last, "g:%s", gid);
	pthread_mutex_unlock(&c->mu);
	chat_publish(c, topic, label, text, NULL);
}

/* Split "word rest" at the first blank: word is NUL-ended, rest returned. */
static char *
chat_word(char *s, char **rest)
{
	char	*w;

	while (*s == ' ' || *s == '\t')
		s++;
	w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	*rest = s;
	return (w);
}

static void
chat_help(struct chat *c)
{
	chat_say_locked(c, "commands:\n"
	    "  /msg USER TEXT    send TEXT to USER (#n [sent], "
	    "#n [delivered])\n"
	    "  /join GROUP       receive the messages of GROUP\n"
	    "  /leave GROUP      stop receiving them\n"
	    "  /g GROUP TEXT     send TEXT to GROUP\n"
	    "  /watch USER       show when USER comes online or goes offline\n"
	    "  /unwatch USER     stop showing it\n"
	    "  /quit             disconnect (the session is kept)\n"
	    "  TEXT              send to the last conversation");
}

/* One line from stdin. Returns 1 on /quit. */
static int
chat_command(struct chat *c, char *line)
{
	char	*cmd, *arg, *rest, filter[CHAT_NAME_MAX + 16], last[160];
	char	 what[CHAT_NAME_MAX + 32], ok[CHAT_NAME_MAX + 32];

	if (line[0] != '/') {
		if (line[0] == '\0')
			return (0);
		pthread_mutex_lock(&c->mu);
		snprintf(last, sizeof last, "%s", c->last);
		pthread_mutex_unlock(&c->mu);
		if (last[0] == 'u')
			chat_send_user(c, last + 2, line);
		else if (last[0] == 'g')
			chat_send_group(c, last + 2, line);
		else
			chat_say_locked(c, "* no conversation yet: /msg USER "
			    "TEXT (/help)");
		return (0);
	}
	cmd = chat_word(line, &rest);
	if (strcmp(cmd, "/quit") == 0)
		return (1);
	if (strcmp(cmd, "/help") == 0) {
		chat_help(c);
		return (0);
	}
	arg = chat_word(rest, &rest);
	if (strcmp(cmd, "/msg") == 0 || strcmp(cmd, "/g") == 0) {
		if (!chat_name_ok(arg) || *rest == '\0') {
			chat_say_locked(c, "* usage: %s %s TEXT", cmd,
			    cmd[1] == 'm' ? "USER" : "GROUP");
			return (0);
		}
		if (cmd[1] == 'm')
			chat_send_user(c, arg, rest);
		else
			chat_send_group(c, arg, rest);
		return (0);
	}
	if (strcmp(cmd, "/join") == 0 || strcmp(cmd, "/leave") == 0 ||
	    strcmp(cmd, "/watch") == 0 || strcmp(cmd, "/unwatch") == 0) {
		int join = cmd[1] == 'j', leave = cmd[1] == 'l';
		int group = join || leave, add = join || cmd[1] == 'w';

		if (!chat_name_ok(arg) || *rest != '\0') {
			chat_say_locked(c, "* usage: %s %s", cmd, group ?
			    "GROUP" : "USER");
			return (0);
		}
		snprintf(filter, sizeof filter, group ? "im/g/%s/+" :
		    "im/p/%s", arg);
		pthread_mutex_lock(&c->mu);
		if (add && chat_list_add(group ? &c->groups : &c->watched,
		    arg) != 0) {
			chat_say("* at most %d", CHAT_LIST_MAX);
			pthread_mutex_unlock(&c->mu);
			return (0);
		}
		if (!add)
			chat_list_del(group ? &c->groups : &c->watched, arg);
		pthread_mutex_unlock(&c->mu);
		snprintf(what, sizeof what, "%s %s", cmd, arg);
		snprintf(ok, sizeof ok, "%s %s", join ? "joined" : leave ?
		    "left" : add ? "watching" : "not watching", arg);
		/* a group's messages: not our own (No Local) */
		chat_subscribe(c, filter, !add, group, 0, what, ok);
		return (0);
	}
	chat_say_locked(c, "* unknown command %s (/help)", cmd);
	return (0);
}

/* After a reconnect: the session may have expired; subscribe again. */
static void
chat_resubscribe(struct chat *c)
{
	struct chat_list	 g, w;
	char			 filter[CHAT_NAME_MAX + 16];
	int			 i;

	memset(&g, 0, sizeof g);
	memset(&w, 0, sizeof w);
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->groups.n; i++)
		chat_list_add(&g, c->groups.v[i]);
	for (i = 0; i < c->watched.n; i++)
		chat_list_add(&w, c->watched.v[i]);
	c->resubscribe = 0;
	pthread_mutex_unlock(&c->mu);
	chat_subscribe(c, c->inbox, 0, 0, 1, "inbox", NULL);
	for (i = 0; i < g.n; i++) {
		snprintf(filter, sizeof filter, "im/g/%s/+", g.v[i]);
		chat_subscribe(c, filter, 0, 1, 1, filter, NULL);
	}
	for (i = 0; i < w.n; i++) {
		snprintf(filter, sizeof filter, "im/p/%s", w.v[i]);
		chat_subscribe(c, filter, 0, 0, 1, filter, NULL);
	}
	chat_list_free(&g);
	chat_list_free(&w);
}

/* ------------------------------------------------------------------ */
/* the main loop */

static void
chat_on_signal(int sig)
{
	(void)sig;
	chat_stop = 1;
}

/*
 * Read stdin and run each line until /quit, end of input or a signal.
 * Between lines, renew the subscriptions after a reconnect.
 */
static void
chat_loop(struct chat *c)
{
	char		buf[CHAT_LINE_MAX + 1], *nl;
	size_t		have = 0;
	ssize_t		n;
	struct pollfd	pfd;
	int		resub;

	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	while (!chat_stop) {
		pthread_mutex_lock(&c->mu);
		resub = c->resubscribe;
		pthread_mutex_unlock(&c->mu);
		if (resub)
			chat_resubscribe(c);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(STDIN_FILENO, buf + have, sizeof buf - 1 - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return;		/* end of input: as /quit */
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (chat_command(c, buf))
				return;
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof buf - 1) {
			chat_say_locked(c, "* line too long, dropped");
			have = 0;
		}
	}
}

static void
chat_on_disc_done(void *ctx, MQTTAsync_successData5 *r)
{
	struct chat	*c = ctx;

	(void)r;
	pthread_mutex_lock(&c->mu);
	c->disc_done = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
chat_on_disc_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	(void)r;
	chat_on_disc_done(ctx, NULL);
}

/* DISCONNECT 0x00: the session stays for its expiry interval. */
static void
chat_disconnect(struct chat *c)
{
	MQTTAsync_disconnectOptions	d =
	    MQTTAsync_disconnectOptions_initializer5;
	struct timespec			ts;

	d.timeout = 2000;
	d.context = c;
	d.onSuccess5 = chat_on_disc_done;
	d.onFailure5 = chat_on_disc_fail;
	if (MQTTAsync_disconnect(c->h, &d) != MQTTASYNC_SUCCESS)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&c->mu);
	while (!c->disc_done)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------------ */
/* options */

enum {
	OPT_HELP = 256,
	OPT_JWT,
	OPT_JWT_FILE,
	OPT_TLS,
	OPT_CAFILE,
	OPT_WS,
	OPT_WS_PATH,
	OPT_URL,
	OPT_IDS,
	OPT_VERSION
};

static const struct option chat_long[] = {
	{ "host", required_argument, NULL, 'h' },
	{ "port", required_argument, NULL, 'p' },
	{ "user", required_argument, NULL, 'u' },
	{ "pw", required_argument, NULL, 'P' },
	{ "id", required_argument, NULL, 'i' },
	{ "keepalive", required_argument, NULL, 'k' },
	{ "session-expiry", required_argument, NULL, 'x' },
	{ "jwt", required_argument, NULL, OPT_JWT },
	{ "jwt-file", required_argument, NULL, OPT_JWT_FILE },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "ws", no_argument, NULL, OPT_WS },
	{ "ws-path", required_argument, NULL, OPT_WS_PATH },
	{ "url", required_argument, NULL, OPT_URL },
	{ "ids", no_argument, NULL, OPT_IDS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void
chat_usage(FILE *f)
{
	fprintf(f, "usage: %s [-h host] [-p port] -u user "
	    "[-P password | --jwt token | --jwt-file file]\n"
	    "       [--tls [--cafile file]] [--ws [--ws-path path]] "
	    "[--url uri] [-i id] [-k secs] [-x secs] [--ids]\n", prog);
}

static void
chat_help_opts(void)
{
	chat_usage(stdout);
	printf("\n"
	    "  -h, --host HOST          broker host (default localhost)\n"
	    "  -p, --port PORT          broker port (default 1883, 8883 with "
	    "--tls)\n"
	    "  -u, --user USER          user name (required)\n"
	    "  -P, --pw PASSWORD        password\n"
	    "  --jwt TOKEN              a JSON Web Token as the password\n"
	    "  --jwt-file FILE          read the token from FILE\n"
	    "  --tls                    TLS (ssl://, or wss:// with --ws)\n"
	    "  --cafile FILE            CA certificates to trust for TLS\n"
	    "  --ws                     MQTT over WebSocket (ws://)\n"
	    "  --ws-path PATH           WebSocket path (default /mqtt)\n"
	    "  --url URI                tcp://, ssl://, ws:// or wss:// URI "
	    "(instead of -h -p --tls --ws)\n"
	    "  -i, --id ID              client id (default: the user name)\n"
	    "  -k, --keepalive SECS     keep alive (default 60)\n"
	    "  -x, --session-expiry SECS session expiry (default 604800)\n"
	    "  --ids                    show message ids (tern-mid)\n"
	    "  --help                   this help\n"
	    "  --version                print the version\n"
	    "\nType /help once connected for the commands.\n"
	    "Exit status: 0 ok, 1 connection failure, 2 usage error.\n"
	    "See tern-chat(1).\n");
}

static void __attribute__((noreturn, format(printf, 1, 2)))
chat_usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	chat_usage(stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(CHAT_EXIT_USAGE);
}

static long long
chat_number(const char *opt, const char *s, long long min, long long max)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		chat_usage_error("%s: '%s' is not a number from %lld to %lld",
		    opt, s, min, max);
	return (v);
}

/* The first line of file, without its newline; NULL after an error. */
static char *
chat_read_token(const char *file)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	if ((f = fopen(file, "r")) == NULL) {
		chat_err("%s: %s", file, strerror(errno));
		return (NULL);
	}
	n = getline(&line, &cap, f);
	fclose(f);
	if (n <= 0) {
		chat_err("%s: no token in the file", file);
		free(line);
		return (NULL);
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return (line);
}

static void
chat_parse(struct chat_opts *o, int argc, char **argv)
{
	int		 ch, secrets = 0;
	const char	*jwt_file = NULL;

	memset(o, 0, sizeof *o);
	o->host = "localhost";
	o->port = -1;
	o->keepalive = 60;
	o->expiry = 604800;
	o->ws_path = "/mqtt";
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h:p:u:P:i:k:x:", chat_long,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			o->port = (int)chat_number("-p", optarg, 1, 65535);
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'P':
			o->password = optarg;
			secrets++;
			break;
		case 'i':
			o->id = optarg;
			break;
		case 'k':
			o->keepalive = (int)chat_number("-k", optarg, 0, 65535);
			break;
		case 'x':
			o->expiry = chat_number("-x", optarg, 0, UINT32_MAX);
			break;
		case OPT_JWT:
			o->password = optarg;
			secrets++;
			break;
		case OPT_JWT_FILE:
			jwt_file = optarg;
			secrets++;
			break;
		case OPT_TLS:
			o->tls = 1;
			break;
		case OPT_CAFILE:
			o->cafile = optarg;
			break;
		case OPT_WS:
			o->ws = 1;
			break;
		case OPT_WS_PATH:
			if (optarg[0] != '/')
				chat_usage_error("--ws-path must start with /");
			o->ws_path = optarg;
			break;
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_IDS:
			o->show_ids = 1;
			break;
		case OPT_HELP:
			chat_help_opts();
			exit(CHAT_EXIT_OK);
		case OPT_VERSION:
			printf("%s %s (Paho MQTT C)\n", prog, PACKAGE_VERSION);
			exit(CHAT_EXIT_OK);
		case ':':
			chat_usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0 && optopt < 256)
				chat_usage_error("unknown option '-%c'", optopt);
			chat_usage_error("unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		chat_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->user == NULL)
		chat_usage_error("-u is required");
	if (!chat_name_ok(o->user))
		chat_usage_error("-u: '%s' cannot be a topic level (no / + #, "
		    "not empty, no leading $, at most %d bytes)", o->user,
		    CHAT_NAME_MAX);
	if (secrets > 1)
		chat_usage_error("only one of -P, --jwt and --jwt-file");
	if (o->url != NULL && (o->tls || o->ws))
		chat_usage_error("--url names the transport: no --tls or --ws");
	if (o->url != NULL && strncmp(o->url, "tcp://", 6) != 0 &&
	    strncmp(o->url, "ssl://", 6) != 0 &&
	    strncmp(o->url, "ws://", 5) != 0 &&
	    strncmp(o->url, "wss://", 6) != 0)
		chat_usage_error("--url: '%s' is not tcp://, ssl://, ws:// or "
		    "wss://", o->url);
	if (o->id != NULL && (*o->id == '\0' || strlen(o->id) > 65535))
		chat_usage_error("-i: the client id must not be empty");
	if (jwt_file != NULL) {
		if ((o->jwt = chat_read_token(jwt_file)) == NULL)
			exit(CHAT_EXIT_USAGE);
		o->password = o->jwt;
	}
	if (o->port < 0)
		o->port = o->tls ? 8883 : 1883;
}

/* ------------------------------------------------------------------ */

static void
chat_uri(struct chat *c)
{
	struct chat_opts	*o = c->o;
	const char		*scheme;
	int			 v6 = strchr(o->host, ':') != NULL;

	if (o->url != NULL) {
		snprintf(c->uri, sizeof c->uri, "%s", o->url);
		return;
	}
	scheme = o->ws ? (o->tls ? "wss" : "ws") : (o->tls ? "ssl" : "tcp");
	snprintf(c->uri, sizeof c->uri, v6 ? "%s://[%.512s]:%d%s" :
	    "%s://%.512s:%d%s", scheme, o->host, o->port, o->ws ?
	    o->ws_path : "");
}

/* Connect and wait for the CONNACK. Returns 0, or -1 after printing. */
static int
chat_connect(struct chat *c)
{
	MQTTAsync_connectOptions	o5 =
	    MQTTAsync_connectOptions_initializer5;
	MQTTAsync_SSLOptions		ssl = MQTTAsync_SSLOptions_initializer;
	MQTTProperties			props = MQTTProperties_initializer;
	MQTTProperty			p;
	const char			*why;
	int				rc;

	memset(&p, 0, sizeof p);
	p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
	p.value.integer4 = (unsigned)c->o->expiry;
	MQTTProperties_add(&props, &p);
	o5.cleanstart = 0;
	o5.keepAliveInterval = c->o->keepalive;
	o5.connectTimeout = 10;
	o5.connectProperties = &props;
	o5.username = c->o->user;
	o5.password = c->o->password;
	/* weak networks: Paho tries again 1, 2, 4 ... 60 s after a loss */
	o5.automaticReconnect = 1;
	o5.minRetryInterval = 1;
	o5.maxRetryInterval = 60;
	o5.onSuccess5 = chat_on_connect;
	o5.onFailure5 = chat_on_connect_fail;
	o5.context = c;
	if (strncmp(c->uri, "ssl://", 6) == 0 ||
	    strncmp(c->uri, "wss://", 6) == 0) {
		ssl.trustStore = c->o->cafile;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		o5.ssl = &ssl;
	}
	rc = MQTTAsync_connect(c->h, &o5);
	MQTTProperties_free(&props);
	pthread_mutex_lock(&c->mu);
	if (rc != MQTTASYNC_SUCCESS) {
		c->state = -1;
		c->paho_rc = rc;
	}
	while (c->state == 0 && !chat_stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	rc = c->state;
	pthread_mutex_unlock(&c->mu);
	if (rc == 1)
		return (0);
	if (rc == 0)
		return (-1);	/* interrupted */
	/* Paho puts a CONNACK refusal in code, its own errors below 0 */
	if (c->connect_rc < 0x80 && c->paho_rc >= 0x80)
		c->connect_rc = c->paho_rc;
	why = MQTTReasonCode_toString((enum MQTTReasonCodes)c->connect_rc);
	if (c->connect_rc >= 0x80)
		chat_err("connection refused by %s: 0x%02X %s", c->uri,
		    (unsigned)c->connect_rc, why != NULL ? why : "");
	else if (c->paho_rc > 0)
		chat_err("connection refused by %s: return code %d", c->uri,
		    c->paho_rc);
	else if (c->paho_rc == MQTTASYNC_FAILURE || c->paho_rc == 0)
		/* Paho does not say which: refused, unreachable, TLS, HTTP */
		chat_err("cannot connect to %s (no connection, or the TLS or "
		    "WebSocket handshake failed)", c->uri);
	else
		chat_err("cannot connect to %s: %s", c->uri,
		    MQTTAsync_strerror(c->paho_rc));
	return (-1);
}

/* tern-chat: see tern-chat(1); returns the exit status it documents. */
int
main(int argc, char **argv)
{
	MQTTAsync_createOptions	 co = MQTTAsync_createOptions_initializer;
	struct chat_opts	 o;
	struct chat		 c;
	struct sigaction	 sa;
	unsigned char		 r[8];
	size_t			 i;
	int			 rc = CHAT_EXIT_OK;

	chat_parse(&o, argc, argv);
	memset(&c, 0, sizeof c);
	c.o = &o;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	chat_uri(&c);
	snprintf(c.inbox, sizeof c.inbox, "im/u/%s/#", o.user);
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		unsigned long long v = (unsigned long long)getpid() ^
		    (unsigned long long)time(NULL);

		memcpy(r, &v, sizeof r);
	}
	for (i = 0; i < sizeof r; i++)
		snprintf(c.run + 2 * i, 3, "%02x", r[i]);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = chat_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	co.MQTTVersion = MQTTVERSION_5;
	co.sendWhileDisconnected = 1;
	co.maxBufferedMessages = 1000;
	if ((rc = MQTTAsync_createWithOptions(&c.h, c.uri, o.id != NULL ?
	    o.id : o.user, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co)) !=
	    MQTTASYNC_SUCCESS) {
		chat_err("cannot create the MQTT client for %s: %s", c.uri,
		    MQTTAsync_strerror(rc));
		rc = CHAT_EXIT_FAIL;
		goto out;
	}
	MQTTAsync_setCallbacks(c.h, &c, chat_on_lost, chat_arrived, NULL);
	MQTTAsync_setConnected(c.h, &c, chat_on_connected);
	MQTTAsync_setDisconnected(c.h, &c, chat_on_disconnected);
	if (chat_connect(&c) != 0) {
		/* a signal during the first connect is a normal end */
		rc = chat_stop ? CHAT_EXIT_OK : CHAT_EXIT_FAIL;
		MQTTAsync_destroy(&c.h);
		goto out;
	}
	/* the session may be new: subscribing again costs nothing */
	chat_subscribe(&c, c.inbox, 0, 0, 1, "inbox", NULL);
	chat_loop(&c);
	chat_disconnect(&c);
	MQTTAsync_destroy(&c.h);
	rc = CHAT_EXIT_OK;
out:
	chat_list_free(&c.groups);
	chat_list_free(&c.watched);
	free(o.jwt);
	pthread_cond_destroy(&c.cv);
	pthread_mutex_destroy(&c.mu);
	return (rc);
}
