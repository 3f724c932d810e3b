// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rsv: lookups run off the caller's thread and end through the eventfd; a
 * lookup that glibc refuses ends with its EAI_* code; lookups let go of
 * while running are freed only once glibc is done with them (the ASan build
 * sees any early free or leak); more lookups at once than glibc has threads
 * all end. No network: numeric hosts, and a service glibc refuses without
 * asking any resolver. The never-answering resolver is in
 * tests/integration/ntp_resolver.sh.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <arpa/inet.h>

#include "core/rsv.h"
#include "tk_check.h"

#define WAIT_MS 20000 /* generous: a loaded machine */

/* Waits (on the eventfd, as the daemon's loop does) until l has ended;
 * returns its code. */
static int wait_done(struct rsv_lookup *l, struct addrinfo **res)
{
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		struct pollfd pfd = { .fd = rsv_fd(), .events = POLLIN };
		int r = rsv_done(l, res);

		if (r != EAI_INPROGRESS)
			return r;
		poll(&pfd, 1, 100);
		rsv_drain();
	}
	return EAI_INPROGRESS;
}

START_TEST(numeric_host_resolves)
{
	struct rsv_lookup *l;
	struct addrinfo *res = NULL;
	const struct sockaddr_in *sin;
	int fd = rsv_fd();

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rsv_fd(), fd); /* one descriptor for the process's life */
	ck_assert_int_eq(rsv_start("127.0.0.1", "123", &l), 0);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(wait_done(l, &res), 0);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->ai_family, AF_INET);
	ck_assert_int_eq(res->ai_socktype, SOCK_DGRAM);
	sin = (const struct sockaddr_in *)res->ai_addr;
	ck_assert_uint_eq(ntohs(sin->sin_port), 123);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	freeaddrinfo(res);
	/* The result is given once. */
	ck_assert_int_eq(rsv_done(l, &res), 0);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(rsv_release(l), 0);
	ck_assert_int_eq(rsv_release(NULL), 0);
}
END_TEST

START_TEST(ipv6_literal)
{
	struct rsv_lookup *l;
	struct addrinfo *res = NULL;

	ck_assert_int_eq(rsv_start("::1", "4123", &l), 0);
	ck_assert_int_eq(wait_done(l, &res), 0);
	ck_assert_int_eq(res->ai_family, AF_INET6);
	ck_assert_uint_eq(ntohs(((const struct sockaddr_in6 *)res->ai_addr)->sin6_port), 4123);
	freeaddrinfo(res);
	rsv_release(l);
}
END_TEST

/* A service that is not a number (AI_NUMERICSERV): refused by glibc with
 * EAI_NONAME, through the same path as a name that does not resolve. */
START_TEST(failure_is_a_code)
{
	struct rsv_lookup *l;
	struct addrinfo *res = (struct addrinfo *)1;
	int r;

	ck_assert_int_eq(rsv_start("127.0.0.1", "ntp-by-name", &l), 0);
	r = wait_done(l, &res);
	ck_assert_msg(r != 0 && r != EAI_INPROGRESS, "expected a failure, got %d (%s)", r,
		      gai_strerror(r));
	ck_assert_ptr_null(res);
	ck_assert_int_eq(rsv_release(l), 0);
}
END_TEST

/* Let go at once, while queued or running: cancelled or kept until glibc
 * has finished with it, then freed by the reaper. Twice glibc's thread
 * limit, so some are still queued (cancelled) when let go. */
START_TEST(release_while_running)
{
	struct rsv_lookup *l[40];
	unsigned int kept = 0, running = 0;

	for (unsigned int i = 0; i < 40; i++)
		ck_assert_int_eq(rsv_start(i % 2 ? "127.0.0.1" : "::1", "123", &l[i]), 0);
	for (unsigned int i = 0; i < 40; i++)
		kept += (unsigned int)rsv_release(l[i]);
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		struct pollfd pfd = { .fd = rsv_fd(), .events = POLLIN };

		if ((running = rsv_reap()) == 0)
			break;
		poll(&pfd, 1, 100);
		rsv_drain();
	}
	printf("# %u of 40 let go while running\n", kept);
	ck_assert_uint_eq(running, 0);
}
END_TEST

/* More at once than glibc has threads: every one ends. */
START_TEST(many_at_once)
{
	struct rsv_lookup *l[50];
	struct addrinfo *res;

	for (unsigned int i = 0; i < 50; i++)
		ck_assert_int_eq(rsv_start("127.0.0.1", "123", &l[i]), 0);
	for (unsigned int i = 0; i < 50; i++) {
		ck_assert_int_eq(wait_done(l[i], &res), 0);
		freeaddrinfo(res);
		ck_assert_int_eq(rsv_release(l[i]), 0);
	}
}
END_TEST

static Suite *rsv_suite(void)
{
	Suite *s = suite_create("rsv");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, numeric_host_resolves);
	tcase_add_test(tc, ipv6_literal);
	tcase_add_test(tc, failure_is_a_code);
	tcase_add_test(tc, release_while_running);
	tcase_add_test(tc, many_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(rsv_suite());
}
