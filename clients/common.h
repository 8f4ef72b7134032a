/*
 * common.h - what tern-pub and tern-sub share: the option table and its
 * parser, the connection to the broker (MQTT 3.1, 3.1.1 and 5 through
 * Paho's MQTTAsync API), waiting for Paho's callbacks, and error messages
 * that name the reason code and the broker's reason string.
 *
 * The design note is at the top of common.c.
 */

#ifndef TERN_CLIENTS_COMMON_H
#define TERN_CLIENTS_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <MQTTAsync.h>

/* Exit statuses of both programs (documented in tern-pub(1), tern-sub(1)). */
#define COMMON_EXIT_OK		0	/* done */
#define COMMON_EXIT_FAIL	1	/* connect, protocol or I/O failure */
#define COMMON_EXIT_USAGE	2	/* bad option or option value */
#define COMMON_EXIT_TIMEOUT	27	/* tern-sub -W ran out (mosquitto_sub) */

/* Which program parses: options are tagged with the programs they apply to. */
#define COMMON_PUB	0x1
#define COMMON_SUB	0x2

/* Where tern-pub takes its message from (-m, -f, -l, -n, -s). */
enum common_source {
	COMMON_SRC_NONE = 0,
	COMMON_SRC_MESSAGE,
	COMMON_SRC_FILE,
	COMMON_SRC_LINES,
	COMMON_SRC_NULL,
	COMMON_SRC_STDIN
};

/* How tern-sub prints a message. */
enum common_format {
	COMMON_FMT_PAYLOAD = 0,	/* the payload (with -v: topic and payload) */
	COMMON_FMT_HEX,		/* the payload in hex (with -v: topic first) */
	COMMON_FMT_JSON,	/* one JSON object per line, with properties */
	COMMON_FMT_CUSTOM	/* -F with % escapes */
};

/* Everything the command line says. Filled by common_parse(). */
struct common_cfg {
	const char	*prog;		/* "tern-pub" or "tern-sub" */
	int		 which;		/* COMMON_PUB or COMMON_SUB */

	/* connection */
	char		*host;
	int		 port;
	int		 version;	/* MQTTVERSION_3_1, _3_1_1 or _5 */
	char		*id;		/* NULL: generated from id_prefix */
	char		*id_prefix;
	char		*username;
	char		*password;
	int		 keepalive;
	int		 clean;		/* 0 with -c */
	long long	 session_expiry; /* -x; -1 when not given */
	int		 debug;
	int		 qos;

	/* will */
	char		*will_topic;
	char		*will_payload;
	int		 will_qos;
	int		 will_retain;

	/*
	 * v5 properties from -D and the shorthand options: recorded in
	 * `pending` while parsing, copied into the Paho lists below by
	 * common_connect() once the Paho client exists (see common.c).
	 */
	struct common_pending {
		MQTTProperties	*list;	/* one of the five below */
		MQTTProperty	 prop;	/* strings point into argv */
	}		*pending;
	int		 npending;
	MQTTProperties	 connect_props;
	MQTTProperties	 publish_props;
	MQTTProperties	 subscribe_props;
	MQTTProperties	 disconnect_props;
	MQTTProperties	 will_props;
	int		 v5_only;	/* an option that needs -V 5 was used */
	const char	*v5_only_opt;

	/* topics (-t; tern-pub takes exactly one) */
	char		**topics;
	int		 ntopics;

	/* tern-pub */
	enum common_source source;
	char		*message;	/* -m */
	char		*file;		/* -f */
	int		 retain;	/* -r */
	int		 no_alias;	/* --no-topic-alias */

	/* tern-sub */
	long		 count;		/* -C; 0: unlimited */
	long		 timeout;	/* -W seconds; 0: none */
	int		 verbose;	/* -v */
	int		 eol;		/* 0 with -N */
	enum common_format format;
	char		*custom;	/* -F format with % escapes */
	int		 no_local;	/* --no-local */
	int		 rap;		/* --retain-as-published */
	int		 rh;		/* --retain-handling */
	int		 no_retained;	/* -R */
	int		 exit_after_sub; /* -E */
};

/*
 * One connection and the state its Paho callbacks share with the main
 * thread. Every field below "mu" is read and written under mu; cv is
 * signalled whenever one of them changes.
 */
struct common_client {
	struct common_cfg *cfg;
	MQTTAsync	 h;
	char		*id;		/* client id sent (owned) */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;

	/* CONNACK */
	int		 connected;	/* 1 ok, -1 refused or failed */
	int		 session_present;
	int		 connack_rc;	/* reason code / 3.1.1 return code */
	int		 paho_rc;	/* Paho's own error code, if any */
	unsigned	 topic_alias_max; /* server's; 0 when none */
	unsigned	 receive_max;	/* server's; 65535 when absent */
	int		 max_qos;	/* server's; 2 when absent */
	int		 retain_available;
	char		*assigned_id;

	/* the end of the connection */
	int		 lost;		/* connection lost or DISCONNECT */
	int		 disconnect_rc;	/* v5 DISCONNECT reason, -1 if none */
	char		*disconnect_reason; /* its reason string */
	int		 done;		/* set by the program (e.g. -C reached) */

	/* the last failed request (PUBLISH, SUBSCRIBE, DISCONNECT) */
	int		 failed;
	int		 fail_rc;
	char		*fail_reason;

	/* a generic completion counter for requests in flight */
	int		 inflight;
	int		 sub_done;	/* SUBACK received */
};

/* common.c */

/*
 * Parse argv for the program `which` (COMMON_PUB or COMMON_SUB) into cfg.
 * Prints help and exits 0 on --help; prints the error and a usage hint and
 * exits COMMON_EXIT_USAGE on a bad option. cfg keeps pointers into argv
 * and owns the property lists (freed by common_cfg_free).
 */
void	common_parse(struct common_cfg *cfg, int which, int argc,
	    char **argv);

/*
 * Whether the command line put property id on the packet whose list is
 * `list` (e.g. &cfg->connect_props); if so and value is not NULL, its
 * numeric value goes to *value. Usable before common_connect().
 */
int	common_cfg_prop(const struct common_cfg *cfg,
	    const MQTTProperties *list, enum MQTTPropertyCodes id,
	    unsigned *value);

/* Free what common_parse allocated in cfg. */
void	common_cfg_free(struct common_cfg *cfg);

/*
 * Create the Paho client and connect, waiting for the CONNACK. arrived is
 * the message callback (NULL for tern-pub), with cl as its context.
 * Returns COMMON_EXIT_OK, or COMMON_EXIT_FAIL after printing why (refused
 * with its reason code, cannot reach the host). On failure cl is already
 * cleaned up (and cfg's property lists freed, as by common_close()); on
 * success the caller ends with common_close().
 */
int	common_connect(struct common_client *cl, struct common_cfg *cfg,
	    MQTTAsync_messageArrived *arrived);

/*
 * Disconnect (DISCONNECT with the -D disconnect properties, bounded wait)
 * if still connected, then destroy the Paho client and free cl's state.
 * Frees cl->cfg's property lists too (they must go back to Paho before
 * its last client is destroyed; see common.c); the rest of cfg stays.
 */
void	common_close(struct common_client *cl);

/*
 * Wait on cl->cv (cl->mu held by the caller) until signalled, or for
 * msec milliseconds but never more than 100 ms (msec < 0: 100 ms), so
 * callers re-check their condition, their deadline and common_stopping()
 * in a loop. Returns 0 when signalled, ETIMEDOUT otherwise.
 */
int	common_wait(struct common_client *cl, long msec);

/* Milliseconds on the monotonic clock. */
long long common_now_ms(void);

/* Lock and signal helpers for Paho callbacks. */
void	common_lock(struct common_client *cl);
void	common_unlock(struct common_client *cl);
void	common_signal(struct common_client *cl);

/*
 * Record a failed request under cl->mu: the reason code and the reason
 * string of props (may be NULL). Only the first failure is kept.
 */
void	common_fail(struct common_client *cl, int rc,
	    const MQTTProperties *props);

/* "prog: message" on stderr. */
void	common_err(const struct common_cfg *cfg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* "prog: message" on stderr when -d is given. */
void	common_debug(const struct common_cfg *cfg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Describe an MQTT 5 reason code or a 3.1.1 code in buf: "0x87 Not
 * authorized". Returns buf.
 */
const char *common_rc_str(int rc, char *buf, size_t len);

/*
 * With cl->mu held, after the connection was lost or a request failed
 * inside Paho: give an MQTT 5 DISCONNECT that may explain it up to 500 ms
 * to reach cl->disconnect_rc (Paho fails the requests in flight before it
 * reports the DISCONNECT), so that the message printed names its reason.
 */
void	common_settle(struct common_client *cl);

/*
 * Print the end of a connection that the broker or the network ended,
 * with the DISCONNECT reason code and reason string when there was one.
 */
void	common_print_lost(struct common_client *cl);

/*
 * Print the failure of a request: "prog: WHAT: 0x87 Not authorized
 * (broker: "reason string")".
 */
void	common_print_fail(struct common_client *cl, const char *what);

/* Install SIGINT/SIGTERM handlers that set a flag; ignore SIGPIPE. */
void	common_signals(void);

/* Whether SIGINT or SIGTERM has been received. */
int	common_stopping(void);

/*
 * The reason string of props, or NULL. The result points into props.
 */
const MQTTLenString *common_reason_string(const MQTTProperties *props);

#endif
