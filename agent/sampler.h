/* sampler: cumulative per-CPU busy and idle time, steal and memory, from eBPF or /proc */
#ifndef ASCALE_SAMPLER_H
#define ASCALE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "agent_conf.h"
#include "ring.h"

struct sampler_cpu {
	bool online;
	uint64_t busy_ns;	/* cumulative; the open interval closed at the reading */
	uint64_t idle_ns;
};

struct sampler_reading {
	int64_t mono_ns;		/* CLOCK_MONOTONIC of the reading */
	uint32_t ncpu;			/* entries in cpu[]: sampler_ncpu() */
	struct sampler_cpu *cpu;	/* the caller's array of sampler_ncpu() entries */
	/* cgroup mode only */
	uint64_t cg_busy_ns;		/* cumulative CPU time of the cgroup and its descendants */
	double cg_cpus;			/* CPUs the cgroup may use (cpu.max, cpuset), > 0 */
	/*
	 * Steal share of the CPUs and memory in use (percent of what the scope
	 * may use), from /proc: over the last interval with procfs, refreshed
	 * once a second with eBPF.  NaN when unknown.
	 */
	double steal_pct;
	double mem_pct;
};

struct sampler;

/*
 * Opens the source the configuration asks for.  With source = auto, a BPF
 * program that cannot be loaded or attached (EPERM, no BTF, old kernel) makes
 * it fall back to procfs, saying so once in the log.  Needs CAP_BPF (or
 * CAP_SYS_ADMIN) and CAP_PERFMON only until it returns.
 */
int sampler_open(const struct agent_conf *conf, struct sampler **s);
void sampler_close(struct sampler *s);
enum ring_source sampler_source(const struct sampler *s);
uint32_t sampler_ncpu(const struct sampler *s);
/* Reads the counters now into r (r->cpu must hold sampler_ncpu() entries). */
int sampler_read(struct sampler *s, struct sampler_reading *r);
/* Measures another cgroup ("" for the whole machine) without reloading anything. */
int sampler_set_cgroup(struct sampler *s, const char *cgroup);

#endif
