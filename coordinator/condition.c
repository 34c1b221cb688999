/* condition: the az CLI autoscale condition grammar, parsed and evaluated */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "condition.h"
#include "timeutil.h"

struct cond_parser {
	const char *text;
	const char *p;
	char *err;
	size_t errlen;
};

static const char *const op_names[] = { "==", "!=", ">", ">=", "<", "<=" };
static const char *const agg_names[] = { "avg", "min", "max", "total", "count", "last" };

const char *cond_op_name(enum cond_op op)
{
	return (unsigned)op < 6 ? op_names[op] : "?";
}

const char *cond_agg_name(enum cond_agg agg)
{
	return (unsigned)agg < 6 ? agg_names[agg] : "?";
}

bool cond_compare(enum cond_op op, double observed, double threshold)
{
	switch (op) {
	case COND_EQ: return observed == threshold;
	case COND_NE: return observed != threshold;
	case COND_GT: return observed > threshold;
	case COND_GE: return observed >= threshold;
	case COND_LT: return observed < threshold;
	case COND_LE: return observed <= threshold;
	}
	return false;
}

static int cond_fail(struct cond_parser *cp, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cond_fail(struct cond_parser *cp, const char *at, const char *fmt, ...)
{
	int off;
	va_list ap;

	if (!cp->err || !cp->errlen)
		return -EINVAL;
	off = snprintf(cp->err, cp->errlen, "column %d: ", (int)(at - cp->text) + 1);
	if (off < 0 || (size_t)off >= cp->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(cp->err + off, cp->errlen - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void skip_space(struct cond_parser *cp)
{
	while (is_space(*cp->p))
		cp->p++;
}

/* The next run of non-blank characters, at most 40 of them, for messages. */
static const char *token_text(const char *p, char *buf, size_t len)
{
	size_t n = 0;

	while (p[n] && !is_space(p[n]) && n + 1 < len && n < 40)
		n++;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return n ? buf : "end of text";
}

static size_t token_len(const char *p, const char *stops)
{
	size_t n = 0;

	while (p[n] && !is_space(p[n]) && !strchr(stops, p[n]))
		n++;
	return n;
}

/* Is p a whole word w (case-insensitive), followed by a blank or the end? */
static bool is_word(const char *p, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(p, w, n) == 0 && (p[n] == '\0' || is_space(p[n]));
}

int cond_number_parse(const char *s, size_t n, double *out)
{
	char buf[400];
	size_t i = 0, digits = 0, marks = 0;
	char *end;
	double v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '-' || buf[0] == '+')
		i++;
	for (; i < n; i++) {
		if (isdigit((unsigned char)buf[i])) {
			digits++;
		} else if (buf[i] == '.' || buf[i] == ',') {
			buf[i] = '.';
			marks++;
		} else {
			return -EINVAL;
		}
	}
	if (!digits || marks > 1)
		return -EINVAL;
	errno = 0;
	v = strtod(buf, &end);
	if (*end || errno || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

int cond_period_parse(const char *s, size_t n, int64_t *ns)
{
	static const struct {
		char unit;
		int64_t ns;
	} units[] = { { 'h', 3600 * NSEC_PER_SEC }, { 'm', 60 * NSEC_PER_SEC }, { 's', NSEC_PER_SEC } };
	size_t i = 0, u = 0, k;
	int64_t total = 0, v;
	int parts = 0;

	while (i < n) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		for (v = 0; i < n && isdigit((unsigned char)s[i]); i++) {
			v = v * 10 + (s[i] - '0');
			if (v > 1000000)
				return -EINVAL;
		}
		if (i == n)
			return -EINVAL;	/* a unit is required */
		for (k = u; k < 3; k++)
			if (tolower((unsigned char)s[i]) == units[k].unit)
				break;
		if (k == 3)
			return -EINVAL;	/* unknown unit, or out of order */
		total += v * units[k].ns;
		u = k + 1;
		i++;
		parts++;
	}
	if (!parts || total <= 0 || total > 366 * 86400 * NSEC_PER_SEC)
		return -EINVAL;
	*ns = total;
	return 0;
}

static int parse_namespace(struct cond_parser *cp, struct condition *c)
{
	const char *start = cp->p, *close;
	size_t n;

	if (*cp->p != '"')
		return 0;
	close = strchr(cp->p + 1, '"');
	if (!close)
		return cond_fail(cp, start, "expected '\"' to close the metric namespace");
	n = close - (cp->p + 1);
	if (n == 0)
		return cond_fail(cp, start, "expected a metric namespace between the quotes");
	if (n >= sizeof(c->ns))
		return cond_fail(cp, start, "expected a metric namespace of at most %zu characters",
				 sizeof(c->ns) - 1);
	memcpy(c->ns, cp->p + 1, n);
	c->ns[n] = '\0';
	cp->p = close + 1;
	if (!is_space(*cp->p))
		return cond_fail(cp, cp->p, "expected a space after the metric namespace");
	skip_space(cp);
	return 0;
}

static int parse_metric(struct cond_parser *cp, struct condition *c)
{
	const char *start = cp->p, *q;
	size_t n;

	for (q = start; *q && !strchr("<>=!", *q); q++) {
		if ((unsigned char)*q < 0x20 || *q == '"')
			return cond_fail(cp, q, "expected a metric name, not a %s",
					 *q == '"' ? "quote" : "control character");
	}
	n = q - start;
	while (n && is_space(start[n - 1]))
		n--;
	if (n == 0)
		return cond_fail(cp, start, "expected a metric name");
	if (!*q)
		return cond_fail(cp, q, "expected an operator (==, !=, >, >=, <, <=) after the metric name");
	if (n >= sizeof(c->metric))
		return cond_fail(cp, start, "expected a metric name of at most %zu characters",
				 sizeof(c->metric) - 1);
	memcpy(c->metric, start, n);
	c->metric[n] = '\0';
	cp->p = q;
	return 0;
}

/* Operators: the longest match among == != >= <= > <. */
static int match_op(const char *p, enum cond_op *op)
{
	static const struct {
		const char *s;
		enum cond_op op;
	} ops[] = {
		{ "==", COND_EQ }, { "!=", COND_NE }, { ">=", COND_GE },
		{ "<=", COND_LE }, { ">", COND_GT }, { "<", COND_LT },
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strncmp(p, ops[i].s, strlen(ops[i].s)) == 0) {
			*op = ops[i].op;
			return (int)strlen(ops[i].s);
		}
	}
	return 0;
}

static int parse_compare(struct cond_parser *cp, struct condition *c)
{
	char tok[48];
	const char *at;
	size_t n;
	int k;

	k = match_op(cp->p, &c->op);
	if (!k || (cp->p[k] && strchr("<>=!", cp->p[k])))
		return cond_fail(cp, cp->p, "expected an operator (==, !=, >, >=, <, <=), not '%s'",
				 token_text(cp->p, tok, sizeof(tok)));
	cp->p += k;
	skip_space(cp);

	at = cp->p;
	n = token_len(at, "");
	if (cond_number_parse(at, n, &c->threshold) < 0)
		return cond_fail(cp, at, "expected a threshold number (such as 70 or 0.5), not '%s'",
				 token_text(at, tok, sizeof(tok)));
	cp->p += n;
	skip_space(cp);

	at = cp->p;
	n = token_len(at, "");
	for (k = 0; k < 6; k++)
		if (n == strlen(agg_names[k]) && strncasecmp(at, agg_names[k], n) == 0)
			break;
	if (k == 6) {
		/* the REST API's names are accepted too */
		static const char *const rest[] = { "average", "minimum", "maximum" };

		for (k = 0; k < 3; k++)
			if (n == strlen(rest[k]) && strncasecmp(at, rest[k], n) == 0)
				break;
		if (k == 3)
			return cond_fail(cp, at, "expected an aggregation (avg, min, max, total, count or last), not '%s'",
					 token_text(at, tok, sizeof(tok)));
	}
	c->agg = (enum cond_agg)k;
	cp->p += n;
	skip_space(cp);

	at = cp->p;
	n = token_len(at, "");
	if (cond_period_parse(at, n, &c->period_ns) < 0)
		return cond_fail(cp, at, "expected a period ##h##m##s (such as 5m, 1h or 1h30m), not '%s'",
				 token_text(at, tok, sizeof(tok)));
	cp->p += n;
	skip_space(cp);
	return 0;
}

static int add_value(struct cond_parser *cp, struct cond_filter *f, const char *at, size_t n)
{
	size_t used = 0;

	if (f->nvalues)
		used = f->off[f->nvalues - 1] + strlen(cond_filter_value(f, f->nvalues - 1)) + 1;
	if (f->nvalues == COND_VALUES_MAX)
		return cond_fail(cp, at, "expected at most %d values for dimension '%s'",
				 COND_VALUES_MAX, f->dim);
	if (used + n + 1 > sizeof(f->buf))
		return cond_fail(cp, at, "expected the values of dimension '%s' to total at most %zu characters",
				 f->dim, sizeof(f->buf) - COND_VALUES_MAX);
	memcpy(f->buf + used, at, n);
	f->buf[used + n] = '\0';
	f->off[f->nvalues++] = (uint16_t)used;
	return 0;
}

static int parse_filter(struct cond_parser *cp, struct condition *c, bool *more)
{
	struct cond_filter *f;
	const char *start = cp->p, *q, *at;
	char tok[48];
	enum cond_op op;
	size_t n;
	int k;

	if (c->nfilters == COND_FILTERS_MAX)
		return cond_fail(cp, start, "expected at most %d dimension filters", COND_FILTERS_MAX);
	f = &c->filters[c->nfilters];
	memset(f, 0, sizeof(*f));
	for (q = start; *q && !strchr("<>=!,", *q); q++)
		if ((unsigned char)*q < 0x20 || *q == '"')
			return cond_fail(cp, q, "expected a dimension name");
	n = q - start;
	while (n && is_space(start[n - 1]))
		n--;
	if (n == 0)
		return cond_fail(cp, start, "expected a dimension name after '%s'",
				 c->nfilters ? "and" : "where");
	if (n >= sizeof(f->dim))
		return cond_fail(cp, start, "expected a dimension name of at most %zu characters",
				 sizeof(f->dim) - 1);
	if (!*q || *q == ',')
		return cond_fail(cp, q, "expected == or != after the dimension name");
	k = match_op(q, &op);
	if (!k || (op != COND_EQ && op != COND_NE) || (q[k] && strchr("<>=!", q[k])))
		return cond_fail(cp, q, "expected == or != in a dimension filter, not '%s'",
				 token_text(q, tok, sizeof(tok)));
	memcpy(f->dim, start, n);
	f->dim[n] = '\0';
	f->negate = op == COND_NE;
	cp->p = q + k;

	for (;;) {
		skip_space(cp);
		at = cp->p;
		n = token_len(at, ",");
		if (n == 0)
			return cond_fail(cp, at, "expected a value for dimension '%s'", f->dim);
		for (k = 0; k < (int)n; k++)
			if ((unsigned char)at[k] < 0x20 || at[k] == '"')
				return cond_fail(cp, at + k, "expected a value for dimension '%s'", f->dim);
		if (add_value(cp, f, at, n) < 0)
			return -EINVAL;
		cp->p += n;
		skip_space(cp);
		if (!*cp->p) {
			*more = false;
			break;
		}
		if (*cp->p == ',') {
			cp->p++;
			continue;
		}
		if (is_word(cp->p, "or")) {
			cp->p += 2;
			continue;
		}
		if (is_word(cp->p, "and")) {
			cp->p += 3;
			skip_space(cp);
			*more = true;
			break;
		}
		return cond_fail(cp, cp->p, "expected 'or', ',' or 'and' after a value, not '%s'",
				 token_text(cp->p, tok, sizeof(tok)));
	}
	c->nfilters++;
	return 0;
}

int condition_parse(const char *text, struct condition *c, char *err, size_t errlen)
{
	struct cond_parser cp = { .text = text, .p = text, .err = err, .errlen = errlen };
	char tok[48];
	bool more = true;

	memset(c, 0, sizeof(*c));
	if (err && errlen)
		err[0] = '\0';
	if (strlen(text) > COND_TEXT_MAX)
		return cond_fail(&cp, text, "expected a condition of at most %d characters", COND_TEXT_MAX);
	skip_space(&cp);
	if (parse_namespace(&cp, c) < 0 || parse_metric(&cp, c) < 0 || parse_compare(&cp, c) < 0)
		return -EINVAL;
	if (!*cp.p)
		return 0;
	if (!is_word(cp.p, "where"))
		return cond_fail(&cp, cp.p, "expected 'where' or the end of the condition, not '%s'",
				 token_text(cp.p, tok, sizeof(tok)));
	cp.p += 5;
	skip_space(&cp);
	while (more)
		if (parse_filter(&cp, c, &more) < 0)
			return -EINVAL;
	return 0;
}

void condition_period_format(int64_t ns, char *buf, size_t len)
{
	int64_t s = ns / NSEC_PER_SEC, h = s / 3600, m = s / 60 % 60;
	size_t off = 0;

	buf[0] = '\0';
	if (h)
		off += snprintf(buf + off, len - off, "%lldh", (long long)h);
	if (m && off < len)
		off += snprintf(buf + off, len - off, "%lldm", (long long)m);
	if ((s % 60 || !off) && off < len)
		snprintf(buf + off, len - off, "%llds", (long long)(s % 60));
}

/* The shortest decimal form that reads back as the same double. */
static void format_number(double v, char *buf, size_t len)
{
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strchr(buf, 'e'))
		return;
	/* the grammar has no exponent: write the digits out */
	for (prec = 0; prec < 340; prec++) {
		snprintf(buf, len, "%.*f", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

int condition_format(const struct condition *c, char *buf, size_t len)
{
	char period[32], num[400];
	size_t off = 0;
	unsigned i, j;
	int r;

#define PUT(...) do { \
		r = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__); \
		if (r < 0) \
			return -ENOSPC; \
		off += r; \
	} while (0)
	if (c->ns[0])
		PUT("\"%s\" ", c->ns);
	condition_period_format(c->period_ns, period, sizeof(period));
	format_number(c->threshold, num, sizeof(num));
	PUT("%s %s %s %s %s", c->metric, cond_op_name(c->op), num,
	    cond_agg_name(c->agg), period);
	for (i = 0; i < c->nfilters; i++) {
		const struct cond_filter *f = &c->filters[i];

		PUT(" %s %s %s", i ? "and" : "where", f->dim, f->negate ? "!=" : "==");
		for (j = 0; j < f->nvalues; j++)
			PUT("%s %s", j ? " or" : "", cond_filter_value(f, j));
	}
#undef PUT
	if (off >= len)
		return -ENOSPC;
	return (int)off;
}
