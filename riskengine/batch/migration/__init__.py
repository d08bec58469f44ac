"""Re-rating outcomes against the previous run: migrations, limit actions, run figures.

Pure functions over decision frames (no I/O, no clock): the batch job
(:mod:`riskengine.batch.rerate`) calls them after it has decided every chunk.
The ratings and the migration matrix are in :mod:`~riskengine.batch.migration.matrix`,
limit actions in :mod:`~riskengine.batch.migration.actions`, the reconciliation of
debtors in and out in :mod:`~riskengine.batch.migration.reconciliation`, the HHIs in
:mod:`~riskengine.batch.migration.herfindahl` and the run figures in
:mod:`~riskengine.batch.migration.summary`.

Frames
------
A *decisions* frame has one row per supplier–debtor pair and may also hold one
row per debtor rating (``supplier_id`` missing). The columns read here are
``debtor_id``, ``supplier_id``, ``pd``, ``grade``, ``approved_limit`` and, when
present, ``cover``, ``retained_exposure``, ``expected_loss``,
``approved_outstanding``, ``knockout`` (bool) or ``reasons`` (comma-separated
reason codes of :data:`riskengine.policy.limits.REASONS`). Other columns are
ignored.

States of the migration matrix
------------------------------
Rows (``from_grade``) are the previous run's state of a debtor, columns
(``to_grade``) the current one: the master-scale grades ``1`` … ``10``, ``D``,
plus ``NR`` (in the run but not rated: its records could not be decided),
``new`` (a row only: the debtor was not in the previous run) and ``exit`` (a
column only: the debtor is no longer in the portfolio). Rates are shares of
the row (a previous state's debtors), NaN for an empty row.
"""

from __future__ import annotations

from riskengine.batch.migration.actions import (
    KNOCKOUT_REASONS,
    LIMIT_ACTION_COLUMNS,
    limit_actions,
)
from riskengine.batch.migration.herfindahl import concentration
from riskengine.batch.migration.matrix import (
    EXIT,
    FROM_STATES,
    NEW,
    PREVIOUS_COLUMNS,
    TO_STATES,
    MigrationMatrix,
    debtor_ratings,
    migration_matrix,
    pair_rows,
)
from riskengine.batch.migration.reconciliation import Reconciliation, reconcile
from riskengine.batch.migration.summary import run_summary

__all__ = [
    "NEW",
    "EXIT",
    "FROM_STATES",
    "TO_STATES",
    "KNOCKOUT_REASONS",
    "LIMIT_ACTION_COLUMNS",
    "PREVIOUS_COLUMNS",
    "MigrationMatrix",
    "Reconciliation",
    "pair_rows",
    "debtor_ratings",
    "migration_matrix",
    "limit_actions",
    "reconcile",
    "run_summary",
    "concentration",
]
