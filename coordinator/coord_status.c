/* coord_status: the control socket's requests: status, version, agents, stats */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "control.h"
#include "coord_int.h"
#include "engine.h"
#include "ingest.h"
#include "instances.h"
#include "notify.h"
#include "schedule.h"
#include "timeutil.h"
#include "version.h"

static json_t *coord_number(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *coord_status_rules(const struct coord_setting *cs, const struct profile *p,
				  bool have, bool recovering)
{
	json_t *rules = json_array(), *r;
	char cond[512];
	unsigned i;

	for (i = 0; rules && i < p->nrules; i++) {
		const struct rule *ru = &p->rules[i];
		const struct rule_eval *ev = have ? &cs->last.rules[i] : NULL;

		if (condition_format(&ru->cond, cond, sizeof(cond)) < 0)
			snprintf(cond, sizeof(cond), "%s", ru->cond.metric);
		r = json_pack("{s:s, s:s, s:s, s:o, s:s, s:f, s:s, s:o}", "rule", ru->name,
			      "condition", cond, "metric", ru->cond.metric,
			      "observed", ev ? coord_number(ev->observed) : json_null(),
			      "operator", cond_op_name(ru->cond.op), "threshold", ru->cond.threshold,
			      "state", ev ? rule_state_name(ev->state) : recovering ? "recovering" : "pending",
			      "estimate", ev ? coord_number(ev->estimate) : json_null());
		if (r)
			json_array_append_new(rules, r);
	}
	return rules;
}

static json_t *coord_time(int64_t ns)
{
	char when[40];

	return ns ? json_string(time_format_rfc3339(ns, when, sizeof(when))) : json_null();
}

/* The backend: its kind, the operation in flight and the last result. */
static json_t *coord_status_backend(const struct coord_setting *cs, const char *type)
{
	const struct backend_result *r = &cs->result;
	json_t *op = json_null(), *last = json_null();

	if (backend_busy(cs->backend))
		op = json_pack("{s:s, s:o, s:o}", "kind", cs->op_set ? "set" : "get",
			       "capacity", cs->op_set ? json_integer(cs->op_capacity) : json_null(),
			       "since", coord_time(cs->op_since));
	if (cs->have_result)
		last = json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:o}", "kind",
				 cs->result_set ? "set" : "get", "status", backend_status_name(r->status),
				 "capacity", r->have_capacity ? json_integer(r->capacity) : json_null(),
				 "message", r->message, "http_status", (json_int_t)r->http_status,
				 "attempts", (json_int_t)r->attempts, "time", coord_time(cs->result_ns));
	return json_pack("{s:s, s:o, s:o}", "type", type, "operation", op ? op : json_null(),
			 "last_result", last ? last : json_null());
}

static json_t *coord_status_setting(const struct coord *c, const struct coord_setting *cs,
				    int64_t now_ns)
{
	const struct setting *s = &c->conf->engine->settings[cs->index];
	bool have = cs->have_last, recovering;
	const struct profile *p;
	int64_t left = 0;
	unsigned live, stale;
	char when[40];
	json_t *o;

	p = &s->profiles[have ? cs->last.profile : schedule_profile(s, now_ns / NSEC_PER_SEC)];
	if (engine_cooldown(c->engine, cs->index) > now_ns)
		left = engine_cooldown(c->engine, cs->index) - now_ns;
	o = json_pack("{s:s, s:b, s:o, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:s, s:I}",
		      "setting", s->name, "enabled", s->enabled,
		      "backend", coord_status_backend(cs, s->backend),
		      "deployment", s->deployment, "endpoint", s->endpoint, "profile", p->name,
		      "count", (json_int_t)cs->count, "min", (json_int_t)p->min_count,
		      "max", (json_int_t)p->max_count, "default", (json_int_t)p->count,
		      "cooldown_left_s", (double)left / NSEC_PER_SEC,
		      "next_tick", time_format_rfc3339(cs->next_ns, when, sizeof(when)),
		      "ticks", (json_int_t)cs->ticks);
	if (!o)
		return NULL;
	recovering = cs->next_ns < c->grace_until_ns;
	json_object_set_new(o, "state", json_string(recovering ? "recovering" :
						    cs->have_count ? "running" : "starting"));
	json_object_set_new(o, "reconciled_at", coord_time(cs->reconciled_ns));
	json_object_set_new(o, "recovering_left_s",
			    json_real(recovering && c->grace_until_ns > now_ns ?
				      (double)(c->grace_until_ns - now_ns) / NSEC_PER_SEC : 0));
	if (recovering)
		json_object_set_new(o, "reason", json_string(COORD_RECOVERING));
	else if (!cs->have_count)
		json_object_set_new(o, "reason", json_string(COORD_STARTING));
	json_object_set_new(o, "rules", coord_status_rules(cs, p, have, recovering));
	instances_count(c->reg, s->deployment, s->endpoint, &live, &stale);
	json_object_set_new(o, "instances", json_pack("{s:I, s:I}", "live", (json_int_t)live,
						      "stale", (json_int_t)stale));
	json_object_set_new(o, "last_decision",
			    have ? decision_to_json(c->conf->engine, &cs->last) : json_null());
	json_object_set(o, "last_action", cs->last_action ? cs->last_action : json_null());
	return o;
}

static json_t *coord_status(struct coord *c, const json_t *req)
{
	const char *only = json_string_value(json_object_get(req, "setting"));
	int64_t now = time_real_ns();
	json_t *list, *reply;
	size_t i;
	int si;

	if (only && (si = setting_find(c->conf->engine, only)) < 0)
		return control_error("no setting named '%s'", only);
	list = json_array();
	if (!list)
		return NULL;
	for (i = 0; i < c->nsettings; i++)
		if (!only || (int)i == si)
			json_array_append_new(list, coord_status_setting(c, &c->settings[i], now));
	reply = json_pack("{s:i, s:b, s:o}", "v", CONTROL_VERSION, "ok", true, "settings", list);
	return reply;
}

static json_t *coord_version(struct coord *c)
{
	char when[40];

	return json_pack("{s:i, s:b, s:s, s:i, s:s}", "v", CONTROL_VERSION, "ok", true,
			 "version", ASCALE_VERSION, "control", CONTROL_VERSION, "started",
			 time_format_rfc3339(c->started_ns, when, sizeof(when)));
}

/* Every agent instance, and the ingest's counters. */
static json_t *coord_agents(struct coord *c)
{
	return json_pack("{s:i, s:b, s:o, s:o}", "v", CONTROL_VERSION, "ok", true,
			 "agents", instances_json(c->reg, time_real_ns()),
			 "ingest", ingest_stats_json(c->ingest, c->reg));
}

static json_t *coord_stats(struct coord *c)
{
	const struct control_stats *cs = control_stats(c->control);
	const struct notify_stats *ns = notify_stats(c->notify);
	struct store *st = engine_store(c->engine);

	return json_pack("{s:i, s:b, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, "
			 "s:{s:I, s:I, s:I, s:I, s:I}}",
			 "v", CONTROL_VERSION, "ok", true,
			 "ingest", ingest_stats_json(c->ingest, c->reg),
			 "notify", "sent", (json_int_t)ns->sent, "retried", (json_int_t)ns->retried,
			 "failed", (json_int_t)ns->failed, "dropped", (json_int_t)ns->dropped,
			 "pending", (json_int_t)ns->pending, "in_flight", (json_int_t)ns->in_flight,
			 "store", "late", (json_int_t)store_late(st),
			 "memory_bytes", (json_int_t)store_memory(st),
			 "control", "requests", (json_int_t)cs->requests,
			 "malformed", (json_int_t)cs->malformed, "denied", (json_int_t)cs->denied,
			 "busy", (json_int_t)cs->busy, "timeouts", (json_int_t)cs->timeouts);
}

json_t *coord_request(const json_t *req, void *user)
{
	const char *cmd = json_string_value(json_object_get(req, "command"));
	struct coord *c = user;

	if (strcmp(cmd, "status") == 0)
		return coord_status(c, req);
	if (strcmp(cmd, "version") == 0)
		return coord_version(c);
	if (strcmp(cmd, "agents") == 0)
		return coord_agents(c);
	if (strcmp(cmd, "stats") == 0)
		return coord_stats(c);
	return control_error("unknown command '%.64s': expected status, version, agents or stats", cmd);
}
