// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TSC feature decoding from fake CPUID tables (Intel with and without a
 * crystal, AMD, hypervisors, no TSC at all), the probe's description built
 * from them, and on this machine's CPU: ordered reads that move forward and
 * a real probe that finds the TSC. The kernel's CLOCK_MONOTONIC_RAW source
 * (kclock) is checked here too, as the other real counter every host has.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/tunit.h"
#include "hw/drivers.h"
#include "hw/tsc.h"
#include "tk_check.h"

/* ---- fake CPUID ------------------------------------------------------- */

enum { MAX_LEAVES = 24 };

struct leaf {
	uint32_t leaf, sub;
	struct tsc_cpuid_regs r;
};

struct cpuid_table {
	struct leaf l[MAX_LEAVES];
	unsigned int n;
	unsigned int out_of_range; /* leaves asked for beyond the table's own maxima */
};

static void put(struct cpuid_table *t, uint32_t leaf, uint32_t sub, uint32_t a, uint32_t b,
		uint32_t c, uint32_t d)
{
	for (unsigned int i = 0; i < t->n; i++) {
		if (t->l[i].leaf == leaf && t->l[i].sub == sub) {
			t->l[i].r = (struct tsc_cpuid_regs){ a, b, c, d };
			return;
		}
	}
	ck_assert_uint_lt(t->n, MAX_LEAVES);
	t->l[t->n++] = (struct leaf){ leaf, sub, { a, b, c, d } };
}

static const struct leaf *find(const struct cpuid_table *t, uint32_t leaf, uint32_t sub)
{
	for (unsigned int i = 0; i < t->n; i++)
		if (t->l[i].leaf == leaf && t->l[i].sub == sub)
			return &t->l[i];
	return NULL;
}

/* Leaf 0: the maximum basic leaf and the vendor in EBX, EDX, ECX. */
static void put_vendor(struct cpuid_table *t, uint32_t max, const char vendor[12])
{
	uint32_t r[3];

	memcpy(r, vendor, 12);
	put(t, 0, 0, max, r[0], r[2], r[1]);
}

/* Behaves like a CPU: unknown leaves read as zeros; leaves past the
 * maximum of their range are counted, since the decoder must not ask. */
static bool fake_cpuid(uint32_t leaf, uint32_t subleaf, struct tsc_cpuid_regs *r, void *ctx)
{
	struct cpuid_table *t = ctx;
	uint32_t base = leaf & 0xf0000000u;
	const struct leaf *max = find(t, base, 0);
	const struct leaf *l;

	if (leaf != base && (!max || leaf > max->r.eax))
		t->out_of_range++;
	l = find(t, leaf, (leaf == 7 || leaf == 0x15) ? subleaf : 0);
	if (!l) {
		memset(r, 0, sizeof(*r));
		return leaf < 0x40000000u; /* basic leaves "exist"; others do not */
	}
	*r = l->r;
	return true;
}

/* A Skylake-like desktop part: 0x15 with a 24 MHz crystal. */
static void intel_skylake(struct cpuid_table *t)
{
	memset(t, 0, sizeof(*t));
	put_vendor(t, 0x16, "GenuineIntel");
	put(t, 1, 0, 0x000506e3, 0, 0, 1u << 4);
	put(t, 7, 0, 0, 1u << 1, 0, 0);
	put(t, 0x15, 0, 2, 216, 24000000, 0);
	put(t, 0x16, 0, 2600, 4000, 100, 0);
	put(t, 0x80000000u, 0, 0x80000008u, 0, 0, 0);
	put(t, 0x80000001u, 0, 0, 0, 0, 1u << 27);
	put(t, 0x80000007u, 0, 0, 0, 0, 1u << 8);
}

static void amd(struct cpuid_table *t)
{
	memset(t, 0, sizeof(*t));
	put_vendor(t, 0x16, "AuthenticAMD");
	put(t, 1, 0, 0x00a00f11, 0, 0, 1u << 4);
	put(t, 7, 0, 0, 1u << 1, 0, 0);
	/* Leaves an AMD part would not fill; the kernel ignores them there. */
	put(t, 0x15, 0, 2, 216, 24000000, 0);
	put(t, 0x16, 0, 2600, 0, 0, 0);
	put(t, 0x80000000u, 0, 0x80000021u, 0, 0, 0);
	put(t, 0x80000001u, 0, 0, 0, 0, 1u << 27);
	put(t, 0x80000007u, 0, 0, 0, 0, 1u << 8);
}

static void hypervisor(struct cpuid_table *t, const char sig[12], uint32_t max, uint32_t khz)
{
	const struct leaf *l1 = find(t, 1, 0);
	uint32_t s[3];

	memcpy(s, sig, 12);
	put(t, 1, 0, l1->r.eax, l1->r.ebx, l1->r.ecx | 1u << 31, l1->r.edx);
	put(t, 0x40000000u, 0, max, s[0], s[1], s[2]);
	put(t, 0x40000010u, 0, khz, 1000000, 0, 0);
}

static void decode(struct cpuid_table *t, struct tsc_features *f)
{
	tsc_features_read(fake_cpuid, t, f);
	ck_assert_msg(t->out_of_range == 0, "%u leaves read past their range's maximum",
		      t->out_of_range);
}

static const struct cs_attr *attr(const struct clocksource *cs, const char *key)
{
	const struct cs_attr *a = cs_attr_get(cs, key);

	ck_assert_msg(a != NULL, "attribute %s missing", key);
	return a;
}

/* ---- decoding --------------------------------------------------------- */

START_TEST(test_intel_crystal)
{
	struct cpuid_table t;
	struct tsc_features f;
	struct clocksource cs;

	intel_skylake(&t);
	decode(&t, &f);
	ck_assert_str_eq(f.vendor, "GenuineIntel");
	ck_assert_uint_eq(f.max_leaf, 0x16);
	ck_assert_uint_eq(f.max_ext_leaf, 0x80000008u);
	ck_assert(f.present);
	ck_assert(f.invariant);
	ck_assert(f.rdtscp);
	ck_assert(f.tsc_adjust);
	ck_assert(!f.hypervisor);
	ck_assert_str_eq(f.hv_vendor, "");
	ck_assert_uint_eq(f.hv_tsc_hz, 0);
	ck_assert_uint_eq(f.crystal_hz, 24000000);
	ck_assert_uint_eq(f.cpuid_tsc_hz, UINT64_C(2592000000));
	ck_assert(f.known_freq);
	ck_assert_str_eq(f.freq_source, "cpuid 0x15");

	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert(cs.usable);
	ck_assert_str_eq(cs.reason, "");
	ck_assert_int_eq(cs.rating, 300);
	ck_assert_uint_eq(cs.bits, 64);
	ck_assert_uint_eq(cs.mask, UINT64_MAX);
	ck_assert_uint_eq(cs.nominal_hz, UINT64_C(2592000000));
	ck_assert_uint_eq(cs.flags, CS_F_CONTINUOUS | CS_F_MUST_VERIFY | CS_F_CLIENT_READ |
					    CS_F_PAGE_TSC | CS_F_CALIBRATE | CS_F_KNOWN_FREQ);
	ck_assert_ptr_nonnull(cs.read);
	ck_assert(attr(&cs, "invariant")->v.b);
	ck_assert(attr(&cs, "rdtscp")->v.b);
	ck_assert(attr(&cs, "tsc_adjust")->v.b);
	ck_assert(!attr(&cs, "hypervisor")->v.b);
	ck_assert(attr(&cs, "known_freq")->v.b);
	ck_assert_int_eq(attr(&cs, "known_freq")->kind, CS_ATTR_BOOL);
	ck_assert_str_eq(attr(&cs, "freq_source")->v.s, "cpuid 0x15");
	ck_assert_int_eq(attr(&cs, "cpuid_hz")->kind, CS_ATTR_U64);
	ck_assert_uint_eq(attr(&cs, "cpuid_hz")->v.u, UINT64_C(2592000000));
	ck_assert_ptr_null(cs_attr_get(&cs, "hypervisor_vendor"));
	ck_assert_ptr_null(cs_attr_get(&cs, "note"));
}
END_TEST

START_TEST(test_intel_crystal_from_0x16)
{
	struct cpuid_table t;
	struct tsc_features f;
	struct clocksource cs;

	intel_skylake(&t);
	put(&t, 0x15, 0, 2, 216, 0, 0);
	decode(&t, &f);
	/* 2600 MHz * 2 / 216 = 24074074 Hz (truncated), times 216 / 2. */
	ck_assert_uint_eq(f.crystal_hz, 24074074);
	ck_assert_uint_eq(f.cpuid_tsc_hz, UINT64_C(2599999992));
	ck_assert(!f.known_freq);
	ck_assert_str_eq(f.freq_source, "cpuid 0x15+0x16");

	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert_uint_eq(cs.nominal_hz, UINT64_C(2599999992));
	ck_assert(!(cs.flags & CS_F_KNOWN_FREQ));
	ck_assert(cs.flags & CS_F_MUST_VERIFY);
	ck_assert(!attr(&cs, "known_freq")->v.b);
	ck_assert_str_eq(attr(&cs, "freq_source")->v.s, "cpuid 0x15+0x16");

	/* No 0x16 (max leaf 0x15): no frequency, calibration must find it. */
	put_vendor(&t, 0x15, "GenuineIntel");
	decode(&t, &f);
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert_uint_eq(f.crystal_hz, 0);
	ck_assert(!f.known_freq);
	ck_assert_ptr_null(f.freq_source);
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert_uint_eq(cs.nominal_hz, 0);
	ck_assert_str_eq(attr(&cs, "freq_source")->v.s, "none");
	ck_assert_ptr_null(cs_attr_get(&cs, "cpuid_hz"));

	/* 0x16 reports no base frequency either. */
	intel_skylake(&t);
	put(&t, 0x15, 0, 2, 216, 0, 0);
	put(&t, 0x16, 0, 0, 0, 0, 0);
	decode(&t, &f);
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert_ptr_null(f.freq_source);
}
END_TEST

START_TEST(test_intel_no_ratio)
{
	struct cpuid_table t;
	struct tsc_features f;

	/* EAX (denominator) 0: the ratio is not enumerated, even with a crystal. */
	intel_skylake(&t);
	put(&t, 0x15, 0, 0, 216, 24000000, 0);
	decode(&t, &f);
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert(!f.known_freq);
	ck_assert_ptr_null(f.freq_source);

	/* EBX (numerator) 0: the same. */
	put(&t, 0x15, 0, 2, 0, 24000000, 0);
	decode(&t, &f);
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert(!f.known_freq);

	/* Max leaf below 0x15: the leaf is not even read. */
	put(&t, 0x15, 0, 2, 216, 24000000, 0);
	put_vendor(&t, 0x0d, "GenuineIntel");
	decode(&t, &f);
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert(f.present);
	ck_assert(f.tsc_adjust);
}
END_TEST

START_TEST(test_intel_denverton)
{
	struct cpuid_table t;
	struct tsc_features f;

	intel_skylake(&t);
	put(&t, 1, 0, 0x000506f1, 0, 0, 1u << 4); /* family 6 model 0x5f */
	put(&t, 0x15, 0, 2, 176, 0, 0);
	decode(&t, &f);
	ck_assert_uint_eq(f.crystal_hz, 25000000);
	ck_assert_uint_eq(f.cpuid_tsc_hz, UINT64_C(2200000000));
	ck_assert(f.known_freq);
	ck_assert_str_eq(f.freq_source, "cpuid 0x15 (Denverton crystal)");
}
END_TEST

START_TEST(test_amd)
{
	struct cpuid_table t;
	struct tsc_features f;
	struct clocksource cs;

	amd(&t);
	decode(&t, &f);
	ck_assert_str_eq(f.vendor, "AuthenticAMD");
	ck_assert(f.present);
	ck_assert(f.invariant);
	ck_assert(f.rdtscp);
	/* The kernel's 0x15/0x16 rules are Intel's: not applied. */
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert_uint_eq(f.crystal_hz, 0);
	ck_assert(!f.known_freq);
	ck_assert_ptr_null(f.freq_source);
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert_uint_eq(cs.nominal_hz, 0);
	ck_assert_uint_eq(cs.flags, CS_F_CONTINUOUS | CS_F_MUST_VERIFY | CS_F_CLIENT_READ |
					    CS_F_PAGE_TSC | CS_F_CALIBRATE);
}
END_TEST

START_TEST(test_hypervisor_leaf)
{
	struct cpuid_table t;
	struct tsc_features f;
	struct clocksource cs;

	amd(&t);
	hypervisor(&t, "VMwareVMware", 0x40000010u, 2100000);
	decode(&t, &f);
	ck_assert(f.hypervisor);
	ck_assert_str_eq(f.hv_vendor, "VMwareVMware");
	ck_assert_uint_eq(f.hv_tsc_hz, UINT64_C(2100000000));
	ck_assert_uint_eq(f.cpuid_tsc_hz, 0);
	ck_assert(!f.known_freq);
	ck_assert_str_eq(f.freq_source, "cpuid 0x40000010");
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert_uint_eq(cs.nominal_hz, UINT64_C(2100000000));
	ck_assert(!(cs.flags & CS_F_KNOWN_FREQ));
	ck_assert(attr(&cs, "hypervisor")->v.b);
	ck_assert_str_eq(attr(&cs, "hypervisor_vendor")->v.s, "VMwareVMware");
	ck_assert_str_eq(attr(&cs, "freq_source")->v.s, "cpuid 0x40000010");
	ck_assert_uint_eq(attr(&cs, "cpuid_hz")->v.u, UINT64_C(2100000000));

	/* KVM: the range stops at 0x40000001, so 0x40000010 is not read. */
	amd(&t);
	hypervisor(&t, "KVMKVMKVM\0\0\0", 0x40000001u, 2100000);
	decode(&t, &f);
	ck_assert(f.hypervisor);
	ck_assert_str_eq(f.hv_vendor, "KVMKVMKVM");
	ck_assert_uint_eq(f.hv_tsc_hz, 0);
	ck_assert_ptr_null(f.freq_source);

	/* Without the hypervisor bit the range is not looked at at all. */
	amd(&t);
	put(&t, 0x40000000u, 0, 0x40000010u, 1, 2, 3);
	put(&t, 0x40000010u, 0, 2100000, 0, 0, 0);
	decode(&t, &f);
	ck_assert(!f.hypervisor);
	ck_assert_str_eq(f.hv_vendor, "");
	ck_assert_uint_eq(f.hv_tsc_hz, 0);

	/* Intel under a hypervisor: CPUID 0x15 wins over the timing leaf. */
	intel_skylake(&t);
	hypervisor(&t, "VMwareVMware", 0x40000010u, 2100000);
	decode(&t, &f);
	ck_assert_uint_eq(f.hv_tsc_hz, UINT64_C(2100000000));
	ck_assert_str_eq(f.freq_source, "cpuid 0x15");
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert_uint_eq(cs.nominal_hz, UINT64_C(2592000000));
	ck_assert(cs.flags & CS_F_KNOWN_FREQ);
}
END_TEST

START_TEST(test_not_invariant_no_rdtscp)
{
	struct cpuid_table t;
	struct tsc_features f;
	struct clocksource cs;

	intel_skylake(&t);
	put(&t, 0x80000000u, 0, 0x80000004u, 0, 0, 0); /* 0x80000007 out of range */
	put(&t, 0x80000001u, 0, 0, 0, 0, 0);
	decode(&t, &f);
	ck_assert(f.present);
	ck_assert(!f.invariant);
	ck_assert(!f.rdtscp);
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), 0);
	ck_assert(cs.usable);
	ck_assert(cs.flags & CS_F_MUST_VERIFY);
	ck_assert(!attr(&cs, "invariant")->v.b);
	ck_assert(!attr(&cs, "rdtscp")->v.b);
	ck_assert_ptr_nonnull(strstr(attr(&cs, "note")->v.s, "watchdog"));

	/* No extended range at all: some old CPUs echo a basic leaf there. */
	put(&t, 0x80000000u, 0, 0x0d, 0, 0, 0);
	decode(&t, &f);
	ck_assert_uint_eq(f.max_ext_leaf, 0);
	ck_assert(!f.invariant);
}
END_TEST

START_TEST(test_no_tsc)
{
	struct cpuid_table t;
	struct tsc_features f;
	struct clocksource cs;

	intel_skylake(&t);
	put(&t, 1, 0, 0x000506e3, 0, 0, 0);
	decode(&t, &f);
	ck_assert(!f.present);
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), -ENODEV);
	ck_assert(!cs.usable);
	ck_assert_ptr_null(cs.read);
	ck_assert_str_eq(cs.reason, "tsc: CPUID.1 EDX bit 4 (TSC) is 0 (max leaf 22), expected 1");

	/* A CPU whose CPUID stops at leaf 0. */
	memset(&t, 0, sizeof(t));
	put_vendor(&t, 0, "GenuineIntel");
	decode(&t, &f);
	ck_assert(!f.present);
	cs_init(&cs, "tsc");
	ck_assert_int_eq(tsc_probe_features(&f, &cs), -ENODEV);
	ck_assert_ptr_nonnull(strstr(cs.reason, "(max leaf 0)"));
}
END_TEST

/* ---- this machine ----------------------------------------------------- */

static bool cpuinfo_has(const char *flag)
{
	FILE *fp = fopen("/proc/cpuinfo", "r");
	char line[4096], pat[64];
	bool found = false;

	if (!fp)
		return false;
	snprintf(pat, sizeof(pat), " %s", flag);
	while (!found && fgets(line, sizeof(line), fp)) {
		size_t n = strlen(pat);
		char *p;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (p = strstr(line, pat); p; p = strstr(p + 1, pat))
			if (p[n] == ' ' || p[n] == '\n' || p[n] == '\0')
				found = true;
		break;
	}
	fclose(fp);
	return found;
}

START_TEST(test_real_read_ordered)
{
	struct timespec ts = { 0, 2000000 };
	uint64_t a, b, prev;

	prev = tsc_read_ordered();
	for (int i = 0; i < 100000; i++) {
		uint64_t now = tsc_read_ordered();

		ck_assert_uint_ge(now, prev);
		prev = now;
	}
	a = tsc_read_ordered();
	nanosleep(&ts, NULL);
	b = tsc_read_ordered();
	/* 2 ms at >= 100 MHz is >= 200000 cycles. */
	ck_assert_uint_gt(b - a, 200000);
}
END_TEST

START_TEST(test_real_probe)
{
	struct hw_env env = { 0 };
	struct tsc_features f;
	struct clocksource cs;
	uint64_t a, b;

	tsc_features_read(NULL, NULL, &f);
	ck_assert(f.present); /* every x86-64 CPU has a TSC */
	ck_assert_uint_ge(f.max_leaf, 1);
	ck_assert_uint_ge(f.max_ext_leaf, 0x80000001u);
	ck_assert_uint_eq(f.rdtscp, cpuinfo_has("rdtscp"));
	ck_assert_uint_eq(f.hypervisor, cpuinfo_has("hypervisor"));
	if (f.invariant)
		ck_assert(cpuinfo_has("nonstop_tsc"));
	if (f.hypervisor)
		ck_assert_str_ne(f.hv_vendor, "");
	printf("# cpu %s%s%s, tsc %s, freq %s %" PRIu64 " Hz\n", f.vendor,
	       f.hypervisor ? " under " : "", f.hv_vendor, f.invariant ? "invariant" : "variant",
	       f.freq_source ? f.freq_source : "unknown",
	       f.cpuid_tsc_hz ? f.cpuid_tsc_hz : f.hv_tsc_hz);

	ck_assert_int_eq(tsc_probe(&env, &cs), 0);
	ck_assert_str_eq(cs.name, "tsc");
	ck_assert(cs.usable);
	ck_assert_int_eq(cs.rating, CS_RATING_TSC);
	ck_assert(cs.flags & CS_F_CLIENT_READ);
	a = cs_read(&cs);
	b = cs_read(&cs);
	ck_assert_uint_ge(b, a);
	cs_release(&cs);
}
END_TEST

START_TEST(test_kclock)
{
	struct hw_env env = { 0 };
	struct clocksource cs;
	struct timespec ts;
	uint64_t a, b, k;

	ck_assert_int_eq(kclock_probe(&env, &cs), 0);
	ck_assert(cs.usable);
	ck_assert_str_eq(cs.name, "kclock");
	ck_assert_int_eq(cs.rating, CS_RATING_KCLOCK);
	ck_assert_uint_eq(cs.bits, 64);
	ck_assert_uint_eq(cs.mask, UINT64_MAX);
	ck_assert_uint_eq(cs.nominal_hz, 1000000000);
	ck_assert_uint_eq(cs.flags, CS_F_CONTINUOUS | CS_F_CLIENT_READ | CS_F_KERNEL_CLOCK);
	ck_assert_str_eq(attr(&cs, "clock")->v.s, "CLOCK_MONOTONIC_RAW");

	a = cs_read(&cs);
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	k = ts_to_ns_u(&ts);
	b = cs_read(&cs);
	ck_assert_uint_le(a, k);
	ck_assert_uint_le(k, b);
	cs_release(&cs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tsc");
	TCase *tc = tcase_create("cpuid");

	tcase_add_test(tc, test_intel_crystal);
	tcase_add_test(tc, test_intel_crystal_from_0x16);
	tcase_add_test(tc, test_intel_no_ratio);
	tcase_add_test(tc, test_intel_denverton);
	tcase_add_test(tc, test_amd);
	tcase_add_test(tc, test_hypervisor_leaf);
	tcase_add_test(tc, test_not_invariant_no_rdtscp);
	tcase_add_test(tc, test_no_tsc);
	suite_add_tcase(s, tc);

	tc = tcase_create("real");
	tcase_add_test(tc, test_real_read_ordered);
	tcase_add_test(tc, test_real_probe);
	tcase_add_test(tc, test_kclock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
