/* keyfile: the pre-shared HMAC key file (`key_file`): "ID HEXKEY" lines, owner-only */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "keyfile.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Reads the whole file, refusing what others could read. */
static int key_read(const char *path, char **text, size_t *size, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *buf;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_fill(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return log_fill(err, errlen, r, "%s: %s", path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return log_fill(err, errlen, -EINVAL, "%s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return log_fill(err, errlen, -EACCES,
				"%s: mode %04o lets group or others at the key; chmod 600 it",
				path, (unsigned)(st.st_mode & 07777));
	}
	if (st.st_size > KEYFILE_SIZE_MAX) {
		close(fd);
		return log_fill(err, errlen, -EFBIG, "%s: larger than %d bytes", path, KEYFILE_SIZE_MAX);
	}
	buf = malloc(KEYFILE_SIZE_MAX + 1);
	if (!buf) {
		close(fd);
		return log_fill(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	for (;;) {
		n = read(fd, buf + got, KEYFILE_SIZE_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > KEYFILE_SIZE_MAX)
			break;
	}
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && got > KEYFILE_SIZE_MAX)
		r = log_fill(err, errlen, -EFBIG, "%s: larger than %d bytes", path, KEYFILE_SIZE_MAX);
	else if (r < 0)
		log_fill(err, errlen, r, "%s: %s", path, strerror(-r));
	if (r < 0) {
		OPENSSL_cleanse(buf, KEYFILE_SIZE_MAX + 1);
		free(buf);
		return r;
	}
	*text = buf;
	*size = got;
	return 0;
}

/* One line (without its newline): blank, a comment, or "ID HEXKEY". */
static int key_line(const char *p, size_t n, const char *path, unsigned line,
		    struct wire_keys *keys, char *err, size_t errlen)
{
	uint8_t key[WIRE_KEY_MAX];
	uint64_t id = 0;
	size_t i = 0, digits = 0, hex = 0, start;
	int hi, lo, r;

	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return 0;
	while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 11) {
		id = id * 10 + (uint64_t)(p[i++] - '0');
		digits++;
	}
	if (digits == 0 || digits > 10 || id == 0 || id > UINT32_MAX || i == n || !is_blank(p[i]))
		return log_fill(err, errlen, -EINVAL,
				"%s:%u: expected \"ID HEXKEY\" with a key id from 1 to 4294967295",
				path, line);
	while (i < n && is_blank(p[i]))
		i++;
	start = i;
	while (i < n && !is_blank(p[i]))
		i++;
	hex = i - start;
	while (i < n && is_blank(p[i]))
		i++;
	if (i != n)
		return log_fill(err, errlen, -EINVAL, "%s:%u: unexpected text after the key", path, line);
	if (hex % 2 || hex < 2 * WIRE_KEY_MIN || hex > 2 * WIRE_KEY_MAX)
		return log_fill(err, errlen, -EINVAL,
				"%s:%u: key %u: expected %d to %d bytes as hex digits, got %zu digits",
				path, line, (unsigned)id, WIRE_KEY_MIN, WIRE_KEY_MAX, hex);
	for (i = 0; i < hex / 2; i++) {
		hi = hex_value(p[start + 2 * i]);
		lo = hex_value(p[start + 2 * i + 1]);
		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(key, sizeof(key));
			return log_fill(err, errlen, -EINVAL, "%s:%u: key %u: not a hex digit",
					path, line, (unsigned)id);
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	r = wire_keys_add(keys, (uint32_t)id, key, hex / 2);
	OPENSSL_cleanse(key, sizeof(key));
	if (r == -EEXIST)
		return log_fill(err, errlen, -EINVAL, "%s:%u: key id %u appears twice",
				path, line, (unsigned)id);
	if (r == -ENOSPC)
		return log_fill(err, errlen, -EINVAL, "%s:%u: more than %d keys",
				path, line, WIRE_KEYS_MAX);
	if (r < 0)
		return log_fill(err, errlen, r, "%s:%u: cannot set up HMAC-SHA256", path, line);
	return 0;
}

int keyfile_load(const char *path, struct wire_keys *keys, char *err, size_t errlen)
{
	char *text = NULL, *nl;
	size_t size = 0, off = 0, n;
	unsigned line = 0;
	int r;

	r = wire_keys_init(keys);
	if (r < 0)
		return log_fill(err, errlen, r, "%s: OpenSSL has no HMAC", path);
	r = key_read(path, &text, &size, err, errlen);
	if (r < 0)
		goto fail;
	while (off < size && r == 0) {
		nl = memchr(text + off, '\n', size - off);
		n = nl ? (size_t)(nl - (text + off)) : size - off;
		line++;
		if (memchr(text + off, '\0', n))
			r = log_fill(err, errlen, -EINVAL, "%s:%u: NUL byte in the line", path, line);
		else
			r = key_line(text + off, n, path, line, keys, err, errlen);
		off += n + 1;
	}
	OPENSSL_cleanse(text, KEYFILE_SIZE_MAX + 1);
	free(text);
	if (r == 0 && keys->count == 0)
		r = log_fill(err, errlen, -EINVAL, "%s: no key (expected \"ID HEXKEY\" lines)", path);
	if (r == 0)
		return 0;
fail:
	wire_keys_free(keys);
	return r;
}
