/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's internals, shared by daemon.c (start, timers, discipline),
 * daemon/control.c (the control socket and its handlers) and daemon/system.c
 * (privileges and the service manager). Nothing outside src/daemon*.c
 * includes this.
 */
#ifndef TK_DAEMON_INTERNAL_H
#define TK_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bound.h"
#include "core/calib.h"
#include "core/conf.h"
#include "core/clocksource.h"
#include "core/evl.h"
#include "core/hrt.h"
#include "core/adjtimex.h"
#include "core/pagew.h"
#include "core/tkc.h"
#include "core/tunit.h"
#include "core/wdog.h"
#include "hw/hw.h"

#define CALIB_FAST_NS (50 * NSEC_PER_MSEC)
#define CALIB_SLOW_NS NSEC_PER_SEC
#define DISC_INTERVAL_NS NSEC_PER_SEC
#define SAVE_INTERVAL_NS (600 * NSEC_PER_SEC)
/* Readers may use a page update this long; past it they fall back. */
#define PAGE_VALID_MIN_NS (250 * NSEC_PER_MSEC)
/* The discipline measures the frequency for this long before the PLL. */
#define DISC_FREQ_WINDOW_NS (4 * NSEC_PER_SEC)
/* Offsets beyond this are stepped instead of slewed (ntpd's 128 ms). */
#define DISC_STEP_NS (128 * NSEC_PER_MSEC)
#define DISC_READS 5

enum disc_phase { DISC_OFF, DISC_START, DISC_FREQ, DISC_PLL };

struct daemon {
	struct tk_conf conf;
	const char *conf_path;
	struct clocksource src[HW_MAX_SOURCES];
	size_t n;
	struct cs_registry reg;
	struct wdog wd;
	struct clocksource *tsc; /* calibrated at run time (CS_F_CALIBRATE), or NULL */
	struct calib cal;
	bool calibrating;
	enum calib_state cal_applied;
	struct tkc tk;
	struct cs_entry *tk_entry; /* the source the timekeeper runs on */
	struct pagew *pw;
	struct evl *loop;
	struct hrt_queue *q;  /* clients' and NTP timers: on daemon_now() */
	struct hrt_queue *kq; /* the daemon's own timers: on the kernel's MONOTONIC */
	struct hrt_timer t_update, t_wdog, t_calib, t_disc, t_save;
	int64_t update_ns;
	bool state_warned;
	/* discipline */
	enum disc_phase phase;
	int64_t disc_t0, disc_off0; /* start of the frequency measurement */
	int64_t last_offset_ns, last_window_ns;
	int status;
	int64_t started_ns; /* evl_now() when the loop started */
	/* The error bound (core/bound.h) the page publishes. */
	struct bound bound;
	int64_t bound_prev_offset, bound_prev_t; /* reference = system: the last measurement */
	int host_state;                          /* the host's last adjtimex answer, for its log line */
	uint32_t bound_slew_ppb; /* a phase slew runs at this rate: readers' growth covers it */
	/* Owned by daemon/control.c, daemon/system.c and daemon/ref_ntp.c, opaque here. */
	struct daemon_ctl *ctl;
	struct daemon_sys *sys;
	struct daemon_ntp *ntp; /* reference = ntp: the client, NULL otherwise */
	struct daemon_timers *timers; /* daemon/timers.c: client timers */
	/* daemon/files.c: the checked directories and the lock, -1 when not open */
	int runtime_fd, state_fd, lock_fd;
};

/* --- daemon.c, for the other parts ------------------------------------ */

/* Publishes the timekeeper in the page (now: evl_now()). */
void daemon_publish(struct daemon *d, int64_t now);
/* Moves the hrtimer bases with the timekeeper (clock_was_set). */
void daemon_sync_offsets(struct daemon *d);
/* Makes the timekeeper follow the registry's current source (no step). */
void daemon_follow_current(struct daemon *d);
/* daemon/files.c: opens and checks the runtime and state directories (owned by root, the
 * daemon's euid or [daemon] user; not group/other-writable), takes
 * <runtime_dir>/lock. < 0 (after one line): do not start. */
int daemon_files_open(struct daemon *d);
void daemon_files_close(struct daemon *d);
/* Reads the saved frequency (a regular file, not followed if a link). */
void daemon_load_frequency(struct daemon *d);
/* Persists the frequency estimate in the state directory. */
void daemon_save_frequency(struct daemon *d);
/* Restarts the TSC calibration from the quick phase. -ENODEV without a TSC
 * or a reference, -EBUSY while the warm-up calibration still runs. */
int daemon_recalibrate(struct daemon *d, char *why, size_t whylen);
/* adjtimex on the timekeeper, with the daemon's follow-ups: a step
 * (ADJ_SETOFFSET) moves the timer bases, restarts the discipline's phase
 * measurement and republishes; any other clock_was_set (ADJ_TAI) moves
 * the bases too. Returns the clock state or -errno. */
int daemon_adjtimex(struct daemon *d, struct ntp_timex *tx);
/* Steps REALTIME by offset_ns through daemon_adjtimex() (ADJ_SETOFFSET,
 * nanoseconds). Returns its result. */
int daemon_step(struct daemon *d, int64_t offset_ns);

/* The clock misbehaved (its source demoted by the watchdog, a step
 * refused): the page's bound status is DISRUPTED until the reference gives
 * the next good sample. why: one line for the log. */
void daemon_bound_disrupted(struct daemon *d, const char *why);

/* The daemon's MONOTONIC (the timekeeper's): the clock of d->q. */
int64_t daemon_now(struct daemon *d);

/* --- daemon/timers.c: client timers ---------------------------------------- */

struct ctl_call;
struct ctl_client;

/* After the loop exists: the service and its after-interrupt hook. 0 or -ENOMEM. */
int daemon_timers_init(struct daemon *d);
void daemon_timers_free(struct daemon *d);
/* The ctl handlers of TK_CTL_TIMER_CREATE/ARM/DISARM/DELETE (ctx: the daemon). */
int daemon_timer_create(void *ctx, struct ctl_call *c);
int daemon_timer_arm(void *ctx, struct ctl_call *c);
int daemon_timer_disarm(void *ctx, struct ctl_call *c);
int daemon_timer_delete(void *ctx, struct ctl_call *c);
/* ctl's writable and gone hooks. */
void daemon_timers_writable(void *ctx, struct ctl_client *c);
void daemon_timers_gone(void *ctx, struct ctl_client *c);
/* The queue's offsets moved from old[] (daemon_sync_offsets): cancel-on-set
 * timers on a base that moved are canceled and reported. */
void daemon_timers_clock_was_set(struct daemon *d, const int64_t old[HRT_NR_BASES]);
/* For listings: true for a client timer, with its owner's pid and period. */
bool daemon_timer_info(const struct hrt_timer *t, int32_t *pid, int64_t *period);
void daemon_timers_stats(const struct daemon *d, size_t *total, uint64_t *sent,
			 uint64_t *deferred);

/* --- daemon/control.c: the control socket ------------------------------------ */

/* Before anything is acquired: -EADDRINUSE (logged, with the other pid)
 * when another daemon answers on <runtime_dir>/control; a stale socket
 * file is left for daemon_ctl_open(). */
int daemon_ctl_precheck(struct daemon *d);
/* Binds and listens (as root, before the privilege drop). 0 or -errno (logged). */
int daemon_ctl_open(struct daemon *d);
/* Watches the socket from the loop. */
int daemon_ctl_attach(struct daemon *d);
/* Closes every client and the socket, unlinks the socket file. */
void daemon_ctl_close(struct daemon *d);

/* --- daemon/system.c: privileges and the service manager --------------------- */

/* After everything privileged is acquired: become [daemon] user with no
 * capabilities and no_new_privs when started as root. 0 or -errno (logged). */
int daemon_priv_drop(struct daemon *d);
/* [daemon] user's uid and gid; 0, or < 0 after one line naming it. */
int daemon_priv_lookup(struct daemon *d, uid_t *uid, gid_t *gid);
/* The loop runs: READY=1, STATUS=, the WatchdogSec= keep-alive. */
void daemon_sys_ready(struct daemon *d);
/* Stopping: STOPPING=1. Frees what daemon_sys_ready() made. */
void daemon_sys_stopping(struct daemon *d);

/* --- daemon/ref_ntp.c: reference = ntp ---------------------------------------- */

/* Starts (or restarts, keeping its counters) the NTP client on the servers
 * of d->conf: sockets, poll timers, the discipline. 0 or -ENOMEM (logged). */
int daemon_ntp_start(struct daemon *d);
/* Stops it: sockets closed, the clock left on its frequency estimate. */
void daemon_ntp_stop(struct daemon *d);
/* The clock was stepped by tx (ADJ_SETOFFSET, applied): the NTP samples
 * move with it. Nothing when no client runs. */
void daemon_ntp_stepped(struct daemon *d, const struct ntp_timex *tx);
/* The client's frequency estimate (ppm << 16, as adjtimex freq) into
 * *scaled_ppm, without the phase slew it adds for a fraction of a poll;
 * false when no client runs. */
bool daemon_ntp_frequency(const struct daemon *d, int64_t *scaled_ppm);
/* TK_CTL_NTP's reply into out (cap bytes): tk_ctl_ntp + its servers.
 * 0 with *len set, or -ENOENT when no client runs; msg gets one line. */
int daemon_ntp_fill(struct daemon *d, void *out, size_t cap, size_t *len, char *msg);

#endif
