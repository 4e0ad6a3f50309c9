/*
 * Allocation that cannot fail quietly, for the code allowed to stop the
 * program: reclaimd's start-up and reclaimctl, a short-lived client. Each
 * program's main() names itself with xmalloc_set_program; running out here
 * prints "<program>: out of memory" and exits 1. The daemon's request paths
 * never call these: they use malloc and cJSON and answer an error instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static const char *xmalloc_program = "<2>reclaim";

/* The name "out of memory" is reported under (a string literal). */
void xmalloc_set_program(const char *name)
{
	xmalloc_program = name;
}

/* Say so and exit when memory is short; nothing here allocates. */
static void *check(void *p)
{
	if (p == NULL) {
		fprintf(stderr, "%s: out of memory\n", xmalloc_program);
		exit(1);
	}
	return p;
}

/* p, from an allocation the program cannot do without: NULL exits as the
 * functions below do. */
void *xcheck(void *p)
{
	return check(p);
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
