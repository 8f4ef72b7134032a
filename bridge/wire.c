/*
 * wire.c - the byte layouts the links' control messages share: big-endian
 * integers and MQTT 5 user properties in wire form (identifier 0x26, then
 * key and value as two-byte-length strings).
 */
#include "config.h"

#include <string.h>

#include "broker.h"

void
bridge_put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t
bridge_get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
bridge_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t
bridge_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint8_t *
bridge_put_user(uint8_t *p, const char *key, const char *value, size_t vlen)
{
	size_t kl = strlen(key);

	*p++ = MQTT_PROP_USER;
	*p++ = (uint8_t)(kl >> 8);
	*p++ = (uint8_t)kl;
	memcpy(p, key, kl);
	p += kl;
	*p++ = (uint8_t)(vlen >> 8);
	*p++ = (uint8_t)vlen;
	memcpy(p, value, vlen);
	return p + vlen;
}
