// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Privileges: resolve the user, then drop everything in an order in which
 * each step still has the capability it needs: supplementary groups and the
 * bounding set while still root (CAP_SETGID, CAP_SETPCAP), then the gid and
 * uid (setresuid from 0 to non-zero clears the permitted, effective and
 * ambient sets as keep-caps is off), then the remaining sets explicitly and
 * no_new_privs. Last, it verifies instead of trusting: setuid(0) must fail
 * and every capability set must read back empty.
 *
 * What survives, on purpose: state granted by the kernel when it was asked
 * for, not re-checked on use. The I/O port bitmap set up by ioperm() (and
 * iopl(), emulated through the same bitmap since Linux 5.5) lives in the
 * thread's thread_struct; CAP_SYS_RAWIO is checked in ksys_ioperm() when a
 * permission is turned on, never on an in/out instruction, and setuid()
 * and capset() do not touch the bitmap. A mapping of /dev/mem or /dev/hpet
 * is checked at open() (open_port(): CAP_SYS_RAWIO) and mmap() time; later
 * loads go through the page tables. Open descriptors keep the access mode
 * they were opened with. So the counters keep working after the drop.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/priv.h"

int priv_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	char *buf;
	int r;

	if (!user || !*user)
		return -EINVAL;
	if (sz < 1024)
		sz = 16384;
	buf = malloc((size_t)sz);
	if (!buf)
		return -ENOMEM;
	r = getpwnam_r(user, &pw, buf, (size_t)sz, &res);
	if (r == 0 && res) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	}
	free(buf);
	if (r)
		return -r;
	return res ? 0 : -ENOENT;
}

static int drop_bounding_set(void)
{
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (in < 0)
			return -errno;
		if (in && cap_drop_bound(c) < 0)
			return -errno;
	}
	return 0;
}

/* Every set empty: effective, permitted, inheritable, ambient, bounding. */
static int caps_empty(void)
{
	cap_t now = cap_get_proc(), none = cap_init();
	int empty = now && none && cap_compare(now, none) == 0;

	cap_free(now);
	cap_free(none);
	if (!empty)
		return 0;
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)
			return 0;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
			return 0;
	}
	return 1;
}

int priv_drop(const char *user)
{
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid, groups[2];
	cap_t none;
	int r;

	r = priv_lookup(user, &uid, &gid);
	if (r < 0)
		return r;
	if (uid == 0)
		return -EINVAL;
	/* Keep-caps off: the uid change below clears the permitted set. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (setgroups(1, &gid) < 0)
		return -errno;
	r = drop_bounding_set();
	if (r < 0)
		return r;
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	none = cap_init();
	if (!none)
		return -errno;
	r = cap_set_proc(none);
	cap_free(none);
	if (r < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	/* Verify. */
	if (setuid(0) == 0 || setgid(0) == 0)
		return -ENOTRECOVERABLE;
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return -errno;
	if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid)
		return -ENOTRECOVERABLE;
	if (getgroups(2, groups) != 1 || groups[0] != gid)
		return -ENOTRECOVERABLE;
	if (!caps_empty() || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return -ENOTRECOVERABLE;
	return 0;
}
