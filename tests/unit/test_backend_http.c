/* test_backend_http: the http backend against tests/servers/fake_scaler.py */
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

#include "backend_loop.h"
#include "test_server.h"
#include "testutil.h"
#include "timeutil.h"

#define API_KEY "key-SECRET-0123456789"
#define TOKEN "tok-SECRET-abcdef"

static char dir[] = "/tmp/test_backend_http.XXXXXX";
static char token_path[256];

/* ---- the fake server ---- */

static const char *header(json_t *req, const char *name)
{
	return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static int group_setup(void **state)
{
	if (backend_group_setup(state, dir) < 0)
		return -1;
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	testutil_write_text(token_path, TOKEN "\n");
	return server_start("fake_scaler.py", "--lifetime", "90", NULL);
}

static int test_setup(void **state)
{
	(void)state;
	server_post("/_fake/reset", "{}");
	return 0;
}

/* ---- backends and results ---- */

/* a backend on the fake with url (and get_url when get), the common keys, then extra key/value pairs */
static struct backend *http_new_backend(bool get, const char *const *extra)
{
	struct backend *b;
	char url[128];

	assert_int_equal(backend_new("http", "web", "ep1", "blue", &b), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/pools/blue", server_port);
	key(b, "url", url);
	if (get) {
		key(b, "get_url", url);
		key(b, "get_pointer", "/status/replicas");
	}
	key(b, "retry_delay", "50ms");
	key(b, "request_timeout", "2s");
	key(b, "operation_timeout", "10s");
	for (; extra && extra[0]; extra += 2)
		key(b, extra[0], extra[1]);
	assert_int_equal(backend_start(b, event), 0);
	return b;
}

/* ---- set: template, headers, method ---- */

static void test_template_and_headers(void **state)
{
	static const char *const extra[] = {
		"method", "post",
		"body", "{\"spec\": {\"n\": {{capacity}}}, \"prev\": \"{{previous}}\", "
			"\"who\": \"{{ setting }}/{{endpoint}}/{{deployment}}\"}",
		"content_type", "application/vnd.scaler+json",
		"header", "X-Api-Key: " API_KEY,
		"header", "X-Team:ml",
		"header", "Accept: application/vnd.scaler+json",
		NULL
	};
	struct backend *b = http_new_backend(false, extra);
	json_t *all, *req;
	struct got g;
	int n;

	(void)state;
	server_post("/_fake/config", "{\"field\": \"spec.n\"}");
	g = set_ok(b, 4);
	assert_true(g.r.have_capacity);
	assert_int_equal(g.r.capacity, 4);
	assert_int_equal(g.r.attempts, 1);
	assert_int_equal(g.r.http_status, 200);
	all = server_requests();
	req = server_recorded(all, "POST", -1, &n);
	assert_int_equal(n, 1);
	assert_string_equal(server_field(req, "path"), "/v1/pools/blue");
	/* no count known yet: {{previous}} is empty */
	assert_string_equal(server_field(req, "body"),
			    "{\"spec\": {\"n\": 4}, \"prev\": \"\", \"who\": \"web/ep1/blue\"}");
	assert_string_equal(header(req, "X-Api-Key"), API_KEY);
	assert_string_equal(header(req, "X-Team"), "ml");
	assert_string_equal(header(req, "Content-Type"), "application/vnd.scaler+json");
	/* ours is replaced, not doubled */
	assert_string_equal(header(req, "Accept"), "application/vnd.scaler+json");
	assert_null(header(req, "Authorization"));
	json_decref(all);

	set_ok(b, 6);
	all = server_requests();
	req = server_recorded(all, "POST", -1, &n);
	assert_int_equal(n, 2);
	assert_string_equal(server_field(req, "body"),
			    "{\"spec\": {\"n\": 6}, \"prev\": \"4\", \"who\": \"web/ep1/blue\"}");
	json_decref(all);
	backend_free(b);
}

static void test_default_body_and_token(void **state)
{
	static const char *const extra[] = { "token_file", token_path, NULL };
	struct backend *b = http_new_backend(true, extra);
	json_t *all, *req;
	struct got g;

	(void)state;
	g = set_ok(b, 3);
	assert_int_equal(g.r.capacity, 3);
	g = do_get(b);
	assert_int_equal(g.r.capacity, 3);
	all = server_requests();
	req = server_recorded(all, "PUT", -1, NULL);
	assert_non_null(req);
	assert_string_equal(server_field(req, "body"), "{\"capacity\": 3}");
	assert_string_equal(header(req, "Content-Type"), "application/json");
	assert_string_equal(header(req, "Authorization"), "Bearer " TOKEN);
	assert_string_equal(header(server_recorded(all, "GET", -1, NULL), "Authorization"), "Bearer " TOKEN);
	json_decref(all);
	backend_free(b);
}

/* the count in the set's reply is the result: the API may grant less than asked */
static void test_set_reply_count(void **state)
{
	static const char *const extra[] = { "get_pointer", "/spec/replicas", NULL };
	struct backend *b = http_new_backend(true, NULL);
	struct got g;

	(void)state;
	server_post("/_fake/config", "{\"max\": 6}");
	g = set_ok(b, 9);
	assert_int_equal(g.r.capacity, 6);
	assert_non_null(strstr(g.r.message, "/status/replicas is 6"));
	backend_free(b);

	/* a pointer that the reply does not hold: the count sent */
	b = http_new_backend(false, extra);
	g = set_ok(b, 5);
	assert_int_equal(g.r.capacity, 5);
	backend_free(b);
}

/* ---- get: the pointer ---- */

static void test_get_pointer(void **state)
{
	static const struct {
		const char *count;
		enum backend_status status;
		unsigned capacity;
		const char *message;
	} cases[] = {
		{ "7", BACKEND_OK, 7, "count 7" },
		{ "\"8\"", BACKEND_OK, 8, "count 8" },
		{ "0", BACKEND_OK, 0, "count 0" },
		{ "10000", BACKEND_OK, 10000, "count 10000" },
		{ "\"abc\"", BACKEND_FAILED, 0, "/status/replicas is not an integer" },
		{ "2.5", BACKEND_FAILED, 0, "/status/replicas is not an integer" },
		{ "null", BACKEND_FAILED, 0, "/status/replicas is not an integer" },
		{ "{\"a\": 1}", BACKEND_FAILED, 0, "/status/replicas is not an integer" },
		{ "10001", BACKEND_FAILED, 0, "is 10001, not a count in 0..10000" },
		{ "-1", BACKEND_FAILED, 0, "is -1, not a count in 0..10000" },
		{ "\"-3\"", BACKEND_FAILED, 0, "is -3, not a count" },
	};
	struct backend *b = http_new_backend(true, NULL);
	char body[64];
	struct got g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"count\": %s}", cases[i].count);
		server_post("/_fake/count", body);
		g = do_get(b);
		assert_int_equal(g.r.status, cases[i].status);
		assert_int_equal(g.r.have_capacity, cases[i].status == BACKEND_OK);
		if (cases[i].status == BACKEND_OK)
			assert_int_equal(g.r.capacity, cases[i].capacity);
		assert_non_null(strstr(g.r.message, cases[i].message));
		assert_int_equal(g.r.attempts, 1);
	}
	backend_free(b);
}

static void test_get_pointer_missing(void **state)
{
	static const char *const extra[] = { "get_pointer", "/status/ready~1replicas", NULL };
	static const char *const extra2[] = { "get_pointer", "/status/replicas/0", NULL };
	struct backend *b = http_new_backend(true, extra);
	struct got g;

	(void)state;
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.err, -EPROTO);
	assert_non_null(strstr(g.r.message, "no /status/ready~1replicas in the reply"));
	backend_free(b);

	/* an array index */
	b = http_new_backend(true, extra2);
	server_post("/_fake/count", "{\"count\": [4, 5]}");
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 4);
	server_post("/_fake/count", "{\"count\": []}");
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	backend_free(b);
}

/* ---- refusals and retries ---- */

static void test_400_fails_at_once(void **state)
{
	struct backend *b = http_new_backend(true, NULL);
	struct got g;

	(void)state;
	server_post("/_fake/faults", "{\"next\": [400]}");
	g = do_set(b, 3);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.http_status, 400);
	assert_int_equal(g.r.attempts, 1);
	assert_non_null(strstr(g.r.message, "PUT url: HTTP 400: fake fault 400"));

	/* the API's own refusal */
	key(b, "body", "{\"replicas\": {{capacity}}}");
	g = do_set(b, 3);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_non_null(strstr(g.r.message, "expected a count (an integer >= 0) at capacity in the body"));

	/* no JSON message: the start of the reply, printable bytes only */
	server_post("/_fake/faults",
		"{\"next\": [{\"status\": 403, \"body\": \"  quota\\r\\n\\texceeded\\u0001 for pool \"}]}");
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_int_equal(g.r.http_status, 403);
	assert_non_null(strstr(g.r.message, "GET get_url: HTTP 403: quota exceeded for pool"));
	assert_null(strchr(g.r.message, '\n'));
	backend_free(b);
}

static void test_500_retried(void **state)
{
	struct backend *b = http_new_backend(true, NULL);
	json_t *all;
	struct got g;
	int n;

	(void)state;
	logbuf[0] = '\0';
	/* a dropped connection (a fresh one: curl itself resends on a reused one), then a 500 */
	server_post("/_fake/faults", "{\"next\": [\"drop\", 500]}");
	g = set_ok(b, 2);
	assert_int_equal(g.r.capacity, 2);
	assert_int_equal(g.r.attempts, 3);
	all = server_requests();
	server_recorded(all, "PUT", -1, &n);
	assert_int_equal(n, 3);
	json_decref(all);
	assert_non_null(strstr(logbuf, "http PUT: HTTP 500, retrying"));

	get_gives_up(b);
	backend_free(b);
}

/* ---- without get_url ---- */

static void test_no_get_url(void **state)
{
	static const char *const extra[] = { "initial", "3", NULL };
	struct backend *b = http_new_backend(false, NULL);
	json_t *all;
	struct got g;
	int n;

	(void)state;
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	assert_false(g.r.have_capacity);
	assert_int_equal(g.r.attempts, 0);
	assert_string_equal(g.r.message, "no get_url: the count is unknown until set; give initial");
	set_ok(b, 4);
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 4);
	backend_free(b);

	b = http_new_backend(false, extra);
	g = get_ok(b);
	assert_int_equal(g.r.capacity, 3);
	/* a refused set leaves the count known */
	server_post("/_fake/faults", "{\"next\": [422]}");
	g = do_set(b, 8);
	assert_int_equal(g.r.status, BACKEND_FAILED);
	set_ok(b, 5);
	g = do_get(b);
	assert_int_equal(g.r.capacity, 5);
	all = server_requests();
	assert_null(server_recorded(all, "GET", -1, &n));
	assert_int_equal(n, 0);
	json_decref(all);
	backend_free(b);
}

/* ---- configuration ---- */

static void conf_bad(const char *k, const char *v, const char *message)
{
	struct conf_ctx c = { .path = "bad.conf", .line = 17 };
	struct backend *b;

	assert_int_equal(backend_new("http", "web", "", "blue", &b), 0);
	logbuf[0] = '\0';
	assert_int_equal(backend_conf_key(b, &c, k, v), -EINVAL);
	assert_non_null(strstr(logbuf, "bad.conf:17: "));
	if (!strstr(logbuf, message))
		fail_msg("expected '%s' in: %s", message, logbuf);
	/* a header's value is never repeated */
	assert_null(strstr(logbuf, "SECRET"));
	backend_free(b);
}

static void start_bad(const char *const *keys, const char *message)
{
	struct backend *b;

	assert_int_equal(backend_new("http", "web", "", "blue", &b), 0);
	for (; keys[0]; keys += 2)
		key(b, keys[0], keys[1]);
	start_refused(b, message);
}

static void test_conf(void **state)
{
	static const char *const no_url[] = { "method", "PATCH", NULL };
	static const char *const no_pointer[] = { "url", "http://127.0.0.1:1/", "get_url", "http://127.0.0.1:1/",
						  NULL };
	static const char *const two_auth[] = { "url", "http://127.0.0.1:1/", "token_file", token_path,
						"header", "authorization: Basic SECRET", NULL };
	static const char *const no_token[] = { "url", "http://127.0.0.1:1/", "token_file", "/nonexistent/tok",
						NULL };
	struct backend *b;

	(void)state;
	assert_int_equal(backend_new("http", "web", "", "blue", &b), 0);
	assert_int_equal(backend_conf_key(b, &(struct conf_ctx){ .path = "x", .line = 1 }, "colour", "blue"),
			 -ENOENT);
	backend_free(b);

	conf_bad("header", "X-Api-Key " API_KEY, "header: expected 'Name: value'");
	conf_bad("header", "X Api Key: " API_KEY, "header: expected 'Name: value'");
	conf_bad("header", "X-Api-Key: " API_KEY "\r\nX-Injected: 1", "header: expected 'Name: value'");
	conf_bad("header", "X-Api-Key: " API_KEY "\nX", "no line break");
	conf_bad("header", ": " API_KEY, "header: expected 'Name: value'");
	conf_bad("header", "X-Api-Key:   ", "header X-Api-Key: the value is empty");
	conf_bad("header", "content-length: 5", "header Content-Length: set by HTTP itself");
	conf_bad("header", "Content-Type: text/plain", "give it as content_type");
	conf_bad("body", "{\"n\": {{capacity}}, \"x\": {{replicas}}}", "unknown placeholder {{replicas}}");
	conf_bad("body", "{\"n\": {{capacity}", "'{{' at column 7 opens no placeholder");
	conf_bad("get_pointer", "status/replicas", "get_pointer: expected a JSON pointer");
	conf_bad("get_pointer", "/status/a~2b", "get_pointer: expected a JSON pointer");
	conf_bad("get_pointer", "/status/a~", "get_pointer: expected a JSON pointer");
	conf_bad("url", "ftp://127.0.0.1/", "url: expected an http:// or https:// URL");
	conf_bad("get_url", "http://127.0.0.1/a b", "spaces and control characters");
	conf_bad("method", "DELETE", "method: expected PUT, POST or PATCH");
	conf_bad("initial", "10001", "initial");
	conf_bad("content_type", "text/plain\x01", "content_type");
	conf_bad("max_attempts", "0", "max_attempts");

	start_bad(no_url, "backend http needs url");
	start_bad(no_pointer, "get_url needs get_pointer");
	start_bad(two_auth, "a bearer token and an Authorization header");
	start_bad(no_token, "token_file /nonexistent/tok");
	assert_null(strstr(logbuf, "SECRET"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_template_and_headers, test_setup),
		cmocka_unit_test_setup(test_default_body_and_token, test_setup),
		cmocka_unit_test_setup(test_set_reply_count, test_setup),
		cmocka_unit_test_setup(test_get_pointer, test_setup),
		cmocka_unit_test_setup(test_get_pointer_missing, test_setup),
		cmocka_unit_test_setup(test_400_fails_at_once, test_setup),
		cmocka_unit_test_setup(test_500_retried, test_setup),
		cmocka_unit_test_setup(test_no_get_url, test_setup),
		cmocka_unit_test_setup(test_conf, test_setup),
		/* last: nothing logged since the configuration test carries a header's value or the token */
		cmocka_unit_test_prestate(test_no_secret_logged, "SECRET"),
	};

	return cmocka_run_group_tests(tests, group_setup, backend_group_teardown);
}
