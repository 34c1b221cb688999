/* backend_azureml: an Azure ML managed online deployment's sku.capacity through ARM */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"
#include "timeutil.h"

#define AZML_API_VERSION	"2024-04-01"
#define AZML_ARM_DEFAULT	"https://management.azure.com"

struct azml {
	char subscription[BACKEND_NAME_MAX];
	char resource_group[BACKEND_NAME_MAX];
	char workspace[BACKEND_NAME_MAX];
	char arm[512];
	char url[BACKEND_URL_MAX];		/* the deployment, with api-version */
	char poll[BACKEND_URL_MAX];		/* the operation being polled */
	struct backend_token token;
	unsigned capacity;			/* being set */
};

/* ARM names as they may appear in a URL path */
static bool azml_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.' || *s == '(' || *s == ')'))
			return false;
	return true;
}

static int azml_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	struct azml *p = b->priv;
	char *dst = NULL;
	size_t size = 0;

	if (strcmp(key, "subscription") == 0) {
		dst = p->subscription;
		size = sizeof(p->subscription);
	} else if (strcmp(key, "resource_group") == 0) {
		dst = p->resource_group;
		size = sizeof(p->resource_group);
	} else if (strcmp(key, "workspace") == 0) {
		dst = p->workspace;
		size = sizeof(p->workspace);
	} else if (strcmp(key, "arm") == 0) {
		if (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0)
			return conf_error(c, "arm: expected an http:// or https:// URL, not '%s'", value);
		if (conf_string(c, key, value, p->arm, sizeof(p->arm)) < 0)
			return -EINVAL;
		while (strlen(p->arm) > 8 && p->arm[strlen(p->arm) - 1] == '/')
			p->arm[strlen(p->arm) - 1] = '\0';
		return 0;
	} else {
		return backend_token_key(b, &p->token, c, key, value);
	}
	if (!azml_name_ok(value))
		return conf_error(c, "%s: expected letters, digits, '-', '_', '.', '(' or ')', not '%s'", key, value);
	return conf_string(c, key, value, dst, size);
}

static int azml_start(struct backend *b)
{
	struct azml *p = b->priv;
	const char *missing = NULL;
	int n;

	if (!p->arm[0])
		snprintf(p->arm, sizeof(p->arm), "%s", AZML_ARM_DEFAULT);
	if (!p->subscription[0])
		missing = "subscription";
	else if (!p->resource_group[0])
		missing = "resource_group";
	else if (!p->workspace[0])
		missing = "workspace";
	else if (!azml_name_ok(b->endpoint))
		missing = "endpoint";
	else if (!azml_name_ok(b->deployment))
		missing = "deployment";
	if (missing)
		return backend_conf_fail(b, 0, "backend azureml needs %s", missing);
	n = snprintf(p->url, sizeof(p->url),
		     "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.MachineLearningServices"
		     "/workspaces/%s/onlineEndpoints/%s/deployments/%s?api-version=%s",
		     p->arm, p->subscription, p->resource_group, p->workspace, b->endpoint,
		     b->deployment, AZML_API_VERSION);
	if (n < 0 || (size_t)n >= sizeof(p->url)) {
		log_err("autoscale %s: azureml: the deployment URL is too long", b->setting);
		return -ENAMETOOLONG;
	}
	/* token_file or token_command: backend_http() sends it */
	return backend_token_start(b, &p->token);
}

/* The deployment's sku.capacity and provisioningState; 0 or -EPROTO */
static int azml_parse(const struct http_response *r, unsigned *capacity, char *state, size_t size)
{
	json_t *root, *cap, *ps;
	int ret = -EPROTO;

	root = json_loadb(r->body, r->len, 0, NULL);
	cap = json_object_get(json_object_get(root, "sku"), "capacity");
	ps = json_object_get(json_object_get(root, "properties"), "provisioningState");
	if (json_is_integer(cap) && json_integer_value(cap) >= 0 &&
	    json_integer_value(cap) <= BACKEND_CAPACITY_MAX) {
		*capacity = (unsigned)json_integer_value(cap);
		snprintf(state, size, "%s", json_is_string(ps) ? json_string_value(ps) : "");
		ret = 0;
	}
	json_decref(root);
	return ret;
}

static bool azml_busy_state(const char *s)
{
	return strcmp(s, "Updating") == 0 || strcmp(s, "Scaling") == 0 || strcmp(s, "Creating") == 0;
}

static int64_t azml_poll_delay(struct backend *b, const struct http_response *r)
{
	if (r && r->retry_after_ns > 0)
		return r->retry_after_ns;
	return b->policy.poll_interval_ns;
}

/* Waits delay_ns, then calls fn, unless the operation's time runs out first. */
static void azml_wait(struct backend *b, int64_t delay_ns, void (*fn)(struct backend *b), const char *why)
{
	if (backend_now(b) + delay_ns > b->deadline) {
		backend_finish(b, BACKEND_RETRYING, -ETIMEDOUT, "operation_timeout reached while %s", why);
		return;
	}
	if (backend_after(b, delay_ns, fn) < 0)
		backend_finish(b, BACKEND_FAILED, -ENOMEM, "cannot arm a timer");
}

static void azml_start_http(struct backend *b, const char *method, const char *url, const char *body,
			    void (*done)(struct backend *b, const struct http_response *r))
{
	int r = backend_http(b, method, url, body, body ? "application/json" : NULL, done);

	if (r < 0)
		backend_finish(b, BACKEND_FAILED, r, "%s: %s", method, strerror(-r));
}

/* ---- get ---- */

/*
 * A GET of the deployment: its capacity and provisioningState, or 0 after
 * finishing the operation as failed (an error status, or no sku.capacity).
 */
static int azml_read(struct backend *b, const struct http_response *r, unsigned *cap,
		     char *state, size_t len)
{
	if (r->status != 200) {
		backend_fail_http(b, "GET deployment", r);
		return 0;
	}
	if (azml_parse(r, cap, state, len) < 0) {
		backend_finish(b, BACKEND_FAILED, -EPROTO, "GET deployment: no sku.capacity in the reply");
		return 0;
	}
	return 1;
}

static void azml_get_done(struct backend *b, const struct http_response *r)
{
	char state[64];
	unsigned cap;

	if (!azml_read(b, r, &cap, state, sizeof(state)))
		return;
	b->res.capacity = cap;
	b->res.have_capacity = true;
	b->res.busy = azml_busy_state(state);
	backend_finish(b, BACKEND_OK, 0, "capacity %u, provisioningState %s", cap, state[0] ? state : "unknown");
}

static int azml_get(struct backend *b)
{
	struct azml *p = b->priv;

	return backend_http(b, "GET", p->url, NULL, NULL, azml_get_done);
}

/* ---- set: wait while Updating, PATCH, poll ---- */

static void azml_check(struct backend *b);
static void azml_patch(struct backend *b);
static void azml_poll(struct backend *b);

static void azml_succeeded(struct backend *b)
{
	struct azml *p = b->priv;

	b->res.capacity = p->capacity;
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "capacity %u set", p->capacity);
}

/* after the PATCH answered 200/201 without an operation to poll: watch the deployment */
static void azml_after_done(struct backend *b, const struct http_response *r)
{
	char state[64];
	unsigned cap;

	if (!azml_read(b, r, &cap, state, sizeof(state)))
		return;
	if (azml_busy_state(state)) {
		azml_wait(b, azml_poll_delay(b, r), azml_poll, "the deployment is Updating");
		return;
	}
	if (strcmp(state, "Succeeded") != 0 && state[0]) {
		backend_finish(b, BACKEND_FAILED, -EPROTO, "provisioningState %s after the update", state);
		return;
	}
	azml_succeeded(b);
}

static void azml_op_done(struct backend *b, const struct http_response *r)
{
	char msg[BACKEND_MESSAGE_MAX - 64];
	json_t *root;
	const char *status;

	/* Location polling: 202 while running, 200/204 when done */
	if (r->status == 202) {
		azml_wait(b, azml_poll_delay(b, r), azml_poll, "polling the operation");
		return;
	}
	if (r->status == 204) {
		azml_succeeded(b);
		return;
	}
	if (r->status != 200) {
		backend_fail_http(b, "GET operation", r);
		return;
	}
	root = json_loadb(r->body, r->len, 0, NULL);
	status = json_string_value(json_object_get(root, "status"));
	if (!status) {
		/* a Location poll may return the resource itself */
		json_decref(root);
		azml_succeeded(b);
		return;
	}
	if (strcmp(status, "Succeeded") == 0) {
		json_decref(root);
		azml_succeeded(b);
	} else if (strcmp(status, "Failed") == 0 || strcmp(status, "Canceled") == 0) {
		if (backend_api_message(r->body, r->len, msg, sizeof(msg)) < 0)
			snprintf(msg, sizeof(msg), "no message");
		backend_finish(b, BACKEND_FAILED, -ECANCELED, "operation %s: %s", status, msg);
		json_decref(root);
	} else {
		json_decref(root);
		azml_wait(b, azml_poll_delay(b, r), azml_poll, "polling the operation");
	}
}

static void azml_poll(struct backend *b)
{
	struct azml *p = b->priv;

	if (!p->poll[0])
		azml_start_http(b, "GET", p->url, NULL, azml_after_done);
	else
		azml_start_http(b, "GET", p->poll, NULL, azml_op_done);
}

/* Only URLs on the ARM host get the token. */
static bool azml_same_origin(const struct azml *p, const char *url)
{
	size_t n = strlen(p->arm);

	return strncmp(url, p->arm, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

static void azml_patch_done(struct backend *b, const struct http_response *r)
{
	struct azml *p = b->priv;
	const char *op = r->async_op ? r->async_op : r->location;
	char state[64];
	unsigned cap;

	if (r->status == 409) {
		azml_wait(b, azml_poll_delay(b, r), azml_check, "another operation runs");
		return;
	}
	if (r->status != 200 && r->status != 201 && r->status != 202) {
		backend_fail_http(b, "PATCH deployment", r);
		return;
	}
	if (op) {
		if (!azml_same_origin(p, op) || strlen(op) >= sizeof(p->poll)) {
			backend_finish(b, BACKEND_FAILED, -EPROTO,
				       "PATCH deployment: the operation URL is not under arm = %s", p->arm);
			return;
		}
		snprintf(p->poll, sizeof(p->poll), "%s", op);
		azml_wait(b, azml_poll_delay(b, r), azml_poll, "polling the operation");
		return;
	}
	if (r->status == 202) {
		/* accepted without a URL to poll: watch the deployment */
		azml_wait(b, azml_poll_delay(b, r), azml_poll, "waiting for the deployment");
		return;
	}
	if (azml_parse(r, &cap, state, sizeof(state)) == 0 && !azml_busy_state(state)) {
		azml_succeeded(b);
		return;
	}
	azml_wait(b, azml_poll_delay(b, r), azml_poll, "waiting for the deployment");
}

static void azml_patch(struct backend *b)
{
	struct azml *p = b->priv;
	char body[64];

	snprintf(body, sizeof(body), "{\"sku\":{\"capacity\":%u}}", p->capacity);
	p->poll[0] = '\0';
	azml_start_http(b, "PATCH", p->url, body, azml_patch_done);
}

static void azml_check_done(struct backend *b, const struct http_response *r)
{
	char state[64];
	unsigned cap;

	if (!azml_read(b, r, &cap, state, sizeof(state)))
		return;
	if (azml_busy_state(state)) {
		azml_wait(b, azml_poll_delay(b, r), azml_check, "the deployment is busy");
		return;
	}
	azml_patch(b);
}

static void azml_check(struct backend *b)
{
	struct azml *p = b->priv;

	azml_start_http(b, "GET", p->url, NULL, azml_check_done);
}

static int azml_set(struct backend *b, unsigned capacity)
{
	struct azml *p = b->priv;

	p->capacity = capacity;
	return backend_http(b, "GET", p->url, NULL, NULL, azml_check_done);
}

/* The deployment's Resource Manager ID, for webhooks. */
static void azml_describe(struct backend *b, struct backend_resource *out)
{
	struct azml *p = b->priv;

	out->type = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments";
	snprintf(out->id, sizeof(out->id),
		 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.MachineLearningServices"
		 "/workspaces/%s/onlineEndpoints/%s/deployments/%s", p->subscription,
		 p->resource_group, p->workspace, b->endpoint, b->deployment);
	out->subscription = p->subscription;
	out->resource_group = p->resource_group;
}

const struct backend_ops backend_azureml_ops = {
	.name = "azureml",
	.priv_size = sizeof(struct azml),
	.conf_key = azml_conf_key,
	.start = azml_start,
	.get = azml_get,
	.set = azml_set,
	.describe = azml_describe,
};
