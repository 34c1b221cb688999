/* test_setting_write: an engine_conf written as INI loads back to the same model */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "setting.h"
#include "setting_write.h"
#include "timeutil.h"

static int any_key(struct conf_ctx *c, const char *setting, const char *key,
		   const char *value, void *user)
{
	(void)c; (void)setting; (void)key; (void)value; (void)user;
	return 0;
}

/* Loads text through a temporary file. */
static struct engine_conf *load_text(const char *text)
{
	char path[] = "/tmp/test_setting_write-XXXXXX";
	struct engine_conf *conf = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(setting_conf_load(path, NULL, NULL, &conf), 0);
	unlink(path);
	return conf;
}

static void same_rule(const struct rule *a, const struct rule *b)
{
	unsigned i, j;

	assert_string_equal(a->name, b->name);
	assert_int_equal(a->has_cond, b->has_cond);
	assert_string_equal(a->cond.ns, b->cond.ns);
	assert_string_equal(a->cond.metric, b->cond.metric);
	assert_int_equal(a->cond.op, b->cond.op);
	assert_true(a->cond.threshold == b->cond.threshold);
	assert_int_equal(a->cond.agg, b->cond.agg);
	assert_int_equal(a->cond.period_ns, b->cond.period_ns);
	assert_int_equal(a->cond.nfilters, b->cond.nfilters);
	for (i = 0; i < a->cond.nfilters; i++) {
		assert_string_equal(a->cond.filters[i].dim, b->cond.filters[i].dim);
		assert_int_equal(a->cond.filters[i].negate, b->cond.filters[i].negate);
		assert_int_equal(a->cond.filters[i].nvalues, b->cond.filters[i].nvalues);
		for (j = 0; j < a->cond.filters[i].nvalues; j++)
			assert_string_equal(cond_filter_value(&a->cond.filters[i], j),
					    cond_filter_value(&b->cond.filters[i], j));
	}
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->percent, b->percent);
	assert_int_equal(a->amount, b->amount);
	assert_int_equal(a->cooldown_ns, b->cooldown_ns);
	assert_int_equal(a->grain_stat, b->grain_stat);
	assert_int_equal(a->grain_ns, b->grain_ns);
	assert_int_equal(a->resource, b->resource);
	assert_int_equal(a->divide_per_instance, b->divide_per_instance);
}

static void same_profile(const struct profile *a, const struct profile *b)
{
	unsigned i;

	assert_string_equal(a->name, b->name);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->min_count, b->min_count);
	assert_int_equal(a->max_count, b->max_count);
	assert_int_equal(a->count, b->count);
	assert_string_equal(a->tz_name, b->tz_name);
	assert_true(a->tz == b->tz);
	assert_int_equal(a->days, b->days);
	assert_int_equal(a->start_min, b->start_min);
	assert_int_equal(a->end_min, b->end_min);
	if (a->kind == PROFILE_FIXED) {
		assert_int_equal(a->fixed_start_local, b->fixed_start_local);
		assert_int_equal(a->fixed_end_local, b->fixed_end_local);
		assert_int_equal(a->fixed_start, b->fixed_start);
		assert_int_equal(a->fixed_end, b->fixed_end);
	}
	assert_int_equal(a->nrules, b->nrules);
	for (i = 0; i < a->nrules; i++)
		same_rule(&a->rules[i], &b->rules[i]);
}

/* Every field of the model but the loader's bookkeeping (lines, keys seen). */
static void conf_assert_same(const struct engine_conf *a, const struct engine_conf *b)
{
	size_t i;
	unsigned j;

	assert_int_equal(a->evaluate_every_ns, b->evaluate_every_ns);
	assert_int_equal(a->nsettings, b->nsettings);
	for (i = 0; i < a->nsettings; i++) {
		const struct setting *s = &a->settings[i], *t = &b->settings[i];

		assert_string_equal(s->name, t->name);
		assert_string_equal(s->deployment, t->deployment);
		assert_string_equal(s->endpoint, t->endpoint);
		assert_string_equal(s->backend, t->backend);
		assert_int_equal(s->enabled, t->enabled);
		assert_int_equal(s->evaluate_every_ns, t->evaluate_every_ns);
		assert_int_equal(s->nprofiles, t->nprofiles);
		for (j = 0; j < s->nprofiles; j++)
			same_profile(&s->profiles[j], &t->profiles[j]);
	}
}

static void round_trip(const char *path)
{
	struct engine_conf *a, *b;
	char err[256], *text, *again;

	assert_int_equal(setting_conf_load(path, any_key, NULL, &a), 0);
	assert_int_equal(setting_write_string(a, &text, err, sizeof(err)), 0);
	b = load_text(text);
	conf_assert_same(a, b);
	/* and the text is stable */
	assert_int_equal(setting_write_string(b, &again, err, sizeof(err)), 0);
	assert_string_equal(text, again);
	free(text);
	free(again);
	setting_conf_free(a);
	setting_conf_free(b);
}

static void test_full(void **state)
{
	(void)state;
	round_trip("tests/data/engine/full.conf");
	round_trip("tests/data/arm/multi.conf");
}

static void test_text(void **state)
{
	struct engine_conf *a;
	char err[256], *text;

	(void)state;
	assert_int_equal(setting_conf_load("tests/data/engine/full.conf", any_key, NULL, &a), 0);
	assert_int_equal(setting_write_string(a, &text, err, sizeof(err)), 0);
	assert_non_null(strstr(text, "[rule web default scale-in]\ncondition = Percentage CPU < 30 avg 10m where instance != canary\nscale = in 50%\ncooldown = 1m30s\ntimegrain = avg 1m\nresource = endpoint\n"));
	assert_non_null(strstr(text, "recurrence = week mon tue wed thu fri\nstart = 09:00\nend = 18:00\ntimezone = Pacific Standard Time\n"));
	assert_non_null(strstr(text, "start = 2026-12-24\nend = 2026-12-26 12:00\n"));
	assert_non_null(strstr(text, "[autoscale batch]\ndeployment = green\nenabled = false\nbackend = sim\nevaluate_every = 1s\n"));
	assert_non_null(strstr(text, "condition = \"ascale\" queue depth >= 100 last 30s\nscale = to 8\ncooldown = 5m\ntimegrain = max 10s\n"));
	free(text);
	setting_conf_free(a);
}

static void test_refused(void **state)
{
	struct engine_conf *a;
	struct rule *r;
	char err[256], *text;
	size_t i;

	(void)state;
	assert_int_equal(setting_conf_load("tests/data/engine/full.conf", any_key, NULL, &a), 0);
	r = &a->settings[0].profiles[0].rules[0];
	/* " ;" would start a comment */
	snprintf(r->cond.metric, sizeof(r->cond.metric), "CPU ;x");
	assert_int_equal(setting_write_string(a, &text, err, sizeof(err)), -EINVAL);
	assert_null(text);
	assert_non_null(strstr(err, "[rule web default scale-out] condition"));
	assert_non_null(strstr(err, "comment"));
	/* a line longer than the reader takes */
	for (i = 0; i < sizeof(r->cond.metric) - 1; i++)
		r->cond.metric[i] = 'm';
	r->cond.metric[i] = '\0';
	snprintf(r->cond.ns, sizeof(r->cond.ns), "%s", r->cond.metric);
	assert_int_equal(setting_write_string(a, &text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected at most 198"));
	/* a name the section syntax cannot hold */
	snprintf(r->cond.metric, sizeof(r->cond.metric), "CPU");
	r->cond.ns[0] = '\0';
	snprintf(r->name, sizeof(r->name), "scale out");
	assert_int_equal(setting_write_string(a, &text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rule name 'scale out'"));
	setting_conf_free(a);
}

static void test_period(void **state)
{
	char buf[32];

	(void)state;
	condition_period_format(60 * NSEC_PER_SEC, buf, sizeof(buf));
	assert_string_equal(buf, "1m");
	condition_period_format(90 * NSEC_PER_SEC, buf, sizeof(buf));
	assert_string_equal(buf, "1m30s");
	condition_period_format(5400 * NSEC_PER_SEC, buf, sizeof(buf));
	assert_string_equal(buf, "1h30m");
	condition_period_format(86400 * NSEC_PER_SEC, buf, sizeof(buf));
	assert_string_equal(buf, "24h");
	condition_period_format(1 * NSEC_PER_SEC, buf, sizeof(buf));
	assert_string_equal(buf, "1s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_period),
	};

	log_init("test_setting_write", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
