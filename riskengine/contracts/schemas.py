"""Data contracts: the declared columns of every input table.

A contract is data, not code: each table is a tuple of :class:`Column`
declarations (name, kind, nullability, allowed values, bounds). The checks
that apply them live in :mod:`riskengine.validation`; the feature pipelines
rely on frames that passed them.

Conventions
-----------
- Money is a float in the unit of the record's ``currency`` (ISO 4217 code).
  Ratios never mix currencies; amounts compared across tables (an adverse
  amount against revenue) are compared only within one currency.
- Dates are ``datetime64[ns]`` without time zone, at day resolution.
- Identifiers are strings in the grammar of :mod:`riskengine.contracts.ids` (columns
  declared ``identifier=True``).
- A PD is a fraction in [0, 1], never a percent; days are days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Column",
    "TableContract",
    "STATEMENT_TYPES",
    "STATEMENT_QUALITY_TIER",
    "ADVERSE_EVENT_TYPES",
    "ADVERSE_SEVERITY_TIER",
    "SERIOUS_EVENT_TYPES",
    "INSOLVENCY_EVENT_TYPES",
    "ADVERSE_STATUSES",
    "LEGAL_FORMS",
    "RELATION_TYPES",
    "SECTOR_OUTLOOKS",
    "GOODS_OR_SERVICES",
    "CURRENCIES",
    "LINE_ITEMS",
    "DEBTORS",
    "SUPPLIERS",
    "SUPPLIER_ASSESSMENT",
    "STATEMENTS",
    "ADVERSE_RECORDS",
    "INVOICES",
    "EXPOSURES",
    "RELATIONS",
    "INSURER_STATUSES",
    "INSURER_LIMITS",
    "DEFAULT_TYPES",
    "OUTCOMES",
    "CONTRACTS",
    "OPTIONAL_TABLES",
    "FX_RATES",
    "REFERENCE_TABLES",
    "ERROR_COLUMNS",
]

Kind = Literal["str", "float", "int", "date", "bool", "category"]


@dataclass(frozen=True, slots=True)
class Column:
    """One declared column.

    Parameters
    ----------
    name : str
        Column name.
    kind : {"str", "float", "int", "date", "bool", "category"}
        Logical type; ``category`` values must be in ``allowed``.
    nullable : bool
        Whether a missing value is acceptable.
    required : bool
        Whether the column must be present (an optional column may be absent
        and is then treated as all-missing).
    allowed : tuple of str
        Closed vocabulary for ``category`` columns.
    ge : float or None
        Inclusive lower bound for numeric columns.
    le : float or None
        Inclusive upper bound for numeric columns (a share: ``ge=0, le=1``).
    gt : float or None
        Exclusive lower bound for numeric columns (a rate is > 0).
    description : str
        What the column holds, with its unit.
    identifier : bool
        Whether the column holds ids, which must follow the id grammar of
        :mod:`riskengine.contracts.ids` (a ``str`` column).
    """

    name: str
    kind: Kind
    nullable: bool = False
    required: bool = True
    allowed: tuple[str, ...] = ()
    ge: float | None = None
    description: str = ""
    identifier: bool = False
    le: float | None = None
    gt: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "category" and not self.allowed:
            raise ValueError(f"Column {self.name!r}: a category column needs allowed values.")
        if self.identifier and self.kind != "str":
            raise ValueError(f"Column {self.name!r}: an identifier column is a str column.")


@dataclass(frozen=True, slots=True)
class TableContract:
    """The declared shape of one input table.

    Parameters
    ----------
    name : str
        Table name, also the file stem in a portfolio directory
        (``<name>.parquet``).
    columns : tuple of Column
        Declared columns, in canonical order.
    key : tuple of str
        Columns that identify one record; unique within the table.
    date_columns_not_future : tuple of str
        Date columns that may not lie after the reference (extraction) date.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_columns_not_future: tuple[str, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        """All declared column names, in order."""
        return tuple(c.name for c in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        """Names of the columns that must be present."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The declaration of column ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# --- closed vocabularies -------------------------------------------------------

#: Statement types, best quality first.
STATEMENT_TYPES: tuple[str, ...] = ("audited", "unaudited", "abbreviated", "tax_return")
#: Quality tier of a statement type: 1 best (audited) … 4 (tax return only).
STATEMENT_QUALITY_TIER: dict[str, int] = {t: i + 1 for i, t in enumerate(STATEMENT_TYPES)}

#: Adverse event types of an interbank register (Tiresias-style), closed vocabulary.
ADVERSE_EVENT_TYPES: tuple[str, ...] = (
    "bounced_cheque",
    "payment_order",
    "unpaid_bill_of_exchange",
    "bankruptcy_filing",
    "insolvency_declared",
    "auction",
    "seizure",
    "mortgage_prenotation",
    "tax_debt",
    "social_security_debt",
)
#: Severity tier by event type: 0 informative (never adverse on its own; seed 003:
#: a mortgage pre-notation in favour of a bank is not a reason to reject),
#: 1 moderate (public-sector arrears), 2 serious (seed 003: bounced cheques,
#: payment orders, unpaid bills), 3 enforcement (auctions, seizures),
#: 4 insolvency (default under CRR art. 178: unlikely to pay).
ADVERSE_SEVERITY_TIER: dict[str, int] = {
    "mortgage_prenotation": 0,
    "tax_debt": 1,
    "social_security_debt": 1,
    "bounced_cheque": 2,
    "payment_order": 2,
    "unpaid_bill_of_exchange": 2,
    "auction": 3,
    "seizure": 3,
    "bankruptcy_filing": 4,
    "insolvency_declared": 4,
}
#: The seed's serious records (seed 003): the knock-out test looks at these.
SERIOUS_EVENT_TYPES: tuple[str, ...] = ("bounced_cheque", "payment_order", "unpaid_bill_of_exchange")
#: Insolvency events: grade D (CRR art. 178 unlikeliness to pay).
INSOLVENCY_EVENT_TYPES: tuple[str, ...] = ("bankruptcy_filing", "insolvency_declared")
ADVERSE_STATUSES: tuple[str, ...] = ("open", "settled")

LEGAL_FORMS: tuple[str, ...] = (
    "public_limited",  # SA / AG / PLC
    "private_limited",  # Ltd / GmbH / EPE / IKE
    "partnership",  # OE / EE
    "sole_trader",
    "cooperative",
    "public_body",
    "other",
)
RELATION_TYPES: tuple[str, ...] = ("same_group", "subsidiary", "parent", "common_ownership", "other")
#: A supplier's sector condition and outlook (seed 003: a healthy firm in a troubled
#: sector with poor prospects is hard to approve as a supplier).
SECTOR_OUTLOOKS: tuple[str, ...] = ("positive", "stable", "negative")
#: What a supplier sells (seed 003: receivables for goods are safer than for services,
#: whose quality and quantity are disputed more often).
GOODS_OR_SERVICES: tuple[str, ...] = ("goods", "services", "mixed")

#: ISO 4217 codes accepted in any money column.
CURRENCIES: tuple[str, ...] = (
    "EUR", "USD", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
    "PLN", "CZK", "HUF", "RON", "BGN", "TRY", "RUB", "UAH", "ILS", "AED", "SAR", "INR",
    "THB", "SGD", "HKD", "KRW", "TWD", "MYR", "IDR", "PHP", "VND", "BRL", "MXN", "CLP",
    "COP", "PEN", "ARS", "ZAR", "EGP", "MAD", "NGN", "KES", "RSD", "ISK", "GEL",
)  # fmt: skip

_ISO = "ISO 4217 currency code"

# --- tables ---------------------------------------------------------------------

DEBTORS = TableContract(
    name="debtors",
    key=("debtor_id",),
    date_columns_not_future=("incorporation_date",),
    columns=(
        Column("debtor_id", "str", identifier=True, description="Debtor identifier"),
        Column("name", "str", description="Registered name"),
        Column("tax_id", "str", nullable=True, description="Tax identifier (VAT / AFM)"),
        Column("country", "str", description="ISO 3166-1 alpha-2 country code"),
        Column("nace", "str", description="NACE Rev. 2 code, e.g. '46.90'; section letter derived"),
        Column("legal_form", "category", allowed=LEGAL_FORMS),
        Column("incorporation_date", "date", nullable=True),
        Column("group_id", "str", identifier=True, nullable=True, description="Connected-client group (CRR art. 4(1)(39))"),
        Column("listed", "bool", description="Shares listed on a regulated market"),
    ),
)

SUPPLIERS = TableContract(
    name="suppliers",
    key=("supplier_id",),
    columns=(
        Column("supplier_id", "str", identifier=True, description="Supplier (the factor's client) identifier"),
        Column("name", "str"),
        Column("country", "str", description="ISO 3166-1 alpha-2"),
        Column("nace", "str", description="NACE Rev. 2 code"),
        Column("group_id", "str", identifier=True, nullable=True),
        Column("ledger_total", "float", ge=0.0, description="Total receivables ledger, in currency"),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        # the supplier's assessment (seed 003; DOMAIN.md §3, §6), optional: missing = not
        # assessed (riskengine.policy.supplier); the dispersion of its debtors is computed
        # from the book, not declared
        Column("sector_outlook", "category", nullable=True, required=False,
               allowed=SECTOR_OUTLOOKS, description="Its sector's condition and outlook"),
        Column("goods_or_services", "category", nullable=True, required=False,
               allowed=GOODS_OR_SERVICES, description="What it sells on credit"),
        Column("perishable", "bool", nullable=True, required=False,
               description="Sells perishable goods (fresh food, fish)"),
        Column("standardised_goods", "bool", nullable=True, required=False,
               description="Sells standardised, packaged, non-perishable goods"),
        Column("consignment_share", "float", nullable=True, required=False, ge=0.0, le=1.0,
               description="Share of its sales made on consignment, a fraction"),
        Column("credit_note_share", "float", nullable=True, required=False, ge=0.0, le=1.0,
               description="Credit notes and returns as a share of its sales, a fraction"),
    ),
)
#: The supplier's assessment columns of :data:`SUPPLIERS` (all optional and nullable).
SUPPLIER_ASSESSMENT: tuple[str, ...] = ("sector_outlook", "goods_or_services", "perishable",
                                        "standardised_goods", "consignment_share",
                                        "credit_note_share")

#: Financial statement line items, in the statement's currency. All flows are
#: for the 12 months ending at ``period_end``.
LINE_ITEMS: tuple[str, ...] = (
    "revenue",
    "cost_of_sales",
    "gross_profit",
    "operating_expenses",
    "ebitda",
    "depreciation_amortization",
    "ebit",
    "interest_expense",
    "net_income",
    "cash",
    "receivables",
    "inventory",
    "current_assets",
    "total_assets",
    "current_liabilities",
    "long_term_debt",
    "total_liabilities",
    "equity",
    "retained_earnings",
)
# Items that may be negative (profits, equity); the others are >= 0.
_SIGNED_ITEMS = {"gross_profit", "ebitda", "ebit", "net_income", "equity", "retained_earnings"}
# Items a statement must carry (a tax return has no balance sheet).
_REQUIRED_ITEMS = {"revenue"}

STATEMENTS = TableContract(
    name="statements",
    key=("debtor_id", "period_end"),
    date_columns_not_future=("period_end",),
    columns=(
        Column("debtor_id", "str", identifier=True),
        Column("period_end", "date", description="Last day of the fiscal year"),
        Column("statement_type", "category", allowed=STATEMENT_TYPES),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        *(
            Column(
                item,
                "float",
                nullable=item not in _REQUIRED_ITEMS,
                ge=None if item in _SIGNED_ITEMS else 0.0,
            )
            for item in LINE_ITEMS
        ),
        Column("market_value", "float", nullable=True, required=False, ge=0.0,
               description="Market value of equity, listed firms only"),
    ),
)  # fmt: skip

ADVERSE_RECORDS = TableContract(
    name="adverse_records",
    key=("debtor_id", "record_id"),
    date_columns_not_future=("event_date", "settlement_date"),
    columns=(
        Column("record_id", "str", identifier=True),
        Column("debtor_id", "str", identifier=True),
        Column("event_type", "category", allowed=ADVERSE_EVENT_TYPES),
        Column("event_date", "date"),
        Column("amount", "float", ge=0.0, description="Amount of the event, in currency"),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        Column("status", "category", allowed=ADVERSE_STATUSES),
        Column("settlement_date", "date", nullable=True, description="Required when settled"),
    ),
)

INVOICES = TableContract(
    name="invoices",
    key=("supplier_id", "invoice_id"),
    date_columns_not_future=("issue_date", "paid_date"),
    columns=(
        Column("invoice_id", "str", identifier=True),
        Column("supplier_id", "str", identifier=True),
        Column("debtor_id", "str", identifier=True),
        Column("amount", "float", ge=0.0, description="Gross invoice amount, in currency"),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        Column("issue_date", "date"),
        Column("due_date", "date", description="On or after issue_date"),
        Column("paid_date", "date", nullable=True, description="Missing while open"),
        Column("credit_note_amount", "float", ge=0.0, description="Credit notes and returns"),
        Column("disputed_amount", "float", ge=0.0, description="Amount under dispute"),
    ),
)

EXPOSURES = TableContract(
    name="exposures",
    key=("supplier_id", "debtor_id"),
    columns=(
        Column("supplier_id", "str", identifier=True),
        Column("debtor_id", "str", identifier=True),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        Column("requested_limit", "float", nullable=True, ge=0.0),
        Column("approved_limit", "float", ge=0.0),
        Column("approved_outstanding", "float", ge=0.0),
        Column("unapproved_outstanding", "float", ge=0.0),
        Column("annual_sales", "float", nullable=True, ge=0.0,
               description="Supplier's annual sales to the debtor"),
        Column("credit_days", "int", nullable=True, ge=0.0, description="Agreed payment terms"),
    ),
)  # fmt: skip

RELATIONS = TableContract(
    name="relations",
    key=("supplier_id", "debtor_id"),
    columns=(
        Column("supplier_id", "str", identifier=True),
        Column("debtor_id", "str", identifier=True),
        Column("relation_type", "category", allowed=RELATION_TYPES),
    ),
)

#: Status of an insurer's limit (ICISA; Atradius; Allianz Trade): asked for (``requested``),
#: under assessment (``pending``), granted in full (``granted``) or in part (``partial``),
#: ``refused``, ``reduced`` or ``cancelled`` with notice.
INSURER_STATUSES: tuple[str, ...] = ("requested", "pending", "granted", "partial", "refused",
                                     "reduced", "cancelled")

INSURER_LIMITS = TableContract(
    name="insurer_limits",
    key=("insurer_id", "policy_id", "debtor_id", "supplier_id"),
    date_columns_not_future=("decision_date",),
    columns=(
        Column("insurer_id", "str", identifier=True, description="The credit insurer"),
        Column("policy_id", "str", identifier=True,
               description="The factor's credit-insurance policy with that insurer"),
        Column("debtor_id", "str", identifier=True),
        Column("supplier_id", "str", identifier=True, nullable=True,
               description="Missing: a limit on the debtor for every supplier under the "
                           "policy (shared by its pairs); given: the pair's own limit"),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        Column("requested_amount", "float", nullable=True, ge=0.0,
               description="The limit the factor asked for, in currency"),
        Column("granted_amount", "float", nullable=True, ge=0.0,
               description="The limit the insurer granted (after a reduction: the new "
                           "one), in currency; required when granted, partial or reduced"),
        Column("cover_pct", "float", ge=0.0,
               description="Share of an insured loss the insurer pays, in (0, 1]"),
        Column("status", "category", allowed=INSURER_STATUSES),
        Column("decision_date", "date", nullable=True,
               description="The insurer's decision (the notice of a reduction or "
                           "cancellation); required when reduced or cancelled"),
        Column("effective_date", "date", nullable=True,
               description="When the decision takes effect; missing: at once, or after "
                           "the policy's notice for a reduction or cancellation"),
        Column("previous_granted_amount", "float", nullable=True, required=False, ge=0.0,
               description="Reduced or cancelled: the limit before, in force until "
                           "effective_date and kept on deliveries made before the notice"),
    ),
)

#: How a debtor defaulted, the two triggers of the CRR art. 178(1) definition of default:
#: ``past_due_90`` (art. 178(1)(b): a material obligation more than 90 days past due),
#: and two of the unlikeliness-to-pay events of art. 178(3): ``insolvency`` (points (e)
#: and (f): the debtor's bankruptcy or similar protection asked for or declared) and
#: ``distressed_restructuring`` (point (d): a restructuring that diminishes the obligation).
DEFAULT_TYPES: tuple[str, ...] = ("past_due_90", "insolvency", "distressed_restructuring")

OUTCOMES = TableContract(
    name="outcomes",
    key=("debtor_id", "default_date"),
    date_columns_not_future=("default_date",),
    columns=(
        Column("debtor_id", "str", identifier=True),
        Column("default_date", "date",
               description="The day the debtor went into default (CRR art. 178); on or "
                           "before the portfolio's as_of"),
        Column("default_type", "category", allowed=DEFAULT_TYPES,
               description="Which default trigger (CRR art. 178)"),
    ),
)

#: Every input table, by name.
CONTRACTS: dict[str, TableContract] = {
    t.name: t
    for t in (DEBTORS, SUPPLIERS, STATEMENTS, ADVERSE_RECORDS, INVOICES, EXPOSURES, RELATIONS,
              INSURER_LIMITS, OUTCOMES)
}

#: Tables a portfolio may leave out (absent: no records; old portfolios still load).
#: ``outcomes``: the book's observed defaults, the labels of ``train --portfolio``; the
#: decision never reads them.
OPTIONAL_TABLES: tuple[str, ...] = ("insurer_limits", "outcomes")

FX_RATES = TableContract(
    name="fx_rates",
    key=("date", "currency"),
    date_columns_not_future=("date",),
    columns=(
        Column("date", "date", description="Day the rate is published; in force until the next"),
        Column("currency", "category", allowed=CURRENCIES, description=_ISO),
        Column("rate", "float", gt=0.0,
               description="Units of the reporting currency (policy [book] currency) per "
                           "ONE unit of currency"),
    ),
)  # fmt: skip

#: Reference tables of a portfolio: optional, and no record of a debtor (a problem in
#: one rejects no debtor by itself). ``fx_rates``: dated exchange rates
#: (:mod:`riskengine.features.fx`); absent, the manifest's ``fx_rates`` mapping stands
#: for it, dated the manifest's ``as_of`` (:mod:`riskengine.io.portfolio`).
REFERENCE_TABLES: dict[str, TableContract] = {FX_RATES.name: FX_RATES}

#: Columns of an error row (one per problem found).
ERROR_COLUMNS: tuple[str, ...] = ("table", "record", "debtor_id", "column", "value", "reason", "message")
