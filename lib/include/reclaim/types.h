/*
 * libreclaim: standard object types, built only on the public heap API.
 *
 * bytes    an immutable-size byte payload owned outside the heap (accounted)
 * list     a growable array of references
 * map      string keys (copied) to references
 * tuple    a fixed-length array of references
 * cell     one mutable reference
 * closure  a function pointer with captured references
 *
 * Conventions, as for the heap: constructors return a new reference (refcount
 * 1) or NULL with errno (ENOMEM, EINVAL); storing a reference increfs it and
 * replacing or removing one decrefs it; getters return borrowed references.
 * A NULL item is allowed in the containers (it stands for "none"); where that
 * makes a NULL result ambiguous, errno tells an error from a NULL item. Calls
 * that fail leave the object unchanged. Types report field names to traverse:
 * "[]" for list and tuple items, the key for map values, "contents" for a
 * cell, "captured" for a closure.
 */
#ifndef RECLAIM_TYPES_H
#define RECLAIM_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include <reclaim/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const rcl_type rcl_bytes_type;
extern const rcl_type rcl_list_type;
extern const rcl_type rcl_map_type;
extern const rcl_type rcl_tuple_type;
extern const rcl_type rcl_cell_type;
extern const rcl_type rcl_closure_type;

/*
 * bytes: len bytes kept outside the heap through rcl_owned_alloc(), so they
 * count against the object for pacing; the object is untracked. The payload
 * is followed by a NUL byte that is not part of len, so text can be read as
 * a C string.
 */
typedef struct rcl_bytes rcl_bytes;
rcl_bytes *rcl_bytes_new(rcl_heap *h, const void *data, size_t len);
rcl_bytes *rcl_bytes_repeat(rcl_heap *h, const void *unit, size_t unit_len,
			    size_t times);
unsigned char *rcl_bytes_data(rcl_bytes *b);
size_t rcl_bytes_len(const rcl_bytes *b);

/* list: the item array is owned memory, counted against the list. */
typedef struct rcl_list rcl_list;
rcl_list *rcl_list_new(rcl_heap *h, size_t capacity);
int rcl_list_append(rcl_list *l, void *item);
void *rcl_list_get(const rcl_list *l, size_t i);
int rcl_list_set(rcl_list *l, size_t i, void *item);
void *rcl_list_pop(rcl_list *l);
size_t rcl_list_len(const rcl_list *l);
void rcl_list_clear(rcl_list *l);

/* map: open addressing; keys are copied into owned memory. */
typedef struct rcl_map rcl_map;
rcl_map *rcl_map_new(rcl_heap *h);
int rcl_map_set(rcl_map *m, const char *key, void *value);
void *rcl_map_get(const rcl_map *m, const char *key);
bool rcl_map_contains(const rcl_map *m, const char *key);
int rcl_map_del(rcl_map *m, const char *key);
size_t rcl_map_len(const rcl_map *m);
void rcl_map_clear(rcl_map *m);
/* Iterate: start with *iter = 0; false at the end. Deleting the entry just
 * returned is allowed; other changes during iteration are not. */
bool rcl_map_next(const rcl_map *m, size_t *iter, const char **key,
		  void **value);

/* tuple: n references fixed at creation, all NULL until set. */
typedef struct rcl_tuple rcl_tuple;
rcl_tuple *rcl_tuple_new(rcl_heap *h, size_t n);
int rcl_tuple_set(rcl_tuple *t, size_t i, void *item);
void *rcl_tuple_get(const rcl_tuple *t, size_t i);
size_t rcl_tuple_len(const rcl_tuple *t);

/* cell: one mutable reference (a captured variable). */
typedef struct rcl_cell rcl_cell;
rcl_cell *rcl_cell_new(rcl_heap *h, void *value);
void *rcl_cell_get(const rcl_cell *c);
void rcl_cell_set(rcl_cell *c, void *value);

/* closure: fn called with the closure itself (to reach what it captured)
 * and the caller's argument. */
typedef struct rcl_closure rcl_closure;
typedef void *(*rcl_closure_fn)(rcl_closure *self, void *arg);
rcl_closure *rcl_closure_new(rcl_heap *h, rcl_closure_fn fn, size_t n,
			     void *const captured[]);
void *rcl_closure_call(rcl_closure *c, void *arg);
void *rcl_closure_captured(const rcl_closure *c, size_t i);
size_t rcl_closure_ncaptured(const rcl_closure *c);

/*
 * The constructors record the caller's site, as rcl_new() does (see
 * <reclaim/heap.h>): their names are macros that pass RCL_SITE to the _at
 * functions, so a payload made by rcl_bytes_repeat() names the line that
 * asked for it, not the library's. The plain functions stay exported.
 */
rcl_bytes *rcl_bytes_new_at(rcl_heap *h, const void *data, size_t len,
			    const rcl_site *site);
rcl_bytes *rcl_bytes_repeat_at(rcl_heap *h, const void *unit,
			       size_t unit_len, size_t times,
			       const rcl_site *site);
rcl_list *rcl_list_new_at(rcl_heap *h, size_t capacity, const rcl_site *site);
rcl_map *rcl_map_new_at(rcl_heap *h, const rcl_site *site);
rcl_tuple *rcl_tuple_new_at(rcl_heap *h, size_t n, const rcl_site *site);
rcl_cell *rcl_cell_new_at(rcl_heap *h, void *value, const rcl_site *site);
rcl_closure *rcl_closure_new_at(rcl_heap *h, rcl_closure_fn fn, size_t n,
				void *const captured[], const rcl_site *site);
#ifndef RCL_NO_SITES
/* The arguments pass through whole: a compound literal's commas too. */
#define rcl_bytes_new(...) rcl_bytes_new_at(__VA_ARGS__, RCL_SITE)
#define rcl_bytes_repeat(...) rcl_bytes_repeat_at(__VA_ARGS__, RCL_SITE)
#define rcl_list_new(...) rcl_list_new_at(__VA_ARGS__, RCL_SITE)
#define rcl_map_new(...) rcl_map_new_at(__VA_ARGS__, RCL_SITE)
#define rcl_tuple_new(...) rcl_tuple_new_at(__VA_ARGS__, RCL_SITE)
#define rcl_cell_new(...) rcl_cell_new_at(__VA_ARGS__, RCL_SITE)
#define rcl_closure_new(...) rcl_closure_new_at(__VA_ARGS__, RCL_SITE)
#endif

#ifdef __cplusplus
}
#endif

#endif
