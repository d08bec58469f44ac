"""What the command line prints and writes, at its edge (shell).

- **Timestamps**: one format, RFC 3339 in UTC with a ``Z`` (``2026-06-30T12:00:00Z``):
  :func:`utc_stamp`, :func:`rfc3339`.
- **Money**: amounts rounded to cents when they leave the program (:func:`money_rounded`
  on decisions; the core keeps full precision). The money fields of a decision are
  :data:`riskengine.contracts.decision.MONEY_FIELDS`.
- **``--json``**: a command records its result with :func:`set_result`; under ``--json``
  the command line prints that object (money rounded) on standard output and sends the
  human text to standard error (:mod:`riskengine.cli`).
- **Progress**: :func:`progress` counts items (debtors) on standard error: a tqdm bar on a
  terminal, and one closing line for a phase that took :data:`LONG_PHASE_S` or more (a
  quick phase stays quiet off a terminal).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["utc_stamp", "rfc3339", "stamp_text", "money_rounded", "set_result", "get_result",
           "print_json", "progress", "Progress", "RESULT_ATTR"]

#: A phase at least this long (seconds) says so when it ends.
LONG_PHASE_S = 1.0
#: Attribute of the parsed arguments holding a command's result (set_result).
RESULT_ATTR = "_result"


def rfc3339(moment: dt.datetime) -> str:
    """``moment`` as RFC 3339 text in UTC with ``Z``, to the second (a naive datetime is
    taken as UTC).

    Examples
    --------
    >>> rfc3339(dt.datetime(2026, 6, 30, 14, 0, 5, 123456, tzinfo=dt.UTC))
    '2026-06-30T14:00:05Z'
    >>> rfc3339(dt.datetime(2026, 6, 30, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    '2026-06-30T14:00:00Z'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp_text(value: Any) -> Any:
    """A stored timestamp (a datetime, or ISO 8601 text with an offset) as :func:`rfc3339`
    text; None and text that is not a timestamp come back unchanged.

    Examples
    --------
    >>> stamp_text("2026-12-07T15:40:06.321738+00:00")
    '2026-12-07T15:40:06Z'
    """
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, str) and "T" in value:
        try:
            return rfc3339(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def utc_stamp() -> str:
    """Now, as :func:`rfc3339` text."""
    return rfc3339(dt.datetime.now(dt.UTC))


def _cents(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 2) + 0.0  # + 0.0: no "-0.0"
    return value


def money_rounded(obj: Any, names: frozenset[str] | None = None) -> Any:
    """A copy of a decision dict (or a list or dict of them, nested) with its money fields
    (``names``, default a decision's MONEY_FIELDS) rounded to cents; other values unchanged.

    Examples
    --------
    >>> money_rounded({"approved_limit": 34999.99999999999, "pd": 0.0211000125})
    {'approved_limit': 35000.0, 'pd': 0.0211000125}
    >>> money_rounded([{"expected_loss": 295.4001754955119, "currency": "EUR"}])
    [{'expected_loss': 295.4, 'currency': 'EUR'}]
    """
    if names is None:
        from riskengine.contracts.decision import MONEY_FIELDS

        names = MONEY_FIELDS
    if isinstance(obj, Mapping):
        return {k: (_cents(v) if k in names else money_rounded(v, names))
                for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [money_rounded(v, names) for v in obj]
    return obj


def set_result(args: Any, result: Any) -> None:
    """Record ``result`` (JSON-able) as what the command printed, for ``--json``."""
    setattr(args, RESULT_ATTR, result)


def get_result(args: Any) -> Any:
    """The result recorded by :func:`set_result`, or None."""
    return getattr(args, RESULT_ATTR, None)


def print_json(obj: Any, stream: IO[str] | None = None) -> None:
    """``obj`` as indented JSON (money rounded to cents, strict: no NaN) and a newline."""
    out = stream if stream is not None else sys.stdout
    json.dump(_finite(money_rounded(obj)), out, indent=2, default=str, allow_nan=False)
    out.write("\n")


def _finite(obj: Any) -> Any:
    """NaN and infinities as null (JSON has neither)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


class Progress:
    """A phase's progress in items (debtors; ``unit=""``: a phase without a count, shown
    by its time): ``update(n)`` as they are done."""

    def __init__(self, total: int | None, desc: str, unit: str, stream: IO[str]) -> None:
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.done = 0
        self.start = time.perf_counter()
        self.bar: Any = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=stream,
                            leave=False, dynamic_ncols=True, unit_scale=True)

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        if self.bar is not None:
            self.bar.update(int(n))

    def close(self, failed: bool = False) -> None:
        if self.bar is not None:
            self.bar.close()
        took = time.perf_counter() - self.start
        if failed or (took < LONG_PHASE_S and self.bar is None):
            return
        count = self.total if self.total is not None and self.done == 0 else self.done
        plural = "" if count == 1 else "s"
        what = f"{count:,} {self.unit}{plural} " if self.unit and count is not None else ""
        self.stream.write(f"{self.desc}: {what}in {took:.1f} s\n")
        self.stream.flush()


@contextmanager
def progress(total: int | None, desc: str, unit: str = "debtor",
             stream: IO[str] | None = None) -> Iterator[Progress]:
    """Show a phase's progress on standard error, counted in ``unit`` (debtors).

    A phase done in one call (the engine's load, a batch decided at once) may never call
    ``update``: its closing line then counts ``total``.
    """
    bar = Progress(total, desc, unit, stream if stream is not None else sys.stderr)
    try:
        yield bar
    except BaseException:
        bar.close(failed=True)  # the error's one line says what happened
        raise
    bar.close()
