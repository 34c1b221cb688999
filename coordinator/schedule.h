/* schedule: which profile of a setting is in force at a time */
#ifndef ASCALE_SCHEDULE_H
#define ASCALE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "setting.h"

/* Does recurring profile p hold UTC time t (seconds)? */
bool schedule_recurring_holds(const struct profile *p, int64_t t);
/*
 * The first time after t at which recurring profile p may start or stop
 * holding: its start or end on the local wall clock, or a change of its zone's
 * offset (the wall clock jumps).  At most a day after t.
 */
int64_t schedule_recurring_next(const struct profile *p, int64_t t);
/*
 * The index of the profile in force at UTC time t (seconds): the first
 * fixed-date profile whose [start, end) holds t, else the first recurring one
 * that holds t, else the default.
 */
int schedule_profile(const struct setting *s, int64_t t);

/*
 * The first time after t (UTC seconds) at which the profile in force changes,
 * or limit when it does not change before limit.  Computed from the profiles'
 * boundaries and their zones' offset changes, not by stepping; the intervals
 * [t, next) of a listing are maximal (consecutive ones differ).
 */
int64_t schedule_next_change(const struct setting *s, int64_t t, int64_t limit);

/*
 * Parses "YYYY-MM-DD" (UTC midnight) or RFC 3339 ("2026-03-08T09:00:00Z",
 * "2026-03-08T01:00:00-08:00"; fractions of a second are dropped) into UTC
 * seconds.  Returns 0 or -EINVAL; logs nothing.
 */
int schedule_parse_time(const char *text, int64_t *t);

#endif
