// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Privileges and the service manager. daemon_priv_drop() runs once
 * everything privileged is held (the counters, the page, the control
 * socket): it hands the state directory to [daemon] user, the only place
 * written after the drop (the frequency file, replaced by rename relative to
 * the directory descriptor daemon/files.c checked),
 * then drops to that user for good (core/priv.c). What the daemon does
 * afterwards needs no privilege: the counters are read through mappings,
 * the port bitmap and the TSC; the page through its mapping (also when it
 * is marked stale at exit); the socket through its descriptor; SIGHUP
 * re-reads the configuration file, which must stay readable by the user.
 *
 * Under systemd (Type=notify) it reports READY=1, a STATUS= line an operator
 * reads in `systemctl status` (source, sync state, offset, maxerror),
 * refreshed every 5 s, and pings WATCHDOG=1 at half of WatchdogSec= from the
 * loop's own timer queue, so a loop that stops turning gets the service
 * restarted. Outside systemd sd_notify() does nothing and no timer is armed.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "core/log.h"
#include "core/priv.h"
#include "daemon/internal.h"
#include "daemon/ref.h"

#define STATUS_INTERVAL_NS (5 * NSEC_PER_SEC)

struct daemon_sys {
	struct daemon *d;
	struct hrt_timer t_status, t_watchdog;
	int64_t watchdog_ns; /* ping interval: half of WatchdogSec=, 0 = none */
	bool notify_warned;
};

/* --- privileges ------------------------------------------------------------ */

/* The state directory is handed over only when it holds nothing but the
 * daemon's own files: a state_dir pointed at a shared directory (/var/lib)
 * must not change owner. */
static bool only_our_files(int dirfd, char *other, size_t len)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool ours = true;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "frequency") || !strcmp(de->d_name, "frequency.tmp"))
			continue;
		snprintf(other, len, "%s", de->d_name);
		ours = false;
		break;
	}
	closedir(dp);
	return ours;
}

/* On the descriptor daemon_files_open() checked: never the path again. */
static void give_state_dir(struct daemon *d, uid_t uid, gid_t gid)
{
	const char *dir = d->conf.state_dir;
	char other[256] = "";
	struct stat st;
	int fd = d->state_fd;

	if (fd < 0)
		return; /* refused or unusable: said so already */
	if (fstat(fd, &st) < 0) {
		log_warn("state: cannot stat %s: %s; the frequency estimate will not persist", dir,
			 strerror(errno));
		return;
	}
	if (st.st_uid == uid && st.st_gid == gid)
		return;
	if (!only_our_files(fd, other, sizeof(other))) {
		log_warn("state: %s holds '%s', not only the daemon's files: not handing it to "
			 "user %s; set state_dir to a directory of its own, or the frequency "
			 "estimate will not persist",
			 dir, other, d->conf.user);
		return;
	}
	if (fchown(fd, uid, gid) < 0)
		log_warn("state: cannot hand %s to user %s (uid %u): %s; "
			 "the frequency estimate will not persist",
			 dir, d->conf.user, (unsigned int)uid, strerror(errno));
}

int daemon_priv_lookup(struct daemon *d, uid_t *uid, gid_t *gid)
{
	const char *user = d->conf.user;
	int r = priv_lookup(user, uid, gid);

	if (r == -ENOENT) {
		log_err("privileges: [daemon] user = %s: no such user; create it with "
			"`systemd-sysusers timekeeperd.sysusers` (installed in sysusers.d) or "
			"`useradd --system --no-create-home --shell /usr/sbin/nologin %s`, or set "
			"`user =` (empty) to stay root",
			user, user);
		return r;
	}
	if (r < 0) {
		log_err("privileges: cannot look up user %s: %s", user, strerror(-r));
		return r;
	}
	return 0;
}

int daemon_priv_drop(struct daemon *d)
{
	const char *user = d->conf.user;
	uid_t uid;
	gid_t gid;
	int r;

	if (geteuid() != 0) {
		log_notice("privileges: running as uid %u without privileges: only what this user "
			   "could open is used (see the lines above for what was refused)",
			   (unsigned int)geteuid());
		return 0;
	}
	if (!user[0]) {
		log_notice(
			"privileges: [daemon] user is empty: staying root with every capability");
		return 0;
	}
	r = daemon_priv_lookup(d, &uid, &gid);
	if (r < 0)
		return r;
	give_state_dir(d, uid, gid);
	r = priv_drop(user);
	if (r == -EINVAL) {
		log_err("privileges: [daemon] user = %s is uid 0: "
			"expected an unprivileged user, or `user =` (empty) to stay root",
			user);
		return r;
	}
	if (r == -ENOTRECOVERABLE) {
		log_err("privileges: after dropping to %s a privilege remained "
			"(uid 0 reachable or a capability set not empty); refusing to run",
			user);
		return r;
	}
	if (r < 0) {
		log_err("privileges: cannot drop to user %s (uid %u, gid %u): %s", user,
			(unsigned int)uid, (unsigned int)gid, strerror(-r));
		return r;
	}
	log_notice("privileges: running as %s (uid %u, gid %u), no capabilities, no_new_privs",
		   user, (unsigned int)uid, (unsigned int)gid);
	if (d->conf_path && access(d->conf_path, R_OK) < 0 && errno != ENOENT)
		log_warn("privileges: %s is not readable by %s (%s): SIGHUP cannot reload it",
			 d->conf_path, user, strerror(errno));
	return 0;
}

/* --- the service manager ------------------------------------------------- */

static void notify(struct daemon_sys *s, const char *what)
{
	int r = sd_notify(0, what);

	if (r < 0 && !s->notify_warned) {
		log_warn("systemd: cannot notify the service manager: %s", strerror(-r));
		s->notify_warned = true;
	}
}

/* "STATUS=tsc, synchronized, offset +12 ns, maxerror 3 us" */
static void status_line(struct daemon *d, char *buf, size_t len)
{
	struct ntp_timex tx = { 0 };
	int state = tkc_adjtimex(&d->tk, &tx); /* modes 0: a read */
	struct ref_report rr;
	unsigned int demoted = 0;
	size_t n;

	for (unsigned int i = 0; i < d->reg.n; i++)
		demoted += d->reg.list[i]->unstable;
	n = (size_t)snprintf(buf, len, "STATUS=%s, ",
			     d->tk_entry ? d->tk_entry->cs->name : "no source");
	if (n >= len)
		return;
	ref_report(d, &rr);
	if (rr.sd_state == REF_SD_FREE)
		n += (size_t)snprintf(buf + n, len - n, "free-running (reference none)");
	else if (rr.sd_state == REF_SD_MEASURING)
		n += (size_t)snprintf(buf + n, len - n,
				      "measuring the frequency, offset %+" PRId64 " ns",
				      d->last_offset_ns);
	else
		n += (size_t)snprintf(buf + n, len - n,
				      "%s, offset %+" PRId64 " ns, maxerror %" PRId64 " us",
				      state == NTP_TIME_ERROR || (tx.status & NTP_STA_UNSYNC)
					      ? "unsynchronized"
					      : "synchronized",
				      d->last_offset_ns, tx.maxerror);
	if (n < len && demoted)
		snprintf(buf + n, len - n, ", %u source%s demoted", demoted,
			 demoted > 1 ? "s" : "");
}

static enum hrt_restart on_status(struct hrt_timer *t, int64_t now)
{
	struct daemon_sys *s = t->data;
	char line[256];

	status_line(s->d, line, sizeof(line));
	notify(s, line);
	hrt_forward(t, now, STATUS_INTERVAL_NS);
	return HRT_RESTART;
}

static enum hrt_restart on_watchdog_ping(struct hrt_timer *t, int64_t now)
{
	struct daemon_sys *s = t->data;

	notify(s, "WATCHDOG=1");
	hrt_forward(t, now, s->watchdog_ns);
	return HRT_RESTART;
}

void daemon_sys_ready(struct daemon *d)
{
	struct daemon_sys *s = calloc(1, sizeof(*s));
	char line[256 + 16];
	uint64_t usec = 0;
	int64_t now = evl_now(); /* d->kq's clock: liveness never waits on a source */
	int r;

	if (!s) {
		log_warn("systemd: out of memory; no STATUS= and no watchdog pings");
		return;
	}
	d->sys = s;
	s->d = d;
	hrt_timer_init(&s->t_status, HRT_BASE_MONOTONIC, on_status, "sd-status");
	hrt_timer_init(&s->t_watchdog, HRT_BASE_MONOTONIC, on_watchdog_ping, "sd-watchdog");
	s->t_status.data = s->t_watchdog.data = s;

	memcpy(line, "READY=1\n", 8);
	status_line(d, line + 8, sizeof(line) - 8);
	r = sd_notify(0, line);
	if (r <= 0) {
		if (r < 0)
			log_warn("systemd: cannot notify the service manager: %s", strerror(-r));
		return; /* not under systemd (0), or unreachable: no timers */
	}
	hrt_start(d->kq, &s->t_status, now + STATUS_INTERVAL_NS, 0, HRT_MODE_ABS);
	r = sd_watchdog_enabled(0, &usec);
	if (r < 0)
		log_warn("systemd: WATCHDOG_USEC is malformed: %s; no watchdog pings",
			 strerror(-r));
	if (r > 0 && usec > 0) {
		s->watchdog_ns = (int64_t)usec * 1000 / 2;
		notify(s, "WATCHDOG=1");
		hrt_start(d->kq, &s->t_watchdog, now + s->watchdog_ns, 0, HRT_MODE_ABS);
		log_info("systemd: watchdog pings every %.1f s", (double)s->watchdog_ns / 1e9);
	}
}

void daemon_sys_stopping(struct daemon *d)
{
	struct daemon_sys *s = d->sys;

	if (!s)
		return;
	hrt_cancel(&s->t_status);
	hrt_cancel(&s->t_watchdog);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	free(s);
	d->sys = NULL;
}
