"""The money unit of a PD model, and the size features moved into it (issue 16/17).

Ratios do not depend on the unit of money, but the two size features do:
``st_log_total_assets`` and ``st_log_revenue`` are the natural log of an amount in the
units of the statement's currency. A model learns them in one unit (the US champion: USD
millions, the unit of the US panel), so every path that feeds a model moves them into
the model's declared unit first, here, with one function:

    size_in_unit = log(amount) + log(rate statement currency -> unit currency) + log(source
    scale) - log(unit scale)

where the rate is the one in force on the decision date (``rates``: a vector of
:meth:`riskengine.features.fx.FxRates.at`, units of the reporting currency per one unit of
each currency, so ``rate a -> b = rates[a] / rates[b]``) and the source scale is 1 for a
book's statements (amounts in units of their currency) and the panel's scale for a
training panel (the US panel is in USD millions: its shift into a USD-millions model is
exactly 0, so its features are unchanged to the bit).

No rate for the conversion (the unit's currency, or the statement's, has no rate in force):
the size features become missing (NaN; the model handles missing values) and the row is
flagged (the decision's note ``size_not_converted``); never a value in a wrong unit.

Pure arrays: no I/O.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.contracts.schemas import CURRENCIES
from riskengine.errors import ModelArtifactError
from riskengine.features.fx import with_missing
from riskengine.features.statement_ratios import SIZE_FEATURES

__all__ = ["MoneyUnit", "SIZE_FEATURES", "MONEY_UNIT_KEY", "size_shift", "size_in_unit"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: The key of the unit in a model's metadata (``pd_model.skops.json``).
MONEY_UNIT_KEY = "money_unit"
_CODE = {c: i for i, c in enumerate(CURRENCIES)}


@dataclass(frozen=True, slots=True)
class MoneyUnit:
    """A unit of money: ``scale`` units of ``currency`` (USD 1e6: USD millions).

    Examples
    --------
    >>> MoneyUnit("USD", 1e6).to_dict()
    {'currency': 'USD', 'scale': 1000000.0}
    """

    currency: str
    scale: float

    def __post_init__(self) -> None:
        if self.currency not in _CODE:
            raise ValueError(f"money unit currency {self.currency!r} is not an ISO 4217 code "
                             "of riskengine.contracts.schemas.CURRENCIES")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale)
                and self.scale > 0):
            raise ValueError(f"money unit scale {self.scale!r} is not a finite number > 0")

    def to_dict(self) -> dict[str, Any]:
        """``{"currency": ..., "scale": ...}`` as a model's metadata holds it."""
        return {"currency": self.currency, "scale": float(self.scale)}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], source: str) -> MoneyUnit:
        """The unit a model's metadata declares (key :data:`MONEY_UNIT_KEY`).

        Raises
        ------
        ModelArtifactError
            The key is missing or not ``{"currency": ISO code, "scale": number > 0}``;
            the message names ``source`` (the metadata file) and the key. A model without
            a unit is never read in a guessed one.
        """
        got = meta.get(MONEY_UNIT_KEY)
        if got is None:
            raise ModelArtifactError(
                f"{source}: key {MONEY_UNIT_KEY!r} is missing. A PD model must declare the "
                "money unit its size features were learned in, e.g. "
                '"money_unit": {"currency": "USD", "scale": 1000000.0} (docs/TRAINING.md).')
        try:
            return cls(str(got["currency"]), float(got["scale"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise ModelArtifactError(
                f"{source}: key {MONEY_UNIT_KEY!r} must be {{\"currency\": <ISO code>, "
                f"\"scale\": <number > 0>}} ({exc}).") from exc


def size_shift(codes: Any, rates: FloatArray, unit: MoneyUnit, source_scale: float = 1.0
               ) -> FloatArray:
    """What to add to ``log(amount)`` of each row to have it in ``unit``.

    Parameters
    ----------
    codes : array-like of int
        Each row's currency (position in ``CURRENCIES``; -1: none, NaN shift).
    rates : numpy.ndarray
        Rates in force (:meth:`~riskengine.features.fx.FxRates.at`), units of the
        reporting currency per one unit of each currency.
    unit : MoneyUnit
        The model's unit.
    source_scale : float, default 1
        Units of the row's currency per amount (1 for statements; 1e6 for a panel in
        millions).

    Returns
    -------
    numpy.ndarray
        ``log(rates[code] / rates[unit]) + log(source_scale) - log(unit.scale)``, exactly
        ``log(source_scale) - log(unit.scale)`` for rows already in the unit's currency
        (0.0 when the scales agree too), NaN where a rate is missing.

    Examples
    --------
    A EUR statement, 1 USD = 0.9247 EUR (so 1.0814 USD per EUR), into USD millions:
    log(1.0814) - log(1e6) = 0.07826 - 13.81551 = -13.73725.

    >>> rates = np.full(len(CURRENCIES), np.nan); rates[_CODE["EUR"]] = 1.0
    >>> rates[_CODE["USD"]] = 1 / 1.0814
    >>> round(float(size_shift([_CODE["EUR"]], rates, MoneyUnit("USD", 1e6))[0]), 4)
    -13.7373
    >>> size_shift([_CODE["USD"]], rates, MoneyUnit("USD", 1e6), 1e6).tolist()
    [0.0]
    """
    c = np.asarray(codes, dtype=np.int64).reshape(-1)
    ext = with_missing(rates)  # code -1 -> NaN
    u = _CODE[unit.currency]
    scale = math.log(source_scale) - math.log(unit.scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        fx = np.log(ext[np.where(c < 0, -1, c)]) - math.log(ext[u])
    out: FloatArray = np.where(c == u, scale, fx + scale)
    return out


@functools.lru_cache(maxsize=64)
def _size_columns(names: tuple[str, ...]) -> npt.NDArray[np.intp]:
    """Positions of the size features among ``names`` (read-only; cached by the names)."""
    out = np.array([j for j, n in enumerate(names) if n in SIZE_FEATURES], dtype=np.intp)
    out.setflags(write=False)
    return out


def size_in_unit(X: FloatArray, names: Sequence[str], codes: Any, rates: FloatArray,
                 unit: MoneyUnit, source_scale: float = 1.0
                 ) -> tuple[FloatArray, BoolArray]:
    """Feature rows ``X`` (columns ``names``) with the size features moved into ``unit``.

    The one conversion of every path: the decision's inputs (batch, single, HTTP, Spark,
    pyfunc: :mod:`riskengine.scoring.debtor_inputs` and :mod:`riskengine.scoring.fastpath`),
    the book-training snapshots (the same inputs at a past date) and the US-panel
    evaluation.

    Returns
    -------
    X : numpy.ndarray
        A copy when a size column is among ``names`` (else ``X`` itself).
    unconverted : numpy.ndarray of bool
        Rows with a size feature that could not be converted (no rate): their size
        features are NaN.
    """
    cols = _size_columns(tuple(names))
    n = X.shape[0]
    if not cols.size:
        return X, np.zeros(n, dtype=bool)
    shift = size_shift(codes, rates, unit, source_scale)
    out = np.array(X, dtype=np.float64, copy=True)
    sub = out[:, cols]
    unconverted = ~np.isfinite(shift) & np.isfinite(sub).any(axis=1)
    out[:, cols] = sub + shift[:, None]  # NaN shift: NaN size (never a wrong unit)
    return out, unconverted
