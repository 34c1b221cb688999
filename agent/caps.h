/* caps: giving up every capability once the privileged set-up is done */
#ifndef ASCALE_AGENT_CAPS_H
#define ASCALE_AGENT_CAPS_H

#include <sys/types.h>

/*
 * Clears the effective, permitted and inheritable capability sets and, while
 * CAP_SETPCAP still allows it, the bounding set (and the ambient set).  When
 * keep_group is not (gid_t)-1 it is first added to the supplementary groups,
 * so files can still be given to that group afterwards.  Returns 0 or -errno.
 */
int caps_drop_all(gid_t keep_group);

#endif
