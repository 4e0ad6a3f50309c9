/*
 * Plugins: tasks.modules lists shared objects; each exports RCL_PLUGIN_SYMBOL
 * (reclaim/task.h) with the ABI version it was built for. Checking happens
 * when the configuration is read (so a bad plugin is a configuration error
 * naming the file), registering once at start-up. Plugins stay loaded until
 * the daemon exits: their task definitions live in them.
 *
 * Checking runs again at each reload, so nothing here stops the daemon for
 * memory: -1 with a NULL cause means out of memory (config.c's convention).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reclaim/task.h>

#include "reclaimd.h"
#include "xmalloc.h"

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

/* Open path and find its plugin record; NULL with cause naming the file. */
static const struct rcl_plugin *plugin_open(const char *path, char **cause)
{
	const struct rcl_plugin *p;
	void *dl;

	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
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
			     "reclaim/task.h)",
			     path, RCL_PLUGIN_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	if (p->abi != RCL_TASK_ABI_VERSION || p->register_tasks == NULL) {
		plugin_cause(cause,
			     "plugin %s: built for task ABI version %u, "
			     "reclaimd has version %u: rebuild it against this "
			     "reclaim/task.h",
			     path, p->abi, RCL_TASK_ABI_VERSION);
		dlclose(dl);
		return NULL;
	}
	return p;
}

/* Check one plugin (it stays loaded; loading it again is cheap). */
static int plugin_check_one(const char *path, char **cause)
{
	return plugin_open(path, cause) != NULL ? 0 : -1;
}

/* Check every plugin in a tasks.modules value. */
int plugin_check(const char *list, char **cause)
{
	return plugin_each(list, plugin_check_one, cause);
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
	return plugin_each(list, plugin_load_one, cause);
}
