/*
 * common.c - option parsing, connection and error reporting shared by
 * tern-pub and tern-sub.
 *
 * Design note.
 *
 * Options. One table (common_opts[]) lists every option with the
 * programs it applies to, its argument and its help line; the getopt
 * strings, --help and the usage line are built from it, so the two
 * programs cannot drift apart on the options they share. The short
 * options are mosquitto_pub/mosquitto_sub's where they overlap (-h -p -t
 * -m -f -l -n -s -q -r -i -I -u -P -k -V -c -x -d -v -C -W -N -R -E -D -F)
 * with the same meaning; -e (message expiry) is ours. Parsing stops at the
 * first non-option ('+' getopt), since neither program takes operands;
 * that also keeps argv in place for -D, which takes two or three words.
 *
 * MQTT 5 properties come from -D CMD NAME VALUE (mosquitto's spelling)
 * and from the shorthand options (-x, -e, --content-type, --prop ...).
 * They are checked and recorded at parse time, and copied into one Paho
 * MQTTProperties list per packet (CONNECT, PUBLISH, SUBSCRIBE, DISCONNECT,
 * will) only once the Paho client exists, and freed before it is
 * destroyed: Paho's allocator keeps a table of its blocks that is reset
 * when the first client is created and when the last one is destroyed,
 * and a block it does not find there is never freed (LeakSanitizer shows
 * them). A property given twice, or any MQTT 5 option with -V 311, is a
 * usage error (exit 2) rather than a silent drop.
 *
 * Connection. Paho's MQTTAsync runs its own send and receive threads and
 * reports through callbacks. The programs are sequential (connect,
 * subscribe or publish, disconnect), so each step here is "call Paho,
 * then wait on one condition variable until a callback has written the
 * outcome into struct common_client under its mutex". The main thread
 * waits in slices of at most 100 ms so that SIGINT/SIGTERM (which only set
 * a flag) end a wait promptly. MQTTClient (the synchronous library) was
 * not used: it needs the same threads for keep alive while tern-pub -l
 * waits on stdin, and its API hides PUBACK reason codes.
 *
 * Errors. Paho's connect failure carries the CONNACK reason code (3.1.1
 * return code) but not the CONNACK properties, so a refused CONNECT is
 * reported by its code and name only (the broker's reason string is lost
 * inside Paho 1.3). Reason strings are shown where Paho passes them on:
 * DISCONNECT from the broker, PUBACK/PUBREC and SUBACK. When Paho reports
 * a TCP failure without errno, common_connect() repeats the TCP connect
 * itself, once, to name the cause (connection refused, unknown host,
 * timeout).
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* Long-only options get codes above the char range. */
enum {
	OPT_HELP = 256,
	OPT_WILL_TOPIC,
	OPT_WILL_PAYLOAD,
	OPT_WILL_QOS,
	OPT_WILL_RETAIN,
	OPT_CONTENT_TYPE,
	OPT_RESPONSE_TOPIC,
	OPT_CORRELATION_DATA,
	OPT_PROP,
	OPT_NO_ALIAS,
	OPT_JSON,
	OPT_HEX,
	OPT_NO_LOCAL,
	OPT_RAP,
	OPT_RH,
	OPT_SUB_ID,
	OPT_VERSION
};

#define BOTH	(COMMON_PUB | COMMON_SUB)
#define PUB	COMMON_PUB
#define SUB	COMMON_SUB

struct common_opt {
	int		 code;		/* short option char or OPT_* */
	const char	*name;		/* long name, NULL if none */
	int		 has_arg;
	int		 which;		/* COMMON_PUB and/or COMMON_SUB */
	const char	*arg;		/* argument name in --help */
	const char	*help;
};

static const struct common_opt common_opts[] = {
	{ 'h', "host", 1, BOTH, "HOST", "broker host (default localhost)" },
	{ 'p', "port", 1, BOTH, "PORT", "broker port (default 1883)" },
	{ 'V', "protocol-version", 1, BOTH, "VERSION",
	    "mqttv5 or 5, mqttv311 or 311 (default), mqttv31 or 31" },
	{ 'i', "id", 1, BOTH, "ID", "client id (default: generated)" },
	{ 'I', "id-prefix", 1, BOTH, "PREFIX",
	    "generated client id starts with PREFIX" },
	{ 'u', "username", 1, BOTH, "USER", "user name" },
	{ 'P', "pw", 1, BOTH, "PASSWORD", "password" },
	{ 'k', "keepalive", 1, BOTH, "SECS", "keep alive (default 60)" },
	{ 'c', "disable-clean-session", 0, BOTH, NULL,
	    "persistent session (needs -i; v5: expiry never unless -x)" },
	{ 'x', "session-expiry", 1, BOTH, "SECS",
	    "v5 session expiry interval (-1: never)" },
	{ 'q', "qos", 1, BOTH, "QOS", "QoS of the messages (0, 1, 2)" },
	{ 'd', "debug", 0, BOTH, NULL, "print MQTT events on stderr" },
	{ 'D', "property", 1, BOTH, "CMD NAME VALUE",
	    "v5 property on a packet (connect, publish, subscribe, "
	    "disconnect, will)" },
	{ OPT_WILL_TOPIC, "will-topic", 1, BOTH, "TOPIC", "will topic" },
	{ OPT_WILL_PAYLOAD, "will-payload", 1, BOTH, "TEXT", "will payload" },
	{ OPT_WILL_QOS, "will-qos", 1, BOTH, "QOS", "will QoS" },
	{ OPT_WILL_RETAIN, "will-retain", 0, BOTH, NULL, "retain the will" },
	{ 't', "topic", 1, BOTH, "TOPIC",
	    "topic (tern-sub: filter, may be repeated)" },

	{ 'm', "message", 1, PUB, "TEXT", "send TEXT" },
	{ 'f', "file", 1, PUB, "FILE", "send the contents of FILE" },
	{ 'l', "stdin-line", 0, PUB, NULL, "send each line of stdin" },
	{ 'n', "null-message", 0, PUB, NULL, "send an empty message" },
	{ 's', "stdin-file", 0, PUB, NULL, "send all of stdin as one message" },
	{ 'r', "retain", 0, PUB, NULL, "retain the message" },
	{ 'e', "message-expiry", 1, PUB, "SECS",
	    "v5 message expiry interval" },
	{ OPT_CONTENT_TYPE, "content-type", 1, PUB, "TYPE",
	    "v5 content type" },
	{ OPT_RESPONSE_TOPIC, "response-topic", 1, PUB, "TOPIC",
	    "v5 response topic" },
	{ OPT_CORRELATION_DATA, "correlation-data", 1, PUB, "DATA",
	    "v5 correlation data" },
	{ OPT_NO_ALIAS, "no-topic-alias", 0, PUB, NULL,
	    "v5: never use a topic alias for -l" },

	{ 'C', "count", 1, SUB, "N", "exit after N messages" },
	{ 'W', "timeout", 1, SUB, "SECS",
	    "exit with status 27 after SECS seconds" },
	{ 'v', "verbose", 0, SUB, NULL, "print the topic before the payload" },
	{ 'N', NULL, 0, SUB, NULL, "no newline after each message" },
	{ 'R', "no-retained", 0, SUB, NULL,
	    "do not print retained messages" },
	{ 'E', NULL, 0, SUB, NULL, "exit once subscribed" },
	{ 'F', "format", 1, SUB, "FORMAT",
	    "json, hex, or a format with %t %p %x %q %r %l %j" },
	{ OPT_JSON, "json", 0, SUB, NULL,
	    "one JSON object per message, with properties" },
	{ OPT_HEX, "hex", 0, SUB, NULL, "print the payload in hex" },
	{ OPT_NO_LOCAL, "no-local", 0, SUB, NULL,
	    "v5: not my own messages" },
	{ OPT_RAP, "retain-as-published", 0, SUB, NULL,
	    "v5: keep the retain flag as published" },
	{ OPT_RH, "retain-handling", 1, SUB, "N",
	    "v5: retained on subscribe: 0 always, 1 if new, 2 never" },
	{ OPT_SUB_ID, "sub-id", 1, SUB, "N", "v5 subscription identifier" },

	{ OPT_PROP, "prop", 1, BOTH, "KEY=VALUE",
	    "v5 user property (tern-pub: PUBLISH, tern-sub: SUBSCRIBE)" },
	{ OPT_HELP, "help", 0, BOTH, NULL, "this help" },
	{ OPT_VERSION, "version", 0, BOTH, NULL, "print the version" },
};
#define NOPTS (sizeof common_opts / sizeof common_opts[0])

/* -D commands. */
#define CMD_CONNECT	0x01
#define CMD_PUBLISH	0x02
#define CMD_SUBSCRIBE	0x04
#define CMD_DISCONNECT	0x08
#define CMD_WILL	0x10

static const struct {
	const char	*name;
	int		 cmd;
	int		 which;
} common_cmds[] = {
	{ "connect", CMD_CONNECT, BOTH },
	{ "publish", CMD_PUBLISH, PUB },
	{ "subscribe", CMD_SUBSCRIBE, SUB },
	{ "disconnect", CMD_DISCONNECT, BOTH },
	{ "will", CMD_WILL, BOTH },
};

static const struct {
	const char		*name;
	enum MQTTPropertyCodes	 id;
	int			 cmds;
} common_props[] = {
	{ "payload-format-indicator",
	    MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR, CMD_PUBLISH|CMD_WILL },
	{ "message-expiry-interval",
	    MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL, CMD_PUBLISH|CMD_WILL },
	{ "content-type", MQTTPROPERTY_CODE_CONTENT_TYPE,
	    CMD_PUBLISH|CMD_WILL },
	{ "response-topic", MQTTPROPERTY_CODE_RESPONSE_TOPIC,
	    CMD_PUBLISH|CMD_WILL },
	{ "correlation-data", MQTTPROPERTY_CODE_CORRELATION_DATA,
	    CMD_PUBLISH|CMD_WILL },
	{ "subscription-identifier",
	    MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER, CMD_SUBSCRIBE },
	{ "session-expiry-interval",
	    MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
	    CMD_CONNECT|CMD_DISCONNECT },
	{ "request-problem-information",
	    MQTTPROPERTY_CODE_REQUEST_PROBLEM_INFORMATION, CMD_CONNECT },
	{ "request-response-information",
	    MQTTPROPERTY_CODE_REQUEST_RESPONSE_INFORMATION, CMD_CONNECT },
	{ "will-delay-interval", MQTTPROPERTY_CODE_WILL_DELAY_INTERVAL,
	    CMD_WILL },
	{ "receive-maximum", MQTTPROPERTY_CODE_RECEIVE_MAXIMUM, CMD_CONNECT },
	{ "topic-alias-maximum", MQTTPROPERTY_CODE_TOPIC_ALIAS_MAXIMUM,
	    CMD_CONNECT },
	{ "maximum-packet-size", MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE,
	    CMD_CONNECT },
	{ "user-property", MQTTPROPERTY_CODE_USER_PROPERTY,
	    CMD_CONNECT|CMD_PUBLISH|CMD_SUBSCRIBE|CMD_DISCONNECT|CMD_WILL },
};

static volatile sig_atomic_t common_stop_signal;

static void
common_usage_line(const struct common_cfg *cfg, FILE *f)
{
	if (cfg->which == COMMON_PUB)
		fprintf(f, "usage: %s [-h host] [-p port] [-V version] "
		    "[-q qos] [-r] [options] -t topic\n"
		    "       (-m message | -f file | -l | -n | -s)\n",
		    cfg->prog);
	else
		fprintf(f, "usage: %s [-h host] [-p port] [-V version] "
		    "[-q qos] [-C count] [-W secs] [-v] [options] "
		    "-t filter ...\n", cfg->prog);
}

/* --help: the usage line and one line per option of this program. */
static void
common_help(const struct common_cfg *cfg)
{
	size_t	 i;
	char	 left[64];

	common_usage_line(cfg, stdout);
	printf("\n");
	for (i = 0; i < NOPTS; i++) {
		const struct common_opt *o = &common_opts[i];
		int n = 0;

		if (!(o->which & cfg->which))
			continue;
		if (o->code < 256 && o->name != NULL)
			n = snprintf(left, sizeof left, "-%c, --%s", o->code,
			    o->name);
		else if (o->code < 256)
			n = snprintf(left, sizeof left, "-%c", o->code);
		else
			n = snprintf(left, sizeof left, "--%s", o->name);
		if (o->arg != NULL && n > 0 && (size_t)n < sizeof left)
			snprintf(left + n, sizeof left - n, " %s", o->arg);
		printf("  %-34s %s\n", left, o->help);
	}
	printf("\nExit status: 0 ok, 1 connection or protocol failure, "
	    "2 usage error%s.\nSee %s(1).\n",
	    cfg->which == COMMON_SUB ? ", 27 -W timeout" : "", cfg->prog);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
common_usage_error(struct common_cfg *cfg, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", cfg->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	common_usage_line(cfg, stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", cfg->prog);
	free(cfg->topics);
	free(cfg->pending);
	exit(COMMON_EXIT_USAGE);
}

void
common_err(const struct common_cfg *cfg, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", cfg->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

void
common_debug(const struct common_cfg *cfg, const char *fmt, ...)
{
	va_list	ap;

	if (!cfg->debug)
		return;
	fprintf(stderr, "%s: ", cfg->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/* Parse an unsigned decimal in [min, max]; -1 on anything else. */
static int
common_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

static long long
common_uint_opt(struct common_cfg *cfg, const char *opt,
    const char *s, unsigned long long min, unsigned long long max)
{
	unsigned long long	v;

	if (common_uint(s, min, max, &v) != 0)
		common_usage_error(cfg, "%s: '%s' is not a number from %llu "
		    "to %llu", opt, s, min, max);
	return ((long long)v);
}

/* An interval where -1, "inf" and "∞" mean 0xFFFFFFFF (mosquitto's -x). */
static unsigned
common_interval(struct common_cfg *cfg, const char *opt, const char *s)
{
	if (strcmp(s, "-1") == 0 || strcmp(s, "inf") == 0 ||
	    strcmp(s, "\xe2\x88\x9e") == 0)
		return (UINT32_MAX);
	return ((unsigned)common_uint_opt(cfg, opt, s, 0, UINT32_MAX));
}

/*
 * Add property id with value v1 (and v2 for a user property) to props,
 * checking the value against the property's type. opt names the option
 * in error messages.
 */
static void
common_prop_add(struct common_cfg *cfg, MQTTProperties *props,
    enum MQTTPropertyCodes id, const char *v1, const char *v2,
    const char *opt)
{
	struct common_pending	*np;
	MQTTProperty		 p;
	int			 type = MQTTProperty_getType(id);

	memset(&p, 0, sizeof p);
	p.identifier = id;
	if (id != MQTTPROPERTY_CODE_USER_PROPERTY &&
	    common_cfg_prop(cfg, props, id, NULL))
		common_usage_error(cfg, "%s: %s given twice", opt,
		    MQTTPropertyName(id));
	switch (type) {
	case MQTTPROPERTY_TYPE_BYTE:
		p.value.byte = (unsigned char)common_uint_opt(cfg, opt, v1, 0,
		    1);
		break;
	case MQTTPROPERTY_TYPE_TWO_BYTE_INTEGER:
		p.value.integer2 = (unsigned short)common_uint_opt(cfg, opt,
		    v1, id == MQTTPROPERTY_CODE_RECEIVE_MAXIMUM ? 1 : 0,
		    UINT16_MAX);
		break;
	case MQTTPROPERTY_TYPE_FOUR_BYTE_INTEGER:
		if (id == MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL)
			p.value.integer4 = common_interval(cfg, opt, v1);
		else
			p.value.integer4 = (unsigned)common_uint_opt(cfg, opt,
			    v1, id == MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE,
			    UINT32_MAX);
		break;
	case MQTTPROPERTY_TYPE_VARIABLE_BYTE_INTEGER:
		p.value.integer4 = (unsigned)common_uint_opt(cfg, opt, v1, 1,
		    268435455);
		break;
	case MQTTPROPERTY_TYPE_BINARY_DATA:
	case MQTTPROPERTY_TYPE_UTF_8_ENCODED_STRING:
		if (strlen(v1) > UINT16_MAX)
			common_usage_error(cfg, "%s: value too long", opt);
		p.value.data.len = (int)strlen(v1);
		p.value.data.data = (char *)v1;
		break;
	case MQTTPROPERTY_TYPE_UTF_8_STRING_PAIR:
		if (strlen(v1) > UINT16_MAX || strlen(v2) > UINT16_MAX)
			common_usage_error(cfg, "%s: value too long", opt);
		p.value.data.len = (int)strlen(v1);
		p.value.data.data = (char *)v1;
		p.value.value.len = (int)strlen(v2);
		p.value.value.data = (char *)v2;
		break;
	default:
		common_usage_error(cfg, "%s: unknown property", opt);
	}
	np = realloc(cfg->pending, (cfg->npending + 1) * sizeof *np);
	if (np == NULL) {
		common_err(cfg, "out of memory");
		exit(COMMON_EXIT_FAIL);
	}
	cfg->pending = np;
	np[cfg->npending].list = props;
	np[cfg->npending].prop = p;
	cfg->npending++;
}

int
common_cfg_prop(const struct common_cfg *cfg, const MQTTProperties *list,
    enum MQTTPropertyCodes id, unsigned *value)
{
	const struct common_pending	*pp;
	int				 i;

	for (i = 0; i < cfg->npending; i++) {
		pp = &cfg->pending[i];
		if (pp->list != list || pp->prop.identifier != id)
			continue;
		if (value != NULL) {
			switch (MQTTProperty_getType(id)) {
			case MQTTPROPERTY_TYPE_BYTE:
				*value = pp->prop.value.byte;
				break;
			case MQTTPROPERTY_TYPE_TWO_BYTE_INTEGER:
				*value = pp->prop.value.integer2;
				break;
			default:
				*value = pp->prop.value.integer4;
				break;
			}
		}
		return (1);
	}
	return (0);
}

/*
 * Copy the recorded properties into the Paho lists. Paho's allocator
 * must be live (a client created): see common_props_free.
 */
static int
common_props_build(struct common_cfg *cfg)
{
	int	i;

	for (i = 0; i < cfg->npending; i++) {
		/* Paho copies the strings into the list */
		if (MQTTProperties_add(cfg->pending[i].list,
		    &cfg->pending[i].prop) != 0)
			return (-1);
	}
	return (0);
}

static void
common_v5(struct common_cfg *cfg, const char *opt)
{
	if (!cfg->v5_only) {
		cfg->v5_only = 1;
		cfg->v5_only_opt = opt;
	}
}

/*
 * -D CMD NAME VALUE [VALUE2]: the words after CMD are taken from argv at
 * *optindp, which is advanced past them.
 */
static void
common_opt_property(struct common_cfg *cfg, const char *cmd, int argc,
    char **argv, int *optindp)
{
	MQTTProperties	*props = NULL;
	const char	*name, *v1, *v2 = NULL;
	size_t		 i;
	int		 c = 0, id = -1, nargs;

	for (i = 0; i < sizeof common_cmds / sizeof common_cmds[0]; i++) {
		if (strcmp(cmd, common_cmds[i].name) == 0 &&
		    (common_cmds[i].which & cfg->which))
			c = common_cmds[i].cmd;
	}
	if (c == 0)
		common_usage_error(cfg, "-D: unknown command '%s' (%s)", cmd,
		    cfg->which == COMMON_PUB ?
		    "connect, publish, disconnect or will" :
		    "connect, subscribe, disconnect or will");
	if (*optindp >= argc)
		common_usage_error(cfg, "-D %s: missing property name", cmd);
	name = argv[(*optindp)++];
	if (strcmp(name, "topic-alias") == 0 && c == CMD_PUBLISH)
		common_usage_error(cfg, "-D publish topic-alias: tern-pub "
		    "chooses topic aliases itself (see --no-topic-alias)");
	for (i = 0; i < sizeof common_props / sizeof common_props[0]; i++) {
		if (strcmp(name, common_props[i].name) == 0) {
			if (!(common_props[i].cmds & c))
				common_usage_error(cfg, "-D: %s is not "
				    "allowed on %s", name, cmd);
			id = common_props[i].id;
		}
	}
	if (id < 0)
		common_usage_error(cfg, "-D %s: unknown property '%s'", cmd,
		    name);
	nargs = id == MQTTPROPERTY_CODE_USER_PROPERTY ? 2 : 1;
	if (*optindp + nargs > argc)
		common_usage_error(cfg, "-D %s %s: missing value", cmd, name);
	v1 = argv[(*optindp)++];
	if (nargs == 2)
		v2 = argv[(*optindp)++];
	switch (c) {
	case CMD_CONNECT:
		props = &cfg->connect_props;
		break;
	case CMD_PUBLISH:
		props = &cfg->publish_props;
		break;
	case CMD_SUBSCRIBE:
		props = &cfg->subscribe_props;
		break;
	case CMD_DISCONNECT:
		props = &cfg->disconnect_props;
		break;
	default:
		props = &cfg->will_props;
		break;
	}
	common_prop_add(cfg, props, (enum MQTTPropertyCodes)id, v1, v2, "-D");
	common_v5(cfg, "-D");
}

/* Whether any property was recorded for list. */
static int
common_pending_on(const struct common_cfg *cfg, const MQTTProperties *list)
{
	int	i;

	for (i = 0; i < cfg->npending; i++) {
		if (cfg->pending[i].list == list)
			return (1);
	}
	return (0);
}

static int
common_parse_version(const char *s)
{
	if (strcmp(s, "mqttv5") == 0 || strcmp(s, "5") == 0)
		return (MQTTVERSION_5);
	if (strcmp(s, "mqttv311") == 0 || strcmp(s, "311") == 0)
		return (MQTTVERSION_3_1_1);
	if (strcmp(s, "mqttv31") == 0 || strcmp(s, "31") == 0)
		return (MQTTVERSION_3_1);
	return (-1);
}

static void
common_source(struct common_cfg *cfg, enum common_source src)
{
	if (cfg->source != COMMON_SRC_NONE)
		common_usage_error(cfg, "only one of -m, -f, -l, -n and -s");
	cfg->source = src;
}

/* A PUBLISH topic must be a name, not a filter. */
static int
common_topic_name_ok(const char *t)
{
	return (*t != '\0' && strpbrk(t, "+#") == NULL);
}

void
common_parse(struct common_cfg *cfg, int which, int argc, char **argv)
{
	struct option	 longopts[NOPTS + 1];
	char		 shortopts[3 * NOPTS + 2], *sp = shortopts;
	const char	*prog;
	size_t		 i, nl = 0;
	int		 ch, format_set = 0;

	prog = which == COMMON_PUB ? "tern-pub" : "tern-sub";
	memset(cfg, 0, sizeof *cfg);
	cfg->prog = prog;
	cfg->which = which;
	cfg->host = "localhost";
	cfg->port = 1883;
	cfg->version = MQTTVERSION_3_1_1;
	cfg->keepalive = 60;
	cfg->clean = 1;
	cfg->session_expiry = -1;
	cfg->eol = 1;
	cfg->id_prefix = which == COMMON_PUB ? "tern-pub" : "tern-sub";

	*sp++ = '+';	/* stop at the first operand; see the design note */
	*sp++ = ':';	/* report a missing argument as ':' */
	for (i = 0; i < NOPTS; i++) {
		const struct common_opt *o = &common_opts[i];

		if (!(o->which & which))
			continue;
		if (o->code < 256) {
			*sp++ = (char)o->code;
			if (o->has_arg)
				*sp++ = ':';
		}
		if (o->name != NULL) {
			longopts[nl].name = o->name;
			longopts[nl].has_arg = o->has_arg ? required_argument :
			    no_argument;
			longopts[nl].flag = NULL;
			longopts[nl].val = o->code;
			nl++;
		}
	}
	*sp = '\0';
	memset(&longopts[nl], 0, sizeof longopts[nl]);

	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			cfg->host = optarg;
			break;
		case 'p':
			cfg->port = (int)common_uint_opt(cfg, "-p", optarg, 1,
			    65535);
			break;
		case 'V':
			cfg->version = common_parse_version(optarg);
			if (cfg->version < 0)
				common_usage_error(cfg, "-V: unknown protocol "
				    "version '%s' (mqttv5, mqttv311, mqttv31)",
				    optarg);
			break;
		case 'i':
			if (strlen(optarg) > UINT16_MAX)
				common_usage_error(cfg, "-i: too long");
			cfg->id = optarg;
			break;
		case 'I':
			cfg->id_prefix = optarg;
			break;
		case 'u':
			cfg->username = optarg;
			break;
		case 'P':
			cfg->password = optarg;
			break;
		case 'k':
			cfg->keepalive = (int)common_uint_opt(cfg, "-k", optarg,
			    0, 65535);
			break;
		case 'c':
			cfg->clean = 0;
			break;
		case 'x':
			cfg->session_expiry = common_interval(cfg, "-x",
			    optarg);
			common_prop_add(cfg, &cfg->connect_props,
			    MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL, optarg,
			    NULL, "-x");
			common_v5(cfg, "-x");
			break;
		case 'q':
			cfg->qos = (int)common_uint_opt(cfg, "-q", optarg, 0,
			    2);
			break;
		case 'd':
			cfg->debug = 1;
			break;
		case 'D':
			common_opt_property(cfg, optarg, argc, argv, &optind);
			break;
		case OPT_WILL_TOPIC:
			if (!common_topic_name_ok(optarg))
				common_usage_error(cfg, "--will-topic: '%s' is "
				    "not a valid topic name", optarg);
			cfg->will_topic = optarg;
			break;
		case OPT_WILL_PAYLOAD:
			cfg->will_payload = optarg;
			break;
		case OPT_WILL_QOS:
			cfg->will_qos = (int)common_uint_opt(cfg,
			    "--will-qos", optarg, 0, 2);
			break;
		case OPT_WILL_RETAIN:
			cfg->will_retain = 1;
			break;
		case 't':
			cfg->topics = realloc(cfg->topics,
			    (cfg->ntopics + 1) * sizeof *cfg->topics);
			if (cfg->topics == NULL) {
				common_err(cfg, "out of memory");
				exit(COMMON_EXIT_FAIL);
			}
			cfg->topics[cfg->ntopics++] = optarg;
			break;
		case 'm':
			common_source(cfg, COMMON_SRC_MESSAGE);
			cfg->message = optarg;
			break;
		case 'f':
			common_source(cfg, COMMON_SRC_FILE);
			cfg->file = optarg;
			break;
		case 'l':
			common_source(cfg, COMMON_SRC_LINES);
			break;
		case 'n':
			common_source(cfg, COMMON_SRC_NULL);
			break;
		case 's':
			common_source(cfg, COMMON_SRC_STDIN);
			break;
		case 'r':
			cfg->retain = 1;
			break;
		case 'e':
			common_prop_add(cfg, &cfg->publish_props,
			    MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL, optarg,
			    NULL, "-e");
			common_v5(cfg, "-e");
			break;
		case OPT_CONTENT_TYPE:
			common_prop_add(cfg, &cfg->publish_props,
			    MQTTPROPERTY_CODE_CONTENT_TYPE, optarg, NULL,
			    "--content-type");
			common_v5(cfg, "--content-type");
			break;
		case OPT_RESPONSE_TOPIC:
			if (!common_topic_name_ok(optarg))
				common_usage_error(cfg, "--response-topic: '%s' "
				    "is not a valid topic name", optarg);
			common_prop_add(cfg, &cfg->publish_props,
			    MQTTPROPERTY_CODE_RESPONSE_TOPIC, optarg, NULL,
			    "--response-topic");
			common_v5(cfg, "--response-topic");
			break;
		case OPT_CORRELATION_DATA:
			common_prop_add(cfg, &cfg->publish_props,
			    MQTTPROPERTY_CODE_CORRELATION_DATA, optarg, NULL,
			    "--correlation-data");
			common_v5(cfg, "--correlation-data");
			break;
		case OPT_PROP: {
			char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg)
				common_usage_error(cfg, "--prop: '%s' is not "
				    "KEY=VALUE", optarg);
			*eq = '\0';	/* argv keeps the key and value apart */
			common_prop_add(cfg, which == COMMON_PUB ?
			    &cfg->publish_props : &cfg->subscribe_props,
			    MQTTPROPERTY_CODE_USER_PROPERTY, optarg, eq + 1,
			    "--prop");
			common_v5(cfg, "--prop");
			break;
		}
		case OPT_NO_ALIAS:
			cfg->no_alias = 1;
			break;
		case 'C':
			cfg->count = (long)common_uint_opt(cfg, "-C", optarg, 1,
			    LONG_MAX);
			break;
		case 'W':
			cfg->timeout = (long)common_uint_opt(cfg, "-W", optarg,
			    1, 86400L * 365);
			break;
		case 'v':
			cfg->verbose = 1;
			break;
		case 'N':
			cfg->eol = 0;
			break;
		case 'R':
			cfg->no_retained = 1;
			break;
		case 'E':
			cfg->exit_after_sub = 1;
			break;
		case 'F':
			format_set++;
			if (strcmp(optarg, "json") == 0)
				cfg->format = COMMON_FMT_JSON;
			else if (strcmp(optarg, "hex") == 0)
				cfg->format = COMMON_FMT_HEX;
			else if (strchr(optarg, '%') != NULL) {
				cfg->format = COMMON_FMT_CUSTOM;
				cfg->custom = optarg;
			} else
				common_usage_error(cfg, "-F: '%s' is not json, "
				    "hex or a format with %% escapes", optarg);
			break;
		case OPT_JSON:
			format_set++;
			cfg->format = COMMON_FMT_JSON;
			break;
		case OPT_HEX:
			format_set++;
			cfg->format = COMMON_FMT_HEX;
			break;
		case OPT_NO_LOCAL:
			cfg->no_local = 1;
			common_v5(cfg, "--no-local");
			break;
		case OPT_RAP:
			cfg->rap = 1;
			common_v5(cfg, "--retain-as-published");
			break;
		case OPT_RH:
			cfg->rh = (int)common_uint_opt(cfg, "--retain-handling",
			    optarg, 0, 2);
			common_v5(cfg, "--retain-handling");
			break;
		case OPT_SUB_ID:
			common_prop_add(cfg, &cfg->subscribe_props,
			    MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER, optarg,
			    NULL, "--sub-id");
			common_v5(cfg, "--sub-id");
			break;
		case OPT_HELP:
			common_help(cfg);
			common_cfg_free(cfg);
			exit(COMMON_EXIT_OK);
		case OPT_VERSION:
			printf("%s %s (Paho MQTT C)\n", prog, PACKAGE_VERSION);
			common_cfg_free(cfg);
			exit(COMMON_EXIT_OK);
		case ':':
			common_usage_error(cfg, "option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0 && optopt < 256)
				common_usage_error(cfg, "unknown option '-%c'",
				    optopt);
			common_usage_error(cfg, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		common_usage_error(cfg, "unexpected argument '%s'",
		    argv[optind]);
	if (format_set > 1)
		common_usage_error(cfg, "only one of --json, --hex and -F");

	/* what each program needs */
	if (cfg->ntopics == 0)
		common_usage_error(cfg, "-t is required");
	if (which == COMMON_PUB) {
		if (cfg->ntopics > 1)
			common_usage_error(cfg, "only one -t");
		if (!common_topic_name_ok(cfg->topics[0]))
			common_usage_error(cfg, "'%s' is not a valid topic "
			    "to publish to", cfg->topics[0]);
		if (cfg->source == COMMON_SRC_NONE)
			common_usage_error(cfg, "one of -m, -f, -l, -n or -s "
			    "is required");
	} else {
		for (i = 0; i < (size_t)cfg->ntopics; i++) {
			if (*cfg->topics[i] == '\0')
				common_usage_error(cfg, "empty topic filter");
		}
	}
	if (!cfg->clean && (cfg->id == NULL || *cfg->id == '\0'))
		common_usage_error(cfg, "-c needs a client id (-i)");
	if (cfg->will_topic == NULL && (cfg->will_payload != NULL ||
	    cfg->will_qos != 0 || cfg->will_retain ||
	    common_pending_on(cfg, &cfg->will_props)))
		common_usage_error(cfg, "will options need --will-topic");
	if (cfg->v5_only && cfg->version != MQTTVERSION_5)
		common_usage_error(cfg, "%s needs MQTT 5 (-V mqttv5)",
		    cfg->v5_only_opt);
	/* -c in MQTT 5: a session that does not expire unless -x says */
	if (cfg->version == MQTTVERSION_5 && !cfg->clean &&
	    !common_cfg_prop(cfg, &cfg->connect_props,
	    MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL, NULL))
		common_prop_add(cfg, &cfg->connect_props,
		    MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL, "-1", NULL,
		    "-c");
}

/*
 * The property lists were built by Paho (MQTTProperties_add) while a
 * client existed; they go back to Paho before every MQTTAsync_destroy
 * (see the design note), and again (a no-op) in common_cfg_free.
 */
static void
common_props_free(struct common_cfg *cfg)
{
	MQTTProperties_free(&cfg->connect_props);
	MQTTProperties_free(&cfg->publish_props);
	MQTTProperties_free(&cfg->subscribe_props);
	MQTTProperties_free(&cfg->disconnect_props);
	MQTTProperties_free(&cfg->will_props);
}

void
common_cfg_free(struct common_cfg *cfg)
{
	common_props_free(cfg);
	free(cfg->topics);
	free(cfg->pending);
	cfg->topics = NULL;
	cfg->pending = NULL;
	cfg->npending = 0;
}

/* ------------------------------------------------------------------ */
/* waiting for Paho */

void
common_lock(struct common_client *cl)
{
	pthread_mutex_lock(&cl->mu);
}

void
common_unlock(struct common_client *cl)
{
	pthread_mutex_unlock(&cl->mu);
}

void
common_signal(struct common_client *cl)
{
	pthread_cond_broadcast(&cl->cv);
}

int
common_wait(struct common_client *cl, long msec)
{
	struct timespec	ts;
	long		slice = msec < 0 || msec > 100 ? 100 : msec;

	/* never sleep long: a signal only sets a flag */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += slice / 1000;
	ts.tv_nsec += (slice % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (pthread_cond_timedwait(&cl->cv, &cl->mu, &ts));
}

long long
common_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
common_on_signal(int sig)
{
	(void)sig;
	common_stop_signal = 1;
}

void
common_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = common_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
common_stopping(void)
{
	return (common_stop_signal != 0);
}

/* ------------------------------------------------------------------ */
/* reason codes */

const MQTTLenString *
common_reason_string(const MQTTProperties *props)
{
	int	i;

	if (props == NULL)
		return (NULL);
	for (i = 0; i < props->count; i++) {
		if (props->array[i].identifier ==
		    MQTTPROPERTY_CODE_REASON_STRING)
			return (&props->array[i].value.data);
	}
	return (NULL);
}

static char *
common_dup_reason(const MQTTProperties *props)
{
	const MQTTLenString	*rs = common_reason_string(props);

	if (rs == NULL)
		return (NULL);
	return (strndup(rs->data, (size_t)rs->len));
}

const char *
common_rc_str(int rc, char *buf, size_t len)
{
	const char	*name = MQTTReasonCode_toString(
	    (enum MQTTReasonCodes)rc);

	snprintf(buf, len, "0x%02X %s", (unsigned)rc,
	    name != NULL ? name : "(unknown reason code)");
	return (buf);
}

/* The 3.1.1 CONNACK return codes (MQTT 3.1.1 section 3.2.2.3). */
static const char *
common_v3_connack(int rc)
{
	static const char *names[] = {
		"accepted",
		"unacceptable protocol version",
		"identifier rejected",
		"server unavailable",
		"bad user name or password",
		"not authorized",
	};

	if (rc >= 0 && rc < (int)(sizeof names / sizeof names[0]))
		return (names[rc]);
	return ("unknown return code");
}

void
common_fail(struct common_client *cl, int rc, const MQTTProperties *props)
{
	if (cl->failed)
		return;
	cl->failed = 1;
	cl->fail_rc = rc;
	cl->fail_reason = common_dup_reason(props);
}

void
common_print_fail(struct common_client *cl, const char *what)
{
	char	buf[96];

	if (cl->fail_rc < 0)
		common_err(cl->cfg, "%s: %s", what,
		    MQTTAsync_strerror(cl->fail_rc));
	else if (cl->cfg->version != MQTTVERSION_5)
		common_err(cl->cfg, "%s (return code 0x%02X)", what,
		    (unsigned)cl->fail_rc);
	else if (cl->fail_reason != NULL)
		common_err(cl->cfg, "%s: %s (broker: \"%s\")", what,
		    common_rc_str(cl->fail_rc, buf, sizeof buf),
		    cl->fail_reason);
	else
		common_err(cl->cfg, "%s: %s", what,
		    common_rc_str(cl->fail_rc, buf, sizeof buf));
}

void
common_settle(struct common_client *cl)
{
	long long	deadline = common_now_ms() + 500;

	if (cl->cfg->version != MQTTVERSION_5)
		return;
	while (cl->disconnect_rc < 0 && (cl->lost || (cl->failed &&
	    cl->fail_rc < 0)) && common_now_ms() < deadline)
		common_wait(cl, 50);
}

void
common_print_lost(struct common_client *cl)
{
	char	buf[96];

	if (cl->disconnect_rc < 0)
		common_err(cl->cfg, "connection to %s port %d lost",
		    cl->cfg->host, cl->cfg->port);
	else if (cl->disconnect_reason != NULL)
		common_err(cl->cfg, "disconnected by the broker: %s "
		    "(broker: \"%s\")", common_rc_str(cl->disconnect_rc, buf,
		    sizeof buf), cl->disconnect_reason);
	else
		common_err(cl->cfg, "disconnected by the broker: %s",
		    common_rc_str(cl->disconnect_rc, buf, sizeof buf));
}

/* ------------------------------------------------------------------ */
/* connecting */

static int
common_ignore_message(void *ctx, char *topic, int topiclen,
    MQTTAsync_message *m)
{
	(void)ctx;
	(void)topiclen;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return (1);
}

static void
common_on_lost(void *ctx, char *cause)
{
	struct common_client	*cl = ctx;

	(void)cause;
	common_lock(cl);
	cl->lost = 1;
	common_signal(cl);
	common_unlock(cl);
}

static void
common_on_disconnected(void *ctx, MQTTProperties *props,
    enum MQTTReasonCodes rc)
{
	struct common_client	*cl = ctx;
	char			 buf[96];

	common_lock(cl);
	if (cl->disconnect_rc < 0) {
		cl->disconnect_rc = (int)rc;
		cl->disconnect_reason = common_dup_reason(props);
	}
	cl->lost = 1;
	common_debug(cl->cfg, "received DISCONNECT (%s)",
	    common_rc_str((int)rc, buf, sizeof buf));
	common_signal(cl);
	common_unlock(cl);
}

/* Read what the broker's CONNACK says about its limits. */
static void
common_connack_props(struct common_client *cl, const MQTTProperties *props)
{
	int	i;

	for (i = 0; i < props->count; i++) {
		const MQTTProperty *p = &props->array[i];

		switch (p->identifier) {
		case MQTTPROPERTY_CODE_TOPIC_ALIAS_MAXIMUM:
			cl->topic_alias_max = p->value.integer2;
			break;
		case MQTTPROPERTY_CODE_RECEIVE_MAXIMUM:
			cl->receive_max = p->value.integer2;
			break;
		case MQTTPROPERTY_CODE_MAXIMUM_QOS:
			cl->max_qos = p->value.byte;
			break;
		case MQTTPROPERTY_CODE_RETAIN_AVAILABLE:
			cl->retain_available = p->value.byte;
			break;
		case MQTTPROPERTY_CODE_ASSIGNED_CLIENT_IDENTIFER:
			free(cl->assigned_id);
			cl->assigned_id = strndup(p->value.data.data,
			    (size_t)p->value.data.len);
			break;
		default:
			break;
		}
	}
}

static void
common_on_connect5(void *ctx, MQTTAsync_successData5 *r)
{
	struct common_client	*cl = ctx;

	common_lock(cl);
	cl->connected = 1;
	cl->session_present = r->alt.connect.sessionPresent;
	common_connack_props(cl, &r->properties);
	common_debug(cl->cfg, "received CONNACK (0x00 Success, session "
	    "present %d, receive maximum %u, topic alias maximum %u)",
	    cl->session_present, cl->receive_max, cl->topic_alias_max);
	common_signal(cl);
	common_unlock(cl);
}

/*
 * The CONNECT failed, in MQTT 5 or 3.x: reason_code and props are MQTT 5's
 * (0 and NULL in 3.x, where Paho has neither).
 */
static void
common_connect_failed(struct common_client *cl, int code, int reason_code,
    const MQTTProperties *props)
{
	common_lock(cl);
	cl->connected = -1;
	/* Paho puts a CONNACK refusal in code, its own errors below 0 */
	if (code > 0)
		cl->connack_rc = code;
	else if (reason_code >= 0x80)
		cl->connack_rc = reason_code;
	else
		cl->paho_rc = code != 0 ? code : MQTTASYNC_FAILURE;
	if (props != NULL && cl->fail_reason == NULL)
		cl->fail_reason = common_dup_reason(props);
	common_signal(cl);
	common_unlock(cl);
}

static void
common_on_connect_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	common_connect_failed(ctx, r->code, (int)r->reasonCode,
	    &r->properties);
}

static void
common_on_connect3(void *ctx, MQTTAsync_successData *r)
{
	struct common_client	*cl = ctx;

	common_lock(cl);
	cl->connected = 1;
	cl->session_present = r->alt.connect.sessionPresent;
	common_debug(cl->cfg, "received CONNACK (0, session present %d)",
	    cl->session_present);
	common_signal(cl);
	common_unlock(cl);
}

static void
common_on_connect_fail3(void *ctx, MQTTAsync_failureData *r)
{
	common_connect_failed(ctx, r->code, 0, NULL);
}

/*
 * Paho said the TCP connection failed but not why: try once more with a
 * plain socket (3 s at most) and return a description of the failure.
 */
static const char *
common_diagnose(const struct common_cfg *cfg, char *buf, size_t len)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	struct pollfd	 pfd;
	char		 port[16];
	int		 rc, fd, err = 0;
	socklen_t	 elen = sizeof err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", cfg->port);
	rc = getaddrinfo(cfg->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(buf, len, "cannot resolve host '%s': %s", cfg->host,
		    gai_strerror(rc));
		return (buf);
	}
	snprintf(buf, len, "cannot connect to %s port %d", cfg->host,
	    cfg->port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		err = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			err = errno;
			if (err == EINPROGRESS) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				if (poll(&pfd, 1, 3000) == 1) {
					getsockopt(fd, SOL_SOCKET, SO_ERROR,
					    &err, &elen);
				} else
					err = ETIMEDOUT;
			}
		}
		close(fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(res);
	if (err != 0)
		snprintf(buf, len, "cannot connect to %s port %d: %s",
		    cfg->host, cfg->port, strerror(err));
	else
		snprintf(buf, len, "connection to %s port %d closed before "
		    "CONNACK", cfg->host, cfg->port);
	return (buf);
}

/* A client id nobody else has: PREFIX-<16 hex digits of randomness>. */
static char *
common_make_id(const struct common_cfg *cfg)
{
	unsigned char	 r[8];
	char		*id;
	size_t		 n, i;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		unsigned long long v = (unsigned long long)getpid() ^
		    (unsigned long long)time(NULL);

		for (i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)(v >> (8 * i));
	}
	n = strlen(cfg->id_prefix) + 1 + 2 * sizeof r + 1;
	if ((id = malloc(n)) == NULL)
		return (NULL);
	i = (size_t)snprintf(id, n, "%s-", cfg->id_prefix);
	for (size_t k = 0; k < sizeof r; k++, i += 2)
		snprintf(id + i, n - i, "%02x", r[k]);
	return (id);
}

static void
common_free_state(struct common_client *cl)
{
	free(cl->id);
	free(cl->assigned_id);
	free(cl->disconnect_reason);
	free(cl->fail_reason);
	cl->id = cl->assigned_id = NULL;
	cl->disconnect_reason = cl->fail_reason = NULL;
	pthread_cond_destroy(&cl->cv);
	pthread_mutex_destroy(&cl->mu);
}

int
common_connect(struct common_client *cl, struct common_cfg *cfg,
    MQTTAsync_messageArrived *arrived)
{
	MQTTAsync_createOptions		 co = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions	 o3 = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions	 o5 =
	    MQTTAsync_connectOptions_initializer5;
	MQTTAsync_connectOptions	*o;
	MQTTAsync_willOptions		 w = MQTTAsync_willOptions_initializer;
	pthread_condattr_t		 ca;
	char				 uri[1100], buf[512], rcb[96];
	int				 rc;

	memset(cl, 0, sizeof *cl);
	cl->cfg = cfg;
	cl->disconnect_rc = -1;
	cl->receive_max = 65535;
	cl->max_qos = 2;
	cl->retain_available = 1;
	pthread_mutex_init(&cl->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->cv, &ca);
	pthread_condattr_destroy(&ca);

	cl->id = cfg->id != NULL ? strdup(cfg->id) : common_make_id(cfg);
	if (cl->id == NULL) {
		common_err(cfg, "out of memory");
		common_free_state(cl);
		return (COMMON_EXIT_FAIL);
	}
	if (strlen(cfg->host) > 1024) {
		common_err(cfg, "host name too long");
		common_free_state(cl);
		return (COMMON_EXIT_FAIL);
	}
	snprintf(uri, sizeof uri, strchr(cfg->host, ':') != NULL ?
	    "tcp://[%s]:%d" : "tcp://%s:%d", cfg->host, cfg->port);

	co.MQTTVersion = cfg->version;
	co.maxBufferedMessages = 1000;
	rc = MQTTAsync_createWithOptions(&cl->h, uri, cl->id,
	    MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		common_err(cfg, "cannot create the MQTT client: %s",
		    MQTTAsync_strerror(rc));
		common_free_state(cl);
		return (COMMON_EXIT_FAIL);
	}
	if (common_props_build(cfg) != 0) {
		common_err(cfg, "cannot build the MQTT 5 properties");
		common_props_free(cfg);
		MQTTAsync_destroy(&cl->h);
		common_free_state(cl);
		return (COMMON_EXIT_FAIL);
	}
	MQTTAsync_setCallbacks(cl->h, cl, common_on_lost,
	    arrived != NULL ? arrived : common_ignore_message, NULL);
	MQTTAsync_setDisconnected(cl->h, cl, common_on_disconnected);

	if (cfg->version == MQTTVERSION_5) {
		o = &o5;
		o->cleanstart = cfg->clean;
		o->cleansession = 0;
		o->connectProperties = &cfg->connect_props;
		o->onSuccess5 = common_on_connect5;
		o->onFailure5 = common_on_connect_fail5;
	} else {
		o = &o3;
		o->cleansession = cfg->clean;
		o->onSuccess = common_on_connect3;
		o->onFailure = common_on_connect_fail3;
	}
	o->MQTTVersion = cfg->version;
	o->keepAliveInterval = cfg->keepalive;
	o->connectTimeout = 10;
	o->retryInterval = 0;
	o->maxInflight = 65535;
	o->username = cfg->username;
	o->password = cfg->password;
	o->context = cl;
	if (cfg->will_topic != NULL) {
		w.topicName = cfg->will_topic;
		w.message = NULL;
		w.payload.data = cfg->will_payload != NULL ?
		    cfg->will_payload : "";
		w.payload.len = (int)strlen(w.payload.data);
		w.qos = cfg->will_qos;
		w.retained = cfg->will_retain;
		o->will = &w;
		if (cfg->version == MQTTVERSION_5)
			o->willProperties = &cfg->will_props;
	}

	common_debug(cfg, "sending CONNECT to %s (MQTT %s, client id '%s', "
	    "clean %d, keep alive %d)", uri,
	    cfg->version == MQTTVERSION_5 ? "5" :
	    cfg->version == MQTTVERSION_3_1_1 ? "3.1.1" : "3.1", cl->id,
	    cfg->clean, cfg->keepalive);
	/* never call Paho with cl->mu held: its threads take cl->mu */
	rc = MQTTAsync_connect(cl->h, o);
	common_lock(cl);
	if (rc != MQTTASYNC_SUCCESS) {
		cl->connected = -1;
		cl->paho_rc = rc;
	}
	while (cl->connected == 0 && !common_stopping())
		common_wait(cl, -1);
	common_unlock(cl);

	if (cl->connected == 1) {
		if (cl->assigned_id != NULL)
			common_debug(cfg, "assigned client id '%s'",
			    cl->assigned_id);
		return (COMMON_EXIT_OK);
	}
	if (cl->connected == 0)
		;	/* interrupted by a signal: no message */
	else if (cl->connack_rc > 0 && cfg->version == MQTTVERSION_5) {
		if (cl->fail_reason != NULL)
			common_err(cfg, "connection refused by %s port %d: %s "
			    "(broker: \"%s\")", cfg->host, cfg->port,
			    common_rc_str(cl->connack_rc, rcb, sizeof rcb),
			    cl->fail_reason);
		else
			common_err(cfg, "connection refused by %s port %d: %s",
			    cfg->host, cfg->port,
			    common_rc_str(cl->connack_rc, rcb, sizeof rcb));
	} else if (cl->connack_rc > 0)
		common_err(cfg, "connection refused by %s port %d: %s "
		    "(CONNACK return code %d)", cfg->host, cfg->port,
		    common_v3_connack(cl->connack_rc), cl->connack_rc);
	else if (cl->paho_rc == MQTTASYNC_FAILURE ||
	    cl->paho_rc == MQTTASYNC_DISCONNECTED)
		common_err(cfg, "%s", common_diagnose(cfg, buf, sizeof buf));
	else
		common_err(cfg, "cannot connect to %s port %d: %s", cfg->host,
		    cfg->port, MQTTAsync_strerror(cl->paho_rc));
	common_props_free(cfg);
	MQTTAsync_destroy(&cl->h);
	common_free_state(cl);
	return (COMMON_EXIT_FAIL);
}

/*
 * The DISCONNECT is over, whether Paho reports success or failure, in
 * MQTT 5 or 3.x: the four callbacks below differ only in their signatures.
 */
static void
common_disc_over(void *ctx)
{
	struct common_client	*cl = ctx;

	common_lock(cl);
	cl->connected = 0;
	common_signal(cl);
	common_unlock(cl);
}

static void
common_on_disc_done5(void *ctx, MQTTAsync_successData5 *r)
{
	(void)r;
	common_disc_over(ctx);
}

static void
common_on_disc_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	(void)r;
	common_disc_over(ctx);
}

static void
common_on_disc_done3(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	common_disc_over(ctx);
}

static void
common_on_disc_fail3(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	common_disc_over(ctx);
}

void
common_close(struct common_client *cl)
{
	MQTTAsync_disconnectOptions	d = MQTTAsync_disconnectOptions_initializer;
	long long			deadline;
	int				live;

	common_lock(cl);
	live = cl->connected == 1 && !cl->lost;
	common_unlock(cl);
	if (live) {
		d.timeout = 2000;
		d.context = cl;
		if (cl->cfg->version == MQTTVERSION_5) {
			d.properties = cl->cfg->disconnect_props;
			d.onSuccess5 = common_on_disc_done5;
			d.onFailure5 = common_on_disc_fail5;
		} else {
			d.onSuccess = common_on_disc_done3;
			d.onFailure = common_on_disc_fail3;
		}
		common_debug(cl->cfg, "sending DISCONNECT");
		deadline = common_now_ms() + 5000;
		if (MQTTAsync_disconnect(cl->h, &d) == MQTTASYNC_SUCCESS) {
			common_lock(cl);
			while (cl->connected == 1 && !cl->lost &&
			    common_now_ms() < deadline)
				common_wait(cl, 100);
			common_unlock(cl);
		}
	}
	common_props_free(cl->cfg);
	MQTTAsync_destroy(&cl->h);
	common_free_state(cl);
}
