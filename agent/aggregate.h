/* aggregate: one report interval's AGGREGATE rebuilt from the ring's slots */
#ifndef ASCALE_AGGREGATE_H
#define ASCALE_AGGREGATE_H

#include <stdint.h>

#include "ring.h"
#include "wire.h"

/*
 * Report intervals are aligned on CLOCK_REALTIME: interval k is
 * [(k - 1) * report_ns, k * report_ns).  Its sequence number is its end in
 * whole milliseconds of CLOCK_REALTIME, so any interval the ring still holds
 * can be rebuilt with the same number, and numbers grow with time whatever
 * the report interval (which a reload may change).  HEARTBEAT and GOODBYE
 * take the milliseconds in between.  report_ns >= 1 ms.
 */
uint64_t aggregate_seq(uint64_t k, int64_t report_ns);
/* The first interval whose sequence number is above seq. */
uint64_t aggregate_after(uint64_t seq, int64_t report_ns);
/* The interval that real_ns falls in (k with (k - 1) * report_ns <= real_ns < k * report_ns). */
uint64_t aggregate_index(int64_t real_ns, int64_t report_ns);

/*
 * Fills *out with interval k from the slots of r whose real_ns fall in
 * [start, end): for each of the first nmetrics metrics, count, sum, min, max
 * and last of the finite values (NaN samples are skipped).  Reads O(log n)
 * slots to find the start, then the interval's own.  Returns 0, -ESTALE
 * when the ring no longer holds the whole interval (its oldest slot is
 * inside it or later), or -EINVAL.  Logs nothing.
 */
int aggregate_build(struct ring_reader *r, uint16_t nmetrics, uint64_t k, int64_t report_ns,
		    struct wire_aggregate *out);

#endif
