/*
 * The control server: varlink over the UNIX socket. This file is the
 * transport (connections, framing, limits, peer credentials); method.c
 * dispatches. Calls on one connection are answered in order: while one is
 * answered asynchronously, the connection reads nothing more.
 *
 * A peer that hangs up while its call is answered asynchronously is noticed
 * at once (EV_CLOSED, though the connection reads nothing meanwhile): the
 * call is orphaned, which cancels a RunTask's task. A peer that only shut
 * down its sending side still waits for the answer, and gets it.
 *
 * Limits: a message is at most FRAME_MAX bytes; a connection idle (or
 * stalled half-way through a message) for control.idle_timeout is closed;
 * at control.max_connections, a new peer evicts the longest-idle connection
 * that has no call in progress, so a crowd of idle peers cannot lock out an
 * operator.
 *
 * Out of memory: a connection that cannot be set up is refused, and one
 * whose answer cannot be queued is closed (conn_abandon); every other
 * connection carries on.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "reclaimd.h"
#include "varlink.h"
#include "xmalloc.h"

/* Stop reading requests while this much output waits for the peer. */
#define CONTROL_OUTPUT_MAX (1024 * 1024)
#define CONTROL_MAX_GROUPS 256

struct conn {
	struct control *ctl;
	struct bufferevent *bev;
	struct frame frame;
	struct ucred cred;
	bool privileged;
	struct call *call;    /* answered asynchronously, in progress */
	struct event *hangup; /* while call is held: the peer closing */
	bool closing;	      /* close once the output is flushed */
	bool shut;	      /* output shut down: discard input until EOF */
	uint64_t last_active;
	TAILQ_ENTRY(conn) entry;
};

struct control {
	struct server *srv;
	struct evconnlistener *listener;
	struct listen_guard *guard; /* pauses accepting after an error */
	TAILQ_HEAD(, conn) conns;
	size_t nconns;
	size_t max;
	struct timeval idle;
	gid_t gid;
};

static void conn_process(struct conn *conn);

/* Close a connection; a call in progress is answered into the void. */
static void conn_free(struct conn *conn)
{
	struct control *c = conn->ctl;

	if (conn->call != NULL)
		call_orphan(conn->call);
	if (conn->hangup != NULL)
		event_free(conn->hangup);
	TAILQ_REMOVE(&c->conns, conn, entry);
	c->nconns--;
	frame_finish(&conn->frame);
	bufferevent_free(conn->bev);
	free(conn);
}

/* Whether the peer is in group gid, primary or supplementary. */
static bool peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	gid_t groups[CONTROL_MAX_GROUPS];
	socklen_t len = sizeof groups;
	size_t i;

	if (cred->gid == gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;
	for (i = 0; i < len / sizeof groups[0]; i++) {
		if (groups[i] == gid)
			return true;
	}
	return false;
}

/* SO_PEERCRED: root, our own user, or the configured group may change state. */
static void conn_credentials(struct conn *conn, int fd)
{
	socklen_t len = sizeof conn->cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &conn->cred, &len) != 0) {
		conn->cred.uid = (uid_t)-1;
		conn->cred.gid = (gid_t)-1;
		return;
	}
	conn->privileged = conn->cred.uid == 0 || conn->cred.uid == geteuid() ||
			   (conn->ctl->gid != (gid_t)-1 &&
			    peer_in_group(fd, &conn->cred, conn->ctl->gid));
}

/* Bytes arrived: move them into the frame, then handle what is complete. */
static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	void *space;

	if (conn->closing) {
		evbuffer_drain(in, n);
		return;
	}
	space = frame_space(&conn->frame, n);
	if (space == NULL) {
		conn_free(conn);
		return;
	}
	frame_commit(&conn->frame, (size_t)evbuffer_remove(in, space, n));
	conn_process(conn);
}

/*
 * The output drained: read again, or, when closing, shut our side down and
 * discard what the peer still sends until it closes (or the idle timeout):
 * closing with unread input would reset the connection and lose the error
 * we just sent.
 */
static void conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;

	if (conn->closing) {
		if (!conn->shut)
			shutdown(bufferevent_getfd(bev), SHUT_WR);
		conn->shut = true;
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (conn->call == NULL) {
		bufferevent_enable(bev, EV_READ);
		conn_process(conn);
	}
}

/* End of stream, an error or the idle timeout: close. At the end of the
 * stream with answers still queued, the peer shut down only its sending
 * side and may be reading them: close once they are written (conn_write). */
static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;

	if (what == (BEV_EVENT_READING | BEV_EVENT_EOF) && !conn->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		conn->closing = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("control: closing connection of uid %d: idle",
			  (int)conn->cred.uid);
	conn_free(conn);
}

/* The peer closed while its call is held. Gone (POLLHUP: both directions
 * shut): close, orphaning the call. Only its sending side shut: it still
 * reads, so stop watching and let it have its answer. */
static void conn_hangup(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	struct pollfd pfd = {.fd = fd, .events = 0};

	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
		log_debug(
		    "control: uid %d hung up during %s", (int)conn->cred.uid,
		    conn->call && conn->call->entry ? conn->call->entry->name
						    : "a call");
		conn_free(conn);
		return;
	}
	event_del(conn->hangup);
}

/* Watch for the peer hanging up while its call is held. Out of memory, it
 * is not watched: the answer then goes nowhere, as it always could. */
static void conn_watch_hangup(struct conn *conn)
{
	if (conn->hangup == NULL)
		conn->hangup = event_new(
		    conn->ctl->srv->base, bufferevent_getfd(conn->bev),
		    EV_CLOSED | EV_PERSIST, conn_hangup, conn);
	if (conn->hangup != NULL)
		event_add(conn->hangup, NULL);
}

/* A message over the limit: the stream cannot be trusted, say so, close. */
static void conn_too_large(struct conn *conn)
{
	char text[160];

	snprintf(text, sizeof text,
		 "{\"error\":\"io.reclaim.InvalidRequest\",\"parameters\":"
		 "{\"reason\":\"message larger than %d bytes\"}}",
		 FRAME_MAX);
	control_send(conn, text);
	conn->closing = true;
}

/* An answer could not be queued (out of memory): the peer would wait for it
 * forever, so close as conn_write does once the output is flushed. */
static void conn_abandon(struct conn *conn)
{
	log_warn("control: out of memory: closing a connection of uid %d",
		 (int)conn->cred.uid);
	conn->closing = true;
	if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
		conn_write(conn->bev, conn);
}

/* Handle each complete message, in order, until one must wait. */
static void conn_process(struct conn *conn)
{
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	char *msg;
	size_t len;

	while (conn->call == NULL && !conn->closing) {
		if (evbuffer_get_length(out) > CONTROL_OUTPUT_MAX) {
			bufferevent_disable(conn->bev, EV_READ);
			return;
		}
		switch (frame_next(&conn->frame, &msg, &len)) {
		case FRAME_PARTIAL:
			return;
		case FRAME_TOO_LARGE:
			conn_too_large(conn);
			return;
		case FRAME_MESSAGE:
			conn->last_active = mono_us();
			method_dispatch(conn->ctl->srv, conn, msg);
			break;
		}
	}
}

/* At the limit, close the longest-idle connection with no call running. */
static bool control_evict(struct control *c)
{
	struct conn *conn, *oldest = NULL;

	TAILQ_FOREACH(conn, &c->conns, entry)
	{
		if (conn->call == NULL && !conn->closing &&
		    (oldest == NULL || conn->last_active < oldest->last_active))
			oldest = conn;
	}
	if (oldest == NULL)
		return false;
	log_debug("control: %zu connections: closing the longest idle",
		  c->nconns);
	conn_free(oldest);
	return true;
}

/* A new peer. */
static void control_accept(struct evconnlistener *l, evutil_socket_t fd,
			   struct sockaddr *sa, int salen, void *arg)
{
	struct control *c = arg;
	struct conn *conn;

	if (c->nconns >= c->max && !control_evict(c)) {
		log_warn("control: %zu connections, all busy: refusing one",
			 c->nconns);
		close(fd);
		return;
	}
	conn = calloc(1, sizeof *conn);
	if (conn != NULL)
		conn->bev = bufferevent_socket_new(c->srv->base, fd,
						   BEV_OPT_CLOSE_ON_FREE);
	if (conn == NULL || conn->bev == NULL) {
		log_warn("control: out of memory: refusing a connection");
		free(conn);
		close(fd);
		return;
	}
	conn->ctl = c;
	conn->last_active = mono_us();
	frame_init(&conn->frame, FRAME_MAX);
	conn_credentials(conn, fd);
	bufferevent_setcb(conn->bev, conn_read, conn_write, conn_event, conn);
	bufferevent_set_timeouts(conn->bev, &c->idle, &c->idle);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&c->conns, conn, entry);
	c->nconns++;
}

/* Serve the control protocol on the listening socket fd. */
struct control *control_create(struct server *srv, int fd, char **cause)
{
	struct control *c = xcalloc(1, sizeof *c); /* start-up */

	c->srv = srv;
	TAILQ_INIT(&c->conns);
	control_configure(c, srv->cfg);
	/* Backlog 0: listening already, with the backlog listen.c or
	 * systemd gave it (libevent's -1 would set 128). */
	c->listener = evconnlistener_new(srv->base, control_accept, c,
					 LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (c->listener == NULL) {
		xasprintf(cause, "control: cannot accept: %s", strerror(errno));
		free(c);
		return NULL;
	}
	c->guard = listen_guard(c->listener, srv->base, "control");
	return c;
}

/* Take the control.* keys that apply without a restart. */
void control_configure(struct control *c, const struct config *cfg)
{
	c->max = (size_t)cfg->control_max_connections;
	c->idle.tv_sec = (time_t)(cfg->control_idle_timeout_us / 1000000);
	c->idle.tv_usec = (suseconds_t)(cfg->control_idle_timeout_us % 1000000);
	c->gid = cfg->control_gid;
}

/* Close the listening socket; open connections stay. */
void control_stop_accepting(struct control *c)
{
	if (c == NULL)
		return;
	listen_guard_free(c->guard);
	c->guard = NULL;
	if (c->listener != NULL)
		evconnlistener_free(c->listener);
	c->listener = NULL;
}

/* Whether every answer queued has been written out (the end of a drain
 * waits for it); NULL: nothing to write. */
bool control_flushed(struct control *c)
{
	struct conn *conn;

	if (c == NULL)
		return true;
	TAILQ_FOREACH(conn, &c->conns, entry)
	{
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0)
			return false;
	}
	return true;
}

/* Close everything; NULL is a no-op. */
void control_destroy(struct control *c)
{
	if (c == NULL)
		return;
	control_stop_accepting(c);
	while (!TAILQ_EMPTY(&c->conns))
		conn_free(TAILQ_FIRST(&c->conns));
	free(c);
}

/* Queue one message (text and its NUL) to the peer; close if we cannot. */
void control_send(struct conn *conn, const char *text)
{
	if (bufferevent_write(conn->bev, text, strlen(text) + 1) != 0)
		conn_abandon(conn);
}

/* A call will be answered later: read nothing more until it is. */
void control_hold(struct conn *conn, struct call *call)
{
	conn->call = call;
	bufferevent_disable(conn->bev, EV_READ);
	conn_watch_hangup(conn);
}

/* The call held was answered: carry on with the next message. */
void control_call_done(struct conn *conn)
{
	conn->call = NULL;
	if (conn->hangup != NULL)
		event_del(conn->hangup);
	if (conn->closing)
		return;
	bufferevent_enable(conn->bev, EV_READ);
	conn_process(conn);
}

/* Whether the peer may call methods that change state. */
bool control_privileged(const struct conn *conn)
{
	return conn->privileged;
}

/* Whether more than CONTROL_OUTPUT_MAX bytes wait for the peer: what can
 * be dropped (RunTask's progress) is not queued. */
bool control_backlogged(const struct conn *conn)
{
	return evbuffer_get_length(bufferevent_get_output(conn->bev)) >
	       CONTROL_OUTPUT_MAX;
}

/* The peer's uid, for messages. */
uid_t control_peer_uid(const struct conn *conn)
{
	return conn->cred.uid;
}
