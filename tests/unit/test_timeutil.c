/* test_timeutil: durations and timestamps */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "timeutil.h"

static void test_duration_parse_forms(void **state)
{
	static const struct {
		const char *text;
		int64_t unit;	/* of a bare number */
		int64_t ns;
	} cases[] = {
		{ "100ms", 0, 100 * NSEC_PER_MSEC },
		{ "90s", 0, 90 * NSEC_PER_SEC },
		{ "1h30m", 0, 5400 * NSEC_PER_SEC },
		{ "1h2m3s", 0, 3723 * NSEC_PER_SEC },
		{ "0.5s", 0, 500 * NSEC_PER_MSEC },
		{ " 5m ", 0, 300 * NSEC_PER_SEC },
		{ "250us", 0, 250 * NSEC_PER_USEC },
		{ "5", 60 * NSEC_PER_SEC, 300 * NSEC_PER_SEC },
		{ "2d", 0, 172800 * NSEC_PER_SEC },
	};
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(duration_parse(cases[i].text, cases[i].unit, &ns), 0);
		assert_int_equal(ns, cases[i].ns);
	}
}

static void test_duration_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", " ", "5", "abc", "-5s", "5x", "5 s", "s", "5s5", "1e3s",
		"nan", "inf", "0x10s", "5m 3s", "999999999999d", "1..5s",
	};
	int64_t ns = 42;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = duration_parse(bad[i], 0, &ns);
		assert_true(r == -EINVAL || r == -ERANGE);
		assert_int_equal(ns, 42);
	}
	/* a bare number needs a default unit, and only one part */
	assert_int_equal(duration_parse("5 5", NSEC_PER_SEC, &ns), -EINVAL);
	assert_int_equal(duration_parse("5s5", NSEC_PER_SEC, &ns), -EINVAL);
}

static void test_duration_format(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(duration_format(100 * NSEC_PER_MSEC, buf, sizeof(buf)), "100ms");
	assert_string_equal(duration_format(90 * NSEC_PER_SEC, buf, sizeof(buf)), "1m30s");
	assert_string_equal(duration_format(3600 * NSEC_PER_SEC, buf, sizeof(buf)), "1h");
	assert_string_equal(duration_format(0, buf, sizeof(buf)), "0ms");
	assert_string_equal(duration_format(1500, buf, sizeof(buf)), "1500ns");
}

static void test_rfc3339(void **state)
{
	char buf[40];

	(void)state;
	assert_string_equal(time_format_rfc3339(1798761600LL * NSEC_PER_SEC + 123 * NSEC_PER_MSEC,
						buf, sizeof(buf)),
			    "2027-01-01T00:00:00.123Z");
}

/* doubling from first, capped, each draw between half and all of it; never overflowing */
static void test_backoff(void **state)
{
	int64_t d, lo = INT64_MAX, hi = 0;
	unsigned n, i;

	(void)state;
	for (n = 1; n <= 8; n++) {
		int64_t full = n < 6 ? NSEC_PER_SEC << (n - 1) : 30 * NSEC_PER_SEC;

		for (i = 0; i < 200; i++) {
			d = backoff_delay(NSEC_PER_SEC, 30 * NSEC_PER_SEC, n);
			assert_true(d >= full / 2 && d <= full);
			if (n == 1) {
				lo = d < lo ? d : lo;
				hi = d > hi ? d : hi;
			}
		}
	}
	assert_true(hi - lo > NSEC_PER_SEC / 10);	/* jittered, not one value */
	for (n = 0; n < 200; n += 7) {
		d = backoff_delay(NSEC_PER_SEC, 3600 * NSEC_PER_SEC, n);
		assert_true(d > 0 && d <= 3600 * NSEC_PER_SEC);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse_forms),
		cmocka_unit_test(test_duration_parse_bad),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
