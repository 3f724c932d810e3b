/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The contract between the hardware layer (src/hw) and the core: one
 * struct clocksource per counter. A driver's probe function fills it in and
 * says whether the counter can be used; when it cannot, `reason` holds one
 * line naming the check that failed, what was read and what was expected.
 *
 * The core never includes a driver's header; it sees counters only through
 * this table. Everything the core adds on top (mult/shift, state, watchdog
 * statistics) lives in the core's own structures.
 */
#ifndef TK_CORE_CLOCKSOURCE_H
#define TK_CORE_CLOCKSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_NAME_LEN 32
#define CS_REASON_LEN 256
#define CS_MAX_ATTRS 16
#define CS_ATTR_STR_LEN 96

/* Mask of a counter `bits` wide, as the kernel's CLOCKSOURCE_MASK(). */
#define CS_MASK(bits) ((bits) >= 64 ? UINT64_MAX : ((UINT64_C(1) << (bits)) - 1))

/* The kernel's ratings for these counters. */
enum {
	CS_RATING_TSC = 300,
	CS_RATING_HPET = 250,
	CS_RATING_PMTMR = 200,
	CS_RATING_PMTMR_QUIRK = 120, /* verified triple read in force */
	CS_RATING_KCLOCK = 50,       /* "unfit" band: a reference of last resort */
};

enum cs_flags {
	CS_F_CONTINUOUS = 1u << 0,  /* counts through idle states */
	CS_F_MUST_VERIFY = 1u << 1, /* the watchdog must check it (the TSC) */
	CS_F_CLIENT_READ = 1u << 2, /* unprivileged clients can read it themselves */
	CS_F_SIMULATED = 1u << 3,   /* a simulated device, not the hardware */
	CS_F_KNOWN_FREQ = 1u << 4,  /* nominal_hz comes from firmware/CPUID crystal */
};

enum cs_attr_kind {
	CS_ATTR_STR,  /* JSON string */
	CS_ATTR_U64,  /* JSON number */
	CS_ATTR_BOOL, /* JSON true/false */
	CS_ATTR_HEX,  /* JSON string "0x..." (addresses exceed JSON's exact integers) */
};

/* Driver-specific facts shown by --probe (address, port, workaround, ...). */
struct cs_attr {
	const char *key; /* static string */
	enum cs_attr_kind kind;
	union {
		char s[CS_ATTR_STR_LEN];
		uint64_t u;
		bool b;
	} v;
};

struct clocksource {
	char name[CS_NAME_LEN];
	bool usable;
	char reason[CS_REASON_LEN]; /* why not usable; empty when usable */

	int rating;
	unsigned int bits;
	uint64_t mask;
	uint64_t nominal_hz;     /* 0 = unknown (a TSC without CPUID frequency) */
	uint32_t flags;          /* enum cs_flags */
	uint64_t uncertainty_ns; /* watchdog margin; 0 = let the core compute it */

	/* Reads the counter; the result is already masked. Only when usable. */
	uint64_t (*read)(struct clocksource *cs);
	/* Releases mappings and other resources; may be NULL. */
	void (*release)(struct clocksource *cs);
	void *priv;

	struct cs_attr attrs[CS_MAX_ATTRS];
	unsigned int nattrs;
};

static inline uint64_t cs_read(struct clocksource *cs)
{
	return cs->read(cs);
}

/* Helpers for drivers (src/core/clocksource.c). */
void cs_init(struct clocksource *cs, const char *name);
void cs_set_unusable(struct clocksource *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cs_attr_str(struct clocksource *cs, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cs_attr_u64(struct clocksource *cs, const char *key, uint64_t v);
void cs_attr_hex(struct clocksource *cs, const char *key, uint64_t v);
void cs_attr_bool(struct clocksource *cs, const char *key, bool v);
const struct cs_attr *cs_attr_get(const struct clocksource *cs, const char *key);
void cs_release(struct clocksource *cs);

#endif
