/* simulate: replays a metric trace through the engine, tick by tick, on trace time */
#ifndef ASCALE_SIMULATE_H
#define ASCALE_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decision.h"
#include "setting.h"
#include "trace.h"

struct simulate;

struct simulate_opts {
	const char *setting;		/* NULL: every setting of the configuration */
	bool has_count;			/* else: the default count of the profile in force at the first tick */
	unsigned count;			/* the starting count */
	bool has_from, has_until;	/* else: the first and the last sample's time */
	int64_t from_ns, until_ns;
};

struct simulate_stats {
	uint64_t rows;			/* samples read */
	uint64_t ticks;			/* engine evaluations, over every setting */
	uint64_t scales;		/* scale actions applied */
	uint64_t late;			/* samples the store dropped (see docs/engine.md) */
	int64_t first_ns, last_ns;	/* first and last sample times; -1 before any */
};

/*
 * Called for every tick with events (d->events != 0); conf is the
 * configuration the decision refers to (simulate_conf()).  A negative return
 * stops the run with that error.
 */
typedef int (*simulate_event_fn)(const struct engine_conf *conf, const struct decision *d, void *user);

/*
 * Prepares a run over conf (which must outlive it).  Returns 0, -ENOENT when
 * o->setting names no setting, -EINVAL for a count outside 0..COUNT_MAX or
 * until before from, or -ENOMEM.  Logs nothing.
 */
int simulate_new(const struct engine_conf *conf, const struct simulate_opts *o, struct simulate **out);
void simulate_free(struct simulate *s);

/*
 * Reads every sample of t, feeds the engine's store and runs each setting's
 * ticks (multiples of its evaluate_every in [from, until]) as trace time
 * passes: a tick at T runs once a sample at or after T arrives, so it sees
 * every sample before T.  A sample older than a tick already run is an error
 * (FILE:LINE).  Samples after until are not read.  Returns 0, -EINVAL (bad
 * trace, logged), fn's error, -ENOMEM or -errno.
 */
int simulate_run(struct simulate *s, struct trace *t, simulate_event_fn fn, void *user);

/* The configuration decisions refer to: only the chosen setting with --setting. */
const struct engine_conf *simulate_conf(const struct simulate *s);
const struct simulate_stats *simulate_stats(const struct simulate *s);
/* The count of setting i (in simulate_conf()) now. */
unsigned simulate_count(const struct simulate *s, size_t i);

#endif
