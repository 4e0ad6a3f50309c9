/* org.varlink.service.GetInfo: who we are and which interfaces we serve. */
#include "config.h"
#include "reclaimd.h"

/* Vendor, product, version, interfaces. */
static enum call_status method_get_info_exec(struct call *call)
{
	struct json *reply = call_reply(call), *arr;

	json_add_str(reply, "vendor", "reclaim");
	json_add_str(reply, "product", "reclaimd");
	json_add_str(reply, "version", RECLAIM_VERSION);
	json_add_str(reply, "url", "https://github.com/reclaim/reclaim");
	arr = json_add_array(reply, "interfaces");
	json_add_str(arr, NULL, "org.varlink.service");
	json_add_str(arr, NULL, "io.reclaim");
	return CALL_DONE;
}

const struct method_entry method_get_info_entry = {
    .name = "org.varlink.service.GetInfo",
    .params = "() -> (vendor: string, product: string, version: string, "
	      "url: string, interfaces: []string)",
    .changes_state = false,
    .exec = method_get_info_exec,
};
