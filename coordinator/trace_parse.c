/* trace_parse: numbers and times as traces write them (decimal numbers; RFC 3339 times or Unix seconds) */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "trace.h"
#include "tz.h"

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int trace_parse_number(const char *s, size_t n, double *out)
{
	uint64_t mant = 0;
	size_t i = 0;
	int nd = 0, exp10 = 0, e = 0, esign = 1;
	bool neg = false, any = false, inexact = false;
	char copy[128];
	char *end;
	double v;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (; i < n && is_digit(s[i]); i++) {
		any = true;
		if (nd < 19) {
			mant = mant * 10 + (unsigned)(s[i] - '0');
			nd += mant != 0;
		} else {
			exp10++;
			inexact |= s[i] != '0';
		}
	}
	if (i < n && s[i] == '.') {
		for (i++; i < n && is_digit(s[i]); i++) {
			any = true;
			if (nd < 19) {
				mant = mant * 10 + (unsigned)(s[i] - '0');
				nd += mant != 0;
				exp10--;
			} else {
				inexact |= s[i] != '0';
			}
		}
	}
	if (!any)
		return -EINVAL;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			esign = s[i++] == '-' ? -1 : 1;
		if (i == n || !is_digit(s[i]))
			return -EINVAL;
		for (; i < n && is_digit(s[i]); i++)
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
	}
	if (i != n)
		return -EINVAL;
	exp10 += esign * e;
	if (mant == 0) {
		*out = neg ? -0.0 : 0.0;
		return 0;
	}
	if (!inexact && mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
		/* both exact as doubles: one correctly rounded operation */
		v = exp10 < 0 ? (double)mant / pow10_exact[-exp10] : (double)mant * pow10_exact[exp10];
		*out = neg ? -v : v;
		return 0;
	}
	if (n >= sizeof(copy))
		return -EINVAL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	v = strtod(copy, &end);
	if (*end || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Exactly n digits at s. */
static int fixed_digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Digits from s[*i]; returns the nanoseconds of a fraction (after its '.'). */
static int fraction_ns(const char *s, size_t n, size_t *i, int64_t *ns)
{
	int64_t scale = NSEC_PER_SEC / 10;
	size_t from = *i;

	*ns = 0;
	for (; *i < n && is_digit(s[*i]); (*i)++, scale /= 10)
		*ns += (s[*i] - '0') * scale;
	return *i > from ? 0 : -EINVAL;
}

static int rfc3339(const char *s, size_t n, int64_t *t_ns)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, se, oh, om, dim;
	int64_t frac = 0, secs, off = 0;
	size_t i = 19;

	if (n < 19 || fixed_digits(s, 4, &y) || s[4] != '-' || fixed_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || fixed_digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || fixed_digits(s + 11, 2, &h) ||
	    s[13] != ':' || fixed_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    fixed_digits(s + 17, 2, &se))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	dim = mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d > dim)
		return -EINVAL;
	if (i < n && s[i] == '.') {
		i++;
		if (fraction_ns(s, n, &i, &frac) < 0)
			return -EINVAL;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (n - i != 6 || fixed_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    fixed_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	}
	if (i != n)
		return -EINVAL;
	secs = civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	if (secs < 0 || secs >= TRACE_TIME_MAX)
		return -EINVAL;
	*t_ns = secs * NSEC_PER_SEC + frac;
	return 0;
}

int trace_parse_time(const char *s, size_t n, int64_t *t_ns)
{
	int64_t secs = 0, frac = 0;
	size_t i = 0;

	if (n >= 10 && s[4] == '-')
		return rfc3339(s, n, t_ns);
	for (; i < n && is_digit(s[i]); i++) {
		secs = secs * 10 + (s[i] - '0');
		if (secs >= TRACE_TIME_MAX)
			return -EINVAL;
	}
	if (i == 0)
		return -EINVAL;
	if (i < n && s[i] == '.') {
		i++;
		if (fraction_ns(s, n, &i, &frac) < 0)
			return -EINVAL;
	}
	if (i != n)
		return -EINVAL;
	*t_ns = secs * NSEC_PER_SEC + frac;
	return 0;
}
