"""Deciding one chunk of a rerate run: :func:`decide_chunk` (pair rows, one rating row
per debtor, error rows, as Arrow) and the Arrow tables it gives.

The decisions travel as Arrow from the engine
(:meth:`riskengine.scoring.engine.Engine.decide_table`) to the workers' Parquet
encoder: no Python object per decision or reason code.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts.arrowtext import large_text
from riskengine.contracts.schemas import ERROR_COLUMNS
from riskengine.errors import RerateError


def _unify(tables: Sequence[pa.Schema]) -> pa.Schema:
    if not tables:
        return pa.schema([])
    return pa.unify_schemas(list(tables), promote_options="permissive").remove_metadata()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table[f.name]
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(len(table), f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def decisions_schema() -> pa.Schema:
    """The Arrow schema of the ``decisions`` dataset: the engine's decision columns
    (:func:`riskengine.scoring.table.decision_schema`) and ``row_type``."""
    from riskengine.scoring.table import decision_schema

    return decision_schema().append(pa.field("row_type", pa.large_string()))


def decisions_table(decisions: pd.DataFrame) -> pa.Table:
    """An engine's decisions frame (:attr:`~riskengine.scoring.engine.DecisionBatch.decisions`)
    as Arrow in the decision columns' types, rows in the frame's order."""
    from riskengine.scoring.table import decision_schema

    df = decisions.reset_index(drop=True)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    return _conform(table, decision_schema())


def chunk_decisions(pairs: pa.Table) -> pa.Table:
    """A chunk's decision rows: the pair rows plus one rating row per debtor.

    The rating row keeps the debtor-level columns (:data:`RATING_ROW_COLUMNS`) of
    the debtor's first pair row and leaves the pair-level ones empty. Rows are
    sorted by ``debtor_id``, the rating row first, then by ``supplier_id``.

    Each column is one take from the pair rows: a rating row reads its debtor's
    first pair, through a null index in the pair-level columns. Pairs already in
    that order (the engine keeps the exposures' order; a sorted portfolio gives
    them sorted) are interleaved without a sort.
    """
    schema = decisions_schema()
    pairs = _conform(pairs, schema.remove(schema.get_field_index("row_type")))
    n = pairs.num_rows
    if n == 0:
        return schema.empty_table()
    codes = np.asarray(pc.dictionary_encode(pairs["debtor_id"]).combine_chunks().indices)
    _, first = np.unique(codes, return_index=True)
    k = len(first)

    def columns(src: np.ndarray, rating: np.ndarray, names: list[str]) -> list[pa.ChunkedArray]:
        whole, pair_level = pa.array(src), pa.array(src, mask=rating)
        return [pairs[c].take(whole if c in RATING_ROW_COLUMNS else pair_level) for c in names]

    debtor, supplier = pairs["debtor_id"], pairs["supplier_id"]
    d0, d1, s0, s1 = (c.slice(a, n - 1) for c in (debtor, supplier) for a in (0, 1))
    if debtor.null_count == 0 and supplier.null_count == 0 and pc.all(pc.or_(
            pc.less(d0, d1), pc.and_(pc.equal(d0, d1), pc.less_equal(s0, s1)))).as_py():
        # sorted: debtor j's rating row just before its first pair, at first[j] + j
        at = first + np.arange(k)
        src = np.empty(n + k, dtype=np.int64)
        src[at] = first
        src[np.arange(n) + codes + 1] = np.arange(n)
        rating = np.zeros(n + k, dtype=bool)
        rating[at] = True
    else:  # the rating rows, then the pair rows, sorted (stable)
        src = np.concatenate([first, np.arange(n)])
        rating = np.arange(n + k) < k
        names = ["debtor_id", "supplier_id"]
        keys = pa.Table.from_arrays(columns(src, rating, names), names=names)
        order = np.asarray(pc.sort_indices(keys, sort_keys=[
            ("debtor_id", "ascending", "at_start"), ("supplier_id", "ascending", "at_start")]))
        src, rating = src[order], rating[order]
    text = pa.large_string()
    row_type = pa.array(["pair", "rating"], text).take(pa.array(rating.astype(np.int8)))
    return pa.Table.from_arrays([*columns(src, rating, pairs.column_names), row_type],
                                schema=schema).combine_chunks()


def errors_table(errors: pd.DataFrame) -> pa.Table:
    """A chunk's error rows as Arrow: :data:`~riskengine.contracts.schemas.ERROR_COLUMNS` as text."""
    df = errors.reset_index(drop=True)
    data = {}
    for col in ERROR_COLUMNS:
        values = df[col] if col in df.columns else pd.Series([None] * len(df), dtype=object)
        # a list, not Series.map: pandas 3's map turns a returned None into NaN
        missing = values.isna().to_numpy()
        data[col] = pa.array([None if m else str(v) for v, m in
                              zip(values.astype(object).tolist(), missing, strict=True)],
                             type=pa.string())
    extra = [c for c in df.columns if c not in ERROR_COLUMNS]
    table = pa.table(data)
    for c in extra:
        table = table.append_column(c, pa.array(df[c].astype(object).map(
            lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
            else str(v)).tolist(), type=pa.string()))
    return table


def table_bytes(table: pa.Table) -> bytes:
    """Arrow IPC stream bytes of a table (the Spark executors' payload)."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def table_from_bytes(data: bytes) -> pa.Table:
    """Inverse of :func:`table_bytes`."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def decided_at_for(as_of: str) -> str:
    """The fixed decision timestamp of a run: the as-of date at midnight UTC."""
    return f"{as_of}T00:00:00Z"


def engine_versions(engine: Any) -> tuple[str, str]:
    """(model version, policy version) of a loaded engine."""
    model = getattr(engine, "model_version", None)
    policy = getattr(engine, "policy_version", None)
    if policy is None and getattr(engine, "policy", None) is not None:
        policy = getattr(engine.policy, "version", None)
    return str(model or "unknown"), str(policy or "unknown")


#: Debtor-level columns kept on a rating row; the pair-level ones are empty there.
RATING_ROW_COLUMNS: tuple[str, ...] = (
    "debtor_id", "as_of", "pd", "pd_model", "grade", "rating_basis", "reason_codes",
    "model_version", "policy_version", "master_scale_version", "overlay_version", "decided_at",
)  # fmt: skip


def _no_exposure_rows(ids: Sequence[str]) -> pd.DataFrame:
    rows = [{"table": "exposures", "record": i, "debtor_id": i, "column": "debtor_id",
             "value": i, "reason": "no_exposure",
             "message": f"Debtor {i!r} is valid but has no supplier-debtor exposure, so there "
                        "is no limit to decide; add its exposure or remove it from the "
                        "portfolio."} for i in ids]  # fmt: skip
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS))


@dataclass(frozen=True, slots=True)
class ChunkOutput:
    """A decided chunk: decisions and error rows as Arrow, and its pair counts."""

    decisions: pa.Table
    errors: pa.Table
    pairs_in: int
    pairs_decided: int
    pairs_rejected: int


def _distinct_ids(values: Any) -> pa.Array:
    """Distinct non-missing ids, as Arrow text (order of first appearance)."""
    arr = large_text(values)
    return pc.unique(arr.drop_null() if arr.null_count else arr)


def decide_chunk(engine: Any, frames: Mapping[str, pd.DataFrame], as_of: str,
                 decided_at: str, model_version: str) -> ChunkOutput:
    """Decide one chunk: pair rows plus one rating row per decided debtor, and error rows.

    A valid debtor without any exposure gets a ``no_exposure`` error row (the
    engine decides pairs; with no pair there is nothing to decide), so that
    every debtor of the chunk comes out decided or errored. An engine with
    ``decide_table`` (:meth:`riskengine.scoring.engine.Engine.decide_table`) gives its
    decisions as Arrow; any other engine's ``decide`` frame is converted.

    Raises
    ------
    RerateError
        A decision carries another model version than the one resolved at the
        start of the run, or the engine's pair counts do not add up.
    """
    if hasattr(engine, "decide_table"):
        batch: Any = engine.decide_table(dict(frames), as_of, decided_at=decided_at)
        pairs = batch.table
    else:
        batch = engine.decide(dict(frames), as_of, decided_at=decided_at)
        pairs = decisions_table(batch.decisions)
    errors = batch.errors
    n_dec = pairs.num_rows
    if n_dec:
        seen = pc.unique(pairs["model_version"].cast(pa.large_string())).to_pylist()
        if len(seen) != 1 or seen[0] != model_version:
            raise RerateError(
                f"The engine decided with model version(s) {sorted(map(str, seen))} but the run "
                f"resolved {model_version!r} at its start; the model changed during the run. "
                "Run again.")
    pairs_in = int(getattr(batch, "pairs_in", len(frames.get("exposures", ()))))
    pairs_rejected = int(getattr(batch, "pairs_rejected", 0))
    if pairs_in != n_dec + pairs_rejected:
        raise RerateError(f"Pairs do not reconcile in a chunk: {pairs_in} in, {n_dec} "
                          f"decided, {pairs_rejected} rejected.")
    deb = frames["debtors"]
    ids = _distinct_ids(deb["debtor_id"]) if "debtor_id" in deb.columns \
        else pa.array([], pa.large_string())
    if len(ids):  # a blank id is a missing one: its record has its missing_value row
        ids = ids.filter(pc.not_equal(pc.utf8_trim_whitespace(ids), ""))
    out_ids = [pairs["debtor_id"]]
    if len(errors):
        out_ids.append(large_text(errors["debtor_id"]))
    exp = frames.get("exposures")
    if exp is not None and "debtor_id" in exp.columns:
        out_ids.append(large_text(exp["debtor_id"]))
    # valid debtors with no exposure at all; a debtor *with* exposures that comes out
    # neither decided nor errored is lost, and the run's reconciliation fails on it
    seen_ids = pa.chunked_array([large_text(x) for x in out_ids], pa.large_string())
    lone = pc.invert(pc.is_in(ids, value_set=seen_ids.combine_chunks()))
    lonely = sorted(ids.filter(lone).to_pylist()) if len(ids) else []
    if lonely:
        extra = _no_exposure_rows(lonely)
        errors = extra if not len(errors) else pd.concat(
            [errors.astype(object), extra.astype(object)], ignore_index=True)
    return ChunkOutput(chunk_decisions(pairs), errors_table(errors), pairs_in,
                       pairs_in - pairs_rejected, pairs_rejected)
