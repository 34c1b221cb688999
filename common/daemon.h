/* daemon: detaching from the terminal, and telling the parent or systemd we are ready */
#ifndef ASCALE_DAEMON_H
#define ASCALE_DAEMON_H

/*
 * Forks into the background.  The parent stays until the child calls
 * daemon_ready() (then exits 0) or dies (then exits 1), so a shell sees start-up
 * errors on its stderr.  The child moves to its own session and, once ready,
 * sends its logs to syslog.
 */
int daemon_detach(void);
/* Ready: releases a waiting parent and sends READY=1 to systemd when it asks. */
void daemon_ready(const char *status);

#endif
