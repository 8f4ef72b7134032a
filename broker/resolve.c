/*
 * resolve.c - the address to dial, without blocking the loop.
 *
 * A bridge (mqttbridge.c) or a cluster peer (bridge/link.c) may be
 * written as a host name. getaddrinfo() on the loop stopped every client
 * of the node for as long as the resolver took: seconds for a name whose
 * server does not answer, tried again at every redial. Names now go
 * through the node's evdns resolver (server_resolver, dns_resolv_conf),
 * as the push webhook's do; an address is turned into a sockaddr at once.
 *
 * A query is the caller's until its callback runs or it cancels it
 * (resolve_cancel): the callback never runs after a cancel, so a dial
 * that goes (a reload, a drop) cancels its query and frees itself.
 * libevent ends a cancelled query on its next loop pass (a deferred
 * callback), which is when its memory and ours are freed; at shutdown
 * there is no next pass, so resolve_shutdown() answers the pending
 * queries' owners itself, cancels the queries and runs that one pass.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "broker.h"

struct resolve {
	TAILQ_ENTRY(resolve) entry; /* in pending */
	struct evdns_getaddrinfo_request *req;
	resolve_cb *cb;
	void *arg;
	uint8_t cancelled;
};

static TAILQ_HEAD(, resolve) pending = TAILQ_HEAD_INITIALIZER(pending);

int
resolve_numeric(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

static void
resolve_done(int err, struct evutil_addrinfo *res, void *arg)
{
	struct resolve *r = arg;

	if (r->req != NULL)
		TAILQ_REMOVE(&pending, r, entry);
	if (!r->cancelled && err != EVUTIL_EAI_CANCEL) {
		if (err == 0 && res != NULL)
			r->cb(NULL, res->ai_addr, (int)res->ai_addrlen, r->arg);
		else
			r->cb(err != 0 ? evutil_gai_strerror(err) :
			    "no address", NULL, 0, r->arg);
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	free(r);
}

struct resolve *
resolve_start(const char *host, uint16_t port, resolve_cb *cb, void *arg)
{
	struct evutil_addrinfo hints, *res;
	struct evdns_getaddrinfo_request *req;
	struct evdns_base *dns;
	struct resolve *r;
	char sport[8];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	snprintf(sport, sizeof sport, "%u", (unsigned)port);
	if (resolve_numeric(host)) {
		hints.ai_flags |= EVUTIL_AI_NUMERICHOST;
		rc = evutil_getaddrinfo(host, sport, &hints, &res);
		if (rc != 0) {
			cb(evutil_gai_strerror(rc), NULL, 0, arg);
			return NULL;
		}
		cb(NULL, res->ai_addr, (int)res->ai_addrlen, arg);
		evutil_freeaddrinfo(res);
		return NULL;
	}
	if ((dns = server_resolver()) == NULL) {
		cb("no resolver for a host name (dns_resolv_conf)", NULL, 0,
		    arg);
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->cb = cb;
	r->arg = arg;
	/* The answer may come before this returns (a name in the hosts
	 * file): then r is gone and the query is over. */
	req = evdns_getaddrinfo(dns, host, sport, &hints, resolve_done, r);
	if (req == NULL)
		return NULL;
	r->req = req;
	TAILQ_INSERT_TAIL(&pending, r, entry);
	return r;
}

void
resolve_cancel(struct resolve *r)
{
	if (r == NULL)
		return;
	/* libevent ends the query on its next loop pass: resolve_done
	 * then frees r, and cancelled keeps it from calling cb. */
	r->cancelled = 1;
	evdns_getaddrinfo_cancel(r->req);
}

void
resolve_shutdown(void)
{
	struct resolve *r;

	TAILQ_FOREACH(r, &pending, entry) {
		if (r->cancelled)
			continue;
		/* Its owner forgets it (and, shutting down, dials nothing). */
		r->cancelled = 1;
		r->cb("the node is stopping", NULL, 0, r->arg);
		evdns_getaddrinfo_cancel(r->req);
	}
	if (!TAILQ_EMPTY(&pending))
		event_base_loop(srv.base, EVLOOP_NONBLOCK);
}
