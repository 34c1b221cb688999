/* test_ring: the shared-memory sample ring: round trip, laps, states, bad files, many readers */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ring.h"
#include "timeutil.h"

#define INTERVAL_NS	(100 * NSEC_PER_MSEC)

static char test_dir[] = "/tmp/test_ring.XXXXXX";
static struct ring_metric test_metrics[RING_METRICS_MAX];

static void test_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", test_dir, name);
}

static void describe(uint32_t n)
{
	uint32_t i;

	memset(test_metrics, 0, sizeof(test_metrics));
	if (n > RING_METRICS_MAX)
		n = RING_METRICS_MAX;
	for (i = 0; i < n; i++) {
		snprintf(test_metrics[i].name, sizeof(test_metrics[i].name), "metric %u", i);
		snprintf(test_metrics[i].unit, sizeof(test_metrics[i].unit), "percent");
	}
	if (n > 0) {
		snprintf(test_metrics[0].name, RING_NAME_MAX, "Percentage CPU");
		snprintf(test_metrics[0].alias, RING_ALIAS_MAX, "CpuUtilizationPercentage");
	}
	if (n > 1) {
		snprintf(test_metrics[1].name, RING_NAME_MAX, "MemoryUtilizationPercentage");
		snprintf(test_metrics[1].alias, RING_ALIAS_MAX, "CpuMemoryUtilizationPercentage");
	}
}

static struct ring_params params(uint32_t slots, uint32_t metrics)
{
	struct ring_params p = {
		.interval_ns = INTERVAL_NS,
		.slot_count = slots,
		.metric_count = metrics,
		.metrics = test_metrics,
		.source = RING_SOURCE_PROCFS,
		.ncpu = metrics > 2 ? metrics - 2 : 0,
		.instance = "vm-0",
		.deployment = "blue",
		.endpoint = "my-endpoint",
		.cgroup = "",
		.mode = 0644,
		.gid = (gid_t)-1,
	};

	describe(metrics);
	return p;
}

/* The values of slot index: a torn read shows as a mismatch. */
static float value_of(uint64_t index, uint32_t k)
{
	return (float)((index * 31 + k) % 65521);
}

static int64_t mono_of(uint64_t index)
{
	return 1000000000LL + (int64_t)index * 10;
}

static int64_t real_of(uint64_t index)
{
	return 1700000000000000000LL + (int64_t)index * 10;
}

static void append_index(struct ring_writer *w, uint64_t index, uint32_t n)
{
	float v[RING_METRICS_MAX];
	uint32_t k;

	for (k = 0; k < n; k++)
		v[k] = value_of(index, k);
	assert_int_equal(ring_writer_append(w, mono_of(index), real_of(index), v), 0);
}

/* True when s holds exactly what the writer put in slot index. */
static bool sample_ok(const struct ring_sample *s, uint64_t index, uint32_t n)
{
	uint32_t k;

	if (s->index != index || s->mono_ns != mono_of(index) || s->real_ns != real_of(index))
		return false;
	for (k = 0; k < n; k++)
		if (s->values[k] != value_of(index, k))
			return false;
	return true;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(test_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	(void)state;
	d = opendir(test_dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		test_path(path, sizeof(path), de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(test_dir);
}

static void test_round_trip(void **state)
{
	struct ring_params p = params(16, 5);
	const struct ring_header *h;
	const struct ring_metric *m;
	struct ring_writer *w;
	struct ring_reader *r;
	struct ring_sample s;
	char path[512], err[256];
	uint64_t i;
	float v[5] = { 12.5f, NAN, 0.0f, 100.0f, -1.0f };

	(void)state;
	test_path(path, sizeof(path), "round.ring");
	p.cgroup = "/sys/fs/cgroup/model.slice";
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	h = ring_reader_header(r);
	assert_int_equal(h->magic, RING_MAGIC);
	assert_int_equal(h->version_major, RING_VERSION_MAJOR);
	assert_int_equal(h->header_size, RING_HEADER_SIZE);
	assert_int_equal(h->metric_count, 5);
	assert_int_equal(h->slot_count, 16);
	assert_int_equal(h->slot_size % 8, 0);
	assert_int_equal(h->slot_offset % 8, 0);
	assert_int_equal(h->interval_ns, INTERVAL_NS);
	assert_int_not_equal(h->generation, 0);
	assert_int_equal(h->writer_pid, getpid());
	assert_int_equal(h->source, RING_SOURCE_PROCFS);
	assert_int_equal(h->ncpu, 3);
	assert_string_equal(h->instance, "vm-0");
	assert_string_equal(h->deployment, "blue");
	assert_string_equal(h->endpoint, "my-endpoint");
	assert_string_equal(h->cgroup, "/sys/fs/cgroup/model.slice");
	assert_string_equal(ring_source_name(h->source), "procfs");

	m = ring_reader_metrics(r);
	assert_string_equal(m[0].name, "Percentage CPU");
	assert_string_equal(m[0].alias, "CpuUtilizationPercentage");
	assert_string_equal(m[4].name, "metric 4");
	assert_string_equal(m[4].unit, "percent");
	assert_int_equal(ring_metric_find(m, 5, "Percentage CPU"), 0);
	assert_int_equal(ring_metric_find(m, 5, "CpuUtilizationPercentage"), 0);
	assert_int_equal(ring_metric_find(m, 5, "CpuMemoryUtilizationPercentage"), 1);
	assert_int_equal(ring_metric_find(m, 5, "percentage cpu"), 0);
	assert_int_equal(ring_metric_find(m, 5, "cpumemoryutilizationpercentage"), 1);
	assert_int_equal(ring_metric_find(m, 5, "metric 3"), 3);
	assert_int_equal(ring_metric_find(m, 5, "nope"), -ENOENT);
	assert_int_equal(ring_metric_find(m, 5, ""), -ENOENT);
	assert_int_equal(ring_metric_find(m, 2, "metric 3"), -ENOENT);

	assert_int_equal(ring_reader_head(r), 0);
	assert_int_equal(ring_reader_read(r, 0, &s), -EAGAIN);
	assert_int_equal(ring_reader_state(r, time_mono_ns()), RING_LIVE);

	assert_int_equal(ring_writer_append(w, 111, 222, v), 0);
	assert_int_equal(ring_reader_head(r), 1);
	assert_int_equal(ring_reader_read(r, 0, &s), 0);
	assert_int_equal(s.index, 0);
	assert_int_equal(s.mono_ns, 111);
	assert_int_equal(s.real_ns, 222);
	assert_true(s.values[0] == 12.5f);
	assert_true(isnan(s.values[1]));
	assert_true(s.values[3] == 100.0f);
	assert_true(s.values[4] == -1.0f);

	for (i = 1; i < 10; i++)
		append_index(w, i, 5);
	for (i = 1; i < 10; i++) {
		assert_int_equal(ring_reader_read(r, i, &s), 0);
		assert_true(sample_ok(&s, i, 5));
	}
	assert_int_equal(ring_writer_append(w, 1, 2, NULL), -EINVAL);
	assert_int_equal(ring_writer_append(NULL, 1, 2, v), -EINVAL);
	assert_int_equal(ring_reader_read(r, 1, NULL), -EINVAL);

	ring_reader_close(r);
	ring_writer_close(w);
}

static void test_bad_params(void **state)
{
	struct ring_params p;
	struct ring_writer *w = (struct ring_writer *)&w;
	char path[512], longer[RING_PATH_MAX + 8];

	(void)state;
	test_path(path, sizeof(path), "params.ring");
	p = params(0, 4);
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	assert_null(w);
	p = params(RING_SLOTS_MAX + 1, 4);
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 0);
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, RING_METRICS_MAX + 1);
	p.metrics = calloc(RING_METRICS_MAX + 1, sizeof(struct ring_metric));
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	free((void *)p.metrics);
	p = params(8, 4);
	p.metrics = NULL;
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	p.interval_ns = 0;
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	p.ncpu = 5;
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	p.source = (enum ring_source)7;
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	memset(test_metrics[2].name, 'x', RING_NAME_MAX);
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	memset(test_metrics[2].alias, 'x', RING_ALIAS_MAX);
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	memset(test_metrics[3].unit, 'x', RING_UNIT_MAX);
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	test_metrics[3].name[0] = '\0';
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	memset(longer, 'x', sizeof(longer));
	longer[RING_LABEL_MAX] = '\0';
	p.instance = longer;
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	longer[RING_LABEL_MAX] = 'x';
	longer[RING_PATH_MAX] = '\0';
	p.cgroup = longer;
	assert_int_equal(ring_writer_create(path, &p, &w), -EINVAL);
	p = params(8, 4);
	assert_int_equal(ring_writer_create(NULL, &p, &w), -EINVAL);
	assert_int_equal(ring_writer_create("", &p, &w), -EINVAL);
	assert_int_equal(ring_writer_create(path, NULL, &w), -EINVAL);
	assert_int_equal(ring_writer_create(path, &p, NULL), -EINVAL);
	assert_int_equal(ring_writer_create("/nonexistent-dir/x.ring", &p, &w), -ENOENT);
	assert_int_equal(access(path, F_OK), -1);
	/* labels may be NULL: they read as "" */
	p.instance = p.deployment = p.endpoint = p.cgroup = NULL;
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	ring_writer_close(w);
}

/* The file gets the mode and group asked for, and no temporary file stays behind. */
static void test_file_mode(void **state)
{
	struct ring_params p = params(4, 3);
	struct ring_writer *w;
	struct dirent *de;
	struct stat st;
	char path[512];
	DIR *d;

	(void)state;
	test_path(path, sizeof(path), "mode.ring");
	p.mode = 0640;
	p.gid = getgid();
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, getgid());
	d = opendir(test_dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, ".mode.ring."));
	closedir(d);
	ring_writer_close(w);
	/* the file outlives its writer */
	assert_int_equal(stat(path, &st), 0);
}

static void test_laps(void **state)
{
	struct ring_params p = params(4, 3);
	struct ring_writer *w;
	struct ring_reader *r;
	struct ring_sample s;
	char path[512], err[256];
	uint64_t i;

	(void)state;
	test_path(path, sizeof(path), "laps.ring");
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	for (i = 0; i < 10; i++)
		append_index(w, i, 3);
	assert_int_equal(ring_reader_head(r), 10);
	for (i = 0; i < 6; i++)
		assert_int_equal(ring_reader_read(r, i, &s), -ESTALE);
	for (i = 6; i < 10; i++) {
		assert_int_equal(ring_reader_read(r, i, &s), 0);
		assert_true(sample_ok(&s, i, 3));
	}
	assert_int_equal(ring_reader_read(r, 10, &s), -EAGAIN);
	assert_int_equal(ring_reader_read(r, 1000, &s), -EAGAIN);
	assert_int_equal(ring_reader_read(r, UINT64_MAX, &s), -EAGAIN);
	append_index(w, 10, 3);
	assert_int_equal(ring_reader_read(r, 6, &s), -ESTALE);
	assert_int_equal(ring_reader_read(r, 10, &s), 0);
	assert_true(sample_ok(&s, 10, 3));
	ring_reader_close(r);
	ring_writer_close(w);
}

static void test_restart(void **state)
{
	struct ring_params p = params(8, 3);
	struct ring_writer *w1, *w2;
	struct ring_reader *r1, *r2;
	char path[512], err[256];
	int64_t now = time_mono_ns();
	uint64_t gen;
	int fd;

	(void)state;
	test_path(path, sizeof(path), "restart.ring");
	assert_int_equal(ring_writer_create(path, &p, &w1), 0);
	assert_int_equal(ring_reader_open(path, &r1, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_state(r1, now), RING_LIVE);
	assert_int_equal(ring_writer_create(path, &p, &w2), 0);
	assert_int_equal(ring_reader_state(r1, now), RING_RESTARTED);
	assert_int_equal(ring_reader_open(path, &r2, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_state(r2, now), RING_LIVE);
	assert_int_not_equal(ring_reader_header(r1)->generation,
			     ring_reader_header(r2)->generation);
	/* a closed ring that was replaced is a restart, not a stop */
	ring_writer_close(w1);
	assert_int_equal(ring_reader_state(r1, now), RING_RESTARTED);
	ring_reader_close(r1);

	/* a generation changed in place is a restart too */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	gen = ring_reader_header(r2)->generation + 1;
	assert_int_equal(pwrite(fd, &gen, sizeof(gen), offsetof(struct ring_header, generation)),
			 sizeof(gen));
	close(fd);
	assert_int_equal(ring_reader_state(r2, now), RING_RESTARTED);
	ring_reader_close(r2);
	ring_writer_close(w2);
}

static void test_stopped(void **state)
{
	struct ring_params p = params(8, 3);
	struct ring_writer *w;
	struct ring_reader *r;
	struct ring_sample s;
	char path[512], err[256];

	(void)state;
	test_path(path, sizeof(path), "stopped.ring");
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	append_index(w, 0, 3);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	ring_writer_close(w);
	assert_int_equal(ring_reader_state(r, time_mono_ns()), RING_STOPPED);
	assert_true(ring_reader_header(r)->flags & RING_F_CLOSED);
	/* stopped even long after, and the data is still there */
	assert_int_equal(ring_reader_state(r, time_mono_ns() + 3600 * NSEC_PER_SEC), RING_STOPPED);
	assert_int_equal(ring_reader_read(r, 0, &s), 0);
	assert_true(sample_ok(&s, 0, 3));
	ring_reader_close(r);

	/* a reader opened after the close sees it too */
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_state(r, time_mono_ns()), RING_STOPPED);
	ring_reader_close(r);
}

static void test_dead(void **state)
{
	struct ring_params p = params(8, 3);
	struct ring_reader *r;
	char path[512], err[256];
	pid_t pid;
	int status;

	(void)state;
	test_path(path, sizeof(path), "dead.ring");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ring_writer *w;

		if (ring_writer_create(path, &p, &w) < 0)
			_exit(1);
		append_index(w, 0, 3);
		_exit(0);	/* no ring_writer_close: a crash */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_header(r)->writer_pid, pid);
	assert_int_equal(ring_reader_state(r, time_mono_ns()), RING_DEAD);
	ring_reader_close(r);
}

static void test_stalled(void **state)
{
	struct ring_params p = params(8, 3);
	struct ring_writer *w;
	struct ring_reader *r;
	char path[512], err[256];
	int64_t hb;

	(void)state;
	test_path(path, sizeof(path), "stalled.ring");
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	hb = ring_reader_header(r)->heartbeat_mono_ns;
	assert_true(hb > 0);
	assert_int_equal(ring_reader_state(r, hb), RING_LIVE);
	assert_int_equal(ring_reader_state(r, hb + 3 * INTERVAL_NS), RING_LIVE);
	assert_int_equal(ring_reader_state(r, hb + 3 * INTERVAL_NS + 1), RING_STALLED);
	assert_int_equal(ring_reader_state(r, INT64_MAX), RING_STALLED);
	/* a clock behind the heartbeat is no stall */
	assert_int_equal(ring_reader_state(r, INT64_MIN), RING_LIVE);
	ring_writer_heartbeat(w, hb + 10 * INTERVAL_NS);
	assert_int_equal(ring_reader_state(r, hb + 11 * INTERVAL_NS), RING_LIVE);
	assert_int_equal(ring_reader_header(r)->heartbeat_mono_ns, hb + 10 * INTERVAL_NS);
	/* an append beats the heart */
	append_index(w, 0, 3);
	assert_int_equal(ring_reader_state(r, mono_of(0) + INTERVAL_NS), RING_LIVE);
	ring_reader_close(r);
	ring_writer_close(w);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ring_state_name(RING_LIVE), "live");
	assert_string_equal(ring_state_name(RING_STALLED), "stalled");
	assert_string_equal(ring_state_name(RING_DEAD), "dead");
	assert_string_equal(ring_state_name(RING_STOPPED), "stopped");
	assert_string_equal(ring_state_name(RING_RESTARTED), "restarted");
	assert_string_equal(ring_state_name((enum ring_state)42), "unknown");
	assert_string_equal(ring_source_name(RING_SOURCE_NONE), "none");
	assert_string_equal(ring_source_name(RING_SOURCE_EBPF), "ebpf");
	assert_string_equal(ring_source_name(RING_SOURCE_PROCFS), "procfs");
	assert_string_equal(ring_source_name((enum ring_source)42), "unknown");
	assert_int_equal(ring_metric_find(NULL, 3, "x"), -ENOENT);
	assert_null(ring_reader_header(NULL));
	assert_null(ring_reader_metrics(NULL));
	ring_reader_close(NULL);
	ring_writer_close(NULL);
	ring_writer_heartbeat(NULL, 1);
}

/* ---- bad files ---- */

struct image {
	unsigned char *buf;
	size_t len;
};

/* A valid ring of 6 metrics and 8 slots, 3 of them written, as bytes. */
static struct image good_image(void)
{
	struct ring_params p = params(8, 6);
	struct ring_writer *w;
	struct image im;
	struct stat st;
	char path[512];
	uint64_t i;
	FILE *f;

	test_path(path, sizeof(path), "good.ring");
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	for (i = 0; i < 3; i++)
		append_index(w, i, 6);
	ring_writer_close(w);
	assert_int_equal(stat(path, &st), 0);
	im.len = (size_t)st.st_size;
	im.buf = malloc(im.len);
	assert_non_null(im.buf);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(im.buf, 1, im.len, f), im.len);
	fclose(f);
	return im;
}

static void write_image(const char *path, const unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

enum mutation {
	M_NONE, M_EMPTY, M_SHORT, M_MAGIC, M_MAJOR, M_OLD_MAJOR, M_MINOR, M_TRUNCATED,
	M_GROWN, M_HEADER_SIZE, M_METRIC_SIZE, M_METRIC_COUNT, M_METRIC_COUNT_MAX,
	M_SLOT_COUNT_0, M_SLOT_COUNT_HUGE, M_SLOT_COUNT_PAST, M_SLOT_SIZE_SMALL,
	M_SLOT_SIZE_ODD, M_SLOT_OFFSET_PAST, M_SLOT_OFFSET_ODD, M_METRIC_OFFSET_PAST,
	M_METRIC_OFFSET_HEADER, M_INTERVAL, M_GENERATION, M_PID, M_PID_NEGATIVE, M_NCPU,
	M_INSTANCE, M_DEPLOYMENT, M_ENDPOINT, M_CGROUP, M_NAME, M_ALIAS, M_UNIT,
	M_V10, M_STREAM_SMALL, M_STREAM_ODD, M_STREAM_OVERLAP, M_STREAM_PAST,
};

static const struct {
	enum mutation m;
	int error;
	const char *message;
} bad_cases[] = {
	{ M_NONE, 0, "" },
	{ M_MINOR, 0, "" },
	{ M_EMPTY, -EPROTO, "too small (0 bytes)" },
	{ M_SHORT, -EPROTO, "too small" },
	{ M_MAGIC, -EPROTO, "not an ascale ring" },
	{ M_MAJOR, -EPROTO, "ring format 2.3 is newer than this reader (1.x)" },
	{ M_OLD_MAJOR, -EPROTO, "ring format 0.0 is older than this reader (1.x)" },
	{ M_TRUNCATED, -EPROTO, "truncated" },
	{ M_GROWN, -EPROTO, "but its header says" },
	{ M_HEADER_SIZE, -EPROTO, "bad header size 100" },
	{ M_METRIC_SIZE, -EPROTO, "bad metric descriptor size" },
	{ M_METRIC_COUNT, -EPROTO, "metric count 4294967295 is over the limit" },
	{ M_METRIC_COUNT_MAX, -EPROTO, "metric count 4097" },
	{ M_SLOT_COUNT_0, -EPROTO, "slot count 0 is out of range" },
	{ M_SLOT_COUNT_HUGE, -EPROTO, "slot count 4294967295 is out of range" },
	{ M_SLOT_COUNT_PAST, -EPROTO, "past the end of the file" },
	{ M_SLOT_SIZE_SMALL, -EPROTO, "slot size 32 is too small for 6 metrics" },
	{ M_SLOT_SIZE_ODD, -EPROTO, "not a multiple of 8" },
	{ M_SLOT_OFFSET_PAST, -EPROTO, "past the end of the file" },
	{ M_SLOT_OFFSET_ODD, -EPROTO, "slot offset" },
	{ M_METRIC_OFFSET_PAST, -EPROTO, "metric descriptors end at byte" },
	{ M_METRIC_OFFSET_HEADER, -EPROTO, "overlap the header" },
	{ M_INTERVAL, -EPROTO, "bad sampling interval" },
	{ M_GENERATION, -EPROTO, "ring not ready" },
	{ M_PID, -EPROTO, "bad writer pid 0" },
	{ M_PID_NEGATIVE, -EPROTO, "bad writer pid" },
	{ M_NCPU, -EPROTO, "7 CPUs but only 6 metrics" },
	{ M_INSTANCE, -EPROTO, "the instance label is not terminated" },
	{ M_DEPLOYMENT, -EPROTO, "the deployment label is not terminated" },
	{ M_ENDPOINT, -EPROTO, "the endpoint label is not terminated" },
	{ M_CGROUP, -EPROTO, "the cgroup label is not terminated" },
	{ M_NAME, -EPROTO, "metric 2: name is not terminated" },
	{ M_ALIAS, -EPROTO, "metric 5: alias is not terminated" },
	{ M_UNIT, -EPROTO, "metric 0: unit is not terminated" },
	{ M_V10, 0, "" },
	{ M_STREAM_SMALL, -EPROTO, "stream block" },
	{ M_STREAM_ODD, -EPROTO, "stream block" },
	{ M_STREAM_OVERLAP, -EPROTO, "stream block" },
	{ M_STREAM_PAST, -EPROTO, "stream block" },
};

static size_t mutate(unsigned char *buf, size_t len, enum mutation m)
{
	struct ring_header *h = (struct ring_header *)(void *)buf;
	struct ring_metric *d = (struct ring_metric *)(void *)(buf + h->metric_offset);

	switch (m) {
	case M_NONE:
		break;
	case M_EMPTY:
		return 0;
	case M_SHORT:
		return RING_HEADER_MIN - 1;
	case M_MAGIC:
		h->magic ^= 0x100;
		break;
	case M_MAJOR:
		h->version_major = 2;
		h->version_minor = 3;
		break;
	case M_OLD_MAJOR:
		h->version_major = 0;
		h->version_minor = 0;
		break;
	case M_MINOR:
		h->version_minor = 9;
		break;
	case M_TRUNCATED:
		return len - 100;
	case M_GROWN:
		return len + 4096;
	case M_HEADER_SIZE:
		h->header_size = 100;
		break;
	case M_METRIC_SIZE:
		h->metric_size = 96;
		break;
	case M_METRIC_COUNT:
		h->metric_count = UINT32_MAX;
		break;
	case M_METRIC_COUNT_MAX:
		h->metric_count = RING_METRICS_MAX + 1;
		break;
	case M_SLOT_COUNT_0:
		h->slot_count = 0;
		break;
	case M_SLOT_COUNT_HUGE:
		h->slot_count = UINT32_MAX;
		break;
	case M_SLOT_COUNT_PAST:
		h->slot_count = 9;
		break;
	case M_SLOT_SIZE_SMALL:
		h->slot_size = 32;
		break;
	case M_SLOT_SIZE_ODD:
		h->slot_size += 4;
		break;
	case M_SLOT_OFFSET_PAST:
		h->slot_offset = UINT32_MAX - 7;
		break;
	case M_SLOT_OFFSET_ODD:
		h->slot_offset += 4;
		break;
	case M_METRIC_OFFSET_PAST:
		h->metric_offset = UINT32_MAX - 100;
		break;
	case M_METRIC_OFFSET_HEADER:
		h->metric_offset = 512;
		break;
	case M_INTERVAL:
		h->interval_ns = -5;
		break;
	case M_GENERATION:
		h->generation = 0;
		break;
	case M_PID:
		h->writer_pid = 0;
		break;
	case M_PID_NEGATIVE:
		h->writer_pid = UINT32_MAX;	/* kill(-1, 0) would reach every process */
		break;
	case M_NCPU:
		h->ncpu = 7;
		break;
	case M_INSTANCE:
		memset(h->instance, 'i', sizeof(h->instance));
		break;
	case M_DEPLOYMENT:
		memset(h->deployment, 'd', sizeof(h->deployment));
		break;
	case M_ENDPOINT:
		memset(h->endpoint, 'e', sizeof(h->endpoint));
		break;
	case M_CGROUP:
		memset(h->cgroup, 'c', sizeof(h->cgroup));
		break;
	case M_NAME:
		memset(d[2].name, 'n', sizeof(d[2].name));
		break;
	case M_ALIAS:
		memset(d[5].alias, 'a', sizeof(d[5].alias));
		break;
	case M_UNIT:
		memset(d[0].unit, 'u', sizeof(d[0].unit));
		break;
	case M_V10:
		/* a 1.0 writer: whatever lies past byte 552 is not a stream block */
		h->version_minor = 0;
		h->stream_offset = 3;
		h->stream_size = 1;
		break;
	case M_STREAM_SMALL:
		h->stream_size = 8;
		break;
	case M_STREAM_ODD:
		h->stream_offset += 4;
		break;
	case M_STREAM_OVERLAP:
		h->stream_offset = h->metric_offset;
		break;
	case M_STREAM_PAST:
		h->stream_offset = UINT32_MAX - 7;
		break;
	}
	return len;
}

static void test_bad_files(void **state)
{
	struct image im = good_image();
	struct ring_reader *r;
	unsigned char *buf;
	char path[512], err[256];
	size_t i, len;
	int rc;

	(void)state;
	test_path(path, sizeof(path), "bad.ring");
	buf = calloc(1, im.len + 4096);
	assert_non_null(buf);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		memset(buf, 0, im.len + 4096);
		memcpy(buf, im.buf, im.len);
		len = mutate(buf, im.len, bad_cases[i].m);
		write_image(path, buf, len);
		r = (struct ring_reader *)&r;
		strcpy(err, "unset");
		rc = ring_reader_open(path, &r, err, sizeof(err));
		if (rc != bad_cases[i].error || !strstr(err, bad_cases[i].message))
			fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, rc, err,
				 bad_cases[i].error, bad_cases[i].message);
		if (rc == 0) {
			assert_string_equal(err, "");
			ring_reader_close(r);
		} else {
			assert_null(r);
		}
	}

	/* not a file at all */
	assert_int_equal(ring_reader_open(test_dir, &r, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not a regular file"));
	test_path(path, sizeof(path), "missing.ring");
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	/* no room for a message is fine */
	assert_int_equal(ring_reader_open(path, &r, NULL, 0), -ENOENT);
	assert_int_equal(ring_reader_open(path, &r, err, 0), -ENOENT);
	assert_int_equal(ring_reader_open(NULL, &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(ring_reader_open(path, NULL, err, sizeof(err)), -EINVAL);
	free(buf);
	free(im.buf);
}

static uint64_t fuzz_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random damage to the header and descriptors: an error or a usable ring, never a crash. */
static void test_fuzz_header(void **state)
{
	struct image im = good_image();
	struct ring_reader *r;
	struct ring_sample s;
	struct ring_stream st;
	unsigned char *buf;
	char path[512], err[256];
	uint64_t seed = 0x2545f4914f6cdd1dULL, head, i, n;
	size_t span, len;
	int iter, k, rc, opened = 0, refused = 0;

	(void)state;
	test_path(path, sizeof(path), "fuzz.ring");
	buf = malloc(im.len);
	assert_non_null(buf);
	span = ((struct ring_header *)(void *)im.buf)->slot_offset;
	for (iter = 0; iter < 3000; iter++) {
		memcpy(buf, im.buf, im.len);
		n = 1 + fuzz_rand(&seed) % 4;
		for (k = 0; k < (int)n; k++) {
			size_t at = fuzz_rand(&seed) % (iter % 2 ? sizeof(struct ring_header) : span);

			buf[at] = (unsigned char)fuzz_rand(&seed);
		}
		len = im.len;
		if (fuzz_rand(&seed) % 16 == 0)
			len = fuzz_rand(&seed) % im.len;
		write_image(path, buf, len);
		rc = ring_reader_open(path, &r, err, sizeof(err));
		if (rc < 0) {
			assert_true(err[0] != '\0');
			refused++;
			continue;
		}
		opened++;
		head = ring_reader_head(r);
		for (i = head > 100 ? head - 100 : 0; i < head + 2; i++)
			(void)ring_reader_read(r, i, &s);
		(void)ring_reader_read(r, UINT64_MAX - 1, &s);
		(void)ring_reader_state(r, time_mono_ns());
		(void)ring_reader_stream(r, &st);
		(void)ring_metric_find(ring_reader_metrics(r), ring_reader_header(r)->metric_count,
				       "Percentage CPU");
		ring_reader_close(r);
	}
	print_message("fuzz: %d opened, %d refused\n", opened, refused);
	assert_true(refused > 0);
	free(buf);
	free(im.buf);
}

/* ---- the stream block (format 1.1) ---- */

static void fill_stream(struct ring_stream *st, uint64_t n)
{
	uint32_t i;

	memset(st, 0, sizeof(*st));
	st->conn_count = 2;
	st->configured = 2;
	st->boot_id = n;
	st->last_seq = n;
	for (i = 0; i < 2; i++) {
		snprintf(st->conns[i].address, RING_ADDR_MAX, "coord-%u:7070", i);
		snprintf(st->conns[i].error, RING_ERROR_MAX, "error %llu", (unsigned long long)n);
		st->conns[i].state = RING_CONN_CONNECTED;
		st->conns[i].sent_seq = n;
		st->conns[i].acked_seq = n;
		st->conns[i].backlog = n;
	}
}

static bool stream_consistent(const struct ring_stream *st)
{
	char want[RING_ERROR_MAX];
	uint32_t i;

	if (st->conn_count != 2 || st->boot_id != st->last_seq)
		return false;
	snprintf(want, sizeof(want), "error %llu", (unsigned long long)st->boot_id);
	for (i = 0; i < 2; i++)
		if (st->conns[i].sent_seq != st->boot_id || st->conns[i].backlog != st->boot_id ||
		    strcmp(st->conns[i].error, want))
			return false;
	return true;
}

struct stream_stress {
	struct ring_writer *w;
	int done;
};

static void *stream_write(void *arg)
{
	struct stream_stress *ss = arg;
	struct ring_stream st;
	uint64_t n;

	for (n = 1; n < 200000; n++) {
		fill_stream(&st, n);
		ring_writer_stream(ss->w, &st);
	}
	__atomic_store_n(&ss->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stream_block(void **state)
{
	struct ring_params p = params(8, 6);
	struct stream_stress ss = { 0 };
	struct ring_stream st, got;
	struct ring_reader *r;
	struct image im;
	pthread_t t;
	char path[512], err[256];
	uint64_t reads = 0, again = 0;
	int rc;

	(void)state;
	test_path(path, sizeof(path), "stream.ring");
	assert_int_equal(ring_writer_create(path, &p, &ss.w), 0);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_header(r)->version_minor, 1);
	assert_true(ring_reader_header(r)->stream_offset >= RING_HEADER_SIZE + 6 * 128);
	/* present but empty until the agent streams */
	assert_int_equal(ring_reader_stream(r, &got), 0);
	assert_int_equal(got.conn_count, 0);
	fill_stream(&st, 7);
	ring_writer_stream(ss.w, &st);
	assert_int_equal(ring_reader_stream(r, &got), 0);
	assert_true(stream_consistent(&got));
	assert_string_equal(got.conns[1].address, "coord-1:7070");
	assert_string_equal(ring_conn_state_name(got.conns[0].state), "connected");
	assert_string_equal(ring_conn_state_name(99), "unknown");

	/* one writer thread, this reader: never a torn copy */
	assert_int_equal(pthread_create(&t, NULL, stream_write, &ss), 0);
	while (!__atomic_load_n(&ss.done, __ATOMIC_ACQUIRE)) {
		rc = ring_reader_stream(r, &got);
		if (rc == -EAGAIN) {
			again++;
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(stream_consistent(&got));
		reads++;
	}
	pthread_join(t, NULL);
	print_message("stream: %llu consistent copies, %llu busy\n",
		      (unsigned long long)reads, (unsigned long long)again);
	ring_reader_close(r);
	ring_writer_close(ss.w);

	/* a 1.0 ring has no stream block: absent, not an error */
	im = good_image();
	((struct ring_header *)(void *)im.buf)->version_minor = 0;
	write_image(path, im.buf, im.len);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_stream(r, &got), -ENOENT);
	ring_reader_close(r);
	/* a damaged block is refused, not shown */
	((struct ring_header *)(void *)im.buf)->version_minor = 1;
	fill_stream(&st, 3);
	st.conn_count = 9;
	st.conn_size = sizeof(struct ring_stream_conn);
	memcpy(im.buf + ((struct ring_header *)(void *)im.buf)->stream_offset, &st, sizeof(st));
	write_image(path, im.buf, im.len);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(ring_reader_stream(r, &got), -EPROTO);
	ring_reader_close(r);
	free(im.buf);
}

/* ---- one writer, many readers ---- */

#define STRESS_SLOTS	64
#define STRESS_METRICS	40
#define STRESS_APPENDS	3000000
#define STRESS_READERS	8

struct stress_reader {
	pthread_t thread;
	struct ring_reader *r;
	int id;
	uint64_t ok, stale, again, torn, disorder;
};

static int stress_done;

static void *stress_read(void *arg)
{
	struct stress_reader *sr = arg;
	struct ring_sample s;
	uint64_t next = 0, head, last_index = 0;
	int64_t last_mono = INT64_MIN;
	bool any = false;
	int rc;

	for (;;) {
		head = ring_reader_head(sr->r);
		if (next >= head) {
			if (__atomic_load_n(&stress_done, __ATOMIC_ACQUIRE) &&
			    next >= ring_reader_head(sr->r))
				break;
			sched_yield();
			continue;
		}
		rc = ring_reader_read(sr->r, next, &s);
		if (rc == 0) {
			if (!sample_ok(&s, next, STRESS_METRICS))
				sr->torn++;
			if (any && (s.index <= last_index || s.mono_ns <= last_mono))
				sr->disorder++;
			any = true;
			last_index = s.index;
			last_mono = s.mono_ns;
			sr->ok++;
			next++;
		} else if (rc == -ESTALE) {
			sr->stale++;
			/* half the readers chase the oldest slot, where the writer laps them */
			head = ring_reader_head(sr->r);
			next = sr->id % 2 ? head - 1 : head - STRESS_SLOTS;
			if (any && next <= last_index)
				next = last_index + 1;
		} else if (rc == -EAGAIN) {
			sr->again++;
		} else {
			sr->torn++;	/* no other result is allowed */
			next++;
		}
	}
	return NULL;
}

static void *stress_write(void *arg)
{
	struct ring_writer *w = arg;
	float v[STRESS_METRICS];
	uint64_t i;
	uint32_t k;

	for (i = 0; i < STRESS_APPENDS; i++) {
		for (k = 0; k < STRESS_METRICS; k++)
			v[k] = value_of(i, k);
		ring_writer_append(w, mono_of(i), real_of(i), v);
		/* let the readers run on small machines */
		if (i % 4096 == 0)
			sched_yield();
	}
	__atomic_store_n(&stress_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stress(void **state)
{
	struct ring_params p = params(STRESS_SLOTS, STRESS_METRICS);
	struct stress_reader sr[STRESS_READERS];
	struct ring_writer *w;
	pthread_t writer;
	char path[512], err[256];
	uint64_t ok = 0, stale = 0, again = 0, torn = 0, disorder = 0;
	int64_t t0 = time_mono_ns();
	int i;

	(void)state;
	test_path(path, sizeof(path), "stress.ring");
	assert_int_equal(ring_writer_create(path, &p, &w), 0);
	memset(sr, 0, sizeof(sr));
	for (i = 0; i < STRESS_READERS; i++) {
		sr[i].id = i;
		assert_int_equal(ring_reader_open(path, &sr[i].r, err, sizeof(err)), 0);
		assert_int_equal(pthread_create(&sr[i].thread, NULL, stress_read, &sr[i]), 0);
	}
	assert_int_equal(pthread_create(&writer, NULL, stress_write, w), 0);
	assert_int_equal(pthread_join(writer, NULL), 0);
	for (i = 0; i < STRESS_READERS; i++) {
		assert_int_equal(pthread_join(sr[i].thread, NULL), 0);
		ok += sr[i].ok;
		stale += sr[i].stale;
		again += sr[i].again;
		torn += sr[i].torn;
		disorder += sr[i].disorder;
		assert_int_equal(ring_reader_head(sr[i].r), STRESS_APPENDS);
		ring_reader_close(sr[i].r);
	}
	ring_writer_close(w);
	print_message("stress: %d slots, %d readers: %llu reads, %llu laps, %llu again, "
		      "%llu torn, %llu out of order, %.2f s\n",
		      STRESS_APPENDS, STRESS_READERS, (unsigned long long)ok,
		      (unsigned long long)stale, (unsigned long long)again,
		      (unsigned long long)torn, (unsigned long long)disorder,
		      (double)(time_mono_ns() - t0) / NSEC_PER_SEC);
	assert_int_equal(torn, 0);
	assert_int_equal(disorder, 0);
	assert_true(ok > 0);
	assert_true(stale > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_file_mode),
		cmocka_unit_test(test_laps),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_stopped),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_stalled),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_fuzz_header),
		cmocka_unit_test(test_stream_block),
		cmocka_unit_test(test_stress),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
