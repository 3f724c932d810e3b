// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_conf: conf_load_string() on arbitrary text. Whatever the input, the
 * loader returns 0 or -errno, and an error comes back as one
 * NUL-terminated line within the caller's buffer. Built with libFuzzer
 * (--enable-fuzzing, `make fuzz`) and, over the committed corpus, by
 * replay.c in `make check`.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tk_conf conf;
	char err[256];
	char *text;
	int r;

	if (size > 1 << 16)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof(err));
	r = conf_load_string("fuzz.conf", text, &conf, err, sizeof(err));
	if (r > 0 || (r < 0 && !memchr(err, '\0', sizeof(err))))
		abort();
	if (r < 0 && (strchr(err, '\n') || strncmp(err, "fuzz.conf", 9)))
		abort();
	free(text);
	return 0;
}
