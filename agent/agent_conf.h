/* agent conf: the [agent] section of asagent.conf */
#ifndef ASCALE_AGENT_AGENT_CONF_H
#define ASCALE_AGENT_AGENT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring.h"

#define AGENT_CONF_PATH		"/etc/ascale/asagent.conf"
#define AGENT_RING_PATH		"/run/ascale/asagent.ring"
#define AGENT_COORD_MAX		8	/* coordinators the agent streams to */
#define AGENT_ADDR_MAX		262	/* "host:port": a DNS name, ':', a port */

enum agent_source {
	AGENT_SOURCE_AUTO,
	AGENT_SOURCE_EBPF,
	AGENT_SOURCE_PROCFS,
};

enum agent_attach {
	AGENT_ATTACH_AUTO,	/* tp_btf, else raw_tp */
	AGENT_ATTACH_TP_BTF,
	AGENT_ATTACH_RAW_TP,
};

struct agent_conf {
	int64_t sample_interval_ns;
	char ring_path[RING_PATH_MAX];
	int64_t ring_seconds_ns;
	char ring_group[64];		/* "" : mode 0644, else 0640 with this group */
	enum agent_source source;
	enum agent_attach attach;
	char cgroup[RING_PATH_MAX];	/* "" : the whole machine */
	char instance[RING_LABEL_MAX];
	char deployment[RING_LABEL_MAX];
	char endpoint[RING_LABEL_MAX];
	/* streaming to coordinators: none when ncoord is 0 */
	unsigned ncoord;
	char coordinators[AGENT_COORD_MAX][AGENT_ADDR_MAX];
	int64_t report_interval_ns;
	char key_file[RING_PATH_MAX];
};

void agent_conf_defaults(struct agent_conf *c);
/* Reads path over the defaults; returns 0, -EINVAL (errors logged as FILE:LINE) or -errno. */
int agent_conf_load(const char *path, struct agent_conf *c);
/*
 * Splits "host:port" or "[v6]:port" into host and port; 0 or -EINVAL.
 * hostlen >= AGENT_ADDR_MAX always fits.
 */
int agent_conf_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);
/* True when the settings the stream uses differ (coordinators, key, report interval, labels). */
bool agent_conf_stream_changed(const struct agent_conf *o, const struct agent_conf *n);
/* Slots needed to keep ring_seconds of history at sample_interval. */
uint32_t agent_conf_slots(const struct agent_conf *c);

#endif
