/*
 * org.varlink.service.GetInterfaceDescription: an interface's IDL text.
 * org.varlink.service is the specification's, but for the reason every
 * error of reclaimd's carries (call_error): declared ?nullable, so that a
 * peer checking replies against the description finds it declared, and
 * one that knows only the specification's fields loses nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "reclaimd.h"

static const char method_varlink_service[] =
    "# The Varlink Service Interface is provided by every varlink service.\n"
    "interface org.varlink.service\n"
    "\n"
    "method GetInfo() -> (vendor: string, product: string, version: "
    "string, url: string, interfaces: []string)\n"
    "method GetInterfaceDescription(interface: string) -> (description: "
    "string)\n"
    "# reclaimd adds to each error a reason, for a person to read.\n"
    "error InterfaceNotFound (interface: string, reason: ?string)\n"
    "error MethodNotFound (method: string, reason: ?string)\n"
    "error MethodNotImplemented (method: string, reason: ?string)\n"
    "error InvalidParameter (parameter: string, reason: ?string)\n";

/* The description of io.reclaim or org.varlink.service. */
static enum call_status method_get_interface_description_exec(struct call *call)
{
	const char *iface;
	char *text;
	int rc;

	iface = call_param_str(call, "interface", &rc);
	if (rc < 0)
		return CALL_ERROR;
	if (iface == NULL)
		return call_invalid(call, "interface", "interface is required");
	if (strcmp(iface, "org.varlink.service") == 0) {
		json_add_str(call_reply(call), "description",
			     method_varlink_service);
		return CALL_DONE;
	}
	if (strcmp(iface, "io.reclaim") != 0) {
		call_error(call, "org.varlink.service.InterfaceNotFound",
			   "no interface %s", iface);
		json_add_str(call->reply, "interface", iface);
		return CALL_ERROR;
	}
	text = method_interface_description();
	if (text == NULL)
		return call_oom(call);
	json_add_str(call_reply(call), "description", text);
	free(text);
	return CALL_DONE;
}

const struct method_entry method_get_interface_description_entry = {
    .name = "org.varlink.service.GetInterfaceDescription",
    .params = "(interface: string) -> (description: string)",
    .changes_state = false,
    .exec = method_get_interface_description_exec,
};
