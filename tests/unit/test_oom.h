/*
 * Allocation-failure injection, the way SQLite tests it: a scenario runs
 * once for every N, with the Nth allocation failing (transient: only that
 * one; persistent: that one and every later one), until a run passes its
 * last allocation without a failure. The allocator counts what is live and
 * checks every free's size against its allocation, so a run that leaks or
 * miscounts is caught without ASan (and ASan catches the rest).
 */
#ifndef RECLAIM_TEST_OOM_H
#define RECLAIM_TEST_OOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The prefix kept before each block: its size, for the check in free. */
#define OOM_PREFIX 16

struct oom {
	size_t count;	/* allocations asked for in this run */
	size_t fail_at; /* the allocation that fails (1-based); 0: none */
	bool persist;	/* fail every allocation after fail_at too */
	bool off;	/* injection suspended (checks, clean-up) */
	size_t failures;
	size_t live; /* blocks handed out and not freed */
	size_t live_bytes;
	size_t bad_frees; /* frees whose size differs from the allocation's */
};

/* Allocate, unless this is the allocation that fails. */
static inline void *oom_alloc(size_t size, void *ctx)
{
	struct oom *o = ctx;
	unsigned char *p;

	o->count++;
	if (!o->off && o->fail_at != 0 &&
	    (o->count == o->fail_at || (o->persist && o->count > o->fail_at))) {
		o->failures++;
		return NULL;
	}
	p = malloc(size + OOM_PREFIX);
	if (p == NULL)
		return NULL;
	*(size_t *)p = size;
	o->live++;
	o->live_bytes += size;
	return p + OOM_PREFIX;
}

/* Free, checking the size the heap says against the one it asked for. */
static inline void oom_free(void *ptr, size_t size, void *ctx)
{
	struct oom *o = ctx;
	unsigned char *p;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - OOM_PREFIX;
	if (*(size_t *)p != size) {
		fprintf(stderr, "oom: free of %zu bytes given as %zu\n",
			*(size_t *)p, size);
		o->bad_frees++;
	}
	o->live--;
	o->live_bytes -= *(size_t *)p;
	free(p);
}

#endif
