/* ring: the agent's shared-memory sample ring, one writer and lock-free readers (docs/ring.md) */
#ifndef ASCALE_RING_H
#define ASCALE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RING_MAGIC		0x474e495245435341ULL	/* "ASCERING" little-endian */
#define RING_VERSION_MAJOR	1	/* readers refuse another major */
#define RING_VERSION_MINOR	1	/* added fields only; readers accept any minor (1: stream block) */

#define RING_HEADER_SIZE	1024
#define RING_HEADER_MIN		552	/* a format 1.0 header */
#define RING_NAME_MAX		64
#define RING_ALIAS_MAX		48
#define RING_UNIT_MAX		16
#define RING_LABEL_MAX		64
#define RING_PATH_MAX		256
#define RING_METRICS_MAX	4096
#define RING_SLOTS_MAX		(1u << 24)
#define RING_STREAM_CONNS	4	/* coordinators shown in the stream block */
#define RING_ADDR_MAX		64
#define RING_ERROR_MAX		80

enum ring_source {
	RING_SOURCE_NONE = 0,
	RING_SOURCE_EBPF = 1,
	RING_SOURCE_PROCFS = 2,
};

/* header flags */
#define RING_F_CLOSED		0x1	/* the writer exited cleanly; no more slots will come */

/* One metric descriptor: the value at the same index in every slot. */
struct ring_metric {
	char name[RING_NAME_MAX];	/* "Percentage CPU", "cpu3 busy" */
	char alias[RING_ALIAS_MAX];	/* other accepted name, or "" */
	char unit[RING_UNIT_MAX];	/* "percent" */
};

/*
 * The file starts with this header (RING_HEADER_SIZE bytes, zero padded),
 * then metric_count descriptors at metric_offset, then slot_count slots of
 * slot_size bytes at slot_offset.  All integers are in host byte order: the
 * ring never leaves the machine.  Fields marked (atomic) change while readers
 * look; the rest are fixed once generation is non-zero.
 */
struct ring_header {
	uint64_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t header_size;		/* RING_HEADER_SIZE */
	uint64_t file_size;
	uint32_t metric_offset;
	uint32_t metric_size;		/* sizeof(struct ring_metric) */
	uint32_t metric_count;
	uint32_t slot_offset;
	uint32_t slot_size;		/* bytes per slot, a multiple of 8 */
	uint32_t slot_count;
	int64_t interval_ns;		/* sampling interval */
	int64_t created_real_ns;
	uint64_t generation;		/* (atomic) random, non-zero once ready */
	uint64_t head;			/* (atomic) slots written since creation */
	int64_t heartbeat_mono_ns;	/* (atomic) CLOCK_MONOTONIC of the writer's last sign of life */
	uint32_t flags;			/* (atomic) RING_F_* */
	uint32_t writer_pid;
	uint32_t source;		/* enum ring_source */
	uint32_t ncpu;			/* CPUs with a per-CPU metric */
	char instance[RING_LABEL_MAX];
	char deployment[RING_LABEL_MAX];
	char endpoint[RING_LABEL_MAX];
	char cgroup[RING_PATH_MAX];	/* measured cgroup, or "" for the whole machine */
	/* minor 1; zero in a 1.0 file (a reader's copy zeroes them there) */
	uint32_t stream_offset;		/* the stream block, or 0 for none */
	uint32_t stream_size;		/* its bytes, >= sizeof(struct ring_stream) */
};

/* The state of one connection to a coordinator. */
enum ring_conn_state {
	RING_CONN_NONE = 0,
	RING_CONN_CONNECTING = 1,	/* resolving, connecting or waiting for WELCOME */
	RING_CONN_CONNECTED = 2,	/* WELCOME accepted: aggregates flow */
	RING_CONN_BACKOFF = 3,		/* waiting before the next attempt */
	RING_CONN_REFUSED = 4,		/* the coordinator refused the HELLO; backing off */
};

/* One coordinator in the stream block (192 bytes). */
struct ring_stream_conn {
	char address[RING_ADDR_MAX];	/* "host:port" as configured, cut to fit */
	char error[RING_ERROR_MAX];	/* the last error, or "" */
	uint32_t state;			/* enum ring_conn_state */
	uint32_t reconnects;		/* connections made after the first */
	uint64_t sent_seq;		/* the last aggregate written whole to the socket, 0: none */
	uint64_t acked_seq;		/* the newest ACK, or WELCOME's resume_seq until one came */
	uint64_t backlog;		/* aggregates due but not yet sent */
	uint64_t lost;			/* aggregates the ring no longer held when due */
	int64_t since_real_ns;		/* CLOCK_REALTIME of the last state change */
};

/*
 * The agent's connections to its coordinators, at stream_offset.  The writer
 * updates it under the seqlock seq (odd while writing); readers copy it with
 * ring_reader_stream(), which retries a torn copy.
 */
struct ring_stream {
	uint64_t seq;
	uint32_t conn_size;		/* sizeof(struct ring_stream_conn) */
	uint32_t conn_count;		/* entries in use, <= RING_STREAM_CONNS */
	uint32_t configured;		/* coordinators configured (more may exist than are shown) */
	uint32_t reserved;
	uint64_t boot_id;		/* the agent's HELLO boot id, 0 while not streaming */
	int64_t report_interval_ns;
	uint64_t last_seq;		/* the newest aggregate's sequence number */
	int64_t updated_real_ns;
	struct ring_stream_conn conns[RING_STREAM_CONNS];
};

/*
 * A slot.  seq is 2 * index + 1 while slot number index is being written and
 * 2 * index + 2 once it is complete, so a reader that asks for index i knows
 * whether it got i, a slot still being written, or a later lap.
 */
struct ring_slot {
	uint64_t seq;
	int64_t mono_ns;		/* CLOCK_MONOTONIC at the end of the sample interval */
	int64_t real_ns;		/* CLOCK_REALTIME at the same instant */
	float values[];			/* metric_count values; NaN where unknown */
};

/* ---- writer ---- */

struct ring_params {
	int64_t interval_ns;
	uint32_t slot_count;
	uint32_t metric_count;
	const struct ring_metric *metrics;
	enum ring_source source;
	uint32_t ncpu;
	const char *instance;
	const char *deployment;
	const char *endpoint;
	const char *cgroup;
	mode_t mode;			/* 0644, or 0640 with gid */
	gid_t gid;			/* (gid_t)-1 to leave the group alone */
};

struct ring_writer;

/*
 * Creates the ring under a temporary name in the same directory, fills the
 * header and descriptors, sets mode and group, stores a fresh generation last
 * and renames it onto path.  Returns 0, -EINVAL for bad params or -errno;
 * logs nothing.
 */
int ring_writer_create(const char *path, const struct ring_params *p,
		       struct ring_writer **w);
/*
 * Appends one sample of metric_count values; also beats the heart with
 * mono_ns.  Makes no system call and no allocation.
 */
int ring_writer_append(struct ring_writer *w, int64_t mono_ns, int64_t real_ns,
		       const float *values);
void ring_writer_heartbeat(struct ring_writer *w, int64_t mono_ns);
/*
 * Publishes the stream state (st->seq and st->conn_size are the writer's to
 * set).  Makes no system call.
 */
void ring_writer_stream(struct ring_writer *w, const struct ring_stream *st);
/* Marks the ring closed (a clean exit), unmaps it and leaves the file readable. */
void ring_writer_close(struct ring_writer *w);

/* ---- reader ---- */

enum ring_state {
	RING_LIVE,		/* heartbeat within three intervals */
	RING_STALLED,		/* heartbeat older than three intervals, writer alive */
	RING_DEAD,		/* writer process gone without closing the ring */
	RING_STOPPED,		/* writer closed the ring cleanly */
	RING_RESTARTED,		/* a new ring replaced the one we mapped: reopen */
};

struct ring_sample {
	uint64_t index;
	int64_t mono_ns;
	int64_t real_ns;
	const float *values;	/* metric_count values, in the reader's buffer */
};

struct ring_reader;

/*
 * Maps path read-only and validates the header against the file size.  On
 * failure returns -errno (-EPROTO for a bad file) and, when err is set, a
 * sentence saying what is wrong.  A reader belongs to one thread at a time.
 */
int ring_reader_open(const char *path, struct ring_reader **r, char *err, size_t errlen);
void ring_reader_close(struct ring_reader *r);
/* The validated copies taken at open; ring_reader_state() refreshes the header's (atomic) fields. */
const struct ring_header *ring_reader_header(const struct ring_reader *r);
const struct ring_metric *ring_reader_metrics(const struct ring_reader *r);
/* The index of the next slot the writer will fill (slots [head - slot_count, head) may be read). */
uint64_t ring_reader_head(const struct ring_reader *r);
/* The writer's state, judged at now_mono_ns (checked in the order restarted, stopped, dead, stalled). */
enum ring_state ring_reader_state(struct ring_reader *r, int64_t now_mono_ns);
const char *ring_state_name(enum ring_state s);
const char *ring_source_name(enum ring_source s);

/*
 * Copies slot index into the reader's buffer (valid until the next read).
 * Returns 0, -EAGAIN when the slot is not written yet, or -ESTALE when the
 * writer has lapped it.  Torn reads are retried inside.
 */
int ring_reader_read(struct ring_reader *r, uint64_t index, struct ring_sample *s);

/*
 * Copies the stream block into *st.  Returns 0, -ENOENT when the ring has
 * none (a 1.0 ring, or no block), -EPROTO for a malformed block or -EAGAIN
 * when the writer kept changing it.
 */
int ring_reader_stream(struct ring_reader *r, struct ring_stream *st);
const char *ring_conn_state_name(enum ring_conn_state s);

/*
 * Finds the metric named name (or with that alias): exact name, exact alias,
 * then both ignoring ASCII case.  Returns its index or -ENOENT.
 */
int ring_metric_find(const struct ring_metric *m, uint32_t count, const char *name);

#endif
