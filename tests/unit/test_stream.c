/* test_stream: the agent's stream against a fake coordinator on loopback: HELLO, aggregates, resume, refusal */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_conf.h"
#include "aggregate.h"
#include "log.h"
#include "ring.h"
#include "stream.h"
#include "timeutil.h"
#include "wire.h"

#define SAMPLE_NS	(20 * NSEC_PER_MSEC)
#define REPORT_NS	(100 * NSEC_PER_MSEC)
#define MAX_AGG		4096

static const char key_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static char dir[] = "/tmp/test_stream.XXXXXX";
static char ring_path[200], key_path[200], bad_key_path[200];

/* ---- the fake coordinator ---- */

struct fake {
	int lfd, fd;
	uint16_t port;
	struct wire_keys keys;
	struct wire_session sess;
	uint8_t in[2 * WIRE_FRAME_MAX];
	size_t in_len;
	/* what WELCOME says */
	uint16_t status;
	uint64_t resume_seq;
	/* what came */
	unsigned hellos;
	uint8_t hello_frame[WIRE_FRAME_MAX];
	struct wire_hello hello;
	unsigned naggs;
	struct wire_aggregate *aggs;
	unsigned heartbeats;
	unsigned goodbyes;
	uint16_t goodbye_reason;
	bool eof;
	/* ACKs (1.1): one after each aggregate when ack is set; the last kept for a replay */
	bool ack;
	uint64_t ack_seq;
	uint8_t ack_frame[128];
	size_t ack_len;
};

static void fake_listen(struct fake *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int one = 1;

	sa.sin_port = htons(f->port);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
}

static void fake_init(struct fake *f, const char *keyhex)
{
	uint8_t key[32];
	unsigned i, b;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->aggs = calloc(MAX_AGG, sizeof(*f->aggs));
	assert_non_null(f->aggs);
	for (i = 0; i < 32; i++) {
		assert_int_equal(sscanf(keyhex + 2 * i, "%2x", &b), 1);
		key[i] = (uint8_t)b;
	}
	assert_int_equal(wire_keys_init(&f->keys), 0);
	assert_int_equal(wire_keys_add(&f->keys, 1, key, sizeof(key)), 0);
	fake_listen(f);
}

/* Drops the connection (and the listener when all): the coordinator goes away. */
static void fake_drop(struct fake *f, bool all)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->in_len = 0;
	if (all && f->lfd >= 0) {
		close(f->lfd);
		f->lfd = -1;
	}
}

static void fake_free(struct fake *f)
{
	fake_drop(f, true);
	wire_keys_free(&f->keys);
	free(f->aggs);
}

static void fake_send(struct fake *f, const void *buf, size_t len)
{
	assert_int_equal(send(f->fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void fake_hello(struct fake *f, const uint8_t *frame, size_t len)
{
	struct wire_welcome w = { .status = f->status, .idle_timeout_ms = 150 };
	uint8_t out[512];
	size_t n;
	int r;

	memcpy(f->hello_frame, frame, len);
	wire_session_init(&f->sess, &f->keys, false);
	f->ack_seq = 0;
	r = wire_decode_hello(f->hello_frame, len, &f->sess, &f->hello);
	f->hellos++;
	if (r < 0) {
		/* a key we do not know: refuse unauthenticated */
		wire_session_init(&f->sess, &f->keys, false);
		w.status = WIRE_REFUSE_KEY;
		w.reason = wire_str_c("unknown key");
	} else if (f->status == WIRE_ACCEPTED) {
		w.resume_seq = f->resume_seq;
		assert_int_equal(wire_random(w.nonce, sizeof(w.nonce)), 0);
	} else {
		w.reason = wire_str_c("go away");
	}
	w.coord_real_ns = time_real_ns();
	assert_int_equal(wire_encode_welcome(out, sizeof(out), &f->sess, &w, &n), 0);
	fake_send(f, out, n);
}

static void fake_ack(struct fake *f, uint64_t acked)
{
	struct wire_ack a = { .seq = ++f->ack_seq, .acked_seq = acked };

	a.coord_real_ns = time_real_ns();
	assert_int_equal(wire_encode_ack(f->ack_frame, sizeof(f->ack_frame), &f->sess, &a, &f->ack_len), 0);
	fake_send(f, f->ack_frame, f->ack_len);
}

static void fake_frame(struct fake *f, const uint8_t *frame, size_t len, unsigned type)
{
	struct wire_heartbeat hb;
	struct wire_goodbye g;

	switch (type) {
	case WIRE_HELLO:
		fake_hello(f, frame, len);
		break;
	case WIRE_AGGREGATE:
		assert_true(f->naggs < MAX_AGG);
		/* the codec refuses a sequence at or below the last: duplicates fail here */
		assert_int_equal(wire_decode_aggregate(frame, len, &f->sess, &f->aggs[f->naggs]), 0);
		f->naggs++;
		if (f->ack)
			fake_ack(f, f->aggs[f->naggs - 1].seq);
		break;
	case WIRE_HEARTBEAT:
		assert_int_equal(wire_decode_heartbeat(frame, len, &f->sess, &hb), 0);
		f->heartbeats++;
		break;
	case WIRE_GOODBYE:
		assert_int_equal(wire_decode_goodbye(frame, len, &f->sess, &g), 0);
		f->goodbyes++;
		f->goodbye_reason = g.reason;
		break;
	default:
		fail_msg("unexpected frame type %u", type);
	}
}

static void fake_poll(struct fake *f)
{
	struct wire_frame_info info;
	size_t off = 0;
	ssize_t n;
	int r;

	if (f->fd < 0 && f->lfd >= 0) {
		f->fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		f->in_len = 0;
		f->eof = false;
	}
	if (f->fd < 0)
		return;
	n = recv(f->fd, f->in + f->in_len, sizeof(f->in) - f->in_len, 0);
	if (n == 0) {
		f->eof = true;
		fake_drop(f, false);
		return;
	}
	if (n < 0)
		return;
	f->in_len += (size_t)n;
	while ((r = wire_frame_peek(f->in + off, f->in_len - off, &info)) > 0) {
		fake_frame(f, f->in + off, (size_t)r, info.type);
		off += (size_t)r;
	}
	assert_int_equal(r, -EAGAIN);
	memmove(f->in, f->in + off, f->in_len - off);
	f->in_len -= off;
}

/* ---- the agent's side ---- */

struct agent_side {
	sd_event *e;
	struct ring_writer *w;
	struct ring_reader *r;
	struct stream *s;
	struct agent_conf conf;
	int64_t next_sample;
	unsigned samples;
};

static void write_key(const char *path, uint32_t id, const char *hex)
{
	FILE *fp;

	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "# test key\n%u %s\n", id, hex);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
}

static void agent_open(struct agent_side *a, uint16_t port, const char *key)
{
	struct ring_metric m[3];
	struct ring_params p = {
		.interval_ns = SAMPLE_NS, .slot_count = 3000, .metric_count = 3, .metrics = m,
		.source = RING_SOURCE_PROCFS, .instance = "vm-7", .mode = 0600, .gid = (gid_t)-1,
	};
	char err[256];

	memset(a, 0, sizeof(*a));
	memset(m, 0, sizeof(m));
	snprintf(m[0].name, sizeof(m[0].name), "Percentage CPU");
	snprintf(m[0].alias, sizeof(m[0].alias), "CpuUtilizationPercentage");
	snprintf(m[0].unit, sizeof(m[0].unit), "percent");
	snprintf(m[1].name, sizeof(m[1].name), "MemoryUtilizationPercentage");
	snprintf(m[2].name, sizeof(m[2].name), "Percentage Steal");
	assert_int_equal(ring_writer_create(ring_path, &p, &a->w), 0);
	assert_int_equal(ring_reader_open(ring_path, &a->r, err, sizeof(err)), 0);
	assert_true(sd_event_new(&a->e) >= 0);
	agent_conf_defaults(&a->conf);
	a->conf.sample_interval_ns = SAMPLE_NS;
	a->conf.report_interval_ns = REPORT_NS;
	a->conf.ncoord = 1;
	snprintf(a->conf.coordinators[0], AGENT_ADDR_MAX, "127.0.0.1:%u", port);
	snprintf(a->conf.key_file, sizeof(a->conf.key_file), "%s", key);
	snprintf(a->conf.instance, sizeof(a->conf.instance), "vm-7");
	snprintf(a->conf.deployment, sizeof(a->conf.deployment), "blue");
	snprintf(a->conf.endpoint, sizeof(a->conf.endpoint), "ep");
	assert_int_equal(stream_new(a->e, &a->conf, a->r, a->w, NULL, &a->s), 0);
	stream_set_timing(a->s, 20 * NSEC_PER_MSEC, 80 * NSEC_PER_MSEC, 2 * NSEC_PER_SEC);
}

static void agent_close(struct agent_side *a)
{
	if (a->s)
		stream_free(a->s, WIRE_BYE_SHUTDOWN);
	ring_reader_close(a->r);
	ring_writer_close(a->w);
	sd_event_unref(a->e);
	unlink(ring_path);
}

/* Samples like the agent does: a slot every SAMPLE_NS stamped with the real time. */
static void agent_sample(struct agent_side *a)
{
	int64_t now = time_mono_ns();
	float v[3];

	if (now < a->next_sample)
		return;
	a->next_sample = now + SAMPLE_NS;
	v[0] = (float)(a->samples % 100);
	v[1] = 50.0f;
	v[2] = a->samples % 2 ? NAN : 1.0f;
	a->samples++;
	assert_int_equal(ring_writer_append(a->w, now, time_real_ns(), v), 0);
}

typedef bool (*cond_fn)(struct agent_side *a, struct fake *f, void *arg);

/* Runs both sides in bounded steps until cond holds or max_ms pass; returns cond. */
static bool run(struct agent_side *a, struct fake *f, cond_fn cond, void *arg, int max_ms)
{
	int64_t deadline = time_mono_ns() + (int64_t)max_ms * NSEC_PER_MSEC;

	while (time_mono_ns() < deadline) {
		agent_sample(a);
		assert_true(sd_event_run(a->e, 5000) >= 0);
		fake_poll(f);
		if (cond && cond(a, f, arg))
			return true;
	}
	return cond ? cond(a, f, arg) : true;
}

static bool got_aggs(struct agent_side *a, struct fake *f, void *arg)
{
	(void)a;
	return f->naggs >= *(unsigned *)arg;
}

static bool got_hellos(struct agent_side *a, struct fake *f, void *arg)
{
	(void)a;
	return f->hellos >= *(unsigned *)arg;
}

static enum ring_conn_state conn_state(struct agent_side *a)
{
	struct ring_stream st;

	assert_int_equal(ring_reader_stream(a->r, &st), 0);
	assert_int_equal(st.conn_count, 1);
	return st.conns[0].state;
}

static bool is_disconnected(struct agent_side *a, struct fake *f, void *arg)
{
	(void)f;
	(void)arg;
	return conn_state(a) == RING_CONN_BACKOFF;
}

/* Every aggregate starts where the one before ended: no hole, no duplicate. */
static void assert_contiguous(const struct wire_aggregate *aggs, unsigned n)
{
	unsigned i;

	for (i = 1; i < n; i++) {
		if (aggs[i].start_ns != aggs[i - 1].end_ns || aggs[i].seq <= aggs[i - 1].seq)
			fail_msg("aggregate %u: [%lld, %lld) seq %llu after [%lld, %lld) seq %llu", i,
				 (long long)aggs[i].start_ns, (long long)aggs[i].end_ns,
				 (unsigned long long)aggs[i].seq, (long long)aggs[i - 1].start_ns,
				 (long long)aggs[i - 1].end_ns, (unsigned long long)aggs[i - 1].seq);
		assert_int_equal(aggs[i].seq, (uint64_t)aggs[i].end_ns / NSEC_PER_MSEC);
	}
}

static void test_hello_aggregates_goodbye(void **state)
{
	struct agent_side a;
	struct fake f;
	struct ring_stream st;
	unsigned want = 6, i, counted = 0;

	(void)state;
	fake_init(&f, key_hex);
	agent_open(&a, f.port, key_path);
	assert_true(run(&a, &f, got_aggs, &want, 3000));
	/* HELLO: labels, intervals and the metric table */
	assert_int_equal(f.hellos, 1);
	assert_int_equal(f.hello.instance.len, 4);
	assert_memory_equal(f.hello.instance.ptr, "vm-7", 4);
	assert_memory_equal(f.hello.deployment.ptr, "blue", 4);
	assert_memory_equal(f.hello.endpoint.ptr, "ep", 2);
	assert_int_equal(f.hello.report_interval_ns, REPORT_NS);
	assert_int_equal(f.hello.sample_interval_ns, SAMPLE_NS);
	assert_int_not_equal(f.hello.boot_id, 0);
	assert_int_equal(f.hello.metric_count, 3);
	assert_memory_equal(f.hello.metrics[0].name.ptr, "Percentage CPU", 14);
	assert_memory_equal(f.hello.metrics[0].alias.ptr, "CpuUtilizationPercentage", 24);
	assert_memory_equal(f.hello.metrics[1].name.ptr, "MemoryUtilizationPercentage", 27);
	/* aggregates in order, from the boot's first interval */
	assert_contiguous(f.aggs, f.naggs);
	for (i = 1; i < f.naggs; i++) {
		assert_int_equal(f.aggs[i].count, 3);
		counted += f.aggs[i].stats[0].count;
		assert_true(f.aggs[i].stats[2].count <= f.aggs[i].stats[0].count);
		assert_true(f.aggs[i].stats[1].min == 50.0 && f.aggs[i].stats[1].max == 50.0);
	}
	assert_true(counted > 0);
	/* the state in the ring */
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_int_equal(st.conns[0].state, RING_CONN_CONNECTED);
	assert_string_equal(st.conns[0].address, a.conf.coordinators[0]);
	assert_int_equal(st.boot_id, f.hello.boot_id);
	assert_true(st.conns[0].sent_seq >= f.aggs[0].seq);
	assert_int_equal(st.conns[0].acked_seq, 0);
	/* idle time between aggregates brings heartbeats, numbered between them */
	want = f.naggs + 4;
	assert_true(run(&a, &f, got_aggs, &want, 3000));
	assert_contiguous(f.aggs, f.naggs);
	print_message("%u aggregates, %u heartbeats\n", f.naggs, f.heartbeats);
	assert_true(f.heartbeats > 0);
	/* a clean exit says GOODBYE */
	stream_free(a.s, WIRE_BYE_SHUTDOWN);
	a.s = NULL;
	run(&a, &f, NULL, NULL, 100);
	assert_int_equal(f.goodbyes, 1);
	assert_int_equal(f.goodbye_reason, WIRE_BYE_SHUTDOWN);
	/* and the ring says so */
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_int_equal(st.conn_count, 0);
	agent_close(&a);
	fake_free(&f);
}

static void test_reconnect_resumes_without_holes(void **state)
{
	struct agent_side a;
	struct fake f;
	struct ring_stream st;
	struct wire_aggregate *kept;
	unsigned want = 5, nkept, hellos;

	(void)state;
	fake_init(&f, key_hex);
	agent_open(&a, f.port, key_path);
	assert_true(run(&a, &f, got_aggs, &want, 3000));
	/* the coordinator restarts having stored all but the last two */
	nkept = f.naggs - 2;
	f.resume_seq = f.aggs[nkept - 1].seq;
	kept = calloc(MAX_AGG, sizeof(*kept));
	assert_non_null(kept);
	memcpy(kept, f.aggs, nkept * sizeof(*kept));
	fake_drop(&f, true);
	assert_true(run(&a, &f, is_disconnected, NULL, 2000));
	/* down for a while: connections are refused, the agent backs off and retries */
	run(&a, &f, NULL, NULL, 400);
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_true(st.conns[0].state == RING_CONN_BACKOFF || st.conns[0].state == RING_CONN_CONNECTING);
	assert_true(st.conns[0].error[0] != '\0');
	assert_true(st.conns[0].backlog >= 4);
	print_message("down: %s, backlog %llu\n", st.conns[0].error,
		      (unsigned long long)st.conns[0].backlog);

	/* back on the same port */
	f.naggs = 0;
	hellos = f.hellos + 1;
	fake_listen(&f);
	assert_true(run(&a, &f, got_hellos, &hellos, 2000));
	want = 8;
	assert_true(run(&a, &f, got_aggs, &want, 3000));
	/* resent from resume_seq + 1, then live: together, one contiguous series */
	assert_int_equal(f.aggs[0].start_ns, kept[nkept - 1].end_ns);
	memcpy(kept + nkept, f.aggs, f.naggs * sizeof(*kept));
	assert_contiguous(kept, nkept + f.naggs);
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_int_equal(st.conns[0].state, RING_CONN_CONNECTED);
	assert_int_equal(st.conns[0].reconnects, 1);
	assert_int_equal(st.conns[0].acked_seq, kept[nkept - 1].seq);
	assert_int_equal(st.conns[0].lost, 0);
	assert_string_equal(st.conns[0].error, "");
	free(kept);
	agent_close(&a);
	fake_free(&f);
}

static bool is_connected(struct agent_side *a, struct fake *f, void *arg)
{
	(void)f;
	(void)arg;
	return conn_state(a) == RING_CONN_CONNECTED;
}

static bool acked_last(struct agent_side *a, struct fake *f, void *arg)
{
	struct ring_stream st;

	(void)arg;
	assert_int_equal(ring_reader_stream(a->r, &st), 0);
	return f->naggs >= 4 && st.conns[0].acked_seq == f->aggs[f->naggs - 1].seq;
}

/* ACKs (1.1) move the acknowledged point in the ring; a replayed or impossible one ends the session. */
static void test_acks(void **state)
{
	struct agent_side a;
	struct fake f;
	struct ring_stream st;
	struct wire_ack bogus = { 0 };
	uint8_t out[128];
	unsigned hellos;
	size_t n;

	(void)state;
	fake_init(&f, key_hex);
	f.ack = true;
	agent_open(&a, f.port, key_path);
	assert_true(run(&a, &f, acked_last, NULL, 3000));
	assert_int_equal(f.hello.metric_count, 3);
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_int_equal(st.conns[0].state, RING_CONN_CONNECTED);
	assert_true(st.conns[0].acked_seq <= st.conns[0].sent_seq);
	/* the same ACK again: a replay, the agent closes and reconnects */
	hellos = f.hellos + 1;
	f.ack = false;
	fake_send(&f, f.ack_frame, f.ack_len);
	assert_true(run(&a, &f, got_hellos, &hellos, 2000));
	assert_true(run(&a, &f, is_connected, NULL, 2000));
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_int_equal(st.conns[0].reconnects, 1);
	assert_string_equal(st.conns[0].error, "");
	/* an ACK of a sequence the agent never sent */
	hellos = f.hellos + 1;
	bogus.seq = ++f.ack_seq;
	bogus.acked_seq = UINT64_MAX - 1;
	assert_int_equal(wire_encode_ack(out, sizeof(out), &f.sess, &bogus, &n), 0);
	fake_send(&f, out, n);
	assert_true(run(&a, &f, got_hellos, &hellos, 2000));
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_true(st.conns[0].acked_seq < UINT64_MAX - 1);
	agent_close(&a);
	fake_free(&f);
}

static void test_refused_backs_off(void **state)
{
	struct agent_side a;
	struct fake f;
	struct ring_stream st;
	unsigned want = 3;

	(void)state;
	/* the agent signs with key id 2, which the coordinator does not know */
	fake_init(&f, key_hex);
	agent_open(&a, f.port, bad_key_path);
	assert_true(run(&a, &f, got_hellos, &want, 3000));
	assert_int_equal(f.naggs, 0);
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_true(st.conns[0].state != RING_CONN_CONNECTED);
	assert_non_null(strstr(st.conns[0].error, "refused (key)"));
	agent_close(&a);
	fake_free(&f);

	/* a policy refusal, well signed */
	fake_init(&f, key_hex);
	f.status = WIRE_REFUSE_POLICY;
	agent_open(&a, f.port, key_path);
	want = 2;
	assert_true(run(&a, &f, got_hellos, &want, 3000));
	assert_int_equal(ring_reader_stream(a.r, &st), 0);
	assert_non_null(strstr(st.conns[0].error, "refused (policy): go away"));
	assert_int_equal(f.goodbyes, 0);
	agent_close(&a);
	fake_free(&f);
}

static void test_bad_key_file(void **state)
{
	struct agent_side a;
	struct agent_conf c;
	struct stream *s;
	sd_event *e;
	char err[256];
	struct ring_metric m[1] = { { .name = "x" } };
	struct ring_params p = {
		.interval_ns = SAMPLE_NS, .slot_count = 10, .metric_count = 1, .metrics = m,
		.mode = 0600, .gid = (gid_t)-1,
	};

	(void)state;
	assert_int_equal(ring_writer_create(ring_path, &p, &a.w), 0);
	assert_int_equal(ring_reader_open(ring_path, &a.r, err, sizeof(err)), 0);
	assert_true(sd_event_new(&e) >= 0);
	agent_conf_defaults(&c);
	c.ncoord = 1;
	snprintf(c.coordinators[0], AGENT_ADDR_MAX, "127.0.0.1:1");
	snprintf(c.key_file, sizeof(c.key_file), "%s", key_path);
	assert_int_equal(chmod(key_path, 0640), 0);
	assert_int_equal(stream_new(e, &c, a.r, a.w, NULL, &s), -EACCES);
	assert_null(s);
	assert_int_equal(chmod(key_path, 0600), 0);
	ring_reader_close(a.r);
	ring_writer_close(a.w);
	sd_event_unref(e);
	unlink(ring_path);
}

static void quiet(int prio, const char *msg, void *user)
{
	(void)user;
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", prio, msg);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(ring_path, sizeof(ring_path), "%s/agent.ring", dir);
	snprintf(key_path, sizeof(key_path), "%s/key", dir);
	snprintf(bad_key_path, sizeof(bad_key_path), "%s/badkey", dir);
	write_key(key_path, 1, key_hex);
	write_key(bad_key_path, 2, key_hex);
	log_set_sink(quiet, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(key_path);
	unlink(bad_key_path);
	unlink(ring_path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_aggregates_goodbye),
		cmocka_unit_test(test_reconnect_resumes_without_holes),
		cmocka_unit_test(test_acks),
		cmocka_unit_test(test_refused_backs_off),
		cmocka_unit_test(test_bad_key_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
