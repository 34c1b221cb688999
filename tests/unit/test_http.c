/* test_http: requests through libcurl's multi interface on sd-event against tests/servers/fake_arm.py */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "event_loop.h"
#include "http.h"
#include "test_server.h"
#include "timeutil.h"

#define TOKEN "http-test-token"

static struct http *http;

/* ---- the fake server ---- */

static int group_setup(void **state)
{
	(void)state;
	if (server_start("fake_arm.py", "--token", TOKEN, "--lifetime", "60", NULL) < 0)
		return -1;
	if (sd_event_new(&event) < 0 || http_new(event, &http) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	http_free(http);
	sd_event_unref(event);
	server_stop();
	return 0;
}

/* ---- running requests ---- */

struct got {
	bool done;
	int err;
	long status;
	char body[4096];
	int64_t retry_after_ns;
	char async_op[512];
};

static void on_done(const struct http_response *r, void *user)
{
	struct got *g = user;

	g->done = true;
	g->err = r->err;
	g->status = r->status;
	snprintf(g->body, sizeof(g->body), "%s", r->body);
	g->retry_after_ns = r->retry_after_ns;
	snprintf(g->async_op, sizeof(g->async_op), "%s", r->async_op ? r->async_op : "");
}

/* Sends req to url and runs the loop until g, emptied first, holds the answer. */
static void request(struct http_request *req, const char *url, struct got *g)
{
	req->url = url;
	memset(g, 0, sizeof(*g));
	assert_int_equal(http_request(http, req, on_done, g), 0);
	assert_false(g->done);	/* never called back from inside http_request */
	assert_int_equal(http_pending(http), 1);
	run_until(&g->done, 5 * NSEC_PER_SEC);
}

/* request() to a deployment on the fake */
static void arm_request(struct http_request *req, struct got *g)
{
	char url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/subscriptions/s/resourceGroups/rg/providers/"
		 "Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e/deployments/d"
		 "?api-version=2024-04-01", server_port);
	request(req, url, g);
	req->url = NULL;
}

static void test_get(void **state)
{
	struct http_request req = { .method = "GET", .bearer = TOKEN };
	struct got g;
	json_t *root;

	(void)state;
	arm_request(&req, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 200);
	root = json_loads(g.body, 0, NULL);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "sku"), "capacity")), 1);
	json_decref(root);
	assert_int_equal(http_pending(http), 0);
}

static void test_patch(void **state)
{
	struct http_request req = { .method = "PATCH", .bearer = TOKEN, .body = "{\"sku\":{\"capacity\":2}}" };
	struct got g;

	(void)state;
	arm_request(&req, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 202);
	assert_non_null(strstr(g.async_op, "/mlAsyncOperations/"));
	assert_int_equal(g.retry_after_ns, 0);
}

static void test_unauthorized_and_retry_after(void **state)
{
	struct http_request req = { .method = "GET", .bearer = "wrong" };
	struct got g;

	(void)state;
	arm_request(&req, &g);
	assert_int_equal(g.status, 401);
	assert_non_null(strstr(g.body, "InvalidAuthenticationToken"));

	server_post("/_fake/faults", "{\"next\":[{\"status\":429,\"retry_after\":7}]}");
	req.bearer = TOKEN;
	arm_request(&req, &g);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after_ns, 7 * NSEC_PER_SEC);
}

static void test_timeout(void **state)
{
	struct http_request req = { .method = "GET", .bearer = TOKEN, .timeout_ns = 300 * NSEC_PER_MSEC };
	struct got g;

	(void)state;
	server_post("/_fake/faults", "{\"next\":[\"slow:2\"]}");
	arm_request(&req, &g);
	/* the fake answers after 2 s: a timeout, not its answer, ended the request */
	assert_int_equal(g.err, -ETIMEDOUT);
	assert_int_equal(g.status, 0);
}

static void test_refused(void **state)
{
	struct http_request req = { .method = "GET" };
	struct got g;
	char url[128];

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port());
	request(&req, url, &g);
	assert_int_equal(g.err, -ECONNREFUSED);
}

static void test_bad_requests(void **state)
{
	struct http_request req = { .method = "GET", .url = "ftp://127.0.0.1/" };
	struct got g = { 0 };

	(void)state;
	assert_int_equal(http_request(http, &req, on_done, &g), -EINVAL);
	req.url = "http://127.0.0.1/";
	req.method = "TRACE";
	assert_int_equal(http_request(http, &req, on_done, &g), -EINVAL);
	req.method = "GET";
	req.bearer = "a\r\nX-Injected: 1";
	assert_int_equal(http_request(http, &req, on_done, &g), -EINVAL);
	assert_int_equal(http_pending(http), 0);
}

/*
 * A one-shot server on 127.0.0.1 in a child process: it answers the first
 * request with that request's head (request line and headers) as the body.
 */
static int echo_spawn(pid_t *pid)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char buf[8192], reply[8400];
	size_t n = 0;
	ssize_t k;
	int fd, c, m;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		alarm(10);
		c = accept(fd, NULL, NULL);
		buf[0] = '\0';
		while (c >= 0 && n < sizeof(buf) - 1 && !strstr(buf, "\r\n\r\n") &&
		       (k = read(c, buf + n, sizeof(buf) - 1 - n)) > 0) {
			n += (size_t)k;
			buf[n] = '\0';
		}
		m = snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", n, buf);
		if (c >= 0 && m > 0 && write(c, reply, (size_t)m) < 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

/* req to the echo server; the head it received */
static void echo_request(struct http_request *req, struct got *g)
{
	char url[64];
	pid_t pid;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", echo_spawn(&pid));
	request(req, url, g);
	waitpid(pid, NULL, 0);
	assert_int_equal(g->err, 0);
	assert_int_equal(g->status, 200);
}

static unsigned count_of(const char *s, const char *what)
{
	unsigned n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

static void test_headers(void **state)
{
	static const char *const client[] = { "X-Client: c1", NULL };
	static const char *const mine[] = { "X-Api-Key: k-123", "Accept: text/plain", "X-Empty-Ok:x", NULL };
	static const char *const auth[] = { "authorization: Basic dTpw", NULL };
	struct http_request req = { .method = "GET", .bearer = TOKEN, .headers = mine };
	struct got g;

	(void)state;
	assert_int_equal(http_set_headers(http, client), 0);
	echo_request(&req, &g);
	assert_non_null(strstr(g.body, "GET /echo HTTP/1.1\r\n"));
	assert_non_null(strstr(g.body, "\r\nX-Client: c1\r\n"));
	assert_non_null(strstr(g.body, "\r\nX-Api-Key: k-123\r\n"));
	assert_non_null(strstr(g.body, "\r\nX-Empty-Ok:x\r\n"));
	/* a header given replaces ours */
	assert_non_null(strstr(g.body, "\r\nAccept: text/plain\r\n"));
	assert_int_equal(count_of(g.body, "Accept:"), 1);
	assert_non_null(strstr(g.body, "\r\nAuthorization: Bearer " TOKEN "\r\n"));
	/* the client's header before the request's */
	assert_true(strstr(g.body, "X-Client:") < strstr(g.body, "X-Api-Key:"));

	req.headers = auth;
	echo_request(&req, &g);
	assert_non_null(strstr(g.body, "\r\nauthorization: Basic dTpw\r\n"));
	assert_null(strstr(g.body, "Bearer"));
	assert_non_null(strstr(g.body, "\r\nAccept: application/json\r\n"));

	/* forgotten: the requests without headers are as before */
	assert_int_equal(http_set_headers(http, NULL), 0);
	req.headers = NULL;
	echo_request(&req, &g);
	assert_null(strstr(g.body, "X-Client"));
	assert_non_null(strstr(g.body, "\r\nAccept: application/json\r\n"));
}

static void test_bad_headers(void **state)
{
	static const char *const bad[][2] = {
		{ "X-Api-Key k", NULL },
		{ "X Api: k", NULL },
		{ ": k", NULL },
		{ "X-Ok: 1", "X-Api: k\r\nX-Injected: 1" },
		{ "X-Api: k\n", NULL },
		{ "X(Api): k", NULL },
	};
	struct http_request req = { .method = "GET", .url = "http://127.0.0.1/" };
	const char *const one[] = { "X-Ok: 1", NULL };
	struct got g = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *const list[] = { bad[i][0], bad[i][1], NULL };

		assert_false(http_header_ok(bad[i][1] ? bad[i][1] : bad[i][0]));
		req.headers = list;
		assert_int_equal(http_request(http, &req, on_done, &g), -EINVAL);
		assert_int_equal(http_set_headers(http, list), -EINVAL);
	}
	assert_true(http_header_ok("X-Ok: 1"));
	assert_true(http_header_ok("!#$%&'*+-.^_`|~09azAZ:"));
	/* a bad line refuses the whole list */
	assert_int_equal(http_set_headers(http, one), 0);
	assert_int_equal(http_set_headers(http, (const char *const[]){ "bad", NULL }), -EINVAL);
	assert_int_equal(http_set_headers(http, NULL), 0);
	assert_int_equal(http_pending(http), 0);
	assert_false(g.done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_patch),
		cmocka_unit_test(test_unauthorized_and_retry_after),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_bad_headers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
