/* engine: Azure autoscale semantics over the store, one setting a tick */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "schedule.h"
#include "timeutil.h"

struct setting_state {
	int profile;			/* -1 before the first tick */
	int64_t cooldown_until;		/* ns; INT64_MIN when none */
	bool missing;
	int64_t last_t;
	int series[PROFILES_MAX][RULES_MAX];
};

struct engine {
	const struct engine_conf *conf;
	struct store *store;
	struct setting_state *state;
};

static int64_t floor_div_sec(int64_t ns)
{
	return ns / NSEC_PER_SEC - (ns % NSEC_PER_SEC < 0);
}

struct store *engine_store(struct engine *e)
{
	return e->store;
}

int64_t engine_cooldown(const struct engine *e, size_t si)
{
	return si < e->conf->nsettings ? e->state[si].cooldown_until : INT64_MIN;
}

int engine_set_cooldown(struct engine *e, size_t si, int64_t until_ns)
{
	if (si >= e->conf->nsettings)
		return -EINVAL;
	e->state[si].cooldown_until = until_ns;
	return 0;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	store_free(e->store);
	free(e->state);
	free(e);
}

struct engine *engine_new(const struct engine_conf *conf)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct series_spec spec;
	size_t i;
	unsigned p, r;
	int id;

	if (!e)
		return NULL;
	e->conf = conf;
	e->store = store_new();
	e->state = calloc(conf->nsettings + 1, sizeof(*e->state));
	if (!e->store || !e->state)
		goto fail;
	for (i = 0; i < conf->nsettings; i++) {
		const struct setting *s = &conf->settings[i];

		e->state[i].profile = -1;
		e->state[i].cooldown_until = INT64_MIN;
		e->state[i].last_t = INT64_MIN;
		for (p = 0; p < s->nprofiles; p++) {
			for (r = 0; r < s->profiles[p].nrules; r++) {
				const struct rule *ru = &s->profiles[p].rules[r];

				memset(&spec, 0, sizeof(spec));
				spec.metric = ru->cond.metric;
				spec.grain_ns = ru->grain_ns;
				spec.window_grains = (unsigned)(ru->cond.period_ns / ru->grain_ns);
				spec.stat = ru->grain_stat;
				spec.agg = ru->cond.agg;
				spec.filters = ru->cond.filters;
				spec.nfilters = ru->cond.nfilters;
				if (ru->resource == RESOURCE_ENDPOINT)
					spec.endpoint = s->endpoint;
				else
					spec.deployment = s->deployment;
				id = store_series_add(e->store, &spec);
				if (id < 0)
					goto fail;
				e->state[i].series[p][r] = id;
			}
		}
	}
	return e;
fail:
	engine_free(e);
	return NULL;
}

/* The count a rule asks for from count (rule 8 for percentages). */
static unsigned rule_target(const struct rule *r, unsigned count)
{
	unsigned delta = r->amount;

	if (r->kind == SCALE_TO)
		return r->amount;
	if (r->percent) {
		delta = (unsigned)((uint64_t)count * r->amount / 100);
		if (delta < 1)
			delta = 1;
	}
	if (r->kind == SCALE_OUT)
		return count + delta;
	return delta >= count ? 0 : count - delta;
}

static unsigned clamp(const struct profile *p, unsigned n)
{
	return n < p->min_count ? p->min_count : n > p->max_count ? p->max_count : n;
}

/* Would any scale-out rule fire at n instances (rule 10)?  Fills estimates. */
static bool flap_fires(const struct profile *p, struct decision *d, unsigned c, unsigned n,
		       size_t *which)
{
	const struct rule *r;
	double est;
	unsigned i;
	bool fires = false;

	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		d->rules[i].estimate = NAN;
		if (d->rules[i].state == RS_MISSING)
			continue;
		if (r->kind == SCALE_IN || (r->kind == SCALE_TO && r->amount <= n))
			continue;
		est = n ? d->rules[i].observed * c / n : d->rules[i].observed > 0 ? INFINITY : 0;
		d->rules[i].estimate = est;
		if (cond_compare(r->cond.op, est, r->cond.threshold) && !fires) {
			fires = true;
			*which = i;
		}
	}
	return fires;
}

/* Returns whether any scale-out candidate fired (scale-in is then not considered). */
static bool scale_out(const struct profile *p, struct decision *d, unsigned c)
{
	unsigned i, n, best = 0;
	int who = -1;

	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (d->rules[i].state != RS_FIRED || r->kind == SCALE_IN)
			continue;
		n = rule_target(r, c);
		if (r->kind == SCALE_TO && n <= c)
			continue;
		if (who < 0 || n > best) {
			best = n;
			who = (int)i;
		}
	}
	if (who < 0)
		return false;
	d->rule = who;
	n = clamp(p, best);
	d->after = n;
	if (n == c) {
		decision_say(d, "rule %s asks for %u, but the profile's max is %u: no action",
			     p->rules[who].name, best, p->max_count);
		d->rule = -1;
		return true;
	}
	d->cause = CAUSE_RULE;
	decision_say(d, "rule %s fired (%s %g, threshold %s %g): scale out from %u to %u",
		     p->rules[who].name, p->rules[who].cond.metric, d->rules[who].observed,
		     cond_op_name(p->rules[who].cond.op), p->rules[who].cond.threshold, c, n);
	return true;
}

static void scale_in(const struct profile *p, struct decision *d, unsigned c, bool missing)
{
	unsigned i, n, best = 0, nin = 0, fired_in = 0;
	size_t which = 0;
	int who = -1;

	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].kind != SCALE_IN)
			continue;
		nin++;
		if (d->rules[i].state == RS_FIRED)
			fired_in++;
	}
	if (missing) {
		decision_say(d, "a rule's metric is missing: no scale-in");
		return;
	}
	if (fired_in < nin) {
		if (fired_in)
			decision_say(d, "%u of %u scale-in rules fired: all must fire to scale in",
				     fired_in, nin);
		else
			decision_say(d, "no rule fired");
		return;
	}
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (d->rules[i].state != RS_FIRED)
			continue;
		if (r->kind == SCALE_OUT || (r->kind == SCALE_TO && r->amount >= c))
			continue;
		n = rule_target(r, c);
		if (who < 0 || n > best) {
			best = n;
			who = (int)i;
		}
	}
	if (who < 0) {
		decision_say(d, "no rule fired");
		return;
	}
	n = clamp(p, best);
	if (n >= c) {
		decision_say(d, "rule %s asks for %u, but the profile's min is %u: no action",
			     p->rules[who].name, best, p->min_count);
		return;
	}
	d->wanted = n;
	d->rule = who;
	/* rule 10: flapping protection */
	for (; n < c; n++)
		if (!flap_fires(p, d, c, n, &which))
			break;
	if (n == c) {
		flap_fires(p, d, c, d->wanted, &which);
		d->events |= EV_FLAPPING;
		d->rule = who;
		decision_say(d, "flapping: scaling in from %u to %u would make rule %s fire (estimated %g %s %g); not scaling",
			     c, d->wanted, p->rules[which].name, d->rules[which].estimate,
			     cond_op_name(p->rules[which].cond.op), p->rules[which].cond.threshold);
		return;
	}
	d->after = n;
	d->cause = CAUSE_RULE;
	if (n != d->wanted) {
		d->flapping_adjusted = true;
		decision_say(d, "rule %s fired: scale in from %u to %u (flapping-adjusted from %u: fewer would make a scale-out rule fire)",
			     p->rules[who].name, c, n, d->wanted);
	} else {
		decision_say(d, "rule %s fired (%s %g, threshold %s %g): scale in from %u to %u",
			     p->rules[who].name, p->rules[who].cond.metric, d->rules[who].observed,
			     cond_op_name(p->rules[who].cond.op), p->rules[who].cond.threshold, c, n);
	}
}

int engine_evaluate(struct engine *e, size_t si, int64_t t_ns, unsigned count, struct decision *d)
{
	const struct setting *s;
	const struct profile *p;
	struct setting_state *ss;
	struct store_window w;
	unsigned i;
	bool missing = false;
	int pi, r;

	if (si >= e->conf->nsettings)
		return -EINVAL;
	s = &e->conf->settings[si];
	ss = &e->state[si];
	if (t_ns < ss->last_t)
		return -ERANGE;
	ss->last_t = t_ns;
	memset(d, 0, sizeof(*d));
	d->time_ns = t_ns;
	d->setting = si;
	d->before = d->after = d->wanted = count;
	d->rule = -1;
	d->disabled = !s->enabled;

	/* 5: the profile in force */
	pi = schedule_profile(s, floor_div_sec(t_ns));
	p = &s->profiles[pi];
	d->profile = pi;
	d->prev_profile = ss->profile;
	if (ss->profile != pi)
		d->events |= EV_PROFILE;
	ss->profile = pi;

	/* every rule's observed value, for the record */
	d->nrules = p->nrules;
	for (i = 0; i < p->nrules; i++) {
		const struct rule *ru = &p->rules[i];
		struct rule_eval *re = &d->rules[i];

		re->estimate = NAN;
		r = store_query(e->store, ss->series[pi][i], t_ns, &w);
		if (r < 0)
			return r;
		re->samples = w.samples;
		if (!w.data) {
			re->state = RS_MISSING;
			re->observed = NAN;
			missing = true;
			continue;
		}
		re->observed = w.value;
		if (ru->divide_per_instance)
			re->observed /= count ? count : 1;
		if (w.warming)
			re->state = RS_WARMING;
		else
			re->state = cond_compare(ru->cond.op, re->observed, ru->cond.threshold) ?
				    RS_FIRED : RS_NOT_FIRED;
	}
	if (missing && !ss->missing)
		d->events |= EV_MISSING;
	else if (!missing && ss->missing)
		d->events |= EV_RECOVERED;
	ss->missing = missing;
	d->cooldown_until_ns = ss->cooldown_until;

	if (count < p->min_count || count > p->max_count) {
		/* 6: the bounds hold whatever the cooldown */
		d->after = clamp(p, count);
		d->cause = CAUSE_CLAMP;
		decision_say(d, "count %u is outside profile %s's [%u, %u]: clamp to %u",
			     count, p->name, p->min_count, p->max_count, d->after);
	} else if (missing && count < p->count) {
		/* 4: metrics missing and below the default */
		d->after = p->count;
		d->cause = CAUSE_MISSING;
		decision_say(d, "metrics missing and the count %u is below profile %s's default: scale to %u",
			     count, p->name, p->count);
	} else if (t_ns < ss->cooldown_until) {
		/* 9: one cooldown timer for both directions */
		for (i = 0; i < p->nrules; i++)
			if (d->rules[i].state == RS_FIRED)
				d->rules[i].state = RS_COOLDOWN;
		decision_say(d, "in cooldown for %.0fs more: no rule-driven action",
			     (double)(ss->cooldown_until - t_ns) / NSEC_PER_SEC);
	} else {
		/* 7, 8, 10 */
		if (!scale_out(p, d, count))
			scale_in(p, d, count, missing);
		if (d->cause == CAUSE_RULE && s->enabled) {
			ss->cooldown_until = t_ns + p->rules[d->rule].cooldown_ns;
			d->cooldown_until_ns = ss->cooldown_until;
		}
	}
	if (d->after != d->before) {
		d->events |= EV_SCALE;
		d->applied = s->enabled;
	}
	if (!s->enabled)
		decision_say(d, "setting disabled: nothing done");
	for (i = 0; i < p->nrules && (d->events & (EV_MISSING | EV_RECOVERED)); i++)
		if (d->rules[i].state == RS_MISSING)
			decision_say(d, "rule %s: no data in its window", p->rules[i].name);
	return 0;
}
