/* timeutil: clocks, durations and timestamps */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "timeutil.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t time_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static const struct {
	const char *name;
	int64_t ns;
} duration_units[] = {
	{ "ns", 1 },
	{ "us", NSEC_PER_USEC },
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC },
	{ "h", 3600 * NSEC_PER_SEC },
	{ "d", 86400 * NSEC_PER_SEC },
};

#define DURATION_MAX_NS (366.0 * 86400 * NSEC_PER_SEC)

static int64_t duration_unit(const char **p)
{
	size_t i, n, best = 0;
	int64_t ns = 0;

	/* longest match, so "ms" is not read as "m" followed by junk */
	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		n = strlen(duration_units[i].name);
		if (n > best && strncasecmp(*p, duration_units[i].name, n) == 0) {
			best = n;
			ns = duration_units[i].ns;
		}
	}
	*p += best;
	return ns;
}

/* A plain decimal number: digits with at most one point, no sign, exponent or hex. */
static int duration_number(const char **p, double *v)
{
	size_t n = strspn(*p, "0123456789."), dots = 0, i;
	char num[32];

	for (i = 0; i < n; i++)
		dots += (*p)[i] == '.';
	if (!n || n >= sizeof(num) || dots > 1 || n == dots)
		return -EINVAL;
	memcpy(num, *p, n);
	num[n] = '\0';
	*v = strtod(num, NULL);
	*p += n;
	return 0;
}

int duration_parse(const char *s, int64_t unit_ns, int64_t *ns)
{
	const char *p = s;
	double total = 0, v;
	int64_t unit;
	int parts = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != ' ' && *p != '\t') {
		if (duration_number(&p, &v) < 0)
			return -EINVAL;
		unit = duration_unit(&p);
		if (!unit) {
			if (parts || !unit_ns || (*p && *p != ' ' && *p != '\t'))
				return -EINVAL;
			unit = unit_ns;
		}
		total += v * unit;
		if (total > DURATION_MAX_NS)
			return -ERANGE;
		parts++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (!parts || *p)
		return -EINVAL;
	*ns = llround(total);
	return 0;
}

const char *duration_format(int64_t ns, char *buf, size_t len)
{
	static const struct {
		const char *name;
		int64_t ns;
	} big[] = {
		{ "h", 3600 * NSEC_PER_SEC },
		{ "m", 60 * NSEC_PER_SEC },
		{ "s", NSEC_PER_SEC },
	};
	size_t i, off = 0;

	if (ns == 0 || ns % NSEC_PER_SEC) {
		if (ns % NSEC_PER_MSEC == 0)
			snprintf(buf, len, "%lldms", (long long)(ns / NSEC_PER_MSEC));
		else if (ns % NSEC_PER_USEC == 0)
			snprintf(buf, len, "%lldus", (long long)(ns / NSEC_PER_USEC));
		else
			snprintf(buf, len, "%lldns", (long long)ns);
		return buf;
	}
	buf[0] = '\0';
	for (i = 0; i < sizeof(big) / sizeof(big[0]) && off < len; i++) {
		if (ns >= big[i].ns) {
			off += snprintf(buf + off, len - off, "%lld%s",
					(long long)(ns / big[i].ns), big[i].name);
			ns %= big[i].ns;
		}
	}
	return buf;
}

const char *time_format_rfc3339(int64_t real_ns, char *buf, size_t len)
{
	time_t secs = real_ns / NSEC_PER_SEC;
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(real_ns % NSEC_PER_SEC / NSEC_PER_MSEC));
	return buf;
}

int64_t backoff_delay(int64_t first_ns, int64_t max_ns, unsigned n)
{
	unsigned shift = n > 1 ? (n - 1 < 30 ? n - 1 : 30) : 0;
	int64_t d = first_ns << shift;
	uint32_t rnd;

	if (d > max_ns || d <= 0 || (first_ns << shift) >> shift != first_ns)
		d = max_ns;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)time_mono_ns();
	return d / 2 + (int64_t)((double)rnd / UINT32_MAX * (double)(d / 2));
}
