"""Frame lookups shared by the batch path's input builders: positions of ids, the
debtors aligned on the debtor index, the insurer limit of each pair. Pure: no I/O."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["insurer_inputs"]


def _positions(values: Any, ids: pd.Index) -> npt.NDArray[np.int64]:
    """Position of each value in ``ids`` (distinct), -1 when absent or missing: one
    Arrow hash lookup for arrow-backed text (:func:`riskengine.features.adverse._positions`)."""
    from riskengine.features.adverse import _positions as positions

    s = values if isinstance(values, (pd.Series, pd.Index)) else pd.Series(values, dtype="str")
    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        s = s.astype("str")
    out: npt.NDArray[np.int64] = positions(s, ids)
    return out


def _on_index(debtors: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """The debtors table indexed by ``debtor_id`` and aligned on ``ids``."""
    pos = _positions(debtors["debtor_id"], ids)
    if len(pos) == len(ids) and bool((pos == np.arange(len(pos))).all()):
        return debtors.set_axis(ids, axis=0)  # the same rows in the same order
    frame = debtors.set_index(debtors["debtor_id"].astype("str"))
    return frame.reindex(ids)


def insurer_inputs(frame: pd.DataFrame | None, debtor_id: np.ndarray, supplier_id: np.ndarray,
                   product: np.ndarray, currency: Any, legacy: npt.NDArray[np.float64],
                   policy: Any, rates: npt.NDArray[np.float64] | None = None
                   ) -> tuple[Any, npt.NDArray[np.int64], list[dict[str, Any]]]:
    """The insurer limits of a batch (:class:`riskengine.policy.insurer.InsurerRows` of the
    validated ``insurer_limits`` frame), the row applied to each pair
    (:func:`riskengine.policy.insurer.match_rows`, a row in another currency than its pair
    converted at ``rates``, the rates in force on the decision date) and the error rows of
    the rows refused,
    with one ``debtor_rejected`` row per debtor they reject whole
    (:func:`riskengine.validation.insurer.insurer_row_errors`)."""
    from riskengine.policy.insurer import InsurerRows, match_rows
    from riskengine.validation.insurer import insurer_row_errors

    rows = InsurerRows.from_frame(frame)
    cur = np.asarray(pd.Series(currency).astype(object), dtype=object)
    pair_row, problems = match_rows(rows, debtor_id, supplier_id, product, cur, legacy, policy,
                                    rates)
    if not problems or frame is None:
        return rows, pair_row, []
    refused: list[dict[str, Any]] = insurer_row_errors(frame, problems).to_dict("records")
    return rows, pair_row, refused
