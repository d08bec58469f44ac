"""HTML forms of the officer's pages: reading a POSTed form (:func:`read_form`, Starlette's
form parser on python-multipart) and the score form's key fields as a debtor payload
(:func:`payload_from_form`)."""

from __future__ import annotations

import math
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


_MAX_FIELDS = 200
_MAX_FILES = 2


async def read_form(request: Any) -> FormData | None:
    """The POSTed form of ``request`` (``application/x-www-form-urlencoded`` or
    ``multipart/form-data``), parsed by Starlette with python-multipart; None when the
    body is not a form that can be read (the caller answers with a refusal).

    The body size is bounded by the service (:class:`riskengine.serve.api.BodySizeLimit`);
    here at most 200 fields and 2 files, the first value of each name kept.
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
"""Statement items of the score form (one statement, the latest)."""


def payload_from_form(form: FormData) -> tuple[dict[str, Any], list[str]]:
    """A debtor payload (the form of ``examples/debtor.json``) from the score form's key fields.

    Blank fields are left out (the payload's own validation says what is
    required). The statement's currency is the exposure's.

    Returns
    -------
    (dict, list of str)
        The payload, and problems with fields that are not numbers (named by
        their label, never echoing the value).

    Examples
    --------
    >>> p, bad = payload_from_form(FormData(fields={"debtor_id": "D-1", "revenue": "1,200",
    ...                                             "period_end": "2025-12-31", "ebitda": "x"}))
    >>> p["debtor"]["debtor_id"], p["statements"][0]["revenue"], bad
    ('D-1', 1200.0, ['statement ebitda: not a number'])
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
    statement: dict[str, Any] = {}
    for name in STATEMENT_FIELDS:
        value = number(name, f"statement {name}")
        if value is not None:
            statement[name] = value
    if statement or form.get("period_end"):
        statement["period_end"] = form.get("period_end")
        statement["statement_type"] = form.get("statement_type") or "audited"
        statement["currency"] = form.get("currency") or "EUR"
        payload["statements"] = [statement]
    return payload, problems
