/* Leak forensics (daemon/forensics.c) on a real heap: grouping by type with
 * owned bytes, cycle paths by field name, deduplication, bounds, detaching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "forensics.h"
#include "unit.h"

/* The write-up's pair: Runner.yield_point -> Task, Task.runner -> Runner. */
typedef struct runner {
	struct task *yield_point;
} runner;

typedef struct task {
	struct runner *runner;
	void *payload;
	size_t size;
	void *bigdata; /* an untracked payload object held only here */
} task;

/* A ring node: next, and a self edge when asked. */
typedef struct ring {
	struct ring *next;
} ring;

/* Runner's references. */
static void runner_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	runner *r = self;

	if (r->yield_point)
		visit(r->yield_point, "yield_point", arg);
}

/* Drop Runner's references. */
static void runner_clear(void *self)
{
	runner *r = self;
	void *t = r->yield_point;

	r->yield_point = NULL;
	rcl_decref(t);
}

/* Task's references. */
static void task_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	task *t = self;

	if (t->runner)
		visit(t->runner, "runner", arg);
	if (t->bigdata)
		visit(t->bigdata, "bigdata", arg);
}

/* Drop Task's references. */
static void task_clear(void *self)
{
	task *t = self;
	void *r = t->runner, *b = t->bigdata;

	t->runner = NULL;
	t->bigdata = NULL;
	rcl_decref(r);
	rcl_decref(b);
}

/* Free Task's payload. */
static void task_destroy(void *self)
{
	task *t = self;

	if (t->payload)
		rcl_owned_free(t, t->payload, t->size);
}

/* Ring's references. */
static void ring_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	ring *n = self;

	if (n->next)
		visit(n->next, "next", arg);
}

/* Drop Ring's references. */
static void ring_clear(void *self)
{
	ring *n = self;
	void *next = n->next;

	n->next = NULL;
	rcl_decref(next);
}

static const rcl_type runner_type = {.name = "Runner",
				     .size = sizeof(runner),
				     .traverse = runner_traverse,
				     .clear = runner_clear};
static const rcl_type task_type = {.name = "Task",
				   .size = sizeof(task),
				   .traverse = task_traverse,
				   .clear = task_clear,
				   .destroy = task_destroy};
/* An untracked blob: no traverse, its size is user data. */
static const rcl_type blob_type = {.name = "blob"};

static const rcl_type ring_type = {.name = "Ring",
				   .size = sizeof(ring),
				   .traverse = ring_traverse,
				   .clear = ring_clear};

/* A heap that collects only when told. */
static rcl_heap *manual_heap(void)
{
	rcl_config cfg;

	rcl_config_init(&cfg);
	cfg.auto_collect = false;
	return rcl_heap_new(&cfg);
}

/* One leaky request: a Runner <-> Task cycle holding payload bytes, as
 * owned memory and as an untracked blob only the Task holds. */
enum { RUNNER_LINE = __LINE__ + 3 }; /* leak_one's first rcl_new */
static void leak_one(rcl_heap *h, size_t payload)
{
	runner *r = rcl_new(h, &runner_type);
	task *t = rcl_new(h, &task_type); /* RUNNER_LINE + 1 */

	if (payload)
		t->bigdata = rcl_new_var(h, &blob_type, payload);
	t->size = payload;
	t->payload = payload ? rcl_owned_alloc(t, payload) : NULL;
	if (t->payload)
		memset(t->payload, 'x', payload);
	r->yield_point = t; /* takes our reference to t */
	rcl_incref(r);
	t->runner = r;
	rcl_decref(r);
}

/* A ring of n nodes with no outside reference. */
static void leak_ring(rcl_heap *h, size_t n)
{
	ring *first = rcl_new(h, &ring_type), *cur = first;
	size_t i;

	for (i = 1; i < n; i++) {
		cur->next = rcl_new(h, &ring_type);
		cur = cur->next;
	}
	cur->next = first; /* takes our reference to first */
}

/* The entry for type in r, or NULL. */
static const struct garbage_type *find_type(const struct garbage_report *r,
					    const char *type)
{
	size_t i;

	for (i = 0; i < r->ntypes; i++) {
		if (strcmp(r->types[i].type, type) == 0)
			return &r->types[i];
	}
	return NULL;
}

/* Five leaky requests: Runner and Task five each, one shape found five
 * times, spelled from Runner, Task's bytes include the payloads. */
static void test_runner_task(void **state)
{
	rcl_heap *h = manual_heap();
	struct forensics *fx = forensics_create();
	struct garbage_report r;
	const struct garbage_type *t;
	int i;

	(void)state;
	forensics_attach(fx, h, NULL);
	for (i = 0; i < 5; i++)
		leak_one(h, 1 << 20);
	assert_int_equal(rcl_collect(h, 2), 10);
	forensics_take(fx, false, &r);
	garbage_report_sort(&r);
	assert_int_equal(r.ntypes, 2);
	assert_int_equal(r.objects, 10);
	assert_int_equal(r.collections, 1);
	assert_string_equal(r.types[0].type, "Task"); /* heaviest first */
	assert_true(r.types[0].bytes >= 10u << 20);   /* owned and held */
	t = find_type(&r, "Runner");
	assert_non_null(t);
	assert_int_equal(t->count, 5);
	assert_int_equal(find_type(&r, "Task")->count, 5);
	assert_int_equal(r.ncycles, 1);
	assert_string_equal(r.cycles[0].path,
			    "Runner -yield_point-> Task -runner-> Runner");
	assert_int_equal(r.cycles[0].count, 5);
	assert_int_equal(r.cycles[0].length, 2);
	assert_false(r.truncated);
	garbage_report_finish(&r);
	forensics_detach(fx, h);
	forensics_destroy(fx);
	rcl_heap_destroy(h);
}

/* Reading empties the report; peeking does not; detached records nothing. */
static void test_take_peek_detach(void **state)
{
	rcl_heap *h = manual_heap();
	struct forensics *fx = forensics_create();
	struct garbage_report r;

	(void)state;
	forensics_attach(fx, h, NULL);
	leak_one(h, 0);
	rcl_collect(h, 2);
	forensics_take(fx, true, &r);
	assert_int_equal(r.objects, 2);
	garbage_report_finish(&r);
	forensics_take(fx, false, &r);
	assert_int_equal(r.objects, 2);
	garbage_report_finish(&r);
	forensics_take(fx, false, &r);
	assert_int_equal(r.objects, 0);
	assert_int_equal(r.ntypes, 0);
	garbage_report_finish(&r);
	forensics_detach(fx, h);
	leak_one(h, 0);
	assert_int_equal(rcl_collect(h, 2), 2);
	forensics_take(fx, false, &r);
	assert_int_equal(r.objects, 0);
	garbage_report_finish(&r);
	forensics_destroy(fx);
	rcl_heap_destroy(h);
}

/* Rings of every length up to the bound are spelled; a self edge too;
 * longer ones are grouped but have no path. */
static void test_lengths(void **state)
{
	rcl_heap *h = manual_heap();
	struct forensics *fx = forensics_create();
	struct garbage_report r;
	size_t i;

	(void)state;
	forensics_attach(fx, h, NULL);
	leak_ring(h, 1);
	leak_ring(h, FX_CYCLE_MAX);
	leak_ring(h, FX_CYCLE_MAX + 1);
	rcl_collect(h, 2);
	forensics_take(fx, false, &r);
	assert_int_equal(find_type(&r, "Ring")->count, 2 + 2 * FX_CYCLE_MAX);
	assert_int_equal(r.ncycles, 2);
	for (i = 0; i < r.ncycles; i++) {
		if (r.cycles[i].length == 1)
			assert_string_equal(r.cycles[i].path,
					    "Ring -next-> Ring");
		else
			assert_int_equal(r.cycles[i].length, FX_CYCLE_MAX);
	}
	garbage_report_finish(&r);
	forensics_detach(fx, h);
	forensics_destroy(fx);
	rcl_heap_destroy(h);
}

/* A large garbage set stays within the search budget and is all counted. */
static void test_bounded(void **state)
{
	rcl_heap *h = manual_heap();
	struct forensics *fx = forensics_create();
	struct garbage_report r;
	int i;

	(void)state;
	forensics_attach(fx, h, NULL);
	leak_ring(h, 100000); /* no search can close it */
	for (i = 0; i < 30000; i++)
		leak_one(h, 0); /* more cycles than one collection spells */
	rcl_collect(h, 2);
	forensics_take(fx, false, &r);
	assert_int_equal(find_type(&r, "Ring")->count, 100000);
	assert_int_equal(find_type(&r, "Runner")->count, 30000);
	assert_int_equal(r.ncycles, 1);
	assert_true(r.cycles[0].count <= 30000);
	assert_true(r.cycles[0].count > 0);
	assert_true(r.truncated);
	garbage_report_finish(&r);
	forensics_detach(fx, h);
	forensics_destroy(fx);
	rcl_heap_destroy(h);
}

/* Merging sums by type name and by cycle spelling. */
static void test_merge(void **state)
{
	rcl_heap *h = manual_heap();
	struct forensics *fx = forensics_create();
	struct garbage_report a, b, m = {0};

	(void)state;
	forensics_attach(fx, h, NULL);
	leak_one(h, 0);
	rcl_collect(h, 2);
	forensics_take(fx, false, &a);
	leak_one(h, 0);
	leak_one(h, 0);
	rcl_collect(h, 2);
	forensics_take(fx, false, &b);
	garbage_report_merge(&m, &a);
	garbage_report_merge(&m, &b);
	assert_int_equal(find_type(&m, "Task")->count, 3);
	assert_int_equal(m.ncycles, 1);
	assert_int_equal(m.cycles[0].count, 3);
	assert_int_equal(m.collections, 2);
	garbage_report_finish(&a);
	garbage_report_finish(&b);
	garbage_report_finish(&m);
	forensics_detach(fx, h);
	forensics_destroy(fx);
	rcl_heap_destroy(h);
}

/* The row for (task, type) in r, or NULL. */
static const struct garbage_task *find_task(const struct garbage_report *r,
					    const char *name, const char *type)
{
	size_t i;

	for (i = 0; i < r->ntasks; i++) {
		if (strcmp(r->tasks[i].task, name) == 0 &&
		    strcmp(r->tasks[i].type, type) == 0)
			return &r->tasks[i];
	}
	return NULL;
}

/* With sites recorded: five leaky requests and five fixed ones (their
 * pair freed by reference counting) attribute every Runner and Task to the
 * leaky route, with the lines of leak_one that made them; nothing to the
 * fixed one; objects made outside a task count under "none"; the running
 * totals count per task and survive a take. */
static void test_attribution(void **state)
{
	rcl_heap *h = manual_heap();
	struct forensics *fx = forensics_create();
	struct garbage_totals totals = {0};
	struct garbage_report r;
	const struct garbage_site *s;
	const char *file;
	size_t i;
	runner *fixed;

	(void)state;
	assert_int_equal(rcl_heap_record_sites(h, 1000), 0);
	forensics_attach(fx, h, &totals);
	for (i = 0; i < 5; i++) {
		rcl_heap_set_label(h, "/seed/leaky");
		leak_one(h, 0);
		rcl_heap_set_label(h, "/seed/fixed");
		fixed = rcl_new(h, &runner_type);
		fixed->yield_point = rcl_new(h, &task_type);
		rcl_decref(fixed);
	}
	rcl_heap_set_label(h, NULL);
	leak_ring(h, 1);
	assert_int_equal(rcl_collect(h, 2), 11);
	forensics_take(fx, false, &r);
	garbage_report_sort(&r);
	assert_int_equal(r.ntasks, 3);
	assert_int_equal(find_task(&r, "/seed/leaky", "Runner")->count, 5);
	assert_int_equal(find_task(&r, "/seed/leaky", "Task")->count, 5);
	assert_int_equal(find_task(&r, "none", "Ring")->count, 1);
	assert_null(find_task(&r, "/seed/fixed", "Runner"));
	assert_int_equal(r.nsites, 3);
	for (i = 0; i < r.nsites; i++) {
		s = &r.sites[i];
		if (strcmp(s->type, "Ring") == 0)
			continue;
		assert_string_equal(s->cycle,
				    "Runner -yield_point-> Task -runner-> "
				    "Runner");
		assert_string_equal(s->task, "/seed/leaky");
		assert_int_equal(s->count, 5);
		assert_string_equal(s->func, "leak_one");
		file = strstr(s->file, "tests/unit/test_forensics.c");
		assert_non_null(file);
		assert_true(strncmp(s->file, "../", 3) != 0);
		assert_int_equal(s->line, strcmp(s->type, "Runner") == 0
					      ? RUNNER_LINE
					      : RUNNER_LINE + 1);
	}
	garbage_report_finish(&r);
	assert_int_equal(atomic_load(&totals.n), 2);
	assert_string_equal(totals.t[0].task, "/seed/leaky");
	assert_int_equal(atomic_load(&totals.t[0].objects), 10);
	assert_string_equal(totals.t[1].task, "none");
	forensics_detach(fx, h);
	forensics_destroy(fx);
	rcl_heap_destroy(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runner_task),
	    cmocka_unit_test(test_take_peek_detach),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_attribution),
	};

	return unit_run(argc, argv, tests);
}
