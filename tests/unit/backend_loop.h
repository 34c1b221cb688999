/* backend_loop: one backend driven from the test's sd-event loop: its keys, a set or a get, the result */
#ifndef ASCALE_TEST_BACKEND_LOOP_H
#define ASCALE_TEST_BACKEND_LOOP_H

#include "backend.h"
#include "event_loop.h"

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

#endif
