/*
 * The collector's settings in force on every worker (heap.thresholds,
 * heap.young_bytes, heap.incremental and heap.increment_objects): Reload
 * and SetThresholds change them here, one way.
 * srv->thresholds and srv->young_bytes are what every worker was told, so
 * they change only once the fan-out that tells them exists; out of memory
 * for it, nothing changes anywhere and the caller says so.
 */
#include <string.h>

#include "reclaimd.h"

/* Tell every worker thr, young and the incremental settings; done answers
 * (or only frees the fan-out); call: the varlink call waiting, or NULL. */
int thresholds_set(struct server *srv, struct call *call,
		   const size_t thr[RCL_GENERATIONS], size_t young,
		   bool incremental, size_t increment_objects,
		   fanout_done done)
{
	struct fanout *fan;
	size_t i;

	fan = fanout_create(srv, call, WCMD_THRESHOLDS, done);
	if (fan == NULL)
		return -1;
	memcpy(srv->thresholds, thr, sizeof srv->thresholds);
	srv->young_bytes = young;
	srv->incremental = incremental;
	srv->increment_objects = increment_objects;
	for (i = 0; i < fan->n; i++) {
		fan->cmds[i].in.heap.incremental = incremental;
		fan->cmds[i].in.heap.increment_objects = increment_objects;
		memcpy(fan->cmds[i].in.heap.thresholds, thr,
		       sizeof fan->cmds[i].in.heap.thresholds);
		fan->cmds[i].in.heap.young_bytes = young;
	}
	fanout_send(fan);
	return 0;
}
