/*
 * The built-in memory source: /proc and the memory cgroup (v1 or v2).
 *
 * At open: find our cgroup from /proc/self/cgroup and the hierarchy's mount
 * from /proc/self/mountinfo (a v1 "memory" hierarchy, else cgroup2 with the
 * memory controller). At each refresh: walk from our cgroup up to the mount
 * and take the tightest limit (v1 memory.limit_in_bytes; v2 the lower of
 * memory.max and memory.high, since past high the kernel throttles hard);
 * the limit in force is the lowest of that, the configured bytes and
 * MemTotal. At each sample, by the limit's source:
 *   cgroup:   usage of the limiting cgroup less its inactive file cache
 *             (v1 usage_in_bytes - total_inactive_file, v2 memory.current -
 *             inactive_file): what the kernel cannot reclaim without
 *             swapping or killing, hence what the OOM killer acts on;
 *   config:   the process's RSS (a configured limit is this process's
 *             budget);
 *   physical: MemTotal - MemAvailable (the whole system's need).
 * Files stay open and are read with pread() into a fixed buffer: sampling
 * does not allocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "watchdog-internal.h"

/* Limits at or above this are "no limit" (v1 writes 2^63 - page). */
#define NO_LIMIT ((uint64_t)1 << 60)

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t wd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Copy src into dst of len bytes, truncating; paths too long to hold are
 * cut, which at worst makes a later open fail. */
static void copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Read a whole small file from an open fd into buf; -1 on failure. */
static ssize_t read_fd(int fd, char *buf, size_t len)
{
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Read the file at dir/name into buf; -1 on failure. */
static ssize_t read_at(const char *dir, const char *name, char *buf, size_t len)
{
	char path[RCL_WATCHDOG_PATH_MAX + 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read_fd(fd, buf, len);
	close(fd);
	return n;
}

/* Open dir/name for reading; -1 if it is not there. */
static int open_at(const char *dir, const char *name)
{
	char path[RCL_WATCHDOG_PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Find "key value" or "key: value" at the start of a line of text. */
bool wd_parse_key(const char *text, const char *key, uint64_t *val)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 &&
		    (p[klen] == ' ' || p[klen] == ':' || p[klen] == '\t')) {
			p += klen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			*val = strtoull(p, NULL, 10);
			return true;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return false;
}

/* A number from a small file's text; "max" is no limit. */
static uint64_t parse_value(const char *text)
{
	if (strncmp(text, "max", 3) == 0)
		return UINT64_MAX;
	return strtoull(text, NULL, 10);
}

/* The process's RSS from /proc/self/statm (pages to bytes). */
uint64_t wd_read_rss(void)
{
	char buf[128];
	unsigned long size, res;
	ssize_t n = read_at("/proc/self", "statm", buf, sizeof buf);

	if (n <= 0 || sscanf(buf, "%lu %lu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Our path in the memory hierarchy (v1 "memory" or v2 "0::"), from
 * /proc/self/cgroup, into path. The version found, or 0. */
static int find_cgroup(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512];
	int version = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		char *ctl = strchr(line, ':'), *p;

		if (ctl == NULL || (p = strchr(ctl + 1, ':')) == NULL)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (strcmp(ctl + 1, "") == 0 && version == 0) {
			copy(path, len, p);
			version = 2;
		} else if (strstr(ctl + 1, "memory") != NULL) {
			copy(path, len, p);
			version = 1;
		}
	}
	fclose(f);
	return version;
}

/* Whether a mountinfo line's super options name the memory controller. */
static bool v1_memory(const char *fstype, const char *opts)
{
	char buf[512], *tok, *save;

	if (strcmp(fstype, "cgroup") != 0)
		return false;
	copy(buf, sizeof buf, opts);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "memory") == 0)
			return true;
	}
	return false;
}

/* Find the mount of the hierarchy of version v: mount point and root. */
static bool find_mount(int v, char *mnt, size_t mlen, char *root, size_t rlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], r[512], m[512], fs[64], src[256], opts[512];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		char *dash = strstr(line, " - ");

		if (dash == NULL ||
		    sscanf(line, "%*s %*s %*s %511s %511s", r, m) != 2 ||
		    sscanf(dash + 3, "%63s %255s %511s", fs, src, opts) != 3)
			continue;
		if ((v == 2 && strcmp(fs, "cgroup2") == 0) ||
		    (v == 1 && v1_memory(fs, opts))) {
			copy(mnt, mlen, m);
			copy(root, rlen, r);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Whether dir is a cgroup2 directory with the memory controller. */
static bool v2_has_memory(const char *dir)
{
	char path[RCL_WATCHDOG_PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/memory.current", dir);
	if (access(path, R_OK) == 0)
		return true;
	snprintf(path, sizeof path, "%s/memory.stat", dir);
	return access(path, R_OK) == 0;
}

/* Join the mount point and our cgroup path (less the mount's root). */
static void join_path(struct wd_proc *p, const char *root, const char *cg)
{
	size_t rl = strlen(root);

	if (strcmp(root, "/") != 0 && strncmp(cg, root, rl) == 0)
		cg += rl;
	while (*cg == '/')
		cg++;
	copy(p->self, sizeof p->self, p->mount);
	if (*cg == '\0')
		return;
	copy(p->self + strlen(p->self), sizeof p->self - strlen(p->self), "/");
	copy(p->self + strlen(p->self), sizeof p->self - strlen(p->self), cg);
}

/* The version of the memory cgroup directory dir, by its files; 0: none. */
static int dir_version(const char *dir)
{
	char path[RCL_WATCHDOG_PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/memory.usage_in_bytes", dir);
	if (access(path, R_OK) == 0)
		return 1;
	return v2_has_memory(dir) ? 2 : 0;
}

/* Watch the configured directory: its hierarchy's top is the highest
 * ancestor that is still a memory cgroup of the same version. */
static void locate_at(struct wd_proc *p, const char *dir)
{
	char up[RCL_WATCHDOG_PATH_MAX];
	char *slash;

	p->version = dir_version(dir);
	if (p->version == 0)
		return;
	copy(p->self, sizeof p->self, dir);
	copy(p->mount, sizeof p->mount, dir);
	copy(up, sizeof up, dir);
	while ((slash = strrchr(up, '/')) != NULL && slash != up) {
		*slash = '\0';
		if (dir_version(up) != p->version)
			break;
		copy(p->mount, sizeof p->mount, up);
	}
}

/* Locate our memory cgroup: v1 if it has a memory hierarchy, else v2. */
static void locate(struct wd_proc *p)
{
	char cg[RCL_WATCHDOG_PATH_MAX], root[RCL_WATCHDOG_PATH_MAX];
	int v = find_cgroup(cg, sizeof cg);

	p->version = 0;
	if (v == 0 ||
	    !find_mount(v, p->mount, sizeof p->mount, root, sizeof root))
		return;
	join_path(p, root, cg);
	if (v == 2 && !v2_has_memory(p->self) && !v2_has_memory(p->mount))
		return;
	p->version = v;
}

/* The limit set on one cgroup directory, or UINT64_MAX. */
static uint64_t dir_limit(struct wd_proc *p, const char *dir)
{
	uint64_t lim = UINT64_MAX, v;

	if (p->version == 1) {
		if (read_at(dir, "memory.limit_in_bytes", p->buf, WD_BUF) > 0)
			lim = parse_value(p->buf);
		return lim;
	}
	if (read_at(dir, "memory.max", p->buf, WD_BUF) > 0)
		lim = parse_value(p->buf);
	if (read_at(dir, "memory.high", p->buf, WD_BUF) > 0 &&
	    (v = parse_value(p->buf)) < lim)
		lim = v;
	return lim;
}

/* Walk from our cgroup up to the mount; the tightest limit and its dir. */
static uint64_t walk_limit(struct wd_proc *p, char *limdir, size_t len)
{
	char dir[RCL_WATCHDOG_PATH_MAX];
	uint64_t best = UINT64_MAX, lim;
	size_t mlen = strlen(p->mount);
	char *slash;

	limdir[0] = '\0';
	copy(dir, sizeof dir, p->self);
	for (;;) {
		lim = dir_limit(p, dir);
		if (lim < best && lim < NO_LIMIT) {
			best = lim;
			copy(limdir, len, dir);
		}
		slash = strrchr(dir, '/');
		if (strlen(dir) <= mlen || slash == NULL ||
		    (size_t)(slash - dir) < mlen)
			break;
		*slash = '\0';
	}
	return best < NO_LIMIT ? best : 0;
}

/* Close the cgroup files. */
static void close_cgroup_fds(struct wd_proc *p)
{
	int *fds[] = {&p->usage_fd, &p->stat_fd, &p->oom_fd};
	size_t i;

	for (i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Open the files sampled each time, in dir (the limiting cgroup). */
static void open_cgroup_fds(struct wd_proc *p, const char *dir)
{
	bool v1 = p->version == 1;

	close_cgroup_fds(p);
	p->usage_fd =
	    open_at(dir, v1 ? "memory.usage_in_bytes" : "memory.current");
	p->stat_fd = open_at(dir, "memory.stat");
	p->oom_fd = open_at(dir, v1 ? "memory.oom_control" : "memory.events");
}

/* MemTotal in bytes. */
static uint64_t read_phys(struct wd_proc *p)
{
	uint64_t kb = 0;

	if (read_fd(p->meminfo_fd, p->buf, WD_BUF) > 0)
		wd_parse_key(p->buf, "MemTotal", &kb);
	return kb * 1024;
}

/* Re-read the limits and pick the one in force; reopen files if the
 * limiting cgroup changed. */
static void refresh_limit(struct wd_proc *p, rcl_watchdog_sample *s)
{
	char limdir[RCL_WATCHDOG_PATH_MAX] = "";
	const char *dir;

	p->phys = read_phys(p);
	p->cg_limit = p->version ? walk_limit(p, limdir, sizeof limdir) : 0;
	dir = limdir[0] ? limdir : p->self;
	if (p->version && (strcmp(limdir, p->limdir) != 0 || p->usage_fd < 0))
		open_cgroup_fds(p, dir);
	copy(p->limdir, sizeof p->limdir, limdir);
	s->limit = p->phys;
	s->limit_source =
	    p->phys ? RCL_WATCHDOG_LIMIT_PHYSICAL : RCL_WATCHDOG_LIMIT_UNKNOWN;
	if (p->config_limit != 0 && p->config_limit <= s->limit) {
		s->limit = p->config_limit;
		s->limit_source = RCL_WATCHDOG_LIMIT_CONFIG;
	}
	if (p->cg_limit != 0 && (s->limit == 0 || p->cg_limit <= s->limit)) {
		s->limit = p->cg_limit;
		s->limit_source = p->version == 1
				      ? RCL_WATCHDOG_LIMIT_CGROUP_V1
				      : RCL_WATCHDOG_LIMIT_CGROUP_V2;
	}
}

/* Fill the cgroup's usage, cache and OOM kills into s. */
static void sample_cgroup(struct wd_proc *p, rcl_watchdog_sample *s)
{
	bool v1 = p->version == 1;
	uint64_t v = 0;

	if (read_fd(p->usage_fd, p->buf, WD_BUF) > 0)
		s->raw_usage = parse_value(p->buf);
	if (read_fd(p->stat_fd, p->buf, WD_BUF) > 0 &&
	    wd_parse_key(p->buf, v1 ? "total_inactive_file" : "inactive_file",
			 &v))
		s->reclaimable = v;
	if (s->reclaimable > s->raw_usage)
		s->reclaimable = s->raw_usage;
	if (read_fd(p->oom_fd, p->buf, WD_BUF) > 0 &&
	    wd_parse_key(p->buf, "oom_kill", &v))
		s->oom_kills = v;
}

/* Usage for a physical limit: MemTotal - MemAvailable. */
static uint64_t system_used(struct wd_proc *p)
{
	uint64_t total = 0, avail = 0;

	if (read_fd(p->meminfo_fd, p->buf, WD_BUF) <= 0)
		return 0;
	wd_parse_key(p->buf, "MemTotal", &total);
	wd_parse_key(p->buf, "MemAvailable", &avail);
	return total > avail ? (total - avail) * 1024 : 0;
}

/* The source's sample(): see the top of this file for what counts. */
int wd_proc_sample(void *ctx, rcl_watchdog_sample *out, bool refresh)
{
	struct wd_proc *p = ctx;
	rcl_watchdog_sample s = p->last;
	unsigned long size, res;

	if (refresh || s.limit == 0)
		refresh_limit(p, &s);
	s.rss = 0;
	if (read_fd(p->statm_fd, p->buf, WD_BUF) > 0 &&
	    sscanf(p->buf, "%lu %lu", &size, &res) == 2)
		s.rss = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
	if (p->version)
		sample_cgroup(p, &s);
	if (s.limit_source == RCL_WATCHDOG_LIMIT_CGROUP_V1 ||
	    s.limit_source == RCL_WATCHDOG_LIMIT_CGROUP_V2)
		s.usage = s.raw_usage - s.reclaimable;
	else if (s.limit_source == RCL_WATCHDOG_LIMIT_PHYSICAL)
		s.usage = system_used(p);
	else
		s.usage = s.rss;
	p->last = s;
	*out = s;
	return 0;
}

/* Open the built-in source. Never fails for lack of cgroups: the limit is
 * then the configured one or MemTotal. */
int wd_proc_open(struct wd_proc *p, uint64_t config_limit, const char *cgroup)
{
	memset(p, 0, sizeof *p);
	p->config_limit = config_limit;
	p->usage_fd = p->stat_fd = p->oom_fd = -1;
	p->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	p->meminfo_fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (cgroup != NULL && cgroup[0] != '\0')
		locate_at(p, cgroup);
	else
		locate(p);
	return 0;
}

/* Close the built-in source's files. */
void wd_proc_close(struct wd_proc *p)
{
	close_cgroup_fds(p);
	if (p->statm_fd >= 0)
		close(p->statm_fd);
	if (p->meminfo_fd >= 0)
		close(p->meminfo_fd);
	p->statm_fd = p->meminfo_fd = -1;
}

/* Read memory and the limit once, without a watchdog. */
int rcl_watchdog_probe(const rcl_watchdog_config *cfg, rcl_watchdog_sample *out,
		       char *cgroup, size_t len)
{
	struct wd_proc *p = calloc(1, sizeof *p);

	if (p == NULL)
		return -1;
	wd_proc_open(p, cfg != NULL ? cfg->limit_bytes : 0,
		     cfg != NULL ? cfg->cgroup : NULL);
	wd_proc_sample(p, out, true);
	if (cgroup != NULL && len > 0)
		copy(cgroup, len, p->limdir[0] ? p->limdir : p->self);
	wd_proc_close(p);
	free(p);
	return 0;
}

/* Read /proc/self/smaps_rollup; see watchdog.h. */
int rcl_watchdog_smaps_read(rcl_watchdog_smaps *out)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	    {"Rss", offsetof(rcl_watchdog_smaps, rss)},
	    {"Pss", offsetof(rcl_watchdog_smaps, pss)},
	    {"Anonymous", offsetof(rcl_watchdog_smaps, anon)},
	    {"Pss_Anon", offsetof(rcl_watchdog_smaps, pss_anon)},
	    {"Pss_File", offsetof(rcl_watchdog_smaps, pss_file)},
	    {"Pss_Shmem", offsetof(rcl_watchdog_smaps, pss_shmem)},
	    {"Swap", offsetof(rcl_watchdog_smaps, swap)},
	};
	char buf[2048];
	uint64_t kb;

	memset(out, 0, sizeof *out);
	if (read_at("/proc/self", "smaps_rollup", buf, sizeof buf) <= 0)
		return -1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (wd_parse_key(buf, keys[i].key, &kb))
			*(uint64_t *)((char *)out + keys[i].off) = kb * 1024;
	}
	return 0;
}
