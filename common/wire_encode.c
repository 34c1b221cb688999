/* wire_encode: builds and signs whole frames, HELLO to ACK, in the caller's buffer (docs/protocol.md) */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "wire_int.h"

/* ---- little-endian writer ---- */

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

/* ---- strings: u16 length, UTF-8 without control characters ---- */

static bool str_ok(const struct wire_str *s, size_t min, size_t max)
{
	if (s->len < min || s->len > max)
		return false;
	if (s->len && !s->ptr)
		return false;
	return wire_text_valid((const uint8_t *)s->ptr, s->len);
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

/* ---- header ---- */

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

static struct wire_key *session_key(struct wire_session *s)
{
	return wire_keys_find(s->keys, s->key_id);
}

/* ---- HELLO ---- */

int wire_encode_hello(void *buf, size_t cap, struct wire_session *s,
		      const struct wire_hello *h, size_t *len)
{
	struct wbuf w = { buf, cap, 0, 0 };
	struct wire_key *key = session_key(s);
	unsigned i;
	int r;

	if (!key)
		return -ENOKEY;
	if (h->boot_id == 0 || !wire_interval_ok(h->sample_interval_ns) ||
	    !wire_interval_ok(h->report_interval_ns) ||
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
	r = frame_seal(&w, key, wire_zero_nonce, len);
	if (r < 0)
		return r;
	memcpy(s->hello_nonce, h->nonce, WIRE_NONCE_LEN);
	s->metric_count = h->metric_count;
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

/* ---- AGGREGATE ---- */

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
	    a->count > WIRE_METRICS_MAX || !wire_metric_stats_ok(s, a->stats, a->count))
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

/* ---- HEARTBEAT, GOODBYE ---- */

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

/* ---- ACK (1.1): coordinator → agent ---- */

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
