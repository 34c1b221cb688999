/* arm_json: reading Azure's JSON, with errors that name the JSON path */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arm.h"
#include "arm_json.h"
#include "log.h"
#include "timeutil.h"

int arm_json_fail(struct arm_json *js, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s: %s%s: %s", js->src, js->where, path, msg);
	return -EINVAL;
}

/* Text from the input, cut and cleaned for a message. */
const char *arm_json_shown(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < len && i < 60; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	if (s[i] && i + 4 <= len) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

const char *arm_json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* obj[key], the exact key first, then any case (az and hand-written JSON vary). */
json_t *arm_json_member(const json_t *obj, const char *key)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (v)
		return v;
	json_object_foreach((json_t *)obj, k, v)
		if (strcasecmp(k, key) == 0)
			return v;
	return NULL;
}

/* Paths are for messages: a cut one ends in "..." */
static void arm_json_path_cut(char *out, int n)
{
	if (n < 0 || n >= ARM_JSON_PATH_MAX)
		memcpy(out + ARM_JSON_PATH_MAX - 4, "...", 4);
}

void arm_json_path_join(char *out, const char *parent, const char *key)
{
	arm_json_path_cut(out, snprintf(out, ARM_JSON_PATH_MAX, "%s%s%s", parent, parent[0] ? "." : "", key));
}

void arm_json_path_index(char *out, const char *parent, const char *key, size_t i)
{
	arm_json_path_cut(out, snprintf(out, ARM_JSON_PATH_MAX, "%s%s%s[%zu]", parent, parent[0] ? "." : "", key, i));
}

/* A member of type want (JSON_NULL: any); absent or null gives NULL, an error when required. */
int arm_json_get(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
	       json_type want, bool required, json_t **out)
{
	const char *const wanted[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
		[JSON_INTEGER] = "a number", [JSON_REAL] = "a number", [JSON_TRUE] = "true or false",
		[JSON_FALSE] = "true or false", [JSON_NULL] = "a value",
	};
	char path[ARM_JSON_PATH_MAX];
	json_t *v = arm_json_member(obj, key);

	*out = NULL;
	arm_json_path_join(path, parent, key);
	if (!v || json_is_null(v)) {
		if (required)
			return arm_json_fail(js, path, "expected %s", wanted[want]);
		return 0;
	}
	if (want == JSON_NULL || json_typeof(v) == want ||
	    (want == JSON_INTEGER && json_is_number(v)) ||
	    (want == JSON_TRUE && json_is_boolean(v))) {
		*out = v;
		return 0;
	}
	return arm_json_fail(js, path, "expected %s, not %s", wanted[want], arm_json_type_name(v));
}

int arm_json_string(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		      bool required, const char **out)
{
	json_t *v;

	*out = NULL;
	if (arm_json_get(js, obj, parent, key, JSON_STRING, required, &v) < 0)
		return -EINVAL;
	if (v)
		*out = json_string_value(v);
	return 0;
}

int arm_json_choice(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		      const char *const *names, int *out)
{
	char path[ARM_JSON_PATH_MAX], list[256], b[80];
	const char *s;
	size_t off = 0;
	int i;

	if (arm_json_string(js, obj, parent, key, true, &s) < 0)
		return -EINVAL;
	for (i = 0; names[i]; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; names[i] && off < sizeof(list); i++)
		off += snprintf(list + off, sizeof(list) - off, "%s%s",
				i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
	arm_json_path_join(path, parent, key);
	return arm_json_fail(js, path, "expected %s, not '%s'", list, arm_json_shown(s, b, sizeof(b)));
}

/* A count given as a string of digits (Azure's form) or a number, in [min, max]. */
int arm_json_count(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
		     unsigned min, unsigned max, unsigned *out)
{
	char path[ARM_JSON_PATH_MAX], b[80];
	const char *s;
	json_t *v;
	long long n = -1;
	size_t i;

	if (arm_json_get(js, obj, parent, key, JSON_NULL, true, &v) < 0)
		return -EINVAL;
	arm_json_path_join(path, parent, key);
	if (json_is_string(v)) {
		s = json_string_value(v);
		for (i = 0, n = 0; s[i] && n <= 100000; i++) {
			if (!isdigit((unsigned char)s[i]))
				break;
			n = n * 10 + (s[i] - '0');
		}
		if (!i || s[i])
			return arm_json_fail(js, path, "expected a whole number from %u to %u, not '%s'",
				    min, max, arm_json_shown(s, b, sizeof(b)));
	} else if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else {
		return arm_json_fail(js, path, "expected a whole number as a string, not %s", arm_json_type_name(v));
	}
	if (n < min || n > max)
		return arm_json_fail(js, path, "expected a whole number from %u to %u, not %lld", min, max, n);
	*out = (unsigned)n;
	return 0;
}

int arm_json_duration(struct arm_json *js, const json_t *obj, const char *parent, const char *key,
			bool required, int64_t min, int64_t max, bool whole, int64_t *out)
{
	char path[ARM_JSON_PATH_MAX], b[80], lo[32], hi[32];
	const char *s;
	int64_t ns;

	if (arm_json_string(js, obj, parent, key, required, &s) < 0)
		return -EINVAL;
	if (!s)
		return 0;
	arm_json_path_join(path, parent, key);
	arm_duration_format(min, lo, sizeof(lo));
	arm_duration_format(max, hi, sizeof(hi));
	if (arm_duration_parse(s, &ns) < 0)
		return arm_json_fail(js, path, "expected an ISO 8601 duration (such as PT1M, PT5M or PT1H30M), not '%s'",
			    arm_json_shown(s, b, sizeof(b)));
	if (ns < min || ns > max || (whole && ns % NSEC_PER_SEC))
		return arm_json_fail(js, path, "expected %sa duration from %s to %s, not '%s'",
			    whole ? "whole seconds, " : "", lo, hi, arm_json_shown(s, b, sizeof(b)));
	*out = ns;
	return 0;
}

