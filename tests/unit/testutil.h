/* testutil: what several cmocka tests share: log messages caught into a buffer, files, a temporary directory, main() */
#ifndef ASCALE_TESTUTIL_H
#define ASCALE_TESTUTIL_H

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

#include "log.h"

/* Every message logged since testutil_log_catch(), one a line. */
static char logbuf[16384];

static void testutil_log_sink(int prio, const char *msg, void *user)
{
	size_t n = strlen(logbuf);

	(void)prio;
	(void)user;
	if (n + 2 < sizeof(logbuf)) {
		strncat(logbuf, msg, sizeof(logbuf) - n - 2);
		strcat(logbuf, "\n");
	}
}

/* Empties logbuf and sends every later message there. */
static inline void testutil_log_catch(void)
{
	logbuf[0] = '\0';
	log_set_sink(testutil_log_sink, NULL);
}

/* Fails the test unless s was logged since testutil_log_catch(). */
static inline void expect_log(const char *s)
{
	if (!strstr(logbuf, s))
		fail_msg("expected '%s' in:\n%s", s, logbuf);
}

/* Writes the file path (mode 0640) with len bytes of text. */
static inline void testutil_write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Writes the file path (mode 0640) with the string text. */
static inline void testutil_write_text(const char *path, const char *text)
{
	testutil_write_file(path, text, strlen(text));
}

/* The whole file in a malloc'ed string and its size (len may be NULL); NULL and 0 when it is not there. */
static inline char *testutil_read_file(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (len)
		*len = 0;
	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &sb), 0);
	buf = calloc(1, (size_t)sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	close(fd);
	if (len)
		*len = (size_t)sb.st_size;
	return buf;
}

/* Removes path and all below it: 0, or -1. */
static inline int testutil_rm_rf(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	return system(cmd) == 0 ? 0 : -1;
}

/* r, or 1 when base cannot be removed: what main() returns after the tests ran in base. */
static inline int testutil_tempdir_end(const char *base, int r)
{
	return testutil_rm_rf(base) == 0 ? r : 1;
}

/*
 * For main(): runs the cmocka group tests (no group setup or teardown) in a
 * new directory made from the mkdtemp() template base, then removes it with
 * all in it; 1 when the directory cannot be made or removed, else cmocka's
 * result.
 */
#define testutil_run_in_tempdir(tests, base) \
	(mkdtemp(base) ? testutil_tempdir_end((base), cmocka_run_group_tests(tests, NULL, NULL)) : 1)

/* r, after cleanup(): what testutil_run_then() returns. */
static inline int testutil_then(int r, void (*cleanup)(void))
{
	cleanup();
	return r;
}

/*
 * For main(): runs the cmocka group tests (no group setup or teardown), then
 * cleanup(), which frees what the code under test keeps for the whole run
 * (tz_cleanup()); cmocka's result.
 */
#define testutil_run_then(tests, cleanup) \
	testutil_then(cmocka_run_group_tests(tests, NULL, NULL), (cleanup))

#endif
