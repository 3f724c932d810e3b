/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI PM timer driver: the 3.579545 MHz counter at the I/O port the FADT
 * names, reached with ioperm() (iopl(3) as the fallback) and read with inl(),
 * always masked to 24 bits as Linux does. Chipsets on the kernel's lists
 * (pciq) get the verified triple read and the lower rating.
 *
 * The probe is pmtmr_probe() in drivers.h; this header holds the pure parts
 * tests drive with scripted reads: the verified read and the start-up
 * monotonicity check.
 */
#ifndef TK_HW_PMTMR_H
#define TK_HW_PMTMR_H

#include <stddef.h>
#include <stdint.h>

#define PMTMR_TICKS_PER_SEC 3579545u
#define PMTMR_BITS 24
#define PMTMR_MASK 0xffffffu

/* Start-up check, the kernel's acpi_pm one: 10 rounds of up to 10000 reads, 100*j µs apart. */
#define PMTMR_MONOTONICITY_CHECKS 10
#define PMTMR_READ_CHECKS 10000
/* A decrease to below this counts as a wrap of the 24-bit counter. */
#define PMTMR_WRAP_LIMIT 0xfffu

/* Reads the PM_TMR register once; the raw 32-bit value. */
typedef uint32_t (*pmtmr_read_fn)(void *ctx);

/*
 * The chipset workaround (PIIX4 erratum and the graylist): reads three
 * values, masked to 24 bits, and repeats while one of them lies out of order
 * between the other two; returns the middle read.
 */
uint32_t pmtmr_read_verified(pmtmr_read_fn read, void *ctx);

/*
 * The kernel's start-up consistency check. Each round reads a first value,
 * then reads until it changes: an increase, or a decrease to below
 * PMTMR_WRAP_LIMIT (a wrap), passes; any other decrease is "inconsistent";
 * no change in PMTMR_READ_CHECKS reads is "stuck". Values are masked to 24
 * bits. Returns 0 or -ENODEV with the reason in err ("acpi_pm: ...").
 */
int pmtmr_check_monotonic(pmtmr_read_fn read, void *ctx, char *err, size_t errlen);

#endif
