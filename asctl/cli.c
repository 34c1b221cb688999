/* cli: what asctl's commands share: exit codes, global options, option errors */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "timeutil.h"

void cli_getopt_begin(void)
{
	optind = 0;	/* glibc: start over, including the scan state */
	opterr = 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cmd)
		log_err("%s: %s (see 'asctl %s --help')", cmd, buf, cmd);
	else
		log_err("%s (see 'asctl --help')", buf);
	return ASCTL_USAGE;
}

int cli_option_error(const char *cmd, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : NULL;
	int len;

	if (arg && strncmp(arg, "--", 2) == 0) {
		len = (int)strcspn(arg, "=");
		if (c == ':')
			return cli_usage_error(cmd, "option '%.*s' needs a value", len, arg);
		return cli_usage_error(cmd, "unknown option '%.*s'", len, arg);
	}
	if (c == ':')
		return cli_usage_error(cmd, "option '-%c' needs a value", optopt);
	if (optopt)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", arg ? arg : "?");
}

int cli_parse_duration(const char *cmd, const char *opt, const char *arg, int64_t *ns)
{
	int64_t v;

	if (duration_parse(arg, NSEC_PER_SEC, &v) < 0 || v <= 0)
		return cli_usage_error(cmd, "%s: '%s' is not a positive duration such as 1s, 500ms or 5m",
				       opt, arg);
	*ns = v;
	return 0;
}

int cli_parse_count(const char *cmd, const char *opt, const char *arg, uint64_t max, uint64_t *n)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < 1 || v > max)
		return cli_usage_error(cmd, "%s: '%s' is not a whole number from 1 to %llu",
				       opt, arg, (unsigned long long)max);
	*n = v;
	return 0;
}

int cli_json_options(const char *cmd, int argc, char **argv, void (*usage)(FILE *f),
		     int max_args, bool *json, int *first_arg)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = false;
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'h':
			usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(cmd, c, argv);
		}
	}
	if (argc - optind > max_args)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max_args]);
	*first_arg = optind;
	return -1;
}
