// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_dctl: the daemon's side of the control requests, behind the framing
 * that fuzz_ctl covers. A real control server with one real connection
 * feeds the client-timer handlers of src/daemon/timers.c (create, arm,
 * disarm, delete) on an event loop whose queue runs on a fake clock; the
 * input also moves that clock (timers expire, their events are sent) and
 * sets the clocks (cancel-on-set, as daemon_sync_offsets() does); and it
 * feeds adjtimex requests (steps, frequency, offsets, status, TAI) to a
 * timekeeper on a simulated HPET through tkc_adjtimex(), as
 * daemon_adjtimex() does for TK_CTL_ADJTIME. Every value comes from the
 * input: no undefined behaviour (UBSan) and no crash for any of them.
 *
 * Input: records of one op byte, then its bytes:
 *   op % 5 == 0: a timer request: type (byte % 4: create, arm, disarm,
 *                delete), then the payload of exactly that type's size;
 *   op % 5 == 1: advance the fake clock by a u32 (ns, << byte % 32);
 *   op % 5 == 2: set REALTIME and TAI by an int64 delta each;
 *   op % 5 == 3: adjtimex with a struct tk_ctl_timex;
 *   op % 5 == 4: advance the timekeeper (tkc_advance).
 * Each input starts on the same clocks and timekeeper; after it the
 * connection's timers are dropped (as when it goes).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/evl.h"
#include "core/hrt.h"
#include "core/tkc.h"
#include "daemon/internal.h"
#include "hw/simhw.h"
#include "timekeeper/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC INT64_C(1000000000)
#define MONO0 (1000 * SEC)
#define HDR sizeof(struct tk_ctl_hdr)
/* The clocks' range here: 2^61 ns (73 years) each way, so a base's time
 * (MONOTONIC + offset) stays below the queue's saturation, as the
 * timekeeper's do (REALTIME within its settable range). */
#define CLOCK_LIMIT (INT64_C(1) << 61)

static struct daemon d;
static struct ctl_server *srv;
static struct ctl_client *client;
static int cfd = -1;
static int64_t fnow;
static uint64_t fake_ns, fake_ns0;
static struct clocksource hpet;
static struct tkc tk, tk0; /* tk0: as started, for each input */
static struct cs_registry reg;
static char tmpdir[64], sockpath[96];

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fnow;
}

static uint64_t hw_now(void *ctx)
{
	(void)ctx;
	return fake_ns;
}

static void hw_delay(void *ctx, uint64_t ns)
{
	(void)ctx;
	fake_ns += ns;
}

static const struct sim_clock hwclk = { hw_now, hw_delay, NULL };

/* HELLO tells us the server's handle of our connection. */
static int on_hello(void *ctx, struct ctl_call *c)
{
	(void)ctx;
	client = c->client;
	return 0;
}

static const struct ctl_ops ops = {
	.hello = on_hello,
	.timer_create = daemon_timer_create,
	.timer_arm = daemon_timer_arm,
	.timer_disarm = daemon_timer_disarm,
	.timer_delete = daemon_timer_delete,
	.writable = daemon_timers_writable,
	.gone = daemon_timers_gone,
};

static void drain(void)
{
	static unsigned char buf[TK_CTL_MAX_MSG];

	while (recv(cfd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_dctl: setup: %s\n", what);
	abort();
}

static void setup(void)
{
	struct ctl_conf cc = { .max_clients = 4,
			       .max_clients_per_uid = 4,
			       .rate_limit = 1000000,
			       .rate_burst = 1000000,
			       .version = "fuzz" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tk_ctl_hdr h = { TK_CTL_MAGIC, TK_CTL_VERSION, TK_CTL_HELLO, 0, HDR, 1 };
	struct sim_conf sc;
	struct cs_entry *e;
	struct tkc_start st = { .real = { 1700000000, 0 },
				.mono = { 1000, 0 },
				.boot = { 1000, 0 },
				.raw = { 1000, 0 },
				.tai_offset = 37 };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tk-fuzz-dctl.XXXXXX");
	if (!mkdtemp(tmpdir))
		die("mkdtemp");
	snprintf(sockpath, sizeof(sockpath), "%s/control", tmpdir);
	cc.path = sockpath;
	conf_defaults(&d.conf);
	d.conf.max_timers_per_client = 64;
	fnow = MONO0;
	if (evl_new(&d.loop) < 0)
		die("evl_new");
	d.q = evl_timers(d.loop);
	evl_set_clock(d.loop, fake_clock, NULL);
	evl_set_margin(d.loop, 0); /* no spinning on the kernel's clock */
	hrt_set_offsets(d.q, 1700000000 * SEC - MONO0, 0, 1700000037 * SEC - MONO0);
	if (daemon_timers_init(&d) < 0 || ctl_new(&srv, &cc, &ops, &d) < 0 || ctl_open(srv) < 0 ||
	    ctl_attach(srv, d.loop) < 0)
		die("server");
	cfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	if (send(cfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		die("hello");
	for (int i = 0; i < 1000 && !client; i++)
		evl_run_once(d.loop, 10);
	if (!client)
		die("no connection");
	drain();
	/* The files are not needed any more: the descriptors are. */
	unlink(sockpath);
	rmdir(tmpdir);

	simconf_default(&sc);
	fake_ns = 1000 * SEC;
	cs_registry_init(&reg);
	if (simhw_create(SIM_HPET, &sc, &hwclk, 0, &hpet) < 0)
		die("hpet");
	e = cs_register(&reg, &hpet);
	if (!e || !e->have_arith || tkc_init(&tk, &hpet, &e->ar, 100, &st) < 0)
		die("tkc");
	tk0 = tk;
	fake_ns0 = fake_ns;
}

/* A clock's offset moved by delta, kept within +-CLOCK_LIMIT. */
static int64_t clamp_offset(int64_t off, int64_t delta)
{
	int64_t r;

	if (__builtin_add_overflow(off, delta, &r))
		r = delta < 0 ? -CLOCK_LIMIT : CLOCK_LIMIT;
	return r < -CLOCK_LIMIT ? -CLOCK_LIMIT : r > CLOCK_LIMIT ? CLOCK_LIMIT : r;
}

static void take(const uint8_t **p, size_t *n, void *out, size_t len)
{
	size_t k = *n < len ? *n : len;

	memset(out, 0, len);
	memcpy(out, *p, k);
	*p += k;
	*n -= k;
}

static void timer_request(const uint8_t **p, size_t *n)
{
	static const uint16_t types[] = { TK_CTL_TIMER_CREATE, TK_CTL_TIMER_ARM,
					  TK_CTL_TIMER_DISARM, TK_CTL_TIMER_DELETE };
	_Alignas(16) static unsigned char msg[TK_CTL_MAX_MSG], reply[TK_CTL_MAX_MSG];
	struct tk_ctl_hdr h = { TK_CTL_MAGIC, TK_CTL_VERSION, 0, 0, 0, 7 };
	uint8_t t = 0;
	size_t len, rlen;
	long want;

	take(p, n, &t, 1);
	h.type = types[t % 4];
	want = ctl_request_size(h.type);
	len = HDR + (size_t)want;
	h.length = (uint32_t)len;
	memcpy(msg, &h, HDR);
	take(p, n, msg + HDR, (size_t)want);
	ctl_handle_client(srv, client, msg, len, reply, &rlen);
}

static void adjtime_request(const uint8_t **p, size_t *n)
{
	struct tk_ctl_timex in;
	struct ntp_timex tx;

	take(p, n, &in, sizeof(in));
	memset(&tx, 0, sizeof(tx));
	tx.modes = in.modes;
	tx.status = in.status;
	tx.offset = in.offset;
	tx.freq = in.freq;
	tx.maxerror = in.maxerror;
	tx.esterror = in.esterror;
	tx.constant = in.constant;
	tx.precision = in.precision;
	tx.tolerance = in.tolerance;
	tx.time_sec = in.time_sec;
	tx.time_frac = in.time_usec;
	tx.tick = in.tick;
	tx.tai = in.tai;
	if (ntp_validate_timex(&tx) == 0)
		tkc_adjtimex(&tk, &tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t n = size;
	int steps = 0;

	if (!srv)
		setup();
	/* Every input starts from the same clocks: deterministic runs. */
	fnow = MONO0;
	evl_set_clock(d.loop, fake_clock, NULL);
	hrt_set_offsets(d.q, 1700000000 * SEC - MONO0, 0, 1700000037 * SEC - MONO0);
	tk = tk0;
	fake_ns = fake_ns0;
	while (n > 0 && steps++ < 256) {
		uint8_t op = 0;

		take(&p, &n, &op, 1);
		switch (op % 5) {
		case 0:
			timer_request(&p, &n);
			break;
		case 1: {
			uint32_t dt;
			uint8_t sh;

			take(&p, &n, &dt, sizeof(dt));
			take(&p, &n, &sh, 1);
			/* Forward only, and within CLOCK_LIMIT, as the timekeeper's
			 * clocks stay within its settable range: far from where
			 * the queue's times saturate. */
			fnow += (int64_t)(((uint64_t)dt << (sh % 32)) % (uint64_t)CLOCK_LIMIT);
			if (fnow > CLOCK_LIMIT)
				fnow = CLOCK_LIMIT;
			evl_set_clock(d.loop, fake_clock, NULL);
			for (int i = 0; i < 8 && hrt_next_hard(d.q) <= fnow; i++)
				evl_run_once(d.loop, 0);
			drain();
			break;
		}
		case 2: {
			int64_t dr, dt, old[HRT_NR_BASES], r, t;

			take(&p, &n, &dr, sizeof(dr));
			take(&p, &n, &dt, sizeof(dt));
			memcpy(old, d.q->offset, sizeof(old));
			r = clamp_offset(old[HRT_BASE_REALTIME], dr);
			t = clamp_offset(old[HRT_BASE_TAI], dt);
			hrt_set_offsets(d.q, r, old[HRT_BASE_BOOTTIME], t);
			daemon_timers_clock_was_set(&d, old);
			drain();
			break;
		}
		case 3:
			adjtime_request(&p, &n);
			break;
		case 4:
			fake_ns += 10 * 1000 * 1000;
			tkc_advance(&tk);
			break;
		}
	}
	/* As when the connection goes: its timers with it. */
	daemon_timers_gone(&d, client);
	drain();
	return 0;
}
