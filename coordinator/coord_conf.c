/* coord_conf: the daemon's own keys of [coordinator] in ascoord.conf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "conf.h"
#include "coord_conf.h"
#include "log.h"
#include "timeutil.h"

void coord_conf_defaults(struct coord_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", COORD_CONTROL_PATH);
	snprintf(c->control_group, sizeof(c->control_group), "ascale");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/ascale");
	c->settle_ns = 2 * NSEC_PER_SEC;
	c->startup_grace_ns = 45 * NSEC_PER_SEC;	/* > the agents' 30 s backoff + a report */
	c->max_instances = 20000;
	c->max_metrics = 64;
	c->reconcile_ns = 60 * NSEC_PER_SEC;
	c->history_max_bytes = 10 << 20;
	c->history_keep = 5;
	notify_policy_defaults(&c->notify_policy);
}

/* A size in bytes, with an optional K, M or G (powers of 1024). */
static int coord_conf_size(struct conf_ctx *ctx, const char *key, const char *value, uint64_t min,
			   uint64_t max, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (end != value && *end && !end[1])
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 64;
	if (errno || end == value || value[0] == '-' || (*end && (end[1] || shift == 64)) ||
	    v > (max >> shift) || v << shift < min)
		return conf_error(ctx, "%s: expected a size from %llu to %llu bytes (K, M, G allowed), not '%s'",
				  key, (unsigned long long)min, (unsigned long long)max, value);
	*out = v << shift;
	return 0;
}

static int coord_conf_listen(struct conf_ctx *ctx, struct coord_conf *c, const char *value)
{
	char copy[1024], *save = NULL, *w;
	const char *colon;

	if (conf_string(ctx, "listen", value, copy, sizeof(copy)) < 0)
		return -EINVAL;
	if (!c->listen_line)
		c->listen_line = ctx->line;
	/* several addresses: on one line, or the key repeated */
	for (w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		colon = strrchr(w, ':');
		if (!colon || colon == w || !colon[1] ||
		    (w[0] == '[' && colon[-1] != ']'))
			return conf_error(ctx, "listen: expected HOST:PORT or [V6ADDR]:PORT, not '%s'", w);
		if (c->nlisten == COORD_LISTEN_MAX)
			return conf_error(ctx, "listen: at most %d addresses", COORD_LISTEN_MAX);
		if (conf_string(ctx, "listen", w, c->listen[c->nlisten], sizeof(c->listen[0])) < 0)
			return -EINVAL;
		c->nlisten++;
	}
	return 0;
}

static void coord_conf_keys_free(struct coord_conf *c)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++) {
		free(c->keys[i].setting);
		free(c->keys[i].key);
		free(c->keys[i].value);
		free(c->keys[i].path);
	}
	free(c->keys);
	c->keys = NULL;
	c->nkeys = 0;
}

/* Keeps a key of [autoscale NAME] for the backend, which exists only once the section is read. */
static int coord_conf_keep(struct conf_ctx *ctx, struct coord_conf *c, const char *setting,
			   const char *key, const char *value)
{
	struct coord_backend_key *k, *keys;

	keys = realloc(c->keys, (c->nkeys + 1) * sizeof(*keys));
	if (!keys)
		return conf_error(ctx, "out of memory");
	c->keys = keys;
	k = &keys[c->nkeys];
	k->setting = strdup(setting);
	k->key = strdup(key);
	k->value = strdup(value);
	k->path = strdup(ctx->path);
	k->line = ctx->line;
	c->nkeys++;
	if (!k->setting || !k->key || !k->value || !k->path)
		return conf_error(ctx, "out of memory");
	return 0;
}

static int coord_conf_key(struct conf_ctx *ctx, const char *setting, const char *key,
			  const char *value, void *user)
{
	struct coord_conf *c = user;

	if (setting)
		return coord_conf_keep(ctx, c, setting, key, value);
	if (strcmp(key, "listen") == 0)
		return coord_conf_listen(ctx, c, value);
	if (strcmp(key, "control_socket") == 0) {
		if (value[0] != '/')
			return conf_error(ctx, "control_socket: expected an absolute path");
		return conf_string(ctx, key, value, c->control_socket, sizeof(c->control_socket));
	}
	if (strcmp(key, "control_group") == 0)
		return conf_string(ctx, key, value, c->control_group, sizeof(c->control_group));
	if (strcmp(key, "state_dir") == 0)
		return conf_string(ctx, key, value, c->state_dir, sizeof(c->state_dir));
	if (strcmp(key, "key_file") == 0)
		return conf_string(ctx, key, value, c->key_file, sizeof(c->key_file));
	if (strcmp(key, "settle") == 0)
		return conf_duration(ctx, key, value, NSEC_PER_SEC, 0, 60 * NSEC_PER_SEC, &c->settle_ns);
	if (strcmp(key, "startup_grace") == 0)
		return conf_duration(ctx, key, value, NSEC_PER_SEC, 0, 600 * NSEC_PER_SEC,
				     &c->startup_grace_ns);
	if (strcmp(key, "max_instances") == 0)
		return conf_uint(ctx, key, value, 1, 1000000, &c->max_instances);
	if (strcmp(key, "max_metrics") == 0)
		return conf_uint(ctx, key, value, 1, 4096, &c->max_metrics);
	if (strcmp(key, "history_max_size") == 0)
		return coord_conf_size(ctx, key, value, 4096, 1ULL << 40, &c->history_max_bytes);
	if (strcmp(key, "history_keep") == 0)
		return conf_uint(ctx, key, value, 1, 100, &c->history_keep);
	if (strncmp(key, "notify_", 7) == 0)
		return notify_policy_key(&c->notify_policy, ctx, key, value);
	if (strcmp(key, "reconcile_every") == 0)
		return conf_duration(ctx, key, value, NSEC_PER_SEC, NSEC_PER_SEC, 24 * 3600 * NSEC_PER_SEC,
				     &c->reconcile_ns);
	return -ENOENT;
}

static void coord_conf_backends_free(struct coord_conf *c)
{
	size_t i;

	size_t k;

	for (i = 0; c->backends && c->engine && i < c->engine->nsettings; i++)
		backend_free(c->backends[i]);
	free(c->backends);
	c->backends = NULL;
	for (i = 0; c->notify && c->engine && i < c->engine->nsettings; i++) {
		for (k = 0; k < c->notify[i].n; k++)
			free(c->notify[i].urls[k]);
		free(c->notify[i].urls);
	}
	free(c->notify);
	c->notify = NULL;
}

/* notify = URL, or notify_file = PATH holding one (kept out of a readable configuration). */
static int coord_conf_notify(struct coord_conf *c, size_t i, struct conf_ctx *ctx, const char *key,
			     const char *value)
{
	struct coord_notify *n = &c->notify[i];
	char url[NOTIFY_URL_MAX], why[256];
	char **urls;

	if (strcmp(key, "notify_file") == 0) {
		if (notify_url_read(value, url, sizeof(url), why, sizeof(why)) < 0)
			return conf_error(ctx, "notify_file: %s: %s", value, why);
	} else if (!notify_url_ok(value, why, sizeof(why))) {
		return conf_error(ctx, "notify: expected an http:// or https:// URL: %s", why);
	} else {
		snprintf(url, sizeof(url), "%s", value);
	}
	urls = realloc(n->urls, (n->n + 1) * sizeof(*urls));
	if (!urls)
		return conf_error(ctx, "out of memory");
	n->urls = urls;
	n->urls[n->n] = strdup(url);
	explicit_bzero(url, sizeof(url));
	if (!n->urls[n->n])
		return conf_error(ctx, "out of memory");
	n->n++;
	return 0;
}

/* The backend of setting i, with its kept keys; errors are FILE:LINE (counted in ctx). */
static void coord_conf_backend(struct coord_conf *c, const char *path, size_t i, struct conf_ctx *ctx)
{
	const struct setting *s = &c->engine->settings[i];
	struct backend *b;
	bool initial = false;
	char count[16];
	size_t k;
	int r;

	ctx->path = path;
	ctx->line = s->line;
	r = backend_new(s->backend, s->name, s->endpoint, s->deployment, &b);
	if (r == -ENOENT) {
		conf_error(ctx, "[autoscale %s]: unknown backend %s", s->name, s->backend);
		return;
	}
	if (r < 0) {
		conf_error(ctx, "[autoscale %s]: backend %s: %s", s->name, s->backend, strerror(-r));
		return;
	}
	c->backends[i] = b;
	/* what is missing at start is reported at the section's line */
	snprintf(b->conf_path, sizeof(b->conf_path), "%s", path);
	b->conf_line = s->line;
	for (k = 0; k < c->nkeys; k++) {
		const struct coord_backend_key *kk = &c->keys[k];

		if (strcmp(kk->setting, s->name) != 0)
			continue;
		ctx->path = kk->path;
		ctx->line = kk->line;
		if (strcmp(kk->key, "notify") == 0 || strcmp(kk->key, "notify_file") == 0) {
			coord_conf_notify(c, i, ctx, kk->key, kk->value);
			continue;
		}
		if (strcmp(kk->key, "initial") == 0)
			initial = true;
		r = backend_conf_key(b, ctx, kk->key, kk->value);
		if (r == -ENOENT)
			conf_error(ctx, "unknown key '%s' in [autoscale %s] for backend %s", kk->key,
				   s->name, s->backend);
	}
	/* the sim endpoint, and an http one that cannot read it, start at the default count */
	if ((strcmp(s->backend, "sim") == 0 || strcmp(s->backend, "http") == 0) && !initial) {
		snprintf(count, sizeof(count), "%u", setting_default_profile(s)->count);
		ctx->path = path;
		ctx->line = s->line;
		backend_conf_key(b, ctx, "initial", count);
	}
}

static int coord_conf_backends(struct coord_conf *c, const char *path)
{
	struct conf_ctx ctx = { .path = path };
	size_t i;

	c->backends = calloc(c->engine->nsettings ? c->engine->nsettings : 1, sizeof(*c->backends));
	c->notify = calloc(c->engine->nsettings ? c->engine->nsettings : 1, sizeof(*c->notify));
	if (!c->backends || !c->notify) {
		log_err("%s: out of memory", path);
		return -ENOMEM;
	}
	for (i = 0; i < c->engine->nsettings; i++)
		coord_conf_backend(c, path, i, &ctx);
	/* a key for no setting cannot happen: every [autoscale NAME] makes one */
	return ctx.errors ? -EINVAL : 0;
}

int coord_conf_load(const char *path, struct coord_conf *c)
{
	struct coord_conf tmp = *c;
	int r;

	tmp.keys = NULL;
	tmp.nkeys = 0;
	tmp.backends = NULL;
	tmp.notify = NULL;
	r = setting_conf_load(path, coord_conf_key, &tmp, &tmp.engine);
	if (r < 0) {
		coord_conf_keys_free(&tmp);
		return r;
	}
	r = coord_conf_backends(&tmp, path);
	coord_conf_keys_free(&tmp);
	if (r < 0)
		goto fail;
	if (tmp.nlisten && !tmp.key_file[0]) {
		/* no unauthenticated agent streams */
		log_err("%s:%u: listen needs key_file: every agent frame is signed with a pre-shared key",
			path, tmp.listen_line);
		r = -EINVAL;
		goto fail;
	}
	*c = tmp;
	return 0;
fail:
	coord_conf_free(&tmp);
	return r;
}

void coord_conf_free(struct coord_conf *c)
{
	coord_conf_backends_free(c);
	setting_conf_free(c->engine);
	c->engine = NULL;
}
