/*
 * The write-up's Node type and Node.tree(), shared by the `tree` task and
 * tests/bench/bench-tree, so the benchmark measures the code reclaimd runs.
 */
#ifndef RECLAIM_NODETREE_H
#define RECLAIM_NODETREE_H

#include <stdint.h>

#include <reclaim/types.h>

/*
 * Node.tree(depth, children): a new list of `children` nodes, each built
 * as Node(*Node.tree(depth - 1, children)): its `children` a new list of
 * those nodes, each child's `parent` the node. NULL (errno ENOMEM) if
 * memory is short, with nothing left behind but garbage the next
 * collection frees.
 */
rcl_list *nodetree_build(rcl_heap *h, uint64_t depth, uint64_t children);

#endif
