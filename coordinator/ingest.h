/* ingest: the agents' TCP streams: listening sockets, connections, frames into the registry */
#ifndef ASCALE_INGEST_H
#define ASCALE_INGEST_H

#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "coord_conf.h"
#include "instances.h"
#include "wire.h"

#define INGEST_HELLO_TIMEOUT_NS	(10LL * 1000000000LL)	/* a connection's HELLO must come this soon */
#define INGEST_IDLE_MIN_NS	(30LL * 1000000000LL)	/* sessions silent this long (or 10 reports) close */

struct ingest;

struct ingest_stats {
	uint64_t connections;		/* accepted */
	uint64_t connections_open;
	uint64_t connections_refused;	/* over the connection limit, closed at once */
	uint64_t sessions;		/* accepting WELCOMEs sent */
	uint64_t hello_refused;		/* refusing WELCOMEs sent */
	uint64_t replaced;		/* sessions closed by a newer one of the same instance */
	uint64_t timeouts;		/* no HELLO in time, or idle */
	uint64_t closed_error;		/* closed on a bad frame */
	uint64_t bytes;
	uint64_t acks;			/* ACKs sent (1.1 agents) */
	struct wire_stats wire;
};

/*
 * Loads conf->key_file and listens on every conf->listen address.  Accepted
 * data goes into reg, which must outlive the ingest.  Returns 0 or -errno,
 * logged.
 */
int ingest_open(sd_event *e, const struct coord_conf *conf, struct instances *reg,
		struct ingest **ig);
void ingest_close(struct ingest *ig);
const struct ingest_stats *ingest_stats(const struct ingest *ig);
/*
 * The ingest's counters and the registry's, as the control socket's `stats`,
 * with "latency_us": {"p50", "p99", "max", "count"}: per AGGREGATE, from the
 * read() that completed it to the return of its last store_ingest.
 */
json_t *ingest_stats_json(const struct ingest *ig, const struct instances *reg);

/* ingest_listen.c: a listening TCP socket on "HOST:PORT" or "[V6]:PORT"; the fd or -errno, logged. */
int ingest_listen(const char *addr);
/* The peer of fd as "ADDR:PORT" or "[V6]:PORT". */
void ingest_peer_name(int fd, char *buf, size_t len);

#endif
