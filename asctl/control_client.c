/* control_client: one request to the coordinator's control socket (docs/control.md) */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "control_client.h"
#include "log.h"

#define CONTROL_CLIENT_TIMEOUT_MS	10000

static int control_connect(const char *path, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: %s: socket path too long", cmd, path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == ENOENT || errno == ECONNREFUSED)
		log_err("%s: ascoord is not running (nothing answers on %s)", cmd, path);
	else if (errno == EACCES || errno == EPERM)
		log_err("%s: access denied to %s (root or the control group only)", cmd, path);
	else
		log_err("%s: %s: %s", cmd, path, strerror(errno));
	close(fd);
	return -1;
}

/* Reads until the newline that ends the reply, or EOF; bounded in size and time. */
static char *control_read(int fd, const char *cmd, size_t *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap), *tmp;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			if (cap >= CONTROL_CLIENT_REPLY_MAX) {
				log_err("%s: the coordinator's reply is over %u bytes", cmd,
					CONTROL_CLIENT_REPLY_MAX);
				break;
			}
			tmp = realloc(buf, cap * 2);
			if (!tmp)
				break;
			buf = tmp;
			cap *= 2;
		}
		if (poll(&pfd, 1, CONTROL_CLIENT_TIMEOUT_MS) <= 0) {
			log_err("%s: the coordinator did not answer in %d s", cmd,
				CONTROL_CLIENT_TIMEOUT_MS / 1000);
			break;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*len = n;
			return buf;
		}
		n += (size_t)r;
		if (memchr(buf + n - r, '\n', (size_t)r)) {
			*len = n;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

int control_call(const char *path, const char *cmd, const char *command, json_t *extra,
		 json_t **reply)
{
	json_t *req, *rep = NULL;
	json_error_t jerr;
	char *text, *buf;
	size_t len;
	int fd, r = ASCTL_FAIL;

	req = json_pack("{s:i, s:s}", "v", 1, "command", command);
	if (req && extra)
		json_object_update(req, extra);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return ASCTL_FAIL;
	fd = control_connect(path, cmd);
	if (fd < 0) {
		free(text);
		return ASCTL_FAIL;
	}
	/*
	 * A coordinator that refuses us (access denied, too busy) says why and
	 * closes at once, maybe before we are done sending: read its reply all
	 * the same.
	 */
	if ((send(fd, text, strlen(text), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) &&
	    errno != EPIPE && errno != ECONNRESET) {
		log_err("%s: %s: %s", cmd, path, strerror(errno));
		goto out;
	}
	buf = control_read(fd, cmd, &len);
	if (!buf)
		goto out;
	rep = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!json_is_object(rep)) {
		log_err("%s: the coordinator's reply is not JSON: %s", cmd, jerr.text);
		goto out;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *msg = json_string_value(json_object_get(rep, "error"));

		log_err("%s: %s", cmd, msg ? msg : "the coordinator refused the request");
		r = msg && strncmp(msg, "access denied", 13) == 0 ? ASCTL_FAIL : ASCTL_USAGE;
		goto out;
	}
	*reply = rep;
	rep = NULL;
	r = ASCTL_OK;
out:
	json_decref(rep);
	free(text);
	close(fd);
	return r;
}
