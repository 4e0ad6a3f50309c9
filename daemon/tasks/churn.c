/*
 * churn: a load generator for soak and pressure tests. For duration_ms it
 * builds random object graphs at rate graphs a second: each of size nodes
 * with random edges, a share cycles of them closed into a cycle (so only the
 * collector frees them), each node holding payload bytes (written), and
 * keeps the last keep graphs alive (survivors for the old generations). It
 * works in slices of 10 ms, yielding between them, so the worker serves
 * requests meanwhile. Answers what it made and what the collector did;
 * reports its progress (the share of duration_ms gone, graphs so far).
 *
 *	reclaimctl run churn duration_ms=5000 rate=2000 size=10 cycles=0.5
 *	    payload=4096 keep=100
 */
#include <time.h>

#include <reclaim/types.h>
#include <reclaimd/task.h>

#define CHURN_SLICE_MS 10

struct churn_node {
	rcl_list *edges;
	rcl_bytes *payload;
};

struct churn {
	uint64_t duration_ms, rate, size, payload, keep;
	double cycles;
	uint64_t start_ms, graphs, cyclic, objects, bytes;
	rcl_stats before;
	uint64_t rng;
	rcl_list *kept; /* a ring of the last keep graphs */
	uint64_t next_kept;
};

/* Visit the edges and the payload. */
static void node_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct churn_node *n = self;

	if (n->edges != NULL)
		visit(n->edges, "edges", arg);
	if (n->payload != NULL)
		visit(n->payload, "payload", arg);
}

/* Drop both. */
static void node_clear(void *self)
{
	struct churn_node *n = self;
	rcl_list *e = n->edges;
	rcl_bytes *p = n->payload;

	n->edges = NULL;
	n->payload = NULL;
	rcl_decref(e);
	rcl_decref(p);
}

static const rcl_type churn_node_type = {
    .name = "ChurnNode",
    .size = sizeof(struct churn_node),
    .traverse = node_traverse,
    .clear = node_clear,
};

/* The frame keeps the ring of survivors. */
static void churn_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct churn *c = self;

	if (c->kept != NULL)
		visit(c->kept, "kept", arg);
}

/* Drop the survivors. */
static void churn_clear(void *self)
{
	struct churn *c = self;
	rcl_list *l = c->kept;

	c->kept = NULL;
	rcl_decref(l);
}

static const rcl_type churn_type = {
    .name = "churn",
    .size = sizeof(struct churn),
    .traverse = churn_traverse,
    .clear = churn_clear,
};

/* xorshift64: cheap, and enough for shapes. */
static uint64_t churn_rand(struct churn *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* Milliseconds on the monotonic clock. */
static uint64_t churn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A node with its payload; NULL if memory is short. */
static struct churn_node *churn_node(rcl_heap *h, struct churn *c)
{
	struct churn_node *n = rcl_new(h, &churn_node_type);

	if (n == NULL)
		return NULL;
	n->edges = rcl_list_new(h, 2);
	if (c->payload > 0)
		n->payload = rcl_bytes_new(h, NULL, (size_t)c->payload);
	if (n->edges == NULL || (c->payload > 0 && n->payload == NULL)) {
		rcl_decref(n);
		return NULL;
	}
	c->objects += c->payload > 0 ? 3 : 2;
	c->bytes += c->payload;
	return n;
}

/* One graph: a random tree of size nodes, closed into a cycle with the
 * probability cycles; the root, or NULL. */
static struct churn_node *churn_graph(rcl_heap *h, struct churn *c)
{
	struct churn_node *root = churn_node(h, c), *n, *parent;
	rcl_list *all = rcl_list_new(h, (size_t)c->size);
	uint64_t i;

	if (root == NULL || all == NULL || rcl_list_append(all, root) < 0)
		goto bad;
	for (i = 1; i < c->size; i++) {
		parent = rcl_list_get(all, churn_rand(c) % rcl_list_len(all));
		n = churn_node(h, c);
		if (n == NULL || rcl_list_append(parent->edges, n) < 0 ||
		    rcl_list_append(all, n) < 0) {
			rcl_decref(n);
			goto bad;
		}
		rcl_decref(n);
	}
	if ((double)(churn_rand(c) % 1000000) / 1e6 < c->cycles) {
		n = rcl_list_get(all, churn_rand(c) % rcl_list_len(all));
		if (rcl_list_append(n->edges, root) < 0) /* back to the root */
			goto bad;
		c->cyclic++;
	}
	rcl_decref(all);
	c->graphs++;
	return root;
bad:
	rcl_decref(all);
	rcl_decref(root);
	return NULL;
}

/* Read the arguments and set up the frame. */
static int churn_args(rcl_runner *r, struct churn *c)
{
	if (rcl_runner_arg_u64(r, "duration_ms", 1000, 0, 3600000,
			       &c->duration_ms) < 0 ||
	    rcl_runner_arg_u64(r, "rate", 1000, 1, 10000000, &c->rate) < 0 ||
	    rcl_runner_arg_u64(r, "size", 10, 1, 100000, &c->size) < 0 ||
	    rcl_runner_arg_u64(r, "payload", 0, 0, 64 << 20, &c->payload) < 0 ||
	    rcl_runner_arg_u64(r, "keep", 0, 0, 1000000, &c->keep) < 0 ||
	    rcl_runner_arg_double(r, "cycles", 0.5, 0, 1, &c->cycles) < 0)
		return -1;
	c->start_ms = churn_now_ms();
	c->rng = c->start_ms * 2654435761u + 1;
	rcl_heap_stats(rcl_runner_heap(r), &c->before);
	if (c->keep > 0 && (c->kept = rcl_list_new(rcl_runner_heap(r),
						   (size_t)c->keep)) == NULL)
		return rcl_runner_fail(r, 503, "out of memory"), -1;
	return 0;
}

/* Keep root in the ring of survivors (replacing the oldest). */
static int churn_keep(struct churn *c, struct churn_node *root)
{
	if (c->kept == NULL)
		return 0;
	if (rcl_list_len(c->kept) < c->keep)
		return rcl_list_append(c->kept, root);
	return rcl_list_set(c->kept, (size_t)(c->next_kept++ % c->keep), root);
}

/* The graphs due by now (rate a second since the start), made. */
static int churn_slice(rcl_runner *r, struct churn *c, uint64_t now)
{
	uint64_t due = (now - c->start_ms) * c->rate / 1000 + 1;
	struct churn_node *root;

	while (c->graphs < due) {
		root = churn_graph(rcl_runner_heap(r), c);
		if (root == NULL || churn_keep(c, root) < 0) {
			rcl_decref(root);
			return -1;
		}
		rcl_decref(root);
		if (churn_now_ms() - now >= CHURN_SLICE_MS)
			break; /* behind: let the loop turn */
	}
	return 0;
}

/* What was made, and what the collector did meanwhile. */
static void churn_result(rcl_runner *r, struct churn *c, uint64_t now)
{
	rcl_result *res = rcl_runner_result(r);
	rcl_stats after;

	rcl_heap_stats(rcl_runner_heap(r), &after);
	rcl_result_add_u64(res, "elapsed_ms", now - c->start_ms);
	rcl_result_add_u64(res, "graphs", c->graphs);
	rcl_result_add_u64(res, "cyclic_graphs", c->cyclic);
	rcl_result_add_u64(res, "objects", c->objects);
	rcl_result_add_u64(res, "payload_bytes", c->bytes);
	rcl_result_add_u64(res, "collections",
			   after.collections_total -
			       c->before.collections_total);
	rcl_result_add_u64(res, "collected",
			   after.collected_total - c->before.collected_total);
	rcl_result_add_u64(res, "pause_max_ns", after.pause_max_ns);
	rcl_result_add_u64(res, "heap_bytes", after.bytes);
}

/* Progress, when a report is due: time gone, what was made so far. */
static void churn_progress(rcl_runner *r, struct churn *c, uint64_t now)
{
	rcl_result *fig;

	fig = rcl_runner_progress(r,
				  c->duration_ms ? (double)(now - c->start_ms) /
						       (double)c->duration_ms
						 : 1,
				  "churning");
	if (fig == NULL)
		return;
	rcl_result_add_u64(fig, "elapsed_ms", now - c->start_ms);
	rcl_result_add_u64(fig, "graphs", c->graphs);
	rcl_result_add_u64(fig, "cyclic_graphs", c->cyclic);
	rcl_result_add_u64(fig, "objects", c->objects);
}

/* A slice of work, then sleep to the next one, until the duration is up. */
static enum rcl_step churn_step(rcl_runner *r, void *frame)
{
	struct churn *c = frame;
	uint64_t now;

	if (rcl_runner_steps(r) == 0 && churn_args(r, c) < 0)
		return RCL_STEP_FAIL;
	now = churn_now_ms();
	if (now - c->start_ms < c->duration_ms) {
		if (churn_slice(r, c, now) < 0)
			return rcl_runner_fail(r, 503, "out of memory");
		churn_progress(r, c, now);
		if (rcl_yield_sleep(r, CHURN_SLICE_MS) == 0)
			return RCL_STEP_YIELD;
		return rcl_runner_fail(r, 503, "cannot yield");
	}
	churn_result(r, c, now);
	return RCL_STEP_DONE;
}

const struct rcl_task_def task_churn_def = {
    .name = "churn",
    .description = "load generator: duration_ms rate size cycles payload "
		   "keep",
    .kind = RCL_TASK_ON_DEMAND,
    .frame = &churn_type,
    .step = churn_step,
};
