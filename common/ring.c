/* ring: the sample ring's layout checks, state and source names, metric lookup (docs/ring.md) */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "ring_int.h"

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
