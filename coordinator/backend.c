/* backend: the scaler interface (get/set a deployment's capacity) and the registry of backends */
#include <errno.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"
#include "timeutil.h"

const char *const backend_names[] = { "azureml", "kubernetes", "http", "exec", "sim", NULL };

static const struct backend_ops *const backend_all[] = {
	&backend_azureml_ops, &backend_kubernetes_ops, &backend_http_ops, &backend_exec_ops,
	&backend_sim_ops, NULL
};

const char *backend_status_name(enum backend_status s)
{
	switch (s) {
	case BACKEND_OK:
		return "ok";
	case BACKEND_FAILED:
		return "failed";
	case BACKEND_RETRYING:
		return "retrying";
	}
	return "?";
}

const char *backend_result_brief(const struct backend_result *r, char *buf, size_t len)
{
	char http[32] = "";

	if (r->http_status)
		snprintf(http, sizeof(http), ", HTTP %ld", r->http_status);
	snprintf(buf, len, "%s%s, %u attempt%s", backend_status_name(r->status), http, r->attempts,
		 r->attempts == 1 ? "" : "s");
	return buf;
}

int backend_new(const char *type, const char *setting, const char *endpoint,
		const char *deployment, struct backend **out)
{
	const struct backend_ops *ops = NULL;
	struct backend *b;
	int i;

	for (i = 0; backend_all[i]; i++)
		if (strcmp(type, backend_all[i]->name) == 0)
			ops = backend_all[i];
	if (!ops)
		return -ENOENT;
	if (strlen(setting) >= BACKEND_NAME_MAX || strlen(endpoint ? endpoint : "") >= BACKEND_NAME_MAX ||
	    strlen(deployment ? deployment : "") >= BACKEND_NAME_MAX)
		return -ENAMETOOLONG;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (ops->priv_size) {
		b->priv = calloc(1, ops->priv_size);
		if (!b->priv) {
			free(b);
			return -ENOMEM;
		}
	}
	b->ops = ops;
	snprintf(b->setting, sizeof(b->setting), "%s", setting);
	snprintf(b->endpoint, sizeof(b->endpoint), "%s", endpoint ? endpoint : "");
	snprintf(b->deployment, sizeof(b->deployment), "%s", deployment ? deployment : "");
	b->policy.request_timeout_ns = 30 * NSEC_PER_SEC;
	b->policy.operation_timeout_ns = 30 * 60 * NSEC_PER_SEC;
	b->policy.max_attempts = 5;
	b->policy.retry_delay_ns = 1 * NSEC_PER_SEC;
	b->policy.retry_max_ns = 60 * NSEC_PER_SEC;
	b->policy.poll_interval_ns = 5 * NSEC_PER_SEC;
	*out = b;
	return 0;
}

int backend_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	int r;

	if (!b->conf_line && c->path) {
		snprintf(b->conf_path, sizeof(b->conf_path), "%s", c->path);
		b->conf_line = c->line;
	}
	r = b->ops->conf_key ? b->ops->conf_key(b, c, key, value) : -ENOENT;
	if (r != -ENOENT)
		return r;
	return backend_policy_key(b, c, key, value);
}

int backend_policy_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	struct backend_policy *p = &b->policy;
	uint64_t u;

	if (strcmp(key, "ca_file") == 0)
		return conf_string(c, key, value, p->ca_file, sizeof(p->ca_file));
	if (strcmp(key, "insecure") == 0)
		return conf_bool(c, key, value, &p->insecure);
	if (strcmp(key, "request_timeout") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 100 * NSEC_PER_MSEC,
				     600 * NSEC_PER_SEC, &p->request_timeout_ns);
	if (strcmp(key, "operation_timeout") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, NSEC_PER_SEC,
				     24 * 3600 * NSEC_PER_SEC, &p->operation_timeout_ns);
	if (strcmp(key, "retry_delay") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     600 * NSEC_PER_SEC, &p->retry_delay_ns);
	if (strcmp(key, "retry_max") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     3600 * NSEC_PER_SEC, &p->retry_max_ns);
	if (strcmp(key, "poll_interval") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     600 * NSEC_PER_SEC, &p->poll_interval_ns);
	if (strcmp(key, "max_attempts") == 0) {
		if (conf_uint(c, key, value, 1, 100, &u) < 0)
			return -EINVAL;
		p->max_attempts = (unsigned)u;
		return 0;
	}
	return -ENOENT;
}

int backend_start(struct backend *b, sd_event *e)
{
	int r;

	if (b->event)
		return -EALREADY;
	b->event = sd_event_ref(e);
	if (b->policy.insecure)
		log_warn("autoscale %s: insecure = true: TLS certificates are NOT verified", b->setting);
	if (b->policy.ca_file[0] && access(b->policy.ca_file, R_OK) < 0) {
		r = -errno;
		log_err("autoscale %s: ca_file %s: %s", b->setting, b->policy.ca_file, strerror(-r));
		return r;
	}
	return b->ops->start ? b->ops->start(b) : 0;
}

bool backend_busy(const struct backend *b)
{
	return b->busy;
}

void backend_seed(struct backend *b, unsigned count)
{
	if (count > BACKEND_CAPACITY_MAX)
		return;
	b->last_count = count;
	b->have_last_count = true;
	if (b->ops->seed)
		b->ops->seed(b, count);
}

void backend_describe(struct backend *b, struct backend_resource *out)
{
	memset(out, 0, sizeof(*out));
	out->type = b->ops->name;
	if (b->endpoint[0])
		snprintf(out->id, sizeof(out->id), "%s/%s", b->endpoint, b->deployment);
	else
		snprintf(out->id, sizeof(out->id), "%s", b->deployment);
	if (b->ops->describe)
		b->ops->describe(b, out);
}

int64_t backend_now(struct backend *b)
{
	uint64_t now;

	if (sd_event_now(b->event, CLOCK_MONOTONIC, &now) < 0)
		return time_mono_ns();
	return (int64_t)now * NSEC_PER_USEC;
}

static int backend_begin(struct backend *b, backend_done_fn cb, void *user)
{
	if (!b->event)
		return -ENOTCONN;
	if (b->busy)
		return -EBUSY;
	b->busy = true;
	b->cb = cb;
	b->user = user;
	b->token_retried = false;
	memset(&b->res, 0, sizeof(b->res));
	b->deadline = backend_now(b) + b->policy.operation_timeout_ns;
	return 0;
}

int backend_get(struct backend *b, backend_done_fn cb, void *user)
{
	int r = backend_begin(b, cb, user);

	if (r < 0)
		return r;
	r = b->ops->get(b);
	if (r < 0)
		b->busy = false;
	return r;
}

int backend_set(struct backend *b, unsigned capacity, backend_done_fn cb, void *user)
{
	int r;

	if (capacity > BACKEND_CAPACITY_MAX)
		return -ERANGE;
	r = backend_begin(b, cb, user);
	if (r < 0)
		return r;
	r = b->ops->set(b, capacity);
	if (r < 0)
		b->busy = false;
	return r;
}

static void backend_req_clear(struct backend *b)
{
	free(b->req_method);
	free(b->req_url);
	free(b->req_body);
	b->req_method = b->req_url = b->req_body = NULL;
	b->req_done = NULL;
}

void backend_finish(struct backend *b, enum backend_status status, int err, const char *fmt, ...)
{
	struct backend_result res;
	va_list ap;

	if (!b->busy)
		return;
	b->res.status = status;
	b->res.err = err;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(b->res.message, sizeof(b->res.message), fmt, ap);
		va_end(ap);
	}
	backend_req_clear(b);
	if (b->timer)
		sd_event_source_set_enabled(b->timer, SD_EVENT_OFF);
	if (status == BACKEND_OK && b->res.have_capacity) {
		b->last_count = b->res.capacity;
		b->have_last_count = true;
	}
	res = b->res;
	b->busy = false;
	if (b->cb)
		b->cb(b, &res, b->user);
}

static int backend_on_timer(sd_event_source *s, uint64_t usec, void *user)
{
	struct backend *b = user;
	void (*fn)(struct backend *b) = b->timer_fn;

	(void)s;
	(void)usec;
	b->timer_fn = NULL;
	if (fn)
		fn(b);
	return 0;
}

int backend_after(struct backend *b, int64_t delay_ns, void (*fn)(struct backend *b))
{
	uint64_t when = (uint64_t)((backend_now(b) + delay_ns) / NSEC_PER_USEC);
	int r;

	b->timer_fn = fn;
	if (!b->timer) {
		r = sd_event_add_time(b->event, &b->timer, CLOCK_MONOTONIC, when, 1000,
				      backend_on_timer, b);
		if (r < 0)
			return r;
	} else {
		r = sd_event_source_set_time(b->timer, when);
		if (r < 0)
			return r;
	}
	return sd_event_source_set_enabled(b->timer, SD_EVENT_ONESHOT);
}

int backend_api_message(const char *body, size_t len, char *out, size_t size)
{
	json_t *root, *m, *code = NULL;
	int r = -ENOENT;

	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	/* Azure: {"error":{"code":"...","message":"..."}} */
	m = json_object_get(root, "error");
	if (json_is_object(m)) {
		code = json_object_get(m, "code");
		m = json_object_get(m, "message");
	} else {
		/* Kubernetes Status: {"kind":"Status","message":"...","reason":"..."} */
		code = json_object_get(root, "reason");
		m = json_object_get(root, "message");
	}
	if (!json_is_string(m))
		goto out;
	if (json_is_string(code))
		snprintf(out, size, "%s: %s", json_string_value(code), json_string_value(m));
	else
		snprintf(out, size, "%s", json_string_value(m));
	r = 0;
out:
	json_decref(root);
	return r;
}

void backend_fail_http(struct backend *b, const char *what, const struct http_response *r)
{
	char msg[BACKEND_MESSAGE_MAX - 64];

	if (backend_api_message(r->body, r->len, msg, sizeof(msg)) < 0)
		snprintf(msg, sizeof(msg), "no error message in the reply");
	backend_finish(b, BACKEND_FAILED, -EPROTO, "%s: HTTP %ld: %s", what, r->status, msg);
}

int64_t backend_retry_delay(struct backend *b)
{
	return backoff_delay(b->policy.retry_delay_ns, b->policy.retry_max_ns, b->tries);
}

static void backend_http_send(struct backend *b);

static void backend_http_done(const struct http_response *r, void *user)
{
	struct backend *b = user;
	char what[64], msg[BACKEND_MESSAGE_MAX - 96];
	int64_t delay, now = backend_now(b);

	b->res.http_status = r->status;
	if (r->status == 401 && b->token && b->token->argv && !b->token_retried) {
		/* the token may have been revoked or rotated early: once per operation */
		b->token_retried = true;
		b->token->stale = true;
		log_info("autoscale %s: %s %s: HTTP 401, running token_command again", b->setting,
			 b->ops->name, b->req_method);
		if (backend_after(b, 0, backend_http_send) < 0)
			backend_finish(b, BACKEND_FAILED, -ENOMEM, "cannot arm the retry timer");
		return;
	}
	if (!http_transient(r)) {
		if (r->err) {
			backend_finish(b, BACKEND_FAILED, r->err, "%s: %s", b->req_method, r->error);
			return;
		}
		b->req_done(b, r);
		return;
	}
	if (r->err)
		snprintf(what, sizeof(what), "%s", strerror(-r->err));
	else
		snprintf(what, sizeof(what), "HTTP %ld", r->status);
	if (r->err || backend_api_message(r->body, r->len, msg, sizeof(msg)) < 0)
		msg[0] = '\0';
	delay = backend_retry_delay(b);
	if (r->retry_after_ns >= 0)
		delay = r->retry_after_ns;
	if (b->tries >= b->policy.max_attempts || now + delay > b->deadline) {
		backend_finish(b, BACKEND_RETRYING, r->err ? r->err : -EAGAIN,
			       "%s: %s%s%s (gave up after %u attempts)", b->req_method, what,
			       msg[0] ? ": " : "", msg, b->tries);
		return;
	}
	log_info("autoscale %s: %s %s: %s, retrying in %lld ms", b->setting, b->ops->name,
		 b->req_method, what, (long long)(delay / NSEC_PER_MSEC));
	if (backend_after(b, delay, backend_http_send) < 0)
		backend_finish(b, BACKEND_FAILED, -ENOMEM, "cannot arm the retry timer");
}

/* The bearer token for the next attempt, NULL for none; token_file is read again when it changed. */
static const char *backend_bearer(struct backend *b)
{
	struct backend_token *t = b->token;

	if (!t)
		return b->ops->bearer ? b->ops->bearer(b) : NULL;
	if (t->argv)
		return t->loaded ? t->value : NULL;
	return backend_token_load(b, t) < 0 ? NULL : t->value;
}

static void backend_http_send(struct backend *b)
{
	struct http_request req = {
		.method = b->req_method,
		.url = b->req_url,
		.body = b->req_body,
		.content_type = b->req_ctype,
		.ca_file = b->policy.ca_file[0] ? b->policy.ca_file : NULL,
		.insecure = b->policy.insecure,
		.timeout_ns = b->policy.request_timeout_ns,
	};
	int64_t left = b->deadline - backend_now(b);
	int r;

	if (left <= 0) {
		backend_finish(b, BACKEND_RETRYING, -ETIMEDOUT, "%s: operation_timeout reached", b->req_method);
		return;
	}
	if (req.timeout_ns > left)
		req.timeout_ns = left;
	if (b->token && b->token->argv && !b->token->fresh && backend_token_due(b, b->token)) {
		/* the request is sent when the command has printed a token */
		r = backend_token_refresh(b, b->token, backend_http_send);
		if (r < 0)
			backend_finish(b, BACKEND_RETRYING, r, "token_command: cannot run %s: %s",
				       b->token->argv[0], strerror(-r));
		return;
	}
	if (b->token)
		b->token->fresh = false;
	if (b->token || b->ops->bearer) {
		req.bearer = backend_bearer(b);
		if (!req.bearer) {
			backend_finish(b, BACKEND_FAILED, -ENOKEY, "no bearer token");
			return;
		}
	}
	b->tries++;
	b->res.attempts++;
	log_debug("autoscale %s: %s %s (attempt %u)", b->setting, req.method, req.url, b->tries);
	r = http_request(b->http, &req, backend_http_done, b);
	if (r < 0)
		backend_finish(b, BACKEND_FAILED, r, "%s: cannot start the request: %s",
			       b->req_method, strerror(-r));
}

int backend_http(struct backend *b, const char *method, const char *url, const char *body,
		 const char *content_type, void (*done)(struct backend *b, const struct http_response *r))
{
	int r;

	if (!b->http) {
		r = http_new(b->event, &b->http);
		if (r < 0)
			return r;
	}
	backend_req_clear(b);
	b->req_method = strdup(method);
	b->req_url = strdup(url);
	b->req_body = body ? strdup(body) : NULL;
	if (!b->req_method || !b->req_url || (body && !b->req_body)) {
		backend_req_clear(b);
		return -ENOMEM;
	}
	b->req_ctype = content_type;
	b->req_done = done;
	b->tries = 0;
	/* sent from the loop, so that callers never see their callback early */
	return backend_after(b, 0, backend_http_send);
}

/* ---- for modules running commands ---- */

/* The last non-empty line, trimmed, bytes outside printable ASCII as '?', at most BACKEND_LINE_MAX. */
static void backend_last_line(const char *text, size_t len, char *out, size_t size)
{
	const char *start, *end = text + len;
	size_t n, i, max = size - 1 < BACKEND_LINE_MAX ? size - 1 : BACKEND_LINE_MAX;

	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	while (start < end && isspace((unsigned char)*start))
		start++;
	n = (size_t)(end - start);
	for (i = 0; i < n && i < max; i++)
		out[i] = (unsigned char)start[i] >= ' ' && (unsigned char)start[i] <= '~' ? start[i] : '?';
	if (n > max && max >= 3)
		memcpy(out + max - 3, "...", 3);
	out[i] = '\0';
}

void backend_spawn_message(const char *name, const struct spawn_result *r, char *out, size_t size)
{
	char line[BACKEND_LINE_MAX + 1], what[64];

	backend_last_line(r->err_tail ? r->err_tail : "", r->err_tail ? r->err_len : 0, line, sizeof(line));
	if (r->err == -EMSGSIZE)
		snprintf(what, sizeof(what), "printed too much on stdout (over %d KiB)",
			 BACKEND_OUTPUT_MAX / 1024);
	else if (r->timed_out)
		snprintf(what, sizeof(what), "timed out");
	else if (r->err)
		snprintf(what, sizeof(what), "failed: %s", strerror(-r->err));
	else if (r->exited)
		snprintf(what, sizeof(what), "exited with %d", r->status);
	else
		snprintf(what, sizeof(what), "killed by signal %d (%s)", r->signal, strsignal(r->signal));
	snprintf(out, size, "%s %s%s%s", name, what, line[0] ? ": " : "", line);
}

int backend_conf_fail(struct backend *b, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!line)
		line = b->conf_line;
	if (b->conf_path[0] && line)
		log_err("%s:%u: autoscale %s: %s", b->conf_path, line, b->setting, msg);
	else
		log_err("autoscale %s: %s", b->setting, msg);
	return -EINVAL;
}

void backend_free(struct backend *b)
{
	if (!b)
		return;
	backend_token_free(b->token);
	if (b->ops->free)
		b->ops->free(b);
	backend_req_clear(b);
	http_free(b->http);
	sd_event_source_disable_unref(b->timer);
	if (b->event)
		sd_event_unref(b->event);
	free(b->priv);
	free(b);
}
