/*
 * libreclaim: the memory watchdog.
 *
 * The watchdog knows the limit the kernel will enforce on this process (the
 * tightest cgroup v1 or v2 limit up the hierarchy, else a configured byte
 * value, else physical memory), reads what counts against it, and forces
 * collections, then sheds load, before the kernel's OOM killer would act.
 *
 * What counts against the limit ("usage"):
 *   cgroup v2: memory.current - inactive_file (from memory.stat)
 *   cgroup v1: memory.usage_in_bytes - total_inactive_file (memory.stat)
 *   configured limit without a cgroup limit: the process's RSS (statm)
 *   physical memory: MemTotal - MemAvailable (/proc/meminfo)
 * Inactive file cache is what reclaim drops first, before any OOM kill, so
 * it is not counted; everything else (anon, active cache, shmem, kernel
 * memory charged to the cgroup) is.
 *
 * It runs on a caller-provided libevent base, wakes on kernel notifications
 * where they exist (cgroup v1 usage thresholds and pressure levels, PSI
 * triggers, cgroup v2 memory.events, systemd's $MEMORY_PRESSURE_WATCH) and
 * otherwise polls at an interval that shortens as usage nears the limit.
 * After rcl_watchdog_create() its reaction path does not allocate.
 *
 * Levels: normal, elevated (usage >= soft), critical (usage >= hard) and
 * shedding (still critical after a full collection and a trim, or the GC CPU
 * cap is exhausted). A level is left only when usage falls a hysteresis gap
 * below the threshold that raised it.
 *
 * Actions go through hooks the host wires (rcl_watchdog_hooks), so a daemon
 * can broadcast them to every worker's heap; rcl_watchdog_hooks_heaps() wires
 * them to heaps owned by the watchdog's own thread.
 *
 * Threads: a watchdog belongs to the thread that runs its event base.
 */
#ifndef RECLAIM_WATCHDOG_H
#define RECLAIM_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

typedef struct rcl_watchdog rcl_watchdog;

enum rcl_watchdog_level {
	RCL_WATCHDOG_NORMAL,
	RCL_WATCHDOG_ELEVATED,
	RCL_WATCHDOG_CRITICAL,
	RCL_WATCHDOG_SHEDDING,
	RCL_WATCHDOG_LEVELS
};

/* Where the limit in force came from. */
enum rcl_watchdog_limit_source {
	RCL_WATCHDOG_LIMIT_UNKNOWN,
	RCL_WATCHDOG_LIMIT_CGROUP_V2,
	RCL_WATCHDOG_LIMIT_CGROUP_V1,
	RCL_WATCHDOG_LIMIT_CONFIG,
	RCL_WATCHDOG_LIMIT_PHYSICAL,
	RCL_WATCHDOG_LIMIT_SOURCES
};

/* Why a collection was forced. */
enum rcl_watchdog_reason {
	RCL_WATCHDOG_REASON_LEVEL,    /* usage crossed soft or hard */
	RCL_WATCHDOG_REASON_PRESSURE, /* PSI, v1 pressure_level, systemd */
	RCL_WATCHDOG_REASON_GROWTH,   /* heap grew past the growth ratio */
	RCL_WATCHDOG_REASON_MANUAL,   /* rcl_watchdog_force() */
	RCL_WATCHDOG_REASON_ADMISSION, /* an attached heap refused memory */
	RCL_WATCHDOG_REASONS
};

/* What woke the watchdog. */
enum rcl_watchdog_wakeup {
	RCL_WATCHDOG_WAKE_POLL,
	RCL_WATCHDOG_WAKE_THRESHOLD, /* v1 usage threshold eventfd */
	RCL_WATCHDOG_WAKE_PRESSURE,  /* v1 memory.pressure_level */
	RCL_WATCHDOG_WAKE_PSI,	     /* PSI trigger (cgroup v2 or system) */
	RCL_WATCHDOG_WAKE_EVENTS,    /* cgroup v2 memory.events changed */
	RCL_WATCHDOG_WAKE_SYSTEMD,   /* $MEMORY_PRESSURE_WATCH */
	RCL_WATCHDOG_WAKE_MANUAL,    /* rcl_watchdog_check() and friends */
	RCL_WATCHDOG_WAKE_ADMISSION, /* an attached heap refused memory */
	RCL_WATCHDOG_WAKEUPS
};

/* Names for reports: "normal", "cgroup-v1", "growth", "psi"... */
const char *rcl_watchdog_level_name(int level);
const char *rcl_watchdog_limit_source_name(int source);
const char *rcl_watchdog_reason_name(int reason);
const char *rcl_watchdog_wakeup_name(int wakeup);

/* Room for a cgroup path (PATH_MAX: the longest path the kernel opens). */
#define RCL_WATCHDOG_PATH_MAX 4096

/* Configuration. rcl_watchdog_config_init() fills the defaults. */
typedef struct rcl_watchdog_config {
	bool enabled;	      /* false: create() returns a disabled watchdog */
	uint64_t limit_bytes; /* 0: auto (cgroup, else physical memory) */
	double soft;	      /* fraction of the limit: elevated (0.80) */
	double hard;	      /* fraction of the limit: critical (0.95) */
	double hysteresis;    /* fraction of the limit below a threshold
			       * that usage must fall to leave (0.05) */
	bool events;	      /* use kernel notifications (true) */
	uint32_t poll_min_ms; /* fastest poll, near the limit (10) */
	uint32_t poll_max_ms; /* slowest poll, far from it (1000) */
	uint64_t fill_rate;   /* worst-case bytes/s for the poll interval
			       * (8 GiB/s: a core faulting in pages) */
	uint32_t limit_refresh_ms; /* re-read the limit this often (5000) */
	uint32_t repeat_ms;	   /* repeat a level's action at most this often
				    * while usage does not rise (1000) */
	/* Pacing: from pace_start of the limit up, the young byte trigger is
	 * min(base, headroom to hard / pace_divisor / workers), at least
	 * pace_min_bytes. */
	double pace_start;     /* 0.50 */
	uint32_t pace_divisor; /* 4 */
	size_t pace_min_bytes; /* 1 MiB */
	size_t young_bytes;    /* base trigger to restore (the heap's own,
				* 0: byte pacing off below pace_start) */
	uint32_t workers;      /* heaps sharing the limit (1) */
	/* GC CPU cap: at most gc_cpu_cap of workers x gc_window_ms in
	 * collections; past it, shed instead of collecting. */
	double gc_cpu_cap;     /* 0.50 */
	uint32_t gc_window_ms; /* 1000 */
	/* Growth: force a full collection when the heap's bytes or objects
	 * exceed (1 + growth_ratio) x the survivors of the last full
	 * collection, by at least growth_min_bytes / growth_min_objects. */
	double growth_ratio;	   /* 1.0; 0 turns the rule off */
	size_t growth_min_bytes;   /* 16 MiB */
	size_t growth_min_objects; /* 100000 */
	/* Leak suspected: the survivor floor rose across leak_collections
	 * consecutive full collections, by leak_min_bytes in all. */
	uint32_t leak_collections; /* 3; 0 turns the rule off */
	size_t leak_min_bytes;	   /* 1 MiB */
	/* PSI trigger: stall of psi_stall_us in psi_window_us ("some"). The
	 * window must be a multiple of 2 s for unprivileged users. */
	uint32_t psi_stall_us;	/* 150000 */
	uint32_t psi_window_us; /* 2000000 */
	bool systemd_pressure;	/* honour $MEMORY_PRESSURE_WATCH (true) */
	/* The memory cgroup to watch: "" finds the process's own from
	 * /proc/self/cgroup; a directory (v1 or v2, told by its files) is
	 * watched instead, its limit walked up to the top of its hierarchy. */
	char cgroup[RCL_WATCHDOG_PATH_MAX];
} rcl_watchdog_config;

void rcl_watchdog_config_init(rcl_watchdog_config *cfg);
/* Check a whole configuration: 0, or -1 with a sentence in err. */
int rcl_watchdog_config_validate(const rcl_watchdog_config *cfg, char *err,
				 size_t errlen);
/*
 * Deprecated: kept for the ABI (libreclaim1), to go with the next soname.
 * The library takes typed settings: set rcl_watchdog_config's fields, then
 * rcl_watchdog_config_validate. reclaimd parses its own configuration
 * (daemon/config.c, on common/value.c's grammar) and calls none of these.
 *
 * rcl_watchdog_config_set sets one field from text: "enabled"
 * (true/false/yes/no/on/off/1/0), "limit" ("auto", "512M", "2G",
 * "1048576"), "soft" and "hard" ("80%" or "0.8"), "hysteresis" (a
 * percentage), "cgroup" ("auto" or a cgroup directory). 0, or -1 with a
 * sentence in err naming the key and the value.
 * rcl_watchdog_parse_size: "512M", "4096", "64KiB" -> bytes; "auto" -> 0:
 * digits and an optional unit B, K, M, G, T (or KiB... TiB), powers of 1024,
 * nothing else ("1.5G", "8MB", "8 MiB", "0x10", "1e3" are errors). 0 or -1.
 * rcl_watchdog_parse_fraction: "80%", "80.5%", "0.8" -> 0.8. 0 or -1 (over
 * 100%, negative, garbage).
 */
int rcl_watchdog_config_set(rcl_watchdog_config *cfg, const char *key,
			    const char *value, char *err, size_t errlen)
    __attribute__((deprecated("set rcl_watchdog_config's fields")));
int rcl_watchdog_parse_size(const char *s, uint64_t *bytes, char *err,
			    size_t errlen)
    __attribute__((deprecated("parse sizes in the program")));
int rcl_watchdog_parse_fraction(const char *s, double *frac, char *err,
				size_t errlen)
    __attribute__((deprecated("parse fractions in the program")));

/* One reading of memory and the limit. */
typedef struct rcl_watchdog_sample {
	uint64_t usage;	      /* what counts against the limit (see top) */
	uint64_t limit;	      /* the limit in force; 0 if unknown */
	int limit_source;     /* enum rcl_watchdog_limit_source */
	uint64_t rss;	      /* the process's resident set */
	uint64_t raw_usage;   /* cgroup usage before subtracting cache */
	uint64_t reclaimable; /* inactive file cache not counted */
	uint64_t oom_kills;   /* the cgroup's oom_kill counter */
} rcl_watchdog_sample;

/* A memory source. The built-in one reads /proc and the cgroup files; tests
 * inject a fake. sample() fills out and returns 0 (-1 on failure: the
 * watchdog keeps the last sample); refresh asks it to re-read the limit.
 * now_ns() is the clock (NULL: CLOCK_MONOTONIC). */
typedef struct rcl_watchdog_source {
	int (*sample)(void *ctx, rcl_watchdog_sample *out, bool refresh);
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
} rcl_watchdog_source;

/* Heap figures the growth and leak rules read (summed over heaps). */
typedef struct rcl_watchdog_heap_info {
	size_t objects;
	size_t bytes;
	uint64_t full_collections; /* of the oldest generation */
	size_t survivor_objects;   /* after the last full collection */
	size_t survivor_bytes;
	uint64_t gc_ns; /* cumulative time in collections */
	/* every heap collects its oldest generation in increments, whose
	 * pacing finds old garbage as full collections would: the growth
	 * rule forces none (0 from a hook that does not know) */
	bool incremental;
} rcl_watchdog_heap_info;

#define RCL_WATCHDOG_LEAK_TYPES 16

/* A "leak suspected" event: the survivor floor rose across collections
 * full collections; the types whose survivor counts rose at each. */
typedef struct rcl_watchdog_leak {
	uint32_t collections;
	size_t floor_first_bytes;
	size_t floor_last_bytes;
	size_t ntypes;
	struct {
		const char *name;
		size_t first; /* survivors at the first floor */
		size_t last;  /* survivors at the last */
	} types[RCL_WATCHDOG_LEAK_TYPES];
} rcl_watchdog_leak;

#define RCL_WATCHDOG_PENDING 1

/* What the host wires. Every hook is optional; arg is passed to each.
 * collect() runs a collection of generations 0..generation on every heap
 * and returns 0 when it is done, or RCL_WATCHDOG_PENDING when it will finish
 * later (the host then calls rcl_watchdog_collect_done()). trim() returns
 * the bytes given back (0 if unknown); it follows every forced collection
 * but the growth rule's at the normal level (rcl_watchdog_trims()). heap_info() and census() feed the
 * growth, leak and CPU-cap rules. */
typedef struct rcl_watchdog_hooks {
	int (*collect)(void *arg, int generation, int reason);
	size_t (*trim)(void *arg);
	void (*shed)(void *arg, bool on);
	void (*pace)(void *arg, size_t young_bytes);
	bool (*heap_info)(void *arg, rcl_watchdog_heap_info *out);
	size_t (*census)(void *arg, rcl_type_stats *out, size_t max);
	void (*level)(void *arg, int from, int to);
	void (*leak)(void *arg, const rcl_watchdog_leak *leak);
	void *arg;
} rcl_watchdog_hooks;

#define RCL_WATCHDOG_REACTION_BUCKETS 14
/* Upper bounds in nanoseconds of the reaction-time histogram's buckets:
 * 100 us, 250 us, 500 us, 1 ms, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1 s,
 * +Inf (UINT64_MAX). */
extern const uint64_t
    rcl_watchdog_reaction_bounds_ns[RCL_WATCHDOG_REACTION_BUCKETS];

/* A snapshot of the watchdog for reports and metrics. */
typedef struct rcl_watchdog_stats {
	bool enabled;
	uint64_t limit_bytes;
	int limit_source;		    /* enum rcl_watchdog_limit_source */
	char cgroup[RCL_WATCHDOG_PATH_MAX]; /* the cgroup read, or "" */
	/* Why the limit in force is the one it is, in a sentence: which
	 * cgroup file, or why none was found ("no memory cgroup in
	 * /proc/self/cgroup", "... has no limit up to the hierarchy's top") */
	char limit_reason[512];
	char notify[64];		    /* armed notifications, or "poll" */
	uint64_t usage_bytes;
	uint64_t rss_bytes;
	uint64_t raw_usage_bytes;
	uint64_t reclaimable_bytes;
	uint64_t soft_bytes;
	uint64_t hard_bytes;
	uint64_t oom_kills; /* the cgroup's counter */
	int level;
	uint64_t level_changes;
	uint64_t time_in_level_ns[RCL_WATCHDOG_LEVELS];
	uint64_t entered_level[RCL_WATCHDOG_LEVELS];
	uint64_t samples;
	uint64_t wakeups[RCL_WATCHDOG_WAKEUPS];
	uint32_t poll_interval_ms;
	uint64_t forced_total;
	uint64_t forced_young;
	uint64_t forced_full;
	uint64_t forced[RCL_WATCHDOG_REASONS][RCL_WATCHDOG_LEVELS];
	uint64_t trims;
	uint64_t trim_bytes;
	uint64_t shed_total;	/* times shedding began */
	uint64_t shed_requests; /* rcl_watchdog_count_shed() */
	bool shedding;
	uint64_t throttle_events; /* collections the CPU cap refused */
	bool throttled;
	double gc_cpu_fraction; /* over the last window */
	size_t young_bytes;	/* pacing's trigger in force */
	uint64_t pace_changes;
	uint64_t leak_suspected;
	size_t survivor_floor_bytes;
	uint64_t reactions;
	uint64_t reaction_last_ns;
	uint64_t reaction_max_ns;
	uint64_t reaction_total_ns; /* sum of all reactions */
	uint64_t reaction_hist[RCL_WATCHDOG_REACTION_BUCKETS];
	/* Admission (rcl_watchdog_attach()), summed over the attached heaps. */
	uint32_t heaps;		       /* attached */
	uint64_t estimate_bytes;       /* usage as the heaps estimate it now */
	uint64_t refused;	       /* allocations refused */
	uint64_t refused_bytes;	       /* the bytes they asked for */
	uint64_t admission_collections; /* run by allocations first */
	uint64_t admission_readings;   /* kernel readings heaps took */
	uint64_t admission_wakes;      /* refusals that woke the watchdog */
} rcl_watchdog_stats;

/*
 * Create a watchdog on base (NULL: no events; drive it with
 * rcl_watchdog_check()). NULL cfg: defaults. NULL source: the built-in one.
 * hooks is copied. NULL with errno (EINVAL with err filled for a bad
 * configuration, ENOMEM).
 */
rcl_watchdog *rcl_watchdog_create(struct event_base *base,
				  const rcl_watchdog_config *cfg,
				  const rcl_watchdog_hooks *hooks,
				  const rcl_watchdog_source *source, char *err,
				  size_t errlen);
void rcl_watchdog_destroy(rcl_watchdog *wd); /* NULL is a no-op */

/*
 * Admission: an attached heap asks before it takes memory from the system
 * (a pool page, a large block, a malloc'd object or payload, bytes counted
 * with rcl_owned_add()) whether usage would pass the hard level. Past the
 * soft level it reads the kernel's figure itself and collects as the
 * watchdog's pacing would, before taking the memory; past hard it runs a
 * full collection and a trim, and refuses the allocation (NULL, ENOMEM) if
 * it still does not fit, waking the watchdog, which collects every heap.
 * The usage it compares is an estimate cheap enough for the allocation path:
 * the last kernel reading (the watchdog's sample, or the heap's own past
 * soft) plus the large blocks mapped since, exactly, plus the small memory
 * this heap took since. It can be low by what other heaps and code outside
 * the heaps took since that reading (the watchdog polls faster as usage
 * nears a level, at least every poll_min_ms there; past soft, heaps read at
 * least every millisecond), and by memory counted with rcl_owned_add() that
 * the caller has not yet written; it is high, never low, for large blocks.
 * A watchdog with no limit, or disabled, admits everything.
 *
 * Attach from the heap's owner thread, or before handing the heap to it.
 * The watchdog and its heaps may be destroyed in any order; a heap is
 * detached when it is destroyed.
 */
int rcl_watchdog_attach(rcl_watchdog *wd, rcl_heap *h); /* 0, or -1 */
void rcl_watchdog_detach(rcl_heap *h);

/* Whether a forced collection for reason is followed by a trim now: every
 * one but the growth rule's at the normal level (memory is not short, and
 * what a trim gives back malloc would only take again). For hosts whose
 * collect hook trims their heaps too. */
bool rcl_watchdog_trims(const rcl_watchdog *wd, int reason);

/*
 * Collection time throttled: throttle(hooks.arg, true) when the CPU cap
 * (gc_cpu_cap) first refuses a forced collection, throttle(arg, false) when
 * a forced collection runs again or usage falls back to the normal level;
 * once per change, on the watchdog's thread. A hook of its own, not a member
 * of rcl_watchdog_hooks, whose size is part of libreclaim.so.1's ABI. NULL:
 * none.
 */
void rcl_watchdog_set_throttle_hook(rcl_watchdog *wd,
				    void (*throttle)(void *arg, bool on));

/* Sample now and act on what it shows; the level afterwards. */
int rcl_watchdog_check(rcl_watchdog *wd);
/* A wake-up from outside (a host's own pressure source): as the built-in
 * notifications, sample and act, timing the reaction from now. */
int rcl_watchdog_notify(rcl_watchdog *wd, int wakeup);
/* Force a collection of generations 0..generation, as if for reason. */
void rcl_watchdog_force(rcl_watchdog *wd, int generation, int reason);
/* An asynchronous collect() hook finished (see RCL_WATCHDOG_PENDING). */
void rcl_watchdog_collect_done(rcl_watchdog *wd);
/* Re-read the limit now (and re-arm thresholds if it changed). */
void rcl_watchdog_refresh(rcl_watchdog *wd);
/* Change the configuration at run time (reload); 0 or -1 with err. */
int rcl_watchdog_reconfigure(rcl_watchdog *wd, const rcl_watchdog_config *cfg,
			     char *err, size_t errlen);

int rcl_watchdog_level(const rcl_watchdog *wd);
bool rcl_watchdog_shedding(const rcl_watchdog *wd);
/* The host refused a request because of shedding: count it. */
void rcl_watchdog_count_shed(rcl_watchdog *wd);
void rcl_watchdog_stats_get(const rcl_watchdog *wd, rcl_watchdog_stats *out);

/* Read memory and the limit once, as the built-in source does, without a
 * watchdog (for --check-config and tests). cgroup may be NULL. 0 or -1. */
int rcl_watchdog_probe(const rcl_watchdog_config *cfg, rcl_watchdog_sample *out,
		       char *cgroup, size_t len);

/*
 * The watched cgroup's memory (the limiting one, else the process's own),
 * broken down from its memory.stat, and its OOM kill counter. Read on
 * demand: the kernel sums every counter of the file for each read, so not
 * for each sample.
 *   anon:   v2 anon; v1 total_rss (anonymous pages and swap cache)
 *   file:   v2 file; v1 total_cache (page cache, tmpfs included)
 *   kernel: v2 kernel (before Linux 5.18, which lacks it: slab +
 *           kernel_stack + pagetables + percpu + vmalloc); v1
 *           memory.kmem.usage_in_bytes (0 if kernel memory is not counted)
 *   oom_kills: v2 memory.events oom_kill, v1 memory.oom_control oom_kill:
 *           processes of the cgroup or below it the kernel killed for
 *           memory, since the cgroup was made
 */
typedef struct rcl_watchdog_memstat {
	int version; /* 1 or 2; 0: no memory cgroup, every figure 0 */
	uint64_t anon;
	uint64_t file;
	uint64_t kernel;
	uint64_t oom_kills;
	char cgroup[RCL_WATCHDOG_PATH_MAX]; /* its directory (display) */
} rcl_watchdog_memstat;

/* Read the watched cgroup's memory.stat and OOM kills into out; call it on
 * the watchdog's thread (the one its event base runs on). A watchdog that
 * is disabled (or has not sampled yet) has no cgroup files open: then it
 * reads as rcl_watchdog_memstat_probe() does. 0, or -1 (out zeroed). */
int rcl_watchdog_memstat_get(rcl_watchdog *wd, rcl_watchdog_memstat *out);
/* The same without a watchdog, finding the cgroup as cfg says (NULL: the
 * process's own); 0, or -1 (out zeroed). */
int rcl_watchdog_memstat_probe(const rcl_watchdog_config *cfg,
			       rcl_watchdog_memstat *out);

/* The process's memory from /proc/self/smaps_rollup, read on demand (it
 * walks every mapping: not for each sample). */
typedef struct rcl_watchdog_smaps {
	uint64_t rss;	    /* Rss */
	uint64_t pss;	    /* Pss */
	uint64_t anon;	    /* Anonymous: heap, stacks, payloads */
	uint64_t pss_anon;  /* Pss_Anon */
	uint64_t pss_file;  /* Pss_File: mapped files, libraries */
	uint64_t pss_shmem; /* Pss_Shmem */
	uint64_t swap;	    /* Swap */
} rcl_watchdog_smaps;

/* Read smaps_rollup into out (bytes); 0, or -1 with errno (ENOENT before
 * Linux 4.14). */
int rcl_watchdog_smaps_read(rcl_watchdog_smaps *out);

/* Heaps that the watchdog's own thread owns, for rcl_watchdog_hooks_heaps().
 * The caller keeps it (and the heaps) alive as long as the watchdog. */
#define RCL_WATCHDOG_CENSUS_MAX 64
typedef struct rcl_watchdog_heaps {
	rcl_heap **heaps;
	size_t n;
	rcl_type_stats scratch[RCL_WATCHDOG_CENSUS_MAX]; /* census merging */
	/* the census taken right after the last full collection */
	rcl_type_stats full[RCL_WATCHDOG_CENSUS_MAX];
	size_t nfull;
	bool have_full;
} rcl_watchdog_heaps;

/* Wire hooks to hs: collect runs rcl_collect() on each heap, trim calls
 * rcl_heap_trim() on each and rcl_watchdog_trim(), pace sets each heap's
 * young byte trigger, heap_info sums rcl_heap_stats(), and census answers
 * the survivors counted right after the last full collection (a collect
 * hook installed on each heap takes it), so the leak rule compares floors,
 * not whatever lived when it looked. */
void rcl_watchdog_hooks_heaps(rcl_watchdog_hooks *hooks,
			      rcl_watchdog_heaps *hs);

/* malloc_trim(0), returning the fall in RSS it caused (0 if none). */
size_t rcl_watchdog_trim(void);

#ifdef __cplusplus
}
#endif

#endif
