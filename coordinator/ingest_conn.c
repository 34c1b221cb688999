/* ingest_conn: one agent connection: reading its frames into the registry, WELCOME and ACK replies, its end */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest_int.h"
#include "log.h"
#include "timeutil.h"

#define INGEST_BUF_INIT		2048	/* a connection's input buffer; grows to a frame's need */
#define INGEST_BUF_KEEP		8192	/* larger buffers are freed once empty */
#define INGEST_READS		8	/* reads per wake-up: no connection starves the others */
#define INGEST_ACK_GAP_NS	NSEC_PER_SEC	/* ACKs per connection: at most one a second ... */

void ingest_conn_free(struct conn *c)
{
	struct ingest *ig = c->ig;

	if (c->inst)
		instances_detach(c->inst, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		ig->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sd_event_source_disable_unref(c->io);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	ig->st.connections_open--;
}

/* A warning about a peer, at most INGEST_LOG_BUDGET a second (then debug). */
static void conn_log(struct conn *c, const char *what, int rc)
{
	int prio = c->ig->log_budget ? LOG_WARNING : LOG_DEBUG;

	if (c->ig->log_budget)
		c->ig->log_budget--;
	log_msg(prio, "agent %s%s%s%s: %s%s%s: closing", c->peer, c->name[0] ? " (" : "", c->name,
		c->name[0] ? ")" : "", what, rc ? ": " : "", rc ? wire_strerror(rc) : "");
}

/* Sends len bytes, keeping what the socket does not take; 0 or -errno. */
static int conn_send(struct conn *c, const void *buf, size_t len)
{
	ssize_t n = 0;

	if (!c->out_len) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return 0;
	}
	if (c->out_len + (len - (size_t)n) > WIRE_FRAME_MAX)
		return -ENOBUFS;	/* a WELCOME, or one ACK at a time: never this much */
	if (!c->out) {
		c->out = malloc(WIRE_FRAME_MAX);
		if (!c->out)
			return -ENOMEM;
	}
	memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
	c->out_len -= c->out_off;
	c->out_off = 0;
	memcpy(c->out + c->out_len, (const uint8_t *)buf + n, len - (size_t)n);
	c->out_len += len - (size_t)n;
	return sd_event_source_set_io_events(c->io, EPOLLIN | EPOLLOUT);
}

/* Flushes pending output: 0 when all is out, 1 when some is left, -errno. */
static int conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 1 : -errno;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	sd_event_source_set_io_events(c->io, EPOLLIN);
	return 0;
}

/* A refusing WELCOME (authenticated when the HELLO's key was good), then linger for EOF. */
static void conn_refuse(struct conn *c, enum wire_status status, uint32_t retry_ms, const char *why)
{
	struct wire_welcome w = { .status = status, .retry_after_ms = retry_ms };
	uint8_t buf[512];
	size_t len;

	w.coord_real_ns = time_real_ns();
	w.reason = wire_str_c(why);
	if (wire_encode_welcome(buf, sizeof(buf), &c->sess, &w, &len) == 0)
		conn_send(c, buf, len);
	c->ig->st.hello_refused++;
	c->closing = true;
	c->closing_ns = time_mono_ns();
	if (!c->out_len)
		shutdown(c->fd, SHUT_WR);
}

/*
 * ACK (1.1): the newest AGGREGATE of the session in the store, to agents
 * whose HELLO is 1.1 or newer.  Coalesced: at most one per ack gap (the
 * sweep sends what waits longer, force), and none while output is pending
 * (the next carries the newer number).
 */
void ingest_conn_ack(struct conn *c, int64_t now, bool force)
{
	struct wire_ack a;
	uint8_t buf[128];
	size_t len;
	int rc;

	if (!c->acks || !c->inst || c->closing || c->stored_seq <= c->acked_seq || c->out_len ||
	    (!force && now - c->ack_ns < c->ack_gap_ns))
		return;
	a.seq = ++c->ack_seq;
	a.acked_seq = c->stored_seq;
	a.coord_real_ns = time_real_ns();
	rc = wire_encode_ack(buf, sizeof(buf), &c->sess, &a, &len);
	if (rc == 0)
		rc = conn_send(c, buf, len);
	if (rc < 0) {
		/* a broken connection shows on the next read */
		log_debug("agent %s: cannot send ACK: %s", c->peer, wire_strerror(rc));
		return;
	}
	c->acked_seq = a.acked_seq;
	c->ack_ns = now;
	c->ig->st.acks++;
}

static int conn_hello(struct conn *c, const uint8_t *f, size_t len, uint8_t minor)
{
	static struct wire_hello h;	/* one thread; 3.5 KiB is too much for each stack frame */
	struct ingest *ig = c->ig;
	struct wire_welcome w = { .status = WIRE_ACCEPTED };
	uint8_t buf[512];
	struct inst *in;
	struct conn *old;
	void *oldp;
	size_t wlen;
	int64_t now = time_real_ns();
	int rc;

	rc = wire_decode_hello(f, len, &c->sess, &h);
	wire_stats_count(&ig->st.wire, rc, false);
	if (rc < 0) {
		conn_log(c, "HELLO refused", rc);
		conn_refuse(c, rc == -ENOKEY || rc == -EBADMSG ? WIRE_REFUSE_KEY :
			    rc == -EPROTONOSUPPORT ? WIRE_REFUSE_VERSION : WIRE_REFUSE_HELLO,
			    0, wire_strerror(rc));
		return 1;
	}
	snprintf(c->name, sizeof(c->name), "%.*s", (int)h.instance.len, h.instance.ptr);
	rc = instances_hello(ig->reg, &h, now, c, c->peer, &in, &w.resume_seq, &oldp);
	if (rc < 0) {
		conn_log(c, rc == -ENOSPC ? "HELLO refused: max_instances reached" :
			 "HELLO refused: out of memory", 0);
		conn_refuse(c, rc == -ENOSPC ? WIRE_REFUSE_POLICY : WIRE_REFUSE_BUSY, 60000,
			    rc == -ENOSPC ? "max_instances reached" : "out of memory");
		return 1;
	}
	old = oldp;
	if (old) {
		/* the instance reconnected before we saw its old connection go */
		log_info("agent %s: replaces the session of %s for the same instance", c->peer, old->peer);
		old->inst = NULL;
		ig->st.replaced++;
		ingest_conn_free(old);
	}
	c->inst = in;
	instances_account(ig->reg, in, 0, len, now);
	c->idle_ns = 10 * h.report_interval_ns;
	if (c->idle_ns < INGEST_IDLE_MIN_NS)
		c->idle_ns = INGEST_IDLE_MIN_NS;
	w.idle_timeout_ms = (uint32_t)(c->idle_ns / NSEC_PER_MSEC);
	c->acks = minor >= 1;
	c->ack_gap_ns = h.report_interval_ns / 2 < INGEST_ACK_GAP_NS ? h.report_interval_ns / 2 :
								      INGEST_ACK_GAP_NS;
	w.coord_real_ns = time_real_ns();
	if (wire_random(w.nonce, sizeof(w.nonce)) < 0 ||
	    wire_encode_welcome(buf, sizeof(buf), &c->sess, &w, &wlen) < 0 ||
	    conn_send(c, buf, wlen) < 0) {
		conn_log(c, "cannot send WELCOME", 0);
		return -EIO;
	}
	ig->st.sessions++;
	return 0;
}

/* One whole frame: 0 (go on), 1 (stop reading: refused or said goodbye) or -errno (close). */
static int conn_frame(struct conn *c, const uint8_t *f, size_t len, const struct wire_frame_info *info)
{
	struct ingest *ig = c->ig;
	union {
		struct wire_aggregate agg;
		struct wire_heartbeat hb;
		struct wire_goodbye bye;
	} u;
	bool skipped = false;
	int64_t now;
	int rc;

	if (!c->sess.established) {
		if (info->type == WIRE_HELLO)
			return conn_hello(c, f, len, info->version_minor);
		wire_stats_count(&ig->st.wire, -EPROTO, false);
		conn_log(c, "expected HELLO first", 0);
		return -EPROTO;
	}
	switch (info->type) {
	case WIRE_AGGREGATE:
		rc = wire_decode_aggregate(f, len, &c->sess, &u.agg);
		break;
	case WIRE_HEARTBEAT:
		rc = wire_decode_heartbeat(f, len, &c->sess, &u.hb);
		break;
	case WIRE_GOODBYE:
		rc = wire_decode_goodbye(f, len, &c->sess, &u.bye);
		break;
	default:
		/* a HELLO again, a WELCOME, or a newer minor's type */
		rc = wire_decode_skip(f, len, &c->sess);
		skipped = true;
		break;
	}
	wire_stats_count(&ig->st.wire, rc, skipped);
	if (rc < 0 || !c->inst) {
		conn_log(c, wire_type_name(info->type), rc);
		return rc < 0 ? rc : -EPROTO;
	}
	now = time_real_ns();
	instances_account(ig->reg, c->inst, info->seq, len, now);
	if (skipped)
		return 0;
	switch (info->type) {
	case WIRE_AGGREGATE:
		instances_aggregate(ig->reg, c->inst, &u.agg, now);
		ingest_lat_add(ig, time_mono_ns() - c->read_ns);
		c->stored_seq = u.agg.seq;
		return 0;
	case WIRE_HEARTBEAT:
		instances_heartbeat(ig->reg, c->inst, &u.hb, now);
		return 0;
	default:
		instances_goodbye(ig->reg, c->inst, &u.bye, now);
		return 1;
	}
}

/* Every whole frame in the buffer; 0, 1 (stop) or -errno (close). */
static int conn_frames(struct conn *c)
{
	struct wire_frame_info info;
	size_t off = 0;
	uint8_t *grown;
	int n, rc = 0;

	while (rc == 0 && off < c->in_len) {
		n = wire_frame_peek(c->in + off, c->in_len - off, &info);
		if (n == -EAGAIN) {
			if (info.need > c->in_cap) {
				/* need <= WIRE_FRAME_MAX: wire_frame_peek checked the length */
				grown = realloc(c->in, info.need);
				if (!grown)
					return -ENOMEM;
				c->in = grown;
				c->in_cap = info.need;
			}
			break;
		}
		if (n < 0) {
			wire_stats_count(&c->ig->st.wire, n, false);
			conn_log(c, "not a frame", n);
			if (!c->sess.established && n == -EPROTONOSUPPORT) {
				conn_refuse(c, WIRE_REFUSE_VERSION, 0, "protocol major 1 only");
				return 1;
			}
			return n;
		}
		c->last_rx_ns = time_mono_ns();
		rc = conn_frame(c, c->in + off, (size_t)n, &info);
		off += (size_t)n;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (!c->in_len && c->in_cap > INGEST_BUF_KEEP) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return rc;
}

int ingest_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;
	size_t room = 0;
	ssize_t n;
	int i, rc;

	(void)s;
	if ((revents & EPOLLOUT) && c->out_len) {
		rc = conn_flush(c);
		if (rc < 0) {
			ingest_conn_free(c);
			return 0;
		}
		if (rc == 0 && c->closing)
			shutdown(fd, SHUT_WR);
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	for (i = 0; i < INGEST_READS; i++) {
		if (c->closing) {
			static uint8_t sink[4096];

			/* refused: read and drop until the peer closes */
			n = read(fd, sink, sizeof(sink));
		} else {
			if (!c->in) {
				c->in = malloc(INGEST_BUF_INIT);
				if (!c->in)
					break;
				c->in_cap = INGEST_BUF_INIT;
			}
			room = c->in_cap - c->in_len;
			n = read(fd, c->in + c->in_len, room);
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n <= 0) {
			if (n < 0 || (c->in_len && !c->closing))
				log_debug("agent %s: %s", c->peer,
					  n < 0 ? strerror(errno) : "closed in the middle of a frame");
			ingest_conn_free(c);
			return 0;
		}
		c->ig->st.bytes += (size_t)n;
		if (c->closing)
			continue;
		c->in_len += (size_t)n;
		c->read_ns = time_mono_ns();
		rc = conn_frames(c);
		if (rc < 0 || (rc == 1 && !c->closing)) {
			if (rc < 0)
				c->ig->st.closed_error++;
			ingest_conn_free(c);
			return 0;
		}
		if ((size_t)n < room)
			break;
	}
	ingest_conn_ack(c, time_mono_ns(), false);
	return 0;
}
