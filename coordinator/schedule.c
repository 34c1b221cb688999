/* schedule: which profile of a setting is in force at a time */
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
