// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The simulated devices' configuration (see simconf.h): defaults, the
 * device names the [sim] section uses, and the fault text.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/simconf.h"
#include "core/tunit.h"

/* The names the simulated devices are configured by; the simulated counters
 * carry the same names as the real devices they stand in for. */
static const char *const dev_names[SIM_NDEV] = {
	[SIM_HPET] = "hpet",
	[SIM_PMTMR] = "acpi_pm",
	[SIM_TSC] = "tsc",
};

#define MAX_FAULT_S UINT64_C(1000000000)
#define MAX_STEP_NS INT64_C(1000000000000) /* 1000 s */
#define MAX_SPIKE_NS NSEC_PER_SEC_U

void simconf_default(struct sim_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->hz[SIM_HPET] = 14318180;
	conf->hz[SIM_PMTMR] = 3579545;
	conf->hz[SIM_TSC] = 2400000000u;
	for (int i = 0; i < SIM_NDEV; i++)
		conf->fault[i].kind = SIM_FAULT_NONE;
}

int simconf_dev_from_name(const char *name)
{
	for (int i = 0; i < SIM_NDEV; i++)
		if (name && strcmp(name, dev_names[i]) == 0)
			return i;
	return -1;
}

const char *simconf_dev_name(enum sim_dev dev)
{
	return (unsigned int)dev < SIM_NDEV ? dev_names[dev] : "?";
}

/* ---- fault text ------------------------------------------------------- */

#define FAULT_FORMS "none | drift:<ppm>ppm@<s>s | step:<ns>ns@<s>s | stall@<s>s | spikes:<ns>ns"

struct number {
	bool neg;
	uint64_t ip;	   /* integer part */
	uint64_t frac;	   /* fraction digits as an integer */
	unsigned int fdig; /* how many fraction digits */
};

/* [-]digits[.digits], at most 18 integer and 9 fraction digits. */
static bool scan_number(const char **pp, bool sign_ok, bool frac_ok, struct number *n)
{
	const char *p = *pp;
	unsigned int idig = 0;

	memset(n, 0, sizeof(*n));
	if (sign_ok && (*p == '-' || *p == '+'))
		n->neg = *p++ == '-';
	while (*p >= '0' && *p <= '9') {
		if (++idig > 18)
			return false;
		n->ip = n->ip * 10 + (uint64_t)(*p++ - '0');
	}
	if (frac_ok && *p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++n->fdig > 9)
				return false;
			n->frac = n->frac * 10 + (uint64_t)(*p++ - '0');
		}
		if (n->fdig == 0)
			return false;
	}
	if (idig == 0 && n->fdig == 0)
		return false;
	*pp = p;
	return true;
}

static uint64_t pow10u(unsigned int e)
{
	uint64_t v = 1;

	while (e--)
		v *= 10;
	return v;
}

static bool expect(const char **pp, const char *lit)
{
	size_t len = strlen(lit);

	if (strncmp(*pp, lit, len) != 0)
		return false;
	*pp += len;
	return true;
}

static int fail(char *err, size_t errlen, const char *text, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *text, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "sim fault \"%s\": %s; expected %s", text, what, FAULT_FORMS);
	return -EINVAL;
}

static const char *rest(const char *p)
{
	return *p ? p : "end of text";
}

/* Every parser below has err, errlen and text in scope. */
#define FAIL(...) fail(err, errlen, text, __VA_ARGS__)

/* "<s>s": seconds with up to 9 decimals, to exact ns. */
static int parse_at(const char **pp, const char *text, uint64_t *at_ns, char *err, size_t errlen)
{
	struct number n;

	if (!scan_number(pp, false, true, &n))
		return FAIL("expected a time in seconds at \"%s\"", rest(*pp));
	if (n.ip > MAX_FAULT_S || (n.ip == MAX_FAULT_S && n.frac))
		return FAIL("time %" PRIu64 " s outside 0..%" PRIu64 " s", n.ip, MAX_FAULT_S);
	if (!expect(pp, "s"))
		return FAIL("expected \"s\" after the time, read \"%s\"", rest(*pp));
	*at_ns = n.ip * NSEC_PER_SEC_U + n.frac * pow10u(9 - n.fdig);
	return 0;
}

int simconf_parse_fault(const char *text, struct sim_fault *fault, char *err, size_t errlen)
{
	struct sim_fault f = { .kind = SIM_FAULT_NONE };
	const char *p = text;
	struct number n;
	int rc;

	if (!text)
		return fail(err, errlen, "", "no text");
	if (strcmp(text, "none") == 0) {
		*fault = f;
		return 0;
	}

	if (expect(&p, "drift:")) {
		const char *num = p;

		f.kind = SIM_FAULT_DRIFT;
		if (!scan_number(&p, true, true, &n))
			return FAIL("expected a ppm value at \"%s\"", rest(num));
		if (n.ip >= 1000000)
			return FAIL("drift %.*s ppm outside -999999..999999", (int)(p - num), num);
		/* Both parts are exact in a double below 2^53, so the quotient is
		 * correctly rounded, as strtod would give without its locale. */
		f.ppm = (double)(n.ip * pow10u(n.fdig) + n.frac) / (double)pow10u(n.fdig);
		if (n.neg)
			f.ppm = -f.ppm;
		if (!expect(&p, "ppm@"))
			return FAIL("expected \"ppm@\" after the ppm value, read \"%s\"", rest(p));
		rc = parse_at(&p, text, &f.at_ns, err, errlen);
	} else if (expect(&p, "step:")) {
		const char *num = p;

		f.kind = SIM_FAULT_STEP;
		if (!scan_number(&p, true, false, &n))
			return FAIL("expected a whole number of ns at \"%s\"", rest(num));
		if (n.ip > (uint64_t)MAX_STEP_NS)
			return FAIL("step %.*s ns outside -%" PRId64 "..%" PRId64, (int)(p - num),
				    num, MAX_STEP_NS, MAX_STEP_NS);
		f.step_ns = n.neg ? -(int64_t)n.ip : (int64_t)n.ip;
		if (!expect(&p, "ns@"))
			return FAIL("expected \"ns@\" after the step, read \"%s\"", rest(p));
		rc = parse_at(&p, text, &f.at_ns, err, errlen);
	} else if (expect(&p, "stall@")) {
		f.kind = SIM_FAULT_STALL;
		rc = parse_at(&p, text, &f.at_ns, err, errlen);
	} else if (expect(&p, "spikes:")) {
		f.kind = SIM_FAULT_SPIKES;
		if (!scan_number(&p, false, false, &n))
			return FAIL("expected a whole number of ns at \"%s\"", rest(p));
		if (n.ip < 1 || n.ip > MAX_SPIKE_NS)
			return FAIL("spike %" PRIu64 " ns outside 1..%" PRIu64, n.ip, MAX_SPIKE_NS);
		f.spike_ns = n.ip;
		if (!expect(&p, "ns"))
			return FAIL("expected \"ns\" after the spike length, read \"%s\"", rest(p));
		rc = 0;
	} else {
		size_t len = strcspn(text, ":@");

		return FAIL("unknown fault kind \"%.*s\"", (int)(len > 32 ? 32 : len), text);
	}
	if (rc < 0)
		return rc;
	if (*p)
		return FAIL("unexpected \"%s\" at the end", p);
	*fault = f;
	return 0;
}

#undef FAIL

static int format_seconds(char *buf, size_t len, uint64_t ns)
{
	uint64_t frac = ns % NSEC_PER_SEC_U;
	int digits = 9;

	if (!frac)
		return snprintf(buf, len, "%" PRIu64, ns / NSEC_PER_SEC_U);
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	return snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64, ns / NSEC_PER_SEC_U, digits, frac);
}

int simconf_format_fault(const struct sim_fault *f, char *buf, size_t len)
{
	char at[32];

	format_seconds(at, sizeof(at), f->at_ns);
	switch (f->kind) {
	case SIM_FAULT_DRIFT:
		return snprintf(buf, len, "drift:%.9gppm@%ss", f->ppm, at);
	case SIM_FAULT_STEP:
		return snprintf(buf, len, "step:%" PRId64 "ns@%ss", f->step_ns, at);
	case SIM_FAULT_STALL:
		return snprintf(buf, len, "stall@%ss", at);
	case SIM_FAULT_SPIKES:
		return snprintf(buf, len, "spikes:%" PRIu64 "ns", f->spike_ns);
	case SIM_FAULT_NONE:
	default:
		return snprintf(buf, len, "none");
	}
}
