"""Concentration: supplier ledgers, the factor's book, groups, sectors, countries.

Inputs are the ``exposures``, ``debtors``, ``suppliers`` and ``relations``
tables of :mod:`riskengine.contracts.schemas`. Exposures are a snapshot at the
extraction date and carry no record dates, so nothing is filtered by
``as_of`` here (the argument is accepted so that every feature pipeline is
called the same way).

Measures (DOMAIN.md §4)
-----------------------
- *Ledger share* of a supplier–debtor pair: the debtor's outstanding on the
  supplier's ledger, ``approved_outstanding + unapproved_outstanding``, over
  the supplier's ``ledger_total`` (NaN when the ledger total is 0 or the pair
  and the supplier are in different currencies). Guide: one debtor <= 20–30%
  of a supplier's ledger.
- *The factor's exposure* to a debtor: Σ ``approved_outstanding`` over its
  suppliers (what the factor funded; unapproved invoices are unfunded). The
  book is the sum over all debtors, in one reporting unit: with more than one
  currency, ``fx_rates`` must convert them.
- *Group*: ``debtors.group_id`` (connected clients, CRR art. 4(1)(39)); a
  debtor without a group is its own group. Guide: a group <= 25% of eligible
  capital (CRR art. 395).
- *Sector*: the NACE Rev. 2 section (letter A–U) derived from the division
  (the first two digits of ``debtors.nace``), or the division itself.
- HHI = Σ share² of the book by name (debtor), group, sector and country.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.arrowtext import text_member
from riskengine.errors import InvalidInputError
from riskengine.features.adverse import (
    RecordTableTransformer,
    _bad_input,
    _compact_sorted,
    _positions,
    _require_columns,
    _sorted_codes,
    _table,
)

__all__ = [
    "CONCENTRATION_FEATURES",
    "FILL_VALUES",
    "ConcentrationFeatures",
    "concentration_features",
    "nace_section",
    "pair_concentration",
    "portfolio_hhi",
]

#: NACE Rev. 2 sections by their first and last division.
_SECTIONS: tuple[tuple[str, int, int], ...] = (
    ("A", 1, 3), ("B", 5, 9), ("C", 10, 33), ("D", 35, 35), ("E", 36, 39), ("F", 41, 43),
    ("G", 45, 47), ("H", 49, 53), ("I", 55, 56), ("J", 58, 63), ("K", 64, 66), ("L", 68, 68),
    ("M", 69, 75), ("N", 77, 82), ("O", 84, 84), ("P", 85, 85), ("Q", 86, 88), ("R", 90, 93),
    ("S", 94, 96), ("T", 97, 98), ("U", 99, 99),
)  # fmt: skip
_DIVISION_SECTION: dict[int, str] = {d: s for s, lo, hi in _SECTIONS for d in range(lo, hi + 1)}

#: Debtor-level output columns, in order.
CONCENTRATION_FEATURES: tuple[str, ...] = (
    "conc_n_suppliers",
    "conc_max_ledger_share",
    "conc_exposure",
    "conc_share_of_book",
    "conc_group_share_of_book",
    "conc_group_to_capital",
    "conc_sector_share_of_book",
    "conc_country_share_of_book",
    "conc_related_party",
)
#: Value for a debtor absent from the ``debtors`` table: 0 for its own counts,
#: exposure, ledger share and flag; NaN for group, sector and country shares
#: (unknown without the debtor's record).
FILL_VALUES: dict[str, float] = {
    "conc_n_suppliers": 0.0,
    "conc_max_ledger_share": 0.0,
    "conc_exposure": 0.0,
    "conc_share_of_book": 0.0,
    "conc_group_share_of_book": np.nan,
    "conc_group_to_capital": np.nan,
    "conc_sector_share_of_book": np.nan,
    "conc_country_share_of_book": np.nan,
    "conc_related_party": 0.0,
}
_EXPOSURE_COLUMNS = ("supplier_id", "debtor_id", "currency", "approved_outstanding",
                     "unapproved_outstanding")  # fmt: skip
_DEBTOR_COLUMNS = ("debtor_id", "country", "nace", "group_id")
_SUPPLIER_COLUMNS = ("supplier_id", "ledger_total", "currency")


def nace_section(nace: str, *, level: str = "section") -> str:
    """The NACE Rev. 2 section letter (or the two-digit division) of a code.

    Parameters
    ----------
    nace : str
        A NACE code such as ``"46.90"``, ``"4690"`` or ``"46"``; a single
        section letter (``"G"``) is returned as is.
    level : {"section", "division"}
        Return the section letter or the division (``"46"``).

    Examples
    --------
    >>> nace_section("46.90"), nace_section("46.90", level="division"), nace_section("01.11")
    ('G', '46', 'A')
    """
    code = str(nace).strip().upper()
    if len(code) == 1 and code.isalpha() and level == "section":
        if code in {s for s, _, _ in _SECTIONS}:
            return code
    digits = code.replace(".", "")
    if len(digits) >= 2 and digits[:2].isdigit() and int(digits[:2]) in _DIVISION_SECTION:
        return digits[:2] if level == "division" else _DIVISION_SECTION[int(digits[:2])]
    raise ValueError(f"NACE code {nace!r} has no valid two-digit division (expected e.g. '46.90').")


def _codes_against(ids: pd.Series, index: pd.Index, table: str, column: str,
                   records: pd.DataFrame, id_columns: tuple[str, ...]) -> np.ndarray:  # fmt: skip
    """Position of each id in ``index``; an id not found raises."""
    pos = _positions(ids, index)
    if len(pos) and pos.min() < 0:
        i = int(np.flatnonzero(pos < 0)[0])
        rec = tuple(records[c].iloc[i] for c in id_columns)
        v = ids.iloc[i]
        msg = (f"{table} record {rec!r}: {column} {v!r} is not in the "
               f"{'debtors' if column == 'debtor_id' else 'suppliers'} table "
               f"({int((pos < 0).sum())} record(s) affected); add it there or drop the record.")  # fmt: skip
        raise _bad_input(table, rec, v if column == "debtor_id" else None, column, v,
                         "unknown_debtor" if column == "debtor_id" else "unknown_supplier", msg)  # fmt: skip
    return pos


def _debtor_index(debtors: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """Sorted debtor ids and, for each row of ``debtors``, its position in them."""
    ids = debtors["debtor_id"]
    fast = _sorted_codes(ids) if len(ids) >= 4096 else None
    if fast is not None and fast[0][-1] == len(ids) - 1:  # sorted and unique: no hashing
        return fast[1].rename("debtor_id"), np.arange(len(ids), dtype=np.int64)
    codes, uniq = pd.factorize(ids) if not isinstance(ids.dtype, pd.CategoricalDtype) else (
        ids.cat.codes.to_numpy(), ids.cat.categories)  # fmt: skip
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) and (codes.min() < 0 or np.bincount(codes).max() > 1):
        dup = ids[ids.duplicated() | ids.isna()]
        v = dup.iloc[0] if len(dup) else None
        raise _bad_input("debtors", v, v, "debtor_id", v, "duplicate_key",
                         f"debtors: debtor_id {v!r} is missing or appears more than once; "
                         "each debtor must have exactly one record.")  # fmt: skip
    return _compact_sorted(codes, pd.Index(uniq), "debtor_id")[::-1]


def _book_weights(cur_codes: np.ndarray, cur_uniq: pd.Index,
                  fx_rates: Mapping[str, float] | None) -> np.ndarray:  # fmt: skip
    """Per-row factor to the reporting unit; 1 for a single-currency book."""
    if fx_rates is None:
        if len(cur_uniq) > 1:
            raise InvalidInputError(
                f"exposures are in {len(cur_uniq)} currencies {sorted(map(str, cur_uniq))}; book "
                "shares need one unit: pass fx_rates={currency: rate to the reporting currency}.",
                [{"table": "exposures", "record": None, "debtor_id": None, "column": "currency",
                  "value": str(cur_uniq[1]), "reason": "mixed_currency",
                  "message": "book in more than one currency without fx_rates"}],
            )  # fmt: skip
        return np.ones(len(cur_codes))
    missing = [str(c) for c in cur_uniq if c not in fx_rates]
    if missing:
        raise InvalidInputError(f"fx_rates has no rate for {missing}; add them.", [
            {"table": "exposures", "record": None, "debtor_id": None, "column": "currency",
             "value": missing[0], "reason": "unknown_currency", "message": "no fx rate"}])  # fmt: skip
    return np.array([float(fx_rates[c]) for c in cur_uniq])[cur_codes]


def _factorize(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniq = pd.factorize(s)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniq)


def _pairs(exposures: pd.DataFrame, suppliers: pd.DataFrame,
           relations: pd.DataFrame | None) -> dict[str, Any]:  # fmt: skip
    """Pair-level arrays: ledger share, related flag and the exposure currency codes."""
    _require_columns(exposures, _EXPOSURE_COLUMNS, "exposures")
    _require_columns(suppliers, _SUPPLIER_COLUMNS, "suppliers")
    sup_index = pd.Index(suppliers["supplier_id"])
    if not sup_index.is_unique:
        v = sup_index[sup_index.duplicated()][0]
        raise _bad_input("suppliers", v, None, "supplier_id", v, "duplicate_key",
                         f"suppliers: supplier_id {v!r} appears more than once; each supplier "
                         "must have exactly one record.")  # fmt: skip
    s_pos = _codes_against(exposures["supplier_id"], sup_index, "exposures", "supplier_id",
                           exposures, ("supplier_id", "debtor_id"))  # fmt: skip
    outstanding = (exposures["approved_outstanding"].to_numpy(dtype=np.float64)
                   + exposures["unapproved_outstanding"].to_numpy(dtype=np.float64))  # fmt: skip
    ledger = suppliers["ledger_total"].to_numpy(dtype=np.float64)[s_pos]
    cur, cur_uniq = _factorize(exposures["currency"])
    sup_cur = _positions(pd.Index(suppliers["currency"].astype(str)), cur_uniq.astype(str))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where((ledger > 0) & (sup_cur[s_pos] == cur), outstanding / ledger, np.nan)
    related = np.zeros(len(exposures))
    if relations is not None and len(relations):
        # Few relations: test only the exposures whose debtor has one.
        cand = np.flatnonzero(text_member(exposures["debtor_id"], relations["debtor_id"]))
        links = pd.MultiIndex.from_arrays([relations["supplier_id"].astype(str),
                                           relations["debtor_id"].astype(str)])  # fmt: skip
        got = pd.MultiIndex.from_arrays([exposures["supplier_id"].iloc[cand].astype(str),
                                         exposures["debtor_id"].iloc[cand].astype(str)])  # fmt: skip
        related[cand[got.isin(links)]] = 1.0
    return {"s_pos": s_pos, "outstanding": outstanding, "share": share, "related": related,
            "cur": cur, "cur_uniq": cur_uniq}  # fmt: skip


def pair_concentration(exposures: pd.DataFrame, suppliers: pd.DataFrame,
                       relations: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """The debtor's share of each supplier's ledger, per supplier–debtor pair.

    Parameters
    ----------
    exposures, suppliers : pandas.DataFrame
        Tables with the columns of :data:`riskengine.contracts.schemas.EXPOSURES` and
        :data:`~riskengine.contracts.schemas.SUPPLIERS`. Not modified.
    relations : pandas.DataFrame, optional
        Supplier–debtor related-party links (:data:`~riskengine.contracts.schemas.RELATIONS`).

    Returns
    -------
    pandas.DataFrame
        One row per exposure, in input order: ``supplier_id``, ``debtor_id``,
        ``outstanding`` (approved + unapproved), ``ledger_share`` (NaN when the
        ledger total is 0 or the currencies differ) and ``related_party`` (1.0
        if the pair is linked in ``relations``: intra-group receivables are
        not accepted, seed 003).

    Examples
    --------
    >>> import pandas as pd
    >>> sup = pd.DataFrame({"supplier_id": ["S"], "ledger_total": [1000.0], "currency": ["EUR"]})
    >>> exp = pd.DataFrame({"supplier_id": ["S"], "debtor_id": ["A"], "currency": ["EUR"],
    ...                     "approved_outstanding": [200.0], "unapproved_outstanding": [50.0]})
    >>> pair_concentration(exp, sup)["ledger_share"].tolist()
    [0.25]
    """
    p = _pairs(exposures, suppliers, relations)
    return pd.DataFrame({
        "supplier_id": exposures["supplier_id"].to_numpy(),
        "debtor_id": exposures["debtor_id"].to_numpy(),
        "outstanding": p["outstanding"], "ledger_share": p["share"],
        "related_party": p["related"],
    })  # fmt: skip


def _sector_codes(nace: pd.Series, level: str) -> np.ndarray:
    """Integer sector code per debtor (NACE section or division); -1 when unknown."""
    codes, uniq = pd.factorize(nace)
    labels: list[str | None] = []
    for u in uniq:  # a few hundred distinct codes, not one per debtor
        try:
            labels.append(nace_section(u, level=level))
        except ValueError:
            labels.append(None)
    sec_codes, _ = pd.factorize(pd.Series(labels, dtype="str"))
    lookup = np.append(sec_codes, -1)
    return lookup[codes].astype(np.int64)


def _group_codes(debtors: pd.DataFrame, n: int, row_pos: np.ndarray) -> np.ndarray:
    """Group code per debtor (sorted order); a debtor without a group is its own."""
    g, _ = pd.factorize(debtors["group_id"])
    g = np.asarray(g, dtype=np.int64)
    own = g < 0
    g[own] = g.max(initial=-1) + 1 + np.arange(int(own.sum()))
    out = np.empty(n, dtype=np.int64)
    out[row_pos] = g
    return out


def _share_of(codes: np.ndarray, exposure: np.ndarray, book: float) -> np.ndarray:
    """Each debtor's class total (by ``codes``, -1 unknown) over the book."""
    ok = codes >= 0
    tot = np.bincount(codes[ok], weights=exposure[ok], minlength=int(codes.max(initial=-1)) + 1)
    out = np.full(len(codes), np.nan)
    if book > 0:
        out[ok] = tot[codes[ok]] / book
    return out


def concentration_features(
    exposures: pd.DataFrame,
    debtors: pd.DataFrame,
    suppliers: pd.DataFrame,
    *,
    relations: pd.DataFrame | None = None,
    factor_capital: float | None = None,
    fx_rates: Mapping[str, float] | None = None,
    sector_level: str = "section",
    as_of: Any = None,
) -> pd.DataFrame:
    """Debtor-level concentration features of the factor's book.

    Parameters
    ----------
    exposures, debtors, suppliers : pandas.DataFrame
        Tables with the columns of :mod:`riskengine.contracts.schemas`. Not modified.
    relations : pandas.DataFrame, optional
        Supplier–debtor related-party links.
    factor_capital : float, optional
        The factor's eligible capital in the reporting unit; gives
        ``conc_group_to_capital`` (NaN when not given or not positive).
    fx_rates : mapping of currency to float, optional
        Rate from each exposure currency to the reporting unit; required when
        the book holds more than one currency.
    sector_level : {"section", "division"}
        NACE level of the sector share.
    as_of : date-like, optional
        Accepted for a uniform call; exposures are a dated snapshot already.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``debtor_id`` (sorted), one row per debtor of ``debtors``,
        columns :data:`CONCENTRATION_FEATURES` (float).

    Raises
    ------
    InvalidInputError
        Missing columns, duplicate debtors, exposures naming an unknown
        debtor or supplier, a multi-currency book without ``fx_rates``.

    Notes
    -----
    Shares of the book are NaN when the book is empty (total exposure 0).
    ``conc_max_ledger_share`` is 0 for a debtor without exposures and NaN if
    every one of its ledger shares is undefined. ``conc_related_party`` is 1
    when any supplier of the debtor is linked to it in ``relations``. All
    shares are invariant to the currency unit.

    Examples
    --------
    >>> import pandas as pd
    >>> deb = pd.DataFrame({"debtor_id": ["A", "B"], "country": ["GR", "GR"],
    ...                     "nace": ["46.90", "10.11"], "group_id": ["G1", "G1"]})
    >>> sup = pd.DataFrame({"supplier_id": ["S"], "ledger_total": [1000.0], "currency": ["EUR"]})
    >>> exp = pd.DataFrame({"supplier_id": ["S", "S"], "debtor_id": ["A", "B"],
    ...                     "currency": ["EUR", "EUR"], "approved_outstanding": [300.0, 100.0],
    ...                     "unapproved_outstanding": [0.0, 0.0]})
    >>> concentration_features(exp, deb, sup)[["conc_max_ledger_share",
    ...                                        "conc_group_share_of_book"]].loc["A"].tolist()
    [0.3, 1.0]
    """
    if sector_level not in ("section", "division"):
        raise ValueError(f"sector_level must be 'section' or 'division', got {sector_level!r}.")
    _require_columns(debtors, _DEBTOR_COLUMNS, "debtors")
    pairs = _pairs(exposures, suppliers, relations)
    index, row_pos = _debtor_index(debtors)
    n = len(index)
    d = _codes_against(exposures["debtor_id"], index, "exposures", "debtor_id", exposures,
                       ("supplier_id", "debtor_id"))  # fmt: skip
    funded = exposures["approved_outstanding"].to_numpy(dtype=np.float64) * _book_weights(
        pairs["cur"], pairs["cur_uniq"], fx_rates)  # fmt: skip
    exposure = np.bincount(d, weights=funded, minlength=n)
    book = float(exposure.sum())

    share = pairs["share"]
    best = np.full(n, -np.inf)
    np.maximum.at(best, d, np.where(np.isnan(share), -1.0, share))
    max_share = np.where(best == -np.inf, 0.0, np.where(best < 0, np.nan, best))

    groups = _group_codes(debtors, n, row_pos)
    sector = np.empty(n, dtype=np.int64)
    sector[row_pos] = _sector_codes(debtors["nace"], sector_level)
    country = np.empty(n, dtype=np.int64)
    country[row_pos] = np.asarray(pd.factorize(debtors["country"])[0], dtype=np.int64)
    group_share = _share_of(groups, exposure, book)
    cap = float(factor_capital) if factor_capital is not None else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        group_to_capital = (group_share * book / cap) if cap > 0 else np.full(n, np.nan)
        own_share = exposure / book if book > 0 else np.full(n, np.nan)
    feats = {
        "conc_n_suppliers": np.bincount(d, minlength=n).astype(np.float64),
        "conc_max_ledger_share": max_share,
        "conc_exposure": exposure,
        "conc_share_of_book": own_share,
        "conc_group_share_of_book": group_share,
        "conc_group_to_capital": group_to_capital,
        "conc_sector_share_of_book": _share_of(sector, exposure, book),
        "conc_country_share_of_book": _share_of(country, exposure, book),
        "conc_related_party": (np.bincount(d, weights=pairs["related"],
                                           minlength=n) > 0).astype(np.float64),  # fmt: skip
    }
    out = np.empty((len(CONCENTRATION_FEATURES), n))
    for j, name in enumerate(CONCENTRATION_FEATURES):
        out[j] = feats[name]
    return pd.DataFrame(out.T, index=index, columns=list(CONCENTRATION_FEATURES), copy=False)


def portfolio_hhi(
    exposures: pd.DataFrame,
    debtors: pd.DataFrame,
    *,
    fx_rates: Mapping[str, float] | None = None,
    sector_level: str = "section",
) -> dict[str, float]:
    """Herfindahl–Hirschman index of the factor's book by name, group, sector, country.

    Parameters
    ----------
    exposures, debtors : pandas.DataFrame
        Tables with the columns of :mod:`riskengine.contracts.schemas`. Not modified.
    fx_rates : mapping of currency to float, optional
        As in :func:`concentration_features`.
    sector_level : {"section", "division"}
        NACE level of the sector HHI.

    Returns
    -------
    dict of str to float
        ``{"name", "group", "sector", "country"}`` → Σ share², in (0, 1]; 1 is
        a book on a single name. NaN for an empty book. A debtor with an
        unknown sector forms its own "unknown" class.

    Examples
    --------
    >>> import pandas as pd
    >>> deb = pd.DataFrame({"debtor_id": ["A", "B", "C"], "country": ["GR", "GR", "DE"],
    ...                     "nace": ["46.90", "46.11", "10.11"], "group_id": [None, None, None]})
    >>> exp = pd.DataFrame({"supplier_id": ["S"] * 3, "debtor_id": ["A", "B", "C"],
    ...                     "currency": ["EUR"] * 3, "approved_outstanding": [50.0, 30.0, 20.0],
    ...                     "unapproved_outstanding": [0.0] * 3})
    >>> {k: round(v, 4) for k, v in portfolio_hhi(exp, deb).items()}
    {'name': 0.38, 'group': 0.38, 'sector': 0.68, 'country': 0.68}
    """
    _require_columns(exposures, _EXPOSURE_COLUMNS, "exposures")
    _require_columns(debtors, _DEBTOR_COLUMNS, "debtors")
    index, row_pos = _debtor_index(debtors)
    n = len(index)
    d = _codes_against(exposures["debtor_id"], index, "exposures", "debtor_id", exposures,
                       ("supplier_id", "debtor_id"))  # fmt: skip
    funded = exposures["approved_outstanding"].to_numpy(dtype=np.float64) * _book_weights(
        *_factorize(exposures["currency"]), fx_rates)  # fmt: skip
    exposure = np.bincount(d, weights=funded, minlength=n)
    book = float(exposure.sum())
    sector = np.empty(n, dtype=np.int64)
    sector[row_pos] = _sector_codes(debtors["nace"], sector_level)
    sector = np.where(sector < 0, sector.max(initial=-1) + 1, sector)
    country = np.empty(n, dtype=np.int64)
    country[row_pos] = np.asarray(pd.factorize(debtors["country"])[0], dtype=np.int64)
    classes = {"name": np.arange(n), "group": _group_codes(debtors, n, row_pos),
               "sector": sector, "country": country}  # fmt: skip
    if not book > 0:
        return dict.fromkeys(classes, float("nan"))
    return {k: float(np.sum((np.bincount(c, weights=exposure) / book) ** 2))
            for k, c in classes.items()}  # fmt: skip


class ConcentrationFeatures(RecordTableTransformer):
    """scikit-learn transformer around :func:`concentration_features`.

    Stateless. ``transform`` takes a portfolio mapping with the tables
    ``exposures``, ``debtors``, ``suppliers`` and optionally ``relations``.

    Parameters
    ----------
    as_of : date-like, optional
        Accepted for a uniform interface (see :func:`concentration_features`).
    factor_capital, fx_rates, sector_level
        As in :func:`concentration_features`.
    """

    feature_names = CONCENTRATION_FEATURES

    def __init__(self, as_of: Any = None, *, factor_capital: float | None = None,
                 fx_rates: Mapping[str, float] | None = None,
                 sector_level: str = "section") -> None:  # fmt: skip
        self.as_of = as_of
        self.factor_capital = factor_capital
        self.fx_rates = fx_rates
        self.sector_level = sector_level

    def transform(self, X: Any) -> pd.DataFrame:
        """Compute the features from a portfolio mapping."""
        if not isinstance(X, Mapping):
            raise TypeError("ConcentrationFeatures needs a portfolio mapping with 'exposures', "
                            f"'debtors' and 'suppliers' tables, got {type(X).__name__}.")  # fmt: skip
        return concentration_features(
            _table(X, "exposures"), _table(X, "debtors"), _table(X, "suppliers"),
            relations=X.get("relations"), factor_capital=self.factor_capital,
            fx_rates=self.fx_rates, sector_level=self.sector_level, as_of=self.as_of,
        )  # fmt: skip

