"""The store reads for pages: debtors by id or name, their kept inputs and names (the
search page itself is :mod:`riskengine.serve.ui.book`'s: the register's pairs)."""

from __future__ import annotations

import json
from typing import Any

from riskengine.store import DecisionStore


def search_debtors(store: DecisionStore, query: str, *, limit: int = 50
                   ) -> list[dict[str, Any]]:
    """Debtors among the stored decisions whose id or name contains ``query`` (any case).

    Parameters
    ----------
    store : DecisionStore
    query : str
        Part of a debtor id or name; blank lists the most recently decided debtors.
    limit : int
        Most rows returned.

    Returns
    -------
    list of dict
        One row per debtor, most recent decision first: ``debtor_id``, ``name``
        (when the inputs were kept), ``decision_id``, ``supplier_id``, ``grade``,
        ``pd``, ``approved_limit``, ``currency``, ``as_of``, ``decided_at``.
    """
    import sqlalchemy as sa

    from riskengine.store.tables import decisions as d

    latest = (sa.select(sa.func.max(d.c.id).label("id"))
              .group_by(d.c.debtor_id).subquery())
    q = (sa.select(d.c.id, d.c.debtor_id, d.c.supplier_id, d.c.grade, d.c.pd,
                   d.c.approved_limit, d.c.as_of, d.c.decided_at, d.c.input_hash,
                   d.c.decision)
         .join(latest, d.c.id == latest.c.id).order_by(d.c.id.desc()))
    needle = query.strip().lower()
    names = _names_matching(store, needle) if needle else {}
    if needle:
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        cond: sa.ColumnElement[bool] = sa.func.lower(d.c.debtor_id).like(pattern, escape="\\")
        if names:
            cond = sa.or_(cond, d.c.debtor_id.in_(sorted(names)))
        q = q.where(cond)
    q = q.limit(int(limit))
    with store.connect() as conn:
        rows = list(conn.execute(q))
    out = []
    for r in rows:
        decision = dict(r.decision or {})
        out.append({"debtor_id": r.debtor_id, "decision_id": int(r.id),
                    "supplier_id": r.supplier_id, "grade": r.grade, "pd": r.pd,
                    "approved_limit": r.approved_limit, "currency": decision.get("currency"),
                    "as_of": r.as_of.isoformat() if r.as_of else None,
                    "decided_at": r.decided_at, "input_hash": r.input_hash,
                    "name": names.get(r.debtor_id)})
    missing = [row for row in out if row["name"] is None and row["input_hash"]]
    for row in missing[:limit]:
        row["name"] = _debtor_name(store, row["input_hash"])
    return out


def _names_matching(store: DecisionStore, needle: str, *, scan: int = 5000
                    ) -> dict[str, str]:
    """Debtor id -> name, for the kept inputs whose debtor name contains ``needle``."""
    import sqlalchemy as sa

    from riskengine.store.tables import inputs

    pattern = "%" + needle.replace("\\", "").replace("%", "").replace("_", "") + "%"
    q = (sa.select(inputs.c.payload).where(sa.func.lower(inputs.c.payload).like(pattern))
         .limit(scan))
    out: dict[str, str] = {}
    with store.connect() as conn:
        for (text,) in conn.execute(q):
            try:
                debtor = (json.loads(text) or {}).get("debtor") or {}
            except (ValueError, AttributeError):
                continue
            name, did = debtor.get("name"), debtor.get("debtor_id")
            if isinstance(name, str) and isinstance(did, str) and needle in name.lower():
                out[did] = name
    return out


def _inputs(store: DecisionStore, input_hash: Any) -> dict[str, Any] | None:
    """The payload kept under a decision's ``input_hash``, or None."""
    return store.inputs_for(str(input_hash)) if input_hash else None


def _debtor_name(store: DecisionStore, input_hash: Any) -> str | None:
    payload = _inputs(store, input_hash)
    if payload is None:
        return None
    name = (payload.get("debtor") or {}).get("name")
    return name if isinstance(name, str) else None


def _debtor_name_of(store: DecisionStore, debtor_id: str) -> str | None:
    """The name in the inputs kept with the debtor's latest stored decision (None: no
    decision of the debtor kept its inputs, e.g. a pair only a rerate run decided)."""
    import sqlalchemy as sa

    from riskengine.store.tables import decisions as d

    q = (sa.select(d.c.input_hash).where(d.c.debtor_id == debtor_id)
         .order_by(d.c.id.desc()).limit(1))
    with store.connect() as conn:
        digest = conn.execute(q).scalar()
    return _debtor_name(store, digest)
