// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The configuration table: defaults, every option type, range checks, and
 * the "file:line: message" form of every kind of error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "tk_check.h"

static struct tk_conf conf;
static char err[1024];

START_TEST(defaults)
{
	conf_defaults(&conf);
	ck_assert_str_eq(conf.acpi_tables, "/sys/firmware/acpi/tables");
	ck_assert_str_eq(conf.hpet_device, "/dev/hpet");
	ck_assert_str_eq(conf.mem_device, "/dev/mem");
	ck_assert_str_eq(conf.clocksource, "");
	ck_assert_uint_eq(conf.sim.devices, 0);
	ck_assert_uint_eq(conf.sim.hz[SIM_HPET], 14318180);
	ck_assert_uint_eq(conf.sim.hz[SIM_PMTMR], 3579545);
	ck_assert_uint_eq(conf.sim.hz[SIM_TSC], 2400000000u);
	ck_assert_int_eq(conf.sim.fault[SIM_TSC].kind, SIM_FAULT_NONE);
	ck_assert_str_eq(conf.runtime_dir, "/run/timekeeper");
	ck_assert_str_eq(conf.state_dir, "/var/lib/timekeeper");
	ck_assert_uint_eq(conf.update_interval_ms, 10);
	ck_assert_uint_eq(conf.reference, CONF_REF_SYSTEM);
	ck_assert_uint_eq(conf.time_constant, 0);
	ck_assert_uint_eq(conf.ntp_nservers, 0);
	ck_assert_uint_eq(conf.step_threshold_ms, 128);
	ck_assert_int_eq(conf.step_limit, 1);
	ck_assert_uint_eq(conf.panic_threshold, 1000);
	ck_assert_uint_eq(conf.allow_panic_step, 0);
}
END_TEST

START_TEST(ntp_servers)
{
	const char *text = "[discipline]\n"
			   "reference = ntp\n"
			   "[ntp]\n"
			   "server = 127.0.0.1 port 11123 iburst minpoll -2 maxpoll 4\n"
			   "server = ntp.example.org\n"
			   "server = ::1\tminpoll 12\n"
			   "server = b maxpoll 3\n"
			   "step_threshold_ms = 0\n"
			   "step_limit = -1\n"
			   "panic_threshold = 0\n"
			   "allow_panic_step = yes\n";
	char many[64 * 16 + 16] = "[ntp]\n";

	ck_assert_msg(conf_load_string("n.conf", text, &conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(conf.reference, CONF_REF_NTP);
	ck_assert_uint_eq(conf.ntp_nservers, 4);
	ck_assert_str_eq(conf.ntp_servers[0].host, "127.0.0.1");
	ck_assert_uint_eq(conf.ntp_servers[0].port, 11123);
	ck_assert(conf.ntp_servers[0].iburst);
	ck_assert_int_eq(conf.ntp_servers[0].minpoll, -2);
	ck_assert_int_eq(conf.ntp_servers[0].maxpoll, 4);
	ck_assert_str_eq(conf.ntp_servers[1].host, "ntp.example.org");
	ck_assert_uint_eq(conf.ntp_servers[1].port, 123);
	ck_assert(!conf.ntp_servers[1].iburst);
	ck_assert_int_eq(conf.ntp_servers[1].minpoll, 6);
	ck_assert_int_eq(conf.ntp_servers[1].maxpoll, 10);
	/* One bound alone moves the other's default out of the way. */
	ck_assert_int_eq(conf.ntp_servers[2].minpoll, 12);
	ck_assert_int_eq(conf.ntp_servers[2].maxpoll, 12);
	ck_assert_int_eq(conf.ntp_servers[3].minpoll, 3);
	ck_assert_int_eq(conf.ntp_servers[3].maxpoll, 3);
	ck_assert_uint_eq(conf.step_threshold_ms, 0);
	ck_assert_int_eq(conf.step_limit, -1);
	ck_assert_uint_eq(conf.panic_threshold, 0);
	ck_assert_uint_eq(conf.allow_panic_step, 1);
	/* At most 64 servers. */
	for (int i = 0; i < 65; i++)
		strcat(many, "server = h\n");
	ck_assert_int_eq(conf_load_string("m.conf", many, &conf, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "m.conf:66: server: more than 64 servers");
}
END_TEST

START_TEST(ntp_server_section)
{
	struct tk_conf c;
	char msg[512], *dump = NULL;
	size_t dlen = 0;
	FILE *f;

	ck_assert_msg(conf_load_string("s.conf",
				       "[ntp_server]\nlisten = 127.0.0.1\nlisten = [::]\n"
				       "listen = 0.0.0.0:1123\nallow = 10.0.0.0/8\nallow = all\n"
				       "deny = 10.1.0.0/16\nlocal_stratum = 10\n"
				       "ratelimit_interval = -4\n",
				       &c, msg, sizeof(msg)) == 0,
		      "%s", msg);
	ck_assert_uint_eq(c.ntps_nlisten, 3);
	ck_assert_str_eq(c.ntps_listen[0], "127.0.0.1:123");
	ck_assert_str_eq(c.ntps_listen[1], "[::]:123");
	ck_assert_str_eq(c.ntps_listen[2], "0.0.0.0:1123");
	ck_assert_uint_eq(c.ntps_nacl, 3);
	ck_assert(c.ntps_acl[0].allow && c.ntps_acl[0].prefix == 8);
	ck_assert(c.ntps_acl[1].allow && c.ntps_acl[1].net.family == 0);
	ck_assert(!c.ntps_acl[2].allow && c.ntps_acl[2].prefix == 16);
	ck_assert_uint_eq(c.ntps_local_stratum, 10);
	ck_assert_int_eq(c.ntps_rate_interval, -4);
	ck_assert_uint_eq(c.ntps_rate_burst, 8);
	ck_assert_uint_eq(c.ntps_rate_leak, 2);
	ck_assert_uint_eq(c.ntps_log_size, 4096);
	f = open_memstream(&dump, &dlen);
	conf_dump(&c, f);
	fclose(f);
	ck_assert_msg(strstr(dump, "listen = [::]:123\nlisten = 0.0.0.0:1123\n") &&
			      strstr(dump, "allow = 10.0.0.0/8\nallow = all\n") &&
			      strstr(dump, "deny = 10.1.0.0/16\n"),
		      "%s", dump);
	free(dump);
	/* Defaults: off. */
	conf_defaults(&c);
	ck_assert_uint_eq(c.ntps_nlisten, 0);
	ck_assert_uint_eq(c.ntps_nacl, 0);
	ck_assert_uint_eq(c.ntps_local_stratum, 0);
}
END_TEST

START_TEST(full_sim_section)
{
	const char *text = "# comment\n"
			   "[sim]\n"
			   "devices = hpet,acpi_pm,tsc        ; which devices are simulated\n"
			   "hpet_hz = 24000000\n"
			   "tsc_hz = 3000000000\n"
			   "oscillator_error_ppm = 50\n"
			   "tsc_error_ppm = -12.5\n"
			   "tsc_fault = drift:1000ppm@2s\n"
			   "hpet_fault = spikes:200000ns\n"
			   "[clocksource]\n"
			   "clocksource = hpet\n";

	ck_assert_int_eq(conf_load_string("t.conf", text, &conf, err, sizeof(err)), 0);
	ck_assert_uint_eq(conf.sim.devices, (1u << SIM_HPET) | (1u << SIM_PMTMR) | (1u << SIM_TSC));
	ck_assert_uint_eq(conf.sim.hz[SIM_HPET], 24000000);
	ck_assert_uint_eq(conf.sim.hz[SIM_TSC], 3000000000u);
	ck_assert_double_eq(conf.sim.oscillator_error_ppm, 50);
	ck_assert_double_eq(conf.sim.error_ppm[SIM_TSC], -12.5);
	ck_assert_int_eq(conf.sim.fault[SIM_TSC].kind, SIM_FAULT_DRIFT);
	ck_assert_double_eq(conf.sim.fault[SIM_TSC].ppm, 1000);
	ck_assert_uint_eq(conf.sim.fault[SIM_TSC].at_ns, 2000000000u);
	ck_assert_int_eq(conf.sim.fault[SIM_HPET].kind, SIM_FAULT_SPIKES);
	ck_assert_uint_eq(conf.sim.fault[SIM_HPET].spike_ns, 200000);
	ck_assert_str_eq(conf.sim_fault_text[SIM_TSC], "drift:1000ppm@2s");
	ck_assert_str_eq(conf.clocksource, "hpet");
}
END_TEST

#define LISTEN_EXPECTED                                                                            \
	"expected ADDRESS:PORT with a numeric IPv4 address (127.0.0.1:9817) or [IPv6]:PORT "       \
	"([::1]:9817), port 1..65535"

/* Each bad line yields exactly "name:line: message". */
static const struct {
	const char *text;
	const char *expect; /* the whole error */
} bad[] = {
	{ "[sim]\nfoo = 1\n", "b.conf:2: unknown key 'foo' in [sim]" },
	{ "[nope]\nx = 1\n",
	  "b.conf:2: unknown section [nope], expected [daemon], [discipline], [ntp], "
	  "[clocksource], [control], [ntp_server], [metrics], [hw] or [sim]" },
	{ "[ntp_server]\nallow = 10.0.0.0/33\n",
	  "b.conf:2: allow = '10.0.0.0/33': prefix length '33' out of range 0..32 for IPv4" },
	{ "[ntp_server]\ndeny = ntp.example\n",
	  "b.conf:2: deny = 'ntp.example' is not a numeric address (no names are looked up): "
	  "expected 'all', an address, or ADDRESS/LENGTH with a numeric IPv4 (0..32) or IPv6 "
	  "(0..128) address" },
	{ "[ntp_server]\nlisten = ::1\n",
	  "b.conf:2: listen = '::1': an IPv6 address goes in brackets: expected ADDRESS[:PORT] "
	  "with a numeric IPv4 address (0.0.0.0:123) or [IPv6][:PORT] ([::]:123)" },
	{ "[discipline]\nreference = ntpd\n",
	  "b.conf:2: reference = 'ntpd': expected one of none, system, ntp" },
	{ "[daemon]\nupdate_interval_ms = 0\n",
	  "b.conf:2: update_interval_ms = 0: out of range 1..1000" },
	{ "devices = tsc\n",
	  "b.conf:1: 'devices' outside any section, expected it under a [section]" },
	{ "[sim]\ntsc_hz = fast\n", "b.conf:2: tsc_hz = 'fast': expected an unsigned integer" },
	{ "[sim]\ntsc_hz = -5\n", "b.conf:2: tsc_hz = '-5': expected an unsigned integer" },
	{ "[sim]\ntsc_hz = 5\n", "b.conf:2: tsc_hz = 5: out of range 1000000..100000000000" },
	{ "[sim]\n\noscillator_error_ppm = 5000\n",
	  "b.conf:3: oscillator_error_ppm = 5000: out of range -1000..1000" },
	{ "[sim]\noscillator_error_ppm = nan\n",
	  "b.conf:2: oscillator_error_ppm = 'nan': expected a number" },
	{ "[sim]\ndevices = hpet,rtc\n", "b.conf:2: devices = 'hpet,rtc': unknown device 'rtc', "
					 "expected a list of hpet, acpi_pm, tsc" },
	{ "[sim]\ntsc_hz = 1000000\ntsc_hz = 2000000\n", "b.conf:3: 'tsc_hz' set twice in [sim]" },
	{ "[ntp]\nserver = a.example bogus\n",
	  "b.conf:2: server a.example: unknown option 'bogus', "
	  "expected port, iburst, xleave, minpoll or maxpoll" },
	{ "[ntp]\nserver = a minpoll 3 maxpoll 2\n", "b.conf:2: server a: minpoll 3 > maxpoll 2" },
	{ "[ntp]\nserver = a\nserver = b minpoll 18\n",
	  "b.conf:3: server: minpoll '18': expected an integer in -6..17 (log2 s)" },
	{ "[ntp]\nserver = a maxpoll\n", "b.conf:2: server: 'maxpoll' needs a value" },
	{ "[ntp]\nserver = a port 0\n", "b.conf:2: server: port '0': expected 1..65535" },
	{ "[ntp]\nserver = a port 70000\n", "b.conf:2: server: port '70000': expected 1..65535" },
	{ "[ntp]\nserver = \n",
	  "b.conf:2: server: expected 'HOST [port N] [iburst] [xleave] [minpoll N] [maxpoll N]'" },
	{ "[ntp]\nstep_limit = -2\n", "b.conf:2: step_limit = -2: out of range -1..1000000000" },
	{ "[ntp]\nstep_limit = 1\nstep_limit = 2\n", "b.conf:3: 'step_limit' set twice in [ntp]" },
	{ "[ntp]\nallow_panic_step = maybe\n",
	  "b.conf:2: allow_panic_step = 'maybe': expected one of no, yes" },
	{ "[ntp]\npanic_threshold = -1\n",
	  "b.conf:2: panic_threshold = '-1': expected an unsigned integer" },
	{ "[discipline]\nreference = ntp\n",
	  "b.conf: reference = ntp but no server: "
	  "expected at least one 'server = HOST' line in [ntp]" },
	{ "[metrics]\nlisten = 127.0.0.1\n",
	  "b.conf:2: listen = '127.0.0.1': no port: " LISTEN_EXPECTED },
	{ "[metrics]\nlisten = 127.0.0.1:0\n",
	  "b.conf:2: listen = '127.0.0.1:0': port '0' out of range: " LISTEN_EXPECTED },
	{ "[metrics]\nlisten = [::1]:65536\n",
	  "b.conf:2: listen = '[::1]:65536': port '65536' out of range: " LISTEN_EXPECTED },
	{ "[metrics]\nlisten = ::1:9817\n",
	  "b.conf:2: listen = '::1:9817': '::1' is not a numeric IPv4 address (no names are looked "
	  "up): " LISTEN_EXPECTED },
	{ "[metrics]\nlisten = [127.0.0.1]:9817\n",
	  "b.conf:2: listen = '[127.0.0.1]:9817': '127.0.0.1' is not a numeric IPv6 address (no "
	  "names are looked up): " LISTEN_EXPECTED },
	{ "[metrics]\nlisten = [::1:9817\n",
	  "b.conf:2: listen = '[::1:9817': no ']:' after an IPv6 address: " LISTEN_EXPECTED },
	{ "[sim]\nthis is not a key value line\n",
	  "b.conf:2: syntax error, expected '[section]' or 'key = value'" },
};

START_TEST(bad_lines)
{
	int rc = conf_load_string("b.conf", bad[_i].text, &conf, err, sizeof(err));

	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(err, bad[_i].expect);
}
END_TEST

START_TEST(bad_fault_names_the_key)
{
	ck_assert_int_eq(conf_load_string("f.conf", "[sim]\ntsc_fault = melt@2s\n", &conf, err,
					  sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strncmp(err, "f.conf:2: tsc_fault = 'melt@2s': ", 33) == 0, "got: %s", err);
}
END_TEST

START_TEST(string_too_long)
{
	char text[400];

	snprintf(text, sizeof(text), "[clocksource]\nclocksource = %040d\n", 0);
	ck_assert_int_eq(conf_load_string("s.conf", text, &conf, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "s.conf:2: clocksource: value is 40 bytes long, at most 31 allowed");
}
END_TEST

START_TEST(file_errors)
{
	char path[] = "/tmp/tk-conf-XXXXXX";
	int fd;

	ck_assert_int_eq(conf_load("/nonexistent/tk.conf", &conf, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "/nonexistent/tk.conf: cannot open: No such file or directory");

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "[hw]\nacpi_tables = /tmp/x\n", 26), 26);
	close(fd);
	ck_assert_int_eq(conf_load(path, &conf, err, sizeof(err)), 0);
	ck_assert_str_eq(conf.acpi_tables, "/tmp/x");
	unlink(path);
}
END_TEST

START_TEST(shipped_config_is_valid)
{
	ck_assert_msg(conf_load(TK_SRCDIR "/conf/timekeeperd.conf", &conf, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(conf.sim.devices, 0); /* real hardware by default */
}
END_TEST

START_TEST(dump_round_trips)
{
	struct tk_conf again;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(
		conf_load_string("d.conf",
				 "[sim]\ndevices = tsc,hpet\ntsc_fault = step:5000000ns@3s\n"
				 "tsc_error_ppm = 50\n[discipline]\nreference = none\n"
				 "[ntp]\nserver = a iburst minpoll 2 maxpoll 3\nserver = b port 9\n"
				 "step_limit = -1\n",
				 &conf, err, sizeof(err)),
		0);
	f = open_memstream(&buf, &len);
	conf_dump(&conf, f);
	fclose(f);
	ck_assert_msg(conf_load_string("dump", buf, &again, err, sizeof(err)) == 0, "%s\n%s", err,
		      buf);
	ck_assert_uint_eq(again.sim.devices, conf.sim.devices);
	ck_assert_int_eq(again.sim.fault[SIM_TSC].kind, SIM_FAULT_STEP);
	ck_assert_int_eq(again.sim.fault[SIM_TSC].step_ns, 5000000);
	ck_assert_double_eq(again.sim.error_ppm[SIM_TSC], 50);
	ck_assert_uint_eq(again.reference, CONF_REF_NONE);
	ck_assert_uint_eq(again.ntp_nservers, 2);
	ck_assert(again.ntp_servers[0].iburst);
	ck_assert_int_eq(again.ntp_servers[0].minpoll, 2);
	ck_assert_uint_eq(again.ntp_servers[1].port, 9);
	ck_assert_int_eq(again.step_limit, -1);
	free(buf);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_sim_section);
	tcase_add_test(tc, ntp_servers);
	tcase_add_test(tc, ntp_server_section);
	tcase_add_loop_test(tc, bad_lines, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, bad_fault_names_the_key);
	tcase_add_test(tc, string_too_long);
	tcase_add_test(tc, file_errors);
	tcase_add_test(tc, shipped_config_is_valid);
	tcase_add_test(tc, dump_round_trips);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tk_run_suite(suite());
}
