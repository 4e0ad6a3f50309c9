/* A blocking varlink client: one call, its reply (or replies: "more"), over
 * the shared framing. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "reclaimctl.h"
#include "varlink.h"
#include "xmalloc.h"

/* Longest wait for a reply: a full collection of a big heap takes a while. */
#define CLIENT_TIMEOUT_MS 60000

struct client {
	int fd;
	int timeout_ms; /* -1: wait as long as it takes */
	struct frame frame;
};

/* Connect to the control socket at path. */
struct client *client_connect(const char *path, char **cause)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client *c;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		xasprintf(cause, "%s: socket path too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		xasprintf(cause, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->timeout_ms = CLIENT_TIMEOUT_MS;
	frame_init(&c->frame, FRAME_MAX * 16);
	return c;
}

/* How long to wait for a reply; -1: as long as it takes. */
void client_set_timeout(struct client *c, int ms)
{
	c->timeout_ms = ms;
}

/* Close; NULL is a no-op. */
void client_destroy(struct client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	frame_finish(&c->frame);
	free(c);
}

/* Write all of buf. */
static int client_write(struct client *c, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until one whole message is framed; its text, or NULL and cause. */
static char *client_read(struct client *c, char **cause)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	char *msg;
	size_t len;
	ssize_t n;
	void *p;

	for (;;) {
		switch (frame_next(&c->frame, &msg, &len)) {
		case FRAME_MESSAGE:
			return msg;
		case FRAME_TOO_LARGE:
			*cause = xstrdup("reply too large");
			return NULL;
		case FRAME_PARTIAL:
			break;
		}
		if (poll(&pfd, 1, c->timeout_ms) == 0) {
			xasprintf(cause, "no reply within %d s",
				  c->timeout_ms / 1000);
			return NULL;
		}
		p = frame_space(&c->frame, 65536);
		n = p ? recv(c->fd, p, 65536, 0) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*cause = xstrdup(n == 0 ? "connection closed"
						: strerror(errno));
			return NULL;
		}
		frame_commit(&c->frame, (size_t)n);
	}
}

/*
 * Call method; 0 with *reply (the parameters) and *error (the error's name
 * when the daemon answered one), or -1 with cause when the exchange failed.
 */
int client_call(struct client *c, const char *method, const struct json *params,
		struct json **reply, char **error, char **cause)
{
	return client_call_more(c, method, params, NULL, NULL, reply, error,
				cause);
}

/*
 * As client_call, but with each set the call asks for more replies (varlink
 * "more"): each one that continues goes to each(its parameters, arg) as it
 * comes; the last is returned as client_call returns it.
 */
int client_call_more(struct client *c, const char *method,
		     const struct json *params, client_each each, void *arg,
		     struct json **reply, char **error, char **cause)
{
	struct varlink_msg m;
	char *text;
	int rc;

	*reply = NULL;
	*error = NULL;
	text = varlink_encode_call(method, params, each != NULL);
	rc = client_write(c, text, strlen(text) + 1);
	free(text);
	if (rc != 0) {
		xasprintf(cause, "%s", strerror(errno));
		return -1;
	}
	for (;;) {
		text = client_read(c, cause);
		if (text == NULL || varlink_parse_reply(text, &m, cause) != 0)
			return -1;
		if (!m.continues || m.error != NULL)
			break;
		if (each != NULL)
			each(m.params, arg);
		varlink_msg_finish(&m);
	}
	*reply = m.params ? json_copy(m.params) : json_object();
	if (m.error != NULL)
		*error = xstrdup(m.error);
	varlink_msg_finish(&m);
	return 0;
}
