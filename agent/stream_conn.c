/* stream_conn: one coordinator connection's life: connect, HELLO and WELCOME, ACKs, failures and backoff */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aggregate.h"
#include "log.h"
#include "stream_int.h"
#include "timeutil.h"

#define STREAM_HEARTBEAT_NS	(10 * NSEC_PER_SEC)	/* when WELCOME gives no idle timeout */
#define STREAM_HEARTBEAT_MIN_NS	(50 * NSEC_PER_MSEC)

static void conn_set_state(struct stream_conn *c, enum ring_conn_state state)
{
	if (c->state != state) {
		c->state = state;
		c->since_real_ns = time_real_ns();
	}
}

/* (Re)arms the connection's one timer: backoff, handshake timeout or heartbeat. */
void stream_conn_arm(struct stream_conn *c, int64_t delay_ns)
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
void stream_conn_fail(struct stream_conn *c, enum ring_conn_state state, int64_t delay_ns,
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
	stream_conn_arm(c, delay_ns);
	stream_publish(c->s);
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
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "bad WELCOME: %s", wire_strerror(r));
		return;
	}
	if (w.status != WIRE_ACCEPTED) {
		/* the coordinator's retry_after_ms, bounded, or our own backoff */
		delay = (int64_t)w.retry_after_ms * NSEC_PER_MSEC;
		if (delay > 3600 * NSEC_PER_SEC)
			delay = 3600 * NSEC_PER_SEC;
		stream_conn_fail(c, RING_CONN_REFUSED, delay, "refused (%s): %.*s",
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
	log_info("coordinator %s: connected; it has up to %llu, %llu aggregates to send", c->address,
		 (unsigned long long)w.resume_seq, (unsigned long long)stream_send_backlog(c));
	stream_conn_arm(c, c->heartbeat_ns);
	stream_send_pump(c);
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
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "bad ACK: %s", wire_strerror(r));
		return -1;
	}
	if (a.acked_seq > c->last_seq) {
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "ACK of %llu, beyond the last frame sent (%llu)",
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
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "read: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "the coordinator closed the connection");
		return -1;
	}
	c->in_len += (size_t)n;
	off = 0;
	while (c->fd >= 0) {
		r = wire_frame_peek(c->in + off, c->in_len - off, &info);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			stream_conn_fail(c, RING_CONN_BACKOFF, 0, "bad frame: %s", wire_strerror(r));
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
			stream_conn_fail(c, RING_CONN_BACKOFF, 0, "unexpected %s frame",
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
			stream_conn_fail(c, RING_CONN_BACKOFF, 0, "connect: %s", strerror(err));
			return 0;
		}
		if (!(revents & (EPOLLOUT | EPOLLIN)))
			return 0;
		c->tcp_up = true;
		r = stream_send_hello(c);
		if (r < 0) {
			stream_conn_fail(c, RING_CONN_BACKOFF, 0, "cannot encode HELLO: %s",
					 wire_strerror(r));
			return 0;
		}
	}
	if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(c) < 0)
		return 0;
	stream_send_pump(c);
	return 0;
}

/* Resolves and connects (getaddrinfo blocks: use addresses or /etc/hosts names where DNS may be slow). */
void stream_conn_start(struct stream_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, one = 1, r, err = 0;

	conn_close(c);
	conn_set_state(c, RING_CONN_CONNECTING);
	r = getaddrinfo(c->host, c->port, &hints, &res);
	if (r) {
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "cannot resolve %s: %s", c->host,
				 gai_strerror(r));
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
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "connect: %s", strerror(err));
		return;
	}
	c->fd = fd;
	r = sd_event_add_io(c->s->e, &c->io, fd, EPOLLOUT | EPOLLIN, conn_io, c);
	if (r < 0) {
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "sd-event: %s", strerror(-r));
		return;
	}
	stream_conn_arm(c, c->s->handshake_ns);
	stream_publish(c->s);
}

static int conn_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct stream_conn *c = userdata;

	(void)src;
	(void)usec;
	switch (c->state) {
	case RING_CONN_CONNECTED:
		stream_send_heartbeat(c);
		break;
	case RING_CONN_CONNECTING:
		stream_conn_fail(c, RING_CONN_BACKOFF, 0, "no WELCOME within %llds",
				 (long long)(c->s->handshake_ns / NSEC_PER_SEC));
		break;
	default:
		stream_conn_start(c);
		break;
	}
	return 0;
}

/* Sets c up for addr ("host:port") with its buffers and timer; stream_conn_start() connects. */
int stream_conn_init(struct stream *s, struct stream_conn *c, const char *addr)
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

/* Says GOODBYE on an established session (waiting until deadline at most), closes and frees c. */
void stream_conn_free(struct stream_conn *c, enum wire_goodbye_reason reason, int64_t deadline)
{
	if (c->fd >= 0 && c->session.established)
		stream_send_goodbye(c, reason, deadline);
	conn_close(c);
	c->state = RING_CONN_NONE;
	sd_event_source_disable_unref(c->timer);
	free(c->out);
	free(c->in);
}
