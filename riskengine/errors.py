"""The error hierarchy of riskengine.

Every error carries fields (``record``, ``column``, ``reason``) so that the
command line, the batch job and the HTTP service can report it as data, not
only as a sentence.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RiskEngineError",
    "InvalidInputError",
    "ModelArtifactError",
    "PolicyError",
    "RerateError",
    "StoreError",
]


class RiskEngineError(Exception):
    """Base class of every error riskengine raises on purpose."""


class InvalidInputError(RiskEngineError, ValueError):
    """Input records break a data contract.

    Parameters
    ----------
    message : str
        The whole sentence: what failed, for which record, the bad value and
        what to do.
    problems : list of dict, optional
        Every problem found (lazy validation), each a dict with the keys of
        :data:`riskengine.contracts.schemas.ERROR_COLUMNS`.
    """

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[dict[str, Any]] = list(problems or [])

    @property
    def first(self) -> dict[str, Any]:
        """The first problem, or an empty dict."""
        return self.problems[0] if self.problems else {}


class ModelArtifactError(RiskEngineError, RuntimeError):
    """A model artifact is missing, tampered with (sha256 mismatch) or unreadable."""


class PolicyError(RiskEngineError, ValueError):
    """A credit policy or master scale file is invalid.

    Parameters
    ----------
    message : str
        The sentence naming the bad key and value.
    key : str
        The dotted path of the offending key, e.g. ``"capacity.grades.7.tnw_pct"``.
    """

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class RerateError(RiskEngineError):
    """The re-rating run cannot complete correctly (e.g. debtors do not reconcile)."""


class StoreError(RiskEngineError):
    """The decision store cannot be opened, read or written: its directory is missing, it
    is read-only, its disk is full or its database does not answer (one line: the store
    and what is wrong; the command exits 2)."""
