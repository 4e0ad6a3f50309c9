/*
 * tree: the write-up's Node.tree experiment as an on-demand task.
 *
 *	for n in range(1, rounds + 1):
 *		for _ in range(n):
 *			Node.tree(depth=5, children=6)
 *		print(gc.collect(), "objects collected in", ms)
 *
 * with automatic collection off during a round (gc.disable()), one round a
 * step so the worker serves requests between rounds. The Node type and
 * Node.tree() are in nodetree.c: a tree is 2 * 9,330 objects and the 20
 * rounds find 3,918,600, as CPython.
 * Answers each round's objects found and collection time, and the totals;
 * reports its progress after each round (round n builds n trees: the share
 * done after round k of R is k(k+1) / R(R+1)).
 */
#include <errno.h>
#include <time.h>

#include <reclaim/types.h>
#include <reclaimd/task.h>

#include "nodetree.h"

#define TREE_MAX_OBJECTS 20000000 /* in the largest round */

struct tree_frame {
	uint64_t depth, children, rounds, round;
	uint64_t total;
	double total_ms;
	rcl_result *per_round;
};

static const rcl_type tree_frame_type = {
    .name = "tree",
    .size = sizeof(struct tree_frame),
};

/* Monotonic time in milliseconds. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Objects in the largest round, capped; false if past the limit. */
static bool tree_size_ok(const struct tree_frame *f)
{
	uint64_t nodes = 0, level = 1, d;

	for (d = 0; d < f->depth; d++) {
		level *= f->children;
		nodes += level;
		if (nodes * 2 * f->rounds > TREE_MAX_OBJECTS)
			return false;
	}
	return true;
}

/* Read depth, children and rounds. */
static int tree_args(rcl_runner *r, struct tree_frame *f)
{
	if (rcl_runner_arg_u64(r, "depth", 5, 0, 20, &f->depth) < 0 ||
	    rcl_runner_arg_u64(r, "children", 6, 0, 1000, &f->children) < 0 ||
	    rcl_runner_arg_u64(r, "rounds", 20, 1, 1000, &f->rounds) < 0)
		return -1;
	if (!tree_size_ok(f)) {
		rcl_runner_fail(r, 400,
				"depth %llu, children %llu, rounds %llu "
				"is more than %d objects in a round",
				(unsigned long long)f->depth,
				(unsigned long long)f->children,
				(unsigned long long)f->rounds,
				TREE_MAX_OBJECTS);
		return -1;
	}
	f->per_round = rcl_result_add_array(rcl_runner_result(r), "rounds");
	return 0;
}

/* Round n: build n trees and drop them, then time one full collection. */
static int tree_round(rcl_runner *r, struct tree_frame *f, uint64_t n)
{
	rcl_heap *h = rcl_runner_heap(r);
	bool was = rcl_auto_collect_enabled(h);
	rcl_result *row;
	size_t found;
	double t0, ms;
	uint64_t i;

	rcl_collect(h, RCL_GENERATIONS - 1); /* count only this round's */
	rcl_auto_collect(h, false);	     /* gc.disable() */
	for (i = 0; i < n; i++) {
		rcl_list *l = nodetree_build(h, f->depth, f->children);

		if (l == NULL)
			break;
		rcl_decref(l);
	}
	t0 = now_ms();
	found = rcl_collect(h, RCL_GENERATIONS - 1);
	ms = now_ms() - t0;
	rcl_auto_collect(h, was);
	if (i < n)
		return -1;
	f->total += found;
	f->total_ms += ms;
	row = rcl_result_add_object(f->per_round, NULL);
	rcl_result_add_u64(row, "n", n);
	rcl_result_add_u64(row, "collected", found);
	rcl_result_add_double(row, "ms", ms);
	return 0;
}

/* Progress after a round, when a report is due. */
static void tree_progress(rcl_runner *r, const struct tree_frame *f)
{
	rcl_result *fig;

	fig = rcl_runner_progress(r,
				  (double)(f->round * (f->round + 1)) /
				      (double)(f->rounds * (f->rounds + 1)),
				  "rounds");
	if (fig == NULL)
		return;
	rcl_result_add_u64(fig, "round", f->round);
	rcl_result_add_u64(fig, "rounds", f->rounds);
	rcl_result_add_u64(fig, "collected", f->total);
	rcl_result_add_double(fig, "ms", f->total_ms);
}

/* One round a step; the totals after the last. */
static enum rcl_step tree_step(rcl_runner *r, void *frame)
{
	struct tree_frame *f = frame;
	rcl_result *res;

	if (rcl_runner_steps(r) == 0 && tree_args(r, f) < 0)
		return RCL_STEP_FAIL;
	if (f->round < f->rounds) {
		if (tree_round(r, f, ++f->round) < 0)
			return rcl_runner_fail(r, 503,
					       "out of memory in round "
					       "%llu",
					       (unsigned long long)f->round);
		tree_progress(r, f);
		if (f->round < f->rounds)
			return rcl_yield_next(r) == 0
				   ? RCL_STEP_YIELD
				   : rcl_runner_fail(r, 503, "cannot yield");
	}
	res = rcl_runner_result(r);
	rcl_result_add_u64(res, "depth", f->depth);
	rcl_result_add_u64(res, "children", f->children);
	rcl_result_add_u64(res, "collected", f->total);
	rcl_result_add_double(res, "ms", f->total_ms);
	rcl_result_add_double(res, "ns_per_object",
			      f->total ? f->total_ms * 1e6 / (double)f->total
				       : 0);
	return RCL_STEP_DONE;
}

const struct rcl_task_def task_tree_def = {
    .name = "tree",
    .description = "the write-up's Node.tree experiment: depth=5 children=6 "
		   "rounds=20; objects found and ms per round",
    .kind = RCL_TASK_ON_DEMAND,
    .frame = &tree_frame_type,
    .step = tree_step,
};
