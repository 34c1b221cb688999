/* cli: what asctl's commands share: exit codes, global options, option errors */
#ifndef ASCTL_CLI_H
#define ASCTL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* exit codes */
enum {
	ASCTL_OK = 0,
	ASCTL_FAIL = 1,		/* a runtime failure: ring missing, daemon down */
	ASCTL_USAGE = 2,	/* bad usage or bad input */
};

#define ASCTL_SOCKET_DEFAULT	"/run/ascale/ascoord.sock"

/* The global options, given to every command. */
struct asctl_ctx {
	const char *socket;	/* the coordinator's control socket */
};

/*
 * One command.  run gets argv[0] = the command's name and its own options;
 * it prints its usage on --help and returns an exit code.
 */
struct asctl_cmd {
	const char *name;
	const char *help;	/* one line for asctl --help */
	int (*run)(const struct asctl_ctx *ctx, int argc, char **argv);
};

/* Resets getopt for a command's own options; messages come from cli_option_error. */
void cli_getopt_begin(void);

/*
 * Reports what getopt_long returned for a bad option of cmd (NULL: asctl's
 * own; c is '?' or ':', with ":" leading optstring) and returns ASCTL_USAGE.
 */
int cli_option_error(const char *cmd, int c, char **argv);

/* Reports a usage error of cmd ("asctl: CMD: ..."; NULL: asctl's own) and returns ASCTL_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The options of a command that asks the coordinator: --json, --help, and
 * at most max_args arguments, which *first_arg indexes in argv afterwards.
 * Returns -1 to go on, or an exit code (after --help or a usage error).
 */
int cli_json_options(const char *cmd, int argc, char **argv, void (*usage)(FILE *f),
		     int max_args, bool *json, int *first_arg);

/* A positive duration ("1s", "500ms", a bare number in seconds); 0 or ASCTL_USAGE, reported. */
int cli_parse_duration(const char *cmd, const char *opt, const char *arg, int64_t *ns);

/* A count from 1 to max; 0 or ASCTL_USAGE, reported. */
int cli_parse_count(const char *cmd, const char *opt, const char *arg, uint64_t max, uint64_t *n);

#endif
