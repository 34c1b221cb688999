/* arm: Azure Monitor autoscaleSettings JSON (ARM, api 2022-10-01) to and from the engine's model */
#ifndef ASCALE_ARM_H
#define ASCALE_ARM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "setting.h"

#define ARM_API_VERSION		"2022-10-01"
#define ARM_TYPE		"Microsoft.Insights/autoscaleSettings"
#define ARM_TAG_PREFIX		"ascale:"
#define ARM_AUTO_NAME		"Auto created default scale condition"
#define ARM_ID_MAX		128

/*
 * Where the scaled deployments live in Azure: not part of the engine's
 * model, so export takes them from the caller and import hands back what it
 * read (see docs/arm.md).
 */
struct arm_target {
	char subscription[ARM_ID_MAX];
	char resource_group[ARM_ID_MAX];
	char workspace[ARM_ID_MAX];
	char location[ARM_ID_MAX];
};

/* The placeholders: a zero subscription id, group and workspace "ascale", the group's location. */
void arm_target_default(struct arm_target *t);

/*
 * Builds the autoscaleSettings resources of conf: one object for one setting
 * (or for the setting named only), else an array.  t NULL: the defaults.
 * Returns 0, -ENOENT (no setting named only; nothing logged) or -ENOMEM.
 */
int arm_export(const struct engine_conf *conf, const char *only,
	       const struct arm_target *t, json_t **out);

/*
 * Reads autoscaleSettings JSON: a resource, the flat object of
 * `az monitor autoscale show`, an array of either, or a template with
 * "resources".  Each error is logged once as "SRC: JSON.PATH: expected ...";
 * returns 0 with a complete, checked *out (and *t, when t is not NULL),
 * -EINVAL or -ENOMEM.
 */
int arm_import(const json_t *root, const char *src, struct engine_conf **out,
	       struct arm_target *t);

/*
 * The name import gives rule i of p when no tag names it: "scale-out",
 * "scale-in" or "scale-to", with "-2", "-3"... when an earlier rule of p
 * already has it.  Export tags only the names that differ from it.
 */
void arm_rule_name(const struct profile *p, unsigned i, char *buf, size_t len);

/* ISO 8601 durations ("PT5M", "P1DT2H", "PT1.5S"); 0 or -EINVAL. */
int arm_duration_parse(const char *s, int64_t *ns);
/* The normal form: days, hours, minutes, seconds with at most 3 decimals; "PT0S" for 0. */
void arm_duration_format(int64_t ns, char *buf, size_t len);

#endif
