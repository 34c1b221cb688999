/* ascoord: the coordinator: evaluates the autoscale settings and answers asctl */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "coord.h"
#include "coord_conf.h"
#include "daemon.h"
#include "keyfile.h"
#include "log.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ascoord [-c FILE] [-f] [-t] [-v]\n"
		"  -c FILE  configuration (default %s)\n"
		"  -f       stay in the foreground\n"
		"  -t       check the configuration and exit\n"
		"  -v       log debug messages\n"
		"  -V       print the version and exit\n", COORD_CONF_PATH);
}

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

static int main_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
	const char *path = COORD_CONF_PATH;
	bool foreground = false, test = false, verbose = false;
	struct coord *coord = NULL;
	struct coord_conf conf;
	char status[256];
	sd_event *e = NULL;
	sigset_t mask;
	int opt, r;

	while ((opt = getopt(argc, argv, "c:ftvVh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			test = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("ascoord %s\n", ASCALE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("ascoord", verbose);
	coord_conf_defaults(&conf);
	if (coord_conf_load(path, &conf) < 0)
		return 2;
	if (test) {
		if (conf.nlisten && main_check_keys(conf.key_file) < 0) {
			coord_conf_free(&conf);
			return 2;
		}
		printf("%s: configuration OK (%zu settings)\n", path, conf.engine->nsettings);
		coord_conf_free(&conf);
		return 0;
	}
	if (!foreground && getenv("NOTIFY_SOCKET") == NULL && daemon_detach() < 0)
		fatal("cannot detach: %s", strerror(errno));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&e);
	if (r < 0)
		fatal("sd-event: %s", strerror(-r));
	if ((r = sd_event_add_signal(e, NULL, SIGTERM, main_term, NULL)) < 0 ||
	    (r = sd_event_add_signal(e, NULL, SIGINT, main_term, NULL)) < 0 ||
	    (r = sd_event_set_watchdog(e, true)) < 0)
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
