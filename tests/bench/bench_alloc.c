/*
 * bench-alloc: allocate and free a small object, rcl_new + rcl_decref against
 * malloc + free of the same user size (goal: within 2x). Three types, as a
 * user declares them: plain data (untracked), an object with a reference
 * described by RCL_REFS (tracked: what a user writes), and the same with a
 * hand-written traverse and clear (the older way). The pointer escapes
 * through an empty asm with a memory clobber, so the compiler can neither
 * drop the malloc/free pair nor keep the object in registers.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reclaim/reclaim.h>

#define OBJ_SIZE 24
#define REPEATS 5

struct small {
	char data[OBJ_SIZE];
};

struct linked { /* the same size, one reference */
	struct linked *next;
	char data[OBJ_SIZE - sizeof(void *)];
};

static const rcl_type untracked_type = {
    .name = "small",
    .size = sizeof(struct small),
};

static const rcl_type tracked_type = {
    .name = "linked",
    .size = sizeof(struct linked),
    RCL_REFS(RCL_REF(struct linked, next)),
};

/* The older way: a traverse and a clear written by hand. */
static void linked_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct linked *l = self;

	if (l->next)
		visit(l->next, "next", arg);
}

static void linked_clear(void *self)
{
	struct linked *l = self;
	struct linked *next = l->next;

	l->next = NULL;
	rcl_decref(next);
}

static const rcl_type callback_type = {
    .name = "linked_callbacks",
    .size = sizeof(struct linked),
    .traverse = linked_traverse,
    .clear = linked_clear,
};

/* Make p observable: the compiler must assume the pointer is used. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

/* Monotonic time in nanoseconds. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per malloc + free pair over n pairs. */
static double run_malloc(long n)
{
	double start = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		void *p = malloc(OBJ_SIZE);

		escape(p);
		free(p);
	}
	return (now_ns() - start) / n;
}

/* ns per calloc + free pair (zeroed, as rcl_new's objects are). */
static double run_calloc(long n)
{
	double start = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		void *p = calloc(1, OBJ_SIZE);

		escape(p);
		free(p);
	}
	return (now_ns() - start) / n;
}

/* ns per rcl_new + rcl_decref pair of type t over n pairs. */
static double run_rcl(rcl_heap *h, const rcl_type *t, long n)
{
	double start = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		void *p = rcl_new(h, t);

		if (p == NULL) {
			fprintf(stderr, "bench-alloc: rcl_new: %s\n",
				strerror(errno));
			exit(1);
		}
		escape(p);
		rcl_decref(p);
	}
	return (now_ns() - start) / n;
}

/* The best of REPEATS runs: the least disturbed by other processes. */
static double best(double a, double b)
{
	return a < b ? a : b;
}

/* Measure each pair and print ns per pair and the ratios to malloc + free. */
int main(int argc, char **argv)
{
	long n = 10000000;
	double m = 1e300, c = 1e300, u = 1e300, t = 1e300, k = 1e300;
	bool tsv = false;
	rcl_heap *h;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tsv") == 0)
			tsv = true;
		else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			n = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-alloc [--tsv] "
					"[--iterations N]\n");
			return 2;
		}
	}
	if (n <= 0) {
		fprintf(stderr, "bench-alloc: --iterations must be positive\n");
		return 2;
	}
	h = rcl_heap_new(NULL);
	if (h == NULL) {
		perror("bench-alloc: rcl_heap_new");
		return 1;
	}
	for (i = 0; i < REPEATS; i++) {
		m = best(m, run_malloc(n));
		c = best(c, run_calloc(n));
		u = best(u, run_rcl(h, &untracked_type, n));
		t = best(t, run_rcl(h, &tracked_type, n));
		k = best(k, run_rcl(h, &callback_type, n));
	}
	rcl_heap_destroy(h);
	if (tsv) {
		printf("malloc_free\t%.2f\t1.00\n", m);
		printf("calloc_free\t%.2f\t%.2f\n", c, c / m);
		printf("rcl_untracked\t%.2f\t%.2f\n", u, u / m);
		printf("rcl_tracked\t%.2f\t%.2f\n", t, t / m);
		printf("rcl_callbacks\t%.2f\t%.2f\n", k, k / m);
		return 0;
	}
	printf("%ld pairs of %d-byte objects, best of %d runs\n", n, OBJ_SIZE,
	       REPEATS);
	printf("  malloc + free            %6.2f ns/pair\n", m);
	printf("  calloc + free            %6.2f ns/pair  %.2fx\n", c, c / m);
	printf("  rcl_new + rcl_decref     %6.2f ns/pair  %.2fx  (untracked)\n",
	       u, u / m);
	printf("  rcl_new + rcl_decref     %6.2f ns/pair  %.2fx  (tracked, "
	       "RCL_REFS)\n",
	       t, t / m);
	printf("  rcl_new + rcl_decref     %6.2f ns/pair  %.2fx  (tracked, "
	       "traverse and clear by hand)\n",
	       k, k / m);
	printf("  goal: within 2x of malloc + free: %s\n",
	       u <= 2 * m && t <= 2 * m ? "met" : "missed");
	return 0;
}
