/* wire_int: what wire.c, wire_encode.c and wire_decode.c share, not for other modules */
#ifndef ASCALE_WIRE_INT_H
#define ASCALE_WIRE_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define AGG_FIXED_LEN	24	/* start, end, count, entry_size, reserved */
#define AGG_ENTRY_LEN	40	/* index, reserved, count, sum, min, max, last */

extern const uint8_t wire_magic[4];
extern const uint8_t wire_zero_nonce[WIRE_NONCE_LEN];	/* HELLO's HMAC prefix */

/* UTF-8 without control characters: what a frame's strings may hold. */
bool wire_text_valid(const uint8_t *p, size_t len);

/* The frame types of a minor: 1.0 has HELLO .. GOODBYE, 1.1 adds ACK. */
static inline bool wire_type_known(unsigned type, unsigned minor)
{
	return (type >= WIRE_HELLO && type <= WIRE_GOODBYE) || (type == WIRE_ACK && minor >= 1);
}

/* HELLO's sample and report intervals. */
static inline bool wire_interval_ok(int64_t ns)
{
	return ns > 0 && ns <= WIRE_INTERVAL_MAX_NS;
}

static inline bool wire_metric_stat_ok(const struct wire_metric_stat *m)
{
	if (m->count == 0)
		return true;
	if (!isfinite(m->sum) || !isfinite(m->min) || !isfinite(m->max) || !isfinite(m->last))
		return false;
	return m->min <= m->last && m->last <= m->max;
}

/* An AGGREGATE's stats: strictly increasing indexes within the metric table. */
static inline bool wire_metric_stats_ok(const struct wire_session *s, const struct wire_metric_stat *m,
					unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (m[i].index >= s->metric_count || (i > 0 && m[i].index <= m[i - 1].index))
			return false;
		if (!wire_metric_stat_ok(&m[i]))
			return false;
	}
	return true;
}

#endif
