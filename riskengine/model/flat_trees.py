"""A fitted gradient-boosting ensemble as flat node arrays: PDs and exact reason codes.

:class:`FlatTrees` flattens a binary ``HistGradientBoostingClassifier`` into node
arrays walked by the compiled kernels of :mod:`riskengine.model.treekernel`
(scikit-learn's own node test, the trees' values summed in the order scikit-learn
sums them, so the same floats). :class:`FlatScorer` adds a
:class:`~riskengine.model.pd_model.PDModel`'s input preparation, calibration,
anchoring and floor, and the reason codes of :mod:`riskengine.model.explain`
(reference substitution, :func:`top_reasons`). The decision core scores 1..n
debtors with it, one code path for one row and for a million. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from riskengine.model import treekernel as _kernel

__all__ = ["FlatScorer", "FlatTrees", "ReasonArrays", "Unsupported", "top_reasons"]

FloatArray = npt.NDArray[np.float64]

class Unsupported(Exception):
    """The model cannot be flattened (or a payload is not covered): use the general path."""



class FlatTrees:
    """A fitted ``HistGradientBoostingClassifier`` (binary) as flat node arrays.

    Every node holds its feature, float64 threshold, missing-value direction and
    children; leaves point to themselves. The compiled kernels of
    :mod:`riskengine.model.treekernel` walk them row by row: a node goes left iff
    ``x <= threshold``, NaN goes the missing-value way, exactly as the estimator
    tests a float64 row.

    Reason codes need the score with feature ``j`` set to its reference. On a
    row's path through a tree, the substituted walk is the same up to the first
    node on ``j`` where the reference goes the other way; from there it goes
    the reference's way at every node on ``j``. Those restart points are static
    per leaf (``task_ptr`` / ``task_feature`` / ``task_node``, CSR by leaf), so
    the cost follows the number of disagreements, not ``features x trees``.

    Scores equal the estimator's on float64 input: the raw score is
    ``baseline + tree_0 + tree_1 + ...`` added in that order (as
    scikit-learn's ``_raw_predict`` adds them; a running sum, never pairwise).

    Parameters
    ----------
    estimator : HistGradientBoostingClassifier
        Fitted, binary, numerical splits only.
    reference : ndarray of shape (p,), optional
        Reference value of each feature (reason codes); default all 0.
    """

    def __init__(self, estimator: Any, reference: FloatArray | None = None) -> None:
        predictors = estimator._predictors
        if any(len(it) != 1 for it in predictors):
            raise Unsupported("only binary classifiers are flattened")
        trees = [it[0].nodes for it in predictors]
        if any(bool(t["is_categorical"].any()) for t in trees):
            raise Unsupported("categorical splits are not flattened")
        nodes = np.concatenate(trees)
        sizes = np.array([len(t) for t in trees], dtype=np.intp)
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        base = np.repeat(offset, sizes)
        n_feat = int(getattr(estimator, "n_features_in_", 0)) or 1 + int(
            nodes["feature_idx"].max())
        ref = np.zeros(n_feat) if reference is None else np.asarray(reference, np.float64)
        self.n_trees = len(trees)
        self.n_features = n_feat
        self.baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        self.root = offset
        leaf = nodes["is_leaf"].astype(bool)
        self.leaf = leaf
        feat = nodes["feature_idx"].astype(np.intp)
        feat[leaf] = n_feat  # leaves test nothing
        self.feature = feat
        self.value = nodes["value"].astype(np.float64)
        thr = nodes["num_threshold"].astype(np.float64)
        if bool(np.isnan(thr[~leaf]).any()):
            raise Unsupported("NaN split thresholds are not flattened")
        self.used = np.unique(feat[~leaf])
        #: sorted split thresholds of each used feature
        self.cuts = [np.unique(thr[~leaf & (feat == j)]) for j in self.used.tolist()]
        self.thr = np.where(leaf, np.inf, thr)
        self.mleft = nodes["missing_go_to_left"].astype(bool) & ~leaf
        self.feat0 = np.where(leaf, 0, feat)  # leaves read feature 0, unused
        # the kernels' column of a block row: NaN as -inf where NaN goes left, else as is
        self.column = 2 * self.feat0 + 1 - self.mleft
        here = np.arange(len(nodes), dtype=np.intp)
        self.lo = np.where(leaf, here, nodes["left"].astype(np.intp) + base)
        self.hi = np.where(leaf, here, nodes["right"].astype(np.intp) + base)
        # the reference's direction at every node, by the node's own test
        rv = ref[self.feat0]
        with np.errstate(invalid="ignore"):
            self.ref_left = np.where(np.isnan(rv), self.mleft, rv <= self.thr) & ~leaf
        self.ref_child = np.where(self.ref_left, self.lo, self.hi)
        self.child = np.empty(2 * len(nodes), dtype=np.intp)  # (left, right) per node
        self.child[0::2], self.child[1::2] = self.lo, self.hi
        # height: the most steps from a node down to a leaf (children come after parents)
        height = [0] * len(nodes)
        lo_l, hi_l = self.lo.tolist(), self.hi.tolist()
        for q in np.flatnonzero(~leaf)[::-1].tolist():
            height[q] = 1 + max(height[lo_l[q]], height[hi_l[q]])
        self.height = np.asarray(height, dtype=np.intp)
        self.depth = self.height[self.root]  # steps of a walk from each tree's root
        self._leaf_tasks()
        absmax = abs(self.baseline) + sum(float(np.abs(t["value"]).max()) for t in trees)
        # bound on the rounding error of a running sum of the ensemble (both orders)
        self.tolerance = 16.0 * (self.n_trees + 2) * np.finfo(np.float64).eps * absmax
        self.ints, self.floats = _kernel.pack(
            {name: getattr(self, name) for name in _kernel.INT_TABLES},
            {name: getattr(self, name) for name in _kernel.FLOAT_TABLES},
            self.baseline, self.tolerance, self.max_tasks)
        # compile (or load from numba's cache) the scoring kernel now, not on the first
        # decision; raw_scores (tests, decision_function) compiles on first use
        top_reasons(self, np.full((1, n_feat), np.nan), 1)

    def _leaf_tasks(self) -> None:
        """Per leaf: the (feature, restart node) of each reference substitution that
        leaves the leaf's path (the first node on the feature where the reference
        goes the other way), as CSR arrays ``task_ptr`` / ``task_feature`` / ``task_node``;
        ``max_tasks`` bounds the tasks of one row (each tree's largest leaf, summed)."""
        n_nodes = self.leaf.size
        parent = np.full(n_nodes, -1, dtype=np.intp)
        went_left = np.zeros(n_nodes, dtype=bool)
        internal = np.flatnonzero(~self.leaf)
        parent[self.lo[internal]] = internal
        went_left[self.lo[internal]] = True
        parent[self.hi[internal]] = internal
        counts = np.zeros(n_nodes, dtype=np.intp)
        feats: list[int] = []
        starts: list[int] = []
        ref_left, feature, ref_child = (self.ref_left.tolist(), self.feature.tolist(),
                                        self.ref_child.tolist())
        par, wl = parent.tolist(), went_left.tolist()
        for leaf in np.flatnonzero(self.leaf).tolist():
            path = []
            q = leaf
            while par[q] >= 0:
                path.append((par[q], wl[q]))
                q = par[q]
            seen: set[int] = set()
            for nd, left in reversed(path):
                f = feature[nd]
                if left != ref_left[nd] and f not in seen:
                    seen.add(f)
                    feats.append(f)
                    starts.append(ref_child[nd])
            counts[leaf] = len(seen)
        self.task_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        self.task_feature = np.asarray(feats, dtype=np.intp)
        self.task_node = np.asarray(starts, dtype=np.intp)
        self.max_tasks = max(1, int(np.maximum.reduceat(counts, self.root).sum()))

    def raw_scores(self, A: FloatArray) -> FloatArray:
        """Raw log-odds score of each row of ``A`` (shape ``(rows, features)``)."""
        X = np.ascontiguousarray(A, dtype=np.float64)
        out = np.empty(X.shape[0])
        _kernel.raw_scores(X, self.ints, self.floats, out)
        return out

    decision_function = raw_scores


class ReasonArrays(NamedTuple):
    """Top reason codes of rows as flat arrays, one entry per code.

    Entries are ordered by row, then by decreasing impact (ties: feature order).
    """

    row: npt.NDArray[np.intp]
    feature: npt.NDArray[np.intp]
    impact: FloatArray
    sub_score: FloatArray


def top_reasons(trees: FlatTrees, A: FloatArray, k: int
                ) -> tuple[FloatArray, ReasonArrays]:
    """Raw scores and the top ``k`` positive reference-substitution impacts of each row.

    ``impact[i, j] = s(a_i) - s(a_i with feature j at its reference)`` with both
    scores summed exactly as the estimator sums them
    (:func:`riskengine.model.treekernel.explain_rows`). A feature that changes no
    tree's value has impact exactly 0 and gives no code. Each row's codes
    depend on that row only.
    """
    X = np.ascontiguousarray(A, dtype=np.float64)
    n = X.shape[0]
    if k <= 0:
        return trees.raw_scores(X), _NO_REASONS
    out_f = np.empty((n, 1 + 2 * k))
    out_i = np.empty((n, 1 + k), np.int64)
    _kernel.explain_rows(X, k, trees.ints, trees.floats, out_f, out_i)
    scores = out_f[:, 0].copy()
    if n == 1:
        c = int(out_i[0, 0])
        return scores, ReasonArrays(np.zeros(c, np.intp), out_i[0, 1:1 + c].astype(np.intp),
                                    out_f[0, 1:1 + c], out_f[0, 1 + k:1 + k + c])
    r_n = out_i[:, 0]
    keep = np.arange(k) < r_n[:, None]
    return scores, ReasonArrays(np.repeat(np.arange(n), r_n), out_i[:, 1:][keep].astype(np.intp),
                                out_f[:, 1:1 + k][keep], out_f[:, 1 + k:][keep])


_NO_REASONS = ReasonArrays(np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0), np.empty(0))
for _a in _NO_REASONS:  # shared: read-only
    _a.setflags(write=False)


class FlatScorer:
    """PD and reason codes of a :class:`~riskengine.model.pd_model.PDModel` on flat trees.

    The reason codes follow :func:`riskengine.model.explain.reason_codes`
    (reference substitution, stable descending order, positive impacts only);
    ``tests/test_engine.py`` checks both against the reference on hundreds of
    debtors. One code path for one row and for a million.
    """

    def __init__(self, model: Any, top_k: int) -> None:
        if getattr(model, "family", None) != "hgb":
            raise Unsupported("the fast scorer needs the gradient-boosting family")
        self.model = model
        self.reference = np.asarray(model.reference_, dtype=np.float64)
        self.trees = FlatTrees(model.estimator_, self.reference)
        self.top_k = top_k
        self.names = [str(c) for c in model.feature_names_in_]
        self.fill_mask = np.asarray(model.fill_mask_, dtype=bool)

    def prepare(self, A: FloatArray) -> FloatArray:
        """The model's input preparation: inf -> NaN, then its history fill."""
        A = np.where(np.isinf(A), np.nan, A)
        out: FloatArray = self.model._fill(A)
        return out

    def explain(self, A: FloatArray) -> tuple[FloatArray, FloatArray, ReasonArrays, FloatArray]:
        """PDs, prepared rows, reason arrays and each code's PD change."""
        A = self.prepare(np.asarray(A, dtype=np.float64))
        k = min(self.top_k, A.shape[1])
        scores, rs = top_reasons(self.trees, A, k)
        n = scores.shape[0]  # one call for both (the transform is elementwise)
        both = self.model._pd_from_score(np.concatenate([scores, rs.sub_score]))
        pds, pd_sub = both[:n], both[n:]
        return pds, A, rs, pds[rs.row] - pd_sub

    def __call__(self, A: FloatArray) -> tuple[FloatArray, list[list[dict[str, Any]]]]:
        pds, A, rs, pd_delta = self.explain(A)
        out: list[list[dict[str, Any]]] = [[] for _ in range(A.shape[0])]
        values = A[rs.row, rs.feature]
        refs = self.reference[rs.feature]
        for i, j, v, ref, imp, dp in zip(rs.row.tolist(), rs.feature.tolist(),
                                         values.tolist(), refs.tolist(), rs.impact.tolist(),
                                         pd_delta.tolist(), strict=True):
            miss = v != v
            out[i].append({"feature": self.names[j], "value": None if miss else v,
                           "reference": ref,
                           "direction": "missing" if miss else
                           ("higher" if v > ref else "lower"),
                           "impact": imp, "pd_delta": dp})
        return pds, out
