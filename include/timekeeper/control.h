/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * timekeeper/control.h: the control protocol of timekeeperd, spoken over
 * the Unix SOCK_SEQPACKET socket <runtime_dir>/control (default
 * /run/timekeeper/control). Installed with libtimekeeper; timectl(1) is
 * written against this header alone. Documented in timectl(1) and
 * timekeeperd(8).
 *
 * Framing. One message per packet. Every message starts with struct
 * tk_ctl_hdr; `length` is the whole packet including the header and must
 * equal what was received. A request carries the payload of its type; a
 * reply echoes type and seq, sets TK_CTL_F_REPLY, and carries struct
 * tk_ctl_result followed by the type's reply payload (present only when
 * status is 0, except where a type says otherwise). Sizes are exact: a
 * request whose length differs from sizeof(hdr) + sizeof(payload) of its
 * type is refused with -EBADMSG. Little-endian host layout, naturally
 * aligned, no implicit padding (every struct below has explicit reserved
 * fields that must be zero on send and are ignored on receipt).
 *
 * Versioning. `version` is TK_CTL_VERSION. A server answers a request of a
 * version it does not speak with status -EPROTONOSUPPORT (in a reply of
 * its own version) and then closes the connection. Compatible additions
 * get new types, never new fields in old payloads.
 *
 * Permissions. The server reads the peer's credentials (SO_PEERCRED,
 * SO_PEERGROUPS). Queries are for everyone. Changes (TK_CTL_T_IS_CHANGE)
 * are for root, the daemon's own uid and members of the configured group
 * ([control] group, default "timekeeper"); anyone else gets -EPERM and
 * nothing changes; -EPERM means that and nothing else (a SWITCH to an
 * unstable or unusable source is refused with -EBUSY and the reason).
 * TK_CTL_ADJTIME with modes == 0 or ADJ_OFFSET_SS_READ is a query.
 *
 * Limits. Connections per server and per uid, and messages per second
 * per connection (token bucket), are configured in [control]. A client
 * past a limit, or one whose header is unusable (bad magic, length not
 * matching the packet, oversized packet), gets one reply with the reason
 * when possible and is disconnected. The daemon is never affected.
 */
#ifndef TIMEKEEPER_CONTROL_H
#define TIMEKEEPER_CONTROL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TK_CTL_SOCKET_NAME "control" /* in the runtime directory, beside "page" */
#define TK_CTL_MAGIC 0x4b54u	     /* "TK" little-endian */
#define TK_CTL_VERSION 1u
#define TK_CTL_MAX_MSG 65536u /* largest packet either side sends */

#define TK_CTL_NAME_LEN 32     /* clock source names, NUL-terminated */
#define TK_CTL_MESSAGE_LEN 256 /* result messages, NUL-terminated */

/* hdr.flags */
#define TK_CTL_F_REPLY 0x0001u
#define TK_CTL_F_EVENT 0x0002u /* unsolicited server message (timer events) */

struct tk_ctl_hdr {
	uint16_t magic;	  /*  0: TK_CTL_MAGIC */
	uint16_t version; /*  2: TK_CTL_VERSION */
	uint16_t type;	  /*  4: TK_CTL_* */
	uint16_t flags;	  /*  6: TK_CTL_F_* */
	uint32_t length;  /*  8: whole packet, header included */
	uint32_t seq;	  /* 12: chosen by the client, echoed in the reply */
};

/* Message types. Queries below 0x100, changes from 0x100. */
enum tk_ctl_type {
	TK_CTL_HELLO = 0x01,   /* req: none; reply: tk_ctl_hello */
	TK_CTL_STATUS = 0x02,  /* req: none; reply: tk_ctl_status */
	TK_CTL_SOURCES = 0x03, /* req: none; reply: tk_ctl_sources + n * tk_ctl_source */
	TK_CTL_TIMERS = 0x04,  /* req: tk_ctl_timers_req; reply: tk_ctl_timers + n * tk_ctl_timer */
	/* req: tk_ctl_timex; reply: tk_ctl_adjtime (a change if modes != 0) */
	TK_CTL_ADJTIME = 0x05,
	TK_CTL_NTP = 0x06, /* req: none; reply: tk_ctl_ntp + n * tk_ctl_ntp_server */
	/* req: none; reply: none, with the page's sealed memfd (read-only,
	 * F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_FUTURE_WRITE) as SCM_RIGHTS
	 * ancillary data; -EOPNOTSUPP when the daemon cannot share it. */
	TK_CTL_PAGE_FD = 0x07,
	/* req: none; reply: tk_ctl_ntp_srv ([ntp_server]; enabled 0 when off) */
	TK_CTL_NTP_SERVER = 0x08,

	/* Client timers (see "Timers" below): for every peer, never changes. */
	TK_CTL_TIMER_CREATE = 0x10, /* req: tk_ctl_timer_create; reply: tk_ctl_timer_id */
	TK_CTL_TIMER_ARM = 0x11,    /* req: tk_ctl_timer_arm; reply: tk_ctl_timer_armed */
	/* req: tk_ctl_timer_id; reply: tk_ctl_timer_armed, as it was (base 0 and
	 * times 0 if it was not armed) */
	TK_CTL_TIMER_DISARM = 0x12,
	TK_CTL_TIMER_DELETE = 0x13, /* req: tk_ctl_timer_id; reply: none */

	/* Events: sent by the server unasked, flags TK_CTL_F_EVENT, seq 0, no tk_ctl_result. */
	TK_CTL_EV_TIMER = 0x80, /* payload: tk_ctl_timer_events + n * tk_ctl_timer_event */

	/* req: tk_ctl_name ("" = back to rating, like writing "\n"); reply: none */
	TK_CTL_SWITCH = 0x100,
	TK_CTL_UNBIND = 0x101,	    /* req: tk_ctl_name; reply: none */
	TK_CTL_READMIT = 0x102,	    /* req: tk_ctl_name; reply: none */
	TK_CTL_RECALIBRATE = 0x103, /* req: none; reply: none (restarts the TSC calibration) */
};

#define TK_CTL_T_IS_CHANGE(t) ((t) >= 0x100)

/* Every reply: after the header. */
struct tk_ctl_result {
	int32_t status; /* 0 or -errno */
	uint32_t reserved;
	char message[TK_CTL_MESSAGE_LEN]; /* one line: what was done, or why not */
};

struct tk_ctl_hello {
	uint32_t version_min, version_max; /* protocol versions the server speaks */
	int32_t pid;			   /* the daemon */
	uint32_t may_change;		   /* 1: this peer may send changes */
	uint32_t peer_uid, peer_gid;	   /* as the server saw them */
	int32_t peer_pid;
	uint32_t reserved;
	char version[32]; /* the daemon's PACKAGE_VERSION */
};

/* reference */
#define TK_CTL_REF_NONE 0
#define TK_CTL_REF_SYSTEM 1
#define TK_CTL_REF_NTP 2

struct tk_ctl_status {
	char source[TK_CTL_NAME_LEN];	/* the timekeeper's current clock source */
	char override[TK_CTL_NAME_LEN]; /* current_clocksource override, "" = by rating */
	int32_t clock_mode;		/* TK_PAGE_MODE_* published in the page */
	uint32_t reference;		/* TK_CTL_REF_* */
	int64_t freq_scaled_ppm; /* the discipline's frequency: ppm << 16, as adjtimex freq */
	int64_t last_offset_ns;	 /* last measured offset to the reference (reference - ours) */
	int64_t last_window_ns;	 /* width of the read bracket of that measurement */
	int64_t maxerror_us;
	int64_t esterror_us;
	int32_t ntp_status; /* STA_* bits */
	int32_t time_state; /* TIME_OK, TIME_INS, TIME_DEL, TIME_OOP, TIME_WAIT, TIME_ERROR */
	int32_t tai_offset; /* s */
	int32_t time_constant;
	uint64_t update_interval_ns;
	uint64_t disruption;	      /* the page's disruption counter */
	uint64_t page_last_update_ns; /* kernel CLOCK_MONOTONIC */
	uint64_t page_valid_until_ns; /* kernel CLOCK_MONOTONIC */
	uint64_t uptime_ns;	      /* since the daemon started */
	uint64_t tsc_calibrated_hz;   /* 0: not calibrated (yet) */
	uint64_t tsc_uncertainty_ppb;
	int32_t synchronized; /* 1: !(status & STA_UNSYNC), maxerror < 16 s, bound SYNCHRONIZED */
	uint32_t reserved;
	/* The event loop's dispatch lateness (how late it ran its timers after
	 * their expiry, ns): the worst of the last minute and since the start. */
	int64_t loop_late_recent_ns;
	int64_t loop_late_max_ns;
	/* The error bound (timekeeperd(8)): at the time of the reply. */
	uint32_t bound_status;	  /* TK_PAGE_BS_* */
	uint32_t bound_drift_ppb; /* its growth, ns per s */
	int64_t bound_ns;	  /* INT64_MAX: no bound */
};

/* tk_ctl_source.state: cs_state's values */
#define TK_CTL_SRC_CURRENT 0
#define TK_CTL_SRC_OK 1
#define TK_CTL_SRC_UNSTABLE 2
#define TK_CTL_SRC_UNBOUND 3
#define TK_CTL_SRC_UNUSABLE 4

/* tk_ctl_source.verdict: cs_verdict's values */
#define TK_CTL_VERDICT_NONE 0
#define TK_CTL_VERDICT_BASELINE 1
#define TK_CTL_VERDICT_OK 2
#define TK_CTL_VERDICT_SKIP 3
#define TK_CTL_VERDICT_UNSTABLE 4
#define TK_CTL_VERDICT_SUSPECT 5 /* beyond the margin once, to be confirmed */

/* tk_ctl_source.flags */
#define TK_CTL_SRCF_WATCHDOG 0x01u /* the watchdog reference */
#define TK_CTL_SRCF_OVERRIDE 0x02u /* named by the override */
#define TK_CTL_SRCF_SIMULATED 0x04u
#define TK_CTL_SRCF_CLIENT_READ 0x08u /* clients read the counter themselves (TSC mode) */
#define TK_CTL_SRCF_MUST_VERIFY 0x10u
#define TK_CTL_SRCF_CALIBRATED 0x20u /* hz comes from calibration */

struct tk_ctl_sources {
	uint32_t count; /* tk_ctl_source records that follow, in rating order */
	uint32_t reserved;
};

struct tk_ctl_source {
	char name[TK_CTL_NAME_LEN];
	int32_t rating;		  /* the driver's */
	int32_t effective_rating; /* 0 while unstable */
	uint32_t state;		  /* TK_CTL_SRC_* */
	uint32_t flags;		  /* TK_CTL_SRCF_* */
	uint32_t bits;		  /* counter width */
	uint32_t mult, shift;
	uint32_t verdict;	  /* TK_CTL_VERDICT_*: the watchdog's last */
	uint64_t nominal_hz;	  /* the driver's */
	uint64_t hz;		  /* what the arithmetic uses (nominal or calibrated) */
	uint64_t uncertainty_ppb; /* of hz; 0 when unknown */
	uint64_t max_idle_ns;
	uint64_t wd_checks, wd_skips, wd_failures, wd_retries;
	uint64_t wd_max_skew_ns;
	char reason[TK_CTL_MESSAGE_LEN];       /* why unstable/unusable, "" otherwise */
	char last_verdict[TK_CTL_MESSAGE_LEN]; /* the watchdog's last reason text */
};

struct tk_ctl_timers_req {
	uint32_t offset; /* first timer to list (paging) */
	uint32_t reserved;
};

struct tk_ctl_timers {
	uint64_t now_mono_ns;  /* the daemon's CLOCK_MONOTONIC at the listing */
	int64_t offset_ns[4];  /* base clock - MONOTONIC, by base (MONOTONIC, REALTIME,
			       * BOOTTIME, TAI) */
	int64_t next_event_ns; /* earliest hard expiry (MONOTONIC), INT64_MAX = none */
	uint32_t total;	       /* timers queued in all */
	uint32_t count;	       /* tk_ctl_timer records that follow, from offset */
};

struct tk_ctl_timer {
	char name[TK_CTL_NAME_LEN];
	uint32_t base;	   /* 0 MONOTONIC, 1 REALTIME, 2 BOOTTIME, 3 TAI */
	uint32_t state;	   /* HRT_STATE_*-like: 1 queued */
	int32_t owner_pid; /* 0: the daemon's own */
	uint32_t reserved;
	int64_t soft_expires_ns; /* in the base's clock */
	int64_t expires_ns;	 /* hard, in the base's clock */
	int64_t period_ns;	 /* 0: one-shot */
};

/* ADJTIME: a fixed-width struct timex. Units as adjtimex(2) (offset in
 * us, or ns with STA_NANO; freq in ppm << 16; maxerror/esterror us).
 * modes: ADJ_* bits of <sys/timex.h> (ADJ_OFFSET, ADJ_FREQUENCY,
 * ADJ_MAXERROR, ADJ_ESTERROR, ADJ_STATUS, ADJ_TIMECONST, ADJ_TAI,
 * ADJ_SETOFFSET, ADJ_MICRO, ADJ_NANO, ADJ_TICK, or ADJ_OFFSET_SINGLESHOT /
 * ADJ_OFFSET_SS_READ). ADJ_SETOFFSET steps REALTIME by time_sec +
 * time_usec (us, or ns with ADJ_NANO). */
struct tk_ctl_timex {
	uint32_t modes;
	int32_t status;
	int64_t offset;
	int64_t freq;
	int64_t maxerror;
	int64_t esterror;
	int64_t constant;
	int64_t precision;
	int64_t tolerance;
	int64_t time_sec;
	int64_t time_usec;
	int64_t tick;
	int32_t tai;
	uint32_t reserved;
};

struct tk_ctl_adjtime {
	int32_t state; /* adjtimex's return: TIME_OK ... TIME_ERROR */
	uint32_t reserved;
	struct tk_ctl_timex tx; /* the read-back */
};

struct tk_ctl_name {
	char name[TK_CTL_NAME_LEN]; /* NUL-terminated within the array */
};

/*
 * NTP (reference = ntp). The reply is complete only when count fits in one
 * packet: at most TK_CTL_NTP_MAX_SERVERS servers are configured.
 */
#define TK_CTL_NTP_MAX_SERVERS 64
#define TK_CTL_HOST_LEN 64 /* a server as configured, NUL-terminated */
#define TK_CTL_ADDR_LEN 48 /* numeric address, NUL-terminated */

/* tk_ctl_ntp_server.state, like chronyc's * + - x ? ~ columns */
#define TK_CTL_NTP_SELECTED 0  /* the system peer: the clock follows it (and the others combined) */
#define TK_CTL_NTP_CANDIDATE 1 /* survived selection and clustering, combined */
#define TK_CTL_NTP_OUTLIER 2   /* a truechimer dropped by the clustering */
#define TK_CTL_NTP_FALSETICKER 3 /* outside the intersection */
#define TK_CTL_NTP_UNREACHABLE 4 /* reach register is 0 after the first polls */
#define TK_CTL_NTP_UNUSABLE                                                                        \
	5 /* answers, but not usable: unsynchronized, stratum, delay, KoD DENY/RSTR */
#define TK_CTL_NTP_INIT 6 /* not enough samples yet */

/* tk_ctl_ntp_server.flags */
#define TK_CTL_NTPF_IBURST 0x01u
#define TK_CTL_NTPF_KOD_RATE 0x02u /* a RATE kiss was received: the poll was raised */
#define TK_CTL_NTPF_KOD_DENY 0x04u /* DENY or RSTR: the server is no longer polled */
#define TK_CTL_NTPF_RESOLVE_FAILED 0x08u
#define TK_CTL_NTPF_XLEAVE 0x10u      /* configured with xleave: interleaved mode asked for */
#define TK_CTL_NTPF_INTERLEAVED 0x20u /* the newest sample came in interleaved mode */
#define TK_CTL_NTPF_RESOLVING 0x40u   /* its name lookup is in flight (off the daemon's loop) */
#define TK_CTL_NTPF_PANIC 0x80u	      /* its offset is beyond panic_threshold: not applied */

/* The NTP server's counters (timekeeperd.conf(5) [ntp_server]). */
struct tk_ctl_ntp_srv {
	uint32_t enabled;	  /* 1: [ntp_server] serves; 0: off, the rest 0 */
	uint32_t sockets;	  /* listening sockets */
	uint32_t clients;	  /* clients in the log now */
	uint32_t client_log_size; /* at most */
	uint64_t received;	  /* datagrams read */
	uint64_t requests;	  /* valid client requests (mode 3) allowed by allow/deny */
	uint64_t replies;	  /* replies sent or attempted, basic and interleaved */
	uint64_t interleaved;	  /* of them, in interleaved mode */
	uint64_t kod;		  /* kiss-o'-death RATE sent */
	uint64_t drop_rate;	  /* requests dropped by the rate limit */
	uint64_t drop_acl;	  /* requests refused by allow/deny */
	uint64_t drop_bad;	  /* short, bad version, garbage */
	uint64_t drop_mode;	  /* valid NTP but not a client request */
	uint64_t tx_stamps;	  /* kernel transmit timestamps kept for interleaved mode */
	uint64_t send_errors;	  /* replies the kernel refused */
};

struct tk_ctl_ntp {
	uint32_t count;	       /* tk_ctl_ntp_server records that follow, in configuration order */
	int32_t selected;      /* index of the system peer, -1 = none */
	int64_t offset_ns;     /* combined offset of the survivors (server - ours), last update */
	int64_t root_delay_ns; /* ours: the system peer's root delay + delay */
	int64_t root_dispersion_ns;
	uint32_t stratum; /* ours: the system peer's + 1, 16 = unsynchronized */
	uint32_t leap;	  /* LI voted by the survivors: 0 none, 1 insert, 2 delete, 3 alarm */
	uint32_t refid;	  /* the system peer's (IPv4 address or 4 ASCII), network order */
	int32_t poll;	  /* log2 s: the system poll */
	uint64_t updates; /* clock updates made from NTP */
	uint64_t steps;	  /* steps made from NTP */
	uint64_t last_update_ago_ns; /* UINT64_MAX: never */
};

struct tk_ctl_ntp_server {
	char host[TK_CTL_HOST_LEN];    /* as configured */
	char address[TK_CTL_ADDR_LEN]; /* resolved, numeric; "" while unresolved */
	uint16_t port;
	int16_t asymmetry_pm;	  /* delay asymmetry in use, per mille (-500..500), 0 none */
	uint32_t state;		  /* TK_CTL_NTP_* */
	uint32_t flags;		  /* TK_CTL_NTPF_* */
	uint32_t stratum;	  /* the server's, 0 = unknown */
	int32_t poll;		  /* log2 s, current */
	int32_t minpoll, maxpoll; /* log2 s, configured */
	uint32_t reach;		  /* 8-bit shift register of answered polls, octal in listings */
	uint32_t leap;		  /* the server's LI */
	uint32_t refid;		  /* the server's, network order */
	int64_t offset_ns;	  /* the clock filter's (server - ours) */
	int64_t delay_ns;	  /* the clock filter's round-trip delay */
	int64_t jitter_ns;	  /* RMS of the filter's offsets about the chosen one */
	int64_t dispersion_ns;
	int64_t root_delay_ns; /* the server's */
	int64_t root_dispersion_ns;
	int64_t last_offset_ns;		/* of the last sample */
	uint64_t last_rx_ago_ns;	/* since the last valid reply, UINT64_MAX = never */
	uint64_t tx, rx, rejected, kod; /* counters: sent, valid replies, replies refused, kisses */
	char message[TK_CTL_MESSAGE_LEN]; /* the last reason for the state, "" if none */
};

/*
 * Timers (libtimekeeper(3) TIMERS). A connection creates timers on one of the
 * daemon's clocks, arms them absolute or relative, one-shot or periodic,
 * with a slack, and is sent TK_CTL_EV_TIMER events on the same connection.
 * Timers belong to their connection: closing it deletes them and changes
 * nothing else. Ids are per connection, never 0, not reused while the
 * connection lives. Limits: [control] max_timers_per_client and
 * max_timers (-ENOSPC), min_timer_interval_us (shorter periods are raised
 * to it). Semantics as POSIX timers / timerfd on the daemon's clocks:
 *  - a relative REALTIME timer runs on MONOTONIC (a step does not move it);
 *  - absolute REALTIME and TAI timers follow steps and leap seconds (their
 *    MONOTONIC expiry is re-evaluated, clock_was_set); with
 *    TK_CTL_TIMER_F_CANCEL_ON_SET, a step (or a leap second, for
 *    REALTIME) cancels the timer instead and a TK_CTL_TEV_CANCELED event
 *    is sent, like TFD_TIMER_CANCEL_ON_SET;
 *  - a periodic timer expires at value + k * interval; when expiries are
 *    missed (a late wake-up, or a client too slow to read its events) they
 *    are counted in one event's overruns, never lost, never queued one by
 *    one: the sum of overruns over the events is the number of periods
 *    elapsed. The daemon sends one event per timer per expiry at most, and
 *    batches the events of one connection that fall due together.
 *  - slack: the timer may run anywhere in [expiry, expiry + slack]; timers
 *    whose windows overlap share one wake-up. A zero-slack timer is run as
 *    close to its expiry as the daemon can (early wake-up and a spin on the
 *    counter).
 */
#define TK_CTL_CLOCK_MONOTONIC 0 /* the daemon's clocks, in the kernel's hrtimer base order */
#define TK_CTL_CLOCK_REALTIME 1
#define TK_CTL_CLOCK_BOOTTIME 2
#define TK_CTL_CLOCK_TAI 3

/* tk_ctl_timer_arm.flags */
#define TK_CTL_TIMER_F_ABS 0x01u	   /* value is a time of the clock, else a delay (>= 0) */
#define TK_CTL_TIMER_F_CANCEL_ON_SET 0x02u /* needs ABS on REALTIME or TAI */

/* tk_ctl_timer_event.kind */
#define TK_CTL_TEV_EXPIRED 1
#define TK_CTL_TEV_CANCELED 2 /* cancel-on-set: the clock was stepped; the timer is disarmed */

struct tk_ctl_timer_create {
	uint32_t clock; /* TK_CTL_CLOCK_* */
	uint32_t reserved;
	char name[TK_CTL_NAME_LEN]; /* for listings, NUL-terminated, may be "" */
};

struct tk_ctl_timer_id {
	uint32_t id;
	uint32_t reserved;
};

struct tk_ctl_timer_arm {
	uint32_t id;
	uint32_t flags;	     /* TK_CTL_TIMER_F_* */
	int64_t value_ns;    /* first expiry: ABS a time of the clock, else a delay */
	int64_t interval_ns; /* 0: one-shot; else the period (> 0) */
	uint64_t slack_ns;   /* 0: precise */
};

struct tk_ctl_timer_armed {
	uint32_t id;
	uint32_t base; /* the queue it runs on (TK_CTL_CLOCK_*: REL REALTIME -> MONOTONIC) */
	int64_t soft_expires_ns; /* in the base's clock */
	int64_t expires_ns;	 /* hard: soft + slack */
	int64_t interval_ns;	 /* as applied (raised to the minimum) */
};

struct tk_ctl_timer_events {
	uint32_t count; /* tk_ctl_timer_event records that follow */
	uint32_t reserved;
};

struct tk_ctl_timer_event {
	uint32_t id;
	uint32_t kind;	    /* TK_CTL_TEV_* */
	uint64_t overruns;  /* expiries this event stands for (>= 1; 0 for CANCELED) */
	int64_t expires_ns; /* the (last) expiry it reports, in the timer's clock
				    * (CANCELED: the expiry canceled) */
	int64_t now_ns;	    /* the timer's clock when the daemon ran it (CANCELED: canceled it) */
};

#ifdef __cplusplus
}
#endif

#endif
