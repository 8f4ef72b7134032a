/*
 * config_test.c - tern.conf parsing: good lines, every kind of bad line
 * with its exact "FILE:LINE: message", whole files, and the check that
 * tern.conf(5) documents every key of the table with its default.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "tap.h"

struct server srv; /* config.c needs no server, but broker.h declares it */

static int
line_ok(struct config *c, const char *text)
{
	char buf[256], err[512];

	snprintf(buf, sizeof buf, "%s", text);
	return config_line(c, "t.conf", 7, buf, err, sizeof err) == 0;
}

/* Expect text to be refused with exactly want as the message. */
static void
line_bad(const char *text, const char *want)
{
	struct config c;
	char buf[256], err[512] = "";
	int rc;

	config_init(&c);
	snprintf(buf, sizeof buf, "%s", text);
	rc = config_line(&c, "t.conf", 7, buf, err, sizeof err);
	ok(rc == -1 && strcmp(err, want) == 0, "refused: %s", text);
	if (strcmp(err, want) != 0)
		diag("got '%s', want '%s'", err, want);
	config_free(&c);
}

static void
test_defaults(void)
{
	struct config c;

	config_init(&c);
	is_int(c.max_packet_size, 1048576, "default max_packet_size");
	is_int(c.max_inflight_messages, 65535, "default max_inflight_messages");
	is_int(c.delivery_receipts, 1, "default delivery_receipts");
	is_int(c.max_inflight_messages_v311, 1000,
	    "default max_inflight_messages_v311");
	is_int(c.max_queued_messages, 1000, "default max_queued_messages");
	is_int(c.max_keepalive, 65535, "default max_keepalive");
	is_int(c.connect_timeout, 10, "default connect_timeout");
	is_int(c.allow_zero_length_clientid, 1, "default zero-length ids");
	is_int(c.tcp_nodelay, 1, "default set_tcp_nodelay");
	is_int(c.log_level, LOG_NOTICE, "default log_level");
	ok(c.log_file == NULL, "default log_dest stderr");
	ok(strcmp(c.data_dir, "./var") == 0, "default data_dir ./var");
	is_int(c.n_listeners, 0, "no listener before config_finish");
	config_finish(&c);
	ok(c.n_listeners == 1 && c.listeners[0].port == 1883 &&
	    strcmp(c.listeners[0].address, "127.0.0.1") == 0,
	    "no listener configured: 127.0.0.1:1883");
	config_free(&c);
}

static void
test_good_lines(void)
{
	struct config c;

	config_init(&c);
	ok(line_ok(&c, "listener 1883"), "listener with port only");
	ok(line_ok(&c, "listener 0 127.0.0.1"), "listener with address");
	ok(c.n_listeners == 2 && c.listeners[0].address == NULL &&
	    c.listeners[1].port == 0 &&
	    strcmp(c.listeners[1].address, "127.0.0.1") == 0,
	    "listeners are repeatable and kept in order");
	ok(line_ok(&c, "max_packet_size 20"), "max_packet_size minimum");
	is_int(c.max_packet_size, 20, "max_packet_size set");
	ok(line_ok(&c, "max_packet_size 268435460"), "max_packet_size max");
	ok(line_ok(&c, "set_tcp_nodelay false"), "boolean false");
	is_int(c.tcp_nodelay, 0, "boolean stored");
	ok(line_ok(&c, "allow_zero_length_clientid off"), "boolean off");
	ok(line_ok(&c, "log_level debug"), "log_level debug");
	is_int(c.log_level, LOG_DEBUG, "log_level stored");
	ok(line_ok(&c, "log_dest file /tmp/a b.log"), "log_dest file");
	ok(c.log_file != NULL && strcmp(c.log_file, "/tmp/a b.log") == 0,
	    "log_dest path keeps spaces");
	ok(line_ok(&c, "log_dest stderr") && c.log_file == NULL,
	    "log_dest stderr resets");
	ok(line_ok(&c, "data_dir /var/lib/tern"), "data_dir");
	ok(strcmp(c.data_dir, "/var/lib/tern") == 0, "data_dir stored");
	config_set_port(&c, 5555);
	ok(c.n_listeners == 1 && c.listeners[0].port == 5555,
	    "-p replaces the listeners");
	config_free(&c);
}

/* allow_anonymous defaults to false once password_file is set, unless
 * it is given explicitly. */
static void
test_allow_anonymous(void)
{
	struct config c;

	config_init(&c);
	config_finish(&c);
	is_int(c.allow_anonymous, 1, "no password_file: anonymous allowed");
	ok(c.password_file == NULL && c.acl_file == NULL,
	    "no password_file, no acl_file by default");
	config_free(&c);

	config_init(&c);
	ok(line_ok(&c, "password_file /etc/tern/pass words"), "password_file");
	ok(strcmp(c.password_file, "/etc/tern/pass words") == 0,
	    "password_file path keeps spaces");
	config_finish(&c);
	is_int(c.allow_anonymous, 0, "password_file: anonymous refused");
	config_free(&c);

	config_init(&c);
	ok(line_ok(&c, "allow_anonymous true") &&
	    line_ok(&c, "password_file p"), "explicit allow_anonymous true");
	config_finish(&c);
	is_int(c.allow_anonymous, 1, "explicit true kept with password_file");
	config_free(&c);

	config_init(&c);
	ok(line_ok(&c, "allow_anonymous off"), "allow_anonymous off");
	config_finish(&c);
	is_int(c.allow_anonymous, 0, "explicit false without password_file");
	ok(line_ok(&c, "acl_file /etc/tern/acl") &&
	    strcmp(c.acl_file, "/etc/tern/acl") == 0, "acl_file");
	config_free(&c);
}

static void
test_bad_lines(void)
{
	line_bad("no_such_key 1", "t.conf:7: unknown key 'no_such_key'");
	line_bad("max_packet_size", "t.conf:7: max_packet_size needs a value");
	line_bad("max_packet_size 19", "t.conf:7: max_packet_size must be a "
	    "number from 20 to 268435460, not '19'");
	line_bad("max_packet_size 1x", "t.conf:7: max_packet_size must be a "
	    "number from 20 to 268435460, not '1x'");
	line_bad("max_packet_size -5", "t.conf:7: max_packet_size must be a "
	    "number from 20 to 268435460, not '-5'");
	line_bad("max_inflight_messages 0", "t.conf:7: max_inflight_messages "
	    "must be a number from 1 to 65535, not '0'");
	line_bad("max_queued_messages 99999999999", "t.conf:7: "
	    "max_queued_messages must be a number from 1 to 4294967295, not "
	    "'99999999999'");
	line_bad("connect_timeout 10 20", "t.conf:7: connect_timeout takes "
	    "one value");
	line_bad("set_tcp_nodelay maybe", "t.conf:7: set_tcp_nodelay must be "
	    "true or false, not 'maybe'");
	line_bad("listener", "t.conf:7: listener needs a port from 0 to "
	    "65535");
	line_bad("listener 70000", "t.conf:7: listener needs a port from 0 "
	    "to 65535");
	line_bad("listener 1883 127.0.0.1 extra", "t.conf:7: listener takes "
	    "a port and an optional bind address");
	line_bad("log_level loud", "t.conf:7: log_level must be one of "
	    "error, warning, notice, info, debug");
	line_bad("log_dest syslog", "t.conf:7: log_dest must be 'stderr' or "
	    "'file <path>'");
	line_bad("log_dest file", "t.conf:7: log_dest must be 'stderr' or "
	    "'file <path>'");
	line_bad("allow_anonymous maybe", "t.conf:7: allow_anonymous must be "
	    "true or false");
	line_bad("allow_anonymous true false", "t.conf:7: allow_anonymous "
	    "must be true or false");
	line_bad("password_file", "t.conf:7: password_file needs a value");
}

/* cluster_secret: the rest of the line, at least BRIDGE_SECRET_MIN
 * bytes. */
static void
test_cluster_secret(void)
{
	struct config c;

	config_init(&c);
	ok(line_ok(&c, "cluster_secret 0123456789abcdef") &&
	    strcmp(c.cluster_secret, "0123456789abcdef") == 0,
	    "cluster_secret of 16 bytes");
	ok(line_ok(&c, "cluster_secret \ta secret with spaces") &&
	    strcmp(c.cluster_secret, "a secret with spaces") == 0,
	    "cluster_secret keeps its spaces, the last one wins");
	config_free(&c);
	line_bad("cluster_secret 0123456789abcde", "t.conf:7: cluster_secret "
	    "must be at least 16 bytes long, this one has 15 (a random one: "
	    "openssl rand -base64 24)");
	line_bad("cluster_secret", "t.conf:7: cluster_secret must be at "
	    "least 16 bytes long, this one has 0 (a random one: openssl "
	    "rand -base64 24)");
}

static void
test_files(void)
{
	char path[] = "/tmp/tern-config-test-XXXXXX", err[512] = "";
	struct config c;
	FILE *fp;
	int fd;

	fd = mkstemp(path);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		ok(0, "temporary file");
		return;
	}
	fputs("# a comment\n\n   # indented comment\n"
	    "listener 0 127.0.0.1\r\n"
	    "\tmax_queued_messages 5   \n"
	    "bogus value\n", fp);
	fclose(fp);
	config_init(&c);
	ok(config_load(&c, path, err, sizeof err) == -1, "bad file refused");
	{
		char want[600];
		snprintf(want, sizeof want, "%s:6: unknown key 'bogus'", path);
		ok(strcmp(err, want) == 0, "error names file and line 6");
		if (strcmp(err, want) != 0)
			diag("got '%s'", err);
	}
	is_int(c.max_queued_messages, 5, "lines before the error applied "
	    "(comments, CRLF, tabs and trailing blanks handled)");
	config_free(&c);

	fp = fopen(path, "w");
	fputs("listener 0 127.0.0.1\nmax_queued_messages 5\n", fp);
	fclose(fp);
	config_init(&c);
	ok(config_load(&c, path, err, sizeof err) == 0, "good file loads");
	config_free(&c);
	unlink(path);

	config_init(&c);
	ok(config_load(&c, "/nonexistent/tern.conf", err, sizeof err) == -1 &&
	    strstr(err, "/nonexistent/tern.conf: cannot open") == err,
	    "missing file: clear error");
	config_free(&c);
}

/* TLS keys set the listener of the line above them. */
static void
test_tls_lines(void)
{
	struct config c;

	config_init(&c);
	ok(line_ok(&c, "listener 1883 127.0.0.1"), "plain listener");
	ok(line_ok(&c, "listener 8883"), "second listener");
	ok(line_ok(&c, "certfile /etc/tern/my server.crt"), "certfile");
	ok(line_ok(&c, "keyfile /etc/tern/server.key"), "keyfile");
	ok(line_ok(&c, "cafile /etc/tern/ca.crt"), "cafile");
	ok(line_ok(&c, "capath /etc/ssl/certs"), "capath");
	ok(line_ok(&c, "require_certificate yes"), "require_certificate");
	ok(line_ok(&c, "use_identity_as_username on") &&
	    c.listeners[1].use_identity_as_username == 1 &&
	    c.listeners[0].use_identity_as_username == 0,
	    "use_identity_as_username on the listener above");
	ok(line_ok(&c, "tls_version tlsv1.2"), "tls_version tlsv1.2");
	ok(line_ok(&c, "ciphers ECDHE-ECDSA-AES128-GCM-SHA256"), "ciphers");
	ok(c.listeners[0].certfile == NULL && c.listeners[0].tls == NULL &&
	    !c.listeners[0].require_certificate,
	    "the first listener stays plain");
	ok(c.listeners[1].certfile != NULL &&
	    strcmp(c.listeners[1].certfile, "/etc/tern/my server.crt") == 0,
	    "certfile on the listener above, spaces kept");
	ok(c.listeners[1].require_certificate == 1 &&
	    strcmp(c.listeners[1].cafile, "/etc/tern/ca.crt") == 0 &&
	    strcmp(c.listeners[1].capath, "/etc/ssl/certs") == 0 &&
	    strcmp(c.listeners[1].ciphers,
	    "ECDHE-ECDSA-AES128-GCM-SHA256") == 0,
	    "the other TLS keys too");
	ok(line_ok(&c, "certfile /etc/tern/new.crt") &&
	    strcmp(c.listeners[1].certfile, "/etc/tern/new.crt") == 0,
	    "a repeated key replaces");
	config_free(&c);

	line_bad("certfile /a.crt", "t.conf:7: certfile must follow a "
	    "listener line");
	line_bad("require_certificate true", "t.conf:7: require_certificate "
	    "must follow a listener line");
	line_bad("tls_version tlsv1.2", "t.conf:7: tls_version must follow "
	    "a listener line");
	config_init(&c);
	ok(line_ok(&c, "listener 8883"), "listener for the bad TLS lines");
	{
		char buf[64], err[256] = "";

		snprintf(buf, sizeof buf, "tls_version tlsv1.3");
		ok(config_line(&c, "t.conf", 9, buf, err, sizeof err) == -1 &&
		    strcmp(err, "t.conf:9: tls_version must be tlsv1.2 (the "
		    "only version this build speaks)") == 0,
		    "tls_version tlsv1.3 refused");
		snprintf(buf, sizeof buf, "require_certificate maybe");
		ok(config_line(&c, "t.conf", 9, buf, err, sizeof err) == -1 &&
		    strcmp(err, "t.conf:9: require_certificate must be true "
		    "or false, not 'maybe'") == 0,
		    "require_certificate maybe refused");
		snprintf(buf, sizeof buf, "keyfile");
		ok(config_line(&c, "t.conf", 9, buf, err, sizeof err) == -1 &&
		    strcmp(err, "t.conf:9: keyfile needs a value") == 0,
		    "keyfile without a value refused");
	}
	config_free(&c);
}

/* max_connections: per listener after a listener line, the default of
 * the others before any; -1 and 0 are no limit. */
static void
test_limits(void)
{
	struct config c;

	config_init(&c);
	is_int(c.max_connections, 0, "default max_connections: no limit");
	is_int(c.max_topic_length, 65535, "default max_topic_length");
	is_int(c.max_connection_rate, 0, "default max_connection_rate off");
	/* What one client can make the node hold is bounded by default. */
	is_int(c.max_subscriptions_per_client, 1000,
	    "default max_subscriptions_per_client");
	is_int(c.max_retained_messages, 1000000,
	    "default max_retained_messages");
	ok(c.max_retained_bytes == 1073741824ull,
	    "default max_retained_bytes: 1 GiB");
	ok(c.max_queued_bytes == 67108864ull,
	    "default max_queued_bytes: 64 MiB");
	ok(line_ok(&c, "max_retained_bytes 0") && c.max_retained_bytes == 0,
	    "max_retained_bytes 0: no limit");
	ok(line_ok(&c, "max_retained_bytes 18446744073709551615") &&
	    c.max_retained_bytes == UINT64_MAX, "max_retained_bytes: 64 bits");
	ok(line_ok(&c, "max_queued_bytes 0") && c.max_queued_bytes == 0,
	    "max_queued_bytes 0: no limit");
	ok(line_ok(&c, "max_connections 100"), "global max_connections");
	ok(line_ok(&c, "listener 1883"), "first listener");
	ok(line_ok(&c, "max_connections 5"), "its own max_connections");
	ok(line_ok(&c, "listener 1884"), "second listener");
	ok(line_ok(&c, "listener 1885"), "third listener");
	ok(line_ok(&c, "max_connections -1"), "-1 on the third");
	config_finish(&c);
	ok(c.listeners[0].max_connections == 5 &&
	    c.listeners[1].max_connections == 100 &&
	    c.listeners[2].max_connections == 0,
	    "max_connections: own, inherited, -1 as no limit");
	config_free(&c);
	line_bad("max_connections -2", "t.conf:7: max_connections must be "
	    "-1 (no limit) or a number from 0 to 2147483647");
	line_bad("max_connections 3 4", "t.conf:7: max_connections must be "
	    "-1 (no limit) or a number from 0 to 2147483647");
	line_bad("max_topic_length 0", "t.conf:7: max_topic_length must be "
	    "a number from 1 to 65535, not '0'");
	line_bad("max_retained_bytes 1G", "t.conf:7: max_retained_bytes must "
	    "be a number of bytes (0: no limit)");
	line_bad("max_retained_bytes -1", "t.conf:7: max_retained_bytes must "
	    "be a number of bytes (0: no limit)");
}

/* The cluster's TLS keys are paths (the rest of the line) and default
 * to none; whether they go together is tls.c's check at start-up
 * (32-cluster-tls-config.py). */
static void
test_cluster_tls(void)
{
	struct config c;

	config_init(&c);
	ok(c.cluster_certfile == NULL && c.cluster_keyfile == NULL &&
	    c.cluster_cafile == NULL, "cluster TLS keys default to none");
	ok(line_ok(&c, "cluster_certfile /etc/tern/node one.crt"),
	    "cluster_certfile");
	ok(line_ok(&c, "cluster_keyfile /etc/tern/node.key"),
	    "cluster_keyfile");
	ok(line_ok(&c, "cluster_cafile /etc/tern/cluster-ca.crt"),
	    "cluster_cafile");
	ok(strcmp(c.cluster_certfile, "/etc/tern/node one.crt") == 0 &&
	    strcmp(c.cluster_keyfile, "/etc/tern/node.key") == 0 &&
	    strcmp(c.cluster_cafile, "/etc/tern/cluster-ca.crt") == 0,
	    "cluster TLS paths kept, spaces included");
	ok(c.n_listeners == 0, "cluster TLS keys need no listener line");
	config_free(&c);
	line_bad("cluster_cafile", "t.conf:7: cluster_cafile needs a value");
}

/* presence_topic: a topic name with %c; presence_debounce;
 * presence_clients persistent | all. */
static void
test_presence(void)
{
	struct config c;

	config_init(&c);
	ok(c.presence_topic == NULL, "no presence_topic by default");
	is_int(c.presence_debounce, 10, "default presence_debounce 10");
	is_int(c.presence_all, 0, "default presence_clients persistent");
	ok(line_ok(&c, "presence_topic im/p/%c"), "presence_topic im/p/%%c");
	ok(c.presence_topic != NULL &&
	    strcmp(c.presence_topic, "im/p/%c") == 0, "presence_topic kept");
	ok(line_ok(&c, "presence_topic p/%u/%c/x"), "presence_topic %%u %%c");
	ok(strcmp(c.presence_topic, "p/%u/%c/x") == 0,
	    "presence_topic replaced");
	ok(line_ok(&c, "presence_debounce 0"), "presence_debounce 0");
	is_int(c.presence_debounce, 0, "presence_debounce set");
	ok(line_ok(&c, "presence_clients all"), "presence_clients all");
	is_int(c.presence_all, 1, "presence_clients all set");
	ok(line_ok(&c, "presence_clients persistent"),
	    "presence_clients persistent");
	is_int(c.presence_all, 0, "presence_clients persistent set");
	config_free(&c);

#define PRESENCE_BAD "t.conf:7: presence_topic must be a topic name with " \
	"%c (and optionally %u), without '+', '#', other '%' or a leading '$'"
	line_bad("presence_topic", PRESENCE_BAD);
	line_bad("presence_topic im/p/+/%c", PRESENCE_BAD);
	line_bad("presence_topic im/p/%c/#", PRESENCE_BAD);
	line_bad("presence_topic im/p/%u", PRESENCE_BAD);
	line_bad("presence_topic im/p/online", PRESENCE_BAD);
	line_bad("presence_topic im/%d/%c", PRESENCE_BAD);
	line_bad("presence_topic im/p/%c%", PRESENCE_BAD);
	line_bad("presence_topic $SYS/p/%c", PRESENCE_BAD);
	line_bad("presence_topic im/p/%c extra", PRESENCE_BAD);
	line_bad("presence_debounce 86401", "t.conf:7: presence_debounce must "
	    "be a number from 0 to 86400, not '86401'");
	line_bad("presence_clients some", "t.conf:7: presence_clients must be "
	    "persistent or all");
	line_bad("presence_clients", "t.conf:7: presence_clients must be "
	    "persistent or all");
}

static void
test_push(void)
{
	struct config c;

	config_init(&c);
	ok(c.push_webhook == NULL && c.push_secret == NULL,
	    "no push_webhook by default");
	is_int(c.push_min_interval, 0, "default push_min_interval 0");
	is_int(c.push_timeout, 10, "default push_timeout 10");
	is_int(c.push_queue_max, 100000, "default push_queue_max 100000");
	ok(line_ok(&c, "push_webhook http://127.0.0.1:8080/im/push?k=v"),
	    "push_webhook with port, path and query");
	ok(strcmp(c.push_host, "127.0.0.1") == 0 && c.push_port == 8080 &&
	    strcmp(c.push_path, "/im/push?k=v") == 0 &&
	    strcmp(c.push_webhook, "http://127.0.0.1:8080/im/push?k=v") == 0,
	    "push_webhook split into host, port, path");
	ok(line_ok(&c, "push_webhook HTTP://push.example"),
	    "push_webhook: no port, no path");
	ok(strcmp(c.push_host, "push.example") == 0 && c.push_port == 80 &&
	    strcmp(c.push_path, "/") == 0, "port 80, path /");
	ok(line_ok(&c, "push_webhook http://[::1]:9000?a=b"),
	    "push_webhook: IPv6 address, query only");
	ok(strcmp(c.push_host, "::1") == 0 && c.push_port == 9000 &&
	    strcmp(c.push_path, "/?a=b") == 0, "host without brackets");
	ok(line_ok(&c, "push_webhook_secret  a secret with spaces 123"),
	    "push_webhook_secret");
	ok(strcmp(c.push_secret, "a secret with spaces 123") == 0,
	    "push_webhook_secret: the rest of the line");
	ok(line_ok(&c, "push_min_interval 30") && c.push_min_interval == 30,
	    "push_min_interval 30");
	ok(line_ok(&c, "push_timeout 3") && c.push_timeout == 3,
	    "push_timeout 3");
	ok(line_ok(&c, "push_queue_max 3") && c.push_queue_max == 3,
	    "push_queue_max 3");
	config_free(&c);

	line_bad("push_webhook https://push.example/p", "t.conf:7: "
	    "push_webhook: https is not supported (libevent 2.1 has no TLS "
	    "for it here): use a local proxy that forwards "
	    "http://127.0.0.1:<port>/... to your https server");
	line_bad("push_webhook ftp://push.example/p", "t.conf:7: "
	    "push_webhook must be an http:// URL, not 'ftp://push.example/p'");
	line_bad("push_webhook push.example/p", "t.conf:7: "
	    "push_webhook must be an http:// URL, not 'push.example/p'");
	line_bad("push_webhook", "t.conf:7: push_webhook takes one URL, e.g. "
	    "http://127.0.0.1:8080/push");
	line_bad("push_webhook http://a/p http://b/p", "t.conf:7: "
	    "push_webhook takes one URL, e.g. http://127.0.0.1:8080/push");
	line_bad("push_webhook http:///p", "t.conf:7: push_webhook: "
	    "'http:///p' has no host (http://host[:port]/path)");
	line_bad("push_webhook http://:80/p", "t.conf:7: push_webhook: "
	    "'http://:80/p' has no host (http://host[:port]/path)");
	line_bad("push_webhook http://[]:80/p", "t.conf:7: push_webhook: "
	    "'http://[]:80/p' has no host (http://host[:port]/path)");
	line_bad("push_webhook http://h:0/p", "t.conf:7: push_webhook: "
	    "'http://h:0/p' has a bad port (1 to 65535)");
	line_bad("push_webhook http://h:65536/p", "t.conf:7: push_webhook: "
	    "'http://h:65536/p' has a bad port (1 to 65535)");
	line_bad("push_webhook http://h:/p", "t.conf:7: push_webhook: "
	    "'http://h:/p' has a bad port (1 to 65535)");
	line_bad("push_webhook http://h:8x/p", "t.conf:7: push_webhook: "
	    "'http://h:8x/p' has a bad port (1 to 65535)");
	line_bad("push_webhook http://[::1]x/p", "t.conf:7: push_webhook: "
	    "'http://[::1]x/p' has a bad port (1 to 65535)");
	line_bad("push_webhook http://u:pw@h/p", "t.conf:7: push_webhook: "
	    "'http://u:pw@h/p' has a character it may not have (space, "
	    "control, '#', or user@ before the host)");
	line_bad("push_webhook http://h/p#frag", "t.conf:7: push_webhook: "
	    "'http://h/p#frag' has a character it may not have (space, "
	    "control, '#', or user@ before the host)");
	line_bad("push_webhook_secret short", "t.conf:7: push_webhook_secret "
	    "must be at least 16 bytes long, this one has 5 (a random one: "
	    "openssl rand -hex 32)");
	line_bad("push_timeout 0", "t.conf:7: push_timeout must be a number "
	    "from 1 to 3600, not '0'");
	line_bad("push_queue_max 0", "t.conf:7: push_queue_max must be a "
	    "number from 1 to 100000000, not '0'");
	line_bad("push_min_interval 86401", "t.conf:7: push_min_interval must "
	    "be a number from 0 to 86400, not '86401'");
}

/* The HTTP listener: off by default, 127.0.0.1 unless told, and the
 * token keys (whether it may start without one is http.c's check). */
static void
test_http(void)
{
	struct config c;

	config_init(&c);
	ok(!c.http_listener && c.http_address == NULL &&
	    c.http_token_file == NULL && !c.http_allow_anonymous,
	    "no http_listener by default, no token file, not anonymous");
	ok(line_ok(&c, "http_listener 0") && c.http_listener &&
	    c.http_port == 0 && strcmp(c.http_address, "127.0.0.1") == 0,
	    "http_listener 0: a free port on 127.0.0.1");
	ok(line_ok(&c, "http_listener 9090 ::1") && c.http_port == 9090 &&
	    strcmp(c.http_address, "::1") == 0,
	    "http_listener with an address; the last line wins");
	ok(line_ok(&c, "http_token_file /etc/tern/http tokens") &&
	    strcmp(c.http_token_file, "/etc/tern/http tokens") == 0,
	    "http_token_file: a path with a space");
	ok(line_ok(&c, "http_allow_anonymous true") &&
	    c.http_allow_anonymous, "http_allow_anonymous true");
	ok(c.http_certfile == NULL && c.http_keyfile == NULL &&
	    c.http_cafile == NULL && !c.http_require_certificate,
	    "plain http by default");
	ok(line_ok(&c, "http_certfile /etc/tern/http.crt") &&
	    line_ok(&c, "http_keyfile /etc/tern/http.key") &&
	    line_ok(&c, "http_cafile /etc/tern/ca.crt") &&
	    line_ok(&c, "http_require_certificate true") &&
	    strcmp(c.http_certfile, "/etc/tern/http.crt") == 0 &&
	    strcmp(c.http_keyfile, "/etc/tern/http.key") == 0 &&
	    strcmp(c.http_cafile, "/etc/tern/ca.crt") == 0 &&
	    c.http_require_certificate, "the http_ TLS keys");
	config_free(&c);
	line_bad("http_listener", "t.conf:7: http_listener takes a port from "
	    "0 to 65535 and an optional bind address");
	line_bad("http_listener 65536", "t.conf:7: http_listener takes a port "
	    "from 0 to 65535 and an optional bind address");
	line_bad("http_listener 80 127.0.0.1 x", "t.conf:7: http_listener "
	    "takes a port from 0 to 65535 and an optional bind address");
	line_bad("http_allow_anonymous yes please", "t.conf:7: "
	    "http_allow_anonymous takes one value");
	line_bad("http_token_file", "t.conf:7: http_token_file needs a value");
}

/* Connection sections (mqttbridge_conf.c): defaults, mosquitto's topic
 * line forms, addresses; every key after a connection line is its own. */
static void
test_bridges(void)
{
	const struct mqttbridge_conf *b;
	const struct mqttbridge_topic *t;
	struct config c;
	char err[512];

	config_init(&c);
	ok(line_ok(&c, "connection up") && line_ok(&c, "address h1 "
	    "h2:1884 [::1]:1885") && line_ok(&c, "topic a/#") &&
	    line_ok(&c, "topic \"\" in 2 loc/x rem/y") &&
	    line_ok(&c, "topic s/+ both 1 \"\" r/") &&
	    line_ok(&c, "remote_password two words") &&
	    line_ok(&c, "restart_timeout 2 60"), "a connection section");
	b = &c.bridges[0];
	ok(c.n_bridges == 1 && strcmp(b->name, "up") == 0 &&
	    b->version == MQTT_V5 && !b->cleansession && b->try_private &&
	    b->keepalive == 60 && b->remote_clientid == NULL,
	    "connection defaults: mqttv50, cleansession false, try_private");
	ok(b->n_addrs == 3 && strcmp(b->addrs[0].host, "h1") == 0 &&
	    b->addrs[0].port == 1883 && b->addrs[1].port == 1884 &&
	    strcmp(b->addrs[2].host, "::1") == 0 && b->addrs[2].port == 1885,
	    "addresses: default port 1883, IPv6 in brackets");
	t = b->topics;
	ok(b->n_topics == 3 && t[0].dir == MQTTBRIDGE_OUT && t[0].qos == 0 &&
	    strcmp(t[0].local_filter, "a/#") == 0, "topic: out, QoS 0");
	ok(t[1].dir == MQTTBRIDGE_IN && t[1].qos == 2 &&
	    strcmp(t[1].local_filter, "loc/x") == 0 &&
	    strcmp(t[1].remote_filter, "rem/y") == 0,
	    "topic: \"\" pattern, the prefixes are the topics");
	ok(t[2].dir == (MQTTBRIDGE_IN | MQTTBRIDGE_OUT) &&
	    strcmp(t[2].local_filter, "s/+") == 0 &&
	    strcmp(t[2].remote_filter, "r/s/+") == 0,
	    "topic: both, an empty local prefix");
	ok(strcmp(b->remote_password, "two words") == 0 &&
	    b->restart_base == 2 && b->restart_cap == 60,
	    "remote_password is the rest of the line; restart_timeout");
	ok(config_line(&c, "t.conf", 9, (char[]){ "max_keepalive 5" }, err,
	    sizeof err) == -1 && strstr(err, "t.conf:9: unknown key "
	    "'max_keepalive' in connection up") == err,
	    "a node key after a connection line is refused");
	ok(line_ok(&c, "connection down") && c.n_bridges == 2 &&
	    mqttbridge_conf_check(&c, "t.conf", err, sizeof err) == -1 &&
	    strcmp(err, "t.conf:7: connection down has no address line") == 0,
	    "a section without address is refused at its connection line");
	config_free(&c);
	line_bad("connection", "t.conf:7: connection takes one name of 1 to 64 "
	    "letters, digits, '.', '-' or '_'");
}

/* SIGHUP: the reloadable keys that changed move into the live config,
 * the others (and the listeners) stay; the old values are left in the
 * fresh config; per-listener max_connections follows its listener. */
static void
test_reload(void)
{
	struct config live, fresh;

	config_init(&live);
	ok(line_ok(&live, "listener 1883") &&
	    line_ok(&live, "max_connections 5") &&
	    line_ok(&live, "max_queued_messages 5") &&
	    line_ok(&live, "push_webhook http://a/x") &&
	    line_ok(&live, "store_sync full"), "first file");
	config_finish(&live);
	config_init(&fresh);
	ok(line_ok(&fresh, "listener 1884") &&
	    line_ok(&fresh, "max_connections 9") &&
	    line_ok(&fresh, "max_queued_messages 7") &&
	    line_ok(&fresh, "push_webhook http://b:81/y") &&
	    line_ok(&fresh, "store_sync full") &&
	    line_ok(&fresh, "max_qos 1"), "second file");
	config_finish(&fresh);
	is_int(config_reload(&live, &fresh, "t.conf"), 3,
	    "three keys applied (max_connections, max_queued_messages, "
	    "push_webhook)");
	is_int(live.max_queued_messages, 7, "max_queued_messages applied");
	ok(strcmp(live.push_host, "b") == 0 && live.push_port == 81 &&
	    strcmp(live.push_path, "/y") == 0, "push_webhook applied whole");
	is_int(live.listeners[0].max_connections, 9,
	    "max_connections of the listener applied");
	ok(live.listeners[0].port == 1883 && live.max_qos == 2,
	    "listener and max_qos kept (restart)");
	ok(fresh.max_queued_messages == 5 &&
	    strcmp(fresh.push_webhook, "http://a/x") == 0,
	    "the old values are left in fresh");
	config_free(&fresh);
	config_init(&fresh);
	ok(line_ok(&fresh, "listener 1884") &&
	    line_ok(&fresh, "max_connections 9") &&
	    line_ok(&fresh, "max_queued_messages 7") &&
	    line_ok(&fresh, "push_webhook http://b:81/y") &&
	    line_ok(&fresh, "store_sync full"), "third file");
	config_finish(&fresh);
	is_int(config_reload(&live, &fresh, "t.conf"), 0,
	    "nothing more to apply");
	config_free(&fresh);
	config_free(&live);
}

/* Every key of the table is documented in tern.conf(5) with its default
 * and whether SIGHUP applies it. */
static void
test_man_page(void)
{
	const char *srcdir = getenv("TERN_SRCDIR");
	char path[1024], line[1024], key_line[128], def[64], want[128];
	const char *name, *reload;
	size_t i;
	FILE *fp;
	int found, documented, reload_said;

	snprintf(path, sizeof path, "%s/man/tern.conf.5",
	    srcdir != NULL ? srcdir : ".");
	for (i = 0; (name = config_key_name(i)) != NULL; i++) {
		fp = fopen(path, "r");
		if (fp == NULL) {
			ok(0, "open %s", path);
			return;
		}
		config_key_default(i, def, sizeof def);
		snprintf(key_line, sizeof key_line, ".B %s", name);
		snprintf(want, sizeof want, "Default: %s", def);
		/* Whether SIGHUP applies it, as config.c's table says. */
		reload = config_reloadable(i) ? "Reload: SIGHUP\n" :
		    "Reload: restart\n";
		found = documented = reload_said = 0;
		while (fgets(line, sizeof line, fp) != NULL) {
			size_t kl = strlen(key_line);
			if (!found) {
				if (strncmp(line, key_line, kl) == 0 &&
				    (line[kl] == ' ' || line[kl] == '\n'))
					found = 1;
				continue;
			}
			/* The entry ends at the next paragraph or section;
			 * the key may also be named in running text. */
			if (strncmp(line, ".TP", 3) == 0 ||
			    strncmp(line, ".SH", 3) == 0 ||
			    strncmp(line, ".SS", 3) == 0) {
				found = 0;
				continue;
			}
			if (strncmp(line, want, strlen(want)) == 0)
				documented = 1;
			if (strcmp(line, reload) == 0)
				reload_said = 1;
		}
		fclose(fp);
		ok(documented, "tern.conf(5) documents %s with "
		    "'%s'", name, want);
		ok(reload_said, "tern.conf(5) says '%.*s' for %s",
		    (int)strlen(reload) - 1, reload, name);
	}
}

int
main(void)
{
	test_defaults();
	test_good_lines();
	test_allow_anonymous();
	test_bad_lines();
	test_cluster_secret();
	test_tls_lines();
	test_cluster_tls();
	test_files();
	test_limits();
	test_presence();
	test_push();
	test_http();
	test_bridges();
	test_reload();
	test_man_page();
	return tap_done();
}
