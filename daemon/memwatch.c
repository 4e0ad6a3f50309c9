/*
 * The seam where the memory watchdog (lib/watchdog/) plugs in. Until it is
 * wired here, this reads RSS from /proc and the limit from the configuration
 * or the cgroup, and names the level; it forces nothing. Callers see only
 * memwatch_status(), so the real watchdog replaces the inside of this file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reclaimd.h"
#include "xmalloc.h"

struct memwatch {
	struct server *srv;
	bool enabled;
	uint64_t limit; /* 0: auto */
	struct config_level soft;
	struct config_level hard;
	char source[4096 + 16];
};

/* Read a whole small file into buf; -1 on failure. */
static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Resident set size from /proc/self/statm. */
static uint64_t memwatch_rss(void)
{
	unsigned long long size, resident;
	char buf[256];

	if (read_file("/proc/self/statm", buf, sizeof buf) != 0 ||
	    sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The tightest cgroup v2 memory.max from our cgroup up; 0 if none. */
static uint64_t memwatch_cgroup(char *source, size_t len)
{
	char buf[4096], path[4200], val[64], *cg = buf + 3, *slash;
	unsigned long long v, best = 0;

	if (read_file("/proc/self/cgroup", buf, sizeof buf) != 0 ||
	    strncmp(buf, "0::/", 4) != 0)
		return 0;
	buf[strcspn(buf, "\n")] = '\0';
	for (;;) {
		snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max",
			 strcmp(cg, "/") == 0 ? "" : cg);
		if (read_file(path, val, sizeof val) == 0 &&
		    sscanf(val, "%llu", &v) == 1 && (best == 0 || v < best)) {
			best = v;
			snprintf(source, len, "cgroup %.*s", (int)(len - 8),
				 cg);
		}
		if (strcmp(cg, "/") == 0)
			break;
		slash = strrchr(cg, '/');
		slash[slash == cg ? 1 : 0] = '\0';
	}
	return best;
}

/* The limit in force and where it comes from. */
static uint64_t memwatch_limit(struct memwatch *mw)
{
	uint64_t v;

	if (mw->limit != 0) {
		snprintf(mw->source, sizeof mw->source, "configured");
		return mw->limit;
	}
	v = memwatch_cgroup(mw->source, sizeof mw->source);
	if (v != 0)
		return v;
	snprintf(mw->source, sizeof mw->source, "physical memory");
	return (uint64_t)sysconf(_SC_PHYS_PAGES) *
	       (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A level in bytes. */
static uint64_t memwatch_bytes(const struct config_level *l, uint64_t limit)
{
	return l->percent ? limit / 100 * l->value : l->value;
}

/* Create the watchdog for srv's configuration. */
struct memwatch *memwatch_create(struct server *srv, char **cause)
{
	struct memwatch *mw = xcalloc(1, sizeof *mw);

	mw->srv = srv;
	memwatch_configure(mw, srv->cfg);
	return mw;
}

/* Free it; NULL is a no-op. */
void memwatch_destroy(struct memwatch *mw)
{
	free(mw);
}

/* Take the watchdog.* keys (start-up and reload). */
void memwatch_configure(struct memwatch *mw, const struct config *cfg)
{
	mw->enabled = cfg->watchdog_enabled;
	mw->limit = cfg->watchdog_limit;
	mw->soft = cfg->watchdog_soft;
	mw->hard = cfg->watchdog_hard;
}

/* The watchdog's view now. */
void memwatch_status(struct memwatch *mw, struct memwatch_status *out)
{
	memset(out, 0, sizeof *out);
	out->enabled = mw->enabled;
	out->rss_bytes = memwatch_rss();
	out->limit_bytes = memwatch_limit(mw);
	out->limit_source = mw->source;
	out->soft_bytes = memwatch_bytes(&mw->soft, out->limit_bytes);
	out->hard_bytes = memwatch_bytes(&mw->hard, out->limit_bytes);
	if (!mw->enabled)
		out->level = "off";
	else if (out->rss_bytes >= out->hard_bytes)
		out->level = "hard";
	else if (out->rss_bytes >= out->soft_bytes)
		out->level = "soft";
	else
		out->level = "ok";
}
