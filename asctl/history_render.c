/* history_render: "asctl history" as a table, and one record in full with its decision (--id) */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>

#include "history_render.h"
#include "output.h"
#include "table.h"

#define HIST_WIDTH_DEFAULT	100		/* columns when not on a terminal and COLUMNS is unset */
#define HIST_WIDTH_MAX		100000
#define HIST_REASON_MIN		24		/* the reason column is never cut narrower */
#define HIST_ELLIPSIS		"…"

enum { COL_TIME, COL_SETTING, COL_EVENT, COL_CHANGE, COL_OUTCOME, COL_RULE, COL_REASON, HIST_NCOLS };

/* A string field of a record, or NULL when absent or not a string. */
static const char *hist_str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

/* A copy of s (NULL: "-") made safe for a terminal, with room to cut it with HIST_ELLIPSIS. */
static char *hist_clean(const char *s)
{
	size_t n;
	char *c;

	if (!s)
		s = "-";
	n = output_sanitize(NULL, 0, s);
	c = malloc(n + sizeof(HIST_ELLIPSIS));
	if (c)
		output_sanitize(c, n + 1, s);
	return c;
}

/* Cuts the clean text s to width columns (at least 1), the last being HIST_ELLIPSIS. */
static void hist_cut(char *s, size_t width)
{
	size_t w = 0;
	char *p;

	if (output_width(s) <= width)
		return;
	for (p = s; *p; p++) {
		if (((unsigned char)*p & 0xc0) == 0x80)
			continue;
		if (++w == width) {
			/* past p lie at least two characters: room for the ellipsis was allocated */
			memcpy(p, HIST_ELLIPSIS, sizeof(HIST_ELLIPSIS));
			return;
		}
	}
}

/* The text of one row's cells, each malloc'ed (clean); 0 or -ENOMEM. */
static int hist_cells(const json_t *rec, char **cell)
{
	const char *ev = hist_str(rec, "event"), *dir = hist_str(rec, "direction");
	const char *outcome = hist_str(rec, "outcome"), *msg = hist_str(rec, "message");
	const char *prof = hist_str(rec, "profile"), *prev = hist_str(rec, "previous_profile");
	const json_t *from = json_object_get(rec, "from"), *to = json_object_get(rec, "to");
	const json_t *http = json_object_get(rec, "http_status");
	const char *text[HIST_NCOLS] = { 0 };
	char event[96], change[64], reason[1024];
	size_t i;
	int r = 0;

	text[COL_TIME] = hist_str(rec, "time");
	text[COL_SETTING] = hist_str(rec, "setting");
	text[COL_EVENT] = ev;
	if (ev && dir && strcmp(ev, "scale") == 0) {
		snprintf(event, sizeof(event), "scale %s", dir);
		text[COL_EVENT] = event;
	}
	if (json_is_integer(from) && json_is_integer(to)) {
		snprintf(change, sizeof(change), "%" JSON_INTEGER_FORMAT "→%" JSON_INTEGER_FORMAT,
			 json_integer_value(from), json_integer_value(to));
		text[COL_CHANGE] = change;
	}
	text[COL_OUTCOME] = outcome;
	text[COL_RULE] = hist_str(rec, "rule");
	if (!text[COL_RULE])
		text[COL_RULE] = hist_str(rec, "cause");
	if (!text[COL_RULE])
		text[COL_RULE] = hist_str(rec, "operation");
	text[COL_REASON] = hist_str(rec, "reason");
	if (ev && strcmp(ev, "profile") == 0 && prof) {
		snprintf(reason, sizeof(reason), "%s in force%s%s%s", prof, prev ? " (was " : "",
			 prev ? prev : "", prev ? ")" : "");
		text[COL_REASON] = reason;
	} else if (ev && strcmp(ev, "external_change") == 0 && !text[COL_REASON]) {
		text[COL_REASON] = "the count changed outside ascale: adopted";
	} else if (msg && *msg && outcome && strcmp(outcome, "succeeded") != 0) {
		if (json_is_integer(http) && json_integer_value(http) > 0)
			snprintf(reason, sizeof(reason), "HTTP %" JSON_INTEGER_FORMAT ": %s",
				 json_integer_value(http), msg);
		else
			snprintf(reason, sizeof(reason), "%s", msg);
		text[COL_REASON] = reason;
	} else if (!text[COL_REASON]) {
		text[COL_REASON] = msg;
	}
	for (i = 0; i < HIST_NCOLS; i++)
		if (!(cell[i] = hist_clean(text[i])))
			r = -ENOMEM;
	return r;
}

/* The terminal's width: COLUMNS, else the terminal's own, else HIST_WIDTH_DEFAULT. */
static size_t hist_columns(void)
{
	const char *env = getenv("COLUMNS");
	unsigned long v;
	struct winsize ws;
	char *end;

	if (env && *env >= '0' && *env <= '9') {
		errno = 0;
		v = strtoul(env, &end, 10);
		if (!*end && !errno && v >= 1 && v <= HIST_WIDTH_MAX)
			return v;
	}
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		return ws.ws_col;
	return HIST_WIDTH_DEFAULT;
}

int history_render_table(const json_t *const *recs, size_t n, FILE *f)
{
	static const char *const heads[HIST_NCOLS] = {
		"TIME", "SETTING", "EVENT", "FROM→TO", "OUTCOME", "RULE/CAUSE", "REASON",
	};
	size_t width[HIST_NCOLS], used = 0, i, c, w;
	struct table *t = NULL;
	char **cells;
	int r;

	if (n > SIZE_MAX / HIST_NCOLS / sizeof(*cells))
		return -ENOMEM;
	cells = calloc(n * HIST_NCOLS, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (c = 0; c < HIST_NCOLS; c++)
		width[c] = output_width(heads[c]);
	r = table_init(&t);
	for (i = 0; !r && i < n; i++) {
		r = hist_cells(recs[i], cells + i * HIST_NCOLS);
		for (c = 0; !r && c < HIST_NCOLS; c++) {
			w = output_width(cells[i * HIST_NCOLS + c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	/* the reason gets what the other columns leave of the line */
	for (c = 0; c < COL_REASON; c++)
		used += width[c] + strlen(TABLE_GAP);
	w = hist_columns();
	w = w > used + HIST_REASON_MIN ? w - used : HIST_REASON_MIN;
	for (c = 0; !r && c < HIST_NCOLS; c++)
		table_column(t, heads[c], c == COL_CHANGE ? TABLE_RIGHT : TABLE_LEFT);
	for (i = 0; !r && i < n; i++) {
		hist_cut(cells[i * HIST_NCOLS + COL_REASON], w);
		table_row(t);
		for (c = 0; c < HIST_NCOLS; c++)
			table_cell(t, cells[i * HIST_NCOLS + c]);
	}
	if (!r)
		r = table_print(t, f);
	for (i = 0; i < n * HIST_NCOLS; i++)
		free(cells[i]);
	free(cells);
	table_free(t);
	return r;
}

/* ---- one record in full (--id) ---- */

/* The fields shown first, in this order; the others follow in the record's order. */
static const char *const hist_fields[] = {
	"id", "time", "setting", "event", "direction", "profile", "previous_profile", "rule",
	"cause", "from", "to", "operation", "outcome", "completed", "count", "http_status",
	"attempts", "after_restart", "message", "reason",
};

#define HIST_NFIELDS	(sizeof(hist_fields) / sizeof(hist_fields[0]))

/* One key/value row: a string as it is, anything else as compact JSON. */
static void hist_field(struct table *t, const char *key, const json_t *v)
{
	char *text;

	table_row(t);
	table_cell(t, key);
	if (json_is_string(v)) {
		table_cell(t, json_string_value(v));
		return;
	}
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
	table_cell(t, text ? text : "?");
	free(text);
}

/* A JSON number as text ("-" for anything else). */
static const char *hist_num(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_number(v))
		snprintf(buf, len, "%.6g", json_number_value(v));
	else
		return "-";
	return buf;
}

/* The decision record: the tick's outcome, then each rule against its threshold. */
static int hist_decision(const json_t *d, const char *reason, FILE *f)
{
	const json_t *rules = json_object_get(d, "rules"), *ru;
	const char *dreason = hist_str(d, "reason");
	bool estimates = false;
	struct table *t;
	char a[32], b[32];
	size_t i;
	int r;

	if (fputc('\n', f) == EOF)
		return -EIO;
	if (table_init(&t) < 0)
		return -ENOMEM;
	table_column(t, NULL, TABLE_LEFT);
	table_column(t, NULL, TABLE_LEFT);
	table_row(t);
	table_cell(t, "decision at");
	table_cell(t, hist_str(d, "time"));
	table_row(t);
	table_cell(t, "profile");
	table_cell(t, hist_str(d, "profile"));
	table_row(t);
	table_cell(t, "count");
	table_cellf(t, "%s→%s%s%s", hist_num(json_object_get(d, "before"), a, sizeof(a)),
		    hist_num(json_object_get(d, "after"), b, sizeof(b)),
		    json_is_true(json_object_get(d, "applied")) ? " (applied)" : " (not applied)",
		    json_is_true(json_object_get(d, "flapping_adjusted")) ? ", flapping-adjusted" : "");
	table_row(t);
	table_cell(t, "cause");
	table_cell(t, hist_str(d, "cause"));
	if (dreason && (!reason || strcmp(dreason, reason) != 0)) {
		table_row(t);
		table_cell(t, "reason");
		table_cell(t, dreason);
	}
	r = table_print(t, f);
	table_free(t);
	if (r || !json_array_size(rules))
		return r;
	json_array_foreach(rules, i, ru)
		estimates |= json_is_number(json_object_get(ru, "estimate"));
	if (fputc('\n', f) == EOF)
		return -EIO;
	if (table_init(&t) < 0)
		return -ENOMEM;
	table_column(t, "  RULE", TABLE_LEFT);
	table_column(t, "OBSERVED", TABLE_RIGHT);
	table_column(t, "THRESHOLD", TABLE_RIGHT);
	table_column(t, "STATE", TABLE_LEFT);
	table_column(t, "SAMPLES", TABLE_RIGHT);
	if (estimates)
		table_column(t, "ESTIMATE", TABLE_RIGHT);
	json_array_foreach(rules, i, ru) {
		const char *name = hist_str(ru, "rule"), *op = hist_str(ru, "operator");

		table_row(t);
		table_cellf(t, "  %s", name ? name : "-");
		table_cell(t, hist_num(json_object_get(ru, "observed"), a, sizeof(a)));
		table_cellf(t, "%s %s", op ? op : "?", hist_num(json_object_get(ru, "threshold"), b, sizeof(b)));
		table_cell(t, hist_str(ru, "state"));
		table_cell(t, hist_num(json_object_get(ru, "samples"), a, sizeof(a)));
		if (estimates)
			table_cell(t, hist_num(json_object_get(ru, "estimate"), b, sizeof(b)));
	}
	r = table_print(t, f);
	table_free(t);
	return r;
}

int history_render_detail(const json_t *rec, FILE *f)
{
	const json_t *v, *d = json_object_get(rec, "decision");
	struct table *t;
	const char *key;
	size_t i;
	int r;

	if (table_init(&t) < 0)
		return -ENOMEM;
	table_column(t, NULL, TABLE_LEFT);
	table_column(t, NULL, TABLE_LEFT);
	for (i = 0; i < HIST_NFIELDS; i++)
		if ((v = json_object_get(rec, hist_fields[i])))
			hist_field(t, hist_fields[i], v);
	json_object_foreach((json_t *)rec, key, v) {
		for (i = 0; i < HIST_NFIELDS && strcmp(key, hist_fields[i]) != 0; i++)
			;
		if (i == HIST_NFIELDS && !(strcmp(key, "decision") == 0 && json_is_object(v)))
			hist_field(t, key, v);
	}
	r = table_print(t, f);
	table_free(t);
	if (!r && json_is_object(d))
		r = hist_decision(d, hist_str(rec, "reason"), f);
	return r;
}

