/* setting: the configuration model of the engine (settings, profiles, rules) */
#ifndef ASCALE_SETTING_H
#define ASCALE_SETTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "condition.h"

#define SETTING_NAME_MAX	64
#define PROFILES_MAX		20	/* Azure's limit per setting */
#define RULES_MAX		10	/* Azure's limit per profile */
#define WINDOW_GRAINS_MAX	86400	/* grains in one rule's window */
#define COUNT_MAX		1000

struct tz;
struct conf_ctx;

enum scale_kind { SCALE_OUT, SCALE_IN, SCALE_TO };
enum grain_stat { GRAIN_AVG, GRAIN_MIN, GRAIN_MAX, GRAIN_SUM, GRAIN_COUNT };
enum rule_resource { RESOURCE_DEPLOYMENT, RESOURCE_ENDPOINT };
enum profile_kind { PROFILE_DEFAULT, PROFILE_FIXED, PROFILE_RECURRING };

struct rule {
	char name[SETTING_NAME_MAX];
	unsigned line;			/* of its first key, for messages */
	struct condition cond;
	bool has_cond;
	enum scale_kind kind;
	bool percent;
	unsigned amount;		/* instances, percent, or the target count */
	int64_t cooldown_ns;
	enum grain_stat grain_stat;
	int64_t grain_ns;
	enum rule_resource resource;
	bool divide_per_instance;
	unsigned seen;			/* loader: keys given (bit per key) */
	unsigned line_cond, line_grain;
};

struct profile {
	char name[SETTING_NAME_MAX];
	unsigned line;
	bool declared;			/* has its own [profile] section */
	enum profile_kind kind;
	unsigned min_count, max_count, count;
	bool has_min, has_max, has_count;
	char tz_name[64];		/* as written */
	const struct tz *tz;		/* NULL: UTC */
	/* recurring: days (bit 0 = Sunday) and [start, end) in minutes of the day */
	unsigned days;
	int start_min, end_min;
	bool has_start, has_end;
	/* fixed: [start, end) as written (local seconds) and in UTC seconds */
	int64_t fixed_start_local, fixed_end_local;
	int64_t fixed_start, fixed_end;
	unsigned nrules;
	struct rule rules[RULES_MAX];
	/* loader bookkeeping, kept for messages from asctl check */
	unsigned seen;
	bool start_is_date, end_is_date;
	unsigned line_count, line_min, line_max, line_start, line_end, line_recur;
};

struct setting {
	char name[SETTING_NAME_MAX];
	unsigned line;
	char deployment[SETTING_NAME_MAX];
	char endpoint[SETTING_NAME_MAX];
	char backend[16];
	bool enabled;
	int64_t evaluate_every_ns;	/* 0: the coordinator's */
	unsigned nprofiles;
	struct profile profiles[PROFILES_MAX];
	bool declared;			/* has its own [autoscale] section */
	unsigned seen;
};

struct engine_conf {
	int64_t evaluate_every_ns;
	size_t nsettings;
	struct setting *settings;
};

/*
 * Keys of [coordinator] and [autoscale NAME] that belong to the daemon (listen,
 * state_dir, backend options...).  Return 0 when the key was taken, -ENOENT
 * when unknown (the loader reports it), or conf_error()'s result.  setting is
 * NULL for [coordinator].
 */
typedef int (*setting_key_fn)(struct conf_ctx *c, const char *setting,
			      const char *key, const char *value, void *user);

/*
 * Loads path; every error is reported as FILE:LINE: message.  On success
 * *out is a complete, validated configuration; on any error nothing is
 * returned (-EINVAL, or -errno when the file cannot be read).
 */
int setting_conf_load(const char *path, setting_key_fn extra, void *user,
		      struct engine_conf **out);
void setting_conf_free(struct engine_conf *conf);

/* A setting, profile or rule name: 1 to 63 of [A-Za-z0-9_.-]. */
bool setting_name_ok(const char *s);
/* Index of the setting called name, or -ENOENT. */
int setting_find(const struct engine_conf *conf, const char *name);
/* The profile named "default" (every loaded setting has one). */
const struct profile *setting_default_profile(const struct setting *s);
int64_t setting_evaluate_every(const struct engine_conf *conf, const struct setting *s);

const char *scale_kind_name(enum scale_kind k);
const char *grain_stat_name(enum grain_stat g);

#endif
