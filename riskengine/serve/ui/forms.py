"""HTML forms of the officer's pages: reading a POSTed form (:func:`read_form`, Starlette's
form parser on python-multipart) and the score form's key fields as a debtor payload
(:func:`payload_from_form`)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FormData:
    """Fields (first value of each name) and uploaded files (name -> (filename, bytes))."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """The field's value stripped of surrounding blanks (``default`` when absent)."""
        return self.fields.get(name, default).strip()


_MAX_FIELDS = 400  # the score form: 15 fields, 10 statements of 14, 10 records of 7
_MAX_FILES = 2


async def read_form(request: Any) -> FormData | None:
    """The POSTed form of ``request`` (``application/x-www-form-urlencoded`` or
    ``multipart/form-data``), parsed by Starlette with python-multipart; None when the
    body is not a form that can be read (the caller answers with a refusal).

    The body size is bounded by the service (:class:`riskengine.serve.api.BodySizeLimit`);
    here at most 400 fields and 2 files, the first value of each name kept.
    """
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    out = FormData()
    try:
        async with request.form(max_files=_MAX_FILES, max_fields=_MAX_FIELDS) as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    out.fields.setdefault(name, value)
                elif name not in out.files:
                    out.files[name] = (str(value.filename or ""), await value.read())
    except Exception:
        return None
    return out


# Key fields of the score form -> payload path; numbers are parsed as floats.
_FORM_TEXT = {
    "debtor_id": ("debtor", "debtor_id"), "name": ("debtor", "name"),
    "country": ("debtor", "country"), "nace": ("debtor", "nace"),
    "legal_form": ("debtor", "legal_form"), "tax_id": ("debtor", "tax_id"),
    "supplier_id": ("exposure", "supplier_id"), "currency": ("exposure", "currency"),
    "product": ("exposure", "product"),
    "supplier_name": ("exposure", "supplier", "name"),
    "supplier_country": ("exposure", "supplier", "country"),
    "supplier_nace": ("exposure", "supplier", "nace"),
    "as_of": ("as_of",),
}
_FORM_MONEY = {
    "requested_limit": ("exposure", "requested_limit"),
    "approved_outstanding": ("exposure", "approved_outstanding"),
    "supplier_ledger_total": ("exposure", "supplier", "ledger_total"),
}
STATEMENT_FIELDS: tuple[str, ...] = (
    "revenue", "ebitda", "ebit", "net_income", "interest_expense", "cash", "receivables",
    "current_assets", "total_assets", "current_liabilities", "total_liabilities", "equity")
"""Statement items of the score form's statement groups (``statements-<i>-<item>``)."""
ADVERSE_FIELDS: tuple[str, ...] = ("record_id", "event_type", "event_date", "amount",
                                   "currency", "status", "settlement_date")
"""Fields of the score form's adverse-record groups (``adverse-<i>-<field>``)."""
MAX_GROUPS = 10
"""Most statements, and most adverse records, the form takes (more: upload a file)."""
_GROUP = re.compile(r"^(statements|adverse)-(\d{1,2})-([a-z_]+)$")
_SELECTS = frozenset({"statement_type", "event_type", "status", "currency"})


def _groups(form: FormData, kind: str) -> list[int]:
    """The indexes of the ``kind`` groups that hold something typed (a group of blank
    inputs, whatever its drop-downs say, is left out), in order."""
    out = set()
    for name, value in form.fields.items():
        m = _GROUP.match(name)
        if (m and m.group(1) == kind and int(m.group(2)) < MAX_GROUPS
                and m.group(3) not in _SELECTS and value.strip()):
            out.add(int(m.group(2)))
    return sorted(out)


def payload_from_form(form: FormData) -> tuple[dict[str, Any], list[str]]:
    """A debtor payload (the form of ``examples/debtor.json``) from the score form: the
    debtor and request fields, and its repeated groups of statements
    (``statements-<i>-<item>``) and adverse records (``adverse-<i>-<field>``).

    Blank fields and blank groups are left out (the payload's own validation says what is
    required). A statement's currency is the exposure's; an adverse record's is its own,
    else the exposure's, and one without an id is numbered by its place in the form.

    Returns
    -------
    (dict, list of str)
        The payload, and problems with fields that are not numbers (named by their
        group and label, never echoing the value).

    Examples
    --------
    >>> p, bad = payload_from_form(FormData(fields={
    ...     "debtor_id": "D-1", "statements-0-revenue": "1,200",
    ...     "statements-0-period_end": "2025-12-31", "statements-1-period_end": "2024-12-31",
    ...     "statements-1-ebitda": "x"}))
    >>> p["debtor"]["debtor_id"], [s["period_end"] for s in p["statements"]], bad
    ('D-1', ['2025-12-31', '2024-12-31'], ['statement 2 ebitda: not a number'])
    """
    payload: dict[str, Any] = {"debtor": {}, "exposure": {"supplier": {}}}
    problems: list[str] = []

    def put(path: Sequence[str], value: Any) -> None:
        node = payload
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    def number(name: str, label: str) -> float | None:
        text = form.get(name).replace(",", "").replace(" ", "")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            problems.append(f"{label}: not a number")
            return None
        if not math.isfinite(value):
            problems.append(f"{label}: not a finite number")
            return None
        return value

    for name, path in _FORM_TEXT.items():
        if form.get(name):
            put(path, form.get(name))
    for name, path in _FORM_MONEY.items():
        value = number(name, name.replace("_", " "))
        if value is not None:
            put(path, value)
    currency = form.get("currency") or "EUR"
    statements = []
    for n, i in enumerate(_groups(form, "statements"), start=1):
        key = f"statements-{i}-"
        statement: dict[str, Any] = {}
        for item in STATEMENT_FIELDS:
            value = number(key + item, f"statement {n} {item}")
            if value is not None:
                statement[item] = value
        statement["period_end"] = form.get(key + "period_end")
        statement["statement_type"] = form.get(key + "statement_type") or "audited"
        statement["currency"] = currency
        statements.append(statement)
    if statements:
        payload["statements"] = statements
    records = []
    for n, i in enumerate(_groups(form, "adverse"), start=1):
        key = f"adverse-{i}-"
        record: dict[str, Any] = {
            "record_id": form.get(key + "record_id") or f"FORM-ADV-{n}",
            "event_type": form.get(key + "event_type"),
            "event_date": form.get(key + "event_date"),
            "currency": form.get(key + "currency") or currency,
            "status": form.get(key + "status") or "open"}
        amount = number(key + "amount", f"adverse record {n} amount")
        if amount is not None:
            record["amount"] = amount
        if form.get(key + "settlement_date"):
            record["settlement_date"] = form.get(key + "settlement_date")
        records.append({k: v for k, v in record.items() if v != ""})
    if records:
        payload["adverse_records"] = records
    return payload, problems
