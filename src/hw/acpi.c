// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ACPI tables: load one table from the firmware directory, verify its header
 * (signature, length, checksum) and decode the HPET base address and the
 * ACPI PM timer port as Linux does (acpi_parse_hpet, acpi_parse_fadt). The tables are
 * firmware input: every offset is checked against the length before it is
 * read, and nothing here trusts the header's own length field until it has
 * been compared with the bytes actually read.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "hw/acpi.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* The signature as read, printable even when the bytes are not. */
static void sig_text(const uint8_t *p, char out[5])
{
	for (int i = 0; i < 4; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[4] = '\0';
}

const char *acpi_pmtmr_source_name(enum acpi_pmtmr_source s)
{
	return s == ACPI_PMTMR_X_BLK ? "X_PM_TMR_BLK" : "PM_TMR_BLK";
}

int acpi_table_load(const char *dir, const char *sig, uint8_t **buf, size_t *len, char *err,
		    size_t errlen)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t cap = 0, used = 0;
	int fd, ret;

	*buf = NULL;
	*len = 0;
	if (!dir)
		dir = ACPI_TABLES_DIR;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sig) >= sizeof(path)) {
		errbuf_set(err, errlen, "path of the %s table in %s is too long", sig, dir);
		return -ENAMETOOLONG;
	}

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			errbuf_set(err, errlen, "no ACPI %s table in %s", sig, dir);
		else if (ret == -EACCES || ret == -EPERM)
			errbuf_set(err, errlen,
				   "cannot read %s: %s (ACPI tables are readable by root only)",
				   path, strerror(-ret));
		else
			errbuf_set(err, errlen, "cannot open %s: %s", path, strerror(-ret));
		return ret == -EPERM ? -EACCES : ret;
	}

	/* sysfs reports the table's size in st_size, but captured copies and
	 * pipes may not: read to end of file, bounded. */
	for (;;) {
		ssize_t n;

		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nd;

			if (cap > ACPI_TABLE_MAX_LEN) {
				errbuf_set(err, errlen, "%s is larger than %d bytes", path,
					   ACPI_TABLE_MAX_LEN);
				ret = -EFBIG;
				goto fail;
			}
			nd = realloc(data, ncap);
			if (!nd) {
				errbuf_set(err, errlen, "out of memory reading %s", path);
				ret = -ENOMEM;
				goto fail;
			}
			data = nd;
			cap = ncap;
		}
		n = read(fd, data + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			if (ret == -EACCES || ret == -EPERM) {
				errbuf_set(err, errlen,
					   "cannot read %s: %s (ACPI tables are "
					   "readable by root only)",
					   path, strerror(-ret));
				ret = -EACCES;
			} else {
				errbuf_set(err, errlen, "cannot read %s: %s", path, strerror(-ret));
			}
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > ACPI_TABLE_MAX_LEN) {
		errbuf_set(err, errlen, "%s is larger than %d bytes", path, ACPI_TABLE_MAX_LEN);
		ret = -EFBIG;
		goto fail;
	}
	close(fd);
	*buf = data;
	*len = used;
	return 0;

fail:
	close(fd);
	free(data);
	return ret;
}

int acpi_table_verify(const uint8_t *buf, size_t len, const char *sig, char *err, size_t errlen)
{
	char got[5];
	uint32_t hdr_len;
	uint8_t sum = 0;

	if (len < ACPI_HEADER_LEN) {
		errbuf_set(err, errlen, "%s table: %zu bytes, shorter than the %d-byte ACPI header",
			   sig, len, ACPI_HEADER_LEN);
		return -EINVAL;
	}
	if (memcmp(buf, sig, 4) != 0) {
		sig_text(buf, got);
		errbuf_set(err, errlen, "%s table: signature \"%s\", expected \"%s\"", sig, got,
			   sig);
		return -EINVAL;
	}
	hdr_len = get_le32(buf + 4);
	if (hdr_len != len) {
		errbuf_set(err, errlen, "%s table: header length %u but %zu bytes read", sig,
			   hdr_len, len);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + buf[i]);
	if (sum != 0) {
		errbuf_set(
			err, errlen,
			"%s table: checksum byte 0x%02x leaves a byte sum of 0x%02x, expected 0x00",
			sig, buf[9], sum);
		return -EINVAL;
	}
	return 0;
}

int acpi_parse_hpet(const uint8_t *buf, size_t len, struct acpi_hpet_info *info, char *err,
		    size_t errlen)
{
	uint8_t space;
	uint64_t addr;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = acpi_table_verify(buf, len, "HPET", err, errlen);
	if (ret < 0)
		return ret;
	if (len < ACPI_HPET_MIN_LEN) {
		errbuf_set(err, errlen, "HPET table: length %zu, expected at least %d", len,
			   ACPI_HPET_MIN_LEN);
		return -EINVAL;
	}
	/* Address GAS at 40: space id at 40, 64-bit address at 44. */
	space = buf[40];
	addr = get_le64(buf + 44);
	if (space != ACPI_GAS_SYSTEM_MEMORY) {
		errbuf_set(
			err, errlen,
			"HPET table: address space id %u, expected 0 (SystemMemory): HPET timers "
			"must be located in memory",
			space);
		return -EINVAL;
	}
	if (addr == 0) {
		errbuf_set(err, errlen, "HPET table: base address 0 is invalid");
		return -EINVAL;
	}
	/* Firmware that stored the 32-bit base in the high half; Linux only
	 * shifts it back with hpet=force, and we do not guess either. */
	if (addr == ACPI_HPET_BOGUS_ADDRESS) {
		errbuf_set(err, errlen,
			   "HPET table: base address 0x%016llx is bogus "
			   "(high and low halves swapped?)",
			   (unsigned long long)addr);
		return -EINVAL;
	}
	info->address = addr;
	info->block_id = get_le32(buf + 36);
	info->sequence = buf[52];
	info->min_tick = (uint16_t)(buf[53] | buf[54] << 8);
	return 0;
}

int acpi_parse_fadt_pmtmr(const uint8_t *buf, size_t len, struct acpi_pmtmr_info *info, char *err,
			  size_t errlen)
{
	uint8_t rev;
	uint32_t flags;
	uint64_t port = 0;
	enum acpi_pmtmr_source src = ACPI_PMTMR_BLK;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = acpi_table_verify(buf, len, "FACP", err, errlen);
	if (ret < 0)
		return ret;
	if (len < ACPI_FADT_MIN_LEN) {
		errbuf_set(err, errlen,
			   "FADT: length %zu, expected at least %d (through the flags)", len,
			   ACPI_FADT_MIN_LEN);
		return -EINVAL;
	}
	rev = buf[8];
	flags = get_le32(buf + 112);
	info->revision = rev;
	info->flags = flags;
	info->tmr_val_ext = (flags & ACPI_FADT_TMR_VAL_EXT) != 0;

	if (flags & ACPI_FADT_HW_REDUCED) {
		errbuf_set(err, errlen,
			   "FADT flags 0x%08x have HW_REDUCED_ACPI (bit 20): no PM timer", flags);
		return -ENODEV;
	}

	/* ACPI 2.0+ FADT (revision >= 3): the extended block wins when it is
	 * present. A table too short to hold it is treated as ACPICA does for
	 * short FADTs: the missing fields read as zero, so PM_TMR_BLK is used. */
	if (rev >= 3 && len >= ACPI_FADT_X_PMTMR_END) {
		uint8_t space = buf[208];
		uint64_t xaddr = get_le64(buf + 212);

		if (space != ACPI_GAS_SYSTEM_IO) {
			errbuf_set(err, errlen,
				   "FADT: X_PM_TMR_BLK address space id %u, expected 1 "
				   "(SystemIO): no PM timer",
				   space);
			return -ENODEV;
		}
		if (xaddr) {
			port = xaddr;
			src = ACPI_PMTMR_X_BLK;
		}
	}
	if (!port)
		port = get_le32(buf + 76);
	if (!port) {
		errbuf_set(err, errlen, "FADT: X_PM_TMR_BLK and PM_TMR_BLK are 0: no PM timer");
		return -ENODEV;
	}
	/* The timer is a 4-byte register at port..port+3 of the 64 KiB I/O space. */
	if (port > 0xfffc) {
		errbuf_set(err, errlen, "FADT: %s 0x%llx is outside the I/O port space (0..0xfffc)",
			   acpi_pmtmr_source_name(src), (unsigned long long)port);
		return -EINVAL;
	}
	info->port = (uint16_t)port;
	info->source = src;
	return 0;
}
