/* engine: Azure autoscale semantics over the store, one setting a tick */
#ifndef ASCALE_ENGINE_H
#define ASCALE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "decision.h"
#include "setting.h"
#include "store.h"

struct engine;

/*
 * Builds an engine for conf (which must outlive it): one store series per
 * rule.  Returns NULL on ENOMEM or a series the store refuses.
 */
struct engine *engine_new(const struct engine_conf *conf);
void engine_free(struct engine *e);

/* The store the caller feeds (store_instance, store_metric, store_ingest). */
struct store *engine_store(struct engine *e);

/*
 * Evaluates setting si at time t_ns with the current instance count, and
 * fills d.  Never reads the clock: t_ns must not go back for a setting.
 * Returns 0, -EINVAL (bad setting) or -ERANGE (time went back).
 */
int engine_evaluate(struct engine *e, size_t si, int64_t t_ns, unsigned count, struct decision *d);

/*
 * The end of setting si's cooldown (INT64_MIN: none), and setting it: the
 * daemon restores it after a restart, and moves it when an action could
 * not be carried out.  engine_set_cooldown returns 0 or -EINVAL.
 */
int64_t engine_cooldown(const struct engine *e, size_t si);
int engine_set_cooldown(struct engine *e, size_t si, int64_t until_ns);

#endif
