"""Versioned configuration shipped with riskengine (package data) and its loaders.

``master_scale.toml`` -> :func:`load_master_scale`.
``policy.toml`` -> :func:`load_policy`.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from riskengine.errors import PolicyError
from riskengine.model.master_scale import MasterScale
from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["load_master_scale", "load_policy"]


def load_master_scale(path: str | Path | None = None) -> MasterScale:
    """Read and validate a master-scale TOML file.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; default the shipped ``riskengine/config/master_scale.toml``.

    Returns
    -------
    MasterScale

    Raises
    ------
    PolicyError
        The file is missing, is not valid TOML, or breaks an invariant of the
        scale (the error's ``key`` names the entry).
    """
    try:
        if path is None:
            text = resources.files("riskengine.config").joinpath("master_scale.toml").read_text(
                encoding="utf-8"
            )
            source = "riskengine/config/master_scale.toml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            source = str(path)
    except OSError as exc:
        raise PolicyError(
            f"master scale file {path!s} cannot be read ({exc}); give the path of a "
            "master_scale.toml or omit it to use the shipped scale.", key=""
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"master scale file {source} is not valid TOML: {exc}", key="") from exc
    return MasterScale.from_dict(data)


def load_policy(path: str | Path | None = None) -> CreditPolicy:
    """Read and validate a credit policy TOML file.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; default the shipped ``riskengine/config/policy.toml``.

    Returns
    -------
    CreditPolicy

    Raises
    ------
    PolicyError
        The file is missing, is not valid TOML, or breaks an invariant of the
        policy (the error's ``key`` names the entry, e.g. ``cover.indemnity``).

    Examples
    --------
    >>> load_policy().limits.notice_days
    30
    """
    try:
        if path is None:
            text = resources.files("riskengine.config").joinpath("policy.toml").read_text(
                encoding="utf-8"
            )
            source = "riskengine/config/policy.toml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            source = str(path)
    except OSError as exc:
        raise PolicyError(
            f"policy file {path!s} cannot be read ({exc}); give the path of a "
            "policy.toml or omit it to use the shipped policy.", key=""
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {source} is not valid TOML: {exc}", key="") from exc
    return CreditPolicy.from_dict(data)
