/*
 * topic.c - topic name and topic filter syntax.
 *
 * Design note. MQTT 5.0 4.7 (3.1.1 4.7): levels are separated by '/'; '#'
 * is valid only as a whole level and only as the last one [MQTT-4.7.1-1];
 * '+' only as a whole level [MQTT-4.7.1-2]; names and filters are at least
 * one character long [MQTT-4.7.3-1]; topic names carry no wildcard
 * [MQTT-4.7.0-1] ([MQTT-3.3.2-2] for PUBLISH). Shared subscriptions (5.0
 * 4.8.2) are "$share/<ShareName>/<filter>": the share name is at least
 * one character and has no '/', '+' or '#' [MQTT-4.8.2-1], [MQTT-4.8.2-2],
 * and the filter after it is a valid, non-empty filter.
 *
 * These work on bytes: UTF-8 validity is checked by the decoder, and '/',
 * '+' and '#' never occur inside a multi-byte sequence.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

/* 1 when t is a valid topic name; see mqtt.h. */
int
mqtt_topic_name_valid(const uint8_t *t, size_t len)
{
	if (len == 0)
		return 0;
	return memchr(t, '+', len) == NULL && memchr(t, '#', len) == NULL;
}

/* Wildcard placement in a plain (not shared) filter. */
static int
topic_filter_plain_valid(const uint8_t *f, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (f[i] != '+' && f[i] != '#')
			continue;
		/* A wildcard must fill its level. */
		if (i > 0 && f[i - 1] != '/')
			return 0;
		if (f[i] == '#') {
			if (i != len - 1)
				return 0;	/* last level only */
		} else if (i + 1 < len && f[i + 1] != '/')
			return 0;
	}
	return 1;
}

/* 1 when f is a valid topic filter (shared or not); see mqtt.h. */
int
mqtt_topic_filter_valid(const uint8_t *f, size_t len)
{
	struct mqtt_str group, inner;
	size_t i;

	if (!mqtt_topic_shared(f, len, &group, &inner))
		return topic_filter_plain_valid(f, len);
	if (group.len == 0 || inner.p == NULL)
		return 0;
	for (i = 0; i < group.len; i++) {
		if (group.p[i] == '+' || group.p[i] == '#')
			return 0;
	}
	return topic_filter_plain_valid(inner.p, inner.len);
}

/*
 * 1 when f starts with "$share/"; see mqtt.h. The group runs to the next
 * '/' (or to the end); the filter is what follows that '/', and has
 * p == NULL when there is no such '/' at all ("$share/g").
 */
int
mqtt_topic_shared(const uint8_t *f, size_t len, struct mqtt_str *share_group,
    struct mqtt_str *filter)
{
	const uint8_t *g, *slash;
	size_t glen;

	if (len < SHARE_PREFIX_LEN ||
	    memcmp(f, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return 0;
	g = f + SHARE_PREFIX_LEN;
	glen = len - SHARE_PREFIX_LEN;
	slash = glen != 0 ? memchr(g, '/', glen) : NULL;
	if (share_group != NULL) {
		share_group->p = g;
		share_group->len = (uint32_t)(slash != NULL ?
		    (size_t)(slash - g) : glen);
	}
	if (filter != NULL) {
		if (slash == NULL) {
			filter->p = NULL;
			filter->len = 0;
		} else {
			filter->p = slash + 1;
			filter->len = (uint32_t)(len - (size_t)(slash + 1 - f));
		}
	}
	return 1;
}
