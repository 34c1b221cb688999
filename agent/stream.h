/* stream: the agent's connections to its coordinators: HELLO, aggregates from the ring, backoff */
#ifndef ASCALE_STREAM_H
#define ASCALE_STREAM_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "agent_conf.h"
#include "ring.h"
#include "wire.h"

struct stream;

/* What outlives a reload: a reload keeps the boot, so sequence numbers go on. */
struct stream_boot {
	uint64_t id;		/* HELLO's boot_id, non-zero; 0 asks stream_new for a random one */
	int64_t start_real_ns;	/* the first interval of the boot is the one holding this */
	uint64_t assigned;	/* the highest sequence number sent so far */
};

/*
 * Loads conf->key_file and starts one connection per coordinator on e.
 * Aggregates are read from ring (the agent's own ring, read-only); the
 * connection state is published in writer's stream block (writer may be
 * NULL).  Both must outlive the stream or be replaced with
 * stream_set_ring().  Returns 0, or -errno after logging why.
 */
int stream_new(sd_event *e, const struct agent_conf *conf, struct ring_reader *ring,
	       struct ring_writer *writer, const struct stream_boot *boot, struct stream **sp);
/* The agent made a new ring (a reload): read and publish there from now on. */
void stream_set_ring(struct stream *s, struct ring_reader *ring, struct ring_writer *writer);
void stream_boot(const struct stream *s, struct stream_boot *boot);
/*
 * Sends GOODBYE with reason on every established session (waiting at most
 * a fraction of a second for the bytes to leave), closes everything and
 * frees s.
 */
void stream_free(struct stream *s, enum wire_goodbye_reason reason);

/* A copy of what stream_publish writes into the ring (for tests). */
void stream_state(const struct stream *s, struct ring_stream *st);
/* Test knobs: backoff bounds (default 1 s .. 30 s) and the handshake timeout (10 s). */
void stream_set_timing(struct stream *s, int64_t backoff_min_ns, int64_t backoff_max_ns,
		       int64_t handshake_ns);

#endif
