/*
 * The control socket's default path (reclaimd.conf(5), control.socket).
 * sockpath_find allocates with malloc and returns NULL when out of memory
 * (reclaimd computes it again at each reload); sockpath_default, for
 * reclaimctl, exits instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockpath.h"
#include "xmalloc.h"

#define SOCKPATH_CANDIDATES 4

/* A candidate path from fmt; NULL and *oom set if out of memory. */
static char *candidate(bool *oom, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *candidate(bool *oom, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		s = NULL;
		*oom = true;
	}
	va_end(ap);
	return s;
}

/* $RUNTIME_DIRECTORY/control: the first directory systemd gave us. */
static char *from_runtime_directory(bool *oom)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	size_t n;

	if (dir == NULL || *dir == '\0')
		return NULL;
	n = strcspn(dir, ":");
	return candidate(oom, "%.*s/control", (int)n, dir);
}

/* /run/reclaim/control when the daemon could create it. */
static char *from_run(bool client, bool *oom)
{
	if (client || access("/run/reclaim", W_OK) == 0 ||
	    (access("/run/reclaim", F_OK) != 0 && access("/run", W_OK) == 0))
		return candidate(oom, "%s", "/run/reclaim/control");
	return NULL;
}

/* $XDG_RUNTIME_DIR/reclaim/control. */
static char *from_xdg(bool *oom)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");

	if (dir == NULL || *dir == '\0')
		return NULL;
	return candidate(oom, "%s/reclaim/control", dir);
}

/* /tmp/reclaim-$UID/control: always possible. */
static char *from_tmp(bool *oom)
{
	return candidate(oom, "/tmp/reclaim-%u/control", (unsigned)getuid());
}

/* Whether a socket exists at path. */
static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * The daemon takes the first candidate it can create. A client may run as
 * another user than the daemon, so it takes the first candidate where a
 * socket exists, and otherwise the daemon's own choice (for the message).
 * NULL if out of memory: never another candidate than the one due.
 */
char *sockpath_find(bool client)
{
	char *c[SOCKPATH_CANDIDATES], *found = NULL;
	bool oom = false;
	size_t i;

	c[0] = from_runtime_directory(&oom);
	c[1] = from_run(client, &oom);
	c[2] = from_xdg(&oom);
	c[3] = from_tmp(&oom);
	for (i = 0; !oom && client && found == NULL && i < SOCKPATH_CANDIDATES;
	     i++) {
		if (c[i] != NULL && is_socket(c[i]))
			found = c[i];
	}
	for (i = 0; !oom && !client && found == NULL && i < SOCKPATH_CANDIDATES;
	     i++)
		found = c[i];
	for (i = 0; i < SOCKPATH_CANDIDATES; i++) {
		if (c[i] != found)
			free(c[i]);
	}
	if (oom)
		return NULL;
	return found != NULL ? found : sockpath_find(false);
}

/* sockpath_find for reclaimctl: out of memory, it exits. */
char *sockpath_default(bool client)
{
	return xcheck(sockpath_find(client));
}
