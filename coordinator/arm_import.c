/* arm_import: Azure autoscaleSettings JSON (ARM or az output) into the engine's model */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm.h"
#include "arm_json.h"
#include "log.h"
#include "timeutil.h"
#include "tz.h"

#define IMPORT_SETTINGS_MAX	1000
#define IMPORT_PROFILES_MAX	(2 * PROFILES_MAX)	/* ours and their auto-created pairs */

struct imp {
	struct arm_json js;		/* source and "where" prefix of messages */
	struct engine_conf *conf;
	size_t cap;
	struct arm_target *t;
	bool have_target, have_location, coord_seen, warned_notify;
};

/* One Azure profile, read before pairing. */
struct az_profile {
	const char *name;		/* as Azure has it */
	bool is_auto;			/* an auto-created pair of the default */
	char for_name[256];		/* the profile it ends */
	char path[ARM_JSON_PATH_MAX];
	bool used;
	struct profile p;
};

static const char *const stat_names[] = { "Average", "Min", "Max", "Sum", "Count", NULL };
static const char *const agg_names[] = { "Average", "Minimum", "Maximum", "Total", "Count", "Last", NULL };
static const char *const op_names[] = {
	"Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", NULL
};
static const char *const day_names[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", NULL
};

/* An Azure name as one of ours: other characters become '-'. */
static void name_clean(const char *in, char *out, size_t len)
{
	size_t i, n = 0;

	for (i = 0; in[i] && n + 1 < len && n + 1 < SETTING_NAME_MAX - 4; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (isalnum(ch) || strchr("_.", ch))
			out[n++] = (char)ch;
		else if (n && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (!n)
		snprintf(out, len, "unnamed");
}

/* ---- rules ---- */

static int copy_text(struct imp *im, const char *path, const char *s, char *out, size_t size)
{
	char b[80];
	const char *p;

	if (strlen(s) >= size)
		return arm_json_fail(&im->js, path, "expected at most %zu characters, not '%s'", size - 1,
			    arm_json_shown(s, b, sizeof(b)));
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '"')
			return arm_json_fail(&im->js, path, "expected no quote or control character in '%s'",
				    arm_json_shown(s, b, sizeof(b)));
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int parse_dimension(struct imp *im, const json_t *jd, const char *path, struct cond_filter *f)
{
	char vpath[ARM_JSON_PATH_MAX], ipath[ARM_JSON_PATH_MAX], b[80];
	const char *name, *v;
	json_t *values, *jv;
	size_t i, used = 0, n;
	int op;

	if (!json_is_object(jd))
		return arm_json_fail(&im->js, path, "expected an object, not %s", arm_json_type_name(jd));
	memset(f, 0, sizeof(*f));
	if (arm_json_string(&im->js, jd, path, "DimensionName", true, &name) < 0 ||
	    arm_json_choice(&im->js, jd, path, "Operator", op_names, &op) < 0 ||
	    arm_json_get(&im->js, jd, path, "Values", JSON_ARRAY, true, &values) < 0)
		return -EINVAL;
	arm_json_path_join(vpath, path, "DimensionName");
	if (!*name || copy_text(im, vpath, name, f->dim, sizeof(f->dim)) < 0)
		return *name ? -EINVAL : arm_json_fail(&im->js, vpath, "expected a dimension name");
	if (op > 1) {
		arm_json_path_join(vpath, path, "Operator");
		return arm_json_fail(&im->js, vpath, "expected Equals or NotEquals, not '%s'", op_names[op]);
	}
	f->negate = op == 1;
	arm_json_path_join(vpath, path, "Values");
	if (json_array_size(values) == 0 || json_array_size(values) > COND_VALUES_MAX)
		return arm_json_fail(&im->js, vpath, "expected 1 to %d values, not %zu", COND_VALUES_MAX,
			    json_array_size(values));
	json_array_foreach(values, i, jv) {
		arm_json_path_index(ipath, path, "Values", i);
		if (!json_is_string(jv))
			return arm_json_fail(&im->js, ipath, "expected a string, not %s", arm_json_type_name(jv));
		v = json_string_value(jv);
		n = strlen(v);
		if (!n || used + n + 1 > sizeof(f->buf))
			return arm_json_fail(&im->js, ipath, "expected a value of 1 to %zu characters in all, not '%s'",
				    sizeof(f->buf) - COND_VALUES_MAX, arm_json_shown(v, b, sizeof(b)));
		memcpy(f->buf + used, v, n + 1);
		f->off[f->nvalues++] = (uint16_t)used;
		used += n + 1;
	}
	return 0;
}

/* Our condition grammar must read the condition back the same. */
static int check_condition(struct imp *im, const char *path, const struct condition *c)
{
	struct condition back;
	char text[1200], err[256];
	unsigned i, j;
	bool same;

	if (condition_format(c, text, sizeof(text)) < 0)
		return arm_json_fail(&im->js, path, "the condition is too long for ascale's condition grammar");
	if (condition_parse(text, &back, err, sizeof(err)) < 0)
		return arm_json_fail(&im->js, path, "cannot be written in ascale's condition grammar ('%s': %s): names and values must not hold blanks or the words or/and",
			    text, err);
	same = strcmp(back.ns, c->ns) == 0 && strcasecmp(back.metric, c->metric) == 0 &&
	       strcmp(back.metric, c->metric) == 0 && back.op == c->op &&
	       back.threshold == c->threshold && back.agg == c->agg &&
	       back.period_ns == c->period_ns && back.nfilters == c->nfilters;
	for (i = 0; same && i < c->nfilters; i++) {
		same = strcmp(back.filters[i].dim, c->filters[i].dim) == 0 &&
		       back.filters[i].negate == c->filters[i].negate &&
		       back.filters[i].nvalues == c->filters[i].nvalues;
		for (j = 0; same && j < c->filters[i].nvalues; j++)
			same = strcmp(cond_filter_value(&back.filters[i], j),
				      cond_filter_value(&c->filters[i], j)) == 0;
	}
	if (!same)
		return arm_json_fail(&im->js, path, "cannot be written in ascale's condition grammar ('%s' reads back differently): names and values must not hold blanks, ',' or the words or/and",
			    text);
	return 0;
}

static int parse_trigger(struct imp *im, const json_t *jt, const char *path, struct rule *r,
			 const char *target_uri, const char *endpoint_uri)
{
	struct condition *c = &r->cond;
	char p2[ARM_JSON_PATH_MAX], b[80];
	const char *s;
	json_t *v, *dims, *jd;
	int k;
	size_t i;

	if (arm_json_string(&im->js, jt, path, "metricName", true, &s) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, "metricName");
	if (!*s)
		return arm_json_fail(&im->js, p2, "expected a metric name");
	if (copy_text(im, p2, s, c->metric, sizeof(c->metric)) < 0)
		return -EINVAL;
	if (arm_json_string(&im->js, jt, path, "metricNamespace", false, &s) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, "metricNamespace");
	if (s && copy_text(im, p2, s, c->ns, sizeof(c->ns)) < 0)
		return -EINVAL;

	if (arm_json_string(&im->js, jt, path, "metricResourceUri", false, &s) < 0)
		return -EINVAL;
	r->resource = RESOURCE_DEPLOYMENT;
	if (s && strcasecmp(s, target_uri) != 0) {
		arm_json_path_join(p2, path, "metricResourceUri");
		if (!endpoint_uri || strcasecmp(s, endpoint_uri) != 0)
			return arm_json_fail(&im->js, p2, "expected the target resource or its online endpoint, not '%s'",
				    arm_json_shown(s, b, sizeof(b)));
		r->resource = RESOURCE_ENDPOINT;
	}
	if (arm_json_duration(&im->js, jt, path, "timeGrain", true, NSEC_PER_SEC, 366 * 86400 * NSEC_PER_SEC,
			 true, &r->grain_ns) < 0 ||
	    arm_json_choice(&im->js, jt, path, "statistic", stat_names, &k) < 0)
		return -EINVAL;
	r->grain_stat = (enum grain_stat)k;
	if (arm_json_duration(&im->js, jt, path, "timeWindow", true, NSEC_PER_SEC, 366 * 86400 * NSEC_PER_SEC,
			 true, &c->period_ns) < 0 ||
	    arm_json_choice(&im->js, jt, path, "timeAggregation", agg_names, &k) < 0)
		return -EINVAL;
	c->agg = (enum cond_agg)k;
	if (arm_json_choice(&im->js, jt, path, "operator", op_names, &k) < 0)
		return -EINVAL;
	c->op = (enum cond_op)k;
	if (arm_json_get(&im->js, jt, path, "threshold", JSON_INTEGER, true, &v) < 0)
		return -EINVAL;
	c->threshold = json_number_value(v);
	if (!isfinite(c->threshold) || fabs(c->threshold) > 1e300) {
		arm_json_path_join(p2, path, "threshold");
		return arm_json_fail(&im->js, p2, "expected a finite number");
	}
	if (arm_json_get(&im->js, jt, path, "dimensions", JSON_ARRAY, false, &dims) < 0)
		return -EINVAL;
	if (json_array_size(dims) > COND_FILTERS_MAX) {
		arm_json_path_join(p2, path, "dimensions");
		return arm_json_fail(&im->js, p2, "expected at most %d dimensions, not %zu", COND_FILTERS_MAX,
			    json_array_size(dims));
	}
	json_array_foreach(dims, i, jd) {
		arm_json_path_index(p2, path, "dimensions", i);
		if (parse_dimension(im, jd, p2, &c->filters[i]) < 0)
			return -EINVAL;
		c->nfilters++;
	}
	if (arm_json_get(&im->js, jt, path, "dividePerInstance", JSON_TRUE, false, &v) < 0)
		return -EINVAL;
	r->divide_per_instance = v && json_is_true(v);
	arm_json_path_join(p2, path, "timeGrain");
	if (r->grain_ns > c->period_ns)
		return arm_json_fail(&im->js, p2, "expected a time grain of at most the timeWindow");
	if (c->period_ns / r->grain_ns > WINDOW_GRAINS_MAX)
		return arm_json_fail(&im->js, p2, "expected at most %d grains in the timeWindow", WINDOW_GRAINS_MAX);
	r->has_cond = true;
	return check_condition(im, path, c);
}

static int parse_action(struct imp *im, const json_t *ja, const char *path, struct rule *r)
{
	static const char *const directions[] = { "Increase", "Decrease", "None", NULL };
	static const char *const types[] = {
		"ChangeCount", "PercentChangeCount", "ExactCount", "ServiceAllowedNextValue", NULL
	};
	char p2[ARM_JSON_PATH_MAX];
	int dir, type;

	if (arm_json_choice(&im->js, ja, path, "direction", directions, &dir) < 0 ||
	    arm_json_choice(&im->js, ja, path, "type", types, &type) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, "type");
	if (type == 3)
		return arm_json_fail(&im->js, p2, "expected ChangeCount, PercentChangeCount or ExactCount: ServiceAllowedNextValue is not supported");
	if (type == 2) {
		r->kind = SCALE_TO;	/* the direction of an exact count does not matter */
		if (arm_json_count(&im->js, ja, path, "value", 0, COUNT_MAX, &r->amount) < 0)
			return -EINVAL;
	} else {
		if (dir == 2) {
			arm_json_path_join(p2, path, "direction");
			return arm_json_fail(&im->js, p2, "expected Increase or Decrease for a %s, not 'None'", types[type]);
		}
		r->kind = dir == 0 ? SCALE_OUT : SCALE_IN;
		r->percent = type == 1;
		if (arm_json_count(&im->js, ja, path, "value", 1, r->percent ? 100 : COUNT_MAX, &r->amount) < 0)
			return -EINVAL;
	}
	r->seen |= 2;
	return arm_json_duration(&im->js, ja, path, "cooldown", true, 0, 7 * 86400 * NSEC_PER_SEC, false,
			    &r->cooldown_ns);
}

static int parse_rule(struct imp *im, const json_t *jr, const char *path, struct rule *r,
		      const char *target_uri, const char *endpoint_uri)
{
	char p2[ARM_JSON_PATH_MAX];
	json_t *jt, *ja;

	if (!json_is_object(jr))
		return arm_json_fail(&im->js, path, "expected an object, not %s", arm_json_type_name(jr));
	memset(r, 0, sizeof(*r));
	if (arm_json_get(&im->js, jr, path, "metricTrigger", JSON_OBJECT, true, &jt) < 0 ||
	    arm_json_get(&im->js, jr, path, "scaleAction", JSON_OBJECT, true, &ja) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, "metricTrigger");
	if (parse_trigger(im, jt, p2, r, target_uri, endpoint_uri) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, "scaleAction");
	return parse_action(im, ja, p2, r);
}

/* ---- profiles ---- */

static int parse_zone(struct imp *im, const json_t *obj, const char *path, struct profile *p)
{
	char p2[ARM_JSON_PATH_MAX], b[80];
	const char *s;

	if (arm_json_string(&im->js, obj, path, "timeZone", false, &s) < 0)
		return -EINVAL;
	if (!s || strcasecmp(s, "UTC") == 0)
		return 0;
	arm_json_path_join(p2, path, "timeZone");
	if (strlen(s) >= sizeof(p->tz_name) || tz_load(s, &p->tz) < 0)
		return arm_json_fail(&im->js, p2, "expected a Windows zone name (such as Pacific Standard Time) or an IANA name, not '%s'",
			    arm_json_shown(s, b, sizeof(b)));
	snprintf(p->tz_name, sizeof(p->tz_name), "%s", s);
	return 0;
}

/* "YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+00:00]" into local seconds */
static int parse_date(struct imp *im, const json_t *obj, const char *path, const char *key,
		      int64_t *secs)
{
	struct civil c = { 0 }, back;
	char p2[ARM_JSON_PATH_MAX], b[80];
	const char *s, *rest;
	int n = 0, k;

	if (arm_json_string(&im->js, obj, path, key, true, &s) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, key);
	k = sscanf(s, "%4d-%2d-%2d%n", &c.year, &c.month, &c.day, &n);
	if (k != 3 || n != 10)
		goto bad;
	rest = s + n;
	if (*rest == 'T' || *rest == 't' || *rest == ' ') {
		rest++;
		n = 0;
		if (sscanf(rest, "%2d:%2d%n", &c.hour, &c.min, &n) != 2 || n != 5)
			goto bad;
		rest += n;
		if (*rest == ':') {
			n = 0;
			if (sscanf(rest + 1, "%2d%n", &c.sec, &n) != 1 || n != 2)
				goto bad;
			rest += 3;
			if (*rest == '.')
				for (rest++; *rest == '0'; rest++)
					;
		}
	}
	if (*rest && strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		goto bad;
	if (c.year < 1970 || c.year > 2200 || c.hour < 0 || c.hour > 23 || c.min < 0 || c.min > 59 ||
	    c.sec < 0 || c.sec > 59)
		goto bad;
	*secs = civil_to_secs(&c);
	civil_from_secs(*secs, &back);
	if (back.month != c.month || back.day != c.day)
		goto bad;
	return 0;
bad:
	return arm_json_fail(&im->js, p2, "expected a local date and time YYYY-MM-DDTHH:MM:SS (whole seconds, in timeZone; 1970 to 2200), not '%s'",
		    arm_json_shown(s, b, sizeof(b)));
}

static int parse_one_int(struct imp *im, const json_t *obj, const char *path, const char *key,
			 int max, int *out)
{
	char p2[ARM_JSON_PATH_MAX];
	json_t *a, *v;

	if (arm_json_get(&im->js, obj, path, key, JSON_ARRAY, true, &a) < 0)
		return -EINVAL;
	arm_json_path_join(p2, path, key);
	v = json_array_get(a, 0);
	if (json_array_size(a) != 1 || !json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return arm_json_fail(&im->js, p2, "expected one whole number from 0 to %d (ascale's recurring profiles start once a day)",
			    max);
	*out = (int)json_integer_value(v);
	return 0;
}

static int parse_recurrence(struct imp *im, const json_t *jr, const char *path, struct profile *p)
{
	static const char *const freq[] = { "Week", NULL };
	char sp[ARM_JSON_PATH_MAX], dp[ARM_JSON_PATH_MAX], b[80];
	json_t *sched, *days, *d;
	int k, h, m;
	size_t i;

	if (arm_json_choice(&im->js, jr, path, "frequency", freq, &k) < 0 ||
	    arm_json_get(&im->js, jr, path, "schedule", JSON_OBJECT, true, &sched) < 0)
		return -EINVAL;
	arm_json_path_join(sp, path, "schedule");
	if (parse_zone(im, sched, sp, p) < 0 ||
	    arm_json_get(&im->js, sched, sp, "days", JSON_ARRAY, true, &days) < 0)
		return -EINVAL;
	arm_json_path_join(dp, sp, "days");
	if (!json_array_size(days) || json_array_size(days) > 7)
		return arm_json_fail(&im->js, dp, "expected 1 to 7 days");
	json_array_foreach(days, i, d) {
		for (k = 0; day_names[k]; k++)
			if (json_is_string(d) && (strcasecmp(json_string_value(d), day_names[k]) == 0 ||
			    (strlen(json_string_value(d)) == 3 &&
			     strncasecmp(json_string_value(d), day_names[k], 3) == 0)))
				break;
		if (!day_names[k]) {
			arm_json_path_index(dp, sp, "days", i);
			return arm_json_fail(&im->js, dp, "expected Monday, Tuesday, Wednesday, Thursday, Friday, Saturday or Sunday, not '%s'",
				    json_is_string(d) ? arm_json_shown(json_string_value(d), b, sizeof(b)) : arm_json_type_name(d));
		}
		p->days |= 1u << k;
	}
	if (parse_one_int(im, sched, sp, "hours", 23, &h) < 0 ||
	    parse_one_int(im, sched, sp, "minutes", 59, &m) < 0)
		return -EINVAL;
	p->kind = PROFILE_RECURRING;
	p->start_min = h * 60 + m;
	p->has_start = p->has_end = true;
	p->end_min = 24 * 60;
	return 0;
}

static int parse_profile(struct imp *im, const json_t *jp, const char *path, struct az_profile *az,
			 const char *target_uri, const char *endpoint_uri)
{
	struct profile *p = &az->p;
	char p2[ARM_JSON_PATH_MAX], cp[ARM_JSON_PATH_MAX];
	json_t *cap, *rules, *jr, *rec, *fixed, *meta;
	size_t i;

	if (!json_is_object(jp))
		return arm_json_fail(&im->js, path, "expected an object, not %s", arm_json_type_name(jp));
	snprintf(az->path, sizeof(az->path), "%s", path);
	if (arm_json_string(&im->js, jp, path, "name", true, &az->name) < 0 ||
	    arm_json_get(&im->js, jp, path, "capacity", JSON_OBJECT, true, &cap) < 0 ||
	    arm_json_get(&im->js, jp, path, "rules", JSON_ARRAY, false, &rules) < 0 ||
	    arm_json_get(&im->js, jp, path, "recurrence", JSON_OBJECT, false, &rec) < 0 ||
	    arm_json_get(&im->js, jp, path, "fixedDate", JSON_OBJECT, false, &fixed) < 0)
		return -EINVAL;
	/* the portal names the default's recurring pairs with a JSON object */
	meta = az->name[0] == '{' ? json_loads(az->name, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (json_is_string(arm_json_member(meta, "for"))) {
		az->is_auto = true;
		snprintf(az->for_name, sizeof(az->for_name), "%s", json_string_value(arm_json_member(meta, "for")));
	}
	json_decref(meta);

	arm_json_path_join(cp, path, "capacity");
	if (arm_json_count(&im->js, cap, cp, "minimum", 0, COUNT_MAX, &p->min_count) < 0 ||
	    arm_json_count(&im->js, cap, cp, "maximum", 0, COUNT_MAX, &p->max_count) < 0 ||
	    arm_json_count(&im->js, cap, cp, "default", 0, COUNT_MAX, &p->count) < 0)
		return -EINVAL;
	p->has_count = p->has_min = p->has_max = true;
	if (p->min_count > p->max_count)
		return arm_json_fail(&im->js, cp, "minimum %u is above maximum %u: expected minimum <= maximum",
			    p->min_count, p->max_count);
	if (p->count < p->min_count || p->count > p->max_count)
		return arm_json_fail(&im->js, cp, "default %u: expected a count from minimum %u to maximum %u",
			    p->count, p->min_count, p->max_count);
	arm_json_path_join(p2, path, "rules");
	if (json_array_size(rules) > RULES_MAX)
		return arm_json_fail(&im->js, p2, "expected at most %d rules, not %zu", RULES_MAX, json_array_size(rules));
	json_array_foreach(rules, i, jr) {
		arm_json_path_index(p2, path, "rules", i);
		if (parse_rule(im, jr, p2, &p->rules[i], target_uri, endpoint_uri) < 0)
			return -EINVAL;
		p->nrules++;
	}
	if (rec && fixed)
		return arm_json_fail(&im->js, path, "expected recurrence or fixedDate, not both");
	p->kind = PROFILE_DEFAULT;
	p->end_min = 24 * 60;
	if (rec) {
		arm_json_path_join(p2, path, "recurrence");
		return parse_recurrence(im, rec, p2, p);
	}
	if (fixed) {
		arm_json_path_join(p2, path, "fixedDate");
		if (parse_zone(im, fixed, p2, p) < 0 ||
		    parse_date(im, fixed, p2, "start", &p->fixed_start_local) < 0 ||
		    parse_date(im, fixed, p2, "end", &p->fixed_end_local) < 0)
			return -EINVAL;
		p->kind = PROFILE_FIXED;
		p->has_start = p->has_end = p->start_is_date = p->end_is_date = true;
		p->fixed_start = tz_from_local(p->tz, p->fixed_start_local);
		p->fixed_end = tz_from_local(p->tz, p->fixed_end_local);
		if (p->fixed_end <= p->fixed_start) {
			arm_json_path_join(cp, p2, "end");
			return arm_json_fail(&im->js, cp, "expected a time after start");
		}
	}
	return 0;
}

/* ---- settings ---- */

static unsigned days_after(unsigned days)
{
	return ((days << 1) | (days >> 6)) & 0x7f;
}

/* Makes name unique among the first n names (stride apart), appending -2, -3... */
static void name_unique(char *name, size_t len, const char *base, const char *reserved,
			const char *names, size_t stride, size_t n)
{
	unsigned k;
	size_t i;
	bool taken;

	for (k = 1; k < 1000; k++) {
		if (k == 1)
			snprintf(name, len, "%s", base);
		else
			snprintf(name, len, "%.*s-%u", SETTING_NAME_MAX - 6, base, k);
		taken = reserved && strcmp(name, reserved) == 0;
		for (i = 0; !taken && i < n; i++)
			taken = strcmp(names + i * stride, name) == 0;
		if (!taken)
			return;
	}
}

/* Copies one /key/value of an ARM id; false when too long or missing. */
static bool id_part(const char *uri, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *end;
	size_t n;

	snprintf(pat, sizeof(pat), "/%s/", key);
	p = strcasestr(uri, pat);
	if (!p)
		return false;
	p += strlen(pat);
	end = strchr(p, '/');
	n = end ? (size_t)(end - p) : strlen(p);
	if (!n || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static int parse_target(struct imp *im, const char *uri, const char *path, struct setting *s,
			char *endpoint_uri, size_t len)
{
	char b[80], sub[ARM_ID_MAX], rg[ARM_ID_MAX], ws[ARM_ID_MAX];
	const char *p, *last;
	size_t n;

	endpoint_uri[0] = '\0';
	if (strlen(uri) >= len)
		return arm_json_fail(&im->js, path, "expected a resource id of at most %zu characters", len - 1);
	p = strcasestr(uri, "/onlineEndpoints/");
	if (p && id_part(uri, "onlineEndpoints", s->endpoint, sizeof(s->endpoint)) &&
	    id_part(p, "deployments", s->deployment, sizeof(s->deployment))) {
		n = (size_t)(p - uri) + strlen("/onlineEndpoints/") + strlen(s->endpoint);
		memcpy(endpoint_uri, uri, n);
		endpoint_uri[n] = '\0';
		if (!im->have_target && id_part(uri, "subscriptions", sub, sizeof(sub)) &&
		    id_part(uri, "resourceGroups", rg, sizeof(rg)) &&
		    id_part(uri, "workspaces", ws, sizeof(ws))) {
			snprintf(im->t->subscription, sizeof(im->t->subscription), "%s", sub);
			snprintf(im->t->resource_group, sizeof(im->t->resource_group), "%s", rg);
			snprintf(im->t->workspace, sizeof(im->t->workspace), "%s", ws);
			im->have_target = true;
		}
	} else {
		/* another kind of resource: its last name is the deployment */
		s->endpoint[0] = '\0';
		for (n = strlen(uri); n && uri[n - 1] == '/'; n--)
			;
		for (last = uri + n; last > uri && last[-1] != '/'; last--)
			;
		if ((size_t)(uri + n - last) >= sizeof(s->deployment))
			goto bad;
		memcpy(s->deployment, last, (size_t)(uri + n - last));
		s->deployment[uri + n - last] = '\0';
	}
	if (!setting_name_ok(s->deployment) || (s->endpoint[0] && !setting_name_ok(s->endpoint)))
		goto bad;
	return 0;
bad:
	return arm_json_fail(&im->js, path, "expected .../onlineEndpoints/ENDPOINT/deployments/DEPLOYMENT with names of letters, digits, '_', '.' or '-', not '%s'",
		    arm_json_shown(uri, b, sizeof(b)));
}

static int parse_tags(struct imp *im, const json_t *tags, const char *parent, struct setting *s)
{
	static const char *const backends[] = { "azureml", "kubernetes", "http", "exec", "sim", NULL };
	char path[ARM_JSON_PATH_MAX], b[80];
	const char *key, *v, *name;
	json_t *jv;
	int64_t ns;
	int k;

	json_object_foreach((json_t *)tags, key, jv) {
		if (strncmp(key, ARM_TAG_PREFIX, strlen(ARM_TAG_PREFIX)) != 0)
			continue;	/* the user's own tags are not ours to keep */
		snprintf(path, sizeof(path), "%s%stags.%s", parent, parent[0] ? "." : "", key);
		if (!json_is_string(jv))
			return arm_json_fail(&im->js, path, "expected a string, not %s", arm_json_type_name(jv));
		v = json_string_value(jv);
		name = key + strlen(ARM_TAG_PREFIX);
		if (strcmp(name, "endpoint") == 0) {
			if (*v && !setting_name_ok(v))
				return arm_json_fail(&im->js, path, "expected a name of letters, digits, '_', '.' or '-', not '%s'",
					    arm_json_shown(v, b, sizeof(b)));
			snprintf(s->endpoint, sizeof(s->endpoint), "%s", v);
		} else if (strcmp(name, "backend") == 0) {
			for (k = 0; backends[k] && strcmp(v, backends[k]) != 0; k++)
				;
			if (!backends[k])
				return arm_json_fail(&im->js, path, "expected azureml, kubernetes, http, exec or sim, not '%s'",
					    arm_json_shown(v, b, sizeof(b)));
			snprintf(s->backend, sizeof(s->backend), "%s", v);
		} else if (strcmp(name, "evaluate_every") == 0 ||
			   strcmp(name, "coordinator.evaluate_every") == 0) {
			if (duration_parse(v, NSEC_PER_SEC, &ns) < 0 || ns < NSEC_PER_SEC ||
			    ns > 3600 * NSEC_PER_SEC)
				return arm_json_fail(&im->js, path, "expected a duration from 1s to 1h, not '%s'",
					    arm_json_shown(v, b, sizeof(b)));
			if (name[0] == 'e') {
				s->evaluate_every_ns = ns;
			} else {
				if (im->coord_seen && im->conf->evaluate_every_ns != ns)
					return arm_json_fail(&im->js, path, "expected the same value in every setting");
				im->conf->evaluate_every_ns = ns;
				im->coord_seen = true;
			}
		} else if (strncmp(name, "rule:", 5) != 0) {
			log_warn("%s: %s%s: unknown ascale tag, ignored", im->js.src, im->js.where, path);
		}
	}
	return 0;
}

static int name_rules(struct imp *im, const json_t *tags, const char *parent, struct profile *p)
{
	char key[128], path[ARM_JSON_PATH_MAX], b[80];
	const char *v;
	json_t *jv;
	unsigned i, j;

	for (i = 0; i < p->nrules; i++) {
		snprintf(key, sizeof(key), ARM_TAG_PREFIX "rule:%s:%u", p->name, i + 1);
		jv = json_object_get(tags, key);
		if (!json_is_string(jv)) {
			arm_rule_name(p, i, p->rules[i].name, sizeof(p->rules[i].name));
			continue;
		}
		v = json_string_value(jv);
		snprintf(path, sizeof(path), "%s%stags.%s", parent, parent[0] ? "." : "", key);
		if (!setting_name_ok(v))
			return arm_json_fail(&im->js, path, "expected a rule name of letters, digits, '_', '.' or '-', not '%s'",
				    arm_json_shown(v, b, sizeof(b)));
		for (j = 0; j < i; j++)
			if (strcmp(p->rules[j].name, v) == 0)
				return arm_json_fail(&im->js, path, "expected a rule name not given to an earlier rule of '%s', not '%s'",
					    p->name, v);
		snprintf(p->rules[i].name, sizeof(p->rules[i].name), "%s", v);
	}
	return 0;
}

/* Folds the auto-created pair of recurring profile k into its end. */
static int pair_end(struct imp *im, struct az_profile *az, size_t n, size_t k)
{
	struct profile *p = &az[k].p, *a;
	size_t i;
	int e;

	for (i = 0; i < n; i++) {
		if (!az[i].is_auto || az[i].used || strcmp(az[i].for_name, az[k].name) != 0)
			continue;
		a = &az[i].p;
		az[i].used = true;
		if (a->kind != PROFILE_RECURRING)
			return arm_json_fail(&im->js, az[i].path, "expected a recurrence ending profile '%s'", az[k].name);
		if (strcmp(a->tz_name, p->tz_name) != 0)
			return arm_json_fail(&im->js, az[i].path, "recurrence.schedule.timeZone: expected '%s', the time zone of the profile it ends",
				    p->tz_name[0] ? p->tz_name : "UTC");
		e = a->start_min;
		if (a->days == p->days && e > p->start_min) {
			p->end_min = e;
		} else if (a->days == days_after(p->days) && e < p->start_min) {
			p->end_min = e ? e : 24 * 60;
		} else if (a->days == days_after(p->days) && e == 0 && p->start_min == 0) {
			p->end_min = 24 * 60;
		} else {
			return arm_json_fail(&im->js, az[i].path, "recurrence: expected the end of '%s' on its days after its start, or on the following days before its start (overnight)",
				    az[k].name);
		}
		return 0;
	}
	/* no pair: Azure keeps it until another profile starts; ascale until the next start that day */
	p->end_min = 24 * 60;
	for (i = 0; i < n; i++)
		if (i != k && az[i].p.kind == PROFILE_RECURRING && (az[i].p.days & p->days) &&
		    az[i].p.start_min > p->start_min && az[i].p.start_min < p->end_min)
			p->end_min = az[i].p.start_min;
	return 0;
}

static struct setting *setting_add(struct imp *im, const char *azure_name)
{
	struct engine_conf *conf = im->conf;
	char base[SETTING_NAME_MAX];
	struct setting *s;
	size_t cap;

	if (conf->nsettings == im->cap) {
		cap = im->cap ? im->cap * 2 : 2;
		s = realloc(conf->settings, cap * sizeof(*s));
		if (!s)
			return NULL;
		conf->settings = s;
		im->cap = cap;
	}
	s = &conf->settings[conf->nsettings];
	memset(s, 0, sizeof(*s));
	name_clean(azure_name, base, sizeof(base));
	name_unique(s->name, sizeof(s->name), base, NULL, conf->settings[0].name,
		    sizeof(*s), conf->nsettings);
	conf->nsettings++;
	s->enabled = true;
	s->declared = true;
	snprintf(s->backend, sizeof(s->backend), "sim");
	return s;
}

static int build_profiles(struct imp *im, struct setting *s, struct az_profile *az, size_t n,
			  const json_t *tags, const char *props_path, const char *res_path)
{
	char base[SETTING_NAME_MAX], path[ARM_JSON_PATH_MAX];
	struct profile *p;
	size_t k, def = n, first_auto = n, i, j;

	for (k = 0; k < n; k++) {
		if (az[k].is_auto) {
			if (first_auto == n)
				first_auto = k;
			continue;
		}
		if (az[k].p.kind != PROFILE_DEFAULT)
			continue;
		if (def != n)
			return arm_json_fail(&im->js, az[k].path, "expected one profile without recurrence or fixedDate (the default), not a second");
		def = k;
	}
	if (def == n && first_auto == n) {
		arm_json_path_join(path, props_path, "profiles");
		return arm_json_fail(&im->js, path, "expected a profile without recurrence or fixedDate (the default)");
	}
	for (k = 0; k < n; k++)
		if (!az[k].is_auto && az[k].p.kind == PROFILE_RECURRING && pair_end(im, az, n, k) < 0)
			return -EINVAL;
	if (def == n) {
		/* only the portal's pairs hold the default's capacity and rules */
		p = &s->profiles[s->nprofiles++];
		*p = az[first_auto].p;
		p->kind = PROFILE_DEFAULT;
		p->tz = NULL;
		p->tz_name[0] = '\0';
		p->days = 0;
		p->start_min = 0;
		p->end_min = 24 * 60;
		p->has_start = p->has_end = false;
		snprintf(p->name, sizeof(p->name), "default");
	}
	for (k = 0; k < n; k++) {
		if (az[k].is_auto) {
			if (!az[k].used)
				log_warn("%s: %s%s: an auto-created profile for '%s', which is not here: ignored",
					 im->js.src, im->js.where, az[k].path, az[k].for_name);
			continue;
		}
		if (s->nprofiles == PROFILES_MAX) {
			arm_json_path_join(path, props_path, "profiles");
			return arm_json_fail(&im->js, path, "expected at most %d profiles besides the auto-created ones",
				    PROFILES_MAX);
		}
		p = &s->profiles[s->nprofiles];
		*p = az[k].p;
		if (k == def) {
			snprintf(p->name, sizeof(p->name), "default");
		} else {
			name_clean(az[k].name, base, sizeof(base));
			name_unique(p->name, sizeof(p->name), base, "default", s->profiles[0].name,
				    sizeof(*p), s->nprofiles);
		}
		s->nprofiles++;
	}
	for (i = 0; i < s->nprofiles; i++) {
		p = &s->profiles[i];
		p->declared = true;
		if (name_rules(im, tags, res_path, p) < 0)
			return -EINVAL;
		if (p->kind == PROFILE_RECURRING && p->start_min == p->end_min)
			return arm_json_fail(&im->js, props_path, "profile '%s' would last 24 hours from its start: ascale's recurring profiles end within a day",
				    p->name);
		for (j = 0; p->kind == PROFILE_FIXED && j < i; j++) {
			const struct profile *q = &s->profiles[j];

			if (q->kind == PROFILE_FIXED && p->fixed_start < q->fixed_end &&
			    q->fixed_start < p->fixed_end)
				return arm_json_fail(&im->js, props_path, "profile '%s' overlaps fixed-date profile '%s': expected fixed dates that do not overlap",
					    p->name, q->name);
		}
	}
	return 0;
}

static int import_resource(struct imp *im, const json_t *res)
{
	char props_path[16], path[ARM_JSON_PATH_MAX], endpoint_uri[1024], b[80];
	const char *type, *name, *uri, *location, *mode;
	json_t *props, *tags, *profiles, *jp, *pred, *notes, *en;
	struct az_profile *az = NULL;
	struct setting *s;
	size_t i, n;
	int r = -EINVAL;

	if (!json_is_object(res))
		return arm_json_fail(&im->js, "", "expected an autoscale setting object, not %s", arm_json_type_name(res));
	if (arm_json_string(&im->js, res, "", "type", false, &type) < 0)
		return -EINVAL;
	if (type && strcasecmp(type, ARM_TYPE) != 0)
		return arm_json_fail(&im->js, "type", "expected " ARM_TYPE ", not '%s'", arm_json_shown(type, b, sizeof(b)));
	if (arm_json_get(&im->js, res, "", "properties", JSON_OBJECT, false, &props) < 0)
		return -EINVAL;
	/* az monitor autoscale show writes the properties flat */
	snprintf(props_path, sizeof(props_path), "%s", props ? "properties" : "");
	if (!props)
		props = (json_t *)res;
	if (arm_json_string(&im->js, props, props_path, "name", false, &name) < 0 ||
	    (!name && arm_json_string(&im->js, res, "", "name", true, &name) < 0))
		return -EINVAL;
	if (arm_json_get(&im->js, props, props_path, "enabled", JSON_TRUE, false, &en) < 0 ||
	    arm_json_string(&im->js, props, props_path, "targetResourceUri", true, &uri) < 0 ||
	    arm_json_string(&im->js, res, "", "location", false, &location) < 0 ||
	    arm_json_get(&im->js, res, "", "tags", JSON_OBJECT, false, &tags) < 0 ||
	    arm_json_get(&im->js, props, props_path, "predictiveAutoscalePolicy", JSON_OBJECT, false, &pred) < 0 ||
	    arm_json_get(&im->js, props, props_path, "notifications", JSON_ARRAY, false, &notes) < 0 ||
	    arm_json_get(&im->js, props, props_path, "profiles", JSON_ARRAY, true, &profiles) < 0)
		return -EINVAL;
	if (pred) {
		arm_json_path_join(path, props_path, "predictiveAutoscalePolicy");
		if (arm_json_string(&im->js, pred, path, "scaleMode", false, &mode) < 0)
			return -EINVAL;
		if (mode && strcasecmp(mode, "Enabled") == 0)
			return arm_json_fail(&im->js, path, "predictive autoscale is not supported: expected scaleMode Disabled or ForecastOnly");
	}
	if (json_array_size(notes) && !im->warned_notify) {
		log_warn("%s: notifications (email, webhooks) are not imported", im->js.src);
		im->warned_notify = true;
	}
	if (location && !im->have_location) {
		snprintf(im->t->location, sizeof(im->t->location), "%s", location);
		im->have_location = true;
	}
	s = setting_add(im, name);
	if (!s)
		return -ENOMEM;
	s->enabled = !en || json_is_true(en);
	arm_json_path_join(path, props_path, "targetResourceUri");
	if (parse_target(im, uri, path, s, endpoint_uri, sizeof(endpoint_uri)) < 0 ||
	    parse_tags(im, tags, "", s) < 0)
		return -EINVAL;
	n = json_array_size(profiles);
	arm_json_path_join(path, props_path, "profiles");
	if (!n || n > IMPORT_PROFILES_MAX)
		return arm_json_fail(&im->js, path, "expected 1 to %d profiles, not %zu", IMPORT_PROFILES_MAX, n);
	az = calloc(n, sizeof(*az));
	if (!az)
		return -ENOMEM;
	json_array_foreach(profiles, i, jp) {
		arm_json_path_index(path, props_path, "profiles", i);
		if (parse_profile(im, jp, path, &az[i], uri, endpoint_uri[0] ? endpoint_uri : NULL) < 0)
			goto out;
	}
	r = build_profiles(im, s, az, n, tags, props_path, "");
out:
	free(az);
	return r;
}

int arm_import(const json_t *root, const char *src, struct engine_conf **out,
	       struct arm_target *t)
{
	struct arm_target local;
	struct imp im = { .js = { .src = src }, .t = t ? t : &local };
	json_t *list = NULL, *res;
	const char *type;
	size_t i, n = 0;
	int r = 0;

	*out = NULL;
	arm_target_default(im.t);
	im.conf = calloc(1, sizeof(*im.conf));
	if (!im.conf)
		return -ENOMEM;
	im.conf->evaluate_every_ns = 10 * NSEC_PER_SEC;
	if (json_is_array(root))
		list = (json_t *)root;
	else if (json_is_object(root) && json_is_array(arm_json_member(root, "resources")) &&
		 !arm_json_member(root, "properties") && !arm_json_member(root, "profiles"))
		list = arm_json_member(root, "resources");
	if (!list) {
		r = import_resource(&im, root);
		n = 1;
	}
	json_array_foreach(list, i, res) {
		snprintf(im.js.where, sizeof(im.js.where), "%s[%zu].", list == root ? "" : "resources", i);
		if (list != root) {
			type = json_string_value(arm_json_member(res, "type"));
			if (!type || strcasecmp(type, ARM_TYPE) != 0)
				continue;	/* a template's other resources */
		}
		if (++n > IMPORT_SETTINGS_MAX) {
			r = arm_json_fail(&im.js, "", "expected at most %d autoscale settings", IMPORT_SETTINGS_MAX);
			break;
		}
		r = import_resource(&im, res);
		if (r < 0)
			break;
	}
	if (!r && !n) {
		im.js.where[0] = '\0';
		r = arm_json_fail(&im.js, list == root ? "[]" : "resources",
			 "expected at least one " ARM_TYPE " resource");
	}
	if (r < 0) {
		if (r == -ENOMEM)
			log_err("%s: out of memory", src);
		setting_conf_free(im.conf);
		return r;
	}
	*out = im.conf;
	return 0;
}
