/* The varlink stream: JSON messages, each ended by a NUL byte. */
#ifndef RECLAIM_COMMON_FRAME_H
#define RECLAIM_COMMON_FRAME_H

#include <stddef.h>

/* Largest message either side accepts, NUL excluded. */
#define FRAME_MAX (64 * 1024)

/*
 * Bytes arrive in any pieces (never "one read is one message"): frame_feed
 * appends what was read, frame_next hands out each complete message.
 */
struct frame {
	char *buf;
	size_t len; /* bytes held */
	size_t cap;
	size_t used; /* bytes of messages already handed out */
	size_t scan; /* bytes from used known to hold no NUL */
	size_t max;
};

enum frame_status {
	FRAME_TOO_LARGE = -1,
	FRAME_PARTIAL = 0,
	FRAME_MESSAGE = 1,
};

void frame_init(struct frame *f, size_t max);
void frame_finish(struct frame *f);
int frame_feed(struct frame *f, const void *data, size_t len);
void *frame_space(struct frame *f, size_t want);
void frame_commit(struct frame *f, size_t len);
enum frame_status frame_next(struct frame *f, char **msg, size_t *len);
size_t frame_pending(const struct frame *f);

#endif
