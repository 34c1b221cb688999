/* simulate_cmd: "asctl simulate", a trace replayed through the engine */
#ifndef ASCTL_SIMULATE_CMD_H
#define ASCTL_SIMULATE_CMD_H

#include "cli.h"

int simulate_main(const struct asctl_ctx *ctx, int argc, char **argv);

#endif
