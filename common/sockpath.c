/* The control socket's default path (ARCHITECTURE.md, control.socket). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockpath.h"
#include "xmalloc.h"

#define SOCKPATH_CANDIDATES 4

/* $RUNTIME_DIRECTORY/control: the first directory systemd gave us. */
static char *from_runtime_directory(void)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	size_t n;
	char *s;

	if (dir == NULL || *dir == '\0')
		return NULL;
	n = strcspn(dir, ":");
	xasprintf(&s, "%.*s/control", (int)n, dir);
	return s;
}

/* /run/reclaim/control when the daemon could create it. */
static char *from_run(bool client)
{
	if (client || access("/run/reclaim", W_OK) == 0 ||
	    (access("/run/reclaim", F_OK) != 0 && access("/run", W_OK) == 0))
		return xstrdup("/run/reclaim/control");
	return NULL;
}

/* $XDG_RUNTIME_DIR/reclaim/control. */
static char *from_xdg(void)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	char *s;

	if (dir == NULL || *dir == '\0')
		return NULL;
	xasprintf(&s, "%s/reclaim/control", dir);
	return s;
}

/* /tmp/reclaim-$UID/control: always possible. */
static char *from_tmp(void)
{
	char *s;

	xasprintf(&s, "/tmp/reclaim-%u/control", (unsigned)getuid());
	return s;
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
 */
char *sockpath_default(bool client)
{
	char *c[SOCKPATH_CANDIDATES], *found = NULL;
	size_t i;

	c[0] = from_runtime_directory();
	c[1] = from_run(client);
	c[2] = from_xdg();
	c[3] = from_tmp();
	for (i = 0; client && found == NULL && i < SOCKPATH_CANDIDATES; i++) {
		if (c[i] != NULL && is_socket(c[i]))
			found = c[i];
	}
	for (i = 0; !client && found == NULL && i < SOCKPATH_CANDIDATES; i++)
		found = c[i];
	for (i = 0; i < SOCKPATH_CANDIDATES; i++) {
		if (c[i] != found)
			free(c[i]);
	}
	return found != NULL ? found : sockpath_default(false);
}
