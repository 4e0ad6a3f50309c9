/* Census: live objects and bytes by type, over every worker's heap. */
#include "census.h"
#include "reclaimd.h"

/* Every worker answered: merge and reply. */
static void method_census_done(struct fanout *fan)
{
	struct census c;

	census_merge(fan, &c);
	census_to_json(&c, call_reply(fan->call));
	census_finish(&c);
	call_finish(fan->call, CALL_DONE);
	fanout_destroy(fan);
}

/* Ask every worker for its census. */
static enum call_status method_census_exec(struct call *call)
{
	fanout_send(
	    fanout_create(call->srv, call, WCMD_CENSUS, method_census_done));
	return CALL_ASYNC;
}

const struct method_entry method_census_entry = {
    .name = "io.reclaim.Census",
    .params = "() -> (types: []TypeCount, objects: int, bytes: int)",
    .changes_state = false,
    .exec = method_census_exec,
};
