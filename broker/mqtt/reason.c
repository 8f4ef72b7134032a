/*
 * reason.c - names of reason codes and packet types, and the v5 to 3.1.1
 * CONNACK mapping.
 *
 * Design note. Names follow the MQTT 5.0 reason code table (2.4) and the
 * control packet type table (2.1.2). 0x00 is "success" here whatever the
 * packet (it also means "normal disconnection" and "granted QoS 0"), as
 * mqtt_rc_name() has no packet type argument.
 *
 * mqtt_rc_to_v3_connack() maps a v5 CONNACK reason code (3.2.2.2) onto the
 * six 3.1.1 return codes (3.1.1 3.2.2.3). Codes with no 3.1.1 equivalent
 * become "server unavailable" (3), except the authentication and
 * authorisation family: 0x8A banned and 0x8C bad authentication method
 * become "not authorized" (5), the nearest meaning a 3.1.1 client can act
 * on.
 */
#include <stddef.h>
#include <stdint.h>

#include "mqtt.h"

/* Name of a v5 reason code, "unknown reason code" when undefined. */
const char *
mqtt_rc_name(uint8_t rc)
{
	switch (rc) {
	case 0x00: return "success";
	case 0x01: return "granted QoS 1";
	case 0x02: return "granted QoS 2";
	case 0x04: return "disconnect with will message";
	case 0x10: return "no matching subscribers";
	case 0x11: return "no subscription existed";
	case 0x18: return "continue authentication";
	case 0x19: return "re-authenticate";
	case 0x80: return "unspecified error";
	case 0x81: return "malformed packet";
	case 0x82: return "protocol error";
	case 0x83: return "implementation specific error";
	case 0x84: return "unsupported protocol version";
	case 0x85: return "client identifier not valid";
	case 0x86: return "bad user name or password";
	case 0x87: return "not authorized";
	case 0x88: return "server unavailable";
	case 0x89: return "server busy";
	case 0x8A: return "banned";
	case 0x8B: return "server shutting down";
	case 0x8C: return "bad authentication method";
	case 0x8D: return "keep alive timeout";
	case 0x8E: return "session taken over";
	case 0x8F: return "topic filter invalid";
	case 0x90: return "topic name invalid";
	case 0x91: return "packet identifier in use";
	case 0x92: return "packet identifier not found";
	case 0x93: return "receive maximum exceeded";
	case 0x94: return "topic alias invalid";
	case 0x95: return "packet too large";
	case 0x96: return "message rate too high";
	case 0x97: return "quota exceeded";
	case 0x98: return "administrative action";
	case 0x99: return "payload format invalid";
	case 0x9A: return "retain not supported";
	case 0x9B: return "QoS not supported";
	case 0x9C: return "use another server";
	case 0x9D: return "server moved";
	case 0x9E: return "shared subscriptions not supported";
	case 0x9F: return "connection rate exceeded";
	case 0xA0: return "maximum connect time";
	case 0xA1: return "subscription identifiers not supported";
	case 0xA2: return "wildcard subscriptions not supported";
	}
	return "unknown reason code";
}

/* Name of a control packet type, "?" when unknown. */
const char *
mqtt_type_name(uint8_t type)
{
	static const char *names[] = {
		NULL, "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
		"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE",
		"UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"
	};

	if (type >= sizeof names / sizeof names[0] || names[type] == NULL)
		return "?";
	return names[type];
}

/* 3.1.1 CONNACK return code for a v5 CONNACK reason code. */
uint8_t
mqtt_rc_to_v3_connack(uint8_t rc)
{
	switch (rc) {
	case MQTT_RC_SUCCESS:
		return MQTT_V3_ACCEPTED;
	case MQTT_RC_UNSUPPORTED_VERSION:
		return MQTT_V3_BAD_VERSION;
	case MQTT_RC_CLIENT_ID_INVALID:
		return MQTT_V3_ID_REJECTED;
	case MQTT_RC_BAD_USER_OR_PASSWORD:
		return MQTT_V3_BAD_USER_OR_PASSWORD;
	case MQTT_RC_NOT_AUTHORIZED:
	case MQTT_RC_BANNED:
	case MQTT_RC_BAD_AUTH_METHOD:
		return MQTT_V3_NOT_AUTHORIZED;
	default:
		return MQTT_V3_SERVER_UNAVAILABLE;
	}
}
