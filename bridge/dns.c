/*
 * dns.c - cluster_peers_dns: the nodes of the cluster are the addresses
 * of a name (tern.conf(5); docs/ARCHITECTURE.md, "Cluster links").
 *
 * On a container platform a node's address is not known before it
 * starts and changes when it restarts; a name (a Kubernetes headless
 * service) gives the addresses of those running. This file resolves it
 * at start and every cluster_dns_interval seconds, on the loop (libevent's
 * evdns, through server_resolver: dns_resolv_conf), A and AAAA records
 * both, and hands each answer to link.c (bridge_dns_answer), which dials
 * the addresses it has not seen and lets go of those gone once their link
 * fails. Which node an address is comes from the link's handshake, as for
 * cluster_peers: this node's own address is dialled once, named by the
 * CONNACK as this node, and not dialled again.
 *
 * A query that fails (timeout, server failure) changes nothing: the
 * links stay and the next interval asks again; a name that does not exist
 * (NXDOMAIN) is an empty answer, which cuts no working link either.
 * One query at a time: a slow answer delays the next one.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "broker.h"

static struct {
	struct evdns_base *dns; /* server.c's */
	struct event *timer; /* the next query */
	struct evdns_getaddrinfo_request *req; /* the query under way */
	int failing; /* the last query failed (warned once) */
} dns;

static void
dns_next(void)
{
	struct timeval tv = { (time_t)srv.cfg.cluster_dns_interval, 0 };

	if (!srv.shutting_down)
		evtimer_add(dns.timer, &tv);
}

/* The addresses of res, numeric and without repeats, into *out. */
static size_t
dns_hosts(const struct evutil_addrinfo *res, char ***out)
{
	const struct evutil_addrinfo *ai;
	char buf[INET6_ADDRSTRLEN], **hosts = NULL;
	const void *a;
	size_t n = 0, i;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			a = &((const struct sockaddr_in *)(const void *)
			    ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)(const void *)
			    ai->ai_addr)->sin6_addr;
		else
			continue;
		if (evutil_inet_ntop(ai->ai_family, a, buf, sizeof buf) ==
		    NULL)
			continue;
		for (i = 0; i < n && strcmp(hosts[i], buf) != 0; i++)
			;
		if (i < n)
			continue;
		hosts = xreallocarray(hosts, n + 1, sizeof *hosts);
		hosts[n++] = xstrdup(buf);
	}
	*out = hosts;
	return n;
}

static void
dns_answer_cb(int err, struct evutil_addrinfo *res, void *arg)
{
	char **hosts = NULL;
	size_t n = 0, i;

	dns.req = NULL;
	if (err == EVUTIL_EAI_CANCEL)
		return; /* bridge_dns_free */
	if (err != 0 && err != EVUTIL_EAI_NONAME) {
		if (!dns.failing)
			log_warn("cluster_peers_dns %s: %s; the links stay as "
			    "they are", srv.cfg.cluster_dns_host,
			    evutil_gai_strerror(err));
		dns.failing = 1;
		dns_next();
		return;
	}
	if (dns.failing)
		log_notice("cluster_peers_dns %s: answered again",
		    srv.cfg.cluster_dns_host);
	dns.failing = 0;
	if (err == 0)
		n = dns_hosts(res, &hosts);
	log_debug("cluster_peers_dns %s: %zu address%s",
	    srv.cfg.cluster_dns_host, n, n == 1 ? "" : "es");
	bridge_dns_answer(hosts, n, srv.cfg.cluster_dns_port);
	for (i = 0; i < n; i++)
		free(hosts[i]);
	free(hosts);
	if (res != NULL)
		evutil_freeaddrinfo(res);
	dns_next();
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;

	if (dns.req != NULL || srv.shutting_down)
		return;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* The answer may come at once (an address, /etc/hosts): the
	 * callback has run when this returns NULL. */
	req = evdns_getaddrinfo(dns.dns, srv.cfg.cluster_dns_host, NULL,
	    &hints, dns_answer_cb, NULL);
	if (req != NULL)
		dns.req = req;
}

int
bridge_dns_init(void)
{
	struct timeval zero = { 0, 0 };

	dns.dns = server_resolver();
	if (dns.dns == NULL) {
		log_error("cluster_peers_dns %s: no resolver",
		    srv.cfg.cluster_dns_host);
		return -1;
	}
	dns.timer = evtimer_new(srv.base, dns_timer_cb, NULL);
	evtimer_add(dns.timer, &zero);
	log_notice("cluster: the nodes are the addresses of %s, port %u, "
	    "resolved every %u s", srv.cfg.cluster_dns_host,
	    (unsigned)srv.cfg.cluster_dns_port,
	    srv.cfg.cluster_dns_interval);
	return 0;
}

void
bridge_dns_free(void)
{
	if (dns.req != NULL)
		evdns_getaddrinfo_cancel(dns.req);
	dns.req = NULL;
	if (dns.timer != NULL)
		event_free(dns.timer);
	dns.timer = NULL;
	dns.dns = NULL;
}
