// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Expiry lateness of a zero-slack periodic client timer against a bare
 * kernel timerfd at the same cadence, in the same run. The bench
 * starts timekeeperd itself (argv[1], run as the invoking user, on
 * simulated devices, reference = system, in a temporary runtime dir), arms
 * a CLOCK_MONOTONIC timer through libtimekeeper with slack 0 and a PERIOD
 * interval, and takes as lateness the daemon's MONOTONIC read with
 * tk_gettime() right after tk_timers_read() returned the event, minus the
 * event's expiry. The timerfd (CLOCK_MONOTONIC, absolute, same period)
 * lateness is the kernel's CLOCK_MONOTONIC read after read() returned,
 * minus the expected expiry (start + k * period, k counting the read
 * values). The two alternate in ROUNDS rounds of EXPIRIES/ROUNDS expiries
 * each so both see the same machine. Output: p50/p99/max of each and the
 * p99 ratio (client / timerfd) as `bench: <name> <value> <unit>` lines.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"
#include "timekeeper.h"

#define NS INT64_C(1000000000)
#define PERIOD_NS INT64_C(2000000) /* 2 ms: 500 Hz */
#define EXPIRIES 3000
#define ROUNDS 6
#define PER_ROUND (EXPIRIES / ROUNDS)

static int64_t kmono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_to_ns(&t);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t pct(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

/* PER_ROUND expiries of the client timer id; lateness into out. */
static int client_round(struct timekeeper *tk, struct tk_timers *tt, uint32_t id, int64_t *out,
			uint64_t *missed)
{
	struct pollfd p = { .fd = tk_timers_fd(tt), .events = POLLIN };
	struct timespec v = { 0, 5000000 }, iv = { 0, PERIOD_NS }, now;
	struct tk_timer_event ev[8];
	int got = 0, n, r;

	r = tk_timer_arm(tt, id, 0, &v, &iv, 0);
	if (r < 0)
		return r;
	while (got < PER_ROUND) {
		n = tk_timers_read(tt, ev, 8);
		if (n < 0)
			return n;
		if (n == 0) {
			if (poll(&p, 1, 1000) == 0)
				return -ETIMEDOUT;
			continue;
		}
		tk_gettime(tk, CLOCK_MONOTONIC, &now);
		for (int i = 0; i < n && got < PER_ROUND; i++) {
			int64_t exp = (int64_t)ev[i].expiry.tv_sec * NS + ev[i].expiry.tv_nsec;

			*missed += ev[i].overruns - 1;
			out[got++] = ts_to_ns(&now) - exp;
		}
	}
	return tk_timer_disarm(tt, id);
}

static int timerfd_round(int64_t *out, uint64_t *missed)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its = { 0 };
	int64_t start = kmono() + 5000000, k = 0;
	uint64_t ticks;
	int got = 0;

	if (fd < 0)
		return -errno;
	its.it_value.tv_sec = start / NS;
	its.it_value.tv_nsec = start % NS;
	its.it_interval.tv_nsec = PERIOD_NS;
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		close(fd);
		return -errno;
	}
	while (got < PER_ROUND) {
		if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks)) {
			close(fd);
			return -EIO;
		}
		k += (int64_t)ticks;
		*missed += ticks - 1;
		/* the last expiry the read stands for */
		out[got++] = kmono() - (start + (k - 1) * PERIOD_NS);
	}
	close(fd);
	return 0;
}

static pid_t start_daemon(const char *tkd, const char *dir)
{
	char conf[256], sock[256];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/d.conf", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"[daemon]\nruntime_dir = %s/run\nstate_dir = %s/state\nuser =\n"
		"[discipline]\nreference = system\n[sim]\ndevices = hpet,acpi_pm,tsc\n",
		dir, dir);
	fclose(f);
	pid = fork();
	if (pid == 0) {
		char log[256];

		snprintf(log, sizeof(log), "%s/daemon.log", dir);
		if (!freopen(log, "w", stderr))
			_exit(127);
		execl(tkd, tkd, "-f", "-c", conf, (char *)NULL);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), "%s/run/control", dir);
	for (int i = 0; i < 100; i++) {
		struct stat sb;

		if (stat(sock, &sb) == 0)
			return pid;
		usleep(100000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void report(const char *what, int64_t *v, size_t n, int64_t out[3])
{
	qsort(v, n, sizeof(*v), cmp64);
	out[0] = pct(v, n, 0.5);
	out[1] = pct(v, n, 0.99);
	out[2] = v[n - 1];
	printf("bench: timer_%s_lateness_p50 %" PRId64 " ns\n", what, out[0]);
	printf("bench: timer_%s_lateness_p99 %" PRId64 " ns\n", what, out[1]);
	printf("bench: timer_%s_lateness_max %" PRId64 " ns\n", what, out[2]);
}

int main(int argc, char **argv)
{
	static int64_t cl[EXPIRIES], tf[EXPIRIES];
	char dir[] = "/tmp/tk-bench-timers-XXXXXX", path[256];
	struct timekeeper *tk = NULL;
	struct tk_timers *tt = NULL;
	uint64_t cl_missed = 0, tf_missed = 0;
	int64_t c[3], t[3];
	uint32_t id;
	pid_t pid;
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_timers PATH-TO-timekeeperd\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("bench_timers: mkdtemp");
		return 1;
	}
	pid = start_daemon(argv[1], dir);
	if (pid < 0) {
		fprintf(stderr, "bench_timers: %s did not start (log in %s/daemon.log)\n", argv[1],
			dir);
		return 1;
	}
	sleep(2); /* let the discipline settle on the system clock */
	snprintf(path, sizeof(path), "%s/run/page", dir);
	r = tk_open(path, &tk);
	snprintf(path, sizeof(path), "%s/run/control", dir);
	if (r == 0)
		r = tk_timers_open(path, &tt);
	if (r == 0)
		r = tk_timer_create(tt, CLOCK_MONOTONIC, "bench", &id);
	for (int round = 0; r == 0 && round < ROUNDS; round++) {
		r = client_round(tk, tt, id, cl + round * PER_ROUND, &cl_missed);
		if (r == 0)
			r = timerfd_round(tf + round * PER_ROUND, &tf_missed);
	}
	tk_timers_close(tt);
	tk_close(tk);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (r < 0) {
		fprintf(stderr, "bench_timers: %s (daemon log in %s/daemon.log)\n", strerror(-r),
			dir);
		return 1;
	}
	printf("bench: timer_period %" PRId64 " ns\n", PERIOD_NS);
	printf("bench: timer_expiries %d count\n", EXPIRIES);
	report("client", cl, EXPIRIES, c);
	report("timerfd", tf, EXPIRIES, t);
	printf("bench: timer_client_missed %" PRIu64 " count\n", cl_missed);
	printf("bench: timer_timerfd_missed %" PRIu64 " count\n", tf_missed);
	printf("bench: timer_lateness_p50_ratio %.3f\n",
	       t[0] > 0 ? (double)c[0] / (double)t[0] : 0);
	printf("bench: timer_lateness_p99_ratio %.3f\n",
	       t[1] > 0 ? (double)c[1] / (double)t[1] : 0);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "bench_timers: could not remove %s\n", dir);
	return 0;
}
