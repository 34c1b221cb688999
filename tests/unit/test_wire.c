/* test_wire: the frame codec: round trips, truncation, lengths, versions, HMAC, replay, keys, skipping */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

#define KEY_A	1
#define KEY_B	7

static const char *metric_names[] = {
	"Percentage CPU", "MemoryUtilizationPercentage", "Percentage Steal", "Percentage CPU cpu0",
	"Percentage CPU cpu1", "Percentage CPU cpu2", "Percentage CPU cpu3", "Disk Bytes Ö",
};

/* The two ends: keys A for the agent, A and B for the coordinator, and their sessions. */
struct pair {
	struct wire_keys akeys;
	struct wire_keys ckeys;
	struct wire_session agent;
	struct wire_session coord;
	struct wire_hello hello;
	struct wire_welcome welcome;
	uint8_t buf[WIRE_FRAME_MAX];
	size_t len;
};

static void key_bytes(uint8_t *k, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		k[i] = (uint8_t)(seed * 31 + i * 7);
}

static void keys_make(struct wire_keys *k, const uint32_t *ids, unsigned n)
{
	uint8_t key[WIRE_KEY_MIN];
	unsigned i;

	assert_int_equal(wire_keys_init(k), 0);
	for (i = 0; i < n; i++) {
		key_bytes(key, sizeof(key), (uint8_t)ids[i]);
		assert_int_equal(wire_keys_add(k, ids[i], key, sizeof(key)), 0);
	}
}

static void hello_fill(struct wire_hello *h)
{
	unsigned i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < WIRE_NONCE_LEN; i++)
		h->nonce[i] = (uint8_t)(0xa0 + i);
	h->boot_id = 0x1122334455667788ULL;
	h->last_seq = 41;
	h->agent_real_ns = 1700000000123456789LL;
	h->sample_interval_ns = 100000000;
	h->report_interval_ns = 1000000000;
	h->agent_version = wire_str_c("0.3.0");
	h->instance = wire_str_c("vm-0");
	h->deployment = wire_str_c("blue");
	h->endpoint = wire_str_c("my-endpoint");
	h->label_count = 2;
	h->labels[0].key = wire_str_c("zone");
	h->labels[0].value = wire_str_c("westeurope-1");
	h->labels[1].key = wire_str_c("sku");
	h->labels[1].value = wire_str_c("");
	h->metric_count = 8;
	for (i = 0; i < 8; i++) {
		h->metrics[i].name = wire_str_c(metric_names[i]);
		h->metrics[i].alias = wire_str_c(i == 0 ? "CpuUtilizationPercentage" : "");
		h->metrics[i].unit = wire_str_c("percent");
	}
}

static void agg_fill(struct wire_aggregate *a, uint64_t seq)
{
	unsigned i;

	memset(a, 0, sizeof(*a));
	a->seq = seq;
	a->start_ns = 1700000000000000000LL + (int64_t)seq * 1000000000;
	a->end_ns = a->start_ns + 1000000000;
	a->count = 8;
	for (i = 0; i < 8; i++) {
		a->stats[i].index = (uint16_t)i;
		a->stats[i].count = i == 5 ? 0 : 10;
		a->stats[i].sum = 10 * (i + 0.5);
		a->stats[i].min = 0.25 * i;
		a->stats[i].max = 2.0 * i + 1;
		a->stats[i].last = 0.5 * i + 0.125;
	}
}

static bool str_eq(struct wire_str a, struct wire_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* HELLO from the agent, WELCOME (accepting, resume_seq) back. */
static void handshake(struct pair *p, uint64_t resume_seq)
{
	struct wire_hello got;
	struct wire_welcome wgot;
	unsigned i;

	wire_session_init(&p->agent, &p->akeys, true);
	wire_session_init(&p->coord, &p->ckeys, false);
	hello_fill(&p->hello);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &p->agent, &p->hello, &p->len), 0);
	assert_int_equal(wire_decode_hello(p->buf, p->len, &p->coord, &got), 0);
	memset(&p->welcome, 0, sizeof(p->welcome));
	p->welcome.status = WIRE_ACCEPTED;
	p->welcome.coord_real_ns = 1700000000999000000LL;
	p->welcome.resume_seq = resume_seq;
	p->welcome.idle_timeout_ms = 15000;
	for (i = 0; i < WIRE_NONCE_LEN; i++)
		p->welcome.nonce[i] = (uint8_t)(rand() & 0xff);
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &p->coord, &p->welcome, &p->len), 0);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &p->agent, &wgot), 0);
	assert_true(p->agent.established);
	assert_true(p->coord.established);
}

static int pair_setup(void **state)
{
	static const uint32_t a[] = { KEY_A }, ab[] = { KEY_A, KEY_B };
	struct pair *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	keys_make(&p->akeys, a, 1);
	keys_make(&p->ckeys, ab, 2);
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	wire_keys_free(&p->akeys);
	wire_keys_free(&p->ckeys);
	free(p);
	return 0;
}

/* Re-signs a frame edited by a test (length from the buffer). */
static void resign(uint8_t *f, size_t len, struct wire_keys *k, uint32_t id, const uint8_t *nonce)
{
	f[8] = (uint8_t)len;
	f[9] = (uint8_t)(len >> 8);
	f[10] = (uint8_t)(len >> 16);
	f[11] = (uint8_t)(len >> 24);
	assert_int_equal(wire_mac(wire_keys_find(k, id), nonce, f, len, f + WIRE_HMAC_OFFSET), 0);
}

/* ---- round trips ---- */

static void test_hello_roundtrip(void **state)
{
	struct pair *p = *state;
	struct wire_session a, c;
	struct wire_hello h, got;
	struct wire_frame_info info;
	unsigned i;

	wire_session_init(&a, &p->akeys, true);
	wire_session_init(&c, &p->ckeys, false);
	hello_fill(&h);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &a, &h, &p->len), 0);
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), (int)p->len);
	assert_int_equal(info.type, WIRE_HELLO);
	assert_int_equal(info.version_major, WIRE_VERSION_MAJOR);
	assert_int_equal(info.key_id, KEY_A);
	assert_int_equal(info.seq, 0);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(wire_decode_hello(p->buf, p->len, &c, &got), 0);
	assert_memory_equal(got.nonce, h.nonce, WIRE_NONCE_LEN);
	assert_int_equal(got.boot_id, h.boot_id);
	assert_int_equal(got.last_seq, h.last_seq);
	assert_int_equal(got.agent_real_ns, h.agent_real_ns);
	assert_int_equal(got.sample_interval_ns, h.sample_interval_ns);
	assert_int_equal(got.report_interval_ns, h.report_interval_ns);
	assert_true(str_eq(got.agent_version, h.agent_version));
	assert_true(str_eq(got.instance, h.instance));
	assert_true(str_eq(got.deployment, h.deployment));
	assert_true(str_eq(got.endpoint, h.endpoint));
	assert_int_equal(got.label_count, h.label_count);
	for (i = 0; i < h.label_count; i++) {
		assert_true(str_eq(got.labels[i].key, h.labels[i].key));
		assert_true(str_eq(got.labels[i].value, h.labels[i].value));
	}
	assert_int_equal(got.metric_count, h.metric_count);
	for (i = 0; i < h.metric_count; i++) {
		assert_true(str_eq(got.metrics[i].name, h.metrics[i].name));
		assert_true(str_eq(got.metrics[i].alias, h.metrics[i].alias));
		assert_true(str_eq(got.metrics[i].unit, h.metrics[i].unit));
	}
	/* strings point into the frame */
	assert_true((const uint8_t *)got.instance.ptr > p->buf &&
		    (const uint8_t *)got.instance.ptr < p->buf + p->len);
	assert_int_equal(c.key_id, KEY_A);
	assert_memory_equal(c.hello_nonce, h.nonce, WIRE_NONCE_LEN);
	assert_int_equal(c.metric_count, 8);
	/* only one HELLO per session */
	c.established = true;
	assert_int_equal(wire_decode_hello(p->buf, p->len, &c, &got), -EPROTO);
}

static void test_welcome_roundtrip(void **state)
{
	struct pair *p = *state;
	struct wire_welcome got;

	handshake(p, 17);
	assert_memory_equal(p->agent.nonce, p->welcome.nonce, WIRE_NONCE_LEN);
	assert_int_equal(p->coord.recv_seq, 17);

	/* decode again into a fresh agent session to read the fields */
	wire_session_init(&p->agent, &p->akeys, true);
	memcpy(p->agent.hello_nonce, p->hello.nonce, WIRE_NONCE_LEN);
	p->coord.established = false;
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &p->coord, &p->welcome, &p->len), 0);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &p->agent, &got), 0);
	assert_true(got.authenticated);
	assert_int_equal(got.status, WIRE_ACCEPTED);
	assert_int_equal(got.coord_real_ns, p->welcome.coord_real_ns);
	assert_int_equal(got.resume_seq, 17);
	assert_int_equal(got.idle_timeout_ms, 15000);
	assert_memory_equal(got.nonce, p->welcome.nonce, WIRE_NONCE_LEN);
	assert_int_equal(got.reason.len, 0);

	/* a WELCOME answering another HELLO (another nonce) does not verify */
	wire_session_init(&p->agent, &p->akeys, true);
	memset(p->agent.hello_nonce, 0x33, WIRE_NONCE_LEN);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &p->agent, &got), -EBADMSG);
	assert_false(p->agent.established);
}

static void test_welcome_refusals(void **state)
{
	struct pair *p = *state;
	struct wire_session c, a;
	struct wire_welcome w = { .status = WIRE_REFUSE_POLICY, .retry_after_ms = 30000 }, got;

	/* authenticated refusal: the coordinator knew the HELLO's key */
	handshake(p, 0);
	wire_session_init(&a, &p->akeys, true);
	memcpy(a.hello_nonce, p->hello.nonce, WIRE_NONCE_LEN);
	c = p->coord;
	c.established = false;
	w.reason = wire_str_c("unknown deployment \"blue\"");
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &c, &w, &p->len), 0);
	assert_false(c.established);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &a, &got), 0);
	assert_true(got.authenticated);
	assert_int_equal(got.status, WIRE_REFUSE_POLICY);
	assert_int_equal(got.retry_after_ms, 30000);
	assert_true(str_eq(got.reason, w.reason));
	assert_false(a.established);

	/* unauthenticated refusal: key id 0, zero HMAC */
	wire_session_init(&c, &p->ckeys, false);
	w.status = WIRE_REFUSE_KEY;
	w.reason = wire_str_c("unknown key id 9");
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &c, &w, &p->len), 0);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &a, &got), 0);
	assert_false(got.authenticated);
	assert_int_equal(got.status, WIRE_REFUSE_KEY);
	assert_false(a.established);

	/* nobody can accept without a key */
	w.status = WIRE_ACCEPTED;
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &c, &w, &p->len), -ENOKEY);
	/* ... nor forge an accepting one from an unauthenticated refusal */
	w.status = WIRE_REFUSE_BUSY;
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &c, &w, &p->len), 0);
	p->buf[WIRE_HEADER_LEN] = 0;	/* status := accepted */
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &a, &got), -EBADMSG);
	assert_false(a.established);
	/* an unauthenticated frame with HMAC bytes set is refused */
	p->buf[WIRE_HEADER_LEN] = WIRE_REFUSE_BUSY;
	p->buf[WIRE_HMAC_OFFSET + 5] = 1;
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &a, &got), -EBADMSG);
}

static void test_aggregate_roundtrip(void **state)
{
	struct pair *p = *state;
	struct wire_aggregate a, got;
	struct wire_frame_info info;
	unsigned i;

	handshake(p, 0);
	agg_fill(&a, 42);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	assert_int_equal(p->len, WIRE_HEADER_LEN + 24 + 8 * 40);
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), (int)p->len);
	assert_int_equal(info.type, WIRE_AGGREGATE);
	assert_int_equal(info.seq, 42);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &p->coord, &got), 0);
	assert_int_equal(got.seq, 42);
	assert_int_equal(got.start_ns, a.start_ns);
	assert_int_equal(got.end_ns, a.end_ns);
	assert_int_equal(got.count, 8);
	for (i = 0; i < 8; i++) {
		assert_int_equal(got.stats[i].index, i);
		assert_int_equal(got.stats[i].count, a.stats[i].count);
		if (a.stats[i].count == 0) {
			assert_true(got.stats[i].sum == 0);
			assert_true(isnan(got.stats[i].min) && isnan(got.stats[i].max) &&
				    isnan(got.stats[i].last));
			continue;
		}
		assert_true(got.stats[i].sum == a.stats[i].sum);
		assert_true(got.stats[i].min == a.stats[i].min);
		assert_true(got.stats[i].max == a.stats[i].max);
		assert_true(got.stats[i].last == a.stats[i].last);
	}
	assert_int_equal(p->coord.recv_seq, 42);

	/* a subset of the table, and an empty aggregate */
	agg_fill(&a, 43);
	a.count = 2;
	a.stats[1].index = 6;
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &p->coord, &got), 0);
	assert_int_equal(got.count, 2);
	assert_int_equal(got.stats[1].index, 6);
	a.seq = 44;
	a.count = 0;
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &p->coord, &got), 0);
	assert_int_equal(got.count, 0);
}

static void test_heartbeat_goodbye_roundtrip(void **state)
{
	struct pair *p = *state;
	struct wire_heartbeat hb = { .seq = 3, .agent_real_ns = -5 }, hgot;
	struct wire_goodbye g = { .seq = 4, .reason = WIRE_BYE_RELOAD }, ggot;

	handshake(p, 0);
	assert_int_equal(wire_encode_heartbeat(p->buf, sizeof(p->buf), &p->agent, &hb, &p->len), 0);
	assert_int_equal(wire_frame_peek(p->buf, p->len, NULL), (int)p->len);
	assert_int_equal(wire_decode_heartbeat(p->buf, p->len, &p->coord, &hgot), 0);
	assert_int_equal(hgot.seq, 3);
	assert_int_equal(hgot.agent_real_ns, -5);
	g.message = wire_str_c("asagent stopping: SIGTERM — bye");
	assert_int_equal(wire_encode_goodbye(p->buf, sizeof(p->buf), &p->agent, &g, &p->len), 0);
	assert_int_equal(wire_decode_goodbye(p->buf, p->len, &p->coord, &ggot), 0);
	assert_int_equal(ggot.seq, 4);
	assert_int_equal(ggot.reason, WIRE_BYE_RELOAD);
	assert_true(str_eq(ggot.message, g.message));
	assert_int_equal(p->coord.recv_seq, 4);
}

/* A stream of frames back to back, taken apart by peek. */
static void test_stream(void **state)
{
	struct pair *p = *state;
	static uint8_t stream[4096];
	struct wire_aggregate a, got;
	struct wire_heartbeat hb = { .seq = 4 }, hgot;
	struct wire_frame_info info;
	size_t off = 0, n, used = 0;
	int r, frames = 0;
	uint64_t seq;

	handshake(p, 0);
	for (seq = 1; seq <= 3; seq++) {
		agg_fill(&a, seq);
		assert_int_equal(wire_encode_aggregate(stream + used, sizeof(stream) - used, &p->agent,
						       &a, &n), 0);
		used += n;
	}
	assert_int_equal(wire_encode_heartbeat(stream + used, sizeof(stream) - used, &p->agent, &hb, &n), 0);
	used += n;
	/* fed a few bytes at a time */
	for (n = 0;; n = n + 37 < used ? n + 37 : used) {
		while (off < n) {
			r = wire_frame_peek(stream + off, n - off, &info);
			if (r == -EAGAIN) {
				assert_true(info.need > n - off);
				break;
			}
			assert_true(r > 0);
			if (info.type == WIRE_AGGREGATE)
				assert_int_equal(wire_decode_aggregate(stream + off, (size_t)r, &p->coord, &got), 0);
			else
				assert_int_equal(wire_decode_heartbeat(stream + off, (size_t)r, &p->coord, &hgot), 0);
			off += (size_t)r;
			frames++;
		}
		if (n == used)
			break;
	}
	assert_int_equal(frames, 4);
	assert_int_equal(p->coord.recv_seq, 4);
}

/* ---- every kind of frame, for the damage tests ---- */

enum { F_HELLO, F_WELCOME, F_AGG, F_HB, F_BYE, F_ACK, F_COUNT };

/* Makes frame kind in p->buf; sessions as they are when that frame is received. */
static void frame_make(struct pair *p, int kind, struct wire_session *rx)
{
	struct wire_aggregate a;
	struct wire_heartbeat hb = { .seq = 9, .agent_real_ns = 1 };
	struct wire_goodbye g = { .seq = 9, .message = { "x", 1 } };
	struct wire_ack ack = { .seq = 3, .acked_seq = 9, .coord_real_ns = 5 };
	struct wire_session tx;

	handshake(p, 5);
	switch (kind) {
	case F_HELLO:
		wire_session_init(&tx, &p->akeys, true);
		wire_session_init(rx, &p->ckeys, false);
		assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &tx, &p->hello, &p->len), 0);
		break;
	case F_WELCOME:
		tx = p->coord;
		tx.established = false;
		wire_session_init(rx, &p->akeys, true);
		memcpy(rx->hello_nonce, p->hello.nonce, WIRE_NONCE_LEN);
		p->welcome.reason = wire_str_c("ok");
		assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &tx, &p->welcome, &p->len), 0);
		break;
	case F_AGG:
		*rx = p->coord;
		agg_fill(&a, 9);
		assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
		break;
	case F_HB:
		*rx = p->coord;
		assert_int_equal(wire_encode_heartbeat(p->buf, sizeof(p->buf), &p->agent, &hb, &p->len), 0);
		break;
	case F_BYE:
		*rx = p->coord;
		assert_int_equal(wire_encode_goodbye(p->buf, sizeof(p->buf), &p->agent, &g, &p->len), 0);
		break;
	default:
		*rx = p->agent;
		assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &ack, &p->len), 0);
		break;
	}
}

static struct wire_hello dec_hello;
static struct wire_welcome dec_welcome;
static struct wire_aggregate dec_agg;
static struct wire_heartbeat dec_hb;
static struct wire_goodbye dec_bye;
static struct wire_ack dec_ack;

static int frame_decode(int kind, const uint8_t *f, size_t len, struct wire_session *rx)
{
	switch (kind) {
	case F_HELLO:
		return wire_decode_hello(f, len, rx, &dec_hello);
	case F_WELCOME:
		return wire_decode_welcome(f, len, rx, &dec_welcome);
	case F_AGG:
		return wire_decode_aggregate(f, len, rx, &dec_agg);
	case F_HB:
		return wire_decode_heartbeat(f, len, rx, &dec_hb);
	case F_BYE:
		return wire_decode_goodbye(f, len, rx, &dec_bye);
	default:
		return wire_decode_ack(f, len, rx, &dec_ack);
	}
}

static void test_truncated(void **state)
{
	struct pair *p = *state;
	struct wire_session rx, before;
	struct wire_frame_info info;
	uint8_t *copy;
	size_t k;
	int kind, r;

	for (kind = 0; kind < F_COUNT; kind++) {
		frame_make(p, kind, &rx);
		before = rx;
		for (k = 0; k < p->len; k++) {
			/* exactly k bytes in their own allocation, so ASan sees any overread */
			copy = malloc(k ? k : 1);
			assert_non_null(copy);
			memcpy(copy, p->buf, k);
			r = wire_frame_peek(copy, k, &info);
			assert_int_equal(r, -EAGAIN);
			assert_true(info.need > k);
			if (k >= 12)
				assert_int_equal(info.need, p->len);
			assert_int_not_equal(frame_decode(kind, copy, k, &rx), 0);
			assert_memory_equal(&rx, &before, sizeof(rx));
			free(copy);
		}
		assert_int_equal(frame_decode(kind, p->buf, p->len, &rx), 0);
	}
}

static void test_lengths(void **state)
{
	struct pair *p = *state;
	struct wire_session rx;
	struct wire_frame_info info;
	uint8_t big[WIRE_FRAME_MAX + 16];

	frame_make(p, F_HB, &rx);
	/* longer than the maximum */
	p->buf[8] = 0x01; p->buf[9] = 0x00; p->buf[10] = 0x01; p->buf[11] = 0x00;
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), -EMSGSIZE);
	assert_int_equal(wire_decode_heartbeat(p->buf, p->len, &rx, &dec_hb), -EMSGSIZE);
	p->buf[8] = 0xff; p->buf[9] = 0xff; p->buf[10] = 0xff; p->buf[11] = 0xff;
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), -EMSGSIZE);
	/* shorter than a header */
	p->buf[8] = WIRE_HEADER_LEN - 1; p->buf[9] = 0; p->buf[10] = 0; p->buf[11] = 0;
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), -EMSGSIZE);
	p->buf[8] = 0;
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), -EMSGSIZE);
	/* a length that disagrees with the bytes handed to the decoder */
	frame_make(p, F_HB, &rx);
	assert_int_equal(wire_decode_heartbeat(p->buf, p->len + 1, &rx, &dec_hb), -EMSGSIZE);
	assert_int_equal(wire_decode_heartbeat(p->buf, p->len - 1, &rx, &dec_hb), -EMSGSIZE);
	/* exactly the maximum is a frame; one more is not */
	memset(big, 0, sizeof(big));
	memcpy(big, p->buf, WIRE_HEADER_LEN);
	resign(big, WIRE_FRAME_MAX, &p->akeys, KEY_A, rx.nonce);
	assert_int_equal(wire_frame_peek(big, sizeof(big), &info), WIRE_FRAME_MAX);
	assert_int_equal(wire_decode_heartbeat(big, WIRE_FRAME_MAX, &rx, &dec_hb), 0);
	/* encoders refuse a buffer too small */
	frame_make(p, F_HB, &rx);
	assert_int_equal(wire_encode_heartbeat(p->buf, WIRE_HEADER_LEN + 7, &p->agent,
					       &(struct wire_heartbeat){ .seq = 10 }, &p->len), -ENOBUFS);
	assert_int_equal(wire_encode_heartbeat(p->buf, 3, &p->agent,
					       &(struct wire_heartbeat){ .seq = 10 }, &p->len), -ENOBUFS);
}

static void test_versions_and_magic(void **state)
{
	struct pair *p = *state;
	struct wire_session rx;
	struct wire_frame_info info;
	int kind;

	for (kind = 0; kind < F_COUNT; kind++) {
		frame_make(p, kind, &rx);
		p->buf[4] = WIRE_VERSION_MAJOR + 1;
		assert_int_equal(wire_frame_peek(p->buf, p->len, &info), -EPROTONOSUPPORT);
		assert_int_equal(info.version_major, WIRE_VERSION_MAJOR + 1);
		/* the major is known from 12 bytes on, before the whole frame is there */
		assert_int_equal(wire_frame_peek(p->buf, 12, &info), -EPROTONOSUPPORT);
		assert_int_equal(frame_decode(kind, p->buf, p->len, &rx), -EPROTONOSUPPORT);
		p->buf[4] = 0;
		assert_int_equal(frame_decode(kind, p->buf, p->len, &rx), -EPROTONOSUPPORT);
		p->buf[4] = WIRE_VERSION_MAJOR;
		p->buf[0] = 'X';
		assert_int_equal(wire_frame_peek(p->buf, p->len, &info), -EPROTO);
		assert_int_equal(wire_frame_peek(p->buf, 1, &info), -EPROTO);
		assert_int_equal(frame_decode(kind, p->buf, p->len, &rx), -EPROTO);
	}
	/* a newer minor of a known frame: accepted */
	frame_make(p, F_AGG, &rx);
	p->buf[5] = WIRE_VERSION_MINOR + 3;
	resign(p->buf, p->len, &p->akeys, KEY_A, rx.nonce);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &rx, &dec_agg), 0);
	/* a decoder for another type refuses the frame */
	frame_make(p, F_AGG, &rx);
	assert_int_equal(wire_decode_heartbeat(p->buf, p->len, &rx, &dec_hb), -EPROTO);
	assert_int_equal(wire_decode_hello(p->buf, p->len, &rx, &dec_hello), -EPROTO);
}

/* Every bit pattern change of every byte of every authenticated frame is refused. */
static void test_flip_every_byte(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct pair *p = *state;
	struct wire_session rx, before, tmp;
	size_t i, m;
	int kind;

	for (kind = 0; kind < F_COUNT; kind++) {
		frame_make(p, kind, &rx);
		before = rx;
		for (i = 0; i < p->len; i++) {
			for (m = 0; m < sizeof(masks); m++) {
				p->buf[i] ^= masks[m];
				tmp = before;
				assert_int_not_equal(frame_decode(kind, p->buf, p->len, &tmp), 0);
				assert_memory_equal(&tmp, &before, sizeof(tmp));
				p->buf[i] ^= masks[m];
			}
		}
		tmp = before;
		assert_int_equal(frame_decode(kind, p->buf, p->len, &tmp), 0);
	}
}

static void test_replay(void **state)
{
	struct pair *p = *state;
	struct wire_aggregate a;
	uint8_t first[1024];
	size_t first_len;
	struct wire_heartbeat hb = { .seq = 12 };

	handshake(p, 10);	/* the coordinator has stored up to 10 */
	agg_fill(&a, 10);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &p->coord, &dec_agg), -EALREADY);
	agg_fill(&a, 11);
	assert_int_equal(wire_encode_aggregate(first, sizeof(first), &p->agent, &a, &first_len), 0);
	assert_int_equal(wire_decode_aggregate(first, first_len, &p->coord, &dec_agg), 0);
	/* the same frame again */
	assert_int_equal(wire_decode_aggregate(first, first_len, &p->coord, &dec_agg), -EALREADY);
	assert_int_equal(wire_encode_heartbeat(p->buf, sizeof(p->buf), &p->agent, &hb, &p->len), 0);
	assert_int_equal(wire_decode_heartbeat(p->buf, p->len, &p->coord, &dec_hb), 0);
	/* an older one, authentic */
	assert_int_equal(wire_decode_aggregate(first, first_len, &p->coord, &dec_agg), -EALREADY);
	assert_int_equal(p->coord.recv_seq, 12);
	/* gaps are fine: sequences only need to grow */
	agg_fill(&a, 100);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &p->coord, &dec_agg), 0);

	/* a frame of an earlier session does not verify in the next one */
	handshake(p, 0);
	assert_int_equal(wire_decode_aggregate(first, first_len, &p->coord, &dec_agg), -EBADMSG);
	assert_int_equal(p->coord.recv_seq, 0);
}

static void test_phase(void **state)
{
	struct pair *p = *state;
	struct wire_session c;
	struct wire_aggregate a;

	handshake(p, 0);
	agg_fill(&a, 1);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	/* before the handshake */
	wire_session_init(&c, &p->ckeys, false);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &c, &dec_agg), -EPROTO);
	/* the agent cannot send before WELCOME */
	wire_session_init(&c, &p->akeys, true);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &c, &a, &p->len), -EINVAL);
	/* no key at all */
	wire_session_init(&c, NULL, true);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &c, &p->hello, &p->len), -ENOKEY);
}

static void test_key_rotation(void **state)
{
	struct pair *p = *state;
	static const uint32_t ba[] = { KEY_B, KEY_A }, a_only[] = { KEY_A };
	struct wire_keys agent_b, coord_a;
	struct wire_session as, cs;
	struct wire_hello h;
	struct wire_welcome w = { .status = WIRE_ACCEPTED }, got;
	struct wire_aggregate a;

	keys_make(&agent_b, ba, 2);
	keys_make(&coord_a, a_only, 1);
	hello_fill(&h);

	/* the agent signs with B (first line); the coordinator holding A and B accepts */
	wire_session_init(&as, &agent_b, true);
	assert_int_equal(as.key_id, KEY_B);
	wire_session_init(&cs, &p->ckeys, false);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &as, &h, &p->len), 0);
	assert_int_equal(wire_decode_hello(p->buf, p->len, &cs, &dec_hello), 0);
	assert_int_equal(cs.key_id, KEY_B);
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &cs, &w, &p->len), 0);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &as, &got), 0);
	agg_fill(&a, 1);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &as, &a, &p->len), 0);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &cs, &dec_agg), 0);
	/* a frame of the session signed with the other key is refused */
	agg_fill(&a, 2);
	as.key_id = KEY_A;
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &as, &a, &p->len), 0);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &cs, &dec_agg), -ENOKEY);
	as.key_id = KEY_B;

	/* the coordinator holding only A refuses the HELLO, unauthenticated */
	wire_session_init(&as, &agent_b, true);
	wire_session_init(&cs, &coord_a, false);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &as, &h, &p->len), 0);
	assert_int_equal(wire_decode_hello(p->buf, p->len, &cs, &dec_hello), -ENOKEY);
	assert_int_equal(cs.key_id, 0);
	w.status = WIRE_REFUSE_KEY;
	w.reason = wire_str_c("key id 7 not accepted");
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &cs, &w, &p->len), 0);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &as, &got), 0);
	assert_false(got.authenticated);
	assert_int_equal(got.status, WIRE_REFUSE_KEY);

	/* a frame claiming key A but MACed with B's bytes */
	wire_session_init(&as, &agent_b, true);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &as, &h, &p->len), 0);
	p->buf[12] = KEY_A;
	wire_session_init(&cs, &coord_a, false);
	assert_int_equal(wire_decode_hello(p->buf, p->len, &cs, &dec_hello), -EBADMSG);

	wire_keys_free(&agent_b);
	wire_keys_free(&coord_a);
}

static void test_unknown_type(void **state)
{
	struct pair *p = *state;
	struct wire_heartbeat hb = { .seq = 20 };
	struct wire_aggregate a;
	uint8_t f[256];
	size_t n;

	handshake(p, 0);
	assert_int_equal(wire_encode_heartbeat(f, sizeof(f), &p->agent, &hb, &n), 0);
	memset(f + n, 0xee, 40);	/* a payload this version does not know */
	n += 40;
	f[6] = 200;
	f[5] = WIRE_VERSION_MINOR + 1;
	resign(f, n, &p->akeys, KEY_A, p->agent.nonce);
	assert_int_equal(wire_frame_peek(f, n, NULL), (int)n);
	assert_int_equal(wire_decode_skip(f, n, &p->coord), 0);
	assert_int_equal(p->coord.recv_seq, 20);
	/* skipped frames are still authenticated and sequenced */
	assert_int_equal(wire_decode_skip(f, n, &p->coord), -EALREADY);
	f[60] ^= 1;
	assert_int_equal(wire_decode_skip(f, n, &p->coord), -EBADMSG);
	f[60] ^= 1;
	/* an unknown type claiming our own minor is broken, not newer */
	f[5] = WIRE_VERSION_MINOR;
	f[16] = 21;
	resign(f, n, &p->akeys, KEY_A, p->agent.nonce);
	assert_int_equal(wire_decode_skip(f, n, &p->coord), -EPROTO);
	/* known types are not skipped */
	agg_fill(&a, 22);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	assert_int_equal(wire_decode_skip(p->buf, p->len, &p->coord), -EPROTO);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len, &p->coord, &dec_agg), 0);
	assert_string_equal(wire_type_name(WIRE_AGGREGATE), "AGGREGATE");
	assert_string_equal(wire_type_name(200), "unknown");
}

/* Bytes after the known fields (a newer minor's) are covered by the HMAC and ignored. */
static void test_trailing_bytes(void **state)
{
	struct pair *p = *state;
	struct wire_aggregate a;
	struct wire_hello h;
	struct wire_session c;

	handshake(p, 0);
	agg_fill(&a, 1);
	assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), 0);
	memset(p->buf + p->len, 0x42, 100);
	resign(p->buf, p->len + 100, &p->akeys, KEY_A, p->agent.nonce);
	assert_int_equal(wire_decode_aggregate(p->buf, p->len + 100, &p->coord, &dec_agg), 0);
	assert_int_equal(dec_agg.count, 8);

	hello_fill(&h);
	wire_session_init(&p->agent, &p->akeys, true);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &p->agent, &h, &p->len), 0);
	memset(p->buf + p->len, 0, 10);
	resign(p->buf, p->len + 10, &p->akeys, KEY_A, (const uint8_t[WIRE_NONCE_LEN]){ 0 });
	wire_session_init(&c, &p->ckeys, false);
	assert_int_equal(wire_decode_hello(p->buf, p->len + 10, &c, &dec_hello), 0);
	assert_int_equal(dec_hello.metric_count, 8);
}

/* Payloads that authenticate but break the rules: entries written by hand, then re-signed. */
static void test_bad_payloads(void **state)
{
	struct pair *p = *state;
	struct wire_aggregate a;
	uint8_t *e;
	size_t n;
	struct {
		size_t off;
		uint8_t v;
	} cases[] = {
		{ 16, 65 },			/* count above WIRE_METRICS_MAX */
		{ 16, 9 },			/* count beyond the entries present */
		{ 18, 39 },			/* entry size below 40 */
		{ 18, 41 },			/* entries then run past the frame */
		{ 24 + 40, 0 },			/* second index not above the first */
		{ 24 + 7 * 40, 8 },		/* index outside the HELLO's table */
		{ 24 + 8 + 7, 0x7f },		/* sum exponent: not finite (inf/NaN) */
		{ 24 + 16 + 7, 0x40 },		/* min now above max */
		{ 15, 0x80 },			/* end before start */
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		handshake(p, 0);
		agg_fill(&a, 1);
		a.stats[0].sum = 1e300;
		assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &n), 0);
		e = p->buf + WIRE_HEADER_LEN;
		if (i == 6)
			e[cases[i].off - 1] = 0xf0;
		e[cases[i].off] = cases[i].v;
		resign(p->buf, n, &p->akeys, KEY_A, p->agent.nonce);
		assert_int_equal(wire_decode_aggregate(p->buf, n, &p->coord, &dec_agg), -EPROTO);
		assert_int_equal(p->coord.recv_seq, 0);
	}
	/* a HELLO string with a control character, and one with bad UTF-8 */
	for (i = 0; i < 2; i++) {
		struct wire_session as, cs;
		struct wire_hello h;

		hello_fill(&h);
		wire_session_init(&as, &p->akeys, true);
		wire_session_init(&cs, &p->ckeys, false);
		assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &as, &h, &n), 0);
		/* agent_version "0.3.0" starts at payload offset 56 + 2 */
		p->buf[WIRE_HEADER_LEN + 58 + 1] = i ? 0xc0 : '\n';
		resign(p->buf, n, &p->akeys, KEY_A, (const uint8_t[WIRE_NONCE_LEN]){ 0 });
		assert_int_equal(wire_decode_hello(p->buf, n, &cs, &dec_hello), -EPROTO);
		assert_int_equal(cs.key_id, 0);
	}
}

static void test_encode_refuses(void **state)
{
	struct pair *p = *state;
	struct wire_session s;
	struct wire_hello h;
	struct wire_aggregate a;
	char longname[WIRE_NAME_MAX + 2];

	wire_session_init(&s, &p->akeys, true);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
#define HELLO_BAD(stmt) do { hello_fill(&h); stmt; \
		assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &s, &h, &p->len), -EINVAL); } while (0)
	HELLO_BAD(h.boot_id = 0);
	HELLO_BAD(h.sample_interval_ns = 0);
	HELLO_BAD(h.report_interval_ns = WIRE_INTERVAL_MAX_NS + 1);
	HELLO_BAD(h.instance = wire_str_c(""));
	HELLO_BAD(h.instance = wire_str_c(longname));
	HELLO_BAD(h.endpoint = wire_str_c("tab\there"));
	HELLO_BAD(h.deployment = wire_str_c("\xed\xa0\x80"));	/* a surrogate */
	HELLO_BAD(h.deployment = wire_str_c("\xc0\xaf"));	/* overlong */
	HELLO_BAD(h.deployment = wire_str_c("\xf4\x90\x80\x80"));	/* above U+10FFFF */
	HELLO_BAD(h.deployment = wire_str_c("\xe2\x82"));	/* cut short */
	HELLO_BAD(h.label_count = WIRE_LABELS_MAX + 1);
	HELLO_BAD(h.metric_count = WIRE_METRICS_MAX + 1);
	HELLO_BAD(h.metrics[3].unit = wire_str_c("sixteen-letters!"));
	HELLO_BAD(h.metrics[3].name.ptr = NULL);
#undef HELLO_BAD
	hello_fill(&h);
	h.deployment = wire_str_c("日本語 ok €");
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &s, &h, &p->len), 0);

	handshake(p, 0);
#define AGG_BAD(stmt) do { agg_fill(&a, 1); stmt; \
		assert_int_equal(wire_encode_aggregate(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), -EINVAL); } while (0)
	AGG_BAD(a.seq = 0);
	AGG_BAD(a.end_ns = a.start_ns - 1);
	AGG_BAD(a.count = WIRE_METRICS_MAX + 1);
	AGG_BAD(a.stats[2].index = 1);
	AGG_BAD(a.stats[7].index = 8);
	AGG_BAD(a.stats[1].min = NAN);
	AGG_BAD(a.stats[1].sum = INFINITY);
	AGG_BAD(a.stats[1].last = a.stats[1].max + 1);
#undef AGG_BAD
	assert_int_equal(wire_encode_heartbeat(p->buf, sizeof(p->buf), &p->agent,
					       &(struct wire_heartbeat){ .seq = 0 }, &p->len), -EINVAL);
}

/* Pseudo-random bytes, and random bytes behind a valid-looking header: no crash, never accepted. */
static void test_garbage(void **state)
{
	struct pair *p = *state;
	struct wire_session rx, tmp;
	uint32_t x = 12345;
	size_t n, i;
	int round, kind, r;

	for (round = 0; round < 4000; round++) {
		kind = round % F_COUNT;
		frame_make(p, kind, &rx);
		n = (size_t)(x % 600);
		for (i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			p->buf[i] = (uint8_t)(x >> 16);
		}
		if (round & 1) {
			memcpy(p->buf, "ASCW\x01\x00", 6);
			p->buf[6] = (uint8_t)(1 + round % 6);
			p->buf[8] = (uint8_t)n;
			p->buf[9] = (uint8_t)(n >> 8);
			p->buf[10] = p->buf[11] = 0;
		}
		r = wire_frame_peek(p->buf, n, NULL);
		assert_true(r < 0 || (size_t)r <= n);
		tmp = rx;
		assert_int_not_equal(frame_decode(kind, p->buf, n, &tmp), 0);
		assert_int_not_equal(wire_decode_skip(p->buf, n, &tmp), 0);
	}
}

/* ACK (1.1): the coordinator's counter as its sequence, the stored sequence in the payload. */
static void test_ack_roundtrip(void **state)
{
	struct pair *p = *state;
	struct wire_ack a = { .seq = 1, .acked_seq = 42, .coord_real_ns = 1700000000555000000LL }, got;
	struct wire_frame_info info;

	handshake(p, 40);
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), 0);
	assert_int_equal(p->len, WIRE_HEADER_LEN + 16);
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), (int)p->len);
	assert_int_equal(info.type, WIRE_ACK);
	assert_int_equal(info.version_minor, 1);
	assert_int_equal(info.seq, 1);
	memset(&got, 0, sizeof(got));
	assert_int_equal(wire_decode_ack(p->buf, p->len, &p->agent, &got), 0);
	assert_int_equal(got.seq, 1);
	assert_int_equal(got.acked_seq, 42);
	assert_int_equal(got.coord_real_ns, a.coord_real_ns);
	assert_int_equal(p->agent.recv_seq, 1);
	/* the coordinator's receive side is untouched: it counts the agent's numbers */
	assert_int_equal(p->coord.recv_seq, 40);
	assert_string_equal(wire_type_name(WIRE_ACK), "ACK");

	/* only the coordinator sends ACKs, only once established, with a sequence */
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->agent, &a, &p->len), -EINVAL);
	a.seq = 0;
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), -EINVAL);
	a.seq = 2;
	assert_int_equal(wire_encode_ack(p->buf, 60, &p->coord, &a, &p->len), -ENOBUFS);
	/* the coordinator refuses an ACK (an agent sending one) */
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), 0);
	assert_int_equal(wire_decode_ack(p->buf, p->len, &p->coord, &got), -EPROTO);
	assert_int_equal(wire_decode_skip(p->buf, p->len, &p->coord), -EPROTO);
	/* a 1.0 session never sends one */
	p->coord.minor = 0;
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), -EINVAL);
}

/* An ACK seen again, or one older than the last, is refused; one of another session does not verify. */
static void test_ack_replay(void **state)
{
	struct pair *p = *state;
	struct wire_ack a = { .seq = 5, .acked_seq = 10 }, got;
	uint8_t first[128];
	size_t first_len;

	handshake(p, 0);
	assert_int_equal(wire_encode_ack(first, sizeof(first), &p->coord, &a, &first_len), 0);
	assert_int_equal(wire_decode_ack(first, first_len, &p->agent, &got), 0);
	assert_int_equal(wire_decode_ack(first, first_len, &p->agent, &got), -EALREADY);
	a.seq = 4;	/* older counter, authentic */
	a.acked_seq = 11;
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), 0);
	assert_int_equal(wire_decode_ack(p->buf, p->len, &p->agent, &got), -EALREADY);
	a.seq = 9;	/* gaps are fine */
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), 0);
	assert_int_equal(wire_decode_ack(p->buf, p->len, &p->agent, &got), 0);
	assert_int_equal(got.acked_seq, 11);
	assert_int_equal(p->agent.recv_seq, 9);
	/* the next session starts its counter again, under a new nonce */
	handshake(p, 11);
	assert_int_equal(p->agent.recv_seq, 0);
	assert_int_equal(wire_decode_ack(first, first_len, &p->agent, &got), -EBADMSG);
	/* an ACK stamped 1.0 cannot exist */
	a.seq = 1;
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &p->coord, &a, &p->len), 0);
	p->buf[5] = 0;
	resign(p->buf, p->len, &p->ckeys, KEY_A, p->coord.nonce);
	assert_int_equal(wire_decode_ack(p->buf, p->len, &p->agent, &got), -EPROTO);
	/* a payload too short for its fields */
	p->buf[5] = 1;
	resign(p->buf, p->len - 1, &p->ckeys, KEY_A, p->coord.nonce);
	assert_int_equal(wire_decode_ack(p->buf, p->len - 1, &p->agent, &got), -EPROTO);
	/* trailing bytes of a newer minor are ignored */
	memset(p->buf + p->len, 0xee, 8);
	resign(p->buf, p->len + 8, &p->ckeys, KEY_A, p->coord.nonce);
	assert_int_equal(wire_decode_ack(p->buf, p->len + 8, &p->agent, &got), 0);
	assert_int_equal(got.acked_seq, 11);
	assert_int_equal(p->agent.recv_seq, 1);
}

/*
 * A 1.0 agent (session minor 0) against a 1.1 coordinator: its HELLO says
 * 1.0, and an ACK reaching it is a newer minor's unknown type, verified,
 * sequenced and skipped, exactly as a 1.0 build's wire_decode_skip() does.
 */
static void test_ack_old_receiver(void **state)
{
	struct pair *p = *state;
	struct wire_ack a = { .seq = 1, .acked_seq = 3 };
	struct wire_hello got;
	struct wire_welcome wgot;
	struct wire_session old, coord;
	struct wire_frame_info info;

	wire_session_init(&old, &p->akeys, true);
	old.minor = 0;
	wire_session_init(&coord, &p->ckeys, false);
	hello_fill(&p->hello);
	assert_int_equal(wire_encode_hello(p->buf, sizeof(p->buf), &old, &p->hello, &p->len), 0);
	assert_int_equal(wire_frame_peek(p->buf, p->len, &info), (int)p->len);
	assert_int_equal(info.version_minor, 0);
	assert_int_equal(wire_decode_hello(p->buf, p->len, &coord, &got), 0);
	p->welcome.status = WIRE_ACCEPTED;
	assert_int_equal(wire_encode_welcome(p->buf, sizeof(p->buf), &coord, &p->welcome, &p->len), 0);
	assert_int_equal(wire_decode_welcome(p->buf, p->len, &old, &wgot), 0);

	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &coord, &a, &p->len), 0);
	assert_int_equal(wire_decode_skip(p->buf, p->len, &old), 0);
	assert_int_equal(old.recv_seq, 1);
	assert_int_equal(wire_decode_skip(p->buf, p->len, &old), -EALREADY);
	p->buf[60] ^= 1;
	a.seq = 2;
	assert_int_equal(wire_decode_skip(p->buf, p->len, &old), -EBADMSG);
	/* the 1.1 agent does not skip it: it is a type it knows */
	assert_int_equal(wire_encode_ack(p->buf, sizeof(p->buf), &coord, &a, &p->len), 0);
	old.minor = 1;
	assert_int_equal(wire_decode_skip(p->buf, p->len, &old), -EPROTO);
	assert_int_equal(wire_decode_ack(p->buf, p->len, &old, &dec_ack), 0);
	assert_int_equal(dec_ack.acked_seq, 3);
}

static void test_stats(void **state)
{
	struct wire_stats st = { 0 };

	(void)state;
	wire_stats_count(&st, 0, false);
	wire_stats_count(&st, 0, true);
	wire_stats_count(&st, -EBADMSG, false);
	wire_stats_count(&st, -EALREADY, false);
	wire_stats_count(&st, -EPROTONOSUPPORT, false);
	wire_stats_count(&st, -EMSGSIZE, false);
	wire_stats_count(&st, -ENOKEY, false);
	wire_stats_count(&st, -EPROTO, false);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.unknown_type_skipped, 1);
	assert_int_equal(st.bad_hmac, 1);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(st.bad_version, 1);
	assert_int_equal(st.bad_length, 1);
	assert_int_equal(st.unknown_key, 1);
	assert_int_equal(st.malformed, 1);
	assert_string_equal(wire_strerror(-EBADMSG), "bad HMAC");
}

/* The HMAC is HMAC-SHA256(key, nonce || header without HMAC || payload), checked independently. */
static void test_mac_layout(void **state)
{
	/* RFC 4231 test case 2 shape: key "Jefe" is too short for us, so use case 6's idea with our own */
	struct pair *p = *state;
	struct wire_keys k;
	uint8_t key[32], f[WIRE_HEADER_LEN + 4], mac1[32], mac2[32];

	(void)p;
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(wire_keys_init(&k), 0);
	assert_int_equal(wire_keys_add(&k, 1, key, 31), -EINVAL);
	assert_int_equal(wire_keys_add(&k, 0, key, 32), -EINVAL);
	assert_int_equal(wire_keys_add(&k, 1, key, 32), 0);
	assert_int_equal(wire_keys_add(&k, 1, key, 32), -EEXIST);
	memset(f, 0, sizeof(f));
	memcpy(f + WIRE_HEADER_LEN, "abcd", 4);
	assert_int_equal(wire_mac(wire_keys_find(&k, 1), (const uint8_t[16]){ 0 }, f, sizeof(f), mac1), 0);
	/* the HMAC field itself is not covered */
	memset(f + WIRE_HMAC_OFFSET, 0x77, WIRE_HMAC_LEN);
	assert_int_equal(wire_mac(wire_keys_find(&k, 1), (const uint8_t[16]){ 0 }, f, sizeof(f), mac2), 0);
	assert_memory_equal(mac1, mac2, 32);
	/* the nonce is */
	assert_int_equal(wire_mac(wire_keys_find(&k, 1), (const uint8_t[16]){ 1 }, f, sizeof(f), mac2), 0);
	assert_memory_not_equal(mac1, mac2, 32);
	wire_keys_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_roundtrip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_welcome_roundtrip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_welcome_refusals, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_aggregate_roundtrip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_goodbye_roundtrip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_stream, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_truncated, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_lengths, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_versions_and_magic, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_flip_every_byte, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_replay, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_phase, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_key_rotation, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_trailing_bytes, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_bad_payloads, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_encode_refuses, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_garbage, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ack_roundtrip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ack_replay, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ack_old_receiver, pair_setup, pair_teardown),
		cmocka_unit_test(test_stats),
		cmocka_unit_test_setup_teardown(test_mac_layout, pair_setup, pair_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
