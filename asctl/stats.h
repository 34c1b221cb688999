/* stats: "asctl stats", the coordinator's counters (ingest, store, webhooks, control socket) */
#ifndef ASCTL_STATS_H
#define ASCTL_STATS_H

#include "cli.h"

int stats_main(const struct asctl_ctx *ctx, int argc, char **argv);

#endif
