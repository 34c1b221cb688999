/* fuzz_condition: libFuzzer target for the az condition grammar */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "condition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct condition c, again;
	char text[2048], err[256], out[4096];

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (condition_parse(text, &c, err, sizeof(err)) == 0) {
		/* what parses formats, and what formats parses back the same */
		if (condition_format(&c, out, sizeof(out)) < 0)
			abort();
		if (condition_parse(out, &again, err, sizeof(err)) != 0)
			abort();
		if (again.op != c.op || again.agg != c.agg || again.period_ns != c.period_ns ||
		    again.threshold != c.threshold || again.nfilters != c.nfilters)
			abort();
	}
	return 0;
}
