// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCI chipset quirks for the ACPI PM timer: the kernel's acpi_pm blacklist
 * and graylist, applied to the devices libpci finds.
 *
 * libpci is written for command-line tools: its default error handler
 * prints and calls exit(). A daemon cannot allow that, so the scan installs
 * its own handlers: warnings and debug output are dropped, and the error
 * handler (declared noreturn by libpci) records the message and longjmps
 * back to the scan, which then reports -EIO. Only the kernel's interfaces
 * (sysfs, then /proc/bus/pci) are used: libpci's automatic probe would fall
 * back to poking the configuration ports 0xCF8/0xCFC directly, racing the
 * kernel's own configuration cycles.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pci/pci.h>

#include "core/errbuf.h"
#include "hw/pciq.h"

enum {
	VENDOR_INTEL = 0x8086,
	VENDOR_SERVERWORKS = 0x1166,
	DEV_INTEL_82371AB_3 = 0x7113, /* PIIX4 ACPI function */
	DEV_INTEL_82801DB_0 = 0x24c0, /* ICH4 LPC bridge */
	DEV_SERVERWORKS_LE = 0x0009,
	PIIX4M_FIRST_REV = 3,
};

enum pciq_kind pciq_match(uint16_t vendor, uint16_t device, uint8_t revision, char *reason,
			  size_t reasonlen)
{
	enum pciq_kind kind = PCIQ_NONE;
	const char *what = NULL;

	if (vendor == VENDOR_INTEL && device == DEV_INTEL_82371AB_3) {
		/* PIIX4 erratum: a 3 ns window every 69.8 ns in which the
		 * timer value is indeterminate. Fixed in PIIX4M (rev >= 3). */
		if (revision < PIIX4M_FIRST_REV) {
			kind = PCIQ_BLACKLIST;
			what = "PIIX4 erratum";
		} else {
			errbuf_set(reason, reasonlen, "none: %04x:%04x rev %02x is PIIX4M, fixed",
				   vendor, device, revision);
			return PCIQ_NONE;
		}
	} else if (vendor == VENDOR_INTEL && device == DEV_INTEL_82801DB_0) {
		/* ICH4: reports of the same bad reads; no fixed revision known. */
		kind = PCIQ_GRAYLIST;
		what = "ICH4 graylist";
	} else if (vendor == VENDOR_SERVERWORKS && device == DEV_SERVERWORKS_LE) {
		kind = PCIQ_GRAYLIST;
		what = "ServerWorks LE graylist";
	}
	if (kind == PCIQ_NONE) {
		errbuf_set(reason, reasonlen, "%s", "");
		return kind;
	}
	errbuf_set(reason, reasonlen, "%04x:%04x rev %02x (%s)", vendor, device, revision, what);
	return kind;
}

static void result_init(struct pciq_result *res)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->reason, sizeof(res->reason), "no listed chipset");
}

/* Folds one device into the decision: the first device that needs the
 * workaround wins; a fixed PIIX4M only replaces "no listed chipset". */
static void result_add(struct pciq_result *res, uint16_t vendor, uint16_t device, uint8_t rev)
{
	char why[PCIQ_REASON_LEN];
	enum pciq_kind kind;

	if (res->workaround)
		return;
	kind = pciq_match(vendor, device, rev, why, sizeof(why));
	if (kind == PCIQ_NONE && why[0] == '\0')
		return;
	res->kind = kind;
	res->workaround = kind != PCIQ_NONE;
	res->vendor = vendor;
	res->device = device;
	res->revision = rev;
	snprintf(res->reason, sizeof(res->reason), "%s", why);
}

/* One "vvvv:dddd:rr" token; false when malformed. */
static bool parse_id(const char *tok, size_t n, uint16_t *vendor, uint16_t *device, uint8_t *rev)
{
	unsigned long v[3];
	const char *p = tok, *end = tok + n;
	static const unsigned long max[3] = { 0xffff, 0xffff, 0xff };

	for (int i = 0; i < 3; i++) {
		unsigned long x = 0;
		int digits = 0;

		while (p < end && isxdigit((unsigned char)*p)) {
			int c = tolower((unsigned char)*p);

			x = x * 16 + (unsigned long)(isdigit(c) ? c - '0' : c - 'a' + 10);
			if (++digits > (i == 2 ? 2 : 4))
				return false;
			p++;
		}
		if (!digits || x > max[i])
			return false;
		v[i] = x;
		if (i < 2) {
			if (p >= end || *p != ':')
				return false;
			p++;
		}
	}
	if (p != end)
		return false;
	*vendor = (uint16_t)v[0];
	*device = (uint16_t)v[1];
	*rev = (uint8_t)v[2];
	return true;
}

static int scan_ids(const char *ids, struct pciq_result *res, char *err, size_t errlen)
{
	const char *p = ids;

	for (;;) {
		uint16_t vendor, device;
		uint8_t rev;
		size_t n;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		for (n = 0; p[n] && !isspace((unsigned char)p[n]); n++)
			;
		if (!parse_id(p, n, &vendor, &device, &rev)) {
			errbuf_set(err, errlen, "pci ids: \"%.*s\" is not vvvv:dddd:rr (hex)",
				   (int)(n > 40 ? 40 : n), p);
			result_init(res);
			return -EINVAL;
		}
		result_add(res, vendor, device, rev);
		p += n;
	}
}

/*
 * libpci's error callback has no context argument, so the way back to the
 * scan that is running lives in thread-local storage.
 */
static _Thread_local jmp_buf *pci_escape;
static _Thread_local char pci_errmsg[160];

static void __attribute__((noreturn, format(printf, 1, 2))) on_pci_error(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(pci_errmsg, sizeof(pci_errmsg), msg, ap);
	va_end(ap);
	if (pci_escape)
		longjmp(*pci_escape, 1);
	/* Only reachable if libpci called back outside a scan: our bug. */
	abort();
}

static void __attribute__((format(printf, 1, 2))) on_pci_quiet(char *msg, ...)
{
	(void)msg;
}

/* One scan with one access method; 0 or -EIO with pci_errmsg set. */
static int scan_method(int method, const char *sysfs_path, struct pciq_result *res)
{
	struct pci_access *volatile acc = NULL;
	volatile int escaped = 0;
	jmp_buf env;

	pci_errmsg[0] = '\0';
	pci_escape = &env;
	if (setjmp(env) != 0) {
		/* libpci failed somewhere below. Clean up once; if the cleanup
		 * itself fails we land here again and leak instead. */
		if (!escaped) {
			escaped = 1;
			if (acc)
				pci_cleanup(acc);
		}
		pci_escape = NULL;
		return -EIO;
	}

	acc = pci_alloc();
	acc->error = on_pci_error;
	acc->warning = on_pci_quiet;
	acc->debug = on_pci_quiet;
	acc->method = (unsigned int)method;
	if (sysfs_path) {
		char path[512];

		snprintf(path, sizeof(path), "%s", sysfs_path);
		pci_set_param(acc, "sysfs.path", path);
	}
	pci_init(acc);
	pci_scan_bus(acc);
	for (struct pci_dev *d = acc->devices; d; d = d->next) {
		uint8_t rev;

		pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS);
		rev = pci_read_byte(d, PCI_REVISION_ID);
		result_add(res, d->vendor_id, d->device_id, rev);
	}
	pci_cleanup(acc);
	pci_escape = NULL;
	return 0;
}

int pciq_scan_libpci(const char *method, const char *sysfs_path, struct pciq_result *res, char *err,
		     size_t errlen)
{
	static const char *const kernel_methods[] = { "linux-sysfs", "linux-proc" };
	const char *const *names = method ? &method : kernel_methods;
	size_t n = method ? 1 : sizeof(kernel_methods) / sizeof(kernel_methods[0]);
	char why[256] = "";
	size_t used = 0;

	result_init(res);
	for (size_t i = 0; i < n; i++) {
		char name[64];
		int m;

		snprintf(name, sizeof(name), "%s", names[i]);
		m = pci_lookup_method(name);
		if (m < 0) {
			used += (size_t)snprintf(why + used, sizeof(why) - used,
						 "%s%s: not in libpci", used ? "; " : "", names[i]);
		} else if (scan_method(m, sysfs_path, res) == 0) {
			return 0;
		} else {
			used += (size_t)snprintf(why + used, sizeof(why) - used, "%s%s: %s",
						 used ? "; " : "", names[i], pci_errmsg);
			result_init(res); /* drop anything a failed scan added */
		}
		if (used >= sizeof(why))
			used = sizeof(why) - 1;
	}
	errbuf_set(err, errlen, "no PCI access through libpci (%s)", why);
	return -EIO;
}

int pciq_scan(const char *ids, struct pciq_result *res, char *err, size_t errlen)
{
	if (ids) {
		result_init(res);
		return scan_ids(ids, res, err, errlen);
	}
	return pciq_scan_libpci(NULL, NULL, res, err, errlen);
}
