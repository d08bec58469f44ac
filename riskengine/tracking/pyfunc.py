"""Publish the whole engine to MLflow: log, check, register, alias (shell).

``riskengine publish`` = :func:`publish_command` -> :func:`log_engine_model`:

1. **Log** :mod:`riskengine.tracking.mlflow_model` as a *models-from-code* pyfunc
   (MLflow copies the source file and executes it at load; nothing is
   pickled) with

   - the artifact ``pd_model`` (``pd_model.skops`` + its sha256 metadata),
   - ``model_config``: the credit policy, master scale and overlay TOML
     documents as dicts (validated here and again at load),
   - ``code_paths``: the riskengine package sources (so the model carries the
     code that scores it and loads in any environment with the pins below),
   - an explicit signature (one string column ``payload``; params ``as_of``,
     ``decided_at``, ``reference_date``), explicit ``pip_requirements``
     (exact pins of the running libraries: no dependency inference, which
     would load the model once more) and an input example built from
     ``examples/debtor.json``, from which MLflow writes the serving example.

2. **Check** the logged model: no pickle anywhere (no ``python_model.pkl``,
   no ``*.pkl``/``*.pickle``/``*.joblib`` file, the flavor names a
   ``model_code_path``); it loads with ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``
   and its serving example passes :func:`mlflow.models.validate_serving_input`;
   its decision on the example equals the in-process engine's
   (:func:`riskengine.api.load_engine` + ``score_payloads``).

3. **Register** as ``riskengine`` and point the alias ``champion`` at the new
   version, only when every check passed; otherwise nothing is registered and
   :class:`~riskengine.errors.ModelArtifactError` names the failed checks.
   (The PD model itself was promoted on validation AUC by
   :func:`riskengine.tracking.runs.promote_if_better`; an engine version differs
   from the previous one by policy, scale, overlay or code as well, so it
   is promoted on passing its checks, not on AUC.)

The tracking store is :func:`riskengine.tracking.runs.resolve_tracking_uri`
(``sqlite:///…/mlflow.db``, set explicitly); runs go to the experiment
``riskengine-engine`` whose artifacts live beside the database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
import tomllib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from importlib import resources
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from riskengine.errors import ModelArtifactError, PolicyError, RiskEngineError
from riskengine.io.locations import example_payload_path
from riskengine.tracking.mlflow_model import INPUT_COLUMN, PARAM_NAMES, PD_MODEL_ARTIFACT
from riskengine.tracking.runs import (
    CHAMPION_ALIAS,
    MODEL_DESCRIPTIONS,
    describe_registered_model,
    get_client,
    get_or_create_experiment,
    path_param,
    resolve_tracking_uri,
)

__all__ = [
    "MODEL_NAME",
    "EXPERIMENT",
    "ARTIFACT_NAME",
    "MODEL_CODE_PATH",
    "EXAMPLE_PATH",
    "REQUIREMENTS",
    "PICKLE_SUFFIXES",
    "PublishedEngine",
    "engine_model_config",
    "engine_signature",
    "model_input",
    "pip_requirements",
    "pickle_findings",
    "log_engine_model",
    "publish_command",
]

#: Registered model name; ``models:/riskengine@champion`` is the served model.
MODEL_NAME = "riskengine"
#: Experiment of the publishing runs.
EXPERIMENT = "riskengine-engine"
#: Name of the logged model inside its run.
ARTIFACT_NAME = "engine"
#: The models-from-code source file.
MODEL_CODE_PATH = Path(__file__).with_name("mlflow_model.py")
#: Payload the serving example is built from.
EXAMPLE_PATH = example_payload_path()
#: Distributions the logged model needs (pinned to the running versions).
REQUIREMENTS: tuple[str, ...] = ("mlflow", "numpy", "pandas", "pyarrow", "pydantic",
                                 "scikit-learn", "scipy", "skops")
#: File suffixes that mean a pickle-based artifact.
PICKLE_SUFFIXES: tuple[str, ...] = (".pkl", ".pickle", ".cloudpickle", ".joblib", ".pt")
_PD_FILES = ("pd_model.skops", "pd_model.skops.json")
_CODE_SUFFIXES = frozenset({".py", ".toml", ".json", ".typed"})
# web assets and the shipped model and example (package data): not scoring code
_SKIP_DIRS = frozenset({"__pycache__", "static", "templates", "_models", "_examples"})


@dataclass(frozen=True, slots=True)
class PublishedEngine:
    """Outcome of :func:`log_engine_model`.

    Attributes
    ----------
    model_uri : str
        The logged model (``models:/m-…``).
    run_id, model_id : str
    version : str or None
        Registered version of ``riskengine`` (None when not registered).
    alias_uri : str or None
        ``models:/riskengine@champion`` when the alias was moved to ``version``.
    checks : dict of str to bool
        ``no_pickle``, ``loads_without_pickle``, ``serving_example_valid``,
        ``parity_with_engine``.
    versions : dict of str to str
        Model, policy, master-scale and overlay versions of the engine.
    timings_s : dict of str to float
        ``log``, ``check`` and ``register`` wall-clock seconds.
    """

    model_uri: str
    run_id: str
    model_id: str
    version: str | None
    alias_uri: str | None
    checks: dict[str, bool] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


# --- what is logged -----------------------------------------------------------------


def _read_toml(path: str | os.PathLike[str] | None, shipped: str) -> dict[str, Any]:
    try:
        if path is None:
            text = resources.files("riskengine.config").joinpath(shipped).read_text(
                encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{shipped} file {path!s} cannot be read ({exc}); give its path or "
                          "omit it to use the shipped one.", key="") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path or shipped} is not valid TOML: {exc}", key="") from exc


def engine_model_config(policy_path: str | os.PathLike[str] | None = None,
                        master_scale_path: str | os.PathLike[str] | None = None,
                        overlay_path: str | os.PathLike[str] | None = None, *,
                        default_product: str = "non_recourse") -> dict[str, Any]:
    """The ``model_config`` of the logged engine: the three TOML documents as dicts.

    Parameters
    ----------
    policy_path, master_scale_path, overlay_path : path-like, optional
        TOML files; default the shipped ``riskengine/config`` ones.
    default_product : str, default "non_recourse"

    Returns
    -------
    dict
        ``{"policy": …, "master_scale": …, "overlay": …, "default_product": …}``,
        each document validated (``CreditPolicy.from_dict`` etc.) and
        JSON/YAML-safe.

    Raises
    ------
    PolicyError
        A file is unreadable or invalid; the key is named.
    """
    from riskengine.model.master_scale import MasterScale
    from riskengine.policy.credit_policy import CreditPolicy
    from riskengine.scoring.overlay import Overlay

    config: dict[str, Any] = {
        "policy": _read_toml(policy_path, "policy.toml"),
        "master_scale": _read_toml(master_scale_path, "master_scale.toml"),
        "overlay": _read_toml(overlay_path, "overlay.toml"),
        "default_product": default_product,
    }
    policy = CreditPolicy.from_dict(config["policy"])
    MasterScale.from_dict(config["master_scale"])
    Overlay.from_dict(config["overlay"])
    if default_product not in policy.product_names:
        raise PolicyError(f"default_product {default_product!r} is not a product of policy "
                          f"{policy.version} ({', '.join(policy.product_names)}).",
                          key="products")
    try:  # MLflow stores model_config in the MLmodel YAML: plain JSON types only
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"model_config is not plain JSON data ({exc}); TOML dates and "
                          "inf/nan are not supported in the configuration.", key="") from exc
    return config


def engine_signature() -> ModelSignature:
    """Input ``payload: string`` (a JSON debtor payload per row); string params
    ``as_of``, ``decided_at``, ``reference_date`` (default None)."""
    return ModelSignature(
        inputs=Schema([ColSpec("string", INPUT_COLUMN, required=True)]),
        params=ParamSchema([ParamSpec(name, "string", None) for name in PARAM_NAMES]),
    )


def model_input(payloads: list[Mapping[str, Any]]) -> pd.DataFrame:
    """The model input for payload dicts: one row per payload, column ``payload``.

    Examples
    --------
    >>> model_input([{"debtor": {"debtor_id": "D-1"}}]).columns.tolist()
    ['payload']
    """
    return pd.DataFrame({INPUT_COLUMN: pd.Series(
        [json.dumps(dict(p), ensure_ascii=False) for p in payloads], dtype=object)})


def pip_requirements() -> list[str]:
    """``name==version`` of each distribution in :data:`REQUIREMENTS`, as installed."""
    return [f"{name}=={importlib_metadata.version(name)}" for name in REQUIREMENTS]


def pickle_findings(model_dir: str | os.PathLike[str]) -> list[str]:
    """Why a logged model directory is not pickle-free (empty when it is).

    Looks for pickle-format files (:data:`PICKLE_SUFFIXES`,
    ``python_model.pkl``) and reads the pyfunc flavor of ``MLmodel``: a
    models-from-code model names ``model_code_path`` and no ``python_model``.
    """
    import yaml

    root = Path(model_dir)
    found = [f"pickle file {p.relative_to(root).as_posix()}" for p in sorted(root.rglob("*"))
             if p.is_file() and (p.suffix.lower() in PICKLE_SUFFIXES
                                 or p.name == "python_model.pkl")]
    mlmodel = root / "MLmodel"
    if not mlmodel.is_file():
        return [*found, "MLmodel file missing"]
    flavor = (yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}).get(
        "flavors", {}).get("python_function", {})
    if "python_model" in flavor:
        found.append("pyfunc flavor holds a cloudpickled python_model")
    if "model_code_path" not in flavor:
        found.append("pyfunc flavor is not models-from-code (no model_code_path)")
    return found


# --- shell helpers ------------------------------------------------------------------------


@contextlib.contextmanager
def _tracking(uri: str) -> Iterator[None]:
    """Point the fluent MLflow API at ``uri`` (tracking and registry), then restore.

    ``mlflow.pyfunc.log_model`` and ``mlflow.register_model`` read the global
    URIs. ``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` (and
    ``set_registry_uri`` ``MLFLOW_REGISTRY_URI``) into the environment, so the
    previous state is restored exactly: the module globals as they were (None
    when never set; MLflow 3.17.2 keeps them in ``_tracking_uri`` /
    ``_registry_uri``) and both environment variables.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved_env = {k: os.environ.get(k) for k in keys}
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved[0])  # type: ignore[arg-type]  # None unsets it
        registry_utils._registry_uri = saved[1]
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables for the block, then restore them."""
    prev = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in prev.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stage(workdir: Path, model_dir: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    """Copy the PD-model artifact pair and the package sources into ``workdir``."""
    from riskengine.io.artifacts import champion_path, file_sha256, read_metadata

    src = champion_path(model_dir)
    meta = read_metadata(src)  # raises when the sidecar is missing
    if file_sha256(src) != meta.get("sha256"):
        raise ModelArtifactError(f"sha256 mismatch for {src}: the artifact does not match its "
                                 "metadata and is not published. Restore it or retrain.")
    pd_dir = workdir / PD_MODEL_ARTIFACT
    pd_dir.mkdir()
    for name in _PD_FILES:
        shutil.copy2(src.parent / name, pd_dir / name)
    code = workdir / "code" / "riskengine"
    shutil.copytree(Path(__file__).resolve().parents[1], code, ignore=_not_code)  # the package
    return pd_dir, code


def _not_code(directory: str, names: list[str]) -> set[str]:
    """``copytree`` filter: keep the package's Python sources and its config data only."""
    base = Path(directory)
    return {n for n in names if ((base / n).is_dir() and n in _SKIP_DIRS)
            or ((base / n).is_file() and Path(n).suffix not in _CODE_SUFFIXES)}


def _example(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, str]]:
    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelArtifactError(f"example payload {p} cannot be read ({exc}); the serving "
                                 "example is built from it (examples/debtor.json).") from exc
    day = str(payload.get("as_of") or "")
    if not day:
        raise ModelArtifactError(f"example payload {p} has no 'as_of'; the serving example "
                                 "must be deterministic.")
    return payload, {"decided_at": f"{day}T00:00:00Z", "reference_date": day}


def _checks(local: Path, serving_input: str | None, engine: Any, payload: dict[str, Any],
            params: dict[str, str]) -> tuple[dict[str, bool], list[str]]:
    """Run the publication checks on a logged model directory; (checks, notes)."""
    from mlflow.models import validate_serving_input

    notes = pickle_findings(local)
    checks = {"no_pickle": not notes, "loads_without_pickle": False,
              "serving_example_valid": False, "parity_with_engine": False}
    try:
        expected = engine.score_payloads([payload], **params)
    except RiskEngineError as exc:
        notes.append(f"the engine refuses the example payload: {exc}")
        expected = None
    with _env(MLFLOW_ALLOW_PICKLE_DESERIALIZATION="false"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # validate_serving_input: deprecated
        try:
            mlflow.pyfunc.load_model(str(local))
            checks["loads_without_pickle"] = True
            if serving_input is None:
                notes.append("no serving input example was written")
                return checks, notes
            got = validate_serving_input(str(local), serving_input)
            checks["serving_example_valid"] = True
        except Exception as exc:  # any failure fails the check, with its reason
            notes.append(f"{type(exc).__name__}: {exc}")
            return checks, notes
    checks["parity_with_engine"] = expected is not None and json.dumps(
        list(got), sort_keys=True) == json.dumps(expected, sort_keys=True)
    if expected is not None and not checks["parity_with_engine"]:
        notes.append("the pyfunc's decision on the example differs from the engine's")
    return checks, notes


# --- publish ------------------------------------------------------------------------------


def log_engine_model(tracking_uri: str | None = None,
                     model_dir: str | os.PathLike[str] | None = None, register: bool = True,
                     *, policy_path: str | os.PathLike[str] | None = None,
                     master_scale_path: str | os.PathLike[str] | None = None,
                     overlay_path: str | os.PathLike[str] | None = None,
                     example_path: str | os.PathLike[str] = EXAMPLE_PATH,
                     name: str = MODEL_NAME, experiment: str = EXPERIMENT) -> PublishedEngine:
    """Log the engine as a models-from-code pyfunc, check it, register it as champion.

    Parameters
    ----------
    tracking_uri : str, optional
        Default :func:`riskengine.tracking.runs.default_tracking_uri`
        (``$MLFLOW_TRACKING_URI`` or ``sqlite:///<repo>/mlruns/mlflow.db``).
    model_dir : path-like, optional
        Directory of ``pd_model.skops`` (default ``$RISKENGINE_MODEL_DIR`` or ``models/``).
    register : bool, default True
        Register the checked model as ``name`` and move the alias ``champion``.
    policy_path, master_scale_path, overlay_path : path-like, optional
        TOML files (default the shipped ones; the overlay: the model directory's
        ``overlay.toml`` first, :func:`riskengine.api.model_overlay_path`).
    example_path : path-like
        The payload the serving example is built from (needs ``as_of``).
    name, experiment : str

    Returns
    -------
    PublishedEngine

    Raises
    ------
    ModelArtifactError
        The PD artifact fails its sha256, or a check of the logged model failed
        (nothing is registered; the run is tagged ``checks_passed=false``).
    PolicyError
        A configuration file is invalid.
    """
    from riskengine.api import load_engine, model_overlay_path

    # the model directory's own overlay (train --portfolio) unless one is given
    overlay_path = model_overlay_path(model_dir, overlay_path)
    # read every input file before touching the tracking store: a bad one changes nothing
    config = engine_model_config(policy_path, master_scale_path, overlay_path)
    payload, params = _example(example_path)
    uri = resolve_tracking_uri(tracking_uri)
    exp_id = get_or_create_experiment(experiment, tracking_uri=uri)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="riskengine-publish-") as tmp:
        work = Path(tmp)
        pd_dir, code = _stage(work, model_dir)
        engine = load_engine(model_dir, policy_path, master_scale_path=master_scale_path,
                             overlay_path=overlay_path)  # the in-process reference
        versions = dict(engine.versions)
        with _tracking(uri), _env(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"), \
                mlflow.start_run(experiment_id=exp_id, run_name="publish-engine") as run:
            mlflow.set_tags({"riskengine.kind": "engine", **versions})
            mlflow.log_params({  # the files this engine was built from, absolute
                "model_dir": path_param(model_dir) or "(shipped model)",
                "policy": path_param(policy_path) or "(shipped policy)",
                "master_scale": path_param(master_scale_path) or "(shipped master scale)",
                "overlay": path_param(overlay_path) or "(shipped overlay)",
                "example": path_param(example_path)})
            tick = time.perf_counter()
            info = mlflow.pyfunc.log_model(
                name=ARTIFACT_NAME, python_model=str(MODEL_CODE_PATH),
                artifacts={PD_MODEL_ARTIFACT: str(pd_dir)}, code_paths=[str(code)],
                model_config=config, signature=engine_signature(),
                input_example=(model_input([payload]), params),
                pip_requirements=pip_requirements(), tags=versions,
            )
            timings["log"] = time.perf_counter() - tick
            tick = time.perf_counter()
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=info.model_uri, dst_path=str(work / "logged")))
            serving_input = mlflow.models.Model.load(str(local)).get_serving_input(str(local))
            checks, notes = _checks(local, serving_input, engine, payload, params)
            timings["check"] = time.perf_counter() - tick
            passed = all(checks.values())
            mlflow.set_tags({f"check.{k}": str(v).lower() for k, v in checks.items()}
                            | {"checks_passed": str(passed).lower()})
            if not passed:
                failed = [k for k, v in checks.items() if not v]
                raise ModelArtifactError(
                    f"the logged engine {info.model_uri} failed its checks {failed} "
                    f"({'; '.join(notes)}); it was not registered and the champion is "
                    "unchanged. Fix the cause and publish again.")
            version = alias_uri = None
            if register:
                tick = time.perf_counter()
                mv = mlflow.register_model(info.model_uri, name, tags=versions)
                version = str(mv.version)
                client = get_client(uri)
                describe_registered_model(client, name)
                client.update_model_version(name, version, description=(
                    f"{MODEL_DESCRIPTIONS.get(name, name)} Model {versions.get('model_version')}"
                    f", policy {versions.get('policy_version')}; checks passed in run "
                    f"{run.info.run_id}."))
                client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
                alias_uri = f"models:/{name}@{CHAMPION_ALIAS}"
                timings["register"] = time.perf_counter() - tick
            return PublishedEngine(info.model_uri, run.info.run_id, str(info.model_id),
                                   version, alias_uri, checks, versions, timings)


def publish_command(args: argparse.Namespace) -> int:
    """``riskengine publish``: log, check and register the engine; print a summary.

    Flags (all optional): ``--tracking-uri``, ``--model-dir``, ``--policy``,
    ``--master-scale``, ``--overlay``, ``--no-register``.
    """
    from riskengine.io.console import progress, set_result

    with progress(None, "publish: MLflow logging, checks and registration", unit=""):
        res = log_engine_model(
            getattr(args, "tracking_uri", None), getattr(args, "model_dir", None),
            register=not getattr(args, "no_register", False),
            policy_path=getattr(args, "policy", None),
            master_scale_path=getattr(args, "master_scale", None),
            overlay_path=getattr(args, "overlay", None))
    result = {"model_uri": res.model_uri, "run_id": res.run_id,
              "registered_version": res.version, "alias": res.alias_uri,
              "checks": res.checks, "versions": res.versions,
              "timings_s": {k: round(v, 3) for k, v in res.timings_s.items()}}
    set_result(args, result)
    print(json.dumps(result, indent=2))
    if res.alias_uri:
        print(f"serve it: MLFLOW_TRACKING_URI="
              f"{resolve_tracking_uri(getattr(args, 'tracking_uri', None))} "
              f"mlflow models serve -m {res.alias_uri} --env-manager local")
    return 0
