"""How the memo says things: plain words for grades, constraints and events, the rows
of its tables, and numbers as text."""

from __future__ import annotations

import math
from typing import Any

#: Plain words for each grade (Allianz Trade's 1-10 meanings, DOMAIN.md §4; committee wording).
GRADE_WORDS: dict[str, str] = {
    "1": "exceptional", "2": "excellent", "3": "very good", "4": "good", "5": "average",
    "6": "below average", "7": "weak", "8": "very weak", "9": "at risk of failure",
    "10": "at risk of failure", "D": "default",
}

#: Ratio table rows: feature, label, format (``pct``, ``x``, ``days``).
RATIO_ROWS: tuple[tuple[str, str, str], ...] = (
    ("st_gross_margin", "Gross margin", "pct"),
    ("st_ebitda_margin", "EBITDA margin", "pct"),
    ("st_net_margin", "Net margin", "pct"),
    ("st_roa", "Return on assets", "pct"),
    ("st_revenue_growth_1y", "Revenue growth", "pct"),
    ("st_liabilities_to_assets", "Liabilities / assets", "pct"),
    ("st_liabilities_to_equity", "Liabilities / equity", "x"),
    ("st_interest_coverage", "Interest cover (EBITDA / interest)", "x"),
    ("st_current_ratio", "Current ratio", "x"),
    ("st_quick_ratio", "Quick ratio", "x"),
    ("st_receivable_days", "Receivable days", "days"),
    ("st_inventory_days", "Inventory days", "days"),
    ("st_altman_z2", "Altman Z''", "x"),
)
#: Statement amounts shown above the ratios (thousands of the statement currency).
AMOUNT_ROWS: tuple[tuple[str, str], ...] = (
    ("revenue", "Revenue"), ("ebitda", "EBITDA"), ("net_income", "Net income"),
    ("total_assets", "Total assets"), ("equity", "Equity"),
)
#: Ratios placed against the debtor's NACE section.
SECTOR_RATIOS: tuple[str, ...] = (
    "st_ebitda_margin", "st_roa", "st_liabilities_to_assets", "st_interest_coverage",
    "st_current_ratio", "st_quick_ratio", "st_receivable_days", "st_altman_z2",
)

#: Binding constraints, knock-outs and limit notes in plain words.
CONSTRAINT_WORDS: dict[str, str] = {
    "requested": "the amount the supplier asked for",
    "capacity": "the debtor's capacity (share of its net worth and turnover for the grade)",
    "ledger_cap": "the cap on one debtor's share of the supplier's receivables ledger",
    "group_cap": "the large-exposure cap on the connected group (CRR art. 395)",
    "sector_cap": "the cap on one sector's share of the book",
    "insurer_cover": "the credit insurer's limit on the debtor",
    "adverse_record": "a serious, recent and significant adverse record",
    "insolvency": "an open bankruptcy filing or insolvency declaration",
    "related_party": "supplier and debtor are related parties (intra-group receivables)",
    "grade_default": "the debtor is in default (grade D)",
    "supplier_default": "the supplier is in default",
    "negative_equity": "equity is zero or negative: no capacity from net worth",
    "non_positive_profit": "no declared profit on the tax return",
    "tax_return_haircut": "capacity cut because only tax returns are available",
    "no_financials": "no usable financial statements: the predetermined minimum limit",
    "missing_data": "data needed for the limit is missing",
    "no_insurer_appetite": "the insurer does not cover this grade",
    "below_rounding_unit": "the limit is below the rounding unit",
    "nothing_requested": "nothing was requested",
    "statements_converted": "the statements, in another currency, converted at the "
                            "decision date's rate",
    "ledger_converted": "the supplier's ledger, in another currency, converted at the "
                        "decision date's rate",
    "book_currency_mismatch": "left out of the book's totals: no rate into the reporting "
                              "currency",
    "unrated": "the debtor could not be rated",
    "size_not_converted": "size (total assets, revenue) left out of the rating: no rate "
                          "into the model's money unit on the decision date",
}
_DECISION_WORDS = {"full": "approved in full", "partial": "partly approved",
                   "refused": "refused", "unrated": "not rated"}
_EVENT_WORDS = {
    "bounced_cheque": "bounced cheque", "payment_order": "payment order",
    "unpaid_bill_of_exchange": "unpaid bill of exchange",
    "bankruptcy_filing": "bankruptcy filing", "insolvency_declared": "insolvency declared",
    "auction": "auction", "seizure": "seizure",
    "mortgage_prenotation": "mortgage pre-notation (not adverse)",
    "tax_debt": "tax debt", "social_security_debt": "social-security debt",
}


# --- formatting --------------------------------------------------------------------


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_pd(p: Any) -> str:
    """A PD as a percentage: two decimals, three below 0.1 %.

    Examples
    --------
    >>> fmt_pd(0.02110001), fmt_pd(0.00052), fmt_pd(None)
    ('2.11 %', '0.052 %', 'n/a')
    """
    v = _num(p)
    if v is None:
        return "n/a"
    return f"{v * 100:.3f} %" if v < 0.001 else f"{v * 100:.2f} %"


def fmt_money(x: Any, currency: str = "") -> str:
    """Whole units with thousands separators and the currency.

    Examples
    --------
    >>> fmt_money(350000.0, "EUR"), fmt_money(None)
    ('350,000 EUR', 'n/a')
    """
    v = _num(x)
    if v is None:
        return "n/a"
    return f"{v:,.0f} {currency}".rstrip()


def fmt_pct(x: Any, decimals: int = 1) -> str:
    """A fraction as a percentage.

    Examples
    --------
    >>> fmt_pct(0.79391745), fmt_pct(0.025, 2)
    ('79.4 %', '2.50 %')
    """
    v = _num(x)
    return "n/a" if v is None else f"{v * 100:.{decimals}f} %"


def _fmt(x: Any, kind: str) -> str:
    v = _num(x)
    if v is None:
        return "–"
    if kind == "pct":
        return f"{v * 100:.1f} %"
    if kind == "days":
        return f"{v:.0f}"
    if kind == "k":
        return f"{v / 1000:,.0f}"
    return f"{v:.2f}"
