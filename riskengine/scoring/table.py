"""The decision core as one Arrow table (the batch job's path).

:func:`_decide_table` gives the numbers of :func:`riskengine.scoring.core._decide_core`
(the same :func:`~riskengine.scoring.core._core_numbers`) as an Arrow table of
:func:`decision_schema`, built from arrays: the reason codes are assembled from flat
arrays into an Arrow ``list<struct>`` (:func:`_reason_lists`, the top codes by a
compiled selection, :func:`_top_codes`) instead of one dict per code. Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskengine.contracts.decision import DECISION_FIELDS
from riskengine.model.master_scale import GRADES
from riskengine.scoring.core import (
    _BASIS_CODES,
    _TOP_REASONS,
    EngineParts,
    Scorer,
    _Core,
    _core_numbers,
    _reason_key,
    _reason_tuples,
)
from riskengine.scoring.financials import BASES
from riskengine.scoring.inputs import DebtorInputs, PairInputs
from riskengine.scoring.overlay import _OverlayStatic
from riskengine.scoring.reasons import DIRECTIONS, reason_type
from riskengine.scoring.records import _input_hashes

__all__ = ["decision_schema"]

FloatArray = npt.NDArray[np.float64]


def decision_schema() -> Any:
    """The Arrow schema of decision rows (:data:`~riskengine.contracts.decision.DECISION_FIELDS`).

    Text columns are ``large_string``, the reason lists ``list<string>`` and the
    reason codes ``list<struct<code, feature, value, direction, odds_factor>>``
    (:func:`riskengine.scoring.reasons.reason_type`: fields, no text): the types
    ``pyarrow`` gives the columns of :class:`~riskengine.scoring.engine.DecisionBatch`.
    """
    return pa.schema([pa.field(f, _arrow_type(_DECISION_TYPES.get(f, "str")))
                      for f in DECISION_FIELDS])


_DECISION_TYPES: dict[str, str] = {
    "pd": "float", "pd_model": "float", "requested_limit": "float",
    "approved_limit": "float", "insured_limit": "float", "retained_exposure": "float",
    "expected_loss": "float", "expected_loss_uninsured": "float", "advance_rate": "float",
    "service_commission_rate": "float", "discount_rate": "float",
    "reason_codes": "reasons", "binding_constraints": "names", "knockouts": "names",
    "limit_notes": "names",
}  # every other decision field is text


def _arrow_type(kind: str) -> Any:
    if kind == "float":
        return pa.float64()
    if kind == "names":
        return pa.list_(pa.string())
    if kind == "reasons":
        return reason_type()
    return pa.large_string()


def _decide_table(
    engine: EngineParts, deb: DebtorInputs, pairs: PairInputs, as_of: str,
    decided_at: str | None, scorer: Scorer,
) -> Any:
    """:func:`~riskengine.scoring.core._decide_core` as one Arrow table
    (:func:`decision_schema`), built from arrays.

    The same numbers and the same reason codes as
    :func:`~riskengine.scoring.core._decide_core` (which the single-debtor path uses);
    the reason codes are assembled from flat arrays into an Arrow ``list<struct>``
    instead of one dict per code.
    """
    ov = engine.overlay
    pd_model = np.where(deb.basis == 1, ov.tax_return_pd, ov.no_financials_pd).astype(float)
    rows = np.flatnonzero(deb.basis == 0)
    mr = _model_reason_arrays(scorer, deb.st_X[rows], rows, pd_model)
    c = _core_numbers(engine, deb, pairs, pd_model)
    reasons = _reason_lists(engine, deb, c, mr, pairs.debtor_pos)
    m = pairs.debtor_pos.shape[0]
    dp = pairs.debtor_pos
    schema = decision_schema()
    text = pa.large_string()

    def floats(a: FloatArray, ok: npt.NDArray[np.bool_] | None = None) -> Any:
        a = np.asarray(a, dtype=np.float64)
        keep = np.isfinite(a) if ok is None else np.isfinite(a) & ok
        return pa.array(a, type=pa.float64(), mask=None if keep.all() else ~keep)

    def nan_null(a: FloatArray) -> Any:  # what pyarrow makes of a float column: NaN -> null
        return pa.array(np.asarray(a, dtype=np.float64), type=pa.float64(), from_pandas=True)

    def strings(values: np.ndarray) -> Any:
        return pa.array(values, type=text, from_pandas=True)

    def as_text(values: np.ndarray) -> Any:  # strings(values.astype(str)), without the copy
        try:
            arr = strings(values)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arr = None
        if arr is None or arr.null_count:  # not all text: str() of each, as astype(str)
            return strings(values.astype(str))
        return arr

    def const(value: str | None) -> Any:
        if value is None:
            return pa.nulls(m, text)
        return pa.repeat(pa.scalar(value, text), m)

    uniq, inv_np = np.unique(_reason_key(c), return_inverse=True)
    tuples = [_reason_tuples(u) for u in uniq.tolist()]
    inv = pa.array(inv_np.ravel().astype(np.int64))
    names_type = _arrow_type("names")

    def reason_names(k: int) -> Any:
        return pa.array([t[k] for t in tuples], type=names_type).take(inv)

    cols: dict[str, Any] = {
        "debtor_id": strings(deb.debtor_id).take(pa.array(dp)),
        "supplier_id": as_text(pairs.supplier_id),
        "as_of": const(as_of),
        "pd": floats(c.pd_final[dp], c.rated),
        "pd_model": floats(c.pd_model[dp]),
        "grade": _GRADE_TEXT().take(pa.array(np.where(c.rated, c.gidx, 0))),
        "rating_basis": pa.array(BASES, type=text).take(pa.array(deb.basis[dp])),
        "reason_codes": reasons,
        "requested_limit": floats(pairs.requested),
        "approved_limit": nan_null(c.approved),
        "decision_type": as_text(c.decision),
        "binding_constraints": reason_names(0),
        "knockouts": reason_names(1),
        "limit_notes": reason_names(2),
        "product": as_text(pairs.product),
        "insured_limit": nan_null(c.insured),
        "retained_exposure": nan_null(c.retained),
        "expected_loss": floats(c.el),
        "expected_loss_uninsured": floats(c.el_un),
        "advance_rate": floats(c.adv),
        "service_commission_rate": floats(c.comm),
        "discount_rate": floats(c.disc),
        "currency": as_text(pairs.currency),
        "model_version": const(engine.model_version),
        "policy_version": const(engine.policy.version),
        "master_scale_version": const(engine.master_scale.version),
        "overlay_version": const(ov.version),
        "input_hash": _input_hashes(as_of, deb.digest, dp, pairs.terms),
        "decided_at": const(decided_at),
    }
    return pa.Table.from_arrays([cols[f] for f in DECISION_FIELDS], schema=schema)


@functools.lru_cache(maxsize=1)
def _GRADE_TEXT() -> Any:
    """Grade text by grade index (index 0: null, unrated)."""
    return pa.array([None, *GRADES], type=pa.large_string())


@dataclass(frozen=True)
class _ModelReasons:
    """Statement-model reason codes as flat arrays, ordered by debtor then rank."""

    owner: npt.NDArray[np.intp]        # debtor position
    feature: npt.NDArray[np.intp]      # code into ``names``
    names: tuple[str, ...]             # feature names
    value: FloatArray                  # NaN: missing
    direction: npt.NDArray[np.int8]    # 0 higher, 1 lower, 2 missing
    impact: FloatArray


def _model_reason_arrays(scorer: Scorer, X: FloatArray, rows: npt.NDArray[np.intp],
                         pd_model: FloatArray) -> _ModelReasons:
    """Score ``X`` (the debtors ``rows``) into ``pd_model``; their reason codes, flat."""
    if rows.size == 0:
        return _ModelReasons(np.empty(0, np.intp), np.empty(0, np.intp), (), np.empty(0),
                             np.empty(0, np.int8), np.empty(0))
    explain = getattr(scorer, "explain", None)
    if explain is not None:
        pds, A, rs, _ = explain(X)
        pd_model[rows] = pds
        value = A[rs.row, rs.feature]
        ref = scorer.reference[rs.feature]  # type: ignore[attr-defined]
        miss = np.isnan(value)
        direction = np.where(miss, 2, np.where(value > ref, 0, 1)).astype(np.int8)
        names = tuple(str(x) for x in scorer.names)  # type: ignore[attr-defined]
        return _ModelReasons(rows[rs.row], np.asarray(rs.feature, dtype=np.intp), names, value,
                             direction, np.asarray(rs.impact, dtype=np.float64))
    p, codes = scorer(X)
    pd_model[rows] = p
    flat = [(i, rc) for i, r in zip(rows.tolist(), codes, strict=True) for rc in r]
    fcodes, fnames = pd.factorize(pd.Series([str(rc["feature"]) for _, rc in flat],
                                            dtype=object))
    return _ModelReasons(
        np.array([i for i, _ in flat], dtype=np.intp),
        np.asarray(fcodes, dtype=np.intp), tuple(str(x) for x in fnames),
        np.array([np.nan if rc["value"] is None else rc["value"] for _, rc in flat],
                 dtype=np.float64),
        np.array([DIRECTIONS.index(rc["direction"]) for _, rc in flat], dtype=np.int8),
        np.array([float(rc["impact"]) for _, rc in flat], dtype=np.float64))


def _reason_lists(engine: EngineParts, deb: DebtorInputs, c: _Core, mr: _ModelReasons,
                  at: npt.NDArray[np.int64]) -> Any:
    """3. Reason codes of the debtors ``at`` (positions, e.g. each pair's debtor) as an
    Arrow ``list<struct>`` (:func:`~riskengine.scoring.reasons.reason_type`), one list per position.

    The codes and the order of :func:`~riskengine.scoring.core._reason_dicts`: the flags
    (no valid PD, insolvency, past due, rating basis), then the top codes by decreasing
    impact, model codes first on ties. Each field is one flat array, taken once into the
    lists of ``at``.
    """
    n = deb.debtor_id.shape[0]
    st = _OverlayStatic.of(engine.overlay)
    s = pa.string()
    # candidates: model codes (in rank order), then positive overlay terms (term order)
    pr, pc = np.nonzero(c.contrib > 0)
    k_model = mr.owner.size
    owner = np.concatenate([mr.owner, pr]).astype(np.intp)
    impact = np.concatenate([mr.impact, c.contrib[pr, pc]])
    top, top_rank = _top_codes(owner, impact, n, _TOP_REASONS)  # model codes first on ties
    is_model = top < k_model
    n_heads = 4
    # per group: owner, slot, code, feature (Arrow text), value, direction, odds factor
    groups: list[tuple[Any, ...]] = []

    def texts(values: Sequence[str]) -> Any:
        return pa.array(values, type=s)

    def repeat(text: str, k: int) -> Any:
        return pa.repeat(pa.scalar(text, s), k)

    mi = top[is_model]
    if mi.size:
        code = mr.feature[mi]
        groups.append((owner[mi], n_heads + top_rank[is_model], repeat("statement_model", mi.size),
                       texts(mr.names).take(pa.array(code)), mr.value[mi], mr.direction[mi],
                       np.full(mi.size, np.nan)))
    oi = top[~is_model] - k_model
    if oi.size:
        term, rows = pc[oi], pr[oi]
        groups.append((rows, n_heads + top_rank[~is_model], repeat("overlay", oi.size),
                       texts(st.features).take(pa.array(term)),
                       deb.overlay_X[rows, term].astype(np.float64), np.zeros(oi.size, np.int8),
                       _exps(c.contrib[rows, term].astype(np.float64))))
    # the flags, before the top codes: (who, code, feature, value, direction)
    heads = [
        (~c.valid & ~c.default, "no_valid_pd", "pd", np.nan, 2),
        (deb.insolvency, "insolvency", "adv_insolvency", 1.0, 0),
        (deb.past_due_default, "past_due_default", "past_due_amount", None, 0),
        (deb.basis != 0, None, "rating_basis", np.nan, 2),
    ]
    for slot, (flag, code_text, feat, v, dcode) in enumerate(heads):
        who = np.flatnonzero(flag)
        if who.size == 0:
            continue
        values = deb.past_due_amount[who].astype(np.float64) if v is None \
            else np.full(who.size, v)
        codes = texts(_BASIS_CODES).take(pa.array(deb.basis[who])) if code_text is None \
            else repeat(code_text, who.size)
        groups.append((who, np.full(who.size, slot), codes, repeat(feat, who.size), values,
                       np.full(who.size, dcode, np.int8), np.full(who.size, np.nan)))
    rtype = reason_type()
    if not groups:
        return pa.ListArray.from_arrays(pa.array(np.zeros(at.size + 1, np.int32)),
                                        pa.array([], type=rtype.value_type), type=rtype)
    # each debtor's codes by slot (one code per debtor and slot), then per position
    grid = np.full((n, n_heads + _TOP_REASONS), -1, dtype=np.int64)
    grid[np.concatenate([g[0] for g in groups]), np.concatenate([g[1] for g in groups])] = \
        np.arange(sum(g[0].size for g in groups))
    per_at = grid[at]
    found = per_at >= 0
    order = per_at[found]  # row-major: by position, then slot
    take = pa.array(order)
    val = np.concatenate([g[4] for g in groups])[order]
    odds = np.concatenate([g[6] for g in groups])[order]
    struct = pa.StructArray.from_arrays(
        [pa.concat_arrays([g[2] for g in groups]).take(take),
         pa.concat_arrays([g[3] for g in groups]).take(take),
         pa.array(val, type=pa.float64(), mask=np.isnan(val)),
         texts(DIRECTIONS).take(pa.array(np.concatenate([g[5] for g in groups])[order])),
         pa.array(odds, type=pa.float64(), mask=np.isnan(odds))],
        fields=list(rtype.value_type))
    offsets = np.zeros(at.size + 1, dtype=np.int32)
    np.cumsum(found.sum(axis=1), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct, type=rtype)


def _top_codes(owner: npt.NDArray[np.intp], impact: FloatArray, n: int, k: int
               ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
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
