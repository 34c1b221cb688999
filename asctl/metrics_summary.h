/* metrics_summary: the latest values and window averages held in the agent's ring */
#ifndef ASCTL_METRICS_SUMMARY_H
#define ASCTL_METRICS_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define METRICS_WINDOWS		3

struct metrics_window {
	const char *name;	/* "10s", "1m", "5m": JSON keys */
	int64_t ns;
};

extern const struct metrics_window metrics_windows[METRICS_WINDOWS];

/* One metric shown. */
struct metrics_stat {
	uint32_t index;				/* in the ring's descriptors */
	char name[RING_NAME_MAX];
	char unit[RING_UNIT_MAX];
	double latest;				/* the newest sample's value; NaN when unknown */
	double avg[METRICS_WINDOWS];		/* NaN without a value in the window */
	uint64_t count[METRICS_WINDOWS];	/* values averaged (NaN ones skipped) */
};

/* One sample listed for --since. */
struct metrics_sample {
	int64_t mono_ns;
	int64_t real_ns;
	const float *values;			/* nstats values, in the order of stats */
};

struct metrics_summary {
	char instance[RING_LABEL_MAX];
	char deployment[RING_LABEL_MAX];
	char endpoint[RING_LABEL_MAX];
	char cgroup[RING_PATH_MAX];
	enum ring_source source;
	enum ring_state state;
	uint32_t writer_pid;
	int64_t now_mono_ns;			/* the instant the windows end */
	int64_t heartbeat_age_ns;
	int64_t interval_ns;
	uint32_t slot_count;
	uint64_t held;				/* samples in the ring */
	int64_t held_ns;			/* the time they cover, 0 when none */
	/* the window reaches back before the oldest sample: its average covers held_ns */
	bool partial[METRICS_WINDOWS];
	bool have_latest;
	int64_t latest_mono_ns;
	int64_t latest_real_ns;
	uint32_t nstats;
	struct metrics_stat *stats;
	/* the agent's connections to coordinators (ring format 1.1): stream_rc 0 when read */
	int stream_rc;				/* ring_reader_stream(): -ENOENT for a 1.0 ring */
	struct ring_stream stream;
	size_t nsamples;			/* oldest first */
	struct metrics_sample *samples;
	float *sample_values;			/* nsamples * nstats */
};

/* True for a per-CPU metric: "Percentage CPU cpuN". */
bool metrics_per_cpu(const char *name);

/*
 * Reads r at now_mono_ns: its labels and state, then the slots backwards from
 * the newest while they fall inside the longest window (or since_ns, when
 * longer), into s, which metrics_summary_free releases (also after a
 * failure).  Shows every metric but the per-CPU ones unless per_cpu.  With
 * since_ns > 0, also lists the samples of the last since_ns.  When the state
 * is RING_RESTARTED, only the header fields are filled: reopen and call
 * again.  Returns 0, -ENOMEM, or the reader's error.
 */
int metrics_summarize(struct ring_reader *r, int64_t now_mono_ns, bool per_cpu,
		      int64_t since_ns, struct metrics_summary *s);
void metrics_summary_free(struct metrics_summary *s);

#endif
