/* state_int: the state's settings table, shared by state.c, state_parse.c and state_format.c */
#ifndef ASCALE_STATE_INT_H
#define ASCALE_STATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

struct state {
	char *dir;			/* NULL: parsed from text, never saved */
	bool loaded;
	int64_t written_ns;
	size_t n, cap;
	struct state_setting **s;	/* pointers stay valid as settings are added */
};

/* state.c */
struct state *state_new(void);
/* A new setting named name (no cooldown), after the others; NULL on ENOMEM. */
struct state_setting *state_add(struct state *st, const char *name);

#endif
