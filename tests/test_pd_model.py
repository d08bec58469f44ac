"""PDModel: monotone constraints on real rows, PD range, anchoring, artifact round trip.

Real-data tests fit a small model (few trees, 3 folds) on a slice of the US
panel (``../shared/data``, read in place) so the file runs in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
)

from riskengine.errors import InvalidInputError, ModelArtifactError
from riskengine.features.statements import feature_directions
from riskengine.io.artifacts import load_champion, save_skops
from riskengine.model.pd_model import PD_CEILING, PDModel
from riskengine.modeldev.protocol import (
    DIRECTION_CHANGES,
    fit_pd_model,
    fit_rows,
    model_directions,
    model_features,
    us_panel_frame,
)

SMALL = {"max_iter": 40, "learning_rate": 0.1, "min_samples_leaf": 40, "cv": 3}


@pytest.fixture(scope="module")
def panel(shared_data: Path) -> pd.DataFrame:
    return us_panel_frame(shared_data / "us_listed" / "firm_years.csv.gz")


@pytest.fixture(scope="module")
def fitted(panel: pd.DataFrame) -> tuple[PDModel, pd.DataFrame]:
    feats = model_features(panel)
    rows = fit_rows(panel)
    m = fit_pd_model(panel.loc[rows, feats], panel.loc[rows, "default_12m"],
                     panel.loc[rows, "debtor_id"], **SMALL)  # fmt: skip
    return m, panel.loc[panel["split"].eq("validation"), feats]


def _toy(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"lev": rng.normal(size=n), "roa": rng.normal(size=n), "g": rng.normal(size=n)}
    )
    y = (X["lev"] - X["roa"] + X["g"] ** 2 + rng.normal(size=n) > 2.0).astype(int)
    return X, y


@pytest.mark.realdata
@pytest.mark.parametrize("feature, step", [("st_liabilities_to_assets", 0.10),
                                           ("st_long_term_debt_to_assets", 0.10),
                                           ("st_roa", -0.05), ("st_ebitda_to_assets", -0.05)])  # fmt: skip
def test_monotone_constraints_hold_on_real_rows(fitted: tuple[PDModel, pd.DataFrame],
                                                feature: str, step: float) -> None:  # fmt: skip
    """More leverage never lowers the PD; less profitability never lowers it either.

    Source: issue 3 §1 and the directions of riskengine.features.statements
    (liabilities/assets +1, ROA -1): each real validation row is moved in the
    riskier direction and its PD must not fall.
    """
    model, X = fitted
    assert model.monotonic_cst_[list(model.feature_names_in_).index(feature)] == np.sign(step)
    worse = X.copy()
    worse[feature] = worse[feature] + step
    before, after = model.predict_pd(X), model.predict_pd(worse)
    assert np.all(after >= before - 1e-12)
    assert np.any(after > before)  # the constraint is not vacuous: the feature is used


@pytest.mark.realdata
def test_directions_come_from_the_statement_pipeline(fitted: tuple[PDModel, pd.DataFrame]) -> None:
    """The US model's constraints are the statement pipeline's directions except the
    protocol's DIRECTION_CHANGES (issue 17: a turnover collapse never lowers the PD)."""
    model, _ = fitted
    dirs = feature_directions()
    changed = {k: d for k, (d, _) in DIRECTION_CHANGES.items()}
    expected = [changed.get(f, dirs[f]) for f in model.feature_names_in_]
    assert model.monotonic_cst_.tolist() == expected
    assert dirs["st_revenue_growth_1y"] == 0  # the pipeline's own prior stays "no prior"
    assert model_directions()["st_revenue_growth_1y"] == -1  # the US model's constraint
    assert all(dirs[f] == d for f, d in model_directions().items() if f not in changed)


@pytest.mark.realdata
def test_pd_range_floor_and_single_row_equals_batch(fitted: tuple[PDModel, pd.DataFrame]) -> None:
    model, X = fitted
    p = model.predict_pd(X)
    assert p.min() >= 0.0005 and p.max() <= PD_CEILING < 1.0
    alone = np.array([model.predict_pd(X.iloc[[i]])[0] for i in range(0, len(X), 97)])
    np.testing.assert_array_equal(alone, p[::97])


@pytest.mark.realdata
def test_artifact_round_trip_gives_identical_pds(fitted: tuple[PDModel, pd.DataFrame],
                                                 tmp_path: Path) -> None:  # fmt: skip
    model, X = fitted
    save_skops(model, tmp_path / "pd_model.skops", {"created_at": "2026-01-01T00:00:00+00:00"})
    loaded = load_champion(tmp_path)
    np.testing.assert_array_equal(loaded.predict_pd(X), model.predict_pd(X))


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    X, y = _toy()
    model = PDModel(max_iter=10, cv=3).fit(X, y)
    path = tmp_path / "pd_model.skops"
    save_skops(model, path, {"created_at": "2026-01-01T00:00:00+00:00"})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelArtifactError, match="sha256 mismatch"):
        load_champion(tmp_path)


def test_missing_artifact_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match="riskengine train"):
        load_champion(tmp_path)


def test_anchoring_moves_the_mean_pd_towards_the_central_tendency() -> None:
    """Prior shift (calibration.anchor_to_central_tendency): a lower CT lowers every PD."""
    X, y = _toy()
    hi = PDModel(max_iter=20, cv=3, central_tendency=0.05).fit(X, y)
    lo = PDModel(max_iter=20, cv=3, central_tendency=0.01).fit(X, y)
    p_hi, p_lo = hi.predict_pd(X), lo.predict_pd(X)
    assert np.all(p_lo <= p_hi)
    assert abs(p_lo.mean() - 0.01) < abs(p_hi.mean() - 0.01)
    # unanchored PDs average close to the training default rate (Platt on OOF scores)
    assert hi.predict_pd(X, anchor=False).mean() == pytest.approx(y.mean(), abs=0.03)
    # the ranking is untouched by the anchor
    np.testing.assert_array_equal(np.argsort(p_hi, kind="stable"), np.argsort(p_lo, kind="stable"))


def test_logistic_challenger_and_toy_directions() -> None:
    X, y = _toy()
    m = PDModel(family="logistic", cv=3).fit(X, y)
    assert m.oof_auc_ > 0.7
    assert m.monotonic_cst_.tolist() == [0, 0, 0]
    coef = m.estimator_.coef_.ravel()
    assert coef[0] > 0 > coef[1]  # leverage up raises, profitability up lowers


def test_not_fitted_and_missing_column_errors() -> None:
    X, y = _toy()
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        PDModel().predict_pd(X)
    m = PDModel(max_iter=10, cv=3).fit(X, y)
    with pytest.raises(InvalidInputError, match="feature column 'roa' is missing"):
        m.predict_pd(X.drop(columns="roa"))


def test_bad_labels_and_family_are_refused() -> None:
    X, y = _toy()
    with pytest.raises(InvalidInputError, match="both 0"):
        PDModel(cv=3).fit(X, np.zeros(len(X)))
    with pytest.raises(InvalidInputError, match="family must be one of"):
        PDModel(family="forest").fit(X, y)


def test_fill_missing_uses_training_median() -> None:
    X, y = _toy()
    m = PDModel(max_iter=20, cv=3, fill_missing=("g",)).fit(X, y)
    row = X.iloc[[0]].copy()
    row.loc[:, "g"] = np.nan
    at_median = X.iloc[[0]].copy()
    at_median.loc[:, "g"] = float(np.median(X["g"]))
    np.testing.assert_array_equal(m.predict_pd(row), m.predict_pd(at_median))


def test_scikit_learn_contract() -> None:
    """Selected sklearn estimator checks. The full parametrize_with_checks suite is not
    run: PDModel is a binary default model and refuses labels other than 0/1 (most
    generic classifier checks use 3 classes or string labels)."""
    check_no_attributes_set_in_init("PDModel", PDModel())
    check_parameters_default_constructible("PDModel", PDModel())
    check_get_params_invariance("PDModel", PDModel())
