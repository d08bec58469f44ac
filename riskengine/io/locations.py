"""Where riskengine finds what it ships and where it keeps what it writes (shell).

**Shipped files** (read-only, package data read through :mod:`importlib.resources`):

- the champion PD model (``pd_model.skops``, its ``.json`` sidecar, ``MODEL_CARD.md``):
  package ``riskengine._models``;
- the example payload (``debtor.json``, ``debtor.schema.json``): package
  ``riskengine._examples``.

The repository keeps them at the top (``models/``, ``examples/``); ``setup.py`` maps
those directories into the package when a wheel is built (``package_dir``), so one copy
is committed and the installed package carries them. Run from a source checkout
without an install (``PYTHONPATH=.``), the two packages do not exist and the
repository's directories are read instead (:func:`shipped_dir`).

**Written files** (default stores): the data directory :func:`home` is
``$RISKENGINE_HOME`` when set, else the working directory; never the installed
package's directory. The decision store defaults to ``<home>/riskengine.db``
(:func:`riskengine.store.database.default_store_url`), the MLflow tracking store to
``<home>/mlruns/mlflow.db`` (:func:`riskengine.tracking.runs.default_tracking_uri`);
``$RISKENGINE_STORE_URL`` and ``$MLFLOW_TRACKING_URI`` override them.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

__all__ = ["HOME_ENV", "home", "shipped_dir", "shipped_file", "example_payload_path"]

#: Environment variable naming the data directory of the default stores.
HOME_ENV = "RISKENGINE_HOME"

#: Shipped data: package name -> the repository directory it is built from.
_SHIPPED: dict[str, str] = {"riskengine._models": "models", "riskengine._examples": "examples"}
_REPOSITORY = Path(__file__).resolve().parents[2]


def home() -> Path:
    """The data directory of the default stores: ``$RISKENGINE_HOME``, else the working
    directory (absolute, not created here)."""
    env = os.environ.get(HOME_ENV, "").strip()
    return Path(env).expanduser().resolve() if env else Path.cwd()


def shipped_dir(package: str) -> Path:
    """The directory holding a shipped package's data files.

    Parameters
    ----------
    package : str
        ``"riskengine._models"`` or ``"riskengine._examples"``.

    Returns
    -------
    Path
        The installed package's directory (importlib.resources), or in a source
        checkout without an install, the repository directory it is built from.
    """
    if package not in _SHIPPED:
        raise KeyError(f"{package!r} is not shipped data; one of {sorted(_SHIPPED)}")
    if find_spec(package) is not None:
        root = resources.files(package)
        # a directory on disk for an unpacked install (wheels install unpacked); skops
        # and the sha256 check read files by path
        for entry in root.iterdir():
            return Path(str(entry)).parent
    return _REPOSITORY / _SHIPPED[package]


def shipped_file(package: str, name: str) -> Path:
    """A shipped data file's path (:func:`shipped_dir`)."""
    return shipped_dir(package) / name


def example_payload_path() -> Path:
    """The shipped example payload, ``debtor.json``."""
    return shipped_file("riskengine._examples", "debtor.json")
