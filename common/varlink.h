/* varlink messages: calls and replies as JSON objects. */
#ifndef RECLAIM_COMMON_VARLINK_H
#define RECLAIM_COMMON_VARLINK_H

#include <stdbool.h>

#include "json.h"

#define VARLINK_INTERFACE "io.reclaim"

/* A parsed call or reply; params and the strings point into msg. */
struct varlink_msg {
	struct json *msg;
	struct json *params; /* NULL when absent */
	const char *method;  /* calls */
	const char *error;   /* replies */
	bool oneway;
	bool more;
	bool continues;
};

int varlink_parse_call(const char *text, struct varlink_msg *m, char **cause);
int varlink_parse_reply(const char *text, struct varlink_msg *m, char **cause);
void varlink_msg_finish(struct varlink_msg *m);
char *varlink_encode_call(const char *method, const struct json *params,
			  bool more);
char *varlink_encode_reply(const struct json *params, const char *error,
			   bool continues);

#endif
