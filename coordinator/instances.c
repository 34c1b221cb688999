/* instances: the registry of agent instances: labels, live/stale, clock offset, sequences, latest values */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "instances.h"
#include "log.h"
#include "timeutil.h"

/*
 * Clock offset (coordinator real time - agent real time), per instance:
 *  - HELLO sets it from the HELLO's agent_real_ns and its arrival;
 *  - HEARTBEATs (agent_real_ns) and fresh AGGREGATEs (end_ns: the agent sends
 *    at the interval's end) give more samples, folded in with a 1/8 moving
 *    average.  Aggregates the agent resends after an outage (sequence up to
 *    the HELLO's last_seq) are old by design and give no sample;
 *  - a sample more than OFFSET_JUMP_NS away from the estimate is a delayed
 *    frame or a clock step: it is skipped, unless OFFSET_CONFIRM come in a
 *    row, and then the smallest of them (the least delayed) is taken.
 * Samples include the one-way network delay, so the estimate is biased by
 * that much (sub-millisecond on a LAN): no round trips are measured.
 */
#define OFFSET_JUMP_NS		NSEC_PER_SEC
#define OFFSET_CONFIRM		4
#define OFFSET_GAIN		8

/*
 * Staleness and the store: the store sums, per grain, the samples each
 * instance sent for that grain.  A stale instance has by definition sent
 * nothing for three report intervals, so no grain after its last aggregate
 * holds data from it: it already does not count there, and nothing in the
 * store needs clearing.  A grain it did report into (before it went silent)
 * keeps its data, as Azure Monitor counts a VM in the grains it reported in:
 * those samples were measured.  No last value is carried forward anywhere.
 */

struct metric_name {
	char *name;
	int store_id;
};

struct inst_metric {
	int name;			/* into r->names; -1: refused at max_metrics */
	int alias;			/* into r->names; -1: none or refused */
	int store_name, store_alias;	/* store metric ids; store_alias -1: none or the same */
	bool have;
	int64_t t_ns;			/* the latest aggregate's start, on our clock */
	uint32_t count;
	double last, min, max, mean;
};

struct inst {
	struct inst *next;		/* hash chain */
	size_t slot;			/* index in r->all */
	char name[WIRE_NAME_MAX + 1];
	char deployment[WIRE_NAME_MAX + 1];
	char endpoint[WIRE_NAME_MAX + 1];
	char version[WIRE_NAME_MAX + 1];
	unsigned nlabels;
	struct store_label labels[WIRE_LABELS_MAX];	/* strings owned */
	int store_id;
	bool live;
	int64_t last_seen_ns;		/* our real time of the last accepted frame */
	int64_t offset_ns;
	int64_t skip_min;
	unsigned skips;
	int64_t report_ns, sample_ns;
	uint64_t boot_id;
	uint64_t stored_seq;		/* highest sequence of boot_id handled */
	uint64_t hello_last_seq;	/* the HELLO's last_seq: frames up to it are resent ones */
	void *conn;
	char peer[INSTANCES_PEER_MAX];
	uint64_t frames, bytes, connects;
	unsigned nmetrics;
	struct inst_metric metrics[];
};

struct instances {
	struct store *st;
	uint64_t max_inst, max_metrics;
	struct inst **all;
	size_t n;
	struct inst **buckets;
	size_t nbuckets;		/* a power of two */
	struct metric_name *names;
	size_t nnames;
	struct instances_stats stats;
};

static uint64_t inst_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct instances *instances_new(struct store *st, uint64_t max_instances, uint64_t max_metrics)
{
	struct instances *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->st = st;
	r->max_inst = max_instances ? max_instances : 1;
	r->max_metrics = max_metrics ? max_metrics : 1;
	for (r->nbuckets = 64; r->nbuckets < r->max_inst && r->nbuckets < (1u << 20); r->nbuckets *= 2)
		;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	r->all = calloc(r->max_inst, sizeof(*r->all));
	r->names = calloc(r->max_metrics, sizeof(*r->names));
	if (!r->buckets || !r->all || !r->names) {
		instances_free(r);
		return NULL;
	}
	return r;
}

static void inst_free(struct inst *in)
{
	unsigned i;

	for (i = 0; i < in->nlabels; i++) {
		free((char *)in->labels[i].key);
		free((char *)in->labels[i].value);
	}
	free(in);
}

void instances_free(struct instances *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->all && i < r->n; i++)
		inst_free(r->all[i]);
	for (i = 0; i < r->nnames; i++)
		free(r->names[i].name);
	free(r->names);
	free(r->all);
	free(r->buckets);
	free(r);
}

static struct inst *inst_find(const struct instances *r, const char *name)
{
	struct inst *in = r->buckets[inst_hash(name) & (r->nbuckets - 1)];

	while (in && strcmp(in->name, name) != 0)
		in = in->next;
	return in;
}

static void inst_unlink(struct instances *r, struct inst *in)
{
	struct inst **p = &r->buckets[inst_hash(in->name) & (r->nbuckets - 1)];

	while (*p && *p != in)
		p = &(*p)->next;
	if (*p)
		*p = in->next;
	r->all[in->slot] = r->all[--r->n];
	r->all[in->slot]->slot = in->slot;
}

static void inst_link(struct instances *r, struct inst *in)
{
	struct inst **b = &r->buckets[inst_hash(in->name) & (r->nbuckets - 1)];

	in->next = *b;
	*b = in;
	in->slot = r->n;
	r->all[r->n++] = in;
}

/* Room for one more: drops the longest-silent stale instance without a connection. */
static int instances_room(struct instances *r)
{
	struct inst *victim = NULL;
	size_t i;

	if (r->n < r->max_inst)
		return 0;
	for (i = 0; i < r->n; i++) {
		struct inst *in = r->all[i];

		if (!in->live && !in->conn && (!victim || in->last_seen_ns < victim->last_seen_ns))
			victim = in;
	}
	if (!victim)
		return -ENOSPC;
	log_info("instance %s: forgotten (stale, making room for a new one)", victim->name);
	/* the store follows, so its instance table stays bounded under name churn */
	if (store_instance_forget(r->st, victim->store_id) < 0)
		r->stats.store_errors++;
	inst_unlink(r, victim);
	inst_free(victim);
	r->stats.evicted++;
	return 0;
}

/* A metric name or alias: its index in r->names, or -ENOSPC past max_metrics. */
static int instances_name(struct instances *r, const struct wire_str *s)
{
	char name[WIRE_NAME_MAX + 1];
	size_t i;
	int id;

	snprintf(name, sizeof(name), "%.*s", (int)s->len, s->ptr ? s->ptr : "");
	for (i = 0; i < r->nnames; i++)
		if (strcasecmp(r->names[i].name, name) == 0)
			return (int)i;
	if (r->nnames >= r->max_metrics)
		return -ENOSPC;
	id = store_metric(r->st, name);
	if (id < 0)
		return id;
	r->names[r->nnames].name = strdup(name);
	if (!r->names[r->nnames].name)
		return -ENOMEM;
	r->names[r->nnames].store_id = id;
	return (int)r->nnames++;
}

static void instances_copy(char *dst, size_t len, const struct wire_str *s)
{
	snprintf(dst, len, "%.*s", (int)s->len, s->ptr ? s->ptr : "");
}

static char *instances_strdup(const struct wire_str *s)
{
	return strndup(s->ptr ? s->ptr : "", s->len);
}

/* Labels from the HELLO: 0 or -ENOMEM. */
static int inst_labels(struct inst *in, const struct wire_hello *h)
{
	unsigned i;

	for (i = 0; i < h->label_count; i++) {
		in->labels[i].key = instances_strdup(&h->labels[i].key);
		in->labels[i].value = instances_strdup(&h->labels[i].value);
		in->nlabels = i + 1;
		if (!in->labels[i].key || !in->labels[i].value)
			return -ENOMEM;
	}
	return 0;
}

/* The metric table of a HELLO; metrics past max_metrics are refused and counted. */
static void inst_metrics(struct instances *r, struct inst *in, const struct wire_hello *h)
{
	unsigned i, refused = 0;
	int k;

	for (i = 0; i < in->nmetrics; i++) {
		struct inst_metric *m = &in->metrics[i];

		memset(m, 0, sizeof(*m));
		m->name = instances_name(r, &h->metrics[i].name);
		m->alias = h->metrics[i].alias.len ? instances_name(r, &h->metrics[i].alias) : -1;
		if (m->name < 0)
			refused++;
		if (m->alias < -1 || (m->alias >= 0 && m->name < 0))
			m->alias = -1;
		m->store_name = m->name >= 0 ? r->names[m->name].store_id : -1;
		/* the alias feeds the same data to rules that name it */
		k = m->alias >= 0 ? r->names[m->alias].store_id : -1;
		m->store_alias = k != m->store_name ? k : -1;
	}
	if (refused) {
		r->stats.refused_limit += refused;
		log_warn("instance %s: %u metrics refused: max_metrics (%llu) names in use",
			 in->name, refused, (unsigned long long)r->max_metrics);
	}
}

/* A frame arrived: a stale instance is back. */
static void inst_seen(struct instances *r, struct inst *in, int64_t now_ns)
{
	char ago[32];

	if (!in->live) {
		in->live = true;
		r->stats.returned++;
		log_notice("instance %s: back after %s of silence", in->name,
			   duration_format((now_ns - in->last_seen_ns) / NSEC_PER_MSEC * NSEC_PER_MSEC,
					   ago, sizeof(ago)));
	}
	in->last_seen_ns = now_ns;
}

int instances_hello(struct instances *r, const struct wire_hello *h, int64_t now_ns, void *conn,
		    const char *peer, struct inst **out, uint64_t *resume_seq, void **old)
{
	struct inst *in, *prev;
	char name[WIRE_NAME_MAX + 1];
	size_t size;
	int id, rc;

	*old = NULL;
	instances_copy(name, sizeof(name), &h->instance);
	prev = inst_find(r, name);
	if (!prev && (rc = instances_room(r)) < 0) {
		r->stats.refused_limit++;
		return rc;
	}
	/* a fresh record: the labels and metric table may change from one HELLO to the next */
	size = sizeof(*in) + h->metric_count * sizeof(struct inst_metric);
	in = calloc(1, size);
	if (!in)
		return -ENOMEM;
	memcpy(in->name, name, sizeof(name));
	instances_copy(in->deployment, sizeof(in->deployment), &h->deployment);
	instances_copy(in->endpoint, sizeof(in->endpoint), &h->endpoint);
	instances_copy(in->version, sizeof(in->version), &h->agent_version);
	if (inst_labels(in, h) < 0) {
		inst_free(in);
		return -ENOMEM;
	}
	id = store_instance(r->st, in->name, in->deployment, in->endpoint, in->labels, in->nlabels);
	if (id < 0) {
		inst_free(in);
		return id;
	}
	in->store_id = id;
	in->nmetrics = h->metric_count;
	inst_metrics(r, in, h);
	in->report_ns = h->report_interval_ns;
	in->sample_ns = h->sample_interval_ns;
	in->offset_ns = now_ns - h->agent_real_ns;
	in->boot_id = h->boot_id;
	in->hello_last_seq = h->last_seq;
	in->conn = conn;
	snprintf(in->peer, sizeof(in->peer), "%s", peer ? peer : "");
	in->live = true;
	in->last_seen_ns = now_ns;
	*resume_seq = 0;
	if (prev) {
		in->frames = prev->frames;
		in->bytes = prev->bytes;
		in->connects = prev->connects;
		if (prev->boot_id == h->boot_id) {
			in->stored_seq = prev->stored_seq;
			if (in->stored_seq > h->last_seq) {
				/* the agent has not assigned what we hold: its numbers start over */
				log_warn("instance %s: HELLO says sequence %llu, we hold %llu: resuming at %llu",
					 name, (unsigned long long)h->last_seq,
					 (unsigned long long)in->stored_seq, (unsigned long long)h->last_seq);
				in->stored_seq = h->last_seq;
			}
		} else {
			log_info("instance %s: new agent boot %016llx", name, (unsigned long long)h->boot_id);
		}
		*resume_seq = in->stored_seq;
		if (prev->conn && prev->conn != conn)
			*old = prev->conn;
		if (!prev->live) {
			r->stats.returned++;
			log_notice("instance %s: back (reconnected from %s)", name, in->peer);
		}
		/* new labels make a new store instance: the old one is no one's now */
		if (prev->store_id != in->store_id && store_instance_forget(r->st, prev->store_id) < 0)
			r->stats.store_errors++;
		inst_unlink(r, prev);
		inst_free(prev);
	} else {
		r->stats.joined++;
		log_info("instance %s joined from %s (deployment '%s', endpoint '%s')", name, in->peer,
			 in->deployment, in->endpoint);
	}
	in->connects++;
	inst_link(r, in);
	*out = in;
	return 0;
}

static void inst_offset(struct inst *in, int64_t sample)
{
	int64_t d = sample - in->offset_ns;

	if (d > OFFSET_JUMP_NS || d < -OFFSET_JUMP_NS) {
		if (!in->skips || sample < in->skip_min)
			in->skip_min = sample;
		if (++in->skips >= OFFSET_CONFIRM) {
			log_info("instance %s: clock offset now %lld ms", in->name,
				 (long long)(in->skip_min / NSEC_PER_MSEC));
			in->offset_ns = in->skip_min;
			in->skips = 0;
		}
		return;
	}
	in->skips = 0;
	in->offset_ns += d / OFFSET_GAIN;
}

void instances_aggregate(struct instances *r, struct inst *in, const struct wire_aggregate *a,
			 int64_t now_ns)
{
	struct store_agg agg;
	struct inst_metric *m;
	int64_t t;
	unsigned i;

	if (a->end_ns > INT64_MAX - in->offset_ns || a->end_ns + in->offset_ns > now_ns + INSTANCES_FUTURE_NS) {
		if (r->stats.future_samples++ == 0)
			log_warn("instance %s: aggregate %llu ends %lld ms in the future: refused (counted from now on)",
				 in->name, (unsigned long long)a->seq,
				 (long long)((a->end_ns + in->offset_ns - now_ns) / NSEC_PER_MSEC));
		if (a->seq > in->hello_last_seq)
			inst_offset(in, now_ns - a->end_ns);
		return;
	}
	t = a->start_ns + in->offset_ns;
	if (a->start_ns < -in->offset_ns || t < 0) {
		r->stats.store_errors++;
		return;
	}
	for (i = 0; i < a->count; i++) {
		const struct wire_metric_stat *ms = &a->stats[i];

		if (ms->index >= in->nmetrics || ms->count == 0)
			continue;
		m = &in->metrics[ms->index];
		if (m->name < 0)
			continue;
		agg.t_ns = t;
		agg.count = ms->count;
		agg.sum = ms->sum;
		agg.min = ms->min;
		agg.max = ms->max;
		agg.last = ms->last;
		if (store_ingest(r->st, in->store_id, m->store_name, &agg) < 0)
			r->stats.store_errors++;
		if (m->store_alias >= 0 && store_ingest(r->st, in->store_id, m->store_alias, &agg) < 0)
			r->stats.store_errors++;
		if (!m->have || t >= m->t_ns) {
			m->have = true;
			m->t_ns = t;
			m->count = ms->count;
			m->last = ms->last;
			m->min = ms->min;
			m->max = ms->max;
			m->mean = ms->sum / ms->count;
		}
	}
	r->stats.aggregates++;
	if (a->seq > in->hello_last_seq)
		inst_offset(in, now_ns - a->end_ns);
}

void instances_heartbeat(struct instances *r, struct inst *in, const struct wire_heartbeat *hb,
			 int64_t now_ns)
{
	(void)r;
	inst_offset(in, now_ns - hb->agent_real_ns);
}

void instances_goodbye(struct instances *r, struct inst *in, const struct wire_goodbye *g,
		       int64_t now_ns)
{
	(void)now_ns;
	if (g->reason == WIRE_BYE_RELOAD || !in->live)
		return;	/* a reload reconnects at once; silence decides */
	in->live = false;
	r->stats.went_stale++;
	log_notice("instance %s: stale: said goodbye (reason %u: %.*s)", in->name, g->reason,
		   (int)g->message.len, g->message.ptr ? g->message.ptr : "");
}

void instances_account(struct instances *r, struct inst *in, uint64_t seq, size_t bytes,
		       int64_t now_ns)
{
	in->frames++;
	in->bytes += bytes;
	if (seq > in->stored_seq)
		in->stored_seq = seq;
	inst_seen(r, in, now_ns);
}

void instances_detach(struct inst *in, void *conn)
{
	if (in && in->conn == conn) {
		in->conn = NULL;
		in->peer[0] = '\0';
	}
}

void instances_sweep(struct instances *r, int64_t now_ns)
{
	char silent[32];
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct inst *in = r->all[i];

		if (!in->live || now_ns - in->last_seen_ns <= INSTANCES_STALE_INTERVALS * in->report_ns)
			continue;
		in->live = false;
		r->stats.went_stale++;
		log_notice("instance %s: stale: nothing for %s (%d report intervals)", in->name,
			   duration_format((now_ns - in->last_seen_ns) / NSEC_PER_MSEC * NSEC_PER_MSEC,
					   silent, sizeof(silent)),
			   INSTANCES_STALE_INTERVALS);
	}
}

static bool inst_in_scope(const struct inst *in, const char *deployment, const char *endpoint)
{
	/* as the store matches series: an instance that does not say is not excluded */
	if (deployment && deployment[0] && in->deployment[0] && strcmp(deployment, in->deployment))
		return false;
	if (endpoint && endpoint[0] && in->endpoint[0] && strcmp(endpoint, in->endpoint))
		return false;
	return true;
}

void instances_count(const struct instances *r, const char *deployment, const char *endpoint,
		     unsigned *live, unsigned *stale)
{
	size_t i;

	*live = *stale = 0;
	for (i = 0; i < r->n; i++)
		if (inst_in_scope(r->all[i], deployment, endpoint))
			(*(r->all[i]->live ? live : stale))++;
}

static json_t *inst_number(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *inst_json(const struct instances *r, const struct inst *in)
{
	json_t *o, *labels, *metrics;
	char when[40], boot[24];
	unsigned i;

	labels = json_object();
	metrics = json_object();
	for (i = 0; labels && i < in->nlabels; i++)
		json_object_set_new(labels, in->labels[i].key, json_string(in->labels[i].value));
	for (i = 0; metrics && i < in->nmetrics; i++) {
		const struct inst_metric *m = &in->metrics[i];

		if (m->name < 0)
			continue;
		json_object_set_new(metrics, r->names[m->name].name,
				    m->have ? json_pack("{s:o, s:o, s:o, s:o, s:I, s:s?}",
							"last", inst_number(m->last),
							"min", inst_number(m->min),
							"max", inst_number(m->max),
							"mean", inst_number(m->mean),
							"samples", (json_int_t)m->count,
							"alias", m->alias >= 0 ? r->names[m->alias].name : NULL)
					    : json_null());
	}
	snprintf(boot, sizeof(boot), "%016llx", (unsigned long long)in->boot_id);
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:f, s:f, s:f, s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:o}",
		      "instance", in->name, "deployment", in->deployment, "endpoint", in->endpoint,
		      "labels", labels ? labels : json_object(),
		      "state", in->live ? "live" : "stale",
		      "last_seen", time_format_rfc3339(in->last_seen_ns, when, sizeof(when)),
		      "clock_offset_ms", (double)in->offset_ns / NSEC_PER_MSEC,
		      "report_interval_s", (double)in->report_ns / NSEC_PER_SEC,
		      "sample_interval_s", (double)in->sample_ns / NSEC_PER_SEC,
		      "connection", in->conn ? json_string(in->peer) : json_null(),
		      "frames", (json_int_t)in->frames, "bytes", (json_int_t)in->bytes,
		      "last_seq", (json_int_t)in->stored_seq, "connects", (json_int_t)in->connects,
		      "boot_id", boot, "agent_version", in->version,
		      "metrics", metrics ? metrics : json_object());
	return o;
}

json_t *instances_json(const struct instances *r, int64_t now_ns)
{
	json_t *list = json_array();
	size_t i;

	(void)now_ns;
	for (i = 0; list && i < r->n; i++)
		json_array_append_new(list, inst_json(r, r->all[i]));
	return list;
}

const struct instances_stats *instances_stats(const struct instances *r)
{
	return &r->stats;
}

size_t instances_size(const struct instances *r)
{
	return r->n;
}
