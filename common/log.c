/* log: messages to stderr, with <N> priority prefixes under the journal */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "ascale";
static int log_level = LOG_INFO;
static int log_journal;
static int log_syslog;
static log_sink_fn log_sink;
static void *log_sink_user;

void log_init(const char *ident, int verbose)
{
	log_ident = ident;
	log_level = verbose ? LOG_DEBUG : LOG_INFO;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal */
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_to_syslog(void)
{
	openlog(log_ident, LOG_PID, LOG_DAEMON);
	log_syslog = 1;
}

void log_set_sink(log_sink_fn fn, void *user)
{
	log_sink = fn;
	log_sink_user = user;
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	char buf[1024];

	if (prio > log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_sink)
		log_sink(prio, buf, log_sink_user);
	else if (log_syslog)
		syslog(prio, "%s", buf);
	else if (log_journal)
		fprintf(stderr, "<%d>%s\n", prio, buf);
	else
		fprintf(stderr, "%s: %s\n", log_ident, buf);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

int log_fill(char *buf, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
