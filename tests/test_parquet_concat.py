"""Parquet files concatenated without decoding (riskengine._parquet_concat).

The reference is pyarrow itself: one ParquetWriter writing the same tables one
after the other must give the very bytes the concatenation gives.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskengine._parquet_concat import (
    ParquetConcat,
    ParquetConcatError,
    concat_files,
    decode_struct,
    encode_struct,
    read_footer,
)
from riskengine.rerate import _decisions_writer_options, decisions_schema


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = [f"D{i:07d}" for i in range(n)]
    grades = rng.choice(["1", "5", "9", None], n).tolist()
    reasons = [[{"feature": "f", "value": float(v), "direction": "higher",
                 "text": f"text {v:.3f}"}] * int(k)
               for v, k in zip(rng.normal(size=n), rng.integers(0, 4, n), strict=True)]
    pdv = rng.uniform(0, 1, n)
    pdv[::7] = np.nan  # missing (null in Arrow, so that Table.equals can compare)
    data = {"debtor_id": ids, "grade": grades, "pd": pdv, "reason_codes": reasons,
            "knockouts": [["insolvency"] if i % 11 == 0 else [] for i in range(n)]}
    schema = decisions_schema()
    cols = [pa.array(data[f.name], f.type, from_pandas=True) if f.name in data
            else pa.nulls(n, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _write(tables: list[pa.Table], sink: object) -> None:
    schema = decisions_schema()
    with pq.ParquetWriter(sink, schema, **_decisions_writer_options(schema)) as w:
        for t in tables:
            if t.num_rows:
                w.write_table(t)


def _template() -> bytes:
    sink = io.BytesIO()
    _write([], sink)
    return sink.getvalue()


@pytest.mark.parametrize("sizes", [[5, 1, 300], [2000], [0, 40, 0, 7], [0]])
def test_concat_is_the_single_writer_file_byte_for_byte(tmp_path: Path, sizes: list[int]
                                                        ) -> None:
    tables = [_table(n, seed) for seed, n in enumerate(sizes)]
    files = []
    for i, t in enumerate(tables):
        files.append(tmp_path / f"part{i}.parquet")
        _write([t], files[-1])
    _write(tables, tmp_path / "one.parquet")
    rows = concat_files(files, _template(), tmp_path / "cat.parquet")
    assert rows == sum(sizes)
    assert (tmp_path / "cat.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    back = pq.read_table(tmp_path / "cat.parquet")
    assert back.equals(pa.concat_tables(tables).combine_chunks())
    # row groups are readable one by one (offsets moved right)
    pf = pq.ParquetFile(tmp_path / "cat.parquet")
    non_empty = [t for t in tables if t.num_rows]
    assert pf.num_row_groups == len(non_empty)
    for i, t in enumerate(non_empty):
        assert pf.read_row_group(i).equals(t)


def test_footer_round_trips_through_the_codec(tmp_path: Path) -> None:
    _write([_table(50, 3)], tmp_path / "a.parquet")
    data = (tmp_path / "a.parquet").read_bytes()
    footer = read_footer(data)
    raw = data[footer.data_end:-8]
    assert encode_struct(decode_struct(raw)) == raw
    # field ids beyond 15 and long lists use the long headers
    fields = [[1, 5, -3], [40, 6, 2**40], [41, 9, (5, list(range(20)))], [42, 1, True],
              [43, 8, b"x" * 200], [44, 7, 1.5], [45, 11, (8, 5, [(b"k", 7)])],
              [46, 12, [[1, 3, -128], [2, 4, 300]]]]
    assert decode_struct(encode_struct(fields)) == fields


def test_refuses_other_schemas_and_non_parquet(tmp_path: Path) -> None:
    (tmp_path / "other.parquet").write_bytes(b"")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really a parquet file PAR1")
    with open(tmp_path / "out.parquet", "wb") as fh:
        cat = ParquetConcat(fh, _template())
        with pytest.raises(ParquetConcatError, match="another schema"):
            cat.append(tmp_path / "other.parquet")
        with pytest.raises(ParquetConcatError, match="junk.parquet"):
            cat.append(tmp_path / "junk.parquet")
    with pytest.raises(ParquetConcatError, match="not a plaintext Parquet"):
        read_footer(b"hello world, no magic here")
    with pytest.raises(ParquetConcatError, match="truncated"):
        decode_struct(b"\x15")


def test_module_example_runs() -> None:
    import doctest

    from riskengine import _parquet_concat

    result = doctest.testmod(_parquet_concat)
    assert result.attempted > 0 and result.failed == 0
