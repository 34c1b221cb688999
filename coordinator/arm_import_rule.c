/* arm_import_rule: Azure autoscale rules (metricTrigger, scaleAction) into the engine's rules */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "arm_import_int.h"
#include "timeutil.h"

static const char *const stat_names[] = { "Average", "Min", "Max", "Sum", "Count", NULL };
static const char *const agg_names[] = { "Average", "Minimum", "Maximum", "Total", "Count", "Last", NULL };
static const char *const op_names[] = {
	"Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", NULL
};

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

int arm_import_rule_parse(struct imp *im, const json_t *jr, const char *path, struct rule *r,
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
