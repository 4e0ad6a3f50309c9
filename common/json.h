/* JSON values for reclaimd and reclaimctl; the only code that sees cJSON. */
#ifndef RECLAIM_COMMON_JSON_H
#define RECLAIM_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json;

/* The largest integer a JSON number carries exactly here: cJSON holds
 * numbers as doubles, so 2^53 + 1 reads as 2^53. A range check should not
 * name a maximum above it, which the number read could not tell apart. */
#define JSON_INT_MAX (((uint64_t)1 << 53) - 1)

enum json_type {
	JSON_INVALID,
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json *json_parse(const char *text);
bool json_text_has_nul(const char *text);
int json_duplicate_key(const struct json *j, const char **dup);
struct json *json_object(void);
struct json *json_array(void);
void json_destroy(struct json *j);
char *json_print(const struct json *j, bool pretty);
struct json *json_copy(const struct json *j);

/* Builders: key is ignored when parent is an array. NULL parents are no-ops. */
struct json *json_add_object(struct json *parent, const char *key);
struct json *json_add_array(struct json *parent, const char *key);
void json_add_u64(struct json *parent, const char *key, uint64_t v);
void json_add_i64(struct json *parent, const char *key, int64_t v);
void json_add_double(struct json *parent, const char *key, double v);
void json_add_str(struct json *parent, const char *key, const char *v);
void json_add_bool(struct json *parent, const char *key, bool v);
bool json_attach(struct json *parent, const char *key, struct json *child);
bool json_failed(const struct json *j);

/* Readers: NULL or false when absent or of another type. */
enum json_type json_type(const struct json *j);
const char *json_type_name(const struct json *j);
struct json *json_get(const struct json *obj, const char *key);
struct json *json_path(const struct json *obj, const char *dotted);
size_t json_size(const struct json *j);
struct json *json_at(const struct json *arr, size_t i);
struct json *json_child(const struct json *j);
struct json *json_next(const struct json *j);
const char *json_key(const struct json *j);
bool json_as_u64(const struct json *j, uint64_t *out);
bool json_as_i64(const struct json *j, int64_t *out);
bool json_as_double(const struct json *j, double *out);
bool json_as_bool(const struct json *j, bool *out);
const char *json_as_str(const struct json *j);
uint64_t json_path_u64(const struct json *obj, const char *dotted);
uint64_t json_u64(const struct json *j);

#endif
