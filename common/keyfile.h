/* keyfile: the pre-shared HMAC key file (`key_file`): "ID HEXKEY" lines, owner-only */
#ifndef ASCALE_KEYFILE_H
#define ASCALE_KEYFILE_H

#include <stddef.h>

#include "wire.h"

#define KEYFILE_SIZE_MAX	65536

/*
 * Reads path into keys (which this initialises; free with wire_keys_free()).
 * Each non-blank line that does not start with '#' is "ID HEXKEY": a decimal
 * key id 1 .. 4294967295, blanks, then WIRE_KEY_MIN .. WIRE_KEY_MAX bytes
 * as hex digits.  The first key signs; every key is accepted.  The file
 * must be a regular file that neither group nor others may read or write.
 * Returns 0, or -errno with a sentence in err ("FILE:LINE: ..." for a bad
 * line): -EACCES for a readable-by-others file, -EINVAL for a bad file or
 * line, -EFBIG above KEYFILE_SIZE_MAX.  Logs nothing.
 */
int keyfile_load(const char *path, struct wire_keys *keys, char *err, size_t errlen);

#endif
