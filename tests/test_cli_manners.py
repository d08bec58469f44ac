"""The command line's manners (issue 18 point 6).

Every subcommand given a bad input (a missing file, a bad value, a bad option) exits
with status 2 and exactly one line on standard error, without a traceback;
``riskengine --version``; ``--json`` on every subcommand that prints results;
``score -`` reads standard input; money in what ``score`` prints is rounded to cents
and its timestamp is RFC 3339 in UTC with ``Z``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from riskengine import __version__
from riskengine.cli import build_parser, main
from riskengine.contracts.decision import DECISION_FIELDS, MONEY_FIELDS
from riskengine.io.console import money_rounded, rfc3339, stamp_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "debtor.json"
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

#: One bad input per subcommand (and action): (argv, text the one line must hold).
#: {tmp} is the test's temporary directory; /nonexistent never exists.
BAD_INPUTS: list[tuple[list[str], str]] = [
    (["demo-data", "--debtors", "0", "--out", "{tmp}/dd"], "--debtors"),
    (["demo-data", "--debtors", "many", "--out", "{tmp}/dd"], "invalid int value"),
    (["demo", "--debtors", "0", "--out", "{tmp}/demo"], "n_debtors"),
    (["features", "--portfolio", "/nonexistent"], "/nonexistent"),
    (["train", "--data", "/nonexistent.csv", "--out", "{tmp}/m"], "/nonexistent.csv"),
    (["validate", "--model-dir", "/nonexistent", "--out", "{tmp}/v"], "/nonexistent"),
    (["evaluate", "--us-panel", "/nonexistent.csv"], "/nonexistent.csv"),
    (["evidence", "--spanish", "/nonexistent.arff"], "/nonexistent.arff"),
    (["score", "/nonexistent.json"], "/nonexistent.json"),
    (["score", "{tmp}/not.json"], "is not JSON"),
    (["score", str(EXAMPLE), "--as-of", "30/06/2026"], "--as-of"),
    (["report", "--debtor", "X", "--portfolio", "/nonexistent"], "/nonexistent"),
    (["publish", "--model-dir", "/nonexistent", "--tracking-uri",
      "sqlite:///{tmp}/mlflow.db"], "/nonexistent"),
    (["insurer-responses", "load", "/nonexistent.csv", "--store", "sqlite:///{tmp}/s.db"],
     "/nonexistent.csv"),
    (["fx-rates", "load", "/nonexistent.csv", "--store", "sqlite:///{tmp}/s.db"],
     "/nonexistent.csv"),
    (["fx-rates", "list", "--store", "bogus://x"], "store URL"),
    (["rerate", "--portfolio", "/nonexistent", "--out", "{tmp}/rr"], "error"),
    (["users", "add", "no good!", "--role", "officer", "--store", "sqlite:///{tmp}/s.db"],
     "user name"),
    (["users", "add", "ann", "--role", "emperor"], "invalid choice"),
    (["serve", "--token-file", "/nonexistent"], "/nonexistent"),
    (["serve", "--port", "eighty"], "invalid int value"),
    (["score"], "required: file"),
    (["score", str(EXAMPLE), "--no-such-option"], "unrecognized arguments"),
    (["no-such-command"], "invalid choice"),
]


def _argv(args: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in args]


def _subcommands() -> list[str]:
    """Every subcommand of the parser (so that a new one cannot be left out below)."""
    import argparse

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_subcommand_has_a_bad_input_case() -> None:
    covered = {args[0] for args, _ in BAD_INPUTS}
    assert set(_subcommands()) <= covered


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS,
                         ids=[" ".join(a[:2]) for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(args: list[str], expected: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "not.json").write_text("{not json", encoding="utf-8")
    try:
        code = main(_argv(args, tmp_path))
    except SystemExit as exc:  # the parser's own errors
        code = exc.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert expected in lines[0]
    assert lines[0].startswith("riskengine")
    assert "Traceback" not in captured.err and captured.out == ""


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The real process: status 2 and one line for a missing payload file."""
    done = subprocess.run([sys.executable, "-m", "riskengine.cli", "score",
                           str(tmp_path / "missing.json")], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=300)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"riskengine {__version__}"


def test_json_flag_on_every_subcommand_that_prints_results() -> None:
    import argparse

    def leaves(parser: argparse.ArgumentParser, name: str) -> list[tuple[str, argparse.ArgumentParser]]:
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not nested:
            return [(name, parser)]
        return [leaf for a in nested for n, p in a.choices.items() for leaf in leaves(p, f"{name} {n}")]

    parser = build_parser()
    missing = [name.strip() for name, p in leaves(parser, "")
               if name.strip() != "serve"  # a server prints no result
               and not any("--json" in a.option_strings for a in p._actions)]
    assert missing == []


def test_score_reads_standard_input_with_money_in_cents_and_z_timestamps(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(EXAMPLE.read_text(encoding="utf-8")))
    assert main(["score", "-", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["debtor_id"] == json.loads(EXAMPLE.read_text())["debtor"]["debtor_id"]
    assert RFC3339_Z.match(decision["decided_at"]), decision["decided_at"]
    for name in MONEY_FIELDS:
        value = decision[name]
        if isinstance(value, float):
            assert round(value, 2) == value, (name, value)
    # the example's retained exposure is 10 % of 350,000, which the core computes as
    # 34999.99999999999 (binary floating point): printed as 35000.0
    assert decision["retained_exposure"] == 35000.0


def test_json_flag_prints_the_recorded_result_and_text_to_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "book"
    assert main(["demo-data", "--debtors", "20", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["out"] == str(out) and result["rows"]["debtors"] == 20
    assert "SYNTHETIC portfolio" in captured.err  # the human text, on standard error


def test_json_flag_on_a_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``fx-rates list --json`` on an empty store: an empty list, no CSV header."""
    assert main(["fx-rates", "list", "--store", f"sqlite:///{tmp_path}/s.db", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert captured.err == "date,currency,rate,source\n"


def test_json_flag_without_a_recorded_result_gives_the_lines(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A handler that records no result: its printed lines, as JSON; its text on stderr."""
    import argparse

    from riskengine.cli import _run_json

    def handler(args: argparse.Namespace) -> int:
        print("first line")
        print("second line")
        return 0

    assert _run_json(handler, argparse.Namespace(command="x", json=True)) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"command": "x", "lines": ["first line", "second line"]}
    assert captured.err == "first line\nsecond line\n"


def test_money_fields_are_decision_fields() -> None:
    assert MONEY_FIELDS <= set(DECISION_FIELDS)
    assert "pd" not in MONEY_FIELDS and "advance_rate" not in MONEY_FIELDS


def test_money_rounded_and_rfc3339_at_the_edge() -> None:
    import datetime as dt

    assert money_rounded({"insured_amount": -0.001, "fx_rate": 1.123456789,
                          "nested": [{"expected_loss": 1.005}]}) == \
        {"insured_amount": 0.0, "fx_rate": 1.123456789, "nested": [{"expected_loss": 1.0}]}
    assert rfc3339(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    # stored timestamps (the store writes ISO 8601 with an offset and microseconds)
    assert stamp_text("2026-12-07T17:40:06.321738+02:00") == "2026-12-07T15:40:06Z"
    assert stamp_text(None) is None and stamp_text("officer") == "officer"
