/* fuzz_wire: libFuzzer target for the frame codec: a byte stream through peek and every decoder */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/*
 * Input: one mode byte, then a stream of frames.  Mode bit 0 re-signs each
 * frame with the fixed key before decoding, so the fuzzer also reaches the
 * payload parsers behind the HMAC; bit 1 makes the established agent a
 * 1.0 one (ACKs are then a newer minor's type, skipped).  The sessions are
 * the same every run: key 1 (bytes 1..32), HELLO nonce 0x48..., session
 * nonce 0x4e..., a metric table of 8 and nothing accepted yet.
 * corpus_wire/ holds frames made with these.
 */
#define FUZZ_KEY_ID	1
#define MODE_RESIGN	0x01
#define MODE_OLD_AGENT	0x02

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wire_keys fuzz_keys;
static struct wire_aggregate agg, again;
static struct wire_hello hello;
static struct wire_welcome welcome;
static struct wire_heartbeat hb;
static struct wire_goodbye bye;
static struct wire_ack ack, ack_again;
static uint8_t out[WIRE_FRAME_MAX];

static void fuzz_init(void)
{
	uint8_t key[32];
	unsigned i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i + 1);
	if (wire_keys_init(&fuzz_keys) < 0 || wire_keys_add(&fuzz_keys, FUZZ_KEY_ID, key, sizeof(key)) < 0)
		abort();
}

/* The agent's end after an accepting WELCOME: receives ACKs. */
static void agent_live(struct wire_session *live, int mode)
{
	wire_session_init(live, &fuzz_keys, true);
	live->established = true;
	memset(live->nonce, 0x4e, WIRE_NONCE_LEN);
	if (mode & MODE_OLD_AGENT)
		live->minor = 0;
}

/* An ACK decoded must encode again and decode to the same. */
static void check_ack(const struct wire_session *live)
{
	struct wire_session c, a = *live;
	size_t n;

	wire_session_init(&c, &fuzz_keys, false);
	c.key_id = FUZZ_KEY_ID;
	c.established = true;
	memcpy(c.nonce, live->nonce, WIRE_NONCE_LEN);
	a.recv_seq = ack.seq - 1;
	if (ack.seq == 0 || wire_encode_ack(out, sizeof(out), &c, &ack, &n) != 0)
		abort();
	if (wire_decode_ack(out, n, &a, &ack_again) != 0 || ack_again.seq != ack.seq ||
	    ack_again.acked_seq != ack.acked_seq || ack_again.coord_real_ns != ack.coord_real_ns)
		abort();
}

static void sessions(struct wire_session *coord, struct wire_session *fresh, struct wire_session *agent)
{
	wire_session_init(coord, &fuzz_keys, false);
	coord->key_id = FUZZ_KEY_ID;
	coord->established = true;
	coord->metric_count = 8;
	memset(coord->nonce, 0x4e, WIRE_NONCE_LEN);
	wire_session_init(fresh, &fuzz_keys, false);
	wire_session_init(agent, &fuzz_keys, true);
	memset(agent->hello_nonce, 0x48, WIRE_NONCE_LEN);
}

/* What decodes must encode again and decode to the same. */
static void check_aggregate(struct wire_session *coord)
{
	struct wire_session s = *coord;
	size_t n;
	unsigned i;

	if (agg.count > WIRE_METRICS_MAX || agg.end_ns < agg.start_ns)
		abort();
	s.recv_seq = agg.seq - 1;
	if (wire_encode_aggregate(out, sizeof(out), &s, &agg, &n) != 0)
		abort();
	if (wire_decode_aggregate(out, n, &s, &again) != 0 || again.count != agg.count)
		abort();
	for (i = 0; i < agg.count; i++) {
		if (i > 0 && agg.stats[i].index <= agg.stats[i - 1].index)
			abort();
		if (again.stats[i].index != agg.stats[i].index || again.stats[i].count != agg.stats[i].count)
			abort();
		if (agg.stats[i].count && memcmp(&again.stats[i].sum, &agg.stats[i].sum, 4 * sizeof(double)))
			abort();
	}
}

static void decode_one(uint8_t *f, size_t n, const struct wire_frame_info *info, int mode,
		       struct wire_session *coord, struct wire_session *fresh, struct wire_session *agent,
		       struct wire_session *live)
{
	static const uint8_t zero[WIRE_NONCE_LEN];
	const uint8_t *nonce = coord->nonce;

	if (info->type == WIRE_HELLO)
		nonce = zero;
	else if (info->type == WIRE_WELCOME)
		nonce = agent->hello_nonce;
	if ((mode & MODE_RESIGN) && wire_keys_find(&fuzz_keys, info->key_id))
		wire_mac(wire_keys_find(&fuzz_keys, info->key_id), nonce, f, n, f + WIRE_HMAC_OFFSET);

	switch (info->type) {
	case WIRE_HELLO:
		wire_decode_hello(f, n, fresh, &hello);
		break;
	case WIRE_WELCOME:
		wire_decode_welcome(f, n, agent, &welcome);
		break;
	case WIRE_AGGREGATE:
		if (wire_decode_aggregate(f, n, coord, &agg) == 0)
			check_aggregate(coord);
		break;
	case WIRE_HEARTBEAT:
		wire_decode_heartbeat(f, n, coord, &hb);
		break;
	case WIRE_GOODBYE:
		wire_decode_goodbye(f, n, coord, &bye);
		break;
	case WIRE_ACK:
		/* the coordinator refuses it; the agent decodes it (1.1) or skips it (1.0) */
		if (wire_decode_skip(f, n, coord) == 0 || wire_decode_ack(f, n, coord, &ack) == 0)
			abort();
		if (live->minor == 0)
			wire_decode_skip(f, n, live);
		else if (wire_decode_ack(f, n, live, &ack) == 0)
			check_ack(live);
		break;
	default:
		wire_decode_skip(f, n, coord);
		wire_decode_skip(f, n, live);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct wire_session coord, fresh, agent, live;
	struct wire_frame_info info;
	size_t off = 1;
	uint8_t *f;
	int mode, r, frames = 0;

	if (!ready) {
		fuzz_init();
		ready = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	sessions(&coord, &fresh, &agent);
	agent_live(&live, mode);
	/* the decoders on the raw rest, whatever it is */
	wire_decode_aggregate(data + 1, size - 1, &coord, &agg);
	wire_decode_hello(data + 1, size - 1, &fresh, &hello);
	wire_decode_welcome(data + 1, size - 1, &agent, &welcome);
	wire_decode_ack(data + 1, size - 1, &live, &ack);
	sessions(&coord, &fresh, &agent);
	agent_live(&live, mode);
	while (off < size && frames++ < 64) {
		r = wire_frame_peek(data + off, size - off, &info);
		if (r < 0)
			break;
		if ((size_t)r > size - off || r < WIRE_HEADER_LEN)
			abort();
		/* each frame in its own allocation of its exact size */
		f = malloc((size_t)r);
		if (!f)
			return 0;
		memcpy(f, data + off, (size_t)r);
		decode_one(f, (size_t)r, &info, mode, &coord, &fresh, &agent, &live);
		free(f);
		off += (size_t)r;
	}
	return 0;
}
