/* Census: live objects and bytes by type, over every worker's heap. */
#include "census.h"
#include "reclaimd.h"

/* Every worker answered: merge and reply. */
static void method_census_done(struct fanout *fan)
{
	enum call_status st = CALL_DONE;
	struct census c;

	if (census_merge(fan, &c) != 0)
		st = call_oom(fan->call);
	else
		census_to_json(&c, call_reply(fan->call));
	census_finish(&c);
	call_finish(fan->call, st);
	fanout_destroy(fan);
}

/* Ask every worker for its census. */
static enum call_status method_census_exec(struct call *call)
{
	return census_call(call, method_census_done, 0);
}

const struct method_entry method_census_entry = {
    .name = "io.reclaim.Census",
    .params = "() -> (types: []TypeCount, objects: int, bytes: int, "
	      "sites: []SiteCount)",
    .changes_state = false,
    .exec = method_census_exec,
};
