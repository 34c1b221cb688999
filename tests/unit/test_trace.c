/* test_trace: the CSV trace reader: headers, times, numbers, quoting and FILE:LINE errors */
#include <errno.h>
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

#include "testutil.h"

#include "log.h"
#include "timeutil.h"
#include "trace.h"

#define S NSEC_PER_SEC
#define T0 1767571200LL		/* 2026-01-05T00:00:00Z */

static char path[64];

static int setup(void **state)
{
	(void)state;
	testutil_log_catch();
	snprintf(path, sizeof(path), "/tmp/test_trace.%d.csv", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	log_set_sink(NULL, NULL);
	return 0;
}

static void write_text(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct trace *open_text(const char *text)
{
	struct trace *t;

	write_text(text, strlen(text));
	assert_int_equal(trace_open(path, &t), 0);
	return t;
}

/* The error the trace gives (header or first bad row), and that the log says FILE:line: what. */
static void expect_error(const char *text, unsigned line, const char *what)
{
	struct trace_row row;
	struct trace *t;
	char where[96];
	int r;

	logbuf[0] = '\0';
	write_text(text, strlen(text));
	r = trace_open(path, &t);
	if (r == 0) {
		while ((r = trace_next(t, &row)) > 0)
			;
		assert_true(r < 0);
		assert_true(trace_next(t, &row) < 0);	/* stays failed */
		trace_close(t);
	}
	assert_int_equal(r, -EINVAL);
	if (line)
		snprintf(where, sizeof(where), "%s:%u: ", path, line);
	else
		snprintf(where, sizeof(where), "%s: ", path);
	expect_log(where);
	expect_log(what);
}

/* A malloc'ed text: head, n times c, then tail. */
static char *text_with_run(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head);
	char *text = malloc(h + n + strlen(tail) + 1);

	assert_non_null(text);
	memcpy(text, head, h);
	memset(text + h, c, n);
	strcpy(text + h + n, tail);
	return text;
}

/* ---- numbers and times ---- */

static void test_numbers(void **state)
{
	static const struct { const char *s; double v; } good[] = {
		{ "57.3", 57.3 }, { "-1e3", -1000 }, { "+0.5", 0.5 }, { "1E-2", 0.01 }, { "0", 0 },
		{ "007", 7 }, { "12.", 12 }, { ".25", 0.25 }, { "1.5e+2", 150 },
		{ "123456789012345678901234", 123456789012345678901234.0 },
		{ "0.000000000000000000000000001", 1e-27 }, { "9007199254740993", 9007199254740993.0 },
	};
	static const char *const bad[] = {
		"", "x", "1.2.3", "nan", "inf", "1e", "--1", "0x10", "1e400", "-", ".", "1 2", "1,5", "e5",
	};
	char buf[64];
	double v, w;
	size_t i;
	unsigned seed = 1;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(trace_parse_number(good[i].s, strlen(good[i].s), &v), 0);
		assert_true(v == good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (trace_parse_number(bad[i], strlen(bad[i]), &v) == 0)
			fail_msg("'%s' parsed as %g", bad[i], v);
	/* correctly rounded, as strtod, on every path */
	for (i = 0; i < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		w = (double)(seed % 1000000) / pow(10, seed % 9) * (i % 2 ? 1 : -1);
		snprintf(buf, sizeof(buf), i % 3 ? "%.17g" : "%.6f", w);
		assert_int_equal(trace_parse_number(buf, strlen(buf), &v), 0);
		if (v != strtod(buf, NULL))
			fail_msg("%s: %.17g, strtod %.17g", buf, v, strtod(buf, NULL));
	}
	/* only s[0..n) is read */
	assert_int_equal(trace_parse_number("42junk", 2, &v), 0);
	assert_true(v == 42);
}

static void test_times(void **state)
{
	static const struct { const char *s; int64_t ns; } good[] = {
		{ "2026-01-05T00:00:00Z", T0 * S },
		{ "2026-01-05t00:00:00z", T0 * S },
		{ "2026-01-05 00:00:00Z", T0 * S },
		{ "2026-01-05T00:00:00", T0 * S },		/* no zone: UTC */
		{ "2026-01-05T00:00:00.5Z", T0 * S + S / 2 },
		{ "2026-01-05T00:00:00.123456789Z", T0 * S + 123456789 },
		{ "2026-01-05T00:00:00.1234567891Z", T0 * S + 123456789 },	/* past ns: cut */
		{ "2026-01-05T02:00:00+02:00", T0 * S },
		{ "2026-01-04T18:30:00.250-05:30", T0 * S + S / 4 },
		{ "2024-02-29T12:00:00Z", 1709208000LL * S },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1767571200", T0 * S },
		{ "1767571200.25", T0 * S + S / 4 },
		{ "0", 0 },
	};
	static const char *const bad[] = {
		"", "abc", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-01-05T24:00:00Z", "2026-01-05T10:60:00Z", "2026-01-05T10:00Z", "2026-01-05",
		"2026-01-05X10:00:00Z", "1969-12-31T23:59:59Z", "2026-01-05T10:00:00+2:00",
		"2026-01-05T10:00:00+02", "2026-01-05T10:00:00+24:00", "2026-01-05T10:00:00Zx",
		"2026-01-05T10:00:00.Z", "2026-1-05T10:00:00Z", "-5", "1e9", "12.", ".5", "1767571200 ",
		"99999999999", "2300-01-01T00:00:00Z", "+1767571200",
	};
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (trace_parse_time(good[i].s, strlen(good[i].s), &ns) < 0)
			fail_msg("'%s' refused", good[i].s);
		if (ns != good[i].ns)
			fail_msg("'%s': %lld, expected %lld", good[i].s, (long long)ns, (long long)good[i].ns);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (trace_parse_time(bad[i], strlen(bad[i]), &ns) == 0)
			fail_msg("'%s' parsed as %lld", bad[i], (long long)ns);
}

/* ---- headers and rows ---- */

static void test_header_minimal(void **state)
{
	struct trace *t = open_text("time,instance,metric,value\n"
				    "2026-01-05T00:00:00Z,vm1,Percentage CPU,57.5\n"
				    "1767571201,vm2,Percentage CPU,12\n"
				    "1767571202,vm1,Memory,3\n");
	struct trace_instance ti;
	struct trace_row row;

	(void)state;
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.t_ns, T0 * S);
	assert_true(row.value == 57.5);
	assert_int_equal(row.line, 2);
	assert_int_equal(row.instance, 0);
	assert_int_equal(row.metric, 0);
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.instance, 1);
	assert_int_equal(row.metric, 0);
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.instance, 0);
	assert_int_equal(row.metric, 1);
	assert_int_equal(row.line, 4);
	assert_int_equal(trace_next(t, &row), 0);
	assert_int_equal(trace_next(t, &row), 0);
	assert_int_equal(trace_instances(t), 2);
	assert_int_equal(trace_metrics(t), 2);
	assert_string_equal(trace_metric(t, 0), "Percentage CPU");
	assert_string_equal(trace_metric(t, 1), "Memory");
	assert_null(trace_metric(t, 2));
	assert_int_equal(trace_instance(t, 1, &ti), 0);
	assert_string_equal(ti.name, "vm2");
	assert_string_equal(ti.deployment, "");
	assert_string_equal(ti.endpoint, "");
	assert_int_equal(ti.nlabels, 0);
	assert_int_equal(trace_instance(t, 2, &ti), -ENOENT);
	trace_close(t);
}

static void test_header_any_order_and_labels(void **state)
{
	struct trace *t = open_text("# a comment before the header\n"
				    "\n"
				    " Value , zone ,ENDPOINT,metric,Instance,rack,Time, deployment\n"
				    "1.5,west,ep,cpu,vm1,r1,1767571200,blue\n"
				    "2.5,,ep,cpu,vm1,r1,1767571201,blue\n"
				    "3.5,west,ep,cpu,vm1,r1,1767571202,green\n"
				    "4.5,west,ep,cpu,vm1,r1,1767571203,blue\n");
	struct trace_instance ti;
	struct trace_row row;

	(void)state;
	assert_int_equal(trace_next(t, &row), 1);
	assert_true(row.value == 1.5);
	assert_int_equal(row.t_ns, T0 * S);
	assert_int_equal(row.line, 4);
	assert_int_equal(trace_instance(t, row.instance, &ti), 0);
	assert_string_equal(ti.name, "vm1");
	assert_string_equal(ti.deployment, "blue");
	assert_string_equal(ti.endpoint, "ep");
	assert_int_equal(ti.nlabels, 2);
	assert_string_equal(ti.labels[0].key, "zone");
	assert_string_equal(ti.labels[0].value, "west");
	assert_string_equal(ti.labels[1].key, "rack");
	assert_string_equal(ti.labels[1].value, "r1");
	/* an empty label cell: the instance has no such label (another id) */
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.instance, 1);
	assert_int_equal(trace_instance(t, 1, &ti), 0);
	assert_int_equal(ti.nlabels, 1);
	assert_string_equal(ti.labels[0].key, "rack");
	/* another deployment: another instance */
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.instance, 2);
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.instance, 0);
	assert_int_equal(trace_next(t, &row), 0);
	trace_close(t);
}

static void test_comments_blank_crlf_quotes(void **state)
{
	struct trace *t = open_text("time,instance,metric,value,note\r\n"
				    "# comment\r\n"
				    "   # indented comment\n"
				    "\r\n"
				    "   \t \n"
				    "1767571200,vm1,cpu,1,plain\r\n"
				    "1767571201 , \"vm,2\" ,\"Percentage CPU\",\"2\",\"say \"\"hi\"\"\"\r\n"
				    "1767571202,\"\",cpu,3,x\n");
	struct trace_instance ti;
	struct trace_row row;

	(void)state;
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.line, 6);
	assert_int_equal(trace_instance(t, row.instance, &ti), 0);
	assert_string_equal(ti.name, "vm1");
	assert_string_equal(ti.labels[0].value, "plain");
	assert_int_equal(trace_next(t, &row), 1);
	assert_int_equal(row.line, 7);
	assert_true(row.value == 2);
	assert_int_equal(row.t_ns, (T0 + 1) * S);
	assert_string_equal(trace_metric(t, row.metric), "Percentage CPU");
	assert_int_equal(trace_instance(t, row.instance, &ti), 0);
	assert_string_equal(ti.name, "vm,2");
	assert_string_equal(ti.labels[0].value, "say \"hi\"");
	/* a quoted empty instance is still empty */
	assert_int_equal(trace_next(t, &row), -EINVAL);
	expect_log(":8: expected an instance name");
	trace_close(t);
}

static void test_last_line_without_newline(void **state)
{
	struct trace *t = open_text("time,instance,metric,value\n1767571200,vm1,cpu,7");
	struct trace_row row;

	(void)state;
	assert_int_equal(trace_next(t, &row), 1);
	assert_true(row.value == 7);
	assert_int_equal(trace_next(t, &row), 0);
	trace_close(t);
}

/* Lines that straddle the 1 MiB read buffer, many instances, stable ids. */
static void test_large(void **state)
{
	size_t cap = 4 << 20, n = 0;
	char *text = malloc(cap);
	struct trace_instance ti;
	struct trace_row row;
	struct trace *t;
	unsigned i, rows = 0;

	(void)state;
	assert_non_null(text);
	n += (size_t)sprintf(text, "time,instance,metric,value\n");
	for (i = 0; n + 100 < cap; i++)
		n += (size_t)sprintf(text + n, "%lld.%03u,vm-%05u,Percentage CPU,%u.%u\n",
				     (long long)T0 + i / 1000, i % 1000, i % 5000, i % 100, i % 10);
	write_text(text, n);
	free(text);
	assert_int_equal(trace_open(path, &t), 0);
	while (trace_next(t, &row) == 1) {
		assert_int_equal(row.instance, rows % 5000);
		assert_int_equal(row.t_ns, (T0 + rows / 1000) * S + rows % 1000 * NSEC_PER_MSEC);
		assert_true(fabs(row.value - (rows % 100 + (rows % 10) / 10.0)) < 1e-9);
		assert_int_equal(row.line, rows + 2);
		rows++;
	}
	assert_int_equal(rows, i);
	assert_int_equal(trace_instances(t), 5000);
	assert_int_equal(trace_instance(t, 4321, &ti), 0);
	assert_string_equal(ti.name, "vm-04321");
	trace_close(t);
}

static void test_header_errors(void **state)
{
	(void)state;
	expect_error("", 0, "expected a header line");
	expect_error("# only a comment\n\n", 0, "expected a header line");
	expect_error("# c\ntime,instance,metric\n", 2, "no 'value' column");
	expect_error("instance,metric,value\n", 1, "no 'time' column");
	expect_error("time,instance,metric,value,Time\n", 1, "column 5: 'time' given twice");
	expect_error("time,instance,metric,value,zone,ZONE\n", 1, "column 6: 'ZONE' given twice");
	expect_error("time,instance,,metric,value\n", 1, "column 3: expected a column name");
	expect_error("time,instance,metric,value,\"unterminated\n", 1, "expected a closing '\"'");
	expect_error("time,instance,metric,value,\"a\"b\n", 1, "field 5: expected ',' after the closing '\"'");
	expect_error("time,instance,metric,value,a123456789012345678901234567890123456789012345678901234567890123\n",
		     1, "column 5: expected a label name of at most 63 bytes");
}

static void test_row_errors(void **state)
{
	char *text;

	(void)state;
	expect_error("time,instance,metric,value\n1767571200,vm1,cpu\n", 2,
		     "expected 4 fields as in the header, found 3");
	expect_error("time,instance,metric,value\n1767571200,vm1,cpu,1,2\n", 2,
		     "expected 4 fields as in the header, found 5");
	expect_error("time,instance,metric,value\n# c\n1767571200,vm1,cpu,1\n1767571200,vm1,cpu,x1\n", 4,
		     "value: expected a finite number, not 'x1'");
	expect_error("time,instance,metric,value\n1767571200,vm1,cpu,\n", 2,
		     "value: expected a finite number, not ''");
	expect_error("time,instance,metric,value\n1767571200,vm1,cpu,nan\n", 2, "not 'nan'");
	expect_error("time,instance,metric,value\n\n2026-01-05T25:00:00Z,vm1,cpu,1\n", 3,
		     "time: expected RFC 3339 (2026-01-05T10:00:00Z) or Unix seconds from 1970 on, not '2026-01-05T25:00:00Z'");
	expect_error("time,instance,metric,value\r\nyesterday,vm1,cpu,1\r\n", 2, "not 'yesterday'");
	expect_error("time,instance,metric,value\n1767571200,,cpu,1\n", 2, "expected an instance name");
	expect_error("time,instance,metric,value\n1767571200,vm1,,1\n", 2, "expected a metric name");
	expect_error("time,instance,metric,value\n1767571200,vm1,\"cpu,1\n", 2, "expected a closing '\"'");
	expect_error("time,instance,metric,value\n1767571200,vm1,cpu,\"1\"x\n", 2, "field 4: expected ','");
	/* control bytes are not shown raw */
	expect_error("time,instance,metric,value\n1767571200,vm1,cpu,1\x1b[2J\n", 2, "not '1?[2J'");

	/* an overlong line: with its number, even in the middle of the file */
	text = text_with_run("time,instance,metric,value\n1767571200,vm1,cpu,1\n1767571200,", 'x', TRACE_LINE_MAX,
			     ",cpu,1\n1767571200,vm1,cpu,1\n");
	expect_error(text, 3, "expected a line of at most 4096 bytes");
	/* and as the last line, without a newline */
	text[strlen(text) - strlen("\n1767571200,vm1,cpu,1\n") + 1] = '\0';
	text[strlen(text) - 1] = '\0';
	expect_error(text, 3, "expected a line of at most 4096 bytes");
	free(text);
	/* long names */
	text = text_with_run("time,instance,metric,value\n1767571200,", 'i', 256, ",cpu,1\n");
	expect_error(text, 2, "expected an instance name of at most 255 bytes");
	free(text);
	text = text_with_run("time,instance,metric,value\n1767571200,vm1,", 'm', 128, ",1\n");
	expect_error(text, 2, "expected a metric name of at most 127 bytes");
	free(text);
}

static void test_unknown_file(void **state)
{
	struct trace *t;

	(void)state;
	assert_int_equal(trace_open("/nonexistent/trace.csv", &t), -ENOENT);
	assert_null(t);
	expect_log("/nonexistent/trace.csv: cannot open");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_minimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_any_order_and_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments_blank_crlf_quotes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_line_without_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
