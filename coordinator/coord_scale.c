/* coord_scale: carrying decisions out through the backend, durably: state.json, history.jsonl, webhooks */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "coord_int.h"
#include "engine.h"
#include "history.h"
#include "log.h"
#include "notify.h"
#include "schedule.h"
#include "state.h"
#include "timeutil.h"

/*
 * After a failed set the setting holds this long before the next one (the
 * backend already retried within its operation), and a rule's cooldown is
 * cut to it: the failure did not change the count.
 */
#define COORD_HOLD_NS		(60 * NSEC_PER_SEC)
/* After a restart, how long a deployment still busy with our operation is waited for. */
#define COORD_RECOVER_NS	(15 * 60 * NSEC_PER_SEC)
#define COORD_RECHECK_NS	(2 * NSEC_PER_SEC)

static const char *coord_name(const struct coord_setting *cs)
{
	return cs->coord->conf->engine->settings[cs->index].name;
}

static const struct setting *coord_conf_setting(const struct coord_setting *cs)
{
	return &cs->coord->conf->engine->settings[cs->index];
}

static struct state_setting *coord_state(struct coord_setting *cs)
{
	return state_setting(cs->coord->state, coord_name(cs));
}

/* state.json now; logged by state_save */
static int coord_save(struct coord_setting *cs)
{
	return state_save(cs->coord->state);
}

static json_t *coord_time_json(int64_t ns)
{
	char when[40];

	return json_string(time_format_rfc3339(ns, when, sizeof(when)));
}

/* A history record's common part: id, time, setting, event. */
static json_t *coord_record(struct coord_setting *cs, const char *event, int64_t time_ns, char *id)
{
	char own[STATE_ID_MAX];

	if (!id)
		id = own;
	if (history_id(id) < 0) {
		log_err("%s: no %s record: cannot draw a random correlation id", coord_name(cs), event);
		return NULL;
	}
	return json_pack("{s:s, s:o, s:s, s:s}", "id", id, "time", coord_time_json(time_ns),
			 "setting", coord_name(cs), "event", event);
}

/* Appends record (consumed); failures are logged by history_append. */
static void coord_history(struct coord_setting *cs, json_t *record)
{
	if (record)
		history_append(cs->coord->history, record);
	json_decref(record);
}

/* The last count known, in the state and for the sim endpoint; whether it changed. */
static bool coord_state_count(struct coord_setting *cs, unsigned count)
{
	struct state_setting *st = coord_state(cs);
	bool changed;

	if (!st)
		return false;
	changed = !st->have_count || st->count != count;
	st->have_count = true;
	st->count = count;
	st->count_ns = time_real_ns();
	if (strcmp(coord_conf_setting(cs)->backend, "sim") == 0) {
		st->have_sim = true;
		st->sim_count = count;
	}
	return changed;
}

/* ---- webhooks ---- */

static void coord_notify(struct coord_setting *cs, const json_t *record, unsigned from, unsigned to,
			 int64_t started_ns)
{
	const struct coord_conf *conf = cs->coord->conf;
	const struct setting *s = coord_conf_setting(cs);
	struct backend_resource res;
	struct notify_event ev;
	json_t *payload;
	size_t i;

	if (!conf->notify[cs->index].n || from == to)
		return;
	backend_describe(cs->backend, &res);
	memset(&ev, 0, sizeof(ev));
	ev.time_ns = started_ns;
	ev.setting = s->name;
	ev.resource_name = s->deployment;
	ev.resource_type = res.type;
	ev.resource_id = res.id;
	ev.subscription = res.subscription;
	ev.resource_group = res.resource_group;
	ev.old_capacity = from;
	ev.new_capacity = to;
	ev.properties = record;
	payload = notify_payload(&ev);
	if (!payload) {
		log_err("%s: cannot build the webhook payload: %s", s->name, strerror(errno));
		return;
	}
	for (i = 0; i < conf->notify[cs->index].n; i++)
		notify_post(cs->coord->notify, conf->notify[cs->index].urls[i], payload);	/* logs */
	json_decref(payload);
}

/* ---- reading the count ---- */

static void coord_backend_done(struct backend *b, const struct backend_result *r, void *user);

void coord_scale_get(struct coord_setting *cs)
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

/* Reads the count again at the next loop iteration (after an operation). */
static void coord_get_soon(struct coord_setting *cs)
{
	sd_event_source_set_time_relative(cs->reconcile, 0);
	sd_event_source_set_enabled(cs->reconcile, SD_EVENT_ONESHOT);
}

/* A get failed: logged and recorded once while the failure stays the same. */
static void coord_get_failed(struct coord_setting *cs, const struct backend_result *r)
{
	const char *msg = r->message[0] ? r->message : "?";
	char brief[64];
	json_t *rec;

	if (strcmp(cs->get_error, msg) == 0)
		return;
	log_err("%s: cannot read the count (%s): %s", coord_name(cs),
		backend_result_brief(r, brief, sizeof(brief)), msg);
	snprintf(cs->get_error, sizeof(cs->get_error), "%s", msg);
	rec = coord_record(cs, "api_failure", time_real_ns(), NULL);
	if (rec)
		json_object_update_new(rec, json_pack("{s:s, s:s, s:I, s:I, s:s}", "operation", "get",
						      "outcome", backend_status_name(r->status),
						      "http_status", (json_int_t)r->http_status,
						      "attempts", (json_int_t)r->attempts, "message", msg));
	coord_history(cs, rec);
}

/*
 * Ends the set that was in flight: the record it carried gets its outcome
 * and goes to the history; state.json forgets the operation and keeps the
 * action as the last one.
 */
static void coord_op_end(struct coord_setting *cs, const char *outcome, const struct backend_result *r,
			 unsigned count, const char *message)
{
	struct state_setting *st = coord_state(cs);
	json_t *rec;

	if (!st || !st->in_flight)
		return;
	rec = st->op.record ? json_deep_copy(st->op.record) : json_object();
	if (rec) {
		json_object_update_new(rec, json_pack("{s:s, s:o, s:i, s:s}", "outcome", outcome,
						      "completed", coord_time_json(time_real_ns()),
						      "count", count, "message", message));
		if (r)
			json_object_update_new(rec, json_pack("{s:I, s:I}", "http_status",
							      (json_int_t)r->http_status, "attempts",
							      (json_int_t)r->attempts));
		if (cs->op_recovered)
			json_object_set_new(rec, "after_restart", json_true());
	}
	st->have_action = true;
	memset(&st->last, 0, sizeof(st->last));
	snprintf(st->last.id, sizeof(st->last.id), "%s", st->op.id);
	st->last.time_ns = st->op.started_ns;
	st->last.from = st->op.previous;
	st->last.to = st->op.capacity;
	snprintf(st->last.outcome, sizeof(st->last.outcome), "%s", outcome);
	if (rec) {
		snprintf(st->last.profile, sizeof(st->last.profile), "%s",
			 json_string_value(json_object_get(rec, "profile")) ?: "");
		snprintf(st->last.rule, sizeof(st->last.rule), "%s",
			 json_string_value(json_object_get(rec, "rule")) ?: "");
		snprintf(st->last.cause, sizeof(st->last.cause), "%s",
			 json_string_value(json_object_get(rec, "cause")) ?: "");
	}
	if (strcmp(outcome, "succeeded") == 0)
		coord_notify(cs, rec, st->op.previous, count, st->op.started_ns);
	json_decref(cs->last_action);
	cs->last_action = json_incref(rec);	/* for status */
	coord_history(cs, rec);	/* before the state forgets the operation: see coord_scale_restore() */
	state_op_clear(st);
	st->cooldown_until_ns = engine_cooldown(cs->coord->engine, cs->index);
	coord_save(cs);
	cs->op_recovered = false;
}

/*
 * The first count read after a restart with a set in flight decides its
 * fate: recorded already, done, still running, lost (sent again, the same
 * capacity with the same id) or no longer wanted.
 */
static bool coord_recover(struct coord_setting *cs, const struct backend_result *r)
{
	const struct setting *s = coord_conf_setting(cs);
	struct state_setting *st = coord_state(cs);
	const struct profile *p;
	char msg[BACKEND_MESSAGE_MAX];
	int e;

	if (!st || !st->in_flight) {
		cs->op_recovered = false;
		return false;
	}
	if (history_find(cs->coord->history, st->op.id) == 0) {
		/* killed between the history line and the state update */
		state_op_clear(st);
		coord_save(cs);
		cs->op_recovered = false;
		return false;
	}
	if (r->capacity == st->op.capacity) {
		log_notice("%s: the operation %u -> %u in flight at the restart had been carried out",
			   s->name, st->op.previous, st->op.capacity);
		coord_op_end(cs, "succeeded", r, r->capacity, "carried out before the restart");
		return false;
	}
	if (r->busy && time_mono_ns() < cs->recover_until_ns) {
		log_info("%s: the deployment is still busy with the operation %u -> %u: waiting", s->name,
			 st->op.previous, st->op.capacity);
		sd_event_source_set_time_relative(cs->reconcile, COORD_RECHECK_NS / NSEC_PER_USEC);
		sd_event_source_set_enabled(cs->reconcile, SD_EVENT_ONESHOT);
		return true;
	}
	p = &s->profiles[schedule_profile(s, time_real_ns() / NSEC_PER_SEC)];
	if (st->op.capacity < p->min_count || st->op.capacity > p->max_count) {
		snprintf(msg, sizeof(msg), "not sent again after the restart: %u is outside profile %s's [%u, %u]",
			 st->op.capacity, p->name, p->min_count, p->max_count);
		log_notice("%s: %s", s->name, msg);
		coord_op_end(cs, "abandoned", r, r->capacity, msg);
		return false;
	}
	log_notice("%s: the operation %u -> %u in flight at the restart did not take effect: sending it again",
		   s->name, st->op.previous, st->op.capacity);
	e = backend_set(cs->backend, st->op.capacity, coord_backend_done, cs);
	if (e < 0) {
		snprintf(msg, sizeof(msg), "cannot be sent again: %s", strerror(-e));
		coord_op_end(cs, "failed", r, r->capacity, msg);
		return false;
	}
	cs->op_set = true;
	cs->op_capacity = st->op.capacity;
	cs->op_since = time_real_ns();
	return false;
}

static void coord_get_done(struct coord_setting *cs, const struct backend_result *r)
{
	const char *name = coord_name(cs);
	json_t *rec;

	if (r->status != BACKEND_OK || !r->have_capacity) {
		coord_get_failed(cs, r);
		return;
	}
	if (cs->get_error[0])
		log_info("%s: the backend answers again", name);
	cs->get_error[0] = 0;
	cs->reconciled_ns = cs->result_ns;
	if (cs->op_recovered && coord_recover(cs, r))
		return;	/* read again later */
	if (!cs->have_count) {
		log_info("%s: count %u read from the backend: evaluating", name, r->capacity);
	} else if (r->capacity != cs->count) {
		log_notice("%s: count changed outside ascale: %u -> %u: adopted", name, cs->count,
			   r->capacity);
		rec = coord_record(cs, "external_change", time_real_ns(), NULL);
		if (rec)
			json_object_update_new(rec, json_pack("{s:i, s:i}", "from", cs->count,
							      "to", r->capacity));
		coord_history(cs, rec);
	}
	cs->count = r->capacity;
	cs->have_count = true;
	if (coord_state_count(cs, r->capacity))
		coord_save(cs);
}

/* ---- setting the count ---- */

static void coord_set_done(struct coord_setting *cs, const struct backend_result *r)
{
	const char *name = coord_name(cs);
	struct engine *e = cs->coord->engine;
	int64_t now = time_real_ns();
	char brief[64];
	unsigned count;

	json_decref(cs->op_action);
	cs->op_action = NULL;
	if (r->status != BACKEND_OK) {
		/* the same refusal action after action is logged once */
		if (strcmp(cs->set_error, r->message[0] ? r->message : "?") != 0)
			log_err("%s: setting the count to %u failed (%s): %s; keeping %u", name,
				cs->op_capacity, backend_result_brief(r, brief, sizeof(brief)), r->message,
				cs->count);
		snprintf(cs->set_error, sizeof(cs->set_error), "%s", r->message[0] ? r->message : "?");
		cs->hold_until_ns = now + COORD_HOLD_NS;
		cs->hold_logged = false;
		if (engine_cooldown(e, cs->index) > cs->hold_until_ns)
			engine_set_cooldown(e, cs->index, cs->hold_until_ns);
		coord_op_end(cs, backend_status_name(r->status), r, cs->count, r->message);
		coord_get_soon(cs);
		return;
	}
	cs->set_error[0] = 0;
	count = r->have_capacity ? r->capacity : cs->op_capacity;
	log_notice("%s: count %u -> %u set (%s): %s", name, cs->count, count,
		   backend_result_brief(r, brief, sizeof(brief)), r->message);
	cs->count = count;
	coord_state_count(cs, count);
	coord_op_end(cs, "succeeded", r, count, r->message);
	coord_get_soon(cs);
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

/* The record of a scale action, written ahead to state.json and completed in history.jsonl. */
static json_t *coord_action_record(struct coord_setting *cs, const struct decision *d, char *id)
{
	const struct engine_conf *conf = cs->coord->conf->engine;
	const struct profile *p = &conf->settings[d->setting].profiles[d->profile];
	json_t *rec = coord_record(cs, "scale", d->time_ns, id);

	if (!rec)
		return NULL;
	json_object_update_new(rec, json_pack("{s:s, s:s, s:o, s:s, s:i, s:i, s:s, s:o}",
					      "direction", d->after > d->before ? "out" : "in",
					      "profile", p->name,
					      "rule", d->rule >= 0 ? json_string(p->rules[d->rule].name) :
					      json_null(), "cause", cause_name(d->cause),
					      "from", d->before, "to", d->after, "reason", d->reason,
					      "decision", decision_to_json(conf, d)));
	return rec;
}

/*
 * Carries out decision d.  prev_cooldown is the cooldown before the tick:
 * an action that does not start gives it back, so that the rule may fire
 * again once the way is clear.  The operation is written to state.json
 * before the backend is called: after a crash the restart finds it.
 */
void coord_scale_apply(struct coord_setting *cs, const struct decision *d, int64_t prev_cooldown)
{
	struct engine *e = cs->coord->engine;
	struct state_setting *st;
	char id[STATE_ID_MAX];
	json_t *rec;
	int r;

	if (d->after == cs->count)
		return;
	if (backend_busy(cs->backend)) {
		if (!cs->waiting_logged)
			log_info("%s: %u -> %u waiting for the operation in flight", coord_name(cs),
				 cs->count, d->after);
		cs->waiting_logged = true;
		engine_set_cooldown(e, cs->index, prev_cooldown);
		return;
	}
	if (cs->hold_until_ns > d->time_ns) {
		if (!cs->hold_logged)
			log_info("%s: %u -> %u waiting for the hold after a failed action (%.0f s)",
				 coord_name(cs), cs->count, d->after,
				 (double)(cs->hold_until_ns - d->time_ns) / NSEC_PER_SEC);
		cs->hold_logged = true;
		engine_set_cooldown(e, cs->index, prev_cooldown);
		return;
	}
	st = coord_state(cs);
	rec = coord_action_record(cs, d, id);
	if (!st || !rec) {
		log_err("%s: cannot scale %u -> %u: out of memory", coord_name(cs), cs->count, d->after);
		json_decref(rec);
		engine_set_cooldown(e, cs->index, prev_cooldown);
		return;
	}
	state_op_set(st, id, d->after, cs->count, time_real_ns(), rec);
	st->cooldown_until_ns = engine_cooldown(e, cs->index);
	if (coord_save(cs) < 0) {
		log_err("%s: not scaling %u -> %u: the operation cannot be recorded first", coord_name(cs),
			cs->count, d->after);
		state_op_clear(st);
		engine_set_cooldown(e, cs->index, prev_cooldown);
		st->cooldown_until_ns = prev_cooldown;
		json_decref(rec);
		return;
	}
	r = backend_set(cs->backend, d->after, coord_backend_done, cs);
	if (r < 0) {
		log_err("%s: cannot set the count to %u: %s", coord_name(cs), d->after, strerror(-r));
		engine_set_cooldown(e, cs->index, prev_cooldown);
		coord_op_end(cs, "failed", NULL, cs->count, strerror(-r));
		json_decref(rec);
		return;
	}
	cs->op_set = true;
	cs->op_capacity = d->after;
	cs->op_since = time_real_ns();
	json_decref(cs->op_action);
	cs->op_action = rec;
}

/* Flapping, missing and recovered metrics, and profile changes go to the history. */
void coord_scale_events(struct coord_setting *cs, const struct decision *d)
{
	const struct engine_conf *conf = cs->coord->conf->engine;
	const struct profile *profiles = conf->settings[d->setting].profiles;
	static const struct {
		unsigned ev;
		const char *name;
	} kinds[] = {
		{ EV_FLAPPING, "flapping" }, { EV_MISSING, "metrics_missing" },
		{ EV_RECOVERED, "metrics_recovered" }, { EV_PROFILE, "profile" },
	};
	json_t *rec;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!(d->events & kinds[i].ev))
			continue;
		rec = coord_record(cs, kinds[i].name, d->time_ns, NULL);
		if (!rec)
			continue;
		json_object_update_new(rec, json_pack("{s:s, s:i, s:i, s:s, s:o}",
						      "profile", profiles[d->profile].name,
						      "from", d->before, "to", d->after,
						      "reason", d->reason, "decision",
						      decision_to_json(conf, d)));
		if (kinds[i].ev == EV_PROFILE && d->prev_profile >= 0)
			json_object_set_new(rec, "previous_profile",
					    json_string(profiles[d->prev_profile].name));
		coord_history(cs, rec);
	}
}

/*
 * Before the first get after start-up: the state from before a restart.
 * The cooldown holds on; a set in flight is checked by the first count read
 * (coord_recover).  A history line written just before a crash that hit
 * before the state was updated is found by its id, so no action is
 * recorded twice.
 */
void coord_scale_restore(struct coord_setting *cs)
{
	const char *name = coord_name(cs);
	struct state_setting *st = state_find(cs->coord->state, name);
	char when[40];

	if (!st)
		return;
	if (st->cooldown_until_ns != STATE_NONE) {
		engine_set_cooldown(cs->coord->engine, cs->index, st->cooldown_until_ns);
		if (st->cooldown_until_ns > time_real_ns())
			log_info("%s: in cooldown until %s, as before the restart", name,
				 time_format_rfc3339(st->cooldown_until_ns, when, sizeof(when)));
	}
	if (st->have_count)
		cs->count = st->count;	/* shown until the backend answers */
	if (st->have_sim)
		backend_seed(cs->backend, st->sim_count);
	else if (st->have_count)
		backend_seed(cs->backend, st->count);
	if (st->in_flight) {
		log_notice("%s: an operation %u -> %u was in flight at the restart: checking it", name,
			   st->op.previous, st->op.capacity);
		cs->op_recovered = true;
		cs->recover_until_ns = time_mono_ns() + COORD_RECOVER_NS;
	}
}
