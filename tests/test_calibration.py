"""Calibration: Platt / isotonic calibrators, central-tendency anchoring, PD floor.

Golden values are hand calculations, written out in
riskengine.model.calibration.anchor_to_central_tendency's docstring.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from riskengine.errors import InvalidInputError
from riskengine.model.calibration import (
    PD_FLOOR,
    IsotonicCalibrator,
    PlattCalibrator,
    anchor_to_central_tendency,
    apply_floor,
    logit,
    make_calibrator,
)


def test_anchor_moves_sample_rate_pd_to_central_tendency() -> None:
    """Hand calculation: DR 5 %, CT 2 %; pd 5 % -> odds 0.0526316 x 0.387755 = 0.0204082
    -> 2 % exactly; pd 10 % -> 0.111111 x 0.387755 = 0.0430839 -> 0.0413043."""
    out = anchor_to_central_tendency(np.array([0.05, 0.10]), 0.05, 0.02)
    assert out[0] == pytest.approx(0.02, abs=1e-12)
    assert out[1] == pytest.approx(0.0413043, abs=1e-7)


def test_anchor_keeps_order_extremes_and_nan() -> None:
    p = np.array([0.0, 1e-4, 0.01, 0.3, 0.9, 1.0, np.nan])
    out = anchor_to_central_tendency(p, 0.027, 0.04)
    assert out[0] == 0.0 and out[5] == 1.0 and np.isnan(out[6])
    assert np.all(np.diff(out[:6]) > 0)
    # same rates: identity
    np.testing.assert_allclose(anchor_to_central_tendency(p[:6], 0.03, 0.03), p[:6])


@pytest.mark.parametrize("bad", [0.0, 1.0, 2.0, -0.01])
def test_anchor_refuses_rates_outside_unit_interval(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="central_tendency"):
        anchor_to_central_tendency([0.1], 0.05, bad)


def test_floor_applies_and_keeps_nan() -> None:
    out = apply_floor(np.array([0.0, 0.0001, 0.0005, 0.02, np.nan]))
    assert out[:4].tolist() == [PD_FLOOR, PD_FLOOR, PD_FLOOR, 0.02]
    assert np.isnan(out[4])
    assert apply_floor([0.001], floor=0.003).tolist() == [0.003]
    with pytest.raises(InvalidInputError, match="floor"):
        apply_floor([0.1], floor=1.0)


def _sample(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are over-confident log-odds: true log-odds = 0.5 * z - 2."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.5 * z - 2)))).astype(int)
    return z, y


def test_platt_recovers_slope_and_intercept() -> None:
    z, y = _sample()
    cal = PlattCalibrator(score_kind="logit").fit(z, y)
    assert cal.slope_ == pytest.approx(0.5, abs=0.08)
    assert cal.intercept_ == pytest.approx(-2.0, abs=0.15)
    # probability input: same fit through logit
    p = 1 / (1 + np.exp(-z))
    cal_p = PlattCalibrator().fit(p.reshape(-1, 1), y)
    assert cal_p.slope_ == pytest.approx(cal.slope_, rel=1e-3)
    # calibrated: mean PD equals the sample default rate (logistic score equations)
    assert cal.predict(z).mean() == pytest.approx(y.mean(), abs=1e-4)


def test_platt_is_strictly_monotone_and_keeps_the_ranking() -> None:
    z, y = _sample()
    pd_ = PlattCalibrator(score_kind="logit").fit(z, y).predict(np.sort(z))
    assert np.all(np.diff(pd_) > 0) and np.all((pd_ > 0) & (pd_ < 1))


def test_isotonic_is_monotone_and_bounded() -> None:
    z, y = _sample()
    cal = IsotonicCalibrator().fit(z, y)
    pd_ = cal.predict(np.linspace(-10, 10, 200))
    assert np.all(np.diff(pd_) >= 0)
    assert pd_.min() >= 1e-6 and pd_.max() <= 1 - 1e-6


def test_estimator_contract() -> None:
    cal = make_calibrator("isotonic", y_min=1e-4)
    assert isinstance(cal, IsotonicCalibrator) and cal.get_params()["y_min"] == 1e-4
    assert clone(PlattCalibrator(C=3.0)).get_params() == {"C": 3.0, "score_kind": "probability"}
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        PlattCalibrator().predict([0.1])
    z, y = _sample(500)
    pipe = Pipeline([("cal", PlattCalibrator(score_kind="logit"))]).fit(z.reshape(-1, 1), y)
    assert pipe.transform(z.reshape(-1, 1)).shape == (500, 1)
    assert pipe.get_feature_names_out().tolist() == ["pd"]


def test_bad_input_refused() -> None:
    with pytest.raises(ValueError, match="single score column"):
        PlattCalibrator().fit(np.ones((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="only one class"):
        PlattCalibrator().fit([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="position 1"):
        IsotonicCalibrator().fit([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError, match="'platt' or 'isotonic'"):
        make_calibrator("beta")


def test_logit_is_clipped() -> None:
    assert np.isfinite(logit([0.0, 1.0])).all()
    assert float(logit(0.5)) == 0.0
