"""``riskengine rerate``: a run that decided nothing fails, counts add up, and the output
directory is its own (issue 13, points 4-6). Small SYNTHETIC portfolios, run in process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import riskengine.api as api_module
from riskengine.api import load_engine
from riskengine.batch import migration as mig
from riskengine.batch.dataset import DIRNAME, part_files
from riskengine.batch.options import FAILED_RUN_EXIT, OUTPUT_FILES
from riskengine.cli import main
from riskengine.io.outputs import RERATE_MARKER
from riskengine.io.portfolio import write_portfolio
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED = 20, 7


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


@pytest.fixture(autouse=True)
def _shared_engine(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_module, "load_engine", lambda **kw: engine)


def _portfolio(path: Path, null_rows: tuple[int, ...] = ()) -> Path:
    frames = generate_portfolio(N, SEED, AS_OF)
    deb = frames["debtors"].copy()
    for i in null_rows:
        deb.loc[i, "debtor_id"] = None if i % 2 else "  "  # missing, or blank
    frames["debtors"] = deb
    write_portfolio(frames, path, manifest=synthetic_manifest(N, SEED, AS_OF))
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _portfolio(tmp_path_factory.mktemp("book"))


def _rerate(portfolio: Path, out: Path, *extra: str) -> int:
    return main(["rerate", "--portfolio", str(portfolio), "--out", str(out), "--as-of", AS_OF,
                 "--no-tracking", "--no-store", *extra])


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def test_rows_without_a_debtor_id_are_counted_in_and_errored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """20 debtors rows, row 5 with a missing id and row 12 a blank one: 20 in, both errored,
    each error row naming the table, its row of the file and the field."""
    port = _portfolio(tmp_path / "p", null_rows=(5, 12))
    assert _rerate(port, tmp_path / "o", "--chunk-size", "4") == 0
    s = _summary(tmp_path / "o")
    assert (s["debtors_in"], s["debtors_decided"], s["debtors_errored"]) == (20, 18, 2)
    assert s["reconciled"] is True
    assert "debtors in 20 = decided 18 + errored 2" in capsys.readouterr().out
    err = pd.read_parquet(tmp_path / "o" / "errors.parquet")
    rows = err[(err["table"] == "debtors") & err["debtor_id"].isna()]
    assert rows["record"].tolist() == ["row 5", "row 12"]
    assert set(rows["column"]) == {"debtor_id"} and set(rows["reason"]) == {"missing_value"}
    assert (err["reason"] != "no_exposure").all()  # a blank id is no debtor without exposure


def test_reconciliation_fails_when_a_row_without_id_has_no_error_row() -> None:
    rec = mig.reconcile(["a"], ["a"], [], unidentified=2, unidentified_errored=1)
    assert not rec.ok and (rec.debtors_in, rec.errored) == (3, 1)
    assert "2 debtors rows without a debtor_id but 1 error rows for them" in rec.message()


def test_a_run_where_every_debtor_errored_fails_with_its_outputs_written(
        book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert _rerate(book, out, "--debtors", "NOPE-1,NOPE-2") == FAILED_RUN_EXIT
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"riskengine rerate: failed: 2 of 2 debtors errored (100.0% > "
                       f"--max-error-share 50%); outputs written to {out}, see errors.parquet")
    for name in OUTPUT_FILES:
        assert (out / name).exists(), name
    assert len(part_files(out / DIRNAME)) == 1
    assert len(pd.read_parquet(out / "errors.parquet")) == 2


def test_max_error_share_sets_the_threshold(book: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """1 of 2 debtors errored: 50% passes the default (> 0.5 fails) and fails 0.4."""
    pick = "D000001,NOPE-1"
    assert _rerate(book, tmp_path / "a", "--debtors", pick) == 0
    assert _rerate(book, tmp_path / "b", "--debtors", pick, "--max-error-share", "0.4") \
        == FAILED_RUN_EXIT
    assert "1 of 2 debtors errored (50.0% > --max-error-share 40%)" in capsys.readouterr().err
    assert _rerate(book, tmp_path / "c", "--max-error-share", "1.5") == 2
    assert "--max-error-share must be a share between 0 and 1, got 1.5." in \
        capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_out_with_foreign_files_is_refused_untouched(book: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert _rerate(book, out) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and f"--out {str(out)!r} holds files riskengine rerate did not " \
        f"write ('notes.txt'; no {RERATE_MARKER} marker)" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("flag", ["--portfolio", "--previous"])
def test_out_equal_to_an_input_is_refused(book: Path, tmp_path: Path, flag: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in book.iterdir())
    extra = ("--previous", str(book)) if flag == "--previous" else ()
    other = tmp_path / "p" if flag == "--previous" else book
    if flag == "--previous":
        _portfolio(other)
    assert _rerate(other, book / ".", *extra) == 2
    assert f"is the {flag} directory; the run would overwrite its own input" in \
        capsys.readouterr().err
    assert sorted(p.name for p in book.iterdir()) == before


def test_marked_out_is_rerun_in_place(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert _rerate(book, out) == 0
    marker = json.loads((out / RERATE_MARKER).read_text())
    assert marker["tool"] == "riskengine rerate" and marker["version"]
    first = [f.read_bytes() for f in part_files(out / DIRNAME)]
    assert first
    assert _rerate(book, out) == 0
    assert [f.read_bytes() for f in part_files(out / DIRNAME)] == first


def _decimals_beyond_cents(values: Any) -> int:
    """How many finite values carry more than 2 decimals (x * 100 not an integer, to a
    tolerance far below a cent and far above a double's error at these magnitudes)."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    return int((np.abs(a * 100 - np.round(a * 100)) > 1e-6).sum())


def test_money_leaves_a_run_in_cents(tmp_path: Path) -> None:
    """Issue 18 point 6: every money column of the decisions, the limit actions and the
    requests to the insurer, and the summary's amounts, have at most 2 decimals; a
    probability keeps its precision (the core computes at full precision: the PD is not
    rounded, and the expected loss of 200 debtors is not all whole cents before the edge)."""
    from riskengine.batch.checkpoints import OUTPUT_MONEY

    port = tmp_path / "p"
    frames = generate_portfolio(200, 3, AS_OF)
    write_portfolio(frames, port, manifest=synthetic_manifest(200, 3, AS_OF))
    assert _rerate(port, tmp_path / "o") == 0
    dec = pd.read_parquet(tmp_path / "o" / DIRNAME)
    money = sorted(OUTPUT_MONEY & set(dec.columns))
    assert {"expected_loss", "insured_limit", "retained_exposure", "debtor_capacity"} <= set(money)
    assert {c: _decimals_beyond_cents(dec[c]) for c in money} == dict.fromkeys(money, 0)
    assert _decimals_beyond_cents(dec["pd"]) > 0  # not money: full precision
    for name in ("limit_actions", "insurer_requests"):
        t = pd.read_parquet(tmp_path / "o" / f"{name}.parquet")
        cols = sorted(OUTPUT_MONEY & set(t.columns))
        assert cols and {c: _decimals_beyond_cents(t[c]) for c in cols} == dict.fromkeys(cols, 0)
    s = _summary(tmp_path / "o")
    amounts = [*s["totals"].values(), s["book"]["group_cap_amount"],
               *(v for k, v in s["insurance"].items() if k.startswith("insured_amount"))]
    assert _decimals_beyond_cents(amounts) == 0
