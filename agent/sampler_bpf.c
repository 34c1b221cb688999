/* sampler_bpf: loading bpf/cpu.bpf.c and reading its per-CPU counters from the mapped .bss */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "sampler_int.h"

#include <linux/types.h>

#include "../bpf/cpu_acct.h"

_Static_assert(sizeof(struct cpu_acct) == 64, "struct cpu_acct must fill one cache line");

#include "cpu.skel.h"

#define SAMPLER_BPF_RETRIES	1000	/* reads of one entry before giving up */
#define SAMPLER_BPF_BTF		"/sys/kernel/btf/vmlinux"

#if defined(__x86_64__) || defined(__i386__)
#define sampler_bpf_relax()	__builtin_ia32_pause()
#else
#define sampler_bpf_relax()	__asm__ __volatile__("" ::: "memory")
#endif

struct sampler_bpf {
	struct cpu_bpf *skel;
	const char *attach;
	uint32_t ncpu;
};

/* libbpf's messages: detail for debugging; the caller logs the summary */
static int sampler_bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)level;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n)
		log_debug("%s", buf);	/* libbpf starts its lines with "libbpf: " */
	return 0;
}

/* Opens, loads and attaches the skeleton with only one of the two programs. */
static int sampler_bpf_load(bool btf, struct cpu_bpf **skelp, const char **step)
{
	struct cpu_bpf *skel;
	int r;

	*step = "open";
	skel = cpu_bpf__open();
	if (!skel)
		return errno ? -errno : -EINVAL;
	bpf_program__set_autoload(skel->progs.cpu_switch_btf, btf);
	bpf_program__set_autoload(skel->progs.cpu_switch_raw, !btf);
	bpf_program__set_autoload(skel->progs.cpu_idle_btf, btf);
	bpf_program__set_autoload(skel->progs.cpu_idle_raw, !btf);
	*step = "load";
	r = cpu_bpf__load(skel);
	if (r == 0) {
		*step = "attach";
		r = cpu_bpf__attach(skel);
	}
	if (r == 0 && !skel->bss) {
		*step = "map .bss";
		r = -ENOMEM;
	}
	if (r < 0) {
		cpu_bpf__destroy(skel);
		return r;
	}
	*skelp = skel;
	return 0;
}

/*
 * Runs the calling thread once on every CPU it may use, so each one goes
 * through sched_switch and gets a known state right after attach.
 */
static void sampler_bpf_prime(uint32_t ncpu)
{
	size_t size = CPU_ALLOC_SIZE(ncpu);
	cpu_set_t *orig, *one;
	uint32_t c;

	orig = CPU_ALLOC(ncpu);
	one = CPU_ALLOC(ncpu);
	if (!orig || !one || sched_getaffinity(0, size, orig) < 0) {
		log_debug("cannot visit the CPUs: %s", strerror(errno ? errno : ENOMEM));
		goto out;
	}
	for (c = 0; c < ncpu; c++) {
		CPU_ZERO_S(size, one);
		CPU_SET_S(c, size, one);
		/* EINVAL: offline or outside our cpuset; its first switch will tell */
		if (sched_setaffinity(0, size, one) < 0)
			continue;
		if (sched_getcpu() != (int)c)
			sched_yield();
	}
	if (sched_setaffinity(0, size, orig) < 0)
		log_warn("cannot restore the CPU affinity: %s", strerror(errno));
out:
	CPU_FREE(orig);
	CPU_FREE(one);
}

int sampler_bpf_open(enum agent_attach attach, uint32_t ncpu, uint64_t cgid,
		     struct sampler_bpf **bp, char *why, size_t whylen)
{
	struct cpu_bpf *skel = NULL;
	struct sampler_bpf *b;
	const char *step;
	char first[128];
	bool btf;
	int r;

	if (ncpu > CPU_ACCT_MAX_CPUS) {
		snprintf(why, whylen, "%u possible CPUs, more than the %u it counts",
			 ncpu, CPU_ACCT_MAX_CPUS);
		return -E2BIG;
	}
	if (access(SAMPLER_BPF_BTF, R_OK) < 0) {
		r = -errno;
		snprintf(why, whylen, "no kernel BTF at %s (%s)", SAMPLER_BPF_BTF, strerror(-r));
		return r;
	}
	libbpf_set_print(sampler_bpf_print);
	btf = attach != AGENT_ATTACH_RAW_TP;
	r = sampler_bpf_load(btf, &skel, &step);
	first[0] = '\0';
	if (r < 0 && attach == AGENT_ATTACH_AUTO) {
		snprintf(first, sizeof(first), "tp_btf/sched_switch: %s failed: %s; ",
			 step, strerror(-r));
		log_debug("%strying raw_tp", first);
		btf = false;
		r = sampler_bpf_load(btf, &skel, &step);
	}
	if (r < 0) {
		snprintf(why, whylen, "%s%s/sched_switch: %s failed: %s", first,
			 btf ? "tp_btf" : "raw_tp", step, strerror(-r));
		return r;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		cpu_bpf__destroy(skel);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	b->skel = skel;
	b->attach = btf ? "tp_btf" : "raw_tp";
	b->ncpu = ncpu;
	sampler_bpf_set_cgroup(b, cgid);	/* also gives every CPU a known state */
	*bp = b;
	return 0;
}

void sampler_bpf_close(struct sampler_bpf *b)
{
	if (!b)
		return;
	cpu_bpf__destroy(b->skel);
	free(b);
}

const char *sampler_bpf_attach_name(const struct sampler_bpf *b)
{
	return b->attach;
}

void sampler_bpf_set_cgroup(struct sampler_bpf *b, uint64_t cgid)
{
	__atomic_store_n(&b->skel->bss->target_cgid, cgid, __ATOMIC_RELEASE);
	/*
	 * A task keeps the class it got when it was switched in: make every
	 * CPU switch now so what runs there is classified against cgid.
	 */
	sampler_bpf_prime(b->ncpu);
}

/* Copies entry a between two equal even sequence numbers. */
static int sampler_bpf_snap(const struct cpu_acct *a, struct cpu_acct *out)
{
	uint32_t s1, s2;
	int i;

	for (i = 0; i < SAMPLER_BPF_RETRIES; i++) {
		s1 = __atomic_load_n(&a->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			sampler_bpf_relax();
			continue;
		}
		out->state = __atomic_load_n(&a->state, __ATOMIC_RELAXED);
		out->busy_ns = __atomic_load_n(&a->busy_ns, __ATOMIC_RELAXED);
		out->idle_ns = __atomic_load_n(&a->idle_ns, __ATOMIC_RELAXED);
		out->cg_ns = __atomic_load_n(&a->cg_ns, __ATOMIC_RELAXED);
		out->last_ts = __atomic_load_n(&a->last_ts, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&a->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return 0;
	}
	return -EAGAIN;
}

int sampler_bpf_read(struct sampler_bpf *b, int64_t now_ns, struct sampler_cpu *cpu,
		     uint32_t ncpu, uint64_t *cg_ns)
{
	const struct cpu_acct *acct = b->skel->bss->acct;
	uint64_t now = now_ns > 0 ? (uint64_t)now_ns : 0, open, cg = 0;
	struct cpu_acct e;
	uint32_t i;

	if (ncpu > b->ncpu)
		ncpu = b->ncpu;
	for (i = 0; i < ncpu; i++) {
		if (sampler_bpf_snap(&acct[i], &e) < 0)
			return -EAGAIN;
		/* close the open interval as it was classified when it began */
		open = 0;
		if (cpu[i].online && (e.state & ACCT_KNOWN) && now > e.last_ts)
			open = now - e.last_ts;
		if (e.state & ACCT_IDLE) {
			e.idle_ns += open;
		} else {
			e.busy_ns += open;
			if (e.state & ACCT_CG)
				e.cg_ns += open;
		}
		cpu[i].busy_ns = e.busy_ns;
		cpu[i].idle_ns = e.idle_ns;
		cg += e.cg_ns;
	}
	*cg_ns = cg;
	return 0;
}
