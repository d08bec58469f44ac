"""The decisions of a ``riskengine rerate`` run as a Parquet dataset (shell).

``OUT/decisions/`` holds one Parquet file per chunk, ``part-00000.parquet``,
``part-00001.parquet``, ... in chunk order (zero-padded to one width, at least
five digits): rows sorted by debtor within a part and parts in debtor order, so
reading the files in name order gives the rows in debtor order. Every tool that
reads a directory of Parquet files reads it::

    pyarrow.dataset.dataset("OUT/decisions")      pandas.read_parquet("OUT/decisions")
    polars.read_parquet("OUT/decisions/*.parquet")
    duckdb: SELECT * FROM 'OUT/decisions/*.parquet'
    Spark:  spark.read.parquet("OUT/decisions")

Each part is a chunk's decisions, written atomically from its checkpoint by the
book's pass (:func:`riskengine.batch.book.finish_parts`); once the run reconciles,
the driver moves the parts into a new directory and that directory
into place (:func:`publish`), so a reader sees the previous run's dataset or the
whole new one, and a run that does not reconcile leaves none.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DIRNAME", "LEGACY_FILE", "part_name", "part_files", "publish", "decisions_path"]

#: The dataset's directory in ``--out``.
DIRNAME = "decisions"
#: The single file of the runs before the dataset (format 3); still read by ``--previous``.
LEGACY_FILE = "decisions.parquet"


def part_name(k: int, n_parts: int) -> str:
    """File name of part ``k`` of ``n_parts``: zero-padded to one width, so that name order
    is chunk order.

    Examples
    --------
    >>> part_name(0, 3), part_name(7, 123_456)
    ('part-00000.parquet', 'part-000007.parquet')
    """
    width = max(5, len(str(max(n_parts - 1, 0))))
    return f"part-{k:0{width}d}.parquet"


def part_files(dataset: Path) -> list[Path]:
    """The part files of a dataset directory, in name (= chunk) order."""
    return sorted(Path(dataset).glob("part-*.parquet"))


def publish(parts: Sequence[Path], out: Path) -> Path:
    """Move ``parts`` (chunk order) into ``out/decisions`` and return that directory.

    The parts are renamed into a hidden directory beside it (no byte is copied),
    which is synced and then renamed into place; a dataset already there (an
    earlier run into the same ``--out``) is moved aside first and removed after,
    and so is the single ``decisions.parquet`` of a run before the dataset layout.
    A crash in between leaves hidden ``.*.tmp`` entries that the next run removes.
    """
    out = Path(out)
    staging = out / f".{DIRNAME}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for k, part in enumerate(parts):
        os.replace(part, staging / part_name(k, len(parts)))
    _sync_dir(staging)
    final = out / DIRNAME
    old = out / f".{DIRNAME}.old.{os.getpid()}.tmp"
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    (out / LEGACY_FILE).unlink(missing_ok=True)
    _sync_dir(out)
    shutil.rmtree(old, ignore_errors=True)
    return final


def decisions_path(out: Path) -> Path | None:
    """The decisions of the run in ``out``: its dataset directory, else the single file
    of an older run, else None."""
    for path in (Path(out) / DIRNAME, Path(out) / LEGACY_FILE):
        if path.exists():
            return path
    return None


def _sync_dir(path: Path) -> None:
    """Flush a directory's entries (the renames into it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
