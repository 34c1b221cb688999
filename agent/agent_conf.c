/* agent conf: the [agent] section of asagent.conf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	c->report_interval_ns = NSEC_PER_SEC;
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

/* Where the keys checked against each other were set (0: not in the file). */
struct agent_conf_parse {
	struct agent_conf *conf;
	unsigned coord_line;
	unsigned report_line;
};

int agent_conf_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = addr, *hend;
	char *end;
	unsigned long v;

	if (addr[0] == '[') {
		hend = strchr(addr, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		h = addr + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return -EINVAL;	/* an IPv6 address needs its brackets */
		hend = colon;
	}
	if (hend == h || (size_t)(hend - h) >= hostlen)
		return -EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || v < 1 || v > 65535 ||
	    (size_t)(end - colon - 1) >= portlen)
		return -EINVAL;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	snprintf(port, portlen, "%lu", v);
	return 0;
}

/* "coordinator = a:1 b:2": each word an address, up to AGENT_COORD_MAX in all. */
static int agent_conf_coordinators(struct conf_ctx *ctx, const char *key, const char *value,
				   struct agent_conf *c)
{
	char host[AGENT_ADDR_MAX], port[8];
	const char *p = value, *w;
	size_t n;
	unsigned i;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		n = (size_t)(p - w);
		if (n >= AGENT_ADDR_MAX)
			return conf_error(ctx, "%s: '%.*s...' is too long", key, 32, w);
		if (c->ncoord >= AGENT_COORD_MAX)
			return conf_error(ctx, "%s: more than %d coordinators", key, AGENT_COORD_MAX);
		memcpy(c->coordinators[c->ncoord], w, n);
		c->coordinators[c->ncoord][n] = '\0';
		if (agent_conf_split_addr(c->coordinators[c->ncoord], host, sizeof(host),
					  port, sizeof(port)) < 0)
			return conf_error(ctx, "%s: '%s': expected host:port or [IPv6]:port, port 1..65535",
					  key, c->coordinators[c->ncoord]);
		for (i = 0; i < c->ncoord; i++)
			if (!strcmp(c->coordinators[i], c->coordinators[c->ncoord]))
				return conf_error(ctx, "%s: '%s' is listed twice", key, c->coordinators[i]);
		c->ncoord++;
	}
	return 0;
}

static int agent_conf_key(struct conf_ctx *ctx, const char *section, const char *key,
			  const char *value, void *user)
{
	static const char *const sources[] = { "auto", "ebpf", "procfs", NULL };
	static const char *const attaches[] = { "auto", "tp_btf", "raw_tp", NULL };
	struct agent_conf_parse *ps = user;
	struct agent_conf *c = ps->conf;
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
	if (strcmp(key, "coordinator") == 0) {
		if (!ps->coord_line)
			ps->coord_line = ctx->line;
		return agent_conf_coordinators(ctx, key, value, c);
	}
	if (strcmp(key, "report_interval") == 0) {
		ps->report_line = ctx->line;
		return conf_duration(ctx, key, value, NSEC_PER_SEC, 10 * NSEC_PER_MSEC,
				     60 * NSEC_PER_SEC, &c->report_interval_ns);
	}
	if (strcmp(key, "key_file") == 0) {
		if (value[0] != '/')
			return conf_error(ctx, "%s: expected an absolute path", key);
		return conf_string(ctx, key, value, c->key_file, sizeof(c->key_file));
	}
	return conf_error(ctx, "unknown key '%s' in [agent]: expected sample_interval, ring_path, "
			  "ring_seconds, ring_group, source, ebpf_attach, cgroup, instance, "
			  "deployment, endpoint, coordinator, report_interval or key_file", key);
}

bool agent_conf_stream_changed(const struct agent_conf *o, const struct agent_conf *n)
{
	unsigned i;

	if (o->ncoord != n->ncoord || o->report_interval_ns != n->report_interval_ns ||
	    o->sample_interval_ns != n->sample_interval_ns || strcmp(o->key_file, n->key_file) ||
	    strcmp(o->instance, n->instance) || strcmp(o->deployment, n->deployment) ||
	    strcmp(o->endpoint, n->endpoint))
		return true;
	for (i = 0; i < n->ncoord; i++)
		if (strcmp(o->coordinators[i], n->coordinators[i]))
			return true;
	return false;
}

uint32_t agent_conf_slots(const struct agent_conf *c)
{
	int64_t n = (c->ring_seconds_ns + c->sample_interval_ns - 1) / c->sample_interval_ns;

	return n < 2 ? 2 : n > RING_SLOTS_MAX ? RING_SLOTS_MAX : (uint32_t)n;
}

int agent_conf_load(const char *path, struct agent_conf *c)
{
	struct agent_conf tmp = *c;
	struct agent_conf_parse ps = { .conf = &tmp };
	char a[32], b[32];
	int r;

	r = conf_parse_file(path, agent_conf_key, &ps);
	if (r < 0)
		return r;
	if (!ps.report_line && tmp.report_interval_ns < tmp.sample_interval_ns)
		tmp.report_interval_ns = tmp.sample_interval_ns;	/* the default follows */
	if (tmp.report_interval_ns < tmp.sample_interval_ns) {
		log_err("%s:%u: report_interval (%s) is shorter than sample_interval (%s)", path,
			ps.report_line, duration_format(tmp.report_interval_ns, a, sizeof(a)),
			duration_format(tmp.sample_interval_ns, b, sizeof(b)));
		return -EINVAL;
	}
	if (tmp.ncoord && !tmp.key_file[0]) {
		log_err("%s:%u: coordinator needs key_file (the pre-shared HMAC key)", path,
			ps.coord_line);
		return -EINVAL;
	}
	if ((tmp.ring_seconds_ns + tmp.sample_interval_ns - 1) / tmp.sample_interval_ns > RING_SLOTS_MAX) {
		log_err("%s: ring_seconds / sample_interval needs more than %u slots", path, RING_SLOTS_MAX);
		return -EINVAL;
	}
	*c = tmp;
	return 0;
}
