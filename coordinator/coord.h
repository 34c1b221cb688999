/* coord: the coordinator's state: the engine ticking each setting on the wall clock, and control requests */
#ifndef ASCALE_COORD_H
#define ASCALE_COORD_H

#include <jansson.h>
#include <systemd/sd-event.h>

#include "coord_conf.h"

struct coord;

/*
 * Starts ticking every setting at multiples of its evaluate_every (plus the
 * settle delay, so the last aggregates of a grain are in), listens for
 * agents (when conf->nlisten) and opens the control socket.  conf must outlive the coordinator.
 */
int coord_start(sd_event *e, const struct coord_conf *conf, struct coord **c);
void coord_stop(struct coord *c);
/* The control socket's handler: status, version, agents, stats. */
json_t *coord_request(const json_t *req, void *user);

#endif
