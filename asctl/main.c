/* main: asctl, the command-line client: global options and command dispatch */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "cli.h"
#include "history_cmd.h"
#include "log.h"
#include "metrics.h"
#include "simulate_cmd.h"
#include "stats.h"
#include "status.h"
#include "version.h"

int arm_export_main(const struct asctl_ctx *ctx, int argc, char **argv);	/* asctl/arm.c */
int arm_import_main(const struct asctl_ctx *ctx, int argc, char **argv);

int check_main(const struct asctl_ctx *ctx, int argc, char **argv);	/* asctl/check.c */
int schedule_main(const struct asctl_ctx *ctx, int argc, char **argv);	/* asctl/schedule.c */

/* One line a command; asctl --help lists them in this order. */
static const struct asctl_cmd asctl_commands[] = {
	{ "metrics", "the agent's latest samples and averages, from its ring (no daemon)", metrics_main },
	{ "status", "each setting's profile, count, rules and last decision, from ascoord", status_main },
	{ "agents", "every agent instance: live or stale, clock offset, latest values, from ascoord", agents_main },
	{ "stats", "the coordinator's counters: ingest, store, webhooks, control socket", stats_main },
	{ "history", "what ascoord did: scale actions with their reasons and outcomes (no daemon)", history_main },
	{ "export", "a configuration's autoscale settings as Azure autoscaleSettings JSON (--arm)", arm_export_main },
	{ "import", "Azure autoscaleSettings JSON (--arm FILE) as an ascale configuration", arm_import_main },
	{ "simulate", "replay a metric trace through the engine and print every event", simulate_main },
	{ "check", "validate a configuration and warn about rules and profiles that misbehave", check_main },
	{ "schedule", "which profile of each setting is in force when, over some days", schedule_main },
};

#define ASCTL_NCOMMANDS	(sizeof(asctl_commands) / sizeof(asctl_commands[0]))

static void asctl_usage(FILE *f)
{
	size_t i, w = 0;

	for (i = 0; i < ASCTL_NCOMMANDS; i++)
		if (strlen(asctl_commands[i].name) > w)
			w = strlen(asctl_commands[i].name);
	fputs("usage: asctl [--socket PATH] COMMAND [ARGS]\n"
	      "       asctl COMMAND --help\n"
	      "       asctl --version\n"
	      "\n"
	      "Controls and inspects ascale, the autoscaler.  Every command takes --json.\n"
	      "\n"
	      "commands:\n", f);
	for (i = 0; i < ASCTL_NCOMMANDS; i++)
		fprintf(f, "  %-*s  %s\n", (int)w, asctl_commands[i].name, asctl_commands[i].help);
	fputs("\n"
	      "options:\n"
	      "  -s, --socket PATH  the coordinator's control socket (default " ASCTL_SOCKET_DEFAULT ")\n"
	      "  -h, --help         show this help\n"
	      "  -V, --version      show the version\n"
	      "\n"
	      "Exit status: 0 ok, 1 runtime failure (ring missing, daemon down),\n"
	      "2 bad usage or input.\n", f);
}

static const struct asctl_cmd *asctl_find(const char *name)
{
	size_t i;

	for (i = 0; i < ASCTL_NCOMMANDS; i++)
		if (strcmp(asctl_commands[i].name, name) == 0)
			return &asctl_commands[i];
	return NULL;
}

/* "asctl help [COMMAND]" */
static int asctl_help(const struct asctl_ctx *ctx, int argc, char **argv)
{
	const struct asctl_cmd *cmd;
	char *args[3];

	if (argc < 2) {
		asctl_usage(stdout);
		return ASCTL_OK;
	}
	if (argc > 2)
		return cli_usage_error(NULL, "help: unexpected argument '%s'", argv[2]);
	cmd = asctl_find(argv[1]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	args[0] = (char *)cmd->name;
	args[1] = (char *)"--help";
	args[2] = NULL;
	return cmd->run(ctx, 2, args);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct asctl_ctx ctx = { .socket = ASCTL_SOCKET_DEFAULT };
	const struct asctl_cmd *cmd;
	int c;

	log_init("asctl", 0);
	opterr = 0;
	/* "+": stop at the command; what follows is the command's */
	while ((c = getopt_long(argc, argv, "+:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!*optarg)
				return cli_usage_error(NULL, "--socket: empty path");
			ctx.socket = optarg;
			break;
		case 'h':
			asctl_usage(stdout);
			return ASCTL_OK;
		case 'V':
			printf("asctl %s\n", ASCALE_VERSION);
			return ASCTL_OK;
		default:
			return cli_option_error(NULL, c, argv);
		}
	}
	if (optind >= argc) {
		asctl_usage(stderr);
		return ASCTL_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0)
		return asctl_help(&ctx, argc - optind, argv + optind);
	cmd = asctl_find(argv[optind]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
	return cmd->run(&ctx, argc - optind, argv + optind);
}
