/* The watchdog's internals, shared by the files of lib/watchdog/. */
#ifndef RECLAIM_WATCHDOG_INTERNAL_H
#define RECLAIM_WATCHDOG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <reclaim/watchdog.h>

/* Everything declared here is the library's own: not exported. */
#pragma GCC visibility push(hidden)

struct event;

#define WD_CPU_SLOTS 10
#define WD_LEAK_MAX 8 /* most rises leak_collections may ask for */
#define WD_EFD_MAX 6  /* v1 eventfds: four thresholds, two pressure */
#define WD_PRI_MAX 3  /* POLLPRI fds: PSI, memory.events, systemd */
#define WD_BUF 8192

/*
 * The built-in memory source (procfs.c). Cgroup files are opened relative
 * to directory descriptors and sampled files stay open, read with pread()
 * into buf, so a sample makes no allocation and no path has a length limit.
 */
struct wd_proc {
	uint64_t config_limit; /* cfg->limit_bytes */
	int version;	       /* 1, 2, or 0: no memory cgroup */
	char *mount;	       /* the hierarchy's top (malloc'd), or NULL */
	char *self;	       /* our cgroup's directory (malloc'd), or NULL */
	int self_fd;	       /* its directory (O_PATH) */
	int top_fd;	       /* the top's: where the walk up stops */
	int lim_fd;	       /* the limiting cgroup's (or ours), sampled */
	unsigned lim_up;       /* how many levels above ours it is */
	int walk_fd;	       /* the walk's tightest so far */
	unsigned walk_up;
	uint64_t cg_limit; /* the cgroup limit, 0: none up the hierarchy */
	uint64_t phys;	   /* MemTotal */
	int statm_fd;
	int meminfo_fd;
	int usage_fd; /* memory.usage_in_bytes / memory.current */
	int stat_fd;  /* memory.stat */
	int oom_fd;   /* memory.oom_control / memory.events */
	rcl_watchdog_sample last;
	char cg_reason[384]; /* why no cgroup limit is in force, or "" */
	char reason[512];    /* why the limit in force is that one */
	char buf[WD_BUF];
};

/* Notifications armed on the event base (notify.c). */
struct wd_notify {
	int efd[WD_EFD_MAX];	  /* v1 eventfds */
	int efd_kind[WD_EFD_MAX]; /* enum rcl_watchdog_wakeup */
	struct event *efd_ev[WD_EFD_MAX];
	uint64_t thresh[4]; /* v1 raw thresholds armed */
	int nthresh;
	int epfd; /* epoll set of the POLLPRI fds */
	int pri[WD_PRI_MAX];
	int pri_kind[WD_PRI_MAX];
	struct event *ep_ev;
	char desc[64];
};

/* The leak rule's run of rising survivor floors, with a census at each. */
struct wd_leak_run {
	uint32_t n; /* floors in the run */
	size_t floor[WD_LEAK_MAX + 1];
	size_t ntypes[WD_LEAK_MAX + 1];
	rcl_type_stats census[WD_LEAK_MAX + 1][RCL_WATCHDOG_CENSUS_MAX];
};

struct rcl_watchdog {
	struct event_base *base;
	rcl_watchdog_config cfg;
	rcl_watchdog_hooks hooks;
	rcl_watchdog_source src;
	struct wd_proc *proc; /* the built-in source, or NULL */
	struct wd_notify notify;
	struct event *poll_ev;
	struct rcl_gauge *gauge; /* shared with the attached heaps */
	struct event *wake_ev;	 /* the gauge's eventfd */

	rcl_watchdog_sample s;
	bool have_sample;
	uint64_t soft, hard, hyst; /* in bytes, from the limit */
	int level;
	uint64_t level_since;
	uint64_t last_refresh;
	bool acting; /* inside a reaction: wake-ups only count */

	uint64_t action_ns; /* last forced action */
	uint64_t action_usage;
	int action_level;
	uint64_t pressure_ns; /* last pressure response */
	uint64_t growth_ns;   /* last growth collection */
	uint64_t admission_ns; /* last collection for a refusal */
	bool pending;	      /* an asynchronous collection is running */
	uint64_t pending_t0;
	int pending_reason;

	uint64_t cpu_slot[WD_CPU_SLOTS];
	uint64_t cpu_slot_start;
	unsigned cpu_cur;
	bool have_gc_ns;
	uint64_t gc_ns_seen;

	rcl_watchdog_heap_info hi;
	bool have_hi;
	uint64_t full_seen;
	size_t floor_bytes, floor_objects;
	struct wd_leak_run run;
	rcl_watchdog_leak leak;

	size_t young_applied;
	void (*throttle)(void *arg, bool on); /* rcl_watchdog_set_throttle_hook */
	bool capped; /* the CPU cap refused the last forced collection */
	rcl_watchdog_stats st;
};

/* procfs.c */
int wd_proc_open(struct wd_proc *p, uint64_t config_limit, const char *cgroup);
void wd_proc_close(struct wd_proc *p);
int wd_proc_sample(void *ctx, rcl_watchdog_sample *out, bool refresh);
int wd_proc_usage(void *ctx, uint64_t *usage);
int wd_proc_openat(struct wd_proc *p, bool limiting, const char *name,
		   int flags);
void wd_proc_where(const struct wd_proc *p, char *out, size_t len);
const char *wd_proc_reason(const struct wd_proc *p);
uint64_t wd_now_ns(void);
bool wd_parse_key(const char *text, const char *key, uint64_t *val);
bool wd_scan_key(int fd, const char *key, uint64_t *val, char *buf,
		 size_t len);
size_t wd_scan_keys(int fd, const char *const *keys, uint64_t *vals, size_t n,
		    char *buf, size_t len);
int wd_proc_memstat(struct wd_proc *p, rcl_watchdog_memstat *out);
uint64_t wd_read_rss(void);
/* parsers of /proc/self/cgroup and mountinfo, for the tests too */
int wd_find_cgroup(FILE *f, char **path);
int wd_find_mount(FILE *f, int v, char **mnt, char **root);
void wd_unescape(char *s);

/* notify.c */
void wd_notify_init(struct wd_notify *n);
void wd_notify_arm(rcl_watchdog *wd);
void wd_notify_rearm(rcl_watchdog *wd);
void wd_notify_track(rcl_watchdog *wd);
void wd_notify_disarm(rcl_watchdog *wd);

/* watchdog.c */
void wd_wakeup(rcl_watchdog *wd, int wakeup, uint64_t t0);
bool wd_trims_after(const rcl_watchdog *wd, int reason);

#pragma GCC visibility pop

#endif
