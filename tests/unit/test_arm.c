/* test_arm: Azure autoscaleSettings JSON export and import, round trips and refusals */
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

#include "arm.h"
#include "log.h"
#include "setting.h"
#include "setting_write.h"
#include "timeutil.h"

#define DATA "tests/data/arm/"

static int setup(void **state)
{
	(void)state;
	testutil_log_catch();
	return 0;
}

static int any_key(struct conf_ctx *c, const char *setting, const char *key,
		   const char *value, void *user)
{
	(void)c; (void)setting; (void)key; (void)value; (void)user;
	return 0;
}

static struct engine_conf *load_text(const char *text)
{
	char path[] = "/tmp/test_arm-XXXXXX";
	struct engine_conf *conf = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if (setting_conf_load(path, NULL, NULL, &conf) < 0)
		fail_msg("the written text does not load:\n%s\n%s", logbuf, text);
	unlink(path);
	return conf;
}

static char *write_text(const struct engine_conf *conf)
{
	char err[256], *text;

	if (setting_write_string(conf, &text, err, sizeof(err)) < 0)
		fail_msg("setting_write: %s", err);
	return text;
}

/* INI -> JSON -> INI gives the same text. */
static void ini_round_trip(const char *path)
{
	struct engine_conf *a, *b;
	struct arm_target t;
	char *ta, *tb;
	json_t *j;

	assert_int_equal(setting_conf_load(path, any_key, NULL, &a), 0);
	assert_int_equal(arm_export(a, NULL, NULL, &j), 0);
	if (arm_import(j, "export", &b, &t) < 0)
		fail_msg("import of the export failed:\n%s", logbuf);
	ta = write_text(a);
	tb = write_text(b);
	assert_string_equal(ta, tb);
	assert_string_equal(t.subscription, "00000000-0000-0000-0000-000000000000");
	json_decref(j);
	free(ta);
	free(tb);
	setting_conf_free(a);
	setting_conf_free(b);
}

static void test_ini_round_trip(void **state)
{
	(void)state;
	ini_round_trip("tests/data/engine/full.conf");
	ini_round_trip(DATA "multi.conf");
}

/* JSON -> INI (text) -> JSON gives the same JSON. */
static void json_round_trip(const char *path)
{
	struct engine_conf *a, *b;
	struct arm_target t;
	json_error_t jerr;
	json_t *in, *out;
	char *text;

	in = json_load_file(path, 0, &jerr);
	if (!in)
		fail_msg("%s: %s", path, jerr.text);
	if (arm_import(in, path, &a, &t) < 0)
		fail_msg("import failed:\n%s", logbuf);
	text = write_text(a);
	b = load_text(text);
	assert_int_equal(arm_export(b, NULL, &t, &out), 0);
	if (!json_equal(in, out)) {
		char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		fail_msg("%s: the export differs:\n%s", path, s);
	}
	json_decref(in);
	json_decref(out);
	free(text);
	setting_conf_free(a);
	setting_conf_free(b);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	json_round_trip(DATA "rt-full.json");
	json_round_trip(DATA "rt-multi.json");
}

static void test_export_shape(void **state)
{
	struct engine_conf *a;
	json_t *j, *p, *pair, *trig, *act;
	const char *name;

	(void)state;
	assert_int_equal(setting_conf_load(DATA "multi.conf", any_key, NULL, &a), 0);
	assert_int_equal(arm_export(a, "nope", NULL, &j), -ENOENT);
	assert_int_equal(arm_export(a, "llm", NULL, &j), 0);
	assert_true(json_is_object(j));
	assert_string_equal(json_string_value(json_object_get(j, "apiVersion")), "2022-10-01");
	p = json_object_get(json_object_get(j, "properties"), "profiles");
	assert_int_equal(json_array_size(p), 4);	/* default, nightly, its pair, launch */
	pair = json_array_get(p, 2);
	name = json_string_value(json_object_get(pair, "name"));
	assert_string_equal(name, "{\"name\":\"Auto created default scale condition\",\"for\":\"nightly\"}");
	/* nightly runs 22:00 to 06:00: the pair starts the next days at 6 */
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(
		json_object_get(pair, "recurrence"), "schedule"), "hours"), 0)), 6);
	assert_string_equal(json_string_value(json_object_get(json_object_get(pair, "capacity"), "default")), "3");
	trig = json_object_get(json_array_get(json_object_get(json_array_get(p, 0), "rules"), 2), "metricTrigger");
	act = json_object_get(json_array_get(json_object_get(json_array_get(p, 0), "rules"), 2), "scaleAction");
	assert_string_equal(json_string_value(json_object_get(trig, "timeAggregation")), "Total");
	assert_string_equal(json_string_value(json_object_get(trig, "operator")), "LessThanOrEqual");
	assert_string_equal(json_string_value(json_object_get(act, "type")), "ExactCount");
	assert_string_equal(json_string_value(json_object_get(act, "direction")), "None");
	assert_string_equal(json_string_value(json_object_get(act, "value")), "2");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "tags"), "ascale:rule:default:3")), "floor");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(p, 3), "fixedDate"), "start")),
			    "2026-12-24T08:30:00");
	json_decref(j);
	setting_conf_free(a);
}

static void test_import_az_show(void **state)
{
	struct engine_conf *a;
	struct arm_target t;
	json_error_t jerr;
	char *text, want[8192];
	json_t *in;
	FILE *f;
	size_t n;

	(void)state;
	in = json_load_file(DATA "import-az-show.json", 0, &jerr);
	assert_non_null(in);
	if (arm_import(in, "az", &a, &t) < 0)
		fail_msg("import failed:\n%s", logbuf);
	assert_string_equal(t.subscription, "3f2e8a4b-1c5d-4e6f-9a0b-7c8d9e0f1a2b");
	assert_string_equal(t.resource_group, "ml-prod");
	assert_string_equal(t.workspace, "ws-prod");
	assert_string_equal(t.location, "eastus");
	text = write_text(a);
	f = fopen(DATA "import-az-show.conf", "r");
	assert_non_null(f);
	n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	fclose(f);
	assert_string_equal(text, want);
	free(text);
	json_decref(in);
	setting_conf_free(a);
}

static const struct {
	const char *json;
	const char *msg;
} bad[] = {
	{ "[]", "expected at least one" },
	{ "42", "expected an autoscale setting object, not a number" },
	{ "{\"type\":\"Microsoft.Compute/virtualMachines\"}", "type: expected Microsoft.Insights/autoscaleSettings" },
	{ "{\"properties\":{\"name\":\"x\"}}", "properties.targetResourceUri: expected a string" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":7}", "profiles: expected an array, not a number" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[]}", "profiles: expected 1 to 40 profiles" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"3\",\"maximum\":\"2\",\"default\":\"2\"}}]}",
	  "profiles[0].capacity: minimum 3 is above maximum 2" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2000\",\"default\":\"2\"}}]}",
	  "profiles[0].capacity.maximum: expected a whole number from 0 to 1000, not 2000" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"two\"}}]}",
	  "capacity.default: expected a whole number from 0 to 1000, not 'two'" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"rules\":[{\"metricTrigger\":{\"metricName\":\"CPU\",\"timeGrain\":\"PT1M\",\"statistic\":\"Average\",\"timeWindow\":\"PT5M\",\"timeAggregation\":\"Average\",\"operator\":\"Bigger\",\"threshold\":1},"
	  "\"scaleAction\":{\"direction\":\"Increase\",\"type\":\"ChangeCount\",\"value\":\"1\",\"cooldown\":\"PT5M\"}}]}]}",
	  "x: profiles[0].rules[0].metricTrigger.operator: expected Equals, NotEquals, GreaterThan, GreaterThanOrEqual, LessThan or LessThanOrEqual, not 'Bigger'" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"rules\":[{\"metricTrigger\":{\"metricName\":\"CPU\",\"timeGrain\":\"5 minutes\",\"statistic\":\"Average\",\"timeWindow\":\"PT5M\",\"timeAggregation\":\"Average\",\"operator\":\"Equals\",\"threshold\":1},"
	  "\"scaleAction\":{\"direction\":\"Increase\",\"type\":\"ChangeCount\",\"value\":\"1\",\"cooldown\":\"PT5M\"}}]}]}",
	  "metricTrigger.timeGrain: expected an ISO 8601 duration" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"rules\":[{\"metricTrigger\":{\"metricName\":\"CPU\",\"timeGrain\":\"PT1M\",\"statistic\":\"Average\",\"timeWindow\":\"PT5M\",\"timeAggregation\":\"Average\",\"operator\":\"Equals\",\"threshold\":\"1\"},"
	  "\"scaleAction\":{\"direction\":\"Increase\",\"type\":\"ChangeCount\",\"value\":\"1\",\"cooldown\":\"PT5M\"}}]}]}",
	  "metricTrigger.threshold: expected a number, not a string" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"rules\":[{\"metricTrigger\":{\"metricName\":\"CPU\",\"timeGrain\":\"PT1M\",\"statistic\":\"Average\",\"timeWindow\":\"PT5M\",\"timeAggregation\":\"Average\",\"operator\":\"Equals\",\"threshold\":1,"
	  "\"dimensions\":[{\"DimensionName\":\"instance\",\"Operator\":\"Equals\",\"Values\":[\"a b\"]}]},"
	  "\"scaleAction\":{\"direction\":\"Increase\",\"type\":\"ChangeCount\",\"value\":\"1\",\"cooldown\":\"PT5M\"}}]}]}",
	  "rules[0].metricTrigger: cannot be written in ascale's condition grammar" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"rules\":[{\"metricTrigger\":{\"metricName\":\"CPU\",\"timeGrain\":\"PT1M\",\"statistic\":\"Average\",\"timeWindow\":\"PT5M\",\"timeAggregation\":\"Average\",\"operator\":\"Equals\",\"threshold\":1},"
	  "\"scaleAction\":{\"direction\":\"None\",\"type\":\"ChangeCount\",\"value\":\"1\",\"cooldown\":\"PT5M\"}}]}]}",
	  "scaleAction.direction: expected Increase or Decrease for a ChangeCount, not 'None'" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"rules\":[{\"metricTrigger\":{\"metricName\":\"CPU\",\"timeGrain\":\"PT1M\",\"statistic\":\"Average\",\"timeWindow\":\"PT5M\",\"timeAggregation\":\"Average\",\"operator\":\"Equals\",\"threshold\":1},"
	  "\"scaleAction\":{\"direction\":\"Increase\",\"type\":\"PercentChangeCount\",\"value\":\"150\",\"cooldown\":\"PT5M\"}}]}]}",
	  "scaleAction.value: expected a whole number from 1 to 100, not 150" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"p\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"recurrence\":{\"frequency\":\"Week\",\"schedule\":{\"timeZone\":\"Mars Standard Time\",\"days\":[\"Monday\"],\"hours\":[9],\"minutes\":[0]}}}]}",
	  "recurrence.schedule.timeZone: expected a Windows zone name" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"p\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"recurrence\":{\"frequency\":\"Week\",\"schedule\":{\"days\":[\"Moonday\"],\"hours\":[9],\"minutes\":[0]}}}]}",
	  "recurrence.schedule.days[0]: expected Monday" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"p\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"recurrence\":{\"frequency\":\"Week\",\"schedule\":{\"days\":[\"Monday\"],\"hours\":[9],\"minutes\":[0]}}}]}",
	  "x: profiles: expected a profile without recurrence or fixedDate" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"p\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
	  "\"fixedDate\":{\"start\":\"2026-02-30T00:00:00\",\"end\":\"2026-03-01T00:00:00\"}}]}",
	  "fixedDate.start: expected a local date and time" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b c\",\"profiles\":[]}", "targetResourceUri: expected .../onlineEndpoints" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"tags\":{\"ascale:backend\":\"cloud\"},\"profiles\":[]}", "tags.ascale:backend: expected azureml" },
	{ "{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"predictiveAutoscalePolicy\":{\"scaleMode\":\"Enabled\"},\"profiles\":[]}", "predictive autoscale is not supported" },
	{ "[{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":[{\"name\":\"d\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"}}]}, 5]",
	  "[1].: expected an autoscale setting object" },
};

static void test_refused(void **state)
{
	struct engine_conf *a;
	json_error_t jerr;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logbuf[0] = '\0';
		j = json_loads(bad[i].json, JSON_DECODE_ANY, &jerr);
		if (!j)
			fail_msg("case %zu is not JSON: %s", i, jerr.text);
		assert_int_equal(arm_import(j, "x", &a, NULL), -EINVAL);
		assert_null(a);
		if (!strstr(logbuf, bad[i].msg))
			fail_msg("case %zu: expected '%s' in:\n%s", i, bad[i].msg, logbuf);
		json_decref(j);
	}
}

static void test_pairs(void **state)
{
	static const char *const base =
		"{\"name\":\"x\",\"targetResourceUri\":\"/a/b\",\"profiles\":["
		"{\"name\":\"default\",\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"}},"
		"{\"name\":\"night shift\",\"capacity\":{\"minimum\":\"2\",\"maximum\":\"2\",\"default\":\"2\"},"
		"\"recurrence\":{\"frequency\":\"Week\",\"schedule\":{\"timeZone\":\"UTC\",\"days\":[\"Friday\"],\"hours\":[%d],\"minutes\":[0]}}}%s]}";
	static const char *const pair =
		",{\"name\":\"{\\\"name\\\":\\\"Auto created default scale condition\\\",\\\"for\\\":\\\"night shift\\\"}\","
		"\"capacity\":{\"minimum\":\"1\",\"maximum\":\"2\",\"default\":\"1\"},"
		"\"recurrence\":{\"frequency\":\"Week\",\"schedule\":{\"timeZone\":\"UTC\",\"days\":[\"%s\"],\"hours\":[%d],\"minutes\":[0]}}}";
	char text[4096], p[1024];
	struct engine_conf *a;
	const struct profile *pr;
	json_t *j;

	(void)state;
	/* overnight: Friday 22:00 to Saturday 06:00 */
	snprintf(p, sizeof(p), pair, "Saturday", 6);
	snprintf(text, sizeof(text), base, 22, p);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(arm_import(j, "x", &a, NULL), 0);
	assert_int_equal(a->settings[0].nprofiles, 2);
	pr = &a->settings[0].profiles[1];
	assert_string_equal(pr->name, "night-shift");
	assert_int_equal(pr->days, 1u << 5);
	assert_int_equal(pr->start_min, 22 * 60);
	assert_int_equal(pr->end_min, 6 * 60);
	json_decref(j);
	setting_conf_free(a);

	/* a pair on the wrong day */
	snprintf(p, sizeof(p), pair, "Monday", 6);
	snprintf(text, sizeof(text), base, 22, p);
	j = json_loads(text, 0, NULL);
	logbuf[0] = '\0';
	assert_int_equal(arm_import(j, "x", &a, NULL), -EINVAL);
	if (!strstr(logbuf, "x: profiles[2]: recurrence: expected the end of 'night shift'"))
		fail_msg("%s", logbuf);
	json_decref(j);

	/* no pair: until the end of the day */
	snprintf(text, sizeof(text), base, 9, "");
	j = json_loads(text, 0, NULL);
	assert_int_equal(arm_import(j, "x", &a, NULL), 0);
	assert_int_equal(a->settings[0].profiles[1].end_min, 24 * 60);
	json_decref(j);
	setting_conf_free(a);
}

static void test_duration(void **state)
{
	static const struct {
		const char *in, *out;
		int64_t s;
	} ok[] = {
		{ "PT1M", "PT1M", 60 }, { "PT90S", "PT1M30S", 90 }, { "PT1H30M", "PT1H30M", 5400 },
		{ "P1D", "P1D", 86400 }, { "P1DT1S", "P1DT1S", 86401 }, { "P1W", "P7D", 7 * 86400 },
		{ "pt5m", "PT5M", 300 }, { "PT0S", "PT0S", 0 }, { "PT24H", "P1D", 86400 },
	};
	static const char *const no[] = {
		"", "P", "PT", "5M", "PT5", "PTM", "PT1M1H", "P1H", "PT1.5M", "PT-1M", "P1DT", "PT1M ", "PT99999999999S",
	};
	char buf[64];
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (arm_duration_parse(ok[i].in, &ns) < 0)
			fail_msg("'%s' refused", ok[i].in);
		assert_int_equal(ns, ok[i].s * NSEC_PER_SEC);
		arm_duration_format(ns, buf, sizeof(buf));
		assert_string_equal(buf, ok[i].out);
	}
	assert_int_equal(arm_duration_parse("PT1.5S", &ns), 0);
	assert_int_equal(ns, 1500 * NSEC_PER_MSEC);
	arm_duration_format(ns, buf, sizeof(buf));
	assert_string_equal(buf, "PT1.5S");
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (arm_duration_parse(no[i], &ns) == 0)
			fail_msg("'%s' accepted", no[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_ini_round_trip, setup),
		cmocka_unit_test_setup(test_json_round_trip, setup),
		cmocka_unit_test_setup(test_export_shape, setup),
		cmocka_unit_test_setup(test_import_az_show, setup),
		cmocka_unit_test_setup(test_refused, setup),
		cmocka_unit_test_setup(test_pairs, setup),
		cmocka_unit_test_setup(test_duration, setup),
	};

	log_init("test_arm", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
