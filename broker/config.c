/*
 * config.c - tern.conf: "key value" lines in the style of mosquitto.conf.
 *
 * Every key is one row of config_table: its name, how its value is parsed
 * (an unsigned number with bounds, a boolean, a string, or a function of
 * its own), where it is stored and its default. Defaults are applied from
 * the same table by config_init(), and tern.conf(5) documents each row (a
 * unit test keeps the two in step). An unknown key or a bad value is an
 * error reported as "FILE:LINE: message", and ternd refuses to start.
 *
 * Per-listener keys (the TLS settings) are rows of their own types,
 * CONFIG_LSTRING and CONFIG_LBOOL, whose offset is into struct
 * listener_conf: they set the listener of the nearest listener line above
 * them. Given before any listener line they are refused rather than
 * applied to every listener (as server_reference is) or to the default
 * listener (as mosquitto does): a certfile that silently turned every
 * listener to TLS, or that vanished once a listener line was added, would
 * be a trap. Whether the files can be read and the key matches the
 * certificate is checked by tls.c, which reports "listener N: ...".
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker.h"

enum config_type {
	CONFIG_UINT,
	CONFIG_BOOL,
	CONFIG_STRING,
	CONFIG_FUNC,
	CONFIG_LSTRING, /* per listener: offset into struct listener_conf */
	CONFIG_LBOOL
};

struct config_key;
typedef int (*config_fn)(struct config *, char *, char *, size_t);

/*
 * Flags of a key. RELOAD: SIGHUP applies a new value (config_reload);
 * for a FUNC row, offset and size then name the bytes of struct config
 * that hold its value. PER_LISTENER: given after a listener line, it is
 * that listener's (its text is kept with the listener's number).
 */
#define RELOAD 0x1
#define PER_LISTENER 0x2

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	unsigned long min, max, def;
	const char *def_string; /* strings; the documented default of FUNC */
	config_fn fn;
	unsigned flags;
	size_t size; /* FUNC rows with RELOAD */
};

static int config_listener(struct config *, char *, char *, size_t);
static int config_log_dest(struct config *, char *, char *, size_t);
static int config_log_level(struct config *, char *, char *, size_t);
static int config_duration(struct config *, char *, char *, size_t);
static int config_store_sync(struct config *, char *, char *, size_t);
static int config_queued_bytes(struct config *, char *, char *, size_t);
static int config_retained_bytes(struct config *, char *, char *, size_t);
static int config_server_reference(struct config *, char *, char *,
    size_t);
static int config_cluster_listener(struct config *, char *, char *,
    size_t);
static int config_cluster_peers(struct config *, char *, char *, size_t);
static int config_cluster_secret(struct config *, char *, char *, size_t);
static int config_cluster_dns(struct config *, char *, char *, size_t);
static int config_allow_anonymous(struct config *, char *, char *, size_t);
static int config_jwt_alg(struct config *, char *, char *, size_t);
static int config_tls_version(struct config *, char *, char *, size_t);
static int config_max_connections(struct config *, char *, char *,
    size_t);
static int config_protocol(struct config *, char *, char *, size_t);
static int config_websockets_path(struct config *, char *, char *, size_t);
static int config_presence_topic(struct config *, char *, char *, size_t);
static int config_presence_clients(struct config *, char *, char *, size_t);
static int config_push_webhook(struct config *, char *, char *, size_t);
static int config_push_secret(struct config *, char *, char *, size_t);
static int config_http_listener(struct config *, char *, char *, size_t);

/*
 * The defaults of the 64-bit byte limits, which are FUNC rows: the string
 * is both the documented default (tern.conf(5), checked by config_test)
 * and, parsed by config_init(), the value, so the two cannot drift apart.
 * 64 MiB per session and 1 GiB of retained messages: an IM client's queue
 * reaches its 1000 messages long before 64 MiB, and a million users'
 * retained presence takes about a third of a GiB, while a flood of large
 * messages stops there.
 */
#define CONFIG_QUEUED_BYTES_DEFAULT "67108864"
#define CONFIG_RETAINED_BYTES_DEFAULT "1073741824"

#define OFF(field) offsetof(struct config, field)
#define LOFF(field) offsetof(struct listener_conf, field)
#define SIZE(field) sizeof(((struct config *)0)->field)
#define SPAN(first, last) (OFF(last) + SIZE(last) - OFF(first))

static const struct config_key config_table[] = {
	{ "listener", CONFIG_FUNC, 0, 0, 0, 0, "127.0.0.1:1883",
	    config_listener,
	    0, 0 },
	{ "data_dir", CONFIG_STRING, OFF(data_dir), 0, 0, 0, "./var", NULL,
	    0, 0 },
	{ "log_dest", CONFIG_FUNC, OFF(log_file),
	    0, 0, 0, "stderr", config_log_dest,
	    RELOAD, SIZE(log_file) },
	{ "log_level", CONFIG_FUNC, OFF(log_level),
	    0, 0, 0, "notice", config_log_level,
	    RELOAD, SIZE(log_level) },
	{ "max_packet_size", CONFIG_UINT, OFF(max_packet_size),
	    20, MQTT_MAX_REMAINING + 5, 1048576, NULL, NULL,
	    RELOAD, 0 },
	{ "max_inflight_messages", CONFIG_UINT, OFF(max_inflight_messages),
	    1, 65535, 65535, NULL, NULL,
	    RELOAD, 0 },
	{ "max_inflight_messages_v311", CONFIG_UINT,
	    OFF(max_inflight_messages_v311), 1, 65535, 1000, NULL, NULL,
	    RELOAD, 0 },
	{ "max_queued_messages", CONFIG_UINT, OFF(max_queued_messages),
	    1, UINT32_MAX, 1000, NULL, NULL,
	    RELOAD, 0 },
	{ "group_log_threshold", CONFIG_UINT, OFF(group_log_threshold),
	    0, UINT32_MAX, 16, NULL, NULL,
	    RELOAD, 0 },
	{ "offline_queue_cache", CONFIG_UINT, OFF(offline_queue_cache),
	    0, 1000, 8, NULL, NULL,
	    RELOAD, 0 },
	{ "offline_queue_cache_sessions", CONFIG_UINT,
	    OFF(offline_queue_cache_sessions), 0, UINT32_MAX, 10000, NULL,
	    NULL, RELOAD, 0 },
	{ "max_keepalive", CONFIG_UINT, OFF(max_keepalive),
	    1, 65535, 65535, NULL, NULL,
	    RELOAD, 0 },
	{ "allow_zero_length_clientid", CONFIG_BOOL,
	    OFF(allow_zero_length_clientid), 0, 1, 1, NULL, NULL,
	    RELOAD, 0 },
	{ "session_owner_only", CONFIG_BOOL, OFF(session_owner_only),
	    0, 1, 1, NULL, NULL,
	    RELOAD, 0 },
	{ "client_id_user_prefix", CONFIG_BOOL, OFF(client_id_user_prefix),
	    0, 1, 0, NULL, NULL,
	    RELOAD, 0 },
	{ "connect_timeout", CONFIG_UINT, OFF(connect_timeout),
	    1, 3600, 10, NULL, NULL,
	    RELOAD, 0 },
	{ "set_tcp_nodelay", CONFIG_BOOL, OFF(tcp_nodelay), 0, 1, 1, NULL,
	    NULL,
	    RELOAD, 0 },
	{ "max_topic_levels", CONFIG_UINT, OFF(max_topic_levels), 1, 1024,
	    128, NULL, NULL,
	    RELOAD, 0 },
	{ "max_topic_length", CONFIG_UINT, OFF(max_topic_length), 1, 65535,
	    65535, NULL, NULL,
	    RELOAD, 0 },
	{ "max_connections", CONFIG_FUNC, OFF(max_connections), 0, 0, 0, "-1",
	    config_max_connections,
	    RELOAD | PER_LISTENER, SIZE(max_connections) },
	{ "max_connection_rate", CONFIG_UINT, OFF(max_connection_rate),
	    0, 1000000, 0, NULL, NULL,
	    RELOAD, 0 },
	{ "max_publish_rate", CONFIG_UINT, OFF(max_publish_rate),
	    0, 10000000, 0, NULL, NULL,
	    RELOAD, 0 },
	{ "max_publish_bytes_rate", CONFIG_UINT, OFF(max_publish_bytes_rate),
	    0, UINT32_MAX, 0, NULL, NULL,
	    RELOAD, 0 },
	{ "max_subscriptions_per_client", CONFIG_UINT,
	    OFF(max_subscriptions_per_client), 0, UINT32_MAX, 1000, NULL,
	    NULL,
	    RELOAD, 0 },
	{ "max_retained_messages", CONFIG_UINT, OFF(max_retained_messages),
	    0, UINT32_MAX, 1000000, NULL, NULL,
	    RELOAD, 0 },
	{ "max_retained_bytes", CONFIG_FUNC, OFF(max_retained_bytes), 0, 0, 0,
	    CONFIG_RETAINED_BYTES_DEFAULT, config_retained_bytes,
	    RELOAD, SIZE(max_retained_bytes) },
	{ "store", CONFIG_BOOL, OFF(store), 0, 1, 1, NULL, NULL,
	    0, 0 },
	{ "queue_qos0_messages", CONFIG_BOOL, OFF(queue_qos0_messages), 0, 1,
	    0, NULL, NULL,
	    RELOAD, 0 },
	{ "delivery_receipts", CONFIG_BOOL, OFF(delivery_receipts), 0, 1, 1,
	    NULL, NULL,
	    RELOAD, 0 },
	{ "message_id_property", CONFIG_BOOL, OFF(message_id_property), 0, 1,
	    0, NULL, NULL,
	    RELOAD, 0 },
	{ "presence_topic", CONFIG_FUNC, OFF(presence_topic), 0, 0, 0, "none",
	    config_presence_topic,
	    RELOAD, SIZE(presence_topic) },
	{ "presence_debounce", CONFIG_UINT, OFF(presence_debounce), 0, 86400,
	    10, NULL, NULL,
	    RELOAD, 0 },
	{ "presence_clients", CONFIG_FUNC, OFF(presence_all),
	    0, 0, 0, "persistent",
	    config_presence_clients,
	    RELOAD, SIZE(presence_all) },
	{ "events", CONFIG_BOOL, OFF(events), 0, 1, 1, NULL, NULL,
	    RELOAD, 0 },
	{ "push_webhook", CONFIG_FUNC, OFF(push_webhook), 0, 0, 0, "none",
	    config_push_webhook,
	    RELOAD, SPAN(push_webhook, push_port) },
	{ "push_webhook_secret", CONFIG_FUNC, OFF(push_secret), 0, 0, 0, "none",
	    config_push_secret,
	    RELOAD, SIZE(push_secret) },
	{ "push_min_interval", CONFIG_UINT, OFF(push_min_interval), 0, 86400,
	    0, NULL, NULL,
	    RELOAD, 0 },
	{ "push_timeout", CONFIG_UINT, OFF(push_timeout), 1, 3600, 10, NULL,
	    NULL,
	    RELOAD, 0 },
	{ "push_queue_max", CONFIG_UINT, OFF(push_queue_max), 1, 100000000,
	    100000, NULL, NULL,
	    RELOAD, 0 },
	{ "store_sync", CONFIG_FUNC, 0, 0, 0, 0, "normal", config_store_sync,
	    0, 0 },
	{ "max_queued_bytes", CONFIG_FUNC, OFF(max_queued_bytes), 0, 0, 0,
	    CONFIG_QUEUED_BYTES_DEFAULT, config_queued_bytes,
	    RELOAD, SIZE(max_queued_bytes) },
	{ "persistent_client_expiration", CONFIG_FUNC,
	    OFF(persistent_client_expiration), 0, 0, 0, "never",
	    config_duration, RELOAD, SIZE(persistent_client_expiration) },
	{ "topic_alias_maximum", CONFIG_UINT, OFF(topic_alias_maximum),
	    0, 65535, 10, NULL, NULL,
	    0, 0 },
	{ "receive_maximum", CONFIG_UINT, OFF(receive_maximum),
	    1, 65535, 1024, NULL, NULL,
	    0, 0 },
	{ "retain_available", CONFIG_BOOL, OFF(retain_available), 0, 1, 1,
	    NULL, NULL,
	    0, 0 },
	{ "max_qos", CONFIG_UINT, OFF(max_qos), 0, 2, 2, NULL, NULL,
	    0, 0 },
	{ "wildcard_subscription_available", CONFIG_BOOL,
	    OFF(wildcard_subscription_available), 0, 1, 1, NULL, NULL,
	    0, 0 },
	{ "subscription_identifier_available", CONFIG_BOOL,
	    OFF(subscription_identifier_available), 0, 1, 1, NULL, NULL,
	    0, 0 },
	{ "shared_subscription_available", CONFIG_BOOL,
	    OFF(shared_subscription_available), 0, 1, 1, NULL, NULL,
	    0, 0 },
	{ "response_information", CONFIG_STRING, OFF(response_information),
	    0, 0, 0, NULL, NULL,
	    RELOAD, 0 },
	{ "server_reference", CONFIG_FUNC, 0, 0, 0, 0, "none",
	    config_server_reference,
	    PER_LISTENER, 0 },
	{ "sys_interval", CONFIG_UINT, OFF(sys_interval), 0, 86400, 10,
	    NULL, NULL,
	    RELOAD, 0 },
	{ "node_name", CONFIG_STRING, OFF(node_name), 0, 0, 0, NULL, NULL,
	    0, 0 },
	{ "cluster_listener", CONFIG_FUNC, 0, 0, 0, 0, "none",
	    config_cluster_listener,
	    0, 0 },
	{ "cluster_peers", CONFIG_FUNC, 0, 0, 0, 0, "none",
	    config_cluster_peers,
	    0, 0 },
	{ "cluster_peers_dns", CONFIG_FUNC, 0, 0, 0, 0, "none",
	    config_cluster_dns, 0, 0 },
	{ "cluster_dns_interval", CONFIG_UINT, OFF(cluster_dns_interval),
	    1, 86400, 10, NULL, NULL, 0, 0 },
	{ "dns_resolv_conf", CONFIG_STRING, OFF(dns_resolv_conf), 0, 0, 0,
	    "/etc/resolv.conf", NULL, 0, 0 },
	{ "cluster_advertise", CONFIG_STRING, OFF(cluster_advertise), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "cluster_secret", CONFIG_FUNC, 0, 0, 0, 0, "none",
	    config_cluster_secret,
	    0, 0 },
	{ "cluster_certfile", CONFIG_STRING, OFF(cluster_certfile), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "cluster_keyfile", CONFIG_STRING, OFF(cluster_keyfile), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "cluster_cafile", CONFIG_STRING, OFF(cluster_cafile), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "cluster_route_grace", CONFIG_UINT, OFF(cluster_route_grace),
	    0, 86400, 60, NULL, NULL,
	    RELOAD, 0 },
	{ "cluster_sync_timeout", CONFIG_UINT, OFF(cluster_sync_timeout),
	    0, 60000, 2000, NULL, NULL,
	    0, 0 },
	{ "password_file", CONFIG_STRING, OFF(password_file), 0, 0, 0, NULL,
	    NULL,
	    0, 0 },
	{ "acl_file", CONFIG_STRING, OFF(acl_file), 0, 0, 0, NULL, NULL,
	    0, 0 },
	{ "allow_anonymous", CONFIG_FUNC, OFF(allow_anonymous), 0, 0, 0,
	    "true, or false when password_file or jwt_key_file is set",
	    config_allow_anonymous,
	    RELOAD, SIZE(allow_anonymous) },
	{ "jwt_key_file", CONFIG_STRING, OFF(jwt_key_file), 0, 0, 0, NULL,
	    NULL,
	    0, 0 },
	{ "jwt_alg", CONFIG_FUNC, 0, 0, 0, 0, "HS256", config_jwt_alg,
	    0, 0 },
	{ "jwt_username_claim", CONFIG_STRING, OFF(jwt_username_claim), 0, 0,
	    0, "sub", NULL,
	    0, 0 },
	{ "jwt_leeway", CONFIG_UINT, OFF(jwt_leeway), 0, 3600, 30, NULL,
	    NULL,
	    0, 0 },
	{ "certfile", CONFIG_LSTRING, LOFF(certfile), 0, 0, 0, NULL, NULL,
	    0, 0 },
	{ "keyfile", CONFIG_LSTRING, LOFF(keyfile), 0, 0, 0, NULL, NULL,
	    0, 0 },
	{ "cafile", CONFIG_LSTRING, LOFF(cafile), 0, 0, 0, NULL, NULL,
	    0, 0 },
	{ "capath", CONFIG_LSTRING, LOFF(capath), 0, 0, 0, NULL, NULL,
	    0, 0 },
	{ "ciphers", CONFIG_LSTRING, LOFF(ciphers), 0, 0, 0, "built-in",
	    NULL,
	    0, 0 },
	{ "require_certificate", CONFIG_LBOOL, LOFF(require_certificate),
	    0, 1, 0, NULL, NULL,
	    0, 0 },
	{ "use_identity_as_username", CONFIG_LBOOL,
	    LOFF(use_identity_as_username), 0, 1, 0, NULL, NULL,
	    0, 0 },
	{ "tls_version", CONFIG_FUNC, 0, 0, 0, 0, "tlsv1.2",
	    config_tls_version,
	    PER_LISTENER, 0 },
	{ "protocol", CONFIG_FUNC, 0, 0, 0, 0, "mqtt", config_protocol,
	    PER_LISTENER, 0 },
	{ "websockets_path", CONFIG_FUNC, 0, 0, 0, 0, WS_DEFAULT_PATH,
	    config_websockets_path,
	    PER_LISTENER, 0 },
	{ "http_listener", CONFIG_FUNC, 0, 0, 0, 0, "none",
	    config_http_listener,
	    0, 0 },
	{ "http_token_file", CONFIG_STRING, OFF(http_token_file), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "http_allow_anonymous", CONFIG_BOOL, OFF(http_allow_anonymous),
	    0, 1, 0, NULL, NULL,
	    0, 0 },
	{ "http_certfile", CONFIG_STRING, OFF(http_certfile), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "http_keyfile", CONFIG_STRING, OFF(http_keyfile), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "http_cafile", CONFIG_STRING, OFF(http_cafile), 0, 0, 0,
	    NULL, NULL,
	    0, 0 },
	{ "http_require_certificate", CONFIG_BOOL,
	    OFF(http_require_certificate), 0, 1, 0, NULL, NULL,
	    0, 0 },
	{ "connection", CONFIG_FUNC, OFF(bridges), 0, 0, 0, "none",
	    mqttbridge_conf_connection, RELOAD, SPAN(bridges, n_bridges) },
};

#define CONFIG_NKEYS (sizeof config_table / sizeof config_table[0])

void
config_init(struct config *c)
{
	const struct config_key *k;
	size_t i;

	memset(c, 0, sizeof *c);
	c->key_text = xcalloc(CONFIG_NKEYS, sizeof *c->key_text);
	c->log_level = LOG_NOTICE;
	c->allow_anonymous = -1;
	c->max_queued_bytes = strtoull(CONFIG_QUEUED_BYTES_DEFAULT, NULL, 10);
	c->max_retained_bytes = strtoull(CONFIG_RETAINED_BYTES_DEFAULT, NULL,
	    10);
	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_table[i];
		switch (k->type) {
		case CONFIG_UINT:
			*(uint32_t *)((char *)c + k->offset) = (uint32_t)k->def;
			break;
		case CONFIG_BOOL:
			*(int *)((char *)c + k->offset) = (int)k->def;
			break;
		case CONFIG_STRING:
			*(char **)((char *)c + k->offset) =
			    k->def_string ? xstrdup(k->def_string) : NULL;
			break;
		case CONFIG_FUNC:
		case CONFIG_LSTRING:
		case CONFIG_LBOOL:
			break;
		}
	}
}

const char *
config_key_name(size_t i)
{
	return i < CONFIG_NKEYS ? config_table[i].name : NULL;
}

void
config_key_default(size_t i, char *buf, size_t len)
{
	const struct config_key *k = &config_table[i];

	switch (k->type) {
	case CONFIG_UINT:
		snprintf(buf, len, "%lu", k->def);
		break;
	case CONFIG_BOOL:
	case CONFIG_LBOOL:
		snprintf(buf, len, "%s", k->def ? "true" : "false");
		break;
	case CONFIG_STRING:
	case CONFIG_FUNC:
	case CONFIG_LSTRING:
		snprintf(buf, len, "%s", k->def_string != NULL ?
		    k->def_string : "none");
		break;
	}
}

static char *
config_next_word(char **p)
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
	return w;
}

static int
config_parse_uint(const char *v, unsigned long min, unsigned long max,
    unsigned long *out)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int
config_parse_bool(const char *v)
{
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0)
		return 1;
	if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0)
		return 0;
	return -1;
}

/*
 * persistent_client_expiration <n>[s|m|h|d|w] (mosquitto accepts h, d, w,
 * m for months and y; here m is minutes, and a bare number is seconds;
 * "never" or 0 turns expiry off).
 */
static int
config_duration(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest), *end;
	unsigned long long n, mult = 1;

	if (v != NULL && strcmp(v, "never") == 0 &&
	    config_next_word(&rest) == NULL) {
		c->persistent_client_expiration = 0;
		return 0;
	}
	if (v == NULL || *v < '0' || *v > '9' ||
	    config_next_word(&rest) != NULL)
		goto bad;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		goto bad;
	switch (*end) {
	case '\0': case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 604800; break;
	default: goto bad;
	}
	if (*end != '\0' && end[1] != '\0')
		goto bad;
	if (n > UINT32_MAX / mult || n * mult >= UINT32_MAX)
		goto bad;
	c->persistent_client_expiration = (uint32_t)(n * mult);
	return 0;
bad:
	snprintf(err, errlen, "persistent_client_expiration must be 'never' "
	    "or a duration like 3600, 90m, 12h, 7d, 2w");
	return -1;
}

/* store_sync normal | full */
static int
config_store_sync(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest);

	if (v != NULL && config_next_word(&rest) == NULL) {
		if (strcmp(v, "normal") == 0) {
			c->store_sync_full = 0;
			return 0;
		}
		if (strcmp(v, "full") == 0) {
			c->store_sync_full = 1;
			return 0;
		}
	}
	snprintf(err, errlen, "store_sync must be 'normal' or 'full'");
	return -1;
}

/* A 64-bit number of bytes (0: no limit) into *out; -1 when v is not. */
static int
config_bytes(char *rest, uint64_t *out)
{
	char *v = config_next_word(&rest), *end;
	unsigned long long n;

	if (v == NULL || *v < '0' || *v > '9' ||
	    config_next_word(&rest) != NULL)
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

/* max_queued_bytes <bytes> (64-bit; 0: no byte limit) */
static int
config_queued_bytes(struct config *c, char *rest, char *err, size_t errlen)
{
	if (config_bytes(rest, &c->max_queued_bytes) == 0)
		return 0;
	snprintf(err, errlen, "max_queued_bytes must be a number of bytes "
	    "(0: no limit)");
	return -1;
}

/* max_retained_bytes <bytes> (64-bit; 0: no byte limit) */
static int
config_retained_bytes(struct config *c, char *rest, char *err,
    size_t errlen)
{
	if (config_bytes(rest, &c->max_retained_bytes) == 0)
		return 0;
	snprintf(err, errlen, "max_retained_bytes must be a number of bytes "
	    "(0: no limit)");
	return -1;
}

/* server_reference <string>: for the listener above it, or the default
 * for every listener when no listener line precedes it. */
static int
config_server_reference(struct config *c, char *rest, char *err,
    size_t errlen)
{
	char *v = config_next_word(&rest);
	char **where;

	if (v == NULL || config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "server_reference takes one value");
		return -1;
	}
	where = c->n_listeners > 0 ?
	    &c->listeners[c->n_listeners - 1].server_reference :
	    &c->server_reference;
	free(*where);
	*where = xstrdup(v);
	return 0;
}

/* Split "host:port" (the host may be "[v6]") into a copy of the host and
 * the port. Returns 0, or -1 when malformed. */
static int
config_host_port(const char *v, char **host, uint16_t *port)
{
	const char *colon = strrchr(v, ':');
	const char *h = v, *he;
	unsigned long n;

	if (colon == NULL || config_parse_uint(colon + 1, 1, 65535, &n) != 0)
		return -1;
	he = colon;
	if (*h == '[' && he > h + 1 && he[-1] == ']') {
		h++;
		he--;
	}
	if (he == h)
		return -1;
	*host = xstrndup(h, (size_t)(he - h));
	*port = (uint16_t)n;
	return 0;
}

/*
 * cluster_secret <string>: the rest of the line, spaces included, at
 * least BRIDGE_SECRET_MIN bytes. A link that presents it is trusted with
 * every client's messages (bridge/secret.c), so a short one, which could
 * be guessed, is refused here rather than warned about.
 */
static int
config_cluster_secret(struct config *c, char *rest, char *err,
    size_t errlen)
{
	size_t len;

	while (*rest == ' ' || *rest == '\t')
		rest++;
	len = strlen(rest);
	if (len < BRIDGE_SECRET_MIN) {
		snprintf(err, errlen, "cluster_secret must be at least %d bytes "
		    "long, this one has %zu (a random one: openssl rand "
		    "-base64 24)", BRIDGE_SECRET_MIN, len);
		return -1;
	}
	free(c->cluster_secret);
	c->cluster_secret = xstrdup(rest);
	return 0;
}

/* cluster_listener <address>:<port> */
static int
config_cluster_listener(struct config *c, char *rest, char *err,
    size_t errlen)
{
	char *v = config_next_word(&rest), *host;
	uint16_t port;

	if (v == NULL || config_next_word(&rest) != NULL ||
	    config_host_port(v, &host, &port) != 0) {
		snprintf(err, errlen, "cluster_listener takes one "
		    "address:port, e.g. 10.0.0.1:7883");
		return -1;
	}
	if (c->cluster_listener == NULL)
		c->cluster_listener = xcalloc(1, sizeof *c->cluster_listener);
	free(c->cluster_listener->address);
	c->cluster_listener->address = host;
	c->cluster_listener->port = port;
	c->cluster_listener->cluster = 1;
	return 0;
}

/* cluster_peers <host>:<port> ... (the key may be repeated) */
static int
config_cluster_peers(struct config *c, char *rest, char *err, size_t errlen)
{
	struct cluster_peer_conf *p;
	char *v;
	int n = 0;

	while ((v = config_next_word(&rest)) != NULL) {
		c->cluster_peers = xreallocarray(c->cluster_peers,
		    c->n_cluster_peers + 1, sizeof *c->cluster_peers);
		p = &c->cluster_peers[c->n_cluster_peers];
		if (config_host_port(v, &p->host, &p->port) != 0) {
			snprintf(err, errlen, "cluster_peers: '%s' is not "
			    "host:port", v);
			return -1;
		}
		c->n_cluster_peers++;
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "cluster_peers needs at least one "
		    "host:port");
		return -1;
	}
	return 0;
}

/*
 * cluster_peers_dns <name>:<port>: the nodes are the addresses of a
 * name (a Kubernetes headless service), resolved again every
 * cluster_dns_interval (bridge/dns.c).
 */
static int
config_cluster_dns(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest), *host;
	uint16_t port;

	if (v == NULL || config_next_word(&rest) != NULL ||
	    config_host_port(v, &host, &port) != 0) {
		snprintf(err, errlen, "cluster_peers_dns takes one "
		    "<name>:<port>");
		return -1;
	}
	free(c->cluster_dns_host);
	c->cluster_dns_host = host;
	c->cluster_dns_port = port;
	return 0;
}

/*
 * allow_anonymous true | false. Its default depends on password_file
 * (config_finish), so an explicit value is kept apart from none at all.
 */
static int
config_allow_anonymous(struct config *c, char *rest, char *err,
    size_t errlen)
{
	char *v = config_next_word(&rest);
	int b = v != NULL ? config_parse_bool(v) : -1;

	if (b < 0 || config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "allow_anonymous must be true or false");
		return -1;
	}
	c->allow_anonymous = b;
	return 0;
}

/* jwt_alg HS256 | RS256 | ES256 */
static int
config_jwt_alg(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest);
	int a = v != NULL ? jwt_alg_parse(v) : -1;

	if (a < 0 || config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "jwt_alg must be HS256, RS256 or ES256");
		return -1;
	}
	c->jwt_alg = (uint32_t)a;
	return 0;
}

/* tls_version tlsv1.2: mosquitto's key; mbedTLS 2.28 has no TLS 1.3
 * and tern allows nothing older than 1.2, so one value is accepted. */
static int
config_tls_version(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest);

	if (c->n_listeners == 0) {
		snprintf(err, errlen, "tls_version must follow a listener line");
		return -1;
	}
	if (v == NULL || strcmp(v, "tlsv1.2") != 0 ||
	    config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "tls_version must be tlsv1.2 (the only "
		    "version this build speaks)");
		return -1;
	}
	return 0;
}

/* protocol mqtt | websockets, for the listener above it (mosquitto's
 * key and values). */
static int
config_protocol(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest);

	if (c->n_listeners == 0) {
		snprintf(err, errlen, "protocol must follow a listener line");
		return -1;
	}
	if (v == NULL || config_next_word(&rest) != NULL ||
	    (strcmp(v, "mqtt") != 0 && strcmp(v, "websockets") != 0)) {
		snprintf(err, errlen, "protocol must be mqtt or websockets");
		return -1;
	}
	c->listeners[c->n_listeners - 1].websockets =
	    strcmp(v, "websockets") == 0;
	return 0;
}

/* websockets_path /path: the path of the Upgrade request. */
static int
config_websockets_path(struct config *c, char *rest, char *err,
    size_t errlen)
{
	struct listener_conf *l;
	char *v = config_next_word(&rest);
	const char *p;

	if (c->n_listeners == 0) {
		snprintf(err, errlen, "websockets_path must follow a listener "
		    "line");
		return -1;
	}
	if (v == NULL || config_next_word(&rest) != NULL || v[0] != '/' ||
	    strlen(v) > 255)
		goto bad;
	for (p = v; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' ||
		    *p == '#')
			goto bad;
	}
	l = &c->listeners[c->n_listeners - 1];
	free(l->websockets_path);
	l->websockets_path = xstrdup(v);
	return 0;
bad:
	snprintf(err, errlen, "websockets_path must be a path starting with "
	    "'/', without spaces, '?' or '#' (up to 255 bytes)");
	return -1;
}

/*
 * max_connections <n>: for the listener above it, or for every listener
 * without its own when no listener line precedes it (as
 * server_reference). -1 (mosquitto's spelling) and 0 both mean no limit.
 */
static int
config_max_connections(struct config *c, char *rest, char *err,
    size_t errlen)
{
	char *v = config_next_word(&rest);
	struct listener_conf *l;
	unsigned long n;

	if (v != NULL && strcmp(v, "-1") == 0)
		n = 0;
	else if (v == NULL || config_parse_uint(v, 0, INT_MAX, &n) != 0)
		goto bad;
	if (config_next_word(&rest) != NULL)
		goto bad;
	if (c->n_listeners > 0) {
		l = &c->listeners[c->n_listeners - 1];
		l->max_connections = (int)n;
		l->max_connections_set = 1;
	} else
		c->max_connections = (int)n;
	return 0;
bad:
	snprintf(err, errlen, "max_connections must be -1 (no limit) or a "
	    "number from 0 to %d", INT_MAX);
	return -1;
}

/*
 * presence_topic <pattern>: a topic name but for %c (client id) and %u
 * (user name), which it must have once at least: presence.c publishes
 * one retained message per client there, and one topic for two clients
 * would have each overwrite the other's. Wildcards, a "$" start and any
 * other % are refused, so every expansion is a topic a client could
 * publish to.
 */
static int
config_presence_topic(struct config *c, char *rest, char *err,
    size_t errlen)
{
	char *v = config_next_word(&rest);
	const char *p;
	int has_c = 0;

	if (v == NULL || config_next_word(&rest) != NULL || v[0] == '$' ||
	    strlen(v) > 1024 || !mqtt_utf8_valid((const uint8_t *)v,
	    strlen(v)))
		goto bad;
	for (p = v; *p != '\0'; p++) {
		if (*p == '+' || *p == '#')
			goto bad;
		if (*p == '%') {
			if (p[1] == 'c')
				has_c = 1;
			else if (p[1] != 'u')
				goto bad;
			p++;
		}
	}
	if (!has_c)
		goto bad;
	free(c->presence_topic);
	c->presence_topic = xstrdup(v);
	return 0;
bad:
	snprintf(err, errlen, "presence_topic must be a topic name with %%c "
	    "(and optionally %%u), without '+', '#', other '%%' or a leading "
	    "'$'");
	return -1;
}

/* presence_clients persistent | all */
static int
config_presence_clients(struct config *c, char *rest, char *err,
    size_t errlen)
{
	char *v = config_next_word(&rest);

	if (v == NULL || config_next_word(&rest) != NULL ||
	    (strcmp(v, "persistent") != 0 && strcmp(v, "all") != 0)) {
		snprintf(err, errlen, "presence_clients must be persistent or "
		    "all");
		return -1;
	}
	c->presence_all = strcmp(v, "all") == 0;
	return 0;
}

/*
 * push_webhook http://host[:port][/path]: where push.c POSTs its events.
 * Plain http only: libevent 2.1 has no mbedTLS bufferevent, so https goes
 * through a sidecar on the node (tern.conf(5)); an https URL is refused
 * rather than sent in clear. No user:password@ (the signature is the
 * authentication) and no #fragment; the path keeps its query.
 */
static int
config_push_webhook(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest), *host, num[8];
	const char *h, *he, *pe, *p;
	unsigned long port = 80;

	if (v == NULL || config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "push_webhook takes one URL, e.g. "
		    "http://127.0.0.1:8080/push");
		return -1;
	}
	if (strncasecmp(v, "https://", 8) == 0) {
		snprintf(err, errlen, "push_webhook: https is not supported "
		    "(libevent 2.1 has no TLS for it here): use a local proxy "
		    "that forwards http://127.0.0.1:<port>/... to your https "
		    "server");
		return -1;
	}
	if (strncasecmp(v, "http://", 7) != 0) {
		snprintf(err, errlen, "push_webhook must be an http:// URL, "
		    "not '%s'", v);
		return -1;
	}
	h = v + 7;
	pe = h + strcspn(h, "/?");
	for (p = v; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#' ||
		    (*p == '@' && p < pe)) {
			snprintf(err, errlen, "push_webhook: '%s' has a "
			    "character it may not have (space, control, '#', "
			    "or user@ before the host)", v);
			return -1;
		}
	}
	if (*h == '[') {
		he = memchr(h, ']', (size_t)(pe - h));
		if (he == NULL || he == h + 1)
			goto bad_host;
		h++;
		p = he + 1;
	} else {
		he = memchr(h, ':', (size_t)(pe - h));
		if (he == NULL)
			he = pe;
		p = he;
	}
	if (he == h)
		goto bad_host;
	if (p < pe) {
		if (*p != ':' || pe - p - 1 < 1 || pe - p - 1 > 5)
			goto bad_port;
		memcpy(num, p + 1, (size_t)(pe - p - 1));
		num[pe - p - 1] = '\0';
		if (config_parse_uint(num, 1, 65535, &port) != 0)
			goto bad_port;
	}
	host = xstrndup(h, (size_t)(he - h));
	free(c->push_webhook);
	free(c->push_host);
	free(c->push_path);
	c->push_webhook = xstrdup(v);
	c->push_host = host;
	c->push_port = (uint16_t)port;
	if (*pe == '?') {
		c->push_path = xmalloc(strlen(pe) + 2);
		c->push_path[0] = '/';
		strcpy(c->push_path + 1, pe);
	} else
		c->push_path = xstrdup(*pe == '\0' ? "/" : pe);
	return 0;
bad_host:
	snprintf(err, errlen, "push_webhook: '%s' has no host (http://host"
	    "[:port]/path)", v);
	return -1;
bad_port:
	snprintf(err, errlen, "push_webhook: '%s' has a bad port (1 to "
	    "65535)", v);
	return -1;
}

/*
 * push_webhook_secret <string>: the rest of the line, at least
 * PUSH_SECRET_MIN bytes. Requests are sent in clear (http), so whoever
 * sees one has a body and its HMAC: a short key could be found from them
 * offline.
 */
#define PUSH_SECRET_MIN 16

static int
config_push_secret(struct config *c, char *rest, char *err, size_t errlen)
{
	size_t len;

	while (*rest == ' ' || *rest == '\t')
		rest++;
	len = strlen(rest);
	if (len < PUSH_SECRET_MIN) {
		snprintf(err, errlen, "push_webhook_secret must be at least %d "
		    "bytes long, this one has %zu (a random one: openssl rand "
		    "-hex 32)", PUSH_SECRET_MIN, len);
		return -1;
	}
	free(c->push_secret);
	c->push_secret = xstrdup(rest);
	return 0;
}

/* http_listener <port> [<bind address>]: one only, 127.0.0.1 unless
 * told; whether it may go without a token is http.c's check. */
static int
config_http_listener(struct config *c, char *rest, char *err, size_t errlen)
{
	char *port = config_next_word(&rest);
	char *addr = config_next_word(&rest);
	unsigned long n;

	if (port == NULL || config_parse_uint(port, 0, 65535, &n) != 0 ||
	    config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "http_listener takes a port from 0 to "
		    "65535 and an optional bind address");
		return -1;
	}
	c->http_listener = 1;
	c->http_port = (uint16_t)n;
	free(c->http_address);
	c->http_address = xstrdup(addr != NULL ? addr : "127.0.0.1");
	return 0;
}

/* listener <port> [<bind address>] */
static int
config_listener(struct config *c, char *rest, char *err, size_t errlen)
{
	char *port = config_next_word(&rest);
	char *addr = config_next_word(&rest);
	unsigned long n;
	struct listener_conf *l;

	if (port == NULL || config_parse_uint(port, 0, 65535, &n) != 0) {
		snprintf(err, errlen, "listener needs a port from 0 to 65535");
		return -1;
	}
	if (config_next_word(&rest) != NULL) {
		snprintf(err, errlen,
		    "listener takes a port and an optional bind address");
		return -1;
	}
	c->listeners = xreallocarray(c->listeners, c->n_listeners + 1,
	    sizeof *c->listeners);
	l = &c->listeners[c->n_listeners++];
	memset(l, 0, sizeof *l);
	l->port = (uint16_t)n;
	l->address = addr != NULL ? xstrdup(addr) : NULL;
	return 0;
}

/* log_dest stderr | file <path> */
static int
config_log_dest(struct config *c, char *rest, char *err, size_t errlen)
{
	char *what = config_next_word(&rest);
	char *path;

	if (what != NULL && strcmp(what, "stderr") == 0 &&
	    config_next_word(&rest) == NULL) {
		free(c->log_file);
		c->log_file = NULL;
		return 0;
	}
	if (what != NULL && strcmp(what, "file") == 0) {
		while (*rest == ' ' || *rest == '\t')
			rest++;
		path = rest;
		if (*path != '\0') {
			free(c->log_file);
			c->log_file = xstrdup(path);
			return 0;
		}
	}
	snprintf(err, errlen, "log_dest must be 'stderr' or 'file <path>'");
	return -1;
}

static int
config_log_level(struct config *c, char *rest, char *err, size_t errlen)
{
	char *v = config_next_word(&rest);
	int level = v != NULL ? log_level_parse(v) : -1;

	if (level < 0 || config_next_word(&rest) != NULL) {
		snprintf(err, errlen, "log_level must be one of error, "
		    "warning, notice, info, debug");
		return -1;
	}
	c->log_level = level;
	return 0;
}

/*
 * Keep the value of key i as given on a line (after the listener's
 * number for a key of a listener): config_reload tells a changed FUNC or
 * per-listener key by this text, as their values are spread over fields.
 */
static void
config_note(struct config *c, size_t i, const char *value)
{
	const struct config_key *k = &config_table[i];
	char *old = c->key_text[i], *t;
	size_t len = strlen(value) + 32 + (old != NULL ? strlen(old) : 0);

	t = xmalloc(len);
	if ((k->flags & PER_LISTENER || k->type == CONFIG_LSTRING ||
	    k->type == CONFIG_LBOOL) && c->n_listeners > 0)
		snprintf(t, len, "%s%zu %s\n", old != NULL ? old : "",
		    c->n_listeners, value);
	else
		snprintf(t, len, "%s%s\n", old != NULL ? old : "", value);
	free(old);
	c->key_text[i] = t;
}

/* The value of k (the rest of its line) into c; 0, or -1 with msg. */
static int
config_value(struct config *c, const struct config_key *k, char *rest,
    char *msg, size_t msglen)
{
	unsigned long n;
	char *value, *base;
	int b;

	if (k->type == CONFIG_FUNC)
		return k->fn(c, rest, msg, msglen);
	if ((k->type == CONFIG_LSTRING || k->type == CONFIG_LBOOL) &&
	    c->n_listeners == 0) {
		snprintf(msg, msglen, "%s must follow a listener line",
		    k->name);
		return -1;
	}
	value = config_next_word(&rest);
	if (value == NULL) {
		snprintf(msg, msglen, "%s needs a value", k->name);
		return -1;
	}
	if (k->type != CONFIG_STRING && k->type != CONFIG_LSTRING &&
	    config_next_word(&rest) != NULL) {
		snprintf(msg, msglen, "%s takes one value", k->name);
		return -1;
	}
	switch (k->type) {
	case CONFIG_UINT:
		if (config_parse_uint(value, k->min, k->max, &n) != 0) {
			snprintf(msg, msglen,
			    "%s must be a number from %lu to %lu, not '%s'",
			    k->name, k->min, k->max, value);
			return -1;
		}
		*(uint32_t *)((char *)c + k->offset) = (uint32_t)n;
		break;
	case CONFIG_BOOL:
	case CONFIG_LBOOL:
		b = config_parse_bool(value);
		if (b < 0) {
			snprintf(msg, msglen,
			    "%s must be true or false, not '%s'", k->name,
			    value);
			return -1;
		}
		base = k->type == CONFIG_BOOL ? (char *)c :
		    (char *)&c->listeners[c->n_listeners - 1];
		*(int *)(base + k->offset) = b;
		break;
	case CONFIG_STRING:
		/* The rest of the line belongs to the value (paths). */
		if (*rest != '\0')
			value[strlen(value)] = ' ';
		free(*(char **)((char *)c + k->offset));
		*(char **)((char *)c + k->offset) = xstrdup(value);
		break;
	case CONFIG_LSTRING:
		/* A path, as for CONFIG_STRING: spaces are kept. */
		if (*rest != '\0')
			value[strlen(value)] = ' ';
		base = (char *)&c->listeners[c->n_listeners - 1];
		free(*(char **)(base + k->offset));
		*(char **)(base + k->offset) = xstrdup(value);
		break;
	case CONFIG_FUNC:
		break;
	}
	return 0;
}

int
config_line(struct config *c, const char *file, unsigned line, char *text,
    char *err, size_t errlen)
{
	const struct config_key *k = NULL;
	char msg[256], *key, *rest = text, *raw;
	size_t i;

	key = config_next_word(&rest);
	if (key == NULL)
		return 0;
	c->line = line;
	/* The keys after a connection line are its own (mqttbridge.c). */
	if (c->n_bridges > 0 && strcmp(key, "connection") != 0) {
		/* Noted with the connection line, so that a change in a
		 * section is seen by config_reload (bridges: restart). */
		raw = xmalloc(strlen(key) + strlen(rest) + 2);
		sprintf(raw, "%s %s", key, rest);
		if (mqttbridge_conf_key(c, key, rest, msg, sizeof msg) != 0) {
			free(raw);
			snprintf(err, errlen, "%s:%u: %s", file, line, msg);
			return -1;
		}
		for (i = 0; i < CONFIG_NKEYS; i++)
			if (strcmp(config_table[i].name, "connection") == 0)
				config_note(c, i, raw);
		free(raw);
		return 0;
	}
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_table[i].name, key) == 0) {
			k = &config_table[i];
			break;
		}
	}
	if (k == NULL) {
		snprintf(err, errlen, "%s:%u: unknown key '%s'", file, line,
		    key);
		return -1;
	}
	/* The parsers cut rest into words: note it as it was. */
	raw = xstrdup(rest);
	if (config_value(c, k, rest, msg, sizeof msg) != 0) {
		free(raw);
		snprintf(err, errlen, "%s:%u: %s", file, line, msg);
		return -1;
	}
	config_note(c, i, raw);
	free(raw);
	return 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char buf[4096];
	unsigned line = 0;
	size_t len;
	char *s;
	int rc = 0;

	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof buf, fp) != NULL) {
		line++;
		len = strlen(buf);
		if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%u: line too long", path,
			    line);
			rc = -1;
			break;
		}
		while (len > 0 && (buf[len - 1] == '\n' ||
		    buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		    buf[len - 1] == '\t'))
			buf[--len] = '\0';
		s = buf;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\0')
			continue;
		if (config_line(c, path, line, s, err, errlen) != 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	if (rc == 0)
		rc = mqttbridge_conf_check(c, path, err, errlen);
	fclose(fp);
	return rc;
}

/* Free what one listener_conf owns; its TLS context belongs to tls.c. */
static void
config_listener_free(struct listener_conf *l)
{
	free(l->address);
	free(l->server_reference);
	free(l->certfile);
	free(l->keyfile);
	free(l->cafile);
	free(l->capath);
	free(l->ciphers);
	free(l->websockets_path);
}

void
config_set_port(struct config *c, uint16_t port)
{
	size_t i;

	for (i = 0; i < c->n_listeners; i++)
		config_listener_free(&c->listeners[i]);
	c->listeners = xreallocarray(c->listeners, 1, sizeof *c->listeners);
	c->n_listeners = 1;
	memset(&c->listeners[0], 0, sizeof c->listeners[0]);
	c->listeners[0].port = port;
	c->listeners[0].address = xstrdup("127.0.0.1");
}

void
config_finish(struct config *c)
{
	size_t i;

	if (c->n_listeners == 0)
		config_set_port(c, 1883);
	/* Setting up passwords and still letting anyone in would be a
	 * surprise: that takes an explicit allow_anonymous true. */
	if (c->allow_anonymous < 0)
		c->allow_anonymous = c->password_file == NULL &&
		    c->jwt_key_file == NULL;
	for (i = 0; i < c->n_listeners; i++) {
		if (c->listeners[i].server_reference == NULL &&
		    c->server_reference != NULL)
			c->listeners[i].server_reference =
			    xstrdup(c->server_reference);
		if (!c->listeners[i].max_connections_set)
			c->listeners[i].max_connections = c->max_connections;
	}
}

void
config_free(struct config *c)
{
	size_t i;

	for (i = 0; i < c->n_listeners; i++)
		config_listener_free(&c->listeners[i]);
	free(c->listeners);
	free(c->data_dir);
	free(c->log_file);
	free(c->response_information);
	free(c->server_reference);
	if (c->cluster_listener != NULL) {
		config_listener_free(c->cluster_listener);
		free(c->cluster_listener);
	}
	for (i = 0; i < c->n_cluster_peers; i++)
		free(c->cluster_peers[i].host);
	free(c->cluster_peers);
	free(c->node_name);
	free(c->cluster_secret);
	free(c->cluster_advertise);
	free(c->cluster_certfile);
	free(c->cluster_keyfile);
	free(c->cluster_cafile);
	free(c->password_file);
	free(c->jwt_key_file);
	free(c->jwt_username_claim);
	free(c->acl_file);
	free(c->presence_topic);
	free(c->push_webhook);
	free(c->push_host);
	free(c->push_path);
	free(c->push_secret);
	free(c->http_address);
	free(c->http_token_file);
	free(c->http_certfile);
	free(c->http_keyfile);
	free(c->http_cafile);
	mqttbridge_conf_free(c);
	free(c->cluster_dns_host);
	free(c->dns_resolv_conf);
	for (i = 0; c->key_text != NULL && i < CONFIG_NKEYS; i++)
		free(c->key_text[i]);
	free(c->key_text);
	memset(c, 0, sizeof *c);
}

int
config_reloadable(size_t i)
{
	return i < CONFIG_NKEYS && (config_table[i].flags & RELOAD) != 0;
}

/* 1 when key i has another value in a than in b: compared as values for
 * the plain types, as the text of their lines for the others. */
static int
config_differs(const struct config *a, const struct config *b, size_t i)
{
	const struct config_key *k = &config_table[i];
	const char *pa = (const char *)a + k->offset;
	const char *pb = (const char *)b + k->offset;
	const char *sa, *sb;

	switch (k->type) {
	case CONFIG_UINT:
		return *(const uint32_t *)pa != *(const uint32_t *)pb;
	case CONFIG_BOOL:
		return *(const int *)pa != *(const int *)pb;
	case CONFIG_STRING:
		sa = *(char *const *)pa;
		sb = *(char *const *)pb;
		break;
	default:
		sa = a->key_text[i];
		sb = b->key_text[i];
		break;
	}
	if (sa == NULL || sb == NULL)
		return sa != sb;
	return strcmp(sa, sb) != 0;
}

/* The limits of live's listeners from fresh (max_connections changed). */
static void
config_reload_listeners(struct config *live, const struct config *fresh,
    const char *file)
{
	struct listener_conf *l;
	size_t i;

	if (live->n_listeners == fresh->n_listeners) {
		for (i = 0; i < live->n_listeners; i++) {
			live->listeners[i].max_connections_set =
			    fresh->listeners[i].max_connections_set;
			live->listeners[i].max_connections =
			    fresh->listeners[i].max_connections;
		}
	} else
		log_warn("max_connections of the listeners in %s: their "
		    "listener lines changed, restart ternd to apply", file);
	for (i = 0; i < live->n_listeners; i++) {
		l = &live->listeners[i];
		if (!l->max_connections_set)
			l->max_connections = live->max_connections;
	}
}

int
config_reload(struct config *live, struct config *fresh, const char *file)
{
	const struct config_key *k;
	unsigned char tmp[64];
	char *text;
	size_t i, size;
	int applied = 0;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_table[i];
		if (!config_differs(live, fresh, i))
			continue;
		if (!(k->flags & RELOAD)) {
			log_warn("%s changed in %s: restart ternd to apply",
			    k->name, file);
			continue;
		}
		switch (k->type) {
		case CONFIG_UINT:
			size = sizeof(uint32_t);
			break;
		case CONFIG_BOOL:
			size = sizeof(int);
			break;
		case CONFIG_STRING:
			size = sizeof(char *);
			break;
		default:
			size = k->size;
			break;
		}
		/* Swapped, not copied: fresh keeps what live had, for the
		 * reload hooks to compare and config_free to free. */
		assert(size > 0 && size <= sizeof tmp);
		memcpy(tmp, (char *)live + k->offset, size);
		memcpy((char *)live + k->offset, (char *)fresh + k->offset,
		    size);
		memcpy((char *)fresh + k->offset, tmp, size);
		text = live->key_text[i];
		live->key_text[i] = fresh->key_text[i];
		fresh->key_text[i] = text;
		if (k->fn == config_max_connections)
			config_reload_listeners(live, fresh, file);
		log_notice("%s changed in %s: applied", k->name, file);
		applied++;
	}
	return applied;
}
