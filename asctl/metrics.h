/* metrics: "asctl metrics", the agent's samples read straight from its ring */
#ifndef ASCTL_METRICS_H
#define ASCTL_METRICS_H

#include "cli.h"
#include "metrics_render.h"
#include "ring.h"

#define METRICS_RING_DEFAULT	"/run/ascale/asagent.ring"

int metrics_main(const struct asctl_ctx *ctx, int argc, char **argv);

/*
 * Opens the ring at path, or logs why not ("no such file (is asagent
 * running?)", or the reader's sentence).  0 or ASCTL_FAIL.
 */
int metrics_open(const char *path, struct ring_reader **r);

#endif
