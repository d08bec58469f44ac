"""Loaders for the real public data sets in ``../shared/data`` (shell layer).

The files stay where they are: riskengine reads them from ``../shared/data``
beside the project root (or from ``$RISKENGINE_SHARED_DATA``) and never copies
them into the repository. See ``../shared/data/README.md`` for sources,
licences and how the labels are built.

- :func:`load_us_panel` — US listed firms 1999–2014 mapped onto the
  statements contract, with the 12-month default label.
- :func:`load_polish` — Polish companies (UCI 365), 64 ratios and the class.
- :func:`load_spanish` — Spanish firms 1998–2003 with judicial incidences.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import STATEMENTS
from riskengine.errors import InvalidInputError
from riskengine.features.units import MoneyUnit

#: The money unit of the US panel's amounts (the file's: USD millions). A model trained on
#: it declares this unit (``money_unit`` in its metadata, docs/TRAINING.md).
US_PANEL_UNIT = MoneyUnit("USD", 1e6)

__all__ = [
    "US_PANEL_UNIT",
    "shared_data_dir",
    "load_us_panel",
    "load_polish",
    "load_spanish",
    "read_arff",
    "US_PANEL_COLUMNS",
]

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    """The directory of the shared real data, or None when it cannot be found.

    ``$RISKENGINE_SHARED_DATA`` wins; otherwise ``../shared/data`` beside the
    project root.
    """
    env = os.environ.get("RISKENGINE_SHARED_DATA")
    if env:
        return Path(env)
    candidate = _PROJECT_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def _data_file(path: str | os.PathLike[str] | None, *parts: str) -> Path:
    if path is not None:
        return Path(path)
    root = shared_data_dir()
    if root is None:
        raise FileNotFoundError(
            f"shared data not found: ../shared/data is absent beside the project root, so "
            f"{'/'.join(parts)} cannot be read. Set RISKENGINE_SHARED_DATA to its path "
            "or pass path=."
        )
    return root.joinpath(*parts)


# --- US listed firms -------------------------------------------------------------------

#: Statement contract column ← column of ``us_listed/firm_years.csv.gz``.
_US_MAP: dict[str, str] = {
    "revenue": "total_revenue",
    "cost_of_sales": "cost_of_goods_sold",
    "gross_profit": "gross_profit",
    "operating_expenses": "total_operating_expenses",
    "ebitda": "ebitda",
    "depreciation_amortization": "depreciation_and_amortization",
    "ebit": "ebit",
    "net_income": "net_income",
    "receivables": "total_receivables",
    "inventory": "inventory",
    "current_assets": "current_assets",
    "total_assets": "total_assets",
    "current_liabilities": "total_current_liabilities",
    "long_term_debt": "total_long_term_debt",
    "total_liabilities": "total_liabilities",
    "retained_earnings": "retained_earnings",
    "market_value": "market_value",
}
_US_REQUIRED: tuple[str, ...] = ("firm_id", "fiscal_year", "failed", *_US_MAP.values())
#: Columns of :func:`load_us_panel` (``split`` only when the file has it).
US_PANEL_COLUMNS: tuple[str, ...] = (*STATEMENTS.names, "fiscal_year", "split", "default_12m")


def load_us_panel(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The US listed-firm panel as statements, with the 12-month default label.

    Parameters
    ----------
    path : path-like, optional
        A CSV (optionally gzip) in the format of
        ``../shared/data/us_listed/firm_years.csv.gz`` (the default); the
        ``split`` column may be absent.

    Returns
    -------
    pandas.DataFrame
        One row per firm-year, sorted by ``debtor_id`` then ``period_end``,
        with the columns of :data:`riskengine.contracts.schemas.STATEMENTS` (in order)
        then ``fiscal_year`` (int), ``split`` (if the file has it) and
        ``default_12m`` (int 0/1).

    Raises
    ------
    InvalidInputError
        The file is missing or does not parse as CSV, a required column is missing
        (named), or a firm has two rows for one fiscal year.

    Notes
    -----
    Mapping: ``debtor_id`` = ``firm_id``; ``period_end`` = 31 December of
    ``fiscal_year``; ``statement_type`` = ``audited`` (10-K filings);
    ``currency`` = ``USD``; ``equity`` = ``total_assets − total_liabilities``
    (book equity; the file has no equity column); ``interest_expense`` and
    ``cash`` are NaN because the file does not report them. Amounts stay in
    **USD millions** as in the file (:data:`US_PANEL_UNIT`): the ratio features are
    unit-invariant, and the size features (log total assets, log revenue) are in log
    USD millions, the unit a model trained on the panel declares.

    Label (data/README.md): ``default_12m`` is 1 on the *last* fiscal year of
    a firm with ``failed = 1`` and 0 on every other row; firms that leave the
    panel without failing are not defaults. ``failed`` itself is a firm
    attribute known only in hindsight and is not returned.
    """
    file = _data_file(path, "us_listed", "firm_years.csv.gz")
    try:
        raw = pd.read_csv(file)
    except (OSError, ValueError, EOFError) as exc:  # missing, not CSV, a cut gzip stream
        raise InvalidInputError(
            f"{file} is not a readable CSV(.gz) file ({' '.join(str(exc).split())[:300]}); "
            "give a file in the format of us_listed/firm_years.csv.gz."
        ) from None
    missing = [c for c in _US_REQUIRED if c not in raw.columns]
    if missing:
        raise InvalidInputError(
            f"{file}: column {missing[0]!r} is missing (all missing: {missing}). "
            "The file must have the columns of us_listed/firm_years.csv.gz "
            "(see ../shared/data/README.md).",
            [{"table": "us_panel", "record": None, "debtor_id": None, "column": c,
              "value": None, "reason": "missing_column",
              "message": f"column {c!r} is missing"} for c in missing],
        )  # fmt: skip
    raw = raw.sort_values(["firm_id", "fiscal_year"], kind="stable", ignore_index=True)
    firm = raw["firm_id"].astype("str")
    year = raw["fiscal_year"].astype(np.int64)
    dup = firm.eq(firm.shift()) & year.eq(year.shift())
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InvalidInputError(
            f"{file}: firm {firm.iloc[i]!r} has two rows for fiscal_year {year.iloc[i]}. "
            "Keep one row per firm and year."
        )
    out = pd.DataFrame(
        {
            "debtor_id": firm,
            "period_end": pd.to_datetime(
                pd.DataFrame({"year": year, "month": 12, "day": 31})
            ).astype("datetime64[ns]"),
            "statement_type": "audited",
            "currency": "USD",
        }
    )
    for item, src in _US_MAP.items():
        out[item] = raw[src].astype(np.float64)
    out["interest_expense"] = np.nan
    out["cash"] = np.nan
    out["equity"] = out["total_assets"] - out["total_liabilities"]
    out = out[list(STATEMENTS.names)]
    out["fiscal_year"] = year
    if "split" in raw.columns:
        out["split"] = raw["split"].astype("str")
    last_year = year.groupby(firm).transform("max")
    failed = raw["failed"].astype(np.int64) == 1
    out["default_12m"] = (failed & (year == last_year)).astype(np.int64)
    return out


# --- ARFF -------------------------------------------------------------------------------

_ATTR = re.compile(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(\{[^}]*\}|\S+)", re.IGNORECASE)
_NUMERIC = {"numeric", "real", "integer"}


def read_arff(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a dense ARFF file into a DataFrame.

    Parameters
    ----------
    path : path-like
        The ``.arff`` file.

    Returns
    -------
    pandas.DataFrame
        One column per ``@attribute``, in order: ``numeric`` / ``real`` /
        ``integer`` as float64, nominal ``{a,b,...}`` as ``category`` with the
        declared categories (as strings, in declared order). ``?`` is NaN.

    Raises
    ------
    InvalidInputError
        No ``@data`` section, an attribute type this reader does not handle
        (string, date, relational, sparse data), or a nominal value outside
        its declared set.

    Notes
    -----
    Comments (``%`` to end of line) are ignored in the header; data rows are
    comma-separated with optional single quotes.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    names: list[str] = []
    kinds: list[str | list[str]] = []
    data_at = None
    for n, line in enumerate(lines):
        s = line.split("%", 1)[0].strip()
        if not s:
            continue
        low = s.lower()
        if low.startswith("@attribute"):
            m = _ATTR.match(s)
            if m is None:
                raise InvalidInputError(f"{path}: cannot parse attribute line {n + 1}: {line!r}.")
            name, kind = m.group(1).strip("'\""), m.group(2)
            if kind.startswith("{"):
                kinds.append([v.strip().strip("'\"") for v in kind[1:-1].split(",")])
            elif kind.lower() in _NUMERIC:
                kinds.append("numeric")
            else:
                raise InvalidInputError(
                    f"{path}: attribute {name!r} has type {kind!r}; only numeric, real, "
                    "integer and nominal attributes are supported."
                )
            names.append(name)
        elif low.startswith("@data"):
            data_at = n + 1
            break
    if data_at is None or not names:
        raise InvalidInputError(f"{path}: no @attribute or @data section; is it an ARFF file?")
    body = "\n".join(lines[data_at:])
    if body.lstrip().startswith("{"):
        raise InvalidInputError(f"{path}: sparse ARFF data is not supported.")
    frame = pd.read_csv(
        io.StringIO(body), header=None, names=names, na_values=["?"], keep_default_na=False,
        dtype=str, quotechar="'", skipinitialspace=True, comment="%",
    )  # fmt: skip
    out: dict[str, pd.Series] = {}
    for name, kind in zip(names, kinds, strict=True):
        col = frame[name]
        if kind == "numeric":
            out[name] = pd.to_numeric(col, errors="raise").astype(np.float64)
            continue
        bad = (col.notna() & ~col.isin(kind)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"{path}: row {i + 1} of @data has {name} = {col.iloc[i]!r}, not one of {kind}."
            )
        cat = pd.Categorical(col, categories=kind)
        out[name] = pd.Series(cat, index=frame.index, name=name)
    return pd.DataFrame(out)


def load_polish(
    which: str = "5year", path: str | os.PathLike[str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The Polish companies data (UCI 365): 64 ratios and the bankruptcy class.

    Parameters
    ----------
    which : {"5year", "1year"}, default "5year"
        ``5year``: 5,910 firms, 410 bankrupt within one year (the 12-month
        horizon). ``1year``: 7,027 firms, 271 bankrupt within five years.
    path : path-like, optional
        Another ARFF file of the same format.

    Returns
    -------
    X : pandas.DataFrame
        ``Attr1`` … ``Attr64`` as float64 (``?`` → NaN).
    y : pandas.Series
        ``bankrupt``: int 0/1 from ``class``.

    Notes
    -----
    No firm ids or years: random stratified folds are the only protocol.
    """
    if which not in ("5year", "1year"):
        raise InvalidInputError(f"load_polish: which={which!r}; use '5year' or '1year'.")
    file = _data_file(path, "polish", f"{which}.arff")
    df = read_arff(file)
    attrs = [f"Attr{i}" for i in range(1, 65)]
    _require(df, [*attrs, "class"], file)
    y = df["class"].astype(str).astype(np.int64).rename("bankrupt")
    return df[attrs], y


def load_spanish(path: str | os.PathLike[str] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The Spanish firms data 1998–2003, with judicial incidences and audit opinion.

    Parameters
    ----------
    path : path-like, optional
        Another ARFF file of the same format.

    Returns
    -------
    X : pandas.DataFrame
        Every attribute but ``BANKRUPTCY``: numeric ones float64 (``?`` → NaN),
        nominal ones (``SIZE``, ``SOCIAL_CODE``, ``LINKED_GROUP``,
        ``PROVINCE_CODE``, ``DELAY_ACCOUNTS``, ``AUDITED``,
        ``AUDITORS_OPINION``) ``category`` of strings.
    y : pandas.Series
        ``bankrupt``: int 0/1, 1 where ``BANKRUPTCY`` is ``YES``.

    Notes
    -----
    The same firm appears in several years and there is no firm id: split by
    ``YEAR``, never by random rows. Every column's meaning:
    ``riskengine.modeldev.spanish.SPANISH_COLUMNS`` and docs/EVIDENCE.md.
    """
    file = _data_file(path, "spanish", "Bankruptcy_Spain_98-03.arff")
    df = read_arff(file)
    _require(df, ["YEAR", "BANKRUPTCY"], file)
    y = (df["BANKRUPTCY"].astype(str) == "YES").astype(np.int64).rename("bankrupt")
    return df.drop(columns="BANKRUPTCY"), y


def _require(df: pd.DataFrame, columns: list[str], file: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidInputError(
            f"{file}: attribute {missing[0]!r} is missing (all missing: {missing}). "
            "Pass a file in the format of the data set in ../shared/data."
        )
