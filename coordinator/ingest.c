/* ingest: the agents' TCP streams: listening, accepting and sweeping connections, and the counters */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest_int.h"
#include "keyfile.h"
#include "log.h"
#include "timeutil.h"

#define INGEST_ACCEPTS		64	/* accepts per wake-up */
#define INGEST_LINGER_NS	(2LL * NSEC_PER_SEC)	/* a refused peer has this long to read why */
#define INGEST_LOG_BUDGET	20	/* warnings about peers, per second */

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

void ingest_lat_add(struct ingest *ig, int64_t ns)
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
		if (sd_event_add_io(ig->event, &c->io, cfd, EPOLLIN, ingest_conn_io, c) < 0) {
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
			ingest_conn_free(c);
			continue;
		}
		ingest_conn_ack(c, now, true);
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
		ingest_conn_free(ig->conns);
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
