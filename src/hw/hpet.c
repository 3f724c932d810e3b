// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HPET driver. The base address comes from the ACPI HPET table; the 1 KiB
 * register block is mapped read-only, through /dev/hpet when its mmap works
 * (CONFIG_HPET_MMAP maps the block at offset 0) and through /dev/mem at the
 * physical base otherwise. The capabilities are checked as the kernel's
 * hpet_enable() does, except that nothing is ever written: the kernel owns
 * the HPET, enabled it and re-zeroes it on resume, so a disabled or stopped
 * counter makes it unusable here instead of being restarted.
 *
 * Reads are one 32-bit load of the main counter's low word, like the
 * kernel's read_hpet(): the clocksource is 32 bits wide even when the
 * counter is 64-bit, and a 64-bit read is not atomic on every chipset.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/tunit.h"
#include "hw/acpi.h"
#include "hw/drivers.h"
#include "hw/hpet.h"

struct hpet_priv {
	void *map;
	size_t maplen;
	const volatile uint8_t *regs; /* the register block inside the mapping */
};

int hpet_check_caps(const struct hpet_regs *regs, struct hpet_caps *caps, char *err, size_t errlen)
{
	uint32_t id = regs->id;

	memset(caps, 0, sizeof(*caps));
	caps->period_fs = regs->period_fs;
	if (regs->period_fs)
		caps->nominal_hz = (UINT64_C(1000000000000000) + regs->period_fs / 2) /
				   regs->period_fs;
	caps->vendor = (uint16_t)(id >> HPET_ID_VENDOR_SHIFT);
	caps->rev = (uint8_t)(id & HPET_ID_REV);
	caps->timers = ((id & HPET_ID_NUMBER) >> HPET_ID_NUMBER_SHIFT) + 1;
	caps->counter_64bit = (id & HPET_ID_64BIT) != 0;
	caps->legacy_capable = (id & HPET_ID_LEGSUP) != 0;
	caps->enabled = (regs->cfg & HPET_CFG_ENABLE) != 0;

	/* AMD SB700 with spread spectrum emulates the HPET in SMM and reads
	 * all ones until that is ready; the caller polled already. */
	if (regs->cfg == UINT32_MAX) {
		errbuf_set(
			err, errlen,
			"hpet: GEN_CONF reads 0xffffffff after %d polls, expected a configuration "
			"(HPET not responding)",
			HPET_CFG_POLLS);
		return -ENODEV;
	}
	if (caps->vendor == UINT16_MAX) {
		errbuf_set(
			err, errlen,
			"hpet: GCAP_ID 0x%08x has vendor id 0xffff, expected a vendor (no device?)",
			id);
		return -ENODEV;
	}
	if (regs->period_fs < HPET_PERIOD_MIN_FS || regs->period_fs > HPET_PERIOD_MAX_FS) {
		errbuf_set(err, errlen, "hpet: period %u fs outside %u..%u", regs->period_fs,
			   HPET_PERIOD_MIN_FS, HPET_PERIOD_MAX_FS);
		return -ENODEV;
	}
	if (!caps->enabled) {
		errbuf_set(
			err, errlen,
			"hpet: GEN_CONF 0x%08x has ENABLE_CNF (bit 0) clear: the kernel does not "
			"run the HPET, and it is never enabled from user space",
			regs->cfg);
		return -ENODEV;
	}
	return 0;
}

static uint32_t reg_read(const volatile uint8_t *regs, unsigned int off)
{
	return *(const volatile uint32_t *)(regs + off);
}

static uint64_t hpet_read(struct clocksource *cs)
{
	struct hpet_priv *p = cs->priv;

	return reg_read(p->regs, HPET_REG_COUNTER);
}

static void hpet_release(struct clocksource *cs)
{
	struct hpet_priv *p = cs->priv;

	if (!p)
		return;
	munmap(p->map, p->maplen);
	free(p);
}

/*
 * Maps `len` bytes at `off` of `path` read-only and shared. A regular file
 * (a test fixture, or a misconfigured path) must cover the whole range:
 * touching a mapping past the end of a file raises SIGBUS.
 */
static int map_range(const char *path, uint64_t off, size_t len, void **map, char *why,
		     size_t whylen)
{
	struct stat st;
	void *m;
	int fd, ret;

	if (off > (uint64_t)INT64_MAX - len) {
		errbuf_set(why, whylen, "offset 0x%llx beyond the file offset range",
			   (unsigned long long)off);
		return -EOVERFLOW;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errbuf_set(why, whylen, "%s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < off + len) {
		errbuf_set(why, whylen, "a regular file of %lld bytes, too short for 0x%llx+%zu",
			   (long long)st.st_size, (unsigned long long)off, len);
		close(fd);
		return -EINVAL;
	}
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	ret = m == MAP_FAILED ? -errno : 0;
	close(fd); /* the mapping keeps its own reference to the device */
	if (ret < 0) {
		/* /dev/hpet opens but refuses mmap without CONFIG_HPET_MMAP
		 * (or hpet_mmap=1 when it is not the default). */
		errbuf_set(why, whylen, "mmap: %s", strerror(-ret));
		return ret;
	}
	*map = m;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns_u(&ts);
}

/* The kernel allows 200000 TSC cycles (50..200 µs); a bounded wall-clock
 * time is used here, longer, because a user-space thread can be preempted. */
static bool counter_moves(const volatile uint8_t *regs, uint32_t *seen)
{
	uint32_t first = reg_read(regs, HPET_REG_COUNTER);
	uint64_t start = now_ns();

	*seen = first;
	do {
		if (reg_read(regs, HPET_REG_COUNTER) != first)
			return true;
	} while (now_ns() - start < HPET_COUNTING_NS);
	return reg_read(regs, HPET_REG_COUNTER) != first;
}

int hpet_probe(const struct hw_env *env, struct clocksource *cs)
{
	const char *dir = env->acpi_dir ? env->acpi_dir : ACPI_TABLES_DIR;
	const char *dev_hpet = env->dev_hpet ? env->dev_hpet : "/dev/hpet";
	const char *dev_mem = env->dev_mem ? env->dev_mem : "/dev/mem";
	char err[CS_REASON_LEN], why_hpet[96], why_mem[96];
	struct acpi_hpet_info info;
	struct hpet_regs regs;
	struct hpet_caps caps;
	struct hpet_priv *p;
	uint8_t *tab;
	size_t len;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t page_off;
	void *map = NULL;
	size_t maplen;
	const char *access;
	uint32_t seen;
	int ret;

	cs_init(cs, "hpet");
	if (pg <= 0)
		pg = 4096;

	ret = acpi_table_load(dir, "HPET", &tab, &len, err, sizeof(err));
	if (ret < 0) {
		cs_set_unusable(cs, "hpet: %s", err);
		return ret;
	}
	ret = acpi_parse_hpet(tab, len, &info, err, sizeof(err));
	free(tab);
	if (ret < 0) {
		cs_set_unusable(cs, "hpet: %s", err);
		return ret;
	}
	cs_attr_hex(cs, "address", info.address);

	/* /dev/hpet first: it needs no access to all of physical memory. */
	maplen = HPET_MMAP_SIZE;
	ret = map_range(dev_hpet, 0, maplen, &map, why_hpet, sizeof(why_hpet));
	page_off = 0;
	access = dev_hpet;
	if (ret < 0) {
		page_off = info.address & (uint64_t)(pg - 1);
		maplen = (size_t)page_off + HPET_MMAP_SIZE;
		ret = map_range(dev_mem, info.address - page_off, maplen, &map, why_mem,
				sizeof(why_mem));
		access = dev_mem;
	}
	if (ret < 0) {
		cs_set_unusable(cs, "hpet: cannot map 0x%llx through %s: %s (and %s: %s)",
				(unsigned long long)info.address, dev_mem, why_mem, dev_hpet,
				why_hpet);
		return ret;
	}
	cs_attr_str(cs, "access", "%s", access);

	p = calloc(1, sizeof(*p));
	if (!p) {
		munmap(map, maplen);
		cs_set_unusable(cs, "hpet: out of memory");
		return -ENOMEM;
	}
	p->map = map;
	p->maplen = maplen;
	p->regs = (const volatile uint8_t *)map + page_off;
	cs->priv = p;
	cs->release = hpet_release;

	regs.id = reg_read(p->regs, HPET_REG_ID);
	regs.period_fs = reg_read(p->regs, HPET_REG_PERIOD);
	for (int i = 0; i < HPET_CFG_POLLS; i++) {
		regs.cfg = reg_read(p->regs, HPET_REG_CFG);
		if (regs.cfg != UINT32_MAX)
			break;
	}
	ret = hpet_check_caps(&regs, &caps, err, sizeof(err));
	cs_attr_u64(cs, "period_fs", caps.period_fs);
	cs_attr_hex(cs, "vendor", caps.vendor);
	cs_attr_bool(cs, "counter_64bit", caps.counter_64bit);
	cs_attr_u64(cs, "timers", caps.timers);
	if (ret < 0)
		goto unusable;

	/* Stops in PC10 on some Intel parts (the kernel's pc10 check), or
	 * simply dead: either way it must be seen to count. */
	if (!counter_moves(p->regs, &seen)) {
		ret = -ENODEV;
		snprintf(err, sizeof(err),
			 "hpet: main counter stayed at 0x%08x for %d us, expected it to count",
			 seen, HPET_COUNTING_NS / 1000);
		goto unusable;
	}

	cs->usable = true;
	cs->rating = CS_RATING_HPET;
	cs->bits = 32;
	cs->mask = CS_MASK(32);
	cs->nominal_hz = caps.nominal_hz;
	cs->flags = CS_F_CONTINUOUS;
	cs->read = hpet_read;
	return 0;

unusable:
	cs_release(cs);
	cs_set_unusable(cs, "%s", err);
	return ret;
}
