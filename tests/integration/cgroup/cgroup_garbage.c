/*
 * The real cgroup test's helper: allocates cyclic garbage with 20 MiB
 * payloads in a loop, the write-up's Runner <-> Task cycle, each payload
 * really written. Run it only inside a small memory cgroup (run.sh makes
 * one): it refuses to start anywhere else, since with the watchdog and byte
 * pacing off it takes memory until the kernel kills it.
 *
 *   cgroup-garbage on  N   watchdog on, byte pacing on (the defaults)
 *   cgroup-garbage wd  N   watchdog on, count-only pacing (700,10,10, 0)
 *   cgroup-garbage off N   both off: CPython's pacing, no watchdog
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reclaim/reclaim.h>

#define PAYLOAD ((size_t)20 << 20)
#define MAX_LIMIT ((uint64_t)1 << 30)

struct runner {
	void *yield_point; /* the Task */
};

struct task {
	void *runner; /* the Runner */
	char *payload;
};

/* Visit the Runner's Task. */
static void runner_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct runner *r = self;

	if (r->yield_point != NULL)
		visit(r->yield_point, "yield_point", arg);
}

/* Drop the Runner's Task. */
static void runner_clear(void *self)
{
	struct runner *r = self;
	void *t = r->yield_point;

	r->yield_point = NULL;
	rcl_decref(t);
}

/* Visit the Task's Runner. */
static void task_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct task *t = self;

	if (t->runner != NULL)
		visit(t->runner, "runner", arg);
}

/* Drop the Task's Runner. */
static void task_clear(void *self)
{
	struct task *t = self;
	void *r = t->runner;

	t->runner = NULL;
	rcl_decref(r);
}

/* Free the Task's payload. */
static void task_destroy(void *self)
{
	struct task *t = self;

	rcl_owned_free(self, t->payload, PAYLOAD);
	t->payload = NULL;
}

static const rcl_type runner_type = {
    .name = "Runner",
    .size = sizeof(struct runner),
    .traverse = runner_traverse,
    .clear = runner_clear,
};

static const rcl_type task_type = {
    .name = "Task",
    .size = sizeof(struct task),
    .traverse = task_traverse,
    .clear = task_clear,
    .destroy = task_destroy,
};

/* One request's garbage: Runner <-> Task, the Task owning 20 MiB. */
static int one_cycle(rcl_heap *h, int i)
{
	struct runner *r = rcl_new(h, &runner_type);
	struct task *t = rcl_new(h, &task_type);

	if (r == NULL || t == NULL)
		return -1;
	t->payload = rcl_owned_alloc(t, PAYLOAD);
	if (t->payload == NULL)
		return -1;
	memset(t->payload, i & 0xff, PAYLOAD);
	r->yield_point = t; /* t's reference moves into r */
	rcl_incref(r);
	t->runner = r;
	rcl_decref(r);
	return 0;
}

/* Refuse to run outside a memory cgroup with a small limit. */
static int check_confined(void)
{
	rcl_watchdog_sample s;
	char cg[256];

	if (rcl_watchdog_probe(NULL, &s, cg, sizeof cg) != 0 ||
	    (s.limit_source != RCL_WATCHDOG_LIMIT_CGROUP_V1 &&
	     s.limit_source != RCL_WATCHDOG_LIMIT_CGROUP_V2) ||
	    s.limit > MAX_LIMIT) {
		fprintf(stderr,
			"cgroup-garbage: not inside a memory cgroup limited "
			"to 1 GiB or less; refusing to run (see run.sh)\n");
		return -1;
	}
	printf("cgroup %s, limit %llu MiB (%s)\n", cg,
	       (unsigned long long)(s.limit >> 20),
	       rcl_watchdog_limit_source_name(s.limit_source));
	return 0;
}

/* Print what the watchdog saw. */
static void report(const rcl_watchdog *wd, const rcl_heap *h)
{
	rcl_watchdog_stats st;
	rcl_stats hs;

	rcl_heap_stats(h, &hs);
	printf("heap: %llu collections (%llu by bytes), %zu objects left\n",
	       (unsigned long long)hs.collections_total,
	       (unsigned long long)hs.collections_by_bytes_total, hs.objects);
	if (wd == NULL)
		return;
	rcl_watchdog_stats_get(wd, &st);
	printf("watchdog: notify %s, level %s, %llu changes, %llu forced "
	       "(%llu young, %llu full), %llu trims (%llu MiB), %llu shed, "
	       "%llu pace changes, reaction max %.2f ms\n",
	       st.notify, rcl_watchdog_level_name(st.level),
	       (unsigned long long)st.level_changes,
	       (unsigned long long)st.forced_total,
	       (unsigned long long)st.forced_young,
	       (unsigned long long)st.forced_full, (unsigned long long)st.trims,
	       (unsigned long long)(st.trim_bytes >> 20),
	       (unsigned long long)st.shed_total,
	       (unsigned long long)st.pace_changes,
	       (double)st.reaction_max_ns / 1e6);
}

/* The heap for a mode: defaults, or CPython's count-only pacing. */
static rcl_heap *make_heap(const char *mode)
{
	rcl_config cfg;

	rcl_config_init(&cfg);
	if (strcmp(mode, "on") != 0) {
		cfg.thresholds[0] = 700;
		cfg.thresholds[1] = 10;
		cfg.thresholds[2] = 10;
		cfg.young_bytes = 0;
	}
	return rcl_heap_new(&cfg);
}

/* The watchdog on base for heap h, or NULL in mode off. */
static rcl_watchdog *make_watchdog(struct event_base *base, const char *mode,
				   rcl_watchdog_heaps *hs)
{
	rcl_watchdog_config cfg;
	rcl_watchdog_hooks hooks;
	char err[256];
	rcl_watchdog *wd;

	if (strcmp(mode, "off") == 0)
		return NULL;
	rcl_watchdog_config_init(&cfg);
	cfg.young_bytes = rcl_young_bytes(hs->heaps[0]);
	rcl_watchdog_hooks_heaps(&hooks, hs);
	wd = rcl_watchdog_create(base, &cfg, &hooks, NULL, err, sizeof err);
	if (wd == NULL)
		fprintf(stderr, "cgroup-garbage: %s\n", err);
	return wd;
}

int main(int argc, char **argv)
{
	rcl_watchdog_heaps hs = {0};
	struct event_base *base;
	rcl_watchdog *wd;
	rcl_heap *h;
	int i, n;

	if (argc != 3 ||
	    (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "wd") != 0 &&
	     strcmp(argv[1], "off") != 0)) {
		fprintf(stderr, "usage: cgroup-garbage on|wd|off ITERATIONS\n");
		return 2;
	}
	n = atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (check_confined() != 0)
		return 2;
	base = event_base_new();
	h = make_heap(argv[1]);
	if (base == NULL || h == NULL)
		return 1;
	hs.heaps = &h;
	hs.n = 1;
	wd = make_watchdog(base, argv[1], &hs);
	if (wd == NULL && strcmp(argv[1], "off") != 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (one_cycle(h, i) != 0) {
			fprintf(stderr, "cgroup-garbage: allocation failed\n");
			return 1;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	printf("%s: %d cycles of 20 MiB done\n", argv[1], n);
	report(wd, h);
	rcl_watchdog_destroy(wd);
	rcl_heap_destroy(h);
	event_base_free(base);
	return 0;
}
