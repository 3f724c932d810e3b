// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: prints the host clock's discipline state as one JSON object,
 * read only (adjtimex with modes 0): the kernel's frequency offset, tick,
 * status bits and time constant, and CLOCK_REALTIME - CLOCK_MONOTONIC, which
 * only a step of the host clock changes (slewing moves both clocks). The NTP
 * tests take it before and after running real NTP servers to show that the
 * servers did not touch the host clock.
 *
 *   tk_hostclock
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "core/tunit.h"

int main(void)
{
	struct timespec r1, m, r2;
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	if (state < 0) {
		perror("tk_hostclock: adjtimex");
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &r1);
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r2);
	printf("{\"freq\":%ld,\"tick\":%ld,\"status\":%d,\"constant\":%ld,\"state\":%d,"
	       "\"realtime_minus_monotonic_ns\":%" PRId64 "}\n",
	       (long)tx.freq, (long)tx.tick, tx.status, (long)tx.constant, state,
	       ts_to_ns(&r1) + (ts_to_ns(&r2) - ts_to_ns(&r1)) / 2 - ts_to_ns(&m));
	return 0;
}
