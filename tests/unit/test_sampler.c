/* test_sampler: the eBPF and /proc samplers on this machine's real CPUs and cgroups (root only) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "procfs.h"
#include "sampler.h"
#include "log.h"

#define SPIN_CPU	1

static volatile int spin_stop;
static volatile int spin_running;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fail_msg("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

/* Spins on SPIN_CPU with no sleep and no system call until told to stop. */
static void *spin_thread(void *arg)
{
	(void)arg;
	pin(SPIN_CPU);
	__atomic_store_n(&spin_running, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&spin_stop, __ATOMIC_ACQUIRE))
		;
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Opens the sampler, or skips the test when this machine cannot run it. */
static struct sampler *open_or_skip(enum agent_source src, enum agent_attach at, const char *cg)
{
	struct agent_conf c;
	struct sampler *s = NULL;
	int r;

	if (geteuid() != 0) {
		fprintf(stderr, "test_sampler: skipped: needs root for bpf()\n");
		skip();
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "test_sampler: skipped: needs two online CPUs\n");
		skip();
	}
	agent_conf_defaults(&c);
	c.source = src;
	c.attach = at;
	snprintf(c.cgroup, sizeof(c.cgroup), "%s", cg ? cg : "");
	r = sampler_open(&c, &s);
	if (src == AGENT_SOURCE_EBPF && (r == -EPERM || r == -EACCES || r == -ENOENT)) {
		fprintf(stderr, "test_sampler: skipped: bpf() refused: %s\n", strerror(-r));
		skip();
	}
	assert_int_equal(r, 0);
	return s;
}

static void reading_alloc(struct sampler *s, struct sampler_reading *r)
{
	memset(r, 0, sizeof(*r));
	r->cpu = calloc(sampler_ncpu(s), sizeof(*r->cpu));
	assert_non_null(r->cpu);
}

/* CPU SPIN_CPU's busy share while a thread spins there for ms. */
static double spin_share(struct sampler *s, long ms)
{
	struct sampler_reading a, b;
	pthread_t t;
	uint64_t busy, idle;
	double share;

	reading_alloc(s, &a);
	reading_alloc(s, &b);
	spin_stop = 0;
	spin_running = 0;
	assert_int_equal(pthread_create(&t, NULL, spin_thread, NULL), 0);
	while (!__atomic_load_n(&spin_running, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	assert_int_equal(sampler_read(s, &a), 0);
	sleep_ms(ms);
	assert_int_equal(sampler_read(s, &b), 0);
	__atomic_store_n(&spin_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_true(b.cpu[SPIN_CPU].online);
	assert_true(b.cpu[SPIN_CPU].busy_ns >= a.cpu[SPIN_CPU].busy_ns);
	assert_true(b.cpu[SPIN_CPU].idle_ns >= a.cpu[SPIN_CPU].idle_ns);
	busy = b.cpu[SPIN_CPU].busy_ns - a.cpu[SPIN_CPU].busy_ns;
	idle = b.cpu[SPIN_CPU].idle_ns - a.cpu[SPIN_CPU].idle_ns;
	share = (double)busy / (double)(busy + idle);
	fprintf(stderr, "test_sampler: cpu%d busy %.1f %% over %.3f s (busy %.3f s + idle %.3f s)\n",
		SPIN_CPU, 100 * share, (double)(b.mono_ns - a.mono_ns) / 1e9, busy / 1e9, idle / 1e9);
	/* busy + idle covers the wall time */
	assert_true(busy + idle > (uint64_t)(b.mono_ns - a.mono_ns) * 9 / 10);
	free(a.cpu);
	free(b.cpu);
	return share;
}

static void test_ebpf_tp_btf(void **state)
{
	struct sampler *s;

	(void)state;
	s = open_or_skip(AGENT_SOURCE_EBPF, AGENT_ATTACH_AUTO, NULL);
	assert_int_equal(sampler_source(s), RING_SOURCE_EBPF);
	assert_true(sampler_ncpu(s) > SPIN_CPU);
	assert_true(spin_share(s, 1500) >= 0.95);
	sampler_close(s);
}

static void test_ebpf_raw_tp(void **state)
{
	struct sampler *s;

	(void)state;
	s = open_or_skip(AGENT_SOURCE_EBPF, AGENT_ATTACH_RAW_TP, NULL);
	assert_int_equal(sampler_source(s), RING_SOURCE_EBPF);
	assert_true(spin_share(s, 1000) >= 0.95);
	sampler_close(s);
}

static void test_procfs_source(void **state)
{
	struct sampler_reading r;
	struct sampler *s;

	(void)state;
	s = open_or_skip(AGENT_SOURCE_PROCFS, AGENT_ATTACH_AUTO, NULL);
	assert_int_equal(sampler_source(s), RING_SOURCE_PROCFS);
	/* USER_HZ ticks: 10 ms granularity over 1 s */
	assert_true(spin_share(s, 1000) >= 0.93);
	reading_alloc(s, &r);
	assert_int_equal(sampler_read(s, &r), 0);
	assert_int_equal(r.ncpu, sampler_ncpu(s));
	assert_true(r.cpu[0].online);
	assert_true(r.mem_pct > 0 && r.mem_pct < 100);
	assert_true(r.cg_cpus >= 2);
	free(r.cpu);
	sampler_close(s);
}

/* What test_cgroup made, undone by its teardown even when an assertion fails. */
static pid_t cg_child[2];
static char cg_dir[512];

static int cg_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		if (cg_child[i] > 0) {
			kill(cg_child[i], SIGKILL);
			waitpid(cg_child[i], NULL, 0);
			cg_child[i] = 0;
		}
	}
	if (cg_dir[0] && rmdir(cg_dir) < 0)
		fprintf(stderr, "test_sampler: %s: %s\n", cg_dir, strerror(errno));
	cg_dir[0] = '\0';
	return 0;
}

static pid_t spinner(int cpu)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
		for (;;)
			;
	}
	return pid;
}

/* CPU time of process pid so far, in ns (the first field of /proc/PID/schedstat) */
static uint64_t run_ns(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long ns = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(sscanf(buf, "%llu", &ns), 1);
	return ns;
}

/*
 * The cgroup's CPU time over one second, as a share of what the spinner
 * inside it got (other builds may share the CPUs): 1 when the spinner
 * outside is left out, 2 if it were counted.
 */
static double cg_ratio(struct sampler *s, pid_t in, double *rate)
{
	struct sampler_reading a, b;
	uint64_t r0, r1;
	double ratio;

	reading_alloc(s, &a);
	reading_alloc(s, &b);
	r0 = run_ns(in);
	assert_int_equal(sampler_read(s, &a), 0);
	sleep_ms(1000);
	assert_int_equal(sampler_read(s, &b), 0);
	r1 = run_ns(in);
	*rate = (double)(b.cg_busy_ns - a.cg_busy_ns) / (double)(b.mono_ns - a.mono_ns);
	ratio = (double)(b.cg_busy_ns - a.cg_busy_ns) / (double)(r1 - r0);
	assert_true(b.cg_cpus > 0);
	free(a.cpu);
	free(b.cpu);
	return ratio;
}

static void test_cgroup(void **state)
{
	char mount[256], procs[600], name[64], buf[8192], pidbuf[32];
	const char *dir = cg_dir;
	struct sampler *s;
	pid_t in, out;
	double rate_bpf, rate_proc, rate_set, ratio_bpf, ratio_proc, ratio_set;
	ssize_t n;
	int fd;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_sampler: skipped: needs root to make a cgroup\n");
		skip();
	}
	fd = open("/proc/self/mountinfo", O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	if (procfs_parse_cgroup2_mount(buf, (size_t)n, mount, sizeof(mount)) < 0) {
		fprintf(stderr, "test_sampler: skipped: no cgroup v2 mount\n");
		skip();
	}
	snprintf(name, sizeof(name), "ascale-test-%d", (int)getpid());
	snprintf(cg_dir, sizeof(cg_dir), "%s/%s", mount, name);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	if (mkdir(dir, 0755) < 0) {
		cg_dir[0] = '\0';
		fail_msg("mkdir %s/%s: %s", mount, name, strerror(errno));
	}
	in = cg_child[0] = spinner(0);
	out = cg_child[1] = spinner(1);
	fd = open(procs, O_WRONLY);
	assert_true(fd >= 0);
	n = snprintf(pidbuf, sizeof(pidbuf), "%d\n", (int)in);
	assert_int_equal(write(fd, pidbuf, (size_t)n), n);
	close(fd);

	/* eBPF, the cgroup named relative to the mount */
	s = open_or_skip(AGENT_SOURCE_EBPF, AGENT_ATTACH_AUTO, name);
	ratio_bpf = cg_ratio(s, in, &rate_bpf);
	/* back to the whole machine, bad names refused, then the cgroup again while running */
	assert_int_equal(sampler_set_cgroup(s, ""), 0);
	assert_int_equal(sampler_set_cgroup(s, "no-such-cgroup-here"), -ENOENT);
	assert_int_equal(sampler_set_cgroup(s, "../etc"), -EINVAL);
	assert_int_equal(sampler_set_cgroup(s, dir), 0);
	ratio_set = cg_ratio(s, in, &rate_set);
	sampler_close(s);
	/* /proc: cpu.stat of the cgroup, named by its absolute path */
	s = open_or_skip(AGENT_SOURCE_PROCFS, AGENT_ATTACH_AUTO, dir);
	ratio_proc = cg_ratio(s, in, &rate_proc);
	sampler_close(s);

	(void)out;
	fprintf(stderr, "test_sampler: cgroup CPU-s/s: eBPF %.3f (%.3f of the spinner's), "
		"after set_cgroup %.3f (%.3f), cpu.stat %.3f (%.3f)\n", rate_bpf, ratio_bpf,
		rate_set, ratio_set, rate_proc, ratio_proc);
	/*
	 * How much CPU the spinner gets depends on what else runs here; the
	 * ratios are the measure.  The rates only show it ran, and at most on
	 * one CPU.
	 */
	assert_true(rate_bpf > 0.05 && rate_bpf < 1.1);
	assert_true(rate_proc > 0.05 && rate_proc < 1.1);
	assert_true(ratio_bpf > 0.95 && ratio_bpf < 1.05);
	assert_true(ratio_set > 0.95 && ratio_set < 1.05);
	assert_true(ratio_proc > 0.95 && ratio_proc < 1.05);
}

/* The value of a "Key:\tHEX" line of /proc/self/status. */
static unsigned long long status_hex(const char *key)
{
	char line[256];
	unsigned long long v = ~0ULL;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 16);
	fclose(f);
	return v;
}

/* In a child, since it cannot be undone: drop every capability and keep reading the counters. */
static void test_caps_drop(void **state)
{
	struct sampler *s;
	gid_t groups[64];
	int status, n, i, found = 0;
	pid_t pid;

	(void)state;
	s = open_or_skip(AGENT_SOURCE_EBPF, AGENT_ATTACH_AUTO, NULL);
	sampler_close(s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		s = open_or_skip(AGENT_SOURCE_EBPF, AGENT_ATTACH_AUTO, NULL);
		if (caps_drop_all(4242) < 0)
			_exit(10);
		if (status_hex("CapEff") || status_hex("CapPrm") || status_hex("CapInh") ||
		    status_hex("CapBnd") || status_hex("CapAmb"))
			_exit(11);
		n = getgroups(64, groups);
		for (i = 0; i < n; i++)
			found |= groups[i] == 4242;
		if (!found)
			_exit(12);
		/* the mapped .bss needs no capability */
		if (spin_share(s, 500) < 0.95)
			_exit(13);
		sampler_close(s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ebpf_tp_btf),
		cmocka_unit_test(test_ebpf_raw_tp),
		cmocka_unit_test(test_procfs_source),
		cmocka_unit_test_teardown(test_cgroup, cg_teardown),
		cmocka_unit_test(test_caps_drop),
	};

	log_init("test_sampler", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
