/*
 * Snapshot: remember the census now, for Diff to compare against. Each
 * caller has its own snapshot (struct census_snapshot says how many are
 * kept): before, one was shared, and any peer's Snapshot replaced root's,
 * so root's Diff said nothing rose.
 */
#include <stdint.h>

#include "census.h"
#include "reclaimd.h"

/* Whose snapshot a call reads or takes: the privileged callers share one. */
uint64_t snapshot_key(const struct call *call)
{
	if (control_privileged(call->conn))
		return SNAPSHOT_PRIVILEGED;
	return (uint64_t)control_peer_uid(call->conn);
}

/* The caller's snapshot, or NULL if it has none; marks it used. */
struct census_snapshot *snapshot_find(struct server *srv, uint64_t key)
{
	struct census_snapshot *s;
	size_t i;

	for (i = 0; i < 1 + SNAPSHOT_UIDS; i++) {
		s = &srv->snapshots[i];
		if (s->taken && s->key == key) {
			s->used = ++srv->snapshot_clock;
			return s;
		}
	}
	return NULL;
}

/* A slot for key's new snapshot: its own, else slot 0 for the privileged
 * callers, else a free one or the least recently used of the others. */
static struct census_snapshot *snapshot_slot(struct server *srv, uint64_t key)
{
	struct census_snapshot *s = snapshot_find(srv, key), *lru;
	size_t i;

	if (s != NULL)
		return s;
	if (key == SNAPSHOT_PRIVILEGED)
		return &srv->snapshots[0];
	lru = &srv->snapshots[1];
	for (i = 1; i < 1 + SNAPSHOT_UIDS && lru->taken; i++) {
		s = &srv->snapshots[i];
		if (!s->taken || s->used < lru->used)
			lru = s;
	}
	return lru;
}

/* Every worker answered: keep the merged census as the caller's. */
static void method_snapshot_done(struct fanout *fan)
{
	struct census_snapshot *snap;
	struct json *reply = call_reply(fan->call);
	enum call_status st = CALL_DONE;
	uint64_t objects, bytes;

	snap = snapshot_slot(fan->srv, (uint64_t)(uintptr_t)fan->arg);
	census_finish(&snap->census);
	if (census_merge(fan, &snap->census) != 0)
		st = call_oom(fan->call);
	snap->taken = st == CALL_DONE;
	snap->key = (uint64_t)(uintptr_t)fan->arg;
	snap->used = ++fan->srv->snapshot_clock;
	snap->when_us = now_us();
	census_totals(&snap->census, &objects, &bytes);
	json_add_u64(reply, "types", snap->census.n);
	json_add_u64(reply, "objects", objects);
	json_add_u64(reply, "bytes", bytes);
	json_add_u64(reply, "taken_us", snap->when_us);
	call_finish(fan->call, st);
	fanout_destroy(fan);
}

/* Ask every worker for its census. */
static enum call_status method_snapshot_exec(struct call *call)
{
	return census_call(call, method_snapshot_done, snapshot_key(call));
}

const struct method_entry method_snapshot_entry = {
    .name = "io.reclaim.Snapshot",
    .params = "() -> (types: int, objects: int, bytes: int, taken_us: int)",
    .changes_state = false,
    .exec = method_snapshot_exec,
};
