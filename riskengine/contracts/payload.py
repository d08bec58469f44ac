"""The JSON form of one debtor's records: pydantic models and the frame builder.

One payload carries everything the engine needs to decide a debtor's
supplier-debtor pairs: the debtor, its financial statements, its adverse
records, its invoices and either one ``exposure`` (one pair: the supplier, the
pair's limits and the request) or ``exposures`` (a list, one per supplier, at
most :data:`MAX_EXPOSURES`; then every invoice names its ``supplier_id``)::

    {"debtor": {...}, "statements": [...], "adverse_records": [...],
     "invoices": [...], "exposure": {..., "supplier": {...}}, "as_of": "2026-06-30"}

The pairs of one payload are decided together: they share the debtor's one
capacity (:func:`riskengine.policy.limits.decide_limits`, the ``debtor`` key).

The fields are those of the data contracts in :mod:`riskengine.contracts.schemas`
(``debtor_id`` is given once, in ``debtor``). :func:`payload_to_frames` turns a
list of payloads into the same frames the batch path reads, so a payload and a
portfolio go through one code path and cannot disagree. ``examples/debtor.json``
is a worked example and ``examples/debtor.schema.json`` the JSON Schema that
:func:`payload_json_schema` generates.

Notes
-----
- Money is a non-negative float in the record's ``currency`` except the signed
  statement items (profits, equity). Numbers are strict: ``"1200"`` (a string)
  is refused, ``1200`` and ``1200.0`` are the same amount.
- Dates are exactly ``YYYY-MM-DD`` strings (or date objects from Python):
  ``01/06/2026``, ``June 2026``, ``2026-13-01``, timestamps and Unix times are
  refused (:func:`riskengine.contracts.dates.field_date`), never reinterpreted.
- Every object forbids unknown keys; a rejected payload raises
  :class:`~riskengine.errors.InvalidInputError` whose ``problems`` name the
  field path (``statements.1.revenue``), the reason and never the value.
- ``as_of`` is optional: the service and the command line pass today's date
  when it is absent; the core never reads the clock. A payload dated after the
  reference date (today on every interface) is refused by the engine.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from riskengine.contracts import schemas
from riskengine.contracts.dates import field_date
from riskengine.contracts.ids import ID_MAX_LENGTH, ID_PATTERN
from riskengine.errors import InvalidInputError

__all__ = [
    "PAYLOAD_SCHEMA_VERSION",
    "DebtorInfo",
    "Statement",
    "AdverseRecord",
    "Invoice",
    "SupplierInfo",
    "SUPPLIER_EXTRA_FIELDS",
    "Exposure",
    "InsurerLimit",
    "FxRate",
    "DebtorPayload",
    "parse_payload",
    "parse_payloads",
    "payload_to_frames",
    "payload_json_schema",
    "PAIR_TERMS_COLUMNS",
    "MAX_EXPOSURES",
    "by_payload",
]

#: Version of the payload form (bumped on any incompatible change).
PAYLOAD_SCHEMA_VERSION = "1.0"

#: Columns of the ``pair_terms`` frame: per supplier-debtor pair, the product and
#: the insurer's credit limit (not part of the input contracts; read by the engine).
PAIR_TERMS_COLUMNS: tuple[str, ...] = ("supplier_id", "debtor_id", "product", "insurer_limit")

#: Most exposures (supplier-debtor pairs) in one payload's ``exposures``.
MAX_EXPOSURES = 100

# --- field types ----------------------------------------------------------------

Currency = Literal[schemas.CURRENCIES]  # type: ignore[valid-type]
StatementType = Literal[schemas.STATEMENT_TYPES]  # type: ignore[valid-type]
EventType = Literal[schemas.ADVERSE_EVENT_TYPES]  # type: ignore[valid-type]
AdverseStatus = Literal[schemas.ADVERSE_STATUSES]  # type: ignore[valid-type]
LegalForm = Literal[schemas.LEGAL_FORMS]  # type: ignore[valid-type]
RelationType = Literal[schemas.RELATION_TYPES]  # type: ignore[valid-type]
InsurerStatus = Literal[schemas.INSURER_STATUSES]  # type: ignore[valid-type]
SectorOutlook = Literal[schemas.SECTOR_OUTLOOKS]  # type: ignore[valid-type]
GoodsOrServices = Literal[schemas.GOODS_OR_SERVICES]  # type: ignore[valid-type]

Identifier = Annotated[str, Field(strict=True, min_length=1, max_length=ID_MAX_LENGTH,
                                  pattern=ID_PATTERN)]  # the batch contracts' grammar too
Text = Annotated[str, Field(strict=True, min_length=1, max_length=200, pattern=r"\S")]
Country = Annotated[str, Field(strict=True, pattern=r"^[A-Z]{2}$",
                               description="ISO 3166-1 alpha-2 country code")]
Nace = Annotated[str, Field(strict=True, pattern=r"^[0-9]{2}(\.[0-9]{1,2})?$",
                            description="NACE Rev. 2 code, e.g. '46.90'")]
Money = Annotated[float, Field(strict=True, ge=0.0, allow_inf_nan=False)]
SignedMoney = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Days = Annotated[int, Field(strict=True, ge=0, le=3650)]
Share = Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)]



#: A date field: ``YYYY-MM-DD`` text or a :class:`datetime.date`; no timestamps,
#: no Unix times, no other layouts.
IsoDate = Annotated[dt.date, BeforeValidator(field_date)]

_FORBID = ConfigDict(extra="forbid", frozen=True)


def _later(later: dt.date | None, earlier: dt.date | None) -> bool:
    return later is not None and earlier is not None and later < earlier


class DebtorInfo(BaseModel):
    """The debtor (fields of :data:`riskengine.contracts.schemas.DEBTORS`)."""

    model_config = _FORBID

    debtor_id: Identifier
    name: Text
    tax_id: Text | None = None
    country: Country
    nace: Nace
    legal_form: LegalForm
    incorporation_date: IsoDate | None = None
    group_id: Identifier | None = Field(
        default=None, description="Connected-client group (CRR art. 4(1)(39))")
    listed: bool = Field(default=False, strict=True,
                         description="Shares listed on a regulated market")


class Statement(BaseModel):
    """One financial statement (:data:`riskengine.contracts.schemas.STATEMENTS` less ``debtor_id``).

    Flows cover the 12 months ending at ``period_end``; amounts are in
    ``currency``. Only ``revenue`` is required (a tax return has no balance
    sheet); an absent item is missing, never zero.
    """

    model_config = _FORBID

    period_end: IsoDate
    statement_type: StatementType
    currency: Currency
    revenue: Money
    cost_of_sales: Money | None = None
    gross_profit: SignedMoney | None = None
    operating_expenses: Money | None = None
    ebitda: SignedMoney | None = None
    depreciation_amortization: Money | None = None
    ebit: SignedMoney | None = None
    interest_expense: Money | None = None
    net_income: SignedMoney | None = None
    cash: Money | None = None
    receivables: Money | None = None
    inventory: Money | None = None
    current_assets: Money | None = None
    total_assets: Money | None = None
    current_liabilities: Money | None = None
    long_term_debt: Money | None = None
    total_liabilities: Money | None = None
    equity: SignedMoney | None = None
    retained_earnings: SignedMoney | None = None
    market_value: Money | None = Field(default=None,
                                       description="Market value of equity, listed firms only")


class AdverseRecord(BaseModel):
    """One adverse record of an interbank register (:data:`riskengine.contracts.schemas.ADVERSE_RECORDS`)."""

    model_config = _FORBID

    record_id: Identifier
    event_type: EventType
    event_date: IsoDate
    amount: Money
    currency: Currency
    status: AdverseStatus
    settlement_date: IsoDate | None = Field(default=None, description="Required when settled")

    @model_validator(mode="after")
    def _settlement(self) -> AdverseRecord:
        if self.status == "settled" and self.settlement_date is None:
            raise ValueError("settlement_date: required when status is 'settled'")
        if _later(self.settlement_date, self.event_date):
            raise ValueError("settlement_date: before event_date")
        return self


class Invoice(BaseModel):
    """One invoice of the pair's payment experience (:data:`riskengine.contracts.schemas.INVOICES`).

    With one ``exposure``, ``supplier_id`` defaults to the exposure's supplier
    and must equal it when given; with ``exposures`` it is required and names
    one of them.
    """

    model_config = _FORBID

    invoice_id: Identifier
    supplier_id: Identifier | None = None
    amount: Money
    currency: Currency
    issue_date: IsoDate
    due_date: IsoDate
    paid_date: IsoDate | None = Field(default=None, description="Absent while open")
    credit_note_amount: Money = 0.0
    disputed_amount: Money = 0.0

    @model_validator(mode="after")
    def _dates(self) -> Invoice:
        if _later(self.due_date, self.issue_date):
            raise ValueError("due_date: before issue_date")
        if _later(self.paid_date, self.issue_date):
            raise ValueError("paid_date: before issue_date")
        return self


class SupplierInfo(BaseModel):
    """The supplier (the factor's client) of the pair (:data:`riskengine.contracts.schemas.SUPPLIERS`).

    Its assessment (seed 003; every field optional: absent = not assessed,
    :mod:`riskengine.policy.supplier`), the dispersion of its debtors when the caller
    knows it from the book (``debtor_hhi``; the service reads it from the limit register
    otherwise) and, optionally, its own ``statements`` and ``adverse_records``: then the
    engine rates the supplier from them as it rates a debtor (its ``legal_form`` is
    recorded with them). A supplier rated so, or in the register, drives a recourse pair.
    """

    model_config = _FORBID

    name: Text
    country: Country
    nace: Nace
    group_id: Identifier | None = None
    ledger_total: Money = Field(description="Supplier's total receivables ledger, in currency")
    sector_outlook: SectorOutlook | None = Field(
        default=None, description="Its sector's condition and outlook")
    goods_or_services: GoodsOrServices | None = Field(
        default=None, description="What it sells on credit")
    perishable: bool | None = Field(default=None, strict=True,
                                    description="Sells perishable goods (fresh food, fish)")
    standardised_goods: bool | None = Field(
        default=None, strict=True,
        description="Sells standardised, packaged, non-perishable goods")
    consignment_share: Share | None = Field(
        default=None, description="Share of its sales on consignment, a fraction")
    credit_note_share: Share | None = Field(
        default=None, description="Credit notes and returns as a share of its sales")
    debtor_hhi: Share | None = Field(
        default=None, description="Herfindahl-Hirschman index of the factor's limits on "
        "its debtors (the dispersion of its debtors, from the book), in [0, 1]")
    legal_form: LegalForm | None = Field(
        default=None, description="Its legal form (recorded with its statements)")
    statements: list[Statement] = Field(
        default_factory=list, max_length=50,
        description="Its own financial statements: the engine rates it from them")
    adverse_records: list[AdverseRecord] = Field(
        default_factory=list, max_length=1000,
        description="Its own adverse records (rated with its statements)")

    @model_validator(mode="after")
    def _records(self) -> SupplierInfo:
        seen: set[Any] = set()
        for i, st in enumerate(self.statements):
            if st.period_end in seen:
                raise ValueError(f"statements.{i}.period_end: duplicate statement period")
            seen.add(st.period_end)
        ids: set[Any] = set()
        for i, a in enumerate(self.adverse_records):
            if a.record_id in ids:
                raise ValueError(f"adverse_records.{i}.record_id: duplicate identifier")
            ids.add(a.record_id)
        return self

    @property
    def has_records(self) -> bool:
        """Whether the supplier's own records are given (it is to be rated from them)."""
        return bool(self.statements or self.adverse_records)


#: The fields of :class:`SupplierInfo` that are not columns of the suppliers table.
SUPPLIER_EXTRA_FIELDS = frozenset({"debtor_hhi", "legal_form", "statements", "adverse_records"})


class Exposure(BaseModel):
    """The supplier-debtor pair: request, current limit and outstanding, product.

    Either ``requested_limit`` or both ``annual_sales`` and ``credit_days``
    (requested = annual sales x credit days / 360, seed 003).
    """

    model_config = _FORBID

    supplier_id: Identifier
    supplier: SupplierInfo
    currency: Currency
    requested_limit: Money | None = None
    annual_sales: Money | None = Field(default=None,
                                       description="Supplier's annual sales to the debtor")
    credit_days: Days | None = Field(default=None, description="Agreed payment terms, days")
    approved_limit: Money = 0.0
    approved_outstanding: Money = 0.0
    unapproved_outstanding: Money = 0.0
    product: Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9_]*$")] | None = Field(
        default=None, description="Product of the credit policy (e.g. 'recourse', "
        "'non_recourse'); absent: the engine's default product")
    insurer_limit: Money | None = Field(
        default=None, description="The credit insurer's limit on the debtor, if known")
    relation_type: RelationType | None = Field(
        default=None, description="Declared supplier-debtor related-party link, if any")

    @model_validator(mode="after")
    def _request(self) -> Exposure:
        if self.requested_limit is None and (self.annual_sales is None
                                             or self.credit_days is None):
            raise ValueError("requested_limit: missing; give requested_limit, or "
                             "annual_sales and credit_days")
        return self


class InsurerLimit(BaseModel):
    """An insurer's limit on the debtor (:data:`riskengine.contracts.schemas.INSURER_LIMITS`
    less ``debtor_id``): for one of the payload's suppliers (``supplier_id``), or for
    every pair under the insurance policy (no ``supplier_id``)."""

    model_config = _FORBID

    insurer_id: Identifier
    policy_id: Identifier
    supplier_id: Identifier | None = Field(
        default=None, description="One pair's limit; absent: the debtor's, for every pair "
                                  "under the policy")
    currency: Currency
    requested_amount: Money | None = None
    granted_amount: Money | None = Field(
        default=None, description="Required when granted, partial or reduced")
    cover_pct: Annotated[float, Field(strict=True, gt=0.0, le=1.0, allow_inf_nan=False,
                                      description="Share of an insured loss paid, (0, 1]")]
    status: InsurerStatus
    decision_date: IsoDate | None = Field(
        default=None, description="Required when reduced or cancelled")
    effective_date: IsoDate | None = None
    previous_granted_amount: Money | None = Field(
        default=None, description="Reduced or cancelled: the limit before the notice")

    @model_validator(mode="after")
    def _state(self) -> InsurerLimit:
        if self.status in ("granted", "partial", "reduced") and self.granted_amount is None:
            raise ValueError(f"granted_amount: required when the status is {self.status!r}")
        if self.status in ("reduced", "cancelled") and self.decision_date is None:
            raise ValueError(f"decision_date: required when the status is {self.status!r}")
        if _later(self.effective_date, self.decision_date):
            raise ValueError("effective_date: before decision_date")
        return self


class FxRate(BaseModel):
    """One dated exchange rate (the ``fx_rates`` contract): units of the reporting
    currency (the policy's ``[book] currency``) per ONE unit of ``currency``, in force
    from ``date`` until the next row of that currency."""

    model_config = _FORBID

    date: IsoDate
    currency: Currency
    rate: Annotated[float, Field(strict=True, gt=0.0, allow_inf_nan=False)]


class DebtorPayload(BaseModel):
    """One debtor's records for the decision of its supplier-debtor pairs.

    Exactly one of ``exposure`` (one pair) and ``exposures`` (a list, one per
    supplier, at most :data:`MAX_EXPOSURES`) is given; :attr:`pairs` is either
    as a tuple.

    Examples
    --------
    >>> p = DebtorPayload.model_validate({
    ...     "debtor": {"debtor_id": "D-1", "name": "Alfa S.A.", "country": "GR",
    ...                "nace": "46.90", "legal_form": "public_limited"},
    ...     "exposure": {"supplier_id": "S-1", "currency": "EUR", "requested_limit": 25000.0,
    ...                  "supplier": {"name": "Beta", "country": "GR", "nace": "10.51",
    ...                               "ledger_total": 1000000.0}}})
    >>> p.debtor.debtor_id, len(p.statements)
    ('D-1', 0)
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="DebtorPayload",
        json_schema_extra={"oneOf": [{"required": ["exposure"]}, {"required": ["exposures"]}]})

    debtor: DebtorInfo
    statements: list[Statement] = Field(default_factory=list, max_length=50)
    adverse_records: list[AdverseRecord] = Field(default_factory=list, max_length=1000)
    invoices: list[Invoice] = Field(default_factory=list, max_length=10000)
    exposure: Exposure | None = Field(
        default=None, description="The one supplier-debtor pair (or give exposures)")
    exposures: list[Exposure] | None = Field(
        default=None, min_length=1, max_length=MAX_EXPOSURES,
        description="The debtor's pairs, one per supplier, decided together (they share "
                    "the debtor's capacity); instead of exposure. Each invoice then names "
                    "its supplier_id.")
    insurer_limits: list[InsurerLimit] = Field(
        default_factory=list, max_length=200,
        description="The insurers' limits on the debtor (issue 16); absent: none (the "
                    "service uses its register's)")
    as_of: IsoDate | None = Field(
        default=None, description="Decision date; absent: the caller's today")
    fx_rates: list[FxRate] | None = Field(
        default=None, max_length=1000,
        description="Dated rates into the reporting currency for this decision (the rate in "
                    "force: the latest dated on or before as_of); absent: the service's "
                    "fx_rates table")

    @property
    def pairs(self) -> tuple[Exposure, ...]:
        """The payload's exposures, in order: ``(exposure,)`` or ``exposures``."""
        return (self.exposure,) if self.exposure is not None else tuple(self.exposures or ())

    def invoice_suppliers(self) -> list[str]:
        """The supplier of each invoice: its ``supplier_id``, else the one exposure's."""
        default = self.exposure.supplier_id if self.exposure is not None else ""
        return [default if v.supplier_id is None else v.supplier_id for v in self.invoices]

    @model_validator(mode="after")
    def _unique(self) -> DebtorPayload:
        seen: set[Any] = set()
        for i, s in enumerate(self.statements):
            if s.period_end in seen:
                raise ValueError(f"statements.{i}.period_end: duplicate statement period")
            seen.add(s.period_end)
        days: set[Any] = set()
        for i, r in enumerate(self.fx_rates or ()):
            if (r.date, r.currency) in days:
                raise ValueError(f"fx_rates.{i}.date: duplicate rate for this currency and day")
            days.add((r.date, r.currency))
        ids: set[Any] = set()
        for i, a in enumerate(self.adverse_records):
            if a.record_id in ids:
                raise ValueError(f"adverse_records.{i}.record_id: duplicate identifier")
            ids.add(a.record_id)
        self._check_pairs()
        one = self.exposure is not None  # then every invoice is the one supplier's
        keys: set[Any] = set()  # an invoice is keyed by supplier and id
        for i, inv in enumerate(self.invoices):
            key = inv.invoice_id if one else (inv.supplier_id, inv.invoice_id)
            if key in keys:
                raise ValueError(f"invoices.{i}.invoice_id: duplicate identifier")
            keys.add(key)
        self._check_insurer_limits()
        return self

    def _check_insurer_limits(self) -> None:
        """One insurer limit per key; a pair-level one names one of the payload's suppliers,
        whose exposure then gives no ``insurer_limit`` of its own."""
        suppliers = {ex.supplier_id: ex for ex in self.pairs}
        seen: set[Any] = set()
        for i, lim in enumerate(self.insurer_limits):
            key = (lim.insurer_id, lim.policy_id, lim.supplier_id)
            if key in seen:
                raise ValueError(f"insurer_limits.{i}.policy_id: duplicate insurer limit")
            seen.add(key)
            if lim.supplier_id is None:
                continue
            ex = suppliers.get(lim.supplier_id)
            if ex is None:
                raise ValueError(f"insurer_limits.{i}.supplier_id: not the supplier of any "
                                 "exposure")
            if ex.insurer_limit is not None:
                raise ValueError(f"insurer_limits.{i}.supplier_id: the exposure gives "
                                 "insurer_limit too; give the insurer limit once")

    def _check_pairs(self) -> None:
        """Exactly one of exposure and exposures; one exposure per supplier; each
        invoice's supplier is one of the payload's."""
        if self.exposure is None and self.exposures is None:
            raise ValueError("exposure: missing; give exposure (one supplier) or exposures "
                             "(a list, one per supplier)")
        if self.exposure is not None and self.exposures is not None:
            raise ValueError("exposures: give exposure or exposures, not both")
        if self.exposure is not None:
            for i, inv in enumerate(self.invoices):
                if inv.supplier_id is not None and inv.supplier_id != self.exposure.supplier_id:
                    raise ValueError(f"invoices.{i}.supplier_id: differs from "
                                     "exposure.supplier_id")
            return
        seen: set[str] = set()
        for i, ex in enumerate(self.pairs):
            if ex.supplier_id in seen:
                raise ValueError(f"exposures.{i}.supplier_id: duplicate supplier; give one "
                                 "exposure per supplier")
            seen.add(ex.supplier_id)
        for i, inv in enumerate(self.invoices):
            if inv.supplier_id is None:
                raise ValueError(f"invoices.{i}.supplier_id: missing; with exposures each "
                                 "invoice names its supplier")
            if inv.supplier_id not in seen:
                raise ValueError(f"invoices.{i}.supplier_id: not the supplier of any of "
                                 "exposures")


# --- parsing ----------------------------------------------------------------------


_FIELD_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z0-9_]+)*): ")


def _problems(exc: ValidationError, index: int | None) -> list[dict[str, Any]]:
    rows = []
    for e in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        sub = _FIELD_PREFIX.match(msg)
        if sub:  # a model validator names the field first: "due_date: before issue_date"
            path = f"{path}.{sub.group(1)}" if path else sub.group(1)
            msg = msg[sub.end():]
        if index is not None:
            path = f"{index}.{path}" if path else str(index)
        rows.append({"table": "payload", "record": "" if index is None else str(index),
                     "debtor_id": "", "column": path, "value": "", "reason": str(e["type"]),
                     "message": msg})
    return rows


def _raise(problems: list[dict[str, Any]]) -> InvalidInputError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return InvalidInputError(
        f"Invalid debtor payload: field '{first['column']}': {first['message']}{more}. "
        "Correct the payload (see examples/debtor.schema.json).", problems)


def parse_payload(payload: DebtorPayload | dict[str, Any]) -> DebtorPayload:
    """Validate one payload.

    Parameters
    ----------
    payload : DebtorPayload or dict
        A parsed payload is returned unchanged.

    Returns
    -------
    DebtorPayload

    Raises
    ------
    InvalidInputError
        Naming every bad field by its path (``exposure.requested_limit``),
        with the reason; submitted values are never echoed.
    """
    if isinstance(payload, DebtorPayload):
        return payload
    if not isinstance(payload, dict):
        raise InvalidInputError(
            f"A debtor payload is a JSON object, not {type(payload).__name__}.",
            [{"table": "payload", "record": "", "debtor_id": "", "column": "", "value": "",
              "reason": "model_type", "message": "expected an object"}])
    try:
        return DebtorPayload.model_validate(payload)
    except ValidationError as exc:
        raise _raise(_problems(exc, None)) from None


def parse_payloads(payloads: Sequence[DebtorPayload | dict[str, Any]]) -> list[DebtorPayload]:
    """Validate many payloads; every problem of every payload is reported at once.

    Field paths are prefixed with the payload's position (``3.statements.0.revenue``).
    """
    out: list[DebtorPayload] = []
    problems: list[dict[str, Any]] = []
    for i, p in enumerate(payloads):
        try:
            out.append(parse_payload(p))
        except InvalidInputError as exc:
            for row in exc.problems:
                problems.append({**row, "record": str(i), "column": f"{i}.{row['column']}"
                                 if row["column"] else str(i)})
    if problems:
        raise _raise(problems)
    return out


# --- frames -----------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]], contract: schemas.TableContract,
           extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame in the contract's canonical dtypes (as :mod:`riskengine.validation` returns)."""
    names = (*contract.names, *extra)
    data: dict[str, Any] = {}
    for name in names:
        values = [r.get(name) for r in rows]
        col = contract.column(name) if name in contract.names else None
        kind = col.kind if col is not None else "str"
        if kind == "date":
            data[name] = pd.Series(
                np.array([np.datetime64(v, "D") if v is not None else np.datetime64("NaT")
                          for v in values], dtype="datetime64[D]").astype("datetime64[ns]"))
        elif kind == "float":
            data[name] = pd.Series(np.array([np.nan if v is None else float(v) for v in values],
                                            dtype=np.float64))
        elif kind == "int":
            data[name] = pd.Series(values, dtype="Int64")
        elif kind == "bool":
            data[name] = pd.Series(values, dtype="boolean" if col is not None and col.nullable
                                   else bool)
        else:
            data[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(data, columns=list(names))


def payload_to_frames(
    payloads: Sequence[DebtorPayload | dict[str, Any]],
) -> dict[str, pd.DataFrame]:
    """The portfolio frames of one or many payloads (the batch path's input).

    Parameters
    ----------
    payloads : sequence of DebtorPayload or dict
        Dicts are validated first (:func:`parse_payloads`).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``debtors, suppliers, statements, adverse_records, invoices, exposures,
        relations, insurer_limits`` in the contracts' columns, plus ``pair_terms``
        (:data:`PAIR_TERMS_COLUMNS`: product and insurer limit per pair),
        ``supplier_book`` (the dispersion of each supplier's debtors the payload gives,
        :data:`riskengine.scoring.suppliers.SUPPLIER_BOOK_COLUMNS`) and, when a payload
        gives ``fx_rates``, the ``fx_rates`` table of every payload's rows (two payloads
        disagreeing on one day's rate: NaN there, which validation refuses).
        A supplier named in several payloads appears once (its first record). A supplier
        with its own statements or adverse records is also a debtor of the frames (with
        those records and no exposure), rated as the batch rates a debtor.

    Raises
    ------
    InvalidInputError
        A payload is invalid (field path named), or one debtor id appears in
        two payloads.

    Examples
    --------
    >>> import json, pathlib
    >>> frames = payload_to_frames([json.loads(pathlib.Path("examples/debtor.json").read_text())])
    >>> sorted(frames), len(frames["statements"])  # doctest: +SKIP
    """
    parsed = parse_payloads(payloads)
    debtors: list[dict[str, Any]] = []
    suppliers: dict[str, dict[str, Any]] = {}
    statements: list[dict[str, Any]] = []
    adverse: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    exposures: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    terms: list[dict[str, Any]] = []
    insurer: list[dict[str, Any]] = []
    book: dict[str, dict[str, Any]] = {}  # per supplier: its debtors' dispersion
    rated: dict[str, tuple[int, int, SupplierInfo]] = {}  # suppliers rated from their records
    rates: dict[tuple[Any, str], float] = {}
    seen: dict[str, int] = {}
    for i, p in enumerate(parsed):
        for r in p.fx_rates or ():  # one table for the call; a conflict stays for validation
            key = (r.date, r.currency)
            rates[key] = r.rate if rates.get(key, r.rate) == r.rate else math.nan
        did = p.debtor.debtor_id
        if did in seen:
            raise _raise([{"table": "payload", "record": str(i), "debtor_id": did,
                           "column": f"{i}.debtor.debtor_id", "value": "",
                           "reason": "duplicate_key",
                           "message": f"the same debtor is in payload {seen[did]}; send one "
                                      "payload per debtor"}])
        seen[did] = i
        debtors.append(p.debtor.model_dump())
        statements.extend({"debtor_id": did, **s.model_dump()} for s in p.statements)
        adverse.extend({"debtor_id": did, **a.model_dump()} for a in p.adverse_records)
        invoices.extend({**v.model_dump(), "debtor_id": did, "supplier_id": sid}
                        for v, sid in zip(p.invoices, p.invoice_suppliers(), strict=True))
        insurer.extend({"debtor_id": did, **r.model_dump()} for r in p.insurer_limits)
        for j, ex in enumerate(p.pairs):
            sid = ex.supplier_id
            suppliers.setdefault(sid, {"supplier_id": sid, "currency": ex.currency,
                                       **ex.supplier.model_dump(exclude=set(SUPPLIER_EXTRA_FIELDS))})
            book.setdefault(sid, {"supplier_id": sid, "debtor_hhi": ex.supplier.debtor_hhi,
                                  "rating": None})
            if ex.supplier.has_records:
                rated.setdefault(sid, (i, j, ex.supplier))
            exposures.append({"debtor_id": did, **ex.model_dump(exclude={"supplier"})})
            if ex.relation_type is not None:
                relations.append({"supplier_id": sid, "debtor_id": did,
                                  "relation_type": ex.relation_type})
            terms.append({"supplier_id": sid, "debtor_id": did, "product": ex.product,
                          "insurer_limit": ex.insurer_limit})
    for sid, (i, j, info) in rated.items():  # rated as a debtor, from its own records
        if sid in seen:
            where = "exposure" if parsed[i].exposure is not None else f"exposures.{j}"
            raise _raise([{"table": "payload", "record": str(i), "debtor_id": sid,
                           "column": f"{i}.{where}.supplier.statements", "value": "",
                           "reason": "duplicate_key",
                           "message": f"the supplier is the debtor of payload {seen[sid]}; "
                                      "give its records there only"}])
        debtors.append({"debtor_id": sid, "name": info.name, "tax_id": None,
                        "country": info.country, "nace": info.nace,
                        "legal_form": info.legal_form or "other", "incorporation_date": None,
                        "group_id": info.group_id, "listed": False})
        statements.extend({"debtor_id": sid, **st.model_dump()} for st in info.statements)
        adverse.extend({"debtor_id": sid, **a.model_dump()} for a in info.adverse_records)
    c = schemas.CONTRACTS
    term_frame = pd.DataFrame({
        "supplier_id": pd.Series([t["supplier_id"] for t in terms], dtype="str"),
        "debtor_id": pd.Series([t["debtor_id"] for t in terms], dtype="str"),
        "product": pd.Series([t["product"] for t in terms], dtype="str"),
        "insurer_limit": pd.Series([np.nan if t["insurer_limit"] is None
                                    else float(t["insurer_limit"]) for t in terms],
                                   dtype=np.float64),
    })
    out = {
        "debtors": _frame(debtors, c["debtors"]),
        "suppliers": _frame(list(suppliers.values()), c["suppliers"]),
        "statements": _frame(statements, c["statements"]),
        "adverse_records": _frame(adverse, c["adverse_records"]),
        "invoices": _frame(invoices, c["invoices"]),
        "exposures": _frame(exposures, c["exposures"]),
        "relations": _frame(relations, c["relations"]),
        "insurer_limits": _frame(insurer, c["insurer_limits"]),
        "pair_terms": term_frame,
        "supplier_book": pd.DataFrame({
            "supplier_id": pd.Series([b["supplier_id"] for b in book.values()], dtype="str"),
            "debtor_hhi": pd.Series([np.nan if b["debtor_hhi"] is None else b["debtor_hhi"]
                                     for b in book.values()], dtype=np.float64),
            "rating": pd.Series([None] * len(book), dtype=object)}),
    }
    if any(p.fx_rates for p in parsed):
        out["fx_rates"] = _frame([{"date": d, "currency": cur, "rate": r}
                                  for (d, cur), r in rates.items()], schemas.FX_RATES)
    return out


def payload_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one payload, as in ``examples/debtor.schema.json``.

    Examples
    --------
    >>> s = payload_json_schema()
    >>> s["title"], sorted(s["required"]), s["oneOf"]
    ('DebtorPayload', ['debtor'], [{'required': ['exposure']}, {'required': ['exposures']}])
    """
    schema = DebtorPayload.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://riskengine.example/schemas/debtor-payload-"
                   f"{PAYLOAD_SCHEMA_VERSION}.json",
            **schema}


def by_payload(payloads: Sequence[DebtorPayload | dict[str, Any]],
               decisions: Sequence[Any]) -> list[Any]:
    """The pairs' decisions (payload after payload, each in its exposures' order) as the
    payloads ask: a payload with ``exposure`` gets its decision, one with ``exposures``
    the list of its pairs' decisions (even a list of one).

    Examples
    --------
    >>> by_payload([{"exposure": {}}, {"exposures": [{}, {}]}], ["a", "b", "c"])
    ['a', ['b', 'c']]
    """
    out: list[Any] = []
    at = 0
    for p in payloads:
        several = p.get("exposures") if isinstance(p, dict) else p.exposures
        k = 1 if several is None else len(several)
        out.append(decisions[at] if several is None else list(decisions[at:at + k]))
        at += k
    if at != len(decisions):
        raise ValueError(f"by_payload: {len(decisions)} decisions for {at} pairs")
    return out
