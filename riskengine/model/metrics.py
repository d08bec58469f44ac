"""Validation metrics of a PD model: discrimination, calibration, stability, monotonicity.

What model validators run (DOMAIN.md §4; EBA GL/2017/16; ECB instructions for
reporting the validation results of internal models, 2019; OeNB *Rating Models
and Validation*):

- discrimination: :func:`auc`, :func:`gini`, :func:`auc_standard_error`, :func:`bootstrap_ci`,
  :func:`discrimination`, :func:`ks_statistic`;
- calibration: :func:`brier_score`, :func:`jeffreys_pvalue`, :func:`grade_table`
  (per grade, one-sided Jeffreys test with traffic lights);
- stability: :func:`psi` with :func:`psi_light`;
- ranking of grades: :func:`monotonicity_test`;
- out of time: :func:`walk_forward`.

Conventions: ``y`` is the 0/1 default label (1 = default within the horizon);
a higher score means riskier; PDs are fractions. All functions are pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import integrate, stats

from riskengine.model.master_scale import GRADES

__all__ = [
    "auc",
    "gini",
    "auc_standard_error",
    "ks_statistic",
    "brier_score",
    "bootstrap_ci",
    "discrimination",
    "jeffreys_pvalue",
    "traffic_light",
    "grade_table",
    "psi",
    "psi_light",
    "MonotonicityResult",
    "monotonicity_test",
    "walk_forward",
]

JEFFREYS_YELLOW = 0.95
JEFFREYS_RED = 0.999
PSI_MINOR = 0.10
PSI_MAJOR = 0.25


def _xy(y: Any, score: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    yy = np.asarray(y, dtype=float).ravel()
    ss = np.asarray(score, dtype=float).ravel()
    if yy.shape != ss.shape:
        raise ValueError(f"{yy.shape[0]} labels for {ss.shape[0]} scores.")
    if not np.isin(yy, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 (no default) or 1 (default).")
    if not np.isfinite(ss).all():
        pos = int(np.flatnonzero(~np.isfinite(ss))[0])
        raise ValueError(f"score at position {pos} is {ss[pos]!r}; scores must be finite.")
    return yy, ss


def auc(y: Any, score: Any) -> float:
    """Area under the ROC curve (Mann–Whitney form; ties count one half).

    ``AUC = (R1 - n1 (n1 + 1) / 2) / (n1 n0)`` with ``R1`` the sum of the
    mid-ranks of the defaulters' scores. Higher score = riskier.

    Returns NaN when ``y`` holds a single class.

    Examples
    --------
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    yy, ss = _xy(y, score)
    n1 = float(yy.sum())
    n0 = float(yy.size - n1)
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(ss)
    return float((ranks[yy == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_standard_error(auc_value: float, n_defaults: int, n_non_defaults: int) -> float:
    """Standard error of an AUC (Hanley & McNeil, *Radiology* 143, 1982, eq. 1).

    ``SE^2 = (A(1 - A) + (n1 - 1)(Q1 - A^2) + (n0 - 1)(Q2 - A^2)) / (n1 n0)`` with
    ``Q1 = A / (2 - A)`` and ``Q2 = 2 A^2 / (1 + A)``; ``n1`` defaulters, ``n0``
    non-defaulters. NaN when either class is empty or ``A`` is NaN.

    Examples
    --------
    A = 0.90 with 50 defaulters and 50 non-defaulters, by hand: Q1 = 0.9 / 1.1,
    Q2 = 1.62 / 1.9, SE^2 = (0.09 + 49 (Q1 - 0.81) + 49 (Q2 - 0.81)) / 2500
    = 2.57986 / 2500, SE = 0.0321:

    >>> round(auc_standard_error(0.90, 50, 50), 4)
    0.0321
    """
    a = float(auc_value)
    n1, n0 = int(n_defaults), int(n_non_defaults)
    if n1 <= 0 or n0 <= 0 or not np.isfinite(a):
        return float("nan")
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    var = (a * (1.0 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    return float(np.sqrt(var))


def gini(y: Any, score: Any) -> float:
    """Gini coefficient (accuracy ratio) ``2 AUC - 1``."""
    return 2.0 * auc(y, score) - 1.0


def ks_statistic(y: Any, score: Any) -> float:
    """Kolmogorov–Smirnov statistic: max distance between the score CDFs of defaulters
    and non-defaulters (in [0, 1]).

    Examples
    --------
    >>> ks_statistic([0, 0, 1, 1], [1, 2, 3, 4])
    1.0
    """
    yy, ss = _xy(y, score)
    if yy.min() == yy.max():
        return float("nan")
    order = np.argsort(ss, kind="mergesort")
    s_sorted = ss[order]
    y_sorted = yy[order]
    cum1 = np.cumsum(y_sorted) / y_sorted.sum()
    cum0 = np.cumsum(1 - y_sorted) / (1 - y_sorted).sum()
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # evaluate CDFs at distinct scores
    return float(np.max(np.abs(cum1[last] - cum0[last])))


def brier_score(y: Any, pd_: Any) -> float:
    """Brier score ``mean((pd - y)^2)`` of PD fractions (lower is better).

    Examples
    --------
    >>> round(brier_score([0, 1], [0.1, 0.7]), 12)  # (0.01 + 0.09) / 2
    0.05
    """
    yy, pp = _xy(y, pd_)
    return float(np.mean((pp - yy) ** 2))


def bootstrap_ci(
    y: Any,
    score: Any,
    metric: Callable[[Any, Any], float] = auc,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a metric, stratified by class.

    Each draw resamples the defaulters and the non-defaulters separately with
    replacement (keeping both counts fixed, so every draw has both classes).

    Parameters
    ----------
    y, score : array-like
        Labels and scores.
    metric : callable, default :func:`auc`
        ``metric(y, score) -> float``.
    n_boot : int, default 1000
        Number of draws.
    level : float, default 0.95
        Two-sided coverage.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the interval is reproducible.

    Returns
    -------
    (lower, upper) : tuple of float
    """
    yy, ss = _xy(y, score)
    idx1 = np.flatnonzero(yy == 1)
    idx0 = np.flatnonzero(yy == 0)
    if idx1.size == 0 or idx0.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for b in range(n_boot):  # n_boot draws, each vectorised
        take = np.concatenate(
            [rng.choice(idx1, idx1.size, replace=True), rng.choice(idx0, idx0.size, replace=True)]
        )
        values[b] = metric(yy[take], ss[take])
    alpha = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def discrimination(
    y: Any, score: Any, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """AUC, Gini (with bootstrap CIs) and KS in one dict.

    Keys: ``auc, auc_lo, auc_hi, gini, gini_lo, gini_hi, ks, n, defaults``.
    The Gini interval is the AUC interval mapped through ``2 AUC - 1``.
    """
    yy, ss = _xy(y, score)
    a = auc(yy, ss)
    lo, hi = bootstrap_ci(yy, ss, auc, n_boot=n_boot, level=level, seed=seed)
    return {
        "auc": a, "auc_lo": lo, "auc_hi": hi,
        "gini": 2 * a - 1, "gini_lo": 2 * lo - 1, "gini_hi": 2 * hi - 1,
        "ks": ks_statistic(yy, ss), "n": float(yy.size), "defaults": float(yy.sum()),
    }


def jeffreys_pvalue(n: Any, defaults: Any, pd_: Any) -> npt.NDArray[np.float64]:
    """One-sided Jeffreys test p-value: is the predicted PD too low?

    With the Jeffreys prior Beta(1/2, 1/2), the posterior of the grade's true
    default rate after ``d`` defaults among ``n`` obligors is
    Beta(d + 1/2, n − d + 1/2). The p-value is the posterior probability that the
    true rate is at or below the predicted PD: ``p = BetaCDF(pd; d + 1/2, n − d + 1/2)``.
    A small p-value means the observed defaults make the predicted PD look too
    low (ECB 2019 validation reporting instructions, section 2.5.3.1).

    Returns NaN where ``n == 0``.

    Examples
    --------
    >>> round(float(jeffreys_pvalue(100, 5, 0.01)), 4)
    0.0014
    """
    n_ = np.asarray(n, dtype=float)
    d_ = np.asarray(defaults, dtype=float)
    p_ = np.asarray(pd_, dtype=float)
    with np.errstate(invalid="ignore"):
        out = stats.beta.cdf(p_, d_ + 0.5, n_ - d_ + 0.5)
    return np.where(n_ > 0, out, np.nan)


def traffic_light(confidence: Any) -> npt.NDArray[np.str_]:
    """Traffic light of a test confidence ``1 - p``: green < 95 %, yellow, red ≥ 99.9 %.

    NaN confidence (empty grade) -> ``"n/a"``.

    Examples
    --------
    >>> traffic_light([0.5, 0.97, 0.9995]).tolist()
    ['green', 'yellow', 'red']
    """
    c = np.asarray(confidence, dtype=float)
    out = np.where(c >= JEFFREYS_RED, "red", np.where(c >= JEFFREYS_YELLOW, "yellow", "green"))
    return np.where(np.isnan(c), "n/a", out).astype("<U6")


def grade_table(y: Any, pd_: Any, grades: Any, *, all_grades: bool = False) -> pd.DataFrame:
    """Calibration by grade: observed vs predicted default rates and the Jeffreys test.

    Parameters
    ----------
    y : array-like of {0, 1}
        Observed defaults.
    pd_ : array-like of float
        Predicted PDs.
    grades : array-like of str
        Master-scale grades of the same rows (``"NR"`` rows are left out).
    all_grades : bool, default False
        Also list empty grades (n = 0, NaN rates).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``grade`` in :data:`GRADES` order, columns ``n, defaults,
        observed_dr, mean_pd, share, jeffreys_p, confidence, light``. The test
        uses the grade's mean predicted PD; ``confidence = 1 - jeffreys_p``;
        ``light``: green < 95 %, yellow, red ≥ 99.9 % (DOMAIN.md §4).
    """
    yy = np.asarray(y, dtype=float).ravel()
    pp = np.asarray(pd_, dtype=float).ravel()
    gg = np.asarray(grades).astype(str).ravel()
    if not (yy.size == pp.size == gg.size):
        raise ValueError(f"lengths differ: y {yy.size}, pd {pp.size}, grades {gg.size}.")
    keep = np.isin(gg, GRADES)
    frame = pd.DataFrame({"grade": gg[keep], "y": yy[keep], "pd": pp[keep]})
    g = frame.groupby("grade", sort=False)
    table = pd.DataFrame({"n": g.size(), "defaults": g["y"].sum(), "mean_pd": g["pd"].mean()})
    order = list(GRADES) if all_grades else [x for x in GRADES if x in table.index]
    table = table.reindex(order)
    table["n"] = table["n"].fillna(0).astype(np.int64)
    table["defaults"] = table["defaults"].fillna(0).astype(np.int64)
    table["observed_dr"] = np.where(table["n"] > 0, table["defaults"] / table["n"].clip(lower=1),
                                    np.nan)
    total = max(int(table["n"].sum()), 1)
    table["share"] = table["n"] / total
    table["jeffreys_p"] = jeffreys_pvalue(table["n"], table["defaults"], table["mean_pd"])
    table["confidence"] = 1.0 - table["jeffreys_p"]
    table["light"] = traffic_light(table["confidence"].to_numpy())
    table.index.name = "grade"
    return table[["n", "defaults", "observed_dr", "mean_pd", "share", "jeffreys_p",
                  "confidence", "light"]]


def _bin_shares(
    expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64], edges: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    e = np.histogram(expected, edges)[0] / expected.size
    a = np.histogram(actual, edges)[0] / actual.size
    return e, a


def psi(
    expected: Any, actual: Any, *, bins: int = 10, edges: Any = None, eps: float = 1e-4
) -> float:
    """Population stability index between two score distributions.

    ``PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)`` over bins, with ``e_i`` and ``a_i``
    the shares of the expected (e.g. train) and actual (e.g. validation) scores
    in bin *i*.

    Parameters
    ----------
    expected, actual : array-like of float
        Scores (or PDs) of the reference and the compared population.
    bins : int, default 10
        Number of quantile bins of ``expected`` (outer edges are ±inf, so every
        actual score falls in a bin). Ignored when ``edges`` is given.
    edges : array-like, optional
        Explicit bin edges (e.g. the master-scale cut-points with 0 and 1).
    eps : float, default 1e-4
        Shares are floored at ``eps`` so an empty bin gives a large, finite term.

    Returns
    -------
    float
        ≥ 0. Read with :func:`psi_light`: < 0.10 stable, 0.10–0.25 minor shift,
        > 0.25 major shift (DOMAIN.md §4).

    Examples
    --------
    >>> round(psi([1, 2, 3, 4], [1, 1, 1, 4], edges=[0, 2.5, 5]), 6)  # shares .5/.5 vs .75/.25
    0.274653
    """
    e_ = np.asarray(expected, dtype=float).ravel()
    a_ = np.asarray(actual, dtype=float).ravel()
    e_ = e_[np.isfinite(e_)]
    a_ = a_[np.isfinite(a_)]
    if e_.size == 0 or a_.size == 0:
        raise ValueError("PSI needs finite scores in both populations.")
    if edges is None:
        inner = np.unique(np.quantile(e_, np.linspace(0, 1, bins + 1)[1:-1]))
        cut = np.r_[-np.inf, inner, np.inf]
    else:
        cut = np.asarray(edges, dtype=float)
    e_share, a_share = _bin_shares(e_, a_, cut)
    e_share = np.maximum(e_share, eps)
    a_share = np.maximum(a_share, eps)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def psi_light(value: float) -> str:
    """``"green"`` (< 0.10, stable), ``"yellow"`` (0.10–0.25, minor shift) or ``"red"``
    (> 0.25, major shift).

    Examples
    --------
    >>> [psi_light(v) for v in (0.05, 0.10, 0.25, 0.3)]
    ['green', 'yellow', 'yellow', 'red']
    """
    if np.isnan(value):
        return "n/a"
    if value < PSI_MINOR:
        return "green"
    if value <= PSI_MAJOR:
        return "yellow"
    return "red"


@dataclass(frozen=True, slots=True)
class MonotonicityResult:
    """Outcome of :func:`monotonicity_test`.

    Attributes
    ----------
    passed : bool
        No adjacent pair of populated grades is inverted beyond noise.
    n_point_inversions : int
        Adjacent pairs whose *observed* default rate falls (noise included).
    n_significant : int
        Adjacent pairs inverted beyond noise.
    pairs : pandas.DataFrame
        One row per adjacent pair: ``better, worse, dr_better, dr_worse,
        prob_inverted, significant``.
    level : float
        The posterior probability above which an inversion counts.
    """

    passed: bool
    n_point_inversions: int
    n_significant: int
    pairs: pd.DataFrame
    level: float


def _prob_inverted(d_b: float, n_b: float, d_w: float, n_w: float) -> float:
    """P(θ_worse < θ_better) under independent Jeffreys posteriors."""
    post_b = stats.beta(d_b + 0.5, n_b - d_b + 0.5)
    post_w = stats.beta(d_w + 0.5, n_w - d_w + 0.5)
    val, _ = integrate.quad(lambda t: post_w.pdf(t) * post_b.sf(t), 0.0, 1.0, limit=200,
                            points=[d_w / n_w, d_b / n_b])
    return float(min(max(val, 0.0), 1.0))


def monotonicity_test(table: pd.DataFrame, *, level: float = 0.95) -> MonotonicityResult:
    """Do observed default rates rise with the grade, allowing for noise?

    For each pair of *adjacent populated* grades (better, worse) in a
    :func:`grade_table`, the default rates get independent Jeffreys posteriors
    Beta(d + 1/2, n − d + 1/2), and the posterior probability that the worse
    grade's true rate is *below* the better grade's,
    ``P(θ_worse < θ_better) = ∫ f_worse(t) · (1 − F_better(t)) dt``, is computed
    by quadrature. An inversion is significant when this probability is at
    least ``level`` (one-sided, 95 % by default). The scale passes when no
    adjacent pair is significantly inverted. Point inversions (observed rates
    that fall, e.g. two empty-of-defaults grades 0 % then 0 %, or 1.1 % then
    0.9 % on a few hundred firms) are counted and reported but are noise unless
    significant. Empty grades are skipped (their neighbours become adjacent).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`grade_table` (columns ``n`` and ``defaults``).
    level : float, default 0.95

    Returns
    -------
    MonotonicityResult
    """
    t = table[table["n"] > 0]
    t = t[[g in GRADES for g in t.index]]
    n = t["n"].to_numpy(float)
    d = t["defaults"].to_numpy(float)
    rows = []
    for i in range(len(t) - 1):  # at most 10 pairs
        p_inv = _prob_inverted(d[i], n[i], d[i + 1], n[i + 1])
        rows.append({
            "better": t.index[i], "worse": t.index[i + 1],
            "dr_better": d[i] / n[i], "dr_worse": d[i + 1] / n[i + 1],
            "prob_inverted": p_inv, "significant": bool(p_inv >= level),
        })
    pairs = pd.DataFrame(rows, columns=["better", "worse", "dr_better", "dr_worse",
                                        "prob_inverted", "significant"])
    n_point = int((pairs["dr_worse"] < pairs["dr_better"]).sum()) if len(pairs) else 0
    n_sig = int(pairs["significant"].sum()) if len(pairs) else 0
    return MonotonicityResult(passed=n_sig == 0, n_point_inversions=n_point,
                              n_significant=n_sig, pairs=pairs, level=level)


def walk_forward(
    frame: pd.DataFrame,
    year_col: str,
    fit_predict: Callable[[pd.DataFrame, pd.DataFrame], Any],
    years: Iterable[int],
    *,
    label_col: str = "default_12m",
) -> pd.DataFrame:
    """Walk-forward (expanding window) out-of-time evaluation.

    For each test year *t* in ``years``: fit on the rows with ``year < t`` (all
    earlier years), score the rows with ``year == t``, and compute the AUC.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with ``year_col`` and ``label_col``.
    year_col : str
        The year column (e.g. ``"fiscal_year"``).
    fit_predict : callable
        ``fit_predict(train, test) -> scores`` for the test rows (higher =
        riskier); it fits a fresh model on ``train`` only.
    years : iterable of int
        Test years.
    label_col : str, default "default_12m"

    Returns
    -------
    pandas.DataFrame
        One row per test year: ``year, n_train, defaults_train, n_test,
        defaults_test, auc`` (AUC NaN when the test year has a single class;
        the year is skipped with NaN when the training window has one class).

    Notes
    -----
    With a 12-month label, the label of a row of year *t − 1* is known at the
    end of year *t*, when year *t*'s statements are scored, so the window has
    no look-ahead.
    """
    year = frame[year_col].to_numpy()
    out = []
    for t in years:  # a handful of years
        train = frame[year < t]
        test = frame[year == t]
        row: dict[str, float] = {
            "year": int(t), "n_train": len(train), "defaults_train": float(train[label_col].sum()),
            "n_test": len(test), "defaults_test": float(test[label_col].sum()), "auc": np.nan,
        }
        ok_train = train[label_col].nunique() == 2
        ok_test = test[label_col].nunique() == 2
        if ok_train and ok_test:
            scores = np.asarray(fit_predict(train, test), dtype=float)
            row["auc"] = auc(test[label_col].to_numpy(), scores)
        out.append(row)
    return pd.DataFrame(out, columns=["year", "n_train", "defaults_train", "n_test",
                                      "defaults_test", "auc"])
