/* reclaimctl: drive reclaimd over its control socket. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "reclaimctl.h"
#include "sockpath.h"
#include "xmalloc.h"

/* The commands, one a line, for --help. */
static void usage(FILE *fp)
{
	char head[64];
	size_t i;

	fprintf(fp, "usage: reclaimctl [-S SOCKET] [--json] COMMAND [ARGS]\n"
		    "  -S, --socket PATH  the control socket (default: found "
		    "as reclaimd does)\n"
		    "  --json             print the method's JSON reply\n"
		    "commands:\n");
	for (i = 0; i < cmd_count; i++) {
		snprintf(head, sizeof head, "%s %s", cmd_table[i]->name,
			 cmd_table[i]->usage);
		fprintf(fp, "  %-30s %s\n", head, cmd_table[i]->help);
	}
	fprintf(fp, "exit status: 0 ok, 1 the daemon answered an error, 2 "
		    "usage, 3 the daemon cannot be reached\n");
}

/* Drop every "--json" from argv (it is accepted anywhere); whether any. */
static bool take_json(int *argc, char **argv)
{
	bool found = false;
	int i, j;

	for (i = j = 0; i < *argc; i++) {
		if (i > 0 && strcmp(argv[i], "--json") == 0)
			found = true;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	argv[j] = NULL;
	return found;
}

/* Global options; the index of the command, or an exit status below 0. */
static int parse_options(int argc, char **argv, struct ctl *ctl)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "+S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			ctl->socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return -CTL_OK - 1;
		case 'V':
			printf("reclaimctl %s\n", RECLAIM_VERSION);
			return -CTL_OK - 1;
		default:
			return -CTL_USAGE - 1;
		}
	}
	return optind;
}

/* Find and run the command. */
int main(int argc, char **argv)
{
	struct ctl ctl = {0};
	char *path = NULL;
	int i, rc, nargs;

	xmalloc_set_program("reclaimctl");
	ctl.json = take_json(&argc, argv);
	i = parse_options(argc, argv, &ctl);
	if (i < 0)
		return -i - 1;
	if (i >= argc)
		return ctl_usage(&ctl, "no command given; try --help");
	ctl.cmd = cmd_find(argv[i]);
	if (ctl.cmd == NULL) {
		return ctl_usage(&ctl, "unknown command \"%s\"; try --help",
				 argv[i]);
	}
	nargs = argc - i - 1;
	if (nargs < ctl.cmd->min_args || nargs > ctl.cmd->max_args)
		return ctl_usage(&ctl, "%s: wrong number of arguments",
				 ctl.cmd->name);
	if (ctl.socket == NULL)
		ctl.socket = path = sockpath_default(true);
	rc = ctl.cmd->exec(&ctl, nargs, argv + i + 1);
	client_destroy(ctl.client);
	free(path);
	return rc;
}
