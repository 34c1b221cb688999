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
#include "spawn.h"

#define BACKEND_CAPACITY_MAX	10000
#define BACKEND_MESSAGE_MAX	512
#define BACKEND_NAME_MAX	128
#define BACKEND_URL_MAX		2048
#define BACKEND_TOKEN_MAX	16384
#define BACKEND_OUTPUT_MAX	(64 * 1024)	/* stdout of a command (exec, token_command) */
#define BACKEND_LINE_MAX	200		/* of a command's stderr, in a message */

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
	/* a get: the endpoint is still carrying out a change (azureml Updating/Scaling/Creating,
	 * kubernetes spec.replicas not yet status.replicas), so the count may still move */
	bool busy;
	long http_status;	/* last HTTP status, 0 when none */
	unsigned attempts;	/* HTTP requests sent, polls included */
	char message[BACKEND_MESSAGE_MAX];	/* the API's message, or ours; never a secret */
};

typedef void (*backend_done_fn)(struct backend *b, const struct backend_result *r, void *user);

/* What is scaled, as webhooks name it (Azure's resourceType, resourceId...). */
struct backend_resource {
	const char *type;
	char id[BACKEND_URL_MAX];
	const char *subscription;	/* NULL outside Azure */
	const char *resource_group;
};

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
	/* fills what is scaled; NULL: the kind's name and "endpoint/deployment" */
	void (*describe)(struct backend *b, struct backend_resource *out);
	/* the endpoint's count as state.json kept it (sim: the count itself) */
	void (*seed)(struct backend *b, unsigned count);
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

/*
 * A bearer token read from a file (re-read when it changes), or printed by a
 * command (run again when it gets old, near its expiry, or after a 401).
 */
struct backend_token {
	char file[PATH_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool loaded;
	bool failed;		/* the last error was logged */
	char value[BACKEND_TOKEN_MAX];
	/* token_command */
	char **argv;		/* NULL: token_file */
	int64_t refresh_ns;	/* token_refresh */
	int64_t fetched_ns;	/* CLOCK_MONOTONIC */
	int64_t expires_ns;	/* CLOCK_MONOTONIC, 0: unknown */
	bool stale;		/* run the command before the next request */
	bool fresh;		/* just printed: for the request that waited, even if near its expiry */
	struct spawn *child;	/* the command running */
	void (*then)(struct backend *b);	/* what waits for it */
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
	/* the last count read or set (backend_finish), for the exec backend's ASCALE_PREVIOUS */
	unsigned last_count;
	bool have_last_count;
	/* the bearer token of backend_token_key(), used by backend_http() */
	struct backend_token *token;
	bool token_retried;		/* the operation ran token_command again after a 401 */
	/* where the setting's section is (else its first backend key), for problems found at start */
	char conf_path[PATH_MAX];
	unsigned conf_line;
};

/* ---- for the daemon ---- */

/* Names the backends, NULL-terminated. */
extern const char *const backend_names[];

/*
 * A backend of kind type (backend_names) for one setting.
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
/* After a restart: the last count known before it (the http backend without get_url answers it). */
void backend_seed(struct backend *b, unsigned count);
/* What is scaled, for webhooks. */
void backend_describe(struct backend *b, struct backend_resource *out);
/* Drops an operation in flight without calling back. */
void backend_free(struct backend *b);

const char *backend_status_name(enum backend_status s);
/* "failed, HTTP 503, 3 attempts" for a log line: the HTTP status only where there was one. */
const char *backend_result_brief(const struct backend_result *r, char *buf, size_t len);

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
/*
 * token_file, token_command (exactly one of them) and token_refresh for t,
 * which backend_http() then sends: 0, -ENOENT (not a token key) or -EINVAL.
 */
int backend_token_key(struct backend *b, struct backend_token *t, struct conf_ctx *c,
		      const char *key, const char *value);
/* At start: reads token_file once, or checks that token_command can run. 0 or -errno (logged). */
int backend_token_start(struct backend *b, struct backend_token *t);
/* Stops a token_command running and wipes the token (backend_free() calls it). */
void backend_token_free(struct backend_token *t);
/* Whether token_command must run before the next request (none yet, old, near its expiry, after a 401). */
bool backend_token_due(struct backend *b, const struct backend_token *t);
/* Runs token_command, then calls then(b) once it printed a token (else ends the operation).  0 or -errno. */
int backend_token_refresh(struct backend *b, struct backend_token *t, void (*then)(struct backend *b));
/* A command line key (program and arguments, no shell) into *argv: 0 or -EINVAL (reported). */
int backend_command_key(struct conf_ctx *c, const char *key, const char *value, char ***argv);
/* "NAME exited with 3: <the last line of stderr>", "NAME killed by signal 9 (Killed)"... */
void backend_spawn_message(const char *name, const struct spawn_result *r, char *out, size_t size);
/* A problem found at start: "FILE:LINE: autoscale NAME: ..." (line 0: the section's). -EINVAL. */
int backend_conf_fail(struct backend *b, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The wait before the retry that follows attempt b->tries: backoff, doubling up to retry_max, jitter. */
int64_t backend_retry_delay(struct backend *b);
int64_t backend_now(struct backend *b);

extern const struct backend_ops backend_azureml_ops;
extern const struct backend_ops backend_kubernetes_ops;
extern const struct backend_ops backend_http_ops;
extern const struct backend_ops backend_exec_ops;
extern const struct backend_ops backend_sim_ops;

#endif
