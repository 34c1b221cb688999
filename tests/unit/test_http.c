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

#include "http.h"
#include "timeutil.h"

#define TOKEN "http-test-token"

static pid_t fake_pid;
static int fake_port;
static sd_event *event;
static struct http *http;

/* ---- the fake server ---- */

static int fake_spawn(void)
{
	const char *src = getenv("ASCALE_SRC");
	char path[4096], buf[32] = "";
	struct pollfd pfd;
	size_t len = 0;
	int fds[2];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/tests/servers/fake_arm.py", src ? src : ".");
	if (pipe(fds) < 0)
		return -errno;
	fake_pid = fork();
	if (fake_pid < 0)
		return -errno;
	if (fake_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execlp("python3", "python3", path, "--token", TOKEN, "--lifetime", "60", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	/* the port, up to its newline */
	len = 0;
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		if (poll(&pfd, 1, 10000) != 1 || (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) <= 0) {
			close(fds[0]);
			return -EIO;
		}
		len += (size_t)n;
	}
	close(fds[0]);
	buf[len] = '\0';
	fake_port = atoi(buf);
	return fake_port > 0 ? 0 : -EIO;
}

static int group_setup(void **state)
{
	(void)state;
	if (fake_spawn() < 0)
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
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
	return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
	(void)data;
	(void)user;
	return size * n;
}

/* one POST to the fake's control API, blocking (test side only) */
static void fake_control(const char *path, const char *body)
{
	char url[256];
	CURL *c = curl_easy_init();
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fake_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	curl_easy_cleanup(c);
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

/* bounded loop: at most limit_ns */
static void run_until(struct got *g, int64_t limit_ns)
{
	int64_t end = time_mono_ns() + limit_ns;

	while (!g->done && time_mono_ns() < end)
		assert_true(sd_event_run(event, 100000) >= 0);
	assert_true(g->done);
}

static void arm_url(char *buf, size_t size)
{
	snprintf(buf, size, "http://127.0.0.1:%d/subscriptions/s/resourceGroups/rg/providers/"
		 "Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e/deployments/d"
		 "?api-version=2024-04-01", fake_port);
}

static void test_get(void **state)
{
	struct http_request req = { .method = "GET", .bearer = TOKEN };
	struct got g = { 0 };
	char url[512];
	json_t *root;

	(void)state;
	arm_url(url, sizeof(url));
	req.url = url;
	assert_int_equal(http_request(http, &req, on_done, &g), 0);
	assert_false(g.done);	/* never called back from inside http_request */
	assert_int_equal(http_pending(http), 1);
	run_until(&g, 5 * NSEC_PER_SEC);
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
	struct got g = { 0 };
	char url[512];

	(void)state;
	arm_url(url, sizeof(url));
	req.url = url;
	assert_int_equal(http_request(http, &req, on_done, &g), 0);
	run_until(&g, 5 * NSEC_PER_SEC);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 202);
	assert_non_null(strstr(g.async_op, "/mlAsyncOperations/"));
	assert_int_equal(g.retry_after_ns, 0);
}

static void test_unauthorized_and_retry_after(void **state)
{
	struct http_request req = { .method = "GET", .bearer = "wrong" };
	struct got g = { 0 };
	char url[512];

	(void)state;
	arm_url(url, sizeof(url));
	req.url = url;
	assert_int_equal(http_request(http, &req, on_done, &g), 0);
	run_until(&g, 5 * NSEC_PER_SEC);
	assert_int_equal(g.status, 401);
	assert_non_null(strstr(g.body, "InvalidAuthenticationToken"));

	fake_control("/_fake/faults", "{\"next\":[{\"status\":429,\"retry_after\":7}]}");
	memset(&g, 0, sizeof(g));
	req.bearer = TOKEN;
	assert_int_equal(http_request(http, &req, on_done, &g), 0);
	run_until(&g, 5 * NSEC_PER_SEC);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after_ns, 7 * NSEC_PER_SEC);
}

static void test_timeout(void **state)
{
	struct http_request req = { .method = "GET", .bearer = TOKEN, .timeout_ns = 300 * NSEC_PER_MSEC };
	struct got g = { 0 };
	char url[512];
	int64_t t0;

	(void)state;
	fake_control("/_fake/faults", "{\"next\":[\"slow:2\"]}");
	arm_url(url, sizeof(url));
	req.url = url;
	t0 = time_mono_ns();
	assert_int_equal(http_request(http, &req, on_done, &g), 0);
	run_until(&g, 5 * NSEC_PER_SEC);
	assert_int_equal(g.err, -ETIMEDOUT);
	assert_int_equal(g.status, 0);
	assert_true(time_mono_ns() - t0 < 1500 * NSEC_PER_MSEC);
}

static void test_refused(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct http_request req = { .method = "GET" };
	struct got g = { 0 };
	socklen_t len = sizeof(sa);
	char url[128];
	int fd;

	(void)state;
	/* a port nobody listens on: bound, then closed */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	req.url = url;
	assert_int_equal(http_request(http, &req, on_done, &g), 0);
	run_until(&g, 5 * NSEC_PER_SEC);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_patch),
		cmocka_unit_test(test_unauthorized_and_retry_after),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bad_requests),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
