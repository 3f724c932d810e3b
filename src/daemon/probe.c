// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The probe: discovery, then --seconds of the clocksource framework running
 * for real on what was found. Every usable counter is registered and sampled
 * every 20 ms against a reference (each sample bracketed by two reference
 * reads, so even the 24-bit PM timer's 4.69 s wrap is tracked); the TSC is
 * warp-tested across CPUs and calibrated against every reference at once;
 * the watchdog checks what must be verified every 0.5 s and demotes what
 * fails. The report is a table for people or one JSON object for tools.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/calib.h"
#include "core/clocksource.h"
#include "core/log.h"
#include "core/tunit.h"
#include "core/warp.h"
#include "core/wdog.h"
#include "daemon/probe.h"
#include "daemon/sources.h"

enum {
	SAMPLE_PERIOD_NS = 20 * 1000 * 1000,
	READ_BATCHES = 31,
	READ_BATCH = 32,
	MAX_CALIB = HW_MAX_SOURCES,
};

/* After a disturbed watchdog readout the kernel pauses 5 minutes; a probe
 * lasts seconds, so it pauses 2 s and says so in the skip count. */
#define PROBE_WDOG_BACKOFF_NS UINT64_C(2000000000)

struct track {
	struct clocksource *cs;
	struct clocksource *ref; /* NULL: nothing to measure against */
	uint64_t last;		 /* last raw reading of cs */
	uint64_t ext;		 /* cycles of cs accumulated since start */
	uint64_t ref_last;
	uint64_t ref_ext;
	double read_ns;	    /* median cost of one read; < 0 when not measured */
	double measured_hz; /* < 0 when not measured */
};

struct probe {
	struct clocksource src[HW_MAX_SOURCES];
	size_t n;
	struct track tr[HW_MAX_SOURCES];
	size_t nt;
	struct cs_registry reg;
	struct wdog wd;
	struct clocksource *tsc;     /* the usable counter to calibrate (CS_F_CALIBRATE), if any */
	struct calib cal[MAX_CALIB]; /* cal[0] is against the best reference */
	size_t ncal;
	enum calib_state freq_applied; /* the last TSC frequency given to the registry */
	struct warp_result warp;
};

static uint64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts_to_ns_u(&ts);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median cost of one read, from batches timed on CLOCK_MONOTONIC_RAW, less
 * the cost of the timing itself. */
static double read_cost_ns(struct clocksource *cs)
{
	double batch[READ_BATCHES], empty[READ_BATCHES];
	volatile uint64_t sink = 0;

	for (int b = 0; b < READ_BATCHES; b++) {
		uint64_t t0 = raw_ns(), t1;

		t1 = raw_ns();
		empty[b] = (double)(t1 - t0);
		t0 = raw_ns();
		for (int i = 0; i < READ_BATCH; i++)
			sink += cs_read(cs);
		t1 = raw_ns();
		batch[b] = (double)(t1 - t0);
	}
	(void)sink;
	qsort(batch, READ_BATCHES, sizeof(double), cmp_double);
	qsort(empty, READ_BATCHES, sizeof(double), cmp_double);
	return fmax(0.0, (batch[READ_BATCHES / 2] - empty[READ_BATCHES / 2]) / READ_BATCH);
}

/* The reference for cs: the best-rated other reference; NULL when none. */
static struct clocksource *pick_reference(struct probe *p, struct clocksource *cs)
{
	return sources_best_reference(p->src, p->n, cs);
}

/* One bracketed sample: reference, source, reference. The source reading is
 * paired with the midpoint of the two reference readings. */
static void sample(struct track *t)
{
	uint64_t r1, c, r2, dr;

	if (!t->ref) {
		c = cs_read(t->cs);
		t->ext += (c - t->last) & t->cs->mask;
		t->last = c;
		return;
	}
	r1 = cs_read(t->ref);
	c = cs_read(t->cs);
	r2 = cs_read(t->ref);
	dr = (r2 - r1) & t->ref->mask;
	r1 = (r1 + dr / 2) & t->ref->mask;
	t->ext += (c - t->last) & t->cs->mask;
	t->last = c;
	t->ref_ext += (r1 - t->ref_last) & t->ref->mask;
	t->ref_last = r1;
}

static void track_start(struct track *t)
{
	uint64_t r1, r2;

	t->ext = t->ref_ext = 0;
	if (!t->ref) {
		t->last = cs_read(t->cs);
		return;
	}
	r1 = cs_read(t->ref);
	t->last = cs_read(t->cs);
	r2 = cs_read(t->ref);
	t->ref_last = (r1 + (((r2 - r1) & t->ref->mask) / 2)) & t->ref->mask;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC_U),
			       .tv_nsec = (long)(ns % NSEC_PER_SEC_U) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void run_warp_test(struct probe *p)
{
	if (p->tsc)
		sources_warp_test(&p->reg, p->tsc, &p->warp);
}

static void start_calibration(struct probe *p, uint64_t now)
{
	struct clocksource *best;

	if (!p->tsc)
		return;
	best = pick_reference(p, p->tsc);
	if (best && calib_start(&p->cal[p->ncal], p->tsc, best, now) == 0)
		p->ncal++;
	for (size_t i = 0; i < p->n && p->ncal < MAX_CALIB; i++) {
		struct clocksource *r = &p->src[i];

		if (r != best && r != p->tsc && sources_is_reference(r) &&
		    calib_start(&p->cal[p->ncal], p->tsc, r, now) == 0)
			p->ncal++;
	}
}

/* The registry converts the TSC with the calibrated frequency, as the
 * kernel does: the quick value first (its tsc-early), then the refined one,
 * once; from then on refinement is reported, not applied, as the kernel
 * fixes tsc_khz after refinement. A TSC with no stated frequency becomes
 * selectable with the quick value. */
static void apply_calibration(struct probe *p)
{
	struct calib_result res;

	if (!p->ncal)
		return;
	if (sources_apply_calibration(&p->reg, p->tsc, &p->cal[0], &p->freq_applied, &res))
		log_info("%s: %.0f Hz against %s (%s), given to the registry", p->tsc->name,
			 res.calibrated_hz, res.calibrated_against, calib_state_name(res.state));
}

static void run(struct probe *p, double seconds)
{
	uint64_t t0 = raw_ns(), end = t0 + (uint64_t)(seconds * 1e9), now;
	struct wdog_conf wc = { .backoff_ns = PROBE_WDOG_BACKOFF_NS };

	run_warp_test(p);
	now = raw_ns();
	for (size_t i = 0; i < p->nt; i++)
		track_start(&p->tr[i]);
	start_calibration(p, now);
	wdog_init(&p->wd, &p->reg, &wc, now);
	while ((now = raw_ns()) < end) {
		uint64_t next = now + SAMPLE_PERIOD_NS;

		if (wdog_next_due(&p->wd) < next)
			next = wdog_next_due(&p->wd) > now ? wdog_next_due(&p->wd) : now;
		sleep_ns(next - now);
		now = raw_ns();
		for (size_t i = 0; i < p->nt; i++)
			sample(&p->tr[i]);
		for (size_t i = 0; i < p->ncal; i++)
			calib_poll(&p->cal[i], now);
		apply_calibration(p);
		if (now >= wdog_next_due(&p->wd) && wdog_tick(&p->wd, now) > 0)
			sources_log_demoted(&p->reg, NULL);
	}
	for (size_t i = 0; i < p->nt; i++) {
		struct track *t = &p->tr[i];

		t->measured_hz = -1;
		if (t->ref && t->ref_ext)
			t->measured_hz = (double)t->ext * (double)t->ref->nominal_hz /
					 (double)t->ref_ext;
	}
}

/* --- output ------------------------------------------------------------- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_opt_string(FILE *out, const char *s)
{
	if (s && *s)
		json_string(out, s);
	else
		fputs("null", out);
}

static const char *flag_names[] = { "continuous", "must_verify", "client_readable", "simulated",
				    "known_freq" };

static struct track *track_of(struct probe *p, const struct clocksource *cs)
{
	for (size_t j = 0; j < p->nt; j++)
		if (p->tr[j].cs == cs)
			return &p->tr[j];
	return NULL;
}

static const char *state_of(struct probe *p, const struct clocksource *cs)
{
	struct cs_entry *e = cs_find(&p->reg, cs->name);

	return e ? cs_state_name(cs_entry_state(&p->reg, e)) : "unusable";
}

static void json_watchdog(FILE *out, const struct cs_entry *e)
{
	const struct cs_wd_stats *w = &e->wd;

	fprintf(out,
		",\"watchdog\":{\"checks\":%llu,\"skips\":%llu,\"failures\":%llu,\"retries\":%llu,"
		"\"max_skew_ns\":%llu,\"last_verdict\":",
		(unsigned long long)w->checks, (unsigned long long)w->skips,
		(unsigned long long)w->failures, (unsigned long long)w->retries,
		(unsigned long long)w->max_skew_ns);
	json_string(out, cs_verdict_name(w->last_verdict));
	fputs(",\"last_reason\":", out);
	json_opt_string(out, w->last_reason);
	fputc('}', out);
}

static void json_tsc(FILE *out, struct probe *p)
{
	struct calib_result res = { 0 };

	if (p->ncal)
		calib_result(&p->cal[0], &res);
	fputs(",\"calibrated_hz\":", out);
	if (res.calibrated_hz > 0)
		fprintf(out, "%.3f,\"uncertainty_ppb\":%.1f", res.calibrated_hz,
			res.uncertainty_ppb);
	else
		fputs("null,\"uncertainty_ppb\":null", out);
	fputs(",\"calibrated_against\":", out);
	json_opt_string(out, res.calibrated_hz > 0 ? res.calibrated_against : NULL);
	fputs(",\"calibrations\":[", out);
	for (size_t i = 0; i < p->ncal; i++) {
		calib_result(&p->cal[i], &res);
		fprintf(out, "%s{\"reference\":", i ? "," : "");
		json_string(out, res.calibrated_against);
		fprintf(out,
			",\"state\":\"%s\",\"calibrated_hz\":%.3f,\"uncertainty_ppb\":%.1f,"
			"\"quick_hz\":%.3f,\"refined_hz\":%.3f,\"refined_accepted\":%s,"
			"\"kernel_hz\":%llu,\"baseline_s\":%.3f,\"samples\":%llu,\"retries\":%llu,"
			"\"disturbed\":%llu,\"warning\":",
			calib_state_name(res.state), res.calibrated_hz, res.uncertainty_ppb,
			res.quick_hz, res.refined_hz, res.refined_accepted ? "true" : "false",
			(unsigned long long)res.kernel_hz, res.baseline_s,
			(unsigned long long)res.samples, (unsigned long long)res.retries,
			(unsigned long long)res.disturbed);
		json_opt_string(out, res.warning);
		fputc('}', out);
	}
	fputs("],\"max_warp_cycles\":", out);
	if (p->warp.run)
		fprintf(out, "%llu", (unsigned long long)p->warp.max_warp_cycles);
	else
		fputs("null", out);
	fprintf(out,
		",\"warp\":{\"run\":%s,\"pairs\":%u,\"nr_warps\":%llu,\"loops\":%llu,\"note\":",
		p->warp.run ? "true" : "false", p->warp.pairs, (unsigned long long)p->warp.nr_warps,
		(unsigned long long)p->warp.loops);
	json_opt_string(out, p->warp.note);
	fputc('}', out);
}

static void json_attrs(FILE *out, const struct clocksource *cs)
{
	for (unsigned int a = 0; a < cs->nattrs; a++) {
		const struct cs_attr *at = &cs->attrs[a];

		fputc(',', out);
		json_string(out, at->key);
		fputc(':', out);
		switch (at->kind) {
		case CS_ATTR_STR:
			json_string(out, at->v.s);
			break;
		case CS_ATTR_U64:
			fprintf(out, "%llu", (unsigned long long)at->v.u);
			break;
		case CS_ATTR_BOOL:
			fputs(at->v.b ? "true" : "false", out);
			break;
		case CS_ATTR_HEX:
			fprintf(out, "\"0x%llx\"", (unsigned long long)at->v.u);
			break;
		}
	}
}

static void print_json(FILE *out, struct probe *p, const struct probe_opts *opts)
{
	fprintf(out, "{\"version\":\"%s\",\"seconds\":%g,\"current\":", PACKAGE_VERSION,
		opts->seconds);
	json_opt_string(out, p->reg.current ? p->reg.current->cs->name : NULL);
	fputs(",\"watchdog\":", out);
	json_opt_string(out, p->reg.watchdog ? p->reg.watchdog->cs->name : NULL);
	fputs(",\"override\":", out);
	json_opt_string(out, p->reg.override);
	fputs(",\"sources\":[", out);
	for (size_t i = 0; i < p->n; i++) {
		struct clocksource *cs = &p->src[i];
		struct track *t = track_of(p, cs);
		struct cs_entry *e = cs_find(&p->reg, cs->name);
		const char *sep = "";

		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, cs->name);
		fprintf(out, ",\"usable\":%s,\"reason\":", cs->usable ? "true" : "false");
		if (cs->usable)
			fputs("null", out);
		else
			json_string(out, cs->reason);
		fprintf(out, ",\"state\":\"%s\",\"state_reason\":", state_of(p, cs));
		json_opt_string(out, e && cs->usable ? e->reason : NULL);
		fprintf(out, ",\"rating\":%d,\"effective_rating\":%d,\"bits\":%u,\"nominal_hz\":",
			cs->rating, e ? e->rating : 0, cs->bits);
		if (cs->nominal_hz)
			fprintf(out, "%llu", (unsigned long long)cs->nominal_hz);
		else
			fputs("null", out);
		fputs(",\"measured_hz\":", out);
		if (t && t->measured_hz >= 0)
			fprintf(out, "%.3f", t->measured_hz);
		else
			fputs("null", out);
		fputs(",\"measured_against\":", out);
		json_opt_string(out, t && t->ref ? t->ref->name : NULL);
		fputs(",\"read_ns\":", out);
		if (t && t->read_ns >= 0)
			fprintf(out, "%.1f", t->read_ns);
		else
			fputs("null", out);
		if (e && e->have_arith)
			fprintf(out,
				",\"mult\":%u,\"shift\":%u,"
				"\"max_idle_ns\":%llu,\"uncertainty_ns\":%llu",
				e->ar.mult, e->ar.shift, (unsigned long long)e->ar.max_idle_ns,
				(unsigned long long)e->ar.uncertainty_ns);
		fputs(",\"flags\":[", out);
		for (unsigned int b = 0; b < sizeof(flag_names) / sizeof(flag_names[0]); b++)
			if (cs->flags & (1u << b)) {
				fprintf(out, "%s\"%s\"", sep, flag_names[b]);
				sep = ",";
			}
		fputc(']', out);
		if (e)
			json_watchdog(out, e);
		if (cs == p->tsc)
			json_tsc(out, p);
		json_attrs(out, cs);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void print_attr_text(FILE *out, const struct cs_attr *at)
{
	fprintf(out, "         %s: ", at->key);
	switch (at->kind) {
	case CS_ATTR_STR:
		fprintf(out, "%s\n", at->v.s);
		break;
	case CS_ATTR_U64:
		fprintf(out, "%llu\n", (unsigned long long)at->v.u);
		break;
	case CS_ATTR_BOOL:
		fprintf(out, "%s\n", at->v.b ? "yes" : "no");
		break;
	case CS_ATTR_HEX:
		fprintf(out, "0x%llx\n", (unsigned long long)at->v.u);
		break;
	}
}

static void print_text(FILE *out, struct probe *p, const struct probe_opts *opts)
{
	fprintf(out, "  %-8s %-8s %6s %4s %14s %16s %-8s %9s\n", "SOURCE", "STATE", "RATING",
		"BITS", "NOMINAL_HZ", "MEASURED_HZ", "AGAINST", "READ_NS");
	for (size_t i = 0; i < p->n; i++) {
		struct clocksource *cs = &p->src[i];
		struct track *t = track_of(p, cs);
		struct cs_entry *e = cs_find(&p->reg, cs->name);
		char nominal[32] = "-", measured[32] = "-", rd[32] = "-";
		bool cur = p->reg.current && p->reg.current->cs == cs;

		if (cs->nominal_hz)
			snprintf(nominal, sizeof(nominal), "%llu",
				 (unsigned long long)cs->nominal_hz);
		if (t && t->measured_hz >= 0)
			snprintf(measured, sizeof(measured), "%.1f", t->measured_hz);
		if (t && t->read_ns >= 0)
			snprintf(rd, sizeof(rd), "%.1f", t->read_ns);
		fprintf(out, "%c %-8s %-8s %6d %4u %14s %16s %-8s %9s\n", cur ? '*' : ' ', cs->name,
			state_of(p, cs), e ? e->rating : cs->rating, cs->bits, nominal, measured,
			t && t->ref ? t->ref->name : "-", rd);
		if (!cs->usable)
			fprintf(out, "         why not: %s\n", cs->reason);
		else if (e && e->reason[0])
			fprintf(out, "         %s: %s\n", state_of(p, cs), e->reason);
		if (e && (cs->flags & CS_F_MUST_VERIFY) && cs->usable)
			fprintf(out,
				"         watchdog: %llu checks, %llu skips, %llu failures, "
				"%llu retries, max skew %llu ns, last %s%s%s\n",
				(unsigned long long)e->wd.checks, (unsigned long long)e->wd.skips,
				(unsigned long long)e->wd.failures,
				(unsigned long long)e->wd.retries,
				(unsigned long long)e->wd.max_skew_ns,
				cs_verdict_name(e->wd.last_verdict),
				e->wd.last_reason[0] ? ": " : "", e->wd.last_reason);
		if (cs == p->tsc) {
			for (size_t c = 0; c < p->ncal; c++) {
				struct calib_result res;

				calib_result(&p->cal[c], &res);
				fprintf(out,
					"         calibrated against %s: "
					"%.1f Hz +- %.1f ppb (%s)%s%s\n",
					res.calibrated_against, res.calibrated_hz,
					res.uncertainty_ppb, calib_state_name(res.state),
					res.warning[0] ? "; " : "", res.warning);
			}
			fprintf(out, "         warp test: %s\n",
				p->warp.note[0] ? p->warp.note : "not run");
		}
		for (unsigned int a = 0; a < cs->nattrs; a++)
			print_attr_text(out, &cs->attrs[a]);
	}
	fprintf(out, "current: %s, watchdog: %s (measured for %g s)\n",
		p->reg.current ? p->reg.current->cs->name : "none",
		p->reg.watchdog ? p->reg.watchdog->cs->name : "none", opts->seconds);
}

int probe_run(const struct tk_conf *conf, const struct probe_opts *opts, FILE *out)
{
	struct probe *p = calloc(1, sizeof(*p));
	int rc = 0;

	if (!p) {
		log_err("out of memory");
		return 1;
	}
	p->n = sources_acquire(conf, p->src, &p->reg, LOG_LVL_INFO, NULL);
	p->tsc = sources_to_calibrate(p->src, p->n);
	for (size_t i = 0; i < p->n; i++) {
		struct clocksource *cs = &p->src[i];

		if (!cs->usable)
			continue;
		p->tr[p->nt] = (struct track){ .cs = cs, .ref = pick_reference(p, cs) };
		p->tr[p->nt].read_ns = read_cost_ns(cs);
		p->nt++;
	}

	if (p->nt)
		run(p, opts->seconds);
	if (opts->json)
		print_json(out, p, opts);
	else
		print_text(out, p, opts);
	fflush(out);
	if (!p->nt) {
		log_err("no usable clock source: "
			"every counter was refused (see the report for why)");
		rc = 1;
	}
	sources_release(p->src, p->n);
	free(p);
	return rc;
}
