/* ring: the agent's shared-memory sample ring, one writer and lock-free readers (docs/ring.md) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ring.h"

_Static_assert(sizeof(struct ring_header) <= RING_HEADER_SIZE, "ring header outgrew RING_HEADER_SIZE");
_Static_assert(sizeof(struct ring_header) % 8 == 0, "ring header is copied in 8-byte words");
_Static_assert(sizeof(struct ring_metric) == 128, "descriptor size is part of the format");
_Static_assert(sizeof(struct ring_slot) == 24, "slot header size is part of the format");
/* the offsets docs/ring.md promises to other readers */
_Static_assert(offsetof(struct ring_header, file_size) == 16, "layout");
_Static_assert(offsetof(struct ring_header, interval_ns) == 48, "layout");
_Static_assert(offsetof(struct ring_header, generation) == 64, "layout");
_Static_assert(offsetof(struct ring_header, head) == 72, "layout");
_Static_assert(offsetof(struct ring_header, heartbeat_mono_ns) == 80, "layout");
_Static_assert(offsetof(struct ring_header, flags) == 88, "layout");
_Static_assert(offsetof(struct ring_header, instance) == 104, "layout");
_Static_assert(offsetof(struct ring_header, cgroup) == 296, "layout");
_Static_assert(offsetof(struct ring_header, stream_offset) == RING_HEADER_MIN, "layout");
_Static_assert(sizeof(struct ring_header) == 560, "layout");
_Static_assert(sizeof(struct ring_stream_conn) == 192, "stream entry size is part of the format");
_Static_assert(offsetof(struct ring_stream, conns) == 56, "layout");
_Static_assert(sizeof(struct ring_stream) % 8 == 0, "the stream block is copied in 8-byte words");

#define RING_SLOT_ALIGN		64	/* slot area starts on a cache line */
#define RING_READ_RETRIES	1000
#define RING_STALL_INTERVALS	3

/* Two floats in one 64-bit word: slots are stored and copied a word at a time. */
union ring_word {
	uint64_t w;
	float f[2];
};

struct ring_writer {
	struct ring_header *hdr;
	unsigned char *slots;
	size_t map_size;
	int fd;
	uint32_t metric_count;
	uint32_t slot_count;
	uint32_t slot_size;
	uint32_t next_slot;	/* head % slot_count, kept without a division */
	uint64_t head;
	struct ring_stream *stream;	/* in the map */
};

struct ring_reader {
	const unsigned char *map;
	size_t map_size;
	int fd;
	dev_t dev;
	ino_t ino;
	char *path;
	struct ring_header hdr;		/* validated copy; live fields refreshed by ring_reader_state() */
	struct ring_metric *metrics;	/* validated copy */
	float *values;			/* the last slot read */
};

static uint64_t ring_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint64_t ring_slot_bytes(uint32_t metric_count)
{
	return sizeof(struct ring_slot) + (uint64_t)metric_count * sizeof(float);
}

/* True when s is NUL-terminated within its size bytes. */
static bool ring_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* ---- writer ---- */

static bool ring_label_ok(const char *s, size_t size)
{
	return !s || strnlen(s, size) < size;
}

static int ring_params_check(const char *path, const struct ring_params *p)
{
	uint32_t i;

	if (!path || !*path || !p)
		return -EINVAL;
	if (p->slot_count < 1 || p->slot_count > RING_SLOTS_MAX)
		return -EINVAL;
	if (p->metric_count < 1 || p->metric_count > RING_METRICS_MAX || !p->metrics)
		return -EINVAL;
	if (p->ncpu > p->metric_count || p->interval_ns <= 0)
		return -EINVAL;
	if ((unsigned)p->source > RING_SOURCE_PROCFS || (p->mode & ~(mode_t)07777))
		return -EINVAL;
	if (!ring_label_ok(p->instance, RING_LABEL_MAX) ||
	    !ring_label_ok(p->deployment, RING_LABEL_MAX) ||
	    !ring_label_ok(p->endpoint, RING_LABEL_MAX) ||
	    !ring_label_ok(p->cgroup, RING_PATH_MAX))
		return -EINVAL;
	for (i = 0; i < p->metric_count; i++) {
		const struct ring_metric *m = &p->metrics[i];

		if (!ring_terminated(m->name, sizeof(m->name)) || !m->name[0] ||
		    !ring_terminated(m->alias, sizeof(m->alias)) ||
		    !ring_terminated(m->unit, sizeof(m->unit)))
			return -EINVAL;
	}
	return 0;
}

/* "dir/name" -> "dir/.name.XXXXXX" */
static int ring_tmp_name(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	int n;

	if (!*base)
		return -EINVAL;
	n = snprintf(buf, len, "%.*s.%s.XXXXXX", dirlen, path, base);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void ring_copy_label(char *dst, size_t size, const char *src)
{
	if (src)
		snprintf(dst, size, "%s", src);
}

/* A random non-zero generation; uniqueness is all that matters, not secrecy. */
static uint64_t ring_generation(void)
{
	uint64_t g = 0;
	struct timespec ts;

	if (getrandom(&g, sizeof(g), GRND_NONBLOCK) != (ssize_t)sizeof(g))
		g = 0;
	if (!g) {
		/* no entropy yet (early boot): mix the clock and pid */
		clock_gettime(CLOCK_REALTIME, &ts);
		g = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		g ^= (uint64_t)getpid() << 32;
		g += 0x9e3779b97f4a7c15ULL;
		g = (g ^ (g >> 30)) * 0xbf58476d1ce4e5b9ULL;
		g = (g ^ (g >> 27)) * 0x94d049bb133111ebULL;
		g ^= g >> 31;
	}
	return g ? g : 1;
}

static int ring_size_file(int fd, uint64_t size)
{
	int r;

	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	/* reserve the pages so that a full tmpfs fails here, not with SIGBUS later */
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r && r != EOPNOTSUPP && r != ENOSYS && r != EINVAL)
		return -r;
	return 0;
}

static void ring_fill_header(struct ring_header *h, const struct ring_params *p,
			     uint32_t slot_offset, uint32_t slot_size, uint64_t file_size,
			     uint32_t stream_offset)
{
	struct timespec ts;

	h->magic = RING_MAGIC;
	h->version_major = RING_VERSION_MAJOR;
	h->version_minor = RING_VERSION_MINOR;
	h->header_size = RING_HEADER_SIZE;
	h->file_size = file_size;
	h->metric_offset = RING_HEADER_SIZE;
	h->metric_size = sizeof(struct ring_metric);
	h->metric_count = p->metric_count;
	h->slot_offset = slot_offset;
	h->slot_size = slot_size;
	h->slot_count = p->slot_count;
	h->interval_ns = p->interval_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_real_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	h->heartbeat_mono_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	h->head = 0;
	h->flags = 0;
	h->writer_pid = (uint32_t)getpid();
	h->source = p->source;
	h->ncpu = p->ncpu;
	ring_copy_label(h->instance, sizeof(h->instance), p->instance);
	ring_copy_label(h->deployment, sizeof(h->deployment), p->deployment);
	ring_copy_label(h->endpoint, sizeof(h->endpoint), p->endpoint);
	ring_copy_label(h->cgroup, sizeof(h->cgroup), p->cgroup);
	h->stream_offset = stream_offset;
	h->stream_size = sizeof(struct ring_stream);
}

int ring_writer_create(const char *path, const struct ring_params *p,
		       struct ring_writer **wp)
{
	char tmp[PATH_MAX];
	struct ring_writer *w;
	struct ring_metric *m;
	uint64_t stream_offset, slot_offset, slot_size, file_size;
	uint32_t i;
	void *map;
	int r;

	if (!wp)
		return -EINVAL;
	*wp = NULL;
	r = ring_params_check(path, p);
	if (r < 0)
		return r;
	r = ring_tmp_name(path, tmp, sizeof(tmp));
	if (r < 0)
		return r;

	/* header, descriptors, the stream block (minor 1), then the slots */
	stream_offset = ring_align(RING_HEADER_SIZE + (uint64_t)p->metric_count *
				   sizeof(struct ring_metric), 8);
	slot_offset = ring_align(stream_offset + sizeof(struct ring_stream), RING_SLOT_ALIGN);
	slot_size = ring_align(ring_slot_bytes(p->metric_count), 8);
	file_size = slot_offset + (uint64_t)p->slot_count * slot_size;
	if (file_size > SIZE_MAX || file_size > (uint64_t)INT64_MAX)
		return -EFBIG;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = mkostemp(tmp, O_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = ring_size_file(w->fd, file_size);
	if (r < 0)
		goto fail;
	map = mmap(NULL, (size_t)file_size, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	w->map_size = (size_t)file_size;
	w->hdr = map;
	w->slots = (unsigned char *)map + slot_offset;
	w->metric_count = p->metric_count;
	w->slot_count = p->slot_count;
	w->slot_size = (uint32_t)slot_size;

	/* the file is fresh and zero-filled: every slot has seq 0 */
	ring_fill_header(w->hdr, p, (uint32_t)slot_offset, (uint32_t)slot_size, file_size,
			 (uint32_t)stream_offset);
	w->stream = (struct ring_stream *)(void *)((unsigned char *)map + stream_offset);
	w->stream->conn_size = sizeof(struct ring_stream_conn);
	m = (struct ring_metric *)((unsigned char *)map + RING_HEADER_SIZE);
	for (i = 0; i < p->metric_count; i++)
		m[i] = p->metrics[i];

	if (fchmod(w->fd, p->mode) < 0 ||
	    (p->gid != (gid_t)-1 && fchown(w->fd, (uid_t)-1, p->gid) < 0)) {
		r = -errno;
		goto fail;
	}
	/* the last header store: the ring is ready */
	__atomic_store_n(&w->hdr->generation, ring_generation(), __ATOMIC_RELEASE);
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	*wp = w;
	return 0;

fail:
	if (w->hdr)
		munmap(w->hdr, w->map_size);
	unlink(tmp);
	close(w->fd);
	free(w);
	return r;
}

int ring_writer_append(struct ring_writer *w, int64_t mono_ns, int64_t real_ns,
		       const float *values)
{
	uint64_t *word;
	union ring_word u;
	uint64_t i;
	uint32_t k, pairs;

	if (!w || !values)
		return -EINVAL;
	i = w->head;
	word = (uint64_t *)(void *)(w->slots + (size_t)w->next_slot * w->slot_size);

	/* odd seq: slot i is being written; the fence keeps it before the data */
	__atomic_store_n(&word[0], 2 * i + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&word[1], (uint64_t)mono_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&word[2], (uint64_t)real_ns, __ATOMIC_RELAXED);
	pairs = w->metric_count / 2;
	for (k = 0; k < pairs; k++) {
		u.f[0] = values[2 * k];
		u.f[1] = values[2 * k + 1];
		__atomic_store_n(&word[3 + k], u.w, __ATOMIC_RELAXED);
	}
	if (w->metric_count & 1) {
		u.w = 0;
		u.f[0] = values[w->metric_count - 1];
		__atomic_store_n(&word[3 + pairs], u.w, __ATOMIC_RELAXED);
	}
	/* even seq: slot i is complete; then publish it */
	__atomic_store_n(&word[0], 2 * i + 2, __ATOMIC_RELEASE);
	__atomic_store_n(&w->hdr->head, i + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&w->hdr->heartbeat_mono_ns, mono_ns, __ATOMIC_RELEASE);

	w->head = i + 1;
	if (++w->next_slot == w->slot_count)
		w->next_slot = 0;
	return 0;
}

void ring_writer_heartbeat(struct ring_writer *w, int64_t mono_ns)
{
	if (w)
		__atomic_store_n(&w->hdr->heartbeat_mono_ns, mono_ns, __ATOMIC_RELEASE);
}

void ring_writer_stream(struct ring_writer *w, const struct ring_stream *st)
{
	struct ring_stream tmp;
	const uint64_t *src;
	uint64_t *dst, seq;
	size_t k;

	if (!w || !st)
		return;
	tmp = *st;
	tmp.conn_size = sizeof(struct ring_stream_conn);
	if (tmp.conn_count > RING_STREAM_CONNS)
		tmp.conn_count = RING_STREAM_CONNS;
	src = (const uint64_t *)(const void *)&tmp;
	dst = (uint64_t *)(void *)w->stream;
	/* the same seqlock as a slot's: odd while the words change */
	seq = __atomic_load_n(&dst[0], __ATOMIC_RELAXED);
	__atomic_store_n(&dst[0], seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (k = 1; k < sizeof(tmp) / 8; k++)
		__atomic_store_n(&dst[k], src[k], __ATOMIC_RELAXED);
	__atomic_store_n(&dst[0], seq + 2, __ATOMIC_RELEASE);
}

void ring_writer_close(struct ring_writer *w)
{
	struct timespec ts;

	if (!w)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ring_writer_heartbeat(w, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	__atomic_or_fetch(&w->hdr->flags, RING_F_CLOSED, __ATOMIC_RELEASE);
	munmap(w->hdr, w->map_size);
	close(w->fd);
	free(w);
}

/* ---- reader ---- */

/* Copies len bytes (a multiple of 8) a word at a time: the writer may be storing. */
static void ring_copy_words(void *dst, const void *src, size_t len)
{
	const uint64_t *s = src;
	unsigned char *d = dst;
	uint64_t v;
	size_t k;

	for (k = 0; k < len / 8; k++) {
		v = __atomic_load_n(&s[k], __ATOMIC_RELAXED);
		memcpy(d + 8 * k, &v, 8);
	}
}

static const char *const ring_label_names[] = { "instance", "deployment", "endpoint", "cgroup" };

/* Checks the header copy h against the file size; returns 0 or -EPROTO with a sentence. */
static int ring_check_header(const struct ring_header *h, uint64_t st_size,
			     char *err, size_t errlen)
{
	const char *labels[] = { h->instance, h->deployment, h->endpoint, h->cgroup };
	const size_t label_sizes[] = { sizeof(h->instance), sizeof(h->deployment),
				       sizeof(h->endpoint), sizeof(h->cgroup) };
	uint64_t metric_end, slot_end, stream_end;
	size_t i;

	if (h->magic != RING_MAGIC)
		return log_fill(err, errlen, -EPROTO, "not an ascale ring (bad magic)");
	if (h->version_major != RING_VERSION_MAJOR)
		return log_fill(err, errlen, -EPROTO,
				"ring format %u.%u is %s than this reader (%d.x)",
				h->version_major, h->version_minor,
				h->version_major > RING_VERSION_MAJOR ? "newer" : "older",
				RING_VERSION_MAJOR);
	if (h->file_size != st_size)
		return log_fill(err, errlen, -EPROTO,
				"the file has %llu bytes but its header says %llu (truncated?)",
				(unsigned long long)st_size, (unsigned long long)h->file_size);
	if (h->header_size < RING_HEADER_MIN || h->header_size > st_size)
		return log_fill(err, errlen, -EPROTO, "bad header size %u", h->header_size);
	if (h->metric_size != sizeof(struct ring_metric))
		return log_fill(err, errlen, -EPROTO, "bad metric descriptor size %u (expected %zu)",
				h->metric_size, sizeof(struct ring_metric));
	if (h->metric_count > RING_METRICS_MAX)
		return log_fill(err, errlen, -EPROTO, "metric count %u is over the limit of %d",
				h->metric_count, RING_METRICS_MAX);
	if (h->slot_count < 1 || h->slot_count > RING_SLOTS_MAX)
		return log_fill(err, errlen, -EPROTO, "slot count %u is out of range 1..%u",
				h->slot_count, RING_SLOTS_MAX);
	if (h->slot_size % 8 || h->slot_size < ring_slot_bytes(h->metric_count))
		return log_fill(err, errlen, -EPROTO,
				"slot size %u is too small for %u metrics or not a multiple of 8",
				h->slot_size, h->metric_count);
	if (h->slot_offset % 8)
		return log_fill(err, errlen, -EPROTO, "slot offset %u is not a multiple of 8",
				h->slot_offset);
	metric_end = (uint64_t)h->metric_offset + (uint64_t)h->metric_count * h->metric_size;
	slot_end = (uint64_t)h->slot_offset + (uint64_t)h->slot_count * h->slot_size;
	if (metric_end > st_size)
		return log_fill(err, errlen, -EPROTO,
				"metric descriptors end at byte %llu, past the end of the file (%llu bytes)",
				(unsigned long long)metric_end, (unsigned long long)st_size);
	if (h->metric_offset < h->header_size || metric_end > h->slot_offset)
		return log_fill(err, errlen, -EPROTO,
				"metric descriptors at %u..%llu overlap the header or the slots",
				h->metric_offset, (unsigned long long)metric_end);
	if (slot_end > st_size)
		return log_fill(err, errlen, -EPROTO,
				"slots end at byte %llu, past the end of the file (%llu bytes)",
				(unsigned long long)slot_end, (unsigned long long)st_size);
	if (h->interval_ns <= 0)
		return log_fill(err, errlen, -EPROTO, "bad sampling interval %lld ns",
				(long long)h->interval_ns);
	if (h->generation == 0)
		return log_fill(err, errlen, -EPROTO, "ring not ready (generation 0)");
	if (h->writer_pid == 0 || h->writer_pid > INT_MAX)
		return log_fill(err, errlen, -EPROTO, "bad writer pid %u", h->writer_pid);
	if (h->ncpu > h->metric_count)
		return log_fill(err, errlen, -EPROTO, "%u CPUs but only %u metrics",
				h->ncpu, h->metric_count);
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (!ring_terminated(labels[i], label_sizes[i]))
			return log_fill(err, errlen, -EPROTO, "the %s label is not terminated",
					ring_label_names[i]);
	if (h->stream_offset) {
		stream_end = (uint64_t)h->stream_offset + h->stream_size;
		if (h->stream_offset % 8 || h->stream_size < sizeof(struct ring_stream) ||
		    h->stream_offset < metric_end || stream_end > h->slot_offset)
			return log_fill(err, errlen, -EPROTO,
					"stream block at %u..%llu is too small, misaligned or "
					"overlaps the descriptors or the slots",
					h->stream_offset, (unsigned long long)stream_end);
	}
	return 0;
}

static int ring_check_metrics(const struct ring_metric *m, uint32_t count,
			      char *err, size_t errlen)
{
	uint32_t i;

	for (i = 0; i < count; i++) {
		if (!ring_terminated(m[i].name, sizeof(m[i].name)))
			return log_fill(err, errlen, -EPROTO, "metric %u: name is not terminated", i);
		if (!ring_terminated(m[i].alias, sizeof(m[i].alias)))
			return log_fill(err, errlen, -EPROTO, "metric %u: alias is not terminated", i);
		if (!ring_terminated(m[i].unit, sizeof(m[i].unit)))
			return log_fill(err, errlen, -EPROTO, "metric %u: unit is not terminated", i);
	}
	return 0;
}

static int ring_reader_map(struct ring_reader *r, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *map;
	int e;

	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		e = errno;
		return log_fill(err, errlen, -e, "cannot open: %s", strerror(e));
	}
	if (fstat(r->fd, &st) < 0) {
		e = errno;
		return log_fill(err, errlen, -e, "cannot stat: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return log_fill(err, errlen, -EPROTO, "not a regular file");
	if ((uint64_t)st.st_size < RING_HEADER_MIN)
		return log_fill(err, errlen, -EPROTO,
				"the file is too small (%lld bytes) to hold a ring header",
				(long long)st.st_size);
	if ((uint64_t)st.st_size > SIZE_MAX)
		return log_fill(err, errlen, -EFBIG, "the file is too large to map");
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, r->fd, 0);
	if (map == MAP_FAILED) {
		e = errno;
		return log_fill(err, errlen, -e, "cannot map: %s", strerror(e));
	}
	r->map = map;
	r->map_size = (size_t)st.st_size;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	return 0;
}

int ring_reader_open(const char *path, struct ring_reader **rp, char *err, size_t errlen)
{
	struct ring_reader *r;
	const struct ring_header *h;
	size_t mbytes;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!rp)
		return log_fill(err, errlen, -EINVAL, "no reader to return");
	*rp = NULL;
	if (!path)
		return log_fill(err, errlen, -EINVAL, "no path");
	r = calloc(1, sizeof(*r));
	if (!r)
		return log_fill(err, errlen, -ENOMEM, "out of memory");
	r->fd = -1;
	ret = ring_reader_map(r, path, err, errlen);
	if (ret < 0)
		goto fail;

	/* everything below uses the copy: the file may change under us */
	ring_copy_words(&r->hdr, r->map, r->map_size < sizeof(r->hdr) ? RING_HEADER_MIN : sizeof(r->hdr));
	h = &r->hdr;
	/* fields a 1.0 header does not have read as absent */
	if (h->version_minor < 1 || h->header_size < sizeof(r->hdr)) {
		r->hdr.stream_offset = 0;
		r->hdr.stream_size = 0;
	}
	ret = ring_check_header(h, r->map_size, err, errlen);
	if (ret < 0)
		goto fail;
	mbytes = (size_t)h->metric_count * sizeof(struct ring_metric);
	r->metrics = malloc(mbytes ? mbytes : 1);
	r->values = malloc(h->metric_count ? h->metric_count * sizeof(float) : 1);
	r->path = strdup(path);
	if (!r->metrics || !r->values || !r->path) {
		ret = log_fill(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(r->metrics, r->map + h->metric_offset, mbytes);
	ret = ring_check_metrics(r->metrics, h->metric_count, err, errlen);
	if (ret < 0)
		goto fail;
	*rp = r;
	return 0;

fail:
	ring_reader_close(r);
	return ret;
}

void ring_reader_close(struct ring_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap((void *)r->map, r->map_size);
	if (r->fd >= 0)
		close(r->fd);
	free(r->metrics);
	free(r->values);
	free(r->path);
	free(r);
}

const struct ring_header *ring_reader_header(const struct ring_reader *r)
{
	return r ? &r->hdr : NULL;
}

const struct ring_metric *ring_reader_metrics(const struct ring_reader *r)
{
	return r ? r->metrics : NULL;
}

static const struct ring_header *ring_map_header(const struct ring_reader *r)
{
	return (const struct ring_header *)(const void *)r->map;
}

uint64_t ring_reader_head(const struct ring_reader *r)
{
	return r ? __atomic_load_n(&ring_map_header(r)->head, __ATOMIC_ACQUIRE) : 0;
}

enum ring_state ring_reader_state(struct ring_reader *r, int64_t now_mono_ns)
{
	const struct ring_header *m;
	struct stat st;
	uint64_t limit, age;

	if (!r)
		return RING_DEAD;
	m = ring_map_header(r);
	r->hdr.flags = __atomic_load_n(&m->flags, __ATOMIC_ACQUIRE);
	r->hdr.heartbeat_mono_ns = __atomic_load_n(&m->heartbeat_mono_ns, __ATOMIC_ACQUIRE);
	r->hdr.head = __atomic_load_n(&m->head, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&m->generation, __ATOMIC_ACQUIRE) != r->hdr.generation)
		return RING_RESTARTED;
	/* a vanished path is no restart: judge the file we have */
	if (stat(r->path, &st) == 0 && (st.st_dev != r->dev || st.st_ino != r->ino))
		return RING_RESTARTED;
	if (r->hdr.flags & RING_F_CLOSED)
		return RING_STOPPED;
	if (kill((pid_t)r->hdr.writer_pid, 0) < 0 && errno == ESRCH)
		return RING_DEAD;
	/* interval_ns > 0 was checked at open; saturate rather than overflow */
	limit = (uint64_t)r->hdr.interval_ns;
	limit = limit > UINT64_MAX / RING_STALL_INTERVALS ? UINT64_MAX : limit * RING_STALL_INTERVALS;
	if (now_mono_ns > r->hdr.heartbeat_mono_ns) {
		age = (uint64_t)now_mono_ns - (uint64_t)r->hdr.heartbeat_mono_ns;
		if (age > limit)
			return RING_STALLED;
	}
	return RING_LIVE;
}

const char *ring_state_name(enum ring_state s)
{
	switch (s) {
	case RING_LIVE:
		return "live";
	case RING_STALLED:
		return "stalled";
	case RING_DEAD:
		return "dead";
	case RING_STOPPED:
		return "stopped";
	case RING_RESTARTED:
		return "restarted";
	}
	return "unknown";
}

const char *ring_conn_state_name(enum ring_conn_state s)
{
	switch (s) {
	case RING_CONN_NONE:
		return "none";
	case RING_CONN_CONNECTING:
		return "connecting";
	case RING_CONN_CONNECTED:
		return "connected";
	case RING_CONN_BACKOFF:
		return "backoff";
	case RING_CONN_REFUSED:
		return "refused";
	}
	return "unknown";
}

int ring_reader_stream(struct ring_reader *r, struct ring_stream *st)
{
	const uint64_t *word;
	uint64_t seq, seq2;
	uint32_t i;
	int tries;

	if (!r || !st)
		return -EINVAL;
	if (!r->hdr.stream_offset)
		return -ENOENT;
	word = (const uint64_t *)(const void *)(r->map + r->hdr.stream_offset);
	for (tries = 0; tries < RING_READ_RETRIES; tries++) {
		seq = __atomic_load_n(&word[0], __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		ring_copy_words(st, word, sizeof(*st));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		seq2 = __atomic_load_n(&word[0], __ATOMIC_RELAXED);
		if (seq2 == seq)
			break;
	}
	if (tries == RING_READ_RETRIES)
		return -EAGAIN;
	/* the block comes from another process: check before use */
	if (st->conn_size != sizeof(struct ring_stream_conn) || st->conn_count > RING_STREAM_CONNS)
		return -EPROTO;
	for (i = 0; i < st->conn_count; i++)
		if (!ring_terminated(st->conns[i].address, sizeof(st->conns[i].address)) ||
		    !ring_terminated(st->conns[i].error, sizeof(st->conns[i].error)))
			return -EPROTO;
	return 0;
}

const char *ring_source_name(enum ring_source s)
{
	switch (s) {
	case RING_SOURCE_NONE:
		return "none";
	case RING_SOURCE_EBPF:
		return "ebpf";
	case RING_SOURCE_PROCFS:
		return "procfs";
	}
	return "unknown";
}

/* Copies the slot's time stamps and values; the caller checks seq around it. */
static void ring_copy_slot(const uint64_t *word, uint32_t count, struct ring_sample *s,
			   float *values)
{
	union ring_word u;
	uint32_t k, pairs = count / 2;

	s->mono_ns = (int64_t)__atomic_load_n(&word[1], __ATOMIC_RELAXED);
	s->real_ns = (int64_t)__atomic_load_n(&word[2], __ATOMIC_RELAXED);
	for (k = 0; k < pairs; k++) {
		u.w = __atomic_load_n(&word[3 + k], __ATOMIC_RELAXED);
		values[2 * k] = u.f[0];
		values[2 * k + 1] = u.f[1];
	}
	if (count & 1) {
		u.w = __atomic_load_n(&word[3 + pairs], __ATOMIC_RELAXED);
		values[count - 1] = u.f[0];
	}
}

int ring_reader_read(struct ring_reader *r, uint64_t index, struct ring_sample *s)
{
	const struct ring_header *h;
	const uint64_t *word;
	uint64_t head, seq, seq2, want;
	int tries;

	if (!r || !s)
		return -EINVAL;
	h = &r->hdr;
	head = ring_reader_head(r);
	if (index >= head)
		return -EAGAIN;
	if (head - index > h->slot_count)
		return -ESTALE;
	if (index > (UINT64_MAX - 2) / 2)
		return -ESTALE;	/* no writer gets there; a bad head does */
	word = (const uint64_t *)(const void *)(r->map + h->slot_offset +
						(size_t)(index % h->slot_count) * h->slot_size);
	want = 2 * index + 2;
	for (tries = 0; tries < RING_READ_RETRIES; tries++) {
		seq = __atomic_load_n(&word[0], __ATOMIC_ACQUIRE);
		if (seq < want - 1)
			return -EAGAIN;
		if (seq > want)
			return -ESTALE;
		if (seq == want) {
			ring_copy_slot(word, h->metric_count, s, r->values);
			/* the copy's loads stay before the re-check */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			seq2 = __atomic_load_n(&word[0], __ATOMIC_RELAXED);
			if (seq2 == seq) {
				s->index = index;
				s->values = r->values;
				return 0;
			}
		}
		/* odd (being written) or overwritten while copying: look again */
	}
	return -EAGAIN;
}

/* True when field, a string in an array of size bytes, equals name. */
static bool ring_field_eq(const char *field, size_t size, const char *name, bool fold)
{
	size_t n = strnlen(field, size);

	if (n == size || n == 0)
		return false;
	return fold ? strcasecmp(field, name) == 0 : strcmp(field, name) == 0;
}

int ring_metric_find(const struct ring_metric *m, uint32_t count, const char *name)
{
	uint32_t i;
	int fold;

	if (!m || !name || !*name || count > RING_METRICS_MAX)
		return -ENOENT;
	/* exact name, exact alias, then both again ignoring case */
	for (fold = 0; fold < 2; fold++) {
		for (i = 0; i < count; i++)
			if (ring_field_eq(m[i].name, sizeof(m[i].name), name, fold))
				return (int)i;
		for (i = 0; i < count; i++)
			if (ring_field_eq(m[i].alias, sizeof(m[i].alias), name, fold))
				return (int)i;
	}
	return -ENOENT;
}
