/* stream: the agent's streaming to its coordinators: start, reload, stop, report clock, state in the ring */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "keyfile.h"
#include "log.h"
#include "stream_int.h"
#include "timeutil.h"

#define STREAM_BYE_WAIT_NS	(200 * NSEC_PER_MSEC)

/* ---- the report clock ---- */

static void stream_arm_report(struct stream *s)
{
	uint64_t at = (s->last_k + 1) * (uint64_t)s->report_ns;

	sd_event_source_set_time(s->report, at / NSEC_PER_USEC + 1);
	sd_event_source_set_enabled(s->report, SD_EVENT_ONESHOT);
}

static int stream_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct stream *s = userdata;
	uint64_t k = aggregate_index(time_real_ns(), s->report_ns) - 1;
	unsigned i;

	(void)src;
	(void)usec;
	if (k > s->last_k)
		s->last_k = k;	/* a clock step back waits for time to catch up */
	for (i = 0; i < s->nconn; i++)
		if (s->conns[i].state == RING_CONN_CONNECTED)
			stream_send_pump(&s->conns[i]);
	stream_publish(s);
	stream_arm_report(s);
	return 0;
}

/* ---- state in the ring ---- */

void stream_state(const struct stream *s, struct ring_stream *st)
{
	const struct stream_conn *c;
	struct ring_stream_conn *o;
	unsigned i;

	memset(st, 0, sizeof(*st));
	st->conn_count = s->nconn < RING_STREAM_CONNS ? s->nconn : RING_STREAM_CONNS;
	st->configured = s->nconn;
	st->boot_id = s->boot.id;
	st->report_interval_ns = s->report_ns;
	st->last_seq = s->last_k >= s->first_k ? aggregate_seq(s->last_k, s->report_ns) : 0;
	st->updated_real_ns = time_real_ns();
	for (i = 0; i < st->conn_count; i++) {
		c = &s->conns[i];
		o = &st->conns[i];
		snprintf(o->address, sizeof(o->address), "%s", c->address);
		snprintf(o->error, sizeof(o->error), "%s", c->error);
		o->state = c->state;
		o->reconnects = c->reconnects;
		o->sent_seq = c->sent_seq;
		o->acked_seq = c->acked_seq;
		o->backlog = stream_send_backlog(c);
		o->lost = c->lost;
		o->since_real_ns = c->since_real_ns;
	}
}

void stream_publish(struct stream *s)
{
	struct ring_stream st;

	if (!s->writer)
		return;
	stream_state(s, &st);
	ring_writer_stream(s->writer, &st);
}

/* ---- life cycle ---- */

int stream_new(sd_event *e, const struct agent_conf *conf, struct ring_reader *ring,
	       struct ring_writer *writer, const struct stream_boot *boot, struct stream **sp)
{
	const struct ring_header *h = ring_reader_header(ring);
	char err[256];
	struct stream *s;
	unsigned i;
	int r;

	*sp = NULL;
	if (!conf->ncoord || !h || conf->report_interval_ns < NSEC_PER_MSEC)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->e = sd_event_ref(e);
	s->ring = ring;
	s->writer = writer;
	s->report_ns = conf->report_interval_ns;
	s->sample_ns = h->interval_ns;
	s->backoff_min_ns = NSEC_PER_SEC;
	s->backoff_max_ns = 30 * NSEC_PER_SEC;
	s->handshake_ns = 10 * NSEC_PER_SEC;
	snprintf(s->instance, sizeof(s->instance), "%s", conf->instance);
	snprintf(s->deployment, sizeof(s->deployment), "%s", conf->deployment);
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", conf->endpoint);
	s->nmetrics = h->metric_count < WIRE_METRICS_MAX ? (uint16_t)h->metric_count : WIRE_METRICS_MAX;
	r = keyfile_load(conf->key_file, &s->keys, err, sizeof(err));
	if (r < 0) {
		log_err("key_file %s", err);
		goto fail_quiet;
	}
	if (boot && boot->id) {
		s->boot = *boot;
		s->assigned = boot->assigned;
	} else {
		s->boot.start_real_ns = time_real_ns();
		do
			r = wire_random(&s->boot.id, sizeof(s->boot.id));
		while (r == 0 && s->boot.id == 0);
		if (r < 0)
			goto fail;
	}
	s->first_k = aggregate_index(s->boot.start_real_ns, s->report_ns);
	s->last_k = aggregate_index(time_real_ns(), s->report_ns) - 1;
	r = sd_event_add_time(e, &s->report, CLOCK_REALTIME, 0, 1000, stream_tick, s);
	if (r < 0)
		goto fail;
	stream_arm_report(s);
	for (i = 0; i < conf->ncoord; i++) {
		r = stream_conn_init(s, &s->conns[i], conf->coordinators[i]);
		s->conns[i].no = i;
		s->nconn = i + 1;
		if (r < 0)
			goto fail;
	}
	for (i = 0; i < s->nconn; i++)
		stream_conn_start(&s->conns[i]);
	stream_publish(s);
	*sp = s;
	return 0;
fail:
	log_err("cannot start streaming: %s", strerror(-r));
fail_quiet:
	stream_free(s, WIRE_BYE_ERROR);
	return r;
}

void stream_set_ring(struct stream *s, struct ring_reader *ring, struct ring_writer *writer)
{
	s->ring = ring;
	s->writer = writer;
	stream_publish(s);
}

void stream_boot(const struct stream *s, struct stream_boot *boot)
{
	*boot = s->boot;
	/* stream_free's GOODBYE takes the number after the last frame of its session */
	boot->assigned = s->assigned + 1;
}

void stream_set_timing(struct stream *s, int64_t backoff_min_ns, int64_t backoff_max_ns,
		       int64_t handshake_ns)
{
	s->backoff_min_ns = backoff_min_ns > 0 ? backoff_min_ns : 1;
	s->backoff_max_ns = backoff_max_ns > s->backoff_min_ns ? backoff_max_ns : s->backoff_min_ns;
	s->handshake_ns = handshake_ns > 0 ? handshake_ns : 1;
}

void stream_free(struct stream *s, enum wire_goodbye_reason reason)
{
	int64_t deadline = time_mono_ns() + STREAM_BYE_WAIT_NS;
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < s->nconn; i++)
		stream_conn_free(&s->conns[i], reason, deadline);
	if (s->writer) {
		struct ring_stream st;

		memset(&st, 0, sizeof(st));
		ring_writer_stream(s->writer, &st);	/* not streaming any more */
	}
	sd_event_source_disable_unref(s->report);
	wire_keys_free(&s->keys);
	sd_event_unref(s->e);
	free(s);
}
