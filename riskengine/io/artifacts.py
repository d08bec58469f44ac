"""Model artifacts on disk: skops files with a sha256-checked metadata sidecar (shell).

``save_skops(obj, "models/pd_model.skops", metadata)`` writes

- ``models/pd_model.skops`` — the fitted object in the skops format (no pickle);
- ``models/pd_model.skops.json`` — the caller's metadata (feature list, data
  hash, metrics, ``created_at`` …) plus ``sha256`` of the skops file, its size,
  and the library versions that wrote it.

``load_skops`` refuses to load unless the file's sha256 equals the one recorded
in the metadata, and unless every type skops does not trust by default is in
:data:`TRUSTED_TYPES` (kept here, in our code, reviewed like code; never
``trusted=True``). The list was built by running
``skops.io.get_untrusted_types`` on the fitted objects riskengine ships
(HistGradientBoostingClassifier with monotone constraints and early stopping,
Pipelines of SimpleImputer/StandardScaler/LogisticRegression, ColumnTransformer,
IsotonicRegression, the calibrators in :mod:`riskengine.model.calibration`); the
scikit-learn and numpy types that skops already trusts need no entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from collections.abc import Iterable, Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import skops.io as sio

from riskengine.errors import ModelArtifactError

if TYPE_CHECKING:  # pragma: no cover
    from riskengine.features.units import MoneyUnit
    from riskengine.model.pd_model import PDModel

__all__ = [
    "TRUSTED_TYPES",
    "save_skops",
    "load_skops",
    "read_metadata",
    "metadata_path",
    "file_sha256",
    "library_versions",
    "MODEL_DIR_ENV",
    "default_model_dir",
    "champion_path",
    "load_champion",
]

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # numpy: dtype objects inside fitted transformers (e.g. SimpleImputer, ColumnTransformer)
        "numpy.dtype",
        # scikit-learn internals skops does not trust by default
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # riskengine's own estimators and model containers
        "riskengine.model.calibration.PlattCalibrator",
        "riskengine.model.calibration.IsotonicCalibrator",
        "riskengine.model.pd_model.PDModel",
    }
)
"""Types loaded from a skops file on top of skops' own defaults. Extend it (with a
test on a real fitted object) when riskengine ships a new estimator type."""

_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pandas", "skops", "riskengine")


def metadata_path(path: str | Path) -> Path:
    """The metadata sidecar of an artifact: ``<path>.json``."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that define a model artifact."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"metadata value of type {type(value).__name__} is not JSON-serialisable")


def save_skops(obj: Any, path: str | Path, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``obj`` as a skops file and its metadata sidecar ``<path>.json``.

    Parameters
    ----------
    obj : object
        A fitted estimator (or container) whose types skops can persist.
    path : str or Path
        The artifact file, e.g. ``models/pd_model.skops``; parent directories are
        created.
    metadata : mapping
        The caller's metadata; must hold ``created_at`` (an ISO-8601 string: the
        shell reads the clock, not this function). Keys ``sha256``,
        ``size_bytes``, ``artifact``, ``format`` and ``library_versions`` are
        filled in here and override the caller's.

    Returns
    -------
    dict
        The metadata as written.

    Raises
    ------
    ValueError
        ``created_at`` is missing, or the metadata is not JSON-serialisable.
    ModelArtifactError
        skops cannot persist the object.
    """
    if "created_at" not in metadata:
        raise ValueError(
            "save_skops: metadata must hold 'created_at' (ISO-8601 string, e.g. "
            "datetime.now(UTC).isoformat()) so the artifact records when it was made."
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    try:
        sio.dump(obj, tmp)
    except Exception as exc:  # skops raises TypeError/others for unsupported objects
        tmp.unlink(missing_ok=True)
        raise ModelArtifactError(
            f"cannot write {target} with skops: {type(exc).__name__}: {exc}"
        ) from exc
    os.replace(tmp, target)
    meta: dict[str, Any] = dict(metadata)
    meta.update(
        {
            "artifact": target.name,
            "format": "skops",
            "sha256": file_sha256(target),
            "size_bytes": target.stat().st_size,
            "library_versions": library_versions(),
        }
    )
    text = json.dumps(meta, indent=2, sort_keys=True, default=_json_default)
    metadata_path(target).write_text(text + "\n", encoding="utf-8")
    return meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata sidecar of an artifact, as a dict.

    Raises
    ------
    ModelArtifactError
        The sidecar is missing or is not a JSON object.
    """
    mpath = metadata_path(path)
    if not mpath.is_file():
        raise ModelArtifactError(
            f"metadata file {mpath} is missing, so the sha256 of {Path(path).name} cannot be "
            "verified; restore it from the release (models/) or retrain with `riskengine train`."
        )
    try:
        meta = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelArtifactError(f"metadata file {mpath} is unreadable: {exc}") from exc
    if not isinstance(meta, dict):
        raise ModelArtifactError(f"metadata file {mpath} must hold a JSON object.")
    return meta


def load_skops(path: str | Path, *, extra_trusted: Iterable[str] = ()) -> Any:
    """Load a skops artifact after verifying its sha256 and its types.

    Parameters
    ----------
    path : str or Path
        The ``.skops`` file; its sidecar ``<path>.json`` must exist.
    extra_trusted : iterable of str, optional
        Further fully qualified type names to trust for this call only (for a
        caller-defined model container); prefer adding them to
        :data:`TRUSTED_TYPES` with a test.

    Returns
    -------
    object
        The loaded object.

    Raises
    ------
    ModelArtifactError
        The file or its metadata is missing, the sha256 does not match (the file
        was changed after it was written), the file holds a type that is not
        trusted, or skops cannot read it.
    """
    target = Path(path)
    if not target.is_file():
        raise ModelArtifactError(
            f"model artifact {target} not found; run `riskengine train` or point "
            "--model-dir at the directory holding it."
        )
    meta = read_metadata(target)
    expected = meta.get("sha256")
    if not isinstance(expected, str) or len(expected) != 64:
        raise ModelArtifactError(
            f"metadata {metadata_path(target)} has no valid 'sha256' entry; the artifact "
            "cannot be verified and is refused."
        )
    actual = file_sha256(target)
    if actual != expected:
        raise ModelArtifactError(
            f"sha256 mismatch for {target}: the metadata records {expected} but the file "
            f"hashes to {actual}. The artifact was modified or corrupted after it was "
            "written; it is refused. Restore the released file or retrain."
        )
    allowed = TRUSTED_TYPES | frozenset(extra_trusted)
    try:
        untrusted = sio.get_untrusted_types(file=target)
    except Exception as exc:
        raise ModelArtifactError(f"{target} is not a readable skops file: {exc}") from exc
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise ModelArtifactError(
            f"{target} holds untrusted type(s) {refused}; riskengine loads only the types in "
            "riskengine.io.artifacts.TRUSTED_TYPES. If the type is legitimate, review it and "
            "add it to that list with a test."
        )
    saved = meta.get("library_versions", {}).get("scikit-learn")
    running = library_versions()["scikit-learn"]
    if saved and saved != running:
        warnings.warn(
            f"{target} was written with scikit-learn {saved}; running {running}. "
            "Predictions may differ; retrain or pin scikit-learn.",
            stacklevel=2,
        )
    try:
        return sio.load(target, trusted=list(untrusted))
    except Exception as exc:
        raise ModelArtifactError(f"skops cannot load {target}: {type(exc).__name__}: {exc}") \
            from exc


# --- the champion PD model ------------------------------------------------------------

#: Environment variable overriding the default model directory.
MODEL_DIR_ENV = "RISKENGINE_MODEL_DIR"


def default_model_dir() -> Path:
    """``$RISKENGINE_MODEL_DIR``, else the shipped model: the installed package's data
    (``riskengine._models``), or the repository's ``models/`` in a source checkout
    (:func:`riskengine.io.locations.shipped_dir`)."""
    from riskengine.io.locations import shipped_dir

    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else shipped_dir("riskengine._models")


def champion_path(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the champion artifact in ``model_dir`` (default :func:`default_model_dir`)."""
    from riskengine.model.pd_model import ARTIFACT_NAME

    base = Path(model_dir) if model_dir is not None else default_model_dir()
    return base / ARTIFACT_NAME


def champion_money_unit(model_dir: str | os.PathLike[str] | None = None) -> MoneyUnit:
    """The money unit the champion in ``model_dir`` declares (its metadata's
    ``money_unit``); :class:`ModelArtifactError` naming the metadata file and the key when
    it declares none (:meth:`riskengine.features.units.MoneyUnit.from_metadata`)."""
    from riskengine.features.units import MoneyUnit

    path = champion_path(model_dir)
    return MoneyUnit.from_metadata(read_metadata(path), str(metadata_path(path)))


def load_champion(model_dir: str | os.PathLike[str] | None = None) -> PDModel:
    """The shipped champion PD model, loaded through its sha256-checked skops artifact.

    Parameters
    ----------
    model_dir : str or path-like, optional
        Directory holding ``pd_model.skops`` and its metadata. Default: env
        ``RISKENGINE_MODEL_DIR``, else the shipped model (:func:`default_model_dir`).

    Raises
    ------
    ModelArtifactError
        The artifact is missing, its sha256 does not match, or it is not a PDModel.
    """
    from riskengine.model.pd_model import PDModel

    path = champion_path(model_dir)
    obj = load_skops(path)
    model = obj[0] if isinstance(obj, tuple) else obj
    if not isinstance(model, PDModel):
        raise ModelArtifactError(
            f"{path} holds a {type(model).__name__}, not a PDModel. Retrain with "
            "`riskengine train` or point --model-dir at a PD model directory."
        )
    return model
