"""HTML forms of the officer's pages: parsing a POSTed body (:func:`parse_form`) and the
score form's key fields as a debtor payload (:func:`payload_from_form`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class FormData:
    """Fields (first value of each name) and uploaded files (name -> (filename, bytes))."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """The field's value stripped of surrounding blanks (``default`` when absent)."""
        return self.fields.get(name, default).strip()


def parse_form(content_type: str, body: bytes) -> FormData:
    """Parse an HTML form body: ``application/x-www-form-urlencoded`` or ``multipart/form-data``.

    Parameters
    ----------
    content_type : str
        The request's ``Content-Type`` header.
    body : bytes
        The request body (already size-limited by the service).

    Returns
    -------
    FormData

    Raises
    ------
    ValueError
        The body is not UTF-8 text where text is expected, or the content type is
        neither of the two.

    Examples
    --------
    >>> parse_form("application/x-www-form-urlencoded", b"q=GR-D%2A&x=1&x=2").fields
    {'q': 'GR-D*', 'x': '1'}
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    out = FormData()
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8")
        for k, v in parse_qsl(text, keep_blank_values=True, max_num_fields=200):
            out.fields.setdefault(k, v)
        return out
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
        msg = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
        if not msg.is_multipart():
            raise ValueError("multipart body without parts")
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                out.files.setdefault(name, (str(filename), bytes(data)))
            else:
                out.fields.setdefault(name, bytes(data).decode("utf-8"))
        return out
    raise ValueError(f"unsupported form content type {kind!r}")


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
