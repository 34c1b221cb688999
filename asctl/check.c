/* check: "asctl check", a configuration validated, then warned about */
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
#include "timeutil.h"

#define CHECK_CMD	"check"

int check_main(const struct asctl_ctx *ctx, int argc, char **argv);

struct check_opts {
	const char *config;
	bool json;
	bool strict;
	int64_t now;
};

static void check_usage(FILE *f)
{
	fputs("usage: asctl check --config FILE [--json] [--strict] [--now TIME]\n"
	      "\n"
	      "Validates an ascoord configuration (every error as FILE:LINE), then warns\n"
	      "about what is valid but will not behave as meant: scale-in rules that would\n"
	      "flap against scale-out rules, profiles that can only grow, profiles that\n"
	      "never apply, rules that can never act, windows shorter than a tick...\n"
	      "\n"
	      "  -c, --config FILE   the configuration (such as /etc/ascale/ascoord.conf)\n"
	      "      --json          a JSON list of findings: {severity, file, line,\n"
	      "                      setting, profile, rule, code, message}\n"
	      "      --strict        exit 1 when there are warnings\n"
	      "      --now TIME      judge dates against TIME (YYYY-MM-DD or RFC 3339)\n"
	      "                      instead of the clock\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "Exit status: 0 valid (warnings and notes are printed), 1 warnings with\n"
	      "--strict or a runtime failure, 2 bad usage or an invalid configuration.\n", f);
}

static int check_options(int argc, char **argv, struct check_opts *o)
{
	enum { OPT_JSON = 256, OPT_STRICT, OPT_NOW };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->now = time_real_ns() / NSEC_PER_SEC;
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!*optarg)
				return cli_usage_error(CHECK_CMD, "--config: empty path");
			o->config = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case OPT_NOW:
			if (schedule_parse_time(optarg, &o->now) < 0)
				return cli_usage_error(CHECK_CMD, "--now: '%s' is not YYYY-MM-DD or an RFC 3339 time such as 2026-03-08T09:00:00Z",
						       optarg);
			break;
		case 'h':
			check_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(CHECK_CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(CHECK_CMD, "unexpected argument '%s'", argv[optind]);
	if (!o->config)
		return cli_usage_error(CHECK_CMD, "--config FILE is required");
	return -1;
}

static json_t *check_finding_json(const char *file, const struct check_finding *f)
{
	json_t *j = json_object();
	int r;

	if (!j)
		return NULL;
	r = output_set(j, "severity", json_string(check_severity_name(f->severity)));
	r |= output_set(j, "file", output_string(file));
	r |= output_set(j, "line", f->line ? json_integer(f->line) : json_null());
	r |= output_set(j, "setting", f->setting[0] ? output_string(f->setting) : json_null());
	r |= output_set(j, "profile", f->profile[0] ? output_string(f->profile) : json_null());
	r |= output_set(j, "rule", f->rule[0] ? output_string(f->rule) : json_null());
	r |= output_set(j, "code", json_string(f->code));
	r |= output_set(j, "message", output_string(f->message));
	if (r) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int check_print_json(const char *file, const struct check_report *rep)
{
	json_t *list = json_array();
	size_t i;
	int r = list ? 0 : -ENOMEM;

	for (i = 0; !r && i < rep->n; i++)
		r = output_append(list, check_finding_json(file, &rep->f[i]));
	if (!r)
		r = output_json(stdout, list, OUTPUT_PRETTY);
	json_decref(list);
	return r;
}

/* One line a finding: FILE:LINE: severity: [setting/profile/rule] message */
static int check_print_text(const char *file, const struct check_report *rep, size_t nsettings)
{
	char where[3 * SETTING_NAME_MAX + 8], text[sizeof(rep->f->message)], path[512];
	size_t i;

	output_sanitize(path, sizeof(path), file);
	for (i = 0; i < rep->n; i++) {
		const struct check_finding *f = &rep->f[i];

		output_sanitize(text, sizeof(text), f->message);
		snprintf(where, sizeof(where), "%s%s%s%s%s", f->setting,
			 f->profile[0] ? "/" : "", f->profile, f->rule[0] ? "/" : "", f->rule);
		if (f->line)
			printf("%s:%u: %s: %s%s%s\n", path, f->line, check_severity_name(f->severity),
			       where[0] ? where : "", where[0] ? ": " : "", text);
		else
			printf("%s: %s: %s\n", path, check_severity_name(f->severity), text);
	}
	printf("%s: valid: %zu setting%s, %zu warning%s, %zu note%s\n", path,
	       nsettings, nsettings == 1 ? "" : "s", rep->warnings, rep->warnings == 1 ? "" : "s",
	       rep->notes, rep->notes == 1 ? "" : "s");
	return fflush(stdout) == EOF ? -EIO : 0;
}

int check_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	struct check_report rep = { 0 };
	struct engine_conf *conf = NULL;
	struct check_opts o;
	int ret, r;

	(void)ctx;
	ret = check_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	r = check_load(o.config, CHECK_LOAD_NOTE_KEYS | (o.json ? CHECK_LOAD_COLLECT : 0), &rep, &conf);
	if (r == -ENOMEM) {
		log_err("out of memory");
		check_report_free(&rep);
		return ASCTL_FAIL;
	}
	if (r < 0) {
		/* the loader reported each error (or they are in rep, for JSON) */
		if (o.json && check_print_json(o.config, &rep) < 0)
			log_err("stdout: %s", strerror(EIO));
		check_report_free(&rep);
		return ASCTL_USAGE;
	}
	if (check_conf(conf, o.now, &rep) < 0) {
		log_err("out of memory");
		ret = ASCTL_FAIL;
	} else {
		r = o.json ? check_print_json(o.config, &rep) :
		    check_print_text(o.config, &rep, conf->nsettings);
		if (r < 0) {
			log_err("stdout: %s", strerror(-r));
			ret = ASCTL_FAIL;
		} else {
			ret = o.strict && rep.warnings ? ASCTL_FAIL : ASCTL_OK;
		}
	}
	setting_conf_free(conf);
	check_report_free(&rep);
	return ret;
}
