/* backend_loop: one backend driven from the test's sd-event loop: the group fixture, its keys, a set or a get, the result */
#ifndef ASCALE_TEST_BACKEND_LOOP_H
#define ASCALE_TEST_BACKEND_LOOP_H

#include "backend.h"
#include "event_loop.h"
#include "test_server.h"
#include "testutil.h"

/* How long do_set() and do_get() wait for the result; a test may define its own first. */
#ifndef BACKEND_WAIT_NS
#define BACKEND_WAIT_NS (10 * NSEC_PER_SEC)
#endif

/* The line of "test.conf" that the last key() was on; a test may reset it. */
static unsigned conf_line;

/* When set, also sees every result, in the callback (to check what it must never hold). */
static void (*got_check)(const struct backend_result *r);

/* What a backend_set() or backend_get() called back with. */
struct got {
	bool done;
	struct backend_result r;
};

static inline void on_done(struct backend *b, const struct backend_result *r, void *user)
{
	struct got *g = user;

	(void)b;
	g->done = true;
	g->r = *r;
	if (got_check)
		got_check(r);
}

/* A key on the next line of "test.conf": backend_conf_key's result. */
static inline int key_r(struct backend *b, const char *k, const char *v)
{
	struct conf_ctx c = { .path = "test.conf", .line = ++conf_line };

	return backend_conf_key(b, &c, k, v);
}

/* A key that must be taken. */
static inline void key(struct backend *b, const char *k, const char *v)
{
	assert_int_equal(key_r(b, k, v), 0);
}

/* Sets n and runs the loop to the result, which never comes from inside backend_set(). */
static inline struct got do_set(struct backend *b, unsigned n)
{
	struct got g = { 0 };

	assert_int_equal(backend_set(b, n, on_done, &g), 0);
	assert_false(g.done);
	run_until(&g.done, BACKEND_WAIT_NS);
	return g;
}

/* Gets the count and runs the loop to the result, which never comes from inside backend_get(). */
static inline struct got do_get(struct backend *b)
{
	struct got g = { 0 };

	assert_int_equal(backend_get(b, on_done, &g), 0);
	assert_false(g.done);
	run_until(&g.done, BACKEND_WAIT_NS);
	return g;
}

/* do_set(), which must end in BACKEND_OK. */
static inline struct got set_ok(struct backend *b, unsigned n)
{
	struct got g = do_set(b, n);

	assert_int_equal(g.r.status, BACKEND_OK);
	return g;
}

/* do_get(), which must end in BACKEND_OK. */
static inline struct got get_ok(struct backend *b)
{
	struct got g = do_get(b);

	assert_int_equal(g.r.status, BACKEND_OK);
	return g;
}

/*
 * A get from b, a started backend on a fake from tests/servers/, with
 * max_attempts = 2 and three 503s queued: it gives up, to be tried again.
 */
static inline void get_gives_up(struct backend *b)
{
	struct got g;

	key(b, "max_attempts", "2");
	server_post("/_fake/faults", "{\"next\": [503, 503, 503]}");
	g = do_get(b);
	assert_int_equal(g.r.status, BACKEND_RETRYING);
	assert_int_equal(g.r.attempts, 2);
	assert_int_equal(g.r.http_status, 503);
	assert_non_null(strstr(g.r.message, "fake fault 503"));
}

/* backend_start() refuses b, which is then freed, and logs message: backend_start()'s result. */
static inline int start_refused(struct backend *b, const char *message)
{
	int r;

	logbuf[0] = '\0';
	r = backend_start(b, event);
	assert_true(r < 0);
	expect_log(message);
	backend_free(b);
	return r;
}

/*
 * For a group setup, first: makes the directory from the mkdtemp() template
 * dir, which becomes the group's state, and the loop, and catches the log;
 * 0, or -1.
 */
static inline int backend_group_setup(void **state, char *dir)
{
	if (!mkdtemp(dir) || sd_event_new(&event) < 0)
		return -1;
	*state = dir;
	testutil_log_catch();
	return 0;
}

/*
 * The group teardown after backend_group_setup(): the test server stopped if
 * one was started, the log back to stderr, the loop dropped, the directory
 * removed with all in it.
 */
static inline int backend_group_teardown(void **state)
{
	server_stop();
	log_set_sink(NULL, NULL);
	sd_event_unref(event);
	return *state ? testutil_rm_rf(*state) : 0;
}

/* Fails the test if what was logged since the log was last emptied holds secret or a bearer token. */
static inline void expect_no_secret(const char *secret)
{
	assert_null(strstr(logbuf, secret));
	assert_null(strstr(logbuf, "Bearer"));
}

/* Last in a group, as cmocka_unit_test_prestate(test_no_secret_logged, SECRET): expect_no_secret(SECRET). */
static inline void test_no_secret_logged(void **state)
{
	expect_no_secret(*state);
}

#endif
