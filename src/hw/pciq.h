/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI chipset quirks for the ACPI PM timer: decide, from the PCI devices
 * present, whether the PM timer must be read with the verified triple read.
 * Same lists as the kernel's acpi_pm driver: a blacklist (PIIX4
 * before revision 3) and a graylist (ICH4 LPC, ServerWorks LE) where the
 * workaround is always applied.
 *
 * The devices come from libpci, or from a "vvvv:dddd:rr ..." string when the
 * caller gives one (the test seam, struct hw_env.pci_ids).
 */
#ifndef TK_HW_PCIQ_H
#define TK_HW_PCIQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCIQ_REASON_LEN 96

enum pciq_kind {
	PCIQ_NONE,	/* not listed, or listed but fixed (PIIX4M) */
	PCIQ_BLACKLIST, /* known bad revision: workaround */
	PCIQ_GRAYLIST,	/* possibly bad: workaround always */
};

struct pciq_result {
	enum pciq_kind kind;
	bool workaround;	 /* kind != PCIQ_NONE */
	uint16_t vendor, device; /* the device that decided; 0 when none */
	uint8_t revision;
	char reason[PCIQ_REASON_LEN]; /* e.g. "8086:7113 rev 01 (PIIX4 erratum)" */
};

/*
 * Classifies one device. `reason` (may be NULL) gets a description when the
 * device is listed (also for a fixed PIIX4M: "none: ... is PIIX4M, fixed")
 * and is left empty otherwise.
 */
enum pciq_kind pciq_match(uint16_t vendor, uint16_t device, uint8_t revision, char *reason,
			  size_t reasonlen);

/*
 * Decides the workaround for the machine: from `ids` when non-NULL
 * ("8086:7113:01 8086:29c0:02", whitespace separated, hex), else from a
 * libpci scan. The first device that needs the workaround decides; without
 * one, the reason is the PIIX4M note or "no listed chipset".
 *
 * Always fills *res. Returns 0; -EINVAL when `ids` is malformed; -EIO when
 * libpci failed (no PCI access at all, e.g. no /sys/bus/pci): *res then says
 * "no listed chipset" and err says why. libpci never exits the process or
 * prints anything from here.
 */
int pciq_scan(const char *ids, struct pciq_result *res, char *err, size_t errlen);

/*
 * The libpci scan with the access method (a libpci name such as
 * "linux-sysfs"; NULL = auto) and the sysfs directory (NULL = libpci's
 * default) chosen by the caller; pciq_scan() uses the defaults. Exposed so
 * tests can make libpci fail.
 */
int pciq_scan_libpci(const char *method, const char *sysfs_path, struct pciq_result *res, char *err,
		     size_t errlen);

#endif
