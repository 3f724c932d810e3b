/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI table discovery for the hardware drivers: load a table from the
 * firmware's table directory (/sys/firmware/acpi/tables, or a directory of
 * captured tables in tests), verify its header, and pull out the two facts
 * the drivers need: the HPET's base address and the ACPI PM timer's port.
 *
 * Every function is pure apart from acpi_table_load(); they take untrusted
 * bytes and check every offset against the table length, so the fuzzer can
 * call them directly. Errors are negative errno values with one line in
 * `err` saying what was read and what was expected.
 */
#ifndef TK_HW_ACPI_H
#define TK_HW_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_TABLES_DIR "/sys/firmware/acpi/tables"

enum {
	ACPI_HEADER_LEN = 36,	      /* signature .. creator revision */
	ACPI_HPET_MIN_LEN = 56,	      /* header + id + GAS + sequence + tick + flags */
	ACPI_FADT_MIN_LEN = 116,      /* up to and including the flags at 112 */
	ACPI_FADT_X_PMTMR_END = 220,  /* X_PM_TMR_BLK GAS at 208, 12 bytes */
	ACPI_TABLE_MAX_LEN = 1 << 20, /* refuse to read more than this */
};

/* ACPI Generic Address Structure address space ids. */
enum {
	ACPI_GAS_SYSTEM_MEMORY = 0,
	ACPI_GAS_SYSTEM_IO = 1,
};

/* FADT flags (offset 112). */
#define ACPI_FADT_TMR_VAL_EXT (UINT32_C(1) << 8) /* 1 = 32-bit PM timer */
#define ACPI_FADT_HW_REDUCED (UINT32_C(1) << 20) /* no fixed hardware */

/* x86-64 firmware bug: the base shifted into the high half; Linux refuses it too. */
#define ACPI_HPET_BOGUS_ADDRESS UINT64_C(0xfed0000000000000)

struct acpi_hpet_info {
	uint64_t address;  /* physical base of the register block */
	uint32_t block_id; /* copy of GCAP_ID[31:0] made by the firmware */
	uint8_t sequence;  /* HPET number */
	uint16_t min_tick; /* minimum periodic tick, in counter cycles */
};

enum acpi_pmtmr_source {
	ACPI_PMTMR_X_BLK, /* X_PM_TMR_BLK (GAS at 208) */
	ACPI_PMTMR_BLK,	  /* PM_TMR_BLK (u32 at 76) */
};

struct acpi_pmtmr_info {
	uint16_t port; /* I/O port of the 4-byte PM_TMR register */
	enum acpi_pmtmr_source source;
	bool tmr_val_ext; /* firmware says 32 bits; Linux uses 24 regardless */
	uint8_t revision; /* FADT header revision */
	uint32_t flags;	  /* FADT flags */
};

/* "X_PM_TMR_BLK" or "PM_TMR_BLK". */
const char *acpi_pmtmr_source_name(enum acpi_pmtmr_source s);

/*
 * Reads <dir>/<sig> (dir NULL = ACPI_TABLES_DIR) into a malloc'ed buffer the
 * caller frees. Only the read is done here, not the verification.
 * Returns 0, -ENOENT when the table is absent, -EACCES when it cannot be
 * read for lack of privilege (the reason says the tables are root-only),
 * -EFBIG when it is larger than ACPI_TABLE_MAX_LEN, other -errno otherwise.
 */
int acpi_table_load(const char *dir, const char *sig, uint8_t **buf, size_t *len, char *err,
		    size_t errlen);

/*
 * Checks the 36-byte header: the 4-character signature `sig`, the header's
 * length field against `len` (the bytes read) and the checksum (all bytes
 * sum to 0 mod 256). Returns 0 or -EINVAL.
 */
int acpi_table_verify(const uint8_t *buf, size_t len, const char *sig, char *err, size_t errlen);

/*
 * Verifies an "HPET" table and returns the base of its register block.
 * -EINVAL when malformed: shorter than 56 bytes, not in SystemMemory, a zero
 * or bogus (0xfed0000000000000) address.
 */
int acpi_parse_hpet(const uint8_t *buf, size_t len, struct acpi_hpet_info *info, char *err,
		    size_t errlen);

/*
 * Verifies an "FACP" table (the FADT) and returns the PM timer port.
 * -EINVAL when malformed (shorter than 116 bytes, a port beyond the I/O
 * space); -ENODEV when the firmware describes no PM timer: HW-reduced ACPI,
 * an X_PM_TMR_BLK outside SystemIO (Linux gives up then too), or no port.
 */
int acpi_parse_fadt_pmtmr(const uint8_t *buf, size_t len, struct acpi_pmtmr_info *info, char *err,
			  size_t errlen);

#endif
