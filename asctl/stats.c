/* stats: "asctl stats", the coordinator's counters (ingest, store, webhooks, control socket) */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control_client.h"
#include "output.h"
#include "stats.h"
#include "table.h"

#define STATS_CMD	"stats"
#define STATS_NAME_MAX	128

static void stats_usage(FILE *f)
{
	fputs("usage: asctl [--socket PATH] stats [--json]\n"
	      "\n"
	      "Asks the running coordinator for its counters, one a line: the agents'\n"
	      "connections and frames (ingest), data dropped as too late (store), the\n"
	      "webhooks sent, retried, failed and dropped (notify), and the control\n"
	      "socket's own (control).  docs/control.md says what each one counts.\n"
	      "\n"
	      "      --json   the coordinator's answer as one JSON object\n"
	      "  -h, --help   show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 ascoord is not running or access is denied, 2 bad usage.\n", f);
}

/* One row a number, named by its path ("ingest.bad_hmac"); objects are walked, the rest left out. */
static void stats_rows(struct table *t, const char *prefix, const json_t *o)
{
	char name[STATS_NAME_MAX];
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v) {
		if (!strcmp(key, "v") || !strcmp(key, "ok"))
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (json_is_object(v)) {
			stats_rows(t, name, v);
		} else if (json_is_number(v) || json_is_boolean(v)) {
			table_row(t);
			table_cell(t, name);
			if (json_is_integer(v))
				table_cellf(t, "%lld", (long long)json_integer_value(v));
			else if (json_is_real(v))
				table_cellf(t, "%.4g", json_real_value(v));
			else
				table_cell(t, json_is_true(v) ? "yes" : "no");
		}
	}
}

int stats_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	json_t *reply = NULL;
	struct table *t;
	bool json;
	int first, r;

	r = cli_json_options(STATS_CMD, argc, argv, stats_usage, 0, &json, &first);
	if (r >= 0)
		return r;
	r = control_call(ctx->socket, STATS_CMD, "stats", NULL, &reply);
	if (r != ASCTL_OK)
		return r;
	if (json) {
		r = output_json(stdout, reply, 0) < 0 ? ASCTL_FAIL : ASCTL_OK;
	} else if (table_init(&t) < 0) {
		r = ASCTL_FAIL;
	} else {
		table_column(t, "COUNTER", TABLE_LEFT);
		table_column(t, "VALUE", TABLE_RIGHT);
		stats_rows(t, "", reply);
		r = table_print(t, stdout) < 0 ? ASCTL_FAIL : ASCTL_OK;
		table_free(t);
	}
	json_decref(reply);
	return r;
}
