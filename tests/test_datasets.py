"""Tests of riskengine.io.datasets: loaders for the real data in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.contracts.schemas import STATEMENTS
from riskengine.errors import InvalidInputError
from riskengine.features.statements import statement_panel_features
from riskengine.io.datasets import (
    US_PANEL_COLUMNS,
    load_polish,
    load_spanish,
    load_us_panel,
    read_arff,
)

_US_ITEMS = (
    "current_assets,total_assets,cost_of_goods_sold,total_long_term_debt,"
    "depreciation_and_amortization,ebit,ebitda,gross_profit,inventory,"
    "total_current_liabilities,net_income,retained_earnings,total_receivables,total_revenue,"
    "market_value,total_liabilities,net_sales,total_operating_expenses"
)


def _write_us(tmp_path: Path, rows: list[str], header: str | None = None) -> Path:
    """A tiny made-up file in the format of us_listed/firm_years.csv.gz (no split column)."""
    path = tmp_path / "firm_years.csv"
    head = header or f"firm_id,fiscal_year,failed,{_US_ITEMS}"
    path.write_text("\n".join([head, *rows]) + "\n")
    return path


_ITEMS_ROW = "9,10,8,5,0.2,0.7,0.9,15,4,7,0.6,-18,3,23,2.8,12,23,22"


def test_us_label_is_last_year_of_failed_firm(tmp_path: Path) -> None:
    """data/README.md: 1 on the last fiscal year of a firm with failed = 1, else 0; a firm
    that leaves the panel without failing is not a default."""
    path = _write_us(tmp_path, [
        f"A,2011,1,{_ITEMS_ROW}", f"A,2010,1,{_ITEMS_ROW}", f"A,2012,1,{_ITEMS_ROW}",
        f"B,2010,0,{_ITEMS_ROW}", f"B,2011,0,{_ITEMS_ROW}",
    ])  # fmt: skip
    out = load_us_panel(path)
    assert list(out.columns) == [c for c in US_PANEL_COLUMNS if c != "split"]
    assert out["debtor_id"].tolist() == ["A", "A", "A", "B", "B"]
    assert out["fiscal_year"].tolist() == [2010, 2011, 2012, 2010, 2011]
    assert out["default_12m"].tolist() == [0, 0, 1, 0, 0]
    assert (out["period_end"] == pd.to_datetime(out["fiscal_year"].astype(str) + "-12-31")).all()
    # equity = total assets − total liabilities = 10 − 12 = −2 (hand calculation)
    assert out["equity"].iloc[0] == pytest.approx(-2.0)
    assert out[["interest_expense", "cash"]].isna().all().all()
    assert out["revenue"].iloc[0] == 23.0 and out["cost_of_sales"].iloc[0] == 8.0


def test_us_missing_column_is_named(tmp_path: Path) -> None:
    header = f"firm_id,fiscal_year,failed,{_US_ITEMS}".replace(",total_receivables", "")
    path = _write_us(tmp_path, [], header=header)
    with pytest.raises(InvalidInputError, match="column 'total_receivables' is missing"):
        load_us_panel(path)


def test_us_duplicate_year_is_named(tmp_path: Path) -> None:
    path = _write_us(tmp_path, [f"A,2010,0,{_ITEMS_ROW}", f"A,2010,0,{_ITEMS_ROW}"])
    with pytest.raises(InvalidInputError, match="firm 'A' has two rows for fiscal_year 2010"):
        load_us_panel(path)


_ARFF = """% a made-up file in the ARFF format
@relation 'toy'
@attribute YEAR integer   % FISCAL YEAR
@attribute 'Ratio A' numeric
@attribute SIZE {small,medium,big}   % SIZE
@attribute class {0,1}

@data
1998,0.5,small,0
1999,?,'big',1
% a comment line
2000,-1.25e-3,?,0
"""


def test_read_arff(tmp_path: Path) -> None:
    path = tmp_path / "toy.arff"
    path.write_text(_ARFF)
    df = read_arff(path)
    assert list(df.columns) == ["YEAR", "Ratio A", "SIZE", "class"]
    assert df["YEAR"].tolist() == [1998.0, 1999.0, 2000.0]
    assert np.isnan(df["Ratio A"].iloc[1]) and df["Ratio A"].iloc[2] == -1.25e-3
    assert list(df["SIZE"].cat.categories) == ["small", "medium", "big"]
    assert df["SIZE"].iloc[1] == "big" and pd.isna(df["SIZE"].iloc[2])


def test_read_arff_rejects_undeclared_nominal(tmp_path: Path) -> None:
    path = tmp_path / "bad.arff"
    path.write_text(_ARFF.replace("2000,-1.25e-3,?,0", "2000,1,huge,0"))
    with pytest.raises(InvalidInputError, match="SIZE = 'huge', not one of"):
        read_arff(path)


def test_load_polish_rejects_unknown_variant() -> None:
    with pytest.raises(InvalidInputError, match="which='3year'"):
        load_polish("3year")


# --- real data ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_us_panel_label_counts(shared_data: Path) -> None:
    """data/README.md: train 354 defaults among 13,239 rows; validation 74 among 2,894;
    16,133 firm-years of 3,528 firms."""
    us = load_us_panel(shared_data / "us_listed" / "firm_years.csv.gz")
    counts = us.groupby("split")["default_12m"].agg(["sum", "size"])
    assert counts.loc["train"].tolist() == [354, 13239]
    assert counts.loc["validation"].tolist() == [74, 2894]
    assert us["debtor_id"].nunique() == 3528
    assert list(us.columns[: len(STATEMENTS.names)]) == list(STATEMENTS.names)
    # at most one default per firm, on its last year
    assert us.groupby("debtor_id")["default_12m"].sum().max() == 1
    feats = statement_panel_features(us)
    assert not np.isinf(feats.to_numpy()).any()
    assert feats["st_altman_z2"].notna().mean() > 0.99


@pytest.mark.realdata
def test_polish_5year_shape(shared_data: Path) -> None:
    """data/README.md: 5year.arff has 5,910 firms, 410 bankrupt within one year; about
    half the rows miss at least one ratio."""
    X, y = load_polish("5year", shared_data / "polish" / "5year.arff")
    assert X.shape == (5910, 64)
    assert int(y.sum()) == 410
    assert (X.dtypes == np.float64).all()
    assert 0.3 < X.isna().any(axis=1).mean() < 0.7


@pytest.mark.realdata
def test_polish_matches_scipy_arff(shared_data: Path) -> None:
    """Our ARFF reader agrees with scipy.io.arff on every value of 5year.arff."""
    from scipy.io import arff

    data, _ = arff.loadarff(shared_data / "polish" / "5year.arff")
    X, y = load_polish("5year", shared_data / "polish" / "5year.arff")
    ref = np.column_stack([data[f"Attr{i}"] for i in range(1, 65)]).astype(np.float64)
    np.testing.assert_array_equal(X.to_numpy(), ref)
    assert y.tolist() == [int(v) for v in data["class"].astype(str)]


@pytest.mark.realdata
def test_spanish_shape(shared_data: Path) -> None:
    """data/README.md: 2,859 firm-years 1998–2003, 62 financial failures."""
    X, y = load_spanish(shared_data / "spanish" / "Bankruptcy_Spain_98-03.arff")
    assert len(X) == 2859 and int(y.sum()) == 62
    assert "BANKRUPTCY" not in X.columns
    assert X["YEAR"].between(1998, 2003).all()
    assert isinstance(X["AUDITORS_OPINION"].dtype, pd.CategoricalDtype)
    assert set(X["AUDITORS_OPINION"].cat.categories) == {"nothing", "positive", "minor", "negative"}
    assert X["NUMBER_JUDICIAL_INCIDENCES_TOTAL"].dtype == np.float64
