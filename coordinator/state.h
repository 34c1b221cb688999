/* state: the coordinator's durable state per setting (state_dir/state.json), saved atomically */
#ifndef ASCALE_STATE_H
#define ASCALE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "setting.h"

#define STATE_ID_MAX		37		/* a correlation id: a UUID's 36 characters and a NUL */
#define STATE_VERSION		1
#define STATE_FILE_MAX		(16 << 20)	/* bytes of state.json read */
#define STATE_NONE		INT64_MIN	/* cooldown_until_ns: no cooldown */

/* The last scale action applied (or tried) on a setting. */
struct state_action {
	char id[STATE_ID_MAX];		/* correlation id, as in history.jsonl */
	int64_t time_ns;		/* CLOCK_REALTIME */
	char profile[SETTING_NAME_MAX];
	char rule[SETTING_NAME_MAX];	/* "" when no rule (a clamp, missing metrics) */
	char cause[16];
	unsigned from, to;
	char outcome[16];
};

/* A set in flight: what to check, and to record, after a restart. */
struct state_op {
	char id[STATE_ID_MAX];
	unsigned capacity, previous;
	int64_t started_ns;
	json_t *record;			/* owned (one reference); an object or NULL; never looked into */
};

/*
 * One setting.  Times are CLOCK_REALTIME ns; the file keeps milliseconds, so
 * a time reads back truncated to the millisecond.  Counts are 0 to
 * BACKEND_CAPACITY_MAX.  Change op only through state_op_set/state_op_clear.
 */
struct state_setting {
	char name[SETTING_NAME_MAX];
	bool have_count;
	unsigned count;
	int64_t count_ns;		/* when count was read or set */
	int64_t cooldown_until_ns;	/* STATE_NONE: no cooldown */
	bool have_action;
	struct state_action last;
	bool in_flight;
	struct state_op op;
	bool have_sim;
	unsigned sim_count;		/* the sim backend's endpoint */
};

struct state;

/*
 * Opens dir (created 0750 when missing) and loads dir/state.json when it is
 * there.  A file that cannot be used is logged as PATH:LINE:COL: what was
 * expected, renamed to state.json.corrupt (replacing an older one), and the
 * state starts empty but loaded.  Returns 0, or -errno on an I/O error
 * (logged).
 */
int state_open(const char *dir, struct state **out);
/* A file was there (even a corrupt one): this is a restart, not a first start. */
bool state_loaded(const struct state *st);
/* The "written" time of the file loaded, 0 when none was (or it was corrupt). */
int64_t state_written_ns(const struct state *st);

/* The setting named name, added (empty, no cooldown) when new; NULL when name is too long or on ENOMEM. */
struct state_setting *state_setting(struct state *st, const char *name);
/* The setting named name, or NULL. */
struct state_setting *state_find(struct state *st, const char *name);
/* Every setting, those of the file first (in its order), then those added. */
size_t state_count(const struct state *st);
struct state_setting *state_at(struct state *st, size_t i);

/* Starts an operation in flight (takes its own reference to record, which may be NULL). */
void state_op_set(struct state_setting *s, const char *id, unsigned capacity, unsigned previous,
		  int64_t started_ns, json_t *record);
/* Ends it: in_flight false, the record dropped. */
void state_op_clear(struct state_setting *s);

/*
 * Writes every setting (also those of the file that were never asked for)
 * to state.json.tmp (0640), fsyncs it, renames it over state.json and fsyncs
 * the directory.  On an error the old file is left as it was.  Returns 0,
 * -ERANGE or -EINVAL when a value cannot be written (a time before 1970, a
 * count out of range, a string not NUL-terminated or not UTF-8, a record
 * that is not an object), or -errno; every error is logged.
 */
int state_save(struct state *st);
void state_free(struct state *st);

/*
 * The state in text[0..len) as a new state, not attached to a directory
 * (state_save refuses it).  On an error nothing is returned, err holds
 * "LINE:COL: KEY: what was expected" and -EINVAL is returned (-ENOMEM when
 * out of memory).  Nothing is logged.
 */
int state_parse(const char *text, size_t len, struct state **out, char *err, size_t errlen);
/*
 * The text state_save writes (JSON_INDENT(2), a final newline), with
 * written_ns as its "written" time, into a malloc'ed *text.  Returns 0,
 * -ERANGE or -EINVAL (err says which setting and value), or -ENOMEM.
 */
int state_format(const struct state *st, int64_t written_ns, char **text, char *err, size_t errlen);

/* state_dir itself (history.c too): creates it (0750) when missing; 0 or -errno (logged). */
int state_dir_make(const char *dir);
/* fsyncs the directory, after a rename or a create in it; 0 or -errno (logged). */
int state_dir_sync(const char *dir);

#endif
