/*
 * The task registry: built-in tasks (daemon/tasks/, one file each, one row
 * below) and those plugins add (plugin.c). Built once on the main thread
 * before any worker runs, read-only afterwards, so workers read it without a
 * lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <reclaimd/task.h>

#include "reclaimd.h"
#include "xmalloc.h"

extern const struct rcl_task_def task_churn_def;
extern const struct rcl_task_def task_hello_def;
extern const struct rcl_task_def task_seed_fixed_def;
extern const struct rcl_task_def task_seed_leaky_def;
extern const struct rcl_task_def task_tree_def;

/* The built-in tasks. */
static const struct rcl_task_def *const task_builtins[] = {
    &task_hello_def,	 &task_seed_leaky_def, &task_seed_fixed_def,
    &task_tree_def,       &task_churn_def,
};

struct rcl_registry {
	const char *origin; /* what is registering: "built-in" or a path */
	size_t n, cap;
	const struct rcl_task_def **defs;
	const char **origins;
	bool ready;
};

static struct rcl_registry registry;

/* Whether a task name is made of [a-z0-9._-]. */
static bool name_ok(const char *name)
{
	if (name == NULL || *name == '\0' || strlen(name) > 64)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       strlen(name);
}

/* Why def cannot be added, or NULL. */
static const char *def_problem(const struct rcl_task_def *def)
{
	if (!name_ok(def->name))
		return "the name must be 1 to 64 of [a-z0-9._-]";
	if (def->step == NULL)
		return "no step function";
	if (def->kind == RCL_TASK_REQUEST &&
	    (def->route == NULL || def->route[0] != '/'))
		return "a request task needs a route starting with /";
	if (def->kind == RCL_TASK_PERIODIC && def->period_ms == 0)
		return "a periodic task needs period_ms";
	if (def->kind > RCL_TASK_ON_DEMAND)
		return "unknown kind";
	return NULL;
}

/* Add a task; its name and route must be free. */
int rcl_registry_add(rcl_registry *reg, const struct rcl_task_def *def,
		     char **cause)
{
	const char *why = def != NULL ? def_problem(def) : "no definition";

	if (why != NULL) {
		xasprintf(cause, "task %s: %s",
			  def && def->name ? def->name : "?", why);
		return -1;
	}
	if (tasks_find(def->name) != NULL) {
		xasprintf(cause, "task %s: the name is taken", def->name);
		return -1;
	}
	if (def->kind == RCL_TASK_REQUEST && tasks_route(def->route) != NULL) {
		xasprintf(cause, "task %s: route %s is taken by %s", def->name,
			  def->route, tasks_route(def->route)->name);
		return -1;
	}
	if (reg->n == reg->cap) {
		reg->cap = reg->cap ? reg->cap * 2 : 16;
		reg->defs = xrealloc(reg->defs, reg->cap * sizeof *reg->defs);
		reg->origins =
		    xrealloc(reg->origins, reg->cap * sizeof *reg->origins);
	}
	reg->defs[reg->n] = def;
	reg->origins[reg->n++] = reg->origin;
	return 0;
}

/* The registry plugin.c adds to, with what is registering. */
rcl_registry *registry_get(const char *origin)
{
	registry.origin = origin;
	return &registry;
}

/* Register the built-ins and load the plugins, once. */
int tasks_init(const struct config *cfg, char **cause)
{
	size_t i;

	if (registry.ready)
		return 0;
	registry.origin = "built-in";
	for (i = 0; i < sizeof task_builtins / sizeof *task_builtins; i++) {
		if (rcl_registry_add(&registry, task_builtins[i], cause) != 0)
			return -1;
	}
	if (plugin_load_all(cfg->tasks_modules, cause) != 0)
		return -1;
	registry.ready = true;
	return 0;
}

/* How many tasks there are. */
size_t tasks_count(void)
{
	return registry.n;
}

/* The i-th task, and where it comes from. */
const struct rcl_task_def *tasks_at(size_t i, const char **origin)
{
	if (i >= registry.n)
		return NULL;
	if (origin != NULL)
		*origin = registry.origins[i];
	return registry.defs[i];
}

/* The task named name, or NULL. */
const struct rcl_task_def *tasks_find(const char *name)
{
	size_t i;

	for (i = 0; i < registry.n; i++) {
		if (strcmp(registry.defs[i]->name, name) == 0)
			return registry.defs[i];
	}
	return NULL;
}

/* The request task serving path, or NULL. */
const struct rcl_task_def *tasks_route(const char *path)
{
	size_t i;

	for (i = 0; i < registry.n; i++) {
		if (registry.defs[i]->kind == RCL_TASK_REQUEST &&
		    strcmp(registry.defs[i]->route, path) == 0)
			return registry.defs[i];
	}
	return NULL;
}
