/* control_client: one request to the coordinator's control socket (docs/control.md) */
#ifndef ASCTL_CONTROL_CLIENT_H
#define ASCTL_CONTROL_CLIENT_H

#include <jansson.h>

#define CONTROL_CLIENT_REPLY_MAX	(64u << 20)	/* bytes */

/*
 * Sends {"v":1,"command":command, ...extra} to the socket at path and reads
 * the reply.  On success *reply is an object with "ok": true.  On failure a
 * clear message has been printed ("ascoord is not running", "access denied",
 * the coordinator's own error) and the asctl exit code is returned.
 */
int control_call(const char *path, const char *cmd, const char *command, json_t *extra,
		 json_t **reply);

#endif
