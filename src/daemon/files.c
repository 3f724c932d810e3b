// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's directories and the files it keeps in them: the runtime and
 * state directories are opened once (O_DIRECTORY|O_NOFOLLOW) and judged on
 * that descriptor, the lock that makes one daemon per runtime directory,
 * and the frequency estimate in the state directory.
 *
 * The rule for both directories: owned by root, by the daemon's own euid
 * or by [daemon] user, and writable by nobody else (no group or other
 * write bit, sticky or not). Anyone who can write the directory could swap
 * a name the daemon uses for a link to another file between two calls, so
 * such a directory is refused with one line saying what was found and
 * what was expected. Every file is then reached relative to the directory's
 * descriptor (openat), never by a path resolved twice: a directory renamed
 * or replaced after the check cannot redirect the daemon.
 *
 * The lock, <runtime_dir>/lock, is a POSIX record lock held for the
 * daemon's life (its one descriptor of the file stays open; the daemon
 * never forks): a second daemon on the same directory fails to take it
 * before it touches the socket or the page, asks the kernel for the
 * holder's pid (F_GETLK; an open file description lock would not say) and
 * exits. The pid is also written into the file for operators. The file is
 * never removed (removing it would let two daemons lock two different
 * files).
 *
 * The frequency file is opened O_NOFOLLOW|O_NONBLOCK (a link is not
 * followed, a FIFO does not block the start), must be a regular file of at
 * most STATE_MAX bytes, and is replaced through a temporary file created
 * O_EXCL|O_NOFOLLOW, fsync'ed, then renamed over it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/priv.h"
#include "daemon/internal.h"

#define STATE_NAME "frequency"
#define STATE_TMP "frequency.tmp"
#define LOCK_NAME "lock"
#define STATE_MAX 64 /* bytes: one number and a newline */

static const char *file_kind(mode_t m)
{
	return S_ISREG(m)    ? "regular file"
	       : S_ISDIR(m)  ? "directory"
	       : S_ISLNK(m)  ? "symbolic link"
	       : S_ISFIFO(m) ? "FIFO"
	       : S_ISSOCK(m) ? "socket"
	       : S_ISCHR(m)  ? "character device"
	       : S_ISBLK(m)  ? "block device"
			     : "special file";
}

static void owner_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "uid %u (%s)", (unsigned int)uid, pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned int)uid);
}

/* The uids a directory or a file of ours may belong to: root, our euid and
 * the [daemon] user (the state directory is handed to it). */
static bool trusted_owner(const struct daemon *d, uid_t uid, char *expect, size_t len)
{
	uid_t user = (uid_t)-1;
	gid_t g;
	bool ok;

	if (d->conf.user[0] && priv_lookup(d->conf.user, &user, &g) < 0)
		user = (uid_t)-1;
	ok = uid == 0 || uid == geteuid() || (user != (uid_t)-1 && uid == user);
	if (expect) {
		int n = snprintf(expect, len, "root");

		if (geteuid() != 0 && n >= 0 && (size_t)n < len)
			n += snprintf(expect + n, len - (size_t)n, ", uid %u",
				      (unsigned int)geteuid());
		if (user != (uid_t)-1 && user != geteuid() && n >= 0 && (size_t)n < len)
			snprintf(expect + n, len - (size_t)n, ", %s (uid %u)", d->conf.user,
				 (unsigned int)user);
	}
	return ok;
}

/* Opens dir (creating it 0755 if missing) and checks it on the descriptor.
 * Returns the descriptor or -errno, after one line. */
static int open_dir(const struct daemon *d, const char *what, const char *dir)
{
	char who[64], expect[128];
	struct stat st;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			log_err("%s %s: cannot create it: %s", what, dir, strerror(e));
			return -e;
		}
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;

		if (e == ELOOP || e == ENOTDIR)
			log_err("%s %s: not a directory (a symbolic link is not followed): "
				"expected a directory",
				what, dir);
		else
			log_err("%s %s: cannot open it: %s", what, dir, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;

		log_err("%s %s: cannot stat it: %s", what, dir, strerror(e));
		close(fd);
		return -e;
	}
	if (!trusted_owner(d, st.st_uid, expect, sizeof(expect)) || (st.st_mode & 022)) {
		owner_name(st.st_uid, who, sizeof(who));
		log_err("%s %s: owned by %s, mode %04o: expected a directory owned by %s and not "
			"writable by group or others; refusing to use it",
			what, dir, who, (unsigned int)(st.st_mode & 07777), expect);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* The pid of the lock's holder (F_GETLK), 0 if it just went. */
static long lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return (long)fl.l_pid;
}

static int take_lock(struct daemon *d)
{
	const char *dir = d->conf.runtime_dir;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char pid[24];
	struct stat st;
	int fd, n;

	fd = openat(d->runtime_fd, LOCK_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;

		log_err("%s/%s: cannot open the lock file: %s%s", dir, LOCK_NAME, strerror(e),
			e == ELOOP ? " (a symbolic link is not followed)" : "");
		return -e;
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;

		log_err("%s/%s: cannot stat the lock file: %s", dir, LOCK_NAME, strerror(e));
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode) || !trusted_owner(d, st.st_uid, NULL, 0)) {
		char who[64];

		owner_name(st.st_uid, who, sizeof(who));
		log_err("%s/%s: a %s owned by %s: expected a regular file of the daemon's", dir,
			LOCK_NAME, file_kind(st.st_mode), who);
		close(fd);
		return -EPERM;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;

		if (e == EAGAIN || e == EACCES)
			log_err("another timekeeperd (pid %ld) holds %s/%s: not starting",
				lock_holder(fd), dir, LOCK_NAME);
		else
			log_err("%s/%s: cannot lock it: %s", dir, LOCK_NAME, strerror(e));
		close(fd);
		return -(e == EACCES ? EAGAIN : e);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("%s/%s: cannot write our pid into it: %s", dir, LOCK_NAME,
			 strerror(errno));
	d->lock_fd = fd;
	return 0;
}

int daemon_files_open(struct daemon *d)
{
	uid_t uid;
	gid_t gid;
	int fd;

	/* The user the directories may belong to must exist: a missing one
	 * is the error to report, not a directory it would have owned. */
	if (geteuid() == 0 && d->conf.user[0] && daemon_priv_lookup(d, &uid, &gid) < 0)
		return -ENOENT;

	fd = open_dir(d, "runtime_dir", d->conf.runtime_dir);
	if (fd < 0)
		return fd;
	d->runtime_fd = fd;
	fd = take_lock(d);
	if (fd < 0)
		return fd;
	fd = open_dir(d, "state_dir", d->conf.state_dir);
	if (fd == -EPERM)
		return fd; /* hostile: refused */
	if (fd < 0)
		log_warn("state: %s unusable; the frequency estimate will not persist",
			 d->conf.state_dir);
	else
		d->state_fd = fd;
	return 0;
}

void daemon_files_close(struct daemon *d)
{
	if (d->state_fd >= 0)
		close(d->state_fd);
	if (d->runtime_fd >= 0)
		close(d->runtime_fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* releases the lock */
	d->state_fd = d->runtime_fd = d->lock_fd = -1;
}

/* --- the frequency estimate --------------------------------------------------- */

/* At most 20 bytes of s, non-printable ones as \xNN. */
static void excerpt(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	if (n > 20)
		n = 20;
	for (size_t i = 0; i < n && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

void daemon_save_frequency(struct daemon *d)
{
	const char *dir = d->conf.state_dir;
	int64_t freq = ntp_freq_scaled_ppm(&d->tk.ntp);
	char line[32];
	int fd, n;

	if (d->state_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%" PRId64 "\n", freq);
	/* A stale temporary (a crash mid-save, or a name planted there) goes
	 * first: unlinkat removes a link itself, never its target. */
	if (unlinkat(d->state_fd, STATE_TMP, 0) < 0 && errno != ENOENT)
		goto fail;
	fd = openat(d->state_fd, STATE_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0)
		goto fail;
	if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno;

		close(fd);
		unlinkat(d->state_fd, STATE_TMP, 0);
		errno = e ? e : EIO;
		goto fail;
	}
	if (close(fd) < 0 || renameat(d->state_fd, STATE_TMP, d->state_fd, STATE_NAME) < 0) {
		int e = errno;

		unlinkat(d->state_fd, STATE_TMP, 0);
		errno = e;
		goto fail;
	}
	(void)fsync(d->state_fd);
	log_debug("state: frequency %.3f ppm saved in %s/%s", (double)freq / 65536.0, dir,
		  STATE_NAME);
	return;
fail:
	if (!d->state_warned)
		log_warn("state: cannot save %s/%s: %s; the frequency estimate will not persist",
			 dir, STATE_NAME, strerror(errno));
	d->state_warned = true;
}

void daemon_load_frequency(struct daemon *d)
{
	const char *dir = d->conf.state_dir;
	struct ntp_timex tx = { .modes = NTP_ADJ_FREQUENCY };
	char line[STATE_MAX + 1], shown[96], *end;
	struct stat st;
	long long v;
	ssize_t n;
	int fd;

	if (d->state_fd < 0)
		return;
	fd = openat(d->state_fd, STATE_NAME,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			log_warn(
				"state: %s/%s is a symbolic link: not followed, expected a regular "
				"file; starting without a saved frequency",
				dir, STATE_NAME);
		else if (errno != ENOENT)
			log_warn("state: cannot read %s/%s: %s", dir, STATE_NAME, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0) {
		log_warn("state: cannot stat %s/%s: %s", dir, STATE_NAME, strerror(errno));
		close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > STATE_MAX) {
		if (!S_ISREG(st.st_mode))
			log_warn(
				"state: %s/%s is a %s, expected a regular file; starting without a "
				"saved frequency",
				dir, STATE_NAME, file_kind(st.st_mode));
		else
			log_warn("state: %s/%s has %lld bytes, expected one line of at most %d; "
				 "starting without a saved frequency",
				 dir, STATE_NAME, (long long)st.st_size, STATE_MAX);
		close(fd);
		return;
	}
	n = read(fd, line, STATE_MAX);
	close(fd);
	if (n < 0) {
		log_warn("state: cannot read %s/%s: %s", dir, STATE_NAME, strerror(errno));
		return;
	}
	line[n] = '\0';
	excerpt(line, (size_t)n, shown, sizeof(shown));
	if (n == 0 || memchr(line, '\0', (size_t)n)) {
		log_warn("state: %s/%s holds '%s', expected one number (ppm << 16)", dir,
			 STATE_NAME, shown);
		return;
	}
	errno = 0;
	v = strtoll(line, &end, 10);
	if (errno || end == line || (*end && strcmp(end, "\n") != 0) ||
	    v < -(long long)NTP_MAXFREQ * 65536 / 1000 ||
	    v > (long long)NTP_MAXFREQ * 65536 / 1000) {
		log_warn("state: %s/%s holds '%s', "
			 "expected a frequency within +-500 ppm in ppm << 16",
			 dir, STATE_NAME, shown);
		return;
	}
	tx.freq = v;
	if (tkc_adjtimex(&d->tk, &tx) < 0)
		log_warn("state: frequency %lld from %s/%s refused", v, dir, STATE_NAME);
	else
		log_notice("state: starting with frequency %.3f ppm from %s/%s",
			   (double)v / 65536.0, dir, STATE_NAME);
}
