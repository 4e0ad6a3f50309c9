/*
 * Reload (SIGHUP and io.reclaim.Reload): read the file again with the same
 * -s overrides. A bad file keeps the old configuration and says why. Keys
 * that only apply at start-up (sockets, workers) are reported, not applied.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimd.h"

/* The thresholds fan-out needs no answer: just free it. */
static void reload_thresholds_done(struct fanout *fan)
{
	fanout_destroy(fan);
}

/* Send the heap settings to every worker (thresholds.c). */
static void reload_heap(struct server *srv, const struct config *cfg)
{
	size_t thr[RCL_GENERATIONS];
	int g;

	for (g = 0; g < RCL_GENERATIONS; g++)
		thr[g] = (size_t)cfg->heap_thresholds[g];
	if (thresholds_set(srv, NULL, thr, (size_t)cfg->heap_young_bytes,
			   cfg->heap_incremental,
			   (size_t)cfg->heap_increment_objects,
			   reload_thresholds_done) != 0)
		log_warn("reload: out of memory: the workers keep "
			 "heap.thresholds, heap.young_bytes and "
			 "heap.incremental");
}

/* Whether two optional strings differ. */
static bool differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

/* Say which changed keys wait for a restart. */
static void reload_restart_keys(const struct config *old,
				const struct config *cfg)
{
	if (differs(old->control_socket, cfg->control_socket) ||
	    old->control_mode != cfg->control_mode)
		log_warn("reload: control.socket and control.mode apply at the "
			 "next start");
	if (differs(old->http_listen, cfg->http_listen) ||
	    old->http_workers != cfg->http_workers)
		log_warn("reload: http.listen and http.workers apply at the "
			 "next start");
	if (differs(old->metrics_listen, cfg->metrics_listen))
		log_warn("reload: metrics.listen applies at the next start");
	if (differs(old->tasks_modules, cfg->tasks_modules))
		log_warn("reload: tasks.modules applies at the next start");
	if (old->http_max_request_line != cfg->http_max_request_line ||
	    old->http_max_header_bytes != cfg->http_max_header_bytes ||
	    old->http_max_body_bytes != cfg->http_max_body_bytes ||
	    old->http_idle_timeout_us != cfg->http_idle_timeout_us ||
	    old->http_request_timeout_us != cfg->http_request_timeout_us ||
	    old->http_keepalive != cfg->http_keepalive ||
	    old->http_retry_after_us != cfg->http_retry_after_us ||
	    old->http_max_connections != cfg->http_max_connections)
		log_warn("reload: the http.* limits apply at the next start");
}

/* Reload; -1 with cause (also logged) when the old configuration stays, a
 * NULL cause if memory ran out reading it. */
int server_reload(struct server *srv, char **cause)
{
	const char *file = srv->src->path ? srv->src->path
					  : config_default_path();
	struct log_fields lf = {0};
	struct config *cfg;

	log_field(&lf, "CONFIG_FILE", "%s", file);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		    (unsigned long long)mono_us());
	cfg = config_load(srv->src, cause);
	if (cfg == NULL) {
		log_field(&lf, "ERROR", "%s", *cause ? *cause : "out of memory");
		log_event(LOG_ERR, LOG_ID_RELOAD_REFUSED, &lf,
			  "reload failed, keeping the old configuration: %s",
			  *cause ? *cause : "out of memory");
		notify_send("READY=1");
		notify_status(srv);
		return -1;
	}
	reload_restart_keys(srv->cfg, cfg);
	log_set_level(cfg->log_level);
	control_configure(srv->control, cfg);
	reload_heap(srv, cfg); /* first: the watchdog restores young_bytes */
	memwatch_configure(srv->watch, cfg);
	config_destroy(srv->cfg);
	srv->cfg = cfg;
	log_event(LOG_INFO, LOG_ID_RELOAD, &lf, "configuration reloaded");
	notify_send("READY=1");
	notify_status(srv);
	return 0;
}
