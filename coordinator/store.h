/* store: per-grain metric aggregates for the engine's rules, kept incrementally */
#ifndef ASCALE_STORE_H
#define ASCALE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "condition.h"
#include "setting.h"

struct store;

struct store_label {
	const char *key, *value;
};

/* What a daemon receives from agents: one instance's samples over a span. */
struct store_agg {
	int64_t t_ns;		/* sample time (for an aggregate: its start) */
	uint64_t count;		/* samples; 1 for a raw sample */
	double sum, min, max, last;
};

/* What a rule watches: a metric of the instances that pass its filters. */
struct series_spec {
	const char *metric;
	int64_t grain_ns;
	unsigned window_grains;		/* window / grain */
	enum grain_stat stat;		/* combines instances within a grain */
	enum cond_agg agg;		/* combines grains over the window */
	const struct cond_filter *filters;
	unsigned nfilters;
	const char *deployment;		/* scope; NULL or "" for any */
	const char *endpoint;
};

struct store_window {
	bool data;			/* some grain of the window holds data */
	bool warming;			/* the metric was first seen after the window's start */
	double value;			/* the time aggregation */
	uint64_t samples;
	unsigned grains;		/* grains holding data */
};

struct store *store_new(void);
void store_free(struct store *st);

/*
 * Interns an instance by name and labels (deployment, endpoint and any other
 * label); returns its id (>= 0) or -errno.  Labels of an id never change.
 */
int store_instance(struct store *st, const char *name, const char *deployment,
		   const char *endpoint, const struct store_label *labels, size_t nlabels);
/*
 * Forgets an instance: its id is free for the next new instance.  Samples it
 * sent for grains still open stay in them.  Returns 0, -EINVAL (no such id)
 * or -ENOMEM.
 */
int store_instance_forget(struct store *st, int id);
/* Instances interned and not forgotten. */
size_t store_instances(const struct store *st);
/* Interns a metric name (case-insensitive); returns its id or -errno. */
int store_metric(struct store *st, const char *name);
/* Adds a series; returns its id or -errno. */
int store_series_add(struct store *st, const struct series_spec *spec);

/*
 * The lateness horizon: each series keeps the grains within horizon_ns (at
 * least 4 grains, at most 3600) of the newest grain that took data open, in
 * a ring indexed by grain.  0 (the default) is 4 grains.  Only before any
 * data (-EBUSY); -EINVAL past one hour; -ENOMEM.
 */
int store_set_lateness(struct store *st, int64_t horizon_ns);

/*
 * Adds samples of a metric from an instance, in O(1) per series.  Data for a
 * grain that a query already closed, or behind the lateness horizon (older
 * than the newest grain of the series minus the horizon), is dropped and
 * counted (store_late()).  Returns 0, -EINVAL (bad ids, negative time, count
 * 0, non-finite values) or -ENOMEM (then some series may lack the sample).
 */
int store_ingest(struct store *st, int instance, int metric, const struct store_agg *a);
int store_ingest_value(struct store *st, int instance, int metric, int64_t t_ns, double v);

/*
 * The series' window at time t: the window_grains grains ending at or before
 * t.  Closes the grains that end at or before t.  Times must not go back
 * (-ERANGE).
 */
int store_query(struct store *st, int series, int64_t t_ns, struct store_window *w);

uint64_t store_late(const struct store *st);
size_t store_memory(const struct store *st);

#endif
