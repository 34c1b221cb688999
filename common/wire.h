/* wire: the agent→coordinator frame codec, versioned and HMAC-authenticated (docs/protocol.md) */
#ifndef ASCALE_WIRE_H
#define ASCALE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC		0x57435341u	/* "ASCW" read as little-endian bytes */
#define WIRE_VERSION_MAJOR	1	/* receivers refuse another major */
#define WIRE_VERSION_MINOR	1	/* newer minors: unknown types skipped, trailing bytes ignored; 1: ACK */

#define WIRE_HEADER_LEN		56
#define WIRE_FRAME_MAX		65536	/* whole frame, header included */
#define WIRE_HMAC_OFFSET	24
#define WIRE_HMAC_LEN		32
#define WIRE_NONCE_LEN		16

/* limits, in bytes of UTF-8 for strings */
#define WIRE_METRICS_MAX	64
#define WIRE_LABELS_MAX		16
#define WIRE_NAME_MAX		63	/* metric name, instance, deployment, endpoint, label key, agent version */
#define WIRE_ALIAS_MAX		47
#define WIRE_UNIT_MAX		15
#define WIRE_VALUE_MAX		255	/* label value */
#define WIRE_REASON_MAX		255
#define WIRE_INTERVAL_MAX_NS	(3600LL * 1000000000LL)

#define WIRE_KEYS_MAX		8
#define WIRE_KEY_MIN		32
#define WIRE_KEY_MAX		64

enum wire_type {
	WIRE_HELLO = 1,		/* agent → coordinator, opens the session */
	WIRE_WELCOME = 2,	/* coordinator → agent, accepts or refuses */
	WIRE_AGGREGATE = 3,	/* agent → coordinator, one report interval */
	WIRE_HEARTBEAT = 4,	/* agent → coordinator, when idle */
	WIRE_GOODBYE = 5,	/* agent → coordinator, clean exit */
	WIRE_ACK = 6,		/* coordinator → agent (1.1): the highest sequence stored */
};

enum wire_status {
	WIRE_ACCEPTED = 0,
	WIRE_REFUSE_VERSION = 1,	/* protocol major not spoken */
	WIRE_REFUSE_KEY = 2,		/* key id unknown or HMAC wrong */
	WIRE_REFUSE_HELLO = 3,		/* malformed HELLO */
	WIRE_REFUSE_POLICY = 4,		/* unknown deployment, duplicate instance, ... */
	WIRE_REFUSE_BUSY = 5,		/* overloaded: retry after retry_after_ms */
};

enum wire_goodbye_reason {
	WIRE_BYE_SHUTDOWN = 0,
	WIRE_BYE_RELOAD = 1,
	WIRE_BYE_ERROR = 2,
};

/* A string in a frame: not NUL-terminated, points into the frame on decode. */
struct wire_str {
	const char *ptr;
	uint16_t len;
};

/* ---- keys (wire_hmac.c) ---- */

struct evp_mac_st;
struct evp_mac_ctx_st;

struct wire_key {
	uint32_t id;				/* 1 .. 2^32-1; 0 means "unauthenticated" */
	struct evp_mac_ctx_st *tmpl;		/* keyed HMAC-SHA256 */
	struct evp_mac_ctx_st *work;		/* re-initialised from the key for each frame */
};

/*
 * The pre-shared keys a process accepts; keys[0] signs.  Holds OpenSSL
 * contexts that are reused per frame: one thread uses a wire_keys at a time.
 */
struct wire_keys {
	unsigned count;
	struct wire_key keys[WIRE_KEYS_MAX];
	struct evp_mac_st *alg;
};

int wire_keys_init(struct wire_keys *k);
/* Returns 0, -EINVAL (id 0, key shorter than WIRE_KEY_MIN or longer than WIRE_KEY_MAX), -EEXIST, -ENOSPC or -EIO. */
int wire_keys_add(struct wire_keys *k, uint32_t id, const uint8_t *key, size_t len);
void wire_keys_free(struct wire_keys *k);
struct wire_key *wire_keys_find(struct wire_keys *k, uint32_t id);
/* The id that signs (the first key added), or 0 when there is none. */
uint32_t wire_keys_signing_id(const struct wire_keys *k);
/*
 * HMAC-SHA256 over nonce || frame[0, 24) || frame[56, len): the header
 * without its HMAC field, then the payload.  len >= WIRE_HEADER_LEN.
 */
int wire_mac(struct wire_key *key, const uint8_t nonce[WIRE_NONCE_LEN],
	     const uint8_t *frame, size_t len, uint8_t out[WIRE_HMAC_LEN]);
/* Fills buf from the OpenSSL generator: 0 or -EIO. */
int wire_random(void *buf, size_t len);

/* ---- session ---- */

/*
 * One connection's authentication state, on either side.  The HMAC prefix
 * is 16 zero bytes for HELLO, the HELLO's nonce for WELCOME and the
 * WELCOME's session nonce for every later frame.
 */
struct wire_session {
	struct wire_keys *keys;
	uint32_t key_id;			/* the HELLO's key: every frame of the session uses it */
	bool established;			/* an accepting WELCOME was sent or received */
	uint8_t hello_nonce[WIRE_NONCE_LEN];
	uint8_t nonce[WIRE_NONCE_LEN];		/* session nonce */
	uint64_t recv_seq;			/* highest sequence accepted; later frames must exceed it */
	uint16_t metric_count;			/* the HELLO's metric table: AGGREGATE indexes stay below */
	bool agent;				/* the agent's end: receives WELCOME and ACK */
	uint8_t minor;				/* the minor this end speaks: WIRE_VERSION_MINOR, or lower to act as an older peer */
};

/*
 * An agent's session signs with the first key; a coordinator's learns its
 * key from HELLO.  Both speak WIRE_VERSION_MINOR; lower s->minor afterwards
 * to behave as an older peer (stamped in the header; types of newer minors
 * are then unknown to wire_decode_skip()).
 */
void wire_session_init(struct wire_session *s, struct wire_keys *keys, bool agent);

/* ---- frames ---- */

struct wire_frame_info {
	uint8_t version_major;
	uint8_t version_minor;
	uint8_t type;
	uint8_t flags;
	uint32_t length;	/* whole frame; 0 until 12 bytes are there */
	uint32_t key_id;
	uint64_t seq;
	size_t need;		/* with -EAGAIN: bytes the frame needs in all */
};

struct wire_metric_desc {
	struct wire_str name;	/* 1 .. WIRE_NAME_MAX */
	struct wire_str alias;	/* 0 .. WIRE_ALIAS_MAX */
	struct wire_str unit;	/* 0 .. WIRE_UNIT_MAX */
};

struct wire_label {
	struct wire_str key;	/* 1 .. WIRE_NAME_MAX */
	struct wire_str value;	/* 0 .. WIRE_VALUE_MAX */
};

struct wire_hello {
	uint8_t nonce[WIRE_NONCE_LEN];	/* random per HELLO: WELCOME's HMAC covers it */
	uint64_t boot_id;		/* random per agent start, non-zero */
	uint64_t last_seq;		/* highest sequence this boot has assigned, 0 for none */
	int64_t agent_real_ns;		/* the agent's CLOCK_REALTIME when sending */
	int64_t sample_interval_ns;
	int64_t report_interval_ns;
	struct wire_str agent_version;
	struct wire_str instance;	/* not empty */
	struct wire_str deployment;
	struct wire_str endpoint;
	uint16_t label_count;
	uint16_t metric_count;
	struct wire_label labels[WIRE_LABELS_MAX];
	struct wire_metric_desc metrics[WIRE_METRICS_MAX];
};

struct wire_welcome {
	uint16_t status;		/* enum wire_status */
	bool authenticated;		/* decode: false for a refusal sent with key id 0 */
	uint32_t retry_after_ms;	/* 0: the agent's own backoff */
	uint32_t idle_timeout_ms;	/* the coordinator closes a session silent this long */
	int64_t coord_real_ns;		/* the coordinator's CLOCK_REALTIME, for skew */
	uint8_t nonce[WIRE_NONCE_LEN];	/* session nonce, random */
	uint64_t resume_seq;		/* highest sequence of this boot already stored; 0 for none */
	struct wire_str reason;		/* 0 .. WIRE_REASON_MAX, for refusals */
};

/* count 0: sum 0, min, max and last NaN. Otherwise all finite and min <= last <= max. */
struct wire_metric_stat {
	uint16_t index;		/* into the HELLO's metric table */
	uint32_t count;
	double sum;
	double min;
	double max;
	double last;
};

struct wire_aggregate {
	uint64_t seq;
	int64_t start_ns;	/* the agent's CLOCK_REALTIME at the interval's start */
	int64_t end_ns;		/* ... and end, >= start_ns */
	uint16_t count;
	struct wire_metric_stat stats[WIRE_METRICS_MAX];	/* strictly increasing index */
};

struct wire_heartbeat {
	uint64_t seq;
	int64_t agent_real_ns;
};

struct wire_goodbye {
	uint64_t seq;
	uint16_t reason;	/* enum wire_goodbye_reason; others allowed */
	struct wire_str message;
};

/*
 * ACK (1.1): the coordinator's own sequence number (a per-session counter
 * from 1: the agent's session refuses one at or below the last) and the
 * highest AGGREGATE sequence of this agent boot stored so far.
 */
struct wire_ack {
	uint64_t seq;
	uint64_t acked_seq;
	int64_t coord_real_ns;	/* the coordinator's CLOCK_REALTIME when sending */
};

/*
 * Looks at the start of a byte stream.  Returns the length of the complete
 * frame at buf, or -EAGAIN (info->need: bytes needed in all), -EPROTO (not a
 * frame: bad magic), -EPROTONOSUPPORT (another major; info says which) or
 * -EMSGSIZE (length below the header or above WIRE_FRAME_MAX).  Checks no
 * HMAC; info may be NULL.
 */
int wire_frame_peek(const void *buf, size_t len, struct wire_frame_info *info);

/*
 * Encoders write one whole frame into buf and its length into *len.  They
 * return 0, -EINVAL (a field out of range), -ENOBUFS (cap too small),
 * -ENOKEY (the session has no key) or -EIO (crypto failure).
 * Encoding HELLO records its nonce in the session; encoding an accepting
 * WELCOME makes the session established with w->nonce, expecting sequences
 * above w->resume_seq.  A refusing WELCOME from a session with key id 0 goes
 * out unauthenticated (zero HMAC).
 */
int wire_encode_hello(void *buf, size_t cap, struct wire_session *s,
		      const struct wire_hello *h, size_t *len);
int wire_encode_welcome(void *buf, size_t cap, struct wire_session *s,
			const struct wire_welcome *w, size_t *len);
int wire_encode_aggregate(void *buf, size_t cap, struct wire_session *s,
			  const struct wire_aggregate *a, size_t *len);
int wire_encode_heartbeat(void *buf, size_t cap, struct wire_session *s,
			  const struct wire_heartbeat *hb, size_t *len);
int wire_encode_goodbye(void *buf, size_t cap, struct wire_session *s,
			const struct wire_goodbye *g, size_t *len);
/* The coordinator's end only, in a session of minor >= 1 (-EINVAL otherwise). */
int wire_encode_ack(void *buf, size_t cap, struct wire_session *s,
		    const struct wire_ack *a, size_t *len);

/*
 * Decoders take exactly one frame (len as returned by wire_frame_peek),
 * verify header, key, HMAC and (after the handshake) sequence, then parse
 * into *out, whose strings point into frame.  They allocate nothing.
 * Returns 0, or:
 *   -EPROTONOSUPPORT  another major version
 *   -EMSGSIZE         length field differs from len, or out of range
 *   -ENOKEY           key id unknown, or not the session's key
 *   -EBADMSG          HMAC mismatch
 *   -EALREADY         sequence not above the last accepted (replayed or old)
 *   -EPROTO           bad magic, wrong type or phase, malformed payload
 * A decoded HELLO sets the session's key and HELLO nonce; an accepting
 * WELCOME makes the agent's session established; an accepted sequenced
 * frame raises recv_seq.  On error the session is unchanged.
 */
int wire_decode_hello(const void *frame, size_t len, struct wire_session *s, struct wire_hello *out);
int wire_decode_welcome(const void *frame, size_t len, struct wire_session *s, struct wire_welcome *out);
int wire_decode_aggregate(const void *frame, size_t len, struct wire_session *s, struct wire_aggregate *out);
int wire_decode_heartbeat(const void *frame, size_t len, struct wire_session *s, struct wire_heartbeat *out);
int wire_decode_goodbye(const void *frame, size_t len, struct wire_session *s, struct wire_goodbye *out);
/* The agent's end only; an ACK stamped with minor 0 is malformed (-EPROTO). */
int wire_decode_ack(const void *frame, size_t len, struct wire_session *s, struct wire_ack *out);
/*
 * A frame of a type the session's minor (s->minor) does not know: verified
 * like any sequenced frame and skipped (0) when its minor is newer; -EPROTO
 * when it claims the session's minor or an older one, or is a known type.
 */
int wire_decode_skip(const void *frame, size_t len, struct wire_session *s);

/* What a receiver counts; wire_stats_count() files a decoder's result. */
struct wire_stats {
	uint64_t frames;		/* accepted */
	uint64_t bad_length;		/* -EMSGSIZE */
	uint64_t bad_version;		/* -EPROTONOSUPPORT */
	uint64_t unknown_key;		/* -ENOKEY */
	uint64_t bad_hmac;		/* -EBADMSG */
	uint64_t replayed;		/* -EALREADY */
	uint64_t malformed;		/* -EPROTO and anything else */
	uint64_t unknown_type_skipped;	/* wire_decode_skip() == 0 */
};

void wire_stats_count(struct wire_stats *st, int rc, bool skipped);
/* A short phrase for a codec result ("bad HMAC", "replayed sequence"). */
const char *wire_strerror(int rc);
const char *wire_type_name(unsigned type);
/* Wraps a C string (up to 65535 bytes). */
struct wire_str wire_str_c(const char *s);

#endif
