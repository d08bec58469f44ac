"""What the HTTP API and the officer pages share (shell).

The JSON API (:mod:`riskengine.serve.api`) and the ``/ui`` pages (:mod:`riskengine.serve.ui`)
are two routers on one app; they share these helpers, never each other's
internals (FastAPI's "bigger applications"):

- error reports without submitted values: :func:`pydantic_details` and
  :func:`problem_details` turn validation errors into ``loc``/``type``/``msg``
  items that never echo a payload value;
- :func:`decide_and_store`: decide validated payloads with the clock of now
  and record the decisions with their inputs in one transaction; a payload without
  ``insurer_limits`` is decided with the register's (:func:`with_register_insurer`),
  and the debtors' requests to the insurer are replaced in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from riskengine.contracts.decision import MONEY_FIELDS
from riskengine.errors import InvalidInputError
from riskengine.features.fx import FxRates
from riskengine.io.console import money_rounded, rfc3339
from riskengine.policy.book import book_sector, caps_on
from riskengine.policy.insurer import request_columns
from riskengine.scoring.suppliers import SupplierBook
from riskengine.store import DecisionStore, jsonable
from riskengine.store.adverse import payload_adverse
from riskengine.store.decisions import StoredDecisions
from riskengine.store.idempotency import IdempotentRequest

__all__ = ["pydantic_details", "problem_details", "supplier_paths", "decide_payloads",
           "override_rerun", "response_json", "RESPONSE_MONEY",
           "decide_and_store", "with_register_insurer"]

#: The keys of the API's answers that are amounts of money (a decision's MONEY_FIELDS, a
#: funding check's amounts, the register's limits, the limit history's and the insurer
#: requests'): rounded to cents in the answer (:func:`response_json`), never in the store.
RESPONSE_MONEY: frozenset[str] = MONEY_FIELDS | {
    "limit", "amount", "eligible_amount", "approved", "unapproved", "over_limit",
    "ineligible", "advance", "service_commission", "discount_interest", "fees",
    "balance_on_collection", "old_limit", "new_limit", "previous_limit", "amount_requested",
    "granted_amount", "before", "after"}  # before/after: an alert's amounts


def response_json(value: Any) -> bytes:
    """An answer of the API as compact strict JSON (NaN as null), its money in cents.

    Examples
    --------
    >>> response_json({"expected_loss": 295.4001754955119, "pd": 0.0211000125, "x": None})
    b'{"expected_loss":295.4,"pd":0.0211000125,"x":null}'
    """
    try:  # plain data (the decisions are) is dumped as it is: one walk, not two
        text = json.dumps(money_rounded(value, RESPONSE_MONEY), allow_nan=False,
                          separators=(",", ":"))
    except (TypeError, ValueError):  # numpy integers, dates, NaN: made plain JSON first
        text = json.dumps(money_rounded(jsonable(value), RESPONSE_MONEY), allow_nan=False,
                          separators=(",", ":"))
    return text.encode()


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): ")
_REASON_TEXT = {
    "missing_column": "required field missing", "extra_column": "unknown field",
    "not_numeric": "must be a number", "negative": "must not be negative",
    "future_date": "date is after the reference date", "duplicate_key": "duplicate identifier",
    "unknown_category": "not an allowed value", "unknown_currency": "unknown currency",
    "identity_broken": "accounting identity broken", "unknown_debtor": "unknown debtor",
    "date_order": "dates in the wrong order", "missing_value": "value missing",
    "bad_id": "not a valid identifier", "above_maximum": "above the maximum",
    "below_minimum": "below the minimum",
    "out_of_range": "outside the allowed range", "unknown_policy": "unknown insurance policy",
    "unknown_supplier": "unknown supplier",
    "ambiguous_insurer_limit": "another insurer limit covers the same pairs",
    "missing_fx_rate": "no exchange rate in force for this currency on the decision date",
    "not_positive": "must be greater than 0", "base_rate_not_one": "the reporting "
    "currency's rate is 1", "currency_rejected": "the currency's rates are invalid",
}


_CODE = re.compile(r"^[a-z][a-z_]*$")  # vocabulary codes ('settled', 'audited') are not data


def _leaves(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, bool) or value is None or depth > 8:
        return
    if isinstance(value, (str, int, float)):
        yield str(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v, depth + 1)


def _redact(msg: str, value: Any) -> str:
    """``msg`` with every submitted value in ``value`` (scalars, or leaves of containers) removed."""
    for text in sorted(set(_leaves(value)), key=len, reverse=True):
        if _CODE.match(text):
            continue
        if len(text) >= 3:
            msg = msg.replace(text, "<redacted>")
        elif f"'{text}'" in msg or f'"{text}"' in msg:
            msg = msg.replace(f"'{text}'", "'<redacted>'").replace(f'"{text}"', "'<redacted>'")
    return msg


def pydantic_details(errors: Sequence[Mapping[str, Any]], prefix: Sequence[Any]
                      ) -> list[dict[str, Any]]:
    """FastAPI-style error items with ``loc``, ``type``, ``msg``: no ``input``, no ``ctx``."""
    out = []
    for e in errors:
        loc = [*prefix, *e.get("loc", ())]
        msg = _redact(str(e.get("msg", "")), e.get("input"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        sub = _FIELD_PREFIX.match(msg)
        if sub:  # a model validator names the field first: "due_date: before issue_date"
            loc += [int(x) if x.isdigit() else x for x in sub.group(1).split(".")]
            msg = msg[sub.end():]
        out.append({"loc": [int(p) if isinstance(p, int) else str(p) for p in loc],
                    "type": str(e.get("type", "value_error")), "msg": msg})
    return out


_RECORD_FIELD = {"statements": "period_end", "adverse_records": "record_id"}
"""The payload's record lists a problem can be placed in, and the field naming a record
(the second part of its table key; the first is the debtor's id)."""


def _record_index(records: Sequence[Any], table: str, record: str) -> int | None:
    """The position in ``records`` (a payload's statements or adverse records) of the
    record a problem names (``record``: its key, "<debtor id> <period end | record id>",
    as riskengine.validation.errors labels it), or None."""
    field = _RECORD_FIELD.get(table)
    parts = record.split(" ")
    if field is None or len(parts) != 2:
        return None
    for j, rec in enumerate(records):
        value = getattr(rec, field, None)
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        if text == parts[1]:
            return j
    return None


def _records_of(payloads: Sequence[Any] | None, pos: int | None, who: str, table: str,
                suppliers: Mapping[str, Sequence[Any]] | None) -> Sequence[Any]:
    """The records of ``table`` a problem of ``who`` is among: the debtor's (its payload
    at ``pos``), else the supplier's own (rated from the payload)."""
    if not payloads or table not in _RECORD_FIELD:
        return ()
    if pos is not None and 0 <= pos < len(payloads):
        return getattr(payloads[pos], table, ()) or ()
    if suppliers and who in suppliers:
        for p in payloads:
            for ex in p.pairs:
                if ex.supplier_id == who and ex.supplier.has_records:
                    return getattr(ex.supplier, table, ()) or ()
    return ()


def problem_details(exc: InvalidInputError, prefix: Sequence[Any],
                     positions: Mapping[str, int] | None = None, *,
                     table_in_path: bool = True,
                     suppliers: Mapping[str, Sequence[Any]] | None = None,
                     payloads: Sequence[Any] | None = None
                     ) -> list[dict[str, Any]]:
    """Error items of an :class:`InvalidInputError`, its values and sentences dropped.

    A problem of a payload names its field path; a problem found later (the
    engine's validation of the frames) is located by the payload's position in
    the array (``positions``: debtor id to index), the table and the column. A
    problem of a supplier's own records (rated from the payload) is located under the
    supplier object (``suppliers``: supplier id to its path, e.g.
    ``["exposure", "supplier"]``). With the ``payloads``, a problem of one statement or
    adverse record is placed at that record's position (``statements``, ``1``) and the
    item names it (``record``: ``statements[1]``, ``[2].statements[1]`` in an array,
    ``exposure.supplier.statements[0]``): which record broke, never its values.
    """
    out = []
    for p in exc.problems or [{}]:
        table = str(p.get("table") or "")
        column = str(p.get("column") or "")
        path = [int(x) if x.isdigit() else x for x in column.split(".") if x]
        record = None
        if table and table != "payload" and table_in_path:
            where: list[Any] = [table]
            who = str(p.get("debtor_id") or "")
            pos = (positions or {}).get(who)
            if positions is None and payloads is not None and len(payloads) == 1 and (
                    payloads[0].debtor.debtor_id == who):
                pos = 0
            if positions is not None and len(positions) > 1 and pos is not None:
                where = [pos, table]
            elif pos is None and suppliers and who in suppliers:
                where = [*suppliers[who], table]
            j = _record_index(_records_of(payloads, pos, who, table, suppliers), table,
                              str(p.get("record") or ""))
            if j is not None:
                where.append(j)
                record = ".".join(str(x) for x in where if not isinstance(x, int))
                head = f"[{where[0]}]." if isinstance(where[0], int) else ""
                record = f"{head}{record}[{j}]"
            path = [*where, *path]
        reason = str(p.get("reason") or "invalid")
        msg = str(p.get("message") or "") if table == "payload" else ""
        msg = _redact(msg, p.get("value")) if msg else _REASON_TEXT.get(reason, "invalid value")
        item = {"loc": [*prefix, *path], "type": reason, "msg": msg}
        if record is not None:
            item["record"] = record
        if item not in out:
            out.append(item)
    return out



def decide_payloads(engine: Any, payloads: list[Any], store: DecisionStore | None = None,
                    grades: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Decisions of validated payloads, one per pair (payload after payload, each in its
    exposures' order): ``decide_payload`` (the engine's single-debtor fast path, every
    pair of the payload in one call) for one, ``score_payloads`` (the batch path) for
    several; the shell passes the clock: ``decided_at`` (UTC now) and
    ``reference_date`` (today).

    With a ``store`` and a policy that caps the book, the request's pairs are capped
    together against the rest of the book as the limit register holds it
    (:meth:`~riskengine.store.DecisionStore.book_rest`, on the latest ``as_of`` of the
    request, every limit converted into the reporting currency): their connected groups
    (CRR art. 395), sectors and countries, by the same rule and function as a rerate's
    whole-book pass (:func:`riskengine.policy.book.cap_alone`). Payloads without
    ``fx_rates`` are decided with the store's rates in force on their date
    (:meth:`~riskengine.store.DecisionStore.fx_rates_on`).

    With a ``store``, the pairs' suppliers are known from the register as well
    (:meth:`~riskengine.store.DecisionStore.supplier_book`): a supplier's own rating (its
    latest rating as a debtor in force) and the dispersion of its debtors, where the
    payload gives none (issue 16).

    ``grades``: an officer's grade by debtor id (an override re-run, issue 18), decided by
    the engine's own core (the engine's methods must take ``grades``)."""
    now = dt.datetime.now(dt.UTC)
    kw: dict[str, Any] = {
        "decided_at": rfc3339(now),  # the one timestamp format (RFC 3339, Z)
        "reference_date": now.date().isoformat()}
    policy = getattr(engine, "policy", None)
    days = {p.as_of or now.date() for p in payloads}
    fx = None  # the store's rates (those in force on the one day, or every row)
    stored_fx: FxRates | None = None  # read once: the suppliers' book converts at them too
    if store is not None and policy is not None:
        base = policy.book.currency
        stored_fx = store.fx_rates_on(next(iter(days)), base) if len(days) == 1 else \
            store.fx_table(base)
        fx = stored_fx if len(stored_fx) else None
    if store is not None and policy is not None and caps_on(policy.book):
        day = max(days, default=now.date())
        kw["book_rest"] = store.book_rest(
            excluding=[p.debtor.debtor_id for p in payloads],
            groups=sorted({p.debtor.group_id for p in payloads if p.debtor.group_id}),
            as_of=day, currency=policy.book.currency, rates=fx)
    if fx is not None and not any(p.fx_rates for p in payloads):  # the payloads' rates win
        kw["fx"] = fx
    one = getattr(engine, "decide_payload", None)
    methods = [m for m in (one, getattr(engine, "score_payloads", None)) if m is not None]
    if store is not None and methods and all(_takes_book(m) for m in methods):
        book = _supplier_book(store, payloads, policy, now.date(), stored_fx)
        if book.ratings or book.debtor_hhi:
            kw["supplier_book"] = book
    if grades:
        kw["grades"] = dict(grades)
    if one is not None and len(payloads) == 1:
        return [dict(d) for d in one(payloads[0], **kw)]
    return [dict(d) for d in engine.score_payloads(payloads, **kw)]


def supplier_paths(payloads: Sequence[Any], is_list: bool) -> dict[str, list[Any]]:
    """The path of each supplier given with its own records, by supplier id (the first
    payload naming it): ``[i,] "exposure", "supplier"`` or ``[i,] "exposures", j,
    "supplier"``."""
    out: dict[str, list[Any]] = {}
    for i, p in enumerate(payloads):
        for j, ex in enumerate(p.pairs):
            if ex.supplier.has_records and ex.supplier_id not in out:
                at: list[Any] = ["exposure"] if p.exposure is not None else ["exposures", j]
                out[ex.supplier_id] = [*([i] if is_list else []), *at, "supplier"]
    return out


def _takes_book(method: Any) -> bool:
    """Whether an engine's method takes a ``supplier_book`` (riskengine's engine does; an
    engine of another kind decides without the register's suppliers)."""
    return method is not None and _takes(method, "supplier_book")


def _supplier_book(store: DecisionStore, payloads: list[Any], policy: Any,
                   today: dt.date, stored_fx: FxRates | None = None) -> SupplierBook:
    """The register's ratings and debtor dispersion of the payloads' suppliers (each
    supplier as of the first payload naming it; its limits converted into the reporting
    currency at the rates in force on that day). ``stored_fx``: the store's rates as the
    caller read them in the same snapshot (in force on every day of the payloads; None:
    read here)."""
    ratings: dict[str, str | None] = {}
    hhi: dict[str, float | None] = {}
    by_day: dict[dt.date, dict[str, str]] = {}
    seen: set[str] = set()
    for p in payloads:
        for ex in p.pairs:
            if ex.supplier_id not in seen:
                seen.add(ex.supplier_id)
                by_day.setdefault(p.as_of or today, {})[ex.supplier_id] = ex.currency
    base = policy.book.currency
    for day, currencies in by_day.items():
        # the limits converted at the rates in force on the day: the store's, a payload's
        # own rows first (as its decision converts)
        on = stored_fx if stored_fx is not None else store.fx_rates_on(day, base)
        rates = {base: 1.0, **on.mapping_at(day)}
        for p in payloads:
            if p.fx_rates and (p.as_of or today) == day:
                try:
                    rates.update(FxRates.from_rows(((r.date, r.currency, r.rate)
                                                    for r in p.fx_rates), base).mapping_at(day))
                except InvalidInputError:  # the decision reports the payload's bad rows
                    pass
        got = store.supplier_book(currencies, as_of=day, policy=policy, rates=rates)
        ratings.update(got.ratings)
        hhi.update(got.debtor_hhi)
    return SupplierBook(ratings, hhi)


Render = Callable[[list[dict[str, Any]], list[int], list[dict[str, Any] | None]], bytes]


def decide_and_store(engine: Any, store: DecisionStore, payloads: list[Any], *,
                     idempotency: tuple[str, str, Render] | None = None
                     ) -> tuple[list[dict[str, Any]], StoredDecisions]:
    """Decide payloads and store the decisions with their inputs in one transaction; the
    register gets each pair's limit by the engine's policy (notice, knock-outs) with the
    pair's approved outstanding. Decisions and ids: one per pair (:func:`decide_payloads`).
    ``idempotency``: ``(key, body sha256, render)``, where ``render(decisions, ids,
    register)`` is the response body kept under the key."""
    with store.snapshot():  # the request's reads see one state of the store
        payloads = with_register_insurer(payloads, store)
        decisions = decide_payloads(engine, payloads, store)
    pairs = [(p, ex) for p in payloads for ex in p.pairs]
    if len(pairs) != len(decisions):
        raise ValueError(f"decide_and_store: {len(decisions)} decisions for "
                         f"{len(pairs)} pairs")
    records = []
    for (_, ex), d in zip(pairs, decisions, strict=True):
        rec = dict(d)
        rec.setdefault("supplier_id", ex.supplier_id)
        rec.setdefault("currency", ex.currency)
        if ex.product is not None:
            rec.setdefault("product", ex.product)
        records.append(rec)
    inputs = {str(d["input_hash"]): p  # the store keeps p.model_dump_json(), not re-parsed
              for (p, _), d in zip(pairs, decisions, strict=True) if d.get("input_hash")}
    request = None
    if idempotency is not None:
        key, body_hash, render = idempotency
        request = IdempotentRequest(key, body_hash,
                                    lambda ids, register: render(decisions, ids, register))
    # one transaction for the decisions and their inputs: none stored without the other
    policy = getattr(engine, "policy", None)
    requests = None
    if policy is not None and records and "limit_before_insurer" in records[0]:
        needed = ("debtor_id", "supplier_id", "currency", "product", "approved_limit",
                  "insured_limit", "insured_amount", "cover_basis", "insurer_policy_id",
                  "insurer_status", "limit_before_insurer")  # what the request list reads
        requests = (request_columns({k: [r.get(k) for r in records] for k in needed},
                                    policy),
                    [p.debtor.debtor_id for p in payloads])
    adverse: dict[str, Any] = {}  # the adverse records each debtor's decision saw
    for (p, _), d in zip(pairs, decisions, strict=True):
        debtor = str(p.debtor.debtor_id)
        if p.adverse_records and debtor not in adverse:
            adverse[debtor] = payload_adverse(debtor, p.adverse_records,
                                              dt.date.fromisoformat(str(d["as_of"])[:10]))
    stored = store.store_decisions(
        records, inputs=inputs, policy=policy, adverse=adverse,
        exposures=[{"approved_outstanding": ex.approved_outstanding,  # and the book keys
                    "sector": book_sector(p.debtor.nace), "country": p.debtor.country}
                   for p, ex in pairs],
        idempotency=request, insurer_requests=requests)
    return decisions, stored


def with_register_insurer(payloads: list[Any], store: DecisionStore) -> list[Any]:
    """The payloads, each without ``insurer_limits`` given the register's insurer limits
    on its debtor (:meth:`~riskengine.store.DecisionStore.insurer_limits_of`): the service
    decides with the insurer limits it holds; a payload that gives its own keeps them.
    The stored inputs are the payloads as decided, insurer limits included."""
    ask = [p.debtor.debtor_id for p in payloads if not p.insurer_limits]
    if not ask:
        return payloads
    rows = store.insurer_limit_states(ask)
    if not rows:
        return payloads
    from riskengine.contracts.payload import InsurerLimit

    by_debtor: dict[str, list[Any]] = {}
    for rec in rows:
        did = str(rec["debtor_id"])
        by_debtor.setdefault(did, []).append(InsurerLimit.model_validate(
            {k: v for k, v in rec.items() if k != "debtor_id"}))
    return [p.model_copy(update={"insurer_limits": by_debtor[p.debtor.debtor_id]})
            if not p.insurer_limits and p.debtor.debtor_id in by_debtor else p
            for p in payloads]




def override_rerun(engine: Any, store: DecisionStore, decision: Mapping[str, Any]
                   ) -> Callable[[str, float | None], dict[str, Any] | None] | None:
    """The re-run an override needs (:data:`riskengine.policy.overrides.Rerun`): the
    decision's kept inputs decided again by the engine's core (the service's own path:
    the register's insurer limits, book and suppliers) at an officer's grade and,
    optionally, another requested limit for the decision's pair. None when the inputs
    were not kept, the engine is not loaded or cannot take a grade."""
    from riskengine.contracts.payload import parse_payload

    methods = [getattr(engine, n, None) for n in ("decide_payload", "score_payloads")]
    if engine is None or not all(_takes(m, "grades") for m in methods if m is not None):
        return None
    kept = store.inputs_for(str(decision.get("input_hash") or "")) if decision.get(
        "input_hash") else None
    if kept is None:
        return None
    sid = decision.get("supplier_id")
    did = str(decision.get("debtor_id"))

    def rerun(grade: str, requested: float | None) -> dict[str, Any] | None:
        data = dict(kept)
        if requested is not None:
            if data.get("exposure") is not None:
                data["exposure"] = {**data["exposure"], "requested_limit": float(requested)}
            else:
                data["exposures"] = [
                    {**ex, "requested_limit": float(requested)}
                    if ex.get("supplier_id") == sid else ex for ex in data["exposures"]]
        p = parse_payload(data)
        with store.snapshot():
            payloads = with_register_insurer([p], store)
            out = decide_payloads(engine, payloads, store, grades={did: str(grade)})
        pairs = [ex.supplier_id for ex in p.pairs]
        return out[pairs.index(sid)] if sid in pairs else None

    return rerun


def _takes(method: Any, name: str) -> bool:
    """Whether ``method`` has a parameter ``name`` (asked on every request: the answer is
    kept by the method's function and class, ``inspect.signature`` costs ~40 us)."""
    key = (getattr(method, "__func__", method), type(getattr(method, "__self__", None)), name)
    try:
        return _TAKES[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable: asked each time
        return _signature_has(method, name)
    got = _TAKES[key] = _signature_has(method, name)
    return got


_TAKES: dict[tuple[Any, Any, str], bool] = {}


def _signature_has(method: Any, name: str) -> bool:
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
