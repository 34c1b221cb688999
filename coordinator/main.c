/* ascoord: the coordinator: evaluates the autoscale settings and answers asctl */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "coord.h"
#include "coord_conf.h"
#include "daemon.h"
#include "keyfile.h"
#include "log.h"

/* -t: the key file must load as the daemon would load it. */
static int main_check_keys(const char *path)
{
	struct wire_keys keys;
	char err[512];
	int r;

	r = keyfile_load(path, &keys, err, sizeof(err));
	if (r < 0) {
		log_err("key_file: %s", err);
		return r;
	}
	wire_keys_free(&keys);
	return 0;
}

/* -t: each backend must start as the daemon would start it (keys, token and CA files). */
static int main_check_backends(const struct coord_conf *conf)
{
	sd_event *e = NULL;
	size_t i;
	int r, ret = 0;

	r = sd_event_new(&e);
	if (r < 0) {
		log_err("sd-event: %s", strerror(-r));
		return r;
	}
	for (i = 0; i < conf->engine->nsettings; i++) {
		r = backend_start(conf->backends[i], e);	/* logged */
		if (r < 0)
			ret = r;
	}
	/* the backends hold a reference: the loop goes with coord_conf_free() */
	sd_event_unref(e);
	return ret;
}

int main(int argc, char **argv)
{
	struct daemon_args args;
	struct coord *coord = NULL;
	struct coord_conf conf;
	char status[256];
	sd_event *e = NULL;
	int r;

	r = daemon_args_parse(argc, argv, "ascoord", COORD_CONF_PATH, &args);
	if (r >= 0)
		return r;
	log_init("ascoord", args.verbose);
	coord_conf_defaults(&conf);
	if (coord_conf_load(args.conf_path, &conf) < 0)
		return 2;
	if (args.test) {
		if ((conf.nlisten && main_check_keys(conf.key_file) < 0) ||
		    main_check_backends(&conf) < 0) {
			coord_conf_free(&conf);
			return 2;
		}
		printf("%s: configuration OK (%zu settings)\n", args.conf_path, conf.engine->nsettings);
		coord_conf_free(&conf);
		return 0;
	}
	if (!args.foreground && getenv("NOTIFY_SOCKET") == NULL && daemon_detach() < 0)
		fatal("cannot detach: %s", strerror(errno));

	r = daemon_event_new(&e);
	if (r < 0)
		fatal("sd-event: %s", strerror(-r));
	r = coord_start(e, &conf, &coord);
	if (r < 0)
		return 1;
	snprintf(status, sizeof(status), "evaluating %zu settings; %u agent listeners; control on %s",
		 conf.engine->nsettings, conf.nlisten, conf.control_socket);
	log_info("%s", status);
	daemon_ready(status);

	r = sd_event_loop(e);
	coord_stop(coord);
	coord_conf_free(&conf);
	sd_event_unref(e);
	return r < 0 ? 1 : 0;
}
