/*
 * utf8.c - UTF-8 validation for MQTT strings.
 *
 * Design note. MQTT 5.0 1.5.4 (3.1.1 1.5.3) requires UTF-8 encoded strings
 * to be well-formed as defined by Unicode / RFC 3629 [MQTT-1.5.4-1]: the
 * shortest form only, no UTF-16 surrogate code points U+D800..U+DFFF, no
 * code point above U+10FFFF; and they must not contain U+0000
 * [MQTT-1.5.4-2]. Control characters and non-characters are left to the
 * receiver by [MQTT-1.5.4-3] and the following paragraph; tern accepts
 * them. A U+FEFF byte order mark is an ordinary character (1.5.4).
 *
 * The check follows the table of well-formed byte sequences in The
 * Unicode Standard, chapter 3 (table 3-7): the first byte fixes the
 * sequence length and the allowed range of the second byte, which is what
 * rules out overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates
 * (ED A0..BF) and code points past U+10FFFF (F4 90.., F5..FF).
 */
#include <stddef.h>
#include <stdint.h>

#include "mqtt.h"

/* 1 when s[0..len) is well-formed UTF-8 without U+0000; see mqtt.h. */
int
mqtt_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint8_t c, lo, hi;

	while (i < len) {
		c = s[i];
		if (c >= 0x01 && c <= 0x7f) {
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return 0;	/* U+0000, continuation, C0/C1, F5.. */
		if (len - i < n)
			return 0;	/* truncated */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (k = 2; k < n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		}
		i += n;
	}
	return 1;
}
