/*
 * Listening sockets: those systemd passed (socket activation, by name), or
 * our own, bound from the configuration, with a backlog of SOMAXCONN as
 * systemd gives its own (a passed socket keeps the backlog systemd gave it);
 * and the guard that keeps a listener from spinning when accept fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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

#define LISTEN_BACKLOG SOMAXCONN

/* A listener's pause after a failed accept: the first, and the longest. */
#define GUARD_FIRST_US 100000
#define GUARD_MAX_US 1000000

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

/*
 * The accept guard. An accept that fails for want of a descriptor (EMFILE,
 * ENFILE) or of memory leaves the connection queued, so the listener wakes
 * at once and fails again: a loop that spun at 184% CPU and logged "Too many
 * open files" 1.8 million times in 10 s. Instead, any accept error that
 * libevent does not retry itself disables the listener for a pause, 100 ms
 * doubling to 1 s while errors follow each resumption, then enables it
 * again; one log line a pause. The kernel queues new connections meanwhile,
 * up to the backlog.
 *
 * libevent hands the error callback the listener's own argument (evhttp's,
 * for an HTTP listener), so guards are found by listener, in one list under
 * a mutex: they are added and removed by the threads that own the listeners,
 * and looked up only when accept fails. The rest of a guard is touched only
 * on its listener's base, by its thread.
 */
struct listen_guard {
	struct evconnlistener *lev;
	struct event *resume;
	char what[32];
	uint64_t pause_us;   /* the last pause */
	uint64_t resumed_us; /* when it last ended; 0: no pause yet */
	struct listen_guard *next;
};

static pthread_mutex_t guards_lock = PTHREAD_MUTEX_INITIALIZER;
static struct listen_guard *guards;

/* The pause is over: accept again. */
static void guard_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listen_guard *g = arg;

	g->resumed_us = mono_us();
	evconnlistener_enable(g->lev);
}

/* The next pause: double the last if accept failed again within twice it
 * of resuming, else start over. */
static uint64_t guard_next_pause(struct listen_guard *g)
{
	uint64_t p = g->pause_us;

	if (g->resumed_us == 0 || mono_us() - g->resumed_us > 2 * p)
		return GUARD_FIRST_US;
	return 2 * p < GUARD_MAX_US ? 2 * p : GUARD_MAX_US;
}

/* accept() failed and libevent will not retry: pause the listener. */
static void guard_error(struct evconnlistener *lev, void *arg)
{
	int err = errno;
	struct listen_guard *g;
	struct timeval tv;

	pthread_mutex_lock(&guards_lock);
	for (g = guards; g != NULL && g->lev != lev; g = g->next)
		;
	pthread_mutex_unlock(&guards_lock);
	if (g == NULL)
		return; /* cannot be: guards outlive their listeners' errors */
	g->pause_us = guard_next_pause(g);
	tv.tv_sec = (time_t)(g->pause_us / 1000000);
	tv.tv_usec = (suseconds_t)(g->pause_us % 1000000);
	evconnlistener_disable(lev);
	if (evtimer_add(g->resume, &tv) != 0)
		evconnlistener_enable(lev); /* cannot be: the event exists */
	log_warn("%s: accept: %s: not accepting for %llu ms", g->what,
		 strerror(err), (unsigned long long)(g->pause_us / 1000));
}

/* Guard lev, on base (its own), named what in the log; NULL if out of
 * memory (the listener is left unguarded, as it was). */
struct listen_guard *listen_guard(struct evconnlistener *lev,
				  struct event_base *base, const char *what)
{
	struct listen_guard *g = calloc(1, sizeof *g);

	if (g == NULL || lev == NULL)
		goto bad;
	g->resume = evtimer_new(base, guard_resume, g);
	if (g->resume == NULL)
		goto bad;
	g->lev = lev;
	snprintf(g->what, sizeof g->what, "%s", what);
	pthread_mutex_lock(&guards_lock);
	g->next = guards;
	guards = g;
	pthread_mutex_unlock(&guards_lock);
	evconnlistener_set_error_cb(lev, guard_error);
	return g;
bad:
	log_warn("%s: out of memory: accept errors are not paused", what);
	free(g);
	return NULL;
}

/* Forget a guard, before its listener is freed; NULL is a no-op. */
void listen_guard_free(struct listen_guard *g)
{
	struct listen_guard **p;

	if (g == NULL)
		return;
	pthread_mutex_lock(&guards_lock);
	for (p = &guards; *p != NULL && *p != g; p = &(*p)->next)
		;
	if (*p == g)
		*p = g->next;
	pthread_mutex_unlock(&guards_lock);
	evconnlistener_set_error_cb(g->lev, NULL);
	event_free(g->resume);
	free(g);
}
