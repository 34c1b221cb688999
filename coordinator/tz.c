/* tz: time zones from TZif files, with Windows zone names as Azure uses them */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"

#define TZ_FILE_MAX	(1 << 20)
#define TZ_TIMES_MAX	65536
#define TZ_LAST_YEAR	2200		/* footer rules are expanded up to here */

struct tz {
	struct tz *next;
	char name[64];
	int32_t first_off;		/* before the first transition */
	size_t n;
	int64_t *times;			/* transition instants, ascending */
	int32_t *offs;			/* offset from each transition on */
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *tz_cache;
static char tz_dir[256];

const char *tz_name(const struct tz *tz)
{
	return tz ? tz->name : "UTC";
}

void tz_set_dir(const char *dir)
{
	pthread_mutex_lock(&tz_lock);
	snprintf(tz_dir, sizeof(tz_dir), "%s", dir ? dir : "");
	pthread_mutex_unlock(&tz_lock);
}

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ---- */

int64_t civil_to_days(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void civil_from_secs(int64_t secs, struct civil *c)
{
	int64_t days = floor_div(secs, 86400), rem = secs - days * 86400;
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = (int)(yoe + era * 400 + (c->month <= 2));
	c->hour = (int)(rem / 3600);
	c->min = (int)(rem / 60 % 60);
	c->sec = (int)(rem % 60);
	c->wday = (int)((days % 7 + 11) % 7);	/* 1970-01-01 was a Thursday */
}

int64_t civil_to_secs(const struct civil *c)
{
	return civil_to_days(c->year, c->month, c->day) * 86400 +
	       c->hour * 3600 + c->min * 60 + c->sec;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* ---- POSIX TZ strings (the TZif footer) ---- */

struct tz_rule {
	char kind;		/* 'M', 'J' or 'n' */
	int m, w, d;		/* M: month, week, weekday; J/n: day in d */
	int32_t time;		/* seconds after local midnight, may be < 0 or > 24h */
};

struct tz_posix {
	int32_t std_off, dst_off;	/* east of UTC */
	bool has_dst;
	struct tz_rule start, end;
};

static int posix_name(const char **p)
{
	const char *s = *p;

	if (*s == '<') {
		while (*s && *s != '>')
			s++;
		if (*s != '>' || s - *p < 4)
			return -EINVAL;
		*p = s + 1;
		return 0;
	}
	while (isalpha((unsigned char)*s))
		s++;
	if (s - *p < 3)
		return -EINVAL;
	*p = s;
	return 0;
}

/* [+-]hh[:mm[:ss]]; hours up to 167 */
static int posix_time(const char **p, int32_t *out)
{
	const char *s = *p;
	int sign = 1, part, v[3] = { 0, 0, 0 };

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (part = 0; part < 3; part++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			v[part] = v[part] * 10 + (*s++ - '0');
			if (v[part] > 167)
				return -EINVAL;
		}
		if (*s != ':')
			break;
		s++;
	}
	if (v[1] > 59 || v[2] > 59)
		return -EINVAL;
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	*p = s;
	return 0;
}

static int posix_num(const char **p, int lo, int hi, int *out)
{
	int v = 0;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (*(*p)++ - '0');
		if (v > hi)
			return -EINVAL;
	}
	if (v < lo)
		return -EINVAL;
	*out = v;
	return 0;
}

static int posix_rule(const char **p, struct tz_rule *r)
{
	if (**p == 'M') {
		(*p)++;
		r->kind = 'M';
		if (posix_num(p, 1, 12, &r->m) < 0 || *(*p)++ != '.' ||
		    posix_num(p, 1, 5, &r->w) < 0 || *(*p)++ != '.' ||
		    posix_num(p, 0, 6, &r->d) < 0)
			return -EINVAL;
	} else if (**p == 'J') {
		(*p)++;
		r->kind = 'J';
		if (posix_num(p, 1, 365, &r->d) < 0)
			return -EINVAL;
	} else {
		r->kind = 'n';
		if (posix_num(p, 0, 365, &r->d) < 0)
			return -EINVAL;
	}
	r->time = 7200;
	if (**p == '/') {
		(*p)++;
		return posix_time(p, &r->time);
	}
	return 0;
}

static int posix_parse(const char *s, struct tz_posix *tp)
{
	int32_t off;

	memset(tp, 0, sizeof(*tp));
	if (posix_name(&s) < 0 || posix_time(&s, &off) < 0)
		return -EINVAL;
	tp->std_off = -off;		/* POSIX offsets are west of UTC */
	if (!*s)
		return 0;
	if (posix_name(&s) < 0)
		return -EINVAL;
	tp->has_dst = true;
	tp->dst_off = tp->std_off + 3600;
	if (*s && *s != ',') {
		if (posix_time(&s, &off) < 0)
			return -EINVAL;
		tp->dst_off = -off;
	}
	if (*s != ',')
		return -EINVAL;		/* tzdata always gives the rules */
	s++;
	if (posix_rule(&s, &tp->start) < 0 || *s++ != ',' || posix_rule(&s, &tp->end) < 0 || *s)
		return -EINVAL;
	return 0;
}

/* Local seconds (of the offset in force before the change) when r applies in year. */
static int64_t rule_local(const struct tz_rule *r, int year)
{
	int64_t days;
	int first, mdays;
	static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (r->kind == 'J') {
		days = civil_to_days(year, 1, 1) + r->d - 1;
		if (is_leap(year) && r->d >= 60)
			days++;
	} else if (r->kind == 'n') {
		days = civil_to_days(year, 1, 1) + r->d;
	} else {
		days = civil_to_days(year, r->m, 1);
		first = (int)((days % 7 + 11) % 7);
		mdays = month_days[r->m - 1] + (r->m == 2 && is_leap(year));
		days += (r->d - first + 7) % 7 + (int64_t)(r->w - 1) * 7;
		while (days >= civil_to_days(year, r->m, 1) + mdays)
			days -= 7;
	}
	return days * 86400 + r->time;
}

static int tz_push(struct tz *tz, size_t *cap, int64_t t, int32_t off)
{
	int64_t *nt;
	int32_t *no;

	if (tz->n && t <= tz->times[tz->n - 1])
		return 0;
	if (tz->n == *cap) {
		if (*cap >= TZ_TIMES_MAX)
			return -EINVAL;
		*cap = *cap ? *cap * 2 : 64;
		nt = realloc(tz->times, *cap * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		tz->times = nt;
		no = realloc(tz->offs, *cap * sizeof(*no));
		if (!no)
			return -ENOMEM;
		tz->offs = no;
	}
	tz->times[tz->n] = t;
	tz->offs[tz->n++] = off;
	return 0;
}

/* Adds the footer's transitions after the table, up to TZ_LAST_YEAR. */
static int tz_extend(struct tz *tz, size_t *cap, const struct tz_posix *tp)
{
	struct civil c;
	int64_t a, b, from = tz->n ? tz->times[tz->n - 1] : INT64_MIN;
	int year, r;

	if (!tp->has_dst) {
		if (!tz->n || tz->offs[tz->n - 1] != tp->std_off)
			return tz->n ? tz_push(tz, cap, tz->times[tz->n - 1] + 1, tp->std_off) : 0;
		return 0;
	}
	civil_from_secs(tz->n ? from : 0, &c);
	for (year = c.year; year <= TZ_LAST_YEAR; year++) {
		a = rule_local(&tp->start, year) - tp->std_off;	/* into DST */
		b = rule_local(&tp->end, year) - tp->dst_off;	/* out of DST */
		if (a < b) {
			if ((a > from && (r = tz_push(tz, cap, a, tp->dst_off)) < 0) ||
			    (b > from && (r = tz_push(tz, cap, b, tp->std_off)) < 0))
				return r;
		} else {
			if ((b > from && (r = tz_push(tz, cap, b, tp->std_off)) < 0) ||
			    (a > from && (r = tz_push(tz, cap, a, tp->dst_off)) < 0))
				return r;
		}
	}
	return 0;
}

/* ---- TZif (RFC 8536) ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_hdr {
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int tzif_header(const unsigned char *p, size_t len, struct tzif_hdr *h, char *version)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -EINVAL;
	*version = (char)p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > TZ_TIMES_MAX ||
	    h->charcnt > 65536 || h->leapcnt > 65536 ||
	    (h->isutcnt && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt && h->isstdcnt != h->typecnt))
		return -EINVAL;
	return 0;
}

static size_t tzif_block_len(const struct tzif_hdr *h, size_t tsize)
{
	return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
	       h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int tzif_parse(struct tz *tz, const unsigned char *p, size_t len)
{
	struct tzif_hdr h;
	const unsigned char *times, *idx, *types, *end;
	struct tz_posix tp;
	size_t off, i, cap = 0, tsize = 4, flen;
	char version, footer[128];
	int32_t off_i;
	int r;

	if (tzif_header(p, len, &h, &version) < 0)
		return -EINVAL;
	off = 44 + tzif_block_len(&h, 4);
	if (off > len)
		return -EINVAL;
	if (version >= '2') {
		if (tzif_header(p + off, len - off, &h, &version) < 0)
			return -EINVAL;
		p += off;
		len -= off;
		tsize = 8;
	}
	off = 44 + tzif_block_len(&h, tsize);
	if (off > len)
		return -EINVAL;
	times = p + 44;
	idx = times + h.timecnt * tsize;
	types = idx + h.timecnt;
	for (i = 0; i < h.typecnt; i++) {
		off_i = (int32_t)be32(types + i * 6);
		if (off_i < -89999 || off_i > 93599)
			return -EINVAL;
	}
	tz->first_off = (int32_t)be32(types);
	for (i = 0; i < h.timecnt; i++) {
		if (idx[i] >= h.typecnt)
			return -EINVAL;
		r = tz_push(tz, &cap, tsize == 8 ? be64(times + i * 8) : (int32_t)be32(times + i * 4),
			    (int32_t)be32(types + idx[i] * 6));
		if (r < 0)
			return r;
	}
	if (tsize == 4)
		return 0;
	/* footer: "\nTZ\n" */
	p += off;
	len -= off;
	if (len < 2 || p[0] != '\n')
		return -EINVAL;
	end = memchr(p + 1, '\n', len - 1);
	if (!end)
		return -EINVAL;
	flen = end - (p + 1);
	if (flen == 0)
		return 0;
	if (flen >= sizeof(footer))
		return -EINVAL;
	memcpy(footer, p + 1, flen);
	footer[flen] = '\0';
	if (posix_parse(footer, &tp) < 0)
		return -EINVAL;
	if (!tz->n)
		tz->first_off = tp.std_off;
	return tz_extend(tz, &cap, &tp);
}

static bool tz_name_ok(const char *name)
{
	const char *p;

	if (!name[0] || name[0] == '/' || strlen(name) >= 64 || strstr(name, ".."))
		return false;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_-+.", *p))
			return false;
	return true;
}

static int tz_read(const char *path, struct tz *tz)
{
	unsigned char *buf;
	size_t len;
	FILE *f;
	int r;

	f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	buf = malloc(TZ_FILE_MAX);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, TZ_FILE_MAX, f);
	r = ferror(f) ? -EIO : len == TZ_FILE_MAX ? -EINVAL : tzif_parse(tz, buf, len);
	fclose(f);
	free(buf);
	return r;
}

int tz_load(const char *name, const struct tz **out)
{
	const char *iana = tz_windows_to_iana(name), *dir;
	char path[512];
	struct tz *tz;
	int r = 0;

	if (!iana)
		iana = name;
	if (!tz_name_ok(iana))
		return -ENOENT;
	pthread_mutex_lock(&tz_lock);
	for (tz = tz_cache; tz; tz = tz->next)
		if (strcmp(tz->name, iana) == 0)
			goto done;
	dir = tz_dir[0] ? tz_dir : getenv("TZDIR");
	if (!dir || !dir[0])
		dir = "/usr/share/zoneinfo";
	snprintf(path, sizeof(path), "%s/%s", dir, iana);
	tz = calloc(1, sizeof(*tz));
	if (!tz) {
		r = -ENOMEM;
		goto done;
	}
	snprintf(tz->name, sizeof(tz->name), "%s", iana);
	r = tz_read(path, tz);
	if (r < 0) {
		free(tz->times);
		free(tz->offs);
		free(tz);
		tz = NULL;
		goto done;
	}
	tz->next = tz_cache;
	tz_cache = tz;
done:
	pthread_mutex_unlock(&tz_lock);
	if (tz)
		*out = tz;
	return r;
}

void tz_cleanup(void)
{
	struct tz *tz, *next;

	pthread_mutex_lock(&tz_lock);
	for (tz = tz_cache; tz; tz = next) {
		next = tz->next;
		free(tz->times);
		free(tz->offs);
		free(tz);
	}
	tz_cache = NULL;
	pthread_mutex_unlock(&tz_lock);
}

int32_t tz_offset(const struct tz *tz, int64_t t)
{
	size_t lo = 0, hi, mid;

	if (!tz)
		return 0;
	if (!tz->n || t < tz->times[0])
		return tz->first_off;
	hi = tz->n;		/* the answer is the last index with times[i] <= t */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->offs[lo];
}

int64_t tz_from_local(const struct tz *tz, int64_t local)
{
	int32_t before = tz_offset(tz, local - 2 * 86400);
	int32_t after = tz_offset(tz, local + 2 * 86400);
	int32_t now = tz_offset(tz, local);
	int32_t cand[3] = { before, now, after };
	int64_t best = INT64_MAX, u;
	int i;

	for (i = 0; i < 3; i++) {
		u = local - cand[i];
		if (tz_offset(tz, u) == cand[i] && u < best)
			best = u;
	}
	if (best != INT64_MAX)
		return best;
	/* in a gap: read the wall time with the offset from before the change */
	return local - before;
}
