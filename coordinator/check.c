/* check: warnings about a valid configuration that will not behave as meant */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "schedule.h"
#include "timeutil.h"

#define SHADOW_SCAN_DAYS	15	/* two weeks of a profile's own boundaries */

const char *check_severity_name(enum check_severity s)
{
	return s == CHECK_ERROR ? "error" : s == CHECK_WARNING ? "warning" : "note";
}

int check_add(struct check_report *rep, enum check_severity sev, const char *code, unsigned line,
	      const char *setting, const char *profile, const char *rule, const char *fmt, ...)
{
	struct check_finding *f;
	va_list ap;

	if (rep->n == rep->cap) {
		size_t cap = rep->cap ? rep->cap * 2 : 16;

		f = realloc(rep->f, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		rep->f = f;
		rep->cap = cap;
	}
	f = &rep->f[rep->n++];
	memset(f, 0, sizeof(*f));
	f->severity = sev;
	f->code = code;
	f->line = line;
	snprintf(f->setting, sizeof(f->setting), "%s", setting ? setting : "");
	snprintf(f->profile, sizeof(f->profile), "%s", profile ? profile : "");
	snprintf(f->rule, sizeof(f->rule), "%s", rule ? rule : "");
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	if (sev == CHECK_ERROR)
		rep->errors++;
	else if (sev == CHECK_WARNING)
		rep->warnings++;
	else
		rep->notes++;
	return 0;
}

void check_report_free(struct check_report *rep)
{
	free(rep->f);
	memset(rep, 0, sizeof(*rep));
}

/* ---- rules ---- */

static unsigned rule_cond_line(const struct rule *r)
{
	return r->line_cond ? r->line_cond : r->line;
}

static bool same_metric(const struct rule *a, const struct rule *b)
{
	return strcasecmp(a->cond.ns, b->cond.ns) == 0 &&
	       strcasecmp(a->cond.metric, b->cond.metric) == 0;
}

/* The count a scale-in rule gives from c (engine rules 7 and 8), within min. */
static unsigned in_target(const struct rule *r, unsigned c, unsigned min)
{
	unsigned step = r->amount;

	if (r->percent) {
		step = (unsigned)((uint64_t)c * r->amount / 100);
		if (step < 1)
			step = 1;
	}
	return c > step && c - step > min ? c - step : min;
}

/*
 * Would scaling in by rule in from c make out fire at once?  The observed
 * value is just under in's threshold; Azure estimates it at the new count n
 * as observed x c / n (engine rule 10).
 */
static bool flap_at(const struct rule *in, const struct rule *out, unsigned c, unsigned n, double *est)
{
	double t_in = in->cond.threshold, t_out = out->cond.threshold;

	*est = n ? t_in * c / n : t_in > 0 ? INFINITY : 0;
	if (*est > t_out && fabs(*est - t_out) > 1e-9 * fabs(t_out))
		return true;
	/* equal: fires only when both bounds are inclusive */
	return fabs(*est - t_out) <= 1e-9 * fabs(t_out) && in->cond.op == COND_LE &&
	       out->cond.op == COND_GE;
}

static int check_flap(const struct setting *s, const struct profile *p, const struct rule *in,
		      const struct rule *out, struct check_report *rep)
{
	unsigned c, n, k;
	double est;

	if ((in->cond.op != COND_LT && in->cond.op != COND_LE) ||
	    (out->cond.op != COND_GT && out->cond.op != COND_GE) || !same_metric(in, out))
		return 0;
	/* the default count first, then every count that can scale in */
	for (k = 0; k <= p->max_count; k++) {
		c = k == 0 ? p->count : k;
		if (k && (k <= p->min_count || k == p->count))
			continue;
		if (c <= p->min_count)
			continue;
		n = in_target(in, c, p->min_count);
		if (n >= c || !flap_at(in, out, c, n, &est))
			continue;
		return check_add(rep, CHECK_WARNING, "flap-risk", rule_cond_line(in), s->name, p->name, in->name,
				 "flap risk: at count %u, a value %s %g scales in to %u, where Azure's estimate %g x %u / %u = %g fires scale-out rule '%s' (%s %g, line %u); flapping protection will hold such scale-ins: widen the gap between the thresholds",
				 c, in->cond.op == COND_LT ? "just under" : "at", in->cond.threshold, n,
				 in->cond.threshold, c, n, est,
				 out->name, cond_op_name(out->cond.op), out->cond.threshold,
				 rule_cond_line(out));
	}
	return 0;
}

static int check_rule(const struct engine_conf *conf, const struct setting *s,
		      const struct profile *p, const struct rule *r, struct check_report *rep)
{
	char a[32], b[32];
	int64_t every = setting_evaluate_every(conf, s);
	int err = 0;

	if (r->cond.period_ns < every)
		err |= check_add(rep, CHECK_WARNING, "window-short", rule_cond_line(r), s->name, p->name, r->name,
				 "the condition's window %s is shorter than evaluate_every %s: data between two evaluations is never looked at",
				 duration_format(r->cond.period_ns, a, sizeof(a)),
				 duration_format(every, b, sizeof(b)));
	if (r->kind != SCALE_TO && r->cooldown_ns < r->cond.period_ns)
		err |= check_add(rep, CHECK_NOTE, "cooldown-short", r->line, s->name, p->name, r->name,
				 "cooldown %s is shorter than the condition's window %s: the next decision still sees data from before this rule's scale action",
				 duration_format(r->cooldown_ns, a, sizeof(a)),
				 duration_format(r->cond.period_ns, b, sizeof(b)));
	if (r->percent && (uint64_t)p->max_count * r->amount < 100 && p->min_count < p->max_count)
		err |= check_add(rep, CHECK_NOTE, "percent-floor", r->line, s->name, p->name, r->name,
				 "scale %s %u%%: %u%% of at most %u instances is under one, so it always moves by 1 instance (as Azure does)",
				 scale_kind_name(r->kind), r->amount, r->amount, p->max_count);
	if (r->kind == SCALE_TO && (r->amount > p->max_count || r->amount < p->min_count))
		err |= check_add(rep, CHECK_WARNING, "to-clamped", r->line, s->name, p->name, r->name,
				 "scale to %u is outside the profile's min_count %u and max_count %u: it scales to %u",
				 r->amount, p->min_count, p->max_count,
				 r->amount > p->max_count ? p->max_count : p->min_count);
	return err;
}

static int check_rules(const struct engine_conf *conf, const struct setting *s,
		       const struct profile *p, struct check_report *rep)
{
	unsigned i, j, nin = 0, nto_down = 0;
	bool paired;
	int err = 0;

	if (!p->nrules)
		return 0;
	for (i = 0; i < p->nrules; i++) {
		nin += p->rules[i].kind == SCALE_IN;
		nto_down += p->rules[i].kind == SCALE_TO && p->rules[i].amount < p->max_count;
	}
	if (p->min_count == p->max_count)
		return check_add(rep, CHECK_WARNING, "rules-idle",
				 p->has_max ? p->line_max : p->has_min ? p->line_min : p->line_count,
				 s->name, p->name, NULL,
				 "min_count = max_count = %u: the profile's %u rule(s) can never change the count",
				 p->min_count, p->nrules);
	if (!nin && !nto_down)
		err |= check_add(rep, CHECK_WARNING, "no-scale-in", p->line, s->name, p->name, NULL,
				 "profile '%s' has no scale-in rule: it can only grow (up to max_count %u) until another profile applies",
				 p->name, p->max_count);
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		err |= check_rule(conf, s, p, r, rep);
		if (r->kind != SCALE_OUT || !nin)
			continue;
		paired = false;
		for (j = 0; j < p->nrules; j++)
			if (p->rules[j].kind == SCALE_IN && same_metric(r, &p->rules[j]))
				paired = true;
		if (!paired)
			err |= check_add(rep, CHECK_NOTE, "out-unpaired", rule_cond_line(r), s->name, p->name, r->name,
					 "scale-out on '%s' has no scale-in rule on the same metric: the count it adds goes back only when the other metrics allow",
					 r->cond.metric);
	}
	for (i = 0; i < p->nrules; i++)
		for (j = 0; j < p->nrules; j++)
			if (p->rules[i].kind == SCALE_IN && p->rules[j].kind == SCALE_OUT)
				err |= check_flap(s, p, &p->rules[i], &p->rules[j], rep);
	return err;
}

/* ---- schedules ---- */

static int check_schedule(const struct setting *s, int64_t now, struct check_report *rep)
{
	bool seen[PROFILES_MAX] = { false }, by[PROFILES_MAX];
	int64_t t, until = now + (int64_t)CHECK_HORIZON_DAYS * 86400, limit, next, c;
	char names[256], date[32];
	unsigned i, k;
	size_t len;
	int err = 0;

	for (t = now; t < until; t = schedule_next_change(s, t, until))
		seen[schedule_profile(s, t)] = true;
	for (i = 0; i < s->nprofiles; i++) {
		const struct profile *p = &s->profiles[i];

		if (p->kind == PROFILE_FIXED && p->fixed_end <= now) {
			time_format_rfc3339(p->fixed_end * NSEC_PER_SEC, date, sizeof(date));
			err |= check_add(rep, CHECK_WARNING, "past", p->line_end, s->name, p->name, NULL,
					 "fixed-date profile '%s' ended at %s, before now: it never applies",
					 p->name, date);
			continue;
		}
		if (p->kind != PROFILE_RECURRING || seen[i])
			continue;
		/* who wins whenever p's own recurrence holds */
		memset(by, 0, sizeof(by));
		limit = now + SHADOW_SCAN_DAYS * 86400;
		for (t = now; t < limit; t = next) {
			next = schedule_recurring_next(p, t);
			c = schedule_next_change(s, t, limit);
			if (c < next)
				next = c;
			if (schedule_recurring_holds(p, t))
				by[schedule_profile(s, t)] = true;
		}
		names[0] = '\0';
		for (k = 0, len = 0; k < s->nprofiles && len < sizeof(names); k++)
			if (by[k] && k != i)
				len += (size_t)snprintf(names + len, sizeof(names) - len, "%s'%s'",
							len ? ", " : "", s->profiles[k].name);
		err |= check_add(rep, CHECK_WARNING, "shadowed", p->line_recur ? p->line_recur : p->line,
				 s->name, p->name, NULL,
				 "recurring profile '%s' is never in force in the %d days from now: %s always take%s precedence (fixed dates first, then recurring profiles in file order)",
				 p->name, CHECK_HORIZON_DAYS, names[0] ? names : "earlier profiles",
				 strchr(names, ',') || !names[0] ? "" : "s");
	}
	return err;
}

int check_conf(const struct engine_conf *conf, int64_t now, struct check_report *rep)
{
	size_t si;
	unsigned i;
	int err = 0;

	for (si = 0; si < conf->nsettings; si++) {
		const struct setting *s = &conf->settings[si];

		for (i = 0; i < s->nprofiles; i++)
			err |= check_rules(conf, s, &s->profiles[i], rep);
		err |= check_schedule(s, now, rep);
	}
	return err ? -ENOMEM : 0;
}

/* ---- loading for tools ---- */

struct check_loader {
	const char *path;
	unsigned flags;
	struct check_report *rep;
	int err;
};

static int check_key(struct conf_ctx *c, const char *setting, const char *key,
		     const char *value, void *user)
{
	struct check_loader *l = user;

	(void)value;
	if (l->flags & CHECK_LOAD_NOTE_KEYS)
		l->err |= check_add(l->rep, CHECK_NOTE, "daemon-key", c->line, setting, NULL, NULL,
				    "'%s' is not an engine key: ascoord checks it (and its value) when it starts",
				    key);
	return 0;
}

/* Takes "PATH:LINE: message" (or "PATH: message") from the loader as an error. */
static void check_sink(int prio, const char *msg, void *user)
{
	struct check_loader *l = user;
	size_t n = strlen(l->path);
	unsigned long line = 0;
	char *end;

	if (prio > LOG_ERR)
		return;
	if (strncmp(msg, l->path, n) == 0 && msg[n] == ':') {
		if (msg[n + 1] >= '0' && msg[n + 1] <= '9') {
			line = strtoul(msg + n + 1, &end, 10);
			if (*end == ':' && end[1] == ' ' && line <= 0xffffffffUL)
				msg = end + 2;
			else
				line = 0;
		}
		if (!line && msg[n + 1] == ' ')
			msg += n + 2;
	}
	l->err |= check_add(l->rep, CHECK_ERROR, "invalid", (unsigned)line, NULL, NULL, NULL, "%s", msg);
}

int check_load(const char *path, unsigned flags, struct check_report *rep,
	       struct engine_conf **out)
{
	struct check_loader l = { .path = path, .flags = flags, .rep = rep };
	int r;

	if (flags & CHECK_LOAD_COLLECT)
		log_set_sink(check_sink, &l);
	r = setting_conf_load(path, check_key, &l, out);
	if (flags & CHECK_LOAD_COLLECT)
		log_set_sink(NULL, NULL);
	if (l.err && r == 0) {
		setting_conf_free(*out);
		*out = NULL;
		r = -ENOMEM;
	}
	return r;
}
