/* test_tz: TZif zones, Windows names, DST in both directions */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tz.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct civil c = { .year = y, .month = mo, .day = d, .hour = h, .min = mi };

	return civil_to_secs(&c);
}

static const struct tz *load(const char *name)
{
	const struct tz *tz = NULL;
	int r = tz_load(name, &tz);

	if (r < 0)
		fail_msg("tz_load(%s): %d", name, r);
	return tz;
}

static void test_civil(void **state)
{
	struct civil c;

	(void)state;
	assert_int_equal(civil_to_days(1970, 1, 1), 0);
	assert_int_equal(civil_to_days(2000, 3, 1), 11017);
	civil_from_secs(0, &c);
	assert_int_equal(c.year, 1970);
	assert_int_equal(c.wday, 4);
	civil_from_secs(utc(2026, 3, 8, 10, 30) + 15, &c);
	assert_int_equal(c.year, 2026);
	assert_int_equal(c.month, 3);
	assert_int_equal(c.day, 8);
	assert_int_equal(c.hour, 10);
	assert_int_equal(c.min, 30);
	assert_int_equal(c.sec, 15);
	assert_int_equal(c.wday, 0);	/* a Sunday */
	civil_from_secs(-1, &c);
	assert_int_equal(c.year, 1969);
	assert_int_equal(c.month, 12);
	assert_int_equal(c.day, 31);
	assert_int_equal(c.hour, 23);
	assert_int_equal(c.wday, 3);
	civil_from_secs(utc(2024, 2, 29, 0, 0), &c);
	assert_int_equal(c.month, 2);
	assert_int_equal(c.day, 29);
}

static void test_los_angeles(void **state)
{
	const struct tz *la = load("America/Los_Angeles");

	(void)state;
	/* 2026-03-08 02:00 PST → 03:00 PDT, at 10:00 UTC */
	assert_int_equal(tz_offset(la, utc(2026, 3, 8, 9, 59) + 59), -8 * 3600);
	assert_int_equal(tz_offset(la, utc(2026, 3, 8, 10, 0)), -7 * 3600);
	/* 2026-11-01 02:00 PDT → 01:00 PST, at 09:00 UTC */
	assert_int_equal(tz_offset(la, utc(2026, 11, 1, 8, 59) + 59), -7 * 3600);
	assert_int_equal(tz_offset(la, utc(2026, 11, 1, 9, 0)), -8 * 3600);
	/* local → UTC: ordinary, gap (forward), ambiguous (first) */
	assert_int_equal(tz_from_local(la, utc(2026, 3, 8, 9, 0)), utc(2026, 3, 8, 16, 0));
	assert_int_equal(tz_from_local(la, utc(2026, 3, 8, 1, 59)), utc(2026, 3, 8, 9, 59));
	assert_int_equal(tz_from_local(la, utc(2026, 3, 8, 2, 30)), utc(2026, 3, 8, 10, 30));
	assert_int_equal(tz_from_local(la, utc(2026, 3, 8, 3, 0)), utc(2026, 3, 8, 10, 0));
	assert_int_equal(tz_from_local(la, utc(2026, 11, 1, 1, 30)), utc(2026, 11, 1, 8, 30));
	assert_int_equal(tz_from_local(la, utc(2026, 11, 1, 2, 0)), utc(2026, 11, 1, 10, 0));
	/* Windows name */
	assert_ptr_equal(load("Pacific Standard Time"), la);
	assert_ptr_equal(load("pacific standard time"), la);
	assert_string_equal(tz_name(la), "America/Los_Angeles");
}

static void test_berlin(void **state)
{
	const struct tz *be = load("W. Europe Standard Time");

	(void)state;
	assert_string_equal(tz_name(be), "Europe/Berlin");
	/* 2026-03-29 02:00 CET → 03:00 CEST at 01:00 UTC */
	assert_int_equal(tz_offset(be, utc(2026, 3, 29, 0, 59)), 3600);
	assert_int_equal(tz_offset(be, utc(2026, 3, 29, 1, 0)), 7200);
	/* 2026-10-25 03:00 CEST → 02:00 CET at 01:00 UTC */
	assert_int_equal(tz_offset(be, utc(2026, 10, 25, 0, 59)), 7200);
	assert_int_equal(tz_offset(be, utc(2026, 10, 25, 1, 0)), 3600);
	assert_int_equal(tz_from_local(be, utc(2026, 3, 29, 2, 30)), utc(2026, 3, 29, 1, 30));
	assert_int_equal(tz_from_local(be, utc(2026, 10, 25, 2, 30)), utc(2026, 10, 25, 0, 30));
	/* far future, from the footer rule */
	assert_int_equal(tz_offset(be, utc(2150, 7, 1, 0, 0)), 7200);
	assert_int_equal(tz_offset(be, utc(2150, 1, 1, 0, 0)), 3600);
}

static void test_southern_and_odd(void **state)
{
	const struct tz *syd = load("AUS Eastern Standard Time");
	const struct tz *ind = load("India Standard Time");
	const struct tz *u = load("UTC");

	(void)state;
	/* Sydney: DST ends first Sunday of April, starts first Sunday of October */
	assert_int_equal(tz_offset(syd, utc(2026, 1, 15, 0, 0)), 11 * 3600);
	assert_int_equal(tz_offset(syd, utc(2026, 7, 15, 0, 0)), 10 * 3600);
	assert_int_equal(tz_offset(syd, utc(2180, 1, 15, 0, 0)), 11 * 3600);
	assert_int_equal(tz_offset(ind, utc(2026, 6, 1, 0, 0)), 5 * 3600 + 1800);
	assert_int_equal(tz_offset(u, utc(2026, 6, 1, 0, 0)), 0);
	assert_int_equal(tz_offset(NULL, 12345), 0);
	assert_int_equal(tz_from_local(NULL, 12345), 12345);
}

static void test_unknown(void **state)
{
	const struct tz *tz = NULL;

	(void)state;
	assert_int_equal(tz_load("Mars/Olympus_Mons", &tz), -ENOENT);
	assert_int_equal(tz_load("../../etc/passwd", &tz), -ENOENT);
	assert_int_equal(tz_load("/etc/passwd", &tz), -ENOENT);
	assert_int_equal(tz_load("", &tz), -ENOENT);
	assert_int_equal(tz_load("Pacific Standard Time Zone", &tz), -ENOENT);
	assert_null(tz);
	assert_null(tz_windows_to_iana("Nowhere Standard Time"));
	assert_string_equal(tz_windows_to_iana("Tokyo Standard Time"), "Asia/Tokyo");
}

static void test_bad_files(void **state)
{
	static const char *const contents[] = {
		"", "TZif", "not a tzif file at all, but long enough to have a header..........",
	};
	char dir[] = "/tmp/tztestXXXXXX", path[64];
	const struct tz *tz = NULL;
	unsigned char hdr[44] = "TZif2";
	FILE *f;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	tz_set_dir(dir);
	for (i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
		snprintf(path, sizeof(path), "%s/Bad", dir);
		f = fopen(path, "w");
		fputs(contents[i], f);
		fclose(f);
		assert_int_equal(tz_load("Bad", &tz), -EINVAL);
	}
	/* a header announcing more than the file holds */
	hdr[35] = 200;	/* timecnt */
	hdr[39] = 1;	/* typecnt */
	f = fopen(path, "w");
	fwrite(hdr, 1, sizeof(hdr), f);
	fclose(f);
	assert_int_equal(tz_load("Bad", &tz), -EINVAL);
	unlink(path);
	rmdir(dir);
	tz_set_dir(NULL);
}

/* Every Windows name Azure accepts resolves, and agrees with glibc's reading. */
/*
 * Compares tz with libc's zone (TZ=zone, set) every step seconds over
 * [from, to): *bad counts the other offsets, the first five are printed.
 */
static void against_libc(const char *zone, const struct tz *tz, int64_t from, int64_t to, int64_t step,
			 int *bad)
{
	struct tm tm;
	time_t t;
	int64_t s;

	for (s = from; s < to; s += step) {
		t = (time_t)s;
		localtime_r(&t, &tm);
		if (tm.tm_gmtoff != tz_offset(tz, s) && (*bad)++ < 5)
			print_error("%s at %lld: libc %ld, ours %d\n", zone, (long long)s,
				    tm.tm_gmtoff, tz_offset(tz, s));
	}
}

static void test_against_libc(void **state)
{
	static const char *const zones[] = {
		"America/Los_Angeles", "Europe/Berlin", "Europe/London", "Australia/Sydney",
		"America/Sao_Paulo", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham",
		"America/Nuuk", "Africa/Casablanca", "Asia/Tehran", "America/Santiago",
		"Europe/Dublin", "Pacific/Auckland", "America/St_Johns",
	};
	const char *name;
	const struct tz *tz;
	size_t i;
	int k, bad = 0;

	(void)state;
	for (k = 0; (name = (const char *[]){
			"UTC", "Pacific Standard Time", "Mountain Standard Time", "Central Standard Time",
			"Eastern Standard Time", "GMT Standard Time", "W. Europe Standard Time",
			"Central Europe Standard Time", "E. Europe Standard Time", "Romance Standard Time",
			"India Standard Time", "China Standard Time", "Tokyo Standard Time",
			"Korea Standard Time", "AUS Eastern Standard Time", "Singapore Standard Time",
			"Alaskan Standard Time", "Hawaiian Standard Time", "US Mountain Standard Time",
			"Atlantic Standard Time", "Greenwich Standard Time", "Russian Standard Time",
			"Arabian Standard Time", "Israel Standard Time", "South Africa Standard Time",
			"Turkey Standard Time", "FLE Standard Time", "GTB Standard Time",
			"New Zealand Standard Time", "E. South America Standard Time",
			"Central European Standard Time", "SE Asia Standard Time", "Taipei Standard Time",
			"W. Australia Standard Time", "Cen. Australia Standard Time",
			"E. Australia Standard Time", "Pakistan Standard Time", "Egypt Standard Time",
			"Argentina Standard Time", "Canada Central Standard Time", NULL }[k]); k++) {
		tz = NULL;
		if (tz_load(name, &tz) < 0)
			fail_msg("'%s' does not load", name);
	}
	setenv("TZ", "UTC", 1);
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		tz = load(zones[i]);
		setenv("TZ", zones[i], 1);
		tzset();
		/* every ~3.7 days from 1980 to 2100, and every half hour of 2026 */
		against_libc(zones[i], tz, utc(1980, 1, 1, 0, 0), utc(2100, 1, 1, 0, 0), 320000, &bad);
		against_libc(zones[i], tz, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0), 1800, &bad);
	}
	unsetenv("TZ");
	assert_int_equal(bad, 0);
}

static void test_all_windows_names(void **state)
{
	FILE *f = fopen("coordinator/tz_windows.c", "r");
	char line[256], name[128];
	const struct tz *tz;
	int n = 0;

	(void)state;
	if (!f)
		skip();
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "\t{ \"%127[^\"]\", \"", name) != 1)
			continue;
		tz = NULL;
		if (tz_load(name, &tz) < 0)
			fail_msg("Windows zone '%s' (%s) does not load", name, tz_windows_to_iana(name));
		n++;
	}
	fclose(f);
	assert_true(n > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil),
		cmocka_unit_test(test_los_angeles),
		cmocka_unit_test(test_berlin),
		cmocka_unit_test(test_southern_and_odd),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_against_libc),
		cmocka_unit_test(test_all_windows_names),
	};

	return testutil_run_then(tests, tz_cleanup);
}
