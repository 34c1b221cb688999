/* spawn: running a child process from the sd-event loop, its output read without blocking */
#ifndef ASCALE_SPAWN_H
#define ASCALE_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#define SPAWN_ERR_TAIL		1024			/* the last bytes of stderr kept */
#define SPAWN_GRACE_NS		(2 * 1000000000LL)	/* SIGTERM, then SIGKILL this much later */
#define SPAWN_ARGS_MAX		64			/* words of a command line */

struct spawn;

struct spawn_opts {
	/* argv[0] with a '/' is run as given; a bare name is searched in the daemon's $PATH */
	const char *const *argv;
	/* NULL-terminated: "NAME=value" adds or replaces a variable, "NAME" removes one; may be NULL */
	const char *const *env;
	size_t out_max;			/* more stdout than this: -EMSGSIZE, and the child is killed */
	int64_t timeout_ns;		/* 0: none */
	int64_t grace_ns;		/* from SIGTERM to SIGKILL; 0: SPAWN_GRACE_NS */
};

struct spawn_result {
	int err;		/* 0, -ETIMEDOUT (timeout_ns), -EMSGSIZE (out_max), -EIO (a pipe failed) */
	bool exited;		/* it exited: status is its exit code */
	int status;
	int signal;		/* killed by this signal (0 when it exited) */
	bool timed_out;
	pid_t pid;
	const char *out;	/* all of stdout, NUL-terminated */
	size_t out_len;
	const char *err_tail;	/* the last SPAWN_ERR_TAIL bytes of stderr, NUL-terminated */
	size_t err_len;
};

/* Called once, from the loop; the handle and r are freed when it returns. */
typedef void (*spawn_done_fn)(struct spawn *s, const struct spawn_result *r, void *user);

/*
 * Starts o->argv in a process group of its own: stdin /dev/null, stdout and
 * stderr into pipes read from e, every other descriptor closed, signals
 * unblocked and at their defaults, the environment the daemon's without
 * systemd's per-service variables (NOTIFY_SOCKET, LISTEN_FDS, ...), plus o->env.
 * A timeout sends SIGTERM to the group, then SIGKILL after the grace.  The
 * exit is seen through sd_event_add_child, so SIGCHLD must be blocked.  The
 * call waits for the exec only (fork, then a close-on-exec pipe), never for the program.
 * Returns 0, or -errno when the program could not be started (-ENOENT,
 * -EACCES, -ENOEXEC...; cb is then never called) or -EBUSY (SIGCHLD is not blocked).
 */
int spawn_start(sd_event *e, const struct spawn_opts *o, spawn_done_fn cb, void *user,
		struct spawn **out);
/* Kills the group and reaps the child without calling back; frees s.  NULL is fine. */
void spawn_cancel(struct spawn *s);
pid_t spawn_pid(const struct spawn *s);

/*
 * Splits a command line into words: blanks separate them, '...' and "..."
 * group blanks into a word (no escapes, no variables, no shell).  *argv is
 * NULL-terminated, for spawn_argv_free().  Returns the number of words (0 for
 * a blank line), -EINVAL (a quote left open), -E2BIG (over SPAWN_ARGS_MAX) or -ENOMEM.
 */
int spawn_split(const char *line, char ***argv);
void spawn_argv_free(char **argv);
/* Whether argv0 names an executable file (a path, or a name found in $PATH): 0 or -errno. */
int spawn_find(const char *argv0);

#endif
