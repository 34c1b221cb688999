/* cpu_acct: the per-CPU counters bpf/cpu.bpf.c keeps and the agent reads through the mapped .bss */
#ifndef ASCALE_CPU_ACCT_H
#define ASCALE_CPU_ACCT_H

/* the agent falls back to /proc when more CPUs are possible */
#define CPU_ACCT_MAX_CPUS	1024

/* cpu_acct.state: the class of what has been running on the CPU since last_ts */
#define ACCT_KNOWN	0x1	/* a switch has been seen since attach */
#define ACCT_IDLE	0x2	/* the idle task (pid 0) */
#define ACCT_CG		0x4	/* a task inside the target cgroup */

/*
 * Written only by its own CPU, under sched_switch (preemption off).  seq is
 * odd while an update is in progress; a reader copies the entry between two
 * equal even values of seq.  The 64-byte alignment keeps CPUs off each
 * other's cache lines.  Types are the kernel's __u32/__u64, which both sides
 * have (vmlinux_min.h in the program, <linux/types.h> in user space).
 */
struct cpu_acct {
	__u32 seq;
	__u32 state;
	__u64 busy_ns;
	__u64 idle_ns;
	__u64 cg_ns;
	__u64 last_ts;	/* the last switch that changed the class (state) */
	__u64 task;	/* the task_struct switched in last (at or after last_ts), as a number */
} __attribute__((aligned(64)));

#endif
