"""A SYNTHETIC book with a history and a known truth: ``demo-data --years Y`` (issue 17).

Y years of a factoring book ending at its as-of date: the same debtors, suppliers and
pairs as :func:`riskengine.synthetic.generate_portfolio` (same seed streams), whose
records are drawn year by year from an evolving state, the defaults those records
announce (table ``outcomes``), and the generator's true 12-month PD of every debtor at
every year-end (``truth/true_pd.parquet``: written beside the portfolio, never in its
manifest's tables, never read by the engine). Everything is synthetic.

The process
-----------
1. **State.** Each debtor's weakness in calendar year ``y`` is
   ``w[i, y] = 0.8 w_i + 0.6 x[i, y] + c[s(i), y]``: ``w_i`` the static weakness of the
   plain book (:func:`riskengine.synthetic.latent_pd`, which also sets size and age),
   ``x`` a firm's AR(1) (persistence 0.6, stationary N(0, 1)) and ``c`` its sector's
   cycle, an AR(1) shared by the sector's debtors (persistence 0.5, sd 0.3).
2. **Evidence, year by year, from the state.** The existing generators make each
   year's records with that year's weakness: the fiscal year's line items
   (:func:`riskengine.synthetic.statements._line_items`: leverage, margins, cash fall as
   ``w`` rises; revenue grows ``0.03 - 0.05 w - 0.15 Δw``), the year's adverse register
   events (:func:`~riskengine.synthetic.adverse._make_adverse`, kept for the year;
   insolvency events only at a default, below) and the year's invoices and payment
   delays (:func:`~riskengine.synthetic.invoices._make_invoices` on the same pairs).
   Records start two years before the first year-end of the history, so that the first
   snapshot has trends and a full payment window; statements are filed 120 days after
   the fiscal year, as in the plain book. A firm that worsens therefore files worse
   accounts, collects adverse records and pays later before it defaults.
3. **The truth is read from the records** as of each year-end ``t`` (what the book
   holds then, on the engine's point-in-time rules: a statement from its period end, an
   adverse record from its event date, an invoice's payment from its paid date)::

       logit PD(t) = a + 2.5 (lev - 0.65) - 5 (margin - 0.08) - 1.0 growth + 0.3 no_accounts
                     + 0.8 log1p(adverse) + 0.6 log1p(dbt) + 0.3 c[s, year(t)] + f_i

   ``lev`` total liabilities / total assets, ``margin`` EBITDA / revenue (the two
   differences clipped to [-0.65, 1.5] and [-0.6, 0.5]) and ``growth`` the log revenue
   change from the statement a year earlier (in [-1, 1]) of the latest statement, each 0
   when missing; ``no_accounts`` 1 without any statement; ``adverse`` the
   recency-weighted count of adverse records (tier >= 1, half-life 2 years, 4-year
   look-back: ``adv_weighted_count``), ``dbt`` the mean days beyond terms of the last
   12 months with the open overdue invoices (``pay_dbt_mean``). Only ``f_i`` (a firm
   effect, sd 0.15) and the sector-year term (sd 0.09) are recorded nowhere: kept small,
   they leave the truth's AUC a little above what a model of the book can reach.
4. **Defaults** are drawn from the truth: a debtor alive (incorporated) and not in
   default at ``t`` defaults in the following 12 months with probability PD(t), on a
   uniform day. Type (a judgement, stated as such: no public split of SME default
   triggers was found): 55 % ``past_due_90``, 35 % ``insolvency``, 10 %
   ``distressed_restructuring``. Before its default a debtor pays every invoice within
   89 days beyond terms (90 days past due is itself a default, CRR art. 178(1)(b); the
   plain book's never-paid invoices are left out). A defaulted debtor stops trading:
   no invoice issued after its default, the ones open then stay unpaid (a
   ``past_due_90`` one stops paying what falls due from 90 days before its default,
   never before the year-end that preceded it), no statement or register record after it; an insolvency shows on the register (a bankruptcy filing
   or declaration, open, on the default date). None of this changes what the book held
   at an earlier year-end, so the truth never reads its own future.
5. **Calibration.** The intercept ``a`` (-4.9) gives a mean true PD of about 4 % a year, the
   plain generator's portfolio mean (:func:`~riskengine.synthetic.latent_pd`), kept so
   that a history and a plain book of one seed read alike. The reference is the one-year
   default rate of EU SME exposures over the cycle that the EBA measures in its *Report
   on SMEs and SME supporting factor* (EBA/OP/2016/04, 23 March 2016, section 3.2
   "Default rates"): a few percent a year, above large corporates' (a factoring book's
   debtors are SMEs). The 4 % is a judgement in that range, not a figure copied from the
   report's tables; re-check it against them before quoting it as calibrated.

The debtors, suppliers, pairs, limits in force and insurer limits at the as-of date
are those of the plain book made the same way (the limits on the last year's
weakness); ``outcomes`` lists the defaults dated on or before the as-of date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import (
    ADVERSE_SEVERITY_TIER,
    DEFAULT_TYPES,
    INSOLVENCY_EVENT_TYPES,
)
from riskengine.errors import InvalidInputError
from riskengine.synthetic.adverse import _make_adverse
from riskengine.synthetic.calibration import _FORMS
from riskengine.synthetic.debtors import _Debtors
from riskengine.synthetic.exposures import _make_pairs
from riskengine.synthetic.frames import (
    _F,
    _choice_rows,
    _codes,
    _dates,
    _frame,
    _Gather,
    _ids,
    _month_end_days,
    _width,
)
from riskengine.synthetic.invoices import _Invoices, _make_invoices
from riskengine.synthetic.limits import _debtor_view
from riskengine.synthetic.portfolio import _assemble, _base_book, _declared_tables, _sales_of
from riskengine.synthetic.statements import _statement_frame

__all__ = ["HISTORY_VERSION", "MAX_YEARS", "TRUTH_COLUMNS", "History",
           "defaults_within_a_year", "generate_history", "truth_terms"]

#: Bumped whenever the same arguments would give another history (the manifest's
#: ``history_version``; the plain book's own is ``GENERATOR_VERSION``).
HISTORY_VERSION = 1
#: The longest history ``demo-data --years`` makes.
MAX_YEARS = 10
#: Columns of the truth table (``truth/true_pd.parquet``).
TRUTH_COLUMNS = ("debtor_id", "as_of", "pd_12m")

# the state process (module docstring, 1)
_STATIC, _DYNAMIC, _FIRM_RHO = 0.8, 0.6, 0.6
_CYCLE_RHO, _CYCLE_SD = 0.5, 0.3
# the truth (module docstring, 3); the intercept gives a mean PD of about 4 %
_A = -4.9
_B_LEV, _B_MARGIN, _B_GROWTH, _B_NO_ACCOUNTS = 2.5, -5.0, -1.0, 0.3
_B_ADVERSE, _B_DBT, _B_CYCLE, _FIRM_SD = 0.8, 0.6, 0.3, 0.15
_FILING_DAYS = 120  # accounts filed some months after the year end (as the plain book)
_LOOKBACK_DAYS = 1461  # the adverse look-back (4 years) and half-life (2 years)
_HALF_LIFE_DAYS = 730.5
# the default types' mix, a judgement (module docstring, 4), in the contract's order
_TYPE_SHARE = {"past_due_90": 0.55, "insolvency": 0.35, "distressed_restructuring": 0.10}
_DEFAULT_TYPE_P = tuple(_TYPE_SHARE[t] for t in DEFAULT_TYPES)
_PAST_DUE, _INSOLVENCY = DEFAULT_TYPES.index("past_due_90"), DEFAULT_TYPES.index("insolvency")
_NO_DAY = np.iinfo(np.int64).max // 4  # "never" (no default drawn)
_MAX_DAYS_LATE = 89  # a debtor not in default pays within 90 days beyond terms


@dataclass(frozen=True, slots=True)
class History:
    """What :func:`generate_history` returns.

    Attributes
    ----------
    frames : dict of str to pandas.DataFrame
        The portfolio tables (those of :func:`riskengine.synthetic.generate_portfolio`,
        then ``outcomes``, then ``fx_rates``).
    truth : pandas.DataFrame
        :data:`TRUTH_COLUMNS`: the true 12-month PD of each debtor alive and not in
        default at each year-end of the history. SYNTHETIC; never a portfolio table.
    year_ends : tuple of str
        The year-ends of the truth, oldest first.
    """

    frames: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    year_ends: tuple[str, ...]


def _calendar(day: int, years: int) -> tuple[_F, _F]:
    """The history's year-ends (days) and the calendar years of its records."""
    d = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
    try:
        start = d.replace(year=d.year - years)
    except ValueError:  # 29 February
        start = d.replace(year=d.year - years, day=28)
    start_day = (start - dt.date(1970, 1, 1)).days
    cand = np.arange(start.year, d.year + 1)
    ends = _month_end_days(cand, np.full(cand.size, 12))
    keep = (ends > start_day) & (ends <= day)
    if not keep.any():  # pragma: no cover - a year of history always holds a Dec 31
        raise InvalidInputError(f"No year-end between {start} and {d}.")
    record_years = np.arange(int(cand[keep][0]) - 2, d.year + 1)
    return ends[keep], record_years


def _states(d: _Debtors, n_years: int, rng: np.random.Generator) -> tuple[_F, _F]:
    """The weakness of every debtor in every record year (n x years) and the sector
    cycles (sectors x years)."""
    n = d.w.size
    x = np.empty((n, n_years))
    x[:, 0] = rng.standard_normal(n)
    shock = np.sqrt(1.0 - _FIRM_RHO**2)
    for j in range(1, n_years):  # a loop over years, not debtors
        x[:, j] = _FIRM_RHO * x[:, j - 1] + shock * rng.standard_normal(n)
    n_sec = int(d.sector.max()) + 1 if n else 1
    c = np.empty((n_sec, n_years))
    c[:, 0] = _CYCLE_SD * rng.standard_normal(n_sec)
    c_shock = _CYCLE_SD * np.sqrt(1.0 - _CYCLE_RHO**2)
    for j in range(1, n_years):
        c[:, j] = _CYCLE_RHO * c[:, j - 1] + c_shock * rng.standard_normal(n_sec)
    return _STATIC * d.w[:, None] + _DYNAMIC * x + c[d.sector], c


def _history_statements(d: _Debtors, w: _F, years: _F, day: int,
                        rng: np.random.Generator) -> tuple[pd.DataFrame, _F]:
    """Every fiscal year filed by ``day`` within the record years, line items from that
    year's weakness (the plain book's line items)."""
    n, r = w.shape
    fy_month = np.where(rng.random(n) < 0.06, 6, 12)
    files = np.asarray(rng.random(n) >= 0.02, dtype=bool)
    type_p = np.array([f[3] for f in _FORMS.values()])[d.form]
    st_type = _choice_rows(rng, type_p)
    # revenue: grows with strength, falls with a worsening; anchored at the latest year
    dw = np.diff(w, axis=1, prepend=w[:, :1])
    growth = 0.03 - 0.05 * w - 0.15 * dw + 0.06 * rng.standard_normal((n, r))
    ends = _month_end_days(np.broadcast_to(years, (n, r)), fy_month[:, None])
    valid = (ends <= day - _FILING_DAYS) & (ends > d.inc_day[:, None]) & files[:, None]
    cum = np.cumsum(growth, axis=1)
    last = np.where(valid.any(axis=1), r - 1 - np.argmax(valid[:, ::-1], axis=1), r - 1)
    log_rev = np.log(d.revenue_eur)[:, None] + cum - cum[np.arange(n), last][:, None]
    owner, col = np.nonzero(valid)  # row-major: by debtor, oldest first
    fx = d.fx[owner]
    frame = _statement_frame(d, owner, ends[owner, col], st_type[owner], w[owner, col],
                             np.exp(log_rev[owner, col]) * fx, fx, rng)
    return frame, owner


def _history_adverse(d: _Debtors, w: _F, ends: _F, rng: np.random.Generator
                     ) -> tuple[pd.DataFrame, _F]:
    """Each record year's register events (the plain book's process on that year's
    weakness), without insolvency events; the debtor of each row."""
    frames, owners = [], []
    for j in range(ends.size):  # a loop over years
        frame, owner = _make_adverse(replace(d, w=w[:, j]), int(ends[j]), rng)
        event = frame["event_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
        lo = ends[j - 1] if j else ends[0] - 366
        keep = ((event > lo) & (event > d.inc_day[owner])
                & ~frame["event_type"].isin(INSOLVENCY_EVENT_TYPES).to_numpy())
        frames.append(frame[keep])
        owners.append(owner[keep])
    return pd.concat(frames, ignore_index=True), np.concatenate(owners)


def _history_invoices(d: _Debtors, w: _F, ends: _F, pairs: Any,
                      rng: np.random.Generator) -> _Invoices:
    """Each record year's invoices of every pair (the plain book's invoices on that
    year's weakness), each paid within :data:`_MAX_DAYS_LATE` beyond terms: before its
    default no debtor is 90 days past due (that is a default, CRR art. 178(1)(b))."""
    parts: list[_Invoices] = []
    for j in range(ends.size):
        inv = _make_invoices(replace(d, w=w[:, j]), pairs, int(ends[j]), rng)
        lo = ends[j - 1] if j else ends[0] - 366
        keep = (inv.issue_day > lo) & (inv.issue_day > d.inc_day[pairs.owner[inv.pair]])
        parts.append(_Invoices(*(getattr(inv, f)[keep] for f in _Invoices.__slots__)))
    cat = _Invoices(*(np.concatenate([getattr(p, f) for p in parts])
                      for f in _Invoices.__slots__))
    order = np.lexsort((cat.issue_day, cat.pair))
    cat = _Invoices(*(getattr(cat, f)[order] for f in _Invoices.__slots__))
    paid = np.minimum(cat.paid_day, cat.due_day + _MAX_DAYS_LATE)
    return replace(cat, paid_day=paid, open=np.zeros(paid.size, dtype=bool))


@dataclass(frozen=True, slots=True)
class _Evidence:
    """The records as arrays for the truth (every array by record row)."""

    st_owner: _F
    st_day: _F
    st_lev: _F
    st_margin: _F
    st_log_rev: _F
    adv_owner: _F
    adv_day: _F
    inv_owner: _F
    inv_due: _F
    inv_issue: _F
    inv_paid: _F


def _evidence(statements: pd.DataFrame, adverse: pd.DataFrame, adv_owner: _F,
              st_owner: _F, inv: _Invoices, pair_owner: _F) -> _Evidence:
    def col(name: str) -> _F:
        return statements[name].to_numpy(dtype=np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        lev = col("total_liabilities") / col("total_assets")
        margin = col("ebitda") / col("revenue")
        log_rev = np.log(col("revenue"))
    tier = adverse["event_type"].map(ADVERSE_SEVERITY_TIER).to_numpy(dtype=np.int64)
    adverse_rows = tier >= 1
    return _Evidence(
        st_owner, statements["period_end"].to_numpy(dtype="datetime64[D]").astype(np.int64),
        lev, margin, log_rev, adv_owner[adverse_rows],
        adverse["event_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)[adverse_rows],
        pair_owner[inv.pair], inv.due_day, inv.issue_day,
        inv.paid_day)


def _truth_logit(e: _Evidence, n: int, t: int) -> _F:
    """The recorded part of the true logit of every debtor at day ``t`` (docstring, 3)."""
    parts = truth_terms(e, n, t)
    return _A + parts["statement"] + parts["adverse"] + parts["payment"]


def truth_terms(e: _Evidence, n: int, t: int) -> dict[str, _F]:
    """The recorded families of the true logit at day ``t`` (docstring, 3), without the
    intercept: ``statement`` (leverage, margin, growth, no accounts), ``adverse`` and
    ``payment``. Read by ``benchmarks/bench_auc_decomposition.py`` to tell which family a
    fitted model loses."""
    rows = np.flatnonzero(e.st_day <= t)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, e.st_owner[rows], rows)
    has = last >= 0
    li = np.where(has, last, 0)
    prev = li - 1
    gap = e.st_day[li] - e.st_day[np.maximum(prev, 0)]
    has_prev = has & (prev >= 0) & (e.st_owner[np.maximum(prev, 0)] == np.arange(n)) \
        & (gap >= 300) & (gap <= 430)
    lev = np.where(has, e.st_lev[li] - 0.65, 0.0)
    margin = np.where(has, e.st_margin[li] - 0.08, 0.0)
    growth = np.where(has_prev, e.st_log_rev[li] - e.st_log_rev[np.maximum(prev, 0)], 0.0)
    lev, margin = np.nan_to_num(lev, nan=0.0), np.nan_to_num(margin, nan=0.0)
    growth = np.clip(np.nan_to_num(growth, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
    age = t - e.adv_day
    seen = (age >= 0) & (age <= _LOOKBACK_DAYS)
    adverse = np.bincount(e.adv_owner[seen], weights=0.5 ** (age[seen] / _HALF_LIFE_DAYS),
                          minlength=n)
    issued = e.inv_issue <= t
    paid = e.inv_paid <= t
    sample = issued & ((paid & (e.inv_paid > t - 365)) | (~paid & (e.inv_due < t)))
    obs = np.where(paid, e.inv_paid, t)
    dbt = np.maximum(obs - e.inv_due, 0)[sample]
    owner = e.inv_owner[sample]
    count = np.bincount(owner, minlength=n)
    total = np.bincount(owner, weights=dbt, minlength=n)
    mean_dbt = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return {"statement": (_B_LEV * np.clip(lev, -0.65, 1.5)
                          + _B_MARGIN * np.clip(margin, -0.6, 0.5)
                          + _B_GROWTH * growth + _B_NO_ACCOUNTS * ~has),
            "adverse": _B_ADVERSE * np.log1p(adverse),
            "payment": _B_DBT * np.log1p(mean_dbt)}


@dataclass(frozen=True, slots=True)
class _Defaults:
    day: _F  # default day by debtor, _NO_DAY when none drawn
    kind: _F  # index into DEFAULT_TYPES, -1 when none
    cut: _F  # by debtor: invoices not paid by this day stay unpaid (_NO_DAY: none)
    truth: pd.DataFrame


def _draw_defaults(d: _Debtors, e: _Evidence, cycle: _F, record_years: _F, year_ends: _F,
                   rng: np.random.Generator) -> _Defaults:
    n = d.w.size
    firm = _FIRM_SD * rng.standard_normal(n)
    default_day = np.full(n, _NO_DAY, dtype=np.int64)
    kind = np.full(n, -1, dtype=np.int64)
    cut = np.full(n, _NO_DAY, dtype=np.int64)
    parts = []
    for t in year_ends:  # a loop over year-ends
        year = int(np.datetime64(int(t), "D").astype("datetime64[Y]").astype(np.int64)) + 1970
        j = int(np.flatnonzero(record_years == year)[0])
        logit = _truth_logit(e, n, int(t)) + _B_CYCLE * cycle[d.sector, j] + firm
        pd_12m = 1.0 / (1.0 + np.exp(-logit))
        at_risk = (d.inc_day < t) & (default_day > t)
        idx = np.flatnonzero(at_risk)
        parts.append(pd.DataFrame({
            "debtor_id": d.ids.take(idx),
            "as_of": _dates(np.full(idx.size, int(t))),
            "pd_12m": pd_12m[idx]}))
        u = rng.random(n)
        when = int(t) + 1 + np.minimum((rng.random(n) * 365).astype(np.int64), 364)
        k = _choice_rows(rng, np.broadcast_to(np.array(_DEFAULT_TYPE_P), (n, len(DEFAULT_TYPES))))
        new = at_risk & (u < pd_12m)
        default_day[new] = when[new]
        kind[new] = k[new]
        stop = np.where(k == _PAST_DUE, np.maximum(when - 90, int(t)), when)
        cut[new] = stop[new]
    return _Defaults(default_day, kind, cut, pd.concat(parts, ignore_index=True))


def _censor(statements: pd.DataFrame, st_owner: _F, adverse: pd.DataFrame, adv_owner: _F,
            inv: _Invoices, pair_owner: _F, dflt: _Defaults, d: _Debtors, day: int,
            rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, _F, _Invoices]:
    """A defaulted debtor stops trading, filing and paying (docstring, 4); an insolvency
    shows on the register."""
    st_day = statements["period_end"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    statements = statements[st_day <= dflt.day[st_owner]].reset_index(drop=True)
    ev_day = adverse["event_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    keep = ev_day <= dflt.day[adv_owner]
    adverse, adv_owner = adverse[keep], adv_owner[keep]
    insolvent = np.flatnonzero((dflt.kind == _INSOLVENCY) & (dflt.day <= day))
    m = insolvent.size
    kinds = _codes("adverse_records", "event_type", INSOLVENCY_EVENT_TYPES)
    filed = _frame("adverse_records", {
        "record_id": _Gather(_ids("X", m, _width(m)), None),
        "debtor_id": _Gather(d.ids, insolvent),
        "event_type": kinds[(rng.random(m) < 0.5).astype(np.int64)],
        "event_date": _dates(dflt.day[insolvent]),
        "amount": np.round(250_000.0 * np.exp(rng.standard_normal(m)) * d.fx[insolvent], 2),
        "currency": d.currency[insolvent],
        "status": np.zeros(m, dtype=np.int64),  # open
        "settlement_date": _dates(np.zeros(m), np.ones(m, dtype=bool)),
    })
    adverse = pd.concat([adverse, filed], ignore_index=True)
    adv_owner = np.concatenate([adv_owner, insolvent])
    ev_day = adverse["event_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    order = np.lexsort((ev_day, adv_owner))
    adverse = adverse.take(order).reset_index(drop=True)
    adverse["record_id"] = _ids("A", len(adverse), _width(len(adverse)))
    adv_owner = adv_owner[order]

    owner = pair_owner[inv.pair]
    kept = inv.issue_day <= dflt.day[owner]
    # unpaid from the cut; a past_due_90 default leaves unpaid only what falls due from
    # 90 days before it (so the first invoice 90 days past due is not due before it)
    stopped = (inv.paid_day > dflt.cut[owner]) & (
        (dflt.kind[owner] != _PAST_DUE) | (inv.due_day >= dflt.day[owner] - 90))
    unpaid = stopped | (inv.paid_day > day)
    inv = _Invoices(inv.pair[kept], inv.amount[kept], inv.issue_day[kept], inv.due_day[kept],
                    inv.paid_day[kept], unpaid[kept], inv.credit_note[kept],
                    inv.disputed[kept])
    return statements, adverse, adv_owner, inv


def _outcomes(d: _Debtors, dflt: _Defaults, day: int) -> pd.DataFrame:
    idx = np.flatnonzero(dflt.day <= day)
    return _frame("outcomes", {
        "debtor_id": _Gather(d.ids, idx),
        "default_date": _dates(dflt.day[idx]),
        "default_type": dflt.kind[idx],
    })


def defaults_within_a_year(truth: pd.DataFrame, outcomes: pd.DataFrame) -> np.ndarray:
    """The label of each truth row: 1 when its debtor defaults in ``(as_of, as_of + 12
    months]`` (the shared decisions' label; the truth's PD is the chance of exactly that).

    Parameters
    ----------
    truth : pandas.DataFrame
        :data:`TRUTH_COLUMNS` (``as_of`` a datetime column).
    outcomes : pandas.DataFrame
        The book's ``outcomes`` (one default at most per debtor in a history).

    Returns
    -------
    numpy.ndarray of int8

    Examples
    --------
    >>> truth = pd.DataFrame({"debtor_id": ["a", "a", "b"], "pd_12m": [0.1, 0.2, 0.1],
    ...                       "as_of": pd.to_datetime(["2023-12-31", "2024-12-31", "2024-12-31"])})
    >>> out = pd.DataFrame({"debtor_id": ["a"], "default_date": pd.to_datetime(["2025-12-31"]),
    ...                     "default_type": ["insolvency"]})
    >>> defaults_within_a_year(truth, out).tolist()
    [0, 1, 0]
    """
    when = pd.Series(outcomes["default_date"].to_numpy(dtype="datetime64[D]"),
                     index=pd.Index(outcomes["debtor_id"], dtype="str"))
    when = when[~when.index.duplicated(keep="first")]
    d = truth["debtor_id"].map(when).to_numpy(dtype="datetime64[D]")
    t = truth["as_of"].to_numpy(dtype="datetime64[D]")
    month = t.astype("datetime64[M]")
    dom = (t - month.astype("datetime64[D]")).astype(np.int64)
    nxt = month + 12
    last_day = ((nxt + 1).astype("datetime64[D]") - nxt.astype("datetime64[D]")).astype(np.int64)
    horizon = nxt.astype("datetime64[D]") + np.minimum(dom, last_day - 1)
    hit = ~np.isnat(d) & (d > t) & (d <= horizon)
    return hit.astype(np.int8)


def generate_history(n_debtors: int, seed: int = 42, as_of: Any = "2026-06-30", years: int = 5,
                     *, n_suppliers: int | None = None) -> History:
    """A SYNTHETIC book of ``years`` years ending at ``as_of``, its outcomes and its truth.

    Parameters
    ----------
    n_debtors : int
        Number of debtors (>= 1).
    seed : int
        Seed of every draw: the same arguments give identical frames.
    as_of : date-like
        The book's as-of date: no record, outcome or truth is dated after it.
    years : int
        Years of history, 1 ... :data:`MAX_YEARS`: the truth is given at each Dec 31
        of the ``years`` years before ``as_of``.
    n_suppliers : int, optional
        As in :func:`riskengine.synthetic.generate_portfolio`.

    Returns
    -------
    History

    Raises
    ------
    InvalidInputError
        ``years`` outside 1 ... 10, or a count below 1.
    """
    if isinstance(years, bool) or not isinstance(years, (int, np.integer)) \
            or not 1 <= years <= MAX_YEARS:
        raise InvalidInputError(
            f"--years must be a whole number from 1 to {MAX_YEARS}, got {years!r}.")
    day, rngs, debtors, suppliers, shipped = _base_book(n_debtors, seed, as_of, n_suppliers)
    pairs = _make_pairs(debtors, suppliers, shipped.policy.limits.rounding_unit,
                        rngs["exposures"])
    year_ends, record_years = _calendar(day, int(years))
    ends = np.minimum(_month_end_days(record_years, np.full(record_years.size, 12)), day)
    h = rngs["history"]
    w, cycle = _states(debtors, record_years.size, h)
    statements, st_owner = _history_statements(debtors, w, record_years, day,
                                               rngs["statements"])
    adverse, adv_owner = _history_adverse(debtors, w, ends, rngs["adverse"])
    inv = _history_invoices(debtors, w, ends, pairs, rngs["invoices"])
    ev = _evidence(statements, adverse, adv_owner, st_owner, inv, pairs.owner)
    dflt = _draw_defaults(debtors, ev, cycle, record_years, year_ends, h)
    del ev
    statements, adverse, adv_owner, inv = _censor(statements, st_owner, adverse, adv_owner,
                                                   inv, pairs.owner, dflt, debtors,
                                                   day, h)
    last = replace(debtors, w=w[:, -1])
    sales = _sales_of(last, suppliers, pairs, inv, rngs["exposures"])
    view = _debtor_view(last, statements, adverse, adv_owner, day, shipped)
    frames = _declared_tables(_assemble(last, suppliers, sales, statements, adverse, view,
                                        day, rngs, outcomes=_outcomes(debtors, dflt, day)))
    ends_text = tuple(str(np.datetime64(int(t), "D")) for t in year_ends)
    return History(frames, dflt.truth, ends_text)
