/*
 * The process figures every Prometheus client library exports (the
 * process_* families), read as they read them on Linux: CPU time, virtual
 * and resident size from /proc/self/stat (the CPU time from getrusage(),
 * in microseconds rather than clock ticks), open descriptors by listing
 * /proc/self/fd, their limit from RLIMIT_NOFILE, and the start time as
 * /proc/self/stat's starttime (clock ticks after boot) plus /proc/stat's
 * btime. A figure that cannot be read is 0.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "reclaimd.h"

/* /proc/self/stat's fields from field 3 (state) on, after the command
 * name, whatever that holds (it may hold spaces and parentheses). */
struct procinfo_stat {
	unsigned long long starttime; /* field 22, clock ticks after boot */
	unsigned long long vsize;     /* field 23, bytes */
	long long rss;		      /* field 24, pages */
};

/* Read /proc/self/stat; -1 if it cannot be read. */
static int procinfo_stat(struct procinfo_stat *st)
{
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n;
	int field;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' '); /* p: the space before field 22 */
	if (p == NULL || sscanf(p, " %llu %llu %lld", &st->starttime,
				&st->vsize, &st->rss) != 3)
		return -1;
	return 0;
}

/* Descriptors open, the one listing them left out. */
static uint64_t procinfo_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n > 0 ? n - 1 : 0;
}

/* The boot time from /proc/stat's btime, in seconds since the epoch. */
static uint64_t procinfo_boot_time(void)
{
	unsigned long long btime = 0;
	char line[256];
	FILE *f = fopen("/proc/stat", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "btime %llu", &btime) == 1)
			break;
	}
	fclose(f);
	return btime;
}

/* When this process started, in milliseconds since the epoch (clock ticks
 * are 10 ms); 0 if unknown. Once, at start: it does not change. */
uint64_t procinfo_start_time_ms(void)
{
	struct procinfo_stat st;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t boot = procinfo_boot_time();

	if (procinfo_stat(&st) != 0 || hz <= 0 || boot == 0)
		return 0;
	return boot * 1000 + st.starttime * 1000 / (uint64_t)hz;
}

/* The process_* figures now into p (process.start_time_ms excepted: the
 * caller keeps it). */
void procinfo_read(struct stats_process *p)
{
	struct procinfo_stat st;
	struct rusage ru;
	struct rlimit rl;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->process_cpu_total_ns =
		    ((uint64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
			1000000000 +
		    ((uint64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) *
			1000;
	if (procinfo_stat(&st) == 0) {
		p->process_virtual_bytes = st.vsize;
		p->process_rss_bytes =
		    st.rss > 0 ? (uint64_t)st.rss * (uint64_t)getpagesize() : 0;
	}
	p->process_open_fds = procinfo_open_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->process_max_fds = rl.rlim_cur == RLIM_INFINITY
					 ? UINT64_MAX
					 : (uint64_t)rl.rlim_cur;
}
