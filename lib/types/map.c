/*
 * map: string keys to references, by open addressing with linear probing.
 *
 * The table has a power-of-two number of slots. A slot is empty (key NULL),
 * live, or a tombstone (key == tombstone) left by a delete so that probes
 * continue past it. The table grows (and drops its tombstones) when live
 * plus tombstone slots would pass 3/4 of it, to twice the live entries, so a
 * probe stays short. Keys are copied into owned memory; the table too.
 *
 * The values are an array of their own, beside the slots (one block: the
 * values, then the slots), NULL where no entry is: the type describes it
 * (RCL_REF_VECTOR), so the collector walks it with no call per value, and
 * an incremental pass a slice at a time, however large the map. Its
 * traverse stays, for the reports: each value with its key as the name.
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <reclaim/types.h>

#define MAP_MIN_CAP 8

struct map_slot {
	char *key;
	size_t hash;
	size_t key_size; /* strlen + 1: what rcl_owned_free needs back */
};

struct rcl_map {
	void **values; /* cap of them; then the slots, in the same block */
	struct map_slot *slots;
	size_t cap;  /* slots, 0 or a power of two */
	size_t len;  /* live entries */
	size_t used; /* live entries and tombstones */
};

static char tombstone[1];

/* A live slot holds a key that is neither NULL nor the tombstone. */
static bool slot_live(const struct map_slot *s)
{
	return s->key != NULL && s->key != tombstone;
}

/* FNV-1a with a final mix, so that linear probing sees well-spread bits. */
static size_t map_hash(const char *key, size_t *key_size)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t x = 0xcbf29ce484222325ULL;

	while (*p != '\0')
		x = (x ^ *p++) * 0x100000001b3ULL;
	*key_size = (size_t)(p - (const unsigned char *)key) + 1;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

/* The slot holding key, or NULL. */
static struct map_slot *map_find(const struct rcl_map *m, const char *key,
				 size_t hash)
{
	size_t mask = m->cap - 1, i;

	if (m->cap == 0)
		return NULL;
	for (i = hash & mask;; i = (i + 1) & mask) {
		struct map_slot *s = &m->slots[i];

		if (s->key == NULL)
			return NULL;
		if (s->key != tombstone && s->hash == hash &&
		    strcmp(s->key, key) == 0)
			return s;
	}
}

/* The first free slot (empty or tombstone) on hash's probe sequence. */
static struct map_slot *map_free_slot(const struct rcl_map *m, size_t hash)
{
	size_t mask = m->cap - 1, i;

	for (i = hash & mask;; i = (i + 1) & mask) {
		if (!slot_live(&m->slots[i]))
			return &m->slots[i];
	}
}

/* The bytes of a table of cap slots: the values, then the slots. */
static size_t table_bytes(size_t cap)
{
	return cap * (sizeof(void *) + sizeof(struct map_slot));
}

/* Visit each value, with its key as the field name (reports). */
static void map_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct rcl_map *m = self;
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (slot_live(&m->slots[i]) && m->values[i] != NULL)
			visit(m->values[i], m->slots[i].key, arg);
	}
}

/* Drop every entry and the table; the map is emptied before any decref, so
 * a finalizer that decref runs sees an empty map. Idempotent. */
static void map_clear(void *self)
{
	struct rcl_map *m = self;
	struct map_slot *slots = m->slots;
	void **values = m->values;
	size_t cap = m->cap, i;

	m->values = NULL;
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
	m->used = 0;
	for (i = 0; i < cap; i++) {
		struct map_slot *s = &slots[i];

		if (!slot_live(s))
			continue;
		rcl_owned_free(m, s->key, s->key_size);
		rcl_decref(values[i]);
	}
	if (values != NULL)
		rcl_owned_free(m, values, table_bytes(cap));
}

const rcl_type rcl_map_type = {
    .name = "map",
    .size = sizeof(struct rcl_map),
    .traverse = map_traverse,
    .clear = map_clear,
    RCL_REFS(RCL_REF_VECTOR(struct rcl_map, values, cap)),
    /* At free, clear runs first; this catches what was stored since. */
    .destroy = map_clear,
};

/* Rebuild the table with room for one more entry at under 3/4 load; 0, or
 * -1 with ENOMEM and the map unchanged. */
static int map_grow(struct rcl_map *m)
{
	struct map_slot *old;
	void **values, **old_values;
	size_t cap = MAP_MIN_CAP, old_cap, i;

	while (cap / 2 < m->len + 1) {
		if (cap > SIZE_MAX / 2 / table_bytes(1)) {
			errno = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	/* May collect and run finalizers: read the map only afterwards (and
	 * the caller checks the load again). */
	values = rcl_owned_alloc(m, table_bytes(cap));
	if (values == NULL) {
		errno = ENOMEM;
		return -1;
	}
	old = m->slots;
	old_values = m->values;
	old_cap = m->cap;
	if (m->len + 1 > cap / 2 + cap / 4) {
		rcl_owned_free(m, values, table_bytes(cap));
		return 0;
	}
	memset(values, 0, table_bytes(cap));
	/* no allocation from here on: a collection sees the old table or
	 * the new one, whole */
	m->values = values;
	m->slots = (struct map_slot *)(values + cap);
	m->cap = cap;
	m->used = m->len;
	for (i = 0; i < old_cap; i++) {
		struct map_slot *s;

		if (!slot_live(&old[i]))
			continue;
		s = map_free_slot(m, old[i].hash);
		*s = old[i];
		m->values[s - m->slots] = old_values[i];
	}
	if (old_values != NULL)
		rcl_owned_free(m, old_values, table_bytes(old_cap));
	return 0;
}

/* Whether one more entry would pass 3/4 of the table. */
static bool map_full(const struct rcl_map *m)
{
	return (m->used + 1) * 4 > m->cap * 3;
}

/* An empty map, or NULL. */
rcl_map *rcl_map_new_at(rcl_heap *h, const rcl_site *site)
{
	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return rcl_new_at(h, &rcl_map_type, site);
}

/* Replace the value of key, which exists at s; the old value is decrefed
 * last. */
static void map_replace(struct rcl_map *m, struct map_slot *s, void *value)
{
	void **at = &m->values[s - m->slots], *old = *at;

	rcl_incref(value);
	*at = value;
	rcl_decref(old);
}

/* Map key (copied) to value (increfed); 0, or -1 with errno and the map
 * unchanged. */
int rcl_map_set(rcl_map *m, const char *key, void *value)
{
	struct map_slot *s;
	size_t hash, key_size;
	char *copy;

	if (m == NULL || key == NULL) {
		errno = EINVAL;
		return -1;
	}
	hash = map_hash(key, &key_size);
	s = map_find(m, key, hash);
	if (s != NULL) {
		map_replace(m, s, value);
		return 0;
	}
	/* Each allocation may run finalizers that change the map, so nothing
	 * found before one is trusted after it. */
	copy = rcl_owned_alloc(m, key_size);
	if (copy == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(copy, key, key_size);
	while (map_full(m)) {
		if (map_grow(m) < 0) {
			rcl_owned_free(m, copy, key_size);
			return -1;
		}
	}
	s = map_find(m, key, hash);
	if (s != NULL) {
		rcl_owned_free(m, copy, key_size);
		map_replace(m, s, value);
		return 0;
	}
	s = map_free_slot(m, hash);
	if (s->key == NULL)
		m->used++;
	rcl_incref(value);
	*s = (struct map_slot){copy, hash, key_size};
	m->values[s - m->slots] = value;
	m->len++;
	return 0;
}

/* The value of key, borrowed; NULL with ENOENT when absent (or EINVAL). */
void *rcl_map_get(const rcl_map *m, const char *key)
{
	struct map_slot *s;
	size_t key_size;

	if (m == NULL || key == NULL) {
		errno = EINVAL;
		return NULL;
	}
	s = map_find(m, key, map_hash(key, &key_size));
	if (s == NULL) {
		errno = ENOENT;
		return NULL;
	}
	return m->values[s - m->slots];
}

/* Whether key is in the map (tells a NULL value from an absent key). */
bool rcl_map_contains(const rcl_map *m, const char *key)
{
	size_t key_size;

	if (m == NULL || key == NULL)
		return false;
	return map_find(m, key, map_hash(key, &key_size)) != NULL;
}

/* Remove key and decref its value; 0, or -1 with ENOENT (or EINVAL). */
int rcl_map_del(rcl_map *m, const char *key)
{
	struct map_slot *s;
	size_t key_size;
	void *value;

	if (m == NULL || key == NULL) {
		errno = EINVAL;
		return -1;
	}
	s = map_find(m, key, map_hash(key, &key_size));
	if (s == NULL) {
		errno = ENOENT;
		return -1;
	}
	value = m->values[s - m->slots];
	rcl_owned_free(m, s->key, s->key_size);
	s->key = tombstone;
	m->values[s - m->slots] = NULL;
	m->len--;
	rcl_decref(value);
	return 0;
}

/* The number of entries; 0 for NULL. */
size_t rcl_map_len(const rcl_map *m)
{
	return m != NULL ? m->len : 0;
}

/* Remove every entry (values decrefed) and release the table. */
void rcl_map_clear(rcl_map *m)
{
	if (m != NULL)
		map_clear(m);
}

/* The next entry from *iter (0 to start), in table order; false at the end.
 * key and value may be NULL when not wanted. */
bool rcl_map_next(const rcl_map *m, size_t *iter, const char **key,
		  void **value)
{
	size_t i;

	if (m == NULL || iter == NULL)
		return false;
	for (i = *iter; i < m->cap; i++) {
		const struct map_slot *s = &m->slots[i];

		if (!slot_live(s))
			continue;
		if (key != NULL)
			*key = s->key;
		if (value != NULL)
			*value = m->values[i];
		*iter = i + 1;
		return true;
	}
	*iter = m->cap;
	return false;
}

/* Without a site (see <reclaim/types.h>). */
rcl_map *(rcl_map_new)(rcl_heap *h)
{
	return rcl_map_new_at(h, NULL);
}
