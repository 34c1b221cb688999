/* ingest_int: the ingest's state, shared by ingest.c and ingest_conn.c */
#ifndef ASCALE_INGEST_INT_H
#define ASCALE_INGEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "ingest.h"

#define INGEST_LAT_PER_DECADE	8	/* latency histogram: 8 buckets a decade ... */
#define INGEST_LAT_BUCKETS	(7 * INGEST_LAT_PER_DECADE + 1)	/* ... from 1 µs to 10 s, then one above */

struct conn {
	struct ingest *ig;
	struct conn *prev, *next;
	int fd;
	sd_event_source *io;
	struct wire_session sess;
	struct inst *inst;		/* after an accepting WELCOME */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;			/* what send() did not take */
	size_t out_len, out_off;
	bool closing;			/* refused: flush, then wait for EOF or INGEST_LINGER_NS */
	int64_t opened_ns, last_rx_ns, closing_ns;	/* monotonic */
	int64_t idle_ns;
	char peer[INSTANCES_PEER_MAX];
	char name[WIRE_NAME_MAX + 1];	/* the HELLO's instance, for messages */
	int64_t read_ns;		/* monotonic: the read() that completed the frames in hand */
	bool acks;			/* the HELLO's minor has ACK (>= 1) */
	uint64_t ack_seq;		/* our sequence for ACKs, a per-session counter */
	uint64_t stored_seq;		/* the newest AGGREGATE of the session in the store */
	uint64_t acked_seq;		/* ... and the newest acknowledged */
	int64_t ack_ns, ack_gap_ns;	/* monotonic: the last ACK; the least time between two */
};

struct ingest {
	sd_event *event;
	const struct coord_conf *conf;
	struct instances *reg;
	struct wire_keys keys;
	bool have_keys;
	unsigned nlisten;
	int lfd[COORD_LISTEN_MAX];
	sd_event_source *lio[COORD_LISTEN_MAX];
	bool paused;			/* out of file descriptors: accepting again at the next sweep */
	sd_event_source *sweep;
	struct conn *conns;
	uint64_t conn_max;
	unsigned log_budget;
	struct ingest_stats st;
	uint64_t lat[INGEST_LAT_BUCKETS];	/* AGGREGATEs by read-to-stored delay */
	uint64_t lat_count;
	int64_t lat_max_ns;
};

/* ingest.c: the read-to-stored delay of one AGGREGATE, into the latency histogram */
void ingest_lat_add(struct ingest *ig, int64_t ns);

/* ingest_conn.c: an accepted connection's events, its ACKs (force: whatever the gap) and its end */
int ingest_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
void ingest_conn_ack(struct conn *c, int64_t now, bool force);
void ingest_conn_free(struct conn *c);

#endif
