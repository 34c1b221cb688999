/* test_history: history.jsonl: appends, torn tails cut on open, rotation, finding ids, UUIDs */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "history.h"
#include "log.h"

static char base[] = "/tmp/test_history.XXXXXX";
static char dir[64], file[128];
static int ncase;

/* What history_read gave: the "id" of each record, in order. */
static char ids[64][STATE_ID_MAX];
static size_t nids;

static int setup(void **state)
{
	(void)state;
	testutil_log_catch();
	snprintf(dir, sizeof(dir), "%s/case%d", base, ++ncase);
	snprintf(file, sizeof(file), "%s/history.jsonl", dir);
	nids = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	return 0;
}

static void assert_file(const char *path, const char *want)
{
	char *text = testutil_read_file(path, NULL);

	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static const char *rotated(unsigned n)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s.%u", file, n);
	return path;
}

static int collect(const json_t *record, void *user)
{
	const char *id = json_string_value(json_object_get(record, "id"));

	(void)user;
	assert_non_null(id);
	assert_true(nids < sizeof(ids) / sizeof(ids[0]));
	snprintf(ids[nids++], STATE_ID_MAX, "%s", id);
	return 0;
}

/* Reads the history into ids: how many there are. */
static size_t read_ids(void)
{
	nids = 0;
	assert_int_equal(history_read(dir, collect, NULL), 0);
	return nids;
}

static void append_id(struct history *h, const char *id)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:i}", "id", id, "setting", "web", "event", "scale", "to", 3);

	assert_non_null(r);
	assert_int_equal(history_append(h, r), 0);
	json_decref(r);
}

static struct history *open_history(uint64_t max_bytes, unsigned keep)
{
	struct history *h;

	assert_int_equal(history_open(dir, max_bytes, keep, &h), 0);
	assert_non_null(h);
	return h;
}

static void test_append_read(void **unused)
{
	struct history *h;
	struct stat sb;

	(void)unused;
	h = open_history(0, 5);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	append_id(h, "a");
	append_id(h, "b");
	append_id(h, "c");
	history_close(h);
	assert_file(file, "{\"id\":\"a\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n"
			  "{\"id\":\"b\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n"
			  "{\"id\":\"c\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n");
	assert_int_equal(read_ids(), 3);
	assert_string_equal(ids[0], "a");
	assert_string_equal(ids[2], "c");
	/* reopening appends after what is there */
	h = open_history(0, 5);
	append_id(h, "d");
	history_close(h);
	assert_int_equal(read_ids(), 4);
	assert_string_equal(ids[3], "d");
	assert_string_equal(logbuf, "");
}

static void test_append_refuses(void **unused)
{
	json_t *arr = json_array(), *big = json_object();
	struct history *h;
	char *s;
	size_t len;

	(void)unused;
	s = malloc(HISTORY_LINE_MAX);
	assert_non_null(s);
	memset(s, 'x', HISTORY_LINE_MAX - 1);
	s[HISTORY_LINE_MAX - 1] = '\0';
	json_object_set_new(big, "id", json_string(s));
	h = open_history(0, 1);
	append_id(h, "a");
	assert_int_equal(history_append(h, arr), -EINVAL);
	assert_int_equal(history_append(h, big), -EMSGSIZE);
	expect_log("more than 65536: not written");
	history_close(h);
	free(testutil_read_file(file, &len));
	assert_int_equal(len, strlen("{\"id\":\"a\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n"));
	assert_int_equal(history_open(dir, 0, HISTORY_KEEP_MAX + 1, &h), -EINVAL);
	assert_null(h);
	json_decref(arr);
	json_decref(big);
	free(s);
}

#define GOOD	"{\"id\":\"a\"}\n{\"id\":\"b\"}\n"

/* A torn tail is cut on open, the good lines kept, and appends go on after them. */
static void check_torn(const char *text, size_t len, size_t torn, const char *left)
{
	struct history *h;
	char want[256];

	logbuf[0] = '\0';
	testutil_write_file(file, text, len);
	h = open_history(0, 1);
	snprintf(want, sizeof(want), "%s: dropped a torn last line of %zu bytes", file, torn);
	expect_log(want);
	assert_file(file, left);
	append_id(h, "z");
	history_close(h);
	read_ids();
	assert_string_equal(ids[nids - 1], "z");
	/* once: the next open finds nothing to cut */
	logbuf[0] = '\0';
	history_close(open_history(0, 1));
	assert_string_equal(logbuf, "");
}

static void test_torn(void **unused)
{
	static const char nul_tail[] = GOOD "\0\0\0\0\0\0";

	(void)unused;
	assert_int_equal(mkdir(dir, 0750), 0);
	check_torn(GOOD "{\"id\":\"c\",\"sett", strlen(GOOD) + 15, 15, GOOD);
	check_torn(GOOD "{\"id\":\"c\"}", strlen(GOOD) + 10, 10, GOOD);	/* whole, but no newline */
	check_torn(GOOD "{\"id\":\n", strlen(GOOD) + 7, 7, GOOD);
	check_torn(GOOD "[1]\n", strlen(GOOD) + 4, 4, GOOD);
	check_torn(GOOD "\n", strlen(GOOD) + 1, 1, GOOD);
	check_torn(nul_tail, sizeof(nul_tail) - 1, 6, GOOD);
	check_torn("{\"id\":\"only", 11, 11, "");
	check_torn("garbage\n", 8, 8, "");
}

/* Only the last line is ever cut: a bad line before it stays, and reading reports it. */
static void test_bad_middle(void **unused)
{
	static const char text[] = "{\"id\":\"a\"}\nnot json\n{\"id\":\"b\"}\n";
	struct history *h;
	char want[PATH_MAX + 16];

	(void)unused;
	assert_int_equal(mkdir(dir, 0750), 0);
	testutil_write_file(file, text, strlen(text));
	h = open_history(0, 1);
	assert_string_equal(logbuf, "");
	history_close(h);
	assert_file(file, text);
	assert_int_equal(read_ids(), 2);
	assert_string_equal(ids[1], "b");
	snprintf(want, sizeof(want), "%s:2: skipped a line that is not a JSON object", file);
	expect_log(want);
}

/* Every file at most max_bytes; keep rotated files; the oldest records dropped. */
static void test_rotation(void **unused)
{
	char id[24], *text;
	struct history *h;
	size_t len, line, i, total;
	unsigned n;

	(void)unused;
	line = strlen("{\"id\":\"r00\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n");
	h = open_history(3 * line + 10, 2);	/* three records a file */
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "r%02zu", i);
		append_id(h, id);
	}
	history_close(h);
	total = 0;
	for (n = 0; n <= 2; n++) {
		text = testutil_read_file(n ? rotated(n) : file, &len);
		assert_non_null(text);
		assert_true(len <= 3 * line + 10);
		total += len / line;
		free(text);
	}
	assert_false(exists(rotated(3)));
	assert_int_equal(total, 3 + 3 + 2);		/* 20 = 6 full files and 2 */
	assert_int_equal(read_ids(), 8);
	for (i = 0; i < nids; i++) {
		snprintf(id, sizeof(id), "r%02zu", 12 + i);
		assert_string_equal(ids[i], id);
	}
	assert_file(rotated(2), "{\"id\":\"r12\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n"
				"{\"id\":\"r13\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n"
				"{\"id\":\"r14\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n");
	/* no .new left behind */
	text = malloc(PATH_MAX);
	assert_non_null(text);
	snprintf(text, PATH_MAX, "%s.new", file);
	assert_false(exists(text));
	free(text);

	/* a record larger than the limit still goes into an empty file */
	h = open_history(10, 2);
	append_id(h, "big1");
	append_id(h, "big2");
	history_close(h);
	assert_file(file, "{\"id\":\"big2\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n");
	assert_file(rotated(1), "{\"id\":\"big1\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n");
	assert_string_equal(logbuf, "");
}

static void test_rotation_keep0(void **unused)
{
	struct history *h;

	(void)unused;
	h = open_history(1, 0);
	append_id(h, "a");
	append_id(h, "b");
	append_id(h, "c");
	history_close(h);
	assert_false(exists(rotated(1)));
	assert_int_equal(read_ids(), 1);
	assert_string_equal(ids[0], "c");
}

static void test_find(void **unused)
{
	struct history *h;
	json_t *r;

	(void)unused;
	h = open_history(1, 3);		/* one record a file */
	append_id(h, "oldest");
	append_id(h, "older");
	r = json_pack("{s:s, s:s}", "id", "rotated", "parent", "not-an-id");
	assert_int_equal(history_append(h, r), 0);
	json_decref(r);
	append_id(h, "current");
	assert_int_equal(history_find(h, "current"), 0);
	assert_int_equal(history_find(h, "rotated"), 0);	/* history.jsonl.1 */
	assert_int_equal(history_find(h, "older"), -ENOENT);	/* .2: not looked at */
	assert_int_equal(history_find(h, "not-an-id"), -ENOENT);
	assert_int_equal(history_find(h, "curr"), -ENOENT);
	assert_int_equal(history_find(h, "a\"b"), -ENOENT);
	history_close(h);
	assert_int_equal(read_ids(), 4);
	assert_string_equal(ids[0], "oldest");
	assert_string_equal(ids[3], "current");

	/* an id JSON escapes is found too */
	h = open_history(0, 3);
	append_id(h, "q\"uote");
	assert_int_equal(history_find(h, "q\"uote"), 0);
	history_close(h);
}

/* A short write (file size limit) is an error and cut off again. */
static void test_short_write(void **unused)
{
	json_t *rec = json_pack("{s:s, s:s}", "id", "b", "pad", "more than ten bytes");
	struct rlimit old, lim;
	struct history *h;
	size_t len;
	int r;

	(void)unused;
	h = open_history(0, 1);
	append_id(h, "a");
	free(testutil_read_file(file, &len));
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = len + 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = history_append(h, rec);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	json_decref(rec);
	assert_int_equal(r, -EIO);
	expect_log("cannot append: short write");
	assert_file(file, "{\"id\":\"a\",\"setting\":\"web\",\"event\":\"scale\",\"to\":3}\n");
	append_id(h, "c");
	history_close(h);
	assert_int_equal(read_ids(), 2);
	assert_string_equal(ids[1], "c");
}

static int stop_at_second(const json_t *record, void *user)
{
	int *seen = user;

	(void)record;
	return ++*seen == 2 ? 42 : 0;
}

/* Rotated files in number order, gaps allowed; over-long lines and a stop. */
static void test_read(void **unused)
{
	char *longline;
	int seen = 0;

	(void)unused;
	assert_int_equal(history_read(dir, collect, NULL), -ENOENT);
	expect_log("cannot read the directory");
	assert_int_equal(mkdir(dir, 0750), 0);
	assert_int_equal(read_ids(), 0);
	testutil_write_file(rotated(12), "{\"id\":\"12\"}\n", 12);
	testutil_write_file(rotated(3), "{\"id\":\"3\"}\n", 11);
	testutil_write_file(rotated(1), "{\"id\":\"1\"}\n", 11);
	/* a first line too long, then a good one */
	longline = malloc(HISTORY_LINE_MAX + 40);
	assert_non_null(longline);
	memset(longline, ' ', HISTORY_LINE_MAX + 40);
	memcpy(longline, "{\"id\":\"x\"", 9);
	memcpy(longline + HISTORY_LINE_MAX + 20, "}\n{\"id\":\"last\"}\n", 17);
	testutil_write_file(file, longline, HISTORY_LINE_MAX + 37);
	free(longline);
	testutil_write_file(rotated(2), "{\"id\":\"2\"}\n{\"id\":", 17);	/* an unterminated tail, not current */
	logbuf[0] = '\0';
	assert_int_equal(read_ids(), 5);
	assert_string_equal(ids[0], "12");
	assert_string_equal(ids[1], "3");
	assert_string_equal(ids[2], "2");
	assert_string_equal(ids[3], "1");
	assert_string_equal(ids[4], "last");
	expect_log("history.jsonl:1: skipped a line of more than 65536 bytes");
	expect_log("history.jsonl.2:2: skipped a line that is not a JSON object");
	assert_int_equal(history_read(dir, stop_at_second, &seen), 42);
	assert_int_equal(seen, 2);
}

static void test_uuid(void **unused)
{
	static char all[1000][STATE_ID_MAX];
	const char *hex = "0123456789abcdef";
	size_t i, j;

	(void)unused;
	for (i = 0; i < 1000; i++) {
		const char *u = all[i];

		assert_int_equal(history_id(all[i]), 0);
		assert_int_equal(strlen(u), 36);
		for (j = 0; j < 36; j++) {
			if (j == 8 || j == 13 || j == 18 || j == 23)
				assert_int_equal(u[j], '-');
			else
				assert_non_null(memchr(hex, u[j], 16));
		}
		assert_int_equal(u[14], '4');
		assert_non_null(memchr("89ab", u[19], 4));
	}
	qsort(all, 1000, sizeof(all[0]), (int (*)(const void *, const void *))strcmp);
	for (i = 1; i < 1000; i++)
		assert_string_not_equal(all[i - 1], all[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keep0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uuid, setup, teardown),
	};

	return testutil_run_in_tempdir(tests, base);
}
