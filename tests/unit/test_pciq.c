// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the PM timer chipset decision (pciq) and the PM timer's pure
 * parts: the kernel's blacklist/graylist by vendor:device:revision, the
 * pci_ids test seam, the real libpci scan (against this host's sysfs, a
 * fake sysfs tree holding a PIIX4, and a path that makes libpci fail), the
 * verified triple read and the start-up monotonicity check with scripted
 * register values.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/pciq.h"
#include "hw/pmtmr.h"
#include "tk_check.h"

/* ---- matcher ------------------------------------------------------------ */

START_TEST(test_match_piix4_blacklist)
{
	char why[PCIQ_REASON_LEN];

	for (unsigned int rev = 0; rev < 3; rev++) {
		char want[64];

		ck_assert_int_eq(pciq_match(0x8086, 0x7113, (uint8_t)rev, why, sizeof(why)),
				 PCIQ_BLACKLIST);
		snprintf(want, sizeof(want), "8086:7113 rev %02x (PIIX4 erratum)", rev);
		ck_assert_str_eq(why, want);
	}
}
END_TEST

START_TEST(test_match_piix4m_fixed)
{
	char why[PCIQ_REASON_LEN];

	ck_assert_int_eq(pciq_match(0x8086, 0x7113, 3, why, sizeof(why)), PCIQ_NONE);
	ck_assert_str_eq(why, "none: 8086:7113 rev 03 is PIIX4M, fixed");
	ck_assert_int_eq(pciq_match(0x8086, 0x7113, 0xff, why, sizeof(why)), PCIQ_NONE);
	ck_assert_str_eq(why, "none: 8086:7113 rev ff is PIIX4M, fixed");
}
END_TEST

START_TEST(test_match_graylist)
{
	static const uint8_t revs[] = { 0, 1, 2, 3, 0x80, 0xff };
	char why[PCIQ_REASON_LEN];

	for (size_t i = 0; i < sizeof(revs); i++) {
		char want[64];

		ck_assert_int_eq(pciq_match(0x8086, 0x24c0, revs[i], why, sizeof(why)),
				 PCIQ_GRAYLIST);
		snprintf(want, sizeof(want), "8086:24c0 rev %02x (ICH4 graylist)", revs[i]);
		ck_assert_str_eq(why, want);
		ck_assert_int_eq(pciq_match(0x1166, 0x0009, revs[i], why, sizeof(why)),
				 PCIQ_GRAYLIST);
		snprintf(want, sizeof(want), "1166:0009 rev %02x (ServerWorks LE graylist)",
			 revs[i]);
		ck_assert_str_eq(why, want);
	}
}
END_TEST

START_TEST(test_match_others)
{
	static const uint16_t ids[][2] = {
		{ 0x8086, 0x7110 }, /* PIIX4 ISA function, not the ACPI one */
		{ 0x8086, 0x2918 }, /* ICH9 LPC (q35) */
		{ 0x8086, 0x29c0 }, /* q35 host bridge */
		{ 0x8086, 0x1237 }, /* i440FX */
		{ 0x1022, 0x7113 }, /* right device id, other vendor */
		{ 0x1166, 0x0008 }, { 0x8087, 0x24c0 }, { 0x0000, 0x0000 }, { 0xffff, 0xffff },
	};
	char why[PCIQ_REASON_LEN];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		strcpy(why, "stale");
		ck_assert_int_eq(pciq_match(ids[i][0], ids[i][1], 1, why, sizeof(why)), PCIQ_NONE);
		ck_assert_str_eq(why, "");
	}
	/* A NULL reason buffer is allowed. */
	ck_assert_int_eq(pciq_match(0x8086, 0x7113, 0, NULL, 0), PCIQ_BLACKLIST);
}
END_TEST

/* ---- scan with the pci_ids override -------------------------------------- */

START_TEST(test_scan_ids)
{
	static const struct {
		const char *ids;
		enum pciq_kind kind;
		const char *reason;
	} cases[] = {
		{ "8086:7113:01 8086:29c0:02", PCIQ_BLACKLIST, "8086:7113 rev 01 (PIIX4 erratum)" },
		{ "8086:29c0:02 8086:2918:02", PCIQ_NONE, "no listed chipset" },
		{ "8086:1237:02 8086:7113:03", PCIQ_NONE,
		  "none: 8086:7113 rev 03 is PIIX4M, fixed" },
		{ "", PCIQ_NONE, "no listed chipset" },
		{ " \t\n", PCIQ_NONE, "no listed chipset" },
		{ "  8086:7113:03\t1166:0009:00\n", PCIQ_GRAYLIST,
		  "1166:0009 rev 00 (ServerWorks LE graylist)" },
		{ "8086:24C0:0A", PCIQ_GRAYLIST, "8086:24c0 rev 0a (ICH4 graylist)" },
		/* the first device needing the workaround decides */
		{ "8086:24c0:01 8086:7113:00", PCIQ_GRAYLIST, "8086:24c0 rev 01 (ICH4 graylist)" },
		{ "8086:7113:2 8086:24c0:01", PCIQ_BLACKLIST, "8086:7113 rev 02 (PIIX4 erratum)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pciq_result r;
		char err[128] = "";

		ck_assert_msg(pciq_scan(cases[i].ids, &r, err, sizeof(err)) == 0, "%s: %s",
			      cases[i].ids, err);
		ck_assert_int_eq(r.kind, cases[i].kind);
		ck_assert(r.workaround == (cases[i].kind != PCIQ_NONE));
		ck_assert_str_eq(r.reason, cases[i].reason);
	}
}
END_TEST

START_TEST(test_scan_ids_malformed)
{
	static const char *const bad[] = {
		"8086:7113", "8086:7113:1ff", "zz:0000:00", "8086:7113:01x", "80860:7113:01",
		"8086::01",  "8086:7113:",    ":7113:01",   "8086-7113-01",  "8086:7113:01 junk",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pciq_result r;
		char err[128] = "";

		ck_assert_msg(pciq_scan(bad[i], &r, err, sizeof(err)) == -EINVAL, "%s", bad[i]);
		ck_assert_msg(strstr(err, "is not vvvv:dddd:rr") != NULL, "%s: %s", bad[i], err);
		ck_assert(!r.workaround);
	}
}
END_TEST

/* ---- the real libpci scan ------------------------------------------------ */

static unsigned long read_hex_file(const char *dir, const char *name)
{
	char path[512], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	return strtoul(buf, NULL, 16);
}

/* The decision libpci makes must equal the one made from sysfs read here. */
START_TEST(test_scan_libpci_host)
{
	const char *root = "/sys/bus/pci/devices";
	struct pciq_result want, got;
	char ids[4096] = "", err[256] = "";
	size_t used = 0;
	struct dirent *e;
	DIR *d = opendir(root);
	int ndev = 0;

	if (!d) {
		printf("# no %s on this host: nothing to compare\n", root);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char dev[512];

		if (e->d_name[0] == '.')
			continue;
		snprintf(dev, sizeof(dev), "%s/%s", root, e->d_name);
		used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%04lx:%04lx:%02lx ",
					 read_hex_file(dev, "vendor"), read_hex_file(dev, "device"),
					 read_hex_file(dev, "revision"));
		ck_assert(used < sizeof(ids));
		ndev++;
	}
	closedir(d);
	printf("# host PCI devices: %d (%s)\n", ndev, ids);

	ck_assert_int_eq(pciq_scan(ids, &want, err, sizeof(err)), 0);
	ck_assert_msg(pciq_scan(NULL, &got, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(got.kind, want.kind);
	ck_assert_str_eq(got.reason, want.reason);
}
END_TEST

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/test_pciq.XXXXXX";
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

/* A sysfs tree as libpci's linux-sysfs method reads it, with one device. */
static void fake_sysfs_device(const char *root, const char *slot, uint16_t vendor, uint16_t device,
			      uint8_t rev)
{
	char dir[512], txt[32];
	uint8_t config[256] = { 0 };
	int n;

	snprintf(dir, sizeof(dir), "%s/devices", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/devices/%s", root, slot);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	n = snprintf(txt, sizeof(txt), "0x%04x\n", vendor);
	write_file(dir, "vendor", txt, (size_t)n);
	n = snprintf(txt, sizeof(txt), "0x%04x\n", device);
	write_file(dir, "device", txt, (size_t)n);
	write_file(dir, "class", "0x068000\n", 9);
	write_file(dir, "irq", "9\n", 2);
	config[0] = (uint8_t)vendor;
	config[1] = (uint8_t)(vendor >> 8);
	config[2] = (uint8_t)device;
	config[3] = (uint8_t)(device >> 8);
	config[8] = rev; /* PCI_REVISION_ID */
	config[10] = 0x80;
	config[11] = 0x06;
	write_file(dir, "config", config, sizeof(config));
}

static void rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_scan_libpci_fake_piix4)
{
	char *root = make_tmpdir();
	struct pciq_result r;
	char err[256] = "";

	fake_sysfs_device(root, "0000:00:00.0", 0x8086, 0x1237, 0x02);
	fake_sysfs_device(root, "0000:00:01.3", 0x8086, 0x7113, 0x01);
	ck_assert_msg(pciq_scan_libpci("linux-sysfs", root, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.kind, PCIQ_BLACKLIST);
	ck_assert(r.workaround);
	ck_assert_uint_eq(r.vendor, 0x8086);
	ck_assert_uint_eq(r.device, 0x7113);
	ck_assert_uint_eq(r.revision, 1);
	ck_assert_str_eq(r.reason, "8086:7113 rev 01 (PIIX4 erratum)");
	rm_rf(root);
	free(root);

	/* The same chipset as QEMU's -M pc: PIIX4M, revision 3. */
	root = make_tmpdir();
	fake_sysfs_device(root, "0000:00:01.3", 0x8086, 0x7113, 0x03);
	ck_assert_msg(pciq_scan_libpci("linux-sysfs", root, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.kind, PCIQ_NONE);
	ck_assert(!r.workaround);
	ck_assert_str_eq(r.reason, "none: 8086:7113 rev 03 is PIIX4M, fixed");
	rm_rf(root);
	free(root);
}
END_TEST

/* Runs f with stderr redirected to a file; returns how many bytes it wrote. */
static long stderr_bytes_during(void (*f)(void *), void *arg)
{
	char path[] = "/tmp/test_pciq.err.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	struct stat st;

	ck_assert(fd >= 0 && saved >= 0);
	fflush(stderr);
	ck_assert(dup2(fd, 2) == 2);
	f(arg);
	fflush(stderr);
	ck_assert(dup2(saved, 2) == 2);
	close(saved);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	unlink(path);
	return (long)st.st_size;
}

struct fail_case {
	const char *method, *path;
	int ret;
	struct pciq_result r;
	char err[256];
};

static void run_fail_case(void *arg)
{
	struct fail_case *c = arg;

	c->ret = pciq_scan_libpci(c->method, c->path, &c->r, c->err, sizeof(c->err));
}

/* libpci's own error handler would print and exit(1): the process must
 * survive, be told why, and nothing may reach stderr. */
START_TEST(test_scan_libpci_fails_quietly)
{
	struct fail_case c = { .method = "linux-sysfs", .path = "/nonexistent/sys/bus/pci" };

	ck_assert_int_eq(stderr_bytes_during(run_fail_case, &c), 0);
	ck_assert_int_eq(c.ret, -EIO);
	ck_assert_msg(strstr(c.err, "no PCI access through libpci (linux-sysfs: ") == c.err, "%s",
		      c.err);
	ck_assert_msg(strstr(c.err, "/nonexistent/sys/bus/pci/devices") != NULL, "%s", c.err);
	ck_assert(!c.r.workaround);
	ck_assert_str_eq(c.r.reason, "no listed chipset");

	/* A second failing scan works the same: the escape is re-armed. */
	memset(&c.r, 0x55, sizeof(c.r));
	ck_assert_int_eq(stderr_bytes_during(run_fail_case, &c), 0);
	ck_assert_int_eq(c.ret, -EIO);
	ck_assert_str_eq(c.r.reason, "no listed chipset");

	c.method = "no-such-method";
	c.path = NULL;
	ck_assert_int_eq(stderr_bytes_during(run_fail_case, &c), 0);
	ck_assert_int_eq(c.ret, -EIO);
	ck_assert_msg(strstr(c.err, "no-such-method: not in libpci") != NULL, "%s", c.err);
}
END_TEST

/* ---- verified triple read ------------------------------------------------- */

struct script {
	const uint32_t *v;
	size_t n, pos;
	uint32_t step; /* after the script: keep counting up by this (0 = fail) */
	uint32_t last;
};

static uint32_t script_read(void *ctx)
{
	struct script *s = ctx;

	if (s->pos < s->n) {
		s->last = s->v[s->pos++];
		return s->last;
	}
	ck_assert_msg(s->step != 0, "script of %zu reads exhausted", s->n);
	s->pos++;
	s->last += s->step;
	return s->last;
}

#define SCRIPT(...)                                                                                \
	((struct script){ .v = (const uint32_t[]){ __VA_ARGS__ },                                  \
			  .n = sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t) })

START_TEST(test_verified_in_order)
{
	struct script s = SCRIPT(10, 11, 12);

	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 11);
	ck_assert_uint_eq(s.pos, 3);

	s = SCRIPT(5, 5, 5); /* no value lies strictly between the others */
	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 5);
	ck_assert_uint_eq(s.pos, 3);

	s = SCRIPT(0xfffffe, 0xffffff, 0x000001); /* a wrap is not a glitch */
	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 0xffffff);
	ck_assert_uint_eq(s.pos, 3);
}
END_TEST

START_TEST(test_verified_retries_glitches)
{
	/* v1 out of order between v2 and v3 */
	struct script s = SCRIPT(100, 50, 200, 201, 202, 203);

	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 202);
	ck_assert_uint_eq(s.pos, 6);

	/* v3 between v1 and v2: the middle read is the bad one */
	s = SCRIPT(100, 0x8000ff, 200, 300, 301, 302);
	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 301);
	ck_assert_uint_eq(s.pos, 6);

	/* v2 between v3 and v1 (descending triple) */
	s = SCRIPT(300, 200, 100, 400, 401, 402);
	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 401);
	ck_assert_uint_eq(s.pos, 6);

	/* two glitched triples in a row */
	s = SCRIPT(10, 5, 20, 30, 40, 35, 50, 51, 52);
	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 51);
	ck_assert_uint_eq(s.pos, 9);
}
END_TEST

START_TEST(test_verified_masks_24_bits)
{
	/* Upper byte garbage (a 32-bit TMR_VAL_EXT timer) is masked before the
	 * comparison: unmasked, 0xff000010 would be out of order. */
	struct script s = SCRIPT(0xff000010, 0x00000011, 0xab000012);

	ck_assert_uint_eq(pmtmr_read_verified(script_read, &s), 0x11);
	ck_assert_uint_eq(s.pos, 3);
}
END_TEST

/* ---- start-up monotonicity check ------------------------------------------ */

START_TEST(test_monotonic_ok)
{
	struct script s = { .step = 3, .last = 0x100 };
	char err[256] = "";

	ck_assert_int_eq(pmtmr_check_monotonic(script_read, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.pos, 2 * PMTMR_MONOTONICITY_CHECKS);
}
END_TEST

START_TEST(test_monotonic_wrap_then_count)
{
	struct script s = SCRIPT(0xfffff0, 0xfffff0, 0x000010);
	char err[256] = "";

	s.step = 1;
	ck_assert_msg(pmtmr_check_monotonic(script_read, &s, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(test_monotonic_inconsistent)
{
	struct script s = SCRIPT(0x500000, 0x500000, 0x400000);
	char err[256] = "";

	ck_assert_int_eq(pmtmr_check_monotonic(script_read, &s, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "acpi_pm: inconsistent reads 0x500000 then 0x400000 in round 0, "
			      "expected an increase or a wrap to below 0xfff");

	/* Dropping to exactly 0xfff is not a wrap. */
	s = SCRIPT(0xfffff0, 0x000fff);
	ck_assert_int_eq(pmtmr_check_monotonic(script_read, &s, err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "inconsistent reads 0xfffff0 then 0x000fff") != NULL, "%s", err);
}
END_TEST

static uint32_t stuck_read(void *ctx)
{
	unsigned long *calls = ctx;

	++*calls;
	return 0x12345678; /* masked: 0x345678 */
}

START_TEST(test_monotonic_stuck)
{
	unsigned long calls = 0;
	char err[256] = "";

	ck_assert_int_eq(pmtmr_check_monotonic(stuck_read, &calls, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "acpi_pm: stuck at 0x345678 for 10000 reads in round 0, "
			      "expected it to count");
	ck_assert_uint_eq(calls, 1 + PMTMR_READ_CHECKS);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pciq");
	TCase *tc = tcase_create("match");

	tcase_add_test(tc, test_match_piix4_blacklist);
	tcase_add_test(tc, test_match_piix4m_fixed);
	tcase_add_test(tc, test_match_graylist);
	tcase_add_test(tc, test_match_others);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_test(tc, test_scan_ids);
	tcase_add_test(tc, test_scan_ids_malformed);
	tcase_add_test(tc, test_scan_libpci_host);
	tcase_add_test(tc, test_scan_libpci_fake_piix4);
	tcase_add_test(tc, test_scan_libpci_fails_quietly);
	suite_add_tcase(s, tc);

	tc = tcase_create("pmtmr_read");
	tcase_add_test(tc, test_verified_in_order);
	tcase_add_test(tc, test_verified_retries_glitches);
	tcase_add_test(tc, test_verified_masks_24_bits);
	tcase_add_test(tc, test_monotonic_ok);
	tcase_add_test(tc, test_monotonic_wrap_then_count);
	tcase_add_test(tc, test_monotonic_inconsistent);
	tcase_add_test(tc, test_monotonic_stuck);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
