/* test_server: a Python test server from tests/servers/ for a unit test: started, asked, its request log read, stopped */
#ifndef ASCALE_TEST_SERVER_H
#define ASCALE_TEST_SERVER_H

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

/* The server running (one at a time) and the port it listens on, on 127.0.0.1. */
static pid_t server_pid;
static int server_port;

/*
 * Starts python3 tests/servers/<script> with the arguments that follow (up
 * to a NULL) and reads the port it prints on its first line.  The script is
 * found under $ASCALE_SRC, else from the current directory.  0, or a
 * negative errno.
 */
__attribute__((sentinel))
static inline int server_start(const char *script, ...)
{
	const char *src = getenv("ASCALE_SRC");
	char path[4096], buf[32] = "", *argv[16];
	struct pollfd pfd;
	size_t len = 0, argc = 0;
	va_list ap;
	int fds[2];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/tests/servers/%s", src ? src : ".", script);
	argv[argc++] = "python3";
	argv[argc++] = path;
	va_start(ap, script);
	while (argc < sizeof(argv) / sizeof(argv[0]) - 1 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (pipe(fds) < 0)
		return -errno;
	server_pid = fork();
	if (server_pid < 0)
		return -errno;
	if (server_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execvp("python3", argv);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	/* the port, up to its newline */
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		if (poll(&pfd, 1, 10000) != 1 || (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) <= 0) {
			close(fds[0]);
			return -EIO;
		}
		len += (size_t)n;
	}
	close(fds[0]);
	buf[len] = '\0';
	server_port = atoi(buf);
	return server_port > 0 ? 0 : -EIO;
}

static inline void server_stop(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
}

static inline size_t server_collect(char *data, size_t size, size_t n, void *user)
{
	char **buf = user;
	size_t have = *buf ? strlen(*buf) : 0, len = size * n;
	char *p = realloc(*buf, have + len + 1);

	if (!p)
		return 0;
	memcpy(p + have, data, len);
	p[have + len] = '\0';
	*buf = p;
	return len;
}

/*
 * One call to the server's control API with method (blocking; test side
 * only), which must answer 200: the JSON answer, NULL when it is none.
 */
static inline json_t *server_control(const char *method, const char *path, const char *body)
{
	CURL *c = curl_easy_init();
	char url[256], *reply = NULL;
	long status = 0;
	json_t *root;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, server_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	curl_easy_cleanup(c);
	root = json_loads(reply ? reply : "", 0, NULL);
	free(reply);
	return root;
}

/* A POST to the control API, its answer dropped. */
static inline void server_post(const char *path, const char *body)
{
	json_decref(server_control("POST", path, body));
}

/* The API requests that a fake from fakebase.py logged since its last reset: a JSON array. */
static inline json_t *server_requests(void)
{
	return server_control("GET", "/_fake/requests", NULL);
}

/* The string member name of a logged request (method, path, body, auth...), NULL when it has none. */
static inline const char *server_field(const json_t *req, const char *name)
{
	return json_string_value(json_object_get(req, name));
}

/*
 * Of the requests all, the i-th one (from 0; -1: the last) with method m,
 * NULL when there is none; *count, when count is not NULL: how many have m.
 */
static inline json_t *server_recorded(json_t *all, const char *m, int i, int *count)
{
	json_t *v, *hit = NULL;
	size_t k;
	int n = 0;

	json_array_foreach(all, k, v)
		if (strcmp(server_field(v, "method"), m) == 0) {
			if (i < 0 || n == i)
				hit = v;
			n++;
		}
	if (count)
		*count = n;
	return hit;
}

/* A port on 127.0.0.1 that nobody listens on: bound, then closed. */
static inline int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

#endif
