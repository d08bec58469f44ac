"""MLflow tracking and model registry for the PD model (shell).

- **Store**: ``sqlite:///<home>/mlruns/mlflow.db`` by default, where ``<home>`` is the
  data directory (``$RISKENGINE_HOME``, else the working directory:
  :func:`riskengine.io.locations.home`; never the installed package's directory),
  always set explicitly (MLflow's own default, ``./mlruns`` as a file store, raises
  since MLflow 3.13). ``MLFLOW_TRACKING_URI``
  overrides the default; an explicit ``tracking_uri`` argument overrides both.
  Run artifacts of experiments created here go to ``<db dir>/artifacts`` (an
  absolute ``file://`` location), never to the working directory.
  ``/mlruns/`` is git-ignored.
- **Runs**: :func:`log_training_run` logs parameters, metrics, the training data
  hash, tags and artifact files/directories (the skops model, its metadata, the
  validation report) in one finished run.
- **Registry**: :func:`register_model_version` registers a run artifact as a new
  version; :func:`promote_if_better` moves the alias ``champion`` (registry
  aliases, not the deprecated stages) only when the new version beats the
  current champion on validation AUC and has no calibration failure.
- **As MLflow's users expect** (issue 18): every experiment made or used here declares
  its kind (tag ``mlflow.experimentKind`` = ``custom_model_development``: MLflow 3's UI
  opens its runs as classic ML runs, not as GenAI evaluations) and carries a
  description (``mlflow.note.content``); registered models and their versions carry
  descriptions (:data:`MODEL_DESCRIPTIONS`); parameters that name files hold resolved
  absolute paths (:func:`path_param`).

MLflow is pinned to 3.17.2 everywhere (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_MODEL_NAME",
    "CHAMPION_ALIAS",
    "default_tracking_uri",
    "resolve_tracking_uri",
    "get_client",
    "get_or_create_experiment",
    "log_training_run",
    "register_model_version",
    "champion",
    "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG",
    "EXPERIMENT_DESCRIPTIONS",
    "MODEL_DESCRIPTIONS",
    "describe_registered_model",
    "path_param",
    "PromotionDecision",
    "promote_if_better",
]

#: The tracking store's directory under the data directory (riskengine.io.locations.home).
DEFAULT_STORE_DIR = "mlruns"
DEFAULT_EXPERIMENT = "riskengine-pd"
DEFAULT_MODEL_NAME = "riskengine-pd"
CHAMPION_ALIAS = "champion"

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
"""The experiment tag MLflow 3's UI reads to open runs as classic ML or as GenAI."""
EXPERIMENT_KIND = "custom_model_development"
"""Classic (non-GenAI) model development: every riskengine experiment."""
_NOTE_TAG = "mlflow.note.content"  # MLflow's description of an experiment, run or model

EXPERIMENT_DESCRIPTIONS: dict[str, str] = {
    "riskengine-pd": "PD model development on the shared data: training runs (parameters, "
                     "validation metrics, the skops model) and validation reports.",
    "riskengine-pd-book": "PD models fitted on a factoring book's own history "
                          "(riskengine train --portfolio).",
    "riskengine-engine": "The whole decision engine (PD model, policy, overlay) logged as a "
                         "pyfunc model by riskengine publish, with its checks.",
    "riskengine-rerate": "Portfolio re-rating runs (riskengine rerate): figures, outputs and "
                         "the inputs' hash of each run.",
}
"""Description of each experiment riskengine logs to (others get a generic one)."""

MODEL_DESCRIPTIONS: dict[str, str] = {
    "riskengine-pd": "Probability-of-default model of riskengine trained on the shared "
                     "data; the champion alias marks the version the engine ships.",
    "riskengine-pd-book": "Probability-of-default model fitted on a factoring book's own "
                          "history (point-in-time snapshots, out-of-time validation).",
    "riskengine": "The riskengine decision engine as an MLflow pyfunc model: a debtor "
                  "payload in, its rating, limit, cover and funding terms out.",
}
"""Description of each registered model riskengine registers."""
AUC_TAG = "val_auc"
CALIBRATION_TAG = "calibration_ok"
_PARAM_MAX = 6000  # MLflow's limit on a parameter value


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<home>/mlruns/mlflow.db``, the data
    directory :func:`riskengine.io.locations.home` (``$RISKENGINE_HOME``, else the working
    directory)."""
    from riskengine.io.locations import home

    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(home() / DEFAULT_STORE_DIR / 'mlflow.db').as_posix()}"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The URI to use: the explicit argument, else :func:`default_tracking_uri`.

    For a ``sqlite:///`` URI the database's directory is created.
    """
    uri = tracking_uri or default_tracking_uri()
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return uri


def _sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return Path(uri[len(prefix):].split("?")[0])  # sqlite:////abs/path or sqlite:///relative


def get_client(tracking_uri: str | None = None) -> MlflowClient:
    """An ``MlflowClient`` on the resolved tracking URI (registry on the same store)."""
    uri = resolve_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _artifact_root(uri: str) -> str | None:
    db = _sqlite_path(uri)
    return (db.parent / "artifacts").resolve().as_uri() if db is not None else None


def get_or_create_experiment(
    name: str = DEFAULT_EXPERIMENT, *, tracking_uri: str | None = None
) -> str:
    """Id of the experiment ``name``, created (with an artifact root beside the
    sqlite database) when it does not exist."""
    uri = resolve_tracking_uri(tracking_uri)
    client = get_client(uri)
    exp = client.get_experiment_by_name(name)
    wanted = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND,
              _NOTE_TAG: EXPERIMENT_DESCRIPTIONS.get(name, f"riskengine experiment {name}")}
    if exp is None:
        return str(client.create_experiment(name, artifact_location=_artifact_root(uri),
                                            tags=wanted))
    for key, value in wanted.items():  # an experiment made before issue 18: declared now
        if not exp.tags.get(key):
            client.set_experiment_tag(exp.experiment_id, key, value)
    return str(exp.experiment_id)


def path_param(path: str | os.PathLike[str] | None) -> str:
    """A path as a run parameter: resolved and absolute ("" for none), so a run says which
    file it read whatever the working directory was."""
    if path is None or str(path) == "":
        return ""
    return str(Path(path).expanduser().resolve())


def describe_registered_model(client: MlflowClient, name: str) -> None:
    """Give the registered model ``name`` its description (:data:`MODEL_DESCRIPTIONS`)
    when it has none."""
    model = client.get_registered_model(name)
    if not model.description:
        client.update_registered_model(
            name, description=MODEL_DESCRIPTIONS.get(name, f"riskengine model {name}"))


def log_training_run(
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts: Mapping[str, str | Path],
    data_hash: str,
    tags: Mapping[str, str] | None = None,
    *,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Log one finished training run and return its run id.

    Parameters
    ----------
    params : mapping
        Hyper-parameters and settings (values are stringified; MLflow keeps up
        to 6000 characters).
    metrics : mapping of str to float
        Validation figures (``None`` values are skipped; NaN is logged as NaN).
    artifacts : mapping of str to path
        ``{artifact_dir: local_path}``: a file is logged under ``artifact_dir/``,
        a directory's content likewise (e.g. ``{"model": "models/pd_model.skops",
        "report": "out/validation"}``).
    data_hash : str
        sha256 of the training data; logged as parameter ``data_hash`` and tag
        ``data_sha256``.
    tags : mapping of str to str, optional
    experiment : str, default "riskengine-pd"
    run_name : str, optional
    tracking_uri : str, optional
        Default :func:`default_tracking_uri`.

    Returns
    -------
    str
        The run id. The run is marked ``FINISHED`` (``FAILED`` if logging raised).
    """
    uri = resolve_tracking_uri(tracking_uri)
    client = get_client(uri)
    exp_id = get_or_create_experiment(experiment, tracking_uri=uri)
    all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    all_tags["data_sha256"] = data_hash
    run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    run_id = str(run.info.run_id)
    try:
        p = [Param(str(k), str(v)[:_PARAM_MAX]) for k, v in params.items()]
        p.append(Param("data_hash", data_hash))
        ts = int(run.info.start_time)
        m = [Metric(str(k), float(v), ts, 0) for k, v in metrics.items() if v is not None]
        client.log_batch(run_id, metrics=m, params=p, tags=[RunTag(k, v) for k, v in
                                                            all_tags.items()])
        for name, local in artifacts.items():
            path = Path(local)
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=name)
            elif path.is_file():
                client.log_artifact(run_id, str(path), artifact_path=name)
            else:
                raise FileNotFoundError(f"artifact {name!r}: {path} does not exist")
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id


def register_model_version(
    name: str,
    run_id: str,
    artifact_path: str,
    *,
    val_auc: float | None = None,
    calibration_ok: bool | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Register the run artifact ``runs:/<run_id>/<artifact_path>`` as a new version.

    Parameters
    ----------
    name : str
        Registered model name (created if absent), e.g. ``"riskengine-pd"``.
    run_id, artifact_path : str
        The run and the artifact directory logged by :func:`log_training_run`.
    val_auc, calibration_ok : optional
        Recorded as version tags ``val_auc`` / ``calibration_ok`` (read by
        :func:`promote_if_better`).
    tags, tracking_uri : optional
    description : str, optional
        The version's description; default one naming the run and the validation AUC.

    Returns
    -------
    str
        The new version number.
    """
    client = get_client(tracking_uri)
    try:
        client.create_registered_model(
            name, description=MODEL_DESCRIPTIONS.get(name, f"riskengine model {name}"))
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
        describe_registered_model(client, name)
    vtags = {str(k): str(v) for k, v in (tags or {}).items()}
    if val_auc is not None:
        vtags[AUC_TAG] = repr(float(val_auc))
    if calibration_ok is not None:
        vtags[CALIBRATION_TAG] = str(bool(calibration_ok)).lower()
    if description is None:
        auc = "n/a" if val_auc is None else f"{float(val_auc):.4f}"
        description = f"{name} from run {run_id}, validation AUC {auc}"
    mv = client.create_model_version(
        name, source=f"runs:/{run_id}/{artifact_path}", run_id=run_id, tags=vtags,
        description=description, await_creation_for=0,
    )
    return str(mv.version)


def champion(name: str, *, tracking_uri: str | None = None) -> tuple[str, float] | None:
    """``(version, val_auc)`` of the version holding the alias ``champion``, or None.

    A champion without a readable ``val_auc`` tag counts as AUC NaN (any new
    version with a finite AUC beats it).
    """
    client = get_client(tracking_uri)
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None
    try:
        value = float(mv.tags.get(AUC_TAG, "nan"))
    except ValueError:
        value = float("nan")
    return str(mv.version), value


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    """Outcome of :func:`promote_if_better`: whether ``champion`` moved, and why."""

    promoted: bool
    version: str
    new_auc: float
    previous_version: str | None
    previous_auc: float | None
    reason: str


def promote_if_better(
    name: str,
    version: str,
    new_auc: float,
    calibration_ok: bool,
    *,
    tracking_uri: str | None = None,
) -> PromotionDecision:
    """Move the alias ``champion`` to ``version`` only if it beats the current champion.

    Rules: a version with a calibration failure is never promoted; with no
    champion yet, a calibrated version with a finite AUC becomes champion;
    otherwise the new validation AUC must be strictly greater than the
    champion's (its ``val_auc`` tag). The version's ``val_auc`` and
    ``calibration_ok`` tags are written in every case, so the next comparison
    reads them.

    Returns
    -------
    PromotionDecision
    """
    client = get_client(tracking_uri)
    auc = float(new_auc)
    client.set_model_version_tag(name, str(version), AUC_TAG, repr(auc))
    client.set_model_version_tag(name, str(version), CALIBRATION_TAG,
                                 str(bool(calibration_ok)).lower())
    current = champion(name, tracking_uri=tracking_uri)
    prev_v, prev_auc = current if current is not None else (None, None)

    def decide(promoted: bool, reason: str) -> PromotionDecision:
        if promoted:
            client.set_registered_model_alias(name, CHAMPION_ALIAS, str(version))
        return PromotionDecision(promoted, str(version), auc, prev_v, prev_auc, reason)

    if not calibration_ok:
        return decide(False, f"version {version} failed calibration; champion unchanged")
    if not math.isfinite(auc):
        return decide(False, f"version {version} has no finite validation AUC ({auc!r})")
    if prev_v is None:
        return decide(True, f"no champion yet; version {version} (AUC {auc:.4f}) promoted")
    if prev_v == str(version):
        return decide(False, f"version {version} already holds the champion alias")
    assert prev_auc is not None
    if math.isnan(prev_auc) or auc > prev_auc:
        return decide(True, f"AUC {auc:.4f} beats champion v{prev_v} ({prev_auc:.4f})")
    return decide(False, f"AUC {auc:.4f} does not beat champion v{prev_v} ({prev_auc:.4f})")
