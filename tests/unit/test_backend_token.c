/* test_backend_token: token_command for azureml against tests/servers/fake_arm.py */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "timeutil.h"

#define BACKEND_WAIT_NS (20 * NSEC_PER_SEC)
#include "fake_arm.h"
#include "testutil.h"

#define TOKEN1 "tok-SECRET-first-0123456789"
#define TOKEN2 "tok-SECRET-second-rotated-abcdef"

static char dir[] = "/tmp/test_backend_token.XXXXXX";
static char script[256];

/* ---- the fake server ---- */

/* The Authorization header of every request the fake saw, and how many there were. */
static size_t fake_auths(char auths[][128], size_t max)
{
	json_t *all = server_requests(), *v;
	size_t i, n = 0;

	json_array_foreach(all, i, v)
		if (n < max)
			snprintf(auths[n++], 128, "%s", server_field(v, "auth"));
	json_decref(all);
	return n;
}

/* ---- the token command ---- */

static void write_script(const char *body)
{
	char text[2048];

	assert_true(snprintf(text, sizeof(text), "#!/bin/sh\necho run >> %s/runs\n%s", dir, body) <
		    (int)sizeof(text));
	testutil_write_text(script, text);
	assert_int_equal(chmod(script, 0755), 0);
}

static void reset_runs(void)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/runs", dir);
	unlink(path);
}

/* Empties the log, which must hold no token so far. */
static void clear_log(void)
{
	expect_no_secret("tok-SECRET");
	logbuf[0] = '\0';
}

/* times the token command ran since the test began */
static int runs(void)
{
	char path[300], line[16];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/runs", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* every result (got_check): no message ever carries a token */
static void no_token(const struct backend_result *r)
{
	assert_null(strstr(r->message, "tok-SECRET"));
}

static int group_setup(void **state)
{
	loop_block_sigchld();
	got_check = no_token;
	if (backend_group_setup(state, dir) < 0)
		return -1;
	snprintf(script, sizeof(script), "%s/get-token", dir);
	return server_start("fake_arm.py", "--token", TOKEN1, "--lifetime", "90", NULL);
}

static int test_setup(void **state)
{
	(void)state;
	reset_runs();
	fake_arm_reset(TOKEN1, 3);
	conf_line = 20;
	return 0;
}

/* ---- backends and results ---- */

/* azureml on the fake, on lines 21 to 27 after test_setup, waiting longer for a token command */
static struct backend *azureml_conf(void)
{
	return fake_arm_azureml("5s", "20s");
}

/* azureml with token_command = the script, written with body, and one more key k (when not NULL), started */
static struct backend *azureml_new(const char *body, const char *k, const char *v)
{
	struct backend *b;

	write_script(body);
	b = azureml_conf();
	key(b, "token_command", script);
	if (k)
		key(b, k, v);
	assert_int_equal(backend_start(b, event), 0);
	return b;
}

/* ---- the tests ---- */

static void test_bare_token(void **state)
{
	struct backend *b;
	char auths[8][128];
	struct got g;

	(void)state;
	b = azureml_new("echo '  " TOKEN1 "  '\necho\n", NULL, NULL);
	/* start checks the program, but does not run it */
	assert_int_equal(runs(), 0);
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 3);
	assert_int_equal(g.r.attempts, 1);
	get_ok(b);
	/* cached: run once for both requests */
	assert_int_equal(runs(), 1);
	assert_int_equal(fake_auths(auths, 8), 2);
	assert_string_equal(auths[0], "Bearer " TOKEN1);
	assert_string_equal(auths[1], "Bearer " TOKEN1);
	backend_free(b);
}

static void test_json_forms(void **state)
{
	struct backend *b;
	char body[1024], auths[8][128];

	(void)state;
	/* az account get-access-token */
	fake_arm_token(TOKEN2);
	snprintf(body, sizeof(body),
		 "cat <<EOF\n{\n  \"accessToken\": \"" TOKEN2 "\",\n  \"expiresOn\": \"2099-01-01 00:00:00.000000\",\n"
		 "  \"expires_on\": %lld,\n  \"subscription\": \"0000-sub\",\n  \"tenant\": \"t\",\n"
		 "  \"tokenType\": \"Bearer\"\n}\nEOF\n", (long long)time(NULL) + 3600);
	b = azureml_new(body, NULL, NULL);
	get_ok(b);
	get_ok(b);
	assert_int_equal(runs(), 1);
	assert_int_equal(fake_auths(auths, 8), 2);
	assert_string_equal(auths[1], "Bearer " TOKEN2);
	backend_free(b);

	/* OAuth's token endpoint */
	reset_runs();
	server_post("/_fake/reset", "{}");
	fake_arm_token(TOKEN1);
	b = azureml_new("echo '{\"access_token\":\"" TOKEN1 "\",\"token_type\":\"Bearer\",\"expires_in\":3599}'\n",
			NULL, NULL);
	get_ok(b);
	assert_int_equal(fake_auths(auths, 8), 1);
	assert_string_equal(auths[0], "Bearer " TOKEN1);
	backend_free(b);
}

static void test_refresh_near_expiry(void **state)
{
	struct backend *b;

	(void)state;
	/* expires in 200 s: inside the 5 minutes before expiry, so every request runs the command */
	b = azureml_new("echo '{\"access_token\":\"" TOKEN1 "\",\"expires_in\":200}'\n", NULL, NULL);
	get_ok(b);
	get_ok(b);
	assert_int_equal(runs(), 2);
	backend_free(b);
}

static void test_refresh_when_old(void **state)
{
	struct backend *b;

	(void)state;
	b = azureml_new("echo " TOKEN1 "\n", "token_refresh", "1s");
	get_ok(b);
	assert_int_equal(runs(), 1);
	/* older than token_refresh: run again before the next request */
	run_for(1200 * NSEC_PER_MSEC);
	get_ok(b);
	assert_int_equal(runs(), 2);
	backend_free(b);
}

static void test_refresh_after_401(void **state)
{
	struct backend *b;
	char body[512], current[300], auths[8][128];
	struct got g;

	(void)state;
	snprintf(current, sizeof(current), "%s/current", dir);
	testutil_write_text(current, TOKEN1 "\n");
	snprintf(body, sizeof(body), "cat %s\n", current);
	b = azureml_new(body, NULL, NULL);
	get_ok(b);
	/* the token is revoked and a new one issued */
	testutil_write_text(current, TOKEN2 "\n");
	fake_arm_token(TOKEN2);
	clear_log();
	g = get_ok(b);
	assert_int_equal(g.r.attempts, 2);
	assert_int_equal(runs(), 2);
	assert_int_equal(fake_auths(auths, 8), 3);
	assert_string_equal(auths[1], "Bearer " TOKEN1);
	assert_string_equal(auths[2], "Bearer " TOKEN2);
	assert_non_null(strstr(logbuf, "HTTP 401, running token_command again"));

	/* a token the server still refuses: refreshed once, then the 401 stands */
	fake_arm_token("something-else");
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.http_status, 401);
	assert_int_equal(g.r.attempts, 2);
	assert_int_equal(runs(), 3);
	backend_free(b);
}

static void expect_failure(const char *body, const char *msg)
{
	struct backend *b;
	char auths[8][128];
	struct got g;

	server_post("/_fake/reset", "{}");
	b = azureml_new(body, NULL, NULL);
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_RETRYING);
	assert_int_equal(g.r.attempts, 0);
	if (!strstr(g.r.message, msg))
		print_error("message: %s\n", g.r.message);
	assert_non_null(strstr(g.r.message, "token_command: "));
	assert_non_null(strstr(g.r.message, msg));
	/* nothing was sent without a token */
	assert_int_equal(fake_auths(auths, 8), 0);
	backend_free(b);
}

static void test_failing_command(void **state)
{
	(void)state;
	expect_failure("echo 'ERROR: Please run az login to setup account.' >&2; exit 1\n",
		       "get-token exited with 1: ERROR: Please run az login to setup account.");
	expect_failure("exit 0\n", "get-token printed nothing");
	expect_failure("echo 'tok-SECRET-a tok-SECRET-b'\n", "get-token printed blanks or control characters");
	expect_failure("echo '{\"token\": \"tok-SECRET-x\"}'\n", "printed JSON without accessToken or access_token");
	expect_failure("echo '{\"accessToken\": \"tok-SECRET-x\"'\n", "printed invalid JSON");
	expect_failure("echo '{\"accessToken\": \"tok-SECRET x\"}'\n", "printed blanks or control characters");
	expect_failure("kill -TERM $$\n", "get-token killed by signal 15");
}

static void test_failing_then_working(void **state)
{
	struct backend *b;
	struct got g;

	(void)state;
	b = azureml_new("exit 3\n", NULL, NULL);
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_RETRYING);
	/* the next operation runs it again */
	write_script("echo " TOKEN1 "\n");
	get_ok(b);
	assert_int_equal(runs(), 2);
	backend_free(b);
}

static void test_free_while_refreshing(void **state)
{
	struct backend *b;
	struct got g = { 0 };
	int64_t end;

	(void)state;
	b = azureml_new("sleep 100\n", NULL, NULL);
	assert_int_equal(backend_get(b, on_done, &g), 0);
	end = time_mono_ns() + 10 * NSEC_PER_SEC;
	while (runs() == 0 && time_mono_ns() < end)
		assert_true(sd_event_run(event, 20000) >= 0);
	assert_int_equal(runs(), 1);
	backend_free(b);
	run_for(200 * NSEC_PER_MSEC);
	assert_false(g.done);
}

static void test_conf(void **state)
{
	struct backend *b;
	char path[300];

	(void)state;
	write_script("echo " TOKEN1 "\n");
	snprintf(path, sizeof(path), "%s/token", dir);
	/* both: refused where the second one is */
	b = azureml_conf();
	key(b, "token_file", path);
	clear_log();
	assert_int_equal(key_r(b, "token_command", script), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:29: token_command: token_file is set too"));
	backend_free(b);
	conf_line = 20;
	b = azureml_conf();
	key(b, "token_command", script);
	assert_int_equal(key_r(b, "token_file", path), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:29: token_file: token_command is set too"));
	backend_free(b);

	/* neither */
	conf_line = 20;
	b = azureml_conf();
	clear_log();
	assert_int_equal(start_refused(b, "test.conf:21: autoscale web: backend azureml needs token_file or token_command"),
			 -EINVAL);

	/* bad command lines */
	conf_line = 20;
	b = azureml_conf();
	clear_log();
	assert_int_equal(key_r(b, "token_command", "az account get-access-token --query 'accessToken"), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:28: token_command: a quote is not closed"));
	assert_int_equal(key_r(b, "token_command", "./get-token"), -EINVAL);
	assert_int_equal(key_r(b, "token_refresh", "0s"), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:30: token_refresh: expected a duration"));
	key(b, "token_command", "no-such-token-tool-ascale --json");
	clear_log();
	start_refused(b, "token_command: no-such-token-tool-ascale: No such file or directory");

	/* kubernetes keeps token_file only */
	assert_int_equal(backend_new("kubernetes", "web", "", "web-app", &b), 0);
	assert_int_equal(key_r(b, "token_command", script), -ENOENT);
	backend_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bare_token, test_setup),
		cmocka_unit_test_setup(test_json_forms, test_setup),
		cmocka_unit_test_setup(test_refresh_near_expiry, test_setup),
		cmocka_unit_test_setup(test_refresh_when_old, test_setup),
		cmocka_unit_test_setup(test_refresh_after_401, test_setup),
		cmocka_unit_test_setup(test_failing_command, test_setup),
		cmocka_unit_test_setup(test_failing_then_working, test_setup),
		cmocka_unit_test_setup(test_free_while_refreshing, test_setup),
		cmocka_unit_test_setup(test_conf, test_setup),
		/* last: nothing logged in the whole run carries a token */
		cmocka_unit_test_prestate(test_no_secret_logged, "tok-SECRET"),
	};

	return cmocka_run_group_tests(tests, group_setup, backend_group_teardown);
}
