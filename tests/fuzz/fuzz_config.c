/* fuzz_config: libFuzzer target for the coordinator's configuration loader */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "setting.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int prio, const char *msg, void *user)
{
	(void)prio;
	(void)msg;
	(void)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct engine_conf *conf;
	char path[64];

	if (size > 1 << 16)
		return 0;
	if (fd < 0) {
		log_set_sink(quiet, NULL);
		fd = memfd_create("fuzz_config", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (setting_conf_load(path, NULL, NULL, &conf) == 0)
		setting_conf_free(conf);
	return 0;
}
