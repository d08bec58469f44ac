"""The four feature families combined: one row per debtor, as of a date.

:func:`build_features` runs the statement, adverse, payment and concentration
pipelines on a (validated) portfolio and aligns them on the debtors table:
a debtor without records of a family gets that family's ``FILL_VALUES``
(0 for counts and flags, NaN where "no record" is not a number), and NaN
statement features when it has no statement up to ``as_of`` (never imputed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.dates import parse_date
from riskengine.contracts.schemas import CONTRACTS
from riskengine.features import adverse, concentration, payments, statements
from riskengine.features.adverse import _positions, _sorted_codes
from riskengine.validation.columns import _empty_frame

__all__ = ["FAMILIES", "build_features", "latest_revenue"]

#: Below this many debtors the families are computed one after the other.
_PARALLEL_MIN_DEBTORS = 20_000

#: Families with the largest tables and temporaries, never computed at the same time.
_HEAVY: tuple[str, ...] = ("payments", "statements")  # smaller result held first

#: Feature families, in column order of :func:`build_features`.
FAMILIES: tuple[str, ...] = ("statements", "adverse", "payments", "concentration")


def latest_revenue(statement_frame: pd.DataFrame, as_of: Any, *, column: str = "revenue"
                   ) -> pd.Series:
    """Revenue of each debtor's latest statement with ``period_end <= as_of``.

    Parameters
    ----------
    statement_frame : pandas.DataFrame
        The ``statements`` table. Not modified.
    as_of : date-like
    column : str, default "revenue"
        Another column of that statement instead (``"currency"``: the revenue's).

    Returns
    -------
    pandas.Series
        Indexed by ``debtor_id`` (sorted), float (text for a text column); debtors
        without a statement up to ``as_of`` are absent.
    """
    text = column == "currency"
    if statement_frame.empty:
        return pd.Series([], index=pd.Index([], dtype="str", name="debtor_id"),
                         dtype="str" if text else float)
    day = np.datetime64(parse_date(as_of), "ns")
    pe = statement_frame["period_end"].to_numpy(dtype="datetime64[ns]")
    latest = latest_of_runs(statement_frame["debtor_id"], pe <= day, pe)
    values = statement_frame[column]
    if latest is not None:
        r, debtors = latest
        taken = values.iloc[r].to_numpy() if text else \
            values.to_numpy(dtype=np.float64)[r]
        return pd.Series(taken, index=debtors.rename("debtor_id"))
    st = statement_frame.loc[pe <= day, ["debtor_id", "period_end", column]]
    st = st.sort_values(["debtor_id", "period_end"], kind="stable")
    last = st.drop_duplicates("debtor_id", keep="last")
    out = pd.Series(last[column].to_numpy() if text else
                    last[column].to_numpy(dtype=np.float64),
                    index=pd.Index(last["debtor_id"].astype("str"), name="debtor_id"))
    return out.sort_index()


def latest_of_runs(ids: pd.Series, eligible: np.ndarray, key: np.ndarray
                   ) -> tuple[np.ndarray, pd.Index] | None:
    """Each debtor's last eligible row when the rows are sorted by debtor and ``key``.

    Parameters
    ----------
    ids : pandas.Series
        Debtor of each row.
    eligible : numpy.ndarray of bool
        Rows that may be chosen.
    key : numpy.ndarray
        Order within a debtor (e.g. ``period_end``).

    Returns
    -------
    tuple or None
        The chosen rows (ascending) and the debtor of each, when ``ids`` are
        arrow-backed strings already sorted (:func:`~riskengine.features.adverse._sorted_codes`,
        at least 4096 rows) and ``key`` does not decrease within a debtor's
        eligible rows: a row is then the one a stable sort by (debtor, key)
        puts last. None otherwise (the caller sorts).
    """
    fast = _sorted_codes(ids) if len(ids) >= 4096 else None
    if fast is None:
        return None
    codes, uniques = fast
    rows = np.flatnonzero(eligible)
    c, d = codes[rows], key[rows]
    same = c[1:] == c[:-1]
    if (d[1:][same] < d[:-1][same]).any():
        return None
    last = np.ones(len(rows), dtype=bool)
    last[:-1] = ~same
    r = rows[last]
    return r, uniques[codes[r]]


def build_features(
    frames: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    families: tuple[str, ...] = FAMILIES,
    lookback_years: float = 4.0,
    significant_amount: float = 1000.0,
    factor_capital: float | None = None,
    fx_rates: Mapping[str, float] | None = None,
    knockout_types: tuple[str, ...] | None = None,
    revenue_share: float = 0.0,
    rates: np.ndarray | None = None,
    threshold_currency: str | None = None,
) -> pd.DataFrame:
    """All feature families of every debtor of ``frames["debtors"]``, as of a date.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        A validated portfolio (:func:`riskengine.validation.validate_portfolio`
        ``.frames``); ``debtors`` is required, absent tables count as empty.
        Not modified.
    as_of : date-like
        No record dated after it is used.
    families : tuple of str, default all four
        Which families to compute (subset of :data:`FAMILIES`).
    lookback_years, significant_amount : float
        Adverse-record look-back and significance threshold
        (:func:`riskengine.features.adverse.adverse_features`).
    factor_capital, fx_rates
        Passed to :func:`riskengine.features.concentration.concentration_features`.
    knockout_types, revenue_share, rates, threshold_currency
        Passed to :func:`riskengine.features.adverse.adverse_features` (the
        significance of serious records, absolute or relative to the latest
        statement's revenue, through the rates in force; defaults: the seed's serious
        types, the absolute threshold in each record's currency); ``rates`` also to
        :func:`riskengine.features.payments.payment_features` (the money features of
        a debtor invoiced in several currencies).

    Returns
    -------
    pandas.DataFrame
        Index ``debtor_id`` (sorted, one row per debtor), float columns with
        the prefixes ``st_``, ``adv_``, ``pay_``, ``conc_`` in family order.

    Notes
    -----
    - ``adv_amount_to_revenue`` uses the revenue of the latest statement up to
      ``as_of`` (NaN without one); with ``rates`` it is converted into the records'
      currency at the rates in force on ``as_of`` (NaN without a rate), and the
      significance of a serious record compares it with that revenue converted;
      without ``rates`` the same currency is assumed.
    - Concentration features describe the debtor's place in the *whole* book
      given in ``frames``: they depend on the other debtors of the batch, unlike
      the three other families, and the engine does not feed them to the PD.

    Examples
    --------
    >>> from riskengine.synthetic import generate_portfolio
    >>> f = build_features(generate_portfolio(5, seed=1), "2026-06-30")
    >>> f.shape[0], f.index.is_monotonic_increasing
    (5, True)
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"build_features: unknown families {unknown}; use {FAMILIES}.")
    deb = frames["debtors"]
    index = pd.Index(deb["debtor_id"].astype("str"), name="debtor_id").sort_values()

    def table(name: str) -> pd.DataFrame:
        return frames[name] if name in frames else _empty_frame(CONTRACTS[name])

    st_frame = table("statements")
    tasks: dict[str, Callable[[], pd.DataFrame]] = {
        "statements": lambda: _aligned(statements.statement_features(st_frame, as_of), index)[0],
        "adverse": lambda: _filled(adverse.adverse_features(
            table("adverse_records"), as_of, lookback_years=lookback_years,
            significant_amount=significant_amount, revenue=latest_revenue(st_frame, as_of),
            knockout_types=knockout_types or adverse.SERIOUS_EVENT_TYPES,
            revenue_share=revenue_share, rates=rates, threshold_currency=threshold_currency,
            revenue_currency=None if rates is None else latest_revenue(
                st_frame, as_of, column="currency")),
            index, adverse.FILL_VALUES),
        "payments": lambda: _filled(payments.payment_features(table("invoices"), as_of,
                                                              rates=rates),
                                    index, payments.FILL_VALUES),
        "concentration": lambda: _filled(concentration.concentration_features(
            table("exposures"), deb, table("suppliers"), relations=table("relations"),
            factor_capital=factor_capital, fx_rates=fx_rates, as_of=as_of),
            index, concentration.FILL_VALUES),
    }
    wanted = [f for f in FAMILIES if f in families]
    if len(index) >= _PARALLEL_MIN_DEBTORS and len(wanted) > 1:
        # The families are independent and read the frames only; their numpy and
        # Arrow kernels release the GIL, so two threads use both cores of a batch
        # machine. Small batches (a single debtor) stay on the calling thread.
        # The two heavy families (most rows, most temporaries) run one after the
        # other on one thread and the light ones on the other: peak memory is
        # that of the larger heavy family, not of both at once.
        heavy = [f for f in _HEAVY if f in wanted]  # in _HEAVY order
        light = [f for f in wanted if f not in heavy]

        def run(names: list[str]) -> dict[str, pd.DataFrame]:
            return {name: tasks[name]() for name in names}

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="features") as pool:
            futures = [pool.submit(run, heavy), pool.submit(run, light)]
            done = {k: v for fut in futures for k, v in fut.result().items()}
        parts = [done[f] for f in wanted]
    else:
        parts = [tasks[f]() for f in wanted]
    if not parts:
        return pd.DataFrame(index=index)
    return pd.concat(parts, axis=1)


def _aligned(frame: pd.DataFrame, index: pd.Index) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame.reindex(index)`` of a float frame, and where ``index`` is absent from it.

    One Arrow hash lookup (``pandas.Index.get_indexer`` converts millions of
    Arrow strings to Python objects first); when ``frame`` already has exactly
    the rows of ``index`` in order, its data are reused as they are.
    """
    pos = _positions(index, frame.index)
    absent = pos < 0
    if len(frame) == 0 or len(index) < _PARALLEL_MIN_DEBTORS:
        return frame.reindex(index), absent
    if len(pos) == len(frame) and bool((pos == np.arange(len(pos))).all()):
        return frame.set_axis(index, axis=0), absent
    take = np.where(absent, 0, pos)
    out = np.empty((frame.shape[1], len(index)), dtype=np.float64)
    for j in range(frame.shape[1]):  # column by column: no copy of the whole frame
        np.take(frame.iloc[:, j].to_numpy(dtype=np.float64), take, out=out[j])
    out[:, absent] = np.nan
    return pd.DataFrame(out.T, index=index, columns=frame.columns, copy=False), absent


def _filled(frame: pd.DataFrame, index: pd.Index, fill: Mapping[str, float]) -> pd.DataFrame:
    """``frame`` on ``index``; rows absent from it get the family's fill values."""
    out, absent = _aligned(frame, index)
    if absent.any():
        for col, value in fill.items():
            if not np.isnan(value):
                values = out[col].to_numpy(dtype=np.float64, copy=True)
                values[absent] = value
                out[col] = values
    return out
