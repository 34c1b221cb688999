/* decision: the record of one engine tick, and its events as text or JSON */
#ifndef ASCALE_DECISION_H
#define ASCALE_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "setting.h"

enum rule_state { RS_NOT_FIRED, RS_FIRED, RS_WARMING, RS_MISSING, RS_COOLDOWN };
enum cause { CAUSE_NONE, CAUSE_RULE, CAUSE_CLAMP, CAUSE_MISSING };

#define EV_SCALE	0x01u
#define EV_FLAPPING	0x02u
#define EV_PROFILE	0x04u
#define EV_MISSING	0x08u
#define EV_RECOVERED	0x10u

struct rule_eval {
	enum rule_state state;
	double observed;		/* NAN when missing */
	double estimate;		/* flapping estimate at the scale-in target, or NAN */
	uint64_t samples;
};

struct decision {
	int64_t time_ns;
	size_t setting;
	int profile, prev_profile;	/* prev_profile -1 at the first tick */
	unsigned before, after;		/* after: what the engine decided (or would have) */
	enum cause cause;
	int rule;			/* index in the profile, -1 for none */
	bool applied;			/* after != before and the setting is enabled */
	bool disabled;
	bool flapping_adjusted;
	unsigned wanted;		/* scale-in target before flapping protection */
	int64_t cooldown_until_ns;	/* when rule-driven actions may start again */
	unsigned events;		/* EV_* */
	unsigned nrules;
	struct rule_eval rules[RULES_MAX];
	char reason[512];
};

const char *rule_state_name(enum rule_state s);
const char *cause_name(enum cause c);

/* Appends to the decision's reason ("; " between parts). */
void decision_say(struct decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prints the decision's events, one a line: JSON objects (time, event,
 * setting, profile, and for scale from, to, rule, cause, reason) or an
 * aligned table.  Returns the number of lines.
 */
int decision_print_events(const struct engine_conf *conf, const struct decision *d,
			  bool json, FILE *out);

/* The whole record as a JSON object (caller json_decref()s); NULL on ENOMEM. */
struct json_t *decision_to_json(const struct engine_conf *conf, const struct decision *d);

#endif
