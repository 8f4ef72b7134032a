/*
 * block.c - why a connection is not being read, in one place.
 *
 * A connection waits for one or more reasons, bits of c->blocked:
 *
 *   BLOCK_AUTH      its CONNECT's password is being checked on the worker
 *                   thread (pwcheck.c);
 *   BLOCK_CLAIM     the other nodes' answer to its CONNECT
 *                   (bridge/takeover.c);
 *   BLOCK_RATE      over max_publish_rate / _bytes_rate: until the bucket
 *                   has refilled (conn_pause_for);
 *   BLOCK_OUTPUT    its output is over OUTPUT_PAUSE: until it drains to
 *                   OUTPUT_RESUME (conn_paused);
 *   BLOCK_SHUTDOWN  the node is shutting down;
 *   BLOCK_LINK      its link CONNECT waits for its source address's turn
 *                   to have cluster_secret checked, after wrong ones
 *                   (bridge/secret.c).
 *
 * Reading stops so that what the client sends meanwhile stays in the
 * kernel's buffers and TCP flow control holds the sender: a connection
 * that waits costs no more memory than a bounded amount, whoever it is
 * and however fast it sends (before this, a CONNECT waiting for its
 * password check was read into memory without limit). The transport
 * parses nothing while any reason is set; its read_on(0) stops the
 * socket's reads (for TLS and WebSocket connections too: their filters
 * suspend the socket under them).
 *
 * How: waiting for a decision about the client (BLOCK_AUTH, BLOCK_CLAIM,
 * BLOCK_LINK) the connection is still read, up to BLOCK_INPUT_MAX bytes
 * in its input buffer, so that a client that goes away is seen and its
 * password check, claim or turn dropped (pwcheck_conn_gone,
 * bridge_claim_gone, secret_conn_gone): abandoned CONNECTs must not hold
 * the queues. Past that, and for the other reasons at once, reading
 * stops. The last reason gone resumes reading and parses what is already
 * buffered.
 *
 * A closing connection is not touched: conn_close decides about its
 * reads (lingering, conn.c).
 */
#include "config.h"

#include "broker.h"

/* Read on, bounded, while only these wait. */
#define BLOCK_WATCH (BLOCK_AUTH | BLOCK_CLAIM | BLOCK_LINK)
#define BLOCK_INPUT_MAX (64 * 1024)

static void
block_stop(struct conn *c)
{
	if (!c->block_stopped) {
		c->io->read_on(c, 0);
		c->block_stopped = 1;
	}
}

void
conn_block(struct conn *c, uint8_t why)
{
	c->blocked |= why;
	if (c->state == CONN_CLOSING)
		return;
	if ((c->blocked & ~BLOCK_WATCH) != 0)
		block_stop(c);
	else
		conn_block_input(c);
}

void
conn_block_input(struct conn *c)
{
	if (c->state != CONN_CLOSING &&
	    c->io->input_len(c) >= BLOCK_INPUT_MAX)
		block_stop(c);
}

void
conn_unblock(struct conn *c, uint8_t why)
{
	if ((c->blocked & why) == 0)
		return;
	c->blocked &= (uint8_t)~why;
	if (c->state == CONN_CLOSING)
		return;
	if (c->blocked != 0) {
		if ((c->blocked & ~BLOCK_WATCH) == 0)
			conn_block_input(c);
		return;
	}
	if (c->block_stopped) {
		c->block_stopped = 0;
		c->io->read_on(c, 1);
	}
	c->io->parse(c);
}
