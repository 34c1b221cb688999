/* metrics_summary: the latest values and window averages held in the agent's ring */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_summary.h"
#include "timeutil.h"

const struct metrics_window metrics_windows[METRICS_WINDOWS] = {
	{ "10s", 10 * NSEC_PER_SEC },
	{ "1m", 60 * NSEC_PER_SEC },
	{ "5m", 300 * NSEC_PER_SEC },
};

#define METRICS_PER_CPU_PREFIX	"Percentage CPU cpu"
/* tries at the oldest slot while the writer laps it */
#define METRICS_OLDEST_TRIES	8

bool metrics_per_cpu(const char *name)
{
	size_t n = strlen(METRICS_PER_CPU_PREFIX);

	if (strncmp(name, METRICS_PER_CPU_PREFIX, n) || !name[n])
		return false;
	return strspn(name + n, "0123456789") == strlen(name + n);
}

void metrics_summary_free(struct metrics_summary *s)
{
	free(s->stats);
	free(s->samples);
	free(s->sample_values);
	s->stats = NULL;
	s->samples = NULL;
	s->sample_values = NULL;
	s->nstats = 0;
	s->nsamples = 0;
}

/* Copies a label the reader checked to be terminated, bounded all the same. */
static void metrics_label(char *dst, size_t size, const char *src, size_t srcsize)
{
	size_t n = strnlen(src, srcsize);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* a - b, saturated */
static int64_t metrics_sub(int64_t a, int64_t b)
{
	int64_t d;

	if (__builtin_sub_overflow(a, b, &d))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return d;
}

static int metrics_pick(struct metrics_summary *s, const struct ring_metric *m,
			uint32_t count, bool per_cpu)
{
	uint32_t i, k;

	s->stats = calloc(count ? count : 1, sizeof(*s->stats));
	if (!s->stats)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		struct metrics_stat *st = &s->stats[s->nstats];

		metrics_label(st->name, sizeof(st->name), m[i].name, sizeof(m[i].name));
		if (!per_cpu && metrics_per_cpu(st->name))
			continue;
		metrics_label(st->unit, sizeof(st->unit), m[i].unit, sizeof(m[i].unit));
		st->index = i;
		st->latest = NAN;
		for (k = 0; k < METRICS_WINDOWS; k++)
			st->avg[k] = NAN;
		s->nstats++;
	}
	return 0;
}

/* Adds a sample to the --since list (newest first until metrics_finish). */
static int metrics_keep(struct metrics_summary *s, size_t *cap, const struct ring_sample *smp)
{
	struct metrics_sample *ns;
	float *nv;
	size_t n;
	uint32_t k;

	if (s->nsamples == *cap) {
		n = *cap ? 2 * *cap : 64;
		if (s->nstats && n > SIZE_MAX / sizeof(float) / s->nstats)
			return -ENOMEM;
		ns = realloc(s->samples, n * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		s->samples = ns;
		nv = realloc(s->sample_values, n * (s->nstats ? s->nstats : 1) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->sample_values = nv;
		*cap = n;
	}
	s->samples[s->nsamples].mono_ns = smp->mono_ns;
	s->samples[s->nsamples].real_ns = smp->real_ns;
	for (k = 0; k < s->nstats; k++)
		s->sample_values[s->nsamples * s->nstats + k] = smp->values[s->stats[k].index];
	s->nsamples++;
	return 0;
}

/* Puts the --since list oldest first and points each sample at its values. */
static void metrics_finish(struct metrics_summary *s)
{
	struct metrics_sample tmp;
	size_t i, j;
	uint32_t k;
	float v;

	for (i = 0, j = s->nsamples; i + 1 < j; i++, j--) {
		tmp = s->samples[i];
		s->samples[i] = s->samples[j - 1];
		s->samples[j - 1] = tmp;
		for (k = 0; k < s->nstats; k++) {
			v = s->sample_values[i * s->nstats + k];
			s->sample_values[i * s->nstats + k] = s->sample_values[(j - 1) * s->nstats + k];
			s->sample_values[(j - 1) * s->nstats + k] = v;
		}
	}
	for (i = 0; i < s->nsamples; i++)
		s->samples[i].values = s->sample_values + i * s->nstats;
}

/* The mono time of the oldest slot still held, reading forward past lapped ones. */
static int metrics_oldest(struct ring_reader *r, uint32_t slot_count, int64_t *mono)
{
	struct ring_sample smp;
	uint64_t head, idx;
	int tries, ret = -EAGAIN;

	for (tries = 0; tries < METRICS_OLDEST_TRIES; tries++) {
		head = ring_reader_head(r);
		idx = head > slot_count ? head - slot_count : 0;
		ret = ring_reader_read(r, idx, &smp);
		if (ret == 0) {
			*mono = smp.mono_ns;
			return 0;
		}
		if (ret != -ESTALE)
			break;
	}
	return ret;
}

int metrics_summarize(struct ring_reader *r, int64_t now, bool per_cpu,
		      int64_t since_ns, struct metrics_summary *s)
{
	const struct ring_header *h;
	struct ring_sample smp;
	uint64_t head, lo, idx;
	int64_t span, age, oldest = 0, start;
	size_t cap = 0;
	bool beyond = false, in_window = false;
	uint32_t k, w;
	double v;
	int ret;

	memset(s, 0, sizeof(*s));
	s->now_mono_ns = now;
	s->state = ring_reader_state(r, now);	/* also refreshes the live header fields */
	h = ring_reader_header(r);
	metrics_label(s->instance, sizeof(s->instance), h->instance, sizeof(h->instance));
	metrics_label(s->deployment, sizeof(s->deployment), h->deployment, sizeof(h->deployment));
	metrics_label(s->endpoint, sizeof(s->endpoint), h->endpoint, sizeof(h->endpoint));
	metrics_label(s->cgroup, sizeof(s->cgroup), h->cgroup, sizeof(h->cgroup));
	s->source = (enum ring_source)h->source;
	s->writer_pid = h->writer_pid;
	s->heartbeat_age_ns = metrics_sub(now, h->heartbeat_mono_ns);
	s->interval_ns = h->interval_ns;
	s->slot_count = h->slot_count;
	s->stream_rc = ring_reader_stream(r, &s->stream);
	if (s->state == RING_RESTARTED)
		return 0;

	ret = metrics_pick(s, ring_reader_metrics(r), h->metric_count, per_cpu);
	if (ret < 0)
		return ret;

	span = metrics_windows[METRICS_WINDOWS - 1].ns;
	if (since_ns > span)
		span = since_ns;
	head = ring_reader_head(r);
	lo = head > s->slot_count ? head - s->slot_count : 0;
	for (idx = head; idx > lo; idx--) {
		ret = ring_reader_read(r, idx - 1, &smp);
		if (ret == -EAGAIN && idx == head)
			continue;	/* the newest slot, still being written */
		if (ret == -EAGAIN || ret == -ESTALE)
			break;		/* lapped: older slots are gone too */
		if (ret < 0)
			return ret;
		if (!s->have_latest) {
			s->have_latest = true;
			s->latest_mono_ns = smp.mono_ns;
			s->latest_real_ns = smp.real_ns;
			for (k = 0; k < s->nstats; k++)
				s->stats[k].latest = smp.values[s->stats[k].index];
		}
		age = metrics_sub(now, smp.mono_ns);
		if (age >= span) {
			beyond = true;
			break;
		}
		oldest = smp.mono_ns;
		in_window = true;
		for (k = 0; k < s->nstats; k++) {
			v = smp.values[s->stats[k].index];
			if (isnan(v))
				continue;
			for (w = 0; w < METRICS_WINDOWS; w++) {
				if (age >= metrics_windows[w].ns)
					continue;
				/* avg holds the running sum until the end */
				s->stats[k].avg[w] = s->stats[k].count[w] ? s->stats[k].avg[w] + v : v;
				s->stats[k].count[w]++;
			}
		}
		if (since_ns > 0 && age < since_ns) {
			ret = metrics_keep(s, &cap, &smp);
			if (ret < 0)
				return ret;
		}
	}
	for (k = 0; k < s->nstats; k++)
		for (w = 0; w < METRICS_WINDOWS; w++)
			if (s->stats[k].count[w])
				s->stats[k].avg[w] /= (double)s->stats[k].count[w];
	metrics_finish(s);

	head = ring_reader_head(r);
	s->held = head < s->slot_count ? head : s->slot_count;
	if (!s->have_latest)
		return 0;
	/* the history reaches past every window: only its length is still to learn */
	if (beyond && metrics_oldest(r, s->slot_count, &oldest) < 0)
		oldest = metrics_sub(now, span);
	if (!beyond && !in_window)
		oldest = s->latest_mono_ns;	/* cannot happen: the newest is in or beyond */
	s->held_ns = metrics_sub(s->latest_mono_ns, oldest);
	if (s->held_ns < 0)
		s->held_ns = 0;
	if (s->held_ns < INT64_MAX - s->interval_ns)
		s->held_ns += s->interval_ns;	/* a sample covers the interval before it */
	/* a window starting before the oldest sample's interval covers less than its length */
	start = metrics_sub(oldest, s->interval_ns);
	for (w = 0; w < METRICS_WINDOWS; w++)
		s->partial[w] = start > metrics_sub(now, metrics_windows[w].ns) + s->interval_ns / 2;
	return 0;
}
