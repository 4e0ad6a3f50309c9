/*
 * The write-up's Node.tree experiment:
 *
 *	class Node(object):
 *		parent = None
 *		def __init__(self, *children):
 *			self.children = list(children)
 *			for node in self.children:
 *				node.parent = self
 *		@classmethod
 *		def tree(cls, depth=1, children=1):
 *			if depth == 0:
 *				return []
 *			return [cls(*cls.tree(depth - 1, children))
 *				for _ in range(children)]
 *
 * Every node and its children list are in a cycle (child.parent -> node ->
 * list -> child): a tree of depth 5 and 6 children is 2 * 9,330 objects.
 */
#include <stddef.h>

#include "nodetree.h"

struct node {
	rcl_list *children;
	struct node *parent;
};

/* Its references described: the collector walks them, and traverse and
 * clear are the library's. */
static const rcl_type node_type = {
    .name = "Node",
    .size = sizeof(struct node),
    RCL_REFS(RCL_REF(struct node, children), RCL_REF(struct node, parent)),
};

/* Node(*args): children = list(args), each child's parent = the node. */
static struct node *node_new(rcl_heap *h, rcl_list *args)
{
	size_t i, n = rcl_list_len(args);
	struct node *node = rcl_new(h, &node_type);

	if (node == NULL)
		return NULL;
	node->children = rcl_list_new(h, n);
	if (node->children == NULL) {
		rcl_decref(node);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		struct node *child = rcl_list_get(args, i);

		if (rcl_list_append(node->children, child) < 0) {
			rcl_decref(node);
			return NULL;
		}
		rcl_incref(node);
		rcl_decref(child->parent);
		child->parent = node;
	}
	return node;
}

/* Node.tree(depth, children); see nodetree.h. */
rcl_list *nodetree_build(rcl_heap *h, uint64_t depth, uint64_t children)
{
	rcl_list *l = rcl_list_new(h, 0), *args;
	struct node *node;
	uint64_t i;

	for (i = 0; l != NULL && depth > 0 && i < children; i++) {
		args = nodetree_build(h, depth - 1, children);
		node = args != NULL ? node_new(h, args) : NULL;
		rcl_decref(args);
		if (node == NULL || rcl_list_append(l, node) < 0) {
			rcl_decref(node);
			rcl_decref(l);
			return NULL;
		}
		rcl_decref(node);
	}
	return l;
}
