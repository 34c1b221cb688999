/* http: asynchronous HTTP requests through libcurl's multi interface on sd-event */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "timeutil.h"

#define HTTP_TIMEOUT_DEFAULT_NS		(30 * NSEC_PER_SEC)
#define HTTP_RETRY_AFTER_MAX_S		3600

struct http_call {
	struct http *h;
	CURL *easy;
	struct curl_slist *headers;
	http_done_fn cb;
	void *user;
	char *body;
	size_t len;
	bool too_big;
	int64_t retry_after_ns;
	char *async_op;
	char *location;
	char errbuf[CURL_ERROR_SIZE];
	struct http_call *next;
};

struct http {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
	struct http_call *calls;
	unsigned pending;
	char **headers;		/* http_set_headers(), NULL-terminated */
};

static void http_check_done(struct http *h);

static int http_on_io(sd_event_source *s, int fd, uint32_t revents, void *user)
{
	struct http *h = user;
	int action = 0, running;

	(void)s;
	if (revents & EPOLLIN)
		action |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		action |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, action, &running);
	http_check_done(h);
	return 0;
}

static int http_on_timer(sd_event_source *s, uint64_t usec, void *user)
{
	struct http *h = user;
	int running;

	(void)s;
	(void)usec;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: one sd-event io source per socket curl watches */
static int http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *user, void *socketp)
{
	struct http *h = user;
	sd_event_source *src = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (src) {
			sd_event_source_disable_unref(src);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (src) {
		if (sd_event_source_set_io_events(src, events) < 0)
			return -1;
		return 0;
	}
	if (sd_event_add_io(h->event, &src, fd, events, http_on_io, h) < 0) {
		log_err("http: cannot watch a socket");
		return -1;
	}
	curl_multi_assign(h->multi, fd, src);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one sd-event timer for the whole multi handle */
static int http_timer_cb(CURLM *multi, long timeout_ms, void *user)
{
	struct http *h = user;
	uint64_t now;

	(void)multi;
	if (timeout_ms < 0) {
		if (h->timer)
			sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
		return 0;
	}
	sd_event_now(h->event, CLOCK_MONOTONIC, &now);
	now += (uint64_t)timeout_ms * 1000;
	if (!h->timer) {
		if (sd_event_add_time(h->event, &h->timer, CLOCK_MONOTONIC, now, 1000,
				      http_on_timer, h) < 0)
			return -1;
	} else if (sd_event_source_set_time(h->timer, now) < 0) {
		return -1;
	}
	sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
	return 0;
}

int http_new(sd_event *e, struct http **out)
{
	struct http *h;
	static bool global_done;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		global_done = true;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return -ENOMEM;
	}
	h->event = sd_event_ref(e);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = h;
	return 0;
}

static void http_call_free(struct http_call *c)
{
	struct http_call **p;

	for (p = &c->h->calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->h->pending--;
	curl_multi_remove_handle(c->h->multi, c->easy);
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c->async_op);
	free(c->location);
	free(c);
}

static void http_lines_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++) {
		/* the lines may hold secrets */
		explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->calls)
		http_call_free(h->calls);
	http_lines_free(h->headers);
	curl_multi_cleanup(h->multi);
	sd_event_source_disable_unref(h->timer);
	sd_event_unref(h->event);
	free(h);
}

bool http_transient(const struct http_response *r)
{
	if (r->err)
		return r->err != -EMSGSIZE && r->err != -ENOMEM && r->err != -EACCES;
	return r->status == 408 || r->status == 429 || r->status >= 500;
}

unsigned http_pending(const struct http *h)
{
	return h->pending;
}

static size_t http_write_cb(char *data, size_t size, size_t n, void *user)
{
	struct http_call *c = user;
	size_t len = size * n;
	char *p;

	if (len > HTTP_BODY_MAX - c->len) {
		c->too_big = true;
		return 0;
	}
	p = realloc(c->body, c->len + len + 1);
	if (!p)
		return 0;
	memcpy(p + c->len, data, len);
	c->len += len;
	p[c->len] = '\0';
	c->body = p;
	return len;
}

/* Retry-After: delay-seconds or an HTTP date */
static int64_t http_parse_retry_after(const char *v)
{
	char *end;
	long long s;
	time_t t;

	if (isdigit((unsigned char)*v)) {
		errno = 0;
		s = strtoll(v, &end, 10);
		if (errno || *end || s > HTTP_RETRY_AFTER_MAX_S)
			return -1;
		return s * NSEC_PER_SEC;
	}
	t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	s = (long long)t - (long long)time(NULL);
	if (s < 0)
		s = 0;
	if (s > HTTP_RETRY_AFTER_MAX_S)
		return -1;
	return s * NSEC_PER_SEC;
}

static char *http_header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	char *v;

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
		       line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= HTTP_HEADER_VALUE_MAX)
		return NULL;
	v = strndup(line, len);
	return v;
}

static size_t http_header_cb(char *data, size_t size, size_t n, void *user)
{
	struct http_call *c = user;
	size_t len = size * n;
	char *v;

	/* a new status line (e.g. after 100 Continue) starts a new header set */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		c->retry_after_ns = -1;
		free(c->async_op);
		free(c->location);
		c->async_op = c->location = NULL;
		return len;
	}
	if ((v = http_header_value(data, len, "Retry-After"))) {
		c->retry_after_ns = http_parse_retry_after(v);
		free(v);
	} else if ((v = http_header_value(data, len, "Azure-AsyncOperation"))) {
		free(c->async_op);
		c->async_op = v;
	} else if ((v = http_header_value(data, len, "Location"))) {
		free(c->location);
		c->location = v;
	}
	return len;
}

static int http_errno(CURLcode code, const struct http_call *c)
{
	switch (code) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_WRITE_ERROR:
		return c->too_big ? -EMSGSIZE : -EIO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return -EACCES;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

static void http_check_done(struct http *h)
{
	struct http_response r;
	struct http_call *c;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		c = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (!c)
			continue;
		memset(&r, 0, sizeof(r));
		r.err = http_errno(msg->data.result, c);
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.error = r.err ? (c->errbuf[0] ? c->errbuf : curl_easy_strerror(msg->data.result)) : NULL;
		r.body = c->body ? c->body : "";
		r.len = c->len;
		r.retry_after_ns = c->retry_after_ns;
		r.async_op = c->async_op;
		r.location = c->location;
		/* unlink first: the callback may start new requests */
		curl_multi_remove_handle(h->multi, c->easy);
		c->cb(&r, c->user);
		http_call_free(c);
	}
}

static bool http_method_ok(const char *m)
{
	static const char *const methods[] = { "GET", "PATCH", "PUT", "POST", "DELETE", NULL };
	int i;

	for (i = 0; methods[i]; i++)
		if (strcmp(m, methods[i]) == 0)
			return true;
	return false;
}

bool http_header_ok(const char *line)
{
	const char *p;

	for (p = line; *p && *p != ':'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *p)))
			return false;
	return p > line && *p == ':' && !strpbrk(p, "\r\n");
}

static bool http_lines_ok(const char *const *list)
{
	for (; list && *list; list++)
		if (!http_header_ok(*list))
			return false;
	return true;
}

int http_set_headers(struct http *h, const char *const *headers)
{
	char **v = NULL;
	size_t i, n = 0;

	if (!http_lines_ok(headers))
		return -EINVAL;
	while (headers && headers[n])
		n++;
	if (n) {
		v = calloc(n + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			if (!(v[i] = strdup(headers[i]))) {
				http_lines_free(v);
				return -ENOMEM;
			}
	}
	http_lines_free(h->headers);
	h->headers = v;
	return 0;
}

/* Whether h's or req's lines name the header name: then we do not add ours. */
static bool http_given(const struct http *h, const struct http_request *req, const char *name)
{
	const char *const *lists[] = { (const char *const *)h->headers, req->headers };
	const char *const *l;
	size_t i, n = strlen(name);

	for (i = 0; i < 2; i++)
		for (l = lists[i]; l && *l; l++)
			if (strncasecmp(*l, name, n) == 0 && (*l)[n] == ':')
				return true;
	return false;
}

static int http_add_lines(struct http_call *c, const char *const *list)
{
	struct curl_slist *l;

	for (; list && *list; list++) {
		l = curl_slist_append(c->headers, *list);
		if (!l)
			return -ENOMEM;
		c->headers = l;
	}
	return 0;
}

static int http_add_header(struct http_call *c, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;

	if (asprintf(&line, "%s: %s", name, value) < 0)
		return -ENOMEM;
	l = curl_slist_append(c->headers, line);
	/* the line may hold a token: wipe our copy */
	explicit_bzero(line, strlen(line));
	free(line);
	if (!l)
		return -ENOMEM;
	c->headers = l;
	return 0;
}

int http_request(struct http *h, const struct http_request *req, http_done_fn cb, void *user)
{
	struct http_call *c;
	int64_t timeout = req->timeout_ns > 0 ? req->timeout_ns : HTTP_TIMEOUT_DEFAULT_NS;
	int r = -ENOMEM;

	if (!req->method || !http_method_ok(req->method) || !req->url ||
	    (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0))
		return -EINVAL;
	if ((req->bearer && strpbrk(req->bearer, "\r\n")) || !http_lines_ok(req->headers))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->h = h;
	c->cb = cb;
	c->user = user;
	c->retry_after_ns = -1;
	c->easy = curl_easy_init();
	if (!c->easy) {
		free(c);
		return -ENOMEM;
	}
	c->next = h->calls;
	h->calls = c;
	h->pending++;
	if (!http_given(h, req, "Accept") && http_add_header(c, "Accept", "application/json") < 0)
		goto fail;
	if (req->body && !http_given(h, req, "Content-Type") &&
	    http_add_header(c, "Content-Type", req->content_type ? req->content_type : "application/json") < 0)
		goto fail;
	if (req->bearer && !http_given(h, req, "Authorization")) {
		char *v;

		if (asprintf(&v, "Bearer %s", req->bearer) < 0)
			goto fail;
		r = http_add_header(c, "Authorization", v);
		explicit_bzero(v, strlen(v));
		free(v);
		if (r < 0)
			goto fail;
		r = -ENOMEM;
	}
	/* no "Expect: 100-continue" round trip */
	if (!http_given(h, req, "Expect") && http_add_header(c, "Expect", "") < 0)
		goto fail;
	if (http_add_lines(c, (const char *const *)h->headers) < 0 || http_add_lines(c, req->headers) < 0)
		goto fail;
	curl_easy_setopt(c->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)(timeout / NSEC_PER_MSEC));
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout / NSEC_PER_MSEC));
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "ascale");
	if (req->ca_file)
		curl_easy_setopt(c->easy, CURLOPT_CAINFO, req->ca_file);
	if (req->insecure) {
		curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body)
		curl_easy_setopt(c->easy, CURLOPT_COPYPOSTFIELDS, req->body);
	if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK)
		goto fail;
	return 0;
fail:
	http_call_free(c);
	return r;
}
