/*
 * mqttbridge_conf.c - the "connection" sections of tern.conf: a connection
 * line and every key after it, until the next one or the end of the file,
 * in mosquitto.conf's names and syntax where the meaning is the same
 * (tern.conf(5), "Bridges to other brokers"). Apart from mqttbridge.c,
 * which runs the bridges, so that config.c and its tests link without the
 * server.
 *
 * A section's keys are checked as they come (config.c reports
 * "FILE:LINE: message"); what a section lacks (an address, a topic line)
 * is known only at its end, and is reported at its connection line by
 * mqttbridge_conf_check(). A key that is not a bridge's is an error in a
 * section, a node's key included: written after a connection line it
 * could be meant for either (mosquitto applies it to the node), so it is
 * refused rather than guessed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker.h"

#define NAME_MAX_LEN 64

/* Words of a bridge line; "" is an empty word (mosquitto's spelling of
 * an empty prefix). NULL at the end of the line. */
static char *
xb_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	if (strcmp(w, "\"\"") == 0)
		w[0] = '\0';
	return w;
}

/* The rest of the line (a path or a password may hold spaces). */
static char *
xb_rest(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return *p != '\0' ? p : NULL;
}

static int
xb_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_'))
			return 0;
	}
	return 1;
}

int
mqttbridge_conf_connection(struct config *c, char *rest, char *err,
    size_t errlen)
{
	struct mqttbridge_conf *b;
	char *name = xb_word(&rest);
	size_t i;

	if (name == NULL || xb_word(&rest) != NULL || !xb_name_ok(name)) {
		snprintf(err, errlen, "connection takes one name of 1 to %d "
		    "letters, digits, '.', '-' or '_'", NAME_MAX_LEN);
		return -1;
	}
	for (i = 0; i < c->n_bridges; i++) {
		if (strcmp(c->bridges[i].name, name) == 0) {
			snprintf(err, errlen, "connection %s is given twice",
			    name);
			return -1;
		}
	}
	c->bridges = xreallocarray(c->bridges, c->n_bridges + 1,
	    sizeof *c->bridges);
	b = &c->bridges[c->n_bridges++];
	memset(b, 0, sizeof *b);
	b->name = xstrdup(name);
	b->line = c->line;
	b->version = MQTT_V5;
	b->keepalive = 60;
	b->restart_base = 5;
	b->restart_cap = 30;
	b->try_private = 1;
	return 0;
}

/* address host[:port] ... (IPv6 in brackets; port 1883 by default). */
static int
xb_conf_address(struct mqttbridge_conf *b, char *rest, char *err,
    size_t errlen)
{
	char *w, *host, *colon, *end;
	unsigned long port;
	int n = 0;

	while ((w = xb_word(&rest)) != NULL) {
		host = w;
		port = 1883;
		if (*w == '[') {
			host = w + 1;
			if ((end = strchr(host, ']')) == NULL)
				goto bad;
			*end = '\0';
			colon = end[1] == ':' ? end + 1 : NULL;
			if (end[1] != '\0' && colon == NULL)
				goto bad;
		} else {
			colon = strrchr(w, ':');
			if (colon != NULL && strchr(w, ':') != colon)
				goto bad; /* an IPv6 address needs brackets */
			if (colon != NULL)
				*colon = '\0';
		}
		if (colon != NULL) {
			port = strtoul(colon + 1, &end, 10);
			if (colon[1] < '0' || colon[1] > '9' || *end != '\0' ||
			    port == 0 || port > 65535)
				goto bad;
		}
		if (*host == '\0')
			goto bad;
		b->addrs = xreallocarray(b->addrs, b->n_addrs + 1,
		    sizeof *b->addrs);
		b->addrs[b->n_addrs].host = xstrdup(host);
		b->addrs[b->n_addrs++].port = (uint16_t)port;
		n++;
	}
	if (n > 0)
		return 0;
bad:
	snprintf(err, errlen, "address takes host[:port] words (port 1 to "
	    "65535, IPv6 as [addr]:port)");
	return -1;
}

static int
xb_has_wildcard(const char *s)
{
	return strpbrk(s, "+#") != NULL;
}

static char *
xb_concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = xmalloc(la + lb + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* topic <pattern> [in|out|both] [qos] [local-prefix remote-prefix] */
static int
xb_conf_topic(struct mqttbridge_conf *b, char *rest, char *err,
    size_t errlen)
{
	struct mqttbridge_topic t;
	char *w[6];
	int n = 0;

	memset(&t, 0, sizeof t);
	while (n < 6 && (w[n] = xb_word(&rest)) != NULL)
		n++;
	if (n == 0 || n == 4 || n > 5) {
		snprintf(err, errlen, "topic takes <pattern> [in|out|both] "
		    "[qos] [<local-prefix> <remote-prefix>]");
		return -1;
	}
	t.dir = MQTTBRIDGE_OUT;
	if (n > 1) {
		if (strcmp(w[1], "in") == 0)
			t.dir = MQTTBRIDGE_IN;
		else if (strcmp(w[1], "out") == 0)
			t.dir = MQTTBRIDGE_OUT;
		else if (strcmp(w[1], "both") == 0)
			t.dir = MQTTBRIDGE_IN | MQTTBRIDGE_OUT;
		else {
			snprintf(err, errlen, "topic %s: the direction must be "
			    "in, out or both, not '%s'", w[0], w[1]);
			return -1;
		}
	}
	if (n > 2) {
		if (strlen(w[2]) != 1 || w[2][0] < '0' || w[2][0] > '2') {
			snprintf(err, errlen, "topic %s: the QoS must be 0, 1 "
			    "or 2, not '%s'", w[0], w[2]);
			return -1;
		}
		t.qos = (uint8_t)(w[2][0] - '0');
	}
	if (n == 5 && (xb_has_wildcard(w[3]) || xb_has_wildcard(w[4]))) {
		snprintf(err, errlen, "topic %s: a prefix may not hold '+' or "
		    "'#'", w[0]);
		return -1;
	}
	t.pattern = xstrdup(w[0]);
	t.local_prefix = xstrdup(n == 5 ? w[3] : "");
	t.remote_prefix = xstrdup(n == 5 ? w[4] : "");
	t.local_filter = xb_concat(t.local_prefix, t.pattern);
	t.remote_filter = xb_concat(t.remote_prefix, t.pattern);
	b->topics = xreallocarray(b->topics, b->n_topics + 1,
	    sizeof *b->topics);
	b->topics[b->n_topics++] = t;
	if (!mqtt_topic_filter_valid((const uint8_t *)t.local_filter,
	    strlen(t.local_filter)) ||
	    !mqtt_topic_filter_valid((const uint8_t *)t.remote_filter,
	    strlen(t.remote_filter)) || mqtt_topic_shared((const uint8_t *)
	    t.local_filter, strlen(t.local_filter), NULL, NULL)) {
		snprintf(err, errlen, "topic '%s': '%s' and '%s' must be valid "
		    "topic filters (not $share)", w[0], t.local_filter,
		    t.remote_filter);
		return -1;
	}
	return 0;
}

static int
xb_conf_bool(const char *key, char *rest, uint8_t *out, char *err,
    size_t errlen)
{
	char *v = xb_word(&rest);

	if (v != NULL && xb_word(&rest) == NULL) {
		if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
			*out = 0;
			return 0;
		}
	}
	snprintf(err, errlen, "%s must be true or false", key);
	return -1;
}

static int
xb_conf_uint(const char *key, char *rest, unsigned long min,
    unsigned long max, uint32_t *out, char *err, size_t errlen)
{
	char *v = xb_word(&rest), *end;
	unsigned long n;

	if (v != NULL && xb_word(&rest) == NULL && *v >= '0' && *v <= '9') {
		n = strtoul(v, &end, 10);
		if (*end == '\0' && n >= min && n <= max) {
			*out = (uint32_t)n;
			return 0;
		}
	}
	snprintf(err, errlen, "%s must be a number from %lu to %lu", key, min,
	    max);
	return -1;
}

static int
xb_conf_string(const char *key, char *rest, char **out, char *err,
    size_t errlen)
{
	char *v = xb_rest(rest);

	if (v == NULL) {
		snprintf(err, errlen, "%s needs a value", key);
		return -1;
	}
	free(*out);
	*out = xstrdup(v);
	return 0;
}

/* restart_timeout <base> [<cap>]: one value is a constant delay. */
static int
xb_conf_restart(struct mqttbridge_conf *b, char *rest, char *err,
    size_t errlen)
{
	char *v1 = xb_word(&rest), *v2 = xb_word(&rest), *end;
	unsigned long base, cap;

	if (v1 == NULL || xb_word(&rest) != NULL || *v1 < '0' || *v1 > '9')
		goto bad;
	base = strtoul(v1, &end, 10);
	if (*end != '\0' || base < 1 || base > 86400)
		goto bad;
	cap = base;
	if (v2 != NULL) {
		if (*v2 < '0' || *v2 > '9')
			goto bad;
		cap = strtoul(v2, &end, 10);
		if (*end != '\0' || cap < base || cap > 86400)
			goto bad;
	}
	b->restart_base = (uint32_t)base;
	b->restart_cap = (uint32_t)cap;
	return 0;
bad:
	snprintf(err, errlen, "restart_timeout takes <base> [<cap>] in "
	    "seconds, 1 to 86400, cap not below base");
	return -1;
}

int
mqttbridge_conf_key(struct config *c, const char *key, char *rest, char *err,
    size_t errlen)
{
	struct mqttbridge_conf *b = &c->bridges[c->n_bridges - 1];
	uint32_t n;
	char *v;

	if (strcmp(key, "address") == 0 || strcmp(key, "addresses") == 0)
		return xb_conf_address(b, rest, err, errlen);
	if (strcmp(key, "topic") == 0)
		return xb_conf_topic(b, rest, err, errlen);
	if (strcmp(key, "cleansession") == 0)
		return xb_conf_bool(key, rest, &b->cleansession, err, errlen);
	if (strcmp(key, "try_private") == 0)
		return xb_conf_bool(key, rest, &b->try_private, err, errlen);
	if (strcmp(key, "remote_clientid") == 0) {
		v = xb_word(&rest);
		if (v == NULL || *v == '\0' || xb_word(&rest) != NULL ||
		    strlen(v) > 65535) {
			snprintf(err, errlen, "remote_clientid takes one word");
			return -1;
		}
		free(b->remote_clientid);
		b->remote_clientid = xstrdup(v);
		return 0;
	}
	if (strcmp(key, "remote_username") == 0)
		return xb_conf_string(key, rest, &b->remote_username, err,
		    errlen);
	if (strcmp(key, "remote_password") == 0)
		return xb_conf_string(key, rest, &b->remote_password, err,
		    errlen);
	if (strcmp(key, "bridge_protocol_version") == 0) {
		v = xb_word(&rest);
		if (v != NULL && xb_word(&rest) == NULL &&
		    (strcmp(v, "mqttv311") == 0 || strcmp(v, "mqttv50") == 0)) {
			b->version = strcmp(v, "mqttv50") == 0 ? MQTT_V5 :
			    MQTT_V311;
			return 0;
		}
		snprintf(err, errlen, "bridge_protocol_version must be "
		    "mqttv311 or mqttv50");
		return -1;
	}
	if (strcmp(key, "keepalive_interval") == 0) {
		if (xb_conf_uint(key, rest, 1, 65535, &n, err, errlen) != 0)
			return -1;
		b->keepalive = n;
		return 0;
	}
	if (strcmp(key, "restart_timeout") == 0)
		return xb_conf_restart(b, rest, err, errlen);
	if (strcmp(key, "bridge_cafile") == 0) {
		b->tls_given = 1;
		return xb_conf_string(key, rest, &b->cafile, err, errlen);
	}
	if (strcmp(key, "bridge_certfile") == 0) {
		b->tls_given = 1;
		return xb_conf_string(key, rest, &b->certfile, err, errlen);
	}
	if (strcmp(key, "bridge_keyfile") == 0) {
		b->tls_given = 1;
		return xb_conf_string(key, rest, &b->keyfile, err, errlen);
	}
	if (strcmp(key, "bridge_insecure") == 0) {
		b->tls_given = 1;
		return xb_conf_bool(key, rest, &b->insecure, err, errlen);
	}
	snprintf(err, errlen, "unknown key '%s' in connection %s (the keys "
	    "after a connection line are its own: put the others before the "
	    "first one)", key, b->name);
	return -1;
}

int
mqttbridge_conf_check(const struct config *c, const char *file, char *err,
    size_t errlen)
{
	const struct mqttbridge_conf *b;
	size_t i;

	for (i = 0; i < c->n_bridges; i++) {
		b = &c->bridges[i];
		if (b->n_addrs == 0 || b->n_topics == 0) {
			snprintf(err, errlen, "%s:%u: connection %s has no %s",
			    file, b->line, b->name, b->n_addrs == 0 ?
			    "address line" : "topic line");
			return -1;
		}
	}
	return 0;
}

void
mqttbridge_conf_free(struct config *c)
{
	struct mqttbridge_conf *b;
	struct mqttbridge_topic *t;
	size_t i, j;

	for (i = 0; i < c->n_bridges; i++) {
		b = &c->bridges[i];
		for (j = 0; j < b->n_addrs; j++)
			free(b->addrs[j].host);
		for (j = 0; j < b->n_topics; j++) {
			t = &b->topics[j];
			free(t->pattern);
			free(t->local_prefix);
			free(t->remote_prefix);
			free(t->local_filter);
			free(t->remote_filter);
		}
		free(b->addrs);
		free(b->topics);
		free(b->name);
		free(b->remote_clientid);
		free(b->remote_username);
		free(b->remote_password);
		free(b->cafile);
		free(b->certfile);
		free(b->keyfile);
	}
	free(c->bridges);
	c->bridges = NULL;
	c->n_bridges = 0;
}
