/* history: the append-only record of what the coordinator did (state_dir/history.jsonl) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "history.h"
#include "log.h"

#define HISTORY_NEW	HISTORY_FILE ".new"	/* the next file, made before a rotation */
#define READ_BUF	(HISTORY_LINE_MAX + 1)
#define SCAN_BUF	16384

struct history {
	char *dir;
	char path[PATH_MAX];
	int fd;
	uint64_t max_bytes;
	uint64_t size;			/* of the current file */
	unsigned keep;
	bool rotate_failed;		/* logged */
};

/* dir/history.jsonl[.n] (n 0: none) into buf. */
static int history_path(char *buf, size_t len, const char *dir, const char *name, unsigned n)
{
	int w = n ? snprintf(buf, len, "%s/%s.%u", dir, name, n) : snprintf(buf, len, "%s/%s", dir, name);

	if (w < 0 || (size_t)w >= len) {
		log_err("%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Opens path for appending (0640), creating it when missing; *created says so. */
static int history_open_file(const char *path, bool *created)
{
	int fd, r = 0, flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
	struct stat sb;

	fd = open(path, flags | O_CREAT | O_EXCL, 0640);
	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || fchmod(fd, 0640) < 0)
		r = -errno;
	else if (!S_ISREG(sb.st_mode))
		r = -EINVAL;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* ---- lines ---- */

struct reader {
	const char *path;
	int fd;
	char *buf;			/* READ_BUF bytes */
	size_t start, end;
	bool eof;
	bool skipping;			/* inside a line longer than HISTORY_LINE_MAX */
	size_t skipped;
	unsigned line;
};

/*
 * The next line, without its newline, in *text[0..*len): 1, 0 at the end,
 * or -errno.  A line longer than HISTORY_LINE_MAX gives *text NULL.
 * *terminated is false for a last line without a newline.
 */
static int reader_next(struct reader *rd, char **text, size_t *len, bool *terminated)
{
	char *nl;
	ssize_t n;
	size_t l;

	for (;;) {
		nl = memchr(rd->buf + rd->start, '\n', rd->end - rd->start);
		if (nl || (rd->eof && (rd->start < rd->end || rd->skipping))) {
			l = nl ? (size_t)(nl - (rd->buf + rd->start)) : rd->end - rd->start;
			*text = rd->skipping ? NULL : rd->buf + rd->start;
			*len = rd->skipping ? rd->skipped + l : l;
			*terminated = nl != NULL;
			rd->start += l + (nl != NULL);
			rd->skipping = false;
			rd->skipped = 0;
			rd->line++;
			return 1;
		}
		if (rd->eof)
			return 0;
		if (rd->start == 0 && rd->end == READ_BUF) {
			rd->skipping = true;
			rd->skipped += rd->end;
			rd->end = 0;
		} else {
			memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
			rd->end -= rd->start;
		}
		rd->start = 0;
		n = read(rd->fd, rd->buf + rd->end, READ_BUF - rd->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			log_err("%s: cannot read: %s", rd->path, strerror(errno));
			return (int)n;
		}
		rd->eof = n == 0;
		rd->end += (size_t)n;
	}
}

/* Opens path for reading line by line: 0, -ENOENT (not logged) or -errno (logged). */
static int reader_open(struct reader *rd, const char *path)
{
	int r;

	memset(rd, 0, sizeof(*rd));
	rd->path = path;
	rd->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rd->fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			log_err("%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	rd->buf = malloc(READ_BUF);
	if (!rd->buf) {
		close(rd->fd);
		return -ENOMEM;
	}
	return 0;
}

static void reader_close(struct reader *rd)
{
	close(rd->fd);
	free(rd->buf);
}

/* The line as a JSON object, or NULL (a short reason in je). */
static json_t *history_parse(const char *text, size_t len, json_error_t *je)
{
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, je);

	if (j && !json_is_object(j)) {
		snprintf(je->text, sizeof(je->text), "an array, not an object");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- opening, and the torn tail ---- */

/* The offset where the line ending before end starts (0 when it is the first). */
static int history_line_start(int fd, off_t end, off_t *start)
{
	char buf[SCAN_BUF], *nl;
	size_t n;
	ssize_t got;

	while (end > 0) {
		n = end > SCAN_BUF ? SCAN_BUF : (size_t)end;
		got = pread(fd, buf, n, end - (off_t)n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)n)
			return got < 0 ? -errno : -EIO;
		nl = memrchr(buf, '\n', n);
		if (nl) {
			*start = end - (off_t)n + (nl - buf) + 1;
			return 0;
		}
		end -= (off_t)n;
	}
	*start = 0;
	return 0;
}

/* Whether the complete last line, [start, size - 1) and its newline, is a JSON object. */
static int history_last_valid(int fd, off_t start, off_t size, bool *valid)
{
	size_t len = (size_t)(size - 1 - start);
	json_error_t je;
	json_t *j;
	char *buf;
	ssize_t got;

	*valid = false;
	if (len > HISTORY_LINE_MAX)
		return 0;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	do
		got = pread(fd, buf, len, start);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)len) {
		free(buf);
		return got < 0 ? -errno : -EIO;
	}
	j = history_parse(buf, len, &je);
	*valid = j != NULL;
	json_decref(j);
	free(buf);
	return 0;
}

/* Cuts a torn last line off (logged once); h->size is the size after. */
static int history_repair(struct history *h)
{
	off_t size, start;
	struct stat sb;
	bool valid = true;
	char last;
	int r;

	if (fstat(h->fd, &sb) < 0)
		return -errno;
	size = sb.st_size;
	h->size = (uint64_t)size;
	if (size == 0)
		return 0;
	if (pread(h->fd, &last, 1, size - 1) != 1)
		return -EIO;
	r = history_line_start(h->fd, last == '\n' ? size - 1 : size, &start);
	if (r == 0 && last == '\n')
		r = history_last_valid(h->fd, start, size, &valid);
	if (r < 0)
		return r;
	if (last == '\n' && valid)
		return 0;
	if (ftruncate(h->fd, start) < 0 || fdatasync(h->fd) < 0)
		return -errno;
	log_warn("%s: dropped a torn last line of %lld bytes", h->path, (long long)(size - start));
	h->size = (uint64_t)start;
	return 0;
}

int history_open(const char *dir, uint64_t max_bytes, unsigned keep, struct history **out)
{
	char stale[PATH_MAX];
	struct history *h;
	bool created;
	int r;

	*out = NULL;
	if (keep > HISTORY_KEEP_MAX) {
		log_err("%s: expected at most %d rotated history files, not %u", dir, HISTORY_KEEP_MAX, keep);
		return -EINVAL;
	}
	if ((r = state_dir_make(dir)) < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->max_bytes = max_bytes;
	h->keep = keep;
	h->dir = strdup(dir);
	if (!h->dir) {
		history_close(h);
		return -ENOMEM;
	}
	if ((r = history_path(h->path, sizeof(h->path), dir, HISTORY_FILE, 0)) < 0 ||
	    (r = history_path(stale, sizeof(stale), dir, HISTORY_NEW, 0)) < 0) {
		history_close(h);
		return r;
	}
	unlink(stale);		/* a rotation cut short by a crash */
	h->fd = history_open_file(h->path, &created);
	r = h->fd < 0 ? h->fd : history_repair(h);
	if (r < 0) {
		log_err("%s: cannot open: %s", h->path, strerror(-r));
		history_close(h);
		return r;
	}
	if (created && (r = state_dir_sync(dir)) < 0) {
		history_close(h);
		return r;
	}
	*out = h;
	return 0;
}

void history_close(struct history *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h->dir);
	free(h);
}

/* ---- appending and rotating ---- */

/*
 * The next file is made first (history.jsonl.new), so that a failure moves
 * nothing; then .keep goes, .N becomes .N+1, the file .1 and the new one
 * takes its name.
 */
static int history_rotate(struct history *h)
{
	char next[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	bool created;
	unsigned n;
	int fd, r;

	if ((r = history_path(next, sizeof(next), h->dir, HISTORY_NEW, 0)) < 0)
		return r;
	fd = history_open_file(next, &created);
	if (fd < 0 || ftruncate(fd, 0) < 0) {
		r = fd < 0 ? fd : -errno;
		log_err("%s: cannot create: %s", next, strerror(-r));
		goto fail;
	}
	if (h->keep) {
		if ((r = history_path(to, sizeof(to), h->dir, HISTORY_FILE, h->keep)) < 0)
			goto fail;
		if (unlink(to) < 0 && errno != ENOENT) {
			r = -errno;
			log_err("%s: cannot remove: %s", to, strerror(-r));
			goto fail;
		}
		for (n = h->keep; n >= 1; n--) {
			if ((r = history_path(from, sizeof(from), h->dir, HISTORY_FILE, n - 1)) < 0 ||
			    (r = history_path(to, sizeof(to), h->dir, HISTORY_FILE, n)) < 0)
				goto fail;
			if (rename(from, to) < 0 && errno != ENOENT) {
				r = -errno;
				log_err("%s: cannot rename to %s: %s", from, to, strerror(-r));
				goto fail;
			}
		}
	}
	if (rename(next, h->path) < 0) {
		r = -errno;
		log_err("%s: cannot rename to %s: %s", next, h->path, strerror(-r));
		goto fail;
	}
	close(h->fd);
	h->fd = fd;
	h->size = 0;
	return state_dir_sync(h->dir);
fail:
	if (fd >= 0) {
		close(fd);
		unlink(next);
	}
	return r;
}

int history_append(struct history *h, const json_t *record)
{
	size_t len;
	ssize_t n;
	char *line;
	int r;

	if (!json_is_object(record))
		return -EINVAL;
	line = json_dumps(record, JSON_COMPACT);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	if (len > HISTORY_LINE_MAX) {
		log_err("%s: a record of %zu bytes, more than %d: not written", h->path, len,
			HISTORY_LINE_MAX);
		free(line);
		return -EMSGSIZE;
	}
	line[len++] = '\n';		/* over the NUL: write() takes the length */
	if (h->max_bytes && h->size && h->size + len > h->max_bytes) {
		r = history_rotate(h);
		if (r < 0 && !h->rotate_failed)
			log_err("%s: cannot rotate: %s; appending past %llu bytes", h->path, strerror(-r),
				(unsigned long long)h->max_bytes);
		h->rotate_failed = r < 0;
	}
	do
		n = write(h->fd, line, len);
	while (n < 0 && errno == EINTR);
	free(line);
	if (n != (ssize_t)len) {
		r = n < 0 ? -errno : -EIO;
		if (n > 0 && ftruncate(h->fd, (off_t)h->size) < 0)
			log_err("%s: cannot cut a short write off: %s", h->path, strerror(errno));
		log_err("%s: cannot append: %s", h->path, n < 0 ? strerror(-r) : "short write");
		return r;
	}
	h->size += len;
	if (fdatasync(h->fd) < 0) {
		r = -errno;
		log_err("%s: cannot sync: %s", h->path, strerror(-r));
		return r;
	}
	return 0;
}

/* ---- finding and reading ---- */

/* 0 when the file at path holds a record with "id" == id, -ENOENT, -errno. */
static int history_scan(const char *path, const char *id)
{
	size_t idlen = strlen(id), len, i;
	struct reader rd;
	json_error_t je;
	bool plain = true, term, found = false;
	char *text;
	json_t *j;
	int r;

	/* an id that JSON writes as it is can be looked for in the raw line first */
	for (i = 0; i < idlen; i++)
		plain &= (unsigned char)id[i] >= 0x20 && id[i] != '"' && id[i] != '\\' && id[i] != 0x7f;
	r = reader_open(&rd, path);
	if (r < 0)
		return r;
	while (!found && (r = reader_next(&rd, &text, &len, &term)) > 0) {
		if (!text || (plain && !memmem(text, len, id, idlen)))
			continue;
		j = history_parse(text, len, &je);
		found = json_is_string(json_object_get(j, "id")) &&
			strcmp(json_string_value(json_object_get(j, "id")), id) == 0;
		json_decref(j);
	}
	reader_close(&rd);
	return found ? 0 : r < 0 ? r : -ENOENT;
}

int history_find(struct history *h, const char *id)
{
	char rotated[PATH_MAX];
	int r;

	r = history_scan(h->path, id);
	if (r != -ENOENT)
		return r;
	if ((r = history_path(rotated, sizeof(rotated), h->dir, HISTORY_FILE, 1)) < 0)
		return r;
	return history_scan(rotated, id);
}

/* Every record of one file to fn. */
static int history_read_file(const char *path, bool current, history_line_fn fn, void *user)
{
	struct reader rd;
	json_error_t je;
	size_t len;
	bool term;
	char *text;
	json_t *j;
	int r;

	r = reader_open(&rd, path);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	while ((r = reader_next(&rd, &text, &len, &term)) > 0) {
		if (!text) {
			log_warn("%s:%u: skipped a line of more than %d bytes", path, rd.line,
				 HISTORY_LINE_MAX);
			continue;
		}
		j = history_parse(text, len, &je);
		if (!j) {
			if (term || !current)
				log_warn("%s:%u: skipped a line that is not a JSON object (%s)", path,
					 rd.line, je.text);
			continue;
		}
		r = fn(j, user);
		json_decref(j);
		if (r)
			break;
	}
	reader_close(&rd);
	return r;
}

static int cmp_desc(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The numbers N of dir's history.jsonl.N, highest first, in a malloc'ed *nums. */
static int history_rotated(const char *dir, unsigned **nums, size_t *count)
{
	size_t pre = strlen(HISTORY_FILE "."), n = 0, cap = 0;
	unsigned *v = NULL, *grown;
	struct dirent *de;
	unsigned long u;
	char *end;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		int r = -errno;

		log_err("%s: cannot read the directory: %s", dir, strerror(-r));
		return r;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, HISTORY_FILE ".", pre) != 0 || de->d_name[pre] < '1' ||
		    de->d_name[pre] > '9')
			continue;
		errno = 0;
		u = strtoul(de->d_name + pre, &end, 10);
		if (*end || errno || u > UINT_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = grown;
		}
		v[n++] = (unsigned)u;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_desc);
	*nums = v;
	*count = n;
	return 0;
}

int history_read(const char *dir, history_line_fn fn, void *user)
{
	char path[PATH_MAX];
	unsigned *nums = NULL;
	size_t count = 0, i;
	int r;

	r = history_rotated(dir, &nums, &count);
	for (i = 0; r == 0 && i <= count; i++) {
		r = history_path(path, sizeof(path), dir, HISTORY_FILE, i < count ? nums[i] : 0);
		if (r == 0)
			r = history_read_file(path, i == count, fn, user);
	}
	free(nums);
	return r;
}

/* ---- ids ---- */

int history_id(char out[STATE_ID_MAX])
{
	unsigned char b[16];

	out[0] = '\0';
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* variant 10xx */
	snprintf(out, STATE_ID_MAX,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}
