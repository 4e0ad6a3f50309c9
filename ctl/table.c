/* Aligned columns for human output: text left, numbers right. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimctl.h"
#include "xmalloc.h"

struct table {
	size_t ncols;
	size_t ncells;
	char **cells;
	bool *right;
};

/* A table with a header row. */
struct table *table_create(size_t ncols, const char *const *headers)
{
	struct table *t = xcalloc(1, sizeof *t);
	size_t i;

	t->ncols = ncols;
	t->right = xcalloc(ncols, sizeof *t->right);
	for (i = 0; i < ncols; i++)
		table_add(t, "%s", headers[i]);
	return t;
}

/* Align column col to the right. */
void table_right(struct table *t, size_t col)
{
	t->right[col] = true;
}

/* The next cell, row by row. */
void table_add(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = xstrdup("?");
	va_end(ap);
	t->cells = xrealloc(t->cells, (t->ncells + 1) * sizeof *t->cells);
	t->cells[t->ncells++] = s;
}

/* Display width of UTF-8 text: count the bytes that start a character. */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Print with each column as wide as its widest cell. */
void table_print(struct table *t, FILE *fp)
{
	size_t *w = xcalloc(t->ncols, sizeof *w), i, c, pad;

	for (i = 0; i < t->ncells; i++) {
		c = i % t->ncols;
		if (width(t->cells[i]) > w[c])
			w[c] = width(t->cells[i]);
	}
	for (i = 0; i < t->ncells; i++) {
		c = i % t->ncols;
		pad = w[c] - width(t->cells[i]);
		if (t->right[c])
			fprintf(fp, "%*s%s", (int)pad, "", t->cells[i]);
		else if (c + 1 < t->ncols)
			fprintf(fp, "%s%*s", t->cells[i], (int)pad, "");
		else
			fputs(t->cells[i], fp);
		fputs(c + 1 < t->ncols ? "  " : "\n", fp);
	}
	free(w);
}

/* Free; NULL is a no-op. */
void table_destroy(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
}

/* One "key: value" line, keys aligned. */
void kv_print(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%-22s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}
