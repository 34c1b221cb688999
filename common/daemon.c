/* daemon: detaching from the terminal, and telling the parent or systemd we are ready */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"

static int daemon_pipe = -1;

int daemon_detach(void)
{
	int fds[2], fd, r;
	pid_t pid;
	char c;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid > 0) {
		close(fds[1]);
		do
			r = read(fds[0], &c, 1);
		while (r < 0 && errno == EINTR);
		if (r == 1)
			_exit(0);
		/* the child died before it was ready; it has said why */
		waitpid(pid, NULL, 0);
		_exit(1);
	}
	close(fds[0]);
	daemon_pipe = fds[1];
	setsid();
	if (chdir("/") < 0)
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

void daemon_ready(const char *status)
{
	int fd;

	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	if (daemon_pipe < 0)
		return;
	if (write(daemon_pipe, "r", 1) < 0)
		log_warn("cannot release the parent: %s", strerror(errno));
	close(daemon_pipe);
	daemon_pipe = -1;
	log_to_syslog();
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}
