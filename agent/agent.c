/* agent: one sampler feeding one ring, and what changes on reload */
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "caps.h"
#include "log.h"
#include "usage.h"
#include "ring.h"
#include "sampler.h"
#include "stream.h"
#include "timeutil.h"

struct agent {
	struct agent_conf conf;
	struct sampler *sampler;
	struct ring_writer *ring;
	struct ring_reader *reader;	/* the same ring, read back for aggregates */
	struct stream *stream;		/* NULL when no coordinator is set */
	sd_event *event;
	uint32_t ncpu;
	struct sampler_reading prev, cur;
	float *values;
	gid_t gid;
};

static int agent_group(const char *name, gid_t *gid)
{
	struct group *g;

	*gid = (gid_t)-1;
	if (!name[0])
		return 0;
	errno = 0;
	g = getgrnam(name);
	if (!g) {
		log_err("ring_group: no group named '%s'", name);
		return errno ? -errno : -ENOENT;
	}
	*gid = g->gr_gid;
	return 0;
}

/* Creates the ring's directory (mode 0755) when it is missing, as /run/ascale is. */
static int agent_ring_dir(const char *path)
{
	char dir[RING_PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_err("%s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Refuses to replace a ring that another running agent is writing. */
static int agent_ring_busy(const char *path)
{
	struct ring_reader *r;
	enum ring_state state;
	pid_t pid;

	if (ring_reader_open(path, &r, NULL, 0) < 0)
		return 0;
	state = ring_reader_state(r, time_mono_ns());
	pid = ring_reader_header(r)->writer_pid;
	ring_reader_close(r);
	if ((state == RING_LIVE || state == RING_STALLED) && pid != getpid()) {
		log_err("%s: asagent %d is writing this ring already", path, (int)pid);
		return -EBUSY;
	}
	return 0;
}

static int agent_ring_create(struct agent *a, const struct agent_conf *c,
			     struct ring_writer **ring)
{
	struct ring_metric *m;
	struct ring_params p = {
		.interval_ns = c->sample_interval_ns,
		.slot_count = agent_conf_slots(c),
		.metric_count = METRIC_PER_CPU + a->ncpu,
		.source = sampler_source(a->sampler),
		.ncpu = a->ncpu,
		.instance = c->instance,
		.deployment = c->deployment,
		.endpoint = c->endpoint,
		.cgroup = c->cgroup,
		.mode = a->gid == (gid_t)-1 ? 0644 : 0640,
		.gid = a->gid,
	};
	int r;

	m = calloc(p.metric_count, sizeof(*m));
	if (!m)
		return -ENOMEM;
	usage_describe(m, a->ncpu);
	p.metrics = m;
	r = agent_ring_dir(c->ring_path);
	if (r == 0)
		r = agent_ring_busy(c->ring_path);
	if (r == 0) {
		r = ring_writer_create(c->ring_path, &p, ring);
		if (r < 0)
			log_err("%s: cannot create the ring: %s", c->ring_path, strerror(-r));
	}
	free(m);
	return r;
}

static int agent_read(struct agent *a, struct sampler_reading *rd)
{
	int r;

	r = sampler_read(a->sampler, rd);
	if (r < 0)
		log_err("sampling failed: %s", strerror(-r));
	return r;
}

/* Maps the ring just made, to read aggregates back from it. */
static int agent_reader(const char *path, struct ring_reader **r)
{
	char err[256];
	int ret;

	ret = ring_reader_open(path, r, err, sizeof(err));
	if (ret < 0)
		log_err("%s: cannot read the ring back: %s", path, err);
	return ret;
}

int agent_stream_start(struct agent *a, sd_event *e)
{
	a->event = e;
	if (!a->conf.ncoord)
		return 0;
	return stream_new(e, &a->conf, a->reader, a->ring, NULL, &a->stream);
}

int agent_start(const struct agent_conf *conf, struct agent **ap)
{
	struct agent *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->conf = *conf;
	r = agent_group(conf->ring_group, &a->gid);
	if (r < 0)
		goto fail;
	r = sampler_open(conf, &a->sampler);
	if (r < 0)
		goto fail;
	a->ncpu = sampler_ncpu(a->sampler);
	a->prev.cpu = calloc(a->ncpu, sizeof(*a->prev.cpu));
	a->cur.cpu = calloc(a->ncpu, sizeof(*a->cur.cpu));
	a->values = calloc(METRIC_PER_CPU + a->ncpu, sizeof(*a->values));
	if (!a->prev.cpu || !a->cur.cpu || !a->values) {
		r = -ENOMEM;
		goto fail;
	}
	r = agent_ring_create(a, conf, &a->ring);
	if (r < 0)
		goto fail;
	r = agent_reader(conf->ring_path, &a->reader);
	if (r < 0)
		goto fail;
	/* Everything privileged is done: the BPF programs are attached and the ring exists. */
	r = caps_drop_all(a->gid);
	if (r < 0) {
		log_err("cannot drop capabilities: %s", strerror(-r));
		goto fail;
	}
	r = agent_read(a, &a->prev);
	if (r < 0)
		goto fail;
	*ap = a;
	return 0;
fail:
	agent_stop(a);
	return r;
}

int agent_sample(struct agent *a)
{
	struct sampler_reading tmp;
	int r;

	r = agent_read(a, &a->cur);
	if (r < 0) {
		ring_writer_heartbeat(a->ring, time_mono_ns());
		return r;
	}
	usage_compute(&a->prev, &a->cur, a->conf.cgroup[0] != '\0', a->values);
	r = ring_writer_append(a->ring, a->cur.mono_ns, time_real_ns(), a->values);
	tmp = a->prev;
	a->prev = a->cur;
	a->cur = tmp;
	return r;
}

/* Fields written into the ring's header: a change makes a new ring. */
static bool agent_ring_changed(const struct agent_conf *o, const struct agent_conf *n)
{
	return o->sample_interval_ns != n->sample_interval_ns ||
	       o->ring_seconds_ns != n->ring_seconds_ns ||
	       strcmp(o->ring_path, n->ring_path) || strcmp(o->ring_group, n->ring_group) ||
	       strcmp(o->cgroup, n->cgroup) || strcmp(o->instance, n->instance) ||
	       strcmp(o->deployment, n->deployment) || strcmp(o->endpoint, n->endpoint);
}

/* Restarts streaming when its settings changed (GOODBYE first); the boot and its numbers go on. */
static void agent_stream_reload(struct agent *a, const struct agent_conf *n)
{
	struct stream_boot boot = { 0 };

	if (!a->event || (!a->stream && !n->ncoord))
		return;
	if (a->stream && !agent_conf_stream_changed(&a->conf, n)) {
		stream_set_ring(a->stream, a->reader, a->ring);
		return;
	}
	if (a->stream) {
		stream_boot(a->stream, &boot);
		stream_free(a->stream, WIRE_BYE_RELOAD);
		a->stream = NULL;
	}
	if (n->ncoord && stream_new(a->event, n, a->reader, a->ring, &boot, &a->stream) < 0)
		log_err("not streaming to the coordinators until the next reload");
	else if (n->ncoord)
		log_info("streaming to %u coordinator%s", n->ncoord, n->ncoord > 1 ? "s" : "");
}

int agent_reload(struct agent *a, const struct agent_conf *conf)
{
	struct agent_conf n = *conf;
	struct ring_writer *ring;
	struct ring_reader *reader;
	int r;

	if (n.source != a->conf.source || n.attach != a->conf.attach) {
		log_warn("source and ebpf_attach change only at restart; keeping the current ones");
		n.source = a->conf.source;
		n.attach = a->conf.attach;
	}
	if (strcmp(n.ring_group, a->conf.ring_group)) {
		log_warn("ring_group changes only at restart; keeping '%s'", a->conf.ring_group);
		snprintf(n.ring_group, sizeof(n.ring_group), "%s", a->conf.ring_group);
	}
	if (!agent_ring_changed(&a->conf, &n)) {
		if (agent_conf_stream_changed(&a->conf, &n)) {
			agent_stream_reload(a, &n);
			a->conf = n;
			log_info("configuration reloaded; streaming settings changed");
			return 0;
		}
		a->conf = n;
		log_info("configuration reloaded; nothing changed");
		return 0;
	}
	if (strcmp(n.cgroup, a->conf.cgroup)) {
		r = sampler_set_cgroup(a->sampler, n.cgroup);
		if (r < 0) {
			log_err("cgroup '%s': %s; keeping the old configuration", n.cgroup, strerror(-r));
			return r;
		}
	}
	r = agent_ring_create(a, &n, &ring);
	if (r < 0) {
		if (strcmp(n.cgroup, a->conf.cgroup))
			sampler_set_cgroup(a->sampler, a->conf.cgroup);
		return r;
	}
	r = agent_reader(n.ring_path, &reader);
	if (r < 0) {
		ring_writer_close(ring);
		if (strcmp(n.cgroup, a->conf.cgroup))
			sampler_set_cgroup(a->sampler, a->conf.cgroup);
		return r;
	}
	if (strcmp(n.ring_path, a->conf.ring_path) && unlink(a->conf.ring_path) < 0)
		log_warn("%s: cannot remove the old ring: %s", a->conf.ring_path, strerror(errno));
	ring_writer_close(a->ring);
	ring_reader_close(a->reader);
	a->ring = ring;
	a->reader = reader;
	agent_stream_reload(a, &n);
	a->conf = n;
	/* a new baseline, so the first slot of the new ring covers one interval */
	agent_read(a, &a->prev);
	log_info("configuration reloaded; new ring at %s", n.ring_path);
	return 0;
}

int64_t agent_interval(const struct agent *a)
{
	return a->conf.sample_interval_ns;
}

const char *agent_describe(const struct agent *a, char *buf, size_t len)
{
	char iv[32];

	snprintf(buf, len, "sampling %s every %s from %s into %s",
		 a->conf.cgroup[0] ? a->conf.cgroup : "the machine",
		 duration_format(a->conf.sample_interval_ns, iv, sizeof(iv)),
		 ring_source_name(sampler_source(a->sampler)), a->conf.ring_path);
	return buf;
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	stream_free(a->stream, WIRE_BYE_SHUTDOWN);
	ring_reader_close(a->reader);
	if (a->ring)
		ring_writer_close(a->ring);
	if (a->sampler)
		sampler_close(a->sampler);
	free(a->prev.cpu);
	free(a->cur.cpu);
	free(a->values);
	free(a);
}
