/*
 * The probe: discovery, then a measurement of every usable counter against
 * a reference for --seconds. Sources are sampled every 20 ms so that even the
 * 24-bit PM timer (4.69 s wrap) is tracked without aliasing; each sample of a
 * source is bracketed by two reads of its reference and taken against their
 * midpoint. The report is a table for people or one JSON object for tools.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "hw/hw.h"
#include "probe.h"

enum { SAMPLE_PERIOD_NS = 20 * 1000 * 1000, READ_BATCHES = 31, READ_BATCH = 32 };

struct track {
	struct clocksource *cs;
	struct clocksource *ref; /* NULL: nothing to measure against */
	uint64_t last;           /* last raw reading of cs */
	uint64_t ext;            /* cycles of cs accumulated since start */
	uint64_t ref_last;
	uint64_t ref_ext;
	double read_ns;      /* median cost of one read; < 0 when not measured */
	double measured_hz;  /* < 0 when not measured */
};

static uint64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* The reference for cs: the best-rated other usable source that need not be
 * verified and whose frequency is known; NULL when there is none. */
static struct clocksource *pick_reference(struct clocksource *src, size_t n, struct clocksource *cs)
{
	struct clocksource *best = NULL;

	for (size_t i = 0; i < n; i++) {
		struct clocksource *r = &src[i];

		if (r == cs || !r->usable || (r->flags & CS_F_MUST_VERIFY) || !r->nominal_hz)
			continue;
		if (!best || r->rating > best->rating)
			best = r;
	}
	return best;
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

static void start(struct track *t)
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
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void measure(struct track *tr, size_t nt, double seconds)
{
	uint64_t t0 = raw_ns(), end = t0 + (uint64_t)(seconds * 1e9);

	for (size_t i = 0; i < nt; i++)
		start(&tr[i]);
	while (raw_ns() < end) {
		sleep_ns(SAMPLE_PERIOD_NS);
		for (size_t i = 0; i < nt; i++)
			sample(&tr[i]);
	}
	for (size_t i = 0; i < nt; i++) {
		struct track *t = &tr[i];

		t->measured_hz = -1;
		if (t->ref && t->ref_ext)
			t->measured_hz = (double)t->ext * (double)t->ref->nominal_hz / (double)t->ref_ext;
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

static const char *flag_names[] = { "continuous", "must_verify", "client_readable", "simulated",
				    "known_freq" };

static void print_json(FILE *out, struct clocksource *src, size_t n, struct track *tr, size_t nt,
		       const struct probe_opts *opts)
{
	fprintf(out, "{\"version\":\"%s\",\"seconds\":%g,\"sources\":[", PACKAGE_VERSION, opts->seconds);
	for (size_t i = 0; i < n; i++) {
		struct clocksource *cs = &src[i];
		struct track *t = NULL;
		const char *sep = "";

		for (size_t j = 0; j < nt; j++)
			if (tr[j].cs == cs)
				t = &tr[j];
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, cs->name);
		fprintf(out, ",\"usable\":%s,\"reason\":", cs->usable ? "true" : "false");
		if (cs->usable)
			fputs("null", out);
		else
			json_string(out, cs->reason);
		fprintf(out, ",\"rating\":%d,\"bits\":%u,\"nominal_hz\":", cs->rating, cs->bits);
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
		if (t && t->ref)
			json_string(out, t->ref->name);
		else
			fputs("null", out);
		fputs(",\"read_ns\":", out);
		if (t && t->read_ns >= 0)
			fprintf(out, "%.1f", t->read_ns);
		else
			fputs("null", out);
		fputs(",\"flags\":[", out);
		for (unsigned int b = 0; b < sizeof(flag_names) / sizeof(flag_names[0]); b++)
			if (cs->flags & (1u << b)) {
				fprintf(out, "%s\"%s\"", sep, flag_names[b]);
				sep = ",";
			}
		fputc(']', out);
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
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void print_text(FILE *out, struct clocksource *src, size_t n, struct track *tr, size_t nt,
		       const struct probe_opts *opts)
{
	fprintf(out, "%-8s %-6s %6s %4s %14s %16s %-8s %9s\n", "SOURCE", "USABLE", "RATING", "BITS",
		"NOMINAL_HZ", "MEASURED_HZ", "AGAINST", "READ_NS");
	for (size_t i = 0; i < n; i++) {
		struct clocksource *cs = &src[i];
		struct track *t = NULL;
		char nominal[32] = "-", measured[32] = "-", rd[32] = "-";

		for (size_t j = 0; j < nt; j++)
			if (tr[j].cs == cs)
				t = &tr[j];
		if (cs->nominal_hz)
			snprintf(nominal, sizeof(nominal), "%llu", (unsigned long long)cs->nominal_hz);
		if (t && t->measured_hz >= 0)
			snprintf(measured, sizeof(measured), "%.1f", t->measured_hz);
		if (t && t->read_ns >= 0)
			snprintf(rd, sizeof(rd), "%.1f", t->read_ns);
		fprintf(out, "%-8s %-6s %6d %4u %14s %16s %-8s %9s\n", cs->name, cs->usable ? "yes" : "no",
			cs->rating, cs->bits, nominal, measured, t && t->ref ? t->ref->name : "-", rd);
		if (!cs->usable)
			fprintf(out, "         why not: %s\n", cs->reason);
		for (unsigned int a = 0; a < cs->nattrs; a++) {
			const struct cs_attr *at = &cs->attrs[a];

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
	}
	fprintf(out, "(measured for %g s)\n", opts->seconds);
}

int probe_run(const struct tk_conf *conf, const struct probe_opts *opts, FILE *out)
{
	struct hw_env env = {
		.acpi_dir = conf->acpi_tables,
		.dev_hpet = conf->hpet_device,
		.dev_mem = conf->mem_device,
		.sim = &conf->sim,
	};
	struct clocksource src[HW_MAX_SOURCES];
	struct track tr[HW_MAX_SOURCES];
	size_t n, nt = 0;

	n = hw_discover(&env, src);
	for (size_t i = 0; i < n; i++) {
		if (!src[i].usable) {
			log_info("%s", src[i].reason);
			continue;
		}
		tr[nt] = (struct track){ .cs = &src[i], .ref = pick_reference(src, n, &src[i]) };
		tr[nt].read_ns = read_cost_ns(&src[i]);
		nt++;
	}
	if (nt)
		measure(tr, nt, opts->seconds);
	if (opts->json)
		print_json(out, src, n, tr, nt, opts);
	else
		print_text(out, src, n, tr, nt, opts);
	fflush(out);
	hw_release_all(src, n);
	if (!nt) {
		log_err("no usable clock source: every counter was refused (see the report for why)");
		return 1;
	}
	return 0;
}
