/* setting_write: writes an engine_conf back as the INI text setting_conf_load reads */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setting_write.h"
#include "timeutil.h"
#include "tz.h"

/* conf.c's reader refuses longer lines (inih's buffer is 200 bytes) */
#define WRITE_LINE_MAX	198

struct writer {
	FILE *f;
	char *err;
	size_t errlen;
	char section[256];
};

static int write_fail(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int write_fail(struct writer *w, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->err && w->errlen)
		snprintf(w->err, w->errlen, "%s%s%s", w->section, w->section[0] ? " " : "", msg);
	return -EINVAL;
}

/* A value inih gives back as written: no comment start, no control, no outer blanks. */
static int value_check(struct writer *w, const char *key, const char *v)
{
	const char *p;
	size_t n = strlen(v);

	if (!n)
		return write_fail(w, "%s: an empty value cannot be written", key);
	if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t')
		return write_fail(w, "%s: '%s' starts or ends with a blank, which the INI format drops", key, v);
	for (p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return write_fail(w, "%s: a control character cannot be written", key);
		if (*p == ';' && p > v && (p[-1] == ' ' || p[-1] == '\t'))
			return write_fail(w, "%s: '%s' holds ' ;', which starts a comment in the INI format",
					  key, v);
	}
	if (strlen(key) + 3 + n > WRITE_LINE_MAX)
		return write_fail(w, "%s: the line would be %zu characters long: expected at most %d",
				  key, strlen(key) + 3 + n, WRITE_LINE_MAX);
	return 0;
}

static int put_key(struct writer *w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int put_key(struct writer *w, const char *key, const char *fmt, ...)
{
	char v[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v))
		return write_fail(w, "%s: the value is too long to be written", key);
	if (value_check(w, key, v) < 0)
		return -EINVAL;
	return fprintf(w->f, "%s = %s\n", key, v) < 0 ? -EIO : 0;
}

static int put_section(struct writer *w, bool first, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int put_section(struct writer *w, bool first, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(w->section, sizeof(w->section), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(w->section) || n > WRITE_LINE_MAX)
		return write_fail(w, "the section name is too long");
	return fprintf(w->f, "%s%s\n", first ? "" : "\n", w->section) < 0 ? -EIO : 0;
}

static void format_date(int64_t local, char *buf, size_t len)
{
	struct civil c;

	civil_from_secs(local, &c);
	if (c.hour == 0 && c.min == 0 && c.sec == 0)
		snprintf(buf, len, "%04d-%02d-%02d", c.year, c.month, c.day);
	else if (c.sec == 0)
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", c.year, c.month, c.day, c.hour, c.min);
	else
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day,
			 c.hour, c.min, c.sec);
}

static void format_duration(int64_t ns, char *buf, size_t len)
{
	if (ns == 0)
		snprintf(buf, len, "0s");
	else
		duration_format(ns, buf, len);
}

static int write_rule(struct writer *w, const struct setting *s, const struct profile *p,
		      const struct rule *r)
{
	char cond[1100], period[32], dur[32];
	int n;

	if (!setting_name_ok(r->name))
		return write_fail(w, "rule name '%s': expected letters, digits, '_', '.' or '-'", r->name);
	if (put_section(w, false, "[rule %s %s %s]", s->name, p->name, r->name) < 0)
		return -EIO;
	n = condition_format(&r->cond, cond, sizeof(cond));
	if (n < 0)
		return write_fail(w, "condition: too long to be written");
	if (put_key(w, "condition", "%s", cond) < 0)
		return -EINVAL;
	if (r->kind == SCALE_TO)
		n = put_key(w, "scale", "to %u", r->amount);
	else
		n = put_key(w, "scale", "%s %u%s", scale_kind_name(r->kind), r->amount,
			    r->percent ? "%" : "");
	if (n < 0)
		return n;
	format_duration(r->cooldown_ns, dur, sizeof(dur));
	condition_period_format(r->grain_ns, period, sizeof(period));
	if (put_key(w, "cooldown", "%s", dur) < 0 ||
	    put_key(w, "timegrain", "%s %s", grain_stat_name(r->grain_stat), period) < 0 ||
	    put_key(w, "resource", "%s", r->resource == RESOURCE_ENDPOINT ? "endpoint" : "deployment") < 0 ||
	    put_key(w, "divide_per_instance", "%s", r->divide_per_instance ? "true" : "false") < 0)
		return -EINVAL;
	return 0;
}

static int write_days(struct writer *w, unsigned days)
{
	static const char *const names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	char buf[64] = "week";
	size_t off = 4;
	int i, d;

	for (i = 1; i <= 7; i++) {
		d = i % 7;	/* monday first, as people write weeks */
		if (days & (1u << d))
			off += snprintf(buf + off, sizeof(buf) - off, " %s", names[d]);
	}
	return put_key(w, "recurrence", "%s", buf);
}

static int write_profile(struct writer *w, const struct setting *s, const struct profile *p)
{
	char a[32], b[32];
	unsigned i;
	int r;

	if (!setting_name_ok(p->name))
		return write_fail(w, "profile name '%s': expected letters, digits, '_', '.' or '-'", p->name);
	if ((p->kind == PROFILE_DEFAULT) != (strcmp(p->name, "default") == 0))
		return write_fail(w, "profile '%s': only the profile named default has no schedule", p->name);
	if (put_section(w, false, "[profile %s %s]", s->name, p->name) < 0)
		return -EIO;
	r = put_key(w, "count", "%u", p->count);
	r = r ? r : put_key(w, "min_count", "%u", p->min_count);
	r = r ? r : put_key(w, "max_count", "%u", p->max_count);
	if (r)
		return r;
	if (p->kind == PROFILE_RECURRING) {
		if (!(p->days & 0x7f) || p->start_min < 0 || p->start_min >= 24 * 60 ||
		    p->end_min < 0 || p->end_min > 24 * 60)
			return write_fail(w, "a recurring profile without days or with times out of range");
		r = write_days(w, p->days);
		r = r ? r : put_key(w, "start", "%02d:%02d", p->start_min / 60, p->start_min % 60);
		r = r ? r : put_key(w, "end", "%02d:%02d", p->end_min / 60, p->end_min % 60);
	} else if (p->kind == PROFILE_FIXED) {
		format_date(p->fixed_start_local, a, sizeof(a));
		format_date(p->fixed_end_local, b, sizeof(b));
		r = put_key(w, "start", "%s", a);
		r = r ? r : put_key(w, "end", "%s", b);
	}
	if (r)
		return r;
	if (p->tz_name[0] && put_key(w, "timezone", "%s", p->tz_name) < 0)
		return -EINVAL;
	for (i = 0; i < p->nrules && i < RULES_MAX; i++) {
		r = write_rule(w, s, p, &p->rules[i]);
		if (r)
			return r;
	}
	return 0;
}

static int write_setting(struct writer *w, const struct setting *s)
{
	char dur[32];
	unsigned i;
	int r;

	if (!setting_name_ok(s->name))
		return write_fail(w, "setting name '%s': expected letters, digits, '_', '.' or '-'", s->name);
	if (put_section(w, false, "[autoscale %s]", s->name) < 0)
		return -EIO;
	if (!setting_name_ok(s->deployment) || (s->endpoint[0] && !setting_name_ok(s->endpoint)))
		return write_fail(w, "deployment and endpoint: expected names of letters, digits, '_', '.' or '-'");
	r = put_key(w, "deployment", "%s", s->deployment);
	if (!r && s->endpoint[0])
		r = put_key(w, "endpoint", "%s", s->endpoint);
	r = r ? r : put_key(w, "enabled", "%s", s->enabled ? "true" : "false");
	r = r ? r : put_key(w, "backend", "%s", s->backend);
	if (!r && s->evaluate_every_ns)
		r = put_key(w, "evaluate_every", "%s",
			    duration_format(s->evaluate_every_ns, dur, sizeof(dur)));
	for (i = 0; !r && i < s->nprofiles && i < PROFILES_MAX; i++)
		r = write_profile(w, s, &s->profiles[i]);
	return r;
}

int setting_write(FILE *f, const struct engine_conf *conf, char *err, size_t errlen)
{
	struct writer w = { .f = f, .err = err, .errlen = errlen };
	char dur[32];
	size_t i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	r = put_section(&w, true, "[coordinator]");
	r = r ? r : put_key(&w, "evaluate_every", "%s",
			    duration_format(conf->evaluate_every_ns, dur, sizeof(dur)));
	for (i = 0; !r && i < conf->nsettings; i++)
		r = write_setting(&w, &conf->settings[i]);
	if (!r && (fflush(f) == EOF || ferror(f)))
		r = -EIO;
	if (r == -EIO && err && errlen)
		snprintf(err, errlen, "write error: %s", strerror(errno ? errno : EIO));
	return r;
}

int setting_write_string(const struct engine_conf *conf, char **text, char *err, size_t errlen)
{
	size_t len = 0;
	FILE *f;
	int r;

	*text = NULL;
	f = open_memstream(text, &len);
	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = setting_write(f, conf, err, errlen);
	if (fclose(f) != 0 && !r)
		r = -ENOMEM;
	if (r) {
		free(*text);
		*text = NULL;
	}
	return r;
}
