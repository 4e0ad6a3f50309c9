/* bytes: a payload owned outside the heap and counted against its object. */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <reclaim/types.h>

struct rcl_bytes {
	unsigned char *data; /* len + 1 bytes from rcl_owned_alloc, NUL-ended */
	size_t len;
};

/* Return the payload to the heap's allocator and take it off the count. */
static void bytes_destroy(void *self)
{
	struct rcl_bytes *b = self;

	if (b->data != NULL) {
		rcl_owned_free(b, b->data, b->len + 1);
		b->data = NULL;
	}
}

/* No traverse: a bytes object holds no references, so it is never tracked. */
const rcl_type rcl_bytes_type = {
    .name = "bytes",
    .size = sizeof(struct rcl_bytes),
    .destroy = bytes_destroy,
};

/* A bytes object with an uninitialised payload of len bytes, or NULL. */
static struct rcl_bytes *bytes_alloc(rcl_heap *h, size_t len,
				     const rcl_site *site)
{
	struct rcl_bytes *b;

	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (len == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	b = rcl_new_at(h, &rcl_bytes_type, site);
	if (b == NULL)
		return NULL;
	b->data = rcl_owned_alloc(b, len + 1);
	if (b->data == NULL) {
		rcl_decref(b);
		errno = ENOMEM;
		return NULL;
	}
	b->len = len;
	b->data[len] = '\0';
	return b;
}

/* A copy of len bytes of data; NULL data gives len zero bytes, written so
 * that the memory is really taken, as a payload would be. */
rcl_bytes *rcl_bytes_new_at(rcl_heap *h, const void *data, size_t len,
			    const rcl_site *site)
{
	struct rcl_bytes *b = bytes_alloc(h, len, site);

	if (b == NULL)
		return NULL;
	if (data != NULL)
		memcpy(b->data, data, len);
	else
		memset(b->data, 0, len);
	return b;
}

/* Bytes written from a block that stays in cache (L2 on this machine). */
#define FILL_BLOCK ((size_t)64 << 10)

/*
 * unit repeated times times (Python's s * n), every byte written once and
 * never read back from far away: the first block of at most FILL_BLOCK
 * bytes (whole units) is built by doubling, then copied forward while it
 * stays in cache; a larger unit is copied from itself each time. (Doubling
 * all the way would read back, from memory, half of what it wrote.)
 */
rcl_bytes *rcl_bytes_repeat_at(rcl_heap *h, const void *unit,
			       size_t unit_len, size_t times,
			       const rcl_site *site)
{
	struct rcl_bytes *b;
	size_t len, block, done, n;
	const unsigned char *src;

	if (unit == NULL && unit_len > 0) {
		errno = EINVAL;
		return NULL;
	}
	if (unit_len != 0 && times > SIZE_MAX / unit_len) {
		errno = ENOMEM;
		return NULL;
	}
	len = unit_len * times;
	b = bytes_alloc(h, len, site);
	if (b == NULL || len == 0)
		return b;
	block = unit_len;
	src = unit;
	memcpy(b->data, unit, unit_len);
	if (unit_len < FILL_BLOCK) {
		block = FILL_BLOCK / unit_len * unit_len;
		if (block > len)
			block = len;
		for (done = unit_len; done < block; done *= 2)
			memcpy(b->data + done, b->data,
			       block - done < done ? block - done : done);
		src = b->data;
	}
	for (done = block; done < len; done += n) {
		n = len - done < block ? len - done : block;
		memcpy(b->data + done, src, n);
	}
	return b;
}

/* The payload (len bytes and a NUL), or NULL with EINVAL. */
unsigned char *rcl_bytes_data(rcl_bytes *b)
{
	if (b == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return b->data;
}

/* The payload's length; 0 for NULL. */
size_t rcl_bytes_len(const rcl_bytes *b)
{
	return b != NULL ? b->len : 0;
}

/* The exported functions without a site; <reclaim/types.h> makes their
 * names macros that pass the caller's (RCL_SITE). */
rcl_bytes *(rcl_bytes_new)(rcl_heap *h, const void *data, size_t len)
{
	return rcl_bytes_new_at(h, data, len, NULL);
}

rcl_bytes *(rcl_bytes_repeat)(rcl_heap *h, const void *unit, size_t unit_len,
			      size_t times)
{
	return rcl_bytes_repeat_at(h, unit, unit_len, times, NULL);
}
