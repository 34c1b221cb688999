/* test_backend_exec: the exec backend running small scripts from a real sd-event loop */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "timeutil.h"

#define BACKEND_WAIT_NS (20 * NSEC_PER_SEC)
#include "backend_loop.h"
#include "testutil.h"

static char dir[] = "/tmp/test_backend_exec.XXXXXX";

/* ---- scripts and files ---- */

static const char *path_of(const char *name)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	testutil_write_text(path_of(name), text);
}

static void write_script(const char *name, const char *body)
{
	char text[4096];

	assert_true(snprintf(text, sizeof(text), "#!/bin/sh\nDIR=%s\n%s", dir, body) < (int)sizeof(text));
	write_file(name, text);
	assert_int_equal(chmod(path_of(name), 0755), 0);
}

static char *read_file(const char *name)
{
	static char buf[8192];
	FILE *f = fopen(path_of(name), "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The endpoint: a count in $DIR/count; every run leaves its ASCALE_* and arguments in $DIR/env.ACTION. */
static const char endpoint_script[] =
	"env | grep -E '^ASCALE_(ACTION|CAPACITY|PREVIOUS|SETTING|ENDPOINT|DEPLOYMENT)=' | sort"
	" > \"$DIR/env.$ASCALE_ACTION\"\n"
	"echo \"args: $*\" >> \"$DIR/env.$ASCALE_ACTION\"\n"
	"case \"$ASCALE_ACTION\" in\n"
	"get) cat \"$DIR/count\" ;;\n"
	"set) echo \"$ASCALE_CAPACITY\" > \"$DIR/count\" ;;\n"
	"esac\n";

static int group_setup(void **state)
{
	loop_block_sigchld();
	return backend_group_setup(state, dir);
}

static int test_setup(void **state)
{
	(void)state;
	write_script("endpoint", endpoint_script);
	write_file("count", "2\n");
	unlink(path_of("env.get"));
	unlink(path_of("env.set"));
	conf_line = 10;
	return 0;
}

/* ---- backends and results ---- */

static struct backend *exec_new(void)
{
	struct backend *b;

	assert_int_equal(backend_new("exec", "web", "ep1", "blue", &b), 0);
	key(b, "retry_delay", "10ms");
	key(b, "operation_timeout", "20s");
	return b;
}

/* exec_new() from line 11 of test.conf, and command on line 13; not started */
static struct backend *exec_command(const char *command)
{
	struct backend *b;

	conf_line = 10;
	b = exec_new();
	key(b, "command", command);
	return b;
}

/* exec_command() and more keys (pairs up to a NULL), started */
__attribute__((sentinel))
static struct backend *exec_with(const char *command, ...)
{
	struct backend *b = exec_command(command);
	const char *k;
	va_list ap;

	va_start(ap, command);
	while ((k = va_arg(ap, const char *)))
		key(b, k, va_arg(ap, const char *));
	va_end(ap);
	assert_int_equal(backend_start(b, event), 0);
	return b;
}

/* A started backend whose command is the new script name, with body */
static struct backend *exec_script(const char *name, const char *body)
{
	write_script(name, body);
	return exec_with(path_of(name), NULL);
}

#define GET	-1	/* for script_run(): a get, not a set */

/* What one set to n (or one get) gives, with the new script name (with body) as the command */
static struct got script_run(const char *name, const char *body, int n)
{
	struct backend *b = exec_script(name, body);
	struct got g = n == GET ? do_get(b) : do_set(b, (unsigned)n);

	backend_free(b);
	return g;
}

/* ---- the tests ---- */

static void test_set_get_environment(void **state)
{
	struct backend *b = exec_with(path_of("endpoint"), NULL);
	struct got g;
	char *env;

	(void)state;
	g = set_ok(b, 4);
	assert_true(g.r.have_capacity);
	assert_int_equal(g.r.capacity, 4);	/* nothing printed: the count asked for */
	assert_int_equal(g.r.attempts, 1);
	assert_int_equal(g.r.http_status, 0);
	env = read_file("env.set");
	assert_non_null(env);
	assert_string_equal(env,
			    "ASCALE_ACTION=set\n"
			    "ASCALE_CAPACITY=4\n"
			    "ASCALE_DEPLOYMENT=blue\n"
			    "ASCALE_ENDPOINT=ep1\n"
			    "ASCALE_PREVIOUS=\n"
			    "ASCALE_SETTING=web\n"
			    "args: \n");
	assert_string_equal(read_file("count"), "4\n");

	write_file("count", "7\n");
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 7);
	env = read_file("env.get");
	assert_non_null(env);
	/* get: no ASCALE_CAPACITY; the last count known is the one set */
	assert_null(strstr(env, "ASCALE_CAPACITY"));
	assert_non_null(strstr(env, "ASCALE_ACTION=get\n"));
	assert_non_null(strstr(env, "ASCALE_PREVIOUS=4\n"));

	set_ok(b, 5);
	assert_non_null(strstr(read_file("env.set"), "ASCALE_PREVIOUS=7\n"));
	backend_free(b);
}

static void test_get_command_and_arguments(void **state)
{
	struct backend *b = exec_new();
	char cmd[600];
	struct got g;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s 'two words' \"it's\" SECRET-ARG", path_of("endpoint"));
	key(b, "command", cmd);
	snprintf(cmd, sizeof(cmd), "%s --read", path_of("endpoint"));
	key(b, "get_command", cmd);
	assert_int_equal(backend_start(b, event), 0);
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 2);
	assert_non_null(strstr(read_file("env.get"), "args: --read\n"));
	set_ok(b, 3);
	assert_non_null(strstr(read_file("env.set"), "args: two words it's SECRET-ARG\n"));
	backend_free(b);
	/* neither the arguments nor the environment are logged */
	assert_null(strstr(logbuf, "SECRET-ARG"));
	assert_null(strstr(logbuf, "ASCALE_"));
}

static void test_set_prints_a_count(void **state)
{
	struct got g;

	(void)state;
	/* the API rounded the request up: the count printed is the one in effect */
	g = script_run("rounds", "echo 8; echo 'more text'\n", 7);
	assert_int_equal(g.r.status, BACKEND_OK);
	assert_int_equal(g.r.capacity, 8);
	/* text that is not a count: the exit status says it worked */
	g = script_run("chatty", "echo 'deployment.apps/web scaled'\n", 3);
	assert_int_equal(g.r.status, BACKEND_OK);
	assert_int_equal(g.r.capacity, 3);
}

static void expect_get(const char *output, enum backend_status status, unsigned count, const char *msg)
{
	struct got g;
	char body[256];

	snprintf(body, sizeof(body), "printf '%s'\n", output);
	g = script_run("get", body, GET);
	assert_int_equal(g.r.status, status);
	if (status == BACKEND_OK) {
		assert_true(g.r.have_capacity);
		assert_int_equal(g.r.capacity, count);
	} else {
		assert_false(g.r.have_capacity);
		if (!strstr(g.r.message, msg))
			print_error("message: %s\n", g.r.message);
		assert_non_null(strstr(g.r.message, msg));
	}
}

static void test_get_parsing(void **state)
{
	(void)state;
	expect_get("  7 \\r\\nignored\\n", BACKEND_OK, 7, NULL);
	expect_get("0\\n", BACKEND_OK, 0, NULL);
	expect_get("10000", BACKEND_OK, 10000, NULL);
	expect_get("", BACKEND_FAILED, 0, "get: ");
	expect_get("", BACKEND_FAILED, 0, "printed nothing where a count 0 to 10000 was expected");
	expect_get("\\nthree\\n", BACKEND_FAILED, 0, "printed nothing");
	expect_get("three\\n", BACKEND_FAILED, 0, "printed 'three' where a count");
	expect_get(" -1\\n", BACKEND_FAILED, 0, "printed '-1'");
	expect_get("3 replicas\\n", BACKEND_FAILED, 0, "printed '3 replicas'");
	expect_get("10001\\n", BACKEND_FAILED, 0, "printed 10001: a count is 0 to 10000");
	expect_get("99999999999999999999999\\n", BACKEND_FAILED, 0, "a count is 0 to 10000");
	expect_get("\\033[31m5\\n", BACKEND_FAILED, 0, "printed '?[31m5'");
}

static void test_tempfail_retried(void **state)
{
	struct backend *b;
	struct got g;

	(void)state;
	/* 75 twice, then success */
	unlink(path_of("tries"));
	logbuf[0] = '\0';
	g = script_run("flaky",
		       "n=$(cat \"$DIR/tries\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$DIR/tries\"\n"
		       "if [ $n -lt 3 ]; then echo 'throttled' >&2; exit 75; fi\n"
		       "echo 6\n", GET);
	assert_int_equal(g.r.status, BACKEND_OK);
	assert_int_equal(g.r.capacity, 6);
	assert_int_equal(g.r.attempts, 3);
	assert_non_null(strstr(logbuf, "exited with 75 (EX_TEMPFAIL), retrying in"));

	/* always 75: retried up to max_attempts, then RETRYING */
	write_script("busy", "echo 'first line' >&2; echo 'the API is busy, later' >&2; exit 75\n");
	b = exec_with(path_of("busy"), "max_attempts", "3", NULL);
	g = do_set(b, 4);
	assert_int_equal(g.r.status, BACKEND_RETRYING);
	assert_int_equal(g.r.err, -EAGAIN);
	assert_int_equal(g.r.attempts, 3);
	assert_false(g.r.have_capacity);
	assert_non_null(strstr(g.r.message, "set: "));
	assert_non_null(strstr(g.r.message, "busy exited with 75: the API is busy, later (gave up after 3 attempts)"));
	assert_null(strstr(g.r.message, "first line"));
	backend_free(b);
}

static void test_timeout(void **state)
{
	struct backend *b;
	struct got g;
	char *pids;

	(void)state;
	write_script("slow", "echo $$ >> \"$DIR/slow.pids\"; sleep 100\n");
	unlink(path_of("slow.pids"));
	b = exec_with(path_of("slow"), "timeout", "200ms", "max_attempts", "2", NULL);
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_RETRYING);
	assert_int_equal(g.r.err, -ETIMEDOUT);
	assert_int_equal(g.r.attempts, 2);
	assert_non_null(strstr(g.r.message, "slow timed out"));
	/* both runs were ended */
	pids = read_file("slow.pids");
	assert_non_null(pids);
	assert_int_equal(kill(atoi(pids), 0), -1);
	assert_int_equal(kill(atoi(strchr(pids, '\n') + 1), 0), -1);
	backend_free(b);
}

static void test_failure_message(void **state)
{
	struct got g;

	(void)state;
	g = script_run("refuses",
		       "echo 'Starting' >&2\n"
		       "printf 'Error: quota \\001exceeded for blue  \\n\\n  \\n' >&2\n"
		       "exit 1\n", 9);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.attempts, 1);
	assert_non_null(strstr(g.r.message, "refuses exited with 1: Error: quota ?exceeded for blue"));
	assert_null(strstr(g.r.message, "Starting"));
	assert_int_equal(g.r.message[strlen(g.r.message) - 1], 'e');

	/* a long line is cut */
	g = script_run("long", "printf '%0400d\\n' 0 >&2; exit 2\n", GET);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_non_null(strstr(g.r.message, "exited with 2: 000"));
	assert_non_null(strstr(g.r.message, "..."));
	assert_true(strlen(strstr(g.r.message, ": 000") + 2) <= BACKEND_LINE_MAX);

	/* killed by a signal: failed too */
	g = script_run("dies", "echo 'out of memory' >&2; kill -KILL $$\n", GET);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_non_null(strstr(g.r.message, "dies killed by signal 9"));
	assert_non_null(strstr(g.r.message, "out of memory"));
}

static void test_shell(void **state)
{
	struct backend *b = exec_new();
	struct got g;
	char cmd[600];

	(void)state;
	/* a pipe and a redirection need the shell; its quoting is not ours */
	snprintf(cmd, sizeof(cmd), "echo \"$ASCALE_CAPACITY\" | tr 0-9 0-9 > %s/count; echo it\\'s done >&2",
		 dir);
	key(b, "command", cmd);
	key(b, "shell", "yes");
	snprintf(cmd, sizeof(cmd), "cat %s/count | head -n 1", dir);
	key(b, "get_command", cmd);
	assert_int_equal(backend_start(b, event), 0);
	set_ok(b, 12);
	assert_string_equal(read_file("count"), "12\n");
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 12);
	backend_free(b);
}

static void test_free_while_running(void **state)
{
	struct backend *b;
	struct got g = { 0 };
	int64_t end;
	pid_t pid = 0;
	char *s;

	(void)state;
	unlink(path_of("hangs.pid"));
	b = exec_script("hangs", "echo $$ > \"$DIR/hangs.pid\"; sleep 100\n");
	assert_int_equal(backend_set(b, 3, on_done, &g), 0);
	assert_true(backend_busy(b));
	assert_int_equal(backend_get(b, on_done, &g), -EBUSY);
	end = time_mono_ns() + 10 * NSEC_PER_SEC;
	while (!(s = read_file("hangs.pid")) && time_mono_ns() < end)
		assert_true(sd_event_run(event, 20000) >= 0);
	assert_non_null(s);
	pid = atoi(s);
	assert_true(pid > 1);
	backend_free(b);
	assert_int_equal(kill(pid, 0), -1);
	run_for(200 * NSEC_PER_MSEC);
	assert_false(g.done);
}

static void test_conf_errors(void **state)
{
	struct backend *b;
	char cmd[600];

	(void)state;
	/* missing command: found at start, at the first backend key's line */
	assert_int_equal(backend_new("exec", "web", "", "blue", &b), 0);
	key(b, "timeout", "5s");
	assert_int_equal(start_refused(b, "test.conf:11: autoscale web: backend exec needs command"), -EINVAL);

	/* bad values: at once */
	conf_line = 10;
	b = exec_new();
	logbuf[0] = '\0';
	assert_int_equal(key_r(b, "command", "   "), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:13: command: expected a program and its arguments"));
	assert_int_equal(key_r(b, "timeout", "soon"), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:14: timeout: expected a duration"));
	assert_int_equal(key_r(b, "shell", "maybe"), -EINVAL);
	assert_int_equal(key_r(b, "bogus", "1"), -ENOENT);
	backend_free(b);

	/* the words: at start (shell = yes may follow), at the key's line */
	b = exec_command("/bin/echo 'open");
	key(b, "max_attempts", "2");
	assert_int_equal(start_refused(b, "test.conf:13: command: a quote is not closed"), -EINVAL);

	b = exec_command("bin/scale up");
	start_refused(b, "test.conf:13: command: expected an absolute path or a name searched in $PATH, not 'bin/scale'");

	b = exec_command("no-such-scaler-ascale --flag");
	snprintf(cmd, sizeof(cmd), "%s/nope", dir);
	key(b, "get_command", cmd);
	start_refused(b, "test.conf:13: autoscale web: command: no-such-scaler-ascale: No such file or directory");

	b = exec_command("true");
	key(b, "get_command", cmd);
	start_refused(b, "test.conf:14: autoscale web: get_command:");
	expect_log("No such file or directory");

	/* the same line is fine for the shell */
	b = exec_new();
	key(b, "command", "echo it\\'s");
	key(b, "shell", "true");
	assert_int_equal(backend_start(b, event), 0);
	backend_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_set_get_environment, test_setup),
		cmocka_unit_test_setup(test_get_command_and_arguments, test_setup),
		cmocka_unit_test_setup(test_set_prints_a_count, test_setup),
		cmocka_unit_test_setup(test_get_parsing, test_setup),
		cmocka_unit_test_setup(test_tempfail_retried, test_setup),
		cmocka_unit_test_setup(test_timeout, test_setup),
		cmocka_unit_test_setup(test_failure_message, test_setup),
		cmocka_unit_test_setup(test_shell, test_setup),
		cmocka_unit_test_setup(test_free_while_running, test_setup),
		cmocka_unit_test_setup(test_conf_errors, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, backend_group_teardown);
}
