/* backend_http: any HTTP scaling API, through a body template and a JSON pointer to the count */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"

#define HTTPB_HEADERS_MAX	32
#define HTTPB_HEADER_MAX	4096
#define HTTPB_TEMPLATE_MAX	4096
#define HTTPB_POINTER_MAX	256
#define HTTPB_CTYPE_MAX		128
#define HTTPB_SNIPPET_MAX	200	/* bytes of a reply quoted when it has no message */
#define HTTPB_BODY_DEFAULT	"{\"capacity\": {{capacity}}}"

static const char *const httpb_methods[] = { "PUT", "POST", "PATCH", NULL };

/* the placeholders of body, in the order of httpb_value() */
static const char *const httpb_names[] = { "capacity", "previous", "setting", "endpoint", "deployment", NULL };

struct httpb {
	char url[BACKEND_URL_MAX];
	char get_url[BACKEND_URL_MAX];
	int method;				/* in httpb_methods */
	char body[HTTPB_TEMPLATE_MAX];
	bool body_set;
	char content_type[HTTPB_CTYPE_MAX];
	char pointer[HTTPB_POINTER_MAX];
	bool have_pointer;
	char *headers[HTTPB_HEADERS_MAX + 1];	/* NULL-terminated; may hold secrets */
	size_t nheaders;
	struct backend_token token;
	unsigned initial;
	bool have_initial;
	unsigned capacity;			/* being set */
};


/* ---- configuration ---- */

static int httpb_url_key(struct conf_ctx *c, const char *key, const char *value, char *out, size_t size)
{
	const char *s;

	if (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0)
		return conf_error(c, "%s: expected an http:// or https:// URL", key);
	for (s = value; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return conf_error(c, "%s: spaces and control characters are not allowed in a URL", key);
	return conf_string(c, key, value, out, size);
}

/*
 * The placeholder opening at s ("{{name}}", spaces allowed inside the braces):
 * its index in httpb_names, -ENOENT for an unknown name (*name, *len) or
 * -EINVAL when the braces do not close. *end is past the closing braces.
 */
static int httpb_placeholder(const char *s, const char **end, const char **name, size_t *len)
{
	const char *p = s + 2;
	int i;

	while (*p == ' ')
		p++;
	*name = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	*len = (size_t)(p - *name);
	while (*p == ' ')
		p++;
	if (p[0] != '}' || p[1] != '}')
		return -EINVAL;
	*end = p + 2;
	for (i = 0; httpb_names[i]; i++)
		if (strlen(httpb_names[i]) == *len && strncmp(httpb_names[i], *name, *len) == 0)
			return i;
	return -ENOENT;
}

static int httpb_body_key(struct conf_ctx *c, struct httpb *p, const char *value)
{
	const char *s, *end, *name;
	size_t len;
	int r;

	for (s = strstr(value, "{{"); s; s = strstr(end, "{{")) {
		r = httpb_placeholder(s, &end, &name, &len);
		if (r == -EINVAL)
			return conf_error(c, "body: '{{' at column %zu opens no placeholder "
					  "({{capacity}}, {{previous}}, {{setting}}, {{endpoint}}, {{deployment}})",
					  (size_t)(s - value) + 1);
		if (r == -ENOENT)
			return conf_error(c, "body: unknown placeholder {{%.*s}}: expected capacity, previous, "
					  "setting, endpoint or deployment", (int)(len > 64 ? 64 : len), name);
	}
	if (conf_string(c, "body", value, p->body, sizeof(p->body)) < 0)
		return -EINVAL;
	p->body_set = true;
	return 0;
}

/* "Name: value"; the value may be a secret: no message ever quotes it */
static int httpb_header_key(struct conf_ctx *c, struct httpb *p, const char *value)
{
	static const char *const refused[] = { "Content-Length", "Transfer-Encoding", NULL };
	const char *colon = strchr(value, ':'), *v;
	int i, n;

	if (!colon || !http_header_ok(value))
		return conf_error(c, "header: expected 'Name: value' with a name of letters, digits and "
				  "!#$%%&'*+-.^_`|~, and no line break in the value");
	n = (int)(colon - value);
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (!*v)
		return conf_error(c, "header %.*s: the value is empty", n > 64 ? 64 : n, value);
	if (strlen(value) >= HTTPB_HEADER_MAX)
		return conf_error(c, "header %.*s: longer than %d characters", n > 64 ? 64 : n, value,
				  HTTPB_HEADER_MAX - 1);
	if ((size_t)n == strlen("Content-Type") && strncasecmp(value, "Content-Type", (size_t)n) == 0)
		return conf_error(c, "header Content-Type: give it as content_type");
	for (i = 0; refused[i]; i++)
		if ((size_t)n == strlen(refused[i]) && strncasecmp(value, refused[i], (size_t)n) == 0)
			return conf_error(c, "header %s: set by HTTP itself, not here", refused[i]);
	if (p->nheaders == HTTPB_HEADERS_MAX)
		return conf_error(c, "header: at most %d headers", HTTPB_HEADERS_MAX);
	p->headers[p->nheaders] = strdup(value);
	if (!p->headers[p->nheaders])
		return conf_error(c, "header: out of memory");
	p->nheaders++;
	return 0;
}

/* RFC 6901: empty (the whole reply), or '/'-separated tokens where '~' is only ~0 or ~1 */
static bool httpb_pointer_ok(const char *s)
{
	if (*s && *s != '/')
		return false;
	for (; *s; s++)
		if (*s == '~' && s[1] != '0' && s[1] != '1')
			return false;
	return true;
}

static int httpb_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	struct httpb *p = b->priv;
	const char *s;
	uint64_t u;

	if (strcmp(key, "url") == 0)
		return httpb_url_key(c, key, value, p->url, sizeof(p->url));
	if (strcmp(key, "get_url") == 0)
		return httpb_url_key(c, key, value, p->get_url, sizeof(p->get_url));
	if (strcmp(key, "method") == 0)
		return conf_choice(c, key, value, httpb_methods, &p->method);
	if (strcmp(key, "header") == 0)
		return httpb_header_key(c, p, value);
	if (strcmp(key, "body") == 0)
		return httpb_body_key(c, p, value);
	if (strcmp(key, "content_type") == 0) {
		for (s = value; *s; s++)
			if ((unsigned char)*s < ' ' || *s == 0x7f)
				return conf_error(c, "content_type: control characters are not allowed");
		if (!*value)
			return conf_error(c, "content_type: expected a media type such as application/json");
		return conf_string(c, key, value, p->content_type, sizeof(p->content_type));
	}
	if (strcmp(key, "get_pointer") == 0) {
		if (!httpb_pointer_ok(value))
			return conf_error(c, "get_pointer: expected a JSON pointer such as /status/replicas "
					  "(RFC 6901: '/' before each name, '~' only as ~0 or ~1), not '%s'", value);
		if (conf_string(c, key, value, p->pointer, sizeof(p->pointer)) < 0)
			return -EINVAL;
		p->have_pointer = true;
		return 0;
	}
	if (strcmp(key, "initial") == 0) {
		if (conf_uint(c, key, value, 0, BACKEND_CAPACITY_MAX, &u) < 0)
			return -EINVAL;
		p->initial = (unsigned)u;
		p->have_initial = true;
		return 0;
	}
	return backend_token_key(b, &p->token, c, key, value);
}

static bool httpb_has_header(const struct httpb *p, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < p->nheaders; i++)
		if (strncasecmp(p->headers[i], name, n) == 0 && p->headers[i][n] == ':')
			return true;
	return false;
}

static int httpb_start(struct backend *b)
{
	struct httpb *p = b->priv;
	int r;

	if (!p->url[0]) {
		log_err("autoscale %s: backend http needs url", b->setting);
		return -EINVAL;
	}
	if (p->get_url[0] && !p->have_pointer) {
		log_err("autoscale %s: backend http: get_url needs get_pointer (where the count is in the reply)",
			b->setting);
		return -EINVAL;
	}
	if (!p->body_set)
		snprintf(p->body, sizeof(p->body), "%s", HTTPB_BODY_DEFAULT);
	if (!p->content_type[0])
		snprintf(p->content_type, sizeof(p->content_type), "application/json");
	if (b->token) {
		if (httpb_has_header(p, "Authorization")) {
			log_err("autoscale %s: backend http: a bearer token and an Authorization header: give one",
				b->setting);
			return -EINVAL;
		}
		/* token_file or token_command: backend_http() sends it */
		r = backend_token_start(b, &p->token);
		if (r < 0)
			return r;
	}
	/* the headers go with every request of this backend's client */
	r = http_new(b->event, &b->http);
	if (r < 0)
		return r;
	r = http_set_headers(b->http, (const char *const *)p->headers);
	if (r < 0)
		log_err("autoscale %s: backend http: cannot set the headers: %s", b->setting, strerror(-r));
	return r;
}

/* ---- replies ---- */

/* Ends the operation on a refusal: the API's message, else the start of the reply. */
static void httpb_fail(struct backend *b, const char *what, const struct http_response *r)
{
	char msg[BACKEND_MESSAGE_MAX - 64];
	size_t i, n = 0;

	if (backend_api_message(r->body, r->len, msg, sizeof(msg)) < 0) {
		/* printable bytes only, runs of white space as one */
		for (i = 0; i < r->len && n < HTTPB_SNIPPET_MAX; i++) {
			unsigned char ch = (unsigned char)r->body[i];

			if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
				if (n && msg[n - 1] != ' ')
					msg[n++] = ' ';
			} else if (ch > ' ' && ch < 0x7f) {
				msg[n++] = (char)ch;
			}
		}
		while (n && msg[n - 1] == ' ')
			n--;
		msg[n] = '\0';
		if (!n)
			snprintf(msg, sizeof(msg), "empty reply");
	}
	backend_finish(b, BACKEND_FAILED, -EPROTO, "%s: HTTP %ld: %s", what, r->status, msg);
}

/* The value at an RFC 6901 pointer (checked when configured), or NULL. */
static json_t *httpb_resolve(json_t *v, const char *ptr)
{
	char tok[HTTPB_POINTER_MAX], *end;
	unsigned long long idx;
	size_t n;

	while (v && *ptr == '/') {
		for (ptr++, n = 0; *ptr && *ptr != '/'; n++) {
			if (*ptr == '~') {
				tok[n] = ptr[1] == '0' ? '~' : '/';
				ptr += 2;
			} else {
				tok[n] = *ptr++;
			}
		}
		tok[n] = '\0';
		if (json_is_object(v)) {
			v = json_object_get(v, tok);
		} else if (json_is_array(v)) {
			/* digits, no leading zero */
			if (!n || tok[0] < '0' || tok[0] > '9' || (tok[0] == '0' && n > 1))
				return NULL;
			errno = 0;
			idx = strtoull(tok, &end, 10);
			if (errno || *end || idx >= json_array_size(v))
				return NULL;
			v = json_array_get(v, (size_t)idx);
		} else {
			return NULL;
		}
	}
	return v;
}

/* A count: an integer, or a string holding one. 0, -EINVAL (not an integer) or -ERANGE (*value set). */
static int httpb_count(json_t *v, unsigned *out, long long *value)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		*value = json_integer_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if (!*s || (*s != '-' && (*s < '0' || *s > '9')) || json_string_length(v) > 20)
			return -EINVAL;
		errno = 0;
		*value = strtoll(s, &end, 10);
		if (errno || *end)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*value < 0 || *value > BACKEND_CAPACITY_MAX)
		return -ERANGE;
	*out = (unsigned)*value;
	return 0;
}

/* The count at get_pointer in a reply; 0 or -ENOMSG (not JSON), -ENOENT, -EINVAL, -ERANGE. */
static int httpb_read(const struct httpb *p, const struct http_response *r, unsigned *out, long long *value)
{
	json_t *root, *v;
	int ret;

	root = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
	if (!root)
		return -ENOMSG;
	v = httpb_resolve(root, p->pointer);
	ret = v ? httpb_count(v, out, value) : -ENOENT;
	json_decref(root);
	return ret;
}

/* ---- get ---- */

static void httpb_get_done(struct backend *b, const struct http_response *r)
{
	struct httpb *p = b->priv;
	long long value = 0;
	unsigned n;

	if (r->status < 200 || r->status > 299) {
		httpb_fail(b, "GET get_url", r);
		return;
	}
	switch (httpb_read(p, r, &n, &value)) {
	case 0:
		break;
	case -ENOMSG:
		backend_finish(b, BACKEND_FAILED, -EPROTO, "GET get_url: the reply is not JSON");
		return;
	case -ENOENT:
		backend_finish(b, BACKEND_FAILED, -EPROTO, "GET get_url: no %s in the reply",
			       p->pointer[0] ? p->pointer : "value");
		return;
	case -ERANGE:
		backend_finish(b, BACKEND_FAILED, -ERANGE, "GET get_url: %s is %lld, not a count in 0..%d",
			       p->pointer, value, BACKEND_CAPACITY_MAX);
		return;
	default:
		backend_finish(b, BACKEND_FAILED, -EPROTO, "GET get_url: %s is not an integer", p->pointer);
		return;
	}
	b->res.capacity = n;
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "count %u", n);
}

/* without get_url: the last count known (set, or restored after a restart), else initial */
static void httpb_recall(struct backend *b)
{
	struct httpb *p = b->priv;

	if (!b->have_last_count && !p->have_initial) {
		backend_finish(b, BACKEND_FAILED, -ENODATA, "no get_url: the count is unknown until set; give initial");
		return;
	}
	b->res.capacity = b->have_last_count ? b->last_count : p->initial;
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "count %u (no get_url: the last count set, or initial)",
		       b->res.capacity);
}

static int httpb_get(struct backend *b)
{
	struct httpb *p = b->priv;

	if (!p->get_url[0])
		return backend_after(b, 0, httpb_recall);
	return backend_http(b, "GET", p->get_url, NULL, NULL, httpb_get_done);
}

/* ---- set ---- */

/* Writes body with its placeholders filled in, as snprintf does; returns the full length. */
static size_t httpb_expand(struct backend *b, const char *tpl, unsigned capacity, char *out, size_t size)
{
	const char *s = tpl, *end, *name, *v;
	char num[2][16];
	size_t len, n = 0, k;
	int i;

	snprintf(num[0], sizeof(num[0]), "%u", capacity);
	snprintf(num[1], sizeof(num[1]), "%u", b->last_count);
	while (*s) {
		i = s[0] == '{' && s[1] == '{' ? httpb_placeholder(s, &end, &name, &len) : -1;
		if (i < 0) {
			/* placeholders were checked when configured: anything else is text */
			v = s;
			k = 1;
			end = s + 1;
		} else {
			const char *vals[] = { num[0], b->have_last_count ? num[1] : "", b->setting, b->endpoint,
					       b->deployment };

			v = vals[i];
			k = strlen(v);
		}
		if (n < size)
			memcpy(out + n, v, n + k < size ? k : size - n);
		n += k;
		s = end;
	}
	if (size)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

static void httpb_set_done(struct backend *b, const struct http_response *r)
{
	struct httpb *p = b->priv;
	char what[32];
	long long value = 0;
	unsigned n = p->capacity;
	int ret = -ENOENT;

	if (r->status < 200 || r->status > 299) {
		snprintf(what, sizeof(what), "%s url", httpb_methods[p->method]);
		httpb_fail(b, what, r);
		return;
	}
	if (p->have_pointer)
		ret = httpb_read(p, r, &n, &value);
	if (ret < 0)
		n = p->capacity;
	b->res.capacity = n;
	b->res.have_capacity = true;
	if (ret == 0 && n != p->capacity)
		backend_finish(b, BACKEND_OK, 0, "capacity %u sent; the reply's %s is %u", p->capacity,
			       p->pointer, n);
	else if (ret == -EINVAL || ret == -ERANGE)
		backend_finish(b, BACKEND_OK, 0, "capacity %u set (the reply's %s is not a count)", n,
			       p->pointer);
	else
		backend_finish(b, BACKEND_OK, 0, "capacity %u set", n);
}

static int httpb_set(struct backend *b, unsigned capacity)
{
	struct httpb *p = b->priv;
	size_t len = httpb_expand(b, p->body, capacity, NULL, 0);
	char *body;
	int r;

	body = malloc(len + 1);
	if (!body)
		return -ENOMEM;
	httpb_expand(b, p->body, capacity, body, len + 1);
	p->capacity = capacity;
	r = backend_http(b, httpb_methods[p->method], p->url, body, p->content_type, httpb_set_done);
	free(body);
	return r;
}

static void httpb_free(struct backend *b)
{
	struct httpb *p = b->priv;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nheaders; i++) {
		explicit_bzero(p->headers[i], strlen(p->headers[i]));
		free(p->headers[i]);
	}
}

const struct backend_ops backend_http_ops = {
	.name = "http",
	.priv_size = sizeof(struct httpb),
	.conf_key = httpb_conf_key,
	.start = httpb_start,
	.get = httpb_get,
	.set = httpb_set,
	.free = httpb_free,
};
