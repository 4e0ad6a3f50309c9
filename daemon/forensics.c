/*
 * Leak forensics, the write-up's gc.set_debug(gc.DEBUG_LEAK) done for the
 * operator. The observer sees each collection's unreachable set intact,
 * before anything in it is cleared:
 *   group        each object is added to its type's group (count, bytes
 *                with owned payloads and with the untracked objects only it
 *                holds, such as a bytes payload, which die with it), found
 *                through a small hash by type
 *   find_cycle   from each object not yet placed in a cycle, a breadth-first
 *                search inside the garbage finds the shortest way back to it;
 *                the cycle is written through field names, rotated to its
 *                smallest spelling so that every instance of one shape reads
 *                the same, and counted under that shape
 *   attribute    with sites recorded, each object counts under its task (the
 *                heap's label when it was made) and type, and in the
 *                running totals per task; each member of a cycle found
 *                counts under (cycle, task, type, site)
 * Bounds (forensics.h) keep a collection's extra pause proportional to the
 * garbage and capped: a search visits at most FX_SEARCH_NODES objects, all
 * searches of a collection FX_BUDGET_NODES, and a type whose objects keep
 * failing (payloads that are in no cycle) is skipped after FX_TYPE_FAILS.
 * The tables are allocated once: the observer never allocates (it runs
 * inside a collection, perhaps near the memory limit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forensics.h"

#define FX_TYPE_SLOTS (FX_TYPES * 2)
#define FX_VISIT_SLOTS (FX_SEARCH_NODES * 2)
#define FX_COVER_SLOTS (FX_COVERED * 2)
#define FX_CYCLES_PER_COLLECTION 20000
#define FX_PATH 1024
#define FX_OTHER "(other types)"

/* A set of pointers, emptied in O(1) by moving to a new stamp. */
struct fx_seen {
	const void *ptr;
	uint32_t stamp;
};

/* A search node: the object, how it was reached. */
struct fx_node {
	void *obj;
	int32_t parent;
	uint32_t depth;
	const char *field; /* the parent's field that holds obj */
};

/* The strings of a site row, copied: a report outlives no plugin, but is
 * read after the collection. */
struct fx_site_text {
	char task[80];
	char type[64];
	char file[160];
	char func[64];
};

struct forensics {
	/* The report so far; its arrays and strings are the fixed tables
	 * below, so the observer never allocates. */
	struct garbage_report rep;
	struct garbage_totals *totals; /* or NULL */
	struct {
		const char *label;
		const rcl_type *type;
	} task_keys[FX_TASKS];
	char task_text[FX_TASKS][2][80];
	struct {
		uint32_t cycle;
		const char *label;
		const rcl_type *type;
		const rcl_site *site;
	} site_keys[FX_SITES];
	struct fx_site_text site_text[FX_SITES];
	char cycle_of_site[FX_SITES][FX_PATH];
	char names[FX_TYPES][64];
	char paths[FX_SHAPES][FX_PATH];
	struct {
		const rcl_type *type;
		uint32_t idx;
	} tmap[FX_TYPE_SLOTS];
	uint32_t fails[FX_TYPES]; /* this collection's failed searches */
	/* One collection. */
	const rcl_garbage *g;
	uint32_t coll;
	size_t budget;
	size_t ncovered;
	size_t ncycles;
	struct fx_seen covered[FX_COVER_SLOTS];
	/* One search. */
	uint32_t search;
	void *start;
	int32_t closing; /* the node whose edge returns to start, or -1 */
	const char *closing_field;
	size_t cur;
	size_t nnodes;
	struct fx_seen visited[FX_VISIT_SLOTS];
	struct fx_node nodes[FX_SEARCH_NODES];
};

/* Slot of a pointer in an open-addressed table of nslots (a power of 2). */
static size_t fx_hash(const void *p, size_t nslots)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (nslots - 1);
}

/* Add p to a stamped set; false if it was there (or the set is full). */
static bool fx_seen_add(struct fx_seen *set, size_t nslots, uint32_t stamp,
			const void *p)
{
	size_t i = fx_hash(p, nslots), n;

	for (n = 0; n < nslots; n++, i = (i + 1) & (nslots - 1)) {
		if (set[i].stamp != stamp) {
			set[i].ptr = p;
			set[i].stamp = stamp;
			return true;
		}
		if (set[i].ptr == p)
			return false;
	}
	return false;
}

/* Whether p is in a stamped set. */
static bool fx_seen_has(const struct fx_seen *set, size_t nslots,
			uint32_t stamp, const void *p)
{
	size_t i = fx_hash(p, nslots), n;

	for (n = 0; n < nslots; n++, i = (i + 1) & (nslots - 1)) {
		if (set[i].stamp != stamp)
			return false;
		if (set[i].ptr == p)
			return true;
	}
	return false;
}

/* A type's name for reports. */
static const char *fx_name(const void *obj)
{
	const rcl_type *t = rcl_typeof(obj);

	return t != NULL && t->name != NULL ? t->name : "?";
}

/* Append a group named name; its index. */
static uint32_t fx_new_group(struct forensics *fx, const char *name)
{
	struct garbage_report *r = &fx->rep;
	struct garbage_type *t = &r->types[r->ntypes];

	snprintf(fx->names[r->ntypes], sizeof fx->names[0], "%s", name);
	t->type = fx->names[r->ntypes];
	t->count = t->bytes = 0;
	return (uint32_t)r->ntypes++;
}

/* The group of type t (created on first sight; past FX_TYPES, "other"). */
static uint32_t fx_group(struct forensics *fx, const rcl_type *t,
			 const char *name)
{
	size_t i = fx_hash(t, FX_TYPE_SLOTS);

	while (fx->tmap[i].type != NULL) {
		if (fx->tmap[i].type == t)
			return fx->tmap[i].idx;
		i = (i + 1) & (FX_TYPE_SLOTS - 1);
	}
	if (fx->rep.ntypes >= FX_TYPES - 1) {
		fx->rep.truncated = true;
		if (fx->rep.ntypes == FX_TYPES - 1)
			fx_new_group(fx, FX_OTHER);
		return FX_TYPES - 1;
	}
	fx->tmap[i].type = t;
	fx->tmap[i].idx = fx_new_group(fx, name);
	return fx->tmap[i].idx;
}

/* The canonical spelling of the cycle objs[0..k) (fields[i] leads from
 * objs[i] to objs[i+1 mod k]) starting at rotation r. */
static void fx_spell(void **objs, const char **fields, size_t k, size_t r,
		     char *buf)
{
	size_t i, len;

	len = (size_t)snprintf(buf, FX_PATH, "%s", fx_name(objs[r]));
	for (i = 0; i < k && len < FX_PATH; i++) {
		len += (size_t)snprintf(buf + len, FX_PATH - len, " -%s-> %s",
					fields[(r + i) % k],
					fx_name(objs[(r + i + 1) % k]));
	}
}

/* Count one instance of the shape spelled path; its index, or -1 past
 * FX_SHAPES. */
static int fx_count_shape(struct forensics *fx, const char *path, size_t k)
{
	struct garbage_report *r = &fx->rep;
	size_t i;

	for (i = 0; i < r->ncycles; i++) {
		if (strcmp(r->cycles[i].path, path) == 0) {
			r->cycles[i].count++;
			return (int)i;
		}
	}
	if (r->ncycles == FX_SHAPES) {
		r->truncated = true;
		return -1;
	}
	snprintf(fx->paths[r->ncycles], FX_PATH, "%s", path);
	r->cycles[r->ncycles].path = fx->paths[r->ncycles];
	r->cycles[r->ncycles].count = 1;
	r->cycles[r->ncycles].length = (uint32_t)k;
	return (int)r->ncycles++;
}

/* A source path as a reader wants it: without the "../" a build directory
 * inside the tree puts before it. */
const char *forensics_source_path(const char *file)
{
	while (strncmp(file, "../", 3) == 0 || strncmp(file, "./", 2) == 0)
		file += file[1] == '/' ? 2 : 3;
	return file;
}

/* Count obj, a member of the cycle of index cycle, under its site. */
static void fx_count_site(struct forensics *fx, uint32_t cycle, void *obj)
{
	struct garbage_report *r = &fx->rep;
	const rcl_site *site = NULL;
	const char *label = NULL;
	const rcl_type *type = rcl_typeof(obj);
	struct fx_site_text *tx;
	size_t i;

	if (!rcl_object_site(obj, &site, &label))
		return;
	for (i = 0; i < r->nsites; i++) {
		if (fx->site_keys[i].cycle == cycle &&
		    fx->site_keys[i].label == label &&
		    fx->site_keys[i].type == type &&
		    fx->site_keys[i].site == site) {
			r->sites[i].count++;
			return;
		}
	}
	if (r->nsites == FX_SITES) {
		r->truncated = true;
		return;
	}
	fx->site_keys[i].cycle = cycle;
	fx->site_keys[i].label = label;
	fx->site_keys[i].type = type;
	fx->site_keys[i].site = site;
	tx = &fx->site_text[i];
	snprintf(tx->task, sizeof tx->task, "%s", label ? label : FX_NO_TASK);
	snprintf(tx->type, sizeof tx->type, "%s", fx_name(obj));
	snprintf(tx->file, sizeof tx->file, "%s",
		 site ? forensics_source_path(site->file) : "");
	snprintf(tx->func, sizeof tx->func, "%s", site ? site->func : "");
	snprintf(fx->cycle_of_site[i], FX_PATH, "%s", r->cycles[cycle].path);
	r->sites[i] = (struct garbage_site){
	    fx->cycle_of_site[i], tx->task, tx->type, tx->file, tx->func,
	    site ? site->line : 0, 1};
	r->nsites++;
}

/* The search closed a cycle: spell it in its smallest rotation, count it
 * and mark its members so no other search reports it again. */
static void fx_record_cycle(struct forensics *fx)
{
	void *objs[FX_CYCLE_MAX + 1];
	const char *fields[FX_CYCLE_MAX + 1];
	char best[FX_PATH], cand[FX_PATH];
	int32_t n = fx->closing;
	size_t k = fx->nodes[n].depth + 1, i, r;
	int shape;

	if (k == 0 || k > FX_CYCLE_MAX + 1)
		return; /* the search never goes deeper: nothing to spell */
	fields[k - 1] = fx->closing_field;
	for (i = k; i-- > 0; n = fx->nodes[n].parent) {
		objs[i] = fx->nodes[n].obj;
		if (i > 0)
			fields[i - 1] = fx->nodes[n].field;
	}
	fx_spell(objs, fields, k, 0, best);
	for (r = 1; r < k; r++) {
		fx_spell(objs, fields, k, r, cand);
		if (strcmp(cand, best) < 0)
			memcpy(best, cand, sizeof best);
	}
	shape = fx_count_shape(fx, best, k);
	for (i = 0; shape >= 0 && i < k; i++)
		fx_count_site(fx, (uint32_t)shape, objs[i]);
	for (i = 0; i < k; i++) {
		if (fx->ncovered < FX_COVERED &&
		    fx_seen_add(fx->covered, FX_COVER_SLOTS, fx->coll, objs[i]))
			fx->ncovered++;
	}
}

/* traverse callback of the search: queue garbage children, spot start. */
static void fx_visit(void *child, const char *field, void *arg)
{
	struct forensics *fx = arg;
	struct fx_node *nd;

	if (fx->closing >= 0 || child == NULL ||
	    !rcl_garbage_contains(fx->g, child))
		return;
	if (child == fx->start) {
		fx->closing = (int32_t)fx->cur;
		fx->closing_field = field != NULL ? field : "?";
		return;
	}
	if (fx->nnodes == FX_SEARCH_NODES ||
	    !fx_seen_add(fx->visited, FX_VISIT_SLOTS, fx->search, child))
		return;
	nd = &fx->nodes[fx->nnodes++];
	nd->obj = child;
	nd->parent = (int32_t)fx->cur;
	nd->depth = fx->nodes[fx->cur].depth + 1;
	nd->field = field != NULL ? field : "?";
}

/* Breadth-first from start inside the garbage; true if a cycle closed. */
static bool fx_find_cycle(struct forensics *fx, void *start)
{
	fx->search++;
	fx->start = start;
	fx->closing = -1;
	fx->nodes[0] = (struct fx_node){start, -1, 0, NULL};
	fx->nnodes = 1;
	fx_seen_add(fx->visited, FX_VISIT_SLOTS, fx->search, start);
	for (fx->cur = 0; fx->cur < fx->nnodes && fx->budget > 0; fx->cur++) {
		fx->budget--;
		if (fx->nodes[fx->cur].depth >= FX_CYCLE_MAX)
			continue;
		rcl_traverse(fx->nodes[fx->cur].obj, fx_visit, fx);
		if (fx->closing >= 0) {
			fx_record_cycle(fx);
			return true;
		}
	}
	if (fx->budget == 0)
		fx->rep.truncated = true;
	return false;
}

/* Search from obj unless it is already in a cycle or its type gave up. */
static void fx_maybe_search(struct forensics *fx, void *obj, uint32_t group)
{
	if (!rcl_is_tracked(obj) || fx->budget == 0 ||
	    fx->fails[group] >= FX_TYPE_FAILS ||
	    fx_seen_has(fx->covered, FX_COVER_SLOTS, fx->coll, obj))
		return;
	if (fx->ncycles >= FX_CYCLES_PER_COLLECTION) {
		fx->rep.truncated = true;
		return;
	}
	if (fx_find_cycle(fx, obj))
		fx->ncycles++;
	else
		fx->fails[group]++;
}

/* traverse callback: an untracked child held by this reference alone
 * (a bytes payload) dies with the garbage; its bytes count for the holder. */
static void fx_visit_held(void *child, const char *field, void *arg)
{
	size_t *bytes = arg;

	if (child != NULL && !rcl_is_tracked(child) && rcl_refcount(child) == 1)
		*bytes += rcl_object_bytes(child);
}

/* Add an object of bytes made by label to the running totals. */
static void fx_total(struct forensics *fx, const char *label, size_t bytes)
{
	struct garbage_totals *tt = fx->totals;
	size_t n = atomic_load_explicit(&tt->n, memory_order_relaxed), i;
	const char *task = label ? label : FX_NO_TASK;

	for (i = 0; i < n; i++) {
		if (tt->t[i].task == task || strcmp(tt->t[i].task, task) == 0)
			break;
	}
	if (i == n) {
		if (n == FX_TOTALS)
			return;
		tt->t[n].task = task;
		atomic_store_explicit(&tt->n, n + 1, memory_order_release);
	}
	atomic_fetch_add_explicit(&tt->t[i].objects, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&tt->t[i].bytes, bytes, memory_order_relaxed);
}

/* Count obj, of bytes, under the task that made it (recorded sites only). */
static void fx_attribute(struct forensics *fx, void *obj, size_t bytes)
{
	struct garbage_report *r = &fx->rep;
	const rcl_type *type = rcl_typeof(obj);
	const char *label = NULL;
	size_t i;

	if (!rcl_object_site(obj, NULL, &label))
		return;
	if (fx->totals != NULL)
		fx_total(fx, label, bytes);
	for (i = 0; i < r->ntasks; i++) {
		if (fx->task_keys[i].label == label &&
		    fx->task_keys[i].type == type)
			break;
	}
	if (i == r->ntasks) {
		if (i == FX_TASKS) {
			r->truncated = true;
			return;
		}
		fx->task_keys[i].label = label;
		fx->task_keys[i].type = type;
		snprintf(fx->task_text[i][0], sizeof fx->task_text[i][0], "%s",
			 label ? label : FX_NO_TASK);
		snprintf(fx->task_text[i][1], sizeof fx->task_text[i][1], "%s",
			 fx_name(obj));
		r->tasks[i] = (struct garbage_task){fx->task_text[i][0],
						    fx->task_text[i][1], 0, 0};
		r->ntasks++;
	}
	r->tasks[i].count++;
	r->tasks[i].bytes += bytes;
}

/* One member of the garbage: group it, attribute it, look for its cycle. */
static void fx_each(void *obj, void *arg)
{
	struct forensics *fx = arg;
	uint32_t i = fx_group(fx, rcl_typeof(obj), fx_name(obj));
	size_t bytes = rcl_object_bytes(obj);

	rcl_traverse(obj, fx_visit_held, &bytes);
	fx->rep.types[i].count++;
	fx->rep.types[i].bytes += bytes;
	fx->rep.objects++;
	fx->rep.bytes += bytes;
	fx_attribute(fx, obj, bytes);
	fx_maybe_search(fx, obj, i);
}

/* The observer: runs inside the collection, on the heap's thread. */
static void fx_observe(rcl_heap *h, int generation, const rcl_garbage *g,
		       void *arg)
{
	struct forensics *fx = arg;

	fx->g = g;
	fx->coll++;
	fx->budget = FX_BUDGET_NODES;
	fx->ncovered = 0;
	fx->ncycles = 0;
	memset(fx->fails, 0, sizeof fx->fails);
	fx->rep.collections++;
	rcl_garbage_foreach(g, fx_each, fx);
	fx->g = NULL;
}

/* A detached forensics state with an empty report; NULL if out of memory
 * (SetDebug turns it on at run time). */
struct forensics *forensics_create(void)
{
	struct forensics *fx = calloc(1, sizeof *fx);

	if (fx == NULL)
		return NULL;
	fx->rep.types = calloc(FX_TYPES, sizeof *fx->rep.types);
	fx->rep.cycles = calloc(FX_SHAPES, sizeof *fx->rep.cycles);
	fx->rep.tasks = calloc(FX_TASKS, sizeof *fx->rep.tasks);
	fx->rep.sites = calloc(FX_SITES, sizeof *fx->rep.sites);
	if (fx->rep.types == NULL || fx->rep.cycles == NULL ||
	    fx->rep.tasks == NULL || fx->rep.sites == NULL) {
		forensics_destroy(fx);
		return NULL;
	}
	return fx;
}

/* Free it; NULL is a no-op. Detach it first. */
void forensics_destroy(struct forensics *fx)
{
	if (fx == NULL)
		return;
	free(fx->rep.types);
	free(fx->rep.cycles);
	free(fx->rep.tasks);
	free(fx->rep.sites);
	free(fx);
}

/* Start observing h's collections, adding to totals (or NULL). */
void forensics_attach(struct forensics *fx, rcl_heap *h,
		      struct garbage_totals *totals)
{
	fx->totals = totals;
	rcl_set_observer(h, fx_observe, fx);
}

/* Stop observing: the collector is back on its fast path. */
void forensics_detach(struct forensics *fx, rcl_heap *h)
{
	rcl_set_observer(h, NULL, NULL);
}

/* A copy of the report so far in out (outside any collection: the copy
 * allocates); unless peek, the report starts again empty. */
void forensics_take(struct forensics *fx, bool peek, struct garbage_report *out)
{
	struct garbage_report *r = &fx->rep;

	memset(out, 0, sizeof *out);
	garbage_report_merge(out, r);
	if (peek)
		return;
	r->collections = r->objects = r->bytes = 0;
	r->truncated = false;
	r->ntypes = r->ncycles = r->ntasks = r->nsites = 0;
	memset(fx->tmap, 0, sizeof fx->tmap);
}

/*
 * The type entry called name in r, added if missing. Out of memory, NULL
 * and r is marked truncated: a copy or a merge of reports drops what it
 * cannot hold and says so, as the bounds of a collection's report do.
 */
static struct garbage_type *report_type(struct garbage_report *r,
					const char *name)
{
	struct garbage_type *types;
	char *copy;
	size_t i;

	for (i = 0; i < r->ntypes; i++) {
		if (strcmp(r->types[i].type, name) == 0)
			return &r->types[i];
	}
	types = realloc(r->types, (r->ntypes + 1) * sizeof *r->types);
	if (types != NULL)
		r->types = types;
	if (types == NULL || (copy = strdup(name)) == NULL) {
		r->truncated = true;
		return NULL;
	}
	memset(&r->types[r->ntypes], 0, sizeof *r->types);
	r->types[r->ntypes].type = copy;
	return &r->types[r->ntypes++];
}

/* The cycle entry spelled path in r, added if missing; NULL (r truncated)
 * if out of memory. */
static struct garbage_cycle *report_cycle(struct garbage_report *r,
					  const struct garbage_cycle *c)
{
	struct garbage_cycle *cycles;
	char *copy;
	size_t i;

	for (i = 0; i < r->ncycles; i++) {
		if (strcmp(r->cycles[i].path, c->path) == 0)
			return &r->cycles[i];
	}
	cycles = realloc(r->cycles, (r->ncycles + 1) * sizeof *r->cycles);
	if (cycles != NULL)
		r->cycles = cycles;
	if (cycles == NULL || (copy = strdup(c->path)) == NULL) {
		r->truncated = true;
		return NULL;
	}
	r->cycles[r->ncycles] = *c;
	r->cycles[r->ncycles].path = copy;
	r->cycles[r->ncycles].count = 0;
	return &r->cycles[r->ncycles++];
}

/* Append n zeroed elements of size to *arr holding *len; NULL (r
 * truncated) if out of memory. */
static void *report_grow(struct garbage_report *r, void **arr, size_t *len,
			 size_t size)
{
	char *p = realloc(*arr, (*len + 1) * size);

	if (p == NULL) {
		r->truncated = true;
		return NULL;
	}
	*arr = p;
	memset(p + *len * size, 0, size);
	return p + (*len)++ * size;
}

/* strdup, or NULL (r truncated) out of memory. */
static char *report_dup(struct garbage_report *r, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		r->truncated = true;
	return d;
}

/* Add the (task, type) row t into r. */
static void report_merge_task(struct garbage_report *r,
			      const struct garbage_task *t)
{
	struct garbage_task *x;
	size_t i;

	for (i = 0; i < r->ntasks; i++) {
		x = &r->tasks[i];
		if (strcmp(x->task, t->task) == 0 &&
		    strcmp(x->type, t->type) == 0)
			goto add;
	}
	x = report_grow(r, (void **)&r->tasks, &r->ntasks, sizeof *x);
	if (x == NULL)
		return;
	x->task = report_dup(r, t->task);
	x->type = report_dup(r, t->type);
	if (x->task == NULL || x->type == NULL) {
		free(x->task);
		free(x->type);
		r->ntasks--;
		return;
	}
add:
	x->count += t->count;
	x->bytes += t->bytes;
}

/* Whether two site rows name the same cycle, task, type and site. */
static bool report_same_site(const struct garbage_site *a,
			     const struct garbage_site *b)
{
	return a->line == b->line && strcmp(a->cycle, b->cycle) == 0 &&
	       strcmp(a->task, b->task) == 0 && strcmp(a->type, b->type) == 0 &&
	       strcmp(a->file, b->file) == 0 && strcmp(a->func, b->func) == 0;
}

/* Free a site row's strings. */
static void report_site_free(struct garbage_site *x)
{
	free(x->cycle);
	free(x->task);
	free(x->type);
	free(x->file);
	free(x->func);
}

/* Add the site row s into r. */
static void report_merge_site(struct garbage_report *r,
			      const struct garbage_site *s)
{
	struct garbage_site *x;
	size_t i;

	for (i = 0; i < r->nsites; i++) {
		x = &r->sites[i];
		if (report_same_site(x, s))
			goto add;
	}
	x = report_grow(r, (void **)&r->sites, &r->nsites, sizeof *x);
	if (x == NULL)
		return;
	x->cycle = report_dup(r, s->cycle);
	x->task = report_dup(r, s->task);
	x->type = report_dup(r, s->type);
	x->file = report_dup(r, s->file);
	x->func = report_dup(r, s->func);
	x->line = s->line;
	if (!x->cycle || !x->task || !x->type || !x->file || !x->func) {
		report_site_free(x);
		r->nsites--;
		return;
	}
add:
	x->count += s->count;
}

/* Add from's figures into into, by type name and by cycle spelling; out of
 * memory, what does not fit is left out and into says truncated. */
void garbage_report_merge(struct garbage_report *into,
			  const struct garbage_report *from)
{
	struct garbage_cycle *c;
	struct garbage_type *t;
	size_t i;

	into->collections += from->collections;
	into->objects += from->objects;
	into->bytes += from->bytes;
	into->truncated |= from->truncated;
	for (i = 0; i < from->ntypes; i++) {
		if ((t = report_type(into, from->types[i].type)) == NULL)
			continue;
		t->count += from->types[i].count;
		t->bytes += from->types[i].bytes;
	}
	for (i = 0; i < from->ncycles; i++) {
		if ((c = report_cycle(into, &from->cycles[i])) != NULL)
			c->count += from->cycles[i].count;
	}
	for (i = 0; i < from->ntasks; i++)
		report_merge_task(into, &from->tasks[i]);
	for (i = 0; i < from->nsites; i++)
		report_merge_site(into, &from->sites[i]);
}

/* Types by bytes, largest first, then by name. */
static int report_type_cmp(const void *a, const void *b)
{
	const struct garbage_type *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->type, y->type);
}

/* Cycles by count, most frequent first, then by spelling. */
static int report_cycle_cmp(const void *a, const void *b)
{
	const struct garbage_cycle *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->path, y->path);
}

/* Task rows by task, then by bytes, largest first. */
static int report_task_cmp(const void *a, const void *b)
{
	const struct garbage_task *x = a, *y = b;
	int c = strcmp(x->task, y->task);

	if (c != 0)
		return c;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->type, y->type);
}

/* Site rows by cycle, then most members first, then by file and line. */
static int report_site_cmp(const void *a, const void *b)
{
	const struct garbage_site *x = a, *y = b;
	int c = strcmp(x->cycle, y->cycle);

	if (c != 0)
		return c;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if ((c = strcmp(x->file, y->file)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Sort for reading: the heaviest types and the commonest cycles first. */
void garbage_report_sort(struct garbage_report *r)
{
	if (r->ntasks > 1)
		qsort(r->tasks, r->ntasks, sizeof *r->tasks, report_task_cmp);
	if (r->nsites > 1)
		qsort(r->sites, r->nsites, sizeof *r->sites, report_site_cmp);
	if (r->ntypes > 1)
		qsort(r->types, r->ntypes, sizeof *r->types, report_type_cmp);
	if (r->ncycles > 1)
		qsort(r->cycles, r->ncycles, sizeof *r->cycles,
		      report_cycle_cmp);
}

/* {"types": [{"type", "count", "bytes"}], "cycles": [{"path", "count",
 *  "length"}], "tasks": [{"task", "type", "count", "bytes"}], "sites":
 *  [{"cycle", "task", "type", "file", "line", "function", "count"}],
 *  "collections", "objects", "bytes", "truncated"} */
void garbage_report_to_json(const struct garbage_report *r, struct json *reply)
{
	struct json *arr = json_add_array(reply, "types"), *o;
	size_t i;

	for (i = 0; i < r->ntypes; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "type", r->types[i].type);
		json_add_u64(o, "count", r->types[i].count);
		json_add_u64(o, "bytes", r->types[i].bytes);
	}
	arr = json_add_array(reply, "cycles");
	for (i = 0; i < r->ncycles; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "path", r->cycles[i].path);
		json_add_u64(o, "count", r->cycles[i].count);
		json_add_u64(o, "length", r->cycles[i].length);
	}
	arr = json_add_array(reply, "tasks");
	for (i = 0; i < r->ntasks; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "task", r->tasks[i].task);
		json_add_str(o, "type", r->tasks[i].type);
		json_add_u64(o, "count", r->tasks[i].count);
		json_add_u64(o, "bytes", r->tasks[i].bytes);
	}
	arr = json_add_array(reply, "sites");
	for (i = 0; i < r->nsites; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "cycle", r->sites[i].cycle);
		json_add_str(o, "task", r->sites[i].task);
		json_add_str(o, "type", r->sites[i].type);
		json_add_str(o, "file", r->sites[i].file);
		json_add_u64(o, "line", r->sites[i].line);
		json_add_str(o, "function", r->sites[i].func);
		json_add_u64(o, "count", r->sites[i].count);
	}
	json_add_u64(reply, "collections", r->collections);
	json_add_u64(reply, "objects", r->objects);
	json_add_u64(reply, "bytes", r->bytes);
	json_add_bool(reply, "truncated", r->truncated);
}

/* Free a report's contents; a zeroed one is a no-op. */
void garbage_report_finish(struct garbage_report *r)
{
	size_t i;

	for (i = 0; i < r->ntypes; i++)
		free(r->types[i].type);
	for (i = 0; i < r->ncycles; i++)
		free(r->cycles[i].path);
	for (i = 0; i < r->ntasks; i++) {
		free(r->tasks[i].task);
		free(r->tasks[i].type);
	}
	for (i = 0; i < r->nsites; i++)
		report_site_free(&r->sites[i]);
	free(r->types);
	free(r->cycles);
	free(r->tasks);
	free(r->sites);
	memset(r, 0, sizeof *r);
}
