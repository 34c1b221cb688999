/* backend_kubernetes: a Deployment's replicas through the apps/v1 scale subresource */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"

#define K8S_SA_DIR	"/var/run/secrets/kubernetes.io/serviceaccount"

struct k8s {
	char api[512];
	char namespace[64];
	char namespace_file[PATH_MAX];
	char url[BACKEND_URL_MAX];
	struct backend_token token;
	bool ca_set;
};

/* RFC 1123 labels, as Kubernetes names namespaces and Deployments */
static bool k8s_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static int k8s_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	struct k8s *p = b->priv;

	if (strcmp(key, "api") == 0) {
		if (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0)
			return conf_error(c, "api: expected an http:// or https:// URL, not '%s'", value);
		if (conf_string(c, key, value, p->api, sizeof(p->api)) < 0)
			return -EINVAL;
		while (strlen(p->api) > 8 && p->api[strlen(p->api) - 1] == '/')
			p->api[strlen(p->api) - 1] = '\0';
		return 0;
	}
	if (strcmp(key, "namespace") == 0) {
		if (!k8s_name_ok(value, 63))
			return conf_error(c, "namespace: expected a Kubernetes name (a-z, 0-9, '-'), not '%s'", value);
		return conf_string(c, key, value, p->namespace, sizeof(p->namespace));
	}
	if (strcmp(key, "token_file") == 0)
		return conf_string(c, key, value, p->token.file, sizeof(p->token.file));
	if (strcmp(key, "namespace_file") == 0)
		return conf_string(c, key, value, p->namespace_file, sizeof(p->namespace_file));
	return -ENOENT;
}

static int k8s_read_namespace(struct backend *b, struct k8s *p)
{
	char buf[128];
	FILE *f;
	size_t n;

	f = fopen(p->namespace_file, "re");
	if (!f) {
		log_err("autoscale %s: kubernetes: no namespace key and %s: %s", b->setting,
			p->namespace_file, strerror(errno));
		return -ENOENT;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (!k8s_name_ok(buf, 63)) {
		log_err("autoscale %s: kubernetes: %s does not hold a namespace name", b->setting,
			p->namespace_file);
		return -EINVAL;
	}
	memcpy(p->namespace, buf, n + 1);	/* n <= 63: checked above */
	return 0;
}

static int k8s_start(struct backend *b)
{
	struct k8s *p = b->priv;
	const char *host, *port;
	int n, r;

	if (!p->api[0]) {
		host = getenv("KUBERNETES_SERVICE_HOST");
		port = getenv("KUBERNETES_SERVICE_PORT");
		if (!host || !*host) {
			log_err("autoscale %s: kubernetes: no api key and KUBERNETES_SERVICE_HOST is not set", b->setting);
			return -EINVAL;
		}
		/* an IPv6 address needs brackets */
		n = snprintf(p->api, sizeof(p->api), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
			     host, port && *port ? port : "443");
		if (n < 0 || (size_t)n >= sizeof(p->api))
			return -ENAMETOOLONG;
	}
	if (!p->token.file[0])
		snprintf(p->token.file, sizeof(p->token.file), "%s/token", K8S_SA_DIR);
	if (!p->namespace_file[0])
		snprintf(p->namespace_file, sizeof(p->namespace_file), "%s/namespace", K8S_SA_DIR);
	if (!b->policy.ca_file[0] && strncmp(p->api, "https://", 8) == 0 &&
	    access(K8S_SA_DIR "/ca.crt", R_OK) == 0)
		snprintf(b->policy.ca_file, sizeof(b->policy.ca_file), "%s/ca.crt", K8S_SA_DIR);
	if (!p->namespace[0] && (r = k8s_read_namespace(b, p)) < 0)
		return r;
	if (!k8s_name_ok(b->deployment, 253)) {
		log_err("autoscale %s: kubernetes: deployment '%s' is not a Kubernetes name", b->setting,
			b->deployment);
		return -EINVAL;
	}
	n = snprintf(p->url, sizeof(p->url), "%s/apis/apps/v1/namespaces/%s/deployments/%s/scale",
		     p->api, p->namespace, b->deployment);
	if (n < 0 || (size_t)n >= sizeof(p->url))
		return -ENAMETOOLONG;
	return backend_token_load(b, &p->token);
}

static const char *k8s_bearer(struct backend *b)
{
	struct k8s *p = b->priv;

	if (backend_token_load(b, &p->token) < 0)
		return NULL;
	return p->token.value;
}

static void k8s_done(struct backend *b, const struct http_response *r, const char *field)
{
	json_t *root, *n;
	const char *what = strcmp(field, "status") == 0 ? "GET scale" : "PATCH scale";

	if (r->status != 200) {
		backend_fail_http(b, what, r);
		return;
	}
	root = json_loadb(r->body, r->len, 0, NULL);
	n = json_object_get(json_object_get(root, field), "replicas");
	/* status.replicas is left out when it is 0 */
	if (!n && json_is_object(json_object_get(root, field)))
		b->res.capacity = 0;
	else if (json_is_integer(n) && json_integer_value(n) >= 0 &&
		 json_integer_value(n) <= BACKEND_CAPACITY_MAX)
		b->res.capacity = (unsigned)json_integer_value(n);
	else {
		json_decref(root);
		backend_finish(b, BACKEND_FAILED, -EPROTO, "%s: no %s.replicas in the reply", what, field);
		return;
	}
	/* a get: the Deployment has not yet reached the replicas asked for */
	n = json_object_get(json_object_get(root, "spec"), "replicas");
	if (strcmp(field, "status") == 0 && json_is_integer(n) &&
	    json_integer_value(n) != (json_int_t)b->res.capacity)
		b->res.busy = true;
	json_decref(root);
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "%s.replicas %u%s", field, b->res.capacity,
		       b->res.busy ? " (changing)" : "");
}

static void k8s_get_done(struct backend *b, const struct http_response *r)
{
	k8s_done(b, r, "status");
}

static void k8s_set_done(struct backend *b, const struct http_response *r)
{
	k8s_done(b, r, "spec");
}

static int k8s_get(struct backend *b)
{
	struct k8s *p = b->priv;

	return backend_http(b, "GET", p->url, NULL, NULL, k8s_get_done);
}

static int k8s_set(struct backend *b, unsigned capacity)
{
	struct k8s *p = b->priv;
	char body[64];

	snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%u}}", capacity);
	return backend_http(b, "PATCH", p->url, body, "application/merge-patch+json", k8s_set_done);
}

static void k8s_free(struct backend *b)
{
	struct k8s *p = b->priv;

	if (p)
		explicit_bzero(p->token.value, sizeof(p->token.value));
}

/* The Deployment's API path, for webhooks. */
static void k8s_describe(struct backend *b, struct backend_resource *out)
{
	struct k8s *p = b->priv;

	out->type = "apps/v1/Deployment";
	snprintf(out->id, sizeof(out->id), "/apis/apps/v1/namespaces/%s/deployments/%s", p->namespace,
		 b->deployment);
}

const struct backend_ops backend_kubernetes_ops = {
	.name = "kubernetes",
	.priv_size = sizeof(struct k8s),
	.conf_key = k8s_conf_key,
	.start = k8s_start,
	.get = k8s_get,
	.set = k8s_set,
	.free = k8s_free,
	.bearer = k8s_bearer,
	.describe = k8s_describe,
};
