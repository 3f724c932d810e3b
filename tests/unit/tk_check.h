/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared scaffolding for the Check suites: a main that runs one suite and
 * reports through TAP (the environment sets CK_TAP_LOG_FILE_NAME=-), and a
 * seed that is printed and can be overridden with TK_TEST_SEED.
 */
#ifndef TK_TESTS_TK_CHECK_H
#define TK_TESTS_TK_CHECK_H

#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t tk_test_seed(void)
{
	static uint64_t seed;
	const char *env;

	if (seed)
		return seed;
	env = getenv("TK_TEST_SEED");
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	if (!seed)
		seed = 1;
	printf("# seed %" PRIu64 " (set TK_TEST_SEED to repeat)\n", seed);
	fflush(stdout);
	return seed;
}

static inline int tk_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
