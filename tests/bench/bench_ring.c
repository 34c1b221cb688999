/* bench_ring: writer and reader cost of the sample ring, as "name value unit" lines */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define BENCH_METRICS	40
#define BENCH_SLOTS	6000
#define BENCH_APPENDS	5000000
#define BENCH_PASSES	500
#define BENCH_READERS	2

static struct ring_metric bench_metrics[BENCH_METRICS];
static float bench_values[BENCH_METRICS];
static int bench_stop;

static int64_t bench_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_create(const char *path, struct ring_writer **w)
{
	struct ring_params p = {
		.interval_ns = 100000000,
		.slot_count = BENCH_SLOTS,
		.metric_count = BENCH_METRICS,
		.metrics = bench_metrics,
		.source = RING_SOURCE_PROCFS,
		.ncpu = BENCH_METRICS - 3,
		.instance = "bench",
		.mode = 0600,
		.gid = (gid_t)-1,
	};
	int i, r;

	for (i = 0; i < BENCH_METRICS; i++) {
		snprintf(bench_metrics[i].name, sizeof(bench_metrics[i].name), "Percentage CPU cpu%d", i);
		snprintf(bench_metrics[i].unit, sizeof(bench_metrics[i].unit), "percent");
		bench_values[i] = (float)i * 1.5f;
	}
	r = ring_writer_create(path, &p, w);
	if (r < 0)
		fprintf(stderr, "bench_ring: %s: %s\n", path, strerror(-r));
	return r;
}

/* Wall (and the writing thread's CPU) nanoseconds per append. */
static void bench_write(struct ring_writer *w, int n, double *wall, double *cpu)
{
	int64_t t0 = bench_ns(CLOCK_MONOTONIC), c0 = bench_ns(CLOCK_THREAD_CPUTIME_ID);
	int i;

	for (i = 0; i < n; i++) {
		bench_values[0] = (float)i;
		ring_writer_append(w, t0 + i, t0 + i, bench_values);
	}
	*wall = (double)(bench_ns(CLOCK_MONOTONIC) - t0) / n;
	*cpu = (double)(bench_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
}

static int bench_read(const char *path, double *ns)
{
	struct ring_reader *r;
	struct ring_sample s;
	char err[256];
	uint64_t head, i, reads = 0;
	volatile float sink = 0;
	int64_t t0;
	int pass, rc;

	rc = ring_reader_open(path, &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bench_ring: %s: %s\n", path, err);
		return rc;
	}
	head = ring_reader_head(r);
	t0 = bench_ns(CLOCK_MONOTONIC);
	for (pass = 0; pass < BENCH_PASSES; pass++) {
		for (i = head - BENCH_SLOTS; i < head; i++) {
			rc = ring_reader_read(r, i, &s);
			if (rc < 0) {
				fprintf(stderr, "bench_ring: read %llu: %s\n",
					(unsigned long long)i, strerror(-rc));
				ring_reader_close(r);
				return rc;
			}
			sink += s.values[BENCH_METRICS - 1];
			reads++;
		}
	}
	*ns = (double)(bench_ns(CLOCK_MONOTONIC) - t0) / (double)reads;
	(void)sink;
	ring_reader_close(r);
	return 0;
}

/* A reader spinning on the newest slot, as a busy monitor would. */
static void *bench_spin(void *arg)
{
	struct ring_reader *r = arg;
	struct ring_sample s;
	uint64_t head;

	while (!__atomic_load_n(&bench_stop, __ATOMIC_ACQUIRE)) {
		head = ring_reader_head(r);
		if (head)
			(void)ring_reader_read(r, head - 1, &s);
	}
	return NULL;
}

static int bench_contended(const char *path, struct ring_writer *w, double *wall, double *cpu)
{
	struct ring_reader *r[BENCH_READERS];
	pthread_t t[BENCH_READERS];
	char err[256];
	int i, n = 0, rc = 0;

	for (i = 0; i < BENCH_READERS; i++) {
		rc = ring_reader_open(path, &r[i], err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "bench_ring: %s: %s\n", path, err);
			break;
		}
		rc = -pthread_create(&t[i], NULL, bench_spin, r[i]);
		if (rc < 0) {
			fprintf(stderr, "bench_ring: thread: %s\n", strerror(-rc));
			ring_reader_close(r[i]);
			break;
		}
		n++;
	}
	if (rc == 0)
		bench_write(w, BENCH_APPENDS, wall, cpu);
	__atomic_store_n(&bench_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ring_reader_close(r[i]);
	}
	return rc;
}

int main(void)
{
	char dir[] = "/dev/shm/bench_ring.XXXXXX", dir2[] = "/tmp/bench_ring.XXXXXX";
	char path[512];
	const char *d;
	struct ring_writer *w;
	double wall, cpu, read_ns;
	int rc;

	d = mkdtemp(dir);
	if (!d)
		d = mkdtemp(dir2);
	if (!d) {
		fprintf(stderr, "bench_ring: cannot make a directory: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bench.ring", d);
	rc = bench_create(path, &w);
	if (rc < 0)
		goto out;

	bench_write(w, BENCH_APPENDS / 10, &wall, &cpu);	/* warm up */
	bench_write(w, BENCH_APPENDS, &wall, &cpu);
	printf("ring_write_ns %.1f ns\n", wall);

	rc = bench_read(path, &read_ns);
	if (rc < 0)
		goto close;
	printf("ring_read_ns %.1f ns\n", read_ns);

	rc = bench_contended(path, w, &wall, &cpu);
	if (rc < 0)
		goto close;
	printf("ring_write_2readers_ns %.1f ns\n", wall);
	printf("ring_write_2readers_cpu_ns %.1f ns\n", cpu);

close:
	ring_writer_close(w);
out:
	unlink(path);
	rmdir(d);
	return rc < 0 ? 1 : 0;
}
