/* metrics_render: one refresh of "asctl metrics" as JSON or as aligned tables */
#ifndef ASCTL_METRICS_RENDER_H
#define ASCTL_METRICS_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "metrics_summary.h"

/* What one refresh shows besides the summary. */
struct metrics_view {
	const char *ring;	/* the ring's path */
	int64_t now_real_ns;	/* when the summary was taken */
	bool restarted;		/* the writer replaced the ring and we reopened it */
	bool list;		/* list the samples (--since) */
};

/*
 * The JSON object of one refresh; NULL when out of memory.  Keys: ring, time,
 * instance, deployment, endpoint, cgroup, source, state, restarted,
 * heartbeat_age_s, interval_s, slots, samples_held, held_s, latest
 * {time, mono_ns, values}, averages {metric: {"10s", "1m", "5m"}}, partial
 * (the windows longer than the history held), stream [{coordinator, state,
 * since_s, sent_seq, acked_seq, backlog, lost, reconnects, error}]
 * (empty when the agent streams to no coordinator), and samples when v->list.
 * Unknown values are null.
 */
json_t *metrics_render_json(const struct metrics_summary *s, const struct metrics_view *v);

/* The human form of one refresh: labels, the metric table, the samples.  0, -ENOMEM or -EIO. */
int metrics_render_print(FILE *f, const struct metrics_summary *s, const struct metrics_view *v);

#endif
