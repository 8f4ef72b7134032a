/*
 * batch.c - the open batch: the write half of the store interface, run on
 * the caller's thread.
 *
 * DESIGN
 *
 * A write does no I/O and takes no lock: it appends one record (struct op:
 * a fixed header, then its byte strings copied back to back, padded to 8
 * bytes) to a growing buffer. store_commit (store.c) hands the whole
 * buffer to the store thread as one job and starts a new one, so a batch
 * costs one allocation per doubling, not one per write, and the store
 * thread reads the records in place. The strings the store thread keys its
 * per-transaction deltas on (client ids) point into this buffer, which
 * lives until the batch's completion has run.
 *
 * Sizes: every length is checked to fit a uint32_t (the broker bounds them
 * far below that: packet size limits); a longer one is a bug and aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define BATCH_ALIGN 8

static size_t
batch_check_len(size_t len)
{
	if (len > UINT32_MAX) {
		fprintf(stderr, "ternd: store: string of %zu bytes\n", len);
		abort();
	}
	return len;
}

struct op *
batch_add(struct batch *b, enum op_kind kind, size_t n,
    const void *const *str, const size_t *len)
{
	struct op *o;
	size_t need = sizeof *o, i;
	uint8_t *p;

	for (i = 0; i < n; i++)
		need += batch_check_len(len[i]);
	need = (need + BATCH_ALIGN - 1) & ~(size_t)(BATCH_ALIGN - 1);
	if (b->cap - b->len < need) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap - b->len < need)
			cap *= 2;
		b->buf = store_xrealloc(b->buf, cap);
		b->cap = cap;
	}
	o = (struct op *)(b->buf + b->len);
	memset(o, 0, sizeof *o);
	o->size = (uint32_t)need;
	o->kind = (uint8_t)kind;
	p = (uint8_t *)(o + 1);
	for (i = 0; i < n; i++) {
		o->len[i] = (uint32_t)len[i];
		if (len[i] != 0)
			memcpy(p, str[i], len[i]);
		p += len[i];
	}
	b->len += need;
	b->n_ops++;
	return o;
}

const void *
batch_str(const struct op *o, size_t i)
{
	const uint8_t *p = (const uint8_t *)(o + 1);
	size_t k;

	for (k = 0; k < i; k++)
		p += o->len[k];
	return p;
}

/* Append an op keyed by one string (a client id or a topic). */
static struct op *
batch_add1(struct store *st, enum op_kind kind, const void *s, size_t len)
{
	const void *str[1] = { s };
	size_t lens[1] = { len };

	return batch_add(&st->open, kind, 1, str, lens);
}

/* Append an op keyed by two strings (client id, filter). */
static struct op *
batch_add2(struct store *st, enum op_kind kind, const void *s0, size_t l0,
    const void *s1, size_t l1)
{
	const void *str[2] = { s0, s1 };
	size_t lens[2] = { l0, l1 };

	return batch_add(&st->open, kind, 2, str, lens);
}

void
store_session_put(struct store *st, const struct store_session *s)
{
	const void *str[3] = { s->client_id, s->will, s->user };
	size_t lens[3] = { s->id_len, s->will != NULL ? s->will_len : 0,
	    s->user_kind == STORE_USER_NAMED ? s->user_len : 0 };
	struct op *o;

	o = batch_add(&st->open, OP_SESSION_PUT, 3, str, lens);
	o->user_kind = s->user_kind;
	o->expiry = s->expiry;
	o->t0 = s->disconnected_at;
	o->version = s->version;
	o->has_will = s->will != NULL;
}

void
store_session_del(struct store *st, const char *id, size_t len)
{
	batch_add1(st, OP_SESSION_DEL, id, len);
}

void
store_sub_put(struct store *st, const char *id, size_t len,
    const char *filter, size_t flen, uint8_t options, uint32_t sub_id)
{
	struct op *o;

	o = batch_add2(st, OP_SUB_PUT, id, len, filter, flen);
	o->options = options;
	o->sub_id = sub_id;
}

void
store_sub_del(struct store *st, const char *id, size_t len,
    const char *filter, size_t flen)
{
	batch_add2(st, OP_SUB_DEL, id, len, filter, flen);
}

void
store_msg_put(struct store *st, const struct store_msg *m)
{
	const void *str[3] = { m->topic, m->payload, m->props };
	size_t lens[3] = { m->topic_len, m->payload_len,
	    m->props != NULL ? m->props_len : 0 };
	struct op *o;

	o = batch_add(&st->open, OP_MSG_PUT, 3, str, lens);
	o->msg_id = m->id;
	o->qos = m->qos;
	o->retain = m->retain;
	o->t0 = m->received_at;
	o->t1 = m->expiry_at;
}

void
store_queue_put(struct store *st, const char *id, size_t len, uint64_t seq,
    uint64_t msg_id, uint8_t qos, uint8_t retain, uint8_t state,
    uint16_t packet_id, const uint32_t *sub_ids, uint8_t n_sub_ids)
{
	struct op *o;

	o = batch_add1(st, OP_QUEUE_PUT, id, len);
	o->seq = seq;
	o->msg_id = msg_id;
	o->qos = qos;
	o->retain = retain;
	o->state = state;
	o->packet_id = packet_id;
	if (n_sub_ids > STORE_MAX_SUB_IDS)
		n_sub_ids = STORE_MAX_SUB_IDS;
	if (n_sub_ids != 0)
		memcpy(o->sub_ids, sub_ids, n_sub_ids * sizeof *sub_ids);
	o->n_sub_ids = n_sub_ids;
}

void
store_queue_update(struct store *st, const char *id, size_t len,
    uint64_t seq, uint8_t state, uint16_t packet_id)
{
	struct op *o;

	o = batch_add1(st, OP_QUEUE_UPDATE, id, len);
	o->seq = seq;
	o->state = state;
	o->packet_id = packet_id;
}

void
store_queue_del(struct store *st, const char *id, size_t len, uint64_t seq)
{
	batch_add1(st, OP_QUEUE_DEL, id, len)->seq = seq;
}

void
store_qos2_put(struct store *st, const char *id, size_t len,
    uint16_t packet_id)
{
	batch_add1(st, OP_QOS2_PUT, id, len)->packet_id = packet_id;
}

void
store_qos2_del(struct store *st, const char *id, size_t len,
    uint16_t packet_id)
{
	batch_add1(st, OP_QOS2_DEL, id, len)->packet_id = packet_id;
}

void
store_retain_put(struct store *st, const char *topic, size_t len,
    uint64_t msg_id)
{
	batch_add1(st, OP_RETAIN_PUT, topic, len)->msg_id = msg_id;
}

void
store_retain_del(struct store *st, const char *topic, size_t len)
{
	batch_add1(st, OP_RETAIN_DEL, topic, len);
}

void
store_glog_put(struct store *st, const char *filter, size_t flen,
    uint64_t seq, uint64_t msg_id, uint32_t bytes, uint64_t cum)
{
	struct op *o;

	o = batch_add1(st, OP_GLOG_PUT, filter, flen);
	o->seq = seq;
	o->msg_id = msg_id;
	o->sub_id = bytes;
	o->t0 = (int64_t)cum;
}

void
store_span_open(struct store *st, const char *id, size_t len,
    const char *filter, size_t flen, uint64_t first_seq, uint64_t first_log,
    uint8_t qos, uint8_t rap, uint32_t sub_id)
{
	struct op *o;

	o = batch_add2(st, OP_SPAN_OPEN, id, len, filter, flen);
	o->seq = first_seq;
	o->msg_id = first_log;
	o->qos = qos;
	o->retain = rap;
	o->sub_id = sub_id;
}

void
store_span_close(struct store *st, const char *id, size_t len,
    uint64_t first_seq, uint64_t last_log)
{
	struct op *o;

	o = batch_add1(st, OP_SPAN_CLOSE, id, len);
	o->seq = first_seq;
	o->msg_id = last_log;
}
