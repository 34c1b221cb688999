/* metrics: "asctl metrics", the agent's samples read straight from its ring */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "metrics_render.h"
#include "output.h"
#include "timeutil.h"

#define METRICS_CMD		"metrics"
#define METRICS_REOPEN_TRIES	3
#define METRICS_COUNT_MAX	1000000000ULL

struct metrics_opts {
	const char *ring;
	bool json;
	bool watch;
	bool per_cpu;
	int64_t interval_ns;
	uint64_t count;		/* refreshes with --watch, 0: until interrupted */
	int64_t since_ns;	/* 0: no sample list */
};

static volatile sig_atomic_t metrics_stop;

static void metrics_signal(int sig)
{
	(void)sig;
	metrics_stop = 1;
}

static void metrics_usage(FILE *f)
{
	fputs("usage: asctl metrics [--ring PATH] [--json] [--watch] [--interval D] [--count N]\n"
	      "                     [--since D] [--per-cpu]\n"
	      "\n"
	      "Shows the agent's samples straight from its shared-memory ring (no daemon is\n"
	      "needed): the ring's labels, source and writer state, then each metric's latest\n"
	      "value and its averages over the last 10s, 1m and 5m.\n"
	      "\n"
	      "  -r, --ring PATH     the ring (default " METRICS_RING_DEFAULT ")\n"
	      "      --json          one JSON object; with --watch, one a line per refresh\n"
	      "  -w, --watch         refresh in place until interrupted\n"
	      "  -i, --interval D    time between refreshes with --watch (default 1s)\n"
	      "  -n, --count N       stop after N refreshes with --watch\n"
	      "  -s, --since D       also list every sample of the last D (60s, 5m, ...)\n"
	      "      --per-cpu       also show each CPU's \"Percentage CPU cpuN\"\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "Exit status: 0 ok, 1 the ring is missing or unreadable, 2 bad usage.\n", f);
}

/* Parses the command line into o; returns -1 to go on, or an exit code. */
static int metrics_options(int argc, char **argv, struct metrics_opts *o)
{
	enum { OPT_JSON = 256, OPT_PER_CPU };
	static const struct option longopts[] = {
		{ "ring", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "per-cpu", no_argument, NULL, OPT_PER_CPU },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool interval = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->ring = METRICS_RING_DEFAULT;
	o->interval_ns = NSEC_PER_SEC;
	cli_getopt_begin();
	while ((c = getopt_long(argc, argv, "+:r:wi:n:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!*optarg)
				return cli_usage_error(METRICS_CMD, "--ring: empty path");
			o->ring = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'w':
			o->watch = true;
			break;
		case 'i':
			if (cli_parse_duration(METRICS_CMD, "--interval", optarg, &o->interval_ns))
				return ASCTL_USAGE;
			interval = true;
			break;
		case 'n':
			if (cli_parse_count(METRICS_CMD, "--count", optarg, METRICS_COUNT_MAX, &o->count))
				return ASCTL_USAGE;
			break;
		case 's':
			if (cli_parse_duration(METRICS_CMD, "--since", optarg, &o->since_ns))
				return ASCTL_USAGE;
			break;
		case OPT_PER_CPU:
			o->per_cpu = true;
			break;
		case 'h':
			metrics_usage(stdout);
			return ASCTL_OK;
		default:
			return cli_option_error(METRICS_CMD, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(METRICS_CMD, "unexpected argument '%s'", argv[optind]);
	if (!o->watch && (interval || o->count))
		return cli_usage_error(METRICS_CMD, "--interval and --count go with --watch");
	return -1;
}

int metrics_open(const char *path, struct ring_reader **r)
{
	char err[256];
	int ret;

	ret = ring_reader_open(path, r, err, sizeof(err));
	if (ret == 0)
		return 0;
	if (ret == -ENOENT)
		log_err("%s: no such file (is asagent running?)", path);
	else if (ret == -EACCES)
		log_err("%s: permission denied (the ring is readable by root and asagent's ring_group)",
			path);
	else
		log_err("%s: %s", path, err[0] ? err : strerror(-ret));
	return ASCTL_FAIL;
}

/* ---- the command ---- */

/* Summarizes the ring now, reopening it when the writer replaced it.  0 or ASCTL_FAIL. */
static int metrics_take(struct ring_reader **r, const struct metrics_opts *o,
			struct metrics_summary *s, struct metrics_view *v)
{
	int tries, ret;

	v->restarted = false;
	for (tries = 0; tries <= METRICS_REOPEN_TRIES; tries++) {
		v->now_real_ns = time_real_ns();
		ret = metrics_summarize(*r, time_mono_ns(), o->per_cpu, o->since_ns, s);
		if (ret < 0) {
			metrics_summary_free(s);
			log_err("%s: cannot read the ring: %s", o->ring, strerror(-ret));
			return ASCTL_FAIL;
		}
		if (s->state != RING_RESTARTED)
			return 0;
		metrics_summary_free(s);
		ring_reader_close(*r);
		*r = NULL;
		if (metrics_open(o->ring, r))
			return ASCTL_FAIL;
		v->restarted = true;
	}
	log_err("%s: the ring keeps being replaced; try again", o->ring);
	return ASCTL_FAIL;
}

/*
 * Shows a human refresh on a terminal: cursor home, the frame with each line
 * cleared to its end, then clear to the end of the screen.
 */
static int metrics_frame(const char *buf, size_t len, bool first)
{
	const char *p = buf, *nl, *end = buf + len;

	if (fputs(first ? "\033[H\033[2J" : "\033[H", stdout) == EOF)
		return -EIO;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (fwrite(p, 1, (size_t)(nl - p), stdout) != (size_t)(nl - p) ||
		    fputs("\033[K", stdout) == EOF || (nl < end && fputc('\n', stdout) == EOF))
			return -EIO;
		p = nl + 1;
	}
	return fputs("\033[J", stdout) == EOF || fflush(stdout) == EOF ? -EIO : 0;
}

/* Prints one refresh to stdout. */
static int metrics_show(const struct metrics_opts *o, const struct metrics_summary *s,
			const struct metrics_view *v, bool tty, bool first)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *j;
	FILE *m;
	int r;

	if (o->json) {
		j = metrics_render_json(s, v);
		if (!j)
			return -ENOMEM;
		r = output_json(stdout, j, o->watch ? 0 : OUTPUT_PRETTY);
		json_decref(j);
		return r;
	}
	if (!o->watch || !tty) {
		if (!first && fputc('\n', stdout) == EOF)
			return -EIO;
		r = metrics_render_print(stdout, s, v);
		return r ? r : (fflush(stdout) == EOF ? -EIO : 0);
	}
	m = open_memstream(&buf, &len);
	if (!m)
		return -ENOMEM;
	r = metrics_render_print(m, s, v);
	if (fclose(m) == EOF && !r)
		r = -ENOMEM;
	if (!r)
		r = metrics_frame(buf, len, first);
	free(buf);
	return r;
}

/* Moves *next (CLOCK_MONOTONIC) one interval on and sleeps until then or until a signal. */
static void metrics_wait(struct timespec *next, int64_t interval_ns)
{
	int64_t t, now;

	t = next->tv_sec * NSEC_PER_SEC + next->tv_nsec + interval_ns;
	now = time_mono_ns();
	if (t < now)
		t = now + interval_ns;	/* fell behind (suspend, slow terminal): no burst */
	next->tv_sec = t / NSEC_PER_SEC;
	next->tv_nsec = t % NSEC_PER_SEC;
	while (!metrics_stop &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
}

static void metrics_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = metrics_signal;	/* no SA_RESTART: the sleep must end */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int metrics_main(const struct asctl_ctx *ctx, int argc, char **argv)
{
	struct metrics_summary s;
	struct metrics_view v;
	struct metrics_opts o;
	struct ring_reader *r = NULL;
	struct timespec next;
	bool tty = isatty(STDOUT_FILENO);
	uint64_t n;
	int ret;

	(void)ctx;
	ret = metrics_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	if (metrics_open(o.ring, &r))
		return ASCTL_FAIL;
	memset(&v, 0, sizeof(v));
	v.ring = o.ring;
	v.list = o.since_ns > 0;
	metrics_stop = 0;
	if (o.watch)
		metrics_signals();
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (n = 0;; n++) {
		ret = metrics_take(&r, &o, &s, &v);
		if (ret)
			break;
		ret = metrics_show(&o, &s, &v, tty, n == 0);
		metrics_summary_free(&s);
		if (ret) {
			log_err("stdout: %s", strerror(-ret));
			ret = ASCTL_FAIL;
			break;
		}
		if (!o.watch || metrics_stop || (o.count && n + 1 >= o.count))
			break;
		metrics_wait(&next, o.interval_ns);
		if (metrics_stop)
			break;
	}
	ring_reader_close(r);
	return ret;
}
