/* state: the coordinator's durable state per setting (state_dir/state.json), saved atomically */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "state.h"
#include "timeutil.h"
#include "trace.h"

#define STATE_FILE	"state.json"
#define STATE_TMP	"state.json.tmp"
#define STATE_CORRUPT	"state.json.corrupt"
#define TIME_MAX_NS	(TRACE_TIME_MAX * NSEC_PER_SEC)	/* what the time parser takes */
#define KEYS_MAX	4	/* settings.NAME.last_action.KEY */

struct state {
	char *dir;			/* NULL: parsed from text, never saved */
	bool loaded;
	int64_t written_ns;
	size_t n, cap;
	struct state_setting **s;	/* pointers stay valid as settings are added */
};

/* ---- the directory ---- */

int state_dir_make(const char *dir)
{
	struct stat sb;
	int r;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		log_err("%s: cannot create the directory: %s", dir, strerror(-r));
		return r;
	}
	if (stat(dir, &sb) < 0) {
		r = -errno;
		log_err("%s: %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_err("%s: expected a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

int state_dir_sync(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		log_err("%s: cannot sync the directory: %s", dir, strerror(-r));
	return r;
}

/* dir/name into buf; -ENAMETOOLONG when it does not fit. */
static int state_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		log_err("%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* ---- settings ---- */

static struct state *state_new(void)
{
	return calloc(1, sizeof(struct state));
}

static struct state_setting *state_add(struct state *st, const char *name)
{
	struct state_setting *s, **grown;
	size_t cap;

	if (st->n == st->cap) {
		cap = st->cap ? st->cap * 2 : 16;
		grown = realloc(st->s, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		st->s = grown;
		st->cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->cooldown_until_ns = STATE_NONE;
	st->s[st->n++] = s;
	return s;
}

struct state_setting *state_find(struct state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->s[i]->name, name) == 0)
			return st->s[i];
	return NULL;
}

struct state_setting *state_setting(struct state *st, const char *name)
{
	struct state_setting *s;
	size_t n = strlen(name);

	if (!n || n >= SETTING_NAME_MAX)
		return NULL;
	s = state_find(st, name);
	return s ? s : state_add(st, name);
}

size_t state_count(const struct state *st)
{
	return st->n;
}

struct state_setting *state_at(struct state *st, size_t i)
{
	return i < st->n ? st->s[i] : NULL;
}

void state_op_set(struct state_setting *s, const char *id, unsigned capacity, unsigned previous,
		  int64_t started_ns, json_t *record)
{
	json_incref(record);
	json_decref(s->op.record);
	memset(&s->op, 0, sizeof(s->op));
	snprintf(s->op.id, sizeof(s->op.id), "%s", id);
	s->op.capacity = capacity;
	s->op.previous = previous;
	s->op.started_ns = started_ns;
	s->op.record = record;
	s->in_flight = true;
}

void state_op_clear(struct state_setting *s)
{
	json_decref(s->op.record);
	memset(&s->op, 0, sizeof(s->op));
	s->in_flight = false;
}

bool state_loaded(const struct state *st)
{
	return st->loaded;
}

int64_t state_written_ns(const struct state *st)
{
	return st->written_ns;
}

void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->n; i++) {
		json_decref(st->s[i]->op.record);
		free(st->s[i]);
	}
	free(st->s);
	free(st->dir);
	free(st);
}

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

/* ---- formatting ---- */

struct check {
	const char *name;		/* the setting's */
	char *err;
	size_t errlen;
};

static int check_count(struct check *c, const char *key, unsigned v)
{
	if (v <= BACKEND_CAPACITY_MAX)
		return 0;
	return log_fill(c->err, c->errlen, -ERANGE, "setting %s: %s: expected a count from 0 to %d, not %u",
			c->name, key, BACKEND_CAPACITY_MAX, v);
}

static int check_time(struct check *c, const char *key, int64_t ns)
{
	if (ns >= 0 && ns < TIME_MAX_NS)
		return 0;
	return log_fill(c->err, c->errlen, -ERANGE, "setting %s: %s: expected a time from 1970 on, not %lld ns",
			c->name, key, (long long)ns);
}

static int check_string(struct check *c, const char *key, const char *buf, size_t size, bool empty_ok)
{
	if (memchr(buf, '\0', size) && (empty_ok || buf[0]))
		return 0;
	return log_fill(c->err, c->errlen, -EINVAL, "setting %s: %s: expected a %sstring of at most %zu bytes",
			c->name, key, empty_ok ? "" : "non-empty ", size - 1);
}

/* What the file could not hold (the parser would refuse), in err. */
static int check_setting(const struct state_setting *s, char *err, size_t errlen)
{
	struct check c = { s->name, err, errlen };
	const struct state_action *a = &s->last;
	const struct state_op *op = &s->op;
	int r;

	if (!memchr(s->name, '\0', sizeof(s->name)) || !s->name[0])
		return log_fill(err, errlen, -EINVAL, "expected setting names of 1 to %d bytes",
				SETTING_NAME_MAX - 1);
	if (s->have_count && ((r = check_count(&c, "count", s->count)) < 0 ||
			      (r = check_time(&c, "count_time", s->count_ns)) < 0))
		return r;
	if (s->cooldown_until_ns != STATE_NONE && (r = check_time(&c, "cooldown_until", s->cooldown_until_ns)) < 0)
		return r;
	if (s->have_action &&
	    ((r = check_string(&c, "last_action.id", a->id, sizeof(a->id), false)) < 0 ||
	     (r = check_time(&c, "last_action.time", a->time_ns)) < 0 ||
	     (r = check_string(&c, "last_action.profile", a->profile, sizeof(a->profile), true)) < 0 ||
	     (r = check_string(&c, "last_action.rule", a->rule, sizeof(a->rule), true)) < 0 ||
	     (r = check_string(&c, "last_action.cause", a->cause, sizeof(a->cause), true)) < 0 ||
	     (r = check_count(&c, "last_action.from", a->from)) < 0 ||
	     (r = check_count(&c, "last_action.to", a->to)) < 0 ||
	     (r = check_string(&c, "last_action.outcome", a->outcome, sizeof(a->outcome), true)) < 0))
		return r;
	if (s->in_flight &&
	    ((r = check_string(&c, "operation.id", op->id, sizeof(op->id), false)) < 0 ||
	     (r = check_count(&c, "operation.capacity", op->capacity)) < 0 ||
	     (r = check_count(&c, "operation.previous", op->previous)) < 0 ||
	     (r = check_time(&c, "operation.started", op->started_ns)) < 0))
		return r;
	if (s->in_flight && op->record && !json_is_object(op->record))
		return log_fill(err, errlen, -EINVAL, "setting %s: operation.record: expected an object or NULL",
				s->name);
	if (s->have_sim && (r = check_count(&c, "sim_count", s->sim_count)) < 0)
		return r;
	return 0;
}

static json_t *format_time(int64_t ns)
{
	char buf[40];

	return json_string(time_format_rfc3339(ns, buf, sizeof(buf)));
}

/* A checked setting as an object; NULL when a string is not UTF-8 (or out of memory). */
static json_t *format_setting(const struct state_setting *s)
{
	const struct state_action *a = &s->last;
	const struct state_op *op = &s->op;
	json_t *action = json_null(), *inflight = json_null();

	if (s->have_action)
		action = json_pack("{s:s, s:o, s:s, s:s, s:s, s:i, s:i, s:s}", "id", a->id,
				   "time", format_time(a->time_ns), "profile", a->profile, "rule", a->rule,
				   "cause", a->cause, "from", (int)a->from, "to", (int)a->to,
				   "outcome", a->outcome);
	if (s->in_flight)
		inflight = json_pack("{s:s, s:i, s:i, s:o, s:O}", "id", op->id,
				     "capacity", (int)op->capacity, "previous", (int)op->previous,
				     "started", format_time(op->started_ns),
				     "record", op->record ? op->record : json_null());
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
			 "count", s->have_count ? json_integer(s->count) : json_null(),
			 "count_time", s->have_count ? format_time(s->count_ns) : json_null(),
			 "cooldown_until", s->cooldown_until_ns == STATE_NONE ? json_null() :
			 format_time(s->cooldown_until_ns),
			 "last_action", action, "operation", inflight,
			 "sim_count", s->have_sim ? json_integer(s->sim_count) : json_null());
}

int state_format(const struct state *st, int64_t written_ns, char **text, char *err, size_t errlen)
{
	json_t *root, *settings, *o;
	size_t i, n;
	char *dump;
	int r;

	*text = NULL;
	if (written_ns < 0 || written_ns >= TIME_MAX_NS)
		return log_fill(err, errlen, -ERANGE, "written: expected a time from 1970 on, not %lld ns",
				(long long)written_ns);
	for (i = 0; i < st->n; i++)
		if ((r = check_setting(st->s[i], err, errlen)) < 0)
			return r;
	settings = json_object();
	root = json_pack("{s:i, s:o, s:O}", "version", STATE_VERSION, "written", format_time(written_ns),
			 "settings", settings);
	r = root ? 0 : -ENOMEM;
	for (i = 0; !r && i < st->n; i++) {
		o = format_setting(st->s[i]);
		if (!o || json_object_set_new(settings, st->s[i]->name, o) < 0)
			r = log_fill(err, errlen, -EINVAL, "setting %s: a name or string that is not UTF-8",
				     st->s[i]->name);
	}
	dump = r ? NULL : json_dumps(root, JSON_INDENT(2));
	json_decref(settings);
	json_decref(root);
	if (r)
		return r == -ENOMEM ? log_fill(err, errlen, r, "out of memory") : r;
	if (!dump)
		return log_fill(err, errlen, -ENOMEM, "out of memory");
	n = strlen(dump);
	*text = realloc(dump, n + 2);
	if (!*text) {
		free(dump);
		return log_fill(err, errlen, -ENOMEM, "out of memory");
	}
	memcpy(*text + n, "\n", 2);
	return 0;
}

/* ---- the file ---- */

/* Writes all of text to path (0640) and fsyncs it; on an error what it created is removed. */
static int state_write_file(const char *path, const char *text, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0640) < 0)
		r = -errno;
	while (!r && off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

int state_save(struct state *st)
{
	char path[PATH_MAX], tmp[PATH_MAX], err[256], *text;
	int r;

	if (!st->dir)
		return -EINVAL;
	if ((r = state_path(path, sizeof(path), st->dir, STATE_FILE)) < 0 ||
	    (r = state_path(tmp, sizeof(tmp), st->dir, STATE_TMP)) < 0)
		return r;
	r = state_format(st, time_real_ns(), &text, err, sizeof(err));
	if (r < 0) {
		log_err("%s: cannot save: %s", path, err);
		return r;
	}
	r = state_write_file(tmp, text, strlen(text));
	free(text);
	if (r < 0) {
		log_err("%s: cannot write: %s", tmp, strerror(-r));
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		log_err("%s: cannot rename to %s: %s", tmp, path, strerror(-r));
		unlink(tmp);
		return r;
	}
	return state_dir_sync(st->dir);
}

/* Reads up to max + 1 bytes of fd into a malloc'ed buffer. */
static int state_read_all(int fd, size_t max, char **text, size_t *len)
{
	size_t got = 0;
	ssize_t n;
	char *buf;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	while (got <= max) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*text = buf;
	*len = got;
	return 0;
}

/* Moves a file that cannot be used aside; the error in err is logged here. */
static int state_corrupt(const char *dir, const char *path, const char *err)
{
	char aside[PATH_MAX];
	int r;

	if ((r = state_path(aside, sizeof(aside), dir, STATE_CORRUPT)) < 0)
		return r;
	if (rename(path, aside) < 0) {
		r = -errno;
		log_err("%s:%s", path, err);
		log_err("%s: cannot rename to %s: %s", path, aside, strerror(-r));
		return r;
	}
	log_err("%s:%s (renamed to %s; starting from an empty state)", path, err, aside);
	return state_dir_sync(dir);
}

int state_open(const char *dir, struct state **out)
{
	char path[PATH_MAX], err[512], *text = NULL;
	struct state *st = NULL;
	bool found;
	struct stat sb;
	size_t len = 0;
	int fd, r;

	*out = NULL;
	if ((r = state_dir_make(dir)) < 0 || (r = state_path(path, sizeof(path), dir, STATE_FILE)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ENOENT) {
		r = -errno;
		log_err("%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	found = fd >= 0;
	if (found) {
		if (fstat(fd, &sb) < 0)
			r = -errno;
		else if (!S_ISREG(sb.st_mode))
			r = -EINVAL;
		else
			r = state_read_all(fd, STATE_FILE_MAX, &text, &len);
		close(fd);
		if (r < 0) {
			log_err("%s: cannot read: %s", path,
				r == -EINVAL ? "not a regular file" : strerror(-r));
			return r;
		}
		if (len > STATE_FILE_MAX) {
			snprintf(err, sizeof(err), " expected a file of at most %d bytes", STATE_FILE_MAX);
			r = -EINVAL;
		} else {
			r = state_parse(text, len, &st, err, sizeof(err));
		}
		free(text);
		if (r == -ENOMEM)
			return r;
		if (r < 0 && (r = state_corrupt(dir, path, err)) < 0)
			return r;
	}
	if (!st)
		st = state_new();
	if (st)
		st->dir = strdup(dir);
	if (!st || !st->dir) {
		state_free(st);
		return -ENOMEM;
	}
	st->loaded = found;
	*out = st;
	return 0;
}
