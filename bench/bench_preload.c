// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read cost of libtimekeeper-preload.so against the kernel's vDSO, in the
 * same run: the median ns per clock_gettime(CLOCK_MONOTONIC) in this
 * process (no preload) and in a child started with LD_PRELOAD=PRELOAD
 * (bench_preload --child), RUNS times each, alternating. A run is the
 * median of SAMPLES batch averages of BATCH calls; the figures are the
 * medians of the runs. bench/bench_preload.sh starts the daemon with its
 * page in TSC mode first. Output lines are `bench: <name> <value> <unit>`
 * (doc/architecture.md, section 11):
 *   preload_read_ns, kernel_read_ns: ns per call;
 *   preload_read_ratio: preload_read_ns / kernel_read_ns.
 *
 *   bench_preload PRELOAD
 */
#include "config.h"

#include <spawn.h>
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

/* One run: the median of SAMPLES batch averages, ns per call. */
static double run(void)
{
	static double batch[SAMPLES];
	struct timespec a, b, ts;

	for (int s = 0; s < SAMPLES; s++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < BATCH; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		batch[s] = (double)(ts_to_ns(&b) - ts_to_ns(&a)) / BATCH;
	}
	return median(batch, SAMPLES);
}

/* One run in a child under LD_PRELOAD=preload; negative on failure. */
static double run_child(const char *self, const char *preload)
{
	char env[4096], *argv[] = { (char *)self, "--child", NULL }, *envp[2] = { env, NULL };
	posix_spawn_file_actions_t fa;
	double v = -1;
	int p[2], status;
	pid_t pid;
	FILE *f;

	if (snprintf(env, sizeof(env), "LD_PRELOAD=%s", preload) >= (int)sizeof(env) || pipe(p))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	if (posix_spawn(&pid, self, &fa, NULL, argv, envp) != 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!f || fscanf(f, "%lf", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? v : -1;
}

int main(int argc, char **argv)
{
	double own[RUNS], pre[RUNS], k, p;

	if (argc == 2 && strcmp(argv[1], "--child") == 0) {
		printf("%.3f\n", run());
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: bench_preload PRELOAD\n");
		return 2;
	}
	for (int r = 0; r < RUNS; r++) {
		own[r] = run();
		pre[r] = run_child("/proc/self/exe", argv[1]);
		if (pre[r] < 0) {
			fprintf(stderr, "bench_preload: the child under LD_PRELOAD=%s failed\n",
				argv[1]);
			return 1;
		}
	}
	k = median(own, RUNS);
	p = median(pre, RUNS);
	printf("bench: preload_read_ns %.2f ns\n", p);
	printf("bench: kernel_read_ns %.2f ns\n", k);
	printf("bench: preload_read_ratio %.3f\n", p / k);
	return 0;
}
