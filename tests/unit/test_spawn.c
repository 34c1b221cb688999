/* test_spawn: real child processes run from an sd-event loop */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "event_loop.h"
#include "spawn.h"
#include "testutil.h"
#include "timeutil.h"

static char dir[] = "/tmp/test_spawn.XXXXXX";

struct got {
	bool done;
	unsigned calls;
	struct spawn_result r;
	char out[8192];
	char tail[SPAWN_ERR_TAIL + 1];
};

static void on_done(struct spawn *s, const struct spawn_result *r, void *user)
{
	struct got *g = user;

	(void)s;
	g->done = true;
	g->calls++;
	g->r = *r;
	snprintf(g->out, sizeof(g->out), "%s", r->out);
	snprintf(g->tail, sizeof(g->tail), "%s", r->err_tail);
	/* the result's strings go with the handle */
	g->r.out = g->out;
	g->r.err_tail = g->tail;
}

/* Runs argv to its end with the given options; the callback never comes from spawn_start. */
static struct got *run(const char *const *argv, const char *const *env, size_t out_max, int64_t timeout_ns)
{
	static struct got g;
	struct spawn_opts o = {
		.argv = argv,
		.env = env,
		.out_max = out_max,
		.timeout_ns = timeout_ns,
		.grace_ns = 300 * NSEC_PER_MSEC,
	};
	struct spawn *s = NULL;

	memset(&g, 0, sizeof(g));
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), 0);
	assert_non_null(s);
	assert_false(g.done);
	run_until(&g.done, 20 * NSEC_PER_SEC);
	assert_int_equal(g.calls, 1);
	return &g;
}

static struct got *sh(const char *script)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	return run(argv, NULL, 4096, 0);
}

/* Whether pid is gone, waiting a little for init to reap it. */
static bool gone(pid_t pid)
{
	int64_t end = time_mono_ns() + 5 * NSEC_PER_SEC;

	while (time_mono_ns() < end) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		usleep(10000);
	}
	return false;
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return pid;
}

static int group_setup(void **state)
{
	(void)state;
	loop_block_sigchld();
	if (!mkdtemp(dir) || sd_event_new(&event) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sd_event_unref(event);
	return testutil_rm_rf(dir);
}

static void test_exit_codes(void **state)
{
	const char *truth[] = { "true", NULL };
	struct got *g;

	(void)state;
	g = sh("exit 3");
	assert_true(g->r.exited);
	assert_int_equal(g->r.status, 3);
	assert_int_equal(g->r.signal, 0);
	assert_int_equal(g->r.err, 0);
	assert_false(g->r.timed_out);
	/* a bare name is searched in $PATH */
	g = run(truth, NULL, 16, 0);
	assert_true(g->r.exited);
	assert_int_equal(g->r.status, 0);
	assert_int_equal(g->r.out_len, 0);
}

static void test_output(void **state)
{
	struct got *g;

	(void)state;
	g = sh("printf 'hello\\nworld'; echo oops >&2; exit 0");
	assert_true(g->r.exited);
	assert_int_equal(g->r.out_len, 11);
	assert_string_equal(g->r.out, "hello\nworld");
	assert_string_equal(g->r.err_tail, "oops\n");
	assert_int_equal(g->r.err_len, 5);
}

static void test_signal(void **state)
{
	struct got *g;

	(void)state;
	g = sh("echo dying >&2; kill -9 $$");
	assert_false(g->r.exited);
	assert_int_equal(g->r.signal, SIGKILL);
	assert_false(g->r.timed_out);
	assert_string_equal(g->r.err_tail, "dying\n");
}

static void test_timeout_kills_the_group(void **state)
{
	char script[512], pidfile[256];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct got *g;
	pid_t bg;

	(void)state;
	snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", dir);
	snprintf(script, sizeof(script), "sleep 100 & echo $! > %s; echo started; sleep 100", pidfile);
	g = run(argv, NULL, 4096, 300 * NSEC_PER_MSEC);
	assert_true(g->r.timed_out);
	assert_int_equal(g->r.err, -ETIMEDOUT);
	assert_false(g->r.exited);
	assert_int_equal(g->r.signal, SIGTERM);
	assert_string_equal(g->r.out, "started\n");
	/* the background sleep was in the group: it is gone too */
	bg = read_pid(pidfile);
	assert_true(bg > 1);
	assert_true(gone(bg));
}

static void test_timeout_sigkill_after_grace(void **state)
{
	/* SIGTERM ignored from the start (coreutils' env), so that no timing decides */
	const char *argv[] = { "env", "--ignore-signal=TERM", "sleep", "100", NULL };
	struct got *g;

	(void)state;
	g = run(argv, NULL, 4096, 300 * NSEC_PER_MSEC);
	assert_true(g->r.timed_out);
	assert_int_equal(g->r.err, -ETIMEDOUT);
	assert_int_equal(g->r.signal, SIGKILL);
}

static void test_stdout_limit(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "head -c 200000 /dev/zero; sleep 100", NULL };
	const char *fits[] = { "/bin/sh", "-c", "head -c 1000 /dev/zero | tr '\\0' x", NULL };
	struct got *g;

	(void)state;
	g = run(argv, NULL, 1000, 0);
	assert_int_equal(g->r.err, -EMSGSIZE);
	assert_false(g->r.exited);
	assert_true(g->r.out_len <= 1000);
	/* exactly the limit is fine */
	g = run(fits, NULL, 1000, 0);
	assert_int_equal(g->r.err, 0);
	assert_int_equal(g->r.out_len, 1000);
	assert_true(g->r.exited);
}

static void test_stderr_tail(void **state)
{
	struct got *g;

	(void)state;
	g = sh("i=0; while [ $i -lt 500 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo out");
	assert_int_equal(g->r.err_len, SPAWN_ERR_TAIL);
	assert_int_equal(strlen(g->r.err_tail), SPAWN_ERR_TAIL);
	assert_non_null(strstr(g->r.err_tail, "line 498\nline 499\n"));
	assert_null(strstr(g->r.err_tail, "line 1\n"));
	assert_string_equal(g->r.out, "out\n");
}

static void test_environment(void **state)
{
	const char *argv[] = { "env", NULL };
	const char *env[] = { "ASCALE_X=1 2", "KEEP_REPLACED=new", "DROP_ME", NULL };
	struct got *g;

	(void)state;
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_PID", "1", 1);
	setenv("WATCHDOG_USEC", "1000", 1);
	setenv("INVOCATION_ID", "abc", 1);
	setenv("JOURNAL_STREAM", "8:9", 1);
	setenv("KEEP_ME", "yes", 1);
	setenv("KEEP_REPLACED", "old", 1);
	setenv("DROP_ME", "x", 1);
	g = run(argv, env, 65536, 0);
	assert_true(g->r.exited);
	assert_int_equal(g->r.status, 0);
	assert_non_null(strstr(g->r.out, "\nASCALE_X=1 2\n"));
	assert_non_null(strstr(g->r.out, "KEEP_ME=yes\n"));
	assert_non_null(strstr(g->r.out, "KEEP_REPLACED=new\n"));
	assert_null(strstr(g->r.out, "KEEP_REPLACED=old"));
	assert_null(strstr(g->r.out, "DROP_ME"));
	assert_null(strstr(g->r.out, "NOTIFY_SOCKET"));
	assert_null(strstr(g->r.out, "LISTEN_"));
	assert_null(strstr(g->r.out, "WATCHDOG_"));
	assert_null(strstr(g->r.out, "INVOCATION_ID"));
	assert_null(strstr(g->r.out, "JOURNAL_STREAM"));
	assert_non_null(strstr(g->r.out, "PATH="));
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("WATCHDOG_USEC");
	unsetenv("INVOCATION_ID");
	unsetenv("JOURNAL_STREAM");
}

static void test_child_state(void **state)
{
	struct got *g;
	unsigned long long blk = 1, ign = 1;
	char *p;
	int fd;

	(void)state;
	/* a descriptor without O_CLOEXEC: still closed in the child */
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 57), 57);
	close(fd);
	g = sh("ls /proc/$$/fd; readlink /proc/$$/fd/0; cut -d' ' -f5 /proc/$$/stat; "
	       "exec grep -E '^Sig(Blk|Ign)' /proc/self/status");
	close(57);
	assert_true(g->r.exited);
	assert_int_equal(g->r.status, 0);
	assert_non_null(strstr(g->r.out, "0\n1\n2\n/dev/null\n"));
	assert_null(strstr(g->r.out, "57"));
	/* its own process group */
	p = strstr(g->r.out, "/dev/null\n") + strlen("/dev/null\n");
	assert_int_equal(atoi(p), g->r.pid);
	/* nothing blocked, SIGPIPE (ignored here) back to its default */
	p = strstr(g->r.out, "SigBlk:");
	assert_non_null(p);
	blk = strtoull(p + 7, NULL, 16);
	p = strstr(g->r.out, "SigIgn:");
	assert_non_null(p);
	ign = strtoull(p + 7, NULL, 16);
	assert_int_equal(blk, 0);
	assert_int_equal(ign & (1ULL << (SIGPIPE - 1)), 0);
}

static void test_cancel(void **state)
{
	const char *argv[] = { "sleep", "100", NULL };
	struct spawn_opts o = { .argv = argv, .out_max = 16 };
	struct got g = { 0 };
	struct spawn *s = NULL;
	siginfo_t si;
	pid_t pid;

	(void)state;
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), 0);
	pid = spawn_pid(s);
	run_for(50 * NSEC_PER_MSEC);
	assert_int_equal(kill(pid, 0), 0);
	spawn_cancel(s);
	spawn_cancel(NULL);
	/* killed and reaped at once: not even a zombie is left */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	run_for(200 * NSEC_PER_MSEC);
	assert_false(g.done);
}

static void test_start_failures(void **state)
{
	const char *missing[] = { "/nonexistent/prog", NULL };
	const char *bare[] = { "no-such-program-ascale", NULL };
	const char *empty[] = { "", NULL };
	const char *text[] = { NULL, NULL };
	const char *bad_env[] = { "=x", NULL };
	const char *truth[] = { "/bin/true", NULL };
	struct spawn_opts o = { .out_max = 16 };
	char path[256];
	struct got g = { 0 };
	struct spawn *s = NULL;
	sigset_t mask;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/not-executable", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	text[0] = path;
	o.argv = missing;
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), -ENOENT);
	o.argv = bare;
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), -ENOENT);
	o.argv = text;
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), -EACCES);
	o.argv = empty;
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), -EINVAL);
	o.argv = truth;
	o.env = bad_env;
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), -EINVAL);
	o.env = NULL;
	/* SIGCHLD not blocked: refused before anything runs */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	assert_int_equal(spawn_start(event, &o, on_done, &g, &s), -EBUSY);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	run_for(100 * NSEC_PER_MSEC);
	assert_false(g.done);
	assert_int_equal(spawn_find("sh"), 0);
	assert_int_equal(spawn_find("/bin/sh"), 0);
	assert_int_equal(spawn_find("no-such-program-ascale"), -ENOENT);
	assert_int_equal(spawn_find(path), -EACCES);
	assert_int_equal(spawn_find("/tmp"), -EACCES);
}

static void test_split(void **state)
{
	char **v = NULL;

	(void)state;
	assert_int_equal(spawn_split("  /usr/bin/scale  --to 'two words' \"it's\" a\"b c\"d ''\t", &v), 6);
	assert_string_equal(v[0], "/usr/bin/scale");
	assert_string_equal(v[1], "--to");
	assert_string_equal(v[2], "two words");
	assert_string_equal(v[3], "it's");
	assert_string_equal(v[4], "ab cd");
	assert_string_equal(v[5], "");
	assert_null(v[6]);
	spawn_argv_free(v);
	assert_int_equal(spawn_split("   ", &v), 0);
	assert_null(v[0]);
	spawn_argv_free(v);
	assert_int_equal(spawn_split("a\nb", &v), 2);
	spawn_argv_free(v);
	v = NULL;
	assert_int_equal(spawn_split("echo 'open", &v), -EINVAL);
	assert_int_equal(spawn_split("echo \"open'", &v), -EINVAL);
	assert_null(v);
	{
		char many[SPAWN_ARGS_MAX * 2 + 8];
		int i;

		for (i = 0; i <= SPAWN_ARGS_MAX; i++) {
			many[2 * i] = 'x';
			many[2 * i + 1] = ' ';
		}
		many[2 * i] = '\0';
		assert_int_equal(spawn_split(many, &v), -E2BIG);
		many[2 * SPAWN_ARGS_MAX] = '\0';
		assert_int_equal(spawn_split(many, &v), SPAWN_ARGS_MAX);
		spawn_argv_free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_timeout_kills_the_group),
		cmocka_unit_test(test_timeout_sigkill_after_grace),
		cmocka_unit_test(test_stdout_limit),
		cmocka_unit_test(test_stderr_tail),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_child_state),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_start_failures),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
