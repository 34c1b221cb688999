/* ingest: the agents' TCP streams: listening sockets, connections, frames into the registry */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest.h"
#include "keyfile.h"
#include "log.h"
#include "timeutil.h"

#define INGEST_BUF_INIT		2048	/* a connection's input buffer; grows to a frame's need */
#define INGEST_BUF_KEEP		8192	/* larger buffers are freed once empty */
#define INGEST_ACCEPTS		64	/* accepts per wake-up */
#define INGEST_READS		8	/* reads per wake-up: no connection starves the others */
#define INGEST_LINGER_NS	(2LL * NSEC_PER_SEC)	/* a refused peer has this long to read why */
#define INGEST_LOG_BUDGET	20	/* warnings about peers, per second */
#define INGEST_ACK_GAP_NS	NSEC_PER_SEC	/* ACKs per connection: at most one a second ... */
#define INGEST_LAT_PER_DECADE	8	/* latency histogram: 8 buckets a decade ... */
#define INGEST_LAT_BUCKETS	(7 * INGEST_LAT_PER_DECADE + 1)	/* ... from 1 µs to 10 s, then one above */

struct conn {
	struct ingest *ig;
	struct conn *prev, *next;
	int fd;
	sd_event_source *io;
	struct wire_session sess;
	struct inst *inst;		/* after an accepting WELCOME */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;			/* what send() did not take */
	size_t out_len, out_off;
	bool closing;			/* refused: flush, then wait for EOF or INGEST_LINGER_NS */
	int64_t opened_ns, last_rx_ns, closing_ns;	/* monotonic */
	int64_t idle_ns;
	char peer[INSTANCES_PEER_MAX];
	char name[WIRE_NAME_MAX + 1];	/* the HELLO's instance, for messages */
	int64_t read_ns;		/* monotonic: the read() that completed the frames in hand */
	bool acks;			/* the HELLO's minor has ACK (>= 1) */
	uint64_t ack_seq;		/* our sequence for ACKs, a per-session counter */
	uint64_t stored_seq;		/* the newest AGGREGATE of the session in the store */
	uint64_t acked_seq;		/* ... and the newest acknowledged */
	int64_t ack_ns, ack_gap_ns;	/* monotonic: the last ACK; the least time between two */
};

struct ingest {
	sd_event *event;
	const struct coord_conf *conf;
	struct instances *reg;
	struct wire_keys keys;
	bool have_keys;
	unsigned nlisten;
	int lfd[COORD_LISTEN_MAX];
	sd_event_source *lio[COORD_LISTEN_MAX];
	bool paused;			/* out of file descriptors: accepting again at the next sweep */
	sd_event_source *sweep;
	struct conn *conns;
	uint64_t conn_max;
	unsigned log_budget;
	struct ingest_stats st;
	uint64_t lat[INGEST_LAT_BUCKETS];	/* AGGREGATEs by read-to-stored delay */
	uint64_t lat_count;
	int64_t lat_max_ns;
};

/* Upper bounds of the latency buckets, in ns: 1 µs × 10^(i / 8); the last bucket has none. */
static int64_t lat_bound[INGEST_LAT_BUCKETS - 1];

static void ingest_lat_init(void)
{
	double b = 1000;
	unsigned i;

	for (i = 0; i < INGEST_LAT_BUCKETS - 1; i++) {
		lat_bound[i] = (int64_t)(b + 0.5);
		b *= 1.333521432163324;	/* 10^(1/8) */
	}
}

static void ingest_lat_add(struct ingest *ig, int64_t ns)
{
	unsigned lo = 0, hi = INGEST_LAT_BUCKETS - 1, mid;

	if (ns < 0)
		ns = 0;
	/* the first bucket whose bound is >= ns */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (lat_bound[mid] >= ns)
			hi = mid;
		else
			lo = mid + 1;
	}
	ig->lat[lo]++;
	ig->lat_count++;
	if (ns > ig->lat_max_ns)
		ig->lat_max_ns = ns;
}

/* The q-quantile in µs: the bound of its bucket, at most the maximum. */
static double ingest_lat_quantile(const struct ingest *ig, double q)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (!ig->lat_count)
		return 0;
	rank = (uint64_t)(q * (double)ig->lat_count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < INGEST_LAT_BUCKETS - 1; i++) {
		seen += ig->lat[i];
		if (seen >= rank)
			return (double)(lat_bound[i] < ig->lat_max_ns ? lat_bound[i] : ig->lat_max_ns) / 1e3;
	}
	return (double)ig->lat_max_ns / 1e3;
}

static void conn_free(struct conn *c)
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

static int conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

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
static void conn_ack(struct conn *c, int64_t now, bool force)
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
		conn_free(old);
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

static int conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;
	size_t room = 0;
	ssize_t n;
	int i, rc;

	(void)s;
	if ((revents & EPOLLOUT) && c->out_len) {
		rc = conn_flush(c);
		if (rc < 0) {
			conn_free(c);
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
			conn_free(c);
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
			conn_free(c);
			return 0;
		}
		if ((size_t)n < room)
			break;
	}
	conn_ack(c, time_mono_ns(), false);
	return 0;
}

static int ingest_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ingest *ig = userdata;
	struct conn *c;
	unsigned i, k;
	int cfd;

	(void)s;
	(void)revents;
	for (i = 0; i < INGEST_ACCEPTS; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept: %s: pausing for a second", strerror(errno));
				for (k = 0; k < ig->nlisten; k++)
					sd_event_source_set_enabled(ig->lio[k], SD_EVENT_OFF);
				ig->paused = true;
			}
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 0;
		}
		ig->st.connections++;
		c = ig->st.connections_open < ig->conn_max ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			ig->st.connections_refused++;
			close(cfd);
			continue;
		}
		c->ig = ig;
		c->fd = cfd;
		c->opened_ns = c->last_rx_ns = time_mono_ns();
		ingest_peer_name(cfd, c->peer, sizeof(c->peer));
		wire_session_init(&c->sess, &ig->keys, false);
		if (sd_event_add_io(ig->event, &c->io, cfd, EPOLLIN, conn_io, c) < 0) {
			close(cfd);
			free(c);
			ig->st.connections_refused++;
			continue;
		}
		c->next = ig->conns;
		if (c->next)
			c->next->prev = c;
		ig->conns = c;
		ig->st.connections_open++;
	}
	return 0;
}

/* Each second: stale instances, silent connections, paused listeners. */
static int ingest_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ingest *ig = userdata;
	struct conn *c, *next;
	int64_t now = time_mono_ns();
	unsigned k;

	instances_sweep(ig->reg, time_real_ns());
	ig->log_budget = INGEST_LOG_BUDGET;
	for (c = ig->conns; c; c = next) {
		next = c->next;
		if (c->closing ? now - c->closing_ns > INGEST_LINGER_NS :
		    !c->sess.established ? now - c->opened_ns > INGEST_HELLO_TIMEOUT_NS :
		    now - c->last_rx_ns > c->idle_ns) {
			if (!c->closing) {
				ig->st.timeouts++;
				log_debug("agent %s: %s: closing", c->peer,
					  c->sess.established ? "idle" : "no HELLO in time");
			}
			conn_free(c);
			continue;
		}
		conn_ack(c, now, true);
	}
	if (ig->paused) {
		ig->paused = false;
		for (k = 0; k < ig->nlisten; k++)
			sd_event_source_set_enabled(ig->lio[k], SD_EVENT_ON);
	}
	sd_event_source_set_time(s, usec + 1000000);
	return 0;
}

/* Room for the connections: the soft file limit up to the hard one. */
static uint64_t ingest_fd_room(uint64_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want + 64) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want + 64 ? want + 64 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want + 64) {
		log_msg(rl.rlim_cur < want - 1024 + 64 ? LOG_WARNING : LOG_INFO, "open files limited to %llu: at most %llu agent connections",
			 (unsigned long long)rl.rlim_cur,
			 (unsigned long long)(rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64));
		return rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64;
	}
	return want;
}

int ingest_open(sd_event *e, const struct coord_conf *conf, struct instances *reg,
		struct ingest **out)
{
	struct ingest *ig;
	char err[512];
	uint64_t usec;
	unsigned i;
	int r, fd;

	ig = calloc(1, sizeof(*ig));
	if (!ig)
		return -ENOMEM;
	ig->event = e;
	ig->conf = conf;
	ig->reg = reg;
	ig->log_budget = INGEST_LOG_BUDGET;
	ingest_lat_init();
	for (i = 0; i < COORD_LISTEN_MAX; i++)
		ig->lfd[i] = -1;
	r = keyfile_load(conf->key_file, &ig->keys, err, sizeof(err));
	if (r < 0) {
		log_err("key_file: %s", err);
		free(ig);
		return r;
	}
	ig->have_keys = true;
	/* agents, plus some room for connections that have not said HELLO yet */
	ig->conn_max = ingest_fd_room(conf->max_instances + 1024);
	for (i = 0; i < conf->nlisten; i++) {
		fd = ingest_listen(conf->listen[i]);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		ig->lfd[ig->nlisten++] = fd;
		r = sd_event_add_io(e, &ig->lio[i], fd, EPOLLIN, ingest_accept, ig);
		if (r < 0) {
			log_err("listen %s: sd-event: %s", conf->listen[i], strerror(-r));
			goto fail;
		}
		log_info("listening for agents on %s", conf->listen[i]);
	}
	sd_event_now(e, CLOCK_MONOTONIC, &usec);
	r = sd_event_add_time(e, &ig->sweep, CLOCK_MONOTONIC, usec + 1000000, 100000, ingest_sweep, ig);
	if (r >= 0)
		r = sd_event_source_set_enabled(ig->sweep, SD_EVENT_ON);
	if (r < 0) {
		log_err("ingest: sd-event timer: %s", strerror(-r));
		goto fail;
	}
	*out = ig;
	return 0;
fail:
	ingest_close(ig);
	return r;
}

void ingest_close(struct ingest *ig)
{
	unsigned i;

	if (!ig)
		return;
	while (ig->conns)
		conn_free(ig->conns);
	for (i = 0; i < COORD_LISTEN_MAX; i++) {
		sd_event_source_disable_unref(ig->lio[i]);
		if (ig->lfd[i] >= 0)
			close(ig->lfd[i]);
	}
	sd_event_source_disable_unref(ig->sweep);
	if (ig->have_keys)
		wire_keys_free(&ig->keys);
	free(ig);
}

const struct ingest_stats *ingest_stats(const struct ingest *ig)
{
	return &ig->st;
}

/* "latency_us": read-to-stored delay of the AGGREGATEs so far. */
static json_t *ingest_lat_json(const struct ingest *ig)
{
	if (!ig)
		return json_pack("{s:f, s:f, s:f, s:I}", "p50", 0.0, "p99", 0.0, "max", 0.0, "count",
				 (json_int_t)0);
	return json_pack("{s:f, s:f, s:f, s:I}", "p50", ingest_lat_quantile(ig, 0.50),
			 "p99", ingest_lat_quantile(ig, 0.99), "max", (double)ig->lat_max_ns / 1e3,
			 "count", (json_int_t)ig->lat_count);
}

json_t *ingest_stats_json(const struct ingest *ig, const struct instances *reg)
{
	static const struct ingest_stats none;
	const struct ingest_stats *s = ig ? &ig->st : &none;
	const struct instances_stats *is = instances_stats(reg);
	json_t *o;

	o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "listening", ig != NULL,
			 "connections", (json_int_t)s->connections,
			 "connections_open", (json_int_t)s->connections_open,
			 "connections_refused", (json_int_t)s->connections_refused,
			 "sessions", (json_int_t)s->sessions,
			 "hello_refused", (json_int_t)s->hello_refused,
			 "replaced", (json_int_t)s->replaced,
			 "timeouts", (json_int_t)s->timeouts,
			 "closed_error", (json_int_t)s->closed_error,
			 "bytes", (json_int_t)s->bytes,
			 "frames", (json_int_t)s->wire.frames,
			 "bad_length", (json_int_t)s->wire.bad_length,
			 "bad_version", (json_int_t)s->wire.bad_version,
			 "unknown_key", (json_int_t)s->wire.unknown_key,
			 "bad_hmac", (json_int_t)s->wire.bad_hmac,
			 "replayed", (json_int_t)s->wire.replayed,
			 "malformed", (json_int_t)s->wire.malformed,
			 "unknown_type_skipped", (json_int_t)s->wire.unknown_type_skipped,
			 "aggregates", (json_int_t)is->aggregates,
			 "refused_limit", (json_int_t)is->refused_limit,
			 "future_samples", (json_int_t)is->future_samples,
			 "store_errors", (json_int_t)is->store_errors,
			 "instances", (json_int_t)instances_size(reg),
			 "joined", (json_int_t)is->joined,
			 "went_stale", (json_int_t)is->went_stale,
			 "returned", (json_int_t)is->returned,
			 "evicted", (json_int_t)is->evicted);
	if (o && (json_object_set_new(o, "acks", json_integer((json_int_t)s->acks)) < 0 ||
		  json_object_set_new(o, "latency_us", ingest_lat_json(ig)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
