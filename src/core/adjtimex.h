/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NTP discipline with the kernel's adjtimex semantics: the
 * state of kernel/time/ntp.c in one struct (no globals), the PLL/FLL of
 * ntp_update_offset, the once-per-second second_overflow (leap second state
 * machine, maxerror growth, phase and adjtime slews) and the adjtimex
 * read-back with its leap fix-ups.
 *
 * The kernel's NTP_INTERVAL_FREQ (HZ) is the daemon's accumulation rate,
 * `hz`, given at init (TKC_HZ = 100 by default): tick_length, time_offset
 * and the slews are per interval of 1/hz s. USER_HZ stays 100: tick_usec is
 * 10000 and ADJ_TICK accepts 9000..11000 whatever hz is.
 *
 * No privilege checks here: the caller decides who may write. No clock is
 * read either: the caller passes REALTIME where the kernel reads it. The
 * timekeeper (tkc.c) drives this and owns the TAI offset.
 */
#ifndef TK_CORE_ADJTIMEX_H
#define TK_CORE_ADJTIMEX_H

#include <stddef.h>
#include <stdint.h>

/* The kernel's constants (include/linux/timex.h). */
#define NTP_SCALE_SHIFT 32
#define NTP_SHIFT_PLL 2
#define NTP_SHIFT_FLL 2
#define NTP_MAXTC 10
#define NTP_SHIFT_USEC 16
#define NTP_PPM_SCALE (INT64_C(1000) << (NTP_SCALE_SHIFT - NTP_SHIFT_USEC))
#define NTP_PPM_SCALE_INV_SHIFT 19
#define NTP_PPM_SCALE_INV                                                                          \
	((INT64_C(1) << (NTP_PPM_SCALE_INV_SHIFT + NTP_SCALE_SHIFT)) / NTP_PPM_SCALE + 1)
#define NTP_MAXPHASE INT64_C(500000000) /* ns */
#define NTP_MAXFREQ INT64_C(500000)	/* ns/s: 500 ppm */
#define NTP_MAXFREQ_SCALED (NTP_MAXFREQ << NTP_SCALE_SHIFT)
#define NTP_MINSEC 256				     /* s: no FLL below */
#define NTP_MAXSEC 2048				     /* s: FLL forced above */
#define NTP_PHASE_LIMIT ((NTP_MAXPHASE / 1000) << 5) /* us: 16 s, the maxerror ceiling */
#define NTP_MAX_TICKADJ 500			     /* us per second (adjtime) */
#define NTP_MAX_TAI_OFFSET 100000
#define NTP_USER_HZ 100
#define NTP_USER_TICK_USEC ((1000000 + NTP_USER_HZ / 2) / NTP_USER_HZ)
#define NTP_TIME_MAX INT64_MAX /* "no leap pending" */

/* Modes (include/uapi/linux/timex.h): the same values as <sys/timex.h>. */
#define NTP_ADJ_OFFSET 0x0001
#define NTP_ADJ_FREQUENCY 0x0002
#define NTP_ADJ_MAXERROR 0x0004
#define NTP_ADJ_ESTERROR 0x0008
#define NTP_ADJ_STATUS 0x0010
#define NTP_ADJ_TIMECONST 0x0020
#define NTP_ADJ_TAI 0x0080
#define NTP_ADJ_SETOFFSET 0x0100
#define NTP_ADJ_MICRO 0x1000
#define NTP_ADJ_NANO 0x2000
#define NTP_ADJ_TICK 0x4000
#define NTP_ADJ_OFFSET_SINGLESHOT 0x8001 /* old adjtime() */
#define NTP_ADJ_OFFSET_SS_READ 0xa001	 /* adjtime() read-only */
/* How the kernel reads the singleshot values. */
#define NTP_ADJ_ADJTIME 0x8000
#define NTP_ADJ_OFFSET_READONLY 0x2000

/* Status bits. */
#define NTP_STA_PLL 0x0001
#define NTP_STA_PPSFREQ 0x0002
#define NTP_STA_PPSTIME 0x0004
#define NTP_STA_FLL 0x0008
#define NTP_STA_INS 0x0010
#define NTP_STA_DEL 0x0020
#define NTP_STA_UNSYNC 0x0040
#define NTP_STA_FREQHOLD 0x0080
#define NTP_STA_PPSSIGNAL 0x0100
#define NTP_STA_PPSJITTER 0x0200
#define NTP_STA_PPSWANDER 0x0400
#define NTP_STA_PPSERROR 0x0800
#define NTP_STA_CLOCKERR 0x1000
#define NTP_STA_NANO 0x2000
#define NTP_STA_MODE 0x4000
#define NTP_STA_CLK 0x8000
#define NTP_STA_RONLY                                                                              \
	(NTP_STA_PPSSIGNAL | NTP_STA_PPSJITTER | NTP_STA_PPSWANDER | NTP_STA_PPSERROR |            \
	 NTP_STA_CLOCKERR | NTP_STA_NANO | NTP_STA_MODE | NTP_STA_CLK)

/* Clock states (adjtimex results). */
enum ntp_time_state {
	NTP_TIME_OK = 0,
	NTP_TIME_INS = 1,
	NTP_TIME_DEL = 2,
	NTP_TIME_OOP = 3,
	NTP_TIME_WAIT = 4,
	NTP_TIME_ERROR = 5,
};

/* struct timex with fixed-width fields (the fields the kernel reads or
 * writes). offset: ns with STA_NANO, else us (adjtime: always us); freq and
 * ppsfreq: ppm << 16, positive = fast; maxerror, esterror: us; time_frac:
 * tv_usec of struct timex, ns with STA_NANO (or, for ADJ_SETOFFSET, with
 * ADJ_NANO), else us. */
struct ntp_timex {
	uint32_t modes;
	int64_t offset;
	int64_t freq;
	int64_t maxerror;
	int64_t esterror;
	int32_t status;
	int64_t constant;
	int64_t precision;
	int64_t tolerance;
	int64_t time_sec;
	int64_t time_frac;
	int64_t tick;
	int64_t ppsfreq;
	int64_t jitter;
	int32_t shift;
	int64_t stabil;
	int64_t jitcnt;
	int64_t calcnt;
	int64_t errcnt;
	int64_t stbcnt;
	int32_t tai;
};

/* kernel/time/ntp.c's struct ntp_data. Fixed point: tick_length,
 * tick_length_base and time_freq are ns << 32 (per interval for the first
 * two, per second for time_freq); time_offset is ns << 32 divided by hz
 * (the phase still to slew, per interval). */
struct ntp_state {
	unsigned int hz; /* NTP_INTERVAL_FREQ: intervals per second */
	int64_t tick_usec;
	uint64_t tick_length;
	uint64_t tick_length_base;
	int time_state;
	int32_t time_status;
	int64_t time_offset;
	int64_t time_constant;
	int64_t time_maxerror; /* us */
	int64_t time_esterror; /* us */
	int64_t time_freq;
	int64_t time_reftime;  /* REALTIME s of the last offset update */
	int64_t time_adjust;   /* us still to slew (adjtime) */
	int64_t ntp_tick_adj;  /* ns << 32 per second (the kernel's ntp_tick_adj) */
	int64_t next_leap_sec; /* REALTIME s of the pending leap, NTP_TIME_MAX for none */
};

/* Sign-symmetric shift (rounds toward zero), as the kernel's shift_right(). */
static inline int64_t ntp_shift_right(int64_t x, unsigned int s)
{
	return x < 0 ? -(int64_t)((uint64_t)-x >> s) : (int64_t)((uint64_t)x >> s);
}

/* The kernel's initial NTP state for hz intervals per second. Returns 0, or
 * -EINVAL when hz is outside 1..1000. */
int ntp_init(struct ntp_state *n, unsigned int hz);

/* ntp_clear(): phase, adjtime and both errors reset, STA_UNSYNC set, no
 * leap pending, tick_length back to its base; time_freq and tick_usec are
 * kept. Run on a step and on a change of clocksource. */
void ntp_clear(struct ntp_state *n);

/* ns << 32 to accumulate per interval. */
static inline uint64_t ntp_tick_length(const struct ntp_state *n)
{
	return n->tick_length;
}

/* Called once per REALTIME second with the new second: returns the leap to
 * apply to REALTIME (-1 on insertion, +1 on deletion, else 0) and sets up the
 * next second's slews. */
int ntp_second_overflow(struct ntp_state *n, int64_t secs);

/* Checks of the kernel's timekeeping_validate_timex without the privilege
 * part: singleshot modes exactly 0x8001/0xa001, tick within 9000..11000,
 * freq small enough not to overflow, the ADJ_SETOFFSET fraction in range.
 * Returns 0 or -EINVAL. */
int ntp_validate_timex(const struct ntp_timex *tx);

/* Where the kernel clamps or silently ignores a value, timekeeperd's control
 * socket refuses it: freq beyond +-500 ppm, an ADJ_OFFSET beyond +-0.5 s (in
 * the unit the request or, without ADJ_NANO/ADJ_MICRO, status says), maxerror
 * or esterror outside 0..16 s, a time constant outside 0..10, a TAI offset
 * outside 0..100000 s. Returns 0, or -ERANGE with one line in why naming the
 * field, the value read and the range expected. status is the clock's
 * time_status (its STA_NANO bit). */
int ntp_check_range(const struct ntp_timex *tx, int32_t status, char *why, size_t len);

/* __do_adjtimex(): applies tx->modes (ADJ_SETOFFSET is the timekeeper's and
 * ignored here) and fills the read-back. now_sec/now_nsec is REALTIME now;
 * *tai is the TAI offset, changed by ADJ_TAI. Returns the clock state
 * (NTP_TIME_*), TIME_ERROR when the status says unsynchronized, with the
 * leap fix-ups applied to the read-back. The caller validates first. */
int ntp_adjtimex(struct ntp_state *n, struct ntp_timex *tx, int64_t now_sec, int64_t now_nsec,
		 int32_t *tai);

/* The adjtimex result without a read (the state, TIME_ERROR when the
 * status is an error status); no leap fix-up. */
int ntp_result(const struct ntp_state *n);

/* timex.freq units (ppm << 16) of the current frequency. */
int64_t ntp_freq_scaled_ppm(const struct ntp_state *n);

#endif
