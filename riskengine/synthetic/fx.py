"""SYNTHETIC exchange rates: the dated ``fx_rates`` table of a generated book.

Columns ``date``, ``currency``, ``rate`` with ``rate`` = units of EUR (the
reporting currency of the shipped policy) per ONE unit of ``currency``, the
meaning of the manifest's ``fx_rates`` mapping. Rows: every currency of the book
on the as-of date, on each month end of the twelve months before it and on the
year ends of the seven years before it (the oldest statements end up to six years
back), so the rate in force (the latest row on or before a date) exists for every
record of the book.

The as-of row of each currency is the calibration's reference rate
(``calibration._FX``), the same number the manifest's mapping carries, so readers
of the mapping and readers of the table agree on the as-of date. Earlier rows
drift from it by a seeded random walk of monthly steps (``_FX_MONTHLY_SD``); EUR
(1.0) and BGN (the currency board's fixed rate) never move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskengine.synthetic.calibration import _FX, _FX_MONTHLY_SD, _FX_YEARS_BACK
from riskengine.synthetic.frames import _F, _dates, _month_end_days, _str

#: Digits kept of a rate (the manifest's mapping keeps the same).
_RATE_DIGITS = 10


def as_of_rates() -> dict[str, float]:
    """EUR per one unit of each currency on the as-of date (the manifest's mapping).

    Examples
    --------
    >>> as_of_rates()["EUR"], as_of_rates()["BGN"]
    (1.0, 0.5112918812)
    """
    return {c: round(1.0 / r, _RATE_DIGITS) for c, r in sorted(_FX.items())}


def _fx_days(as_of: int) -> _F:
    """Day numbers of the table's dates: year ends, the last twelve month ends, as-of."""
    day = np.datetime64(int(as_of), "D")
    year = int(day.astype("datetime64[Y]").astype(np.int64)) + 1970
    month = int(day.astype("datetime64[M]").astype(np.int64)) % 12 + 1
    back = np.arange(1, 13)
    months = (year * 12 + month - 1) - back  # months since year 0, zero-based month
    month_ends = _month_end_days(months // 12, months % 12 + 1)
    years = year - np.arange(1, _FX_YEARS_BACK + 1)
    year_ends = _month_end_days(years, np.full(years.size, 12))
    days = np.unique(np.concatenate([year_ends, month_ends, [as_of]]))
    out: _F = days[days <= as_of]
    return out


def _make_fx_rates(as_of: int, rng: np.random.Generator) -> pd.DataFrame:
    """The ``fx_rates`` table: one row per (date, currency), sorted by date then currency."""
    days = _fx_days(as_of)
    as_of_month = int(np.datetime64(int(as_of), "D").astype("datetime64[M]").astype(np.int64))
    months_back = as_of_month - days.astype("datetime64[D]").astype("datetime64[M]").astype(
        np.int64)
    horizon = int(months_back.max()) + 1
    currencies = sorted(_FX)
    sd = np.array([_FX_MONTHLY_SD[c] for c in currencies])
    steps = rng.standard_normal((len(currencies), horizon)) * sd[:, None]
    steps[:, 0] = 0.0  # the as-of month carries the reference rate
    walk = np.cumsum(steps, axis=1)  # log drift k months back
    base = np.array([1.0 / _FX[c] for c in currencies])
    rates = base[:, None] * np.exp(walk[:, months_back])  # (currency, date)
    rates[:, months_back == 0] = base[:, None]
    rates = np.round(rates, _RATE_DIGITS)
    n_c, n_d = len(currencies), days.size
    return pd.DataFrame({
        "date": _dates(np.repeat(days, n_c)),
        "currency": _str(currencies, np.tile(np.arange(n_c), n_d)),
        "rate": rates.T.reshape(-1),
    })
