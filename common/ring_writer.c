/* ring_writer: the agent's side of the sample ring: creates it, appends slots, publishes the stream block */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ring_int.h"

#define RING_SLOT_ALIGN		64	/* slot area starts on a cache line */

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

static uint64_t ring_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

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
