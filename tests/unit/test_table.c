/* test_table: aligned tables for asctl's human output, checked byte for byte */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

/* Prints t into a string the caller frees; *ret gets table_print's result. */
static char *render(const struct table *t, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = table_print(t, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void expect(const struct table *t, const char *want)
{
	char *got;
	int ret;

	got = render(t, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_table_left_right(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	assert_int_equal(table_column(t, "NAME", TABLE_LEFT), 0);
	assert_int_equal(table_column(t, "VALUE", TABLE_RIGHT), 0);
	assert_int_equal(table_column(t, "NOTE", TABLE_LEFT), 0);
	table_row(t), table_cell(t, "Percentage CPU"), table_cell(t, "12.3"), table_cell(t, "ok");
	table_row(t), table_cell(t, "x"), table_cell(t, "100.0"), table_cell(t, "a longer note");
	expect(t,
	       "NAME            VALUE  NOTE\n"
	       "Percentage CPU   12.3  ok\n"
	       "x               100.0  a longer note\n");
	table_free(t);
}

static void test_table_auto(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	table_column(t, "WHO", TABLE_AUTO);
	table_column(t, "N", TABLE_AUTO);
	table_column(t, "HELD", TABLE_AUTO);
	table_column(t, "PCT", TABLE_AUTO);
	table_row(t), table_cell(t, "vm-1"), table_cell(t, "7"), table_cell(t, "4m12s"), table_cell(t, "5%");
	table_row(t), table_cell(t, "vm-22"), table_cell(t, "-"), table_cell(t, "10s"), table_cell(t, "99.5%");
	table_row(t), table_cell(t, "3"), table_cell(t, "-1e3"), table_cell(t, NULL), table_cell(t, "");
	expect(t,
	       "WHO       N   HELD    PCT\n"
	       "vm-1      7  4m12s     5%\n"
	       "vm-22     -    10s  99.5%\n"
	       "3      -1e3      -\n");
	table_free(t);
}

static void test_table_no_headings(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	table_column(t, NULL, TABLE_LEFT);
	table_column(t, NULL, TABLE_LEFT);
	table_row(t), table_cell(t, "ring"), table_cell(t, "/run/ascale/asagent.ring");
	table_row(t), table_cell(t, "deployment"), table_cell(t, "blue");
	expect(t,
	       "ring        /run/ascale/asagent.ring\n"
	       "deployment  blue\n");
	table_free(t);
}

/* Short rows print empty cells and no trailing blanks. */
static void test_table_short_rows(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	table_column(t, "A", TABLE_LEFT);
	table_column(t, "B", TABLE_LEFT);
	table_column(t, "C", TABLE_RIGHT);
	table_row(t), table_cell(t, "one");
	table_row(t), table_cell(t, "two"), table_cell(t, ""), table_cell(t, "3");
	table_row(t), table_cell(t, "x"), table_cell(t, "bb");
	expect(t,
	       "A    B   C\n"
	       "one\n"
	       "two      3\n"
	       "x    bb\n");
	table_free(t);
}

/* Widths count code points; control characters and bad UTF-8 become '?'. */
static void test_table_text(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	table_column(t, "NAME", TABLE_LEFT);
	table_column(t, "V", TABLE_RIGHT);
	table_row(t), table_cell(t, "caf\xc3\xa9"), table_cellf(t, "%d", 1);
	table_row(t), table_cell(t, "a\tb\033[2J"), table_cellf(t, "%.1f", 2.25);
	table_row(t), table_cell(t, "\xff\xc3"), table_cell(t, "10");
	expect(t,
	       "NAME       V\n"
	       "caf\xc3\xa9       1\n"
	       "a?b?[2J  2.2\n"
	       "??        10\n");
	table_free(t);
}

static void test_table_heading_wider(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	table_column(t, "METRIC", TABLE_LEFT);
	table_column(t, "AVG 5m (4m12s held)", TABLE_RIGHT);
	table_row(t), table_cell(t, "cpu"), table_cell(t, "9.8");
	expect(t,
	       "METRIC  AVG 5m (4m12s held)\n"
	       "cpu                     9.8\n");
	table_free(t);
}

static void test_table_errors(void **state)
{
	struct table *t;
	char *out;
	int ret;

	(void)state;
	/* no columns */
	assert_int_equal(table_init(&t), 0);
	assert_int_equal(table_row(t), -EINVAL);
	out = render(t, &ret);
	assert_int_equal(ret, -EINVAL);
	free(out);
	table_free(t);

	/* a cell past the last column, or before any row, is kept as the error */
	assert_int_equal(table_init(&t), 0);
	assert_int_equal(table_column(t, "A", TABLE_LEFT), 0);
	assert_int_equal(table_cell(t, "no row"), -EINVAL);
	table_row(t);
	assert_int_equal(table_cell(t, "a"), 0);
	assert_int_equal(table_cell(t, "b"), -EINVAL);
	out = render(t, &ret);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(out, "");
	free(out);
	table_free(t);

	/* columns only before rows; bad alignment */
	assert_int_equal(table_init(&t), 0);
	assert_int_equal(table_column(t, "A", (enum table_align)7), -EINVAL);
	table_free(t);
	assert_int_equal(table_init(&t), 0);
	table_column(t, "A", TABLE_LEFT);
	table_row(t);
	assert_int_equal(table_column(t, "B", TABLE_LEFT), -EINVAL);
	table_free(t);
	table_free(NULL);
}

/* A table with headings and no rows prints the heading line alone. */
static void test_table_empty(void **state)
{
	struct table *t;

	(void)state;
	assert_int_equal(table_init(&t), 0);
	table_column(t, "NAME", TABLE_AUTO);
	table_column(t, "VALUE", TABLE_AUTO);
	expect(t, "NAME  VALUE\n");
	table_free(t);
}

static void test_table_numeric(void **state)
{
	static const char *const yes[] = {
		"0", "12", "-3", "+4", "12.5", ".5", "99.9%", "4m12s", "300ms", "1e3", "2.5E-3", "16GiB",
	};
	static const char *const no[] = {
		"", "-", "abc", "vm-3", "2024-01-01T00:00:00.000Z", "1-2", "12 s", "nan", "inf", "e3",
		"1.2.3.4:80",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(table_numeric(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(table_numeric(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_left_right),
		cmocka_unit_test(test_table_auto),
		cmocka_unit_test(test_table_no_headings),
		cmocka_unit_test(test_table_short_rows),
		cmocka_unit_test(test_table_text),
		cmocka_unit_test(test_table_heading_wider),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_table_empty),
		cmocka_unit_test(test_table_numeric),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
