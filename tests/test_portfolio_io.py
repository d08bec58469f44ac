"""Tests of riskengine.portfolio_io (portfolio directories) and `riskengine demo-data`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.errors import InvalidInputError
from riskengine.portfolio_io import MANIFEST_NAME, read_portfolio, write_portfolio
from riskengine.schemas import CONTRACTS
from riskengine.synthetic import contract_dtypes, generate_portfolio, synthetic_manifest

N, SEED = 300, 13


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate_portfolio(N, seed=SEED)


def _write(frames, out: Path, fmt: str) -> Path:
    return write_portfolio(frames, out, manifest=synthetic_manifest(N, SEED), fmt=fmt)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_gives_equal_frames(frames, tmp_path: Path, fmt: str) -> None:
    out = _write(frames, tmp_path / "pf", fmt)
    back, manifest = read_portfolio(out)
    assert list(back) == list(CONTRACTS)
    for name in CONTRACTS:
        pd.testing.assert_frame_equal(back[name], frames[name], check_exact=True)
    assert manifest["format"] == fmt


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_and_manifest_follow_the_layout(frames, tmp_path: Path, fmt: str) -> None:
    """docs/DATA_LAYOUT.md: one <table>.<fmt> per contract and manifest.json, nothing else."""
    out = _write(frames, tmp_path / "pf", fmt)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{t}.{fmt}" for t in CONTRACTS] + [MANIFEST_NAME])  # no temp files
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest == {
        "synthetic": True,
        "generator": "riskengine.synthetic",
        "generator_version": 1,
        "seed": SEED,
        "n_debtors": N,
        "as_of": "2026-06-30",
        "created_by": "riskengine demo-data",
        "reporting_currency": "EUR",
        "fx_rates": synthetic_manifest(N, SEED)["fx_rates"],
        "format": fmt,
        "tables": {name: len(frames[name]) for name in CONTRACTS},
    }


def test_csv_dates_are_days_and_missing_values_empty(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "csv")
    first = (out / "adverse_records.csv").read_text().splitlines()[1].split(",")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first[3])  # event_date
    raw = pd.read_csv(out / "debtors.csv", dtype="str", keep_default_na=False)
    assert (raw["group_id"] == "").mean() > 0.5  # most debtors have no group


def test_writing_again_replaces_the_tables(frames, tmp_path: Path) -> None:
    out = tmp_path / "pf"
    _write(frames, out, "parquet")
    other = generate_portfolio(40, seed=1)
    write_portfolio(other, out, manifest=synthetic_manifest(40, 1), fmt="parquet")
    back, manifest = read_portfolio(out)
    assert len(back["debtors"]) == 40 and manifest["n_debtors"] == 40
    pd.testing.assert_frame_equal(back["invoices"], other["invoices"])


def test_manifest_format_decides_between_parquet_and_csv(frames, tmp_path: Path) -> None:
    out = tmp_path / "pf"
    _write(frames, out, "parquet")
    small = generate_portfolio(20, seed=2)
    write_portfolio(small, out, manifest=synthetic_manifest(20, 2), fmt="csv")
    back, _ = read_portfolio(out)  # both files exist; the manifest says csv
    assert len(back["debtors"]) == 20


def test_directory_without_manifest_is_read(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / MANIFEST_NAME).unlink()
    back, manifest = read_portfolio(out)
    assert manifest == {}
    pd.testing.assert_frame_equal(back["statements"], frames["statements"])


def test_absent_optional_table_is_empty_with_contract_columns(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / "relations.parquet").unlink()
    back, _ = read_portfolio(out)
    assert len(back["relations"]) == 0
    assert tuple(back["relations"].columns) == CONTRACTS["relations"].names
    assert {c: str(t) for c, t in back["relations"].dtypes.items()} == {
        c: str(t) for c, t in contract_dtypes("relations").items()
    }


def test_bad_values_in_csv_stay_text_for_validation(frames, tmp_path: Path) -> None:
    """A word in a numeric field or a non-date must reach the validator as written."""
    out = _write(frames, tmp_path / "pf", "csv")
    path = out / "statements.csv"
    raw = pd.read_csv(path, dtype="str", keep_default_na=False)
    raw.loc[0, "revenue"] = "1.2m"
    raw.loc[1, "period_end"] = "31/12/2024"
    raw.to_csv(path, index=False)
    back, _ = read_portfolio(out)
    st = back["statements"]
    assert st["revenue"].dtype == "str" and st.loc[0, "revenue"] == "1.2m"
    assert st["period_end"].dtype == "str" and st.loc[1, "period_end"] == "31/12/2024"
    assert st["cash"].dtype == "float64"  # the other columns still convert


def test_extra_columns_are_kept_for_validation(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    debtors = frames["debtors"].assign(note="x")
    debtors.to_parquet(out / "debtors.parquet", index=False)
    back, _ = read_portfolio(out)
    assert list(back["debtors"].columns) == [*CONTRACTS["debtors"].names, "note"]


# --- bad input ------------------------------------------------------------------------


def test_missing_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(InvalidInputError, match=re.escape(f"'{missing}' does not exist")):
        read_portfolio(missing)


def test_missing_debtors_table_names_the_file(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / "debtors.parquet").unlink()
    with pytest.raises(InvalidInputError, match=re.escape(str(out / "debtors.parquet"))):
        read_portfolio(out)


def test_unreadable_manifest_names_the_file(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(InvalidInputError, match=re.escape(str(out / MANIFEST_NAME))):
        read_portfolio(out)


def test_unknown_format_is_refused(frames, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="format 'xlsx' is not supported"):
        write_portfolio(frames, tmp_path, manifest={}, fmt="xlsx")


def test_unknown_table_is_refused(frames, tmp_path: Path) -> None:
    bad = {**frames, "customers": frames["debtors"]}
    with pytest.raises(InvalidInputError, match=r"Cannot write tables \['customers'\]"):
        write_portfolio(bad, tmp_path, manifest={})


def test_portfolio_without_debtors_is_refused(frames, tmp_path: Path) -> None:
    no_debtors = {k: v for k, v in frames.items() if k != "debtors"}
    with pytest.raises(InvalidInputError, match="without the 'debtors' table"):
        write_portfolio(no_debtors, tmp_path, manifest={})


# --- riskengine demo-data ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cli_demo_data_writes_a_synthetic_portfolio(tmp_path: Path, capsys, fmt: str) -> None:
    out = tmp_path / "demo"
    argv = ["demo-data", "--debtors", "60", "--seed", "5", "--out", str(out), "--format", fmt]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and str(out) in printed
    for name in CONTRACTS:
        assert (out / f"{name}.{fmt}").is_file()
    back, manifest = read_portfolio(out)
    assert manifest["synthetic"] is True and manifest["seed"] == 5 and manifest["n_debtors"] == 60
    assert manifest["created_by"] == "riskengine demo-data"
    expected = generate_portfolio(60, seed=5)
    for name in CONTRACTS:
        pd.testing.assert_frame_equal(back[name], expected[name])
        assert f"{len(expected[name]):,} rows" in printed


def test_cli_demo_data_takes_the_as_of_date(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo-data", "--debtors", "30", "--out", str(out), "--as-of", "2024-01-31"]) == 0
    back, manifest = read_portfolio(out)
    assert manifest["as_of"] == "2024-01-31"
    assert back["invoices"]["issue_date"].max() <= pd.Timestamp("2024-01-31")


def test_cli_demo_data_refuses_zero_debtors(tmp_path: Path, capsys) -> None:
    assert main(["demo-data", "--debtors", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--debtors must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_demo_data_refuses_a_non_empty_directory_unless_overwrite(tmp_path: Path,
                                                                      capsys) -> None:
    out = tmp_path / "book"
    out.mkdir()
    (out / "ledger.xlsx").write_bytes(b"theirs")
    assert main(["demo-data", "--debtors", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"riskengine demo-data: error: --out {str(out)!r} is not empty "
                   "('ledger.xlsx'); give a new or empty directory, or --overwrite to replace "
                   "the portfolio files in it.")
    assert sorted(p.name for p in out.iterdir()) == ["ledger.xlsx"]
    assert main(["demo-data", "--debtors", "10", "--out", str(out), "--overwrite"]) == 0
    assert (out / "debtors.parquet").is_file() and (out / "ledger.xlsx").read_bytes() == b"theirs"
