/* condition: the az CLI autoscale condition grammar, parsed and evaluated */
#ifndef ASCALE_CONDITION_H
#define ASCALE_CONDITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COND_NAME_MAX		128	/* namespace, metric (with the NUL) */
#define COND_DIM_MAX		64	/* dimension name */
#define COND_FILTERS_MAX	8	/* "and" clauses */
#define COND_VALUES_MAX		16	/* values of one clause */
#define COND_VALUEBUF_MAX	256	/* all values of one clause, NUL-separated */
/*
 * Longest text parsed.  Generous enough that whatever parses also parses
 * again once formatted (condition_format spells separators out: "," becomes
 * " or "), which the limits above keep under 3,600 characters.
 */
#define COND_TEXT_MAX		4096

enum cond_op { COND_EQ, COND_NE, COND_GT, COND_GE, COND_LT, COND_LE };

/* time aggregation over the window */
enum cond_agg { AGG_AVG, AGG_MIN, AGG_MAX, AGG_TOTAL, AGG_COUNT, AGG_LAST };

struct cond_filter {
	char dim[COND_DIM_MAX];
	bool negate;			/* != */
	unsigned nvalues;
	uint16_t off[COND_VALUES_MAX];	/* value i is buf + off[i] */
	char buf[COND_VALUEBUF_MAX];
};

struct condition {
	char ns[COND_NAME_MAX];		/* "" when not given */
	char metric[COND_NAME_MAX];
	enum cond_op op;
	double threshold;
	enum cond_agg agg;
	int64_t period_ns;
	unsigned nfilters;
	struct cond_filter filters[COND_FILTERS_MAX];
};

/*
 * Parses text; returns 0, or -EINVAL with "column N: expected ..." in err.
 * Nothing is logged: the caller knows where the text came from.
 */
int condition_parse(const char *text, struct condition *c, char *err, size_t errlen);

/* Writes a period as az does: "5m", "1h30m", "90s" is "1m30s". */
void condition_period_format(int64_t ns, char *buf, size_t len);
/* Writes the condition back in the az grammar; returns the length or -ENOSPC. */
int condition_format(const struct condition *c, char *buf, size_t len);

bool cond_compare(enum cond_op op, double observed, double threshold);
const char *cond_op_name(enum cond_op op);
const char *cond_agg_name(enum cond_agg agg);

static inline const char *cond_filter_value(const struct cond_filter *f, unsigned i)
{
	return f->buf + f->off[i];
}

/*
 * Parses a number with '.' or ',' as the decimal mark and an optional sign;
 * the whole of s[0..n) must be the number.  Returns 0 or -EINVAL.
 */
int cond_number_parse(const char *s, size_t n, double *out);

/* Parses a period "##h##m##s" (each part optional, at least one, > 0). */
int cond_period_parse(const char *s, size_t n, int64_t *ns);

#endif
