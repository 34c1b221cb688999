/* schedule: which profile of a setting is in force at a time */
#ifndef ASCALE_SCHEDULE_H
#define ASCALE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "setting.h"

/* Does recurring profile p hold UTC time t (seconds)? */
bool schedule_recurring_holds(const struct profile *p, int64_t t);
/*
 * The index of the profile in force at UTC time t (seconds): the first
 * fixed-date profile whose [start, end) holds t, else the first recurring one
 * that holds t, else the default.
 */
int schedule_profile(const struct setting *s, int64_t t);

#endif
