/* stream_send: a connection's output queue and frames: HELLO, aggregates from the ring, HEARTBEAT, GOODBYE */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "aggregate.h"
#include "log.h"
#include "stream_int.h"
#include "timeutil.h"
#include "version.h"

#define STREAM_BURST		32		/* backlog aggregates built per event-loop turn */

/* ---- output ---- */

/* Makes room for a frame of up to need bytes at out + out_len. */
static size_t conn_room(struct stream_conn *c)
{
	if (c->out_head && c->out_head == c->out_len) {
		c->out_head = c->out_len = 0;
	} else if (c->out_head > STREAM_OUT_MAX / 2) {
		memmove(c->out, c->out + c->out_head, c->out_len - c->out_head);
		c->out_len -= c->out_head;
		c->out_head = 0;
	}
	return STREAM_OUT_MAX - c->out_len;
}

/* Records a queued frame of len bytes; seq non-zero for an AGGREGATE. */
static void conn_queued(struct stream_conn *c, size_t len, uint64_t seq, uint64_t frame_seq)
{
	struct stream_mark *m;

	c->out_len += len;
	c->out_total += len;
	if (frame_seq)
		c->last_seq = frame_seq;
	if (frame_seq > c->s->assigned)
		c->s->assigned = frame_seq;
	c->last_queue_mono = time_mono_ns();
	if (seq) {
		m = &c->marks[(c->mark_head + c->mark_count) % STREAM_MARKS];
		m->end = c->out_total;
		m->seq = seq;
		c->mark_count++;
	}
}

/* Writes what the socket takes; 0, or -errno when the connection is broken. */
static int conn_flush(struct stream_conn *c)
{
	struct stream_mark *m;
	ssize_t n;

	while (c->out_head < c->out_len) {
		n = send(c->fd, c->out + c->out_head, c->out_len - c->out_head,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		c->out_head += (size_t)n;
		c->out_done += (uint64_t)n;
	}
	/* "sent": the aggregates whose last byte the kernel took */
	while (c->mark_count) {
		m = &c->marks[c->mark_head];
		if (m->end > c->out_done)
			break;
		c->sent_seq = m->seq;
		c->mark_head = (c->mark_head + 1) % STREAM_MARKS;
		c->mark_count--;
	}
	return 0;
}

static void conn_events(struct stream_conn *c)
{
	uint32_t ev = EPOLLIN;

	if (!c->tcp_up || c->out_head < c->out_len ||
	    (c->state == RING_CONN_CONNECTED && c->next_k <= c->s->last_k))
		ev |= EPOLLOUT;
	sd_event_source_set_io_events(c->io, ev);
}

/* ---- aggregates from the ring ---- */

/* The aggregates due on this connection and not yet queued. */
uint64_t stream_send_backlog(const struct stream_conn *c)
{
	const struct stream *s = c->s;

	/* before the first WELCOME, everything of this boot is due */
	uint64_t from = c->ever_connected ? c->next_k : s->first_k;

	return s->last_k >= from ? s->last_k - from + 1 : 0;
}

/* The first interval the ring can still give whole (older ones are lost). */
static uint64_t stream_first_held(struct stream *s)
{
	const struct ring_header *h = ring_reader_header(s->ring);
	struct ring_sample smp;
	uint64_t head = ring_reader_head(s->ring), k;

	k = aggregate_index(h->created_real_ns, s->report_ns);
	if (head > h->slot_count && ring_reader_read(s->ring, head - h->slot_count, &smp) == 0)
		k = aggregate_index(smp.real_ns, s->report_ns) + 1;
	return k;
}

/* Queues backlog aggregates, at most STREAM_BURST, while the buffer has room. */
static void conn_fill(struct stream_conn *c)
{
	struct stream *s = c->s;
	uint64_t held;
	unsigned n;
	size_t len;
	int r;

	if (c->state != RING_CONN_CONNECTED || c->next_k > s->last_k)
		return;
	held = stream_first_held(s);
	if (c->next_k < held) {
		c->lost += (held > s->last_k + 1 ? s->last_k + 1 : held) - c->next_k;
		c->next_k = held;
	}
	for (n = 0; n < STREAM_BURST && c->next_k <= s->last_k; n++) {
		if (c->mark_count == STREAM_MARKS)
			break;
		r = aggregate_build(s->ring, s->nmetrics, c->next_k, s->report_ns, &s->agg);
		if (r < 0 || s->agg.seq <= c->last_seq) {
			c->lost++;	/* -ESTALE: the ring lapped it meanwhile; or the clock went back */
			c->next_k++;
			continue;
		}
		conn_room(c);
		r = wire_encode_aggregate(c->out + c->out_len, STREAM_OUT_MAX - c->out_len,
					  &c->session, &s->agg, &len);
		if (r == -ENOBUFS)
			break;	/* the buffer is full: more when it drains */
		if (r < 0) {
			log_err("coordinator %s: cannot encode aggregate %llu: %s", c->address,
				(unsigned long long)s->agg.seq, wire_strerror(r));
			c->lost++;
			c->next_k++;
			continue;
		}
		conn_queued(c, len, s->agg.seq, s->agg.seq);
		c->next_k++;
	}
}

/* Writes what the socket takes and queues backlog aggregates in the room left; a broken socket fails c. */
void stream_send_pump(struct stream_conn *c)
{
	int r;

	if (c->fd < 0 || !c->tcp_up)
		return;
	r = conn_flush(c);
	if (r == 0) {
		conn_fill(c);
		r = conn_flush(c);
	}
	if (r < 0) {
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "write: %s", strerror(-r));
		return;
	}
	conn_events(c);
}

/* ---- HELLO, HEARTBEAT, GOODBYE ---- */

static int64_t stream_now_ms(void)
{
	return time_real_ns() / NSEC_PER_MSEC;
}

/* A sequence number for HEARTBEAT or GOODBYE: now in ms, above the last one sent. */
static uint64_t conn_control_seq(const struct stream_conn *c)
{
	int64_t now = stream_now_ms();

	return now > 0 && (uint64_t)now > c->last_seq ? (uint64_t)now : c->last_seq + 1;
}

/* Queues HELLO on a fresh connection: 0, or the codec's error. */
int stream_send_hello(struct stream_conn *c)
{
	struct stream *s = c->s;
	const struct ring_metric *m = ring_reader_metrics(s->ring);
	struct wire_hello *h = &s->hello;
	size_t len;
	uint16_t i;
	int r;

	memset(h, 0, sizeof(*h));
	r = wire_random(h->nonce, sizeof(h->nonce));
	if (r < 0)
		return r;
	h->boot_id = s->boot.id;
	h->last_seq = s->last_k >= s->first_k ? aggregate_seq(s->last_k, s->report_ns) : 0;
	if (s->assigned > h->last_seq)
		h->last_seq = s->assigned;	/* a HEARTBEAT or GOODBYE went out after it */
	h->agent_real_ns = time_real_ns();
	h->sample_interval_ns = s->sample_ns;
	h->report_interval_ns = s->report_ns;
	h->agent_version = wire_str_c(ASCALE_VERSION);
	h->instance = wire_str_c(s->instance);
	h->deployment = wire_str_c(s->deployment);
	h->endpoint = wire_str_c(s->endpoint);
	h->metric_count = s->nmetrics;
	for (i = 0; i < s->nmetrics; i++) {
		h->metrics[i].name = wire_str_c(m[i].name);
		h->metrics[i].alias = wire_str_c(m[i].alias);
		h->metrics[i].unit = wire_str_c(m[i].unit);
	}
	conn_room(c);
	r = wire_encode_hello(c->out + c->out_len, STREAM_OUT_MAX - c->out_len, &c->session, h, &len);
	if (r < 0)
		return r;
	conn_queued(c, len, 0, 0);
	return 0;
}

/* A HEARTBEAT once the connection has been idle heartbeat_ns; re-arms the timer. */
void stream_send_heartbeat(struct stream_conn *c)
{
	struct wire_heartbeat hb;
	int64_t idle = time_mono_ns() - c->last_queue_mono;
	size_t len;
	int r;

	if (idle < c->heartbeat_ns || c->out_head < c->out_len || c->next_k <= c->s->last_k) {
		stream_conn_arm(c, idle < c->heartbeat_ns ? c->heartbeat_ns - idle : c->heartbeat_ns);
		return;
	}
	hb.seq = conn_control_seq(c);
	hb.agent_real_ns = time_real_ns();
	/* the next aggregate's number must stay above it */
	if (hb.seq < aggregate_seq(c->s->last_k + 1, c->s->report_ns)) {
		conn_room(c);
		r = wire_encode_heartbeat(c->out + c->out_len, STREAM_OUT_MAX - c->out_len,
					  &c->session, &hb, &len);
		if (r == 0)
			conn_queued(c, len, 0, hb.seq);
	}
	stream_conn_arm(c, c->heartbeat_ns);
	stream_send_pump(c);
}

/* Queues GOODBYE and gives the socket until deadline to take what is queued. */
void stream_send_goodbye(struct stream_conn *c, enum wire_goodbye_reason reason, int64_t deadline)
{
	static const char *const why[] = { "shutting down", "configuration reloaded", "error" };
	struct wire_goodbye g = { .reason = (uint16_t)reason };
	struct pollfd pfd;
	int64_t left;
	size_t len;

	/* just above the last frame: unsent aggregates stay above it, for a resume after a reload */
	g.seq = c->last_seq + 1;
	g.message = wire_str_c((unsigned)reason < 3 ? why[reason] : "");
	conn_room(c);
	if (wire_encode_goodbye(c->out + c->out_len, STREAM_OUT_MAX - c->out_len, &c->session,
				&g, &len) < 0)
		return;
	conn_queued(c, len, 0, g.seq);
	while (conn_flush(c) == 0 && c->out_head < c->out_len) {
		left = deadline - time_mono_ns();
		if (left <= 0)
			break;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(left / NSEC_PER_MSEC) + 1) <= 0)
			break;
	}
	shutdown(c->fd, SHUT_WR);
}
