/*
 * varlink messages: parse and build calls and replies. Nothing here stops
 * the program for memory: a parse that fails leaves *cause NULL when even
 * the reason could not be allocated, and the encoders return NULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "varlink.h"

/*
 * Parse a JSON object message; cause says why not. Stricter than cJSON: a
 * string may not hold \u0000 (the C string would end there, so a method
 * name could carry a tail the check never saw) and no object may hold a
 * key twice (cJSON keeps both, and a reader would take the first).
 */
static struct json *parse_object(const char *text, char **cause)
{
	const char *dup = NULL;
	struct json *j;

	j = json_parse(text);
	if (j == NULL) {
		*cause = strdup("message is not valid JSON");
		return NULL;
	}
	if (json_type(j) != JSON_OBJECT)
		*cause = strdup("message is not a JSON object");
	else if (json_text_has_nul(text))
		*cause = strdup("a string holds \\u0000 (NUL)");
	else if (json_duplicate_key(j, &dup) != 0)
		*cause = NULL; /* out of memory */
	else if (dup == NULL)
		return j;
	else if (asprintf(cause, "duplicate key \"%s\"", dup) < 0)
		*cause = NULL;
	json_destroy(j);
	return NULL;
}

/* Read an optional boolean member. */
static int get_flag(struct json *j, const char *key, bool *out, char **cause)
{
	struct json *v = json_get(j, key);

	*out = false;
	if (v == NULL || json_as_bool(v, out))
		return 0;
	if (asprintf(cause, "\"%s\" must be a boolean", key) < 0)
		*cause = NULL;
	return -1;
}

/* Check that parameters, when present, are an object. */
static int get_params(struct varlink_msg *m, char **cause)
{
	m->params = json_get(m->msg, "parameters");
	if (m->params == NULL || json_type(m->params) == JSON_OBJECT)
		return 0;
	if (json_type(m->params) == JSON_NULL) {
		m->params = NULL;
		return 0;
	}
	*cause = strdup("\"parameters\" must be an object");
	return -1;
}

/* Parse a call: {"method": "...", "parameters": {...}, "oneway", "more"}. */
int varlink_parse_call(const char *text, struct varlink_msg *m, char **cause)
{
	memset(m, 0, sizeof *m);
	m->msg = parse_object(text, cause);
	if (m->msg == NULL)
		return -1;
	m->method = json_as_str(json_get(m->msg, "method"));
	if (m->method == NULL) {
		*cause = strdup("\"method\" must be a string");
		goto bad;
	}
	if (get_params(m, cause) != 0 ||
	    get_flag(m->msg, "oneway", &m->oneway, cause) != 0 ||
	    get_flag(m->msg, "more", &m->more, cause) != 0)
		goto bad;
	return 0;
bad:
	varlink_msg_finish(m);
	return -1;
}

/* Parse a reply: {"parameters": {...}} or {"error": "...", ...}. */
int varlink_parse_reply(const char *text, struct varlink_msg *m, char **cause)
{
	struct json *e;

	memset(m, 0, sizeof *m);
	m->msg = parse_object(text, cause);
	if (m->msg == NULL)
		return -1;
	e = json_get(m->msg, "error");
	if (e != NULL && (m->error = json_as_str(e)) == NULL) {
		*cause = strdup("\"error\" must be a string");
		goto bad;
	}
	if (get_params(m, cause) != 0 ||
	    get_flag(m->msg, "continues", &m->continues, cause) != 0)
		goto bad;
	return 0;
bad:
	varlink_msg_finish(m);
	return -1;
}

/* Free a parsed message. */
void varlink_msg_finish(struct varlink_msg *m)
{
	json_destroy(m->msg);
	memset(m, 0, sizeof *m);
}

/* The text of a call (without its NUL); more: the caller takes several
 * replies (varlink's "more"), each but the last marked "continues". */
char *varlink_encode_call(const char *method, const struct json *params,
			  bool more)
{
	struct json *j = json_object();
	char *s;

	json_add_str(j, "method", method);
	json_attach(j, "parameters",
		    params ? json_copy(params) : json_object());
	if (more)
		json_add_bool(j, "more", true);
	s = json_print(j, false);
	json_destroy(j);
	return s;
}

/* The text of a reply, or of an error reply when error is set; continues:
 * more replies to the same call follow (only to a call with "more"). */
char *varlink_encode_reply(const struct json *params, const char *error,
			   bool continues)
{
	struct json *j = json_object();
	char *s;

	if (error != NULL)
		json_add_str(j, "error", error);
	json_attach(j, "parameters",
		    params ? json_copy(params) : json_object());
	if (continues)
		json_add_bool(j, "continues", true);
	s = json_print(j, false);
	json_destroy(j);
	return s;
}
