"""Tests of riskengine.io.portfolio (portfolio directories) and `riskengine demo-data`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.contracts.schemas import CONTRACTS
from riskengine.errors import InvalidInputError
from riskengine.io.portfolio import MANIFEST_NAME, check_portfolio, read_portfolio, write_portfolio
from riskengine.synthetic import contract_dtypes, generate_portfolio, synthetic_manifest

N, SEED = 300, 13
#: The tables the generator makes without a history (``outcomes`` comes with --years).
GENERATED = tuple(n for n in CONTRACTS if n != "outcomes")


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate_portfolio(N, seed=SEED)


def _write(frames, out: Path, fmt: str) -> Path:
    return write_portfolio(frames, out, manifest=synthetic_manifest(N, SEED), fmt=fmt)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_gives_equal_frames(frames, tmp_path: Path, fmt: str) -> None:
    out = _write(frames, tmp_path / "pf", fmt)
    back, manifest = read_portfolio(out)
    assert list(back) == [*CONTRACTS, "fx_rates"]  # the generated dated rates too
    assert len(back["outcomes"]) == 0  # optional, not generated: read empty
    for name in (*GENERATED, "fx_rates"):
        pd.testing.assert_frame_equal(back[name], frames[name], check_exact=True)
    assert manifest["format"] == fmt
    fx = back["fx_rates"]  # the as-of rows are the manifest's mapping
    on = fx[fx["date"] == pd.Timestamp(manifest["as_of"])]
    assert dict(zip(on["currency"], on["rate"], strict=True)) == manifest["fx_rates"]
    # without the table the manifest's rates, dated its as_of, stand for it
    out2 = _write({k: v for k, v in frames.items() if k != "fx_rates"}, tmp_path / "m", fmt)
    fx = read_portfolio(out2)[0]["fx_rates"]
    assert (fx["date"] == pd.Timestamp(manifest["as_of"])).all()
    assert dict(zip(fx["currency"], fx["rate"], strict=True)) == manifest["fx_rates"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_and_manifest_follow_the_layout(frames, tmp_path: Path, fmt: str) -> None:
    """docs/DATA_LAYOUT.md: one <table>.<fmt> per contract (and fx_rates) and manifest.json,
    nothing else."""
    out = _write(frames, tmp_path / "pf", fmt)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{t}.{fmt}" for t in (*GENERATED, "fx_rates")]
                           + [MANIFEST_NAME])  # no temp files
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest == {
        "synthetic": True,
        "generator": "riskengine.synthetic",
        "generator_version": synthetic_manifest(N, SEED)["generator_version"],
        "seed": SEED,
        "n_debtors": N,
        "as_of": "2026-06-30",
        "created_by": "riskengine demo-data",
        "reporting_currency": "EUR",
        "fx_rates": synthetic_manifest(N, SEED)["fx_rates"],
        "format": fmt,
        "tables": {name: len(frames[name]) for name in (*GENERATED, "fx_rates")},
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


def test_table_absent_from_the_frames_is_written_empty(frames, tmp_path: Path) -> None:
    """write_portfolio writes a whole directory: a table it is not given is an empty
    file with the contract columns, listed with 0 rows."""
    out = write_portfolio({k: v for k, v in frames.items() if k != "relations"},
                          tmp_path / "pf", manifest={})
    back, manifest = read_portfolio(out)
    assert manifest["tables"]["relations"] == 0 and len(back["relations"]) == 0
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


def test_csv_nullable_flags_read_as_boolean_with_missing_kept(frames, tmp_path: Path
                                                              ) -> None:
    """The suppliers' nullable flags (perishable, standardised_goods: the generator writes
    them since the suppliers contract declares them) read back from CSV as ``boolean``, an
    empty cell missing (not assessed, never False); a word stays text for validation."""
    out = _write(frames, tmp_path / "pf", "csv")
    path = out / "suppliers.csv"
    raw = pd.read_csv(path, dtype="str", keep_default_na=False)
    raw.loc[0, "perishable"] = ""
    raw.loc[1, "perishable"] = "TRUE"
    raw.loc[2, "standardised_goods"] = "maybe"
    raw.to_csv(path, index=False)
    sup = read_portfolio(out)[0]["suppliers"]
    assert str(sup["perishable"].dtype) == "boolean"
    assert sup.loc[0, "perishable"] is pd.NA and bool(sup.loc[1, "perishable"]) is True
    assert sup["perishable"].iloc[3:].tolist() == frames["suppliers"]["perishable"].iloc[
        3:].tolist()
    assert sup["standardised_goods"].dtype == "str"
    assert sup.loc[2, "standardised_goods"] == "maybe"


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


def test_missing_table_is_refused_with_the_listed_rows(frames, tmp_path: Path) -> None:
    """Was: an absent table read as empty (no adverse records: upgrades)."""
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / "adverse_records.parquet").unlink()
    listed = len(frames["adverse_records"])
    with pytest.raises(InvalidInputError, match=re.escape(
            f"portfolio {out}: table 'adverse_records' is missing (the manifest lists "
            f"{listed:,} rows)")):
        read_portfolio(out)


def test_portfolio_without_manifest_needs_every_table(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / MANIFEST_NAME).unlink()
    (out / "relations.parquet").unlink()
    with pytest.raises(InvalidInputError, match=re.escape(
            f"table 'relations' is missing: no {out / 'relations.parquet'} or "
            f"{out / 'relations.csv'}")):
        read_portfolio(out)


def test_hand_made_table_of_a_header_row_is_an_empty_table(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "csv")
    (out / MANIFEST_NAME).unlink()
    (out / "relations.csv").write_text(",".join(CONTRACTS["relations"].names) + "\n")
    back, _ = read_portfolio(out)
    assert len(back["relations"]) == 0 and len(back["debtors"]) == N
    assert tuple(back["relations"].columns) == CONTRACTS["relations"].names


def test_csv_with_a_byte_order_mark_is_counted_and_read(frames, tmp_path: Path) -> None:
    """A spreadsheet's UTF-8 export starts with a BOM; it is no part of the first name."""
    out = _write(frames, tmp_path / "pf", "csv")
    path = out / "relations.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    back, _ = read_portfolio(out)
    assert len(back["relations"]) == len(frames["relations"])
    assert tuple(back["relations"].columns) == CONTRACTS["relations"].names


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_short_table_is_refused_with_both_counts(frames, tmp_path: Path, fmt: str) -> None:
    out = _write(frames, tmp_path / "pf", fmt)
    half = frames["statements"].iloc[: len(frames["statements"]) // 2]
    if fmt == "parquet":
        half.to_parquet(out / "statements.parquet", index=False)
    else:
        half.to_csv(out / "statements.csv", index=False, date_format="%Y-%m-%d")
    with pytest.raises(InvalidInputError, match=re.escape(
            f"portfolio {out}: table 'statements' (statements.{fmt}) has {len(half):,} rows, "
            f"the manifest lists {len(frames['statements']):,}")):
        read_portfolio(out)


def test_table_the_manifest_does_not_list_is_refused(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    meta = json.loads((out / MANIFEST_NAME).read_text())
    del meta["tables"]["invoices"]
    (out / MANIFEST_NAME).write_text(json.dumps(meta))
    with pytest.raises(InvalidInputError, match="table 'invoices' .* is not in the manifest"):
        read_portfolio(out)


def test_check_portfolio_counts_rows_from_the_files(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert check_portfolio(out, manifest) == {k: len(v) for k, v in frames.items()}
    assert check_portfolio(out, {}, ["debtors"]) == {"debtors": N}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-200:-8] = bytes(range(192))  # the footer
    path.write_bytes(bytes(data))


_CORRUPT = {
    "truncated": (_truncate, "is not a readable Parquet file"),
    "garbled": (_garble, "is not a readable Parquet file"),
    "zero bytes": (lambda p: p.write_bytes(b""), "is empty (zero bytes)"),
    "csv named parquet": (lambda p: p.write_text("debtor_id,name\nD1,x\n"),
                          "is not a readable Parquet file"),
}


@pytest.mark.parametrize("case", sorted(_CORRUPT))
def test_corrupt_parquet_table_names_the_file(frames, tmp_path: Path, case: str) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    spoil, what = _CORRUPT[case]
    spoil(out / "invoices.parquet")
    with pytest.raises(InvalidInputError, match=re.escape(f"{out / 'invoices.parquet'} {what}")
                       ) as err:
        read_portfolio(out)
    assert "\n" not in str(err.value)


def test_garbled_data_page_is_refused_when_read(frames, tmp_path: Path) -> None:
    """A footer that reads but a column chunk that does not decode."""
    out = _write(frames, tmp_path / "pf", "parquet")
    path = out / "invoices.parquet"
    data = bytearray(path.read_bytes())
    data[8:4008] = b"\xff" * 4000
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match=re.escape(
            f"{path} is not a readable Parquet file")):
        read_portfolio(out)


@pytest.mark.parametrize("text", ["D1,x\nD2\n", "a,b\n\"open quote,x\n", "\xff\xfe,x\n1,2\n"])
def test_csv_that_does_not_parse_names_the_file(frames, tmp_path: Path, text: str) -> None:
    out = _write(frames, tmp_path / "pf", "csv")
    path = out / "exposures.csv"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InvalidInputError, match=re.escape(f"{path} is not a readable CSV file")):
        read_portfolio(out)


def test_csv_cut_mid_row_is_refused(frames, tmp_path: Path) -> None:
    out = _write(frames, tmp_path / "pf", "csv")
    path = out / "invoices.csv"
    text = path.read_text()
    path.write_text(text[: len(text) // 2].rsplit(",", 1)[0])
    with pytest.raises(InvalidInputError, match=re.escape(f"{path} is not a readable CSV file")):
        read_portfolio(out)


@pytest.mark.parametrize(("text", "what"), [
    ("[1, 2]", "must hold a JSON object, not list"),
    ('{"tables": {"debtors": "many"}}', "'tables' must map each table name to its row count"),
    ("", "is not readable JSON"),
])
def test_bad_manifest_is_refused(frames, tmp_path: Path, text: str, what: str) -> None:
    out = _write(frames, tmp_path / "pf", "parquet")
    (out / MANIFEST_NAME).write_text(text)
    with pytest.raises(InvalidInputError, match=re.escape(what)):
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
    for name in GENERATED:
        assert (out / f"{name}.{fmt}").is_file()
    assert not (out / f"outcomes.{fmt}").exists()  # no history asked for
    back, manifest = read_portfolio(out)
    assert manifest["synthetic"] is True and manifest["seed"] == 5 and manifest["n_debtors"] == 60
    assert manifest["created_by"] == "riskengine demo-data"
    expected = generate_portfolio(60, seed=5)
    for name in GENERATED:
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


def test_insurer_limits_are_optional(frames, tmp_path: Path) -> None:
    """Issue 16: a portfolio written before insurer limits existed (no file, not in the
    manifest) reads with an empty insurer_limits table; a file added afterwards, not
    listed by the manifest, is read (its row count unchecked); a listed one is checked."""
    old = {k: v for k, v in frames.items() if k != "insurer_limits"}
    out = _write(old, tmp_path / "old", "parquet")
    assert not (out / "insurer_limits.parquet").exists()
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert "insurer_limits" not in manifest["tables"]
    back, _ = read_portfolio(out)
    assert len(back["insurer_limits"]) == 0
    assert tuple(back["insurer_limits"].columns) == CONTRACTS["insurer_limits"].names
    added = pd.DataFrame([{"insurer_id": "INS-1", "policy_id": "P-1", "debtor_id": "D000001",
                           "supplier_id": None, "currency": "EUR", "requested_amount": 1.0,
                           "granted_amount": 1.0, "cover_pct": 0.9, "status": "granted",
                           "decision_date": "2026-01-02", "effective_date": None}])
    added.to_csv(out / "insurer_limits.csv", index=False)
    assert check_portfolio(out, {**manifest, "format": "csv"}, ["insurer_limits"],
                           optional=True) == {"insurer_limits": 1}
    added.to_parquet(out / "insurer_limits.parquet")
    back, _ = read_portfolio(out)
    assert back["insurer_limits"]["debtor_id"].tolist() == ["D000001"]
    assert back["insurer_limits"]["decision_date"].dtype == "datetime64[ns]"
    listed = _write(frames, tmp_path / "new", "parquet")  # the generator's insurer limits
    n = len(frames["insurer_limits"])
    assert json.loads((listed / MANIFEST_NAME).read_text())["tables"]["insurer_limits"] == n > 1
    added.to_parquet(listed / "insurer_limits.parquet")
    with pytest.raises(InvalidInputError, match=f"'insurer_limits'.*has 1 rows, the manifest "
                                                f"lists {n:,}"):
        read_portfolio(listed)
