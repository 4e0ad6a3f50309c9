/*
 * The near-limit forensic report, as Node writes a heap snapshot near its
 * heap limit: on entering the critical level, reclaimd gathers a census of
 * every heap, the garbage groups recorded so far (leak debugging) and the
 * watchdog's leak suspects, logs a summary and writes the whole report as
 * JSON under forensics.report_dir (default $STATE_DIRECTORY) through a
 * temporary file and rename(2), so a reader never sees half a report. The
 * directory must be root's or ours and writable by no one else, and nothing
 * there is followed: the temporary file is created exclusively
 * (report_create_tmp). At most one report per forensics.report_interval;
 * gathering is two fan-outs, so the main loop never waits.
 *
 * Out of memory: a part that cannot be gathered is left out and the report
 * says "truncated": true (the garbage part has its own flag); a report that
 * cannot be rendered or written is only summed up in the log, which says
 * why. Nothing here stops the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "human.h"
#include "reclaimd.h"
#include "xmalloc.h"

static void report_check_dir(const struct report *r);

struct report {
	struct server *srv;
	bool busy;	  /* a report is being gathered */
	uint64_t last_us; /* monotonic time of the last one, 0: none */
	uint64_t written;
	unsigned seq;
	struct census census;
	struct garbage_report garbage;
	bool truncated; /* out of memory: a part is missing */
	char level[16];
};

/* A report state for srv. */
struct report *report_create(struct server *srv)
{
	struct report *r = xcalloc(1, sizeof *r); /* start-up */

	r->srv = srv;
	report_check_dir(r);
	return r;
}

/* Free it; NULL is a no-op. */
void report_destroy(struct report *r)
{
	if (r == NULL)
		return;
	census_finish(&r->census);
	garbage_report_finish(&r->garbage);
	free(r);
}

/* Reports written so far. */
uint64_t report_count(const struct report *r)
{
	return r != NULL ? r->written : 0;
}

/* Where reports go in *dir: the configured directory, else
 * $STATE_DIRECTORY's first entry; NULL for none (log only). -1 if out of
 * memory. */
static int report_dir(const struct report *r, char **dir)
{
	const char *conf = r->srv->cfg->forensics_report_dir;
	const char *state = getenv("STATE_DIRECTORY");

	*dir = NULL;
	if (conf != NULL && *conf != '\0')
		*dir = strdup(conf);
	else if (state != NULL && *state != '\0')
		*dir = strndup(state, strcspn(state, ":"));
	else
		return 0;
	return *dir != NULL ? 0 : -1;
}

/* The report as JSON. */
static struct json *report_json(struct report *r)
{
	struct json *j = json_object(), *o;
	struct memwatch_status ws;
	size_t i;

	memwatch_status(r->srv->watch, &ws);
	json_add_str(j, "reason", "the watchdog entered the critical level");
	json_add_u64(j, "time_us", now_us());
	json_add_u64(j, "pid", (uint64_t)getpid());
	json_add_str(j, "level", r->level);
	json_add_u64(j, "usage_bytes", ws.st.usage_bytes);
	json_add_u64(j, "rss_bytes", ws.st.rss_bytes);
	json_add_u64(j, "limit_bytes", ws.st.limit_bytes);
	json_add_str(j, "limit_source", ws.limit_source);
	census_to_json(&r->census, json_add_object(j, "census"));
	o = json_add_object(j, "garbage");
	garbage_report_to_json(&r->garbage, o);
	json_add_bool(o, "debug_leak", r->srv->debug_leak);
	o = json_add_array(j, "suspects");
	for (i = 0; i < ws.suspects.n; i++) {
		struct json *t = json_add_object(o, NULL);

		json_add_str(t, "type", ws.suspects.types[i].type);
		json_add_u64(t, "first", ws.suspects.types[i].first);
		json_add_u64(t, "last", ws.suspects.types[i].last);
	}
	json_add_u64(j, "leak_suspected_total", ws.leaks);
	json_add_bool(j, "truncated", r->truncated);
	return j;
}

/* Why dir (open as dfd) must not hold reports, or NULL: it must be ours or
 * root's, and no one else may write it. Someone who can write it could
 * plant a link where the report goes, or replace a report with theirs. */
static const char *report_dir_unsafe(int dfd)
{
	struct stat st;

	if (fstat(dfd, &st) != 0)
		return strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "not a directory";
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return "owned by another user than root or reclaimd's";
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "writable by its group or by others (chmod go-w)";
	return NULL;
}

/* Why the components of path (as written, each with lstat) let someone
 * else choose where it leads, or NULL: each must be root's or ours, and a
 * directory above the last one written by no one else, but for root's
 * sticky directories (/tmp: others cannot replace an entry that is not
 * theirs). A link planted in /tmp as /tmp/reports, pointing at a
 * directory of root's, would have passed report_dir_unsafe() there. */
static const char *report_path_unsafe_at(const char *path)
{
	char prefix[PATH_MAX];
	struct stat st;
	size_t i, n = strlen(path);

	if (path[0] != '/' || n >= sizeof prefix)
		return NULL; /* relative: its resolved form is checked */
	for (i = 1; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		if (lstat(prefix, &st) != 0)
			return NULL; /* not there yet: mkdir, then open, say */
		if (st.st_uid != 0 && st.st_uid != geteuid())
			return "a component is another user's";
		if (S_ISDIR(st.st_mode) && i < n &&
		    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    !((st.st_mode & S_ISVTX) && st.st_uid == 0))
			return "a directory above it is writable by others";
	}
	return NULL;
}

/* The same for dir as written and as resolved (the link DynamicUser=
 * makes of /var/lib/reclaim is root's, its target the service's). */
static const char *report_path_unsafe(const char *dir)
{
	char real[PATH_MAX];
	const char *why = report_path_unsafe_at(dir);

	if (why == NULL && realpath(dir, real) != NULL)
		why = report_path_unsafe_at(real);
	return why;
}

/* The report directory, open, once it is found safe; -1 (logged) if not. */
static int report_open_dir(const char *dir)
{
	const char *why;
	int dfd;

	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		log_warn("near-limit report: cannot create %s: %s", dir,
			 strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	why = dfd < 0 ? strerror(errno) : report_dir_unsafe(dfd);
	if (why == NULL)
		why = report_path_unsafe(dir);
	if (why != NULL) {
		log_err("near-limit report: not written to %s: %s", dir, why);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	return dfd;
}

/* Create a temporary file in dfd under a name no one could have guessed:
 * O_EXCL and O_NOFOLLOW, so a file or link planted there is never opened
 * (before, a fixed name opened with O_TRUNC followed a planted link and
 * overwrote its target). The name goes in tmp; -1 with errno. */
static int report_create_tmp(int dfd, const char *name, char *tmp, size_t len)
{
	uint64_t rnd;
	int i, fd = -1;

	for (i = 0; i < 16 && fd < 0; i++) {
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
			rnd = mono_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)i;
		snprintf(tmp, len, ".%s.%016llx.tmp", name,
			 (unsigned long long)rnd);
		fd = openat(dfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0640);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	return fd;
}

/* Write text to dir/name through a temporary file and renameat(2), which
 * replaces whatever is at name (a link too) without following it. */
static int report_write(const char *dir, const char *name, const char *text,
			char **path)
{
	char tmp[160];
	size_t len = strlen(text);
	int dfd, fd, rc = -1;
	bool ok;

	if (asprintf(path, "%s/%s", dir, name) < 0) {
		*path = NULL;
		log_err("near-limit report: out of memory: cannot write to %s",
			dir);
		return -1;
	}
	dfd = report_open_dir(dir);
	if (dfd < 0)
		return -1;
	fd = report_create_tmp(dfd, name, tmp, sizeof tmp);
	if (fd < 0) {
		log_err("near-limit report: cannot create a file in %s: %s",
			dir, strerror(errno));
		close(dfd);
		return -1;
	}
	ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && renameat(dfd, tmp, dfd, name) == 0) {
		fsync(dfd); /* the new name, durable too */
		rc = 0;
	} else {
		log_err("near-limit report: cannot write %s: %s", *path,
			strerror(errno));
		unlinkat(dfd, tmp, 0); /* ours: created exclusively */
	}
	close(dfd);
	return rc;
}

/* At start: say now, not at the first emergency, if the directory that
 * exists is one reports would be refused. */
static void report_check_dir(const struct report *r)
{
	const char *why;
	char *dir = NULL;
	int dfd;

	if (report_dir(r, &dir) != 0 || dir == NULL)
		return;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	why = dfd >= 0 ? report_dir_unsafe(dfd) : NULL;
	if (why == NULL)
		why = report_path_unsafe(dir);
	if (why != NULL)
		log_warn("near-limit reports will not be written to %s: %s",
			 dir, why);
	if (dfd >= 0)
		close(dfd);
	free(dir);
}

/* The census's heaviest types on one line: "A 5 objects 100 MiB, ...". */
static void report_top_types(const struct census *c, char *buf, size_t len)
{
	char b[HUMAN_LEN];
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < c->n && i < 5 && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s %llu/%s",
					i ? ", " : "", c->types[i].type,
					(unsigned long long)c->types[i].objects,
					human_bytes(c->types[i].bytes, b));
}

/* The summary in the log: usage, heaviest types, garbage, where it went
 * (path NULL: where says why it went nowhere). */
static void report_log(struct report *r, const struct json *j, const char *path,
		       const char *where)
{
	char top[512], u[HUMAN_LEN], l[HUMAN_LEN], g[HUMAN_LEN];
	const struct json *cy = json_at(json_path(j, "garbage.cycles"), 0);
	struct log_fields lf = {0};

	report_top_types(&r->census, top, sizeof top);
	if (path != NULL)
		log_field(&lf, "REPORT_PATH", "%s", path);
	else
		log_field(&lf, "REASON", "%s", where);
	log_field(&lf, "LEVEL", "%s", r->level);
	log_field(&lf, "USAGE_BYTES", "%llu",
		  (unsigned long long)json_path_u64(j, "usage_bytes"));
	log_field(&lf, "LIMIT_BYTES", "%llu",
		  (unsigned long long)json_path_u64(j, "limit_bytes"));
	log_event(LOG_WARNING, path ? LOG_ID_REPORT : LOG_ID_REPORT_FAILED, &lf,
		  "near-limit report: usage %s of %s (%s); heaviest types: %s; "
		  "garbage since the last read: %llu objects, %s%s%s; "
		  "%zu leak suspects; %s%s",
		  human_bytes(json_path_u64(j, "usage_bytes"), u),
		  human_bytes(json_path_u64(j, "limit_bytes"), l), r->level,
		  *top ? top : "none", (unsigned long long)r->garbage.objects,
		  human_bytes(r->garbage.bytes, g), cy ? ", top cycle " : "",
		  cy ? json_as_str(json_get(cy, "path")) : "",
		  json_size(json_get(j, "suspects")),
		  path ? "written to " : where, path ? path : "");
}

/* Everything gathered: render, write, log. */
static void report_finish(struct report *r)
{
	struct json *j = report_json(r);
	char *text = json_print(j, true), *dir = NULL, *path = NULL;
	const char *where = "no report_dir nor $STATE_DIRECTORY: not written "
			    "to a file";
	char name[96], stamp[32];
	time_t t = time(NULL);
	struct tm tm;

	if (text == NULL || report_dir(r, &dir) != 0)
		where = "out of memory: not written to a file";
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(name, sizeof name, "near-limit-%s-%d-%u.json", stamp,
		 (int)getpid(), ++r->seq);
	if (dir != NULL && text != NULL &&
	    report_write(dir, name, text, &path) != 0) {
		free(path);
		path = NULL;
	}
	if (dir != NULL && text != NULL && path == NULL)
		where = "not written to a file (see above)";
	report_log(r, j, path, where);
	r->written++;
	free(path);
	free(dir);
	free(text);
	json_destroy(j);
	census_finish(&r->census);
	garbage_report_finish(&r->garbage);
	r->truncated = false;
	r->busy = false;
}

/* Every worker copied its garbage report. */
static void report_garbage_done(struct fanout *fan)
{
	struct report *r = fan->arg;
	size_t i;

	for (i = 0; i < fan->n; i++)
		garbage_report_merge(&r->garbage, &fan->cmds[i].out.garbage);
	garbage_report_sort(&r->garbage);
	fanout_destroy(fan);
	report_finish(r);
}

/* Every worker answered the census: now the garbage, without emptying it. */
static void report_census_done(struct fanout *fan)
{
	struct report *r = fan->arg;
	struct fanout *next;
	size_t i;

	if (census_merge(fan, &r->census) != 0)
		r->truncated = true; /* out of memory: no census */
	fanout_destroy(fan);
	if (r->srv->stopping) {
		report_finish(r); /* the workers are going: no garbage */
		return;
	}
	next = fanout_create(r->srv, NULL, WCMD_GARBAGE, report_garbage_done);
	if (next == NULL) {
		r->truncated = true;
		report_finish(r); /* the census alone */
		return;
	}
	next->arg = r;
	for (i = 0; i < next->n; i++)
		next->cmds[i].in.peek = true;
	fanout_send(next);
}

/* The watchdog's level changed: report on entering critical, rate-limited. */
void report_level(struct report *r, int from, int to)
{
	uint64_t now = mono_us(), every;
	struct fanout *fan;

	if (r == NULL || r->srv->stopping || to < RCL_WATCHDOG_CRITICAL ||
	    from >= RCL_WATCHDOG_CRITICAL || r->busy)
		return;
	every = r->srv->cfg->forensics_report_interval_us;
	if (r->last_us != 0 && now - r->last_us < every) {
		log_info("near-limit report: skipped, the last was %llu s ago",
			 (unsigned long long)((now - r->last_us) / 1000000));
		return;
	}
	r->busy = true;
	r->last_us = now;
	snprintf(r->level, sizeof r->level, "%s", rcl_watchdog_level_name(to));
	fan = fanout_create(r->srv, NULL, WCMD_CENSUS, report_census_done);
	if (fan == NULL) {
		r->busy = false;
		return;
	}
	fan->arg = r;
	fanout_send(fan);
}
