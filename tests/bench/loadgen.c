/* loadgen: many simulated agents on real TCP connections to ascoord, as "name value unit" lines */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "keyfile.h"
#include "wire.h"

#define LG_AGENTS_MAX	10000
#define LG_INFLIGHT	256		/* handshakes at once */
#define LG_RETRY_NS	1000000000LL
#define LG_BUF		1024
#define LG_OUT		4096		/* the unsent rest of a frame the socket took in part */
#define LG_FLOOD_BURST	16		/* frames per agent per loop turn with --flood */
#define LG_DRAIN_NS	3000000000LL	/* at the end: the longest wait for the last ACKs */

enum lg_state { LG_IDLE, LG_CONNECTING, LG_HELLO, LG_LIVE, LG_DONE };

struct lg_agent {
	unsigned idx;
	int fd;
	enum lg_state state;
	struct wire_session sess;
	uint64_t boot_id, seq;
	uint64_t last_agg, acked;	/* this session: the last AGGREGATE sent, the last ACK's number */
	int64_t due_ns;			/* monotonic: next connect or aggregate */
	uint8_t in[LG_BUF];
	size_t in_len;
	uint8_t out[LG_OUT];
	size_t out_off, out_len;	/* waiting for EPOLLOUT: the socket is full */
};

struct lg {
	const char *host, *prefix, *deployment, *endpoint, *key_file;
	unsigned port, nagents, nmetrics, seconds, bad_hmac, minor;
	double cpu, interval_s;
	bool goodbye, flood;
	struct wire_keys keys;
	struct lg_agent *agents;
	int ep;
	unsigned inflight;
	uint64_t sent, refused, connect_failures, corrupted, closed, aggregates, sessions, dropped;
	uint64_t acks, skipped, blocked;
};

static int64_t lg_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t lg_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void lg_usage(FILE *f)
{
	fputs("usage: loadgen --key-file FILE [--port N] [--host ADDR] [--agents N] [--metrics M]\n"
	      "               [--seconds D] [--deployment D] [--endpoint E] [--prefix P]\n"
	      "               [--bad-hmac K] [--cpu V] [--interval S | --rate R | --flood]\n"
	      "               [--minor 0|1] [--no-goodbye]\n"
	      "N agents (default 100, up to 10000), each a TCP connection sending HELLO, then\n"
	      "one AGGREGATE of M metrics (default 8) per interval (--rate: R a second) for D\n"
	      "seconds (default 10); --flood sends as fast as the sockets take them.  ACKs\n"
	      "are read and counted (--minor 0 speaks 1.0: the coordinator sends none).\n"
	      "--bad-hmac K corrupts every Kth frame.  Prints 'name value unit' lines.\n", f);
}

static void lg_close(struct lg *g, struct lg_agent *a, int64_t retry_ns)
{
	if (a->fd >= 0) {
		epoll_ctl(g->ep, EPOLL_CTL_DEL, a->fd, NULL);
		close(a->fd);
	}
	if (a->state == LG_CONNECTING || a->state == LG_HELLO)
		g->inflight--;
	a->fd = -1;
	a->state = retry_ns ? LG_IDLE : LG_DONE;
	a->due_ns = lg_mono() + retry_ns;
	a->in_len = 0;
	a->out_off = a->out_len = 0;
}

static void lg_watch(struct lg *g, struct lg_agent *a, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = a };

	epoll_ctl(g->ep, EPOLL_CTL_MOD, a->fd, &ev);
}

/*
 * Sends a whole frame, corrupting every bad_hmac-th one: 0 (sent, or its
 * rest kept for EPOLLOUT), 1 (the socket is full: not sent) or -1 (closed).
 */
static int lg_send(struct lg *g, struct lg_agent *a, uint8_t *buf, size_t len)
{
	ssize_t n = -1;

	if (a->out_len) {
		errno = EAGAIN;
	} else {
		if (g->bad_hmac && (g->sent + 1) % g->bad_hmac == 0) {
			buf[WIRE_HMAC_OFFSET] ^= 0x5a;
			g->corrupted++;
			g->refused++;
		}
		n = send(a->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (n >= 0 && (size_t)n < len && len - (size_t)n <= sizeof(a->out)) {
		/* the rest when the socket has room */
		memcpy(a->out, buf + n, len - (size_t)n);
		a->out_off = 0;
		a->out_len = len - (size_t)n;
		lg_watch(g, a, true);
		n = (ssize_t)len;
	}
	if (n == (ssize_t)len) {
		g->sent++;
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		/* the coordinator does not keep up: this interval is lost (flooding: expected) */
		if (g->flood)
			g->blocked++;
		else
			g->dropped++;
		return 1;
	}
	g->closed++;
	lg_close(g, a, LG_RETRY_NS);
	return -1;
}

/* EPOLLOUT: the rest of a frame; 0 or -1 (closed). */
static int lg_flush(struct lg *g, struct lg_agent *a)
{
	ssize_t n;

	while (a->out_off < a->out_len) {
		n = send(a->fd, a->out + a->out_off, a->out_len - a->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n < 0) {
			g->closed++;
			lg_close(g, a, LG_RETRY_NS);
			return -1;
		}
		a->out_off += (size_t)n;
	}
	a->out_off = a->out_len = 0;
	lg_watch(g, a, false);
	return 0;
}

static void lg_hello(struct lg *g, struct lg_agent *a)
{
	static const char *const units[] = { "%", "" };
	struct wire_hello h;
	uint8_t buf[8192];
	char name[64], metric[WIRE_METRICS_MAX][32];
	size_t len;
	unsigned i;

	memset(&h, 0, sizeof(h));
	wire_session_init(&a->sess, &g->keys, true);
	a->sess.minor = (uint8_t)g->minor;
	a->last_agg = a->acked = 0;
	wire_random(h.nonce, sizeof(h.nonce));
	h.boot_id = a->boot_id;
	h.last_seq = a->seq;
	h.agent_real_ns = lg_real();
	h.sample_interval_ns = 100000000LL;
	h.report_interval_ns = (int64_t)(g->interval_s * 1e9);
	h.agent_version = wire_str_c("loadgen");
	snprintf(name, sizeof(name), "%s%05u", g->prefix, a->idx);
	h.instance = wire_str_c(name);
	h.deployment = wire_str_c(g->deployment);
	h.endpoint = wire_str_c(g->endpoint);
	h.label_count = 1;
	h.labels[0].key = wire_str_c("zone");
	h.labels[0].value = wire_str_c(a->idx % 2 ? "z1" : "z2");
	h.metric_count = (uint16_t)g->nmetrics;
	for (i = 0; i < g->nmetrics; i++) {
		if (i == 0) {
			h.metrics[i].name = wire_str_c("Percentage CPU");
			h.metrics[i].alias = wire_str_c("CpuUtilizationPercentage");
		} else {
			snprintf(metric[i], sizeof(metric[i]), "loadgen metric %u", i);
			h.metrics[i].name = wire_str_c(metric[i]);
		}
		h.metrics[i].unit = wire_str_c(units[i ? 1 : 0]);
	}
	if (wire_encode_hello(buf, sizeof(buf), &a->sess, &h, &len) < 0) {
		fprintf(stderr, "loadgen: cannot encode HELLO\n");
		exit(1);
	}
	if (lg_send(g, a, buf, len) == 0)
		a->state = LG_HELLO;
}

/* One AGGREGATE now: lg_send's result. */
static int lg_aggregate(struct lg *g, struct lg_agent *a)
{
	int r;

	struct wire_aggregate ag;
	uint8_t buf[4096];
	int64_t now = lg_real();
	size_t len;
	double v;
	unsigned i;

	memset(&ag, 0, sizeof(ag));
	ag.seq = ++a->seq;
	ag.end_ns = now;
	ag.start_ns = now - (g->flood ? 1000000LL : (int64_t)(g->interval_s * 1e9));
	ag.count = (uint16_t)g->nmetrics;
	for (i = 0; i < g->nmetrics; i++) {
		v = i == 0 ? g->cpu : 10.0 * i + a->idx % 10;
		ag.stats[i].index = (uint16_t)i;
		ag.stats[i].count = 10;
		ag.stats[i].sum = 10 * v;
		ag.stats[i].min = v - 5;
		ag.stats[i].max = v + 5;
		ag.stats[i].last = v;
	}
	if (wire_encode_aggregate(buf, sizeof(buf), &a->sess, &ag, &len) < 0) {
		fprintf(stderr, "loadgen: cannot encode AGGREGATE\n");
		exit(1);
	}
	r = lg_send(g, a, buf, len);
	if (r == 0) {
		g->aggregates++;
		a->last_agg = ag.seq;
	}
	return r;
}

static void lg_goodbye(struct lg *g, struct lg_agent *a)
{
	struct wire_goodbye bye = { .reason = WIRE_BYE_SHUTDOWN };
	uint8_t buf[512];
	size_t len;

	bye.seq = ++a->seq;
	bye.message = wire_str_c("loadgen done");
	if (wire_encode_goodbye(buf, sizeof(buf), &a->sess, &bye, &len) == 0)
		lg_send(g, a, buf, len);
}

static void lg_connect(struct lg *g, struct lg_agent *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g->port) };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT };
	int fd;

	inet_pton(AF_INET, g->host, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g->connect_failures++;
		a->due_ns = lg_mono() + LG_RETRY_NS;
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		g->connect_failures++;
		close(fd);
		a->due_ns = lg_mono() + LG_RETRY_NS;
		return;
	}
	a->fd = fd;
	a->state = LG_CONNECTING;
	g->inflight++;
	ev.data.ptr = a;
	epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* WELCOME while in LG_HELLO; 0 or -1 (closed). */
static int lg_welcome(struct lg *g, struct lg_agent *a, const uint8_t *f, size_t n)
{
	struct wire_welcome w;

	if (wire_decode_welcome(f, n, &a->sess, &w) < 0) {
		g->closed++;
		lg_close(g, a, LG_RETRY_NS);
		return -1;
	}
	g->inflight--;
	if (w.status != WIRE_ACCEPTED) {
		g->refused++;
		a->state = LG_HELLO;	/* lg_close counts it out of flight once */
		g->inflight++;
		lg_close(g, a, w.retry_after_ms ? (int64_t)w.retry_after_ms * 1000000LL : LG_RETRY_NS);
		return -1;
	}
	/* frames after resume_seq are what the coordinator lacks: ours continue from there */
	if (a->seq < w.resume_seq)
		a->seq = w.resume_seq;
	a->state = LG_LIVE;
	g->sessions++;
	/* spread the agents over the interval */
	a->due_ns = lg_mono() + (int64_t)(g->interval_s * 1e9 * a->idx / g->nagents);
	return 0;
}

/* One frame from the coordinator; 0 or -1 (closed). */
static int lg_frame(struct lg *g, struct lg_agent *a, const uint8_t *f, size_t n,
		    const struct wire_frame_info *info)
{
	struct wire_ack ack;

	if (a->state == LG_HELLO)
		return lg_welcome(g, a, f, n);
	if (a->state == LG_LIVE && info->type == WIRE_ACK && a->sess.minor >= 1 &&
	    wire_decode_ack(f, n, &a->sess, &ack) == 0 && ack.acked_seq <= a->seq) {
		g->acks++;
		if (ack.acked_seq > a->acked)
			a->acked = ack.acked_seq;
		return 0;
	}
	if (a->state == LG_LIVE && a->sess.minor < 1 && wire_decode_skip(f, n, &a->sess) == 0) {
		g->skipped++;
		return 0;
	}
	g->closed++;
	lg_close(g, a, LG_RETRY_NS);
	return -1;
}

static void lg_event(struct lg *g, struct lg_agent *a, uint32_t events)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = a };
	struct wire_frame_info info;
	socklen_t sl = sizeof(int);
	int err = 0, n;
	ssize_t r;

	if (a->state == LG_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			g->connect_failures++;
			lg_close(g, a, LG_RETRY_NS);
			return;
		}
		epoll_ctl(g->ep, EPOLL_CTL_MOD, a->fd, &ev);
		lg_hello(g, a);
		return;
	}
	if ((events & EPOLLOUT) && a->out_len && lg_flush(g, a) < 0)
		return;
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	r = read(a->fd, a->in + a->in_len, sizeof(a->in) - a->in_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		g->closed++;
		lg_close(g, a, LG_RETRY_NS);
		return;
	}
	a->in_len += (size_t)r;
	while ((n = wire_frame_peek(a->in, a->in_len, &info)) > 0) {
		if (lg_frame(g, a, a->in, (size_t)n, &info) < 0)
			return;
		memmove(a->in, a->in + n, a->in_len - (size_t)n);
		a->in_len -= (size_t)n;
	}
	if (n == -EAGAIN && info.need <= sizeof(a->in))
		return;
	g->closed++;
	lg_close(g, a, LG_RETRY_NS);
}

/* Live agents whose last AGGREGATE is not acknowledged yet. */
static uint64_t lg_unacked(const struct lg *g)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < g->nagents; i++)
		if (g->agents[i].state == LG_LIVE && g->agents[i].acked != g->agents[i].last_agg)
			n++;
	return n;
}

static int lg_parse(struct lg *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' }, { "host", required_argument, NULL, 'H' },
		{ "agents", required_argument, NULL, 'n' }, { "metrics", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 's' }, { "key-file", required_argument, NULL, 'k' },
		{ "deployment", required_argument, NULL, 'd' }, { "endpoint", required_argument, NULL, 'e' },
		{ "prefix", required_argument, NULL, 'P' }, { "bad-hmac", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'c' }, { "interval", required_argument, NULL, 'i' },
		{ "no-goodbye", no_argument, NULL, 'G' }, { "help", no_argument, NULL, 'h' },
		{ "rate", required_argument, NULL, 'r' }, { "flood", no_argument, NULL, 'F' },
		{ "minor", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': g->port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'H': g->host = optarg; break;
		case 'n': g->nagents = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': g->nmetrics = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': g->seconds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': g->key_file = optarg; break;
		case 'd': g->deployment = optarg; break;
		case 'e': g->endpoint = optarg; break;
		case 'P': g->prefix = optarg; break;
		case 'b': g->bad_hmac = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': g->cpu = strtod(optarg, NULL); break;
		case 'i': g->interval_s = strtod(optarg, NULL); break;
		case 'G': g->goodbye = false; break;
		case 'r': g->interval_s = 1.0 / strtod(optarg, NULL); break;
		case 'F': g->flood = true; break;
		case 'M': g->minor = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': lg_usage(stdout); exit(0);
		default: lg_usage(stderr); return -1;
		}
	}
	if (optind != argc || !g->key_file || g->port == 0 || g->port > 65535 || g->nagents == 0 ||
	    g->nagents > LG_AGENTS_MAX || g->nmetrics == 0 || g->nmetrics > WIRE_METRICS_MAX ||
	    !(g->interval_s >= 0.01 && g->interval_s <= 3600) || strlen(g->prefix) > 40 ||
	    g->minor > WIRE_VERSION_MINOR) {
		lg_usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct epoll_event evs[1024];
	struct lg g = { .host = "127.0.0.1", .prefix = "loadgen-", .deployment = "blue",
			.endpoint = "my-endpoint", .nagents = 100, .nmetrics = 8, .seconds = 10,
			.cpu = 50, .interval_s = 1, .goodbye = true, .minor = WIRE_VERSION_MINOR };
	struct rlimit rl;
	char err[512];
	int64_t start, end, now;
	unsigned i;
	int n, k;

	if (lg_parse(&g, argc, argv) < 0)
		return 2;
	if (keyfile_load(g.key_file, &g.keys, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < g.nagents + 64) {
		rl.rlim_cur = rl.rlim_max < g.nagents + 64 ? rl.rlim_max : g.nagents + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	g.agents = calloc(g.nagents, sizeof(*g.agents));
	if (g.ep < 0 || !g.agents)
		return 1;
	start = lg_mono();
	end = start + (int64_t)g.seconds * 1000000000LL;
	for (i = 0; i < g.nagents; i++) {
		g.agents[i].idx = i;
		g.agents[i].fd = -1;
		g.agents[i].due_ns = start;
		wire_random(&g.agents[i].boot_id, sizeof(g.agents[i].boot_id));
		g.agents[i].boot_id |= 1;
	}
	while ((now = lg_mono()) < end) {
		for (i = 0; i < g.nagents; i++) {
			struct lg_agent *a = &g.agents[i];

			if (a->due_ns > now)
				continue;
			if (a->state == LG_IDLE && g.inflight < LG_INFLIGHT) {
				lg_connect(&g, a);
			} else if (a->state == LG_LIVE && g.flood) {
				for (k = 0; k < LG_FLOOD_BURST; k++)
					if (lg_aggregate(&g, a) != 0 || a->out_len)
						break;
			} else if (a->state == LG_LIVE) {
				lg_aggregate(&g, a);
				a->due_ns += (int64_t)(g.interval_s * 1e9);
				if (a->due_ns < now)
					a->due_ns = now + (int64_t)(g.interval_s * 1e9);
			}
		}
		n = epoll_wait(g.ep, evs, 1024, g.flood ? 0 : 5);
		for (k = 0; k < n; k++)
			lg_event(&g, evs[k].data.ptr, evs[k].events);
	}
	/* the last ACKs: the coordinator sends one at most a second apart */
	end = lg_mono() + (g.minor >= 1 ? LG_DRAIN_NS : 0);
	while (lg_mono() < end && lg_unacked(&g)) {
		n = epoll_wait(g.ep, evs, 1024, 10);
		for (k = 0; k < n; k++)
			lg_event(&g, evs[k].data.ptr, evs[k].events);
	}
	printf("loadgen_acks %llu frames\n", (unsigned long long)g.acks);
	printf("loadgen_acked_behind %llu agents\n", (unsigned long long)lg_unacked(&g));
	printf("loadgen_frames_skipped %llu frames\n", (unsigned long long)g.skipped);
	printf("loadgen_send_blocked %llu frames\n", (unsigned long long)g.blocked);
	for (i = 0; i < g.nagents; i++) {
		if (g.agents[i].state == LG_LIVE && g.goodbye)
			lg_goodbye(&g, &g.agents[i]);
		if (g.agents[i].fd >= 0)
			close(g.agents[i].fd);
	}
	printf("loadgen_frames_sent %llu frames\n", (unsigned long long)g.sent);
	printf("loadgen_frames_refused %llu frames\n", (unsigned long long)g.refused);
	printf("loadgen_connect_failures %llu connections\n", (unsigned long long)g.connect_failures);
	printf("loadgen_sessions %llu sessions\n", (unsigned long long)g.sessions);
	printf("loadgen_aggregates_sent %llu frames\n", (unsigned long long)g.aggregates);
	printf("loadgen_frames_corrupted %llu frames\n", (unsigned long long)g.corrupted);
	printf("loadgen_frames_dropped %llu frames\n", (unsigned long long)g.dropped);
	printf("loadgen_connections_closed %llu connections\n", (unsigned long long)g.closed);
	free(g.agents);
	wire_keys_free(&g.keys);
	return 0;
}
