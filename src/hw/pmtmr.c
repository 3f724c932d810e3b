// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ACPI PM timer driver. The port comes from the FADT (acpi.c decides between
 * X_PM_TMR_BLK and PM_TMR_BLK as the kernel does); access is ioperm() on the
 * 4 ports of the register, with iopl(3) as the fallback; both need
 * CAP_SYS_RAWIO and both are refused under kernel lockdown. The value is
 * masked to 24 bits whatever TMR_VAL_EXT says: Linux does the same because
 * 24 bits is what every implementation guarantees.
 *
 * The I/O permission bitmap belongs to the thread that asked for it and is
 * inherited by threads created after it, so the probe must run on the thread
 * that reads the timer (or before that thread is created).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "hw/acpi.h"
#include "hw/drivers.h"
#include "hw/pciq.h"
#include "hw/pmtmr.h"

struct pmtmr_priv {
	uint16_t port;
	bool via_iopl;
};

/* True when one of three values lies out of order between the other two:
 * a read landed in the PIIX4's indeterminate window. */
static bool out_of_order(uint32_t v1, uint32_t v2, uint32_t v3)
{
	return (v1 > v2 && v1 < v3) || (v2 > v3 && v2 < v1) || (v3 > v1 && v3 < v2);
}

uint32_t pmtmr_read_verified(pmtmr_read_fn read, void *ctx)
{
	uint32_t v1, v2, v3;

	do {
		v1 = read(ctx) & PMTMR_MASK;
		v2 = read(ctx) & PMTMR_MASK;
		v3 = read(ctx) & PMTMR_MASK;
	} while (out_of_order(v1, v2, v3));
	return v2;
}

int pmtmr_check_monotonic(pmtmr_read_fn read, void *ctx, char *err, size_t errlen)
{
	for (int round = 0; round < PMTMR_MONOTONICITY_CHECKS; round++) {
		uint32_t v1, v2 = 0;
		int i;

		if (round)
			usleep((useconds_t)(100 * round));
		v1 = read(ctx) & PMTMR_MASK;
		for (i = 0; i < PMTMR_READ_CHECKS; i++) {
			v2 = read(ctx) & PMTMR_MASK;
			if (v2 == v1)
				continue;
			if (v2 > v1 || v2 < PMTMR_WRAP_LIMIT)
				break;
			errbuf_set(err, errlen,
				   "acpi_pm: inconsistent reads 0x%06x then 0x%06x in "
				   "round %d, expected an increase or a wrap to below 0x%x",
				   v1, v2, round, PMTMR_WRAP_LIMIT);
			return -ENODEV;
		}
		if (i == PMTMR_READ_CHECKS) {
			errbuf_set(err, errlen,
				   "acpi_pm: stuck at 0x%06x for %d reads in round %d, "
				   "expected it to count",
				   v1, PMTMR_READ_CHECKS, round);
			return -ENODEV;
		}
	}
	return 0;
}

static uint32_t port_read(void *ctx)
{
	const struct pmtmr_priv *p = ctx;

	return inl(p->port);
}

static uint64_t pmtmr_read(struct clocksource *cs)
{
	return port_read(cs->priv) & PMTMR_MASK;
}

static uint64_t pmtmr_read_quirk(struct clocksource *cs)
{
	return pmtmr_read_verified(port_read, cs->priv);
}

/* The read the clocksource uses, as a pmtmr_read_fn for the start-up check. */
static uint32_t cs_read_fn(void *ctx)
{
	struct clocksource *cs = ctx;

	return (uint32_t)cs->read(cs);
}

static void pmtmr_release(struct clocksource *cs)
{
	struct pmtmr_priv *p = cs->priv;

	if (!p)
		return;
	/* Giving access back needs no privilege. */
	if (p->via_iopl)
		iopl(0);
	else
		ioperm(p->port, 4, 0);
	free(p);
}

int pmtmr_probe(const struct hw_env *env, struct clocksource *cs)
{
	const char *dir = env->acpi_dir ? env->acpi_dir : ACPI_TABLES_DIR;
	char err[CS_REASON_LEN], qerr[CS_REASON_LEN];
	struct acpi_pmtmr_info info;
	struct pciq_result q;
	struct pmtmr_priv *p;
	uint8_t *tab;
	size_t len;
	int ret, e_ioperm, e_iopl;
	bool via_iopl = false;

	cs_init(cs, "acpi_pm");
	ret = acpi_table_load(dir, "FACP", &tab, &len, err, sizeof(err));
	if (ret < 0) {
		cs_set_unusable(cs, "acpi_pm: %s", err);
		return ret;
	}
	ret = acpi_parse_fadt_pmtmr(tab, len, &info, err, sizeof(err));
	free(tab);
	if (ret < 0) {
		cs_set_unusable(cs, "acpi_pm: %s", err);
		return ret;
	}
	cs_attr_u64(cs, "port", info.port);
	cs_attr_str(cs, "port_source", "%s", acpi_pmtmr_source_name(info.source));
	cs_attr_bool(cs, "tmr_val_ext", info.tmr_val_ext);

	ret = pciq_scan(env->pci_ids, &q, qerr, sizeof(qerr));
	if (ret == -EIO) {
		/* No way to see the chipset (no sysfs, no /proc/bus/pci): the
		 * verified read is correct on every chipset, only slower. */
		q.workaround = true;
		snprintf(q.reason, sizeof(q.reason),
			 "chipset unknown (PCI scan failed): precaution");
	} else if (ret < 0) {
		cs_set_unusable(cs, "acpi_pm: %s", qerr);
		return ret;
	}
	cs_attr_bool(cs, "workaround", q.workaround);
	cs_attr_str(cs, "workaround_reason", "%s", q.reason);

	if (ioperm(info.port, 4, 1) < 0) {
		e_ioperm = errno;
		if (iopl(3) < 0) {
			e_iopl = errno;
			cs_set_unusable(cs,
					"acpi_pm: no access to port 0x%x: ioperm: %s, iopl(3): %s "
					"(both need CAP_SYS_RAWIO and are refused under lockdown)",
					info.port, strerror(e_ioperm), strerror(e_iopl));
			return -e_ioperm;
		}
		via_iopl = true;
	}
	cs_attr_str(cs, "access", "%s", via_iopl ? "iopl" : "ioperm");

	p = calloc(1, sizeof(*p));
	if (!p) {
		if (via_iopl)
			iopl(0);
		else
			ioperm(info.port, 4, 0);
		cs_set_unusable(cs, "acpi_pm: out of memory");
		return -ENOMEM;
	}
	p->port = info.port;
	p->via_iopl = via_iopl;
	cs->priv = p;
	cs->release = pmtmr_release;
	cs->read = q.workaround ? pmtmr_read_quirk : pmtmr_read;

	ret = pmtmr_check_monotonic(cs_read_fn, cs, err, sizeof(err));
	if (ret < 0) {
		cs_release(cs);
		cs_set_unusable(cs, "%s", err);
		return ret;
	}

	cs->usable = true;
	cs->rating = q.workaround ? CS_RATING_PMTMR_QUIRK : CS_RATING_PMTMR;
	cs->bits = PMTMR_BITS;
	cs->mask = CS_MASK(PMTMR_BITS);
	cs->nominal_hz = PMTMR_TICKS_PER_SEC;
	cs->flags = CS_F_CONTINUOUS;
	return 0;
}
