// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helper: one libtimekeeper handle held for the whole run, read every
 * 10 ms with tk_read(CLOCK_REALTIME) and tk_status(). After each round it
 * replaces STATEFILE (write and rename) with one line:
 *   kind=K pid=P page_reads=N reads=M
 * (K the reading's source_kind, P the page's writer_pid), so a shell test
 * can poll for a condition. Exits 0 when STOPFILE exists, 1 after 300 s.
 *
 *   tk_follow STATEFILE STOPFILE      (the page: $TIMEKEEPER_RUNTIME_DIR)
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timekeeper.h"

int main(int argc, char **argv)
{
	char tmp[4096];
	struct timekeeper *tk;
	struct tk_reading r;
	struct tk_status st;
	unsigned long page_reads = 0, reads = 0;
	struct timespec pause = { 0, 10000000 };
	FILE *f;

	if (argc != 3 || strlen(argv[1]) + 5 > sizeof(tmp)) {
		fprintf(stderr, "usage: tk_follow STATEFILE STOPFILE\n");
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", argv[1]);
	if (tk_open(NULL, &tk) < 0) {
		fprintf(stderr, "tk_follow: tk_open failed\n");
		return 1;
	}
	for (int i = 0; i < 30000 && access(argv[2], F_OK) != 0; i++) {
		if (tk_read(tk, CLOCK_REALTIME, &r) < 0 || tk_status(tk, &st) < 0)
			return 1;
		reads++;
		page_reads += r.source_kind == TK_SOURCE_PAGE;
		f = fopen(tmp, "w");
		if (!f)
			return 1;
		fprintf(f, "kind=%d pid=%d page_reads=%lu reads=%lu\n", r.source_kind,
			(int)st.writer_pid, page_reads, reads);
		if (fclose(f) != 0 || rename(tmp, argv[1]) != 0)
			return 1;
		nanosleep(&pause, NULL);
	}
	tk_close(tk);
	return access(argv[2], F_OK) == 0 ? 0 : 1;
}
