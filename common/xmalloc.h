/* Allocation that exits with "<program>: out of memory" (start-up and
 * reclaimctl only), and small string helpers. */
#ifndef RECLAIM_COMMON_XMALLOC_H
#define RECLAIM_COMMON_XMALLOC_H

#include <stddef.h>

void xmalloc_set_program(const char *name);
void *xcheck(void *p);
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
int xasprintf(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
