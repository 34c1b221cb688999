/* coord_conf: the daemon's own keys of [coordinator] in ascoord.conf */
#ifndef ASCALE_COORD_CONF_H
#define ASCALE_COORD_CONF_H

#include <stdint.h>

#include "notify.h"
#include "setting.h"

#define COORD_CONF_PATH		"/etc/ascale/ascoord.conf"
#define COORD_CONTROL_PATH	"/run/ascale/ascoord.sock"
#define COORD_LISTEN_MAX	8

struct conf_ctx;
struct backend;

/* A setting's webhooks (notify = URL, several allowed). */
struct coord_notify {
	char **urls;
	size_t n;
};

/* An [autoscale NAME] key the engine does not know: kept for the setting's backend. */
struct coord_backend_key {
	char *setting, *key, *value, *path;
	unsigned line;
};

struct coord_conf {
	char listen[COORD_LISTEN_MAX][128];	/* host:port, [v6]:port */
	unsigned nlisten;
	unsigned listen_line;			/* of the first listen, for messages */
	char control_socket[108];		/* sun_path */
	char control_group[64];			/* may use the control socket; "" : root only */
	char state_dir[256];
	char key_file[256];
	int64_t settle_ns;			/* tick this long after each boundary */
	int64_t startup_grace_ns;		/* after start, ingest without evaluating */
	uint64_t max_instances;
	uint64_t max_metrics;
	int64_t reconcile_ns;			/* read each backend's count this often */
	uint64_t history_max_bytes;		/* history.jsonl is rotated past it */
	uint64_t history_keep;			/* rotated files kept */
	struct notify_policy notify_policy;
	struct coord_notify *notify;		/* one a setting */
	struct engine_conf *engine;
	struct backend **backends;		/* one a setting, configured, not started */
	/* loader: the kept backend keys */
	struct coord_backend_key *keys;
	size_t nkeys;
};

void coord_conf_defaults(struct coord_conf *c);
/*
 * Loads path (engine sections included); errors are FILE:LINE.  Every agent
 * frame is authenticated with a pre-shared key, so listen without key_file
 * is an error.  Each setting's backend is created and handed the setting's
 * other keys (an unknown one is an error).
 */
int coord_conf_load(const char *path, struct coord_conf *c);
void coord_conf_free(struct coord_conf *c);

#endif
