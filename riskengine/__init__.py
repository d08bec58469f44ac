"""riskengine: credit risk scoring and limit engine for factoring and credit insurance.

Debtor records in (financial statements, adverse payment records, payment
behaviour, concentration), a rating (calibrated 12-month PD on a master scale),
a debtor limit and insurance cover out.
"""

from __future__ import annotations

from riskengine.errors import InvalidInputError, ModelArtifactError, PolicyError, RiskEngineError

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "RiskEngineError",
    "InvalidInputError",
    "ModelArtifactError",
    "PolicyError",
]
