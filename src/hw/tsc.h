/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Time Stamp Counter: CPUID features and ordered reads.
 */
#ifndef TK_HW_TSC_H
#define TK_HW_TSC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clocksource.h"

struct tsc_cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

/* A CPUID implementation: returns false when the leaf is not supported.
 * Tests pass a table of fake leaves. */
typedef bool (*tsc_cpuid_fn)(uint32_t leaf, uint32_t subleaf, struct tsc_cpuid_regs *r, void *ctx);

struct tsc_features {
	char vendor[13];       /* "GenuineIntel", "AuthenticAMD", ... */
	uint32_t max_leaf;     /* CPUID.0 EAX */
	uint32_t max_ext_leaf; /* CPUID.0x80000000 EAX */
	bool present;	       /* CPUID.1 EDX[4] */
	bool invariant;	       /* CPUID.0x80000007 EDX[8]: constant_tsc + nonstop_tsc */
	bool rdtscp;	       /* CPUID.0x80000001 EDX[27] */
	bool tsc_adjust;       /* CPUID.7.0 EBX[1] */
	bool hypervisor;       /* CPUID.1 ECX[31] */
	char hv_vendor[13];    /* CPUID.0x40000000 signature, when hypervisor */
	uint64_t hv_tsc_hz;    /* CPUID.0x40000010 EAX (kHz) * 1000, when offered; else 0 */
	uint64_t crystal_hz;   /* CPUID.0x15 ECX (or derived, see known_freq) */
	uint64_t cpuid_tsc_hz; /* frequency from leaves 0x15/0x16 by the kernel's rules; 0 = none */
	bool known_freq;       /* the kernel would set TSC_KNOWN_FREQ (crystal given by 0x15) */
	/* "cpuid 0x15", "cpuid 0x15+0x16", "cpuid 0x15 (Denverton crystal)",
	 * "cpuid 0x40000010", or NULL */
	const char *freq_source;
};

/* Fills f from fn (NULL = the real CPUID instruction). */
void tsc_features_read(tsc_cpuid_fn fn, void *ctx, struct tsc_features *f);

/* rdtscp when available, else lfence; rdtsc: ordered like a load. The
 * choice is made from the real CPU (at tsc_probe(), or at the first call). */
uint64_t tsc_read_ordered(void);

/* Fills cs (already cs_init()ed as "tsc") from features f: what tsc_probe()
 * does after reading the real CPUID; tests call it with fake tables. The read
 * function is always the real tsc_read_ordered(). Returns 0 when usable, or
 * -ENODEV after cs_set_unusable() when CPUID says there is no TSC. */
int tsc_probe_features(const struct tsc_features *f, struct clocksource *cs);

#endif
