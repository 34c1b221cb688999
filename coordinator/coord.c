/* coord: the coordinator's state: the engine ticking each setting on the wall clock, and control requests */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <systemd/sd-journal.h>

#include "backend.h"
#include "control.h"
#include "coord.h"
#include "decision.h"
#include "engine.h"
#include "ingest.h"
#include "instances.h"
#include "log.h"
#include "schedule.h"
#include "timeutil.h"
#include "version.h"

struct coord_setting {
	struct coord *coord;
	size_t index;
	struct backend *backend;	/* the conf's */
	unsigned count;			/* the endpoint's count, as last read or set */
	bool have_count;		/* the backend answered a get: the setting evaluates */
	char get_error[BACKEND_MESSAGE_MAX];	/* of the failing gets, logged once; "" when none */
	bool waiting_logged;		/* "waiting for the operation in flight" */
	/* the operation in flight (backend_busy) */
	bool op_set;			/* a set (else a get) */
	unsigned op_capacity;
	int64_t op_since;		/* CLOCK_REALTIME */
	json_t *op_action;		/* the decision a set applies */
	/* the last result */
	bool have_result, result_set;
	struct backend_result result;
	int64_t result_ns;
	char set_error[BACKEND_MESSAGE_MAX];	/* of the last failed set, logged once */
	int64_t reconciled_ns;		/* the last successful get, 0 when none */
	sd_event_source *reconcile;	/* reads the count every reconcile_every */
	int64_t next_ns;		/* the boundary T of the next tick (CLOCK_REALTIME) */
	sd_event_source *timer;
	bool have_last;
	struct decision last;		/* the latest tick */
	json_t *last_action;		/* the latest scale event, or NULL */
	uint64_t ticks;
};

struct coord {
	const struct coord_conf *conf;
	sd_event *event;
	struct engine *engine;
	struct control *control;
	struct instances *reg;		/* the agents' instances, feeding the engine's store */
	struct ingest *ingest;		/* NULL without listen */
	size_t nsettings;
	struct coord_setting *settings;
	int64_t started_ns;
	int64_t grace_until_ns;		/* boundaries before it are not evaluated (startup_grace) */
};

/*
 * Late data.  Agents resend what they hold after an outage, oldest first,
 * and a coordinator restart forgets what it had, so they resend everything.
 * The store keeps grains within COORD_LATENESS_NS (or startup_grace + 60 s
 * if longer) of the newest open, and during startup_grace no boundary is
 * evaluated (a query closes grains): the resends land in open grains.
 */
#define COORD_LATENESS_NS	(120 * NSEC_PER_SEC)
#define COORD_RECOVERING	"recovering: waiting for agents to resend"
#define COORD_STARTING		"starting: waiting for the backend's count"

static int coord_tick(sd_event_source *s, uint64_t usec, void *userdata);

/*
 * Arms the setting's timer for its next boundary, which is evaluated a
 * settle delay after it: every boundary in turn, unless the loop fell
 * behind (then the first one still ahead), and never back (the engine
 * refuses time that goes back, as after a clock step).
 */
static int coord_arm(struct coord_setting *cs, int64_t now_ns)
{
	const struct coord_conf *conf = cs->coord->conf;
	int64_t every = setting_evaluate_every(conf->engine, &conf->engine->settings[cs->index]);
	int64_t ahead = ((now_ns - conf->settle_ns) / every + 1) * every;
	uint64_t when;

	if (!cs->next_ns || cs->next_ns + every < ahead)
		cs->next_ns = ahead;
	else
		cs->next_ns += every;
	when = (uint64_t)(cs->next_ns + conf->settle_ns) / NSEC_PER_USEC;
	if (!cs->timer)
		return sd_event_add_time(cs->coord->event, &cs->timer, CLOCK_REALTIME, when,
					 10 * 1000, coord_tick, cs);
	sd_event_source_set_time(cs->timer, when);
	return sd_event_source_set_enabled(cs->timer, SD_EVENT_ONESHOT);
}

/* Scale actions, clamps and flapping go to the journal with fields, else to the log. */
static void coord_log_decision(const struct coord *c, const struct decision *d)
{
	const struct setting *s = &c->conf->engine->settings[d->setting];
	const struct profile *p = &s->profiles[d->profile];
	const char *rule = d->rule >= 0 ? p->rules[d->rule].name : "";

	if (!(d->events & (EV_SCALE | EV_FLAPPING | EV_PROFILE | EV_MISSING | EV_RECOVERED)))
		return;
	if (getenv("JOURNAL_STREAM") && (d->events & (EV_SCALE | EV_FLAPPING))) {
		sd_journal_send("MESSAGE=%s: %s %u -> %u: %s", s->name,
				d->events & EV_SCALE ? "scale" : "flapping", d->before, d->after,
				d->reason,
				"PRIORITY=%d", LOG_NOTICE, "ASCALE_SETTING=%s", s->name,
				"ASCALE_PROFILE=%s", p->name, "ASCALE_FROM=%u", d->before,
				"ASCALE_TO=%u", d->after, "ASCALE_RULE=%s", rule,
				"ASCALE_CAUSE=%s", cause_name(d->cause),
				"ASCALE_APPLIED=%d", d->applied, NULL);
		return;
	}
	if (d->events & EV_PROFILE)
		log_notice("%s: profile %s in force", s->name, p->name);
	if (d->events & (EV_SCALE | EV_FLAPPING | EV_MISSING | EV_RECOVERED))
		log_notice("%s: %s%s %u -> %u (%s%s%s): %s", s->name,
			   d->events & EV_SCALE ? "scale" : d->events & EV_FLAPPING ? "flapping" :
			   d->events & EV_MISSING ? "metrics missing" : "metrics recovered",
			   d->applied || !(d->events & EV_SCALE) ? "" : " (not applied)",
			   d->before, d->after, cause_name(d->cause), rule[0] ? ", rule " : "", rule,
			   d->reason);
}

static const char *coord_name(const struct coord_setting *cs)
{
	return cs->coord->conf->engine->settings[cs->index].name;
}

static void coord_backend_done(struct backend *b, const struct backend_result *r, void *user);

/* Reads the endpoint's count, unless an operation is in flight. */
static void coord_backend_get(struct coord_setting *cs)
{
	int r;

	if (backend_busy(cs->backend))
		return;
	r = backend_get(cs->backend, coord_backend_done, cs);
	if (r < 0) {
		log_err("%s: cannot read the count: %s", coord_name(cs), strerror(-r));
		return;
	}
	cs->op_set = false;
	cs->op_since = time_real_ns();
}

static void coord_get_done(struct coord_setting *cs, const struct backend_result *r)
{
	const char *name = coord_name(cs);

	if (r->status != BACKEND_OK || !r->have_capacity) {
		/* the same failure tick after tick is logged once */
		if (strcmp(cs->get_error, r->message[0] ? r->message : "?") != 0)
			log_err("%s: cannot read the count (%s, HTTP %ld, %u attempts): %s", name,
				backend_status_name(r->status), r->http_status, r->attempts, r->message);
		snprintf(cs->get_error, sizeof(cs->get_error), "%s", r->message[0] ? r->message : "?");
		return;
	}
	if (cs->get_error[0])
		log_info("%s: the backend answers again", name);
	cs->get_error[0] = 0;
	cs->reconciled_ns = cs->result_ns;
	if (!cs->have_count) {
		log_info("%s: count %u read from the backend: evaluating", name, r->capacity);
	} else if (r->capacity != cs->count) {
		log_notice("%s: count changed outside ascale: %u -> %u: adopted", name, cs->count,
			   r->capacity);
	}
	cs->count = r->capacity;
	cs->have_count = true;
}

static void coord_set_done(struct coord_setting *cs, const struct backend_result *r)
{
	const char *name = coord_name(cs);

	if (r->status != BACKEND_OK) {
		/* the same refusal tick after tick is logged once */
		if (strcmp(cs->set_error, r->message[0] ? r->message : "?") != 0)
			log_err("%s: setting the count to %u failed (%s, HTTP %ld, %u attempts): %s; "
				"keeping %u", name, cs->op_capacity, backend_status_name(r->status),
				r->http_status, r->attempts, r->message, cs->count);
		snprintf(cs->set_error, sizeof(cs->set_error), "%s", r->message[0] ? r->message : "?");
		json_decref(cs->op_action);
		cs->op_action = NULL;
		return;
	}
	cs->set_error[0] = 0;
	log_notice("%s: count %u -> %u set (%u attempts): %s", name, cs->count,
		   r->have_capacity ? r->capacity : cs->op_capacity, r->attempts, r->message);
	cs->count = r->have_capacity ? r->capacity : cs->op_capacity;
	json_decref(cs->last_action);
	cs->last_action = cs->op_action;
	cs->op_action = NULL;
}

static void coord_backend_done(struct backend *b, const struct backend_result *r, void *user)
{
	struct coord_setting *cs = user;

	(void)b;
	cs->result = *r;
	cs->have_result = true;
	cs->result_set = cs->op_set;
	cs->result_ns = time_real_ns();
	cs->waiting_logged = false;
	if (cs->op_set)
		coord_set_done(cs, r);
	else
		coord_get_done(cs, r);
}

/* Applies a decision: the count changes when the backend has set it. */
static void coord_apply(struct coord_setting *cs, const struct decision *d)
{
	int r;

	if (d->after == cs->count)
		return;
	if (backend_busy(cs->backend)) {
		if (!cs->waiting_logged)
			log_info("%s: %u -> %u waiting for the operation in flight", coord_name(cs),
				 cs->count, d->after);
		cs->waiting_logged = true;
		return;
	}
	r = backend_set(cs->backend, d->after, coord_backend_done, cs);
	if (r < 0) {
		log_err("%s: cannot set the count to %u: %s", coord_name(cs), d->after, strerror(-r));
		return;
	}
	cs->op_set = true;
	cs->op_capacity = d->after;
	cs->op_since = time_real_ns();
	json_decref(cs->op_action);
	cs->op_action = decision_to_json(cs->coord->conf->engine, d);
}

static int coord_reconcile(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct coord_setting *cs = userdata;

	(void)usec;
	if (cs->have_count)
		coord_backend_get(cs);	/* before: the ticks retry */
	sd_event_source_set_time_relative(s, (uint64_t)(cs->coord->conf->reconcile_ns / NSEC_PER_USEC));
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int coord_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct coord_setting *cs = userdata;
	struct coord *c = cs->coord;
	struct decision d;
	int r;

	(void)s;
	(void)usec;
	if (cs->next_ns < c->grace_until_ns)
		return coord_arm(cs, time_real_ns());	/* recovering: no query closes a grain */
	if (!cs->have_count) {
		coord_backend_get(cs);	/* no count yet: nothing to evaluate against */
		return coord_arm(cs, time_real_ns());
	}
	if (!cs->ticks && c->grace_until_ns)
		log_info("%s: startup grace over: evaluating", c->conf->engine->settings[cs->index].name);
	r = engine_evaluate(c->engine, cs->index, cs->next_ns, cs->count, &d);
	if (r < 0) {
		log_err("%s: evaluation failed: %s", c->conf->engine->settings[cs->index].name,
			strerror(-r));
	} else {
		cs->ticks++;
		coord_log_decision(c, &d);
		if (d.applied)
			coord_apply(cs, &d);
		cs->last = d;
		cs->have_last = true;
	}
	return coord_arm(cs, time_real_ns());
}

int coord_start(sd_event *e, const struct coord_conf *conf, struct coord **out)
{
	const struct profile *p;
	struct coord *c;
	int64_t lateness;
	size_t i;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->conf = conf;
	c->event = e;
	c->started_ns = time_real_ns();
	c->nsettings = conf->engine->nsettings;
	c->settings = calloc(c->nsettings ? c->nsettings : 1, sizeof(*c->settings));
	c->engine = engine_new(conf->engine);
	c->reg = c->engine ? instances_new(engine_store(c->engine), conf->max_instances,
					   conf->max_metrics) : NULL;
	if (!c->settings || !c->engine || !c->reg) {
		r = -ENOMEM;
		goto fail;
	}
	lateness = conf->startup_grace_ns + 60 * NSEC_PER_SEC;
	r = store_set_lateness(engine_store(c->engine),
			       lateness > COORD_LATENESS_NS ? lateness : COORD_LATENESS_NS);
	if (r < 0)
		goto fail;
	/* without listen no agent resends anything: nothing to wait for */
	if (conf->nlisten && conf->startup_grace_ns > 0) {
		c->grace_until_ns = c->started_ns + conf->startup_grace_ns;
		log_notice("recovering: evaluating no boundary for %lld s, while agents resend",
			   (long long)(conf->startup_grace_ns / NSEC_PER_SEC));
	}
	for (i = 0; i < c->nsettings; i++) {
		struct coord_setting *cs = &c->settings[i];

		cs->coord = c;
		cs->index = i;
		p = setting_default_profile(&conf->engine->settings[i]);
		cs->count = p->count;	/* shown until the backend answers */
		cs->backend = conf->backends[i];
		r = backend_start(cs->backend, e);
		if (r < 0)
			goto fail;	/* logged */
		r = sd_event_add_time_relative(e, &cs->reconcile, CLOCK_MONOTONIC,
					       (uint64_t)(conf->reconcile_ns / NSEC_PER_USEC),
					       100 * 1000, coord_reconcile, cs);
		if (r < 0)
			goto fail;
		coord_backend_get(cs);
		r = coord_arm(cs, c->started_ns);
		if (r < 0)
			goto fail;
	}
	if (conf->nlisten) {
		r = ingest_open(e, conf, c->reg, &c->ingest);
		if (r < 0)
			goto fail;
	}
	r = control_open(e, conf->control_socket, conf->control_group, coord_request, c,
			 &c->control);
	if (r < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	coord_stop(c);
	return r;
}

void coord_stop(struct coord *c)
{
	size_t i;

	if (!c)
		return;
	control_close(c->control);
	ingest_close(c->ingest);
	instances_free(c->reg);
	for (i = 0; c->settings && i < c->nsettings; i++) {
		sd_event_source_disable_unref(c->settings[i].timer);
		sd_event_source_disable_unref(c->settings[i].reconcile);
		json_decref(c->settings[i].last_action);
		json_decref(c->settings[i].op_action);
	}
	free(c->settings);
	engine_free(c->engine);
	free(c);
}

/* ---- control requests ---- */

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
	if (have && cs->last.cooldown_until_ns > now_ns)
		left = cs->last.cooldown_until_ns - now_ns;
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
	struct store *st = engine_store(c->engine);

	return json_pack("{s:i, s:b, s:o, s:{s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I}}",
			 "v", CONTROL_VERSION, "ok", true,
			 "ingest", ingest_stats_json(c->ingest, c->reg),
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
