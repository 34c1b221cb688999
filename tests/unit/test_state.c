/* test_state: state.json: round trips, settings kept, corrupt files set aside, atomic saves */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "backend.h"
#include "log.h"
#include "state.h"
#include "timeutil.h"

#define MS	NSEC_PER_MSEC
#define T0	(1767571200LL * NSEC_PER_SEC)	/* 2026-01-05T00:00:00Z */

static char base[] = "/tmp/test_state.XXXXXX";
static char dir[64], file[PATH_MAX], corrupt[PATH_MAX], tmp[PATH_MAX];
static int ncase;

static int setup(void **state)
{
	(void)state;
	testutil_log_catch();
	snprintf(dir, sizeof(dir), "%s/case%d", base, ++ncase);
	snprintf(file, sizeof(file), "%s/state.json", dir);
	snprintf(corrupt, sizeof(corrupt), "%s/state.json.corrupt", dir);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	return 0;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static struct state *open_state(void)
{
	struct state *st;

	assert_int_equal(state_open(dir, &st), 0);
	assert_non_null(st);
	return st;
}

/* Every field, times not on a millisecond, and an opaque record. */
static void fill(struct state_setting *s, json_t *record)
{
	s->have_count = true;
	s->count = 7;
	s->count_ns = T0 + 1234 * MS + 567;
	s->cooldown_until_ns = T0 + 300 * NSEC_PER_SEC + 999999;
	s->have_action = true;
	snprintf(s->last.id, sizeof(s->last.id), "%s", "0f8e7d6c-5b4a-4938-8271-605f4e3d2c1b");
	s->last.time_ns = T0 + 5 * MS;
	snprintf(s->last.profile, sizeof(s->last.profile), "%s", "weekday peak");
	snprintf(s->last.rule, sizeof(s->last.rule), "%s", "cpu-high");
	snprintf(s->last.cause, sizeof(s->last.cause), "%s", "rule");
	s->last.from = 3;
	s->last.to = 7;
	snprintf(s->last.outcome, sizeof(s->last.outcome), "%s", "applied");
	state_op_set(s, "11111111-2222-4333-8444-555555555555", 9, 7, T0 + 42 * MS + 1, record);
	s->have_sim = true;
	s->sim_count = BACKEND_CAPACITY_MAX;
}

static void test_missing_file(void **unused)
{
	struct state *st;
	struct stat sb;
	char *text;

	(void)unused;
	st = open_state();
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0750 & ~(mode_t)umask(umask(0)));
	assert_false(state_loaded(st));
	assert_int_equal(state_written_ns(st), 0);
	assert_int_equal(state_count(st), 0);
	assert_null(state_find(st, "web"));
	assert_false(exists(file));
	/* a new setting is empty, with no cooldown */
	assert_non_null(state_setting(st, "web"));
	assert_false(state_setting(st, "web")->have_count);
	assert_int_equal(state_setting(st, "web")->cooldown_until_ns, STATE_NONE);
	assert_int_equal(state_count(st), 1);
	assert_int_equal(state_save(st), 0);
	state_free(st);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_false(exists(tmp));
	text = testutil_read_file(file, NULL);
	assert_non_null(strstr(text, "\"version\": 1"));
	assert_non_null(strstr(text, "\n  \"settings\": {\n    \"web\": {\n"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	st = open_state();
	assert_true(state_loaded(st));
	assert_int_equal(state_count(st), 1);
	state_free(st);
	assert_string_equal(logbuf, "");
}

static void test_round_trip(void **unused)
{
	json_t *record = json_pack("{s:s, s:s, s:i, s:f, s:[i, s, n], s:{s:b}}", "id", "x",
				   "event", "scale", "to", 9, "observed", 71.25, "list", 1, "two",
				   "nested", "deep", 1);
	struct state_setting *s, *e;
	int64_t before, after;
	struct state *st;

	(void)unused;
	assert_non_null(record);
	st = open_state();
	s = state_setting(st, "web");
	fill(s, record);
	assert_int_equal(record->refcount, 2);	/* the state holds its own */
	e = state_setting(st, "empty");
	assert_non_null(e);
	before = time_real_ns() / MS * MS;
	assert_int_equal(state_save(st), 0);
	after = time_real_ns();
	state_free(st);
	assert_int_equal(record->refcount, 1);

	st = open_state();
	assert_true(state_loaded(st));
	/* the time the save wrote, read back: not a timing */
	assert_true(state_written_ns(st) >= before);
	assert_true(after >= state_written_ns(st));
	assert_int_equal(state_written_ns(st) % MS, 0);
	assert_int_equal(state_count(st), 2);
	s = state_at(st, 0);
	assert_string_equal(s->name, "web");
	assert_string_equal(state_at(st, 1)->name, "empty");
	assert_null(state_at(st, 2));
	assert_true(s->have_count);
	assert_int_equal(s->count, 7);
	assert_int_equal(s->count_ns, T0 + 1234 * MS);		/* exact to the millisecond */
	assert_int_equal(s->cooldown_until_ns, T0 + 300 * NSEC_PER_SEC);
	assert_true(s->have_action);
	assert_string_equal(s->last.id, "0f8e7d6c-5b4a-4938-8271-605f4e3d2c1b");
	assert_int_equal(s->last.time_ns, T0 + 5 * MS);
	assert_string_equal(s->last.profile, "weekday peak");
	assert_string_equal(s->last.rule, "cpu-high");
	assert_string_equal(s->last.cause, "rule");
	assert_int_equal(s->last.from, 3);
	assert_int_equal(s->last.to, 7);
	assert_string_equal(s->last.outcome, "applied");
	assert_true(s->in_flight);
	assert_string_equal(s->op.id, "11111111-2222-4333-8444-555555555555");
	assert_int_equal(s->op.capacity, 9);
	assert_int_equal(s->op.previous, 7);
	assert_int_equal(s->op.started_ns, T0 + 42 * MS);
	assert_true(json_equal(s->op.record, record));
	assert_true(s->have_sim);
	assert_int_equal(s->sim_count, BACKEND_CAPACITY_MAX);
	e = state_find(st, "empty");
	assert_non_null(e);
	assert_false(e->have_count || e->have_action || e->in_flight || e->have_sim);
	assert_int_equal(e->cooldown_until_ns, STATE_NONE);

	/* the operation ends: nothing of it stays */
	state_op_clear(s);
	assert_false(s->in_flight);
	assert_null(s->op.record);
	assert_int_equal(state_save(st), 0);
	state_free(st);
	st = open_state();
	assert_false(state_find(st, "web")->in_flight);
	assert_true(state_find(st, "web")->have_action);
	state_free(st);
	json_decref(record);
	assert_string_equal(logbuf, "");
}

/* Settings the caller never asks for (a configuration edit removed them) survive a save. */
static void test_unknown_kept(void **unused)
{
	json_t *record = json_pack("{s:s}", "id", "r1");
	struct state_setting *s;
	struct state *st;

	(void)unused;
	st = open_state();
	fill(state_setting(st, "old"), record);
	state_setting(st, "kept")->have_count = true;
	state_setting(st, "kept")->count_ns = T0;
	assert_int_equal(state_save(st), 0);
	state_free(st);

	st = open_state();
	s = state_setting(st, "kept");
	s->count = 5;
	assert_non_null(state_setting(st, "new"));
	assert_int_equal(state_save(st), 0);
	state_free(st);

	st = open_state();
	assert_int_equal(state_count(st), 3);
	s = state_find(st, "old");
	assert_non_null(s);
	assert_int_equal(s->count, 7);
	assert_string_equal(s->last.rule, "cpu-high");
	assert_true(s->in_flight);
	assert_true(json_equal(s->op.record, record));
	assert_int_equal(state_find(st, "kept")->count, 5);
	assert_non_null(state_find(st, "new"));
	state_free(st);
	json_decref(record);
}

/* Values the file cannot hold are refused, and the file stays as it was. */
static void test_save_refuses(void **unused)
{
	json_t *array = json_array();
	struct state_setting *s;
	struct state *st;
	char *before, *after;

	(void)unused;
	st = open_state();
	s = state_setting(st, "web");
	fill(s, NULL);
	assert_int_equal(state_save(st), 0);
	before = testutil_read_file(file, NULL);

	s->count = BACKEND_CAPACITY_MAX + 1;
	assert_int_equal(state_save(st), -ERANGE);
	expect_log("setting web: count: expected a count from 0 to 10000, not 10001");
	s->count = 1;
	s->last.time_ns = -1;
	assert_int_equal(state_save(st), -ERANGE);
	expect_log("last_action.time: expected a time from 1970 on");
	s->last.time_ns = T0;
	s->op.id[0] = '\0';
	assert_int_equal(state_save(st), -EINVAL);
	expect_log("operation.id: expected a non-empty string");
	s->op.id[0] = 'x';
	memset(s->last.cause, 'c', sizeof(s->last.cause));
	assert_int_equal(state_save(st), -EINVAL);
	expect_log("last_action.cause: expected a string of at most 15 bytes");
	s->last.cause[0] = '\0';
	state_op_set(s, "x", 1, 1, T0, array);
	assert_int_equal(state_save(st), -EINVAL);
	expect_log("operation.record: expected an object");
	state_op_clear(s);
	snprintf(s->last.profile, sizeof(s->last.profile), "%s", "\xff\xfe");
	assert_int_equal(state_save(st), -EINVAL);
	expect_log("not UTF-8");
	/* a name that is too long is not taken */
	assert_null(state_setting(st, "0123456789012345678901234567890123456789012345678901234567890123"));
	assert_null(state_setting(st, ""));

	after = testutil_read_file(file, NULL);
	assert_string_equal(before, after);
	assert_false(exists(tmp));
	free(before);
	free(after);
	state_free(st);
	json_decref(array);
}

/* A directory named state.json.tmp makes the save fail: the old file stays whole. */
static void test_save_failure(void **unused)
{
	struct state *st;
	char *before, *after;

	(void)unused;
	st = open_state();
	state_setting(st, "web")->have_sim = true;
	state_setting(st, "web")->sim_count = 2;
	assert_int_equal(state_save(st), 0);
	before = testutil_read_file(file, NULL);
	assert_int_equal(mkdir(tmp, 0700), 0);
	state_setting(st, "web")->sim_count = 3;
	assert_int_equal(state_save(st), -EISDIR);
	expect_log("state.json.tmp: cannot write");
	after = testutil_read_file(file, NULL);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(state_save(st), 0);
	assert_false(exists(tmp));
	state_free(st);
	st = open_state();
	assert_int_equal(state_find(st, "web")->sim_count, 3);
	state_free(st);
	free(before);

	/* a parsed state has no directory to save to */
	assert_int_equal(state_parse("{\"version\":1,\"written\":\"2026-01-05T00:00:00Z\",\"settings\":{}}",
				     60, &st, NULL, 0), 0);
	assert_int_equal(state_save(st), -EINVAL);
	state_free(st);
}

/* A leftover state.json.tmp (a crash during a save) is overwritten and gone after the next save. */
static void test_stale_tmp(void **unused)
{
	struct state *st;
	struct stat sb;

	(void)unused;
	st = open_state();
	testutil_write_file(tmp, "{garbage", 8);
	assert_int_equal(chmod(tmp, 0666), 0);
	assert_false(state_loaded(st));
	assert_int_equal(state_save(st), 0);
	assert_false(exists(tmp));
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	state_free(st);
}

static void test_io_errors(void **unused)
{
	struct state *st;

	(void)unused;
	/* the directory is a file */
	testutil_write_file(dir, "x", 1);
	assert_int_equal(state_open(dir, &st), -ENOTDIR);
	assert_null(st);
	expect_log("expected a directory");
	unlink(dir);
	/* state.json is a directory */
	assert_int_equal(mkdir(dir, 0750), 0);
	assert_int_equal(mkdir(file, 0750), 0);
	assert_true(state_open(dir, &st) < 0);
	assert_null(st);
	expect_log("not a regular file");
	rmdir(file);
}

/*
 * A corrupt file: '@' marks where the error is (removed from the text);
 * what must follow "LINE:COL: ".  Without a marker only what is checked.
 */
static const struct {
	const char *text;
	const char *what;
} bad[] = {
	{ "{\"version\": 1,\n \"written\": }", "expected JSON (" },
	{ "", "expected JSON (" },
	{ "{\"version\": 1} trailing", "expected JSON (" },
	{ "{\"settings\": {\"web\": {}, \"web\": {}}}", "expected JSON (duplicate object key" },
	{ "@[1, 2]", "expected an object" },
	{ "@{}", "version: expected version 1" },
	{ "{\"version\": @2}", "version: expected version 1" },
	{ "{\"version\": @\"1\"}", "version: expected version 1" },
	{ "{\"version\": 1, \"written\": @\"yesterday\"}", "written: expected an RFC 3339 time" },
	{ "{\"version\": 1, \"written\": @1767571200}", "written: expected an RFC 3339 time" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": @[]}",
	  "settings: expected an object of settings by name" },
	{ "@{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\"}", "settings: expected an object" },
	{ "{\"version\": 1,\n  \"written\": \"2026-01-05T00:00:00Z\",\n  \"settings\": {\n"
	  "    \"web\": {\n      \"count\": @10001, \"count_time\": \"2026-01-05T00:00:00Z\"\n    }\n  }\n}",
	  "settings.web.count: expected a count from 0 to 10000" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"count\": @-1}}}",
	  "settings.web.count: expected a count" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"count\": @3.0}}}",
	  "settings.web.count: expected a count" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": @{\"count\": 3}}}",
	  "settings.web.count_time: expected an RFC 3339 time" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"count\": 3, "
	  "\"count_time\": @\"2026-13-05T00:00:00Z\"}}}", "settings.web.count_time: expected an RFC 3339" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {"
	  "\"cooldown_until\": @\"1969-12-31T23:59:59.999Z\"}}}", "settings.web.cooldown_until: expected" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"a\": {}, \"b\": @7}}",
	  "settings.b: expected an object" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"\": @{}}}",
	  "settings.: expected a setting name of 1 to 63 bytes" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {"
	  "\"0123456789012345678901234567890123456789012345678901234567890123\": @{}}}",
	  "settings.0123456789012345678901234567890123456789012345678901234567890123: expected a setting name" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"last_action\": "
	  "@{\"time\": \"2026-01-05T00:00:00Z\"}}}}", "settings.web.last_action.id: expected a non-empty string" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"last_action\": "
	  "{\"id\": @\"0123456789012345678901234567890123456\"}}}}",
	  "settings.web.last_action.id: expected a non-empty string of at most 36 bytes" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"last_action\": "
	  "{\"id\": \"a\", \"time\": \"2026-01-05T00:00:00Z\", \"profile\": \"p\", \"rule\": \"\", "
	  "\"cause\": @7}}}}", "settings.web.last_action.cause: expected a string of at most 15 bytes" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"last_action\": "
	  "@[]}}}", "settings.web.last_action: expected an object or null" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"operation\": "
	  "{\"id\": \"a\", \"capacity\": 2, \"previous\": 1, \"started\": \"2026-01-05T00:00:00Z\", "
	  "\"record\": @[1]}}}}", "settings.web.operation.record: expected an object or null" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"operation\": "
	  "@{\"id\": \"a\", \"previous\": 1, \"started\": \"2026-01-05T00:00:00Z\"}}}}",
	  "settings.web.operation.capacity: expected a count" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"w\\u00e9b\": {"
	  "\"other\": {\"sim_count\": 1}, \"sim_count\": @true}}}", "settings.w\xc3\xa9" "b.sim_count: expected a count" },
	{ "{\"version\": 1, \"written\": \"2026-01-05T00:00:00Z\", \"settings\": {\"web\": {\"operation\": "
	  "{\"id\": \"a\\u0000b\"}}}}", "expected JSON (\\u0000 is not allowed" },
};

/* Writes a case, opens it: set aside, logged at LINE:COL, empty but loaded. */
static void check_corrupt(const char *marked, const char *what)
{
	char text[1024], want[PATH_MAX + 300], *aside;
	const char *at = strchr(marked, '@');
	unsigned line = 1, col = 1;
	struct state *st;
	size_t i, n;

	n = strlen(marked);
	assert_true(n < sizeof(text));
	for (i = 0; at && marked + i < at; i++) {
		if (marked[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)marked[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	memcpy(text, marked, at ? (size_t)(at - marked) : n);
	if (at)
		memcpy(text + (at - marked), at + 1, n - (size_t)(at - marked));
	n -= at != NULL;
	text[n] = '\0';
	logbuf[0] = '\0';
	testutil_write_file(file, text, n);
	st = open_state();
	if (at)
		snprintf(want, sizeof(want), "%s:%u:%u: %s", file, line, col, what);
	else
		snprintf(want, sizeof(want), "%s:", file);
	expect_log(want);
	expect_log(what);
	snprintf(want, sizeof(want), "(renamed to %s; starting from an empty state)", corrupt);
	expect_log(want);
	assert_true(state_loaded(st));
	assert_int_equal(state_written_ns(st), 0);
	assert_int_equal(state_count(st), 0);
	assert_false(exists(file));
	aside = testutil_read_file(corrupt, NULL);
	assert_non_null(aside);
	assert_memory_equal(aside, text, n);		/* the newest replaces the older one */
	free(aside);
	state_free(st);
}

static void test_corrupt(void **unused)
{
	static char big[STATE_FILE_MAX + 2];
	struct state *st;
	size_t i;

	(void)unused;
	assert_int_equal(mkdir(dir, 0750), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_corrupt(bad[i].text, bad[i].what);
	/* a NUL byte, and a file too large */
	testutil_write_file(file, "{\"version\": 1}\0", 15);
	st = open_state();
	expect_log("expected JSON");
	assert_true(state_loaded(st));
	state_free(st);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	testutil_write_file(file, big, sizeof(big));
	logbuf[0] = '\0';
	st = open_state();
	expect_log("expected a file of at most 16777216 bytes");
	assert_true(state_loaded(st));
	assert_int_equal(state_count(st), 0);
	/* the empty state saves over it, and starts clean */
	assert_int_equal(state_save(st), 0);
	state_free(st);
	st = open_state();
	assert_true(state_loaded(st));
	assert_true(state_written_ns(st) > 0);
	state_free(st);
}

/* state_parse: errors as LINE:COL: KEY: what, lenient on what it does not know. */
static void test_parse(void **unused)
{
	const char *good = "{\"version\": 1, \"written\": \"2026-01-05T01:00:00.5+01:00\", \"extra\": [1],\n"
			   "\"settings\": {\"web\": {\"count\": 0, \"count_time\": \"2026-01-05t00:00:00.123456z\","
			   " \"unknown\": {}, \"cooldown_until\": null, \"last_action\": null, \"sim_count\": null}}}";
	struct state *st;
	char err[256];

	(void)unused;
	assert_int_equal(state_parse(good, strlen(good), &st, err, sizeof(err)), 0);
	assert_int_equal(state_written_ns(st), T0 + 500 * MS);
	assert_false(state_loaded(st));
	assert_true(state_find(st, "web")->have_count);
	assert_int_equal(state_find(st, "web")->count, 0);
	assert_int_equal(state_find(st, "web")->count_ns, T0 + 123456000);
	assert_int_equal(state_find(st, "web")->cooldown_until_ns, STATE_NONE);
	assert_false(state_find(st, "web")->have_action);
	assert_false(state_find(st, "web")->have_sim);
	state_free(st);

	st = (struct state *)&err;
	assert_int_equal(state_parse("{\"version\": 1,\n \"written\": 5}", 29, &st, err, sizeof(err)), -EINVAL);
	assert_null(st);
	assert_string_equal(err, "2:13: written: expected an RFC 3339 time from 1970 on, as 2026-01-05T10:00:00.000Z");
	assert_int_equal(state_parse("[", 1, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected JSON"));
	/* no room for the message is fine */
	assert_int_equal(state_parse("[", 1, &st, NULL, 0), -EINVAL);
}

/* state_format: the text state_save writes. */
static void test_format(void **unused)
{
	struct state *st;
	char err[256], *text;

	(void)unused;
	assert_int_equal(state_parse("{\"version\":1,\"written\":\"2026-01-05T00:00:00Z\",\"settings\":{}}",
				     60, &st, err, sizeof(err)), 0);
	state_setting(st, "web")->cooldown_until_ns = T0 + 1;
	assert_int_equal(state_format(st, T0 + 61 * NSEC_PER_SEC, &text, err, sizeof(err)), 0);
	assert_string_equal(text,
			    "{\n"
			    "  \"version\": 1,\n"
			    "  \"written\": \"2026-01-05T00:01:01.000Z\",\n"
			    "  \"settings\": {\n"
			    "    \"web\": {\n"
			    "      \"count\": null,\n"
			    "      \"count_time\": null,\n"
			    "      \"cooldown_until\": \"2026-01-05T00:00:00.000Z\",\n"
			    "      \"last_action\": null,\n"
			    "      \"operation\": null,\n"
			    "      \"sim_count\": null\n"
			    "    }\n"
			    "  }\n"
			    "}\n");
	free(text);
	assert_int_equal(state_format(st, -1, &text, err, sizeof(err)), -ERANGE);
	assert_null(text);
	state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
	};

	return testutil_run_in_tempdir(tests, base);
}
