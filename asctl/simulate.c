/* simulate: "asctl simulate", a metric trace replayed through the engine on trace time */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decision.h"
#include "log.h"
#include "setting.h"
#include "simulate.h"
#include "simulate_cmd.h"
#include "table.h"
#include "timeutil.h"
#include "trace.h"

#define SIM_CMD		"simulate"

struct sim_opts {
	const char *config, *trace;
	bool json;
	struct simulate_opts o;
};

struct sim_out {
	bool json;
	struct table *table;
	int err;
};

static void sim_usage(FILE *f)
{
	fputs("usage: asctl simulate --config FILE --trace FILE [--setting NAME] [--count N]\n"
	      "                      [--from TIME] [--until TIME] [--json]\n"
	      "\n"
	      "Replays a metric trace through the engine (the daemon's own code) and prints\n"
	      "every event: profile changes, metrics missing and recovered, scale actions\n"
	      "(cause rule, clamp or missing) and flapping.  Ticks run every evaluate_every,\n"
	      "on its multiples, from the first sample (or --from) to the last (or --until);\n"
	      "the simulated endpoint takes each new count at once.\n"
	      "\n"
	      "The trace is CSV: a header with time, instance, metric and value, and optional\n"
	      "deployment, endpoint and label columns, in any order; time is RFC 3339 or Unix\n"
	      "seconds; '#' lines are comments.  Samples come in time order (any order within\n"
	      "one tick).\n"
	      "\n"
	      "  -c, --config FILE   the configuration (daemon-only keys are ignored)\n"
	      "  -t, --trace FILE    the trace ('-' for standard input)\n"
	      "  -s, --setting NAME  only this autoscale setting (default: all)\n"
	      "  -n, --count N       the starting count (default: the profile's default)\n"
	      "      --from TIME     the first tick at or after TIME (RFC 3339 or Unix seconds)\n"
	      "      --until TIME    the last tick at or before TIME\n"
	      "      --json          one JSON object a line for each event, and nothing else\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 runtime failure, 2 bad usage, configuration or trace\n"
	      "(reported as FILE:LINE: what was expected).\n", f);
}

/* Daemon and backend keys belong to ascoord: the simulation has no use for them. */
static int sim_ignore_key(struct conf_ctx *c, const char *setting, const char *key,
			  const char *value, void *user)
{
	(void)c;
	(void)setting;
	(void)key;
	(void)value;
	(void)user;
	return 0;
}

static int sim_time(const char *opt, const char *arg, int64_t *ns)
{
	if (trace_parse_time(arg, strlen(arg), ns) < 0)
		return cli_usage_error(SIM_CMD, "%s: '%s' is not a time such as 2026-01-05T10:00:00Z or Unix seconds",
				       opt, arg);
	return 0;
}

/* Parses the command line into o; returns -1 to go on, or an exit code. */
static int sim_options(int argc, char **argv, struct sim_opts *o)
{
	enum { OPT_JSON = 256, OPT_FROM, OPT_UNTIL };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "trace", required_argument, NULL, 't' },
		{ "setting", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, "+:c:t:s:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 't':
			if (!*optarg)
				return cli_usage_error(SIM_CMD, "--%s: empty path", c == 'c' ? "config" : "trace");
			*(c == 'c' ? &o->config : &o->trace) = optarg;
			break;
		case 's':
			o->o.setting = optarg;
			break;
		case 'n':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v > COUNT_MAX)
				return cli_usage_error(SIM_CMD, "--count: '%s' is not a whole number from 0 to %d",
						       optarg, COUNT_MAX);
			o->o.count = (unsigned)v;
			o->o.has_count = true;
			break;
		case OPT_FROM:
			if (sim_time("--from", optarg, &o->o.from_ns))
				return ASCTL_USAGE;
			o->o.has_from = true;
			break;
		case OPT_UNTIL:
			if (sim_time("--until", optarg, &o->o.until_ns))
				return ASCTL_USAGE;
			o->o.has_until = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			sim_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(SIM_CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(SIM_CMD, "unexpected argument '%s'", argv[optind]);
	if (!o->config || !o->trace)
		return cli_usage_error(SIM_CMD, "expected --config FILE and --trace FILE");
	if (o->o.has_from && o->o.has_until && o->o.until_ns < o->o.from_ns)
		return cli_usage_error(SIM_CMD, "--until is before --from");
	return -1;
}

/* One table row: TIME, SETTING, PROFILE, EVENT, FROM→TO, RULE, REASON. */
static void sim_row(struct table *t, const struct engine_conf *conf, const struct decision *d,
		    const char *event, const char *change, const char *rule, const char *reason)
{
	const struct setting *s = &conf->settings[d->setting];
	char when[40];

	table_row(t);
	table_cell(t, time_format_rfc3339(d->time_ns, when, sizeof(when)));
	table_cell(t, s->name);
	table_cell(t, s->profiles[d->profile].name);
	table_cell(t, event);
	table_cell(t, change);
	table_cell(t, rule);
	table_cell(t, reason);
}

/* The human form of a tick's events, in the order decision_print_events gives them. */
static void sim_table(struct table *t, const struct engine_conf *conf, const struct decision *d)
{
	const struct setting *s = &conf->settings[d->setting];
	const struct profile *p = &s->profiles[d->profile];
	const char *rule = d->rule >= 0 ? p->rules[d->rule].name : NULL;
	char text[600], change[32];
	size_t off = 0;
	unsigned i;

	if (d->events & EV_PROFILE) {
		snprintf(text, sizeof(text), "min %u, max %u, default %u%s%s", p->min_count,
			 p->max_count, p->count, d->prev_profile >= 0 ? "; was " : "",
			 d->prev_profile >= 0 ? s->profiles[d->prev_profile].name : "");
		sim_row(t, conf, d, "profile", NULL, NULL, text);
	}
	if (d->events & EV_MISSING) {
		text[0] = '\0';
		for (i = 0; i < d->nrules && off < sizeof(text); i++)
			if (d->rules[i].state == RS_MISSING)
				off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%s",
							off ? ", " : "no data in the window of ",
							p->rules[i].name);
		sim_row(t, conf, d, "metrics_missing", NULL, NULL, text);
	}
	if (d->events & EV_RECOVERED)
		sim_row(t, conf, d, "metrics_recovered", NULL, NULL, "every rule has data again");
	if (d->events & EV_SCALE) {
		snprintf(change, sizeof(change), "%u→%u", d->before, d->after);
		snprintf(text, sizeof(text), "%s", d->reason);
		sim_row(t, conf, d, d->disabled ? "scale (dry run)" : d->cause == CAUSE_CLAMP ? "scale (clamp)" :
			d->cause == CAUSE_MISSING ? "scale (missing)" : "scale", change,
			d->cause == CAUSE_RULE ? rule : NULL, text);
	}
	if (d->events & EV_FLAPPING) {
		snprintf(change, sizeof(change), "%u→%u", d->before, d->wanted);
		sim_row(t, conf, d, "flapping", change, rule, d->reason);
	}
}

static int sim_event(const struct engine_conf *conf, const struct decision *d, void *user)
{
	struct sim_out *out = user;

	if (out->json) {
		decision_print_events(conf, d, true, stdout);
		if (ferror(stdout))
			return out->err = -EIO;
		return 0;
	}
	sim_table(out->table, conf, d);
	return 0;
}

static int sim_summary(const struct simulate *sim)
{
	const struct engine_conf *conf = simulate_conf(sim);
	const struct simulate_stats *st = simulate_stats(sim);
	size_t i;

	printf("%llu ticks, %llu scale action%s, %llu samples; final count",
	       (unsigned long long)st->ticks, (unsigned long long)st->scales, st->scales == 1 ? "" : "s",
	       (unsigned long long)st->rows);
	if (conf->nsettings == 1)
		printf(" %u", simulate_count(sim, 0));
	for (i = 0; conf->nsettings > 1 && i < conf->nsettings; i++)
		printf("%s %s=%u", i ? "," : "", conf->settings[i].name, simulate_count(sim, i));
	if (st->late)
		printf("; %llu samples came too late for their grain and were dropped",
		       (unsigned long long)st->late);
	putchar('\n');
	return fflush(stdout) == EOF ? -EIO : 0;
}

static int sim_table_init(struct table **t)
{
	static const char *const heads[] = { "TIME", "SETTING", "PROFILE", "EVENT", "FROM→TO", "RULE", "REASON" };
	size_t i;
	int r = table_init(t);

	for (i = 0; r == 0 && i < sizeof(heads) / sizeof(heads[0]); i++)
		r = table_column(*t, heads[i], i == 4 ? TABLE_RIGHT : TABLE_LEFT);
	return r;
}

int simulate_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	struct engine_conf *conf = NULL;
	struct simulate *sim = NULL;
	struct trace *trace = NULL;
	struct sim_out out = { 0 };
	struct sim_opts o;
	int r, ret;

	(void)ctx;
	ret = sim_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	out.json = o.json;
	ret = ASCTL_USAGE;
	if (setting_conf_load(o.config, sim_ignore_key, NULL, &conf) < 0)
		goto done;	/* reported as FILE:LINE by the loader */
	r = simulate_new(conf, &o.o, &sim);
	if (r == -ENOENT) {
		cli_usage_error(SIM_CMD, "--setting: %s has no [autoscale %s]", o.config, o.o.setting);
		goto done;
	}
	if (r < 0) {
		log_err("simulate: cannot start: %s", strerror(-r));
		ret = ASCTL_FAIL;
		goto done;
	}
	if (trace_open(o.trace, &trace) < 0)
		goto done;	/* reported by the reader */
	if (!out.json && sim_table_init(&out.table) < 0) {
		log_err("simulate: out of memory");
		ret = ASCTL_FAIL;
		goto done;
	}
	r = simulate_run(sim, trace, sim_event, &out);
	if (r == -EINVAL || r == -ENOSPC)
		goto done;	/* the trace, reported with its line */
	if (r < 0) {
		if (r != out.err)
			log_err("simulate: %s", strerror(-r));
		else
			log_err("simulate: cannot write the output");
		ret = ASCTL_FAIL;
		goto done;
	}
	ret = ASCTL_OK;
	if (!out.json) {
		if (table_print(out.table, stdout) < 0 || sim_summary(sim) < 0) {
			log_err("simulate: cannot write the output");
			ret = ASCTL_FAIL;
		}
	} else if (fflush(stdout) == EOF) {
		log_err("simulate: cannot write the output");
		ret = ASCTL_FAIL;
	}
done:
	table_free(out.table);
	trace_close(trace);
	simulate_free(sim);
	setting_conf_free(conf);
	return ret;
}
