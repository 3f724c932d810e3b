// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Time Stamp Counter driver: decodes the CPUID leaves that say whether
 * the TSC exists, whether it is invariant, how to read it in order, and what
 * its nominal frequency is, then describes it as a clocksource.
 *
 * The frequency rules are the kernel's native_calibrate_tsc():
 * CPUID 0x15 gives the TSC/crystal ratio and, when the crystal frequency is
 * given too, a frequency the kernel trusts without refinement (KNOWN_FREQ);
 * a crystal derived from the base frequency of CPUID 0x16 gives a frequency
 * that is still refined. The kernel uses these leaves on Intel only, so do
 * we. Under a hypervisor, leaf 0x40000010 (the VMware-defined timing leaf
 * that several hypervisors implement) may give the TSC frequency in kHz.
 *
 * The TSC is always MUST_VERIFY here: the kernel's exemption (constant +
 * nonstop + TSC_ADJUST on <= 4 nodes) is a policy for the core to apply; the
 * driver only reports the facts it rests on. A TSC that is not invariant is
 * still usable, as in the kernel, but the watchdog is then what stands
 * between it and bad time (frequency changes with P-states, stops in deep
 * C-states); the "note" attribute says so.
 */
#include "config.h"

#include <cpuid.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "hw/drivers.h"
#include "hw/tsc.h"

#define LEAF_HV_BASE 0x40000000u
#define LEAF_HV_TIMING 0x40000010u
#define LEAF_EXT_BASE 0x80000000u

/* ---- CPUID ---------------------------------------------------------- */

static bool real_cpuid(uint32_t leaf, uint32_t subleaf, struct tsc_cpuid_regs *r, void *ctx)
{
	unsigned int a = 0, b = 0, c = 0, d = 0;

	(void)ctx;
	if ((leaf & 0xf0000000u) == LEAF_HV_BASE) {
		/*
		 * __get_cpuid_count() checks the leaf against the basic range's
		 * maximum, which is always below 0x40000000, so it would refuse
		 * every hypervisor leaf. Callers query this range only when the
		 * hypervisor bit is set, and check the range's own maximum
		 * (CPUID.0x40000000 EAX) before going further.
		 */
		__cpuid_count(leaf, subleaf, a, b, c, d);
	} else if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d)) {
		memset(r, 0, sizeof(*r));
		return false;
	}
	r->eax = a;
	r->ebx = b;
	r->ecx = c;
	r->edx = d;
	return true;
}

static void query(tsc_cpuid_fn fn, void *ctx, uint32_t leaf, uint32_t subleaf,
		  struct tsc_cpuid_regs *r)
{
	memset(r, 0, sizeof(*r));
	if (!fn(leaf, subleaf, r, ctx))
		memset(r, 0, sizeof(*r));
}

/* Copies a 12-byte register signature, replacing what JSON or a terminal
 * would not like (some hypervisors pad with NULs: "KVMKVMKVM\0\0\0"). */
static void copy_signature(char out[13], uint32_t r1, uint32_t r2, uint32_t r3)
{
	uint32_t regs[3] = { r1, r2, r3 };
	size_t n = 0;

	for (size_t i = 0; i < 12; i++) {
		unsigned char ch = (unsigned char)(regs[i / 4] >> (8 * (i % 4)));

		if (ch == '\0')
			break;
		out[n++] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch : '?';
	}
	out[n] = '\0';
}

/* Atom Goldmont-D (Denverton), family 6 model 0x5f: 0x15 reports no crystal
 * although the crystal is 25 MHz, and the kernel hard-codes it. */
static bool is_denverton(uint32_t leaf1_eax)
{
	uint32_t family = (leaf1_eax >> 8) & 0xf;
	uint32_t model = (leaf1_eax >> 4) & 0xf;

	if (family == 0x6 || family == 0xf)
		model |= ((leaf1_eax >> 16) & 0xf) << 4;
	return family == 0x6 && model == 0x5f;
}

/* native_calibrate_tsc(): leaves 0x15 and 0x16, Intel only. */
static void decode_crystal(tsc_cpuid_fn fn, void *ctx, uint32_t leaf1_eax, struct tsc_features *f)
{
	struct tsc_cpuid_regs r;
	uint64_t denom, numer, crystal;

	if (strcmp(f->vendor, "GenuineIntel") != 0 || f->max_leaf < 0x15)
		return;
	query(fn, ctx, 0x15, 0, &r);
	denom = r.eax;
	numer = r.ebx;
	crystal = r.ecx;
	if (denom == 0 || numer == 0)
		return; /* the ratio is not enumerated: no frequency at all */

	/* The kernel works in kHz: an ECX below 1000 Hz counts as no crystal. */
	if (crystal / 1000 == 0) {
		crystal = 0;
		if (is_denverton(leaf1_eax)) {
			crystal = 25000000;
			f->freq_source = "cpuid 0x15 (Denverton crystal)";
		}
	} else {
		f->freq_source = "cpuid 0x15";
	}

	if (crystal != 0) {
		f->known_freq = true;
	} else if (f->max_leaf >= 0x16) {
		/* Crystal derived from the base frequency: refined later, so
		 * deliberately not KNOWN_FREQ. */
		query(fn, ctx, 0x16, 0, &r);
		crystal = (uint64_t)r.eax * 1000000 * denom / numer;
		if (crystal != 0)
			f->freq_source = "cpuid 0x15+0x16";
	}
	f->crystal_hz = crystal;
	f->cpuid_tsc_hz = crystal * numer / denom;
	if (f->cpuid_tsc_hz == 0) {
		f->known_freq = false;
		f->freq_source = NULL;
	}
}

void tsc_features_read(tsc_cpuid_fn fn, void *ctx, struct tsc_features *f)
{
	struct tsc_cpuid_regs r;
	uint32_t leaf1_eax = 0;

	memset(f, 0, sizeof(*f));
	if (!fn)
		fn = real_cpuid;

	query(fn, ctx, 0, 0, &r);
	f->max_leaf = r.eax;
	copy_signature(f->vendor, r.ebx, r.edx, r.ecx);

	if (f->max_leaf >= 1) {
		query(fn, ctx, 1, 0, &r);
		leaf1_eax = r.eax;
		f->present = r.edx & (1u << 4);
		f->hypervisor = r.ecx & (1u << 31);
	}
	if (f->max_leaf >= 7) {
		query(fn, ctx, 7, 0, &r);
		f->tsc_adjust = r.ebx & (1u << 1);
	}

	query(fn, ctx, LEAF_EXT_BASE, 0, &r);
	/* CPUs without the extended range echo some basic leaf: not a maximum. */
	f->max_ext_leaf = (r.eax & 0xffff0000u) == LEAF_EXT_BASE ? r.eax : 0;
	if (f->max_ext_leaf >= 0x80000001u) {
		query(fn, ctx, 0x80000001u, 0, &r);
		f->rdtscp = r.edx & (1u << 27);
	}
	if (f->max_ext_leaf >= 0x80000007u) {
		query(fn, ctx, 0x80000007u, 0, &r);
		f->invariant = r.edx & (1u << 8);
	}

	if (f->hypervisor) {
		uint32_t max_hv;

		query(fn, ctx, LEAF_HV_BASE, 0, &r);
		max_hv = r.eax;
		copy_signature(f->hv_vendor, r.ebx, r.ecx, r.edx);
		/* A maximum outside the range means the range is not there. */
		if (max_hv >= LEAF_HV_TIMING && max_hv <= 0x4fffffffu) {
			query(fn, ctx, LEAF_HV_TIMING, 0, &r);
			f->hv_tsc_hz = (uint64_t)r.eax * 1000;
		}
	}

	decode_crystal(fn, ctx, leaf1_eax, f);
	if (!f->freq_source && f->hv_tsc_hz)
		f->freq_source = "cpuid 0x40000010";
}

/* ---- ordered reads ---------------------------------------------------- */

/*
 * The kernel patches rdtsc_ordered() at boot (alternatives); we choose a
 * function once. RDTSCP waits for earlier instructions (it clobbers ECX with
 * TSC_AUX); LFENCE;RDTSC does the same on CPUs without it. The "memory"
 * clobber stops the compiler from moving loads across the read.
 */
static uint64_t read_rdtscp(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi) : : "ecx", "memory");
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t read_lfence_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t read_resolve(void);

static _Atomic(uint64_t (*)(void)) tsc_reader = read_resolve;

static void choose_reader(bool rdtscp)
{
	atomic_store_explicit(&tsc_reader, rdtscp ? read_rdtscp : read_lfence_rdtsc,
			      memory_order_relaxed);
}

/* First call before tsc_probe(): decide from the real CPU. */
static uint64_t read_resolve(void)
{
	struct tsc_features f;

	tsc_features_read(NULL, NULL, &f);
	choose_reader(f.rdtscp);
	return tsc_read_ordered();
}

uint64_t tsc_read_ordered(void)
{
	return atomic_load_explicit(&tsc_reader, memory_order_relaxed)();
}

static uint64_t tsc_cs_read(struct clocksource *cs)
{
	(void)cs;
	return tsc_read_ordered();
}

/* ---- probe ---------------------------------------------------------- */

int tsc_probe_features(const struct tsc_features *f, struct clocksource *cs)
{
	uint64_t hz = f->cpuid_tsc_hz ? f->cpuid_tsc_hz : f->hv_tsc_hz;

	cs_attr_str(cs, "vendor", "%s", f->vendor);
	cs_attr_bool(cs, "invariant", f->invariant);
	cs_attr_bool(cs, "rdtscp", f->rdtscp);
	cs_attr_bool(cs, "tsc_adjust", f->tsc_adjust);
	cs_attr_bool(cs, "hypervisor", f->hypervisor);
	if (f->hv_vendor[0])
		cs_attr_str(cs, "hypervisor_vendor", "%s", f->hv_vendor);

	if (!f->present) {
		cs_set_unusable(cs, "tsc: CPUID.1 EDX bit 4 (TSC) is 0 (max leaf %u), expected 1",
				f->max_leaf);
		return -ENODEV;
	}

	cs->rating = CS_RATING_TSC;
	cs->bits = 64;
	cs->mask = CS_MASK(64);
	cs->nominal_hz = hz;
	cs->flags = CS_F_CONTINUOUS | CS_F_MUST_VERIFY | CS_F_CLIENT_READ | CS_F_PAGE_TSC |
		    CS_F_CALIBRATE;
	if (f->known_freq)
		cs->flags |= CS_F_KNOWN_FREQ;
	cs->read = tsc_cs_read;
	cs->usable = true;
	cs->reason[0] = '\0';

	cs_attr_str(cs, "freq_source", "%s", f->freq_source ? f->freq_source : "none");
	if (hz)
		cs_attr_u64(cs, "cpuid_hz", hz);
	if (f->crystal_hz)
		cs_attr_u64(cs, "crystal_hz", f->crystal_hz);
	cs_attr_bool(cs, "known_freq", f->known_freq);
	cs_attr_str(cs, "read", "%s", f->rdtscp ? "rdtscp" : "lfence;rdtsc");
	if (!f->invariant)
		cs_attr_str(cs, "note",
			    "not invariant: usable, but only while the watchdog agrees");
	return 0;
}

int tsc_probe(const struct hw_env *env, struct clocksource *cs)
{
	struct tsc_features f;

	(void)env;
	cs_init(cs, "tsc");
	tsc_features_read(NULL, NULL, &f);
	if (f.present)
		choose_reader(f.rdtscp);
	return tsc_probe_features(&f, cs);
}
