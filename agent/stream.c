/* stream: the agent's connections to its coordinators: HELLO, aggregates from the ring, backoff */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aggregate.h"
#include "keyfile.h"
#include "log.h"
#include "stream.h"
#include "timeutil.h"
#include "version.h"

#define STREAM_OUT_MAX		(256 * 1024)	/* queued bytes per connection */
#define STREAM_MARKS		256		/* aggregates queued but not yet written whole */
#define STREAM_BURST		32		/* backlog aggregates built per event-loop turn */
#define STREAM_BYE_WAIT_NS	(200 * NSEC_PER_MSEC)
#define STREAM_HEARTBEAT_NS	(10 * NSEC_PER_SEC)	/* when WELCOME gives no idle timeout */
#define STREAM_HEARTBEAT_MIN_NS	(50 * NSEC_PER_MSEC)

struct stream_mark {
	uint64_t end;		/* out_total once the frame is written */
	uint64_t seq;
};

struct stream_conn {
	struct stream *s;
	unsigned no;
	char address[AGENT_ADDR_MAX];
	char host[AGENT_ADDR_MAX];
	char port[8];
	int fd;
	sd_event_source *io;
	sd_event_source *timer;		/* backoff, handshake timeout, heartbeat */
	enum ring_conn_state state;
	bool tcp_up;			/* connect() finished, HELLO queued */
	bool ever_connected;
	struct wire_session session;
	/* output: [out_head, out_len) waits for the socket */
	uint8_t *out;
	size_t out_head, out_len;
	uint64_t out_total, out_done;	/* bytes queued and written on this connection */
	struct stream_mark marks[STREAM_MARKS];
	unsigned mark_head, mark_count;
	uint8_t *in;
	size_t in_len;
	uint64_t next_k;		/* the next interval to send */
	uint64_t last_seq;		/* the last sequence number queued on this session */
	int64_t last_queue_mono;
	int64_t heartbeat_ns;
	unsigned attempts;		/* failures since the last accepted WELCOME */
	uint64_t sent_seq, acked_seq, lost;
	uint32_t reconnects;
	int64_t since_real_ns;
	char error[RING_ERROR_MAX];
};

struct stream {
	sd_event *e;
	struct ring_reader *ring;
	struct ring_writer *writer;
	struct wire_keys keys;
	struct stream_boot boot;
	int64_t report_ns;
	int64_t sample_ns;
	char instance[RING_LABEL_MAX];
	char deployment[RING_LABEL_MAX];
	char endpoint[RING_LABEL_MAX];
	uint16_t nmetrics;		/* metrics sent: the ring's first WIRE_METRICS_MAX */
	uint64_t first_k;		/* the boot's first interval */
	uint64_t last_k;		/* the newest interval that has ended */
	uint64_t assigned;		/* the highest sequence number sent on any session */
	sd_event_source *report;	/* CLOCK_REALTIME, at the next interval's end */
	int64_t backoff_min_ns, backoff_max_ns, handshake_ns;
	unsigned nconn;
	struct stream_conn conns[AGENT_COORD_MAX];
	struct wire_aggregate agg;	/* scratch: large */
	struct wire_hello hello;	/* scratch: large */
};

static void stream_publish(struct stream *s);
static void conn_pump(struct stream_conn *c);
static void conn_fail(struct stream_conn *c, enum ring_conn_state state, int64_t delay_ns,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int64_t stream_now_ms(void)
{
	return time_real_ns() / NSEC_PER_MSEC;
}

static uint64_t conn_backlog(const struct stream_conn *c)
{
	const struct stream *s = c->s;

	/* before the first WELCOME, everything of this boot is due */
	uint64_t from = c->ever_connected ? c->next_k : s->first_k;

	return s->last_k >= from ? s->last_k - from + 1 : 0;
}

static void conn_set_state(struct stream_conn *c, enum ring_conn_state state)
{
	if (c->state != state) {
		c->state = state;
		c->since_real_ns = time_real_ns();
	}
}

static void conn_arm(struct stream_conn *c, int64_t delay_ns)
{
	uint64_t now;

	sd_event_now(c->s->e, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(c->timer, now + (uint64_t)(delay_ns / NSEC_PER_USEC));
	sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* Exponential backoff with jitter, from backoff_min to backoff_max. */
static int64_t conn_backoff(struct stream_conn *c)
{
	return backoff_delay(c->s->backoff_min_ns, c->s->backoff_max_ns, ++c->attempts);
}

static void conn_close(struct stream_conn *c)
{
	c->io = sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->tcp_up = false;
	c->out_head = c->out_len = 0;
	c->out_total = c->out_done = 0;
	c->mark_head = c->mark_count = 0;
	c->in_len = 0;
	wire_session_init(&c->session, &c->s->keys, true);
}

/* Ends the connection, says why (once per new reason) and waits before the next attempt. */
static void conn_fail(struct stream_conn *c, enum ring_conn_state state, int64_t delay_ns,
		      const char *fmt, ...)
{
	char msg[RING_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, c->error) || c->state == RING_CONN_CONNECTED)
		log_warn("coordinator %s: %s", c->address, msg);
	else
		log_debug("coordinator %s: %s", c->address, msg);
	snprintf(c->error, sizeof(c->error), "%s", msg);
	conn_close(c);
	if (delay_ns <= 0)
		delay_ns = conn_backoff(c);
	conn_set_state(c, state);
	conn_arm(c, delay_ns);
	stream_publish(c->s);
}

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

/* A sequence number for HEARTBEAT or GOODBYE: now in ms, above the last one sent. */
static uint64_t conn_control_seq(const struct stream_conn *c)
{
	int64_t now = stream_now_ms();

	return now > 0 && (uint64_t)now > c->last_seq ? (uint64_t)now : c->last_seq + 1;
}

/* ---- frames ---- */

static int conn_send_hello(struct stream_conn *c)
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

static void conn_pump(struct stream_conn *c)
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
		conn_fail(c, RING_CONN_BACKOFF, 0, "write: %s", strerror(-r));
		return;
	}
	conn_events(c);
}

static const char *stream_status_name(unsigned status)
{
	switch (status) {
	case WIRE_REFUSE_VERSION:
		return "protocol version";
	case WIRE_REFUSE_KEY:
		return "key";
	case WIRE_REFUSE_HELLO:
		return "malformed HELLO";
	case WIRE_REFUSE_POLICY:
		return "policy";
	case WIRE_REFUSE_BUSY:
		return "busy";
	}
	return "unknown reason";
}

static void conn_welcome(struct stream_conn *c, const uint8_t *f, size_t len)
{
	struct stream *s = c->s;
	struct wire_welcome w;
	uint64_t newest, resume;
	int64_t delay;
	int r;

	r = wire_decode_welcome(f, len, &c->session, &w);
	if (r < 0) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "bad WELCOME: %s", wire_strerror(r));
		return;
	}
	if (w.status != WIRE_ACCEPTED) {
		/* the coordinator's retry_after_ms, bounded, or our own backoff */
		delay = (int64_t)w.retry_after_ms * NSEC_PER_MSEC;
		if (delay > 3600 * NSEC_PER_SEC)
			delay = 3600 * NSEC_PER_SEC;
		conn_fail(c, RING_CONN_REFUSED, delay, "refused (%s): %.*s",
			  stream_status_name(w.status), (int)(w.reason.len > 40 ? 40 : w.reason.len),
			  w.reason.ptr ? w.reason.ptr : "");
		return;
	}
	newest = s->last_k >= s->first_k ? aggregate_seq(s->last_k, s->report_ns) : 0;
	if (s->assigned > newest)
		newest = s->assigned;
	resume = w.resume_seq;
	if (resume > newest) {
		log_warn("coordinator %s: resumes after %llu, beyond our newest aggregate %llu",
			 c->address, (unsigned long long)resume, (unsigned long long)newest);
		resume = newest;
	}
	c->acked_seq = w.resume_seq;
	c->sent_seq = 0;
	c->last_seq = w.resume_seq;
	c->next_k = aggregate_after(resume, s->report_ns);
	if (c->next_k < s->first_k)
		c->next_k = s->first_k;
	c->heartbeat_ns = w.idle_timeout_ms ? (int64_t)w.idle_timeout_ms * NSEC_PER_MSEC / 3
					    : STREAM_HEARTBEAT_NS;
	if (c->heartbeat_ns < STREAM_HEARTBEAT_MIN_NS)
		c->heartbeat_ns = STREAM_HEARTBEAT_MIN_NS;
	c->attempts = 0;
	if (c->ever_connected)
		c->reconnects++;
	c->ever_connected = true;
	c->error[0] = '\0';
	conn_set_state(c, RING_CONN_CONNECTED);
	log_info("coordinator %s: connected; it has up to %llu, %llu aggregates to send",
		 c->address, (unsigned long long)w.resume_seq, (unsigned long long)conn_backlog(c));
	conn_arm(c, c->heartbeat_ns);
	conn_pump(c);
	stream_publish(s);
}

/*
 * ACK (1.1): the coordinator has stored every aggregate of this boot up to
 * acked_seq.  It only grows (WELCOME's resume_seq is the first such point);
 * 0, or -1 when the connection was ended.
 */
static int conn_ack(struct stream_conn *c, const uint8_t *f, size_t len)
{
	struct wire_ack a;
	int r;

	r = wire_decode_ack(f, len, &c->session, &a);
	if (r < 0) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "bad ACK: %s", wire_strerror(r));
		return -1;
	}
	if (a.acked_seq > c->last_seq) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "ACK of %llu, beyond the last frame sent (%llu)",
			  (unsigned long long)a.acked_seq, (unsigned long long)c->last_seq);
		return -1;
	}
	if (a.acked_seq > c->acked_seq) {
		c->acked_seq = a.acked_seq;
		stream_publish(c->s);
	}
	return 0;
}

/* Reads and handles what the coordinator sent; 0, or -1 when the connection was ended. */
static int conn_read(struct stream_conn *c)
{
	struct wire_frame_info info;
	ssize_t n;
	size_t off;
	int r;

	n = recv(c->fd, c->in + c->in_len, WIRE_FRAME_MAX - c->in_len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		conn_fail(c, RING_CONN_BACKOFF, 0, "read: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "the coordinator closed the connection");
		return -1;
	}
	c->in_len += (size_t)n;
	off = 0;
	while (c->fd >= 0) {
		r = wire_frame_peek(c->in + off, c->in_len - off, &info);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			conn_fail(c, RING_CONN_BACKOFF, 0, "bad frame: %s", wire_strerror(r));
			return -1;
		}
		if (info.type == WIRE_WELCOME && !c->session.established) {
			conn_welcome(c, c->in + off, (size_t)r);
			if (c->fd < 0)
				return -1;
		} else if (info.type == WIRE_ACK && c->session.established) {
			if (conn_ack(c, c->in + off, (size_t)r) < 0)
				return -1;
		} else if (!c->session.established ||
			   (r = wire_decode_skip(c->in + off, (size_t)r, &c->session)) < 0) {
			conn_fail(c, RING_CONN_BACKOFF, 0, "unexpected %s frame",
				  wire_type_name(info.type));
			return -1;
		}
		off += info.length;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int conn_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct stream_conn *c = userdata;
	socklen_t sl = sizeof(int);
	int err = 0, r;

	(void)src;
	if (!c->tcp_up) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err) {
			conn_fail(c, RING_CONN_BACKOFF, 0, "connect: %s", strerror(err));
			return 0;
		}
		if (!(revents & (EPOLLOUT | EPOLLIN)))
			return 0;
		c->tcp_up = true;
		r = conn_send_hello(c);
		if (r < 0) {
			conn_fail(c, RING_CONN_BACKOFF, 0, "cannot encode HELLO: %s", wire_strerror(r));
			return 0;
		}
	}
	if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(c) < 0)
		return 0;
	conn_pump(c);
	return 0;
}

/* Resolves and connects (getaddrinfo blocks: use addresses or /etc/hosts names where DNS may be slow). */
static void conn_start(struct stream_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, one = 1, r, err = 0;

	conn_close(c);
	conn_set_state(c, RING_CONN_CONNECTING);
	r = getaddrinfo(c->host, c->port, &hints, &res);
	if (r) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "cannot resolve %s: %s", c->host, gai_strerror(r));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "connect: %s", strerror(err));
		return;
	}
	c->fd = fd;
	r = sd_event_add_io(c->s->e, &c->io, fd, EPOLLOUT | EPOLLIN, conn_io, c);
	if (r < 0) {
		conn_fail(c, RING_CONN_BACKOFF, 0, "sd-event: %s", strerror(-r));
		return;
	}
	conn_arm(c, c->s->handshake_ns);
	stream_publish(c->s);
}

static void conn_heartbeat(struct stream_conn *c)
{
	struct wire_heartbeat hb;
	int64_t idle = time_mono_ns() - c->last_queue_mono;
	size_t len;
	int r;

	if (idle < c->heartbeat_ns || c->out_head < c->out_len || c->next_k <= c->s->last_k) {
		conn_arm(c, idle < c->heartbeat_ns ? c->heartbeat_ns - idle : c->heartbeat_ns);
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
	conn_arm(c, c->heartbeat_ns);
	conn_pump(c);
}

static int conn_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct stream_conn *c = userdata;

	(void)src;
	(void)usec;
	switch (c->state) {
	case RING_CONN_CONNECTED:
		conn_heartbeat(c);
		break;
	case RING_CONN_CONNECTING:
		conn_fail(c, RING_CONN_BACKOFF, 0, "no WELCOME within %llds",
			  (long long)(c->s->handshake_ns / NSEC_PER_SEC));
		break;
	default:
		conn_start(c);
		break;
	}
	return 0;
}

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
			conn_pump(&s->conns[i]);
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
		o->backlog = conn_backlog(c);
		o->lost = c->lost;
		o->since_real_ns = c->since_real_ns;
	}
}

static void stream_publish(struct stream *s)
{
	struct ring_stream st;

	if (!s->writer)
		return;
	stream_state(s, &st);
	ring_writer_stream(s->writer, &st);
}

/* ---- life cycle ---- */

static int stream_conn_init(struct stream *s, struct stream_conn *c, const char *addr)
{
	c->s = s;
	c->fd = -1;
	snprintf(c->address, sizeof(c->address), "%s", addr);
	if (agent_conf_split_addr(addr, c->host, sizeof(c->host), c->port, sizeof(c->port)) < 0)
		return -EINVAL;
	c->out = malloc(STREAM_OUT_MAX);
	c->in = malloc(WIRE_FRAME_MAX);
	if (!c->out || !c->in)
		return -ENOMEM;
	wire_session_init(&c->session, &s->keys, true);
	return sd_event_add_time(s->e, &c->timer, CLOCK_MONOTONIC, 0, 1000, conn_timer, c);
}

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
		conn_start(&s->conns[i]);
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

/* Queues GOODBYE and gives the socket until deadline to take what is queued. */
static void conn_goodbye(struct stream_conn *c, enum wire_goodbye_reason reason, int64_t deadline)
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

void stream_free(struct stream *s, enum wire_goodbye_reason reason)
{
	int64_t deadline = time_mono_ns() + STREAM_BYE_WAIT_NS;
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < s->nconn; i++) {
		struct stream_conn *c = &s->conns[i];

		if (c->fd >= 0 && c->session.established)
			conn_goodbye(c, reason, deadline);
		conn_close(c);
		c->state = RING_CONN_NONE;
		sd_event_source_disable_unref(c->timer);
		free(c->out);
		free(c->in);
	}
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
