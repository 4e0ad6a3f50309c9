/*
 * Plugins: tasks.modules lists shared objects; each exports RCL_PLUGIN_SYMBOL
 * (reclaimd/task.h) with the ABI version it was built for. They are loaded
 * and register their tasks once, at start-up (plugin_load_all), and stay
 * loaded until the daemon exits: their task definitions live in them.
 *
 * Checking (plugin_check) happens whenever the configuration is read, so a
 * bad plugin is a configuration error naming the file, and it never loads
 * a plugin into a daemon that serves:
 * - always, without loading: the path has a slash (dlopen would search
 *   for a bare name, and the file checked must be the file loaded, by its
 *   resolved path); the file and every directory above it belong to root
 *   or reclaimd's user and no one else may write them (sshd's StrictModes;
 *   a sticky directory of root's, as /tmp, may be writable by all); the
 *   file is an ELF shared object for this machine whose loaded segments
 *   lie inside it (a truncated one, mapped, killed the daemon: SIGBUS);
 * - before the daemon serves (at start, and for --check-config): a forked
 *   child loads every plugin and registers its tasks after the built-ins,
 *   as start-up will, so a plugin that cannot register, or that crashes
 *   loading, is a configuration error and harms nothing;
 * - at a reload, the daemon has threads (after fork, only async-signal-safe
 *   calls are safe, and dlopen is not one) and its plugins are fixed until
 *   the next start: the checks without loading only. Before, a reload
 *   dlopened every plugin in the running daemon: a new plugin's
 *   constructor ran, and a truncated one killed it.
 *
 * Checking runs again at each reload, so nothing here stops the daemon for
 * memory: -1 with a NULL cause means out of memory (config.c's convention).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <reclaimd/task.h>

#include "reclaimd.h"
#include "xmalloc.h"

#define PLUGIN_PHNUM_MAX 512  /* program headers in a plugin, at most */
#define PLUGIN_CHILD_OUT 4096 /* what the checking child may say */

/* The executable's own ELF header (the linker defines it): a plugin must
 * be for the same machine, class and byte order. */
extern const ElfW(Ehdr) __ehdr_start;

/* Set once start-up loads the plugins: from then on the daemon serves. */
static bool plugin_started;

/* In the checking child: where to say which plugin it is loading. */
static int plugin_progress_fd = -1;

/* cause, from fmt; NULL if out of memory. */
static void plugin_cause(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void plugin_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

/* Call fn on each path of a list separated by commas or white space. */
static int plugin_each(const char *list, int (*fn)(const char *, char **),
		       char **cause)
{
	char *copy = strdup(list ? list : ""), *save = NULL, *path;
	int rc = 0;

	if (copy == NULL) {
		*cause = NULL;
		return -1;
	}
	for (path = strtok_r(copy, ", \t", &save); path != NULL && rc == 0;
	     path = strtok_r(NULL, ", \t", &save))
		rc = fn(path, cause);
	free(copy);
	return rc;
}

/* Why st (of a plugin or a directory above it) lets someone other than
 * root or reclaimd's user change what is loaded, or NULL. */
static const char *plugin_unsafe(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by another user than root or reclaimd's";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return NULL;
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return NULL; /* others cannot replace what is not theirs */
	return "writable by its group or by others";
}

/* StrictModes: every directory above real (a resolved path) is safe. */
static int plugin_check_dirs(const char *path, const char *real, char **cause)
{
	char dir[PATH_MAX];
	const char *why;
	struct stat st;
	char *slash;

	snprintf(dir, sizeof dir, "%s", real);
	while ((slash = strrchr(dir, '/')) != NULL) {
		slash[slash == dir] = '\0'; /* "/a/b" -> "/a" -> "/" */
		if (stat(dir, &st) != 0)
			why = strerror(errno);
		else
			why = plugin_unsafe(&st);
		if (why != NULL) {
			plugin_cause(cause, "plugin %s: refused: directory %s "
				     "is %s", path, dir, why);
			return -1;
		}
		if (slash == dir)
			break;
	}
	return 0;
}

/* Whether the ELF header and program headers at fd (size bytes) are those
 * of a shared object for this machine with every loaded segment inside the
 * file; NULL, or why not. */
static const char *plugin_elf_problem(int fd, off_t size)
{
	const ElfW(Ehdr) *self = &__ehdr_start;
	ElfW(Ehdr) eh;
	ElfW(Phdr) ph;
	size_t i;

	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return "not an ELF file";
	if (eh.e_ident[EI_CLASS] != self->e_ident[EI_CLASS] ||
	    eh.e_ident[EI_DATA] != self->e_ident[EI_DATA] ||
	    eh.e_machine != self->e_machine)
		return "built for another machine";
	if (eh.e_type != ET_DYN)
		return "not a shared object";
	if (eh.e_phentsize != sizeof ph || eh.e_phnum == 0 ||
	    eh.e_phnum > PLUGIN_PHNUM_MAX)
		return "bad program headers";
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof ph,
			  (off_t)(eh.e_phoff + i * sizeof ph)) !=
		    (ssize_t)sizeof ph)
			return "truncated: its program headers are cut off";
		if (ph.p_type == PT_LOAD &&
		    (ph.p_offset > (uint64_t)size ||
		     ph.p_filesz > (uint64_t)size - ph.p_offset))
			return "truncated: a loaded segment ends past the end "
			       "of the file";
	}
	return NULL;
}

/* The checks that load nothing; *real is the resolved path (to free). */
static int plugin_inspect(const char *path, char **real, char **cause)
{
	const char *why = NULL;
	struct stat st;
	int fd;

	*real = NULL;
	if (strchr(path, '/') == NULL) {
		plugin_cause(cause, "plugin %s: refused: give a path with a "
			     "slash (./%s): dlopen(3) would search for a bare "
			     "name, and the file checked must be the file "
			     "loaded", path, path);
		return -1;
	}
	*real = realpath(path, NULL);
	if (*real == NULL) {
		plugin_cause(cause, "plugin %s: cannot load: %s", path,
			     strerror(errno));
		return -1;
	}
	fd = open(*real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if ((why = plugin_unsafe(&st)) == NULL)
		why = plugin_elf_problem(fd, st.st_size);
	if (fd >= 0)
		close(fd);
	if (why != NULL) {
		plugin_cause(cause, "plugin %s: refused: %s", path, why);
		return -1;
	}
	return plugin_check_dirs(path, *real, cause);
}

/* Open path and find its plugin record; NULL with cause naming the file. */
static const struct rcl_plugin *plugin_open(const char *path, char **cause)
{
	const struct rcl_plugin *p;
	char *real;
	void *dl;

	if (plugin_inspect(path, &real, cause) != 0) {
		free(real);
		return NULL;
	}
	if (plugin_progress_fd >= 0)
		dprintf(plugin_progress_fd, "L%s\n", path);
	dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	free(real);
	if (dl == NULL) {
		plugin_cause(cause, "plugin %s: cannot load: %s", path,
			     dlerror());
		return NULL;
	}
	p = dlsym(dl, RCL_PLUGIN_SYMBOL);
	if (p == NULL) {
		plugin_cause(cause,
			     "plugin %s: no symbol %s: not a reclaimd plugin "
			     "(define it with RCL_PLUGIN() from "
			     "reclaimd/task.h)",
			     path, RCL_PLUGIN_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	if (p->abi != RCL_TASK_ABI_VERSION || p->register_tasks == NULL) {
		plugin_cause(cause,
			     "plugin %s: built for task ABI version %u, "
			     "reclaimd has version %u: rebuild it against this "
			     "reclaimd/task.h",
			     path, p->abi, RCL_TASK_ABI_VERSION);
		dlclose(dl);
		return NULL;
	}
	return p;
}

/* The checks without loading, for one plugin. */
static int plugin_inspect_one(const char *path, char **cause)
{
	char *real;
	int rc = plugin_inspect(path, &real, cause);

	free(real);
	return rc;
}

/* In the checking child: load and register as start-up does, say how it
 * went on fd ("L<path>" before each, "E<cause>" on failure), and exit. */
static void plugin_child(const char *list, int fd)
    __attribute__((noreturn));
static void plugin_child(const char *list, int fd)
{
	struct config cfg = {.tasks_modules = (char *)list};
	char *cause = NULL;

	log_set_level(LOG_WARNING); /* not "plugin ... loaded" */
	plugin_progress_fd = fd;
	if (tasks_init(&cfg, &cause) == 0)
		_exit(0);
	dprintf(fd, "E%s", cause ? cause : "out of memory");
	_exit(1);
}

/* What the child said (out, NUL-terminated) and how it ended: 0 if every
 * plugin registered, else -1 with cause. */
static int plugin_verdict(char *out, int status, char **cause)
{
	char *err = NULL, *loading = NULL, *line, *save = NULL;

	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == 'L')
			loading = line + 1;
		else if (line[0] == 'E')
			err = line + 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (err != NULL)
		plugin_cause(cause, "%s", err);
	else if (WIFSIGNALED(status))
		plugin_cause(cause, "plugin %s: loading it killed the check "
			     "(signal %d, %s)", loading ? loading : "?",
			     WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		plugin_cause(cause, "plugin %s: loading it ended the check "
			     "(exit status %d)", loading ? loading : "?",
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}

/* How long the check of the plugins may take: a constructor that hangs
 * (or a helper it forked that keeps the pipe open) must not hang start. */
#define PLUGIN_CHECK_MS 30000

/* Read the child's words from fd until it closes it or the time is up;
 * false if the time ran out. The end is kept if there are too many. */
static bool plugin_read_child(int fd, char *out, size_t size, size_t *len)
{
	uint64_t deadline = mono_us() + (uint64_t)PLUGIN_CHECK_MS * 1000;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t now;
	ssize_t n;

	for (;;) {
		now = mono_us();
		if (now >= deadline)
			return false;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) == 0)
			continue;
		n = read(fd, out + *len, size - 1 - *len);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return true;
		*len += n > 0 ? (size_t)n : 0;
		if (*len == size - 1) { /* keep the end: the last words */
			memmove(out, out + *len / 2, *len - *len / 2);
			*len -= *len / 2;
		}
	}
}

/* Load and register every plugin of list in a forked child, with SIGCHLD
 * at its default (an ignored SIGCHLD, which a supervisor can hand down,
 * would have the child reaped by the kernel and its verdict lost). */
static int plugin_try(const char *list, char **cause)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
	char out[PLUGIN_CHILD_OUT];
	size_t len = 0;
	bool in_time = true;
	int p[2], status, rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		plugin_cause(cause, "cannot check the plugins: pipe: %s",
			     strerror(errno));
		return -1;
	}
	sigaction(SIGCHLD, &dfl, &old);
	fflush(NULL); /* the child's exit must not write it twice */
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		plugin_child(list, p[1]);
	}
	close(p[1]);
	if (pid > 0)
		in_time = plugin_read_child(p[0], out, sizeof out, &len);
	close(p[0]);
	out[len] = '\0';
	if (pid < 0) {
		sigaction(SIGCHLD, &old, NULL);
		plugin_cause(cause, "cannot check the plugins: fork: %s",
			     strerror(errno));
		return -1;
	}
	if (!in_time)
		kill(pid, SIGKILL);
	while ((rc = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	sigaction(SIGCHLD, &old, NULL);
	if (rc < 0) {
		plugin_cause(cause, "cannot check the plugins: waitpid: %s",
			     strerror(errno));
		return -1;
	}
	if (!in_time) {
		plugin_cause(cause, "the plugins' check took longer than %d s "
			     "(a constructor or a registration that hangs?)",
			     PLUGIN_CHECK_MS / 1000);
		return -1;
	}
	return plugin_verdict(out, status, cause);
}

/* Check every plugin in a tasks.modules value (see the top of the file). */
int plugin_check(const char *list, char **cause)
{
	if (plugin_each(list, plugin_inspect_one, cause) != 0)
		return -1;
	if (plugin_started || list == NULL || list[strspn(list, ", \t")] == 0)
		return 0;
	return plugin_try(list, cause);
}

/* Load one plugin and let it register its tasks. */
static int plugin_load_one(const char *path, char **cause)
{
	const struct rcl_plugin *p = plugin_open(path, cause);
	char *why = NULL;

	if (p == NULL)
		return -1;
	/* start-up only: xmalloc may stop the daemon here */
	if (p->register_tasks(registry_get(xstrdup(path)), &why) != 0) {
		xasprintf(cause, "plugin %s (%s): cannot register: %s", path,
			  p->name ? p->name : "?", why ? why : "failed");
		free(why);
		return -1;
	}
	log_info("plugin %s: %s loaded", path, p->name ? p->name : "?");
	return 0;
}

/* Load every plugin in tasks.modules, in order. */
int plugin_load_all(const char *list, char **cause)
{
	plugin_started = true;
	return plugin_each(list, plugin_load_one, cause);
}
