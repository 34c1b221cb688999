/* coord_int: the coordinator's per-setting state, shared by coord.c, coord_scale.c and coord_status.c */
#ifndef ASCALE_COORD_INT_H
#define ASCALE_COORD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "coord.h"
#include "decision.h"

#define COORD_RECOVERING	"recovering: waiting for agents to resend"
#define COORD_STARTING		"starting: waiting for the backend's count"

struct coord_setting {
	struct coord *coord;
	size_t index;
	struct backend *backend;	/* the conf's */
	unsigned count;			/* the endpoint's count, as last read or set */
	bool have_count;		/* the backend answered a get: the setting evaluates */
	char get_error[BACKEND_MESSAGE_MAX];	/* of the failing gets, logged once; "" when none */
	bool waiting_logged;		/* "waiting for the operation in flight" */
	int64_t hold_until_ns;		/* no set before (CLOCK_REALTIME): the last one failed */
	bool hold_logged;
	bool op_recovered;		/* state.json had a set in flight at start-up: coord_recover() */
	int64_t recover_until_ns;	/* CLOCK_MONOTONIC: waiting for a busy deployment ends */
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
	struct state *state;		/* state_dir/state.json */
	struct history *history;	/* state_dir/history.jsonl */
	struct notify *notify;		/* the settings' webhooks */
};

/* coord_scale.c: decisions carried out through the backend, durably */
void coord_scale_restore(struct coord_setting *cs);
void coord_scale_get(struct coord_setting *cs);
void coord_scale_apply(struct coord_setting *cs, const struct decision *d, int64_t prev_cooldown);
void coord_scale_events(struct coord_setting *cs, const struct decision *d);

#endif
