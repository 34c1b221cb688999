/* history_cmd: "asctl history", what the coordinator did, read from its history file */
#ifndef ASCTL_HISTORY_CMD_H
#define ASCTL_HISTORY_CMD_H

#include "cli.h"

int history_main(const struct asctl_ctx *ctx, int argc, char **argv);

#endif
