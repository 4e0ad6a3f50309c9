/*
 * The watched cgroup's memory, broken down from memory.stat, and its OOM
 * kill counter (see rcl_watchdog_memstat in watchdog.h for each figure's
 * source). memory.stat is read once for all its keys (wd_scan_keys), on
 * demand: the watchdog's own samples read only inactive_file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watchdog-internal.h"

/* memory.stat keys, v2: anon, file, kernel, then what kernel sums on
 * kernels before 5.18 that lack it. */
enum { V2_ANON, V2_FILE, V2_KERNEL, V2_PARTS };
static const char *const v2_keys[] = {"anon",	"file",		"kernel",
				      "slab",	"kernel_stack", "pagetables",
				      "percpu", "vmalloc"};
#define V2_NKEYS (sizeof v2_keys / sizeof v2_keys[0])

/* v1: hierarchical totals, as the limit counts the cgroups below. */
static const char *const v1_keys[] = {"total_rss", "total_cache"};

/* A small file of the watched cgroup as a number; 0 if absent. */
static uint64_t read_number(struct wd_proc *p, const char *name)
{
	int fd = wd_proc_openat(p, true, name, O_RDONLY);
	char buf[64];
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

/* v2: anon, file, kernel (or its parts). */
static void memstat_v2(struct wd_proc *p, rcl_watchdog_memstat *out, char *buf,
		       size_t len)
{
	uint64_t v[V2_NKEYS] = {0};
	bool has_kernel;
	size_t i;

	v[V2_KERNEL] = UINT64_MAX;
	wd_scan_keys(p->stat_fd, v2_keys, v, V2_NKEYS, buf, len);
	has_kernel = v[V2_KERNEL] != UINT64_MAX;
	out->anon = v[V2_ANON];
	out->file = v[V2_FILE];
	out->kernel = has_kernel ? v[V2_KERNEL] : 0;
	for (i = V2_PARTS; !has_kernel && i < V2_NKEYS; i++)
		out->kernel += v[i];
}

/* v1: total_rss, total_cache, and kmem's usage. */
static void memstat_v1(struct wd_proc *p, rcl_watchdog_memstat *out, char *buf,
		       size_t len)
{
	uint64_t v[2] = {0, 0};

	wd_scan_keys(p->stat_fd, v1_keys, v, 2, buf, len);
	out->anon = v[0];
	out->file = v[1];
	out->kernel = read_number(p, "memory.kmem.usage_in_bytes");
}

/* The OOM kill counter, from the file the samples read too. */
static uint64_t memstat_oom_kills(struct wd_proc *p, char *buf, size_t len)
{
	uint64_t v = 0;

	wd_scan_key(p->oom_fd, "oom_kill", &v, buf, len);
	return v;
}

/* Fill out from p's open cgroup files; -1 if it has none open (no cgroup,
 * or never sampled). Its own buffer: the heaps read p->buf meanwhile. */
int wd_proc_memstat(struct wd_proc *p, rcl_watchdog_memstat *out)
{
	char *buf;

	memset(out, 0, sizeof *out);
	if (p->version == 0 || p->stat_fd < 0)
		return -1;
	if ((buf = malloc(WD_BUF)) == NULL)
		return -1;
	out->version = p->version;
	if (p->version == 2)
		memstat_v2(p, out, buf, WD_BUF);
	else
		memstat_v1(p, out, buf, WD_BUF);
	out->oom_kills = memstat_oom_kills(p, buf, WD_BUF);
	wd_proc_where(p, out->cgroup, sizeof out->cgroup);
	free(buf);
	return 0;
}

/* Read the watched cgroup without a watchdog; see watchdog.h. */
int rcl_watchdog_memstat_probe(const rcl_watchdog_config *cfg,
			       rcl_watchdog_memstat *out)
{
	struct wd_proc *p = calloc(1, sizeof *p);
	rcl_watchdog_sample s;
	int rc;

	memset(out, 0, sizeof *out);
	if (p == NULL)
		return -1;
	wd_proc_open(p, cfg != NULL ? cfg->limit_bytes : 0,
		     cfg != NULL ? cfg->cgroup : NULL);
	wd_proc_sample(p, &s, true); /* opens the limiting cgroup's files */
	rc = wd_proc_memstat(p, out);
	wd_proc_close(p);
	free(p);
	return rc;
}

/* The watchdog's cgroup; see watchdog.h. */
int rcl_watchdog_memstat_get(rcl_watchdog *wd, rcl_watchdog_memstat *out)
{
	/* sampled: its files are open, or there is no cgroup to read */
	if (wd != NULL && wd->proc != NULL && wd->cfg.enabled &&
	    wd->have_sample)
		return wd_proc_memstat(wd->proc, out);
	return rcl_watchdog_memstat_probe(wd != NULL ? &wd->cfg : NULL, out);
}
