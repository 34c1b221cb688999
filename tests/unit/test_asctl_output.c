/* test_asctl_output: asctl's JSON helpers and text sanitizing */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output.h"

static char *dump(const json_t *j, int flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(output_json(f, j, flags), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_output_json(void **state)
{
	json_t *o = json_object(), *a = json_array();
	char *s;

	(void)state;
	assert_int_equal(output_set(o, "cpu", output_number(12.3f)), 0);
	assert_int_equal(output_set(o, "nan", output_number(NAN)), 0);
	assert_int_equal(output_set(o, "inf", output_number(INFINITY)), 0);
	assert_int_equal(output_set(o, "avg", output_number((12.3f + 12.4f) / 2.0)), 0);
	assert_int_equal(output_set(o, "big", output_number(1234567891.0)), 0);
	assert_int_equal(output_append(a, json_integer(1)), 0);
	assert_int_equal(output_set(o, "a", a), 0);
	s = dump(o, 0);
	assert_string_equal(s, "{\"cpu\":12.3,\"nan\":null,\"inf\":null,\"avg\":12.35,"
			    "\"big\":1234568000.0,\"a\":[1]}\n");
	free(s);
	s = dump(o, OUTPUT_PRETTY);
	assert_non_null(strstr(s, "\n  \"cpu\": 12.3,\n"));
	free(s);
	/* a NULL value (failed allocation upstream) is reported, not set */
	assert_int_equal(output_set(o, "x", NULL), -ENOMEM);
	assert_int_equal(output_append(a, NULL), -ENOMEM);
	assert_null(json_object_get(o, "x"));
	json_decref(o);
}

static void test_output_strings(void **state)
{
	json_t *o = json_object(), *v;
	char *s;

	(void)state;
	v = output_string("caf\xc3\xa9 \xff\x01");
	assert_non_null(v);
	assert_string_equal(json_string_value(v), "caf\xc3\xa9 ??");
	json_decref(v);
	v = output_string(NULL);
	assert_string_equal(json_string_value(v), "");
	json_decref(v);
	/* keys are made valid too */
	assert_int_equal(output_set(o, "bad\xc0\xafkey", json_true()), 0);
	s = dump(o, 0);
	assert_string_equal(s, "{\"bad??key\":true}\n");
	free(s);
	json_decref(o);
}

static void test_output_sanitize(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(output_sanitize(buf, sizeof(buf), "abc"), 3);
	assert_string_equal(buf, "abc");
	/* C1 controls (U+0080..U+009F), overlong forms, surrogates */
	assert_int_equal(output_sanitize(buf, sizeof(buf), "\xc2\x9b" "\xc0\x80" "\xed\xa0\x80"), 6);
	assert_string_equal(buf, "??????");
	/* cut: the length needed comes back, and no half character is written */
	assert_int_equal(output_sanitize(buf, sizeof(buf), "abcdef\xc3\xa9"), 8);
	assert_string_equal(buf, "abcdef");
	assert_int_equal(output_sanitize(buf, 4, "abcdef"), 6);
	assert_string_equal(buf, "abc");
	assert_int_equal(output_sanitize(NULL, 0, "\xf0\x9f\x98\x80"), 4);
	assert_int_equal(output_width("\xf0\x9f\x98\x80 caf\xc3\xa9"), 6);
	/* a sequence cut by the end of the string */
	assert_int_equal(output_sanitize(buf, sizeof(buf), "a\xe2\x82"), 3);
	assert_string_equal(buf, "a??");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_json),
		cmocka_unit_test(test_output_strings),
		cmocka_unit_test(test_output_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
