/*
 * notify.c - tell the service manager where the node is in its life.
 *
 * With Type=notify (contrib/tern.service.in), systemd starts ternd with
 * NOTIFY_SOCKET naming a unix datagram socket and counts the service as
 * started only once "READY=1" arrives there, so that units ordered after
 * tern find its ports open. ternd sends READY=1 where it writes
 * ternd.ready (every listener bound, signal handlers in place),
 * RELOADING=1 then READY=1 around a SIGHUP reload, and STOPPING=1 when it
 * begins to shut down.
 *
 * This is the protocol of sd_notify(3) written out, not libsystemd linked
 * in for one sendto(): one datagram of newline-separated KEY=VALUE
 * assignments to the path in NOTIFY_SOCKET, in the abstract namespace
 * when the path begins with '@'. systemd takes the sender's PID from the
 * kernel's credentials (NotifyAccess=main), so the loop thread, in the
 * main process, sends. Without the variable nothing is sent; a failed
 * send is logged and ignored: a node that serves is worth more than the
 * manager's view of it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

void
notify_send(const char *state)
{
	struct sockaddr_un sun;
	const char *path = getenv("NOTIFY_SOCKET");
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof sun.sun_path) {
		log_warn("NOTIFY_SOCKET %s: not a unix socket path", path);
		return;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	/* An abstract name is the bytes after a leading NUL, as many as the
	 * address length says (no terminator), hence the exact length. */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
		return;
	}
	/* The log names the first assignment only: one line per event. */
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1)
		log_warn("cannot send %.*s to NOTIFY_SOCKET %s: %s",
		    (int)strcspn(state, "\n"), state, path, strerror(errno));
	else
		log_debug("sent %.*s to the service manager",
		    (int)strcspn(state, "\n"), state);
	close(fd);
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/* systemd 253+ wants the time of the request with RELOADING=1 to
	 * tell this reload from an earlier one; older ones ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	notify_send(msg);
}
