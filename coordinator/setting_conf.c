/* setting_conf: loads [coordinator], [autoscale], [profile] and [rule] sections */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "setting.h"
#include "timeutil.h"
#include "tz.h"

#define SETTINGS_MAX	1000

struct loader {
	struct engine_conf *conf;
	size_t cap;
	setting_key_fn extra;
	void *user;
	unsigned coord_seen;
	char bad_section[128];		/* reported once */
};

const char *scale_kind_name(enum scale_kind k)
{
	static const char *const names[] = { "out", "in", "to" };

	return (unsigned)k < 3 ? names[k] : "?";
}

const char *grain_stat_name(enum grain_stat g)
{
	static const char *const names[] = { "avg", "min", "max", "sum", "count" };

	return (unsigned)g < 5 ? names[g] : "?";
}

int setting_find(const struct engine_conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->nsettings; i++)
		if (strcmp(conf->settings[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

const struct profile *setting_default_profile(const struct setting *s)
{
	unsigned i;

	for (i = 0; i < s->nprofiles; i++)
		if (s->profiles[i].kind == PROFILE_DEFAULT)
			return &s->profiles[i];
	return NULL;
}

int64_t setting_evaluate_every(const struct engine_conf *conf, const struct setting *s)
{
	return s->evaluate_every_ns ? s->evaluate_every_ns : conf->evaluate_every_ns;
}

void setting_conf_free(struct engine_conf *conf)
{
	if (!conf)
		return;
	free(conf->settings);
	free(conf);
}

bool setting_name_ok(const char *s)
{
	const char *p;

	if (!*s || strlen(s) >= SETTING_NAME_MAX)
		return false;
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

/* Marks key bit in *seen; reports a repeated key. */
static int once(struct conf_ctx *c, unsigned *seen, unsigned bit, const char *key)
{
	if (*seen & (1u << bit))
		return conf_error(c, "%s: given twice in this section", key);
	*seen |= 1u << bit;
	return 0;
}

static struct setting *setting_get(struct conf_ctx *c, struct loader *l, const char *name)
{
	struct engine_conf *conf = l->conf;
	struct setting *s;
	int i = setting_find(conf, name);

	if (i >= 0)
		return &conf->settings[i];
	if (conf->nsettings == SETTINGS_MAX) {
		conf_error(c, "expected at most %d autoscale settings", SETTINGS_MAX);
		return NULL;
	}
	if (conf->nsettings == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;

		s = realloc(conf->settings, cap * sizeof(*s));
		if (!s) {
			conf_error(c, "out of memory");
			return NULL;
		}
		conf->settings = s;
		l->cap = cap;
	}
	s = &conf->settings[conf->nsettings++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->line = c->line;
	s->enabled = true;
	snprintf(s->backend, sizeof(s->backend), "sim");
	return s;
}

static struct profile *profile_get(struct conf_ctx *c, struct setting *s, const char *name)
{
	struct profile *p;
	unsigned i;

	for (i = 0; i < s->nprofiles; i++)
		if (strcmp(s->profiles[i].name, name) == 0)
			return &s->profiles[i];
	if (s->nprofiles == PROFILES_MAX) {
		conf_error(c, "expected at most %d profiles in autoscale setting '%s'",
			   PROFILES_MAX, s->name);
		return NULL;
	}
	p = &s->profiles[s->nprofiles++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->line = c->line;
	p->end_min = 24 * 60;
	return p;
}

static struct rule *rule_get(struct conf_ctx *c, struct profile *p, const char *name)
{
	struct rule *r;
	unsigned i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return &p->rules[i];
	if (p->nrules == RULES_MAX) {
		conf_error(c, "expected at most %d rules in profile '%s'", RULES_MAX, p->name);
		return NULL;
	}
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->line = c->line;
	r->cooldown_ns = 5 * 60 * NSEC_PER_SEC;
	r->grain_stat = GRAIN_AVG;
	r->grain_ns = 60 * NSEC_PER_SEC;
	return r;
}

static int coordinator_key(struct conf_ctx *c, struct loader *l, const char *key, const char *value)
{
	int r;

	if (strcmp(key, "evaluate_every") == 0) {
		if (once(c, &l->coord_seen, 0, key) < 0)
			return -EINVAL;
		return conf_duration(c, key, value, NSEC_PER_SEC, NSEC_PER_SEC,
				     3600 * NSEC_PER_SEC, &l->conf->evaluate_every_ns);
	}
	r = l->extra ? l->extra(c, NULL, key, value, l->user) : -ENOENT;
	if (r == -ENOENT)
		return conf_error(c, "unknown key '%s' in [coordinator]: expected evaluate_every or a daemon key",
				  key);
	return r;
}

static int autoscale_key(struct conf_ctx *c, struct loader *l, struct setting *s,
			 const char *key, const char *value)
{
	static const char *const keys[] = {
		"deployment", "endpoint", "enabled", "backend", "evaluate_every", NULL
	};
	static const char *const backends[] = { "azureml", "kubernetes", "http", "exec", "sim", NULL };
	int k, r, b;

	for (k = 0; keys[k]; k++)
		if (strcmp(key, keys[k]) == 0)
			break;
	if (!keys[k]) {
		r = l->extra ? l->extra(c, s->name, key, value, l->user) : -ENOENT;
		if (r == -ENOENT)
			return conf_error(c, "unknown key '%s' in [autoscale %s]: expected deployment, endpoint, enabled, backend or evaluate_every",
					  key, s->name);
		return r;
	}
	if (once(c, &s->seen, k, key) < 0)
		return -EINVAL;
	s->declared = true;
	switch (k) {
	case 0:
		if (!setting_name_ok(value))
			return conf_error(c, "deployment: expected a name of letters, digits, '_', '.' or '-', not '%s'", value);
		return conf_string(c, key, value, s->deployment, sizeof(s->deployment));
	case 1:
		if (!setting_name_ok(value))
			return conf_error(c, "endpoint: expected a name of letters, digits, '_', '.' or '-', not '%s'", value);
		return conf_string(c, key, value, s->endpoint, sizeof(s->endpoint));
	case 2:
		return conf_bool(c, key, value, &s->enabled);
	case 3:
		if (conf_choice(c, key, value, backends, &b) < 0)
			return -EINVAL;
		snprintf(s->backend, sizeof(s->backend), "%s", backends[b]);
		return 0;
	default:
		return conf_duration(c, key, value, NSEC_PER_SEC, NSEC_PER_SEC,
				     3600 * NSEC_PER_SEC, &s->evaluate_every_ns);
	}
}

/* "HH:MM" (00:00..24:00) into minutes */
static int parse_hhmm(const char *v, int *min)
{
	int h, m, n = 0;

	if (sscanf(v, "%2d:%2d%n", &h, &m, &n) != 2 || v[n] || strlen(v) != 5 ||
	    h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m))
		return -EINVAL;
	*min = h * 60 + m;
	return 0;
}

/* "YYYY-MM-DD[( |T)HH:MM[:SS]]" into local seconds */
static int parse_date(const char *v, int64_t *secs)
{
	struct civil c = { 0 }, back;
	int n = 0, k;

	if (sscanf(v, "%4d-%2d-%2d%n", &c.year, &c.month, &c.day, &n) != 3 || n != 10)
		return -EINVAL;
	if (v[n]) {
		if (v[n] != ' ' && v[n] != 'T')
			return -EINVAL;
		v += n + 1;
		n = 0;
		k = sscanf(v, "%2d:%2d%n:%2d%n", &c.hour, &c.min, &n, &c.sec, &n);
		if (k < 2 || v[n] || (n != 5 && n != 8) || c.hour > 23 || c.min > 59 || c.sec > 59 ||
		    c.hour < 0 || c.min < 0 || c.sec < 0)
			return -EINVAL;
	}
	if (c.year < 1970 || c.year > 2200)
		return -EINVAL;
	*secs = civil_to_secs(&c);
	civil_from_secs(*secs, &back);
	if (back.month != c.month || back.day != c.day)
		return -EINVAL;	/* 2026-02-30 */
	return 0;
}

static int parse_when(struct conf_ctx *c, const char *key, const char *v, bool *is_date,
		      int *min, int64_t *secs)
{
	if (parse_hhmm(v, min) == 0) {
		*is_date = false;
		if (strcmp(key, "start") == 0 && *min == 24 * 60)
			return conf_error(c, "start: expected a time from 00:00 to 23:59, not '24:00'");
		return 0;
	}
	if (parse_date(v, secs) == 0) {
		*is_date = true;
		return 0;
	}
	return conf_error(c, "%s: expected HH:MM (recurring) or YYYY-MM-DD [HH:MM[:SS]] (fixed date), not '%s'",
			  key, v);
}

static int parse_recurrence(struct conf_ctx *c, const char *value, unsigned *days)
{
	static const char *const names[] = {
		"sun", "mon", "tue", "wed", "thu", "fri", "sat",
	};
	static const char *const long_names[] = {
		"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	};
	char buf[256], *w[9];
	int n, i, d;

	if (conf_string(c, "recurrence", value, buf, sizeof(buf)) < 0)
		return -EINVAL;
	n = conf_section_words(buf, w, 9);
	if (n < 2 || strcasecmp(w[0], "week") != 0)
		return conf_error(c, "recurrence: expected 'week' and days (such as week mon tue wed thu fri), not '%s'",
				  value);
	*days = 0;
	for (i = 1; i < n; i++) {
		for (d = 0; d < 7; d++)
			if (strcasecmp(w[i], names[d]) == 0 || strcasecmp(w[i], long_names[d]) == 0)
				break;
		if (d == 7)
			return conf_error(c, "recurrence: expected a day (mon, tue, wed, thu, fri, sat or sun), not '%s'",
					  w[i]);
		*days |= 1u << d;
	}
	return 0;
}

static int profile_key(struct conf_ctx *c, struct profile *p, const char *key, const char *value)
{
	static const char *const keys[] = {
		"min_count", "max_count", "count", "recurrence", "start", "end", "timezone", NULL
	};
	uint64_t v;
	int k, r;

	for (k = 0; keys[k]; k++)
		if (strcmp(key, keys[k]) == 0)
			break;
	if (!keys[k])
		return conf_error(c, "unknown key '%s' in a profile: expected min_count, max_count, count, recurrence, start, end or timezone",
				  key);
	if (once(c, &p->seen, k, key) < 0)
		return -EINVAL;
	p->declared = true;
	switch (k) {
	case 0: case 1: case 2:
		r = conf_uint(c, key, value, 0, COUNT_MAX, &v);
		if (r < 0)
			return r;
		if (k == 0) {
			p->min_count = (unsigned)v;
			p->has_min = true;
			p->line_min = c->line;
		} else if (k == 1) {
			p->max_count = (unsigned)v;
			p->has_max = true;
			p->line_max = c->line;
		} else {
			p->count = (unsigned)v;
			p->has_count = true;
			p->line_count = c->line;
		}
		return 0;
	case 3:
		p->line_recur = c->line;
		return parse_recurrence(c, value, &p->days);
	case 4:
		p->line_start = c->line;
		p->has_start = true;
		return parse_when(c, key, value, &p->start_is_date, &p->start_min, &p->fixed_start_local);
	case 5:
		p->line_end = c->line;
		p->has_end = true;
		return parse_when(c, key, value, &p->end_is_date, &p->end_min, &p->fixed_end_local);
	default:
		if (conf_string(c, key, value, p->tz_name, sizeof(p->tz_name)) < 0)
			return -EINVAL;
		if (tz_load(value, &p->tz) < 0)
			return conf_error(c, "timezone: expected a Windows zone name (such as Pacific Standard Time) or an IANA name (such as America/Los_Angeles), not '%s'",
					  value);
		return 0;
	}
}

static int parse_scale(struct conf_ctx *c, struct rule *r, const char *value)
{
	static const char *const kinds[] = { "out", "in", "to" };
	char buf[128], *w[4], *end;
	unsigned long v;
	size_t n;
	int nw, k;

	if (conf_string(c, "scale", value, buf, sizeof(buf)) < 0)
		return -EINVAL;
	nw = conf_section_words(buf, w, 4);
	if (nw < 2 || nw > 3)
		goto bad;
	for (k = 0; k < 3; k++)
		if (strcasecmp(w[0], kinds[k]) == 0)
			break;
	if (k == 3)
		goto bad;
	r->kind = (enum scale_kind)k;
	n = strlen(w[1]);
	r->percent = false;
	if (n > 1 && w[1][n - 1] == '%') {
		w[1][n - 1] = '\0';
		r->percent = true;
	}
	if (nw == 3) {
		if (r->percent || (strcmp(w[2], "%") != 0 && strcasecmp(w[2], "percent") != 0))
			goto bad;
		r->percent = true;
	}
	if (r->percent && r->kind == SCALE_TO)
		goto bad;
	errno = 0;
	if (!isdigit((unsigned char)w[1][0]))
		goto bad;
	v = strtoul(w[1], &end, 10);
	if (*end || errno)
		goto bad;
	if (r->percent ? (v < 1 || v > 100) :
	    r->kind == SCALE_TO ? v > COUNT_MAX : (v < 1 || v > COUNT_MAX))
		return conf_error(c, "scale: expected %s, not '%s'",
				  r->percent ? "a percentage from 1 to 100" :
				  r->kind == SCALE_TO ? "a count from 0 to 1000" : "a change from 1 to 1000",
				  value);
	r->amount = (unsigned)v;
	return 0;
bad:
	return conf_error(c, "scale: expected out N, in N, out N%%, in N%% or to N, not '%s'", value);
}

static int parse_timegrain(struct conf_ctx *c, struct rule *r, const char *value)
{
	static const char *const stats[] = { "avg", "min", "max", "sum", "count" };
	char buf[64], *w[3];
	int n, k;

	if (conf_string(c, "timegrain", value, buf, sizeof(buf)) < 0)
		return -EINVAL;
	n = conf_section_words(buf, w, 3);
	if (n != 2)
		goto bad;
	for (k = 0; k < 5; k++)
		if (strcasecmp(w[0], stats[k]) == 0)
			break;
	if (k == 5 || cond_period_parse(w[1], strlen(w[1]), &r->grain_ns) < 0)
		goto bad;
	r->grain_stat = (enum grain_stat)k;
	r->line_grain = c->line;
	return 0;
bad:
	return conf_error(c, "timegrain: expected a statistic (avg, min, max, sum or count) and a period (such as avg 1m), not '%s'",
			  value);
}

static int rule_key(struct conf_ctx *c, struct rule *r, const char *key, const char *value)
{
	static const char *const keys[] = {
		"condition", "scale", "cooldown", "timegrain", "resource", "divide_per_instance", NULL
	};
	static const char *const resources[] = { "deployment", "endpoint", NULL };
	char err[256];
	int k, res;

	for (k = 0; keys[k]; k++)
		if (strcmp(key, keys[k]) == 0)
			break;
	if (!keys[k])
		return conf_error(c, "unknown key '%s' in a rule: expected condition, scale, cooldown, timegrain, resource or divide_per_instance",
				  key);
	if (once(c, &r->seen, k, key) < 0)
		return -EINVAL;
	switch (k) {
	case 0:
		r->line_cond = c->line;
		if (condition_parse(value, &r->cond, err, sizeof(err)) < 0)
			return conf_error(c, "condition: %s", err);
		r->has_cond = true;
		return 0;
	case 1:
		return parse_scale(c, r, value);
	case 2:
		return conf_duration(c, key, value, 60 * NSEC_PER_SEC, 0,
				     7 * 86400 * NSEC_PER_SEC, &r->cooldown_ns);
	case 3:
		return parse_timegrain(c, r, value);
	case 4:
		if (conf_choice(c, key, value, resources, &res) < 0)
			return -EINVAL;
		r->resource = (enum rule_resource)res;
		return 0;
	default:
		return conf_bool(c, key, value, &r->divide_per_instance);
	}
}

static int loader_key(struct conf_ctx *c, const char *section, const char *key,
		      const char *value, void *user)
{
	struct loader *l = user;
	struct setting *s;
	struct profile *p;
	struct rule *r;
	char buf[256], *w[5];
	int n, i;

	if (conf_string(c, "section name", section, buf, sizeof(buf)) < 0)
		return -EINVAL;
	n = conf_section_words(buf, w, 5);
	if (n == 1 && strcmp(w[0], "coordinator") == 0)
		return coordinator_key(c, l, key, value);
	if (n >= 2 && n <= 4 && ((n == 2 && strcmp(w[0], "autoscale") == 0) ||
				 (n == 3 && strcmp(w[0], "profile") == 0) ||
				 (n == 4 && strcmp(w[0], "rule") == 0))) {
		for (i = 1; i < n; i++)
			if (!setting_name_ok(w[i]))
				return conf_error(c, "[%s]: expected names of letters, digits, '_', '.' or '-' (at most %d characters), not '%s'",
						  section, SETTING_NAME_MAX - 1, w[i]);
		if (strcmp(l->bad_section, section) == 0)
			return -EINVAL;
		s = setting_get(c, l, w[1]);
		if (!s)
			goto bad;
		if (n == 2)
			return autoscale_key(c, l, s, key, value);
		p = profile_get(c, s, w[2]);
		if (!p)
			goto bad;
		if (n == 3)
			return profile_key(c, p, key, value);
		r = rule_get(c, p, w[3]);
		if (!r)
			goto bad;
		return rule_key(c, r, key, value);
	}
	if (strcmp(l->bad_section, section) == 0)
		return -EINVAL;
	snprintf(l->bad_section, sizeof(l->bad_section), "%s", section);
	return conf_error(c, "unknown section [%s]: expected [coordinator], [autoscale NAME], [profile SETTING PROFILE] or [rule SETTING PROFILE RULE]",
			  section);
bad:
	/* the section was refused (reported once): skip its other keys */
	snprintf(l->bad_section, sizeof(l->bad_section), "%s", section);
	return -EINVAL;
}

/* ---- whole-file checks, once every key is read ---- */

static int check_profile(struct conf_ctx *c, struct setting *s, struct profile *p)
{
	unsigned i;
	int err = 0;

	c->line = p->line;
	if (!p->declared) {
		err = conf_error(c, "[rule %s %s ...]: expected a [profile %s %s] section with its counts",
				 s->name, p->name, s->name, p->name);
		return err;
	}
	if (!p->has_count && (p->seen & 4))
		return -EINVAL;
	if (!p->has_count)
		return conf_error(c, "[profile %s %s]: expected count = N (the default capacity)",
				  s->name, p->name);
	if (!p->has_min)
		p->min_count = p->count;
	if (!p->has_max)
		p->max_count = p->count;
	if (p->min_count > p->max_count) {
		c->line = p->has_min ? p->line_min : p->line_max;
		err = conf_error(c, "min_count %u is above max_count %u: expected min_count <= max_count",
				 p->min_count, p->max_count);
	} else if (p->count < p->min_count || p->count > p->max_count) {
		c->line = p->line_count;
		err = conf_error(c, "count %u: expected a default count from min_count %u to max_count %u",
				 p->count, p->min_count, p->max_count);
	}
	if (strcmp(p->name, "default") == 0) {
		p->kind = PROFILE_DEFAULT;
		if (p->days || p->has_start || p->has_end) {
			c->line = p->days ? p->line_recur : p->has_start ? p->line_start : p->line_end;
			err = conf_error(c, "[profile %s default]: the default profile applies whenever no other does: expected no recurrence, start or end",
					 s->name);
		}
	} else if (p->days) {
		p->kind = PROFILE_RECURRING;
		if ((p->has_start && p->start_is_date) || (p->has_end && p->end_is_date)) {
			c->line = p->has_start && p->start_is_date ? p->line_start : p->line_end;
			err = conf_error(c, "a recurring profile: expected start and end as HH:MM");
		} else if (p->start_min == (p->has_end ? p->end_min : 24 * 60)) {
			c->line = p->line_end ? p->line_end : p->line_start;
			err = conf_error(c, "end: expected a time other than start (the profile would never apply)");
		}
	} else if (p->has_start || p->has_end) {
		p->kind = PROFILE_FIXED;
		if (!p->has_start || !p->has_end || !p->start_is_date || !p->end_is_date) {
			c->line = p->has_start ? p->line_start : p->line_end;
			err = conf_error(c, "a fixed-date profile: expected both start and end as YYYY-MM-DD [HH:MM] (or recurrence for a weekly one)");
		} else {
			p->fixed_start = tz_from_local(p->tz, p->fixed_start_local);
			p->fixed_end = tz_from_local(p->tz, p->fixed_end_local);
			if (p->fixed_end <= p->fixed_start) {
				c->line = p->line_end;
				err = conf_error(c, "end: expected a time after start");
			}
		}
	} else {
		err = conf_error(c, "[profile %s %s]: expected recurrence or start and end (only the profile named default has no schedule)",
				 s->name, p->name);
	}
	for (i = 0; i < p->nrules; i++) {
		struct rule *r = &p->rules[i];

		c->line = r->line;
		if (!r->has_cond) {
			if (r->seen & 1)
				continue;	/* reported where it was read */
			err = conf_error(c, "[rule %s %s %s]: expected condition = ...", s->name, p->name, r->name);
			continue;
		}
		if (!(r->seen & 2)) {
			err = conf_error(c, "[rule %s %s %s]: expected scale = out N, in N, out N%%, in N%% or to N",
					 s->name, p->name, r->name);
			continue;
		}
		c->line = r->line_grain ? r->line_grain : r->line_cond;
		if (r->grain_ns > r->cond.period_ns)
			err = conf_error(c, "[rule %s %s %s]: the time grain is longer than the condition's window: expected a grain of at most the window",
					 s->name, p->name, r->name);
		else if (r->cond.period_ns / r->grain_ns > WINDOW_GRAINS_MAX)
			err = conf_error(c, "[rule %s %s %s]: expected at most %d grains in the window",
					 s->name, p->name, r->name, WINDOW_GRAINS_MAX);
	}
	return err;
}

static int check_setting(struct conf_ctx *c, struct setting *s)
{
	struct profile *p, *q;
	unsigned i, j;
	int err = 0;

	c->line = s->line;
	if (!s->declared || !s->deployment[0])
		return conf_error(c, "autoscale setting '%s': expected an [autoscale %s] section with deployment = NAME",
				  s->name, s->name);
	for (i = 0; i < s->nprofiles; i++)
		if (check_profile(c, s, &s->profiles[i]) < 0)
			err = -EINVAL;
	if (!setting_default_profile(s)) {
		c->line = s->line;
		err = conf_error(c, "autoscale setting '%s': expected a [profile %s default] section (the fallback profile)",
				 s->name, s->name);
	}
	if (err)
		return err;
	for (i = 0; i < s->nprofiles; i++) {
		p = &s->profiles[i];
		for (j = 0; p->kind == PROFILE_FIXED && j < i; j++) {
			q = &s->profiles[j];
			if (q->kind == PROFILE_FIXED && p->fixed_start < q->fixed_end &&
			    q->fixed_start < p->fixed_end) {
				c->line = p->line_start;
				err = conf_error(c, "profile '%s' overlaps fixed-date profile '%s': expected fixed dates that do not overlap",
						 p->name, q->name);
			}
		}
	}
	return err;
}

int setting_conf_load(const char *path, setting_key_fn extra, void *user,
		      struct engine_conf **out)
{
	struct loader l = { .extra = extra, .user = user };
	struct conf_ctx c = { .path = path };
	size_t i;
	int r;

	*out = NULL;
	l.conf = calloc(1, sizeof(*l.conf));
	if (!l.conf)
		return -ENOMEM;
	l.conf->evaluate_every_ns = 10 * NSEC_PER_SEC;
	r = conf_parse_file(path, loader_key, &l);
	if (r == -EINVAL || r == 0) {
		for (i = 0; i < l.conf->nsettings; i++)
			check_setting(&c, &l.conf->settings[i]);
		if (c.errors)
			r = -EINVAL;
	}
	if (r < 0) {
		setting_conf_free(l.conf);
		return r;
	}
	*out = l.conf;
	return 0;
}
