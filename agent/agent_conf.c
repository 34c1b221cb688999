/* agent conf: the [agent] section of asagent.conf */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent_conf.h"
#include "conf.h"
#include "log.h"
#include "timeutil.h"

void agent_conf_defaults(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->sample_interval_ns = 100 * NSEC_PER_MSEC;
	c->ring_seconds_ns = 600 * NSEC_PER_SEC;
	snprintf(c->ring_path, sizeof(c->ring_path), "%s", AGENT_RING_PATH);
	c->source = AGENT_SOURCE_AUTO;
	c->attach = AGENT_ATTACH_AUTO;
	if (gethostname(c->instance, sizeof(c->instance) - 1) < 0)
		snprintf(c->instance, sizeof(c->instance), "localhost");
}

static int agent_conf_label(struct conf_ctx *ctx, const char *key, const char *value,
			    char *out, size_t size)
{
	const unsigned char *p;

	for (p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return conf_error(ctx, "%s: expected printable characters", key);
	if (!*value)
		return conf_error(ctx, "%s: expected a name, not an empty value", key);
	return conf_string(ctx, key, value, out, size);
}

static int agent_conf_key(struct conf_ctx *ctx, const char *section, const char *key,
			  const char *value, void *user)
{
	static const char *const sources[] = { "auto", "ebpf", "procfs", NULL };
	static const char *const attaches[] = { "auto", "tp_btf", "raw_tp", NULL };
	struct agent_conf *c = user;
	int v, r;

	if (strcmp(section, "agent") != 0)
		return conf_error(ctx, "unknown section [%s]: expected [agent]", section);
	if (strcmp(key, "sample_interval") == 0)
		return conf_duration(ctx, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     60 * NSEC_PER_SEC, &c->sample_interval_ns);
	if (strcmp(key, "ring_seconds") == 0)
		return conf_duration(ctx, key, value, NSEC_PER_SEC, NSEC_PER_SEC,
				     86400 * NSEC_PER_SEC, &c->ring_seconds_ns);
	if (strcmp(key, "ring_path") == 0) {
		if (value[0] != '/')
			return conf_error(ctx, "%s: expected an absolute path", key);
		return conf_string(ctx, key, value, c->ring_path, sizeof(c->ring_path));
	}
	if (strcmp(key, "ring_group") == 0)
		return agent_conf_label(ctx, key, value, c->ring_group, sizeof(c->ring_group));
	if (strcmp(key, "source") == 0) {
		r = conf_choice(ctx, key, value, sources, &v);
		if (r == 0)
			c->source = v;
		return r;
	}
	if (strcmp(key, "ebpf_attach") == 0) {
		r = conf_choice(ctx, key, value, attaches, &v);
		if (r == 0)
			c->attach = v;
		return r;
	}
	if (strcmp(key, "cgroup") == 0)
		return conf_string(ctx, key, value, c->cgroup, sizeof(c->cgroup));
	if (strcmp(key, "instance") == 0)
		return agent_conf_label(ctx, key, value, c->instance, sizeof(c->instance));
	if (strcmp(key, "deployment") == 0)
		return agent_conf_label(ctx, key, value, c->deployment, sizeof(c->deployment));
	if (strcmp(key, "endpoint") == 0)
		return agent_conf_label(ctx, key, value, c->endpoint, sizeof(c->endpoint));
	return conf_error(ctx, "unknown key '%s' in [agent]: expected sample_interval, ring_path, "
			  "ring_seconds, ring_group, source, ebpf_attach, cgroup, instance, "
			  "deployment or endpoint", key);
}

uint32_t agent_conf_slots(const struct agent_conf *c)
{
	int64_t n = (c->ring_seconds_ns + c->sample_interval_ns - 1) / c->sample_interval_ns;

	return n < 2 ? 2 : n > RING_SLOTS_MAX ? RING_SLOTS_MAX : (uint32_t)n;
}

int agent_conf_load(const char *path, struct agent_conf *c)
{
	struct agent_conf tmp = *c;
	int r;

	r = conf_parse_file(path, agent_conf_key, &tmp);
	if (r < 0)
		return r;
	if ((tmp.ring_seconds_ns + tmp.sample_interval_ns - 1) / tmp.sample_interval_ns > RING_SLOTS_MAX) {
		log_err("%s: ring_seconds / sample_interval needs more than %u slots", path, RING_SLOTS_MAX);
		return -EINVAL;
	}
	*c = tmp;
	return 0;
}
