/*
 * Allocation sites: while a heap records them, each new object is entered
 * in a map from its header to an entry for (site, label, type), which
 * counts the live objects made there (rcl_heap_site_census()); the object
 * carries F_SITE, so that freeing it takes the slow path, which forgets it.
 *
 * The usual paths are untouched: while recording, every tinfo's cls is -1,
 * which rcl_new()'s fast path already tests (a type not pooled), so every
 * allocation goes to new_object() and records there; F_SITE is one more bit
 * in the masks that rcl_dealloc() and the collector test already. Off, no
 * object has F_SITE and no tinfo has its cls changed: nothing is left.
 *
 * Bounds: max_objects recorded objects (the map holds at most twice as
 * many slots, 16 bytes each) and RCL_SITES_MAX entries; what would pass
 * them is not recorded, and counted.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

typedef struct site_entry {
	const rcl_site *site;
	const char *label;
	const rcl_type *type;
	size_t objects;
	size_t bytes;
} site_entry;

struct rcl_sites {
	size_t max_objects;
	rcl_headmap map; /* header -> its site_entry */
	site_entry *entries;
	size_t nentries;
	uint32_t *index; /* open addressing: entry number + 1, or 0 */
	uint64_t unrecorded;
};

#define INDEX_SLOTS (RCL_SITES_MAX * 2)

/* Set every tinfo's cls: -1 while recording, its pool class otherwise. */
static void sites_route(rcl_heap *h, bool recording)
{
	for (size_t i = 0; i < h->types_cap; i++) {
		if (h->types[i])
			h->types[i]->cls = recording ? -1 : h->types[i]->pool_cls;
	}
	h->last_ti = NULL;
}

/* Where the entry for (site, label, type) is, or the empty slot for it. */
static size_t index_slot(const struct rcl_sites *s, const rcl_site *site,
			 const char *label, const rcl_type *type)
{
	uint64_t k = (uintptr_t)site ^ ((uintptr_t)label << 7) ^
		     ((uintptr_t)type << 13);
	size_t i = (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 40) &
		   (INDEX_SLOTS - 1);
	const site_entry *e;

	while (s->index[i]) {
		e = &s->entries[s->index[i] - 1];
		if (e->site == site && e->label == label && e->type == type)
			break;
		i = (i + 1) & (INDEX_SLOTS - 1);
	}
	return i;
}

/* The entry for (site, label, type), made if missing; NULL when full. */
static site_entry *sites_entry(struct rcl_sites *s, const rcl_site *site,
			       const char *label, const rcl_type *type)
{
	size_t i = index_slot(s, site, label, type);
	site_entry *e;

	if (s->index[i])
		return &s->entries[s->index[i] - 1];
	if (s->nentries == RCL_SITES_MAX)
		return NULL;
	e = &s->entries[s->nentries++];
	*e = (site_entry){site, label, type, 0, 0};
	s->index[i] = (uint32_t)s->nentries;
	return e;
}

/* Record o, of block bytes, made at site under the heap's label. Past a
 * bound, or out of memory for the map, it goes unrecorded. */
void sites_record(rcl_heap *h, rcl_head *o, const rcl_site *site,
		  size_t block)
{
	struct rcl_sites *s = h->sites;
	site_entry *e;

	if (s->map.n >= s->max_objects || !headmap_grow(h, &s->map) ||
	    !(e = sites_entry(s, site, h->label, o->ti->type))) {
		s->unrecorded++;
		return;
	}
	headmap_put(&s->map, o, (uintptr_t)e);
	e->objects++;
	e->bytes += block;
	o->flags |= F_SITE;
}

/* o (with F_SITE) is being freed: take it out of its entry's counts. */
void sites_forget(rcl_heap *h, rcl_head *o)
{
	struct rcl_sites *s = h->sites;
	size_t i = headmap_slot(&s->map, o);
	site_entry *e = (site_entry *)s->map.vals[i];

	e->objects--;
	e->bytes -= head_block(o);
	headmap_remove_at(&s->map, i);
	o->flags &= ~(uint32_t)F_SITE;
}

/* Forget every record and free the memory: recording is off. */
void sites_free(rcl_heap *h)
{
	struct rcl_sites *s = h->sites;

	if (!s)
		return;
	for (size_t i = 0; i < s->map.cap; i++) {
		if (s->map.keys[i])
			s->map.keys[i]->flags &= ~(uint32_t)F_SITE;
	}
	headmap_free(h, &s->map);
	heap_raw_free(h, s->entries, RCL_SITES_MAX * sizeof(*s->entries));
	heap_raw_free(h, s->index, INDEX_SLOTS * sizeof(*s->index));
	heap_raw_free(h, s, sizeof(*s));
	h->sites = NULL;
	sites_route(h, false);
}

/* Start recording, bounded by max_objects, or stop (0). */
int rcl_heap_record_sites(rcl_heap *h, size_t max_objects)
{
	struct rcl_sites *s;

	if (!h) {
		errno = EINVAL;
		return -1;
	}
	HEAP_CHECK_OWNER(h);
	if (max_objects == 0) {
		sites_free(h);
		return 0;
	}
	if (h->sites) {
		h->sites->max_objects = max_objects;
		return 0;
	}
	s = heap_raw_alloc(h, sizeof(*s));
	if (!s)
		goto oom;
	memset(s, 0, sizeof(*s));
	s->max_objects = max_objects;
	s->entries = heap_raw_alloc(h, RCL_SITES_MAX * sizeof(*s->entries));
	s->index = heap_raw_alloc(h, INDEX_SLOTS * sizeof(*s->index));
	if (!s->entries || !s->index) {
		heap_raw_free(h, s->entries,
			      RCL_SITES_MAX * sizeof(*s->entries));
		heap_raw_free(h, s->index, INDEX_SLOTS * sizeof(*s->index));
		heap_raw_free(h, s, sizeof(*s));
		goto oom;
	}
	memset(s->index, 0, INDEX_SLOTS * sizeof(*s->index));
	h->sites = s;
	sites_route(h, true);
	return 0;
oom:
	errno = ENOMEM;
	return -1;
}

const char *rcl_heap_set_label(rcl_heap *h, const char *label)
{
	const char *old;

	if (!h)
		return NULL;
	old = h->label;
	h->label = label;
	return old;
}

bool rcl_object_site(const void *obj, const rcl_site **site,
		     const char **label)
{
	const rcl_head *o;
	const struct rcl_sites *s;
	const site_entry *e;

	if (!obj || !(HEAD(obj)->flags & F_SITE))
		return false;
	o = HEAD(obj);
	s = o->ti->heap->sites;
	e = (const site_entry *)s->map.vals[headmap_slot(&s->map, o)];
	if (site)
		*site = e->site;
	if (label)
		*label = e->label;
	return true;
}

void rcl_heap_sites_info(const rcl_heap *h, rcl_sites_info *out)
{
	const struct rcl_sites *s = h ? h->sites : NULL;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->on = true;
	out->max_objects = s->max_objects;
	out->objects = s->map.n;
	out->sites = s->nentries;
	out->bytes = sizeof(*s) + RCL_SITES_MAX * sizeof(*s->entries) +
		     INDEX_SLOTS * sizeof(*s->index) +
		     s->map.cap * (sizeof(*s->map.keys) + sizeof(*s->map.vals));
	out->unrecorded_total = s->unrecorded;
}

size_t rcl_heap_site_census(const rcl_heap *h, rcl_site_census *out,
			    size_t max)
{
	const struct rcl_sites *s = h ? h->sites : NULL;
	size_t n = 0;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->nentries; i++) {
		const site_entry *e = &s->entries[i];

		if (e->objects == 0)
			continue;
		if (n < max)
			out[n] = (rcl_site_census){e->site, e->label, e->type,
						   e->objects, e->bytes};
		n++;
	}
	return n;
}
