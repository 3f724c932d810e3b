// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read cost of libtimekeeper-preload.so against the kernel's vDSO, in the
 * same run: the median ns per clock_gettime(CLOCK_MONOTONIC) in this
 * process (no preload) and in a child started with LD_PRELOAD=PRELOAD
 * (bench_preload --child), RUNS times each, alternating. A run is the
 * median of SAMPLES batch averages of BATCH calls; the figures are the
 * medians of the runs. bench/bench_preload.sh starts the daemon with its
 * page in TSC mode first; bench/bench_vm.sh runs it in the QEMU guests,
 * with LABEL naming the machine and fewer SAMPLES. Output lines are
 * `bench: <name> <value> <unit> [LABEL]` (doc/architecture.md, section 11):
 *   preload_read_ns, kernel_read_ns: ns per call;
 *   preload_read_ratio: preload_read_ns / kernel_read_ns;
 *   preload_page_reads: before the timed runs and after them, a child under
 *   the preload with TIMEKEEPER_PRELOAD_STATS set makes VERIFY_CALLS calls
 *   and reports the preload's counters (libtimekeeper-preload(3)): all of
 *   them must have been served from the page, else the ratio would time
 *   the kernel through the preload and the bench fails. The timed children
 *   run without the counters, which cost a shared increment per call.
 *
 *   bench_preload PRELOAD [LABEL [SAMPLES]]
 */
#include "config.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/tunit.h"

#define RUNS 7
#define SAMPLES 2000
#define BATCH 64
#define VERIFY_CALLS 10000

static volatile long sink;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int samples = SAMPLES;
static const char *label = "";

/* One run: the median of samples batch averages, ns per call. */
static double run(void)
{
	static double batch[SAMPLES];
	struct timespec a, b, ts;

	for (int s = 0; s < samples; s++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < BATCH; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		batch[s] = (double)(ts_to_ns(&b) - ts_to_ns(&a)) / BATCH;
	}
	return median(batch, samples);
}

/* --verify: VERIFY_CALLS readings, then the preload's counters of page
 * and kernel readings (the child runs with TIMEKEEPER_PRELOAD_STATS). */
static int verify(void)
{
	size_t (*stats)(uint64_t *, size_t);
	struct timespec ts;
	uint64_t c[2];

	for (int i = 0; i < VERIFY_CALLS; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sink += ts.tv_nsec;
	}
	*(void **)&stats = dlsym(RTLD_DEFAULT, "tk_preload_stats");
	if (!stats || stats(c, 2) != 2)
		return 1;
	printf("%" PRIu64 " %" PRIu64 "\n", c[0], c[1]);
	return 0;
}

/* One child under LD_PRELOAD=preload running with mode (--child or
 * --verify), in this process's environment (TIMEKEEPER_RUNTIME_DIR names
 * the page): its first line of output, or NULL on failure. */
static char *run_child_line(const char *self, const char *preload, const char *mode, char *out,
			    size_t len)
{
	extern char **environ;
	static char *envp[256];
	char env[4096], samp[32], *argv[] = { (char *)self, (char *)mode, samp, NULL };
	char stats[] = "TIMEKEEPER_PRELOAD_STATS=1";
	posix_spawn_file_actions_t fa;
	char *line = NULL;
	int p[2], status;
	size_t ne = 0;
	pid_t pid;
	FILE *f;

	snprintf(samp, sizeof(samp), "%d", samples);
	if (snprintf(env, sizeof(env), "LD_PRELOAD=%s", preload) >= (int)sizeof(env) || pipe(p))
		return NULL;
	envp[ne++] = env;
	if (strcmp(mode, "--verify") == 0)
		envp[ne++] = stats;
	for (char **e = environ; *e && ne < sizeof(envp) / sizeof(envp[0]) - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0 &&
		    strncmp(*e, "TIMEKEEPER_PRELOAD_STATS=", 25) != 0)
			envp[ne++] = *e;
	envp[ne] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	if (posix_spawn(&pid, self, &fa, NULL, argv, envp) != 0) {
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	if (f && fgets(out, (int)len, f))
		line = out;
	if (f)
		fclose(f);
	else
		close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? line : NULL;
}

/* One timed run in a child under the preload; negative on failure. */
static double run_child(const char *self, const char *preload)
{
	char out[64];
	double v;

	if (!run_child_line(self, preload, "--child", out, sizeof(out)) ||
	    sscanf(out, "%lf", &v) != 1)
		return -1;
	return v;
}

/* A child under the preload with its counters: 0 when every one of its
 * VERIFY_CALLS readings came from the page. */
static int check_page(const char *self, const char *preload, const char *when)
{
	unsigned long long page, kernel;
	char out[128];

	if (!run_child_line(self, preload, "--verify", out, sizeof(out)) ||
	    sscanf(out, "%llu %llu", &page, &kernel) != 2) {
		fprintf(stderr, "bench_preload: no counters from the preload (%s the runs)\n",
			when);
		return -1;
	}
	printf("bench: preload_page_reads %llu of %d calls%s%s (%s the timed runs; %llu from "
	       "the kernel)\n",
	       page, VERIFY_CALLS, *label ? " " : "", label, when, kernel);
	if (page < VERIFY_CALLS || kernel != 0) {
		fprintf(stderr,
			"bench_preload: %s the runs the preload read the kernel (%llu readings) "
			"and the page %llu times of %d: the page is not in TSC mode\n",
			when, kernel, page, VERIFY_CALLS);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double own[RUNS], pre[RUNS], k, p;
	const char *u = "";

	if (argc >= 2 && argv[1][0] == '-') {
		if (argc == 3)
			samples = atoi(argv[2]);
		if (samples < 1 || samples > SAMPLES)
			samples = SAMPLES;
		if (strcmp(argv[1], "--verify") == 0)
			return verify();
		printf("%.3f\n", run());
		return 0;
	}
	if (argc < 2 || argc > 4 || (argc == 4 && (atoi(argv[3]) < 1 || atoi(argv[3]) > SAMPLES))) {
		fprintf(stderr, "usage: bench_preload PRELOAD [LABEL [SAMPLES (1..%d)]]\n",
			SAMPLES);
		return 2;
	}
	if (argc >= 3) {
		label = argv[2];
		u = " ratio ";
	}
	if (argc == 4)
		samples = atoi(argv[3]);
	if (check_page("/proc/self/exe", argv[1], "before") < 0)
		return 1;
	for (int r = 0; r < RUNS; r++) {
		own[r] = run();
		pre[r] = run_child("/proc/self/exe", argv[1]);
		if (pre[r] < 0) {
			fprintf(stderr, "bench_preload: the child under LD_PRELOAD=%s failed\n",
				argv[1]);
			return 1;
		}
	}
	if (check_page("/proc/self/exe", argv[1], "after") < 0)
		return 1;
	k = median(own, RUNS);
	p = median(pre, RUNS);
	printf("bench: preload_read_ns %.2f ns%s%s\n", p, *label ? " " : "", label);
	printf("bench: kernel_read_ns %.2f ns%s%s\n", k, *label ? " " : "", label);
	printf("bench: preload_read_ratio %.3f%s%s\n", p / k, u, label);
	return 0;
}
