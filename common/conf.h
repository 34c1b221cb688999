/* conf: INI files through inih, with FILE:LINE errors and typed values */
#ifndef ASCALE_CONF_H
#define ASCALE_CONF_H

#include <stdbool.h>
#include <stdint.h>

struct conf_ctx {
	const char *path;
	unsigned line;		/* line of the key being handled */
	unsigned errors;	/* errors reported so far */
};

/*
 * Called once for every key; section is the raw section text.  Returns 0, or
 * the result of conf_error() to reject the key (parsing goes on so that every
 * error in the file is reported).
 */
typedef int (*conf_key_fn)(struct conf_ctx *c, const char *section,
			   const char *key, const char *value, void *user);

/* Parses path; returns 0, -EINVAL when any error was reported, or -errno. */
int conf_parse_file(const char *path, conf_key_fn fn, void *user);

/* Reports "FILE:LINE: message" and returns -EINVAL. */
int conf_error(struct conf_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Typed values; each reports what was expected on failure. */
int conf_bool(struct conf_ctx *c, const char *key, const char *value, bool *out);
int conf_uint(struct conf_ctx *c, const char *key, const char *value,
	      uint64_t min, uint64_t max, uint64_t *out);
int conf_duration(struct conf_ctx *c, const char *key, const char *value,
		  int64_t unit_ns, int64_t min_ns, int64_t max_ns, int64_t *out);
int conf_string(struct conf_ctx *c, const char *key, const char *value,
		char *out, size_t size);
int conf_choice(struct conf_ctx *c, const char *key, const char *value,
		const char *const *choices, int *out);

/* Splits a section "autoscale web" into up to max words; returns the count or -EINVAL. */
int conf_section_words(char *section, char **words, int max);

#endif
