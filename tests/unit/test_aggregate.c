/* test_aggregate: aggregates rebuilt from ring slots: stats, exact boundaries, NaN, lapped intervals */
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

#include "aggregate.h"
#include "keyfile.h"
#include "ring.h"
#include "timeutil.h"
#include "wire.h"

#define REPORT_NS	NSEC_PER_SEC
#define T0		(1700000000LL * NSEC_PER_SEC)	/* a report boundary */

static char dir[] = "/tmp/test_aggregate.XXXXXX";
static char path[512];

struct fixture {
	struct ring_writer *w;
	struct ring_reader *r;
};

static void fixture_open(struct fixture *f, uint32_t slots)
{
	struct ring_metric m[3];
	struct ring_params p = {
		.interval_ns = 100 * NSEC_PER_MSEC, .slot_count = slots, .metric_count = 3,
		.metrics = m, .source = RING_SOURCE_PROCFS, .instance = "vm-1", .mode = 0600,
		.gid = (gid_t)-1,
	};
	char err[256];

	memset(m, 0, sizeof(m));
	snprintf(m[0].name, sizeof(m[0].name), "Percentage CPU");
	snprintf(m[1].name, sizeof(m[1].name), "MemoryUtilizationPercentage");
	snprintf(m[2].name, sizeof(m[2].name), "Percentage Steal");
	snprintf(path, sizeof(path), "%s/agg.ring", dir);
	assert_int_equal(ring_writer_create(path, &p, &f->w), 0);
	assert_int_equal(ring_reader_open(path, &f->r, err, sizeof(err)), 0);
}

static void fixture_close(struct fixture *f)
{
	ring_reader_close(f->r);
	ring_writer_close(f->w);
}

static void put(struct fixture *f, int64_t real_ns, float a, float b, float c)
{
	float v[3] = { a, b, c };

	assert_int_equal(ring_writer_append(f->w, real_ns - T0 + NSEC_PER_SEC, real_ns, v), 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void test_seq_mapping(void **state)
{
	uint64_t k = aggregate_index(T0, REPORT_NS);

	(void)state;
	/* T0 starts interval k: [T0, T0 + 1s) ends at k * 1s */
	assert_int_equal((int64_t)k * REPORT_NS, T0 + REPORT_NS);
	assert_int_equal(aggregate_index(T0 - 1, REPORT_NS), k - 1);
	assert_int_equal(aggregate_seq(k, REPORT_NS), (T0 + REPORT_NS) / NSEC_PER_MSEC);
	/* after: the first interval numbered above seq */
	assert_int_equal(aggregate_after(aggregate_seq(k, REPORT_NS), REPORT_NS), k + 1);
	assert_int_equal(aggregate_after(aggregate_seq(k, REPORT_NS) - 1, REPORT_NS), k);
	assert_int_equal(aggregate_after(aggregate_seq(k, REPORT_NS) + 3, REPORT_NS), k + 1);
	assert_int_equal(aggregate_after(0, REPORT_NS), 1);
	/* 1.5 s intervals: numbers still grow with time */
	assert_true(aggregate_seq(k + 1, 1500 * NSEC_PER_MSEC) > aggregate_seq(k, 1500 * NSEC_PER_MSEC));
	assert_int_equal(aggregate_after(aggregate_seq(7, 1500 * NSEC_PER_MSEC), 1500 * NSEC_PER_MSEC), 8);
}

static void test_stats_and_boundaries(void **state)
{
	struct wire_aggregate a;
	struct fixture f;
	uint64_t k = aggregate_index(T0, REPORT_NS);

	(void)state;
	fixture_open(&f, 64);
	put(&f, T0 - 1, 99, 99, 99);			/* previous interval */
	put(&f, T0, 10, NAN, 1);			/* the start belongs */
	put(&f, T0 + 300 * NSEC_PER_MSEC, 50, 20, NAN);
	put(&f, T0 + 600 * NSEC_PER_MSEC, 5, NAN, NAN);
	put(&f, T0 + REPORT_NS - 1, 30, 40, NAN);	/* the last nanosecond belongs */
	put(&f, T0 + REPORT_NS, 77, 77, 77);		/* the end does not */
	assert_int_equal(aggregate_build(f.r, 3, k, REPORT_NS, &a), 0);
	assert_int_equal(a.seq, (uint64_t)((T0 + REPORT_NS) / NSEC_PER_MSEC));
	assert_int_equal(a.start_ns, T0);
	assert_int_equal(a.end_ns, T0 + REPORT_NS);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.stats[0].index, 0);
	assert_int_equal(a.stats[0].count, 4);
	assert_true(a.stats[0].sum == 95.0);
	assert_true(a.stats[0].min == 5.0);
	assert_true(a.stats[0].max == 50.0);
	assert_true(a.stats[0].last == 30.0);
	/* NaN skipped */
	assert_int_equal(a.stats[1].count, 2);
	assert_true(a.stats[1].sum == 60.0 && a.stats[1].min == 20.0 && a.stats[1].max == 40.0);
	assert_true(a.stats[1].last == 40.0);
	assert_int_equal(a.stats[2].count, 1);
	assert_true(a.stats[2].last == 1.0 && a.stats[2].min == 1.0);
	/* the next interval holds only the sample at its start */
	assert_int_equal(aggregate_build(f.r, 3, k + 1, REPORT_NS, &a), 0);
	assert_int_equal(a.stats[0].count, 1);
	assert_true(a.stats[0].sum == 77.0);
	/* an interval without samples: count 0, NaN stats, still valid on the wire */
	assert_int_equal(aggregate_build(f.r, 3, k + 5, REPORT_NS, &a), 0);
	assert_int_equal(a.stats[0].count, 0);
	assert_true(isnan(a.stats[0].min));
	/* fewer metrics than the ring has */
	assert_int_equal(aggregate_build(f.r, 1, k, REPORT_NS, &a), 0);
	assert_int_equal(a.count, 1);
	assert_int_equal(aggregate_build(f.r, 4, k, REPORT_NS, &a), -EINVAL);
	assert_int_equal(aggregate_build(f.r, 3, 0, REPORT_NS, &a), -EINVAL);
	fixture_close(&f);
}

static void test_lapped_interval_is_stale(void **state)
{
	struct wire_aggregate a;
	struct fixture f;
	uint64_t k = aggregate_index(T0, REPORT_NS);
	int i;

	(void)state;
	/* 8 slots of 100 ms hold 0.8 s: 30 samples lap the ring several times */
	fixture_open(&f, 8);
	for (i = 0; i < 30; i++)
		put(&f, T0 + i * 100 * NSEC_PER_MSEC, (float)i, 0, 0);
	/* held: samples 22..29 (2.2 s .. 2.9 s) */
	assert_int_equal(aggregate_build(f.r, 3, k, REPORT_NS, &a), -ESTALE);
	assert_int_equal(aggregate_build(f.r, 3, k + 1, REPORT_NS, &a), -ESTALE);
	/* [2 s, 3 s): sample 22 is the oldest and lies inside: samples 20, 21 are gone */
	assert_int_equal(aggregate_build(f.r, 3, k + 2, REPORT_NS, &a), -ESTALE);
	for (i = 30; i < 36; i++)
		put(&f, T0 + i * 100 * NSEC_PER_MSEC, (float)i, 0, 0);
	/* held: 28..35: [3 s, 4 s) is whole (29 is before it... 28 and 29 precede 3 s) */
	assert_int_equal(aggregate_build(f.r, 3, k + 3, REPORT_NS, &a), 0);
	assert_int_equal(a.stats[0].count, 6);
	assert_true(a.stats[0].min == 30.0 && a.stats[0].max == 35.0 && a.stats[0].last == 35.0);
	fixture_close(&f);
}

/* The same interval built twice encodes to the same bytes but the HMAC (another session nonce). */
static void test_deterministic_rebuild(void **state)
{
	static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct wire_aggregate a, b;
	struct wire_keys keys;
	struct wire_session s1, s2;
	struct fixture f;
	uint64_t k = aggregate_index(T0, REPORT_NS);
	uint8_t f1[4096], f2[4096];
	size_t l1, l2;
	int i;

	(void)state;
	fixture_open(&f, 64);
	for (i = 0; i < 25; i++)
		put(&f, T0 + i * 100 * NSEC_PER_MSEC + 7, (float)(i * 1.5), (float)i, i % 3 ? NAN : 1.0f);
	assert_int_equal(aggregate_build(f.r, 3, k + 1, REPORT_NS, &a), 0);
	for (i = 25; i < 40; i++)
		put(&f, T0 + i * 100 * NSEC_PER_MSEC + 7, 1000, 1000, 1000);
	assert_int_equal(aggregate_build(f.r, 3, k + 1, REPORT_NS, &b), 0);
	assert_memory_equal(&a, &b, offsetof(struct wire_aggregate, stats) + 3 * sizeof(a.stats[0]));

	assert_int_equal(wire_keys_init(&keys), 0);
	assert_int_equal(wire_keys_add(&keys, 1, key, sizeof(key)), 0);
	wire_session_init(&s1, &keys, true);
	wire_session_init(&s2, &keys, true);
	s1.established = s2.established = true;
	s1.metric_count = s2.metric_count = 3;
	memset(s1.nonce, 1, sizeof(s1.nonce));
	memset(s2.nonce, 2, sizeof(s2.nonce));
	assert_int_equal(wire_encode_aggregate(f1, sizeof(f1), &s1, &a, &l1), 0);
	assert_int_equal(wire_encode_aggregate(f2, sizeof(f2), &s2, &b, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(f1, f2, WIRE_HMAC_OFFSET);
	assert_memory_equal(f1 + WIRE_HEADER_LEN, f2 + WIRE_HEADER_LEN, l1 - WIRE_HEADER_LEN);
	assert_memory_not_equal(f1 + WIRE_HMAC_OFFSET, f2 + WIRE_HMAC_OFFSET, WIRE_HMAC_LEN);
	wire_keys_free(&keys);
	fixture_close(&f);
}

static void test_empty_ring(void **state)
{
	struct wire_aggregate a;
	struct fixture f;

	(void)state;
	fixture_open(&f, 8);
	assert_int_equal(aggregate_build(f.r, 3, aggregate_index(T0, REPORT_NS), REPORT_NS, &a), 0);
	assert_int_equal(a.stats[2].count, 0);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_mapping),
		cmocka_unit_test(test_stats_and_boundaries),
		cmocka_unit_test(test_lapped_interval_is_stale),
		cmocka_unit_test(test_deterministic_rebuild),
		cmocka_unit_test(test_empty_ring),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
