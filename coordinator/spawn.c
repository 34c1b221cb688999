/* spawn: running a child process from the sd-event loop, its output read without blocking */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "timeutil.h"

extern char **environ;

#define SPAWN_CHUNK		4096
#define SPAWN_BATCH		16	/* reads per wake-up, so that a chatty child cannot hold the loop */
#define SPAWN_DRAIN_MAX		64	/* batches read once the child has exited */
#define SPAWN_PATH_DEFAULT	"/bin:/usr/bin"	/* execvp's, when $PATH is unset */

struct spawn {
	sd_event *event;
	pid_t pid;
	spawn_done_fn cb;
	void *user;
	int out_fd, err_fd;
	sd_event_source *out_src, *err_src, *child_src, *timer;
	char *out;
	size_t out_len, out_max;
	char tail[SPAWN_ERR_TAIL + 1];
	size_t tail_len;
	int64_t grace_ns;
	int err;
	bool timed_out;
	bool killing;		/* SIGTERM sent: the timer now counts the grace */
	bool done;		/* calling back */
};

/* systemd's per-service variables belong to the daemon, not to its children */
static const char *const spawn_env_drop[] = {
	"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID",
	"LISTEN_FDNAMES", "JOURNAL_STREAM", "INVOCATION_ID", NULL
};

static size_t spawn_name_len(const char *var)
{
	const char *eq = strchr(var, '=');

	return eq ? (size_t)(eq - var) : strlen(var);
}

static bool spawn_env_listed(const char *var, const char *const *list)
{
	size_t n = spawn_name_len(var);

	for (; list && *list; list++)
		if (spawn_name_len(*list) == n && strncmp(*list, var, n) == 0)
			return true;
	return false;
}

/* The daemon's environment without the dropped and the overridden names, then the caller's. */
static char **spawn_env(const char *const *extra)
{
	size_t n = 1, k = 0, i;
	char **env;

	for (i = 0; environ && environ[i]; i++)
		n++;
	for (i = 0; extra && extra[i]; i++)
		n++;
	env = calloc(n, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; environ && environ[i]; i++)
		if (!spawn_env_listed(environ[i], spawn_env_drop) && !spawn_env_listed(environ[i], extra))
			env[k++] = environ[i];
	for (i = 0; extra && extra[i]; i++)
		if (strchr(extra[i], '='))
			env[k++] = (char *)extra[i];
	env[k] = NULL;
	return env;
}

static void spawn_close(sd_event_source **src, int *fd)
{
	*src = sd_event_source_disable_unref(*src);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void spawn_free(struct spawn *s)
{
	spawn_close(&s->out_src, &s->out_fd);
	spawn_close(&s->err_src, &s->err_fd);
	sd_event_source_disable_unref(s->child_src);
	sd_event_source_disable_unref(s->timer);
	sd_event_unref(s->event);
	/* a token_command's stdout is a secret */
	explicit_bzero(s->out, s->out_len);
	free(s->out);
	free(s);
}

static int spawn_on_timer(sd_event_source *src, uint64_t usec, void *user);

/*
 * The timer, delay_ns from now: the clock's now, not the loop's, which is
 * the start of the iteration and may be old.
 */
static int spawn_arm(struct spawn *s, int64_t delay_ns)
{
	uint64_t when = (uint64_t)((time_mono_ns() + delay_ns) / NSEC_PER_USEC);
	int r;

	if (!s->timer)
		return sd_event_add_time(s->event, &s->timer, CLOCK_MONOTONIC, when, 1000, spawn_on_timer, s);
	r = sd_event_source_set_time(s->timer, when);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

/* SIGTERM to the group now, SIGKILL after the grace. */
static void spawn_kill(struct spawn *s, int err)
{
	if (!s->err)
		s->err = err;
	if (s->killing)
		return;
	s->killing = true;
	kill(-s->pid, SIGTERM);
	if (spawn_arm(s, s->grace_ns) < 0)
		kill(-s->pid, SIGKILL);	/* no timer for the grace */
}

static int spawn_on_timer(sd_event_source *src, uint64_t usec, void *user)
{
	struct spawn *s = user;

	(void)src;
	(void)usec;
	if (s->killing) {
		kill(-s->pid, SIGKILL);
		return 0;
	}
	s->timed_out = true;
	spawn_kill(s, -ETIMEDOUT);
	return 0;
}

static void spawn_tail(struct spawn *s, const char *buf, size_t n)
{
	size_t keep;

	if (n >= SPAWN_ERR_TAIL) {
		memcpy(s->tail, buf + n - SPAWN_ERR_TAIL, SPAWN_ERR_TAIL);
		s->tail_len = SPAWN_ERR_TAIL;
		return;
	}
	keep = s->tail_len + n > SPAWN_ERR_TAIL ? SPAWN_ERR_TAIL - n : s->tail_len;
	memmove(s->tail, s->tail + s->tail_len - keep, keep);
	memcpy(s->tail + keep, buf, n);
	s->tail_len = keep + n;
}

enum { SPAWN_WAIT, SPAWN_MORE, SPAWN_END };

/* A batch of reads from stdout or stderr: SPAWN_WAIT (empty for now), SPAWN_MORE or SPAWN_END. */
static int spawn_read(struct spawn *s, bool out)
{
	char buf[SPAWN_CHUNK];
	ssize_t n;
	int i;

	for (i = 0; i < SPAWN_BATCH; i++) {
		n = read(out ? s->out_fd : s->err_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return SPAWN_WAIT;
		if (n < 0) {
			if (!s->err)
				s->err = -EIO;
			return SPAWN_END;
		}
		if (n == 0)
			return SPAWN_END;
		if (!out) {
			spawn_tail(s, buf, (size_t)n);
		} else if ((size_t)n > s->out_max - s->out_len) {
			spawn_kill(s, -EMSGSIZE);	/* the rest is not read */
			return SPAWN_END;
		} else {
			memcpy(s->out + s->out_len, buf, (size_t)n);
			s->out_len += (size_t)n;
		}
	}
	return SPAWN_MORE;
}

static int spawn_on_out(sd_event_source *src, int fd, uint32_t revents, void *user)
{
	struct spawn *s = user;

	(void)src;
	(void)fd;
	(void)revents;
	if (spawn_read(s, true) == SPAWN_END)
		spawn_close(&s->out_src, &s->out_fd);
	return 0;
}

static int spawn_on_err(sd_event_source *src, int fd, uint32_t revents, void *user)
{
	struct spawn *s = user;

	(void)src;
	(void)fd;
	(void)revents;
	if (spawn_read(s, false) == SPAWN_END)
		spawn_close(&s->err_src, &s->err_fd);
	return 0;
}

/* What the child wrote before it exited is still in the pipes. */
static void spawn_drain(struct spawn *s, bool out)
{
	int i, r = SPAWN_MORE;

	for (i = 0; i < SPAWN_DRAIN_MAX && r == SPAWN_MORE && (out ? s->out_fd : s->err_fd) >= 0; i++)
		r = spawn_read(s, out);
}

static int spawn_on_exit(sd_event_source *src, const siginfo_t *si, void *user)
{
	struct spawn *s = user;
	struct spawn_result r = { .pid = s->pid };
	siginfo_t reaped;

	(void)src;
	spawn_drain(s, true);
	spawn_drain(s, false);
	/* Until it is reaped, the child's pid, hence its group's id, cannot be reused. */
	if (s->killing)
		kill(-s->pid, SIGKILL);
	memset(&reaped, 0, sizeof(reaped));
	(void)waitid(P_PID, (id_t)s->pid, &reaped, WEXITED | WNOHANG);
	if (si->si_code == CLD_EXITED) {
		r.exited = true;
		r.status = si->si_status;
	} else {
		r.signal = si->si_status;
	}
	r.err = s->err;
	r.timed_out = s->timed_out;
	s->out[s->out_len] = '\0';
	r.out = s->out;
	r.out_len = s->out_len;
	s->tail[s->tail_len] = '\0';
	r.err_tail = s->tail;
	r.err_len = s->tail_len;
	s->done = true;
	s->cb(s, &r, s->user);
	spawn_free(s);
	return 0;
}

/* Pipes whose read end is ours (non-blocking) and whose write end is the child's (blocking). */
static int spawn_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	return 0;
}

static int spawn_resolve(const char *argv0, char *file, size_t size);

/* In the child, between fork and exec: async-signal-safe calls only. */
static void spawn_child(const char *path, char *const *argv, char *const *env, int out_w, int err_w,
			int report)
{
	struct sigaction dfl;
	sigset_t none;
	int fd, sig, e;

	setpgid(0, 0);
	/* the daemon ignores SIGPIPE and blocks SIGCHLD, SIGTERM...: not for the child */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
	    dup2(err_w, STDERR_FILENO) < 0)
		goto fail;
	/* everything else but the report pipe, which closes on exec */
	if (close_range(STDERR_FILENO + 1, (unsigned)report - 1, 0) < 0 ||
	    close_range((unsigned)report + 1, ~0U, 0) < 0)
		for (fd = STDERR_FILENO + 1; fd < 65536; fd++)
			if (fd != report)
				close(fd);
	execve(path, argv, env);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * Forks and execs; 0 once the program runs, or -errno when exec failed (that
 * child is reaped).  Not posix_spawn(): under -Icoordinator, <spawn.h> is this
 * module's own header.
 */
static int spawn_exec(struct spawn *s, const struct spawn_opts *o, int out_w, int err_w)
{
	char path[4096], **env;
	int rep[2], e = 0, r;
	ssize_t n;

	r = spawn_resolve(o->argv[0], path, sizeof(path));
	if (r < 0)
		return r;
	env = spawn_env(o->env);
	if (!env)
		return -ENOMEM;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		r = -errno;
		free(env);
		return r;
	}
	s->pid = fork();
	if (s->pid == 0)
		spawn_child(path, (char *const *)o->argv, env, out_w, err_w, rep[1]);
	r = s->pid < 0 ? -errno : 0;
	close(rep[1]);
	free(env);
	if (r == 0) {
		/* the write end closes on exec: the wait lasts until then */
		do
			n = read(rep[0], &e, sizeof(e));
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)sizeof(e)) {
			while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
				;
			r = e > 0 ? -e : -EIO;
		}
	}
	close(rep[0]);
	return r;
}

int spawn_start(sd_event *e, const struct spawn_opts *o, spawn_done_fn cb, void *user,
		struct spawn **out)
{
	int outp[2], errp[2], r;
	struct spawn *s;
	sigset_t mask;
	size_t i;

	if (!o->argv || !o->argv[0] || !o->argv[0][0] || !cb)
		return -EINVAL;
	for (i = 0; o->env && o->env[i]; i++)
		if (spawn_name_len(o->env[i]) == 0)
			return -EINVAL;
	/* sd_event_add_child() would refuse only once the child runs */
	if (pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0 || !sigismember(&mask, SIGCHLD))
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->out_fd = s->err_fd = -1;
	s->out_max = o->out_max;
	s->out = malloc(o->out_max + 1);
	if (!s->out) {
		free(s);
		return -ENOMEM;
	}
	s->event = sd_event_ref(e);
	s->cb = cb;
	s->user = user;
	s->grace_ns = o->grace_ns > 0 ? o->grace_ns : SPAWN_GRACE_NS;
	r = spawn_pipe(outp);
	if (r < 0)
		goto fail;
	s->out_fd = outp[0];
	r = spawn_pipe(errp);
	if (r < 0) {
		close(outp[1]);
		goto fail;
	}
	s->err_fd = errp[0];
	r = spawn_exec(s, o, outp[1], errp[1]);
	close(outp[1]);
	close(errp[1]);
	if (r < 0)
		goto fail;
	if ((r = sd_event_add_child(e, &s->child_src, s->pid, WEXITED, spawn_on_exit, s)) < 0 ||
	    (r = sd_event_add_io(e, &s->out_src, s->out_fd, EPOLLIN, spawn_on_out, s)) < 0 ||
	    (r = sd_event_add_io(e, &s->err_src, s->err_fd, EPOLLIN, spawn_on_err, s)) < 0 ||
	    (o->timeout_ns > 0 && (r = spawn_arm(s, o->timeout_ns)) < 0)) {
		kill(-s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	spawn_free(s);
	return r;
}

void spawn_cancel(struct spawn *s)
{
	if (!s || s->done)
		return;
	/* SIGKILL cannot be caught: the wait is short */
	kill(-s->pid, SIGKILL);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
	spawn_free(s);
}

pid_t spawn_pid(const struct spawn *s)
{
	return s->pid;
}

void spawn_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int spawn_split(const char *line, char ***argv)
{
	char **v, *word, quote = 0;
	size_t k = 0;
	bool in_word = false;
	int n = 0, r;
	const char *p;

	v = calloc(SPAWN_ARGS_MAX + 1, sizeof(*v));
	word = malloc(strlen(line) + 1);
	if (!v || !word) {
		r = -ENOMEM;
		goto fail;
	}
	for (p = line;; p++) {
		if (quote) {
			if (!*p) {
				r = -EINVAL;
				goto fail;
			}
			if (*p == quote)
				quote = 0;
			else
				word[k++] = *p;
			continue;
		}
		if (*p == '\'' || *p == '"') {
			quote = *p;
			in_word = true;
			continue;
		}
		if (*p && !strchr(" \t\r\n", *p)) {
			word[k++] = *p;
			in_word = true;
			continue;
		}
		if (in_word) {
			if (n == SPAWN_ARGS_MAX) {
				r = -E2BIG;
				goto fail;
			}
			word[k] = '\0';
			v[n] = strdup(word);
			if (!v[n]) {
				r = -ENOMEM;
				goto fail;
			}
			n++;
			k = 0;
			in_word = false;
		}
		if (!*p)
			break;
	}
	free(word);
	*argv = v;
	return n;
fail:
	free(word);
	spawn_argv_free(v);
	return r;
}

static int spawn_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	return access(path, X_OK) < 0 ? -errno : 0;
}

/* argv0 as a path: itself when it holds a '/', else the first executable of $PATH. */
static int spawn_resolve(const char *argv0, char *file, size_t size)
{
	const char *path = getenv("PATH"), *p, *end;
	int n, r, ret = -ENOENT;

	if (!argv0 || !*argv0)
		return -EINVAL;
	if (strchr(argv0, '/')) {
		n = snprintf(file, size, "%s", argv0);
		return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
	}
	if (!path || !*path)
		path = SPAWN_PATH_DEFAULT;
	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		/* an empty entry is the current directory, as for execvp */
		n = snprintf(file, size, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", argv0);
		if (n > 0 && (size_t)n < size) {
			r = spawn_executable(file);
			if (r == 0)
				return 0;
			if (r == -EACCES)
				ret = r;
		}
		if (!*end)
			break;
	}
	return ret;
}

int spawn_find(const char *argv0)
{
	char file[4096];
	int r = spawn_resolve(argv0, file, sizeof(file));

	return r < 0 ? r : spawn_executable(file);
}
