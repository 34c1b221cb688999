/* wire: the agent→coordinator frame codec, versioned and HMAC-authenticated (docs/protocol.md) */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <openssl/crypto.h>

#include "wire.h"

#define AGG_FIXED_LEN	24	/* start, end, count, entry_size, reserved */
#define AGG_ENTRY_LEN	40	/* index, reserved, count, sum, min, max, last */

static const uint8_t wire_magic[4] = { 'A', 'S', 'C', 'W' };
static const uint8_t zero_nonce[WIRE_NONCE_LEN];

/* ---- little-endian writer and reader ---- */

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t off;
	int err;	/* first error: -ENOBUFS or -EINVAL */
};

static void put_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->off) {
		w->err = -ENOBUFS;
		return;
	}
	if (n)
		memcpy(w->p + w->off, src, n);
	w->off += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

static void put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put_bytes(w, b, 2);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	put_bytes(w, b, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_f64(struct wbuf *w, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(w, v);
}

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

static bool text_valid(const uint8_t *p, size_t len)
{
	size_t i = 0, k, more;
	uint8_t c, lo, hi;

	while (i < len) {
		c = p[i++];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else {
			return false;
		}
		if (more > len - i)
			return false;
		for (k = 0; k < more; k++, i++) {
			if (p[i] < lo || p[i] > hi)
				return false;
			lo = 0x80;
			hi = 0xbf;
		}
	}
	return true;
}

static bool str_ok(const struct wire_str *s, size_t min, size_t max)
{
	if (s->len < min || s->len > max)
		return false;
	if (s->len && !s->ptr)
		return false;
	return text_valid((const uint8_t *)s->ptr, s->len);
}

static void put_str(struct wbuf *w, const struct wire_str *s, size_t min, size_t max)
{
	if (!str_ok(s, min, max)) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_u16(w, s->len);
	put_bytes(w, s->ptr, s->len);
}

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
	if (!b || !text_valid(b, n)) {
		r->bad = true;
		return;
	}
	s->ptr = (const char *)b;
	s->len = n;
}

struct wire_str wire_str_c(const char *s)
{
	struct wire_str w = { s, 0 };
	size_t n = s ? strlen(s) : 0;

	w.len = n > UINT16_MAX ? UINT16_MAX : (uint16_t)n;
	return w;
}

/* ---- header ---- */

void wire_session_init(struct wire_session *s, struct wire_keys *keys, bool agent)
{
	memset(s, 0, sizeof(*s));
	s->keys = keys;
	s->agent = agent;
	s->minor = WIRE_VERSION_MINOR;
	if (agent)
		s->key_id = wire_keys_signing_id(keys);
}

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

static void put_header(struct wbuf *w, const struct wire_session *s, unsigned type, uint32_t key_id,
		       uint64_t seq)
{
	static const uint8_t no_mac[WIRE_HMAC_LEN];

	put_bytes(w, wire_magic, 4);
	put_u8(w, WIRE_VERSION_MAJOR);
	put_u8(w, s->minor);
	put_u8(w, (uint8_t)type);
	put_u8(w, 0);
	put_u32(w, 0);		/* length, set by frame_seal() */
	put_u32(w, key_id);
	put_u64(w, seq);
	put_bytes(w, no_mac, WIRE_HMAC_LEN);
}

/* Sets the length and signs the frame with key (NULL: left unauthenticated). */
static int frame_seal(struct wbuf *w, struct wire_key *key, const uint8_t *nonce, size_t *len)
{
	uint8_t *b = w->p;
	int r;

	if (w->err)
		return w->err;
	if (w->off > WIRE_FRAME_MAX)
		return -EINVAL;
	b[8] = (uint8_t)w->off;
	b[9] = (uint8_t)(w->off >> 8);
	b[10] = (uint8_t)(w->off >> 16);
	b[11] = (uint8_t)(w->off >> 24);
	if (key) {
		r = wire_mac(key, nonce, b, w->off, b + WIRE_HMAC_OFFSET);
		if (r < 0)
			return r;
	}
	*len = w->off;
	return 0;
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

static struct wire_key *session_key(struct wire_session *s)
{
	return wire_keys_find(s->keys, s->key_id);
}

/* ---- HELLO ---- */

static bool interval_ok(int64_t ns)
{
	return ns > 0 && ns <= WIRE_INTERVAL_MAX_NS;
}

int wire_encode_hello(void *buf, size_t cap, struct wire_session *s,
		      const struct wire_hello *h, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = session_key(s);
	unsigned i;
	int r;

	if (!key)
		return -ENOKEY;
	if (h->boot_id == 0 || !interval_ok(h->sample_interval_ns) ||
	    !interval_ok(h->report_interval_ns) ||
	    h->label_count > WIRE_LABELS_MAX || h->metric_count > WIRE_METRICS_MAX)
		return -EINVAL;
	put_header(&w, s, WIRE_HELLO, s->key_id, 0);
	put_bytes(&w, h->nonce, WIRE_NONCE_LEN);
	put_u64(&w, h->boot_id);
	put_u64(&w, h->last_seq);
	put_u64(&w, (uint64_t)h->agent_real_ns);
	put_u64(&w, (uint64_t)h->sample_interval_ns);
	put_u64(&w, (uint64_t)h->report_interval_ns);
	put_str(&w, &h->agent_version, 0, WIRE_NAME_MAX);
	put_str(&w, &h->instance, 1, WIRE_NAME_MAX);
	put_str(&w, &h->deployment, 0, WIRE_NAME_MAX);
	put_str(&w, &h->endpoint, 0, WIRE_NAME_MAX);
	put_u16(&w, h->label_count);
	for (i = 0; i < h->label_count; i++) {
		put_str(&w, &h->labels[i].key, 1, WIRE_NAME_MAX);
		put_str(&w, &h->labels[i].value, 0, WIRE_VALUE_MAX);
	}
	put_u16(&w, h->metric_count);
	for (i = 0; i < h->metric_count; i++) {
		put_str(&w, &h->metrics[i].name, 1, WIRE_NAME_MAX);
		put_str(&w, &h->metrics[i].alias, 0, WIRE_ALIAS_MAX);
		put_str(&w, &h->metrics[i].unit, 0, WIRE_UNIT_MAX);
	}
	r = frame_seal(&w, key, zero_nonce, len);
	if (r < 0)
		return r;
	memcpy(s->hello_nonce, h->nonce, WIRE_NONCE_LEN);
	s->metric_count = h->metric_count;
	return 0;
}

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
	r = frame_verify(key, zero_nonce, f, len);
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
	if (rb.bad || out->boot_id == 0 || !interval_ok(out->sample_interval_ns) ||
	    !interval_ok(out->report_interval_ns))
		return -EPROTO;
	/* bytes after the known fields come from a newer minor: ignored */
	s->key_id = info.key_id;
	memcpy(s->hello_nonce, out->nonce, WIRE_NONCE_LEN);
	s->metric_count = out->metric_count;
	return 0;
}

/* ---- WELCOME ---- */

int wire_encode_welcome(void *buf, size_t cap, struct wire_session *s,
			const struct wire_welcome *wl, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = NULL;
	int r;

	if (s->key_id) {
		key = session_key(s);
		if (!key)
			return -ENOKEY;
	} else if (wl->status == WIRE_ACCEPTED) {
		return -ENOKEY;
	}
	if (s->established)
		return -EINVAL;
	put_header(&w, s, WIRE_WELCOME, s->key_id, 0);
	put_u16(&w, wl->status);
	put_u16(&w, 0);
	put_u32(&w, wl->retry_after_ms);
	put_u64(&w, (uint64_t)wl->coord_real_ns);
	put_bytes(&w, wl->nonce, WIRE_NONCE_LEN);
	put_u64(&w, wl->resume_seq);
	put_u32(&w, wl->idle_timeout_ms);
	put_u32(&w, 0);
	put_str(&w, &wl->reason, 0, WIRE_REASON_MAX);
	r = frame_seal(&w, key, s->hello_nonce, len);
	if (r < 0)
		return r;
	if (wl->status == WIRE_ACCEPTED) {
		memcpy(s->nonce, wl->nonce, WIRE_NONCE_LEN);
		s->recv_seq = wl->resume_seq;
		s->established = true;
	}
	return 0;
}

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

static bool stat_ok(const struct wire_metric_stat *m)
{
	if (m->count == 0)
		return true;
	if (!isfinite(m->sum) || !isfinite(m->min) || !isfinite(m->max) || !isfinite(m->last))
		return false;
	return m->min <= m->last && m->last <= m->max;
}

/* Strictly increasing indexes within the metric table. */
static bool stats_ok(const struct wire_session *s, const struct wire_metric_stat *m, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (m[i].index >= s->metric_count || (i > 0 && m[i].index <= m[i - 1].index))
			return false;
		if (!stat_ok(&m[i]))
			return false;
	}
	return true;
}

int wire_encode_aggregate(void *buf, size_t cap, struct wire_session *s,
			  const struct wire_aggregate *a, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = session_key(s);
	const struct wire_metric_stat *m;
	unsigned i;

	if (!key)
		return -ENOKEY;
	if (!s->established || a->seq == 0 || a->end_ns < a->start_ns ||
	    a->count > WIRE_METRICS_MAX || !stats_ok(s, a->stats, a->count))
		return -EINVAL;
	put_header(&w, s, WIRE_AGGREGATE, s->key_id, a->seq);
	put_u64(&w, (uint64_t)a->start_ns);
	put_u64(&w, (uint64_t)a->end_ns);
	put_u16(&w, a->count);
	put_u16(&w, AGG_ENTRY_LEN);
	put_u32(&w, 0);
	for (i = 0; i < a->count; i++) {
		m = &a->stats[i];
		put_u16(&w, m->index);
		put_u16(&w, 0);
		put_u32(&w, m->count);
		if (m->count) {
			put_f64(&w, m->sum);
			put_f64(&w, m->min);
			put_f64(&w, m->max);
			put_f64(&w, m->last);
		} else {
			put_f64(&w, 0);
			put_f64(&w, NAN);
			put_f64(&w, NAN);
			put_f64(&w, NAN);
		}
	}
	return frame_seal(&w, key, s->nonce, len);
}

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
	if (!stats_ok(s, out->stats, out->count))
		return -EPROTO;
	s->recv_seq = info.seq;
	return 0;
}

/* ---- HEARTBEAT, GOODBYE, unknown types ---- */

int wire_encode_heartbeat(void *buf, size_t cap, struct wire_session *s,
			  const struct wire_heartbeat *hb, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = session_key(s);

	if (!key)
		return -ENOKEY;
	if (!s->established || hb->seq == 0)
		return -EINVAL;
	put_header(&w, s, WIRE_HEARTBEAT, s->key_id, hb->seq);
	put_u64(&w, (uint64_t)hb->agent_real_ns);
	return frame_seal(&w, key, s->nonce, len);
}

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

int wire_encode_goodbye(void *buf, size_t cap, struct wire_session *s,
			const struct wire_goodbye *g, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = session_key(s);

	if (!key)
		return -ENOKEY;
	if (!s->established || g->seq == 0)
		return -EINVAL;
	put_header(&w, s, WIRE_GOODBYE, s->key_id, g->seq);
	put_u16(&w, g->reason);
	put_u16(&w, 0);
	put_str(&w, &g->message, 0, WIRE_REASON_MAX);
	return frame_seal(&w, key, s->nonce, len);
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

/* The frame types of a minor: 1.0 has HELLO .. GOODBYE, 1.1 adds ACK. */
static bool type_known(unsigned type, unsigned minor)
{
	return (type >= WIRE_HELLO && type <= WIRE_GOODBYE) || (type == WIRE_ACK && minor >= 1);
}

/* ---- ACK (1.1): coordinator → agent ---- */

#define ACK_LEN		16	/* acked_seq, coord_real_ns */

int wire_encode_ack(void *buf, size_t cap, struct wire_session *s,
		    const struct wire_ack *a, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = session_key(s);

	if (!key)
		return -ENOKEY;
	if (!s->established || s->agent || s->minor < 1 || a->seq == 0)
		return -EINVAL;
	put_header(&w, s, WIRE_ACK, s->key_id, a->seq);
	put_u64(&w, a->acked_seq);
	put_u64(&w, (uint64_t)a->coord_real_ns);
	return frame_seal(&w, key, s->nonce, len);
}

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

int wire_decode_skip(const void *frame, size_t len, struct wire_session *s)
{
	const uint8_t *f = frame;
	struct wire_frame_info info;
	int r;

	r = frame_check(f, len, 0, &info);
	if (r < 0)
		return r;
	if (type_known(info.type, s->minor) || info.version_minor <= s->minor)
		return -EPROTO;
	r = frame_auth(f, len, info.type, s, &info);
	if (r < 0)
		return r;
	s->recv_seq = info.seq;
	return 0;
}

/* ---- counters and names ---- */

void wire_stats_count(struct wire_stats *st, int rc, bool skipped)
{
	switch (rc) {
	case 0:
		if (skipped)
			st->unknown_type_skipped++;
		else
			st->frames++;
		break;
	case -EMSGSIZE:
		st->bad_length++;
		break;
	case -EPROTONOSUPPORT:
		st->bad_version++;
		break;
	case -ENOKEY:
		st->unknown_key++;
		break;
	case -EBADMSG:
		st->bad_hmac++;
		break;
	case -EALREADY:
		st->replayed++;
		break;
	default:
		st->malformed++;
		break;
	}
}

const char *wire_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
	case -EAGAIN:
		return "incomplete frame";
	case -EMSGSIZE:
		return "bad frame length";
	case -EPROTONOSUPPORT:
		return "unsupported protocol version";
	case -ENOKEY:
		return "unknown key id";
	case -EBADMSG:
		return "bad HMAC";
	case -EALREADY:
		return "replayed or old sequence number";
	case -EPROTO:
		return "malformed frame";
	case -ENOBUFS:
		return "buffer too small";
	case -EINVAL:
		return "field out of range";
	default:
		return "codec error";
	}
}

const char *wire_type_name(unsigned type)
{
	static const char *const names[] = {
		[WIRE_HELLO] = "HELLO",
		[WIRE_WELCOME] = "WELCOME",
		[WIRE_AGGREGATE] = "AGGREGATE",
		[WIRE_HEARTBEAT] = "HEARTBEAT",
		[WIRE_GOODBYE] = "GOODBYE",
		[WIRE_ACK] = "ACK",
	};

	return type_known(type, WIRE_VERSION_MINOR) ? names[type] : "unknown";
}
