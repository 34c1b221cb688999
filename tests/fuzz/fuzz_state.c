/* fuzz_state: libFuzzer target for state.json's parser, and the round trip of what it accepts */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two states read from the same text hold the same values. */
static void same(struct state *a, struct state *b)
{
	const struct state_setting *x, *y;
	size_t i;

	if (state_count(a) != state_count(b) || state_written_ns(a) / 1000000 != state_written_ns(b) / 1000000)
		abort();
	for (i = 0; i < state_count(a); i++) {
		x = state_at(a, i);
		y = state_at(b, i);
		if (strcmp(x->name, y->name) || x->have_count != y->have_count || x->in_flight != y->in_flight ||
		    x->have_action != y->have_action || x->have_sim != y->have_sim ||
		    (x->have_count && x->count != y->count) || (x->have_sim && x->sim_count != y->sim_count) ||
		    (x->have_action && (x->last.from != y->last.from || strcmp(x->last.id, y->last.id) ||
					strcmp(x->last.rule, y->last.rule))) ||
		    (x->in_flight && (x->op.capacity != y->op.capacity || !x->op.record != !y->op.record ||
				      (x->op.record && !json_equal(x->op.record, y->op.record)))))
			abort();
		if (state_find(b, x->name) != y)
			abort();
	}
}

/*
 * What parses must format (the parser takes nothing the file cannot hold),
 * parse again to the same values, and format to the same text.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *st, *again;
	char err[512], *a, *b;
	int r;

	if (size > 1 << 20)
		return 0;
	err[0] = '\0';
	r = state_parse((const char *)data, size, &st, err, sizeof(err));
	if (r < 0) {
		if (st || (r == -EINVAL && (err[0] < '0' || err[0] > '9')))	/* "LINE:COL: ..." */
			abort();
		return 0;
	}
	if (state_format(st, state_written_ns(st), &a, err, sizeof(err)) < 0)
		abort();
	if (state_parse(a, strlen(a), &again, err, sizeof(err)) < 0)
		abort();
	same(st, again);
	if (state_format(again, state_written_ns(again), &b, err, sizeof(err)) < 0 || strcmp(a, b))
		abort();
	free(a);
	free(b);
	state_free(again);
	state_free(st);
	return 0;
}
