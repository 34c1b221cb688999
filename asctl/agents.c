/* agents: "asctl agents", the coordinator's agent instances and their latest values */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "cli.h"
#include "control_client.h"
#include "output.h"
#include "table.h"

#define AGENTS_CMD		"agents"
#define AGENTS_METRIC_COLS	6	/* metric columns in the table; --json has them all */

static void agents_usage(FILE *f)
{
	fputs("usage: asctl [--socket PATH] agents [--json]\n"
	      "\n"
	      "Asks the running coordinator for every agent instance it knows: deployment,\n"
	      "endpoint, live or stale, when it was last heard from, its clock offset, and\n"
	      "the last value of each metric from its latest report.\n"
	      "\n"
	      "      --json   the coordinator's answer (with labels, connections, counters,\n"
	      "               min/max per metric and the ingest counters) as one JSON object\n"
	      "  -h, --help   show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 ascoord is not running or access is denied, 2 bad usage.\n", f);
}

static const char *agents_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : "-";
}

/* The metric names of the first agents, in their order, up to AGENTS_METRIC_COLS. */
static size_t agents_columns(const json_t *list, const char **names)
{
	const char *key;
	const json_t *a, *v;
	size_t i, n = 0, k;

	json_array_foreach(list, i, a) {
		json_object_foreach((json_t *)json_object_get(a, "metrics"), key, v) {
			for (k = 0; k < n && strcmp(names[k], key) != 0; k++)
				;
			if (k == n && n < AGENTS_METRIC_COLS)
				names[n++] = key;
		}
		(void)v;
	}
	return n;
}

static int agents_print(const json_t *reply, FILE *f)
{
	const json_t *list = json_object_get(reply, "agents"), *a, *m;
	const char *names[AGENTS_METRIC_COLS];
	char head[80];
	struct table *t;
	size_t i, k, n;
	int r;

	if (!json_array_size(list)) {
		fputs("no agents\n", f);
		return 0;
	}
	if (table_init(&t) < 0)
		return -1;
	n = agents_columns(list, names);
	table_column(t, "INSTANCE", TABLE_LEFT);
	table_column(t, "DEPLOYMENT", TABLE_LEFT);
	table_column(t, "ENDPOINT", TABLE_LEFT);
	table_column(t, "STATE", TABLE_LEFT);
	table_column(t, "LAST-SEEN", TABLE_LEFT);
	table_column(t, "OFFSET", TABLE_RIGHT);
	for (k = 0; k < n; k++) {
		size_t j;

		/* headings are one word: "Percentage CPU" shows as Percentage-CPU */
		output_sanitize(head, sizeof(head), names[k]);
		for (j = 0; head[j]; j++)
			if (head[j] == ' ')
				head[j] = '-';
		table_column(t, head, TABLE_RIGHT);
	}
	json_array_foreach(list, i, a) {
		table_row(t);
		table_cell(t, agents_str(a, "instance"));
		table_cell(t, agents_str(a, "deployment"));
		table_cell(t, agents_str(a, "endpoint"));
		table_cell(t, agents_str(a, "state"));
		table_cell(t, agents_str(a, "last_seen"));
		table_cellf(t, "%.1fms", json_number_value(json_object_get(a, "clock_offset_ms")));
		for (k = 0; k < n; k++) {
			m = json_object_get(json_object_get(json_object_get(a, "metrics"), names[k]), "last");
			if (json_is_number(m))
				table_cellf(t, "%.4g", json_number_value(m));
			else
				table_cell(t, NULL);
		}
	}
	r = table_print(t, f);
	table_free(t);
	return r;
}

int agents_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	json_t *reply = NULL;
	bool json;
	int first, r;

	r = cli_json_options(AGENTS_CMD, argc, argv, agents_usage, 0, &json, &first);
	if (r >= 0)
		return r;
	r = control_call(ctx->socket, AGENTS_CMD, "agents", NULL, &reply);
	if (r != ASCTL_OK)
		return r;
	if (json)
		r = output_json(stdout, reply, 0) < 0 ? ASCTL_FAIL : ASCTL_OK;
	else
		r = agents_print(reply, stdout) < 0 ? ASCTL_FAIL : ASCTL_OK;
	json_decref(reply);
	return r;
}
