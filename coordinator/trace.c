/* trace: reads metric traces (CSV: time,instance,metric,value[,...]) row by row */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "trace.h"

#define TRACE_BUF	(1 << 20)	/* read size; lines never span more than TRACE_LINE_MAX */
#define SHOW_MAX	40		/* bytes of a bad field quoted in a message */

enum col { COL_TIME, COL_INSTANCE, COL_METRIC, COL_VALUE, COL_DEPLOYMENT, COL_ENDPOINT, COL_LABEL };

/* Interned byte strings: id by content, O(1) on average. */
struct intern_entry {
	char *key;
	uint32_t len;
	uint64_t hash;
};

struct intern {
	struct intern_entry *e;
	size_t n, cap;
	uint32_t *slots;		/* id + 1; 0 is empty */
	size_t nslots;			/* a power of two */
};

struct trace {
	char *path;
	int fd;
	char *buf;
	size_t start, end;
	bool eof, failed;
	unsigned line;			/* lines read so far */
	unsigned ncols, nlabels;
	enum col col[TRACE_COLUMNS_MAX];
	int c_time, c_instance, c_metric, c_value, c_deployment, c_endpoint;
	int label_col[TRACE_LABELS_MAX];
	char *label_key[TRACE_LABELS_MAX];
	struct intern inst, metric;
	char key[TRACE_LINE_MAX + TRACE_COLUMNS_MAX + 1];
};

/* ---- interning ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static void intern_free(struct intern *in)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		free(in->e[i].key);
	free(in->e);
	free(in->slots);
}

static int intern_grow(struct intern *in)
{
	size_t size = in->nslots ? in->nslots * 2 : 256, i, h;
	uint32_t *slots = calloc(size, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < in->n; i++) {
		for (h = in->e[i].hash & (size - 1); slots[h]; h = (h + 1) & (size - 1))
			;
		slots[h] = (uint32_t)i + 1;
	}
	free(in->slots);
	in->slots = slots;
	in->nslots = size;
	return 0;
}

/* The id of key[0..len), added when new; -ENOSPC past max, -ENOMEM. */
static int intern_get(struct intern *in, const char *key, size_t len, size_t max, unsigned *id)
{
	uint64_t h = hash_bytes(key, len);
	struct intern_entry *e;
	size_t i;
	int r;

	if (in->nslots) {
		for (i = h & (in->nslots - 1); in->slots[i]; i = (i + 1) & (in->nslots - 1)) {
			e = &in->e[in->slots[i] - 1];
			if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
				*id = in->slots[i] - 1;
				return 0;
			}
		}
	}
	if (in->n >= max)
		return -ENOSPC;
	if ((in->n + 1) * 2 > in->nslots && (r = intern_grow(in)) < 0)
		return r;
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 64;

		e = realloc(in->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		in->e = e;
		in->cap = cap;
	}
	e = &in->e[in->n];
	e->key = malloc(len + 1);
	if (!e->key)
		return -ENOMEM;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->len = (uint32_t)len;
	e->hash = h;
	for (i = h & (in->nslots - 1); in->slots[i]; i = (i + 1) & (in->nslots - 1))
		;
	in->slots[i] = (uint32_t)in->n + 1;
	*id = (unsigned)in->n++;
	return 0;
}

/* ---- lines and fields ---- */

int trace_error(const struct trace *t, unsigned line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		log_err("%s:%u: %s", t->path, line, msg);
	else
		log_err("%s: %s", t->path, msg);
	return -EINVAL;
}

/* A field as it may be shown: at most SHOW_MAX bytes, control bytes as '?'. */
static const char *show(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, m = n < SHOW_MAX ? n : SHOW_MAX;

	if (m >= len)
		m = len - 1;
	for (i = 0; i < m; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (m < n && m + 4 < len) {
		memcpy(buf + m, "...", 3);
		m += 3;
	}
	buf[m] = '\0';
	return buf;
}

/* The next line, NUL-terminated without its CR LF; 1, 0 at the end, or -errno. */
static int next_line(struct trace *t, char **line, size_t *len)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = memchr(t->buf + t->start, '\n', t->end - t->start);
		if (nl || (t->eof && t->start < t->end)) {
			*line = t->buf + t->start;
			*len = nl ? (size_t)(nl - *line) : t->end - t->start;
			t->start += *len + (nl != NULL);
			break;
		}
		if (t->eof)
			return 0;
		if (t->end - t->start > TRACE_LINE_MAX + 1)
			return trace_error(t, t->line + 1, "expected a line of at most %d bytes", TRACE_LINE_MAX);
		memmove(t->buf, t->buf + t->start, t->end - t->start);
		t->end -= t->start;
		t->start = 0;
		n = read(t->fd, t->buf + t->end, TRACE_BUF + TRACE_LINE_MAX - t->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			log_err("%s: cannot read: %s", t->path, strerror(errno));
			return (int)n;
		}
		if (n == 0)
			t->eof = true;
		t->end += (size_t)n;
	}
	t->line++;
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	if (*len > TRACE_LINE_MAX)
		return trace_error(t, t->line, "expected a line of at most %d bytes", TRACE_LINE_MAX);
	(*line)[*len] = '\0';
	return 1;
}

static inline bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Splits line in place into NUL-terminated fields: unquoted fields are
 * trimmed; a quoted field ("...", "" for a quote) is taken as written.
 */
static int split(struct trace *t, char *line, size_t len, char **f, size_t *fl, unsigned *nf)
{
	char *p = line, *end = line + len, *q, *w;
	unsigned n = 0;
	size_t l;

	for (;;) {
		while (p < end && blank(*p))
			p++;
		if (n == TRACE_COLUMNS_MAX)
			return trace_error(t, t->line, "expected at most %d fields", TRACE_COLUMNS_MAX);
		if (p < end && *p == '"') {
			w = q = ++p;
			for (;;) {
				if (q >= end)
					return trace_error(t, t->line, "field %u: expected a closing '\"' (quoted fields cannot hold a line break)",
							   n + 1);
				if (*q == '"') {
					if (q + 1 < end && q[1] == '"') {
						*w++ = '"';
						q += 2;
						continue;
					}
					q++;
					break;
				}
				*w++ = *q++;
			}
			while (q < end && blank(*q))
				q++;
			if (q < end && *q != ',')
				return trace_error(t, t->line, "field %u: expected ',' after the closing '\"'", n + 1);
			*w = '\0';
			f[n] = p;
			fl[n++] = (size_t)(w - p);
			if (q >= end)
				break;
			p = q + 1;
			continue;
		}
		q = memchr(p, ',', (size_t)(end - p));
		l = (size_t)((q ? q : end) - p);
		while (l && blank(p[l - 1]))
			l--;
		p[l] = '\0';
		f[n] = p;
		fl[n++] = l;
		if (!q)
			break;
		p = q + 1;
	}
	*nf = n;
	return 0;
}

/* A blank line or a comment (first non-blank byte '#'). */
static bool skip_line(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (blank(line[i]) || line[i] == '\r'))
		i++;
	return i == len || line[i] == '#';
}

/* ---- header ---- */

static int read_header(struct trace *t)
{
	static const char *const known[] = { "time", "instance", "metric", "value", "deployment", "endpoint" };
	char *f[TRACE_COLUMNS_MAX], *line, show_buf[64];
	size_t fl[TRACE_COLUMNS_MAX], len;
	int *where[] = { &t->c_time, &t->c_instance, &t->c_metric, &t->c_value,
			 &t->c_deployment, &t->c_endpoint };
	unsigned nf, i, k, j;
	int r;

	do {
		r = next_line(t, &line, &len);
		if (r <= 0)
			return r < 0 ? r : trace_error(t, 0, "expected a header line: time,instance,metric,value");
	} while (skip_line(line, len));
	r = split(t, line, len, f, fl, &nf);
	if (r < 0)
		return r;
	t->c_time = t->c_instance = t->c_metric = t->c_value = t->c_deployment = t->c_endpoint = -1;
	for (i = 0; i < nf; i++) {
		if (!fl[i])
			return trace_error(t, t->line, "column %u: expected a column name", i + 1);
		for (k = 0; k < 6; k++)
			if (strcasecmp(f[i], known[k]) == 0)
				break;
		if (k < 6) {
			if (*where[k] >= 0)
				return trace_error(t, t->line, "column %u: '%s' given twice", i + 1, known[k]);
			*where[k] = (int)i;
			t->col[i] = (enum col)k;
			continue;
		}
		if (fl[i] > TRACE_KEY_MAX)
			return trace_error(t, t->line, "column %u: expected a label name of at most %d bytes",
					   i + 1, TRACE_KEY_MAX);
		for (j = 0; j < t->nlabels; j++)
			if (strcasecmp(t->label_key[j], f[i]) == 0)
				return trace_error(t, t->line, "column %u: '%s' given twice", i + 1,
						   show(f[i], fl[i], show_buf, sizeof(show_buf)));
		if (t->nlabels == TRACE_LABELS_MAX)
			return trace_error(t, t->line, "expected at most %d label columns", TRACE_LABELS_MAX);
		t->label_key[t->nlabels] = strdup(f[i]);
		if (!t->label_key[t->nlabels])
			return -ENOMEM;
		t->label_col[t->nlabels++] = (int)i;
		t->col[i] = COL_LABEL;
	}
	t->ncols = nf;
	for (k = 0; k < 4; k++)
		if (*where[k] < 0)
			return trace_error(t, t->line, "expected a header with the columns time, instance, metric and value (no '%s' column)",
					   known[k]);
	return 0;
}

int trace_open(const char *path, struct trace **out)
{
	struct trace *t;
	int r;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	t->path = strdup(strcmp(path, "-") == 0 ? "stdin" : path);
	t->buf = malloc(TRACE_BUF + TRACE_LINE_MAX + 1);
	if (!t->path || !t->buf) {
		trace_close(t);
		return -ENOMEM;
	}
	t->fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		log_err("%s: cannot open: %s", path, strerror(errno));
		trace_close(t);
		return r;
	}
	posix_fadvise(t->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = read_header(t);
	if (r < 0) {
		trace_close(t);
		return r;
	}
	*out = t;
	return 0;
}

void trace_close(struct trace *t)
{
	unsigned i;

	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	for (i = 0; i < t->nlabels; i++)
		free(t->label_key[i]);
	intern_free(&t->inst);
	intern_free(&t->metric);
	free(t->buf);
	free(t->path);
	free(t);
}

/* ---- rows ---- */

static int name_field(struct trace *t, const char *what, const char *s, size_t n, size_t max, bool need)
{
	if (need && !n)
		return trace_error(t, t->line, "expected %s", what);
	if (n > max)
		return trace_error(t, t->line, "expected %s of at most %zu bytes", what, max);
	if (memchr(s, '\0', n))
		return trace_error(t, t->line, "expected %s without NUL bytes", what);
	return 0;
}

static int parse_row(struct trace *t, char *line, size_t len, struct trace_row *row)
{
	char *f[TRACE_COLUMNS_MAX], show_buf[64];
	size_t fl[TRACE_COLUMNS_MAX], klen, l;
	unsigned nf, i;
	int r, c;

	r = split(t, line, len, f, fl, &nf);
	if (r < 0)
		return r;
	if (nf != t->ncols)
		return trace_error(t, t->line, "expected %u fields as in the header, found %u", t->ncols, nf);
	c = t->c_time;
	if (trace_parse_time(f[c], fl[c], &row->t_ns) < 0)
		return trace_error(t, t->line, "time: expected RFC 3339 (2026-01-05T10:00:00Z) or Unix seconds from 1970 on, not '%s'",
				   show(f[c], fl[c], show_buf, sizeof(show_buf)));
	c = t->c_value;
	if (trace_parse_number(f[c], fl[c], &row->value) < 0)
		return trace_error(t, t->line, "value: expected a finite number, not '%s'",
				   show(f[c], fl[c], show_buf, sizeof(show_buf)));
	c = t->c_metric;
	if ((r = name_field(t, "a metric name", f[c], fl[c], TRACE_METRIC_MAX, true)) < 0)
		return r;
	r = intern_get(&t->metric, f[c], fl[c], TRACE_IDS_MAX, &row->metric);
	if (r == -ENOSPC)
		trace_error(t, t->line, "expected at most %d distinct metrics", TRACE_IDS_MAX);
	if (r < 0)
		return r;

	/* the instance key: name, deployment, endpoint and label values, NUL-separated */
	c = t->c_instance;
	if ((r = name_field(t, "an instance name", f[c], fl[c], TRACE_NAME_MAX, true)) < 0)
		return r;
	memcpy(t->key, f[c], fl[c] + 1);
	klen = fl[c] + 1;
	for (i = 0; i < 2 + t->nlabels; i++) {
		c = i == 0 ? t->c_deployment : i == 1 ? t->c_endpoint : t->label_col[i - 2];
		l = c >= 0 ? fl[c] : 0;
		if (c >= 0 && (r = name_field(t, i == 0 ? "a deployment" : i == 1 ? "an endpoint" : "a label value",
					     f[c], l, TRACE_NAME_MAX, false)) < 0)
			return r;
		if (l)
			memcpy(t->key + klen, f[c], l);
		t->key[klen + l] = '\0';
		klen += l + 1;
	}
	r = intern_get(&t->inst, t->key, klen, TRACE_IDS_MAX, &row->instance);
	if (r == -ENOSPC)
		trace_error(t, t->line, "expected at most %d distinct instances", TRACE_IDS_MAX);
	if (r < 0)
		return r;
	row->line = t->line;
	return 1;
}

int trace_next(struct trace *t, struct trace_row *row)
{
	char *line;
	size_t len;
	int r;

	if (t->failed)
		return -EINVAL;
	do {
		r = next_line(t, &line, &len);
		if (r <= 0)
			break;
	} while (skip_line(line, len));
	if (r > 0)
		r = parse_row(t, line, len, row);
	if (r < 0)
		t->failed = true;
	return r;
}

/* ---- lookups ---- */

const char *trace_path(const struct trace *t)
{
	return t->path;
}

unsigned trace_instances(const struct trace *t)
{
	return (unsigned)t->inst.n;
}

unsigned trace_metrics(const struct trace *t)
{
	return (unsigned)t->metric.n;
}

const char *trace_metric(const struct trace *t, unsigned id)
{
	return id < t->metric.n ? t->metric.e[id].key : NULL;
}

int trace_instance(const struct trace *t, unsigned id, struct trace_instance *out)
{
	const char *p;
	unsigned i;

	if (id >= t->inst.n)
		return -ENOENT;
	p = t->inst.e[id].key;
	out->name = p;
	p += strlen(p) + 1;
	out->deployment = p;
	p += strlen(p) + 1;
	out->endpoint = p;
	p += strlen(p) + 1;
	out->nlabels = 0;
	for (i = 0; i < t->nlabels; i++) {
		if (*p) {
			out->labels[out->nlabels].key = t->label_key[i];
			out->labels[out->nlabels++].value = p;
		}
		p += strlen(p) + 1;
	}
	return 0;
}
