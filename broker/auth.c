/*
 * auth.c - enhanced authentication methods (MQTT 5.0 section 4.12).
 *
 * A method is a row of auth_methods[]: its name (the Authentication Method
 * property) and the step function that consumes the client's
 * Authentication Data and says "continue with this data", "success" or
 * "fail". The table is empty in this release (SCRAM-SHA-256 arrives with
 * the security work), so a CONNECT naming any method is refused with
 * 0x8C (bad authentication method) and an AUTH packet, which can only
 * belong to an exchange that was never started, is a protocol error.
 */
#include "config.h"

#include <string.h>

#include "broker.h"

struct auth_method {
	const char *name;
	/* Consume data; return MQTT_RC_SUCCESS, MQTT_RC_CONTINUE_AUTH (with
	 * *out set) or a failure reason code. */
	int (*step)(struct conn *c, struct mqtt_str data, struct mqtt_str *out);
};

static const struct auth_method auth_methods[] = {
	{ NULL, NULL }
};

static const struct auth_method *
auth_find(struct mqtt_str name)
{
	const struct auth_method *m;

	for (m = auth_methods; m->name != NULL; m++) {
		if (strlen(m->name) == name.len &&
		    memcmp(m->name, name.p, name.len) == 0)
			return m;
	}
	return NULL;
}

int
auth_method_known(struct mqtt_str name)
{
	return auth_find(name) != NULL;
}
