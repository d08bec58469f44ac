"""The decision core as one Arrow table (the batch job's path).

:func:`_decide_table` gives the numbers of :func:`riskengine.scoring.core._decide_core`
(the same :func:`~riskengine.scoring.core._core_numbers`) as an Arrow table of
:func:`decision_schema`, built from arrays: the reason codes are assembled from flat
arrays into an Arrow ``list<struct>`` by
:func:`riskengine.scoring.reason_rows.reason_lists` (the same reason arrays the
decision columns take as dicts) instead of one dict per code. Pure: no I/O.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from riskengine.contracts.decision import DECISION_FIELDS
from riskengine.model.master_scale import GRADES
from riskengine.scoring.core import EngineParts, Scorer, _core_numbers, _reason_key, _reason_tuples
from riskengine.scoring.financials import BASES
from riskengine.scoring.inputs import DebtorInputs, PairInputs
from riskengine.scoring.reason_rows import reason_lists
from riskengine.scoring.reasons import reason_type
from riskengine.scoring.records import _input_hashes, supplier_extras

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
    "approved_limit": "float", "approved_limit_base": "float", "fx_rate": "float",
    "insured_limit": "float", "retained_exposure": "float",
    "expected_loss": "float", "expected_loss_uninsured": "float", "advance_rate": "float",
    "service_commission_rate": "float", "discount_rate": "float",
    "reason_codes": "reasons", "binding_constraints": "names", "knockouts": "names",
    "limit_notes": "names", "debtor_capacity": "float",
    "approved_outstanding": "float", "current_limit": "float", "supplier_cap": "float",
    "insured_amount": "float", "limit_before_insurer": "float",
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

    The same numbers and the same reason arrays as
    :func:`~riskengine.scoring.core._decide_core` (which the single-debtor path uses),
    rendered as an Arrow ``list<struct>`` instead of one dict per code.
    """
    ov = engine.overlay
    c = _core_numbers(engine, deb, pairs, scorer, as_of)
    reasons = reason_lists(c.debtor_reasons, pairs.debtor_pos)
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
        "approved_limit_base": nan_null(c.approved_base),
        "fx_rate": floats(pairs.fx_base),
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
        "input_hash": _input_hashes(as_of, deb.digest, dp, pairs.terms,
                                    supplier_extras(c.supplier.rating, c.supplier.debtor_hhi)),
        "decided_at": const(decided_at),
        "group_id": strings(pairs.group_id),
        "debtor_capacity": floats(c.capacity, c.rated),
        "approved_outstanding": floats(pairs.protected),
        "current_limit": floats(pairs.current_limit),
        "supplier_grade": _GRADE_TEXT().take(pa.array(c.supplier.grade)),
        "supplier_cap": floats(c.supplier_cap),
        "cover_basis": strings(c.cover_basis),
        "insured_amount": nan_null(c.insured_amount),
        "insurer_policy_id": strings(c.insurer_policy),
        "insurer_status": strings(c.insurer_status),
        "limit_before_insurer": nan_null(c.wanted),
    }
    return pa.Table.from_arrays([cols[f] for f in DECISION_FIELDS], schema=schema)


@functools.lru_cache(maxsize=1)
def _GRADE_TEXT() -> Any:
    """Grade text by grade index (index 0: null, unrated)."""
    return pa.array([None, *GRADES], type=pa.large_string())
