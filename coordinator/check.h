/* check: warnings about a valid configuration that will not behave as meant */
#ifndef ASCALE_CHECK_H
#define ASCALE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "setting.h"

#define CHECK_HORIZON_DAYS	400	/* how far ahead "never applies" looks */

enum check_severity { CHECK_ERROR, CHECK_WARNING, CHECK_NOTE };

struct check_finding {
	enum check_severity severity;
	const char *code;		/* "flap-risk", "no-scale-in"... (static) */
	unsigned line;			/* in the configuration file */
	char setting[SETTING_NAME_MAX];
	char profile[SETTING_NAME_MAX];	/* "" when about the setting */
	char rule[SETTING_NAME_MAX];	/* "" when about a profile */
	char message[400];
};

struct check_report {
	size_t n, cap;
	struct check_finding *f;
	size_t errors, warnings, notes;
};

/*
 * Checks a loaded configuration at UTC time now (seconds; "never applies"
 * looks from now on).  Findings are appended to rep in file order of the
 * settings.  Returns 0 or -ENOMEM.  Reads no clock and no file.
 */
int check_conf(const struct engine_conf *conf, int64_t now, struct check_report *rep);

/* Appends one finding (used for the caller's own findings too); 0 or -ENOMEM. */
int check_add(struct check_report *rep, enum check_severity sev, const char *code, unsigned line,
	      const char *setting, const char *profile, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

void check_report_free(struct check_report *rep);

#define CHECK_LOAD_COLLECT	0x1	/* errors go to rep (code "invalid"), not to the log */
#define CHECK_LOAD_NOTE_KEYS	0x2	/* note the daemon's keys, which the engine does not know */

/*
 * Loads path for a tool (asctl check, schedule): the keys of [coordinator] and
 * [autoscale] that are not the engine's belong to the daemon and are accepted.
 * With CHECK_LOAD_COLLECT the loader's messages are taken from the log (the
 * log's sink is reset to stderr afterwards) and added to rep as errors with
 * their FILE:LINE.  Returns setting_conf_load()'s result.
 */
int check_load(const char *path, unsigned flags, struct check_report *rep,
	       struct engine_conf **out);
const char *check_severity_name(enum check_severity s);

#endif
