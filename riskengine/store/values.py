"""Values in and out of the store's columns: strict JSON, ISO dates and timestamps, ids."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from riskengine.contracts.dates import parse_date
from riskengine.errors import InvalidInputError

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, dates and tuples made plain JSON; NaN/inf → None.

    Examples
    --------
    >>> jsonable({"pd": float("nan"), "d": dt.date(2026, 1, 2), "r": ("a",)})
    {'pd': None, 'd': '2026-01-02', 'r': ['a']}
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return jsonable(tolist())
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp, numpy datetime64
    if callable(isoformat):
        return isoformat()
    return str(value)


def _dumps(obj: Any) -> str:
    """Strict JSON text; plain data is dumped directly, anything else through :func:`jsonable`."""
    try:
        return json.dumps(obj, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return json.dumps(jsonable(obj), allow_nan=False, separators=(",", ":"))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _date(value: Any, field: str, record: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return parse_date(value, field, where=record)
    except InvalidInputError:
        raise InvalidInputError(
            f"{record}: {field} is not an ISO date (YYYY-MM-DD); give the date of the "
            "decision as e.g. '2026-06-30'.",
            [{"table": "decisions", "record": record, "debtor_id": None, "column": field,
              "value": None, "reason": "not_a_date", "message": f"{field} is not an ISO date"}],
        ) from None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table has an autoincrement key
        raise RuntimeError("the database returned no id for an insert")
    return int(key[0])


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in mapping.items()}


def _period(since: Any, until: Any) -> tuple[str | None, str | None, bool]:
    """Bounds on an ISO UTC timestamp column: (lower, upper, upper inclusive?).

    A date (or ``YYYY-MM-DD`` text) as ``until`` means the whole day: the upper
    bound is the next day, exclusive. A datetime is converted to UTC.
    """

    def stamp(v: Any) -> tuple[str, bool]:
        if isinstance(v, dt.datetime):
            v = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
            return v.astimezone(dt.UTC).isoformat(timespec="microseconds"), False
        if isinstance(v, dt.date):
            return v.isoformat(), True
        text = str(v).strip()
        if len(text) == 10:
            return parse_date(text, "period").isoformat(), True
        return stamp(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))

    lo = None if since is None or since == "" else stamp(since)[0]
    if until is None or until == "":
        return lo, None, False
    hi, is_day = stamp(until)
    if is_day:
        return lo, (dt.date.fromisoformat(hi) + dt.timedelta(days=1)).isoformat(), False
    return lo, hi, True
