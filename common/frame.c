/* The varlink stream: split a byte stream at NUL bytes, with a size limit. */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* Start with an empty buffer that accepts messages up to max bytes. */
void frame_init(struct frame *f, size_t max)
{
	memset(f, 0, sizeof *f);
	f->max = max;
}

/* Release the buffer. */
void frame_finish(struct frame *f)
{
	free(f->buf);
	memset(f, 0, sizeof *f);
}

/* Drop the messages already handed out, keeping the partial tail. */
static void compact(struct frame *f)
{
	if (f->used == 0)
		return;
	memmove(f->buf, f->buf + f->used, f->len - f->used);
	f->len -= f->used;
	f->used = 0;
}

/* Room for want more bytes at the end; NULL if memory is short. */
void *frame_space(struct frame *f, size_t want)
{
	size_t cap;
	char *p;

	compact(f);
	if (f->cap - f->len >= want)
		return f->buf + f->len;
	cap = f->cap ? f->cap : 4096;
	while (cap - f->len < want)
		cap *= 2;
	p = realloc(f->buf, cap);
	if (p == NULL)
		return NULL;
	f->buf = p;
	f->cap = cap;
	return f->buf + f->len;
}

/* Count len bytes written into frame_space. */
void frame_commit(struct frame *f, size_t len)
{
	f->len += len;
}

/* Append bytes read from the peer; -1 if memory is short. */
int frame_feed(struct frame *f, const void *data, size_t len)
{
	void *p;

	p = frame_space(f, len);
	if (p == NULL)
		return -1;
	memcpy(p, data, len);
	frame_commit(f, len);
	return 0;
}

/*
 * The next complete message, NUL-terminated in place and valid until the next
 * feed. FRAME_TOO_LARGE when a message passes the limit: the stream cannot be
 * trusted after that and the caller closes it.
 */
enum frame_status frame_next(struct frame *f, char **msg, size_t *len)
{
	size_t avail = f->len - f->used;
	char *start, *nul;

	if (avail == 0)
		return FRAME_PARTIAL; /* buf may be NULL: no arithmetic on it */
	start = f->buf + f->used;
	nul = memchr(start + f->scan, '\0', avail - f->scan);
	if (nul == NULL) {
		f->scan = avail;
		return avail > f->max ? FRAME_TOO_LARGE : FRAME_PARTIAL;
	}
	if ((size_t)(nul - start) > f->max)
		return FRAME_TOO_LARGE;
	*msg = start;
	*len = (size_t)(nul - start);
	f->used += *len + 1;
	f->scan = 0;
	return FRAME_MESSAGE;
}

/* Bytes held that are not yet a complete message. */
size_t frame_pending(const struct frame *f)
{
	return f->len - f->used;
}
