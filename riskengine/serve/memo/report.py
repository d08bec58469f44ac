"""``riskengine report``: the memo of one debtor written to an HTML file."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.serve.memo.context import _debtor_frames, memo_context
from riskengine.serve.memo.render import memo_from_store, render_memo


def report_command(args: Any) -> int:
    """``riskengine report --debtor ID [--supplier ID] [--portfolio DIR | --store URL]
    [--as-of DATE] [--out FILE] [--model-dir DIR] [--policy FILE]``.

    With ``--portfolio`` the debtor is decided from the portfolio (as of
    ``--as-of`` or the manifest's date) and the portfolio gives the sector
    peers; otherwise the latest stored decision and its recorded inputs are
    read from the store (``--store`` or the default store), which must exist
    (a missing SQLite store is refused, not created). Writes the HTML memo to
    ``--out`` (default ``memo-<debtor>.html`` in the working directory, the id
    sanitised by :func:`riskengine.io.outputs.safe_file_stem`) and prints its path.
    """
    from pathlib import Path

    from riskengine.api import load_engine
    from riskengine.contracts.dates import batch_as_of
    from riskengine.io.console import rfc3339, set_result
    from riskengine.io.outputs import safe_file_stem

    debtor = str(args.debtor)
    supplier = getattr(args, "supplier", None)
    now = rfc3339(_dt.datetime.now(_dt.UTC))  # the one timestamp format (RFC 3339, Z)
    out = Path(getattr(args, "out", None) or f"memo-{safe_file_stem(debtor)}.html")
    portfolio = getattr(args, "portfolio", None)
    store: Any = None if portfolio else _open_store(getattr(args, "store", None)
                                                    or getattr(args, "store_url", None))
    engine = load_engine(model_dir=getattr(args, "model_dir", None),
                         policy_path=getattr(args, "policy", None))
    if portfolio:
        from riskengine.io.portfolio import read_portfolio

        frames, manifest = read_portfolio(portfolio)
        day = batch_as_of(getattr(args, "as_of", None), manifest.get("as_of"),
                          allow_after_extract=getattr(args, "allow_as_of_after_extract", False))
        as_of = day.isoformat()
        sub = _debtor_frames(frames, debtor, None)
        if sub["debtors"].empty:
            raise InvalidInputError(f"debtor {debtor!r} is not in the portfolio "
                                    f"{portfolio}; check the id.")
        ex = sub.get("exposures", pd.DataFrame())
        sids = set(ex["supplier_id"].astype("str")) if len(ex) else set()
        if "suppliers" in sub:
            s = sub["suppliers"]
            sub["suppliers"] = s[s["supplier_id"].astype("str").isin(sids).to_numpy(dtype=bool)]
        batch = engine.decide(sub, as_of, decided_at=now)
        dicts = batch.to_dicts()
        if supplier:
            dicts = [x for x in dicts if x["supplier_id"] == supplier]
        if not dicts:
            msg = "; ".join(str(m) for m in batch.errors["message"].head(3)) if len(
                batch.errors) else "it has no exposure"
            raise InvalidInputError(f"debtor {debtor!r} could not be decided: {msg}")
        src = f"portfolio {portfolio}" + (" (SYNTHETIC)" if manifest.get("synthetic") else "")
        ctx = memo_context(engine, frames, dicts[0], peers=frames, source=src,
                           generated_at=now)
        html = render_memo(ctx)
    else:
        with store:
            try:
                html = memo_from_store(engine, store, debtor, supplier_id=supplier,
                                       generated_at=now)
            except LookupError as exc:
                raise InvalidInputError(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    print(out)
    set_result(args, {"memo": str(out), "debtor": debtor, "generated_at": now})
    return 0


def _open_store(url: str | None) -> Any:
    """The decision store at ``url`` (default store: None), never created here."""
    from riskengine.store import DecisionStore

    try:
        return DecisionStore(url, create=False)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc} Give --store with the URL of an existing "
                                "store, or --portfolio DIR.") from None
