"""How the officer's pages show values (the templates' filters) and the templates' environment."""

from __future__ import annotations

import math
import re
from typing import Any

import jinja2


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, (bool, jinja2.Undefined)):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt_money(value: Any, currency: Any = None) -> str:
    """``350,000 EUR`` (cents below 1,000); ``—`` for no number.

    Examples
    --------
    >>> fmt_money(350000.0, "EUR"), fmt_money(295.4), fmt_money(None)
    ('350,000 EUR', '295.40', '—')
    """
    v = _finite(value)
    if v is None:
        return "—"
    text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}"
    return f"{text} {currency}" if currency else text


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage: ``fmt_pct(0.0211) == '2.11 %'``; ``—`` for no number."""
    v = _finite(value)
    return "—" if v is None else f"{100 * v:.{digits}f} %"


def fmt_num(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; ``—`` for no number."""
    v = _finite(value)
    return "—" if v is None else f"{v:,.{digits}f}"


def fmt_time(value: Any) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC`` (dates and other text unchanged)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return "—"
    text = str(value)
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)} UTC" if m else text


def _words(code: Any) -> str:
    return str(code).replace("_", " ")


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskengine", "templates"),
        autoescape=True, undefined=jinja2.ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(money=fmt_money, pct=fmt_pct, num=fmt_num, when=fmt_time, words=_words)
    return env
