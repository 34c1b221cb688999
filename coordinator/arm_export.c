/* arm_export: the engine's settings as Azure autoscaleSettings resources (ARM JSON) */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "setting_write.h"
#include "timeutil.h"
#include "tz.h"

#define URI_MAX	1024

static const char *const stat_names[] = { "Average", "Min", "Max", "Sum", "Count" };
static const char *const agg_names[] = { "Average", "Minimum", "Maximum", "Total", "Count", "Last" };
static const char *const op_names[] = {
	"Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"
};
static const char *const day_names[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
};

void arm_target_default(struct arm_target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->subscription, sizeof(t->subscription), "00000000-0000-0000-0000-000000000000");
	snprintf(t->resource_group, sizeof(t->resource_group), "ascale");
	snprintf(t->workspace, sizeof(t->workspace), "ascale");
	snprintf(t->location, sizeof(t->location), "[resourceGroup().location]");
}

void arm_duration_format(int64_t ns, char *buf, size_t len)
{
	int64_t s, d, h, m, frac;
	size_t off;

	if (!len)
		return;
	if (ns <= 0) {
		snprintf(buf, len, "PT0S");
		return;
	}
	frac = ns % NSEC_PER_SEC / NSEC_PER_MSEC;
	s = ns / NSEC_PER_SEC;
	d = s / 86400;
	h = s / 3600 % 24;
	m = s / 60 % 60;
	s %= 60;
	off = (size_t)snprintf(buf, len, "P");
	if (d && off < len)
		off += snprintf(buf + off, len - off, "%lldD", (long long)d);
	if ((h || m || s || frac) && off < len)
		off += snprintf(buf + off, len - off, "T");
	if (h && off < len)
		off += snprintf(buf + off, len - off, "%lldH", (long long)h);
	if (m && off < len)
		off += snprintf(buf + off, len - off, "%lldM", (long long)m);
	if (frac && off < len) {
		char f[8];
		int n;

		n = snprintf(f, sizeof(f), "%03lld", (long long)frac);
		while (n > 1 && f[n - 1] == '0')
			f[--n] = '\0';
		snprintf(buf + off, len - off, "%lld.%sS", (long long)s, f);
	} else if (s && off < len) {
		snprintf(buf + off, len - off, "%lldS", (long long)s);
	}
}

int arm_duration_parse(const char *s, int64_t *ns)
{
	static const struct {
		char unit;
		bool time;
		int64_t ns;
	} units[] = {
		{ 'W', false, 7 * 86400 * NSEC_PER_SEC }, { 'D', false, 86400 * NSEC_PER_SEC },
		{ 'H', true, 3600 * NSEC_PER_SEC }, { 'M', true, 60 * NSEC_PER_SEC },
		{ 'S', true, NSEC_PER_SEC },
	};
	const char *p = s;
	bool in_time = false;
	int64_t total = 0, v, frac;
	size_t u = 0, k;
	int parts = 0, digits, fd;

	if (*p != 'P' && *p != 'p')
		return -EINVAL;
	p++;
	while (*p) {
		if (*p == 'T' || *p == 't') {
			if (in_time)
				return -EINVAL;
			in_time = true;
			p++;
			if (!*p)
				return -EINVAL;
			continue;
		}
		for (v = 0, digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
			v = v * 10 + (*p - '0');
			if (v > 100000000)
				return -EINVAL;
		}
		if (!digits)
			return -EINVAL;
		frac = 0;
		if (*p == '.' || *p == ',') {
			p++;
			for (fd = 0; *p >= '0' && *p <= '9'; p++, fd++)
				if (fd < 9)
					frac = frac * 10 + (*p - '0');
			if (!fd)
				return -EINVAL;
			for (; fd < 9; fd++)
				frac *= 10;
		}
		for (k = u; k < sizeof(units) / sizeof(units[0]); k++)
			if ((*p & ~0x20) == units[k].unit && units[k].time == in_time)
				break;
		if (k == sizeof(units) / sizeof(units[0]) || (frac && units[k].unit != 'S'))
			return -EINVAL;	/* unknown, out of order, or a fraction of a bigger unit */
		total += v * units[k].ns + frac;
		if (total > 400LL * 86400 * NSEC_PER_SEC)
			return -EINVAL;
		u = k + 1;
		p++;
		parts++;
	}
	if (!parts)
		return -EINVAL;
	*ns = total;
	return 0;
}

void arm_rule_name(const struct profile *p, unsigned i, char *buf, size_t len)
{
	static const char *const base[] = { "scale-out", "scale-in", "scale-to" };
	const char *b = (unsigned)p->rules[i].kind < 3 ? base[p->rules[i].kind] : "rule";
	unsigned n, j;
	bool taken;

	for (n = 1; n <= RULES_MAX + 1; n++) {
		if (n == 1)
			snprintf(buf, len, "%s", b);
		else
			snprintf(buf, len, "%s-%u", b, n);
		taken = false;
		for (j = 0; j < i && j < RULES_MAX; j++)
			if (strcmp(p->rules[j].name, buf) == 0)
				taken = true;
		if (!taken)
			return;
	}
}

static json_t *str_count(unsigned v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	return json_string(buf);
}

static json_t *duration_json(int64_t ns)
{
	char buf[64];

	arm_duration_format(ns, buf, sizeof(buf));
	return json_string(buf);
}

static const char *zone_name(const struct profile *p)
{
	return p->tz_name[0] ? p->tz_name : "UTC";
}

static json_t *export_dimensions(const struct condition *c)
{
	json_t *dims = json_array(), *d, *values;
	unsigned i, j;

	for (i = 0; dims && i < c->nfilters && i < COND_FILTERS_MAX; i++) {
		const struct cond_filter *f = &c->filters[i];

		values = json_array();
		for (j = 0; values && j < f->nvalues && j < COND_VALUES_MAX; j++)
			json_array_append_new(values, json_string(cond_filter_value(f, j)));
		d = json_pack("{s:s, s:s, s:o*}", "DimensionName", f->dim,
			      "Operator", f->negate ? "NotEquals" : "Equals", "Values", values);
		if (!d || json_array_append_new(dims, d) < 0) {
			json_decref(dims);
			return NULL;
		}
	}
	return dims;
}

static json_t *export_rule(const struct rule *r, const char *target_uri, const char *endpoint_uri)
{
	static const char *const directions[] = { "Increase", "Decrease", "None" };
	const struct condition *c = &r->cond;
	json_t *trigger, *action;
	char value[16];

	trigger = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:o, s:o, s:b}",
			    "metricName", c->metric,
			    "metricNamespace", c->ns,
			    "metricResourceUri",
			    r->resource == RESOURCE_ENDPOINT ? endpoint_uri : target_uri,
			    "timeGrain", duration_json(r->grain_ns),
			    "statistic", stat_names[r->grain_stat % 5],
			    "timeWindow", duration_json(c->period_ns),
			    "timeAggregation", agg_names[c->agg % 6],
			    "operator", op_names[c->op % 6],
			    "threshold", json_real(c->threshold),
			    "dimensions", export_dimensions(c),
			    "dividePerInstance", r->divide_per_instance);
	snprintf(value, sizeof(value), "%u", r->amount);
	action = json_pack("{s:s, s:s, s:s, s:o}",
			   "direction", directions[r->kind % 3],
			   "type", r->kind == SCALE_TO ? "ExactCount" :
				   r->percent ? "PercentChangeCount" : "ChangeCount",
			   "value", value,
			   "cooldown", duration_json(r->cooldown_ns));
	return json_pack("{s:o, s:o}", "metricTrigger", trigger, "scaleAction", action);
}

static json_t *export_days(unsigned days)
{
	json_t *a = json_array();
	int i, d;

	for (i = 1; a && i <= 7; i++) {
		d = i % 7;	/* Monday first, as the portal writes them */
		if (days & (1u << d))
			json_array_append_new(a, json_string(day_names[d]));
	}
	return a;
}

static json_t *export_recurrence(const char *zone, unsigned days, int min)
{
	return json_pack("{s:s, s:{s:s, s:o, s:[i], s:[i]}}", "frequency", "Week",
			 "schedule", "timeZone", zone, "days", export_days(days),
			 "hours", min / 60, "minutes", min % 60);
}

static json_t *export_date(int64_t local)
{
	struct civil c;
	char buf[32];

	civil_from_secs(local, &c);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day,
		 c.hour, c.min, c.sec);
	return json_string(buf);
}

/* A profile's Azure form, with the capacity and rules of cap (itself or the default). */
static json_t *export_profile(const char *name, const struct profile *cap, const char *target_uri,
			      const char *endpoint_uri)
{
	json_t *rules = json_array(), *r;
	unsigned i;

	for (i = 0; rules && i < cap->nrules && i < RULES_MAX; i++) {
		r = export_rule(&cap->rules[i], target_uri, endpoint_uri);
		if (!r || json_array_append_new(rules, r) < 0) {
			json_decref(rules);
			return NULL;
		}
	}
	return json_pack("{s:s, s:{s:o, s:o, s:o}, s:o}", "name", name,
			 "capacity", "minimum", str_count(cap->min_count),
			 "maximum", str_count(cap->max_count), "default", str_count(cap->count),
			 "rules", rules);
}

static unsigned days_after(unsigned days)
{
	return ((days << 1) | (days >> 6)) & 0x7f;
}

static int export_profiles(const struct setting *s, json_t *profiles, json_t *tags,
			   const char *target_uri, const char *endpoint_uri)
{
	const struct profile *def = setting_default_profile(s), *p;
	char derived[SETTING_NAME_MAX], key[256], *auto_name;
	json_t *jp, *pair, *sched;
	unsigned i, j;
	int r = 0;

	for (i = 0; i < s->nprofiles && i < PROFILES_MAX; i++) {
		p = &s->profiles[i];
		jp = export_profile(p->name, p, target_uri, endpoint_uri);
		if (!jp)
			return -ENOMEM;
		for (j = 0; j < p->nrules && j < RULES_MAX; j++) {
			arm_rule_name(p, j, derived, sizeof(derived));
			if (strcmp(derived, p->rules[j].name) == 0)
				continue;
			snprintf(key, sizeof(key), ARM_TAG_PREFIX "rule:%s:%u", p->name, j + 1);
			r |= json_object_set_new(tags, key, json_string(p->rules[j].name));
		}
		if (p->kind == PROFILE_FIXED) {
			sched = json_pack("{s:s, s:o, s:o}", "timeZone", zone_name(p),
					  "start", export_date(p->fixed_start_local),
					  "end", export_date(p->fixed_end_local));
			r |= json_object_set_new(jp, "fixedDate", sched);
		} else if (p->kind == PROFILE_RECURRING) {
			r |= json_object_set_new(jp, "recurrence",
						 export_recurrence(zone_name(p), p->days, p->start_min));
		}
		r |= json_array_append_new(profiles, jp);
		if (p->kind != PROFILE_RECURRING || !def)
			continue;
		/* Azure's recurrences only start: the default's pair starts at our end */
		pair = json_pack("{s:s, s:s}", "name", ARM_AUTO_NAME, "for", p->name);
		auto_name = pair ? json_dumps(pair, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(pair);
		if (!auto_name)
			return -ENOMEM;
		jp = export_profile(auto_name, def, target_uri, endpoint_uri);
		free(auto_name);
		if (!jp)
			return -ENOMEM;
		r |= json_object_set_new(jp, "recurrence",
					 export_recurrence(zone_name(p),
							   p->end_min > p->start_min && p->end_min < 24 * 60 ?
							   p->days : days_after(p->days),
							   p->end_min % (24 * 60)));
		r |= json_array_append_new(profiles, jp);
	}
	return r ? -ENOMEM : 0;
}

static json_t *export_setting(const struct engine_conf *conf, const struct setting *s,
			      const struct arm_target *t)
{
	char target_uri[URI_MAX + 80], endpoint_uri[URI_MAX], dur[32];
	json_t *res, *tags, *profiles;
	int r = 0;

	snprintf(endpoint_uri, sizeof(endpoint_uri),
		 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.MachineLearningServices/workspaces/%s/onlineEndpoints/%s",
		 t->subscription, t->resource_group, t->workspace,
		 s->endpoint[0] ? s->endpoint : s->deployment);
	snprintf(target_uri, sizeof(target_uri), "%s/deployments/%s", endpoint_uri, s->deployment);
	tags = json_object();
	profiles = json_array();
	if (!tags || !profiles)
		goto fail;
	if (!s->endpoint[0])
		r |= json_object_set_new(tags, ARM_TAG_PREFIX "endpoint", json_string(""));
	if (strcmp(s->backend, "sim") != 0)
		r |= json_object_set_new(tags, ARM_TAG_PREFIX "backend", json_string(s->backend));
	if (s->evaluate_every_ns)
		r |= json_object_set_new(tags, ARM_TAG_PREFIX "evaluate_every",
					 json_string(duration_format(s->evaluate_every_ns, dur, sizeof(dur))));
	if (conf->evaluate_every_ns != 10 * NSEC_PER_SEC)
		r |= json_object_set_new(tags, ARM_TAG_PREFIX "coordinator.evaluate_every",
					 json_string(duration_format(conf->evaluate_every_ns, dur, sizeof(dur))));
	if (r || export_profiles(s, profiles, tags, target_uri, endpoint_uri) < 0)
		goto fail;
	res = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:s, s:b, s:s, s:o, s:[], s:{s:s}}}",
			"type", ARM_TYPE, "apiVersion", ARM_API_VERSION,
			"name", s->name, "location", t->location, "tags", tags,
			"properties", "name", s->name, "enabled", s->enabled,
			"targetResourceUri", target_uri, "profiles", profiles,
			"notifications", "predictiveAutoscalePolicy", "scaleMode", "Disabled");
	return res;
fail:
	json_decref(tags);
	json_decref(profiles);
	return NULL;
}

int arm_export(const struct engine_conf *conf, const char *only,
	       const struct arm_target *t, json_t **out)
{
	struct arm_target def;
	json_t *arr, *res;
	size_t i;
	int k;

	*out = NULL;
	if (!t) {
		arm_target_default(&def);
		t = &def;
	}
	if (only) {
		k = setting_find(conf, only);
		if (k < 0)
			return -ENOENT;
		*out = export_setting(conf, &conf->settings[k], t);
		return *out ? 0 : -ENOMEM;
	}
	if (conf->nsettings == 1) {
		*out = export_setting(conf, &conf->settings[0], t);
		return *out ? 0 : -ENOMEM;
	}
	arr = json_array();
	for (i = 0; arr && i < conf->nsettings; i++) {
		res = export_setting(conf, &conf->settings[i], t);
		if (!res || json_array_append_new(arr, res) < 0) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	*out = arr;
	return arr ? 0 : -ENOMEM;
}
