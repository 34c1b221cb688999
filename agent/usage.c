/* usage: the values of one ring slot, from two sampler readings */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "usage.h"

static void usage_name(struct ring_metric *m, const char *name, const char *alias)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->alias, sizeof(m->alias), "%s", alias);
	snprintf(m->unit, sizeof(m->unit), "percent");
}

void usage_describe(struct ring_metric *m, uint32_t ncpu)
{
	char name[RING_NAME_MAX];
	uint32_t i;

	usage_name(&m[METRIC_CPU], "Percentage CPU", "CpuUtilizationPercentage");
	usage_name(&m[METRIC_MEMORY], "MemoryUtilizationPercentage",
		     "CpuMemoryUtilizationPercentage");
	usage_name(&m[METRIC_STEAL], "Percentage Steal", "");
	for (i = 0; i < ncpu; i++) {
		snprintf(name, sizeof(name), "Percentage CPU cpu%u", i);
		usage_name(&m[METRIC_PER_CPU + i], name, "");
	}
}

static float usage_pct(uint64_t part, uint64_t whole)
{
	double v;

	if (!whole)
		return NAN;
	v = 100.0 * (double)part / (double)whole;
	return v > 100.0 ? 100.0f : (float)v;
}

/* Counter difference; a counter that went backwards (CPU re-onlined) counts as no time. */
static uint64_t usage_delta(uint64_t cur, uint64_t prev)
{
	return cur > prev ? cur - prev : 0;
}

void usage_compute(const struct sampler_reading *prev, const struct sampler_reading *cur,
		     bool cgroup, float *values)
{
	uint64_t busy = 0, total = 0, b, t;
	double wall, cap;
	uint32_t i;

	for (i = 0; i < cur->ncpu; i++) {
		const struct sampler_cpu *p = &prev->cpu[i], *c = &cur->cpu[i];

		if (!c->online || !p->online) {
			values[METRIC_PER_CPU + i] = NAN;
			continue;
		}
		b = usage_delta(c->busy_ns, p->busy_ns);
		t = b + usage_delta(c->idle_ns, p->idle_ns);
		values[METRIC_PER_CPU + i] = usage_pct(b, t);
		busy += b;
		total += t;
	}
	values[METRIC_STEAL] = isnan(cur->steal_pct) ? NAN : (float)cur->steal_pct;
	values[METRIC_MEMORY] = isnan(cur->mem_pct) ? NAN : (float)cur->mem_pct;
	if (!cgroup) {
		values[METRIC_CPU] = usage_pct(busy, total);
		return;
	}
	/* The cgroup's share of the CPU time it may use over the interval. */
	wall = (double)(cur->mono_ns - prev->mono_ns);
	cap = wall * cur->cg_cpus;
	if (cap <= 0) {
		values[METRIC_CPU] = NAN;
		return;
	}
	values[METRIC_CPU] = fmin(100.0, 100.0 * (double)usage_delta(cur->cg_busy_ns,
								    prev->cg_busy_ns) / cap);
}
