/*
 * Fuzz target: the configuration. The input is an INI file read by the real
 * config_load (inih through config.c's line-counting reader, every key's
 * parser, the watchdog's validation), optionally followed by a NUL and
 * NUL-separated -s overrides. A load either succeeds with values inside
 * their documented ranges or fails with one message naming where.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reclaimd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_OVERRIDES 8

/* Abort with the reason: a loaded configuration broke a documented rule. */
static void bad(const char *why)
{
	fprintf(stderr, "fuzz: config_load accepted %s\n", why);
	abort();
}

/* What a successful load promises. */
static void check_config(const struct config *cfg)
{
	int g;

	if (cfg->control_socket == NULL || *cfg->control_socket == '\0')
		bad("an empty control.socket");
	if (cfg->control_mode > 0777)
		bad("a mode above 0777");
	if (cfg->control_max_connections == 0 ||
	    cfg->control_max_connections > 1000000)
		bad("control.max_connections out of range");
	if (cfg->http_workers > 256)
		bad("http.workers above 256");
	for (g = 0; g < RCL_GENERATIONS; g++) {
		if (cfg->heap_thresholds[g] > UINT32_MAX)
			bad("a threshold above 2^32-1");
	}
	if (cfg->http_listen == NULL || cfg->metrics_listen == NULL ||
	    cfg->control_group == NULL)
		bad("a missing string");
	if (cfg->log_level < 0 || cfg->log_level > 7)
		bad("a log level out of range");
}

/*
 * What a failed load promises: a reason that says where (file or -s), on one
 * line when it comes from the file (an -s argument is echoed as given, so
 * one holding a newline gives a message holding it).
 */
static void check_cause(const char *cause)
{
	if (cause == NULL || *cause == '\0')
		bad("nothing, and gave no reason");
	if (strncmp(cause, "-s ", 3) != 0 && strchr(cause, '\n') != NULL) {
		fprintf(stderr, "fuzz: a multi-line error: %s\n", cause);
		abort();
	}
	if (strncmp(cause, "/proc/self/fd/", 14) != 0 &&
	    strncmp(cause, "-s ", 3) != 0) {
		fprintf(stderr, "fuzz: an error that says not where: %s\n",
			cause);
		abort();
	}
}

/* One input: a file and its overrides. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul ? (size_t)(nul - data) : size, off;
	char *overrides[FUZZ_MAX_OVERRIDES], *rest = NULL, path[64];
	struct config_source src = {.path = path, .overrides = overrides};
	struct config *cfg;
	char *cause = NULL;
	int fd;

	fd = memfd_create("reclaimd.conf", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, flen) != (ssize_t)flen)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (nul != NULL) {
		rest = malloc(size - flen);
		memcpy(rest, nul + 1, size - flen - 1);
		rest[size - flen - 1] = '\0';
		for (off = 0; off < size - flen &&
			      src.noverrides < FUZZ_MAX_OVERRIDES;
		     off += strlen(rest + off) + 1)
			overrides[src.noverrides++] = rest + off;
	}
	cfg = config_load(&src, &cause);
	if (cfg != NULL)
		check_config(cfg);
	else
		check_cause(cause);
	config_destroy(cfg);
	free(cause);
	free(rest);
	close(fd);
	return 0;
}
