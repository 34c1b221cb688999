/* sampler: per-CPU busy and idle time from eBPF or /proc/stat, steal, memory and the measured cgroup */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "procfs.h"
#include "sampler_int.h"
#include "timeutil.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif

#define SAMPLER_STAT_MAX	(16u << 20)	/* /proc/stat of a very big machine */
#define SAMPLER_FILE_MAX	(256u << 10)	/* meminfo, mountinfo and cgroup files */
#define SAMPLER_POSSIBLE	"/sys/devices/system/cpu/possible"
/*
 * With eBPF, /proc/stat (steal, online CPUs) and memory are read at most this
 * often: reading them costs more than everything else in a sample, and they
 * move slowly.  Steal is then the share of the last such period.
 */
#define SAMPLER_SLOW_NS		NSEC_PER_SEC

/* The measured cgroup: its directory and the files read at every sample. */
struct sampler_cg {
	char path[PATH_MAX];
	uint64_t id;		/* directory inode = kernfs id, what the BPF program compares */
	int dir_fd;
	int stat_fd;		/* cpu.stat: always there in cgroup v2 */
	int max_fd;		/* cpu.max, or -1 (root, or no cpu controller) */
	int cpuset_fd;		/* cpuset.cpus.effective, or -1 */
	int mem_cur_fd;		/* memory.current, or -1 (no memory controller) */
	int mem_max_fd;		/* memory.max, or -1 */
};

struct sampler {
	enum ring_source source;
	uint32_t ncpu;
	long hz;
	struct sampler_bpf *bpf;
	int stat_fd;
	int meminfo_fd;
	char *buf;		/* one buffer for every file, grown for /proc/stat */
	size_t cap;
	struct procfs_cpu *pcpu;
	char mount[PATH_MAX];	/* the cgroup v2 mount, found on first use */
	struct sampler_cg cg;	/* cg.path[0] == '\0': the whole machine */
	int64_t slow_mono_ns;	/* when /proc/stat and memory were last read */
	uint64_t steal_ns;	/* /proc/stat totals at that read */
	uint64_t total_ns;
	double steal_pct;
	double mem_pct;
};

static void sampler_cg_init(struct sampler_cg *cg)
{
	memset(cg, 0, sizeof(*cg));
	cg->dir_fd = cg->stat_fd = cg->max_fd = cg->cpuset_fd = -1;
	cg->mem_cur_fd = cg->mem_max_fd = -1;
}

static void sampler_cg_free(struct sampler_cg *cg)
{
	int *fds[] = { &cg->dir_fd, &cg->stat_fd, &cg->max_fd, &cg->cpuset_fd,
		       &cg->mem_cur_fd, &cg->mem_max_fd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	sampler_cg_init(cg);
}

/* Reads fd whole into s->buf; returns the length or -errno. */
static long sampler_file(struct sampler *s, int fd, size_t max)
{
	return procfs_read(fd, &s->buf, &s->cap, max);
}

/* Reads a small file by path (not kept open) into s->buf. */
static long sampler_file_path(struct sampler *s, const char *path)
{
	long n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = sampler_file(s, fd, SAMPLER_FILE_MAX);
	close(fd);
	return n;
}

/* Possible CPUs: the highest number in /sys/devices/system/cpu/possible, plus one. */
static int sampler_possible(struct sampler *s)
{
	uint32_t count;
	int32_t high;
	long n;
	int r;

	n = sampler_file_path(s, SAMPLER_POSSIBLE);
	if (n >= 0 && procfs_parse_cpulist(s->buf, (size_t)n, &count, &high) == 0 && high >= 0) {
		s->ncpu = (uint32_t)high + 1;
		return 0;
	}
	r = libbpf_num_possible_cpus();
	if (r <= 0 || r > PROCFS_CPU_LIMIT) {
		log_err("%s: cannot tell how many CPUs there may be", SAMPLER_POSSIBLE);
		return r < 0 ? r : -EINVAL;
	}
	s->ncpu = (uint32_t)r;
	return 0;
}

static int sampler_mount(struct sampler *s)
{
	long n;
	int r;

	if (s->mount[0])
		return 0;
	n = sampler_file_path(s, "/proc/self/mountinfo");
	if (n < 0)
		return (int)n;
	r = procfs_parse_cgroup2_mount(s->buf, (size_t)n, s->mount, sizeof(s->mount));
	if (r < 0)
		s->mount[0] = '\0';
	return r;
}

/* Whether path has a ".." component, which could leave the cgroup tree. */
static bool sampler_dotdot(const char *path)
{
	const char *p = path;

	while ((p = strstr(p, "..")) != NULL) {
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
		p += 2;
	}
	return false;
}

/*
 * Resolves name (an absolute path under the cgroup v2 mount, or a cgroup
 * path such as "system.slice/x.service" or "/system.slice/x.service",
 * taken relative to the mount) and opens its files.  Does not log.
 */
static int sampler_cg_open(struct sampler *s, const char *name, struct sampler_cg *cg)
{
	size_t ml;
	struct statfs sfs;
	struct stat st;
	int r, n;

	sampler_cg_init(cg);
	r = sampler_mount(s);
	if (r < 0)
		return r;
	if (sampler_dotdot(name))
		return -EINVAL;
	ml = strlen(s->mount);
	if (name[0] == '/' && strncmp(name, s->mount, ml) == 0 &&
	    (name[ml] == '/' || name[ml] == '\0'))
		n = snprintf(cg->path, sizeof(cg->path), "%s", name);
	else
		n = snprintf(cg->path, sizeof(cg->path), "%s%s%s", s->mount,
			     name[0] == '/' ? "" : "/", name);
	if (n < 0 || (size_t)n >= sizeof(cg->path))
		return -ENAMETOOLONG;
	while (n > 1 && cg->path[n - 1] == '/')
		cg->path[--n] = '\0';
	cg->dir_fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dir_fd < 0)
		return -errno;
	if (fstatfs(cg->dir_fd, &sfs) < 0 || fstat(cg->dir_fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		r = -ENOTDIR;
		goto fail;
	}
	cg->id = (uint64_t)st.st_ino;
	cg->stat_fd = openat(cg->dir_fd, "cpu.stat", O_RDONLY | O_CLOEXEC);
	if (cg->stat_fd < 0) {
		r = -errno;
		goto fail;
	}
	cg->max_fd = openat(cg->dir_fd, "cpu.max", O_RDONLY | O_CLOEXEC);
	cg->cpuset_fd = openat(cg->dir_fd, "cpuset.cpus.effective", O_RDONLY | O_CLOEXEC);
	cg->mem_cur_fd = openat(cg->dir_fd, "memory.current", O_RDONLY | O_CLOEXEC);
	cg->mem_max_fd = openat(cg->dir_fd, "memory.max", O_RDONLY | O_CLOEXEC);
	if (cg->mem_cur_fd < 0)
		log_warn("%s: no memory.current (memory controller not enabled here); "
			 "memory is the machine's, from /proc/meminfo", cg->path);
	return 0;
fail:
	sampler_cg_free(cg);
	return r;
}

/* Replaces the measured cgroup by name ("" : the whole machine); keeps the old one on error. */
static int sampler_cg_switch(struct sampler *s, const char *name)
{
	struct sampler_cg cg;
	int r;

	if (!name || strlen(name) >= PATH_MAX)
		return -EINVAL;
	if (name[0]) {
		r = sampler_cg_open(s, name, &cg);
		if (r < 0)
			return r;
	} else {
		sampler_cg_init(&cg);
	}
	sampler_cg_free(&s->cg);
	s->cg = cg;
	if (s->bpf)
		sampler_bpf_set_cgroup(s->bpf, s->cg.id);
	return 0;
}

static int sampler_open_proc(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int sampler_read_stat(struct sampler *s)
{
	long n;

	n = sampler_file(s, s->stat_fd, SAMPLER_STAT_MAX);
	if (n < 0)
		return (int)n;
	return procfs_parse_stat(s->buf, (size_t)n, s->hz, s->pcpu, s->ncpu) < 0 ? -EINVAL : 0;
}

int sampler_open(const struct agent_conf *conf, struct sampler **sp)
{
	char why[256];
	struct sampler *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->stat_fd = s->meminfo_fd = -1;
	sampler_cg_init(&s->cg);
	s->hz = sysconf(_SC_CLK_TCK);
	if (s->hz <= 0)
		s->hz = 100;
	r = sampler_possible(s);
	if (r < 0)
		goto fail;
	s->pcpu = calloc(s->ncpu, sizeof(*s->pcpu));
	if (!s->pcpu) {
		r = -ENOMEM;
		goto fail;
	}
	r = sampler_open_proc("/proc/stat", &s->stat_fd);
	if (r == 0)
		r = sampler_open_proc("/proc/meminfo", &s->meminfo_fd);
	if (r < 0)
		goto fail;
	r = sampler_read_stat(s);
	if (r < 0) {
		log_err("/proc/stat: cannot read the per-CPU lines: %s", strerror(-r));
		goto fail;
	}
	if (conf->cgroup[0]) {
		r = sampler_cg_switch(s, conf->cgroup);
		if (r < 0) {
			log_err("cgroup '%s': %s", conf->cgroup, strerror(-r));
			goto fail;
		}
	}
	s->source = RING_SOURCE_PROCFS;
	if (conf->source != AGENT_SOURCE_PROCFS) {
		r = sampler_bpf_open(conf->attach, s->ncpu, s->cg.id, &s->bpf, why,
				     sizeof(why));
		if (r < 0 && conf->source == AGENT_SOURCE_EBPF) {
			log_err("eBPF sampler: %s", why);
			goto fail;
		}
		if (r < 0) {
			log_warn("eBPF sampler unavailable (%s); falling back to /proc/stat", why);
		} else {
			s->source = RING_SOURCE_EBPF;
			log_info("eBPF sampler attached to %s/sched_switch",
				 sampler_bpf_attach_name(s->bpf));
		}
	}
	*sp = s;
	return 0;
fail:
	sampler_close(s);
	return r;
}

void sampler_close(struct sampler *s)
{
	if (!s)
		return;
	sampler_bpf_close(s->bpf);
	sampler_cg_free(&s->cg);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	if (s->meminfo_fd >= 0)
		close(s->meminfo_fd);
	free(s->pcpu);
	free(s->buf);
	free(s);
}

enum ring_source sampler_source(const struct sampler *s)
{
	return s->source;
}

uint32_t sampler_ncpu(const struct sampler *s)
{
	return s->ncpu;
}

int sampler_set_cgroup(struct sampler *s, const char *cgroup)
{
	return sampler_cg_switch(s, cgroup);
}

/* CPUs the cgroup may use: the least of its cpuset, its cpu.max quota and the online CPUs. */
static double sampler_cg_cpus(struct sampler *s, uint32_t online)
{
	double cpus = online, q;
	uint32_t count;
	int32_t high;
	long n;

	if (s->cg.cpuset_fd >= 0) {
		n = sampler_file(s, s->cg.cpuset_fd, SAMPLER_FILE_MAX);
		if (n >= 0 && procfs_parse_cpulist(s->buf, (size_t)n, &count, &high) == 0 &&
		    count > 0 && count < cpus)
			cpus = count;
	}
	if (s->cg.max_fd >= 0) {
		n = sampler_file(s, s->cg.max_fd, SAMPLER_FILE_MAX);
		if (n >= 0 && procfs_parse_cpu_max(s->buf, (size_t)n, &q) == 0 && q > 0 && q < cpus)
			cpus = q;
	}
	return cpus > 0 ? cpus : 1;
}

/*
 * Memory in use, percent: (MemTotal - MemAvailable) / MemTotal, or in a
 * cgroup with the memory controller memory.current / memory.max (MemTotal
 * when memory.max is "max").  NaN when unknown.
 */
static double sampler_mem(struct sampler *s)
{
	uint64_t total, avail, cur, lim;
	long n;

	n = sampler_file(s, s->meminfo_fd, SAMPLER_FILE_MAX);
	if (n < 0 || procfs_parse_meminfo(s->buf, (size_t)n, &total, &avail) < 0)
		return NAN;
	if (s->cg.mem_cur_fd < 0)
		return avail >= total ? 0.0 : 100.0 * (double)(total - avail) / (double)total;
	n = sampler_file(s, s->cg.mem_cur_fd, SAMPLER_FILE_MAX);
	if (n < 0 || procfs_parse_u64(s->buf, (size_t)n, &cur) < 0)
		return NAN;
	lim = total;
	if (s->cg.mem_max_fd >= 0) {
		n = sampler_file(s, s->cg.mem_max_fd, SAMPLER_FILE_MAX);
		if (n >= 0 && procfs_parse_u64(s->buf, (size_t)n, &lim) < 0)
			lim = total;	/* "max" */
		if (lim > total || lim == 0)
			lim = total;
	}
	return cur >= lim ? 100.0 : 100.0 * (double)cur / (double)lim;
}

/* Reads /proc/stat and memory, and the steal share since the last such read. */
static int sampler_read_slow(struct sampler *s, int64_t now)
{
	uint64_t steal = 0, total = 0;
	uint32_t i;
	int e;

	e = sampler_read_stat(s);
	if (e < 0)
		return e;
	for (i = 0; i < s->ncpu; i++) {
		if (!s->pcpu[i].online)
			continue;
		steal += s->pcpu[i].steal_ns;
		total += s->pcpu[i].busy_ns + s->pcpu[i].idle_ns;
	}
	s->steal_pct = NAN;
	if (s->slow_mono_ns && total > s->total_ns && steal >= s->steal_ns)
		s->steal_pct = fmin(100.0, 100.0 * (double)(steal - s->steal_ns) /
					    (double)(total - s->total_ns));
	s->steal_ns = steal;
	s->total_ns = total;
	s->mem_pct = sampler_mem(s);
	s->slow_mono_ns = now;
	return 0;
}

int sampler_read(struct sampler *s, struct sampler_reading *r)
{
	int64_t now = time_mono_ns();
	uint64_t cg_ns = 0;
	uint32_t i, online = 0;
	long n;
	int e;

	if (!r->cpu)
		return -EINVAL;
	if (!s->bpf || !s->slow_mono_ns || now - s->slow_mono_ns >= SAMPLER_SLOW_NS) {
		e = sampler_read_slow(s, now);
		if (e < 0)
			return e;
	}
	r->mono_ns = time_mono_ns();
	r->ncpu = s->ncpu;
	for (i = 0; i < s->ncpu; i++) {
		const struct procfs_cpu *p = &s->pcpu[i];

		r->cpu[i].online = p->online;
		r->cpu[i].busy_ns = p->busy_ns;
		r->cpu[i].idle_ns = p->idle_ns;
		online += p->online;
	}
	if (s->bpf) {
		e = sampler_bpf_read(s->bpf, r->mono_ns, r->cpu, s->ncpu, &cg_ns);
		if (e < 0)
			return e;
	} else if (s->cg.stat_fd >= 0) {
		n = sampler_file(s, s->cg.stat_fd, SAMPLER_FILE_MAX);
		if (n < 0)
			return (int)n;
		if (procfs_parse_cpu_stat(s->buf, (size_t)n, &cg_ns) < 0)
			return -EINVAL;
	}
	r->cg_busy_ns = s->cg.path[0] ? cg_ns : 0;
	r->cg_cpus = s->cg.path[0] ? sampler_cg_cpus(s, online) : (double)(online ? online : 1);
	r->steal_pct = s->steal_pct;
	r->mem_pct = s->mem_pct;
	return 0;
}
