"""Two service processes and one limit writer on one PostgreSQL register (issue 15 §7).

Runs benchmarks/bench_store_concurrency.py (two ``riskengine serve`` processes with the
real engine on the session's PostgreSQL server, and a process writing limit changes
through the store API, at once, on overlapping pairs) and checks its figures: every
acknowledged decision, funding check and limit change is stored, and each pair's
register row is its last history row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_services_and_a_writer_lose_no_update(pg_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_store_concurrency.py"),
         "--store", pg_url, "--requests", "16", "--clients", "2", "--limit-updates", "40",
         "--json"], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    f = json.loads(proc.stdout.strip().splitlines()[-1])
    assert f["acknowledged_decisions"] == f["stored_decisions"] > 0
    assert f["acknowledged_funding_checks"] == f["stored_funding_checks"] > 0
    assert (f["acknowledged_register_changes_by_services"]
            == f["stored_register_changes_by_services"] > 0)
    assert f["acknowledged_register_changes_by_writer"] == \
        f["stored_register_changes_by_writer"] == 40
    assert f["register_mismatches"] == [] and f["register_rows"] == 12
    assert f["lost"] == 0
