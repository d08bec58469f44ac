"""The memo as HTML: :func:`render_memo` (the Jinja2 template ``memo.html.j2``), and the
one-call forms from a payload and from the store."""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Mapping
from typing import Any

import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.io.console import rfc3339
from riskengine.serve.memo.context import memo_context


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """The Jinja2 environment (built once: templates are compiled once per process)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("riskengine", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True)


def render_memo(context: Mapping[str, Any]) -> str:
    """Render a :func:`memo_context` as one self-contained HTML page.

    Every value is HTML-escaped (Jinja2 autoescape) except the ``*_svg``
    charts, which :func:`memo_context` draws from numbers and escaped text.

    Returns
    -------
    str
        The HTML document (inline CSS, inline SVG; no external resource).
    """
    template = _environment().get_template("memo.html.j2")
    return str(template.render(**context))


def memo_from_payload(engine: Any, payload: Any, *, decision: Any = None,
                      peers: Mapping[str, pd.DataFrame] | None = None,
                      generated_at: str | None = None) -> str:
    """The memo of a payload (decided now unless ``decision`` is given), as HTML.

    A payload without ``as_of`` is decided as of today (the shell's clock).
    """
    if decision is None:
        now = _dt.datetime.now(_dt.UTC)
        decision = engine.decide_one(payload, as_of=now.date().isoformat(),
                                     decided_at=rfc3339(now),
                                     reference_date=now.date().isoformat())
    return render_memo(memo_context(engine, payload, decision, peers=peers,
                                    source="the debtor's records as submitted",
                                    generated_at=generated_at))


def memo_from_store(engine: Any, store: Any, debtor_id: str, *, supplier_id: str | None = None,
                    peers: Mapping[str, pd.DataFrame] | None = None,
                    generated_at: str | None = None) -> str:
    """The memo of a debtor's latest stored decision, from the store's ``inputs`` table.

    Raises
    ------
    LookupError
        No stored decision for the debtor (and supplier).
    InvalidInputError
        The decision's inputs are not in the store (decided before the
        service recorded inputs): score the debtor again.
    """
    d = store.latest_decision(debtor_id, supplier_id)
    if d is None:
        who = f"debtor {debtor_id!r}" + (f" / supplier {supplier_id!r}" if supplier_id else "")
        raise LookupError(f"no stored decision for {who}; score it first.")
    payload = store.inputs_for(d.get("input_hash") or "")
    if payload is None:
        raise InvalidInputError(
            f"the inputs of decision {d.get('decision_id')} of debtor {debtor_id!r} (input hash "
            f"{str(d.get('input_hash'))[:12]}...) are not in the store; score the debtor again "
            "so that its inputs are recorded.")
    ctx = memo_context(engine, payload, d, peers=peers, overrides=store.overrides(debtor_id),
                       source=f"store, decision {d.get('decision_id')}",
                       generated_at=generated_at)
    return render_memo(ctx)
