/* coord_conf: the daemon's own keys of [coordinator] in ascoord.conf */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static int coord_conf_key(struct conf_ctx *ctx, const char *setting, const char *key,
			  const char *value, void *user)
{
	struct coord_conf *c = user;

	if (setting)
		return -ENOENT;	/* backend keys arrive with the backends */
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
	return -ENOENT;
}

int coord_conf_load(const char *path, struct coord_conf *c)
{
	struct coord_conf tmp = *c;
	int r;

	r = setting_conf_load(path, coord_conf_key, &tmp, &tmp.engine);
	if (r < 0)
		return r;
	if (tmp.nlisten && !tmp.key_file[0]) {
		/* no unauthenticated agent streams */
		log_err("%s:%u: listen needs key_file: every agent frame is signed with a pre-shared key",
			path, tmp.listen_line);
		setting_conf_free(tmp.engine);
		return -EINVAL;
	}
	*c = tmp;
	return 0;
}

void coord_conf_free(struct coord_conf *c)
{
	setting_conf_free(c->engine);
	c->engine = NULL;
}
