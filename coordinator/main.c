/* ascoord: the coordinator: evaluates the autoscale settings and answers asctl */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
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

/* What -t checks: the configuration, its key file and its backends; 0 or -errno (logged). */
static int main_check(const char *path, struct coord_conf *conf)
{
	coord_conf_defaults(conf);
	if (coord_conf_load(path, conf) < 0)
		return -EINVAL;
	if ((conf->nlisten && main_check_keys(conf->key_file) < 0) || main_check_backends(conf) < 0) {
		coord_conf_free(conf);
		return -EINVAL;
	}
	return 0;
}

/* Set across a reload's exec by a daemon that had detached, so that it does not detach again. */
#define MAIN_DETACHED_ENV	"ASCOORD_DETACHED"

struct main_reload {
	const char *conf_path;
	bool exec;
};

/*
 * SIGHUP: a configuration that passes -t's checks takes over by running
 * ascoord again in place (same PID; state.json and the agents' resent
 * backlog carry everything over); one that does not is refused and the
 * running one stays.
 */
static int main_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct main_reload *m = userdata;
	struct coord_conf conf;

	(void)si;
	if (main_check(m->conf_path, &conf) < 0) {
		log_err("%s: not reloaded; the running configuration stays", m->conf_path);
		return 0;
	}
	coord_conf_free(&conf);
	log_notice("%s: reloading: ascoord starts again in place", m->conf_path);
	sd_notify(0, "RELOADING=1");
	m->exec = true;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The reload's second half: ascoord again, in this process, on the same (absolute) configuration. */
static void main_reexec(char *argv0, const struct daemon_args *args, bool detached)
{
	char *av[6];
	int n = 0;

	av[n++] = argv0;
	av[n++] = "-c";
	av[n++] = (char *)args->conf_path;
	if (args->foreground)
		av[n++] = "-f";
	if (args->verbose)
		av[n++] = "-v";
	av[n] = NULL;
	if (detached)
		setenv(MAIN_DETACHED_ENV, "1", 1);
	execv("/proc/self/exe", av);
	log_err("cannot start again to reload: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct daemon_args args;
	struct coord *coord = NULL;
	struct coord_conf conf;
	struct main_reload reload = { 0 };
	char status[256];
	sd_event *e = NULL;
	bool detached;
	int r;

	r = daemon_args_parse(argc, argv, "ascoord", COORD_CONF_PATH, &args);
	if (r >= 0)
		return r;
	log_init("ascoord", args.verbose);
	detached = getenv(MAIN_DETACHED_ENV) != NULL;
	unsetenv(MAIN_DETACHED_ENV);
	if (detached)
		log_to_syslog();
	if (args.test) {
		if (main_check(args.conf_path, &conf) < 0)
			return 2;
		printf("%s: configuration OK (%zu settings)\n", args.conf_path, conf.engine->nsettings);
		coord_conf_free(&conf);
		return 0;
	}
	coord_conf_defaults(&conf);
	if (coord_conf_load(args.conf_path, &conf) < 0)
		return 2;
	if (!detached && !args.foreground && getenv("NOTIFY_SOCKET") == NULL) {
		if (daemon_detach() < 0)
			fatal("cannot detach: %s", strerror(errno));
		detached = true;
	}

	r = daemon_event_new(&e);
	if (r >= 0) {
		reload.conf_path = args.conf_path;
		r = sd_event_add_signal(e, NULL, SIGHUP, main_hup, &reload);
	}
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
	if (r >= 0 && reload.exec) {
		main_reexec(argv[0], &args, detached);
		return 1;
	}
	return r < 0 ? 1 : 0;
}
