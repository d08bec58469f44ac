"""Tax returns rated by the PD model (overlay ``[basis] tax_return_model``, issue 17):
the overlay's key, the core's rows, the basis reason, and the book fit that sets it."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest

from riskengine.api import default_engine, load_overlay
from riskengine.errors import PolicyError
from riskengine.io.artifacts import load_champion
from riskengine.modeldev.book_model import TrainingRows, fit_book_model, statement_logit
from riskengine.scoring.engine import Engine
from riskengine.scoring.inputs import DebtorInputs
from riskengine.scoring.overlay import Overlay, model_rated
from riskengine.synthetic import generate_portfolio


def test_the_key_round_trips_and_a_non_boolean_is_refused() -> None:
    ov = dataclasses.replace(load_overlay(), tax_return_model=True)
    assert Overlay.from_dict(ov.to_dict()) == ov
    assert load_overlay().tax_return_model is False  # the shipped champion saw no tax return
    doc = ov.to_dict()
    doc["basis"]["tax_return_model"] = "yes"
    with pytest.raises(PolicyError, match="basis.tax_return_model") as e:
        Overlay.from_dict(doc)
    assert e.value.key == "basis.tax_return_model"


def test_model_rated_rows() -> None:
    basis = np.array([0, 1, 2, 1])
    assert model_rated(basis, load_overlay()).tolist() == [True, False, False, False]
    on = dataclasses.replace(load_overlay(), tax_return_model=True)
    assert model_rated(basis, on).tolist() == [True, True, False, True]


def _decisions(engine: Engine, frames: dict[str, Any]) -> Any:
    return engine.decide(frames, "2026-06-30").decisions.drop_duplicates("debtor_id") \
        .set_index("debtor_id")


def test_the_engine_scores_tax_returns_by_the_model_only_when_the_overlay_says_so() -> None:
    """Off: every tax-return debtor has the prior PD and the basis reason code. On: the
    model's PD on its tax return's features (not one value), no basis reason code; the
    statement-rated debtors are decided alike."""
    frames = generate_portfolio(400, seed=3)
    off = default_engine()
    on = Engine(off.pd_model, off.master_scale, off.policy,
                overlay=dataclasses.replace(off.overlay, tax_return_model=True),
                model_version=off.model_version, default_product=off.default_product,
                money_unit=off.money_unit)
    a, b = _decisions(off, frames), _decisions(on, frames)
    tax = a.index[a["rating_basis"] == "tax_return"]
    assert len(tax) > 20
    assert np.allclose(a.loc[tax, "pd_model"], off.overlay.tax_return_pd)
    assert b.loc[tax, "pd_model"].nunique() > 10
    assert (b.loc[tax, "rating_basis"] == "tax_return").all()  # the policy's basis stays

    def has_basis_code(r: Any) -> bool:
        return any(c["feature"] == "rating_basis" for c in r)

    assert a.loc[tax, "reason_codes"].map(has_basis_code).all()
    assert not b.loc[tax, "reason_codes"].map(has_basis_code).any()
    st = a.index[a["rating_basis"] == "statements"]
    np.testing.assert_allclose(b.loc[st, "pd"].to_numpy(float), a.loc[st, "pd"].to_numpy(float))


def _rows(n_st: int, n_tax: int, seed: int) -> TrainingRows:
    """Statement rows (basis 0) and tax-return rows (basis 1, the balance sheet missing);
    the log odds fall with the EBITDA margin on both, and rise with dilution, which is
    correlated with a low margin (so the margin alone also carries dilution's effect)."""
    champ = load_champion()
    names = list(champ.feature_names_in_)
    rng = np.random.default_rng(seed)
    n = n_st + n_tax
    X = np.zeros((n, len(names)))
    margin = rng.normal(0.08, 0.08, n)
    X[:, names.index("st_ebitda_margin")] = margin
    balance = [f for f in names if "assets" in f or "equity" in f or "liabilities" in f]
    X[n_st:, [names.index(f) for f in balance]] = np.nan
    ov = load_overlay()
    ov_X = np.zeros((n, len(ov.terms)))
    dil = np.clip(0.15 - margin + 0.05 * rng.standard_normal(n), 0, 0.5)
    ov_X[:, ov.features.index("pay_dilution")] = dil
    eta = -3.2 - 6.0 * (margin - 0.08) + 8.0 * dil
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    z = np.zeros(n)
    deb = DebtorInputs(
        debtor_id=np.array([f"D{i}" for i in range(n)], dtype=object), st_X=X,
        basis=np.r_[np.zeros(n_st), np.ones(n_tax)].astype(np.int64), overlay_X=ov_X,
        insolvency=z > 0, past_due_default=z > 0, knockout=z > 0, dilution=z, tnw=z,
        revenue=z, profit=z, fin_currency=np.full(n, "", dtype=object), past_due_amount=z,
        digest=np.zeros((n, 32), dtype=np.uint8))
    return TrainingRows(deb, y, np.full(n, "2023-12-31"))


def _quick_prior() -> Any:
    """The champion with 40 trees instead of 250: a refit takes its hyperparameters, and
    the tests need the method, not the champion's depth."""
    prior = copy.deepcopy(load_champion())
    return prior.set_params(max_iter=40, learning_rate=0.2)


@pytest.fixture(scope="module")
def fitted() -> Any:
    rows = _rows(3000, 2000, 0)
    return rows, fit_book_model(_quick_prior(), load_overlay(), rows, data="d",
                                as_of="2026-06-30", events_per_feature=2)


def test_a_refit_takes_the_tax_returns_when_they_hold_enough_defaults(fitted: Any) -> None:
    rows, fit = fitted
    assert fit.statement_method == "refit" and fit.facts["tax_return_model"] is True
    assert fit.overlay.tax_return_model is True
    assert fit.facts["tax_return_rows"] == 2000
    # the features a tax return carries: those not missing on every tax-return row
    assert fit.facts["tax_return_features"] == int(
        np.isfinite(rows.inputs.st_X[3000:]).any(axis=0).sum())
    # the model ranks tax returns by their margin (lower margin, higher PD)
    tax = rows.inputs.st_X[3000:]
    margin = tax[:, list(fit.model.feature_names_in_).index("st_ebitda_margin")]
    s = statement_logit(fit.model, tax)
    assert np.corrcoef(margin, s)[0, 1] < -0.8


def test_the_statement_slope_is_fitted_beside_the_overlay(fitted: Any) -> None:
    """The refitted model learnt the margin's whole effect, dilution's part included;
    beside the dilution term its slope falls below 1 and the dilution weight moves from
    the committee's 2 towards the truth (8)."""
    rows, fit = fitted
    slope = fit.facts["recalibration"]["slope"]
    assert 0.3 < slope < 0.95  # measured 0.889; the fixed slope was 1
    d = next(t for t in fit.overlay.terms if t.feature == "pay_dilution")
    assert 2.5 < d.weight < 8.0
    assert fit.facts["coefficients"]["statement_slope"]["prior_mean"] == 1.0


def test_thin_tax_returns_keep_the_prior(fitted: Any) -> None:
    """Too few tax-return defaults for their features: they stay on the basis prior
    (shifted by the book), the statement rows are refitted."""
    rows = _rows(3000, 80, 1)
    fit = fit_book_model(_quick_prior(), load_overlay(), rows, data="d", as_of="2026-06-30",
                         events_per_feature=2)
    assert fit.statement_method == "refit" and fit.facts["tax_return_model"] is False
    assert fit.overlay.tax_return_model is False
    assert fit.facts["tax_return_events"] < 2 * fit.facts["tax_return_features"]


def test_single_path_equals_the_batch_with_tax_returns_scored_by_the_model() -> None:
    """The one core: each payload decided alone (the fast path, flattened trees) equals
    its row of the batch, tax-return debtors scored by the model included."""
    from test_engine import STAMP, synthetic_payloads

    off = default_engine()
    on = Engine(off.pd_model, off.master_scale, off.policy,
                overlay=dataclasses.replace(off.overlay, tax_return_model=True),
                model_version=off.model_version, default_product=off.default_product,
                money_unit=off.money_unit)
    payloads = synthetic_payloads(120, seed=7)
    batch = on.score_payloads(payloads, decided_at=STAMP)
    tax = [b for b in batch if b["rating_basis"] == "tax_return"]
    assert len(tax) >= 10 and len({b["pd_model"] for b in tax}) > 5
    assert all(r["feature"] != "rating_basis" for b in tax for r in b["reason_codes"])
    for p, b in zip(payloads, batch, strict=True):
        assert on.decide_one(p, decided_at=STAMP) == b, p["debtor"]["debtor_id"]
