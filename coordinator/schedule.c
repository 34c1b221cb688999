/* schedule: which profile of a setting is in force at a time */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schedule.h"
#include "tz.h"

bool schedule_recurring_holds(const struct profile *p, int64_t t)
{
	struct civil c;
	int min, yesterday;

	civil_from_secs(tz_to_local(p->tz, t), &c);
	min = c.hour * 60 + c.min;
	if (p->start_min < p->end_min)
		return (p->days & (1u << c.wday)) && min >= p->start_min && min < p->end_min;
	/* overnight, such as 22:00 to 06:00: the day is the one it starts on */
	yesterday = (c.wday + 6) % 7;
	return ((p->days & (1u << c.wday)) && min >= p->start_min) ||
	       ((p->days & (1u << yesterday)) && min < p->end_min);
}

int schedule_profile(const struct setting *s, int64_t t)
{
	int i, fallback = 0, recurring = -1;

	for (i = 0; i < (int)s->nprofiles; i++) {
		const struct profile *p = &s->profiles[i];

		switch (p->kind) {
		case PROFILE_FIXED:
			if (t >= p->fixed_start && t < p->fixed_end)
				return i;
			break;
		case PROFILE_RECURRING:
			if (recurring < 0 && schedule_recurring_holds(p, t))
				recurring = i;
			break;
		case PROFILE_DEFAULT:
			fallback = i;
			break;
		}
	}
	return recurring >= 0 ? recurring : fallback;
}

/* ---- transitions: when the profile in force can change ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/*
 * The first time in (t, c] at which tz's offset differs from its offset at
 * t, found by bisection (offsets are constant between transitions); c when
 * there is none.
 */
static int64_t tz_next_change(const struct tz *tz, int64_t t, int64_t c)
{
	int32_t off = tz_offset(tz, t);
	int64_t lo = t, hi = c, mid;

	if (!tz || tz_offset(tz, c) == off)
		return c;
	while (hi - lo > 1) {		/* offset(lo) == off, offset(hi) != off */
		mid = lo + (hi - lo) / 2;
		if (tz_offset(tz, mid) == off)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

int64_t schedule_recurring_next(const struct profile *p, int64_t t)
{
	int32_t off = tz_offset(p->tz, t);
	int64_t local = t + off, day = floor_div(local, 86400) * 86400;
	int64_t best = INT64_MAX, cand;
	int k, m, mins[2] = { p->start_min, p->end_min };

	for (k = 0; k <= 1; k++)
		for (m = 0; m < 2; m++) {
			cand = day + k * 86400 + mins[m] * 60;
			if (cand > local && cand < best)
				best = cand;
		}
	return tz_next_change(p->tz, t, best - off);
}

int64_t schedule_next_change(const struct setting *s, int64_t t, int64_t limit)
{
	int cur = schedule_profile(s, t), i;
	int64_t next, c;

	while (t < limit) {
		const struct profile *w = &s->profiles[cur];

		if (w->kind == PROFILE_FIXED) {
			/* fixed dates do not overlap and come first: it holds to its end */
			next = w->fixed_end;
		} else {
			next = INT64_MAX;
			for (i = 0; i < (int)s->nprofiles; i++) {
				const struct profile *p = &s->profiles[i];

				c = INT64_MAX;
				if (p->kind == PROFILE_FIXED)
					c = p->fixed_start > t ? p->fixed_start :
					    p->fixed_end > t ? p->fixed_end : INT64_MAX;
				else if (p->kind == PROFILE_RECURRING)
					c = schedule_recurring_next(p, t);
				if (c < next)
					next = c;
			}
		}
		if (next >= limit)
			return limit;
		if (schedule_profile(s, next) != cur)
			return next;
		t = next;
	}
	return limit;
}

/* "YYYY-MM-DD" (UTC midnight) or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)" */
int schedule_parse_time(const char *text, int64_t *t)
{
	struct civil c = { 0 }, back;
	int n = 0, oh = 0, om = 0, sign;
	const char *p;
	int64_t secs;

	if (sscanf(text, "%4d-%2d-%2d%n", &c.year, &c.month, &c.day, &n) != 3 || n != 10 ||
	    c.year < 1970 || c.year > 2200)
		return -EINVAL;
	for (p = text; p < text + 10; p++)
		if ((p - text == 4 || p - text == 7) ? *p != '-' : (*p < '0' || *p > '9'))
			return -EINVAL;
	p = text + 10;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -EINVAL;
		p++;
		if (strlen(p) < 8 || p[2] != ':' || p[5] != ':')
			return -EINVAL;
		for (n = 0; n < 8; n++)
			if (n != 2 && n != 5 && (p[n] < '0' || p[n] > '9'))
				return -EINVAL;
		c.hour = (p[0] - '0') * 10 + p[1] - '0';
		c.min = (p[3] - '0') * 10 + p[4] - '0';
		c.sec = (p[6] - '0') * 10 + p[7] - '0';
		if (c.hour > 23 || c.min > 59 || c.sec > 60)
			return -EINVAL;
		if (c.sec == 60)
			c.sec = 59;	/* a leap second: its second */
		p += 8;
		if (*p == '.') {	/* fractions are dropped: profiles change on minutes */
			if (p[1] < '0' || p[1] > '9')
				return -EINVAL;
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			if (strlen(p) != 6 || p[3] != ':' || p[1] < '0' || p[1] > '9' ||
			    p[2] < '0' || p[2] > '9' || p[4] < '0' || p[4] > '9' ||
			    p[5] < '0' || p[5] > '9')
				return -EINVAL;
			oh = (p[1] - '0') * 10 + p[2] - '0';
			om = (p[4] - '0') * 10 + p[5] - '0';
			if (oh > 23 || om > 59)
				return -EINVAL;
			oh *= sign;
			om *= sign;
			p += 6;
		} else {
			return -EINVAL;
		}
		if (*p)
			return -EINVAL;
	}
	secs = civil_to_secs(&c);
	civil_from_secs(secs, &back);
	if (back.month != c.month || back.day != c.day)
		return -EINVAL;
	*t = secs - oh * 3600 - om * 60;
	return 0;
}
