"""Reason codes per debtor as structured arrays: one builder, two renderings.

:func:`reason_rows` builds the reason codes of 1 ... n debtors (step 3 of
:mod:`riskengine.scoring.core`) as flat arrays of the fields of
:data:`~riskengine.scoring.reasons.REASON_FIELDS`, coded as integers: the flags
(no valid PD, insolvency, past due, rating basis), then the top codes by
decreasing impact, statement-model codes first on ties. The batch table takes
them as an Arrow ``list<struct>`` per pair (:func:`reason_lists`), the decision
columns as one tuple of dicts per debtor (:func:`reason_dicts`); both read the
same arrays, so the single-debtor path and the batch cannot disagree. Text is
made at the edges (:mod:`riskengine.scoring.reasons`). Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskengine.scoring.inputs import DebtorInputs
from riskengine.scoring.overlay import Overlay, _OverlayStatic, model_rated
from riskengine.scoring.reasons import DIRECTIONS, REASON_CODES, reason_type

__all__ = ["ReasonRows", "reason_rows", "reason_lists", "reason_dicts"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Top statement-model and overlay codes kept per debtor (after the flags).
TOP_REASONS = 5
#: The reason code of each rating basis without statements (index: basis code).
BASIS_CODES = ("", "basis_tax_return", "basis_no_financials")

_CODE = {c: i for i, c in enumerate(REASON_CODES)}
_BASIS_CODE = np.array([-1, _CODE["basis_tax_return"], _CODE["basis_no_financials"]])
_FLAG_FEATURES = ("pd", "adv_insolvency", "past_due_amount", "rating_basis")
_N_FLAGS = len(_FLAG_FEATURES)
# per flag slot: no valid PD, insolvency, past due, rating basis (its code by basis)
_FLAG_CODE = np.array([_CODE["no_valid_pd"], _CODE["insolvency"], _CODE["past_due_default"], -1])
_FLAG_VALUE = np.array([np.nan, 1.0, np.nan, np.nan])  # past due: the amount
_FLAG_DIRECTION = np.array([2, 0, 0, 2], dtype=np.int8)


@dataclass(frozen=True)
class ModelReasons:
    """Statement-model reason codes as flat arrays, ordered by debtor then rank."""

    owner: IntArray                    # debtor position
    feature: IntArray                  # code into ``names``
    names: tuple[str, ...]             # feature names
    value: FloatArray                  # NaN: missing
    direction: npt.NDArray[np.int8]    # code into DIRECTIONS
    impact: FloatArray


def model_reason_arrays(scorer: Any, X: FloatArray, rows: IntArray,
                        pd_model: FloatArray) -> ModelReasons:
    """Score ``X`` (the debtors ``rows``) into ``pd_model``; their reason codes, flat.

    ``scorer`` is a :class:`~riskengine.scoring.core.Scorer`; one with an
    ``explain`` method (the flattened trees) gives its arrays directly.
    """
    if rows.size == 0:
        return ModelReasons(np.empty(0, np.intp), np.empty(0, np.intp), (), np.empty(0),
                            np.empty(0, np.int8), np.empty(0))
    explain = getattr(scorer, "explain", None)
    if explain is not None:
        pds, A, rs, _ = explain(X)
        pd_model[rows] = pds
        value = A[rs.row, rs.feature]
        ref = scorer.reference[rs.feature]
        miss = np.isnan(value)
        direction = np.where(miss, 2, np.where(value > ref, 0, 1)).astype(np.int8)
        names = _name_tuple(scorer.names)
        return ModelReasons(rows[rs.row], np.asarray(rs.feature, dtype=np.intp), names, value,
                            direction, np.asarray(rs.impact, dtype=np.float64))
    p, codes = scorer(X)
    pd_model[rows] = p
    flat = [(i, rc) for i, r in zip(rows.tolist(), codes, strict=True) for rc in r]
    fcodes, fnames = pd.factorize(pd.Series([str(rc["feature"]) for _, rc in flat],
                                            dtype=object))
    return ModelReasons(
        np.array([i for i, _ in flat], dtype=np.intp),
        np.asarray(fcodes, dtype=np.intp), tuple(str(x) for x in fnames),
        np.array([np.nan if rc["value"] is None else rc["value"] for _, rc in flat],
                 dtype=np.float64),
        np.array([DIRECTIONS.index(rc["direction"]) for _, rc in flat], dtype=np.int8),
        np.array([float(rc["impact"]) for _, rc in flat], dtype=np.float64))


_NAMES: dict[tuple[Any, ...], tuple[str, ...]] = {}


def _name_tuple(names: Any) -> tuple[str, ...]:
    """``tuple(str(x) for x in names)`` (a scorer's feature names), cached by the names."""
    key = tuple(names)
    out = _NAMES.get(key)
    if out is None:
        out = tuple(str(x) for x in key)
        if len(_NAMES) >= 64:
            _NAMES.clear()
        _NAMES[key] = out
    return out


@dataclass(frozen=True)
class ReasonRows:
    """Reason codes of ``n`` debtors as flat fields.

    Debtor ``i``'s codes are the entries ``grid[i, s]`` that are ``>= 0``, in
    slot order (the flags' slots first, then the top codes by rank).
    """

    grid: npt.NDArray[np.int64]        # (n, slots) entry index, -1: empty slot
    code: IntArray                     # (entries,) code into REASON_CODES
    feature: IntArray                  # code into ``features``
    features: tuple[str, ...]
    value: FloatArray                  # NaN: none
    direction: npt.NDArray[np.int8]    # code into DIRECTIONS
    odds: FloatArray                   # NaN: none


def reason_rows(overlay: Overlay, deb: DebtorInputs, contrib: FloatArray,
                valid: npt.NDArray[np.bool_], default: npt.NDArray[np.bool_],
                mr: ModelReasons) -> ReasonRows:
    """3. The reason codes of each debtor of ``deb``.

    Parameters
    ----------
    overlay : Overlay
    deb : DebtorInputs
    contrib : numpy.ndarray
        ``(n, k)`` overlay contributions to the log-odds; a positive one is a candidate.
    valid, default : numpy.ndarray of bool
        The model PD is a probability; the debtor is in default.
    mr : ModelReasons
        The statement model's candidates, in rank order per debtor.
    """
    n = deb.debtor_id.shape[0]
    st = _OverlayStatic.of(overlay)
    # candidates: model codes (in rank order), then positive overlay terms (term order)
    pr, pc = np.nonzero(contrib > 0)
    k_model = mr.owner.size
    n_names = len(mr.names)
    impact = np.concatenate([mr.impact, contrib[pr, pc]])
    owner = np.concatenate([mr.owner, pr])
    top, rank = _top_codes(owner, impact, n, TOP_REASONS)  # model codes first on ties
    is_ov = top >= k_model
    odds = np.full(top.size, np.nan)
    odds[is_ov] = _exps(impact[top[is_ov]])  # what the overlay term multiplies the odds by
    # the flags, in slots before the top codes
    who, slot = np.nonzero(np.array(
        [~valid & ~default, deb.insolvency, deb.past_due_default,
         ~model_rated(deb.basis, overlay)]).T)  # the basis flag: a prior PD
    # each debtor's codes by slot (one code per debtor and slot): the flags' entries
    # after the top codes'
    grid = np.full((n, _N_FLAGS + TOP_REASONS), -1, dtype=np.int64)
    grid[np.concatenate([owner[top], who]), np.concatenate([_N_FLAGS + rank, slot])] = \
        np.arange(top.size + who.size)
    return ReasonRows(
        grid,
        np.concatenate([np.where(is_ov, _CODE["overlay"], _CODE["statement_model"]),
                        np.where(slot == 3, _BASIS_CODE[deb.basis[who]], _FLAG_CODE[slot])]),
        np.concatenate([np.concatenate([mr.feature, n_names + pc])[top],
                        n_names + len(st.features) + slot], dtype=np.intp),
        (*mr.names, *st.features, *_FLAG_FEATURES),
        np.concatenate([np.concatenate([mr.value, deb.overlay_X[pr, pc]])[top],
                        np.where(slot == 2, deb.past_due_amount[who], _FLAG_VALUE[slot])],
                       dtype=np.float64),
        np.concatenate([np.concatenate([mr.direction, np.zeros(pr.size, np.int8)])[top],
                        _FLAG_DIRECTION[slot]]),
        np.concatenate([odds, np.full(who.size, np.nan)]))


def reason_lists(r: ReasonRows, at: npt.NDArray[np.int64]) -> Any:
    """The reason codes of the debtors ``at`` (positions, e.g. each pair's debtor) as an
    Arrow ``list<struct>`` (:func:`~riskengine.scoring.reasons.reason_type`), one list
    per position (the batch table)."""
    per_at = r.grid[at]
    found = per_at >= 0
    order = per_at[found]  # row-major: by position, then slot
    s = pa.string()
    val = r.value[order]
    odds = r.odds[order]
    rtype = reason_type()
    struct = pa.StructArray.from_arrays(
        [_texts(REASON_CODES).take(pa.array(r.code[order])),
         pa.array(r.features, type=s).take(pa.array(r.feature[order])),
         pa.array(val, type=pa.float64(), mask=np.isnan(val)),
         _texts(DIRECTIONS).take(pa.array(r.direction[order])),
         pa.array(odds, type=pa.float64(), mask=np.isnan(odds))],
        fields=list(rtype.value_type))
    offsets = np.zeros(at.size + 1, dtype=np.int32)
    np.cumsum(found.sum(axis=1), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct, type=rtype)


@functools.cache
def _texts(values: tuple[str, ...]) -> Any:
    return pa.array(values, type=pa.string())


def reason_dicts(r: ReasonRows) -> list[tuple[dict[str, Any], ...]]:
    """The reason codes of each debtor as a tuple of dicts of
    :data:`~riskengine.scoring.reasons.REASON_FIELDS` (the decision columns);
    None where :func:`reason_lists` has a null."""
    codes = [REASON_CODES[i] for i in r.code.tolist()]
    feats = [r.features[i] for i in r.feature.tolist()]
    dirs = [DIRECTIONS[i] for i in r.direction.tolist()]
    vals = [None if v != v else v for v in r.value.tolist()]
    odds = [None if v != v else v for v in r.odds.tolist()]
    return [tuple({"code": codes[j], "feature": feats[j], "value": vals[j],
                   "direction": dirs[j], "odds_factor": odds[j]} for j in row if j >= 0)
            for row in r.grid.tolist()]


def _top_codes(owner: IntArray, impact: FloatArray, n: int, k: int
               ) -> tuple[IntArray, IntArray]:
    """The first ``k`` candidates of each owner (``0 <= owner < n``) by decreasing
    impact, the earlier candidate first on ties, NaN impacts last.

    The rows of ``np.lexsort((np.arange(len(owner)), -impact, owner))`` ranked
    below ``k`` in their owner, selected per owner by a compiled ``k``-slot
    insertion (:func:`_select_top`): positions into the candidates, ordered by
    owner then rank, and their ranks.
    """
    size = min(owner.size, n * k)
    top = np.empty(size, dtype=np.intp)
    rank = np.empty(size, dtype=np.intp)
    kept = _top_kernel()(np.asarray(owner, dtype=np.intp),
                         np.asarray(impact, dtype=np.float64), n, k, top, rank)
    return top[:kept], rank[:kept]


def _select_top(owner: Any, impact: Any, n: int, k: int, top: Any,
                rank: Any) -> int:  # pragma: no cover - compiled
    """Kernel of :func:`_top_codes` (compiled by numba, see :func:`_top_kernel`);
    returns the number of candidates written to ``top`` and ``rank``."""
    start = np.zeros(n + 1, np.int64)
    for j in range(owner.shape[0]):
        start[owner[j] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    by = np.empty(owner.shape[0], np.int64)  # by owner, each owner's in their order
    fill = start[:n].copy()
    for j in range(owner.shape[0]):
        by[fill[owner[j]]] = j
        fill[owner[j]] += 1
    slot = np.empty(k, np.int64)
    key = np.empty(k)  # -impact of the slots, ascending (NaN last)
    out = 0
    for i in range(n):
        c = 0
        for q in range(start[i], start[i + 1]):
            j = by[q]
            x = -impact[j]
            at = c  # after every slot it does not come strictly before
            while at > 0 and (x < key[at - 1] or (key[at - 1] != key[at - 1] and x == x)):
                at -= 1
            if at < k:
                for s in range(min(c, k - 1), at, -1):
                    slot[s] = slot[s - 1]
                    key[s] = key[s - 1]
                slot[at] = j
                key[at] = x
                c = min(c + 1, k)
        for s in range(c):
            top[out] = slot[s]
            rank[out] = s
            out += 1
    return out


@functools.cache
def _top_kernel() -> Any:
    """:func:`_select_top` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_select_top)


def _exps(values: FloatArray) -> FloatArray:
    """``math.exp`` of each value: the same C library call, compiled
    (:func:`_exp_kernel`); a finite value too large raises math.exp's OverflowError."""
    out = np.empty(values.shape[0])
    _exp_kernel()(np.ascontiguousarray(values, dtype=np.float64), out)
    over = np.isinf(out) & np.isfinite(values)
    if over.any():
        math.exp(float(values[over][0]))
    return out


def _exp_all(values: Any, out: Any) -> None:  # pragma: no cover - compiled
    """Kernel of :func:`_exps`."""
    for i in range(values.shape[0]):
        out[i] = math.exp(values[i])


@functools.cache
def _exp_kernel() -> Any:
    """:func:`_exp_all` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_exp_all)
