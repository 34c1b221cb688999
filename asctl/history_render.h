/* history_render: "asctl history" as a table, and one record in full with its decision (--id) */
#ifndef ASCTL_HISTORY_RENDER_H
#define ASCTL_HISTORY_RENDER_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* The records as an aligned table cut to the terminal's width; 0 or -errno. */
int history_render_table(const json_t *const *recs, size_t n, FILE *f);
/* Every field of rec, then its decision: each rule against its threshold; 0 or -errno. */
int history_render_detail(const json_t *rec, FILE *f);

#endif
