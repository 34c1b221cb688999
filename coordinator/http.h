/* http: asynchronous HTTP requests through libcurl's multi interface on sd-event */
#ifndef ASCALE_HTTP_H
#define ASCALE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#define HTTP_BODY_MAX		(1024 * 1024)	/* larger responses fail with -EMSGSIZE */
#define HTTP_HEADER_VALUE_MAX	2048		/* longer Location/Azure-AsyncOperation are dropped */

struct http;

struct http_request {
	const char *method;		/* "GET", "PATCH", "PUT", "POST", "DELETE" */
	const char *url;		/* http:// or https:// only */
	const char *body;		/* NULL: none */
	const char *content_type;	/* NULL: application/json when there is a body */
	const char *bearer;		/* NULL: no Authorization header; never logged */
	const char *const *headers;	/* NULL or NULL-terminated "Name: value" lines; never logged */
	const char *ca_file;		/* NULL: the system's CA store */
	bool insecure;			/* no TLS verification (the caller warns) */
	int64_t timeout_ns;		/* whole request; 0: 30 s */
};

struct http_response {
	int err;		/* 0, or -errno: -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EMSGSIZE, -EPROTO... */
	long status;		/* HTTP status, 0 when none was received */
	const char *error;	/* libcurl's message when err != 0 (no secrets) */
	const char *body;	/* NUL-terminated, may be empty */
	size_t len;
	int64_t retry_after_ns;	/* -1: no usable Retry-After header */
	const char *async_op;	/* Azure-AsyncOperation header, or NULL */
	const char *location;	/* Location header, or NULL */
};

/* Called once per request, from the event loop; the response lives until it returns. */
typedef void (*http_done_fn)(const struct http_response *r, void *user);

/* Binds a multi handle to the loop e. Returns 0 or -errno. */
int http_new(sd_event *e, struct http **out);
/* Drops every request still in flight without calling back. */
void http_free(struct http *h);

/*
 * Starts req; cb is called later from the loop (never from inside this call).
 * Every string of req is copied. Headers go out in order: h's (http_set_headers),
 * then req's; a name given there replaces the one we would add (Accept,
 * Content-Type, Authorization, Expect). Returns 0, -EINVAL (bad method, URL or
 * header) or -ENOMEM.
 */
int http_request(struct http *h, const struct http_request *req, http_done_fn cb, void *user);

/*
 * Headers ("Name: value", NULL-terminated) sent with every later request of h,
 * copied; NULL forgets them. Returns 0, -EINVAL (a bad line) or -ENOMEM.
 */
int http_set_headers(struct http *h, const char *const *headers);
/* A header line: a token name (RFC 9110), ':', a value without CR, LF or NUL. */
bool http_header_ok(const char *line);

/*
 * Whether trying r again may help: connection errors and timeouts (not an
 * oversized reply, memory or TLS verification), 408, 429 and 5xx.
 */
bool http_transient(const struct http_response *r);

/* Requests in flight. */
unsigned http_pending(const struct http *h);

#endif
