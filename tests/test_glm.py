"""The logistic regression of riskengine.modeldev.glm: hand-checkable cases and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from riskengine.modeldev.glm import Z95, fit_logistic


def _two_by_two(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """x = 1: a events, b non-events; x = 0: c events, d non-events."""
    x = np.r_[np.ones(a + b), np.zeros(c + d)][:, None]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    return x, y


def test_binary_feature_is_the_log_odds_ratio_with_woolf_se() -> None:
    """Hand calculation: table (a, b | c, d) = (20, 80 | 10, 90).

    coef = log(a d / (b c)) = log(1800 / 800) = 0.810930; its SE is Woolf's
    sqrt(1/a + 1/b + 1/c + 1/d) = sqrt(0.05 + 0.0125 + 0.1 + 0.011111) = 0.416667;
    the intercept is log(c / d) = log(10 / 90), its SE sqrt(1/c + 1/d).
    """
    x, y = _two_by_two(20, 80, 10, 90)
    fit = fit_logistic(x, y)
    assert fit.coef[0] == pytest.approx(np.log(20 * 90 / (80 * 10)), abs=1e-8)
    assert fit.se[0] == pytest.approx(np.sqrt(1 / 20 + 1 / 80 + 1 / 10 + 1 / 90), rel=1e-6)
    assert fit.intercept == pytest.approx(np.log(10 / 90), abs=1e-8)
    assert fit.intercept_se == pytest.approx(np.sqrt(1 / 10 + 1 / 90), rel=1e-6)
    assert fit.ci_low[0] == pytest.approx(fit.coef[0] - Z95 * fit.se[0])
    assert fit.ci_high[0] == pytest.approx(fit.coef[0] + Z95 * fit.se[0])
    assert (fit.n_obs, fit.n_events) == (200, 30)
    # log-likelihood of the saturated 2x2 model: sum of n log p over the four cells
    ll = 20 * np.log(0.2) + 80 * np.log(0.8) + 10 * np.log(0.1) + 90 * np.log(0.9)
    assert fit.loglik == pytest.approx(ll, rel=1e-9)
    assert fit.converged and not fit.at_bound[0]


def test_matches_scikit_learn_without_penalty() -> None:
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=3000), rng.exponential(5.0, size=3000),
                         rng.integers(0, 2, size=3000)])
    eta = -2.0 + 0.8 * X[:, 0] + 0.05 * X[:, 1] - 0.6 * X[:, 2]
    y = (rng.random(3000) < 1 / (1 + np.exp(-eta))).astype(float)
    ours = fit_logistic(X, y)
    # C = inf is penalty=None (the spelling scikit-learn 1.8+ keeps)
    ref = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef, ref.coef_[0], atol=1e-5)
    assert ours.intercept == pytest.approx(ref.intercept_[0], abs=1e-5)


def test_offset_stands_for_a_known_term() -> None:
    """Fitting b1 with b2 x2 given as an offset finds the same b1 as the joint fit."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 2))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(-1.5 + X[:, 0] + 0.5 * X[:, 1])))).astype(float)
    joint = fit_logistic(X, y)
    part = fit_logistic(X[:, :1], y, offset=joint.coef[1] * X[:, 1])
    assert part.coef[0] == pytest.approx(joint.coef[0], abs=1e-8)
    assert part.intercept == pytest.approx(joint.intercept, abs=1e-8)


def test_offset_only_recalibration_is_the_log_odds_shift() -> None:
    """No columns, a constant offset o: the intercept is logit(event rate) - o."""
    y = np.r_[np.ones(30), np.zeros(970)]
    fit = fit_logistic(np.empty((1000, 0)), y, offset=np.full(1000, -2.0))
    assert fit.intercept == pytest.approx(np.log(30 / 970) + 2.0, abs=1e-8)
    assert fit.coef.shape == (0,)


def test_lower_bound_holds_a_protective_effect_at_zero() -> None:
    """The data say x lowers the risk (OR = 0.5); a monotone term (>= 0) stays at 0,
    and the KKT condition holds: the free intercept is the pooled log odds."""
    x, y = _two_by_two(10, 90, 20, 80)
    fit = fit_logistic(x, y, lower=0.0)
    assert fit.coef[0] == 0.0 and fit.at_bound[0]
    assert fit.intercept == pytest.approx(np.log(30 / 170), abs=1e-8)
    free = fit_logistic(x, y)
    assert free.coef[0] < 0 and not free.at_bound[0]


def test_gaussian_prior_shrinks_and_satisfies_the_penalised_score() -> None:
    """Stationarity of the penalised likelihood: sum x (y - mu) = (b - m) / s^2, and the
    SE is from the penalised Hessian (observed information plus 1 / s^2)."""
    x, y = _two_by_two(6, 44, 5, 45)  # thin: 11 events
    mle = fit_logistic(x, y).coef[0]
    m, s = 1.0, 0.3
    fit = fit_logistic(x, y, prior_mean=m, prior_sd=s)
    assert min(mle, m) < fit.coef[0] < max(mle, m)
    eta = fit.intercept + fit.coef[0] * x[:, 0]
    mu = 1 / (1 + np.exp(-eta))
    assert np.sum(x[:, 0] * (y - mu)) == pytest.approx((fit.coef[0] - m) / s**2, abs=1e-7)
    assert np.sum(y - mu) == pytest.approx(0.0, abs=1e-7)
    D = np.column_stack([np.ones(len(y)), x[:, 0]])
    H = (D * (mu * (1 - mu))[:, None]).T @ D + np.diag([0.0, 1 / s**2])
    assert fit.se[0] == pytest.approx(np.sqrt(np.linalg.inv(H)[1, 1]), rel=1e-6)
    assert fit.se[0] < fit_logistic(x, y).se[0]
    tight = fit_logistic(x, y, prior_mean=m, prior_sd=1e-4)
    assert tight.coef[0] == pytest.approx(m, abs=1e-3)


def test_sample_weights_are_frequency_weights() -> None:
    x, y = _two_by_two(20, 80, 10, 90)
    # the same table collapsed to four rows with counts
    xs = np.array([[1.0], [1.0], [0.0], [0.0]])
    ys = np.array([1.0, 0.0, 1.0, 0.0])
    w = np.array([20.0, 80.0, 10.0, 90.0])
    a = fit_logistic(x, y)
    b = fit_logistic(xs, ys, sample_weight=w)
    assert b.coef[0] == pytest.approx(a.coef[0], abs=1e-8)
    assert b.se[0] == pytest.approx(a.se[0], rel=1e-6)
    assert (b.n_obs, b.n_events) == (200, 30)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"y": np.array([0.0, 2.0, 1.0])}, "y must be 0 or 1"),
    ({"X": np.array([[0.0], [np.nan], [1.0]])}, "missing or infinite"),
    ({"prior_sd": 0.0}, "prior_sd must be > 0"),
    ({"lower": [0.0, 0.0]}, "lower has shape"),
    ({"offset": np.zeros(2)}, "offset must be n finite"),
])
def test_bad_input_is_refused(kwargs: dict, match: str) -> None:
    args = {"X": np.array([[0.0], [1.0], [1.0]]), "y": np.array([0.0, 1.0, 0.0])}
    args.update(kwargs)
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(ValueError, match=match):
        fit_logistic(X, y, **args)


def test_a_column_without_data_or_prior_is_not_identified_and_spoils_nothing() -> None:
    """An all-zero unpenalised column: coefficient 0, SE inf; the 2x2 fit is unchanged."""
    x, y = _two_by_two(20, 80, 10, 90)
    fit = fit_logistic(np.column_stack([x, np.zeros(len(y))]), y)
    assert fit.coef[1] == 0.0 and np.isinf(fit.se[1])
    assert fit.coef[0] == pytest.approx(np.log(20 * 90 / (80 * 10)), abs=1e-8)
    assert fit.se[0] == pytest.approx(np.sqrt(1 / 20 + 1 / 80 + 1 / 10 + 1 / 90), rel=1e-6)
