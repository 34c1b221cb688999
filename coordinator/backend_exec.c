/* backend_exec: a command of the operator's reads and sets the count (ASCALE_* in its environment) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "backend.h"
#include "log.h"
#include "spawn.h"
#include "timeutil.h"

#define EXEC_COMMAND_MAX	4096
#define EXEC_SHELL		"/bin/sh"

struct exec {
	char command[EXEC_COMMAND_MAX];		/* as configured */
	char get_command[EXEC_COMMAND_MAX];
	unsigned command_line, get_line;	/* where, for errors found at start */
	bool shell;
	int64_t timeout_ns;
	char **argv, **get_argv;		/* built at start */
	struct spawn *child;
	bool setting;				/* the operation is a set */
	unsigned capacity;			/* being set */
};

static int exec_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	struct exec *p = b->priv;
	char *dst;
	size_t i;

	if (strcmp(key, "command") == 0 || strcmp(key, "get_command") == 0) {
		dst = key[0] == 'c' ? p->command : p->get_command;
		for (i = 0; value[i] && strchr(" \t\r\n", value[i]); i++)
			;
		if (!value[i])
			return conf_error(c, "%s: expected a program and its arguments", key);
		/* split at start: shell = yes may come later */
		if (key[0] == 'c')
			p->command_line = c->line;
		else
			p->get_line = c->line;
		return conf_string(c, key, value, dst, EXEC_COMMAND_MAX);
	}
	if (strcmp(key, "shell") == 0)
		return conf_bool(c, key, value, &p->shell);
	if (strcmp(key, "timeout") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 100 * NSEC_PER_MSEC, 24 * 3600 * NSEC_PER_SEC,
				     &p->timeout_ns);
	return -ENOENT;
}

/* The argv of a configured command: its words, or sh -c with it. 0 or -errno (logged). */
static int exec_argv(struct backend *b, const char *key, const char *command, unsigned line, char ***argv)
{
	struct conf_ctx c = { .path = b->conf_path[0] ? b->conf_path : "?", .line = line };
	struct exec *p = b->priv;
	int r;

	if (p->shell) {
		char **v = calloc(4, sizeof(*v));

		if (v && (v[0] = strdup(EXEC_SHELL)) && (v[1] = strdup("-c")) && (v[2] = strdup(command))) {
			*argv = v;
			return 0;
		}
		spawn_argv_free(v);
		return -ENOMEM;
	}
	if (backend_command_key(&c, key, command, argv) < 0)
		return -EINVAL;
	r = spawn_find((*argv)[0]);
	if (r < 0)
		return backend_conf_fail(b, line, "%s: %s: %s", key, (*argv)[0], strerror(-r));
	return 0;
}

static int exec_start(struct backend *b)
{
	struct exec *p = b->priv;
	int r;

	if (!p->command[0])
		return backend_conf_fail(b, 0, "backend exec needs command");
	if (!p->timeout_ns)
		p->timeout_ns = 60 * NSEC_PER_SEC;
	r = exec_argv(b, "command", p->command, p->command_line, &p->argv);
	if (r < 0)
		return r;
	if (p->get_command[0])
		return exec_argv(b, "get_command", p->get_command, p->get_line, &p->get_argv);
	return 0;
}

static const char *exec_action(const struct exec *p)
{
	return p->setting ? "set" : "get";
}

static char *const *exec_which(const struct exec *p)
{
	return !p->setting && p->get_argv ? p->get_argv : p->argv;
}

/* A count alone on the first line of out (blanks around it allowed): 1, 0 (none) or -ERANGE. */
static int exec_count(const char *out, unsigned *count, char *first, size_t size)
{
	size_t n = strcspn(out, "\n"), i, k = 0;
	unsigned long v = 0;
	bool digits = false;

	while (n && strchr(" \t\r", out[n - 1]))
		n--;
	for (i = 0; i < n && strchr(" \t", out[i]); i++)
		;
	/* a short, printable copy for the message */
	for (; i < n && k + 1 < size; i++)
		first[k++] = (unsigned char)out[i] >= ' ' && (unsigned char)out[i] <= '~' ? out[i] : '?';
	first[k] = '\0';
	for (i = 0; first[i]; i++) {
		if (first[i] < '0' || first[i] > '9')
			return 0;
		digits = true;
		if (v <= BACKEND_CAPACITY_MAX)
			v = v * 10 + (unsigned long)(first[i] - '0');
	}
	if (!digits)
		return 0;
	if (v > BACKEND_CAPACITY_MAX || k + 1 >= size)
		return -ERANGE;
	*count = (unsigned)v;
	return 1;
}

static void exec_ok(struct backend *b, const struct spawn_result *r)
{
	struct exec *p = b->priv;
	const char *name = exec_which(p)[0];
	char first[48];
	unsigned count;
	int n;

	n = exec_count(r->out, &count, first, sizeof(first));
	if (n < 0) {
		backend_finish(b, BACKEND_FAILED, -ERANGE, "%s: %s printed %s: a count is 0 to %d",
			       exec_action(p), name, first, BACKEND_CAPACITY_MAX);
		return;
	}
	if (p->setting) {
		/* a count printed is the one in effect; else the one asked for */
		b->res.capacity = n ? count : p->capacity;
		b->res.have_capacity = true;
		backend_finish(b, BACKEND_OK, 0, "capacity %u set by %s", b->res.capacity, name);
		return;
	}
	if (!n) {
		backend_finish(b, BACKEND_FAILED, -EPROTO,
			       "get: %s printed %s%s%s where a count 0 to %d was expected", name,
			       first[0] ? "'" : "nothing", first, first[0] ? "'" : "", BACKEND_CAPACITY_MAX);
		return;
	}
	b->res.capacity = count;
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "capacity %u read by %s", count, name);
}

static void exec_run(struct backend *b);

static void exec_done(struct spawn *s, const struct spawn_result *r, void *user)
{
	struct backend *b = user;
	struct exec *p = b->priv;
	const char *name = exec_which(p)[0];
	char msg[BACKEND_MESSAGE_MAX - 64];
	int64_t delay;

	(void)s;
	p->child = NULL;
	if (r->exited && r->status == 0 && !r->err) {
		exec_ok(b, r);
		return;
	}
	backend_spawn_message(name, r, msg, sizeof(msg));
	if (!r->timed_out && !(r->exited && r->status == EX_TEMPFAIL && !r->err)) {
		backend_finish(b, BACKEND_FAILED, r->err ? r->err : -EPROTO, "%s: %s", exec_action(p), msg);
		return;
	}
	/* EX_TEMPFAIL or a timeout: worth another try */
	delay = backend_retry_delay(b);
	if (b->tries >= b->policy.max_attempts || backend_now(b) + delay > b->deadline) {
		backend_finish(b, BACKEND_RETRYING, r->timed_out ? -ETIMEDOUT : -EAGAIN,
			       "%s: %s (gave up after %u attempts)", exec_action(p), msg, b->tries);
		return;
	}
	log_info("autoscale %s: exec %s: %s %s, retrying in %lld ms", b->setting, exec_action(p), name,
		 r->timed_out ? "timed out" : "exited with 75 (EX_TEMPFAIL)", (long long)(delay / NSEC_PER_MSEC));
	if (backend_after(b, delay, exec_run) < 0)
		backend_finish(b, BACKEND_FAILED, -ENOMEM, "cannot arm the retry timer");
}

static void exec_run(struct backend *b)
{
	struct exec *p = b->priv;
	char setting[BACKEND_NAME_MAX + 32], endpoint[BACKEND_NAME_MAX + 32];
	char deployment[BACKEND_NAME_MAX + 32], capacity[48], previous[48];
	const char *env[] = {
		setting, endpoint, deployment, p->setting ? "ASCALE_ACTION=set" : "ASCALE_ACTION=get",
		capacity, previous, NULL
	};
	struct spawn_opts o = {
		.argv = (const char *const *)exec_which(p),
		.env = env,
		.out_max = BACKEND_OUTPUT_MAX,
		.timeout_ns = p->timeout_ns,
	};
	int64_t left = b->deadline - backend_now(b);
	int r;

	if (left <= 0) {
		backend_finish(b, BACKEND_RETRYING, -ETIMEDOUT, "%s: operation_timeout reached", exec_action(p));
		return;
	}
	if (o.timeout_ns > left)
		o.timeout_ns = left;
	snprintf(setting, sizeof(setting), "ASCALE_SETTING=%s", b->setting);
	snprintf(endpoint, sizeof(endpoint), "ASCALE_ENDPOINT=%s", b->endpoint);
	snprintf(deployment, sizeof(deployment), "ASCALE_DEPLOYMENT=%s", b->deployment);
	/* a bare name removes a variable the daemon may have had */
	if (p->setting)
		snprintf(capacity, sizeof(capacity), "ASCALE_CAPACITY=%u", p->capacity);
	else
		snprintf(capacity, sizeof(capacity), "ASCALE_CAPACITY");
	if (b->have_last_count)
		snprintf(previous, sizeof(previous), "ASCALE_PREVIOUS=%u", b->last_count);
	else
		snprintf(previous, sizeof(previous), "ASCALE_PREVIOUS=");
	b->tries++;
	b->res.attempts++;
	log_debug("autoscale %s: exec %s: running %s (attempt %u)", b->setting, exec_action(p), o.argv[0],
		  b->tries);
	r = spawn_start(b->event, &o, exec_done, b, &p->child);
	if (r < 0)
		backend_finish(b, BACKEND_FAILED, r, "%s: cannot run %s: %s", exec_action(p), o.argv[0],
			       strerror(-r));
}

static int exec_get(struct backend *b)
{
	struct exec *p = b->priv;

	p->setting = false;
	b->tries = 0;
	/* from the loop, so that the caller never sees its callback early */
	return backend_after(b, 0, exec_run);
}

static int exec_set(struct backend *b, unsigned capacity)
{
	struct exec *p = b->priv;

	p->setting = true;
	p->capacity = capacity;
	b->tries = 0;
	return backend_after(b, 0, exec_run);
}

static void exec_free(struct backend *b)
{
	struct exec *p = b->priv;

	if (!p)
		return;
	spawn_cancel(p->child);
	p->child = NULL;
	spawn_argv_free(p->argv);
	spawn_argv_free(p->get_argv);
}

const struct backend_ops backend_exec_ops = {
	.name = "exec",
	.priv_size = sizeof(struct exec),
	.conf_key = exec_conf_key,
	.start = exec_start,
	.get = exec_get,
	.set = exec_set,
	.free = exec_free,
};
