/* event_loop: a unit test's own sd-event loop, run until something happened or for a while */
#ifndef ASCALE_TEST_EVENT_LOOP_H
#define ASCALE_TEST_EVENT_LOOP_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "timeutil.h"

/* The loop; the test's group setup makes it (sd_event_new) and its teardown drops it. */
static sd_event *event;

/*
 * As daemon_event_new() does: sd_event_add_child needs SIGCHLD blocked; and
 * a child's closed pipe is an error to see, not a signal that ends the test.
 */
static inline void loop_block_sigchld(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Runs the loop until *done (set by a callback), for limit_ns at the most; *done must then be true. */
static inline void run_until(const bool *done, int64_t limit_ns)
{
	int64_t end = time_mono_ns() + limit_ns;

	while (!*done && time_mono_ns() < end)
		assert_true(sd_event_run(event, 100000) >= 0);
	assert_true(*done);
}

/* Runs the loop for ns, whatever comes. */
static inline void run_for(int64_t ns)
{
	int64_t end = time_mono_ns() + ns;

	while (time_mono_ns() < end)
		assert_true(sd_event_run(event, 20000) >= 0);
}

#endif
