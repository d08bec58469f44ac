"""Financial statements → ratio features (functional core, no I/O).

One statement is one row of the ``statements`` table
(:data:`riskengine.contracts.schemas.STATEMENTS`): a debtor's 12-month accounts ending at
``period_end``. The features cover the seven ratio families of private-firm
PD models (Moody's RiskCalc: profitability, leverage, debt coverage, growth,
liquidity, activity, size), the seed's named ratios (liabilities / equity,
gross margin, current ratio, quick ratio), Altman Z'' (DOMAIN.md §4),
multi-year trends and the quality and age of the latest statement.

Two pandas entry points (the edge: checks, sort order, the frame's columns as
arrays) share one computation, :func:`~riskengine.features.statement_ratios.statement_rows`
(compiled; the single-debtor path calls it on a payload's arrays):

- :func:`statement_panel_features` — one row per statement, computed from that
  statement and the same debtor's *earlier* statements only (a firm-year panel
  for training; point-in-time by construction).
- :func:`statement_features` — one row per debtor as of a date: the panel row
  of its latest statement with ``period_end <= as_of``, plus the statement's
  age.

:class:`StatementFeatures` wraps both as a scikit-learn transformer, and
:func:`feature_directions` gives the credit-logic sign of every feature for
monotonic constraints in the PD model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import LINE_ITEMS, STATEMENT_QUALITY_TIER
from riskengine.errors import InvalidInputError
from riskengine.features.adverse import _sorted_codes
from riskengine.features.statement_ratios import (
    FEATURE_NAMES,
    FEATURE_SPECS,
    PANEL_FEATURE_NAMES,
    SIZE_FEATURES,
    FeatureSpec,
    _column,
    statement_rows,
    warm_up,
)

__all__ = [
    "FeatureSpec",
    "FEATURE_SPECS",
    "PANEL_FEATURE_NAMES",
    "FEATURE_NAMES",
    "SIZE_FEATURES",
    "REQUIRED_COLUMNS",
    "MAX_YEARS",
    "statement_panel_features",
    "statement_features",
    "statement_rows",
    "warm_up",
    "feature_directions",
    "StatementFeatures",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Default cap of ``st_n_statements`` (the last this many statements count).
MAX_YEARS = 5
#: From this many rows on, ids sorted as riskengine writes them are coded without hashing.
_SORTED_MIN_ROWS = 4096
#: Columns the input must have (``market_value`` and ``currency`` are not used).
REQUIRED_COLUMNS: tuple[str, ...] = ("debtor_id", "period_end", "statement_type", *LINE_ITEMS)


def feature_directions() -> dict[str, int]:
    """The credit-logic direction of every statement feature for the PD.

    Returns
    -------
    dict of str to int
        ``+1``: a higher value raises the PD; ``-1``: lowers it; ``0``:
        non-monotone or no prior (growth, asset turnover), leave unconstrained.
        The one-line reason of each is in :data:`FEATURE_SPECS`.

    Examples
    --------
    >>> feature_directions()["st_current_ratio"], feature_directions()["st_revenue_growth_1y"]
    (-1, 0)
    """
    return {s.name: s.direction for s in FEATURE_SPECS}


# --- input checks ------------------------------------------------------------------


def _check_columns(statements: pd.DataFrame) -> None:
    if not isinstance(statements, pd.DataFrame):
        raise InvalidInputError(
            f"statements must be a pandas DataFrame with the columns of the statements "
            f"contract, got {type(statements).__name__}. Pass the validated statements table."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in statements.columns]
    if missing:
        problems = [
            {"table": "statements", "record": None, "debtor_id": None, "column": c,
             "value": None, "reason": "missing_column",
             "message": f"statements: column {c!r} is missing"}
            for c in missing
        ]  # fmt: skip
        raise InvalidInputError(
            f"statements: column {missing[0]!r} is missing (all missing: {missing}). "
            "Add it (all-NaN if the item is not reported) so the frame follows the "
            "statements contract.",
            problems,
        )


def _money(statements: pd.DataFrame, col: str) -> FloatArray:
    try:
        s = statements[col]
        # float64 already: a view (NaN is NaN; the kernel never writes to its inputs)
        arr = (s.to_numpy() if s.dtype == np.float64
               else s.to_numpy(dtype=np.float64, na_value=np.nan))  # fmt: skip
    except (TypeError, ValueError) as exc:
        bad = pd.to_numeric(statements[col], errors="coerce").isna() & statements[col].notna()
        row = statements.index[bad.to_numpy()][0] if bad.any() else None
        value = statements[col].loc[row] if row is not None else None
        raise InvalidInputError(
            f"statements: column {col!r} is not numeric (record {row!r} has {value!r}). "
            "Money items must be floats in the statement currency.",
        ) from exc
    if np.isinf(arr).any():
        i = int(np.flatnonzero(np.isinf(arr))[0])
        raise InvalidInputError(
            f"statements: {col} is {arr[i]} for record {statements.index[i]!r} "
            f"(debtor {statements['debtor_id'].iloc[i]!r}). Amounts must be finite; "
            "fix the statement or leave the item missing (NaN)."
        )
    return arr


def _days(statements: pd.DataFrame) -> IntArray:
    pe = pd.to_datetime(statements["period_end"])
    if pe.isna().any():
        i = int(np.flatnonzero(pe.isna().to_numpy())[0])
        raise InvalidInputError(
            f"statements: period_end is missing for record {statements.index[i]!r} "
            f"(debtor {statements['debtor_id'].iloc[i]!r}). Every statement needs the "
            "last day of its fiscal year."
        )
    return pe.to_numpy().astype("datetime64[D]").astype(np.int64)


def _quality_tier(statements: pd.DataFrame) -> FloatArray:
    codes, uniques = pd.factorize(statements["statement_type"], use_na_sentinel=True)
    tiers = np.array([float(STATEMENT_QUALITY_TIER.get(str(u), np.nan)) for u in uniques])
    code_tier = np.append(tiers, np.nan)  # code -1 (missing) -> NaN
    tier = code_tier[codes]
    if np.isnan(tier).any():
        i = int(np.flatnonzero(np.isnan(tier))[0])
        raise InvalidInputError(
            f"statements: statement_type {statements['statement_type'].iloc[i]!r} of record "
            f"{statements.index[i]!r} (debtor {statements['debtor_id'].iloc[i]!r}) is not one "
            f"of {tuple(STATEMENT_QUALITY_TIER)}. Use the statements contract's vocabulary."
        )
    return tier


def _prepare(
    statements: pd.DataFrame, sort_ids: bool
) -> tuple[tuple[FloatArray, ...], IntArray, FloatArray, IntArray, IntArray, IntArray, Any]:
    """Checked arrays plus the (debtor, period_end) sort order.

    Returns ``items, days, tier, codes, order, pos`` and the debtor uniques, where
    ``items`` holds the line item columns (views, the input of :func:`statement_rows`),
    ``order`` sorts rows by debtor then period and ``pos`` is each sorted row's
    position within its debtor (0 = earliest).
    """
    _check_columns(statements)
    ids = statements["debtor_id"]
    fast = _sorted_codes(ids) if len(ids) >= _SORTED_MIN_ROWS else None
    if fast is not None:  # sorted by debtor (as riskengine writes it): no hashing
        codes, uniques = fast
    else:
        codes, uniques = pd.factorize(ids, use_na_sentinel=True)
        uniques = pd.Index(uniques)
    if sort_ids and fast is None and not uniques.is_monotonic_increasing:
        sorter = uniques.argsort()
        rank = np.empty(len(sorter), dtype=codes.dtype)
        rank[sorter] = np.arange(len(sorter), dtype=codes.dtype)
        codes = np.where(codes < 0, codes, rank[codes])
        uniques = uniques[sorter]
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise InvalidInputError(
            f"statements: debtor_id is missing for record {statements.index[i]!r}. "
            "Every statement must name its debtor."
        )
    days = _days(statements)
    tier = _quality_tier(statements)
    items = tuple(_column(_money(statements, item)) for item in LINE_ITEMS)
    codes64 = codes.astype(np.int64)
    span = int(days.max() - days.min()) + 1 if len(days) else 1
    key = codes64 * span + (days - (days.min() if len(days) else 0))
    order = np.argsort(key)  # keys are unique once duplicates are refused
    skey = key[order]
    dup = np.flatnonzero(skey[1:] == skey[:-1])
    if dup.size:
        i = int(order[dup[0] + 1])
        raise InvalidInputError(
            f"statements: debtor {ids.iloc[i]!r} has two statements for period_end "
            f"{pd.Timestamp(statements['period_end'].iloc[i]).date()} (records "
            f"{statements.index[int(order[dup[0]])]!r} and {statements.index[i]!r}). "
            "Keep one statement per debtor and period."
        )
    scodes = codes64[order]
    n = len(order)
    start = np.ones(n, dtype=bool)
    start[1:] = scodes[1:] != scodes[:-1]
    ar = np.arange(n, dtype=np.int64)
    pos = ar - np.maximum.accumulate(np.where(start, ar, 0))
    return items, days, tier, scodes, order, pos, uniques


def _lag_sorted(order: IntArray, pos: IntArray, k: int) -> IntArray:
    """For each sorted position, the original row of the k-th earlier statement, or -1."""
    lag = np.full(order.shape, -1, dtype=np.int64)
    lag[k:] = order[:-k] if k < len(order) else lag[k:]
    lag[pos < k] = -1
    return lag


def statement_panel_features(statements: pd.DataFrame, *,
                             max_years: int = MAX_YEARS) -> pd.DataFrame:
    """Features of every statement from it and the same debtor's earlier ones.

    Parameters
    ----------
    statements : pandas.DataFrame
        The statements table (:data:`riskengine.contracts.schemas.STATEMENTS` columns; at
        least :data:`REQUIRED_COLUMNS`), one row per ``debtor_id`` ×
        ``period_end``, in any order. Not modified.
    max_years : int, default 5
        Cap of ``st_n_statements``.

    Returns
    -------
    pandas.DataFrame
        One row per input row, same index and order, float64 columns
        :data:`PANEL_FEATURE_NAMES`. A row uses its own statement and the
        debtor's earlier statements only, so the panel is point-in-time by
        construction: appending later statements never changes it.

    Raises
    ------
    InvalidInputError
        A required column is missing, a money item is not numeric or infinite,
        a ``debtor_id`` or ``period_end`` is missing, a ``statement_type`` is
        unknown, or a debtor has two statements for one period.

    Notes
    -----
    *Denominators.* Every ratio's denominator is an amount that is >= 0 by
    contract (total assets, revenue, liabilities, cost of sales, interest) or
    book equity. A ratio whose denominator is 0, negative or missing is NaN —
    never inf and never 0; a missing numerator gives NaN. Specifically:

    - ``st_liabilities_to_equity`` is NaN when equity <= 0, and
      ``st_negative_equity`` is 1 then (0 when equity > 0, NaN when unknown),
      so the model sees the worst case through the flag, not a huge or
      negative ratio.
    - ``st_interest_coverage`` (EBITDA / interest expense) is NaN when interest
      is 0, and ``st_no_interest`` is 1 then (0 when interest > 0, NaN when
      interest is not reported).
    - Altman Z'' = 6.56·WC/TA + 3.26·RE/TA + 6.72·EBIT/TA + 1.05·equity/TL
      (DOMAIN.md §4) is NaN when any term is NaN (TA or TL not > 0, or an
      item missing).
    - Growth (``x / x_prior - 1``) is NaN without a prior statement or when the
      prior amount is not > 0.

    *Missing items* are never read as 0. Identities fill an item only when
    it can be derived exactly: gross profit = revenue − cost of sales,
    EBITDA = EBIT + D&A, EBIT = EBITDA − D&A, equity = total assets − total
    liabilities. The quick ratio needs inventory (NaN when unknown).

    *Units.* All ratios, days, growth rates, deltas and Z'' are invariant to
    the currency unit (×1000). The size features ``st_log_total_assets`` and
    ``st_log_revenue`` are the natural log of the amount in the statement
    currency's units and are **not** unit-invariant: before a model reads them,
    :func:`riskengine.features.units.size_in_unit` moves them into the money unit
    the model declares (its metadata's ``money_unit``; the US champion: USD
    millions) at the rates in force on the decision date (docs/TRAINING.md,
    "Money unit"). Days use 365 days a year.

    *Earlier statements.* The 1-year comparator is the previous statement if
    its ``period_end`` lies 1 year (±92 days) earlier; the 2-year comparator
    is the statement two back if it lies 2 years (±92 days) earlier, else the
    previous one if it does (a missing year). Otherwise growth and deltas are
    NaN. ``st_revenue_growth_2y`` is the total two-year growth, not
    annualised. ``st_n_statements`` counts the debtor's statements up to and
    including this one, capped at ``max_years``.

    Nothing is winsorised here; the model may.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import LINE_ITEMS
    >>> row = {k: float("nan") for k in LINE_ITEMS}
    >>> row.update(revenue=100.0, current_assets=50.0, inventory=20.0, current_liabilities=25.0)
    >>> st = pd.DataFrame([{"debtor_id": "D1", "period_end": pd.Timestamp("2024-12-31"),
    ...                     "statement_type": "audited", "currency": "EUR", **row}])
    >>> statement_panel_features(st)[["st_current_ratio", "st_quick_ratio"]]
       st_current_ratio  st_quick_ratio
    0               2.0             1.2
    """
    items, days, tier, _scodes, order, pos, _ = _prepare(statements, sort_ids=False)
    links = np.empty((4, len(order)), dtype=np.int64)
    links[0] = np.arange(len(order))
    links[1, order] = _lag_sorted(order, pos, 1)
    links[2, order] = _lag_sorted(order, pos, 2)
    links[3, order] = np.minimum(pos + 1, max_years)
    f = statement_rows(items, days, tier, links, 0)
    return _frame(f[:-1], PANEL_FEATURE_NAMES, statements.index)  # no age in a panel


def _frame(f: FloatArray, names: tuple[str, ...], index: pd.Index) -> pd.DataFrame:
    """The kernel's rows as the columns of one float block (no copy)."""
    return pd.DataFrame(f.T, index=index, columns=list(names), copy=False)


def statement_features(statements: pd.DataFrame, as_of: Any, *,
                       max_years: int = MAX_YEARS) -> pd.DataFrame:
    """Statement features of every debtor as of a date.

    Parameters
    ----------
    statements : pandas.DataFrame
        The statements table, as for :func:`statement_panel_features`. Not
        modified.
    as_of : date-like
        Statements with ``period_end <= as_of`` are used; later ones are
        ignored.
    max_years : int, default 5
        At most the last ``max_years`` statements count (``st_n_statements``
        is capped there; the features use the latest three at most).

    Returns
    -------
    pandas.DataFrame
        Index ``debtor_id`` (sorted), float64 columns :data:`FEATURE_NAMES`:
        the panel row of the debtor's latest statement up to ``as_of`` plus
        ``st_statement_age_days`` (``as_of`` − its ``period_end``, days).
        Debtors with no statement up to ``as_of`` are **absent**: the caller
        reindexes on its debtor list (their features are then NaN, i.e. "no
        statement", never imputed here).

    Raises
    ------
    InvalidInputError
        As :func:`statement_panel_features`, or ``as_of`` is not a date.

    Notes
    -----
    See :func:`statement_panel_features` for denominators, units and the
    choice of earlier statements. A stale latest statement is still used; its
    age says how stale.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import LINE_ITEMS
    >>> row = {k: 1.0 for k in LINE_ITEMS}
    >>> st = pd.DataFrame([{"debtor_id": "D1", "period_end": pd.Timestamp(p),
    ...                     "statement_type": "audited", "currency": "EUR", **row}
    ...                    for p in ("2022-12-31", "2023-12-31")])
    >>> out = statement_features(st, "2023-06-30")
    >>> out.index.tolist(), out["st_statement_age_days"].tolist(), out["st_n_statements"].tolist()
    (['D1'], [181.0], [1.0])
    """
    t = as_of_day(as_of)
    items, days, tier, scodes, order, pos, uniques = _prepare(statements, sort_ids=True)
    sdays = days[order]
    eligible = sdays <= t
    last = eligible.copy()
    # the last eligible statement of a debtor: eligible, and the next row is
    # another debtor or not eligible (rows are sorted by debtor, then date)
    last[:-1] &= (scodes[1:] != scodes[:-1]) | ~eligible[1:]
    p = np.flatnonzero(last)
    links = np.stack([order[p], _lag_sorted(order, pos, 1)[p], _lag_sorted(order, pos, 2)[p],
                      np.minimum(pos[p] + 1, max_years)])
    f = statement_rows(items, days, tier, links, t)
    index = uniques.take(scodes[p]).rename("debtor_id")
    return _frame(f, FEATURE_NAMES, index)


class StatementFeatures(TransformerMixin, BaseEstimator):
    """Statements → ratio features as a scikit-learn transformer.

    Parameters
    ----------
    as_of : date-like or None, default None
        None: :func:`statement_panel_features` (one row per statement, for
        training on a firm-year panel). A date: :func:`statement_features`
        (one row per debtor, index ``debtor_id``).
    max_years : int, default 5
        Cap of ``st_n_statements`` (at most the last ``max_years`` statements).

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Columns of the frame seen in ``fit``.
    n_features_in_ : int
        Their number.

    Notes
    -----
    Stateless: ``fit`` checks the columns and learns nothing, so fitting on a
    training panel and transforming a scoring frame cannot leak. The input is
    a typed record table with named columns (the statements contract), not a
    numeric matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import LINE_ITEMS
    >>> row = {k: 2.0 for k in LINE_ITEMS}
    >>> st = pd.DataFrame([{"debtor_id": "D1", "period_end": pd.Timestamp("2024-12-31"),
    ...                     "statement_type": "unaudited", "currency": "EUR", **row}])
    >>> StatementFeatures().fit_transform(st)["st_quality_tier"].tolist()
    [2.0]
    """

    def __init__(self, as_of: Any = None, max_years: int = MAX_YEARS) -> None:
        self.as_of = as_of
        self.max_years = max_years

    def fit(self, X: pd.DataFrame, y: Any = None) -> StatementFeatures:
        """Check the columns of ``X`` and record them; learns nothing else."""
        self._check_params()
        _check_columns(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The panel features (``as_of`` None) or the as-of features per debtor."""
        check_is_fitted(self, "feature_names_in_")
        _check_columns(X)
        if list(X.columns) != list(self.feature_names_in_):
            raise InvalidInputError(
                "StatementFeatures: the columns of X differ from those seen in fit "
                f"(fit: {list(self.feature_names_in_)}, now: {list(X.columns)}). "
                "Transform frames with the columns the transformer was fitted on."
            )
        if self.as_of is None:
            return statement_panel_features(X, max_years=self.max_years)
        return statement_features(X, self.as_of, max_years=self.max_years)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Output column names: :data:`PANEL_FEATURE_NAMES` or :data:`FEATURE_NAMES`."""
        check_is_fitted(self, "feature_names_in_")
        names = PANEL_FEATURE_NAMES if self.as_of is None else FEATURE_NAMES
        return np.asarray(names, dtype=object)

    def _check_params(self) -> None:
        if not isinstance(self.max_years, (int, np.integer)) or self.max_years < 1:
            raise InvalidInputError(
                f"StatementFeatures: max_years must be a positive integer, got {self.max_years!r}."
            )
        if self.as_of is not None:
            as_of_day(self.as_of)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags
