/* tz: time zones from TZif files, with Windows zone names as Azure uses them */
#ifndef ASCALE_TZ_H
#define ASCALE_TZ_H

#include <stdint.h>

struct tz;

struct civil {
	int year, month, day;		/* month 1..12, day 1..31 */
	int hour, min, sec;
	int wday;			/* 0 = Sunday */
};

/*
 * Loads a zone by IANA name ("Europe/Berlin") or Windows name ("W. Europe
 * Standard Time"), reading TZif files under the zoneinfo folder.  Zones are
 * loaded once and shared until tz_cleanup().  Returns 0, -ENOENT (unknown
 * name), -EINVAL (bad file) or -errno; logs nothing.
 */
int tz_load(const char *name, const struct tz **out);
void tz_cleanup(void);
/* The zoneinfo folder (default $TZDIR or /usr/share/zoneinfo). */
void tz_set_dir(const char *dir);

/* The IANA name for a Windows zone name (case-insensitive), or NULL. */
const char *tz_windows_to_iana(const char *windows);
const char *tz_name(const struct tz *tz);

/* Offset east of UTC in seconds at UTC time t (seconds); tz NULL is UTC. */
int32_t tz_offset(const struct tz *tz, int64_t t);
static inline int64_t tz_to_local(const struct tz *tz, int64_t t)
{
	return t + tz_offset(tz, t);
}
/*
 * UTC time of local wall time `local` (seconds as if local were UTC).  A time
 * skipped by a forward change is moved forward by the gap (02:30 becomes
 * 03:30); a time that occurs twice is its first occurrence.
 */
int64_t tz_from_local(const struct tz *tz, int64_t local);

/* Calendar helpers on seconds since the epoch (no zone). */
int64_t civil_to_days(int year, int month, int day);
void civil_from_secs(int64_t secs, struct civil *c);
int64_t civil_to_secs(const struct civil *c);

#endif
