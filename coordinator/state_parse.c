/* state_parse: state.json text into a state, with errors as LINE:COL: KEY.PATH: what was expected */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "state_int.h"
#include "trace.h"

#define KEYS_MAX	4	/* settings.NAME.last_action.KEY */

/* ---- where a value sits in text that parsed, for LINE:COL ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
	while (i < n && is_space(s[i]))
		i++;
	return i;
}

/* From an opening quote to just after the closing one. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
	int depth = 0;

	while (i < n) {
		if (s[i] == '"') {
			i = skip_string(s, n, i);
			if (!depth)
				return i;
			continue;
		}
		if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			if (!depth)
				return i;
			if (!--depth)
				return i + 1;
		} else if (!depth && (s[i] == ',' || is_space(s[i]))) {
			return i;
		}
		i++;
	}
	return n;
}

/* Whether the string token s[0..n) (quotes included) is key. */
static bool key_is(const char *s, size_t n, const char *key)
{
	json_t *j;
	bool eq;

	if (n < 2)
		return false;
	if (!memchr(s, '\\', n))
		return n - 2 == strlen(key) && memcmp(s + 1, key, n - 2) == 0;
	j = json_loadb(s, n, JSON_DECODE_ANY, NULL);
	eq = json_is_string(j) && strcmp(json_string_value(j), key) == 0;
	json_decref(j);
	return eq;
}

/* The offset of the value at keys[0..depth), or of the innermost object found on the way. */
static size_t locate(const char *s, size_t n, const char *const *keys, int depth)
{
	size_t i = skip_space(s, n, 0), obj, k;
	bool hit;
	int d;

	for (d = 0; d < depth; d++) {
		if (i >= n || s[i] != '{')
			return i;
		obj = i++;
		for (;;) {
			i = skip_space(s, n, i);
			if (i >= n || s[i] != '"')
				return obj;
			k = i;
			i = skip_string(s, n, i);
			hit = key_is(s + k, i - k, keys[d]);
			i = skip_space(s, n, i);
			if (i < n && s[i] == ':')
				i++;
			i = skip_space(s, n, i);
			if (hit)
				break;
			i = skip_space(s, n, skip_value(s, n, i));
			if (i < n && s[i] == ',')
				i++;
		}
	}
	return i;
}

/* ---- parsing ---- */

struct parse {
	const char *text;
	size_t len;
	const char *keys[KEYS_MAX];	/* of the object being read */
	int depth;
	char *err;
	size_t errlen;
};

static int parse_error(struct parse *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* err = "LINE:COL: KEY.PATH: what", the position that of key in the current object; -EINVAL. */
static int parse_error(struct parse *p, const char *key, const char *fmt, ...)
{
	const char *keys[KEYS_MAX + 1];
	char where[192], msg[256];
	unsigned line = 1, col = 1;
	size_t at, i, off = 0, k;
	int n = p->depth, d;
	va_list ap;

	memcpy(keys, p->keys, sizeof(p->keys));
	if (key)
		keys[n++] = key;
	at = locate(p->text, p->len, keys, n);
	for (i = 0; i < at; i++) {
		if (p->text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)p->text[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	/* the key path, control bytes shown as '?' */
	where[0] = '\0';
	for (d = 0; d < n && off + 2 < sizeof(where); d++) {
		if (d)
			where[off++] = '.';
		for (k = 0; keys[d][k] && off + 1 < sizeof(where); k++)
			where[off++] = (unsigned char)keys[d][k] < 0x20 || keys[d][k] == 0x7f ? '?' : keys[d][k];
		where[off] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%u:%u: %s%s%s", line, col, where, n ? ": " : "", msg);
	return -EINVAL;
}

/* A member that is there and not null, else NULL. */
static json_t *member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

/* A count; absent or null is allowed when have is given (*have false). */
static int parse_count(struct parse *p, const json_t *o, const char *key, bool *have, unsigned *out)
{
	json_t *v = member(o, key);
	json_int_t i = json_integer_value(v);

	if (have)
		*have = v != NULL;
	if (!v && have)
		return 0;
	if (!json_is_integer(v) || i < 0 || i > BACKEND_CAPACITY_MAX)
		return parse_error(p, key, "expected a count from 0 to %d", BACKEND_CAPACITY_MAX);
	*out = (unsigned)i;
	return 0;
}

/* An RFC 3339 time; absent or null is allowed when have is given (*have false). */
static int parse_time(struct parse *p, const json_t *o, const char *key, bool *have, int64_t *out)
{
	json_t *v = member(o, key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (have)
		*have = v != NULL;
	if (!v && have)
		return 0;
	if (!s || n < 10 || s[4] != '-' || trace_parse_time(s, n, out) < 0)
		return parse_error(p, key, "expected an RFC 3339 time from 1970 on, as 2026-01-05T10:00:00.000Z");
	return 0;
}

static int parse_string(struct parse *p, const json_t *o, const char *key, bool empty_ok,
			char *buf, size_t size)
{
	json_t *v = json_object_get(o, key);
	size_t n = json_string_length(v);

	if (!json_is_string(v) || n >= size || (!n && !empty_ok))
		return parse_error(p, key, "expected a %sstring of at most %zu bytes",
				   empty_ok ? "" : "non-empty ", size - 1);
	memcpy(buf, json_string_value(v), n + 1);
	return 0;
}

static int parse_action(struct parse *p, const json_t *o, struct state_action *a)
{
	int r;

	if (!json_is_object(o))
		return parse_error(p, NULL, "expected an object or null");
	if ((r = parse_string(p, o, "id", false, a->id, sizeof(a->id))) < 0 ||
	    (r = parse_time(p, o, "time", NULL, &a->time_ns)) < 0 ||
	    (r = parse_string(p, o, "profile", true, a->profile, sizeof(a->profile))) < 0 ||
	    (r = parse_string(p, o, "rule", true, a->rule, sizeof(a->rule))) < 0 ||
	    (r = parse_string(p, o, "cause", true, a->cause, sizeof(a->cause))) < 0 ||
	    (r = parse_count(p, o, "from", NULL, &a->from)) < 0 ||
	    (r = parse_count(p, o, "to", NULL, &a->to)) < 0 ||
	    (r = parse_string(p, o, "outcome", true, a->outcome, sizeof(a->outcome))) < 0)
		return r;
	return 0;
}

static int parse_op(struct parse *p, const json_t *o, struct state_op *op)
{
	json_t *rec;
	int r;

	if (!json_is_object(o))
		return parse_error(p, NULL, "expected an object or null");
	if ((r = parse_string(p, o, "id", false, op->id, sizeof(op->id))) < 0 ||
	    (r = parse_count(p, o, "capacity", NULL, &op->capacity)) < 0 ||
	    (r = parse_count(p, o, "previous", NULL, &op->previous)) < 0 ||
	    (r = parse_time(p, o, "started", NULL, &op->started_ns)) < 0)
		return r;
	rec = member(o, "record");
	if (rec && !json_is_object(rec))
		return parse_error(p, "record", "expected an object or null");
	op->record = json_incref(rec);
	return 0;
}

/* An error leaves p->keys as it was at the error: the whole parse stops. */
static int parse_setting(struct parse *p, const json_t *o, struct state_setting *s)
{
	const json_t *v;
	bool have;
	int r;

	if (!json_is_object(o))
		return parse_error(p, NULL, "expected an object");
	if ((r = parse_count(p, o, "count", &s->have_count, &s->count)) < 0)
		return r;
	if (s->have_count && (r = parse_time(p, o, "count_time", NULL, &s->count_ns)) < 0)
		return r;
	if ((r = parse_time(p, o, "cooldown_until", &have, &s->cooldown_until_ns)) < 0)
		return r;
	if (!have)
		s->cooldown_until_ns = STATE_NONE;
	if ((v = member(o, "last_action"))) {
		p->keys[p->depth++] = "last_action";
		if ((r = parse_action(p, v, &s->last)) < 0)
			return r;
		p->depth--;
		s->have_action = true;
	}
	if ((v = member(o, "operation"))) {
		p->keys[p->depth++] = "operation";
		if ((r = parse_op(p, v, &s->op)) < 0)
			return r;
		p->depth--;
		s->in_flight = true;
	}
	return parse_count(p, o, "sim_count", &s->have_sim, &s->sim_count);
}

static int parse_root(struct parse *p, const json_t *root, struct state *st)
{
	const json_t *settings, *v;
	struct state_setting *s;
	const char *name;
	int r;

	if (!json_is_object(root))
		return parse_error(p, NULL, "expected an object");
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != STATE_VERSION)
		return parse_error(p, "version", "expected version %d (the only one this ascoord reads)",
				   STATE_VERSION);
	if ((r = parse_time(p, root, "written", NULL, &st->written_ns)) < 0)
		return r;
	settings = json_object_get(root, "settings");
	if (!json_is_object(settings))
		return parse_error(p, "settings", "expected an object of settings by name");
	p->keys[p->depth++] = "settings";
	json_object_foreach((json_t *)settings, name, v) {
		p->keys[p->depth++] = name;
		if (!name[0] || strlen(name) >= SETTING_NAME_MAX) {
			r = parse_error(p, NULL, "expected a setting name of 1 to %d bytes",
					SETTING_NAME_MAX - 1);
		} else {
			s = state_add(st, name);
			r = s ? parse_setting(p, v, s) : -ENOMEM;
		}
		p->depth--;
		if (r < 0)
			return r;
	}
	p->depth--;
	return 0;
}

int state_parse(const char *text, size_t len, struct state **out, char *err, size_t errlen)
{
	struct parse p = { .text = text, .len = len, .err = err, .errlen = errlen };
	struct state *st;
	json_error_t je;
	json_t *root;
	int r;

	*out = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "%d:%d: expected JSON (%s)", je.line, je.column, je.text);
		return -EINVAL;
	}
	st = state_new();
	r = st ? parse_root(&p, root, st) : -ENOMEM;
	json_decref(root);
	if (r < 0) {
		if (r == -ENOMEM && err && errlen)
			snprintf(err, errlen, "out of memory");
		state_free(st);
		return r;
	}
	*out = st;
	return 0;
}
