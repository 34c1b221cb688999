/* test_asctl_metrics: "asctl metrics" on rings written with known samples */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "testutil.h"
#include "timeutil.h"

#define NMETRICS	5	/* three machine-wide, two per-CPU */
#define BASE		(1000 * NSEC_PER_SEC)	/* mono time of "sample 0" */
#define REAL_BASE	(1700000000LL * NSEC_PER_SEC)	/* 2023-11-14T22:13:20Z */
#define CPU		0
#define MEM		1
#define STEAL		2

static char dir[64];
static char path[128];

/* The test's ring, its reader and the last summary: closed and freed by teardown(). */
static struct ring_writer *w;
static struct ring_reader *r;
static struct metrics_summary s;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_asctl_metrics.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/asagent.ring", dir);
	testutil_log_catch();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	metrics_summary_free(&s);
	ring_reader_close(r);
	ring_writer_close(w);
	r = NULL;
	w = NULL;
	unlink(path);
	rmdir(dir);
	log_set_sink(NULL, NULL);
	return 0;
}

static struct ring_writer *make_ring(uint32_t slots)
{
	static const char *const names[NMETRICS] = {
		"Percentage CPU", "MemoryUtilizationPercentage", "Percentage Steal",
		"Percentage CPU cpu0", "Percentage CPU cpu1",
	};
	struct ring_metric m[NMETRICS];
	struct ring_params p = {
		.interval_ns = NSEC_PER_SEC,
		.slot_count = slots,
		.metric_count = NMETRICS,
		.metrics = m,
		.source = RING_SOURCE_EBPF,
		.ncpu = 2,
		.instance = "vm-3",
		.deployment = "blue",
		.endpoint = "my-endpoint",
		.cgroup = "",
		.mode = 0644,
		.gid = (gid_t)-1,
	};
	struct ring_writer *made;
	size_t i;

	memset(m, 0, sizeof(m));
	for (i = 0; i < NMETRICS; i++) {
		snprintf(m[i].name, sizeof(m[i].name), "%s", names[i]);
		snprintf(m[i].unit, sizeof(m[i].unit), "percent");
	}
	assert_int_equal(ring_writer_create(path, &p, &made), 0);
	return made;
}

/*
 * Sample i (1..n) at BASE + i s: CPU = i, memory = 50, steal = 1 for odd i
 * and NaN for even ones, cpu0 = 2 i, cpu1 = NaN.
 */
static void fill(int from, int to)
{
	float v[NMETRICS];
	int i;

	for (i = from; i <= to; i++) {
		v[CPU] = (float)i;
		v[MEM] = 50.0f;
		v[STEAL] = i % 2 ? 1.0f : NAN;
		v[3] = 2.0f * (float)i;
		v[4] = NAN;
		assert_int_equal(ring_writer_append(w, BASE + i * NSEC_PER_SEC,
						    REAL_BASE + i * NSEC_PER_SEC + 250 * NSEC_PER_MSEC, v), 0);
	}
}

/* The ring w with samples 1 to n in slots slots, and r reading it. */
static void ring_with(uint32_t slots, int n)
{
	char err[256];

	w = make_ring(slots);
	fill(1, n);
	assert_int_equal(ring_reader_open(path, &r, err, sizeof(err)), 0);
}

/* The summary s of what r holds at now (mono time), as metrics_summarize() gives it. */
static void summarize(int64_t now, bool per_cpu, int64_t since)
{
	metrics_summary_free(&s);
	assert_int_equal(metrics_summarize(r, now, per_cpu, since, &s), 0);
}

/* The stat of metric name in the summary s */
static const struct metrics_stat *stat_named(const char *name)
{
	uint32_t k;

	for (k = 0; k < s.nstats; k++)
		if (strcmp(s.stats[k].name, name) == 0)
			return &s.stats[k];
	fail_msg("no stat %s", name);
	return NULL;
}

/* 400 samples in 512 slots: every window is full. */
static void test_metrics_averages(void **state)
{
	const struct metrics_stat *st;

	(void)state;
	ring_with(512, 400);
	summarize(BASE + 400 * NSEC_PER_SEC, false, 0);
	assert_int_equal(s.state, RING_LIVE);
	assert_string_equal(s.instance, "vm-3");
	assert_string_equal(s.deployment, "blue");
	assert_string_equal(s.endpoint, "my-endpoint");
	assert_string_equal(s.cgroup, "");
	assert_int_equal(s.source, RING_SOURCE_EBPF);
	assert_int_equal(s.interval_ns, NSEC_PER_SEC);
	assert_int_equal(s.slot_count, 512);
	assert_int_equal(s.held, 400);
	assert_int_equal(s.held_ns, 400 * NSEC_PER_SEC);
	assert_int_equal(s.heartbeat_age_ns, 0);
	assert_true(s.have_latest);
	assert_int_equal(s.latest_mono_ns, BASE + 400 * NSEC_PER_SEC);
	assert_false(s.partial[0] || s.partial[1] || s.partial[2]);
	assert_int_equal(s.nstats, 3);	/* no per-CPU ones */
	assert_int_equal(s.nsamples, 0);

	st = stat_named("Percentage CPU");
	assert_true(st->latest == 400.0);
	/* windows end at now: 10 s holds samples 391..400, 1 m 341..400, 5 m 101..400 */
	assert_int_equal(st->count[0], 10);
	assert_true(fabs(st->avg[0] - 395.5) < 1e-9);
	assert_int_equal(st->count[1], 60);
	assert_true(fabs(st->avg[1] - 370.5) < 1e-9);
	assert_int_equal(st->count[2], 300);
	assert_true(fabs(st->avg[2] - 250.5) < 1e-9);
	st = stat_named("MemoryUtilizationPercentage");
	assert_true(st->avg[0] == 50.0 && st->avg[2] == 50.0);
	/* NaN values are skipped, not counted */
	st = stat_named("Percentage Steal");
	assert_true(isnan(st->latest));
	assert_int_equal(st->count[0], 5);
	assert_true(st->avg[0] == 1.0);

	/* with --per-cpu; a metric that is always NaN has no average */
	summarize(BASE + 400 * NSEC_PER_SEC, true, 0);
	assert_int_equal(s.nstats, 5);
	st = stat_named("Percentage CPU cpu0");
	assert_true(fabs(st->avg[0] - 791.0) < 1e-9);
	st = stat_named("Percentage CPU cpu1");
	assert_true(isnan(st->avg[0]) && isnan(st->avg[2]));
	assert_int_equal(st->count[2], 0);
}

/* 30 samples: 1 m and 5 m reach back before the history and say so. */
static void test_metrics_partial(void **state)
{
	const struct metrics_stat *st;

	(void)state;
	ring_with(512, 30);
	summarize(BASE + 30 * NSEC_PER_SEC + 300 * NSEC_PER_MSEC, false, 0);
	assert_int_equal(s.held, 30);
	assert_int_equal(s.held_ns, 30 * NSEC_PER_SEC);
	assert_false(s.partial[0]);
	assert_true(s.partial[1]);
	assert_true(s.partial[2]);
	st = stat_named("Percentage CPU");
	assert_int_equal(st->count[0], 10);
	assert_true(fabs(st->avg[0] - 25.5) < 1e-9);
	assert_int_equal(st->count[1], 30);
	assert_true(fabs(st->avg[1] - 15.5) < 1e-9);
	assert_true(fabs(st->avg[2] - 15.5) < 1e-9);
}

/* 400 samples in 100 slots: the writer lapped the rest. */
static void test_metrics_lapped(void **state)
{
	const struct metrics_stat *st;

	(void)state;
	ring_with(100, 400);
	summarize(BASE + 400 * NSEC_PER_SEC, false, 0);
	assert_int_equal(s.held, 100);
	assert_int_equal(s.held_ns, 100 * NSEC_PER_SEC);
	assert_false(s.partial[1]);
	assert_true(s.partial[2]);
	st = stat_named("Percentage CPU");
	assert_int_equal(st->count[2], 100);
	assert_true(fabs(st->avg[2] - 350.5) < 1e-9);
}

/* The writer went quiet 20 s ago: stalled, and the 10 s window is empty. */
static void test_metrics_stalled(void **state)
{
	const struct metrics_stat *st;

	(void)state;
	ring_with(512, 400);
	summarize(BASE + 420 * NSEC_PER_SEC, false, 0);
	assert_int_equal(s.state, RING_STALLED);
	assert_int_equal(s.heartbeat_age_ns, 20 * NSEC_PER_SEC);
	st = stat_named("Percentage CPU");
	assert_true(st->latest == 400.0);
	assert_true(isnan(st->avg[0]));
	assert_int_equal(st->count[0], 0);
	assert_int_equal(st->count[1], 40);	/* 361..400 */

	/* much later: nothing in any window, the latest value and held time stay */
	summarize(BASE + 4000 * NSEC_PER_SEC, false, 0);
	st = stat_named("Percentage CPU");
	assert_true(st->latest == 400.0);
	assert_true(isnan(st->avg[2]));
	assert_int_equal(s.held_ns, 400 * NSEC_PER_SEC);
}

static void test_metrics_empty(void **state)
{
	json_t *j;
	struct metrics_view v = { .ring = path, .now_real_ns = REAL_BASE };

	(void)state;
	ring_with(16, 0);
	summarize(time_mono_ns(), false, 60 * NSEC_PER_SEC);
	assert_false(s.have_latest);
	assert_int_equal(s.held, 0);
	assert_int_equal(s.held_ns, 0);
	assert_true(isnan(s.stats[0].latest) && isnan(s.stats[0].avg[0]));
	j = metrics_render_json(&s, &v);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "latest")));
	assert_true(json_is_null(json_object_get(json_object_get(json_object_get(j, "averages"),
								  "Percentage CPU"), "10s")));
	json_decref(j);
}

static void test_metrics_since(void **state)
{
	(void)state;
	ring_with(512, 400);
	/* --since longer than every window reads further back */
	summarize(BASE + 400 * NSEC_PER_SEC, false, 350 * NSEC_PER_SEC);
	assert_int_equal(s.nsamples, 350);
	assert_int_equal(s.samples[0].mono_ns, BASE + 51 * NSEC_PER_SEC);
	assert_true(s.samples[0].values[CPU] == 51.0f);
	assert_true(s.samples[349].values[CPU] == 400.0f);
	assert_int_equal(s.stats[0].count[2], 300);
}

/* The JSON object, parsed back. */
static void test_metrics_json(void **state)
{
	struct metrics_view v = { .ring = path, .now_real_ns = REAL_BASE + 400 * NSEC_PER_SEC,
				  .list = true };
	json_t *j, *back, *avg, *samples, *one, *partial;
	json_error_t jerr;
	char *text;

	(void)state;
	ring_with(512, 30);
	summarize(BASE + 30 * NSEC_PER_SEC, false, 3 * NSEC_PER_SEC);
	j = metrics_render_json(&s, &v);
	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(j);
	back = json_loads(text, 0, &jerr);
	assert_non_null(back);
	free(text);

	assert_string_equal(json_string_value(json_object_get(back, "ring")), path);
	assert_string_equal(json_string_value(json_object_get(back, "instance")), "vm-3");
	assert_string_equal(json_string_value(json_object_get(back, "deployment")), "blue");
	assert_string_equal(json_string_value(json_object_get(back, "endpoint")), "my-endpoint");
	assert_string_equal(json_string_value(json_object_get(back, "cgroup")), "");
	assert_string_equal(json_string_value(json_object_get(back, "source")), "ebpf");
	assert_string_equal(json_string_value(json_object_get(back, "state")), "live");
	assert_true(json_real_value(json_object_get(back, "heartbeat_age_s")) == 0.0);
	assert_true(json_real_value(json_object_get(back, "interval_s")) == 1.0);
	assert_int_equal(json_integer_value(json_object_get(back, "slots")), 512);
	assert_int_equal(json_integer_value(json_object_get(back, "samples_held")), 30);
	assert_true(json_real_value(json_object_get(back, "held_s")) == 30.0);
	assert_true(json_is_false(json_object_get(back, "restarted")));
	partial = json_object_get(back, "partial");
	assert_int_equal(json_array_size(partial), 2);
	assert_string_equal(json_string_value(json_array_get(partial, 0)), "1m");

	one = json_object_get(back, "latest");
	assert_string_equal(json_string_value(json_object_get(one, "time")),
			    "2023-11-14T22:13:50.250Z");
	assert_true(json_number_value(json_object_get(json_object_get(one, "values"),
						       "Percentage CPU")) == 30.0);
	assert_true(json_is_null(json_object_get(json_object_get(one, "values"),
						 "Percentage Steal")));
	assert_null(json_object_get(json_object_get(one, "values"), "Percentage CPU cpu0"));

	avg = json_object_get(back, "averages");
	assert_true(json_real_value(json_object_get(json_object_get(avg, "Percentage CPU"), "10s")) == 25.5);
	assert_true(json_real_value(json_object_get(json_object_get(avg, "Percentage CPU"), "1m")) == 15.5);
	assert_true(json_real_value(json_object_get(json_object_get(avg, "Percentage CPU"), "5m")) == 15.5);
	assert_true(json_real_value(json_object_get(json_object_get(avg, "Percentage Steal"), "10s")) == 1.0);
	assert_true(json_real_value(json_object_get(json_object_get(avg, "MemoryUtilizationPercentage"),
						    "5m")) == 50.0);

	samples = json_object_get(back, "samples");
	assert_int_equal(json_array_size(samples), 3);
	one = json_array_get(samples, 0);
	assert_string_equal(json_string_value(json_object_get(one, "time")),
			    "2023-11-14T22:13:48.250Z");
	assert_int_equal(json_integer_value(json_object_get(one, "mono_ns")), BASE + 28 * NSEC_PER_SEC);
	assert_true(json_number_value(json_object_get(json_object_get(one, "values"),
						       "Percentage CPU")) == 28.0);
	json_decref(back);
}

/* The human form: labels, then the metric table with the partial windows marked. */
static void test_metrics_print(void **state)
{
	struct metrics_view v = { .ring = path, .now_real_ns = REAL_BASE, .list = true };
	char *buf = NULL, want[256];
	size_t len = 0;
	FILE *f;

	(void)state;
	ring_with(512, 30);
	summarize(BASE + 30 * NSEC_PER_SEC, false, 2 * NSEC_PER_SEC);
	f = open_memstream(&buf, &len);
	assert_int_equal(metrics_render_print(f, &s, &v), 0);
	fclose(f);
	snprintf(want, sizeof(want), "ring        %s\ninstance    vm-3\n", path);
	assert_true(strncmp(buf, want, strlen(want)) == 0);
	assert_non_null(strstr(buf, "\ncgroup      (whole machine)\n"));
	assert_non_null(strstr(buf, "\nsource      ebpf\n"));
	assert_non_null(strstr(buf, "\nstate       live (heartbeat 0.0s ago)\n"));
	assert_non_null(strstr(buf, "\ninterval    1s\n"));
	assert_non_null(strstr(buf, "\nheld        30 samples in 512 slots (30s)\n"));
	assert_non_null(strstr(buf, "\nlatest      2023-11-14T22:13:50.250Z (0.0s ago)\n"));
	assert_non_null(strstr(buf,
		"\nMETRIC                       LATEST  AVG 10s  AVG 1m (30s held)  AVG 5m (30s held)\n"
		"Percentage CPU                 30.0     25.5               15.5               15.5\n"
		"MemoryUtilizationPercentage    50.0     50.0               50.0               50.0\n"
		"Percentage Steal                  -      1.0                1.0                1.0\n"));
	assert_non_null(strstr(buf,
		"\nTIME                      Percentage CPU  MemoryUtilizationPercentage  Percentage Steal\n"
		"2023-11-14T22:13:49.250Z            29.0                         50.0               1.0\n"
		"2023-11-14T22:13:50.250Z            30.0                         50.0                 -\n"));
	free(buf);
}

/* A ring replaced under the reader is reported as restarted. */
static void test_metrics_restarted(void **state)
{
	struct ring_writer *w2;

	(void)state;
	ring_with(16, 3);
	w2 = make_ring(16);
	summarize(BASE + 3 * NSEC_PER_SEC, false, 0);
	assert_int_equal(s.state, RING_RESTARTED);
	assert_int_equal(s.nstats, 0);
	ring_writer_close(w2);
}

/* Runs metrics_main with stdout sent to a file; returns its exit code and the output. */
static int run(char **out, int argc, ...)
{
	char *argv[16], opath[160];
	va_list ap;
	int i, fd, saved, code;
	FILE *f;
	long n;

	assert_true(argc < 16);
	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	snprintf(opath, sizeof(opath), "%s/out", dir);
	fd = open(opath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	code = metrics_main(&(struct asctl_ctx){ .socket = "/nonexistent" }, argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*out = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(opath);
	return code;
}

static void test_metrics_main(void **state)
{
	json_t *j;
	json_error_t jerr;
	char *out, *nl;

	(void)state;
	w = make_ring(512);
	fill(1, 20);
	assert_int_equal(run(&out, 5, "metrics", "--ring", path, "--json", "--per-cpu"), 0);
	j = json_loads(out, 0, &jerr);
	assert_non_null(j);
	assert_non_null(json_object_get(json_object_get(j, "averages"), "Percentage CPU cpu1"));
	assert_null(json_object_get(j, "samples"));
	json_decref(j);
	free(out);

	/* --watch --json: one object a line per refresh */
	assert_int_equal(run(&out, 10, "metrics", "-r", path, "--json", "--watch", "--interval",
			     "10ms", "--count", "3", "--since=2s"), 0);
	nl = out;
	for (int i = 0; i < 3; i++) {
		char *end = strchr(nl, '\n');

		assert_non_null(end);
		*end = '\0';
		j = json_loads(nl, 0, &jerr);
		assert_non_null(j);
		assert_true(json_is_array(json_object_get(j, "samples")));
		json_decref(j);
		nl = end + 1;
	}
	assert_string_equal(nl, "");
	free(out);

	/* human output, not a terminal: plain frames */
	assert_int_equal(run(&out, 3, "metrics", "--ring", path), 0);
	assert_non_null(strstr(out, "\nMETRIC "));
	assert_null(strchr(out, '\033'));
	free(out);

	assert_int_equal(run(&out, 2, "metrics", "--help"), ASCTL_OK);
	assert_non_null(strstr(out, "usage: asctl metrics"));
	free(out);
}

static void test_metrics_errors(void **state)
{
	static const char junk[2048] = "this is not a ring";
	uint16_t major = RING_VERSION_MAJOR + 1;
	char *out;
	int fd;

	(void)state;
	/* missing */
	assert_int_equal(run(&out, 3, "metrics", "--ring", path), ASCTL_FAIL);
	free(out);
	expect_log(": no such file (is asagent running?)");
	expect_log(path);

	/* corrupt */
	logbuf[0] = '\0';
	testutil_write_file(path, junk, sizeof(junk));
	assert_int_equal(run(&out, 4, "metrics", "--ring", path, "--json"), ASCTL_FAIL);
	assert_string_equal(out, "");
	free(out);
	expect_log("not an ascale ring (bad magic)");

	/* from a newer format */
	logbuf[0] = '\0';
	w = make_ring(16);
	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, &major, sizeof(major), 8), (ssize_t)sizeof(major));
	close(fd);
	assert_int_equal(run(&out, 3, "metrics", "--ring", path), ASCTL_FAIL);
	free(out);
	expect_log("newer than this reader");

	/* usage */
	logbuf[0] = '\0';
	assert_int_equal(run(&out, 2, "metrics", "--bogus"), ASCTL_USAGE);
	free(out);
	expect_log("metrics: unknown option '--bogus'");
	assert_int_equal(run(&out, 3, "metrics", "--since", "soon"), ASCTL_USAGE);
	free(out);
	assert_int_equal(run(&out, 3, "metrics", "--count", "2"), ASCTL_USAGE);
	free(out);
	assert_int_equal(run(&out, 4, "metrics", "--watch", "--count", "0"), ASCTL_USAGE);
	free(out);
	assert_int_equal(run(&out, 2, "metrics", "extra"), ASCTL_USAGE);
	free(out);
	assert_int_equal(run(&out, 2, "metrics", "--ring"), ASCTL_USAGE);
	free(out);
	expect_log("option '--ring' needs a value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metrics_averages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_lapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_stalled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_since, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_restarted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_main, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
