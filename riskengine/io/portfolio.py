"""Read and write a portfolio directory (shell layer).

A portfolio on disk is a directory holding one file per table of
:data:`riskengine.contracts.schemas.CONTRACTS`, ``<table>.parquet`` (or ``<table>.csv``),
and a ``manifest.json`` describing it; an optional ``fx_rates`` table
(:data:`~riskengine.contracts.schemas.FX_RATES`) holds dated exchange rates, and
without it the manifest's ``fx_rates`` mapping, dated the manifest's ``as_of``, stands
for it (:func:`read_fx_rates`). The layout is documented in ``docs/DATA_LAYOUT.md``.

Every file is written atomically: to a temporary file in the same directory,
then moved into place with :func:`os.replace`, so a reader never sees a half
written table. The manifest is written last.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from riskengine.contracts.schemas import CONTRACTS, OPTIONAL_TABLES, REFERENCE_TABLES
from riskengine.errors import InvalidInputError
from riskengine.synthetic import contract_dtypes

__all__ = ["FORMATS", "MANIFEST_NAME", "OPTIONAL_TABLES", "REQUIRED_TABLES", "ROW_GROUP_ROWS",
           "TRUTH_DIR", "check_portfolio", "chunk_readable", "count_rows", "read_fx_rates", "read_manifest",
           "read_portfolio", "read_table", "table_file", "unreadable", "write_portfolio",
           "write_truth"]

#: File formats of a portfolio directory.
FORMATS: tuple[str, ...] = ("parquet", "csv")
#: Name of the manifest file.
MANIFEST_NAME = "manifest.json"
#: Rows per Parquet row group written by :func:`write_portfolio`: small enough that a
#: filter on a ``debtor_id`` range skips most of a table sorted by debtor id.
ROW_GROUP_ROWS = 65_536
#: Tables without which a directory is not a portfolio. Every contract table feeds the
#: decision (an absent adverse table would read as "no adverse records"), so
#: :func:`check_portfolio` requires all of them but the optional ones
#: (:data:`~riskengine.contracts.schemas.OPTIONAL_TABLES`: ``insurer_limits``, which an
#: older portfolio does not have; absent, it reads as no records); a table without
#: records is a file with the header row (CSV) or zero rows (Parquet).
REQUIRED_TABLES: tuple[str, ...] = tuple(n for n in CONTRACTS if n not in OPTIONAL_TABLES)

_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    The file is flushed to disk before the rename (``os.replace`` is atomic on
    POSIX), so a reader sees the old file or the whole new one, never a part,
    and a crash after return loses nothing. Used by every writer of riskengine.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_portfolio(
    frames: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike[str],
    *,
    manifest: Mapping[str, Any],
    fmt: str = "parquet",
) -> Path:
    """Write a portfolio directory: one file per table and ``manifest.json``.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Tables keyed by contract name (a subset of
        :data:`riskengine.contracts.schemas.CONTRACTS`; ``debtors`` is required). A
        required contract table absent from ``frames`` is written empty, with the
        contract columns, so that the directory is whole (:func:`check_portfolio`); an
        optional one (:data:`OPTIONAL_TABLES`) is written only when given.
    out_dir : path-like
        Directory to write; created with its parents when absent. Existing
        files of the same names are replaced.
    manifest : mapping
        Fields describing the portfolio (for a synthetic one,
        :func:`riskengine.synthetic.synthetic_manifest`). ``tables`` (rows
        per table) and ``format`` are filled in here.
    fmt : {"parquet", "csv"}
        File format of the tables.

    Returns
    -------
    pathlib.Path
        The directory written.

    Raises
    ------
    InvalidInputError
        Unknown format, unknown table name, or no ``debtors`` table.

    Notes
    -----
    CSV files hold dates as ``YYYY-MM-DD`` and missing values as empty fields;
    :func:`read_portfolio` restores the contract dtypes.
    """
    if fmt not in FORMATS:
        raise InvalidInputError(f"Portfolio format {fmt!r} is not supported; use one of {FORMATS}.")
    unknown = sorted(set(frames) - set(CONTRACTS) - set(REFERENCE_TABLES))
    if unknown:
        raise InvalidInputError(
            f"Cannot write tables {unknown}: not data contracts. Known tables: "
            f"{sorted([*CONTRACTS, *REFERENCE_TABLES])}."
        )
    if "debtors" not in frames:
        raise InvalidInputError("Cannot write a portfolio without the 'debtors' table.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    for name in CONTRACTS:  # contract order
        if name in OPTIONAL_TABLES and name not in frames:
            continue
        frame = frames[name] if name in frames else _empty(name)
        atomic_write(out / f"{name}.{fmt}", _table_writer(frame, fmt))
        rows[name] = len(frame)
    for name in REFERENCE_TABLES:  # optional: written when given
        if name in frames:
            atomic_write(out / f"{name}.{fmt}", _table_writer(frames[name], fmt))
            rows[name] = len(frames[name])
    meta = dict(manifest)
    meta["format"] = fmt
    meta["tables"] = rows
    text = json.dumps(meta, indent=2, default=str) + "\n"

    def write_manifest(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(out / MANIFEST_NAME, write_manifest)
    return out


#: The directory of a synthetic history's truth, beside its tables (never a table).
TRUTH_DIR = "truth"
_TRUTH_README = """SYNTHETIC DATA - the generator's truth, not a portfolio table.

true_pd.parquet holds, for every debtor alive and not in default at each year-end
of the history, the true 12-month probability of default that riskengine.synthetic
drew its defaults from (columns debtor_id, as_of, pd_12m). No real firm is described.

It is written by `riskengine demo-data --years Y` for benchmarks and tests of the
learner (a model's AUC against the truth's). The engine never reads it, the
portfolio's manifest does not list it, and no decision may use it.
Generator: {generator} v{version}, seed {seed}, {n} debtors, as of {as_of}, {years} years.
"""


def write_truth(truth: pd.DataFrame, out_dir: str | os.PathLike[str],
                manifest: Mapping[str, Any]) -> Path:
    """Write a synthetic history's truth: ``truth/true_pd.parquet`` and its README.txt.

    Beside a portfolio written by :func:`write_portfolio`, outside its tables (the
    manifest does not list it; :func:`read_portfolio` never reads it). ``as_of`` is
    written as a Parquet date. Returns the file written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(out_dir) / TRUTH_DIR
    root.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "debtor_id": pa.array(truth["debtor_id"].to_numpy(dtype=object), type=pa.string()),
        "as_of": pa.array(truth["as_of"].to_numpy(dtype="datetime64[D]"), type=pa.date32()),
        "pd_12m": pa.array(truth["pd_12m"].to_numpy(dtype="float64"), type=pa.float64()),
    })
    file = root / "true_pd.parquet"
    atomic_write(file, lambda tmp: pq.write_table(table, tmp))
    text = _TRUTH_README.format(generator=manifest.get("generator"),
                                version=manifest.get("generator_version"),
                                seed=manifest.get("seed"), n=manifest.get("n_debtors"),
                                as_of=manifest.get("as_of"),
                                years=manifest.get("history_years"))

    def write_readme(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(root / "README.txt", write_readme)
    return file


def _table_writer(frame: pd.DataFrame, fmt: str) -> Callable[[Path], None]:
    # Dictionary-encode ids, codes and dates (they repeat), not amounts: trying a
    # dictionary on float columns doubles the time to write the statements.
    repeated = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c].dtype)]

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False, use_dictionary=repeated,
                             row_group_size=ROW_GROUP_ROWS, write_statistics=True)
        else:
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")

    return write


def read_portfolio(path: str | os.PathLike[str], *, check: bool = True
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read a portfolio directory written by :func:`write_portfolio` (or by hand).

    Parameters
    ----------
    path : path-like
        The portfolio directory.
    check : bool, default True
        Run :func:`check_portfolio` first (every table present, readable and of the
        row count the manifest lists). Only a caller that has just checked the
        directory itself passes False.

    Returns
    -------
    frames : dict of str to DataFrame
        Every table of :data:`riskengine.contracts.schemas.CONTRACTS`, in contract order
        (an optional table the directory does not hold: empty, in the contract columns),
        then ``fx_rates`` when the portfolio has rates (:func:`read_fx_rates`).
    manifest : dict
        The parsed ``manifest.json``, or ``{}`` when there is none.

    Raises
    ------
    InvalidInputError
        The directory is missing, a table is missing, unreadable or holds another
        number of rows than the manifest lists, or the manifest is unreadable.

    Notes
    -----
    The format is the manifest's ``format``; without one, Parquet wins over
    CSV table by table. Columns are converted to the contract dtypes
    (:func:`riskengine.synthetic.contract_dtypes`) only where every value
    converts: a column with a bad value (a word in a numeric field, a date
    that does not parse) keeps its text so that :mod:`riskengine.validation`
    reports the record, the field and the value. Vocabularies are not checked
    here. Columns outside the contract are kept as read.
    """
    root = _portfolio_dir(path)
    manifest = read_manifest(root)
    if check:
        check_portfolio(root, manifest)
    frames = {name: read_table(root, name, manifest) for name in CONTRACTS}
    fx = read_fx_rates(root, manifest)
    if fx is not None:
        frames["fx_rates"] = fx
    return frames, manifest


def read_fx_rates(root: str | os.PathLike[str], manifest: Mapping[str, Any]
                  ) -> pd.DataFrame | None:
    """The portfolio's dated exchange rates, or None when it has none.

    The ``fx_rates`` table when its file is there (its rows checked against the
    manifest's count like any table); otherwise the manifest's ``fx_rates`` mapping
    (currency to units of the reporting currency per unit), every rate dated the
    manifest's ``as_of``. The rows are validated with the rest of the portfolio
    (:func:`riskengine.validation.fx.validate_fx_rates`).

    Raises
    ------
    InvalidInputError
        The table is unreadable or short, or the manifest's ``fx_rates`` is not a
        mapping of codes to numbers or comes without an ``as_of``.
    """
    root = Path(root)
    if table_file(root, "fx_rates", manifest) is not None:
        check_portfolio(root, manifest, ("fx_rates",), optional=True)
        return read_table(root, "fx_rates", manifest)
    rates = manifest.get("fx_rates")
    if rates is None:
        return None
    if not isinstance(rates, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in rates.values()):
        raise InvalidInputError(
            f"Manifest {root / MANIFEST_NAME}: 'fx_rates' must map ISO currency codes to "
            "rates (units of the reporting currency per unit); fix it, or give an "
            "fx_rates table (docs/DATA_LAYOUT.md).")
    if not manifest.get("as_of"):
        raise InvalidInputError(
            f"Manifest {root / MANIFEST_NAME}: 'fx_rates' without 'as_of': the rates need "
            "the date they are in force from; add as_of or give an fx_rates table.")
    day = pd.Timestamp(str(manifest["as_of"]))
    return _coerce("fx_rates", pd.DataFrame({
        "date": pd.Series([day] * len(rates), dtype="datetime64[ns]"),
        "currency": pd.Series(list(rates), dtype="str"),
        "rate": pd.Series([float(v) for v in rates.values()], dtype="float64")}))


def _portfolio_dir(path: str | os.PathLike[str]) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(
            f"Portfolio directory {str(root)!r} does not exist or is not a directory. "
            "Give the directory written by `riskengine demo-data --out DIR` or one laid out "
            "as in docs/DATA_LAYOUT.md."
        )
    return root


def table_file(root: Path, name: str, manifest: Mapping[str, Any]) -> Path | None:
    """The file :func:`read_portfolio` reads for table ``name``, or None when absent.

    The manifest's ``format`` decides; without one, Parquet wins over CSV.
    """
    return next((f for f in _candidates(root, name, manifest) if f.is_file()), None)


def _candidates(root: Path, name: str, manifest: Mapping[str, Any]) -> list[Path]:
    fmt = manifest.get("format")
    return [root / f"{name}.{f}" for f in ((fmt,) if fmt in FORMATS else FORMATS)]


def read_table(root: Path, name: str, manifest: Mapping[str, Any]) -> pd.DataFrame:
    """One table of a portfolio directory exactly as :func:`read_portfolio` reads it (an
    optional table without a file: empty, in the contract columns).

    Raises
    ------
    InvalidInputError
        The table's file is missing or is not a readable Parquet or CSV file.
    """
    file = table_file(root, name, manifest)
    if file is None and name in OPTIONAL_TABLES:
        return _empty(name)
    if file is None:
        raise InvalidInputError(_missing(root, name, manifest, _listed_rows(root, manifest)))
    raw = _read_parquet(file) if file.suffix == ".parquet" else _read_csv(file)
    return _coerce(name, raw)


def check_portfolio(root: str | os.PathLike[str], manifest: Mapping[str, Any],
                    tables: Iterable[str] | None = None, *, optional: bool = False
                    ) -> dict[str, int]:
    """Refuse a portfolio that is not whole: the one check before any decision.

    Every table of ``tables`` must have its file, the file must be readable
    (Parquet: its footer; CSV: it parses), and when the manifest lists row
    counts (``tables``, written by :func:`write_portfolio`) the file must hold
    exactly the rows listed for it, and the manifest must list it (an optional
    table, :data:`OPTIONAL_TABLES`, added to a portfolio after its manifest was
    written need not be listed: only its row count goes unchecked).

    Parameters
    ----------
    root : path-like
        The portfolio directory.
    manifest : mapping
        Its manifest (:func:`read_manifest`; ``{}`` when there is none).
    tables : iterable of str, optional
        The tables the run needs (default every required contract table: each feeds
        the decision, so a missing one would change limits; and the optional tables,
        ``insurer_limits``, and the reference tables, ``fx_rates``, when their file is
        there).
    optional : bool, default False
        ``tables`` are optional ones (``insurer_limits``, ``fx_rates``): checked when
        their file is there.

    Returns
    -------
    dict of str to int
        Rows per table found.

    Raises
    ------
    InvalidInputError
        One line naming the portfolio, the table or file, and what is wrong.

    Notes
    -----
    Parquet row counts come from the file footer, without decoding a column.
    A hand-made portfolio without a manifest (or whose manifest has no
    ``tables``) must still hold every table; only the row counts go unchecked.
    """
    root = _portfolio_dir(root)
    if tables is None:
        rows = check_portfolio(root, manifest, REQUIRED_TABLES)
        rows.update(check_portfolio(root, manifest, (*OPTIONAL_TABLES, *REFERENCE_TABLES),
                                    optional=True))
        return rows
    listed = _listed_rows(root, manifest)
    rows = {}
    for name in tables:
        file = table_file(root, name, manifest)
        if file is None and optional:
            continue
        if file is None:
            raise InvalidInputError(_missing(root, name, manifest, listed))
        found = count_rows(file)
        if listed is not None and name not in listed and optional:
            rows[name] = found  # an optional table added by hand: no count to check
            continue
        if listed is not None and name not in listed:
            raise InvalidInputError(
                f"portfolio {root}: table {name!r} ({file.name}, {found:,} rows) is not in "
                f"the manifest's tables, so its row count cannot be checked; add it to "
                f"{MANIFEST_NAME} or write the portfolio again.")
        if listed is not None and found != listed[name]:
            raise InvalidInputError(
                f"portfolio {root}: table {name!r} ({file.name}) has {found:,} rows, the "
                f"manifest lists {listed[name]:,}; the file is incomplete or was replaced. "
                "Restore it or write the portfolio again.")
        rows[name] = found
    return rows


def _missing(root: Path, name: str, manifest: Mapping[str, Any],
             listed: Mapping[str, int] | None) -> str:
    files = " or ".join(str(f) for f in _candidates(root, name, manifest))
    if listed is not None and name in listed:
        return (f"portfolio {root}: table {name!r} is missing (the manifest lists "
                f"{listed[name]:,} rows): no {files}. Restore it or write the portfolio again.")
    return (f"portfolio {root}: table {name!r} is missing: no {files}. Every table feeds "
            "the decision; give a file with the header row only when the table has no "
            "records (see docs/DATA_LAYOUT.md).")


def _listed_rows(root: Path, manifest: Mapping[str, Any]) -> dict[str, int] | None:
    """The manifest's rows per table, or None when it lists none (a hand-made one)."""
    listed = manifest.get("tables")
    if listed is None:
        return None
    if not isinstance(listed, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in listed.values()):
        raise InvalidInputError(
            f"Manifest {root / MANIFEST_NAME}: 'tables' must map each table name to its "
            "row count (a whole number >= 0); fix it or write the portfolio again.")
    return dict(listed)


def count_rows(file: Path) -> int:
    """Rows of a Parquet (from its footer) or CSV table file.

    Raises
    ------
    InvalidInputError
        The file is empty (zero bytes), unreadable, or not a valid file of its format
        (truncated, garbled, a CSV named ``.parquet``, a CSV that does not parse).
    """
    import pyarrow as pa

    kind = "Parquet" if file.suffix == ".parquet" else "CSV"
    try:
        if file.stat().st_size == 0:
            raise InvalidInputError(f"{file} is empty (zero bytes), not a {kind} table; "
                                    "restore it or write the portfolio again.")
        if kind == "Parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(file).metadata.num_rows)
        return _csv_rows(file)
    except (OSError, ValueError, pa.ArrowException) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise unreadable(file, kind, exc) from None


def _csv_rows(file: Path) -> int:
    """Rows of a CSV file, every field read as text (a row with another number of
    fields than the header, e.g. a file cut short, does not parse)."""
    import csv

    import pyarrow as pa
    import pyarrow.csv as pv

    with open(file, encoding="utf-8-sig", newline="") as fh:  # as pandas: a BOM is no name
        header = next(csv.reader(fh), [])
    table = pv.read_csv(
        file, parse_options=pv.ParseOptions(newlines_in_values=True),
        convert_options=pv.ConvertOptions(column_types={c: pa.string() for c in header},
                                          include_columns=header[:1]))
    return int(table.num_rows)


def unreadable(file: Path, kind: str, exc: BaseException) -> InvalidInputError:
    """The one-line error for a table or input file that cannot be read."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return InvalidInputError(f"{file} is not a readable {kind} file ({reason[:300]}); "
                             "restore it or write it again.")


def read_manifest(root: Path) -> dict[str, Any]:
    """The portfolio's parsed ``manifest.json``, or ``{}`` when it has none.

    Raises
    ------
    InvalidInputError
        The manifest is not readable JSON or not a JSON object.
    """
    path = root / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"Manifest {path} is not readable JSON ({' '.join(str(exc).split())}). "
            "Fix or remove it."
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"Manifest {path} must hold a JSON object, not {type(data).__name__}."
        )
    return data


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet table as :func:`pandas.read_parquet` reads it, one block per column
    (no consolidation copy of the float columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pandas(split_blocks=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise unreadable(path, "Parquet", exc) from None


def _read_csv(path: Path) -> pd.DataFrame:
    """Every field as text; empty fields are missing."""
    try:
        return pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:  # ParserError, EmptyDataError, UnicodeDecodeError
        raise unreadable(path, "CSV", exc) from None


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series([], dtype=dtype) for name, dtype in contract_dtypes(table).items()}
    )


def _coerce(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast each contract column to its dtype when all of its values convert."""
    dtypes = contract_dtypes(table)
    changed = {
        name: _convert(frame[name], dtypes[name])
        for name in frame.columns
        if name in dtypes and frame[name].dtype != dtypes[name]
    }
    return frame.assign(**changed) if changed else frame


def _convert(col: pd.Series, dtype: Any) -> pd.Series:
    present = col.notna()
    try:
        if dtype == "str":
            return col.astype("str")
        if dtype == "datetime64[ns]":
            if pd.api.types.is_datetime64_any_dtype(col):
                return col.astype(dtype)
            # exactly YYYY-MM-DD (riskengine.contracts.dates); anything else stays text for the
            # validation to report as not_date (no timestamps, no other layouts)
            iso = col.astype("str").str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
            if not iso[present].all():
                return col
            parsed = pd.to_datetime(col, format="%Y-%m-%d", errors="coerce")
            return parsed.astype(dtype) if parsed[present].notna().all() else col
        if dtype == "bool":
            if pd.api.types.is_bool_dtype(col) and present.all():
                return col.astype(bool)
            mapped = col.astype("str").str.strip().str.lower().map(_BOOL_TEXT)
            return mapped.astype(bool) if mapped.notna().all() else col
        if dtype == "boolean":  # a nullable flag: missing stays missing (CSV: an empty cell)
            if pd.api.types.is_bool_dtype(col):
                return col.astype(dtype)
            mapped = col.astype("str").str.strip().str.lower().map(_BOOL_TEXT)
            return mapped.astype(dtype) if mapped[present].notna().all() else col
        numeric = pd.to_numeric(col, errors="coerce")
        if not numeric[present].notna().all():
            return col
        if dtype == "Int64":
            values = numeric[present]
            return numeric.astype("Int64") if (values == values.round()).all() else col
        return numeric.astype(dtype)
    except (TypeError, ValueError):
        return col


def chunk_readable(path: str | os.PathLike[str], table: str, *, min_row_groups: int = 1) -> bool:
    """Whether a Parquet table reads the same in debtor-id ranges as whole, and fast.

    :func:`read_portfolio` converts a column to its contract dtype only when every
    value of the *whole table* converts, so a range of the table converts the same
    way only when the conversion cannot depend on other rows. That holds here when
    each contract column is stored with its contract type (text as ``string``,
    amounts as floating point or integers, ``Int64`` as integers, dates as
    ``timestamp[ns]``, flags as ``bool`` without missing values) and no column is
    dictionary-typed. The range filter skips row groups only when the table is
    sorted by ``debtor_id``: each row group's ``debtor_id`` statistics must be
    present and the row groups' ``[min, max]`` non-decreasing (a row group of
    missing ids only is allowed anywhere).

    Parameters
    ----------
    path : path-like
        A ``<table>.parquet`` file.
    table : str
        Its contract name (:data:`riskengine.contracts.schemas.CONTRACTS`).
    min_row_groups : int
        Fewer row groups than this: False (a range would decode most of the table).

    Returns
    -------
    bool
        True when reading ranges of ``debtor_id`` with a row filter gives the rows
        and dtypes of the same ranges of the whole read, skipping row groups.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, ValueError, pa.ArrowException):
        return False
    schema = pf.schema_arrow
    if "debtor_id" not in schema.names or table not in CONTRACTS:
        return False
    meta = pf.metadata
    if meta.num_row_groups < max(min_row_groups, 1):
        return False
    dtypes = contract_dtypes(table)
    for fld in schema:
        kind = fld.type
        if pa.types.is_dictionary(kind) or pa.types.is_nested(kind):
            return False
        want = dtypes.get(fld.name)
        if want is None:
            continue
        ok = {
            "str": pa.types.is_string(kind) or pa.types.is_large_string(kind),
            "float64": pa.types.is_floating(kind) or pa.types.is_integer(kind),
            "Int64": pa.types.is_integer(kind),
            "datetime64[ns]": kind == pa.timestamp("ns"),
            "bool": pa.types.is_boolean(kind),
        }.get(str(want), False)
        if not ok:
            return False
    flags = [schema.get_field_index(n) for n, d in dtypes.items()
             if str(d) == "bool" and n in schema.names]  # fmt: skip
    id_col = schema.get_field_index("debtor_id")
    if not (pa.types.is_string(schema.field(id_col).type)
            or pa.types.is_large_string(schema.field(id_col).type)):
        return False
    last: str | None = None
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for i in flags:  # a missing flag keeps the whole column as text
            st = rg.column(i).statistics
            if st is None or not st.has_null_count or st.null_count:
                return False
        st = rg.column(id_col).statistics
        if st is None:
            return False
        if st.has_null_count and st.null_count == rg.num_rows:
            continue
        if not st.has_min_max:
            return False
        lo, hi = str(st.min), str(st.max)
        if (last is not None and lo < last) or hi < lo:
            return False
        last = hi
    return True
