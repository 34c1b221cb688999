/* testutil: what several cmocka tests share: log messages caught into a buffer */
#ifndef ASCALE_TESTUTIL_H
#define ASCALE_TESTUTIL_H

#include <string.h>

#include "log.h"

/* Every message logged since testutil_log_catch(), one a line. */
static char logbuf[16384];

static void testutil_log_sink(int prio, const char *msg, void *user)
{
	size_t n = strlen(logbuf);

	(void)prio;
	(void)user;
	if (n + 2 < sizeof(logbuf)) {
		strncat(logbuf, msg, sizeof(logbuf) - n - 2);
		strcat(logbuf, "\n");
	}
}

/* Empties logbuf and sends every later message there. */
static inline void testutil_log_catch(void)
{
	logbuf[0] = '\0';
	log_set_sink(testutil_log_sink, NULL);
}

#endif
