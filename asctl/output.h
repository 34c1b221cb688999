/* output: JSON and text output helpers shared by asctl's commands */
#ifndef ASCTL_OUTPUT_H
#define ASCTL_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define OUTPUT_PRETTY	0x1	/* indented over several lines, instead of one line */

/*
 * Writes j followed by a newline and flushes f: compact output is one object
 * a line, so a stream of them can be read line by line.  Returns 0 or -EIO.
 */
int output_json(FILE *f, const json_t *j, int flags);

/* A JSON number rounded to 7 significant digits (a float's), or null for NaN and infinities. */
json_t *output_number(double v);

/* A JSON string of s made valid (see output_sanitize); NULL only when out of memory. */
json_t *output_string(const char *s);

/*
 * Sets obj[key] = v, taking v's reference even on failure; the key is
 * sanitized first.  Returns 0, or -ENOMEM when v is NULL or the set fails, so
 * that a chain of calls can be checked once: r |= output_set(...).
 */
int output_set(json_t *obj, const char *key, json_t *v);

/* Appends v to the array arr, taking v's reference; 0 or -ENOMEM as output_set. */
int output_append(json_t *arr, json_t *v);

/*
 * Copies src into dst (len bytes, always terminated) keeping valid UTF-8 and
 * replacing every other byte, and every control character (C0, DEL, C1), with
 * '?': text from outside never reaches a terminal or a JSON encoder raw.
 * Returns the length src needed (like snprintf), so a result >= len means
 * dst was cut.
 */
size_t output_sanitize(char *dst, size_t len, const char *src);

/* The terminal width of UTF-8 text s: one column a code point. */
size_t output_width(const char *s);

#endif
