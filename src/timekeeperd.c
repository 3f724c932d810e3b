/*
 * timekeeperd: the entry point. Parses the command line, reads the
 * configuration and runs the requested mode. Until the daemon's event loop
 * exists, the one mode is --probe.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/log.h"
#include "probe.h"

enum { EXIT_NOTHING_USABLE = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: timekeeperd [OPTION]...\n"
		"  -c, --config FILE   configuration file (default %s)\n"
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
	enum { OPT_PROBE = 256, OPT_SECONDS, OPT_JSON, OPT_DUMP, OPT_VERSION };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
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
	const char *config = NULL;
	bool probe = false, dump = false;
	static struct tk_conf conf;
	char err[768], *end;
	int c, verbose = 0;

	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_PROBE:
			probe = true;
			break;
		case OPT_SECONDS:
			errno = 0;
			popts.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(popts.seconds >= 0.1 && popts.seconds <= 3600)) {
				fprintf(stderr, "timekeeperd: --seconds '%s': expected a number from 0.1 to 3600\n",
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

	if (dump) {
		conf_dump(&conf, stdout);
		return 0;
	}
	if (probe)
		return probe_run(&conf, &popts, stdout);

	fprintf(stderr, "timekeeperd: the daemon's event loop is not part of this version yet; "
			"run 'timekeeperd --probe' to discover and measure the clock sources\n");
	return EXIT_USAGE;
}
