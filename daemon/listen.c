/*
 * Listening sockets: those systemd passed (socket activation, by name), or
 * our own, bound from the configuration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "reclaimd.h"
#include "xmalloc.h"

#define LISTEN_BACKLOG 128

/* Make fd non-blocking and close-on-exec. */
static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

#if HAVE_LIBSYSTEMD
/* Which of our sockets an activated fd is, by name and kind; NULL if none. */
static int *activated_slot(struct activated *a, int fd, const char *name)
{
	bool unixsock = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0;
	bool inet = sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0;

	if (strcmp(name, "control") == 0 && unixsock)
		return &a->control;
	if (strcmp(name, "http") == 0 && inet)
		return &a->http;
	if (strcmp(name, "metrics") == 0 && inet)
		return &a->metrics;
	/* A single unnamed UNIX socket can only be the control socket. */
	if (strcmp(name, "unknown") == 0 && unixsock && a->control < 0)
		return &a->control;
	return NULL;
}

/* Take the sockets systemd passed, by name; each slot -1 when not passed. */
int listen_activated(struct activated *a, char **cause)
{
	char **names = NULL;
	int n, i, *slot;

	a->control = a->http = a->metrics = -1;
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		xasprintf(cause, "socket activation: %s", strerror(-n));
		return -1;
	}
	for (i = 0; i < n; i++) {
		slot = activated_slot(a, SD_LISTEN_FDS_START + i, names[i]);
		if (slot == NULL || *slot >= 0) {
			log_warn("ignoring passed socket %d named \"%s\"",
				 SD_LISTEN_FDS_START + i, names[i]);
			close(SD_LISTEN_FDS_START + i);
		} else {
			*slot = SD_LISTEN_FDS_START + i;
			set_flags(*slot);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}
#else
/* Without libsystemd nothing is ever passed. */
int listen_activated(struct activated *a, char **cause)
{
	a->control = a->http = a->metrics = -1;
	return 0;
}
#endif

/* Split host:port or [v6]:port into its parts. */
static void split_hostport(const char *spec, char *host, size_t hlen,
			   const char **port)
{
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t n = (size_t)(colon - spec);

	if (*h == '[') {
		h++;
		n -= 2;
	}
	snprintf(host, hlen, "%.*s", (int)n, h);
	*port = colon + 1;
}

/* Bind and listen on one resolved address; -1 and errno on failure. */
static int bind_one(const struct addrinfo *ai)
{
	int fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0 || set_flags(fd) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* A TCP listening socket for host:port. */
int listen_tcp(const char *spec, char **cause)
{
	struct addrinfo hints = {0}, *res, *ai;
	char host[256];
	const char *port;
	int fd = -1, rc, err = 0;

	split_hostport(spec, host, sizeof host, &port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		xasprintf(cause, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = bind_one(ai);
		if (fd < 0)
			err = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		xasprintf(cause, "cannot listen on %s: %s", spec,
			  strerror(err));
	return fd;
}

/* Create the directory that holds the socket, and its parents. */
static int make_parent(const char *path)
{
	char *dir = xstrdup(path), *p;
	int rc = 0;

	for (p = strchr(dir + 1, '/'); p != NULL && rc == 0;
	     p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	free(dir);
	return rc;
}

/* Remove a socket left by a dead daemon; -1 if a live one answers. */
static int clear_stale(const struct sockaddr_un *sa)
{
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	close(fd);
	if (rc == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	return 0;
}

/* Bind sa, then give it the configured mode and group. */
static int bind_unix(int fd, const struct sockaddr_un *sa,
		     const struct config *cfg)
{
	if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) != 0)
		return -1;
	if (chmod(sa->sun_path, cfg->control_mode) != 0)
		return -1;
	if (cfg->control_gid != (gid_t)-1 &&
	    chown(sa->sun_path, (uid_t)-1, cfg->control_gid) != 0)
		return -1;
	return listen(fd, LISTEN_BACKLOG);
}

/* The control socket at path, mode control.mode, group control.group. */
int listen_unix(const char *path, const struct config *cfg, char **cause)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		xasprintf(cause, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (make_parent(path) != 0 || clear_stale(&sa) != 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind_unix(fd, &sa, cfg) != 0 || set_flags(fd) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		goto fail;
	}
	return fd;
fail:
	xasprintf(cause, "cannot listen on %s: %s", path,
		  errno == EADDRINUSE ? "another reclaimd is running there"
				      : strerror(errno));
	return -1;
}

/* The address a listening socket is bound to, for the log. */
const char *listen_describe(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[INET6_ADDRSTRLEN];
	const void *addr;
	int port;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return "?";
	if (ss.ss_family == AF_UNIX) {
		snprintf(buf, len, "%s", ((struct sockaddr_un *)&ss)->sun_path);
		return buf;
	}
	if (ss.ss_family == AF_INET) {
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	inet_ntop(ss.ss_family, addr, host, sizeof host);
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host,
		 port);
	return buf;
}
