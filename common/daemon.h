/* daemon: detaching from the terminal, and telling the parent or systemd we are ready */
#ifndef ASCALE_DAEMON_H
#define ASCALE_DAEMON_H

#include <limits.h>
#include <stdbool.h>

/* The options both daemons take: [-c FILE] [-f] [-t] [-v] [-V] [-h]. */
struct daemon_args {
	const char *conf_path;	/* absolute: a daemon moves to / and may read it again */
	bool conf_given;	/* -c: the file must exist */
	bool foreground;	/* -f */
	bool test;		/* -t: check the configuration and exit */
	bool verbose;		/* -v */
	char conf_buf[PATH_MAX];
};

/*
 * Parses argv for prog (its name in messages and -V) with conf_default as
 * the configuration; returns -1 to go on, or the exit code (0 after -h or -V,
 * 2 after a bad option).
 */
int daemon_args_parse(int argc, char **argv, const char *prog, const char *conf_default,
		      struct daemon_args *a);

/*
 * Forks into the background.  The parent stays until the child calls
 * daemon_ready() (then exits 0) or dies (then exits 1), so a shell sees start-up
 * errors on its stderr.  The child moves to its own session and, once ready,
 * sends its logs to syslog.
 */
int daemon_detach(void);
/*
 * The daemons' event loop: SIGTERM and SIGINT end it (STOPPING=1 to
 * systemd), SIGHUP is blocked for the caller to handle (or to ignore),
 * SIGPIPE is ignored, and WATCHDOG=1 is sent when the unit asks for it.
 * Returns 0 or -errno.
 */
struct sd_event;
int daemon_event_new(struct sd_event **e);
/* Ready: releases a waiting parent and sends READY=1 to systemd when it asks. */
void daemon_ready(const char *status);

#endif
