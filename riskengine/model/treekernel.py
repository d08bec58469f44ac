"""Compiled walks of a flattened tree ensemble: raw scores and exact reason codes.

Two kernels, compiled by numba on first use (and cached on disk beside this file):

- :func:`raw_scores`: the ensemble's raw log-odds score of each row;
- :func:`explain_rows`: the raw score and the top ``k`` positive
  reference-substitution impacts of each row.

A node goes left iff ``x[feature] <= threshold``, a NaN goes the node's
missing-value way: scikit-learn's own test on float64 input. The walks read a
block of rows with each feature twice (:func:`_augment`): as given, and with NaN
as ``-inf``; a node whose NaN goes left reads the second copy, the others the
first (NaN is never ``<=``), so every step is one comparison. Thresholds are not
NaN (:class:`riskengine.model.flat_trees.FlatTrees` refuses such trees). The raw score is
``baseline + tree_0 + tree_1 + ...`` added in that order, as scikit-learn's
``_raw_predict`` adds them, so scores are bit-identical to the estimator's.

Reason codes (see :mod:`riskengine.model.explain`): the impact of feature ``j``
on a row is ``s(x) - s(x with x_j at its reference)``. On a row's path through a
tree, the substituted walk is the row's own walk up to the first node on ``j``
where the reference goes the other way, then goes the reference's way at every
node on ``j``. Those restart points are static per leaf (the ``task_*`` CSR
arrays of :class:`riskengine.model.flat_trees.FlatTrees`), so only the (tree, feature)
pairs whose value can change are walked. Each impact is first bounded cheaply
(the per-tree differences, summed in any order, within ``tol`` of the exact
value); only the features that can reach the row's top ``k`` are then summed
exactly, tree by tree in the estimator's order. The result does not depend on
the other rows of the call: one row alone and one row in a million give the
same bytes.

The kernels hold no Python objects and release the GIL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["INT_TABLES", "FLOAT_TABLES", "pack", "raw_scores", "explain_rows"]

#: The integer node and task arrays, in their order in the packed ``ints`` array.
INT_TABLES = ("column", "child", "root", "depth", "feature", "ref_child", "height",
              "task_ptr", "task_feature", "task_node")
#: The float arrays, in their order in the packed ``floats`` array (after
#: ``baseline`` and ``tolerance``).
FLOAT_TABLES = ("thr", "value")


#: Rows walked together through one tree (their walks are independent, so the
#: processor overlaps them; a tree's nodes stay in cache while they do).
BLOCK = 64


def pack(ints: dict[str, Any], floats: dict[str, Any], baseline: float, tolerance: float,
         max_tasks: int) -> tuple[Any, Any]:
    """The ensemble as one integer and one float64 array (few kernel arguments: a
    compiled call pays for each argument it is given).

    ``ints`` starts with the ``len(INT_TABLES) + 1`` offsets of its tables and
    ``max_tasks``; ``floats`` with ``baseline``, ``tolerance`` and the offset of
    ``value``. The integers are int32 when every one fits (node and task numbers of
    any model this engine fits): half the bytes a walk brings into the cache, which
    matters when a single decision finds them evicted; int64 otherwise.
    """
    parts = [np.asarray(ints[name], dtype=np.int64) for name in INT_TABLES]
    head = len(INT_TABLES) + 2
    off = np.cumsum([head] + [p.size for p in parts])
    packed_i = np.concatenate([off, [max_tasks], *parts]).astype(np.int64)
    small = np.iinfo(np.int32)
    if packed_i.size and small.min <= packed_i.min() and packed_i.max() <= small.max:
        packed_i = packed_i.astype(np.int32)
    thr = np.asarray(floats["thr"], dtype=np.float64)
    value = np.asarray(floats["value"], dtype=np.float64)
    packed_f = np.concatenate([[baseline, tolerance, 3 + thr.size], thr, value])
    return packed_i, packed_f


@njit(cache=True, nogil=True)
def _t(ints: Any, j: int) -> Any:  # pragma: no cover - compiled
    return ints[ints[j]:ints[j + 1]]


@njit(cache=True, nogil=True)
def _augment(X: Any, lo: int, m: int, XA: Any) -> None:  # pragma: no cover - compiled
    """Rows ``lo .. lo + m - 1`` of ``X`` into ``XA[r]``: feature ``j`` as given at
    ``2 * j + 1``, with NaN as ``-inf`` at ``2 * j``."""
    for r in range(m):
        for j in range(X.shape[1]):
            x = X[lo + r, j]
            XA[r, 2 * j + 1] = x
            XA[r, 2 * j] = x if x == x else -np.inf


@njit(cache=True, nogil=True)
def _next(XA: Any, r: int, node: int, thr: Any, column: Any,
          child: Any) -> int:  # pragma: no cover - compiled
    """The node after ``node`` on block row ``r`` (a leaf is its own successor)."""
    return child[2 * node + 1 - np.int64(XA[r, column[node]] <= thr[node])]


@njit(cache=True, nogil=True)
def _block_leaves(XA: Any, m: int, thr: Any, column: Any, child: Any,
                  root: Any, depth: Any, leaves: Any) -> None:  # pragma: no cover
    """Leaf of the block's rows ``0 .. m - 1`` in every tree into ``leaves[r, t]``.

    Every walk takes its tree's depth in steps (leaves are their own successors),
    so the loops have fixed trip counts and no data-dependent branch.
    """
    for t in range(root.shape[0]):
        for r in range(m):
            leaves[r, t] = root[t]
        for _ in range(depth[t]):
            for r in range(m):
                leaves[r, t] = _next(XA, r, leaves[r, t], thr, column, child)


@njit(cache=True, nogil=True)
def raw_scores(X: Any, ints: Any, floats: Any, out: Any) -> None:  # pragma: no cover
    """Raw score of each row of ``X`` into ``out`` (shape ``(rows,)``)."""
    column, child, root, depth = _t(ints, 0), _t(ints, 1), _t(ints, 2), _t(ints, 3)
    baseline = floats[0]
    thr, value = floats[3:int(floats[2])], floats[int(floats[2]):]
    n = X.shape[0]
    nt = root.shape[0]
    b = max(min(BLOCK, n), 1)  # the scratch of a block, no larger than the rows given
    leaves = np.empty((b, nt), np.int64)
    XA = np.empty((b, 2 * X.shape[1]))
    for lo in range(0, n, BLOCK):
        m = min(BLOCK, n - lo)
        _augment(X, lo, m, XA)
        _block_leaves(XA, m, thr, column, child, root, depth, leaves)
        for r in range(m):
            s = baseline
            for t in range(nt):
                s += value[leaves[r, t]]
            out[lo + r] = s


@njit(cache=True, nogil=True)
def explain_rows(X: Any, k: int, ints: Any, floats: Any, out_f: Any,
                 out_i: Any) -> None:  # pragma: no cover - compiled
    """Raw scores and top ``k`` reason codes of each row of ``X``.

    Writes, for row ``i``: ``out_f[i, 0]`` the raw score and ``out_i[i, 0]`` the
    number ``c <= k`` of its codes; code ``j < c`` has feature ``out_i[i, 1 + j]``,
    impact on the raw score ``out_f[i, 1 + j]`` (> 0) and raw score with the
    feature at its reference ``out_f[i, 1 + k + j]``; by decreasing impact,
    ties by feature order.
    """
    column, child, root, depth = _t(ints, 0), _t(ints, 1), _t(ints, 2), _t(ints, 3)
    feature, ref_child, height = _t(ints, 4), _t(ints, 5), _t(ints, 6)
    task_ptr, task_feature, task_node = _t(ints, 7), _t(ints, 8), _t(ints, 9)
    max_tasks = ints[len(INT_TABLES) + 1]
    baseline, tol = floats[0], floats[1]
    thr, value = floats[3:int(floats[2])], floats[int(floats[2]):]
    n, p = X.shape
    nt = root.shape[0]
    b = max(min(BLOCK, n), 1)  # the scratch of a block, no larger than the rows given
    leaves = np.empty((b, nt), np.int64)
    XA = np.empty((b, 2 * p))
    vals = np.empty(nt)
    prefix = np.empty(nt + 1)
    t_tree = np.empty(max_tasks, np.int64)
    t_val = np.empty(max_tasks)
    by_feat = np.empty(max_tasks, np.int64)  # task ids grouped by feature, tree order kept
    t_feat = np.empty(max_tasks, np.int64)
    start = np.empty(p + 1, np.int64)
    approx = np.empty(p)
    moved = np.empty(p, np.bool_)
    top = np.empty(max(k, 1))
    c_feat = np.empty(p, np.int64)
    c_imp = np.empty(p)
    c_sub = np.empty(p)
    for lo in range(0, n, BLOCK):
        m_rows = min(BLOCK, n - lo)
        _augment(X, lo, m_rows, XA)
        _block_leaves(XA, m_rows, thr, column, child, root, depth, leaves)
        for r in range(m_rows):
            i = lo + r
            s = baseline
            prefix[0] = s
            for t in range(nt):
                vals[t] = value[leaves[r, t]]
                s += vals[t]
                prefix[t + 1] = s
            out_f[i, 0] = s
            out_i[i, 0] = 0
            approx[:] = 0.0
            moved[:] = False
            start[:] = 0
            m = 0
            for t in range(nt):
                lf = leaves[r, t]
                for q in range(task_ptr[lf], task_ptr[lf + 1]):
                    f = task_feature[q]
                    node = task_node[q]
                    for _ in range(height[node]):
                        nxt = _next(XA, r, node, thr, column, child)
                        node = ref_child[node] if feature[node] == f else nxt
                    v = value[node]
                    t_tree[m] = t
                    t_feat[m] = f
                    t_val[m] = v
                    start[f + 1] += 1
                    d = vals[t] - v
                    approx[f] += d
                    moved[f] |= d != 0.0
                    m += 1
            if m == 0:
                continue
            for f in range(p):  # counting sort of the tasks by feature
                start[f + 1] += start[f]
            for j in range(m):
                f = t_feat[j]
                by_feat[start[f]] = j
                start[f] += 1
            lim = -np.inf
            if p > k:  # the k-th largest bound, less twice the bound's error
                top[:] = -np.inf  # the k largest so far, descending
                for f in range(p):
                    a = approx[f]
                    if a > top[k - 1]:
                        at = k - 1
                        while at > 0 and top[at - 1] < a:
                            top[at] = top[at - 1]
                            at -= 1
                        top[at] = a
                lim = top[k - 1] - 2.0 * tol
            nc = 0
            first = 0
            for f in range(p):
                last = start[f]  # after the sort: the end of f's tasks
                if not moved[f] or not approx[f] > -tol or not approx[f] >= lim:
                    first = last
                    continue
                # exact: the estimator's running sum with the substitution; the sum of
                # the trees before the first substituted one is the row's own prefix
                t = t_tree[by_feat[first]]
                ss = prefix[t]
                for j in range(first, last):  # one task per (tree, feature), tree order
                    tj = t_tree[by_feat[j]]
                    for u in range(t, tj):
                        ss += vals[u]
                    ss += t_val[by_feat[j]]
                    t = tj + 1
                for u in range(t, nt):
                    ss += vals[u]
                first = last
                imp = s - ss
                if imp > 0.0:  # insertion by (impact desc, feature asc); ties keep order
                    at = nc
                    while at > 0 and c_imp[at - 1] < imp:
                        c_feat[at] = c_feat[at - 1]
                        c_imp[at] = c_imp[at - 1]
                        c_sub[at] = c_sub[at - 1]
                        at -= 1
                    c_feat[at] = f
                    c_imp[at] = imp
                    c_sub[at] = ss
                    nc += 1
            keep = min(nc, k)
            for c in range(keep):
                out_i[i, 1 + c] = c_feat[c]
                out_f[i, 1 + c] = c_imp[c]
                out_f[i, 1 + k + c] = c_sub[c]
            out_i[i, 0] = keep
