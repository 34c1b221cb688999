/* backend_sim: an in-process endpoint whose count lives in memory (and state.json) */
#include <errno.h>
#include <string.h>

#include "backend.h"
#include "timeutil.h"

struct sim {
	unsigned count;
	unsigned target;
	int64_t delay_ns;	/* how long a set takes */
};

static int sim_conf_key(struct backend *b, struct conf_ctx *c, const char *key, const char *value)
{
	struct sim *p = b->priv;
	uint64_t u;

	if (strcmp(key, "initial") == 0) {
		if (conf_uint(c, key, value, 0, BACKEND_CAPACITY_MAX, &u) < 0)
			return -EINVAL;
		p->count = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "delay") == 0)
		return conf_duration(c, key, value, NSEC_PER_SEC, 0, 3600 * NSEC_PER_SEC, &p->delay_ns);
	return -ENOENT;
}

static void sim_read(struct backend *b)
{
	struct sim *p = b->priv;

	b->res.capacity = p->count;
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "capacity %u", p->count);
}

static void sim_apply(struct backend *b)
{
	struct sim *p = b->priv;

	p->count = p->target;
	b->res.capacity = p->count;
	b->res.have_capacity = true;
	backend_finish(b, BACKEND_OK, 0, "capacity %u set", p->count);
}

static int sim_get(struct backend *b)
{
	b->res.attempts = 1;
	return backend_after(b, 0, sim_read);
}

static int sim_set(struct backend *b, unsigned capacity)
{
	struct sim *p = b->priv;

	p->target = capacity;
	b->res.attempts = 1;
	return backend_after(b, p->delay_ns, sim_apply);
}

static void sim_seed(struct backend *b, unsigned count)
{
	struct sim *p = b->priv;

	p->count = count;
}

const struct backend_ops backend_sim_ops = {
	.name = "sim",
	.priv_size = sizeof(struct sim),
	.conf_key = sim_conf_key,
	.get = sim_get,
	.set = sim_set,
	.seed = sim_seed,
};
