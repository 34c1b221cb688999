/* schedule: "asctl schedule", which profile is in force when */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "log.h"
#include "output.h"
#include "schedule.h"
#include "setting.h"
#include "table.h"
#include "timeutil.h"
#include "tz.h"

#define SCHEDULE_CMD		"schedule"
#define SCHEDULE_DAYS_MAX	366

int schedule_main(const struct asctl_ctx *ctx, int argc, char **argv);

struct schedule_opts {
	const char *config;
	const char *setting;	/* NULL: every setting */
	bool json;
	int64_t from;		/* UTC seconds */
	uint64_t days;
};

static void schedule_usage(FILE *f)
{
	fputs("usage: asctl schedule --config FILE [--setting NAME] [--from TIME] [--days N]\n"
	      "                      [--json]\n"
	      "\n"
	      "Lists which profile of each autoscale setting is in force when, from TIME\n"
	      "for N days: one line an interval, with its start in UTC and in the\n"
	      "profile's own time zone (daylight saving time included), its end, the\n"
	      "profile and its min, max and default counts.\n"
	      "\n"
	      "  -c, --config FILE    the configuration (such as /etc/ascale/ascoord.conf)\n"
	      "  -S, --setting NAME   only this autoscale setting\n"
	      "  -f, --from TIME      YYYY-MM-DD (UTC midnight) or RFC 3339 (default: now)\n"
	      "  -d, --days N         how many days, 1 to 366 (default 7)\n"
	      "      --json           a JSON list of intervals\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 runtime failure, 2 bad usage or an invalid configuration.\n", f);
}

static int schedule_options(int argc, char **argv, struct schedule_opts *o)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "setting", required_argument, NULL, 'S' },
		{ "from", required_argument, NULL, 'f' },
		{ "days", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->from = time_real_ns() / NSEC_PER_SEC;
	o->days = 7;
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, "+:c:S:f:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!*optarg)
				return cli_usage_error(SCHEDULE_CMD, "--config: empty path");
			o->config = optarg;
			break;
		case 'S':
			o->setting = optarg;
			break;
		case 'f':
			if (schedule_parse_time(optarg, &o->from) < 0)
				return cli_usage_error(SCHEDULE_CMD, "--from: '%s' is not YYYY-MM-DD or an RFC 3339 time such as 2026-03-08T09:00:00Z",
						       optarg);
			break;
		case 'd':
			if (cli_parse_count(SCHEDULE_CMD, "--days", optarg, SCHEDULE_DAYS_MAX, &o->days))
				return ASCTL_USAGE;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			schedule_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(SCHEDULE_CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(SCHEDULE_CMD, "unexpected argument '%s'", argv[optind]);
	if (!o->config)
		return cli_usage_error(SCHEDULE_CMD, "--config FILE is required");
	return -1;
}

/* "2026-03-09 09:00" (UTC, seconds when not zero), or with the offset and T for JSON */
static void schedule_time(char *buf, size_t len, const struct tz *tz, int64_t t, bool rfc)
{
	int32_t off = tz ? tz_offset(tz, t) : 0;
	struct civil c;
	int32_t a = off < 0 ? -off : off;
	char secs[8] = "";

	civil_from_secs(t + off, &c);
	if (c.sec || rfc)
		snprintf(secs, sizeof(secs), ":%02d", c.sec);
	if (!tz && !rfc) {
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d%s", c.year, c.month, c.day, c.hour, c.min, secs);
		return;
	}
	if (!tz) {
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d%sZ", c.year, c.month, c.day, c.hour, c.min, secs);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02d%c%02d:%02d%s%c%02d:%02d", c.year, c.month, c.day,
		 rfc ? 'T' : ' ', c.hour, c.min, secs, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

static const char *schedule_zone(const struct profile *p)
{
	return p->tz ? tz_name(p->tz) : "UTC";
}

static json_t *schedule_json(const struct setting *s, const struct profile *p, int64_t a, int64_t b)
{
	char start[48], end[48], local[48];
	json_t *j = json_object();
	int r;

	if (!j)
		return NULL;
	schedule_time(start, sizeof(start), NULL, a, true);
	schedule_time(end, sizeof(end), NULL, b, true);
	schedule_time(local, sizeof(local), p->tz ? p->tz : NULL, a, true);
	r = output_set(j, "setting", output_string(s->name));
	r |= output_set(j, "start", json_string(start));
	r |= output_set(j, "start_local", json_string(local));
	r |= output_set(j, "end", json_string(end));
	r |= output_set(j, "zone", output_string(schedule_zone(p)));
	r |= output_set(j, "profile", output_string(p->name));
	r |= output_set(j, "kind", json_string(p->kind == PROFILE_FIXED ? "fixed" :
					       p->kind == PROFILE_RECURRING ? "recurring" : "default"));
	r |= output_set(j, "min_count", json_integer(p->min_count));
	r |= output_set(j, "max_count", json_integer(p->max_count));
	r |= output_set(j, "count", json_integer(p->count));
	if (r) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int schedule_row(struct table *t, const struct setting *s, const struct profile *p,
			int64_t a, int64_t b)
{
	char start[48], end[48], local[48];

	schedule_time(start, sizeof(start), NULL, a, false);
	schedule_time(end, sizeof(end), NULL, b, false);
	schedule_time(local, sizeof(local), p->tz, a, false);
	table_row(t);
	table_cell(t, s->name);
	table_cell(t, start);
	table_cellf(t, "%s %s", local, schedule_zone(p));
	table_cell(t, end);
	table_cell(t, p->name);
	table_cellf(t, "%u", p->min_count);
	table_cellf(t, "%u", p->max_count);
	return table_cellf(t, "%u", p->count);
}

/* Lists the intervals of every chosen setting; 0 or -errno. */
static int schedule_list(const struct engine_conf *conf, const struct schedule_opts *o, int si)
{
	int64_t until = o->from + (int64_t)o->days * 86400, a, b;
	struct table *t = NULL;
	json_t *list = NULL;
	size_t i;
	int r = 0;

	if (o->json) {
		list = json_array();
		if (!list)
			return -ENOMEM;
	} else {
		r = table_init(&t);
		if (r)
			return r;
		table_column(t, "SETTING", TABLE_LEFT);
		table_column(t, "START (UTC)", TABLE_LEFT);
		table_column(t, "START (LOCAL)", TABLE_LEFT);
		table_column(t, "END (UTC)", TABLE_LEFT);
		table_column(t, "PROFILE", TABLE_LEFT);
		table_column(t, "MIN", TABLE_RIGHT);
		table_column(t, "MAX", TABLE_RIGHT);
		table_column(t, "DEFAULT", TABLE_RIGHT);
	}
	for (i = 0; !r && i < conf->nsettings; i++) {
		const struct setting *s = &conf->settings[i];

		if (si >= 0 && (size_t)si != i)
			continue;
		for (a = o->from; !r && a < until; a = b) {
			const struct profile *p = &s->profiles[schedule_profile(s, a)];

			b = schedule_next_change(s, a, until);
			if (list)
				r = output_append(list, schedule_json(s, p, a, b));
			else
				schedule_row(t, s, p, a, b);
		}
	}
	if (!r)
		r = list ? output_json(stdout, list, OUTPUT_PRETTY) : table_print(t, stdout);
	json_decref(list);
	table_free(t);
	return r;
}

int schedule_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	struct check_report rep = { 0 };
	struct engine_conf *conf = NULL;
	struct schedule_opts o;
	int ret, r, si = -1;

	(void)ctx;
	ret = schedule_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	/* errors go to stderr, as FILE:LINE, even with --json */
	r = check_load(o.config, 0, &rep, &conf);
	if (r < 0) {
		if (r == -ENOMEM)
			log_err("out of memory");
		check_report_free(&rep);
		return r == -ENOMEM ? ASCTL_FAIL : ASCTL_USAGE;
	}
	check_report_free(&rep);
	if (o.setting) {
		si = setting_find(conf, o.setting);
		if (si < 0) {
			setting_conf_free(conf);
			return cli_usage_error(SCHEDULE_CMD, "--setting: no autoscale setting '%s' in %s",
					       o.setting, o.config);
		}
	}
	r = schedule_list(conf, &o, si);
	if (r < 0) {
		log_err("%s", r == -ENOMEM ? "out of memory" : "stdout: write error");
		ret = ASCTL_FAIL;
	} else {
		ret = ASCTL_OK;
	}
	setting_conf_free(conf);
	return ret;
}
