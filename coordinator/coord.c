/* coord: the coordinator's state: the engine ticking each setting on the wall clock, and control requests */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <systemd/sd-journal.h>

#include "backend.h"
#include "control.h"
#include "coord_int.h"
#include "decision.h"
#include "engine.h"
#include "history.h"
#include "ingest.h"
#include "instances.h"
#include "log.h"
#include "notify.h"
#include "state.h"
#include "timeutil.h"

/*
 * Late data.  Agents resend what they hold after an outage, oldest first,
 * and a coordinator restart forgets what it had, so they resend everything.
 * The store keeps grains within COORD_LATENESS_NS (or startup_grace + 60 s
 * if longer) of the newest open, and during startup_grace no boundary is
 * evaluated (a query closes grains): the resends land in open grains.
 */
#define COORD_LATENESS_NS	(120 * NSEC_PER_SEC)

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

static int coord_reconcile(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct coord_setting *cs = userdata;

	(void)usec;
	if (cs->have_count || cs->op_recovered)
		coord_scale_get(cs);	/* before: the ticks retry */
	sd_event_source_set_time_relative(s, (uint64_t)(cs->coord->conf->reconcile_ns / NSEC_PER_USEC));
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int coord_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct coord_setting *cs = userdata;
	struct coord *c = cs->coord;
	int64_t cooldown;
	struct decision d;
	int r;

	(void)s;
	(void)usec;
	if (cs->next_ns < c->grace_until_ns)
		return coord_arm(cs, time_real_ns());	/* recovering: no query closes a grain */
	if (!cs->have_count) {
		coord_scale_get(cs);	/* no count yet: nothing to evaluate against */
		return coord_arm(cs, time_real_ns());
	}
	if (!cs->ticks && c->grace_until_ns)
		log_info("%s: startup grace over: evaluating", c->conf->engine->settings[cs->index].name);
	cooldown = engine_cooldown(c->engine, cs->index);
	r = engine_evaluate(c->engine, cs->index, cs->next_ns, cs->count, &d);
	if (r < 0) {
		log_err("%s: evaluation failed: %s", c->conf->engine->settings[cs->index].name,
			strerror(-r));
	} else {
		cs->ticks++;
		coord_log_decision(c, &d);
		coord_scale_events(cs, &d);
		if (d.applied)
			coord_scale_apply(cs, &d, cooldown);
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
	r = state_open(conf->state_dir, &c->state);
	if (r < 0)
		goto fail;	/* logged */
	r = history_open(conf->state_dir, conf->history_max_bytes, conf->history_keep, &c->history);
	if (r < 0)
		goto fail;
	r = notify_new(e, &conf->notify_policy, &c->notify);
	if (r < 0)
		goto fail;
	/*
	 * Agents resend what they hold when a coordinator comes back; a first
	 * start (no state.json yet) or one without listen has nothing to wait for.
	 */
	if (conf->nlisten && conf->startup_grace_ns > 0 && state_loaded(c->state)) {
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
		coord_scale_restore(cs);
		r = backend_start(cs->backend, e);
		if (r < 0)
			goto fail;	/* logged */
		r = sd_event_add_time_relative(e, &cs->reconcile, CLOCK_MONOTONIC,
					       (uint64_t)(conf->reconcile_ns / NSEC_PER_USEC),
					       100 * 1000, coord_reconcile, cs);
		if (r < 0)
			goto fail;
		coord_scale_get(cs);
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
	notify_free(c->notify);
	history_close(c->history);
	state_free(c->state);
	engine_free(c->engine);
	free(c);
}
