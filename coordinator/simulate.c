/* simulate: replays a metric trace through the engine, tick by tick, on trace time */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "schedule.h"
#include "simulate.h"
#include "store.h"
#include "timeutil.h"

struct simulate {
	struct engine_conf conf;	/* the caller's settings, or the chosen one */
	struct simulate_opts o;
	struct engine *eng;
	struct store *st;
	int64_t *next;			/* per setting: its next tick */
	int64_t next_min;		/* the earliest of them; INT64_MAX before the start */
	int64_t last_tick;		/* INT64_MIN before any */
	unsigned *count;
	bool started;
	int *inst_map, *metric_map;	/* trace id -> store id, -1 not yet */
	size_t inst_cap, metric_cap;
	struct simulate_stats stats;
};

int simulate_new(const struct engine_conf *conf, const struct simulate_opts *o, struct simulate **out)
{
	struct simulate *s;
	int si = -1;

	*out = NULL;
	if (o->setting && (si = setting_find(conf, o->setting)) < 0)
		return -ENOENT;
	if ((o->has_count && o->count > COUNT_MAX) ||
	    (o->has_from && o->from_ns < 0) || (o->has_until && o->until_ns < 0) ||
	    (o->has_from && o->has_until && o->until_ns < o->from_ns))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conf = *conf;
	if (si >= 0) {
		s->conf.settings = &conf->settings[si];
		s->conf.nsettings = 1;
	}
	s->o = *o;
	s->o.setting = NULL;
	s->next_min = INT64_MAX;
	s->last_tick = INT64_MIN;
	s->stats.first_ns = s->stats.last_ns = -1;
	s->next = calloc(s->conf.nsettings + 1, sizeof(*s->next));
	s->count = calloc(s->conf.nsettings + 1, sizeof(*s->count));
	s->eng = engine_new(&s->conf);
	if (!s->next || !s->count || !s->eng) {
		simulate_free(s);
		return -ENOMEM;
	}
	s->st = engine_store(s->eng);
	*out = s;
	return 0;
}

void simulate_free(struct simulate *s)
{
	if (!s)
		return;
	engine_free(s->eng);
	free(s->next);
	free(s->count);
	free(s->inst_map);
	free(s->metric_map);
	free(s);
}

const struct engine_conf *simulate_conf(const struct simulate *s)
{
	return &s->conf;
}

const struct simulate_stats *simulate_stats(const struct simulate *s)
{
	return &s->stats;
}

unsigned simulate_count(const struct simulate *s, size_t i)
{
	return i < s->conf.nsettings ? s->count[i] : 0;
}

/* The first tick of every setting (a multiple of its evaluate_every at or after from), and its count. */
static void simulate_start(struct simulate *s, int64_t from)
{
	const struct setting *set;
	int64_t every;
	size_t i;

	s->started = true;
	for (i = 0; i < s->conf.nsettings; i++) {
		set = &s->conf.settings[i];
		every = setting_evaluate_every(&s->conf, set);
		s->next[i] = (from / every + (from % every != 0)) * every;
		if (s->next[i] < s->next_min)
			s->next_min = s->next[i];
		s->count[i] = s->o.has_count ? s->o.count :
			      set->profiles[schedule_profile(set, s->next[i] / NSEC_PER_SEC)].count;
	}
}

/* Runs every tick at or before limit (and until), in time order, settings in order. */
static int simulate_ticks(struct simulate *s, int64_t limit, simulate_event_fn fn, void *user)
{
	struct decision d;
	int64_t t, next_min;
	size_t i;
	int r;

	if (s->o.has_until && limit > s->o.until_ns)
		limit = s->o.until_ns;
	while (s->next_min <= limit) {
		t = s->next_min;
		next_min = INT64_MAX;
		for (i = 0; i < s->conf.nsettings; i++) {
			if (s->next[i] == t) {
				r = engine_evaluate(s->eng, i, t, s->count[i], &d);
				if (r < 0) {
					log_err("engine: setting %s: cannot evaluate: %s",
						s->conf.settings[i].name, strerror(-r));
					return r;
				}
				s->stats.ticks++;
				if (d.applied) {
					s->count[i] = d.after;
					s->stats.scales++;
				}
				if (d.events && fn && (r = fn(&s->conf, &d, user)) < 0)
					return r;
				s->next[i] += setting_evaluate_every(&s->conf, &s->conf.settings[i]);
			}
			if (s->next[i] < next_min)
				next_min = s->next[i];
		}
		s->last_tick = t;
		s->next_min = next_min;
	}
	return 0;
}

/* Grows a trace id -> store id map to hold id. */
static int map_fit(int **map, size_t *cap, unsigned id)
{
	size_t n = *cap ? *cap : 64, i;
	int *m;

	if (id < *cap)
		return 0;
	while (n <= id)
		n *= 2;
	m = realloc(*map, n * sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = *cap; i < n; i++)
		m[i] = -1;
	*map = m;
	*cap = n;
	return 0;
}

/* The store's id of the row's instance and metric, interned on first sight. */
static int simulate_ids(struct simulate *s, struct trace *t, const struct trace_row *row,
			int *inst, int *metric)
{
	struct store_label labels[TRACE_LABELS_MAX];
	struct trace_instance ti;
	size_t i;
	int r;

	if (row->instance >= s->inst_cap && (r = map_fit(&s->inst_map, &s->inst_cap, row->instance)) < 0)
		return r;
	if (row->metric >= s->metric_cap && (r = map_fit(&s->metric_map, &s->metric_cap, row->metric)) < 0)
		return r;
	if (s->inst_map[row->instance] < 0) {
		if ((r = trace_instance(t, row->instance, &ti)) < 0)
			return r;
		for (i = 0; i < ti.nlabels; i++) {
			labels[i].key = ti.labels[i].key;
			labels[i].value = ti.labels[i].value;
		}
		r = store_instance(s->st, ti.name, ti.deployment, ti.endpoint, labels, ti.nlabels);
		if (r == -EINVAL)
			return trace_error(t, row->line, "instance '%s': its names and labels are too long together",
					   ti.name);
		if (r < 0)
			return r;
		s->inst_map[row->instance] = r;
	}
	if (s->metric_map[row->metric] < 0) {
		r = store_metric(s->st, trace_metric(t, row->metric));
		if (r < 0)
			return r;
		s->metric_map[row->metric] = r;
	}
	*inst = s->inst_map[row->instance];
	*metric = s->metric_map[row->metric];
	return 0;
}

int simulate_run(struct simulate *s, struct trace *t, simulate_event_fn fn, void *user)
{
	struct trace_row row;
	char when[40], tick[40];
	int r, inst = -1, metric = -1;

	if (s->o.has_from)
		simulate_start(s, s->o.from_ns);
	while ((r = trace_next(t, &row)) > 0) {
		if (!s->started)
			simulate_start(s, row.t_ns);
		if (s->o.has_until && row.t_ns > s->o.until_ns)
			break;
		if (row.t_ns < s->last_tick)
			return trace_error(t, row.line, "time %s: expected samples in time order (any order within one tick), but the tick at %s has run",
					   time_format_rfc3339(row.t_ns, when, sizeof(when)),
					   time_format_rfc3339(s->last_tick, tick, sizeof(tick)));
		if (row.t_ns >= s->next_min && (r = simulate_ticks(s, row.t_ns, fn, user)) < 0)
			return r;
		if ((r = simulate_ids(s, t, &row, &inst, &metric)) < 0)
			return r;
		if ((r = store_ingest_value(s->st, inst, metric, row.t_ns, row.value)) < 0)
			return trace_error(t, row.line, "the store refused the sample (%s)", strerror(-r));
		if (s->stats.first_ns < 0)
			s->stats.first_ns = row.t_ns;
		if (row.t_ns > s->stats.last_ns)
			s->stats.last_ns = row.t_ns;
		s->stats.rows++;
	}
	if (r < 0)
		return r;
	if (!s->stats.rows && !(s->o.has_from && s->o.has_until))
		return trace_error(t, 0, "expected at least one sample (or --from and --until to run without data)");
	r = simulate_ticks(s, s->o.has_until ? s->o.until_ns : s->stats.last_ns, fn, user);
	s->stats.late = store_late(s->st);
	return r;
}
