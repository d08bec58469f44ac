"""Odds factors of adverse and qualitative evidence on the Spanish data (issue 17 point 3).

``riskengine evidence --spanish [FILE] [--json] [--test-from YEAR]`` =
:func:`evidence_command` -> :func:`spanish_evidence`.

The data (``../shared/data/spanish/Bankruptcy_Spain_98-03.arff``, read by
:func:`riskengine.io.datasets.load_spanish`; every column in :data:`SPANISH_COLUMNS`)
are 2,859 firm-years 1998–2003 with 62 financial failures and no firm id. The protocol:

- **Split by year.** Fit on the years before ``test_from`` (default 2003: 1998–2002,
  28 failures), test on ``test_from`` and later (2003: 34 failures). A cut at 2002
  leaves 16 failures for 13 coefficients and the fit runs into quasi-separation
  (the audited flag's estimate above 8); the cut is an argument so that it can be
  rerun. The same firms appear on both sides (there is no firm id): the test is
  out of time, not out of sample in firms.
- **Evidence model.** A logistic regression of ``BANKRUPTCY`` on the evidence
  (:data:`EVIDENCE_TERMS`) and the controls (:data:`CONTROLS`), unpenalised maximum
  likelihood by :func:`riskengine.modeldev.glm.fit_logistic`, Wald 95 % intervals.
  Counts enter as ``log1p(count)``, the transform of the overlay's count terms, so a
  coefficient is in the unit of an overlay weight (log odds per ``log1p`` record).
- **Controls** (the financial condition, in Altman's dimensions, chosen before any
  fit): profitability ``RETURN_ASSETS``, liquidity ``WORKING_CAPITAL``, leverage
  ``DEBT_RATIO``, size ``log1p(NUMBER_EMPLOYEES)`` and age ``log1p(AGE)`` (historic
  incidence counts accumulate over a firm's life, so age is their exposure time).
  Each is winsorised at the fit years' 1st and 99th percentiles (the ratios have
  tails of 10^4 and more), a missing value takes the fit years' median, and the
  column is standardised with the fit years' mean and sd: nothing of the test years
  enters the fit.
- **Out of time.** AUC on the test years of the evidence model and of the
  ratios-only model (the same controls, no evidence), each with a stratified
  bootstrap 95 % interval, and the paired bootstrap interval of their difference.

With 28 failures for 13 coefficients (about two events per coefficient) most
intervals are wide; :attr:`Estimate.significant` says which exclude 0.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from riskengine.errors import InvalidInputError
from riskengine.model import metrics as mt
from riskengine.modeldev.glm import fit_logistic
from riskengine.scoring.overlay import TermFit

__all__ = [
    "SPANISH_COLUMNS",
    "EvidenceTerm",
    "EVIDENCE_TERMS",
    "CONTROLS",
    "TEST_FROM",
    "Estimate",
    "SpanishEvidence",
    "evidence_design",
    "control_design",
    "spanish_evidence",
    "overlay_fits",
    "format_evidence",
    "evidence_command",
]

FloatArray = npt.NDArray[np.float64]

#: Every column of ``Bankruptcy_Spain_98-03.arff``: its meaning as the file's header
#: comments give it, and the type :func:`~riskengine.io.datasets.load_spanish` returns.
#: The file gives no units: amounts are in its (undocumented) currency unit, ratios as
#: computed by the data set's authors (Alfaro-Cid et al. 2008).
SPANISH_COLUMNS: dict[str, str] = {
    "YEAR": "fiscal year of the firm-year (1998-2003); the split, never a feature",
    "SIZE": "size class {small, medium, big} (category)",
    "NUMBER_EMPLOYEES": "number of employees",
    "AGE": "age of the firm in years (7 rows have -1)",
    "SOCIAL_CODE": "legal form {Co, Ltd, other} (category)",
    "LINKED_GROUP": "linked to a group {no, yes} (category)",
    "NUMBER_PARTNERS": "number of partners",
    "PROVINCE_CODE": "Spanish province code (category, 44 codes)",
    "CHANGES_LOCATION": "number of changes of registered location",
    "DEBT_STRUCTURE": "debt structure ratio",
    "DEBT_COST": "cost of debt ratio",
    "DEBT_PAYING_AVAILABILITY": "debt-paying availability ratio",
    "DEBT_RATIO": "debt ratio (leverage)",
    "WORKING_CAPITAL": "working capital ratio (liquidity)",
    "WARRANTY": "warranty (collateral cover) ratio",
    "OPERATING_INCOME_MARGIN": "operating income margin",
    "RETURN_OPERATING_ASSETS": "return on operating assets",
    "RETURN_EQUITY": "return on equity",
    "RETURN_ASSETS": "return on assets (profitability)",
    "STOCK_TURNOVER": "stock (inventory) turnover",
    "ASSET_TURNOVER": "asset turnover",
    "RECEIVABLE_TURNOVER": "receivable turnover",
    "ASSET_ROTATION": "asset rotation",
    "FINANCIAL_SOLVENCY": "financial solvency (current ratio)",
    "ACID_TEST": "acid test (quick ratio)",
    "DELAY_ACCOUNTS": "annual accounts filed late {no, yes} (category)",
    "NUMBER_JUDICIAL_INCIDENCES_TOTAL": "historic number of judicial incidences",
    "NUMBER_JUDICIAL_INCIDENCES_YEAR": "number of judicial incidences in the last year",
    "SPENT_JUDICIAL_INCIDENCES_TOTAL": "historic amount of the judicial incidences",
    "SPENT_JUDICIAL_INCIDENCES_YEAR": "amount of the judicial incidences in the last year",
    "NUMBER_SERIOUS_INCIDENCES": "historic number of serious incidences",
    "AUDITED": "accounts audited {no, yes} (category)",
    "AUDITORS_OPINION": "auditor's opinion {nothing, positive, minor, negative} (category)",
    "BANKRUPTCY": "financial failure {NO, YES}: the label (load_spanish's y, 1 = YES)",
}

#: Default first test year: fit on 1998-2002 (28 failures), test on 2003 (34).
TEST_FROM = 2003


@dataclass(frozen=True, slots=True)
class EvidenceTerm:
    """One evidence column of the model and the overlay term it informs (if any)."""

    name: str
    definition: str
    overlay: str | None
    mapping: str
    #: The column's value for one record (``log 2`` for a ``log1p`` count) or a "yes" (1).
    unit: float = 1.0


_ONE = math.log(2.0)
EVIDENCE_TERMS: tuple[EvidenceTerm, ...] = (
    EvidenceTerm("judicial_incidences", "log1p(NUMBER_JUDICIAL_INCIDENCES_TOTAL)",
                 "adv_n_tier2",
                 "court claims over unpaid debts ~ payment orders and unpaid bills (tier 2); "
                 "both log1p of a count", _ONE),
    EvidenceTerm("judicial_incidences_last_year", "log1p(NUMBER_JUDICIAL_INCIDENCES_YEAR)",
                 "adv_weighted_count",
                 "the extra odds of a recent incidence beyond the historic count ~ the "
                 "recency-weighted count (a 1-year-old record weighs 0.71 there, 1 here)", _ONE),
    EvidenceTerm("judicial_amount", "log1p(SPENT_JUDICIAL_INCIDENCES_TOTAL / "
                 "max(NUMBER_JUDICIAL_INCIDENCES_TOTAL, 1) / 1000)", None,
                 "size of the average incidence (thousands, the file's unit); the overlay "
                 "has no amount term (amounts enter the knock-out's significance test)"),
    EvidenceTerm("serious_incidences", "log1p(NUMBER_SERIOUS_INCIDENCES)", "adv_n_tier3",
                 "serious incidences ~ enforcement (auctions, seizures, tier 3); the file "
                 "does not define them", _ONE),
    EvidenceTerm("late_filing", "DELAY_ACCOUNTS = yes", None,
                 "annual accounts filed late: no overlay term (not in the adverse register)"),
    EvidenceTerm("audited", "AUDITED = yes", None,
                 "audited accounts: no overlay term (statement_type, not an adverse record)"),
    EvidenceTerm("qualified_opinion", "AUDITORS_OPINION in {minor, negative}", None,
                 "a qualified or adverse audit opinion: no overlay term"),
)

#: The controls (financial condition): name -> definition.
CONTROLS: dict[str, str] = {
    "return_assets": "RETURN_ASSETS",
    "working_capital": "WORKING_CAPITAL",
    "debt_ratio": "DEBT_RATIO",
    "size": "log1p(NUMBER_EMPLOYEES)",
    "age": "log1p(max(AGE, 0))",
}

_REQUIRED = ("YEAR", "NUMBER_EMPLOYEES", "AGE", "RETURN_ASSETS", "WORKING_CAPITAL",
             "DEBT_RATIO", "DELAY_ACCOUNTS", "NUMBER_JUDICIAL_INCIDENCES_TOTAL",
             "NUMBER_JUDICIAL_INCIDENCES_YEAR", "SPENT_JUDICIAL_INCIDENCES_TOTAL",
             "NUMBER_SERIOUS_INCIDENCES", "AUDITED", "AUDITORS_OPINION")
_COUNTS = ("NUMBER_JUDICIAL_INCIDENCES_TOTAL", "NUMBER_JUDICIAL_INCIDENCES_YEAR",
           "SPENT_JUDICIAL_INCIDENCES_TOTAL", "NUMBER_SERIOUS_INCIDENCES")
METHOD = ("riskengine evidence --spanish: logistic regression, unpenalised maximum likelihood (riskengine.modeldev.glm), "
          "Wald 95 % CI; controls: return on assets, working capital, debt ratio, "
          "log1p employees, log1p age")
REFERENCE = ("Alfaro-Cid et al., IEEE CEC 2008, pp. 2907-2913 (Spanish firms 1998-2003, "
             "Artistic License 2.0)")


def _check(X: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in X.columns]
    if missing:
        raise InvalidInputError(f"spanish evidence: column {missing[0]!r} is missing (all "
                                f"missing: {missing}); pass the frame of load_spanish.")
    for c in _COUNTS:
        v = X[c].to_numpy(np.float64)
        bad = ~(np.isfinite(v) & (v >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"spanish evidence: row {i + 1}, {c} = {float(v[i])!r}: counts "
                                    "and amounts must be finite and >= 0.")


def _flag(col: pd.Series, values: tuple[str, ...]) -> FloatArray:
    return col.astype(str).isin(values).to_numpy(np.float64)


def evidence_design(X: pd.DataFrame) -> pd.DataFrame:
    """The evidence columns of :data:`EVIDENCE_TERMS`, row by row (no fitted parameter).

    Parameters
    ----------
    X : pandas.DataFrame
        The frame of :func:`riskengine.io.datasets.load_spanish` (at least its
        adverse, audit and count columns).

    Returns
    -------
    pandas.DataFrame
        One float column per evidence term, in :data:`EVIDENCE_TERMS` order, on X's index.

    Raises
    ------
    InvalidInputError
        A column is missing, or a count or amount is negative or missing (row and column
        named).
    """
    _check(X)
    n_total = X["NUMBER_JUDICIAL_INCIDENCES_TOTAL"].to_numpy(np.float64)
    spent = X["SPENT_JUDICIAL_INCIDENCES_TOTAL"].to_numpy(np.float64)
    cols = {
        "judicial_incidences": np.log1p(n_total),
        "judicial_incidences_last_year":
            np.log1p(X["NUMBER_JUDICIAL_INCIDENCES_YEAR"].to_numpy(np.float64)),
        "judicial_amount": np.log1p(spent / np.maximum(n_total, 1.0) / 1000.0),
        "serious_incidences": np.log1p(X["NUMBER_SERIOUS_INCIDENCES"].to_numpy(np.float64)),
        "late_filing": _flag(X["DELAY_ACCOUNTS"], ("yes",)),
        "audited": _flag(X["AUDITED"], ("yes",)),
        "qualified_opinion": _flag(X["AUDITORS_OPINION"], ("minor", "negative")),
    }
    return pd.DataFrame(cols, index=X.index)[[t.name for t in EVIDENCE_TERMS]]


def control_design(X: pd.DataFrame, fit_rows: npt.ArrayLike) -> pd.DataFrame:
    """The controls of :data:`CONTROLS`, winsorised, imputed and standardised on ``fit_rows``.

    Each raw control is clipped to the 1st and 99th percentiles of the fit rows, a
    missing value takes the fit rows' median, and the column is centred and scaled by
    the fit rows' mean and sd: the rows outside ``fit_rows`` (the test years) change
    no parameter of the transform.

    Parameters
    ----------
    X : pandas.DataFrame
        The frame of :func:`riskengine.io.datasets.load_spanish`.
    fit_rows : array of bool, shape (n,)
        The rows the transform is estimated on.

    Returns
    -------
    pandas.DataFrame
        One float column per control, in :data:`CONTROLS` order, on X's index.
    """
    _check(X)
    rows = np.asarray(fit_rows, dtype=bool)
    if rows.shape != (len(X),) or not rows.any():
        raise InvalidInputError("spanish evidence: fit_rows must mark at least one of the "
                                f"{len(X)} rows.")
    raw = {
        "return_assets": X["RETURN_ASSETS"].to_numpy(np.float64),
        "working_capital": X["WORKING_CAPITAL"].to_numpy(np.float64),
        "debt_ratio": X["DEBT_RATIO"].to_numpy(np.float64),
        "size": np.log1p(np.maximum(X["NUMBER_EMPLOYEES"].to_numpy(np.float64), 0.0)),
        "age": np.log1p(np.maximum(X["AGE"].to_numpy(np.float64), 0.0)),
    }
    out = {}
    for name, v in raw.items():
        f = v[rows]
        if not np.isfinite(f).any():
            raise InvalidInputError(f"spanish evidence: control {CONTROLS[name]} has no value "
                                    "in the fit years.")
        lo, hi = np.nanquantile(f, [0.01, 0.99])
        med = float(np.nanmedian(f))
        w = np.clip(np.where(np.isfinite(v), v, med), lo, hi)
        sd = float(w[rows].std())
        out[name] = (w - w[rows].mean()) / (sd if sd > 0 else 1.0)
    return pd.DataFrame(out, index=X.index)[list(CONTROLS)]


@dataclass(frozen=True, slots=True)
class Estimate:
    """One coefficient of the evidence model (log odds per unit of its column)."""

    term: str
    definition: str
    overlay: str | None
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    unit: float = 1.0

    @property
    def odds_factor(self) -> float:
        """``exp(estimate * unit)``: the odds multiplier of one record, a "yes" or one sd."""
        return math.exp(self.estimate * self.unit)

    @property
    def significant(self) -> bool:
        """The Wald 95 % interval excludes 0."""
        return self.ci_low > 0 or self.ci_high < 0


@dataclass(frozen=True)
class SpanishEvidence:
    """The evidence model, its estimates and the out-of-time comparison."""

    fit_years: tuple[int, ...]
    test_years: tuple[int, ...]
    n_obs: int
    n_events: int
    n_test: int
    test_events: int
    evidence: tuple[Estimate, ...]
    controls: tuple[Estimate, ...]
    auc_evidence: float
    auc_evidence_ci: tuple[float, float]
    auc_ratios: float
    auc_ratios_ci: tuple[float, float]
    auc_gain_ci: tuple[float, float]
    converged: bool
    n_boot: int

    @property
    def auc_gain(self) -> float:
        return self.auc_evidence - self.auc_ratios

    @property
    def data(self) -> str:
        """The sample in words (for the overlay's ``fit.data``)."""
        return (f"Spanish firms {_span(self.fit_years)} (Bankruptcy_Spain_98-03.arff): "
                f"{self.n_obs} firm-years, {self.n_events} failures; out of time "
                f"{_span(self.test_years)}: {self.n_test} firm-years, {self.test_events} "
                "failures")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able figures (the ``--json`` output)."""
        def est(e: Estimate) -> dict[str, Any]:
            return {**asdict(e), "odds_factor": e.odds_factor, "significant": e.significant}

        return {
            "fit_years": list(self.fit_years), "test_years": list(self.test_years),
            "n_obs": self.n_obs, "n_events": self.n_events, "n_test": self.n_test,
            "test_events": self.test_events, "method": METHOD, "reference": REFERENCE,
            "evidence": [est(e) for e in self.evidence],
            "controls": [est(e) for e in self.controls],
            "auc_evidence": self.auc_evidence, "auc_evidence_ci": list(self.auc_evidence_ci),
            "auc_ratios": self.auc_ratios, "auc_ratios_ci": list(self.auc_ratios_ci),
            "auc_gain": self.auc_gain, "auc_gain_ci": list(self.auc_gain_ci),
            "converged": self.converged, "n_boot": self.n_boot,
        }


def _span(years: tuple[int, ...]) -> str:
    return str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"


def _paired_gain_ci(y: FloatArray, s1: FloatArray, s0: FloatArray, n_boot: int,
                    seed: int) -> tuple[float, float]:
    """Stratified paired bootstrap 95 % interval of ``AUC(s1) - AUC(s0)`` (same draws)."""
    rng = np.random.default_rng(seed)
    i1, i0 = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    gains = np.empty(n_boot)
    for b in range(n_boot):  # n_boot draws, each two vectorised AUCs
        take = np.concatenate([rng.choice(i1, i1.size), rng.choice(i0, i0.size)])
        gains[b] = mt.auc(y[take], s1[take]) - mt.auc(y[take], s0[take])
    lo, hi = np.quantile(gains, [0.025, 0.975])
    return float(lo), float(hi)


def spanish_evidence(X: pd.DataFrame, y: npt.ArrayLike, *, test_from: int = TEST_FROM,
                     n_boot: int = 1000, seed: int = 0) -> SpanishEvidence:
    """Fit the evidence model on the years before ``test_from``; test it on the others.

    Parameters
    ----------
    X, y
        :func:`riskengine.io.datasets.load_spanish`'s frame and 0/1 labels.
    test_from : int, default 2003
        First out-of-time year; the fit sees only ``YEAR < test_from``.
    n_boot : int, default 1000
        Bootstrap draws of the AUC intervals (stratified by class, seeded).
    seed : int, default 0

    Returns
    -------
    SpanishEvidence

    Raises
    ------
    InvalidInputError
        A column is missing or a count is bad, or the split leaves a side without
        failures or without survivors.
    """
    yy = np.asarray(y, dtype=np.float64).reshape(-1)
    if yy.shape[0] != len(X):
        raise InvalidInputError(f"spanish evidence: {yy.shape[0]} labels for {len(X)} rows.")
    if not np.all((yy == 0.0) | (yy == 1.0)):
        i = int(np.flatnonzero(~((yy == 0.0) | (yy == 1.0)))[0])
        raise InvalidInputError(f"spanish evidence: row {i + 1}, BANKRUPTCY label = "
                                f"{float(yy[i])!r}: must be 0 or 1.")
    _check(X)
    year = X["YEAR"].to_numpy(np.float64)
    fit = year < test_from
    test = ~fit
    for side, rows in (("fit", fit), ("test", test)):
        ev = int(yy[rows].sum())
        if ev == 0 or ev == int(rows.sum()):
            raise InvalidInputError(f"spanish evidence: test_from={test_from} leaves the {side} "
                                    f"years with {int(rows.sum())} rows and {ev} failures; "
                                    "both classes are needed on each side.")
    E = evidence_design(X).to_numpy()
    C = control_design(X, fit).to_numpy()
    D = np.hstack([E, C])
    names_all = [t.name for t in EVIDENCE_TERMS] + list(CONTROLS)
    flat = np.flatnonzero(np.ptp(D[fit], axis=0) == 0)
    if flat.size:
        raise InvalidInputError(f"spanish evidence: {names_all[int(flat[0])]} is constant in "
                                "the fit years, so its odds factor cannot be estimated.")
    full = fit_logistic(D[fit], yy[fit])
    ratios = fit_logistic(C[fit], yy[fit])
    s_ev = full.linear_predictor(D[test])
    s_ra = ratios.linear_predictor(C[test])
    yt = yy[test]
    names = [(t.name, t.definition, t.overlay, t.unit) for t in EVIDENCE_TERMS] + \
        [(k, v, None, 1.0) for k, v in CONTROLS.items()]
    z = full.coef / full.se
    p = 2.0 * stats.norm.sf(np.abs(z))
    ests = tuple(Estimate(n, d, o, float(full.coef[i]), float(full.se[i]),
                          float(full.ci_low[i]), float(full.ci_high[i]), float(p[i]), u)
                 for i, (n, d, o, u) in enumerate(names))
    k = len(EVIDENCE_TERMS)
    return SpanishEvidence(
        fit_years=tuple(int(v) for v in np.unique(year[fit])),
        test_years=tuple(int(v) for v in np.unique(year[test])),
        n_obs=int(fit.sum()), n_events=int(yy[fit].sum()),
        n_test=int(test.sum()), test_events=int(yt.sum()),
        evidence=ests[:k], controls=ests[k:],
        auc_evidence=mt.auc(yt, s_ev),
        auc_evidence_ci=mt.bootstrap_ci(yt, s_ev, n_boot=n_boot, seed=seed),
        auc_ratios=mt.auc(yt, s_ra),
        auc_ratios_ci=mt.bootstrap_ci(yt, s_ra, n_boot=n_boot, seed=seed),
        auc_gain_ci=_paired_gain_ci(yt, s_ev, s_ra, n_boot, seed),
        converged=bool(full.converged and ratios.converged), n_boot=n_boot,
    )


def overlay_fits(result: SpanishEvidence) -> dict[str, TermFit]:
    """The ``fit`` table of each overlay term the evidence maps onto (feature -> TermFit)."""
    return {e.overlay: TermFit(round(e.estimate, 3), round(e.ci_low, 3), round(e.ci_high, 3),
                               METHOD, result.data, result.n_obs, result.n_events)
            for e in result.evidence if e.overlay is not None}


def format_evidence(result: SpanishEvidence,
                    committee: Mapping[str, float] | None = None) -> str:
    """The figures as text (what ``riskengine evidence --spanish`` prints).

    ``committee`` maps overlay features to the weights in force, printed beside the
    terms they inform.
    """
    weights = dict(committee or {})
    lines = [
        f"Spanish firms: fit {_span(result.fit_years)} ({result.n_obs} firm-years, "
        f"{result.n_events} failures); out of time {_span(result.test_years)} "
        f"({result.n_test} firm-years, {result.test_events} failures)",
        f"{METHOD}",
        "",
        "estimate: log odds per unit of the column (counts: per log1p record, the unit of "
        "an overlay weight)",
        "odds x: one record (counts), a yes (flags), one sd (controls)",
        f"{'term':<30} {'estimate':>8} {'95 % CI':>18} {'odds x':>7} {'p':>6}  overlay term",
    ]
    for e in (*result.evidence, *result.controls):
        star = "*" if e.significant else " "
        term = "-" if e.overlay is None else (
            f"{e.overlay} (committee {weights[e.overlay]:g})" if e.overlay in weights
            else e.overlay)
        lines.append(f"{e.term:<30} {e.estimate:>8.3f} [{e.ci_low:>7.3f}, {e.ci_high:>7.3f}] "
                     f"{e.odds_factor:>7.3g} {e.p_value:>6.3f}{star} {term}")
        if e is result.evidence[-1]:
            lines.append("controls (per sd of the fit years, winsorised 1-99 %):")
    lines += [
        "* the Wald 95 % interval excludes 0",
        "",
        f"out-of-time AUC (stratified bootstrap 95 % CI, {result.n_boot} draws):",
        f"  evidence model  {result.auc_evidence:.3f} "
        f"[{result.auc_evidence_ci[0]:.3f}, {result.auc_evidence_ci[1]:.3f}]",
        f"  ratios only     {result.auc_ratios:.3f} "
        f"[{result.auc_ratios_ci[0]:.3f}, {result.auc_ratios_ci[1]:.3f}]",
        f"  gain            {result.auc_gain:+.3f} "
        f"[{result.auc_gain_ci[0]:+.3f}, {result.auc_gain_ci[1]:+.3f}] (paired bootstrap)",
    ]
    if not result.converged:
        lines.append("WARNING: a fit did not converge; the figures are not reliable.")
    return "\n".join(lines)


def evidence_command(args: argparse.Namespace) -> int:
    """``riskengine evidence --spanish [FILE] [--json] [--test-from YEAR] [--n-boot N]``."""
    from riskengine.api import load_overlay
    from riskengine.io.datasets import load_spanish

    if args.n_boot < 1:
        raise InvalidInputError(f"--n-boot = {args.n_boot}: need at least 1 draw.")
    X, y = load_spanish(args.spanish or None)
    result = spanish_evidence(X, y, test_from=args.test_from, n_boot=args.n_boot)
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        weights = {t.feature: t.weight for t in load_overlay().terms}
        print(format_evidence(result, weights))
    return 0
