/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HPET driver: finds the HPET through the ACPI HPET table, maps its 1 KiB
 * register block read-only (/dev/hpet when its mmap works, else /dev/mem),
 * validates the capabilities and reads the low 32 bits of the main counter.
 * The kernel owns the device: no register is ever written from here.
 *
 * The probe itself is hpet_probe() in drivers.h; this header holds the
 * register layout and the pure capability check that tests call directly.
 */
#ifndef TK_HW_HPET_H
#define TK_HW_HPET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HPET_MMAP_SIZE 1024 /* "timer register space is 1024 bytes" */

/* Register offsets from the base, as the HPET specification lays them out. */
enum {
	HPET_REG_ID = 0x000,	  /* GCAP_ID[31:0] */
	HPET_REG_PERIOD = 0x004,  /* GCAP_ID[63:32]: counter period in fs */
	HPET_REG_CFG = 0x010,	  /* GEN_CONF */
	HPET_REG_COUNTER = 0x0f0, /* MAIN_COUNTER; Linux reads the low word only */
};

#define HPET_ID_REV 0x000000ffu
#define HPET_ID_NUMBER 0x00001f00u /* number of timers - 1 */
#define HPET_ID_NUMBER_SHIFT 8
#define HPET_ID_64BIT 0x00002000u  /* COUNT_SIZE_CAP */
#define HPET_ID_LEGSUP 0x00008000u /* LEG_RT_CAP */
#define HPET_ID_VENDOR_SHIFT 16
#define HPET_CFG_ENABLE 0x1u /* ENABLE_CNF */

/* Valid counter periods: 0.1 ns .. 100 ns, i.e. 10 MHz .. 10 GHz. */
#define HPET_PERIOD_MIN_FS 100000u
#define HPET_PERIOD_MAX_FS 100000000u

/* GEN_CONF reads all ones until AMD SB700's SMM emulation is ready. */
#define HPET_CFG_POLLS 1000
/* How long the main counter gets to move before it is declared stopped. */
#define HPET_COUNTING_NS 1000000

/* What was read from the registers. */
struct hpet_regs {
	uint32_t id;	    /* offset 0x000 */
	uint32_t period_fs; /* offset 0x004 */
	uint32_t cfg;	    /* offset 0x010, after polling past 0xFFFFFFFF */
};

/* What the registers say, decoded even when the check fails. */
struct hpet_caps {
	uint32_t period_fs;
	uint64_t nominal_hz; /* 10^15 / period, rounded to nearest; 0 if period is 0 */
	uint16_t vendor;
	uint8_t rev;
	unsigned int timers; /* NUM_TIM_CAP + 1 */
	bool counter_64bit;
	bool legacy_capable;
	bool enabled;
};

/*
 * Decodes and validates the capability and configuration registers: GEN_CONF
 * not 0xFFFFFFFF, a vendor id that is not all ones, the period within
 * HPET_PERIOD_MIN_FS..HPET_PERIOD_MAX_FS, and ENABLE_CNF set (the kernel
 * enables the HPET it uses; a disabled one does not count). Returns 0, or
 * -ENODEV with the reason in err ("hpet: ...").
 */
int hpet_check_caps(const struct hpet_regs *regs, struct hpet_caps *caps, char *err, size_t errlen);

#endif
