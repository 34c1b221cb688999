/* store_int: the store's data structures, shared by store.c and store_instance.c */
#ifndef ASCALE_STORE_INT_H
#define ASCALE_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define SPARES		2		/* open-grain buffers kept for reuse, per series */
#define NONE		INT64_MIN

struct instance {
	char *name, *deployment, *endpoint;
	size_t nlabels;
	char **keys, **values;
	char *hkey;			/* the interning key */
};

struct slot {
	int64_t g;			/* grain index, NONE when empty */
	double v;			/* the grain statistic */
	uint64_t samples;
};

struct block {
	int64_t b;
	double min, max;
};

/* Per-instance sums of one open grain; the arrays are allocated when a grain opens. */
struct open_grain {
	int64_t g;			/* NONE when free */
	unsigned ntouched;
	unsigned cap;			/* entries of touched, sum, cnt */
	unsigned *touched;		/* local instance indexes with samples */
	double *sum;
	uint64_t *cnt;
};

struct series {
	int metric;
	int64_t grain_ns;
	int64_t w;			/* window in grains */
	enum grain_stat stat;
	enum cond_agg agg;
	unsigned nfilters;
	struct cond_filter *filters;
	char *deployment, *endpoint;
	int32_t *match;			/* per instance id: -2 unknown, -1 no, else local index */
	size_t nmatch;
	unsigned nlocal;
	unsigned *retired;		/* local indexes of forgotten instances, to reuse */
	unsigned nretired, cap_retired;
	struct open_grain *open;	/* grain g in open[g % nopen_max] */
	int64_t nopen_max;		/* the lateness horizon in grains */
	unsigned nopen;			/* open grains */
	int64_t newest;			/* the newest grain that took data; NONE before any */
	struct open_grain spare[SPARES];	/* buffers of closed grains, g NONE */
	unsigned nspare;
	int64_t g_ring;			/* ring size in grains, a multiple of BLOCK */
	struct slot *ring;
	struct block *blocks;
	int64_t final_end;		/* grains below are closed; NONE before any */
	__int128 run_sum;		/* over the closed window [final_end - w, final_end), in nano-units */
	uint64_t run_samples;
	int64_t run_grains;
	int64_t first_g, last_g;
	double last_v;
};

struct metric {
	char *name;
	int *series;
	size_t nseries;
};

struct store {
	struct instance *inst;		/* name NULL: a forgotten id, free for reuse */
	size_t ninst, cap_inst;
	int *free_ids;			/* forgotten ids */
	size_t nfree, cap_free;
	int64_t lateness_ns;		/* 0: OPEN_GRAINS grains */
	int *hash;			/* open addressing over inst, -1 empty */
	size_t hash_size;
	struct metric *metrics;
	size_t nmetrics;
	struct series *series;
	size_t nseries;
	uint64_t late;
};

/* A copy of s, "" for NULL. */
static inline char *store_dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* store_instance.c: the instance index and the series each instance feeds */
void store_instance_free(struct instance *in);
/* The series' local index of an instance, or -1 when it does not match. */
int store_instance_local(struct store *st, struct series *s, int id);

#endif
