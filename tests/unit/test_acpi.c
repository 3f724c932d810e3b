// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for ACPI table discovery (acpi) and the probes that use it (hpet,
 * acpi_pm): good tables shaped like QEMU's q35 and pc (captured copies under
 * tests/data/acpi/{q35,pc} when present, tables built here otherwise),
 * every kind of malformed table, the file-loading errors, the HPET
 * capability check, and hpet_probe against fake register blocks standing in
 * for /dev/hpet and /dev/mem.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hw/acpi.h"
#include "hw/drivers.h"
#include "hw/hpet.h"
#include "hw/hw.h"
#include "tk_check.h"

#define QEMU_HPET_BASE UINT64_C(0xfed00000)
#define QEMU_PMTMR_PORT 0x608

/* ---- table builders -------------------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static void fix_checksum(uint8_t *buf, size_t len)
{
	uint8_t sum = 0;

	buf[9] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + buf[i]);
	buf[9] = (uint8_t)(0x100 - sum);
}

static void build_header(uint8_t *buf, const char *sig, size_t len, uint8_t rev)
{
	memset(buf, 0, len);
	memcpy(buf, sig, 4);
	put_le32(buf + 4, (uint32_t)len);
	buf[8] = rev;
	memcpy(buf + 10, "BOCHS ", 6);
	memcpy(buf + 16, "BXPC    ", 8);
	put_le32(buf + 24, 1);
	memcpy(buf + 28, "BXPC", 4);
	put_le32(buf + 32, 1);
}

/* An HPET table as QEMU builds it: 56 bytes, block id 0x8086a201. */
static size_t build_hpet(uint8_t *buf, size_t len, uint8_t space, uint64_t addr)
{
	build_header(buf, "HPET", len, 1);
	put_le32(buf + 36, 0x8086a201);
	buf[40] = space;
	put_le64(buf + 44, addr);
	fix_checksum(buf, len);
	return len;
}

struct fadt_spec {
	size_t len;
	uint8_t rev;
	uint32_t pm_tmr_blk;
	uint8_t x_space;
	uint64_t x_addr;
	uint32_t flags;
};

static size_t build_fadt(uint8_t *buf, const struct fadt_spec *f)
{
	build_header(buf, "FACP", f->len, f->rev);
	if (f->len >= 80)
		put_le32(buf + 76, f->pm_tmr_blk);
	if (f->len >= 92)
		buf[91] = 4; /* PM_TMR_LEN */
	if (f->len >= 116)
		put_le32(buf + 112, f->flags);
	if (f->len >= 220) {
		buf[208] = f->x_space;
		buf[209] = 32; /* bit width; QEMU leaves the access width 0 */
		put_le64(buf + 212, f->x_addr);
	}
	fix_checksum(buf, f->len);
	return f->len;
}

/* QEMU's q35 FADT: revision 3, 244 bytes, both blocks at 0x608. */
static const struct fadt_spec qemu_fadt = {
	.len = 244,
	.rev = 3,
	.pm_tmr_blk = QEMU_PMTMR_PORT,
	.x_space = ACPI_GAS_SYSTEM_IO,
	.x_addr = QEMU_PMTMR_PORT,
	.flags = 0x000084a5,
};

/* ---- temp dirs -------------------------------------------------------------- */

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/test_acpi.XXXXXX";
	char *dir = mkdtemp(tmpl);

	ck_assert(dir != NULL);
	return strdup(dir);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void rm_rf(char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(path);
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- good tables: q35 and pc ---------------------------------------------------- */

/*
 * What QEMU's machines describe (tests/data/acpi/{q35,pc}, captured from
 * QEMU by tests/vm/capture_acpi.sh): q35 (ICH9) has an ACPI 2.0 FADT,
 * revision 3, 244 bytes, with X_PM_TMR_BLK; pc (i440FX + PIIX4) keeps the
 * ACPI 1.0 FADT, revision 1, 116 bytes, PM_TMR_BLK only. Both: PM timer at
 * port 0x608, HPET at 0xfed00000.
 */
static const struct machine {
	const char *name;
	struct fadt_spec fadt;
	enum acpi_pmtmr_source source;
} machines[] = {
	{ "q35",
	  { .len = 244,
	    .rev = 3,
	    .pm_tmr_blk = QEMU_PMTMR_PORT,
	    .x_space = ACPI_GAS_SYSTEM_IO,
	    .x_addr = QEMU_PMTMR_PORT,
	    .flags = 0x84a5 },
	  ACPI_PMTMR_X_BLK },
	{ "pc",
	  { .len = 116, .rev = 1, .pm_tmr_blk = QEMU_PMTMR_PORT, .flags = 0x80a5 },
	  ACPI_PMTMR_BLK },
};

static void check_machine_dir(const struct machine *m, const char *dir)
{
	struct acpi_hpet_info hi;
	struct acpi_pmtmr_info pi;
	struct clocksource cs;
	struct hw_env env = { .acpi_dir = dir,
			      .dev_hpet = "/nonexistent/hpet",
			      .dev_mem = "/nonexistent/mem" };
	char err[256] = "";
	uint8_t *buf;
	size_t len;

	ck_assert_msg(acpi_table_load(dir, "HPET", &buf, &len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(acpi_parse_hpet(buf, len, &hi, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(hi.address, QEMU_HPET_BASE);
	ck_assert_uint_eq(hi.block_id, 0x8086a201);
	ck_assert_uint_eq(len, ACPI_HPET_MIN_LEN);
	free(buf);

	ck_assert_msg(acpi_table_load(dir, "FACP", &buf, &len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(acpi_parse_fadt_pmtmr(buf, len, &pi, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(pi.port, QEMU_PMTMR_PORT);
	ck_assert_uint_eq(pi.revision, m->fadt.rev);
	ck_assert_uint_eq(len, m->fadt.len);
	ck_assert_int_eq(pi.source, m->source);
	ck_assert_uint_eq(pi.flags, m->fadt.flags);
	ck_assert(!pi.tmr_val_ext); /* QEMU's PM timer is 24 bits */
	free(buf);

	/* The probe reads the same table and names the base it could not map. */
	ck_assert_int_eq(hpet_probe(&env, &cs), -ENOENT);
	ck_assert_msg(strstr(cs.reason, "hpet: cannot map 0xfed00000 through /nonexistent/mem: ") ==
			      cs.reason,
		      "%s", cs.reason);
}

/* The captured tables, and the same facts built here (the builders that
 * the malformed-table tests start from). */
static void check_machine(const struct machine *m)
{
	char dir[512], path[600];
	uint8_t buf[256];
	char *tmp;

	snprintf(dir, sizeof(dir), "%s/acpi/%s", TK_TEST_DATA, m->name);
	snprintf(path, sizeof(path), "%s/HPET", dir);
	ck_assert_msg(file_exists(path), "captured table %s missing", path);
	snprintf(path, sizeof(path), "%s/FACP", dir);
	ck_assert_msg(file_exists(path), "captured table %s missing", path);
	check_machine_dir(m, dir);

	tmp = make_tmpdir();
	write_file(tmp, "HPET", buf, build_hpet(buf, 56, ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE));
	write_file(tmp, "FACP", buf, build_fadt(buf, &m->fadt));
	check_machine_dir(m, tmp);
	rm_rf(tmp);
}

START_TEST(test_q35_tables)
{
	check_machine(&machines[0]);
}
END_TEST

START_TEST(test_pc_tables)
{
	check_machine(&machines[1]);
}
END_TEST

/* ---- header verification -------------------------------------------------------- */

START_TEST(test_verify_short)
{
	uint8_t buf[56];
	char err[256] = "";

	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_table_verify(buf, 35, "HPET", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: 35 bytes, shorter than the 36-byte ACPI header");
	ck_assert_int_eq(acpi_parse_hpet(buf, 0, &(struct acpi_hpet_info){ 0 }, err, sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(test_verify_checksum)
{
	uint8_t buf[56];
	struct acpi_hpet_info hi;
	char err[256] = "";

	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_table_verify(buf, sizeof(buf), "HPET", err, sizeof(err)), 0);
	buf[50] ^= 0x01;
	ck_assert_int_eq(acpi_table_verify(buf, sizeof(buf), "HPET", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "byte sum of 0x") != NULL && strstr(err, "expected 0x00"), "%s",
		      err);
	ck_assert_int_eq(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(hi.address, 0);
}
END_TEST

START_TEST(test_verify_signature)
{
	uint8_t buf[244];
	struct acpi_hpet_info hi;
	struct acpi_pmtmr_info pi;
	char err[256] = "";

	build_hpet(buf, 56, ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_parse_fadt_pmtmr(buf, 56, &pi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "FACP table: signature \"HPET\", expected \"FACP\"");

	build_fadt(buf, &qemu_fadt);
	ck_assert_int_eq(acpi_parse_hpet(buf, qemu_fadt.len, &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: signature \"FACP\", expected \"HPET\"");

	/* Non-printable signature bytes are shown as '?'. */
	build_hpet(buf, 56, ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	buf[3] = 0x01;
	fix_checksum(buf, 56);
	ck_assert_int_eq(acpi_parse_hpet(buf, 56, &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: signature \"HPE?\", expected \"HPET\"");
}
END_TEST

START_TEST(test_verify_length_mismatch)
{
	uint8_t buf[64];
	struct acpi_hpet_info hi;
	char err[256] = "";

	/* Header says 56, 60 bytes read (trailing bytes in the file). */
	memset(buf, 0, sizeof(buf));
	build_hpet(buf, 56, ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_parse_hpet(buf, 60, &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: header length 56 but 60 bytes read");

	/* Header says 64, only 56 bytes read (a truncated file). */
	build_hpet(buf, 64, ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_parse_hpet(buf, 56, &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: header length 64 but 56 bytes read");
	/* ... while the whole 64 bytes are fine. */
	ck_assert_int_eq(acpi_parse_hpet(buf, 64, &hi, err, sizeof(err)), 0);
}
END_TEST

/* ---- HPET table ----------------------------------------------------------------- */

START_TEST(test_hpet_good)
{
	uint8_t buf[56];
	struct acpi_hpet_info hi;
	char err[256] = "";

	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_msg(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(hi.address, QEMU_HPET_BASE);
	ck_assert_uint_eq(hi.block_id, 0x8086a201);
	ck_assert_uint_eq(hi.min_tick, 0);
	buf[52] = 1;
	buf[53] = 0x80; /* minimum tick 0x1080, little endian */
	buf[54] = 0x10;
	fix_checksum(buf, sizeof(buf));
	ck_assert_int_eq(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)), 0);
	ck_assert_uint_eq(hi.sequence, 1);
	ck_assert_uint_eq(hi.min_tick, 0x1080);

	/* A base above 4 GiB is legal (only the swapped-halves value is not). */
	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_MEMORY, UINT64_C(0x1fed00000));
	ck_assert_int_eq(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)), 0);
	ck_assert_uint_eq(hi.address, UINT64_C(0x1fed00000));
}
END_TEST

START_TEST(test_hpet_too_short)
{
	uint8_t buf[56];
	struct acpi_hpet_info hi;
	char err[256] = "";

	/* A consistent header (length 48, checksum right) but no room for the
	 * whole HPET description. */
	build_hpet(buf, 48, ACPI_GAS_SYSTEM_MEMORY, 0);
	ck_assert_int_eq(acpi_table_verify(buf, 48, "HPET", err, sizeof(err)), 0);
	ck_assert_int_eq(acpi_parse_hpet(buf, 48, &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: length 48, expected at least 56");

	build_hpet(buf, 55, ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_parse_hpet(buf, 55, &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: length 55, expected at least 56");
}
END_TEST

START_TEST(test_hpet_bad_address)
{
	uint8_t buf[56];
	struct acpi_hpet_info hi;
	char err[256] = "";

	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_MEMORY, 0);
	ck_assert_int_eq(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "HPET table: base address 0 is invalid");

	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_MEMORY, ACPI_HPET_BOGUS_ADDRESS);
	ck_assert_int_eq(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "0xfed0000000000000 is bogus") != NULL, "%s", err);

	/* HPET in I/O space */
	build_hpet(buf, sizeof(buf), ACPI_GAS_SYSTEM_IO, QEMU_HPET_BASE);
	ck_assert_int_eq(acpi_parse_hpet(buf, sizeof(buf), &hi, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "address space id 1, expected 0 (SystemMemory)") != NULL, "%s",
		      err);
	ck_assert_uint_eq(hi.address, 0);
}
END_TEST

/* ---- FADT: the PM timer port -------------------------------------------------------- */

static int parse_fadt(const struct fadt_spec *f, struct acpi_pmtmr_info *pi, char *err,
		      size_t errlen)
{
	uint8_t buf[300];

	ck_assert_uint_le(f->len, sizeof(buf));
	build_fadt(buf, f);
	return acpi_parse_fadt_pmtmr(buf, f->len, pi, err, errlen);
}

START_TEST(test_fadt_x_block_preferred)
{
	struct fadt_spec f = qemu_fadt;
	struct acpi_pmtmr_info pi;
	char err[256] = "";

	f.pm_tmr_blk = 0xb008;
	ck_assert_msg(parse_fadt(&f, &pi, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(pi.port, QEMU_PMTMR_PORT);
	ck_assert_int_eq(pi.source, ACPI_PMTMR_X_BLK);
	ck_assert_uint_eq(pi.revision, 3);
	ck_assert_uint_eq(pi.flags, 0x84a5);
	ck_assert(!pi.tmr_val_ext); /* QEMU: bit 8 clear, a 24-bit timer */

	f.flags |= ACPI_FADT_TMR_VAL_EXT;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), 0);
	ck_assert(pi.tmr_val_ext);
	ck_assert_uint_eq(pi.flags, 0x85a5);

	/* The X block is used for any revision >= 3 (ACPI 6: revision 6, 276 bytes). */
	f.rev = 6;
	f.len = 276;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), 0);
	ck_assert_uint_eq(pi.port, QEMU_PMTMR_PORT);
	ck_assert_int_eq(pi.source, ACPI_PMTMR_X_BLK);
}
END_TEST

START_TEST(test_fadt_legacy_block)
{
	struct fadt_spec f = qemu_fadt;
	struct acpi_pmtmr_info pi;
	char err[256] = "";

	/* Revision < 3: the X block is not looked at, even when filled in. */
	f.rev = 2;
	f.x_addr = 0xb008;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), 0);
	ck_assert_uint_eq(pi.port, QEMU_PMTMR_PORT);
	ck_assert_int_eq(pi.source, ACPI_PMTMR_BLK);
	ck_assert_str_eq(acpi_pmtmr_source_name(pi.source), "PM_TMR_BLK");

	/* The ACPI 1.0 FADT: 116 bytes, revision 1. */
	f = (struct fadt_spec){ .len = 116, .rev = 1, .pm_tmr_blk = 0x608 };
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), 0);
	ck_assert_uint_eq(pi.port, 0x608);
	ck_assert_int_eq(pi.source, ACPI_PMTMR_BLK);

	/* Revision 3 with X_PM_TMR_BLK.address 0: fall back. */
	f = qemu_fadt;
	f.x_addr = 0;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), 0);
	ck_assert_uint_eq(pi.port, QEMU_PMTMR_PORT);
	ck_assert_int_eq(pi.source, ACPI_PMTMR_BLK);
}
END_TEST

START_TEST(test_fadt_truncated)
{
	struct fadt_spec f = qemu_fadt;
	struct acpi_pmtmr_info pi;
	char err[256] = "";

	f.len = 115;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "FADT: length 115, expected at least 116 (through the flags)");
	f.len = 36;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -EINVAL);

	/* Revision 3 but too short for the X block (ends at 220): the missing
	 * fields read as zero, as ACPICA pads short FADTs, so PM_TMR_BLK. */
	for (size_t len = 116; len < 220; len += 103) {
		f.len = len;
		ck_assert_msg(parse_fadt(&f, &pi, err, sizeof(err)) == 0, "%zu: %s", len, err);
		ck_assert_int_eq(pi.source, ACPI_PMTMR_BLK);
		ck_assert_uint_eq(pi.port, QEMU_PMTMR_PORT);
	}
	f.len = 219;
	f.pm_tmr_blk = 0;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -ENODEV);
}
END_TEST

START_TEST(test_fadt_no_pm_timer)
{
	struct fadt_spec f = qemu_fadt;
	struct acpi_pmtmr_info pi;
	char err[256] = "";

	/* X block in memory space: Linux gives up on the PM timer, so do we. */
	f.x_space = ACPI_GAS_SYSTEM_MEMORY;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "FADT: X_PM_TMR_BLK address space id 0, expected 1 (SystemIO): "
			      "no PM timer");
	ck_assert_uint_eq(pi.port, 0);

	/* Both blocks zero. */
	f = qemu_fadt;
	f.x_addr = 0;
	f.pm_tmr_blk = 0;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "FADT: X_PM_TMR_BLK and PM_TMR_BLK are 0: no PM timer");

	/* HW-reduced ACPI, flags as on this Firecracker host's FADT. */
	f = qemu_fadt;
	f.rev = 6;
	f.len = 276;
	f.flags = 0x00100030;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "FADT flags 0x00100030 have HW_REDUCED_ACPI (bit 20): no PM timer");
	ck_assert_uint_eq(pi.port, 0);
}
END_TEST

START_TEST(test_fadt_port_range)
{
	struct fadt_spec f = qemu_fadt;
	struct acpi_pmtmr_info pi;
	char err[256] = "";

	f.x_addr = UINT64_C(0x100000608);
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "FADT: X_PM_TMR_BLK 0x100000608 is outside the I/O port space "
			      "(0..0xfffc)");
	f.x_addr = 0xfffc;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), 0);
	ck_assert_uint_eq(pi.port, 0xfffc);
	f.x_addr = 0xfffd;
	ck_assert_int_eq(parse_fadt(&f, &pi, err, sizeof(err)), -EINVAL);
}
END_TEST

/* ---- loading from a directory ----------------------------------------------------- */

START_TEST(test_load_ok_and_missing)
{
	char *dir = make_tmpdir();
	uint8_t tab[56], *buf = NULL;
	size_t len = 1;
	char err[512] = "", want[512];

	build_hpet(tab, sizeof(tab), ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	write_file(dir, "HPET", tab, sizeof(tab));
	ck_assert_int_eq(acpi_table_load(dir, "HPET", &buf, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, sizeof(tab));
	ck_assert_mem_eq(buf, tab, sizeof(tab));
	free(buf);

	ck_assert_int_eq(acpi_table_load(dir, "FACP", &buf, &len, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "no ACPI FACP table in %s", dir);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(buf);
	ck_assert_uint_eq(len, 0);

	/* A table bigger than a 4 KiB read chunk comes back whole. */
	{
		size_t big = 10000;
		uint8_t *data = calloc(1, big);

		data[0] = 'D';
		data[big - 1] = 0x5a;
		write_file(dir, "DSDT", data, big);
		ck_assert_int_eq(acpi_table_load(dir, "DSDT", &buf, &len, err, sizeof(err)), 0);
		ck_assert_uint_eq(len, big);
		ck_assert_mem_eq(buf, data, big);
		free(buf);
		free(data);
	}
	rm_rf(dir);
}
END_TEST

START_TEST(test_load_unreadable)
{
	char *dir = make_tmpdir();
	uint8_t tab[56];
	char path[600];
	int pipefd[2];
	pid_t pid;
	int status;
	struct {
		int ret;
		char err[400];
	} res = { 0 };

	build_hpet(tab, sizeof(tab), ACPI_GAS_SYSTEM_MEMORY, QEMU_HPET_BASE);
	write_file(dir, "HPET", tab, sizeof(tab));
	snprintf(path, sizeof(path), "%s/HPET", dir);
	/* -r-------- like sysfs; an unprivileged test run can only lock itself out */
	ck_assert_int_eq(chmod(path, geteuid() == 0 ? 0400 : 0000), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);

	/* Root reads anything: load the table as an unprivileged user, in a
	 * child so this process keeps its privileges. */
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		uint8_t *buf;
		size_t len;

		close(pipefd[0]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		res.ret = acpi_table_load(dir, "HPET", &buf, &len, res.err, sizeof(res.err));
		if (write(pipefd[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(3);
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq((int)read(pipefd[0], &res, sizeof(res)), (int)sizeof(res));
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	ck_assert_int_eq(res.ret, -EACCES);
	ck_assert_msg(strstr(res.err, path) != NULL, "%s", res.err);
	ck_assert_msg(strstr(res.err, "Permission denied (ACPI tables are readable by root only)"),
		      "%s", res.err);
	rm_rf(dir);
}
END_TEST

START_TEST(test_load_not_a_file)
{
	char *dir = make_tmpdir();
	char sub[600], err[512] = "";
	uint8_t *buf;
	size_t len;

	snprintf(sub, sizeof(sub), "%s/HPET", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(acpi_table_load(dir, "HPET", &buf, &len, err, sizeof(err)), -EISDIR);
	ck_assert_msg(strstr(err, "Is a directory") != NULL, "%s", err);
	rm_rf(dir);
}
END_TEST

/* ---- HPET capability check -------------------------------------------------------- */

/* QEMU's HPET: vendor 8086, 3 timers, 64-bit, legacy capable, 100 MHz. */
static const struct hpet_regs qemu_regs = {
	.id = 0x8086a201,
	.period_fs = 10000000,
	.cfg = 0x3,
};

START_TEST(test_caps_good)
{
	struct hpet_caps c;
	struct hpet_regs r = qemu_regs;
	char err[256] = "";

	ck_assert_msg(hpet_check_caps(&r, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.vendor, 0x8086);
	ck_assert_uint_eq(c.timers, 3);
	ck_assert_uint_eq(c.rev, 1);
	ck_assert(c.counter_64bit);
	ck_assert(c.legacy_capable);
	ck_assert(c.enabled);
	ck_assert_uint_eq(c.nominal_hz, 100000000);

	/* 14.31818 MHz (69841279 fs), 32-bit counter, 4 timers, AMD */
	r = (struct hpet_regs){ .id = 0x10228310, .period_fs = 69841279, .cfg = 0x1 };
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.nominal_hz, 14318180);
	ck_assert(!c.counter_64bit);
	ck_assert_uint_eq(c.timers, 4);
	ck_assert_uint_eq(c.vendor, 0x1022);

	/* nominal_hz rounds to nearest: 10^15/700000 = 1428571428.57 */
	r.period_fs = 700000;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.nominal_hz, 1428571429);

	/* The range is inclusive at both ends. */
	r.period_fs = HPET_PERIOD_MIN_FS;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.nominal_hz, 10000000000);
	r.period_fs = HPET_PERIOD_MAX_FS;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.nominal_hz, 10000000);
}
END_TEST

START_TEST(test_caps_bad_period)
{
	struct hpet_caps c;
	struct hpet_regs r = qemu_regs;
	char err[256] = "";

	r.period_fs = 0;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "hpet: period 0 fs outside 100000..100000000");
	ck_assert_uint_eq(c.nominal_hz, 0);

	r.period_fs = HPET_PERIOD_MAX_FS + 1;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "hpet: period 100000001 fs outside 100000..100000000");

	r.period_fs = HPET_PERIOD_MIN_FS - 1;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), -ENODEV);
}
END_TEST

START_TEST(test_caps_bad_config)
{
	struct hpet_caps c;
	struct hpet_regs r = qemu_regs;
	char err[256] = "";

	r.cfg = 0xffffffff;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "hpet: GEN_CONF reads 0xffffffff after 1000 polls, expected a "
			      "configuration (HPET not responding)");

	/* Disabled: the kernel does not run it, and we never enable it. */
	r.cfg = 0x2;
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "hpet: GEN_CONF 0x00000002 has ENABLE_CNF (bit 0) clear") == err,
		      "%s", err);
	ck_assert(!c.enabled);
	ck_assert_uint_eq(c.vendor, 0x8086); /* still decoded for --probe */

	/* Nothing there: the bus reads all ones. */
	r = (struct hpet_regs){ .id = 0xffffffff, .period_fs = 10000000, .cfg = 1 };
	ck_assert_int_eq(hpet_check_caps(&r, &c, err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "vendor id 0xffff") != NULL, "%s", err);
}
END_TEST

/* ---- hpet_probe -------------------------------------------------------------------- */

static char *hpet_acpi_dir(uint64_t addr)
{
	char *dir = make_tmpdir();
	uint8_t tab[56];

	write_file(dir, "HPET", tab, build_hpet(tab, sizeof(tab), ACPI_GAS_SYSTEM_MEMORY, addr));
	return dir;
}

START_TEST(test_probe_no_table)
{
	char *dir = make_tmpdir();
	struct hw_env env = { .acpi_dir = dir,
			      .dev_hpet = "/nonexistent/hpet",
			      .dev_mem = "/nonexistent/mem" };
	struct clocksource cs;
	char want[600];

	ck_assert_int_eq(hpet_probe(&env, &cs), -ENOENT);
	ck_assert(!cs.usable);
	ck_assert_str_eq(cs.name, "hpet");
	snprintf(want, sizeof(want), "hpet: no ACPI HPET table in %s", dir);
	ck_assert_str_eq(cs.reason, want);
	rm_rf(dir);
}
END_TEST

START_TEST(test_probe_bad_table)
{
	char *dir = make_tmpdir();
	struct hw_env env = { .acpi_dir = dir,
			      .dev_hpet = "/nonexistent/hpet",
			      .dev_mem = "/nonexistent/mem" };
	struct clocksource cs;
	uint8_t tab[56];

	build_hpet(tab, sizeof(tab), ACPI_GAS_SYSTEM_IO, QEMU_HPET_BASE);
	write_file(dir, "HPET", tab, sizeof(tab));
	ck_assert_int_eq(hpet_probe(&env, &cs), -EINVAL);
	ck_assert(!cs.usable);
	ck_assert_msg(strstr(cs.reason, "hpet: HPET table: address space id 1") == cs.reason, "%s",
		      cs.reason);
	rm_rf(dir);
}
END_TEST

START_TEST(test_probe_no_dev_mem)
{
	char *dir = hpet_acpi_dir(QEMU_HPET_BASE);
	struct hw_env env = { .acpi_dir = dir,
			      .dev_hpet = "/nonexistent/hpet",
			      .dev_mem = "/nonexistent/mem" };
	struct clocksource cs;
	const struct cs_attr *a;

	ck_assert_int_eq(hpet_probe(&env, &cs), -ENOENT);
	ck_assert(!cs.usable);
	ck_assert_ptr_null(cs.read);
	ck_assert_str_eq(cs.reason, "hpet: cannot map 0xfed00000 through /nonexistent/mem: No such "
				    "file or directory (and /nonexistent/hpet: No such file or "
				    "directory)");
	a = cs_attr_get(&cs, "address");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->kind, CS_ATTR_HEX);
	ck_assert_uint_eq(a->v.u, QEMU_HPET_BASE);
	rm_rf(dir);
}
END_TEST

/*
 * A regular file standing in for the device: the register block at `off`,
 * and a writable shared mapping of it so a thread can make the counter run.
 */
struct fake_hpet {
	char path[600];
	int fd;
	volatile uint8_t *map;
	size_t maplen;
	volatile uint8_t *regs;
	pthread_t thread;
	atomic_bool stop;
	bool running;
};

static void fake_hpet_create(struct fake_hpet *f, const char *dir, const char *name, uint64_t off,
			     const struct hpet_regs *r)
{
	uint64_t page = off & ~UINT64_C(4095);

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert(f->fd >= 0);
	/* sparse: the file reaches the physical address without using space */
	ck_assert_int_eq(ftruncate(f->fd, (off_t)(page + 8192)), 0);
	f->maplen = 8192;
	f->map = mmap(NULL, f->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, (off_t)page);
	ck_assert(f->map != MAP_FAILED);
	f->regs = f->map + (off - page);
	*(volatile uint32_t *)(f->regs + HPET_REG_ID) = r->id;
	*(volatile uint32_t *)(f->regs + HPET_REG_PERIOD) = r->period_fs;
	*(volatile uint32_t *)(f->regs + HPET_REG_CFG) = r->cfg;
	*(volatile uint32_t *)(f->regs + HPET_REG_COUNTER) = 0x1000;
	*(volatile uint32_t *)(f->regs + HPET_REG_COUNTER + 4) = 0x1;
}

static void *fake_hpet_tick(void *arg)
{
	struct fake_hpet *f = arg;
	uint32_t *ctr = (uint32_t *)(f->regs + HPET_REG_COUNTER);

	/* Busy: the probe allows the counter only 1 ms to move. Relaxed
	 * atomics: fake_hpet_start() polls the counter meanwhile. */
	while (!atomic_load(&f->stop))
		__atomic_store_n(ctr, __atomic_load_n(ctr, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	return NULL;
}

static void fake_hpet_start(struct fake_hpet *f)
{
	uint32_t *ctr = (uint32_t *)(f->regs + HPET_REG_COUNTER);
	uint32_t first = __atomic_load_n(ctr, __ATOMIC_RELAXED);

	atomic_store(&f->stop, false);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_hpet_tick, f), 0);
	f->running = true;
	/* Probe only once the "hardware" is seen to run. */
	for (int i = 0; i < 1000000 && __atomic_load_n(ctr, __ATOMIC_RELAXED) == first; i++)
		sched_yield();
	ck_assert_uint_ne(__atomic_load_n(ctr, __ATOMIC_RELAXED), first);
}

static void fake_hpet_destroy(struct fake_hpet *f)
{
	if (f->running) {
		atomic_store(&f->stop, true);
		pthread_join(f->thread, NULL);
	}
	munmap((void *)f->map, f->maplen);
	close(f->fd);
}

static const char *attr_str(const struct clocksource *cs, const char *key)
{
	const struct cs_attr *a = cs_attr_get(cs, key);

	ck_assert_msg(a != NULL, "attribute %s missing", key);
	ck_assert_int_eq(a->kind, CS_ATTR_STR);
	return a->v.s;
}

static uint64_t attr_u(const struct clocksource *cs, const char *key, enum cs_attr_kind kind)
{
	const struct cs_attr *a = cs_attr_get(cs, key);

	ck_assert_msg(a != NULL, "attribute %s missing", key);
	ck_assert_int_eq(a->kind, kind);
	return kind == CS_ATTR_BOOL ? a->v.b : a->v.u;
}

/* Through "/dev/hpet": registers at offset 0, counter running. */
START_TEST(test_probe_dev_hpet_counting)
{
	char *dir = hpet_acpi_dir(QEMU_HPET_BASE);
	char nomem[600];
	struct fake_hpet f;
	struct hw_env env = { .acpi_dir = dir };
	struct clocksource cs;
	uint64_t v1, v2;

	fake_hpet_create(&f, dir, "hpet", 0, &qemu_regs);
	snprintf(nomem, sizeof(nomem), "%s/nomem", dir);
	env.dev_hpet = f.path;
	env.dev_mem = nomem;
	fake_hpet_start(&f);

	/* The fake counter is a thread: on a loaded machine the scheduler can
	 * stall it for the whole 1 ms the probe allows, so a few attempts. */
	for (int attempt = 0; attempt < 20; attempt++) {
		if (hpet_probe(&env, &cs) == 0 || !strstr(cs.reason, "main counter stayed"))
			break;
		printf("# fake counter stalled (attempt %d): %s\n", attempt, cs.reason);
	}
	ck_assert_msg(cs.usable, "%s", cs.reason);
	ck_assert_str_eq(cs.reason, "");
	ck_assert_int_eq(cs.rating, 250);
	ck_assert_uint_eq(cs.bits, 32);
	ck_assert_uint_eq(cs.mask, 0xffffffffu);
	ck_assert_uint_eq(cs.nominal_hz, 100000000);
	ck_assert_uint_eq(cs.flags, CS_F_CONTINUOUS);
	ck_assert_uint_eq(attr_u(&cs, "address", CS_ATTR_HEX), QEMU_HPET_BASE);
	ck_assert_uint_eq(attr_u(&cs, "period_fs", CS_ATTR_U64), 10000000);
	ck_assert_uint_eq(attr_u(&cs, "vendor", CS_ATTR_HEX), 0x8086);
	ck_assert_uint_eq(attr_u(&cs, "counter_64bit", CS_ATTR_BOOL), 1);
	ck_assert_uint_eq(attr_u(&cs, "timers", CS_ATTR_U64), 3);
	ck_assert_str_eq(attr_str(&cs, "access"), f.path);

	/* Reads see the running counter (polled: a loaded machine may not run
	 * the fake's thread for a while). */
	v1 = cs_read(&cs);
	for (int i = 0; i < 10000 && (v2 = cs_read(&cs)) == v1; i++)
		usleep(1000);
	ck_assert_uint_gt(v2, v1);

	/* Only the low word is read: high word 1 never shows. */
	atomic_store(&f.stop, true);
	pthread_join(f.thread, NULL);
	f.running = false;
	*(volatile uint32_t *)(f.regs + HPET_REG_COUNTER) = 0x89abcdef;
	ck_assert_uint_eq(cs_read(&cs), 0x89abcdef);

	/* The registers were not written by the probe. */
	ck_assert_uint_eq(*(volatile uint32_t *)(f.regs + HPET_REG_CFG), qemu_regs.cfg);
	ck_assert_uint_eq(*(volatile uint32_t *)(f.regs + HPET_REG_ID), qemu_regs.id);

	cs_release(&cs);
	ck_assert_ptr_null(cs.read);
	fake_hpet_destroy(&f);
	rm_rf(dir);
}
END_TEST

/* Through "/dev/mem" at a base that is not page aligned; counter stopped. */
START_TEST(test_probe_dev_mem_stopped)
{
	const uint64_t base = UINT64_C(0xfed00400);
	char *dir = hpet_acpi_dir(base);
	char nohpet[600];
	struct fake_hpet f;
	struct hw_env env = { .acpi_dir = dir };
	struct clocksource cs;

	fake_hpet_create(&f, dir, "mem", base, &qemu_regs);
	snprintf(nohpet, sizeof(nohpet), "%s/nohpet", dir);
	env.dev_hpet = nohpet;
	env.dev_mem = f.path;

	ck_assert_int_eq(hpet_probe(&env, &cs), -ENODEV);
	ck_assert(!cs.usable);
	ck_assert_ptr_null(cs.read);
	ck_assert_str_eq(cs.reason, "hpet: main counter stayed at 0x00001000 for 1000 us, "
				    "expected it to count");
	/* The registers were found at the right place inside the page. */
	ck_assert_uint_eq(attr_u(&cs, "vendor", CS_ATTR_HEX), 0x8086);
	ck_assert_uint_eq(attr_u(&cs, "period_fs", CS_ATTR_U64), 10000000);
	ck_assert_str_eq(attr_str(&cs, "access"), f.path);
	fake_hpet_destroy(&f);
	rm_rf(dir);
}
END_TEST

START_TEST(test_probe_disabled)
{
	char *dir = hpet_acpi_dir(QEMU_HPET_BASE);
	struct hpet_regs r = qemu_regs;
	struct fake_hpet f;
	struct hw_env env = { .acpi_dir = dir, .dev_mem = "/nonexistent/mem" };
	struct clocksource cs;

	r.cfg = 0;
	fake_hpet_create(&f, dir, "hpet", 0, &r);
	env.dev_hpet = f.path;
	fake_hpet_start(&f);
	ck_assert_int_eq(hpet_probe(&env, &cs), -ENODEV);
	ck_assert_msg(strstr(cs.reason, "hpet: GEN_CONF 0x00000000 has ENABLE_CNF (bit 0) clear") ==
			      cs.reason,
		      "%s", cs.reason);
	fake_hpet_destroy(&f);
	rm_rf(dir);
}
END_TEST

/* A "device" that is a short regular file must not SIGBUS the daemon. */
START_TEST(test_probe_short_file)
{
	char *dir = hpet_acpi_dir(QEMU_HPET_BASE);
	struct hw_env env = { .acpi_dir = dir, .dev_hpet = "/nonexistent/hpet" };
	struct clocksource cs;
	char mem[600];

	snprintf(mem, sizeof(mem), "%s/mem", dir);
	write_file(dir, "mem", "x", 1);
	env.dev_mem = mem;
	ck_assert_int_eq(hpet_probe(&env, &cs), -EINVAL);
	ck_assert_msg(strstr(cs.reason, "a regular file of 1 bytes, too short for 0xfed00000+1024"),
		      "%s", cs.reason);
	rm_rf(dir);
}
END_TEST

/* ---- pmtmr_probe up to the point where it would touch the I/O port --------------- */

START_TEST(test_pmtmr_probe_hw_reduced)
{
	char *dir = make_tmpdir();
	struct fadt_spec fs = qemu_fadt;
	struct hw_env env = { .acpi_dir = dir, .pci_ids = "" };
	struct clocksource cs;
	uint8_t buf[300];

	fs.rev = 6;
	fs.len = 276;
	fs.flags = 0x00100030;
	write_file(dir, "FACP", buf, build_fadt(buf, &fs));
	ck_assert_int_eq(pmtmr_probe(&env, &cs), -ENODEV);
	ck_assert(!cs.usable);
	ck_assert_str_eq(cs.name, "acpi_pm");
	ck_assert_str_eq(cs.reason, "acpi_pm: FADT flags 0x00100030 have HW_REDUCED_ACPI "
				    "(bit 20): no PM timer");
	rm_rf(dir);
}
END_TEST

START_TEST(test_pmtmr_probe_no_table)
{
	char *dir = make_tmpdir();
	struct hw_env env = { .acpi_dir = dir, .pci_ids = "" };
	struct clocksource cs;
	char want[600];

	ck_assert_int_eq(pmtmr_probe(&env, &cs), -ENOENT);
	snprintf(want, sizeof(want), "acpi_pm: no ACPI FACP table in %s", dir);
	ck_assert_str_eq(cs.reason, want);
	rm_rf(dir);
}
END_TEST

/* The chipset decision comes before the port is touched: a bad pci_ids
 * string stops the probe there, with the FADT facts already recorded. */
START_TEST(test_pmtmr_probe_bad_pci_ids)
{
	char *dir = make_tmpdir();
	struct hw_env env = { .acpi_dir = dir, .pci_ids = "8086:7113" };
	struct clocksource cs;
	uint8_t buf[300];

	write_file(dir, "FACP", buf, build_fadt(buf, &qemu_fadt));
	ck_assert_int_eq(pmtmr_probe(&env, &cs), -EINVAL);
	ck_assert(!cs.usable);
	ck_assert_str_eq(cs.reason, "acpi_pm: pci ids: \"8086:7113\" is not vvvv:dddd:rr (hex)");
	ck_assert_uint_eq(attr_u(&cs, "port", CS_ATTR_U64), QEMU_PMTMR_PORT);
	ck_assert_str_eq(attr_str(&cs, "port_source"), "X_PM_TMR_BLK");
	ck_assert_uint_eq(attr_u(&cs, "tmr_val_ext", CS_ATTR_BOOL), 0);
	rm_rf(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc = tcase_create("machines");

	tcase_add_test(tc, test_q35_tables);
	tcase_add_test(tc, test_pc_tables);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_test(tc, test_verify_short);
	tcase_add_test(tc, test_verify_checksum);
	tcase_add_test(tc, test_verify_signature);
	tcase_add_test(tc, test_verify_length_mismatch);
	suite_add_tcase(s, tc);

	tc = tcase_create("hpet_table");
	tcase_add_test(tc, test_hpet_good);
	tcase_add_test(tc, test_hpet_too_short);
	tcase_add_test(tc, test_hpet_bad_address);
	suite_add_tcase(s, tc);

	tc = tcase_create("fadt");
	tcase_add_test(tc, test_fadt_x_block_preferred);
	tcase_add_test(tc, test_fadt_legacy_block);
	tcase_add_test(tc, test_fadt_truncated);
	tcase_add_test(tc, test_fadt_no_pm_timer);
	tcase_add_test(tc, test_fadt_port_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_test(tc, test_load_ok_and_missing);
	tcase_add_test(tc, test_load_unreadable);
	tcase_add_test(tc, test_load_not_a_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("hpet_caps");
	tcase_add_test(tc, test_caps_good);
	tcase_add_test(tc, test_caps_bad_period);
	tcase_add_test(tc, test_caps_bad_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("probe");
	tcase_add_test(tc, test_probe_no_table);
	tcase_add_test(tc, test_probe_bad_table);
	tcase_add_test(tc, test_probe_no_dev_mem);
	tcase_add_test(tc, test_probe_dev_hpet_counting);
	tcase_add_test(tc, test_probe_dev_mem_stopped);
	tcase_add_test(tc, test_probe_disabled);
	tcase_add_test(tc, test_probe_short_file);
	tcase_add_test(tc, test_pmtmr_probe_hw_reduced);
	tcase_add_test(tc, test_pmtmr_probe_no_table);
	tcase_add_test(tc, test_pmtmr_probe_bad_pci_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
