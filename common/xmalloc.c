/*
 * Allocation that cannot fail quietly. Both programs are small and their
 * allocations are bounded by configured limits, so running out of memory
 * here is treated as fatal rather than threaded through every caller.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Say so and exit when memory is short. */
static void *check(void *p)
{
	if (p == NULL) {
		fputs("<2>out of memory\n", stderr);
		abort();
	}
	return p;
}

/* malloc that never returns NULL. */
void *xmalloc(size_t size)
{
	return check(malloc(size ? size : 1));
}

/* calloc that never returns NULL. */
void *xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1));
}

/* realloc that never returns NULL. */
void *xrealloc(void *p, size_t size)
{
	return check(realloc(p, size ? size : 1));
}

/* strdup that never returns NULL. */
char *xstrdup(const char *s)
{
	return check(strdup(s));
}

/* asprintf that never fails. */
int xasprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0)
		check(NULL);
	return n;
}
