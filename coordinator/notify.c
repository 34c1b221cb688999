/* notify: webhooks on scale actions in Azure autoscale's payload (1.0), retried from the loop */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "timeutil.h"

#define NOTIFY_DROP_LOG_NS	(60 * NSEC_PER_SEC)	/* one "queue full" message a minute at most */
#define NOTIFY_LABEL_MAX	96
#define NOTIFY_FILE_MAX		(64 * 1024)		/* a URL file larger than this is refused */

struct notify_delivery {
	struct notify *n;
	struct notify_delivery *prev, *next;
	char *url;
	char *body;
	uint64_t hash;			/* of url */
	char origin[NOTIFY_ORIGIN_MAX];	/* what messages show of url */
	char label[NOTIFY_LABEL_MAX];	/* " for autoscale NAME", or "" */
	unsigned tries;
	bool busy;			/* a request is in flight */
	int64_t due_ns;			/* CLOCK_MONOTONIC: not before */
};

struct notify {
	sd_event *event;
	struct http *http;
	sd_event_source *timer;
	struct notify_policy policy;
	struct notify_delivery *head, *tail;	/* in the order posted */
	struct notify_stats stats;
	bool drop_logged;
	int64_t drop_logged_ns;
	uint64_t drops_quiet;			/* dropped since the last message */
};

/* ---- the payload ---- */

static int notify_set(json_t *o, const char *key, const char *value)
{
	return json_object_set_new(o, key, json_string(value ? value : ""));
}

json_t *notify_payload(const struct notify_event *ev)
{
	const char *op = ev->operation;
	char details[512], cap_old[16], cap_new[16], when[40];
	json_t *root, *ctx, *props;

	if (!op && ev->new_capacity != ev->old_capacity)
		op = ev->new_capacity > ev->old_capacity ? "Scale Out" : "Scale In";
	if (!op || !ev->setting || (ev->properties && !json_is_object(ev->properties))) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(cap_old, sizeof(cap_old), "%u", ev->old_capacity);
	snprintf(cap_new, sizeof(cap_new), "%u", ev->new_capacity);
	time_format_rfc3339(ev->time_ns, when, sizeof(when));
	if (!ev->details)
		snprintf(details, sizeof(details),
			 "Autoscale setting '%s': scale operation for resource '%s' from capacity '%s' to capacity '%s'",
			 ev->setting, ev->resource_name ? ev->resource_name : "", cap_old, cap_new);
	root = json_object();
	ctx = json_object();
	props = ev->properties ? json_deep_copy(ev->properties) : json_object();
	if (!root || !ctx || !props) {
		errno = ENOMEM;
		goto fail;
	}
	/* Azure's order; strings everywhere, the capacities included */
	errno = EINVAL;		/* json_string() refuses what is not UTF-8 */
	if (notify_set(ctx, "timestamp", when) < 0 ||
	    notify_set(ctx, "id", ev->setting_id ? ev->setting_id : ev->setting) < 0 ||
	    notify_set(ctx, "name", ev->setting) < 0 ||
	    notify_set(ctx, "details", ev->details ? ev->details : details) < 0 ||
	    notify_set(ctx, "subscriptionId", ev->subscription) < 0 ||
	    notify_set(ctx, "resourceGroupName", ev->resource_group) < 0 ||
	    notify_set(ctx, "resourceName", ev->resource_name) < 0 ||
	    notify_set(ctx, "resourceType", ev->resource_type) < 0 ||
	    notify_set(ctx, "resourceId", ev->resource_id) < 0 ||
	    (ev->portal_link && notify_set(ctx, "portalLink", ev->portal_link) < 0) ||
	    (ev->region && notify_set(ctx, "resourceRegion", ev->region) < 0) ||
	    notify_set(ctx, "oldCapacity", cap_old) < 0 ||
	    notify_set(ctx, "newCapacity", cap_new) < 0 ||
	    notify_set(root, "version", "1.0") < 0 ||
	    notify_set(root, "status", "Activated") < 0 ||
	    notify_set(root, "operation", op) < 0)
		goto fail;
	if (json_object_set_new(root, "context", ctx) < 0) {
		ctx = NULL;
		goto fail;
	}
	if (json_object_set_new(root, "properties", props) < 0) {
		json_decref(root);
		return NULL;
	}
	return root;
fail:
	json_decref(root);
	json_decref(ctx);
	json_decref(props);
	return NULL;
}

/* ---- addresses and configuration ---- */

bool notify_url_ok(const char *url, char *why, size_t len)
{
	const char *p, *rest;
	CURLUcode rc;
	CURLU *u;

	if (!url || !*url)
		return log_fill(why, len, false, "expected a URL");
	if (strlen(url) >= NOTIFY_URL_MAX)
		return log_fill(why, len, false, "URL longer than %d bytes", NOTIFY_URL_MAX - 1);
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return log_fill(why, len, false, "a space, control or non-ASCII character in the URL "
					"(percent-encode it)");
	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		return log_fill(why, len, false, "expected an http:// or https:// URL");
	if (!*rest || strchr("/?#", *rest))
		return log_fill(why, len, false, "no host in the URL");
	u = curl_url();
	if (!u)
		return log_fill(why, len, false, "out of memory");
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK)
		return log_fill(why, len, false, "not a valid URL: %s", curl_url_strerror(rc));
	return true;
}

const char *notify_origin(const char *url, char *buf, size_t len)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u = curl_url();

	snprintf(buf, len, "(not a URL)");
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		/* the port only when the URL names one */
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			port = NULL;
		snprintf(buf, len, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return buf;
}

int notify_url_read(const char *path, char *url, size_t size, char *why, size_t len)
{
	char *line = NULL, *p, *end;
	size_t cap = 0, found = 0;
	struct stat st;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f || fstat(fileno(f), &st) < 0) {
		r = -errno;
		if (f)
			fclose(f);
		log_fill(why, len, 0, "%s", strerror(-r));
		return r;
	}
	if (st.st_size > NOTIFY_FILE_MAX) {
		fclose(f);
		log_fill(why, len, 0, "larger than %d bytes", NOTIFY_FILE_MAX);
		return -EFBIG;
	}
	while (getline(&line, &cap, f) >= 0) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		end = p + strlen(p);
		while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		if (found++) {
			log_fill(why, len, 0, "expected one URL, found more lines");
			r = -EINVAL;
			break;
		}
		if (!notify_url_ok(p, why, len)) {
			r = -EINVAL;
			break;
		}
		if ((size_t)(end - p) >= size) {
			log_fill(why, len, 0, "URL longer than %zu bytes", size - 1);
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(url, p, (size_t)(end - p) + 1);
	}
	if (!r && !found) {
		log_fill(why, len, 0, "no URL in the file");
		r = -EINVAL;
	}
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	if (r < 0 && size)
		explicit_bzero(url, size);
	return r;
}

void notify_policy_defaults(struct notify_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->timeout_ns = 10 * NSEC_PER_SEC;
	p->attempts = 5;
	p->retry_delay_ns = 1 * NSEC_PER_SEC;
	p->retry_max_ns = 60 * NSEC_PER_SEC;
	p->queue_max = 256;
	p->in_flight_max = 4;
}

int notify_policy_key(struct notify_policy *p, struct conf_ctx *c, const char *key, const char *value)
{
	uint64_t u;

	if (strcmp(key, "notify_ca_file") == 0)
		return conf_string(c, key, value, p->ca_file, sizeof(p->ca_file));
	if (strcmp(key, "notify_insecure") == 0)
		return conf_bool(c, key, value, &p->insecure);
	if (strcmp(key, "notify_timeout") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 100 * NSEC_PER_MSEC,
				     600 * NSEC_PER_SEC, &p->timeout_ns);
	if (strcmp(key, "notify_retry_delay") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     600 * NSEC_PER_SEC, &p->retry_delay_ns);
	if (strcmp(key, "notify_retry_max") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     3600 * NSEC_PER_SEC, &p->retry_max_ns);
	if (strcmp(key, "notify_attempts") == 0) {
		if (conf_uint(c, key, value, 1, 100, &u) < 0)
			return -EINVAL;
		p->attempts = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "notify_queue") == 0) {
		if (conf_uint(c, key, value, 1, 65536, &u) < 0)
			return -EINVAL;
		p->queue_max = (unsigned)u;
		return 0;
	}
	return -ENOENT;
}

/* ---- deliveries ---- */

static int64_t notify_now(struct notify *n)
{
	uint64_t now;

	if (sd_event_now(n->event, CLOCK_MONOTONIC, &now) < 0)
		return time_mono_ns();
	return (int64_t)now * NSEC_PER_USEC;
}

/* FNV-1a: a quick first test of "same URL" */
static uint64_t notify_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void notify_remove(struct notify *n, struct notify_delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		n->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		n->tail = d->prev;
	n->stats.pending--;
	free(d->url);
	free(d->body);
	free(d);
}

static void notify_fail(struct notify *n, struct notify_delivery *d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Gives a delivery up: counted, and its one message. */
static void notify_fail(struct notify *n, struct notify_delivery *d, const char *fmt, ...)
{
	char msg[CURL_ERROR_SIZE + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("notify: webhook to %s%s failed: %s", d->origin, d->label, msg);
	n->stats.failed++;
	notify_remove(n, d);
}

static int notify_on_timer(sd_event_source *s, uint64_t usec, void *user);

/* Wakes the loop at when_ns (CLOCK_MONOTONIC), rounded up to the timer's microseconds. */
static int notify_arm(struct notify *n, int64_t when_ns)
{
	uint64_t usec = (uint64_t)((when_ns + NSEC_PER_USEC - 1) / NSEC_PER_USEC);
	int r;

	if (!n->timer)
		r = sd_event_add_time(n->event, &n->timer, CLOCK_MONOTONIC, usec, 1000, notify_on_timer, n);
	else
		r = sd_event_source_set_time(n->timer, usec);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(n->timer, SD_EVENT_ONESHOT);
}

/* Whether an earlier delivery to the same URL is still pending: order per URL. */
static bool notify_waits(const struct notify *n, const struct notify_delivery *d)
{
	const struct notify_delivery *e;

	for (e = n->head; e != d; e = e->next)
		if (e->hash == d->hash && strcmp(e->url, d->url) == 0)
			return true;
	return false;
}

/* The wait before attempt tries + 1: Retry-After, else doubling backoff with jitter. */
static int64_t notify_backoff(const struct notify *n, unsigned tries, int64_t retry_after_ns)
{
	if (retry_after_ns >= 0)
		return retry_after_ns;
	return backoff_delay(n->policy.retry_delay_ns, n->policy.retry_max_ns, tries);
}

static void notify_run(struct notify *n);

static void notify_done(const struct http_response *r, void *user)
{
	struct notify_delivery *d = user;
	struct notify *n = d->n;
	char what[CURL_ERROR_SIZE + 16];
	int64_t delay;

	d->busy = false;
	n->stats.in_flight--;
	/* a 2xx whose body was too large to keep was delivered all the same */
	if ((!r->err || r->err == -EMSGSIZE) && r->status >= 200 && r->status <= 299) {
		log_debug("notify: webhook to %s%s delivered: HTTP %ld", d->origin, d->label, r->status);
		n->stats.sent++;
		notify_remove(n, d);
		notify_run(n);
		return;
	}
	if (r->err)
		snprintf(what, sizeof(what), "%s", r->error ? r->error : strerror(-r->err));
	else
		snprintf(what, sizeof(what), "HTTP %ld", r->status);
	if (!http_transient(r)) {
		notify_fail(n, d, "%s (not retried)", what);
	} else if (d->tries >= n->policy.attempts) {
		notify_fail(n, d, "%s after %u attempts", what, d->tries);
	} else {
		delay = notify_backoff(n, d->tries, r->retry_after_ns);
		d->due_ns = notify_now(n) + delay;
		n->stats.retried++;
		log_debug("notify: webhook to %s%s: %s, retrying in %lld ms (attempt %u of %u)", d->origin,
			  d->label, what, (long long)(delay / NSEC_PER_MSEC), d->tries + 1, n->policy.attempts);
	}
	notify_run(n);
}

static void notify_send(struct notify *n, struct notify_delivery *d)
{
	struct http_request req = {
		.method = "POST",
		.url = d->url,
		.body = d->body,
		.content_type = "application/json",
		.ca_file = n->policy.ca_file[0] ? n->policy.ca_file : NULL,
		.insecure = n->policy.insecure,
		.timeout_ns = n->policy.timeout_ns,
	};
	int r;

	d->tries++;
	r = http_request(n->http, &req, notify_done, d);
	if (r < 0) {
		notify_fail(n, d, "cannot start the request: %s", strerror(-r));
		return;
	}
	d->busy = true;
	n->stats.in_flight++;
}

/* Starts what may start (in order, one request per URL, a few at once) and sets the timer for the rest. */
static void notify_run(struct notify *n)
{
	struct notify_delivery *d, *next;
	int64_t now = notify_now(n), wake = INT64_MAX;
	int r;

	for (d = n->head; d && n->stats.in_flight < n->policy.in_flight_max; d = next) {
		next = d->next;
		if (d->busy || notify_waits(n, d))
			continue;
		if (d->due_ns > now) {
			if (d->due_ns < wake)
				wake = d->due_ns;
			continue;
		}
		notify_send(n, d);
	}
	/* a full house needs no timer: every answer runs this again */
	if (wake == INT64_MAX) {
		if (n->timer)
			sd_event_source_set_enabled(n->timer, SD_EVENT_OFF);
		return;
	}
	r = notify_arm(n, wake);
	if (r < 0)
		log_err("notify: cannot arm the retry timer: %s", strerror(-r));
}

static int notify_on_timer(sd_event_source *s, uint64_t usec, void *user)
{
	(void)s;
	(void)usec;
	notify_run(user);
	return 0;
}

static void notify_drop(struct notify *n, const char *url)
{
	char origin[NOTIFY_ORIGIN_MAX], more[64] = "";
	int64_t now = notify_now(n);

	n->stats.dropped++;
	if (n->drop_logged && now - n->drop_logged_ns < NOTIFY_DROP_LOG_NS) {
		n->drops_quiet++;
		return;
	}
	if (n->drops_quiet)
		snprintf(more, sizeof(more), " (and %llu more since the last message)",
			 (unsigned long long)n->drops_quiet);
	log_warn("notify: queue full (%u pending): webhook to %s dropped%s", n->stats.pending,
		 notify_origin(url, origin, sizeof(origin)), more);
	n->drop_logged = true;
	n->drop_logged_ns = now;
	n->drops_quiet = 0;
}

int notify_post(struct notify *n, const char *url, const json_t *payload)
{
	struct notify_delivery *d;
	const json_t *name;
	int r = -ENOMEM;

	if (!notify_url_ok(url, NULL, 0) || !json_is_object(payload))
		return -EINVAL;
	if (n->stats.pending >= n->policy.queue_max) {
		notify_drop(n, url);
		return -ENOBUFS;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->body = json_dumps(payload, JSON_COMPACT);
	d->url = strdup(url);
	if (!d->body || !d->url)
		goto fail;
	if (strlen(d->body) >= NOTIFY_BODY_MAX) {
		r = -EMSGSIZE;
		goto fail;
	}
	d->n = n;
	d->hash = notify_hash(url);
	notify_origin(url, d->origin, sizeof(d->origin));
	name = json_object_get(json_object_get(payload, "context"), "name");
	if (json_is_string(name))
		snprintf(d->label, sizeof(d->label), " for autoscale %s", json_string_value(name));
	d->prev = n->tail;
	if (n->tail)
		n->tail->next = d;
	else
		n->head = d;
	n->tail = d;
	n->stats.pending++;
	/* sent from the loop: posting never waits for the network */
	r = notify_arm(n, notify_now(n));
	if (r < 0) {
		notify_remove(n, d);
		return r;
	}
	return 0;
fail:
	free(d->body);
	free(d->url);
	free(d);
	return r;
}

const struct notify_stats *notify_stats(const struct notify *n)
{
	return &n->stats;
}

int notify_new(sd_event *e, const struct notify_policy *p, struct notify **out)
{
	struct notify *n;
	int r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (p)
		n->policy = *p;
	else
		notify_policy_defaults(&n->policy);
	p = &n->policy;
	if (!p->attempts || !p->queue_max || !p->in_flight_max || p->timeout_ns <= 0 ||
	    p->retry_delay_ns <= 0 || p->retry_max_ns <= 0) {
		log_err("notify: attempts, queue, requests at once, timeout and retry delays must be above 0");
		free(n);
		return -EINVAL;
	}
	if (p->ca_file[0] && access(p->ca_file, R_OK) < 0) {
		r = -errno;
		log_err("notify: notify_ca_file %s: %s", p->ca_file, strerror(-r));
		free(n);
		return r;
	}
	if (p->insecure)
		log_warn("notify: notify_insecure = true: webhook TLS certificates are NOT verified");
	r = http_new(e, &n->http);
	if (r < 0) {
		free(n);
		return r;
	}
	n->event = sd_event_ref(e);
	*out = n;
	return 0;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	if (n->stats.pending)
		log_info("notify: %u webhook deliveries dropped unsent", n->stats.pending);
	/* first the requests in flight (no callback), then what they pointed to */
	http_free(n->http);
	while (n->head)
		notify_remove(n, n->head);
	sd_event_source_disable_unref(n->timer);
	sd_event_unref(n->event);
	free(n);
}
