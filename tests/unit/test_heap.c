/* Heap rules: refcounting, tracking, owned bytes, accounting, failures. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testobj.h"
#include "unit.h"

static size_t live_objects(rcl_heap *h)
{
	rcl_stats st;

	rcl_heap_stats(h, &st);
	return st.objects;
}

/* The last reference frees at once: destroy runs, counts return to zero. */
static void test_refcount_frees_at_once(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	int destroyed = 0;
	node *a = rcl_new(h, &node_type);
	node *b = rcl_new(h, &node_type);

	(void)state;
	a->destroyed = b->destroyed = &destroyed;
	node_set(a, 0, b);
	rcl_decref(b); /* a still holds b */
	assert_int_equal(destroyed, 0);
	assert_int_equal(rcl_refcount(b), 1);
	assert_int_equal(live_objects(h), 2);
	rcl_decref(a); /* frees a, then b */
	assert_int_equal(destroyed, 2);
	assert_int_equal(live_objects(h), 0);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

static void test_new_zeroed_and_var(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	unsigned char *p;

	(void)state;
	p = rcl_new_var(h, &node_type, 4096);
	assert_non_null(p);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(rcl_sizeof(p), 4096);
	assert_int_equal(rcl_refcount(p), 1);
	assert_ptr_equal(rcl_heap_of(p), h);
	assert_ptr_equal(rcl_typeof(p), &node_type);
	assert_true(((uintptr_t)p & 15) == 0);
	rcl_decref(p);
	errno = 0;
	assert_null(rcl_new(NULL, &node_type));
	assert_int_equal(errno, EINVAL);
	assert_null(rcl_new(h, NULL));
	rcl_decref(NULL); /* no-op */
	rcl_incref(NULL);
	rcl_heap_destroy(h);
	rcl_heap_destroy(NULL);
}

static void plain_destroy(void *self)
{
	(*(int *)self)++;
}

/* A type without traverse holds no references; the collector ignores it. */
static const rcl_type plain_type = {
    .name = "plain",
    .size = sizeof(int),
    .destroy = NULL,
};

static void test_untracked(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_stats st;
	int *p = rcl_new(h, &plain_type);
	node *n = rcl_new(h, &node_type);

	(void)state;
	(void)plain_destroy;
	assert_false(rcl_is_tracked(p));
	assert_true(rcl_is_tracked(n));
	rcl_heap_stats(h, &st);
	assert_int_equal(st.untracked_objects, 1);
	assert_int_equal(st.gen[0].objects, 1);
	assert_int_equal(st.gen[0].count, 1); /* only tracked ones count */
	rcl_collect(h, 2);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.untracked_objects, 1); /* not moved, not freed */
	assert_int_equal(st.gen[2].objects, 1);
	rcl_decref(p);
	rcl_decref(n);
	assert_int_equal(live_objects(h), 0);
	rcl_heap_destroy(h);
}

/*
 * A vector past its mapping's reservation (heap.c: 64 MiB of address space
 * for a vector made at 128 KiB, grown in place until then) is moved whole
 * into a larger one; every object keeps its place (rcl_heap_validate checks
 * each one's index against its slot), and trimming after most are freed
 * shrinks it in place. 8.5 M untracked objects: their vector passes 64 MiB.
 */
static void test_vector_past_reservation(void **state)
{
	const size_t n = 8500000;
	rcl_heap *h = rcl_heap_new(NULL);
	int **v = calloc(n, sizeof(*v));
	rcl_stats st;

	(void)state;
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = rcl_new(h, &plain_type);
		assert_non_null(v[i]);
		*v[i] = (int)i;
	}
	rcl_heap_stats(h, &st);
	assert_int_equal(st.untracked_objects, n);
	assert_true(rcl_heap_validate(h));
	for (size_t i = 0; i < n; i += 4099)
		assert_int_equal(*v[i], (int)i);
	for (size_t i = 1000; i < n; i++)
		rcl_decref(v[i]);
	rcl_heap_trim(h);
	assert_true(rcl_heap_validate(h));
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(*v[i], (int)i);
		rcl_decref(v[i]);
	}
	assert_int_equal(live_objects(h), 0);
	free(v);
	rcl_heap_destroy(h);
}

/* Owned payloads are counted against their object and released with it. */
static void test_owned_bytes(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_stats st;
	node *n = rcl_new(h, &node_type);
	size_t base = rcl_object_bytes(n);

	(void)state;
	n->payload_size = 3 << 20;
	n->payload = rcl_owned_alloc(n, n->payload_size);
	assert_non_null(n->payload);
	memset(n->payload, 'x', n->payload_size);
	assert_int_equal(rcl_owned_bytes(n), 3 << 20);
	assert_int_equal(rcl_object_bytes(n), base + (3 << 20));
	rcl_heap_stats(h, &st);
	assert_int_equal(st.owned_bytes, 3 << 20);
	assert_int_equal(st.bytes, base + (3 << 20));
	assert_int_equal(rcl_owned_add(n, 1000), 0);
	rcl_owned_sub(n, 400);
	assert_int_equal(rcl_owned_bytes(n), (3 << 20) + 600);
	assert_true(rcl_heap_validate(h));

	rcl_type_stats ts[4];
	size_t nt = rcl_heap_census(h, ts, 4);
	assert_int_equal(nt, 1);
	assert_string_equal(ts[0].name, "node");
	assert_int_equal(ts[0].objects, 1);
	assert_int_equal(ts[0].bytes, base + (3 << 20) + 600);

	rcl_decref(n); /* destroy frees the payload; the rest goes with it */
	rcl_heap_stats(h, &st);
	assert_int_equal(st.owned_bytes, 0);
	assert_int_equal(st.bytes, 0);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* Per-type accounting over several types. */
static void test_census(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	node *ns[10];
	int *ps[3];
	rcl_type_stats ts[8];
	size_t nt;

	(void)state;
	for (int i = 0; i < 10; i++)
		ns[i] = rcl_new(h, &node_type);
	for (int i = 0; i < 3; i++)
		ps[i] = rcl_new(h, &plain_type);
	nt = rcl_heap_census(h, ts, 8);
	assert_int_equal(nt, 2);
	for (size_t i = 0; i < nt; i++) {
		if (ts[i].type == &node_type)
			assert_int_equal(ts[i].objects, 10);
		else
			assert_int_equal(ts[i].objects, 3);
	}
	assert_int_equal(rcl_heap_census(h, NULL, 0), 2);
	for (int i = 0; i < 10; i++)
		rcl_decref(ns[i]);
	for (int i = 0; i < 3; i++)
		rcl_decref(ps[i]);
	nt = rcl_heap_census(h, ts, 8);
	assert_int_equal(ts[0].objects + ts[1].objects, 0);
	rcl_heap_destroy(h);
}

/* Freeing a chain of a million objects does not recurse. */
static void test_long_chain(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	int destroyed = 0;
	node *head = rcl_new(h, &node_type), *cur = head;

	(void)state;
	rcl_auto_collect(h, false);
	for (int i = 0; i < 1000000; i++) {
		node *n = rcl_new(h, &node_type);

		n->destroyed = &destroyed;
		cur->f[0] = n; /* steals the new reference */
		cur = n;
	}
	rcl_decref(head);
	assert_int_equal(destroyed, 1000000);
	assert_int_equal(live_objects(h), 0);
	rcl_heap_destroy(h);
}

/*
 * Allocation failure: rcl_new collects and retries once. Garbage that holds
 * the budget is freed by that collection, so the retry succeeds; with no
 * garbage to free, NULL comes back and the heap is intact.
 */
static void test_alloc_failure(void **state)
{
	budget b = {.calls_left = -1, .bytes_left = 64 << 10};
	rcl_heap *h = budget_heap(&b, 0);
	rcl_stats st;
	node *keep[64];
	int nkeep = 0;

	(void)state;
	rcl_auto_collect(h, false);
	/* garbage: a cycle that owns most of the budget */
	node *x = rcl_new(h, &node_type), *y = rcl_new(h, &node_type);
	node_set(x, 0, y);
	node_set(y, 0, x);
	x->payload_size = 48 << 10;
	x->payload = rcl_owned_alloc(x, x->payload_size);
	assert_non_null(x->payload);
	rcl_decref(x);
	rcl_decref(y);
	/* the next large allocation only fits once the cycle is collected */
	node *big = rcl_new_var(h, &node_type, 40 << 10);
	assert_non_null(big);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.collections_total, 1);
	assert_int_equal(st.collected_total, 2);
	rcl_decref(big);

	/* now fill the budget with live objects until rcl_new fails */
	for (;;) {
		node *n = rcl_new_var(h, &node_type, 1000);

		if (!n) {
			assert_int_equal(errno, ENOMEM);
			break;
		}
		assert_true(nkeep < 64);
		keep[nkeep++] = n;
	}
	rcl_heap_stats(h, &st);
	assert_int_equal(st.objects, (size_t)nkeep);
	assert_int_equal(st.alloc_failures_total, 1);
	assert_true(rcl_heap_validate(h));
	/* owned allocation fails cleanly too */
	assert_null(rcl_owned_alloc(keep[0], 1 << 20));
	assert_int_equal(rcl_owned_bytes(keep[0]), 0);
	assert_true(rcl_heap_validate(h));
	for (int i = 0; i < nkeep; i++)
		rcl_decref(keep[i]);
	assert_int_equal(live_objects(h), 0);
	rcl_heap_destroy(h);
	assert_int_equal(b.in_use, 0);
}

/* Heap destruction frees what is still referenced, breaking cycles. */
static void test_destroy_frees_everything(void **state)
{
	budget b = {.calls_left = -1, .bytes_left = SIZE_MAX};
	rcl_heap *h = budget_heap(&b, 0);
	int destroyed = 0, finalized = 0;
	node *a = rcl_new(h, &fnode_type), *c = rcl_new(h, &node_type);

	(void)state;
	a->destroyed = c->destroyed = &destroyed;
	a->finalized = &finalized;
	node_set(a, 0, c);
	node_set(c, 0, a);
	c->payload_size = 100;
	c->payload = rcl_owned_alloc(c, 100);
	rcl_weakref *w = rcl_weakref_new(a, NULL, NULL);
	rcl_new(h, &plain_type); /* leaked on purpose */
	rcl_freeze(h);
	rcl_heap_destroy(h); /* a, c, w and the plain object are still held */
	assert_int_equal(destroyed, 2);
	assert_int_equal(finalized, 0);
	assert_int_equal(b.in_use, 0);
	(void)w;
}

static void *adopt_thread(void *arg)
{
	rcl_heap *h = arg;
	node *n;

	rcl_heap_adopt(h);
	n = rcl_new(h, &node_type);
	rcl_collect(h, 0);
	rcl_decref(n);
	return NULL;
}

/* A heap handed to another thread is used there after rcl_heap_adopt. */
static void test_adopt(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, adopt_thread, h), 0);
	pthread_join(t, NULL);
	rcl_heap_adopt(h);
	assert_int_equal(live_objects(h), 0);
	rcl_heap_destroy(h);
}

#ifndef NDEBUG
static void *foreign_thread(void *arg)
{
	rcl_new(arg, &node_type); /* not this thread's heap: asserts */
	return NULL;
}
#endif

/* Debug builds assert when a heap is used from a thread that does not own
 * it (the child process dies of SIGABRT); release builds compile it out. */
static void test_foreign_thread_asserts(void **state)
{
	(void)state;
#ifdef NDEBUG
	print_message("release build: the owner check is compiled out\n");
	skip();
#else
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		rcl_heap *h = rcl_heap_new(NULL);
		pthread_t t;

		fclose(stderr); /* the assertion message is expected */
		pthread_create(&t, NULL, foreign_thread, h);
		pthread_join(t, NULL);
		_exit(0);
	}
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
#endif
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refcount_frees_at_once),
	    cmocka_unit_test(test_new_zeroed_and_var),
	    cmocka_unit_test(test_untracked),
	    cmocka_unit_test(test_vector_past_reservation),
	    cmocka_unit_test(test_owned_bytes),
	    cmocka_unit_test(test_census),
	    cmocka_unit_test(test_long_chain),
	    cmocka_unit_test(test_alloc_failure),
	    cmocka_unit_test(test_destroy_frees_everything),
	    cmocka_unit_test(test_adopt),
	    cmocka_unit_test(test_foreign_thread_asserts),
	};

	return unit_run(argc, argv, tests);
}
