/* store: per-grain metric aggregates for the engine's rules, kept incrementally */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"

#define OPEN_GRAINS	4		/* default horizon: grains behind the newest still taking samples */
#define OPEN_MAX	3600		/* at most this many open grains a series */
#define LATENESS_MAX	(3600LL * 1000000000LL)
#define BLOCK_SHIFT	6		/* min/max summaries over 64 grains */
#define BLOCK		(1 << BLOCK_SHIFT)
/* Window sums are kept in integer nano-units, so that a grain leaving takes away exactly what it
 * brought: no drift (an idle window is 0, not -1e-14) and no periodic recomputation. A grain's
 * value counts rounded to 9 decimal places and held within +-NANO_MAX; 86400 grains of that fit. */
#define NANO		1e9
#define NANO_MAX	1e24

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
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

void store_free(struct store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->ninst; i++)
		store_instance_free(&st->inst[i]);
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

/* ---- metrics and series ---- */

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
	s->ring = malloc(s->g_ring * sizeof(*s->ring));
	s->blocks = malloc(s->g_ring / BLOCK * sizeof(*s->blocks));
	s->filters = malloc((spec->nfilters + 1) * sizeof(*s->filters));
	s->deployment = store_dup_or_empty(spec->deployment);
	s->endpoint = store_dup_or_empty(spec->endpoint);
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

static __int128 nano_units(double v)
{
	return (__int128)nearbyint(fmin(fmax(v, -NANO_MAX), NANO_MAX) * NANO);
}

static void run_add(struct series *s, const struct slot *sl, int sign)
{
	s->run_sum += sign * nano_units(sl->v);
	s->run_samples += sign * (int64_t)sl->samples;
	s->run_grains += sign;
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
}

/* Closes every grain below e. */
static void series_close(struct series *s, int64_t e)
{
	struct open_grain *o;
	int64_t lo, next, i;

	if (e < 0)
		e = 0;		/* no grain is below 0 */
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
		local = store_instance_local(st, s, instance);
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
		w->value = (double)s->run_sum / (NANO * (double)s->run_grains);
		break;
	case AGG_TOTAL:
		w->value = (double)s->run_sum / NANO;
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
