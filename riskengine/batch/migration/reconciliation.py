"""Debtors in against debtors out of a run: every debtor decided or errored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts.arrowtext import strictly_increasing


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Debtors in against debtors out of a run.

    ``ok`` holds when every input debtor came out decided or errored and no
    debtor came out that did not go in. A debtor is *decided* when it has a
    decision row and *errored* when it has error rows and no decision row;
    ``partial`` counts decided debtors that also have error rows (e.g. one of
    their pairs could not be decided): they are decided, not lost.
    ``unidentified`` rows of the debtors table without a debtor id are counted in
    ``debtors_in``, and among the errored when each has its error row
    (``unidentified_errored``).
    """

    debtors_in: int
    decided: int
    errored: int
    partial: int = 0
    missing: tuple[str, ...] = field(default=())
    unexpected: tuple[str, ...] = field(default=())
    unidentified: int = 0
    unidentified_errored: int = 0

    @property
    def ok(self) -> bool:
        """``debtors_in == decided + errored`` with no missing or unexpected id."""
        return (not self.missing and not self.unexpected
                and self.unidentified == self.unidentified_errored
                and self.debtors_in == self.decided + self.errored)  # fmt: skip

    def message(self, shown: int = 5) -> str:
        """What does not add up, naming up to ``shown`` debtors per problem."""
        parts = [f"debtors in {self.debtors_in:,} vs decided {self.decided:,} + errored "
                 f"{self.errored:,} = {self.decided + self.errored:,}"]
        for name, ids in (("neither decided nor errored", self.missing),
                          ("decided but never in", self.unexpected)):
            if ids:
                parts.append(f"{len(ids):,} {name} (e.g. {', '.join(ids[:shown])})")
        if self.unidentified != self.unidentified_errored:
            parts.append(f"{self.unidentified:,} debtors rows without a debtor_id but "
                         f"{self.unidentified_errored:,} error rows for them")
        return "; ".join(parts)


def reconcile(debtors_in: Iterable[str], decided: Iterable[str],
              errored: Iterable[str], *, unidentified: int = 0,
              unidentified_errored: int = 0) -> Reconciliation:
    """Check that every debtor that went in came out, decided or errored.

    Parameters
    ----------
    debtors_in : iterable of str
        Debtor ids of the run's input (distinct ids of the debtors table in scope).
    decided, errored : iterable of str
        Debtor ids with a decision, and debtor ids named by an error row.
    unidentified, unidentified_errored : int, default 0
        Rows of the input debtors table without a debtor id, and the error rows
        naming such a row (its ``missing_value`` of ``debtor_id``): each is one
        debtor in, errored.

    Returns
    -------
    Reconciliation

    Notes
    -----
    Error rows naming a debtor id that is not an input debtor (a record of an
    unknown debtor) are record errors, not debtors out, and are not counted.

    Examples
    --------
    >>> r = reconcile(["a", "b", "c"], ["a", "b"], ["c", "b"])
    >>> r.ok, r.debtors_in, r.decided, r.errored, r.partial
    (True, 3, 2, 1, 1)
    >>> reconcile(["a", "b"], ["a"], []).missing
    ('b',)
    >>> r = reconcile(["a"], ["a"], [], unidentified=1, unidentified_errored=1)
    >>> r.ok, r.debtors_in, r.errored
    (True, 2, 1)
    """
    ins, dec, err = _distinct(debtors_in), _distinct(decided), _distinct(errored)
    # (no error rows: nothing to look up; a lookup builds a hash table of its value set)
    err_in = err.filter(_member(err, ins)) if len(err) else err
    err_dec = _member(err_in, dec) if len(err_in) else pa.array([], pa.bool_())
    only_err = err_in.filter(pc.invert(err_dec))
    if len(only_err) == 0 and len(dec) == len(ins) and (
            len(ins) == 0 or bool(pc.all(pc.equal(dec, ins)).as_py())):
        # every debtor decided, in the same order: nothing missing or unexpected
        missing = unexpected = pa.array([], pa.large_string())
    else:
        out_ = pa.chunked_array([dec, only_err], pa.large_string()).combine_chunks()
        missing = ins.filter(pc.invert(_member(ins, out_)))
        unexpected = dec.filter(pc.invert(_member(dec, ins)))
    return Reconciliation(
        debtors_in=len(ins) + unidentified, decided=len(dec),
        errored=len(only_err) + unidentified_errored,
        partial=int(pc.sum(err_dec).as_py() or 0),
        missing=tuple(sorted(missing.to_pylist())),
        unexpected=tuple(sorted(unexpected.to_pylist())),
        unidentified=unidentified, unidentified_errored=unidentified_errored,
    )


def _distinct(values: Iterable[str]) -> pa.Array:
    """Distinct non-missing ids as Arrow text (pandas, numpy, Arrow or any iterable)."""
    if isinstance(values, pa.ChunkedArray):
        arr: Any = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, (pd.Series, pd.Index, np.ndarray)):
        arr = pa.array(pd.Series(values, copy=False).astype("str"), from_pandas=True)
    else:
        arr = pa.array(pd.Series(list(values), dtype="str"), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    if strictly_increasing(arr):
        return arr  # sorted and distinct already (pc.unique would give it back as it is)
    return pc.unique(arr.drop_null())


def _member(values: pa.Array, among: pa.Array) -> pa.Array:
    """Whether each value is one of ``among`` (hash lookups, no Python loop)."""
    return pc.is_in(values, value_set=among)
