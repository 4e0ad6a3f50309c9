#!/usr/bin/python3
"""The write-up's experiment on CPython: round n builds n trees with
Node.tree(depth=5, children=6) and times gc.collect(), automatic collection
off. Same output shapes as bench-tree (--tsv for tests/bench/run)."""

import gc
import sys
from time import perf_counter


class Node(object):
    parent = None

    def __init__(self, *children):
        self.children = list(children)
        for node in self.children:
            node.parent = self

    @classmethod
    def tree(cls, depth=1, children=1):
        if depth == 0:
            return []
        return [cls(*cls.tree(depth - 1, children)) for _ in range(children)]


def main(argv):
    tsv = "--tsv" in argv[1:]
    rounds = 20
    if "--rounds" in argv:
        rounds = int(argv[argv.index("--rounds") + 1])
    gc.disable()
    gc.collect()
    total, total_ms = 0, 0.0
    for n in range(1, rounds + 1):
        for _ in range(n):
            Node.tree(depth=5, children=6)
        start = perf_counter()
        found = gc.collect()
        ms = (perf_counter() - start) * 1000
        total += found
        total_ms += ms
        if tsv:
            print("round\t{}\t{}\t{:.6f}".format(n, found, ms))
        else:
            print("{1} objects collected for n={0} in {2:3.6} msec".format(
                n, found, ms))
    if tsv:
        print("total\t{}\t{:.6f}".format(total, total_ms))
    else:
        print("total: {} objects in {:.3f} msec".format(total, total_ms))


if __name__ == "__main__":
    main(sys.argv)
