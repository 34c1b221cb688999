/* table: aligned text tables, the human output of every asctl command */
#ifndef ASCTL_TABLE_H
#define ASCTL_TABLE_H

#include <stdio.h>

enum table_align {
	TABLE_AUTO,	/* right when every cell is a number (or "-" or empty), else left */
	TABLE_LEFT,
	TABLE_RIGHT,
};

#define TABLE_COLUMNS_MAX	4096
#define TABLE_GAP		"  "	/* between two columns */

struct table;

int table_init(struct table **t);
void table_free(struct table *t);

/*
 * Adds a column, before the first row.  A NULL heading is no heading; a table
 * without any prints no heading line (a key/value block, for example).
 */
int table_column(struct table *t, const char *heading, enum table_align align);
/* Starts a new row; its cells are added with table_cell in column order. */
int table_row(struct table *t);
/*
 * Adds the next cell of the current row.  NULL shows as "-".  Invalid UTF-8
 * and control characters are shown as '?'.  Missing cells print empty.
 */
int table_cell(struct table *t, const char *text);
int table_cellf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prints the table, columns separated by TABLE_GAP, without trailing blanks.
 * The add functions return their error, and also keep the first one to be
 * returned here, so a caller may check only this: 0, -ENOMEM, -EINVAL
 * (column after a row, cell past the last column, no row) or -EIO.
 */
int table_print(const struct table *t, FILE *f);

/* True when text is a number, optionally with units: "12", "-0.5", "99.9%", "4m12s", "1e3". */
int table_numeric(const char *text);

#endif
