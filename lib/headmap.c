/*
 * A map from object headers to one word, for what few objects carry: the
 * first of their weak references (weakref.c), the bytes they own outside
 * the heap (heap.c). Open addressing with linear probing, at most half
 * full, so a probe is short; an entry removed shifts back those after it
 * (no tombstones). The objects that have an entry say so in their flags
 * (F_WEAK, F_OWNED): the others never look here.
 */
#include <string.h>

#include "internal.h"

/* Where key's probe starts. */
static size_t home(const rcl_headmap *m, const rcl_head *key)
{
	return ((uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ULL & (m->cap - 1);
}

/* The slot of key in the map: where it is, or the empty slot ending its
 * probe. */
size_t headmap_slot(const rcl_headmap *m, const rcl_head *key)
{
	size_t mask = m->cap - 1, i = home(m, key);

	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

/* Make room for one more key; false if memory is short. */
bool headmap_grow(rcl_heap *h, rcl_headmap *m)
{
	rcl_headmap nm = {NULL, NULL, 0, m->cap ? m->cap * 2 : 16};

	if ((m->n + 1) * 2 <= m->cap)
		return true;
	nm.keys = heap_raw_alloc(h, nm.cap * sizeof(*nm.keys));
	nm.vals = heap_raw_alloc(h, nm.cap * sizeof(*nm.vals));
	if (!nm.keys || !nm.vals) {
		heap_raw_free(h, nm.keys, nm.cap * sizeof(*nm.keys));
		heap_raw_free(h, nm.vals, nm.cap * sizeof(*nm.vals));
		return false;
	}
	memset(nm.keys, 0, nm.cap * sizeof(*nm.keys));
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t j = headmap_slot(&nm, m->keys[i]);

			nm.keys[j] = m->keys[i];
			nm.vals[j] = m->vals[i];
			nm.n++;
		}
	}
	headmap_free(h, m);
	*m = nm;
	return true;
}

/* Add key (not in the map; room made with headmap_grow()) with val. */
void headmap_put(rcl_headmap *m, rcl_head *key, uintptr_t val)
{
	size_t i = headmap_slot(m, key);

	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
}

/* Remove the key at slot i, shifting back the entries of its probe. */
void headmap_remove_at(rcl_headmap *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;

	m->keys[i] = NULL;
	m->n--;
	for (;;) {
		size_t hm;

		j = (j + 1) & mask;
		if (!m->keys[j])
			return;
		hm = home(m, m->keys[j]);
		/* move j back to i unless its home lies in (i, j] */
		if ((j > i && (hm <= i || hm > j)) ||
		    (j < i && hm <= i && hm > j)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->keys[j] = NULL;
			i = j;
		}
	}
}

/* Free the map's memory. */
void headmap_free(rcl_heap *h, rcl_headmap *m)
{
	heap_raw_free(h, m->keys, m->cap * sizeof(*m->keys));
	heap_raw_free(h, m->vals, m->cap * sizeof(*m->vals));
	memset(m, 0, sizeof(*m));
}
