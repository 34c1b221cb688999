/* procfs: parsers for /proc and cgroup files, taking a buffer so they are tested on recorded text */
#ifndef ASCALE_AGENT_PROCFS_H
#define ASCALE_AGENT_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROCFS_CPU_LIMIT	65536	/* CPU numbers at or above this are refused as absurd */

/*
 * One CPU's line of /proc/stat, converted from USER_HZ ticks to ns:
 *   busy  = user + nice + system + irq + softirq + steal
 *   idle  = idle + iowait
 *   steal = steal
 * (guest and guest_nice are already inside user and nice, so are not added.)
 * The agent's eBPF figures are tested against this definition.
 */
struct procfs_cpu {
	bool online;		/* a "cpuN" line was present */
	uint64_t busy_ns;
	uint64_t idle_ns;
	uint64_t steal_ns;
};

/*
 * Parses the "cpuN" lines of /proc/stat into cpu[0..ncpu); CPUs without a
 * line get online = false.  hz is the tick rate (sysconf(_SC_CLK_TCK)).
 * Returns the number of CPU lines, or -EINVAL for a malformed line, a
 * duplicate or out-of-range CPU, fewer than 8 fields, a number that does
 * not fit, or no CPU line at all.
 */
int procfs_parse_stat(const char *buf, size_t len, long hz, struct procfs_cpu *cpu, uint32_t ncpu);

/* MemTotal and MemAvailable of /proc/meminfo, in bytes.  0 or -EINVAL. */
int procfs_parse_meminfo(const char *buf, size_t len, uint64_t *total, uint64_t *avail);

/* usage_usec of a cgroup v2 cpu.stat, in ns.  0 or -EINVAL. */
int procfs_parse_cpu_stat(const char *buf, size_t len, uint64_t *usage_ns);

/*
 * A cgroup v2 cpu.max ("max 100000" or "QUOTA PERIOD", microseconds).  Sets
 * *cpus to quota / period, or 0 for no limit ("max").  0 or -EINVAL.
 */
int procfs_parse_cpu_max(const char *buf, size_t len, double *cpus);

/* A single decimal number on one line (memory.current); 0 or -EINVAL. */
int procfs_parse_u64(const char *buf, size_t len, uint64_t *v);

/*
 * A CPU list such as "0-3,8,10-11" (ascending, as the kernel writes it).
 * Sets *count to the CPUs listed and *highest to the largest (or -1 when
 * the list is empty).  CPU numbers must stay below PROCFS_CPU_LIMIT.
 * 0 or -EINVAL.
 */
int procfs_parse_cpulist(const char *buf, size_t len, uint32_t *count, int32_t *highest);

/*
 * The mount point of the cgroup v2 hierarchy in /proc/self/mountinfo text,
 * with the \ooo escapes undone.  0, -ENOENT when there is none, -EINVAL
 * for a malformed line or -ENAMETOOLONG.
 */
int procfs_parse_cgroup2_mount(const char *buf, size_t len, char *path, size_t size);

/*
 * Reads a whole file from offset 0 in one pread into *buf (NUL-terminated),
 * growing the buffer up to max bytes when the file does not fit.  *buf may
 * start NULL.  Returns the length or -errno (-EFBIG past max).
 */
long procfs_read(int fd, char **buf, size_t *cap, size_t max);

#endif
