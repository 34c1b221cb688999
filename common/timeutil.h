/* timeutil: clocks, durations and timestamps */
#ifndef ASCALE_TIMEUTIL_H
#define ASCALE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define NSEC_PER_USEC	1000LL
#define NSEC_PER_MSEC	1000000LL
#define NSEC_PER_SEC	1000000000LL

int64_t time_mono_ns(void);
int64_t time_real_ns(void);

/*
 * Parses a duration such as "100ms", "90s", "1h30m" or "0.5s" into
 * nanoseconds; a bare number is taken in unit_ns (0: a unit is required).
 * Returns 0, -EINVAL, or -ERANGE when it does not fit.
 */
int duration_parse(const char *s, int64_t unit_ns, int64_t *ns);

/* Writes the shortest exact form of ns ("100ms", "5m", "1h30m"). */
const char *duration_format(int64_t ns, char *buf, size_t len);

/*
 * The wait before retry n (1: the first): first_ns doubled n - 1 times, at
 * most max_ns, then drawn uniformly between half and all of it, so that
 * many clients that failed together do not retry together.
 */
int64_t backoff_delay(int64_t first_ns, int64_t max_ns, unsigned n);

/* Writes real time ns as RFC 3339 UTC with milliseconds. */
const char *time_format_rfc3339(int64_t real_ns, char *buf, size_t len);

#endif
