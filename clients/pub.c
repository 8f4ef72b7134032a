/*
 * pub.c - tern-pub: publish one message (-m, -f, -n, -s) or one message
 * per line of stdin (-l) to a topic, then disconnect.
 *
 * Design note.
 *
 * The whole message of -f and -s is read before connecting, so a missing
 * file costs no connection. -l connects first and then streams stdin;
 * Paho's threads keep the connection alive while stdin is idle.
 *
 * Flow control: at most `window` PUBLISHes are outstanding (sent, not
 * yet completed by Paho: written for QoS 0, PUBACK for QoS 1, PUBCOMP for
 * QoS 2). The window is the broker's Receive Maximum (MQTT 5 section
 * 3.2.2.3.3; 65535 when absent) capped at PUB_WINDOW, so tern-pub never
 * sends more QoS 1/2 messages than the broker said it accepts [MQTT-4.9.0-2].
 * tern-pub exits only after every message completed: exit status 0 means
 * every QoS 1/2 message was acknowledged with a reason code below 0x80.
 *
 * Topic aliases (MQTT 5 section 3.3.2.3.4): with -l, every message goes to
 * the same topic, so tern-pub sends the topic once with Topic Alias 1 and
 * then an empty topic with the alias. It does so only when the broker's
 * CONNACK carries a Topic Alias Maximum of at least 1 [MQTT-3.3.2-9]: a
 * broker that advertises none (as ternd does by default) gets the full
 * topic every time. --no-topic-alias turns aliases off. Paho sends the
 * PUBLISHes in the order of the calls, so the packet that sets the alias
 * always precedes the ones that use it.
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PUB_WINDOW	64		/* most PUBLISHes outstanding */
#define PUB_MAX_PAYLOAD	268435455UL	/* largest remaining length */

struct pub {
	struct common_client	 cl;
	struct common_cfg	*cfg;
	unsigned		 window;
	int			 alias;		/* use topic alias 1 */
	int			 alias_set;	/* the broker knows it */
	unsigned long		 sent;
};

static void
pub_on_success5(void *ctx, MQTTAsync_successData5 *r)
{
	struct pub	*p = ctx;
	char		 buf[96];

	common_lock(&p->cl);
	p->cl.inflight--;
	if (p->cfg->qos > 0)
		common_debug(p->cfg, "received %s (mid %d, %s)",
		    p->cfg->qos == 1 ? "PUBACK" : "PUBCOMP", r->token,
		    common_rc_str((int)r->reasonCode, buf, sizeof buf));
	common_signal(&p->cl);
	common_unlock(&p->cl);
}

static void
pub_on_failure5(void *ctx, MQTTAsync_failureData5 *r)
{
	struct pub	*p = ctx;

	common_lock(&p->cl);
	p->cl.inflight--;
	if ((int)r->reasonCode >= 0x80)
		common_fail(&p->cl, (int)r->reasonCode, &r->properties);
	else
		common_fail(&p->cl, r->code < 0 ? r->code : MQTTASYNC_FAILURE,
		    NULL);
	common_signal(&p->cl);
	common_unlock(&p->cl);
}

static void
pub_on_success3(void *ctx, MQTTAsync_successData *r)
{
	struct pub	*p = ctx;

	common_lock(&p->cl);
	p->cl.inflight--;
	if (p->cfg->qos > 0)
		common_debug(p->cfg, "received %s (mid %d)",
		    p->cfg->qos == 1 ? "PUBACK" : "PUBCOMP", r->token);
	common_signal(&p->cl);
	common_unlock(&p->cl);
}

static void
pub_on_failure3(void *ctx, MQTTAsync_failureData *r)
{
	struct pub	*p = ctx;

	common_lock(&p->cl);
	p->cl.inflight--;
	common_fail(&p->cl, r->code < 0 ? r->code : MQTTASYNC_FAILURE, NULL);
	common_signal(&p->cl);
	common_unlock(&p->cl);
}

/* Whether the connection can take no more PUBLISHes. */
static int
pub_broken(struct pub *p)
{
	return (p->cl.lost || p->cl.failed || common_stopping());
}

/*
 * Send one message, waiting first for room in the window. Returns 0, or
 * -1 when the connection or an earlier message failed.
 */
static int
pub_send(struct pub *p, const void *payload, size_t len)
{
	struct common_cfg		*cfg = p->cfg;
	MQTTAsync_message		 m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions	 ro =
	    MQTTAsync_responseOptions_initializer;
	MQTTProperty			 ap;
	const char			*topic = cfg->topics[0];
	int				 rc;

	if (len > PUB_MAX_PAYLOAD) {
		common_lock(&p->cl);
		common_fail(&p->cl, MQTTASYNC_BAD_STRUCTURE, NULL);
		common_unlock(&p->cl);
		common_err(cfg, "message of %zu bytes is larger than MQTT "
		    "allows", len);
		return (-1);
	}
	common_lock(&p->cl);
	while (p->cl.inflight >= (int)p->window && !pub_broken(p))
		common_wait(&p->cl, -1);
	if (pub_broken(p)) {
		common_unlock(&p->cl);
		return (-1);
	}
	p->cl.inflight++;
	common_unlock(&p->cl);

	m.payload = (void *)(uintptr_t)payload;
	m.payloadlen = (int)len;
	m.qos = cfg->qos;
	m.retained = cfg->retain;
	ro.context = p;
	if (cfg->version == MQTTVERSION_5) {
		m.properties = MQTTProperties_copy(&cfg->publish_props);
		if (p->alias) {
			memset(&ap, 0, sizeof ap);
			ap.identifier = MQTTPROPERTY_CODE_TOPIC_ALIAS;
			ap.value.integer2 = 1;
			MQTTProperties_add(&m.properties, &ap);
			if (p->alias_set)
				topic = "";
		}
		ro.onSuccess5 = pub_on_success5;
		ro.onFailure5 = pub_on_failure5;
	} else {
		ro.onSuccess = pub_on_success3;
		ro.onFailure = pub_on_failure3;
	}
	common_debug(cfg, "sending PUBLISH (q%d, r%d, '%s'%s, %zu bytes)",
	    cfg->qos, cfg->retain, topic, p->alias ? ", topic alias 1" : "",
	    len);
	/* Paho copies the topic, payload and properties */
	rc = MQTTAsync_sendMessage(p->cl.h, topic, &m, &ro);
	MQTTProperties_free(&m.properties);
	if (rc != MQTTASYNC_SUCCESS) {
		common_lock(&p->cl);
		p->cl.inflight--;
		common_fail(&p->cl, rc, NULL);
		common_unlock(&p->cl);
		return (-1);
	}
	p->alias_set = p->alias;
	p->sent++;
	return (0);
}

/* Read all of f into a new buffer (*bufp, *lenp). Returns 0 or errno. */
static int
pub_read_all(FILE *f, char **bufp, size_t *lenp)
{
	char	*buf = NULL, *nb;
	size_t	 len = 0, cap = 0, n;

	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > PUB_MAX_PAYLOAD + 65536) {
				free(buf);
				return (EFBIG);
			}
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return (ENOMEM);
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				free(buf);
				return (errno != 0 ? errno : EIO);
			}
			break;
		}
	}
	*bufp = buf;
	*lenp = len;
	return (0);
}

/* -l: one message per line of stdin, without its newline. */
static int
pub_lines(struct pub *p)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 rc = 0;

	while ((n = getline(&line, &cap, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (pub_send(p, line, (size_t)n) != 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(stdin)) {
		common_err(p->cfg, "cannot read stdin: %s", strerror(errno));
		common_lock(&p->cl);
		common_fail(&p->cl, MQTTASYNC_FAILURE, NULL);
		common_unlock(&p->cl);
		rc = -1;
	}
	free(line);
	return (rc);
}

/* Check the message against what the broker's CONNACK allows. */
static int
pub_check_server(struct pub *p)
{
	struct common_cfg	*cfg = p->cfg;

	if (cfg->qos > p->cl.max_qos) {
		common_err(cfg, "the broker accepts QoS %d at most (Maximum "
		    "QoS in CONNACK); -q %d refused", p->cl.max_qos, cfg->qos);
		return (-1);
	}
	if (cfg->retain && !p->cl.retain_available) {
		common_err(cfg, "the broker does not support retained "
		    "messages (Retain Available 0 in CONNACK)");
		return (-1);
	}
	return (0);
}

/* tern-pub: see tern-pub(1); returns the exit status it documents. */
int
main(int argc, char **argv)
{
	struct common_cfg	 cfg;
	struct pub		 p;
	FILE			*f;
	char			*data = NULL;
	size_t			 len = 0;
	int			 rc, err;

	common_parse(&cfg, COMMON_PUB, argc, argv);
	common_signals();

	/* read -f and -s before connecting */
	if (cfg.source == COMMON_SRC_FILE || cfg.source == COMMON_SRC_STDIN) {
		if (cfg.source == COMMON_SRC_FILE)
			f = fopen(cfg.file, "rb");
		else
			f = stdin;
		if (f == NULL) {
			common_err(&cfg, "cannot open %s: %s", cfg.file,
			    strerror(errno));
			common_cfg_free(&cfg);
			return (COMMON_EXIT_FAIL);
		}
		err = pub_read_all(f, &data, &len);
		if (f != stdin)
			fclose(f);
		if (err != 0) {
			common_err(&cfg, "cannot read %s: %s",
			    cfg.source == COMMON_SRC_FILE ? cfg.file : "stdin",
			    err == EFBIG ? "larger than an MQTT message "
			    "can be" : strerror(err));
			common_cfg_free(&cfg);
			return (COMMON_EXIT_FAIL);
		}
	}

	memset(&p, 0, sizeof p);
	p.cfg = &cfg;
	if (common_connect(&p.cl, &cfg, NULL) != COMMON_EXIT_OK) {
		free(data);
		common_cfg_free(&cfg);
		return (COMMON_EXIT_FAIL);
	}
	p.window = p.cl.receive_max < PUB_WINDOW ? p.cl.receive_max :
	    PUB_WINDOW;
	if (p.window == 0)
		p.window = 1;
	p.alias = cfg.version == MQTTVERSION_5 && !cfg.no_alias &&
	    cfg.source == COMMON_SRC_LINES && p.cl.topic_alias_max >= 1;

	rc = pub_check_server(&p);
	if (rc == 0) {
		switch (cfg.source) {
		case COMMON_SRC_MESSAGE:
			rc = pub_send(&p, cfg.message, strlen(cfg.message));
			break;
		case COMMON_SRC_NULL:
			rc = pub_send(&p, "", 0);
			break;
		case COMMON_SRC_LINES:
			rc = pub_lines(&p);
			break;
		default:
			rc = pub_send(&p, data != NULL ? data : "", len);
			break;
		}
	}

	/* wait for every message to complete */
	common_lock(&p.cl);
	while (p.cl.inflight > 0 && !p.cl.lost && !common_stopping())
		common_wait(&p.cl, -1);
	if (rc == 0 && (p.cl.failed || p.cl.lost || p.cl.inflight > 0))
		rc = -1;
	if (rc != 0)
		common_settle(&p.cl);
	if (p.cl.disconnect_rc >= 0)
		common_print_lost(&p.cl);
	else if (p.cl.failed && p.cl.fail_rc != MQTTASYNC_BAD_STRUCTURE) {
		char what[1100];

		snprintf(what, sizeof what, "publish to '%.1024s' failed",
		    cfg.topics[0]);
		common_print_fail(&p.cl, what);
	} else if (p.cl.lost)
		common_print_lost(&p.cl);
	else if (rc != 0 && common_stopping())
		common_err(&cfg, "interrupted with %d message%s not "
		    "acknowledged", p.cl.inflight,
		    p.cl.inflight == 1 ? "" : "s");
	common_unlock(&p.cl);

	common_debug(&cfg, "%lu message%s sent", p.sent,
	    p.sent == 1 ? "" : "s");
	common_close(&p.cl);
	free(data);
	common_cfg_free(&cfg);
	return (rc == 0 ? COMMON_EXIT_OK : COMMON_EXIT_FAIL);
}
