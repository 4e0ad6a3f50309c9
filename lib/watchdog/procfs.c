/*
 * The built-in memory source: /proc and the memory cgroup (v1 or v2).
 *
 * At open: find our cgroup from /proc/self/cgroup and the hierarchy's mount
 * from /proc/self/mountinfo (a v1 "memory" hierarchy, else cgroup2 with the
 * memory controller), and open both directories. Inside a cgroup namespace
 * whose root lies below the mount's root (mountinfo's root then starts with
 * "/.."), the names in between are not shown: our directory is the one
 * whose cgroup.procs lists us, searched for under the mount. At each
 * refresh: walk from our cgroup up to the mount by "..", and take the
 * tightest limit (v1 memory.limit_in_bytes; v2 the lower of memory.max and
 * memory.high, since past high the kernel throttles hard); the limit in
 * force is the lowest of that, the configured bytes and MemTotal, and the
 * reason for it is kept in a sentence (limit_reason in the stats: which
 * file, or why no cgroup limit was seen). At each sample, by the limit's
 * source:
 *   cgroup:   usage of the limiting cgroup less its inactive file cache
 *             (v1 usage_in_bytes - total_inactive_file, v2 memory.current -
 *             inactive_file): what the kernel cannot reclaim without
 *             swapping or killing, hence what the OOM killer acts on;
 *   config:   the process's RSS (a configured limit is this process's
 *             budget);
 *   physical: MemTotal - MemAvailable (the whole system's need).
 *
 * No length is fixed: lines are read with getline(), paths are kept as
 * they come, and cgroup files are opened relative to directory descriptors,
 * so a path longer than PATH_MAX still works. Files sampled stay open and
 * are read with pread(); memory.stat is scanned a buffer at a time, so a
 * sample does not allocate whatever the file's length.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "watchdog-internal.h"

/* Limits at or above this are "no limit" (v1 writes 2^63 - page). */
#define NO_LIMIT ((uint64_t)1 << 60)
/* Directories the namespace search may look at before it gives up. */
#define SEARCH_MAX 20000
/* Levels the walk up may climb (a loop guard: the mount is far closer). */
#define WALK_MAX 4096

#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t wd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* Read the file name in directory dirfd into buf; -1 on failure. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read_fd(fd, buf, len);
	close(fd);
	return n;
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

/*
 * wd_parse_key() over a whole file of any length for n keys at once (one
 * read of the file), read len bytes at a time into buf: each chunk is cut
 * after its last newline and the rest read again with the next, so no line
 * is split; a line longer than the buffer is skipped. vals[i] is set for
 * each key found (the others are left alone; at most 64 keys); how many
 * were found.
 */
size_t wd_scan_keys(int fd, const char *const *keys, uint64_t *vals, size_t n,
		    char *buf, size_t len)
{
	uint64_t found = 0; /* a bit a key: at most 64 */
	bool skip = false;
	size_t i, nfound = 0;
	off_t off = 0;
	ssize_t got;

	if (n > 64)
		n = 64;
	while (fd >= 0 && nfound < n &&
	       (got = pread(fd, buf, len - 1, off)) > 0) {
		bool end = (size_t)got < len - 1;
		char *start = buf, *cut;

		buf[got] = '\0';
		if (skip) { /* the rest of a line longer than the buffer */
			if ((start = strchr(buf, '\n')) == NULL) {
				off += got;
				continue;
			}
			start++;
			skip = false;
		}
		cut = end ? buf + got - 1 : strrchr(start, '\n');
		if (cut == NULL || cut < start) {
			skip = true;
			off += got;
			continue;
		}
		cut[1] = '\0';
		for (i = 0; i < n; i++) {
			if (!(found >> i & 1) &&
			    wd_parse_key(start, keys[i], &vals[i])) {
				found |= (uint64_t)1 << i;
				nfound++;
			}
		}
		if (end)
			break;
		off += cut + 1 - buf;
	}
	return nfound;
}

/* One key of a file of any length, as wd_scan_keys(); true if found. */
bool wd_scan_key(int fd, const char *key, uint64_t *val, char *buf, size_t len)
{
	return wd_scan_keys(fd, &key, val, 1, buf, len) == 1;
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
	ssize_t n = read_at(AT_FDCWD, "/proc/self/statm", buf, sizeof buf);

	if (n <= 0 || sscanf(buf, "%lu %lu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Decode mountinfo's octal escapes in place ("\040" for a space, "\011" a
 * tab, "\012" a newline, "\134" a backslash). */
void wd_unescape(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The next space-separated field of *line, NUL-ended; NULL at the end. */
static char *next_field(char **line)
{
	char *s = *line, *e;

	while (*s == ' ')
		s++;
	if (*s == '\0' || *s == '\n')
		return NULL;
	e = s + strcspn(s, " \n");
	if (*e != '\0')
		*e++ = '\0';
	*line = e;
	return s;
}

/* Whether a comma-separated option list holds opt. */
static bool has_option(const char *list, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = list; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

/*
 * One line of /proc/self/mountinfo ("36 35 98:0 /root /mnt rw master:1 -
 * cgroup cgroup rw,memory"): whether it mounts the memory hierarchy of
 * version v; if so, its root and mount point, unescaped, in *root and
 * *mnt (pointers into line).
 */
static bool mount_line(char *line, int v, char **root, char **mnt)
{
	char *f[5], *fs, *opts, *p;
	int i;

	for (i = 0; i < 5; i++) {
		if ((f[i] = next_field(&line)) == NULL)
			return false;
	}
	while ((p = next_field(&line)) != NULL && strcmp(p, "-") != 0)
		; /* optional fields, up to the separator */
	if (p == NULL || (fs = next_field(&line)) == NULL ||
	    next_field(&line) == NULL || (opts = next_field(&line)) == NULL)
		return false;
	if (!(v == 2 && strcmp(fs, "cgroup2") == 0) &&
	    !(v == 1 && strcmp(fs, "cgroup") == 0 && has_option(opts, "memory")))
		return false;
	wd_unescape(f[3]);
	wd_unescape(f[4]);
	*root = f[3];
	*mnt = f[4];
	return true;
}

/* From a mountinfo stream, the mount of the memory hierarchy of version v:
 * its mount point and root (malloc'd). 0, or -1 if none (or no memory). */
int wd_find_mount(FILE *f, int v, char **mnt, char **root)
{
	char *line = NULL, *r, *m;
	size_t cap = 0;
	int rc = -1;

	*mnt = *root = NULL;
	while (rc != 0 && getline(&line, &cap, f) >= 0) {
		if (!mount_line(line, v, &r, &m))
			continue;
		*mnt = strdup(m);
		*root = strdup(r);
		rc = *mnt != NULL && *root != NULL ? 0 : -1;
		if (rc != 0) {
			free(*mnt);
			free(*root);
			*mnt = *root = NULL;
			break;
		}
	}
	free(line);
	return rc;
}

/* From a /proc/self/cgroup stream, our path in the memory hierarchy (v1
 * "N:...memory...:/path", preferred, or v2 "0::/path"), malloc'd in
 * *path. The version found, or 0. */
int wd_find_cgroup(FILE *f, char **path)
{
	char *line = NULL, *ctl, *p;
	size_t cap = 0;
	int version = 0;

	*path = NULL;
	while (version != 1 && getline(&line, &cap, f) >= 0) {
		if ((ctl = strchr(line, ':')) == NULL ||
		    (p = strchr(ctl + 1, ':')) == NULL)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (ctl[1] == '\0' && version == 0) {
			free(*path);
			*path = strdup(p);
			version = *path != NULL ? 2 : 0;
		} else if (has_option(ctl + 1, "memory")) {
			free(*path);
			*path = strdup(p);
			version = *path != NULL ? 1 : 0;
		}
	}
	free(line);
	return version;
}

/* "a" + "/" + "b" as a new string, or NULL. */
static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

/* Open a directory by path, any length: component by component once the
 * kernel's PATH_MAX refuses it whole. */
static int open_dir(const char *path)
{
	int fd = open(path, DIR_FLAGS), next;
	char *copy, *name, *save;

	if (fd >= 0 || errno != ENAMETOOLONG)
		return fd;
	if ((copy = strdup(path)) == NULL)
		return -1;
	fd = open(path[0] == '/' ? "/" : ".", DIR_FLAGS);
	for (name = strtok_r(copy, "/", &save); fd >= 0 && name != NULL;
	     name = strtok_r(NULL, "/", &save)) {
		next = openat(fd, name, DIR_FLAGS);
		close(fd);
		fd = next;
	}
	free(copy);
	return fd;
}

/* Whether the cgroup.procs file in dirfd lists pid. */
static bool lists_pid(int dirfd, pid_t pid)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	long v;
	bool found = false;

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (!found && fscanf(f, "%ld", &v) == 1)
		found = v == (long)pid;
	fclose(f);
	return found;
}

/* One directory of the search, and the subdirectories still to look at. */
struct search {
	char **stack;
	size_t n, cap;
	size_t seen;
};

/* Push a malloc'd path; false (and it freed) if memory is short. */
static bool push(struct search *s, char *path)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **ns = realloc(s->stack, ncap * sizeof *ns);

		if (ns == NULL) {
			free(path);
			return false;
		}
		s->stack = ns;
		s->cap = ncap;
	}
	s->stack[s->n++] = path;
	return true;
}

/* Push dir's subdirectories. */
static void push_children(struct search *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *sub;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if ((sub = join(dir, e->d_name)) == NULL || !push(s, sub))
			break;
	}
	closedir(d);
}

/* Our cgroup under mount, found by its cgroup.procs; malloc'd, or NULL. */
static char *search_self(const char *mount, size_t *seen)
{
	struct search s = {NULL, 0, 0, 0};
	pid_t pid = getpid();
	char *found = NULL, *dir = strdup(mount);

	if (dir == NULL || !push(&s, dir))
		return NULL;
	while (found == NULL && s.n > 0 && s.seen < SEARCH_MAX) {
		int fd;

		dir = s.stack[--s.n];
		s.seen++;
		fd = open(dir, DIR_FLAGS);
		if (fd >= 0 && lists_pid(fd, pid))
			found = dir;
		else
			push_children(&s, dir);
		if (fd >= 0)
			close(fd);
		if (found != dir)
			free(dir);
	}
	while (s.n > 0)
		free(s.stack[--s.n]);
	free(s.stack);
	*seen = s.seen;
	return found;
}

/* Whether dirfd is a cgroup2 directory with the memory controller. */
static bool v2_has_memory(int dirfd)
{
	return faccessat(dirfd, "memory.current", R_OK, 0) == 0 ||
	       faccessat(dirfd, "memory.stat", R_OK, 0) == 0;
}

/* The version of the memory cgroup directory dirfd, by its files; 0:
 * none. */
static int dir_version(int dirfd)
{
	if (faccessat(dirfd, "memory.usage_in_bytes", R_OK, 0) == 0)
		return 1;
	return v2_has_memory(dirfd) ? 2 : 0;
}

/* Say why, in p->cg_reason (what refresh_limit() reports when it falls
 * back to another limit). */
static void why(struct wd_proc *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void why(struct wd_proc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->cg_reason, sizeof p->cg_reason, fmt, ap);
	va_end(ap);
}

/* Keep self as our cgroup's directory (taken) and open it and the top. */
static void settle(struct wd_proc *p, char *self, int version)
{
	p->self = self;
	p->self_fd = open_dir(self);
	p->top_fd = open_dir(p->mount);
	if (p->self_fd < 0 || p->top_fd < 0) {
		why(p, "cannot open %s: %s", p->self_fd < 0 ? self : p->mount,
		    strerror(errno));
		return;
	}
	p->version = version;
}

/* Watch the configured directory: its hierarchy's top is the highest
 * ancestor that is still a memory cgroup of the same version. */
static void locate_at(struct wd_proc *p, const char *dir)
{
	int fd = open_dir(dir), v = fd >= 0 ? dir_version(fd) : 0, up;
	char *self = strdup(dir), *slash;

	p->mount = strdup(dir);
	if (fd >= 0)
		close(fd);
	if (self == NULL || p->mount == NULL || v == 0) {
		if (self != NULL && p->mount != NULL)
			why(p, "watchdog.cgroup %s is not a memory cgroup",
			    dir);
		free(self);
		return;
	}
	while ((slash = strrchr(p->mount, '/')) != NULL && slash != p->mount) {
		*slash = '\0';
		up = open_dir(p->mount);
		if (up < 0 || dir_version(up) != v) {
			if (up >= 0)
				close(up);
			*slash = '/';
			break;
		}
		close(up);
	}
	settle(p, self, v);
}

/* Our directory from the mount and the cgroup path mountinfo and
 * /proc/self/cgroup give; NULL if their names do not meet (a namespace). */
static char *self_path(const char *mount, const char *root, const char *cg)
{
	size_t rl = strlen(root);

	if (strncmp(root, "/..", 3) == 0 || strncmp(cg, "/..", 3) == 0)
		return NULL;
	if (strcmp(root, "/") != 0) {
		if (strncmp(cg, root, rl) != 0 ||
		    (cg[rl] != '/' && cg[rl] != '\0'))
			return NULL;
		cg += rl;
	}
	while (*cg == '/')
		cg++;
	return *cg == '\0' ? strdup(mount) : join(mount, cg);
}

/* Open a /proc file as a stream; NULL (with why) if it cannot be. */
static FILE *open_proc(struct wd_proc *p, const char *path)
{
	FILE *f = fopen(path, "re");

	if (f == NULL)
		why(p, "cannot read %s: %s", path, strerror(errno));
	return f;
}

/* Locate our memory cgroup: v1 if it has a memory hierarchy, else v2. */
static void locate(struct wd_proc *p)
{
	char *cg = NULL, *root = NULL, *self;
	FILE *f = open_proc(p, "/proc/self/cgroup");
	size_t seen = 0;
	int v = 0, fd;

	if (f != NULL) {
		v = wd_find_cgroup(f, &cg);
		fclose(f);
		if (v == 0)
			why(p, "no memory cgroup in /proc/self/cgroup");
	}
	if (v != 0 && (f = open_proc(p, "/proc/self/mountinfo")) != NULL) {
		if (wd_find_mount(f, v, &p->mount, &root) != 0)
			why(p, "no %s hierarchy in /proc/self/mountinfo",
			    v == 1 ? "cgroup v1 memory" : "cgroup2");
		fclose(f);
	}
	if (v == 0 || p->mount == NULL)
		goto out;
	self = self_path(p->mount, root, cg);
	if (self == NULL || access(self, F_OK) != 0) {
		/* a cgroup namespace: mountinfo cannot name our directory */
		free(self);
		self = search_self(p->mount, &seen);
		if (self == NULL) {
			why(p, "cgroup %s (mount root %s) not found under %s "
			    "(%zu directories searched)", cg, root, p->mount,
			    seen);
			goto out;
		}
	}
	fd = open_dir(self);
	if (v == 2 && (fd < 0 || !v2_has_memory(fd))) {
		why(p, "cgroup2 %s has no memory controller", self);
		free(self);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (fd >= 0)
		close(fd);
	settle(p, self, v);
out:
	free(cg);
	free(root);
}

/* The limit set on the cgroup directory dirfd, or UINT64_MAX. */
static uint64_t dir_limit(struct wd_proc *p, int dirfd)
{
	uint64_t lim = UINT64_MAX, v;

	if (p->version == 1) {
		if (read_at(dirfd, "memory.limit_in_bytes", p->buf, WD_BUF) > 0)
			lim = parse_value(p->buf);
		return lim;
	}
	if (read_at(dirfd, "memory.max", p->buf, WD_BUF) > 0)
		lim = parse_value(p->buf);
	if (read_at(dirfd, "memory.high", p->buf, WD_BUF) > 0 &&
	    (v = parse_value(p->buf)) < lim)
		lim = v;
	return lim;
}

/* Whether a and b are the same file. */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Keep fd (a new descriptor) as the limiting directory, up levels above
 * ours. */
static void keep_limiting(struct wd_proc *p, int fd, unsigned up)
{
	int copy = openat(fd, ".", DIR_FLAGS);

	if (copy < 0)
		return;
	if (p->walk_fd >= 0)
		close(p->walk_fd);
	p->walk_fd = copy;
	p->walk_up = up;
}

/*
 * Walk from our cgroup up to the mount by "..", and return the tightest
 * limit (0: none); its directory is left in p->walk_fd, p->walk_up levels
 * above ours. Descriptors, not paths: no length to run out of.
 */
static uint64_t walk_limit(struct wd_proc *p)
{
	uint64_t best = UINT64_MAX, lim;
	struct stat top, st;
	unsigned up = 0;
	int fd, next;

	if (p->walk_fd >= 0)
		close(p->walk_fd);
	p->walk_fd = -1;
	if (fstat(p->top_fd, &top) != 0 ||
	    (fd = openat(p->self_fd, ".", DIR_FLAGS)) < 0)
		return 0;
	for (; up < WALK_MAX; up++) {
		if (fstat(fd, &st) != 0 || st.st_dev != top.st_dev)
			break; /* left the cgroup file system */
		lim = dir_limit(p, fd);
		if (lim < best && lim < NO_LIMIT) {
			best = lim;
			keep_limiting(p, fd, up);
		}
		if (same_file(&st, &top))
			break;
		next = openat(fd, "..", DIR_FLAGS);
		close(fd);
		if ((fd = next) < 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	return best < NO_LIMIT ? best : 0;
}

/* Close the cgroup files sampled. */
static void close_cgroup_fds(struct wd_proc *p)
{
	int *fds[] = {&p->usage_fd, &p->stat_fd, &p->oom_fd, &p->lim_fd};
	size_t i;

	for (i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Open the files sampled each time in dirfd (the limiting cgroup, or
 * ours), up levels above ours; dirfd is taken. */
static void open_cgroup_fds(struct wd_proc *p, int dirfd, unsigned up)
{
	bool v1 = p->version == 1;

	close_cgroup_fds(p);
	p->lim_fd = dirfd;
	p->lim_up = up;
	p->usage_fd = openat(dirfd, v1 ? "memory.usage_in_bytes" : "memory.current",
			     O_RDONLY | O_CLOEXEC);
	p->stat_fd = openat(dirfd, "memory.stat", O_RDONLY | O_CLOEXEC);
	p->oom_fd = openat(dirfd, v1 ? "memory.oom_control" : "memory.events",
			   O_RDONLY | O_CLOEXEC);
}

/* MemTotal in bytes. */
static uint64_t read_phys(struct wd_proc *p)
{
	uint64_t kb = 0;

	if (read_fd(p->meminfo_fd, p->buf, WD_BUF) > 0)
		wd_parse_key(p->buf, "MemTotal", &kb);
	return kb * 1024;
}

/* The directory up levels above ours, as a path, into out (display): its
 * end, the part that names it, if it is longer than out. */
static void dir_name(const struct wd_proc *p, unsigned up, char *out,
		     size_t len)
{
	size_t n = p->self != NULL ? strlen(p->self) : 0, skip = 0;

	while (up-- > 0 && n > 0) {
		while (n > 0 && p->self[n - 1] != '/')
			n--;
		if (n > 1)
			n--;
	}
	if (n >= len && len > 4)
		skip = n - (len - 4);
	snprintf(out, len, "%s%.*s", skip ? "..." : "", (int)(n - skip),
		 p->self != NULL ? p->self + skip : "");
}

/* Find the cgroup limit and where it is set; reopen the sampled files if
 * the limiting cgroup moved. */
static void refresh_cgroup(struct wd_proc *p)
{
	unsigned up;
	int fd;

	p->cg_limit = walk_limit(p);
	if (p->cg_limit == 0) {
		why(p, "cgroup v%d %s and its parents up to %s set no memory "
		    "limit (one set above a cgroup namespace is not seen)",
		    p->version, p->self, p->mount);
		fd = openat(p->self_fd, ".", DIR_FLAGS);
		up = 0;
	} else {
		fd = p->walk_fd;
		up = p->walk_up;
		p->walk_fd = -1;
	}
	if (fd >= 0 && (up != p->lim_up || p->usage_fd < 0 || p->lim_fd < 0))
		open_cgroup_fds(p, fd, up);
	else if (fd >= 0)
		close(fd);
}

/* Re-read the limits and pick the one in force, with its reason. */
static void refresh_limit(struct wd_proc *p, rcl_watchdog_sample *s)
{
	char dir[400];
	const char *file;

	p->phys = read_phys(p);
	p->cg_limit = 0;
	if (p->version)
		refresh_cgroup(p);
	s->limit = p->phys;
	s->limit_source =
	    p->phys ? RCL_WATCHDOG_LIMIT_PHYSICAL : RCL_WATCHDOG_LIMIT_UNKNOWN;
	snprintf(p->reason, sizeof p->reason, "MemTotal: %.480s", p->cg_reason);
	if (p->config_limit != 0 && p->config_limit <= s->limit) {
		s->limit = p->config_limit;
		s->limit_source = RCL_WATCHDOG_LIMIT_CONFIG;
		snprintf(p->reason, sizeof p->reason,
			 "watchdog.limit (cgroup: %.480s)",
			 p->cg_limit ? "a higher limit" : p->cg_reason);
	}
	if (p->cg_limit != 0 && (s->limit == 0 || p->cg_limit <= s->limit)) {
		s->limit = p->cg_limit;
		s->limit_source = p->version == 1
				      ? RCL_WATCHDOG_LIMIT_CGROUP_V1
				      : RCL_WATCHDOG_LIMIT_CGROUP_V2;
		dir_name(p, p->lim_up, dir, sizeof dir);
		file = p->version == 1 ? "memory.limit_in_bytes"
					: "memory.max or memory.high";
		snprintf(p->reason, sizeof p->reason, "%s of %s", file, dir);
	}
}

/* Fill the cgroup's usage, cache and OOM kills into s. */
static void sample_cgroup(struct wd_proc *p, rcl_watchdog_sample *s)
{
	bool v1 = p->version == 1;
	uint64_t v = 0;

	if (read_fd(p->usage_fd, p->buf, WD_BUF) > 0)
		s->raw_usage = parse_value(p->buf);
	if (wd_scan_key(p->stat_fd, v1 ? "total_inactive_file" : "inactive_file",
			&v, p->buf, WD_BUF))
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

/* The RSS from the open statm; 0 if unreadable. */
static uint64_t statm_rss(struct wd_proc *p)
{
	unsigned long size, res;

	if (read_fd(p->statm_fd, p->buf, WD_BUF) <= 0 ||
	    sscanf(p->buf, "%lu %lu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The source's sample(): see the top of this file for what counts. */
int wd_proc_sample(void *ctx, rcl_watchdog_sample *out, bool refresh)
{
	struct wd_proc *p = ctx;
	rcl_watchdog_sample s = p->last;

	if (refresh || s.limit == 0)
		refresh_limit(p, &s);
	s.rss = statm_rss(p);
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

/*
 * Usage now, for admission from any thread under the gauge's lock: one
 * file read (the cgroup's usage, statm or meminfo), the inactive cache as
 * the last sample found it (it moves slowly; reading memory.stat costs
 * several times more).
 */
int wd_proc_usage(void *ctx, uint64_t *usage)
{
	struct wd_proc *p = ctx;
	uint64_t raw, cache = p->last.reclaimable;

	switch (p->last.limit_source) {
	case RCL_WATCHDOG_LIMIT_CGROUP_V1:
	case RCL_WATCHDOG_LIMIT_CGROUP_V2:
		if (read_fd(p->usage_fd, p->buf, WD_BUF) <= 0)
			return -1;
		raw = parse_value(p->buf);
		*usage = raw > cache ? raw - cache : 0;
		return 0;
	case RCL_WATCHDOG_LIMIT_PHYSICAL:
		*usage = system_used(p);
		return 0;
	default:
		*usage = statm_rss(p);
		return *usage != 0 ? 0 : -1;
	}
}

/* Open fd name, read-only or as flags say, in the limiting cgroup's
 * directory (limiting) or ours; -1 if there is no cgroup or no file. */
int wd_proc_openat(struct wd_proc *p, bool limiting, const char *name,
		   int flags)
{
	int dirfd = limiting && p->lim_fd >= 0 ? p->lim_fd : p->self_fd;

	if (dirfd < 0)
		return -1;
	return openat(dirfd, name, flags | O_CLOEXEC);
}

/* The cgroup watched, as a path: the limiting one, else ours (display). */
void wd_proc_where(const struct wd_proc *p, char *out, size_t len)
{
	dir_name(p, p->lim_fd >= 0 ? p->lim_up : 0, out, len);
}

/* The reason for the limit in force, as refresh_limit() put it. */
const char *wd_proc_reason(const struct wd_proc *p)
{
	return p->reason;
}

/* Open the built-in source. Never fails for lack of cgroups: the limit is
 * then the configured one or MemTotal, and the reason says why. */
int wd_proc_open(struct wd_proc *p, uint64_t config_limit, const char *cgroup)
{
	memset(p, 0, sizeof *p);
	p->config_limit = config_limit;
	p->usage_fd = p->stat_fd = p->oom_fd = p->lim_fd = -1;
	p->self_fd = p->top_fd = p->walk_fd = -1;
	p->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	p->meminfo_fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (cgroup != NULL && cgroup[0] != '\0')
		locate_at(p, cgroup);
	else
		locate(p);
	return 0;
}

/* Close the built-in source's files and free its paths. */
void wd_proc_close(struct wd_proc *p)
{
	int *fds[] = {&p->statm_fd, &p->meminfo_fd, &p->self_fd, &p->top_fd,
		      &p->walk_fd};

	close_cgroup_fds(p);
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(p->self);
	free(p->mount);
	p->self = p->mount = NULL;
	p->version = 0;
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
		wd_proc_where(p, cgroup, len);
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
	if (read_at(AT_FDCWD, "/proc/self/smaps_rollup", buf, sizeof buf) <= 0)
		return -1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (wd_parse_key(buf, keys[i].key, &kb))
			*(uint64_t *)((char *)out + keys[i].off) = kb * 1024;
	}
	return 0;
}
