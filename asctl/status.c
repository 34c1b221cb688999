/* status: "asctl status", each setting's profile, count, rules and last decision, from the coordinator */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control_client.h"
#include "output.h"
#include "status.h"
#include "table.h"

#define STATUS_CMD	"status"

static void status_usage(FILE *f)
{
	fputs("usage: asctl [--socket PATH] status [SETTING] [--json]\n"
	      "\n"
	      "Asks the running coordinator, for every setting (or SETTING): the profile in\n"
	      "force, the current count against min/max/default, each rule's observed value\n"
	      "against its threshold and its state, cooldown left, live and stale instances,\n"
	      "and the last decision.\n"
	      "\n"
	      "      --json   the coordinator's answer as one JSON object\n"
	      "  -h, --help   show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 ascoord is not running or access is denied, 2 bad usage\n"
	      "or an unknown setting.\n", f);
}

static const char *status_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long status_int(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* A JSON number (or null) as text: "-" for null. */
static const char *status_num(const json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return "-";
	snprintf(buf, len, "%.4g", json_number_value(v));
	return buf;
}

/* One line: the backend's operation in flight, else its last result. */
static void status_print_backend(const json_t *s, FILE *f)
{
	const json_t *be = json_object_get(s, "backend");
	const json_t *op = json_object_get(be, "operation"), *last = json_object_get(be, "last_result");
	const json_t *cap;

	if (strcmp(status_str(s, "state"), "starting") == 0)
		fprintf(f, "  waiting for the backend's count\n");
	if (json_is_object(op)) {
		cap = json_object_get(op, "capacity");
		if (json_is_integer(cap))
			fprintf(f, "  backend: setting the count to %lld since %s\n",
				(long long)json_integer_value(cap), status_str(op, "since"));
		else
			fprintf(f, "  backend: reading the count since %s\n", status_str(op, "since"));
	} else if (json_is_object(last)) {
		long long http = status_int(last, "http_status"), n = status_int(last, "attempts");

		fprintf(f, "  backend: last %s %s at %s (", status_str(last, "kind"),
			status_str(last, "status"), status_str(last, "time"));
		if (http > 0)
			fprintf(f, "HTTP %lld, ", http);
		fprintf(f, "%lld attempt%s): %s\n", n, n == 1 ? "" : "s", status_str(last, "message"));
	}
}

static int status_print_setting(const json_t *s, FILE *f)
{
	const json_t *inst = json_object_get(s, "instances"), *rules = json_object_get(s, "rules");
	const json_t *last = json_object_get(s, "last_decision"), *r;
	char a[32], b[32];
	struct table *t;
	double cool = json_number_value(json_object_get(s, "cooldown_left_s"));
	size_t i;
	int e;

	fprintf(f, "%s  (deployment %s, endpoint %s, backend %s%s)\n", status_str(s, "setting"),
		status_str(s, "deployment"), status_str(s, "endpoint"),
		status_str(json_object_get(s, "backend"), "type"),
		json_is_true(json_object_get(s, "enabled")) ? "" : ", DISABLED");
	fprintf(f, "  profile %s: count %lld (min %lld, max %lld, default %lld); cooldown %s; "
		"instances %lld live, %lld stale\n", status_str(s, "profile"), status_int(s, "count"),
		status_int(s, "min"), status_int(s, "max"), status_int(s, "default"),
		cool > 0 ? (snprintf(a, sizeof(a), "%.0fs left", ceil(cool)), a) : "none",
		status_int(inst, "live"), status_int(inst, "stale"));
	if (table_init(&t) < 0)
		return -1;
	table_column(t, "  RULE", TABLE_LEFT);
	table_column(t, "CONDITION", TABLE_LEFT);
	table_column(t, "OBSERVED", TABLE_RIGHT);
	table_column(t, "THRESHOLD", TABLE_RIGHT);
	table_column(t, "STATE", TABLE_LEFT);
	json_array_foreach(rules, i, r) {
		table_row(t);
		table_cellf(t, "  %s", status_str(r, "rule"));
		table_cell(t, status_str(r, "condition"));
		table_cell(t, status_num(json_object_get(r, "observed"), a, sizeof(a)));
		table_cellf(t, "%s %s", status_str(r, "operator"),
			    status_num(json_object_get(r, "threshold"), b, sizeof(b)));
		table_cell(t, status_str(r, "state"));
	}
	e = json_array_size(rules) ? table_print(t, f) : 0;
	table_free(t);
	if (strcmp(status_str(s, "state"), "recovering") == 0)
		fprintf(f, "  start-up grace: waiting for agents to resend what they hold; "
			"evaluation starts in %.0fs\n",
			ceil(json_number_value(json_object_get(s, "recovering_left_s"))));
	status_print_backend(s, f);
	if (json_is_object(last))
		fprintf(f, "  last decision at %s: %s\n", status_str(last, "time"),
			status_str(last, "reason"));
	else
		fprintf(f, "  no decision yet (next tick at %s)\n", status_str(s, "next_tick"));
	return e;
}

int status_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	const char *setting = NULL;
	json_t *extra = NULL, *reply = NULL, *s;
	bool json;
	size_t i;
	int first, r;

	r = cli_json_options(STATUS_CMD, argc, argv, status_usage, 1, &json, &first);
	if (r >= 0)
		return r;
	if (first < argc)
		setting = argv[first];
	if (setting)
		extra = json_pack("{s:s}", "setting", setting);
	r = control_call(ctx->socket, STATUS_CMD, "status", extra, &reply);
	json_decref(extra);
	if (r != ASCTL_OK)
		return r;
	if (json) {
		r = output_json(stdout, reply, 0) < 0 ? ASCTL_FAIL : ASCTL_OK;
	} else {
		r = ASCTL_OK;
		json_array_foreach(json_object_get(reply, "settings"), i, s) {
			if (i)
				putchar('\n');
			if (status_print_setting(s, stdout) < 0)
				r = ASCTL_FAIL;
		}
	}
	json_decref(reply);
	return r;
}
