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

enum lg_state { LG_IDLE, LG_CONNECTING, LG_HELLO, LG_LIVE, LG_DONE };

struct lg_agent {
	unsigned idx;
	int fd;
	enum lg_state state;
	struct wire_session sess;
	uint64_t boot_id, seq;
	int64_t due_ns;			/* monotonic: next connect or aggregate */
	uint8_t in[LG_BUF];
	size_t in_len;
};

struct lg {
	const char *host, *prefix, *deployment, *endpoint, *key_file;
	unsigned port, nagents, nmetrics, seconds, bad_hmac;
	double cpu, interval_s;
	bool goodbye;
	struct wire_keys keys;
	struct lg_agent *agents;
	int ep;
	unsigned inflight;
	uint64_t sent, refused, connect_failures, corrupted, closed, aggregates, sessions, dropped;
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
	      "               [--bad-hmac K] [--cpu V] [--interval S] [--no-goodbye]\n"
	      "N agents (default 100, up to 10000), each a TCP connection sending HELLO, then\n"
	      "one AGGREGATE of M metrics (default 8) per interval for D seconds (default 10).\n"
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
}

/* Sends a whole frame, corrupting every bad_hmac-th one; 0 or -1 (connection closed). */
static int lg_send(struct lg *g, struct lg_agent *a, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (g->bad_hmac && (g->sent + 1) % g->bad_hmac == 0) {
		buf[WIRE_HMAC_OFFSET] ^= 0x5a;
		g->corrupted++;
		g->refused++;
	}
	n = send(a->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == (ssize_t)len) {
		g->sent++;
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		g->dropped++;	/* the coordinator does not keep up: this interval is lost */
		return 0;
	}
	g->closed++;
	lg_close(g, a, LG_RETRY_NS);
	return -1;
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

static void lg_aggregate(struct lg *g, struct lg_agent *a)
{
	struct wire_aggregate ag;
	uint8_t buf[4096];
	int64_t now = lg_real();
	size_t len;
	double v;
	unsigned i;

	memset(&ag, 0, sizeof(ag));
	ag.seq = ++a->seq;
	ag.end_ns = now;
	ag.start_ns = now - (int64_t)(g->interval_s * 1e9);
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
	if (lg_send(g, a, buf, len) == 0)
		g->aggregates++;
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

static void lg_event(struct lg *g, struct lg_agent *a, uint32_t events)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = a };
	struct wire_welcome w;
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
	r = read(a->fd, a->in + a->in_len, sizeof(a->in) - a->in_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		g->closed++;
		lg_close(g, a, LG_RETRY_NS);
		return;
	}
	a->in_len += (size_t)r;
	n = wire_frame_peek(a->in, a->in_len, NULL);
	if (n == -EAGAIN && a->in_len < sizeof(a->in))
		return;
	if (a->state != LG_HELLO || n < 0 || wire_decode_welcome(a->in, (size_t)n, &a->sess, &w) < 0) {
		g->closed++;
		lg_close(g, a, LG_RETRY_NS);
		return;
	}
	a->in_len = 0;
	g->inflight--;
	if (w.status != WIRE_ACCEPTED) {
		g->refused++;
		a->state = LG_HELLO;	/* lg_close counts it out of flight once */
		g->inflight++;
		lg_close(g, a, w.retry_after_ms ? (int64_t)w.retry_after_ms * 1000000LL : LG_RETRY_NS);
		return;
	}
	/* frames after resume_seq are what the coordinator lacks: ours continue from there */
	if (a->seq < w.resume_seq)
		a->seq = w.resume_seq;
	a->state = LG_LIVE;
	g->sessions++;
	/* spread the agents over the interval */
	a->due_ns = lg_mono() + (int64_t)(g->interval_s * 1e9 * a->idx / g->nagents);
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
		case 'h': lg_usage(stdout); exit(0);
		default: lg_usage(stderr); return -1;
		}
	}
	if (optind != argc || !g->key_file || g->port == 0 || g->port > 65535 || g->nagents == 0 ||
	    g->nagents > LG_AGENTS_MAX || g->nmetrics == 0 || g->nmetrics > WIRE_METRICS_MAX ||
	    !(g->interval_s >= 0.01 && g->interval_s <= 3600) || strlen(g->prefix) > 40) {
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
			.cpu = 50, .interval_s = 1, .goodbye = true };
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
			} else if (a->state == LG_LIVE) {
				lg_aggregate(&g, a);
				a->due_ns += (int64_t)(g.interval_s * 1e9);
				if (a->due_ns < now)
					a->due_ns = now + (int64_t)(g.interval_s * 1e9);
			}
		}
		n = epoll_wait(g.ep, evs, 1024, 5);
		for (k = 0; k < n; k++)
			lg_event(&g, evs[k].data.ptr, evs[k].events);
	}
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
