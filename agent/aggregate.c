/* aggregate: one report interval's AGGREGATE rebuilt from the ring's slots */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "aggregate.h"
#include "timeutil.h"

uint64_t aggregate_seq(uint64_t k, int64_t report_ns)
{
	unsigned __int128 end = (unsigned __int128)k * (uint64_t)report_ns;

	return (uint64_t)(end / NSEC_PER_MSEC);
}

uint64_t aggregate_after(uint64_t seq, int64_t report_ns)
{
	/* the first k with k * report_ns >= (seq + 1) ms */
	unsigned __int128 want = ((unsigned __int128)seq + 1) * NSEC_PER_MSEC;

	return (uint64_t)((want + (uint64_t)report_ns - 1) / (uint64_t)report_ns);
}

uint64_t aggregate_index(int64_t real_ns, int64_t report_ns)
{
	if (real_ns < 0)
		return 0;
	return (uint64_t)(real_ns / report_ns) + 1;
}

/* The first index in [lo, hi) whose slot's real_ns >= t (hi when none); -ESTALE when a slot is gone. */
static int aggregate_find(struct ring_reader *r, uint64_t lo, uint64_t hi, int64_t t, uint64_t *at)
{
	struct ring_sample s;
	uint64_t mid;
	int ret;

	/* the ring's times grow with the index (a clock step back makes this approximate) */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		ret = ring_reader_read(r, mid, &s);
		if (ret < 0)
			return ret == -EAGAIN ? -ESTALE : ret;
		if (s.real_ns < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

static void aggregate_add(struct wire_metric_stat *m, double v)
{
	if (!isfinite(v))
		return;
	if (m->count == 0) {
		m->min = m->max = v;
	} else {
		if (v < m->min)
			m->min = v;
		if (v > m->max)
			m->max = v;
	}
	m->count++;
	m->sum += v;
	m->last = v;
}

int aggregate_build(struct ring_reader *r, uint16_t nmetrics, uint64_t k, int64_t report_ns,
		    struct wire_aggregate *out)
{
	const struct ring_header *h = ring_reader_header(r);
	struct ring_sample s;
	uint64_t head, oldest, i;
	int64_t start, end;
	uint16_t m;
	int ret;

	if (!h || !out || report_ns <= 0 || k == 0 || nmetrics > WIRE_METRICS_MAX ||
	    nmetrics > h->metric_count || k > (uint64_t)INT64_MAX / (uint64_t)report_ns)
		return -EINVAL;
	end = (int64_t)k * report_ns;
	start = end - report_ns;
	memset(out, 0, sizeof(*out));
	out->seq = aggregate_seq(k, report_ns);
	out->start_ns = start;
	out->end_ns = end;
	out->count = nmetrics;
	for (m = 0; m < nmetrics; m++) {
		out->stats[m].index = m;
		out->stats[m].min = out->stats[m].max = out->stats[m].last = NAN;
	}
	head = ring_reader_head(r);
	if (head == 0)
		return 0;
	oldest = head > h->slot_count ? head - h->slot_count : 0;
	if (oldest > 0) {
		/* a lapped ring: the slot before the interval must still be there */
		ret = ring_reader_read(r, oldest, &s);
		if (ret < 0 || s.real_ns >= start)
			return -ESTALE;
	}
	ret = aggregate_find(r, oldest, head, start, &i);
	if (ret < 0)
		return ret;
	for (; i < head; i++) {
		ret = ring_reader_read(r, i, &s);
		if (ret == -EAGAIN)
			break;
		if (ret < 0)
			return ret;
		if (s.real_ns >= end)
			break;
		if (s.real_ns < start)
			continue;	/* a clock step back put it here */
		for (m = 0; m < nmetrics; m++)
			aggregate_add(&out->stats[m], s.values[m]);
	}
	return 0;
}
