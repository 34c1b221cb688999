/* agent: one sampler feeding one ring, and what changes on reload */
#ifndef ASCALE_AGENT_H
#define ASCALE_AGENT_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "agent_conf.h"

struct agent;

/* Opens the sampler, creates the ring and drops privileges. */
int agent_start(const struct agent_conf *conf, struct agent **a);
/* Starts streaming to the configured coordinators on e (nothing when none is set). */
int agent_stream_start(struct agent *a, sd_event *e);
/* Takes one sample into the ring. */
int agent_sample(struct agent *a);
/* Applies a new configuration; what needs a restart is kept and said. */
int agent_reload(struct agent *a, const struct agent_conf *conf);
int64_t agent_interval(const struct agent *a);
const char *agent_describe(const struct agent *a, char *buf, size_t len);
/* Says GOODBYE to the coordinators, closes the ring cleanly (readers see "stopped") and frees everything. */
void agent_stop(struct agent *a);

#endif
