/* caps: giving up every capability once the privileged set-up is done */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "caps.h"
#include "log.h"

/* Adds gid to the supplementary groups unless it is already there. */
static int caps_keep_group(gid_t gid)
{
	gid_t *groups;
	int n, i, r = 0;

	n = getgroups(0, NULL);
	if (n < 0)
		return -errno;
	groups = calloc((size_t)n + 1, sizeof(*groups));
	if (!groups)
		return -ENOMEM;
	n = getgroups(n, groups);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			goto out;
	groups[n] = gid;
	if (setgroups((size_t)n + 1, groups) < 0)
		r = -errno;
out:
	free(groups);
	return r;
}

/* Empties the bounding set, as far as CAP_SETPCAP allows; not fatal when it does not. */
static void caps_drop_bounding(void)
{
	cap_value_t c;

	if (!CAP_IS_SUPPORTED(CAP_SETPCAP))
		return;
	for (c = 0; CAP_IS_SUPPORTED(c); c++) {
		if (cap_drop_bound(c) < 0) {
			log_debug("bounding set: cannot drop capability %d: %s", (int)c,
				  strerror(errno));
			return;
		}
	}
}

int caps_drop_all(gid_t keep_group)
{
	cap_t none;
	int r;

	if (keep_group != (gid_t)-1) {
		r = caps_keep_group(keep_group);
		if (r < 0)
			return r;
	}
	caps_drop_bounding();
	/* ambient capabilities would otherwise survive an exec */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		log_debug("cannot clear the ambient set: %s", strerror(errno));
	none = cap_init();
	if (!none)
		return -errno;
	r = cap_set_proc(none) < 0 ? -errno : 0;
	cap_free(none);
	return r;
}
