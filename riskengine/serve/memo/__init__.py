"""The credit officer's decision memo: one page of HTML per supplier-debtor decision.

Two steps, kept apart so that the web page and the command line share them:

- :func:`memo_context` assembles plain data (strings, numbers, lists, dicts)
  from the engine, the debtor's records and the decision: the decision box,
  the reason codes in plain words, the ratio table with its trend lines, the
  adverse-record timeline, payment behaviour, concentration, the debtor's
  position in its NACE section, the versions and any overrides.
- :func:`render_memo` renders that context with the Jinja2 template
  ``riskengine/templates/memo.html.j2`` (autoescaped: every value from the
  data is escaped). Charts are inline SVG drawn here from numbers only.

:func:`memo_from_store` and :func:`memo_from_payload` are the one-call forms
the web page uses; :func:`report_command` is ``riskengine report``.

Notes
-----
Amounts are in the decision's currency. PDs are shown as percentages with two
decimals (``0.0211`` -> ``2.11 %``). The memo recomputes features from the
inputs as of the decision's ``as_of`` date with the engine given; when that
engine's versions differ from the decision's, the memo says so.

Modules: ``words`` (plain words, number formats), ``charts`` (inline SVG), ``sections``
(each part of the memo as data), ``context`` (:func:`memo_context`), ``render``
(:func:`render_memo` and the one-call forms), ``report`` (:func:`report_command`).
"""

from __future__ import annotations

from riskengine.serve.memo.charts import sparkline_svg
from riskengine.serve.memo.context import memo_context
from riskengine.serve.memo.render import memo_from_payload, memo_from_store, render_memo
from riskengine.serve.memo.report import report_command
from riskengine.serve.memo.words import (
    CONSTRAINT_WORDS,
    GRADE_WORDS,
    RATIO_ROWS,
    SECTOR_RATIOS,
    fmt_money,
    fmt_pct,
    fmt_pd,
)

__all__ = [
    "GRADE_WORDS",
    "RATIO_ROWS",
    "SECTOR_RATIOS",
    "CONSTRAINT_WORDS",
    "fmt_pd",
    "fmt_money",
    "fmt_pct",
    "sparkline_svg",
    "memo_context",
    "render_memo",
    "memo_from_payload",
    "memo_from_store",
    "report_command",
]
