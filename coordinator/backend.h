/* backend: the scaler interface (get/set a deployment's capacity) and the registry of backends */
#ifndef ASCALE_BACKEND_H
#define ASCALE_BACKEND_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "http.h"

#define BACKEND_CAPACITY_MAX	10000
#define BACKEND_MESSAGE_MAX	512
#define BACKEND_NAME_MAX	128
#define BACKEND_URL_MAX		2048
#define BACKEND_TOKEN_MAX	16384

struct backend;
struct conf_ctx;

enum backend_status {
	BACKEND_OK,		/* done: capacity holds the count read or set */
	BACKEND_FAILED,		/* refused (4xx, Failed/Canceled operation, bad reply): retrying will not help */
	BACKEND_RETRYING,	/* transient trouble outlasted the attempts or the time limit: try again later */
};

struct backend_result {
	enum backend_status status;
	int err;		/* 0 or -errno (-ETIMEDOUT, -ECONNREFUSED, -EACCES, -EPROTO...) */
	unsigned capacity;	/* valid when have_capacity */
	bool have_capacity;
	long http_status;	/* last HTTP status, 0 when none */
	unsigned attempts;	/* HTTP requests sent, polls included */
	char message[BACKEND_MESSAGE_MAX];	/* the API's message, or ours; never a secret */
};

typedef void (*backend_done_fn)(struct backend *b, const struct backend_result *r, void *user);

struct backend_ops {
	const char *name;
	size_t priv_size;
	/* a key of the setting's [autoscale NAME] section: 0, -ENOENT (not ours) or conf_error()'s result */
	int (*conf_key)(struct backend *b, struct conf_ctx *c, const char *key, const char *value);
	/* after every key: defaults, files, checks; 0 or -errno (logged) */
	int (*start)(struct backend *b);
	int (*get)(struct backend *b);
	int (*set)(struct backend *b, unsigned capacity);
	void (*free)(struct backend *b);
	/* the bearer token for the next request, NULL for none (read before every attempt) */
	const char *(*bearer)(struct backend *b);
};

/* Settings shared by the HTTP backends; keys in docs/backends.md. */
struct backend_policy {
	char ca_file[PATH_MAX];
	bool insecure;
	int64_t request_timeout_ns;	/* one HTTP request */
	int64_t operation_timeout_ns;	/* a whole get/set, retries and polls included */
	unsigned max_attempts;		/* per request, first try included */
	int64_t retry_delay_ns;		/* first backoff; doubles, with jitter, up to retry_max */
	int64_t retry_max_ns;
	int64_t poll_interval_ns;	/* when the API gives no Retry-After */
};

/* A bearer token read from a file (re-read when it changes). */
struct backend_token {
	char file[PATH_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool loaded;
	bool failed;		/* the last error was logged */
	char value[BACKEND_TOKEN_MAX];
};

struct backend {
	const struct backend_ops *ops;
	char setting[BACKEND_NAME_MAX];
	char endpoint[BACKEND_NAME_MAX];
	char deployment[BACKEND_NAME_MAX];
	struct backend_policy policy;
	sd_event *event;
	struct http *http;
	sd_event_source *timer;
	/* the operation in flight */
	bool busy;
	backend_done_fn cb;
	void *user;
	int64_t deadline;		/* CLOCK_MONOTONIC ns */
	struct backend_result res;
	unsigned tries;			/* of the current request */
	char *req_method, *req_url, *req_body;
	const char *req_ctype;
	void (*req_done)(struct backend *b, const struct http_response *r);
	void (*timer_fn)(struct backend *b);
	void *priv;
};

/* ---- for the daemon ---- */

/* Names the backends, NULL-terminated. */
extern const char *const backend_names[];

/*
 * A backend of kind type ("azureml", "kubernetes", "sim") for one setting.
 * Returns 0, -ENOENT (unknown kind) or -ENOMEM.
 */
int backend_new(const char *type, const char *setting, const char *endpoint,
		const char *deployment, struct backend **out);
/* A backend key of the setting's section: 0, -ENOENT when not a key of this backend, or -EINVAL (reported). */
int backend_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value);
/* Checks the configuration and binds to the loop. Returns 0 or -errno (logged). */
int backend_start(struct backend *b, sd_event *e);
/*
 * Reads the current count / sets an absolute capacity. cb is called once,
 * later, from the loop; set completes only when the operation finished or
 * failed. Returns 0, -EBUSY (an operation is in flight), -ERANGE or -EINVAL.
 */
int backend_get(struct backend *b, backend_done_fn cb, void *user);
int backend_set(struct backend *b, unsigned capacity, backend_done_fn cb, void *user);
bool backend_busy(const struct backend *b);
/* Drops an operation in flight without calling back. */
void backend_free(struct backend *b);

const char *backend_status_name(enum backend_status s);

/* ---- for the backend modules ---- */

/* Ends the operation in flight with status and a message (printf), then calls back. */
void backend_finish(struct backend *b, enum backend_status status, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Calls fn from the loop after delay_ns (0: at the next iteration). */
int backend_after(struct backend *b, int64_t delay_ns, void (*fn)(struct backend *b));
/*
 * Sends one request, retrying connection errors, timeouts, 429 and 5xx with
 * backoff and jitter (Retry-After honoured) within the attempts and the
 * operation's deadline; every other answer goes to done. When the retries
 * run out the operation ends as BACKEND_RETRYING. bearer is read per attempt.
 */
int backend_http(struct backend *b, const char *method, const char *url, const char *body,
		 const char *content_type, void (*done)(struct backend *b, const struct http_response *r));
/* Ends the operation with the API's error message from r (Azure or Kubernetes shape). */
void backend_fail_http(struct backend *b, const char *what, const struct http_response *r);
/* The message of an Azure {"error":{"code","message"}} or Kubernetes Status body; 0 or -ENOENT. */
int backend_api_message(const char *body, size_t len, char *out, size_t size);
/* Common keys (ca_file, insecure, timeouts, retries): 0, -ENOENT or -EINVAL. */
int backend_policy_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value);
/* The token from t->file, re-read when the file changed. 0 or -errno (logged once per change). */
int backend_token_load(struct backend *b, struct backend_token *t);
int64_t backend_now(struct backend *b);

extern const struct backend_ops backend_azureml_ops;
extern const struct backend_ops backend_kubernetes_ops;
extern const struct backend_ops backend_sim_ops;

#endif
