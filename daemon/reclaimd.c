/* reclaimd: hosts the heaps and worker tasks; see reclaimd(8) and README.md. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "reclaimd.h"
#include "xmalloc.h"

enum { OPT_CHECK = 256, OPT_VERSION };

/* The options, for --help. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: reclaimd [-c FILE] [-s section.key=value]... "
		"[--check-config] [--version] [--help]\n"
		"  -c, --config FILE   read FILE (default: %s if it exists)\n"
		"  -s, --set K=V       override one key, e.g. -s "
		"http.workers=2\n"
		"  --check-config      validate the configuration and exit\n"
		"  --version           print the version and exit\n"
		"  -h, --help          print this help and exit\n",
		config_default_path());
}

/* Parse the command line into src; exit 2 on usage errors. */
static int parse_args(int argc, char **argv, struct config_source *src)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 's'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, check = 0;

	src->overrides = xcalloc((size_t)argc, sizeof *src->overrides);
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			src->path = optarg;
			break;
		case 's':
			src->overrides[src->noverrides++] = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_VERSION:
			printf("reclaimd %s\n", RECLAIM_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "reclaimd: unexpected argument \"%s\"\n",
			argv[optind]);
		exit(2);
	}
	return check;
}

/*
 * Block every signal that can be blocked, save the faults a bug raises
 * (those must still kill, or reach a sanitizer). Called first: a signal sent
 * while the daemon starts stays pending instead of taking its default action
 * (SIGHUP killed a daemon 5 ms old). Every thread inherits the mask; the main
 * loop unblocks only the signals it handles, once it handles them
 * (server.c); the others stay blocked for good, so have no effect.
 */
static void block_signals(void)
{
	static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
				     SIGTRAP, SIGSYS, SIGABRT};
	sigset_t set;
	size_t i;

	sigfillset(&set);
	for (i = 0; i < sizeof faults / sizeof faults[0]; i++)
		sigdelset(&set, faults[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Raise the soft descriptor limit to the hard one, as daemons that never
 * use select() should: the default soft limit (1024) is far below what an
 * HTTP front with idle keep-alive clients needs. Failing that, the soft
 * limit stays, and server.c fits http.max_connections to it. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Load, then run until SIGTERM: 0, 1 on a start-up failure, 2 bad config. */
int main(int argc, char **argv)
{
	struct config_source src = {0};
	struct server *srv;
	struct config *cfg;
	char *cause = NULL;
	int check, rc;

	log_init();
	block_signals();
	raise_nofile();
	xmalloc_set_program("<2>reclaimd");
	check = parse_args(argc, argv, &src);
	cfg = config_load(&src, &cause);
	if (cfg == NULL) {
		fprintf(stderr, "reclaimd: %s\n",
			cause ? cause : "out of memory");
		rc = 2;
	} else if (check) {
		printf("reclaimd: configuration OK\n");
		config_destroy(cfg);
		rc = 0;
	} else {
		log_set_level(cfg->log_level);
		srv = server_create(cfg, &src, &cause);
		if (srv == NULL)
			log_err("cannot start: %s",
				cause ? cause : "out of memory");
		rc = srv ? server_run(srv) : 1;
		server_destroy(srv);
	}
	free(cause);
	free(src.overrides);
	return rc;
}
