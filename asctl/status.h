/* status: "asctl status", each setting's profile, count, rules and last decision, from the coordinator */
#ifndef ASCTL_STATUS_H
#define ASCTL_STATUS_H

#include "cli.h"

int status_main(const struct asctl_ctx *ctx, int argc, char **argv);

#endif
