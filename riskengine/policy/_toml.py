"""Reading the policy's TOML tables: the checks behind every :class:`PolicyError` that names
a dotted key (shared by :mod:`riskengine.policy.credit_policy` and its sections)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from riskengine.errors import PolicyError


def _fail(key: str, value: Any, problem: str, todo: str) -> PolicyError:
    return PolicyError(f"credit policy: {key} = {value!r}: {problem}. {todo}", key=key)


def _number(d: Mapping[str, Any], key: str, name: str) -> float:
    if name not in d:
        raise _fail(f"{key}.{name}", None, "missing", f"Add '{name}' to [{key}].")
    value = d[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{key}.{name}", value, "not a number", "Give a number.")
    return float(value)


def _check_keys(d: Any, key: str, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise _fail(key, d, "not a table", f"Make [{key}] a TOML table.")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _fail(
            f"{key}.{unknown[0]}" if key else unknown[0], d[unknown[0]], "unknown key",
            f"Remove it or correct its spelling; allowed keys: {', '.join(sorted(allowed))}.",
        )
    missing = sorted(required - set(d))
    if missing:
        where = f"[{key}]" if key else "the top level"
        raise _fail(f"{key}.{missing[0]}" if key else missing[0], None, "missing",
                    f"Add '{missing[0]}' to {where}.")
    return d


def _range(key: str, value: float, lo: float, hi: float | None) -> None:
    if not math.isfinite(value) or value < lo or (hi is not None and value > hi):
        bounds = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise _fail(key, value, f"outside {bounds}", "Correct the value.")


def _int(d: Mapping[str, Any], key: str, name: str) -> int:
    value = _number(d, key, name)
    if value != int(value):
        raise _fail(f"{key}.{name}", d[name], "not a whole number", "Give whole days.")
    return int(value)
