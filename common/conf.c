/* conf: INI files through inih, with FILE:LINE errors and typed values */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "log.h"
#include "timeutil.h"

struct conf_stream {
	FILE *f;
	struct conf_ctx *ctx;
	conf_key_fn fn;
	void *user;
	unsigned next_line;	/* number of the line the reader hands out next */
};

int conf_error(struct conf_ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%u: %s", c->path, c->line, msg);
	c->errors++;
	return -EINVAL;
}

/*
 * inih hands us no line numbers (Debian builds it without INI_HANDLER_LINENO),
 * so the reader counts the lines it gives out: when the handler runs, the last
 * line read is the key's.  The reader also refuses what inih would silently
 * split or misread: lines longer than its buffer, NUL bytes, and lines that are
 * neither a section, a key, a comment nor a continuation.
 */
static char *conf_read_line(char *str, int num, void *stream)
{
	struct conf_stream *s = stream;
	bool nul = false, overflow = false;
	const char *p;
	int ch, n = 0;

	ch = fgetc(s->f);
	if (ch == EOF)
		return NULL;
	s->ctx->line = ++s->next_line;
	for (; ch != EOF && ch != '\n'; ch = fgetc(s->f)) {
		if (ch == '\0')
			nul = true;
		else if (n < num - 2)
			str[n++] = (char)ch;
		else
			overflow = true;
	}
	str[n] = '\0';
	for (p = str; *p == ' ' || *p == '\t' || *p == '\r'; p++)
		;
	if (overflow)
		conf_error(s->ctx, "line longer than %d characters", num - 2);
	else if (nul)
		conf_error(s->ctx, "NUL byte in line");
	else if (*p == '[' && !strchr(p, ']'))
		conf_error(s->ctx, "expected ']' to close the section name");
	else if (p == str && *p && *p != '[' && *p != ';' && *p != '#' &&
		 !strpbrk(p, "=:"))
		conf_error(s->ctx, "expected 'key = value'");
	else
		return str;
	str[0] = '\0';
	return str;
}

static int conf_handler(void *user, const char *section, const char *key,
			const char *value)
{
	struct conf_stream *s = user;

	s->fn(s->ctx, section, key, value, s->user);
	return 1;	/* keep going: every error is reported */
}

int conf_parse_file(const char *path, conf_key_fn fn, void *user)
{
	struct conf_ctx ctx = { .path = path };
	struct conf_stream s = { .ctx = &ctx, .fn = fn, .user = user };
	int r;

	s.f = fopen(path, "r");
	if (!s.f) {
		r = -errno;
		log_err("%s: %s", path, strerror(errno));
		return r;
	}
	r = ini_parse_stream(conf_read_line, &s, conf_handler, &s);
	fclose(s.f);
	if (r > 0) {
		ctx.line = r;
		conf_error(&ctx, "expected '[section]' or 'key = value'");
	} else if (r < 0) {
		log_err("%s: out of memory", path);
		return -ENOMEM;
	}
	return ctx.errors ? -EINVAL : 0;
}

int conf_bool(struct conf_ctx *c, const char *key, const char *value, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return conf_error(c, "%s: expected true or false, not '%s'", key, value);
}

int conf_uint(struct conf_ctx *c, const char *key, const char *value,
	      uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (end == value || *end || errno || value[0] == '-' || v < min || v > max)
		return conf_error(c, "%s: expected a whole number from %llu to %llu, not '%s'",
				  key, (unsigned long long)min, (unsigned long long)max, value);
	*out = v;
	return 0;
}

int conf_duration(struct conf_ctx *c, const char *key, const char *value,
		  int64_t unit_ns, int64_t min_ns, int64_t max_ns, int64_t *out)
{
	char lo[32], hi[32];
	int64_t ns;

	if (duration_parse(value, unit_ns, &ns) < 0 || ns < min_ns || ns > max_ns)
		return conf_error(c, "%s: expected a duration from %s to %s (such as 100ms, 10s, 5m), not '%s'",
				  key, duration_format(min_ns, lo, sizeof(lo)),
				  duration_format(max_ns, hi, sizeof(hi)), value);
	*out = ns;
	return 0;
}

int conf_string(struct conf_ctx *c, const char *key, const char *value,
		char *out, size_t size)
{
	size_t n = strlen(value);

	if (n >= size)
		return conf_error(c, "%s: expected at most %zu characters, got %zu", key, size - 1, n);
	memcpy(out, value, n + 1);
	return 0;
}

int conf_choice(struct conf_ctx *c, const char *key, const char *value,
		const char *const *choices, int *out)
{
	char list[256];
	size_t off = 0;
	int i;

	for (i = 0; choices[i]; i++) {
		if (strcasecmp(value, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; choices[i] && off < sizeof(list); i++)
		off += snprintf(list + off, sizeof(list) - off, "%s%s",
				i ? (choices[i + 1] ? ", " : " or ") : "", choices[i]);
	return conf_error(c, "%s: expected %s, not '%s'", key, list, value);
}

int conf_section_words(char *section, char **words, int max)
{
	char *save = NULL, *w;
	int n = 0;

	for (w = strtok_r(section, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return -EINVAL;
		words[n++] = w;
	}
	return n;
}
