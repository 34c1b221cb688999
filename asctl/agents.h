/* agents: "asctl agents", the coordinator's agent instances and their latest values */
#ifndef ASCTL_AGENTS_H
#define ASCTL_AGENTS_H

#include "cli.h"

int agents_main(const struct asctl_ctx *ctx, int argc, char **argv);

#endif
