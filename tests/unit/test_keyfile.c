/* test_keyfile: the HMAC key file: modes, lines, lengths, rotation order */
#include <errno.h>
#include <fcntl.h>
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

#include "keyfile.h"
#include "wire.h"

#define HEX32	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX32B	"FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100"

static char test_dir[] = "/tmp/test_keyfile.XXXXXX";
static char path[256];
static char err[512];

static void write_key(const char *text, mode_t mode)
{
	int fd;

	snprintf(path, sizeof(path), "%s/key", test_dir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int load(const char *text, mode_t mode, struct wire_keys *k)
{
	write_key(text, mode);
	err[0] = '\0';
	return keyfile_load(path, k, err, sizeof(err));
}

/* err says "PATH:LINE: ..." for the expected line and mentions what. */
static void assert_line_error(int line, const char *what)
{
	char want[300];

	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
		fail_msg("got \"%s\", wanted \"%s...%s\"", err, want, what);
}

/* A mode 0600 file with text is refused for what it has at line. */
static void expect_bad_line(const char *text, int line, const char *what)
{
	struct wire_keys k;

	assert_int_equal(load(text, 0600, &k), -EINVAL);
	assert_line_error(line, what);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(test_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(test_dir);
	return 0;
}

static void test_accepts(void **state)
{
	struct wire_keys k;

	(void)state;
	assert_int_equal(load("# ascale keys: the first one signs\n\n"
			      "  7\t" HEX32B "  \r\n"
			      "1 " HEX32 HEX32 "\n"
			      "3 " HEX32, 0600, &k), 0);
	assert_int_equal(k.count, 3);
	assert_int_equal(wire_keys_signing_id(&k), 7);
	assert_non_null(wire_keys_find(&k, 1));
	assert_non_null(wire_keys_find(&k, 3));
	assert_null(wire_keys_find(&k, 2));
	wire_keys_free(&k);
	assert_int_equal(load("4294967295 " HEX32 "\n", 0400, &k), 0);
	assert_int_equal(wire_keys_signing_id(&k), 4294967295u);
	wire_keys_free(&k);
}

/* The key from the file is the key: same HMAC as one added directly. */
static void test_same_key(void **state)
{
	static const uint8_t raw[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
	struct wire_keys a, b;
	uint8_t f[WIRE_HEADER_LEN + 10] = { 0 }, m1[32], m2[32], nonce[WIRE_NONCE_LEN] = { 9 };

	(void)state;
	assert_int_equal(load("5 " HEX32 "\n", 0600, &a), 0);
	assert_int_equal(wire_keys_init(&b), 0);
	assert_int_equal(wire_keys_add(&b, 5, raw, sizeof(raw)), 0);
	assert_int_equal(wire_mac(wire_keys_find(&a, 5), nonce, f, sizeof(f), m1), 0);
	assert_int_equal(wire_mac(wire_keys_find(&b, 5), nonce, f, sizeof(f), m2), 0);
	assert_memory_equal(m1, m2, 32);
	wire_keys_free(&a);
	wire_keys_free(&b);
}

static void test_modes(void **state)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0601, 0610, 0666 };
	struct wire_keys k;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load("1 " HEX32 "\n", bad[i], &k), -EACCES);
		assert_non_null(strstr(err, "chmod 600"));
		assert_non_null(strstr(err, path));
	}
	/* not a regular file */
	assert_int_equal(keyfile_load(test_dir, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	/* missing */
	snprintf(path, sizeof(path), "%s/none", test_dir);
	assert_int_equal(keyfile_load(path, &k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *what;
	} cases[] = {
		{ "# c\n1 " HEX32 "\n0 " HEX32 "\n", 3, "key id from 1 to 4294967295" },
		{ "4294967296 " HEX32 "\n", 1, "key id" },
		{ "99999999999999999999 " HEX32 "\n", 1, "key id" },
		{ "-1 " HEX32 "\n", 1, "key id" },
		{ "x1 " HEX32 "\n", 1, "ID HEXKEY" },
		{ "1\n", 1, "ID HEXKEY" },
		{ "12" HEX32 "\n", 1, "ID HEXKEY" },
		{ "\n\n1 " HEX32 " extra\n", 3, "after the key" },
		{ "1 " HEX32 "\n2 " HEX32 "\n1 " HEX32B "\n", 3, "appears twice" },
		{ "1 zz" HEX32 "\n", 1, "hex digit" },
		{ "1 " HEX32 "0\n", 1, "hex digits" },
		{ "1 \n", 1, "32 to 64 bytes" },
	};
	struct wire_keys k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad_line(cases[i].text, cases[i].line, cases[i].what);
	/* a NUL in the middle of a line */
	write_key("1 " HEX32 "\n", 0600);
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "2 \0" HEX32 "\n", 4), 4);
		close(fd);
	}
	assert_int_equal(keyfile_load(path, &k, err, sizeof(err)), -EINVAL);
	assert_line_error(2, "NUL");
	/* nothing but comments */
	assert_int_equal(load("# no keys yet\n\n", 0600, &k), -EINVAL);
	assert_non_null(strstr(err, "no key"));
	assert_int_equal(load("", 0600, &k), -EINVAL);
	/* nine keys */
	expect_bad_line("1 " HEX32 "\n2 " HEX32 "\n3 " HEX32 "\n4 " HEX32 "\n5 " HEX32 "\n"
			"6 " HEX32 "\n7 " HEX32 "\n8 " HEX32 "\n9 " HEX32 "\n", 9, "more than 8 keys");
}

static void test_lengths(void **state)
{
	struct wire_keys k;

	(void)state;
	/* 31 bytes: too short */
	expect_bad_line("1 " "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 1, "32 to 64 bytes");
	/* 65 bytes: too long */
	expect_bad_line("1 " HEX32 HEX32 "00\n", 1, "32 to 64 bytes");
	/* 64 bytes: fine */
	assert_int_equal(load("1 " HEX32 HEX32 "\n", 0600, &k), 0);
	wire_keys_free(&k);
	/* too big a file */
	{
		char *big = malloc(KEYFILE_SIZE_MAX + 2);

		assert_non_null(big);
		memset(big, '#', KEYFILE_SIZE_MAX + 1);
		big[KEYFILE_SIZE_MAX + 1] = '\0';
		assert_int_equal(load(big, 0600, &k), -EFBIG);
		free(big);
	}
	/* errors are written only when asked for */
	write_key("1 x\n", 0600);
	assert_int_equal(keyfile_load(path, &k, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_same_key),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
