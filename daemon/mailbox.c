/*
 * A queue of commands between threads. The sender appends under a mutex and
 * writes an eventfd registered on the receiver's event base, which may be
 * created with EVENT_BASE_FLAG_NOLOCK: nothing but the eventfd crosses.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "reclaimd.h"
#include "xmalloc.h"

TAILQ_HEAD(wcmd_queue, wcmd);

struct mailbox {
	pthread_mutex_t lock;
	struct wcmd_queue queue;
	int efd;
	struct event *ev;
	mailbox_cb cb;
	void *arg;
};

/* The eventfd fired: take every queued command and hand each to cb. */
static void mailbox_wake(evutil_socket_t fd, short what, void *arg)
{
	struct mailbox *mb = arg;
	struct wcmd_queue batch = TAILQ_HEAD_INITIALIZER(batch);
	struct wcmd *cmd;
	uint64_t n;

	if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("mailbox: read: %s", strerror(errno));
	pthread_mutex_lock(&mb->lock);
	TAILQ_CONCAT(&batch, &mb->queue, entry);
	pthread_mutex_unlock(&mb->lock);
	while ((cmd = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, cmd, entry);
		mb->cb(cmd, mb->arg);
	}
}

/* A mailbox read on base's thread, delivering to cb. */
struct mailbox *mailbox_create(struct event_base *base, mailbox_cb cb,
			       void *arg, char **cause)
{
	struct mailbox *mb = xcalloc(1, sizeof *mb);

	pthread_mutex_init(&mb->lock, NULL);
	TAILQ_INIT(&mb->queue);
	mb->cb = cb;
	mb->arg = arg;
	mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mb->efd < 0) {
		xasprintf(cause, "eventfd: %s", strerror(errno));
		free(mb);
		return NULL;
	}
	mb->ev =
	    event_new(base, mb->efd, EV_READ | EV_PERSIST, mailbox_wake, mb);
	event_add(mb->ev, NULL);
	return mb;
}

/* Free a mailbox (its queue must be empty); NULL is a no-op. */
void mailbox_destroy(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	event_free(mb->ev);
	close(mb->efd);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}

/* Queue cmd and wake the receiver; callable from any thread. */
void mailbox_post(struct mailbox *mb, struct wcmd *cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&mb->lock);
	TAILQ_INSERT_TAIL(&mb->queue, cmd, entry);
	pthread_mutex_unlock(&mb->lock);
	if (write(mb->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("mailbox: write: %s", strerror(errno));
}
