// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * timectl: the command-line client of timekeeperd. It speaks the control
 * protocol of timekeeper/control.h over <runtime_dir>/control for the
 * daemon's state and changes, and reads the shared page through
 * libtimekeeper (tk_status, tk_gettime) for liveness and time; it links
 * nothing of the daemon. Every reply is checked by ctlc before use. Output
 * is a human table or, with --json, one JSON object (jw); the field names
 * and exit codes are documented in timectl(1).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "core/tunit.h"
#include "timekeeper.h"
#include "timekeeper/control.h"
#include "timekeeper/page.h"
#include "timectl/ctlc.h"
#include "timectl/jw.h"

/* Exit codes (timectl(1), EXIT STATUS). */
#define EX_OK 0
#define EX_ERROR 1    /* the daemon refused, or another error */
#define EX_USAGE 2    /* bad command line */
#define EX_NODAEMON 3 /* cannot connect to the daemon, or it does not answer */
#define EX_PERM 4     /* permission denied */
#define EX_PROTO 5    /* the daemon's reply is malformed or of another protocol version */

#define DEFAULT_RUNTIME_DIR "/run/timekeeper"

/* The "schema" member of every --json document: raised when a member is
 * removed or changes meaning, not when one is added (timectl(1), JSON). */
#define JSON_SCHEMA 1

static const char *runtime_dir;
static char socket_path[PATH_MAX];
static char page_path[PATH_MAX];
static bool json;
static struct ctlc conn = { .fd = -1 };

static void usage(FILE *f)
{
	fputs("Usage: timectl [-r DIR] [--json] COMMAND [ARGS]\n"
	      "Commands:\n"
	      "  status                 the timekeeper and the page, like chronyc tracking\n"
	      "  sources                the clock sources in rating order\n"
	      "  switch NAME|--auto     set or clear the clocksource override\n"
	      "  unbind NAME            take a source out of selection\n"
	      "  readmit NAME           give a demoted or unbound source another chance\n"
	      "  recalibrate            restart the TSC calibration\n"
	      "  timers                 the daemon's timer queues\n"
	      "  ntp                    the NTP servers, like chronyc sources (reference = ntp)\n"
	      "  ntp-server             the NTP server's counters ([ntp_server]), like chronyc "
	      "serverstats\n"
	      "  adjtime [OPTIONS]      read, or with options write, the discipline state\n"
	      "  read [CLOCK]           the page's clocks beside the kernel's\n"
	      "  waitsync [OPTIONS]     wait until the page is synchronized (chronyc waitsync)\n"
	      "Options:\n"
	      "  -r, --runtime-dir DIR  the daemon's runtime directory (default\n"
	      "                         $TIMEKEEPER_RUNTIME_DIR, else " DEFAULT_RUNTIME_DIR ")\n"
	      "  -j, --json             one JSON object on standard output\n"
	      "  -h, --help             this text\n"
	      "  -V, --version          the version\n"
	      "See timectl(1).\n",
	      f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("timectl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (timectl --help lists the commands)\n", stderr);
	return EX_USAGE;
}

/* ---------------------------------------------------------------------- */
/* Talking to the daemon. */

static int connect_daemon(void)
{
	int err;

	if (conn.fd >= 0)
		return EX_OK;
	err = ctlc_open(&conn, socket_path);
	if (err == 0)
		return EX_OK;
	if (err == -EACCES || err == -EPERM) {
		fprintf(stderr, "timectl: cannot connect to %s: %s\n", socket_path, strerror(-err));
		return EX_PERM;
	}
	fprintf(stderr, "timectl: cannot connect to %s: %s (is timekeeperd running?)\n",
		socket_path, strerror(-err));
	return EX_NODAEMON;
}

/* Reports a failed call; returns the exit code. */
static int call_error(const char *what, int err, const struct ctlc_reply *r)
{
	switch (err) {
	case -ETIMEDOUT:
		fprintf(stderr, "timectl: %s: no reply from the daemon on %s within %d ms\n", what,
			socket_path, CTLC_TIMEOUT_MS);
		return EX_NODAEMON;
	case -ECONNRESET:
		fprintf(stderr, "timectl: %s: the daemon closed the connection on %s\n", what,
			socket_path);
		return EX_NODAEMON;
	case -EPROTO:
		fprintf(stderr, "timectl: %s: malformed reply from the daemon: %s\n", what,
			r->error);
		return EX_PROTO;
	case -EPROTONOSUPPORT:
		fprintf(stderr, "timectl: %s: %s%s%s\n", what, r->error, r->message[0] ? ": " : "",
			r->message);
		return EX_PROTO;
	default:
		fprintf(stderr, "timectl: %s: %s: %s\n", what, r->error, strerror(-err));
		return EX_ERROR;
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	case EINVAL:
		return "EINVAL";
	case EBUSY:
		return "EBUSY";
	case EAGAIN:
		return "EAGAIN";
	case EBADMSG:
		return "EBADMSG";
	case ENODEV:
		return "ENODEV";
	case ENOTSUP:
		return "EOPNOTSUPP";
	case ERANGE:
		return "ERANGE";
	case EEXIST:
		return "EEXIST";
	case ENOSYS:
		return "ENOSYS";
	case EALREADY:
		return "EALREADY";
	default:
		return NULL;
	}
}

/* A reply whose status is not 0: one line on stderr (and, for changes in
 * JSON mode, the status object on stdout). */
static int refused(const char *what, const struct ctlc_reply *r, bool change)
{
	int e = -r->status;

	if (json && change) {
		struct jw w;

		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_int(&w, "status", r->status);
		jw_str(&w, "error", errno_name(e));
		jw_str(&w, "message", r->message);
		jw_finish(&w);
	}
	/* On the wire -EPERM means only "this peer may not change things"
	 * (control.h); any other status is the daemon refusing the request. */
	if (e == EPERM || e == EACCES) {
		/* The daemon's message usually says "permission denied" itself. */
		if (strncmp(r->message, "permission denied", 17) == 0)
			fprintf(stderr, "timectl: %s: %s\n", what, r->message);
		else
			fprintf(stderr, "timectl: %s: permission denied%s%s\n", what,
				r->message[0] ? ": " : "", r->message);
		return EX_PERM;
	}
	if (r->message[0])
		fprintf(stderr, "timectl: %s: refused: %s\n", what, r->message);
	else
		fprintf(stderr, "timectl: %s: %s\n", what, strerror(e));
	return EX_ERROR;
}

/* A query or change; on EX_OK *r holds the checked reply. */
static int request(const char *what, uint16_t type, const void *req, size_t req_len,
		   size_t fixed_len, size_t elem_len, size_t count_off, struct ctlc_reply *r)
{
	int rc = connect_daemon(), err;

	if (rc)
		return rc;
	err = ctlc_call(&conn, type, req, req_len, fixed_len, elem_len, count_off, r);
	if (err)
		return call_error(what, err, r);
	if (r->status)
		return refused(what, r,
			       TK_CTL_T_IS_CHANGE(type) ||
				       (type == TK_CTL_ADJTIME && req &&
					((const struct tk_ctl_timex *)req)->modes));
	return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* Names of values. */

static const char *state_name(uint32_t s)
{
	switch (s) {
	case TK_CTL_SRC_CURRENT:
		return "current";
	case TK_CTL_SRC_OK:
		return "ok";
	case TK_CTL_SRC_UNSTABLE:
		return "unstable";
	case TK_CTL_SRC_UNBOUND:
		return "unbound";
	case TK_CTL_SRC_UNUSABLE:
		return "unusable";
	default:
		return "unknown";
	}
}

static const char *verdict_name(uint32_t v)
{
	switch (v) {
	case TK_CTL_VERDICT_NONE:
		return "none";
	case TK_CTL_VERDICT_BASELINE:
		return "baseline";
	case TK_CTL_VERDICT_OK:
		return "ok";
	case TK_CTL_VERDICT_SKIP:
		return "skip";
	case TK_CTL_VERDICT_UNSTABLE:
		return "unstable";
	case TK_CTL_VERDICT_SUSPECT:
		return "suspect";
	default:
		return "unknown";
	}
}

static const char *time_state_name(int32_t s)
{
	switch (s) {
	case TIME_OK:
		return "TIME_OK";
	case TIME_INS:
		return "TIME_INS";
	case TIME_DEL:
		return "TIME_DEL";
	case TIME_OOP:
		return "TIME_OOP";
	case TIME_WAIT:
		return "TIME_WAIT";
	case TIME_ERROR:
		return "TIME_ERROR";
	default:
		return "unknown";
	}
}

static const char *base_name(uint32_t b)
{
	static const char *const names[] = { "monotonic", "realtime", "boottime", "tai" };

	return b < 4 ? names[b] : "unknown";
}

static const char *bound_status_name(uint32_t s)
{
	switch (s) {
	case TK_PAGE_BS_UNKNOWN:
		return "unknown";
	case TK_PAGE_BS_SYNCHRONIZED:
		return "synchronized";
	case TK_PAGE_BS_FREE_RUNNING:
		return "free-running";
	case TK_PAGE_BS_DISRUPTED:
		return "disrupted";
	}
	return "invalid";
}

static const char *liveness_name(int kind)
{
	switch (kind) {
	case TK_SOURCE_PAGE:
		return "fresh";
	case TK_SOURCE_NO_PAGE:
		return "missing";
	case TK_SOURCE_STALE:
		return "stale";
	case TK_SOURCE_GONE:
		return "gone";
	case TK_SOURCE_MODE_NONE:
		return "mode_none";
	case TK_SOURCE_BUSY:
		return "busy";
	default:
		return "unknown";
	}
}

/* A flag word's bits and their names in listings and JSON. */
struct bit_name {
	uint32_t bit;
	const char *name;
};

/* The names of the bits set in flags, as a JSON array under key. */
static void bits_json(struct jw *w, const char *key, const struct bit_name *t, size_t n,
		      uint32_t flags)
{
	jw_array(w, key);
	for (size_t i = 0; i < n; i++)
		if (flags & t[i].bit)
			jw_str(w, NULL, t[i].name);
	jw_end(w);
}

static const struct bit_name sta_bits[] = {
	{ STA_PLL, "PLL" },
	{ STA_PPSFREQ, "PPSFREQ" },
	{ STA_PPSTIME, "PPSTIME" },
	{ STA_FLL, "FLL" },
	{ STA_INS, "INS" },
	{ STA_DEL, "DEL" },
	{ STA_UNSYNC, "UNSYNC" },
	{ STA_FREQHOLD, "FREQHOLD" },
	{ STA_PPSSIGNAL, "PPSSIGNAL" },
	{ STA_PPSJITTER, "PPSJITTER" },
	{ STA_PPSWANDER, "PPSWANDER" },
	{ STA_PPSERROR, "PPSERROR" },
	{ STA_CLOCKERR, "CLOCKERR" },
	{ STA_NANO, "NANO" },
	{ STA_MODE, "MODE" },
	{ STA_CLK, "CLK" },
};

static void sta_text(int32_t status, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(sta_bits) / sizeof(sta_bits[0]); i++)
		if ((uint32_t)status & sta_bits[i].bit)
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? " " : "", sta_bits[i].name);
}

static void sta_json(struct jw *w, const char *key, int32_t status)
{
	bits_json(w, key, sta_bits, sizeof(sta_bits) / sizeof(sta_bits[0]), (uint32_t)status);
}

/* chronyc's leap status, from the state machine and the status bits. */
static const char *leap_name(int32_t time_state, int32_t sta, bool text)
{
	if (time_state == TIME_OOP)
		return text ? "Leap second in progress" : "in_progress";
	if (time_state == TIME_WAIT)
		return text ? "Leap second done" : "done";
	if (time_state == TIME_INS || (sta & STA_INS))
		return text ? "Insert second" : "insert";
	if (time_state == TIME_DEL || (sta & STA_DEL))
		return text ? "Delete second" : "delete";
	if (time_state == TIME_ERROR || (sta & STA_UNSYNC))
		return text ? "Not synchronised" : "unsynchronized";
	return text ? "Normal" : "normal";
}

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts_to_ns(&ts);
}

/* ---------------------------------------------------------------------- */
/* status */

static int cmd_status(void)
{
	struct tk_ctl_hello hello;
	struct tk_ctl_status s;
	struct ctlc_reply r;
	struct timekeeper *tk = NULL;
	struct tk_status ps;
	char source[TK_CTL_NAME_LEN], override[TK_CTL_NAME_LEN], version[sizeof(hello.version)];
	char pagesrc[sizeof(ps.source)], sta[200];
	int rc, perr;
	int64_t mono;
	double freq_ppm;

	rc = request("hello", TK_CTL_HELLO, NULL, 0, sizeof(hello), 0, 0, &r);
	if (rc)
		return rc;
	memcpy(&hello, r.payload, sizeof(hello));
	rc = request("status", TK_CTL_STATUS, NULL, 0, sizeof(s), 0, 0, &r);
	if (rc)
		return rc;
	memcpy(&s, r.payload, sizeof(s));
	ctlw_copy_str(source, sizeof(source), s.source, sizeof(s.source));
	ctlw_copy_str(override, sizeof(override), s.override, sizeof(s.override));
	ctlw_copy_str(version, sizeof(version), hello.version, sizeof(hello.version));
	freq_ppm = (double)s.freq_scaled_ppm / 65536.0;
	sta_text(s.ntp_status, sta, sizeof(sta));

	memset(&ps, 0, sizeof(ps));
	perr = tk_open(page_path, &tk);
	if (perr == 0) {
		perr = tk_status(tk, &ps);
		tk_close(tk);
	}
	mono = now_ns(CLOCK_MONOTONIC);
	ctlw_copy_str(pagesrc, sizeof(pagesrc), ps.source, sizeof(ps.source));

	if (json) {
		struct jw w;

		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_object(&w, "daemon");
		jw_int(&w, "pid", hello.pid);
		jw_str(&w, "version", version);
		jw_uint(&w, "protocol", TK_CTL_VERSION);
		jw_uint(&w, "uptime_ns", s.uptime_ns);
		jw_bool(&w, "may_change", hello.may_change != 0);
		jw_end(&w);
		jw_str(&w, "source", source);
		jw_str(&w, "override", override[0] ? override : NULL);
		jw_str(&w, "clock_mode", ctlw_mode_name(s.clock_mode));
		jw_str(&w, "reference", ctlw_ref_name(s.reference));
		jw_double(&w, "frequency_ppm", freq_ppm, 6);
		jw_int(&w, "frequency_scaled_ppm", s.freq_scaled_ppm);
		jw_int(&w, "last_offset_ns", s.last_offset_ns);
		jw_int(&w, "last_window_ns", s.last_window_ns);
		jw_int(&w, "maxerror_us", s.maxerror_us);
		jw_int(&w, "esterror_us", s.esterror_us);
		jw_bool(&w, "synchronized", s.synchronized != 0);
		jw_object(&w, "bound");
		jw_str(&w, "status", bound_status_name(s.bound_status));
		if (s.bound_ns == INT64_MAX)
			jw_null(&w, "bound_ns");
		else
			jw_int(&w, "bound_ns", s.bound_ns);
		jw_uint(&w, "drift_ppb", s.bound_drift_ppb);
		jw_end(&w);
		jw_int(&w, "ntp_status", s.ntp_status);
		sta_json(&w, "ntp_status_flags", s.ntp_status);
		jw_str(&w, "time_state", time_state_name(s.time_state));
		jw_str(&w, "leap", leap_name(s.time_state, s.ntp_status, false));
		jw_int(&w, "tai_offset_s", s.tai_offset);
		jw_int(&w, "time_constant", s.time_constant);
		jw_uint(&w, "update_interval_ns", s.update_interval_ns);
		jw_uint(&w, "disruption", s.disruption);
		jw_int(&w, "loop_late_recent_ns", s.loop_late_recent_ns);
		jw_int(&w, "loop_late_max_ns", s.loop_late_max_ns);
		if (s.tsc_calibrated_hz) {
			jw_object(&w, "tsc");
			jw_uint(&w, "calibrated_hz", s.tsc_calibrated_hz);
			jw_uint(&w, "uncertainty_ppb", s.tsc_uncertainty_ppb);
			jw_end(&w);
		} else {
			jw_null(&w, "tsc");
		}
		jw_object(&w, "page");
		jw_str(&w, "path", page_path);
		if (perr) {
			jw_str(&w, "liveness", "error");
			jw_str(&w, "error", strerror(-perr));
		} else {
			jw_str(&w, "liveness", liveness_name(ps.source_kind));
			jw_bool(&w, "synchronized", ps.synchronized != 0);
			jw_str(&w, "clock_mode", ctlw_mode_name(ps.clock_mode));
			jw_str(&w, "source", pagesrc);
			jw_int(&w, "writer_pid", ps.writer_pid);
			jw_uint(&w, "disruption", ps.disruption);
			jw_uint(&w, "last_update_ns", ps.last_update_ns);
			jw_uint(&w, "valid_until_ns", ps.valid_until_ns);
			if (ps.source_kind != TK_SOURCE_NO_PAGE) {
				jw_int(&w, "age_ns", mono - (int64_t)ps.last_update_ns);
				jw_int(&w, "valid_for_ns", (int64_t)ps.valid_until_ns - mono);
			} else {
				jw_null(&w, "age_ns");
				jw_null(&w, "valid_for_ns");
			}
		}
		jw_end(&w);
		jw_finish(&w);
		return EX_OK;
	}

	printf("Source          : %s (%s)\n", source[0] ? source : "-",
	       override[0] ? "override" : "by rating");
	if (override[0] && strcmp(override, source) != 0)
		printf("Override        : %s (not in use)\n", override);
	else if (override[0])
		printf("Override        : %s\n", override);
	printf("Clock mode      : %s\n", ctlw_mode_name(s.clock_mode));
	printf("Reference       : %s\n", ctlw_ref_name(s.reference));
	/* The correction, with adjtimex's sign as everywhere in timectl, then
	 * what it means for the counter (as chronyc says it): a negative
	 * correction slows the clock down because the counter runs fast. */
	printf("Frequency       : %+.3f ppm (the counter alone runs %.3f ppm %s)\n", freq_ppm,
	       fabs(freq_ppm), freq_ppm < 0 ? "fast" : "slow");
	printf("Last offset     : %+.9f seconds (read window %.9f s)\n",
	       (double)s.last_offset_ns / 1e9, (double)s.last_window_ns / 1e9);
	printf("Max error       : %.6f seconds\n", (double)s.maxerror_us / 1e6);
	printf("Est error       : %.6f seconds\n", (double)s.esterror_us / 1e6);
	if (s.bound_ns == INT64_MAX)
		printf("Error bound     : none (%s)\n", bound_status_name(s.bound_status));
	else
		printf("Error bound     : %.9f seconds (%s), growing %.3f ppm\n",
		       (double)s.bound_ns / 1e9, bound_status_name(s.bound_status),
		       (double)s.bound_drift_ppb / 1000);
	printf("Sync state      : %s (status 0x%04x: %s; %s)\n",
	       s.synchronized ? "synchronized" : "not synchronized", (unsigned)s.ntp_status,
	       sta[0] ? sta : "-", time_state_name(s.time_state));
	printf("Leap status     : %s\n", leap_name(s.time_state, s.ntp_status, true));
	printf("TAI offset      : %d seconds\n", s.tai_offset);
	printf("Update interval : %.1f ms (time constant %d)\n", (double)s.update_interval_ns / 1e6,
	       s.time_constant);
	printf("Loop lateness   : %.3f ms worst in the last minute, %.3f ms since the start\n",
	       (double)s.loop_late_recent_ns / 1e6, (double)s.loop_late_max_ns / 1e6);
	if (s.tsc_calibrated_hz)
		printf("TSC calibration : %" PRIu64 " Hz +- %.1f ppb\n", s.tsc_calibrated_hz,
		       (double)s.tsc_uncertainty_ppb);
	else
		printf("TSC calibration : none\n");
	if (perr) {
		printf("Page            : %s: %s\n", page_path, strerror(-perr));
	} else if (ps.source_kind == TK_SOURCE_NO_PAGE) {
		printf("Page            : missing (%s)\n", page_path);
	} else {
		printf("Page            : %s, updated %.1f ms ago, valid for %.1f ms more\n",
		       liveness_name(ps.source_kind),
		       (double)(mono - (int64_t)ps.last_update_ns) / 1e6,
		       (double)((int64_t)ps.valid_until_ns - mono) / 1e6);
		printf("Page clock      : mode %s, source %s, disruption %" PRIu64
		       ", writer pid %d\n",
		       ctlw_mode_name(ps.clock_mode), pagesrc[0] ? pagesrc : "-", ps.disruption,
		       ps.writer_pid);
	}
	printf("Daemon          : pid %d, version %s, up %.1f s%s\n", hello.pid, version,
	       (double)s.uptime_ns / 1e9, hello.may_change ? "" : " (you may not change it)");
	return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* sources */

static const struct bit_name srcf_bits[] = {
	{ TK_CTL_SRCF_WATCHDOG, "watchdog" },	    { TK_CTL_SRCF_OVERRIDE, "override" },
	{ TK_CTL_SRCF_SIMULATED, "simulated" },	    { TK_CTL_SRCF_CLIENT_READ, "client_read" },
	{ TK_CTL_SRCF_MUST_VERIFY, "must_verify" }, { TK_CTL_SRCF_CALIBRATED, "calibrated" },
};

/* The kernel's own view of the TSC, from sysfs on this machine (the daemon
 * does not read it): its current clocksource and whether "tsc" is among
 * those it still offers. A TSC the kernel marked unstable is no longer
 * listed. Returns false when sysfs cannot be read. */
#define KERNEL_CS_DIR "/sys/devices/system/clocksource/clocksource0/"

static bool kernel_tsc_view(char *current, size_t len, bool *listed)
{
	char avail[512], *tok, *save = NULL;
	FILE *f;

	f = fopen(KERNEL_CS_DIR "current_clocksource", "re");
	if (!f || !fgets(current, (int)len, f)) {
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	current[strcspn(current, " \n")] = '\0';
	f = fopen(KERNEL_CS_DIR "available_clocksource", "re");
	if (!f || !fgets(avail, sizeof(avail), f)) {
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	*listed = false;
	for (tok = strtok_r(avail, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, "tsc") == 0)
			*listed = true;
	return true;
}

static const char *kernel_tsc_verdict(const char *current, bool listed)
{
	if (strcmp(current, "tsc") == 0)
		return "in use";
	return listed ? "not in use (available)" : "rejected (not offered: unstable or unusable)";
}

static int cmd_sources(void)
{
	struct tk_ctl_sources head;
	struct ctlc_reply r;
	struct jw w;
	char current[TK_CTL_NAME_LEN] = "";
	int rc;

	rc = request("sources", TK_CTL_SOURCES, NULL, 0, sizeof(head), sizeof(struct tk_ctl_source),
		     offsetof(struct tk_ctl_sources, count), &r);
	if (rc)
		return rc;
	memcpy(&head, r.payload, sizeof(head));

	if (json) {
		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
	} else {
		printf("  %-10s %9s %16s %10s %-9s %7s %6s %6s %10s %s\n", "NAME", "RATING",
		       "FREQ_HZ", "+-PPB", "STATE", "CHECKS", "SKIPS", "FAILS", "MAX_SKEW",
		       "VERDICT");
	}
	for (uint32_t i = 0; i < head.count; i++) {
		struct tk_ctl_source s;
		char name[TK_CTL_NAME_LEN], reason[TK_CTL_MESSAGE_LEN], last[TK_CTL_MESSAGE_LEN];
		char rating[32], unc[32], kcur[64];
		bool kview = false, klisted = false;

		memcpy(&s, r.payload + sizeof(head) + i * sizeof(s), sizeof(s));
		ctlw_copy_str(name, sizeof(name), s.name, sizeof(s.name));
		ctlw_copy_str(reason, sizeof(reason), s.reason, sizeof(s.reason));
		ctlw_copy_str(last, sizeof(last), s.last_verdict, sizeof(s.last_verdict));
		if (s.state == TK_CTL_SRC_CURRENT)
			memcpy(current, name, sizeof(name));
		/* A simulated TSC is not the one the kernel judged. */
		if (strcmp(name, "tsc") == 0 && !(s.flags & TK_CTL_SRCF_SIMULATED) &&
		    s.state != TK_CTL_SRC_UNUSABLE)
			kview = kernel_tsc_view(kcur, sizeof(kcur), &klisted);
		if (json) {
			if (i == 0)
				jw_array(&w, "sources");
			jw_object(&w, NULL);
			jw_str(&w, "name", name);
			jw_bool(&w, "current", s.state == TK_CTL_SRC_CURRENT);
			jw_str(&w, "state", state_name(s.state));
			jw_str(&w, "reason", reason[0] ? reason : NULL);
			jw_int(&w, "rating", s.rating);
			jw_int(&w, "effective_rating", s.effective_rating);
			bits_json(&w, "flags", srcf_bits, sizeof(srcf_bits) / sizeof(srcf_bits[0]),
				  s.flags);
			jw_uint(&w, "bits", s.bits);
			jw_uint(&w, "mult", s.mult);
			jw_uint(&w, "shift", s.shift);
			jw_uint(&w, "nominal_hz", s.nominal_hz);
			jw_uint(&w, "hz", s.hz);
			jw_uint(&w, "uncertainty_ppb", s.uncertainty_ppb);
			jw_uint(&w, "max_idle_ns", s.max_idle_ns);
			jw_object(&w, "watchdog");
			jw_uint(&w, "checks", s.wd_checks);
			jw_uint(&w, "skips", s.wd_skips);
			jw_uint(&w, "failures", s.wd_failures);
			jw_uint(&w, "retries", s.wd_retries);
			jw_uint(&w, "max_skew_ns", s.wd_max_skew_ns);
			jw_str(&w, "verdict", verdict_name(s.verdict));
			jw_str(&w, "last_verdict", last[0] ? last : NULL);
			jw_end(&w);
			if (kview) {
				jw_object(&w, "kernel");
				jw_str(&w, "current_clocksource", kcur);
				jw_bool(&w, "tsc_offered", klisted);
				jw_str(&w, "verdict", kernel_tsc_verdict(kcur, klisted));
				jw_end(&w);
			}
			jw_end(&w);
			continue;
		}
		snprintf(rating, sizeof(rating), "%d/%d", s.effective_rating, s.rating);
		if (s.uncertainty_ppb)
			snprintf(unc, sizeof(unc), "%" PRIu64, s.uncertainty_ppb);
		else
			snprintf(unc, sizeof(unc), "-");
		printf("%c %-10s %9s %16" PRIu64 " %10s %-9s %7" PRIu64 " %6" PRIu64 " %6" PRIu64
		       " %10" PRIu64 " %s\n",
		       s.state == TK_CTL_SRC_CURRENT ? '*' : ' ', name, rating, s.hz, unc,
		       state_name(s.state), s.wd_checks, s.wd_skips, s.wd_failures,
		       s.wd_max_skew_ns, verdict_name(s.verdict));
		if ((s.state == TK_CTL_SRC_UNSTABLE || s.state == TK_CTL_SRC_UNUSABLE) && reason[0])
			printf("           %s: %s\n", state_name(s.state), reason);
		if (last[0] && s.verdict != TK_CTL_VERDICT_NONE)
			printf("           last verdict: %s\n", last);
		if (kview && strcmp(kcur, "tsc") != 0 && s.state != TK_CTL_SRC_UNSTABLE &&
		    s.state != TK_CTL_SRC_UNBOUND)
			printf("           kernel: %s, on %s; kept on: the watchdog, %" PRIu64
			       " checks, %" PRIu64 " failures, largest skew %" PRIu64
			       " ns (no warp test in the daemon)\n",
			       kernel_tsc_verdict(kcur, klisted), kcur, s.wd_checks, s.wd_failures,
			       s.wd_max_skew_ns);
		else if (kview)
			printf("           kernel: %s, on %s\n", kernel_tsc_verdict(kcur, klisted),
			       kcur);
	}
	if (json) {
		if (head.count == 0)
			jw_array(&w, "sources");
		jw_end(&w);
		jw_str(&w, "current", current[0] ? current : NULL);
		jw_finish(&w);
	} else if (!current[0]) {
		printf("no current source\n");
	}
	return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* Changes: switch, unbind, readmit, recalibrate. */

static int change_done(const struct ctlc_reply *r, const char *fallback)
{
	if (json) {
		struct jw w;

		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_int(&w, "status", 0);
		jw_str(&w, "message", r->message[0] ? r->message : fallback);
		jw_finish(&w);
	} else {
		printf("%s\n", r->message[0] ? r->message : fallback);
	}
	return EX_OK;
}

static int cmd_name(const char *cmd, uint16_t type, const char *name)
{
	struct tk_ctl_name req;
	struct ctlc_reply r;
	char what[64 + TK_CTL_NAME_LEN], done[80 + TK_CTL_NAME_LEN];
	int rc;

	if (strlen(name) >= TK_CTL_NAME_LEN) {
		fprintf(stderr, "timectl: %s: source name '%.40s...' is %zu bytes, at most %d\n",
			cmd, name, strlen(name), TK_CTL_NAME_LEN - 1);
		return EX_USAGE;
	}
	memset(&req, 0, sizeof(req));
	strcpy(req.name, name);
	if (name[0])
		snprintf(what, sizeof(what), "%s %s", cmd, name);
	else
		snprintf(what, sizeof(what), "%s --auto", cmd);
	rc = request(what, type, &req, sizeof(req), 0, 0, 0, &r);
	if (rc)
		return rc;
	snprintf(done, sizeof(done), "%s: done", what);
	return change_done(&r, done);
}

static int cmd_recalibrate(void)
{
	struct ctlc_reply r;
	int rc = request("recalibrate", TK_CTL_RECALIBRATE, NULL, 0, 0, 0, 0, &r);

	return rc ? rc : change_done(&r, "recalibrate: done");
}

/* ---------------------------------------------------------------------- */
/* timers */

struct timer_row {
	struct tk_ctl_timer t;
	int64_t soft_left_ns, left_ns; /* expiry - the base's now at the listing */
};

#define TIMERS_MAX 65536

static int cmd_timers(void)
{
	struct tk_ctl_timers head, first;
	struct tk_ctl_timers_req req;
	struct ctlc_reply r;
	struct timer_row *rows = NULL;
	size_t n = 0, cap = 0, clients = 0;
	uint32_t offset = 0;
	int rc, pages = 0;

	memset(&first, 0, sizeof(first));
	for (;;) {
		memset(&req, 0, sizeof(req));
		req.offset = offset;
		rc = request("timers", TK_CTL_TIMERS, &req, sizeof(req), sizeof(head),
			     sizeof(struct tk_ctl_timer), offsetof(struct tk_ctl_timers, count),
			     &r);
		if (rc) {
			free(rows);
			return rc;
		}
		memcpy(&head, r.payload, sizeof(head));
		if (pages++ == 0)
			first = head;
		for (uint32_t i = 0; i < head.count && n < TIMERS_MAX; i++) {
			struct timer_row *row;
			int64_t base_now;

			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct timer_row *nr = realloc(rows, ncap * sizeof(*rows));

				if (!nr) {
					free(rows);
					fprintf(stderr, "timectl: timers: out of memory\n");
					return EX_ERROR;
				}
				rows = nr;
				cap = ncap;
			}
			row = &rows[n++];
			memcpy(&row->t, r.payload + sizeof(head) + i * sizeof(row->t),
			       sizeof(row->t));
			base_now = (int64_t)head.now_mono_ns +
				   (row->t.base < 4 ? head.offset_ns[row->t.base] : 0);
			row->soft_left_ns = row->t.soft_expires_ns - base_now;
			row->left_ns = row->t.expires_ns - base_now;
		}
		offset += head.count;
		/* Until all are listed; a queue that changes between pages ends the
		 * listing where it ends. */
		if (head.count == 0 || offset >= head.total || n >= TIMERS_MAX || pages > 4096)
			break;
	}

	if (json) {
		struct jw w;

		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_uint(&w, "now_mono_ns", first.now_mono_ns);
		if (first.next_event_ns == INT64_MAX) {
			jw_null(&w, "next_event_ns");
			jw_null(&w, "next_event_in_ns");
		} else {
			jw_int(&w, "next_event_ns", first.next_event_ns);
			jw_int(&w, "next_event_in_ns",
			       first.next_event_ns - (int64_t)first.now_mono_ns);
		}
		jw_uint(&w, "total", first.total);
		jw_uint(&w, "pages", (uint64_t)pages);
		jw_array(&w, "bases");
		for (uint32_t b = 0; b < 4; b++) {
			jw_object(&w, NULL);
			jw_uint(&w, "index", b);
			jw_str(&w, "name", base_name(b));
			jw_int(&w, "offset_ns", first.offset_ns[b]);
			jw_end(&w);
		}
		jw_end(&w);
		jw_array(&w, "timers");
		for (size_t i = 0; i < n; i++) {
			char name[TK_CTL_NAME_LEN];

			ctlw_copy_str(name, sizeof(name), rows[i].t.name, sizeof(rows[i].t.name));
			jw_object(&w, NULL);
			jw_str(&w, "name", name);
			jw_str(&w, "base", base_name(rows[i].t.base));
			jw_uint(&w, "state", rows[i].t.state);
			jw_int(&w, "owner_pid", rows[i].t.owner_pid);
			jw_bool(&w, "client", rows[i].t.owner_pid != 0);
			jw_int(&w, "soft_expires_ns", rows[i].t.soft_expires_ns);
			jw_int(&w, "expires_ns", rows[i].t.expires_ns);
			jw_int(&w, "soft_left_ns", rows[i].soft_left_ns);
			jw_int(&w, "left_ns", rows[i].left_ns);
			jw_int(&w, "period_ns", rows[i].t.period_ns);
			jw_end(&w);
		}
		jw_end(&w);
		jw_finish(&w);
		free(rows);
		return EX_OK;
	}

	printf("Timer List Version: timekeeperd control protocol %u\n", TK_CTL_VERSION);
	printf("now at %" PRIu64 " nsecs (the daemon's CLOCK_MONOTONIC)\n", first.now_mono_ns);
	if (first.next_event_ns == INT64_MAX)
		printf("next event: none\n");
	else
		printf("next event: %" PRId64 " nsecs (in %" PRId64 " nsecs)\n",
		       first.next_event_ns, first.next_event_ns - (int64_t)first.now_mono_ns);
	for (uint32_t b = 0; b < 4; b++) {
		int k = 0;

		printf("\nclock %u:\n  .base:       CLOCK_%s\n  .offset:     %" PRId64 " nsecs\n",
		       b,
		       b == 0	? "MONOTONIC"
		       : b == 1 ? "REALTIME"
		       : b == 2 ? "BOOTTIME"
				: "TAI",
		       first.offset_ns[b]);
		printf("active timers:\n");
		for (size_t i = 0; i < n; i++) {
			const struct timer_row *row = &rows[i];
			char name[TK_CTL_NAME_LEN];

			if (row->t.base != b)
				continue;
			ctlw_copy_str(name, sizeof(name), row->t.name, sizeof(row->t.name));
			printf(" #%d: %s, S:%02x, owner pid %d (%s)", k++,
			       name[0] ? name : "<unnamed>", row->t.state, row->t.owner_pid,
			       row->t.owner_pid ? "a client" : "the daemon");
			if (row->t.period_ns)
				printf(", period %" PRId64 " nsecs\n", row->t.period_ns);
			else
				printf(", one-shot\n");
			printf(" # expires at %" PRId64 "-%" PRId64 " nsecs [in %" PRId64
			       " to %" PRId64 " nsecs]\n",
			       row->t.soft_expires_ns, row->t.expires_ns, row->soft_left_ns,
			       row->left_ns);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].t.base >= 4)
			printf("\ntimer with unknown base %u skipped\n", rows[i].t.base);
	for (size_t i = 0; i < n; i++)
		clients += rows[i].t.owner_pid != 0;
	printf("\n%zu of %u timers listed, %zu of them clients'\n", n, first.total, clients);
	free(rows);
	return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* adjtime */

static void adjtime_json(struct jw *w, const char *key, const struct tk_ctl_adjtime *a)
{
	const struct tk_ctl_timex *t = &a->tx;

	jw_object(w, key);
	jw_int(w, "return", a->state);
	jw_str(w, "time_state", time_state_name(a->state));
	jw_uint(w, "modes", t->modes);
	jw_int(w, "offset", t->offset);
	jw_str(w, "offset_unit", (t->status & STA_NANO) ? "ns" : "us");
	jw_int(w, "freq", t->freq);
	jw_double(w, "frequency_ppm", (double)t->freq / 65536.0, 6);
	jw_int(w, "maxerror_us", t->maxerror);
	jw_int(w, "esterror_us", t->esterror);
	jw_int(w, "status", t->status);
	sta_json(w, "status_flags", t->status);
	jw_int(w, "constant", t->constant);
	jw_int(w, "precision_us", t->precision);
	jw_int(w, "tolerance", t->tolerance);
	jw_int(w, "tick_us", t->tick);
	jw_int(w, "tai_s", t->tai);
	jw_int(w, "time_sec", t->time_sec);
	jw_int(w, "time_usec", t->time_usec);
	jw_end(w);
}

static void adjtime_text(const struct tk_ctl_adjtime *a)
{
	const struct tk_ctl_timex *t = &a->tx;
	char sta[200];

	sta_text(t->status, sta, sizeof(sta));
	printf("         mode: %u\n", t->modes);
	printf("       offset: %" PRId64 " %s\n", t->offset, (t->status & STA_NANO) ? "ns" : "us");
	printf("    frequency: %" PRId64 " (%.6f ppm)\n", t->freq, (double)t->freq / 65536.0);
	printf("     maxerror: %" PRId64 " us\n", t->maxerror);
	printf("     esterror: %" PRId64 " us\n", t->esterror);
	printf("       status: %d (%s)\n", t->status, sta[0] ? sta : "-");
	printf("time_constant: %" PRId64 "\n", t->constant);
	printf("    precision: %" PRId64 " us\n", t->precision);
	printf("    tolerance: %" PRId64 " (%.1f ppm)\n", t->tolerance,
	       (double)t->tolerance / 65536.0);
	printf("         tick: %" PRId64 " us\n", t->tick);
	printf("          tai: %d s\n", t->tai);
	printf("     raw time: %" PRId64 "s %" PRId64 "%s\n", t->time_sec, t->time_usec,
	       (t->status & STA_NANO) ? "ns" : "us");
	printf(" return value = %d (%s)\n", a->state, time_state_name(a->state));
}

static int parse_i64(const char *opt, const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "timectl: adjtime %s: '%s' is not an integer\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_double(const char *opt, const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*out)) {
		fprintf(stderr, "timectl: adjtime %s: '%s' is not a number\n", opt, s);
		return -1;
	}
	return 0;
}

static void adjtime_usage(void)
{
	fputs("Usage: timectl [-r DIR] [--json] adjtime [OPTIONS]\n"
	      "Without options, read the discipline state; with them, write it (adjtimex(2)):\n"
	      "  --offset N          ADJ_OFFSET, us (ns with STA_NANO)\n"
	      "  --freq, --frequency PPM   ADJ_FREQUENCY, the correction, within +-500\n"
	      "  --maxerror US       ADJ_MAXERROR\n"
	      "  --esterror US       ADJ_ESTERROR\n"
	      "  --status BITS       ADJ_STATUS, the STA_ bits\n"
	      "  --constant N        ADJ_TIMECONST, 0..10\n"
	      "  --tai S             ADJ_TAI, the TAI offset\n"
	      "  --tick US           ADJ_TICK\n"
	      "  --step SECONDS      ADJ_SETOFFSET: step REALTIME\n"
	      "  --singleshot US     ADJ_OFFSET_SINGLESHOT: adjtime(3)'s slew, alone\n"
	      "  --nano, --micro     offsets in ns or us\n"
	      "  --json              one JSON object on standard output\n"
	      "See timectl(1).\n",
	      stdout);
}

static int cmd_adjtime(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "freq", required_argument, NULL, 'f' },
		{ "frequency", required_argument, NULL, 'f' },
		{ "maxerror", required_argument, NULL, 'm' },
		{ "esterror", required_argument, NULL, 'e' },
		{ "status", required_argument, NULL, 's' },
		{ "constant", required_argument, NULL, 'c' },
		{ "tai", required_argument, NULL, 'a' },
		{ "tick", required_argument, NULL, 't' },
		{ "step", required_argument, NULL, 'S' },
		{ "singleshot", required_argument, NULL, '1' },
		{ "nano", no_argument, NULL, 'n' },
		{ "micro", no_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tk_ctl_timex req;
	struct tk_ctl_adjtime a;
	struct ctlc_reply r;
	int64_t v;
	double d;
	int opt, rc;
	bool step_nano = false;
	double step_s = 0;
	int64_t tai_s = 0;

	memset(&req, 0, sizeof(req));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (parse_i64("--offset", optarg, &req.offset))
				return EX_USAGE;
			req.modes |= ADJ_OFFSET;
			break;
		case 'f':
			if (parse_double("--freq", optarg, &d))
				return EX_USAGE;
			if (fabs(d) > 32768) {
				fprintf(stderr, "timectl: adjtime --freq: %s ppm outside +-32768\n",
					optarg);
				return EX_USAGE;
			}
			req.freq = (int64_t)llround(d * 65536.0);
			req.modes |= ADJ_FREQUENCY;
			break;
		case 'm':
			if (parse_i64("--maxerror", optarg, &req.maxerror))
				return EX_USAGE;
			req.modes |= ADJ_MAXERROR;
			break;
		case 'e':
			if (parse_i64("--esterror", optarg, &req.esterror))
				return EX_USAGE;
			req.modes |= ADJ_ESTERROR;
			break;
		case 's':
			if (parse_i64("--status", optarg, &v))
				return EX_USAGE;
			if (v < INT32_MIN || v > INT32_MAX) {
				fprintf(stderr, "timectl: adjtime --status: %s outside 32 bits\n",
					optarg);
				return EX_USAGE;
			}
			req.status = (int32_t)v;
			req.modes |= ADJ_STATUS;
			break;
		case 'c':
			if (parse_i64("--constant", optarg, &req.constant))
				return EX_USAGE;
			req.modes |= ADJ_TIMECONST;
			break;
		case 'a':
			if (parse_i64("--tai", optarg, &v))
				return EX_USAGE;
			if (v < INT32_MIN || v > INT32_MAX) {
				fprintf(stderr, "timectl: adjtime --tai: %s outside 32 bits\n",
					optarg);
				return EX_USAGE;
			}
			/* adjtimex(2) takes the TAI offset of ADJ_TAI from `constant`. */
			req.tai = (int32_t)v;
			tai_s = v;
			req.modes |= ADJ_TAI;
			break;
		case 't':
			if (parse_i64("--tick", optarg, &req.tick))
				return EX_USAGE;
			req.modes |= ADJ_TICK;
			break;
		case 'S':
			if (parse_double("--step", optarg, &step_s))
				return EX_USAGE;
			if (fabs(step_s) > 1e9) {
				fprintf(stderr, "timectl: adjtime --step: %s s is too large\n",
					optarg);
				return EX_USAGE;
			}
			req.modes |= ADJ_SETOFFSET;
			break;
		case '1':
			if (parse_i64("--singleshot", optarg, &req.offset))
				return EX_USAGE;
			req.modes |= ADJ_OFFSET_SINGLESHOT;
			break;
		case 'n':
			req.modes |= ADJ_NANO;
			step_nano = true;
			break;
		case 'u':
			req.modes |= ADJ_MICRO;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			adjtime_usage();
			return EX_OK;
		default:
			fprintf(stderr,
				"timectl: adjtime: see timectl adjtime --help and timectl(1)\n");
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("adjtime: unexpected argument '%s'", argv[optind]);
	if ((req.modes & ADJ_OFFSET_SINGLESHOT) == ADJ_OFFSET_SINGLESHOT &&
	    (req.modes & ~(unsigned)ADJ_OFFSET_SINGLESHOT)) {
		fprintf(stderr,
			"timectl: adjtime: --singleshot goes alone (adjtime(3) semantics)\n");
		return EX_USAGE;
	}
	if ((req.modes & ADJ_TAI) && (req.modes & ADJ_TIMECONST)) {
		fprintf(stderr,
			"timectl: adjtime: --tai and --constant exclude each other (adjtimex "
			"takes both from the constant field)\n");
		return EX_USAGE;
	}
	if (req.modes & ADJ_TAI)
		req.constant = tai_s;
	if ((req.modes & ADJ_NANO) && (req.modes & ADJ_MICRO)) {
		fprintf(stderr, "timectl: adjtime: --nano and --micro exclude each other\n");
		return EX_USAGE;
	}
	if (req.modes & ADJ_SETOFFSET) {
		/* time_sec + time_usec with 0 <= time_usec < 1 s, as adjtimex wants. */
		double unit = step_nano ? 1e9 : 1e6;
		int64_t total = (int64_t)llround(step_s * unit), per = (int64_t)unit;

		req.time_sec = total / per;
		req.time_usec = total % per;
		if (req.time_usec < 0) {
			req.time_usec += per;
			req.time_sec -= 1;
		}
	}

	rc = request(req.modes ? "adjtime (write)" : "adjtime", TK_CTL_ADJTIME, &req, sizeof(req),
		     sizeof(a), 0, 0, &r);
	if (rc)
		return rc;
	memcpy(&a, r.payload, sizeof(a));
	if (json) {
		struct jw w;

		jw_init(&w, stdout, JSON_SCHEMA);
		if (req.modes) {
			jw_object(&w, NULL);
			jw_int(&w, "status", 0);
			jw_str(&w, "message", r.message[0] ? r.message : "adjtime: done");
			adjtime_json(&w, "adjtime", &a);
		} else {
			adjtime_json(&w, NULL, &a);
		}
		jw_finish(&w);
		return EX_OK;
	}
	if (req.modes && r.message[0])
		printf("%s\n", r.message);
	adjtime_text(&a);
	return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* read */

static const struct {
	const char *name;
	clockid_t id;
} clocks[] = {
	{ "realtime", CLOCK_REALTIME },
	{ "monotonic", CLOCK_MONOTONIC },
	{ "monotonic_raw", CLOCK_MONOTONIC_RAW },
	{ "boottime", CLOCK_BOOTTIME },
	{ "tai", CLOCK_TAI },
	{ "realtime_coarse", CLOCK_REALTIME_COARSE },
	{ "monotonic_coarse", CLOCK_MONOTONIC_COARSE },
};
#define NCLOCKS (sizeof(clocks) / sizeof(clocks[0]))

/* tk_reading.status, as timekeeper.h names it. */
static const char *reading_status_name(int st)
{
	switch (st) {
	case TK_CLOCK_SYNCHRONIZED:
		return "synchronized";
	case TK_CLOCK_FREE_RUNNING:
		return "free_running";
	case TK_CLOCK_DISRUPTED:
		return "disrupted";
	default:
		return "unknown";
	}
}

static int cmd_read(const char *which)
{
	struct timekeeper *tk;
	struct tk_status st;
	struct jw w;
	size_t first = 0, last = NCLOCKS;
	int err;

	if (which) {
		for (first = 0; first < NCLOCKS; first++)
			if (strcmp(clocks[first].name, which) == 0)
				break;
		if (first == NCLOCKS)
			return usage_error("read: unknown clock '%s' (realtime, monotonic, "
					   "monotonic_raw, boottime, tai, realtime_coarse, "
					   "monotonic_coarse)",
					   which);
		last = first + 1;
	}
	err = tk_open(page_path, &tk);
	if (err) {
		fprintf(stderr, "timectl: read: cannot use the page %s: %s\n", page_path,
			err == -EPROTO ? "not a timekeeper page of this version" : strerror(-err));
		return EX_ERROR;
	}
	tk_status(tk, &st);
	if (json) {
		char src[sizeof(st.source)];

		ctlw_copy_str(src, sizeof(src), st.source, sizeof(st.source));
		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_str(&w, "page", page_path);
		jw_str(&w, "liveness", liveness_name(st.source_kind));
		jw_bool(&w, "from_page", st.source_kind == TK_SOURCE_PAGE);
		jw_str(&w, "source", src);
		jw_str(&w, "clock_mode", ctlw_mode_name(st.clock_mode));
		jw_array(&w, "clocks");
	} else {
		printf("page %s: %s%s\n", page_path, liveness_name(st.source_kind),
		       st.source_kind == TK_SOURCE_PAGE ? "" : " (readings come from the kernel)");
		printf("%-17s %22s %22s %14s %10s %-9s %-12s %s\n", "CLOCK", "PAGE", "KERNEL",
		       "KERNEL-PAGE_NS", "WINDOW_NS", "SOURCE", "STATUS", "BOUND_NS");
	}
	for (size_t i = first; i < last; i++) {
		struct timespec k1, p, k2;
		struct tk_reading rd;
		int64_t mid, diff;

		/* kernel, page, kernel: the difference is to the middle of the two
		 * kernel readings, and the window bounds how far that can be off. The
		 * reading says where it came from (a kernel fallback, and why). */
		clock_gettime(clocks[i].id, &k1);
		err = tk_read(tk, clocks[i].id, &rd);
		clock_gettime(clocks[i].id, &k2);
		p = rd.time;
		if (err) {
			fprintf(stderr, "timectl: read %s: %s\n", clocks[i].name, strerror(-err));
			tk_close(tk);
			return EX_ERROR;
		}
		mid = ts_to_ns(&k1) + (ts_to_ns(&k2) - ts_to_ns(&k1)) / 2;
		diff = mid - ts_to_ns(&p); /* the other clock minus ours, as every offset */
		if (json) {
			jw_object(&w, NULL);
			jw_str(&w, "clock", clocks[i].name);
			jw_int(&w, "page_sec", p.tv_sec);
			jw_int(&w, "page_nsec", p.tv_nsec);
			jw_int(&w, "kernel_sec", mid / NSEC_PER_SEC);
			jw_int(&w, "kernel_nsec", mid % NSEC_PER_SEC);
			jw_int(&w, "diff_ns", diff);
			jw_int(&w, "window_ns", ts_to_ns(&k2) - ts_to_ns(&k1));
			jw_str(&w, "source", liveness_name(rd.source_kind));
			jw_bool(&w, "from_page", rd.source_kind == TK_SOURCE_PAGE);
			jw_str(&w, "status", reading_status_name(rd.status));
			jw_int(&w, "bound_ns", rd.bound_ns);
			jw_end(&w);
		} else {
			char bound[24];

			if (rd.bound_ns == INT64_MAX)
				snprintf(bound, sizeof(bound), "none");
			else
				snprintf(bound, sizeof(bound), "%" PRId64, rd.bound_ns);
			printf("%-17s %12" PRId64 ".%09ld %12" PRId64 ".%09" PRId64 " %+14" PRId64
			       " %10" PRId64 " %-9s %-12s %s\n",
			       clocks[i].name, (int64_t)p.tv_sec, p.tv_nsec, mid / NSEC_PER_SEC,
			       mid % NSEC_PER_SEC, diff, ts_to_ns(&k2) - ts_to_ns(&k1),
			       rd.source_kind == TK_SOURCE_PAGE ? "page"
								: liveness_name(rd.source_kind),
			       reading_status_name(rd.status), bound);
		}
	}
	if (json) {
		jw_end(&w);
		jw_finish(&w);
	}
	tk_close(tk);
	return EX_OK;
}

/* ---------------------------------------------------------------------- */

/* ---------------------------------------------------------------------- */
/* waitsync */

static void waitsync_usage(void)
{
	fputs("Usage: timectl [-r DIR] [--json] waitsync [OPTIONS]\n"
	      "Wait until the page is live and synchronized with a bound within --max-error:\n"
	      "  --max-error US      the largest error bound accepted, us (default 16 s: any)\n"
	      "  --timeout S         give up after S seconds, exit 1 (default 0: never)\n"
	      "  --interval S        seconds between checks (default 1, 0.01..3600)\n"
	      "  --json              one JSON object at the end\n"
	      "See timectl(1).\n",
	      stdout);
}

static int parse_seconds(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*out) || *out < lo || *out > hi) {
		fprintf(stderr, "timectl: waitsync %s: '%s' is not a number within %g..%g\n", opt,
			s, lo, hi);
		return -1;
	}
	return 0;
}

/* One check: the page's REALTIME reading, from the page itself (not a
 * fallback), synchronized, with a bound no larger than max_ns. The reason
 * it is not goes to why. */
static bool waitsync_check(int64_t max_ns, struct tk_reading *rd, char *why, size_t len)
{
	struct timekeeper *tk;
	int err = tk_open(page_path, &tk);

	memset(rd, 0, sizeof(*rd));
	rd->bound_ns = INT64_MAX;
	if (err) {
		snprintf(why, len, "the page %.120s cannot be used: %s", page_path,
			 err == -EPROTO ? "not a timekeeper page of this version" : strerror(-err));
		return false;
	}
	err = tk_read(tk, CLOCK_REALTIME, rd);
	tk_close(tk);
	if (err) {
		snprintf(why, len, "reading the page: %s", strerror(-err));
		return false;
	}
	if (rd->source_kind != TK_SOURCE_PAGE) {
		snprintf(why, len, "page %s: readings come from the kernel",
			 liveness_name(rd->source_kind));
		return false;
	}
	if (rd->status != TK_CLOCK_SYNCHRONIZED) {
		snprintf(why, len, "page fresh, %s", reading_status_name(rd->status));
		return false;
	}
	if (rd->bound_ns > max_ns) {
		snprintf(why, len, "synchronized, bound %.6f s > %.6f s",
			 (double)rd->bound_ns / 1e9, (double)max_ns / 1e9);
		return false;
	}
	snprintf(why, len, "synchronized, bound %.6f s", (double)rd->bound_ns / 1e9);
	return true;
}

static int cmd_waitsync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-error", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double max_us = 16e6, timeout_s = 0, interval_s = 1;
	struct timespec start, now, pause;
	struct tk_reading rd;
	char why[256];
	int64_t waited = 0;
	unsigned int tries = 0;
	bool ok = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (parse_seconds("--max-error", optarg, 1, 16e6, &max_us))
				return EX_USAGE;
			break;
		case 't':
			if (parse_seconds("--timeout", optarg, 0, 1e7, &timeout_s))
				return EX_USAGE;
			break;
		case 'i':
			if (parse_seconds("--interval", optarg, 0.01, 3600, &interval_s))
				return EX_USAGE;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			waitsync_usage();
			return EX_OK;
		default:
			fprintf(stderr, "timectl: waitsync: see timectl waitsync --help\n");
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("waitsync: unexpected argument '%s'", argv[optind]);

	pause.tv_sec = (time_t)interval_s;
	pause.tv_nsec = (long)((interval_s - (double)pause.tv_sec) * 1e9);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		tries++;
		ok = waitsync_check((int64_t)(max_us * 1000.0), &rd, why, sizeof(why));
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = ts_to_ns(&now) - ts_to_ns(&start);
		if (!json)
			printf("try %u: %s\n", tries, why);
		if (ok || (timeout_s > 0 && (double)waited / 1e9 >= timeout_s))
			break;
		fflush(stdout);
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, &pause) == EINTR)
			;
		pause.tv_sec = (time_t)interval_s;
		pause.tv_nsec = (long)((interval_s - (double)pause.tv_sec) * 1e9);
	}
	if (json) {
		struct jw w;

		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_bool(&w, "synchronized", ok);
		jw_uint(&w, "tries", tries);
		jw_int(&w, "waited_ns", waited);
		if (rd.source_kind != TK_SOURCE_PAGE || rd.bound_ns == INT64_MAX)
			jw_null(&w, "bound_ns"); /* a fallback's bound is the kernel's */
		else
			jw_int(&w, "bound_ns", rd.bound_ns);
		jw_str(&w, "message", why);
		jw_end(&w);
		jw_finish(&w);
	}
	if (!ok) {
		fprintf(stderr,
			"timectl: waitsync: gave up after %u tries in %.1f s "
			"(wanted: synchronized, bound <= %.6f s): %s\n",
			tries, (double)waited / 1e9, max_us / 1e6, why);
		return EX_ERROR;
	}
	return EX_OK;
}

/* ---------------------------------------------------------------------- */
/* ntp: the NTP client's servers, like chronyc sources. */

static const char *ntp_state_name(uint32_t s)
{
	switch (s) {
	case TK_CTL_NTP_SELECTED:
		return "selected";
	case TK_CTL_NTP_CANDIDATE:
		return "candidate";
	case TK_CTL_NTP_OUTLIER:
		return "outlier";
	case TK_CTL_NTP_FALSETICKER:
		return "falseticker";
	case TK_CTL_NTP_UNREACHABLE:
		return "unreachable";
	case TK_CTL_NTP_UNUSABLE:
		return "unusable";
	case TK_CTL_NTP_INIT:
		return "init";
	default:
		return "unknown";
	}
}

/* chronyc's column: * selected, + combined, - outlier, x falseticker, ? the rest. */
static char ntp_state_mark(uint32_t s)
{
	switch (s) {
	case TK_CTL_NTP_SELECTED:
		return '*';
	case TK_CTL_NTP_CANDIDATE:
		return '+';
	case TK_CTL_NTP_OUTLIER:
		return '-';
	case TK_CTL_NTP_FALSETICKER:
		return 'x';
	case TK_CTL_NTP_UNREACHABLE:
		return '?';
	case TK_CTL_NTP_UNUSABLE:
		return '~';
	default:
		return ' ';
	}
}

static const struct bit_name ntpf_bits[] = {
	{ TK_CTL_NTPF_IBURST, "iburst" },	{ TK_CTL_NTPF_KOD_RATE, "kod_rate" },
	{ TK_CTL_NTPF_KOD_DENY, "kod_deny" },	{ TK_CTL_NTPF_RESOLVE_FAILED, "resolve_failed" },
	{ TK_CTL_NTPF_XLEAVE, "xleave" },	{ TK_CTL_NTPF_INTERLEAVED, "interleaved" },
	{ TK_CTL_NTPF_RESOLVING, "resolving" }, { TK_CTL_NTPF_PANIC, "panic" },
};

static void refid_text(uint32_t refid, uint32_t stratum, char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)&refid;

	if (stratum <= 1) {
		size_t k = 0;

		for (int i = 0; i < 4 && b[i] && k + 1 < len; i++)
			buf[k++] = (b[i] >= 0x20 && b[i] < 0x7f) ? (char)b[i] : '?';
		buf[k] = '\0';
	} else {
		snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	}
}

/* ns as chronyc prints: the value with a unit that keeps it short. */
static void ns_text(int64_t ns, char *buf, size_t len)
{
	double a = fabs((double)ns);

	if (a < 10000)
		snprintf(buf, len, "%+" PRId64 "ns", ns);
	else if (a < 10000000)
		snprintf(buf, len, "%+.0fus", (double)ns / 1e3);
	else if (a < 10000000000.0)
		snprintf(buf, len, "%+.0fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%+.0fs", (double)ns / 1e9);
}

static void ago_text(uint64_t ns, char *buf, size_t len)
{
	if (ns == UINT64_MAX)
		snprintf(buf, len, "-");
	else if (ns < UINT64_C(1000000000000))
		snprintf(buf, len, "%" PRIu64 "s", ns / NSEC_PER_SEC_U);
	else
		snprintf(buf, len, "%" PRIu64 "m", ns / UINT64_C(60000000000));
}

static int cmd_ntp_server(void)
{
	static const struct {
		const char *name;
		size_t off;
	} rows[] = {
		{ "received", offsetof(struct tk_ctl_ntp_srv, received) },
		{ "requests", offsetof(struct tk_ctl_ntp_srv, requests) },
		{ "replies", offsetof(struct tk_ctl_ntp_srv, replies) },
		{ "interleaved", offsetof(struct tk_ctl_ntp_srv, interleaved) },
		{ "kod_rate", offsetof(struct tk_ctl_ntp_srv, kod) },
		{ "dropped_rate", offsetof(struct tk_ctl_ntp_srv, drop_rate) },
		{ "dropped_acl", offsetof(struct tk_ctl_ntp_srv, drop_acl) },
		{ "dropped_bad", offsetof(struct tk_ctl_ntp_srv, drop_bad) },
		{ "ignored_mode", offsetof(struct tk_ctl_ntp_srv, drop_mode) },
		{ "tx_timestamps", offsetof(struct tk_ctl_ntp_srv, tx_stamps) },
		{ "send_errors", offsetof(struct tk_ctl_ntp_srv, send_errors) },
	};
	struct tk_ctl_ntp_srv s;
	struct ctlc_reply r;
	struct jw w;
	int rc = request("ntp-server", TK_CTL_NTP_SERVER, NULL, 0, sizeof(s), 0, 0, &r);

	if (rc)
		return rc;
	memcpy(&s, r.payload, sizeof(s));
	if (json) {
		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_bool(&w, "enabled", s.enabled != 0);
		jw_uint(&w, "sockets", s.sockets);
		jw_uint(&w, "clients", s.clients);
		jw_uint(&w, "client_log_size", s.client_log_size);
	} else if (!s.enabled) {
		printf("NTP server             : off (no [ntp_server] listen, no socket from "
		       "systemd)\n");
		return EX_OK;
	} else {
		printf("%-22s : %u\n%-22s : %u of %u\n", "Sockets", s.sockets, "Clients in log",
		       s.clients, s.client_log_size);
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)&s + rows[i].off, sizeof(v));
		if (json)
			jw_uint(&w, rows[i].name, v);
		else
			printf("%-22s : %" PRIu64 "\n", rows[i].name, v);
	}
	if (json) {
		jw_end(&w);
		jw_finish(&w);
	}
	return EX_OK;
}

static int cmd_ntp(void)
{
	struct tk_ctl_ntp h;
	struct ctlc_reply r;
	struct jw w;
	char refid[24];
	int rc;

	rc = request("ntp", TK_CTL_NTP, NULL, 0, sizeof(h), sizeof(struct tk_ctl_ntp_server),
		     offsetof(struct tk_ctl_ntp, count), &r);
	if (rc)
		return rc;
	memcpy(&h, r.payload, sizeof(h));
	refid_text(h.refid, 2, refid, sizeof(refid));
	if (json) {
		jw_init(&w, stdout, JSON_SCHEMA);
		jw_object(&w, NULL);
		jw_int(&w, "selected", h.selected);
		jw_int(&w, "offset_ns", h.offset_ns);
		jw_int(&w, "root_delay_ns", h.root_delay_ns);
		jw_int(&w, "root_dispersion_ns", h.root_dispersion_ns);
		jw_uint(&w, "stratum", h.stratum);
		jw_uint(&w, "leap", h.leap);
		jw_str(&w, "refid", h.selected >= 0 ? refid : NULL);
		jw_int(&w, "poll", h.poll);
		jw_uint(&w, "updates", h.updates);
		jw_uint(&w, "steps", h.steps);
		if (h.last_update_ago_ns == UINT64_MAX)
			jw_null(&w, "last_update_ago_ns");
		else
			jw_uint(&w, "last_update_ago_ns", h.last_update_ago_ns);
		jw_array(&w, "servers");
	} else {
		printf("  %-26s %2s %4s %4s %8s %10s %10s %10s\n", "NAME/ADDRESS", "ST", "POLL",
		       "REACH", "LAST_RX", "OFFSET", "DELAY", "JITTER");
	}
	for (uint32_t i = 0; i < h.count; i++) {
		struct tk_ctl_ntp_server s;
		char host[TK_CTL_HOST_LEN], addr[TK_CTL_ADDR_LEN], msg[TK_CTL_MESSAGE_LEN];
		char name[TK_CTL_HOST_LEN + TK_CTL_ADDR_LEN + 4], ago[24], off[24], del[24],
			jit[24];

		memcpy(&s, r.payload + sizeof(h) + i * sizeof(s), sizeof(s));
		ctlw_copy_str(host, sizeof(host), s.host, sizeof(s.host));
		ctlw_copy_str(addr, sizeof(addr), s.address, sizeof(s.address));
		ctlw_copy_str(msg, sizeof(msg), s.message, sizeof(s.message));
		if (json) {
			jw_object(&w, NULL);
			jw_str(&w, "host", host);
			jw_str(&w, "address", addr[0] ? addr : NULL);
			jw_uint(&w, "port", s.port);
			jw_str(&w, "state", ntp_state_name(s.state));
			bits_json(&w, "flags", ntpf_bits, sizeof(ntpf_bits) / sizeof(ntpf_bits[0]),
				  s.flags);
			jw_uint(&w, "stratum", s.stratum);
			jw_int(&w, "poll", s.poll);
			jw_int(&w, "minpoll", s.minpoll);
			jw_int(&w, "maxpoll", s.maxpoll);
			jw_uint(&w, "reach", s.reach);
			jw_uint(&w, "leap", s.leap);
			refid_text(s.refid, s.stratum, refid, sizeof(refid));
			jw_str(&w, "refid", refid);
			jw_int(&w, "offset_ns", s.offset_ns);
			jw_int(&w, "delay_ns", s.delay_ns);
			jw_int(&w, "jitter_ns", s.jitter_ns);
			jw_int(&w, "dispersion_ns", s.dispersion_ns);
			jw_int(&w, "root_delay_ns", s.root_delay_ns);
			jw_int(&w, "root_dispersion_ns", s.root_dispersion_ns);
			jw_int(&w, "last_offset_ns", s.last_offset_ns);
			jw_double(&w, "asymmetry", s.asymmetry_pm / 1000.0, 3);
			if (s.last_rx_ago_ns == UINT64_MAX)
				jw_null(&w, "last_rx_ago_ns");
			else
				jw_uint(&w, "last_rx_ago_ns", s.last_rx_ago_ns);
			jw_uint(&w, "tx", s.tx);
			jw_uint(&w, "rx", s.rx);
			jw_uint(&w, "rejected", s.rejected);
			jw_uint(&w, "kod", s.kod);
			jw_str(&w, "message", msg[0] ? msg : NULL);
			jw_end(&w);
			continue;
		}
		if (addr[0] && strcmp(addr, host) != 0)
			snprintf(name, sizeof(name), "%s (%s)", host, addr);
		else
			snprintf(name, sizeof(name), "%s", host);
		if (s.port != 123)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), ":%u", s.port);
		ago_text(s.last_rx_ago_ns, ago, sizeof(ago));
		ns_text(s.offset_ns, off, sizeof(off));
		ns_text(s.delay_ns, del, sizeof(del));
		ns_text(s.jitter_ns, jit, sizeof(jit));
		/* I after the state: the newest sample came in interleaved mode. */
		printf("%c%c %-26s %2u %4d  %03o %8s %10s %10s %10s\n", ntp_state_mark(s.state),
		       (s.flags & TK_CTL_NTPF_INTERLEAVED) ? 'I' : ' ', name, s.stratum, s.poll,
		       s.reach & 0xff, ago, off, del + 1, jit + 1);
		if (msg[0])
			printf("      %s: %s\n", ntp_state_name(s.state), msg);
	}
	if (json) {
		jw_end(&w);
		jw_finish(&w);
		return EX_OK;
	}
	if (h.selected >= 0) {
		char off[24], rd[24], rdisp[24], ago[24];

		ns_text(h.offset_ns, off, sizeof(off));
		ns_text(h.root_delay_ns, rd, sizeof(rd));
		ns_text(h.root_dispersion_ns, rdisp, sizeof(rdisp));
		ago_text(h.last_update_ago_ns, ago, sizeof(ago));
		printf("system: stratum %u, refid %s, offset %s, root delay %s, "
		       "root dispersion %s, leap %u, poll %d, %" PRIu64 " updates, %" PRIu64
		       " steps, last %s ago\n",
		       h.stratum, refid, off, rd + 1, rdisp + 1, h.leap, h.poll, h.updates, h.steps,
		       ago);
	} else {
		printf("system: unsynchronized (no server selected), %" PRIu64 " updates, %" PRIu64
		       " steps\n",
		       h.updates, h.steps);
	}
	return EX_OK;
}

/* Positional arguments of a command, with --json accepted among them. */
static int positional(int argc, char **argv, char **out, int max)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			json = true;
		} else if (n < max && (argv[i][0] != '-' || (strcmp(argv[i], "--auto") == 0))) {
			out[n++] = argv[i];
		} else {
			usage_error("%s: unexpected argument", argv[i]);
			return -1;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	char *args[2] = { NULL, NULL };
	int opt, n, rc;

	while ((opt = getopt_long(argc, argv, "+r:jhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runtime_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("timectl %s (control protocol %u)\n", PACKAGE_VERSION,
			       TK_CTL_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "timectl: no command given (timectl --help lists them)\n");
		return EX_USAGE;
	}
	if (!runtime_dir || !runtime_dir[0])
		runtime_dir = getenv("TIMEKEEPER_RUNTIME_DIR");
	if (!runtime_dir || !runtime_dir[0])
		runtime_dir = DEFAULT_RUNTIME_DIR;
	if ((size_t)snprintf(socket_path, sizeof(socket_path), "%s/%s", runtime_dir,
			     TK_CTL_SOCKET_NAME) >= sizeof(socket_path) ||
	    (size_t)snprintf(page_path, sizeof(page_path), "%s/page", runtime_dir) >=
		    sizeof(page_path)) {
		fprintf(stderr, "timectl: runtime directory '%.64s...' is too long\n", runtime_dir);
		return EX_USAGE;
	}

	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "adjtime") == 0) {
		rc = cmd_adjtime(argc, argv);
		ctlc_close(&conn);
		return rc;
	}
	if (strcmp(cmd, "waitsync") == 0)
		return cmd_waitsync(argc, argv);
	n = positional(argc, argv, args, 2);
	if (n < 0)
		return EX_USAGE;
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "sources") == 0 ||
	    strcmp(cmd, "timers") == 0 || strcmp(cmd, "recalibrate") == 0) {
		if (n)
			return usage_error("%s takes no argument", cmd);
		rc = cmd[0] == 's'   ? (cmd[1] == 't' ? cmd_status() : cmd_sources())
		     : cmd[0] == 't' ? cmd_timers()
				     : cmd_recalibrate();
	} else if (strcmp(cmd, "ntp") == 0 || strcmp(cmd, "ntp-server") == 0) {
		if (n)
			return usage_error("%s takes no argument", cmd);
		rc = cmd[3] ? cmd_ntp_server() : cmd_ntp();
	} else if (strcmp(cmd, "switch") == 0) {
		if (n != 1 || !args[0][0])
			return usage_error("%s needs one source name, or --auto", cmd);
		rc = cmd_name(cmd, TK_CTL_SWITCH, strcmp(args[0], "--auto") == 0 ? "" : args[0]);
	} else if (strcmp(cmd, "unbind") == 0 || strcmp(cmd, "readmit") == 0) {
		if (n != 1 || strcmp(args[0], "--auto") == 0 || !args[0][0])
			return usage_error("%s needs one source name", cmd);
		rc = cmd_name(cmd, cmd[0] == 'u' ? TK_CTL_UNBIND : TK_CTL_READMIT, args[0]);
	} else if (strcmp(cmd, "read") == 0) {
		if (n > 1)
			return usage_error("%s takes at most one clock", cmd);
		rc = cmd_read(args[0]);
	} else {
		return usage_error("unknown command '%s'", cmd);
	}
	ctlc_close(&conn);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "timectl: writing standard output: %s\n", strerror(errno));
		return EX_ERROR;
	}
	return rc;
}
