/* test_schedule: the profile in force over time, its changes, and --from times */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "schedule.h"
#include "setting.h"
#include "testutil.h"
#include "tz.h"

#define CONF "tests/data/check/schedule.conf"

struct iv {
	const char *start;	/* RFC 3339 UTC */
	const char *profile;
};

static int64_t at(const char *text)
{
	int64_t t = 0;

	assert_int_equal(schedule_parse_time(text, &t), 0);
	return t;
}

static int64_t changes;

/* Lists [from, until) of setting name and compares with want (ending with a NULL start). */
static void expect_list(const char *name, const char *from, const char *until, const struct iv *want)
{
	struct engine_conf *conf;
	const struct setting *s;
	int64_t t, u = at(until), next;
	int i, k = 0;

	assert_int_equal(setting_conf_load(CONF, NULL, NULL, &conf), 0);
	i = setting_find(conf, name);
	assert_true(i >= 0);
	s = &conf->settings[i];
	for (t = at(from); t < u; t = next, k++) {
		next = schedule_next_change(s, t, u);
		assert_true(next > t);
		if (!want[k].start)
			fail_msg("unexpected interval %d at %lld", k, (long long)t);
		if (t != at(want[k].start))
			fail_msg("interval %d starts at %lld, expected %s (%lld)", k, (long long)t,
				 want[k].start, (long long)at(want[k].start));
		assert_string_equal(s->profiles[schedule_profile(s, t)].name, want[k].profile);
		/* the profile holds through the interval, and differs after it */
		assert_int_equal(schedule_profile(s, next - 1), schedule_profile(s, t));
		if (next < u)
			assert_int_not_equal(schedule_profile(s, next), schedule_profile(s, t));
		changes++;
	}
	assert_null(want[k].start);
	setting_conf_free(conf);
}

/* 2026-03-08: Los Angeles springs forward; 09:00 PDT is 16:00 UTC from Monday */
static void test_dst_spring(void **state)
{
	static const struct iv want[] = {
		{ "2026-03-05T03:00:00Z", "default" },	/* Wed 19:00 PST */
		{ "2026-03-05T17:00:00Z", "peak" },	/* Thu 09:00 PST */
		{ "2026-03-06T02:00:00Z", "default" },	/* Thu 18:00 PST */
		{ "2026-03-06T17:00:00Z", "peak" },	/* Fri */
		{ "2026-03-07T02:00:00Z", "default" },
		{ "2026-03-09T16:00:00Z", "peak" },	/* Mon 09:00 PDT */
		{ "2026-03-10T01:00:00Z", "default" },	/* Mon 18:00 PDT */
		{ NULL, NULL },
	};

	(void)state;
	expect_list("web", "2026-03-05T03:00:00Z", "2026-03-10T12:00:00Z", want);
}

/* 2026-11-01: back to PST; 09:00 is 17:00 UTC again from Monday */
static void test_dst_autumn(void **state)
{
	static const struct iv want[] = {
		{ "2026-10-30T02:00:00Z", "default" },	/* Thu 19:00 PDT */
		{ "2026-10-30T16:00:00Z", "peak" },	/* Fri 09:00 PDT */
		{ "2026-10-31T01:00:00Z", "default" },
		{ "2026-11-02T17:00:00Z", "peak" },	/* Mon 09:00 PST */
		{ "2026-11-03T02:00:00Z", "default" },
		{ NULL, NULL },
	};

	(void)state;
	expect_list("web", "2026-10-30T02:00:00Z", "2026-11-03T12:00:00Z", want);
}

/*
 * Overnight Thu and Fri 22:00-06:00 Berlin (CET, +01:00), and a fixed
 * holiday from Thu 24 Dec 06:00 UTC to Sat 26 Dec 00:00 UTC that overrides it.
 */
static void test_overnight_fixed(void **state)
{
	static const struct iv want[] = {
		{ "2026-12-16T00:00:00Z", "default" },
		{ "2026-12-17T21:00:00Z", "night" },	/* Thu 22:00 CET */
		{ "2026-12-18T05:00:00Z", "default" },	/* Fri 06:00 CET */
		{ "2026-12-18T21:00:00Z", "night" },	/* Fri 22:00 */
		{ "2026-12-19T05:00:00Z", "default" },	/* Sat 06:00 */
		{ "2026-12-24T06:00:00Z", "holiday" },	/* Thu's night is cut by the holiday... */
		{ "2026-12-26T00:00:00Z", "night" },	/* ...and Fri's night resumes after it */
		{ "2026-12-26T05:00:00Z", "default" },
		{ NULL, NULL },
	};

	(void)state;
	expect_list("batch", "2026-12-16", "2026-12-27", want);
}

/* a listing that starts inside a profile, and one that is a single interval */
static void test_edges(void **state)
{
	static const struct iv inside[] = {
		{ "2026-03-09T20:00:00Z", "peak" },
		{ "2026-03-10T01:00:00Z", "default" },
		{ NULL, NULL },
	};
	static const struct iv quiet[] = {
		{ "2026-03-07T03:00:00Z", "default" },
		{ NULL, NULL },
	};

	(void)state;
	expect_list("web", "2026-03-09T20:00:00Z", "2026-03-10T02:00:00Z", inside);
	expect_list("web", "2026-03-07T03:00:00Z", "2026-03-09", quiet);
}

/* a year goes by analytically: a few hundred changes, each checked */
static void test_year(void **state)
{
	struct engine_conf *conf;
	const struct setting *s;
	int64_t t, u, next, n = 0, m;

	(void)state;
	assert_int_equal(setting_conf_load(CONF, NULL, NULL, &conf), 0);
	s = &conf->settings[0];
	u = at("2027-01-01");
	for (t = at("2026-01-01"); t < u; t = next, n++) {
		next = schedule_next_change(s, t, u);
		/* every minute in between keeps the profile (sampled) */
		for (m = t; m < next; m += 7 * 60 + 13)
			assert_int_equal(schedule_profile(s, m), schedule_profile(s, t));
	}
	/* 261 weekdays in 2026, each a peak and a default after it, and the first */
	assert_int_equal(n, 2 * 261 + 1);
	setting_conf_free(conf);
}

static void test_parse_time(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(at("2026-03-08"), 1772928000);
	assert_int_equal(at("2026-03-08T09:00:00Z"), 1772928000 + 9 * 3600);
	assert_int_equal(at("2026-03-08t09:00:00.123z"), 1772928000 + 9 * 3600);
	assert_int_equal(at("2026-03-08T01:00:00-08:00"), 1772928000 + 9 * 3600);
	assert_int_equal(at("2026-03-08T10:30:00+01:30"), 1772928000 + 9 * 3600);
	assert_int_equal(schedule_parse_time("2026-02-30", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("2026-03-08T09:00", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("2026-03-08T09:00:00", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("2026-3-8", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("2026-03-08T25:00:00Z", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("2026-03-08T09:00:00+0100", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("2026-03-08T09:00:00Zx", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("", &t), -EINVAL);
	assert_int_equal(schedule_parse_time("1969-12-31", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dst_spring),
		cmocka_unit_test(test_dst_autumn),
		cmocka_unit_test(test_overnight_fixed),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_year),
		cmocka_unit_test(test_parse_time),
	};

	return testutil_run_then(tests, tz_cleanup);
}
