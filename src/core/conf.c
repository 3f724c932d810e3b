// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The configuration file. Every option is one row of `options[]`: where it
 * lives in struct tk_conf, its type, its default and its range. Parsing,
 * defaults and dumping are all driven by that table, so an option is added
 * in exactly one place.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf.h"

enum opt_type {
	OPT_STRING,	 /* bounded string */
	OPT_U64,	 /* unsigned integer within [min, max] */
	OPT_DOUBLE,	 /* real within [min, max] */
	OPT_DEVICES,	 /* comma-separated simulated device names -> bitmask */
	OPT_FAULT,	 /* a simulated device's fault (simconf_parse_fault) */
	OPT_ENUM,	 /* one word of `choices` -> its index (uint32_t) */
	OPT_I64,	 /* signed integer within [min, max] */
	OPT_NTP_SERVER,	 /* list: one [ntp] server per line, appended */
	OPT_LISTEN,	 /* bounded string, checked by conf_parse_listen() ("" = off) */
	OPT_NTPS_LISTEN, /* list: [ntp_server] listen, appended */
	OPT_NTPS_ALLOW,	 /* list: [ntp_server] allow, appended to the rules */
	OPT_NTPS_DENY,	 /* list: [ntp_server] deny, appended to the rules */
};

struct opt {
	const char *section;
	const char *key;
	enum opt_type type;
	size_t off;  /* into struct tk_conf */
	size_t size; /* OPT_STRING: buffer size; OPT_FAULT: the device */
	const char *def;
	double min, max;
	const char *const *choices; /* OPT_ENUM, NULL-terminated */
};

static const char *const reference_choices[] = { "none", "system", "ntp", NULL };
static const char *const yes_no_choices[] = { "no", "yes", NULL };
static const char *const host_adjtimex_choices[] = { "real", "synced", "unsynced", "unreadable",
						     NULL };

#define F(field) offsetof(struct tk_conf, field), sizeof(((struct tk_conf *)0)->field)

static const struct opt options[] = {
	{ "daemon", "runtime_dir", OPT_STRING, F(runtime_dir), "/run/timekeeper", 0, 0, NULL },
	{ "daemon", "state_dir", OPT_STRING, F(state_dir), "/var/lib/timekeeper", 0, 0, NULL },
	{ "daemon", "update_interval_ms", OPT_U64, F(update_interval_ms), "10", 1, 1000, NULL },
	{ "daemon", "user", OPT_STRING, F(user), "timekeeper", 0, 0, NULL },
	{ "daemon", "timer_margin_us", OPT_U64, F(timer_margin_us), "150", 0, 10000, NULL },
	{ "daemon", "max_drift_ppb", OPT_U64, F(max_drift_ppb), "1000", 0, 500000, NULL },

	{ "discipline", "reference", OPT_ENUM, F(reference), "system", 0, 0, reference_choices },
	{ "discipline", "time_constant", OPT_U64, F(time_constant), "0", 0, 10, NULL },

	{ "ntp", "server", OPT_NTP_SERVER, F(ntp_servers), "", 0, 0, NULL },
	{ "ntp", "step_threshold_ms", OPT_U64, F(step_threshold_ms), "128", 0, 1e9, NULL },
	{ "ntp", "step_limit", OPT_I64, F(step_limit), "1", -1, 1e9, NULL },
	{ "ntp", "panic_threshold", OPT_U64, F(panic_threshold), "1000", 0, 1e9, NULL },
	{ "ntp", "allow_panic_step", OPT_ENUM, F(allow_panic_step), "no", 0, 0, yes_no_choices },

	{ "clocksource", "clocksource", OPT_STRING, F(clocksource), "", 0, 0, NULL },

	{ "control", "group", OPT_STRING, F(control_group), "timekeeper", 0, 0, NULL },
	{ "control", "max_clients", OPT_U64, F(max_clients), "64", 1, 4096, NULL },
	{ "control", "max_clients_per_uid", OPT_U64, F(max_clients_per_uid), "16", 1, 4096, NULL },
	{ "control", "rate_limit", OPT_U64, F(rate_limit), "200", 1, 1000000, NULL },
	{ "control", "rate_burst", OPT_U64, F(rate_burst), "50", 1, 1000000, NULL },
	{ "control", "max_timers_per_client", OPT_U64, F(max_timers_per_client), "4096", 1, 1048576,
	  NULL },
	{ "control", "max_timers", OPT_U64, F(max_timers), "1048576", 1, 16777216, NULL },
	{ "control", "min_timer_interval_us", OPT_U64, F(min_timer_interval_us), "50", 1, 1000000,
	  NULL },

	{ "ntp_server", "listen", OPT_NTPS_LISTEN, F(ntps_listen), "", 0, 0, NULL },
	{ "ntp_server", "allow", OPT_NTPS_ALLOW, F(ntps_acl), "", 0, 0, NULL },
	{ "ntp_server", "deny", OPT_NTPS_DENY, F(ntps_acl), "", 0, 0, NULL },
	{ "ntp_server", "ratelimit", OPT_ENUM, F(ntps_ratelimit), "yes", 0, 0, yes_no_choices },
	{ "ntp_server", "ratelimit_interval", OPT_I64, F(ntps_rate_interval), "3", -4, 12, NULL },
	{ "ntp_server", "ratelimit_burst", OPT_U64, F(ntps_rate_burst), "8", 1, 255, NULL },
	{ "ntp_server", "ratelimit_leak", OPT_U64, F(ntps_rate_leak), "2", 0, 4, NULL },
	{ "ntp_server", "client_log_size", OPT_U64, F(ntps_log_size), "4096", 1, 1048576, NULL },
	{ "ntp_server", "local_stratum", OPT_U64, F(ntps_local_stratum), "0", 0, 15, NULL },

	{ "metrics", "listen", OPT_LISTEN, F(metrics_listen), "", 0, 0, NULL },

	{ "hw", "acpi_tables", OPT_STRING, F(acpi_tables), "/sys/firmware/acpi/tables", 0, 0,
	  NULL },
	{ "hw", "hpet_device", OPT_STRING, F(hpet_device), "/dev/hpet", 0, 0, NULL },
	{ "hw", "mem_device", OPT_STRING, F(mem_device), "/dev/mem", 0, 0, NULL },

	{ "sim", "devices", OPT_DEVICES, F(sim.devices), "", 0, 0, NULL },
	{ "sim", "hpet_hz", OPT_U64, F(sim.hz[SIM_HPET]), "14318180", 1e6, 1e9, NULL },
	{ "sim", "acpi_pm_hz", OPT_U64, F(sim.hz[SIM_PMTMR]), "3579545", 1e5, 1e8, NULL },
	{ "sim", "tsc_hz", OPT_U64, F(sim.hz[SIM_TSC]), "2400000000", 1e6, 1e11, NULL },
	{ "sim", "oscillator_error_ppm", OPT_DOUBLE, F(sim.oscillator_error_ppm), "0", -1000, 1000,
	  NULL },
	{ "sim", "hpet_error_ppm", OPT_DOUBLE, F(sim.error_ppm[SIM_HPET]), "0", -1000, 1000, NULL },
	{ "sim", "acpi_pm_error_ppm", OPT_DOUBLE, F(sim.error_ppm[SIM_PMTMR]), "0", -1000, 1000,
	  NULL },
	{ "sim", "tsc_error_ppm", OPT_DOUBLE, F(sim.error_ppm[SIM_TSC]), "0", -1000, 1000, NULL },
	{ "sim", "hpet_fault", OPT_FAULT, offsetof(struct tk_conf, sim.fault[SIM_HPET]), SIM_HPET,
	  "none", 0, 0, NULL },
	{ "sim", "acpi_pm_fault", OPT_FAULT, offsetof(struct tk_conf, sim.fault[SIM_PMTMR]),
	  SIM_PMTMR, "none", 0, 0, NULL },
	{ "sim", "tsc_fault", OPT_FAULT, offsetof(struct tk_conf, sim.fault[SIM_TSC]), SIM_TSC,
	  "none", 0, 0, NULL },
	{ "sim", "seed", OPT_U64, F(sim.seed), "1", 0, 1.8e19, NULL },
	{ "sim", "host_adjtimex", OPT_ENUM, F(sim_host_adjtimex), "real", 0, 0,
	  host_adjtimex_choices },
	{ "sim", "host_maxerror_us", OPT_U64, F(sim_host_maxerror_us), "0", 0, 16000000, NULL },
	{ "sim", "host_clock", OPT_STRING, F(sim_host_clock), "", 0, 0, NULL },
};

#define NOPTS (sizeof(options) / sizeof(options[0]))

struct parse_state {
	struct tk_conf *conf;
	bool seen[NOPTS];
	char msg[512]; /* first error, without the file:line prefix */
};

static bool is_list(enum opt_type t)
{
	return t == OPT_NTP_SERVER || t == OPT_NTPS_LISTEN || t == OPT_NTPS_ALLOW ||
	       t == OPT_NTPS_DENY;
}

static const struct opt *find_opt(const char *section, const char *key, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < NOPTS; i++) {
		if (strcmp(options[i].section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(options[i].key, key) == 0)
			return &options[i];
	}
	return NULL;
}

static int set_msg(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int set_msg(struct parse_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->msg[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
		va_end(ap);
	}
	return 0; /* inih: this line is an error */
}

static void range_text(const struct opt *o, char *buf, size_t len)
{
	snprintf(buf, len, "%.17g..%.17g", o->min, o->max);
}

static int parse_devices(const char *value, uint32_t *mask, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;

	*mask = 0;
	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "list too long");
		return -EINVAL;
	}
	strcpy(buf, value);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		int dev = simconf_dev_from_name(tok);

		if (dev < 0) {
			snprintf(err, errlen,
				 "unknown device '%s', expected a list of hpet, acpi_pm, tsc", tok);
			return -EINVAL;
		}
		*mask |= 1u << dev;
	}
	return 0;
}

static int parse_poll(const char *opt, const char *tok, int8_t *out, char *err, size_t errlen)
{
	char *end;
	long v;

	if (!tok) {
		snprintf(err, errlen, "server: '%s' needs a value", opt);
		return -EINVAL;
	}
	errno = 0;
	v = strtol(tok, &end, 10);
	if (errno || end == tok || *end || v < CONF_NTP_MINPOLL || v > CONF_NTP_MAXPOLL) {
		snprintf(err, errlen, "server: %s '%s': expected an integer in %d..%d (log2 s)",
			 opt, tok, CONF_NTP_MINPOLL, CONF_NTP_MAXPOLL);
		return -EINVAL;
	}
	*out = (int8_t)v;
	return 0;
}

/* `HOST [port N] [iburst] [xleave] [minpoll N] [maxpoll N]`, appended to the list. */
static int parse_server(struct tk_conf *conf, const char *value, char *err, size_t errlen)
{
	struct conf_ntp_server sv = { .port = 123, .minpoll = 6, .maxpoll = 10 };
	char buf[512], *save = NULL, *tok;
	bool set_min = false, set_max = false;

	if (conf->ntp_nservers >= CONF_NTP_MAX_SERVERS) {
		snprintf(err, errlen, "server: more than %d servers", CONF_NTP_MAX_SERVERS);
		return -EINVAL;
	}
	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "server: line too long (%zu bytes, at most %zu)",
			 strlen(value), sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, value);
	tok = strtok_r(buf, " \t", &save);
	if (!tok) {
		snprintf(err, errlen,
			 "server: expected "
			 "'HOST [port N] [iburst] [xleave] [minpoll N] [maxpoll N]'");
		return -EINVAL;
	}
	if (strlen(tok) >= sizeof(sv.host)) {
		snprintf(err, errlen,
			 "server: host '%.32s...' is %zu bytes long, at most %zu allowed", tok,
			 strlen(tok), sizeof(sv.host) - 1);
		return -EINVAL;
	}
	strcpy(sv.host, tok);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		if (!strcmp(tok, "iburst")) {
			sv.iburst = true;
		} else if (!strcmp(tok, "xleave")) {
			sv.xleave = true;
		} else if (!strcmp(tok, "port")) {
			char *arg = strtok_r(NULL, " \t", &save), *end;
			unsigned long v;

			errno = 0;
			v = arg ? strtoul(arg, &end, 10) : 0;
			if (!arg || errno || end == arg || *end || arg[0] == '-' || v < 1 ||
			    v > 65535) {
				snprintf(err, errlen, "server: port '%s': expected 1..65535",
					 arg ? arg : "");
				return -EINVAL;
			}
			sv.port = (uint16_t)v;
		} else if (!strcmp(tok, "minpoll")) {
			if (parse_poll(tok, strtok_r(NULL, " \t", &save), &sv.minpoll, err,
				       errlen) < 0)
				return -EINVAL;
			set_min = true;
		} else if (!strcmp(tok, "maxpoll")) {
			if (parse_poll(tok, strtok_r(NULL, " \t", &save), &sv.maxpoll, err,
				       errlen) < 0)
				return -EINVAL;
			set_max = true;
		} else {
			snprintf(err, errlen,
				 "server %s: unknown option '%s', "
				 "expected port, iburst, xleave, minpoll or maxpoll",
				 sv.host, tok);
			return -EINVAL;
		}
	}
	/* One bound given alone moves the default of the other out of its way. */
	if (set_min && !set_max && sv.maxpoll < sv.minpoll)
		sv.maxpoll = sv.minpoll;
	if (set_max && !set_min && sv.minpoll > sv.maxpoll)
		sv.minpoll = sv.maxpoll;
	if (sv.minpoll > sv.maxpoll) {
		snprintf(err, errlen, "server %s: minpoll %d > maxpoll %d", sv.host, sv.minpoll,
			 sv.maxpoll);
		return -EINVAL;
	}
	conf->ntp_servers[conf->ntp_nservers++] = sv;
	return 0;
}

/* Sets one option from its text; returns 0 or -EINVAL with err filled. */
static int apply(struct tk_conf *conf, const struct opt *o, const char *value, char *err,
		 size_t errlen)
{
	char *p = (char *)conf + o->off, *end, range[96];

	switch (o->type) {
	case OPT_STRING:
		if (strlen(value) >= o->size) {
			snprintf(err, errlen, "%s: value is %zu bytes long, at most %zu allowed",
				 o->key, strlen(value), o->size - 1);
			return -EINVAL;
		}
		strcpy(p, value);
		return 0;
	case OPT_U64: {
		unsigned long long v;

		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-') {
			snprintf(err, errlen, "%s = '%s': expected an unsigned integer", o->key,
				 value);
			return -EINVAL;
		}
		if ((double)v < o->min || (double)v > o->max) {
			range_text(o, range, sizeof(range));
			snprintf(err, errlen, "%s = %llu: out of range %s", o->key, v, range);
			return -EINVAL;
		}
		*(uint64_t *)p = v;
		return 0;
	}
	case OPT_DOUBLE: {
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(v)) {
			snprintf(err, errlen, "%s = '%s': expected a number", o->key, value);
			return -EINVAL;
		}
		if (v < o->min || v > o->max) {
			range_text(o, range, sizeof(range));
			snprintf(err, errlen, "%s = %g: out of range %s", o->key, v, range);
			return -EINVAL;
		}
		*(double *)p = v;
		return 0;
	}
	case OPT_DEVICES: {
		char why[160];

		if (parse_devices(value, (uint32_t *)p, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s = '%s': %s", o->key, value, why);
			return -EINVAL;
		}
		return 0;
	}
	case OPT_FAULT: {
		char why[256];

		if (simconf_parse_fault(value, (struct sim_fault *)p, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s = '%s': %s", o->key, value, why);
			return -EINVAL;
		}
		snprintf(conf->sim_fault_text[o->size], sizeof(conf->sim_fault_text[0]), "%s",
			 value);
		return 0;
	}
	case OPT_ENUM: {
		char list[160] = "";

		for (uint32_t i = 0; o->choices[i]; i++) {
			if (strcmp(value, o->choices[i]) == 0) {
				*(uint32_t *)p = i;
				return 0;
			}
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", o->choices[i]);
		}
		snprintf(err, errlen, "%s = '%s': expected one of %s", o->key, value, list);
		return -EINVAL;
	}
	case OPT_I64: {
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno || end == value || *end) {
			snprintf(err, errlen, "%s = '%s': expected an integer", o->key, value);
			return -EINVAL;
		}
		if ((double)v < o->min || (double)v > o->max) {
			range_text(o, range, sizeof(range));
			snprintf(err, errlen, "%s = %lld: out of range %s", o->key, v, range);
			return -EINVAL;
		}
		*(int64_t *)p = v;
		return 0;
	}
	case OPT_NTP_SERVER:
		return parse_server(conf, value, err, errlen);
	case OPT_NTPS_LISTEN: {
		char why[300];

		if (conf->ntps_nlisten >= NTPS_MAX_LISTEN) {
			snprintf(err, errlen,
				 "listen = '%s': more than %d listen lines, expected at "
				 "most %d",
				 value, NTPS_MAX_LISTEN, NTPS_MAX_LISTEN);
			return -EINVAL;
		}
		if (conf_parse_ntp_listen(value, NULL, NULL, conf->ntps_listen[conf->ntps_nlisten],
					  CONF_LISTEN_LEN, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "listen = '%s': %s", value, why);
			return -EINVAL;
		}
		conf->ntps_nlisten++;
		return 0;
	}
	case OPT_NTPS_ALLOW:
	case OPT_NTPS_DENY: {
		char why[300];

		if (conf->ntps_nacl >= NTPS_MAX_ACL) {
			snprintf(err, errlen,
				 "%s = '%s': more than %d allow and deny lines, "
				 "expected at most %d",
				 o->key, value, NTPS_MAX_ACL, NTPS_MAX_ACL);
			return -EINVAL;
		}
		if (ntps_parse_rule(value, o->type == OPT_NTPS_ALLOW,
				    &conf->ntps_acl[conf->ntps_nacl], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s = %s", o->key, why);
			return -EINVAL;
		}
		conf->ntps_nacl++;
		return 0;
	}
	case OPT_LISTEN: {
		char why[300];

		if (strlen(value) >= o->size) {
			snprintf(err, errlen,
				 "%s = '%.40s...': %zu bytes long, at most %zu allowed", o->key,
				 value, strlen(value), o->size - 1);
			return -EINVAL;
		}
		if (value[0] && conf_parse_listen(value, NULL, NULL, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s = '%s': %s", o->key, value, why);
			return -EINVAL;
		}
		strcpy(p, value);
		return 0;
	}
	}
	return -EINVAL;
}

int conf_parse_listen(const char *text, struct sockaddr_storage *ss, unsigned int *len, char *err,
		      size_t errlen)
{
	static const char expected[] =
		"expected ADDRESS:PORT with a numeric IPv4 address (127.0.0.1:9817) or "
		"[IPv6]:PORT ([::1]:9817), port 1..65535";
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port, *h = text;
	size_t hlen;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	unsigned long v;
	char *end;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "no ']:' after an IPv6 address: %s", expected);
			return -EINVAL;
		}
		h = text + 1;
		hlen = (size_t)(close - h);
		port = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon) {
			snprintf(err, errlen, "no port: %s", expected);
			return -EINVAL;
		}
		hlen = (size_t)(colon - text);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "%s address: %s", hlen ? "too long an" : "no", expected);
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	v = strtoul(port, &end, 10);
	if (!*port || *port == '-' || *port == '+' || *end || errno || v < 1 || v > 65535) {
		snprintf(err, errlen, "port '%s' out of range: %s", port, expected);
		return -EINVAL;
	}
	if (h == text && inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
		sin.sin_port = htons((uint16_t)v);
		if (ss) {
			memset(ss, 0, sizeof(*ss));
			memcpy(ss, &sin, sizeof(sin));
			*len = sizeof(sin);
		}
		return 0;
	}
	if (h != text && inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
		sin6.sin6_port = htons((uint16_t)v);
		if (ss) {
			memset(ss, 0, sizeof(*ss));
			memcpy(ss, &sin6, sizeof(sin6));
			*len = sizeof(sin6);
		}
		return 0;
	}
	snprintf(err, errlen, "'%s' is not a numeric %s address (no names are looked up): %s", host,
		 h == text ? "IPv4" : "IPv6", expected);
	return -EINVAL;
}

int conf_parse_ntp_listen(const char *text, struct sockaddr_storage *ss, unsigned int *len,
			  char *out, size_t outlen, char *err, size_t errlen)
{
	char buf[CONF_LISTEN_LEN + 8];
	const char *close = text[0] == '[' ? strchr(text, ']') : NULL;
	const char *colon = strchr(text, ':');
	bool has_port = text[0] == '[' ? close && close[1] == ':' : colon != NULL;

	if (strlen(text) >= CONF_LISTEN_LEN - 4) {
		snprintf(err, errlen, "%zu bytes long, at most %d allowed", strlen(text),
			 CONF_LISTEN_LEN - 5);
		return -EINVAL;
	}
	if (text[0] != '[' && colon && strchr(colon + 1, ':')) {
		snprintf(err, errlen,
			 "an IPv6 address goes in brackets: expected ADDRESS[:PORT] "
			 "with a numeric IPv4 address (0.0.0.0:123) or [IPv6][:PORT] "
			 "([::]:123)");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), has_port ? "%s" : "%s:123", text);
	if (conf_parse_listen(buf, ss, len, err, errlen) < 0)
		return -EINVAL;
	if (out)
		snprintf(out, outlen, "%s", buf);
	return 0;
}

void conf_defaults(struct tk_conf *conf)
{
	char err[256];

	memset(conf, 0, sizeof(*conf));
	simconf_default(&conf->sim);
	for (size_t i = 0; i < NOPTS; i++)
		if (!is_list(options[i].type) && /* a list: empty by default */
		    apply(conf, &options[i], options[i].def, err, sizeof(err)) < 0)
			abort(); /* a default outside its own range is our bug */
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_state *st = user;
	const struct opt *o;
	bool section_known;
	char err[400];

	if (!key) /* section header alone (INI_CALL_HANDLER_ON_NEW_SECTION builds) */
		return 1;
	o = find_opt(section, key, &section_known);
	if (!o) {
		if (section[0] == '\0')
			return set_msg(
				st, "'%s' outside any section, expected it under a [section]", key);
		if (!section_known)
			return set_msg(
				st,
				"unknown section [%s], expected [daemon], [discipline], [ntp], "
				"[clocksource], [control], [ntp_server], [metrics], [hw] or [sim]",
				section);
		return set_msg(st, "unknown key '%s' in [%s]", key, section);
	}
	if (st->seen[o - options] && !is_list(o->type))
		return set_msg(st, "'%s' set twice in [%s]", key, section);
	st->seen[o - options] = true;
	if (apply(st->conf, o, value, err, sizeof(err)) < 0)
		return set_msg(st, "%s", err);
	return 1;
}

static int finish(const char *name, int rc, struct parse_state *st, char *err, size_t errlen)
{
	if (rc == 0 && st->conf->reference == CONF_REF_NTP && st->conf->ntp_nservers == 0) {
		snprintf(err, errlen,
			 "%s: reference = ntp but no server: expected at least one "
			 "'server = HOST' line in [ntp]",
			 name);
		return -EINVAL;
	}
	if (rc == 0)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", name,
			 rc == -2 ? "out of memory" : strerror(errno));
		return rc == -2 ? -ENOMEM : -errno;
	}
	if (st->msg[0] == '\0')
		snprintf(st->msg, sizeof(st->msg),
			 "syntax error, expected '[section]' or 'key = value'");
	snprintf(err, errlen, "%s:%d: %s", name, rc, st->msg);
	return -EINVAL;
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a regular file";
	}
}

/* The whole file in a NUL-terminated buffer, or -errno with one line in err.
 * Only a regular file of at most CONF_MAX_BYTES is read: /dev/zero never
 * ends and a FIFO may never answer, either would hang the start or a
 * reload (and SIGTERM with it). O_NONBLOCK makes the open of a FIFO return
 * at once; symbolic links are followed (/etc/timekeeperd.conf may be one). */
static int read_bounded(const char *path, char **out, char *err, size_t errlen)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: is %s, expected a regular file", path,
			 file_kind(st.st_mode));
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > CONF_MAX_BYTES) {
		snprintf(err, errlen, "%s: %lld bytes, expected at most %d", path,
			 (long long)st.st_size, CONF_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	buf = malloc(CONF_MAX_BYTES + 2);
	if (!buf) {
		snprintf(err, errlen, "%s: cannot read: out of memory", path);
		close(fd);
		return -ENOMEM;
	}
	/* The size may change under us: read at most one byte past the limit. */
	while (len <= CONF_MAX_BYTES) {
		ssize_t n = read(fd, buf + len, CONF_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONF_MAX_BYTES) {
		snprintf(err, errlen, "%s: grew past %d bytes while read, expected at most %d",
			 path, CONF_MAX_BYTES, CONF_MAX_BYTES);
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: a NUL byte at offset %zu, expected text", path,
			 strlen(buf));
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

int conf_load(const char *path, struct tk_conf *conf, char *err, size_t errlen)
{
	struct parse_state st = { .conf = conf };
	char *text;
	int rc;

	conf_defaults(conf);
	rc = read_bounded(path, &text, err, errlen);
	if (rc < 0)
		return rc;
	rc = ini_parse_string(text, handler, &st);
	free(text);
	return finish(path, rc, &st, err, errlen);
}

int conf_load_string(const char *name, const char *text, struct tk_conf *conf, char *err,
		     size_t errlen)
{
	struct parse_state st = { .conf = conf };

	conf_defaults(conf);
	return finish(name, ini_parse_string(text, handler, &st), &st, err, errlen);
}

static void dump_rule(FILE *out, const struct ntps_acl_rule *r, bool allow)
{
	char a[INET6_ADDRSTRLEN];

	if (r->allow != allow)
		return;
	if (r->net.family == 0) {
		fprintf(out, "%s = all\n", allow ? "allow" : "deny");
		return;
	}
	inet_ntop(r->net.family == 4 ? AF_INET : AF_INET6, r->net.a, a, sizeof(a));
	fprintf(out, "%s = %s/%u\n", allow ? "allow" : "deny", a, r->prefix);
}

void conf_dump(const struct tk_conf *conf, FILE *out)
{
	const char *section = NULL;

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &options[i];
		const char *p = (const char *)conf + o->off;

		if (!section || strcmp(section, o->section) != 0) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "", o->section);
			section = o->section;
		}
		if (o->type == OPT_NTP_SERVER) {
			for (unsigned int k = 0; k < conf->ntp_nservers; k++) {
				const struct conf_ntp_server *sv = &conf->ntp_servers[k];

				fprintf(out, "%s = %s port %u%s%s minpoll %d maxpoll %d\n", o->key,
					sv->host, sv->port, sv->iburst ? " iburst" : "",
					sv->xleave ? " xleave" : "", sv->minpoll, sv->maxpoll);
			}
			continue;
		}
		if (o->type == OPT_NTPS_LISTEN) {
			for (unsigned int k = 0; k < conf->ntps_nlisten; k++)
				fprintf(out, "%s = %s\n", o->key, conf->ntps_listen[k]);
			continue;
		}
		if (o->type == OPT_NTPS_ALLOW || o->type == OPT_NTPS_DENY) {
			for (unsigned int k = 0; k < conf->ntps_nacl; k++)
				dump_rule(out, &conf->ntps_acl[k], o->type == OPT_NTPS_ALLOW);
			continue;
		}
		fprintf(out, "%s = ", o->key);
		switch (o->type) {
		case OPT_STRING:
		case OPT_LISTEN:
			fprintf(out, "%s\n", p);
			break;
		case OPT_U64:
			fprintf(out, "%llu\n", (unsigned long long)*(const uint64_t *)p);
			break;
		case OPT_DOUBLE:
			fprintf(out, "%g\n", *(const double *)p);
			break;
		case OPT_DEVICES: {
			uint32_t m = *(const uint32_t *)p;
			const char *sep = "";

			for (int d = 0; d < SIM_NDEV; d++)
				if (m & (1u << d)) {
					fprintf(out, "%s%s", sep, simconf_dev_name(d));
					sep = ",";
				}
			fputc('\n', out);
			break;
		}
		case OPT_FAULT:
			fprintf(out, "%s\n", conf->sim_fault_text[o->size]);
			break;
		case OPT_ENUM:
			fprintf(out, "%s\n", o->choices[*(const uint32_t *)p]);
			break;
		case OPT_I64:
			fprintf(out, "%lld\n", (long long)*(const int64_t *)p);
			break;
		case OPT_NTP_SERVER:
		case OPT_NTPS_LISTEN:
		case OPT_NTPS_ALLOW:
		case OPT_NTPS_DENY:
			break;
		}
	}
}
