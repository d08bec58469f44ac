"""The compiled kernels' disk cache: is it warm, and warming it (shell).

riskengine's array kernels are compiled by numba with ``cache=True``: the first run on a
machine (or after an upgrade) compiles them, about :data:`COLD_COMPILE_S` seconds on
two cores, and later runs load them from numba's cache (beside the modules, or in
``$NUMBA_CACHE_DIR``). :func:`announce_cold_compile` says so on standard error when the
cache is cold, once, before the engine compiles them all
(:func:`riskengine.api.load_engine` calls it before loading the model, whose tree walks
compile on load, and :func:`warm` after); ``make demo`` warms the cache (its
``riskengine demo`` loads the engine).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["COLD_COMPILE_S", "ON_DEMAND", "compiled_kernels", "cold_kernels", "announce_cold_compile",
           "warm"]

#: Seconds a cold compile of every kernel takes, rounded up: ``benchmarks/bench_package.py``
#: (``load_engine()`` with an empty ``NUMBA_CACHE_DIR``) compiled 13 kernels in 15.7 s of CPU,
#: 17.2 s of wall time (27-32 s when the shared two-core machine was busy); warm, 3.0 s.
COLD_COMPILE_S = 20

#: Kernels no decision uses, compiled on their first use only (riskengine/model/flat_trees.py:
#: ``raw_scores`` serves tests and ``decision_function``): never counted as cold.
ON_DEMAND: frozenset[str] = frozenset({"riskengine.model.treekernel.raw_scores"})

_PACKAGE = Path(__file__).resolve().parents[1]
_FACTORY = re.compile(r"^_\w*kernel$")


def _modules() -> list[str]:
    """The riskengine modules holding a disk-cached kernel (``cache=True`` in the source)."""
    out = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        if "cache=True" in path.read_text(encoding="utf-8"):
            rel = path.relative_to(_PACKAGE.parent).with_suffix("")
            out.append(".".join(rel.parts))
    return out


def compiled_kernels() -> list[Any]:
    """Every disk-cached numba dispatcher of riskengine: module-level ones and those the
    modules' kernel factories (``_kernel()``, ``_past_due_kernel()``, ...) build; nothing
    is compiled here."""
    from numba.core.dispatcher import Dispatcher

    found: dict[int, Any] = {}
    for name in _modules():
        if name == __name__:
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, Dispatcher):
                found[id(value)] = value
            elif _FACTORY.match(attr) and hasattr(value, "cache_info"):
                built = value()
                if isinstance(built, Dispatcher):
                    found[id(built)] = built
    return [d for d in found.values() if getattr(d, "_cache", None) is not None]


def _is_cached(dispatcher: Any) -> bool:
    cache_file = getattr(dispatcher._cache, "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    return index is None or os.path.isfile(index)  # no disk cache to miss: not cold


def cold_kernels() -> list[str]:
    """Names of the kernels a decision uses without a compiled copy on disk."""
    names = [f"{d.py_func.__module__}.{d.py_func.__name__}" for d in compiled_kernels()
             if not _is_cached(d)]
    return [n for n in names if n not in ON_DEMAND]


def announce_cold_compile(stream: IO[str] | None = None, *,
                          only_on_terminal: bool = True) -> bool:
    """Whether the cache is cold; if so, one line on ``stream`` (standard error) saying
    that the kernels compile now. The caller then compiles them all at once
    (:func:`warm`; :func:`riskengine.api.load_engine` does, after loading the model).

    ``only_on_terminal``: say it only when ``stream`` is a terminal (a pipe or a log gets
    no line; the compile happens all the same).
    """
    cold = cold_kernels()
    if not cold:
        return False
    out = stream if stream is not None else sys.stderr
    if out.isatty() or not only_on_terminal:
        out.write(f"riskengine: compiling kernels, once, about {COLD_COMPILE_S} s "
                  f"({len(cold)} not in numba's cache yet)\n")
        out.flush()
    return True


def warm(engine: Any) -> float:
    """Compile (or load) every kernel now: the batch path's
    (:func:`riskengine.scoring.engine.warm_up`) and the model's tree walks (``engine``
    decides the shipped example once). The seconds it took."""
    import json

    from riskengine.errors import RiskEngineError
    from riskengine.io.locations import example_payload_path
    from riskengine.scoring.engine import warm_up

    start = time.perf_counter()
    warm_up()
    payload = json.loads(example_payload_path().read_text(encoding="utf-8"))
    day = str(payload.get("as_of") or "2026-06-30")
    try:
        engine.decide_one(payload, as_of=day, decided_at=f"{day}T00:00:00Z",
                          reference_date=day)
    except RiskEngineError:  # a reviewed policy refusing the example: compiled all the same
        pass
    return time.perf_counter() - start
