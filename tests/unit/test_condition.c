/* test_condition: the az CLI condition grammar, accepted and refused forms */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "condition.h"
#include "timeutil.h"

#define MIN_NS (60 * NSEC_PER_SEC)

static struct condition c;
static char err[256];

static void parse_ok(const char *text)
{
	int r = condition_parse(text, &c, err, sizeof(err));

	if (r != 0)
		fail_msg("'%s' refused: %s", text, err);
}

static void test_basic(void **state)
{
	(void)state;
	parse_ok("Percentage CPU > 70 avg 5m");
	assert_string_equal(c.ns, "");
	assert_string_equal(c.metric, "Percentage CPU");
	assert_int_equal(c.op, COND_GT);
	assert_true(c.threshold == 70);
	assert_int_equal(c.agg, AGG_AVG);
	assert_int_equal(c.period_ns, 5 * MIN_NS);
	assert_int_equal(c.nfilters, 0);
}

static void test_az_examples(void **state)
{
	(void)state;
	parse_ok("Percentage CPU > 75 avg 5m");
	assert_true(c.threshold == 75);
	parse_ok("Percentage CPU < 25 avg 5m");
	assert_int_equal(c.op, COND_LT);
	parse_ok("\"Microsoft.Compute/virtualMachineScaleSets\" Percentage CPU > 75 avg 5m where VMName == vm1 or vm2");
	assert_string_equal(c.ns, "Microsoft.Compute/virtualMachineScaleSets");
	assert_string_equal(c.metric, "Percentage CPU");
	assert_int_equal(c.nfilters, 1);
	assert_string_equal(c.filters[0].dim, "VMName");
	assert_false(c.filters[0].negate);
	assert_int_equal(c.filters[0].nvalues, 2);
	assert_string_equal(cond_filter_value(&c.filters[0], 0), "vm1");
	assert_string_equal(cond_filter_value(&c.filters[0], 1), "vm2");
	/* Azure ML's documented metrics */
	parse_ok("CpuUtilizationPercentage > 70 avg 5m");
	parse_ok("RequestLatency > 70 avg 5m");
	parse_ok("RequestLatency_P99 >= 200 max 10m");
	parse_ok("\"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments\" DeploymentCapacity < 2 min 5m");
	assert_string_equal(c.metric, "DeploymentCapacity");
}

static void test_operators(void **state)
{
	static const struct {
		const char *text;
		enum cond_op op;
	} cases[] = {
		{ "m == 1 avg 1m", COND_EQ }, { "m != 1 avg 1m", COND_NE },
		{ "m > 1 avg 1m", COND_GT }, { "m >= 1 avg 1m", COND_GE },
		{ "m < 1 avg 1m", COND_LT }, { "m <= 1 avg 1m", COND_LE },
		{ "m>=1 avg 1m", COND_GE }, { "m<1 avg 1m", COND_LT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok(cases[i].text);
		assert_int_equal(c.op, cases[i].op);
		assert_string_equal(c.metric, "m");
	}
	assert_true(cond_compare(COND_EQ, 1, 1));
	assert_false(cond_compare(COND_NE, 1, 1));
	assert_true(cond_compare(COND_GT, 2, 1));
	assert_false(cond_compare(COND_GT, 1, 1));
	assert_true(cond_compare(COND_GE, 1, 1));
	assert_true(cond_compare(COND_LT, 0, 1));
	assert_false(cond_compare(COND_LT, 1, 1));
	assert_true(cond_compare(COND_LE, 1, 1));
}

static void test_aggregations(void **state)
{
	static const struct {
		const char *word;
		enum cond_agg agg;
	} cases[] = {
		{ "avg", AGG_AVG }, { "min", AGG_MIN }, { "max", AGG_MAX },
		{ "total", AGG_TOTAL }, { "count", AGG_COUNT }, { "last", AGG_LAST },
		{ "AVG", AGG_AVG }, { "Total", AGG_TOTAL }, { "average", AGG_AVG },
		{ "Minimum", AGG_MIN }, { "maximum", AGG_MAX },
	};
	char text[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "Requests > 10 %s 5m", cases[i].word);
		parse_ok(text);
		assert_int_equal(c.agg, cases[i].agg);
	}
	assert_string_equal(cond_agg_name(AGG_LAST), "last");
	assert_string_equal(cond_op_name(COND_GE), ">=");
}

static void test_periods(void **state)
{
	static const struct {
		const char *p;
		int64_t s;
	} cases[] = {
		{ "5m", 300 }, { "1h", 3600 }, { "90s", 90 }, { "1h30m", 5400 },
		{ "1h0m5s", 3605 }, { "2m30s", 150 }, { "1H", 3600 }, { "10M", 600 },
		{ "12h", 43200 }, { "1s", 1 },
	};
	static const char *const bad[] = {
		"5", "m", "5x", "30m1h", "1m1m", "0m", "0h0m0s", "1.5m", "-5m", "5m ", "",
		"1h2", "9999999h",
	};
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cond_period_parse(cases[i].p, strlen(cases[i].p), &ns), 0);
		assert_int_equal(ns, cases[i].s * NSEC_PER_SEC);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cond_period_parse(bad[i], strlen(bad[i]), &ns) == 0)
			fail_msg("period '%s' accepted", bad[i]);
}

static void test_numbers(void **state)
{
	static const struct {
		const char *s;
		double v;
	} cases[] = {
		{ "70", 70 }, { "70.5", 70.5 }, { "70,5", 70.5 }, { "-3", -3 },
		{ "+2", 2 }, { "0.25", 0.25 }, { ".5", 0.5 }, { "5.", 5 }, { "0", 0 },
	};
	static const char *const bad[] = {
		"", "-", ".", ",", "1.2.3", "1,2,3", "1,2.3", "1e3", "abc", "7O", "0x10", "inf", "nan",
	};
	double v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cond_number_parse(cases[i].s, strlen(cases[i].s), &v), 0);
		assert_true(v == cases[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cond_number_parse(bad[i], strlen(bad[i]), &v) == 0)
			fail_msg("number '%s' accepted", bad[i]);
	parse_ok("Percentage CPU > 70,5 avg 5m");
	assert_true(c.threshold == 70.5);
	parse_ok("m < -1.25 min 1m");
	assert_true(c.threshold == -1.25);
}

static void test_metric_names(void **state)
{
	(void)state;
	parse_ok("Disk Read Bytes/sec > 1000 avg 5m");
	assert_string_equal(c.metric, "Disk Read Bytes/sec");
	parse_ok("Percentage CPU % used: all > 1 avg 5m");
	assert_string_equal(c.metric, "Percentage CPU % used: all");
	parse_ok("   Padded   Name   >1 avg 5m");
	assert_string_equal(c.metric, "Padded   Name");
	parse_ok("a.b_c-d(e) > 1 avg 5m");
	assert_string_equal(c.metric, "a.b_c-d(e)");
	parse_ok("gpu:util > 1 last 30s");
	assert_string_equal(c.metric, "gpu:util");
	assert_int_equal(c.agg, AGG_LAST);
}

static void test_filters(void **state)
{
	const struct cond_filter *f;

	(void)state;
	parse_ok("CPU > 1 avg 5m where instance == a, b ,c or d");
	f = &c.filters[0];
	assert_int_equal(f->nvalues, 4);
	assert_string_equal(cond_filter_value(f, 0), "a");
	assert_string_equal(cond_filter_value(f, 1), "b");
	assert_string_equal(cond_filter_value(f, 2), "c");
	assert_string_equal(cond_filter_value(f, 3), "d");

	parse_ok("CPU > 1 avg 5m WHERE deployment != blue AND instance == i1 OR i2 and zone == 1");
	assert_int_equal(c.nfilters, 3);
	assert_string_equal(c.filters[0].dim, "deployment");
	assert_true(c.filters[0].negate);
	assert_string_equal(cond_filter_value(&c.filters[0], 0), "blue");
	assert_string_equal(c.filters[1].dim, "instance");
	assert_int_equal(c.filters[1].nvalues, 2);
	assert_string_equal(cond_filter_value(&c.filters[1], 1), "i2");
	assert_string_equal(c.filters[2].dim, "zone");

	parse_ok("CPU > 1 avg 5m where instance==a");
	assert_string_equal(c.filters[0].dim, "instance");
	assert_string_equal(cond_filter_value(&c.filters[0], 0), "a");
	parse_ok("CPU > 1 avg 5m where instance == a,b");
	assert_int_equal(c.filters[0].nvalues, 2);
	parse_ok("CPU > 1 avg 5m where instance == *");
	assert_string_equal(cond_filter_value(&c.filters[0], 0), "*");
	/* "or" and "and" as values are values where a value is expected */
	parse_ok("CPU > 1 avg 5m where x == or or and");
	assert_int_equal(c.filters[0].nvalues, 2);
	assert_string_equal(cond_filter_value(&c.filters[0], 0), "or");
	assert_string_equal(cond_filter_value(&c.filters[0], 1), "and");
	/* a dimension name with a space */
	parse_ok("CPU > 1 avg 5m where API name == GetBlob");
	assert_string_equal(c.filters[0].dim, "API name");
	/* "where" is a word, not a prefix */
	parse_ok("CPU > 1 avg 5m   ");
	assert_int_equal(c.nfilters, 0);
}

static void test_limits(void **state)
{
	char text[8192], out[8192];
	struct condition again;
	size_t off;
	int i;

	(void)state;
	off = snprintf(text, sizeof(text), "m > 1 avg 1m where d == v0");
	for (i = 1; i < COND_VALUES_MAX; i++)
		off += snprintf(text + off, sizeof(text) - off, " or v%d", i);
	parse_ok(text);
	assert_int_equal(c.filters[0].nvalues, COND_VALUES_MAX);
	snprintf(text + off, sizeof(text) - off, " or too-many");
	assert_int_equal(condition_parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 16 values"));

	off = snprintf(text, sizeof(text), "m > 1 avg 1m where d0 == v");
	for (i = 1; i < COND_FILTERS_MAX; i++)
		off += snprintf(text + off, sizeof(text) - off, " and d%d == v", i);
	parse_ok(text);
	assert_int_equal(c.nfilters, COND_FILTERS_MAX);
	snprintf(text + off, sizeof(text) - off, " and more == v");
	assert_int_equal(condition_parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 8 dimension filters"));

	memset(text, 'a', 200);
	snprintf(text + 200, sizeof(text) - 200, " > 1 avg 1m");
	assert_int_equal(condition_parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "metric name of at most 127"));

	memset(text, 'a', 1500);
	text[1500] = '\0';
	assert_int_equal(condition_parse(text, &c, err, sizeof(err)), -EINVAL);

	/* the longest text there is */
	memset(text, ' ', COND_TEXT_MAX + 1);
	memcpy(text, "m > 1 avg 1m", 12);
	text[COND_TEXT_MAX + 1] = '\0';
	assert_int_equal(condition_parse(text, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 4096 characters"));

	/*
	 * Every limit at once, values separated by commas: formatting spells
	 * each out as " or ", so the text grows, and must still parse back (the
	 * fuzzer found a condition that did not).
	 */
	off = snprintf(text, sizeof(text), "\"%0126d\" %0127d > 1 avg 1m where", 1, 2);
	for (i = 0; i < COND_FILTERS_MAX; i++) {
		off += snprintf(text + off, sizeof(text) - off, "%s %063d != v%013d", i ? " and" : "", i, 0);
		for (int k = 1; k < COND_VALUES_MAX; k++)
			off += snprintf(text + off, sizeof(text) - off, ",v%013d", k);
	}
	parse_ok(text);
	assert_true(condition_format(&c, out, sizeof(out)) > (int)strlen(text));
	assert_int_equal(condition_parse(out, &again, err, sizeof(err)), 0);
	assert_int_equal(again.nfilters, COND_FILTERS_MAX);
	assert_int_equal(again.filters[7].nvalues, COND_VALUES_MAX);

	off = snprintf(text, sizeof(text), "m > 1 avg 1m where d == ");
	memset(text + off, 'v', 300);
	text[off + 300] = '\0';
	assert_int_equal(condition_parse(text, &c, err, sizeof(err)), -EINVAL);
	/* a tiny error buffer is never overrun */
	assert_int_equal(condition_parse("bad", &c, err, 4), -EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(condition_parse("bad", &c, NULL, 0), -EINVAL);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *text;
		int column;
		const char *expect;
	} cases[] = {
		{ "", 1, "expected a metric name" },
		{ "   ", 4, "expected a metric name" },
		{ "> 70 avg 5m", 1, "expected a metric name" },
		{ "Percentage CPU", 15, "expected an operator" },
		{ "Percentage CPU 70 avg 5m", 25, "expected an operator" },
		{ "CPU = 70 avg 5m", 5, "expected an operator (==, !=, >, >=, <, <=), not '='" },
		{ "CPU => 70 avg 5m", 5, "expected an operator" },
		{ "CPU >> 70 avg 5m", 5, "expected an operator" },
		{ "CPU ! 70 avg 5m", 5, "expected an operator" },
		{ "CPU <> 70 avg 5m", 5, "expected an operator" },
		{ "CPU > avg 5m", 7, "expected a threshold number" },
		{ "CPU > seventy avg 5m", 7, "expected a threshold number (such as 70 or 0.5), not 'seventy'" },
		{ "CPU > 70", 9, "expected an aggregation" },
		{ "CPU > 70 mean 5m", 10, "expected an aggregation (avg, min, max, total, count or last), not 'mean'" },
		{ "CPU > 70 sum 5m", 10, "expected an aggregation" },
		{ "CPU > 70 avg", 13, "expected a period" },
		{ "CPU > 70 avg 5", 14, "expected a period ##h##m##s" },
		{ "CPU > 70 avg 5 m", 14, "expected a period" },
		{ "CPU > 70 avg PT5M", 14, "expected a period" },
		{ "CPU > 70 avg 5m extra", 17, "expected 'where' or the end of the condition, not 'extra'" },
		{ "CPU > 70 avg 5m where", 22, "expected a dimension name after 'where'" },
		{ "CPU > 70 avg 5m where   ", 25, "expected a dimension name after 'where'" },
		{ "CPU > 70 avg 5m wherex a == b", 17, "expected 'where'" },
		{ "CPU > 70 avg 5m where a", 24, "expected == or != after the dimension name" },
		{ "CPU > 70 avg 5m where a > b", 25, "expected == or != in a dimension filter, not '>'" },
		{ "CPU > 70 avg 5m where a = b", 25, "expected == or !=" },
		{ "CPU > 70 avg 5m where a === b", 25, "expected == or !=" },
		{ "CPU > 70 avg 5m where a ==", 27, "expected a value for dimension 'a'" },
		{ "CPU > 70 avg 5m where a == b or", 32, "expected a value" },
		{ "CPU > 70 avg 5m where a == b,", 30, "expected a value" },
		{ "CPU > 70 avg 5m where a == b,,c", 30, "expected a value" },
		{ "CPU > 70 avg 5m where a == b c", 30, "expected 'or', ',' or 'and' after a value, not 'c'" },
		{ "CPU > 70 avg 5m where a == b and", 33, "expected a dimension name after 'and'" },
		{ "CPU > 70 avg 5m where == b", 23, "expected a dimension name" },
		{ "CPU > 70 avg 5m where a == b and c", 35, "expected == or !=" },
		{ "\"ns Percentage CPU > 70 avg 5m", 1, "expected '\"' to close the metric namespace" },
		{ "\"\" CPU > 70 avg 5m", 1, "expected a metric namespace between the quotes" },
		{ "\"ns\"CPU > 70 avg 5m", 5, "expected a space after the metric namespace" },
		{ "\"ns\" > 70 avg 5m", 6, "expected a metric name" },
		{ "CPU\"x > 70 avg 5m", 4, "expected a metric name, not a quote" },
		{ "CPU\x01 > 70 avg 5m", 4, "control character" },
		{ "CPU > 70 avg 5m where a == \"b\"", 28, "expected a value" },
	};
	char want[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (condition_parse(cases[i].text, &c, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].text);
		snprintf(want, sizeof(want), "column %d: ", cases[i].column);
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, cases[i].expect))
			fail_msg("'%s': got '%s', want '%s%s'", cases[i].text, err, want, cases[i].expect);
	}
}

static void test_format_roundtrip(void **state)
{
	static const char *const texts[] = {
		"Percentage CPU > 70 avg 5m",
		"\"Microsoft.Compute/virtualMachineScaleSets\" Percentage CPU > 75 avg 5m where VMName == vm1 or vm2",
		"m <= 0.1 last 1h30m5s where a != x and b == y or z",
		"Disk Read Bytes/sec >= 0.000001 total 45s",
	};
	struct condition again;
	char buf[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (i == 3) {
			parse_ok("Disk Read Bytes/sec >= 0,000001 total 45s");
		} else {
			parse_ok(texts[i]);
		}
		assert_true(condition_format(&c, buf, sizeof(buf)) > 0);
		if (condition_parse(buf, &again, err, sizeof(err)) != 0 && i != 3)
			fail_msg("'%s' does not parse back: %s", buf, err);
		if (i < 3) {
			assert_string_equal(buf, texts[i]);
			assert_memory_equal(&again, &c, sizeof(c));
		}
	}
	parse_ok("m > 1 avg 1m");
	assert_int_equal(condition_format(&c, buf, 5), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_az_examples),
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_aggregations),
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_metric_names),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_format_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
