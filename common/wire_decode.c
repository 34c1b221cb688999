/* wire_decode: checks, authenticates and parses one received frame, allocating nothing (docs/protocol.md) */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <openssl/crypto.h>

#include "wire_int.h"

/* ---- little-endian reader ---- */

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad;
};

static const uint8_t *get_bytes(struct rbuf *r, size_t n)
{
	const uint8_t *b;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	b = r->p + r->off;
	r->off += n;
	return b;
}

static uint16_t le16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const uint8_t *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

static uint16_t get_u16(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 2);

	return b ? le16(b) : 0;
}

static uint32_t get_u32(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 4);

	return b ? le32(b) : 0;
}

static uint64_t get_u64(struct rbuf *r)
{
	const uint8_t *b = get_bytes(r, 8);

	return b ? le64(b) : 0;
}

static double f64(uint64_t v)
{
	double d;

	memcpy(&d, &v, 8);
	return d;
}

/* ---- strings: u16 length, UTF-8 without control characters ---- */

static void get_str(struct rbuf *r, struct wire_str *s, size_t min, size_t max)
{
	uint16_t n = get_u16(r);
	const uint8_t *b;

	s->ptr = NULL;
	s->len = 0;
	if (r->bad)
		return;
	if (n < min || n > max) {
		r->bad = true;
		return;
	}
	b = get_bytes(r, n);
	if (!b || !wire_text_valid(b, n)) {
		r->bad = true;
		return;
	}
	s->ptr = (const char *)b;
	s->len = n;
}

/* ---- header ---- */

int wire_frame_peek(const void *buf, size_t len, struct wire_frame_info *info)
{
	const uint8_t *b = buf;
	struct wire_frame_info tmp;
	size_t n = len < 4 ? len : 4;

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	info->need = WIRE_HEADER_LEN;
	if (n && memcmp(b, wire_magic, n) != 0)
		return -EPROTO;
	if (len < 12)
		return -EAGAIN;
	/* magic, version, type, flags and length keep their places in every major */
	info->version_major = b[4];
	info->version_minor = b[5];
	info->type = b[6];
	info->flags = b[7];
	info->length = le32(b + 8);
	if (info->version_major != WIRE_VERSION_MAJOR)
		return -EPROTONOSUPPORT;
	if (info->length < WIRE_HEADER_LEN || info->length > WIRE_FRAME_MAX)
		return -EMSGSIZE;
	info->need = info->length;
	if (len >= WIRE_HMAC_OFFSET) {
		info->key_id = le32(b + 12);
		info->seq = le64(b + 16);
	}
	if (len < info->length)
		return -EAGAIN;
	return (int)info->length;
}

/* Checks that frame is one whole frame of type; fills info. */
static int frame_check(const uint8_t *f, size_t len, unsigned type, struct wire_frame_info *info)
{
	int r = wire_frame_peek(f, len, info);

	if (r == -EAGAIN)
		return info->length ? -EMSGSIZE : -EPROTO;
	if (r < 0)
		return r;
	if ((size_t)r != len)
		return -EMSGSIZE;
	if (type && info->type != type)
		return -EPROTO;
	return 0;
}

static int frame_verify(struct wire_key *key, const uint8_t *nonce, const uint8_t *f, size_t len)
{
	uint8_t mac[WIRE_HMAC_LEN];
	int r;

	r = wire_mac(key, nonce, f, len, mac);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(mac, f + WIRE_HMAC_OFFSET, WIRE_HMAC_LEN) != 0)
		return -EBADMSG;
	return 0;
}

/* A frame after the handshake: the session's key, its nonce, a later sequence. */
static int frame_auth(const uint8_t *f, size_t len, unsigned type, struct wire_session *s,
		      struct wire_frame_info *info)
{
	struct wire_key *key;
	int r;

	r = frame_check(f, len, type, info);
	if (r < 0)
		return r;
	if (!s->established)
		return -EPROTO;
	if (info->key_id == 0 || info->key_id != s->key_id)
		return -ENOKEY;
	key = wire_keys_find(s->keys, info->key_id);
	if (!key)
		return -ENOKEY;
	r = frame_verify(key, s->nonce, f, len);
	if (r < 0)
		return r;
	if (info->seq <= s->recv_seq)
		return -EALREADY;
	return 0;
}

/* ---- HELLO ---- */

int wire_decode_hello(const void *frame, size_t len, struct wire_session *s, struct wire_hello *out)
{
	const uint8_t *f = frame;
	struct wire_frame_info info;
	struct rbuf rb = { f + WIRE_HEADER_LEN, 0, 0, false };
	struct wire_key *key;
	const uint8_t *nonce;
	unsigned i;
	int r;

	r = frame_check(f, len, WIRE_HELLO, &info);
	if (r < 0)
		return r;
	if (info.seq != 0 || s->established)
		return -EPROTO;
	key = wire_keys_find(s->keys, info.key_id);
	if (!key)
		return -ENOKEY;
	r = frame_verify(key, wire_zero_nonce, f, len);
	if (r < 0)
		return r;
	rb.len = len - WIRE_HEADER_LEN;
	nonce = get_bytes(&rb, WIRE_NONCE_LEN);
	if (nonce)
		memcpy(out->nonce, nonce, WIRE_NONCE_LEN);
	out->boot_id = get_u64(&rb);
	out->last_seq = get_u64(&rb);
	out->agent_real_ns = (int64_t)get_u64(&rb);
	out->sample_interval_ns = (int64_t)get_u64(&rb);
	out->report_interval_ns = (int64_t)get_u64(&rb);
	get_str(&rb, &out->agent_version, 0, WIRE_NAME_MAX);
	get_str(&rb, &out->instance, 1, WIRE_NAME_MAX);
	get_str(&rb, &out->deployment, 0, WIRE_NAME_MAX);
	get_str(&rb, &out->endpoint, 0, WIRE_NAME_MAX);
	out->label_count = get_u16(&rb);
	if (out->label_count > WIRE_LABELS_MAX)
		return -EPROTO;
	for (i = 0; i < out->label_count; i++) {
		get_str(&rb, &out->labels[i].key, 1, WIRE_NAME_MAX);
		get_str(&rb, &out->labels[i].value, 0, WIRE_VALUE_MAX);
	}
	out->metric_count = get_u16(&rb);
	if (out->metric_count > WIRE_METRICS_MAX)
		return -EPROTO;
	for (i = 0; i < out->metric_count; i++) {
		get_str(&rb, &out->metrics[i].name, 1, WIRE_NAME_MAX);
		get_str(&rb, &out->metrics[i].alias, 0, WIRE_ALIAS_MAX);
		get_str(&rb, &out->metrics[i].unit, 0, WIRE_UNIT_MAX);
	}
	if (rb.bad || out->boot_id == 0 || !wire_interval_ok(out->sample_interval_ns) ||
	    !wire_interval_ok(out->report_interval_ns))
		return -EPROTO;
	/* bytes after the known fields come from a newer minor: ignored */
	s->key_id = info.key_id;
	memcpy(s->hello_nonce, out->nonce, WIRE_NONCE_LEN);
	s->metric_count = out->metric_count;
	return 0;
}

/* ---- WELCOME ---- */

int wire_decode_welcome(const void *frame, size_t len, struct wire_session *s, struct wire_welcome *out)
{
	static const uint8_t no_mac[WIRE_HMAC_LEN];
	const uint8_t *f = frame;
	struct wire_frame_info info;
	struct rbuf rb = { f + WIRE_HEADER_LEN, 0, 0, false };
	struct wire_key *key = NULL;
	const uint8_t *nonce;
	int r;

	r = frame_check(f, len, WIRE_WELCOME, &info);
	if (r < 0)
		return r;
	if (info.seq != 0 || s->established)
		return -EPROTO;
	if (info.key_id == 0) {
		/* an unauthenticated refusal: its zero HMAC is all it can carry */
		if (CRYPTO_memcmp(f + WIRE_HMAC_OFFSET, no_mac, WIRE_HMAC_LEN) != 0)
			return -EBADMSG;
	} else {
		if (info.key_id != s->key_id)
			return -ENOKEY;
		key = wire_keys_find(s->keys, info.key_id);
		if (!key)
			return -ENOKEY;
		r = frame_verify(key, s->hello_nonce, f, len);
		if (r < 0)
			return r;
	}
	rb.len = len - WIRE_HEADER_LEN;
	out->status = get_u16(&rb);
	get_u16(&rb);
	out->retry_after_ms = get_u32(&rb);
	out->coord_real_ns = (int64_t)get_u64(&rb);
	nonce = get_bytes(&rb, WIRE_NONCE_LEN);
	if (nonce)
		memcpy(out->nonce, nonce, WIRE_NONCE_LEN);
	out->resume_seq = get_u64(&rb);
	out->idle_timeout_ms = get_u32(&rb);
	get_u32(&rb);
	get_str(&rb, &out->reason, 0, WIRE_REASON_MAX);
	if (rb.bad)
		return -EPROTO;
	out->authenticated = key != NULL;
	if (!key && out->status == WIRE_ACCEPTED)
		return -EBADMSG;
	if (out->status == WIRE_ACCEPTED) {
		memcpy(s->nonce, out->nonce, WIRE_NONCE_LEN);
		s->recv_seq = 0;
		s->established = true;
	}
	return 0;
}

/* ---- AGGREGATE ---- */

int wire_decode_aggregate(const void *frame, size_t len, struct wire_session *s, struct wire_aggregate *out)
{
	const uint8_t *f = frame, *e;
	struct wire_frame_info info;
	struct wire_metric_stat *m;
	size_t entry_len, avail;
	unsigned i;
	int r;

	r = frame_auth(f, len, WIRE_AGGREGATE, s, &info);
	if (r < 0)
		return r;
	avail = len - WIRE_HEADER_LEN;
	if (avail < AGG_FIXED_LEN)
		return -EPROTO;
	e = f + WIRE_HEADER_LEN;
	out->seq = info.seq;
	out->start_ns = (int64_t)le64(e);
	out->end_ns = (int64_t)le64(e + 8);
	out->count = le16(e + 16);
	entry_len = le16(e + 18);
	if (out->end_ns < out->start_ns || out->count > WIRE_METRICS_MAX ||
	    entry_len < AGG_ENTRY_LEN || out->count * entry_len > avail - AGG_FIXED_LEN)
		return -EPROTO;
	e += AGG_FIXED_LEN;
	for (i = 0; i < out->count; i++, e += entry_len) {
		m = &out->stats[i];
		m->index = le16(e);
		m->count = le32(e + 4);
		if (m->count) {
			m->sum = f64(le64(e + 8));
			m->min = f64(le64(e + 16));
			m->max = f64(le64(e + 24));
			m->last = f64(le64(e + 32));
		} else {
			m->sum = 0;
			m->min = m->max = m->last = NAN;
		}
	}
	if (!wire_metric_stats_ok(s, out->stats, out->count))
		return -EPROTO;
	s->recv_seq = info.seq;
	return 0;
}

/* ---- HEARTBEAT, GOODBYE ---- */

int wire_decode_heartbeat(const void *frame, size_t len, struct wire_session *s, struct wire_heartbeat *out)
{
	const uint8_t *f = frame;
	struct wire_frame_info info;
	struct rbuf rb = { f + WIRE_HEADER_LEN, 0, 0, false };
	int r;

	r = frame_auth(f, len, WIRE_HEARTBEAT, s, &info);
	if (r < 0)
		return r;
	rb.len = len - WIRE_HEADER_LEN;
	out->seq = info.seq;
	out->agent_real_ns = (int64_t)get_u64(&rb);
	if (rb.bad)
		return -EPROTO;
	s->recv_seq = info.seq;
	return 0;
}

int wire_decode_goodbye(const void *frame, size_t len, struct wire_session *s, struct wire_goodbye *out)
{
	const uint8_t *f = frame;
	struct wire_frame_info info;
	struct rbuf rb = { f + WIRE_HEADER_LEN, 0, 0, false };
	int r;

	r = frame_auth(f, len, WIRE_GOODBYE, s, &info);
	if (r < 0)
		return r;
	rb.len = len - WIRE_HEADER_LEN;
	out->seq = info.seq;
	out->reason = get_u16(&rb);
	get_u16(&rb);
	get_str(&rb, &out->message, 0, WIRE_REASON_MAX);
	if (rb.bad)
		return -EPROTO;
	s->recv_seq = info.seq;
	return 0;
}

/* ---- ACK (1.1): coordinator → agent ---- */

#define ACK_LEN		16	/* acked_seq, coord_real_ns */

int wire_decode_ack(const void *frame, size_t len, struct wire_session *s, struct wire_ack *out)
{
	const uint8_t *f = frame;
	struct wire_frame_info info;
	int r;

	r = frame_check(f, len, WIRE_ACK, &info);
	if (r < 0)
		return r;
	/* only the agent receives ACKs, and 1.0 had none */
	if (!s->agent || info.version_minor < 1)
		return -EPROTO;
	r = frame_auth(f, len, WIRE_ACK, s, &info);
	if (r < 0)
		return r;
	if (len - WIRE_HEADER_LEN < ACK_LEN)
		return -EPROTO;
	/* bytes after the known fields come from a newer minor: ignored */
	out->seq = info.seq;
	out->acked_seq = le64(f + WIRE_HEADER_LEN);
	out->coord_real_ns = (int64_t)le64(f + WIRE_HEADER_LEN + 8);
	s->recv_seq = info.seq;
	return 0;
}

/* ---- unknown types ---- */

int wire_decode_skip(const void *frame, size_t len, struct wire_session *s)
{
	const uint8_t *f = frame;
	struct wire_frame_info info;
	int r;

	r = frame_check(f, len, 0, &info);
	if (r < 0)
		return r;
	if (wire_type_known(info.type, s->minor) || info.version_minor <= s->minor)
		return -EPROTO;
	r = frame_auth(f, len, info.type, s, &info);
	if (r < 0)
		return r;
	s->recv_seq = info.seq;
	return 0;
}
