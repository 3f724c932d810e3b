// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NTP client's core (RFC 5905): packets, the per-server peer process
 * (request, checks, clock filter, reach, poll, kiss-o'-death), selection
 * and clustering, and the discipline's line fit. Pure: see ntpclient.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntpclient.h"
#include "core/tunit.h"

#define POLL_LIMIT 30 /* the RFC's hysteresis limit */
#define POLL_GATE 4   /* |offset| under this many jitters: poll may rise */

/* --- packets ------------------------------------------------------------- */

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put64(uint8_t *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *b)
{
	return (uint64_t)get32(b) << 32 | get32(b + 4);
}

void ntpc_encode(const struct ntpc_packet *p, uint8_t buf[NTPC_PACKET_LEN])
{
	buf[0] = (uint8_t)((p->leap & 3) << 6 | (p->version & 7) << 3 | (p->mode & 7));
	buf[1] = p->stratum;
	buf[2] = (uint8_t)p->poll;
	buf[3] = (uint8_t)p->precision;
	put32(buf + 4, p->root_delay);
	put32(buf + 8, p->root_dispersion);
	memcpy(buf + 12, &p->refid, 4);
	put64(buf + 16, p->reference);
	put64(buf + 24, p->origin);
	put64(buf + 32, p->receive);
	put64(buf + 40, p->transmit);
}

int ntpc_decode(const uint8_t *buf, size_t len, struct ntpc_packet *p)
{
	if (len < NTPC_PACKET_LEN)
		return -EBADMSG;
	p->leap = buf[0] >> 6;
	p->version = (buf[0] >> 3) & 7;
	p->mode = buf[0] & 7;
	p->stratum = buf[1];
	p->poll = (int8_t)buf[2];
	p->precision = (int8_t)buf[3];
	p->root_delay = get32(buf + 4);
	p->root_dispersion = get32(buf + 8);
	memcpy(&p->refid, buf + 12, 4);
	p->reference = get64(buf + 16);
	p->origin = get64(buf + 24);
	p->receive = get64(buf + 32);
	p->transmit = get64(buf + 40);
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

uint64_t ntpc_ts_from_ns(int64_t unix_ns)
{
	int64_t s = floor_div(unix_ns, NSEC_PER_SEC);
	uint64_t ns = (uint64_t)(unix_ns - s * NSEC_PER_SEC);
	uint64_t frac = ((ns << 32) + NSEC_PER_SEC / 2) / NSEC_PER_SEC;

	if (frac > UINT32_MAX) /* rounded up to the next second */
		frac = UINT32_MAX;
	return (uint64_t)(uint32_t)(s + NTPC_UNIX_EPOCH) << 32 | frac;
}

int64_t ntpc_ts_to_ns(uint64_t ts, int64_t ref_ns)
{
	int64_t ref_s = floor_div(ref_ns, NSEC_PER_SEC) + NTPC_UNIX_EPOCH;
	int32_t diff = (int32_t)((uint32_t)(ts >> 32) - (uint32_t)ref_s);
	int64_t frac_ns = (int64_t)(((ts & UINT32_MAX) * NSEC_PER_SEC_U + (UINT64_C(1) << 31)) >>
				    32);

	return (ref_s + diff - NTPC_UNIX_EPOCH) * NSEC_PER_SEC + frac_ns;
}

int64_t ntpc_short_to_ns(uint32_t s)
{
	return (int64_t)(((uint64_t)s * NSEC_PER_SEC_U + (1u << 15)) >> 16);
}

uint32_t ntpc_short_from_ns(int64_t ns)
{
	uint64_t v;

	if (ns <= 0)
		return 0;
	v = ((uint64_t)ns << 16) / NSEC_PER_SEC_U;
	if ((uint64_t)ns > (UINT64_MAX >> 16) || v > UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)v;
}

void ntpc_offset_delay(int64_t t1, int64_t t2, int64_t t3, int64_t t4, int64_t *offset,
		       int64_t *delay)
{
	*offset = ((t2 - t1) + (t3 - t4)) / 2;
	*delay = (t4 - t1) - (t3 - t2);
}

/* --- the peer ---------------------------------------------------------- */

static int64_t poll_ns(int poll)
{
	return (int64_t)ldexp((double)NSEC_PER_SEC, poll);
}

static int64_t phi(int64_t dt_ns)
{
	return dt_ns > 0 ? dt_ns / (NSEC_PER_SEC / NTPC_PHI_PPB) : 0;
}

void ntpc_peer_init(struct ntpc_peer *p, int minpoll, int maxpoll, bool iburst)
{
	memset(p, 0, sizeof(*p));
	p->minpoll = minpoll;
	p->maxpoll = maxpoll;
	p->iburst = iburst;
	p->poll = minpoll;
	p->burst = iburst ? NTPC_BURST : 0;
	p->state = NTPC_INIT;
	p->flags = iburst ? NTPC_F_IBURST : 0;
	p->last_rx = INT64_MIN;
	p->last_used_t = INT64_MIN;
	p->stratum = 0;
}

int64_t ntpc_poll_interval(const struct ntpc_peer *p)
{
	int64_t iv = poll_ns(p->poll);

	if (p->flags & NTPC_F_KOD_DENY)
		return 0;
	if (p->burst > 0 && iv > NTPC_BURST_NS)
		return NTPC_BURST_NS;
	return iv;
}

void ntpc_request(struct ntpc_peer *p, uint64_t cookie, uint64_t cookie2, int64_t t1,
		  uint8_t buf[NTPC_PACKET_LEN])
{
	struct ntpc_packet q = { .leap = 3,
				 .version = 4,
				 .mode = 3,
				 .poll = (int8_t)p->poll,
				 .precision = -20,
				 .transmit = cookie };

	if (p->outstanding || p->tx > 0) {
		if (p->outstanding)
			p->unanswered++;
		p->reach = (uint8_t)(p->reach << 1);
	}
	if (p->unanswered >= NTPC_UNREACH_POLLS && p->reach == 0 && p->state != NTPC_UNREACHABLE &&
	    !(p->flags & NTPC_F_KOD_DENY)) {
		p->state = NTPC_UNREACHABLE;
		snprintf(p->message, sizeof(p->message), "no reply to the last %u requests",
			 p->unanswered);
	}
	if (p->burst > 0)
		p->burst--;
	p->rcv_cookie = 0;
	if ((p->flags & NTPC_F_XLEAVE) && p->prev.valid && p->unanswered < NTPC_XLEAVE_MAX_MISSED) {
		/* The server tells the modes apart by receive != transmit and
		 * finds the previous exchange by the origin, bit for bit. */
		if (cookie2 == 0 || cookie2 == cookie || cookie2 == p->prev.srv_rx)
			cookie2 = ~cookie;
		q.origin = p->prev.srv_rx;
		q.receive = cookie2;
		p->rcv_cookie = cookie2;
	}
	p->xmt_cookie = cookie;
	p->t1 = t1;
	p->outstanding = true;
	p->tx++;
	ntpc_encode(&q, buf);
}

void ntpc_transmitted(struct ntpc_peer *p, int64_t t1)
{
	if (p->outstanding && t1 >= p->t1 && t1 - p->t1 < NSEC_PER_SEC)
		p->t1 = t1;
}

/* Sorts the filter's stages by delay (then by age) and picks the first. */
static void clock_filter(struct ntpc_peer *p, int64_t now)
{
	unsigned int idx[NTPC_FILTER], n = 0;
	double sum = 0;
	int64_t disp = 0;

	for (unsigned int i = 0; i < p->nfilt; i++)
		if (p->filt[i].disp + phi(now - p->filt[i].t) < NTPC_MAXDISP_NS)
			idx[n++] = i;
	if (n == 0)
		return;
	for (unsigned int i = 1; i < n; i++) /* insertion sort, stable: newer first on ties */
		for (unsigned int j = i; j > 0 && p->filt[idx[j]].delay < p->filt[idx[j - 1]].delay;
		     j--) {
			unsigned int t = idx[j];

			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	p->chosen = p->filt[idx[0]];
	for (unsigned int i = 0; i < n; i++) {
		const struct ntpc_sample *s = &p->filt[idx[i]];
		double d = (double)(s->offset - p->chosen.offset);

		sum += d * d;
		disp += (s->disp + phi(p->chosen.t - s->t)) >> (i + 1);
	}
	p->disp = disp;
	p->jitter = n > 1 ? (int64_t)sqrt(sum / (n - 1)) : 0;
	if (p->jitter < NTPC_PRECISION_NS)
		p->jitter = NTPC_PRECISION_NS;
}

static void kiss(struct ntpc_peer *p, const struct ntpc_packet *r)
{
	char code[5];

	memcpy(code, &r->refid, 4);
	code[4] = '\0';
	for (int i = 0; i < 4; i++)
		if (code[i] && (code[i] < 0x20 || code[i] > 0x7e))
			code[i] = '?';
	p->kod++;
	if (!strcmp(code, "RATE")) {
		p->flags |= NTPC_F_KOD_RATE;
		p->burst = 0;
		if (p->poll < p->maxpoll)
			p->poll++;
		if (p->poll < p->minpoll + 1 && p->poll < 17)
			p->poll = p->minpoll + 1;
		snprintf(p->message, sizeof(p->message), "kiss-o'-death RATE: poll raised to %d",
			 p->poll);
	} else if (!strcmp(code, "DENY") || !strcmp(code, "RSTR")) {
		p->flags |= NTPC_F_KOD_DENY;
		p->burst = 0;
		p->state = NTPC_UNUSABLE;
		snprintf(p->message, sizeof(p->message),
			 "kiss-o'-death %s: the server refuses us; no longer polled", code);
	} else {
		snprintf(p->message, sizeof(p->message), "kiss-o'-death '%s' (stratum 0): ignored",
			 code);
	}
}

static enum ntpc_rx unusable(struct ntpc_peer *p, const char *why)
{
	p->state = NTPC_UNUSABLE;
	snprintf(p->message, sizeof(p->message), "%s", why);
	return NTPC_RX_UNUSABLE;
}

static enum ntpc_rx bogus(struct ntpc_peer *p)
{
	p->rejected++;
	return NTPC_RX_BOGUS;
}

/* The slope of offset on delay over the peer's recent samples, with a
 * linear term in time for what remains of the frequency error (a least
 * squares fit of three parameters, centered). -1: no fit (too few samples,
 * no spread in delay); 0: a slope that is not significant (under three
 * standard errors); 1: a significant one. */
static int asym_fit(const struct ntpc_peer *p, double *slope)
{
	double mt = 0, md = 0, mo = 0, stt = 0, sdd = 0, std_ = 0, sto = 0, sdo = 0, soo = 0;
	double n = p->nhist, det, b_t, rss, se;

	if (p->nhist < NTPC_ASYM_MIN)
		return -1;
	for (unsigned int i = 0; i < p->nhist; i++) {
		mt += (double)(p->hist[i].t - p->hist[0].t) / 1e9;
		md += (double)p->hist[i].delay;
		mo += (double)p->hist[i].offset;
	}
	mt /= n, md /= n, mo /= n;
	for (unsigned int i = 0; i < p->nhist; i++) {
		double t = (double)(p->hist[i].t - p->hist[0].t) / 1e9 - mt;
		double dl = (double)p->hist[i].delay - md, o = (double)p->hist[i].offset - mo;

		stt += t * t, sdd += dl * dl, std_ += t * dl;
		sto += t * o, sdo += dl * o, soo += o * o;
	}
	det = stt * sdd - std_ * std_;
	if (sdd < n * (double)NTPC_ASYM_MIN_SPREAD_NS * NTPC_ASYM_MIN_SPREAD_NS ||
	    det <= 1e-9 * stt * sdd)
		return -1;
	b_t = (sto * sdd - sdo * std_) / det;
	*slope = (sdo * stt - sto * std_) / det;
	rss = soo - b_t * sto - *slope * sdo;
	se = sqrt((rss > 0 ? rss : 0) / (n - 3) * stt / det);
	return fabs(*slope) >= 3 * se;
}

/* A new sample: into the history, and the asymmetry updated. A run of
 * significant slopes of one sign establishes it; a slope of the other sign
 * starts the run again; a slope that is not significant leaves the run; no
 * fit at all (too few samples, or delays without spread, as on a quiet
 * path) teaches nothing, and leaves run and estimate as they were. */
static void asym_update(struct ntpc_peer *p, const struct ntpc_sample *s)
{
	double a = 0;
	int fit;

	p->hist[p->hist_head] = *s;
	p->hist_head = (p->hist_head + 1) % NTPC_ASYM_MAX;
	if (p->nhist < NTPC_ASYM_MAX)
		p->nhist++;
	fit = asym_fit(p, &a);
	if (fit < 0)
		return;
	if (fit > 0) {
		if ((a > 0) != (p->asym_run > 0))
			p->asym_run = 0;
		if (abs(p->asym_run) < 1000)
			p->asym_run += a > 0 ? 1 : -1;
	}
	if (abs(p->asym_run) < NTPC_ASYM_RUN)
		p->asymmetry = 0;
	else
		p->asymmetry = fmax(-NTPC_ASYM_LIMIT, fmin(NTPC_ASYM_LIMIT, a));
}

/* The lowest delay among the recent samples. */
static int64_t asym_min_delay(const struct ntpc_peer *p)
{
	int64_t m = INT64_MAX;

	for (unsigned int i = 0; i < p->nhist; i++)
		if (p->hist[i].delay < m)
			m = p->hist[i].delay;
	return m;
}

enum ntpc_rx ntpc_receive(struct ntpc_peer *p, const uint8_t *buf, size_t len, int64_t t4,
			  int64_t now)
{
	struct ntpc_packet r;
	struct ntpc_sample s;
	int64_t t1, t2, t3, sdist;
	bool interleaved;
	char why[128];

	if (ntpc_decode(buf, len, &r) < 0 || r.mode != 4 || r.version < 1 || r.version > 4)
		return bogus(p);
	/* Anti-spoof: only a reply to the request in flight, carrying one of
	 * our random cookies as its origin, is ours: the transmit one in basic
	 * mode, the receive one in interleaved mode. */
	if (!p->outstanding)
		return bogus(p);
	interleaved = p->rcv_cookie != 0 && r.origin == p->rcv_cookie;
	if (!interleaved && r.origin != p->xmt_cookie)
		return bogus(p);
	if (r.stratum == 0 && r.leap == 3) { /* a kiss-o'-death */
		p->outstanding = false;
		kiss(p, &r);
		return NTPC_RX_KOD;
	}
	if (r.transmit == 0 || r.receive == 0 || r.transmit == p->last_rx_xmt)
		return bogus(p);
	p->outstanding = false;
	p->last_rx_xmt = r.transmit;
	p->reach |= 1;
	p->unanswered = 0;
	p->last_rx = now;
	p->rx++;
	p->leap = r.leap;
	p->stratum = r.stratum;
	p->refid = r.refid;
	p->root_delay = ntpc_short_to_ns(r.root_delay);
	p->root_disp = ntpc_short_to_ns(r.root_dispersion);
	p->precision = r.precision;
	if (r.leap == 3)
		return unusable(p, "the server is unsynchronized (LI 3)");
	if (r.stratum == 0 || r.stratum >= 16) {
		snprintf(why, sizeof(why), "stratum %u: the server is not synchronized", r.stratum);
		return unusable(p, why);
	}
	sdist = p->root_delay / 2 + p->root_disp;
	if (sdist >= NTPC_MAXDIST_NS) {
		snprintf(why, sizeof(why), "root distance %.3f s beyond the limit of %.1f s",
			 (double)sdist / 1e9, (double)NTPC_MAXDIST_NS / 1e9);
		return unusable(p, why);
	}
	t2 = ntpc_ts_to_ns(r.receive, p->t1);
	t3 = ntpc_ts_to_ns(r.transmit, p->t1);
	t1 = p->t1;
	if (interleaved) {
		/* This reply's transmit timestamp completes the previous
		 * exchange; this exchange waits for the next reply. */
		bool fresh = !p->prev.sampled;
		int64_t pt1 = p->prev.t1, pt2 = p->prev.t2, pt4 = p->prev.t4, pt = p->prev.t;

		p->prev = (struct ntpc_exchange){ true, false, r.receive, t1, t2, t4, now };
		if (t3 < pt2 || t3 - pt2 > NTPC_XLEAVE_MAX_GAP_NS) {
			snprintf(
				p->message, sizeof(p->message),
				"interleaved reply: transmit %.6f s after the receive it completes",
				(double)(t3 - pt2) / 1e9);
			return NTPC_RX_NO_SAMPLE;
		}
		if (!fresh) /* that exchange already gave its basic sample */
			return NTPC_RX_NO_SAMPLE;
		p->flags |= NTPC_F_INTERLEAVED;
		t1 = pt1, t2 = pt2, t4 = pt4, now = pt;
	} else {
		p->flags &= ~NTPC_F_INTERLEAVED;
		p->prev = (struct ntpc_exchange){ true, true, r.receive, t1, t2, t4, now };
	}
	ntpc_offset_delay(t1, t2, t3, t4, &s.offset, &s.delay);
	if (s.delay < -NTPC_PRECISION_NS * 1000 || t4 < t1) {
		snprintf(why, sizeof(why),
			 "negative delay %.6f s: the server's times are inconsistent",
			 (double)s.delay / 1e9);
		if (!interleaved) /* this exchange is the inconsistent one */
			p->prev.valid = false;
		return unusable(p, why);
	}
	if (s.delay < NTPC_PRECISION_NS)
		s.delay = NTPC_PRECISION_NS;
	s.t = now;
	/* The server's precision is a signed byte of log2 s: 2^127 s does not
	 * fit in ns (the conversion would be undefined). Past NTPC_MAXDISP_NS
	 * the sample is worthless anyway: the filter drops it. */
	s.disp = (int64_t)fmin(ldexp((double)NSEC_PER_SEC, r.precision), (double)NTPC_MAXDISP_NS) +
		 NTPC_PRECISION_NS + phi(t4 - t1) +
		 (p->ts_unc_ns > 0 && p->ts_unc_ns < NSEC_PER_SEC ? p->ts_unc_ns : 0);
	p->last_offset = s.offset;
	memmove(&p->filt[1], &p->filt[0], sizeof(p->filt[0]) * (NTPC_FILTER - 1));
	p->filt[0] = s;
	if (p->nfilt < NTPC_FILTER)
		p->nfilt++;
	clock_filter(p, now);
	asym_update(p, &s);
	if (p->nfilt == 1 || s.delay <= NTPC_DELAY_GATE * p->chosen.delay + NTPC_DELAY_SLACK_NS) {
		p->recent = s;
		/* As the sample would read at the lowest delay. */
		p->recent.offset -= (int64_t)llround(p->asymmetry *
						     (double)(s.delay - asym_min_delay(p)));
	}
	if (p->state == NTPC_INIT || p->state == NTPC_UNUSABLE || p->state == NTPC_UNREACHABLE) {
		p->state = NTPC_CANDIDATE;
		p->message[0] = '\0';
	}
	return NTPC_RX_SAMPLE;
}

int64_t ntpc_root_distance(const struct ntpc_peer *p, int64_t now)
{
	int64_t d = (p->root_delay + p->chosen.delay) / 2 + p->root_disp + p->disp +
		    phi(now - p->chosen.t) + p->jitter;

	return d < NTPC_PRECISION_NS ? NTPC_PRECISION_NS : d;
}

/* --- selection ----------------------------------------------------------- */

struct edge {
	int64_t v;
	int type; /* -1 lower, 0 midpoint, +1 upper */
};

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return x->type - y->type;
}

void ntpc_select(struct ntpc_peer *peers, size_t n, int prev_selected, int64_t now,
		 struct ntpc_system *sys)
{
	size_t cand[64], nc = 0, surv[64], ns = 0;
	struct edge e[3 * 64];
	int64_t lambda[64], low = 0, high = 0;
	bool found = false;
	double wsum = 0, osum = 0, jsum = 0;
	size_t best;

	memset(sys, 0, sizeof(*sys));
	sys->selected = -1;
	sys->stratum = 16;
	sys->leap = 3;
	for (size_t i = 0; i < n && nc < 64; i++) {
		struct ntpc_peer *p = &peers[i];

		if (p->state == NTPC_UNREACHABLE || p->state == NTPC_UNUSABLE ||
		    p->state == NTPC_INIT || p->nfilt == 0)
			continue;
		lambda[i] = ntpc_root_distance(p, now);
		if (lambda[i] >= NTPC_MAXDIST_NS) {
			p->state = NTPC_UNUSABLE;
			snprintf(p->message, sizeof(p->message),
				 "root distance %.3f s beyond the limit of %.1f s",
				 (double)lambda[i] / 1e9, (double)NTPC_MAXDIST_NS / 1e9);
			continue;
		}
		cand[nc++] = i;
	}
	if (nc == 0)
		return;
	for (size_t k = 0; k < nc; k++) {
		const struct ntpc_peer *p = &peers[cand[k]];
		int64_t l = lambda[cand[k]];

		e[3 * k] = (struct edge){ p->chosen.offset - l, -1 };
		e[3 * k + 1] = (struct edge){ p->chosen.offset, 0 };
		e[3 * k + 2] = (struct edge){ p->chosen.offset + l, 1 };
	}
	qsort(e, 3 * nc, sizeof(e[0]), edge_cmp);
	for (size_t f = 0; 2 * f < nc; f++) {
		long c = 0, d = 0, need = (long)(nc - f);
		bool have_low = false, have_high = false;

		for (size_t k = 0; k < 3 * nc; k++) {
			c -= e[k].type;
			if (c >= need) {
				low = e[k].v;
				have_low = true;
				break;
			}
			if (e[k].type == 0)
				d++;
		}
		c = 0;
		for (size_t k = 3 * nc; k-- > 0;) {
			c += e[k].type;
			if (c >= need) {
				high = e[k].v;
				have_high = true;
				break;
			}
			if (e[k].type == 0)
				d++;
		}
		if (have_low && have_high && d <= (long)f && low <= high) {
			found = true;
			break;
		}
	}
	for (size_t k = 0; k < nc; k++) {
		struct ntpc_peer *p = &peers[cand[k]];
		int64_t l = lambda[cand[k]];

		if (!found) {
			p->state = NTPC_FALSETICKER;
			snprintf(p->message, sizeof(p->message),
				 "no majority of the servers agree on the time");
		} else if (p->chosen.offset + l < low || p->chosen.offset - l > high) {
			p->state = NTPC_FALSETICKER;
			snprintf(p->message, sizeof(p->message),
				 "offset %+.6f s +- %.6f s is outside the intersection "
				 "[%+.6f, %+.6f] s of the majority",
				 (double)p->chosen.offset / 1e9, (double)l / 1e9, (double)low / 1e9,
				 (double)high / 1e9);
		} else {
			surv[ns++] = cand[k];
			p->state = NTPC_CANDIDATE;
			p->message[0] = '\0';
		}
	}
	if (ns == 0)
		return;
	/* Survivors by root distance. */
	for (size_t i = 1; i < ns; i++)
		for (size_t j = i; j > 0 && lambda[surv[j]] < lambda[surv[j - 1]]; j--) {
			size_t t = surv[j];

			surv[j] = surv[j - 1];
			surv[j - 1] = t;
		}
	/* Clustering: drop the survivor with the largest selection jitter while
	 * that jitter exceeds the smallest peer jitter. */
	while (ns > NTPC_NMIN) {
		double max_sj = -1, min_pj = INFINITY;
		size_t imax = 0;

		for (size_t i = 0; i < ns; i++) {
			double s = 0;

			for (size_t j = 0; j < ns; j++) {
				double dd = (double)(peers[surv[j]].chosen.offset -
						     peers[surv[i]].chosen.offset);

				s += dd * dd;
			}
			s = sqrt(s / (double)(ns - 1));
			if (s > max_sj) {
				max_sj = s;
				imax = i;
			}
			if ((double)peers[surv[i]].jitter < min_pj)
				min_pj = (double)peers[surv[i]].jitter;
		}
		if (max_sj <= min_pj)
			break;
		peers[surv[imax]].state = NTPC_OUTLIER;
		snprintf(peers[surv[imax]].message, sizeof(peers[0].message),
			 "dropped by the clustering: selection jitter %.0f ns", max_sj);
		memmove(&surv[imax], &surv[imax + 1], (ns - imax - 1) * sizeof(surv[0]));
		ns--;
	}
	best = surv[0];
	for (size_t i = 0; i < ns; i++)
		if ((int)surv[i] == prev_selected)
			best = surv[i];
	{
		unsigned int votes[4] = { 0 };

		for (size_t i = 0; i < ns; i++) {
			const struct ntpc_peer *p = &peers[surv[i]];
			double w = 1.0 / (double)lambda[surv[i]];
			double dd = (double)(p->chosen.offset - peers[best].chosen.offset);

			wsum += w;
			osum += w * (double)p->recent.offset;
			jsum += dd * dd;
			votes[p->leap & 3]++;
		}
		sys->leap = 0;
		for (unsigned int l = 1; l <= 2; l++)
			if (2 * votes[l] > ns)
				sys->leap = l;
	}
	peers[best].state = NTPC_SELECTED;
	sys->selected = (int)best;
	sys->nsurvivors = (int)ns;
	sys->offset = (int64_t)llround(osum / wsum);
	sys->t = peers[best].recent.t;
	sys->jitter = (int64_t)sqrt(jsum / (double)ns +
				    (double)peers[best].jitter * (double)peers[best].jitter);
	sys->stratum = peers[best].stratum + 1;
	sys->root_delay = peers[best].root_delay + peers[best].chosen.delay;
	sys->root_disp = peers[best].root_disp + peers[best].disp +
			 phi(now - peers[best].chosen.t) + sys->jitter + llabs(sys->offset);
	sys->refid = peers[best].refid;
}

enum ntpc_panic ntpc_panic_check(const struct ntpc_peer *peers, size_t n,
				 const struct ntpc_system *sys, int64_t threshold_ns, bool allow,
				 unsigned int *agree, unsigned int *voters)
{
	unsigned int a = 0, v = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ntpc_peer *p = &peers[i];
		int64_t off = p->chosen.offset;

		if (p->state == NTPC_UNREACHABLE || p->state == NTPC_UNUSABLE ||
		    p->state == NTPC_INIT || p->nfilt == 0)
			continue;
		v++;
		if ((p->state == NTPC_SELECTED || p->state == NTPC_CANDIDATE ||
		     p->state == NTPC_OUTLIER) &&
		    threshold_ns > 0 &&
		    (sys->offset > 0 ? off > threshold_ns : off < -threshold_ns))
			a++;
	}
	if (agree)
		*agree = a;
	if (voters)
		*voters = v;
	if (threshold_ns <= 0 || sys->selected < 0 || llabs(sys->offset) <= threshold_ns)
		return NTPC_PANIC_NONE;
	if (!allow)
		return NTPC_PANIC_NOT_ALLOWED;
	if (a < NTPC_PANIC_MIN_AGREE || 2 * a <= v)
		return NTPC_PANIC_TOO_FEW;
	return NTPC_PANIC_ALLOWED;
}

/* How far a sample taken at t moves when our clock's frequency changes by
 * df_ppb and its phase by phase_ns, now: its offset grows by the returned
 * amount, our own times of it shrink by it. */
static int64_t correction(int64_t now, int64_t t, double df_ppb, int64_t phase_ns)
{
	return (int64_t)llround(df_ppb * (double)(now - t) / 1e9) - phase_ns;
}

void ntpc_correct(struct ntpc_peer *peers, size_t n, int64_t now, double df_ppb, int64_t phase_ns)
{
	for (size_t i = 0; i < n; i++) {
		struct ntpc_peer *p = &peers[i];

		for (unsigned int k = 0; k < p->nfilt; k++)
			p->filt[k].offset += correction(now, p->filt[k].t, df_ppb, phase_ns);
		if (p->nfilt) {
			p->chosen.offset += correction(now, p->chosen.t, df_ppb, phase_ns);
			p->recent.offset += correction(now, p->recent.t, df_ppb, phase_ns);
		}
		for (unsigned int k = 0; k < p->nhist; k++)
			p->hist[k].offset += correction(now, p->hist[k].t, df_ppb, phase_ns);
		if (p->prev.valid) {
			/* Our times of the exchange still to be completed, as
			 * the corrected clock would have read them. */
			int64_t dt = correction(now, p->prev.t, df_ppb, phase_ns);

			p->prev.t1 -= dt;
			p->prev.t4 -= dt;
		}
	}
}

void ntpc_adapt_poll(struct ntpc_peer *p, int64_t sys_offset, int64_t sys_jitter)
{
	int step = p->poll > 1 ? p->poll : 1;

	if (llabs(sys_offset) < POLL_GATE * sys_jitter) {
		p->poll_count += step;
		if (p->poll_count > POLL_LIMIT) {
			p->poll_count = POLL_LIMIT;
			if (p->poll < p->maxpoll) {
				p->poll_count = 0;
				p->poll++;
			}
		}
	} else {
		p->poll_count -= 2 * step;
		if (p->poll_count < -POLL_LIMIT) {
			p->poll_count = -POLL_LIMIT;
			if (p->poll > p->minpoll) {
				p->poll_count = 0;
				p->poll--;
			}
		}
	}
}

/* --- the discipline's line ------------------------------------------------ */

void ntpc_disc_reset(struct ntpc_disc *d)
{
	memset(d, 0, sizeof(*d));
}

void ntpc_disc_add(struct ntpc_disc *d, int64_t t, int64_t offset)
{
	d->t[d->head] = t;
	d->off[d->head] = (double)offset;
	d->head = (d->head + 1) % NTPC_DISC_MAX;
	if (d->n < NTPC_DISC_MAX)
		d->n++;
}

unsigned int ntpc_disc_fit(const struct ntpc_disc *d, int64_t now, double *phase, double *slope,
			   int64_t *span_ns)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = d->n;
	int64_t tmin = INT64_MAX, tmax = INT64_MIN;

	*phase = *slope = 0;
	*span_ns = 0;
	if (d->n == 0)
		return 0;
	for (unsigned int i = 0; i < d->n; i++) {
		double x = (double)(d->t[i] - now) / 1e9;

		sx += x;
		sy += d->off[i];
		sxx += x * x;
		sxy += x * d->off[i];
		if (d->t[i] < tmin)
			tmin = d->t[i];
		if (d->t[i] > tmax)
			tmax = d->t[i];
	}
	*span_ns = tmax - tmin;
	if (d->n < 2 || *span_ns < (d->n < 3 ? NTPC_DISC_MIN_SPAN2_NS : NTPC_DISC_MIN_SPAN_NS) ||
	    n * sxx - sx * sx <= 0) {
		/* The newest offset alone. */
		*phase = d->off[(d->head + NTPC_DISC_MAX - 1) % NTPC_DISC_MAX];
		return d->n;
	}
	*slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	*phase = (sy - *slope * sx) / n;
	return d->n;
}

double ntpc_disc_slope_se(const struct ntpc_disc *d)
{
	double phase, slope, mx = 0, sxx = 0, rss = 0;
	int64_t span, now;

	if (d->n < NTPC_DISC_SE_MIN)
		return -1;
	now = d->t[(d->head + NTPC_DISC_MAX - 1) % NTPC_DISC_MAX];
	ntpc_disc_fit(d, now, &phase, &slope, &span);
	if (span < NTPC_DISC_MIN_SPAN_NS)
		return -1;
	for (unsigned int i = 0; i < d->n; i++)
		mx += (double)(d->t[i] - now) / 1e9 / d->n;
	for (unsigned int i = 0; i < d->n; i++) {
		double x = (double)(d->t[i] - now) / 1e9, r = d->off[i] - (phase + slope * x);

		sxx += (x - mx) * (x - mx);
		rss += r * r;
	}
	if (sxx <= 0)
		return -1;
	return sqrt(rss / (d->n - 2) / sxx);
}

/* Student's t at 99.9 % two-sided (0.9995 one-sided) for 6 to 30 degrees
 * of freedom: the fit's n - 2 for NTPC_DISC_SE_MIN to NTPC_DISC_MAX
 * points. Standard table values. */
static const double t9995[] = {
	5.959, 5.408, 5.041, 4.781, 4.587, 4.437, 4.318, 4.221, 4.140, 4.073, 4.015, 3.965, 3.922,
	3.883, 3.850, 3.819, 3.792, 3.768, 3.745, 3.725, 3.707, 3.690, 3.674, 3.659, 3.646,
};
_Static_assert(sizeof(t9995) / sizeof(t9995[0]) == NTPC_DISC_MAX - NTPC_DISC_SE_MIN + 1,
	       "one t value per fit size");

double ntpc_disc_slope_ci(const struct ntpc_disc *d)
{
	double se = ntpc_disc_slope_se(d);

	return se < 0 ? -1 : t9995[d->n - NTPC_DISC_SE_MIN] * se;
}

void ntpc_disc_correct(struct ntpc_disc *d, int64_t now, double df_ppb, int64_t phase_ns)
{
	for (unsigned int i = 0; i < d->n; i++)
		d->off[i] += df_ppb * (double)(now - d->t[i]) / 1e9 - (double)phase_ns;
}

const char *ntpc_state_name(enum ntpc_state s)
{
	switch (s) {
	case NTPC_SELECTED:
		return "selected";
	case NTPC_CANDIDATE:
		return "candidate";
	case NTPC_OUTLIER:
		return "outlier";
	case NTPC_FALSETICKER:
		return "falseticker";
	case NTPC_UNREACHABLE:
		return "unreachable";
	case NTPC_UNUSABLE:
		return "unusable";
	case NTPC_INIT:
		return "init";
	}
	return "unknown";
}
