/* fake_arm: starting tests/servers/fake_arm.py for a unit test, and stopping it */
#ifndef ASCALE_TEST_FAKE_ARM_H
#define ASCALE_TEST_FAKE_ARM_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t fake_pid;
static int fake_port;

/*
 * Starts the fake (ARM and Kubernetes on 127.0.0.1) accepting token, ending
 * by itself after lifetime seconds, and reads the port it prints.  The
 * script is found under $ASCALE_SRC, else from the current directory.
 */
static int fake_spawn(const char *token, const char *lifetime)
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
		execlp("python3", "python3", path, "--token", token, "--lifetime", lifetime, (char *)NULL);
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
	fake_port = atoi(buf);
	return fake_port > 0 ? 0 : -EIO;
}

static void fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
}

#endif
