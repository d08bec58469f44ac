"""Reason codes: identical alone vs batch, only PD-raising features, directions consistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.model.explain import contributions, reason_codes
from riskengine.model.pd_model import PDModel
from riskengine.modeldev.protocol import fit_pd_model, fit_rows, model_features, us_panel_frame


def _toy(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"lev": rng.normal(size=n), "roa": rng.normal(size=n), "g": rng.normal(size=n)}
    )
    y = (X["lev"] - X["roa"] + X["g"] ** 2 + rng.normal(size=n) > 2.0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def real(shared_data: Path) -> tuple[PDModel, pd.DataFrame]:
    panel = us_panel_frame(shared_data / "us_listed" / "firm_years.csv.gz")
    feats = model_features(panel)
    rows = fit_rows(panel)
    m = fit_pd_model(panel.loc[rows, feats], panel.loc[rows, "default_12m"],
                     panel.loc[rows, "debtor_id"], max_iter=40, learning_rate=0.1, cv=3)  # fmt: skip
    val = panel.loc[panel["split"].eq("validation")]
    return m, val.iloc[:300]


@pytest.mark.realdata
def test_codes_identical_alone_and_in_batch(real: tuple[PDModel, pd.DataFrame]) -> None:
    model, X = real
    batch = reason_codes(model, X, top_k=3)
    for i in range(0, len(X), 37):
        assert reason_codes(model, X.iloc[[i]], top_k=3)[0] == batch[i]


@pytest.mark.realdata
def test_codes_raise_the_pd_and_respect_directions(real: tuple[PDModel, pd.DataFrame]) -> None:
    """A +1 feature can only raise the PD by being above its reference, a -1 feature by
    being below it (monotone constraints; issue 3 §1)."""
    model, X = real
    cst = dict(zip(model.feature_names_in_, model.monotonic_cst_.tolist(), strict=True))
    codes = reason_codes(model, X, top_k=5)
    assert sum(len(c) for c in codes) > 0
    for row in codes:
        impacts = [c["impact"] for c in row]
        assert impacts == sorted(impacts, reverse=True) and all(v > 0 for v in impacts)
        for c in row:
            assert c["pd_delta"] >= 0
            if c["direction"] != "missing":
                if cst[c["feature"]] == 1:
                    assert c["direction"] == "higher"
                elif cst[c["feature"]] == -1:
                    assert c["direction"] == "lower"


def test_contribution_is_zero_at_the_reference() -> None:
    """Substituting a feature by its own reference value changes nothing (hand reasoning)."""
    X, y = _toy()
    m = PDModel(max_iter=20, cv=3).fit(X, y)
    at_ref = pd.DataFrame([m.reference_], columns=X.columns)
    _, logit_delta, pd_delta = contributions(m, at_ref)
    np.testing.assert_array_equal(logit_delta, 0.0)
    np.testing.assert_array_equal(pd_delta, 0.0)
    assert reason_codes(m, at_ref) == [[]]


def test_missing_value_is_reported_as_missing() -> None:
    X, y = _toy()
    m = PDModel(max_iter=30, cv=3, directions={"lev": 1, "roa": -1}).fit(X, y)
    row = pd.DataFrame({"lev": [np.nan], "roa": [-3.0], "g": [0.0]})
    codes = reason_codes(m, row, top_k=3)[0]
    assert codes[0]["feature"] == "roa" and codes[0]["direction"] == "lower"
    assert codes[0]["value"] == -3.0
    assert all(c["value"] is None for c in codes if c["direction"] == "missing")


def test_top_k_must_be_positive() -> None:
    X, y = _toy()
    m = PDModel(max_iter=10, cv=3).fit(X, y)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        reason_codes(m, X, top_k=0)
