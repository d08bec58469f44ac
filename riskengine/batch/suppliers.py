"""What every chunk of a rerate run must know of the book's suppliers (issue 16).

A chunk holds the records of a range of debtors, but a supplier's assessment needs the
whole book: the dispersion of its debtors (every pair it has, in any chunk) and, when
the supplier is itself a debtor of the book, its own rating (its records are in the
chunk of its id). :func:`supplier_book` computes both once, in the driver, before any
chunk is decided: the ``supplier_book`` frame
(:data:`riskengine.scoring.suppliers.SUPPLIER_BOOK_COLUMNS`) that every chunk's engine
call is given. So a pair's decision does not depend on the chunk size, and equals
:meth:`riskengine.scoring.engine.Engine.decide` on the whole book.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskengine.contracts.arrowtext import text_member
from riskengine.contracts.schemas import CONTRACTS
from riskengine.scoring.suppliers import SUPPLIER_BOOK_COLUMNS, book_dispersion

__all__ = ["supplier_book", "empty_book"]

_BOOK_EXPOSURE_COLUMNS = ["supplier_id", "debtor_id", "currency", "approved_limit"]


def empty_book() -> pd.DataFrame:
    """A ``supplier_book`` frame without a supplier."""
    return pd.DataFrame({"supplier_id": pd.Series([], dtype="str"),
                         "debtor_hhi": pd.Series([], dtype=np.float64),
                         "rating": pd.Series([], dtype=object)})[list(SUPPLIER_BOOK_COLUMNS)]


def supplier_book(portfolio: Path, frames: Mapping[str, pd.DataFrame],
                  reads: Mapping[str, Path], engine: Any, as_of: str) -> pd.DataFrame:
    """The ``supplier_book`` of a run: every supplier's debtor dispersion over the whole
    book (its pairs' limits in the reporting currency, at the rates in force on ``as_of``)
    and, for a supplier that is a debtor of the book, its rating.

    Parameters
    ----------
    portfolio : Path
        The portfolio directory (the tables not in ``frames`` are read from it).
    frames : mapping of str to pandas.DataFrame
        What the driver holds (the whole book's tables it read; before ``--debtors`` or
        ``--changed-since`` narrow the run: the book is the whole book).
    reads : mapping of str to Path
        The Parquet tables the workers read chunk by chunk (not in ``frames``).
    engine : Engine
        Rates the suppliers that are debtors (:meth:`Engine.rate`); an engine without
        ``rate`` leaves them to the chunk that holds them.
    as_of : str

    Returns
    -------
    pandas.DataFrame
        :data:`~riskengine.scoring.suppliers.SUPPLIER_BOOK_COLUMNS`, one row per supplier.
    """
    suppliers = _table(portfolio, frames, reads, "suppliers")
    if suppliers is None or "supplier_id" not in suppliers.columns or not len(suppliers):
        return empty_book()
    exposures = _table(portfolio, frames, reads, "exposures", _BOOK_EXPOSURE_COLUMNS)
    hhi = (book_dispersion(exposures, suppliers, _book_rates(portfolio, frames, engine, as_of))
           if exposures is not None else pd.Series([], dtype=np.float64))
    ids = pd.Index(pd.unique(suppliers["supplier_id"].dropna().astype("str")), dtype="str")
    ratings = _supplier_ratings(portfolio, frames, reads, engine, as_of, ids)
    return pd.DataFrame({
        "supplier_id": pd.Series(ids, dtype="str"),
        "debtor_hhi": hhi.reindex(ids).to_numpy(dtype=np.float64, na_value=np.nan),
        "rating": pd.Series(ratings.reindex(ids).astype(object).where(
            ratings.reindex(ids).notna(), None).to_numpy(dtype=object), dtype=object)})


def _table(portfolio: Path, frames: Mapping[str, pd.DataFrame], reads: Mapping[str, Path],
           name: str, columns: list[str] | None = None, ids: pd.Index | None = None
           ) -> pd.DataFrame | None:
    """A table as the driver holds it, else read from its Parquet file (only ``columns``;
    only the rows of debtors ``ids``)."""
    from riskengine.io.portfolio import _coerce

    frame = frames.get(name)
    if frame is not None and (columns is None or set(columns) <= set(frame.columns)):
        if ids is not None and "debtor_id" in frame.columns:
            frame = frame[text_member(frame["debtor_id"], ids)].reset_index(drop=True)
        return frame
    file = reads.get(name)
    if file is None:
        file = Path(portfolio) / f"{name}.parquet"
        if not file.is_file():
            return None
    names = pq.read_schema(file).names
    cols = None if columns is None else [c for c in columns if c in names]
    expr = None
    if ids is not None and "debtor_id" in names:
        expr = pc.field("debtor_id").isin(list(ids))
    table = pq.read_table(file, columns=cols, filters=expr)
    return _coerce(name, table.to_pandas())


def _supplier_ratings(portfolio: Path, frames: Mapping[str, pd.DataFrame],
                      reads: Mapping[str, Path], engine: Any, as_of: str,
                      suppliers: pd.Index) -> pd.Series:
    """The grades of the suppliers that are debtors of the book, rated on their own records
    (every table of theirs, read whole for them alone); unrated: absent."""
    debtors = frames.get("debtors")
    rate = getattr(engine, "rate", None)
    if rate is None or debtors is None or "debtor_id" not in debtors.columns:
        return pd.Series([], dtype=object)
    both = suppliers.intersection(pd.Index(debtors["debtor_id"].dropna().astype("str")))
    if not len(both):
        return pd.Series([], dtype=object)
    own: dict[str, pd.DataFrame] = {}
    for name in CONTRACTS:
        table = _table(portfolio, frames, reads, name, ids=both)
        if table is not None:
            own[name] = table
    fx = _fx_rates(portfolio, frames)
    if fx is not None:  # the book's rates: records in other currencies convert as in a chunk
        own["fx_rates"] = fx
    grades = rate(own, as_of)
    return grades[grades != "NR"]


def _book_rates(portfolio: Path, frames: Mapping[str, pd.DataFrame], engine: Any,
                as_of: str) -> np.ndarray | None:
    """The rates in force on ``as_of`` into the engine's reporting currency, from the book's
    valid rate rows (a chunk reports the invalid ones); None for an engine without a
    policy (then a supplier's dispersion counts its ledger currency's pairs only)."""
    from riskengine.features.fx import FxRates
    from riskengine.validation.fx import base_rate_rows, validate_fx_rates

    policy = getattr(engine, "policy", None)
    if policy is None:
        return None
    base = policy.book.currency
    fx = _fx_rates(portfolio, frames)
    if fx is None or not len(fx):
        return FxRates.empty(base).at(as_of)
    clean, _ = validate_fx_rates(fx)
    clean, _ = base_rate_rows(clean, base)
    return FxRates.from_frame(clean, base).at(as_of)


def _fx_rates(portfolio: Path, frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The book's dated rates as every chunk gets them: the driver's ``fx_rates`` when it
    holds them, else the portfolio's (its table or its manifest's mapping; the Spark
    driver reads neither); None without any."""
    from riskengine.io.portfolio import read_fx_rates, read_manifest

    fx = frames.get("fx_rates")
    if fx is not None:
        return fx
    root = Path(portfolio)
    return read_fx_rates(root, read_manifest(root)) if root.is_dir() else None
