/* test_setting_conf: the engine's configuration, loaded and refused with FILE:LINE */
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

#include "conf.h"
#include "log.h"
#include "setting.h"
#include "timeutil.h"
#include "tz.h"

#define DATA "tests/data/engine/"

static int setup(void **state)
{
	(void)state;
	testutil_log_catch();
	return 0;
}

static int extra_keys(struct conf_ctx *c, const char *setting, const char *key,
		      const char *value, void *user)
{
	(void)c;
	(void)value;
	(*(int *)user)++;
	if (!setting && strcmp(key, "listen") == 0)
		return 0;
	return -ENOENT;
}

static void test_full(void **state)
{
	struct engine_conf *conf;
	const struct setting *s;
	const struct profile *p;
	const struct rule *r;
	int extra = 0;

	(void)state;
	assert_int_equal(setting_conf_load(DATA "full.conf", extra_keys, &extra, &conf), 0);
	assert_int_equal(extra, 1);
	assert_int_equal(conf->evaluate_every_ns, 10 * NSEC_PER_SEC);
	assert_int_equal(conf->nsettings, 2);
	s = &conf->settings[0];
	assert_string_equal(s->name, "web");
	assert_string_equal(s->deployment, "blue");
	assert_string_equal(s->endpoint, "my-endpoint");
	assert_string_equal(s->backend, "sim");
	assert_true(s->enabled);
	assert_int_equal(setting_evaluate_every(conf, s), 10 * NSEC_PER_SEC);
	assert_int_equal(s->nprofiles, 3);

	p = setting_default_profile(s);
	assert_non_null(p);
	assert_string_equal(p->name, "default");
	assert_int_equal(p->min_count, 2);
	assert_int_equal(p->max_count, 5);
	assert_int_equal(p->count, 2);
	assert_int_equal(p->nrules, 2);
	r = &p->rules[0];
	assert_string_equal(r->name, "scale-out");
	assert_string_equal(r->cond.metric, "Percentage CPU");
	assert_int_equal(r->kind, SCALE_OUT);
	assert_int_equal(r->amount, 2);
	assert_false(r->percent);
	assert_int_equal(r->cooldown_ns, 300 * NSEC_PER_SEC);
	assert_int_equal(r->grain_ns, 60 * NSEC_PER_SEC);
	assert_int_equal(r->grain_stat, GRAIN_AVG);
	assert_int_equal(r->resource, RESOURCE_DEPLOYMENT);
	r = &p->rules[1];
	assert_int_equal(r->kind, SCALE_IN);
	assert_true(r->percent);
	assert_int_equal(r->amount, 50);
	assert_int_equal(r->cooldown_ns, 90 * NSEC_PER_SEC);
	assert_int_equal(r->resource, RESOURCE_ENDPOINT);
	assert_int_equal(r->cond.nfilters, 1);

	p = &s->profiles[1];
	assert_string_equal(p->name, "weekday-peak");
	assert_int_equal(p->kind, PROFILE_RECURRING);
	assert_int_equal(p->days, 0x3e);
	assert_int_equal(p->start_min, 9 * 60);
	assert_int_equal(p->end_min, 18 * 60);
	assert_int_equal(p->min_count, 6);
	assert_int_equal(p->max_count, 6);
	assert_string_equal(tz_name(p->tz), "America/Los_Angeles");

	p = &s->profiles[2];
	assert_int_equal(p->kind, PROFILE_FIXED);
	/* 2026-12-24 00:00 CET is 2026-12-23 23:00 UTC */
	assert_int_equal(p->fixed_start, civil_to_days(2026, 12, 23) * 86400 + 23 * 3600);
	assert_int_equal(p->fixed_end, civil_to_days(2026, 12, 26) * 86400 + 11 * 3600);

	s = &conf->settings[1];
	assert_false(s->enabled);
	assert_int_equal(setting_evaluate_every(conf, s), NSEC_PER_SEC);
	r = &s->profiles[0].rules[0];
	assert_string_equal(r->cond.ns, "ascale");
	assert_string_equal(r->cond.metric, "queue depth");
	assert_int_equal(r->cond.agg, AGG_LAST);
	assert_int_equal(r->kind, SCALE_TO);
	assert_int_equal(r->amount, 8);
	assert_int_equal(r->grain_stat, GRAIN_MAX);
	assert_int_equal(r->grain_ns, 10 * NSEC_PER_SEC);
	assert_int_equal(setting_find(conf, "batch"), 1);
	assert_int_equal(setting_find(conf, "nope"), -ENOENT);
	setting_conf_free(conf);
}

static void test_errors(void **state)
{
	struct engine_conf *conf = (void *)1;

	(void)state;
	assert_int_equal(setting_conf_load(DATA "errors.conf", NULL, NULL, &conf), -EINVAL);
	assert_null(conf);
	expect_log(DATA "errors.conf:2: evaluate_every: expected a duration from 1s to 1h");
	expect_log(DATA "errors.conf:3: unknown key 'bogus' in [coordinator]");
	expect_log(DATA "errors.conf:7: backend: expected azureml, kubernetes, http, exec or sim, not 'cloud'");
	expect_log(DATA "errors.conf:8: unknown key 'colour' in [autoscale web]");
	expect_log(DATA "errors.conf:16: condition: column 16: expected an operator");
	expect_log(DATA "errors.conf:17: scale: expected out N, in N, out N%, in N% or to N, not 'sideways 2'");
	expect_log(DATA "errors.conf:21: [rule web default r2]: the time grain is longer than the condition's window");
	expect_log(DATA "errors.conf:23: cooldown: expected a duration");
	expect_log(DATA "errors.conf:26: unknown section [nonsense]");
	expect_log(DATA "errors.conf:11: min_count 5 is above max_count 2");
	expect_log(DATA "errors.conf:40: recurrence: expected a day (mon, tue, wed, thu, fri, sat or sun), not 'funday'");
	expect_log(DATA "errors.conf:41: timezone: expected a Windows zone name");
	assert_null(strstr(logbuf, "r1]: expected condition"));	/* no double report */
	/* the overlap is only checked once everything else is right */
	assert_null(strstr(logbuf, "overlaps"));
}

static char tmp_path[64];

static int load_text(const char *text, struct engine_conf **conf)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_setting_conf.%d.conf", (int)getpid());
	testutil_write_text(tmp_path, text);
	logbuf[0] = '\0';
	return setting_conf_load(tmp_path, NULL, NULL, conf);
}

static void expect_error(const char *text, int line, const char *msg)
{
	struct engine_conf *conf;
	char want[512];

	if (load_text(text, &conf) != -EINVAL)
		fail_msg("accepted:\n%s", text);
	assert_null(conf);
	char *at, *eol;

	snprintf(want, sizeof(want), "%s:%d: ", tmp_path, line);
	at = strstr(logbuf, want);
	if (!at)
		fail_msg("expected an error at line %d (%s) in:\n%s", line, msg, logbuf);
	eol = strchr(at, '\n');
	if (eol)
		*eol = '\0';
	if (!strstr(at, msg))
		fail_msg("expected '%s' in '%s'", msg, at);
	unlink(tmp_path);
}

#define HEAD "[autoscale web]\ndeployment = blue\n[profile web default]\ncount = 2\n"

static void test_semantic_errors(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *msg;
	} cases[] = {
		{ HEAD "[profile web x]\ncount = 2\nstart = 2026-12-24\nend = 2026-12-26\n"
		  "[profile web y]\ncount = 2\nstart = 2026-12-25 12:00\nend = 2026-12-27\n",
		  11, "profile 'y' overlaps fixed-date profile 'x'" },
		{ "[autoscale web]\ndeployment = blue\n[profile web peak]\ncount = 2\nrecurrence = week sat\n",
		  2, "autoscale setting 'web': expected a [profile web default] section" },
		{ "[profile web default]\ncount = 2\n", 2, "expected an [autoscale web] section with deployment" },
		{ HEAD "min_count = 3\n", 5, "min_count 3 is above max_count 2" },
		{ HEAD "min_count = 3\nmax_count = 4\n",
		  4, "count 2: expected a default count from min_count 3 to max_count 4" },
		{ "[autoscale web]\ndeployment = blue\n[profile web default]\nmin_count = 1\n",
		  4, "expected count = N" },
		{ HEAD "start = 09:00\n", 5, "the default profile applies whenever no other does" },
		{ HEAD "[profile web x]\ncount = 2\n", 6, "expected recurrence or start and end" },
		{ HEAD "[profile web x]\ncount = 2\nstart = 2026-01-01\n",
		  7, "a fixed-date profile: expected both start and end" },
		{ HEAD "[profile web x]\ncount = 2\nstart = 2026-01-02\nend = 2026-01-01\n",
		  8, "end: expected a time after start" },
		{ HEAD "[profile web x]\ncount = 2\nrecurrence = week mon\nstart = 2026-01-01\n",
		  8, "a recurring profile: expected start and end as HH:MM" },
		{ HEAD "[profile web x]\ncount = 2\nrecurrence = mon\n", 7, "recurrence: expected 'week' and days" },
		{ HEAD "[profile web x]\ncount = 2\nrecurrence = week mon\nstart = 25:00\n",
		  8, "start: expected HH:MM (recurring) or YYYY-MM-DD" },
		{ HEAD "[profile web x]\ncount = 2\nrecurrence = week mon\nstart = 24:00\n",
		  8, "start: expected a time from 00:00 to 23:59" },
		{ HEAD "[profile web x]\ncount = 2\nstart = 2026-02-30\nend = 2026-03-02\n",
		  7, "start: expected HH:MM" },
		{ HEAD "[rule web default r]\nscale = out 1\n", 6, "expected condition = ..." },
		{ HEAD "[rule web default r]\ncondition = CPU > 1 avg 5m\n", 6, "expected scale = out N" },
		{ HEAD "[rule web nope r]\ncondition = CPU > 1 avg 5m\nscale = in 1\n",
		  6, "expected a [profile web nope] section" },
		{ HEAD "[rule web default r]\ncondition = CPU > 1 avg 48h\nscale = in 1\ntimegrain = avg 1s\n",
		  8, "expected at most 86400 grains" },
		{ HEAD "count = 3\n", 5, "count: given twice in this section" },
		{ HEAD "[rule web default r]\nscale = out 0\n", 6, "scale: expected a change from 1 to 1000" },
		{ HEAD "[rule web default r]\nscale = out 101%\n", 6, "scale: expected a percentage from 1 to 100" },
		{ HEAD "[rule web default r]\nscale = to 5%\n", 6, "scale: expected out N" },
		{ HEAD "[rule web default r]\nscale = out -1\n", 6, "scale: expected out N" },
		{ HEAD "[rule web default r]\ntimegrain = mean 1m\n", 6, "timegrain: expected a statistic" },
		{ HEAD "[rule web default r]\nresource = vm\n", 6, "resource: expected deployment or endpoint" },
		{ HEAD "[rule web default r]\nwindow = 5m\n", 6, "unknown key 'window' in a rule" },
		{ HEAD "[rule web default bad/name]\nscale = in 1\n", 6, "expected names of letters" },
		{ HEAD "[autoscale]\ndeployment = x\n", 6, "unknown section [autoscale]" },
		{ HEAD "max_count = 1001\n", 5, "max_count: expected a whole number from 0 to 1000" },
		{ HEAD "[profile web x]\ncount = 2\nrecurrence = week mon\nstart = 10:00\nend = 10:00\n",
		  9, "end: expected a time other than start" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, cases[i].line, cases[i].msg);
}

static void test_scale_forms(void **state)
{
	static const struct {
		const char *v;
		enum scale_kind k;
		bool percent;
		unsigned n;
	} cases[] = {
		{ "out 2", SCALE_OUT, false, 2 }, { "in 1", SCALE_IN, false, 1 },
		{ "out 50%", SCALE_OUT, true, 50 }, { "in 10 %", SCALE_IN, true, 10 },
		{ "in 25 percent", SCALE_IN, true, 25 }, { "to 0", SCALE_TO, false, 0 },
		{ "TO 7", SCALE_TO, false, 7 },
	};
	struct engine_conf *conf;
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), HEAD "min_count = 0\nmax_count = 10\n[rule web default r]\n"
			 "condition = CPU > 1 avg 5m\nscale = %s\ncooldown = 1h\n", cases[i].v);
		if (load_text(text, &conf) != 0)
			fail_msg("'%s' refused: %s", cases[i].v, logbuf);
		assert_int_equal(conf->settings[0].profiles[0].rules[0].kind, cases[i].k);
		assert_int_equal(conf->settings[0].profiles[0].rules[0].percent, cases[i].percent);
		assert_int_equal(conf->settings[0].profiles[0].rules[0].amount, cases[i].n);
		assert_int_equal(conf->settings[0].profiles[0].rules[0].cooldown_ns, 3600 * NSEC_PER_SEC);
		setting_conf_free(conf);
		unlink(tmp_path);
	}
}

static void test_limits(void **state)
{
	struct engine_conf *conf;

	(void)state;
	assert_int_equal(setting_conf_load(DATA "limits.conf", NULL, NULL, &conf), -EINVAL);
	expect_log("limits.conf:36: expected at most 10 rules in profile 'default'");
	assert_null(strstr(logbuf, "limits.conf:37:"));	/* once a section */
	expect_log("limits.conf:134: expected at most 20 profiles in autoscale setting 'web'");
	assert_null(strstr(logbuf, "limits.conf:135:"));
	assert_int_equal(setting_conf_load(DATA "missing_default.conf", NULL, NULL, &conf), -EINVAL);
	expect_log("missing_default.conf:2: autoscale setting 'web': expected a [profile web default] section");
	assert_int_equal(setting_conf_load(DATA "no-such-file.conf", NULL, NULL, &conf), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_full, setup),
		cmocka_unit_test_setup(test_errors, setup),
		cmocka_unit_test_setup(test_semantic_errors, setup),
		cmocka_unit_test_setup(test_scale_forms, setup),
		cmocka_unit_test_setup(test_limits, setup),
	};

	return testutil_run_then(tests, tz_cleanup);
}
