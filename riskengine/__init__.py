"""riskengine: credit risk scoring and limit engine for factoring and credit insurance.

Debtor records in (financial statements, adverse payment records, payment
behaviour, concentration), a rating (calibrated 12-month PD on a master scale),
a debtor limit and insurance cover out.
"""

from __future__ import annotations

from typing import Any

from riskengine.errors import InvalidInputError, ModelArtifactError, PolicyError, RiskEngineError

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "RiskEngineError",
    "InvalidInputError",
    "ModelArtifactError",
    "PolicyError",
    "Engine",
    "load_engine",
    "score",
    "Decision",
]

# The engine pulls in pandas and scikit-learn: imported on first use (PEP 562), so
# that ``import riskengine`` stays light for the command line and the service.
_LAZY = {"Engine": "riskengine.scoring.engine", "load_engine": "riskengine.api",
         "score": "riskengine.api", "Decision": "riskengine.contracts.decision"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'riskengine' has no attribute {name!r}")
