/* history: "asctl history", what the coordinator did, read from its history file (no daemon) */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "history.h"		/* coordinator/history.h: history_read() */
#include "history_cmd.h"
#include "history_render.h"
#include "log.h"
#include "output.h"
#include "schedule.h"
#include "timeutil.h"
#include "trace.h"

#define HIST_CMD		"history"
#define HIST_DIR_DEFAULT	"/var/lib/ascale"
#define HIST_LAST_DEFAULT	20		/* rows of the table without -n */
#define HIST_LAST_MAX		1000000000ULL

/* The events ascoord writes, in docs/state.md's order; --event takes these. */
static const char *const hist_kinds[] = {
	"scale", "flapping", "metrics_missing", "metrics_recovered", "profile", "api_failure",
	"external_change",
};

#define HIST_NKINDS	(sizeof(hist_kinds) / sizeof(hist_kinds[0]))
#define HIST_KINDS_TEXT	"scale, flapping, metrics_missing, metrics_recovered, profile, api_failure, external_change"

struct hist_opts {
	const char *dir;
	const char *setting;	/* NULL: every setting */
	const char *id;		/* NULL: a list */
	unsigned events;	/* bit i: hist_kinds[i]; 0: every event */
	bool has_since;
	int64_t since_ns;	/* CLOCK_REALTIME */
	uint64_t last;		/* -n; 0: not given */
	bool json;
};

/* What history_read gives, filtered: streamed, or the last max records kept in a ring. */
struct hist_run {
	const struct hist_opts *o;
	size_t max;		/* 0: stream to stdout as JSON lines */
	json_t **ring;
	size_t cap, n, head;	/* head: the oldest once the ring is full */
	uint64_t seen, matched;
	int err;		/* ours, as returned through history_read */
};

static void hist_usage(FILE *f)
{
	fputs("usage: asctl history [--state-dir DIR] [--setting NAME] [--event KIND[,KIND]]\n"
	      "                     [--since D|TIME] [-n N] [--id ID] [--json]\n"
	      "\n"
	      "Shows what the coordinator did, read straight from its history file\n"
	      "(DIR/history.jsonl and its rotated files, oldest first; no daemon is needed):\n"
	      "scale actions with their rule, reason and outcome, flapping, metrics missing\n"
	      "and recovered, profile changes, failed count reads, and counts changed outside\n"
	      "ascale.  The table shows the time, setting, event, the count from and to, the\n"
	      "outcome, the rule (or cause) and the reason (for a failed call, the API's\n"
	      "message), cut to the terminal's width (COLUMNS, or 100 off a terminal).\n"
	      "\n"
	      "      --state-dir DIR  ascoord's state_dir (default " HIST_DIR_DEFAULT ")\n"
	      "  -S, --setting NAME   only this autoscale setting\n"
	      "  -e, --event KIND     only these events (repeat it, or KIND,KIND): scale,\n"
	      "                       flapping, metrics_missing, metrics_recovered, profile,\n"
	      "                       api_failure, external_change\n"
	      "      --since D|TIME   only records of the last D (30m, 1h, 2d) or from TIME on\n"
	      "                       (RFC 3339 such as 2026-01-05T10:00:00Z, or YYYY-MM-DD)\n"
	      "  -n, --last N         the last N records that match (default 20 in the table,\n"
	      "                       all with --json or --id)\n"
	      "      --id ID          the record with this correlation id, in full: every\n"
	      "                       field, the reason, and each rule's observed value\n"
	      "                       against its threshold at the decision\n"
	      "      --json           the records as they are, one JSON object a line\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Exit status: 0 ok (no history yet included), 1 the directory or a history\n"
	      "file cannot be read, or no record has the --id, 2 bad usage.\n", f);
}

/* ---- options ---- */

/* Adds the kinds of a comma-separated list to *mask; 0 or ASCTL_USAGE, reported. */
static int hist_parse_events(const char *arg, unsigned *mask)
{
	const char *p = arg, *end;
	size_t len, i;

	for (;;) {
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < HIST_NKINDS; i++)
			if (strlen(hist_kinds[i]) == len && strncmp(hist_kinds[i], p, len) == 0)
				break;
		if (i == HIST_NKINDS)
			return cli_usage_error(HIST_CMD, "--event: '%.*s' is not one of " HIST_KINDS_TEXT,
					       (int)(len > 64 ? 64 : len), p);
		*mask |= 1u << i;
		if (!end)
			return 0;
		p = end + 1;
	}
}

/* A duration back from now, an RFC 3339 time or a date; 0 or ASCTL_USAGE, reported. */
static int hist_parse_since(const char *arg, int64_t *since_ns)
{
	int64_t v;

	/* a bare number is a duration in seconds, as with asctl metrics --since */
	if (strspn(arg, "0123456789.") == strlen(arg) || duration_parse(arg, NSEC_PER_SEC, &v) == 0) {
		if (duration_parse(arg, NSEC_PER_SEC, &v) < 0 || v <= 0)
			return cli_usage_error(HIST_CMD, "--since: '%s' is not a positive duration such as 30m, 1h or 2d",
					       arg);
		*since_ns = time_real_ns() - v;
		return 0;
	}
	if (trace_parse_time(arg, strlen(arg), &v) == 0) {
		*since_ns = v;
		return 0;
	}
	if (schedule_parse_time(arg, &v) == 0 && v <= INT64_MAX / NSEC_PER_SEC && v >= 0) {
		*since_ns = v * NSEC_PER_SEC;
		return 0;
	}
	return cli_usage_error(HIST_CMD, "--since: '%s' is neither a duration such as 1h nor a time such as "
			       "2026-01-05T10:00:00Z or 2026-01-05", arg);
}

/* Parses the command line into o; returns -1 to go on, or an exit code. */
static int hist_options(int argc, char **argv, struct hist_opts *o)
{
	enum { OPT_JSON = 256, OPT_STATE_DIR, OPT_SINCE, OPT_ID };
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "setting", required_argument, NULL, 'S' },
		{ "event", required_argument, NULL, 'e' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "last", required_argument, NULL, 'n' },
		{ "id", required_argument, NULL, OPT_ID },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->dir = HIST_DIR_DEFAULT;
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, "+:S:e:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			if (!*optarg)
				return cli_usage_error(HIST_CMD, "--state-dir: empty path");
			o->dir = optarg;
			break;
		case 'S':
			if (!*optarg)
				return cli_usage_error(HIST_CMD, "--setting: empty name");
			o->setting = optarg;
			break;
		case 'e':
			if (hist_parse_events(optarg, &o->events))
				return ASCTL_USAGE;
			break;
		case OPT_SINCE:
			if (hist_parse_since(optarg, &o->since_ns))
				return ASCTL_USAGE;
			o->has_since = true;
			break;
		case 'n':
			if (cli_parse_count(HIST_CMD, "--last", optarg, HIST_LAST_MAX, &o->last))
				return ASCTL_USAGE;
			break;
		case OPT_ID:
			if (!*optarg)
				return cli_usage_error(HIST_CMD, "--id: empty id");
			o->id = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			hist_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(HIST_CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(HIST_CMD, "unexpected argument '%s'", argv[optind]);
	return -1;
}

/* ---- reading and filtering ---- */

/* A string field of a record, or NULL when absent or not a string. */
static const char *hist_str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

static bool hist_match(const struct hist_opts *o, const json_t *rec)
{
	const char *s;
	int64_t t;
	size_t i;

	if (o->id && (!(s = hist_str(rec, "id")) || strcmp(s, o->id) != 0))
		return false;
	if (o->setting && (!(s = hist_str(rec, "setting")) || strcmp(s, o->setting) != 0))
		return false;
	if (o->events) {
		s = hist_str(rec, "event");
		for (i = 0; s && i < HIST_NKINDS && strcmp(s, hist_kinds[i]) != 0; i++)
			;
		if (!s || i == HIST_NKINDS || !(o->events & 1u << i))
			return false;
	}
	if (o->has_since) {
		/* a record without a time that reads is not known to be recent */
		s = hist_str(rec, "time");
		if (!s || trace_parse_time(s, strlen(s), &t) < 0 || t < o->since_ns)
			return false;
	}
	return true;
}

/* Keeps rec as the newest of the last h->max; 0 or -ENOMEM. */
static int hist_keep(struct hist_run *h, const json_t *rec)
{
	json_t **grown;
	size_t cap;

	if (h->n < h->max) {
		if (h->n == h->cap) {
			cap = h->cap ? h->cap * 2 : 64;
			if (cap > h->max || cap > SIZE_MAX / sizeof(*grown))
				cap = h->max < SIZE_MAX / sizeof(*grown) ? h->max : SIZE_MAX / sizeof(*grown);
			if (cap <= h->cap)
				return -ENOMEM;
			grown = realloc(h->ring, cap * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			h->ring = grown;
			h->cap = cap;
		}
		h->ring[h->n++] = json_incref((json_t *)rec);
		return 0;
	}
	json_decref(h->ring[h->head]);
	h->ring[h->head] = json_incref((json_t *)rec);
	h->head = (h->head + 1) % h->n;
	return 0;
}

/* The i-th record kept, oldest first. */
static const json_t *hist_at(const struct hist_run *h, size_t i)
{
	return h->ring[(h->head + i) % h->n];
}

static int hist_record(const json_t *rec, void *user)
{
	struct hist_run *h = user;

	h->seen++;
	if (!hist_match(h->o, rec))
		return 0;
	h->matched++;
	if (h->max)
		return h->err = hist_keep(h, rec);
	return h->err = output_json(stdout, rec, 0);
}

static void hist_run_free(struct hist_run *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		json_decref(h->ring[i]);
	free(h->ring);
}

/* ---- the command ---- */

static int hist_show(const struct hist_run *h, FILE *f)
{
	const json_t **recs;
	size_t i;
	int r = 0;

	if (h->o->json) {
		for (i = 0; !r && i < h->n; i++)
			r = output_json(f, hist_at(h, i), 0);
		return r;
	}
	if (!h->matched) {
		if (!h->seen)
			return fputs("no history yet\n", f) == EOF ? -EIO : 0;
		return fprintf(f, "no record matches (%llu in the history)\n",
			       (unsigned long long)h->seen) < 0 ? -EIO : 0;
	}
	if (h->o->id) {
		for (i = 0; !r && i < h->n; i++) {
			if (i && fputc('\n', f) == EOF)
				return -EIO;
			r = history_render_detail(hist_at(h, i), f);
		}
		return r;
	}
	recs = calloc(h->n ? h->n : 1, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	for (i = 0; i < h->n; i++)
		recs[i] = hist_at(h, i);
	r = history_render_table(recs, h->n, f);
	free(recs);
	if (!r && !h->o->last && h->matched > h->n &&
	    fprintf(f, "(the last %zu of %llu records; -n N shows more)\n", h->n,
		    (unsigned long long)h->matched) < 0)
		r = -EIO;
	return r;
}

/* 0 when dir is a directory, else ASCTL_FAIL, reported. */
static int hist_check_dir(const char *dir)
{
	struct stat sb;

	if (stat(dir, &sb) < 0) {
		if (errno == ENOENT)
			log_err("%s: no such directory (ascoord's state_dir: see --state-dir)", dir);
		else
			log_err("%s: %s", dir, strerror(errno));
		return ASCTL_FAIL;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_err("%s: not a directory", dir);
		return ASCTL_FAIL;
	}
	return 0;
}

int history_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	struct hist_run h;
	struct hist_opts o;
	int ret, r;

	(void)ctx;
	ret = hist_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	if (hist_check_dir(o.dir))
		return ASCTL_FAIL;
	memset(&h, 0, sizeof(h));
	h.o = &o;
	if (o.last)
		h.max = (size_t)o.last;
	else if (!o.json)
		h.max = o.id ? SIZE_MAX : HIST_LAST_DEFAULT;
	/* bad lines are reported by history_read as FILE:LINE and skipped */
	r = history_read(o.dir, hist_record, &h);
	if (r < 0) {
		if (h.err || r == -ENOMEM)
			log_err("%s", r == -ENOMEM ? "out of memory" : "stdout: write error");
		ret = ASCTL_FAIL;
	} else if (o.id && !h.matched) {
		log_err("%s: no record with id %s%s", o.dir, o.id, h.seen ? "" : " (no history yet)");
		ret = ASCTL_FAIL;
	} else if ((r = hist_show(&h, stdout)) < 0 || fflush(stdout) == EOF) {
		log_err("%s", r == -ENOMEM ? "out of memory" : "stdout: write error");
		ret = ASCTL_FAIL;
	} else {
		ret = ASCTL_OK;
	}
	hist_run_free(&h);
	return ret;
}
