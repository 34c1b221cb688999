/* decision: the record of one engine tick, and its events as text or JSON */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decision.h"
#include "timeutil.h"

const char *rule_state_name(enum rule_state s)
{
	static const char *const names[] = { "not fired", "fired", "warming up", "missing", "in cooldown" };

	return (unsigned)s < 5 ? names[s] : "?";
}

const char *cause_name(enum cause c)
{
	static const char *const names[] = { "none", "rule", "clamp", "missing" };

	return (unsigned)c < 4 ? names[c] : "?";
}

void decision_say(struct decision *d, const char *fmt, ...)
{
	size_t off = strlen(d->reason);
	va_list ap;

	if (off && off + 2 < sizeof(d->reason)) {
		memcpy(d->reason + off, "; ", 3);
		off += 2;
	}
	if (off + 1 >= sizeof(d->reason))
		return;
	va_start(ap, fmt);
	vsnprintf(d->reason + off, sizeof(d->reason) - off, fmt, ap);
	va_end(ap);
}

static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int print_json(json_t *o, FILE *out)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(o);
	if (!s)
		return 0;
	fprintf(out, "%s\n", s);
	free(s);
	return 1;
}

static json_t *event_base(const struct engine_conf *conf, const struct decision *d, const char *event)
{
	const struct setting *s = &conf->settings[d->setting];
	char when[40];

	time_format_rfc3339(d->time_ns, when, sizeof(when));
	return json_pack("{s:s, s:s, s:s, s:s}", "time", when, "event", event,
			 "setting", s->name, "profile", s->profiles[d->profile].name);
}

static int print_table(const struct engine_conf *conf, const struct decision *d,
		       const char *event, const char *detail, FILE *out)
{
	const struct setting *s = &conf->settings[d->setting];
	char when[40];

	time_format_rfc3339(d->time_ns, when, sizeof(when));
	fprintf(out, "%-24s  %-17s  %-12s  %-14s  %s\n", when, event, s->name,
		s->profiles[d->profile].name, detail);
	return 1;
}

int decision_print_events(const struct engine_conf *conf, const struct decision *d,
			  bool json, FILE *out)
{
	const struct setting *s = &conf->settings[d->setting];
	const struct profile *p = &s->profiles[d->profile];
	const char *rule = d->rule >= 0 ? p->rules[d->rule].name : NULL;
	char detail[700];
	json_t *o;
	int n = 0;

	if (d->events & EV_PROFILE) {
		if (json) {
			o = event_base(conf, d, "profile");
			json_object_set_new(o, "previous", d->prev_profile >= 0 ?
					    json_string(s->profiles[d->prev_profile].name) : json_null());
			json_object_set_new(o, "min", json_integer(p->min_count));
			json_object_set_new(o, "max", json_integer(p->max_count));
			json_object_set_new(o, "default", json_integer(p->count));
			n += print_json(o, out);
		} else {
			snprintf(detail, sizeof(detail), "profile %s in force (min %u, max %u, default %u)",
				 p->name, p->min_count, p->max_count, p->count);
			n += print_table(conf, d, "profile", detail, out);
		}
	}
	if (d->events & (EV_MISSING | EV_RECOVERED)) {
		const char *ev = d->events & EV_MISSING ? "metrics_missing" : "metrics_recovered";

		if (json)
			n += print_json(event_base(conf, d, ev), out);
		else
			n += print_table(conf, d, ev, d->events & EV_MISSING ?
					 "a rule's window holds no data" : "every rule has data", out);
	}
	if (d->events & EV_SCALE) {
		if (json) {
			o = event_base(conf, d, "scale");
			json_object_set_new(o, "from", json_integer(d->before));
			json_object_set_new(o, "to", json_integer(d->after));
			json_object_set_new(o, "rule", d->cause == CAUSE_RULE && rule ? json_string(rule) : json_null());
			json_object_set_new(o, "cause", json_string(cause_name(d->cause)));
			json_object_set_new(o, "reason", json_string(d->reason));
			if (d->flapping_adjusted)
				json_object_set_new(o, "flapping_adjusted", json_true());
			if (d->disabled)
				json_object_set_new(o, "dry_run", json_true());
			n += print_json(o, out);
		} else {
			snprintf(detail, sizeof(detail), "%u -> %u (%s%s) %s", d->before, d->after,
				 cause_name(d->cause), d->disabled ? ", dry run" : "", d->reason);
			n += print_table(conf, d, "scale", detail, out);
		}
	}
	if (d->events & EV_FLAPPING) {
		if (json) {
			o = event_base(conf, d, "flapping");
			json_object_set_new(o, "from", json_integer(d->before));
			json_object_set_new(o, "wanted", json_integer(d->wanted));
			json_object_set_new(o, "rule", rule ? json_string(rule) : json_null());
			json_object_set_new(o, "reason", json_string(d->reason));
			n += print_json(o, out);
		} else {
			n += print_table(conf, d, "flapping", d->reason, out);
		}
	}
	return n;
}

json_t *decision_to_json(const struct engine_conf *conf, const struct decision *d)
{
	const struct setting *s = &conf->settings[d->setting];
	const struct profile *p = &s->profiles[d->profile];
	json_t *o, *rules, *r;
	unsigned i;
	char when[40];

	time_format_rfc3339(d->time_ns, when, sizeof(when));
	o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:b, s:s}", "time", when,
		      "setting", s->name, "profile", p->name, "before", (json_int_t)d->before,
		      "after", (json_int_t)d->after, "cause", cause_name(d->cause),
		      "applied", d->applied, "flapping_adjusted", d->flapping_adjusted,
		      "reason", d->reason);
	rules = json_array();
	if (!o || !rules) {
		json_decref(o);
		json_decref(rules);
		return NULL;
	}
	for (i = 0; i < d->nrules; i++) {
		const struct rule *ru = &p->rules[i];

		r = json_pack("{s:s, s:o, s:s, s:f, s:s, s:o, s:I}", "rule", ru->name,
			      "observed", number_or_null(d->rules[i].observed),
			      "operator", cond_op_name(ru->cond.op), "threshold", ru->cond.threshold,
			      "state", rule_state_name(d->rules[i].state),
			      "estimate", number_or_null(d->rules[i].estimate),
			      "samples", (json_int_t)d->rules[i].samples);
		if (r)
			json_array_append_new(rules, r);
	}
	json_object_set_new(o, "rules", rules);
	return o;
}
