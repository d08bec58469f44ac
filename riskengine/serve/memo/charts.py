"""The memo's charts as inline SVG, drawn from numbers only (text is escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from markupsafe import escape

from riskengine.serve.memo.words import _num

_TIER_COLOUR = ("#9aa5b1", "#e0a526", "#d9822b", "#c23030", "#7a1010")


def sparkline_svg(values: Sequence[Any], *, width: int = 84, height: int = 20) -> str:
    """A small trend line of the values (missing values break the line).

    Examples
    --------
    >>> sparkline_svg([1.0, 2.0, None, 1.5]).startswith("<svg")
    True
    """
    vals = [_num(v) for v in values]
    ok = [v for v in vals if v is not None]
    head = (f'<svg class="spark" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="trend">')
    if len(ok) < 2:
        return head + "</svg>"
    lo, hi = min(ok), max(ok)
    span = hi - lo or 1.0
    n = len(vals)
    pad = 3.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1))
        y = height - pad - (height - 2 * pad) * ((v - lo) / span)
        return round(x, 1), round(y, 1)

    parts: list[list[tuple[float, float]]] = []
    seg: list[tuple[float, float]] = []
    for i, v in enumerate(vals):
        if v is None:
            if len(seg) > 1:
                parts.append(seg)
            seg = []
            continue
        seg.append(xy(i, v))
    if len(seg) > 1:
        parts.append(seg)
    lines = "".join('<polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="'
                    + " ".join(f"{x},{y}" for x, y in s) + '"/>' for s in parts)
    last = next((i, v) for i, v in reversed(list(enumerate(vals))) if v is not None)
    cx, cy = xy(*last)
    return head + lines + f'<circle cx="{cx}" cy="{cy}" r="2" fill="#2b6cb0"/></svg>'


def _dbt_svg(points: list[dict[str, Any]], *, width: int = 480, height: int = 96) -> str:
    """Days beyond terms per invoice (bars, oldest due date first)."""
    head = (f'<svg class="chart" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="days beyond terms per invoice">')
    pts = [p for p in points if p["dbt"] is not None]
    if not pts:
        return head + '<text x="4" y="14" font-size="10">no payment experience</text></svg>'
    top = max(30.0, max(float(p["dbt"]) for p in pts))
    base, left = height - 14, 26
    bw = (width - left - 4) / len(pts)
    out = [head]
    for d in (30.0, 60.0, 90.0):
        if d <= top:
            y = round(base - (base - 6) * d / top, 1)
            out.append(f'<line x1="{left}" x2="{width - 2}" y1="{y}" y2="{y}" '
                       'stroke="#ccd" stroke-dasharray="2,2"/>'
                       f'<text x="2" y="{y + 3}" font-size="8" fill="#667">{d:.0f}d</text>')
    for i, p in enumerate(pts):
        h = max(2.0, (base - 6) * float(p["dbt"]) / top)
        colour = "#c23030" if p["status"] == "open overdue" else (
            "#d9822b" if float(p["dbt"]) > 0 else "#38a169")
        out.append(f'<rect x="{round(left + i * bw + 1, 1)}" y="{round(base - h, 1)}" '
                   f'width="{round(max(bw - 2, 1), 1)}" height="{round(h, 1)}" '
                   f'fill="{colour}"><title>{escape(p["invoice_id"])}: '
                   f'{float(p["dbt"]):.0f} days</title></rect>')
    out.append(f'<line x1="{left}" x2="{width - 2}" y1="{base}" y2="{base}" stroke="#556"/>')
    out.append(f'<text x="{left}" y="{height - 2}" font-size="8" fill="#667">'
               f'{escape(pts[0]["due_date"])}</text>')
    out.append(f'<text x="{width - 2}" y="{height - 2}" font-size="8" fill="#667" '
               f'text-anchor="end">{escape(pts[-1]["due_date"])}</text></svg>')
    return "".join(out)


def _timeline_svg(events: list[dict[str, Any]], as_of: str, recent_days: int, *,
                  width: int = 480, height: int = 44) -> str:
    """Adverse records on a time axis; the knock-out look-back window shaded."""
    end = np.datetime64(as_of, "D")
    dates = [np.datetime64(e["event_date"], "D") for e in events]
    start = min([end - np.timedelta64(6 * 365, "D"), *dates])
    span = max(1, int((end - start).astype(int)))
    left, right = 4, width - 4

    def x(d: np.datetime64) -> float:
        return round(left + (right - left) * int((d - start).astype(int)) / span, 1)

    win = x(max(start, end - np.timedelta64(int(recent_days), "D")))
    out = [f'<svg class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="adverse record timeline">',
           f'<rect x="{win}" y="4" width="{round(right - win, 1)}" height="22" '
           'fill="#fdf0e6"/>',
           f'<line x1="{left}" x2="{right}" y1="15" y2="15" stroke="#556"/>']
    for e, d in zip(events, dates, strict=True):
        out.append(f'<circle cx="{x(d)}" cy="15" r="5" fill="{_TIER_COLOUR[e["tier"]]}">'
                   f'<title>{escape(e["event_date"])} {escape(e["event"])}</title></circle>')
    out.append(f'<text x="{left}" y="{height - 4}" font-size="8" fill="#667">'
               f'{escape(str(start))}</text>')
    out.append(f'<text x="{right}" y="{height - 4}" font-size="8" fill="#667" '
               f'text-anchor="end">{escape(as_of)}</text></svg>')
    return "".join(out)
