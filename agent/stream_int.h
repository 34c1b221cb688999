/* stream_int: the stream's state and its connections', for stream.c, stream_conn.c and stream_send.c */
#ifndef ASCALE_AGENT_STREAM_INT_H
#define ASCALE_AGENT_STREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define STREAM_OUT_MAX		(256 * 1024)	/* queued bytes per connection */
#define STREAM_MARKS		256		/* aggregates queued but not yet written whole */

struct stream_mark {
	uint64_t end;		/* out_total once the frame is written */
	uint64_t seq;
};

struct stream_conn {
	struct stream *s;
	unsigned no;
	char address[AGENT_ADDR_MAX];
	char host[AGENT_ADDR_MAX];
	char port[8];
	int fd;
	sd_event_source *io;
	sd_event_source *timer;		/* backoff, handshake timeout, heartbeat */
	enum ring_conn_state state;
	bool tcp_up;			/* connect() finished, HELLO queued */
	bool ever_connected;
	struct wire_session session;
	/* output: [out_head, out_len) waits for the socket */
	uint8_t *out;
	size_t out_head, out_len;
	uint64_t out_total, out_done;	/* bytes queued and written on this connection */
	struct stream_mark marks[STREAM_MARKS];
	unsigned mark_head, mark_count;
	uint8_t *in;
	size_t in_len;
	uint64_t next_k;		/* the next interval to send */
	uint64_t last_seq;		/* the last sequence number queued on this session */
	int64_t last_queue_mono;
	int64_t heartbeat_ns;
	unsigned attempts;		/* failures since the last accepted WELCOME */
	uint64_t sent_seq, acked_seq, lost;
	uint32_t reconnects;
	int64_t since_real_ns;
	char error[RING_ERROR_MAX];
};

struct stream {
	sd_event *e;
	struct ring_reader *ring;
	struct ring_writer *writer;
	struct wire_keys keys;
	struct stream_boot boot;
	int64_t report_ns;
	int64_t sample_ns;
	char instance[RING_LABEL_MAX];
	char deployment[RING_LABEL_MAX];
	char endpoint[RING_LABEL_MAX];
	uint16_t nmetrics;		/* metrics sent: the ring's first WIRE_METRICS_MAX */
	uint64_t first_k;		/* the boot's first interval */
	uint64_t last_k;		/* the newest interval that has ended */
	uint64_t assigned;		/* the highest sequence number sent on any session */
	sd_event_source *report;	/* CLOCK_REALTIME, at the next interval's end */
	int64_t backoff_min_ns, backoff_max_ns, handshake_ns;
	unsigned nconn;
	struct stream_conn conns[AGENT_COORD_MAX];
	struct wire_aggregate agg;	/* scratch: large */
	struct wire_hello hello;	/* scratch: large */
};

/* stream.c: the connections' state into the ring's stream block */
void stream_publish(struct stream *s);

/* stream_conn.c: one connection's life: connect, handshake, what the coordinator sends, backoff */
int stream_conn_init(struct stream *s, struct stream_conn *c, const char *addr);
void stream_conn_free(struct stream_conn *c, enum wire_goodbye_reason reason, int64_t deadline);
void stream_conn_start(struct stream_conn *c);
void stream_conn_arm(struct stream_conn *c, int64_t delay_ns);
void stream_conn_fail(struct stream_conn *c, enum ring_conn_state state, int64_t delay_ns,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* stream_send.c: the output queue and the frames that go out */
uint64_t stream_send_backlog(const struct stream_conn *c);
int stream_send_hello(struct stream_conn *c);
void stream_send_pump(struct stream_conn *c);
void stream_send_heartbeat(struct stream_conn *c);
void stream_send_goodbye(struct stream_conn *c, enum wire_goodbye_reason reason, int64_t deadline);

#endif
