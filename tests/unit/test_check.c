/* test_check: asctl check's warnings, each on a crafted configuration, with its line */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "log.h"
#include "schedule.h"
#include "setting.h"
#include "testutil.h"
#include "tz.h"

#define DATA "tests/data/check/"

static int64_t now;

static void quiet(int prio, const char *msg, void *user)
{
	(void)prio;
	(void)msg;
	(void)user;
}

static int setup(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	assert_int_equal(schedule_parse_time("2026-03-01", &now), 0);
	return 0;
}

/* How many findings with code at line about setting/profile/rule ("" for none). */
static unsigned count(const struct check_report *rep, const char *code, unsigned line,
		      const char *profile, const char *rule)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (strcmp(rep->f[i].code, code) == 0 && rep->f[i].line == line &&
		    strcmp(rep->f[i].profile, profile) == 0 && strcmp(rep->f[i].rule, rule) == 0)
			n++;
	return n;
}

static void dump(const struct check_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		print_message("%u %s %s/%s: %s\n", rep->f[i].line, rep->f[i].code, rep->f[i].profile,
			      rep->f[i].rule, rep->f[i].message);
}

static struct engine_conf *load(const char *path)
{
	struct engine_conf *conf;

	assert_int_equal(setting_conf_load(path, NULL, NULL, &conf), 0);
	return conf;
}

static void test_warnings(void **state)
{
	struct check_report rep = { 0 };
	struct engine_conf *conf = load(DATA "warnings.conf");

	(void)state;
	assert_int_equal(check_conf(conf, now, &rep), 0);
	dump(&rep);
	assert_int_equal(count(&rep, "flap-risk", 19, "default", "in"), 1);
	assert_non_null(strstr(rep.f[2].message, "at count 2"));
	assert_int_equal(count(&rep, "window-short", 24, "default", "burst"), 1);
	assert_int_equal(count(&rep, "out-unpaired", 24, "default", "burst"), 1);
	assert_int_equal(count(&rep, "no-scale-in", 30, "grow", ""), 1);
	assert_int_equal(count(&rep, "cooldown-short", 36, "grow", "out"), 1);
	assert_int_equal(count(&rep, "rules-idle", 45, "pinned", ""), 1);
	assert_int_equal(count(&rep, "shadowed", 59, "monday-morning", ""), 1);
	assert_int_equal(count(&rep, "past", 66, "old-launch", ""), 1);
	assert_int_equal(count(&rep, "percent-floor", 77, "tiny", "in"), 1);
	assert_int_equal(count(&rep, "to-clamped", 81, "tiny", "out"), 1);
	assert_int_equal(rep.warnings, 7);
	assert_int_equal(rep.notes, 3);
	assert_int_equal(rep.n, 10);
	check_report_free(&rep);
	setting_conf_free(conf);
}

static void test_good(void **state)
{
	struct check_report rep = { 0 };
	struct engine_conf *conf = load(DATA "good.conf");

	(void)state;
	assert_int_equal(check_conf(conf, now, &rep), 0);
	dump(&rep);
	assert_int_equal(rep.n, 0);
	/* the fixed date is in the past a year later: only that */
	assert_int_equal(check_conf(conf, now + 366 * 86400, &rep), 0);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.f[0].code, "past");
	assert_int_equal(rep.f[0].line, 41);
	check_report_free(&rep);
	setting_conf_free(conf);
}

/* The flap estimate's edges: equal thresholds fire only when both are inclusive. */
static void test_flap_edges(void **state)
{
	struct check_report rep = { 0 };
	struct engine_conf *conf = load(DATA "good.conf");
	struct profile *p = &conf->settings[0].profiles[0];
	struct rule *out = &p->rules[0], *in = &p->rules[1];

	(void)state;
	/* count 2 to 1: 35 x 2 / 1 = 70 */
	in->cond.threshold = 35;
	p->min_count = 1;
	assert_int_equal(check_conf(conf, now, &rep), 0);
	assert_int_equal(rep.n, 0);
	in->cond.op = COND_LE;
	out->cond.op = COND_GE;
	assert_int_equal(check_conf(conf, now, &rep), 0);
	assert_int_equal(count(&rep, "flap-risk", 16, "default", "in"), 1);
	check_report_free(&rep);
	/* not at the default count 2, but from 4 to 3 with in 50% (4 -> 2: 40 x 4 / 2 = 80) */
	in->cond.op = COND_LT;
	out->cond.op = COND_GT;
	in->cond.threshold = 40;
	p->count = 3;
	p->min_count = 2;
	in->percent = true;
	in->amount = 50;
	assert_int_equal(check_conf(conf, now, &rep), 0);
	dump(&rep);
	assert_int_equal(count(&rep, "flap-risk", 16, "default", "in"), 1);
	assert_non_null(strstr(rep.f[0].message, "at count 4, a value just under 40 scales in to 2"));
	check_report_free(&rep);
	/* another metric never flaps */
	snprintf(in->cond.metric, sizeof(in->cond.metric), "Memory");
	assert_int_equal(check_conf(conf, now, &rep), 0);
	assert_int_equal(count(&rep, "flap-risk", 16, "default", "in"), 0);
	check_report_free(&rep);
	setting_conf_free(conf);
}

/* The loader's errors, collected with their lines, and daemon keys noted. */
static void test_load(void **state)
{
	struct check_report rep = { 0 };
	struct engine_conf *conf;

	(void)state;
	assert_int_equal(check_load(DATA "invalid.conf", CHECK_LOAD_COLLECT, &rep, &conf), -EINVAL);
	assert_null(conf);
	dump(&rep);
	assert_int_equal(rep.errors, 2);
	assert_int_equal(count(&rep, "invalid", 10, "", ""), 1);
	assert_int_equal(count(&rep, "invalid", 7, "", ""), 1);
	check_report_free(&rep);
	assert_int_equal(check_load(DATA "missing.conf", CHECK_LOAD_COLLECT, &rep, &conf), -ENOENT);
	assert_int_equal(rep.errors, 1);
	assert_int_equal(rep.f[0].line, 0);
	check_report_free(&rep);
	assert_int_equal(check_load("tests/data/engine/full.conf", CHECK_LOAD_NOTE_KEYS, &rep, &conf), 0);
	assert_int_equal(count(&rep, "daemon-key", 4, "", ""), 1);
	assert_int_equal(rep.n, 1);
	check_report_free(&rep);
	setting_conf_free(conf);
	log_set_sink(quiet, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_warnings, setup),
		cmocka_unit_test_setup(test_good, setup),
		cmocka_unit_test_setup(test_flap_edges, setup),
		cmocka_unit_test_setup(test_load, setup),
	};

	return testutil_run_then(tests, tz_cleanup);
}
