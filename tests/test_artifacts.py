"""skops artifacts: round trip, sha256 check, trusted-type list (no pickle on the load path)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from riskengine.errors import ModelArtifactError
from riskengine.io.artifacts import load_skops, metadata_path, read_metadata, save_skops
from riskengine.model.calibration import IsotonicCalibrator, PlattCalibrator

META = {"created_at": "2026-01-31T12:00:00+00:00", "features": ["a", "b", "c"]}


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    X.loc[::9, "b"] = np.nan
    y = (X["a"] + rng.normal(size=400) > 1).astype(int).to_numpy()
    return X, y


@lru_cache(maxsize=1)  # fit once per module; tests never mutate the fitted objects
def _fitted() -> dict[str, object]:
    X, y = _data()
    hgb = HistGradientBoostingClassifier(max_iter=10, monotonic_cst={"a": 1}, random_state=0)
    lr = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression())
    return {"hgb": hgb.fit(X, y), "lr": lr.fit(X, y),
            "platt": PlattCalibrator().fit(hgb.predict_proba(X)[:, 1], y),
            "iso": IsotonicCalibrator().fit(X["a"], y)}


@pytest.mark.parametrize("name", ["hgb", "lr", "platt", "iso"])
def test_round_trip_gives_identical_predictions(tmp_path: Path, name: str) -> None:
    obj = _fitted()[name]
    X, _ = _data()
    path = tmp_path / "m" / f"{name}.skops"
    meta = save_skops(obj, path, META)
    assert metadata_path(path).is_file()
    assert meta["sha256"] == read_metadata(path)["sha256"] and len(meta["sha256"]) == 64
    assert meta["created_at"] == META["created_at"] and meta["features"] == ["a", "b", "c"]
    assert {"numpy", "scikit-learn", "skops", "python"} <= set(meta["library_versions"])
    back = load_skops(path)
    inp = X["a"].to_numpy() if name in ("platt", "iso") else X
    if name == "platt":
        inp = np.clip(inp, 0.01, 0.99)
    pred = getattr(obj, "predict_proba", obj.predict)(inp)
    again = getattr(back, "predict_proba", back.predict)(inp)
    np.testing.assert_array_equal(pred, again)


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hgb.skops"
    save_skops(_fitted()["hgb"], path, META)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte changed
    path.write_bytes(bytes(data))
    with pytest.raises(ModelArtifactError, match="sha256"):
        load_skops(path)


def test_missing_metadata_or_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lr.skops"
    save_skops(_fitted()["lr"], path, META)
    metadata_path(path).unlink()
    with pytest.raises(ModelArtifactError, match="metadata file .* is missing"):
        load_skops(path)
    with pytest.raises(ModelArtifactError, match="not found"):
        load_skops(tmp_path / "absent.skops")


def test_metadata_without_sha_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lr.skops"
    save_skops(_fitted()["lr"], path, META)
    meta = json.loads(metadata_path(path).read_text())
    del meta["sha256"]
    metadata_path(path).write_text(json.dumps(meta))
    with pytest.raises(ModelArtifactError, match="no valid 'sha256'"):
        load_skops(path)


def _shout(x: np.ndarray) -> np.ndarray:
    return x * 2


def test_untrusted_type_is_refused(tmp_path: Path) -> None:
    """A function reference (this test module's _shout) is not in TRUSTED_TYPES."""
    X, y = _data()
    pipe = make_pipeline(FunctionTransformer(_shout), SimpleImputer(), LogisticRegression())
    path = tmp_path / "evil.skops"
    save_skops(pipe.fit(X, y), path, META)
    with pytest.raises(ModelArtifactError, match="untrusted type.*_shout"):
        load_skops(path)
    # trusting it explicitly for one call works (and is the only way)
    back = load_skops(path, extra_trusted=[f"{__name__}._shout"])
    np.testing.assert_array_equal(back.predict_proba(X), pipe.predict_proba(X))


def test_created_at_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="created_at"):
        save_skops(_fitted()["lr"], tmp_path / "x.skops", {"features": []})
