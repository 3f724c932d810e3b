/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Configuration: one table of typed options (section, key, type, default,
 * range), read with inih. Errors come back as "file:line: message"; unknown
 * sections and keys are errors, so a typo never silently does nothing. Keys
 * are unique except list keys ([ntp] server), which take one item per line.
 */
#ifndef TK_CORE_CONF_H
#define TK_CORE_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/clocksource.h"
#include "core/ntpserver.h"
#include "core/simconf.h"

#define CONF_DEFAULT_PATH SYSCONFDIR "/timekeeperd.conf"

enum conf_reference {
	CONF_REF_NONE,	 /* free-run on the counter */
	CONF_REF_SYSTEM, /* follow the host's CLOCK_REALTIME */
	CONF_REF_NTP,	 /* follow the [ntp] servers */
};

/* [sim] host_adjtimex: what the daemon takes the host's adjtimex() to say. */
enum conf_host_adjtimex {
	CONF_HOST_REAL,	      /* the real adjtimex() */
	CONF_HOST_SYNCED,     /* TIME_OK, synchronized, maxerror host_maxerror_us */
	CONF_HOST_UNSYNCED,   /* TIME_ERROR, STA_UNSYNC, maxerror 16 s */
	CONF_HOST_UNREADABLE, /* EPERM, as under a seccomp filter without @clock */
};

#define CONF_NTP_MAX_SERVERS 64 /* TK_CTL_NTP_MAX_SERVERS */
#define CONF_NTP_HOST_LEN 64	/* TK_CTL_HOST_LEN */
#define CONF_NTP_MINPOLL (-6)	/* log2 s: the range of minpoll and maxpoll */
#define CONF_NTP_MAXPOLL 17

/* One `server = HOST [port N] [iburst] [xleave] [minpoll N] [maxpoll N]` line. */
struct conf_ntp_server {
	char host[CONF_NTP_HOST_LEN];
	uint16_t port;	/* default 123 */
	bool iburst;	/* a burst of 4 requests 2 s apart at start */
	bool xleave;	/* interleaved mode (RFC 9769) */
	int8_t minpoll; /* log2 s, default 6 */
	int8_t maxpoll; /* log2 s, default 10, >= minpoll */
};

/* [metrics] listen: "ADDRESS:PORT" or "[ADDRESS]:PORT" (numeric), at most this long. */
#define CONF_LISTEN_LEN 80

struct tk_conf {
	/* [daemon] */
	char runtime_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	uint64_t update_interval_ms; /* accumulation and page update */
	char user[64];		     /* drop to this user after start as root; "" = stay */
	uint64_t timer_margin_us;    /* early wake-up for zero-slack timers (0 = none) */
	uint64_t max_drift_ppb;	     /* the error bound's growth floor, ns per s */
	/* [discipline] */
	uint32_t reference;	/* enum conf_reference */
	uint64_t time_constant; /* PLL time constant, adjtimex units with STA_NANO */
	/* [ntp] */
	struct conf_ntp_server ntp_servers[CONF_NTP_MAX_SERVERS];
	unsigned int ntp_nservers;
	uint64_t step_threshold_ms; /* offsets beyond are stepped; 0 = never step */
	int64_t step_limit;	    /* the first N clock updates may step; -1 = any */
	uint64_t panic_threshold;   /* s: offsets beyond are refused unless allowed; 0 = none */
	uint32_t allow_panic_step;  /* 1: ... applied when the servers agree (ntpc_panic_check) */
	/* [clocksource] */
	char clocksource[CS_NAME_LEN]; /* override by name; empty = by rating */
	/* [control] */
	char control_group[64];		/* members (and root) may change things */
	uint64_t max_clients;		/* control connections at once */
	uint64_t max_clients_per_uid;	/* of them, per peer uid */
	uint64_t rate_limit;		/* messages per second per client (token bucket) */
	uint64_t rate_burst;		/* bucket size */
	uint64_t max_timers_per_client; /* client timers per connection */
	uint64_t max_timers;		/* client timers in all */
	uint64_t min_timer_interval_us; /* shorter periods are raised to it */
	/* [ntp_server] (core/ntpserver.h): off without a listen line */
	char ntps_listen[NTPS_MAX_LISTEN][CONF_LISTEN_LEN]; /* ADDRESS:PORT, port filled in */
	unsigned int ntps_nlisten;
	struct ntps_acl_rule ntps_acl[NTPS_MAX_ACL]; /* allow and deny lines, in order */
	unsigned int ntps_nacl;
	uint32_t ntps_ratelimit;     /* 1: limit each client's rate */
	int64_t ntps_rate_interval;  /* log2 s */
	uint64_t ntps_rate_burst;    /* requests */
	uint64_t ntps_rate_leak;     /* 1 in 2^leak limited requests gets a KoD */
	uint64_t ntps_log_size;	     /* clients remembered */
	uint64_t ntps_local_stratum; /* 0 off */
	/* [metrics] */
	char metrics_listen[CONF_LISTEN_LEN]; /* HOST:PORT of the Prometheus page; "" = off */
	/* [hw] */
	char acpi_tables[PATH_MAX];
	char hpet_device[PATH_MAX];
	char mem_device[PATH_MAX];
	/* [sim] */
	struct sim_conf sim;
	char sim_fault_text[SIM_NDEV][64]; /* the fault strings as written */
	uint32_t sim_host_adjtimex;    /* enum conf_host_adjtimex: the host's adjtimex, for tests */
	uint64_t sim_host_maxerror_us; /* its maxerror when CONF_HOST_SYNCED */
	char sim_host_clock[PATH_MAX]; /* a simulated host clock's state file; "" = the kernel's */
};

/* Fills every option with its default. */
void conf_defaults(struct tk_conf *conf);

/* The largest configuration file read, bytes. */
#define CONF_MAX_BYTES (1024 * 1024)

/* Reads path into conf (defaults first): only a regular file of at most
 * CONF_MAX_BYTES without NUL bytes (a FIFO, a device or a directory is
 * refused without being read). Returns 0, or -errno with one line in err:
 * "path:line: message" for content, "path: ..." for the file itself. */
int conf_load(const char *path, struct tk_conf *conf, char *err, size_t errlen);

/* Same, from a string (tests, fuzzing); name is used in messages. */
int conf_load_string(const char *name, const char *text, struct tk_conf *conf, char *err,
		     size_t errlen);

/* Parses a listen address as [metrics] listen takes it: a numeric IPv4
 * address or a bracketed numeric IPv6 address, a colon, a port 1..65535.
 * Fills *ss and *len (may be NULL: syntax check only). 0, or -EINVAL with
 * one line in err saying what was read and what was expected. */
struct sockaddr_storage;
int conf_parse_listen(const char *text, struct sockaddr_storage *ss, unsigned int *len, char *err,
		      size_t errlen);

/* Parses [ntp_server] listen: as conf_parse_listen(), the port optional
 * (123 when left out: "0.0.0.0", "[::]"). out (may be NULL) gets the text
 * with the port. */
int conf_parse_ntp_listen(const char *text, struct sockaddr_storage *ss, unsigned int *len,
			  char *out, size_t outlen, char *err, size_t errlen);

/* Prints every option with its current value, as a config file would hold it. */
void conf_dump(const struct tk_conf *conf, FILE *out);

#endif
