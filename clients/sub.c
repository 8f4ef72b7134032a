/*
 * sub.c - tern-sub: subscribe to one or more topic filters and print the
 * messages that arrive, until -C messages were printed, -W seconds
 * passed, the connection ends, or SIGINT/SIGTERM.
 *
 * Design note.
 *
 * Messages are printed from Paho's receive thread (sub_arrived), under
 * the client mutex, and stdout is flushed after each one so that a reader
 * on a pipe sees every message as it comes. Once -C messages have been
 * printed, later ones are acknowledged by Paho but not printed, as
 * mosquitto_sub does.
 *
 * Output formats: the payload (default), the topic and the payload (-v),
 * the payload in hex (--hex), one JSON object per line (--json, -F json)
 * or a mosquitto-style -F format. JSON carries the MQTT 5 properties:
 * strings as JSON strings; binary data (the payload, correlation data) as
 * a string when it is valid UTF-8 and otherwise as hex under a "_hex" key
 * ("payload_hex"); user properties as a list of [key, value] pairs (keys
 * may repeat, MQTT 5 section 3.3.2.3.7); subscription identifiers as a
 * list (a message matching several subscriptions carries several,
 * section 3.3.4).
 *
 * Topic aliases from the broker: tern-sub sends a Topic Alias Maximum
 * only if -D connect topic-alias-maximum asks for it; then it keeps the
 * alias -> topic map itself (section 3.3.2.3.4) and prints the full topic.
 *
 * Exit: 0 after -C messages, -E, or a signal; 27 when -W ran out (as
 * mosquitto_sub); 1 when the connection failed or the broker refused a
 * subscription (reason code and reason string printed).
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct sub {
	struct common_client	 cl;
	struct common_cfg	*cfg;
	long			 printed;
	int			 write_error;
	int			 fail_index;	/* refused filter */
	char			**aliases;	/* [1..alias_max] */
	unsigned		 alias_max;
};

/* ------------------------------------------------------------------ */
/* printing */

static int
sub_utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, len;
	unsigned	c;

	while (i < n) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4;
		else
			return (0);
		if (i + len > n)
			return (0);
		c &= 0xFF >> (len + 1);
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return (0);
			c = (c << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
		    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return (0);
		i += len;
	}
	return (1);
}

static void
sub_hex(FILE *f, const unsigned char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", s[i]);
}

/* A JSON string (RFC 8259 section 7) of valid UTF-8. */
static void
sub_json_str(FILE *f, const char *s, size_t n)
{
	size_t		i;
	unsigned char	c;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7F)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* "key":"text" or "key_hex":"6869" for binary data. */
static void
sub_json_bin(FILE *f, const char *key, const char *s, size_t n)
{
	if (sub_utf8_valid((const unsigned char *)s, n)) {
		fprintf(f, "\"%s\":", key);
		sub_json_str(f, s, n);
	} else {
		fprintf(f, "\"%s_hex\":\"", key);
		sub_hex(f, (const unsigned char *)s, n);
		fputc('"', f);
	}
}

static void
sub_json_props(FILE *f, const MQTTProperties *props)
{
	const MQTTProperty	*p;
	int			 i, first = 1, n;

	fputs(",\"properties\":{", f);
	for (i = 0; i < props->count; i++) {
		p = &props->array[i];
		if (p->identifier == MQTTPROPERTY_CODE_USER_PROPERTY ||
		    p->identifier == MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER)
			continue;
		if (!first)
			fputc(',', f);
		first = 0;
		switch (p->identifier) {
		case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
			fprintf(f, "\"payload_format_indicator\":%u",
			    p->value.byte);
			break;
		case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
			fprintf(f, "\"message_expiry_interval\":%u",
			    p->value.integer4);
			break;
		case MQTTPROPERTY_CODE_CONTENT_TYPE:
			fputs("\"content_type\":", f);
			sub_json_str(f, p->value.data.data,
			    (size_t)p->value.data.len);
			break;
		case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
			fputs("\"response_topic\":", f);
			sub_json_str(f, p->value.data.data,
			    (size_t)p->value.data.len);
			break;
		case MQTTPROPERTY_CODE_CORRELATION_DATA:
			sub_json_bin(f, "correlation_data",
			    p->value.data.data, (size_t)p->value.data.len);
			break;
		case MQTTPROPERTY_CODE_TOPIC_ALIAS:
			fprintf(f, "\"topic_alias\":%u", p->value.integer2);
			break;
		default:
			fprintf(f, "\"property_%d\":null", (int)p->identifier);
			break;
		}
	}
	n = MQTTProperties_propertyCount((MQTTProperties *)props,
	    MQTTPROPERTY_CODE_USER_PROPERTY);
	if (n > 0) {
		fprintf(f, "%s\"user_properties\":[", first ? "" : ",");
		first = 0;
		for (i = 0, n = 0; i < props->count; i++) {
			p = &props->array[i];
			if (p->identifier != MQTTPROPERTY_CODE_USER_PROPERTY)
				continue;
			fputs(n++ ? ",[" : "[", f);
			sub_json_str(f, p->value.data.data,
			    (size_t)p->value.data.len);
			fputc(',', f);
			sub_json_str(f, p->value.value.data,
			    (size_t)p->value.value.len);
			fputc(']', f);
		}
		fputc(']', f);
	}
	n = MQTTProperties_propertyCount((MQTTProperties *)props,
	    MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER);
	if (n > 0) {
		fprintf(f, "%s\"subscription_identifiers\":[",
		    first ? "" : ",");
		for (i = 0, n = 0; i < props->count; i++) {
			p = &props->array[i];
			if (p->identifier !=
			    MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER)
				continue;
			fprintf(f, "%s%u", n++ ? "," : "", p->value.integer4);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

static void
sub_json(struct sub *s, FILE *f, const char *topic, size_t tlen,
    const MQTTAsync_message *m)
{
	fputs("{\"topic\":", f);
	sub_json_str(f, topic, tlen);
	fprintf(f, ",\"qos\":%d,\"retain\":%s,\"dup\":%s,", m->qos,
	    m->retained ? "true" : "false", m->dup ? "true" : "false");
	sub_json_bin(f, "payload", m->payload, (size_t)m->payloadlen);
	if (s->cfg->version == MQTTVERSION_5)
		sub_json_props(f, &m->properties);
	fputc('}', f);
}

/* -F with mosquitto's escapes: %t %p %x %q %r %l %m %j %% \n \t \\. */
static void
sub_custom(struct sub *s, FILE *f, const char *topic, size_t tlen,
    const MQTTAsync_message *m)
{
	const char	*c;

	for (c = s->cfg->custom; *c != '\0'; c++) {
		if (*c == '\\' && c[1] != '\0') {
			c++;
			fputc(*c == 'n' ? '\n' : *c == 't' ? '\t' : *c, f);
			continue;
		}
		if (*c != '%' || c[1] == '\0') {
			fputc(*c, f);
			continue;
		}
		switch (*++c) {
		case 't':
			fwrite(topic, 1, tlen, f);
			break;
		case 'p':
			fwrite(m->payload, 1, (size_t)m->payloadlen, f);
			break;
		case 'x':
			sub_hex(f, m->payload, (size_t)m->payloadlen);
			break;
		case 'q':
			fprintf(f, "%d", m->qos);
			break;
		case 'r':
			fprintf(f, "%d", m->retained ? 1 : 0);
			break;
		case 'l':
			fprintf(f, "%d", m->payloadlen);
			break;
		case 'm':
			fprintf(f, "%d", m->msgid);
			break;
		case 'j':
			sub_json(s, f, topic, tlen, m);
			break;
		case '%':
			fputc('%', f);
			break;
		default:
			fputc('%', f);
			fputc(*c, f);
			break;
		}
	}
}

static void
sub_print(struct sub *s, const char *topic, size_t tlen,
    const MQTTAsync_message *m)
{
	struct common_cfg	*cfg = s->cfg;
	FILE			*f = stdout;

	switch (cfg->format) {
	case COMMON_FMT_JSON:
		sub_json(s, f, topic, tlen, m);
		fputc('\n', f);
		break;
	case COMMON_FMT_CUSTOM:
		sub_custom(s, f, topic, tlen, m);
		if (cfg->eol)
			fputc('\n', f);
		break;
	default:
		if (cfg->verbose) {
			fwrite(topic, 1, tlen, f);
			fputc(' ', f);
		}
		if (cfg->format == COMMON_FMT_HEX)
			sub_hex(f, m->payload, (size_t)m->payloadlen);
		else
			fwrite(m->payload, 1, (size_t)m->payloadlen, f);
		if (cfg->eol)
			fputc('\n', f);
		break;
	}
	if (fflush(f) != 0 || ferror(f))
		s->write_error = errno != 0 ? errno : EIO;
}

/*
 * The topic of a message: its topic name, or the topic that its Topic
 * Alias stands for. Records a new alias. NULL for an unknown alias.
 */
static const char *
sub_topic(struct sub *s, const char *topic, size_t *tlen,
    MQTTAsync_message *m)
{
	MQTTProperty	*p;
	unsigned	 a;
	char		*t;

	p = MQTTProperties_getProperty(&m->properties,
	    MQTTPROPERTY_CODE_TOPIC_ALIAS);
	if (p == NULL)
		return (topic);
	a = p->value.integer2;
	if (a == 0 || a > s->alias_max)
		return (*tlen > 0 ? topic : NULL);
	if (*tlen > 0) {
		if ((t = strndup(topic, *tlen)) != NULL) {
			free(s->aliases[a]);
			s->aliases[a] = t;
		}
		return (topic);
	}
	if (s->aliases[a] == NULL)
		return (NULL);
	*tlen = strlen(s->aliases[a]);
	return (s->aliases[a]);
}

static int
sub_arrived(void *ctx, char *topic, int topiclen, MQTTAsync_message *m)
{
	struct sub	*s = ctx;
	const char	*t;
	size_t		 tlen;

	/* Paho passes 0 when the topic is a plain C string */
	tlen = topiclen > 0 ? (size_t)topiclen : strlen(topic);
	common_lock(&s->cl);
	if (s->cl.done || s->write_error || common_stopping())
		goto out;
	common_debug(s->cfg, "received PUBLISH (d%d, q%d, r%d, m%d, '%.*s', "
	    "%d bytes)", m->dup, m->qos, m->retained, m->msgid, (int)tlen,
	    topic, m->payloadlen);
	t = sub_topic(s, topic, &tlen, m);
	if (t == NULL) {
		common_err(s->cfg, "message with an unknown topic alias "
		    "ignored");
		goto out;
	}
	if (s->cfg->no_retained && m->retained)
		goto out;
	sub_print(s, t, tlen, m);
	s->printed++;
	if (s->write_error || (s->cfg->count > 0 &&
	    s->printed >= s->cfg->count)) {
		s->cl.done = 1;
		common_signal(&s->cl);
	}
out:
	common_unlock(&s->cl);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return (1);
}

/* ------------------------------------------------------------------ */
/* subscribing */

/* Record the SUBACK: codes[i] for filter i; >= 0x80 is a refusal. */
static void
sub_suback(struct sub *s, const int *codes, int n,
    const MQTTProperties *props)
{
	char	buf[96];
	int	i;

	for (i = 0; i < n && i < s->cfg->ntopics; i++) {
		common_debug(s->cfg, "received SUBACK for '%s' (%s)",
		    s->cfg->topics[i], s->cfg->version == MQTTVERSION_5 ?
		    common_rc_str(codes[i], buf, sizeof buf) :
		    codes[i] >= 0x80 ? "failure" : codes[i] == 0 ?
		    "granted QoS 0" : codes[i] == 1 ? "granted QoS 1" :
		    "granted QoS 2");
		if (codes[i] >= 0x80 && !s->cl.failed) {
			s->fail_index = i;
			common_fail(&s->cl, codes[i], props);
		}
	}
	s->cl.sub_done = 1;
	common_signal(&s->cl);
}

static void
sub_on_success5(void *ctx, MQTTAsync_successData5 *r)
{
	struct sub	*s = ctx;
	int		 one = (int)r->reasonCode, *codes = &one, n = 1, i;
	int		 many[64];

	if (s->cfg->ntopics > 1 && r->alt.sub.reasonCodes != NULL) {
		n = r->alt.sub.reasonCodeCount;
		if (n > 64)
			n = 64;
		for (i = 0; i < n; i++)
			many[i] = (int)r->alt.sub.reasonCodes[i];
		codes = many;
	}
	common_lock(&s->cl);
	sub_suback(s, codes, n, &r->properties);
	common_unlock(&s->cl);
}

static void
sub_on_failure5(void *ctx, MQTTAsync_failureData5 *r)
{
	struct sub	*s = ctx;
	int		 code;

	common_lock(&s->cl);
	if ((int)r->reasonCode >= 0x80) {
		code = (int)r->reasonCode;
		sub_suback(s, &code, 1, &r->properties);
	} else {
		common_fail(&s->cl, r->code < 0 ? r->code : MQTTASYNC_FAILURE,
		    NULL);
		s->cl.sub_done = 1;
		common_signal(&s->cl);
	}
	common_unlock(&s->cl);
}

static void
sub_on_success3(void *ctx, MQTTAsync_successData *r)
{
	struct sub	*s = ctx;
	int		 one = r->alt.qos, *codes = &one;

	if (s->cfg->ntopics > 1)
		codes = r->alt.qosList;
	common_lock(&s->cl);
	sub_suback(s, codes, codes != NULL ? s->cfg->ntopics : 0, NULL);
	common_unlock(&s->cl);
}

static void
sub_on_failure3(void *ctx, MQTTAsync_failureData *r)
{
	struct sub	*s = ctx;
	int		 code = 0x80;

	common_lock(&s->cl);
	if (r->code == 0x80 || r->code == MQTTASYNC_FAILURE)
		sub_suback(s, &code, 1, NULL);
	else {
		common_fail(&s->cl, r->code < 0 ? r->code : MQTTASYNC_FAILURE,
		    NULL);
		s->cl.sub_done = 1;
		common_signal(&s->cl);
	}
	common_unlock(&s->cl);
}

/*
 * SUBSCRIBE to every -t filter; wait for the SUBACK, or until deadline
 * (common_now_ms() time; 0: none). Returns 0, -1 on failure (printed), or
 * 1 when the deadline passed first.
 */
static int
sub_subscribe(struct sub *s, long long deadline)
{
	struct common_cfg		*cfg = s->cfg;
	MQTTAsync_responseOptions	 ro =
	    MQTTAsync_responseOptions_initializer;
	MQTTSubscribe_options		*opts = NULL;
	int				*qos, i, rc;

	if (cfg->ntopics > 64) {
		common_err(cfg, "at most 64 topic filters");
		return (-1);
	}
	qos = calloc((size_t)cfg->ntopics, sizeof *qos);
	opts = calloc((size_t)cfg->ntopics, sizeof *opts);
	if (qos == NULL || opts == NULL) {
		free(qos);
		free(opts);
		common_err(cfg, "out of memory");
		return (-1);
	}
	for (i = 0; i < cfg->ntopics; i++) {
		MQTTSubscribe_options o = MQTTSubscribe_options_initializer;

		qos[i] = cfg->qos;
		o.noLocal = (unsigned char)cfg->no_local;
		o.retainAsPublished = (unsigned char)cfg->rap;
		o.retainHandling = (unsigned char)cfg->rh;
		opts[i] = o;
		common_debug(cfg, "sending SUBSCRIBE ('%s', q%d%s%s, rh %d)",
		    cfg->topics[i], cfg->qos, cfg->no_local ? ", no local" :
		    "", cfg->rap ? ", retain as published" : "", cfg->rh);
	}
	ro.context = s;
	if (cfg->version == MQTTVERSION_5) {
		ro.onSuccess5 = sub_on_success5;
		ro.onFailure5 = sub_on_failure5;
		ro.properties = cfg->subscribe_props;
		if (cfg->ntopics == 1)
			ro.subscribeOptions = opts[0];
		else {
			ro.subscribeOptionsCount = cfg->ntopics;
			ro.subscribeOptionsList = opts;
		}
	} else {
		ro.onSuccess = sub_on_success3;
		ro.onFailure = sub_on_failure3;
	}
	rc = MQTTAsync_subscribeMany(s->cl.h, cfg->ntopics, cfg->topics, qos,
	    &ro);
	free(qos);
	free(opts);
	common_lock(&s->cl);
	if (rc != MQTTASYNC_SUCCESS) {
		common_fail(&s->cl, rc, NULL);
		s->cl.sub_done = 1;
	}
	while (!s->cl.sub_done && !s->cl.lost && !common_stopping()) {
		if (deadline > 0 && common_now_ms() >= deadline) {
			common_unlock(&s->cl);
			return (1);
		}
		common_wait(&s->cl, -1);
	}
	rc = s->cl.failed ? -1 : 0;
	if (s->cl.failed) {
		char what[1100];

		snprintf(what, sizeof what, "subscription to '%.1024s' "
		    "refused", cfg->topics[s->fail_index]);
		if (s->cl.fail_rc < 0)
			snprintf(what, sizeof what, "subscribe failed");
		common_print_fail(&s->cl, what);
	} else if (s->cl.lost) {
		common_settle(&s->cl);
		common_print_lost(&s->cl);
		rc = -1;
	}
	common_unlock(&s->cl);
	return (rc);
}

/* tern-sub: see tern-sub(1); returns the exit status it documents. */
int
main(int argc, char **argv)
{
	struct common_cfg	 cfg;
	struct sub		 s;
	long long		 deadline = 0;
	unsigned		 i;
	int			 rc = COMMON_EXIT_OK, timed_out = 0;

	common_parse(&cfg, COMMON_SUB, argc, argv);
	common_signals();

	memset(&s, 0, sizeof s);
	s.cfg = &cfg;
	if (common_cfg_prop(&cfg, &cfg.connect_props,
	    MQTTPROPERTY_CODE_TOPIC_ALIAS_MAXIMUM, &s.alias_max) &&
	    s.alias_max > 0) {
		s.aliases = calloc(s.alias_max + 1, sizeof *s.aliases);
		if (s.aliases == NULL) {
			common_err(&cfg, "out of memory");
			common_cfg_free(&cfg);
			return (COMMON_EXIT_FAIL);
		}
	}

	if (common_connect(&s.cl, &cfg, sub_arrived) != COMMON_EXIT_OK) {
		rc = COMMON_EXIT_FAIL;
		goto out;
	}
	/* -W counts from the CONNACK, as mosquitto_sub's */
	if (cfg.timeout > 0)
		deadline = common_now_ms() + cfg.timeout * 1000;
	/* a resumed session may deliver before the SUBACK: that is fine */
	common_debug(&cfg, "session present %d", s.cl.session_present);
	switch (sub_subscribe(&s, deadline)) {
	case 0:
		break;
	case 1:
		common_err(&cfg, "timed out after %ld s waiting for the SUBACK",
		    cfg.timeout);
		rc = COMMON_EXIT_TIMEOUT;
		goto close;
	default:
		rc = COMMON_EXIT_FAIL;
		goto close;
	}
	if (cfg.exit_after_sub)
		goto close;

	common_lock(&s.cl);
	while (!s.cl.done && !s.cl.lost && !common_stopping()) {
		if (deadline > 0 && common_now_ms() >= deadline) {
			timed_out = 1;
			break;
		}
		common_wait(&s.cl, -1);
	}
	if (s.write_error) {
		if (s.write_error != EPIPE)
			common_err(&cfg, "cannot write to stdout: %s",
			    strerror(s.write_error));
		rc = COMMON_EXIT_FAIL;
	} else if (s.cl.done || common_stopping())
		rc = COMMON_EXIT_OK;
	else if (timed_out) {
		common_err(&cfg, "timed out after %ld s (%ld message%s)",
		    cfg.timeout, s.printed, s.printed == 1 ? "" : "s");
		rc = COMMON_EXIT_TIMEOUT;
	} else {
		common_settle(&s.cl);
		common_print_lost(&s.cl);
		rc = COMMON_EXIT_FAIL;
	}
	/* print no more messages while disconnecting */
	s.cl.done = 1;
	common_unlock(&s.cl);

close:
	common_close(&s.cl);
out:
	for (i = 0; s.aliases != NULL && i <= s.alias_max; i++)
		free(s.aliases[i]);
	free(s.aliases);
	common_cfg_free(&cfg);
	return (rc);
}
