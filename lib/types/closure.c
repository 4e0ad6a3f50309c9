/* closure: a function pointer with the references it captured. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/types.h>

struct rcl_closure {
	rcl_closure_fn fn;
	size_t n;
	void *captured[];
};

/* What it captured described (field "captured"): walked by the collector;
 * the derived clear drops it all (n 0: called afterwards, the function sees
 * nothing captured). */
const rcl_type rcl_closure_type = {
    .name = "closure",
    .size = sizeof(struct rcl_closure),
    RCL_REFS(RCL_REF_ARRAY(struct rcl_closure, captured, n)),
};

/* A closure of fn over n captured references (each increfed; NULL items are
 * allowed), or NULL with EINVAL or ENOMEM. */
rcl_closure *rcl_closure_new_at(rcl_heap *h, rcl_closure_fn fn, size_t n,
				void *const captured[], const rcl_site *site)
{
	struct rcl_closure *c;
	size_t i;

	if (h == NULL || fn == NULL || (n > 0 && captured == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	if (n > (SIZE_MAX - sizeof(*c)) / sizeof(void *)) {
		errno = ENOMEM;
		return NULL;
	}
	c = rcl_new_var_at(h, &rcl_closure_type,
			   sizeof(*c) + n * sizeof(void *), site);
	if (c == NULL)
		return NULL;
	c->fn = fn;
	c->n = n;
	for (i = 0; i < n; i++) {
		rcl_incref(captured[i]);
		c->captured[i] = captured[i];
	}
	return c;
}

/* Call the closure's function with arg and return what it returns. The
 * closure is held for the call, so the function may drop the caller's
 * reference. NULL with EINVAL for a NULL closure. */
void *rcl_closure_call(rcl_closure *c, void *arg)
{
	void *ret;

	if (c == NULL) {
		errno = EINVAL;
		return NULL;
	}
	rcl_incref(c);
	ret = c->fn(c, arg);
	rcl_decref(c);
	return ret;
}

/* Captured reference i, borrowed; NULL with EINVAL or ERANGE. */
void *rcl_closure_captured(const rcl_closure *c, size_t i)
{
	if (c == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (i >= c->n) {
		errno = ERANGE;
		return NULL;
	}
	return c->captured[i];
}

/* The number of captured references; 0 for NULL. */
size_t rcl_closure_ncaptured(const rcl_closure *c)
{
	return c != NULL ? c->n : 0;
}

/* Without a site (see <reclaim/types.h>). */
rcl_closure *(rcl_closure_new)(rcl_heap *h, rcl_closure_fn fn, size_t n,
			       void *const captured[])
{
	return rcl_closure_new_at(h, fn, n, captured, NULL);
}
