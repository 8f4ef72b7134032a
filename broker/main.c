/*
 * main.c - ternd: command line, configuration, and the loop.
 *
 * Exit status: 0 after a clean shutdown, 1 for a configuration or
 * start-up error, 2 for a usage error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ternd [-c FILE] [-p PORT] [-d DIR] [-v] [-h] [--version]\n"
	    "  -c FILE    configuration file (see tern.conf(5))\n"
	    "  -p PORT    listen on 127.0.0.1:PORT only\n"
	    "  -d DIR     data directory (default ./var)\n"
	    "  -v         more logging (-v info, -v -v debug)\n"
	    "  -h         this help\n"
	    "  --version  print the version\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = NULL, *dir = NULL;
	char err[512], *end;
	long port = -1;
	int ch, verbose = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:p:d:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 ||
			    port > 65535) {
				fprintf(stderr, "ternd: bad port '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ternd %s\n", TERN_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	srv.conf_file = conf;
	srv.dir_flag = dir;
	srv.port_flag = port;
	srv.verbose = verbose;
	if (server_config_read(&srv.cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	server_log_level();
	if (log_open(srv.cfg.log_file) != 0) {
		fprintf(stderr, "ternd: cannot open log file %s\n",
		    srv.cfg.log_file);
		config_free(&srv.cfg);
		return 1;
	}
	if (server_init() != 0) {
		rc = srv.init_status != 0 ? srv.init_status : 1;
		server_free();
		log_close();
		return rc;
	}
	rc = server_run();
	log_notice("exiting");
	server_free();
	log_close();
	return rc;
}
