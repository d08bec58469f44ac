"""The functional core does no I/O: its modules never import the shell's libraries.

Source: docs/STYLE.md ("Functional core, thin shell ... A test can enforce it by
importing each core module and checking what it imports").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "riskengine"
CORE = [
    "schemas.py",
    "dates.py",
    "validation.py",
    "synthetic.py",
    "features/statements.py",
    "features/adverse.py",
    "features/payments.py",
    "features/concentration.py",
    "model/master_scale.py",
    "model/calibration.py",
    "model/metrics.py",
    "policy/limits.py",
    "policy/cover.py",
    "policy/pricing.py",
    "policy/funding.py",
    "policy/credit_policy.py",
    "policy/portfolio.py",
    "policy/_inputs.py",
    "migration.py",
    "payload.py",
    "decision.py",
    "reasons.py",
    "_fastpath.py",
    "features/__init__.py",
    "overrides.py",
]
FORBIDDEN = {"mlflow", "os", "requests", "urllib", "socket", "sqlite3", "sqlalchemy",
             "fastapi", "uvicorn", "subprocess", "shutil", "pathlib", "time", "datetime.now"}  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("rel", CORE)
def test_core_module_does_no_io(rel: str) -> None:
    path = PKG / rel
    assert path.is_file(), f"core module {rel} is missing: update CORE if it was renamed"
    bad = _imports(path) & FORBIDDEN
    assert not bad, f"core module {rel} imports shell libraries {sorted(bad)}"
    text = path.read_text()
    for call in ("open(", "datetime.now(", "date.today(", "Timestamp.now(", "Timestamp.today("):
        assert call not in text, f"core module {rel} calls {call}"
