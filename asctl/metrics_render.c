/* metrics_render: one refresh of "asctl metrics" as JSON or as aligned tables */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_render.h"
#include "output.h"
#include "table.h"
#include "timeutil.h"

/* "0.4s" under 10 s, else whole seconds as "4m12s". */
static const char *metrics_render_age(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		ns = 0;
	if (ns < 10 * NSEC_PER_SEC) {
		snprintf(buf, len, "%.1fs", (double)ns / NSEC_PER_SEC);
		return buf;
	}
	return duration_format((ns + NSEC_PER_SEC / 2) / NSEC_PER_SEC * NSEC_PER_SEC, buf, len);
}

/* A value for the table: "-" when unknown, one decimal for percentages. */
static const char *metrics_render_value(double v, const char *unit, char *buf, size_t len)
{
	if (isnan(v))
		return "-";
	snprintf(buf, len, strcmp(unit, "percent") ? "%.6g" : "%.1f", v);
	return buf;
}

/* Seconds, to the millisecond. */
static json_t *metrics_render_seconds(int64_t ns)
{
	return json_real((double)llround((double)ns / NSEC_PER_MSEC) / 1000.0);
}

/* The values of one sample by metric name; values NULL: the latest sample's. */
static json_t *metrics_render_json_values(const struct metrics_summary *s, const float *values)
{
	json_t *o = json_object();
	uint32_t k;
	int r = 0;

	if (!o)
		return NULL;
	for (k = 0; k < s->nstats; k++)
		r |= output_set(o, s->stats[k].name,
				output_number(values ? values[k] : s->stats[k].latest));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *metrics_render_json_sample(const struct metrics_summary *s,
					  const struct metrics_sample *smp)
{
	char tbuf[64];
	json_t *o = json_object();
	int r = 0;

	if (!o)
		return NULL;
	r |= output_set(o, "time", output_string(time_format_rfc3339(smp->real_ns, tbuf, sizeof(tbuf))));
	r |= output_set(o, "mono_ns", json_integer(smp->mono_ns));
	r |= output_set(o, "values", metrics_render_json_values(s, smp->values));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *metrics_render_json_latest(const struct metrics_summary *s)
{
	char tbuf[64];
	json_t *o;
	int r = 0;

	if (!s->have_latest)
		return json_null();
	o = json_object();
	if (!o)
		return NULL;
	r |= output_set(o, "time", output_string(time_format_rfc3339(s->latest_real_ns, tbuf,
								     sizeof(tbuf))));
	r |= output_set(o, "mono_ns", json_integer(s->latest_mono_ns));
	r |= output_set(o, "values", metrics_render_json_values(s, NULL));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *metrics_render_json_averages(const struct metrics_summary *s)
{
	json_t *o = json_object(), *m;
	uint32_t k, w;
	int r = 0;

	if (!o)
		return NULL;
	for (k = 0; k < s->nstats && !r; k++) {
		m = json_object();
		for (w = 0; m && w < METRICS_WINDOWS; w++)
			r |= output_set(m, metrics_windows[w].name, output_number(s->stats[k].avg[w]));
		r |= output_set(o, s->stats[k].name, m);
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A sequence number, or null for none. */
static json_t *metrics_render_seq(uint64_t seq)
{
	return seq && seq <= INT64_MAX ? json_integer((json_int_t)seq) : json_null();
}

static json_t *metrics_render_json_conn(const struct ring_stream_conn *c, int64_t now_real_ns)
{
	json_t *o = json_object();
	int r = 0;

	if (!o)
		return NULL;
	r |= output_set(o, "coordinator", output_string(c->address));
	r |= output_set(o, "state", output_string(ring_conn_state_name(c->state)));
	r |= output_set(o, "since_s", c->since_real_ns ?
			metrics_render_seconds(now_real_ns - c->since_real_ns) : json_null());
	r |= output_set(o, "sent_seq", metrics_render_seq(c->sent_seq));
	r |= output_set(o, "acked_seq", metrics_render_seq(c->acked_seq));
	r |= output_set(o, "backlog", json_integer(c->backlog <= INT64_MAX ? (json_int_t)c->backlog : INT64_MAX));
	r |= output_set(o, "lost", json_integer(c->lost <= INT64_MAX ? (json_int_t)c->lost : INT64_MAX));
	r |= output_set(o, "reconnects", json_integer(c->reconnects));
	r |= output_set(o, "error", c->error[0] ? output_string(c->error) : json_null());
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* "stream": one object a coordinator; empty when the agent streams to none (or the ring is 1.0). */
static json_t *metrics_render_json_stream(const struct metrics_summary *s, int64_t now_real_ns)
{
	json_t *a = json_array();
	uint32_t i;
	int r = 0;

	if (!a || s->stream_rc != 0)
		return a;
	for (i = 0; i < s->stream.conn_count && !r; i++)
		r |= output_append(a, metrics_render_json_conn(&s->stream.conns[i], now_real_ns));
	if (r) {
		json_decref(a);
		return NULL;
	}
	return a;
}

json_t *metrics_render_json(const struct metrics_summary *s, const struct metrics_view *v)
{
	json_t *o = json_object(), *partial, *samples;
	char tbuf[64];
	uint32_t w;
	size_t i;
	int r = 0;

	if (!o)
		return NULL;
	r |= output_set(o, "ring", output_string(v->ring));
	r |= output_set(o, "time", output_string(time_format_rfc3339(v->now_real_ns, tbuf, sizeof(tbuf))));
	r |= output_set(o, "instance", output_string(s->instance));
	r |= output_set(o, "deployment", output_string(s->deployment));
	r |= output_set(o, "endpoint", output_string(s->endpoint));
	r |= output_set(o, "cgroup", output_string(s->cgroup));
	r |= output_set(o, "source", output_string(ring_source_name(s->source)));
	r |= output_set(o, "state", output_string(ring_state_name(s->state)));
	r |= output_set(o, "writer_pid", json_integer(s->writer_pid));
	r |= output_set(o, "restarted", json_boolean(v->restarted));
	r |= output_set(o, "heartbeat_age_s", metrics_render_seconds(s->heartbeat_age_ns));
	r |= output_set(o, "interval_s", metrics_render_seconds(s->interval_ns));
	r |= output_set(o, "slots", json_integer(s->slot_count));
	r |= output_set(o, "samples_held", json_integer((json_int_t)s->held));
	r |= output_set(o, "held_s", metrics_render_seconds(s->held_ns));
	r |= output_set(o, "latest", metrics_render_json_latest(s));
	r |= output_set(o, "averages", metrics_render_json_averages(s));
	r |= output_set(o, "stream", metrics_render_json_stream(s, v->now_real_ns));
	partial = json_array();
	for (w = 0; partial && w < METRICS_WINDOWS; w++)
		if (s->partial[w])
			r |= output_append(partial, output_string(metrics_windows[w].name));
	r |= output_set(o, "partial", partial);
	if (v->list) {
		samples = json_array();
		for (i = 0; samples && i < s->nsamples && !r; i++)
			r |= output_append(samples, metrics_render_json_sample(s, &s->samples[i]));
		r |= output_set(o, "samples", samples);
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- human ---- */

static int64_t metrics_render_latest_age(const struct metrics_summary *s)
{
	int64_t d;

	if (__builtin_sub_overflow(s->now_mono_ns, s->latest_mono_ns, &d))
		return INT64_MAX;
	return d;
}

/* A row of the label block: key, then value ("-" when empty). */
static void metrics_render_pair(struct table *t, const char *key, const char *value)
{
	table_row(t);
	table_cell(t, key);
	table_cell(t, value && *value ? value : NULL);
}

/* One line a coordinator: state, then the numbers ("acked": the newest ACK, or WELCOME's resume_seq). */
static void metrics_render_print_stream(struct table *t, const struct metrics_summary *s,
					const struct metrics_view *v)
{
	const struct ring_stream_conn *c;
	char a[32], b[32];
	uint32_t i;

	if (s->stream_rc != 0 || !s->stream.configured)
		return;
	table_row(t);
	table_cell(t, "stream");
	table_cellf(t, "%u coordinator%s, every %s, newest aggregate %llu", s->stream.configured,
		    s->stream.configured > 1 ? "s" : "",
		    duration_format(s->stream.report_interval_ns, a, sizeof(a)),
		    (unsigned long long)s->stream.last_seq);
	for (i = 0; i < s->stream.conn_count; i++) {
		c = &s->stream.conns[i];
		table_row(t);
		table_cell(t, "coordinator");
		table_cellf(t, "%s %s for %s: sent %llu, acked %llu, backlog %llu, "
			    "lost %llu, reconnects %u%s%s", c->address,
			    ring_conn_state_name(c->state),
			    metrics_render_age(v->now_real_ns - c->since_real_ns, b, sizeof(b)),
			    (unsigned long long)c->sent_seq, (unsigned long long)c->acked_seq,
			    (unsigned long long)c->backlog, (unsigned long long)c->lost,
			    c->reconnects, c->error[0] ? "; " : "", c->error);
	}
}

static int metrics_render_print_labels(FILE *f, const struct metrics_summary *s,
				       const struct metrics_view *v)
{
	char a[32], b[32], c[64];
	struct table *t;
	int r;

	if (table_init(&t) < 0)
		return -ENOMEM;
	table_column(t, NULL, TABLE_LEFT);
	table_column(t, NULL, TABLE_LEFT);
	metrics_render_pair(t, "ring", v->ring);
	metrics_render_pair(t, "instance", s->instance);
	metrics_render_pair(t, "deployment", s->deployment);
	metrics_render_pair(t, "endpoint", s->endpoint);
	metrics_render_pair(t, "cgroup", s->cgroup[0] ? s->cgroup : "(whole machine)");
	metrics_render_pair(t, "source", ring_source_name(s->source));
	table_row(t);
	table_cell(t, "state");
	table_cellf(t, "%s (heartbeat %s ago)", ring_state_name(s->state),
		    metrics_render_age(s->heartbeat_age_ns, a, sizeof(a)));
	metrics_render_pair(t, "interval", duration_format(s->interval_ns, a, sizeof(a)));
	table_row(t);
	table_cell(t, "held");
	table_cellf(t, "%llu samples in %u slots (%s)", (unsigned long long)s->held, s->slot_count,
		    metrics_render_age(s->held_ns, b, sizeof(b)));
	table_row(t);
	table_cell(t, "latest");
	if (s->have_latest)
		table_cellf(t, "%s (%s ago)", time_format_rfc3339(s->latest_real_ns, c, sizeof(c)),
			    metrics_render_age(metrics_render_latest_age(s), a, sizeof(a)));
	else
		table_cell(t, "no sample yet");
	metrics_render_print_stream(t, s, v);
	r = table_print(t, f);
	table_free(t);
	return r;
}

static int metrics_render_print_stats(FILE *f, const struct metrics_summary *s)
{
	char buf[96], held[32];
	struct table *t;
	uint32_t k, w;
	int r;

	if (table_init(&t) < 0)
		return -ENOMEM;
	table_column(t, "METRIC", TABLE_LEFT);
	table_column(t, "LATEST", TABLE_RIGHT);
	for (w = 0; w < METRICS_WINDOWS; w++) {
		if (s->partial[w])
			snprintf(buf, sizeof(buf), "AVG %s (%s held)", metrics_windows[w].name,
				 metrics_render_age(s->held_ns, held, sizeof(held)));
		else
			snprintf(buf, sizeof(buf), "AVG %s", metrics_windows[w].name);
		table_column(t, buf, TABLE_RIGHT);
	}
	for (k = 0; k < s->nstats; k++) {
		const struct metrics_stat *st = &s->stats[k];

		table_row(t);
		table_cell(t, st->name);
		table_cell(t, metrics_render_value(st->latest, st->unit, buf, sizeof(buf)));
		for (w = 0; w < METRICS_WINDOWS; w++)
			table_cell(t, metrics_render_value(st->avg[w], st->unit, buf, sizeof(buf)));
	}
	r = s->nstats ? table_print(t, f) : (fputs("no metrics in the ring\n", f) == EOF ? -EIO : 0);
	table_free(t);
	return r;
}

static int metrics_render_print_samples(FILE *f, const struct metrics_summary *s)
{
	char buf[64];
	struct table *t;
	uint32_t k;
	size_t i;
	int r;

	if (!s->nsamples)
		return fputs("no samples in that time\n", f) == EOF ? -EIO : 0;
	if (table_init(&t) < 0)
		return -ENOMEM;
	table_column(t, "TIME", TABLE_LEFT);
	for (k = 0; k < s->nstats; k++)
		table_column(t, s->stats[k].name, TABLE_RIGHT);
	for (i = 0; i < s->nsamples; i++) {
		table_row(t);
		table_cell(t, time_format_rfc3339(s->samples[i].real_ns, buf, sizeof(buf)));
		for (k = 0; k < s->nstats; k++)
			table_cell(t, metrics_render_value(s->samples[i].values[k],
							   s->stats[k].unit, buf, sizeof(buf)));
	}
	r = table_print(t, f);
	table_free(t);
	return r;
}

int metrics_render_print(FILE *f, const struct metrics_summary *s, const struct metrics_view *v)
{
	int r = 0;

	if (v->restarted && fputs("note: the writer replaced the ring; reopened it\n", f) == EOF)
		return -EIO;
	r = metrics_render_print_labels(f, s, v);
	if (!r)
		r = fputc('\n', f) == EOF ? -EIO : metrics_render_print_stats(f, s);
	if (!r && v->list)
		r = fputc('\n', f) == EOF ? -EIO : metrics_render_print_samples(f, s);
	return r;
}
