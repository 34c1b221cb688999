/* arm_json: reading Azure's JSON, with errors that name the JSON path */
#ifndef ASCALE_ARM_JSON_H
#define ASCALE_ARM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ARM_JSON_PATH_MAX	256

/* Where messages point: "FILE: WHERE.PATH: message". */
struct arm_json {
	const char *src;
	char where[48];		/* "", "[3]." or "resources[3]." */
};

/* Logs "src: where path: message" and returns -EINVAL. */
int arm_json_fail(struct arm_json *js, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Text from the input, cut and cleaned for a message. */
const char *arm_json_shown(const char *s, char *buf, size_t len);
const char *arm_json_type_name(const json_t *j);
/* obj[key], the exact key first, then any case (az and hand-written JSON vary). */
json_t *arm_json_member(const json_t *obj, const char *key);
/* "parent.key" and "parent.key[i]" into out (ARM_JSON_PATH_MAX bytes; a cut path ends in "..."). */
void arm_json_path_join(char *out, const char *parent, const char *key);
void arm_json_path_index(char *out, const char *parent, const char *key, size_t i);
/* A member of type want (JSON_NULL: any); absent or null gives NULL, an error when required. */
int arm_json_get(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		 json_type want, bool required, json_t **out);
int arm_json_string(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		    bool required, const char **out);
/* One of names (any case), as its index. */
int arm_json_choice(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		    const char *const *names, int *out);
/* A count given as a string of digits (Azure's form) or a number, in [min, max]. */
int arm_json_count(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		   unsigned min, unsigned max, unsigned *out);
/* An ISO 8601 duration in [min, max] (whole seconds when whole); absent leaves *out. */
int arm_json_duration(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		      bool required, int64_t min, int64_t max, bool whole, int64_t *out);

#endif
