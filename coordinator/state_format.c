/* state_format: a state as state.json text, after checking that the parser would take every value back */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "log.h"
#include "state_int.h"
#include "timeutil.h"
#include "trace.h"

#define TIME_MAX_NS	(TRACE_TIME_MAX * NSEC_PER_SEC)	/* what the time parser takes */

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
