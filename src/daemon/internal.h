/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's shared state and the interfaces of its parts. The parts,
 * from the bottom up (no file calls a function of a file above it; the
 * layering test, tests/integration/layering.sh, checks the object files):
 *
 *   clock       daemon/clock.[ch]: the timekeeper's follow-ups (page,
 *               offsets, steps, adjtimex) and the listeners of its events;
 *   references  daemon/ref*.[ch]: none, system, ntp behind struct ref_ops;
 *   services    daemon/control.c, timers.c, files.c, system.c, metrics.c
 *               (which reads through control.c's reports), ntp_server.c
 *               (which control.c and metrics.c read);
 *   start-up    daemon/daemon.c (acquisition, calibration, watchdog, the
 *               loop) and main.c: they wire the others together.
 *
 * Upward, a part speaks only through function pointers: the clock's
 * listeners, struct ref_ops, struct daemon_hooks. A part's own state is an
 * opaque struct in its .c (struct daemon_ctl, daemon_sys, daemon_timers,
 * daemon_ntp, ref_system, clock_listeners). Nothing outside src/daemon/
 * includes this but the tests of daemon/timers.c (test_dtimers, fuzz_dctl).
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
#define SAVE_INTERVAL_NS (600 * NSEC_PER_SEC)
/* Readers may use a page update this long; past it they fall back. */
#define PAGE_VALID_MIN_NS (250 * NSEC_PER_MSEC)

struct daemon;
struct daemon_hooks;
struct ref_ops;

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
	struct hrt_timer t_update, t_wdog, t_calib, t_save;
	int64_t update_ns;
	int64_t tick0_ns; /* the origin of the 1 s grid of the daemon's own timers (kernel's) */
	bool state_warned;
	/* The clock (daemon/clock.c): the last reference measurement
	 * (clock_note_offset()), the listeners. */
	int64_t last_offset_ns, last_window_ns;
	struct clock_listeners *listeners;
	uint64_t page_updates; /* daemon_publish()es that reached the page */
	int64_t started_ns;    /* evl_now() when the loop started */
	/* The error bound (core/bound.h) the page publishes. */
	struct bound bound;
	uint32_t bound_slew_ppb; /* a phase slew runs at this rate: readers' growth covers it */
	/* The running reference (daemon/ref.h), NULL before the start. */
	const struct ref_ops *ref;
	/* daemon.c's services to the parts above the clock. */
	const struct daemon_hooks *hooks;
	/* Owned by their files, opaque here. */
	struct daemon_ctl *ctl;		/* daemon/control.c */
	struct daemon_sys *sys;		/* daemon/system.c */
	struct daemon_ntp *ntp;		/* daemon/ref_ntp.c: the client while it runs */
	struct ref_system *sysref;	/* daemon/ref_system.c: once started */
	struct daemon_timers *timers;	/* daemon/timers.c: client timers */
	struct daemon_metrics *metrics; /* daemon/metrics.c: NULL when off */
	struct daemon_ntps *ntps;	/* daemon/ntp_server.c: NULL when off */
	/* daemon/files.c: the checked directories and the lock, -1 when not open */
	int runtime_fd, state_fd, lock_fd;
};

/* --- daemon.c, for the parts above the clock ------------------------------ */

/* The TSC's calibration, for the control socket. */
struct daemon_calib_report {
	const struct clocksource *tsc; /* NULL: no usable TSC */
	bool running;		       /* a calibration was started */
	bool applied;		       /* a value went to the registry */
	uint64_t hz;		       /* calib_hz() */
	double uncertainty_ppb;
};

/* Services of daemon.c (the start-up part) to the parts above the clock,
 * which cannot call it directly: daemon.c calls them. */
struct daemon_hooks {
	/* Restarts the TSC calibration from the quick phase. -ENODEV without
	 * a TSC or a reference, -EBUSY while the warm-up calibration still
	 * runs; why gets one line. */
	int (*recalibrate)(struct daemon *d, char *why, size_t whylen);
	void (*calib_report)(const struct daemon *d, struct daemon_calib_report *r);
	/* The period of one of the daemon's own timers (the running
	 * reference's included), 0 for one-shots and others. */
	int64_t (*timer_period)(const struct daemon *d, const struct hrt_timer *t);
};

/* The refined TSC calibration will rebase the timekeeper: a frequency
 * measured now would be measured on the wrong arithmetic. */
static inline bool daemon_calib_settling(const struct daemon *d)
{
	return d->calibrating && d->tk_entry->cs == d->tsc && d->cal_applied < CALIB_STATE_REFINED;
}

/* --- daemon/files.c ---------------------------------------------------------- */

/* Opens and checks the runtime and state directories (owned by root, the
 * daemon's euid or [daemon] user; not group/other-writable), takes
 * <runtime_dir>/lock. < 0 (after one line): do not start. */
int daemon_files_open(struct daemon *d);
void daemon_files_close(struct daemon *d);
/* Reads the saved frequency (a regular file, not followed if a link). */
void daemon_load_frequency(struct daemon *d);
/* Persists the frequency estimate in the state directory. */
void daemon_save_frequency(struct daemon *d);

/* --- daemon/timers.c: client timers ---------------------------------------- */

struct ctl_call;
struct ctl_client;

/* After the loop exists: the service, its after-interrupt hook and, when the
 * clock has its listeners (clock_init()), its CLOCK_EV_SET listener. 0 or -ENOMEM. */
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
/* The same as the clock's CLOCK_EV_SET listener (clock.h; ctx: the daemon). */
struct clock_event;
void daemon_timers_on_clock(void *ctx, const struct clock_event *ev);
/* For listings: true for a client timer, with its owner's pid and period. */
bool daemon_timer_info(const struct hrt_timer *t, int32_t *pid, int64_t *period);
void daemon_timers_stats(const struct daemon *d, size_t *total, uint64_t *sent, uint64_t *deferred);

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
/* The control socket's TK_CTL_STATUS answer, and its TK_CTL_SOURCES records
 * (at most room struct tk_ctl_source into out, which need not be aligned;
 * returns how many): the one way the daemon reports its state, for the
 * socket and for daemon/metrics.c. */
struct tk_ctl_status;
void daemon_ctl_status(struct daemon *d, struct tk_ctl_status *st);
uint32_t daemon_ctl_sources(struct daemon *d, void *out, size_t room);

/* --- daemon/metrics.c: the Prometheus page ([metrics] listen) --------------- */

/* Binds [metrics] listen (as root, before the privilege drop) when set.
 * An address that cannot be bound is logged in one line and the daemon runs
 * without metrics: always 0 but for -ENOMEM. */
int daemon_metrics_open(struct daemon *d);
/* Serves from the loop. */
int daemon_metrics_attach(struct daemon *d);
void daemon_metrics_close(struct daemon *d);

/* --- daemon/ntp_server.c: the NTP server ([ntp_server]) ------------------- */

/* Binds [ntp_server] listen (as root, before the privilege drop) and takes
 * the datagram sockets systemd passes; nothing when neither is there. A
 * listener that cannot be bound is logged in one line and skipped: 0 but
 * for -ENOMEM. */
int daemon_ntps_open(struct daemon *d);
/* Serves from the loop. */
int daemon_ntps_attach(struct daemon *d);
void daemon_ntps_close(struct daemon *d);
/* The counters, for the control socket and the metrics; false when off. */
struct daemon_ntps_report {
	struct ntps_counters n;
	uint32_t clients, client_log_size, sockets;
	uint64_t send_errors;
};
bool daemon_ntps_report(const struct daemon *d, struct daemon_ntps_report *r);

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

#endif
