// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper for the kernel-mirror contract of reference = system on a
 * simulated host clock ([sim] host_clock, timekeeperd.conf(5)), which moves
 * without touching the test machine's clock.
 *
 *   tk_mirror step FILE NS    the host clock's REALTIME steps by NS
 *   tk_mirror slew FILE PPB   the host clock runs PPB fast from now on
 *   tk_mirror audit PAGE SECONDS FILE [STEP_NS SLEW_PPB]
 *
 * The state file holds "step_ns phase_ns slew_ppb t0_ns": REALTIME is the
 * kernel's + step_ns + phase, MONOTONIC and BOOTTIME the kernel's + phase,
 * TAI the kernel's + step_ns + phase, where phase = phase_ns + slew_ppb x
 * (the kernel's CLOCK_MONOTONIC - t0_ns) / 1e9. A change folds the phase
 * run up so far into phase_ns and writes the file anew (rename), so the
 * host clock is continuous across a slew.
 *
 * audit: at about 100 Hz for SECONDS, for REALTIME, MONOTONIC, BOOTTIME and
 * TAI, a bracket tk_read / host clock / tk_read; a SYNCHRONIZED sample is
 * outside when the host's reading lies out of [first - bound, second +
 * bound]. With STEP_NS and SLEW_PPB the audit moves the host clock itself:
 * at 1/4 of the time REALTIME steps by STEP_NS, at 1/2 the clock runs
 * SLEW_PPB fast, at 3/4 it runs at its rate again and steps back (with a
 * STEP_NS of 0, only the rate changes: at 1/2 and at 3/4). After a
 * step, samples are not judged until the page's disruption counter moves
 * (the daemon followed it: no reader can know of a step before the daemon
 * does) and are counted as "reacting"; "followed" counts the steps the
 * page followed. Prints one JSON object.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "timekeeper.h"

struct host {
	int64_t step_ns, phase_ns, slew_ppb, t0_ns;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns(&ts);
}

static bool load(const char *path, struct host *h)
{
	FILE *f = fopen(path, "re");
	int n = 0;

	memset(h, 0, sizeof(*h));
	if (f) {
		n = fscanf(f, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64, &h->step_ns,
			   &h->phase_ns, &h->slew_ppb, &h->t0_ns);
		fclose(f);
	}
	if (n != 4)
		memset(h, 0, sizeof(*h));
	return n == 4;
}

static int save(const char *path, const struct host *h)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -1;
	fprintf(f, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n", h->step_ns, h->phase_ns,
		h->slew_ppb, h->t0_ns);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int64_t phase_at(const struct host *h, int64_t mono)
{
	return h->phase_ns + (int64_t)((double)h->slew_ppb * (double)(mono - h->t0_ns) / 1e9);
}

/* The host clock c now, as the daemon computes it. */
static int64_t host_now(const struct host *h, clockid_t c)
{
	struct timespec k, m;
	int64_t ph;

	clock_gettime(c, &k);
	clock_gettime(CLOCK_MONOTONIC, &m);
	ph = phase_at(h, ts_to_ns(&m));
	if (c == CLOCK_REALTIME || c == CLOCK_TAI)
		return ts_to_ns(&k) + h->step_ns + ph;
	return ts_to_ns(&k) + ph;
}

static int change(const char *path, bool step, int64_t v)
{
	struct host h;
	int64_t now = mono_ns();

	load(path, &h);
	h.phase_ns = phase_at(&h, now);
	h.t0_ns = now;
	if (step)
		h.step_ns += v;
	else
		h.slew_ppb = v;
	if (save(path, &h) < 0) {
		fprintf(stderr, "tk_mirror: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

static int audit(const char *page, double seconds, const char *path, int64_t step, int64_t slew)
{
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
					    CLOCK_TAI };
	static const char *const names[] = { "realtime", "monotonic", "boottime", "tai" };
	struct timekeeper *tk;
	struct tk_status st;
	struct host h;
	size_t samples = 0, judged = 0, outside = 0, reacting_n = 0, unsynced = 0, followed = 0;
	int64_t start, end, now, max_excess = 0, max_err = 0, min_bound = INT64_MAX;
	uint64_t disruption = 0;
	bool reacting = false;
	int moved = 0;

	if (tk_open(page, &tk) < 0) {
		fprintf(stderr, "tk_mirror: cannot open %s\n", page);
		return 1;
	}
	start = mono_ns();
	end = start + (int64_t)(seconds * 1e9);
	while ((now = mono_ns()) < end) {
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		double at = (double)(now - start) / 1e9;
		bool do_step = false;

		if (step &&
		    ((moved == 0 && at >= seconds / 4) || (moved == 2 && at >= seconds * 3 / 4)))
			do_step = true;
		if (do_step && tk_status(tk, &st) == 0) {
			if (moved == 2 && change(path, false, 0))
				return 1;
			disruption = st.disruption;
			reacting = true;
			if (change(path, true, moved == 0 ? step : -step))
				return 1;
			moved++;
		} else if (slew && moved == (step ? 1 : 0) && at >= seconds / 2) {
			if (change(path, false, slew))
				return 1;
			moved++;
		} else if (!step && slew && moved == 1 && at >= seconds * 3 / 4) {
			if (change(path, false, 0))
				return 1;
			moved++;
		}
		if (reacting && tk_status(tk, &st) == 0 && st.disruption != disruption) {
			reacting = false;
			followed++;
		}
		load(path, &h);
		for (int c = 0; c < 4; c++) {
			struct tk_reading r0, r1;
			int64_t k, t0, t1, err;

			if (tk_read(tk, clocks[c], &r0) < 0)
				continue;
			k = host_now(&h, clocks[c]);
			if (tk_read(tk, clocks[c], &r1) < 0)
				continue;
			samples++;
			if (reacting) {
				reacting_n++;
				continue;
			}
			if (r0.status != TK_CLOCK_SYNCHRONIZED ||
			    r1.status != TK_CLOCK_SYNCHRONIZED ||
			    r0.source_kind != TK_SOURCE_PAGE || r0.bound_ns == INT64_MAX) {
				unsynced++;
				continue;
			}
			judged++;
			t0 = ts_to_ns(&r0.time);
			t1 = ts_to_ns(&r1.time);
			err = k - (t0 + (t1 - t0) / 2);
			err = err < 0 ? -err : err;
			if (err > max_err)
				max_err = err;
			if (r0.bound_ns < min_bound)
				min_bound = r0.bound_ns;
			if (k < t0 - r0.bound_ns || k > t1 + r1.bound_ns) {
				int64_t ex = k < t0 - r0.bound_ns ? t0 - r0.bound_ns - k
								  : k - t1 - r1.bound_ns;

				if (outside < 10)
					fprintf(stderr,
						"outside at %.2f s: %s page %" PRId64 "..%" PRId64
						" host %" PRId64 " bound %" PRId64 "\n",
						at, names[c], t0, t1, k, r0.bound_ns);
				outside++;
				if (ex > max_excess)
					max_excess = ex;
			}
		}
		nanosleep(&pause, NULL);
	}
	printf("{\"samples\":%zu,\"judged\":%zu,\"outside\":%zu,\"reacting\":%zu,"
	       "\"followed\":%zu,\"steps\":%d,\"unsynchronized\":%zu,\"max_error_ns\":%" PRId64
	       ",\"min_bound_ns\":%" PRId64 ",\"max_excess_ns\":%" PRId64 "}\n",
	       samples, judged, outside, reacting_n, followed,
	       step ? (moved >= 1) + (moved >= 3) : 0, unsynced, max_err, judged ? min_bound : -1,
	       max_excess);
	tk_close(tk);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && (!strcmp(argv[1], "step") || !strcmp(argv[1], "slew")))
		return change(argv[2], !strcmp(argv[1], "step"), strtoll(argv[3], NULL, 10));
	if ((argc == 5 || argc == 7) && !strcmp(argv[1], "audit") && atof(argv[3]) > 0)
		return audit(argv[2], atof(argv[3]), argv[4],
			     argc == 7 ? strtoll(argv[5], NULL, 10) : 0,
			     argc == 7 ? strtoll(argv[6], NULL, 10) : 0);
	fprintf(stderr, "usage: tk_mirror step FILE NS | slew FILE PPB | "
			"audit PAGE SECONDS FILE [STEP_NS SLEW_PPB]\n");
	return 2;
}
