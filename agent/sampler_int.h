/* sampler_int: what sampler.c and sampler_bpf.c share, not for other modules */
#ifndef ASCALE_AGENT_SAMPLER_INT_H
#define ASCALE_AGENT_SAMPLER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agent_conf.h"
#include "sampler.h"


struct sampler_bpf;

/*
 * Loads bpf/cpu.bpf.c, attaches it as attach asks, measures cgroup cgid (0:
 * none) and gives every online CPU a known state.  On failure returns
 * -errno and a short reason in why (the caller logs it); libbpf's own
 * messages go to log_debug.
 */
int sampler_bpf_open(enum agent_attach attach, uint32_t ncpu, uint64_t cgid,
		     struct sampler_bpf **b, char *why, size_t whylen);
void sampler_bpf_close(struct sampler_bpf *b);
/* "tp_btf" or "raw_tp": the program that was attached. */
const char *sampler_bpf_attach_name(const struct sampler_bpf *b);
/*
 * Cumulative busy and idle time of cpu[0..ncpu) into busy_ns and idle_ns,
 * with the open interval closed at now_ns (CLOCK_MONOTONIC), and the sum of
 * the cgroup time in *cg_ns.  Leaves the other fields alone.  0 or -EAGAIN
 * when an entry kept changing under the reader.
 */
int sampler_bpf_read(struct sampler_bpf *b, int64_t now_ns, struct sampler_cpu *cpu,
		     uint32_t ncpu, uint64_t *cg_ns);
/*
 * Measures the cgroup whose kernfs id is cgid from now on (0: none), and
 * visits every CPU so that what runs there is classified again.  Needs no
 * privilege.
 */
void sampler_bpf_set_cgroup(struct sampler_bpf *b, uint64_t cgid);

#endif
