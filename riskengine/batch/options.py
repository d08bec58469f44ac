"""What a rerate run is asked to do and what it returns: :class:`RerateOptions` (the
command's flags), :class:`RerateResult`, and the job's constants (output names, the
checkpoint format version). :mod:`riskengine.batch.rerate` runs the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskengine.batch.dataset import DIRNAME
from riskengine.contracts.dates import parse_date
from riskengine.errors import RerateError

DEFAULT_CHUNK_SIZE = 100_000
CHECKPOINTS = "_checkpoints"
#: Deterministic outputs of a run (``run.json`` is written beside them).
OUTPUT_FILES: tuple[str, ...] = (
    DIRNAME, "errors.parquet", "limit_actions.parquet", "migration.parquet",
    "insurer_requests.parquet", "summary.parquet", "summary.json",
)  # fmt: skip
RUN_INFO = "run.json"
#: Exit status of ``riskengine rerate`` when the run finished but failed
#: (:func:`riskengine.batch.rerate.run_failure`).
FAILED_RUN_EXIT = 3
EXPERIMENT = "riskengine-rerate"
#: Bump when the layout of checkpoints or outputs changes: old checkpoints are discarded.
#: 9: a chunk's decisions checkpointed as Arrow IPC; its Parquet part is written once,
#:    by the book's pass (riskengine.batch.book.finish_parts)
#: 8: insurer limits as state (cover_basis, insured_amount, insurer_policy_id,
#:    insurer_status, limit_before_insurer; insurer_requests.parquet)
#: 7: the supplier (supplier_grade, supplier_cap; the run's supplier book) and the
#:    currencies (approved_limit_base, fx_rate in decisions and pair summaries)
#: 6: the book's caps (group_id, debtor_capacity, approved_outstanding; pair summaries)
#: 5: decisions as a Parquet dataset, one part per chunk; 4: reason codes as fields
FORMAT_VERSION = 9
#: Seconds to sleep after each chunk (debugging and the kill-and-resume test only).
THROTTLE_ENV = "RISKENGINE_RERATE_THROTTLE"

@dataclass(frozen=True, slots=True)
class RerateOptions:
    """Options of one run (the command's flags).

    Attributes
    ----------
    portfolio, out : Path
        Portfolio directory (docs/DATA_LAYOUT.md) and output directory.
    as_of : str or None
        As-of date ``YYYY-MM-DD``; None: the portfolio manifest's ``as_of``
        (the extract date). A date after the extract date is refused unless
        ``allow_as_of_after_extract`` (:func:`riskengine.contracts.dates.batch_as_of`).
    allow_as_of_after_extract : bool
        Accept an ``as_of`` after the manifest's ``as_of``.
    previous : Path or None
        Output directory of the previous run (its ``decisions`` dataset, or the
        ``decisions.parquet`` of a run before the dataset layout).
    engine : {"pandas", "spark"}
    debtors : tuple of str or None
        Re-rate only these debtors.
    changed_since : str or None
        Re-rate only debtors with a record dated after this date (see
        :func:`riskengine.batch.plan.changed_debtors`), and debtors absent from ``previous``.
    chunk_size : int
        Debtors per chunk.
    workers : int
        Processes deciding chunks in parallel (pandas engine); 1 here, the machine's
        cores for the command (:func:`riskengine.batch.rerate.default_workers`).
    spark_master : str
        Spark master URL (``local[*]`` by default).
    model_dir, policy_path : str or None
        Engine artifacts; None: the shipped champion and policy.
    tracking_uri : str or None
        MLflow tracking URI (None: :func:`riskengine.tracking.runs.default_tracking_uri`).
    tracking : bool
        Log the run to MLflow.
    progress : bool or None
        Progress bar; None: only when stderr is a terminal.
    factor_capital : float or None
        The factor's eligible capital, in the policy's ``book.currency``; None: the
        policy's ``book.factor_capital``.
    store_url : str or None
        SQLAlchemy URL of the store whose limit register the run writes
        (:func:`riskengine.store.runs.apply_run`); None: none (the command's default
        is the service's default store, :func:`riskengine.store.database.default_store_url`).
    max_error_share : float
        The command fails (:func:`riskengine.batch.rerate.run_failure`) when more than
        this share of the debtors in errored (default 0.5), or when none was decided.
    """

    portfolio: Path
    out: Path
    as_of: str | None = None
    previous: Path | None = None
    engine: str = "pandas"
    debtors: tuple[str, ...] | None = None
    changed_since: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 1
    spark_master: str = "local[*]"
    model_dir: str | None = None
    policy_path: str | None = None
    tracking_uri: str | None = None
    tracking: bool = True
    progress: bool | None = None
    max_error_share: float = 0.5
    allow_as_of_after_extract: bool = False
    factor_capital: float | None = None
    store_url: str | None = None

    def __post_init__(self) -> None:
        if self.factor_capital is not None and not self.factor_capital >= 0:  # NaN too
            raise RerateError(f"--factor-capital must be an amount >= 0, got "
                              f"{self.factor_capital}.")
        if not 0.0 <= self.max_error_share <= 1.0:  # NaN fails too
            raise RerateError("--max-error-share must be a share between 0 and 1, got "
                              f"{self.max_error_share}.")
        if self.as_of is not None:
            parse_date(self.as_of, "--as-of")
        if self.changed_since is not None:
            parse_date(self.changed_since, "--changed-since")
        if self.engine not in ("pandas", "spark"):
            raise RerateError(f"--engine must be 'pandas' or 'spark', got {self.engine!r}.")
        if self.chunk_size < 1:
            raise RerateError(f"--chunk-size must be at least 1, got {self.chunk_size}.")
        if self.workers < 1:
            raise RerateError(f"--workers must be at least 1, got {self.workers}.")
        if self.debtors is not None and self.changed_since is not None:
            raise RerateError("Give --debtors or --changed-since, not both.")


@dataclass(frozen=True, slots=True)
class RerateResult:
    """Outcome of :func:`riskengine.batch.rerate.run_rerate`."""

    out: Path
    summary: dict[str, Any]
    chunks: int
    chunks_resumed: int
    run_key: str
    run_id: str | None = None
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
