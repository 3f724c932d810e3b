/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * References: what the clock is disciplined to ([discipline] reference).
 * Each one is a table of operations (ref_none.c, ref_system.c, ref_ntp.c)
 * found by its configured name in ref.c's table; a new reference is one
 * more file and one more line there. A reference sits above the clock
 * (daemon/clock.h): it reads and steers the timekeeper, steps it, moves
 * the page's error bound (d->bound, core/bound.h) and hears of steps and
 * source changes through the clock's listeners.
 */
#ifndef TK_DAEMON_REF_H
#define TK_DAEMON_REF_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/internal.h"
#include "timekeeper/control.h"

/* How the service manager's STATUS= line describes the discipline. */
enum ref_sd_state {
	REF_SD_FREE,	  /* "free-running (reference none)" */
	REF_SD_MEASURING, /* "measuring the frequency, offset ..." */
	REF_SD_TRACKING,  /* "synchronized, offset ..., maxerror ..." */
};

/* What a reference says about itself, for the control socket's status and
 * the service manager's STATUS= line. */
struct ref_report {
	bool have_freq;		 /* freq_scaled_ppm replaces the timekeeper's */
	int64_t freq_scaled_ppm; /* ppm << 16, without a running phase slew */
	enum ref_sd_state sd_state;
};

struct ref_ops {
	const char *name; /* as in [discipline] reference */
	uint32_t ctl_ref; /* TK_CTL_REF_*, for TK_CTL_STATUS */
	/* Starts it, or restarts it when it already runs (SIGHUP, with the
	 * configuration in d->conf). 0 or -errno (logged). */
	int (*start)(struct daemon *d);
	/* Stops it: the clock is left on its frequency estimate. */
	void (*stop)(struct daemon *d);
	/* At exit, after stop: frees what start made. May be NULL. */
	void (*release)(struct daemon *d);
	/* Its state for reports; may be NULL (nothing to add). */
	void (*report)(const struct daemon *d, struct ref_report *r);
	/* TK_CTL_NTP's reply into out (cap bytes): 0 with *len set, or
	 * -ENOENT; msg gets one line. May be NULL (-ENOENT). */
	int (*fill_ntp)(struct daemon *d, void *out, size_t cap, size_t *len, char *msg);
	/* The period of a timer of its own for the timer listing, 0 if not
	 * its own. May be NULL. */
	int64_t (*timer_period)(const struct daemon *d, const struct hrt_timer *t);
};

extern const struct ref_ops ref_none_ops;
extern const struct ref_ops ref_system_ops;
extern const struct ref_ops ref_ntp_ops;

/* The reference called name, NULL when there is none by that name. */
const struct ref_ops *ref_lookup(const char *name);
/* The name [discipline] reference gives (core/conf.h's enum). */
const char *ref_conf_name(int conf_reference);
/* Makes next the running reference: the one running is stopped when it is
 * another, then next is started (or restarted). */
int ref_apply(struct daemon *d, const struct ref_ops *next);
/* At exit: stops the running reference and releases every one. */
void ref_shutdown(struct daemon *d);

/* --- for the parts that only read (control, system): no link to ref.c --- */

static inline void ref_report(const struct daemon *d, struct ref_report *r)
{
	*r = (struct ref_report){ .sd_state = REF_SD_FREE };
	if (d->ref && d->ref->report)
		d->ref->report(d, r);
}

static inline int ref_fill_ntp(struct daemon *d, void *out, size_t cap, size_t *len, char *msg)
{
	if (d->ref && d->ref->fill_ntp)
		return d->ref->fill_ntp(d, out, cap, len, msg);
	snprintf(msg, TK_CTL_MESSAGE_LEN, "reference is not ntp: no NTP client runs");
	return -ENOENT;
}

static inline int64_t ref_timer_period(const struct daemon *d, const struct hrt_timer *t)
{
	return d->ref && d->ref->timer_period ? d->ref->timer_period(d, t) : 0;
}

#endif
