"""The demo, features and score commands end to end (issue 2 §1, issue 5 §1 and §6).

The demo must run on the embedded default (the bundled synthetic portfolio and
the shipped model) and print full decisions; nothing in it trains.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_demo_prints_full_decisions_and_writes_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--debtors", "150", "--seed", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC portfolio of 150 debtors" in out
    assert "grade" in out and "mean PD" in out
    decisions = pd.read_parquet(tmp_path / "decisions.parquet")
    errors = pd.read_parquet(tmp_path / "errors.parquet")
    exposures = pd.read_parquet(tmp_path / "portfolio" / "exposures.parquet")
    # nothing lost: every supplier-debtor pair is decided or has an error row
    decided = set(zip(decisions["supplier_id"], decisions["debtor_id"], strict=True))
    assert len(decided) + errors["record"].nunique() >= len(exposures)
    assert decided <= set(zip(exposures["supplier_id"], exposures["debtor_id"], strict=True))
    # the printed full decisions are JSON objects with the Decision's keys
    blocks = [b for b in out.split("\n{") if '"input_hash"' in b]
    first = json.loads("{" + blocks[0].split("\n}")[0] + "\n}")
    for key in ("pd", "grade", "approved_limit", "model_version", "policy_version", "input_hash"):
        assert key in first
    assert 0.0 < first["pd"] < 1.0
    assert "examples/debtor.json" in out


def test_demo_prints_refusals_by_cause_and_totals_in_the_reporting_currency(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16: the refused share by cause adds up to the refused pairs; totals say their
    currency (the policy's [book] currency, EUR); a refused pair shows no advance, no fees."""
    from riskengine.commands import REFUSAL_CAUSES, refusal_causes

    assert main(["demo", "--debtors", "300", "--seed", "4", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    decisions = pd.read_parquet(tmp_path / "decisions.parquet")
    refused = decisions[decisions["decision_type"] == "refused"]
    head = (f"refused pairs by cause ({len(refused):,} of {len(decisions):,} decided pairs, "
            f"{len(refused) / len(decisions):.1%}):")
    assert head in out
    lines = out.split(head)[1].split("\nbook totals")[0].strip().splitlines()
    names = {c for c, _ in REFUSAL_CAUSES} | {"other"}
    counted = 0
    for line in lines:
        cause, n, share = line.rsplit(None, 2)
        assert cause.strip() in names and share.endswith("%")
        counted += int(n.replace(",", ""))
    assert counted == len(refused)
    causes = refusal_causes(decisions)
    assert causes.value_counts().to_dict() == {
        line.rsplit(None, 2)[0].strip(): int(line.rsplit(None, 2)[1].replace(",", ""))
        for line in lines}
    assert "book totals in EUR (the reporting currency" in out
    totals = out.split("book totals in EUR")[1].split("\nwrote ")[0]
    assert re.search(r"^  approved +[\d,]+ EUR$", totals, re.M)
    assert re.search(r"^  expected loss \(with cover\) +[\d,]+ EUR$", totals, re.M)
    block = out.split("== a refused pair: no limit, so no advance and no fees\n")[1]
    shown = json.loads(block.split("\n}\n")[0] + "\n}")
    assert shown["decision_type"] == "refused" and shown["approved_limit"] == 0
    assert shown["advance_rate"] == 0 and shown["service_commission_rate"] == 0
    assert shown["discount_rate"] == 0


def test_refusal_causes_take_the_most_fundamental_code() -> None:
    """A knock-out before a note, a note before a binding constraint; the same answer
    from a batch's tuples and from Parquet's JSON text."""
    from riskengine.commands import refusal_causes

    d = pd.DataFrame({
        "decision_type": ["refused", "refused", "refused", "full", "refused"],
        "knockouts": [("adverse_record", "grade_default"), (), (), (), ()],
        "limit_notes": [(), ("non_positive_profit", "tax_return_haircut"),
                        ("below_rounding_unit",), (), ()],
        "binding_constraints": [(), ("capacity", "insurer_cover"), ("capacity",),
                                ("requested",), ("requested",)],
    })
    expected = ["default (grade D)", "loss on the tax return",
                "capacity below the rounding unit", "other"]
    assert refusal_causes(d).tolist() == expected
    as_json = d.assign(**{c: d[c].map(lambda v: json.dumps(list(v)))
                          for c in ("knockouts", "limit_notes", "binding_constraints")})
    assert refusal_causes(as_json).tolist() == expected


def test_features_command_reports_validation_and_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = tmp_path / "p"
    assert main(["demo-data", "--debtors", "120", "--seed", "5", "--out", str(port)]) == 0
    assert main(["features", "--portfolio", str(port), "--out", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    assert "debtors in 120: clean 120, rejected 0" in out
    feats = pd.read_parquet(tmp_path / "f" / "features.parquet")
    assert len(feats) == 120
    assert {"st_altman_z2", "adv_knockout", "pay_cross_aging"} <= set(feats.columns)


def test_score_command_prints_the_example_decision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(ROOT / "examples" / "debtor.json")]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["debtor_id"] == json.loads((ROOT / "examples" / "debtor.json").read_text())["debtor"]["debtor_id"]
    assert decision["grade"] in {*(str(i) for i in range(1, 11)), "D"}
    assert 0.0 < decision["pd"] <= 1.0


def test_score_command_refuses_a_broken_payload_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads((ROOT / "examples" / "debtor.json").read_text())
    payload["statements"][0]["total_assets"] = "lots"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    assert main(["score", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "statements.0.total_assets" in err


def test_console_rerate_ends_at_once_with_its_output_flushed(tmp_path: Path) -> None:
    """The console script ends a finished `riskengine rerate` without the interpreter's
    teardown (riskengine.batch.rerate.end_process): the exit status and every line printed to
    a pipe (block-buffered) must still come out, and the outputs be complete."""
    import subprocess
    import sys

    port, out = tmp_path / "p", tmp_path / "o"
    assert main(["demo-data", "--debtors", "60", "--seed", "4", "--out", str(port)]) == 0

    def console(*args: str) -> subprocess.CompletedProcess[str]:
        code = ("import sys; from riskengine.cli import console; "
                f"sys.argv = ['riskengine', *{list(args)!r}]; console()")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=False, timeout=300)

    done = console("rerate", "--portfolio", str(port), "--out", str(out), "--no-tracking")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("riskengine rerate: as of ")
    assert "debtors in 60 = decided" in lines[1] and lines[-1].startswith("  outputs in ")
    assert len(pd.read_parquet(out / "decisions")) > 60
    bad = console("rerate", "--portfolio", str(port), "--out", str(tmp_path / "o2"),
                  "--no-tracking", "--chunk-size", "0")
    assert bad.returncode == 2
    assert "riskengine rerate: error: --chunk-size must be at least 1, got 0." in bad.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["--as-of", "2199-01-01"], "field '0.as_of' 2199-01-01 is after the reference date"),
    (["--as-of", "01/06/2026"], "--as-of '01/06/2026' is not a date in the form YYYY-MM-DD"),
    ([], "(table statements, field 'period_end')"),
])
def test_score_command_refuses_future_and_bad_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    """Issue 13 point 3: ``riskengine score`` refuses what HTTP refuses (a decision or a
    statement dated after today), with one line and exit 2, instead of a grade."""
    payload = json.loads((ROOT / "examples" / "debtor.json").read_text())
    if not args:
        payload["statements"][0]["period_end"] = "2199-12-31"
    file = tmp_path / "p.json"
    file.write_text(json.dumps(payload))
    assert main(["score", str(file), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert expected in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_score_command_as_of_overrides_the_payload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(ROOT / "examples" / "debtor.json"), "--as-of", "2026-07-31"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of"] == "2026-07-31"


def test_features_as_of_after_the_extract_date_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13 point 3: the portfolio says nothing after its extract date (2026-06-30)."""
    port = tmp_path / "p"
    assert main(["demo-data", "--debtors", "40", "--seed", "5", "--out", str(port)]) == 0
    capsys.readouterr()
    out = tmp_path / "f"
    assert main(["features", "--portfolio", str(port), "--as-of", "2026-09-30",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--as-of 2026-09-30 is after the portfolio's extract date 2026-06-30" in err
    assert not out.exists()
    assert main(["features", "--portfolio", str(port), "--as-of", "June 2026"]) == 2
    assert "--as-of 'June 2026' is not a date" in capsys.readouterr().err
    assert main(["features", "--portfolio", str(port), "--as-of", "2026-03-31",
                 "--out", str(out)]) == 0  # point in time: allowed
    assert "features as of 2026-03-31" in capsys.readouterr().out
    assert main(["features", "--portfolio", str(port), "--as-of", "2026-09-30",
                 "--allow-as-of-after-extract"]) == 0
    assert main(["demo-data", "--debtors", "5", "--out", str(tmp_path / "x"),
                 "--as-of", "30.06.2026"]) == 2
    assert not (tmp_path / "x").exists()
