/* backend_token: bearer tokens for the HTTP backends, from token_file or an asynchronous token_command */
#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"
#include "timeutil.h"

#define BACKEND_TOKEN_REFRESH_NS	(10 * 60 * NSEC_PER_SEC)
#define BACKEND_TOKEN_MARGIN_NS		(5 * 60 * NSEC_PER_SEC)	/* before a known expiry */

int backend_token_load(struct backend *b, struct backend_token *t)
{
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, r;

	fd = open(t->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		if (!t->failed)
			log_err("autoscale %s: token_file %s: %s", b->setting, t->file, strerror(-r));
		t->loaded = false;
		t->failed = true;
		return r;
	}
	if (t->loaded && st.st_dev == t->dev && st.st_ino == t->ino && st.st_size == t->size &&
	    st.st_mtim.tv_sec == t->mtime.tv_sec && st.st_mtim.tv_nsec == t->mtime.tv_nsec) {
		close(fd);
		return 0;
	}
	if (st.st_size <= 0 || st.st_size >= (off_t)sizeof(t->value)) {
		close(fd);
		log_err("autoscale %s: token_file %s: expected 1 to %zu bytes, not %lld", b->setting,
			t->file, sizeof(t->value) - 1, (long long)st.st_size);
		t->loaded = false;
		return -EINVAL;
	}
	explicit_bzero(t->value, sizeof(t->value));
	n = read(fd, t->value, sizeof(t->value) - 1);
	if (n < 0) {
		r = -errno;
		close(fd);
		log_err("autoscale %s: token_file %s: %s", b->setting, t->file, strerror(-r));
		t->loaded = false;
		return r;
	}
	close(fd);
	len = (size_t)n < sizeof(t->value) - 1 ? (size_t)n : sizeof(t->value) - 1;
	t->value[len] = '\0';
	while (len && (t->value[len - 1] == '\n' || t->value[len - 1] == '\r' ||
		       t->value[len - 1] == ' ' || t->value[len - 1] == '\t'))
		t->value[--len] = '\0';
	if (!len || strpbrk(t->value, "\r\n")) {
		log_err("autoscale %s: token_file %s: expected one line holding the token", b->setting, t->file);
		explicit_bzero(t->value, sizeof(t->value));
		t->loaded = false;
		return -EINVAL;
	}
	if (t->dev || t->ino)
		log_info("autoscale %s: token_file %s changed, read again", b->setting, t->file);
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->size = st.st_size;
	t->mtime = st.st_mtim;
	t->loaded = true;
	t->failed = false;
	return 0;
}

/* ---- token_command ---- */

int backend_command_key(struct conf_ctx *c, const char *key, const char *value, char ***argv)
{
	char **v;
	int n = spawn_split(value, &v);

	if (n == -EINVAL)
		return conf_error(c, "%s: a quote is not closed", key);
	if (n == -E2BIG)
		return conf_error(c, "%s: more than %d words", key, SPAWN_ARGS_MAX);
	if (n < 0)
		return conf_error(c, "%s: %s", key, strerror(-n));
	if (n == 0) {
		spawn_argv_free(v);
		return conf_error(c, "%s: expected a program and its arguments", key);
	}
	/* the daemon runs in /: a relative path would surprise */
	if (v[0][0] != '/' && strchr(v[0], '/')) {
		conf_error(c, "%s: expected an absolute path or a name searched in $PATH, not '%s'", key, v[0]);
		spawn_argv_free(v);
		return -EINVAL;
	}
	spawn_argv_free(*argv);
	*argv = v;
	return 0;
}

int backend_token_key(struct backend *b, struct backend_token *t, struct conf_ctx *c,
		      const char *key, const char *value)
{
	if (strcmp(key, "token_file") == 0) {
		if (t->argv)
			return conf_error(c, "token_file: token_command is set too: set only one of them");
		b->token = t;
		return conf_string(c, key, value, t->file, sizeof(t->file));
	}
	if (strcmp(key, "token_command") == 0) {
		if (t->file[0])
			return conf_error(c, "token_command: token_file is set too: set only one of them");
		b->token = t;
		return backend_command_key(c, key, value, &t->argv);
	}
	if (strcmp(key, "token_refresh") == 0) {
		b->token = t;
		return conf_duration(c, key, value, NSEC_PER_SEC, NSEC_PER_SEC, 24 * 3600 * NSEC_PER_SEC,
				     &t->refresh_ns);
	}
	return -ENOENT;
}

int backend_token_start(struct backend *b, struct backend_token *t)
{
	int r;

	b->token = t;
	if (!t->argv && t->refresh_ns)
		log_warn("autoscale %s: token_refresh applies to token_command only", b->setting);
	if (!t->refresh_ns)
		t->refresh_ns = BACKEND_TOKEN_REFRESH_NS;
	if (t->argv) {
		/* run at the first request, not here: start never blocks */
		r = spawn_find(t->argv[0]);
		if (r < 0)
			log_err("autoscale %s: token_command: %s: %s", b->setting, t->argv[0], strerror(-r));
		return r;
	}
	if (!t->file[0])
		return backend_conf_fail(b, 0, "backend %s needs token_file or token_command", b->ops->name);
	/* a first read, so that a bad token_file shows at start-up */
	return backend_token_load(b, t);
}

void backend_token_free(struct backend_token *t)
{
	if (!t)
		return;
	spawn_cancel(t->child);
	t->child = NULL;
	spawn_argv_free(t->argv);
	t->argv = NULL;
	explicit_bzero(t->value, sizeof(t->value));
	t->loaded = false;
}

bool backend_token_due(struct backend *b, const struct backend_token *t)
{
	int64_t now = backend_now(b);

	if (!t->loaded || t->stale || now - t->fetched_ns >= t->refresh_ns)
		return true;
	return t->expires_ns && now >= t->expires_ns - BACKEND_TOKEN_MARGIN_NS;
}

/* A token as a header carries it: printable ASCII, no blank. */
static bool backend_token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= BACKEND_TOKEN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
			return false;
	return true;
}

/* Seconds as a JSON integer or a string of digits: 0 or -EINVAL. */
static int backend_json_seconds(const json_t *v, int64_t *out)
{
	const char *s = json_string_value(v);
	long long n;
	char *end;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = n;
	return 0;
}

/* az's older expiresOn, "2024-05-01 12:34:56.000000" in local time: epoch seconds, 0 or -EINVAL. */
static int backend_local_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	time_t t;

	if (!s)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end || (*end && *end != '.'))
		return -EINVAL;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t;
	return 0;
}

/* The expiry of an access-token JSON as CLOCK_MONOTONIC ns, 0 when it says none. */
static int64_t backend_token_expiry(struct backend *b, const json_t *root)
{
	const int64_t epoch_max = 10000000000LL, in_max = 10 * 365 * 86400LL;
	int64_t now = backend_now(b), sec;

	if (backend_json_seconds(json_object_get(root, "expires_on"), &sec) == 0 && sec > 0 && sec < epoch_max)
		return now + sec * NSEC_PER_SEC - time_real_ns();
	if (backend_json_seconds(json_object_get(root, "expires_in"), &sec) == 0 && sec > 0 && sec < in_max)
		return now + sec * NSEC_PER_SEC;
	if (backend_local_time(json_string_value(json_object_get(root, "expiresOn")), &sec) == 0 &&
	    sec > 0 && sec < epoch_max)
		return now + sec * NSEC_PER_SEC - time_real_ns();
	return 0;
}

/*
 * token_command's stdout: the bare token, or JSON as az account
 * get-access-token ({"accessToken", "expires_on", "expiresOn"}) or OAuth
 * ({"access_token", "expires_in"}) print it.  0, or -EPROTO with why (never the token).
 */
static int backend_token_parse(struct backend *b, struct backend_token *t, const char *out, size_t len,
			       const char **why)
{
	const char *tok = out;
	json_t *root = NULL, *v;
	int64_t expires = 0;
	size_t n = len;
	int r = -EPROTO;

	if (memchr(out, '\0', len)) {
		*why = "printed a NUL byte";
		return -EPROTO;
	}
	while (n && isspace((unsigned char)*tok)) {
		tok++;
		n--;
	}
	while (n && isspace((unsigned char)tok[n - 1]))
		n--;
	if (!n) {
		*why = "printed nothing";
		return -EPROTO;
	}
	if (*tok == '{') {
		root = json_loadb(tok, n, 0, NULL);
		v = json_object_get(root, "accessToken");
		if (!json_is_string(v))
			v = json_object_get(root, "access_token");
		if (!json_is_string(v)) {
			*why = root ? "printed JSON without accessToken or access_token" : "printed invalid JSON";
			goto out;
		}
		tok = json_string_value(v);
		n = json_string_length(v);
		expires = backend_token_expiry(b, root);
	}
	if (!backend_token_ok(tok, n)) {
		*why = n >= BACKEND_TOKEN_MAX ? "printed a token too long" :
			"printed blanks or control characters inside the token";
		goto out;
	}
	explicit_bzero(t->value, sizeof(t->value));
	memcpy(t->value, tok, n);
	t->value[n] = '\0';
	t->loaded = true;
	t->stale = false;
	t->fetched_ns = backend_now(b);
	t->expires_ns = expires;
	r = 0;
out:
	json_decref(root);
	return r;
}

static void backend_token_done(struct spawn *s, const struct spawn_result *r, void *user)
{
	struct backend *b = user;
	struct backend_token *t = b->token;
	char msg[BACKEND_MESSAGE_MAX - 64];
	const char *why = "";

	(void)s;
	t->child = NULL;
	if (r->exited && r->status == 0 && !r->err) {
		if (backend_token_parse(b, t, r->out, r->out_len, &why) == 0) {
			log_debug("autoscale %s: token_command %s: a new token", b->setting, t->argv[0]);
			t->fresh = true;
			t->then(b);
			return;
		}
		snprintf(msg, sizeof(msg), "%s %s", t->argv[0], why);
	} else {
		backend_spawn_message(t->argv[0], r, msg, sizeof(msg));
		/* stderr is shown: never with the token in it */
		if (t->loaded && strstr(msg, t->value))
			snprintf(msg, sizeof(msg), "%s failed", t->argv[0]);
	}
	t->stale = true;
	backend_finish(b, BACKEND_RETRYING, r->err ? r->err : -ENOKEY, "token_command: %s", msg);
}

/* Runs token_command; then() goes on from backend_token_done() once a token is in. */
int backend_token_refresh(struct backend *b, struct backend_token *t, void (*then)(struct backend *b))
{
	char setting[BACKEND_NAME_MAX + 16];
	const char *env[] = { setting, "ASCALE_ACTION=token", NULL };
	struct spawn_opts o = {
		.argv = (const char *const *)t->argv,
		.env = env,
		.out_max = BACKEND_OUTPUT_MAX,
		.timeout_ns = b->policy.request_timeout_ns,
	};
	int64_t left = b->deadline - backend_now(b);

	if (o.timeout_ns > left)
		o.timeout_ns = left;
	snprintf(setting, sizeof(setting), "ASCALE_SETTING=%s", b->setting);
	t->then = then;
	log_debug("autoscale %s: running token_command %s", b->setting, t->argv[0]);
	return spawn_start(b->event, &o, backend_token_done, b, &t->child);
}
