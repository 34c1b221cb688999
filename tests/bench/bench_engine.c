/* bench_engine: engine tick cost at the design's scale, and simulate throughput on a day of samples */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "setting.h"
#include "simulate.h"
#include "store.h"
#include "timeutil.h"
#include "trace.h"

#define SETTINGS	100
#define RULES		10
#define INSTANCES	10		/* per setting, for the tick bench */
#define WINDOW_S	3600
#define TICKS		2000
#define DAY_S		86400
#define DAY_INSTANCES	100
#define T0_S		1767571200LL	/* Monday 2026-01-05 00:00 UTC */

static char tmpdir[256];

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

/* 100 settings of 10 rules each, every window 1 h at a 1 s grain, never firing. */
static int tick_conf(const char *path)
{
	static const char *const aggs[RULES] = {
		"avg", "min", "max", "total", "count", "last", "avg", "min", "max", "avg"
	};
	FILE *f = fopen(path, "w");
	int s, r;

	if (!f)
		return -errno;
	fprintf(f, "[coordinator]\nevaluate_every = 1s\n");
	for (s = 0; s < SETTINGS; s++) {
		fprintf(f, "[autoscale s%d]\ndeployment = d%d\n[profile s%d default]\nmin_count = 1\nmax_count = 100\ncount = 10\n",
			s, s, s);
		for (r = 0; r < RULES; r++)
			fprintf(f, "[rule s%d default r%d]\ncondition = cpu_%d > 1000000000 %s 1h\nscale = out 1\ntimegrain = avg 1s\n",
				s, r, s, aggs[r]);
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

/* One second of samples from every instance of every setting. */
static void tick_feed(struct store *st, const int *inst, const int *metric, int64_t t)
{
	int s, i;

	for (s = 0; s < SETTINGS; s++)
		for (i = 0; i < INSTANCES; i++)
			store_ingest_value(st, inst[s * INSTANCES + i], metric[s], t,
					   40 + 10 * sin((double)(t / NSEC_PER_SEC + i) / 60));
}

static int bench_tick(void)
{
	static int inst[SETTINGS * INSTANCES], metric[SETTINGS];
	struct engine_conf *conf;
	struct engine *e;
	struct store *st;
	struct decision d;
	char path[300], name[32], dep[32];
	int64_t t, t0 = T0_S * NSEC_PER_SEC, start, spent = 0, worst = 0, one;
	int s, i, k;

	snprintf(path, sizeof(path), "%s/tick.conf", tmpdir);
	if (tick_conf(path) < 0 || setting_conf_load(path, NULL, NULL, &conf) < 0)
		return -1;
	unlink(path);
	e = engine_new(conf);
	if (!e)
		return -1;
	st = engine_store(e);
	for (s = 0; s < SETTINGS; s++) {
		snprintf(name, sizeof(name), "cpu_%d", s);
		metric[s] = store_metric(st, name);
		snprintf(dep, sizeof(dep), "d%d", s);
		for (i = 0; i < INSTANCES; i++) {
			snprintf(name, sizeof(name), "vm%d-%d", s, i);
			inst[s * INSTANCES + i] = store_instance(st, name, dep, NULL, NULL, 0);
		}
	}
	for (t = t0; t < t0 + WINDOW_S * NSEC_PER_SEC; t += NSEC_PER_SEC)
		tick_feed(st, inst, metric, t);
	for (k = 0; k < TICKS; k++) {
		t = t0 + (WINDOW_S + k) * NSEC_PER_SEC;
		start = time_mono_ns();
		for (s = 0; s < SETTINGS; s++)
			if (engine_evaluate(e, (size_t)s, t, 10, &d) < 0)
				return -1;
		one = time_mono_ns() - start;
		spent += one;
		worst = one > worst ? one : worst;
		tick_feed(st, inst, metric, t);
	}
	printf("engine_tick_us %.1f us\n", (double)spent / TICKS / NSEC_PER_USEC);
	printf("engine_tick_max_us %.1f us\n", (double)worst / NSEC_PER_USEC);
	printf("engine_store_mib %.1f MiB\n", (double)store_memory(st) / (1 << 20));
	engine_free(e);
	setting_conf_free(conf);
	return 0;
}

/* Writes "YYYY-MM-DDTHH:MM:SSZ" for the day's second s at p; returns the length. */
static int put_time(char *p, int s)
{
	static const char day[] = "2026-01-05T";
	int h = s / 3600, m = s / 60 % 60, x = s % 60;

	memcpy(p, day, 11);
	p[11] = (char)('0' + h / 10);
	p[12] = (char)('0' + h % 10);
	p[13] = ':';
	p[14] = (char)('0' + m / 10);
	p[15] = (char)('0' + m % 10);
	p[16] = ':';
	p[17] = (char)('0' + x / 10);
	p[18] = (char)('0' + x % 10);
	p[19] = 'Z';
	return 20;
}

/* A day of 1 s samples from 100 instances: 8.64 M rows, written straight from a buffer. */
static int day_trace(const char *path)
{
	static const char metric[] = ",Percentage CPU,";
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap), *p;
	FILE *f = fopen(path, "w");
	int s, i, v, r = 0;

	if (!buf || !f) {
		free(buf);
		if (f)
			fclose(f);
		return -ENOMEM;
	}
	n = (size_t)sprintf(buf, "# a day of 1 s samples from %d instances\ntime,instance,metric,value,deployment\n",
			    DAY_INSTANCES);
	for (s = 0; s < DAY_S; s++) {
		/* load follows the day: 20 % at night, 85 % in the afternoon */
		v = 200 + (int)(325 * (1 - cos(2 * M_PI * s / DAY_S)));
		for (i = 0; i < DAY_INSTANCES; i++) {
			if (cap - n < 128) {
				if (fwrite(buf, 1, n, f) != n)
					r = -EIO;
				n = 0;
			}
			p = buf + n;
			p += put_time(p, s);
			*p++ = ',';
			*p++ = 'v';
			*p++ = 'm';
			*p++ = (char)('0' + i / 10);
			*p++ = (char)('0' + i % 10);
			memcpy(p, metric, sizeof(metric) - 1);
			p += sizeof(metric) - 1;
			v += (i * 7 + s) % 11 - 5;
			v = v < 0 ? 0 : v > 1000 ? 1000 : v;
			*p++ = (char)('0' + v / 1000);
			*p++ = (char)('0' + v / 100 % 10);
			*p++ = (char)('0' + v / 10 % 10);
			*p++ = '.';
			*p++ = (char)('0' + v % 10);
			memcpy(p, ",blue\n", 6);
			p += 6;
			n = (size_t)(p - buf);
		}
	}
	if (fwrite(buf, 1, n, f) != n)
		r = -EIO;
	free(buf);
	if (fclose(f) != 0)
		r = -EIO;
	return r;
}

static const char day_conf_text[] =
	"[coordinator]\nevaluate_every = 10s\n"
	"[autoscale web]\ndeployment = blue\n"
	"[profile web default]\nmin_count = 2\nmax_count = 20\ncount = 4\n"
	"[rule web default out]\ncondition = Percentage CPU > 70 avg 5m\nscale = out 2\ncooldown = 5m\n"
	"[rule web default in]\ncondition = Percentage CPU < 30 avg 10m\nscale = in 1\ncooldown = 5m\n"
	"[rule web default peak]\ncondition = Percentage CPU > 95 max 1m\nscale = to 20\ntimegrain = max 10s\n";

static double rss_mib(const char *key)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	double kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			kib = strtod(line + strlen(key), NULL);
	fclose(f);
	return kib / 1024;
}

static int bench_simulate(void)
{
	struct simulate_opts o = { 0 };
	struct engine_conf *conf;
	struct simulate *sim;
	struct trace *t;
	char csv[300], conf_path[300];
	int64_t start, spent;
	const struct simulate_stats *st;
	int r;

	snprintf(csv, sizeof(csv), "%s/day.csv", tmpdir);
	snprintf(conf_path, sizeof(conf_path), "%s/day.conf", tmpdir);
	if (write_file(conf_path, day_conf_text) < 0 || setting_conf_load(conf_path, NULL, NULL, &conf) < 0)
		return -1;
	unlink(conf_path);
	start = time_mono_ns();
	r = day_trace(csv);
	spent = time_mono_ns() - start;
	if (r < 0) {
		unlink(csv);
		return -1;
	}
	fprintf(stderr, "bench_engine: wrote %d rows in %.1f s\n", DAY_S * DAY_INSTANCES,
		(double)spent / NSEC_PER_SEC);
	start = time_mono_ns();
	r = trace_open(csv, &t);
	if (r == 0)
		r = simulate_new(conf, &o, &sim);
	if (r == 0)
		r = simulate_run(sim, t, NULL, NULL);
	spent = time_mono_ns() - start;
	unlink(csv);
	if (r < 0)
		return -1;
	st = simulate_stats(sim);
	if (st->rows != (uint64_t)DAY_S * DAY_INSTANCES) {
		fprintf(stderr, "bench_engine: read %llu rows\n", (unsigned long long)st->rows);
		return -1;
	}
	printf("simulate_rows_per_s %.0f rows/s\n", (double)st->rows / spent * NSEC_PER_SEC);
	printf("simulate_day_s %.2f s\n", (double)spent / NSEC_PER_SEC);
	printf("simulate_scales %llu actions\n", (unsigned long long)st->scales);
	printf("engine_rss_mib %.1f MiB\n", rss_mib("VmHWM:"));
	trace_close(t);
	simulate_free(sim);
	setting_conf_free(conf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR");
	int r = 0;

	log_init("bench_engine", 0);
	snprintf(tmpdir, sizeof(tmpdir), "%s/ascale-bench-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	/* simulate first: engine_rss_mib is the peak RSS of the simulation alone */
	if (argc < 2 || strcmp(argv[1], "tick") != 0)
		r |= bench_simulate();
	if (argc < 2 || strcmp(argv[1], "simulate") != 0)
		r |= bench_tick();
	rmdir(tmpdir);
	if (r)
		fprintf(stderr, "bench_engine: failed\n");
	return r ? 1 : 0;
}
