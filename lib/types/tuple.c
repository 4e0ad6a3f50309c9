/* tuple: a fixed number of references, stored inline (rcl_new_var). */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/types.h>

struct rcl_tuple {
	size_t len;
	void *items[];
};

/* Its items described (field "[]"): the collector walks them itself; the
 * derived clear empties it (len 0). */
const rcl_type rcl_tuple_type = {
    .name = "tuple",
    .size = sizeof(struct rcl_tuple),
    RCL_REFS({"[]", RCL_REF_ARRAY, offsetof(struct rcl_tuple, items),
	      offsetof(struct rcl_tuple, len)}),
};

/* A tuple of n NULL items, or NULL. */
rcl_tuple *rcl_tuple_new_at(rcl_heap *h, size_t n, const rcl_site *site)
{
	struct rcl_tuple *t;

	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (n > (SIZE_MAX - sizeof(*t)) / sizeof(void *)) {
		errno = ENOMEM;
		return NULL;
	}
	t = rcl_new_var_at(h, &rcl_tuple_type, sizeof(*t) + n * sizeof(void *),
			   site);
	if (t != NULL)
		t->len = n;
	return t;
}

/* Store item at i (increfed; the old item decrefed); 0, or -1 with errno. */
int rcl_tuple_set(rcl_tuple *t, size_t i, void *item)
{
	void *old;

	if (t == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (i >= t->len) {
		errno = ERANGE;
		return -1;
	}
	old = t->items[i];
	rcl_incref(item);
	t->items[i] = item;
	rcl_decref(old);
	return 0;
}

/* Item i, borrowed; NULL with EINVAL or ERANGE on a bad tuple or index. */
void *rcl_tuple_get(const rcl_tuple *t, size_t i)
{
	if (t == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (i >= t->len) {
		errno = ERANGE;
		return NULL;
	}
	return t->items[i];
}

/* The number of items; 0 for NULL. */
size_t rcl_tuple_len(const rcl_tuple *t)
{
	return t != NULL ? t->len : 0;
}

/* Without a site (see <reclaim/types.h>). */
rcl_tuple *(rcl_tuple_new)(rcl_heap *h, size_t n)
{
	return rcl_tuple_new_at(h, n, NULL);
}
