/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Discovery of every counter the daemon can use: the hardware layer's one
 * entry point for the core.
 */
#ifndef TK_HW_HW_H
#define TK_HW_HW_H

#include <stdbool.h>
#include <stddef.h>

#include "core/clocksource.h"
#include "hw/simhw.h"

struct hw_env {
	const char *acpi_dir; /* ACPI tables; default /sys/firmware/acpi/tables */
	const char *dev_hpet; /* default /dev/hpet */
	const char *dev_mem;  /* default /dev/mem */
	/* test only: "vvvv:dddd:rr ..." instead of libpci's scan; NULL = scan */
	const char *pci_ids;
	const struct sim_conf *sim; /* simulated devices replace the real ones they name */
};

enum { HW_MAX_SOURCES = 4 };

/* Probes hpet, acpi_pm, tsc and kclock (or their simulated replacements),
 * in that order, into out[]; each entry says whether it is usable and, if
 * not, why. Returns the number of entries. */
size_t hw_discover(const struct hw_env *env, struct clocksource out[HW_MAX_SOURCES]);

/* Releases every usable entry. */
void hw_release_all(struct clocksource *cs, size_t n);

#endif
