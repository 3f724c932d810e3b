// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * timekeeperd: the entry point. Parses the command line, reads the
 * configuration and runs the daemon, or the probe.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "daemon/probe.h"

enum { EXIT_NOTHING_USABLE = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: timekeeperd [OPTION]...\n"
		"Runs the timekeeping daemon (in the foreground: it never forks).\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -f, --foreground    accepted for compatibility: the daemon never forks\n"
		"      --runtime-dir DIR  where the page is published (default /run/timekeeper)\n"
		"      --state-dir DIR    where the frequency estimate is kept "
		"(default /var/lib/timekeeper)\n"
		"      --probe         discover and measure every clock source, then exit\n"
		"      --seconds N     how long --probe measures (default 2, 0.1..3600)\n"
		"      --json          --probe prints one JSON object\n"
		"      --dump-config   print the effective configuration and exit\n"
		"  -v, --verbose       log more (repeat for debug)\n"
		"  -h, --help          this text\n"
		"      --version       print the version\n",
		CONF_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	enum {
		OPT_PROBE = 256,
		OPT_SECONDS,
		OPT_JSON,
		OPT_DUMP,
		OPT_VERSION,
		OPT_RUNDIR,
		OPT_STATEDIR
	};
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "runtime-dir", required_argument, NULL, OPT_RUNDIR },
		{ "state-dir", required_argument, NULL, OPT_STATEDIR },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "dump-config", no_argument, NULL, OPT_DUMP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	struct probe_opts popts = { .seconds = 2.0 };
	const char *config = NULL, *rundir = NULL, *statedir = NULL;
	bool probe = false, dump = false;
	static struct tk_conf conf;
	char err[768], *end;
	int c, verbose = 0;

	while ((c = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			break;
		case OPT_RUNDIR:
			rundir = optarg;
			break;
		case OPT_STATEDIR:
			statedir = optarg;
			break;
		case OPT_PROBE:
			probe = true;
			break;
		case OPT_SECONDS:
			errno = 0;
			popts.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(popts.seconds >= 0.1 && popts.seconds <= 3600)) {
				fprintf(stderr,
					"timekeeperd: --seconds '%s': "
					"expected a number from 0.1 to 3600\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			popts.json = true;
			break;
		case OPT_DUMP:
			dump = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("timekeeperd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "timekeeperd: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_NOTICE);

	if (config) {
		if (conf_load(config, &conf, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return EXIT_USAGE;
		}
	} else {
		int rc = conf_load(CONF_DEFAULT_PATH, &conf, err, sizeof(err));

		/* The default file may be absent: then the defaults stand. */
		if (rc == -ENOENT) {
			conf_defaults(&conf);
		} else if (rc < 0) {
			log_err("%s", err);
			return EXIT_USAGE;
		}
	}

	if ((rundir && strlen(rundir) >= sizeof(conf.runtime_dir)) ||
	    (statedir && strlen(statedir) >= sizeof(conf.state_dir))) {
		fprintf(stderr, "timekeeperd: directory name too long\n");
		return EXIT_USAGE;
	}
	if (rundir)
		strcpy(conf.runtime_dir, rundir);
	if (statedir)
		strcpy(conf.state_dir, statedir);

	if (dump) {
		conf_dump(&conf, stdout);
		return 0;
	}
	if (probe)
		return probe_run(&conf, &popts, stdout);

	return daemon_run(&conf, config ? config : CONF_DEFAULT_PATH);
}
