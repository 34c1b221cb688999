/* trace: reads metric traces (CSV: time,instance,metric,value[,...]) row by row */
#ifndef ASCALE_TRACE_H
#define ASCALE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_LINE_MAX		4096	/* bytes of one line, without its newline */
#define TRACE_COLUMNS_MAX	38	/* the six known columns and up to 32 labels */
#define TRACE_LABELS_MAX	32
#define TRACE_NAME_MAX		255	/* instance, deployment, endpoint, label value */
#define TRACE_METRIC_MAX	127	/* metric name (condition.h's COND_NAME_MAX - 1) */
#define TRACE_KEY_MAX		63	/* label column name (COND_DIM_MAX - 1) */
#define TRACE_IDS_MAX		1000000	/* distinct instances, and distinct metrics */
#define TRACE_TIME_MAX		9000000000LL	/* seconds (year 2255): t_ns stays far from overflow */

struct trace;

/* One sample: its time, value, and the interned ids of its instance and metric. */
struct trace_row {
	int64_t t_ns;
	double value;
	unsigned instance;		/* id of (instance, deployment, endpoint, labels) */
	unsigned metric;		/* id of the metric name, as written */
	unsigned line;
};

struct trace_label {
	const char *key, *value;
};

/* What an instance id stands for; "" for a deployment or endpoint not given. */
struct trace_instance {
	const char *name, *deployment, *endpoint;
	size_t nlabels;			/* labels with a value (empty cells are left out) */
	struct trace_label labels[TRACE_LABELS_MAX];
};

/*
 * Opens path ("-" for standard input) and reads its header.  Every error is
 * logged as FILE:LINE: what was expected.  Returns 0, -EINVAL (bad header,
 * no header), -ENOMEM or -errno (cannot read).
 */
int trace_open(const char *path, struct trace **out);
void trace_close(struct trace *t);

/*
 * Reads the next sample into row.  Returns 1, 0 at the end of the file, or
 * -EINVAL (logged as FILE:LINE: ...), -ENOSPC (too many distinct names),
 * -ENOMEM or -errno.  After an error the trace is not read further.
 */
int trace_next(struct trace *t, struct trace_row *row);

/* Reports "FILE:LINE: message" for line (0: no line) and returns -EINVAL. */
int trace_error(const struct trace *t, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *trace_path(const struct trace *t);
unsigned trace_instances(const struct trace *t);
unsigned trace_metrics(const struct trace *t);
/* Fills in what instance id stands for; -ENOENT for an unknown id. */
int trace_instance(const struct trace *t, unsigned id, struct trace_instance *out);
/* The metric name of id, or NULL. */
const char *trace_metric(const struct trace *t, unsigned id);

/*
 * Parses a time: RFC 3339 (2026-01-05T10:00:00Z, a 'T', 't' or space between
 * date and time, an optional fraction, then 'Z' or +HH:MM / -HH:MM; none is
 * UTC) or Unix seconds with an optional fraction.  s[0..n) must be the whole
 * time, from 1970 to TRACE_TIME_MAX.  Returns 0 or -EINVAL.
 */
int trace_parse_time(const char *s, size_t n, int64_t *t_ns);
/* Parses a finite decimal number (sign, digits, fraction, exponent); 0 or -EINVAL. */
int trace_parse_number(const char *s, size_t n, double *out);

#endif
