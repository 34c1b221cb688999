/* log: messages to stderr, with <N> priority prefixes under the journal */
#ifndef ASCALE_LOG_H
#define ASCALE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

void log_init(const char *ident, int verbose);
/* After detaching from the terminal: send messages to syslog instead. */
void log_to_syslog(void);
/* Hands every message to fn instead (tests, and commands that report errors as JSON); NULL restores. */
typedef void (*log_sink_fn)(int prio, const char *msg, void *user);
void log_set_sink(log_sink_fn fn, void *user);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Formats a message into buf (when given) for the caller to report; returns rc. */
int log_fill(char *buf, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
