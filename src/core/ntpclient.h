/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NTP client's core (RFC 5905), pure: no I/O and no clock of its own,
 * every time is passed in. It holds
 *  - the 48-byte v4 packet codec, NTP timestamps with eras, the short format;
 *  - one peer per server: the client request with a random transmit
 *    timestamp remembered and checked against the reply's origin, the packet
 *    sanity tests, offset and delay from the four timestamps, the clock
 *    filter (lowest delay of the last 8, dispersion growing at 15 ppm,
 *    jitter), the reach register, poll control with iburst, kiss-o'-death;
 *  - selection among the peers: the intersection algorithm (truechimers and
 *    falsetickers), clustering, the combined offset, the system peer and
 *    the leap vote;
 *  - the discipline's estimator (ntpc_disc): a least-squares line through
 *    the recent combined offsets gives the frequency error and the phase.
 *
 * Offsets are server - ours in ns. Sample times (`now`) are the daemon's
 * CLOCK_MONOTONIC in ns; T1 and T4 are the daemon's own REALTIME in ns.
 * When the daemon corrects its clock it calls ntpc_correct() (and
 * ntpc_disc_correct()) so that every stored sample stays in the frame of the
 * corrected clock.
 */
#ifndef TK_CORE_NTPCLIENT_H
#define TK_CORE_NTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTPC_PACKET_LEN 48
#define NTPC_UNIX_EPOCH INT64_C(2208988800) /* s from 1900 to 1970 */
#define NTPC_FILTER 8			    /* clock filter stages */
#define NTPC_PHI_PPB 15000		    /* dispersion growth: 15 ppm */
#define NTPC_MAXDIST_NS INT64_C(1500000000) /* root distance limit */
#define NTPC_MAXDISP_NS INT64_C(16000000000)
#define NTPC_NMIN 3			  /* clustering keeps at least this many */
#define NTPC_BURST 4			  /* iburst: requests at start */
#define NTPC_BURST_NS INT64_C(2000000000) /* iburst spacing */
#define NTPC_UNREACH_POLLS 8		  /* polls without a reply before UNREACHABLE */
#define NTPC_DISC_MAX 32		  /* samples the discipline's line is fitted on */
#define NTPC_PRECISION_NS 1000		  /* ours, for dispersion */
/* A sample steers the clock when its delay is at most this many times the
 * filter's lowest, plus the slack: the newest such sample, not the filter's
 * pick, which may be 8 polls old while the frequency is still wrong. */
#define NTPC_DELAY_GATE 2
#define NTPC_DELAY_SLACK_NS 10000
/* Delay asymmetry (the share of a sample's extra delay, over the lowest,
 * that lies on the way to the server, minus the share on the way back, over
 * two): estimated per server from the last NTPC_ASYM_MAX samples by a fit
 * of offset against time and delay; used, clamped to +-0.5, once the fit's
 * slope on delay has been significant with one sign NTPC_ASYM_RUN times in
 * a row; the steering sample is then corrected by -asymmetry * (delay -
 * lowest delay). On loopback, where the return leg carries the jitter,
 * offsets fall by ~0.4 ns per ns of delay. */
#define NTPC_ASYM_MAX 32
#define NTPC_ASYM_MIN 8
#define NTPC_ASYM_RUN 10
#define NTPC_ASYM_LIMIT 0.5
/* Delays whose RMS spread is under this are all the same delay to within
 * the reading of kernel timestamps: no slope on delay can be fitted, and
 * the estimate stays what it was. */
#define NTPC_ASYM_MIN_SPREAD_NS 20

/* Peer states: the values of TK_CTL_NTP_* (include/timekeeper/control.h). */
enum ntpc_state {
	NTPC_SELECTED = 0,
	NTPC_CANDIDATE = 1,
	NTPC_OUTLIER = 2,
	NTPC_FALSETICKER = 3,
	NTPC_UNREACHABLE = 4,
	NTPC_UNUSABLE = 5,
	NTPC_INIT = 6,
};

/* Peer flags: the values of TK_CTL_NTPF_*. */
#define NTPC_F_IBURST 0x01u
#define NTPC_F_KOD_RATE 0x02u
#define NTPC_F_KOD_DENY 0x04u
#define NTPC_F_RESOLVE_FAILED 0x08u
#define NTPC_F_XLEAVE 0x10u	 /* configured: ask for interleaved mode */
#define NTPC_F_INTERLEAVED 0x20u /* the newest sample came in interleaved mode */
#define NTPC_F_RESOLVING 0x40u	 /* a name lookup is in flight (the daemon's) */
#define NTPC_F_PANIC 0x80u	 /* its offset is beyond the panic threshold: not applied */
#define NTPC_XLEAVE_MAX_MISSED 4 /* unanswered polls before requests turn basic again */
#define NTPC_XLEAVE_MAX_GAP_NS INT64_C(4000000000) /* server RX to its TX, at most */

/* The packet, decoded (timestamps raw 32.32 NTP, shorts raw 16.16). */
struct ntpc_packet {
	uint8_t leap, version, mode, stratum;
	int8_t poll, precision;
	uint32_t root_delay, root_dispersion; /* NTP short format */
	uint32_t refid;			      /* network order as on the wire */
	uint64_t reference, origin, receive, transmit;
};

void ntpc_encode(const struct ntpc_packet *p, uint8_t buf[NTPC_PACKET_LEN]);
/* -EBADMSG when len < 48 (extension fields after 48 bytes are ignored). */
int ntpc_decode(const uint8_t *buf, size_t len, struct ntpc_packet *p);

/* Unix ns <-> 64-bit NTP timestamps. The NTP timestamp wraps every 2^32 s
 * (eras); ntpc_ts_to_ns() picks the era that puts the result nearest to
 * ref_ns (a time known to be within 68 years of it). */
uint64_t ntpc_ts_from_ns(int64_t unix_ns);
int64_t ntpc_ts_to_ns(uint64_t ts, int64_t ref_ns);
/* NTP short format (16.16 s) <-> ns. */
int64_t ntpc_short_to_ns(uint32_t s);
uint32_t ntpc_short_from_ns(int64_t ns);

/* Offset and delay of the on-wire exchange (RFC 5905 8): t1 our transmit,
 * t2 the server's receive, t3 its transmit, t4 our receive, all ns. */
void ntpc_offset_delay(int64_t t1, int64_t t2, int64_t t3, int64_t t4, int64_t *offset,
		       int64_t *delay);

/* An exchange that interleaved mode completes with the next reply. */
struct ntpc_exchange {
	bool valid;	    /* a valid reply that interleaved mode can complete */
	bool sampled;	    /* it already gave a (basic) sample */
	uint64_t srv_rx;    /* its receive timestamp, exactly as on the wire */
	int64_t t1, t2, t4; /* its times (t3 comes with the next reply) */
	int64_t t;	    /* MONOTONIC of the reply */
};

struct ntpc_sample {
	int64_t offset, delay, disp; /* ns; disp at `t` */
	int64_t t;		     /* MONOTONIC ns of the reply */
};

/* Result of ntpc_receive(). */
enum ntpc_rx {
	NTPC_RX_SAMPLE = 0, /* a valid reply: a new sample in the filter */
	NTPC_RX_BOGUS,	    /* not ours, a duplicate, malformed: rejected and counted */
	NTPC_RX_UNUSABLE,   /* ours, but the server is not fit (LI 3, stratum, distance) */
	NTPC_RX_KOD,	    /* a kiss-o'-death: see flags */
	NTPC_RX_NO_SAMPLE,  /* a valid reply in interleaved mode that gives no sample */
};

struct ntpc_peer {
	/* configuration */
	int minpoll, maxpoll;
	bool iburst;
	/* poll process */
	int poll;	    /* log2 s, current */
	unsigned int burst; /* requests still to send 2 s apart */
	int poll_count;	    /* the RFC's hysteresis counter */
	uint8_t reach;
	unsigned int unanswered; /* polls since the last valid reply */
	bool outstanding;	 /* a request waits for its reply */
	uint64_t xmt_cookie;	 /* the random transmit timestamp we sent */
	int64_t t1;		 /* our REALTIME when we sent it */
	uint64_t last_rx_xmt;	 /* the server's transmit timestamp of the last reply accepted */
	/* Interleaved mode (RFC 9769; flag NTPC_F_XLEAVE): the request carries
	 * the server's receive timestamp of the previous reply as its origin
	 * and a second random cookie as its receive timestamp; a server that
	 * knows the previous exchange answers with that cookie as origin and
	 * its transmit timestamp taken after the previous reply left (the
	 * kernel's), which completes the previous exchange. */
	uint64_t rcv_cookie;	   /* the random receive timestamp sent, 0 in basic mode */
	struct ntpc_exchange prev; /* the last valid reply's exchange */
	/* delay asymmetry: recent samples (offsets in the current frame) */
	struct ntpc_sample hist[NTPC_ASYM_MAX];
	unsigned int nhist, hist_head;
	int asym_run;	  /* consecutive significant estimates, signed */
	double asymmetry; /* in use, -0.5..0.5; 0 until established */
	/* the server, from its last valid reply */
	uint32_t leap, stratum, refid;
	int64_t root_delay, root_disp;
	int precision;
	/* clock filter */
	struct ntpc_sample filt[NTPC_FILTER]; /* newest first */
	unsigned int nfilt;
	struct ntpc_sample chosen; /* the filter's pick: selection */
	struct ntpc_sample recent; /* the newest sample within the delay gate: the clock */
	int64_t jitter, disp;	   /* ns: peer jitter and dispersion (at chosen.t) */
	int64_t last_used_t;	   /* chosen.t of the last sample given to the clock */
	int64_t last_offset;	   /* of the newest sample */
	int64_t last_rx;	   /* MONOTONIC of the last valid reply, INT64_MIN never */
	int64_t ts_unc_ns;	   /* set by the caller before ntpc_receive(): how far its T1
				    * and T4 may be off (added to the sample's dispersion) */
	/* selection */
	enum ntpc_state state;
	unsigned int flags;
	char message[256];
	uint64_t tx, rx, rejected, kod;
};

/* The peer at start: poll minpoll, burst when iburst, state INIT. */
void ntpc_peer_init(struct ntpc_peer *p, int minpoll, int maxpoll, bool iburst);

/* The delay to the next request after the one just sent, ns: 2 s during a
 * burst, else 2^poll s. 0: do not poll (DENY/RSTR). */
int64_t ntpc_poll_interval(const struct ntpc_peer *p);

/* Builds a client request in buf. cookie: 64 random bits sent as the
 * transmit timestamp and expected as the reply's origin; cookie2: 64 more,
 * the receive timestamp of an interleaved request (NTPC_F_XLEAVE, after a
 * valid reply and fewer than NTPC_XLEAVE_MAX_MISSED unanswered polls);
 * t1: our REALTIME now. Shifts the reach register (a poll that gets no
 * reply counts 0). */
void ntpc_request(struct ntpc_peer *p, uint64_t cookie, uint64_t cookie2, int64_t t1,
		  uint8_t buf[NTPC_PACKET_LEN]);

/* The kernel's transmit timestamp of the request just sent, on our
 * REALTIME: it replaces the t1 read before send(), which is early by the
 * system call's cost. Ignored unless a request is outstanding and t1 is
 * after the first t1 and within 1 s of it. */
void ntpc_transmitted(struct ntpc_peer *p, int64_t t1);

/* A packet from the server's address: t4 our REALTIME at reception, now
 * MONOTONIC. Checks, and on success runs the clock filter. A reply in
 * interleaved mode gives the sample of the previous exchange (time
 * prev.t), none when that exchange already gave a basic one. */
enum ntpc_rx ntpc_receive(struct ntpc_peer *p, const uint8_t *buf, size_t len, int64_t t4,
			  int64_t now);

/* Root distance of the peer's filter pick at now (ns): the RFC's lambda. */
int64_t ntpc_root_distance(const struct ntpc_peer *p, int64_t now);

/* The system: result of the selection. */
struct ntpc_system {
	int selected; /* index of the system peer, -1 none */
	int nsurvivors;
	int64_t offset; /* combined from the survivors' recent samples, ns */
	int64_t t;	/* sample time of the combination (the system peer's recent) */
	int64_t jitter; /* selection jitter, ns */
	int64_t root_delay, root_disp; /* ours: through the system peer */
	uint32_t stratum, leap, refid;
};

/* Selection and clustering over n peers at now: sets every peer's state
 * (SELECTED, CANDIDATE, OUTLIER, FALSETICKER; UNREACHABLE, UNUSABLE and
 * INIT are kept for peers that cannot take part) and fills sys. The
 * previous system peer is kept when it survives (prev_selected). */
void ntpc_select(struct ntpc_peer *peers, size_t n, int prev_selected, int64_t now,
		 struct ntpc_system *sys);

/* The panic threshold (ntpd's 1000 s): a combined offset beyond it is
 * applied only when the operator allows it and the servers agree: at least
 * NTPC_PANIC_MIN_AGREE truechimers (selected, candidate or outlier) whose
 * own offsets lie beyond the threshold on the side of the combined one,
 * and they are more than half of the servers that took part in the
 * selection (every state but UNREACHABLE, UNUSABLE and INIT). One server,
 * however sure of itself, never moves the clock that far. */
#define NTPC_PANIC_MIN_AGREE 2
enum ntpc_panic {
	NTPC_PANIC_NONE = 0,	/* within the threshold (or no threshold, or nothing selected) */
	NTPC_PANIC_ALLOWED,	/* beyond it, allowed and agreed: apply it */
	NTPC_PANIC_NOT_ALLOWED, /* beyond it, and the operator did not allow it */
	NTPC_PANIC_TOO_FEW,	/* beyond it, allowed, but too few servers agree */
};

/* After ntpc_select(): the rule above for sys->offset. threshold_ns <= 0:
 * no threshold. *agree and *voters (may be NULL) get the servers that
 * agree and those that took part. */
enum ntpc_panic ntpc_panic_check(const struct ntpc_peer *peers, size_t n,
				 const struct ntpc_system *sys, int64_t threshold_ns, bool allow,
				 unsigned int *agree, unsigned int *voters);

/* The daemon corrected its clock at now: the frequency by df_ppb (ns/s,
 * positive = faster) and the phase by phase_ns (added to our clock). Every
 * sample of every peer is moved into the new frame. */
void ntpc_correct(struct ntpc_peer *peers, size_t n, int64_t now, double df_ppb, int64_t phase_ns);

/* After a clock update: the poll of each peer adapts to how the offset
 * compares to its jitter (RFC 5905's hysteresis), within minpoll..maxpoll. */
void ntpc_adapt_poll(struct ntpc_peer *p, int64_t sys_offset, int64_t sys_jitter);

/* The discipline's estimator: (t, offset) pairs in the frame of the
 * current clock, a line fitted through them. */
struct ntpc_disc {
	int64_t t[NTPC_DISC_MAX];
	double off[NTPC_DISC_MAX];
	unsigned int n, head;
};

void ntpc_disc_reset(struct ntpc_disc *d);
void ntpc_disc_add(struct ntpc_disc *d, int64_t t, int64_t offset);
/* Fits offset = phase + slope * (t - now): phase ns at now, slope ppb.
 * A line needs 3 points spanning NTPC_DISC_MIN_SPAN_NS, or 2 spanning
 * NTPC_DISC_MIN_SPAN2_NS (the slope of two close points is all noise);
 * until then slope is 0 and phase the newest offset. Returns the number of
 * points; span_ns: newest - oldest. */
#define NTPC_DISC_MIN_SPAN_NS INT64_C(500000000)
#define NTPC_DISC_MIN_SPAN2_NS INT64_C(16000000000)
unsigned int ntpc_disc_fit(const struct ntpc_disc *d, int64_t now, double *phase, double *slope,
			   int64_t *span_ns);
void ntpc_disc_correct(struct ntpc_disc *d, int64_t now, double df_ppb, int64_t phase_ns);
/* The standard error of the fitted slope (ppb): the residuals' spread over
 * the spread of the times; -1 while the fit has no slope (as
 * ntpc_disc_fit()) or fewer than NTPC_DISC_SE_MIN points (the spread of
 * fewer residuals says too little). */
#define NTPC_DISC_SE_MIN 8
double ntpc_disc_slope_se(const struct ntpc_disc *d);
/* The half-width of the slope's 99.9 % confidence interval (ppb): the
 * standard error times Student's t for the fit's n - 2 degrees of freedom
 * (5.96 at 8 points, 3.65 at 32), not a fixed 3: with few points, three
 * standard errors cover too little (the bound audit saw a holdover run 3.4
 * standard errors off an 8-point fit). -1 as ntpc_disc_slope_se(). */
double ntpc_disc_slope_ci(const struct ntpc_disc *d);

const char *ntpc_state_name(enum ntpc_state s);

#endif
