/*
 * fuzz_decode.c - libFuzzer target for the MQTT codec (frame + decode).
 *
 * Input: the first byte picks the protocol level of the "connection"
 * (3, 4 or 5: byte % 3 + 3) and, with bit 7, a small maximum packet size;
 * the rest is a byte stream framed and decoded packet after packet, as a
 * broker reads a socket. A CONNECT that decodes switches the level to the
 * one it announces. Each body is copied to its own exact-size allocation
 * so that ASan catches any read past it.
 *
 * Invariant, after tmux's fuzz/ targets: a packet that decodes must
 * re-encode (with its user properties copied through
 * mqtt_props_user_copy and its subscription identifiers collected with
 * mqtt_props_sub_id_next) to bytes that frame and decode again, and whose
 * second re-encoding is byte-identical to the first. Any violation aborts.
 * The first re-encoding may differ from the input: property order, short
 * forms and non-minimal integers are normalised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

/* The property blocks of a decoded packet; returns how many. */
static int
fuzz_props_of(struct mqtt_packet *pkt, struct mqtt_props **pp)
{
	switch (pkt->type) {
	case MQTT_CONNECT:
		pp[0] = &pkt->u.connect.props;
		pp[1] = &pkt->u.connect.will_props;
		return 2;
	case MQTT_CONNACK:
		pp[0] = &pkt->u.connack.props;
		return 1;
	case MQTT_PUBLISH:
		pp[0] = &pkt->u.publish.props;
		return 1;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		pp[0] = &pkt->u.ack.props;
		return 1;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		pp[0] = &pkt->u.subscribe.props;
		return 1;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		pp[0] = &pkt->u.suback.props;
		return 1;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		pp[0] = &pkt->u.reason.props;
		return 1;
	}
	return 0;
}

/* Encode a decoded packet (user properties carried over). Returns a
 * malloc'ed buffer and its length. */
static uint8_t *
fuzz_encode(struct mqtt_packet *pkt, uint8_t version, size_t *lenp)
{
	struct mqtt_props *pp[2];
	uint8_t *user[2] = { NULL, NULL }, *buf;
	uint32_t *ids[2] = { NULL, NULL };
	struct mqtt_str k, v;
	uint32_t pos, n, count, id;
	size_t len;
	int i, np;

	np = fuzz_props_of(pkt, pp);
	for (i = 0; i < np; i++) {
		/* Carry every subscription identifier over, not just the
		 * first one that the decoder keeps in sub_id. */
		count = 0;
		pos = 0;
		while (mqtt_props_sub_id_next(pp[i], &pos, &id)) {
			FUZZ_CHECK(id != 0);
			if (count == 0)
				FUZZ_CHECK(id == pp[i]->sub_id);
			count++;
		}
		FUZZ_CHECK(count == pp[i]->n_sub_ids);
		if (count != 0) {
			ids[i] = malloc(count * sizeof *ids[i]);
			FUZZ_CHECK(ids[i] != NULL);
			count = 0;
			pos = 0;
			while (mqtt_props_sub_id_next(pp[i], &pos, &id))
				ids[i][count++] = id;
			pp[i]->sub_ids = ids[i];
		}
		count = 0;
		pos = 0;
		while (mqtt_props_user_next(pp[i], &pos, &k, &v))
			count++;
		FUZZ_CHECK(count == pp[i]->n_user);
		n = mqtt_props_user_size(pp[i]);
		user[i] = malloc(n + 1);
		FUZZ_CHECK(user[i] != NULL);
		FUZZ_CHECK(mqtt_props_user_copy(pp[i], user[i]) == n);
		pp[i]->user.p = user[i];
		pp[i]->user.len = n;
	}
	len = mqtt_encode_len(pkt, version);
	FUZZ_CHECK(len != 0);
	buf = malloc(len);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(mqtt_encode(pkt, version, buf) == len);
	for (i = 0; i < np; i++) {
		free(user[i]);
		free(ids[i]);
	}
	*lenp = len;
	return buf;
}

/* Frame and decode a buffer holding exactly one packet. */
static void
fuzz_redecode(const uint8_t *buf, size_t len, uint8_t version,
    struct mqtt_packet *pkt)
{
	struct mqtt_frame f;
	struct mqtt_str filter;
	struct mqtt_sub_iter it;
	uint32_t count = 0;
	uint8_t opt;
	int rc;

	FUZZ_CHECK(mqtt_frame(buf, len, (uint32_t)len, &f) == MQTT_FRAME_OK);
	FUZZ_CHECK((size_t)f.header_len + f.remaining == len);
	rc = mqtt_decode(f.type, f.flags, buf + f.header_len, f.remaining,
	    version, pkt);
	if (rc != 0)
		fprintf(stderr, "re-decode of %s failed: 0x%02x\n",
		    mqtt_type_name(f.type), rc);
	FUZZ_CHECK(rc == 0);
	if (pkt->type == MQTT_SUBSCRIBE || pkt->type == MQTT_UNSUBSCRIBE) {
		mqtt_sub_iter_init(&it, pkt);
		while (mqtt_sub_next(&it, &filter, &opt))
			count++;
		FUZZ_CHECK(count == pkt->u.subscribe.count);
	}
}

/* The round-trip invariant for one decoded packet. */
static void
fuzz_roundtrip(struct mqtt_packet *pkt, uint8_t version)
{
	struct mqtt_packet p2, p3;
	uint8_t *e1, *e2;
	size_t n1, n2;

	e1 = fuzz_encode(pkt, version, &n1);
	fuzz_redecode(e1, n1, version, &p2);
	FUZZ_CHECK(p2.type == pkt->type);
	e2 = fuzz_encode(&p2, version, &n2);
	FUZZ_CHECK(n1 == n2 && memcmp(e1, e2, n1) == 0);
	fuzz_redecode(e2, n2, version, &p3);
	free(e2);
	free(e1);
}

/* Fuzz entry point: frame and decode every packet of the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_packet pkt;
	struct mqtt_frame f;
	uint32_t max_packet;
	uint8_t version, *body;
	size_t total;
	int rc;

	if (size < 1)
		return 0;
	version = (uint8_t)(data[0] % 3 + 3);
	max_packet = (data[0] & 0x80) ? 64 : 0;
	data++;
	size--;

	while (size > 0) {
		rc = mqtt_frame(data, size, max_packet, &f);
		if (rc != MQTT_FRAME_OK) {
			FUZZ_CHECK(rc == MQTT_FRAME_PARTIAL ||
			    rc == MQTT_RC_MALFORMED ||
			    rc == MQTT_RC_PACKET_TOO_LARGE);
			break;
		}
		FUZZ_CHECK(f.header_len >= 2 && f.header_len <= 5);
		total = (size_t)f.header_len + f.remaining;
		if (total > size)
			break;		/* body not complete */
		body = malloc(f.remaining != 0 ? f.remaining : 1);
		FUZZ_CHECK(body != NULL);
		memcpy(body, data + f.header_len, f.remaining);
		rc = mqtt_decode(f.type, f.flags, body, f.remaining, version,
		    &pkt);
		if (rc == 0) {
			if (pkt.type == MQTT_CONNECT)
				version = pkt.u.connect.version;
			fuzz_roundtrip(&pkt, version);
		} else
			FUZZ_CHECK(rc == MQTT_RC_MALFORMED ||
			    rc == MQTT_RC_PROTOCOL_ERROR ||
			    rc == MQTT_RC_UNSUPPORTED_VERSION ||
			    rc == MQTT_RC_TOPIC_NAME_INVALID);
		free(body);
		data += total;
		size -= total;
	}
	return 0;
}
