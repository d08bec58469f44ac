"""Validation metrics against hand calculations and scipy computed directly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from riskengine.model.metrics import (
    auc,
    auc_standard_error,
    bootstrap_ci,
    brier_score,
    discrimination,
    gini,
    grade_table,
    jeffreys_pvalue,
    ks_statistic,
    monotonicity_test,
    psi,
    psi_light,
    traffic_light,
    walk_forward,
)


def test_auc_of_a_tiny_case_by_hand() -> None:
    """Pairs (default, non-default): (0.35 vs 0.1) win, (0.35 vs 0.4) loss,
    (0.8 vs 0.1) win, (0.8 vs 0.4) win -> 3/4; a tie counts 1/2."""
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert gini([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.5
    assert auc([0, 1], [0.3, 0.3]) == 0.5
    assert math.isnan(auc([0, 0], [0.1, 0.2]))


def test_auc_standard_error_by_hand() -> None:
    """Hanley & McNeil (1982) eq. 1, by hand for A = 0.9, 50 + 50 cases:
    Q1 = 0.9/1.1 = 0.818182, Q2 = 2*0.81/1.9 = 0.852632,
    var = (0.09 + 49*0.008182 + 49*0.042632)/2500 = 2.57986/2500 -> SE 0.032124.
    A = 0.5 with 1 + 1 cases: var = 0.25, SE 0.5. Empty classes: NaN."""
    assert auc_standard_error(0.9, 50, 50) == pytest.approx(0.032124, abs=1e-6)
    assert auc_standard_error(0.5, 1, 1) == pytest.approx(0.5)
    assert math.isnan(auc_standard_error(0.8, 0, 10))
    assert math.isnan(auc_standard_error(float("nan"), 5, 10))
    # more cases, smaller error
    assert auc_standard_error(0.9, 500, 500) < auc_standard_error(0.9, 50, 50)


def test_ks_and_brier_by_hand() -> None:
    """KS: CDF of defaulters at 0.4 is 0, of non-defaulters 2/3 after 0.1, 0.2, 0.4 ... max 2/3.
    Brier: ((0.1-0)^2 + (0.7-1)^2) / 2 = 0.05."""
    assert ks_statistic([0, 0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(2 / 3)
    assert brier_score([0, 1], [0.1, 0.7]) == pytest.approx(0.05)


def test_bootstrap_ci_is_seeded_and_covers_the_estimate() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    s = y + rng.normal(0, 1.5, 400)
    a = bootstrap_ci(y, s, n_boot=200, seed=7)
    b = bootstrap_ci(y, s, n_boot=200, seed=7)
    assert a == b
    assert a[0] < auc(y, s) < a[1]
    d = discrimination(y, s, n_boot=200, seed=7)
    assert d["gini_lo"] == pytest.approx(2 * a[0] - 1)
    assert d["defaults"] == y.sum()


def test_jeffreys_pvalue_equals_beta_cdf_of_the_posterior() -> None:
    """p = Beta(d + 1/2, n - d + 1/2).cdf(PD), scipy directly."""
    p = jeffreys_pvalue([100, 250, 0], [5, 1, 0], [0.01, 0.02, 0.01])
    assert p[0] == pytest.approx(stats.beta(5.5, 95.5).cdf(0.01))
    assert p[1] == pytest.approx(stats.beta(1.5, 249.5).cdf(0.02))
    assert math.isnan(p[2])


def test_traffic_light_thresholds() -> None:
    """DOMAIN.md §4: green < 95 %, red >= 99.9 %."""
    assert traffic_light([0.9499, 0.95, 0.9989, 0.999, np.nan]).tolist() == [
        "green", "yellow", "yellow", "red", "n/a"]


def test_grade_table() -> None:
    y = np.r_[np.zeros(99), 1, np.zeros(45), np.ones(5), 0]
    pd_ = np.r_[np.full(100, 0.01), np.full(50, 0.02), 0.5]
    grades = np.concatenate([np.full(100, "4"), np.full(50, "6"), ["NR"]])
    t = grade_table(y, pd_, grades)
    assert t.index.tolist() == ["4", "6"]
    assert t.loc["4", "n"] == 100 and t.loc["4", "defaults"] == 1
    assert t.loc["6", "observed_dr"] == pytest.approx(0.1)
    # 5 defaults in 50 at a predicted 2 %: p = beta(5.5, 45.5).cdf(0.02) = 0.001267 (scipy),
    # confidence 1 - p = 0.99873: >= 95 % but < 99.9 % -> yellow (DOMAIN.md §4 thresholds)
    p6 = stats.beta(5.5, 45.5).cdf(0.02)
    assert t.loc["6", "jeffreys_p"] == pytest.approx(p6)
    assert p6 == pytest.approx(0.001267, abs=1e-6)
    assert t.loc["6", "light"] == "yellow"
    assert t.loc["4", "light"] == "green"
    assert len(grade_table(y, pd_, grades, all_grades=True)) == 11


def test_psi_by_hand() -> None:
    """Shares 0.5/0.5 vs 0.75/0.25: (0.25 ln 1.5) + (-0.25 ln 0.5) = 0.274653."""
    v = psi([1, 2, 3, 4], [1, 1, 1, 4], edges=[0, 2.5, 5])
    assert v == pytest.approx(0.25 * math.log(1.5) - 0.25 * math.log(0.5))
    assert psi_light(v) == "red"
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    assert psi(x, rng.normal(size=5000)) < 0.01
    assert psi(x, rng.normal(0.5, 1, 5000)) > 0.1
    assert [psi_light(t) for t in (0.0999, 0.1, 0.25, 0.2501)] == [
        "green", "yellow", "yellow", "red"]


def _table(n: list[int], d: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"n": n, "defaults": d}, index=[str(i) for i in range(1, len(n) + 1)])


def test_monotonicity_allows_noise_but_flags_real_inversions() -> None:
    # 2/200 then 1/200: a point inversion, well within noise
    r = monotonicity_test(_table([200, 200, 200], [0, 2, 1]))
    assert r.passed and r.n_point_inversions == 1 and r.n_significant == 0
    # 30/200 then 2/200: a real inversion
    r = monotonicity_test(_table([200, 200, 200], [1, 30, 2]))
    assert not r.passed and r.pairs.loc[1, "significant"]
    assert r.pairs.loc[1, "prob_inverted"] > 0.999


def test_monotonicity_probability_matches_monte_carlo() -> None:
    """P(theta_worse < theta_better) by quadrature vs 200k posterior draws."""
    r = monotonicity_test(_table([150, 120], [6, 3]))
    rng = np.random.default_rng(0)
    b = rng.beta(6.5, 144.5, 200_000)
    w = rng.beta(3.5, 117.5, 200_000)
    assert r.pairs.loc[0, "prob_inverted"] == pytest.approx((w < b).mean(), abs=0.005)


def test_monotonicity_skips_empty_grades() -> None:
    r = monotonicity_test(_table([100, 0, 100], [1, 0, 5]))
    assert r.pairs[["better", "worse"]].values.tolist() == [["1", "3"]]


def test_walk_forward_fits_on_earlier_years_only() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"fiscal_year": np.repeat([2001, 2002, 2003], 100),
                          "x": rng.normal(size=300)})
    frame["default_12m"] = (frame["x"] + rng.normal(0, 0.5, 300) > 1).astype(int)
    seen: list[tuple[int, int]] = []

    def fit_predict(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        seen.append((int(train["fiscal_year"].max()), int(test["fiscal_year"].min())))
        return test["x"].to_numpy()

    out = walk_forward(frame, "fiscal_year", fit_predict, [2002, 2003])
    assert seen == [(2001, 2002), (2002, 2003)]
    assert out["n_train"].tolist() == [100, 200]
    assert out.loc[0, "auc"] == pytest.approx(
        auc(frame.loc[frame.fiscal_year == 2002, "default_12m"],
            frame.loc[frame.fiscal_year == 2002, "x"]))
