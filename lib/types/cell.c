/* cell: one mutable reference, as a closure's captured variable. */

#include <errno.h>

#include <reclaim/types.h>

struct rcl_cell {
	void *contents;
};

/* Visit the contents, field "contents". */
static void cell_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct rcl_cell *c = self;

	if (c->contents != NULL)
		visit(c->contents, "contents", arg);
}

/* Drop the contents; emptied before the decref. Idempotent. */
static void cell_clear(void *self)
{
	struct rcl_cell *c = self;
	void *contents = c->contents;

	c->contents = NULL;
	rcl_decref(contents);
}

const rcl_type rcl_cell_type = {
    .name = "cell",
    .size = sizeof(struct rcl_cell),
    .traverse = cell_traverse,
    .clear = cell_clear,
};

/* A cell holding value (increfed; NULL for an empty cell), or NULL. */
rcl_cell *rcl_cell_new(rcl_heap *h, void *value)
{
	struct rcl_cell *c;

	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	c = rcl_new(h, &rcl_cell_type);
	if (c != NULL) {
		rcl_incref(value);
		c->contents = value;
	}
	return c;
}

/* The contents, borrowed; NULL (EINVAL) for a NULL cell. */
void *rcl_cell_get(const rcl_cell *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return c->contents;
}

/* Replace the contents (the new value increfed, the old one decrefed). */
void rcl_cell_set(rcl_cell *c, void *value)
{
	void *old;

	if (c == NULL)
		return;
	old = c->contents;
	rcl_incref(value);
	c->contents = value;
	rcl_decref(old);
}
