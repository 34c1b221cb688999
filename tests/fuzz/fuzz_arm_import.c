/* fuzz_arm_import: libFuzzer target for Azure autoscale JSON import, writing and exporting back */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arm.h"
#include "log.h"
#include "setting.h"
#include "setting_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int prio, const char *msg, void *user)
{
	(void)prio;
	(void)msg;
	(void)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_conf *conf;
	struct arm_target t;
	char err[256], *text;
	json_t *root, *out;

	log_set_sink(quiet, NULL);
	root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!root)
		return 0;
	if (arm_import(root, "fuzz", &conf, &t) == 0) {
		/* what imports, writes (or says why not) and exports */
		if (setting_write_string(conf, &text, err, sizeof(err)) == 0)
			free(text);
		else if (!err[0])
			abort();
		if (arm_export(conf, NULL, &t, &out) != 0)
			abort();
		json_decref(out);
		setting_conf_free(conf);
	}
	json_decref(root);
	return 0;
}
