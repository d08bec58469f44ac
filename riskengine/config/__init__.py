"""Versioned configuration shipped with riskengine (package data) and its loaders.

``master_scale.toml`` -> :func:`load_master_scale`.
``policy.toml`` -> :func:`load_policy`.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from riskengine.errors import PolicyError
from riskengine.model.master_scale import MasterScale
from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["load_master_scale", "load_policy", "read_config_toml"]


def read_config_toml(name: str, path: str | Path | None, what: str) -> dict[str, Any]:
    """The parsed TOML of a configuration file: ``path``, or the shipped ``name``.

    Parameters
    ----------
    name : str
        File name of the shipped default in ``riskengine/config/``.
    path : str or Path, optional
        A reviewed file to use instead of the shipped one.
    what : str
        What the file is, for messages (e.g. ``"policy"``).

    Raises
    ------
    PolicyError
        The file cannot be read or is not valid TOML.
    """
    try:
        if path is None:
            text = resources.files("riskengine.config").joinpath(name).read_text(encoding="utf-8")
            source = f"riskengine/config/{name}"
        else:
            text = Path(path).read_text(encoding="utf-8")
            source = str(path)
    except OSError as exc:
        raise PolicyError(
            f"{what} file {path!s} cannot be read ({exc}); give the path of a "
            f"{name} or omit it to use the shipped {what}.", key=""
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{what} file {source} is not valid TOML: {exc}", key="") from exc


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
    return MasterScale.from_dict(read_config_toml("master_scale.toml", path, "master scale"))


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
    return CreditPolicy.from_dict(read_config_toml("policy.toml", path, "policy"))
