/* arm_import_int: the importer's state, shared by arm_import.c, arm_import_profile.c and arm_import_rule.c */
#ifndef ASCALE_ARM_IMPORT_INT_H
#define ASCALE_ARM_IMPORT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "arm.h"
#include "arm_json.h"
#include "setting.h"

struct imp {
	struct arm_json js;		/* source and "where" prefix of messages */
	struct engine_conf *conf;
	size_t cap;
	struct arm_target *t;
	bool have_target, have_location, coord_seen, warned_notify;
};

/* One Azure profile, read before pairing. */
struct az_profile {
	const char *name;		/* as Azure has it */
	bool is_auto;			/* an auto-created pair of the default */
	char for_name[256];		/* the profile it ends */
	char path[ARM_JSON_PATH_MAX];
	bool used;
	struct profile p;
};

/* arm_import.c: Azure names as ours */
void arm_import_name_clean(const char *in, char *out, size_t len);
void arm_import_name_unique(char *name, size_t len, const char *base, const char *reserved,
			    const char *names, size_t stride, size_t n);

/* arm_import_rule.c: one rules[] entry */
int arm_import_rule_parse(struct imp *im, const json_t *jr, const char *path, struct rule *r,
			  const char *target_uri, const char *endpoint_uri);

/* arm_import_profile.c: one profiles[] entry, then a setting's profiles from them all */
int arm_import_profile_parse(struct imp *im, const json_t *jp, const char *path, struct az_profile *az,
			     const char *target_uri, const char *endpoint_uri);
int arm_import_profile_build(struct imp *im, struct setting *s, struct az_profile *az, size_t n,
			     const json_t *tags, const char *props_path, const char *res_path);

#endif
