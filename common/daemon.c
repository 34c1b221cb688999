/* daemon: detaching from the terminal, and telling the parent or systemd we are ready */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "daemon.h"
#include "log.h"
#include "version.h"

static int daemon_pipe = -1;

static void daemon_usage(FILE *f, const char *prog, const char *conf_default)
{
	fprintf(f,
		"usage: %s [-c FILE] [-f] [-t] [-v]\n"
		"  -c FILE  configuration (default %s)\n"
		"  -f       stay in the foreground\n"
		"  -t       check the configuration and exit\n"
		"  -v       log debug messages\n"
		"  -V       print the version and exit\n", prog, conf_default);
}

int daemon_args_parse(int argc, char **argv, const char *prog, const char *conf_default,
		      struct daemon_args *a)
{
	int opt;

	*a = (struct daemon_args){ .conf_path = conf_default };
	while ((opt = getopt(argc, argv, "c:ftvVh")) != -1) {
		switch (opt) {
		case 'c':
			a->conf_path = optarg;
			a->conf_given = true;
			break;
		case 'f':
			a->foreground = true;
			break;
		case 't':
			a->test = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'V':
			printf("%s %s\n", prog, ASCALE_VERSION);
			return 0;
		case 'h':
			daemon_usage(stdout, prog, conf_default);
			return 0;
		default:
			daemon_usage(stderr, prog, conf_default);
			return 2;
		}
	}
	if (optind != argc) {
		daemon_usage(stderr, prog, conf_default);
		return 2;
	}
	if (a->conf_path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(a->conf_buf, sizeof(a->conf_buf), "%s/%s", cwd, a->conf_path) >=
			    sizeof(a->conf_buf)) {
			fprintf(stderr, "%s: %s: cannot make the path absolute\n", prog, a->conf_path);
			return 2;
		}
		a->conf_path = a->conf_buf;
	}
	return -1;
}

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

static int daemon_on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int daemon_event_new(sd_event **e)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);	/* children are reaped through sd_event_add_child */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = sd_event_default(e);
	if (r < 0)
		return r;
	if ((r = sd_event_add_signal(*e, NULL, SIGTERM, daemon_on_term, NULL)) < 0 ||
	    (r = sd_event_add_signal(*e, NULL, SIGINT, daemon_on_term, NULL)) < 0 ||
	    (r = sd_event_set_watchdog(*e, true)) < 0) {
		*e = sd_event_unref(*e);
		return r;
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
