/* test_simulate: traces replayed through the engine, with exact event sequences */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <jansson.h>

#include "decision.h"
#include "log.h"
#include "setting.h"
#include "simulate.h"
#include "timeutil.h"
#include "trace.h"

#define DATA "tests/data/traces/"
#define S NSEC_PER_SEC
#define T0 1767571200LL		/* Monday 2026-01-05T00:00:00Z */
#define EVENTS_MAX 64

static char events[EVENTS_MAX][160];
static unsigned nevents;
static FILE *json_out;		/* also print the events as JSON lines when set */
static char tmp_csv[64], tmp_conf[64];

static int setup(void **state)
{
	(void)state;
	nevents = 0;
	testutil_log_catch();
	snprintf(tmp_csv, sizeof(tmp_csv), "/tmp/test_simulate.%d.csv", (int)getpid());
	snprintf(tmp_conf, sizeof(tmp_conf), "/tmp/test_simulate.%d.conf", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(tmp_csv);
	unlink(tmp_conf);
	log_set_sink(NULL, NULL);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void add(const struct decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(const struct decision *d, const char *fmt, ...)
{
	char when[40];
	va_list ap;
	int n;

	assert_true(nevents < EVENTS_MAX);
	time_format_rfc3339(d->time_ns, when, sizeof(when));
	/* "HH:MM:SS" is enough in these traces, with the day when it is not 2026-01-05 */
	n = snprintf(events[nevents], sizeof(events[0]), "%s ",
		     strncmp(when, "2026-01-05", 10) == 0 ? when + 11 : when);
	events[nevents][n - 6] = ' ';		/* drop ".000Z" */
	events[nevents][n - 5] = '\0';
	n -= 5;
	va_start(ap, fmt);
	vsnprintf(events[nevents] + n, sizeof(events[0]) - n, fmt, ap);
	va_end(ap);
	nevents++;
}

/* Each event of a tick as one line, in decision_print_events' order. */
static int record(const struct engine_conf *conf, const struct decision *d, void *user)
{
	const struct setting *s = &conf->settings[d->setting];
	const struct profile *p = &s->profiles[d->profile];
	const char *rule = d->rule >= 0 ? p->rules[d->rule].name : "-";

	(void)user;
	if (d->events & EV_PROFILE)
		add(d, "%s profile %s", s->name, p->name);
	if (d->events & EV_MISSING)
		add(d, "%s metrics_missing", s->name);
	if (d->events & EV_RECOVERED)
		add(d, "%s metrics_recovered", s->name);
	if (d->events & EV_SCALE)
		add(d, "%s scale %u->%u %s %s%s%s", s->name, d->before, d->after, cause_name(d->cause),
		    d->cause == CAUSE_RULE ? rule : "-", d->flapping_adjusted ? " adjusted" : "",
		    d->applied ? "" : " dry-run");
	if (d->events & EV_FLAPPING)
		add(d, "%s flapping %u->%u %s", s->name, d->before, d->wanted, rule);
	if (json_out)
		decision_print_events(conf, d, true, json_out);
	return 0;
}

static void expect_events(const char *const *want, unsigned n)
{
	unsigned i;
	char all[EVENTS_MAX * 170] = "";

	for (i = 0; i < nevents; i++) {
		strcat(all, events[i]);
		strcat(all, "\n");
	}
	if (n != nevents)
		fail_msg("expected %u events, got %u:\n%s", n, nevents, all);
	for (i = 0; i < n; i++)
		if (strcmp(events[i], want[i]) != 0)
			fail_msg("event %u: expected '%s', got '%s'; all:\n%s", i, want[i], events[i], all);
}

#define EXPECT(...) do { \
	static const char *const want_[] = { __VA_ARGS__ }; \
	expect_events(want_, sizeof(want_) / sizeof(want_[0])); \
} while (0)

/* Runs conf on trace with o; returns simulate_run's result and keeps the stats and counts. */
static struct simulate_stats stats;
static unsigned final_count[4];

static int run(const char *conf_path, const char *trace_path, const struct simulate_opts *o)
{
	struct engine_conf *conf;
	struct simulate *sim;
	struct trace *t;
	size_t i;
	int r;

	assert_int_equal(setting_conf_load(conf_path, NULL, NULL, &conf), 0);
	assert_int_equal(simulate_new(conf, o, &sim), 0);
	r = trace_open(trace_path, &t);
	if (r == 0) {
		r = simulate_run(sim, t, record, NULL);
		trace_close(t);
	}
	stats = *simulate_stats(sim);
	for (i = 0; i < simulate_conf(sim)->nsettings && i < 4; i++)
		final_count[i] = simulate_count(sim, i);
	simulate_free(sim);
	setting_conf_free(conf);
	return r;
}

/* spike.conf has a daemon key: load a copy without it, as asctl's hook would ignore it */
static void spike_conf(void)
{
	FILE *in = fopen(DATA "spike.conf", "r"), *out = fopen(tmp_conf, "w");
	char line[256];

	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in))
		if (strncmp(line, "listen", 6) != 0)
			fputs(line, out);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* ---- the scenarios ---- */

static void test_spike_and_cooldown(void **state)
{
	struct simulate_opts o = { 0 };

	(void)state;
	spike_conf();
	assert_int_equal(run(tmp_conf, DATA "spike.csv", &o), 0);
	/* 90 % from 00:10: min over 5 m passes 70 at 00:15; the 10 m cooldown holds 00:16..00:24 */
	EXPECT("00:00:00 web profile default",
	       "00:00:00 web metrics_missing",
	       "00:01:00 web metrics_recovered",
	       "00:15:00 web scale 2->3 rule out",
	       "00:25:00 web scale 3->4 rule out");
	assert_int_equal(stats.rows, 60);
	assert_int_equal(stats.ticks, 30);
	assert_int_equal(stats.scales, 2);
	assert_int_equal(stats.late, 0);
	assert_int_equal(stats.first_ns, T0 * S);
	assert_int_equal(stats.last_ns, (T0 + 29 * 60) * S);
	assert_int_equal(final_count[0], 4);
}

static void test_scale_in_flapping(void **state)
{
	struct simulate_opts o = { .has_count = true, .count = 4 };

	(void)state;
	assert_int_equal(run(DATA "flap.conf", DATA "flap.csv", &o), 0);
	/*
	 * 50 %: at 4 instances, in 2 would give 2 (estimate 100 % > 70): the
	 * smallest safe count is 3 (66.7 %).  At 3, in 2 gives 1 (150 %) and 2
	 * (75 %) fires too: flapping, every tick, and no cooldown.
	 */
	EXPECT("00:01:00 web profile default",
	       "00:05:00 web scale 4->3 rule in adjusted",
	       "00:10:00 web flapping 3->1 in",
	       "00:11:00 web flapping 3->1 in");
	assert_int_equal(stats.ticks, 11);
	assert_int_equal(final_count[0], 3);
}

static void test_missing_to_default(void **state)
{
	struct simulate_opts o = {
		.has_count = true, .count = 1, .has_from = true, .from_ns = (T0 + 5 * 60) * S,
	};

	(void)state;
	assert_int_equal(run(DATA "missing.conf", DATA "missing.csv", &o), 0);
	/* CPU stops at 00:10 (only Memory reports): the 5 m window is empty at 00:15 */
	EXPECT("00:05:00 web profile default",
	       "00:15:00 web metrics_missing",
	       "00:15:00 web scale 1->3 missing -",
	       "00:21:00 web metrics_recovered");
	assert_int_equal(stats.ticks, 20);
	assert_int_equal(final_count[0], 3);
}

static void test_profile_clamps(void **state)
{
	struct simulate_opts o = { 0 };

	(void)state;
	assert_int_equal(run(DATA "profile.conf", DATA "profile.csv", &o), 0);
	EXPECT("08:55:00 web profile default",
	       "08:55:00 web metrics_missing",
	       "08:56:00 web metrics_recovered",
	       "09:00:00 web profile peak",
	       "09:00:00 web scale 2->4 clamp -",
	       "10:00:00 web profile default",
	       "10:00:00 web scale 4->3 clamp -");
	assert_int_equal(stats.ticks, 71);
	assert_int_equal(final_count[0], 3);
}

/* The JSON lines decision_print_events gives for the same run. */
static void test_json_lines(void **state)
{
	struct simulate_opts o = { 0 };
	json_error_t err;
	char *buf = NULL, *line, *save;
	size_t len = 0;
	json_t *j;
	unsigned n = 0;

	(void)state;
	json_out = open_memstream(&buf, &len);
	assert_non_null(json_out);
	assert_int_equal(run(DATA "profile.conf", DATA "profile.csv", &o), 0);
	fclose(json_out);
	json_out = NULL;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		j = json_loads(line, 0, &err);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "setting")), "web");
		assert_non_null(json_string_value(json_object_get(j, "time")));
		assert_non_null(json_string_value(json_object_get(j, "profile")));
		if (n == 4) {
			assert_string_equal(json_string_value(json_object_get(j, "time")), "2026-01-05T09:00:00.000Z");
			assert_string_equal(json_string_value(json_object_get(j, "event")), "scale");
			assert_string_equal(json_string_value(json_object_get(j, "cause")), "clamp");
			assert_true(json_is_null(json_object_get(j, "rule")));
			assert_int_equal(json_integer_value(json_object_get(j, "from")), 2);
			assert_int_equal(json_integer_value(json_object_get(j, "to")), 4);
			assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "clamp to 4"));
		}
		json_decref(j);
	}
	assert_int_equal(n, 7);
	free(buf);
}

/* ---- order, bounds and options ---- */

static void test_time_order(void **state)
{
	struct simulate_opts o = { 0 };

	(void)state;
	spike_conf();
	/* any order within a tick; the tick at 00:01 runs when 00:01:10 arrives */
	write_file(tmp_csv, "time,instance,metric,value\n"
		   "1767571200,a,Percentage CPU,50\n"
		   "1767571250,a,Percentage CPU,50\n"
		   "1767571210,a,Percentage CPU,50\n"
		   "1767571270,a,Percentage CPU,50\n"
		   "1767571265,a,Percentage CPU,50\n"
		   "1767571259,a,Percentage CPU,50\n");
	assert_int_equal(run(tmp_conf, tmp_csv, &o), -EINVAL);
	expect_log(":7: time 2026-01-05T00:00:59.000Z: expected samples in time order (any order within one tick), but the tick at 2026-01-05T00:01:00.000Z has run");
	assert_int_equal(stats.rows, 5);
	assert_int_equal(stats.ticks, 2);
}

static void test_from_until(void **state)
{
	struct simulate_opts o = {
		.has_from = true, .from_ns = (T0 + 14 * 60 + 1) * S,
		.has_until = true, .until_ns = (T0 + 20 * 60) * S,
		.has_count = true, .count = 3,
	};

	(void)state;
	spike_conf();
	assert_int_equal(run(tmp_conf, DATA "spike.csv", &o), 0);
	/* ticks 00:15 .. 00:20; samples before --from fill the windows; none after --until is read */
	EXPECT("00:15:00 web profile default",
	       "00:15:00 web scale 3->4 rule out");
	assert_int_equal(stats.ticks, 6);
	assert_int_equal(stats.rows, 2 * 21);
	assert_int_equal(final_count[0], 4);

	/* a bad line after --until is never read */
	nevents = 0;
	write_file(tmp_csv, "time,instance,metric,value\n"
		   "1767571200,a,Percentage CPU,50\n"
		   "1767571320,a,Percentage CPU,50\n"
		   "garbage\n");
	o.has_from = false;
	o.until_ns = (T0 + 60) * S;
	assert_int_equal(run(tmp_conf, tmp_csv, &o), 0);
	assert_int_equal(stats.ticks, 2);
}

static void test_no_samples(void **state)
{
	struct simulate_opts o = { 0 };

	(void)state;
	spike_conf();
	write_file(tmp_csv, "time,instance,metric,value\n# nothing\n");
	assert_int_equal(run(tmp_conf, tmp_csv, &o), -EINVAL);
	expect_log("expected at least one sample (or --from and --until to run without data)");
	/* with both bounds: ticks on no data, metrics missing, the count below the default moves */
	o.has_from = o.has_until = true;
	o.from_ns = T0 * S;
	o.until_ns = (T0 + 120) * S;
	o.has_count = true;
	o.count = 1;
	assert_int_equal(run(tmp_conf, tmp_csv, &o), 0);
	EXPECT("00:00:00 web profile default",
	       "00:00:00 web metrics_missing",
	       "00:00:00 web scale 1->2 missing -");
	assert_int_equal(stats.ticks, 3);
}

static void test_settings(void **state)
{
	struct engine_conf *conf;
	struct simulate *sim;
	struct simulate_opts o = { .setting = "nope" };

	(void)state;
	write_file(tmp_conf,
		   "[coordinator]\nevaluate_every = 1m\n"
		   "[autoscale web]\ndeployment = blue\n"
		   "[profile web default]\nmin_count = 1\nmax_count = 5\ncount = 2\n"
		   "[rule web default out]\ncondition = Percentage CPU > 70 avg 2m\nscale = out 1\n"
		   "[autoscale batch]\ndeployment = green\nenabled = false\nevaluate_every = 30s\n"
		   "[profile batch default]\nmin_count = 0\nmax_count = 10\ncount = 1\n"
		   "[rule batch default peak]\ncondition = queue > 100 max 1m\nscale = to 8\n");
	write_file(tmp_csv, "time,instance,metric,value,deployment\n"
		   "2026-01-05T00:00:00Z,w1,Percentage CPU,90,blue\n"
		   "2026-01-05T00:00:00Z,b1,queue,500,green\n"
		   "2026-01-05T00:01:00Z,w1,Percentage CPU,90,blue\n"
		   "2026-01-05T00:01:00Z,b1,queue,500,green\n"
		   "2026-01-05T00:02:00Z,w1,Percentage CPU,90,blue\n"
		   "2026-01-05T00:02:00Z,b1,queue,500,green\n");
	assert_int_equal(setting_conf_load(tmp_conf, NULL, NULL, &conf), 0);
	assert_int_equal(simulate_new(conf, &o, &sim), -ENOENT);
	o.setting = NULL;
	o.has_from = o.has_until = true;
	o.from_ns = 10 * S;
	o.until_ns = 5 * S;
	assert_int_equal(simulate_new(conf, &o, &sim), -EINVAL);
	setting_conf_free(conf);

	/* both settings, each on its own ticks; the disabled one only says what it would do */
	memset(&o, 0, sizeof(o));
	assert_int_equal(run(tmp_conf, tmp_csv, &o), 0);
	EXPECT("00:00:00 web profile default",
	       "00:00:00 web metrics_missing",
	       "00:00:00 batch profile default",
	       "00:00:00 batch metrics_missing",
	       "00:01:00 web metrics_recovered",
	       "00:01:00 batch metrics_recovered",
	       "00:01:00 batch scale 1->8 rule peak dry-run",
	       "00:01:30 batch scale 1->8 rule peak dry-run",
	       "00:02:00 web scale 2->3 rule out",
	       "00:02:00 batch scale 1->8 rule peak dry-run");
	assert_int_equal(stats.ticks, 3 + 5);
	assert_int_equal(stats.scales, 1);
	assert_int_equal(final_count[0], 3);
	assert_int_equal(final_count[1], 1);

	/* --setting: only that one, indexed 0 in simulate_conf() */
	nevents = 0;
	o.setting = "batch";
	assert_int_equal(run(tmp_conf, tmp_csv, &o), 0);
	assert_int_equal(stats.ticks, 5);
	assert_int_equal(nevents, 6);
	assert_non_null(strstr(events[0], "batch profile default"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spike_and_cooldown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_in_flapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_to_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_clamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_until, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
