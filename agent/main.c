/* asagent: samples this instance's CPU and memory into the shared-memory ring */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "agent_conf.h"
#include "daemon.h"
#include "keyfile.h"
#include "log.h"
#include "timeutil.h"

struct main_state {
	struct daemon_args args;
	struct agent *agent;
	int timer_fd;		/* periodic: one wake-up and one read a sample */
	sd_event_source *timer;
	bool ready;
};

static int main_load(struct main_state *m, struct agent_conf *c)
{
	agent_conf_defaults(c);
	if (!m->args.conf_given && access(m->args.conf_path, F_OK) < 0 && errno == ENOENT) {
		log_info("%s not found; using the defaults", m->args.conf_path);
		return 0;
	}
	return agent_conf_load(m->args.conf_path, c);
}

/* -t: the key file must load too. */
static int main_check_key(const struct agent_conf *c)
{
	struct wire_keys keys;
	char err[256];
	int r;

	if (!c->ncoord)
		return 0;
	r = keyfile_load(c->key_file, &keys, err, sizeof(err));
	if (r < 0)
		log_err("key_file %s", err);
	else
		wire_keys_free(&keys);
	return r;
}

/* Starts the periodic sample timer, first tick one interval from now. */
static int main_arm(struct main_state *m)
{
	int64_t iv = agent_interval(m->agent);
	struct itimerspec its = {
		.it_interval = { iv / NSEC_PER_SEC, iv % NSEC_PER_SEC },
		.it_value = { iv / NSEC_PER_SEC, iv % NSEC_PER_SEC },
	};

	return timerfd_settime(m->timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static int main_tick(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct main_state *m = userdata;
	uint64_t expired;
	char desc[512];

	(void)s;
	(void)revents;
	/* missed ticks (a stall) are not made up: the next sample covers the gap */
	if (read(fd, &expired, sizeof(expired)) != sizeof(expired))
		return 0;
	agent_sample(m->agent);
	if (!m->ready) {
		m->ready = true;
		daemon_ready(agent_describe(m->agent, desc, sizeof(desc)));
		log_info("%s", desc);
	}
	return 0;
}

static int main_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct main_state *m = userdata;
	struct agent_conf c;
	char desc[512];

	(void)s;
	(void)si;
	sd_notify(0, "RELOADING=1");
	if (main_load(m, &c) < 0)
		log_err("%s: not reloaded; the running configuration stays", m->args.conf_path);
	else if (agent_reload(m->agent, &c) == 0 && main_arm(m) < 0)
		log_err("cannot re-arm the sample timer: %s", strerror(errno));
	sd_notifyf(0, "READY=1\nSTATUS=%s", agent_describe(m->agent, desc, sizeof(desc)));
	return 0;
}

int main(int argc, char **argv)
{
	struct main_state m = { .timer_fd = -1 };
	struct agent_conf conf;
	sd_event *e = NULL;
	int r;

	r = daemon_args_parse(argc, argv, "asagent", AGENT_CONF_PATH, &m.args);
	if (r >= 0)
		return r;
	log_init("asagent", m.args.verbose);
	if (main_load(&m, &conf) < 0)
		return 2;
	if (m.args.test) {
		if (main_check_key(&conf) < 0)
			return 2;
		printf("%s: configuration OK\n", m.args.conf_path);
		return 0;
	}
	if (!m.args.foreground && getenv("NOTIFY_SOCKET") == NULL && daemon_detach() < 0)
		fatal("cannot detach: %s", strerror(errno));

	r = daemon_event_new(&e);
	if (r < 0)
		fatal("sd-event: %s", strerror(-r));
	r = agent_start(&conf, &m.agent);
	if (r < 0)
		return 1;
	if (agent_stream_start(m.agent, e) < 0) {
		agent_stop(m.agent);
		sd_event_unref(e);
		return 1;
	}
	m.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m.timer_fd < 0 || main_arm(&m) < 0)
		fatal("timerfd: %s", strerror(errno));
	if ((r = sd_event_add_io(e, &m.timer, m.timer_fd, EPOLLIN, main_tick, &m)) < 0 ||
	    (r = sd_event_add_signal(e, NULL, SIGHUP, main_hup, &m)) < 0)
		fatal("sd-event: %s", strerror(-r));

	r = sd_event_loop(e);
	agent_stop(m.agent);
	sd_event_source_unref(m.timer);
	close(m.timer_fd);
	sd_event_unref(e);
	return r < 0 ? 1 : 0;
}
