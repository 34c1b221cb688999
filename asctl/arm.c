/* arm: "asctl export --arm" and "asctl import --arm", Azure autoscale JSON to and from our INI */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "arm.h"
#include "cli.h"
#include "log.h"
#include "output.h"
#include "setting.h"
#include "setting_write.h"
#include "tz.h"

#define ARM_CONFIG_DEFAULT	"/etc/ascale/ascoord.conf"

int arm_export_main(const struct asctl_ctx *ctx, int argc, char **argv);
int arm_import_main(const struct asctl_ctx *ctx, int argc, char **argv);

enum { OPT_ARM = 256, OPT_JSON, OPT_SETTING, OPT_SUB, OPT_RG, OPT_WS, OPT_LOC };

static void export_usage(FILE *f)
{
	fputs("usage: asctl export --arm [--config FILE] [--setting NAME] [--subscription ID]\n"
	      "                    [--resource-group NAME] [--workspace NAME] [--location NAME]\n"
	      "\n"
	      "Prints the autoscale settings of a configuration as Azure Monitor\n"
	      "Microsoft.Insights/autoscaleSettings resources (api " ARM_API_VERSION "), indented JSON:\n"
	      "one object for one setting, else an array.  Recurring profiles come with the\n"
	      "auto-created default profile that ends them, as the Azure portal writes it;\n"
	      "what Azure has no field for is kept in \"ascale:\" tags (see docs/arm.md).\n"
	      "\n"
	      "      --arm                 the Azure Resource Manager format (required)\n"
	      "  -c, --config FILE         the configuration (default " ARM_CONFIG_DEFAULT ")\n"
	      "      --setting NAME        only this autoscale setting (an object)\n"
	      "      --subscription ID     for the resource ids (default all zeros)\n"
	      "      --resource-group NAME for the resource ids (default ascale)\n"
	      "      --workspace NAME      the Azure ML workspace (default ascale)\n"
	      "      --location NAME       the resources' location (default [resourceGroup().location])\n"
	      "      --json                accepted: the output is JSON already\n"
	      "  -h, --help                show this help\n"
	      "\n"
	      "Exit status: 0 ok, 2 bad usage or a bad configuration.\n", f);
}

static void import_usage(FILE *f)
{
	fputs("usage: asctl import --arm FILE [-o OUT] [--json]\n"
	      "\n"
	      "Turns Azure autoscale settings JSON (an ARM resource or template, the output\n"
	      "of `az monitor autoscale show`, or an array of them; FILE - is stdin) into an\n"
	      "ascale configuration: [autoscale], [profile] and [rule] sections.  The\n"
	      "portal's auto-created default profiles are folded into the end of the\n"
	      "recurring profiles they follow (see docs/arm.md).\n"
	      "\n"
	      "      --arm         the Azure Resource Manager format (required)\n"
	      "  -o, --output OUT  write the configuration to OUT instead of stdout\n"
	      "      --json        print {\"source\", \"target\", \"settings\", \"config\"} instead\n"
	      "  -h, --help        show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 OUT cannot be written, 2 bad usage or bad input\n"
	      "(the message names the JSON path).\n", f);
}

static int set_id(const char *cmd, const char *opt, const char *arg, char *out, size_t len)
{
	if (!*arg || strlen(arg) >= len || strpbrk(arg, "/\"\\"))
		return cli_usage_error(cmd, "%s: expected a name of 1 to %zu characters without '/', not '%s'",
				       opt, len - 1, arg);
	snprintf(out, len, "%s", arg);
	return 0;
}

/* Daemon and backend keys are not the engine's: export takes the engine's model only. */
static int export_other_key(struct conf_ctx *c, const char *setting, const char *key,
			    const char *value, void *user)
{
	(void)c;
	(void)setting;
	(void)key;
	(void)value;
	(void)user;
	return 0;
}

/* Indented JSON, with short numbers when they read back the same. */
static int arm_print(FILE *f, const json_t *j)
{
	size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
	json_t *back;
	char *text;
	int r;

	text = json_dumps(j, flags | JSON_REAL_PRECISION(15));
	back = text ? json_loads(text, 0, NULL) : NULL;
	if (!back || !json_equal(back, j)) {
		free(text);
		text = json_dumps(j, flags);
	}
	json_decref(back);
	if (!text)
		return -ENOMEM;
	r = fputs(text, f) == EOF || fputc('\n', f) == EOF || fflush(f) == EOF ? -EIO : 0;
	free(text);
	return r;
}

int arm_export_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	static const char cmd[] = "export";
	static const struct option longopts[] = {
		{ "arm", no_argument, NULL, OPT_ARM },
		{ "config", required_argument, NULL, 'c' },
		{ "setting", required_argument, NULL, OPT_SETTING },
		{ "subscription", required_argument, NULL, OPT_SUB },
		{ "resource-group", required_argument, NULL, OPT_RG },
		{ "workspace", required_argument, NULL, OPT_WS },
		{ "location", required_argument, NULL, OPT_LOC },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = ARM_CONFIG_DEFAULT, *only = NULL;
	struct engine_conf *conf;
	struct arm_target t;
	bool arm = false;
	json_t *j;
	int c, r;

	(void)ctx;
	arm_target_default(&t);
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ARM:
			arm = true;
			break;
		case 'c':
			if (!*optarg)
				return cli_usage_error(cmd, "--config: empty path");
			config = optarg;
			break;
		case OPT_SETTING:
			only = optarg;
			break;
		case OPT_SUB:
			if (set_id(cmd, "--subscription", optarg, t.subscription, sizeof(t.subscription)))
				return ASCTL_USAGE;
			break;
		case OPT_RG:
			if (set_id(cmd, "--resource-group", optarg, t.resource_group, sizeof(t.resource_group)))
				return ASCTL_USAGE;
			break;
		case OPT_WS:
			if (set_id(cmd, "--workspace", optarg, t.workspace, sizeof(t.workspace)))
				return ASCTL_USAGE;
			break;
		case OPT_LOC:
			if (set_id(cmd, "--location", optarg, t.location, sizeof(t.location)))
				return ASCTL_USAGE;
			break;
		case OPT_JSON:
			break;
		case 'h':
			export_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(cmd, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!arm)
		return cli_usage_error(cmd, "expected --arm (the only export format)");
	if (setting_conf_load(config, export_other_key, NULL, &conf) < 0)
		return ASCTL_USAGE;	/* reported as FILE:LINE */
	r = arm_export(conf, only, &t, &j);
	if (r == -ENOENT)
		log_err("%s: no autoscale setting named '%s'", config, only);
	else if (r < 0)
		log_err("export: out of memory");
	setting_conf_free(conf);
	if (r < 0)
		return r == -ENOENT ? ASCTL_USAGE : ASCTL_FAIL;
	r = arm_print(stdout, j);
	json_decref(j);
	if (r < 0) {
		log_err("export: cannot write the output: %s", strerror(-r));
		return ASCTL_FAIL;
	}
	return ASCTL_OK;
}

static json_t *import_summary(const char *src, const struct engine_conf *conf,
			      const struct arm_target *t, const char *text)
{
	json_t *names = json_array(), *cfg, *j;
	size_t i;

	cfg = json_string(text);	/* lines and all: valid UTF-8, as the JSON it came from */
	if (!cfg)
		cfg = output_string(text);

	for (i = 0; names && i < conf->nsettings; i++)
		json_array_append_new(names, output_string(conf->settings[i].name));
	j = json_pack("{s:o, s:{s:o, s:o, s:o, s:o}, s:o, s:o}",
		      "source", output_string(src),
		      "target", "subscription", output_string(t->subscription),
		      "resource_group", output_string(t->resource_group),
		      "workspace", output_string(t->workspace),
		      "location", output_string(t->location),
		      "settings", names, "config", cfg);
	return j;
}

/* Writes the configuration with a header that says how to export it back. */
static int import_write(FILE *f, const char *src, const struct arm_target *t, const char *text)
{
	char clean[512];

	output_sanitize(clean, sizeof(clean), src);
	if (fprintf(f, "; imported by asctl import --arm from %s\n"
		    "; export back with: asctl export --arm --subscription %s --resource-group %s --workspace %s --location %s\n",
		    clean, t->subscription, t->resource_group, t->workspace, t->location) < 0 ||
	    fputs(text, f) == EOF || fflush(f) == EOF)
		return -EIO;
	return 0;
}

/* The written text must load back: checked through a temporary file. */
static int import_check(const char *text)
{
	char path[] = "/tmp/asctl-import-XXXXXX";
	struct engine_conf *conf = NULL;
	FILE *f;
	int fd, r;

	fd = mkstemp(path);
	if (fd < 0)
		return 0;	/* nowhere to check: the unit tests cover it */
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return 0;
	}
	r = fputs(text, f) == EOF ? -EIO : 0;
	if (fclose(f) != 0)
		r = -EIO;
	if (!r)
		r = setting_conf_load(path, NULL, NULL, &conf);
	unlink(path);
	setting_conf_free(conf);
	return r == -EIO ? 0 : r;
}

int arm_import_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	static const char cmd[] = "import";
	static const struct option longopts[] = {
		{ "arm", no_argument, NULL, OPT_ARM },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *in, *out = NULL;
	struct engine_conf *conf;
	struct arm_target t;
	json_error_t jerr;
	char err[512], *text = NULL;
	bool arm = false, json = false;
	json_t *root, *summary;
	FILE *f;
	int c, r;

	(void)ctx;
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ARM:
			arm = true;
			break;
		case 'o':
			if (!*optarg)
				return cli_usage_error(cmd, "--output: empty path");
			out = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			import_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(cmd, c, argv);
		}
	}
	if (!arm)
		return cli_usage_error(cmd, "expected --arm FILE (the only import format)");
	if (optind >= argc)
		return cli_usage_error(cmd, "expected the JSON file to import (- for stdin)");
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	in = argv[optind];
	if (strcmp(in, "-") == 0)
		root = json_loadf(stdin, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	else
		root = json_load_file(in, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		output_sanitize(err, sizeof(err), jerr.text);
		if (jerr.line > 0)
			log_err("%s: line %d column %d: expected JSON: %s", in, jerr.line, jerr.column, err);
		else
			log_err("%s: %s", in, err);
		return ASCTL_USAGE;
	}
	r = arm_import(root, in, &conf, &t);
	json_decref(root);
	if (r < 0)
		return r == -ENOMEM ? ASCTL_FAIL : ASCTL_USAGE;
	r = setting_write_string(conf, &text, err, sizeof(err));
	if (r < 0) {
		log_err("%s: cannot be written as an ascale configuration: %s", in, err);
	} else if (import_check(text) < 0) {
		log_err("%s: the configuration written from it does not load (above): please report this", in);
		r = -EINVAL;
	}
	if (r < 0) {
		setting_conf_free(conf);
		free(text);
		return r == -ENOMEM ? ASCTL_FAIL : ASCTL_USAGE;
	}
	f = out ? fopen(out, "w") : stdout;
	if (!f) {
		log_err("%s: %s", out, strerror(errno));
		r = -errno;
	} else if (json) {
		summary = import_summary(in, conf, &t, text);
		r = summary ? output_json(f, summary, OUTPUT_PRETTY) : -ENOMEM;
		json_decref(summary);
	} else {
		r = import_write(f, in, &t, text);
	}
	if (f && out && fclose(f) != 0 && !r)
		r = -EIO;
	if (f && r < 0)
		log_err("%s: cannot write: %s", out ? out : "stdout", strerror(-r));
	setting_conf_free(conf);
	free(text);
	tz_cleanup();
	return r < 0 ? ASCTL_FAIL : ASCTL_OK;
}
