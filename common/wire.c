/* wire: what the frame encoder and decoder share: magic, sessions, text rules, names (docs/protocol.md) */
#include <errno.h>
#include <string.h>

#include "wire_int.h"

const uint8_t wire_magic[4] = { 'A', 'S', 'C', 'W' };
const uint8_t wire_zero_nonce[WIRE_NONCE_LEN];

/* ---- session ---- */

void wire_session_init(struct wire_session *s, struct wire_keys *keys, bool agent)
{
	memset(s, 0, sizeof(*s));
	s->keys = keys;
	s->agent = agent;
	s->minor = WIRE_VERSION_MINOR;
	if (agent)
		s->key_id = wire_keys_signing_id(keys);
}

/* ---- strings: u16 length, UTF-8 without control characters ---- */

bool wire_text_valid(const uint8_t *p, size_t len)
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

struct wire_str wire_str_c(const char *s)
{
	struct wire_str w = { s, 0 };
	size_t n = s ? strlen(s) : 0;

	w.len = n > UINT16_MAX ? UINT16_MAX : (uint16_t)n;
	return w;
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

	return wire_type_known(type, WIRE_VERSION_MINOR) ? names[type] : "unknown";
}
