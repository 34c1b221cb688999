/* backend: the scaler interface (get/set a deployment's capacity) and the registry of backends */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"
#include "timeutil.h"

const char *const backend_names[] = { "azureml", "kubernetes", "sim", NULL };

static const struct backend_ops *const backend_all[] = {
	&backend_azureml_ops, &backend_kubernetes_ops, &backend_sim_ops, NULL
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
	int r = b->ops->conf_key ? b->ops->conf_key(b, c, key, value) : -ENOENT;

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

static void backend_http_send(struct backend *b);

static bool backend_transient(const struct http_response *r)
{
	if (r->err)
		return r->err != -EMSGSIZE && r->err != -ENOMEM && r->err != -EACCES;
	return r->status == 429 || r->status >= 500 || r->status == 408;
}

static void backend_http_done(const struct http_response *r, void *user)
{
	struct backend *b = user;
	char what[64], msg[BACKEND_MESSAGE_MAX - 96];
	int64_t delay, now = backend_now(b);
	unsigned shift;

	b->res.http_status = r->status;
	if (!backend_transient(r)) {
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
	shift = b->tries - 1 < 20 ? b->tries - 1 : 20;
	delay = b->policy.retry_delay_ns << shift;
	if (delay > b->policy.retry_max_ns || delay <= 0)
		delay = b->policy.retry_max_ns;
	/* jitter: between half and all of the backoff */
	delay = delay / 2 + (int64_t)((double)(delay / 2) * ((double)random() / RAND_MAX));
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
	if (b->ops->bearer) {
		req.bearer = b->ops->bearer(b);
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

void backend_free(struct backend *b)
{
	if (!b)
		return;
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
