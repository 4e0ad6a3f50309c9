/* cell: one mutable reference, as a closure's captured variable. */

#include <errno.h>
#include <stddef.h>

#include <reclaim/types.h>

struct rcl_cell {
	void *contents;
};

/* Its reference described (field "contents"): traverse and clear are the
 * library's. */
const rcl_type rcl_cell_type = {
    .name = "cell",
    .size = sizeof(struct rcl_cell),
    RCL_REFS(RCL_REF(struct rcl_cell, contents)),
};

/* A cell holding value (increfed; NULL for an empty cell), or NULL. */
rcl_cell *rcl_cell_new_at(rcl_heap *h, void *value, const rcl_site *site)
{
	struct rcl_cell *c;

	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	c = rcl_new_at(h, &rcl_cell_type, site);
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

/* Without a site (see <reclaim/types.h>). */
rcl_cell *(rcl_cell_new)(rcl_heap *h, void *value)
{
	return rcl_cell_new_at(h, value, NULL);
}
