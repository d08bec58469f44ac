"""MLflow tracking and registry on a temporary sqlite store (real MLflow, no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from riskengine.tracking.runs import (
    CHAMPION_ALIAS,
    champion,
    default_tracking_uri,
    log_training_run,
    promote_if_better,
    register_model_version,
    resolve_tracking_uri,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sqlite store per module: creating and migrating a database costs seconds."""
    return tmp_path_factory.mktemp("store")


@pytest.fixture()
def uri(store: Path) -> str:
    return f"sqlite:///{(store / 'mlflow.db').as_posix()}"


@pytest.fixture()
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "pd_model.skops"
    path.write_bytes(b"not really a model")
    path.with_name("pd_model.skops.json").write_text(json.dumps({"sha256": "x"}))
    return path


def test_default_uri_is_explicit_sqlite_and_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = default_tracking_uri()
    assert uri.startswith("sqlite:////") and uri.endswith("/mlruns/mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    assert default_tracking_uri() == "sqlite:////tmp/elsewhere.db"
    assert resolve_tracking_uri("sqlite:////tmp/explicit.db") == "sqlite:////tmp/explicit.db"


def test_training_run_round_trip(uri: str, model_file: Path, tmp_path: Path, store: Path) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "metrics.json").write_text("{}")
    run_id = log_training_run(
        {"max_iter": 200, "features": ["a", "b"]}, {"val_auc": 0.9, "brier": 0.02},
        {"model": model_file, "report": report}, data_hash="abc123",
        tags={"model_family": "hgb"}, run_name="t", tracking_uri=uri,
    )
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["max_iter"] == "200" and run.data.params["data_hash"] == "abc123"
    assert run.data.metrics == {"val_auc": 0.9, "brier": 0.02}
    assert run.data.tags["data_sha256"] == "abc123" and run.data.tags["model_family"] == "hgb"
    listed = {a.path for a in client.list_artifacts(run_id, "model")}
    assert listed == {"model/pd_model.skops"}
    assert {a.path for a in client.list_artifacts(run_id, "report")} == {"report/metrics.json"}
    # artifacts live beside the database, not in the working directory
    art = Path(run.info.artifact_uri.removeprefix("file://"))
    assert art.is_relative_to(store / "artifacts")
    assert (art / "model" / "pd_model.skops").read_bytes() == b"not really a model"


def test_missing_artifact_fails_the_run(uri: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.skops"):
        log_training_run({}, {}, {"model": tmp_path / "absent.skops"}, "h",
                         experiment="failing", tracking_uri=uri)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("failing").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def _version(uri: str, model_file: Path) -> str:
    run_id = log_training_run({}, {}, {"model": model_file}, "h", tracking_uri=uri)
    return register_model_version("pd", run_id, "model", tracking_uri=uri)


def test_champion_alias_moves_only_when_better_and_calibrated(uri: str, model_file: Path) -> None:
    v1 = _version(uri, model_file)
    d = promote_if_better("pd", v1, 0.90, True, tracking_uri=uri)
    assert d.promoted and champion("pd", tracking_uri=uri) == (v1, 0.90)

    v2 = _version(uri, model_file)
    d = promote_if_better("pd", v2, 0.89, True, tracking_uri=uri)  # worse
    assert not d.promoted and "does not beat" in d.reason
    v3 = _version(uri, model_file)
    d = promote_if_better("pd", v3, 0.95, False, tracking_uri=uri)  # better, miscalibrated
    assert not d.promoted and "calibration" in d.reason
    v4 = _version(uri, model_file)
    d = promote_if_better("pd", v4, 0.90, True, tracking_uri=uri)  # a tie does not beat
    assert not d.promoted
    assert champion("pd", tracking_uri=uri) == (v1, 0.90)

    v5 = _version(uri, model_file)
    d = promote_if_better("pd", v5, 0.91, True, tracking_uri=uri)
    assert d.promoted and d.previous_version == v1 and d.previous_auc == 0.90
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version_by_alias("pd", CHAMPION_ALIAS)
    assert str(mv.version) == v5 and mv.tags["calibration_ok"] == "true"
    assert client.get_model_version("pd", v3).tags["calibration_ok"] == "false"
    assert [v1, v2, v3, v4, v5] == ["1", "2", "3", "4", "5"]
