"""The credit policy: limits, insurance cover, advance rate, fees, funding, portfolio.

Pure, vectorised functions over numpy arrays driven by a validated
:class:`CreditPolicy` (read by :func:`riskengine.config.load_policy` from the
versioned ``policy.toml``). ``docs/POLICY.md`` is the credit committee's reading.
"""

from __future__ import annotations

from riskengine.policy.cover import CoverFigures, expected_loss, insurance_cover, retained_exposure
from riskengine.policy.credit_policy import CreditPolicy, GradeTable
from riskengine.policy.funding import (
    FUNDING_REASONS,
    FundingBatch,
    FundingResult,
    cross_aged,
    fund_invoice,
    fund_invoices,
)
from riskengine.policy.limits import (
    DECISIONS,
    REASONS,
    LimitChanges,
    LimitDecision,
    LimitDecisions,
    adverse_knockout,
    capacity,
    decide_limit,
    decide_limits,
    limit_change,
    reason_codes,
    requested_limit,
)
from riskengine.policy.portfolio import (
    PortfolioFigures,
    capital_tied_in_receivables,
    doubtful_debt_reserve,
    hhi,
    portfolio_figures,
    top_concentrations,
)
from riskengine.policy.pricing import (
    Fees,
    Settlement,
    advance_rate,
    fee_rates,
    fees,
    pricing_grade,
    settlement,
)

__all__ = [
    "CreditPolicy", "GradeTable",
    "REASONS", "DECISIONS", "reason_codes", "requested_limit", "capacity", "adverse_knockout",
    "LimitDecisions", "LimitDecision", "decide_limits", "decide_limit", "LimitChanges",
    "limit_change",
    "CoverFigures", "insurance_cover", "retained_exposure", "expected_loss",
    "pricing_grade", "advance_rate", "fee_rates", "Fees", "fees", "Settlement", "settlement",
    "FUNDING_REASONS", "cross_aged", "FundingBatch", "FundingResult", "fund_invoices",
    "fund_invoice",
    "PortfolioFigures", "portfolio_figures", "hhi", "top_concentrations",
    "doubtful_debt_reserve", "capital_tied_in_receivables",
]
