/* usage: the values of one ring slot, from two sampler readings */
#ifndef ASCALE_USAGE_H
#define ASCALE_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"
#include "sampler.h"

/* Fixed slot layout: these first, then one "Percentage CPU cpuN" per CPU. */
enum {
	METRIC_CPU,		/* "Percentage CPU" (alias CpuUtilizationPercentage) */
	METRIC_MEMORY,		/* "MemoryUtilizationPercentage" (alias CpuMemoryUtilizationPercentage) */
	METRIC_STEAL,		/* "Percentage Steal" */
	METRIC_PER_CPU,		/* first per-CPU value */
};

/* Fills the descriptor table for ncpu CPUs (METRIC_PER_CPU + ncpu entries). */
void usage_describe(struct ring_metric *m, uint32_t ncpu);
/* Computes the slot values for the interval between prev and cur. */
void usage_compute(const struct sampler_reading *prev, const struct sampler_reading *cur,
		     bool cgroup, float *values);

#endif
