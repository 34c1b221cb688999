/* output: JSON and text output helpers shared by asctl's commands */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* 15 significant digits print any double made from a shorter decimal exactly */
#define OUTPUT_REAL_FLAGS	JSON_REAL_PRECISION(15)

int output_json(FILE *f, const json_t *j, int flags)
{
	size_t jf = OUTPUT_REAL_FLAGS;

	jf |= (flags & OUTPUT_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT;
	if (json_dumpf(j, f, jf) < 0 || fputc('\n', f) == EOF || fflush(f) == EOF)
		return -EIO;
	return 0;
}

json_t *output_number(double v)
{
	char buf[32];

	if (!isfinite(v))
		return json_null();
	snprintf(buf, sizeof(buf), "%.7g", v);
	return json_real(strtod(buf, NULL));
}

/*
 * The length of the valid UTF-8 sequence at s (1 to 4), or 0 when s does not
 * start one: overlong forms, surrogates and code points past U+10FFFF are
 * invalid.  *cp gets the code point.
 */
static size_t output_utf8(const unsigned char *s, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		/* a NUL here fails the test too, so we never read past the string */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static bool output_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

size_t output_sanitize(char *dst, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0, n;
	uint32_t cp;

	while (*s) {
		n = output_utf8(s, &cp);
		if (!n || output_control(cp)) {
			if (out + 1 < len)
				dst[out] = '?';
			out++;
			s += n ? n : 1;
			continue;
		}
		if (out + n < len)
			memcpy(dst + out, s, n);
		else if (out < len)
			len = out + 1;	/* no half characters: stop writing here */
		out += n;
		s += n;
	}
	if (len)
		dst[out < len ? out : len - 1] = '\0';
	return out;
}

size_t output_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* A sanitized copy of s in buf when it fits, else in a new allocation the caller frees. */
static char *output_clean(const char *s, char *buf, size_t len, char **owned)
{
	size_t n = output_sanitize(buf, len, s);

	*owned = NULL;
	if (n < len)
		return buf;
	*owned = malloc(n + 1);
	if (!*owned)
		return NULL;
	output_sanitize(*owned, n + 1, s);
	return *owned;
}

json_t *output_string(const char *s)
{
	char buf[256], *owned, *clean;
	json_t *j;

	clean = output_clean(s ? s : "", buf, sizeof(buf), &owned);
	if (!clean)
		return NULL;
	j = json_string(clean);
	free(owned);
	return j;
}

int output_set(json_t *obj, const char *key, json_t *v)
{
	char buf[256], *owned, *clean;
	int r = 0;

	if (!v)
		return -ENOMEM;
	clean = output_clean(key, buf, sizeof(buf), &owned);
	if (!clean || json_object_set_new(obj, clean, v) < 0)
		r = -ENOMEM;
	if (!clean)
		json_decref(v);
	free(owned);
	return r;
}

int output_append(json_t *arr, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_array_append_new(arr, v) < 0 ? -ENOMEM : 0;
}
