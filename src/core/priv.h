/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Privileges: the one-way step from root to an unprivileged user. Started as
 * root, the daemon acquires everything privileged first (the HPET mapping,
 * the I/O port permission, the ACPI tables, the page, the control socket),
 * then priv_drop() leaves it with the user's uid and primary gid, no
 * supplementary groups, every capability set empty (effective, permitted,
 * inheritable, ambient and the bounding set) and no_new_privs, and checks
 * that it worked. Library code: returns -errno, prints nothing.
 */
#ifndef TK_CORE_PRIV_H
#define TK_CORE_PRIV_H

#include <sys/types.h>

/* The user's uid and primary gid: 0, -ENOENT when there is no such user,
 * or -errno from getpwnam_r(). */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid);

/* Becomes USER for good (see above). Needs CAP_SETUID, CAP_SETGID and
 * CAP_SETPCAP (for the bounding set). 0, or -ENOENT (no such user),
 * -EINVAL (the user is root), -errno of the step that failed, or
 * -ENOTRECOVERABLE when the check afterwards finds a privilege left (then
 * the process must not go on). */
int priv_drop(const char *user);

#endif
