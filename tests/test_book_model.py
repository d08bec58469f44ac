"""Fitting the statement component and the overlay weights (riskengine.modeldev.book_model)
on rows whose truth is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_overlay
from riskengine.io.artifacts import load_champion
from riskengine.model.calibration import PD_FLOOR, logit
from riskengine.modeldev.book_model import (
    TrainingRows,
    _recalibrated,
    fit_book_model,
    statement_logit,
    unit_transforms,
)
from riskengine.scoring.inputs import DebtorInputs


@pytest.fixture(scope="module")
def champion() -> Any:
    return load_champion()


def _rows(overlay_X: np.ndarray, y: np.ndarray, p: int, basis: int = 2) -> TrainingRows:
    n = len(y)
    z = np.zeros(n)
    deb = DebtorInputs(
        debtor_id=np.array([f"D{i}" for i in range(n)], dtype=object),
        st_X=np.full((n, p), np.nan), basis=np.full(n, basis, dtype=np.int64),
        overlay_X=overlay_X, insolvency=z > 0, past_due_default=z > 0, knockout=z > 0,
        dilution=z, tnw=z, revenue=z, profit=z, fin_currency=np.full(n, "", dtype=object),
        past_due_amount=z, digest=np.zeros((n, 32), dtype=np.uint8))
    return TrainingRows(deb, y.astype(np.int8), np.full(n, "2023-12-31"))


def _dilution_rows(n: int, weight: float, seed: int) -> tuple[TrainingRows, Any]:
    """No-financials debtors (prior PD 5 %) whose only signal is dilution, with log odds
    ``logit(0.05) + weight * dilution`` (the overlay's linear transform, cap 0.5)."""
    ov = load_overlay()
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(ov.terms)))
    j = ov.features.index("pay_dilution")
    X[:, j] = rng.uniform(0.0, 0.5, n)
    eta = logit(ov.no_financials_pd) + weight * X[:, j]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return _rows(X, y, len(load_champion().feature_names_in_)), ov


def test_no_default_keeps_the_prior_objects(champion: Any) -> None:
    ov = load_overlay()
    rows = _rows(np.zeros((50, len(ov.terms))), np.zeros(50), len(champion.feature_names_in_))
    fit = fit_book_model(champion, ov, rows, data="d", as_of="2026-06-30")
    assert fit.statement_method == "prior_unchanged" and fit.glm is None
    assert fit.model is champion and fit.overlay is ov
    assert "no default in the training window" in fit.facts["note"]


def test_terms_without_data_stay_at_the_committee_weight(champion: Any) -> None:
    """Every adverse count is 0 here: their likelihood is flat, so the posterior mode is
    the prior mean, the committee weight, exactly (and the interval is the prior's,
    +-1.96 x 0.5, cut at 0)."""
    rows, ov = _dilution_rows(3000, 2.0, 1)
    fit = fit_book_model(champion, ov, rows, data="d", as_of="2026-06-30")
    for t in fit.overlay.terms:
        assert t.prior_weight == next(c.weight for c in ov.terms if c.feature == t.feature)
        if t.feature != "pay_dilution":
            assert t.weight == pytest.approx(t.prior_weight, abs=1e-6)
            assert t.fit.ci_high == pytest.approx(t.prior_weight + 1.959964 * 0.5, abs=1e-4)
    # no statement or tax-return rows: their shifts stay at the prior mean 0
    assert fit.overlay.tax_return_pd == pytest.approx(ov.tax_return_pd, abs=1e-9)


def test_a_deep_book_moves_to_its_evidence_a_thin_one_stays_near_the_committee(
        champion: Any) -> None:
    """True dilution weight 5 (committee 2): 60,000 rows (about 10,600 defaults) find it
    up to a small shrinkage towards 2 (measured 4.83); 400 rows of the same process stay
    closer to 2."""
    deep_rows, ov = _dilution_rows(60_000, 5.0, 2)
    deep = fit_book_model(champion, ov, deep_rows, data="d", as_of="2026-06-30")
    thin = fit_book_model(champion, ov, _dilution_rows(400, 5.0, 3)[0], data="d",
                          as_of="2026-06-30")
    d = next(t for t in deep.overlay.terms if t.feature == "pay_dilution")
    s = next(t for t in thin.overlay.terms if t.feature == "pay_dilution")
    assert 4.5 < d.weight < 5.0 and d.fit.ci_low < d.weight < d.fit.ci_high
    assert abs(s.weight - 2.0) < abs(d.weight - 2.0)
    assert d.fit.n_obs == 60_000 and d.fit.n_events == int(deep_rows.label.sum())


def test_weights_never_go_negative(champion: Any) -> None:
    """A protective dilution (true weight -3) is held at 0: the overlay stays monotone."""
    rows, ov = _dilution_rows(20_000, -3.0, 4)
    fit = fit_book_model(champion, ov, rows, data="d", as_of="2026-06-30")
    d = next(t for t in fit.overlay.terms if t.feature == "pay_dilution")
    assert d.weight == 0.0 and d.fit.ci_low == 0.0


def test_recalibration_is_baked_into_the_platt_calibrator(champion: Any) -> None:
    """PD' = expit(a + b * statement_logit) above the floor (hand formula of the module)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, len(champion.feature_names_in_))),
                     columns=champion.feature_names_in_)
    s = statement_logit(champion, X)
    new = _recalibrated(champion, -0.4, 0.8)
    want = 1 / (1 + np.exp(-(-0.4 + 0.8 * s)))
    got = new.predict_pd(X)
    above = want > PD_FLOOR
    np.testing.assert_allclose(got[above], want[above], rtol=1e-12)
    # identity recalibration: the champion's own PDs
    np.testing.assert_allclose(_recalibrated(champion, 0.0, 1.0).predict_pd(X),
                               champion.predict_pd(X), rtol=1e-12)
    assert champion.central_tendency is not None  # the original is not modified


def test_unit_transforms_are_the_overlays_own() -> None:
    """log1p(min(x, 20)) for a count; min(x, 180) / 30 for days beyond terms."""
    ov = load_overlay()
    X = np.zeros((1, len(ov.terms)))
    X[0, ov.features.index("adv_n_tier2")] = 3.0
    X[0, ov.features.index("pay_dbt_mean")] = 240.0
    U = unit_transforms(ov, X)[0]
    assert U[ov.features.index("adv_n_tier2")] == pytest.approx(np.log(4.0))
    assert U[ov.features.index("pay_dbt_mean")] == pytest.approx(6.0)


def _dbt_rows(n: int, truth: str, seed: int) -> tuple[TrainingRows, Any]:
    """No-financials debtors whose signal is the mean days beyond terms (half pay on
    time), with log odds ``logit(0.05) + 0.6 log1p(dbt)`` or ``+ 0.5 dbt / 30``."""
    ov = load_overlay()
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(ov.terms)))
    j = ov.features.index("pay_dbt_mean")
    dbt = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.0, 120.0, n))
    X[:, j] = dbt
    effect = 0.6 * np.log1p(dbt) if truth == "log1p" else 0.5 * dbt / 30.0
    eta = logit(ov.no_financials_pd) + effect
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return _rows(X, y, len(load_champion().feature_names_in_)), ov


@pytest.mark.parametrize(("truth", "transform"), [("log1p", "log1p"), ("linear", "linear")])
def test_the_book_chooses_a_terms_transform_only_on_clear_evidence(
        champion: Any, truth: str, transform: str) -> None:
    """Committee: pay_dbt_mean linear per 30 days, cap 180, weight 0.25. A book whose
    risk rises as log1p(days) switches it to log1p, its prior the committee's weight
    translated to the same contribution at the cap (0.25 x 6 / log1p(180) = 0.2884);
    a book whose risk is linear keeps the committee's transform."""
    rows, ov = _dbt_rows(20_000, truth, 6)
    fit = fit_book_model(champion, ov, rows, data="d", as_of="2026-06-30")
    t = next(x for x in fit.overlay.terms if x.feature == "pay_dbt_mean")
    assert t.transform == transform
    if transform == "log1p":
        assert t.prior_weight == pytest.approx(0.25 * 6 / np.log1p(180.0))
        assert "chosen by the book" in t.fit.method
        assert t.weight == pytest.approx(0.6, abs=0.1)
        assert fit.facts["transforms_switched"]["pay_dbt_mean"]["loglik_gain"] > 2.0
    else:
        assert t.prior_weight == 0.25 and "pay_dbt_mean" not in fit.facts["transforms_switched"]
        assert t.weight == pytest.approx(0.5, abs=0.1)
    # the other terms (no data) keep the committee's transform and weight
    for other, c in zip(fit.overlay.terms, ov.terms, strict=True):
        if other.feature != "pay_dbt_mean":
            assert (other.transform, other.prior_weight) == (c.transform, c.weight)
