/* test_backend: the azureml, kubernetes and sim backends against tests/servers/fake_arm.py */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "fake_arm.h"
#include "testutil.h"
#include "timeutil.h"

#define TOKEN1 "tok-SECRET-first-0123456789"
#define TOKEN2 "tok-SECRET-second-rotated-abcdef"

static char dir[] = "/tmp/test_backend.XXXXXX";
static char token_path[256];

/* ---- the fake server ---- */

static int group_setup(void **state)
{
	if (backend_group_setup(state, dir) < 0)
		return -1;
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	return server_start("fake_arm.py", "--token", TOKEN1, "--lifetime", "90", NULL);
}

static int test_setup(void **state)
{
	(void)state;
	testutil_write_text(token_path, TOKEN1 "\n");
	fake_arm_reset(TOKEN1, 1);
	return 0;
}

/* ---- backends and results ---- */

static struct backend *azureml_new(void)
{
	struct backend *b = fake_arm_azureml("2s", "10s");

	key(b, "token_file", token_path);
	key(b, "poll_interval", "50ms");
	assert_int_equal(backend_start(b, event), 0);
	return b;
}

static void test_azureml_set(void **state)
{
	struct backend *b = azureml_new();
	struct got g;
	json_t *all, *patch;
	int npatch;

	(void)state;
	g = set_ok(b, 3);
	assert_true(g.r.have_capacity);
	assert_int_equal(g.r.capacity, 3);
	/* GET (not busy), PATCH (202), poll InProgress, poll Succeeded */
	assert_int_equal(g.r.attempts, 4);
	all = server_requests();
	patch = server_recorded(all, "PATCH", 0, &npatch);
	assert_int_equal(npatch, 1);
	assert_string_equal(server_field(patch, "body"), "{\"sku\":{\"capacity\":3}}");
	assert_string_equal(server_field(patch, "auth"), "Bearer " TOKEN1);
	assert_string_equal(server_field(patch, "path"),
			    "/subscriptions/0000-sub/resourceGroups/rg1/providers/Microsoft.MachineLearningServices"
			    "/workspaces/ws1/onlineEndpoints/ep1/deployments/blue?api-version=2024-04-01");
	assert_non_null(strstr(server_field(server_recorded(all, "GET", -1, NULL), "path"),
			       "/mlAsyncOperations/"));
	json_decref(all);
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 3);
	backend_free(b);
}

static void test_azureml_get(void **state)
{
	struct backend *b = azureml_new();
	struct got g;

	(void)state;
	server_post("/_fake/capacity", "{\"capacity\":7}");
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 7);
	assert_int_equal(g.r.http_status, 200);
	assert_non_null(strstr(g.r.message, "Succeeded"));
	backend_free(b);
}

static void test_azureml_busy_and_range(void **state)
{
	struct backend *b = azureml_new();
	struct got g = { 0 }, g2 = { 0 };

	(void)state;
	assert_int_equal(backend_set(b, BACKEND_CAPACITY_MAX + 1, on_done, &g), -ERANGE);
	assert_int_equal(backend_set(b, 2, on_done, &g), 0);
	assert_true(backend_busy(b));
	assert_int_equal(backend_get(b, on_done, &g2), -EBUSY);
	assert_int_equal(backend_set(b, 3, on_done, &g2), -EBUSY);
	run_until(&g.done, 10 * NSEC_PER_SEC);
	assert_int_equal(g.r.status, BACKEND_OK);
	assert_false(g2.done);
	assert_false(backend_busy(b));
	backend_free(b);
}

static void test_azureml_unauthorized(void **state)
{
	struct backend *b = azureml_new();
	struct got g;

	(void)state;
	fake_arm_token("something-else");
	g = do_set(b, 3);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.http_status, 401);
	assert_int_equal(g.r.attempts, 1);
	assert_non_null(strstr(g.r.message, "The access token is invalid."));
	assert_non_null(strstr(g.r.message, "InvalidAuthenticationToken"));
	backend_free(b);
}

static void test_azureml_500_retried(void **state)
{
	struct backend *b = azureml_new();
	struct got g;
	json_t *all;
	int n;

	(void)state;
	server_post("/_fake/faults", "{\"next\":[500, 502]}");
	g = set_ok(b, 4);
	assert_int_equal(g.r.capacity, 4);
	assert_int_equal(g.r.attempts, 6);
	all = server_requests();
	server_recorded(all, "PATCH", 0, &n);
	assert_int_equal(n, 1);
	json_decref(all);
	assert_non_null(strstr(logbuf, "HTTP 500, retrying"));
	backend_free(b);
}

static void test_azureml_retry_after(void **state)
{
	struct backend *b = azureml_new();
	struct got g;
	int64_t t0 = time_mono_ns();

	(void)state;
	server_post("/_fake/faults", "{\"next\":[{\"status\":429,\"retry_after\":1}]}");
	g = get_ok(b);
	assert_int_equal(g.r.attempts, 2);
	/* retry_delay is 50 ms: only Retry-After explains a second's wait */
	assert_true(time_mono_ns() - t0 >= 950 * NSEC_PER_MSEC);
	backend_free(b);
}

static void test_azureml_gives_up(void **state)
{
	struct backend *b = azureml_new();

	(void)state;
	get_gives_up(b);
	backend_free(b);
}

static void test_azureml_operation_failed(void **state)
{
	struct backend *b = azureml_new();
	struct got g;

	(void)state;
	server_post("/_fake/config", "{\"final\":\"Failed\"}");
	g = do_set(b, 5);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_non_null(strstr(g.r.message, "fake operation Failed"));
	backend_free(b);
}

static void test_azureml_200_then_wait(void **state)
{
	struct backend *b = azureml_new();
	struct got g;

	(void)state;
	/* 200 at once, no operation to poll */
	server_post("/_fake/config", "{\"patch_status\":200,\"polls\":0}");
	g = set_ok(b, 6);
	assert_int_equal(g.r.attempts, 2);
	backend_free(b);
}

static void test_azureml_waits_while_updating(void **state)
{
	struct backend *a = azureml_new(), *b = azureml_new();
	struct got ga = { 0 }, gb = { 0 };
	json_t *all, *p;
	int n;

	(void)state;
	/* a's operation stays InProgress for 6 polls; b must wait for it before its PATCH */
	server_post("/_fake/config", "{\"polls\":6}");
	assert_int_equal(backend_set(a, 2, on_done, &ga), 0);
	run_for(150 * NSEC_PER_MSEC);
	assert_false(ga.done);
	assert_int_equal(backend_set(b, 5, on_done, &gb), 0);
	run_until(&ga.done, 10 * NSEC_PER_SEC);
	run_until(&gb.done, 10 * NSEC_PER_SEC);
	assert_int_equal(ga.r.status, BACKEND_OK);
	assert_int_equal(gb.r.status, BACKEND_OK);
	/* b never sent a PATCH that the busy deployment refused */
	all = server_requests();
	p = server_recorded(all, "PATCH", -1, &n);
	assert_int_equal(n, 2);
	assert_string_equal(server_field(p, "body"), "{\"sku\":{\"capacity\":5}}");
	json_decref(all);
	ga = do_get(a);
	assert_int_equal(ga.r.capacity, 5);
	backend_free(a);
	backend_free(b);
}

static void test_token_file_change(void **state)
{
	struct backend *b = azureml_new();
	json_t *all;

	(void)state;
	get_ok(b);
	testutil_write_text(token_path, TOKEN2 "\n");
	fake_arm_token(TOKEN2);
	get_ok(b);
	all = server_requests();
	assert_string_equal(server_field(server_recorded(all, "GET", -1, NULL), "auth"),
			    "Bearer " TOKEN2);
	json_decref(all);
	assert_non_null(strstr(logbuf, "changed, read again"));
	backend_free(b);
}

static struct backend *kubernetes_new(void)
{
	struct backend *b;
	char api[64];

	assert_int_equal(backend_new("kubernetes", "web", "", "web-app", &b), 0);
	snprintf(api, sizeof(api), "http://127.0.0.1:%d", server_port);
	key(b, "api", api);
	key(b, "namespace", "prod");
	key(b, "token_file", token_path);
	key(b, "retry_delay", "50ms");
	assert_int_equal(backend_start(b, event), 0);
	return b;
}

static void test_kubernetes(void **state)
{
	struct backend *b = kubernetes_new();
	struct got g;
	json_t *all, *patch;

	(void)state;
	g = set_ok(b, 4);
	assert_int_equal(g.r.capacity, 4);
	all = server_requests();
	patch = server_recorded(all, "PATCH", 0, NULL);
	assert_non_null(patch);
	assert_string_equal(server_field(patch, "path"),
			    "/apis/apps/v1/namespaces/prod/deployments/web-app/scale");
	assert_string_equal(server_field(patch, "body"), "{\"spec\":{\"replicas\":4}}");
	assert_string_equal(server_field(patch, "ctype"), "application/merge-patch+json");
	assert_string_equal(server_field(patch, "auth"), "Bearer " TOKEN1);
	json_decref(all);
	server_post("/_fake/capacity", "{\"capacity\":9}");
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 9);

	fake_arm_token("other");
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.http_status, 401);
	assert_non_null(strstr(g.r.message, "Unauthorized"));
	backend_free(b);
}

static void test_sim(void **state)
{
	struct backend *b;
	struct got g;

	(void)state;
	assert_int_equal(backend_new("sim", "web", "", "blue", &b), 0);
	key(b, "initial", "2");
	assert_int_equal(backend_start(b, event), 0);
	g = do_get(b);
	assert_int_equal(g.r.capacity, 2);
	set_ok(b, 5);
	g = do_get(b);
	assert_int_equal(g.r.capacity, 5);
	backend_free(b);
}

static void test_conf(void **state)
{
	struct conf_ctx c = { .path = "test.conf", .line = 12 };
	struct backend *b;

	(void)state;
	assert_int_equal(backend_new("nope", "web", "", "blue", &b), -ENOENT);
	assert_int_equal(backend_new("azureml", "web", "ep", "blue", &b), 0);
	assert_int_equal(backend_conf_key(b, &c, "colour", "blue"), -ENOENT);
	logbuf[0] = '\0';
	assert_int_equal(backend_conf_key(b, &c, "arm", "ftp://x"), -EINVAL);
	assert_non_null(strstr(logbuf, "test.conf:12:"));
	assert_int_equal(backend_conf_key(b, &c, "workspace", "a/b"), -EINVAL);
	assert_int_equal(backend_conf_key(b, &c, "max_attempts", "0"), -EINVAL);
	/* keys missing: start refuses */
	assert_true(backend_start(b, event) < 0);
	backend_free(b);
	assert_int_equal(backend_new("azureml", "web", "ep", "blue", &b), 0);
	key(b, "subscription", "s");
	key(b, "resource_group", "r");
	key(b, "workspace", "w");
	key(b, "token_file", token_path);
	key(b, "insecure", "true");
	logbuf[0] = '\0';
	assert_int_equal(backend_start(b, event), 0);
	assert_non_null(strstr(logbuf, "NOT verified"));
	backend_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_azureml_set, test_setup),
		cmocka_unit_test_setup(test_azureml_get, test_setup),
		cmocka_unit_test_setup(test_azureml_busy_and_range, test_setup),
		cmocka_unit_test_setup(test_azureml_unauthorized, test_setup),
		cmocka_unit_test_setup(test_azureml_500_retried, test_setup),
		cmocka_unit_test_setup(test_azureml_retry_after, test_setup),
		cmocka_unit_test_setup(test_azureml_gives_up, test_setup),
		cmocka_unit_test_setup(test_azureml_operation_failed, test_setup),
		cmocka_unit_test_setup(test_azureml_200_then_wait, test_setup),
		cmocka_unit_test_setup(test_azureml_waits_while_updating, test_setup),
		cmocka_unit_test_setup(test_token_file_change, test_setup),
		cmocka_unit_test_setup(test_kubernetes, test_setup),
		cmocka_unit_test_setup(test_sim, test_setup),
		cmocka_unit_test_setup(test_conf, test_setup),
		/* last: nothing logged in the whole run carries a token */
		cmocka_unit_test_prestate(test_no_secret_logged, "tok-SECRET"),
	};

	return cmocka_run_group_tests(tests, group_setup, backend_group_teardown);
}
