/* test_procfs: the /proc and cgroup file parsers on recorded good and bad inputs */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"

#define SEC	1000000000ULL
#define TICK	(SEC / 100)

/* Recorded inputs live in tests/data/procfs (run from the top folder) or $ASCALE_TEST_DATA. */
static char *load(const char *name, size_t *len)
{
	const char *dir = getenv("ASCALE_TEST_DATA");
	char path[512];
	char *buf = malloc(1 << 20);
	ssize_t n;
	int fd;

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data/procfs", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	n = read(fd, buf, (1 << 20) - 1);
	close(fd);
	assert_true(n >= 0);
	*len = (size_t)n;
	/* no NUL: the parsers must respect len; copy to an exact-size block for ASan */
	return realloc(buf, n ? (size_t)n : 1);
}

static void test_stat_real(void **state)
{
	struct procfs_cpu cpu[4];
	size_t len;
	char *buf = load("stat.real", &len);

	(void)state;
	assert_int_equal(procfs_parse_stat(buf, len, 100, cpu, 4), 2);
	assert_true(cpu[0].online);
	assert_int_equal(cpu[0].busy_ns, 1983 * TICK);
	assert_int_equal(cpu[0].idle_ns, 79560 * TICK);
	assert_int_equal(cpu[0].steal_ns, 185 * TICK);
	assert_true(cpu[1].online);
	assert_int_equal(cpu[1].busy_ns, 3362 * TICK);
	assert_int_equal(cpu[1].idle_ns, 78154 * TICK);
	assert_int_equal(cpu[1].steal_ns, 187 * TICK);
	assert_false(cpu[2].online);
	assert_false(cpu[3].online);
	/* the same text with too small an array: CPU 1 is out of range */
	assert_int_equal(procfs_parse_stat(buf, len, 100, cpu, 1), -EINVAL);
	/* another tick rate: exact conversion */
	assert_int_equal(procfs_parse_stat(buf, len, 1000, cpu, 4), 2);
	assert_int_equal(cpu[0].busy_ns, 1983 * (SEC / 1000));
	free(buf);
}

static void test_stat_64cpu(void **state)
{
	struct procfs_cpu cpu[64];
	size_t len;
	char *buf = load("stat.64cpu", &len);
	int i, online = 0;

	(void)state;
	assert_int_equal(procfs_parse_stat(buf, len, 100, cpu, 64), 63);
	for (i = 0; i < 64; i++)
		online += cpu[i].online;
	assert_int_equal(online, 63);
	assert_false(cpu[40].online);
	assert_int_equal(cpu[39].busy_ns, 1670 * TICK);
	assert_int_equal(cpu[39].idle_ns, 100429 * TICK);
	assert_int_equal(cpu[39].steal_ns, 4 * TICK);
	assert_int_equal(cpu[63].busy_ns, 1765 * TICK);
	assert_int_equal(cpu[63].idle_ns, 100693 * TICK);
	assert_int_equal(cpu[63].steal_ns, 3 * TICK);
	assert_int_equal(cpu[0].busy_ns, 1510 * TICK);
	assert_int_equal(procfs_parse_stat(buf, len, 100, cpu, 63), -EINVAL);
	free(buf);
}

static void test_stat_bad(void **state)
{
	static const char *const files[] = {
		"bad.stat.truncated", "bad.stat.fewfields", "bad.stat.huge",
		"bad.stat.absurdcpu", "bad.stat.duplicate", "bad.stat.garbage",
		"bad.stat.nonewline", "cpu.stat", "meminfo.real", "cpulist.empty",
	};
	struct procfs_cpu cpu[8];
	size_t i, len;
	char *buf;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		buf = load(files[i], &len);
		if (procfs_parse_stat(buf, len, 100, cpu, 8) != -EINVAL)
			fail_msg("%s: accepted", files[i]);
		free(buf);
	}
	assert_int_equal(procfs_parse_stat("", 0, 100, cpu, 8), -EINVAL);
	assert_int_equal(procfs_parse_stat("cpu0 1 2 3 4 5 6 7 8\n", 21, 0, cpu, 8), -EINVAL);
	/* fits in 64 bits as ticks, not as ns */
	buf = strdup("cpu0 184467440737095516 0 0 0 0 0 0 0\n");
	assert_int_equal(procfs_parse_stat(buf, strlen(buf), 100, cpu, 8), -EINVAL);
	free(buf);
	/* busy fields that overflow only when added */
	buf = strdup("cpu0 18446744073709551615 1 0 0 0 0 0 0\n");
	assert_int_equal(procfs_parse_stat(buf, strlen(buf), 100, cpu, 8), -EINVAL);
	free(buf);
	/* an 8-field line of an old kernel is enough */
	buf = strdup("cpu3 1 2 3 4 5 6 7 8\n");
	assert_int_equal(procfs_parse_stat(buf, strlen(buf), 100, cpu, 8), 1);
	assert_int_equal(cpu[3].busy_ns, (1 + 2 + 3 + 6 + 7 + 8) * TICK);
	assert_int_equal(cpu[3].idle_ns, 9 * TICK);
	free(buf);
}

static void test_meminfo(void **state)
{
	uint64_t total, avail;
	size_t len;
	char *buf = load("meminfo.real", &len);

	(void)state;
	assert_int_equal(procfs_parse_meminfo(buf, len, &total, &avail), 0);
	assert_int_equal(total, 24683664ULL * 1024);
	assert_int_equal(avail, 24338468ULL * 1024);
	free(buf);
	buf = load("bad.meminfo.noavail", &len);
	assert_int_equal(procfs_parse_meminfo(buf, len, &total, &avail), -EINVAL);
	free(buf);
	buf = load("bad.meminfo.huge", &len);
	assert_int_equal(procfs_parse_meminfo(buf, len, &total, &avail), -EINVAL);
	free(buf);
	/* cut inside the MemAvailable value: its unit is missing */
	buf = strdup("MemTotal:  100 kB\nMemAvailable:  5");
	assert_int_equal(procfs_parse_meminfo(buf, strlen(buf), &total, &avail), -EINVAL);
	free(buf);
	buf = strdup("MemTotal:  0 kB\nMemAvailable:  0 kB\n");
	assert_int_equal(procfs_parse_meminfo(buf, strlen(buf), &total, &avail), -EINVAL);
	free(buf);
}

static void test_cpu_stat(void **state)
{
	uint64_t ns;
	size_t len;
	char *buf = load("cpu.stat", &len);

	(void)state;
	assert_int_equal(procfs_parse_cpu_stat(buf, len, &ns), 0);
	assert_int_equal(ns, 49759195ULL * 1000);
	free(buf);
	buf = load("bad.cpu.stat.nousage", &len);
	assert_int_equal(procfs_parse_cpu_stat(buf, len, &ns), -EINVAL);
	free(buf);
	buf = load("bad.cpu.stat.huge", &len);
	assert_int_equal(procfs_parse_cpu_stat(buf, len, &ns), -EINVAL);
	free(buf);
	assert_int_equal(procfs_parse_cpu_stat("usage_usec 12x\n", 15, &ns), -EINVAL);
	assert_int_equal(procfs_parse_cpu_stat("usage_usec \n", 12, &ns), -EINVAL);
}

static void test_cpu_max(void **state)
{
	static const char *const bad[] = {
		"bad.cpu.max.noperiod", "bad.cpu.max.zeroperiod", "bad.cpu.max.garbage",
		"cpu.stat", "cpulist.empty",
	};
	double cpus = -1;
	size_t i, len;
	char *buf;

	(void)state;
	buf = load("cpu.max.max", &len);
	assert_int_equal(procfs_parse_cpu_max(buf, len, &cpus), 0);
	assert_true(cpus == 0.0);
	free(buf);
	buf = load("cpu.max.1.5", &len);
	assert_int_equal(procfs_parse_cpu_max(buf, len, &cpus), 0);
	assert_true(cpus == 1.5);
	free(buf);
	buf = load("cpu.max.0.5", &len);
	assert_int_equal(procfs_parse_cpu_max(buf, len, &cpus), 0);
	assert_true(cpus == 0.5);
	free(buf);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf = load(bad[i], &len);
		if (procfs_parse_cpu_max(buf, len, &cpus) != -EINVAL)
			fail_msg("%s: accepted", bad[i]);
		free(buf);
	}
	assert_int_equal(procfs_parse_cpu_max("99999999999999999999 100000\n", 28, &cpus), -EINVAL);
}

static void test_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(procfs_parse_u64("123456789\n", 10, &v), 0);
	assert_int_equal(v, 123456789);
	assert_int_equal(procfs_parse_u64("18446744073709551615", 20, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(procfs_parse_u64("18446744073709551616", 20, &v), -EINVAL);
	assert_int_equal(procfs_parse_u64("max\n", 4, &v), -EINVAL);
	assert_int_equal(procfs_parse_u64("12\n3", 4, &v), -EINVAL);
	assert_int_equal(procfs_parse_u64("", 0, &v), -EINVAL);
}

static void test_cpulist(void **state)
{
	static const char *const bad[] = {
		"bad.cpulist.reversed", "bad.cpulist.unordered", "bad.cpulist.absurd",
		"bad.cpulist.garbage", "cpu.stat",
	};
	uint32_t count;
	int32_t high;
	size_t i, len;
	char *buf;

	(void)state;
	buf = load("cpulist.mixed", &len);
	assert_int_equal(procfs_parse_cpulist(buf, len, &count, &high), 0);
	assert_int_equal(count, 7);
	assert_int_equal(high, 11);
	free(buf);
	buf = load("cpulist.possible", &len);
	assert_int_equal(procfs_parse_cpulist(buf, len, &count, &high), 0);
	assert_int_equal(count, 2);
	assert_int_equal(high, 1);
	free(buf);
	buf = load("cpulist.empty", &len);
	assert_int_equal(procfs_parse_cpulist(buf, len, &count, &high), 0);
	assert_int_equal(count, 0);
	assert_int_equal(high, -1);
	free(buf);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf = load(bad[i], &len);
		if (procfs_parse_cpulist(buf, len, &count, &high) != -EINVAL)
			fail_msg("%s: accepted", bad[i]);
		free(buf);
	}
	assert_int_equal(procfs_parse_cpulist("0-", 2, &count, &high), -EINVAL);
	assert_int_equal(procfs_parse_cpulist("1,", 2, &count, &high), -EINVAL);
	assert_int_equal(procfs_parse_cpulist("65535", 5, &count, &high), 0);
	assert_int_equal(procfs_parse_cpulist("65536", 5, &count, &high), -EINVAL);
	assert_int_equal(procfs_parse_cpulist("0-65535\n", 8, &count, &high), 0);
	assert_int_equal(count, 65536);
}

static void test_mountinfo(void **state)
{
	char path[64];
	size_t len;
	char *buf;

	(void)state;
	buf = load("mountinfo.hybrid", &len);
	assert_int_equal(procfs_parse_cgroup2_mount(buf, len, path, sizeof(path)), 0);
	assert_string_equal(path, "/sys/fs/cgroup/unified");
	free(buf);
	buf = load("mountinfo.unified", &len);
	assert_int_equal(procfs_parse_cgroup2_mount(buf, len, path, sizeof(path)), 0);
	assert_string_equal(path, "/sys/fs/cgroup");
	assert_int_equal(procfs_parse_cgroup2_mount(buf, len, path, 8), -ENAMETOOLONG);
	free(buf);
	buf = load("mountinfo.escaped", &len);
	assert_int_equal(procfs_parse_cgroup2_mount(buf, len, path, sizeof(path)), 0);
	assert_string_equal(path, "/mnt/cg two");
	free(buf);
	buf = load("mountinfo.nocgroup2", &len);
	assert_int_equal(procfs_parse_cgroup2_mount(buf, len, path, sizeof(path)), -ENOENT);
	free(buf);
	buf = load("bad.mountinfo.noseparator", &len);
	assert_int_equal(procfs_parse_cgroup2_mount(buf, len, path, sizeof(path)), -EINVAL);
	free(buf);
	assert_int_equal(procfs_parse_cgroup2_mount("1 2 3 4 /x\\04 - cgroup2 x\n", 26, path,
						    sizeof(path)), -EINVAL);
}

static void test_read(void **state)
{
	char *buf = NULL;
	size_t cap = 0;
	long n, m;
	int fd;

	(void)state;
	fd = open("/proc/stat", O_RDONLY);
	assert_true(fd >= 0);
	/* starts at 4 KiB and grows; reading twice gives the whole file again */
	n = procfs_read(fd, &buf, &cap, 16 << 20);
	assert_true(n > 0);
	assert_true((size_t)n < cap);
	assert_int_equal(buf[n], '\0');
	m = procfs_read(fd, &buf, &cap, 16 << 20);
	assert_true(m > 0);
	assert_memory_equal(buf, "cpu ", 4);
	free(buf);
	/* a cap smaller than the file */
	buf = NULL;
	assert_int_equal(procfs_read(fd, &buf, &cap, 64), -EFBIG);
	assert_int_equal(cap, 64);
	close(fd);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_real),
		cmocka_unit_test(test_stat_64cpu),
		cmocka_unit_test(test_stat_bad),
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_cpu_stat),
		cmocka_unit_test(test_cpu_max),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
