/* control: the coordinator's Unix control socket, one JSON request and reply a connection (docs/control.md) */
#ifndef ASCALE_CONTROL_H
#define ASCALE_CONTROL_H

#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#define CONTROL_VERSION		1
#define CONTROL_REQUEST_MAX	65536	/* bytes, newline excluded */

struct control;

struct control_stats {
	uint64_t requests;
	uint64_t malformed;
	uint64_t denied;
	uint64_t busy;
	uint64_t timeouts;
};

/* Answers one well-formed request ({"v":1,"command":...}) with a reply object it hands over. */
typedef json_t *(*control_fn)(const json_t *request, void *user);

/*
 * Listens on path (mode 0660, group group; 0600 when the group does not
 * exist), replacing a stale socket but never a live coordinator's.  Peers
 * must be root or members of the group (SO_PEERCRED, SO_PEERGROUPS).
 */
int control_open(sd_event *e, const char *path, const char *group, control_fn fn, void *user,
		 struct control **ctl);
void control_close(struct control *ctl);
const struct control_stats *control_stats(const struct control *ctl);

/* A refusal: {"v":1,"ok":false,"error":MESSAGE}. */
json_t *control_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
