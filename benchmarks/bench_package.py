"""Packaging figures (issue 18 point 5): the wheel's size and build time, and the engine's
first load with a cold numba cache against a warm one.

    PYTHONPATH=. python benchmarks/bench_package.py [--skip-wheel]

Prints: wheel build seconds and size (MB), the shipped files in it; engine load with an
empty ``NUMBA_CACHE_DIR`` (every kernel compiled: wall and CPU seconds) and again with the
cache it filled (wall and CPU seconds). Run under ``nice`` on a shared machine; wall times
move with the load, CPU times much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOAD = ("import time\n"
        "t = time.perf_counter()\n"
        "from riskengine.io.kernels import cold_kernels\n"
        "cold = len(cold_kernels())\n"
        "from riskengine.api import load_engine\n"
        "load_engine()\n"
        "print(cold, time.perf_counter() - t)\n")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def build_wheel(work: Path) -> None:
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("riskengine", "models", "examples"):
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-w",
                    str(work / "dist"), "--quiet", "--disable-pip-version-check"], check=True)
    took = time.perf_counter() - start
    wheel = next((work / "dist").glob("riskengine-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = [n for n in names if n.startswith(("riskengine/_models/", "riskengine/_examples/"))]
    print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1e6:.2f} MB, {len(names)} files, "
          f"built in {took:.1f} s; shipped data: {', '.join(sorted(shipped))}")


def engine_load(cache: Path, label: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(cache)}
    cpu0, start = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True,
                          text=True, check=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    cold, inner = done.stdout.split()
    print(f"engine load, {label}: {int(cold)} kernels cold; process {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (load itself {float(inner):.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-wheel", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        work = Path(tmp)
        if not args.skip_wheel:
            build_wheel(work)
        cache = work / "numba"
        cache.mkdir()
        engine_load(cache, "cold cache (empty NUMBA_CACHE_DIR)")
        engine_load(cache, "warm cache (the same directory)")


if __name__ == "__main__":
    main()
