/* cpu.bpf: per-CPU busy, idle and cgroup time from sched_switch, read by user space through .bss */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "cpu_acct.h"

#define CG_DEPTH_MAX	32	/* cgroup levels walked up from a task's cgroup */

struct cpu_acct acct[CPU_ACCT_MAX_CPUS];
/* kernfs id (cgroup directory inode) of the measured cgroup; 0: none.  User space sets it. */
volatile __u64 target_cgid;

char LICENSE[] SEC("license") = "GPL";

/*
 * tp_btf programs get typed pointers and load fields directly (no helper
 * call: this runs at every context switch); raw_tp programs read through
 * bpf_probe_read_kernel.  direct is a constant in each program, so the
 * other branch is compiled out.
 */

/* Whether task t runs in cgroup cgid or one of its descendants. */
static __always_inline bool task_in_cgroup(struct task_struct *t, u64 cgid, bool direct)
{
	struct cgroup *cg;
	int i;

	cg = direct ? t->cgroups->dfl_cgrp : BPF_CORE_READ(t, cgroups, dfl_cgrp);
	for (i = 0; i < CG_DEPTH_MAX && cg; i++) {
		if ((direct ? cg->kn->id : BPF_CORE_READ(cg, kn, id)) == cgid)
			return true;
		/* the parent's own css points back at the parent cgroup */
		cg = direct ? cg->self.parent ? cg->self.parent->cgroup : 0
			    : BPF_CORE_READ(cg, self.parent, cgroup);
	}
	return false;
}

/* ACCT_* class of task t (always ACCT_KNOWN). */
static __always_inline u32 task_class(struct task_struct *t, u64 cgid, bool direct)
{
	if ((direct ? t->pid : BPF_CORE_READ(t, pid)) == 0)
		return ACCT_KNOWN | ACCT_IDLE;
	if (cgid && task_in_cgroup(t, cgid, direct))
		return ACCT_KNOWN | ACCT_CG;
	return ACCT_KNOWN;
}

static __always_inline void acct_switch(struct task_struct *prev, struct task_struct *next,
					 bool direct)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct cpu_acct *a;
	u64 now, delta, cgid;
	u32 state, was, rec;

	if (cpu >= CPU_ACCT_MAX_CPUS)
		return;
	a = &acct[cpu];
	cgid = target_cgid;
	state = task_class(next, cgid, direct);

	was = rec = a->state;
	/*
	 * The interval is charged per the class recorded when it began.  When
	 * the task leaving is not the one recorded (a switch the tracepoint did
	 * not report; seen on some kernels), the recorded class is wrong:
	 * classify the task that really ran instead.
	 */
	if ((was & ACCT_KNOWN) && a->task != (u64)prev)
		was = task_class(prev, cgid, direct);

	/*
	 * A switch within one class (busy to busy, the common case under load)
	 * neither ends the open interval nor changes what it is charged to: the
	 * interval goes on and only the task is noted, which the reader does not
	 * read, so no seq either.  This skips the clock read, most of this
	 * program's cost (~40 of ~50 ns).  state always has ACCT_KNOWN, so an
	 * unknown entry is never skipped.
	 */
	if (was == state && rec == state) {
		a->task = (u64)next;
		return;
	}
	now = bpf_ktime_get_ns();

	a->seq++;
	barrier();
	if ((was & ACCT_KNOWN) && now > a->last_ts) {
		delta = now - a->last_ts;
		if (was & ACCT_IDLE) {
			a->idle_ns += delta;
		} else {
			a->busy_ns += delta;
			if (was & ACCT_CG)
				a->cg_ns += delta;
		}
	}
	a->last_ts = now;
	a->state = state;
	a->task = (u64)next;
	barrier();
	a->seq++;
}

/*
 * The idle loop is entered: the CPU runs its idle task.  Normally the
 * switch to it was just accounted and this returns at once; when that
 * switch went unreported (seen on this kernel: a task leaves with no
 * sched_switch), the CPU would read busy until its next switch, which for
 * an idle CPU may be seconds away.  Close the interval here instead.
 */
static __always_inline void acct_idle_enter(u32 state)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct cpu_acct *a;
	u64 now, idle;

	if (state == (u32)-1 || cpu >= CPU_ACCT_MAX_CPUS)	/* PWR_EVENT_EXIT */
		return;
	a = &acct[cpu];
	if ((a->state & (ACCT_KNOWN | ACCT_IDLE)) != ACCT_KNOWN)
		return;
	idle = bpf_get_current_task();
	if (a->task == idle)
		return;
	now = bpf_ktime_get_ns();
	a->seq++;
	barrier();
	if (now > a->last_ts) {
		a->busy_ns += now - a->last_ts;
		if (a->state & ACCT_CG)
			a->cg_ns += now - a->last_ts;
	}
	a->last_ts = now;
	a->state = ACCT_KNOWN | ACCT_IDLE;
	a->task = idle;
	barrier();
	a->seq++;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cpu_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	acct_switch(prev, next, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(cpu_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	acct_switch(prev, next, false);
	return 0;
}

SEC("tp_btf/cpu_idle")
int BPF_PROG(cpu_idle_btf, unsigned int state, unsigned int cpu_id)
{
	acct_idle_enter(state);
	return 0;
}

SEC("raw_tp/cpu_idle")
int BPF_PROG(cpu_idle_raw, unsigned int state, unsigned int cpu_id)
{
	acct_idle_enter(state);
	return 0;
}
