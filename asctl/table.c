/* table: aligned text tables, the human output of every asctl command */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "table.h"

struct table_column {
	char *heading;
	enum table_align align;
};

struct table {
	struct table_column *cols;
	size_t ncols;
	char **cells;		/* row-major, nrows * ncols; NULL where a row was short */
	size_t nrows;
	size_t cur;		/* cells filled in the last row */
	int error;		/* the first error, returned by table_print */
};

int table_init(struct table **tp)
{
	*tp = calloc(1, sizeof(**tp));
	return *tp ? 0 : -ENOMEM;
}

void table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->ncols; i++)
		free(t->cols[i].heading);
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cols);
	free(t->cells);
	free(t);
}

static int table_fail(struct table *t, int error)
{
	if (!t->error)
		t->error = error;
	return error;
}

/* A sanitized copy of text (NULL: "-"). */
static char *table_dup(const char *text)
{
	size_t n;
	char *s;

	if (!text)
		text = "-";
	n = output_sanitize(NULL, 0, text);
	s = malloc(n + 1);
	if (s)
		output_sanitize(s, n + 1, text);
	return s;
}

int table_column(struct table *t, const char *heading, enum table_align align)
{
	struct table_column *cols;
	char *h = NULL;

	if (t->nrows || t->ncols >= TABLE_COLUMNS_MAX ||
	    (align != TABLE_AUTO && align != TABLE_LEFT && align != TABLE_RIGHT))
		return table_fail(t, -EINVAL);
	if (heading && !(h = table_dup(heading)))
		return table_fail(t, -ENOMEM);
	cols = realloc(t->cols, (t->ncols + 1) * sizeof(*cols));
	if (!cols) {
		free(h);
		return table_fail(t, -ENOMEM);
	}
	t->cols = cols;
	t->cols[t->ncols].heading = h;
	t->cols[t->ncols].align = align;
	t->ncols++;
	return 0;
}

int table_row(struct table *t)
{
	char **cells;

	if (!t->ncols)
		return table_fail(t, -EINVAL);
	if (t->nrows >= (SIZE_MAX / sizeof(*cells)) / t->ncols - 1)
		return table_fail(t, -ENOMEM);
	cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*cells));
	if (!cells)
		return table_fail(t, -ENOMEM);
	memset(cells + t->nrows * t->ncols, 0, t->ncols * sizeof(*cells));
	t->cells = cells;
	t->nrows++;
	t->cur = 0;
	return 0;
}

int table_cell(struct table *t, const char *text)
{
	char *s;

	if (!t->nrows || t->cur >= t->ncols)
		return table_fail(t, -EINVAL);
	s = table_dup(text);
	if (!s)
		return table_fail(t, -ENOMEM);
	t->cells[(t->nrows - 1) * t->ncols + t->cur++] = s;
	return 0;
}

int table_cellf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n, r;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return table_fail(t, -ENOMEM);
	r = table_cell(t, s);
	free(s);
	return r;
}

int table_numeric(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
		return 0;
	/* groups of digits (with one point or exponent) followed by a unit */
	while (*s) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			return 0;
		while (isdigit((unsigned char)*s) || *s == '.')
			s++;
		if ((*s == 'e' || *s == 'E') && (isdigit((unsigned char)s[1]) ||
		    ((s[1] == '-' || s[1] == '+') && isdigit((unsigned char)s[2])))) {
			s += 2;
			continue;
		}
		while (isalpha((unsigned char)*s) || *s == '%')
			s++;
	}
	return 1;
}

static const char *table_at(const struct table *t, size_t row, size_t col)
{
	const char *s = t->cells[row * t->ncols + col];

	return s ? s : "";
}

/* The alignment TABLE_AUTO resolves to for column c. */
static enum table_align table_resolve(const struct table *t, size_t c)
{
	const char *s;
	size_t r;

	if (t->cols[c].align != TABLE_AUTO)
		return t->cols[c].align;
	for (r = 0; r < t->nrows; r++) {
		s = table_at(t, r, c);
		if (*s && strcmp(s, "-") && !table_numeric(s))
			return TABLE_LEFT;
	}
	return t->nrows ? TABLE_RIGHT : TABLE_LEFT;
}

static int table_pad(FILE *f, size_t n)
{
	while (n--)
		if (fputc(' ', f) == EOF)
			return -EIO;
	return 0;
}

/* Prints one line: cells[c] for every column, or the headings when cells is NULL. */
static int table_line(const struct table *t, FILE *f, const size_t *width,
		      const enum table_align *align, size_t row, int heading)
{
	size_t c, w, last = t->ncols;
	const char *s;

	/* left-aligned trailing empties would only print blanks */
	while (last > 0) {
		s = heading ? t->cols[last - 1].heading : table_at(t, row, last - 1);
		if (s && *s)
			break;
		last--;
	}
	for (c = 0; c < last; c++) {
		s = heading ? t->cols[c].heading : table_at(t, row, c);
		if (!s)
			s = "";
		w = output_width(s);
		if (c && fputs(TABLE_GAP, f) == EOF)
			return -EIO;
		if (align[c] == TABLE_RIGHT && table_pad(f, width[c] - w) < 0)
			return -EIO;
		if (fputs(s, f) == EOF)
			return -EIO;
		if (align[c] != TABLE_RIGHT && c + 1 < last && table_pad(f, width[c] - w) < 0)
			return -EIO;
	}
	return fputc('\n', f) == EOF ? -EIO : 0;
}

int table_print(const struct table *t, FILE *f)
{
	enum table_align *align = NULL;
	size_t *width = NULL, r, c, w;
	int headed = 0, ret = 0;

	if (t->error)
		return t->error;
	if (!t->ncols)
		return -EINVAL;
	width = calloc(t->ncols, sizeof(*width));
	align = calloc(t->ncols, sizeof(*align));
	if (!width || !align) {
		ret = -ENOMEM;
		goto out;
	}
	for (c = 0; c < t->ncols; c++) {
		if (t->cols[c].heading) {
			headed = 1;
			width[c] = output_width(t->cols[c].heading);
		}
		for (r = 0; r < t->nrows; r++) {
			w = output_width(table_at(t, r, c));
			if (w > width[c])
				width[c] = w;
		}
		align[c] = table_resolve(t, c);
	}
	if (headed)
		ret = table_line(t, f, width, align, 0, 1);
	for (r = 0; r < t->nrows && !ret; r++)
		ret = table_line(t, f, width, align, r, 0);
out:
	free(width);
	free(align);
	return ret;
}
