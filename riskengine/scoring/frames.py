"""Frame lookups shared by the batch path's input builders: positions of ids, the
debtors aligned on the debtor index. Pure: no I/O."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__: list[str] = []


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
