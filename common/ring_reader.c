/* ring_reader: maps the sample ring read-only, validates it, copies slots and the stream block lock-free */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ring_int.h"

#define RING_READ_RETRIES	1000
#define RING_STALL_INTERVALS	3

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
