/* test_engine: every semantic rule of docs/engine.md, and the store under it */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine.h"
#include "log.h"
#include "schedule.h"
#include "setting.h"
#include "store.h"
#include "testutil.h"
#include "timeutil.h"
#include "tz.h"

#define S NSEC_PER_SEC
#define M (60 * S)
/* Monday 2026-01-05 00:00 UTC */
#define T0 (1767571200LL * S)

static struct engine_conf *conf;
static struct engine *eng;
static struct decision d;

static void quiet(int prio, const char *msg, void *user)
{
	(void)prio;
	(void)user;
	fprintf(stderr, "log: %s\n", msg);
}

static void load(const char *text)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/test_engine.%d.conf", (int)getpid());
	testutil_write_text(path, text);
	log_set_sink(quiet, NULL);
	assert_int_equal(setting_conf_load(path, NULL, NULL, &conf), 0);
	unlink(path);
	eng = engine_new(conf);
	assert_non_null(eng);
}

static int teardown(void **state)
{
	(void)state;
	engine_free(eng);
	setting_conf_free(conf);
	eng = NULL;
	conf = NULL;
	return 0;
}

static int inst(const char *name)
{
	int id = store_instance(engine_store(eng), name, "blue", "ep", NULL, 0);

	assert_true(id >= 0);
	return id;
}

/* one sample a second from each instance over [from, to) */
static void feed(const char *metric, int64_t from, int64_t to, double v, int ninst)
{
	struct store *st = engine_store(eng);
	int m = store_metric(st, metric), i;
	char name[16];
	int64_t t;

	for (i = 0; i < ninst; i++) {
		snprintf(name, sizeof(name), "i%d", i);
		for (t = from; t < to; t += S)
			assert_int_equal(store_ingest_value(st, inst(name), m, t, v), 0);
	}
}

static void eval(int64_t t, unsigned count)
{
	assert_int_equal(engine_evaluate(eng, 0, t, count, &d), 0);
}

/* eval() at t with count: the count after */
static unsigned after_eval(int64_t t, unsigned count)
{
	eval(t, count);
	return d.after;
}

/* feed() from one instance, then eval() at the end of it with count */
static void feed_eval(const char *metric, int64_t from, int64_t to, double v, unsigned count)
{
	feed(metric, from, to, v, 1);
	eval(to, count);
}

#define BASE "[autoscale web]\ndeployment = blue\nendpoint = ep\n"
/* setting web's default profile */
#define DEFAULT(min, max, count) \
	"[profile web default]\nmin_count = " #min "\nmax_count = " #max "\ncount = " #count "\n"

/* ---- the store: grains, instance means, time aggregations ---- */

static struct store *st;
static int series_of(enum grain_stat stat, enum cond_agg agg, unsigned grains)
{
	struct series_spec spec = {
		.metric = "cpu", .grain_ns = S, .window_grains = grains, .stat = stat, .agg = agg,
		.deployment = "blue",
	};

	return store_series_add(st, &spec);
}

static void test_store_grains(void **state)
{
	struct store_window w;
	int a, b, other, m, s_avg, s_sum, s_min, s_max, s_cnt, s_last, s_total, s_mn, s_count;

	(void)state;
	st = store_new();
	s_avg = series_of(GRAIN_AVG, AGG_AVG, 3);
	s_sum = series_of(GRAIN_SUM, AGG_AVG, 3);
	s_min = series_of(GRAIN_MIN, AGG_AVG, 3);
	s_max = series_of(GRAIN_MAX, AGG_MAX, 3);
	s_cnt = series_of(GRAIN_COUNT, AGG_AVG, 3);
	s_last = series_of(GRAIN_AVG, AGG_LAST, 3);
	s_total = series_of(GRAIN_AVG, AGG_TOTAL, 3);
	s_mn = series_of(GRAIN_AVG, AGG_MIN, 3);
	s_count = series_of(GRAIN_AVG, AGG_COUNT, 3);
	a = store_instance(st, "a", "blue", "ep", NULL, 0);
	b = store_instance(st, "b", "blue", "ep", NULL, 0);
	other = store_instance(st, "c", "green", "ep", NULL, 0);
	assert_int_equal(store_instance(st, "a", "blue", "ep", NULL, 0), a);
	m = store_metric(st, "CPU");
	assert_int_equal(store_metric(st, "cpu"), m);
	/* grain 100: a has 10 and 30 (mean 20), b has 60: avg 40, sum 80, min 20, max 60, count 3 */
	store_ingest_value(st, a, m, 100 * S, 10);
	store_ingest_value(st, a, m, 100 * S + S / 2, 30);
	store_ingest_value(st, b, m, 100 * S + 1, 60);
	store_ingest_value(st, other, m, 100 * S, 1000);	/* another deployment */
	/* grain 101: a 0 */
	store_ingest_value(st, a, m, 101 * S, 0);
	/* at T = 102 s the window is grains 99..101 */
	assert_int_equal(store_query(st, s_avg, 102 * S, &w), 0);
	assert_true(w.data);
	assert_true(w.warming);		/* first seen at 100, the window starts at 99 */
	assert_int_equal(w.grains, 2);
	assert_true(w.value == 20);	/* (40 + 0) / 2 */
	assert_int_equal(w.samples, 4);
	store_query(st, s_sum, 102 * S, &w);
	assert_true(w.value == 40);	/* (80 + 0) / 2 */
	store_query(st, s_min, 102 * S, &w);
	assert_true(w.value == 10);	/* (20 + 0) / 2 */
	store_query(st, s_max, 102 * S, &w);
	assert_true(w.value == 60);
	store_query(st, s_cnt, 102 * S, &w);
	assert_true(w.value == 2);	/* (3 + 1) / 2 */
	store_query(st, s_last, 102 * S, &w);
	assert_true(w.value == 0);
	store_query(st, s_total, 102 * S, &w);
	assert_true(w.value == 40);
	store_query(st, s_mn, 102 * S, &w);
	assert_true(w.value == 0);
	store_query(st, s_count, 102 * S, &w);
	assert_true(w.value == 4);
	/* a sample for a closed grain is late; a sample at T is not seen at T */
	store_ingest_value(st, a, m, 101 * S, 500);
	assert_int_equal(store_late(st), 9);		/* once per series */
	store_ingest_value(st, a, m, 102 * S, 90);
	assert_int_equal(store_query(st, s_avg, 102 * S + S / 2, &w), 0);
	assert_true(w.value == 20);
	/* at 103 the window is 100..102, no longer warming */
	store_query(st, s_avg, 103 * S, &w);
	assert_false(w.warming);
	assert_true(fabs(w.value - (40 + 0 + 90) / 3.0) < 1e-12);
	/* going back is refused */
	assert_int_equal(store_query(st, s_avg, 50 * S, &w), -ERANGE);
	/* a long gap empties the window */
	store_query(st, s_avg, 1000 * S, &w);
	assert_false(w.data);
	store_query(st, s_mn, 1000 * S, &w);
	assert_false(w.data);
	/* bad input */
	assert_int_equal(store_ingest_value(st, 99, m, S, 1), -EINVAL);
	assert_int_equal(store_ingest_value(st, a, 99, S, 1), -EINVAL);
	assert_int_equal(store_ingest_value(st, a, m, -1, 1), -EINVAL);
	assert_int_equal(store_ingest_value(st, a, m, 2000 * S, NAN), -EINVAL);
	assert_int_equal(store_instance(st, "", NULL, NULL, NULL, 0), -EINVAL);
	store_free(st);
}

static void test_store_window_slides(void **state)
{
	struct store_window w;
	int a, m, s_avg, s_min, s_max;
	int64_t t;
	double lo, hi, sum;
	int k;

	(void)state;
	st = store_new();
	s_avg = series_of(GRAIN_AVG, AGG_AVG, 300);
	s_min = series_of(GRAIN_AVG, AGG_MIN, 300);
	s_max = series_of(GRAIN_AVG, AGG_MAX, 300);
	a = store_instance(st, "a", NULL, NULL, NULL, 0);	/* no deployment: not excluded */
	m = store_metric(st, "cpu");
	/* values (t * 7919) % 1000, checked against a direct computation every 37 s */
	for (t = 0; t < 5000; t++) {
		store_ingest_value(st, a, m, t * S, (double)((t * 7919) % 1000));
		if (t % 37 == 36) {
			int64_t e = t;	/* window at T = t s: grains t-300 .. t-1 */

			lo = INFINITY;
			hi = -INFINITY;
			sum = 0;
			for (k = 0; k < 300; k++) {
				int64_t g = e - 300 + k;
				double v = g < 0 ? NAN : (double)((g * 7919) % 1000);

				if (g < 0)
					continue;
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
				sum += v;
			}
			store_query(st, s_avg, t * S, &w);
			assert_true(fabs(w.value - sum / (e < 300 ? e : 300)) < 1e-6);
			store_query(st, s_min, t * S, &w);
			assert_true(w.value == lo);
			store_query(st, s_max, t * S, &w);
			assert_true(w.value == hi);
		}
	}
	store_free(st);
}

/* Values leaving the window take away exactly what they brought: once only zeros remain the
 * average and total are 0, not a rounding residue, and a window of 0.1s averages to 0.1 exactly;
 * data from the first grains after the epoch (a trace from 1970) is no trouble either. */
static void test_store_exact_sums(void **state)
{
	static const double odd[] = { 0.1, 33.3, 70.7, 1e-7, 99.99, 12345.6789, 0.3, 1e12 };
	struct store_window w;
	int a, m, s_avg, s_total;
	int64_t t;

	(void)state;
	st = store_new();
	s_avg = series_of(GRAIN_AVG, AGG_AVG, 10);
	s_total = series_of(GRAIN_AVG, AGG_TOTAL, 10);
	a = store_instance(st, "a", "blue", "ep", NULL, 0);
	m = store_metric(st, "cpu");
	for (t = 0; t < 400; t++)
		store_ingest_value(st, a, m, t * S, odd[t % 8]);
	for (; t < 420; t++)
		store_ingest_value(st, a, m, t * S, 0);
	assert_int_equal(store_query(st, s_avg, 420 * S, &w), 0);
	assert_true(w.data && w.grains == 10);
	assert_true(w.value == 0.0);
	store_query(st, s_total, 420 * S, &w);
	assert_true(w.value == 0.0);
	for (; t < 440; t++)
		store_ingest_value(st, a, m, t * S, 0.1);
	store_query(st, s_avg, 440 * S, &w);
	assert_true(w.value == 0.1);
	store_query(st, s_total, 440 * S, &w);
	assert_true(w.value == 1.0);
	store_free(st);
}

/* Late data: within the lateness horizon it lands and the next query sees it; beyond, it is late. */
static void test_store_late(void **state)
{
	struct store_window w;
	int a, b, m, s_cnt, s_avg;
	int64_t t;

	(void)state;
	st = store_new();
	s_cnt = series_of(GRAIN_AVG, AGG_COUNT, 40);
	s_avg = series_of(GRAIN_AVG, AGG_AVG, 40);
	assert_int_equal(store_set_lateness(st, 120 * S), 0);
	assert_int_equal(store_set_lateness(st, 3601 * S), -EINVAL);
	a = store_instance(st, "a", "blue", "ep", NULL, 0);
	b = store_instance(st, "b", "blue", "ep", NULL, 0);
	m = store_metric(st, "cpu");
	/* b streams live to 1199; then a, far behind, resends 1000..1199 oldest first, faster than b goes on */
	for (t = 1000; t < 1200; t++)
		assert_int_equal(store_ingest_value(st, b, m, t * S, 10), 0);
	assert_int_equal(store_set_lateness(st, 60 * S), -EBUSY);	/* data is in */
	for (t = 1000; t < 1200; t++) {
		assert_int_equal(store_ingest_value(st, a, m, t * S, 30), 0);
		if (t >= 1080)
			assert_int_equal(store_ingest_value(st, b, m, (t + 120) * S, 10), 0);
	}
	/* a's 1000..1079 were 120 grains behind b's newest: late, in both series */
	assert_int_equal(store_late(st), 2 * 80);
	assert_int_equal(store_query(st, s_cnt, 1200 * S, &w), 0);
	assert_int_equal(w.samples, 40 + 40);
	assert_false(w.warming);
	assert_int_equal(store_query(st, s_avg, 1200 * S, &w), 0);
	assert_true(fabs(w.value - 20) < 1e-9);
	/* closed by the query: late */
	assert_int_equal(store_ingest_value(st, a, m, 1190 * S, 30), 0);
	assert_int_equal(store_late(st), 2 * 81);
	/* open (after the query, within the horizon): seen by the next query */
	assert_int_equal(store_ingest_value(st, a, m, 1250 * S, 30), 0);
	assert_int_equal(store_query(st, s_cnt, 1260 * S, &w), 0);
	assert_int_equal(w.samples, 40 + 1);
	store_free(st);

	/* the default horizon is 4 grains behind the newest */
	st = store_new();
	s_cnt = series_of(GRAIN_AVG, AGG_COUNT, 40);
	a = store_instance(st, "a", "blue", "ep", NULL, 0);
	m = store_metric(st, "cpu");
	store_ingest_value(st, a, m, 100 * S, 1);
	store_ingest_value(st, a, m, 97 * S, 1);
	store_ingest_value(st, a, m, 96 * S, 1);
	assert_int_equal(store_late(st), 1);
	assert_int_equal(store_query(st, s_cnt, 101 * S, &w), 0);
	assert_int_equal(w.samples, 2);
	store_free(st);
}

/* Forgetting instances: ids and local indexes are reused; samples already in open grains stay. */
static void test_store_forget(void **state)
{
	struct store_window w;
	int a, b, c, m, s_cnt, s_sum, i;
	struct store_label l = { "zone", "1" };
	size_t mem;

	(void)state;
	st = store_new();
	s_cnt = series_of(GRAIN_AVG, AGG_COUNT, 10);
	s_sum = series_of(GRAIN_SUM, AGG_LAST, 10);
	a = store_instance(st, "a", "blue", "ep", NULL, 0);
	b = store_instance(st, "b", "blue", "ep", &l, 1);
	m = store_metric(st, "cpu");
	store_ingest_value(st, a, m, 100 * S, 5);
	store_ingest_value(st, b, m, 100 * S, 7);
	assert_int_equal(store_instance_forget(st, b), 0);
	assert_int_equal(store_instance_forget(st, b), -EINVAL);
	assert_int_equal(store_instance_forget(st, 99), -EINVAL);
	assert_int_equal(store_ingest_value(st, b, m, 100 * S, 1), -EINVAL);
	assert_int_equal(store_instances(st), 1);
	/* the id is reused by a new instance, which starts with nothing of b's */
	c = store_instance(st, "c", "blue", "ep", NULL, 0);
	assert_int_equal(c, b);
	assert_int_equal(store_instance(st, "a", "blue", "ep", NULL, 0), a);
	assert_int_equal(store_instance(st, "c", "blue", "ep", NULL, 0), c);
	store_ingest_value(st, c, m, 100 * S, 100);
	/* b's sample stays in its grain, apart from c's: sum of instance means 5 + 7 + 100 */
	assert_int_equal(store_query(st, s_sum, 101 * S, &w), 0);
	assert_true(fabs(w.value - 112) < 1e-9);
	assert_int_equal(store_query(st, s_cnt, 101 * S, &w), 0);
	assert_int_equal(w.samples, 3);
	/* churn: names come and go, the table and memory stay bounded */
	for (i = 0; i < 1000; i++) {
		char name[32];
		int id;

		snprintf(name, sizeof(name), "churn-%d", i);
		id = store_instance(st, name, "blue", "ep", NULL, 0);
		assert_true(id >= 0 && id <= 3);
		store_ingest_value(st, id, m, (102 + i) * S, 1);
		if (i == 10)
			mem = store_memory(st);
		assert_int_equal(store_query(st, s_cnt, (103 + i) * S, &w), 0);
		assert_int_equal(store_instance_forget(st, id), 0);
	}
	assert_int_equal(store_memory(st), mem);
	assert_int_equal(store_instances(st), 2);
	assert_int_equal(w.samples, 10);
	assert_int_equal(store_late(st), 0);
	store_free(st);
}

/* 10: Azure's first flapping example: 575 x 3 / 2 = 862.5 > 600 */
static void test_flapping_skip(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 3)
	     "[rule web default out]\ncondition = m > 600 avg 5m\nscale = out 1\n"
	     "[rule web default in]\ncondition = m < 600 avg 5m\nscale = in 1\n");
	feed("m", T0, T0 + 6 * M, 575, 3);
	assert_int_equal(after_eval(T0 + 6 * M, 3), 3);
	assert_true(d.events & EV_FLAPPING);
	assert_false(d.events & EV_SCALE);
	assert_int_equal(d.wanted, 2);
	assert_true(d.rules[0].estimate == 862.5);
	assert_int_equal(d.rules[1].state, RS_FIRED);
	assert_non_null(strstr(d.reason, "flapping"));
	/* the flapping event starts no cooldown: at 400 (400 x 3 / 2 = 600, not > 600) it scales in */
	feed("m", T0 + 6 * M, T0 + 12 * M, 400, 3);
	assert_int_equal(after_eval(T0 + 12 * M, 3), 2);
	assert_int_equal(d.cause, CAUSE_RULE);
	assert_false(d.flapping_adjusted);
	assert_true(d.rules[0].estimate == 600);
}

/* 10: Azure's second example: 30 instances at 70, in 10, out above 80 → 27 */
static void test_flapping_partial(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 40, 30)
	     "[rule web default out]\ncondition = cpu > 80 avg 5m\nscale = out 1\n"
	     "[rule web default in]\ncondition = cpu < 75 avg 5m\nscale = in 10\n");
	feed("cpu", T0, T0 + 5 * M, 70, 2);
	eval(T0 + 5 * M, 30);
	assert_int_equal(d.wanted, 20);
	assert_int_equal(d.after, 27);
	assert_true(d.flapping_adjusted);
	assert_true(d.events & EV_SCALE);
	assert_int_equal(d.rule, 1);
	assert_true(fabs(d.rules[0].estimate - 70.0 * 30 / 27) < 1e-9);
}

/* 6: bounds at every tick, whatever the cooldown; no cooldown started */
static void test_clamp(void **state)
{
	(void)state;
	load(BASE DEFAULT(2, 5, 2)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 1\ncooldown = 10\n");
	feed_eval("cpu", T0, T0 + 2 * M, 90, 1);
	assert_int_equal(d.after, 2);
	assert_int_equal(d.cause, CAUSE_CLAMP);
	assert_int_equal(d.rule, -1);
	assert_int_equal(after_eval(T0 + 2 * M, 9), 5);
	assert_int_equal(d.cause, CAUSE_CLAMP);
	/* no cooldown from the clamps: the rule acts at once */
	assert_int_equal(after_eval(T0 + 2 * M, 2), 3);
	assert_int_equal(d.cause, CAUSE_RULE);
	/* now in cooldown, a clamp still happens */
	feed_eval("cpu", T0 + 2 * M, T0 + 3 * M, 90, 7);
	assert_int_equal(d.after, 5);
	assert_int_equal(d.cause, CAUSE_CLAMP);
	assert_int_equal(after_eval(T0 + 3 * M, 3), 3);
	assert_int_equal(d.rules[0].state, RS_COOLDOWN);
}

/* 4: missing metrics */
static void test_missing(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 3)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 2\n"
	     "[rule web default in]\ncondition = mem < 10 avg 1m\nscale = in 1\n"
	     "[rule web default in2]\ncondition = cpu < 20 avg 1m\nscale = in 1\n");
	assert_int_equal(after_eval(T0, 5), 5);	/* at or above the default: nothing */
	assert_int_equal(d.cause, CAUSE_NONE);
	assert_true(d.events & EV_MISSING);
	assert_int_equal(after_eval(T0 + M, 2), 3);
	assert_int_equal(d.cause, CAUSE_MISSING);
	assert_int_equal(d.rule, -1);
	assert_int_equal(d.rules[0].state, RS_MISSING);
	/* cpu is low, mem missing: no scale-in while a metric is missing */
	feed_eval("cpu", T0 + M, T0 + 3 * M, 5, 5);
	assert_int_equal(d.after, 5);
	assert_false(d.events & EV_MISSING);	/* still missing: no new event */
	assert_non_null(strstr(d.reason, "no scale-in"));
	/* scale-out rules with data still act */
	feed_eval("cpu", T0 + 3 * M, T0 + 5 * M, 90, 5);
	assert_int_equal(d.after, 7);
	assert_int_equal(d.cause, CAUSE_RULE);
	/* missing below the default scales to it, whatever the cooldown */
	assert_int_equal(after_eval(T0 + 5 * M + 10 * S, 2), 3);
	assert_int_equal(d.cause, CAUSE_MISSING);
	/* recovery */
	feed("mem", T0 + 5 * M, T0 + 7 * M, 50, 1);
	feed_eval("cpu", T0 + 5 * M, T0 + 7 * M, 30, 3);
	assert_true(d.events & EV_RECOVERED);
}

/* 4: warming up */
static void test_warming(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = cpu > 50 avg 5m\nscale = out 1\n");
	feed_eval("cpu", T0 + 3 * M, T0 + 5 * M, 90, 2);
	assert_int_equal(d.rules[0].state, RS_WARMING);
	assert_int_equal(d.after, 2);
	feed_eval("cpu", T0 + 5 * M, T0 + 8 * M + S, 90, 2);
	assert_int_equal(d.rules[0].state, RS_FIRED);
	assert_int_equal(d.after, 3);
}

/* Minute k from T0: cpu, mem and queue at these values, then eval() at its end with count. */
static void minute(int k, double cpu, double mem, double queue, unsigned count)
{
	feed("cpu", T0 + k * M, T0 + (k + 1) * M, cpu, 1);
	feed("mem", T0 + k * M, T0 + (k + 1) * M, mem, 1);
	feed_eval("queue", T0 + k * M, T0 + (k + 1) * M, queue, count);
}

/* 7: scale-in needs every in rule; to N rules */
static void test_and_and_to(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 5)
	     "[rule web default in1]\ncondition = cpu < 30 avg 1m\nscale = in 1\ncooldown = 0\n"
	     "[rule web default in2]\ncondition = mem < 30 avg 1m\nscale = in 2\ncooldown = 0\n"
	     "[rule web default to8]\ncondition = queue > 100 max 1m\nscale = to 8\ncooldown = 0\n"
	     "[rule web default to2]\ncondition = queue < 1 max 1m\nscale = to 2\ncooldown = 0\n");
	minute(0, 10, 50, 50, 5);
	assert_int_equal(d.after, 5);
	assert_non_null(strstr(d.reason, "1 of 2 scale-in rules fired"));
	/* both fire: scale in as little as possible (in 1 → 4) */
	minute(1, 10, 10, 50, 5);
	assert_int_equal(d.after, 4);
	assert_int_equal(d.rule, 0);
	/* to 8 fires: out first */
	minute(2, 10, 10, 500, 4);
	assert_int_equal(d.after, 8);
	assert_int_equal(d.rule, 2);
	/* to 2 fires with both in rules: the largest candidate (in 1 from 8 → 7) */
	minute(3, 10, 10, 0, 8);
	assert_int_equal(d.after, 7);
	/* in2 does not fire: to 2 alone does not scale in (every in rule must fire) */
	minute(4, 10, 50, 0, 7);
	assert_int_equal(d.after, 7);
}

static void test_to_alone(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 5)
	     "[rule web default to2]\ncondition = queue < 1 max 1m\nscale = to 2\n");
	feed_eval("queue", T0, T0 + M, 0, 6);
	assert_int_equal(d.after, 2);
	assert_int_equal(d.cause, CAUSE_RULE);
	/* at the count, a to rule does nothing */
	feed_eval("queue", T0 + 19 * M, T0 + 20 * M, 0, 2);
	assert_false(d.events & EV_SCALE);
}

/* 8: percentages */
static void test_percent(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 100, 3)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 50%\ncooldown = 0\n");
	feed_eval("cpu", T0, T0 + M, 90, 3);
	assert_int_equal(d.after, 4);		/* floor(1.5) = 1 */
	assert_int_equal(after_eval(T0 + M, 1), 2);	/* max(1, 0) */
	assert_int_equal(after_eval(T0 + M, 10), 15);
	assert_int_equal(after_eval(T0 + M, 99), 100);	/* clamped to max */
	eval(T0 + M, 100);
	assert_false(d.events & EV_SCALE);
	assert_non_null(strstr(d.reason, "max"));
	teardown(NULL);
	load(BASE DEFAULT(1, 100, 3)
	     "[rule web default in]\ncondition = cpu < 50 avg 1m\nscale = in 10%\ncooldown = 0\n");
	feed_eval("cpu", T0, T0 + M, 10, 5);
	assert_int_equal(d.after, 4);		/* max(1, floor(0.5)) */
	assert_int_equal(after_eval(T0 + M, 30), 27);
	eval(T0 + M, 1);
	assert_false(d.events & EV_SCALE);	/* at min */
}

/* 9: one cooldown timer for both directions */
static void test_cooldown(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 1\ncooldown = 5\n"
	     "[rule web default in]\ncondition = cpu < 20 avg 1m\nscale = in 1\ncooldown = 90s\n");
	feed_eval("cpu", T0, T0 + M, 90, 2);
	assert_int_equal(d.after, 3);
	assert_int_equal(d.cooldown_until_ns, T0 + 6 * M);
	feed_eval("cpu", T0 + M, T0 + 3 * M, 5, 3);
	assert_int_equal(d.after, 3);		/* scale-in blocked by the out rule's cooldown */
	assert_int_equal(d.rules[1].state, RS_COOLDOWN);
	feed("cpu", T0 + 3 * M, T0 + 6 * M, 5, 1);
	assert_int_equal(after_eval(T0 + 6 * M - 1, 3), 3);
	assert_int_equal(after_eval(T0 + 6 * M, 3), 2);
	/* and the in rule's 90 s */
	feed("cpu", T0 + 6 * M, T0 + 7 * M + 30 * S, 5, 1);
	assert_int_equal(after_eval(T0 + 7 * M + 29 * S, 2), 2);
	assert_int_equal(after_eval(T0 + 7 * M + 30 * S, 2), 1);
}

/* the daemon restores a cooldown after a restart, and moves it after a failed action */
static void test_cooldown_restored(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 1\ncooldown = 5\n");
	assert_true(engine_cooldown(eng, 0) == INT64_MIN);
	assert_int_equal(engine_set_cooldown(eng, 0, T0 + 3 * M), 0);
	assert_int_equal(engine_set_cooldown(eng, 1, T0), -EINVAL);
	assert_true(engine_cooldown(eng, 1) == INT64_MIN);
	feed("cpu", T0, T0 + 3 * M, 90, 1);
	assert_int_equal(after_eval(T0 + 2 * M, 2), 2);
	assert_int_equal(d.rules[0].state, RS_COOLDOWN);
	assert_int_equal(after_eval(T0 + 3 * M, 2), 3);
	assert_true(engine_cooldown(eng, 0) == T0 + 8 * M);
	/* the action failed: the daemon lets the engine act again */
	assert_int_equal(engine_set_cooldown(eng, 0, INT64_MIN), 0);
	feed_eval("cpu", T0 + 3 * M, T0 + 4 * M, 90, 2);
	assert_int_equal(d.after, 3);
}

/* 3: divide_per_instance */
static void test_divide(void **state)
{
	(void)state;
	load(BASE DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = requests > 100 total 1m\nscale = out 1\n"
	     "timegrain = sum 1m\ndivide_per_instance = true\nresource = endpoint\n");
	feed("requests", T0, T0 + M, 10, 3);	/* per grain: sum of instance means 30, total 30 */
	eval(T0 + M, 2);
	assert_true(d.rules[0].observed == 15);
	assert_int_equal(d.after, 2);
	teardown(NULL);
	load(BASE DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = requests >= 1800 count 1m\nscale = out 1\n");
	feed("requests", T0, T0 + M, 10, 30);	/* 30 instances x 60 samples */
	eval(T0 + M, 2);
	assert_true(d.rules[0].observed == 1800);
	assert_int_equal(d.after, 3);
}

/* 11: a disabled setting reports, does nothing, starts no cooldown */
static void test_disabled(void **state)
{
	(void)state;
	load(BASE "enabled = false\n" DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 1\n");
	feed_eval("cpu", T0, T0 + M, 90, 2);
	assert_int_equal(d.after, 3);
	assert_false(d.applied);
	assert_true(d.disabled);
	assert_true(d.events & EV_SCALE);
	assert_int_equal(after_eval(T0 + M + S, 2), 3);	/* no cooldown */
	assert_non_null(strstr(d.reason, "disabled"));
}

/* 5: profiles, local time across DST; entering a profile applies only its bounds */
static void test_profiles_dst(void **state)
{
	const struct setting *s;
	int64_t t;

	(void)state;
	load(BASE DEFAULT(1, 10, 2)
	     "[profile web peak]\nrecurrence = week mon tue wed thu fri\nstart = 09:00\nend = 18:00\n"
	     "timezone = Pacific Standard Time\ncount = 4\nmin_count = 3\nmax_count = 8\n"
	     "[profile web night]\nrecurrence = week sun\nstart = 22:00\nend = 06:00\n"
	     "timezone = UTC\ncount = 1\n"
	     "[profile web xmas]\nstart = 2026-12-24\nend = 2026-12-26 12:00\n"
	     "timezone = W. Europe Standard Time\ncount = 5\n");
	s = &conf->settings[0];
	/* Friday 2026-03-06 09:00 PST = 17:00 UTC; Monday 2026-03-09 09:00 PDT = 16:00 UTC */
	t = 1772816400LL;	/* 2026-03-06 17:00 UTC */
	assert_int_equal(schedule_profile(s, t - 1), 0);
	assert_int_equal(schedule_profile(s, t), 1);
	t = 1773072000LL;	/* 2026-03-09 16:00 UTC */
	assert_int_equal(schedule_profile(s, t - 1), 0);
	assert_int_equal(schedule_profile(s, t), 1);
	assert_int_equal(schedule_profile(s, t + 9 * 3600 - 1), 1);
	assert_int_equal(schedule_profile(s, t + 9 * 3600), 0);	/* 18:00 PDT */
	/* autumn: Monday 2026-11-02 09:00 PST = 17:00 UTC */
	t = 1778086800LL + 0;
	t = civil_to_days(2026, 11, 2) * 86400 + 17 * 3600;
	assert_int_equal(schedule_profile(s, t - 1), 0);
	assert_int_equal(schedule_profile(s, t), 1);
	/* overnight recurrence: Sunday 22:00 to Monday 06:00 UTC */
	t = civil_to_days(2026, 3, 8) * 86400;	/* a Sunday */
	assert_int_equal(schedule_profile(s, t + 22 * 3600 - 1), 0);
	assert_int_equal(schedule_profile(s, t + 22 * 3600), 2);
	assert_int_equal(schedule_profile(s, t + 30 * 3600 - 1), 2);
	/* Monday 06:00 UTC is Sunday 23:00 PDT: no profile but the default */
	assert_int_equal(schedule_profile(s, t + 30 * 3600), 0);
	/* fixed dates come first, in Berlin time: 2026-12-24 00:00 CET = 23 Dec 23:00 UTC (a Wednesday) */
	t = civil_to_days(2026, 12, 23) * 86400 + 23 * 3600;
	assert_int_equal(schedule_profile(s, t - 1), 1);	/* 15:00 PST on a Wednesday: peak */
	assert_int_equal(schedule_profile(s, t), 3);
	assert_int_equal(schedule_profile(s, civil_to_days(2026, 12, 26) * 86400 + 11 * 3600 - 1), 3);
	assert_int_equal(schedule_profile(s, civil_to_days(2026, 12, 26) * 86400 + 11 * 3600), 0);

	/* through the engine: entering peak clamps 2 up to its min 3 (not its default 4) */
	t = 1772816400LL * S;
	eval(t - S, 2);
	assert_int_equal(d.profile, 0);
	assert_true(d.events & EV_PROFILE);
	eval(t, 2);
	assert_int_equal(d.profile, 1);
	assert_true(d.events & EV_PROFILE);
	assert_int_equal(d.prev_profile, 0);
	assert_int_equal(d.after, 3);
	assert_int_equal(d.cause, CAUSE_CLAMP);
	eval(t + S, 3);
	assert_false(d.events & EV_PROFILE);
}

static void test_records(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *o;
	int n;

	(void)state;
	load(BASE DEFAULT(1, 10, 2)
	     "[rule web default out]\ncondition = cpu > 50 avg 1m\nscale = out 1\n");
	feed_eval("cpu", T0, T0 + M, 90, 2);
	f = open_memstream(&text, &len);
	n = decision_print_events(conf, &d, true, f);
	fclose(f);
	assert_int_equal(n, 2);
	assert_non_null(strstr(text, "\"event\":\"profile\""));
	assert_non_null(strstr(text, "{\"time\":\"2026-01-05T00:01:00.000Z\",\"event\":\"scale\",\"setting\":\"web\",\"profile\":\"default\",\"from\":2,\"to\":3,\"rule\":\"out\",\"cause\":\"rule\",\"reason\":"));
	free(text);
	o = decision_to_json(conf, &d);
	assert_non_null(o);
	text = json_dumps(o, JSON_COMPACT);
	assert_non_null(strstr(text, "\"state\":\"fired\""));
	assert_non_null(strstr(text, "\"observed\":90.0"));
	free(text);
	json_decref(o);
	f = open_memstream(&text, &len);
	decision_print_events(conf, &d, false, f);
	fclose(f);
	assert_non_null(strstr(text, "2 -> 3 (rule)"));
	free(text);
	/* time going back is refused */
	assert_int_equal(engine_evaluate(eng, 0, T0, 2, &d), -ERANGE);
	assert_int_equal(engine_evaluate(eng, 5, T0 + M, 2, &d), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_grains),
		cmocka_unit_test(test_store_window_slides),
		cmocka_unit_test(test_store_exact_sums),
		cmocka_unit_test(test_store_late),
		cmocka_unit_test(test_store_forget),
		cmocka_unit_test_teardown(test_flapping_skip, teardown),
		cmocka_unit_test_teardown(test_flapping_partial, teardown),
		cmocka_unit_test_teardown(test_clamp, teardown),
		cmocka_unit_test_teardown(test_missing, teardown),
		cmocka_unit_test_teardown(test_warming, teardown),
		cmocka_unit_test_teardown(test_and_and_to, teardown),
		cmocka_unit_test_teardown(test_to_alone, teardown),
		cmocka_unit_test_teardown(test_percent, teardown),
		cmocka_unit_test_teardown(test_cooldown, teardown),
		cmocka_unit_test_teardown(test_cooldown_restored, teardown),
		cmocka_unit_test_teardown(test_divide, teardown),
		cmocka_unit_test_teardown(test_disabled, teardown),
		cmocka_unit_test_teardown(test_profiles_dst, teardown),
		cmocka_unit_test_teardown(test_records, teardown),
	};

	return testutil_run_then(tests, tz_cleanup);
}
