/* state: the coordinator's durable state per setting (state_dir/state.json), saved atomically */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "state_int.h"
#include "timeutil.h"

#define STATE_FILE	"state.json"
#define STATE_TMP	"state.json.tmp"
#define STATE_CORRUPT	"state.json.corrupt"

/* ---- the directory ---- */

int state_dir_make(const char *dir)
{
	struct stat sb;
	int r;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		log_err("%s: cannot create the directory: %s", dir, strerror(-r));
		return r;
	}
	if (stat(dir, &sb) < 0) {
		r = -errno;
		log_err("%s: %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_err("%s: expected a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

int state_dir_sync(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		log_err("%s: cannot sync the directory: %s", dir, strerror(-r));
	return r;
}

/* dir/name into buf; -ENAMETOOLONG when it does not fit. */
static int state_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		log_err("%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* ---- settings ---- */

struct state *state_new(void)
{
	return calloc(1, sizeof(struct state));
}

struct state_setting *state_add(struct state *st, const char *name)
{
	struct state_setting *s, **grown;
	size_t cap;

	if (st->n == st->cap) {
		cap = st->cap ? st->cap * 2 : 16;
		grown = realloc(st->s, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		st->s = grown;
		st->cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->cooldown_until_ns = STATE_NONE;
	st->s[st->n++] = s;
	return s;
}

struct state_setting *state_find(struct state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->s[i]->name, name) == 0)
			return st->s[i];
	return NULL;
}

struct state_setting *state_setting(struct state *st, const char *name)
{
	struct state_setting *s;
	size_t n = strlen(name);

	if (!n || n >= SETTING_NAME_MAX)
		return NULL;
	s = state_find(st, name);
	return s ? s : state_add(st, name);
}

size_t state_count(const struct state *st)
{
	return st->n;
}

struct state_setting *state_at(struct state *st, size_t i)
{
	return i < st->n ? st->s[i] : NULL;
}

void state_op_set(struct state_setting *s, const char *id, unsigned capacity, unsigned previous,
		  int64_t started_ns, json_t *record)
{
	json_incref(record);
	json_decref(s->op.record);
	memset(&s->op, 0, sizeof(s->op));
	snprintf(s->op.id, sizeof(s->op.id), "%s", id);
	s->op.capacity = capacity;
	s->op.previous = previous;
	s->op.started_ns = started_ns;
	s->op.record = record;
	s->in_flight = true;
}

void state_op_clear(struct state_setting *s)
{
	json_decref(s->op.record);
	memset(&s->op, 0, sizeof(s->op));
	s->in_flight = false;
}

bool state_loaded(const struct state *st)
{
	return st->loaded;
}

int64_t state_written_ns(const struct state *st)
{
	return st->written_ns;
}

void state_free(struct state *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->n; i++) {
		json_decref(st->s[i]->op.record);
		free(st->s[i]);
	}
	free(st->s);
	free(st->dir);
	free(st);
}

/* ---- the file ---- */

/* Writes all of text to path (0640) and fsyncs it; on an error what it created is removed. */
static int state_write_file(const char *path, const char *text, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0640) < 0)
		r = -errno;
	while (!r && off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

int state_save(struct state *st)
{
	char path[PATH_MAX], tmp[PATH_MAX], err[256], *text;
	int r;

	if (!st->dir)
		return -EINVAL;
	if ((r = state_path(path, sizeof(path), st->dir, STATE_FILE)) < 0 ||
	    (r = state_path(tmp, sizeof(tmp), st->dir, STATE_TMP)) < 0)
		return r;
	r = state_format(st, time_real_ns(), &text, err, sizeof(err));
	if (r < 0) {
		log_err("%s: cannot save: %s", path, err);
		return r;
	}
	r = state_write_file(tmp, text, strlen(text));
	free(text);
	if (r < 0) {
		log_err("%s: cannot write: %s", tmp, strerror(-r));
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		log_err("%s: cannot rename to %s: %s", tmp, path, strerror(-r));
		unlink(tmp);
		return r;
	}
	return state_dir_sync(st->dir);
}

/* Reads up to max + 1 bytes of fd into a malloc'ed buffer. */
static int state_read_all(int fd, size_t max, char **text, size_t *len)
{
	size_t got = 0;
	ssize_t n;
	char *buf;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	while (got <= max) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*text = buf;
	*len = got;
	return 0;
}

/* Moves a file that cannot be used aside; the error in err is logged here. */
static int state_corrupt(const char *dir, const char *path, const char *err)
{
	char aside[PATH_MAX];
	int r;

	if ((r = state_path(aside, sizeof(aside), dir, STATE_CORRUPT)) < 0)
		return r;
	if (rename(path, aside) < 0) {
		r = -errno;
		log_err("%s:%s", path, err);
		log_err("%s: cannot rename to %s: %s", path, aside, strerror(-r));
		return r;
	}
	log_err("%s:%s (renamed to %s; starting from an empty state)", path, err, aside);
	return state_dir_sync(dir);
}

int state_open(const char *dir, struct state **out)
{
	char path[PATH_MAX], err[512], *text = NULL;
	struct state *st = NULL;
	bool found;
	struct stat sb;
	size_t len = 0;
	int fd, r;

	*out = NULL;
	if ((r = state_dir_make(dir)) < 0 || (r = state_path(path, sizeof(path), dir, STATE_FILE)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ENOENT) {
		r = -errno;
		log_err("%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	found = fd >= 0;
	if (found) {
		if (fstat(fd, &sb) < 0)
			r = -errno;
		else if (!S_ISREG(sb.st_mode))
			r = -EINVAL;
		else
			r = state_read_all(fd, STATE_FILE_MAX, &text, &len);
		close(fd);
		if (r < 0) {
			log_err("%s: cannot read: %s", path,
				r == -EINVAL ? "not a regular file" : strerror(-r));
			return r;
		}
		if (len > STATE_FILE_MAX) {
			snprintf(err, sizeof(err), " expected a file of at most %d bytes", STATE_FILE_MAX);
			r = -EINVAL;
		} else {
			r = state_parse(text, len, &st, err, sizeof(err));
		}
		free(text);
		if (r == -ENOMEM)
			return r;
		if (r < 0 && (r = state_corrupt(dir, path, err)) < 0)
			return r;
	}
	if (!st)
		st = state_new();
	if (st)
		st->dir = strdup(dir);
	if (!st || !st->dir) {
		state_free(st);
		return -ENOMEM;
	}
	st->loaded = found;
	*out = st;
	return 0;
}
