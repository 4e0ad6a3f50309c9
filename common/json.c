/* JSON values: a thin, typed layer over cJSON. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define AS_C(j) ((cJSON *)(j))
#define AS_J(c) ((struct json *)(c))

/*
 * A value a builder could not add to (out of memory) carries this mark in
 * cJSON's type, above the bits cJSON uses (its checks mask with 0xff, and
 * cJSON_Duplicate keeps it). json_print refuses a tree with a mark
 * anywhere, so a reply missing a member is never sent as if it were whole.
 */
#define JSON_BROKEN (1 << 12)

/* Parse text; NULL if it is not one complete JSON value. */
struct json *json_parse(const char *text)
{
	const char *end = NULL;
	cJSON *c;

	c = cJSON_ParseWithOpts(text, &end, 1);
	return AS_J(c);
}

/* A new empty object. */
struct json *json_object(void)
{
	return AS_J(cJSON_CreateObject());
}

/* A new empty array. */
struct json *json_array(void)
{
	return AS_J(cJSON_CreateArray());
}

/* Free a value and its children; NULL is a no-op. */
void json_destroy(struct json *j)
{
	cJSON_Delete(AS_C(j));
}

/* Whether a builder failed anywhere in the tree under c. */
static bool json_broken(const cJSON *c)
{
	for (; c != NULL; c = c->next) {
		if ((c->type & JSON_BROKEN) || json_broken(c->child))
			return true;
	}
	return false;
}

/* Whether a builder ran out of memory anywhere in j (NULL: it did). */
bool json_failed(const struct json *j)
{
	return j == NULL || (AS_C(j)->type & JSON_BROKEN) ||
	       json_broken(AS_C(j)->child);
}

/* Render a value as text (malloc'd); NULL if out of memory, now or while
 * the value was built. */
char *json_print(const struct json *j, bool pretty)
{
	if (j == NULL || json_broken(AS_C(j)))
		return NULL;
	if (pretty)
		return cJSON_Print(AS_C(j));
	return cJSON_PrintUnformatted(AS_C(j));
}

/* A deep copy. */
struct json *json_copy(const struct json *j)
{
	return AS_J(cJSON_Duplicate(AS_C(j), 1));
}

/*
 * Attach child under key (objects) or at the end (arrays). A NULL child (its
 * creation ran out of memory) or a failed attach marks parent broken, and
 * the child is freed (false): the one place builders meet allocation
 * failure.
 */
bool json_attach(struct json *parent, const char *key, struct json *child)
{
	bool ok;

	if (parent == NULL) {
		cJSON_Delete(AS_C(child));
		return false;
	}
	if (child == NULL)
		ok = false;
	else if (cJSON_IsArray(AS_C(parent)))
		ok = cJSON_AddItemToArray(AS_C(parent), AS_C(child));
	else
		ok = cJSON_AddItemToObject(AS_C(parent), key, AS_C(child));
	if (!ok) {
		cJSON_Delete(AS_C(child));
		AS_C(parent)->type |= JSON_BROKEN;
	}
	return ok;
}

/* Add and return a new object; NULL (parent marked) if out of memory. */
struct json *json_add_object(struct json *parent, const char *key)
{
	struct json *o;

	if (parent == NULL)
		return NULL;
	o = json_object();
	return json_attach(parent, key, o) ? o : NULL;
}

/* Add and return a new array; NULL (parent marked) if out of memory. */
struct json *json_add_array(struct json *parent, const char *key)
{
	struct json *a;

	if (parent == NULL)
		return NULL;
	a = json_array();
	return json_attach(parent, key, a) ? a : NULL;
}

/* Add an unsigned integer, printed exactly. */
void json_add_u64(struct json *parent, const char *key, uint64_t v)
{
	char buf[32];

	if (parent == NULL)
		return;
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	json_attach(parent, key, AS_J(cJSON_CreateRaw(buf)));
}

/* Add a signed integer, printed exactly. */
void json_add_i64(struct json *parent, const char *key, int64_t v)
{
	char buf[32];

	if (parent == NULL)
		return;
	snprintf(buf, sizeof buf, "%" PRId64, v);
	json_attach(parent, key, AS_J(cJSON_CreateRaw(buf)));
}

/* Add a number. */
void json_add_double(struct json *parent, const char *key, double v)
{
	if (parent != NULL)
		json_attach(parent, key, AS_J(cJSON_CreateNumber(v)));
}

/* Add a string; NULL adds null. */
void json_add_str(struct json *parent, const char *key, const char *v)
{
	if (parent == NULL)
		return;
	if (v == NULL)
		json_attach(parent, key, AS_J(cJSON_CreateNull()));
	else
		json_attach(parent, key, AS_J(cJSON_CreateString(v)));
}

/* Add a boolean. */
void json_add_bool(struct json *parent, const char *key, bool v)
{
	if (parent != NULL)
		json_attach(parent, key, AS_J(cJSON_CreateBool(v)));
}

/* The type of a value; raw numbers we built count as numbers. */
enum json_type json_type(const struct json *j)
{
	const cJSON *c = AS_C(j);

	if (c == NULL)
		return JSON_INVALID;
	if (cJSON_IsNull(c))
		return JSON_NULL;
	if (cJSON_IsBool(c))
		return JSON_BOOL;
	if (cJSON_IsNumber(c) || cJSON_IsRaw(c))
		return JSON_NUMBER;
	if (cJSON_IsString(c))
		return JSON_STRING;
	if (cJSON_IsArray(c))
		return JSON_ARRAY;
	if (cJSON_IsObject(c))
		return JSON_OBJECT;
	return JSON_INVALID;
}

/* A name for the type, for error messages. */
const char *json_type_name(const struct json *j)
{
	static const char *names[] = {"nothing", "null",  "bool",  "number",
				      "string",	 "array", "object"};

	return names[json_type(j)];
}

/* The member key of an object, or NULL. */
struct json *json_get(const struct json *obj, const char *key)
{
	if (!cJSON_IsObject(AS_C(obj)))
		return NULL;
	return AS_J(cJSON_GetObjectItemCaseSensitive(AS_C(obj), key));
}

/* Follow a dotted path such as "heap.objects". */
struct json *json_path(const struct json *obj, const char *dotted)
{
	char key[128];
	const char *dot;
	size_t n;

	while ((dot = strchr(dotted, '.')) != NULL) {
		n = (size_t)(dot - dotted);
		if (n >= sizeof key)
			return NULL;
		memcpy(key, dotted, n);
		key[n] = '\0';
		obj = json_get(obj, key);
		dotted = dot + 1;
	}
	return json_get(obj, dotted);
}

/* Members of an object or elements of an array. */
size_t json_size(const struct json *j)
{
	if (!cJSON_IsArray(AS_C(j)) && !cJSON_IsObject(AS_C(j)))
		return 0;
	return (size_t)cJSON_GetArraySize(AS_C(j));
}

/* Element i of an array. */
struct json *json_at(const struct json *arr, size_t i)
{
	if (!cJSON_IsArray(AS_C(arr)) || i > INT32_MAX)
		return NULL;
	return AS_J(cJSON_GetArrayItem(AS_C(arr), (int)i));
}

/* The first member or element, to iterate with json_next. */
struct json *json_child(const struct json *j)
{
	if (!cJSON_IsArray(AS_C(j)) && !cJSON_IsObject(AS_C(j)))
		return NULL;
	return AS_J(AS_C(j)->child);
}

/* The next sibling. */
struct json *json_next(const struct json *j)
{
	return j == NULL ? NULL : AS_J(AS_C(j)->next);
}

/* The key of an object member. */
const char *json_key(const struct json *j)
{
	return j == NULL ? NULL : AS_C(j)->string;
}

/* The value of a number as a double (raw numbers are parsed). */
bool json_as_double(const struct json *j, double *out)
{
	const cJSON *c = AS_C(j);
	char *end;

	if (cJSON_IsNumber(c)) {
		*out = c->valuedouble;
		return true;
	}
	if (cJSON_IsRaw(c)) {
		*out = strtod(c->valuestring, &end);
		return *end == '\0';
	}
	return false;
}

/* A non-negative integer. */
bool json_as_u64(const struct json *j, uint64_t *out)
{
	const cJSON *c = AS_C(j);
	double d;

	if (cJSON_IsRaw(c) && c->valuestring[0] != '-') {
		*out = strtoull(c->valuestring, NULL, 10);
		return true;
	}
	if (!json_as_double(j, &d) || d < 0 || d != floor(d) || d >= 0x1p64)
		return false;
	*out = (uint64_t)d;
	return true;
}

/* An integer. */
bool json_as_i64(const struct json *j, int64_t *out)
{
	const cJSON *c = AS_C(j);
	double d;

	if (cJSON_IsRaw(c)) {
		*out = strtoll(c->valuestring, NULL, 10);
		return true;
	}
	if (!json_as_double(j, &d) || d != floor(d) || d >= 0x1p63 ||
	    d < -0x1p63)
		return false;
	*out = (int64_t)d;
	return true;
}

/* A boolean. */
bool json_as_bool(const struct json *j, bool *out)
{
	if (!cJSON_IsBool(AS_C(j)))
		return false;
	*out = cJSON_IsTrue(AS_C(j));
	return true;
}

/* A string, or NULL. */
const char *json_as_str(const struct json *j)
{
	if (!cJSON_IsString(AS_C(j)))
		return NULL;
	return AS_C(j)->valuestring;
}

/* The integer at a dotted path, 0 when absent. */
uint64_t json_path_u64(const struct json *obj, const char *dotted)
{
	uint64_t v = 0;

	if (!json_as_u64(json_path(obj, dotted), &v))
		return 0;
	return v;
}

/* The integer value of j, 0 when it is not one. */
uint64_t json_u64(const struct json *j)
{
	uint64_t v = 0;

	if (!json_as_u64(j, &v))
		return 0;
	return v;
}

/* Whether text, valid JSON, escapes a NUL (\u0000) in a string: cJSON
 * decodes it into the C string, which then ends there, so
 * "io.reclaim.Stats\u0000garbage" would read as "io.reclaim.Stats". */
bool json_text_has_nul(const char *text)
{
	bool in = false;
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (!in)
			in = *p == '"';
		else if (*p == '"')
			in = false;
		else if (*p == '\\' && p[1] == 'u' &&
			 strncmp(p + 2, "0000", 4) == 0)
			return true;
		else if (*p == '\\' && p[1] != '\0')
			p++; /* the escaped character */
	}
	return false;
}

/* strcmp on the keys two cJSON pointers point to, for qsort. */
static int key_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string,
		      (*(const cJSON *const *)b)->string);
}

/* The first key c's own members repeat, sorted (n log n: a 64 KiB message
 * has some 10,000 keys), in *dup; -1 if out of memory. */
static int object_duplicate(const cJSON *c, const char **dup)
{
	const cJSON *m, **keys;
	size_t n = 0, i;

	for (m = c->child; m != NULL; m = m->next)
		n++;
	if (n < 2)
		return 0;
	keys = malloc(n * sizeof *keys);
	if (keys == NULL)
		return -1;
	for (i = 0, m = c->child; m != NULL; m = m->next)
		keys[i++] = m;
	qsort(keys, n, sizeof *keys, key_cmp);
	for (i = 1; i < n && *dup == NULL; i++) {
		if (strcmp(keys[i - 1]->string, keys[i]->string) == 0)
			*dup = keys[i]->string;
	}
	free(keys);
	return 0;
}

/* A key that some object in j holds twice, in *dup (NULL: none), so that
 * a reader never takes one of two values by its position; -1 if out of
 * memory. Depth is bounded by cJSON's nesting limit. */
int json_duplicate_key(const struct json *j, const char **dup)
{
	const cJSON *c = AS_C(j), *m;

	*dup = NULL;
	if (cJSON_IsObject(c) && object_duplicate(c, dup) != 0)
		return -1;
	for (m = c->child; m != NULL && *dup == NULL &&
			   (cJSON_IsObject(c) || cJSON_IsArray(c));
	     m = m->next) {
		if (json_duplicate_key(AS_J(m), dup) != 0)
			return -1;
	}
	return 0;
}
