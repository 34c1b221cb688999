/* arm_import_profile: Azure autoscale profiles (capacity, recurrence, fixedDate) into a setting's profiles */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arm_import_int.h"
#include "log.h"
#include "tz.h"

static const char *const day_names[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", NULL
};

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

int arm_import_profile_parse(struct imp *im, const json_t *jp, const char *path, struct az_profile *az,
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
		if (arm_import_rule_parse(im, jr, p2, &p->rules[i], target_uri, endpoint_uri) < 0)
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

/* ---- pairing ---- */

static unsigned days_after(unsigned days)
{
	return ((days << 1) | (days >> 6)) & 0x7f;
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

int arm_import_profile_build(struct imp *im, struct setting *s, struct az_profile *az, size_t n,
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
			arm_import_name_clean(az[k].name, base, sizeof(base));
			arm_import_name_unique(p->name, sizeof(p->name), base, "default", s->profiles[0].name,
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
