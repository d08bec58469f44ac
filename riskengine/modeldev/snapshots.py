"""A book read point in time at past dates, with 12-month default labels (training rows).

A *snapshot* at date ``t`` is what the engine would have seen deciding the book at ``t``:
the core's per-debtor inputs built by the engine's own functions
(:func:`riskengine.scoring.debtor_inputs.inputs_at`: statements from their
``period_end`` — the engine's filing rule today, no extra lag —, adverse records from
their ``event_date``, invoices issued up to ``t`` with their payment state at ``t``).

Labels (the shared decisions of issue 17): a debtor's label at ``t`` is 1 when it has an
outcome with ``t < default_date <= t + 12 months``; a debtor with an outcome on or
before ``t`` is out of the snapshot (already defaulted; no re-entry). Also out: a debtor
incorporated after ``t``, and a debtor the engine already puts in default at ``t`` (an
open insolvency or a material amount more than 90 days past due: its PD is 1 whatever
the model says, so it teaches the model nothing).

Dates: year-ends (31 December) ``t`` with ``t + 12 months`` inside the book
(``<= as_of``) and ``t`` on or after the start of its history: ``history_years`` before
the as_of when the manifest says how many years of outcomes the book holds, else its
first invoice (the factor's own history starts there; before it there are no payment
records to read) (:func:`riskengine.modeldev.book_training.train_on_book`). The last such year-end
is the out-of-time validation date; the training dates are the earlier year-ends
(``frequency="annual"``) or every quarter-end whose 12-month window ends by the
validation date (``"quarterly"``: four times the rows, overlapping windows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.contracts.dates import parse_date
from riskengine.errors import InvalidInputError
from riskengine.scoring.debtor_inputs import EngineView, inputs_at
from riskengine.scoring.inputs import DebtorInputs

__all__ = ["FREQUENCIES", "Snapshot", "snapshot_dates", "labels_at", "book_snapshots"]

FREQUENCIES = ("annual", "quarterly")
_HORIZON_YEARS = 1  # the 12-month PD horizon


@dataclass(frozen=True)
class Snapshot:
    """The debtors of a book at date ``as_of``: the core's inputs and the labels.

    Attributes
    ----------
    as_of : str
        ``YYYY-MM-DD``.
    inputs : DebtorInputs
        Only the debtors in the snapshot (see the module notes).
    label : ndarray of int8
        1: an outcome in ``(as_of, as_of + 12 months]``.
    excluded : dict of str to int
        Debtors left out and why: ``defaulted`` (an outcome on or before ``as_of``),
        ``not_incorporated``, ``engine_default`` (grade D at ``as_of``).
    """

    as_of: str
    inputs: DebtorInputs
    label: npt.NDArray[np.int8]
    excluded: dict[str, int]

    @property
    def n_events(self) -> int:
        return int(self.label.sum())


def _plus_horizon(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + _HORIZON_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year + _HORIZON_YEARS, day=28)


def snapshot_dates(first_day: Any, book_as_of: Any, frequency: str = "annual"
                   ) -> tuple[list[str], str]:
    """The training dates and the out-of-time validation date of a book.

    Parameters
    ----------
    first_day : date-like
        The start of the book's history (outcomes observed from then on).
    book_as_of : date-like
        The book's as-of date (outcomes are known up to it).
    frequency : {"annual", "quarterly"}

    Returns
    -------
    train : list of str
    validation : str

    Raises
    ------
    InvalidInputError
        Fewer than two eligible year-ends (nothing to train on, or nothing held out).

    Examples
    --------
    >>> snapshot_dates("2021-07-01", "2026-06-30")
    (['2021-12-31', '2022-12-31', '2023-12-31'], '2024-12-31')
    >>> snapshot_dates("2022-01-01", "2024-12-31", "quarterly")
    (['2022-03-31', '2022-06-30', '2022-09-30', '2022-12-31'], '2023-12-31')
    """
    if frequency not in FREQUENCIES:
        raise InvalidInputError(f"frequency {frequency!r}: use one of {FREQUENCIES}.")
    start, end = parse_date(first_day), parse_date(book_as_of)
    year_ends = [dt.date(y, 12, 31) for y in range(start.year, end.year + 1)]
    eligible = [t for t in year_ends if t >= start and _plus_horizon(t) <= end]
    if len(eligible) < 2 and not (frequency == "quarterly" and eligible):
        raise InvalidInputError(
            f"the book from {start} to {end} has {len(eligible)} year-end(s) whose 12 "
            "following months it covers; training needs at least two (the last is held "
            "out). Add history (an older first invoice) or wait for a later as_of.")
    oot = eligible[-1]
    if frequency == "annual":
        train = eligible[:-1]
    else:
        ends = [dt.date(y, m, d) for y in range(start.year, oot.year + 1)
                for m, d in ((3, 31), (6, 30), (9, 30), (12, 31))]
        train = [t for t in ends if t >= start and _plus_horizon(t) <= oot]
        if not train:
            raise InvalidInputError(
                f"no quarter-end from {start} has its 12 following months before the "
                f"validation date {oot}; add history.")
    return [t.isoformat() for t in train], oot.isoformat()


def labels_at(debtor_ids: Any, outcomes: pd.DataFrame, as_of: Any
              ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """The 12-month default label of each debtor at ``as_of``, and who already defaulted.

    Parameters
    ----------
    debtor_ids : array-like of str
    outcomes : pandas.DataFrame
        ``debtor_id``, ``default_date`` (validated).
    as_of : date-like

    Returns
    -------
    label : ndarray of int8
        1: an outcome with ``as_of < default_date <= as_of + 12 months``.
    defaulted : ndarray of bool
        An outcome on or before ``as_of`` (out of the snapshot).

    Examples
    --------
    >>> o = pd.DataFrame({"debtor_id": ["a", "b", "c"], "default_date": pd.to_datetime(
    ...     ["2024-03-01", "2023-06-30", "2026-01-01"])})
    >>> lab, gone = labels_at(["a", "b", "c", "d"], o, "2023-12-31")
    >>> lab.tolist(), gone.tolist()
    ([1, 0, 0, 0], [False, True, False, False])
    """
    ids = pd.Index(np.asarray(debtor_ids, dtype=object).astype(str))
    day = parse_date(as_of)
    t = np.datetime64(day, "D")
    t_end = np.datetime64(_plus_horizon(day), "D")
    if outcomes is None or outcomes.empty:
        return np.zeros(len(ids), dtype=np.int8), np.zeros(len(ids), dtype=bool)
    dates = outcomes["default_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    first = pd.Series(dates, index=outcomes["debtor_id"].astype(str).to_numpy()) \
        .groupby(level=0).min()
    d = first.reindex(ids).to_numpy(dtype="datetime64[D]")
    known = ~np.isnat(d)
    defaulted = known & (d <= t)
    label = (known & (d > t) & (d <= t_end)).astype(np.int8)
    return label, defaulted


def _take(deb: DebtorInputs, keep: npt.NDArray[np.bool_]) -> DebtorInputs:
    """The rows ``keep`` of every per-debtor array."""
    return dataclasses.replace(deb, **{
        name: getattr(deb, name)[keep] for name in DebtorInputs.__dataclass_fields__
        if isinstance(getattr(deb, name), np.ndarray)})


def book_snapshots(engine: EngineView, clean: Mapping[str, pd.DataFrame],
                   outcomes: pd.DataFrame, dates: list[str]) -> list[Snapshot]:
    """The snapshots of a validated book at ``dates`` (see the module notes).

    Parameters
    ----------
    engine : EngineView
        The engine whose features, basis rule and default definition are read.
    clean : mapping
        Validated portfolio frames (``outcomes`` is not read from them).
    outcomes : pandas.DataFrame
        Validated ``outcomes`` (``debtor_id``, ``default_date``).
    dates : list of str

    Returns
    -------
    list of Snapshot
    """
    deb_frame = clean["debtors"]
    inc = pd.Series(deb_frame["incorporation_date"].to_numpy(dtype="datetime64[ns]"),
                    index=deb_frame["debtor_id"].astype(str).to_numpy())
    out = []
    for day in dates:
        deb = inputs_at(engine, clean, day)
        label, defaulted = labels_at(deb.debtor_id, outcomes, day)
        born = inc.reindex(pd.Index(deb.debtor_id.astype(str))).to_numpy(
            dtype="datetime64[ns]")
        later = ~np.isnat(born) & (born > np.datetime64(day, "ns"))
        engine_d = deb.insolvency | deb.past_due_default
        keep = ~defaulted & ~later & ~engine_d
        out.append(Snapshot(day, _take(deb, keep), label[keep], {
            "defaulted": int(defaulted.sum()),
            "not_incorporated": int((later & ~defaulted).sum()),
            "engine_default": int((engine_d & ~defaulted & ~later).sum())}))
    return out
