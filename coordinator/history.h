/* history: the append-only record of what the coordinator did (state_dir/history.jsonl) */
#ifndef ASCALE_HISTORY_H
#define ASCALE_HISTORY_H

#include <stdint.h>

#include <jansson.h>

#include "state.h"

#define HISTORY_FILE		"history.jsonl"
#define HISTORY_LINE_MAX	(64 * 1024)	/* bytes of one record, without its newline */
#define HISTORY_KEEP_MAX	1000		/* rotated files */

struct history;

/* One record; a non-zero return stops history_read(), which returns it. */
typedef int (*history_line_fn)(const json_t *record, void *user);

/*
 * Opens (creates, 0640) dir/history.jsonl for appending; dir is created
 * (0750) when missing.  A torn last line left by a crash (no final newline,
 * or a last line that is not a JSON object) is cut off and logged.  The
 * file is rotated when an append would take it past max_bytes (0: never),
 * keeping keep rotated files (history.jsonl.1 the newest).  Returns 0,
 * -EINVAL (keep above HISTORY_KEEP_MAX) or -errno; errors are logged.
 */
int history_open(const char *dir, uint64_t max_bytes, unsigned keep, struct history **out);
/*
 * Appends record (an object) as one line, with one write(), and
 * fdatasync()s it.  A rotation that fails is logged and the record goes to
 * the current file.  Returns 0, -EINVAL (not an object), -EMSGSIZE (longer
 * than HISTORY_LINE_MAX) or -errno (a short write is cut off again: -EIO);
 * errors are logged.
 */
int history_append(struct history *h, const json_t *record);
/* 0 when history.jsonl or history.jsonl.1 holds a record whose "id" is id, -ENOENT, or -errno (logged). */
int history_find(struct history *h, const char *id);
void history_close(struct history *h);

/* A random UUID (version 4, RFC 4122 text form, lowercase); 0, or -EIO without random bytes. */
int history_id(char out[STATE_ID_MAX]);

/*
 * Gives every record of dir's history to fn, oldest first: the rotated
 * files from the highest number down, then history.jsonl.  Lines that are
 * not JSON objects are logged as FILE:LINE and skipped (but an unterminated
 * last line, an append under way, silently).  Returns 0, fn's non-zero
 * value, or -errno (logged).
 */
int history_read(const char *dir, history_line_fn fn, void *user);

#endif
