"""The engine as an MLflow models-from-code pyfunc: log, check, register, load, serve.

Real MLflow 3.17.2 on a temporary sqlite store, no mocks. The engine is published
once per module (logging + checks cost seconds); every test reads that store.
Decisions are compared with the in-process engine
(:func:`riskengine.api.load_engine` + ``score_payloads``) on
``examples/debtor.json`` with fixed ``decided_at`` and ``reference_date``, so
they are deterministic and must be byte-identical as JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model, validate_serving_input

from riskengine.api import load_engine
from riskengine.errors import ModelArtifactError, PolicyError
from riskengine.io.artifacts import read_metadata
from riskengine.scoring.engine import Engine
from riskengine.tracking.mlflow_model import build_engine
from riskengine.tracking.pyfunc import (
    EXAMPLE_PATH,
    MODEL_NAME,
    PublishedEngine,
    _tracking,
    engine_model_config,
    log_engine_model,
    model_input,
    pickle_findings,
    pip_requirements,
    publish_command,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
PARAMS = {"decided_at": "2026-06-30T00:00:00Z", "reference_date": "2026-06-30"}
CHAMPION = f"models:/{MODEL_NAME}@champion"
NO_PICKLE = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def _canon(decisions: Any) -> str:
    return json.dumps(list(decisions), sort_keys=True)


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlflow-store")


@pytest.fixture(scope="module")
def uri(store: Path) -> str:
    return f"sqlite:///{(store / 'mlflow.db').as_posix()}"


@pytest.fixture(scope="module")
def published(uri: str) -> tuple[PublishedEngine, dict[str, Any]]:
    """Publish once; also record MLflow's global tracking state before and after."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    def state() -> dict[str, Any]:
        return {"global": tracking_utils._tracking_uri,
                "env": os.environ.get("MLFLOW_TRACKING_URI"),
                "registry_env": os.environ.get("MLFLOW_REGISTRY_URI")}

    before = state()
    res = log_engine_model(uri)
    return res, {"before": before, "after": state()}


@pytest.fixture(scope="module")
def logged_dir(published: tuple[PublishedEngine, dict[str, Any]], uri: str,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    with _tracking(uri):
        return Path(mlflow.artifacts.download_artifacts(
            artifact_uri=published[0].model_uri,
            dst_path=str(tmp_path_factory.mktemp("logged"))))


# --- log, register, alias ----------------------------------------------------------------


def test_publish_registers_the_checked_engine_as_champion(
        published: tuple[PublishedEngine, dict[str, Any]], uri: str, store: Path,
        engine: Engine) -> None:
    res, _ = published
    assert res.version == "1" and res.alias_uri == CHAMPION
    assert res.checks == {"no_pickle": True, "loads_without_pickle": True,
                          "serving_example_valid": True, "parity_with_engine": True}
    assert res.versions == engine.versions
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(mv.version) == "1" and mv.source == res.model_uri and mv.run_id == res.run_id
    assert mv.tags["policy_version"] == engine.policy.version
    assert mv.tags["model_version"] == engine.model_version
    run = client.get_run(res.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["checks_passed"] == "true"
    assert client.get_experiment(run.info.experiment_id).name == "riskengine-engine"
    # artifacts live beside the sqlite database, never in the working directory
    assert (store / "artifacts" / "models" / res.model_id).is_dir()


def test_publish_restores_mlflow_global_tracking_state(
        published: tuple[PublishedEngine, dict[str, Any]]) -> None:
    """``mlflow.set_tracking_uri`` writes MLFLOW_TRACKING_URI into os.environ; the
    publisher must leave the process as it found it."""
    _, state = published
    assert state["after"] == state["before"]


def test_logged_model_is_models_from_code_without_pickle(logged_dir: Path) -> None:
    assert pickle_findings(logged_dir) == []
    assert not list(logged_dir.rglob("*.pkl")) and not list(logged_dir.rglob("*.pickle"))
    flavor = yaml.safe_load((logged_dir / "MLmodel").read_text())["flavors"]["python_function"]
    assert "python_model" not in flavor
    assert Path(flavor["model_code_path"]).name == "mlflow_model.py"
    assert (logged_dir / "mlflow_model.py").is_file()
    assert (logged_dir / "code" / "riskengine" / "scoring" / "engine.py").is_file()
    shipped = [p for p in (logged_dir / "code").rglob("*") if p.is_file()]
    assert {p.suffix for p in shipped} <= {".py", ".toml", ".json", ".typed"}
    assert not list((logged_dir / "code").rglob("__pycache__"))
    # the PD model travels as the skops file with its sha256 sidecar, unchanged
    skops = logged_dir / "artifacts" / "pd_model" / "pd_model.skops"
    assert skops.read_bytes() == (MODELS / "pd_model.skops").read_bytes()
    assert read_metadata(skops)["sha256"] == read_metadata(MODELS / "pd_model.skops")["sha256"]
    # policy, scale and overlay are the model_config, exactly the shipped TOML documents
    assert flavor["config"] == engine_model_config()
    assert (logged_dir / "requirements.txt").read_text().split() == pip_requirements()
    sig = Model.load(str(logged_dir)).signature
    assert sig is not None and sig.inputs.input_names() == ["payload"]
    assert sig.params is not None
    assert [p.name for p in sig.params.params] == ["as_of", "decided_at", "reference_date"]


def test_pickle_findings_flags_a_cloudpickled_model(tmp_path: Path) -> None:
    """Negative control: a classic PythonModel directory (written by hand, nothing
    is pickled here) is reported, so the clean result above means something."""
    (tmp_path / "MLmodel").write_text(yaml.safe_dump(
        {"flavors": {"python_function": {"python_model": "python_model.pkl",
                                         "loader_module": "mlflow.pyfunc.model"}}}))
    (tmp_path / "python_model.pkl").write_bytes(b"")
    found = pickle_findings(tmp_path)
    assert "pickle file python_model.pkl" in found
    assert "pyfunc flavor holds a cloudpickled python_model" in found
    assert "pyfunc flavor is not models-from-code (no model_code_path)" in found


# --- load and predict -----------------------------------------------------------------------


def test_champion_loads_without_pickle_and_matches_the_engine(
        published: tuple[PublishedEngine, dict[str, Any]], uri: str, engine: Engine,
        example: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_PICKLE, "false")
    with _tracking(uri):
        model = mlflow.pyfunc.load_model(CHAMPION)
    # one payload (the single-debtor fast path inside the pyfunc)
    got = model.predict(model_input([example]), params=PARAMS)
    want = engine.score_payloads([example], **PARAMS)
    assert _canon(got) == _canon(want)
    assert got[0]["grade"] == want[0]["grade"] and got[0]["pd"] == want[0]["pd"]
    # several payloads (the batch path): a second debtor without statements
    other = copy.deepcopy(example)
    other["debtor"]["debtor_id"] = "GR-D-000002"
    other["statements"] = []
    other["adverse_records"] = []
    for inv in other["invoices"]:  # record keys are unique across a batch
        inv["invoice_id"] = "B-" + inv["invoice_id"]
    got2 = model.predict(model_input([example, other]), params=PARAMS)
    want2 = engine.score_payloads([example, other], **PARAMS)
    assert _canon(got2) == _canon(want2)
    assert [d["rating_basis"] for d in got2] == ["statements", "no_financials"]
    # as_of as a param for a payload without one
    dated = {k: v for k, v in example.items() if k != "as_of"}
    got3 = model.predict(model_input([dated]), params={**PARAMS, "as_of": "2026-06-30"})
    assert _canon(got3) == _canon(want)


@pytest.mark.filterwarnings("ignore:.*validate_serving_input.*:FutureWarning")
def test_serving_example_passes_validate_serving_input(
        published: tuple[PublishedEngine, dict[str, Any]], uri: str, logged_dir: Path,
        engine: Engine, example: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    serving_input = Model.load(str(logged_dir)).get_serving_input(str(logged_dir))
    assert serving_input is not None
    body = json.loads(serving_input)
    assert body["params"] == PARAMS
    assert json.loads(body["dataframe_split"]["data"][0][0]) == example
    monkeypatch.setenv(NO_PICKLE, "false")
    with _tracking(uri):
        got = validate_serving_input(CHAMPION, serving_input)
    assert _canon(got) == _canon(engine.score_payloads([example], **PARAMS))


def test_invalid_payloads_fail_with_field_paths_and_no_echo(
        published: tuple[PublishedEngine, dict[str, Any]], uri: str,
        example: dict[str, Any]) -> None:
    with _tracking(uri):
        model = mlflow.pyfunc.load_model(CHAMPION)
    bad = copy.deepcopy(example)
    bad["debtor"]["name"] = "SECRET-DEBTOR-NAME"
    bad["statements"][1]["revenue"] = "19820000-SECRET"
    with pytest.raises(MlflowException, match=r"statements\.1\.revenue") as info:
        model.predict(model_input([bad]), params=PARAMS)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "SECRET" not in str(info.value)
    frame = model_input([example])
    frame.loc[0, "payload"] = "{not json SECRET"
    with pytest.raises(MlflowException, match="row 0: 'payload' is not valid JSON") as info2:
        model.predict(frame, params=PARAMS)
    assert "SECRET" not in str(info2.value)


def test_model_config_is_validated_before_anything_loads() -> None:
    """Source: riskengine/config/policy.toml (CreditPolicy.from_dict refuses a
    missing section with its key)."""
    config = engine_model_config()
    with pytest.raises(PolicyError, match="'policy' is missing"):
        build_engine(MODELS, {k: v for k, v in config.items() if k != "policy"})
    with pytest.raises(PolicyError, match="unknown key 'pricing_override'"):
        build_engine(MODELS, {**config, "pricing_override": {}})
    broken = copy.deepcopy(config)
    broken["overlay"]["terms"]["adv_n_tier2"]["weight"] = -1.0
    with pytest.raises(PolicyError, match=r"terms\.adv_n_tier2\.weight"):
        build_engine(MODELS, broken)


# --- refusals -------------------------------------------------------------------------------


def test_tampered_pd_artifact_is_not_published(tmp_path: Path, uri: str) -> None:
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    for name in ("pd_model.skops", "pd_model.skops.json"):
        shutil.copy2(MODELS / name, model_dir / name)
    data = bytearray((model_dir / "pd_model.skops").read_bytes())
    data[-1] ^= 0xFF
    (model_dir / "pd_model.skops").write_bytes(bytes(data))
    with pytest.raises(ModelArtifactError, match="sha256 mismatch"):
        log_engine_model(uri, model_dir, register=True)


def test_failed_checks_register_nothing_and_cli_no_register(
        published: tuple[PublishedEngine, dict[str, Any]], uri: str, tmp_path: Path,
        example: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """A serving example the engine rejects fails the checks: no new version, the
    champion stays. Then ``riskengine publish --no-register`` logs without registering."""
    bad = copy.deepcopy(example)
    bad["statements"][0]["revenue"] = "not a number"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ModelArtifactError,
                       match=r"failed its checks \['serving_example_valid', 'parity_with_engine'\]"
                       r".*statements\.0\.revenue"):
        log_engine_model(uri, example_path=path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert [str(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'")] == [
        "1"]

    args = argparse.Namespace(tracking_uri=uri, model_dir=None, policy=None, master_scale=None,
                              overlay=None, no_register=True)
    assert publish_command(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["registered_version"] is None and out["alias"] is None
    assert all(out["checks"].values())
    assert [str(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'")] == [
        "1"]
    assert str(client.get_model_version_by_alias(MODEL_NAME, "champion").version) == "1"


# --- mlflow models serve ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: str) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
def test_mlflow_models_serve_champion(
        published: tuple[PublishedEngine, dict[str, Any]], uri: str, logged_dir: Path,
        engine: Engine, example: dict[str, Any], tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, NO_PICKLE: "false",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION,
         "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as resp:
                    ready = resp.status == 200
            except OSError:
                pass
            if ready:
                break
            time.sleep(0.5)
        tail = (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
        assert ready, f"server not ready within 90 s (exit {proc.poll()}):\n{tail}"

        serving_input = Model.load(str(logged_dir)).get_serving_input(str(logged_dir))
        assert serving_input is not None
        status, text = _post(f"{base}/invocations", serving_input)
        assert status == 200, text
        got = json.loads(text)["predictions"]
        want = engine.score_payloads([example], **PARAMS)
        assert _canon(got) == _canon(want)
        assert got[0]["grade"] == want[0]["grade"] and got[0]["decision_type"] == "full"

        bad = copy.deepcopy(example)
        bad["debtor"]["name"] = "SECRET-DEBTOR-NAME"
        bad["statements"][0]["revenue"] = "SECRET-REVENUE"
        body = json.dumps({"dataframe_records": [{"payload": json.dumps(bad)}],
                           "params": PARAMS})
        status, text = _post(f"{base}/invocations", body)
        assert status == 400 and "statements.0.revenue" in text
        assert "SECRET" not in text
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
