/* instances: the registry of agent instances: labels, live/stale, clock offset, sequences, latest values */
#ifndef ASCALE_INSTANCES_H
#define ASCALE_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"
#include "wire.h"

#define INSTANCES_FUTURE_NS	(2LL * 1000000000LL)	/* samples further ahead are refused */
#define INSTANCES_STALE_INTERVALS	3		/* silent this many report intervals: stale */
#define INSTANCES_PEER_MAX	64

struct instances;
struct inst;

struct instances_stats {
	uint64_t joined;		/* instances first seen */
	uint64_t went_stale;		/* live -> stale events (silence or GOODBYE) */
	uint64_t returned;		/* stale -> live events */
	uint64_t evicted;		/* stale instances dropped to make room */
	uint64_t refused_limit;		/* HELLOs refused at max_instances, metrics at max_metrics */
	uint64_t future_samples;	/* aggregates refused: ahead of our clock by > 2 s */
	uint64_t aggregates;		/* aggregates stored */
	uint64_t store_errors;		/* store_ingest refusals (bad values, no memory) */
};

/*
 * A registry feeding st (which must outlive it), with at most max_instances
 * instances and max_metrics metric names and aliases.  NULL on ENOMEM.
 */
struct instances *instances_new(struct store *st, uint64_t max_instances, uint64_t max_metrics);
void instances_free(struct instances *r);

/*
 * An accepted HELLO on connection conn (peer: its address): registers or
 * refreshes the instance, measures the clock offset and answers the
 * sequence to resume after (*resume_seq).  *old is the instance's previous
 * connection, still open, that the caller must close (NULL when none).
 * Returns 0, -ENOSPC (max_instances, counted) or -ENOMEM.
 */
int instances_hello(struct instances *r, const struct wire_hello *h, int64_t now_ns, void *conn,
		    const char *peer, struct inst **in, uint64_t *resume_seq, void **old);
/* An accepted AGGREGATE: into the store on our clock, unless from the future. */
void instances_aggregate(struct instances *r, struct inst *in, const struct wire_aggregate *a,
			 int64_t now_ns);
void instances_heartbeat(struct instances *r, struct inst *in, const struct wire_heartbeat *hb,
			 int64_t now_ns);
/* GOODBYE: the instance is stale at once, unless it only reloads. */
void instances_goodbye(struct instances *r, struct inst *in, const struct wire_goodbye *g,
		       int64_t now_ns);
/*
 * Every accepted frame, before its handler (skipped ones too): frames,
 * bytes, the highest sequence handled, last seen (a stale instance is back).
 */
void instances_account(struct instances *r, struct inst *in, uint64_t seq, size_t bytes,
		       int64_t now_ns);
/*
 * The connection conn of in closed.  A connection holds its inst only while
 * it is the instance's connection: when instances_hello() hands back *old,
 * the caller drops old's pointer (the record is replaced) before closing it.
 */
void instances_detach(struct inst *in, void *conn);

/* Marks instances silent for INSTANCES_STALE_INTERVALS report intervals stale. */
void instances_sweep(struct instances *r, int64_t now_ns);

/* Live and stale instances within a setting's scope (its deployment and endpoint; "" any). */
void instances_count(const struct instances *r, const char *deployment, const char *endpoint,
		     unsigned *live, unsigned *stale);
/* Every instance as the control socket's `agents` list. */
json_t *instances_json(const struct instances *r, int64_t now_ns);
const struct instances_stats *instances_stats(const struct instances *r);
size_t instances_size(const struct instances *r);

#endif
