/* ring_int: what ring.c, ring_writer.c and ring_reader.c share, not for other modules */
#ifndef ASCALE_RING_INT_H
#define ASCALE_RING_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ring.h"

/* Two floats in one 64-bit word: slots are stored and copied a word at a time. */
union ring_word {
	uint64_t w;
	float f[2];
};

static inline uint64_t ring_slot_bytes(uint32_t metric_count)
{
	return sizeof(struct ring_slot) + (uint64_t)metric_count * sizeof(float);
}

/* True when s is NUL-terminated within its size bytes. */
static inline bool ring_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#endif
