"""A rerate run's files: atomic, deterministic writers (Parquet, Arrow IPC, JSON), each
chunk's checkpoint (:class:`_Checkpoints`) and the lock on the output directory.

Every file is written to a temporary file in its directory and moved into place
with :func:`os.replace`. Each chunk's decisions, summary columns and errors (Arrow
IPC; the decisions become the chunk's Parquet part of the ``decisions`` dataset in
the book's pass, :func:`riskengine.batch.book.finish_parts`) are checkpointed under
``OUT/_checkpoints`` followed by a ``.done`` marker; a run killed at any point
(SIGKILL included) and started again with the same command skips the chunks it
finds done. A checkpoint directory written for another ``run_key`` is discarded.

Money leaves a run rounded to cents (:func:`cents`, issue 18 point 6): a chunk's
decisions as they are checkpointed (the part and the columns the tail reads), the
parts, the limit actions, the requests to the insurer and the summary's
amounts (:func:`summary_cents`); the core computes at full precision.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from riskengine.batch.chunk import ChunkOutput, _conform, decisions_schema
from riskengine.contracts.decision import MONEY_FIELDS
from riskengine.errors import RerateError
from riskengine.io.portfolio import atomic_write


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write an Arrow table atomically and deterministically (no index, no timestamps)."""
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_arrow(table: pa.Table, path: Path) -> None:
    """Write an Arrow table atomically as an (uncompressed) Arrow IPC file: the small
    checkpoint tables, written by a worker and read back once by the driver."""

    def write(tmp: Path) -> None:
        with ipc.new_file(str(tmp), table.schema) as writer:
            writer.write_table(table)

    atomic_write(path, write)


def read_arrow(path: Path) -> pa.Table:
    """Read an Arrow IPC file written by :func:`write_arrow` (memory-mapped)."""
    return ipc.open_file(pa.memory_map(str(path))).read_all()


def write_json(data: Any, path: Path) -> None:
    """Write JSON atomically (sorted keys, 2-space indent, trailing newline)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, (np.ndarray, tuple)):
        return list(x)
    if isinstance(x, (pd.Timestamp, dt.date)):
        return x.isoformat()
    return str(x)


#: The money columns of a run's outputs: a decision's (MONEY_FIELDS) and the limit
#: actions' and insurer requests' own.
OUTPUT_MONEY: frozenset[str] = MONEY_FIELDS | {
    "previous_limit", "new_limit", "protected_outstanding", "available_after",
    "amount_requested"}


def cents(table: pa.Table, names: frozenset[str] = OUTPUT_MONEY) -> pa.Table:
    """``table`` with its floating money columns (``names``) rounded to cents (half to
    even; ``-0.0`` made ``0.0``); idempotent, nulls and NaN kept.

    Examples
    --------
    >>> t = cents(pa.table({"expected_loss": [295.4001754955119, -0.001], "pd": [0.0211, 1.0]}))
    >>> t["expected_loss"].to_pylist(), t["pd"].to_pylist()
    ([295.4, 0.0], [0.0211, 1.0])
    """
    for i, field in enumerate(table.schema):
        if field.name in names and pa.types.is_floating(field.type):
            rounded = pc.add(pc.round(table.column(i), 2, round_mode="half_to_even"), 0.0)
            table = table.set_column(i, field, rounded.cast(field.type))
    return table


#: Summary sections whose keys are amounts of money, and how to know them.
_SUMMARY_MONEY = {"totals": lambda k: True,
                  "insurance": lambda k: k.startswith(("amount_", "approved_", "insured_amount")),
                  "book": lambda k: k == "factor_capital" or k.endswith("_amount")}


def summary_cents(summary: dict[str, Any]) -> dict[str, Any]:
    """The run summary with its amounts of money rounded to cents (``totals``, the
    ``insurance`` amounts, the ``book``'s capital and caps); counts and shares unchanged.

    Examples
    --------
    >>> summary_cents({"totals": {"expected_loss": 18233.765326654826},
    ...                "insurance": {"pairs_none": 72, "insured_amount_none": 0.004}})
    {'totals': {'expected_loss': 18233.77}, 'insurance': {'pairs_none': 72, 'insured_amount_none': 0.0}}
    """
    out = dict(summary)
    for section, is_money in _SUMMARY_MONEY.items():
        if isinstance(out.get(section), dict):
            out[section] = {k: (round(float(v), 2) + 0.0 if is_money(k) and isinstance(
                v, (float, np.floating)) and math.isfinite(float(v)) else v)
                for k, v in out[section].items()}
    return out


def _clean_json(x: Any) -> Any:
    """NaN/inf -> None so that summary.json is strict JSON."""
    if isinstance(x, dict):
        return {str(k): _clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


#: Pair-row columns the run summary and the limit actions read.
_PAIR_SUMMARY = ("debtor_id", "supplier_id", "approved_limit", "insured_limit",
                 "retained_exposure", "expected_loss", "decision_type",
                 # the cover and the requests to the insurer (issue 16)
                 "insured_amount", "cover_basis", "insurer_policy_id", "insurer_status",
                 "limit_before_insurer",
                 # the book's caps (riskengine.batch.book) read these too
                 "requested_limit", "currency", "group_id", "product", "grade", "pd",
                 "approved_outstanding", "current_limit", "approved_limit_base", "fx_rate",
                 # the funding terms the register keeps (riskengine.store.runs)
                 "advance_rate", "model_version", "policy_version", "decided_at",
                 "supplier_grade")  # fmt: skip

#: Text columns of the decisions with (nearly) one value per row.
_UNIQUE_TEXT = ("debtor_id", "input_hash")


def _decisions_writer_options(schema: pa.Schema) -> dict[str, Any]:
    """ParquetWriter options of the decisions' parts (deterministic: no clock, fixed codec).

    Min/max statistics on the keys a reader filters on (debtor, supplier, row type,
    grade) and on the numbers; dictionary pages on the text columns with few
    distinct values (a dictionary tried on unique texts is work thrown away).
    """
    text = [f.name for f in schema if f.type == pa.large_string()]
    numbers = [f.name for f in schema if pa.types.is_floating(f.type)]
    stats = [c for c in ("debtor_id", "supplier_id", "row_type", "grade") if c in text]
    few = [c for c in text if c not in _UNIQUE_TEXT]
    nested = [f"{f.name}.list.element" for f in schema
              if pa.types.is_list(f.type) and f.type.value_type == pa.string()]
    if "reason_codes" in schema.names:
        nested += [f"reason_codes.list.element.{k}" for k in ("code", "feature", "direction")]
    return {"compression": "zstd", "write_statistics": stats + numbers,
            "use_dictionary": few + nested}


def write_decisions(table: pa.Table, path: Path) -> None:
    """Write a chunk's decisions atomically as its part of the ``decisions`` dataset
    (:func:`_decisions_writer_options`; no row group when empty), money in cents."""
    table = cents(table)

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema,
                              **_decisions_writer_options(table.schema)) as writer:
            if table.num_rows:
                writer.write_table(table)

    atomic_write(path, write)


def summary_tables(decisions: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The columns of a chunk's decisions that the reconciliation, the migration and the
    summary read: the rating rows' ``debtor_id, grade, pd``, and the pair rows'
    :data:`_PAIR_SUMMARY` columns with ``knockout`` (any knock-out) and
    ``size_not_converted`` (the note of that name)."""
    rating = pc.fill_null(pc.equal(decisions["row_type"], "rating"), False)
    ratings = decisions.select(["debtor_id", "grade", "pd"]).filter(rating)
    pair = pc.invert(rating)
    ko = pc.fill_null(pc.greater(pc.list_value_length(decisions["knockouts"]), 0), False)
    pairs = decisions.select(list(_PAIR_SUMMARY)).append_column("knockout", ko)
    # rated without the size features (no rate into the model's money unit)
    notes = decisions["limit_notes"]
    hit = pc.equal(pc.list_flatten(notes), "size_not_converted").to_numpy(zero_copy_only=False)
    size = np.zeros(decisions.num_rows, dtype=bool)
    size[pc.list_parent_indices(notes).to_numpy(zero_copy_only=False)[hit]] = True
    pairs = pairs.append_column("size_not_converted", pa.array(size))
    return ratings, pairs.filter(pair)


@dataclass(frozen=True, slots=True)
class _Checkpoints:
    """A run's checkpoints: per chunk its decisions (Arrow IPC; written as its Parquet
    part of the ``decisions`` dataset once the run reconciles and the book's caps are
    known), the columns the summary reads (Arrow IPC), its error rows (Arrow IPC) and
    a ``.done`` marker with its counts, written last."""

    root: Path

    def paths(self, k: int) -> tuple[Path, Path, Path, Path, Path]:
        """Decisions, ratings, pairs, errors and marker of chunk ``k``."""
        stem = self.root / f"chunk-{k:06d}"
        return (Path(f"{stem}.decisions.arrow"), Path(f"{stem}.ratings.arrow"),
                Path(f"{stem}.pairs.arrow"), Path(f"{stem}.errors.arrow"),
                Path(f"{stem}.done"))  # fmt: skip

    def is_done(self, k: int) -> bool:
        return all(p.is_file() for p in self.paths(k))

    def write(self, k: int, result: ChunkOutput) -> None:
        d, r, p, e, done = self.paths(k)
        schema = decisions_schema()
        dec = result.decisions if result.decisions.schema == schema else _conform(
            result.decisions, schema)
        dec = cents(dec)  # the part and the columns the tail reads agree to the cent
        # Arrow IPC: the book's pass reads it back without decoding and writes the
        # chunk's Parquet part once (riskengine.batch.book.finish_parts)
        write_arrow(dec, d)
        ratings, pairs = summary_tables(dec)
        write_arrow(ratings, r)
        write_arrow(pairs, p)
        write_arrow(result.errors, e)
        write_json({"chunk": k, "decision_rows": dec.num_rows,
                    "error_rows": result.errors.num_rows, "pairs_in": result.pairs_in,
                    "pairs_decided": result.pairs_decided,
                    "pairs_rejected": result.pairs_rejected}, done)  # fmt: skip

    def read(self, k: int) -> tuple[Path, pa.Table, pa.Table, pa.Table]:
        """Chunk ``k``'s decisions file, and its ratings, pairs and errors (memory-mapped)."""
        d, r, p, e, _ = self.paths(k)
        return d, read_arrow(r), read_arrow(p), read_arrow(e)

    def counts(self, k: int) -> dict[str, int]:
        """The counts recorded in chunk ``k``'s marker."""
        data = json.loads(self.paths(k)[-1].read_text(encoding="utf-8"))
        return {str(a): int(b) for a, b in data.items()}

    def prepare(self, run_key: str, log: Callable[[str], None]) -> None:
        """Keep checkpoints of the same run key, discard any other; drop stale temp files."""
        state = self.root / "state.json"
        if self.root.is_dir():
            old = None
            with contextlib.suppress(OSError, ValueError):
                old = json.loads(state.read_text(encoding="utf-8")).get("run_key")
            if old != run_key:
                log("discarding checkpoints of a different run (inputs, model, policy or "
                    "options changed)")
                shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        for tmp in self.root.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        if not state.is_file():
            write_json({"run_key": run_key}, state)


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    fh = (out / ".lock").open("a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise RerateError(f"Another rerate run is writing to {str(out)!r}; wait for it to "
                              "finish or give another --out.") from exc
        yield
    finally:
        fh.close()
