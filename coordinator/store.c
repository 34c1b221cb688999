/* store: per-grain metric aggregates for the engine's rules, kept incrementally */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store.h"

#define OPEN_GRAINS	4		/* default horizon: grains behind the newest still taking samples */
#define OPEN_MAX	3600		/* at most this many open grains a series */
#define LATENESS_MAX	(3600LL * 1000000000LL)
#define SPARES		2		/* open-grain buffers kept for reuse, per series */
#define RETIRED_SCAN	4		/* retired local indexes tried for reuse */
#define BLOCK_SHIFT	6		/* min/max summaries over 64 grains */
#define BLOCK		(1 << BLOCK_SHIFT)
#define NONE		INT64_MIN
#define INSTANCES_MAX	1000000
#define NAME_MAX_LEN	256

struct instance {
	char *name, *deployment, *endpoint;
	size_t nlabels;
	char **keys, **values;
	char *hkey;			/* the interning key */
};

struct slot {
	int64_t g;			/* grain index, NONE when empty */
	double v;			/* the grain statistic */
	uint64_t samples;
};

struct block {
	int64_t b;
	double min, max;
};

/* Per-instance sums of one open grain; the arrays are allocated when a grain opens. */
struct open_grain {
	int64_t g;			/* NONE when free */
	unsigned ntouched;
	unsigned cap;			/* entries of touched, sum, cnt */
	unsigned *touched;		/* local instance indexes with samples */
	double *sum;
	uint64_t *cnt;
};

struct series {
	int metric;
	int64_t grain_ns;
	int64_t w;			/* window in grains */
	enum grain_stat stat;
	enum cond_agg agg;
	unsigned nfilters;
	struct cond_filter *filters;
	char *deployment, *endpoint;
	int32_t *match;			/* per instance id: -2 unknown, -1 no, else local index */
	size_t nmatch;
	unsigned nlocal;
	unsigned *retired;		/* local indexes of forgotten instances, to reuse */
	unsigned nretired, cap_retired;
	struct open_grain *open;	/* grain g in open[g % nopen_max] */
	int64_t nopen_max;		/* the lateness horizon in grains */
	unsigned nopen;			/* open grains */
	int64_t newest;			/* the newest grain that took data; NONE before any */
	struct open_grain spare[SPARES];	/* buffers of closed grains, g NONE */
	unsigned nspare;
	int64_t g_ring;			/* ring size in grains, a multiple of BLOCK */
	int64_t phase;			/* when, within a lap of the ring, sums are recomputed */
	struct slot *ring;
	struct block *blocks;
	int64_t final_end;		/* grains below are closed; NONE before any */
	double run_sum;			/* over the closed window [final_end - w, final_end) */
	uint64_t run_samples;
	int64_t run_grains;
	int64_t first_g, last_g;
	double last_v;
};

struct metric {
	char *name;
	int *series;
	size_t nseries;
};

struct store {
	struct instance *inst;		/* name NULL: a forgotten id, free for reuse */
	size_t ninst, cap_inst;
	int *free_ids;			/* forgotten ids */
	size_t nfree, cap_free;
	int64_t lateness_ns;		/* 0: OPEN_GRAINS grains */
	int *hash;			/* open addressing over inst, -1 empty */
	size_t hash_size;
	struct metric *metrics;
	size_t nmetrics;
	struct series *series;
	size_t nseries;
	uint64_t late;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct store *store_new(void)
{
	return calloc(1, sizeof(struct store));
}

static void open_free(struct open_grain *o)
{
	free(o->touched);
	free(o->sum);
	free(o->cnt);
	o->touched = NULL;
	o->sum = NULL;
	o->cnt = NULL;
	o->cap = 0;
}

static void series_free(struct series *s)
{
	int64_t i;

	for (i = 0; s->open && i < s->nopen_max; i++)
		open_free(&s->open[i]);
	for (i = 0; i < s->nspare; i++)
		open_free(&s->spare[i]);
	free(s->open);
	free(s->retired);
	free(s->filters);
	free(s->deployment);
	free(s->endpoint);
	free(s->match);
	free(s->ring);
	free(s->blocks);
}

static void instance_free(struct instance *in)
{
	size_t j;

	for (j = 0; j < in->nlabels; j++) {
		free(in->keys[j]);
		free(in->values[j]);
	}
	free(in->keys);
	free(in->values);
	free(in->name);
	free(in->deployment);
	free(in->endpoint);
	free(in->hkey);
	memset(in, 0, sizeof(*in));
}

void store_free(struct store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->ninst; i++)
		instance_free(&st->inst[i]);
	free(st->inst);
	free(st->free_ids);
	free(st->hash);
	for (i = 0; i < st->nmetrics; i++) {
		free(st->metrics[i].name);
		free(st->metrics[i].series);
	}
	free(st->metrics);
	for (i = 0; i < st->nseries; i++)
		series_free(&st->series[i]);
	free(st->series);
	free(st);
}

uint64_t store_late(const struct store *st)
{
	return st->late;
}

#define OPEN_ENTRY	(sizeof(unsigned) + sizeof(double) + sizeof(uint64_t))

size_t store_memory(const struct store *st)
{
	size_t i, n = 0;
	int64_t k;

	for (i = 0; i < st->nseries; i++) {
		const struct series *s = &st->series[i];

		n += s->g_ring * sizeof(struct slot) + (s->g_ring / BLOCK) * sizeof(struct block) +
		     s->nmatch * sizeof(int32_t) + s->cap_retired * sizeof(unsigned) +
		     s->nopen_max * sizeof(struct open_grain);
		for (k = 0; k < s->nopen_max; k++)
			n += s->open[k].cap * OPEN_ENTRY;
		for (k = 0; k < s->nspare; k++)
			n += s->spare[k].cap * OPEN_ENTRY;
	}
	return n + st->cap_inst * sizeof(struct instance) + st->hash_size * sizeof(int) +
	       st->cap_free * sizeof(int);
}

/* The series' horizon in grains for the store's lateness. */
static int64_t series_horizon(const struct store *st, int64_t grain_ns)
{
	int64_t n = (st->lateness_ns + grain_ns - 1) / grain_ns;

	return n < OPEN_GRAINS ? OPEN_GRAINS : n > OPEN_MAX ? OPEN_MAX : n;
}

static int series_open_alloc(struct series *s, int64_t n)
{
	struct open_grain *o = calloc(n, sizeof(*o));
	int64_t i;

	if (!o)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		o[i].g = NONE;
	for (i = 0; s->open && i < s->nopen_max; i++)
		open_free(&s->open[i]);
	free(s->open);
	s->open = o;
	s->nopen_max = n;
	return 0;
}

int store_set_lateness(struct store *st, int64_t horizon_ns)
{
	int64_t old = st->lateness_ns;
	size_t i;
	int r;

	if (horizon_ns < 0 || horizon_ns > LATENESS_MAX)
		return -EINVAL;
	for (i = 0; i < st->nseries; i++)
		if (st->series[i].newest != NONE || st->series[i].final_end != NONE)
			return -EBUSY;
	st->lateness_ns = horizon_ns;
	for (i = 0; i < st->nseries; i++) {
		struct series *s = &st->series[i];
		int64_t n = series_horizon(st, s->grain_ns);

		if (n != s->nopen_max && (r = series_open_alloc(s, n)) < 0) {
			st->lateness_ns = old;
			return r;
		}
	}
	return 0;
}

/* ---- instances and metrics ---- */

static int hash_grow(struct store *st)
{
	size_t size = st->hash_size ? st->hash_size * 2 : 1024, i, h;
	int *hash = malloc(size * sizeof(*hash));

	if (!hash)
		return -ENOMEM;
	memset(hash, -1, size * sizeof(*hash));
	for (i = 0; i < st->ninst; i++) {
		if (!st->inst[i].hkey)
			continue;
		for (h = hash_str(st->inst[i].hkey) & (size - 1); hash[h] >= 0; h = (h + 1) & (size - 1))
			;
		hash[h] = (int)i;
	}
	free(st->hash);
	st->hash = hash;
	st->hash_size = size;
	return 0;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int store_instance(struct store *st, const char *name, const char *deployment,
		   const char *endpoint, const struct store_label *labels, size_t nlabels)
{
	char key[2048];
	size_t off, i, h;
	struct instance *in;
	int r, id;

	if (!name || !*name || strlen(name) >= NAME_MAX_LEN || nlabels > 32)
		return -EINVAL;
	off = (size_t)snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", name, deployment ? deployment : "",
			       endpoint ? endpoint : "");
	for (i = 0; i < nlabels && off < sizeof(key); i++)
		off += (size_t)snprintf(key + off, sizeof(key) - off, "\x1f%s=%s",
					labels[i].key, labels[i].value);
	if (off >= sizeof(key))
		return -EINVAL;
	if (st->hash_size) {
		for (h = hash_str(key) & (st->hash_size - 1); st->hash[h] >= 0;
		     h = (h + 1) & (st->hash_size - 1))
			if (strcmp(st->inst[st->hash[h]].hkey, key) == 0)
				return st->hash[h];
	}
	if (st->nfree) {
		id = st->free_ids[--st->nfree];
		in = &st->inst[id];
		goto fill;
	}
	if (st->ninst >= INSTANCES_MAX)
		return -ENOSPC;
	if ((st->ninst + 1) * 2 > st->hash_size && (r = hash_grow(st)) < 0)
		return r;
	if (st->ninst == st->cap_inst) {
		size_t cap = st->cap_inst ? st->cap_inst * 2 : 64;

		in = realloc(st->inst, cap * sizeof(*in));
		if (!in)
			return -ENOMEM;
		st->inst = in;
		st->cap_inst = cap;
	}
	id = (int)st->ninst;
	in = &st->inst[id];
fill:
	memset(in, 0, sizeof(*in));
	in->name = strdup(name);
	in->deployment = dup_or_empty(deployment);
	in->endpoint = dup_or_empty(endpoint);
	in->hkey = strdup(key);
	in->keys = calloc(nlabels + 1, sizeof(char *));
	in->values = calloc(nlabels + 1, sizeof(char *));
	if (!in->name || !in->deployment || !in->endpoint || !in->hkey || !in->keys || !in->values)
		goto nomem;
	for (i = 0; i < nlabels; i++) {
		in->keys[i] = strdup(labels[i].key);
		in->values[i] = strdup(labels[i].value);
		in->nlabels = i + 1;
		if (!in->keys[i] || !in->values[i])
			goto nomem;
	}
	for (h = hash_str(key) & (st->hash_size - 1); st->hash[h] >= 0; h = (h + 1) & (st->hash_size - 1))
		;
	st->hash[h] = id;
	if (id == (int)st->ninst)
		st->ninst++;
	return id;
nomem:
	instance_free(in);
	if (id < (int)st->ninst)
		st->free_ids[st->nfree++] = id;	/* it was free: still is */
	return -ENOMEM;
}

/* Takes id out of the hash (linear probing: later entries of its run move up). */
static void hash_remove(struct store *st, int id)
{
	size_t mask = st->hash_size - 1, i, j, k;

	for (i = hash_str(st->inst[id].hkey) & mask; st->hash[i] != id; i = (i + 1) & mask)
		;
	st->hash[i] = -1;
	for (j = (i + 1) & mask; st->hash[j] >= 0; j = (j + 1) & mask) {
		k = hash_str(st->inst[st->hash[j]].hkey) & mask;
		/* stays when its home slot k is cyclically within (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		st->hash[i] = st->hash[j];
		st->hash[j] = -1;
		i = j;
	}
}

int store_instance_forget(struct store *st, int id)
{
	struct series *s;
	unsigned *ret;
	size_t i;

	if (id < 0 || (size_t)id >= st->ninst || !st->inst[id].hkey)
		return -EINVAL;
	if (st->nfree == st->cap_free) {
		size_t cap = st->cap_free ? st->cap_free * 2 : 64;
		int *f = realloc(st->free_ids, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		st->free_ids = f;
		st->cap_free = cap;
	}
	for (i = 0; i < st->nseries; i++) {
		s = &st->series[i];
		if ((size_t)id >= s->nmatch || s->match[id] < 0)
			continue;
		if (s->nretired == s->cap_retired) {
			unsigned cap = s->cap_retired ? s->cap_retired * 2 : 16;

			ret = realloc(s->retired, cap * sizeof(*ret));
			if (!ret)
				return -ENOMEM;
			s->retired = ret;
			s->cap_retired = cap;
		}
	}
	/* nothing can fail from here on */
	for (i = 0; i < st->nseries; i++) {
		s = &st->series[i];
		if ((size_t)id >= s->nmatch || s->match[id] == -2)
			continue;
		/* samples it sent for open grains stay: its local index is reused once they close */
		if (s->match[id] >= 0)
			s->retired[s->nretired++] = (unsigned)s->match[id];
		s->match[id] = -2;
	}
	hash_remove(st, id);
	instance_free(&st->inst[id]);
	st->free_ids[st->nfree++] = id;
	return 0;
}

size_t store_instances(const struct store *st)
{
	return st->ninst - st->nfree;
}

int store_metric(struct store *st, const char *name)
{
	struct metric *m;
	size_t i;

	if (!name || !*name || strlen(name) >= COND_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < st->nmetrics; i++)
		if (strcasecmp(st->metrics[i].name, name) == 0)
			return (int)i;
	m = realloc(st->metrics, (st->nmetrics + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	st->metrics = m;
	m = &st->metrics[st->nmetrics];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	if (!m->name)
		return -ENOMEM;
	return (int)st->nmetrics++;
}

/* ---- series ---- */

int store_series_add(struct store *st, const struct series_spec *spec)
{
	struct series *s;
	struct metric *m;
	int *ids, mid;
	int64_t i;

	if (spec->grain_ns <= 0 || spec->window_grains == 0 ||
	    spec->window_grains > WINDOW_GRAINS_MAX || spec->nfilters > COND_FILTERS_MAX)
		return -EINVAL;
	mid = store_metric(st, spec->metric);
	if (mid < 0)
		return mid;
	s = realloc(st->series, (st->nseries + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	st->series = s;
	m = &st->metrics[mid];
	ids = realloc(m->series, (m->nseries + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	m->series = ids;
	s = &st->series[st->nseries];
	memset(s, 0, sizeof(*s));
	s->metric = mid;
	s->grain_ns = spec->grain_ns;
	s->w = spec->window_grains;
	s->stat = spec->stat;
	s->agg = spec->agg;
	s->nfilters = spec->nfilters;
	s->g_ring = (s->w + 2 * BLOCK - 1) / BLOCK * BLOCK;
	/* series of the same window recompute on different ticks, not all on one */
	s->phase = (int64_t)st->nseries % s->g_ring;
	s->ring = malloc(s->g_ring * sizeof(*s->ring));
	s->blocks = malloc(s->g_ring / BLOCK * sizeof(*s->blocks));
	s->filters = malloc((spec->nfilters + 1) * sizeof(*s->filters));
	s->deployment = dup_or_empty(spec->deployment);
	s->endpoint = dup_or_empty(spec->endpoint);
	s->newest = NONE;
	if (!s->ring || !s->blocks || !s->filters || !s->deployment || !s->endpoint ||
	    series_open_alloc(s, series_horizon(st, s->grain_ns)) < 0) {
		series_free(s);
		return -ENOMEM;
	}
	if (spec->nfilters)
		memcpy(s->filters, spec->filters, spec->nfilters * sizeof(*s->filters));
	for (i = 0; i < s->g_ring; i++)
		s->ring[i].g = NONE;
	for (i = 0; i < s->g_ring / BLOCK; i++)
		s->blocks[i].b = NONE;
	s->final_end = NONE;
	s->first_g = INT64_MAX;
	s->last_g = NONE;
	m->series[m->nseries++] = (int)st->nseries;
	return (int)st->nseries++;
}

static const char *instance_dim(const struct instance *in, const char *dim)
{
	size_t i;

	if (strcasecmp(dim, "instance") == 0)
		return in->name;
	if (strcasecmp(dim, "deployment") == 0)
		return in->deployment[0] ? in->deployment : NULL;
	if (strcasecmp(dim, "endpoint") == 0)
		return in->endpoint[0] ? in->endpoint : NULL;
	for (i = 0; i < in->nlabels; i++)
		if (strcasecmp(in->keys[i], dim) == 0)
			return in->values[i];
	return NULL;
}

static bool series_matches(const struct series *s, const struct instance *in)
{
	const struct cond_filter *f;
	const char *v;
	unsigned i, j;
	bool found;

	/* an instance that does not say its deployment or endpoint is not excluded */
	if (s->deployment[0] && in->deployment[0] && strcmp(s->deployment, in->deployment) != 0)
		return false;
	if (s->endpoint[0] && in->endpoint[0] && strcmp(s->endpoint, in->endpoint) != 0)
		return false;
	for (i = 0; i < s->nfilters; i++) {
		f = &s->filters[i];
		v = instance_dim(in, f->dim);
		found = false;
		for (j = 0; v && j < f->nvalues && !found; j++)
			found = strcmp(cond_filter_value(f, j), "*") == 0 ||
				strcasecmp(cond_filter_value(f, j), v) == 0;
		if (found == f->negate)
			return false;
	}
	return true;
}

/* Whether an open grain holds samples of local index k. */
static bool series_local_busy(const struct series *s, unsigned k)
{
	int64_t i;

	for (i = 0; i < s->nopen_max; i++)
		if (s->open[i].g != NONE && k < s->open[i].cap && s->open[i].cnt[k])
			return true;
	return false;
}

/* A local index for a newly matching instance: a forgotten instance's once its samples are closed. */
static int32_t series_local_new(struct series *s)
{
	unsigned i, k;

	for (i = 0; i < s->nretired && i < RETIRED_SCAN; i++) {
		k = s->retired[i];
		if (!series_local_busy(s, k)) {
			s->retired[i] = s->retired[--s->nretired];
			return (int32_t)k;
		}
	}
	return (int32_t)s->nlocal++;
}

/* The series' local index of an instance, or -1 when it does not match. */
static int series_local(struct store *st, struct series *s, int id)
{
	size_t n, i;
	int32_t *m;

	if ((size_t)id >= s->nmatch) {
		n = st->cap_inst > (size_t)id ? st->cap_inst : (size_t)id + 1;
		m = realloc(s->match, n * sizeof(*m));
		if (!m)
			return -1;
		for (i = s->nmatch; i < n; i++)
			m[i] = -2;
		s->match = m;
		s->nmatch = n;
	}
	if (s->match[id] != -2)
		return s->match[id];
	if (!series_matches(s, &st->inst[id])) {
		s->match[id] = -1;
		return -1;
	}
	s->match[id] = series_local_new(s);
	return s->match[id];
}

static void run_add(struct series *s, const struct slot *sl, int sign)
{
	s->run_sum += sign * sl->v;
	s->run_samples += sign * (int64_t)sl->samples;
	s->run_grains += sign;
}

static void run_recompute(struct series *s)
{
	int64_t g;
	struct slot *sl;

	s->run_sum = 0;
	s->run_samples = 0;
	s->run_grains = 0;
	for (g = s->final_end - s->w; g < s->final_end; g++) {
		sl = &s->ring[g % s->g_ring];
		if (g >= 0 && sl->g == g)
			run_add(s, sl, 1);
	}
}

/* A grain opens in o: it takes a spare buffer when it has none. */
static void open_take(struct series *s, struct open_grain *o, int64_t g)
{
	if (!o->cap && s->nspare) {
		*o = s->spare[--s->nspare];
		memset(&s->spare[s->nspare], 0, sizeof(s->spare[0]));
	}
	o->g = g;
	o->ntouched = 0;
	s->nopen++;
}

/* o closed (its sums are zero again): its buffer goes spare, or is freed. */
static void open_release(struct series *s, struct open_grain *o)
{
	o->g = NONE;
	o->ntouched = 0;
	s->nopen--;
	if (s->nspare < SPARES && o->cap) {
		s->spare[s->nspare++] = *o;
		memset(o, 0, sizeof(*o));
		o->g = NONE;
	} else {
		open_free(o);
	}
}

/* Room in o for local index k; -ENOMEM. */
static int open_grow(struct open_grain *o, unsigned k)
{
	unsigned cap = o->cap ? o->cap : 16, *t;
	double *sum;
	uint64_t *cnt;

	while (cap <= k)
		cap *= 2;
	t = realloc(o->touched, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	o->touched = t;
	sum = realloc(o->sum, cap * sizeof(*sum));
	if (!sum)
		return -ENOMEM;
	o->sum = sum;
	cnt = realloc(o->cnt, cap * sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	o->cnt = cnt;
	memset(o->sum + o->cap, 0, (cap - o->cap) * sizeof(*sum));
	memset(o->cnt + o->cap, 0, (cap - o->cap) * sizeof(*cnt));
	o->cap = cap;
	return 0;
}

/* Closes grain final_end (with the open grain o holding its samples, or none). */
static void close_grain(struct series *s, struct open_grain *o)
{
	int64_t g = s->final_end, leave = g - s->w;
	double v = 0, mean, sum = 0, mn = INFINITY, mx = -INFINITY;
	uint64_t samples = 0;
	struct slot *sl;
	struct block *b;
	unsigned i, k;

	if (leave >= 0 && s->ring[leave % s->g_ring].g == leave)
		run_add(s, &s->ring[leave % s->g_ring], -1);
	if (o && o->ntouched) {
		for (i = 0; i < o->ntouched; i++) {
			k = o->touched[i];
			mean = o->sum[k] / o->cnt[k];
			sum += mean;
			mn = mean < mn ? mean : mn;
			mx = mean > mx ? mean : mx;
			samples += o->cnt[k];
			o->sum[k] = 0;
			o->cnt[k] = 0;
		}
		switch (s->stat) {
		case GRAIN_AVG: v = sum / o->ntouched; break;
		case GRAIN_MIN: v = mn; break;
		case GRAIN_MAX: v = mx; break;
		case GRAIN_SUM: v = sum; break;
		case GRAIN_COUNT: v = (double)samples; break;
		}
		sl = &s->ring[g % s->g_ring];
		sl->g = g;
		sl->v = v;
		sl->samples = samples;
		run_add(s, sl, 1);
		b = &s->blocks[(g >> BLOCK_SHIFT) % (s->g_ring / BLOCK)];
		if (b->b != g >> BLOCK_SHIFT) {
			b->b = g >> BLOCK_SHIFT;
			b->min = INFINITY;
			b->max = -INFINITY;
		}
		b->min = v < b->min ? v : b->min;
		b->max = v > b->max ? v : b->max;
		if (g < s->first_g)
			s->first_g = g;
		s->last_g = g;
		s->last_v = v;
	}
	if (o)
		open_release(s, o);
	s->final_end++;
	if ((s->final_end + s->phase) % s->g_ring == 0)
		run_recompute(s);	/* no drift from adding and taking away */
}

/* Closes every grain below e. */
static void series_close(struct series *s, int64_t e)
{
	struct open_grain *o;
	int64_t lo, next, i;

	lo = s->newest == NONE ? e : s->newest - s->nopen_max + 1;	/* no open grain below */
	if (s->final_end == NONE) {
		s->final_end = e;
		for (i = 0; i < s->nopen_max; i++)
			if (s->open[i].g != NONE && s->open[i].g < s->final_end)
				s->final_end = s->open[i].g;
	}
	while (s->final_end < e) {
		if (!s->nopen || s->final_end < lo) {
			next = !s->nopen || lo > e ? e : lo;
			if (next - s->final_end > s->w) {
				/* a gap longer than the window: everything in it leaves */
				s->final_end = next;
				s->run_sum = 0;
				s->run_samples = 0;
				s->run_grains = 0;
				continue;
			}
		}
		o = &s->open[s->final_end % s->nopen_max];
		close_grain(s, o->g == s->final_end ? o : NULL);
	}
}

int store_ingest(struct store *st, int instance, int metric, const struct store_agg *a)
{
	struct metric *m;
	struct series *s;
	struct open_grain *o;
	int64_t g;
	size_t i;
	int local, r = 0;

	if (instance < 0 || (size_t)instance >= st->ninst || !st->inst[instance].hkey || metric < 0 ||
	    (size_t)metric >= st->nmetrics || a->t_ns < 0 || a->count == 0 || !isfinite(a->sum))
		return -EINVAL;
	m = &st->metrics[metric];
	for (i = 0; i < m->nseries; i++) {
		s = &st->series[m->series[i]];
		local = series_local(st, s, instance);
		if (local < 0)
			continue;
		g = floor_div(a->t_ns, s->grain_ns);
		if ((s->final_end != NONE && g < s->final_end) ||
		    (s->newest != NONE && g <= s->newest - s->nopen_max)) {
			st->late++;	/* closed, or behind the horizon */
			continue;
		}
		if (s->newest == NONE || g > s->newest) {
			/* grains that fall behind the horizon close */
			if (s->newest != NONE && s->nopen)
				series_close(s, g - s->nopen_max + 1);
			s->newest = g;
		}
		o = &s->open[g % s->nopen_max];
		if (o->g != g)
			open_take(s, o, g);
		if ((unsigned)local >= o->cap && open_grow(o, (unsigned)local) < 0) {
			r = -ENOMEM;
			continue;
		}
		if (!o->cnt[local])
			o->touched[o->ntouched++] = (unsigned)local;
		o->sum[local] += a->sum;
		o->cnt[local] += a->count;
	}
	return r;
}

int store_ingest_value(struct store *st, int instance, int metric, int64_t t_ns, double v)
{
	struct store_agg a = { .t_ns = t_ns, .count = 1, .sum = v, .min = v, .max = v, .last = v };

	return store_ingest(st, instance, metric, &a);
}

static void window_minmax(const struct series *s, int64_t from, int64_t to, double *mn, double *mx)
{
	const struct block *b;
	const struct slot *sl;
	int64_t g = from < 0 ? 0 : from;

	*mn = INFINITY;
	*mx = -INFINITY;
	while (g < to) {
		if ((g & (BLOCK - 1)) == 0 && g + BLOCK <= to) {
			b = &s->blocks[(g >> BLOCK_SHIFT) % (s->g_ring / BLOCK)];
			if (b->b == g >> BLOCK_SHIFT) {
				*mn = b->min < *mn ? b->min : *mn;
				*mx = b->max > *mx ? b->max : *mx;
			}
			g += BLOCK;
			continue;
		}
		sl = &s->ring[g % s->g_ring];
		if (sl->g == g) {
			*mn = sl->v < *mn ? sl->v : *mn;
			*mx = sl->v > *mx ? sl->v : *mx;
		}
		g++;
	}
}

int store_query(struct store *st, int series, int64_t t_ns, struct store_window *w)
{
	struct series *s;
	int64_t e;
	double mn, mx;

	if (series < 0 || (size_t)series >= st->nseries || t_ns < 0)
		return -EINVAL;
	s = &st->series[series];
	e = floor_div(t_ns, s->grain_ns);
	if (s->final_end != NONE && e < s->final_end)
		return -ERANGE;
	series_close(s, e);
	memset(w, 0, sizeof(*w));
	w->data = s->run_grains > 0;
	w->warming = s->first_g > e - s->w;
	w->samples = s->run_samples;
	w->grains = (unsigned)s->run_grains;
	if (!w->data)
		return 0;
	switch (s->agg) {
	case AGG_AVG:
		w->value = s->run_sum / s->run_grains;
		break;
	case AGG_TOTAL:
		w->value = s->run_sum;
		break;
	case AGG_COUNT:
		w->value = (double)s->run_samples;
		break;
	case AGG_LAST:
		w->value = s->last_v;
		break;
	case AGG_MIN:
	case AGG_MAX:
		window_minmax(s, e - s->w, e, &mn, &mx);
		w->value = s->agg == AGG_MIN ? mn : mx;
		break;
	}
	return 0;
}
