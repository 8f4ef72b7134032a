/*
 * tls.c - TLS listeners: mbedTLS 2.28 under a libevent 2.1 bufferevent.
 *
 * libevent 2.1 has no mbedTLS bufferevent (it arrives in 2.2), so the seam
 * is ours. Each TLS connection is two bufferevents:
 *
 *   conn.c / read.c  <->  filter bufferevent (plaintext)
 *                             |  tls_filter_in / tls_filter_out
 *                         socket bufferevent (ciphertext)
 *
 * The filter is libevent's bufferevent_filter; its two callbacks drive
 * mbedTLS. mbedTLS never touches the socket: its BIO callbacks read from
 * the socket bufferevent's input buffer and append to its output buffer,
 * and an empty input buffer is MBEDTLS_ERR_SSL_WANT_READ. So the loop
 * never blocks, and the rest of the broker sees one bufferevent carrying
 * MQTT bytes, as for plain TCP.
 *
 * Reading: tls_filter_in runs the handshake until it completes, then
 * calls mbedtls_ssl_read until WANT_READ. It always drains everything:
 * bytes that mbedTLS has decrypted but not handed out are invisible to
 * epoll (the known trap of TLS under an event loop), so stopping early
 * could strand a CONNECT or a PUBLISH until the client sent more. For the
 * same reason the read limit of the filter is ignored; conn.c never sets
 * a read watermark. When conn.c pauses a slow reader (conn_paused) the
 * filter suspends the socket's reads, and nothing is left inside mbedTLS
 * but an incomplete record, which needs more bytes from the socket anyway.
 *
 * Writing: plaintext stays in the filter's output buffer until
 * tls_filter_out encrypts it, and it encrypts only while the socket's
 * output holds less than TLS_SOCK_HIGH bytes of records. So the plaintext
 * waiting is what conn_output_len() counts, and the output backpressure of
 * conn.c keeps its meaning. The filter would encrypt at every
 * evbuffer_add, one record per PUBACK or PINGRESP (29 bytes of overhead
 * on 2 to 4 of data); instead the first write of a loop pass activates
 * flush_ev, which libevent runs after the other callbacks of that pass
 * (the technique of server.c's flush_ev), so everything queued in the
 * pass goes out in records of up to 16 KiB, as it goes out in one
 * write() on plain TCP.
 *
 * Errors: libevent ignores a filter's BEV_ERROR, so a failed handshake or
 * a bad record is turned into BEV_EVENT_ERROR on the plaintext
 * bufferevent (deferred, so conn.c never sees it from inside the filter);
 * a close_notify from the peer into BEV_EVENT_EOF. tls_conn_error() gives
 * conn.c the mbedTLS message for its log line.
 *
 * Closing: a bufferevent_free() would throw away records still in the
 * socket's output (the last PUBACK, the v5 DISCONNECT). So conn.c calls
 * tls_conn_close() before it frees the filter: a close_notify is queued
 * and the socket bufferevent lingers, alone, until its output is written
 * or no byte of it could be written for TLS_LINGER_SECS, then goes.
 *
 * Reload: a struct tls_ctx (mbedtls_ssl_config, certificate, key, CA) is
 * refcounted. The listener holds one reference and each connection one.
 * SIGHUP builds a new context from the files; when it loads, it replaces
 * the listener's and new handshakes use it, while open connections keep
 * theirs until they close. When it fails, the old one stays and the
 * error is logged.
 *
 * Cluster links: with cluster_certfile, cluster_keyfile and
 * cluster_cafile the cluster listener is a TLS listener that requires a
 * client certificate, and a second context of the same files is a
 * client's, for the links this node dials (conn_connect). The dialling
 * end is the same filter and lifecycle: tls_wrap writes the ClientHello
 * into the socket's output at once (it leaves when TCP is up), the rest
 * of the handshake runs in tls_filter_in, and the link's CONNECT waits in
 * the filter's output until the handshake has succeeded, so neither it
 * nor the cluster_secret is ever sent to a peer that failed it. A failed
 * handshake's message says why an operator would want to know: the
 * certificate check's reasons, the alert the peer sent, or that the
 * peer's first byte cannot start a TLS record (plaintext MQTT).
 *
 * Bridges to other brokers (mqttbridge.c): a client context per bridge
 * from bridge_cafile (required: the remote's certificate is always
 * checked against it) and, optionally, bridge_certfile and
 * bridge_keyfile (ours, for a remote that asks). tls_wrap gets the name
 * dialled: a host name is checked by mbedTLS against the certificate's
 * DNS names (and sent as SNI); an IP address, which mbedTLS 2.28 does not
 * match (it lists no IP SANs), is checked here against the iPAddress
 * entries of the certificate's subjectAltName (tls_verify_ip); NULL
 * (bridge_insecure, and cluster links, proved by their CA alone) checks
 * no name.
 *
 * The HTTP listener's https (httptls.c) is a context of its own from
 * http_certfile and http_keyfile (tls_server_ctx), reloaded by
 * httptls.c, and the same tls_wrap() and tls_conn_close() as a TLS
 * listener's connections.
 *
 * Only TLS 1.2 (what mbedTLS 2.28 offers) with ECDHE key exchange and
 * AEAD ciphers (AES-GCM, ChaCha20-Poly1305); no renegotiation and no
 * session resumption.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include "broker.h"

#define TLS_RECORD_MAX 16384 /* plaintext per record */
#define TLS_SOCK_HIGH (256u * 1024) /* records waiting for the socket */
#define TLS_SOCK_LOW (64u * 1024) /* encrypt more below this */
#define TLS_LINGER_SECS 5

struct tls_ctx {
	unsigned refs;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert; /* our certificate and its chain */
	mbedtls_pk_context key;
	mbedtls_x509_crt ca; /* for client certificates */
	int suites[8]; /* 0-terminated, referenced by conf */
	uint8_t client; /* dials (a cluster link): verifies the server */
};

enum tls_state {
	TLS_HANDSHAKE,
	TLS_OPEN,
	TLS_FAILED, /* error or close_notify: no more reading or writing */
};

struct tls_conn {
	mbedtls_ssl_context ssl;
	struct tls_ctx *ctx; /* one reference */
	struct bufferevent *bev; /* the plaintext filter */
	struct bufferevent *sock; /* own reference until closed */
	enum tls_state state;
	uint8_t closed; /* tls_conn_close() ran */
	uint8_t lingering; /* the socket is flushing after close */
	uint8_t filter_gone; /* the filter freed its context */
	uint8_t flushing; /* in tls_flush_cb: tls_filter_out may encrypt */
	int first; /* the first byte the peer sent, -1 before it came */
	struct event *flush_ev; /* end of the loop pass: encrypt */
	char peer[64];
	char error[512];
	char *identity; /* the client certificate's CN, or NULL */
	uint8_t verify_ip[16]; /* the server's address, when dialled by one */
	uint8_t verify_ip_len; /* 4 or 16; 0: none to check */
	LIST_ENTRY(tls_conn) entry; /* in tls_lingering while lingering */
};

/*
 * The suites tern accepts, under their mbedTLS and OpenSSL names (the
 * ciphers key takes either; mosquitto.conf uses OpenSSL's). The order is
 * the server's preference: 256-bit AES-GCM, then ChaCha20-Poly1305 (fast
 * on phones without AES instructions), then 128-bit AES-GCM.
 */
static const struct {
	int id;
	const char *openssl;
} tls_suites[] = {
	{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	    "ECDHE-ECDSA-AES256-GCM-SHA384" },
	{ MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	    "ECDHE-RSA-AES256-GCM-SHA384" },
	{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	    "ECDHE-ECDSA-CHACHA20-POLY1305" },
	{ MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	    "ECDHE-RSA-CHACHA20-POLY1305" },
	{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	    "ECDHE-ECDSA-AES128-GCM-SHA256" },
	{ MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	    "ECDHE-RSA-AES128-GCM-SHA256" },
};
#define TLS_NSUITES (sizeof tls_suites / sizeof tls_suites[0])

static mbedtls_entropy_context tls_entropy;
static mbedtls_ctr_drbg_context tls_drbg;
static int tls_rng_ready;
static int tls_dying; /* shutdown: free at once, no lingering */
static LIST_HEAD(, tls_conn) tls_lingering =
    LIST_HEAD_INITIALIZER(tls_lingering);
static size_t tls_n_lingering;

static void tls_conn_maybe_free(struct tls_conn *);

static void
tls_strerror(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
}

/* --- contexts --- */

static void
tls_ctx_unref(struct tls_ctx *x)
{
	if (x == NULL || --x->refs > 0)
		return;
	mbedtls_ssl_config_free(&x->conf);
	mbedtls_x509_crt_free(&x->cert);
	mbedtls_pk_free(&x->key);
	mbedtls_x509_crt_free(&x->ca);
	free(x);
}

/* Fill x->suites from the ciphers key (NULL: all of tls_suites). Names
 * are separated by ':' (OpenSSL) or ','. */
static int
tls_ctx_suites(struct tls_ctx *x, const char *ciphers, char *err,
    size_t errlen)
{
	char *copy, *name, *p;
	size_t i, n = 0;
	int id;

	if (ciphers == NULL) {
		for (i = 0; i < TLS_NSUITES; i++)
			x->suites[n++] = tls_suites[i].id;
		x->suites[n] = 0;
		return 0;
	}
	copy = p = xstrdup(ciphers);
	while ((name = strsep(&p, ":, ")) != NULL) {
		if (*name == '\0')
			continue;
		id = mbedtls_ssl_get_ciphersuite_id(name);
		for (i = 0; i < TLS_NSUITES; i++) {
			if (strcasecmp(name, tls_suites[i].openssl) == 0 ||
			    id == tls_suites[i].id)
				break;
		}
		if (i == TLS_NSUITES) {
			snprintf(err, errlen, "ciphers: '%s' is not one of the "
			    "allowed suites (ECDHE with AES-GCM or "
			    "ChaCha20-Poly1305)", name);
			free(copy);
			return -1;
		}
		if (n < sizeof x->suites / sizeof x->suites[0] - 1)
			x->suites[n++] = tls_suites[i].id;
	}
	free(copy);
	x->suites[n] = 0;
	if (n == 0) {
		snprintf(err, errlen, "ciphers: empty list");
		return -1;
	}
	return 0;
}

/* mbedTLS reports a missing file as "PK - Read/write of file failed":
 * say what the system said instead. */
static int
tls_readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

/*
 * A new context (one reference) from a listener's keys, or NULL with the
 * reason in err ("certfile /x.pem: X509 - ..."). Reads the files each
 * time: this is also the SIGHUP reload. client: the dialling end of a
 * cluster link, which presents the same certificate and checks the
 * server's against the same CA. kp prefixes the key names in err
 * ("cluster_" for the cluster's keys).
 */
static struct tls_ctx *
tls_ctx_new(const struct listener_conf *lc, int client, const char *kp,
    char *err, size_t errlen)
{
	struct tls_ctx *x;
	char msg[128];
	int rc;

	if ((lc->keyfile == NULL) != (lc->certfile == NULL)) {
		snprintf(err, errlen, lc->keyfile == NULL ? "%scertfile given "
		    "without %skeyfile" : "%skeyfile given without %scertfile",
		    kp, kp);
		return NULL;
	}
	if (lc->use_identity_as_username && !lc->require_certificate) {
		snprintf(err, errlen, "use_identity_as_username needs "
		    "require_certificate true");
		return NULL;
	}
	if (lc->require_certificate && lc->cafile == NULL &&
	    lc->capath == NULL) {
		snprintf(err, errlen, "require_certificate needs cafile or "
		    "capath to check client certificates against");
		return NULL;
	}
	x = xcalloc(1, sizeof *x);
	x->refs = 1;
	x->client = client != 0;
	mbedtls_ssl_config_init(&x->conf);
	mbedtls_x509_crt_init(&x->cert);
	mbedtls_pk_init(&x->key);
	mbedtls_x509_crt_init(&x->ca);

	if (tls_ctx_suites(x, lc->ciphers, err, errlen) != 0)
		goto fail;
	/* A bridge without a certificate of its own (a client only). */
	if (lc->certfile == NULL)
		goto ca;
	snprintf(msg, sizeof msg, "%scertfile", kp);
	if (tls_readable(msg, lc->certfile, err, errlen) != 0)
		goto fail;
	if ((rc = mbedtls_x509_crt_parse_file(&x->cert, lc->certfile)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		snprintf(err, errlen, "%scertfile %s: %s", kp, lc->certfile,
		    msg);
		goto fail;
	}
	snprintf(msg, sizeof msg, "%skeyfile", kp);
	if (tls_readable(msg, lc->keyfile, err, errlen) != 0)
		goto fail;
	if ((rc = mbedtls_pk_parse_keyfile(&x->key, lc->keyfile, NULL)) !=
	    0) {
		tls_strerror(rc, msg, sizeof msg);
		snprintf(err, errlen, "%skeyfile %s: %s", kp, lc->keyfile, msg);
		goto fail;
	}
	/* mbedTLS's reason here ("ECP - Bad input parameters") would only
	 * confuse: the pair simply does not match. */
	if (mbedtls_pk_check_pair(&x->cert.pk, &x->key) != 0) {
		snprintf(err, errlen, "%skeyfile %s does not match %scertfile "
		    "%s", kp, lc->keyfile, kp, lc->certfile);
		goto fail;
	}
ca:
	if (lc->cafile != NULL) {
		snprintf(msg, sizeof msg, "%scafile", kp);
		if (tls_readable(msg, lc->cafile, err, errlen) != 0)
			goto fail;
		rc = mbedtls_x509_crt_parse_file(&x->ca, lc->cafile);
		if (rc != 0) {
			tls_strerror(rc, msg, sizeof msg);
			snprintf(err, errlen, "%scafile %s: %s", kp, lc->cafile,
			    msg);
			goto fail;
		}
	}
	if (lc->capath != NULL) {
		/* A positive result counts files that did not parse, which
		 * a directory of mixed files may well hold. */
		rc = mbedtls_x509_crt_parse_path(&x->ca, lc->capath);
		if (rc < 0) {
			tls_strerror(rc, msg, sizeof msg);
			snprintf(err, errlen, "capath %s: %s", lc->capath,
			    msg);
			goto fail;
		}
	}

	rc = mbedtls_ssl_config_defaults(&x->conf, client ?
	    MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		tls_strerror(rc, msg, sizeof msg);
		snprintf(err, errlen, "TLS set-up: %s", msg);
		goto fail;
	}
	mbedtls_ssl_conf_rng(&x->conf, mbedtls_ctr_drbg_random, &tls_drbg);
	mbedtls_ssl_conf_min_version(&x->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&x->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&x->conf, x->suites);
	mbedtls_ssl_conf_renegotiation(&x->conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	if (lc->certfile != NULL && (rc = mbedtls_ssl_conf_own_cert(&x->conf,
	    &x->cert, &x->key)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		snprintf(err, errlen, "%scertfile %s: %s", kp, lc->certfile,
		    msg);
		goto fail;
	}
	/* A client always checks the server: a dialled node proves it is
	 * one with a certificate from the cluster's CA. */
	if (lc->require_certificate || client) {
		mbedtls_ssl_conf_ca_chain(&x->conf, &x->ca, NULL);
		mbedtls_ssl_conf_authmode(&x->conf,
		    MBEDTLS_SSL_VERIFY_REQUIRED);
	} else
		mbedtls_ssl_conf_authmode(&x->conf, MBEDTLS_SSL_VERIFY_NONE);
	return x;
fail:
	tls_ctx_unref(x);
	return NULL;
}

static int
tls_rng_init(void)
{
	static const char pers[] = "ternd";
	char msg[128];
	int rc;

	if (tls_rng_ready)
		return 0;
	mbedtls_entropy_init(&tls_entropy);
	mbedtls_ctr_drbg_init(&tls_drbg);
	rc = mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func,
	    &tls_entropy, (const unsigned char *)pers, sizeof pers - 1);
	if (rc != 0) {
		tls_strerror(rc, msg, sizeof msg);
		log_error("TLS: cannot seed the random generator: %s", msg);
		mbedtls_ctr_drbg_free(&tls_drbg);
		mbedtls_entropy_free(&tls_entropy);
		return -1;
	}
	tls_rng_ready = 1;
	return 0;
}

/*
 * The cluster's keys: cluster_certfile, cluster_keyfile and
 * cluster_cafile, all three or none. They become the cluster listener's
 * keys, with require_certificate, so that conn_accept() wraps its
 * connections as any TLS listener's; and a client context for the links
 * this node dials, with the same certificate and CA.
 */
static int
tls_cluster_init(void)
{
	struct config *cfg = &srv.cfg;
	struct listener_conf *lc = cfg->cluster_listener;
	char err[512];

	if (cfg->cluster_certfile == NULL && cfg->cluster_keyfile == NULL &&
	    cfg->cluster_cafile == NULL)
		return 0;
	if (cfg->cluster_certfile == NULL || cfg->cluster_keyfile == NULL ||
	    cfg->cluster_cafile == NULL) {
		log_error("cluster links: cluster_certfile, cluster_keyfile "
		    "and cluster_cafile go together (%s is missing)",
		    cfg->cluster_certfile == NULL ? "cluster_certfile" :
		    cfg->cluster_keyfile == NULL ? "cluster_keyfile" :
		    "cluster_cafile");
		return -1;
	}
	if (cfg->node_name == NULL || lc == NULL) {
		log_error("cluster links: cluster_certfile needs node_name and "
		    "cluster_listener");
		return -1;
	}
	if (tls_rng_init() != 0)
		return -1;
	free(lc->certfile);
	free(lc->keyfile);
	free(lc->cafile);
	lc->certfile = xstrdup(cfg->cluster_certfile);
	lc->keyfile = xstrdup(cfg->cluster_keyfile);
	lc->cafile = xstrdup(cfg->cluster_cafile);
	lc->require_certificate = 1;
	if ((lc->tls = tls_ctx_new(lc, 0, "cluster_", err, sizeof err)) ==
	    NULL || (cfg->cluster_tls = tls_ctx_new(lc, 1, "cluster_", err,
	    sizeof err)) == NULL) {
		log_error("cluster links: %s", err);
		return -1;
	}
	return 0;
}

struct tls_ctx *
tls_client_ctx(const char *cafile, const char *certfile,
    const char *keyfile, const char *kp, char *err, size_t errlen)
{
	struct listener_conf lc;

	if (tls_rng_init() != 0) {
		snprintf(err, errlen, "no random generator for TLS");
		return NULL;
	}
	memset(&lc, 0, sizeof lc);
	lc.cafile = (char *)cafile;
	lc.certfile = (char *)certfile;
	lc.keyfile = (char *)keyfile;
	return tls_ctx_new(&lc, 1, kp, err, errlen);
}

struct tls_ctx *
tls_server_ctx(const char *certfile, const char *keyfile, const char *cafile,
    int require_certificate, const char *kp, char *err, size_t errlen)
{
	struct listener_conf lc;

	if (tls_rng_init() != 0) {
		snprintf(err, errlen, "no random generator for TLS");
		return NULL;
	}
	memset(&lc, 0, sizeof lc);
	lc.certfile = (char *)certfile;
	lc.keyfile = (char *)keyfile;
	lc.cafile = (char *)cafile;
	lc.require_certificate = require_certificate;
	return tls_ctx_new(&lc, 0, kp, err, errlen);
}

void
tls_ctx_release(struct tls_ctx *x)
{
	tls_ctx_unref(x);
}

int
tls_init(void)
{
	struct listener_conf *lc;
	char err[512];
	size_t i;

	for (i = 0; i < srv.cfg.n_listeners; i++) {
		lc = &srv.cfg.listeners[i];
		if (lc->certfile == NULL) {
			if (lc->keyfile != NULL || lc->cafile != NULL ||
			    lc->capath != NULL || lc->ciphers != NULL ||
			    lc->require_certificate ||
			    lc->use_identity_as_username) {
				log_error("listener %zu (port %u): TLS keys "
				    "given without certfile", i + 1,
				    lc->port);
				return -1;
			}
			continue;
		}
		if (tls_rng_init() != 0)
			return -1;
		lc->tls = tls_ctx_new(lc, 0, "", err, sizeof err);
		if (lc->tls == NULL) {
			log_error("listener %zu (port %u): %s", i + 1,
			    lc->port, err);
			return -1;
		}
	}
	return tls_cluster_init();
}

/* Both cluster contexts from the files, or neither (a listener that
 * took the new CA while the dialling end kept the old one would split the
 * cluster in two by accident). */
static void
tls_cluster_reload(void)
{
	struct listener_conf *lc = srv.cfg.cluster_listener;
	struct tls_ctx *server, *client = NULL;
	char err[512];

	if (srv.cfg.cluster_tls == NULL)
		return;
	server = tls_ctx_new(lc, 0, "cluster_", err, sizeof err);
	if (server == NULL || (client = tls_ctx_new(lc, 1, "cluster_", err,
	    sizeof err)) == NULL) {
		tls_ctx_unref(server);
		log_error("cluster links: reload failed, keeping the previous "
		    "certificate: %s", err);
		return;
	}
	tls_ctx_unref(lc->tls);
	lc->tls = server;
	tls_ctx_unref(srv.cfg.cluster_tls);
	srv.cfg.cluster_tls = client;
	log_notice("cluster links: certificate reloaded from %s",
	    lc->certfile);
}

void
tls_reload(void)
{
	struct listener_conf *lc;
	struct tls_ctx *x;
	char err[512];
	size_t i;

	for (i = 0; i < srv.cfg.n_listeners; i++) {
		lc = &srv.cfg.listeners[i];
		if (lc->tls == NULL)
			continue;
		x = tls_ctx_new(lc, 0, "", err, sizeof err);
		if (x == NULL) {
			log_error("listener %zu (port %u): reload failed, "
			    "keeping the previous certificate: %s", i + 1,
			    lc->port, err);
			continue;
		}
		tls_ctx_unref(lc->tls);
		lc->tls = x;
		log_notice("listener %zu (port %u): certificate reloaded from "
		    "%s", i + 1, lc->port, lc->certfile);
	}
	tls_cluster_reload();
}

/* --- connections --- */

/* mbedTLS's BIO: the socket bufferevent's buffers, never the socket. */
static int
tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_conn *t = arg;

	if (evbuffer_add(bufferevent_get_output(t->sock), buf, len) != 0)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)len;
}

static int
tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_conn *t = arg;
	int n;

	n = evbuffer_remove(bufferevent_get_input(t->sock), buf, len);
	if (n <= 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return n;
}

/*
 * The fatal alerts a refused handshake brings (RFC 5246 section 7.2), by
 * the names the RFC gives them; cert: the peer refuses our certificate.
 */
static const struct {
	unsigned char alert;
	uint8_t cert;
	const char *name;
} tls_alerts[] = {
	{ MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE, 0, "handshake_failure" },
	{ MBEDTLS_SSL_ALERT_MSG_BAD_CERT, 1, "bad_certificate" },
	{ MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT, 1,
	    "unsupported_certificate" },
	{ MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, 1, "certificate_revoked" },
	{ MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED, 1, "certificate_expired" },
	{ MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN, 1, "certificate_unknown" },
	{ MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA, 1, "unknown_ca" },
	{ MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED, 1, "access_denied" },
	{ MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR, 0, "decrypt_error" },
	{ MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION, 0, "protocol_version" },
	{ MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY, 0,
	    "insufficient_security" },
};

/*
 * mbedTLS's message for rc, and what an operator needs besides it: why a
 * certificate was not accepted ("The certificate validity has expired"),
 * which alert the peer sent (its reason for refusing ours), or that the
 * peer does not speak TLS at all (its first byte cannot start a TLS
 * record: plaintext MQTT, 0x10 CONNECT or 0x20 CONNACK, is the usual).
 */
static void
tls_describe(struct tls_conn *t, int rc, char *buf, size_t len)
{
	char info[256], reasons[256], *line, *p;
	size_t i, m, n;
	uint32_t flags;

	tls_strerror(rc, buf, len);
	n = strlen(buf);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED &&
	    (flags = mbedtls_ssl_get_verify_result(&t->ssl)) != 0 &&
	    flags != (uint32_t)-1 &&
	    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) > 0) {
		/* One line per reason: joined with "; ". */
		reasons[0] = '\0';
		p = info;
		while ((line = strsep(&p, "\n")) != NULL) {
			if (*line == '\0')
				continue;
			m = strlen(reasons);
			snprintf(reasons + m, sizeof reasons - m, "%s%s",
			    m > 0 ? "; " : "", line);
		}
		snprintf(buf + n, len - n, " (%s)", reasons);
	} else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
	    t->ssl.in_msg != NULL) {
		for (i = 0; i < sizeof tls_alerts / sizeof tls_alerts[0]; i++) {
			if (tls_alerts[i].alert == t->ssl.in_msg[1])
				break;
		}
		if (i < sizeof tls_alerts / sizeof tls_alerts[0])
			snprintf(buf + n, len - n, " (alert %s%s)",
			    tls_alerts[i].name, tls_alerts[i].cert ?
			    ": the peer does not accept our certificate" : "");
	} else if (t->state == TLS_HANDSHAKE && t->first >= 0 &&
	    (t->first < MBEDTLS_SSL_MSG_CHANGE_CIPHER_SPEC ||
	    t->first > MBEDTLS_SSL_MSG_CID))
		snprintf(buf + n, len - n, " (the peer does not speak TLS: "
		    "first byte 0x%02x%s)", t->first, t->first == 0x10 ||
		    t->first == 0x20 ? ", plaintext MQTT" : "");
}

/* Stop the connection and tell conn.c, later, through its event
 * callback. */
static void
tls_fail(struct tls_conn *t, short what, int rc, const char *when)
{
	char msg[400];

	if (t->state == TLS_FAILED)
		return;
	if (rc != 0) {
		tls_describe(t, rc, msg, sizeof msg);
		snprintf(t->error, sizeof t->error, "TLS %s failed: %s", when,
		    msg);
		log_info("%s: %s", t->peer, t->error);
	}
	t->state = TLS_FAILED;
	/* What conn.c queued can no longer be sent: dropped now, so that
	 * its close does not wait for a flush that cannot happen. */
	evbuffer_drain(bufferevent_get_output(t->bev),
	    evbuffer_get_length(bufferevent_get_output(t->bev)));
	bufferevent_trigger_event(t->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * The CN of a verified client certificate, as a user name: the last CN
 * of the subject (the most specific one), which must be UTF-8 without
 * U+0000 and at most 65535 bytes to be an MQTT string; anything else
 * gives no identity, and use_identity_as_username then refuses the
 * client.
 */
static char *
tls_peer_cn(const mbedtls_x509_crt *crt)
{
	const mbedtls_x509_name *n, *cn = NULL;

	for (n = &crt->subject; n != NULL; n = n->next) {
		if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN,
		    &n->oid) == 0)
			cn = n;
	}
	if (cn == NULL || cn->val.len == 0 || cn->val.len > 65535 ||
	    !mqtt_utf8_valid(cn->val.p, cn->val.len))
		return NULL;
	return xstrndup((const char *)cn->val.p, cn->val.len);
}

static void
tls_handshake_done(struct tls_conn *t)
{
	const mbedtls_x509_crt *peer;
	char cn[160] = "";

	t->state = TLS_OPEN;
	peer = mbedtls_ssl_get_peer_cert(&t->ssl);
	if (peer != NULL)
		t->identity = tls_peer_cn(peer);
	if (log_get_level() < LOG_DEBUG)
		return;
	if (peer != NULL)
		mbedtls_x509_dn_gets(cn, sizeof cn, &peer->subject);
	log_debug("%s: TLS handshake done: %s %s%s%s", t->peer,
	    mbedtls_ssl_get_version(&t->ssl),
	    mbedtls_ssl_get_ciphersuite(&t->ssl),
	    peer == NULL ? "" : t->ctx->client ? ", server certificate " :
	    ", client certificate ", cn);
}

static enum bufferevent_filter_result
tls_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tls_conn *t = arg;
	struct evbuffer_iovec v;
	unsigned char first;
	size_t got = 0;
	int rc;

	if (t->state == TLS_FAILED)
		return BEV_ERROR;
	if (t->state == TLS_HANDSHAKE) {
		/* Kept to tell a peer that does not speak TLS
		 * (tls_describe). */
		if (t->first < 0 && evbuffer_copyout(bufferevent_get_input(
		    t->sock), &first, 1) == 1)
			t->first = first;
		rc = mbedtls_ssl_handshake(&t->ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return BEV_NEED_MORE;
		if (rc != 0) {
			tls_fail(t, BEV_EVENT_READING | BEV_EVENT_ERROR, rc,
			    "handshake");
			return BEV_ERROR;
		}
		tls_handshake_done(t);
		/* Anything written before the handshake ended went nowhere
		 * yet (tls_filter_out waits for it). */
		if (evbuffer_get_length(bufferevent_get_output(t->bev)) > 0)
			event_active(t->flush_ev, EV_WRITE, 0);
	}
	for (;;) {
		if (evbuffer_reserve_space(dst, TLS_RECORD_MAX, &v, 1) < 1)
			return BEV_ERROR;
		rc = mbedtls_ssl_read(&t->ssl, v.iov_base, v.iov_len);
		if (rc > 0) {
			v.iov_len = (size_t)rc;
			evbuffer_commit_space(dst, &v, 1);
			got += (size_t)rc;
			continue;
		}
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == 0)
			tls_fail(t, BEV_EVENT_READING | BEV_EVENT_EOF, 0, NULL);
		else
			tls_fail(t, BEV_EVENT_READING | BEV_EVENT_ERROR, rc,
			    "read");
		/* What came before the close is still delivered (the
		 * event is deferred). */
		return got > 0 ? BEV_OK : BEV_ERROR;
	}
	return got > 0 ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result
tls_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tls_conn *t = arg;
	size_t len, n, done = 0;
	unsigned char *p;
	int rc;

	if (t->state == TLS_FAILED) {
		/* As in tls_fail: nothing can be sent any more. */
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_OK;
	}
	if (t->state == TLS_HANDSHAKE)
		return BEV_NEED_MORE;
	if (!t->flushing) {
		/* Called as the data came, or as the socket drained: encrypt
		 * at the end of the pass, all at once. */
		if (!event_pending(t->flush_ev, EV_WRITE, NULL))
			event_active(t->flush_ev, EV_WRITE, 0);
		return BEV_NEED_MORE;
	}
	while ((len = evbuffer_get_length(src)) > 0) {
		if (limit >= 0 && done >= (size_t)limit)
			break;
		n = len < TLS_RECORD_MAX ? len : TLS_RECORD_MAX;
		p = evbuffer_pullup(src, (ev_ssize_t)n);
		if (p == NULL)
			return BEV_ERROR;
		rc = mbedtls_ssl_write(&t->ssl, p, n);
		if (rc < 0) {
			tls_fail(t, BEV_EVENT_WRITING | BEV_EVENT_ERROR, rc,
			    "write");
			return BEV_ERROR;
		}
		evbuffer_drain(src, (size_t)rc);
		done += (size_t)rc;
	}
	return BEV_OK;
}

/* End of the loop pass in which data was written: encrypt it. The
 * filter calls tls_filter_out, and, once its output is below the low
 * watermark, conn.c's write callback. */
static void
tls_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_conn *t = arg;

	t->flushing = 1;
	bufferevent_flush(t->bev, EV_WRITE, BEV_NORMAL);
	t->flushing = 0;
}

/* The filter is being destroyed (from libevent's finalizer). */
static void
tls_filter_free_cb(void *arg)
{
	struct tls_conn *t = arg;

	t->filter_gone = 1;
	if (!t->closed)
		tls_conn_close(t);
	tls_conn_maybe_free(t);
}

/* The iPAddress entries of the subjectAltName in the extensions ext
 * (DER, the SEQUENCE of Extension): 1 when one is addr (len bytes). */
static int
tls_san_has_ip(const mbedtls_x509_buf *ext, const uint8_t *addr, size_t len)
{
	unsigned char *p = ext->p, *end = ext->p + ext->len, *e_end, *n_end;
	mbedtls_x509_buf oid;
	size_t l;
	int crit;

	if (p == NULL || mbedtls_asn1_get_tag(&p, end, &l,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
		return 0;
	end = p + l;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED |
		    MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		e_end = p + l;
		if (mbedtls_asn1_get_tag(&p, e_end, &oid.len,
		    MBEDTLS_ASN1_OID) != 0)
			return 0;
		oid.p = p;
		p += oid.len;
		(void)mbedtls_asn1_get_bool(&p, e_end, &crit);
		if (mbedtls_asn1_get_tag(&p, e_end, &l,
		    MBEDTLS_ASN1_OCTET_STRING) != 0)
			return 0;
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) != 0) {
			p = e_end;
			continue;
		}
		if (mbedtls_asn1_get_tag(&p, e_end, &l,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		n_end = p + l;
		while (p < n_end) {
			/* GeneralName: iPAddress is [7] IMPLICIT OCTET
			 * STRING. */
			unsigned char tag = *p++;

			if (mbedtls_asn1_get_len(&p, n_end, &l) != 0)
				return 0;
			if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
			    l == len && memcmp(p, addr, len) == 0)
				return 1;
			p += l;
		}
		return 0;
	}
	return 0;
}

/* mbedTLS's verify callback, for a server dialled by IP address: its
 * certificate (depth 0) must name that address. */
static int
tls_verify_ip(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *t = arg;

	if (depth == 0 && !tls_san_has_ip(&crt->v3_ext, t->verify_ip,
	    t->verify_ip_len))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

struct bufferevent *
tls_wrap(struct bufferevent *sock, struct tls_ctx *x, const char *peer,
    const char *host, struct tls_conn **out)
{
	struct tls_conn *t;
	char msg[96];
	int rc;

	*out = NULL;
	t = xcalloc(1, sizeof *t);
	snprintf(t->peer, sizeof t->peer, "%s", peer);
	mbedtls_ssl_init(&t->ssl);
	if ((rc = mbedtls_ssl_setup(&t->ssl, &x->conf)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		log_error("%s: TLS set-up failed: %s", peer, msg);
		mbedtls_ssl_free(&t->ssl);
		free(t);
		bufferevent_free(sock);
		return NULL;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, tls_bio_send, tls_bio_recv, NULL);
	t->flush_ev = event_new(srv.base, -1, 0, tls_flush_cb, t);
	t->ctx = x;
	x->refs++;
	t->sock = sock;
	t->state = TLS_HANDSHAKE;
	t->first = -1;
	bufferevent_setwatermark(sock, EV_WRITE, TLS_SOCK_LOW, TLS_SOCK_HIGH);
	/* Not BEV_OPT_CLOSE_ON_FREE: the socket is ours, so that it can
	 * outlive the filter while its last records go out. */
	t->bev = bufferevent_filter_new(sock, tls_filter_in, tls_filter_out,
	    0, tls_filter_free_cb, t);
	if (t->bev == NULL) {
		log_error("%s: cannot set up the TLS filter", peer);
		t->filter_gone = 1;
		t->closed = 1;
		tls_conn_maybe_free(t);
		return NULL;
	}
	if (x->client) {
		/* Cluster peers are dialled by address and proved by the
		 * CA alone: no host name to check (said explicitly, as
		 * mbedTLS asks of a client that verifies); a bridge's remote
		 * by its name or address (see the design note). The
		 * ClientHello goes into the socket's output now and out once
		 * TCP is up; the rest of the handshake runs in
		 * tls_filter_in. */
		if (host != NULL && inet_pton(AF_INET, host, t->verify_ip) == 1)
			t->verify_ip_len = 4;
		else if (host != NULL &&
		    inet_pton(AF_INET6, host, t->verify_ip) == 1)
			t->verify_ip_len = 16;
		if (t->verify_ip_len > 0)
			mbedtls_ssl_set_verify(&t->ssl, tls_verify_ip, t);
		mbedtls_ssl_set_hostname(&t->ssl, host == NULL ||
		    t->verify_ip_len > 0 ? NULL : host);
		rc = mbedtls_ssl_handshake(&t->ssl);
		if (rc != MBEDTLS_ERR_SSL_WANT_READ &&
		    rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			tls_fail(t, BEV_EVENT_WRITING | BEV_EVENT_ERROR, rc,
			    "handshake");
	}
	*out = t;
	return t->bev;
}

const char *
tls_conn_error(const struct tls_conn *t)
{
	return t->error[0] != '\0' ? t->error : NULL;
}

int
tls_conn_handshaking(const struct tls_conn *t)
{
	return t->state == TLS_HANDSHAKE;
}

const char *
tls_conn_identity(const struct tls_conn *t)
{
	return t->identity;
}

static void
tls_conn_maybe_free(struct tls_conn *t)
{
	if (!t->filter_gone || !t->closed || t->lingering)
		return;
	if (t->sock != NULL)
		bufferevent_free(t->sock);
	if (t->flush_ev != NULL)
		event_free(t->flush_ev);
	mbedtls_ssl_free(&t->ssl);
	tls_ctx_unref(t->ctx);
	free(t->identity);
	free(t);
}

static void
tls_linger_done(struct tls_conn *t)
{
	LIST_REMOVE(t, entry);
	tls_n_lingering--;
	t->lingering = 0;
	bufferevent_free(t->sock);
	t->sock = NULL;
	tls_conn_maybe_free(t);
	server_conn_gone();
}

static void
tls_linger_write_cb(struct bufferevent *sock, void *arg)
{
	tls_linger_done(arg);
}

static void
tls_linger_event_cb(struct bufferevent *sock, short what, void *arg)
{
	tls_linger_done(arg);
}

void
tls_conn_close(struct tls_conn *t)
{
	struct timeval tv = { TLS_LINGER_SECS, 0 };
	struct evbuffer *out;

	if (t->closed)
		return;
	t->closed = 1;
	out = bufferevent_get_output(t->sock);
	if (t->flush_ev != NULL)
		event_del(t->flush_ev);
	if (!tls_dying && t->state == TLS_OPEN)
		mbedtls_ssl_close_notify(&t->ssl);
	t->state = TLS_FAILED;
	if (tls_dying || evbuffer_get_length(out) == 0) {
		/* The filter's own reference keeps the socket until the
		 * filter goes. */
		bufferevent_free(t->sock);
		t->sock = NULL;
		return;
	}
	t->lingering = 1;
	LIST_INSERT_HEAD(&tls_lingering, t, entry);
	tls_n_lingering++;
	bufferevent_setwatermark(t->sock, EV_WRITE, 0, 0);
	bufferevent_setcb(t->sock, NULL, tls_linger_write_cb,
	    tls_linger_event_cb, t);
	bufferevent_disable(t->sock, EV_READ);
	bufferevent_enable(t->sock, EV_WRITE);
	bufferevent_set_timeouts(t->sock, NULL, &tv);
}

size_t
tls_linger_count(void)
{
	return tls_n_lingering;
}

void
tls_shutdown(void)
{
	struct tls_conn *t;

	tls_dying = 1;
	while ((t = LIST_FIRST(&tls_lingering)) != NULL) {
		LIST_REMOVE(t, entry);
		tls_n_lingering--;
		t->lingering = 0;
		bufferevent_free(t->sock);
		t->sock = NULL;
		tls_conn_maybe_free(t);
	}
}

void
tls_free_all(void)
{
	size_t i;

	for (i = 0; i < srv.cfg.n_listeners; i++) {
		tls_ctx_unref(srv.cfg.listeners[i].tls);
		srv.cfg.listeners[i].tls = NULL;
	}
	if (srv.cfg.cluster_listener != NULL) {
		tls_ctx_unref(srv.cfg.cluster_listener->tls);
		srv.cfg.cluster_listener->tls = NULL;
	}
	tls_ctx_unref(srv.cfg.cluster_tls);
	srv.cfg.cluster_tls = NULL;
	if (tls_rng_ready) {
		mbedtls_ctr_drbg_free(&tls_drbg);
		mbedtls_entropy_free(&tls_entropy);
		tls_rng_ready = 0;
	}
	tls_dying = 0;
}
