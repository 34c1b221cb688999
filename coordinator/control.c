/* control: the coordinator's Unix control socket, one JSON request and reply a connection (docs/control.md) */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "control.h"
#include "log.h"

#define CONTROL_CONNS_MAX	64
#define CONTROL_TIMEOUT_US	(5 * 1000000ULL)
#define CONTROL_GROUPS_MAX	256

struct control_conn {
	struct control *ctl;
	struct control_conn *next, **pprev;	/* in ctl->conns */
	int fd;
	sd_event_source *io, *timer;
	char in[CONTROL_REQUEST_MAX + 1];
	size_t in_len;
	char *out;		/* the reply, while it is being written */
	size_t out_len, out_off;
};

struct control {
	sd_event *event;
	int fd;
	sd_event_source *io;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t gid;		/* (gid_t)-1: root only */
	unsigned nconns;
	struct control_conn *conns;
	control_fn fn;
	void *user;
	struct control_stats stats;
};

static void control_conn_free(struct control_conn *cc)
{
	sd_event_source_disable_unref(cc->io);
	sd_event_source_disable_unref(cc->timer);
	close(cc->fd);
	free(cc->out);
	*cc->pprev = cc->next;
	if (cc->next)
		cc->next->pprev = cc->pprev;
	cc->ctl->nconns--;
	free(cc);
}

/* Root, or a member of the control group (primary or supplementary). */
static bool control_allowed(struct control *ctl, int fd)
{
	gid_t groups[CONTROL_GROUPS_MAX];
	socklen_t len = sizeof(struct ucred);
	struct ucred cred;
	size_t i, n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0)
		return true;
	if (ctl->gid == (gid_t)-1)
		return false;
	if (cred.gid == ctl->gid)
		return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	n = len / sizeof(gid_t);
	for (i = 0; i < n; i++)
		if (groups[i] == ctl->gid)
			return true;
	return false;
}

static int control_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Queues the reply (one JSON object and a newline) and switches to writing. */
static void control_reply(struct control_conn *cc, json_t *reply)
{
	char *text;

	text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text) {
		control_conn_free(cc);
		return;
	}
	cc->out_len = strlen(text);
	cc->out = malloc(cc->out_len + 1);
	if (cc->out) {
		memcpy(cc->out, text, cc->out_len);
		cc->out[cc->out_len++] = '\n';
	}
	free(text);
	if (!cc->out) {
		control_conn_free(cc);
		return;
	}
	sd_event_source_set_io_events(cc->io, EPOLLOUT);
}

json_t *control_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:i, s:b, s:s}", "v", CONTROL_VERSION, "ok", false, "error", msg);
}

static void control_handle(struct control_conn *cc)
{
	struct control *ctl = cc->ctl;
	json_error_t jerr;
	json_t *req, *reply, *v;

	req = json_loadb(cc->in, cc->in_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req || !json_is_object(req)) {
		ctl->stats.malformed++;
		json_decref(req);
		control_reply(cc, control_error("malformed request: expected one JSON object (%s)",
						req ? "not an object" : jerr.text));
		return;
	}
	v = json_object_get(req, "v");
	if (!json_is_integer(v) || json_integer_value(v) != CONTROL_VERSION) {
		ctl->stats.malformed++;
		reply = control_error("unsupported request version: this coordinator speaks v%d",
				      CONTROL_VERSION);
	} else if (!json_is_string(json_object_get(req, "command"))) {
		ctl->stats.malformed++;
		reply = control_error("malformed request: expected a \"command\" string");
	} else {
		ctl->stats.requests++;
		reply = ctl->fn(req, ctl->user);
		if (!reply)
			reply = control_error("out of memory");
	}
	json_decref(req);
	control_reply(cc, reply);
}

static int control_conn_read(struct control_conn *cc)
{
	char *nl;
	ssize_t n;

	n = read(cc->fd, cc->in + cc->in_len, sizeof(cc->in) - 1 - cc->in_len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;	/* closed before a whole request */
	nl = memchr(cc->in + cc->in_len, '\n', (size_t)n);
	cc->in_len += (size_t)n;
	if (nl) {
		cc->in_len = (size_t)(nl - cc->in);
		control_handle(cc);
		return 1;
	}
	if (cc->in_len == sizeof(cc->in) - 1) {
		cc->ctl->stats.malformed++;
		control_reply(cc, control_error("request longer than %d bytes", CONTROL_REQUEST_MAX));
		return 1;
	}
	return 0;
}

static int control_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control_conn *cc = userdata;
	ssize_t n;

	(void)s;
	if (!cc->out) {
		if (control_conn_read(cc) < 0)
			control_conn_free(cc);
		return 0;
	}
	if (!(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return 0;
	n = send(fd, cc->out + cc->out_off, cc->out_len - cc->out_off, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0)
		cc->out_off += (size_t)n;
	if (n < 0 || cc->out_off == cc->out_len)
		control_conn_free(cc);
	return 0;
}

static int control_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control_conn *cc = userdata;

	(void)s;
	(void)usec;
	cc->ctl->stats.timeouts++;
	control_conn_free(cc);
	return 0;
}

static int control_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *ctl = userdata;
	struct control_conn *cc;
	uint64_t now;
	json_t *denied;
	char *text;
	int cfd;

	(void)s;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	if (!control_allowed(ctl, cfd) || ctl->nconns >= CONTROL_CONNS_MAX) {
		bool busy = ctl->nconns >= CONTROL_CONNS_MAX;

		if (busy)
			ctl->stats.busy++;
		else
			ctl->stats.denied++;
		denied = control_error(busy ? "too many control connections" :
				       "access denied: root or group members only");
		text = denied ? json_dumps(denied, JSON_COMPACT) : NULL;
		if (text && send(cfd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
			send(cfd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(text);
		json_decref(denied);
		close(cfd);
		return 0;
	}
	cc = calloc(1, sizeof(*cc));
	if (!cc) {
		close(cfd);
		return 0;
	}
	cc->ctl = ctl;
	cc->fd = cfd;
	cc->next = ctl->conns;
	if (cc->next)
		cc->next->pprev = &cc->next;
	cc->pprev = &ctl->conns;
	ctl->conns = cc;
	ctl->nconns++;
	sd_event_now(ctl->event, CLOCK_MONOTONIC, &now);
	if (sd_event_add_io(ctl->event, &cc->io, cfd, EPOLLIN, control_conn_io, cc) < 0 ||
	    sd_event_add_time(ctl->event, &cc->timer, CLOCK_MONOTONIC, now + CONTROL_TIMEOUT_US,
			      0, control_conn_timeout, cc) < 0)
		control_conn_free(cc);
	return 0;
}

/* Refuses to take over a path that is not a socket, or one a live coordinator answers on. */
static int control_claim(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		log_err("%s: another coordinator is answering there", path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 ? -errno : 0;
}

int control_open(sd_event *e, const char *path, const char *group, control_fn fn, void *user,
		 struct control **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *ctl;
	struct group *g;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->event = e;
	ctl->fn = fn;
	ctl->user = user;
	ctl->gid = (gid_t)-1;
	ctl->fd = -1;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	if (group && group[0]) {
		g = getgrnam(group);
		if (g)
			ctl->gid = g->gr_gid;
		else
			log_warn("control_group '%s' does not exist: the control socket is root's only",
				 group);
	}
	r = control_claim(path);
	if (r < 0)
		goto fail;
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		r = -errno;
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, ctl->gid == (gid_t)-1 ? 0600 : 0660) < 0 ||
	    (ctl->gid != (gid_t)-1 && chown(path, 0, ctl->gid) < 0) ||
	    listen(ctl->fd, 64) < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(e, &ctl->io, ctl->fd, EPOLLIN, control_accept, ctl);
	if (r < 0)
		goto fail;
	*out = ctl;
	return 0;
fail:
	log_err("control socket %s: %s", path, strerror(-r));
	if (ctl->fd >= 0)
		close(ctl->fd);
	free(ctl);
	return r;
}

const struct control_stats *control_stats(const struct control *ctl)
{
	return &ctl->stats;
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->conns)
		control_conn_free(ctl->conns);
	sd_event_source_disable_unref(ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
