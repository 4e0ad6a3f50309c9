/* The other half of test_refcount_abi.c: the exported functions. */
#define RCL_NO_INLINE_REFCOUNT
#include <reclaim/reclaim.h>

void ext_incref(void *obj);
void ext_decref(void *obj);

void ext_incref(void *obj)
{
	rcl_incref(obj);
}

void ext_decref(void *obj)
{
	rcl_decref(obj);
}
