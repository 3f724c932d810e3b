/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The error bound of the daemon's clock: one model for every reference,
 * what the page publishes as bound_ns, bound_drift_ppb and bound_status
 * (timekeeper-page(7), timekeeperd(8)). Pure: every time is passed in.
 *
 * A bound is anchored at a time t (the daemon's MONOTONIC, ns) where the
 * reference measured it, and grows from there at drift_ppb (ns per s): at
 * time u it is ns + (u - t) * drift_ppb / 1e9. A new good measurement
 * re-anchors it (SYNCHRONIZED); a reference that is lost or goes quiet for
 * longer than the anchor's stale time leaves it growing from the last good
 * anchor (FREE_RUNNING, or UNKNOWN when there never was one); an upstream
 * that says its own time is unknown removes it (UNKNOWN, no bound); a clock
 * known to have misbehaved is DISRUPTED until the next good anchor.
 */
#ifndef TK_CORE_BOUND_H
#define TK_CORE_BOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "timekeeper/page.h"

#define BOUND_NONE INT64_MAX	    /* no bound */
#define BOUND_DRIFT_MAX_PPB 500000u /* what an unmeasured frequency may be off by: 500 ppm */
/* The most a measured drift is stated as: 1 %. A measured rate above 500 ppm
 * is stated as measured: in a QEMU guest the TSC under the page ran up to
 * ~1000 ppm against the kernel's hpet or acpi_pm, and a bound grown at 500 ppm
 * let the kernel's clock out of it. */
#define BOUND_DRIFT_MEASURED_MAX_PPB 10000000u
#define BOUND_DRIFT_DEFAULT_PPB 1000u /* max_drift_ppb's default: 1 ppm */
/* The least a bound grows at once no reference checks it (FREE_RUNNING,
 * DISRUPTED, or SYNCHRONIZED past its staleness): the frequency estimate's
 * standard error is measured against the reference, and without one nothing
 * catches an estimate worse than it says. 5 ppm: on a loaded 2-core VM a
 * holdover ran 1.2 ppm off an estimate that claimed 1.04. */
#define BOUND_HOLDOVER_PPB 5000u

struct bound {
	int status;	    /* TK_PAGE_BS_* */
	bool have;	    /* a finite anchor exists */
	int64_t ns;	    /* the bound at t */
	int64_t t;	    /* MONOTONIC ns of the anchor */
	uint32_t drift_ppb; /* growth from t */
	int64_t stale_ns;   /* FREE_RUNNING once t + stale_ns has passed */
};

/* No reference yet: UNKNOWN, no bound. */
void bound_init(struct bound *b);
/* A good measurement: the bound was ns at t, grows at drift_ppb; without a
 * new one by t + stale_ns the status turns FREE_RUNNING. */
void bound_sync(struct bound *b, int64_t t, int64_t ns, uint32_t drift_ppb, int64_t stale_ns);
/* The reference is gone (none, holdover): the bound keeps growing from the
 * last good anchor; FREE_RUNNING, or UNKNOWN without one. */
void bound_lost(struct bound *b);
/* The reference says its own time is unknown (an unsynchronized host): no
 * bound at all, UNKNOWN. */
void bound_unknown(struct bound *b);
/* The clock misbehaved (its source demoted, a step refused): DISRUPTED
 * until the next bound_sync(), the bound still growing. */
void bound_disrupt(struct bound *b);
/* The clock was moved by delta_ns outside the model (a step): the bound
 * widens by |delta_ns|. */
void bound_moved(struct bound *b, int64_t delta_ns);

/* The bound at MONOTONIC u, saturating at BOUND_NONE; u before the anchor
 * counts as the anchor. */
int64_t bound_at(const struct bound *b, int64_t u);
/* The growth at MONOTONIC u: drift_ppb while a reference checks it, at
 * least BOUND_HOLDOVER_PPB when none does. */
uint32_t bound_drift_at(const struct bound *b, int64_t u);
/* The status at MONOTONIC now (staleness applied). */
int bound_status_at(const struct bound *b, int64_t now);

/* --- the model's parts, ns; saturating ------------------------------------- */

/* reference = system: the host clock's own bound (adjtimex maxerror, us)
 * plus our tracking error: |offset| + the bracket's window + the reading
 * granularity. */
int64_t bound_system(int64_t host_maxerror_us, int64_t offset_ns, int64_t window_ns,
		     int64_t granularity_ns);

/* reference = ntp: one sample of the selected server. */
struct bound_ntp_sample {
	int64_t root_delay_ns, root_disp_ns; /* the server's, from its packet */
	int64_t delay_ns;		     /* the sample's round trip */
	int64_t disp_ns;		     /* the sample's dispersion (precision, reading) */
	double asymmetry;		     /* the delay asymmetry estimate in use, -0.5..0.5 */
	int64_t asym_delay_ns;		     /* the delay it was applied to: over the lowest */
	int64_t jitter_ns;		     /* the clock filter's jitter */
	int64_t residual_ns;		     /* the offset not yet corrected */
};

/* root delay / 2 + root dispersion (RFC 5905's root distance of the server)
 * + delay / 2 + dispersion + |asymmetry| * asym_delay + jitter + |residual|. */
int64_t bound_ntp(const struct bound_ntp_sample *s);

/* The stated drift: floor_ppb plus k times the frequency estimate's
 * standard error or the measured rate (ppb), clamped to
 * BOUND_DRIFT_MEASURED_MAX_PPB; se_ppb < 0 or not finite (no estimate) gives
 * BOUND_DRIFT_MAX_PPB. */
uint32_t bound_drift(uint64_t floor_ppb, double se_ppb, double k);

#endif
