/*
 * evl: epoll + one timerfd + signalfd + caller fds (see evl.h). The hrt
 * queue tells the loop through its reprogram hook whenever its earliest
 * hard expiry moves outside the interrupt; the timerfd handler runs
 * hrt_interrupt() and programs what it returns, including the forced
 * back-off after a hang. The programmed value is cached so an unchanged
 * expiry costs no system call. Deleted fd sources are only unlinked during
 * a dispatch batch and freed after it, because later events of the same
 * epoll_wait() batch may still point at them.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/evl.h"

#define EVL_MAX_EVENTS 32
/* Spinning is bounded: at most this much of each second (kernel time). */
#define SPIN_WINDOW_NS INT64_C(1000000000)
#define SPIN_BUDGET_NS (SPIN_WINDOW_NS / 4)
/* evl.armed when the timerfd's state is not known; never a real expiry. */
#define ARMED_UNKNOWN INT64_MIN

enum src_kind { SRC_TIMER, SRC_SIGNAL, SRC_FD };

struct evl_src {
	enum src_kind kind;
	int fd;
	uint32_t events;
	evl_fd_fn cb;
	void *ctx;
	bool dead;
	struct evl_src *next;
};

struct evl_sig {
	int signo;
	evl_signal_fn cb;
	void *ctx;
};

struct evl {
	int epfd, tfd, sfd;
	struct hrt_queue q;
	struct hrt_ops ops;
	struct evl_src tsrc, ssrc;
	struct evl_src *fds;	   /* live caller sources */
	struct evl_src *graveyard; /* deleted during a batch, freed after it */
	bool dispatching;
	bool stop;
	int64_t armed; /* the queue-clock expiry programmed, HRT_TIME_MAX = disarmed */
	int64_t spin_until; /* zero-slack expiry the early wake-up spins to, HRT_TIME_MAX = none */
	int64_t margin;	    /* early wake-up for zero-slack timers, ns (0: none) */
	int64_t (*clock)(void *ctx); /* the queue's MONOTONIC; NULL: the kernel's */
	void *clock_ctx;
	void (*timers_done)(void *ctx); /* after each timer interrupt */
	void *timers_done_ctx;
	uint64_t nr_spins;
	int64_t max_spin_ns;
	int64_t spin_window;	/* kernel ns when the current budget window began */
	int64_t spin_spent;	/* ns spun in it */
	int last_err;
	struct evl_sig sig[3];
	sigset_t sigs, oldmask;
};

int64_t evl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The queue's clock. */
static int64_t clock_now(const struct evl *l)
{
	return l->clock ? l->clock(l->clock_ctx) : evl_now();
}

static int64_t now_cb(void *ctx)
{
	return clock_now(ctx);
}

int64_t evl_clock_now(const struct evl *l)
{
	return clock_now(l);
}

/* Dense zero-slack timers would keep the loop spinning: past a quarter of
 * a second's worth in the current second, they are woken by the timerfd
 * alone until the next second. */
static bool spin_budget_left(struct evl *l, int64_t k)
{
	if (k - l->spin_window >= SPIN_WINDOW_NS) {
		l->spin_window = k;
		l->spin_spent = 0;
	}
	return l->spin_spent < SPIN_BUDGET_NS;
}

/*
 * Program the timerfd for expires (the queue's MONOTONIC ns) or disarm it
 * for HRT_TIME_MAX. With an owner's clock the expiry is converted to the
 * kernel's CLOCK_MONOTONIC as a delay from now on both clocks; the rate
 * difference over the delay (ppm) makes the wake-up a little early or
 * late: early, the interrupt finds nothing due and this re-arms; late is
 * what the margin covers for zero-slack timers. A zero-slack earliest
 * expiry (its soft = hard) is programmed the margin early and the
 * interrupt spins the rest (on_timerfd).
 */
static void arm(struct evl *l, int64_t expires)
{
	struct itimerspec its;
	int64_t target = expires, k = 0; /* k: the kernel's now, read once when needed */

	if (expires == l->armed)
		return;
	memset(&its, 0, sizeof(its));
	l->spin_until = HRT_TIME_MAX;
	if (expires != HRT_TIME_MAX) {
		if (l->margin > 0 || l->clock)
			k = evl_now();
		if (l->margin > 0 && !l->q.hang_detected && hrt_next_soft(&l->q) == expires &&
		    hrt_next_hard(&l->q) == expires && spin_budget_left(l, k)) {
			l->spin_until = expires;
			target = expires > l->margin ? expires - l->margin : 0;
		}
		if (l->clock) {
			int64_t delta = target - l->clock(l->clock_ctx);

			/* A timer at the queue's far end (a client's, saturated)
			 * may lie past what the kernel's clock can express. */
			if (__builtin_add_overflow(k, delta > 0 ? delta : 0, &target))
				target = HRT_TIME_SAFE_MAX;
		}
		/* An all-zero it_value disarms: a due time of 0 must still fire. */
		if (target < 1)
			target = 1;
		its.it_value.tv_sec = target / 1000000000;
		its.it_value.tv_nsec = target % 1000000000;
	}
	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL)) {
		l->last_err = -errno;
		return;
	}
	l->armed = expires;
}

static void reprogram_cb(void *ctx, int64_t expires_mono)
{
	arm(ctx, expires_mono);
}

static int epoll_add(struct evl *l, struct evl_src *s)
{
	struct epoll_event ev = {.events = s->events, .data.ptr = s};

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev) ? -errno : 0;
}

int evl_new(struct evl **out)
{
	static const int signos[3] = {SIGTERM, SIGINT, SIGHUP};
	struct evl *l;
	int ret;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = l->tfd = l->sfd = -1;
	l->armed = HRT_TIME_MAX;
	l->spin_until = HRT_TIME_MAX;
	l->ops.now = now_cb;
	l->ops.reprogram = reprogram_cb;
	hrt_init(&l->q, &l->ops, l);

	sigemptyset(&l->sigs);
	for (unsigned int i = 0; i < 3; i++) {
		l->sig[i].signo = signos[i];
		sigaddset(&l->sigs, signos[i]);
	}
	/* Blocked first, so a signal between here and the first wait stays pending
	 * for the signalfd instead of killing the daemon. */
	if (sigprocmask(SIG_BLOCK, &l->sigs, &l->oldmask)) {
		ret = -errno;
		free(l);
		return ret;
	}

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto fail;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->tfd < 0)
		goto fail;
	l->sfd = signalfd(-1, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sfd < 0)
		goto fail;

	l->tsrc = (struct evl_src){.kind = SRC_TIMER, .fd = l->tfd, .events = EPOLLIN};
	l->ssrc = (struct evl_src){.kind = SRC_SIGNAL, .fd = l->sfd, .events = EPOLLIN};
	ret = epoll_add(l, &l->tsrc);
	if (!ret)
		ret = epoll_add(l, &l->ssrc);
	if (ret) {
		errno = -ret;
		goto fail;
	}
	*out = l;
	return 0;
fail:
	ret = -errno;
	evl_free(l);
	return ret;
}

static void free_list(struct evl_src *s)
{
	while (s) {
		struct evl_src *next = s->next;

		free(s);
		s = next;
	}
}

void evl_free(struct evl *l)
{
	if (!l)
		return;
	hrt_fini(&l->q);
	free_list(l->fds);
	free_list(l->graveyard);
	if (l->sfd >= 0)
		close(l->sfd);
	if (l->tfd >= 0)
		close(l->tfd);
	if (l->epfd >= 0)
		close(l->epfd);
	sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
	free(l);
}

struct hrt_queue *evl_timers(struct evl *l)
{
	return &l->q;
}

int evl_on_signal(struct evl *l, int signo, evl_signal_fn cb, void *ctx)
{
	for (unsigned int i = 0; i < 3; i++) {
		if (l->sig[i].signo != signo)
			continue;
		l->sig[i].cb = cb;
		l->sig[i].ctx = ctx;
		return 0;
	}
	return -EINVAL;
}

static struct evl_src *find_fd(struct evl *l, int fd, struct evl_src ***link)
{
	for (struct evl_src **p = &l->fds; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

int evl_add_fd(struct evl *l, int fd, uint32_t events, evl_fd_fn cb, void *ctx)
{
	struct evl_src *s;
	int ret;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (find_fd(l, fd, NULL))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct evl_src){.kind = SRC_FD, .fd = fd, .events = events, .cb = cb, .ctx = ctx};
	ret = epoll_add(l, s);
	if (ret) {
		free(s);
		return ret;
	}
	s->next = l->fds;
	l->fds = s;
	return 0;
}

int evl_mod_fd(struct evl *l, int fd, uint32_t events)
{
	struct evl_src *s = find_fd(l, fd, NULL);
	struct epoll_event ev;

	if (!s)
		return -ENOENT;
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	s->events = events;
	return 0;
}

int evl_del_fd(struct evl *l, int fd)
{
	struct evl_src **link;
	struct evl_src *s = find_fd(l, fd, &link);

	if (!s)
		return -ENOENT;
	/* EBADF/ENOENT here mean the caller closed fd first, which already took it
	 * out of the epoll set; the source is dropped either way. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	*link = s->next;
	if (l->dispatching) {
		s->dead = true;
		s->next = l->graveyard;
		l->graveyard = s;
	} else {
		free(s);
	}
	return 0;
}

static void on_timerfd(struct evl *l)
{
	uint64_t ticks;
	int64_t next;

	/* Drain the expiry count. The fd may have fired (and disarmed itself) or have
	 * been re-armed by an earlier event of this batch (EAGAIN): its state is not
	 * known, so the next write must not be skipped as unchanged. */
	if (read(l->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		l->last_err = -errno;
	l->armed = ARMED_UNKNOWN;
	/* Woken the margin early for a zero-slack timer: spin on the clock to its
	 * expiry (bounded by twice the margin, in case the clock misbehaves). */
	if (l->spin_until != HRT_TIME_MAX) {
		int64_t start = clock_now(l), now = start;

		if (l->spin_until > now && l->spin_until - now <= 2 * l->margin) {
			while (now < l->spin_until)
				now = clock_now(l);
			l->nr_spins++;
			l->spin_spent += now - start;
			if (now - start > l->max_spin_ns)
				l->max_spin_ns = now - start;
		}
		l->spin_until = HRT_TIME_MAX;
	}
	/* The interrupt's value wins even during a hang back-off: it is the back-off. */
	next = hrt_interrupt(&l->q, now_cb, l);
	if (l->timers_done)
		l->timers_done(l->timers_done_ctx);
	/* The hook may have started timers: take the queue's latest word. */
	if (!l->q.hang_detected)
		next = hrt_next_hard(&l->q);
	arm(l, next);
}

static void on_signalfd(struct evl *l)
{
	struct signalfd_siginfo si;

	while (!l->stop && read(l->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct evl_sig *h = NULL;

		for (unsigned int i = 0; i < 3; i++)
			if (l->sig[i].signo == (int)si.ssi_signo)
				h = &l->sig[i];
		if (!h)
			continue;
		if (h->cb)
			h->cb(l, h->signo, h->ctx);
		else if (h->signo != SIGHUP)
			evl_stop(l);
	}
}

int evl_run_once(struct evl *l, int timeout_ms)
{
	struct epoll_event ev[EVL_MAX_EVENTS];
	int n, i;

	n = epoll_wait(l->epfd, ev, EVL_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;

	l->dispatching = true;
	for (i = 0; i < n && !l->stop; i++) {
		struct evl_src *s = ev[i].data.ptr;

		switch (s->kind) {
		case SRC_TIMER:
			on_timerfd(l);
			break;
		case SRC_SIGNAL:
			on_signalfd(l);
			break;
		case SRC_FD:
			if (!s->dead)
				s->cb(l, s->fd, ev[i].events, s->ctx);
			break;
		}
	}
	l->dispatching = false;
	free_list(l->graveyard);
	l->graveyard = NULL;
	return i;
}

int evl_run(struct evl *l)
{
	int ret = 0;

	while (!l->stop) {
		ret = evl_run_once(l, -1);
		if (ret < 0)
			break;
	}
	l->stop = false;
	return ret < 0 ? ret : 0;
}

void evl_stop(struct evl *l)
{
	l->stop = true;
}

int64_t evl_armed(const struct evl *l)
{
	return l->armed;
}

int evl_last_error(const struct evl *l)
{
	return l->last_err;
}

void evl_set_clock(struct evl *l, int64_t (*now)(void *ctx), void *ctx)
{
	l->clock = now;
	l->clock_ctx = ctx;
	l->armed = ARMED_UNKNOWN;
	arm(l, hrt_next_hard(&l->q));
}

void evl_set_margin(struct evl *l, int64_t margin_ns)
{
	l->margin = margin_ns > 0 ? margin_ns : 0;
	l->armed = ARMED_UNKNOWN;
	arm(l, hrt_next_hard(&l->q));
}

void evl_on_timers_done(struct evl *l, void (*fn)(void *ctx), void *ctx)
{
	l->timers_done = fn;
	l->timers_done_ctx = ctx;
}

int64_t evl_spin_target(const struct evl *l)
{
	return l->spin_until;
}

void evl_spin_stats(const struct evl *l, uint64_t *spins, int64_t *max_spin_ns)
{
	*spins = l->nr_spins;
	*max_spin_ns = l->max_spin_ns;
}
