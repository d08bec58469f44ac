"""Loading the engine and scoring one payload with the shipped engine (shell).

:func:`load_engine` reads the champion PD model (sha256-checked skops artifact,
:func:`riskengine.io.artifacts.load_champion`) and the policy, master-scale and
overlay TOML files (:mod:`riskengine.config`) and builds the pure
:class:`~riskengine.scoring.engine.Engine`; :func:`score` adds the clock (today, now)
to :meth:`~riskengine.scoring.engine.Engine.decide_one`. ``riskengine.load_engine`` and
``riskengine.score`` are these functions.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from riskengine.scoring.engine import Engine
from riskengine.scoring.overlay import Overlay

__all__ = ["MODEL_OVERLAY", "model_overlay_path", "load_overlay", "load_engine",
           "default_engine", "score"]

#: The overlay a model directory may carry (written by ``riskengine train --portfolio``).
MODEL_OVERLAY = "overlay.toml"


def model_overlay_path(model_dir: Any = None, overlay_path: Any = None) -> Any:
    """The overlay file an engine on ``model_dir`` uses.

    ``overlay_path`` when given; else the model directory's ``overlay.toml`` (the
    weights fitted with its PD model by ``riskengine train --portfolio``) when it has
    one; else None (the shipped overlay). ``model_dir`` None is the default model
    directory (:func:`riskengine.io.artifacts.default_model_dir`).
    """
    from pathlib import Path

    from riskengine.io.artifacts import default_model_dir

    if overlay_path is not None:
        return overlay_path
    base = Path(model_dir) if model_dir is not None else default_model_dir()
    own = base / MODEL_OVERLAY
    return own if own.is_file() else None


def load_overlay(path: Any = None) -> Overlay:
    """Read and validate an overlay TOML (default: the shipped ``overlay.toml``)."""
    from riskengine.config import read_config_toml

    return Overlay.from_dict(read_config_toml("overlay.toml", path, "overlay"))


def load_engine(model_dir: Any = None, policy_path: Any = None, *,
                master_scale_path: Any = None, overlay_path: Any = None,
                default_product: str = "non_recourse",
                factor_capital: float | None = None) -> Engine:
    """The engine on the shipped (or given) artifacts and configuration.

    The PD model is loaded through its sha256-checked skops artifact
    (:func:`riskengine.io.artifacts.load_champion`); a tampered artifact is
    refused with :class:`~riskengine.errors.ModelArtifactError`. When numba's cache
    of the compiled kernels is cold, they are all compiled here, and a terminal is
    told so in one line (:func:`riskengine.io.kernels.announce_cold_compile`).

    Parameters
    ----------
    model_dir : path-like, optional
        Directory of ``pd_model.skops`` (default: ``RISKENGINE_MODEL_DIR`` or ``models/``);
        its ``overlay.toml``, when present, is the overlay (:func:`model_overlay_path`).
    policy_path, master_scale_path, overlay_path : path-like, optional
        TOML files; default the shipped ones (the overlay: the model directory's first).
    default_product : str
    factor_capital : float, optional
        The factor's eligible capital (``--factor-capital``); default the policy's
        ``book.factor_capital``.
    """
    from riskengine.config import load_master_scale, load_policy
    from riskengine.io.artifacts import (
        champion_money_unit,
        champion_path,
        load_champion,
        read_metadata,
    )
    from riskengine.io.kernels import announce_cold_compile, warm

    cold = announce_cold_compile()  # one line on a terminal; compiled below, all at once
    model = load_champion(model_dir)
    meta = read_metadata(champion_path(model_dir))
    unit = champion_money_unit(model_dir)
    version = f"pd_model@{str(meta.get('sha256', ''))[:12]}"
    engine = Engine(model, load_master_scale(master_scale_path), load_policy(policy_path),
                    overlay=load_overlay(model_overlay_path(model_dir, overlay_path)),
                    model_version=version,
                    default_product=default_product, factor_capital=factor_capital,
                    money_unit=unit)
    if cold:
        warm(engine)
    return engine


@dataclass
class _Default:
    engine: Engine | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_DEFAULT = _Default()


def default_engine() -> Engine:
    """The engine on the shipped artifacts, loaded once per process."""
    with _DEFAULT.lock:
        if _DEFAULT.engine is None:
            _DEFAULT.engine = load_engine()
    return _DEFAULT.engine


def score(payload: dict[str, Any], *, as_of: Any = None, decided_at: str | None = None,
          reference_date: Any = None) -> dict[str, Any]:
    """Score one debtor payload with the shipped engine (loaded once and cached).

    Parameters
    ----------
    payload : dict
        One debtor's records (``examples/debtor.json``; schema
        ``examples/debtor.schema.json``).
    as_of : date-like, optional
        Decision date when the payload has none; default today.
    decided_at : str, optional
        Timestamp recorded in the decision; default now (RFC 3339, UTC, ``Z``).
    reference_date : date-like, optional
        Default today (UTC): a decision or a record dated after it is refused,
        as the HTTP service and ``riskengine score`` refuse it.

    Returns
    -------
    dict
        The decision (:meth:`riskengine.contracts.decision.Decision.to_dict`): ``pd``,
        ``grade``, limits, cover, fees, versions, ``input_hash``.

    Raises
    ------
    InvalidInputError
        The payload is invalid (field path named in the message and ``problems``),
        or it or one of its records is dated after ``reference_date``.
    """
    from riskengine.io.console import rfc3339

    now = dt.datetime.now(dt.UTC)
    if as_of is None and not (isinstance(payload, dict) and payload.get("as_of")):
        as_of = now.date().isoformat()
    stamp = decided_at if decided_at is not None else rfc3339(now)
    ref = reference_date if reference_date is not None else now.date().isoformat()
    return default_engine().decide_one(payload, as_of=as_of, decided_at=stamp,
                                       reference_date=ref)
